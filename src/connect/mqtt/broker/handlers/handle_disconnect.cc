#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::mqtt {

// DISCONNECT from the client (5.0 3.14): a normal disconnect discards the
// will; v5 reason 0x04 asks for it to be published. A v5 client may change
// the session expiry, but not from 0 to non-zero (3.14.2.2.2).
void connection::handle_disconnect(const disconnect_packet& d) {
  bool publish_will = false;
  if (level_ == protocol_v5) {
    publish_will = d.reason == static_cast<uint8_t>(reason_code::disconnect_with_will);
    if (auto expiry = d.props.number(property_id::session_expiry_interval)) {
      std::unique_lock lock(broker_->mu_);
      auto it = broker_->own_session_locked(this);
      if (it != broker_->sessions_.end()) {
        if (it->second->expiry_interval == 0 && *expiry != 0) {
          lock.unlock();
          violation(reason_code::protocol_error, "session expiry changed from 0 at DISCONNECT");
          return;
        }
        it->second->expiry_interval = *expiry;
        ++broker_->changes_;
      }
    }
  }
  end(publish_will);
}

}  // namespace liandu::connect::mqtt
