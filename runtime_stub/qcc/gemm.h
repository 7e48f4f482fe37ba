// qcc kernel library: fully connected / QGemm.
#pragma once

#include "ref_conv.h"

namespace qcc_rt {

inline size_t gemm_packed_weight_bytes(const GemmShape &s) { return ref::gemm_packed_weight_bytes(s); }
inline void gemm_pack_weights(const GemmShape &s, const int8_t *w_nk, int8_t *packed) {
  ref::gemm_pack_weights(s, w_nk, packed);
}
inline size_t gemm_scratch_bytes(const GemmShape &s) { return ref::gemm_scratch_bytes(s); }

template <typename TX, typename TY>
void gemm(const GemmShape &s, const TX *x, const int8_t *w_packed, const int32_t *bias, const Requant &rq, TY *y,
          void *scratch) {
  ref::gemm(s, x, w_packed, bias, rq, y, scratch);
}

} // namespace qcc_rt
