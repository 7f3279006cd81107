#include "toolbox/twin/twin.h"

#include <algorithm>
#include <cmath>

namespace liandu::toolbox::twin {

using json = nlohmann::json;

namespace {

status bad(const std::string& path, const std::string& what) {
  return error(errc::invalid_argument, path + ": " + what);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

bool value_from_json(const json& j, value& out) {
  if (j.is_boolean()) {
    out = j.get<bool>();
  } else if (j.is_number()) {
    double d = j.get<double>();
    if (!std::isfinite(d)) return false;
    out = d;
  } else if (j.is_string()) {
    out = j.get<std::string>();
  } else {
    return false;
  }
  return true;
}

value from_field(const model::field_value_view& f) {
  return std::visit(
      [](const auto& x) -> value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          return std::string(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          return x;
        } else {
          return static_cast<double>(x);
        }
      },
      f);
}

bool tolerance_from_json(const json& j, const std::string& path, double& out, status& st) {
  if (!j.is_number() || !std::isfinite(j.get<double>()) || j.get<double>() < 0) {
    st = bad(path, "must be a non-negative number");
    return false;
  }
  out = j.get<double>();
  return true;
}

}  // namespace

json value_to_json(const value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

bool matches(const value& desired, const value& reported, double tolerance) {
  if (desired.index() != reported.index()) return false;
  if (const double* d = std::get_if<double>(&desired)) {
    return std::abs(*d - std::get<double>(reported)) <= tolerance;
  }
  return desired == reported;
}

model::point to_point(const drift_event& e, std::string_view measurement) {
  model::point p;
  p.measurement = std::string(measurement);
  p.tags.push_back({"device", e.device});
  p.fields.push_back({"drifted", e.drifted});
  p.fields.push_back({"params", join(e.params)});
  p.fields.push_back({"count", static_cast<int64_t>(e.params.size())});
  p.time = e.time;
  return p;
}

json to_json(const drift_event& e) {
  json desired = json::object(), reported = json::object();
  for (const auto& [k, v] : e.desired) desired[k] = value_to_json(v);
  for (const auto& [k, v] : e.reported) reported[k] = value_to_json(v);
  return {{"device", e.device},
          {"drifted", e.drifted},
          {"params", e.params},
          {"count", e.params.size()},
          {"time", e.time},
          {"desired", std::move(desired)},
          {"reported", std::move(reported)}};
}

result<definition> parse_definition(const json& j) {
  if (!j.is_object()) return bad("twin", "must be a JSON object");
  definition d;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "device" || key == "measurement" || key == "tag") {
      if (!v.is_string() || v.get<std::string>().empty()) return bad(key, "must be a non-empty string");
      std::string s = v.get<std::string>();
      if (s.size() > 256) return bad(key, "longer than 256 bytes");
      (key == "device" ? d.device : key == "measurement" ? d.measurement : d.device_tag) = std::move(s);
    } else if (key == "desired") {
      if (!v.is_object()) return bad("desired", "must be an object {parameter: value}");
      if (v.size() > registry::max_params) return bad("desired", "more than 1000 parameters");
      for (auto p = v.begin(); p != v.end(); ++p) {
        if (p.key().empty()) return bad("desired", "empty parameter name");
        value val;
        if (!value_from_json(p.value(), val))
          return bad("desired." + p.key(), "must be a number, boolean or string");
        d.desired[p.key()] = std::move(val);
      }
    } else if (key == "tolerance") {
      status st;
      if (v.is_object()) {
        for (auto p = v.begin(); p != v.end(); ++p) {
          double t = 0;
          if (!tolerance_from_json(p.value(), "tolerance." + p.key(), t, st)) return st;
          d.tolerances[p.key()] = t;
        }
      } else {
        double t = 0;
        if (!tolerance_from_json(v, "tolerance", t, st)) return st;
        d.tolerance = t;
      }
    } else if (key == "tolerances") {
      if (!v.is_object()) return bad("tolerances", "must be an object {parameter: number}");
      status st;
      for (auto p = v.begin(); p != v.end(); ++p) {
        double t = 0;
        if (!tolerance_from_json(p.value(), "tolerances." + p.key(), t, st)) return st;
        d.tolerances[p.key()] = t;
      }
    } else {
      return bad(key, "unknown member");
    }
  }
  if (d.device.empty()) return bad("device", "required");
  if (!j.contains("desired")) return bad("desired", "required");
  return d;
}

json definition_to_json(const definition& d) {
  json desired = json::object();
  for (const auto& [k, v] : d.desired) desired[k] = value_to_json(v);
  json j = {
      {"device", d.device}, {"measurement", d.measurement}, {"tag", d.device_tag}, {"desired", desired}};
  if (d.tolerance) j["tolerance"] = *d.tolerance;
  if (!d.tolerances.empty()) {
    json t = json::object();
    for (const auto& [k, v] : d.tolerances) t[k] = v;
    j["tolerances"] = std::move(t);
  }
  return j;
}

json twin_to_json(const twin& t) {
  json j = definition_to_json(t.def);
  json reported = json::object(), times = json::object(), pending = json::array();
  for (const auto& [k, r] : t.reported) {
    reported[k] = value_to_json(r.v);
    times[k] = r.time;
  }
  for (const auto& [k, v] : t.def.desired) {
    if (!t.reported.contains(k)) pending.push_back(k);
  }
  j["reported"] = std::move(reported);
  j["reported_time"] = std::move(times);
  j["pending"] = std::move(pending);
  j["drift"] = {{"drifted", !t.drift.empty()}, {"params", t.drift}, {"changed", t.drift_changed}};
  return j;
}

void registry::reindex() {
  watched_.clear();
  for (const auto& [device, t] : twins_) watched_[t.def.measurement].insert(t.def.device_tag);
}

void registry::evaluate(twin& t, int64_t time, std::vector<drift_event>& out) {
  std::vector<std::string> drifted;
  for (const auto& [k, want] : t.def.desired) {
    auto r = t.reported.find(k);
    if (r == t.reported.end()) continue;  // pending
    double tol = default_tolerance_;
    if (auto pt = t.def.tolerances.find(k); pt != t.def.tolerances.end()) {
      tol = pt->second;
    } else if (t.def.tolerance) {
      tol = *t.def.tolerance;
    }
    if (!matches(want, r->second.v, tol)) drifted.push_back(k);
  }
  // desired is a sorted map, so drifted is sorted.
  if (drifted == t.drift) return;
  t.drift = std::move(drifted);
  t.drift_changed = time;
  drift_event e;
  e.device = t.def.device;
  e.drifted = !t.drift.empty();
  e.params = t.drift;
  e.time = time;
  for (const auto& k : t.drift) {
    e.desired[k] = t.def.desired.find(k)->second;
    e.reported[k] = t.reported.find(k)->second.v;
  }
  out.push_back(std::move(e));
}

status registry::put(definition d, int64_t now, std::vector<drift_event>& out) {
  if (d.device.empty()) return bad("device", "required");
  auto it = twins_.find(d.device);
  if (it == twins_.end()) {
    if (twins_.size() >= max_twins) {
      return error(errc::limit_exceeded, "too many twins (at most " + std::to_string(max_twins) + ")");
    }
    it = twins_.emplace(d.device, twin{}).first;
  }
  twin& t = it->second;
  if (t.def.measurement != d.measurement || t.def.device_tag != d.device_tag) {
    t.reported.clear();  // reported values came from another source
  }
  t.def = std::move(d);
  reindex();
  evaluate(t, now, out);
  return {};
}

bool registry::remove(std::string_view device, int64_t now, std::vector<drift_event>& out) {
  auto it = twins_.find(device);
  if (it == twins_.end()) return false;
  if (!it->second.drift.empty()) {
    drift_event e;
    e.device = it->second.def.device;
    e.time = now;
    out.push_back(std::move(e));
  }
  twins_.erase(it);
  reindex();
  return true;
}

bool registry::observe(std::string_view measurement, const std::vector<model::tag>& tags,
                       const std::vector<model::field_view>& fields, int64_t time,
                       std::vector<drift_event>& out) {
  auto w = watched_.find(measurement);
  if (w == watched_.end()) return false;
  bool changed = false;
  for (const std::string& tag_key : w->second) {
    auto tag = std::find_if(tags.begin(), tags.end(), [&](const model::tag& t) { return t.key == tag_key; });
    if (tag == tags.end()) continue;
    auto it = twins_.find(tag->value);
    if (it == twins_.end()) continue;
    twin& t = it->second;
    if (t.def.measurement != measurement || t.def.device_tag != tag_key) continue;
    bool this_changed = false;
    for (const auto& f : fields) {
      auto r = t.reported.find(f.key);
      if (r == t.reported.end()) {
        if (t.reported.size() >= max_params) continue;
        t.reported.emplace(std::string(f.key), reported_value{from_field(f.value), time});
        this_changed = true;
      } else if (time >= r->second.time) {  // an older point does not replace a newer report
        value v = from_field(f.value);
        if (v != r->second.v) this_changed = true;
        r->second = {std::move(v), time};
      }
    }
    if (this_changed) evaluate(t, time, out);
    changed |= this_changed;
  }
  return changed;
}

const twin* registry::find(std::string_view device) const {
  auto it = twins_.find(device);
  return it == twins_.end() ? nullptr : &it->second;
}

std::string registry::serialize() const {
  json list = json::array();
  for (const auto& [device, t] : twins_) {
    json j = definition_to_json(t.def);
    json reported = json::object();
    for (const auto& [k, r] : t.reported) reported[k] = {{"value", value_to_json(r.v)}, {"time", r.time}};
    j["reported"] = std::move(reported);
    j["drift"] = t.drift;
    j["drift_changed"] = t.drift_changed;
    list.push_back(std::move(j));
  }
  return json{{"twins", std::move(list)}}.dump();
}

status registry::deserialize(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("twins") || !j["twins"].is_array()) {
    return error(errc::corruption, "twins: expected {\"twins\": [...]}");
  }
  std::map<std::string, twin, std::less<>> loaded;
  for (size_t i = 0; i < j["twins"].size(); ++i) {
    json e = j["twins"][i];
    const std::string where = "twins[" + std::to_string(i) + "]";
    if (!e.is_object()) return error(errc::corruption, where + ": not an object");
    twin t;
    json reported = e.value("reported", json::object());
    json drift = e.value("drift", json::array());
    int64_t changed = e.value("drift_changed", int64_t{0});
    e.erase("reported");
    e.erase("drift");
    e.erase("drift_changed");
    auto d = parse_definition(e);
    if (!d.ok()) return error(errc::corruption, where + ": " + d.error().message());
    t.def = std::move(*d);
    if (!reported.is_object() || !drift.is_array())
      return error(errc::corruption, where + ": bad reported or drift");
    for (auto r = reported.begin(); r != reported.end(); ++r) {
      reported_value rv;
      if (!r.value().is_object() || !r.value().contains("value") ||
          !value_from_json(r.value()["value"], rv.v)) {
        return error(errc::corruption, where + ".reported." + r.key() + ": bad value");
      }
      rv.time = r.value().value("time", int64_t{0});
      t.reported.emplace(r.key(), std::move(rv));
    }
    for (const auto& p : drift) {
      if (!p.is_string()) return error(errc::corruption, where + ".drift: not a list of names");
      t.drift.push_back(p.get<std::string>());
    }
    std::sort(t.drift.begin(), t.drift.end());
    t.drift_changed = changed;
    std::string device = t.def.device;
    loaded[device] = std::move(t);
  }
  twins_ = std::move(loaded);
  reindex();
  return {};
}

}  // namespace liandu::toolbox::twin
