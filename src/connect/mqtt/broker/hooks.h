#pragma once

#include <functional>
#include <string_view>

#include "base/status.h"

namespace liandu::connect::mqtt {

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
  // logged and counted; the message is still routed to subscribers.
  std::function<status(std::string_view username, std::string_view topic, std::string_view payload)>
      on_publish;
};

}  // namespace liandu::connect::mqtt
