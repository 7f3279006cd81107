#include <cstdio>

#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::mqtt {

// CONNECT (3.1.1 3.1, 5.0 3.1): authenticate, create or resume the session
// (taking it over from a live connection with the same client id), answer
// CONNACK, then re-send what the resumed session still owes the client.
void connection::handle_connect(connect_packet& c) {
  level_ = c.protocol_level == protocol_v5 ? protocol_v5 : protocol_v311;
  bool v5 = level_ == protocol_v5;
  auto refuse = [&](uint8_t v3_code, reason_code v5_code) {
    send(connack_packet{false, v5 ? static_cast<uint8_t>(v5_code) : v3_code, {}});
    phase_ = phase::closed;
    link_->close();
  };
  if (v5 && c.props.find(property_id::authentication_method)) {
    refuse(0x05, reason_code::bad_authentication_method);
    return;
  }
  bool assigned = false;
  if (c.client_id.empty()) {
    if (!v5 && !c.clean_start) {
      refuse(0x02, reason_code::client_identifier_not_valid);
      return;
    }
    std::lock_guard lock(broker_->mu_);
    char buf[40];
    std::snprintf(buf, sizeof buf, "liandu-%016llx",
                  static_cast<unsigned long long>(++broker_->client_id_counter_));
    c.client_id = buf;
    assigned = true;
  }
  const auto& auth = broker_->hooks_.authenticate;
  if (auth && !auth(c.client_id, c.username.value_or(""), c.password.value_or(""))) {
    refuse(0x05, reason_code::not_authorized);
    return;
  }
  client_id_ = c.client_id;
  username_ = c.username.value_or("");
  keep_alive_ = c.keep_alive;
  if (c.will) will_ = std::make_unique<will_message>(std::move(*c.will));

  uint32_t expiry = 0;
  if (v5) {
    expiry = c.props.number(property_id::session_expiry_interval).value_or(0);
  } else if (!c.clean_start) {
    expiry = 0xFFFFFFFFu;
  }

  std::unique_lock lock(broker_->mu_);
  broker_->delayed_wills_.erase(client_id_);  // back in time: no will
  bool present = false;
  auto it = broker_->sessions_.find(client_id_);
  if (it != broker_->sessions_.end()) {
    std::shared_ptr<connection> old = it->second->conn;
    if (old) {
      // Session take-over (3.1.4-3): the old connection is closed and its
      // will published.
      it->second->conn.reset();
      if (old->level_ == protocol_v5) {
        old->send(disconnect_packet{
            packet_type::disconnect, static_cast<uint8_t>(reason_code::session_taken_over), {}});
      }
      old->phase_ = phase::closed;
      if (old->will_) {
        message m;
        m.topic = old->will_->topic;
        m.payload = old->will_->payload;
        m.qos = old->will_->qos;
        m.retain = old->will_->retain;
        m.publisher = client_id_;
        old->will_.reset();
        broker_->route_locked(std::make_shared<const message>(std::move(m)));
      }
      old->link_->close();
    }
    it = broker_->sessions_.find(client_id_);
    if (it != broker_->sessions_.end()) {
      if (c.clean_start) {
        broker_->remove_session_locked(client_id_);
      } else {
        present = true;
      }
    }
  }
  std::shared_ptr<session> s;
  if (present) {
    s = broker_->sessions_[client_id_];
  } else {
    s = std::make_shared<session>();
    broker_->sessions_[client_id_] = s;
  }
  s->level = level_;
  if (s->expiry_interval != expiry) ++broker_->changes_;
  s->expiry_interval = expiry;
  s->expires_at_ms = -1;
  s->client_receive_maximum = 65535;
  s->client_max_packet_size = 0;
  if (v5) {
    s->client_receive_maximum =
        static_cast<uint16_t>(c.props.number(property_id::receive_maximum).value_or(65535));
    s->client_max_packet_size = c.props.number(property_id::maximum_packet_size).value_or(0);
  }
  s->conn = shared_from_this();
  phase_ = phase::connected;
  if (expiry) ++broker_->changes_;

  connack_packet ack;
  ack.session_present = present;
  if (v5) {
    const broker_config& cfg = broker_->config_;
    ack.props.set_number(property_id::receive_maximum, cfg.receive_maximum);
    ack.props.set_number(property_id::topic_alias_maximum, cfg.topic_alias_maximum);
    ack.props.set_number(property_id::maximum_packet_size, cfg.max_packet_size);
    if (assigned) ack.props.set_text(property_id::assigned_client_identifier, client_id_);
  }
  send(ack);
  if (present) broker_->resend_locked(*s);
}

}  // namespace liandu::connect::mqtt
