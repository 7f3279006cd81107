#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::mqtt {

// Acknowledgements of the QoS 1/2 flows (4.3.2, 4.3.3). Outbound: PUBACK
// ends a QoS 1 delivery; PUBREC → we send PUBREL → PUBCOMP ends a QoS 2 one.
// Inbound QoS 2: PUBREL releases the remembered packet id, answered PUBCOMP.
// Each freed slot of the inflight window lets a queued message go out.

namespace {

std::list<outgoing>::iterator find_inflight(std::list<outgoing>& inflight, uint16_t id, outgoing::state st) {
  for (auto it = inflight.begin(); it != inflight.end(); ++it) {
    if (it->packet_id == id && it->st == st) return it;
  }
  return inflight.end();
}

}  // namespace

void connection::handle_puback(const ack_packet& a) {
  std::lock_guard lock(broker_->mu_);
  auto it = broker_->own_session_locked(this);
  if (it == broker_->sessions_.end()) return;
  session& s = *it->second;
  if (s.state().inflight.empty()) return;  // nothing sent: late or stray
  auto& inflight = s.mutable_state().inflight;
  auto o = find_inflight(inflight, a.packet_id, outgoing::state::awaiting_puback);
  if (o == inflight.end()) return;  // late or duplicate: ignored
  inflight.erase(o);
  if (s.expiry_interval) ++broker_->changes_;
  broker_->pump_locked(s);
}

void connection::handle_pubrec(const ack_packet& a) {
  std::lock_guard lock(broker_->mu_);
  auto it = broker_->own_session_locked(this);
  if (it == broker_->sessions_.end()) return;
  session& s = *it->second;
  auto& inflight = s.mutable_state().inflight;
  auto o = find_inflight(inflight, a.packet_id, outgoing::state::awaiting_pubrec);
  if (o == inflight.end()) {
    if (find_inflight(inflight, a.packet_id, outgoing::state::awaiting_pubcomp) != inflight.end()) {
      send(ack_packet{packet_type::pubrel, a.packet_id, 0, {}});
    } else if (level_ == protocol_v5) {
      send(ack_packet{packet_type::pubrel,
                      a.packet_id,
                      static_cast<uint8_t>(reason_code::packet_identifier_not_found),
                      {}});
    }
    return;
  }
  if (a.reason >= 0x80) {
    // The receiver refused the message: the flow ends here (5.0 4.3.3).
    inflight.erase(o);
    broker_->pump_locked(s);
    return;
  }
  o->st = outgoing::state::awaiting_pubcomp;
  send(ack_packet{packet_type::pubrel, a.packet_id, 0, {}});
}

void connection::handle_pubcomp(const ack_packet& a) {
  std::lock_guard lock(broker_->mu_);
  auto it = broker_->own_session_locked(this);
  if (it == broker_->sessions_.end()) return;
  session& s = *it->second;
  if (s.state().inflight.empty()) return;  // nothing sent: late or stray
  auto& inflight = s.mutable_state().inflight;
  auto o = find_inflight(inflight, a.packet_id, outgoing::state::awaiting_pubcomp);
  if (o == inflight.end()) return;
  inflight.erase(o);
  if (s.expiry_interval) ++broker_->changes_;
  broker_->pump_locked(s);
}

void connection::handle_pubrel(const ack_packet& a) {
  std::lock_guard lock(broker_->mu_);
  auto it = broker_->own_session_locked(this);
  bool known = it != broker_->sessions_.end() && !it->second->state().incoming_qos2.empty() &&
               it->second->mutable_state().incoming_qos2.erase(a.packet_id) > 0;
  uint8_t rc =
      known || level_ != protocol_v5 ? 0 : static_cast<uint8_t>(reason_code::packet_identifier_not_found);
  send(ack_packet{packet_type::pubcomp, a.packet_id, rc, {}});
}

}  // namespace liandu::connect::mqtt
