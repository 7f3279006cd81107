#include "query/executor/time_zone.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

namespace liandu::query {

namespace {

// RFC 8536 header: "TZif", version, 15 reserved bytes, then six big-endian
// uint32 counts in this order.
constexpr size_t header_size = 44;
constexpr size_t max_file_size = 1 << 20;

struct tzif_counts {
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint64_t be64(const unsigned char* p) { return (uint64_t{be32(p)} << 32) | be32(p + 4); }

bool read_header(std::string_view data, size_t at, char& version, tzif_counts& c) {
  if (data.size() < at + header_size || data.substr(at, 4) != "TZif") return false;
  version = data[at + 4];
  const auto* p = reinterpret_cast<const unsigned char*>(data.data() + at + 20);
  c.isutcnt = be32(p);
  c.isstdcnt = be32(p + 4);
  c.leapcnt = be32(p + 8);
  c.timecnt = be32(p + 12);
  c.typecnt = be32(p + 16);
  c.charcnt = be32(p + 20);
  return true;
}

// Bytes of the data block after a header; time_size is 4 (v1) or 8 (v2+).
uint64_t block_size(const tzif_counts& c, uint64_t time_size) {
  return uint64_t{c.timecnt} * time_size + c.timecnt + uint64_t{c.typecnt} * 6 + c.charcnt +
         uint64_t{c.leapcnt} * (time_size + 4) + c.isstdcnt + c.isutcnt;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int64_t y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t year_of_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

// A small cursor over a POSIX TZ string.
struct posix_reader {
  std::string_view s;
  size_t i = 0;

  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }

  bool number(int& out, int max_digits) {
    size_t start = i;
    out = 0;
    while (!done() && s[i] >= '0' && s[i] <= '9' && i - start < static_cast<size_t>(max_digits)) {
      out = out * 10 + (s[i] - '0');
      ++i;
    }
    return i > start;
  }

  // std and dst designations: alphabetic, or anything quoted in <...>.
  bool name() {
    if (peek() == '<') {
      size_t close = s.find('>', i);
      if (close == std::string_view::npos) return false;
      i = close + 1;
      return true;
    }
    size_t start = i;
    while (!done() && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))) ++i;
    return i > start;
  }

  // [+-]hh[:mm[:ss]] in seconds; hours up to 167 (RFC 8536 extension).
  bool hms(int32_t& out) {
    int sign = 1;
    if (peek() == '+' || peek() == '-') {
      sign = peek() == '-' ? -1 : 1;
      ++i;
    }
    int h = 0, m = 0, sec = 0;
    if (!number(h, 3) || h > 167) return false;
    if (peek() == ':') {
      ++i;
      if (!number(m, 2) || m > 59) return false;
      if (peek() == ':') {
        ++i;
        if (!number(sec, 2) || sec > 59) return false;
      }
    }
    out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
};

}  // namespace

bool time_zone::parse_posix(std::string_view s, posix_rule& out) {
  posix_reader r{s};
  out = posix_rule{};
  int32_t west = 0;
  if (!r.name() || !r.hms(west)) return false;
  out.std_offset = -west;  // POSIX offsets count hours west of Greenwich
  if (r.done()) {
    out.valid = true;
    return true;
  }
  if (!r.name()) return false;
  out.has_dst = true;
  out.dst_offset = out.std_offset + 3600;
  if (!r.done() && r.peek() != ',') {
    if (!r.hms(west)) return false;
    out.dst_offset = -west;
  }
  auto date = [&](rule_date& d) {
    if (r.peek() == 'J') {
      ++r.i;
      d.k = rule_date::kind::julian1;
      if (!r.number(d.day, 3) || d.day < 1 || d.day > 365) return false;
    } else if (r.peek() == 'M') {
      ++r.i;
      d.k = rule_date::kind::month_week_day;
      if (!r.number(d.month, 2) || d.month < 1 || d.month > 12 || r.peek() != '.') return false;
      ++r.i;
      if (!r.number(d.week, 1) || d.week < 1 || d.week > 5 || r.peek() != '.') return false;
      ++r.i;
      if (!r.number(d.day, 1) || d.day > 6) return false;
    } else {
      d.k = rule_date::kind::julian0;
      if (!r.number(d.day, 3) || d.day > 365) return false;
    }
    d.time_s = 7200;
    if (r.peek() == '/') {
      ++r.i;
      if (!r.hms(d.time_s)) return false;
    }
    return true;
  };
  if (r.done()) {
    // No dates: POSIX leaves them to the implementation; use the US rules
    // as glibc and Go do.
    out.start = rule_date{rule_date::kind::month_week_day, 0, 2, 3, 7200};
    out.end = rule_date{rule_date::kind::month_week_day, 0, 1, 11, 7200};
    out.valid = true;
    return true;
  }
  if (r.peek() != ',') return false;
  ++r.i;
  if (!date(out.start) || r.peek() != ',') return false;
  ++r.i;
  if (!date(out.end) || !r.done()) return false;
  out.valid = true;
  return true;
}

int64_t time_zone::rule_instant(const rule_date& d, int64_t year, int32_t offset) {
  int64_t day = 0;
  switch (d.k) {
    case rule_date::kind::julian1:
      day = days_from_civil(year, 1, 1) + d.day - 1 + (is_leap(year) && d.day >= 60 ? 1 : 0);
      break;
    case rule_date::kind::julian0: day = days_from_civil(year, 1, 1) + d.day; break;
    case rule_date::kind::month_week_day: {
      int64_t first = days_from_civil(year, d.month, 1);
      int weekday = static_cast<int>(((first + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
      int mday = 1 + (d.day - weekday + 7) % 7 + (d.week - 1) * 7;
      while (mday > days_in_month(year, d.month)) mday -= 7;
      day = first + mday - 1;
      break;
    }
  }
  return day * 86400 + d.time_s - offset;
}

int32_t time_zone::posix_offset_at(int64_t unix_s) const {
  if (!rule_.has_dst) return rule_.std_offset;
  int64_t year = year_of_days(floor_div(unix_s + rule_.std_offset, 86400));
  int64_t start = rule_instant(rule_.start, year, rule_.std_offset);
  int64_t end = rule_instant(rule_.end, year, rule_.dst_offset);
  bool dst = start < end ? (unix_s >= start && unix_s < end) : (unix_s < end || unix_s >= start);
  return dst ? rule_.dst_offset : rule_.std_offset;
}

int32_t time_zone::offset_at(int64_t unix_s) const {
  if (transitions_.empty() || unix_s < transitions_.front()) {
    if (transitions_.empty() && rule_.valid) return posix_offset_at(unix_s);
    return type_offsets_.empty() ? 0 : type_offsets_.front();
  }
  if (unix_s >= transitions_.back() && rule_.valid) return posix_offset_at(unix_s);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_s);
  size_t i = static_cast<size_t>(it - transitions_.begin()) - 1;
  return type_offsets_[transition_types_[i]];
}

int64_t time_zone::offset_ns_at(int64_t unix_ns) const {
  return int64_t{offset_at(floor_div(unix_ns, 1000000000))} * 1000000000;
}

std::shared_ptr<const time_zone> time_zone::utc() {
  static const std::shared_ptr<const time_zone> zone = [] {
    auto z = std::make_shared<time_zone>();
    z->name_ = "UTC";
    return std::shared_ptr<const time_zone>(std::move(z));
  }();
  return zone;
}

result<std::shared_ptr<const time_zone>> time_zone::parse(std::string_view name, std::string_view tzif) {
  auto corrupt = [&](const char* what) {
    return error(errc::corruption, "time zone " + std::string(name) + ": " + what);
  };
  char version = 0;
  tzif_counts c;
  if (!read_header(tzif, 0, version, c)) return corrupt("not a TZif file");
  size_t at = header_size;
  uint64_t time_size = 4;
  if (version >= '2') {
    // Skip the 32-bit block; the second header describes 64-bit data.
    uint64_t skip = block_size(c, 4);
    if (skip > tzif.size() - at) return corrupt("truncated");
    at += static_cast<size_t>(skip);
    char v2 = 0;
    if (!read_header(tzif, at, v2, c)) return corrupt("missing version 2 header");
    at += header_size;
    time_size = 8;
  }
  if (c.typecnt == 0 || c.typecnt > 256 || (c.isstdcnt != 0 && c.isstdcnt != c.typecnt) ||
      (c.isutcnt != 0 && c.isutcnt != c.typecnt)) {
    return corrupt("bad counts");
  }
  uint64_t size = block_size(c, time_size);
  if (size > tzif.size() - at) return corrupt("truncated");
  const auto* p = reinterpret_cast<const unsigned char*>(tzif.data() + at);
  auto z = std::make_shared<time_zone>();
  z->name_ = std::string(name);
  z->transitions_.resize(c.timecnt);
  for (uint32_t i = 0; i < c.timecnt; ++i) {
    z->transitions_[i] = time_size == 8 ? static_cast<int64_t>(be64(p + i * 8))
                                        : static_cast<int64_t>(static_cast<int32_t>(be32(p + i * 4)));
    if (i > 0 && z->transitions_[i] <= z->transitions_[i - 1]) return corrupt("transitions out of order");
  }
  p += c.timecnt * time_size;
  z->transition_types_.assign(p, p + c.timecnt);
  for (uint8_t t : z->transition_types_) {
    if (t >= c.typecnt) return corrupt("bad transition type");
  }
  p += c.timecnt;
  z->type_offsets_.resize(c.typecnt);
  for (uint32_t i = 0; i < c.typecnt; ++i) {
    z->type_offsets_[i] = static_cast<int32_t>(be32(p + i * 6));
    // RFC 8536: -2^31 is invalid; real offsets are within a day.
    if (z->type_offsets_[i] <= -86400 * 2 || z->type_offsets_[i] >= 86400 * 2) return corrupt("bad offset");
  }
  at += static_cast<size_t>(size);
  if (time_size == 8) {
    // Footer: "\n<POSIX TZ string>\n"; empty means no rule after the last transition.
    if (at < tzif.size() && tzif[at] == '\n') {
      size_t nl = tzif.find('\n', at + 1);
      if (nl == std::string_view::npos) return corrupt("unterminated footer");
      std::string_view tz = tzif.substr(at + 1, nl - at - 1);
      if (!tz.empty() && !parse_posix(tz, z->rule_)) return corrupt("bad footer TZ string");
    }
  }
  return std::shared_ptr<const time_zone>(std::move(z));
}

result<std::shared_ptr<const time_zone>> time_zone::load(std::string_view name) {
  if (name.empty() || name == "UTC") return utc();
  auto not_found = [&] { return error(errc::not_found, "unable to find time zone " + std::string(name)); };
  // Zone names are relative paths below the zoneinfo directory; never let one leave it.
  if (name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find('\\') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return not_found();
  }
  const char* env = std::getenv("ZONEINFO");
  std::string dir = env && *env ? env : "/usr/share/zoneinfo";
  std::string path = dir + "/" + std::string(name);
  // Zones are few and files do not change under a running server: keep what
  // was read (dashboards send the same tz() with every refresh).
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const time_zone>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(path);
    if (it != cache.end()) return it->second;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found();
  std::string data;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > max_file_size) return not_found();
  }
  auto z = parse(name, data);
  if (!z.ok()) return not_found();
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(path, *z);
  return z;
}

}  // namespace liandu::query
