#include "workloads.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace liandu::bench {

namespace {

constexpr int64_t pow10[] = {1, 10, 100, 1000, 10000};

int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); }

// sin(degrees) * 1000 by Bhaskara I's approximation (error < 0.2%): integer
// arithmetic only, so positions are the same on every machine.
int64_t sin1000(int64_t deg) {
  deg = ((deg % 360) + 360) % 360;
  int64_t sign = 1;
  if (deg >= 180) {
    deg -= 180;
    sign = -1;
  }
  int64_t p = deg * (180 - deg);
  return sign * 4000 * p / (40500 - p);
}
int64_t cos1000(int64_t deg) { return sin1000(deg + 90); }

// ------------------------------------------------------------------ trucks

constexpr const char* fleets[] = {"East", "West", "North", "South", "Central"};
constexpr const char* drivers[] = {"Albert", "Derek", "Andy", "Seth", "Trish", "Rodney"};
struct truck_model {
  const char* name;
  int64_t load_capacity;  // kg
  int64_t fuel_capacity;  // litres
  int64_t nominal_fuel;   // l/100 km
};
constexpr truck_model models[] = {
    {"F-150", 2000, 200, 15}, {"G-2000", 5000, 300, 19}, {"H-2", 1500, 150, 12}};
constexpr const char* device_versions[] = {"v1.0", "v1.5", "v2.0", "v2.3"};

struct truck {
  std::string tags;  // ",name=...,device_version=..." after the measurement
  const truck_model* model = nullptr;
  int64_t lat = 0, lon = 0;    // 1e-5 degrees
  int64_t elevation = 0;       // m
  int64_t home_elevation = 0;  // the terrain's level around the route, m
  int64_t velocity = 0;        // 0.1 km/h
  int64_t cruise = 0;          // the speed this driver likes, 0.1 km/h
  int64_t heading = 0;         // degrees
  int64_t grade = 0;           // 0.1 %
  int64_t consumption = 0;     // 0.1 l/100 km
  int64_t stopped_ticks = 0;
  int64_t load = 0;  // kg
  int64_t fuel = 0;  // ml
  int64_t status = 0;
  int64_t status_ticks = 0;
};

class trucks_generator final : public generator {
 public:
  explicit trucks_generator(const workload_options& o)
      : generator(o), rng_(o.seed * 0x2545f4914f6cdd1dull + 1) {
    trucks_.resize(o.scale);
    for (size_t i = 0; i < trucks_.size(); ++i) {
      truck& t = trucks_[i];
      t.model = &models[rng_.below(3)];
      t.tags = ",name=truck_" + std::to_string(i);
      t.tags += ",fleet=";
      t.tags += fleets[rng_.below(5)];
      t.tags += ",driver=";
      t.tags += drivers[rng_.below(6)];
      t.tags += ",model=";
      t.tags += t.model->name;
      t.tags += ",device_version=";
      t.tags += device_versions[rng_.below(4)];
      t.lat = rng_.between(30'00000, 48'00000);
      t.lon = rng_.between(-122'00000, -75'00000);
      t.home_elevation = rng_.between(0, 1500);
      t.elevation = t.home_elevation;
      t.cruise = rng_.between(700, 1050);
      t.velocity = rng_.between(0, t.cruise);
      t.heading = rng_.between(0, 359);
      t.load = rng_.between(0, t.model->load_capacity);
      t.fuel = rng_.between(t.model->fuel_capacity * 300, t.model->fuel_capacity * 1000);
    }
  }

  size_t lines_per_tick() const override { return trucks_.size() * 2; }
  size_t values_per_tick() const override { return trucks_.size() * 13; }

 protected:
  size_t emit(size_t row, int64_t time, std::string& out) override {
    truck& t = trucks_[row / 2];
    if (row % 2 == 0) {
      advance(t);
      out += "readings";
      out += t.tags;
      out += " latitude=";
      append_fixed(out, t.lat / 1000, 2);
      out += ",longitude=";
      append_fixed(out, t.lon / 1000, 2);
      out += ",elevation=";
      append_int(out, t.elevation);
      out += ",velocity=";
      append_fixed(out, t.velocity, 1);
      out += ",heading=";
      append_int(out, t.heading);
      out += ",grade=";
      append_fixed(out, t.grade, 1);
      out += ",fuel_consumption=";
      append_fixed(out, t.consumption, 1);
    } else {
      out += "diagnostics";
      out += t.tags;
      out += " load_capacity=";
      append_int(out, t.model->load_capacity);
      out += ",fuel_capacity=";
      append_int(out, t.model->fuel_capacity);
      out += ",nominal_fuel_consumption=";
      append_int(out, t.model->nominal_fuel);
      out += ",current_load=";
      append_int(out, t.load);
      out += ",fuel_state=";
      append_fixed(out, (t.fuel + t.model->fuel_capacity * 5) / (t.model->fuel_capacity * 10), 2);
      out += ",status=";
      append_int(out, t.status);
      out += 'i';
    }
    out += ' ';
    append_int(out, time);
    out += '\n';
    return row % 2 == 0 ? 7 : 6;
  }

 private:
  // One tick (10 s) of a truck's life: drive, or stand still and (un)load.
  void advance(truck& t) {
    if (t.status_ticks > 0 && --t.status_ticks == 0) t.status = 0;
    if (t.stopped_ticks > 0) {
      t.velocity = 0;
      t.consumption = 0;
      if (--t.stopped_ticks == 0) {
        t.load = rng_.between(0, t.model->load_capacity);
        if (t.fuel < t.model->fuel_capacity * 150) t.fuel = t.model->fuel_capacity * 1000;
        t.status = 0;
      }
      return;
    }
    if (rng_.one_in(1080)) {  // a stop every 3 hours or so
      t.stopped_ticks = rng_.between(30, 360);
      t.status = 1;
      t.velocity = 0;
      t.consumption = 0;
      return;
    }
    t.velocity = clamp(t.velocity + rng_.step(12) + (t.cruise - t.velocity) / 24, 0, 1300);
    t.heading = ((t.heading + rng_.step(2) + (rng_.one_in(300) ? 90 * rng_.step(1) : 0)) % 360 + 360) % 360;
    // Roads climb and descend around the terrain's level instead of drifting off.
    t.grade = clamp(t.grade + rng_.step(3) - t.grade / 16 + (t.home_elevation - t.elevation) / 400, -80, 80);
    t.elevation = clamp(t.elevation + t.grade * t.velocity / 3600 + rng_.step(1), 0, 3500);
    // Distance in 10 s, in 1e-5 degrees (1 km is about 900 of them).
    int64_t dist = t.velocity / 4;
    t.lat = clamp(t.lat + dist * cos1000(t.heading) / 1000, 25'00000, 49'00000);
    t.lon = clamp(t.lon + dist * sin1000(t.heading) / 1000, -124'00000, -67'00000);
    int64_t litres_per_100km_x10 = t.model->nominal_fuel * 10 + t.grade * 3 + (t.velocity - 800) / 10 +
                                   t.load * 20 / t.model->load_capacity;
    t.consumption = std::max<int64_t>(0, litres_per_100km_x10 + rng_.step(4));
    t.fuel = std::max<int64_t>(0, t.fuel - t.consumption * t.velocity / 3600);
    if (t.status == 0 && rng_.one_in(20000)) {  // a warning code now and then
      t.status = rng_.between(2, 5);
      t.status_ticks = rng_.between(6, 60);
    }
  }

  rng rng_;
  std::vector<truck> trucks_;
};

// ----------------------------------------------------------------- factory

constexpr size_t series_per_machine = 20;
constexpr size_t machines_per_line = 25;
constexpr size_t lines_per_site = 5;

enum machine_state : int64_t { stopped = 0, running = 1, idle = 2, setup = 3, fault = 4 };

struct analog_sensor {
  const char* name;
  int64_t base;  // typical running value, in units of 10^-decimals
  int64_t step;  // largest step per tick, same units
  int decimals;
  int64_t stopped_pct;  // where the value drifts when the machine stops, % of base
};
constexpr analog_sensor analog_sensors[] = {
    {"temperature", 220, 2, 1, 100}, {"bearing_temp", 550, 3, 1, 60}, {"motor_temp", 6100, 12, 2, 60},
    {"coolant_temp", 350, 2, 1, 70}, {"pressure", 625, 2, 2, 100},    {"hydraulic_pressure", 1800, 6, 1, 10},
    {"vibration_x", 125, 5, 2, 5},   {"vibration_y", 110, 5, 2, 5},   {"vibration_z", 90, 4, 2, 5},
    {"current", 125, 3, 1, 5},       {"voltage", 4000, 4, 1, 100},    {"power", 520, 8, 2, 5},
    {"flow", 400, 4, 1, 0},          {"speed", 1450, 5, 0, 0},        {"humidity", 450, 2, 1, 100},
};
constexpr size_t analog_count = sizeof(analog_sensors) / sizeof(analog_sensors[0]);
constexpr const char* counter_names[] = {"parts_good", "parts_scrap", "cycles", "energy_wh"};
static_assert(analog_count + 4 + 1 == series_per_machine);

struct machine {
  std::string tags;  // ",site=...,machine=..."
  int64_t state = running;
};

class factory_generator final : public generator {
 public:
  explicit factory_generator(const workload_options& o)
      : generator(o), rng_(o.seed * 0x9e3779b97f4a7c15ull + 7) {
    size_t machines = (o.scale + series_per_machine - 1) / series_per_machine;
    machines_.resize(machines);
    readings_.resize(machines * series_per_machine);
    bases_.resize(machines * series_per_machine);
    for (size_t m = 0; m < machines; ++m) {
      machine& mc = machines_[m];
      mc.tags = ",site=site_" + std::to_string(m / (machines_per_line * lines_per_site));
      mc.tags += ",line=line_" + std::to_string((m / machines_per_line) % lines_per_site);
      mc.tags += ",machine=machine_" + std::to_string(m);
      mc.state = rng_.one_in(10) ? idle : running;
      for (size_t k = 0; k < series_per_machine; ++k) {
        size_t s = m * series_per_machine + k;
        if (k < analog_count) {
          int64_t b = analog_sensors[k].base;
          bases_[s] = b + rng_.between(-b / 10, b / 10);
          readings_[s] = bases_[s];
        } else if (k < analog_count + 4) {
          static constexpr int64_t start_max[] = {1'000'000, 20'000, 1'000'000, 1'000'000'000};
          readings_[s] = rng_.between(0, start_max[k - analog_count]);
        }
      }
    }
  }

  size_t lines_per_tick() const override { return readings_.size(); }
  size_t values_per_tick() const override { return readings_.size(); }

 protected:
  size_t emit(size_t row, int64_t time, std::string& out) override {
    size_t m = row / series_per_machine;
    size_t k = row % series_per_machine;
    machine& mc = machines_[m];
    if (k == 0) advance(mc);
    int64_t& v = readings_[row];
    if (k < analog_count) {
      const analog_sensor& a = analog_sensors[k];
      bool on = mc.state == running || mc.state == idle || mc.state == setup;
      int64_t target = on ? bases_[row] : bases_[row] * a.stopped_pct / 100;
      if (mc.state == idle) target = (target + bases_[row] * a.stopped_pct / 100) / 2;
      v += rng_.step(a.step) + (target - v) / 16;
      if (v < 0) v = 0;
      out += "sensors";
      out += mc.tags;
      out += ",sensor=";
      out += a.name;
      out += " value=";
      append_fixed(out, v, a.decimals);
    } else if (k < analog_count + 4) {
      size_t c = k - analog_count;
      bool on = mc.state == running;
      switch (c) {
        case 0: v += on ? rng_.between(0, 2) : 0; break;
        case 1: v += on && rng_.one_in(50) ? 1 : 0; break;
        case 2: v += on ? 1 : 0; break;
        default: v += on ? rng_.between(80, 120) : rng_.between(2, 5); break;
      }
      out += "counters";
      out += mc.tags;
      out += ",sensor=";
      out += counter_names[c];
      out += " count=";
      append_int(out, v);
      out += 'i';
    } else {
      out += "states";
      out += mc.tags;
      out += ",sensor=state state=";
      append_int(out, mc.state);
      out += 'i';
    }
    out += ' ';
    append_int(out, time);
    out += '\n';
    return 1;
  }

 private:
  // Machines run most of the time; about once an hour they idle, stop, are
  // set up or fail for a few minutes.
  void advance(machine& mc) {
    if (mc.state == running) {
      if (rng_.one_in(360)) {
        static constexpr int64_t next[] = {stopped, idle, setup, fault};
        mc.state = next[rng_.below(4)];
      }
    } else if (rng_.one_in(30)) {
      mc.state = running;
    }
  }

  rng rng_;
  std::vector<machine> machines_;
  std::vector<int64_t> readings_;  // per series: the current reading (analog, counter)
  std::vector<int64_t> bases_;     // per series: the machine's own running level
};

}  // namespace

bool parse_workload_kind(std::string_view text, workload_kind& out) {
  if (text == "trucks") {
    out = workload_kind::trucks;
    return true;
  }
  if (text == "factory") {
    out = workload_kind::factory;
    return true;
  }
  return false;
}

const char* workload_name(workload_kind k) { return k == workload_kind::trucks ? "trucks" : "factory"; }

size_t generator::next_batch(size_t max_lines, std::string& out) {
  const size_t per_tick = lines_per_tick();
  size_t n = 0;
  while (n < max_lines && tick_ < opts_.ticks) {
    values_ += emit(row_, opts_.start_ns + tick_ * opts_.interval_ns, out);
    ++n;
    if (++row_ == per_tick) {
      row_ = 0;
      ++tick_;
    }
  }
  lines_ += n;
  return n;
}

std::unique_ptr<generator> make_generator(const workload_options& o) {
  if (o.kind == workload_kind::trucks) return std::make_unique<trucks_generator>(o);
  return std::make_unique<factory_generator>(o);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void append_fixed(std::string& out, int64_t v, int decimals) {
  if (v < 0) {
    out += '-';
    v = -v;
  }
  int64_t whole = v / pow10[decimals];
  int64_t frac = v % pow10[decimals];
  while (decimals > 0 && frac % 10 == 0) {
    frac /= 10;
    --decimals;
  }
  append_int(out, whole);
  if (decimals == 0) return;
  out += '.';
  char digits[8];
  for (int i = decimals - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out.append(digits, static_cast<size_t>(decimals));
}

}  // namespace liandu::bench
