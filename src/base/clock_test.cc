#include "base/clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace liandu {
namespace {

// Four threads draw timestamps as fast as they can: every value is unique
// (no two messages can land on one point) and each thread's are increasing.
TEST(arrival_clock, unique_and_increasing_across_threads) {
  arrival_clock clock;
  constexpr int threads = 4, per_thread = 50000;
  std::vector<std::vector<int64_t>> drawn(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      drawn[t].reserve(per_thread);
      for (int i = 0; i < per_thread; ++i) drawn[t].push_back(clock.next());
    });
  }
  for (auto& w : workers) w.join();
  std::vector<int64_t> all;
  for (const auto& d : drawn) {
    EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
    EXPECT_EQ(std::adjacent_find(d.begin(), d.end()), d.end());
    all.insert(all.end(), d.begin(), d.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  // Close to the wall clock: a burst moves it ahead by at most its length.
  EXPECT_LE(all.back() - now_ns(), int64_t{threads} * per_thread);
}

}  // namespace
}  // namespace liandu
