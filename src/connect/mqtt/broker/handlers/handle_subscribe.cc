#include "connect/mqtt/broker/broker.h"
#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::mqtt {

// SUBSCRIBE (5.0 3.8): add each filter to the session and the tree, answer
// SUBACK with the granted QoS per filter, then send matching retained
// messages as the retain-handling option asks (never for shared ones).
void connection::handle_subscribe(const subscribe_packet& sp) {
  uint32_t sub_id = 0;
  if (level_ == protocol_v5) {
    size_t ids = 0;
    for (const property& p : sp.props.items) {
      if (p.id == property_id::subscription_identifier) {
        ++ids;
        sub_id = p.number;
      }
    }
    if (ids > 1) {
      violation(reason_code::protocol_error, "more than one subscription identifier");
      return;
    }
    for (const subscription& sub : sp.subscriptions) {
      std::string_view group, inner;
      if (sub.no_local && split_shared_filter(sub.filter, &group, &inner)) {
        violation(reason_code::protocol_error, "no local on a shared subscription");
        return;
      }
    }
  }
  std::lock_guard lock(broker_->mu_);
  auto it = broker_->own_session_locked(this);
  if (it == broker_->sessions_.end()) return;
  session& s = *it->second;
  sub_ack_packet ack;
  ack.type = packet_type::suback;
  ack.packet_id = sp.packet_id;
  std::vector<std::pair<subscription_entry, bool>> added;
  for (const subscription& sub : sp.subscriptions) {
    subscription_entry e;
    e.options = sub;
    e.subscription_id = sub_id;
    bool fresh = broker_->tree_.insert(client_id_, e);
    s.mutable_state().subscriptions[sub.filter] = e;
    if (s.expiry_interval) ++broker_->changes_;
    ack.reasons.push_back(sub.qos);
    added.emplace_back(std::move(e), fresh);
  }
  send(ack);
  for (auto& [e, fresh] : added) {
    if (e.options.retain_handling == 2 || (e.options.retain_handling == 1 && !fresh)) continue;
    broker_->deliver_retained_locked(s, e);
  }
}

// UNSUBSCRIBE (5.0 3.10): remove each filter; v5 UNSUBACK says per filter
// whether it existed.
void connection::handle_unsubscribe(const unsubscribe_packet& u) {
  std::lock_guard lock(broker_->mu_);
  auto it = broker_->own_session_locked(this);
  if (it == broker_->sessions_.end()) return;
  session& s = *it->second;
  sub_ack_packet ack;
  ack.type = packet_type::unsuback;
  ack.packet_id = u.packet_id;
  for (const std::string& f : u.filters) {
    bool existed = broker_->tree_.erase(client_id_, f);
    if (!s.state().subscriptions.empty()) s.mutable_state().subscriptions.erase(f);
    if (s.expiry_interval) ++broker_->changes_;
    ack.reasons.push_back(existed ? 0 : static_cast<uint8_t>(reason_code::no_subscription_existed));
  }
  send(ack);
}

}  // namespace liandu::connect::mqtt
