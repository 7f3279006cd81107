#include "http/handlers/api_metrics.h"

#include <cstdio>

namespace liandu::http::handlers {

void histogram::observe(double seconds) {
  size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  char buf[160];
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof(buf), "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), bounds[i],
                  static_cast<unsigned long long>(cumulative));
    out += buf;
  }
  cumulative += buckets_[bounds.size()].load(std::memory_order_relaxed);
  std::snprintf(buf, sizeof(buf), "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name.c_str(),
                static_cast<unsigned long long>(cumulative), name.c_str(),
                static_cast<double>(sum_micros_.load()) / 1e6, name.c_str(),
                static_cast<unsigned long long>(count_.load()));
  out += buf;
}

}  // namespace liandu::http::handlers
