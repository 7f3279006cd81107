#include "connect/mqtt/codec/codec.h"

#include "connect/mqtt/codec/topic.h"
#include "connect/mqtt/codec/utf8.h"

namespace liandu::connect::mqtt {

namespace {

enum class value_kind { byte, two, four, varint, utf8, binary, pair };

// Where a property may appear: a bit per packet type, bit 0 for will
// properties in CONNECT.
constexpr uint32_t bit(packet_type t) { return 1u << static_cast<unsigned>(t); }
constexpr uint32_t will_bit = 1u;
constexpr uint32_t all_packets = 0xFFFEu;

struct property_rule {
  value_kind kind;
  uint32_t where;
  bool repeatable;
  bool known;
};

property_rule rule_for(uint8_t id) {
  using pt = packet_type;
  constexpr uint32_t pub_will = bit(pt::publish) | will_bit;
  constexpr uint32_t reason_string_where = bit(pt::connack) | bit(pt::puback) | bit(pt::pubrec) |
                                           bit(pt::pubrel) | bit(pt::pubcomp) | bit(pt::suback) |
                                           bit(pt::unsuback) | bit(pt::disconnect) | bit(pt::auth);
  switch (static_cast<property_id>(id)) {
    case property_id::payload_format_indicator: return {value_kind::byte, pub_will, false, true};
    case property_id::message_expiry_interval: return {value_kind::four, pub_will, false, true};
    case property_id::content_type: return {value_kind::utf8, pub_will, false, true};
    case property_id::response_topic: return {value_kind::utf8, pub_will, false, true};
    case property_id::correlation_data: return {value_kind::binary, pub_will, false, true};
    case property_id::subscription_identifier:
      return {value_kind::varint, bit(pt::publish) | bit(pt::subscribe), true, true};
    case property_id::session_expiry_interval:
      return {value_kind::four, bit(pt::connect) | bit(pt::connack) | bit(pt::disconnect), false, true};
    case property_id::assigned_client_identifier: return {value_kind::utf8, bit(pt::connack), false, true};
    case property_id::server_keep_alive: return {value_kind::two, bit(pt::connack), false, true};
    case property_id::authentication_method:
      return {value_kind::utf8, bit(pt::connect) | bit(pt::connack) | bit(pt::auth), false, true};
    case property_id::authentication_data:
      return {value_kind::binary, bit(pt::connect) | bit(pt::connack) | bit(pt::auth), false, true};
    case property_id::request_problem_information: return {value_kind::byte, bit(pt::connect), false, true};
    case property_id::will_delay_interval: return {value_kind::four, will_bit, false, true};
    case property_id::request_response_information: return {value_kind::byte, bit(pt::connect), false, true};
    case property_id::response_information: return {value_kind::utf8, bit(pt::connack), false, true};
    case property_id::server_reference:
      return {value_kind::utf8, bit(pt::connack) | bit(pt::disconnect), false, true};
    case property_id::reason_string: return {value_kind::utf8, reason_string_where, false, true};
    case property_id::receive_maximum:
      return {value_kind::two, bit(pt::connect) | bit(pt::connack), false, true};
    case property_id::topic_alias_maximum:
      return {value_kind::two, bit(pt::connect) | bit(pt::connack), false, true};
    case property_id::topic_alias: return {value_kind::two, bit(pt::publish), false, true};
    case property_id::maximum_qos: return {value_kind::byte, bit(pt::connack), false, true};
    case property_id::retain_available: return {value_kind::byte, bit(pt::connack), false, true};
    case property_id::user_property: return {value_kind::pair, all_packets | will_bit, true, true};
    case property_id::maximum_packet_size:
      return {value_kind::four, bit(pt::connect) | bit(pt::connack), false, true};
    case property_id::wildcard_subscription_available:
      return {value_kind::byte, bit(pt::connack), false, true};
    case property_id::subscription_identifier_available:
      return {value_kind::byte, bit(pt::connack), false, true};
    case property_id::shared_subscription_available: return {value_kind::byte, bit(pt::connack), false, true};
  }
  return {value_kind::byte, 0, false, false};
}

// Value rules beyond the type (spec 3.x.2.x): booleans are 0/1, some numbers
// must not be zero.
bool valid_property_value(const property& p) {
  switch (p.id) {
    case property_id::payload_format_indicator:
    case property_id::request_problem_information:
    case property_id::request_response_information:
    case property_id::maximum_qos:
    case property_id::retain_available:
    case property_id::wildcard_subscription_available:
    case property_id::subscription_identifier_available:
    case property_id::shared_subscription_available: return p.number <= 1;
    case property_id::subscription_identifier:
    case property_id::receive_maximum:
    case property_id::maximum_packet_size:
    case property_id::topic_alias: return p.number != 0;
    default: return true;
  }
}

// Cursor over a packet body; the first failure sticks.
class reader {
 public:
  reader(std::string_view body, size_t base) : s_(body), base_(base) {}

  bool failed() const { return failed_; }
  const decode_error& error() const { return err_; }
  size_t remaining() const { return s_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }

  void fail(reason_code rc, std::string msg) {
    if (failed_) return;
    failed_ = true;
    err_ = decode_error{rc, offset(), std::move(msg)};
  }

  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(s_[pos_++]);
  }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v =
        static_cast<uint16_t>((static_cast<uint8_t>(s_[pos_]) << 8) | static_cast<uint8_t>(s_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s_[pos_ + i]);
    pos_ += 4;
    return v;
  }
  uint32_t varint() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (!need(1)) return 0;
      uint8_t b = static_cast<uint8_t>(s_[pos_++]);
      v |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) {
        if (i > 0 && b == 0)
          fail(reason_code::malformed_packet, "variable byte integer not in its shortest form");
        return v;
      }
    }
    fail(reason_code::malformed_packet, "variable byte integer longer than 4 bytes");
    return 0;
  }
  std::string binary() {
    uint16_t n = u16();
    if (!need(n)) return {};
    std::string v(s_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  std::string utf8(const char* what) {
    size_t at = offset();
    std::string v = binary();
    if (!failed_ && !valid_mqtt_utf8(v)) {
      failed_ = true;
      err_ = decode_error{reason_code::malformed_packet, at, std::string("invalid UTF-8 in ") + what};
    }
    return v;
  }
  std::string rest() {
    std::string v(s_.substr(pos_));
    pos_ = s_.size();
    return v;
  }

  // Reads a v5 property list for packet kind `where_bit`.
  properties props(uint32_t where_bit) {
    properties out;
    uint32_t len = varint();
    if (failed_) return out;
    if (!need(len)) return out;
    size_t end = pos_ + len;
    uint64_t seen = 0;
    while (!failed_ && pos_ < end) {
      size_t at = offset();
      uint32_t id_raw = varint();
      if (failed_) break;
      if (id_raw > 0x7F) {
        fail(reason_code::malformed_packet, "unknown property identifier");
        break;
      }
      property_rule r = rule_for(static_cast<uint8_t>(id_raw));
      if (!r.known) {
        err_at(at, reason_code::malformed_packet, "unknown property identifier " + std::to_string(id_raw));
        break;
      }
      if (!(r.where & where_bit)) {
        err_at(at, reason_code::protocol_error, "property " + std::to_string(id_raw) + " not allowed here");
        break;
      }
      if (!r.repeatable) {
        if (seen & (uint64_t{1} << id_raw)) {
          err_at(at, reason_code::protocol_error, "property " + std::to_string(id_raw) + " given twice");
          break;
        }
        seen |= uint64_t{1} << id_raw;
      }
      property p{};
      p.id = static_cast<property_id>(id_raw);
      switch (r.kind) {
        case value_kind::byte: p.number = u8(); break;
        case value_kind::two: p.number = u16(); break;
        case value_kind::four: p.number = u32(); break;
        case value_kind::varint: p.number = varint(); break;
        case value_kind::utf8: p.text = utf8("property"); break;
        case value_kind::binary: p.text = binary(); break;
        case value_kind::pair:
          p.text = utf8("user property name");
          p.value = utf8("user property value");
          break;
      }
      if (failed_) break;
      if (pos_ > end) {
        err_at(at, reason_code::malformed_packet, "property runs past the property length");
        break;
      }
      if (!valid_property_value(p)) {
        err_at(at, reason_code::protocol_error, "invalid value of property " + std::to_string(id_raw));
        break;
      }
      out.items.push_back(std::move(p));
    }
    return out;
  }

 private:
  bool need(size_t n) {
    if (failed_) return false;
    if (remaining() < n) {
      fail(reason_code::malformed_packet, "packet shorter than its contents");
      return false;
    }
    return true;
  }
  void err_at(size_t at, reason_code rc, std::string msg) {
    if (failed_) return;
    failed_ = true;
    err_ = decode_error{rc, at, std::move(msg)};
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t base_;
  bool failed_ = false;
  decode_error err_;
};

using decoded = std::variant<packet, decode_error>;

decoded finish(reader& r, packet p) {
  if (r.failed()) return r.error();
  if (r.remaining() != 0) {
    r.fail(reason_code::malformed_packet, "unexpected bytes after the packet contents");
    return r.error();
  }
  return p;
}

decoded decode_connect(reader& r) {
  connect_packet c;
  c.protocol_name = r.utf8("protocol name");
  c.protocol_level = r.u8();
  if (r.failed()) return r.error();
  bool v31 = c.protocol_name == "MQIsdp" && c.protocol_level == 3;
  bool v311 = c.protocol_name == "MQTT" && c.protocol_level == 4;
  bool v5 = c.protocol_name == "MQTT" && c.protocol_level == 5;
  if (!v31 && !v311 && !v5) {
    if (c.protocol_name != "MQTT" && c.protocol_name != "MQIsdp") {
      r.fail(reason_code::malformed_packet, "unknown protocol name");
    } else {
      r.fail(reason_code::unsupported_protocol_version,
             "unsupported protocol level " + std::to_string(c.protocol_level));
    }
    return r.error();
  }
  uint8_t flags = r.u8();
  if (flags & 0x01) r.fail(reason_code::malformed_packet, "reserved CONNECT flag set");
  c.clean_start = flags & 0x02;
  bool has_will = flags & 0x04;
  uint8_t will_qos = (flags >> 3) & 0x03;
  bool will_retain = flags & 0x20;
  bool has_password = flags & 0x40;
  bool has_username = flags & 0x80;
  if (!has_will && (will_qos != 0 || will_retain))
    r.fail(reason_code::malformed_packet, "will flags without will");
  if (will_qos == 3) r.fail(reason_code::malformed_packet, "will QoS 3");
  if (!v5 && has_password && !has_username)
    r.fail(reason_code::malformed_packet, "password without user name");
  c.keep_alive = r.u16();
  if (v5) c.props = r.props(bit(packet_type::connect));
  c.client_id = r.utf8("client identifier");
  if (has_will) {
    will_message w;
    if (v5) w.props = r.props(will_bit);
    w.topic = r.utf8("will topic");
    w.payload = r.binary();
    w.qos = will_qos;
    w.retain = will_retain;
    if (!r.failed() && !valid_topic_name(w.topic))
      r.fail(reason_code::topic_name_invalid, "invalid will topic");
    c.will = std::move(w);
  }
  if (has_username) c.username = r.utf8("user name");
  if (has_password) c.password = r.binary();
  return finish(r, std::move(c));
}

decoded decode_publish(reader& r, uint8_t flags, uint8_t level) {
  publish_packet p;
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) {
    r.fail(reason_code::malformed_packet, "PUBLISH with QoS 3");
    return r.error();
  }
  if (p.qos == 0 && p.dup) {
    r.fail(reason_code::malformed_packet, "PUBLISH with QoS 0 and DUP set");
    return r.error();
  }
  size_t topic_at = r.offset();
  p.topic = r.utf8("topic name");
  if (p.qos > 0) {
    p.packet_id = r.u16();
    if (!r.failed() && p.packet_id == 0) r.fail(reason_code::protocol_error, "packet identifier 0");
  }
  if (level == protocol_v5) p.props = r.props(bit(packet_type::publish));
  if (r.failed()) return r.error();
  bool alias = p.props.find(property_id::topic_alias) != nullptr;
  if (p.topic.empty() ? !alias : !valid_topic_name(p.topic)) {
    return decode_error{reason_code::topic_name_invalid, topic_at, "invalid topic name in PUBLISH"};
  }
  p.payload = r.rest();
  return finish(r, std::move(p));
}

decoded decode_ack(reader& r, packet_type t, uint8_t level) {
  ack_packet a;
  a.type = t;
  a.packet_id = r.u16();
  if (!r.failed() && a.packet_id == 0) r.fail(reason_code::protocol_error, "packet identifier 0");
  if (level == protocol_v5 && r.remaining() > 0) {
    a.reason = r.u8();
    if (r.remaining() > 0) a.props = r.props(bit(t));
  }
  return finish(r, std::move(a));
}

decoded decode_subscribe(reader& r, uint8_t level) {
  subscribe_packet s;
  s.packet_id = r.u16();
  if (!r.failed() && s.packet_id == 0) r.fail(reason_code::protocol_error, "packet identifier 0");
  if (level == protocol_v5) s.props = r.props(bit(packet_type::subscribe));
  while (!r.failed() && r.remaining() > 0) {
    subscription sub;
    size_t at = r.offset();
    sub.filter = r.utf8("topic filter");
    uint8_t o = r.u8();
    if (r.failed()) break;
    sub.qos = o & 0x03;
    if (level == protocol_v5) {
      sub.no_local = o & 0x04;
      sub.retain_as_published = o & 0x08;
      sub.retain_handling = (o >> 4) & 0x03;
      if (o & 0xC0) r.fail(reason_code::malformed_packet, "reserved subscription option bits set");
      if (sub.retain_handling == 3) r.fail(reason_code::protocol_error, "retain handling 3");
    } else if (o & 0xFC) {
      r.fail(reason_code::malformed_packet, "reserved subscription option bits set");
    }
    if (sub.qos == 3) r.fail(reason_code::malformed_packet, "subscription QoS 3");
    if (!r.failed() && !valid_topic_filter(sub.filter)) {
      return decode_error{reason_code::topic_filter_invalid, at, "invalid topic filter"};
    }
    s.subscriptions.push_back(std::move(sub));
  }
  if (!r.failed() && s.subscriptions.empty())
    r.fail(reason_code::protocol_error, "SUBSCRIBE without filters");
  return finish(r, std::move(s));
}

decoded decode_sub_ack(reader& r, packet_type t, uint8_t level) {
  sub_ack_packet a;
  a.type = t;
  a.packet_id = r.u16();
  if (level == protocol_v5) a.props = r.props(bit(t));
  while (!r.failed() && r.remaining() > 0) a.reasons.push_back(r.u8());
  return finish(r, std::move(a));
}

decoded decode_unsubscribe(reader& r, uint8_t level) {
  unsubscribe_packet u;
  u.packet_id = r.u16();
  if (!r.failed() && u.packet_id == 0) r.fail(reason_code::protocol_error, "packet identifier 0");
  if (level == protocol_v5) u.props = r.props(bit(packet_type::unsubscribe));
  while (!r.failed() && r.remaining() > 0) {
    size_t at = r.offset();
    std::string f = r.utf8("topic filter");
    if (!r.failed() && !valid_topic_filter(f)) {
      return decode_error{reason_code::topic_filter_invalid, at, "invalid topic filter"};
    }
    u.filters.push_back(std::move(f));
  }
  if (!r.failed() && u.filters.empty()) r.fail(reason_code::protocol_error, "UNSUBSCRIBE without filters");
  return finish(r, std::move(u));
}

decoded decode_connack(reader& r, uint8_t level) {
  connack_packet c;
  uint8_t flags = r.u8();
  if (flags & 0xFE) r.fail(reason_code::malformed_packet, "reserved CONNACK flag set");
  c.session_present = flags & 0x01;
  c.reason = r.u8();
  if (level == protocol_v5) c.props = r.props(bit(packet_type::connack));
  return finish(r, std::move(c));
}

decoded decode_disconnect(reader& r, packet_type t, uint8_t level) {
  disconnect_packet d;
  d.type = t;
  if (level == protocol_v5 && r.remaining() > 0) {
    d.reason = r.u8();
    if (r.remaining() > 0) d.props = r.props(bit(t));
  }
  return finish(r, std::move(d));
}

}  // namespace

std::variant<packet, decode_error> decode_packet(uint8_t header, std::string_view body, uint8_t level,
                                                 size_t header_size) {
  if (level != protocol_v5) level = protocol_v311;
  reader r(body, header_size);
  uint8_t type_raw = header >> 4;
  uint8_t flags = header & 0x0F;
  if (type_raw == 0 || (type_raw == 15 && level != protocol_v5)) {
    return decode_error{reason_code::malformed_packet, 0, "reserved packet type " + std::to_string(type_raw)};
  }
  auto t = static_cast<packet_type>(type_raw);
  uint8_t want_flags =
      (t == packet_type::pubrel || t == packet_type::subscribe || t == packet_type::unsubscribe) ? 0x02
                                                                                                 : 0x00;
  if (t != packet_type::publish && flags != want_flags) {
    return decode_error{reason_code::malformed_packet, 0, "invalid fixed header flags"};
  }
  switch (t) {
    case packet_type::connect: return decode_connect(r);
    case packet_type::connack: return decode_connack(r, level);
    case packet_type::publish: return decode_publish(r, flags, level);
    case packet_type::puback:
    case packet_type::pubrec:
    case packet_type::pubrel:
    case packet_type::pubcomp: return decode_ack(r, t, level);
    case packet_type::subscribe: return decode_subscribe(r, level);
    case packet_type::suback: return decode_sub_ack(r, t, level);
    case packet_type::unsubscribe: return decode_unsubscribe(r, level);
    case packet_type::unsuback:
      if (level == protocol_v5) return decode_sub_ack(r, t, level);
      {
        sub_ack_packet a;
        a.type = t;
        a.packet_id = r.u16();
        return finish(r, std::move(a));
      }
    case packet_type::pingreq:
    case packet_type::pingresp: return finish(r, ping_packet{t});
    case packet_type::disconnect:
    case packet_type::auth: return decode_disconnect(r, t, level);
  }
  return decode_error{reason_code::malformed_packet, 0, "unknown packet type"};
}

size_t variable_byte_integer_size(uint32_t v) {
  if (v < 128) return 1;
  if (v < 16384) return 2;
  if (v < 2097152) return 3;
  return 4;
}

void put_variable_byte_integer(uint32_t v, std::string* out) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out->push_back(static_cast<char>(b));
  } while (v);
}

namespace {

void put_u16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xFF));
}
void put_u32(uint32_t v, std::string* out) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>((v >> s) & 0xFF));
}
void put_str(std::string_view s, std::string* out) {
  put_u16(static_cast<uint16_t>(s.size()), out);
  out->append(s);
}

void put_props(const properties& props, std::string* out) {
  std::string body;
  for (const property& p : props.items) {
    put_variable_byte_integer(static_cast<uint8_t>(p.id), &body);
    switch (rule_for(static_cast<uint8_t>(p.id)).kind) {
      case value_kind::byte: body.push_back(static_cast<char>(p.number)); break;
      case value_kind::two: put_u16(static_cast<uint16_t>(p.number), &body); break;
      case value_kind::four: put_u32(p.number, &body); break;
      case value_kind::varint: put_variable_byte_integer(p.number, &body); break;
      case value_kind::utf8:
      case value_kind::binary: put_str(p.text, &body); break;
      case value_kind::pair:
        put_str(p.text, &body);
        put_str(p.value, &body);
        break;
    }
  }
  put_variable_byte_integer(static_cast<uint32_t>(body.size()), out);
  out->append(body);
}

struct encoder {
  uint8_t level;
  std::string* out;
  bool v5() const { return level == protocol_v5; }

  void header(uint8_t first, const std::string& body) {
    out->push_back(static_cast<char>(first));
    put_variable_byte_integer(static_cast<uint32_t>(body.size()), out);
    out->append(body);
  }

  void operator()(const connect_packet& c) {
    std::string b;
    put_str(c.protocol_name, &b);
    b.push_back(static_cast<char>(c.protocol_level));
    uint8_t flags = 0;
    if (c.clean_start) flags |= 0x02;
    if (c.will) flags |= 0x04 | (c.will->qos << 3) | (c.will->retain ? 0x20 : 0);
    if (c.password) flags |= 0x40;
    if (c.username) flags |= 0x80;
    b.push_back(static_cast<char>(flags));
    put_u16(c.keep_alive, &b);
    bool v5c = c.protocol_level == protocol_v5;
    if (v5c) put_props(c.props, &b);
    put_str(c.client_id, &b);
    if (c.will) {
      if (v5c) put_props(c.will->props, &b);
      put_str(c.will->topic, &b);
      put_str(c.will->payload, &b);
    }
    if (c.username) put_str(*c.username, &b);
    if (c.password) put_str(*c.password, &b);
    header(0x10, b);
  }
  void operator()(const connack_packet& c) {
    std::string b;
    b.push_back(c.session_present ? 1 : 0);
    b.push_back(static_cast<char>(c.reason));
    if (v5()) put_props(c.props, &b);
    header(0x20, b);
  }
  void operator()(const publish_packet& p) {
    std::string b;
    put_str(p.topic, &b);
    if (p.qos > 0) put_u16(p.packet_id, &b);
    if (v5()) put_props(p.props, &b);
    b.append(p.payload);
    header(static_cast<uint8_t>(0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0)), b);
  }
  void operator()(const ack_packet& a) {
    std::string b;
    put_u16(a.packet_id, &b);
    if (v5() && (a.reason != 0 || !a.props.empty())) {
      b.push_back(static_cast<char>(a.reason));
      if (!a.props.empty()) put_props(a.props, &b);
    }
    uint8_t first = static_cast<uint8_t>(static_cast<uint8_t>(a.type) << 4);
    if (a.type == packet_type::pubrel) first |= 0x02;
    header(first, b);
  }
  void operator()(const subscribe_packet& s) {
    std::string b;
    put_u16(s.packet_id, &b);
    if (v5()) put_props(s.props, &b);
    for (const subscription& sub : s.subscriptions) {
      put_str(sub.filter, &b);
      uint8_t o = sub.qos;
      if (v5()) {
        if (sub.no_local) o |= 0x04;
        if (sub.retain_as_published) o |= 0x08;
        o |= sub.retain_handling << 4;
      }
      b.push_back(static_cast<char>(o));
    }
    header(0x82, b);
  }
  void operator()(const sub_ack_packet& a) {
    std::string b;
    put_u16(a.packet_id, &b);
    if (v5()) put_props(a.props, &b);
    if (a.type == packet_type::suback || v5()) {
      for (uint8_t r : a.reasons) b.push_back(static_cast<char>(r));
    }
    header(static_cast<uint8_t>(static_cast<uint8_t>(a.type) << 4), b);
  }
  void operator()(const unsubscribe_packet& u) {
    std::string b;
    put_u16(u.packet_id, &b);
    if (v5()) put_props(u.props, &b);
    for (const std::string& f : u.filters) put_str(f, &b);
    header(0xA2, b);
  }
  void operator()(const ping_packet& p) {
    header(static_cast<uint8_t>(static_cast<uint8_t>(p.type) << 4), {});
  }
  void operator()(const disconnect_packet& d) {
    std::string b;
    if (v5() && (d.reason != 0 || !d.props.empty())) {
      b.push_back(static_cast<char>(d.reason));
      if (!d.props.empty()) put_props(d.props, &b);
    }
    header(static_cast<uint8_t>(static_cast<uint8_t>(d.type) << 4), b);
  }
};

}  // namespace

void encode_packet(const packet& p, uint8_t level, std::string* out) {
  std::visit(encoder{level == protocol_v5 ? protocol_v5 : protocol_v311, out}, p);
}

std::string encode_packet(const packet& p, uint8_t level) {
  std::string out;
  encode_packet(p, level, &out);
  return out;
}

void decoder::feed(const void* data, size_t n) {
  if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(0, pos_);
    consumed_ += pos_;
    pos_ = 0;
  }
  buf_.append(static_cast<const char*>(data), n);
}

decoder::state decoder::fail(decode_error e, decode_error* err) {
  error_ = std::make_unique<decode_error>(std::move(e));
  *err = *error_;
  return state::error;
}

decoder::state decoder::next(packet* out, decode_error* err) {
  if (error_) {
    *err = *error_;
    return state::error;
  }
  size_t avail = buf_.size() - pos_;
  if (avail == 0 && buf_.capacity() > std::string().capacity()) {
    // All consumed: an idle connection keeps no buffer.
    consumed_ += pos_;
    pos_ = 0;
    std::string().swap(buf_);
  }
  if (avail < 2) return state::need_more;
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);
  uint32_t remaining = 0;
  size_t header_size = 0;
  for (size_t i = 1;; ++i) {
    if (i > 4) {
      return fail({reason_code::malformed_packet, stream_offset() + 1, "remaining length over 4 bytes"}, err);
    }
    if (i >= avail) return state::need_more;
    remaining |= static_cast<uint32_t>(p[i] & 0x7F) << (7 * (i - 1));
    if (!(p[i] & 0x80)) {
      header_size = i + 1;
      break;
    }
  }
  size_t total = header_size + remaining;
  if (total > max_packet_size_) {
    return fail({reason_code::packet_too_large, stream_offset(),
                 "packet of " + std::to_string(total) + " bytes over the maximum " +
                     std::to_string(max_packet_size_)},
                err);
  }
  if (avail < total) return state::need_more;
  std::string_view body(buf_.data() + pos_ + header_size, remaining);
  auto d = decode_packet(p[0], body, level_, header_size);
  if (auto* e = std::get_if<decode_error>(&d)) {
    e->offset += stream_offset();
    return fail(std::move(*e), err);
  }
  *out = std::move(std::get<packet>(d));
  pos_ += total;
  if (auto* c = std::get_if<connect_packet>(out); c && level_ == 0) {
    level_ = c->protocol_level == protocol_v5 ? protocol_v5 : protocol_v311;
  }
  return state::packet;
}

const property* properties::find(property_id id) const {
  for (const property& p : items) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::optional<uint32_t> properties::number(property_id id) const {
  const property* p = find(id);
  if (!p) return std::nullopt;
  return p->number;
}

std::optional<std::string> properties::text(property_id id) const {
  const property* p = find(id);
  if (!p) return std::nullopt;
  return p->text;
}

void properties::remove(property_id id) {
  std::erase_if(items, [id](const property& p) { return p.id == id; });
}

void properties::set_number(property_id id, uint32_t v) {
  remove(id);
  items.push_back(property{id, v, {}, {}});
}

void properties::set_text(property_id id, std::string v) {
  remove(id);
  items.push_back(property{id, 0, std::move(v), {}});
}

void properties::add_user(std::string name, std::string value) {
  items.push_back(property{property_id::user_property, 0, std::move(name), std::move(value)});
}

packet_type type_of(const packet& p) {
  struct visitor {
    packet_type operator()(const connect_packet&) { return packet_type::connect; }
    packet_type operator()(const connack_packet&) { return packet_type::connack; }
    packet_type operator()(const publish_packet&) { return packet_type::publish; }
    packet_type operator()(const ack_packet& a) { return a.type; }
    packet_type operator()(const subscribe_packet&) { return packet_type::subscribe; }
    packet_type operator()(const sub_ack_packet& a) { return a.type; }
    packet_type operator()(const unsubscribe_packet&) { return packet_type::unsubscribe; }
    packet_type operator()(const ping_packet& a) { return a.type; }
    packet_type operator()(const disconnect_packet& a) { return a.type; }
  };
  return std::visit(visitor{}, p);
}

const char* packet_type_name(packet_type t) {
  switch (t) {
    case packet_type::connect: return "CONNECT";
    case packet_type::connack: return "CONNACK";
    case packet_type::publish: return "PUBLISH";
    case packet_type::puback: return "PUBACK";
    case packet_type::pubrec: return "PUBREC";
    case packet_type::pubrel: return "PUBREL";
    case packet_type::pubcomp: return "PUBCOMP";
    case packet_type::subscribe: return "SUBSCRIBE";
    case packet_type::suback: return "SUBACK";
    case packet_type::unsubscribe: return "UNSUBSCRIBE";
    case packet_type::unsuback: return "UNSUBACK";
    case packet_type::pingreq: return "PINGREQ";
    case packet_type::pingresp: return "PINGRESP";
    case packet_type::disconnect: return "DISCONNECT";
    case packet_type::auth: return "AUTH";
  }
  return "UNKNOWN";
}

}  // namespace liandu::connect::mqtt
