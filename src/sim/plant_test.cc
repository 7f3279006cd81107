#include "sim/plant.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

namespace liandu::sim {

TEST(plant, deterministic_for_a_seed) {
  plant a({}), b({});
  std::string sa, sb;
  for (int i = 0; i < 100; ++i) {
    a.step(int64_t{i} * 10000000000LL, sa);
    b.step(int64_t{i} * 10000000000LL, sb);
  }
  EXPECT_EQ(sa, sb);
  plant c({.seed = 7});
  std::string sc;
  for (int i = 0; i < 100; ++i) c.step(int64_t{i} * 10000000000LL, sc);
  EXPECT_NE(sa, sc);
  EXPECT_EQ(a.machine_count(), 48u);
}

TEST(plant, every_state_occurs_and_counters_are_consistent) {
  plant p({});
  std::string out;
  std::map<machine_state, int> seen;
  for (int i = 0; i < 24 * 360; ++i) {  // one simulated day
    out.clear();
    p.step(int64_t{i} * 10000000000LL, out);
    for (const auto& m : p.machines()) seen[m.state]++;
  }
  EXPECT_EQ(seen.size(), 4u);
  for (const auto& m : p.machines()) EXPECT_EQ(m.good + m.scrap, m.cycles);
  EXPECT_GT(seen[machine_state::running], seen[machine_state::down]);
}

TEST(plant, drifted_set_point_raises_scrap) {
  // Compare scrap fractions with and without a large set-point deviation.
  auto run = [](double deviation) {
    plant q({.sites = 1, .lines = 1, .machines = 1, .seed = 3});
    std::string out;
    int64_t cycles = 0, scrap = 0;
    for (int i = 0; i < 2000; ++i) {
      auto& mm = const_cast<machine_sim&>(q.machines()[0]);
      mm.feed_setpoint = mm.feed_nominal * (1 + deviation);
      mm.drift_rate = 0;
      int64_t c0 = mm.cycles, s0 = mm.scrap;
      q.step(int64_t{i} * 10000000000LL, out);
      if (mm.state == machine_state::running) {
        cycles += mm.cycles - c0;
        scrap += mm.scrap - s0;
      }
    }
    return cycles > 0 ? double(scrap) / double(cycles) : 0.0;
  };
  EXPECT_GT(run(0.1), 3 * run(0.0));
}

namespace {

constexpr int64_t sec = 1000000000LL;

// The lines of one measurement in out, e.g. "setpoints,".
std::vector<std::string> lines_of(const std::string& out, const std::string& prefix) {
  std::vector<std::string> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) v.push_back(line);
  }
  return v;
}

}  // namespace

TEST(plant, reports_set_points_every_minute) {
  plant p({.sites = 1, .lines = 1, .machines = 2});
  std::string out;
  size_t lines = 0;
  for (int i = 0; i < 12; ++i) lines += p.step(int64_t{i} * 10 * sec, out);  // two minutes
  auto sp = lines_of(out, "setpoints,");
  ASSERT_EQ(sp.size(), 4u);  // at 0 s and 60 s for each machine
  EXPECT_EQ(lines, 24u + 4u);
  EXPECT_EQ(lines_of(out, "machine,").size(), 24u);
  const auto& m = p.machines()[0];
  char want[256];
  std::snprintf(
      want, sizeof(want),
      "setpoints,line=line1,machine=site1-line1-m01,site=site1 feed_rate_sp=%.1f,spindle_speed_sp=%.0f,"
      "temperature_sp=%.1f 0",
      m.feed_nominal, m.spindle_sp, m.temperature_sp);
  EXPECT_EQ(sp[0], want);
  EXPECT_NE(lines_of(out, "machine,")[0].find(",scrap_rate="), std::string::npos);
  // Machine lines come first, in machines() order (the Modbus plant relies on it).
  out.clear();
  p.step(12 * 10 * sec, out);
  EXPECT_TRUE(out.starts_with("machine,line=line1,machine=site1-line1-m01,"));
  EXPECT_NE(out.find("\nmachine,line=line1,machine=site1-line1-m02,"), std::string::npos);
  EXPECT_LT(out.find("machine=site1-line1-m02"), out.find("setpoints,"));
}

// Runs one machine with frequent drifts and records, per step, whether its
// set point is off nominal and its scrap rate.
struct drift_trace {
  std::vector<bool> off;
  std::vector<double> scrap_rate;
  std::string out;
};

drift_trace run_drifting(uint64_t seed, double drift_per_hour, int steps) {
  plant p({.sites = 1,
           .lines = 1,
           .machines = 1,
           .seed = seed,
           .drift_per_hour = drift_per_hour,
           .drift_mean_s = 3600});
  drift_trace tr;
  for (int i = 0; i < steps; ++i) {
    std::string out;
    p.step(int64_t{i} * 10 * sec, out);
    const auto& m = p.machines()[0];
    tr.off.push_back(m.feed_setpoint != m.feed_nominal);
    auto pos = out.find("scrap_rate=");
    tr.scrap_rate.push_back(std::stod(out.substr(pos + 11)));
    tr.out += out;
  }
  return tr;
}

TEST(plant, drift_is_deterministic_and_returns_to_nominal) {
  const int steps = 6 * 360;  // six simulated hours
  auto a = run_drifting(5, 2.0, steps), b = run_drifting(5, 2.0, steps);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.off, b.off);
  // Drifts start and end: the set point leaves nominal and comes back.
  int starts = 0, ends = 0;
  for (size_t i = 1; i < a.off.size(); ++i) {
    starts += !a.off[i - 1] && a.off[i];
    ends += a.off[i - 1] && !a.off[i];
  }
  EXPECT_GE(starts, 2);
  EXPECT_GE(ends, 1);
  // The reported set point follows: some setpoints lines are off nominal.
  auto sp = lines_of(a.out, "setpoints,");
  EXPECT_EQ(sp.size(), 6u * 60u);
  std::set<std::string> feeds;
  for (const auto& l : sp)
    feeds.insert(
        l.substr(l.find("feed_rate_sp="), l.find(',', l.find("feed_rate_sp=")) - l.find("feed_rate_sp=")));
  EXPECT_GT(feeds.size(), 2u);

  // With no drift probability the set point never moves.
  auto none = run_drifting(5, 0, steps);
  for (bool off : none.off) ASSERT_FALSE(off);
}

TEST(plant, drift_raises_the_scrap_rate) {
  // Mean scrap rate while a drift has lasted 20 minutes vs with none at all.
  const int steps = 24 * 360;
  auto a = run_drifting(11, 1.0, steps);
  auto none = run_drifting(11, 0, steps);
  double in_drift = 0, base = 0;
  int n_in = 0, n_base = 0, run = 0;
  for (size_t i = 0; i < a.off.size(); ++i) {
    run = a.off[i] ? run + 1 : 0;
    if (run >= 120) in_drift += a.scrap_rate[i], ++n_in;
    base += none.scrap_rate[i], ++n_base;
  }
  ASSERT_GT(n_in, 50);
  EXPECT_GT(in_drift / n_in, 0.15);
  EXPECT_LT(base / n_base, 0.06);
  EXPECT_GT(in_drift / n_in, 4 * (base / n_base));
}

}  // namespace liandu::sim
