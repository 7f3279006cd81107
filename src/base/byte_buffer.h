#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace liandu {

// A growable run of bytes that an encoder writes through a pointer: ask for
// room for the most a record can take (room_for), write, then say where the
// writing stopped (commit). std::string offers this only from C++23
// (resize_and_overwrite); appending byte by byte to a std::string reloads
// its size and capacity after every byte, which was most of the cost of
// encoding a write batch.
class byte_buffer {
 public:
  byte_buffer() = default;
  explicit byte_buffer(std::string_view bytes) { append(bytes); }
  byte_buffer(const byte_buffer& o) { append(o.view()); }
  byte_buffer& operator=(const byte_buffer& o) {
    if (this != &o) {
      size_ = 0;
      append(o.view());
    }
    return *this;
  }
  byte_buffer(byte_buffer&& o) noexcept
      : data_(std::move(o.data_)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  byte_buffer& operator=(byte_buffer&& o) noexcept {
    data_ = std::move(o.data_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
  }

  // Capacity for at least n bytes in all.
  void reserve(size_t n) {
    if (n > capacity_) reallocate(n);
  }
  // Where to write up to n more bytes; commit() says how many were written.
  char* room_for(size_t n) {
    if (capacity_ - size_ < n) reallocate(std::max(size_ + n, 2 * capacity_));
    return data_.get() + size_;
  }
  // The bytes from room_for's pointer up to end are now part of the buffer.
  void commit(const char* end) { size_ = static_cast<size_t>(end - data_.get()); }
  void append(std::string_view s) {
    char* p = room_for(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    size_ += s.size();
  }
  void truncate(size_t n) {
    if (n < size_) size_ = n;
  }

  std::string_view view() const { return {data_.get(), size_}; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }

 private:
  void reallocate(size_t n) {
    auto bigger = std::make_unique_for_overwrite<char[]>(n);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = n;
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace liandu
