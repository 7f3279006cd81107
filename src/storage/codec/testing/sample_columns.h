#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace liandu::storage::codec::testing {

// Deterministic columns shaped like industrial sensor data, shared by the
// codec tests and benchmarks. Decimal values are built as m / 10^k, which is
// the double a parser yields for the text, as line protocol input would.

// Timestamps every interval_ns from start_ns.
inline std::vector<int64_t> regular_timestamps_for_test(size_t n, int64_t start_ns = 1700000000000000000,
                                                        int64_t interval_ns = 10'000'000'000) {
  std::vector<int64_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = start_ns + static_cast<int64_t>(i) * interval_ns;
  return t;
}

// Timestamps every interval_ns with a uniform jitter of up to +-jitter_ns,
// as a gateway stamping arrival time produces.
inline std::vector<int64_t> jittered_timestamps_for_test(size_t n, int64_t jitter_ns, uint64_t seed = 1,
                                                         int64_t interval_ns = 10'000'000'000) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> jitter(-jitter_ns, jitter_ns);
  std::vector<int64_t> t(n);
  for (size_t i = 0; i < n; ++i)
    t[i] = 1700000000000000000 + static_cast<int64_t>(i) * interval_ns + jitter(rng);
  return t;
}

// A random walk of decimals with the given digits after the point, starting
// at start and moving by at most max_step units of the last digit a sample
// (a temperature of 23.45 moving by up to 0.10 is digits 2, max_step 10).
inline std::vector<double> random_walk_for_test(size_t n, int digits, int64_t max_step, uint64_t seed = 1,
                                                double start = 23.45) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> step(-max_step, max_step);
  const double scale = std::pow(10.0, digits);
  int64_t m = std::llround(start * scale);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<double>(m) / scale;
    m += step(rng);
  }
  return v;
}

// A counter (energy meter, piece count) growing by 0..max_increment a sample.
inline std::vector<double> counter_for_test(size_t n, int max_increment, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> inc(0, max_increment);
  std::vector<double> v(n);
  double c = 1000;
  for (size_t i = 0; i < n; ++i) {
    v[i] = c;
    c += inc(rng);
  }
  return v;
}

// A machine state (0 idle, 1 running, 2 setup) that changes about every
// mean_run samples.
inline std::vector<int64_t> states_for_test(size_t n, int mean_run, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> change(0, mean_run - 1);
  std::uniform_int_distribution<int> next(0, 2);
  std::vector<int64_t> v(n);
  int64_t s = 1;
  for (size_t i = 0; i < n; ++i) {
    if (change(rng) == 0) s = next(rng);
    v[i] = s;
  }
  return v;
}

// Noisy measurements that are not short decimals (computed, not parsed).
inline std::vector<double> noisy_for_test(size_t n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.5);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 50.0 + 10.0 * std::sin(static_cast<double>(i) / 100.0) + noise(rng);
  return v;
}

inline std::vector<std::string> state_names_for_test(size_t n, int mean_run, uint64_t seed = 1) {
  static const char* const names[] = {"idle", "running", "setup"};
  std::vector<std::string> v;
  v.reserve(n);
  for (int64_t s : states_for_test(n, mean_run, seed)) v.emplace_back(names[s]);
  return v;
}

// Lot numbers such as "LOT-2024-000123", all distinct.
inline std::vector<std::string> lot_numbers_for_test(size_t n) {
  std::vector<std::string> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string digits = std::to_string(100000 + i);
    v.push_back("LOT-2024-" + digits);
  }
  return v;
}

}  // namespace liandu::storage::codec::testing
