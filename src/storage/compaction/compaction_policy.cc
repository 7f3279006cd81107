#include "storage/compaction/compaction_policy.h"

namespace liandu::storage {

size_t first_block_to_merge(std::span<const size_t> block_bytes, size_t max_blocks) {
  size_t n = block_bytes.size();
  if (n < 2) return n;
  if (max_blocks == 0) return 0;
  size_t first = n - 1;
  size_t taken = block_bytes[first];
  // An older block up to a quarter larger than the suffix joins it. Without
  // the slack, checkpoint blocks that each came out a little smaller than
  // the one before (seen on a steady stream: 649, 636, 630 … 619 KB) never
  // merged at all, and a partition collected one block per checkpoint.
  while (first > 0 && block_bytes[first - 1] <= taken + taken / 4) {
    --first;
    taken += block_bytes[first];
  }
  // Sizes that shrink geometrically would still never merge; a partition
  // that far past its tiers is merged whole, so its block count is bounded.
  if (first + 1 >= n && n > max_blocks + kMaxExtraBlocks) return 0;
  return first;
}

}  // namespace liandu::storage
