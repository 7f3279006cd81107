#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace liandu::storage::codec {

// Bit streams for the Gorilla float scheme. Bits are written most significant
// first: the first bit written is the top bit of the first byte. The last byte
// is padded with zero bits.

class bit_writer {
 public:
  // Appends to out; out must outlive the writer and finish() must be called.
  explicit bit_writer(std::string& out) : out_(out) {}

  // Writes the low count bits of bits (count in 1..64; higher bits zero).
  void write(uint64_t bits, int count) {
    if (count < free_) {
      acc_ |= bits << (free_ - count);
      free_ -= count;
      return;
    }
    const int rest = count - free_;  // 0..63, since free_ >= 1
    acc_ |= bits >> rest;
    flush_word();
    acc_ = rest == 0 ? 0 : bits << (64 - rest);
    free_ = 64 - rest;
  }

  // Writes the bytes that hold the bits written so far.
  void finish();

 private:
  void flush_word();

  std::string& out_;
  uint64_t acc_ = 0;  // pending bits, from the top
  int free_ = 64;     // unused low bits of acc_, 1..64
};

class bit_reader {
 public:
  explicit bit_reader(std::string_view in) : in_(in), size_bits_(in.size() * 8) {}

  // Reads count bits (1..64). Past the end it returns 0 and sets failed().
  uint64_t read(int count);
  bool failed() const { return failed_; }
  size_t bits_left() const { return size_bits_ - pos_; }

 private:
  std::string_view in_;
  size_t size_bits_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace liandu::storage::codec
