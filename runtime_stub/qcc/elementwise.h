// qcc kernel library: elementwise ops. In-place use (y aliasing an input of
// the same element size and layout) is allowed.
#pragma once

#include "ref_elementwise.h"

namespace qcc_rt {

template <typename TA, typename TB, typename TY>
void add(const Broadcast &s, const TA *a, const TB *b, const AddParams &p, TY *y) { ref::add(s, a, b, p, y); }
template <typename TA, typename TB, typename TY>
void mul(const Broadcast &s, const TA *a, const TB *b, const MulParams &p, TY *y) { ref::mul(s, a, b, p, y); }
template <typename TA, typename TB, typename TY>
void add_fma(const Broadcast &s, const TA *a, const TB *b, const AddFmaParams &p, TY *y) { ref::add_fma(s, a, b, p, y); }
template <typename TX, typename TY>
void requantize_tensor(int64_t count, const TX *x, int32_t x_zero_point, const Requant &rq, TY *y) {
  ref::requantize_tensor(count, x, x_zero_point, rq, y);
}
template <typename TX, typename TY> void lut(int64_t count, const TX *x, const int32_t *table, int32_t qmin, TY *y) {
  ref::lut(count, x, table, qmin, y);
}
template <typename T> void clip(int64_t count, const T *x, int32_t lo, int32_t hi, T *y) { ref::clip(count, x, lo, hi, y); }
template <typename TY>
void quantize(int64_t count, const float *x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax, TY *y) {
  ref::quantize(count, x, scale, zero_point, qmin, qmax, y);
}
template <typename TX> void dequantize(int64_t count, const TX *x, float scale, int32_t zero_point, float *y) {
  ref::dequantize(count, x, scale, zero_point, y);
}

} // namespace qcc_rt
