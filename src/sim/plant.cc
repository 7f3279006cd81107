#include "sim/plant.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace liandu::sim {

const char* state_name(machine_state s) {
  switch (s) {
    case machine_state::running: return "running";
    case machine_state::idle: return "idle";
    case machine_state::setup: return "setup";
    case machine_state::down: return "down";
  }
  return "unknown";
}

plant::plant(plant_options opts) : opts_(opts), rng_(opts.seed) {
  for (int s = 1; s <= opts_.sites; ++s) {
    for (int l = 1; l <= opts_.lines; ++l) {
      for (int m = 1; m <= opts_.machines; ++m) {
        machine_sim ms;
        ms.site = "site" + std::to_string(s);
        ms.line = "line" + std::to_string(l);
        char name[16];
        std::snprintf(name, sizeof(name), "m%02d", m);
        ms.name = ms.site + "-" + ms.line + "-" + name;
        ms.cycle_time_s = 35 + static_cast<double>(rng_() % 20);
        ms.feed_nominal = ms.feed_setpoint = 1000 + static_cast<double>(rng_() % 5) * 100;
        ms.spindle_sp = 8000 + static_cast<double>(rng_() % 5) * 1000;
        ms.temperature_sp = 18 + static_cast<double>(rng_() % 5);
        // Tool life between 4 and 12 running hours.
        ms.wear_rate = 1.0 / ((4 + static_cast<double>(rng_() % 9)) * 3600.0);
        ms.wear = static_cast<double>(rng_() % 50) / 100.0;
        enter(ms, (rng_() % 4 == 0) ? machine_state::idle : machine_state::running);
        ms.state_left_s *= static_cast<double>(rng_() % 100) / 100.0;  // desynchronise machines
        ms.temperature = ms.state == machine_state::running ? 55 : 25;
        machines_.push_back(ms);
      }
    }
  }
}

double plant::exp_duration(double mean_s) {
  std::exponential_distribution<double> d(1.0 / mean_s);
  return std::max(30.0, d(rng_));
}

double plant::noise(double sd) {
  std::normal_distribution<double> d(0, sd);
  return d(rng_);
}

void plant::enter(machine_sim& m, machine_state s) {
  m.state = s;
  switch (s) {
    case machine_state::running: m.state_left_s = exp_duration(45 * 60); break;
    case machine_state::idle: m.state_left_s = exp_duration(5 * 60); break;
    case machine_state::setup:
      m.state_left_s = exp_duration(15 * 60);
      // A setup restores the nominal set point.
      m.feed_setpoint = m.feed_nominal;
      m.drift_rate = 0;
      m.drifting = false;
      break;
    case machine_state::down:
      m.state_left_s = exp_duration(20 * 60);
      m.breakdown = false;
      m.wear = 0;  // repaired: new tool
      break;
  }
}

namespace {
double round_to(double v, double step) { return std::round(v / step) * step; }
}  // namespace

size_t plant::step(int64_t t, std::string& out) {
  const double dt = static_cast<double>(opts_.interval_ns) / 1e9;
  std::uniform_real_distribution<double> u01(0, 1);
  size_t lines = 0;
  std::string reports;  // after every machine's line, so line i is machine i
  for (auto& m : machines_) {
    m.state_left_s -= dt;
    if (m.state == machine_state::running && m.wear >= 1.0) {
      enter(m, machine_state::down);  // breakdown
    } else if (m.state_left_s <= 0) {
      if (m.state == machine_state::running) {
        double r = u01(rng_);
        enter(m, r < 0.65 ? machine_state::idle : (r < 0.9 ? machine_state::setup : machine_state::down));
      } else {
        enter(m, machine_state::running);
      }
    }
    // Set-point drift starts rarely (by default about once per 8 running
    // hours), ramps to its limit and returns to nominal after a while.
    if (m.state == machine_state::running && !m.drifting && u01(rng_) < dt * opts_.drift_per_hour / 3600.0) {
      m.drifting = true;
      m.drift_rate = (u01(rng_) < 0.5 ? -1 : 1) * m.feed_nominal * 0.30 / 3600.0;  // 30 % per hour
      m.drift_limit = 0.08 + 0.07 * u01(rng_);
      m.drift_left_s = exp_duration(opts_.drift_mean_s);
    }
    if (m.drifting) {
      m.drift_left_s -= dt;
      if (m.drift_left_s <= 0) {
        m.drifting = false;
        m.drift_rate = 0;
        m.feed_setpoint = m.feed_nominal;
      } else {
        double limit = m.feed_nominal * m.drift_limit;
        m.feed_setpoint =
            std::clamp(m.feed_setpoint + m.drift_rate * dt, m.feed_nominal - limit, m.feed_nominal + limit);
      }
    }

    double load = 0;
    switch (m.state) {
      case machine_state::running:
        load = 0.75 + 0.2 * std::sin(static_cast<double>(t) / 9e11) + noise(0.03);
        break;
      case machine_state::idle: load = 0.08; break;
      case machine_state::setup: load = 0.15; break;
      case machine_state::down: load = 0; break;
    }
    load = std::clamp(load, 0.0, 1.1);
    double target_temp = 22 + 45 * load;
    m.temperature += (target_temp - m.temperature) * (1 - std::exp(-dt / 600.0));
    if (m.state == machine_state::running) m.wear += m.wear_rate * dt;

    int64_t new_cycles = 0, new_scrap = 0;
    if (m.state == machine_state::running) {
      m.cycle_fraction += dt / m.cycle_time_s;
      new_cycles = static_cast<int64_t>(m.cycle_fraction);
      m.cycle_fraction -= static_cast<double>(new_cycles);
      double deviation = std::abs(m.feed_setpoint - m.feed_nominal) / m.feed_nominal;
      double p_scrap = std::min(0.9, 0.01 + 2.5 * deviation + (m.wear > 0.85 ? 0.05 : 0));
      std::binomial_distribution<int64_t> b(new_cycles, p_scrap);
      new_scrap = new_cycles > 0 ? b(rng_) : 0;
    }
    m.cycles += new_cycles;
    m.scrap += new_scrap;
    m.good += new_cycles - new_scrap;
    const double decay = std::exp(-dt / 600.0);
    m.cycle_weight = m.cycle_weight * decay + static_cast<double>(new_cycles);
    m.scrap_weight = m.scrap_weight * decay + static_cast<double>(new_scrap);
    const double scrap_rate = m.cycle_weight > 0.5 ? m.scrap_weight / m.cycle_weight : 0.0;

    double spindle = m.state == machine_state::running ? round_to(12000 * load + noise(40), 1) : 0;
    double vibration = std::max(0.0, 0.4 + 1.6 * load + 6.0 * std::pow(m.wear, 3) + noise(0.05));
    double pressure = m.state == machine_state::down ? 0.0 : 6.0 + 0.3 * load + noise(0.02);
    double power = 1.5 + 18.0 * load + noise(0.1);
    double feed = m.state == machine_state::running ? m.feed_setpoint + noise(2) : 0;

    char buf[512];
    int n = std::snprintf(
        buf, sizeof(buf),
        "machine,line=%s,machine=%s,site=%s state=\"%s\",state_code=%di,spindle_speed=%.0f,temperature=%.2f,"
        "vibration=%.3f,pressure=%.2f,power=%.2f,feed_rate=%.1f,feed_setpoint=%.1f,cycle_count=%lldi,"
        "good_count=%lldi,scrap_count=%lldi,scrap_rate=%.4f %lld\n",
        m.line.c_str(), m.name.c_str(), m.site.c_str(), state_name(m.state), static_cast<int>(m.state),
        spindle, round_to(m.temperature + noise(0.05), 0.01), round_to(vibration, 0.001),
        round_to(pressure, 0.01), round_to(std::max(0.0, power), 0.01), round_to(feed, 0.1),
        round_to(m.feed_setpoint, 0.1), static_cast<long long>(m.cycles), static_cast<long long>(m.good),
        static_cast<long long>(m.scrap), round_to(scrap_rate, 0.0001), static_cast<long long>(t));
    out.append(buf, static_cast<size_t>(n));
    ++lines;
    if (m.last_report == INT64_MIN || t - m.last_report >= opts_.setpoint_interval_ns) {
      m.last_report = t;
      n = std::snprintf(buf, sizeof(buf),
                        "setpoints,line=%s,machine=%s,site=%s feed_rate_sp=%.1f,spindle_speed_sp=%.0f,"
                        "temperature_sp=%.1f %lld\n",
                        m.line.c_str(), m.name.c_str(), m.site.c_str(), round_to(m.feed_setpoint, 0.1),
                        m.spindle_sp, m.temperature_sp, static_cast<long long>(t));
      reports.append(buf, static_cast<size_t>(n));
      ++lines;
    }
  }
  out += reports;
  return lines;
}

}  // namespace liandu::sim
