#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/hash.h"

namespace liandu::storage::index {

// Series key → id: open addressing with linear probing over 8-byte slots
// holding the id and 32 bits of the key's hash. The keys stay where the
// index keeps them (key_of(id) passed in), so a series costs 8–16 bytes here
// instead of an unordered_map node (48) and a bucket pointer, and a lookup
// reads one slot line and, on a hash match, the key. Every write and WAL
// replay looks a key up per point.
//
// Erase shifts the following entries back (no tombstones), so lookups
// never slow down after drops. Thread safety: none (the engine's lock).
class key_table {
 public:
  // KeyOf: std::string_view(uint32_t id).
  template <typename KeyOf>
  uint32_t find(std::string_view key, const KeyOf& key_of) const {
    return find(key, hash_of(key), key_of);
  }
  // The same with the key's hash_of() computed beforehand.
  template <typename KeyOf>
  uint32_t find(std::string_view key, uint32_t h, const KeyOf& key_of) const {
    if (slots_.empty()) return 0;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.id == 0) return 0;
      if (s.hash == h && key_of(s.id) == key) return s.id;
    }
  }

  static uint32_t hash_of(std::string_view key) { return static_cast<uint32_t>(hash_bytes(key)); }
  // Starts loading the slot a key with hash h lands on. A batch looks up
  // thousands of keys in tables far larger than the L1 cache; asking for the
  // slot a few keys ahead overlaps those misses instead of taking them one
  // after another.
  [[gnu::always_inline]] void prefetch(uint32_t h) const {  // see series_index::prefetch
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  // The id in the slot a key with hash h lands on when its hash matches (the
  // key is not compared), else 0: lets a caller prefetch the key bytes too.
  [[gnu::always_inline]] uint32_t probable_id(uint32_t h) const {
    if (slots_.empty()) return 0;
    const slot& s = slots_[h & mask_];
    return s.hash == h ? s.id : 0;
  }

  // The key must not be in the table.
  void insert(std::string_view key, uint32_t id) {
    if ((size_ + 1) * 8 > slots_.size() * 7) grow();
    place({hash32(key), id});
    ++size_;
  }

  template <typename KeyOf>
  void erase(std::string_view key, const KeyOf& key_of) {
    if (slots_.empty()) return;
    uint32_t h = hash32(key);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].id == 0) return;
      if (slots_[i].hash == h && key_of(slots_[i].id) == key) break;
    }
    // Backward shift: move each following entry into the hole unless the hole
    // lies before its home slot (then it stays reachable where it is).
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j].id != 0; j = (j + 1) & mask_) {
      size_t home = slots_[j].hash & mask_;
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = {};
    --size_;
  }

  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(slot); }

 private:
  struct slot {
    uint32_t hash = 0;
    uint32_t id = 0;  // 0: empty (series ids start at 1)
  };

  static uint32_t hash32(std::string_view key) { return hash_of(key); }

  void place(slot s) {
    size_t i = s.hash & mask_;
    while (slots_[i].id != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }

  void grow() {
    std::vector<slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, slot{});
    mask_ = slots_.size() - 1;
    for (const slot& s : old) {
      if (s.id != 0) place(s);
    }
  }

  std::vector<slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace liandu::storage::index
