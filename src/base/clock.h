#pragma once

#include <chrono>
#include <cstdint>

namespace liandu {

// Nanoseconds since the Unix epoch, UTC. Injected where tests need control.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace liandu
