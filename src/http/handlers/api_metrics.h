#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace liandu::http::handlers {

// A Prometheus histogram with fixed buckets (seconds), lock-free to observe.
class histogram {
 public:
  static constexpr std::array<double, 14> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  void observe(double seconds);
  // Appends the _bucket, _sum and _count lines for `name`.
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
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
