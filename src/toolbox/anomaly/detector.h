#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace liandu::toolbox::anomaly {

// Streaming anomaly detectors. Each is fed one (time, value) at a time and
// returns a score: how far the value lies from the baseline learnt from the
// values before it, in units of (robust) standard deviations. A score of 0
// means "normal" or "still warming up"; callers compare the score with a
// threshold (3 is a common choice, 4-5 for fewer false alarms).
//
//  - robust_z: median and MAD (median absolute deviation, scaled by 1.4826 to
//    match a normal sigma) over the last `window` values. Spikes barely move
//    the median, so one outlier does not hide the next.
//  - ewma: exponentially weighted mean and variance (smoothing `alpha`); the
//    control limits are mean +- threshold * sigma. Learning is winsorised at
//    4 sigma so a spike does not inflate sigma; a level shift is learnt in a
//    few dozen samples.
//  - seasonal: one ewma-like baseline per slot of the period (slot = time of
//    day when period is 24h, `bucket_ns` wide), so a daily cycle is not
//    reported as anomalous. Needs `min_samples` values per slot first.
//
// Detectors are not thread-safe; one instance serves one series.

enum class method { robust_z, ewma, seasonal };

const char* method_name(method m);  // "robust_z", "ewma", "seasonal"
// Accepts the names above and "mad" for robust_z.
bool parse_method(std::string_view text, method& out);

struct options {
  method kind = method::robust_z;
  size_t window = 60;                      // robust_z: values in the rolling window
  size_t min_samples = 10;                 // values (per slot for seasonal) before scoring
  double alpha = 0.05;                     // ewma and seasonal smoothing, (0, 1]
  int64_t period_ns = 86'400'000'000'000;  // seasonal: one day
  int64_t bucket_ns = 900'000'000'000;     // seasonal: 15 minutes
  bool operator==(const options&) const = default;
};

class detector {
 public:
  virtual ~detector() = default;
  // Scores `value` against the baseline of earlier values, then learns it.
  virtual double update(int64_t time, double value) = 0;
  virtual void reset() = 0;
};

// Options must be valid (see validate); invalid ones are clamped.
std::unique_ptr<detector> make_detector(const options& o);

// Returns an empty string when valid, else what is wrong.
const char* validate(const options& o);

class robust_z final : public detector {
 public:
  explicit robust_z(size_t window, size_t min_samples);
  double update(int64_t time, double value) override;
  void reset() override;

 private:
  size_t window_;
  size_t min_samples_;
  std::vector<double> ring_;
  size_t next_ = 0;
  std::vector<double> scratch_;
};

// Mean and variance smoothed exponentially; plain (Welford) averages during
// the first `min_samples` values so the start is not biased to the first one.
class ewma_stats {
 public:
  // Returns the score of x against the state before x, then learns x.
  double score_and_learn(double x, double alpha, size_t min_samples);
  size_t count() const { return n_; }

 private:
  size_t n_ = 0;
  double mean_ = 0;
  double var_ = 0;
};

class ewma final : public detector {
 public:
  ewma(double alpha, size_t min_samples);
  double update(int64_t time, double value) override;
  void reset() override;

 private:
  double alpha_;
  size_t min_samples_;
  ewma_stats stats_;
};

class seasonal final : public detector {
 public:
  seasonal(int64_t period_ns, int64_t bucket_ns, double alpha, size_t min_samples);
  double update(int64_t time, double value) override;
  void reset() override;

 private:
  int64_t period_ns_;
  int64_t bucket_ns_;
  double alpha_;
  size_t min_samples_;
  std::vector<ewma_stats> slots_;
};

}  // namespace liandu::toolbox::anomaly
