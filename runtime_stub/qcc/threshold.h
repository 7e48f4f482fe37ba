// qcc kernel library: threshold activations (qcc::Threshold, ops/ThresholdOps.cpp).
//   y = base + step * #{i : x >= t[c][i]}
// over x viewed as [outer, channels, inner]; row c of the thresholds (int32
// [channels or 1, steps], each row sorted ascending) serves channel c.
// In NHWC buffers the channel is innermost (inner = 1). In-place use (y
// aliasing x with the same element size) is allowed.
#pragma once

#include <cstdint>

namespace qcc_rt {

struct ThresholdShape {
  int64_t outer, channels, inner;
  int32_t steps, rows; ///< rows: 1 (one row for all channels) or channels
  int32_t base, step;
};

namespace ref {

template <typename TX, typename TY>
void threshold(const ThresholdShape &s, const TX *x, const int32_t *t, TY *y) {
  int64_t i = 0;
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.channels; ++c) {
      const int32_t *row = t + (s.rows == 1 ? 0 : c) * s.steps;
      for (int64_t j = 0; j < s.inner; ++j, ++i) {
        const int32_t v = int32_t(x[i]);
        int32_t count = 0;
        for (int32_t k = 0; k < s.steps; ++k)
          count += v >= row[k] ? 1 : 0;
        y[i] = TY(s.base + s.step * count);
      }
    }
}

} // namespace ref

namespace detail {

// #{k : v >= row[k]} for a sorted row: the upper bound of v.
inline int32_t threshold_count(const int32_t *row, int32_t steps, int32_t v) {
  if (steps <= 8) {
    int32_t count = 0;
    for (int32_t k = 0; k < steps; ++k)
      count += v >= row[k] ? 1 : 0;
    return count;
  }
  int32_t lo = 0, hi = steps; // row[0..lo) <= v < row[hi..)
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (row[mid] <= v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

} // namespace detail

template <typename TX, typename TY>
void threshold(const ThresholdShape &s, const TX *x, const int32_t *t, TY *y) {
  if (s.steps == 1 && s.rows == 1) { // one step (bipolar, binary): a compare per element
    const int32_t t0 = t[0], lo = s.base, hi = s.base + s.step;
    const int64_t n = s.outer * s.channels * s.inner;
    for (int64_t i = 0; i < n; ++i)
      y[i] = TY(int32_t(x[i]) >= t0 ? hi : lo);
    return;
  }
  int64_t i = 0;
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.channels; ++c) {
      const int32_t *row = t + (s.rows == 1 ? 0 : c) * s.steps;
      for (int64_t j = 0; j < s.inner; ++j, ++i)
        y[i] = TY(s.base + s.step * detail::threshold_count(row, s.steps, int32_t(x[i])));
    }
}

} // namespace qcc_rt
