#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace liandu::storage::index {

// Append-only storage for series keys: each key's bytes are copied into a
// 64 KiB chunk and never move, so the index can hold plain string_views.
// A std::string per key cost 32 bytes plus, for the usual key of more than
// 15 characters, a heap block of its own (rounded up, with malloc's header):
// at a million series that was a fifth of the index. Keys are never freed
// one by one: ids are never reused, and a dropped series keeps its key.
//
// Thread safety: none (the engine's lock).
class key_arena {
 public:
  std::string_view add(std::string_view key) {
    if (key.empty()) return {};
    if (key.size() > chunk_bytes - used_) {
      size_t size = std::max(chunk_bytes, key.size());
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
      reserved_ += size;
      // A new chunk; an oversized key gets one of its own, exactly its size,
      // marked full. Either way the rest of the previous chunk stays unused
      // (at most one key's worth, under 64 KiB).
      used_ = size == chunk_bytes ? 0 : chunk_bytes;
      if (size != chunk_bytes) {
        std::memcpy(chunks_.back().get(), key.data(), key.size());
        return {chunks_.back().get(), key.size()};
      }
    }
    char* p = chunks_.back().get() + used_;
    std::memcpy(p, key.data(), key.size());
    used_ += key.size();
    return {p, key.size()};
  }

  size_t memory_bytes() const { return reserved_ + chunks_.capacity() * sizeof(chunks_[0]); }

 private:
  static constexpr size_t chunk_bytes = 64 << 10;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t used_ = chunk_bytes;  // of chunks_.back(); full when there is none
  size_t reserved_ = 0;
};

}  // namespace liandu::storage::index
