#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace liandu::query {

// A time zone of the IANA database, read from the system's compiled TZif
// files (RFC 8536, versions 1 to 3), for tz('Zone/Name') in SELECT. GCC 12's
// libstdc++ has no std::chrono::tzdb, hence this reader.
//
// A TZif file holds the UTC instants at which the zone's rules change
// (transitions), each naming a local time type (ttinfo: UT offset, DST flag),
// and from version 2 on a footer with a POSIX TZ string such as
// "EST5EDT,M3.2.0,M11.1.0" that gives the offsets after the last transition.
// Offsets are answered from the transitions up to the last one and from the
// footer rule after it; before the first transition time type 0 applies.
//
// Examples: America/New_York is -05:00 at 2024-03-10T06:59:59Z and -04:00 at
// 07:00:00Z; Europe/Berlin is +01:00 before 2024-03-31T01:00:00Z and +02:00
// from then on; Asia/Shanghai is +08:00 throughout.
//
// Immutable once loaded, so one instance may be shared by threads.
class time_zone {
 public:
  // Loads /usr/share/zoneinfo/<name> ($ZONEINFO replaces the directory when
  // set). "" and "UTC" need no file. An unknown or unreadable zone is
  // not_found with InfluxDB's text "unable to find time zone <name>", and so
  // is a file that is not TZif. Zones read are kept for the life of the
  // process; safe to call from several threads.
  static result<std::shared_ptr<const time_zone>> load(std::string_view name);

  // Parses the bytes of a TZif file (for tests and for load()).
  static result<std::shared_ptr<const time_zone>> parse(std::string_view name, std::string_view tzif);

  // UTC: offset 0 everywhere.
  static std::shared_ptr<const time_zone> utc();

  const std::string& name() const { return name_; }

  // Seconds east of UTC in effect at the instant unix_s (seconds since the epoch).
  int32_t offset_at(int64_t unix_s) const;
  // The same for an instant in ns; the answer is in ns.
  int64_t offset_ns_at(int64_t unix_ns) const;

 private:
  // One rule date of a POSIX TZ string: Jn, n or Mm.w.d, and a local time of day.
  struct rule_date {
    enum class kind : uint8_t { julian1, julian0, month_week_day } k = kind::month_week_day;
    int day = 0;  // Jn: 1..365 (no Feb 29); n: 0..365; Mm.w.d: weekday 0 (Sunday)..6
    int week = 0;
    int month = 0;
    int32_t time_s = 7200;  // local time of day the change happens, may be < 0 or > 24h (v3)
  };
  // The footer rule: standard offset, and optionally a DST offset with the
  // dates it starts (in standard local time) and ends (in DST local time).
  struct posix_rule {
    bool valid = false;
    int32_t std_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    rule_date start, end;
  };

  static bool parse_posix(std::string_view s, posix_rule& out);
  static int64_t rule_instant(const rule_date& d, int64_t year, int32_t offset);
  int32_t posix_offset_at(int64_t unix_s) const;

  std::string name_;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<uint8_t> transition_types_;
  std::vector<int32_t> type_offsets_;  // ttinfo UT offsets
  posix_rule rule_;
};

}  // namespace liandu::query
