#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace liandu::toolbox::rules {

// Queues of webhook deliveries, one per target (the url given to enqueue: a
// receiver), with retries and exponential backoff. The sender does the actual
// POST (the application passes its HTTP client; tests pass a fake), so this
// class does no I/O and reads no clock: times are given.
//
// Order and exactly-once: a target's deliveries are attempted one at a time,
// in the order they were enqueued. take() hands out the head of a target's
// queue and marks the target in flight until complete(); while it is, no
// other caller gets that target's deliveries, so several threads may take
// and complete at once (one target per thread) and a slow target holds up
// only its own queue. A delivery stays at the head of its queue until it
// succeeds or is given up, so an alert's transitions (firing, acknowledged,
// resolved) arrive in order, each once when the receiver accepts it.
//
// Retries: a failed attempt is retried after initial_backoff, then
// initial_backoff * multiplier, ... capped at max_backoff, until max_attempts
// attempts have failed; then it is dropped and counted as failed, its error
// kept as last_error, and the target's next delivery becomes due. Later
// deliveries to that target wait meanwhile.
//
// Bounded memory: enqueue refuses (limit_exceeded, counted as rejected) when
// the target holds max_queue_per_target deliveries, or all targets together
// max_queue, so one dead receiver cannot crowd out the others.
//
// Durability is the caller's: each delivery carries an id of the caller's
// choosing (rules_service: its record in the webhook log), handed back with
// every attempt, and complete() says whether the delivery ended, so the
// caller can log its end. restore() puts back a delivery kept from before a
// restart; restoring before enqueueing anything keeps each target's order.
//
// Delivery ids: deliveries are at least once (a retry after a timeout, or an
// attempt in flight at a crash, may reach a receiver twice), so each delivery
// also carries a delivery id, given to the sender with every attempt (sent
// as the X-Liandu-Delivery-Id header) for receivers to drop repeats. It is
// the same on every attempt of a delivery, and the caller keeps it across
// restarts (rules_service: in the delivery's webhook log record); a new
// delivery gets a new random one (new_delivery_id()).
//
// Counters are kept for the whole queue (stats(), for /metrics) and per
// target (target_stats(), for the state of one receiver); a target's
// counters live as long as the queue.
//
// Thread-safe: every method may be called from any thread. The sender is
// called without the lock held.
class webhook_delivery {
 public:
  // delivery_id: the same on every attempt of a delivery (see above).
  using sender =
      std::function<status(const std::string& url, const std::string& body, const std::string& delivery_id)>;

  struct options {
    int max_attempts = 5;
    int64_t initial_backoff_ns = 1'000'000'000;
    double multiplier = 2.0;
    int64_t max_backoff_ns = 300'000'000'000;
    size_t max_queue = 10'000;            // all targets together
    size_t max_queue_per_target = 1'000;  // one target
  };

  struct counters {
    uint64_t enqueued = 0;
    uint64_t attempts = 0;
    uint64_t delivered = 0;
    uint64_t retries = 0;    // failed attempts that were scheduled again
    uint64_t failed = 0;     // deliveries given up after max_attempts
    uint64_t rejected = 0;   // refused because a queue was full
    uint64_t restored = 0;   // put back by restore() (not counted as enqueued)
    size_t queued = 0;       // not yet delivered nor given up (those being attempted included)
    std::string last_error;  // of the most recent failed attempt
    std::string last_error_url;
    int64_t last_error_time = 0;
  };

  struct target_counters {
    uint64_t attempts = 0;
    uint64_t delivered = 0;
    uint64_t failed = 0;          // given up after max_attempts
    uint64_t rejected = 0;        // refused because a queue was full
    size_t queued = 0;            // not yet delivered nor given up (the one being attempted included)
    std::string last_error;       // message of the target's most recent failed attempt
    int64_t last_error_time = 0;  // 0: no attempt failed
  };

  // The head of a target's queue, taken for one attempt.
  struct attempt {
    std::string target;
    std::string body;
    int number = 0;   // 1 for the first attempt of this delivery
    uint64_t id = 0;  // given to enqueue() or restore()
    std::string delivery_id;
  };

  // What complete() did with the delivery.
  enum class outcome {
    retry,      // failed, attempted again after the backoff (still queued)
    delivered,  // accepted: removed from the queue
    given_up,   // failed its max_attempts-th attempt: removed from the queue
  };

  explicit webhook_delivery(sender send);
  webhook_delivery(sender send, options o);

  // Queues body for url, due at `now`, behind url's earlier deliveries.
  // An empty delivery_id: a new one (new_delivery_id()).
  status enqueue(std::string url, std::string body, int64_t now, uint64_t id = 0,
                 std::string delivery_id = {});
  // The same for a delivery kept across a restart that already failed
  // `attempts` times (it gets max_attempts - attempts more, at least one),
  // with the delivery id it had; counted as restored instead of enqueued.
  // Same limits as enqueue.
  status restore(std::string url, std::string body, uint64_t id, std::string delivery_id, int attempts,
                 int64_t now);

  // The due delivery that has waited longest, of a target that has no
  // attempt in flight; that target is in flight until complete(). nullopt
  // when none is due.
  std::optional<attempt> take(int64_t now);
  // Calls the sender (without the lock).
  status send(const attempt& a) const;
  // The result of an attempt that take() returned, at time `now` (from which
  // a retry is scheduled). Called exactly once per taken attempt.
  outcome complete(const attempt& a, const status& result, int64_t now);

  // take, send and complete, all at `now`, until nothing is due or max
  // attempts were made; returns how many were made.
  size_t poll(int64_t now, size_t max = SIZE_MAX);
  // Time the next delivery of a target not in flight is due, or INT64_MAX
  // when there is none.
  int64_t next_due() const;
  counters stats() const;
  // Zeros for a target that was never enqueued.
  target_counters target_stats(std::string_view target) const;

 private:
  struct item {
    std::string body;
    int attempts = 0;
    int64_t due = 0;
    uint64_t id = 0;
    std::string delivery_id;
  };
  struct target_state {
    std::deque<item> queue;    // the head is the one attempted next, or now
    bool in_flight = false;    // an attempt of the head is taken, not yet completed
    target_counters counters;  // queued is queue.size()
  };

  int64_t backoff(int failed_attempts) const;
  status push(std::string url, item d, bool restored);

  sender send_;
  options options_;
  mutable std::mutex mu_;
  counters stats_;                                            // guarded by mu_; queued is kept up to date
  std::map<std::string, target_state, std::less<>> targets_;  // guarded by mu_
};

// The X-Liandu-Signature header of a delivery: "sha256=" and the lowercase
// hex HMAC-SHA256 of the body under the receiver's secret, so the receiver
// can check that the POST came from this server and was not altered.
std::string webhook_signature(std::string_view secret, std::string_view body);

// A new delivery id: a random (version 4) UUID in its 36-character lowercase
// text form, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", from libsodium's CSPRNG
// (122 random bits: ids never repeat, across restarts and servers too).
// Receivers get it as the X-Liandu-Delivery-Id header.
std::string new_delivery_id();

}  // namespace liandu::toolbox::rules
