#include "toolbox/rules/webhook_delivery.h"

#include <sodium.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

namespace liandu::toolbox::rules {

webhook_delivery::webhook_delivery(sender send) : webhook_delivery(std::move(send), options()) {}

webhook_delivery::webhook_delivery(sender send, options o) : send_(std::move(send)), options_(o) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
  options_.multiplier = std::max(options_.multiplier, 1.0);
}

status webhook_delivery::enqueue(std::string url, std::string body, int64_t now) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= options_.max_queue) {
    ++stats_.rejected;
    return error(errc::limit_exceeded, "webhook queue full (" + std::to_string(options_.max_queue) + ")");
  }
  queue_.push_back(item{std::move(url), std::move(body), 0, now});
  ++stats_.enqueued;
  return status();
}

int64_t webhook_delivery::backoff(int failed_attempts) const {
  double b =
      static_cast<double>(options_.initial_backoff_ns) * std::pow(options_.multiplier, failed_attempts - 1);
  return b >= static_cast<double>(options_.max_backoff_ns) ? options_.max_backoff_ns
                                                           : static_cast<int64_t>(b);
}

size_t webhook_delivery::poll(int64_t now, size_t max) {
  std::vector<item> due;
  {
    std::lock_guard lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end() && due.size() < max;) {
      if (it->due <= now) {
        due.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (item& d : due) {
    status s = send_ ? send_(d.url, d.body) : error(errc::internal, "no sender");
    std::lock_guard lock(mu_);
    target_counters& t = by_target_[d.url];
    ++stats_.attempts;
    ++t.attempts;
    ++d.attempts;
    if (s.ok()) {
      ++stats_.delivered;
      ++t.delivered;
      continue;
    }
    stats_.last_error = s.to_string();
    t.last_error = s.message();
    stats_.last_error_url = d.url;
    stats_.last_error_time = t.last_error_time = now;
    if (d.attempts >= options_.max_attempts) {
      ++stats_.failed;
      ++t.failed;
      continue;
    }
    ++stats_.retries;
    d.due = now + backoff(d.attempts);
    queue_.push_back(std::move(d));
  }
  return due.size();
}

int64_t webhook_delivery::next_due() const {
  std::lock_guard lock(mu_);
  int64_t next = INT64_MAX;
  for (const auto& d : queue_) next = std::min(next, d.due);
  return next;
}

webhook_delivery::counters webhook_delivery::stats() const {
  std::lock_guard lock(mu_);
  counters c = stats_;
  c.queued = queue_.size();
  return c;
}

webhook_delivery::target_counters webhook_delivery::target_stats(std::string_view target) const {
  std::lock_guard lock(mu_);
  target_counters c;
  if (auto it = by_target_.find(target); it != by_target_.end()) c = it->second;
  c.queued = static_cast<size_t>(
      std::count_if(queue_.begin(), queue_.end(), [&](const item& d) { return d.url == target; }));
  return c;
}

std::string webhook_signature(std::string_view secret, std::string_view body) {
  if (sodium_init() < 0) return {};  // idempotent; < 0 only when libsodium cannot start
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[sizeof mac * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return "sha256=" + std::string(hex);
}

}  // namespace liandu::toolbox::rules
