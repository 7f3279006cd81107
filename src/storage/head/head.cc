#include "storage/head/head.h"

namespace liandu::storage::head {

column* series_head::find(std::string_view field) {
  for (auto& [name, col] : fields) {
    if (name == field) return &col;
  }
  return nullptr;
}

const column* series_head::find(std::string_view field) const {
  for (const auto& [name, col] : fields) {
    if (name == field) return &col;
  }
  return nullptr;
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

size_t head::append_to(series_head& s, std::string_view field, const model::field_value_view& v, int64_t time,
                       bool& new_series) {
  size_t bytes = 16;
  column* col = s.find(field);
  if (col == nullptr) {
    new_series = s.fields.empty();
    s.fields.emplace_back(std::string(field), column{});
    col = &s.fields.back().second;
    col->type = model::type_of(v);
    bytes += sizeof(column) + field.size() + 32;
  }
  col->times.push_back(time);
  col->append_value(v);
  if (v.index() == 4) bytes += std::get<4>(v).size() + 16;
  return bytes;
}

void head::append(uint32_t series, std::string_view field, const model::field_value_view& v, int64_t time) {
  bool new_series = false;
  bytes_ += append_to(slot(series), field, v, time, new_series);
  series_count_ += new_series;
  ++values_;
}

const column* head::find(uint32_t series, std::string_view field) const {
  const series_head* s = find_series(series);
  return s == nullptr ? nullptr : s->find(field);
}

void head::delete_range(uint32_t series, int64_t min_time, int64_t max_time) {
  if (find_series(series) == nullptr) return;
  for (auto& [name, col] : slot(series).fields) {
    column kept;
    kept.type = col.type;
    for (size_t i = 0; i < col.size(); ++i) {
      if (col.times[i] < min_time || col.times[i] > max_time) kept.append_from(col, i);
    }
    values_ -= col.size() - kept.size();
    col = std::move(kept);
  }
}

}  // namespace liandu::storage::head
