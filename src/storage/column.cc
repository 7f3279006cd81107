#include "storage/column.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

namespace liandu::storage {

void column::clear() {
  times.clear();
  floats.clear();
  integers.clear();
  unsigneds.clear();
  booleans.clear();
  strings.clear();
}

void column::reserve(size_t n) {
  times.reserve(n);
  switch (type) {
    case model::field_type::float64: floats.reserve(n); break;
    case model::field_type::int64: integers.reserve(n); break;
    case model::field_type::uint64: unsigneds.reserve(n); break;
    case model::field_type::boolean: booleans.reserve(n); break;
    case model::field_type::string: strings.reserve(n); break;
  }
}

void column::append_value(const model::field_value_view& v) {
  switch (v.index()) {
    case 0: floats.push_back(std::get<0>(v)); break;
    case 1: integers.push_back(std::get<1>(v)); break;
    case 2: unsigneds.push_back(std::get<2>(v)); break;
    case 3: booleans.push_back(std::get<3>(v) ? 1 : 0); break;
    case 4: strings.emplace_back(std::get<4>(v)); break;
  }
}

void column::append_from(const column& o, size_t i) {
  times.push_back(o.times[i]);
  switch (type) {
    case model::field_type::float64: floats.push_back(o.floats[i]); break;
    case model::field_type::int64: integers.push_back(o.integers[i]); break;
    case model::field_type::uint64: unsigneds.push_back(o.unsigneds[i]); break;
    case model::field_type::boolean: booleans.push_back(o.booleans[i]); break;
    case model::field_type::string: strings.push_back(o.strings[i]); break;
  }
}

namespace {
template <typename T>
void append_vec(std::vector<T>& dst, const std::vector<T>& src) {
  dst.insert(dst.end(), src.begin(), src.end());
}
template <typename T>
void keep_vec(std::vector<T>& v, size_t begin, size_t end) {
  if (v.empty()) return;
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(end), v.end());
  v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(begin));
}
}  // namespace

void column::append_all(const column& o) {
  append_vec(times, o.times);
  append_vec(floats, o.floats);
  append_vec(integers, o.integers);
  append_vec(unsigneds, o.unsigneds);
  append_vec(booleans, o.booleans);
  append_vec(strings, o.strings);
}

void column::append_range(const column& o, size_t begin, size_t end) {
  if (begin >= end) return;
  auto b = static_cast<std::ptrdiff_t>(begin), e = static_cast<std::ptrdiff_t>(end);
  times.insert(times.end(), o.times.begin() + b, o.times.begin() + e);
  switch (type) {
    case model::field_type::float64:
      floats.insert(floats.end(), o.floats.begin() + b, o.floats.begin() + e);
      break;
    case model::field_type::int64:
      integers.insert(integers.end(), o.integers.begin() + b, o.integers.begin() + e);
      break;
    case model::field_type::uint64:
      unsigneds.insert(unsigneds.end(), o.unsigneds.begin() + b, o.unsigneds.begin() + e);
      break;
    case model::field_type::boolean:
      booleans.insert(booleans.end(), o.booleans.begin() + b, o.booleans.begin() + e);
      break;
    case model::field_type::string:
      strings.insert(strings.end(), o.strings.begin() + b, o.strings.begin() + e);
      break;
  }
}

void column::keep_range(size_t begin, size_t end) {
  keep_vec(times, begin, end);
  keep_vec(floats, begin, end);
  keep_vec(integers, begin, end);
  keep_vec(unsigneds, begin, end);
  keep_vec(booleans, begin, end);
  keep_vec(strings, begin, end);
}

bool column::is_sorted_unique() const {
  for (size_t i = 1; i < times.size(); ++i) {
    if (times[i] <= times[i - 1]) return false;
  }
  return true;
}

namespace {
template <typename T>
void permute(std::vector<T>& v, const std::vector<uint32_t>& order) {
  std::vector<T> out;
  out.reserve(order.size());
  for (uint32_t i : order) out.push_back(std::move(v[i]));
  v.swap(out);
}
}  // namespace

int read_precedence(model::field_type t) {
  switch (t) {
    case model::field_type::float64: return 0;
    case model::field_type::int64: return 1;
    case model::field_type::uint64: return 2;
    case model::field_type::string: return 3;
    case model::field_type::boolean: return 4;
  }
  return 5;
}

namespace {

bool numeric(model::field_type t) {
  return t == model::field_type::float64 || t == model::field_type::int64 || t == model::field_type::uint64;
}

// Go's conversions, as InfluxDB's casts do them, without C++'s undefined
// behaviour for floats out of the integer's range (those saturate, NaN is 0).
template <typename To, typename From>
To cast_value(From v) {
  if constexpr (std::is_floating_point_v<From> && !std::is_floating_point_v<To>) {
    if (std::isnan(v)) return 0;
    if (v <= static_cast<From>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
  }
  return static_cast<To>(v);
}

template <typename To, typename From>
std::vector<To> converted(std::vector<From>& from) {
  std::vector<To> out;
  out.reserve(from.size());
  for (From v : from) out.push_back(cast_value<To>(v));
  from = {};
  return out;
}

template <typename To>
std::vector<To> numeric_values(column& c) {
  switch (c.type) {
    case model::field_type::float64: return converted<To>(c.floats);
    case model::field_type::int64: return converted<To>(c.integers);
    case model::field_type::uint64: return converted<To>(c.unsigneds);
    default: return {};
  }
}

}  // namespace

bool convert_numeric(column& c, model::field_type to) {
  if (!numeric(c.type) || !numeric(to)) return false;
  if (c.type == to) return true;
  switch (to) {
    case model::field_type::float64: c.floats = numeric_values<double>(c); break;
    case model::field_type::int64: c.integers = numeric_values<int64_t>(c); break;
    default: c.unsigneds = numeric_values<uint64_t>(c); break;
  }
  c.type = to;
  return true;
}

void column::sort_and_dedup() {
  if (is_sorted_unique()) return;
  // (time, position) pairs sorted directly: the position breaks ties, so the
  // order is stable without stable_sort's indirect comparisons.
  std::vector<std::pair<int64_t, uint32_t>> order(times.size());
  for (size_t i = 0; i < times.size(); ++i) order[i] = {times[i], static_cast<uint32_t>(i)};
  std::sort(order.begin(), order.end());
  // Keep the last index of each run of equal times.
  std::vector<uint32_t> keep;
  keep.reserve(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    if (k + 1 < order.size() && order[k + 1].first == order[k].first) continue;
    keep.push_back(order[k].second);
  }
  permute(times, keep);
  switch (type) {
    case model::field_type::float64: permute(floats, keep); break;
    case model::field_type::int64: permute(integers, keep); break;
    case model::field_type::uint64: permute(unsigneds, keep); break;
    case model::field_type::boolean: permute(booleans, keep); break;
    case model::field_type::string: permute(strings, keep); break;
  }
}

size_t column::memory_bytes() const {
  size_t b = sizeof(column) + times.capacity() * 8 + floats.capacity() * 8 + integers.capacity() * 8 +
             unsigneds.capacity() * 8 + booleans.capacity();
  for (const auto& s : strings) b += sizeof(std::string) + (s.size() > 15 ? s.size() : 0);
  return b;
}

}  // namespace liandu::storage
