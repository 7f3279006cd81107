#include "storage/head/head_column.h"

#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace liandu::storage::head {

head_column::head_column(head_column&& o) noexcept
    : data_(std::move(o.data_)),
      strings_(std::move(o.strings_)),
      size_(o.size_),
      capacity_(o.capacity_),
      type_(o.type_) {
  o.size_ = o.capacity_ = 0;
}

head_column& head_column::operator=(head_column&& o) noexcept {
  data_ = std::move(o.data_);
  strings_ = std::move(o.strings_);
  size_ = o.size_;
  capacity_ = o.capacity_;
  type_ = o.type_;
  o.size_ = o.capacity_ = 0;
  return *this;
}

void head_column::grow() {
  if (capacity_ > std::numeric_limits<uint32_t>::max() / 2) throw std::length_error("head column too long");
  // Starts at 2: at a million series of a few points each, most columns
  // never grow past 4.
  uint32_t cap = capacity_ == 0 ? 2 : capacity_ * 2;
  const bool has_words = type_ != model::field_type::string;
  auto data = std::make_unique_for_overwrite<int64_t[]>(has_words ? 2 * size_t{cap} : cap);
  if (size_ > 0) {
    std::memcpy(data.get(), data_.get(), size_ * sizeof(int64_t));
    if (has_words) std::memcpy(data.get() + cap, words(), size_ * sizeof(uint64_t));
  }
  data_ = std::move(data);
  capacity_ = cap;
}

size_t head_column::append(int64_t time, const model::field_value_view& v) {
  // The engine checks field types before it appends; a value of another type
  // would be written past a string column's allocation.
  assert(model::type_of(v) == type_);
  size_t bytes = 0;
  if (size_ == capacity_) {
    uint32_t before = capacity_;
    grow();
    bytes += (capacity_ - before) * (type_ == model::field_type::string ? 8 : 16);
  }
  data_[size_] = time;
  switch (v.index()) {
    case 0: words()[size_] = std::bit_cast<uint64_t>(std::get<0>(v)); break;
    case 1: words()[size_] = static_cast<uint64_t>(std::get<1>(v)); break;
    case 2: words()[size_] = std::get<2>(v); break;
    case 3: words()[size_] = std::get<3>(v) ? 1 : 0; break;
    case 4: {
      if (!strings_) {
        strings_ = std::make_unique<std::vector<std::string>>();
        bytes += sizeof(std::vector<std::string>);
      }
      size_t cap_before = strings_->capacity();
      std::string_view s = std::get<4>(v);
      strings_->emplace_back(s);
      bytes += (strings_->capacity() - cap_before) * sizeof(std::string) + (s.size() > 15 ? s.size() + 1 : 0);
      break;
    }
  }
  ++size_;
  return bytes;
}

void head_column::append_point_to(column& out, size_t i) const {
  out.times.push_back(data_[i]);
  const uint64_t w = type_ == model::field_type::string ? 0 : words()[i];
  switch (type_) {
    case model::field_type::float64: out.floats.push_back(std::bit_cast<double>(w)); break;
    case model::field_type::int64: out.integers.push_back(static_cast<int64_t>(w)); break;
    case model::field_type::uint64: out.unsigneds.push_back(w); break;
    case model::field_type::boolean: out.booleans.push_back(static_cast<uint8_t>(w)); break;
    case model::field_type::string: out.strings.push_back((*strings_)[i]); break;
  }
}

void head_column::append_range_to(column& out, int64_t lo, int64_t hi) const {
  for (size_t i = 0; i < size_; ++i) {
    if (data_[i] >= lo && data_[i] <= hi) append_point_to(out, i);
  }
}

void head_column::append_all_to(column& out) const {
  out.times.insert(out.times.end(), data_.get(), data_.get() + size_);
  const uint64_t* w = size_ > 0 && type_ != model::field_type::string ? words() : nullptr;
  switch (type_) {
    case model::field_type::float64:
      out.floats.reserve(out.floats.size() + size_);
      for (size_t i = 0; i < size_; ++i) out.floats.push_back(std::bit_cast<double>(w[i]));
      break;
    case model::field_type::int64:
      out.integers.reserve(out.integers.size() + size_);
      for (size_t i = 0; i < size_; ++i) out.integers.push_back(static_cast<int64_t>(w[i]));
      break;
    case model::field_type::uint64: out.unsigneds.insert(out.unsigneds.end(), w, w + size_); break;
    case model::field_type::boolean:
      out.booleans.reserve(out.booleans.size() + size_);
      for (size_t i = 0; i < size_; ++i) out.booleans.push_back(static_cast<uint8_t>(w[i]));
      break;
    case model::field_type::string:
      if (strings_) out.strings.insert(out.strings.end(), strings_->begin(), strings_->end());
      break;
  }
}

column head_column::to_column() const {
  column c;
  c.type = type_;
  append_all_to(c);
  return c;
}

bool head_column::is_sorted_unique() const {
  for (size_t i = 1; i < size_; ++i) {
    if (data_[i - 1] >= data_[i]) return false;
  }
  return true;
}

size_t head_column::erase_range(int64_t lo, int64_t hi) {
  size_t kept = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (data_[i] >= lo && data_[i] <= hi) continue;
    if (kept != i) {
      data_[kept] = data_[i];
      if (type_ == model::field_type::string) {
        (*strings_)[kept] = std::move((*strings_)[i]);
      } else {
        words()[kept] = words()[i];
      }
    }
    ++kept;
  }
  size_t removed = size_ - kept;
  size_ = static_cast<uint32_t>(kept);
  if (strings_) strings_->resize(kept);
  return removed;
}

size_t head_column::memory_bytes() const {
  size_t b = sizeof(*this) + size_t{capacity_} * (type_ == model::field_type::string ? 8 : 16);
  if (strings_) {
    b += sizeof(*strings_) + strings_->capacity() * sizeof(std::string);
    for (const auto& s : *strings_) b += s.size() > 15 ? s.size() + 1 : 0;
  }
  return b;
}

}  // namespace liandu::storage::head
