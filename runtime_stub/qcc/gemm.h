// qcc kernel library: fully connected / QGemm, y[m, n] = x[m, k] * w[n, k]^T.
// The same packed rows and panel GEMM as conv_nhwc (gemm_core.h), one group.
#pragma once

#include "gemm_core.h"
#include "ref_conv.h"

namespace qcc_rt {

inline size_t gemm_packed_weight_bytes(const GemmShape &s) { return detail::rows_packed_bytes(1, s.n, s.k); }

inline void gemm_pack_weights(const GemmShape &s, const int8_t *w_nk, int8_t *packed) {
  detail::pack_rows(1, s.n, s.k, packed,
                    [&](int32_t, int32_t o, int32_t k) { return w_nk[size_t(o) * size_t(s.k) + size_t(k)]; });
}

inline size_t gemm_scratch_bytes(const GemmShape &s) {
  return detail::panel_scratch_bytes(s.n, s.n, s.k, detail::panel_rows(s.m));
}

template <typename TX, typename TY>
void gemm(const GemmShape &s, const TX *x, const int8_t *w_packed, const int32_t *bias, const Requant &rq, TY *y,
          void *scratch) {
  using namespace detail;
  const int32_t kp = kpad(s.k), op = round_up(s.n, kNrPad);
  PanelCtx ctx = panel_setup<TX>(1, s.n, s.k, panel_rows(s.m), w_packed, bias, rq, scratch);
  for (int32_t m0 = 0; m0 < s.m; m0 += kPanel) {
    const int32_t rows = s.m - m0 < kPanel ? s.m - m0 : kPanel;
    for (int32_t i = 0; i < rows; ++i) {
      const TX *src = x + size_t(m0 + i) * size_t(s.k);
      AccT *row = ctx.a + size_t(i) * size_t(kp);
      convert_run(src, s.k, row); // K padding zeroed by panel_setup
    }
    panel_multiply(ctx.a, rows, kp, w_packed, op, ctx.acc);
    requant_rows(ctx.acc, size_t(op), ctx.offset, s.n, rows, ctx.table, 0, y + size_t(m0) * size_t(s.n), size_t(s.n));
  }
}

} // namespace qcc_rt
