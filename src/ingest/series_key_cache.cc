#include "ingest/series_key_cache.h"

#include <algorithm>
#include <cstring>

#include "ingest/line_protocol.h"

namespace liandu::ingest {

bool series_key_cache::take_line() {
  if (bypass_ == 0) return true;
  --bypass_;
  return false;
}

const series_key_cache::entry* series_key_cache::find(std::string_view raw, uint32_t hash) {
  ++lookups_;
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint32_t s = slots_[i];
    if (s == 0) return nullptr;
    const entry& en = entries_[s - 1];
    if (en.hash == hash && en.raw_len == raw.size() &&
        std::memcmp(bytes_.data() + en.at, raw.data(), raw.size()) == 0) {
      ++hits_;
      ++total_hits_;
      return &en;
    }
  }
}

void series_key_cache::fill(const entry& en, point_ref& out, std::vector<model::tag_view>& tags) const {
  const char* key = bytes_.data() + en.at + en.raw_len;
  out.measurement = std::string_view(key, en.measurement_len);
  tags.resize(en.tag_count);
  for (uint32_t i = 0; i < en.tag_count; ++i) {
    const tag_at& t = tags_[en.first_tag + i];
    tags[i] = {std::string_view(key + t.key_at, t.key_len), std::string_view(key + t.value_at, t.value_len)};
  }
  out.series_key = std::string_view(key, en.key_len);
  out.names_plain = true;
}

std::string_view series_key_cache::insert(std::string_view raw, uint32_t hash, std::string_view measurement,
                                          const model::tag_view* tags, size_t tag_count) {
  size_t key_len = measurement.size();
  for (size_t i = 0; i < tag_count; ++i) key_len += 2 + tags[i].key.size() + tags[i].value.size();
  const size_t need = raw.size() + key_len;
  if (need > max_bytes_ / 4) return {};  // a huge section would push out everything else
  if (bytes_.size() + need > max_bytes_) {
    // Full. Mostly misses since the last clear: more distinct sections than
    // fit, so keeping them costs more than it saves for a while, twice as
    // long each time in a row this happens.
    if (hits_ * 2 < lookups_) {
      bypass_ = next_bypass_;
      next_bypass_ = std::min(next_bypass_ * 2, max_bypass_lines);
    } else {
      next_bypass_ = min_bypass_lines;
    }
    clear();
  }
  if (bytes_.capacity() < max_bytes_) bytes_.reserve(max_bytes_);
  if ((entries_.size() + 1) * 2 > slots_.size()) {
    slots_.assign(slots_.empty() ? 1024 : slots_.size() * 2, 0);
    const size_t mask = slots_.size() - 1;
    for (size_t e = 0; e < entries_.size(); ++e) {
      size_t i = entries_[e].hash & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = static_cast<uint32_t>(e + 1);
    }
  }
  entry en;
  en.hash = hash;
  en.raw_len = static_cast<uint32_t>(raw.size());
  en.at = bytes_.size();
  en.key_len = static_cast<uint32_t>(key_len);
  en.measurement_len = static_cast<uint32_t>(measurement.size());
  en.first_tag = static_cast<uint32_t>(tags_.size());
  en.tag_count = static_cast<uint32_t>(tag_count);
  bytes_.append(raw);
  model::append_series_key(bytes_, measurement, tags, tag_count, true);
  uint32_t pos = en.measurement_len;
  for (size_t i = 0; i < tag_count; ++i) {
    tag_at t;
    t.key_at = pos + 1;
    t.key_len = static_cast<uint32_t>(tags[i].key.size());
    t.value_at = t.key_at + t.key_len + 1;
    t.value_len = static_cast<uint32_t>(tags[i].value.size());
    pos = t.value_at + t.value_len;
    tags_.push_back(t);
  }
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  entries_.push_back(en);
  slots_[i] = static_cast<uint32_t>(entries_.size());
  return std::string_view(bytes_.data() + en.at + en.raw_len, key_len);
}

void series_key_cache::clear() {
  bytes_.clear();
  entries_.clear();
  tags_.clear();
  std::fill(slots_.begin(), slots_.end(), 0);
  lookups_ = 0;
  hits_ = 0;
}

}  // namespace liandu::ingest
