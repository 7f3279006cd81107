#include "storage/codec/bit_stream.h"

namespace liandu::storage::codec {

void bit_writer::flush_word() {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(acc_ >> (56 - 8 * i));
  out_.append(b, 8);
}

void bit_writer::finish() {
  const int used = 64 - free_;
  for (int i = 0; i < (used + 7) / 8; ++i) out_.push_back(static_cast<char>(acc_ >> (56 - 8 * i)));
  acc_ = 0;
  free_ = 64;
}

uint64_t bit_reader::read(int count) {
  if (failed_ || size_bits_ - pos_ < static_cast<size_t>(count)) {
    failed_ = true;
    return 0;
  }
  const size_t byte = pos_ / 8;
  const int offset = static_cast<int>(pos_ % 8);
  const auto* p = reinterpret_cast<const uint8_t*>(in_.data());
  const size_t have = in_.size() - byte;
  uint64_t w = 0;
  if (have >= 8) {
    for (int i = 0; i < 8; ++i) w = (w << 8) | p[byte + i];
  } else {
    for (size_t i = 0; i < 8; ++i) w = (w << 8) | (i < have ? p[byte + i] : 0);
  }
  uint64_t v = w << offset;
  if (offset + count > 64) v |= static_cast<uint64_t>(p[byte + 8]) >> (8 - offset);
  pos_ += count;
  return v >> (64 - count);
}

}  // namespace liandu::storage::codec
