#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connect/mqtt/codec/packet.h"

namespace liandu::connect::mqtt {

// An application message as the broker routes it. Immutable once routed and
// shared by every session it is delivered to.
struct message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  // v5 properties forwarded unchanged to subscribers: payload format, content
  // type, response topic, correlation data, user properties.
  properties props;
  // Absolute deadline in broker clock milliseconds; -1: never expires.
  int64_t expires_at_ms = -1;
  std::string publisher;  // client id, for "no local"
};

using message_ptr = std::shared_ptr<const message>;

// One pending delivery of a message to one session (QoS 1 or 2).
struct outgoing {
  enum class state { queued, awaiting_puback, awaiting_pubrec, awaiting_pubcomp };
  message_ptr msg;
  uint8_t qos = 1;
  bool retain = false;
  std::vector<uint32_t> subscription_ids;
  uint16_t packet_id = 0;
  state st = state::queued;
};

}  // namespace liandu::connect::mqtt
