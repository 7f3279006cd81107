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

void head::append(uint32_t series, std::string_view field, const model::field_value_view& v, int64_t time) {
  auto [it, inserted] = series_.try_emplace(series);
  if (inserted) bytes_ += 64;
  column* col = it->second.find(field);
  if (col == nullptr) {
    it->second.fields.emplace_back(std::string(field), column{});
    col = &it->second.fields.back().second;
    col->type = model::type_of(v);
    bytes_ += sizeof(column) + field.size() + 32;
  }
  col->times.push_back(time);
  col->append_value(v);
  bytes_ += 16;
  if (v.index() == 4) bytes_ += std::get<4>(v).size() + 16;
  ++values_;
}

const column* head::find(uint32_t series, std::string_view field) const {
  auto it = series_.find(series);
  if (it == series_.end()) return nullptr;
  return it->second.find(field);
}

void head::delete_range(uint32_t series, int64_t min_time, int64_t max_time) {
  auto it = series_.find(series);
  if (it == series_.end()) return;
  for (auto& [name, col] : it->second.fields) {
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
