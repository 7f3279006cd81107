#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace liandu::connect::sparkplug {

// Sparkplug B topics (Sparkplug 3.0, 4.1):
//   spBv1.0/<group_id>/<NBIRTH|NDEATH|NDATA|NCMD>/<edge_node_id>
//   spBv1.0/<group_id>/<DBIRTH|DDEATH|DDATA|DCMD>/<edge_node_id>/<device_id>
//   spBv1.0/STATE/<host_id>
// Ids are non-empty and contain none of '/', '+', '#'.
// Examples: spBv1.0/plant1/NDATA/press-gw, spBv1.0/plant1/DDATA/press-gw/press7.

inline constexpr std::string_view topic_namespace = "spBv1.0";

enum class message_type { nbirth, ndeath, dbirth, ddeath, ndata, ddata, ncmd, dcmd, state };

const char* message_type_name(message_type t);  // "NBIRTH", ...

struct topic {
  message_type type = message_type::ndata;
  std::string group;      // empty for STATE
  std::string edge_node;  // for STATE: the host application id
  std::string device;     // empty for node messages
  bool is_device() const { return !device.empty(); }
};

// True when the topic is in the Sparkplug B namespace ("spBv1.0/...").
bool is_sparkplug_topic(std::string_view t);

// Splits a topic; errors (invalid_argument) name the offending level.
result<topic> parse_topic(std::string_view t);

// spBv1.0/<group>/NCMD/<edge_node>
std::string node_command_topic(std::string_view group, std::string_view edge_node);

// The primary host application's state (Sparkplug 3.0, 7.5.1):
// spBv1.0/STATE/<host_id> with {"online":true|false,"timestamp":<ms>},
// retained, QoS 1. Edge nodes configured with this host id wait for online
// before their births and move away when it goes offline. The offline
// message carries the timestamp of the online one it ends.
std::string host_state_topic(std::string_view host_id);
std::string host_state_payload(bool online, int64_t timestamp_ms);
// A host id is valid as a topic level: non-empty, none of '/', '+', '#'.
bool valid_host_id(std::string_view host_id);

}  // namespace liandu::connect::sparkplug
