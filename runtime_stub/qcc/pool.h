// qcc kernel library: pooling, NHWC.
#pragma once

#include "ref_pool.h"

namespace qcc_rt {

template <typename T> void maxpool_nhwc(const PoolShape &s, const T *x, T *y) { ref::maxpool_nhwc(s, x, y); }

template <typename TX, typename TY>
void global_avgpool_nhwc(int32_t n, int32_t hw, int32_t c, const TX *x, int32_t x_zero_point, const Requant &rq,
                         TY *y) {
  ref::global_avgpool_nhwc(n, hw, c, x, x_zero_point, rq, y);
}

} // namespace qcc_rt
