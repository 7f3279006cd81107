#include "connect/sparkplug/decoder.h"

#include <array>
#include <limits>
#include <optional>

#include "connect/sparkplug/sparkplug_b.pb.h"

namespace liandu::connect::sparkplug {

namespace pb = org::eclipse::tahu::protobuf;
using pb_metric = pb::Payload::Metric;

namespace {

constexpr int64_t ns_per_ms = 1'000'000;
constexpr uint64_t max_ms = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / ns_per_ms);
constexpr char bdseq_metric[] = "bdSeq";

const char* datatype_name(uint32_t t) {
  static constexpr std::array<const char*, 35> names{"Unknown",      "Int8",
                                                     "Int16",        "Int32",
                                                     "Int64",        "UInt8",
                                                     "UInt16",       "UInt32",
                                                     "UInt64",       "Float",
                                                     "Double",       "Boolean",
                                                     "String",       "DateTime",
                                                     "Text",         "UUID",
                                                     "DataSet",      "Bytes",
                                                     "File",         "Template",
                                                     "PropertySet",  "PropertySetList",
                                                     "Int8Array",    "Int16Array",
                                                     "Int32Array",   "Int64Array",
                                                     "UInt8Array",   "UInt16Array",
                                                     "UInt32Array",  "UInt64Array",
                                                     "FloatArray",   "DoubleArray",
                                                     "BooleanArray", "StringArray",
                                                     "DateTimeArray"};
  return t < names.size() ? names[t] : "unknown datatype";
}

const char* value_case_name(const pb_metric& m) {
  switch (m.value_case()) {
    case pb_metric::kIntValue: return "int_value";
    case pb_metric::kLongValue: return "long_value";
    case pb_metric::kFloatValue: return "float_value";
    case pb_metric::kDoubleValue: return "double_value";
    case pb_metric::kBooleanValue: return "boolean_value";
    case pb_metric::kStringValue: return "string_value";
    case pb_metric::kBytesValue: return "bytes_value";
    case pb_metric::kDatasetValue: return "dataset_value";
    case pb_metric::kTemplateValue: return "template_value";
    case pb_metric::kExtensionValue: return "extension_value";
    case pb_metric::VALUE_NOT_SET: break;
  }
  return "no value";
}

// Protobuf `string` fields must be UTF-8, and everything downstream (tags,
// JSON answers) relies on it; proto2 parsing does not check it.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

enum class conversion { ok, unsupported, error };

// The field value of a metric of `datatype`. Integers up to 32 bits may come
// in int_value or long_value, signed ones as two's complement of their width,
// possibly sign-extended: truncating to the width gives the value either way.
conversion to_field_value(const pb_metric& m, uint32_t datatype, model::field_value& out, std::string& why) {
  const bool is_int = m.value_case() == pb_metric::kIntValue;
  const bool is_long = m.value_case() == pb_metric::kLongValue;
  const uint64_t raw = is_int ? m.int_value() : is_long ? m.long_value() : 0;
  auto expected = [&](const char* what) {
    why =
        std::string("datatype ") + datatype_name(datatype) + " needs " + what + ", got " + value_case_name(m);
    return conversion::error;
  };
  switch (static_cast<pb::DataType>(datatype)) {
    case pb::Int8:
      if (!is_int && !is_long) return expected("int_value");
      out = int64_t{static_cast<int8_t>(static_cast<uint8_t>(raw))};
      return conversion::ok;
    case pb::Int16:
      if (!is_int && !is_long) return expected("int_value");
      out = int64_t{static_cast<int16_t>(static_cast<uint16_t>(raw))};
      return conversion::ok;
    case pb::Int32:
      if (!is_int && !is_long) return expected("int_value");
      out = int64_t{static_cast<int32_t>(static_cast<uint32_t>(raw))};
      return conversion::ok;
    case pb::Int64:
      if (is_int) {
        out = int64_t{static_cast<int32_t>(static_cast<uint32_t>(raw))};
      } else if (is_long) {
        out = static_cast<int64_t>(raw);
      } else {
        return expected("long_value");
      }
      return conversion::ok;
    case pb::UInt8:
    case pb::UInt16:
    case pb::UInt32:
      if (!is_int && !is_long) return expected("int_value");
      if (raw > std::numeric_limits<uint32_t>::max()) {
        why = std::string("value ") + std::to_string(raw) + " out of range for " + datatype_name(datatype);
        return conversion::error;
      }
      out = static_cast<int64_t>(raw);
      return conversion::ok;
    case pb::UInt64:
      if (!is_int && !is_long) return expected("long_value");
      out = raw;
      return conversion::ok;
    case pb::DateTime:
      if (!is_int && !is_long) return expected("long_value");
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        why = "DateTime " + std::to_string(raw) + " out of range";
        return conversion::error;
      }
      out = static_cast<int64_t>(raw);
      return conversion::ok;
    case pb::Float:
    case pb::Double:
      if (m.value_case() == pb_metric::kFloatValue) {
        out = static_cast<double>(m.float_value());
      } else if (m.value_case() == pb_metric::kDoubleValue) {
        out = m.double_value();
      } else {
        return expected(datatype == pb::Float ? "float_value" : "double_value");
      }
      return conversion::ok;
    case pb::Boolean:
      if (m.value_case() != pb_metric::kBooleanValue) return expected("boolean_value");
      out = m.boolean_value();
      return conversion::ok;
    case pb::String:
    case pb::Text:
    case pb::UUID:
      if (m.value_case() != pb_metric::kStringValue) return expected("string_value");
      if (!valid_utf8(m.string_value())) {
        why = "string_value is not valid UTF-8";
        return conversion::error;
      }
      out = m.string_value();
      return conversion::ok;
    default: return conversion::unsupported;
  }
}

// bdSeq of a birth or death certificate, when it carries one.
std::optional<int64_t> find_bdseq(const pb::Payload& p) {
  for (const auto& m : p.metrics()) {
    if (m.name() != bdseq_metric) continue;
    if (m.value_case() == pb_metric::kLongValue) return static_cast<int64_t>(m.long_value());
    if (m.value_case() == pb_metric::kIntValue) return static_cast<int64_t>(m.int_value());
  }
  return std::nullopt;
}

}  // namespace

std::string decoder::rebirth_payload(int64_t now_ms) {
  pb::Payload p;
  p.set_timestamp(static_cast<uint64_t>(now_ms));
  pb_metric* m = p.add_metrics();
  m->set_name(rebirth_metric);
  m->set_timestamp(static_cast<uint64_t>(now_ms));
  m->set_datatype(pb::Boolean);
  m->set_boolean_value(true);
  return p.SerializeAsString();
}

bool decoder::online(std::string_view group, std::string_view edge_node, std::string_view device) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find({std::string(group), std::string(edge_node)});
  if (it == nodes_.end() || !it->second.born) return false;
  return device.empty() || it->second.devices.count(device) > 0;
}

result<decoded> decoder::decode(std::string_view topic_text, std::string_view payload, int64_t arrival_ns) {
  auto parsed = parse_topic(topic_text);
  if (!parsed.ok()) return parsed.error();
  decoded out;
  out.where = std::move(parsed).value();
  const topic& tp = out.where;
  ++stats_.messages;
  if (tp.type == message_type::ncmd || tp.type == message_type::dcmd || tp.type == message_type::state)
    return out;

  const std::string where(topic_text);
  std::vector<model::tag> tags;  // sorted by key
  if (tp.is_device()) tags.push_back({"device", tp.device});
  tags.push_back({"edge_node", tp.edge_node});
  tags.push_back({"group", tp.group});

  std::vector<model::point> states, errors;
  std::map<int64_t, model::point> data;  // by time
  auto report = [&](const char* kind, const std::string& message, std::vector<model::field> extra = {}) {
    model::point p{errors_measurement, tags, {}, arrival_ns};
    p.tags.push_back({"kind", kind});
    p.fields.push_back({"message", "topic " + where + ": " + message});
    p.fields.push_back({"topic", where});
    for (auto& f : extra) p.fields.push_back(std::move(f));
    out.errors.push_back(std::get<std::string>(p.fields[0].value));
    errors.push_back(std::move(p));
  };
  auto state_point = [&](std::vector<model::tag> t, bool online, std::optional<int64_t> bdseq, int64_t time) {
    model::point p{state_measurement, std::move(t), {}, time};
    p.fields.push_back({"online", online});
    p.fields.push_back({"event", message_type_name(tp.type)});
    if (bdseq) p.fields.push_back({"bdseq", *bdseq});
    states.push_back(std::move(p));
  };
  auto finish = [&]() -> result<decoded> {
    for (auto& [time, p] : data) out.points.push_back(std::move(p));
    out.data_points = out.points.size();
    for (auto& p : states) out.points.push_back(std::move(p));
    for (auto& p : errors) out.points.push_back(std::move(p));
    stats_.metrics += out.metrics;
    stats_.skipped_metrics += out.skipped;
    stats_.errors += out.errors.size();
    return std::move(out);
  };

  std::lock_guard lock(mu_);
  const auto key = std::make_pair(tp.group, tp.edge_node);
  auto node_it = nodes_.find(key);
  if (node_it == nodes_.end()) {
    if (nodes_.size() >= options_.max_nodes) {
      report("limit", "more than " + std::to_string(options_.max_nodes) + " edge nodes; message dropped");
      return finish();
    }
    node_it = nodes_.emplace(key, node_state{}).first;
  }
  node_state& node = node_it->second;
  auto ask_rebirth = [&] {
    if (node.rebirth_asked && arrival_ns - node.last_rebirth_ns < options_.rebirth_interval_ns) return;
    node.rebirth_asked = true;
    node.last_rebirth_ns = arrival_ns;
    out.rebirth_topic = node_command_topic(tp.group, tp.edge_node);
    out.rebirth_payload = rebirth_payload(arrival_ns / ns_per_ms);
    ++stats_.rebirths_requested;
  };

  pb::Payload pl;
  if (!pl.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    report("malformed",
           "payload is not a Sparkplug B protobuf (" + std::to_string(payload.size()) + " bytes)");
    if (tp.type != message_type::ndeath) ask_rebirth();
    return finish();
  }
  int64_t payload_ns = arrival_ns;
  if (pl.has_timestamp()) {
    if (pl.timestamp() > max_ms) {
      report("bad_metric", "payload timestamp " + std::to_string(pl.timestamp()) + " ms out of range");
    } else {
      payload_ns = static_cast<int64_t>(pl.timestamp()) * ns_per_ms;
    }
  }

  // The sequence number runs 0..255 over every message of an edge node after
  // its NBIRTH (NDEATH excluded). A repeat of the last number is a re-sent
  // message, not a gap.
  auto check_seq = [&] {
    if (!pl.has_seq()) return;
    if (pl.seq() > 255) {
      report("malformed", "seq " + std::to_string(pl.seq()) + " out of range 0..255");
      return;
    }
    const int seen = static_cast<int>(pl.seq());
    if (node.last_seq >= 0 && seen != node.last_seq) {
      const int expected = (node.last_seq + 1) % 256;
      if (seen != expected) {
        ++stats_.seq_gaps;
        report("seq_gap",
               "sequence gap: expected seq " + std::to_string(expected) + ", got " + std::to_string(seen),
               {{"expected", int64_t{expected}}, {"seen", int64_t{seen}}});
        ask_rebirth();
      }
    }
    node.last_seq = seen;
  };

  // Learns the metric definitions of a birth into `s`.
  auto learn = [&](scope& s) {
    s = scope{};
    for (int i = 0; i < pl.metrics_size(); ++i) {
      const pb_metric& m = pl.metrics(i);
      const std::string at = "metric index " + std::to_string(i);
      if (!m.has_name() || m.name().empty()) {
        report("bad_metric", at + ": a birth metric needs a name");
        continue;
      }
      if (!valid_utf8(m.name())) {
        report("bad_metric", at + ": name is not valid UTF-8");
        continue;
      }
      if (!m.has_datatype()) {
        report("bad_metric", at + " (" + m.name() + "): a birth metric needs a datatype");
        continue;
      }
      if (s.by_name.size() >= options_.max_metrics_per_scope) {
        report("limit",
               "more than " + std::to_string(options_.max_metrics_per_scope) + " metrics in one birth");
        break;
      }
      s.by_name[m.name()] = m.datatype();
      if (m.has_alias()) {
        auto [it, added] = s.by_alias.try_emplace(m.alias(), metric_def{m.name(), m.datatype()});
        if (!added && it->second.name != m.name()) {
          report("bad_metric", at + " (" + m.name() + "): alias " + std::to_string(m.alias()) +
                                   " already names " + it->second.name);
          it->second = metric_def{m.name(), m.datatype()};
        }
      }
    }
  };

  // Turns the metric values into fields; definitions from `s` (the birth).
  auto add_values = [&](const scope& s, bool birth) {
    for (int i = 0; i < pl.metrics_size(); ++i) {
      const pb_metric& m = pl.metrics(i);
      const std::string at = "metric index " + std::to_string(i);
      metric_def def;
      if (m.has_alias() && !birth) {
        auto it = s.by_alias.find(m.alias());
        if (it == s.by_alias.end()) {
          ++stats_.unknown_aliases;
          report("unknown_alias", at + ": unknown alias " + std::to_string(m.alias()),
                 {{"alias", static_cast<int64_t>(m.alias() & 0x7fffffffffffffff)}});
          ask_rebirth();
          continue;
        }
        def = it->second;
      } else if (m.has_name() && !m.name().empty()) {
        auto it = s.by_name.find(m.name());
        if (!birth && it == s.by_name.end() && !valid_utf8(m.name())) {
          report("bad_metric", at + ": name is not valid UTF-8");
          continue;
        }
        if (it != s.by_name.end()) {
          def = metric_def{m.name(), it->second};
        } else if (birth) {
          continue;  // reported by learn()
        } else if (m.has_datatype()) {
          def = metric_def{m.name(), m.datatype()};
        } else {
          report("unknown_alias", at + " (" + m.name() + "): not defined by the birth");
          ask_rebirth();
          continue;
        }
      } else {
        if (birth) continue;  // reported by learn()
        report("bad_metric", at + ": neither name nor alias");
        continue;
      }
      if (!tp.is_device() && def.name == bdseq_metric &&
          (tp.type == message_type::nbirth || tp.type == message_type::ndeath)) {
        continue;  // goes to the state point
      }
      if (m.is_null() || m.is_transient()) {
        ++out.skipped;
        continue;
      }
      model::field_value v;
      std::string why;
      switch (to_field_value(m, def.datatype, v, why)) {
        case conversion::unsupported: ++out.skipped; continue;
        case conversion::error: report("bad_metric", at + " (" + def.name + "): " + why); continue;
        case conversion::ok: break;
      }
      int64_t t = payload_ns;
      if (m.has_timestamp()) {
        if (m.timestamp() > max_ms) {
          report("bad_metric",
                 at + " (" + def.name + "): timestamp " + std::to_string(m.timestamp()) + " ms out of range");
          continue;
        }
        t = static_cast<int64_t>(m.timestamp()) * ns_per_ms;
      }
      model::point& p = data[t];
      if (p.measurement.empty()) {
        p.measurement = data_measurement;
        p.tags = tags;
        p.time = t;
      }
      bool replaced = false;
      for (auto& f : p.fields) {
        if (f.key == def.name) {
          f.value = std::move(v);
          replaced = true;
          break;
        }
      }
      if (!replaced) p.fields.push_back({def.name, std::move(v)});
      ++out.metrics;
    }
  };

  std::vector<model::tag> node_tags(tags.end() - 2, tags.end());
  switch (tp.type) {
    case message_type::nbirth: {
      ++stats_.births;
      node = node_state{};
      node.born = true;
      if (pl.has_seq() && pl.seq() <= 255) node.last_seq = static_cast<int>(pl.seq());
      auto bdseq = find_bdseq(pl);
      node.bdseq = bdseq.value_or(-1);
      learn(node.metrics);
      add_values(node.metrics, true);
      state_point(node_tags, true, bdseq, payload_ns);
      break;
    }
    case message_type::ndeath: {
      ++stats_.deaths;
      auto bdseq = find_bdseq(pl);
      if (node.born && node.bdseq >= 0 && bdseq && *bdseq != node.bdseq) {
        // The will of an earlier session, delivered after the node was born
        // again: it says nothing about the current one (Sparkplug 3.0, 7.1).
        ++stats_.stale_deaths;
        break;
      }
      for (const auto& [device, s] : node.devices) {
        std::vector<model::tag> t = node_tags;
        t.insert(t.begin(), {"device", device});
        state_point(std::move(t), false, std::nullopt, payload_ns);
      }
      state_point(node_tags, false, bdseq, payload_ns);
      const int64_t asked = node.last_rebirth_ns;
      node = node_state{};
      node.last_rebirth_ns = asked;
      break;
    }
    case message_type::dbirth: {
      if (!node.born) {
        report("no_birth", "DBIRTH before the NBIRTH of edge node " + tp.edge_node);
        ask_rebirth();
        break;
      }
      check_seq();
      auto it = node.devices.find(tp.device);
      if (it == node.devices.end()) {
        if (node.devices.size() >= options_.max_devices_per_node) {
          report("limit", "more than " + std::to_string(options_.max_devices_per_node) + " devices");
          break;
        }
        it = node.devices.emplace(tp.device, scope{}).first;
      }
      ++stats_.births;
      learn(it->second);
      add_values(it->second, true);
      state_point(tags, true, std::nullopt, payload_ns);
      break;
    }
    case message_type::ddeath: {
      ++stats_.deaths;
      if (node.born) check_seq();
      node.devices.erase(tp.device);
      state_point(tags, false, std::nullopt, payload_ns);
      break;
    }
    case message_type::ndata:
    case message_type::ddata: {
      if (!node.born) {
        report("no_birth", std::string(message_type_name(tp.type)) + " before the NBIRTH of edge node " +
                               tp.edge_node + "; metrics dropped");
        ask_rebirth();
        break;
      }
      check_seq();
      if (tp.type == message_type::ndata) {
        add_values(node.metrics, false);
        break;
      }
      auto it = node.devices.find(tp.device);
      if (it == node.devices.end()) {
        report("no_birth", "DDATA before the DBIRTH of device " + tp.device + "; metrics dropped");
        ask_rebirth();
        break;
      }
      add_values(it->second, false);
      break;
    }
    default: break;
  }
  return finish();
}

}  // namespace liandu::connect::sparkplug
