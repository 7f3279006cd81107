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

const char* series_key_cache::find(std::string_view raw, uint32_t hash, entry& en) {
  ++lookups_;
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint64_t s = slots_[i];
    if (s == 0) return nullptr;
    if (static_cast<uint32_t>(s >> 32) != hash) continue;
    const char* at = bytes_.data() + (static_cast<uint32_t>(s) - 1) * size_t{8};
    std::memcpy(&en, at, sizeof(entry));
    const char* raw_at = at + sizeof(entry) + en.tag_count * sizeof(tag_at);
    if (en.raw_len == raw.size() && std::memcmp(raw_at, raw.data(), raw.size()) == 0) {
      ++hits_;
      ++total_hits_;
      return at;
    }
  }
}

void series_key_cache::fill(const char* at, const entry& en, point_ref& out,
                            std::vector<model::tag_view>& tags, bool with_tags) const {
  const char* tag_bytes = at + sizeof(entry);
  const char* key = tag_bytes + en.tag_count * sizeof(tag_at) + en.raw_len;
  out.measurement = std::string_view(key, en.measurement_len);
  out.series_key = std::string_view(key, en.key_len);
  out.series_key_hash = en.key_hash;
  out.series_key_hash_known = true;
  out.names_plain = true;
  if (!with_tags) {
    out.tags_omitted = en.tag_count > 0;
    return;
  }
  tags.resize(en.tag_count);
  for (uint32_t i = 0; i < en.tag_count; ++i) {
    tag_at t;
    std::memcpy(&t, tag_bytes + i * sizeof(tag_at), sizeof(tag_at));
    tags[i] = {std::string_view(key + t.key_at, t.key_len), std::string_view(key + t.value_at, t.value_len)};
  }
}

std::string_view series_key_cache::insert(std::string_view raw, uint32_t hash, bool raw_is_key,
                                          std::string_view measurement, const model::tag_view* tags,
                                          size_t tag_count, uint32_t& key_hash) {
  size_t key_len = measurement.size();
  for (size_t i = 0; i < tag_count; ++i) key_len += 2 + tags[i].key.size() + tags[i].value.size();
  const size_t head = sizeof(entry) + tag_count * sizeof(tag_at) + raw.size();
  const size_t need = (head + key_len + 7) & ~size_t{7};
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
  if ((count_ + 1) * 2 > slots_.size()) {
    std::vector<uint64_t> old(slots_.empty() ? 1024 : slots_.size() * 2, 0);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (uint64_t s : old) {
      if (s == 0) continue;
      size_t i = (s >> 32) & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  const size_t at = bytes_.size();
  entry en{};
  en.hash = hash;
  en.raw_len = static_cast<uint32_t>(raw.size());
  en.key_len = static_cast<uint32_t>(key_len);
  en.measurement_len = static_cast<uint32_t>(measurement.size());
  en.tag_count = static_cast<uint32_t>(tag_count);
  // Without escapes every comma of the section starts a tag.
  en.written_tags = static_cast<uint32_t>(std::count(raw.begin(), raw.end(), ','));
  bytes_.append(reinterpret_cast<const char*>(&en), sizeof(en));
  uint32_t pos = en.measurement_len;
  for (size_t i = 0; i < tag_count; ++i) {
    tag_at t;
    t.key_at = pos + 1;
    t.key_len = static_cast<uint32_t>(tags[i].key.size());
    t.value_at = t.key_at + t.key_len + 1;
    t.value_len = static_cast<uint32_t>(tags[i].value.size());
    pos = t.value_at + t.value_len;
    bytes_.append(reinterpret_cast<const char*>(&t), sizeof(t));
  }
  bytes_.append(raw);
  model::append_series_key(bytes_, measurement, tags, tag_count, true);
  bytes_.resize(at + need);  // the padding keeps the next entry 8-aligned
  // The header was written before the key existed; its hash goes in now.
  key_hash = raw_is_key ? hash : hash_of(std::string_view(bytes_.data() + at + head, key_len));
  std::memcpy(bytes_.data() + at + offsetof(entry, key_hash), &key_hash, sizeof(key_hash));
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = (uint64_t{hash} << 32) | (at / 8 + 1);
  ++count_;
  return std::string_view(bytes_.data() + at + head, key_len);
}

void series_key_cache::clear() {
  bytes_.clear();
  count_ = 0;
  std::fill(slots_.begin(), slots_.end(), 0);
  lookups_ = 0;
  hits_ = 0;
}

}  // namespace liandu::ingest
