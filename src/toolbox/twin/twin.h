#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "model/point.h"

namespace liandu::toolbox::twin {

// Device twins: per device a desired configuration (parameter → value), set
// through the API, and the reported configuration, learnt from points.
//
// Reported values arrive as ordinary points: the twin names the measurement
// that carries reported parameters (default `setpoints`) and the tag that
// identifies the device (default `machine`); the latest value (by event time)
// of each field of that measurement for that device is its reported value.
// MQTT mapping rules, Sparkplug BIRTH/DATA and plain writes all end up here.
//
// Drift: a desired parameter whose reported value differs. Numbers (float,
// integer, unsigned) compare with a tolerance, |desired - reported| <= tol,
// taken from the parameter's own tolerance, else the twin's, else the
// registry's default. Booleans and strings compare exactly; a type mismatch
// (desired 1200, reported "1200") is a drift. A desired parameter not yet
// reported is pending, not a drift. Example: desired {"feed_rate_sp": 1200,
// "coolant": true}, tolerance 5: reported feed_rate_sp 1203 is in tolerance,
// 1210 drifts.
//
// The drift state of a twin is the sorted set of drifted parameters. Each
// change of it emits exactly one drift_event: drift start (empty → not),
// change (a different non-empty set), resolve (→ empty). Removing a drifted
// twin resolves it. Points that leave the set as it is emit nothing.

// A desired or reported value. Integers and unsigned values are held as
// double (reported set points are compared as numbers).
using value = std::variant<double, bool, std::string>;

struct definition {
  std::string device;                     // required; the value of device_tag
  std::string measurement = "setpoints";  // where reported parameters arrive
  std::string device_tag = "machine";     // the tag naming the device
  std::map<std::string, value, std::less<>> desired;
  std::optional<double> tolerance;                        // this twin's default for numbers
  std::map<std::string, double, std::less<>> tolerances;  // per parameter
  bool operator==(const definition&) const = default;
};

struct reported_value {
  value v;
  int64_t time = 0;  // ns: event time of the point that reported it
  bool operator==(const reported_value&) const = default;
};

struct twin {
  definition def;
  std::map<std::string, reported_value, std::less<>> reported;
  std::vector<std::string> drift;  // drifted parameters, sorted; empty: in sync
  int64_t drift_changed = 0;       // ns: when the drift state last changed
};

// One change of a twin's drift state.
struct drift_event {
  std::string device;
  bool drifted = false;
  std::vector<std::string> params;  // drifted parameters, sorted
  int64_t time = 0;                 // ns: event time of the point (or API call) that changed it
  // desired and reported values of the drifted parameters (for notifications)
  std::map<std::string, value, std::less<>> desired, reported;
};

// Point in measurement `twin_drift`: tag device; fields drifted (bool),
// params (comma-separated names), count (int).
model::point to_point(const drift_event& e, std::string_view measurement = "twin_drift");
// Notification body: {"device", "drifted", "params": [...], "count", "time",
// "desired": {...}, "reported": {...}}.
nlohmann::json to_json(const drift_event& e);

nlohmann::json value_to_json(const value& v);
// Whether reported matches desired (see the rules above).
bool matches(const value& desired, const value& reported, double tolerance);

// Parses an API body {"device", "desired": {...}, "tolerance"?: number or
// {param: number}, "measurement"?, "tag"?}. Errors name the member, e.g.
// `desired.speed: must be a number, boolean or string`.
result<definition> parse_definition(const nlohmann::json& j);
nlohmann::json definition_to_json(const definition& d);
// The API view: definition plus reported values, drift and pending params.
nlohmann::json twin_to_json(const twin& t);

// The twins of one database. Not thread-safe: the caller serialises access.
class registry {
 public:
  static constexpr size_t max_twins = 100000;
  static constexpr size_t max_params = 1000;  // desired, and reported per twin

  explicit registry(double default_tolerance = 0) : default_tolerance_(default_tolerance) {}

  // Adds or replaces a twin's definition (its reported values are kept) and
  // re-evaluates its drift; a change appends one event (time `now`).
  status put(definition d, int64_t now, std::vector<drift_event>& out);
  // Removes a twin; a drifted one appends a resolve event. False when absent.
  bool remove(std::string_view device, int64_t now, std::vector<drift_event>& out);

  // Whether points of this measurement may concern a twin (a quick filter).
  bool watches(std::string_view measurement) const { return watched_.contains(measurement); }
  // Feeds one point: updates the reported values of the twin it concerns and
  // appends an event when its drift state changes. Returns whether the
  // reported values changed.
  bool observe(std::string_view measurement, const std::vector<model::tag>& tags,
               const std::vector<model::field_view>& fields, int64_t time, std::vector<drift_event>& out);

  const twin* find(std::string_view device) const;
  const std::map<std::string, twin, std::less<>>& twins() const { return twins_; }
  bool empty() const { return twins_.empty(); }

  // JSON {"twins": [...]} with definitions, reported values and drift state;
  // deserialize replaces everything, or nothing on error.
  std::string serialize() const;
  status deserialize(std::string_view text);

 private:
  void reindex();
  void evaluate(twin& t, int64_t time, std::vector<drift_event>& out);

  double default_tolerance_;
  std::map<std::string, twin, std::less<>> twins_;  // by device
  // measurement → the device tags twins of it use
  std::map<std::string, std::set<std::string>, std::less<>> watched_;
};

}  // namespace liandu::toolbox::twin
