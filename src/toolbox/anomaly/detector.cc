#include "toolbox/anomaly/detector.h"

#include <algorithm>
#include <cmath>

namespace liandu::toolbox::anomaly {
namespace {

// MAD of a normal distribution is 0.6745 sigma.
constexpr double mad_to_sigma = 1.4826;
// Learning is winsorised at this many sigma (ewma, seasonal).
constexpr double learn_clamp = 4.0;

// A spread of zero (a constant signal) would make every change infinitely
// anomalous; floor it relative to the level of the signal.
double spread_floor(double level) { return 1e-9 * (1.0 + std::fabs(level)); }

}  // namespace

const char* method_name(method m) {
  switch (m) {
    case method::robust_z: return "robust_z";
    case method::ewma: return "ewma";
    case method::seasonal: return "seasonal";
  }
  return "?";
}

bool parse_method(std::string_view text, method& out) {
  if (text == "robust_z" || text == "mad") {
    out = method::robust_z;
  } else if (text == "ewma") {
    out = method::ewma;
  } else if (text == "seasonal") {
    out = method::seasonal;
  } else {
    return false;
  }
  return true;
}

const char* validate(const options& o) {
  if (o.kind == method::robust_z && o.window < 3) return "window must be at least 3";
  if (o.min_samples < 2) return "min_samples must be at least 2";
  if (!(o.alpha > 0.0 && o.alpha <= 1.0)) return "alpha must be in (0, 1]";
  if (o.kind == method::seasonal) {
    if (o.bucket_ns <= 0 || o.period_ns <= 0) return "period and bucket must be positive";
    if (o.period_ns % o.bucket_ns != 0) return "period must be a multiple of bucket";
    if (o.period_ns / o.bucket_ns > 100'000) return "period / bucket must be at most 100000 slots";
  }
  return "";
}

std::unique_ptr<detector> make_detector(const options& o) {
  size_t min_samples = std::max<size_t>(o.min_samples, 2);
  double alpha = std::clamp(o.alpha, 1e-6, 1.0);
  switch (o.kind) {
    case method::robust_z: return std::make_unique<robust_z>(std::max<size_t>(o.window, 3), min_samples);
    case method::ewma: return std::make_unique<ewma>(alpha, min_samples);
    case method::seasonal:
      return std::make_unique<seasonal>(std::max<int64_t>(o.period_ns, 1), std::max<int64_t>(o.bucket_ns, 1),
                                        alpha, min_samples);
  }
  return nullptr;
}

robust_z::robust_z(size_t window, size_t min_samples)
    : window_(window), min_samples_(std::min(min_samples, window)) {
  ring_.reserve(window_);
  scratch_.reserve(window_);
}

void robust_z::reset() {
  ring_.clear();
  next_ = 0;
}

double robust_z::update(int64_t, double value) {
  double score = 0;
  if (ring_.size() >= min_samples_) {
    scratch_.assign(ring_.begin(), ring_.end());
    size_t mid = scratch_.size() / 2;
    std::nth_element(scratch_.begin(), scratch_.begin() + mid, scratch_.end());
    double median = scratch_[mid];
    for (double& v : scratch_) v = std::fabs(v - median);
    std::nth_element(scratch_.begin(), scratch_.begin() + mid, scratch_.end());
    double sigma = std::max(mad_to_sigma * scratch_[mid], spread_floor(median));
    score = std::fabs(value - median) / sigma;
  }
  if (ring_.size() < window_) {
    ring_.push_back(value);
  } else {
    ring_[next_] = value;
    next_ = (next_ + 1) % window_;
  }
  return score;
}

double ewma_stats::score_and_learn(double x, double alpha, size_t min_samples) {
  double score = 0;
  double sigma = std::max(std::sqrt(var_), spread_floor(mean_));
  if (n_ >= min_samples) {
    score = std::fabs(x - mean_) / sigma;
    // Winsorise what is learnt so one spike does not widen the limits.
    double learn = std::clamp(x, mean_ - learn_clamp * sigma, mean_ + learn_clamp * sigma);
    double diff = learn - mean_;
    double incr = alpha * diff;
    mean_ += incr;
    var_ = (1.0 - alpha) * (var_ + diff * incr);
  } else {
    // Welford's running mean and (population) variance.
    ++n_;
    double delta = x - mean_;
    mean_ += delta / static_cast<double>(n_);
    double m2 = var_ * static_cast<double>(n_ - 1) + delta * (x - mean_);
    var_ = m2 / static_cast<double>(n_);
    return 0;
  }
  ++n_;
  return score;
}

ewma::ewma(double alpha, size_t min_samples) : alpha_(alpha), min_samples_(min_samples) {}

double ewma::update(int64_t, double value) { return stats_.score_and_learn(value, alpha_, min_samples_); }

void ewma::reset() { stats_ = ewma_stats(); }

seasonal::seasonal(int64_t period_ns, int64_t bucket_ns, double alpha, size_t min_samples)
    : period_ns_(period_ns),
      bucket_ns_(bucket_ns),
      alpha_(alpha),
      min_samples_(min_samples),
      slots_(static_cast<size_t>(std::max<int64_t>(1, period_ns / bucket_ns))) {}

double seasonal::update(int64_t time, double value) {
  int64_t phase = time % period_ns_;
  if (phase < 0) phase += period_ns_;
  size_t slot = static_cast<size_t>(phase / bucket_ns_);
  if (slot >= slots_.size()) slot = slots_.size() - 1;
  return slots_[slot].score_and_learn(value, alpha_, min_samples_);
}

void seasonal::reset() {
  for (auto& s : slots_) s = ewma_stats();
}

}  // namespace liandu::toolbox::anomaly
