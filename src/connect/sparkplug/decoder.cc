#include "connect/sparkplug/decoder.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "base/json_string.h"
#include "connect/sparkplug/sparkplug_b.pb.h"

namespace liandu::connect::sparkplug {

namespace pb = org::eclipse::tahu::protobuf;
using pb_metric = pb::Payload::Metric;
using pb_template = pb::Payload::Template;
using pb_dataset = pb::Payload::DataSet;

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

// The name of the value a Metric or DataSet cell carries, for errors.
template <class M>
const char* value_case_name(const M& m) {
  switch (m.value_case()) {
    case M::kIntValue: return "int_value";
    case M::kLongValue: return "long_value";
    case M::kFloatValue: return "float_value";
    case M::kDoubleValue: return "double_value";
    case M::kBooleanValue: return "boolean_value";
    case M::kStringValue: return "string_value";
    case M::kExtensionValue: return "extension_value";
    case M::VALUE_NOT_SET: return "no value";
    default: break;
  }
  if constexpr (std::is_same_v<M, pb_metric>) {
    switch (m.value_case()) {
      case pb_metric::kBytesValue: return "bytes_value";
      case pb_metric::kDatasetValue: return "dataset_value";
      case pb_metric::kTemplateValue: return "template_value";
      default: break;
    }
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

enum class conversion { ok, unsupported, error, limit };

// Sparkplug arrays (3.0, "Payloads", array types) travel in bytes_value:
//   Int8..UInt64Array, FloatArray, DoubleArray  elements packed little-endian
//                       (Int16Array [-30000, 30000] = D0 8A 30 75; the spec's
//                       Float/Double examples are printed big-endian, but its
//                       text says little-endian, as for the other types);
//   DateTimeArray       int64 ms since the epoch, packed little-endian;
//   BooleanArray        a uint32 LE count, then the bits, the most significant
//                       bit of each byte first, the last byte padded
//                       ([F,F,T,T,F,T,F,F,T,T,F,T] = 0C 00 00 00 34 D0);
//   StringArray         UTF-8 strings, each NUL-terminated.
// One is stored as a JSON array text: numbers in shortest round-trip form (a
// Float as a float), NaN and infinities as the strings "NaN", "Infinity",
// "-Infinity" (as protobuf's JSON mapping writes them: JSON has no such
// numbers), booleans true/false, strings escaped.

template <class U>
U load_le(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(U); ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return static_cast<U>(v);
}

template <class T>
void append_number(std::string& out, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) {
      out += "\"NaN\"";
      return;
    }
    if (std::isinf(v)) {
      out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      return;
    }
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Elements of type T packed little-endian, sizeof(T) bytes each.
template <class T>
conversion packed_to_json(std::string_view b, uint32_t datatype, size_t max_elements, std::string& out,
                          std::string& why) {
  if (b.size() % sizeof(T) != 0) {
    why = std::string(datatype_name(datatype)) + " bytes_value of " + std::to_string(b.size()) +
          " bytes is not a multiple of " + std::to_string(sizeof(T));
    return conversion::error;
  }
  const size_t n = b.size() / sizeof(T);
  if (n > max_elements) {
    why = std::string(datatype_name(datatype)) + " of " + std::to_string(n) + " elements, more than " +
          std::to_string(max_elements);
    return conversion::limit;
  }
  out.reserve(2 + n * 4);
  out += '[';
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    const char* p = b.data() + i * sizeof(T);
    T v;
    if constexpr (std::is_same_v<T, float>) {
      v = std::bit_cast<float>(load_le<uint32_t>(p));
    } else if constexpr (std::is_same_v<T, double>) {
      v = std::bit_cast<double>(load_le<uint64_t>(p));
    } else {
      v = static_cast<T>(load_le<std::make_unsigned_t<T>>(p));
    }
    if constexpr (std::is_same_v<T, int64_t>) {
      if (datatype == pb::DateTimeArray && v < 0) {  // as for a DateTime metric
        why = "DateTimeArray element " + std::to_string(i) + " out of range";
        return conversion::error;
      }
    }
    append_number(out, v);
  }
  out += ']';
  return conversion::ok;
}

conversion array_to_json(std::string_view b, uint32_t datatype, size_t max_elements, std::string& out,
                         std::string& why) {
  switch (static_cast<pb::DataType>(datatype)) {
    case pb::Int8Array: return packed_to_json<int8_t>(b, datatype, max_elements, out, why);
    case pb::Int16Array: return packed_to_json<int16_t>(b, datatype, max_elements, out, why);
    case pb::Int32Array: return packed_to_json<int32_t>(b, datatype, max_elements, out, why);
    case pb::Int64Array: return packed_to_json<int64_t>(b, datatype, max_elements, out, why);
    case pb::UInt8Array: return packed_to_json<uint8_t>(b, datatype, max_elements, out, why);
    case pb::UInt16Array: return packed_to_json<uint16_t>(b, datatype, max_elements, out, why);
    case pb::UInt32Array: return packed_to_json<uint32_t>(b, datatype, max_elements, out, why);
    case pb::UInt64Array: return packed_to_json<uint64_t>(b, datatype, max_elements, out, why);
    case pb::FloatArray: return packed_to_json<float>(b, datatype, max_elements, out, why);
    case pb::DoubleArray: return packed_to_json<double>(b, datatype, max_elements, out, why);
    case pb::DateTimeArray: return packed_to_json<int64_t>(b, datatype, max_elements, out, why);
    case pb::BooleanArray: {
      if (b.size() < 4) {
        why = "BooleanArray needs a 4-byte count, got " + std::to_string(b.size()) + " bytes";
        return conversion::error;
      }
      const uint32_t n = load_le<uint32_t>(b.data());
      if (n > max_elements) {
        why = "BooleanArray of " + std::to_string(n) + " elements, more than " + std::to_string(max_elements);
        return conversion::limit;
      }
      const size_t need = (size_t{n} + 7) / 8;
      if (b.size() - 4 != need) {
        why = "BooleanArray count " + std::to_string(n) + " needs " + std::to_string(need) +
              " bytes of bits, got " + std::to_string(b.size() - 4);
        return conversion::error;
      }
      out.reserve(2 + size_t{n} * 6);
      out += '[';
      for (uint32_t i = 0; i < n; ++i) {
        if (i > 0) out += ',';
        const auto byte = static_cast<uint8_t>(b[4 + i / 8]);
        out += (byte >> (7 - i % 8)) & 1 ? "true" : "false";
      }
      out += ']';
      return conversion::ok;
    }
    case pb::StringArray: {
      if (!b.empty() && b.back() != '\0') {
        why = "StringArray: the last string is not NUL-terminated";
        return conversion::error;
      }
      const auto n = static_cast<size_t>(std::count(b.begin(), b.end(), '\0'));
      if (n > max_elements) {
        why = "StringArray of " + std::to_string(n) + " elements, more than " + std::to_string(max_elements);
        return conversion::limit;
      }
      out.reserve(b.size() + 2 + n * 3);
      out += '[';
      size_t i = 0;
      for (size_t start = 0; start < b.size(); ++i) {
        const size_t end = b.find('\0', start);
        const std::string_view s = b.substr(start, end - start);
        if (!valid_utf8(s)) {
          why = "StringArray element " + std::to_string(i) + " is not valid UTF-8";
          return conversion::error;
        }
        if (i > 0) out += ',';
        append_json_string(out, s);
        start = end + 1;
      }
      out += ']';
      return conversion::ok;
    }
    default: break;
  }
  return conversion::unsupported;
}

// The field value of a metric (or DataSet cell) of `datatype`. Integers up to
// 32 bits may come in int_value or long_value, signed ones as two's complement
// of their width, possibly sign-extended: truncating to the width gives the
// value either way. Arrays (metrics only) become a JSON array text.
template <class M>
conversion to_field_value(const M& m, uint32_t datatype, size_t max_elements, model::field_value& out,
                          std::string& why) {
  const bool is_int = m.value_case() == M::kIntValue;
  const bool is_long = m.value_case() == M::kLongValue;
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
      if (m.value_case() == M::kFloatValue) {
        out = static_cast<double>(m.float_value());
      } else if (m.value_case() == M::kDoubleValue) {
        out = m.double_value();
      } else {
        return expected(datatype == pb::Float ? "float_value" : "double_value");
      }
      return conversion::ok;
    case pb::Boolean:
      if (m.value_case() != M::kBooleanValue) return expected("boolean_value");
      out = m.boolean_value();
      return conversion::ok;
    case pb::String:
    case pb::Text:
    case pb::UUID:
      if (m.value_case() != M::kStringValue) return expected("string_value");
      if (!valid_utf8(m.string_value())) {
        why = "string_value is not valid UTF-8";
        return conversion::error;
      }
      out = m.string_value();
      return conversion::ok;
    default: break;
  }
  if constexpr (std::is_same_v<M, pb_metric>) {
    if (datatype >= pb::Int8Array && datatype <= pb::DateTimeArray) {
      if (m.value_case() != pb_metric::kBytesValue) return expected("bytes_value");
      std::string json;
      const conversion c = array_to_json(m.bytes_value(), datatype, max_elements, json, why);
      if (c == conversion::ok) out = std::move(json);
      return c;
    }
  }
  return conversion::unsupported;
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
  std::vector<model::point> dataset_rows;
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
    for (auto& p : dataset_rows) out.points.push_back(std::move(p));
    out.dataset_points = dataset_rows.size();
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

  // Learns a template definition of a birth under its name.
  auto learn_template = [&](const pb_metric& m, const std::string& at) {
    std::string_view name = m.name();
    if (name.starts_with("_types_/")) name.remove_prefix(8);
    auto it = node.templates.find(name);
    if (it == node.templates.end()) {
      if (node.templates.size() >= options_.max_metrics_per_scope) {
        report("limit", at + " (" + m.name() + "): more than " +
                            std::to_string(options_.max_metrics_per_scope) + " template definitions");
        return;
      }
      it = node.templates.emplace(std::string(name), template_def{}).first;
    }
    template_def& def = it->second;
    def.clear();
    for (const pb_metric& member : m.template_value().metrics()) {
      if (member.name().empty() || !member.has_datatype()) continue;  // reported by an instance lacking it
      metric_type& t = def[member.name()];
      t.datatype = member.datatype();
      if (member.value_case() == pb_metric::kTemplateValue)
        t.template_ref = member.template_value().template_ref();
    }
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
      metric_type type{m.datatype(), {}};
      if (m.datatype() == pb::Template && m.value_case() == pb_metric::kTemplateValue) {
        if (m.template_value().is_definition()) learn_template(m, at);
        type.template_ref = m.template_value().template_ref();
      }
      s.by_name[m.name()] = type;
      if (m.has_alias()) {
        auto [it, added] = s.by_alias.try_emplace(m.alias(), metric_def{m.name(), type});
        if (!added && it->second.name != m.name()) {
          report("bad_metric", at + " (" + m.name() + "): alias " + std::to_string(m.alias()) +
                                   " already names " + it->second.name);
          it->second = metric_def{m.name(), type};
        }
      }
    }
  };

  auto add_field = [&](const std::string& name, model::field_value v, int64_t t) {
    model::point& p = data[t];
    if (p.measurement.empty()) {
      p.measurement = data_measurement;
      p.tags = tags;
      p.time = t;
    }
    for (auto& f : p.fields) {
      if (f.key == name) {
        f.value = std::move(v);
        return;
      }
    }
    p.fields.push_back({name, std::move(v)});
  };

  // A DataSet: one `sparkplug_dataset` point per row, or nothing and an error.
  auto add_dataset = [&](const pb_metric& m, const std::string& name, int64_t t, const std::string& at) {
    auto fail = [&](const char* kind, const std::string& why) {
      report(kind, at + " (" + name + "): " + why);
    };
    if (m.value_case() != pb_metric::kDatasetValue) {
      fail("bad_metric", std::string("datatype DataSet needs dataset_value, got ") + value_case_name(m));
      return;
    }
    const pb_dataset& ds = m.dataset_value();
    const auto columns = static_cast<size_t>(ds.columns_size());
    if (ds.has_num_of_columns() && ds.num_of_columns() != columns) {
      fail("bad_metric", "DataSet num_of_columns " + std::to_string(ds.num_of_columns()) + " but " +
                             std::to_string(columns) + " column names");
      return;
    }
    if (static_cast<size_t>(ds.types_size()) != columns) {
      fail("bad_metric", "DataSet has " + std::to_string(columns) + " column names but " +
                             std::to_string(ds.types_size()) + " types");
      return;
    }
    std::map<std::string_view, size_t> seen;
    for (size_t c = 0; c < columns; ++c) {
      const std::string& col = ds.columns(static_cast<int>(c));
      const std::string where = "DataSet column " + std::to_string(c);
      if (col.empty() || !valid_utf8(col)) {
        fail("bad_metric", where + ": a column name must be non-empty UTF-8");
        return;
      }
      if (auto [it, added] = seen.emplace(col, c); !added) {
        fail("bad_metric", where + " (" + col + "): same name as column " + std::to_string(it->second));
        return;
      }
      const uint32_t type = ds.types(static_cast<int>(c));
      if (!(type >= pb::Int8 && type <= pb::UUID)) {
        fail("bad_metric",
             where + " (" + col + "): datatype " + datatype_name(type) + " is not allowed in a DataSet");
        return;
      }
    }
    if (static_cast<size_t>(ds.rows_size()) > options_.max_dataset_rows) {
      fail("limit", "DataSet of " + std::to_string(ds.rows_size()) + " rows, more than " +
                        std::to_string(options_.max_dataset_rows));
      return;
    }
    std::vector<model::tag> row_tags = tags;
    row_tags.push_back({"metric", name});
    row_tags.push_back({"row", ""});
    std::vector<model::point> rows;
    rows.reserve(static_cast<size_t>(ds.rows_size()));
    for (int r = 0; r < ds.rows_size(); ++r) {
      const auto& row = ds.rows(r);
      if (static_cast<size_t>(row.elements_size()) != columns) {
        fail("bad_metric", "DataSet row " + std::to_string(r) + " has " +
                               std::to_string(row.elements_size()) + " values for " +
                               std::to_string(columns) + " columns");
        return;
      }
      model::point p{dataset_measurement, row_tags, {}, t};
      p.tags.back().value = std::to_string(r);
      for (size_t c = 0; c < columns; ++c) {
        const auto& cell = row.elements(static_cast<int>(c));
        if (cell.value_case() == pb_dataset::DataSetValue::VALUE_NOT_SET) continue;  // a null cell
        model::field_value v;
        std::string why;
        if (to_field_value(cell, ds.types(static_cast<int>(c)), 0, v, why) != conversion::ok) {
          fail("bad_metric", "DataSet row " + std::to_string(r) + " column " + std::to_string(c) + " (" +
                                 ds.columns(static_cast<int>(c)) + "): " + why);
          return;
        }
        p.fields.push_back({ds.columns(static_cast<int>(c)), std::move(v)});
      }
      if (!p.fields.empty()) rows.push_back(std::move(p));  // a row of nulls has nothing to store
    }
    for (auto& p : rows) dataset_rows.push_back(std::move(p));
    ++out.metrics;
  };

  // How deep template instances nest in `t` (1: no template member), counted
  // up to `limit` + 1.
  auto template_depth = [](const auto& self, const pb_template& t, int limit) -> int {
    int deepest = 0;
    if (limit <= 0) return 1;
    for (const pb_metric& member : t.metrics()) {
      if (member.value_case() != pb_metric::kTemplateValue) continue;
      deepest = std::max(deepest, self(self, member.template_value(), limit - 1));
      if (deepest >= limit) break;
    }
    return 1 + deepest;
  };

  // The bytes of field names and tag values `m` expands to when its name is
  // `name_len` bytes long: each member of a template instance repeats the
  // names above it, each DataSet row the metric and column names. Counted up
  // to `budget` + 1; templates must be checked for depth first.
  auto expanded_bytes = [](const auto& self, const pb_metric& m, size_t name_len, size_t budget) -> size_t {
    if (m.value_case() == pb_metric::kDatasetValue) {
      const pb_dataset& ds = m.dataset_value();
      size_t per_row = name_len + 10;  // metric and row tag values
      for (const auto& c : ds.columns()) per_row += c.size();
      const auto rows = static_cast<size_t>(ds.rows_size());
      return std::min(rows * per_row, budget + 1);  // both below 2^31, as a protobuf message is
    }
    if (m.value_case() != pb_metric::kTemplateValue || m.template_value().is_definition()) return 0;
    size_t total = 0;
    for (const pb_metric& member : m.template_value().metrics()) {
      const size_t len = name_len + 1 + member.name().size();
      total += len + self(self, member, len, budget);
      if (total > budget) return budget + 1;
    }
    return total;
  };

  // Stores the value of `m`, of `datatype`, under `name`: a field, DataSet
  // rows, or for a template instance each member under `name/member`. `at`
  // names the top-level metric for errors.
  auto store = [&](const auto& self, const pb_metric& m, const std::string& name, uint32_t datatype,
                   std::string_view template_ref, int64_t t, const std::string& at) -> void {
    if (datatype == pb::DataSet) {
      add_dataset(m, name, t, at);
      return;
    }
    if (datatype == pb::Template) {
      if (m.value_case() != pb_metric::kTemplateValue) {
        report("bad_metric",
               at + " (" + name + "): datatype Template needs template_value, got " + value_case_name(m));
        return;
      }
      const pb_template& tv = m.template_value();
      if (tv.is_definition()) return;  // learnt from births; a definition is not data
      if (tv.has_template_ref()) template_ref = tv.template_ref();
      auto def_it = node.templates.find(template_ref);
      const template_def* def = def_it == node.templates.end() ? nullptr : &def_it->second;
      for (int j = 0; j < tv.metrics_size(); ++j) {
        const pb_metric& member = tv.metrics(j);
        if (member.name().empty() || !valid_utf8(member.name())) {
          report("bad_metric",
                 at + " (" + name + "): template member " + std::to_string(j) + " needs a UTF-8 name");
          continue;
        }
        const std::string member_name = name + "/" + member.name();
        metric_type type{member.datatype(), {}};
        const metric_type* known = nullptr;
        if (def != nullptr) {
          auto it = def->find(member.name());
          if (it != def->end()) known = &it->second;
        }
        if (!member.has_datatype()) {
          if (known == nullptr) {
            report("bad_metric", at + " (" + member_name +
                                     "): no datatype, and no definition of template \"" +
                                     std::string(template_ref) + "\" names it");
            continue;
          }
          type.datatype = known->datatype;
        }
        if (known != nullptr && known->datatype == type.datatype) type.template_ref = known->template_ref;
        if (member.is_null() || member.is_transient()) {
          ++out.skipped;
          continue;
        }
        self(self, member, member_name, type.datatype, type.template_ref, t, at);
      }
      return;
    }
    model::field_value v;
    std::string why;
    switch (to_field_value(m, datatype, options_.max_array_elements, v, why)) {
      case conversion::unsupported: ++out.skipped; return;
      case conversion::error: report("bad_metric", at + " (" + name + "): " + why); return;
      case conversion::limit: report("limit", at + " (" + name + "): " + why); return;
      case conversion::ok: break;
    }
    add_field(name, std::move(v), t);
    ++out.metrics;
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
          def = metric_def{m.name(), {m.datatype(), {}}};
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
      int64_t t = payload_ns;
      if (m.has_timestamp()) {
        if (m.timestamp() > max_ms) {
          report("bad_metric",
                 at + " (" + def.name + "): timestamp " + std::to_string(m.timestamp()) + " ms out of range");
          continue;
        }
        t = static_cast<int64_t>(m.timestamp()) * ns_per_ms;
      }
      if (def.type.datatype == pb::Template && m.value_case() == pb_metric::kTemplateValue &&
          !m.template_value().is_definition()) {
        const int limit = options_.max_template_depth;
        if (template_depth(template_depth, m.template_value(), limit) > limit) {
          report("limit", at + " (" + def.name + "): template instances nested more than " +
                              std::to_string(limit) + " deep");
          continue;
        }
      }
      if ((def.type.datatype == pb::Template && m.value_case() == pb_metric::kTemplateValue) ||
          (def.type.datatype == pb::DataSet && m.value_case() == pb_metric::kDatasetValue)) {
        const size_t budget = options_.max_expanded_bytes;
        if (expanded_bytes(expanded_bytes, m, def.name.size(), budget) > budget) {
          report("limit", at + " (" + def.name + "): expands to more than " + std::to_string(budget) +
                              " bytes of field names and tags");
          continue;
        }
      }
      store(store, m, def.name, def.type.datatype, def.type.template_ref, t, at);
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
