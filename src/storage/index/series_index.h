#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/hash.h"
#include "base/result.h"
#include "model/point.h"
#include "storage/fs/file_util.h"
#include "storage/index/key_arena.h"
#include "storage/index/key_table.h"

struct roaring_bitmap_s;

namespace liandu::storage::index {

// A roaring bitmap of series ids (CRoaring), owned.
class posting_list {
 public:
  posting_list();
  ~posting_list();
  posting_list(posting_list&& o) noexcept : bm_(o.bm_) { o.bm_ = nullptr; }
  posting_list& operator=(posting_list&& o) noexcept;
  posting_list(const posting_list&) = delete;
  posting_list& operator=(const posting_list&) = delete;

  void add(uint32_t id);
  void remove(uint32_t id);
  bool contains(uint32_t id) const;
  uint64_t cardinality() const;
  std::vector<uint32_t> to_vector() const;
  size_t bytes() const;

 private:
  roaring_bitmap_s* bm_;
};

// The series index of one database: series key <-> id, and the inverted index
// measurement -> tag key -> tag value -> posting list of series ids.
//
// Persistence: series.log in the database folder, an append-only log of
// "series added"/"series dropped" records (crc-checked, like WAL records).
// The engine calls persist() at each checkpoint, before WAL segments that
// created those series are deleted; a restart reads the log instead of
// rescanning data. Ids are never reused.
//
// Thread safety: none; the engine serialises access.
class series_index {
 public:
  status open(const std::string& dir);

  // Returns the id of the series, or 0 when it does not exist.
  uint32_t find(std::string_view series_key) const;
  // Batched lookups: hash a key some points ahead and prefetch() its slot,
  // closer prefetch_entry() (the key's place in keys_), closer still
  // prefetch_key() (its bytes), then find() it with the hash. Each is one
  // dependent cache miss; issued for different points they overlap instead
  // of stalling the writer three times per point.
  // The prefetch helpers are always inlined: GCC takes a function whose only
  // effect is __builtin_prefetch for one without effects and deletes calls
  // to it that it did not inline (prefetch_entry and prefetch_key vanished
  // from apply_batch_locked that way).
  static uint32_t key_hash(std::string_view series_key) { return key_table::hash_of(series_key); }
  [[gnu::always_inline]] void prefetch(uint32_t key_hash) const { ids_.prefetch(key_hash); }
  [[gnu::always_inline]] void prefetch_entry(uint32_t key_hash) const {
    if (uint32_t id = ids_.probable_id(key_hash); id != 0) {
      __builtin_prefetch(&keys_[id - 1]);
      __builtin_prefetch(&measurement_of_[id - 1]);
    }
  }
  [[gnu::always_inline]] void prefetch_key(uint32_t key_hash) const {
    if (uint32_t id = ids_.probable_id(key_hash); id != 0) __builtin_prefetch(keys_[id - 1].data());
  }
  uint32_t find(std::string_view series_key, uint32_t key_hash) const;
  // Returns the id of the series, creating it (measurement and tags parsed
  // from the canonical key) when new.
  uint32_t find_or_create(std::string_view series_key);
  void drop(uint32_t id);

  size_t series_count() const { return live_; }
  // Changes whenever a series is added or dropped, and differs between any
  // two index states in the process (drawn from one process-wide counter):
  // lets readers cache what they derive from the index.
  uint64_t generation() const { return generation_; }
  std::string_view key_of(uint32_t id) const { return keys_[id - 1]; }
  bool alive(uint32_t id) const { return id >= 1 && id <= keys_.size() && alive_[id - 1]; }
  const std::string& measurement_name_of(uint32_t id) const;

  std::vector<std::string> measurements() const;
  std::vector<uint32_t> series_of(std::string_view measurement) const;
  std::vector<std::string> tag_keys(std::string_view measurement) const;
  std::vector<std::pair<std::string, std::vector<uint32_t>>> tag_values(std::string_view measurement,
                                                                        std::string_view key) const;
  // The series of a measurement whose tag `key` is `value` (one posting
  // list; tag_values would copy every value's).
  std::vector<uint32_t> series_with_tag(std::string_view measurement, std::string_view key,
                                        std::string_view value) const;

  // Log records for series created or dropped since the last call. The
  // engine takes them under its lock at a checkpoint and writes them with
  // write_log() once the checkpoint's blocks are on disk.
  std::string take_pending_log();
  status write_log(std::string_view records);  // appends and fsyncs
  size_t memory_bytes() const;

 private:
  // Hashed by the bytes of a string or string_view alike, so lookups by a
  // view of a key need no string.
  struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return static_cast<size_t>(hash_bytes(s)); }
  };
  // A tag key's values are hashed, not ordered: a tag such as a machine id
  // has tens of thousands of values, and an ordered map compared ~16 of them
  // per new series. tag_values() sorts what it returns.
  using value_postings = std::unordered_map<std::string, posting_list, string_hash, std::equal_to<>>;
  struct measurement_postings {
    posting_list all;
    std::map<std::string, value_postings, std::less<>> tags;
  };
  // known_absent: the caller has just looked the key up and not found it.
  uint32_t add(std::string_view key, uint32_t id, bool known_absent = false);
  void remove_from_postings(uint32_t id);

  key_arena key_bytes_;
  std::vector<std::string_view> keys_;  // id - 1 -> key, in key_bytes_
  std::vector<bool> alive_;
  std::vector<uint16_t> measurement_of_;  // id - 1 -> index into measurement_names_
  std::vector<std::string> measurement_names_;
  key_table ids_;  // key -> id of the live series
  std::map<std::string, measurement_postings, std::less<>> postings_;
  size_t live_ = 0;
  uint64_t generation_ = next_generation();
  static uint64_t next_generation();

  fs::append_file log_;
  std::string pending_log_;
  // add()'s parse of a key, kept to reuse their allocations.
  std::vector<model::tag_view> tag_views_;
  std::string unescaped_measurement_;
  std::vector<model::tag> unescaped_tags_;
  std::string dir_;
};

}  // namespace liandu::storage::index
