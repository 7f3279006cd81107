#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "connect/mqtt/codec/reason_code.h"

namespace liandu::connect::mqtt {

// Protocol levels in CONNECT: 3 is MQTT 3.1 ("MQIsdp"), 4 is 3.1.1, 5 is 5.0.
// 3 and 4 share one wire format here; only 5 has properties and reason codes.
inline constexpr uint8_t protocol_v311 = 4;
inline constexpr uint8_t protocol_v5 = 5;

enum class packet_type : uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

// MQTT 5 property identifiers (spec 2.2.2.2).
enum class property_id : uint8_t {
  payload_format_indicator = 0x01,
  message_expiry_interval = 0x02,
  content_type = 0x03,
  response_topic = 0x08,
  correlation_data = 0x09,
  subscription_identifier = 0x0B,
  session_expiry_interval = 0x11,
  assigned_client_identifier = 0x12,
  server_keep_alive = 0x13,
  authentication_method = 0x15,
  authentication_data = 0x16,
  request_problem_information = 0x17,
  will_delay_interval = 0x18,
  request_response_information = 0x19,
  response_information = 0x1A,
  server_reference = 0x1C,
  reason_string = 0x1F,
  receive_maximum = 0x21,
  topic_alias_maximum = 0x22,
  topic_alias = 0x23,
  maximum_qos = 0x24,
  retain_available = 0x25,
  user_property = 0x26,
  maximum_packet_size = 0x27,
  wildcard_subscription_available = 0x28,
  subscription_identifier_available = 0x29,
  shared_subscription_available = 0x2A,
};

// One property: numbers (byte, two/four-byte integer, variable byte integer)
// in `number`; UTF-8 strings and binary data in `text`; a user property's
// name in `text` and value in `value`.
struct property {
  property_id id;
  uint32_t number = 0;
  std::string text;
  std::string value;
  bool operator==(const property&) const = default;
};

// The property list of a packet, in wire order. Only user properties and
// subscription identifiers may repeat; the decoder rejects other duplicates.
struct properties {
  std::vector<property> items;

  bool empty() const { return items.empty(); }
  const property* find(property_id id) const;
  std::optional<uint32_t> number(property_id id) const;
  std::optional<std::string> text(property_id id) const;
  void set_number(property_id id, uint32_t v);
  void set_text(property_id id, std::string v);
  void add_user(std::string name, std::string value);
  void remove(property_id id);
  bool operator==(const properties&) const = default;
};

struct will_message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  properties props;  // v5 will properties
  bool operator==(const will_message&) const = default;
};

struct connect_packet {
  uint8_t protocol_level = protocol_v311;
  std::string protocol_name = "MQTT";
  bool clean_start = true;  // "clean session" in 3.1.1
  uint16_t keep_alive = 60;
  std::string client_id;
  std::optional<will_message> will;
  std::optional<std::string> username;
  std::optional<std::string> password;
  properties props;
  bool operator==(const connect_packet&) const = default;
};

struct connack_packet {
  bool session_present = false;
  // v5 reason code; in 3.1.1 the return code (0 accepted, 1 bad protocol
  // version, 2 identifier rejected, 3 server unavailable, 4 bad user name or
  // password, 5 not authorized) is carried here as its raw value.
  uint8_t reason = 0;
  properties props;
  bool operator==(const connack_packet&) const = default;
};

struct publish_packet {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string topic;       // may be empty in v5 when a topic alias is set
  uint16_t packet_id = 0;  // 0 for QoS 0
  properties props;
  std::string payload;
  bool operator==(const publish_packet&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP.
struct ack_packet {
  packet_type type = packet_type::puback;
  uint16_t packet_id = 0;
  uint8_t reason = 0;
  properties props;
  bool operator==(const ack_packet&) const = default;
};

struct subscription {
  std::string filter;
  uint8_t qos = 0;
  bool no_local = false;             // v5
  bool retain_as_published = false;  // v5
  uint8_t retain_handling = 0;       // v5: 0 send, 1 send if new, 2 never
  bool operator==(const subscription&) const = default;
};

struct subscribe_packet {
  uint16_t packet_id = 0;
  properties props;
  std::vector<subscription> subscriptions;
  bool operator==(const subscribe_packet&) const = default;
};

// SUBACK and UNSUBACK (UNSUBACK carries reason codes only in v5).
struct sub_ack_packet {
  packet_type type = packet_type::suback;
  uint16_t packet_id = 0;
  properties props;
  std::vector<uint8_t> reasons;
  bool operator==(const sub_ack_packet&) const = default;
};

struct unsubscribe_packet {
  uint16_t packet_id = 0;
  properties props;
  std::vector<std::string> filters;
  bool operator==(const unsubscribe_packet&) const = default;
};

// PINGREQ and PINGRESP.
struct ping_packet {
  packet_type type = packet_type::pingreq;
  bool operator==(const ping_packet&) const = default;
};

// DISCONNECT and (v5 only) AUTH.
struct disconnect_packet {
  packet_type type = packet_type::disconnect;
  uint8_t reason = 0;
  properties props;
  bool operator==(const disconnect_packet&) const = default;
};

using packet = std::variant<connect_packet, connack_packet, publish_packet, ack_packet, subscribe_packet,
                            sub_ack_packet, unsubscribe_packet, ping_packet, disconnect_packet>;

packet_type type_of(const packet& p);
const char* packet_type_name(packet_type t);

}  // namespace liandu::connect::mqtt
