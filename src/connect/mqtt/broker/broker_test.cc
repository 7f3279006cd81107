#include "connect/mqtt/broker/broker.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace liandu::connect::mqtt {
namespace {

class fake_link : public link {
 public:
  void send(std::string bytes) override {
    std::lock_guard lock(mu);
    out += bytes;
  }
  void close() override { closed = true; }
  std::mutex mu;
  std::string out;
  bool closed = false;
};

// A client on the broker without sockets: packets in, decoded packets out.
struct client {
  client(broker& b, uint8_t level = protocol_v311) : level(level) {
    l = std::make_shared<fake_link>();
    c = b.open(l);
  }
  std::vector<packet> take() {
    std::string bytes;
    {
      std::lock_guard lock(l->mu);
      bytes.swap(l->out);
    }
    decoder d(max_possible_packet_size, level);
    d.feed(bytes.data(), bytes.size());
    std::vector<packet> out = std::move(pending);
    pending.clear();
    packet p;
    decode_error e;
    while (d.next(&p, &e) == decoder::state::packet) out.push_back(p);
    return out;
  }
  connack_packet connect(const std::string& id, bool clean = true, properties props = {}) {
    connect_packet cp;
    cp.protocol_level = level;
    cp.client_id = id;
    cp.clean_start = clean;
    cp.props = std::move(props);
    c->handle(cp);
    auto ps = take();
    EXPECT_FALSE(ps.empty());
    pending.assign(ps.begin() + 1, ps.end());
    return std::get<connack_packet>(ps.at(0));
  }
  void subscribe(const std::string& filter, uint8_t qos, uint32_t id = 0) {
    subscribe_packet s;
    s.packet_id = 1;
    s.subscriptions.push_back(subscription{filter, qos, false, false, 0});
    if (id) s.props.items.push_back(property{property_id::subscription_identifier, id, {}, {}});
    c->handle(s);
  }
  void publish(const std::string& topic, const std::string& payload, uint8_t qos = 0, bool retain = false,
               uint16_t id = 1) {
    publish_packet p;
    p.topic = topic;
    p.payload = payload;
    p.qos = qos;
    p.retain = retain;
    p.packet_id = qos ? id : 0;
    c->handle(p);
  }
  std::vector<publish_packet> publishes() {
    std::vector<publish_packet> out;
    for (auto& p : take()) {
      if (auto* pub = std::get_if<publish_packet>(&p)) out.push_back(*pub);
    }
    return out;
  }
  uint8_t level;
  std::vector<packet> pending;  // after CONNACK, taken by connect()
  std::shared_ptr<fake_link> l;
  std::shared_ptr<connection> c;
};

TEST(MqttBroker, RoutesByFilterAndAcknowledges) {
  broker b({}, {});
  client sub(b), pub(b);
  sub.connect("sub");
  pub.connect("pub");
  sub.subscribe("plant/+/temp", 1);
  auto acks = sub.take();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(std::get<sub_ack_packet>(acks[0]).reasons, std::vector<uint8_t>{1});
  pub.publish("plant/l1/temp", "20", 1, false, 9);
  auto pa = pub.take();
  ASSERT_EQ(pa.size(), 1u);
  EXPECT_EQ(std::get<ack_packet>(pa[0]).type, packet_type::puback);
  EXPECT_EQ(std::get<ack_packet>(pa[0]).packet_id, 9);
  pub.publish("plant/l1/pressure", "1");
  auto got = sub.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "plant/l1/temp");
  EXPECT_EQ(got[0].qos, 1);
}

TEST(MqttBroker, OnPublishRunsBeforeAckAndErrorsAreCounted) {
  std::vector<std::string> seen;
  mqtt_hooks hooks;
  hooks.on_publish = [&](std::string_view, std::string_view topic, std::string_view) {
    seen.emplace_back(topic);
    return topic == "bad" ? error(errc::io_error, "disk") : status();
  };
  broker b({}, hooks);
  client pub(b);
  pub.connect("p");
  pub.publish("good", "1", 1);
  EXPECT_EQ(pub.take().size(), 1u);
  // 3.1.1 has no negative PUBACK: a message that could not be stored is not
  // acknowledged, and the connection is closed so the client re-sends it.
  pub.publish("bad", "1", 1, false, 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"good", "bad"}));
  EXPECT_EQ(b.stats().on_publish_errors.load(), 1u);
  EXPECT_TRUE(pub.take().empty());
  EXPECT_TRUE(pub.l->closed);
}

// A batch of QoS 0/1 PUBLISH packets with a slow hook: the hook calls run on
// several threads at once, the messages are still routed and acknowledged
// in order, and a SUBSCRIBE in the middle ends the run (later messages see
// the new subscription).
TEST(MqttBroker, BatchRunsSlowHooksInParallelAndKeepsOrder) {
  std::atomic<int> running{0}, most{0};
  mqtt_hooks hooks;
  hooks.on_publish = [&](std::string_view, std::string_view, std::string_view) {
    int now = ++running;
    int m = most.load();
    while (now > m && !most.compare_exchange_weak(m, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --running;
    return status();
  };
  broker_config cfg;
  cfg.slow_hook_ns = 0;
  cfg.max_parallel_hooks = 4;
  cfg.run_parallel = [](size_t n, const std::function<void(size_t)>& fn) {
    std::vector<std::thread> ts;
    for (size_t i = 1; i < n; ++i) ts.emplace_back([&fn, i] { fn(i); });
    fn(0);
    for (auto& t : ts) t.join();
  };
  broker b(cfg, hooks);
  client sub(b);
  sub.connect("s");
  sub.subscribe("a/#", 1);
  sub.take();
  client pub(b);
  pub.connect("p");
  std::vector<packet> batch;
  for (uint16_t i = 1; i <= 8; ++i) {
    publish_packet p;
    p.topic = i <= 6 ? "a/x" : "b/x";
    p.payload = std::to_string(i);
    p.qos = 1;
    p.packet_id = i;
    batch.push_back(p);
    if (i == 6) {
      subscribe_packet s;
      s.packet_id = 100;
      s.subscriptions.push_back(subscription{"b/#", 1, false, false, 0});
      batch.push_back(s);
    }
  }
  // The publisher subscribes to b/# itself, mid-batch.
  pub.c->handle_batch(batch);
  EXPECT_GE(most.load(), 2);
  std::vector<uint16_t> acks;
  std::vector<std::string> own;
  for (const packet& p : pub.take()) {
    if (auto* a = std::get_if<ack_packet>(&p)) acks.push_back(a->packet_id);
    if (auto* m = std::get_if<publish_packet>(&p)) own.push_back(m->payload);
  }
  EXPECT_EQ(acks, (std::vector<uint16_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(own, (std::vector<std::string>{"7", "8"}));
  std::vector<std::string> got;
  for (const auto& m : sub.publishes()) got.push_back(m.payload);
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3", "4", "5", "6"}));
}

// With a batch hook, a run of QoS 0/1 messages goes to it in one call (the
// app stores them with one write); each message keeps its own outcome: a
// failed store is refused with its v5 reason code while the others of the
// run are routed and acknowledged in order. QoS 2 ends the run.
TEST(MqttBroker, BatchHookGetsTheRunAndPerMessageOutcomes) {
  std::vector<size_t> calls;  // messages per batch hook call
  std::vector<std::string> single;
  mqtt_hooks hooks;
  hooks.on_publish = [&](std::string_view, std::string_view topic, std::string_view) {
    single.emplace_back(topic);
    return status();
  };
  hooks.on_publish_batch = [&](std::string_view user, std::span<const publish_view> m,
                               std::span<status> out) {
    EXPECT_EQ(user, "");
    calls.push_back(m.size());
    for (size_t i = 0; i < m.size(); ++i) {
      out[i] = m[i].topic == "t/disk" ? error(errc::io_error, "disk") : status();
    }
  };
  broker b({}, hooks);
  client sub(b, protocol_v5);
  sub.connect("s");
  sub.subscribe("t/#", 0);
  sub.take();
  client pub(b, protocol_v5);
  pub.connect("p");
  std::vector<packet> batch;
  const char* topics[] = {"t/a", "t/disk", "t/b", "t/q2", "t/c"};
  for (uint16_t i = 1; i <= 5; ++i) {
    publish_packet p;
    p.topic = topics[i - 1];
    p.payload = std::to_string(i);
    p.qos = i == 4 ? 2 : 1;
    p.packet_id = i;
    batch.push_back(p);
  }
  pub.c->handle_batch(batch);
  // Run of three, then QoS 2 alone (per-message hook), then a run of one.
  EXPECT_EQ(calls, (std::vector<size_t>{3}));
  EXPECT_EQ(single, (std::vector<std::string>{"t/q2", "t/c"}));
  std::vector<std::pair<uint16_t, uint8_t>> acks;
  for (const packet& p : pub.take()) {
    if (auto* a = std::get_if<ack_packet>(&p)) acks.push_back({a->packet_id, a->reason});
  }
  EXPECT_EQ(acks, (std::vector<std::pair<uint16_t, uint8_t>>{{1, 0}, {2, 0x80}, {3, 0}, {4, 0}, {5, 0}}));
  std::vector<std::string> routed;
  for (const auto& m : sub.publishes()) routed.push_back(m.topic);
  EXPECT_EQ(routed, (std::vector<std::string>{"t/a", "t/b", "t/q2", "t/c"}));
  EXPECT_EQ(b.stats().messages_received.load(), 5u);
}

TEST(MqttBroker, OnPublishFailuresGiveV5ReasonCodes) {
  mqtt_hooks hooks;
  hooks.on_publish = [&](std::string_view, std::string_view topic, std::string_view) {
    if (topic == "disk") return error(errc::io_error, "disk");
    if (topic == "full") return error(errc::limit_exceeded, "head over budget");
    if (topic == "denied") return error(errc::forbidden, "no write permission");
    if (topic == "garbled") return error(errc::parse_error, "payload is not JSON");
    return status();
  };
  broker b({}, hooks);
  client pub(b, protocol_v5);
  client sub(b, protocol_v5);
  pub.connect("p");
  sub.connect("s");
  sub.subscribe("#", 0);
  sub.take();
  const std::pair<const char*, uint8_t> cases[] = {
      {"disk", 0x80}, {"full", 0x97}, {"denied", 0x87}, {"garbled", 0x00}, {"fine", 0x00}};
  uint16_t id = 1;
  for (const auto& [topic, reason] : cases) {
    pub.publish(topic, "1", 1, false, id);
    auto acks = pub.take();
    ASSERT_EQ(acks.size(), 1u) << topic;
    const auto& ack = std::get<ack_packet>(acks[0]);
    EXPECT_EQ(ack.packet_id, id) << topic;
    EXPECT_EQ(ack.reason, reason) << topic;
    ++id;
  }
  EXPECT_FALSE(pub.l->closed);
  // Only what was accepted is routed: the unmappable payload is, as a broker
  // would; the refused and unstored ones are not.
  std::vector<std::string> routed;
  for (const auto& m : sub.publishes()) routed.push_back(m.topic);
  EXPECT_EQ(routed, (std::vector<std::string>{"garbled", "fine"}));
}

TEST(MqttBroker, AuthenticateRefuses) {
  mqtt_hooks hooks;
  hooks.authenticate = [](std::string_view, std::string_view u, std::string_view) { return u == "ok"; };
  broker b({}, hooks);
  client c(b);
  EXPECT_EQ(c.connect("x").reason, 5);
  EXPECT_TRUE(c.l->closed);
  client v5(b, protocol_v5);
  EXPECT_EQ(v5.connect("y").reason, static_cast<uint8_t>(reason_code::not_authorized));
}

TEST(MqttBroker, DollarTopicsAndWildcards) {
  broker b({}, {});
  client all(b), sys(b), pub(b);
  all.connect("all");
  sys.connect("sys");
  pub.connect("pub");
  all.subscribe("#", 0);
  sys.subscribe("$SYS/#", 0);
  all.take();
  sys.take();
  pub.publish("$SYS/uptime", "1");
  pub.publish("a/b", "2");
  EXPECT_EQ(all.publishes().size(), 1u);
  auto s = sys.publishes();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].topic, "$SYS/uptime");
}

TEST(MqttBroker, RetainedMessages) {
  broker b({}, {});
  client pub(b);
  pub.connect("pub");
  pub.publish("r/a", "one", 1, true);
  pub.publish("r/b", "two", 0, true);
  pub.publish("r/b", "", 0, true);  // clears
  EXPECT_EQ(b.retained_count(), 1u);
  client sub(b);
  sub.connect("sub");
  sub.subscribe("r/#", 2);
  auto got = sub.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].retain);
  EXPECT_EQ(got[0].payload, "one");
  EXPECT_EQ(got[0].qos, 1);
}

TEST(MqttBroker, Qos2ExchangeBothWays) {
  broker b({}, {});
  client sub(b), pub(b);
  sub.connect("sub");
  pub.connect("pub");
  sub.subscribe("q", 2);
  sub.take();
  pub.publish("q", "x", 2, false, 5);
  pub.publish("q", "x", 2, false, 5);  // re-sent before PUBREL: not routed again
  auto pa = pub.take();
  ASSERT_EQ(pa.size(), 2u);
  EXPECT_EQ(std::get<ack_packet>(pa[0]).type, packet_type::pubrec);
  pub.c->handle(ack_packet{packet_type::pubrel, 5, 0, {}});
  auto pc = pub.take();
  ASSERT_EQ(pc.size(), 1u);
  EXPECT_EQ(std::get<ack_packet>(pc[0]).type, packet_type::pubcomp);

  auto got = sub.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].qos, 2);
  sub.c->handle(ack_packet{packet_type::pubrec, got[0].packet_id, 0, {}});
  auto rel = sub.take();
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(std::get<ack_packet>(rel[0]).type, packet_type::pubrel);
  sub.c->handle(ack_packet{packet_type::pubcomp, got[0].packet_id, 0, {}});
}

TEST(MqttBroker, InflightWindowFollowsReceiveMaximum) {
  broker b({}, {});
  client sub(b, protocol_v5), pub(b);
  properties props;
  props.set_number(property_id::receive_maximum, 2);
  sub.connect("sub", true, props);
  pub.connect("pub");
  sub.subscribe("w", 1);
  sub.take();
  for (int i = 0; i < 5; ++i) pub.publish("w", std::to_string(i), 1, false, static_cast<uint16_t>(i + 1));
  auto first = sub.publishes();
  ASSERT_EQ(first.size(), 2u);
  sub.c->handle(ack_packet{packet_type::puback, first[0].packet_id, 0, {}});
  auto next = sub.publishes();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "2");
}

TEST(MqttBroker, PersistentSessionQueuesWhileOffline) {
  broker b({}, {});
  {
    client sub(b);
    sub.connect("keep", false);
    sub.subscribe("q/#", 1);
    sub.c->handle(disconnect_packet{});
  }
  client pub(b);
  pub.connect("pub");
  pub.publish("q/1", "a", 1);
  pub.publish("q/2", "b", 0);  // QoS 0 is not queued for offline sessions
  client again(b);
  EXPECT_TRUE(again.connect("keep", false).session_present);
  auto got = again.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "a");
}

TEST(MqttBroker, WillOnAbnormalCloseNotOnDisconnect) {
  broker b({}, {});
  client watcher(b);
  watcher.connect("w");
  watcher.subscribe("will/#", 0);
  watcher.take();
  for (bool abnormal : {true, false}) {
    client c(b);
    connect_packet cp;
    cp.client_id = abnormal ? "dies" : "leaves";
    cp.will = will_message{"will/" + cp.client_id, "gone", 0, false, {}};
    c.c->handle(cp);
    if (abnormal) {
      c.c->transport_closed();
    } else {
      c.c->handle(disconnect_packet{});
      c.c->transport_closed();
    }
  }
  auto got = watcher.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "will/dies");
}

TEST(MqttBroker, SharedSubscriptionDeliversToOneMember) {
  broker b({}, {});
  client a(b), c(b), pub(b);
  a.connect("a");
  c.connect("c");
  pub.connect("pub");
  a.subscribe("$share/g/jobs/#", 0);
  c.subscribe("$share/g/jobs/#", 0);
  a.take();
  c.take();
  for (int i = 0; i < 4; ++i) pub.publish("jobs/x", std::to_string(i));
  EXPECT_EQ(a.publishes().size(), 2u);
  EXPECT_EQ(c.publishes().size(), 2u);
}

TEST(MqttBroker, TopicAliasAndSubscriptionIdentifier) {
  broker b({}, {});
  client sub(b, protocol_v5), pub(b, protocol_v5);
  sub.connect("sub");
  pub.connect("pub");
  sub.subscribe("t/#", 0, 42);
  sub.take();
  publish_packet p;
  p.topic = "t/1";
  p.payload = "a";
  p.props.set_number(property_id::topic_alias, 1);
  pub.c->handle(p);
  p.topic.clear();
  p.payload = "b";
  pub.c->handle(p);
  auto got = sub.publishes();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].topic, "t/1");
  EXPECT_EQ(got[1].props.number(property_id::subscription_identifier), 42u);
  EXPECT_FALSE(got[1].props.find(property_id::topic_alias));
  // An alias over the maximum closes with 0x94.
  p.props.set_number(property_id::topic_alias, 1000);
  pub.take();
  pub.c->handle(p);
  auto d = pub.take();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(d[0]).reason, static_cast<uint8_t>(reason_code::topic_alias_invalid));
  EXPECT_TRUE(pub.l->closed);
}

TEST(MqttBroker, MessageExpiry) {
  int64_t now = 1000;
  broker_config cfg;
  cfg.clock_ms = [&] { return now; };
  broker b(cfg, {});
  client pub(b, protocol_v5);
  pub.connect("pub");
  publish_packet p;
  p.topic = "e";
  p.payload = "x";
  p.retain = true;
  p.props.set_number(property_id::message_expiry_interval, 10);
  pub.c->handle(p);
  now += 4000;
  client sub(b, protocol_v5);
  sub.connect("sub");
  sub.subscribe("e", 0);
  auto got = sub.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].props.number(property_id::message_expiry_interval), 6u);
  now += 7000;
  b.tick();
  EXPECT_EQ(b.retained_count(), 0u);
}

TEST(MqttBroker, ProtocolViolations) {
  broker b({}, {});
  client before(b);
  before.publish("x", "y");  // before CONNECT
  EXPECT_TRUE(before.l->closed);
  client twice(b, protocol_v5);
  twice.connect("t");
  connect_packet cp;
  cp.protocol_level = protocol_v5;
  cp.client_id = "t";
  twice.c->handle(cp);
  auto d = twice.take();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(d[0]).reason, static_cast<uint8_t>(reason_code::protocol_error));
  EXPECT_TRUE(twice.l->closed);
}

TEST(MqttBroker, SessionTakeover) {
  broker b({}, {});
  client first(b, protocol_v5), second(b, protocol_v5);
  first.connect("same");
  second.connect("same");
  auto d = first.take();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(d[0]).reason, static_cast<uint8_t>(reason_code::session_taken_over));
  EXPECT_TRUE(first.l->closed);
  EXPECT_EQ(b.session_count(), 1u);
}

TEST(MqttBroker, WillDelayInterval) {
  int64_t now = 0;
  broker_config cfg;
  cfg.clock_ms = [&] { return now; };
  broker b(cfg, {});
  client watcher(b);
  watcher.connect("w");
  watcher.subscribe("will/#", 0);
  watcher.take();
  auto connect_with_delayed_will = [&](client& c) {
    connect_packet cp;
    cp.protocol_level = protocol_v5;
    cp.client_id = "late";
    cp.props.set_number(property_id::session_expiry_interval, 100);
    cp.will = will_message{"will/late", "gone", 0, false, {}};
    cp.will->props.set_number(property_id::will_delay_interval, 5);
    c.c->handle(cp);
  };
  client first(b, protocol_v5);
  connect_with_delayed_will(first);
  first.c->transport_closed();
  now = 3000;
  b.tick();
  EXPECT_TRUE(watcher.publishes().empty());
  client back(b, protocol_v5);  // reconnects in time: no will
  connect_with_delayed_will(back);
  now = 9000;
  b.tick();
  EXPECT_TRUE(watcher.publishes().empty());
  back.c->transport_closed();
  now = 15000;
  b.tick();
  EXPECT_EQ(watcher.publishes().size(), 1u);
}

TEST(MqttBroker, StateSurvivesRestart) {
  auto dir = std::filesystem::temp_directory_path() / ("mqtt_broker_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  broker_config cfg;
  cfg.data_dir = dir.string();
  {
    broker b(cfg, {});
    client sub(b), pub(b);
    sub.connect("keep", false);
    sub.subscribe("s/#", 2);
    sub.c->transport_closed();
    pub.connect("pub");
    pub.publish("s/1", "queued", 2, false, 3);
    pub.publish("r", "kept", 0, true);
    ASSERT_TRUE(b.save().ok());
  }
  broker b(cfg, {});
  ASSERT_TRUE(b.load().ok());
  EXPECT_EQ(b.retained_count(), 1u);
  EXPECT_EQ(b.subscription_count(), 1u);
  client again(b);
  EXPECT_TRUE(again.connect("keep", false).session_present);
  auto got = again.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "queued");
  EXPECT_EQ(got[0].qos, 2);
  std::filesystem::remove_all(dir);
}

TEST(MqttBroker, CorruptStateFileIsAnError) {
  auto dir = std::filesystem::temp_directory_path() / ("mqtt_broker_bad_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "broker.state");
    out << "LDMQTT01garbage";
  }
  broker_config cfg;
  cfg.data_dir = dir.string();
  broker b(cfg, {});
  EXPECT_EQ(b.load().code(), errc::corruption);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liandu::connect::mqtt
