#include "storage/compaction/compaction_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

namespace liandu::storage {
namespace {

size_t first(std::vector<size_t> sizes, size_t max_blocks = 8) {
  return first_block_to_merge(sizes, max_blocks);
}

TEST(compaction_policy, picks_a_suffix_of_comparable_blocks) {
  EXPECT_EQ(first({}), 0u);
  EXPECT_EQ(first({5}), 1u);                             // one block: nothing to merge
  EXPECT_EQ(first({1, 1, 1, 1, 1, 1, 1, 1, 1}), 0u);     // equal fresh blocks: all
  EXPECT_EQ(first({100, 1, 1, 1, 1, 1, 1, 1, 1}), 1u);   // the big old block stays
  EXPECT_EQ(first({8, 1, 1, 1, 1, 1, 1, 1, 1}), 0u);     // ... until the new ones add up to it
  EXPECT_EQ(first({100, 40, 1, 1, 1, 1, 1, 1, 1}), 2u);  // tiers: only the smallest merge
  EXPECT_EQ(first({1, 1, 1, 1, 1, 1, 1, 1, 50}), 0u);    // a big newest block takes the older in
  EXPECT_EQ(first({100, 50, 2}), 2u);                    // nothing comparable: nothing merged
  EXPECT_EQ(first({100, 50, 2}, 0), 0u);                 // max_blocks 0: everything
  EXPECT_EQ(first({5, 4}), 0u);                          // a quarter's slack
  EXPECT_EQ(first({6, 4}), 1u);                          // ... and no more
}

// Checkpoint blocks of one steady stream (trucks workload, 2,000 series),
// each a little smaller than the one before: they merge. (Before the slack,
// nothing did, and the partition kept one block per checkpoint.)
TEST(compaction_policy, merges_blocks_that_shrink_a_little) {
  EXPECT_EQ(first({648980, 635872, 629616, 622827, 619998, 623488, 622265, 623024, 621908}), 0u);
  EXPECT_EQ(first({20000, 990, 980, 970, 960, 950, 940, 930, 920}), 1u);
}

// Sizes that shrink so fast that no tier forms still leave a bounded number
// of blocks: past max_blocks + kMaxExtraBlocks the partition is merged whole.
TEST(compaction_policy, block_count_is_bounded_when_sizes_shrink_fast) {
  std::vector<size_t> sizes;
  size_t most = 0;
  for (int c = 0; c < 500; ++c) {
    sizes.push_back(size_t{1} << (40 - c % 40));  // halves each time, then starts over
    if (sizes.size() > 8) {
      size_t from = first_block_to_merge(sizes, 8);
      if (from + 1 < sizes.size()) {
        size_t merged =
            std::accumulate(sizes.begin() + static_cast<std::ptrdiff_t>(from), sizes.end(), size_t{0});
        sizes.resize(from);
        sizes.push_back(merged);
      }
    }
    most = std::max(most, sizes.size());
  }
  EXPECT_LE(most, 8 + kMaxExtraBlocks + 1);
}

TEST(compaction_policy, stops_at_the_first_block_larger_than_the_suffix) {
  std::mt19937 rng(3);
  for (int round = 0; round < 500; ++round) {
    // At most 8 + kMaxExtraBlocks blocks: below the bound that merges all.
    std::vector<size_t> sizes(std::uniform_int_distribution<size_t>(2, 30)(rng));
    for (auto& s : sizes) s = size_t{1} << std::uniform_int_distribution<int>(0, 20)(rng);
    size_t from = first_block_to_merge(sizes, 8);
    ASSERT_LT(from, sizes.size());
    size_t newer = sizes.back();
    for (size_t i = sizes.size() - 1; i-- > from;) {
      EXPECT_LE(sizes[i], newer + newer / 4) << "merged block " << i << " of round " << round;
      newer += sizes[i];
    }
    if (from > 0) {
      EXPECT_GT(sizes[from - 1], newer + newer / 4) << "round " << round;
    }
  }
}

// Simulates a partition that receives one fresh block per checkpoint and is
// compacted (when it has more than max_blocks) as the engine does: bytes
// rewritten stay within a log factor of the bytes written, and the block
// count stays small. Merging everything each time would rewrite ~n/16 times.
TEST(compaction_policy, write_amplification_is_logarithmic) {
  std::mt19937 rng(7);
  // Fresh blocks of random size, steadily shrinking and steadily growing.
  for (int pattern : {0, 1, 2})
    for (size_t max_blocks : {size_t{3}, size_t{8}}) {
      std::vector<size_t> blocks;
      size_t written = 0, rewritten = 0, most_blocks = 0;
      size_t merge_all_total = 0, merge_all_rewritten = 0, merge_all_count = 0;  // the first policy
      const int checkpoints = 4000;
      for (int c = 0; c < checkpoints; ++c) {
        size_t fresh = pattern == 0   ? std::uniform_int_distribution<size_t>(500, 1500)(rng)
                       : pattern == 1 ? size_t(650000 - 5 * c)
                                      : size_t(600000 + 5 * c);
        blocks.push_back(fresh);
        written += fresh;
        merge_all_total += fresh;
        if (++merge_all_count > max_blocks) {
          merge_all_rewritten += merge_all_total;
          merge_all_count = 1;
        }
        if (blocks.size() > max_blocks) {
          size_t from = first_block_to_merge(blocks, max_blocks);
          if (from + 1 < blocks.size()) {
            size_t merged =
                std::accumulate(blocks.begin() + static_cast<std::ptrdiff_t>(from), blocks.end(), size_t{0});
            rewritten += merged;
            blocks.resize(from);
            blocks.push_back(merged);
          }
        }
        most_blocks = std::max(most_blocks, blocks.size());
      }
      double amplification = double(rewritten) / double(written);
      double merge_all = double(merge_all_rewritten) / double(written);
      std::printf(
          "pattern %d, max_blocks %zu: %d checkpoints, rewritten %.2f x written (merging all: %.1f x), at "
          "most "
          "%zu blocks\n",
          pattern, max_blocks, checkpoints, amplification, merge_all, most_blocks);
      EXPECT_LE(amplification, std::log2(double(checkpoints)) + 2)
          << "pattern " << pattern << ", max_blocks " << max_blocks;
      EXPECT_LT(amplification * 20, merge_all);
      EXPECT_LE(most_blocks, max_blocks + 2 * static_cast<size_t>(std::log2(double(checkpoints))));
      EXPECT_EQ(std::accumulate(blocks.begin(), blocks.end(), size_t{0}), written);
    }
}

}  // namespace
}  // namespace liandu::storage
