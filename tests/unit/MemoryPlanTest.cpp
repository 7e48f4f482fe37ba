// The arena planner: buffers whose lifetimes meet never share bytes, the arena
// is never below the largest live set, and simple chains reach that bound.
#include "backends/cpp/MemoryPlan.h"

#include <gtest/gtest.h>

#include <random>

using namespace qcc::cpp;

namespace {

void expectNoClash(const std::vector<PlannedBuffer> &bs, const ArenaStats &st) {
  for (size_t i = 0; i < bs.size(); ++i) {
    EXPECT_EQ(bs[i].offset % kArenaAlign, 0);
    EXPECT_LE(bs[i].offset + bs[i].bytes, st.arenaBytes);
    for (size_t j = i + 1; j < bs.size(); ++j) {
      const bool liveTogether = bs[i].first <= bs[j].last && bs[j].first <= bs[i].last;
      const bool overlap = bs[i].offset < bs[j].offset + bs[j].bytes && bs[j].offset < bs[i].offset + bs[i].bytes;
      EXPECT_FALSE(liveTogether && overlap && bs[i].bytes && bs[j].bytes) << "buffers " << i << " and " << j;
    }
  }
}

} // namespace

TEST(MemoryPlan, ChainReusesTwoSlots) {
  // a -> b -> c -> d, each live for two steps: two buffers at a time.
  std::vector<PlannedBuffer> bs = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  ArenaStats st = planArena(bs);
  expectNoClash(bs, st);
  EXPECT_EQ(st.sumBytes, 4 * alignUp(1000));
  EXPECT_EQ(st.maxLiveBytes, 2 * alignUp(1000));
  EXPECT_EQ(st.arenaBytes, st.maxLiveBytes);
}

TEST(MemoryPlan, ResidualKeepsTheSkipAlive) {
  // x feeds conv1 and the add at the end: x stays live across the block.
  std::vector<PlannedBuffer> bs = {{4096, 0, 3}, {4096, 1, 2}, {4096, 2, 3}, {4096, 3, 4}};
  ArenaStats st = planArena(bs);
  expectNoClash(bs, st);
  EXPECT_EQ(st.maxLiveBytes, 3 * 4096);
  EXPECT_EQ(st.arenaBytes, 3 * 4096);
}

TEST(MemoryPlan, RandomLifetimesNeverClash) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<PlannedBuffer> bs;
    for (int i = 0; i < 40; ++i) {
      int first = int(rng() % 30), len = int(rng() % 6);
      bs.push_back({int64_t(rng() % 5000), first, first + len});
    }
    ArenaStats st = planArena(bs);
    expectNoClash(bs, st);
    EXPECT_GE(st.arenaBytes, st.maxLiveBytes);
    EXPECT_LE(st.arenaBytes, st.sumBytes);
  }
}
