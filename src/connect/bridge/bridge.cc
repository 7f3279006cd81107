#include "connect/bridge/bridge.h"

#include <mosquitto.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::bridge {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t fingerprint(std::string_view topic, std::string_view payload) {
  uint64_t a = std::hash<std::string_view>{}(topic);
  uint64_t b = std::hash<std::string_view>{}(payload);
  return a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
}

// Entries kept for echo detection at most; beyond it the oldest are
// forgotten (a copy may then come back once).
constexpr size_t max_echo_entries = 10000;

std::string mosquitto_error(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

// Detail kept from libmosquitto's log per connection attempt at most.
constexpr size_t max_attempt_log = 512;

// Asked for the key file's passphrase: there is none to give. Without this
// callback OpenSSL would prompt on the terminal and block the bridge thread;
// an encrypted key now fails to load with an error instead.
int no_passphrase(char*, int, int, void*) { return 0; }

const char* or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

}  // namespace

int subscribed_qos(int configured) {
  // At QoS 2 libmosquitto sends PUBREC as soon as the PUBLISH arrives, before
  // on_message, and the remote broker may discard the message at PUBREC. At
  // QoS 1 the PUBACK waits for on_message (see start), so that is the most a
  // bridge that stores what it receives can promise.
  return configured > 1 ? 1 : configured;
}

const char* state_name(state s) {
  switch (s) {
    case state::stopped: return "stopped";
    case state::connecting: return "connecting";
    case state::connected: return "connected";
    case state::error: return "error";
  }
  return "unknown";
}

bridge::bridge(bridge_config config, message_fn on_message, timing t)
    : config_(std::move(config)), on_message_(std::move(on_message)), timing_(t) {}

bridge::~bridge() { stop(); }

void bridge::start() {
  if (thread_.joinable()) return;
  init_library();
  mosq_ = mosquitto_new(config_.client_id.c_str(), config_.clean_session, this);
  if (mosq_ == nullptr) {
    set_state(state::error, std::string("cannot create the MQTT client: ") + std::strerror(errno));
    return;
  }
  // We run our own loop but publish from other threads. In this mode
  // libmosquitto only queues the packets it makes, and mosquitto_loop writes
  // them after the read that caused them, including our on_message: so the
  // PUBACK of a QoS 1 message reaches the wire only after ingest returned,
  // that is after its points are durable (bridge_ack_test checks this).
  mosquitto_threaded_set(mosq_, true);
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (!config_.username.empty()) {
    mosquitto_username_pw_set(mosq_, config_.username.c_str(),
                              config_.password.empty() ? nullptr : config_.password.c_str());
  }
  mosquitto_connect_callback_set(mosq_, &bridge::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &bridge::on_disconnect);
  mosquitto_message_callback_set(mosq_, &bridge::on_message_cb);
  mosquitto_log_callback_set(mosq_, &bridge::on_log);
  tls_ready_ = false;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void bridge::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(wait_mu_);
    wait_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (mosq_ != nullptr) {
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }
  connected_ = false;
  set_state(state::stopped, "");
}

void bridge::set_state(state s, const std::string& err) {
  std::lock_guard lock(mu_);
  state_ = s;
  if (!err.empty()) last_error_ = err;
  if (s == state::connected) last_error_.clear();
}

void bridge::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mu_);
  wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

std::string bridge::configure_tls() {
  if (!config_.tls || tls_ready_) return "";
  // The files were readable when the entry was accepted; say which one went
  // away rather than libmosquitto's bare "Invalid arguments provided".
  if (status s = check_tls_files(config_); !s.ok()) return s.message();
  int rc = mosquitto_tls_set(mosq_, or_null(config_.ca_file), or_null(config_.ca_path),
                             or_null(config_.cert_file), or_null(config_.key_file), &no_passphrase);
  // SSL_VERIFY_PEER (1): the broker's certificate must chain to the CA.
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(mosq_, 1, config_.tls_version.c_str(), nullptr);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(mosq_, config_.insecure);
  if (rc != MOSQ_ERR_SUCCESS) return "TLS setup: " + mosquitto_error(rc);
  tls_ready_ = true;
  return "";
}

std::string bridge::connect_and_run(std::chrono::milliseconds& delay) {
  // With TLS the handshake runs inside mosquitto_loop; its failures come back
  // from there like a refused or reset TCP connection.
  int rc = mosquitto_connect_async(mosq_, config_.host.c_str(), config_.port, config_.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) return mosquitto_error(rc);
  auto began = std::chrono::steady_clock::now();
  while (!stopping_) {
    rc = mosquitto_loop(mosq_, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS) return mosquitto_error(rc);
    if (connected_) {
      delay = timing_.backoff_initial;
    } else if (std::chrono::steady_clock::now() - began > timing_.connect_timeout) {
      return "no CONNACK within " + std::to_string(timing_.connect_timeout.count()) + " ms";
    }
  }
  return "";
}

// The connection loop: connect (without blocking on the TCP handshake), run
// the client until the connection fails, back off, repeat.
void bridge::run() {
  auto delay = timing_.backoff_initial;
  while (!stopping_) {
    {
      std::lock_guard lock(mu_);
      attempt_error_.clear();
      attempt_log_.clear();
      state_ = state::connecting;
    }
    std::string err = configure_tls();
    if (err.empty()) err = connect_and_run(delay);
    if (stopping_) break;
    connected_ = false;
    {
      std::lock_guard lock(mu_);
      if (!attempt_error_.empty()) err = attempt_error_;
      if (!attempt_log_.empty()) err += " (" + attempt_log_ + ")";
    }
    set_state(state::error, config_.host + ":" + std::to_string(config_.port) + ": " + err +
                                "; retrying in " + std::to_string(delay.count()) + " ms");
    wait(delay);
    delay = std::min(delay * 2, timing_.backoff_max);
  }
  if (connected_) {
    mosquitto_disconnect(mosq_);
    // Let the DISCONNECT reach the socket.
    for (int i = 0; i < 5 && mosquitto_loop(mosq_, 20, 1) == MOSQ_ERR_SUCCESS; ++i) {
    }
  }
}

void bridge::on_connect(mosquitto* m, void* self, int rc) {
  auto* b = static_cast<bridge*>(self);
  if (rc != 0) {
    std::lock_guard lock(b->mu_);
    b->attempt_error_ = std::string("refused: ") + mosquitto_connack_string(rc);
    return;
  }
  {
    std::lock_guard lock(b->mu_);
    ++b->connections_;
  }
  b->connected_ = true;
  b->set_state(state::connected, "");
  // Subscriptions are made again on every connect: with a clean session the
  // broker forgot them, and re-subscribing a persistent one is harmless.
  for (const auto& s : b->config_.subscribe) {
    int src = mosquitto_subscribe(m, nullptr, s.filter.c_str(), subscribed_qos(s.qos));
    if (src != MOSQ_ERR_SUCCESS) {
      std::lock_guard lock(b->mu_);
      b->last_error_ = "subscribe " + s.filter + ": " + mosquitto_error(src);
    }
  }
}

void bridge::on_disconnect(mosquitto*, void* self, int rc) {
  auto* b = static_cast<bridge*>(self);
  b->connected_ = false;
  if (rc != 0 && !b->stopping_) {
    std::lock_guard lock(b->mu_);
    if (b->attempt_error_.empty()) b->attempt_error_ = "connection lost";
  }
}

void bridge::on_log(mosquitto*, void* self, int level, const char* text) {
  if (level != MOSQ_LOG_ERR || text == nullptr) return;
  auto* b = static_cast<bridge*>(self);
  std::lock_guard lock(b->mu_);
  if (b->attempt_log_.size() >= max_attempt_log) return;
  if (!b->attempt_log_.empty()) b->attempt_log_ += "; ";
  b->attempt_log_.append(text, std::min(std::strlen(text), max_attempt_log - b->attempt_log_.size()));
}

void bridge::on_message_cb(mosquitto* mosq, void* self, const mosquitto_message* m) {
  auto* b = static_cast<bridge*>(self);
  inbound msg;
  msg.topic = m->topic;
  if (m->payload != nullptr && m->payloadlen > 0)
    msg.payload.assign(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
  msg.qos = m->qos;
  msg.retain = m->retain;
  if (b->is_echo(msg.topic, msg.payload)) return;
  {
    std::lock_guard lock(b->mu_);
    msg.replay = msg.retain && b->connections_ > 1;
  }
  ++b->in_;
  if (!b->on_message_) return;
  status st = b->on_message_(b->config_, msg);
  if (st.ok()) return;
  // The PUBACK (QoS 1) is queued but not yet written (see start): shutting the
  // socket down makes its write fail, so the message stays unacknowledged and
  // the connection loop reconnects with backoff.
  {
    std::lock_guard lock(b->mu_);
    b->attempt_error_ = "not acknowledged, " + msg.topic + ": " + st.message();
  }
  if (int fd = mosquitto_socket(mosq); fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

void bridge::forward(std::string_view topic, std::string_view payload) {
  const forward_rule* rule = nullptr;
  for (const auto& f : config_.forward) {
    if (mqtt::topic_matches(f.filter, topic)) {
      rule = &f;
      break;
    }
  }
  if (rule == nullptr) return;
  if (!connected_ || mosq_ == nullptr) {
    ++dropped_;
    return;
  }
  std::string remote = rule->remote_prefix + std::string(topic);
  remember_forwarded(remote, payload);
  int rc = mosquitto_publish(mosq_, nullptr, remote.c_str(), static_cast<int>(payload.size()), payload.data(),
                             rule->qos, false);
  if (rc == MOSQ_ERR_SUCCESS) {
    ++out_;
  } else {
    ++dropped_;
  }
}

void bridge::remember_forwarded(const std::string& remote_topic, std::string_view payload) {
  bool comes_back = false;
  for (const auto& s : config_.subscribe) {
    std::string_view group, inner = s.filter;
    mqtt::split_shared_filter(s.filter, &group, &inner);
    if (mqtt::topic_matches(inner, remote_topic)) {
      comes_back = true;
      break;
    }
  }
  if (!comes_back) return;
  int64_t now = steady_ns();
  std::lock_guard lock(echo_mu_);
  if (echoes_.size() >= max_echo_entries) {
    for (auto it = echoes_.begin(); it != echoes_.end();) {
      std::erase_if(it->second, [now](int64_t d) { return d < now; });
      it = it->second.empty() ? echoes_.erase(it) : std::next(it);
    }
    if (echoes_.size() >= max_echo_entries) echoes_.clear();
  }
  echoes_[fingerprint(remote_topic, payload)].push_back(
      now + std::chrono::duration_cast<std::chrono::nanoseconds>(timing_.echo_window).count());
}

bool bridge::is_echo(const std::string& topic, std::string_view payload) {
  std::lock_guard lock(echo_mu_);
  if (echoes_.empty()) return false;
  auto it = echoes_.find(fingerprint(topic, payload));
  if (it == echoes_.end()) return false;
  int64_t now = steady_ns();
  std::erase_if(it->second, [now](int64_t d) { return d < now; });
  bool echo = !it->second.empty();
  if (echo) it->second.erase(it->second.begin());
  if (it->second.empty()) echoes_.erase(it);
  return echo;
}

bridge_stats bridge::stats() const {
  bridge_stats s;
  {
    std::lock_guard lock(mu_);
    s.st = state_;
    s.last_error = last_error_;
  }
  s.messages_in = in_.load();
  s.messages_out = out_.load();
  s.messages_dropped = dropped_.load();
  return s;
}

}  // namespace liandu::connect::bridge
