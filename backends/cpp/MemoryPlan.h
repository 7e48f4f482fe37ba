// Arena planning for a generated library: every activation buffer gets an
// offset in one arena, reused once the buffer is dead.
//
// A buffer is live over [first, last] (step indices, inclusive). Two buffers
// may overlap in memory only if their live ranges are disjoint. Placement is
// greedy by size, largest first, each at the lowest 64-byte aligned offset
// that clashes with no already-placed live-overlapping buffer (the strategy
// TFLite's arena planner popularised); ties keep definition order, so the plan
// is deterministic.
#pragma once

#include <cstdint>
#include <vector>

namespace qcc::cpp {

constexpr int64_t kArenaAlign = 64;

struct PlannedBuffer {
  int64_t bytes = 0;
  int first = 0, last = 0; ///< live range in steps, inclusive
  int64_t offset = -1;     ///< set by planArena
};

struct ArenaStats {
  int64_t arenaBytes = 0;  ///< the plan's arena size
  int64_t sumBytes = 0;    ///< all buffers side by side (no reuse)
  int64_t maxLiveBytes = 0; ///< largest set live at one step: no plan can beat it
};

/// Assigns offsets to every buffer; returns the sizes for the report.
ArenaStats planArena(std::vector<PlannedBuffer> &buffers);

inline int64_t alignUp(int64_t v, int64_t a = kArenaAlign) { return (v + a - 1) / a * a; }

} // namespace qcc::cpp
