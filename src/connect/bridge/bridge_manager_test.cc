#include "connect/bridge/bridge_manager.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "connect/mqtt/server/server.h"

namespace liandu::connect::bridge {
namespace {

using namespace std::chrono_literals;

mqtt::message msg(std::string topic, std::string payload) {
  mqtt::message m;
  m.topic = std::move(topic);
  m.payload = std::move(payload);
  m.qos = 1;
  return m;
}

// Polls `fn` until it is true or 10 s have passed.
template <typename Fn>
bool eventually(Fn fn) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return fn();
}

class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/liandu-bridge-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json entry(const std::string& name, int port) {
  return {{"name", name},
          {"database", "plant"},
          {"host", "127.0.0.1"},
          {"port", port},
          {"username", "u"},
          {"password", "s3cret"},
          {"keepalive_s", 5},
          {"subscribe", {{{"filter", "remote/#"}, {"qos", 1}}}},
          {"forward", {{{"filter", "local/#"}, {"qos", 1}, {"remote_prefix", "remote/"}}}}};
}

// A port nothing listens on.
int closed_port() {
  mqtt::mqtt_server_options o;
  o.port = 0;
  mqtt::mqtt_server s(o, {});
  auto p = s.start();
  int port = p.ok() ? *p : 1;
  s.stop();
  return port;
}

TEST(BridgeManager, PersistsPrivatelyAndMasksThePassword) {
  temp_dir dir;
  manager_options o;
  o.path = dir.file("bridges.json");
  {
    bridge_manager m(o);
    ASSERT_TRUE(m.load().ok());
    status s = m.put(entry("b1", 1));
    ASSERT_TRUE(s.ok()) << s.message();
    auto listed = m.list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["password"], password_mask);
    EXPECT_EQ(listed[0]["status"], "stopped");
    EXPECT_EQ(listed[0].dump().find("s3cret"), std::string::npos);
  }
  struct stat st {};
  ASSERT_EQ(::stat(o.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(read_all(o.path).find("s3cret"), std::string::npos);

  bridge_manager again(o);
  ASSERT_TRUE(again.load().ok());
  ASSERT_EQ(again.list().size(), 1u);
  // Posting back what GET shows keeps the stored password.
  nlohmann::json shown = again.list()[0];
  shown["keepalive_s"] = 10;
  ASSERT_TRUE(again.put(shown).ok());
  EXPECT_NE(read_all(o.path).find("s3cret"), std::string::npos);
  EXPECT_NE(read_all(o.path).find("\"keepalive_s\": 10"), std::string::npos);
  // The mask is not a password for a new bridge.
  nlohmann::json fresh = entry("b2", 1);
  fresh["password"] = password_mask;
  status s = again.put(fresh);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("\"password\""), std::string::npos) << s.message();

  EXPECT_TRUE(again.remove("b1").ok());
  EXPECT_EQ(again.remove("b1").code(), errc::not_found);
  EXPECT_TRUE(again.list().empty());
  EXPECT_EQ(read_all(o.path).find("b1"), std::string::npos);
}

// The psk is a secret like the password: masked when listed, stored in
// bridges.json, kept when the mask is posted back.
TEST(BridgeManager, MasksAndKeepsThePsk) {
  temp_dir dir;
  manager_options o;
  o.path = dir.file("bridges.json");
  bridge_manager m(o);
  nlohmann::json e = entry("psk", 1);
  e["tls"] = true;
  e["psk"] = "5ec12e7c0ffee0";
  e["psk_identity"] = "site-a";
  ASSERT_TRUE(m.put(e).ok());
  nlohmann::json shown = m.list()[0];
  EXPECT_EQ(shown["psk"], password_mask);
  EXPECT_EQ(shown["psk_identity"], "site-a");
  EXPECT_EQ(shown.dump().find("5ec12e7c0ffee0"), std::string::npos);
  EXPECT_NE(read_all(o.path).find("5ec12e7c0ffee0"), std::string::npos);
  shown["keepalive_s"] = 10;
  ASSERT_TRUE(m.put(shown).ok());
  EXPECT_NE(read_all(o.path).find("5ec12e7c0ffee0"), std::string::npos);
  EXPECT_NE(read_all(o.path).find("\"keepalive_s\": 10"), std::string::npos);
  // The mask is not a key for a new bridge, nor for one that had none.
  nlohmann::json fresh = shown;
  fresh["name"] = "psk2";
  fresh["password"] = "s3cret";
  status s = m.put(fresh);
  EXPECT_NE(s.message().find("bridge psk2: \"psk\" is the mask GET shows"), std::string::npos) << s.message();
  ASSERT_TRUE(m.put(entry("plain", 1)).ok());
  nlohmann::json plain = entry("plain", 1);
  plain["tls"] = true;
  plain["psk"] = password_mask;
  plain["psk_identity"] = "x";
  plain["password"] = "s3cret";
  EXPECT_NE(m.put(plain).message().find("\"psk\" is the mask"), std::string::npos);
}

TEST(BridgeManager, BadFileNamesTheEntry) {
  temp_dir dir;
  manager_options o;
  o.path = dir.file("bridges.json");
  std::ofstream(o.path) << R"([{"name":"ok","database":"d","host":"h","forward":[{"filter":"a"}]},
                               {"name":"bad","database":"d","host":"h","port":0,"forward":[{"filter":"a"}]}])";
  bridge_manager m(o);
  status s = m.load();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("entry 1: bridge bad: \"port\""), std::string::npos) << s.message();
}

TEST(BridgeManager, UnreachableBrokerIsAnErrorAndRetriedWithBackoff) {
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  o.bridge_timing.backoff_max = 200ms;
  bridge_manager m(o);
  ASSERT_TRUE(m.put(entry("down", closed_port())).ok());
  m.start();
  ASSERT_TRUE(eventually([&] { return m.list()[0]["status"] == "error"; })) << m.list()[0].dump();
  EXPECT_NE(m.list()[0]["last_error"].get<std::string>().find("retrying in"), std::string::npos);
  std::string metrics;
  {
    prometheus::text_writer w(metrics);
    m.append_metrics(w);
  }
  EXPECT_NE(metrics.find("liandu_bridge_connected{bridge=\"down\"} 0"), std::string::npos) << metrics;
  // Forwarding while not connected drops and counts.
  m.on_local_publish("local/x", "1");
  EXPECT_EQ(m.list()[0]["messages_dropped"], 1);
  m.stop();
  EXPECT_EQ(m.list()[0]["status"], "stopped");
}

// TLS errors show up like connect errors: in last_error, retried with
// backoff. A CA file that is not PEM fails before the handshake, with
// OpenSSL's reason from libmosquitto's log.
TEST(BridgeManager, TlsSetupErrorsAreReportedAndRetried) {
  temp_dir dir;
  std::ofstream(dir.file("ca.pem")) << "not a certificate\n";
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  o.bridge_timing.backoff_max = 200ms;
  bridge_manager m(o);
  nlohmann::json e = entry("tls", closed_port());
  e["tls"] = true;
  e["ca_file"] = dir.file("ca.pem");
  ASSERT_TRUE(m.put(e).ok());
  m.start();
  auto last_error = [&] { return m.list()[0]["last_error"].get<std::string>(); };
  ASSERT_TRUE(eventually([&] { return last_error().find("TLS") != std::string::npos; })) << last_error();
  EXPECT_EQ(m.list()[0]["status"], "error");
  EXPECT_NE(last_error().find("retrying in"), std::string::npos) << last_error();
  EXPECT_NE(last_error().find(dir.file("ca.pem")), std::string::npos) << last_error();
  m.stop();
}

// A saved bridge whose CA file went away still loads (the server starts);
// the bridge names the missing file in last_error and keeps retrying.
TEST(BridgeManager, SavedTlsBridgeWithAMissingFileLoadsAndReportsIt) {
  temp_dir dir;
  manager_options o;
  o.path = dir.file("bridges.json");
  o.bridge_timing.backoff_initial = 50ms;
  o.bridge_timing.backoff_max = 200ms;
  nlohmann::json e = entry("gone", closed_port());
  e["tls"] = true;
  e["ca_file"] = dir.file("gone.pem");
  std::ofstream(o.path) << nlohmann::json::array({e}).dump();
  bridge_manager m(o);
  status s = m.load();
  ASSERT_TRUE(s.ok()) << s.message();
  m.start();
  auto last_error = [&] { return m.list()[0]["last_error"].get<std::string>(); };
  ASSERT_TRUE(eventually([&] { return last_error().find("retrying in 100 ms") != std::string::npos; }))
      << last_error();
  EXPECT_NE(last_error().find("\"ca_file\" cannot be read: " + dir.file("gone.pem")), std::string::npos)
      << last_error();
  // Through the API the same entry is refused at once.
  EXPECT_NE(m.put(e).message().find("\"ca_file\" cannot be read"), std::string::npos);
  m.stop();
}

// A loopback port nothing listens on, below the kernel's ephemeral range,
// for a broker that must come back on its port after a stop. A port the
// kernel hands out (port 0) it may hand out again, while the broker is down,
// as the local port of any outgoing connection, the bridge's own reconnects
// included; then the broker could not listen there again.
uint16_t port_below_ephemeral_range() {
  int lo = 32768;
  if (std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range"); f) f >> lo;
  if (lo <= 12000) return 0;
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(std::uniform_int_distribution<int>(10000, lo - 1)(rng));
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;  // then the kernel picks one
}

// The remote broker is Liandu's own MQTT server, in process.
// `refused_client`: a client id refused whatever its credentials.
class remote_broker {
 public:
  explicit remote_broker(uint16_t port = 0, std::string refused_client = "") {
    mqtt::mqtt_server_options o;
    o.port = port;
    mqtt::mqtt_hooks hooks;
    hooks.authenticate = [this, refused_client](std::string_view id, std::string_view u, std::string_view p) {
      std::lock_guard lock(mu_);
      logins_.push_back(std::string(u) + ":" + std::string(p));
      clients_.insert(std::string(id));
      return u == "u" && p == "s3cret" && id != refused_client;
    };
    hooks.on_publish = [this](std::string_view, std::string_view t, std::string_view p) {
      std::lock_guard lock(mu_);
      published_.push_back(std::string(t) + "=" + std::string(p));
      return status{};
    };
    server_ = std::make_unique<mqtt::mqtt_server>(o, hooks);
    auto p = server_->start();
    port_ = p.ok() ? *p : 0;
  }
  uint16_t port() const { return port_; }
  mqtt::broker& broker() { return server_->broker(); }
  // Whether `topic=payload` was published on this broker.
  bool saw(const std::string& publish) {
    std::lock_guard lock(mu_);
    return std::find(published_.begin(), published_.end(), publish) != published_.end();
  }
  // The client ids that tried to log in.
  std::set<std::string> clients() {
    std::lock_guard lock(mu_);
    return clients_;
  }
  void stop() { server_->stop(); }

 private:
  std::mutex mu_;
  std::vector<std::string> logins_, published_;
  std::set<std::string> clients_;
  std::unique_ptr<mqtt::mqtt_server> server_;
  uint16_t port_ = 0;
};

TEST(BridgeManager, CarriesMessagesBothWaysWithoutLoops) {
  remote_broker remote(port_below_ephemeral_range());  // it comes back on its port below
  ASSERT_NE(remote.port(), 0);
  mqtt::mqtt_server_options lo;
  lo.port = 0;
  std::mutex mu;
  std::vector<std::string> ingested;
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  o.ingest = [&](std::string_view db, std::string_view t, std::string_view p) {
    std::lock_guard lock(mu);
    ingested.push_back(std::string(db) + ":" + std::string(t) + "=" + std::string(p));
    return status{};
  };
  bridge_manager m(o);
  mqtt::mqtt_hooks local_hooks;
  local_hooks.on_publish = [&m](std::string_view, std::string_view t, std::string_view p) {
    m.on_local_publish(t, p);
    return status{};
  };
  mqtt::mqtt_server local(lo, local_hooks);
  ASSERT_TRUE(local.start().ok());
  m.set_local_broker(&local.broker());
  ASSERT_TRUE(m.put(entry("b", remote.port())).ok());
  m.start();
  ASSERT_TRUE(eventually([&] { return m.list()[0]["status"] == "connected"; })) << m.list()[0].dump();
  // The subscription reaches the remote broker just after CONNACK.
  ASSERT_TRUE(eventually([&] { return remote.broker().subscription_count() == 1; }));

  // Inbound: stored and published on the local broker.
  remote.broker().publish(msg("remote/a", "42"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return ingested.size() == 1;
  }));
  EXPECT_EQ(ingested[0], "plant:remote/a=42");

  // Outbound: a local client publish reaches the remote broker with the
  // prefix; its copy (remote/local/x matches remote/#) does not come back.
  m.on_local_publish("local/x", "7");
  m.on_local_publish("other/x", "8");  // no forward filter
  ASSERT_TRUE(eventually([&] { return m.list()[0]["messages_out"] == 1; }));
  ASSERT_TRUE(eventually([&] { return remote.saw("remote/local/x=7"); }));
  // Give an echo time to arrive, then check it was dropped.
  std::this_thread::sleep_for(300ms);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(ingested.size(), 1u);
  }
  EXPECT_EQ(m.list()[0]["messages_in"], 1);
  std::string metrics;
  {
    prometheus::text_writer w(metrics);
    m.append_metrics(w);
  }
  EXPECT_NE(metrics.find("liandu_bridge_connected{bridge=\"b\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("liandu_bridge_messages_out_total{bridge=\"b\"} 1"), std::string::npos) << metrics;

  // The remote broker goes away and comes back on the same port: the bridge
  // reconnects and subscribes again.
  uint16_t port = remote.port();
  remote.stop();
  ASSERT_TRUE(eventually([&] { return m.list()[0]["status"] != "connected"; }));
  remote_broker back(port);
  ASSERT_EQ(back.port(), port);
  ASSERT_TRUE(eventually([&] { return back.broker().subscription_count() == 1; })) << m.list()[0].dump();
  back.broker().publish(msg("remote/b", "43"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return ingested.size() == 2;
  }));
  EXPECT_EQ(ingested[1], "plant:remote/b=43");
  m.stop();
  local.stop();
}

// "connections": 3 opens three clients with distinct client ids in one share
// group: the remote broker hands each message to one of them, so every
// message is ingested once, on each of the three connection threads.
TEST(BridgeManager, ConnectionsShareTheMessagesOfOneGroup) {
  remote_broker remote;
  ASSERT_NE(remote.port(), 0);
  std::mutex mu;
  std::vector<int> ingested;
  std::set<std::thread::id> threads;
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  o.ingest = [&](std::string_view, std::string_view, std::string_view p) {
    std::lock_guard lock(mu);
    ingested.push_back(std::stoi(std::string(p)));
    threads.insert(std::this_thread::get_id());
    return status{};
  };
  bridge_manager m(o);
  nlohmann::json e = entry("b", remote.port());
  e["connections"] = 3;
  ASSERT_TRUE(m.put(e).ok());
  m.start();
  ASSERT_TRUE(eventually([&] { return m.list()[0]["status"] == "connected"; })) << m.list()[0].dump();
  EXPECT_EQ(m.list()[0]["connections_up"], 3);
  EXPECT_EQ(remote.clients(),
            (std::set<std::string>{"liandu-bridge-b", "liandu-bridge-b-2", "liandu-bridge-b-3"}));
  ASSERT_TRUE(eventually([&] { return remote.broker().subscription_count() == 3; }));

  constexpr int n = 90;
  for (int i = 0; i < n; ++i) remote.broker().publish(msg("remote/a", std::to_string(i)));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return ingested.size() >= n;
  }));
  // A forwarded message's echo comes back on one of the connections: dropped.
  m.on_local_publish("local/x", "1000");
  ASSERT_TRUE(eventually([&] { return remote.saw("remote/local/x=1000"); }));
  std::this_thread::sleep_for(300ms);
  {
    std::lock_guard lock(mu);
    std::sort(ingested.begin(), ingested.end());
    std::vector<int> want(n);
    for (int i = 0; i < n; ++i) want[i] = i;
    EXPECT_EQ(ingested, want);
    EXPECT_EQ(threads.size(), 3u);
  }
  std::string metrics;
  {
    prometheus::text_writer w(metrics);
    m.append_metrics(w);
  }
  EXPECT_NE(metrics.find("liandu_bridge_connected{bridge=\"b\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("liandu_bridge_connections_up{bridge=\"b\"} 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("liandu_bridge_messages_in_total{bridge=\"b\"} 90"), std::string::npos) << metrics;
  m.stop();
  EXPECT_EQ(m.list()[0]["status"], "stopped");
  EXPECT_EQ(m.list()[0]["connections_up"], 0);
}

// One connection of three refused: the bridge is in error (not connected),
// names the connection in last_error and counts the two that are up.
TEST(BridgeManager, OneConnectionDownIsAnError) {
  remote_broker remote(0, "liandu-bridge-b-2");
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  bridge_manager m(o);
  nlohmann::json e = entry("b", remote.port());
  e["connections"] = 3;
  ASSERT_TRUE(m.put(e).ok());
  m.start();
  ASSERT_TRUE(eventually([&] {
    auto j = m.list()[0];
    return j["connections_up"] == 2 && j["status"] == "error";
  })) << m.list()[0].dump();
  EXPECT_EQ(m.list()[0]["last_error"].get<std::string>().rfind("connection 2: 127.0.0.1:", 0), 0u)
      << m.list()[0].dump();
  EXPECT_NE(m.list()[0]["last_error"].get<std::string>().find("refused"), std::string::npos);
  std::string metrics;
  {
    prometheus::text_writer w(metrics);
    m.append_metrics(w);
  }
  EXPECT_NE(metrics.find("liandu_bridge_connected{bridge=\"b\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("liandu_bridge_connections_up{bridge=\"b\"} 2"), std::string::npos) << metrics;
  m.stop();
}

bridge_config persistent(int connections) {
  bridge_config c;
  c.name = "b";
  c.host = "127.0.0.1";
  c.port = 1883;
  c.client_id = "liandu-bridge-b";
  c.clean_session = false;
  c.connections = connections;
  c.subscribe = {{"remote/#", 1}};
  return c;
}

TEST(BridgeManager, SessionsLeftBehindAreThoseNotConnectedWithAgain) {
  using ids = std::vector<std::string>;
  bridge_config four = persistent(4), two = persistent(2);
  EXPECT_EQ(sessions_left_behind(four, &two), (ids{"liandu-bridge-b-3", "liandu-bridge-b-4"}));
  EXPECT_EQ(sessions_left_behind(two, &four), ids{});
  EXPECT_EQ(sessions_left_behind(two, nullptr), (ids{"liandu-bridge-b", "liandu-bridge-b-2"}));
  // A clean session ends with its connection.
  bridge_config clean = four;
  clean.clean_session = true;
  EXPECT_EQ(sessions_left_behind(clean, &two), ids{});
  // The new entry's clean sessions replace the old ones it connects with.
  EXPECT_EQ(sessions_left_behind(four, &clean), ids{});
  bridge_config moved = two;
  moved.port = 1884;
  EXPECT_EQ(sessions_left_behind(two, &moved), (ids{"liandu-bridge-b", "liandu-bridge-b-2"}));
  bridge_config renamed = two;
  renamed.client_id = "other";
  EXPECT_EQ(sessions_left_behind(two, &renamed), (ids{"liandu-bridge-b", "liandu-bridge-b-2"}));
  EXPECT_EQ(session_filters(two), (ids{"$share/liandu-bridge-b/remote/#", "remote/#"}));
  // A bridge of one connection may hold the shared form: it had more.
  EXPECT_EQ(session_filters(persistent(1)), (ids{"$share/liandu-bridge-b/remote/#", "remote/#"}));
}

std::string metrics_of(const bridge_manager& m) {
  std::string text;
  prometheus::text_writer w(text);
  m.append_metrics(w);
  return text;
}

// Lowering "connections" of a clean_session false bridge from 3 to 1 ends
// the sessions of connections 2 and 3 on the remote broker, after taking in
// what it had queued for them while the bridge was down: every message is
// ingested once, and the broker keeps one session.
TEST(BridgeManager, LoweringConnectionsDrainsAndEndsTheSessionsLeftBehind) {
  remote_broker remote;
  temp_dir dir;
  std::mutex mu;
  std::vector<int> ingested;
  manager_options o;
  o.path = dir.file("bridges.json");
  o.bridge_timing.backoff_initial = 50ms;
  o.bridge_timing.drain_quiet = 200ms;
  o.ingest = [&](std::string_view, std::string_view, std::string_view p) {
    std::lock_guard lock(mu);
    ingested.push_back(std::stoi(std::string(p)));
    return status{};
  };
  nlohmann::json e = entry("b", remote.port());
  e["connections"] = 3;
  e["clean_session"] = false;
  e["forward"] = nlohmann::json::array();
  {
    bridge_manager m(o);
    ASSERT_TRUE(m.put(e).ok());
    m.start();
    ASSERT_TRUE(eventually([&] { return remote.broker().subscription_count() == 3; }));
    m.stop();
  }
  ASSERT_EQ(remote.broker().session_count(), 3u);
  // Queued for the three offline members of the group.
  constexpr int n = 60;
  for (int i = 0; i < n; ++i) remote.broker().publish(msg("remote/a", std::to_string(i)));

  bridge_manager m(o);
  ASSERT_TRUE(m.load().ok());
  e["connections"] = 1;
  ASSERT_TRUE(m.put(e).ok());
  EXPECT_EQ(m.list()[0]["sessions_to_end"], (nlohmann::json{"liandu-bridge-b-2", "liandu-bridge-b-3"}));
  EXPECT_NE(read_all(sessions_path_for(o.path)).find("liandu-bridge-b-3"), std::string::npos);
  m.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return ingested.size() >= n;
  })) << ingested.size();
  ASSERT_TRUE(eventually([&] { return m.list()[0]["sessions_to_end"].empty(); })) << m.list()[0].dump();
  ASSERT_TRUE(eventually([&] { return remote.broker().session_count() == 1; }));
  std::this_thread::sleep_for(300ms);  // room for a duplicate to show up
  {
    std::lock_guard lock(mu);
    std::sort(ingested.begin(), ingested.end());
    std::vector<int> want(n);
    for (int i = 0; i < n; ++i) want[i] = i;
    EXPECT_EQ(ingested, want);
  }
  EXPECT_EQ(remote.broker().subscription_count(), 1u);
  std::string metrics = metrics_of(m);
  EXPECT_NE(metrics.find("liandu_bridge_sessions_to_end{bridge=\"b\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("liandu_bridge_sessions_ended_total{bridge=\"b\"} 2"), std::string::npos) << metrics;
  m.stop();
  EXPECT_EQ(nlohmann::json::parse(read_all(sessions_path_for(o.path))), nlohmann::json::array());
}

// A removed clean_session false bridge leaves all its sessions: they are
// ended too, though the bridge is gone (counted in /metrics under its name).
TEST(BridgeManager, RemovingAPersistentBridgeEndsItsSessions) {
  remote_broker remote;
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  o.bridge_timing.drain_quiet = 100ms;
  bridge_manager m(o);
  nlohmann::json e = entry("b", remote.port());
  e["connections"] = 2;
  e["clean_session"] = false;
  m.start();
  ASSERT_TRUE(m.put(e).ok());
  ASSERT_TRUE(eventually([&] { return remote.broker().subscription_count() == 2; }));
  ASSERT_TRUE(m.remove("b").ok());
  ASSERT_TRUE(eventually([&] { return remote.broker().session_count() == 0; }))
      << remote.broker().session_count();
  ASSERT_TRUE(eventually([&] {
    return metrics_of(m).find("liandu_bridge_sessions_ended_total{bridge=\"b\"} 2") != std::string::npos;
  })) << metrics_of(m);
  m.stop();
}

// The remote broker is down: the sessions stay to be ended, shown in GET,
// /metrics and last_error, kept across a restart in bridge_sessions.json,
// and no longer ended once the bridge connects with them again.
TEST(BridgeManager, SessionsToEndSurviveARestartUntilTheBridgeChangesAgain) {
  temp_dir dir;
  manager_options o;
  o.path = dir.file("bridges.json");
  o.bridge_timing.backoff_initial = 50ms;
  o.bridge_timing.backoff_max = 100ms;
  nlohmann::json e = entry("b", closed_port());
  e["connections"] = 4;
  e["clean_session"] = false;
  {
    bridge_manager m(o);
    ASSERT_TRUE(m.put(e).ok());
    e["connections"] = 2;
    e["subscribe"] = {{{"filter", "other/#"}, {"qos", 1}}};
    ASSERT_TRUE(m.put(e).ok());
    m.start();
    ASSERT_TRUE(eventually([&] {
      return metrics_of(m).find("liandu_bridge_sessions_to_end{bridge=\"b\"} 2") != std::string::npos;
    })) << metrics_of(m);
    m.stop();
  }
  auto saved = nlohmann::json::parse(read_all(sessions_path_for(o.path)));
  ASSERT_EQ(saved.size(), 1u) << saved.dump();
  EXPECT_EQ(saved[0]["client_ids"], (nlohmann::json{"liandu-bridge-b-3", "liandu-bridge-b-4"}));
  // The old filters, which the sessions hold.
  EXPECT_EQ(saved[0]["filters"], (nlohmann::json{"$share/liandu-bridge-b/remote/#", "remote/#"}));
  struct stat st {};
  ASSERT_EQ(::stat(sessions_path_for(o.path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  bridge_manager m(o);
  ASSERT_TRUE(m.load().ok());
  EXPECT_EQ(m.list()[0]["sessions_to_end"], (nlohmann::json{"liandu-bridge-b-3", "liandu-bridge-b-4"}));
  m.start();
  // Moved to a broker that is up: the bridge connects, and the sessions left
  // on the first (two more now) show their error in last_error.
  remote_broker remote;
  e["port"] = remote.port();
  ASSERT_TRUE(m.put(e).ok());
  ASSERT_TRUE(eventually([&] {
    auto j = m.list()[0];
    return j["status"] == "connected" &&
           j["last_error"].get<std::string>().find("session liandu-bridge-b") == 0;
  })) << m.list()[0].dump();
  EXPECT_EQ(m.list()[0]["sessions_to_end"].size(), 4u) << m.list()[0].dump();
  // Back on the first broker with three connections: only -4 is left there,
  // and the two sessions left on the second are ended.
  e["port"] = saved[0]["entry"]["port"];
  e["connections"] = 3;
  ASSERT_TRUE(m.put(e).ok());
  ASSERT_TRUE(eventually([&] {
    return m.list()[0]["sessions_to_end"] == nlohmann::json{"liandu-bridge-b-4"};
  })) << m.list()[0].dump();
  m.stop();
}

// bridge_sessions.json as docs/formats/bridge_sessions.md describes it: the
// saved sample is what the manager writes for "connections" lowered from 4
// to 2, byte for byte, and it loads back.
TEST(BridgeManager, SessionsFileMatchesTheSavedSample) {
  const std::string sample = std::string(LIANDU_SOURCE_DIR) + "/tests/formats/bridge_sessions_v1.json";
  temp_dir dir;
  manager_options o;
  o.path = dir.file("bridges.json");
  nlohmann::json e = entry("site-b", 1883);
  e["connections"] = 4;
  e["clean_session"] = false;
  {
    bridge_manager m(o);
    ASSERT_TRUE(m.put(e).ok());
    e["connections"] = 2;
    ASSERT_TRUE(m.put(e).ok());
  }
  EXPECT_EQ(read_all(sessions_path_for(o.path)), read_all(sample));

  temp_dir other;
  manager_options p;
  p.path = other.file("bridges.json");
  std::filesystem::copy_file(sample, sessions_path_for(p.path));
  bridge_manager m(p);
  status s = m.load();
  ASSERT_TRUE(s.ok()) << s.message();
  // Its bridge is not in bridges.json (removed): still to be ended.
  EXPECT_NE(metrics_of(m).find("liandu_bridge_sessions_to_end{bridge=\"site-b\"} 2"), std::string::npos)
      << metrics_of(m);
}

// A session one bridge left is not ended once another bridge connects with
// its client id on the same broker: the two would take it from each other.
TEST(BridgeManager, ASessionAnotherBridgeConnectsWithIsNotEnded) {
  manager_options o;
  bridge_manager m(o);
  nlohmann::json a = entry("a", 1883);
  a["clean_session"] = false;
  a["client_id"] = "shared-id";
  ASSERT_TRUE(m.put(a).ok());
  ASSERT_TRUE(m.remove("a").ok());
  EXPECT_NE(metrics_of(m).find("liandu_bridge_sessions_to_end{bridge=\"a\"} 1"), std::string::npos)
      << metrics_of(m);
  nlohmann::json b = a;
  b["name"] = "b";
  ASSERT_TRUE(m.put(b).ok());
  // Nothing left of "a".
  EXPECT_EQ(metrics_of(m).find("{bridge=\"a\"}"), std::string::npos) << metrics_of(m);
}

TEST(BridgeManager, RefusedCredentialsAreTheLastError) {
  remote_broker remote;
  manager_options o;
  o.bridge_timing.backoff_initial = 50ms;
  bridge_manager m(o);
  nlohmann::json e = entry("b", remote.port());
  e["password"] = "wrong";
  ASSERT_TRUE(m.put(e).ok());
  m.start();
  ASSERT_TRUE(eventually([&] {
    return m.list()[0]["last_error"].get<std::string>().find("refused") != std::string::npos;
  })) << m.list()[0].dump();
  m.stop();
}

}  // namespace
}  // namespace liandu::connect::bridge
