#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/hash.h"
#include "model/point.h"

namespace liandu::ingest {

struct point_ref;

// What the line-protocol parser made of the measurement-and-tags section of
// recent lines (the bytes before a line's first space): the canonical series
// key (measurement, then the tags sorted by key, last of equal keys kept) and
// where the measurement and each tag sit in it. A line whose section was seen
// before takes all of that from here instead of scanning the tags, sorting
// them and building the key again; devices send the same sections every
// interval, often with tags out of order (the factory workload's
// `site=…,line=…,machine=…,sensor=…`).
//
// Only sections without escapes are kept: their names are the line's bytes as
// they are, so equal bytes mean an equal parse, and a section holds no space,
// so it is the line up to its first space. The same series written with its
// tags in another order is another section and another entry, with the same
// key. Entries map bytes to a key, never to a series id, so series created or
// dropped in storage do not make them stale.
//
// Bounded: when its bytes would pass max_bytes it starts again empty. When
// most lookups of a filling missed (more distinct sections than fit, as with
// a million series), it stays out of the way for the next 65,536 lines,
// then tries again (for twice as many lines after each such filling in a
// row, up to 16M).
//
// Views it hands out (point_ref fields) stay valid until the next insert().
// Not thread-safe: one per parser at a time (write_line_protocol keeps one
// per thread).
class series_key_cache {
 public:
  explicit series_key_cache(size_t max_bytes = size_t{4} << 20) : max_bytes_(max_bytes) {}
  series_key_cache(const series_key_cache&) = delete;
  series_key_cache& operator=(const series_key_cache&) = delete;

  size_t entry_count() const { return count_; }
  uint64_t hits() const { return total_hits_; }

 private:
  friend class line_protocol_parser;

  // An entry is one 8-aligned run of bytes_: this header, tag_count tag_at,
  // the section's bytes, then the key. One run of adjacent lines to load per
  // hit, where separate arrays were a miss each.
  struct entry {
    uint32_t hash;
    uint32_t raw_len;
    uint32_t key_len;
    uint32_t measurement_len;
    uint32_t tag_count;     // after repeated keys were dropped
    uint32_t written_tags;  // as written, which the parser's tag limit counts
    uint32_t key_hash;      // hash_of(key): the engine's index hashes keys the same way
  };
  struct tag_at {
    uint32_t key_at, key_len, value_at, value_len;  // offsets in the key
  };

  static uint32_t hash_of(std::string_view raw) { return static_cast<uint32_t>(hash_bytes(raw)); }
  // False while the cache stays out of the way (then the line is parsed in full).
  bool take_line();
  // Prefetch steps for a section the parser will look up soon: its slot,
  // then (once the slot is in cache) its entry. The parser runs them one
  // and two lines ahead. Always inlined: GCC deletes calls it did not
  // inline to a function whose only effect is a prefetch.
  [[gnu::always_inline]] void prefetch_slot(uint32_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }
  [[gnu::always_inline]] void prefetch_entry(uint32_t hash) const {
    if (slots_.empty()) return;
    uint64_t s = slots_[hash & (slots_.size() - 1)];
    if (s == 0 || static_cast<uint32_t>(s >> 32) != hash) return;
    const char* at = bytes_.data() + (static_cast<uint32_t>(s) - 1) * size_t{8};
    for (int line = 0; line < 4; ++line) __builtin_prefetch(at + 64 * line);
  }
  // The entry of the section (its header copied to en), or null.
  const char* find(std::string_view raw, uint32_t hash, entry& en);
  // Fills the measurement, tags (into tags; with_tags false: none, and
  // out.tags_omitted when the section has some), series key, its hash and
  // names_plain of out.
  void fill(const char* at, const entry& en, point_ref& out, std::vector<model::tag_view>& tags,
            bool with_tags = true) const;
  // Keeps the section's parse (tags sorted, unique, plain) and returns its key.
  // raw_is_key: the section's bytes are its canonical key (hash is then the
  // key's hash). Sets key_hash to the key's hash.
  std::string_view insert(std::string_view raw, uint32_t hash, bool raw_is_key, std::string_view measurement,
                          const model::tag_view* tags, size_t tag_count, uint32_t& key_hash);
  void clear();

  static constexpr uint32_t min_bypass_lines = 65536;
  static constexpr uint32_t max_bypass_lines = 16u << 20;

  size_t max_bytes_;
  std::string bytes_;  // reserved to max_bytes_ on first use: views never move
  // Open addressing: the hash in the high 32 bits, (offset of the entry / 8)
  // + 1 in the low ones; 0 when empty.
  std::vector<uint64_t> slots_;
  size_t count_ = 0;
  uint64_t lookups_ = 0;  // since the last clear
  uint64_t hits_ = 0;
  uint64_t total_hits_ = 0;
  uint32_t bypass_ = 0;  // lines left to parse without the cache
  uint32_t next_bypass_ = min_bypass_lines;
};

}  // namespace liandu::ingest
