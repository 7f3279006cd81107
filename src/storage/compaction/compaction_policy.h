#pragma once

#include <cstddef>
#include <span>

namespace liandu::storage {

// Which block files of a partition a compaction merges, given their sizes
// oldest first. The merged block replaces a suffix (the newest blocks), so
// the order in which writes win is kept.
//
// Size-tiered: from the newest block back, an older block joins while it is
// no larger than all the newer ones already taken together, with a quarter's
// slack (so blocks of about one size merge even when each is a little
// smaller than the one before it). Equal fresh
// blocks merge into one twice their size, which later merges with another
// of its size, and so on: a byte is rewritten about log2(partition /
// checkpoint) times, where merging every block each time (what compaction
// did first) rewrote the whole partition at every compaction, quadratic in
// its size. A partition keeps few blocks: tiers that roughly double from
// the newest to the oldest, plus fresh ones not merged yet (about
// max_blocks + log2(checkpoints); compaction_policy_test simulates it).
//
// Should the sizes still merge nothing (they would have to shrink by more
// than a fifth from each block to the next), a partition with more than
// max_blocks + kMaxExtraBlocks blocks is merged whole: the count is bounded.
//
// Returns the index of the first block to merge (merge [index, size)); an
// index of size - 1 or more means nothing to merge. max_blocks == 0 merges
// everything into one block.
inline constexpr size_t kMaxExtraBlocks = 32;

size_t first_block_to_merge(std::span<const size_t> block_bytes, size_t max_blocks);

}  // namespace liandu::storage
