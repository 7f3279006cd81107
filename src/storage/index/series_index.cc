#include "storage/index/series_index.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/coding.h"
#include "base/crc32c.h"

namespace liandu::storage::index {

posting_list::posting_list() : bm_(roaring_bitmap_create()) {}
posting_list::~posting_list() {
  if (bm_ != nullptr) roaring_bitmap_free(bm_);
}
posting_list& posting_list::operator=(posting_list&& o) noexcept {
  if (this != &o) {
    if (bm_ != nullptr) roaring_bitmap_free(bm_);
    bm_ = o.bm_;
    o.bm_ = nullptr;
  }
  return *this;
}
void posting_list::add(uint32_t id) { roaring_bitmap_add(bm_, id); }
void posting_list::remove(uint32_t id) { roaring_bitmap_remove(bm_, id); }
bool posting_list::contains(uint32_t id) const { return roaring_bitmap_contains(bm_, id); }
uint64_t posting_list::cardinality() const { return roaring_bitmap_get_cardinality(bm_); }
std::vector<uint32_t> posting_list::to_vector() const {
  std::vector<uint32_t> out(cardinality());
  roaring_bitmap_to_uint32_array(bm_, out.data());
  return out;
}
size_t posting_list::bytes() const { return roaring_bitmap_portable_size_in_bytes(bm_) + 48; }

namespace {
// series.log record: crc32c(fixed32, over the rest) | length(fixed32) | kind(u8) | id(varint) | key
constexpr uint8_t record_add = 1;
constexpr uint8_t record_drop = 2;

// crc32c(body), length(body), body = kind, varint id, key. The body is
// written in place and the header filled in after: no string per record
// (a million new series made a million of them).
void put_record(std::string& out, uint8_t kind, uint32_t id, std::string_view key) {
  const size_t header = out.size();
  out.append(8, '\0');
  out.push_back(static_cast<char>(kind));
  put_varint(out, id);
  out.append(key);
  const size_t len = out.size() - header - 8;
  const uint32_t crc = crc32c(out.data() + header + 8, len);
  const auto len32 = static_cast<uint32_t>(len);
  std::memcpy(out.data() + header, &crc, 4);
  std::memcpy(out.data() + header + 4, &len32, 4);
}
}  // namespace

status series_index::open(const std::string& dir) {
  dir_ = dir;
  LIANDU_RETURN_IF_ERROR(fs::create_dirs(dir));
  std::string path = fs::join(dir, "series.log");
  auto data = fs::read_file(path);
  uint64_t valid_end = 0;
  if (data.ok()) {
    std::string_view in = *data;
    size_t pos = 0;
    while (in.size() - pos >= 8) {
      uint32_t crc = get_fixed32(in.data() + pos);
      uint32_t len = get_fixed32(in.data() + pos + 4);
      if (len > in.size() - pos - 8 || len < 2) break;
      std::string_view body = in.substr(pos + 8, len);
      if (crc32c(body.data(), body.size()) != crc) break;  // torn tail: never acknowledged
      uint8_t kind = static_cast<uint8_t>(body[0]);
      body.remove_prefix(1);
      uint64_t id;
      if (!get_varint(body, id) || id == 0 || id > (1ull << 32) - 1) break;
      if (kind == record_add) {
        // Ids are dense and in order; a gap means ids created but never persisted.
        while (keys_.size() + 1 < id) {
          keys_.emplace_back();
          alive_.push_back(false);
          measurement_of_.push_back(0);
        }
        if (keys_.size() + 1 == id) add(body, static_cast<uint32_t>(id));
      } else if (kind == record_drop) {
        if (alive(static_cast<uint32_t>(id))) drop(static_cast<uint32_t>(id));
      }
      pos += 8 + len;
      valid_end = pos;
    }
    pending_log_.clear();
  } else if (data.error().code() != errc::not_found) {
    return data.error();
  }
  LIANDU_RETURN_IF_ERROR(log_.open(path));
  if (log_.size() != valid_end) LIANDU_RETURN_IF_ERROR(log_.truncate(valid_end));
  return {};
}

uint32_t series_index::find(std::string_view key) const {
  return ids_.find(key, [this](uint32_t id) { return key_of(id); });
}

uint32_t series_index::find(std::string_view key, uint32_t key_hash) const {
  return ids_.find(key, key_hash, [this](uint32_t id) { return key_of(id); });
}

uint32_t series_index::find_or_create(std::string_view key) {
  if (uint32_t found = find(key); found != 0) return found;
  uint32_t id = static_cast<uint32_t>(keys_.size() + 1);
  add(key, id, true);
  put_record(pending_log_, record_add, id, key);
  return id;
}

namespace {

// Finds key in a map with a transparent comparator, making the entry (and
// its std::string key) only when it is new: most series add ids to tag
// values the index already holds.
template <typename Map>
typename Map::mapped_type& entry_of(Map& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(std::string(key), typename Map::mapped_type()).first;
  return it->second;
}

}  // namespace

uint32_t series_index::add(std::string_view key, uint32_t id, bool known_absent) {
  keys_.push_back(key_bytes_.add(key));
  alive_.push_back(true);
  // The measurement and tags as views of the stored key when it holds no
  // escape (nearly always); otherwise unescaped copies. Creating a million
  // series spent much of its time making strings here.
  std::string_view measurement;
  tag_views_.clear();
  const std::string_view stored = keys_.back();
  if (stored.find('\\') == std::string_view::npos) {
    size_t comma = stored.find(',');
    measurement = stored.substr(0, comma);
    while (comma != std::string_view::npos) {
      size_t start = comma + 1;
      comma = stored.find(',', start);
      std::string_view pair = stored.substr(start, comma == std::string_view::npos ? comma : comma - start);
      size_t eq = pair.find('=');
      tag_views_.push_back(
          {pair.substr(0, eq), eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1)});
    }
  } else {
    model::parse_series_key(stored, unescaped_measurement_, unescaped_tags_);
    measurement = unescaped_measurement_;
    for (const model::tag& t : unescaped_tags_) tag_views_.push_back({t.key, t.value});
  }
  auto mit = std::find(measurement_names_.begin(), measurement_names_.end(), measurement);
  uint16_t midx;
  if (mit == measurement_names_.end()) {
    measurement_names_.emplace_back(measurement);
    midx = static_cast<uint16_t>(measurement_names_.size() - 1);
  } else {
    midx = static_cast<uint16_t>(mit - measurement_names_.begin());
  }
  measurement_of_.push_back(midx);
  // A repeated log record keeps the first id.
  if (known_absent || find(stored) == 0) ids_.insert(stored, id);
  measurement_postings& mp = entry_of(postings_, measurement);
  mp.all.add(id);
  for (const model::tag_view& t : tag_views_) entry_of(entry_of(mp.tags, t.key), t.value).add(id);
  ++live_;
  generation_ = next_generation();
  return id;
}

uint64_t series_index::next_generation() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

const std::string& series_index::measurement_name_of(uint32_t id) const {
  return measurement_names_[measurement_of_[id - 1]];
}

void series_index::remove_from_postings(uint32_t id) {
  const std::string& m = measurement_name_of(id);
  auto mit = postings_.find(m);
  if (mit == postings_.end()) return;
  std::string measurement;
  std::vector<model::tag> tags;
  model::parse_series_key(keys_[id - 1], measurement, tags);
  auto& mp = mit->second;
  mp.all.remove(id);
  for (const auto& t : tags) {
    auto kit = mp.tags.find(t.key);
    if (kit == mp.tags.end()) continue;
    auto vit = kit->second.find(t.value);
    if (vit == kit->second.end()) continue;
    vit->second.remove(id);
    if (vit->second.cardinality() == 0) kit->second.erase(vit);
    if (kit->second.empty()) mp.tags.erase(kit);
  }
  if (mp.all.cardinality() == 0) postings_.erase(mit);
}

void series_index::drop(uint32_t id) {
  if (!alive(id)) return;
  remove_from_postings(id);
  ids_.erase(keys_[id - 1], [this](uint32_t i) { return key_of(i); });
  alive_[id - 1] = false;
  --live_;
  generation_ = next_generation();
  put_record(pending_log_, record_drop, id, {});
}

std::vector<std::string> series_index::measurements() const {
  std::vector<std::string> out;
  for (const auto& [m, _] : postings_) out.push_back(m);
  return out;
}

std::vector<uint32_t> series_index::series_of(std::string_view measurement) const {
  auto it = postings_.find(measurement);
  if (it == postings_.end()) return {};
  return it->second.all.to_vector();
}

std::vector<std::string> series_index::tag_keys(std::string_view measurement) const {
  std::vector<std::string> out;
  auto it = postings_.find(measurement);
  if (it == postings_.end()) return out;
  for (const auto& [k, _] : it->second.tags) out.push_back(k);
  return out;
}

std::vector<std::pair<std::string, std::vector<uint32_t>>> series_index::tag_values(
    std::string_view measurement, std::string_view key) const {
  std::vector<std::pair<std::string, std::vector<uint32_t>>> out;
  auto it = postings_.find(measurement);
  if (it == postings_.end()) return out;
  auto kit = it->second.tags.find(key);
  if (kit == it->second.tags.end()) return out;
  for (const auto& [v, pl] : kit->second) out.emplace_back(v, pl.to_vector());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::vector<uint32_t> series_index::series_with_tag(std::string_view measurement, std::string_view key,
                                                    std::string_view value) const {
  auto it = postings_.find(measurement);
  if (it == postings_.end()) return {};
  auto kit = it->second.tags.find(key);
  if (kit == it->second.tags.end()) return {};
  auto vit = kit->second.find(value);
  if (vit == kit->second.end()) return {};
  return vit->second.to_vector();
}

std::string series_index::take_pending_log() {
  std::string out;
  out.swap(pending_log_);
  return out;
}

status series_index::write_log(std::string_view records) {
  if (records.empty()) return {};
  LIANDU_RETURN_IF_ERROR(log_.append(records));
  log_.must_sync();
  return {};
}

size_t series_index::memory_bytes() const {
  size_t b = 0;
  b += key_bytes_.memory_bytes() + keys_.capacity() * sizeof(std::string_view);
  b += ids_.memory_bytes();
  b += alive_.size() / 8 + measurement_of_.size() * sizeof(uint16_t);
  for (const auto& [m, mp] : postings_) {
    b += mp.all.bytes();
    for (const auto& [k, values] : mp.tags) {
      for (const auto& [v, pl] : values) b += pl.bytes() + v.size() + 64;
    }
  }
  return b;
}

}  // namespace liandu::storage::index
