// A small MQTT client on libmosquitto, a second independent client for the
// integration tests (the first is mosquitto_pub/mosquitto_sub).
//
//   mqtt_libmosquitto_client --port P [--id ID] [--v5] [--clean 0|1]
//       [--user U --pass P] [--qos Q] [--timeout SECONDS]
//       (--sub FILTER --count N | --pub TOPIC --msg TEXT [--retain])
//
// --sub prints "subscribed" after SUBACK, then "topic payload" per message,
// and exits 0 after N messages (1 on timeout). --pub publishes one message,
// waits for its acknowledgement (QoS 1/2) and exits 0.
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct state {
  std::string sub, pub, msg;
  int qos = 0;
  int count = 1;
  bool retain = false;
  int received = 0;
  bool done = false;
  int failed = 0;
};

void on_connect(mosquitto* m, void* obj, int rc) {
  auto* s = static_cast<state*>(obj);
  if (rc != 0) {
    std::printf("connack %d\n", rc);
    s->failed = 1;
    s->done = true;
    return;
  }
  if (!s->sub.empty()) {
    mosquitto_subscribe(m, nullptr, s->sub.c_str(), s->qos);
  } else {
    mosquitto_publish(m, nullptr, s->pub.c_str(), static_cast<int>(s->msg.size()), s->msg.data(), s->qos,
                      s->retain);
  }
}

void on_subscribe(mosquitto*, void* obj, int, int n, const int* granted) {
  auto* s = static_cast<state*>(obj);
  std::printf("subscribed %d\n", n > 0 ? granted[0] : -1);
  std::fflush(stdout);
  if (s->count == 0) s->done = true;
}

void on_message(mosquitto*, void* obj, const mosquitto_message* msg) {
  auto* s = static_cast<state*>(obj);
  std::printf("%s %.*s\n", msg->topic, msg->payloadlen, static_cast<const char*>(msg->payload));
  std::fflush(stdout);
  if (++s->received >= s->count) s->done = true;
}

void on_publish(mosquitto*, void* obj, int) { static_cast<state*>(obj)->done = true; }

}  // namespace

int main(int argc, char** argv) {
  state s;
  int port = 1883;
  std::string id, user, pass;
  bool v5 = false, clean = true;
  int timeout = 10;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--port")
      port = std::atoi(next().c_str());
    else if (k == "--id")
      id = next();
    else if (k == "--v5")
      v5 = true;
    else if (k == "--clean")
      clean = next() != "0";
    else if (k == "--user")
      user = next();
    else if (k == "--pass")
      pass = next();
    else if (k == "--qos")
      s.qos = std::atoi(next().c_str());
    else if (k == "--timeout")
      timeout = std::atoi(next().c_str());
    else if (k == "--sub")
      s.sub = next();
    else if (k == "--count")
      s.count = std::atoi(next().c_str());
    else if (k == "--pub")
      s.pub = next();
    else if (k == "--msg")
      s.msg = next();
    else if (k == "--retain")
      s.retain = true;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  mosquitto_lib_init();
  mosquitto* m = mosquitto_new(id.empty() ? nullptr : id.c_str(), clean, &s);
  if (!m) return 3;
  if (v5) mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  if (!user.empty()) mosquitto_username_pw_set(m, user.c_str(), pass.c_str());
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_subscribe_callback_set(m, on_subscribe);
  mosquitto_message_callback_set(m, on_message);
  mosquitto_publish_callback_set(m, on_publish);
  if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "connect failed\n");
    return 4;
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  while (!s.done && std::chrono::steady_clock::now() < until) {
    int rc = mosquitto_loop(m, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
      std::fprintf(stderr, "loop: %s\n", mosquitto_strerror(rc));
      s.failed = 5;
      break;
    }
  }
  int result = s.failed ? s.failed : (s.done ? 0 : 1);
  mosquitto_disconnect(m);
  mosquitto_loop(m, 100, 1);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return result;
}
