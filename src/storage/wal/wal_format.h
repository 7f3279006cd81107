#pragma once

#include <cstddef>
#include <cstdint>

namespace liandu::storage::wal {

// A WAL segment is a sequence of records, each:
//
//   +----------+----------+------+-------------------+
//   | crc32c   | length   | type | payload           |
//   | fixed32  | fixed32  | u8   | `length` bytes    |
//   +----------+----------+------+-------------------+
//
// crc32c covers type and payload. Byte-level spec: docs/formats/wal.md.
constexpr size_t record_header_bytes = 9;
constexpr uint32_t max_record_bytes = 1u << 30;

enum class record_type : uint8_t {
  write = 1,    // payload: a write_batch
  delete_ = 2,  // payload: a delete_record (DROP SERIES / DELETE)
  ddl = 3,      // payload: reserved for schema changes replayed in order with data
};

}  // namespace liandu::storage::wal
