#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace liandu::toolbox::rules {

// A queue of webhook deliveries with retries and exponential backoff. The
// sender does the actual POST (the application passes its HTTP client; tests
// pass a fake), so this class does no I/O and reads no clock: times are given.
//
// A delivery is attempted by poll(now) once it is due. A failed attempt is
// retried after initial_backoff, then initial_backoff * multiplier, ... capped
// at max_backoff, until max_attempts attempts have failed; then it is dropped
// and counted as failed, and its error kept as last_error. A full queue
// refuses new deliveries (limit_exceeded) rather than growing without bound.
//
// Counters are kept for the whole queue (stats(), for /metrics) and per
// target, the url given to enqueue (target_stats(), for the state of one
// receiver); a target's counters live as long as the queue.
//
// Thread-safe: enqueue and poll may be called from different threads. The
// sender is called from poll's thread without the lock held, one delivery at
// a time per poll call.
class webhook_delivery {
 public:
  using sender = std::function<status(const std::string& url, const std::string& body)>;

  struct options {
    int max_attempts = 5;
    int64_t initial_backoff_ns = 1'000'000'000;
    double multiplier = 2.0;
    int64_t max_backoff_ns = 300'000'000'000;
    size_t max_queue = 10'000;
  };

  struct counters {
    uint64_t enqueued = 0;
    uint64_t attempts = 0;
    uint64_t delivered = 0;
    uint64_t retries = 0;   // failed attempts that were scheduled again
    uint64_t failed = 0;    // deliveries given up after max_attempts
    uint64_t rejected = 0;  // refused because the queue was full
    size_t queued = 0;
    std::string last_error;  // of the most recent failed attempt
    std::string last_error_url;
    int64_t last_error_time = 0;
  };

  struct target_counters {
    uint64_t attempts = 0;
    uint64_t delivered = 0;
    uint64_t failed = 0;  // given up after max_attempts
    size_t queued = 0;
    std::string last_error;       // message of the target's most recent failed attempt
    int64_t last_error_time = 0;  // 0: no attempt failed
  };

  explicit webhook_delivery(sender send);
  webhook_delivery(sender send, options o);

  status enqueue(std::string url, std::string body, int64_t now);
  // Attempts the deliveries due at `now`, at most max of them, in queue
  // order (a retry goes to the back); returns how many were attempted.
  size_t poll(int64_t now, size_t max = SIZE_MAX);
  // Time of the next due delivery, or INT64_MAX when the queue is empty.
  int64_t next_due() const;
  counters stats() const;
  // Zeros for a target that was never enqueued.
  target_counters target_stats(std::string_view target) const;

 private:
  struct item {
    std::string url;
    std::string body;
    int attempts = 0;
    int64_t due = 0;
  };

  int64_t backoff(int failed_attempts) const;

  sender send_;
  options options_;
  mutable std::mutex mu_;
  std::deque<item> queue_;  // guarded by mu_
  counters stats_;          // guarded by mu_
  // Guarded by mu_; queued is counted by target_stats.
  std::map<std::string, target_counters, std::less<>> by_target_;
};

// The X-Liandu-Signature header of a delivery: "sha256=" and the lowercase
// hex HMAC-SHA256 of the body under the receiver's secret, so the receiver
// can check that the POST came from this server and was not altered.
std::string webhook_signature(std::string_view secret, std::string_view body);

}  // namespace liandu::toolbox::rules
