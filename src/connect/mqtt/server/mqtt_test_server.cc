// A standalone MQTT server for the integration tests (tests/integration/
// mqtt_clients_test.py): the broker without the rest of Liandu.
//
//   mqtt_test_server --port 0 --data DIR [--max-connections N]
//                    [--max-packet-size N] [--user NAME:PASSWORD]
//                    [--publish-log FILE] [--fail-topic TOPIC]
//                    [--store-fail-topic TOPIC]
//
// Prints "listening on PORT" once it accepts connections; SIGTERM or SIGINT
// stops it (state saved). --publish-log appends "username topic payload"
// for each on_publish call. --fail-topic makes on_publish report a bad
// payload for a topic (the broker still routes and acknowledges it);
// --store-fail-topic makes it report a storage failure (the broker refuses
// the message: a v5 PUBACK with reason 0x80, a v3.1.1 disconnect).
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include "connect/mqtt/server/server.h"

using namespace liandu;
using namespace liandu::connect::mqtt;

int main(int argc, char** argv) {
  mqtt_server_options options;
  options.port = 0;
  std::string user, password, publish_log, fail_topic, store_fail_topic;
  bool need_auth = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") {
      options.port = static_cast<uint16_t>(std::stoi(v));
    } else if (k == "--host") {
      options.host = v;
    } else if (k == "--data") {
      options.broker.data_dir = v;
    } else if (k == "--max-connections") {
      options.max_connections = std::stoul(v);
    } else if (k == "--max-packet-size") {
      options.max_packet_size = static_cast<uint32_t>(std::stoul(v));
    } else if (k == "--user") {
      auto colon = v.find(':');
      user = v.substr(0, colon);
      password = colon == std::string::npos ? "" : v.substr(colon + 1);
      need_auth = true;
    } else if (k == "--publish-log") {
      publish_log = v;
    } else if (k == "--fail-topic") {
      fail_topic = v;
    } else if (k == "--store-fail-topic") {
      store_fail_topic = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  mqtt_hooks hooks;
  if (need_auth) {
    hooks.authenticate = [user, password](std::string_view, std::string_view u, std::string_view p) {
      return u == user && p == password;
    };
  }
  std::mutex log_mu;
  hooks.on_publish = [&](std::string_view username, std::string_view topic, std::string_view payload) {
    if (!publish_log.empty()) {
      std::lock_guard lock(log_mu);
      std::ofstream out(publish_log, std::ios::app);
      out << username << ' ' << topic << ' ' << payload << '\n';
    }
    if (!fail_topic.empty() && topic == fail_topic) return error(errc::parse_error, "injected bad payload");
    if (!store_fail_topic.empty() && topic == store_fail_topic) {
      return error(errc::io_error, "injected storage failure");
    }
    return status();
  };
  mqtt_server server(options, hooks);
  auto port = server.start();
  if (!port.ok()) {
    std::fprintf(stderr, "mqtt_test_server: %s\n", port.error().to_string().c_str());
    return 1;
  }
  std::printf("listening on %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  return 0;
}
