#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace liandu::cli {

// Where and as whom the CLI talks to a server. The token comes from --token,
// else LIANDU_TOKEN, else the `token = ...` line of the CLI config file.
struct connection {
  std::string url = "http://127.0.0.1:8086";  // or https://; http://host without a port means 8086
  std::string token;
  std::string ca_file;  // PEM CAs trusted for https:// besides the system store
};

// Each command prints its output to stdout, a readable error to stderr, and
// returns the process exit code.
int run_query(const connection& c, const std::string& q, const std::string& db, const std::string& format,
              const std::string& epoch);
int run_write(const connection& c, const std::string& file, const std::string& db, const std::string& rp,
              const std::string& precision);
int run_db(const connection& c, const std::string& action, const std::string& name);
int run_token(const connection& c, const std::string& action, const std::string& description, bool admin,
              const std::vector<std::string>& read, const std::vector<std::string>& write, int64_t id);

struct simulate_options {
  std::string db = "plant";
  uint64_t seed = 42;
  double speed = 1.0;            // simulated seconds per wall-clock second
  std::string backfill = "";     // e.g. "7d": write that much history first
  double duration_s = 0;         // stop after this much simulated time (0 = forever)
  int sites = 2, lines = 3, machines = 8;
  int64_t interval_s = 10;
  double drift_per_hour = 1.0 / 8;  // chance per running machine-hour that a set point drifts
  double drift_mean_s = 7200;       // mean time a drifted set point stays off nominal
  bool quiet = false;
  std::string modbus_bind;  // host:port: also serve the machines over Modbus TCP (one unit id each)
  bool no_write = false;    // do not write to a server (with modbus_bind: a Modbus simulator only)
};
int run_simulate(const connection& c, const simulate_options& o);

// Parses "7d", "12h", "30m", "10s", "1w" into nanoseconds; -1 when malformed.
int64_t parse_duration_ns(const std::string& text);

}  // namespace liandu::cli
