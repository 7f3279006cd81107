#include "sim/plant.h"

#include <gtest/gtest.h>

#include <map>

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

}  // namespace liandu::sim
