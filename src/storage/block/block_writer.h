#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "storage/column.h"

namespace liandu::storage::block {

// Values per index entry at most; a longer column is split into several
// entries (the codecs bound one column at 2^22 values).
constexpr size_t max_entry_values = 1u << 20;

// Builds a block file in memory. Entries must be added in (series id, field
// key) order, each column sorted by time without duplicates.
class block_writer {
 public:
  block_writer();
  void add(uint32_t series_id, std::string_view field, const column& col);
  // Returns the complete file bytes.
  std::string finish();
  size_t entry_count() const { return count_; }

 private:
  void add_entry(uint32_t series_id, std::string_view field, const column& col);

  std::string data_;
  std::string index_;
  uint32_t count_ = 0;
};

// Writes the bytes to path atomically (temp file, fsync, rename, dir fsync).
status write_block_file(const std::string& path, std::string_view bytes);

}  // namespace liandu::storage::block
