#include "connect/bridge/bridge.h"

#include <mosquitto.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
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

namespace {

// `s.filter` in the bridge's share group (kept when it names a group).
std::string shared_filter(const bridge_config& c, const subscription& s) {
  std::string_view group, inner;
  if (mqtt::split_shared_filter(s.filter, &group, &inner)) return s.filter;
  return "$share/" + c.client_id + "/" + s.filter;
}

}  // namespace

std::string subscribed_filter(const bridge_config& c, const subscription& s) {
  return c.connections <= 1 ? s.filter : shared_filter(c, s);
}

std::string connection_client_id(const bridge_config& c, int index) {
  return index == 0 ? c.client_id : c.client_id + "-" + std::to_string(index + 1);
}

std::vector<std::string> connection_client_ids(const bridge_config& c) {
  std::vector<std::string> ids;
  for (int i = 0; i < std::max(1, c.connections); ++i) ids.push_back(connection_client_id(c, i));
  return ids;
}

std::vector<std::string> sessions_left_behind(const bridge_config& before, const bridge_config* after) {
  // A clean session ends with its connection.
  if (before.clean_session) return {};
  std::vector<std::string> kept;
  if (after != nullptr && after->host == before.host && after->port == before.port)
    kept = connection_client_ids(*after);
  std::vector<std::string> left;
  for (auto& id : connection_client_ids(before))
    if (std::find(kept.begin(), kept.end(), id) == kept.end()) left.push_back(std::move(id));
  return left;
}

std::vector<std::string> session_filters(const bridge_config& c) {
  std::vector<std::string> filters;
  for (const auto& s : c.subscribe) {
    for (std::string f : {shared_filter(c, s), s.filter}) {
      if (std::find(filters.begin(), filters.end(), f) == filters.end()) filters.push_back(std::move(f));
    }
  }
  return filters;
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
    : config_(std::move(config)), on_message_(std::move(on_message)), timing_(t) {
  for (int i = 0; i < std::max(1, config_.connections); ++i)
    make_connection(i, connection_client_id(config_, i), phase::serve);
}

bridge::bridge(bridge_config config, message_fn on_message, timing t, left_sessions left)
    : config_(std::move(config)),
      on_message_(std::move(on_message)),
      timing_(t),
      unsubscribe_filters_(std::move(left.filters)) {
  for (size_t i = 0; i < left.client_ids.size(); ++i)
    make_connection(static_cast<int>(i), std::move(left.client_ids[i]), phase::drain);
}

void bridge::make_connection(int index, std::string client_id, phase ph) {
  auto c = std::make_unique<connection>();
  c->owner = this;
  c->index = index;
  c->client_id = std::move(client_id);
  c->ph = ph;
  connections_.push_back(std::move(c));
}

bridge::~bridge() { stop(); }

std::string bridge::make_client(connection& c, bool clean_session) {
  if (c.mosq != nullptr) mosquitto_destroy(c.mosq);
  if (c.ssl_ctx != nullptr) SSL_CTX_free(c.ssl_ctx);
  c.ssl_ctx = nullptr;  // made again for the new client by configure_tls
  c.mosq = mosquitto_new(c.client_id.c_str(), clean_session, &c);
  if (c.mosq == nullptr) return std::string("cannot create the MQTT client: ") + std::strerror(errno);
  // We run our own loop but publish from other threads. In this mode
  // libmosquitto only queues the packets it makes, and mosquitto_loop
  // writes them after the read that caused them, including our on_message:
  // so the PUBACK of a QoS 1 message reaches the wire only after ingest
  // returned, that is after its points are durable (bridge_ack_test checks
  // this). Each connection has its own socket and loop, so this holds for
  // every one of them.
  mosquitto_threaded_set(c.mosq, true);
  mosquitto_int_option(c.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (!config_.username.empty()) {
    mosquitto_username_pw_set(c.mosq, config_.username.c_str(),
                              config_.password.empty() ? nullptr : config_.password.c_str());
  }
  mosquitto_connect_callback_set(c.mosq, &bridge::on_connect);
  mosquitto_disconnect_callback_set(c.mosq, &bridge::on_disconnect);
  mosquitto_message_callback_set(c.mosq, &bridge::on_message_cb);
  mosquitto_unsubscribe_callback_set(c.mosq, &bridge::on_unsubscribe);
  mosquitto_log_callback_set(c.mosq, &bridge::on_log);
  return "";
}

void bridge::start() {
  init_library();
  stopping_ = false;
  for (auto& cp : connections_) {
    connection& c = *cp;
    if (c.thread.joinable() || c.ph == phase::done) continue;
    // A session left behind is resumed first, to be drained.
    if (std::string err = make_client(c, c.ph == phase::serve ? config_.clean_session : c.ph == phase::clean);
        !err.empty()) {
      set_state(c, state::error, err);
      continue;
    }
    // Not "stopped" between here and the thread's first attempt.
    set_state(c, state::connecting, "");
    c.thread = std::thread([this, &c] { run(c); });
  }
}

void bridge::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(wait_mu_);
    wait_cv_.notify_all();
  }
  for (auto& c : connections_) {
    if (c->thread.joinable()) c->thread.join();
  }
  for (auto& c : connections_) {
    if (c->mosq != nullptr) {
      mosquitto_destroy(c->mosq);
      c->mosq = nullptr;
    }
    if (c->ssl_ctx != nullptr) {
      SSL_CTX_free(c->ssl_ctx);
      c->ssl_ctx = nullptr;
    }
    c->connected = false;
    set_state(*c, state::stopped, "");
  }
}

void bridge::set_state(connection& c, state s, const std::string& err) {
  std::lock_guard lock(mu_);
  c.st = s;
  if (!err.empty()) c.last_error = err;
  if (s == state::connected) c.last_error.clear();
}

void bridge::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mu_);
  wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

// Our own TLS context for libmosquitto, without its defaults
// (MOSQ_OPT_SSL_CTX_WITH_DEFAULTS 0): libmosquitto 2.0.11 makes the attempt's
// SSL and sends the ClientHello inside mosquitto_connect_async, so a store
// or callback set on its own context after that call can come too late for
// the handshake (a revoked broker then got through); and handed a context
// with its defaults applied it never sets up the index its host name check
// and PSK callback find the client by, and refuses every broker. So we do
// what its defaults did: peer verification, the host name check (OpenSSL's,
// X509_VERIFY_PARAM_set1_host), lowest version, client certificate and key,
// PSK.
std::string bridge::make_tls_context(connection& c) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return "TLS setup: cannot create a TLS context";
  c.ssl_ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, config_.tls_version == "tlsv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  // With a psk too: a broker that answers with a certificate instead finds
  // an empty store and is refused.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &bridge::verify_broker, &c);
  SSL_CTX_set_default_passwd_cb(ctx, &bridge::on_key_passphrase);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, &c);
  if (!config_.psk.empty()) {
    SSL_CTX_set_app_data(ctx, &c);
    SSL_CTX_set_psk_client_callback(ctx, &bridge::on_psk);
    // TLS 1.2: PSK cipher suites only (TLS 1.3 negotiates the psk by itself).
    if (SSL_CTX_set_cipher_list(ctx, "PSK") != 1) return "TLS setup: no PSK cipher suite available";
  } else if (!config_.insecure) {
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // An IP address must be in an IP subjectAltName, a name in a DNS one.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, config_.host.c_str()) != 1 &&
        X509_VERIFY_PARAM_set1_host(param, config_.host.c_str(), 0) != 1)
      return "TLS setup: cannot check the broker's certificate for host " + config_.host;
  }
  ERR_clear_error();
  // libmosquitto takes a reference of its own.
  int rc = mosquitto_void_option(c.mosq, MOSQ_OPT_SSL_CTX, ctx);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_int_option(c.mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
  if (rc != MOSQ_ERR_SUCCESS) return "TLS setup: " + mosquitto_error(rc);
  return "";
}

std::string bridge::configure_tls(connection& c) {
  if (!config_.tls) return "";
  // The files were good when the entry was accepted; say which one went away
  // or changed (a key that no longer decrypts).
  if (status s = check_tls_files(config_); !s.ok()) return s.message();
  if (c.ssl_ctx == nullptr)
    if (std::string err = make_tls_context(c); !err.empty()) return err;
  const std::string who = "bridge " + config_.name + ": ";
  // A fresh store for each attempt, from the files as they are now: a CA
  // replaced on disk is no longer trusted, a renewed CRL replaces the old.
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return "TLS setup: cannot create a certificate store";
  SSL_CTX_set_cert_store(c.ssl_ctx, store);  // owns it, frees the last one
  if (!config_.ca_file.empty() && X509_STORE_load_file(store, config_.ca_file.c_str()) != 1)
    return who + "\"ca_file\" holds no CA certificate (PEM): " + config_.ca_file +
           " (TLS setup: " + openssl_reason() + ")";
  if (!config_.ca_path.empty() && X509_STORE_load_path(store, config_.ca_path.c_str()) != 1)
    return who + "\"ca_path\" cannot be used: " + config_.ca_path + " (TLS setup: " + openssl_reason() + ")";
  // The broker's own certificate must not be revoked by its issuer's CRL,
  // which must be in the file and current.
  if (!config_.crl_file.empty())
    if (status s = add_crls(config_, store); !s.ok()) return s.message();
  if (!config_.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c.ssl_ctx, config_.cert_file.c_str()) != 1)
      return who + "\"cert_file\" holds no certificate (PEM): " + config_.cert_file +
             " (TLS setup: " + openssl_reason() + ")";
    if (SSL_CTX_use_PrivateKey_file(c.ssl_ctx, config_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return who + "\"key_file\" cannot be loaded: " + config_.key_file + " (TLS setup: " + openssl_reason() +
             ")";
    if (SSL_CTX_check_private_key(c.ssl_ctx) != 1)
      return who + "\"key_file\" is not the key of \"cert_file\" " + config_.cert_file +
             " (TLS setup: " + openssl_reason() + ")";
  }
  ERR_clear_error();
  return "";
}

int bridge::on_key_passphrase(char* buf, int size, int, void* self) {
  auto* c = static_cast<connection*>(self);
  const bridge_config& config = c->owner->config_;
  // No file: nothing to give. Without this callback OpenSSL would prompt on
  // the terminal and block the bridge thread. (check_tls_files names an
  // encrypted key without a passphrase before we get here.)
  if (config.key_password_file.empty()) return 0;
  auto passphrase = read_key_password(config);
  if (!passphrase.ok()) {
    c->owner->append_attempt_log(*c, passphrase.error().message());
    return 0;
  }
  std::string& p = passphrase.value();
  int n = 0;  // none given: a passphrase longer than OpenSSL's buffer fails like a wrong one
  if (p.size() <= static_cast<size_t>(size)) {
    std::memcpy(buf, p.data(), p.size());
    n = static_cast<int>(p.size());
  }
  OPENSSL_cleanse(p.data(), p.size());
  return n;
}

unsigned int bridge::on_psk(ssl_st* ssl, const char*, char* identity, unsigned int max_identity_len,
                            unsigned char* psk, unsigned int max_psk_len) {
  auto* c = static_cast<connection*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const bridge_config& config = c->owner->config_;
  // Validated as whole bytes of hex; the bytes as written, leading zeros
  // included.
  long n = 0;
  unsigned char* key = OPENSSL_hexstr2buf(config.psk.c_str(), &n);
  unsigned int given = 0;
  if (key != nullptr && n > 0 && static_cast<unsigned long>(n) <= max_psk_len &&
      config.psk_identity.size() < max_identity_len) {
    std::memcpy(psk, key, static_cast<size_t>(n));
    std::memcpy(identity, config.psk_identity.c_str(), config.psk_identity.size() + 1);
    given = static_cast<unsigned int>(n);
  }
  if (key != nullptr) OPENSSL_clear_free(key, static_cast<size_t>(n));
  return given;
}

int bridge::verify_broker(x509_store_ctx_st* store, void* self) {
  auto* c = static_cast<connection*>(self);
  int ok = X509_verify_cert(store);
  int err = X509_STORE_CTX_get_error(store);
  if (ok > 0 || err == X509_V_OK) return ok;
  std::string subject = "?";
  if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
    char name[256];
    if (X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name) != nullptr) subject = name;
  }
  std::string reason = X509_verify_cert_error_string(err);
  if (err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH)
    reason = "host name verification failed: it is not for " + c->owner->config_.host;
  c->owner->append_attempt_log(*c, "broker certificate refused: " + reason + " (" + subject + ", depth " +
                                       std::to_string(X509_STORE_CTX_get_error_depth(store)) + ")");
  return ok;
}

std::string bridge::connect_and_run(connection& c, std::chrono::milliseconds& delay) {
  if (std::string err = connect_until_connack(c, delay); !err.empty() || stopping_) return err;
  while (!stopping_) {
    int rc = mosquitto_loop(c.mosq, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS) return mosquitto_error(rc);
  }
  return "";
}

std::string bridge::connect_until_connack(connection& c, std::chrono::milliseconds& delay) {
  // With TLS the handshake runs inside mosquitto_loop; its failures come back
  // from there like a refused or reset TCP connection.
  int rc = mosquitto_connect_async(c.mosq, config_.host.c_str(), config_.port, config_.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) return mosquitto_error(rc);
  auto began = std::chrono::steady_clock::now();
  while (!stopping_ && !c.connected) {
    rc = mosquitto_loop(c.mosq, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS) return mosquitto_error(rc);
    if (std::chrono::steady_clock::now() - began > timing_.connect_timeout)
      return "no CONNACK within " + std::to_string(timing_.connect_timeout.count()) + " ms";
  }
  if (c.connected) delay = timing_.backoff_initial;
  return "";
}

// Why drain before the clean connect: the broker discards what it queued
// for the session with it, messages that were never stored. Why unsubscribe
// first: the session is still a member of the share group, so the broker
// would hand it new messages while it drains, and one sent just before our
// DISCONNECT would stay unacknowledged in the session and be discarded.
// After the UNSUBACK it only delivers what it had queued (mosquitto 2.0
// does; MQTT 3.1.1 allows a broker to drop queued messages of a filter
// unsubscribed, which we cannot prevent).
std::string bridge::end_session(connection& c, std::chrono::milliseconds& delay) {
  if (c.ph == phase::drain) {
    if (std::string err = connect_until_connack(c, delay); !err.empty() || stopping_) return err;
    const int64_t connected = steady_ns();
    const int64_t quiet = std::chrono::nanoseconds(timing_.drain_quiet).count();
    const int64_t most = std::chrono::nanoseconds(timing_.drain_max).count();
    while (!stopping_) {
      int rc = mosquitto_loop(c.mosq, 100, 1);
      if (rc != MOSQ_ERR_SUCCESS) return mosquitto_error(rc);
      if (!c.connected) return "connection lost";
      int64_t now = steady_ns();
      if (now - connected >= most) break;
      if (c.unsubacks_pending == 0 && now - c.last_activity_ns >= quiet) break;
    }
    if (stopping_) return "";
    disconnect(c);
    set_phase(c, phase::clean);
    if (std::string err = make_client(c, true); !err.empty()) return err;
    if (std::string err = configure_tls(c); !err.empty()) return err;
  }
  // The broker discards the session at this CONNECT (clean session).
  if (std::string err = connect_until_connack(c, delay); !err.empty() || stopping_) return err;
  disconnect(c);
  set_phase(c, phase::done);
  return "";
}

void bridge::set_phase(connection& c, phase ph) {
  std::lock_guard lock(mu_);  // stats() reads it
  c.ph = ph;
}

void bridge::disconnect(connection& c) {
  mosquitto_disconnect(c.mosq);
  // Let the DISCONNECT reach the socket.
  for (int i = 0; i < 5 && mosquitto_loop(c.mosq, 20, 1) == MOSQ_ERR_SUCCESS; ++i) {
  }
  c.connected = false;
}

// The connection loop: connect (without blocking on the TCP handshake), run
// the client until the connection fails, back off, repeat. A connection
// ending a session left behind leaves the loop once it is done.
void bridge::run(connection& c) {
  auto delay = timing_.backoff_initial;
  while (!stopping_) {
    {
      std::lock_guard lock(mu_);
      c.attempt_error.clear();
      c.attempt_log.clear();
      c.st = state::connecting;
    }
    std::string err = configure_tls(c);
    if (err.empty()) err = c.ph == phase::serve ? connect_and_run(c, delay) : end_session(c, delay);
    if (stopping_) break;
    if (c.ph == phase::done) {
      std::lock_guard lock(mu_);
      c.st = state::stopped;
      c.last_error.clear();
      return;
    }
    c.connected = false;
    {
      std::lock_guard lock(mu_);
      if (!c.attempt_error.empty()) err = c.attempt_error;
      if (!c.attempt_log.empty()) err += " (" + c.attempt_log + ")";
    }
    set_state(c, state::error,
              config_.host + ":" + std::to_string(config_.port) + ": " + err + "; retrying in " +
                  std::to_string(delay.count()) + " ms");
    wait(delay);
    delay = std::min(delay * 2, timing_.backoff_max);
  }
  if (c.connected) disconnect(c);
}

void bridge::on_connect(mosquitto* m, void* self, int rc) {
  auto* c = static_cast<connection*>(self);
  bridge* b = c->owner;
  if (rc != 0) {
    std::lock_guard lock(b->mu_);
    c->attempt_error = std::string("refused: ") + mosquitto_connack_string(rc);
    return;
  }
  ++c->connects;
  c->connected = true;
  b->set_state(*c, state::connected, "");
  if (c->ph != phase::serve) {
    c->last_activity_ns = steady_ns();
    if (c->ph != phase::drain) return;
    // The broker stops queueing for the session; what it had queued still
    // comes (see end_session).
    c->unsubacks_pending = 0;
    for (const auto& f : b->unsubscribe_filters_) {
      int src = mosquitto_unsubscribe(m, nullptr, f.c_str());
      if (src == MOSQ_ERR_SUCCESS) {
        ++c->unsubacks_pending;
      } else {
        std::lock_guard lock(b->mu_);
        c->attempt_error = "unsubscribe " + f + ": " + mosquitto_error(src);
      }
    }
    return;
  }
  // Subscriptions are made again on every connect: with a clean session the
  // broker forgot them, and re-subscribing a persistent one is harmless.
  for (const auto& s : b->config_.subscribe) {
    std::string filter = subscribed_filter(b->config_, s);
    // The first connection resumes the persistent session of a bridge that
    // had one connection before, or several: drop the subscription of the
    // other kind (plain or shared), or it would get messages twice.
    if (c->index == 0 && !b->config_.clean_session) {
      std::string other = filter == s.filter ? shared_filter(b->config_, s) : s.filter;
      if (other != filter) mosquitto_unsubscribe(m, nullptr, other.c_str());
    }
    int src = mosquitto_subscribe(m, nullptr, filter.c_str(), subscribed_qos(s.qos));
    if (src != MOSQ_ERR_SUCCESS) {
      std::lock_guard lock(b->mu_);
      c->last_error = "subscribe " + filter + ": " + mosquitto_error(src);
    }
  }
}

void bridge::on_disconnect(mosquitto*, void* self, int rc) {
  auto* c = static_cast<connection*>(self);
  c->connected = false;
  if (rc != 0 && !c->owner->stopping_) {
    std::lock_guard lock(c->owner->mu_);
    if (c->attempt_error.empty()) c->attempt_error = "connection lost";
  }
}

void bridge::on_unsubscribe(mosquitto*, void* self, int) {
  auto* c = static_cast<connection*>(self);
  if (c->unsubacks_pending > 0) --c->unsubacks_pending;
  c->last_activity_ns = steady_ns();
}

void bridge::on_log(mosquitto*, void* self, int level, const char* text) {
  if (level != MOSQ_LOG_ERR || text == nullptr) return;
  auto* c = static_cast<connection*>(self);
  c->owner->append_attempt_log(*c, text);
}

void bridge::append_attempt_log(connection& c, std::string_view text) {
  std::lock_guard lock(mu_);
  std::string& log = c.attempt_log;
  if (log.size() >= max_attempt_log) return;
  if (!log.empty()) log += "; ";
  log.append(text.substr(0, max_attempt_log - log.size()));
}

void bridge::on_message_cb(mosquitto* mosq, void* self, const mosquitto_message* m) {
  auto* c = static_cast<connection*>(self);
  bridge* b = c->owner;
  inbound msg;
  msg.topic = m->topic;
  if (m->payload != nullptr && m->payloadlen > 0)
    msg.payload.assign(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
  msg.qos = m->qos;
  msg.retain = m->retain;
  // MQTT 3.1.1 sets retain only on what a new subscription replays. A broker
  // may replay retained messages to every member of a share group (mosquitto
  // 2.0 does): the first connection takes them in, the others' copies are
  // acknowledged and dropped.
  if (c->ph != phase::serve) {
    // A session being drained holds no subscription, so nothing is a replay.
    c->last_activity_ns = steady_ns();
  } else {
    if (msg.retain && c->index > 0) return;
    msg.replay = msg.retain && c->connects.load() > 1;
  }
  if (b->is_echo(msg.topic, msg.payload)) return;
  ++b->in_;
  if (!b->on_message_) return;
  status st = b->on_message_(b->config_, msg);
  if (st.ok()) return;
  // The PUBACK (QoS 1) is queued but not yet written (see start): shutting the
  // socket down makes its write fail, so the message stays unacknowledged and
  // the connection loop reconnects with backoff.
  {
    std::lock_guard lock(b->mu_);
    c->attempt_error = "not acknowledged, " + msg.topic + ": " + st.message();
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
  mosquitto* via = nullptr;
  for (const auto& c : connections_) {
    if (c->ph == phase::serve && c->connected && c->mosq != nullptr) {
      via = c->mosq;
      break;
    }
  }
  if (via == nullptr) {
    ++dropped_;
    return;
  }
  std::string remote = rule->remote_prefix + std::string(topic);
  remember_forwarded(remote, payload);
  int rc = mosquitto_publish(via, nullptr, remote.c_str(), static_cast<int>(payload.size()), payload.data(),
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
  bool any_error = false, any_connecting = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& c : connections_) {
      if (c->st == state::connected) ++s.connections_up;
      any_error |= c->st == state::error;
      any_connecting |= c->st == state::connecting;
      if (c->ph != phase::serve) {
        if (c->ph == phase::done) {
          ++s.sessions_ended;
          continue;
        }
        s.sessions_to_end.push_back(c->client_id);
      }
      if (!s.last_error.empty() || c->last_error.empty()) continue;
      if (c->ph != phase::serve) {
        s.last_error = "session " + c->client_id + ": " + c->last_error;
      } else {
        s.last_error = connections_.size() == 1
                           ? c->last_error
                           : "connection " + std::to_string(c->index + 1) + ": " + c->last_error;
      }
    }
  }
  if (s.connections_up == static_cast<int>(connections_.size())) {
    s.st = state::connected;
  } else if (any_error) {
    s.st = state::error;
  } else if (any_connecting || s.connections_up > 0) {
    s.st = state::connecting;
  } else {
    s.st = state::stopped;
  }
  s.messages_in = in_.load();
  s.messages_out = out_.load();
  s.messages_dropped = dropped_.load();
  return s;
}

}  // namespace liandu::connect::bridge
