#include "query/executor/time_zone.h"

#include <gtest/gtest.h>

#include "query/executor/internal.h"

namespace liandu::query {
namespace {

int64_t unix_s(const std::string& rfc3339) {
  int64_t ns = 0;
  EXPECT_TRUE(exec::parse_time_string(rfc3339, ns)) << rfc3339;
  return ns / 1000000000;
}

std::shared_ptr<const time_zone> must_load(const std::string& name) {
  auto z = time_zone::load(name);
  EXPECT_TRUE(z.ok()) << name << ": " << (z.ok() ? "" : z.error().message());
  return z.ok() ? *z : time_zone::utc();
}

constexpr int32_t hour = 3600;

TEST(time_zone, new_york_around_dst_changes) {
  auto z = must_load("America/New_York");
  // 2024: DST from 2024-03-10T07:00:00Z to 2024-11-03T06:00:00Z.
  EXPECT_EQ(z->offset_at(unix_s("2024-01-15T12:00:00Z")), -5 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-03-10T06:59:59Z")), -5 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-03-10T07:00:00Z")), -4 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-11-03T05:59:59Z")), -4 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-11-03T06:00:00Z")), -5 * hour);
  // Before 2007 the US rules were April to October.
  EXPECT_EQ(z->offset_at(unix_s("2000-03-20T12:00:00Z")), -5 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2000-04-02T07:00:00Z")), -4 * hour);
  // Past the last transition of the file: the footer's POSIX rule.
  EXPECT_EQ(z->offset_at(unix_s("2100-03-14T06:59:59Z")), -5 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2100-03-14T07:00:00Z")), -4 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2100-11-07T05:59:59Z")), -4 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2100-11-07T06:00:00Z")), -5 * hour);
  EXPECT_EQ(z->offset_ns_at(unix_s("2024-07-01T00:00:00Z") * 1000000000 + 1), -4LL * hour * 1000000000);
}

TEST(time_zone, berlin_around_dst_changes) {
  auto z = must_load("Europe/Berlin");
  // 2024: CEST from 2024-03-31T01:00:00Z to 2024-10-27T01:00:00Z.
  EXPECT_EQ(z->offset_at(unix_s("2024-03-31T00:59:59Z")), 1 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-03-31T01:00:00Z")), 2 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-10-27T00:59:59Z")), 2 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-10-27T01:00:00Z")), 1 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2099-07-01T00:00:00Z")), 2 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2099-10-25T01:00:00Z")), 1 * hour);  // last Sunday of October 2099
  EXPECT_EQ(z->offset_at(unix_s("2099-10-25T00:59:59Z")), 2 * hour);
}

TEST(time_zone, shanghai_and_utc) {
  auto z = must_load("Asia/Shanghai");
  EXPECT_EQ(z->offset_at(unix_s("2024-01-01T00:00:00Z")), 8 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2024-07-01T00:00:00Z")), 8 * hour);
  EXPECT_EQ(z->offset_at(unix_s("2200-07-01T00:00:00Z")), 8 * hour);
  EXPECT_EQ(must_load("UTC")->offset_at(unix_s("2024-07-01T00:00:00Z")), 0);
  EXPECT_EQ(must_load("Etc/UTC")->offset_at(unix_s("2024-07-01T00:00:00Z")), 0);
  EXPECT_EQ(time_zone::utc()->offset_at(0), 0);
}

TEST(time_zone, missing_zone_is_influxdb_error) {
  for (std::string name : {"Mars/Olympus_Mons", "../etc/passwd", "/etc/passwd", "America"}) {
    auto z = time_zone::load(name);
    ASSERT_FALSE(z.ok()) << name;
    EXPECT_EQ(z.error().code(), errc::not_found);
    EXPECT_EQ(z.error().message(), "unable to find time zone " + name);
  }
}

// A hand-built version 1 file (no footer) and version 3 files exercising the
// POSIX footer alone.
std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string header(char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt) {
  std::string h = "TZif";
  h.push_back(version);
  h.append(15, '\0');
  h += be32(0) + be32(0) + be32(0) + be32(timecnt) + be32(typecnt) + be32(charcnt);
  return h;
}

std::string ttinfo(int32_t off, bool dst, uint8_t idx) {
  return be32(static_cast<uint32_t>(off)) + std::string{static_cast<char>(dst), static_cast<char>(idx)};
}

TEST(time_zone, parses_version_1_file) {
  // Type 0 = +01:00 before t=1000, type 1 = +02:00 from t=1000, +01:00 again from t=2000.
  std::string f = header('\0', 2, 2, 4);
  f += be32(1000) + be32(2000);
  f += std::string{1, 0};
  f += ttinfo(7200, true, 0) + ttinfo(3600, false, 0);
  f += std::string("AB\0\0", 4);
  auto z = time_zone::parse("Test/V1", f);
  ASSERT_TRUE(z.ok()) << z.error().message();
  EXPECT_EQ((*z)->offset_at(999), 7200);  // before the first transition: type 0
  EXPECT_EQ((*z)->offset_at(1000), 3600);
  EXPECT_EQ((*z)->offset_at(1999), 3600);
  EXPECT_EQ((*z)->offset_at(2000), 7200);
  EXPECT_EQ((*z)->offset_at(1000000), 7200);
}

std::shared_ptr<const time_zone> footer_only(const std::string& tz) {
  std::string f = header('3', 0, 1, 4) + ttinfo(0, false, 0) + std::string("UTC\0", 4);
  f += header('3', 0, 1, 4) + ttinfo(0, false, 0) + std::string("UTC\0", 4);
  f += "\n" + tz + "\n";
  auto z = time_zone::parse("Test/" + tz, f);
  EXPECT_TRUE(z.ok()) << tz;
  return z.ok() ? *z : time_zone::utc();
}

TEST(time_zone, posix_footer_rules) {
  // Southern hemisphere: DST from the first Sunday of October to the first
  // Sunday of April (Australia/Sydney).
  auto syd = footer_only("AEST-10AEDT,M10.1.0,M4.1.0/3");
  EXPECT_EQ(syd->offset_at(unix_s("2030-01-15T00:00:00Z")), 11 * hour);
  EXPECT_EQ(syd->offset_at(unix_s("2030-07-15T00:00:00Z")), 10 * hour);
  // 2030-04-07 03:00 AEDT = 2030-04-06T16:00:00Z.
  EXPECT_EQ(syd->offset_at(unix_s("2030-04-06T15:59:59Z")), 11 * hour);
  EXPECT_EQ(syd->offset_at(unix_s("2030-04-06T16:00:00Z")), 10 * hour);
  // Quoted names, minutes, and a zone without DST.
  auto tehran = footer_only("<+0330>-3:30");
  EXPECT_EQ(tehran->offset_at(unix_s("2030-07-15T00:00:00Z")), 3 * hour + 1800);
  // Julian day rules and a v3 hour beyond 24: permanent DST.
  auto always = footer_only("EST5EDT,0/0,J365/25");
  EXPECT_EQ(always->offset_at(unix_s("2030-01-15T00:00:00Z")), -4 * hour);
  EXPECT_EQ(always->offset_at(unix_s("2030-07-15T00:00:00Z")), -4 * hour);
}

TEST(time_zone, rejects_garbage) {
  EXPECT_FALSE(time_zone::parse("x", "").ok());
  EXPECT_FALSE(time_zone::parse("x", "TZif2 but short").ok());
  std::string f = header('2', 0, 1, 4) + ttinfo(0, false, 0) + std::string("UTC\0", 4);
  EXPECT_FALSE(time_zone::parse("x", f).ok());  // the v2 header is missing
  f += header('2', 0, 1, 4) + ttinfo(0, false, 0) + std::string("UTC\0", 4) + "\nnot a rule\n";
  EXPECT_FALSE(time_zone::parse("x", f).ok());
}

}  // namespace
}  // namespace liandu::query
