#include "backends/cpp/MemoryPlan.h"

#include <algorithm>
#include <numeric>

namespace qcc::cpp {

ArenaStats planArena(std::vector<PlannedBuffer> &buffers) {
  ArenaStats st;
  int lastStep = 0;
  for (const PlannedBuffer &b : buffers) {
    st.sumBytes += alignUp(b.bytes);
    lastStep = std::max(lastStep, b.last);
  }
  std::vector<int64_t> live(size_t(lastStep) + 1, 0);
  for (const PlannedBuffer &b : buffers)
    for (int s = b.first; s <= b.last; ++s)
      live[size_t(s)] += alignUp(b.bytes);
  for (int64_t v : live)
    st.maxLiveBytes = std::max(st.maxLiveBytes, v);

  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    PlannedBuffer &b = buffers[i];
    // Intervals taken by placed buffers whose lifetime meets b's, by offset.
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (size_t j : placed) {
      const PlannedBuffer &p = buffers[j];
      if (p.first <= b.last && b.first <= p.last)
        taken.push_back({p.offset, p.offset + alignUp(p.bytes)});
    }
    std::sort(taken.begin(), taken.end());
    int64_t at = 0;
    for (auto [lo, hi] : taken) {
      if (at + alignUp(b.bytes) <= lo)
        break;
      at = std::max(at, hi);
    }
    b.offset = at;
    st.arenaBytes = std::max(st.arenaBytes, at + alignUp(b.bytes));
    placed.push_back(i);
  }
  return st;
}

} // namespace qcc::cpp
