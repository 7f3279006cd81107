// What the stream layer costs ingest (issue #5: "must not cut ingest
// throughput by more than 10%"). The same factory line-protocol batches are
// written durably into a fresh engine, alternating between
//
//   off  no write observer (the engine alone), and
//   on   the observer liandu serve installs: every durable batch goes to the
//        live hub (the WebSocket bus) and to the rules service, which runs
//        N rules (default 100: thresholds with hysteresis, 5-minute means,
//        rates, EWMA anomaly scores and a state-held rule, grouped by machine)
//        on its own thread.
//
// and reports, per mode, the median ingest rate (values/s of wall time) and
// for "on" also the rate counted until the rules service has evaluated every
// batch (so falling behind is not hidden by the queue), the dropped batches
// and the alerts raised; and the latency the stream layer adds to a write
// (the issue's "added latency"): p50 and p99 of each write's wall time until
// it is acknowledged, over all runs of each mode.
//
// --rules-only leaves ingest out: see rules_only_cpu_s. --scale sets the
// number of series (default 10,000, 20 a machine).
//
// Usage: stream_bench [--rules=N] [--runs=N] [--ticks=N] [--scale=SERIES] [--tmp=DIR] [--rules-only]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/handlers/live_hub.h"
#include "ingest/point_writer.h"
#include "storage/engine.h"
#include "toolbox/service/rules_service.h"
#include "workloads.h"

namespace {

using namespace liandu;
using clock_type = std::chrono::steady_clock;

constexpr const char* sensors[] = {
    "temperature", "bearing_temp", "motor_temp",  "coolant_temp", "pressure", "hydraulic_pressure",
    "vibration_x", "vibration_y",  "vibration_z", "current",      "voltage",  "power",
    "flow",        "speed",        "humidity"};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "stream_bench: %s\n", what.c_str());
  std::exit(1);
}

// Rule i watches one sensor kind of measurement `sensors` (or the machine
// state), grouped by machine, with one of five condition kinds.
std::string rule_json(int i) {
  std::string sensor = sensors[i % 15];
  std::string when;
  switch ((i / 15) % 5) {
    case 0: when = R"({"type":"threshold","field":"value","op":">","value":100000,"clear":90000})"; break;
    case 1:
      when = R"({"type":"aggregate","fn":"mean","field":"value","window":"5m","op":">","value":100000})";
      break;
    case 2: when = R"({"type":"rate","field":"value","window":"1m","op":">","value":100000})"; break;
    case 3: when = R"({"type":"anomaly","field":"value","method":"ewma","threshold":50,"alpha":0.05})"; break;
    default: when = R"({"type":"threshold","field":"value","op":"<","value":-100000})"; break;
  }
  if (i % 50 == 49) {
    return R"({"id":"r)" + std::to_string(i) +
           R"(","measurement":"states","group_by":["machine"],"when":{"type":"state","field":"state","state":"4","for":"10m"}})";
  }
  return R"({"id":"r)" + std::to_string(i) +
         R"(","measurement":"sensors","where":[{"tag":"sensor","op":"==","value":")" + sensor +
         R"("}],"group_by":["machine"],"for":"30s","when":)" + when + "}";
}

struct run_result {
  double ingest_s = 0;
  double drained_s = 0;
  uint64_t dropped = 0;
  uint64_t events = 0;
  double rules_cpu_s = 0;        // the rules thread's CPU time on batches
  std::vector<double> write_us;  // each write's latency (until acknowledged)
};

void start_with_rules(toolbox::rules_service& svc, int rules) {
  if (status s = svc.start(); !s.ok()) die(s.to_string());
  for (int i = 0; i < rules; ++i) {
    auto r = svc.put_rule("plant", rule_json(i));
    if (!r.ok()) die("rule " + std::to_string(i) + ": " + r.error().to_string());
  }
}

// A fresh engine in dir with database "plant".
std::unique_ptr<storage::engine> open_engine(const std::string& dir) {
  std::filesystem::remove_all(dir);
  storage::engine_options eo;
  eo.data_dir = dir;
  auto opened = storage::engine::open(eo);
  if (!opened.ok()) die(opened.error().to_string());
  auto engine = std::move(opened).value();
  if (status s = engine->create_database("plant"); !s.ok()) die(s.to_string());
  return engine;
}

// Writes every body; the wall time of each acknowledged write (parse, WAL
// fsync and, with the stream on, the observer's hand-off) goes to write_us.
void write_all(storage::engine& engine, const std::vector<std::string>& bodies,
               std::vector<double>& write_us) {
  for (const std::string& body : bodies) {
    for (;;) {
      auto start = clock_type::now();
      auto w = ingest::write_line_protocol(engine, "plant", "", model::precision::ns, body, 0);
      if (w.st.ok()) {
        write_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
        break;
      }
      if (w.st.code() != errc::limit_exceeded) die(w.st.to_string());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // head over budget: wait for the checkpoint
    }
  }
}

// The rules service's options, its state in dir/rules.
toolbox::rules_service::options rules_options(const std::string& dir) {
  toolbox::rules_service::options ro;
  ro.dir = dir + "/rules";
  std::filesystem::create_directories(ro.dir);
  return ro;
}

// Waits until the rules service has evaluated (or dropped) n batches; returns its counters then.
toolbox::rules_service::counters wait_until_evaluated(const toolbox::rules_service& svc, size_t n) {
  for (;;) {
    auto st = svc.stats();
    if (st.batches + st.dropped_batches >= n) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

run_result run_once(const std::vector<std::string>& bodies, bool stream_on, int rules,
                    const std::string& dir) {
  auto engine = open_engine(dir);
  http::handlers::live_hub live;
  const toolbox::rules_service::options ro = rules_options(dir);
  toolbox::rules_service svc(*engine, ro);
  if (stream_on) {
    start_with_rules(svc, rules);
    engine->set_write_observer([&](std::string_view batch) {
      live.publish(batch);
      svc.on_batch(batch);
    });
  }
  run_result out;
  auto t0 = clock_type::now();
  write_all(*engine, bodies, out.write_us);
  out.ingest_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (stream_on) {
    // Every batch the observer saw, evaluated (or dropped) by the rules thread.
    const auto st = wait_until_evaluated(svc, bodies.size());
    out.dropped = st.dropped_batches;
    out.events = st.events;
    out.rules_cpu_s = static_cast<double>(st.batch_cpu_ns) / 1e9;
    out.drained_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    engine->set_write_observer(nullptr);
    svc.stop();
  }
  engine.reset();
  std::filesystem::remove_all(dir);
  return out;
}

// --rules-only: the rules thread alone. The batches the observer would see
// are captured from one ingest, then fed to a fresh rules service (no
// writes, no live hub) run after run: the rules thread's CPU time per value
// without ingest competing for the cores and caches, for comparing changes
// to the rules engine on a busy machine.
std::vector<std::string> capture_batches(const std::vector<std::string>& bodies, const std::string& dir) {
  auto engine = open_engine(dir);
  std::vector<std::string> batches;
  engine->set_write_observer([&](std::string_view batch) { batches.emplace_back(batch); });
  std::vector<double> write_us;
  write_all(*engine, bodies, write_us);
  engine->set_write_observer(nullptr);
  engine.reset();
  std::filesystem::remove_all(dir);
  return batches;
}

double rules_only_cpu_s(const std::vector<std::string>& batches, int rules, const std::string& dir) {
  auto engine = open_engine(dir);  // for the alerts the rules write
  const toolbox::rules_service::options ro = rules_options(dir);
  double cpu_s = 0;
  {
    toolbox::rules_service svc(*engine, ro);
    start_with_rules(svc, rules);
    for (const std::string& b : batches) svc.on_batch(b);
    const auto st = wait_until_evaluated(svc, batches.size());
    if (st.dropped_batches != 0) die("rules-only: batches dropped");
    cpu_s = static_cast<double>(st.batch_cpu_ns) / 1e9;
    svc.stop();
  }
  engine.reset();
  std::filesystem::remove_all(dir);
  return cpu_s;
}

// The q-quantile (0 < q < 1) by rank, of a non-empty sample.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) { return quantile(std::move(v), 0.5); }

}  // namespace

int main(int argc, char** argv) {
  int rules = 100, runs = 5;
  int64_t ticks = 120;
  bool rules_only = false;
  int scale = 10000;  // series: 20 per machine
  std::string tmp = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--rules=", 0) == 0)
      rules = std::atoi(a.c_str() + 8);
    else if (a.rfind("--runs=", 0) == 0)
      runs = std::max(1, std::atoi(a.c_str() + 7));
    else if (a.rfind("--ticks=", 0) == 0)
      ticks = std::max(1, std::atoi(a.c_str() + 8));
    else if (a.rfind("--scale=", 0) == 0)
      scale = std::max(20, std::atoi(a.c_str() + 8));
    else if (a == "--rules-only")
      rules_only = true;
    else if (a.rfind("--tmp=", 0) == 0)
      tmp = a.substr(6);
    else
      die("unknown argument " + a);
  }
  bench::workload_options wo;
  wo.kind = bench::workload_kind::factory;
  wo.scale = scale;
  wo.ticks = ticks;
  auto gen = bench::make_generator(wo);
  std::vector<std::string> bodies;
  for (std::string body; gen->next_batch(5000, body) > 0; body.clear()) bodies.push_back(body);
  const double values = static_cast<double>(gen->values_emitted());
  const std::string dir = tmp + "/liandu-stream-bench-" + std::to_string(::getpid());

  if (rules_only) {
    const std::vector<std::string> batches = capture_batches(bodies, dir);
    std::vector<double> cpu;
    for (int r = 0; r < runs; ++r) {
      cpu.push_back(rules_only_cpu_s(batches, rules, dir));
      std::printf("run %d: rules thread CPU %.0f ms\n", r + 1, 1e3 * cpu.back());
    }
    std::printf(
        "factory workload, %.0f values in %zu batches, %d rules, %d runs, rules only (median):\n"
        "  rules thread CPU on batches: %.0f ns per value (%.0f ms a run; least %.0f ns per value)\n",
        values, batches.size(), rules, runs, 1e9 * median(cpu) / values, 1e3 * median(cpu),
        1e9 * *std::min_element(cpu.begin(), cpu.end()) / values);
    return 0;
  }
  std::vector<double> off, on, on_drained, rules_cpu;
  std::vector<double> off_us, on_us;  // write latencies of every run
  uint64_t dropped = 0, events = 0;
  for (int r = 0; r < runs; ++r) {  // alternate, so drift in the machine's load hits both
    run_result o = run_once(bodies, false, rules, dir);
    off.push_back(values / o.ingest_s);
    off_us.insert(off_us.end(), o.write_us.begin(), o.write_us.end());
    run_result x = run_once(bodies, true, rules, dir);
    on_us.insert(on_us.end(), x.write_us.begin(), x.write_us.end());
    on.push_back(values / x.ingest_s);
    on_drained.push_back(values / x.drained_s);
    rules_cpu.push_back(x.rules_cpu_s);
    dropped += x.dropped;
    events += x.events;
    std::printf(
        "run %d: off %.0f values/s, on %.0f values/s (%.0f until rules drained), rules thread CPU %.0f ms\n",
        r + 1, off.back(), on.back(), on_drained.back(), 1e3 * rules_cpu.back());
  }
  double m_off = median(off), m_on = median(on), m_drained = median(on_drained);
  const double off_p50 = quantile(off_us, 0.5), off_p99 = quantile(off_us, 0.99);
  const double on_p50 = quantile(on_us, 0.5), on_p99 = quantile(on_us, 0.99);
  std::printf(
      "factory workload, %.0f values in %zu batches of 5,000 lines, %d rules, %d runs (medians):\n"
      "  stream off: %.0f values/s\n"
      "  stream on:  %.0f values/s (%.1f%% of off); counted until rules drained: %.0f values/s (%.1f%%)\n"
      "  rules thread CPU on batches: %.0f ns per value (%.0f ms a run)\n"
      "  dropped batches: %llu, rule events: %llu\n"
      "  write latency (5,000 lines, until acknowledged), all runs: stream off p50 %.0f us p99 %.0f us; "
      "on p50 %.0f us p99 %.0f us (added p50 %+.0f us, p99 %+.0f us)\n",
      values, bodies.size(), rules, runs, m_off, m_on, 100 * m_on / m_off, m_drained, 100 * m_drained / m_off,
      1e9 * median(rules_cpu) / values, 1e3 * median(rules_cpu), static_cast<unsigned long long>(dropped),
      static_cast<unsigned long long>(events), off_p50, off_p99, on_p50, on_p99, on_p50 - off_p50,
      on_p99 - off_p99);
  return 0;
}
