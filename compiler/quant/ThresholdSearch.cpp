#include "quant/ThresholdSearch.h"

#include "ir/Quant.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

namespace qcc {

Tensor thresholdTable(int64_t rows, int64_t steps, int64_t lo, int64_t hi,
                      llvm::function_ref<int64_t(int64_t q, int64_t row)> count) {
  lo = std::max<int64_t>(lo, std::numeric_limits<int32_t>::min());
  hi = std::min<int64_t>(hi, std::numeric_limits<int32_t>::max() - 1);
  Tensor t(ElemType::i32(), Shape{rows, steps});
  int32_t *p = t.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 1; k <= steps; ++k) {
      int64_t a = lo, b = hi + 1; // the answer lies in [a, b]
      while (a < b) {
        const int64_t mid = a + (b - a) / 2;
        if (count(mid, r) >= k)
          b = mid;
        else
          a = mid + 1;
      }
      p[r * steps + k - 1] = int32_t(a);
    }
  bool same = true;
  for (int64_t r = 1; r < rows && same; ++r)
    same = std::equal(p, p + steps, p + r * steps);
  if (!same || rows <= 1)
    return t;
  Tensor one(ElemType::i32(), Shape{1, steps});
  std::copy(p, p + steps, one.data<int32_t>());
  return one;
}

AccumulatorForm accumulatorForm(const Tensor &wq, int64_t rows, ElemType x, int64_t zx) {
  QuantInfo xr;
  xr.bits = x.bits();
  xr.isSigned = x.isSigned();
  const int64_t xmax = std::max(std::abs(xr.qmin() - zx), std::abs(xr.qmax() - zx));
  const int64_t per = wq.size() / std::max<int64_t>(rows, 1);
  AccumulatorForm f;
  f.bias = Tensor(ElemType::i32(), Shape{rows});
  for (int64_t c = 0; c < rows; ++c) {
    int64_t sum = 0, abssum = 0;
    for (int64_t i = c * per; i < (c + 1) * per; ++i) {
      const int64_t w = wq.getInt(i);
      sum += w;
      abssum += std::abs(w);
    }
    f.bias.data<int32_t>()[c] = int32_t(-zx * sum);
    f.bound = std::max(f.bound, abssum * xmax);
  }
  return f;
}

} // namespace qcc
