// Rule engine throughput: points per second through 1,000 rules.
//
//  - BM_rules_spread: 1,000 rules over 100 measurements (10 each), grouped
//    by host (20 hosts), a mix of threshold (with hysteresis), mean over 5m,
//    rate over 1m, state held for 10m and an ewma anomaly condition; each
//    point meets the 10 rules of its measurement. The engine indexes rules by
//    measurement, which is what makes this the common case.
//  - BM_rules_all_match/kind: 1,000 rules on one measurement, so every point
//    is evaluated by all of them (rule evaluations/s is the figure to read).
//
// Points are generated up front; the loop feeds one point per iteration with
// increasing time (one point per 50 ms of event time, so with 20 hosts each
// group sees a point a second). The whole stream is fed once before timing,
// so windows are full and the figures are those of the steady state.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "toolbox/rules/engine.h"

namespace {

using namespace liandu;
using namespace liandu::toolbox::rules;

constexpr int64_t ms = 1'000'000;

std::string rule_json(int i, const std::string& measurement, int kind) {
  std::string when;
  switch (kind % 5) {
    case 0: when = R"({"type": "threshold", "field": "temp", "op": ">", "value": 95, "clear": 90})"; break;
    case 1:
      when =
          R"({"type": "aggregate", "fn": "mean", "field": "temp", "window": "5m", "op": ">", "value": 90})";
      break;
    case 2: when = R"({"type": "rate", "field": "count", "window": "1m", "op": ">", "value": 50})"; break;
    case 3: when = R"({"type": "state", "field": "status", "state": "down", "for": "10m"})"; break;
    case 4:
      when = R"({"type": "anomaly", "field": "temp", "method": "ewma", "threshold": 6, "alpha": 0.05})";
      break;
  }
  return R"({"id": "r)" + std::to_string(i) + R"(", "measurement": ")" + measurement +
         R"(", "group_by": ["host"], "for": "30s", "when": )" + when + "}";
}

struct workload {
  std::vector<model::point> points;
  // The fields as the stream hands them to the engine: views into a batch.
  std::vector<std::vector<model::field_view>> fields;
};

workload make_points(int measurements, size_t n) {
  workload w;
  std::mt19937 rng(42);
  std::normal_distribution<double> temp(70, 5);
  std::uniform_int_distribution<int> host(0, 19);
  std::uniform_int_distribution<int> meas(0, measurements - 1);
  std::uniform_real_distribution<double> unit(0, 1);
  w.points.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    model::point p;
    p.measurement = "machine" + std::to_string(meas(rng));
    p.tags = {{"host", "h" + std::to_string(host(rng))}, {"site", "s1"}};
    p.fields = {{"temp", temp(rng)},
                {"count", static_cast<int64_t>(i)},
                {"status", std::string(unit(rng) < 0.01 ? "down" : "up")}};
    w.points.push_back(std::move(p));
  }
  for (const model::point& p : w.points) {
    auto& views = w.fields.emplace_back();
    for (const auto& f : p.fields) views.push_back(model::view_of(f));
  }
  return w;
}

void run(benchmark::State& state, engine& e, const workload& w) {
  int64_t t = 0;
  for (size_t i = 0; i < w.points.size(); ++i) {
    e.process(w.points[i].measurement, w.points[i].tags, w.fields[i], t);
    t += 50 * ms;
  }
  const auto warm = e.stats();
  size_t i = 0;
  for (auto _ : state) {
    const model::point& p = w.points[i];
    e.process(p.measurement, p.tags, w.fields[i], t);
    t += 50 * ms;
    if (++i == w.points.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["rule_evals/s"] = benchmark::Counter(
      static_cast<double>(e.stats().evaluations - warm.evaluations), benchmark::Counter::kIsRate);
  state.counters["events"] = static_cast<double>(e.stats().events - warm.events);
}

void BM_rules_spread(benchmark::State& state) {
  uint64_t events = 0;
  engine e([&](const alert_event&) { ++events; });
  for (int i = 0; i < 1000; ++i) {
    auto r = parse_rule(rule_json(i, "machine" + std::to_string(i % 100), i / 100));
    if (!r.ok() || !e.add_rule(*r).ok()) state.SkipWithError("bad rule");
  }
  static const workload w = make_points(100, 100'000);
  run(state, e, w);
}
BENCHMARK(BM_rules_spread);

// Arg: 0 threshold, 1 mean over 5m, 2 rate, 3 state, 4 anomaly, 5 the mix.
void BM_rules_all_match(benchmark::State& state) {
  engine e([](const alert_event&) {});
  int kind = static_cast<int>(state.range(0));
  for (int i = 0; i < 1000; ++i) {
    auto r = parse_rule(rule_json(i, "machine0", kind == 5 ? i : kind));
    if (!r.ok() || !e.add_rule(*r).ok()) state.SkipWithError("bad rule");
  }
  static const workload w = make_points(1, 20'000);
  run(state, e, w);
}
BENCHMARK(BM_rules_all_match)->DenseRange(0, 5);

}  // namespace
