#include "app/serve.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.h"
#include "base/prometheus_text.h"
#include "catalog/catalog.h"
#ifdef LIANDU_WITH_MQTT
#include "app/mqtt_ingest.h"
#include "app/sparkplug_ingest.h"
#include "connect/mqtt/server/server.h"
#include "connect/sparkplug/topic.h"
#endif
#ifdef LIANDU_WITH_BRIDGE
#include "connect/bridge/bridge_collection.h"
#endif
#ifdef LIANDU_WITH_MODBUS
#include "connect/modbus/device_collection.h"
#include "storage/write_batch.h"
#endif
#include "cli/commands.h"
#include "cli/http_client.h"
#include "http/handlers/api.h"
#include "http/handlers/live_hub.h"
#include "http/server.h"
#include "query/engine_storage.h"
#include "query/executor/continuous_query.h"
#include "storage/engine.h"
#include "storage/fs/file_util.h"
#include "toolbox/service/rules_service.h"
#include "toolbox/service/twin_service.h"

namespace liandu::app {

namespace {

bool split_host_port(const std::string& bind, std::string& host, uint16_t& port) {
  auto colon = bind.rfind(':');
  if (colon == std::string::npos) return false;
  host = bind.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    int p = std::stoi(bind.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return !host.empty();
}

#ifdef LIANDU_WITH_MQTT
// The Sparkplug primary host's STATE on our broker: retained, QoS 1, so edge
// nodes that connect later (or after a restart) see it too.
void publish_host_state(connect::mqtt::mqtt_server& srv, const std::string& host_id, bool online,
                        int64_t timestamp_ms) {
  connect::mqtt::message m;
  m.topic = connect::sparkplug::host_state_topic(host_id);
  m.payload = connect::sparkplug::host_state_payload(online, timestamp_ms);
  m.qos = 1;
  m.retain = true;
  srv.broker().publish(std::move(m));
}
#endif

// POSTs a webhook body to url with its delivery id, signed with secret
// unless it is "". An https:// receiver must present a certificate for its
// host that chains to the system store or to ca_file (--webhook-ca-file). A
// URL without a port means 80 (http) or 443 (https); every step of the
// attempt (connect, TLS handshake, send, response) must end within timeout.
status post_webhook(const std::string& url, const std::string& secret, const std::string& body,
                    const std::string& delivery_id, const std::string& ca_file,
                    std::chrono::milliseconds timeout) {
  cli::http_client_options co;
  co.ca_file = ca_file;
  co.timeout = timeout;
  auto client = cli::http_client::from_url(url, co);
  if (!client.ok()) return client.error();
  // X-Liandu-Delivery-Id: the same on every attempt of a delivery (after a
  // restart too), for the receiver to drop repeats (README, "webhook").
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"},
                                                           {"X-Liandu-Delivery-Id", delivery_id}};
  if (!secret.empty())
    headers.emplace_back("X-Liandu-Signature", toolbox::rules::webhook_signature(secret, body));
  auto r = (*client)->request("POST", (*client)->target(), body, headers);
  if (!r.ok()) return r.error();
  if (r->status < 200 || r->status >= 300)
    return error(errc::io_error, "HTTP " + std::to_string(r->status) + " from " + (*client)->origin());
  return {};
}

// A --flag FILE holding a JSON array of entries, each given to `put` at
// start (the same entries the REST collections take). Returns 0, or the exit
// code after printing which file and entry is wrong.
int apply_json_array_file(const char* flag, const std::string& path,
                          const std::function<status(const nlohmann::json&)>& put) {
  if (path.empty()) return 0;
  auto text = storage::fs::read_file(path);
  if (!text.ok()) {
    std::fprintf(stderr, "liandu: %s: %s\n", flag, text.error().to_string().c_str());
    return 1;
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_array()) {
    std::fprintf(stderr, "liandu: %s %s: expected a JSON array of entries\n", flag, path.c_str());
    return 2;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    if (status st = put(j[i]); !st.ok()) {
      std::fprintf(stderr, "liandu: %s %s: entry %zu: %s\n", flag, path.c_str(), i, st.message().c_str());
      return 2;
    }
  }
  return 0;
}

}  // namespace

int serve(const serve_options& o) {
  // Signals are taken by one thread with sigwait, so block them everywhere first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string host;
  uint16_t port = 0;
  if (!split_host_port(o.http_bind, host, port)) {
    std::fprintf(stderr, "liandu: --http-bind %s: expected host:port\n", o.http_bind.c_str());
    return 2;
  }
  if (!o.webhook_ca_file.empty()) {
    if (status cs = cli::check_ca_file(o.webhook_ca_file); !cs.ok()) {
      std::fprintf(stderr, "liandu: --webhook-ca-file: %s\n", cs.message().c_str());
      return 2;
    }
  }
  auto start = std::chrono::steady_clock::now();
  storage::engine_options eo;
  eo.data_dir = o.data_dir;
  eo.head_memory_limit = o.head_memory_limit;
  eo.checkpoint_bytes = o.checkpoint_bytes;
  eo.max_series_per_database = o.max_series_per_database;
  auto engine = storage::engine::open(eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "liandu: cannot open data folder %s: %s\n", o.data_dir.c_str(),
                 engine.error().to_string().c_str());
    return 1;
  }
  for (const auto& m : (*engine)->recovery().messages)
    std::fprintf(stderr, "liandu: recovery: %s\n", m.c_str());

  auto cat = catalog::catalog::open(storage::fs::join(o.data_dir, "catalog.db"));
  if (!cat.ok()) {
    std::fprintf(stderr, "liandu: cannot open catalog: %s\n", cat.error().to_string().c_str());
    return 1;
  }
  std::optional<std::string> wanted;
  if (const char* t = std::getenv("LIANDU_ADMIN_TOKEN"); t != nullptr && *t != '\0') wanted = t;
  auto admin = (*cat)->bootstrap_admin(wanted);
  if (!admin.ok()) {
    std::fprintf(stderr, "liandu: cannot create the admin token: %s\n", admin.error().to_string().c_str());
    return 1;
  }
  // Databases created before the catalog knew them (or by an older version)
  // belong to the default tenant.
  for (const auto& db : (*engine)->databases()) {
    if (!(*cat)->database_tenant(db).ok()) (void)(*cat)->register_database((*cat)->default_tenant_id(), db);
  }

  http::handlers::api a{**engine, **cat, {}, {}};
  a.options.auth_enabled = o.auth;
  a.options.line_limits.max_line_bytes = o.max_line_bytes;
  a.options.query_memory_limit_bytes = o.query_memory_limit;
  // Continuous queries: definitions persisted as JSON in the data folder,
  // run every second by one thread against the unscoped engine.
  query::continuous_query_registry cqs;
  const std::string cq_path = storage::fs::join(o.data_dir, "continuous_queries.json");
  if (auto saved = storage::fs::read_file(cq_path); saved.ok()) {
    status s = cqs.deserialize(*saved);
    if (!s.ok()) std::fprintf(stderr, "liandu: continuous queries not loaded: %s\n", s.to_string().c_str());
  }
  std::mutex cq_persist_mu;
  a.options.continuous_queries = &cqs;
  a.options.persist_continuous_queries = [&] {
    std::lock_guard lock(cq_persist_mu);
    status s = storage::fs::write_file_atomic(cq_path, cqs.serialize());
    if (!s.ok()) std::fprintf(stderr, "liandu: saving continuous queries: %s\n", s.to_string().c_str());
  };
  std::atomic<bool> stopping{false};
  std::thread cq_runner([&] {
    query::engine_storage unscoped(**engine);
    while (!stopping.load()) {
      for (const auto& r : query::run_continuous_queries(unscoped, cqs, now_ns())) {
        if (!r.error.empty()) std::fprintf(stderr, "liandu: continuous query: %s\n", r.error.c_str());
      }
      for (int i = 0; i < 10 && !stopping.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // An early return (a bad --modbus-devices entry, ...) must not destroy a
  // joinable thread: that would abort instead of exiting with the error code.
  struct cq_joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~cq_joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } cq_join{stopping, cq_runner};

  http::handlers::live_hub live;
  a.options.live = &live;
  toolbox::rules_service::options ro;
  ro.dir = storage::fs::join(o.data_dir, "rules");
  ro.webhook_threads = o.webhook_threads;
  // Webhook actions name a receiver of the rule's tenant (catalog); its URL
  // and secret are looked up at each attempt, so a changed URL applies to
  // retries and a removed receiver fails them.
  auto receiver_of = [&cat](std::string_view db,
                            std::string_view receiver) -> result<catalog::webhook_receiver> {
    auto tenant = (*cat)->database_tenant(db);
    if (!tenant.ok()) return tenant.error();
    return (*cat)->webhook(*tenant, receiver);
  };
  ro.check_webhook = [&cat, receiver_of](std::string_view db, std::string_view receiver) -> status {
    auto w = receiver_of(db, receiver);
    if (w.ok()) return {};
    // A --rules entry may name a database made later; its tenant, and so
    // its receivers, are known only then (each delivery looks them up).
    auto tenant = (*cat)->database_tenant(db);
    if (!tenant.ok()) return tenant.error().code() == errc::not_found ? status{} : tenant.error();
    if (w.error().code() != errc::not_found) return w.error();
    return error(errc::not_found, "no webhook receiver \"" + std::string(receiver) +
                                      "\" in this tenant (an admin adds it with POST /api/v1/webhooks)");
  };
  // Called on the rules service's delivery threads, at once for different
  // receivers (each call makes its own client). Each failed attempt is
  // logged with its reason (client errors name the receiver's scheme, host
  // and port, not its path, which may hold a key); counts are in /metrics and
  // per receiver in GET /api/v1/webhooks.
  ro.send_webhook = [receiver_of, &o](const std::string& db, const std::string& receiver,
                                      const std::string& body, const std::string& delivery_id) -> status {
    auto w = receiver_of(db, receiver);
    status s = w.ok() ? post_webhook(w->url, w->secret, body, delivery_id, o.webhook_ca_file,
                                     std::chrono::milliseconds(o.webhook_timeout_ms))
                      : w.error();
    if (!s.ok()) {
      std::fprintf(stderr, "liandu: webhook receiver \"%s\" (database %s): %s\n", receiver.c_str(),
                   db.c_str(), s.message().c_str());
    }
    return s;
  };
  toolbox::rules_service rules(**engine, ro);
  if (status rs = rules.start(); !rs.ok()) {
    std::fprintf(stderr, "liandu: cannot start rules: %s\n", rs.to_string().c_str());
    return 1;
  }
  a.options.rules = &rules;
  a.options.metric_sources.push_back([&rules](prometheus::text_writer& w) {
    auto ws = rules.webhook_stats();
    w.counter("liandu_webhook_attempts_total", "Webhook delivery attempts.", ws.attempts);
    w.counter("liandu_webhook_delivered_total", "Webhook deliveries a receiver accepted (2xx).",
              ws.delivered);
    w.counter("liandu_webhook_retries_total", "Failed webhook attempts scheduled again.", ws.retries);
    w.counter("liandu_webhook_failed_total", "Webhook deliveries given up after the last attempt.",
              ws.failed);
    w.counter("liandu_webhook_rejected_total",
              "Webhook deliveries refused: the receiver's queue or all queues full.", ws.rejected);
    w.counter("liandu_webhook_restored_total",
              "Webhook deliveries queued again at start from the webhook log (not delivered before a "
              "restart).",
              ws.restored);
    w.gauge("liandu_webhook_queued",
            "Webhook deliveries not yet delivered nor given up (being attempted included).", ws.queued);
  });
  // --webhooks: receivers as in POST /api/v1/webhooks, each with an
  // optional "tenant"; before --rules, whose webhook actions name them.
  if (int rc = apply_json_array_file(
          "--webhooks", o.webhooks,
          [&](const nlohmann::json& e) -> status {
            if (!e.is_object()) return error(errc::invalid_argument, "must be an object");
            for (auto& [key, v] : e.items()) {
              if (key != "name" && key != "url" && key != "secret" && key != "tenant")
                return error(errc::invalid_argument, "\"" + key + "\": unknown member");
              if (!v.is_string()) return error(errc::invalid_argument, "\"" + key + "\" must be a string");
            }
            int64_t tenant = (*cat)->default_tenant_id();
            if (e.contains("tenant")) {
              auto t = (*cat)->tenant_id(e["tenant"].get<std::string>());
              if (!t.ok()) return t.error();
              tenant = *t;
            }
            return (*cat)->put_webhook(tenant,
                                       {e.value("name", ""), e.value("url", ""), e.value("secret", ""), 0});
          });
      rc != 0) {
    return rc;
  }
  // --rules: rules as in POST /api/v1/rules, each with its "database".
  if (int rc = apply_json_array_file(
          "--rules", o.rules,
          [&](const nlohmann::json& e) -> status {
            if (!e.is_object() || !e.contains("database") || !e["database"].is_string())
              return error(errc::invalid_argument, "\"database\" is required (a string)");
            nlohmann::json rule = e;
            rule.erase("database");
            auto r = rules.put_rule(e["database"].get<std::string>(), rule.dump());
            return r.ok() ? status{} : r.error();
          });
      rc != 0) {
    return rc;
  }
  // Device twins: desired vs reported configuration, drift events.
  toolbox::twin_service::options two;
  two.dir = storage::fs::join(o.data_dir, "twins");
  toolbox::twin_service twins(**engine, two);
  if (status ts = twins.start(); !ts.ok()) {
    std::fprintf(stderr, "liandu: cannot start twins: %s\n", ts.to_string().c_str());
    return 1;
  }
  a.options.twins = &twins;
  (*engine)->set_fsync_observer([&a](uint64_t nanos) { a.metrics.wal_fsync_latency.observe(nanos / 1e9); });
  (*engine)->set_write_observer([&live, &rules, &twins](std::string_view batch) {
    live.publish(batch);
    rules.on_batch(batch);
    twins.on_batch(batch);
  });
#ifdef LIANDU_WITH_MQTT
  // MQTT ingest: topic mapping rules, also served as /api/v1/mqtt/mappings.
  mqtt_ingest mqtt_in(**engine, **cat, o.auth, storage::fs::join(o.data_dir, "mqtt_mappings.json"));
  if (status ms = mqtt_in.load(); !ms.ok()) {
    std::fprintf(stderr, "liandu: %s\n", ms.to_string().c_str());
    return 1;
  }
  if (int rc = apply_json_array_file("--mqtt-mappings", o.mqtt_mappings,
                                     [&](const nlohmann::json& e) { return mqtt_in.add_rule(e.dump()); });
      rc != 0) {
    return rc;
  }
  a.options.collections["mqtt/mappings"] = &mqtt_in;
  // Sparkplug B: which database takes which group, /api/v1/sparkplug and
  // --sparkplug; decoded on the MQTT publish path before the mapping rules.
  sparkplug_ingest sparkplug_in(**engine, storage::fs::join(o.data_dir, "sparkplug.json"));
  if (status ss = sparkplug_in.load(); !ss.ok()) {
    std::fprintf(stderr, "liandu: %s\n", ss.to_string().c_str());
    return 1;
  }
  if (int rc = apply_json_array_file("--sparkplug", o.sparkplug,
                                     [&](const nlohmann::json& e) { return sparkplug_in.put(e); });
      rc != 0) {
    return rc;
  }
  mqtt_in.set_sparkplug(&sparkplug_in);
  a.options.collections["sparkplug"] = &sparkplug_in;
  a.options.metric_sources.push_back(
      [&sparkplug_in](prometheus::text_writer& w) { sparkplug_in.append_metrics(w); });
  a.options.metric_sources.push_back([&mqtt_in](prometheus::text_writer& w) {
    w.counter("liandu_mqtt_mapped_total", "MQTT messages mapped to points and stored.", mqtt_in.mapped());
    w.counter("liandu_mqtt_unmapped_total", "MQTT messages no mapping rule matched (routed only).",
              mqtt_in.unmapped());
    w.counter("liandu_mqtt_mapping_errors_total",
              "MQTT messages that matched a rule but could not be stored.", mqtt_in.errors());
  });
#endif
#ifdef LIANDU_WITH_BRIDGE
  // MQTT bridges to other brokers (/api/v1/bridges, --bridges); connected
  // once the local broker runs. bridges.json holds passwords: mode 0600.
  connect::bridge::manager_options bridge_opts;
  bridge_opts.path = storage::fs::join(o.data_dir, "bridges.json");
  bridge_opts.ingest = [&mqtt_in](std::string_view db, std::string_view t, std::string_view p) {
    return mqtt_in.ingest_for_database(db, t, p);
  };
  connect::bridge::bridge_manager bridges(bridge_opts);
  if (status bs = bridges.load(); !bs.ok()) {
    std::fprintf(stderr, "liandu: %s\n", bs.to_string().c_str());
    return 1;
  }
  if (int rc = apply_json_array_file("--bridges", o.bridges,
                                     [&](const nlohmann::json& e) { return bridges.put(e); });
      rc != 0) {
    return rc;
  }
  connect::bridge::bridge_collection bridge_entries(bridges);
  a.options.collections["bridges"] = &bridge_entries;
  a.options.metric_sources.push_back([&bridges](prometheus::text_writer& w) { bridges.append_metrics(w); });
#endif
#ifdef LIANDU_WITH_MODBUS
  // Modbus TCP devices polled into their databases (/api/v1/modbus/devices,
  // --modbus-devices); one poller thread per device, started with the server.
  connect::modbus::manager_options modbus_opts;
  modbus_opts.path = storage::fs::join(o.data_dir, "modbus_devices.json");
  modbus_opts.write = [&engine](const std::string& db, std::vector<model::point> points) -> status {
    storage::write_batch batch(db, "");
    for (const auto& p : points) batch.add(p);
    auto w = (*engine)->write(batch);
    if (!w.st.ok()) return w.st;
    if (!w.rejected.empty()) return error(errc::conflict, w.rejected.front().message);
    return {};
  };
  connect::modbus::device_manager modbus_devices(modbus_opts);
  if (status ms = modbus_devices.load(); !ms.ok()) {
    std::fprintf(stderr, "liandu: %s\n", ms.to_string().c_str());
    return 1;
  }
  if (int rc = apply_json_array_file("--modbus-devices", o.modbus_devices,
                                     [&](const nlohmann::json& e) { return modbus_devices.put(e); });
      rc != 0) {
    return rc;
  }
  connect::modbus::device_collection modbus_entries(modbus_devices);
  a.options.collections["modbus/devices"] = &modbus_entries;
  a.options.metric_sources.push_back(
      [&modbus_devices](prometheus::text_writer& w) { modbus_devices.append_metrics(w); });
#endif
  http::router routes;
  http::handlers::add_routes(routes, a);
  http::server_limits limits;
  limits.max_body_bytes = o.max_body_bytes;
  limits.header_timeout = std::chrono::milliseconds(o.header_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
  limits.max_connections = o.max_connections;
  size_t threads = o.http_threads > 0 ? o.http_threads : std::max(1u, std::thread::hardware_concurrency());
  http::server server(std::move(routes), limits, threads);
  a.options.open_connections = [&server] { return server.open_connections(); };
  auto bound = server.listen(host, port);
  if (!bound.ok()) {
    std::fprintf(stderr, "liandu: cannot listen on %s: %s\n", o.http_bind.c_str(),
                 bound.error().to_string().c_str());
    return 1;
  }
  std::string listeners = "http://" + host + ":" + std::to_string(*bound);
  if (!o.https_bind.empty()) {
    std::string th;
    uint16_t tp = 0;
    if (!split_host_port(o.https_bind, th, tp)) {
      std::fprintf(stderr, "liandu: --https-bind %s: expected host:port\n", o.https_bind.c_str());
      return 2;
    }
    auto tb = server.listen_tls(th, tp, {o.tls_cert, o.tls_key});
    if (!tb.ok()) {
      std::fprintf(stderr, "liandu: cannot listen on %s: %s\n", o.https_bind.c_str(),
                   tb.error().to_string().c_str());
      return 1;
    }
    listeners += " https://" + th + ":" + std::to_string(*tb);
  }
#ifdef LIANDU_WITH_MQTT
  // MQTT server: a broker for devices and an ingest path through the rules.
  std::unique_ptr<connect::mqtt::mqtt_server> mqtt;
  int64_t sparkplug_online_ms = 0;  // the timestamp of our STATE online
  if (o.sparkplug_host_id != "off" && !connect::sparkplug::valid_host_id(o.sparkplug_host_id)) {
    std::fprintf(stderr,
                 "liandu: --sparkplug-host-id \"%s\": must be non-empty without '/', '+', '#' (or off)\n",
                 o.sparkplug_host_id.c_str());
    return 2;
  }
  bool mqtt_plain = o.mqtt_bind != "off" && !o.mqtt_bind.empty();
  bool mqtt_tls = o.mqtt_tls_bind != "off" && !o.mqtt_tls_bind.empty();
  if (mqtt_plain || mqtt_tls) {
    connect::mqtt::mqtt_server_options mo;
    mo.plain = mqtt_plain;
    if (mqtt_plain && !split_host_port(o.mqtt_bind, mo.host, mo.port)) {
      std::fprintf(stderr, "liandu: --mqtt-bind %s: expected host:port or off\n", o.mqtt_bind.c_str());
      return 2;
    }
    if (mqtt_tls) {
      connect::mqtt::mqtt_tls_listener t;
      if (!split_host_port(o.mqtt_tls_bind, t.host, t.port)) {
        std::fprintf(stderr, "liandu: --mqtt-tls-bind %s: expected host:port or off\n",
                     o.mqtt_tls_bind.c_str());
        return 2;
      }
      if (o.tls_cert.empty() || o.tls_key.empty()) {
        std::fprintf(stderr, "liandu: --mqtt-tls-bind needs --tls-cert and --tls-key\n");
        return 2;
      }
      t.cert_chain_file = o.tls_cert;
      t.private_key_file = o.tls_key;
      mo.tls = std::move(t);
    }
    mo.max_connections = o.mqtt_max_connections;
    mo.broker.data_dir = storage::fs::join(o.data_dir, "mqtt");
    connect::mqtt::mqtt_hooks hooks;
    hooks.authenticate = [&mqtt_in](std::string_view c, std::string_view u, std::string_view p) {
      return mqtt_in.authenticate(c, u, p);
    };
    hooks.on_publish = [&mqtt_in](std::string_view u, std::string_view t, std::string_view p) {
      return mqtt_in.on_publish(u, t, p);
    };
    hooks.on_publish_batch = [&mqtt_in](std::string_view u, std::span<const connect::mqtt::publish_view> m,
                                        std::span<status> out) { mqtt_in.on_publish_batch(u, m, out); };
#ifdef LIANDU_WITH_BRIDGE
    // Local publishes that match a bridge's forward filters go to its remote
    // broker. Messages that came in over a bridge are published on the broker
    // directly and never pass this hook, so they are not sent back out.
    hooks.on_publish = [&bridges, inner = std::move(hooks.on_publish)](std::string_view u, std::string_view t,
                                                                       std::string_view p) {
      bridges.on_local_publish(t, p);
      return inner(u, t, p);
    };
    hooks.on_publish_batch = [&bridges, inner = std::move(hooks.on_publish_batch)](
                                 std::string_view u, std::span<const connect::mqtt::publish_view> m,
                                 std::span<status> out) {
      for (const auto& one : m) bridges.on_local_publish(one.topic, one.payload);
      inner(u, m, out);
    };
#endif
    mqtt = std::make_unique<connect::mqtt::mqtt_server>(mo, hooks);
    // Rebirth requests of the Sparkplug decoder go out on our own broker.
    sparkplug_in.set_publisher([srv = mqtt.get()](std::string topic, std::string payload) {
      connect::mqtt::message m;
      m.topic = std::move(topic);
      m.payload = std::move(payload);
      srv->broker().publish(std::move(m));
    });
    // Rule mqtt actions and twin drift events are published on it too.
    auto publish = [srv = mqtt.get()](const std::string& topic, const std::string& payload, int qos,
                                      bool retain) -> status {
      connect::mqtt::message m;
      m.topic = topic;
      m.payload = payload;
      m.qos = static_cast<uint8_t>(qos);
      m.retain = retain;
      srv->broker().publish(std::move(m));
      return {};
    };
    rules.set_publisher(publish);
    twins.set_publisher(publish);
    auto mp = mqtt->start();
    if (!mp.ok()) {
      std::fprintf(stderr, "liandu: cannot start the MQTT server: %s\n", mp.error().to_string().c_str());
      return 1;
    }
    if (mqtt_plain) listeners += " mqtt://" + mo.host + ":" + std::to_string(*mp);
    if (mqtt_tls) listeners += " mqtts://" + mo.tls->host + ":" + std::to_string(mqtt->tls_port());
    // Liandu is the Sparkplug primary host application: edge nodes set up
    // with this host id wait for its STATE online before their births.
    if (o.sparkplug_host_id != "off") {
      sparkplug_online_ms = now_ns() / 1'000'000;
      publish_host_state(*mqtt, o.sparkplug_host_id, true, sparkplug_online_ms);
    }
    a.options.metric_sources.push_back([srv = mqtt.get()](prometheus::text_writer& w) {
      w.gauge("liandu_mqtt_open_connections", "Open MQTT connections.", srv->open_connections());
    });
  }
#endif
#ifdef LIANDU_WITH_BRIDGE
  if (mqtt) bridges.set_local_broker(&mqtt->broker());
  bridges.start();
#endif
#ifdef LIANDU_WITH_MODBUS
  modbus_devices.start();
#endif
  server.start();
  double startup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& rec = (*engine)->recovery();
  std::printf(
      "liandu %s started: data=%s listeners=%s auth=%s recovered series=%zu points=%zu wal_records=%zu in "
      "%.3fs\n",
      LIANDU_VERSION, o.data_dir.c_str(), listeners.c_str(), o.auth ? "on" : "off", rec.series, rec.points,
      rec.wal_records, startup_s);
  if (!admin->empty()) {
    std::printf("liandu: admin token (shown once, store it): %s\n", admin->c_str());
  }
  std::fflush(stdout);

  std::thread simulator;
  std::optional<int64_t> sim_token_id;
  if (o.simulate) {
    // The simulated plant is a client like any other: it writes over HTTP
    // with a token of its own that may write only to its database.
    auto perms = catalog::permission_map{{"plant", catalog::permission{true, true}}};
    if ((*cat)->database_tenant("plant").ok() == false) {
      (void)(*cat)->register_database((*cat)->default_tenant_id(), "plant");
      (void)(*engine)->create_database("plant");
    }
    auto tok = (*cat)->create_token((*cat)->default_tenant_id(), "simulated plant", false, perms);
    if (tok.ok()) {
      sim_token_id = tok->id;
      cli::connection c{
          "http://" + (host == "0.0.0.0" ? std::string("127.0.0.1") : host) + ":" + std::to_string(*bound),
          tok->secret, ""};
      cli::simulate_options so;
      so.backfill = o.simulate_backfill;
      so.speed = o.simulate_speed;
      so.quiet = true;
      simulator = std::thread([c, so] { cli::run_simulate(c, so); });
      simulator.detach();
    }
  }

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("liandu: %s received, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  server.shutdown(std::chrono::milliseconds(o.shutdown_grace_ms));
#ifdef LIANDU_WITH_BRIDGE
  bridges.stop();
#endif
#ifdef LIANDU_WITH_MODBUS
  modbus_devices.stop();
#endif
#ifdef LIANDU_WITH_MQTT
  if (mqtt && o.sparkplug_host_id != "off") {
    publish_host_state(*mqtt, o.sparkplug_host_id, false, sparkplug_online_ms);
  }
  if (mqtt) mqtt->stop();
  sparkplug_in.set_publisher(nullptr);
  rules.set_publisher(nullptr);
  twins.set_publisher(nullptr);
#endif
  stopping = true;
  cq_runner.join();
  rules.stop();
  twins.stop();
  if (sim_token_id) (void)(*cat)->revoke_token((*cat)->default_tenant_id(), *sim_token_id);
  status s = (*engine)->checkpoint();
  if (!s.ok()) {
    std::fprintf(stderr, "liandu: final checkpoint failed (the WAL still has everything): %s\n",
                 s.to_string().c_str());
  }
  // The observers point at objects declared after the engine, which are
  // destroyed before it.
  (*engine)->set_fsync_observer(nullptr);
  (*engine)->set_write_observer(nullptr);
  std::printf("liandu: stopped\n");
  std::fflush(stdout);
  // The detached simulator may still be inside a request; leave without
  // running destructors under it.
  if (o.simulate) std::_Exit(0);
  return 0;
}

}  // namespace liandu::app
