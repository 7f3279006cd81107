// Quality of the streaming anomaly detectors (src/toolbox/anomaly) on
// labelled synthetic series. For each baseline (noisy constant, noisy daily
// cycle) and each anomaly kind (spike, level shift, drift, variance change,
// stuck sensor) it generates series with injected anomalies at known places,
// runs every detector and prints, as a markdown table:
//
//  - precision: alarm episodes (runs of samples whose score exceeds the
//    threshold, gaps of up to `merge_gap` samples merged) that overlap a
//    labelled anomaly (extended by `grace` samples after its end, since the
//    return to normal is part of the same incident), over all episodes;
//  - recall: labelled anomalies with at least one alarm inside them (plus
//    grace), over all anomalies;
//  - mean delay: samples from the start of an anomaly to its first alarm,
//    over the detected ones (one sample = one minute here);
//  - false episodes per day on the same baseline without anomalies.
//
// Usage: anomaly_eval [threshold=4] [seeds=5]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "toolbox/anomaly/detector.h"

namespace {

using liandu::toolbox::anomaly::make_detector;
using liandu::toolbox::anomaly::method;
using liandu::toolbox::anomaly::method_name;
using liandu::toolbox::anomaly::options;

constexpr int64_t minute = 60'000'000'000;
constexpr int samples_per_day = 1440;
constexpr int days = 14;
constexpr int length = samples_per_day * days;
constexpr int warmup = 3 * samples_per_day;  // no anomalies in the first three days
constexpr int events_per_series = 20;
constexpr int event_spacing = (length - warmup) / events_per_series;
constexpr int grace = 30;
constexpr int merge_gap = 5;
constexpr double sigma = 1.0;

enum class kind { none, spike, level_shift, drift, variance, stuck };
const char* kind_name(kind k) {
  switch (k) {
    case kind::none: return "none";
    case kind::spike: return "spike";
    case kind::level_shift: return "level shift";
    case kind::drift: return "drift";
    case kind::variance: return "variance x4";
    case kind::stuck: return "stuck sensor";
  }
  return "?";
}

struct label {
  int start;
  int end;  // exclusive
};

struct series {
  std::vector<double> values;
  std::vector<label> labels;
};

double baseline(bool seasonal, int i) {
  if (!seasonal) return 50.0;
  double phase = static_cast<double>(i % samples_per_day) / samples_per_day;
  return 50.0 + 10.0 * std::sin(2 * std::numbers::pi * phase);
}

series generate(bool seasonal, kind k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, sigma);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  series s;
  s.values.resize(length);
  for (int i = 0; i < length; ++i) s.values[i] = baseline(seasonal, i) + noise(rng);
  if (k == kind::none) return s;
  for (int e = 0; e < events_per_series; ++e) {
    // Anomalies start at a random place in the first half of their slot, so
    // the detector has time to settle between them.
    int start = warmup + e * event_spacing + static_cast<int>(unit(rng) * event_spacing / 2);
    double sign = unit(rng) < 0.5 ? -1.0 : 1.0;
    int len = 0;
    switch (k) {
      case kind::spike:
        len = 1;
        s.values[start] += sign * (6.0 + 4.0 * unit(rng)) * sigma;
        break;
      case kind::level_shift:
        len = 120;
        for (int i = start; i < start + len; ++i) s.values[i] += sign * 5.0 * sigma;
        break;
      case kind::drift:
        // A ramp to 8 sigma over four hours.
        len = 240;
        for (int i = start; i < start + len; ++i) s.values[i] += sign * 8.0 * sigma * (i - start + 1) / len;
        break;
      case kind::variance:
        len = 120;
        for (int i = start; i < start + len; ++i) {
          s.values[i] = baseline(seasonal, i) + 4.0 * noise(rng);
        }
        break;
      case kind::stuck:
        len = 120;
        for (int i = start; i < start + len; ++i) s.values[i] = s.values[start - 1];
        break;
      case kind::none: break;
    }
    s.labels.push_back({start, start + len});
  }
  return s;
}

struct tally {
  int episodes = 0;
  int true_episodes = 0;
  int events = 0;
  int detected = 0;
  double delay_sum = 0;
};

void evaluate(const options& o, const series& s, double threshold, tally& t) {
  auto d = make_detector(o);
  std::vector<bool> alarm(length);
  for (int i = 0; i < length; ++i) alarm[i] = d->update(i * minute, s.values[i]) > threshold;
  auto in_label = [&](int a, int b) {  // does [a, b] overlap a label (with grace)?
    for (const auto& l : s.labels) {
      if (a < l.end + grace && b >= l.start) return true;
    }
    return false;
  };
  // Alarm episodes; alarms during warm-up (first day) are not counted.
  for (int i = samples_per_day; i < length;) {
    if (!alarm[i]) {
      ++i;
      continue;
    }
    int start = i;
    int last = i;
    while (i < length && (alarm[i] || i - last <= merge_gap)) {
      if (alarm[i]) last = i;
      ++i;
    }
    ++t.episodes;
    if (in_label(start, last)) ++t.true_episodes;
  }
  for (const auto& l : s.labels) {
    ++t.events;
    for (int i = l.start; i < std::min(length, l.end + grace); ++i) {
      if (alarm[i]) {
        ++t.detected;
        t.delay_sum += i - l.start;
        break;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  double threshold = argc > 1 ? std::atof(argv[1]) : 4.0;
  int seeds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<options> detectors;
  detectors.push_back(options{.kind = method::robust_z, .window = 60, .min_samples = 30});
  detectors.push_back(options{.kind = method::ewma, .min_samples = 30, .alpha = 0.05});
  detectors.push_back(options{.kind = method::seasonal,
                              .min_samples = 10,
                              .alpha = 0.1,
                              .period_ns = samples_per_day * minute,
                              .bucket_ns = 15 * minute});
  std::printf(
      "threshold %.1f, %d seeds x %d anomalies per cell, %d days of 1-minute samples per series, "
      "noise sigma %.1f\n\n",
      threshold, seeds, events_per_series, days, sigma);
  std::printf(
      "| baseline | anomaly | detector | precision | recall | mean delay (samples) | false episodes/day |\n");
  std::printf("| --- | --- | --- | ---: | ---: | ---: | ---: |\n");
  for (bool seasonal : {false, true}) {
    for (kind k : {kind::spike, kind::level_shift, kind::drift, kind::variance, kind::stuck, kind::none}) {
      for (const options& o : detectors) {
        tally t;
        for (int seed = 1; seed <= seeds; ++seed) {
          evaluate(o, generate(seasonal, k, static_cast<uint32_t>(seed * 7919 + static_cast<int>(k))),
                   threshold, t);
        }
        const char* base = seasonal ? "daily cycle" : "constant";
        const char* name = method_name(o.kind);
        double per_day = static_cast<double>(t.episodes) / (seeds * (days - 1));
        if (k == kind::none) {
          std::printf("| %s | %s | %s | - | - | - | %.2f |\n", base, kind_name(k), name, per_day);
          continue;
        }
        double precision = t.episodes ? static_cast<double>(t.true_episodes) / t.episodes : 0.0;
        double recall = t.events ? static_cast<double>(t.detected) / t.events : 0.0;
        if (t.detected) {
          std::printf("| %s | %s | %s | %.2f | %.2f | %.1f | |\n", base, kind_name(k), name, precision,
                      recall, t.delay_sum / t.detected);
        } else {
          std::printf("| %s | %s | %s | %.2f | %.2f | - | |\n", base, kind_name(k), name, precision, recall);
        }
      }
    }
  }
  return 0;
}
