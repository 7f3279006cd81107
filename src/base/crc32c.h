#pragma once

#include <cstddef>
#include <cstdint>

namespace liandu {

// CRC-32C (Castagnoli), as used by leveldb and ext4 for record checksums.
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise.
uint32_t crc32c(const void* data, size_t n, uint32_t seed = 0);

}  // namespace liandu
