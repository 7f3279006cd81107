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
      type_(o.type_),
      unsorted_(o.unsorted_) {
  o.size_ = o.capacity_ = 0;
  o.unsorted_ = false;
}

head_column& head_column::operator=(head_column&& o) noexcept {
  data_ = std::move(o.data_);
  strings_ = std::move(o.strings_);
  size_ = o.size_;
  capacity_ = o.capacity_;
  type_ = o.type_;
  unsorted_ = o.unsorted_;
  o.size_ = o.capacity_ = 0;
  o.unsorted_ = false;
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

size_t head_column::set_value(size_t i, const model::field_value_view& v) {
  switch (v.index()) {
    case 0: words()[i] = std::bit_cast<uint64_t>(std::get<0>(v)); return 0;
    case 1: words()[i] = static_cast<uint64_t>(std::get<1>(v)); return 0;
    case 2: words()[i] = std::get<2>(v); return 0;
    case 3: words()[i] = std::get<3>(v) ? 1 : 0; return 0;
    default: {
      std::string_view s = std::get<4>(v);
      (*strings_)[i].assign(s);
      // The replaced string's bytes are not given back: the head's count may
      // run a little high, never low.
      return s.size() > 15 ? s.size() + 1 : 0;
    }
  }
}

size_t head_column::append(int64_t time, const model::field_value_view& v) {
  // The engine checks field types before it appends; a value of another type
  // would be written past a string column's allocation.
  assert(model::type_of(v) == type_);
  // Where the point goes: the end, unless it is older than the last point
  // and the column is still sorted.
  size_t at = size_;
  if (size_ > 0 && time <= data_[size_ - 1] && !unsorted_) {
    size_t limit = size_ > kMaxInsertShift ? size_ - kMaxInsertShift : 0;
    while (at > limit && data_[at - 1] > time) --at;
    if (at > 0 && data_[at - 1] == time) return set_value(at - 1, v);  // same time: last write wins
    if (at > 0 && data_[at - 1] > time) {
      at = size_;  // too far back: stay in arrival order from now on
      unsorted_ = true;
    }
  }
  size_t bytes = 0;
  if (size_ == capacity_) {
    uint32_t before = capacity_;
    grow();
    bytes += (capacity_ - before) * (type_ == model::field_type::string ? 8 : 16);
  }
  if (type_ == model::field_type::string && !strings_) {
    strings_ = std::make_unique<std::vector<std::string>>();
    bytes += sizeof(std::vector<std::string>);
  }
  if (at < size_) {
    std::memmove(data_.get() + at + 1, data_.get() + at, (size_ - at) * sizeof(int64_t));
    if (type_ != model::field_type::string) {
      std::memmove(words() + at + 1, words() + at, (size_ - at) * sizeof(uint64_t));
    }
  }
  data_[at] = time;
  if (type_ == model::field_type::string) {
    size_t cap_before = strings_->capacity();
    std::string_view s = std::get<4>(v);
    strings_->emplace(strings_->begin() + static_cast<std::ptrdiff_t>(at), s);
    bytes += (strings_->capacity() - cap_before) * sizeof(std::string) + (s.size() > 15 ? s.size() + 1 : 0);
  } else {
    set_value(at, v);
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
  if (size_ <= 1) unsorted_ = false;
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
