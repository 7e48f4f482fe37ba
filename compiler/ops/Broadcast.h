// Numpy-style broadcasting iteration for binary elementwise kernels.
#pragma once

#include "ir/Type.h"

#include <vector>

namespace qcc {

/// Strides (in elements) of `in` broadcast to `out`: 0 along broadcast axes.
std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out);

/// Calls f(outIndex, aIndex, bIndex) for every element of `out`. Contiguous
/// same-shape and scalar cases are the caller's fast paths; this is the general one.
template <typename F>
void forEachBroadcast(const Shape &out, const Shape &a, const Shape &b, F &&f) {
  const size_t r = out.size();
  std::vector<int64_t> sa = broadcastStrides(a, out), sb = broadcastStrides(b, out);
  std::vector<int64_t> idx(r, 0);
  int64_t n = numElements(out);
  if (n == 0)
    return;
  const int64_t inner = r ? out[r - 1] : 1;
  const int64_t ia = r ? sa[r - 1] : 0, ib = r ? sb[r - 1] : 0;
  int64_t offA = 0, offB = 0;
  for (int64_t o = 0; o < n; o += inner) {
    for (int64_t j = 0; j < inner; ++j)
      f(o + j, offA + j * ia, offB + j * ib);
    // advance the multi-index over all but the innermost axis
    for (int64_t d = int64_t(r) - 2; d >= 0; --d) {
      size_t k = size_t(d);
      ++idx[k];
      offA += sa[k];
      offB += sb[k];
      if (idx[k] < out[k])
        break;
      offA -= sa[k] * idx[k];
      offB -= sb[k] * idx[k];
      idx[k] = 0;
    }
  }
}

} // namespace qcc
