#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace liandu {

// Nanoseconds since the Unix epoch, UTC. Injected where tests need control.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Arrival timestamps for messages that carry none (MQTT payloads): strictly
// increasing across all threads, so two messages of one device handled side
// by side in the same nanosecond cannot land on the same point and overwrite
// each other. Never behind the wall clock by more than the burst it absorbs.
class arrival_clock {
 public:
  int64_t next() {
    int64_t now = now_ns();
    int64_t last = last_.load(std::memory_order_relaxed);
    while (true) {
      int64_t t = now > last ? now : last + 1;
      if (last_.compare_exchange_weak(last, t, std::memory_order_relaxed)) return t;
    }
  }

 private:
  std::atomic<int64_t> last_{0};
};

}  // namespace liandu
