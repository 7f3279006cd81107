#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace liandu::sim {

// A simulated plant: sites × lines × machines (CNC-like cells) whose readings
// are plausible and correlated, generated deterministically from a seed:
//  - each machine moves between running, idle, setup and down with
//    exponentially distributed durations (running ~45 min, idle ~5 min,
//    setup ~15 min, down ~20 min);
//  - temperature follows load with a first-order lag (tau 10 min);
//  - tool wear grows while running; vibration rises with it, and when wear
//    passes its limit the machine breaks down (vibration rises *before* the
//    breakdown, as predictive maintenance expects); repair resets the wear;
//  - now and then the feed-rate set point drifts away from its nominal value
//    (a twin drift) and the scrap rate grows with the deviation until the
//    next setup corrects it.
// Everything is written as one point per machine and interval into
// measurement `machine`, tags site/line/machine.
struct plant_options {
  int sites = 2;
  int lines = 3;
  int machines = 8;  // per line
  uint64_t seed = 42;
  int64_t interval_ns = 10LL * 1000000000LL;
};

enum class machine_state { running = 0, idle = 1, setup = 2, down = 3 };
const char* state_name(machine_state s);

struct machine_sim {
  std::string site, line, name;
  machine_state state = machine_state::idle;
  double state_left_s = 0;
  double temperature = 22;
  double wear = 0;           // 0..1; breakdown at 1
  double wear_rate = 0;      // per running second
  double feed_nominal = 1200;
  double feed_setpoint = 1200;
  double drift_rate = 0;     // set-point drift per second while drifting
  double cycle_time_s = 45;
  double cycle_fraction = 0;
  int64_t cycles = 0, good = 0, scrap = 0;
  bool breakdown = false;
};

class plant {
 public:
  explicit plant(plant_options opts);

  // Advances every machine by one interval ending at time t (ns) and appends
  // one line-protocol line per machine to out.
  void step(int64_t t, std::string& out);
  size_t machine_count() const { return machines_.size(); }
  const std::vector<machine_sim>& machines() const { return machines_; }
  const plant_options& options() const { return opts_; }

 private:
  void enter(machine_sim& m, machine_state s);
  double exp_duration(double mean_s);
  double noise(double sd);

  plant_options opts_;
  std::mt19937_64 rng_;
  std::vector<machine_sim> machines_;
};

}  // namespace liandu::sim
