#include "storage/head/head.h"

#include "base/bytes_equal.h"

namespace liandu::storage::head {

head_column* series_head::find(uint32_t name) {
  for (auto& f : fields) {
    if (f.name == name) return &f.col;
  }
  return nullptr;
}

const head_column* series_head::find(uint32_t name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f.col;
  }
  return nullptr;
}

int64_t head::find_field_id(std::string_view name) const {
  if (const size_t n = field_ids_.size(); n <= linear_field_names) {
    for (size_t i = 0; i < n; ++i) {
      if (bytes_equal(first_names_[i], name)) return static_cast<int64_t>(i);
    }
    return -1;
  }
  auto it = field_ids_.find(name);
  // Both arms int64_t: with -1 against a uint32_t the conditional would be
  // unsigned and "not found" would read as id 4294967295.
  return it == field_ids_.end() ? int64_t{-1} : int64_t{it->second};
}

uint32_t head::field_id(std::string_view name) {
  int64_t id = find_field_id(name);
  if (id >= 0) return static_cast<uint32_t>(id);
  auto n = static_cast<uint32_t>(field_names_.size());
  field_names_.emplace_back(name);
  field_ids_.emplace(field_names_.back(), n);
  if (n < linear_field_names) first_names_[n] = field_names_.back();
  bytes_ += sizeof(std::string) + name.size() + 48;
  return n;
}

series_head& head::slot(uint32_t series) {
  size_t p = series / page_slots;
  if (p >= pages_.size()) {
    bytes_ += (p + 1 - pages_.size()) * sizeof(std::unique_ptr<page>);
    pages_.resize(p + 1);
  }
  if (!pages_[p]) {
    pages_[p] = std::make_unique<page>();
    bytes_ += sizeof(page);
  }
  return (*pages_[p])[series % page_slots];
}

const series_head* head::find_series(uint32_t series) const {
  size_t p = series / page_slots;
  if (p >= pages_.size() || !pages_[p]) return nullptr;
  const series_head& s = (*pages_[p])[series % page_slots];
  return s.fields.empty() ? nullptr : &s;
}

size_t head::append_to(series_head& s, uint32_t field, const model::field_value_view& v, int64_t time,
                       bool& new_series) {
  size_t bytes = 0;
  head_column* col = s.find(field);
  if (col == nullptr) {
    new_series = s.fields.empty();
    size_t cap_before = s.fields.capacity();
    s.fields.push_back({field, head_column(model::type_of(v))});
    bytes += (s.fields.capacity() - cap_before) * sizeof(series_head::field);
    col = &s.fields.back().col;
  }
  return bytes + col->append(time, v);
}

void head::append(uint32_t series, std::string_view field, const model::field_value_view& v, int64_t time) {
  bool new_series = false;
  uint32_t f = field_id(field);
  bytes_ += append_to(slot(series), f, v, time, new_series);
  series_count_ += new_series;
  ++values_;
}

const head_column* head::find(uint32_t series, std::string_view field) const {
  const series_head* s = find_series(series);
  if (s == nullptr) return nullptr;
  int64_t id = find_field_id(field);
  return id < 0 ? nullptr : s->find(static_cast<uint32_t>(id));
}

void head::delete_range(uint32_t series, int64_t min_time, int64_t max_time) {
  if (find_series(series) == nullptr) return;
  for (auto& f : slot(series).fields) values_ -= f.col.erase_range(min_time, max_time);
}

}  // namespace liandu::storage::head
