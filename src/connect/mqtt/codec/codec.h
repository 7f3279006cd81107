#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "connect/mqtt/codec/packet.h"

namespace liandu::connect::mqtt {

// Encoding and decoding of MQTT 3.1.1 and 5.0 control packets. No I/O: bytes
// in, packets out. Byte layout of every packet (spec 2.1):
//   byte 0        packet type (high nibble) and flags (low nibble)
//   1..4 bytes    remaining length, variable byte integer (7 bits per byte,
//                 low group first, high bit = more; at most 268,435,455)
//   ...           variable header and payload (remaining length bytes)
// Strings are a two-byte big-endian length and UTF-8 bytes; v5 properties are
// a variable byte integer length and (identifier, value) pairs.

inline constexpr uint32_t max_variable_byte_integer = 268435455;
// The largest possible packet: 1 + 4 + max_variable_byte_integer.
inline constexpr size_t max_possible_packet_size = 268435460;

struct decode_error {
  reason_code reason = reason_code::malformed_packet;  // malformed, protocol error, too large, ...
  size_t offset = 0;                                   // from the first byte of the packet
  std::string message;
};

// Decodes one packet whose fixed header byte is `header` and whose variable
// header and payload are `body` (exactly the remaining length). `level` is 4
// (3.1 and 3.1.1) or 5; a CONNECT is decoded at the level it states. Offsets
// in errors count from the fixed header byte, `header_size` bytes before body.
std::variant<packet, decode_error> decode_packet(uint8_t header, std::string_view body, uint8_t level,
                                                 size_t header_size = 2);

// Appends the encoding of p at protocol level `level` (4 or 5) to out. The
// caller gives valid packets (strings under 64 KiB, valid reason codes);
// fields that the level does not have (properties in 3.1.1) are left out.
void encode_packet(const packet& p, uint8_t level, std::string* out);
std::string encode_packet(const packet& p, uint8_t level);

// Size of the variable byte integer encoding of v (1..4).
size_t variable_byte_integer_size(uint32_t v);
void put_variable_byte_integer(uint32_t v, std::string* out);

// Incremental decoder over a byte stream: feed() what the socket gave, then
// call next() until it answers need_more. After an error the stream is
// unusable (MQTT has no resynchronisation) and next() repeats the error.
// The protocol level is learned from the first CONNECT unless set.
//
// Sized for many idle connections (one decoder each): the buffer is freed
// whenever next() has consumed everything fed, and the error, needed only
// once, sits behind a pointer.
class decoder {
 public:
  enum class state { need_more, packet, error };

  explicit decoder(size_t max_packet_size = max_possible_packet_size, uint8_t level = 0)
      : max_packet_size_(clamp_packet_size(max_packet_size)), level_(level) {}

  void feed(const void* data, size_t n);
  state next(packet* out, decode_error* err);

  uint8_t protocol_level() const { return level_; }
  void set_protocol_level(uint8_t level) { level_ = level; }
  void set_max_packet_size(size_t n) { max_packet_size_ = clamp_packet_size(n); }
  size_t buffered() const { return buf_.size() - pos_; }
  // Offset in the stream of the next undecoded byte.
  size_t stream_offset() const { return consumed_ + pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  size_t consumed_ = 0;  // bytes dropped from the front of buf_
  // 32 bits (no packet is larger), beside level_ without padding.
  uint32_t max_packet_size_;
  uint8_t level_;
  std::unique_ptr<decode_error> error_;  // set once decoding failed

  state fail(decode_error e, decode_error* err);
  static uint32_t clamp_packet_size(size_t n) {
    return static_cast<uint32_t>(n < max_possible_packet_size ? n : max_possible_packet_size);
  }
};

}  // namespace liandu::connect::mqtt
