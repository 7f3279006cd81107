#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::mqtt {

// PINGREQ (3.12): answered PINGRESP; the server resets the keep-alive timer
// on every packet, this one included.
void connection::handle_pingreq() { send(ping_packet{packet_type::pingresp}); }

}  // namespace liandu::connect::mqtt
