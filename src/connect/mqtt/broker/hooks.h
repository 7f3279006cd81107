#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "base/status.h"

namespace liandu::connect::mqtt {

// One PUBLISH as the hooks see it.
struct publish_view {
  std::string_view topic;
  std::string_view payload;
};

// What the embedding application plugs into the MQTT server.
struct mqtt_hooks {
  // Username/password check; return false to refuse (CONNACK "not
  // authorized"). Optional (null = allow all). Runs on a worker thread.
  std::function<bool(std::string_view client_id, std::string_view username, std::string_view password)>
      authenticate;
  // Called for every PUBLISH accepted from a client, before it is
  // acknowledged: for QoS 1/2 the PUBACK/PUBREC is sent only after this
  // returns ok (the app makes the points durable here). Runs on a worker
  // thread, never on an I/O thread, and never under a broker lock. An error is
  // logged and counted. A bad payload (parse_error, invalid_argument,
  // conflict) is still routed and acknowledged; any other error means the
  // message was not stored: it is not routed, a v5 client gets a failure
  // reason code and a v3.1.1 client is disconnected so that it resends.
  std::function<status(std::string_view username, std::string_view topic, std::string_view payload)>
      on_publish;
  // Optional: the QoS 0/1 PUBLISH packets one client sent in one read, all at
  // once, so that the application can store them with one durable write
  // (one WAL record and one commit wait instead of one per message). Sets
  // out[i] for messages[i], with on_publish's meaning. When set, it is used
  // for every such run of two or more messages; on_publish for the rest.
  std::function<void(std::string_view username, std::span<const publish_view> messages,
                     std::span<status> out)>
      on_publish_batch;
};

}  // namespace liandu::connect::mqtt
