// qcc kernel library: convolution, NHWC (qcc::QConv).
#pragma once

#include "ref_conv.h"

namespace qcc_rt {

inline size_t conv_packed_weight_bytes(const ConvShape &s) { return ref::conv_packed_weight_bytes(s); }
inline void conv_pack_weights(const ConvShape &s, const int8_t *w_oihw, int8_t *packed) {
  ref::conv_pack_weights(s, w_oihw, packed);
}
inline size_t conv_scratch_bytes(const ConvShape &s) { return ref::conv_scratch_bytes(s); }

template <typename TX, typename TY>
void conv_nhwc(const ConvShape &s, const TX *x, const int8_t *w_packed, const int32_t *bias, const Requant &rq, TY *y,
               void *scratch) {
  ref::conv_nhwc(s, x, w_packed, bias, rq, y, scratch);
}

} // namespace qcc_rt
