#pragma once

#include <cstddef>
#include <cstdint>

namespace liandu::storage::block {

// A block file holds immutable compressed columns of one partition:
//
//   header   : magic "LDBK" (4 bytes) | version fixed32 (= 2; 1 is read too)
//   columns  : for each entry, encoded times then encoded values
//   index    : v2: kind u8, then entry* (kind 0) or varint size + one zstd
//              frame of entry* (kind 1); v1: entry*
//              entries sorted by series id, then field key
//   footer   : index_offset fixed64 | index_length fixed32 | index_crc32c fixed32
//              | count fixed32 | magic "LDBKEND\0" (8 bytes)          = 28 bytes
//
//   entry    : series_id varint | field string | type u8 | count varint
//              | min_time zigzag-varint | max_time zigzag-varint
//              | offset varint | times_length varint | values_length varint
//              | crc32c fixed32 (over times and values bytes)
//              | stats: float64: min fixed64, max fixed64 (bit patterns)
//                       int64: zigzag-varint min, max; uint64: varint min, max
//                       boolean, string: none
//
// Byte-level spec: docs/formats/block.md.
constexpr char header_magic[4] = {'L', 'D', 'B', 'K'};
constexpr uint32_t format_version = 2;
// Version 1: the index is entry* without a kind byte, never compressed.
constexpr uint32_t format_version_plain_index = 1;
enum class index_kind : uint8_t { plain = 0, zstd = 1 };
constexpr size_t header_bytes = 8;
constexpr char footer_magic[8] = {'L', 'D', 'B', 'K', 'E', 'N', 'D', '\0'};
constexpr size_t footer_bytes = 28;

}  // namespace liandu::storage::block
