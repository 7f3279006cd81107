#include "http/handlers/api_metrics.h"

namespace liandu::http::handlers {

void histogram::observe(double seconds) {
  size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void histogram::render(prometheus::text_writer& w, std::string_view name, std::string_view help) const {
  std::array<uint64_t, bounds.size() + 1> counts;
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = buckets_[i].load(std::memory_order_relaxed);
  w.family(name, help, prometheus::metric_type::histogram);
  w.histogram(bounds, counts, static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
}

}  // namespace liandu::http::handlers
