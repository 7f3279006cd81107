#include "toolbox/anomaly/detector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace liandu::toolbox::anomaly {
namespace {

constexpr int64_t sec = 1'000'000'000;

TEST(detector, method_names_round_trip) {
  for (method m : {method::robust_z, method::ewma, method::seasonal}) {
    method out;
    ASSERT_TRUE(parse_method(method_name(m), out));
    EXPECT_EQ(out, m);
  }
  method out;
  EXPECT_TRUE(parse_method("mad", out));
  EXPECT_EQ(out, method::robust_z);
  EXPECT_FALSE(parse_method("zscore", out));
}

TEST(detector, validate_rejects_bad_options) {
  options o;
  EXPECT_STREQ(validate(o), "");
  o.alpha = 0;
  EXPECT_STRNE(validate(o), "");
  o = options();
  o.kind = method::seasonal;
  o.period_ns = 100;
  o.bucket_ns = 30;
  EXPECT_STRNE(validate(o), "");
}

// Scores of normal values stay low; a spike scores high; the spike does not
// hide a second one right after it.
void check_spikes(method m) {
  options o;
  o.kind = m;
  o.window = 50;
  o.min_samples = 20;
  o.alpha = 0.05;
  auto d = make_detector(o);
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  double max_normal = 0;
  for (int i = 0; i < 200; ++i) {
    double s = d->update(i * sec, 100 + noise(rng));
    if (i >= 20) max_normal = std::max(max_normal, s);
  }
  EXPECT_LT(max_normal, 5.0) << method_name(m);
  EXPECT_GT(d->update(200 * sec, 120), 10.0) << method_name(m);
  EXPECT_GT(d->update(201 * sec, 120), 10.0) << method_name(m);
  EXPECT_LT(d->update(202 * sec, 100.5), 3.0) << method_name(m);
}

TEST(detector, robust_z_scores_spikes) { check_spikes(method::robust_z); }
TEST(detector, ewma_scores_spikes) { check_spikes(method::ewma); }

TEST(detector, warming_up_scores_zero) {
  auto d = make_detector(options{.kind = method::ewma, .min_samples = 5});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(d->update(i, i == 3 ? 1000 : 1), 0.0);
}

TEST(detector, robust_z_median_and_mad_are_exact) {
  robust_z d(5, 5);
  for (double v : {1.0, 2.0, 3.0, 4.0, 100.0}) EXPECT_EQ(d.update(0, v), 0.0);
  // median 3, deviations 2 1 0 1 97 → MAD 1, sigma 1.4826.
  EXPECT_NEAR(d.update(0, 6.0), 3.0 / 1.4826, 1e-12);
}

TEST(detector, seasonal_learns_the_daily_cycle) {
  options o;
  o.kind = method::seasonal;
  o.period_ns = 100 * sec;
  o.bucket_ns = 10 * sec;
  o.min_samples = 10;
  o.alpha = 0.1;
  auto seasonal_d = make_detector(o);
  o.kind = method::ewma;
  auto flat_d = make_detector(o);
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.2);
  auto signal = [](int64_t t) {
    return 50 + 10 * std::sin(2 * std::numbers::pi * static_cast<double>(t % (100 * sec)) / (100.0 * sec));
  };
  for (int64_t t = 0; t < 2000 * sec; t += sec) {
    double v = signal(t) + noise(rng);
    seasonal_d->update(t, v);
    flat_d->update(t, v);
  }
  // A normal peak: seasonal sees nothing, a flat baseline sees the cycle.
  int64_t peak = 2000 * sec + 25 * sec;
  EXPECT_LT(seasonal_d->update(peak, signal(peak)), 3.0);
  EXPECT_GT(flat_d->update(peak, signal(peak)), 1.0);
  // A trough value at the time of the peak is anomalous only seasonally.
  int64_t later = 2100 * sec + 25 * sec;
  EXPECT_GT(seasonal_d->update(later, 40), 10.0);
}

}  // namespace
}  // namespace liandu::toolbox::anomaly
