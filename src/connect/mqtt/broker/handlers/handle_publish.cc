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

void connection::handle_publish(publish_packet& p) {
  if (level_ == protocol_v5) {
    if (auto alias = p.props.number(property_id::topic_alias)) {
      if (*alias == 0 || *alias > broker_->config_.topic_alias_maximum) {
        violation(reason_code::topic_alias_invalid, "topic alias out of range");
        return;
      }
      if (!p.topic.empty()) {
        aliases_[static_cast<uint16_t>(*alias)] = p.topic;
      } else {
        auto it = aliases_.find(static_cast<uint16_t>(*alias));
        if (it == aliases_.end()) {
          violation(reason_code::protocol_error, "unknown topic alias");
          return;
        }
        p.topic = it->second;
      }
      p.props.remove(property_id::topic_alias);
    }
    // Subscription identifiers are set by the server only (3.3.4).
    if (p.props.find(property_id::subscription_identifier)) {
      violation(reason_code::protocol_error, "subscription identifier in a client PUBLISH");
      return;
    }
  }
  if (p.qos == 2) {
    bool duplicate = false;
    bool over = false;
    {
      std::lock_guard lock(broker_->mu_);
      auto it = broker_->own_session_locked(this);
      if (it == broker_->sessions_.end()) return;
      duplicate = it->second->incoming_qos2.count(p.packet_id) > 0;
      over = !duplicate && it->second->incoming_qos2.size() >= broker_->config_.receive_maximum;
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
  ++broker_->stats_.messages_received;
  if (broker_->hooks_.on_publish) {
    status st = broker_->hooks_.on_publish(username_, p.topic, p.payload);
    if (!st.ok()) {
      ++broker_->stats_.on_publish_errors;
      std::fprintf(stderr, "mqtt: on_publish for topic %s from %s failed: %s\n", p.topic.c_str(),
                   client_id_.c_str(), st.to_string().c_str());
      if (!refuse_publish(p, st)) return;
    }
  }
  message m;
  m.topic = p.topic;
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
    if (it != broker_->sessions_.end()) it->second->incoming_qos2.insert(p.packet_id);
    send(ack_packet{packet_type::pubrec, p.packet_id, 0, {}});
  }
}

}  // namespace liandu::connect::mqtt
