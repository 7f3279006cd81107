#include "connect/mqtt/broker/broker.h"

#include <chrono>
#include <cstdio>
#include <random>

#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::mqtt {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool expired(const message& m, int64_t now) { return m.expires_at_ms >= 0 && now >= m.expires_at_ms; }

}  // namespace

broker::broker(broker_config config, mqtt_hooks hooks)
    : config_(std::move(config)), hooks_(std::move(hooks)) {
  if (!config_.clock_ms) config_.clock_ms = steady_ms;
  std::random_device rd;
  client_id_counter_ = (uint64_t{rd()} << 32) | rd();
}

broker::~broker() = default;

std::shared_ptr<connection> broker::open(std::shared_ptr<link> l) {
  return std::make_shared<connection>(this, std::move(l));
}

size_t broker::session_count() {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

size_t broker::retained_count() {
  std::lock_guard lock(mu_);
  return retained_.size();
}

size_t broker::subscription_count() {
  std::lock_guard lock(mu_);
  return tree_.size();
}

std::map<std::string, std::shared_ptr<session>>::iterator broker::own_session_locked(const connection* c) {
  auto it = sessions_.find(c->client_id_);
  if (it != sessions_.end() && it->second->conn.get() != c) return sessions_.end();
  return it;
}

void broker::publish(message m) {
  auto ptr = std::make_shared<const message>(std::move(m));
  std::lock_guard lock(mu_);
  route_locked(ptr);
}

void broker::route_locked(const message_ptr& m) {
  if (m->retain) {
    if (m->payload.empty()) {
      if (retained_.erase(m->topic)) ++changes_;
    } else {
      retained_[m->topic] = m;
      ++changes_;
    }
  }
  subscription_tree::match_result matches;
  tree_.match(m->topic, &matches);
  // One delivery per session: the highest QoS of its matching subscriptions
  // and all their subscription identifiers (MQTT 5 3.3.4).
  struct target {
    uint8_t qos = 0;
    bool retain = false;
    std::vector<uint32_t> ids;
  };
  std::map<std::string, target> targets;
  for (auto& [client, entry] : matches.direct) {
    if (entry->options.no_local && *client == m->publisher) continue;
    target& t = targets[*client];
    t.qos = std::max(t.qos, std::min(entry->options.qos, m->qos));
    if (entry->options.retain_as_published && m->retain) t.retain = true;
    if (entry->subscription_id) t.ids.push_back(entry->subscription_id);
  }
  for (shared_group* g : matches.shared) {
    if (g->members.empty()) continue;
    // Round-robin, preferring members that are online.
    auto pick = g->members.end();
    size_t n = g->members.size();
    for (size_t k = 0; k < n && pick == g->members.end(); ++k) {
      auto it = std::next(g->members.begin(), static_cast<long>((g->next + k) % n));
      auto s = sessions_.find(it->first);
      if (s != sessions_.end() && s->second->conn) {
        pick = it;
        g->next = (g->next + k + 1) % n;
      }
    }
    if (pick == g->members.end()) {
      pick = std::next(g->members.begin(), static_cast<long>(g->next % n));
      g->next = (g->next + 1) % n;
    }
    target& t = targets[pick->first];
    t.qos = std::max(t.qos, std::min(pick->second.options.qos, m->qos));
    if (pick->second.subscription_id) t.ids.push_back(pick->second.subscription_id);
  }
  for (auto& [client, t] : targets) {
    auto s = sessions_.find(client);
    if (s == sessions_.end()) continue;
    deliver_locked(*s->second, m, t.qos, t.retain, std::move(t.ids));
  }
}

void broker::deliver_locked(session& s, const message_ptr& m, uint8_t qos, bool retain,
                            std::vector<uint32_t> sub_ids) {
  outgoing o;
  o.msg = m;
  o.qos = qos;
  o.retain = retain;
  o.subscription_ids = std::move(sub_ids);
  if (qos == 0) {
    if (s.conn) send_publish_locked(s, o, false);
    return;
  }
  if (!s.conn && s.expiry_interval == 0) return;
  if (s.state().queue.size() >= config_.max_queued_messages) {
    ++stats_.messages_dropped;
    return;
  }
  s.mutable_state().queue.push_back(std::move(o));
  if (s.expiry_interval) ++changes_;
  pump_locked(s);
}

uint16_t broker::next_packet_id_locked(session& s) {
  while (true) {
    uint16_t id = s.next_packet_id++;
    if (s.next_packet_id == 0) s.next_packet_id = 1;
    bool used = false;
    for (const outgoing& o : s.state().inflight) used = used || o.packet_id == id;
    if (!used) return id;
  }
}

void broker::pump_locked(session& s) {
  if (!s.conn || s.state().queue.empty()) return;
  session_state& st = s.mutable_state();
  size_t window = std::min<size_t>(config_.max_inflight, s.client_receive_maximum);
  int64_t now = now_ms();
  while (!st.queue.empty() && st.inflight.size() < window) {
    outgoing o = std::move(st.queue.front());
    st.queue.pop_front();
    if (expired(*o.msg, now)) {
      ++stats_.messages_dropped;
      continue;
    }
    o.packet_id = next_packet_id_locked(s);
    o.st = o.qos == 1 ? outgoing::state::awaiting_puback : outgoing::state::awaiting_pubrec;
    send_publish_locked(s, o, false);
    st.inflight.push_back(std::move(o));
  }
}

void broker::send_publish_locked(session& s, const outgoing& o, bool dup) {
  const message& m = *o.msg;
  int64_t now = now_ms();
  if (expired(m, now)) {
    ++stats_.messages_dropped;
    return;
  }
  publish_packet p;
  p.dup = dup;
  p.qos = o.qos;
  p.retain = o.retain;
  p.topic = m.topic;
  p.packet_id = o.qos ? o.packet_id : 0;
  p.payload = m.payload;
  if (s.level == protocol_v5) {
    p.props = m.props;
    if (m.expires_at_ms >= 0) {
      p.props.set_number(property_id::message_expiry_interval,
                         static_cast<uint32_t>((m.expires_at_ms - now + 999) / 1000));
    }
    for (uint32_t id : o.subscription_ids) {
      p.props.items.push_back(property{property_id::subscription_identifier, id, {}, {}});
    }
  }
  std::string bytes = encode_packet(p, s.level);
  if (s.client_max_packet_size && bytes.size() > s.client_max_packet_size) {
    // MQTT 5 3.1.2.25: a packet over the client's maximum is discarded as if sent.
    ++stats_.messages_dropped;
    return;
  }
  ++stats_.messages_sent;
  s.conn->link_->send(std::move(bytes));
}

void broker::resend_locked(session& s) {
  for (const outgoing& o : s.state().inflight) {
    if (o.st == outgoing::state::awaiting_pubcomp) {
      s.conn->send(ack_packet{packet_type::pubrel, o.packet_id, 0, {}});
    } else {
      send_publish_locked(s, o, true);
    }
  }
  pump_locked(s);
}

void broker::remove_session_locked(const std::string& client_id) {
  auto it = sessions_.find(client_id);
  if (it == sessions_.end()) return;
  for (auto& [filter, entry] : it->second->state().subscriptions) tree_.erase(client_id, filter);
  if (it->second->expiry_interval) ++changes_;
  sessions_.erase(it);
}

void broker::deliver_retained_locked(session& s, const subscription_entry& e) {
  std::string_view group, inner;
  if (split_shared_filter(e.options.filter, &group, &inner)) return;
  int64_t now = now_ms();
  for (auto& [topic, m] : retained_) {
    if (expired(*m, now) || !topic_matches(e.options.filter, topic)) continue;
    std::vector<uint32_t> ids;
    if (e.subscription_id) ids.push_back(e.subscription_id);
    deliver_locked(s, m, std::min(e.options.qos, m->qos), true, std::move(ids));
  }
}

void broker::tick() {
  std::lock_guard lock(mu_);
  int64_t now = now_ms();
  std::vector<std::string> gone;
  for (auto& [id, s] : sessions_) {
    if (!s->conn && s->expires_at_ms >= 0 && now >= s->expires_at_ms) gone.push_back(id);
  }
  for (const std::string& id : gone) remove_session_locked(id);
  for (auto it = delayed_wills_.begin(); it != delayed_wills_.end();) {
    if (now >= it->second.first) {
      message_ptr m = it->second.second;
      it = delayed_wills_.erase(it);
      route_locked(m);
    } else {
      ++it;
    }
  }
  for (auto it = retained_.begin(); it != retained_.end();) {
    if (expired(*it->second, now)) {
      it = retained_.erase(it);
      ++changes_;
    } else {
      ++it;
    }
  }
}

void connection::send(const packet& p) { link_->send(encode_packet(p, level_)); }

void connection::handle(packet p) {
  if (phase_ == phase::closed) return;
  packet_type t = type_of(p);
  if (phase_ == phase::awaiting_connect) {
    if (t != packet_type::connect) {
      violation(reason_code::protocol_error, "first packet is not CONNECT");
      return;
    }
    handle_connect(std::get<connect_packet>(p));
    return;
  }
  switch (t) {
    case packet_type::connect: violation(reason_code::protocol_error, "second CONNECT"); return;
    case packet_type::publish: handle_publish(std::get<publish_packet>(p)); return;
    case packet_type::puback: handle_puback(std::get<ack_packet>(p)); return;
    case packet_type::pubrec: handle_pubrec(std::get<ack_packet>(p)); return;
    case packet_type::pubrel: handle_pubrel(std::get<ack_packet>(p)); return;
    case packet_type::pubcomp: handle_pubcomp(std::get<ack_packet>(p)); return;
    case packet_type::subscribe: handle_subscribe(std::get<subscribe_packet>(p)); return;
    case packet_type::unsubscribe: handle_unsubscribe(std::get<unsubscribe_packet>(p)); return;
    case packet_type::pingreq: handle_pingreq(); return;
    case packet_type::disconnect: handle_disconnect(std::get<disconnect_packet>(p)); return;
    case packet_type::auth:
      // Enhanced authentication is not offered, so AUTH is never expected.
      violation(reason_code::protocol_error, "AUTH without an authentication method");
      return;
    default:
      violation(reason_code::protocol_error, std::string(packet_type_name(t)) + " from a client");
      return;
  }
}

void connection::decode_failed(const decode_error& err) {
  if (phase_ == phase::closed) return;
  if (phase_ == phase::awaiting_connect && err.reason == reason_code::unsupported_protocol_version) {
    // 3.1.1 3.1.2.2: answer an unknown protocol level with return code 1.
    link_->send(encode_packet(connack_packet{false, 0x01, {}}, protocol_v311));
    phase_ = phase::closed;
    link_->close();
    return;
  }
  violation(err.reason, err.message);
}

void connection::keep_alive_expired() { violation(reason_code::keep_alive_timeout, "keep-alive timeout"); }

void connection::transport_closed() { end(true); }

void connection::violation(reason_code rc, const std::string& why) {
  if (phase_ == phase::closed) return;
  (void)why;
  if (rc != reason_code::keep_alive_timeout) ++broker_->stats_.protocol_errors;
  if (phase_ == phase::connected && level_ == protocol_v5) {
    send(disconnect_packet{packet_type::disconnect, static_cast<uint8_t>(rc), {}});
  }
  end(true);
}

void connection::end(bool publish_will) {
  std::unique_lock lock(broker_->mu_);
  if (phase_ == phase::closed) return;
  bool was_connected = phase_ == phase::connected;
  phase_ = phase::closed;
  if (was_connected) {
    auto it = broker_->sessions_.find(client_id_);
    if (it != broker_->sessions_.end() && it->second->conn.get() == this) {
      session& s = *it->second;
      s.conn.reset();
      if (s.expiry_interval == 0) {
        broker_->remove_session_locked(client_id_);
      } else {
        s.expires_at_ms =
            s.expiry_interval == 0xFFFFFFFFu ? -1 : broker_->now_ms() + int64_t{s.expiry_interval} * 1000;
        // Sent but unacknowledged QoS 1/2 messages are re-sent on resume.
        ++broker_->changes_;
      }
    }
    if (publish_will && will_) {
      message m;
      m.topic = std::move(will_->topic);
      m.payload = std::move(will_->payload);
      m.qos = will_->qos;
      m.retain = will_->retain;
      m.publisher = client_id_;
      uint32_t delay = 0;
      for (const property& p : will_->props.items) {
        if (p.id == property_id::message_expiry_interval) {
          m.expires_at_ms = broker_->now_ms() + int64_t{p.number} * 1000;
        } else if (p.id == property_id::will_delay_interval) {
          delay = p.number;
        } else {
          m.props.items.push_back(p);
        }
      }
      // The will goes out after its delay or when the session ends, whichever
      // is first (5.0 3.1.3.2.2); a session ending now means no delay.
      auto s = broker_->sessions_.find(client_id_);
      uint32_t expiry = s == broker_->sessions_.end() ? 0 : s->second->expiry_interval;
      delay = std::min(delay, expiry);
      auto ptr = std::make_shared<const message>(std::move(m));
      if (delay == 0) {
        broker_->route_locked(ptr);
      } else {
        broker_->delayed_wills_[client_id_] = {broker_->now_ms() + int64_t{delay} * 1000, ptr};
      }
    }
    will_.reset();
  }
  lock.unlock();
  link_->close();
}

}  // namespace liandu::connect::mqtt
