#include "storage/compaction/compaction_policy.h"

namespace liandu::storage {

size_t first_block_to_merge(std::span<const size_t> block_bytes, size_t max_blocks) {
  size_t n = block_bytes.size();
  if (n < 2) return n;
  if (max_blocks == 0) return 0;
  size_t first = n - 1;
  size_t taken = block_bytes[first];
  while (first > 0 && block_bytes[first - 1] <= taken) {
    --first;
    taken += block_bytes[first];
  }
  return first;
}

}  // namespace liandu::storage
