#include "toolbox/rules/webhook_delivery.h"

#include <sodium.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>

namespace liandu::toolbox::rules {

webhook_delivery::webhook_delivery(sender send) : webhook_delivery(std::move(send), options()) {}

webhook_delivery::webhook_delivery(sender send, options o) : send_(std::move(send)), options_(o) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
  options_.multiplier = std::max(options_.multiplier, 1.0);
}

status webhook_delivery::enqueue(std::string url, std::string body, int64_t now, uint64_t id,
                                 std::string delivery_id) {
  if (delivery_id.empty()) delivery_id = new_delivery_id();
  return push(std::move(url), item{std::move(body), 0, now, id, std::move(delivery_id)}, false);
}

status webhook_delivery::restore(std::string url, std::string body, uint64_t id, std::string delivery_id,
                                 int attempts, int64_t now) {
  if (delivery_id.empty()) delivery_id = new_delivery_id();
  attempts = std::clamp(attempts, 0, options_.max_attempts - 1);
  return push(std::move(url), item{std::move(body), attempts, now, id, std::move(delivery_id)}, true);
}

status webhook_delivery::push(std::string url, item d, bool restored) {
  std::lock_guard lock(mu_);
  target_state& t = targets_[url];
  std::string full;
  if (stats_.queued >= options_.max_queue) {
    full = "webhook queue full (" + std::to_string(options_.max_queue) + ")";
  } else if (t.queue.size() >= options_.max_queue_per_target) {
    full = "webhook queue of " + url + " full (" + std::to_string(options_.max_queue_per_target) + ")";
  }
  if (!full.empty()) {
    ++stats_.rejected;
    ++t.counters.rejected;
    return error(errc::limit_exceeded, std::move(full));
  }
  t.queue.push_back(std::move(d));
  ++(restored ? stats_.restored : stats_.enqueued);
  ++stats_.queued;
  return status();
}

int64_t webhook_delivery::backoff(int failed_attempts) const {
  double b =
      static_cast<double>(options_.initial_backoff_ns) * std::pow(options_.multiplier, failed_attempts - 1);
  return b >= static_cast<double>(options_.max_backoff_ns) ? options_.max_backoff_ns
                                                           : static_cast<int64_t>(b);
}

std::optional<webhook_delivery::attempt> webhook_delivery::take(int64_t now) {
  std::lock_guard lock(mu_);
  // Targets are few (receivers x databases): a scan is cheaper than keeping
  // an ordered index of heads up to date.
  decltype(targets_)::iterator best = targets_.end();
  for (auto it = targets_.begin(); it != targets_.end(); ++it) {
    const target_state& t = it->second;
    if (t.in_flight || t.queue.empty() || t.queue.front().due > now) continue;
    if (best == targets_.end() || t.queue.front().due < best->second.queue.front().due) best = it;
  }
  if (best == targets_.end()) return std::nullopt;
  best->second.in_flight = true;
  const item& head = best->second.queue.front();
  return attempt{best->first, head.body, head.attempts + 1, head.id, head.delivery_id};
}

status webhook_delivery::send(const attempt& a) const {
  return send_ ? send_(a.target, a.body, a.delivery_id) : error(errc::internal, "no sender");
}

webhook_delivery::outcome webhook_delivery::complete(const attempt& a, const status& s, int64_t now) {
  std::lock_guard lock(mu_);
  auto found = targets_.find(a.target);
  if (found == targets_.end() || !found->second.in_flight || found->second.queue.empty())
    return outcome::retry;  // not taken: nothing changes
  target_state& t = found->second;
  target_counters& c = t.counters;
  item& d = t.queue.front();
  t.in_flight = false;
  ++stats_.attempts;
  ++c.attempts;
  ++d.attempts;
  if (s.ok()) {
    ++stats_.delivered;
    ++c.delivered;
  } else {
    stats_.last_error = s.to_string();
    c.last_error = s.message();
    stats_.last_error_url = a.target;
    stats_.last_error_time = c.last_error_time = now;
    if (d.attempts < options_.max_attempts) {
      ++stats_.retries;
      d.due = now + backoff(d.attempts);
      return outcome::retry;
    }
    ++stats_.failed;
    ++c.failed;
  }
  t.queue.pop_front();
  --stats_.queued;
  return s.ok() ? outcome::delivered : outcome::given_up;
}

size_t webhook_delivery::poll(int64_t now, size_t max) {
  size_t n = 0;
  for (; n < max; ++n) {
    auto a = take(now);
    if (!a) break;
    complete(*a, send(*a), now);
  }
  return n;
}

int64_t webhook_delivery::next_due() const {
  std::lock_guard lock(mu_);
  int64_t next = INT64_MAX;
  for (const auto& [url, t] : targets_) {
    if (!t.in_flight && !t.queue.empty()) next = std::min(next, t.queue.front().due);
  }
  return next;
}

webhook_delivery::counters webhook_delivery::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

webhook_delivery::target_counters webhook_delivery::target_stats(std::string_view target) const {
  std::lock_guard lock(mu_);
  target_counters c;
  if (auto it = targets_.find(target); it != targets_.end()) {
    c = it->second.counters;
    c.queued = it->second.queue.size();
  }
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

std::string new_delivery_id() {
  if (sodium_init() < 0) std::abort();  // idempotent; < 0 only when libsodium cannot start
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10 (RFC 9562)
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (size_t i = 0; i < sizeof b; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(hex[b[i] >> 4]);
    id.push_back(hex[b[i] & 0x0f]);
  }
  return id;
}

}  // namespace liandu::toolbox::rules
