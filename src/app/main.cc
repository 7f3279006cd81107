// liandu: the server and its command-line client in one binary.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#ifdef __GLIBC__  // defined by the headers above
#include <malloc.h>
#endif

#include "app/config_file.h"
#include "app/serve.h"
#include "cli/commands.h"

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace liandu;
#ifdef __GLIBC__
  // glibc gives threads that allocate at the same time their own malloc
  // arenas, up to 8 per core, and memory freed in one arena is not reused by
  // threads of another; with the HTTP, MQTT, hook and engine threads that
  // kept a second copy of the ingest buffers resident. One arena per core:
  // trucks over HTTP, peak RSS 296 -> 181 MiB, and ingest no slower
  // (bench/RESULTS.md, 2026-12-03). Before any thread starts.
  mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  // A query's result of megabytes is built and freed within one request. With
  // glibc's defaults such buffers are mmapped and unmapped, or the arena's
  // top is trimmed after the free, so every query faults its pages in again
  // (costly on this virtual machine): a raw query of 60,000 rows took
  // 41-46 ms, 14-15 ms with buffers below 16 MiB served from the arenas and
  // up to 32 MiB of free top kept per arena (RSS +10 MiB after the queries;
  // peak RSS while ingesting trucks unchanged, 187-222 vs 190-216 MiB).
  mallopt(M_MMAP_THRESHOLD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
#endif
  CLI::App app{"Liandu (连度): industrial time-series platform — InfluxDB-compatible storage and query"};
  app.require_subcommand(1);
  app.set_version_flag("--version", LIANDU_VERSION);

  // --- serve ---
  app::serve_options so;
  auto* serve = app.add_subcommand("serve", "Run the server");
  std::string config_file;
  serve
      ->add_option("--config", config_file,
                   "Config file: TOML (key = value) or YAML (key: value), keys named as the long options; "
                   "command-line flags and environment variables take precedence")
      ->envname("LIANDU_CONFIG");
  serve->add_option("--data-dir", so.data_dir, "Data folder")
      ->envname("LIANDU_DATA_DIR")
      ->capture_default_str();
  serve->add_option("--http-bind", so.http_bind, "HTTP listen address host:port")
      ->envname("LIANDU_HTTP_BIND")
      ->capture_default_str();
  serve
      ->add_option("--https-bind", so.https_bind,
                   "HTTPS listen address host:port (needs --tls-cert/--tls-key)")
      ->envname("LIANDU_HTTPS_BIND");
  serve->add_option("--tls-cert", so.tls_cert, "TLS certificate chain (PEM)")->envname("LIANDU_TLS_CERT");
  serve->add_option("--tls-key", so.tls_key, "TLS private key (PEM)")->envname("LIANDU_TLS_KEY");
  serve->add_option("--http-threads", so.http_threads, "I/O threads (0 = one per core)")
      ->envname("LIANDU_HTTP_THREADS")
      ->capture_default_str();
  serve->add_option("--max-body-bytes", so.max_body_bytes, "Largest request body (after gunzip)")
      ->envname("LIANDU_MAX_BODY_BYTES")
      ->capture_default_str();
  serve->add_option("--max-line-bytes", so.max_line_bytes, "Longest line-protocol line")
      ->envname("LIANDU_MAX_LINE_BYTES")
      ->capture_default_str();
  serve->add_option("--header-timeout-ms", so.header_timeout_ms, "Time allowed to send request headers")
      ->envname("LIANDU_HEADER_TIMEOUT_MS")
      ->capture_default_str();
  serve
      ->add_option("--idle-timeout-ms", so.idle_timeout_ms,
                   "Idle keep-alive connections are closed after this")
      ->envname("LIANDU_IDLE_TIMEOUT_MS")
      ->capture_default_str();
  serve->add_option("--max-connections", so.max_connections, "Open HTTP connections at most")
      ->envname("LIANDU_MAX_CONNECTIONS")
      ->capture_default_str();
  serve
      ->add_option("--head-memory-limit", so.head_memory_limit,
                   "Bytes of unflushed data before writes get 503")
      ->envname("LIANDU_HEAD_MEMORY_LIMIT")
      ->capture_default_str();
  serve->add_option("--checkpoint-bytes", so.checkpoint_bytes, "Head size that starts a flush to blocks")
      ->envname("LIANDU_CHECKPOINT_BYTES")
      ->capture_default_str();
  serve->add_option("--max-series-per-database", so.max_series_per_database, "Series cardinality limit")
      ->envname("LIANDU_MAX_SERIES_PER_DATABASE")
      ->capture_default_str();
  serve->add_option("--query-memory-limit", so.query_memory_limit, "Bytes one query may hold")
      ->envname("LIANDU_QUERY_MEMORY_LIMIT")
      ->capture_default_str();
  serve->add_option("--auth", so.auth, "Require authentication (true/false)")
      ->envname("LIANDU_AUTH")
      ->capture_default_str();
  serve->add_option("--mqtt-bind", so.mqtt_bind, "MQTT listen address host:port, or off")
      ->envname("LIANDU_MQTT_BIND")
      ->capture_default_str();
  serve
      ->add_option("--mqtt-tls-bind", so.mqtt_tls_bind,
                   "MQTT over TLS listen address host:port (needs --tls-cert/--tls-key; same broker)")
      ->envname("LIANDU_MQTT_TLS_BIND");
  serve
      ->add_option("--mqtt-mappings", so.mqtt_mappings,
                   "JSON file with topic mapping rules (MQTT topic/payload -> points), added at start")
      ->envname("LIANDU_MQTT_MAPPINGS");
  serve
      ->add_option("--bridges", so.bridges,
                   "JSON file with MQTT bridges to other brokers (array of bridge entries), added at start")
      ->envname("LIANDU_BRIDGES");
  serve
      ->add_option("--modbus-devices", so.modbus_devices,
                   "JSON file with Modbus TCP devices to poll (array of device entries), added at start")
      ->envname("LIANDU_MODBUS_DEVICES");
  serve
      ->add_option(
          "--webhooks", so.webhooks,
          "JSON file with webhook receivers (array of {\"name\", \"url\", \"secret\"?, \"tenant\"?} as for "
          "POST /api/v1/webhooks; tenant default \"default\"), added at start before --rules")
      ->envname("LIANDU_WEBHOOKS");
  serve
      ->add_option("--webhook-ca-file", so.webhook_ca_file,
                   "CA certificates (PEM) that https:// webhook receivers may chain to, trusted besides the "
                   "system store")
      ->envname("LIANDU_WEBHOOK_CA_FILE");
  serve
      ->add_option(
          "--webhook-timeout-ms", so.webhook_timeout_ms,
          "Time each step of a webhook delivery attempt (connect, TLS handshake, send, response) may "
          "take before the attempt fails and is retried")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}))
      ->envname("LIANDU_WEBHOOK_TIMEOUT_MS")
      ->capture_default_str();
  serve
      ->add_option("--webhook-threads", so.webhook_threads,
                   "Threads that make webhook deliveries: up to this many receivers are attempted at once "
                   "(a receiver's deliveries are made one at a time, in order)")
      ->check(CLI::Range(size_t{1}, size_t{256}))
      ->envname("LIANDU_WEBHOOK_THREADS")
      ->capture_default_str();
  serve
      ->add_option("--rules", so.rules,
                   "JSON file with rules and alerts (array of rules as for POST /api/v1/rules, each with its "
                   "\"database\"), added at start")
      ->envname("LIANDU_RULES");
  serve
      ->add_option("--sparkplug", so.sparkplug,
                   "JSON file with Sparkplug B entries (group -> database), added at start")
      ->envname("LIANDU_SPARKPLUG");
  serve
      ->add_option("--sparkplug-host-id", so.sparkplug_host_id,
                   "Sparkplug primary host id: STATE online/offline is published retained on "
                   "spBv1.0/STATE/<id> (off: none)")
      ->capture_default_str()
      ->envname("LIANDU_SPARKPLUG_HOST_ID");
  serve->add_option("--mqtt-max-connections", so.mqtt_max_connections, "Open MQTT connections at most")
      ->capture_default_str();
  serve->add_flag("--simulate", so.simulate, "Feed the simulated plant into database 'plant'");
  serve->add_option("--simulate-backfill", so.simulate_backfill,
                    "History the simulator writes first, e.g. 1d");
  serve->add_option("--simulate-speed", so.simulate_speed, "Simulated seconds per second")
      ->capture_default_str();
  serve->add_option("--shutdown-grace-ms", so.shutdown_grace_ms, "Time in-flight requests get on SIGTERM")
      ->capture_default_str();

  // --- client commands ---
  cli::connection conn;
  std::string token_flag;
  auto add_conn = [&](CLI::App* sub) {
    sub->add_option("--url", conn.url, "Server URL (http:// or https://)")
        ->envname("LIANDU_URL")
        ->capture_default_str();
    sub->add_option("--token", token_flag, "API token")->envname("LIANDU_TOKEN");
    sub->add_option("--ca-file", conn.ca_file,
                    "CA certificates (PEM) an https:// server may chain to, besides the system store")
        ->envname("LIANDU_CA_FILE");
  };

  std::string q, db, format = "table", epoch, rp, precision, file = "-";
  auto* query = app.add_subcommand("query", "Run an InfluxQL query");
  query->add_option("query", q, "InfluxQL text")->required();
  query->add_option("--db", db, "Database");
  query->add_option("--format", format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  query->add_option("--epoch", epoch, "Time format: ns, u, ms, s, m, h (default RFC3339)");
  add_conn(query);

  auto* write = app.add_subcommand("write", "Write line protocol from a file or stdin (-)");
  write->add_option("file", file, "File, or - for stdin")->capture_default_str();
  write->add_option("--db", db, "Database")->required();
  write->add_option("--rp", rp, "Retention policy");
  write->add_option("--precision", precision, "ns, u, ms, s, m, h");
  add_conn(write);

  std::string action, name;
  auto* dbcmd = app.add_subcommand("db", "Create, list or drop databases");
  dbcmd->add_option("action", action, "create | list | drop")
      ->required()
      ->check(CLI::IsMember({"create", "list", "drop"}));
  dbcmd->add_option("name", name, "Database name");
  add_conn(dbcmd);

  std::string description;
  bool admin = false;
  std::vector<std::string> read_dbs, write_dbs;
  int64_t token_id = 0;
  auto* token = app.add_subcommand("token", "Create, list or revoke API tokens");
  token->add_option("action", action, "create | list | revoke")
      ->required()
      ->check(CLI::IsMember({"create", "list", "revoke"}));
  token->add_option("id", token_id, "Token id (revoke)");
  token->add_option("--description", description, "What the token is for");
  token->add_flag("--admin", admin, "Admin token (everything in the tenant)");
  token->add_option("--read", read_dbs, "Database the token may read (repeatable)");
  token->add_option("--write", write_dbs, "Database the token may write (repeatable)");
  add_conn(token);

  cli::simulate_options sim;
  auto* simulate = app.add_subcommand("simulate", "Run the simulated plant against a server");
  simulate->add_option("--db", sim.db, "Database to write to")->capture_default_str();
  simulate->add_option("--seed", sim.seed, "Random seed")->capture_default_str();
  simulate->add_option("--speed", sim.speed, "Simulated seconds per wall-clock second")
      ->capture_default_str();
  simulate->add_option("--backfill", sim.backfill, "History to write first, e.g. 7d");
  simulate->add_option("--duration", sim.duration_s, "Stop after this many simulated seconds (0 = never)")
      ->capture_default_str();
  simulate->add_option("--sites", sim.sites, "Sites")->capture_default_str();
  simulate->add_option("--lines", sim.lines, "Lines per site")->capture_default_str();
  simulate->add_option("--machines", sim.machines, "Machines per line")->capture_default_str();
  simulate->add_option("--interval", sim.interval_s, "Seconds between readings")->capture_default_str();
  simulate
      ->add_option("--drift-per-hour", sim.drift_per_hour,
                   "Chance per running machine-hour that a set point drifts (twin drift)")
      ->capture_default_str();
  simulate->add_option("--drift-mean", sim.drift_mean_s, "Mean seconds a drifted set point stays off nominal")
      ->capture_default_str();
  simulate->add_option("--modbus-bind", sim.modbus_bind,
                       "Also serve the machines over Modbus TCP on host:port (unit id 1..N per machine)");
  simulate->add_flag("--no-write", sim.no_write,
                     "Do not write to a server (with --modbus-bind: Modbus only)");
  add_conn(simulate);

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  // Client commands also read `url` and `token` from a config file:
  // $LIANDU_CLI_CONFIG, else ~/.config/liandu/cli.toml (flags and the
  // environment win over it).
  for (CLI::App* sub : {query, write, dbcmd, token, simulate}) {
    if (!sub->parsed()) continue;
    std::string path = env_or("LIANDU_CLI_CONFIG", "");
    if (path.empty() && std::getenv("HOME") != nullptr)
      path = std::string(std::getenv("HOME")) + "/.config/liandu/cli.toml";
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      std::fclose(f);
      std::string err = app::apply_config_file(*sub, path);
      if (!err.empty()) {
        std::fprintf(stderr, "liandu: %s\n", err.c_str());
        return 2;
      }
    }
  }
  conn.token = token_flag;

  if (serve->parsed()) {
    if (!config_file.empty()) {
      std::string err = app::apply_config_file(*serve, config_file);
      if (!err.empty()) {
        std::fprintf(stderr, "liandu: %s\n", err.c_str());
        return 2;
      }
    }
    return app::serve(so);
  }
  if (query->parsed()) return cli::run_query(conn, q, db, format, epoch);
  if (write->parsed()) return cli::run_write(conn, file, db, rp, precision);
  if (dbcmd->parsed()) return cli::run_db(conn, action, name);
  if (token->parsed()) return cli::run_token(conn, action, description, admin, read_dbs, write_dbs, token_id);
  if (simulate->parsed()) return cli::run_simulate(conn, sim);
  if (version->parsed()) {
    std::printf("liandu %s\n", LIANDU_VERSION);
    return 0;
  }
  return 2;
}
