#include "ingest/topic_mapping.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "ingest/line_protocol.h"

namespace liandu::ingest {

namespace {

std::vector<std::string_view> split_levels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

bool is_capture(std::string_view level) {
  return level.size() > 2 && level.front() == '{' && level.back() == '}';
}

status validate_pattern(std::string_view pattern) {
  if (pattern.empty()) return error(errc::invalid_argument, "topic pattern is empty");
  auto levels = split_levels(pattern);
  for (size_t i = 0; i < levels.size(); ++i) {
    std::string_view l = levels[i];
    if (l == "#" && i + 1 != levels.size()) {
      return error(errc::invalid_argument, "'#' must be the last level of the topic pattern");
    }
    if (l != "#" && l != "+" && !is_capture(l) && (l.find_first_of("#+{}") != std::string_view::npos)) {
      return error(errc::invalid_argument, "bad level \"" + std::string(l) + "\" in topic pattern");
    }
  }
  return {};
}

// Resolves a dotted path ("a.b.0.c") in a JSON value.
const nlohmann::json* at_path(const nlohmann::json& j, std::string_view path) {
  const nlohmann::json* cur = &j;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (cur->is_object()) {
      auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      size_t idx = 0;
      auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), idx);
      if (ec != std::errc() || p != key.data() + key.size() || idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
    } else {
      return nullptr;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return cur;
}

bool to_field(const nlohmann::json& v, model::field_value& out) {
  if (v.is_boolean()) {
    out = v.get<bool>();
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_number_unsigned()) {
    out = static_cast<int64_t>(v.get<uint64_t>());
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d)) return false;
    out = d;
  } else if (v.is_string()) {
    out = v.get<std::string>();
  } else {
    return false;
  }
  return true;
}

// RFC3339 "2024-01-02T03:04:05.123Z" or with an offset, to ns.
bool parse_rfc3339(const std::string& s, int64_t& out) {
  int y, mo, d, h, mi;
  double sec;
  char tail[16] = {0};
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, tail) < 6) return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  int64_t base = static_cast<int64_t>(timegm(&tm));
  int64_t offset = 0;
  std::string t = tail;
  if (!t.empty() && t != "Z" && (t[0] == '+' || t[0] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(t.c_str() + 1, "%d:%d", &oh, &om) < 1) return false;
    offset = (t[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else if (!t.empty() && t != "Z") {
    return false;
  }
  out = (base - offset) * 1000000000LL + static_cast<int64_t>(std::llround(sec * 1e9));
  return true;
}

std::string substitute(const std::string& text,
                       const std::vector<std::pair<std::string, std::string>>& caps) {
  std::string out = text;
  for (const auto& [k, v] : caps) {
    std::string needle = "{" + k + "}";
    for (size_t pos = out.find(needle); pos != std::string::npos; pos = out.find(needle, pos + v.size())) {
      out.replace(pos, needle.size(), v);
    }
  }
  return out;
}

}  // namespace

bool match_topic(std::string_view pattern, std::string_view topic,
                 std::vector<std::pair<std::string, std::string>>& captures) {
  captures.clear();
  auto p = split_levels(pattern);
  auto t = split_levels(topic);
  // `$` topics are never matched by a wildcard first level (MQTT's rule).
  if (!topic.empty() && topic.front() == '$' && !p.empty() &&
      (p[0] == "+" || p[0] == "#" || is_capture(p[0]))) {
    return false;
  }
  size_t i = 0;
  for (; i < p.size(); ++i) {
    if (p[i] == "#") return true;
    if (i >= t.size()) return false;
    if (p[i] == "+") continue;
    if (is_capture(p[i])) {
      if (t[i].empty()) return false;
      captures.emplace_back(std::string(p[i].substr(1, p[i].size() - 2)), std::string(t[i]));
      continue;
    }
    if (p[i] != t[i]) return false;
  }
  return i == t.size();
}

result<mapping_rule> parse_mapping_rule(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return error(errc::invalid_argument, "mapping rule must be a JSON object");
  mapping_rule r;
  std::string who = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "<unnamed>";
  auto bad = [&](const std::string& what) {
    return error(errc::invalid_argument, "mapping rule \"" + who + "\": " + what);
  };
  auto str = [&](const char* key, std::string& out, bool required) -> status {
    if (!j.contains(key)) return required ? bad(std::string("missing \"") + key + "\"") : status{};
    if (!j[key].is_string()) return bad(std::string("\"") + key + "\" must be a string");
    out = j[key].get<std::string>();
    return {};
  };
  LIANDU_RETURN_IF_ERROR(str("name", r.name, true));
  LIANDU_RETURN_IF_ERROR(str("topic", r.topic, true));
  LIANDU_RETURN_IF_ERROR(str("database", r.database, true));
  LIANDU_RETURN_IF_ERROR(str("retention_policy", r.retention_policy, false));
  LIANDU_RETURN_IF_ERROR(str("measurement", r.measurement, false));
  LIANDU_RETURN_IF_ERROR(str("time_path", r.time_path, false));
  LIANDU_RETURN_IF_ERROR(str("value_field", r.value_field, false));
  std::string format = "json";
  LIANDU_RETURN_IF_ERROR(str("format", format, false));
  if (format == "json") {
    r.format = mapping_rule::payload_format::json;
  } else if (format == "line_protocol") {
    r.format = mapping_rule::payload_format::line_protocol;
  } else if (format == "value") {
    r.format = mapping_rule::payload_format::value;
  } else {
    return bad("\"format\" must be json, line_protocol or value, not \"" + format + "\"");
  }
  if (r.format != mapping_rule::payload_format::line_protocol && r.measurement.empty()) {
    return bad("missing \"measurement\"");
  }
  std::string precision = "ms";
  LIANDU_RETURN_IF_ERROR(str("time_precision", precision, false));
  if (!model::parse_precision(precision, r.time_precision)) return bad("bad \"time_precision\" " + precision);
  for (const char* key : {"fields", "tags"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_object()) return bad(std::string("\"") + key + "\" must be an object of name -> path");
    for (auto& [name, path] : j[key].items()) {
      if (!path.is_string()) return bad(std::string("\"") + key + "." + name + "\" must be a string path");
      (std::string(key) == "fields" ? r.fields : r.tags).emplace_back(name, path.get<std::string>());
    }
  }
  status s = validate_pattern(r.topic);
  if (!s.ok()) return bad(s.message());
  return r;
}

std::string mapping_rule_to_json(const mapping_rule& r) {
  nlohmann::json j;
  j["name"] = r.name;
  j["topic"] = r.topic;
  j["database"] = r.database;
  if (!r.retention_policy.empty()) j["retention_policy"] = r.retention_policy;
  if (!r.measurement.empty()) j["measurement"] = r.measurement;
  j["format"] = r.format == mapping_rule::payload_format::json
                    ? "json"
                    : (r.format == mapping_rule::payload_format::line_protocol ? "line_protocol" : "value");
  if (!r.fields.empty()) {
    for (const auto& [k, v] : r.fields) j["fields"][k] = v;
  }
  if (!r.tags.empty()) {
    for (const auto& [k, v] : r.tags) j["tags"][k] = v;
  }
  if (!r.time_path.empty()) j["time_path"] = r.time_path;
  static const char* names[] = {"ns", "us", "ms", "s", "m", "h"};
  j["time_precision"] = names[static_cast<int>(r.time_precision)];
  if (r.format == mapping_rule::payload_format::value) j["value_field"] = r.value_field;
  return j.dump();
}

status topic_mapper::add(mapping_rule r) {
  LIANDU_RETURN_IF_ERROR(validate_pattern(r.topic));
  remove(r.name);
  rules_.push_back(std::move(r));
  return {};
}

bool topic_mapper::remove(std::string_view name) {
  auto it = std::find_if(rules_.begin(), rules_.end(), [&](const mapping_rule& r) { return r.name == name; });
  if (it == rules_.end()) return false;
  rules_.erase(it);
  return true;
}

result<mapped_points> topic_mapper::map(std::string_view topic, std::string_view payload,
                                        int64_t now_ns) const {
  std::vector<std::pair<std::string, std::string>> caps;
  for (const auto& r : rules_) {
    if (!match_topic(r.topic, topic, caps)) continue;
    mapped_points out;
    out.rule = &r;
    auto fail = [&](const std::string& what) {
      return error(errc::parse_error, "topic " + std::string(topic) + " (rule \"" + r.name + "\"): " + what);
    };
    std::vector<model::tag> base_tags;
    for (const auto& [k, v] : caps) base_tags.push_back({k, v});
    std::string measurement = substitute(r.measurement, caps);
    auto finish_tags = [](std::vector<model::tag>& tags) {
      std::sort(tags.begin(), tags.end(),
                [](const model::tag& a, const model::tag& b) { return a.key < b.key; });
      tags.erase(std::unique(tags.begin(), tags.end(),
                             [](const model::tag& a, const model::tag& b) { return a.key == b.key; }),
                 tags.end());
    };
    switch (r.format) {
      case mapping_rule::payload_format::line_protocol: {
        std::vector<line_error> errors;
        auto pts = parse_points(payload, model::precision::ns, now_ns, &errors);
        if (!errors.empty()) {
          return fail("line " + std::to_string(errors[0].line) + ", column " +
                      std::to_string(errors[0].column) + ": " + errors[0].message);
        }
        if (!pts.ok()) return fail(pts.error().message());
        for (auto& p : *pts) {
          for (const auto& t : base_tags) p.tags.push_back(t);
          finish_tags(p.tags);
          out.points.push_back(std::move(p));
        }
        return out;
      }
      case mapping_rule::payload_format::value: {
        std::string text(payload);
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
        model::field_value v;
        if (text == "true" || text == "false") {
          v = text == "true";
        } else {
          char* end = nullptr;
          double d = std::strtod(text.c_str(), &end);
          if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(d)) {
            return fail("payload is not a number or boolean");
          }
          v = d;
        }
        model::point p{measurement, base_tags, {{r.value_field, v}}, now_ns};
        finish_tags(p.tags);
        out.points.push_back(std::move(p));
        return out;
      }
      case mapping_rule::payload_format::json: {
        auto j = nlohmann::json::parse(payload, nullptr, false);
        if (j.is_discarded()) return fail("payload is not valid JSON");
        std::vector<const nlohmann::json*> objects;
        if (j.is_array()) {
          for (const auto& e : j) objects.push_back(&e);
        } else {
          objects.push_back(&j);
        }
        for (size_t k = 0; k < objects.size(); ++k) {
          const auto& obj = *objects[k];
          if (!obj.is_object()) return fail("element " + std::to_string(k) + " is not a JSON object");
          model::point p;
          p.measurement = measurement;
          p.tags = base_tags;
          p.time = now_ns;
          if (!r.time_path.empty()) {
            const nlohmann::json* t = at_path(obj, r.time_path);
            if (t == nullptr) return fail("missing time at \"" + r.time_path + "\"");
            if (t->is_number_integer()) {
              p.time = t->get<int64_t>() * model::precision_multiplier(r.time_precision);
            } else if (t->is_number_float()) {
              p.time = static_cast<int64_t>(
                  t->get<double>() * static_cast<double>(model::precision_multiplier(r.time_precision)));
            } else if (!t->is_string() || !parse_rfc3339(t->get<std::string>(), p.time)) {
              return fail("time at \"" + r.time_path + "\" is neither an epoch number nor RFC3339");
            }
          }
          for (const auto& [tag, path] : r.tags) {
            const nlohmann::json* v = at_path(obj, path);
            if (v == nullptr) continue;
            if (v->is_string()) {
              if (!v->get<std::string>().empty()) p.tags.push_back({tag, v->get<std::string>()});
            } else {
              p.tags.push_back({tag, v->dump()});
            }
          }
          if (!r.fields.empty()) {
            for (const auto& [field, path] : r.fields) {
              const nlohmann::json* v = at_path(obj, path);
              if (v == nullptr || v->is_null()) continue;
              model::field_value fv;
              if (!to_field(*v, fv))
                return fail("field \"" + field + "\" at \"" + path + "\" is not a scalar");
              p.fields.push_back({field, std::move(fv)});
            }
          } else {
            for (auto it = obj.begin(); it != obj.end(); ++it) {
              if (it.key() == r.time_path) continue;
              model::field_value fv;
              if (to_field(it.value(), fv)) p.fields.push_back({it.key(), std::move(fv)});
            }
          }
          if (p.fields.empty()) return fail("no fields in element " + std::to_string(k));
          finish_tags(p.tags);
          out.points.push_back(std::move(p));
        }
        return out;
      }
    }
  }
  return error(errc::not_found, "no mapping rule matches topic " + std::string(topic));
}

}  // namespace liandu::ingest
