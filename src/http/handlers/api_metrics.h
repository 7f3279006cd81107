#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "base/prometheus_text.h"

namespace liandu::http::handlers {

// A Prometheus histogram with fixed buckets (seconds), lock-free to observe.
class histogram {
 public:
  static constexpr std::array<double, 14> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  void observe(double seconds);
  // Writes the family `name`: HELP, TYPE, _bucket, _sum and _count (the
  // +Inf bucket, so the two agree while observations go on).
  void render(prometheus::text_writer& w, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_micros_{0};
};

// Counters the HTTP API keeps; the engine's own figures are read at scrape.
struct api_metrics {
  histogram write_latency;
  histogram query_latency;
  histogram wal_fsync_latency;  // fed by the engine's fsync observer (set by the app)
  std::atomic<uint64_t> write_requests{0};
  std::atomic<uint64_t> write_errors{0};
  std::atomic<uint64_t> query_requests{0};
  std::atomic<uint64_t> query_errors{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> auth_failures{0};
};

}  // namespace liandu::http::handlers
