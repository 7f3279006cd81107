#include "toolbox/rules/rule.h"

#include <charconv>
#include <cmath>
#include <set>

#include "base/identifier.h"
#include "base/regex.h"

namespace liandu::toolbox::rules {

using json = nlohmann::json;

const char* compare_op_name(compare_op op) {
  switch (op) {
    case compare_op::gt: return ">";
    case compare_op::ge: return ">=";
    case compare_op::lt: return "<";
    case compare_op::le: return "<=";
    case compare_op::eq: return "==";
    case compare_op::ne: return "!=";
  }
  return "?";
}

bool parse_compare_op(std::string_view text, compare_op& out) {
  static constexpr compare_op all[] = {compare_op::gt, compare_op::ge, compare_op::lt,
                                       compare_op::le, compare_op::eq, compare_op::ne};
  for (compare_op op : all) {
    if (text == compare_op_name(op)) {
      out = op;
      return true;
    }
  }
  return false;
}

const char* aggregate_fn_name(aggregate_fn fn) {
  switch (fn) {
    case aggregate_fn::mean: return "mean";
    case aggregate_fn::min: return "min";
    case aggregate_fn::max: return "max";
    case aggregate_fn::sum: return "sum";
    case aggregate_fn::count: return "count";
  }
  return "?";
}

bool parse_aggregate_fn(std::string_view text, aggregate_fn& out) {
  static constexpr aggregate_fn all[] = {aggregate_fn::mean, aggregate_fn::min, aggregate_fn::max,
                                         aggregate_fn::sum, aggregate_fn::count};
  for (aggregate_fn fn : all) {
    if (text == aggregate_fn_name(fn)) {
      out = fn;
      return true;
    }
  }
  return false;
}

const char* condition_kind_name(condition_kind k) {
  switch (k) {
    case condition_kind::all: return "all";
    case condition_kind::any: return "any";
    case condition_kind::threshold: return "threshold";
    case condition_kind::aggregate: return "aggregate";
    case condition_kind::rate: return "rate";
    case condition_kind::absence: return "absence";
    case condition_kind::state_for: return "state";
    case condition_kind::anomaly: return "anomaly";
  }
  return "?";
}

const char* action_kind_name(action_kind k) {
  switch (k) {
    case action_kind::webhook: return "webhook";
    case action_kind::mqtt: return "mqtt";
    case action_kind::write_point: return "write_point";
  }
  return "?";
}

namespace {

const char* tag_match_name(tag_match m) {
  switch (m) {
    case tag_match::eq: return "==";
    case tag_match::ne: return "!=";
    case tag_match::regex: return "=~";
    case tag_match::not_regex: return "!~";
  }
  return "?";
}

bool parse_tag_match(std::string_view text, tag_match& out) {
  static constexpr tag_match all[] = {tag_match::eq, tag_match::ne, tag_match::regex, tag_match::not_regex};
  for (tag_match m : all) {
    if (text == tag_match_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

status bad(const std::string& path, const std::string& what) {
  return error(errc::invalid_argument, path + ": " + what);
}

bool is_ordering(compare_op op) { return op != compare_op::eq && op != compare_op::ne; }

bool valid_regex(const std::string& pattern) { return liandu::regex::compile(pattern).ok(); }

// Reads the members of one JSON object, remembering which were used so that
// a misspelt member is reported rather than silently ignored.
class object_reader {
 public:
  object_reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  bool has(const char* key) {
    used_.insert(key);
    return j_.contains(key);
  }
  const json& get(const char* key) {
    used_.insert(key);
    return j_[key];
  }

  status string(const char* key, std::string& out, bool required) {
    if (!has(key)) return required ? bad(at(key), "required") : status();
    const json& v = j_[key];
    if (!v.is_string()) return bad(at(key), "must be a string");
    out = v.get<std::string>();
    return status();
  }
  status number(const char* key, double& out, bool required) {
    if (!has(key)) return required ? bad(at(key), "required") : status();
    const json& v = j_[key];
    if (!v.is_number()) return bad(at(key), "must be a number");
    out = v.get<double>();
    if (!std::isfinite(out)) return bad(at(key), "must be finite");
    return status();
  }
  status integer(const char* key, int64_t& out, bool required) {
    if (!has(key)) return required ? bad(at(key), "required") : status();
    const json& v = j_[key];
    if (!v.is_number_integer()) return bad(at(key), "must be an integer");
    out = v.get<int64_t>();
    return status();
  }
  status boolean(const char* key, bool& out) {
    if (!has(key)) return status();
    const json& v = j_[key];
    if (!v.is_boolean()) return bad(at(key), "must be true or false");
    out = v.get<bool>();
    return status();
  }
  status duration(const char* key, int64_t& out, bool required) {
    if (!has(key)) return required ? bad(at(key), "required") : status();
    const json& v = j_[key];
    if (!v.is_string()) return bad(at(key), "must be a duration string such as \"5m\"");
    auto d = parse_duration(v.get<std::string>());
    if (!d.ok()) return bad(at(key), d.error().message());
    out = *d;
    return status();
  }
  status op(const char* key, compare_op& out, bool required) {
    std::string text;
    LIANDU_RETURN_IF_ERROR(string(key, text, required));
    if (!j_.contains(key)) return status();
    if (!parse_compare_op(text, out)) return bad(at(key), "unknown operator \"" + text + "\"");
    return status();
  }
  status finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!used_.contains(it.key())) return bad(at(it.key()), "unknown member");
    }
    return status();
  }

 private:
  const json& j_;
  std::string path_;
  std::set<std::string, std::less<>> used_;
};

status check_condition(const condition& c, const std::string& path, int depth);

status parse_condition(const json& j, const std::string& path, int depth, condition& c) {
  if (depth > 16) return bad(path, "conditions nested deeper than 16");
  if (!j.is_object()) return bad(path, "must be an object");
  object_reader r(j, path);
  if (r.has("all") || r.has("any")) {
    bool all = j.contains("all");
    if (j.contains("all") && j.contains("any")) return bad(path, "has both all and any");
    const char* key = all ? "all" : "any";
    const json& list = r.get(key);
    if (!list.is_array() || list.empty()) return bad(r.at(key), "must be a non-empty array");
    c.kind = all ? condition_kind::all : condition_kind::any;
    for (size_t i = 0; i < list.size(); ++i) {
      condition child;
      LIANDU_RETURN_IF_ERROR(
          parse_condition(list[i], r.at(key) + "[" + std::to_string(i) + "]", depth + 1, child));
      c.children.push_back(std::move(child));
    }
    return r.finish();
  }
  std::string type;
  LIANDU_RETURN_IF_ERROR(r.string("type", type, true));
  bool has_clear = false;
  double clear = 0;
  if (type == "threshold") {
    c.kind = condition_kind::threshold;
    LIANDU_RETURN_IF_ERROR(r.string("field", c.field, true));
    LIANDU_RETURN_IF_ERROR(r.op("op", c.op, true));
    LIANDU_RETURN_IF_ERROR(r.number("value", c.value, true));
    has_clear = r.has("clear");
  } else if (type == "aggregate") {
    c.kind = condition_kind::aggregate;
    std::string fn;
    LIANDU_RETURN_IF_ERROR(r.string("fn", fn, true));
    if (!parse_aggregate_fn(fn, c.fn)) return bad(r.at("fn"), "must be mean, min, max, sum or count");
    LIANDU_RETURN_IF_ERROR(r.string("field", c.field, true));
    LIANDU_RETURN_IF_ERROR(r.duration("window", c.window_ns, true));
    LIANDU_RETURN_IF_ERROR(r.op("op", c.op, true));
    LIANDU_RETURN_IF_ERROR(r.number("value", c.value, true));
    has_clear = r.has("clear");
  } else if (type == "rate") {
    c.kind = condition_kind::rate;
    LIANDU_RETURN_IF_ERROR(r.string("field", c.field, true));
    LIANDU_RETURN_IF_ERROR(r.duration("window", c.window_ns, true));
    LIANDU_RETURN_IF_ERROR(r.op("op", c.op, true));
    LIANDU_RETURN_IF_ERROR(r.number("value", c.value, true));
    has_clear = r.has("clear");
  } else if (type == "absence") {
    c.kind = condition_kind::absence;
    LIANDU_RETURN_IF_ERROR(r.string("field", c.field, false));
    LIANDU_RETURN_IF_ERROR(r.duration("for", c.for_ns, true));
  } else if (type == "state") {
    c.kind = condition_kind::state_for;
    c.op = compare_op::eq;
    LIANDU_RETURN_IF_ERROR(r.string("field", c.field, true));
    LIANDU_RETURN_IF_ERROR(r.op("op", c.op, false));
    LIANDU_RETURN_IF_ERROR(r.string("state", c.state, true));
    LIANDU_RETURN_IF_ERROR(r.duration("for", c.for_ns, true));
  } else if (type == "anomaly") {
    c.kind = condition_kind::anomaly;
    c.op = compare_op::gt;
    LIANDU_RETURN_IF_ERROR(r.string("field", c.field, true));
    std::string method = "robust_z";
    LIANDU_RETURN_IF_ERROR(r.string("method", method, false));
    if (!anomaly::parse_method(method, c.detector.kind)) {
      return bad(r.at("method"), "must be robust_z, ewma or seasonal");
    }
    LIANDU_RETURN_IF_ERROR(r.number("threshold", c.value, true));
    int64_t n = 0;
    if (r.has("window")) {
      LIANDU_RETURN_IF_ERROR(r.integer("window", n, true));
      if (n < 3 || n > 100'000) return bad(r.at("window"), "must be between 3 and 100000 values");
      c.detector.window = static_cast<size_t>(n);
    }
    if (r.has("min_samples")) {
      LIANDU_RETURN_IF_ERROR(r.integer("min_samples", n, true));
      if (n < 2 || n > 100'000) return bad(r.at("min_samples"), "must be between 2 and 100000");
      c.detector.min_samples = static_cast<size_t>(n);
    }
    LIANDU_RETURN_IF_ERROR(r.number("alpha", c.detector.alpha, false));
    LIANDU_RETURN_IF_ERROR(r.duration("period", c.detector.period_ns, false));
    LIANDU_RETURN_IF_ERROR(r.duration("bucket", c.detector.bucket_ns, false));
    has_clear = r.has("clear");
  } else {
    return bad(r.at("type"), "unknown condition type \"" + type +
                                 "\" (threshold, aggregate, rate, absence, state, anomaly, or all/any)");
  }
  if (has_clear) {
    LIANDU_RETURN_IF_ERROR(r.number("clear", clear, true));
    c.clear = clear;
  }
  LIANDU_RETURN_IF_ERROR(r.finish());
  return check_condition(c, path, depth);
}

// Semantic checks shared by the JSON parser and validate().
status check_condition(const condition& c, const std::string& path, int depth) {
  if (depth > 16) return bad(path, "conditions nested deeper than 16");
  switch (c.kind) {
    case condition_kind::all:
    case condition_kind::any:
      if (c.children.empty()) return bad(path, "needs at least one condition");
      for (size_t i = 0; i < c.children.size(); ++i) {
        LIANDU_RETURN_IF_ERROR(check_condition(
            c.children[i], path + "." + condition_kind_name(c.kind) + "[" + std::to_string(i) + "]",
            depth + 1));
      }
      return status();
    case condition_kind::absence:
      if (c.for_ns <= 0) return bad(path + ".for", "must be positive");
      return status();
    case condition_kind::state_for:
      if (c.field.empty()) return bad(path + ".field", "required");
      if (c.op != compare_op::eq && c.op != compare_op::ne) return bad(path + ".op", "must be == or !=");
      if (c.for_ns < 0) return bad(path + ".for", "must not be negative");
      return status();
    case condition_kind::aggregate:
    case condition_kind::rate:
      if (c.window_ns <= 0) return bad(path + ".window", "must be positive");
      break;
    case condition_kind::anomaly:
      if (const char* why = anomaly::validate(c.detector); *why) return bad(path, why);
      if (c.op != compare_op::gt && c.op != compare_op::ge) return bad(path + ".op", "must be > or >=");
      break;
    case condition_kind::threshold: break;
  }
  if (c.field.empty()) return bad(path + ".field", "required");
  if (c.clear) {
    if (!is_ordering(c.op)) return bad(path + ".clear", "needs an ordering operator (> >= < <=)");
    bool upward = c.op == compare_op::gt || c.op == compare_op::ge;
    if (upward ? *c.clear > c.value : *c.clear < c.value) {
      return bad(path + ".clear", upward ? "must not be above value" : "must not be below value");
    }
  }
  return status();
}

json condition_to_json(const condition& c) {
  json j = json::object();
  switch (c.kind) {
    case condition_kind::all:
    case condition_kind::any: {
      json list = json::array();
      for (const auto& child : c.children) list.push_back(condition_to_json(child));
      j[condition_kind_name(c.kind)] = std::move(list);
      return j;
    }
    case condition_kind::threshold:
      j["type"] = "threshold";
      j["field"] = c.field;
      j["op"] = compare_op_name(c.op);
      j["value"] = c.value;
      break;
    case condition_kind::aggregate:
      j["type"] = "aggregate";
      j["fn"] = aggregate_fn_name(c.fn);
      j["field"] = c.field;
      j["window"] = format_duration(c.window_ns);
      j["op"] = compare_op_name(c.op);
      j["value"] = c.value;
      break;
    case condition_kind::rate:
      j["type"] = "rate";
      j["field"] = c.field;
      j["window"] = format_duration(c.window_ns);
      j["op"] = compare_op_name(c.op);
      j["value"] = c.value;
      break;
    case condition_kind::absence:
      j["type"] = "absence";
      if (!c.field.empty()) j["field"] = c.field;
      j["for"] = format_duration(c.for_ns);
      break;
    case condition_kind::state_for:
      j["type"] = "state";
      j["field"] = c.field;
      j["op"] = compare_op_name(c.op);
      j["state"] = c.state;
      j["for"] = format_duration(c.for_ns);
      break;
    case condition_kind::anomaly:
      j["type"] = "anomaly";
      j["field"] = c.field;
      j["method"] = anomaly::method_name(c.detector.kind);
      j["threshold"] = c.value;
      j["window"] = c.detector.window;
      j["min_samples"] = c.detector.min_samples;
      j["alpha"] = c.detector.alpha;
      j["period"] = format_duration(c.detector.period_ns);
      j["bucket"] = format_duration(c.detector.bucket_ns);
      break;
  }
  if (c.clear) j["clear"] = *c.clear;
  return j;
}

}  // namespace

result<int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return error(errc::invalid_argument, "empty duration");
  const std::string quoted = "\"" + std::string(text) + "\"";
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc() || n < 0) return error(errc::invalid_argument, "bad duration " + quoted);
    i = static_cast<size_t>(end - text.data());
    size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t mult = 0;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us") {
      mult = 1'000;
    } else if (unit == "ms") {
      mult = 1'000'000;
    } else if (unit == "s") {
      mult = 1'000'000'000;
    } else if (unit == "m") {
      mult = 60'000'000'000;
    } else if (unit == "h") {
      mult = 3'600'000'000'000;
    } else if (unit == "d") {
      mult = 86'400'000'000'000;
    } else {
      return error(errc::invalid_argument, "bad duration " + quoted + " (units ns, us, ms, s, m, h, d)");
    }
    if (n > (INT64_MAX - total) / mult) return error(errc::invalid_argument, "duration too long " + quoted);
    total += n * mult;
  }
  return total;
}

std::string format_duration(int64_t ns) {
  if (ns == 0) return "0s";
  struct unit {
    int64_t size;
    const char* name;
  };
  static constexpr unit units[] = {{86'400'000'000'000, "d"},
                                   {3'600'000'000'000, "h"},
                                   {60'000'000'000, "m"},
                                   {1'000'000'000, "s"},
                                   {1'000'000, "ms"},
                                   {1'000, "us"},
                                   {1, "ns"}};
  std::string out;
  if (ns < 0) return std::to_string(ns) + "ns";
  for (const unit& u : units) {
    if (ns >= u.size) {
      out += std::to_string(ns / u.size) + u.name;
      ns %= u.size;
    }
  }
  return out;
}

result<rule> rule_from_json(const json& j) {
  if (!j.is_object()) return bad("rule", "must be a JSON object");
  rule r;
  object_reader rd(j, "");
  LIANDU_RETURN_IF_ERROR(rd.string("id", r.id, true));
  LIANDU_RETURN_IF_ERROR(rd.string("name", r.name, false));
  LIANDU_RETURN_IF_ERROR(rd.integer("version", r.version, false));
  LIANDU_RETURN_IF_ERROR(rd.boolean("enabled", r.enabled));
  LIANDU_RETURN_IF_ERROR(rd.string("measurement", r.measurement, true));
  if (rd.has("where")) {
    const json& list = j["where"];
    if (!list.is_array()) return bad("where", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string path = "where[" + std::to_string(i) + "]";
      if (!list[i].is_object()) return bad(path, "must be an object");
      object_reader fr(list[i], path);
      tag_filter f;
      std::string op = "==";
      LIANDU_RETURN_IF_ERROR(fr.string("tag", f.key, true));
      LIANDU_RETURN_IF_ERROR(fr.string("op", op, false));
      if (!parse_tag_match(op, f.match)) return bad(fr.at("op"), "must be ==, !=, =~ or !~");
      LIANDU_RETURN_IF_ERROR(fr.string("value", f.value, true));
      LIANDU_RETURN_IF_ERROR(fr.finish());
      r.where.push_back(std::move(f));
    }
  }
  if (rd.has("group_by")) {
    const json& list = j["group_by"];
    if (!list.is_array()) return bad("group_by", "must be an array of tag keys");
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string()) return bad("group_by[" + std::to_string(i) + "]", "must be a string");
      r.group_by.push_back(list[i].get<std::string>());
    }
  }
  if (!rd.has("when")) return bad("when", "required");
  LIANDU_RETURN_IF_ERROR(parse_condition(j["when"], "when", 0, r.when));
  LIANDU_RETURN_IF_ERROR(rd.duration("for", r.for_ns, false));
  LIANDU_RETURN_IF_ERROR(rd.string("severity", r.severity, false));
  LIANDU_RETURN_IF_ERROR(rd.string("message", r.message, false));
  if (rd.has("actions")) {
    const json& list = j["actions"];
    if (!list.is_array()) return bad("actions", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string path = "actions[" + std::to_string(i) + "]";
      if (!list[i].is_object()) return bad(path, "must be an object");
      object_reader ar(list[i], path);
      std::string type;
      action a;
      LIANDU_RETURN_IF_ERROR(ar.string("type", type, true));
      if (type == "webhook") {
        a.kind = action_kind::webhook;
        // The URL belongs to the tenant's receiver, set by a tenant admin:
        // whoever may write rules cannot point the server at any address.
        if (ar.has("url")) {
          return bad(ar.at("url"),
                     "is not accepted: a webhook action names a receiver of the tenant (\"receiver\"; "
                     "receivers are set with POST /api/v1/webhooks)");
        }
        LIANDU_RETURN_IF_ERROR(ar.string("receiver", a.target, true));
        if (!is_identifier(a.target))
          return bad(ar.at("receiver"), "must be 1-128 characters of A-Z a-z 0-9 _ - . :");
      } else if (type == "mqtt") {
        a.kind = action_kind::mqtt;
        LIANDU_RETURN_IF_ERROR(ar.string("topic", a.target, true));
        if (a.target.empty() || a.target.find_first_of("+#") != std::string::npos) {
          return bad(ar.at("topic"), "must be a non-empty topic without wildcards (+, #)");
        }
        int64_t qos = 0;
        LIANDU_RETURN_IF_ERROR(ar.integer("qos", qos, false));
        if (qos != 0 && qos != 1) return bad(ar.at("qos"), "must be 0 or 1");
        a.qos = static_cast<int>(qos);
        LIANDU_RETURN_IF_ERROR(ar.boolean("retain", a.retain));
      } else if (type == "write_point") {
        a.kind = action_kind::write_point;
        a.target = "alerts";
        LIANDU_RETURN_IF_ERROR(ar.string("measurement", a.target, false));
      } else {
        return bad(ar.at("type"), "must be webhook, mqtt or write_point");
      }
      LIANDU_RETURN_IF_ERROR(ar.finish());
      r.actions.push_back(std::move(a));
    }
  }
  LIANDU_RETURN_IF_ERROR(rd.finish());
  LIANDU_RETURN_IF_ERROR(validate(r));
  return r;
}

result<rule> parse_rule(std::string_view json_text) {
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error(errc::invalid_argument, "rule: not valid JSON");
  return rule_from_json(j);
}

status validate(const rule& r) {
  if (!is_identifier(r.id)) return bad("id", "must be 1-128 characters of A-Z a-z 0-9 _ - . :");
  if (r.measurement.empty()) return bad("measurement", "required");
  if (r.version < 0) return bad("version", "must not be negative");
  if (r.for_ns < 0) return bad("for", "must not be negative");
  for (size_t i = 0; i < r.where.size(); ++i) {
    const tag_filter& f = r.where[i];
    std::string path = "where[" + std::to_string(i) + "]";
    if (f.key.empty()) return bad(path + ".tag", "required");
    if ((f.match == tag_match::regex || f.match == tag_match::not_regex) && !valid_regex(f.value)) {
      return bad(path + ".value", "bad regular expression");
    }
  }
  for (size_t i = 0; i < r.group_by.size(); ++i) {
    if (r.group_by[i].empty()) return bad("group_by[" + std::to_string(i) + "]", "must not be empty");
  }
  return check_condition(r.when, "when", 0);
}

json rule_to_json(const rule& r) {
  json j = json::object();
  j["id"] = r.id;
  j["name"] = r.name;
  j["version"] = r.version;
  j["enabled"] = r.enabled;
  j["measurement"] = r.measurement;
  if (!r.where.empty()) {
    json list = json::array();
    for (const auto& f : r.where)
      list.push_back({{"tag", f.key}, {"op", tag_match_name(f.match)}, {"value", f.value}});
    j["where"] = std::move(list);
  }
  if (!r.group_by.empty()) j["group_by"] = r.group_by;
  j["when"] = condition_to_json(r.when);
  if (r.for_ns != 0) j["for"] = format_duration(r.for_ns);
  j["severity"] = r.severity;
  if (!r.message.empty()) j["message"] = r.message;
  if (!r.actions.empty()) {
    json list = json::array();
    for (const auto& a : r.actions) {
      json aj = {{"type", action_kind_name(a.kind)}};
      const char* key = a.kind == action_kind::webhook ? "receiver"
                        : a.kind == action_kind::mqtt  ? "topic"
                                                       : "measurement";
      aj[key] = a.target;
      if (a.kind == action_kind::mqtt) {
        aj["qos"] = a.qos;
        aj["retain"] = a.retain;
      }
      list.push_back(std::move(aj));
    }
    j["actions"] = std::move(list);
  }
  return j;
}

}  // namespace liandu::toolbox::rules
