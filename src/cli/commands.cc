#include "cli/commands.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "cli/http_client.h"
#include "sim/plant.h"
#ifdef LIANDU_WITH_MODBUS
#include "sim/modbus_plant.h"
#endif

namespace liandu::cli {

namespace {

std::vector<std::pair<std::string, std::string>> auth_headers(const connection& c) {
  if (c.token.empty()) return {};
  return {{"Authorization", "Token " + c.token}};
}

std::unique_ptr<http_client> connect_or_die(const connection& c) {
  http_client_options o;
  o.ca_file = c.ca_file;
  o.default_http_port = default_server_port;  // --url http://host means a Liandu server on 8086
  auto client = http_client::from_url(c.url, o);
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.error().message().c_str());
    return nullptr;
  }
  return std::move(client).value();
}

// Prints a server error body ({"error": "..."}) readably.
int report_http_error(const http_response& r) {
  std::string msg = r.body;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) msg = j["error"].get<std::string>();
  if (r.status == 401) msg += " (set LIANDU_TOKEN or pass --token)";
  std::fprintf(stderr, "error: HTTP %u: %s\n", r.status, msg.c_str());
  return 1;
}

std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void print_table(const nlohmann::json& series) {
  if (series.contains("name")) std::printf("name: %s\n", series["name"].get<std::string>().c_str());
  if (series.contains("tags") && series["tags"].is_object()) {
    std::string tags;
    for (auto& [k, v] : series["tags"].items()) {
      if (!tags.empty()) tags += ", ";
      tags += k + "=" + cell(v);
    }
    std::printf("tags: %s\n", tags.c_str());
  }
  const auto& cols = series["columns"];
  std::vector<size_t> width(cols.size());
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < cols.size(); ++i) width[i] = cell(cols[i]).size();
  if (series.contains("values")) {
    for (const auto& row : series["values"]) {
      std::vector<std::string> r;
      for (size_t i = 0; i < row.size() && i < cols.size(); ++i) {
        r.push_back(cell(row[i]));
        width[i] = std::max(width[i], r.back().size());
      }
      rows.push_back(std::move(r));
    }
  }
  std::string head, rule;
  for (size_t i = 0; i < cols.size(); ++i) {
    std::string c = cell(cols[i]);
    head += c + std::string(width[i] - c.size() + 1, ' ');
    rule += std::string(width[i], '-') + " ";
  }
  std::printf("%s\n%s\n", head.c_str(), rule.c_str());
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) line += r[i] + std::string(width[i] - r[i].size() + 1, ' ');
    std::printf("%s\n", line.c_str());
  }
  std::printf("\n");
}

}  // namespace

int64_t parse_duration_ns(const std::string& text) {
  if (text.empty()) return -1;
  size_t i = 0;
  while (i < text.size() && isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return -1;
  int64_t n = std::stoll(text.substr(0, i));
  std::string unit = text.substr(i);
  int64_t mult;
  if (unit == "ns") {
    mult = 1;
  } else if (unit == "ms") {
    mult = 1000000;
  } else if (unit == "s") {
    mult = 1000000000LL;
  } else if (unit == "m") {
    mult = 60LL * 1000000000LL;
  } else if (unit == "h") {
    mult = 3600LL * 1000000000LL;
  } else if (unit == "d") {
    mult = 86400LL * 1000000000LL;
  } else if (unit == "w") {
    mult = 7 * 86400LL * 1000000000LL;
  } else {
    return -1;
  }
  return n * mult;
}

int run_query(const connection& c, const std::string& q, const std::string& db, const std::string& format,
              const std::string& epoch) {
  auto client = connect_or_die(c);
  if (!client) return 1;
  std::string body = "q=" + url_encode(q);
  if (!db.empty()) body += "&db=" + url_encode(db);
  if (!epoch.empty()) body += "&epoch=" + url_encode(epoch);
  auto headers = auth_headers(c);
  headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  if (format == "csv") headers.emplace_back("Accept", "application/csv");
  auto r = client->request("POST", "/query", body, headers);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.error().message().c_str());
    return 1;
  }
  if (r->status != 200) return report_http_error(*r);
  if (format == "csv" || format == "json") {
    std::fwrite(r->body.data(), 1, r->body.size(), stdout);
    if (!r->body.empty() && r->body.back() != '\n') std::printf("\n");
    return 0;
  }
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object()) {
    std::fprintf(stderr, "error: server sent invalid JSON\n");
    return 1;
  }
  if (j.contains("error")) {
    std::fprintf(stderr, "error: %s\n", cell(j["error"]).c_str());
    return 1;
  }
  int rc = 0;
  for (const auto& res : j["results"]) {
    if (res.contains("error")) {
      std::fprintf(stderr, "error: %s\n", cell(res["error"]).c_str());
      rc = 1;
    }
    if (res.contains("series")) {
      for (const auto& s : res["series"]) print_table(s);
    }
  }
  return rc;
}

int run_write(const connection& c, const std::string& file, const std::string& db, const std::string& rp,
              const std::string& precision) {
  std::string data;
  if (file == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: cannot read %s\n", file.c_str());
      return 1;
    }
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto client = connect_or_die(c);
  if (!client) return 1;
  std::string target = "/write?db=" + url_encode(db);
  if (!rp.empty()) target += "&rp=" + url_encode(rp);
  if (!precision.empty()) target += "&precision=" + url_encode(precision);
  auto r = client->request("POST", target, data, auth_headers(c));
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.error().message().c_str());
    return 1;
  }
  if (r->status != 204) return report_http_error(*r);
  return 0;
}

int run_db(const connection& c, const std::string& action, const std::string& name) {
  std::string q;
  if (action == "create") {
    q = "CREATE DATABASE \"" + name + "\"";
  } else if (action == "drop") {
    q = "DROP DATABASE \"" + name + "\"";
  } else if (action == "list") {
    q = "SHOW DATABASES";
  } else {
    std::fprintf(stderr, "error: unknown action %s (create, list, drop)\n", action.c_str());
    return 2;
  }
  if (action != "list" && name.empty()) {
    std::fprintf(stderr, "error: database name required\n");
    return 2;
  }
  return run_query(c, q, "", "table", "");
}

int run_token(const connection& c, const std::string& action, const std::string& description, bool admin,
              const std::vector<std::string>& read, const std::vector<std::string>& write, int64_t id) {
  auto client = connect_or_die(c);
  if (!client) return 1;
  auto headers = auth_headers(c);
  headers.emplace_back("Content-Type", "application/json");
  result<http_response> r = error(errc::internal, "");
  if (action == "create") {
    nlohmann::json body = {{"description", description}, {"admin", admin}};
    nlohmann::json perms = nlohmann::json::object();
    for (const auto& db : read) perms[db] = "read";
    for (const auto& db : write) perms[db] = perms.contains(db) ? "all" : "write";
    body["permissions"] = perms;
    r = client->request("POST", "/api/v1/tokens", body.dump(), headers);
  } else if (action == "list") {
    r = client->request("GET", "/api/v1/tokens", "", headers);
  } else if (action == "revoke") {
    r = client->request("DELETE", "/api/v1/tokens/" + std::to_string(id), "", headers);
  } else {
    std::fprintf(stderr, "error: unknown action %s (create, list, revoke)\n", action.c_str());
    return 2;
  }
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.error().message().c_str());
    return 1;
  }
  if (r->status >= 300) return report_http_error(*r);
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  std::printf("%s\n", j.is_discarded() ? r->body.c_str() : j.dump(2).c_str());
  return 0;
}

int run_simulate(const connection& c, const simulate_options& o) {
  if (o.no_write && o.modbus_bind.empty()) {
    std::fprintf(stderr, "error: --no-write without --modbus-bind leaves nothing to do\n");
    return 2;
  }
  // With --no-write the plant is only served over Modbus: no server needed.
  std::unique_ptr<http_client> client;
  auto headers = auth_headers(c);
  if (!o.no_write) {
    client = connect_or_die(c);
    if (!client) return 1;
    auto create = client->request("POST", "/query", "q=" + url_encode("CREATE DATABASE \"" + o.db + "\""),
                                  [&] {
                                    auto h = headers;
                                    h.emplace_back("Content-Type", "application/x-www-form-urlencoded");
                                    return h;
                                  }());
    if (!create.ok()) {
      std::fprintf(stderr, "error: %s\n", create.error().message().c_str());
      return 1;
    }
    if (create->status != 200) return report_http_error(*create);
  }

  sim::plant_options po;
  po.sites = o.sites;
  po.lines = o.lines;
  po.machines = o.machines;
  po.seed = o.seed;
  po.interval_ns = o.interval_s * 1000000000LL;
  po.drift_per_hour = o.drift_per_hour;
  po.drift_mean_s = o.drift_mean_s;
  sim::plant plant(po);
#ifdef LIANDU_WITH_MODBUS
  std::unique_ptr<sim::modbus_plant> modbus;
  if (!o.modbus_bind.empty()) {
    modbus = std::make_unique<sim::modbus_plant>(plant.machine_count());
    auto port = modbus->start(o.modbus_bind);
    if (!port.ok()) {
      std::fprintf(stderr, "error: %s\n", port.error().message().c_str());
      return 1;
    }
    std::printf("simulate: Modbus TCP on %s (port %u), unit ids 1..%zu\n", o.modbus_bind.c_str(),
                static_cast<unsigned>(*port), modbus->units());
    std::fflush(stdout);
  }
#else
  if (!o.modbus_bind.empty()) {
    std::fprintf(stderr, "error: this build has no Modbus support (libmodbus-dev was missing)\n");
    return 2;
  }
#endif
  int64_t backfill = 0;
  if (!o.backfill.empty()) {
    backfill = parse_duration_ns(o.backfill);
    if (backfill < 0) {
      std::fprintf(stderr, "error: bad --backfill %s (use e.g. 7d, 12h)\n", o.backfill.c_str());
      return 2;
    }
  }
  const std::string target = "/write?db=" + url_encode(o.db);
  std::string body;
  size_t points = 0;
  auto flush = [&]() -> bool {
    if (body.empty()) return true;
    if (!client) {  // --no-write
      body.clear();
      return true;
    }
    auto r = client->request("POST", target, body, headers);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.error().message().c_str());
      return false;
    }
    if (r->status == 503) {  // backpressure: wait as told, then retry
      std::this_thread::sleep_for(std::chrono::seconds(1));
      return true;
    }
    if (r->status != 204) {
      report_http_error(*r);
      return false;
    }
    body.clear();
    return true;
  };
  // Align simulated time to the interval; history first, then live.
  int64_t now = now_ns();
  int64_t t = now - backfill;
  t -= t % po.interval_ns;
  int64_t end = o.duration_s > 0 ? t + static_cast<int64_t>(o.duration_s * 1e9) : INT64_MAX;
  auto wall_start = std::chrono::steady_clock::now();
  int64_t live_start = t;
  while (t < end) {
    const size_t step_start = body.size();
    points += plant.step(t, body);
    t += po.interval_ns;
    bool history = t < now;
#ifdef LIANDU_WITH_MODBUS
    if (modbus && !history) modbus->update(std::string_view(body).substr(step_start));
#else
    (void)step_start;
#endif
    if (body.size() > (1 << 20) || !history) {
      if (!flush()) return 1;
    }
    if (!history) {
      // Live: pace simulated time against the wall clock at --speed.
      if (live_start < now) live_start = t, wall_start = std::chrono::steady_clock::now();
      auto due = wall_start + std::chrono::nanoseconds(static_cast<int64_t>(
                                  static_cast<double>(t - live_start) / std::max(o.speed, 1e-3)));
      std::this_thread::sleep_until(due);
    }
  }
  if (!flush()) return 1;
  if (!o.quiet) std::printf("simulate: wrote %zu points for %zu machines\n", points, plant.machine_count());
  return 0;
}

}  // namespace liandu::cli
