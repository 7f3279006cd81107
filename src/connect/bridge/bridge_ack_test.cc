// When does the bridge acknowledge what the remote broker sends it? The
// remote broker here is a script on a raw socket, so that the test sees each
// packet libmosquitto writes and when.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connect/bridge/bridge_manager.h"

namespace liandu::connect::bridge {
namespace {

using namespace std::chrono_literals;

struct packet {
  uint8_t type = 0;  // the high nibble of the first byte
  uint8_t flags = 0;
  std::string body;
};

// One MQTT 3.1.1 connection, broker side, driven step by step by the test.
class scripted_broker {
 public:
  scripted_broker() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 1) != 0)
      return;
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~scripted_broker() {
    if (fd_ >= 0) ::close(fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  int port() const { return port_; }

  bool accept_client(std::chrono::milliseconds wait) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
    if (fd_ >= 0) ::close(fd_);
    closed_ = false;
    fd_ = ::accept(listen_fd_, nullptr, nullptr);
    return fd_ >= 0;
  }

  // Whether the client closed the connection (seen by a read).
  bool closed() const { return closed_; }

  // The next packet other than PINGREQ (answered), or nothing within `wait`.
  std::optional<packet> next(std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return std::nullopt;
      std::optional<packet> p = read_packet(left);
      if (!p) return std::nullopt;
      if (p->type == 12) {  // PINGREQ
        send(std::string("\xd0\x00", 2));
        continue;
      }
      return p;
    }
  }

  void send(const std::string& bytes) { (void)!::write(fd_, bytes.data(), bytes.size()); }

  static std::string publish(int qos, uint16_t id, const std::string& topic, const std::string& payload) {
    std::string var;
    var += static_cast<char>(topic.size() >> 8);
    var += static_cast<char>(topic.size() & 0xff);
    var += topic;
    var += static_cast<char>(id >> 8);
    var += static_cast<char>(id & 0xff);
    var += payload;
    std::string out;
    out += static_cast<char>(0x30 | (qos << 1));
    out += static_cast<char>(var.size());  // below 128 in these tests
    return out + var;
  }

 private:
  bool read_exact(char* buf, size_t n, std::chrono::steady_clock::time_point deadline) {
    size_t got = 0;
    while (got < n) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() < 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      ssize_t r = ::read(fd_, buf + got, n - got);
      if (r <= 0) {
        closed_ = true;
        return false;
      }
      got += static_cast<size_t>(r);
    }
    return true;
  }

  std::optional<packet> read_packet(std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    unsigned char b = 0;
    if (!read_exact(reinterpret_cast<char*>(&b), 1, deadline)) return std::nullopt;
    packet p;
    p.type = b >> 4;
    p.flags = b & 0x0f;
    size_t len = 0;
    for (int shift = 0; shift < 28; shift += 7) {
      unsigned char d = 0;
      if (!read_exact(reinterpret_cast<char*>(&d), 1, deadline)) return std::nullopt;
      len |= static_cast<size_t>(d & 0x7f) << shift;
      if ((d & 0x80) == 0) break;
    }
    p.body.resize(len);
    if (len > 0 && !read_exact(p.body.data(), len, deadline)) return std::nullopt;
    return p;
  }

  int listen_fd_ = -1;
  int fd_ = -1;
  bool closed_ = false;
  int port_ = 0;
};

// The packet is the PUBACK (type 4) of packet id `id`.
::testing::AssertionResult is_puback(const std::optional<packet>& p, uint16_t id) {
  if (!p) return ::testing::AssertionFailure() << "no packet";
  std::string want{static_cast<char>(id >> 8), static_cast<char>(id & 0xff)};
  if (p->type != 4 || p->body != want)
    return ::testing::AssertionFailure()
           << "packet type " << int(p->type) << ", body size " << p->body.size();
  return ::testing::AssertionSuccess();
}

// Blocks `ingest` until released, so that the test can look at the wire while
// a message is being stored.
class gate {
 public:
  void enter() {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  bool wait_entered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return entered_ >= n; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

nlohmann::json entry(int port, int qos) {
  return {{"name", "b"},  {"database", "plant"}, {"host", "127.0.0.1"},
          {"port", port}, {"keepalive_s", 60},   {"subscribe", {{{"filter", "remote/#"}, {"qos", qos}}}}};
}

// Accepts the bridge's connection, answers CONNECT, and returns the QoS the
// bridge asked for in its SUBSCRIBE (after answering it with that QoS).
int handshake(scripted_broker& broker) {
  if (!broker.accept_client(10s)) return -1;
  std::optional<packet> c = broker.next(10s);
  if (!c || c->type != 1) return -1;
  broker.send(std::string("\x20\x02\x00\x00", 4));
  std::optional<packet> s = broker.next(10s);
  if (!s || s->type != 8 || s->body.size() < 5) return -1;
  int qos = static_cast<unsigned char>(s->body.back());
  std::string suback("\x90\x03", 2);
  suback += s->body.substr(0, 2);
  suback += static_cast<char>(qos);
  broker.send(suback);
  return qos;
}

class BridgeAck : public ::testing::Test {
 protected:
  // `results`: what ingest returns for the first messages, in order; ok after.
  void start(int qos, std::vector<status> results = {}) {
    results_ = std::move(results);
    manager_options o;
    o.bridge_timing.backoff_initial = 50ms;
    o.ingest = [this](std::string_view, std::string_view, std::string_view p) {
      gate_.enter();
      std::lock_guard lock(mu_);
      payloads_.push_back(std::string(p));
      if (payloads_.size() <= results_.size()) return results_[payloads_.size() - 1];
      return status{};
    };
    manager_ = std::make_unique<bridge_manager>(o);
    ASSERT_TRUE(manager_->put(entry(broker_.port(), qos)).ok());
    manager_->start();
  }
  void TearDown() override {
    gate_.open();
    if (manager_) manager_->stop();
  }

  std::vector<std::string> payloads() {
    std::lock_guard lock(mu_);
    return payloads_;
  }

  scripted_broker broker_;
  gate gate_;
  std::mutex mu_;
  std::vector<status> results_;
  std::vector<std::string> payloads_;
  std::unique_ptr<bridge_manager> manager_;
};

// QoS 1: the remote broker may forget a message once it has the PUBACK, so
// the PUBACK must not leave before `ingest` (which returns once the points are
// durable) has returned.
TEST_F(BridgeAck, Qos1PubackLeavesOnlyAfterIngestReturns) {
  ASSERT_NE(broker_.port(), 0);
  start(1);
  ASSERT_EQ(handshake(broker_), 1);
  broker_.send(scripted_broker::publish(1, 7, "remote/a", "42"));
  ASSERT_TRUE(gate_.wait_entered(1));
  std::optional<packet> early = broker_.next(500ms);
  EXPECT_FALSE(early.has_value()) << "packet type " << int(early->type) << " before ingest returned";
  gate_.open();
  EXPECT_TRUE(is_puback(broker_.next(10s), 7));
}

// Several QoS 1 messages in one read: each PUBACK follows its own ingest.
TEST_F(BridgeAck, Qos1BackToBackMessagesAreEachAckedAfterTheirIngest) {
  ASSERT_NE(broker_.port(), 0);
  start(1);
  ASSERT_EQ(handshake(broker_), 1);
  broker_.send(scripted_broker::publish(1, 1, "remote/a", "1") +
               scripted_broker::publish(1, 2, "remote/a", "2"));
  ASSERT_TRUE(gate_.wait_entered(1));
  EXPECT_FALSE(broker_.next(300ms).has_value());
  gate_.open();
  for (uint16_t id = 1; id <= 2; ++id) {
    EXPECT_TRUE(is_puback(broker_.next(10s), id));
  }
}

// A write that failed (the disk, or the head memory limit while a checkpoint
// runs) is not acknowledged: the bridge drops the connection, and the remote
// broker delivers the message again after the reconnect.
TEST_F(BridgeAck, FailedWriteIsNotAcknowledgedAndComesAgain) {
  ASSERT_NE(broker_.port(), 0);
  gate_.open();
  start(1, {error(errc::io_error, "wal: write: No space left on device")});
  ASSERT_EQ(handshake(broker_), 1);
  broker_.send(scripted_broker::publish(1, 9, "remote/a", "42"));
  // Nothing comes back before the connection closes.
  std::optional<packet> p = broker_.next(10s);
  EXPECT_FALSE(p.has_value()) << "packet type " << int(p->type);
  EXPECT_TRUE(broker_.closed());
  // The bridge says why (once its connection loop has seen the failure).
  nlohmann::json listed;
  for (int i = 0; i < 500; ++i) {
    listed = manager_->list()[0];
    if (!listed["last_error"].get<std::string>().empty()) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(
      listed["last_error"].get<std::string>().find("not acknowledged, remote/a: wal: write: No space left"),
      std::string::npos)
      << listed.dump();
  // The remote session delivers it again (DUP) on the next connection.
  ASSERT_EQ(handshake(broker_), 1);
  std::string again = scripted_broker::publish(1, 9, "remote/a", "42");
  again[0] = static_cast<char>(again[0] | 0x08);
  broker_.send(again);
  EXPECT_TRUE(is_puback(broker_.next(10s), 9));
  EXPECT_EQ(payloads(), (std::vector<std::string>{"42", "42"}));
}

// A payload that cannot be mapped fails the same way every time: it is
// acknowledged (and counted by ingest), so it cannot block the bridge.
TEST_F(BridgeAck, UnmappablePayloadIsAcknowledged) {
  ASSERT_NE(broker_.port(), 0);
  gate_.open();
  start(1, {error(errc::invalid_argument, "topic remote/a: no number at $.v")});
  ASSERT_EQ(handshake(broker_), 1);
  broker_.send(scripted_broker::publish(1, 3, "remote/a", "{}"));
  EXPECT_TRUE(is_puback(broker_.next(10s), 3));
  EXPECT_FALSE(broker_.closed());
}

// QoS 2: libmosquitto answers PUBREC as soon as the PUBLISH arrives, and the
// remote broker may forget the message then (MQTT 3.1.1, 4.3.3). A bridge that
// stores what it receives therefore subscribes at QoS 1 at most.
TEST_F(BridgeAck, Qos2SubscriptionIsMadeAtQos1) {
  ASSERT_NE(broker_.port(), 0);
  start(2);
  EXPECT_EQ(handshake(broker_), 1);
}

}  // namespace
}  // namespace liandu::connect::bridge
