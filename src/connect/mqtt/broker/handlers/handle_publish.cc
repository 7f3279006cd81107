#include <chrono>
#include <cstdio>

#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::mqtt {

// PUBLISH from a client (5.0 3.3, 4.3): resolve the topic alias, hand the
// message to the application hook (outside the broker lock; it may block on
// an fsync), route it, and only then acknowledge it. QoS 2 uses "method A"
// of 4.3.3: the message is routed on PUBLISH and its id remembered until
// PUBREL, so a re-sent PUBLISH with the same id is not routed twice.
// What a failed on_publish hook means for the client. A payload the
// application could not map (parse error, type conflict) is the sender's
// problem and is not transient: the message is still routed and acknowledged,
// and the application records the error. A refusal (not authorised) or a
// failure to store it (I/O, memory budget) must not be acknowledged as
// accepted, or a QoS 1/2 sender would believe it durable: MQTT 5 gets a
// PUBACK/PUBREC with a failure reason code; 3.1.1 has none, so the connection
// is closed without the acknowledgement and the client re-sends after it
// reconnects. Returns true when the message should still be routed.
bool connection::refuse_publish(const publish_packet& p, const status& st) {
  switch (st.code()) {
    case errc::parse_error:
    case errc::invalid_argument:
    case errc::conflict: return true;
    default: break;
  }
  bool refused = st.code() == errc::unauthorized || st.code() == errc::forbidden;
  reason_code rc = refused                             ? reason_code::not_authorized
                   : st.code() == errc::limit_exceeded ? reason_code::quota_exceeded
                                                       : reason_code::unspecified_error;
  if (p.qos == 0) return false;  // nothing to acknowledge; dropped and counted
  if (level_ == protocol_v5) {
    send(ack_packet{
        p.qos == 1 ? packet_type::puback : packet_type::pubrec, p.packet_id, static_cast<uint8_t>(rc), {}});
  } else {
    end(true);  // not a protocol error: the client did nothing wrong
  }
  return false;
}

// v5 topic alias and subscription identifier rules; resolves the alias.
// Returns the violation, if any, without acting on it.
std::optional<std::pair<reason_code, const char*>> connection::check_publish(publish_packet& p) {
  if (level_ != protocol_v5) return std::nullopt;
  if (auto alias = p.props.number(property_id::topic_alias)) {
    if (*alias == 0 || *alias > broker_->config_.topic_alias_maximum) {
      return std::pair{reason_code::topic_alias_invalid, "topic alias out of range"};
    }
    if (!p.topic.empty()) {
      if (!aliases_) aliases_ = std::make_unique<std::map<uint16_t, std::string>>();
      (*aliases_)[static_cast<uint16_t>(*alias)] = p.topic;
    } else {
      const std::string* topic = nullptr;
      if (aliases_) {
        auto it = aliases_->find(static_cast<uint16_t>(*alias));
        if (it != aliases_->end()) topic = &it->second;
      }
      if (!topic) return std::pair{reason_code::protocol_error, "unknown topic alias"};
      p.topic = *topic;
    }
    p.props.remove(property_id::topic_alias);
  }
  // Subscription identifiers are set by the server only (3.3.4).
  if (p.props.find(property_id::subscription_identifier)) {
    return std::pair{reason_code::protocol_error, "subscription identifier in a client PUBLISH"};
  }
  return std::nullopt;
}

// Runs the on_publish hook (any thread; no broker state touched) and keeps
// a moving average of its duration, which decides whether handle_batch
// spreads the hook calls of a batch over the server's hook threads.
status connection::call_on_publish(const publish_packet& p) {
  ++broker_->stats_.messages_received;
  if (!broker_->hooks_.on_publish) return {};
  auto t0 = std::chrono::steady_clock::now();
  status st = broker_->hooks_.on_publish(username_, p.topic, p.payload);
  int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  int64_t avg = broker_->hook_ns_avg_.load(std::memory_order_relaxed);
  broker_->hook_ns_avg_.store(avg + (ns - avg) / 16, std::memory_order_relaxed);
  return st;
}

// The batch hook for a run of one client's messages (handle_batch).
void connection::call_on_publish_batch(const std::vector<publish_packet*>& run, std::vector<status>& out) {
  broker_->stats_.messages_received += run.size();
  std::vector<publish_view> views;
  views.reserve(run.size());
  for (const publish_packet* p : run) views.push_back({p->topic, p->payload});
  broker_->hooks_.on_publish_batch(username_, views, out);
}

// After the hook: refuse (see refuse_publish), or route and acknowledge.
void connection::finish_publish(publish_packet& p, const status& st) {
  if (!st.ok()) {
    ++broker_->stats_.on_publish_errors;
    std::fprintf(stderr, "mqtt: on_publish for topic %s from %s failed: %s\n", p.topic.c_str(),
                 client_id_.c_str(), st.to_string().c_str());
    if (!refuse_publish(p, st)) return;
  }
  message m;
  m.topic = std::move(p.topic);
  m.payload = std::move(p.payload);
  m.qos = p.qos;
  m.retain = p.retain;
  m.publisher = client_id_;
  for (property& prop : p.props.items) {
    if (prop.id == property_id::message_expiry_interval) {
      m.expires_at_ms = broker_->now_ms() + int64_t{prop.number} * 1000;
    } else {
      m.props.items.push_back(std::move(prop));
    }
  }
  std::lock_guard lock(broker_->mu_);
  broker_->route_locked(std::make_shared<const message>(std::move(m)));
  if (p.qos == 1) {
    send(ack_packet{packet_type::puback, p.packet_id, 0, {}});
  } else if (p.qos == 2) {
    auto it = broker_->own_session_locked(this);
    if (it != broker_->sessions_.end()) it->second->mutable_state().incoming_qos2.insert(p.packet_id);
    send(ack_packet{packet_type::pubrec, p.packet_id, 0, {}});
  }
}

void connection::handle_publish(publish_packet& p) {
  if (auto bad = check_publish(p)) {
    violation(bad->first, bad->second);
    return;
  }
  if (p.qos == 2) {
    bool duplicate = false;
    bool over = false;
    {
      std::lock_guard lock(broker_->mu_);
      auto it = broker_->own_session_locked(this);
      if (it == broker_->sessions_.end()) return;
      const std::set<uint16_t>& pending = it->second->state().incoming_qos2;
      duplicate = pending.count(p.packet_id) > 0;
      over = !duplicate && pending.size() >= broker_->config_.receive_maximum;
    }
    if (duplicate) {
      send(ack_packet{packet_type::pubrec, p.packet_id, 0, {}});
      return;
    }
    if (over) {
      violation(reason_code::receive_maximum_exceeded, "too many QoS 2 messages awaiting PUBREL");
      return;
    }
  }
  finish_publish(p, call_on_publish(p));
}

// A batch of packets read together. Runs of QoS 0/1 PUBLISH packets go to
// the batch hook in one call when there is one (the application stores them
// with one durable write); otherwise, when the hook is slow (it waits for a
// durable write) and the server offers run_parallel, to the per-message hook
// on several threads at once, so their writes share the storage engine's
// group commit instead of waiting for one fsync each. Either way they are
// then routed and acknowledged in order, as one by one. QoS 2 and every
// other packet end the run and are handled alone. Should a 3.1.1 client's
// connection close for a failed store, the later messages of its run may be
// stored without their acknowledgement (the client re-sends them: at least
// once).
void connection::handle_batch(std::vector<packet>& packets) {
  const broker_config& cfg = broker_->config_;
  const bool batch_hook = static_cast<bool>(broker_->hooks_.on_publish_batch);
  bool parallel = !batch_hook && cfg.run_parallel && broker_->hooks_.on_publish && packets.size() > 1 &&
                  broker_->hook_ns_avg_.load(std::memory_order_relaxed) >= cfg.slow_hook_ns;
  if (!parallel && !(batch_hook && packets.size() > 1)) {
    for (packet& p : packets) handle(std::move(p));
    return;
  }
  std::vector<publish_packet*> run;
  auto flush = [&] {
    if (run.empty()) return;
    std::vector<status> st(run.size());
    if (batch_hook && run.size() > 1) {
      call_on_publish_batch(run, st);
    } else {
      size_t lanes = std::min<size_t>(run.size(), std::max<size_t>(1, cfg.max_parallel_hooks));
      if (lanes == 1 || !cfg.run_parallel) {
        for (size_t i = 0; i < run.size(); ++i) st[i] = call_on_publish(*run[i]);
      } else {
        cfg.run_parallel(lanes, [&](size_t lane) {
          for (size_t i = lane; i < run.size(); i += lanes) st[i] = call_on_publish(*run[i]);
        });
      }
    }
    for (size_t i = 0; i < run.size() && phase_ == phase::connected; ++i) finish_publish(*run[i], st[i]);
    run.clear();
  };
  for (packet& p : packets) {
    auto* pub = std::get_if<publish_packet>(&p);
    if (pub && pub->qos < 2 && phase_ == phase::connected) {
      if (auto bad = check_publish(*pub)) {
        flush();
        violation(bad->first, bad->second);
        return;
      }
      run.push_back(pub);
      continue;
    }
    flush();
    handle(std::move(p));
  }
  flush();
}

}  // namespace liandu::connect::mqtt
