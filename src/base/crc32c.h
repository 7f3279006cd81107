#pragma once

#include <cstddef>
#include <cstdint>

namespace liandu {

// CRC-32C (Castagnoli), as used by leveldb and ext4 for record checksums.
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise.
uint32_t crc32c(const void* data, size_t n, uint32_t seed = 0);

// The same by table lookups only: what crc32c uses without SSE4.2, and the
// reference its fast path is tested against.
uint32_t crc32c_portable(const void* data, size_t n, uint32_t seed = 0);

}  // namespace liandu
