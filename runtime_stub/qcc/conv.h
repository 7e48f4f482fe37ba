// qcc kernel library: convolution, NHWC (qcc::QConv).
//
// Three paths, chosen from the shape alone (so that qcc's packing on the host
// and the kernel on the target agree whatever the target's SIMD):
//   depthwise (cin/group == 1 and cout/group == 1): packed [kh*kw][cout] int8;
//     vectorized over channels, a row of output pixels at a time, the taps
//     unrolled in registers for 3x3 and 5x5.
//   small patches (K = cin/group * kh * kw <= kSmallK): packed per group as
//     tiles of 32 output channels, [tile][K][32] int8; each activation is
//     broadcast against 32 channels held in vector lanes (no K padding, no
//     horizontal sums). Covers 1x1 convs with few input channels and RGB stems.
//   everything else: K-reduction GEMM (gemm_core.h) on im2col panels of up to
//     kPanelMax output pixels; packed rows [group][cout/group padded to 8][K
//     padded to 64] int8 plus the per-channel weight sums.
// Scratch (conv_scratch_bytes) holds the panels, accumulators and the
// per-channel requantization table; any alignment is fine.
#pragma once

#include "gemm_core.h"
#include "ref_conv.h"

#include <utility>

// Keeps gcc from unrolling a short constant-trip channel loop completely
// before vectorizing (it would then vectorize across taps, badly).
#if defined(__GNUC__) && !defined(__clang__)
#define QCC_RT_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define QCC_RT_NO_UNROLL
#endif

namespace qcc_rt {

namespace detail {

inline bool conv_is_depthwise(const ConvShape &s) { return s.cin == s.group && s.cout == s.group; }

inline size_t dw_scratch_bytes(const ConvShape &s) {
  return carve_bytes(rq_table_bytes(s.cout)) + carve_bytes(size_t(s.ow) * size_t(s.cout) * 4) +
         carve_bytes(size_t(s.kh) * size_t(s.kw) * sizeof(size_t)) + carve_bytes(size_t(s.kh) * size_t(s.kw) * size_t(s.cout) * 4);
}

template <typename TX, size_t... I>
inline int32_t dw_taps(const TX *const *xt, const int32_t *const *wt, size_t xi, size_t c, std::index_sequence<I...>) {
  return ((int32_t(xt[I][xi + c]) * int32_t(wt[I][c])) + ...);
}

// Interior pixels of one output row, one block of channels, T taps known at
// compile time: the taps unroll inside the channel loop so the sums stay in
// registers, four pixels at a time; results go through a local block (which
// cannot alias the inputs) to acc. CB > 0: exactly CB channels (a constant
// trip count the vectorizer sizes its vectors to); CB == 0: cn channels.
//   xbase: input of tap (0, 0) of the first pixel, channel c0; px: input step
//   between output pixels; wp: weights of tap 0, channel c0; acc: first pixel, channel c0.
template <int T, int CB, typename TX>
void dw_row_block(const TX *xbase, size_t px, int32_t npx, const size_t *tap_off, const int32_t *wp, int32_t C,
                  int32_t cn_, int32_t *acc) {
  constexpr int32_t kB = CB > 0 ? CB : 64;
  const int32_t cn = CB > 0 ? CB : cn_;
  const TX *xt[T];
  const int32_t *wt[T];
  for (int t = 0; t < T; ++t) {
    xt[t] = xbase + tap_off[t];
    wt[t] = wp + size_t(t) * size_t(C);
  }
  constexpr auto seq = std::make_index_sequence<T>();
  int32_t a[4][kB];
  int32_t p = 0;
  for (; p + 4 <= npx; p += 4) {
    const size_t x0 = size_t(p) * px, x1 = x0 + px, x2 = x1 + px, x3 = x2 + px;
    QCC_RT_NO_UNROLL
    for (int32_t c = 0; c < cn; ++c) {
      a[0][c] = dw_taps(xt, wt, x0, size_t(c), seq);
      a[1][c] = dw_taps(xt, wt, x1, size_t(c), seq);
      a[2][c] = dw_taps(xt, wt, x2, size_t(c), seq);
      a[3][c] = dw_taps(xt, wt, x3, size_t(c), seq);
    }
    for (int j = 0; j < 4; ++j)
      for (int32_t c = 0; c < cn; ++c)
        acc[size_t(p + j) * size_t(C) + size_t(c)] = a[j][c];
  }
  for (; p < npx; ++p) {
    QCC_RT_NO_UNROLL
    for (int32_t c = 0; c < cn; ++c)
      a[0][c] = dw_taps(xt, wt, size_t(p) * px, size_t(c), seq);
    for (int32_t c = 0; c < cn; ++c)
      acc[size_t(p) * size_t(C) + size_t(c)] = a[0][c];
  }
}

// Any tap count: sums in a local block, one tap at a time, one pixel at a time.
template <typename TX>
void dw_row_any(const TX *xbase, size_t px, int32_t npx, const size_t *tap_off, int32_t taps, const int32_t *wp,
                int32_t C, int32_t cn, int32_t *acc) {
  int32_t a[64];
  for (int32_t p = 0; p < npx; ++p) {
    for (int32_t c = 0; c < cn; ++c)
      a[c] = 0;
    for (int32_t t = 0; t < taps; ++t) {
      const TX *xp = xbase + size_t(p) * px + tap_off[t];
      const int32_t *w = wp + size_t(t) * size_t(C);
      for (int32_t c = 0; c < cn; ++c)
        a[c] += int32_t(xp[c]) * w[c];
    }
    for (int32_t c = 0; c < cn; ++c)
      acc[size_t(p) * size_t(C) + size_t(c)] = a[c];
  }
}

// Channel blocks of 64, then the rest as one block of 32 or 64 ending at C and
// overlapping the previous one (recomputing a few channels beats the short
// blocks, which compile to poor code).
template <int T, typename TX>
void dw_row_t(const TX *xbase, size_t px, int32_t npx, const size_t *tap_off, const int32_t *wp, int32_t C, int32_t *acc) {
  int32_t c0 = 0;
  for (; c0 + 64 <= C; c0 += 64)
    dw_row_block<T, 64>(xbase + c0, px, npx, tap_off, wp + c0, C, 0, acc + c0);
  const int32_t rest = C - c0;
  if (rest == 0)
    return;
  if (C >= 64 && rest > 32) {
    c0 = C - 64, dw_row_block<T, 64>(xbase + c0, px, npx, tap_off, wp + c0, C, 0, acc + c0);
  } else if (rest > 32) { // 32 < C < 64: two blocks of 32
    dw_row_block<T, 32>(xbase, px, npx, tap_off, wp, C, 0, acc);
    c0 = C - 32, dw_row_block<T, 32>(xbase + c0, px, npx, tap_off, wp + c0, C, 0, acc + c0);
  } else if (C >= 32)
    c0 = C - 32, dw_row_block<T, 32>(xbase + c0, px, npx, tap_off, wp + c0, C, 0, acc + c0);
  else if (C >= 16) { // 16 <= C < 32: two blocks of 16
    dw_row_block<T, 16>(xbase, px, npx, tap_off, wp, C, 0, acc);
    if (C > 16)
      c0 = C - 16, dw_row_block<T, 16>(xbase + c0, px, npx, tap_off, wp + c0, C, 0, acc + c0);
  } else
    dw_row_block<T, 0>(xbase, px, npx, tap_off, wp, C, C, acc);
}

// acc[p][c] for npx interior output pixels starting at xbase (tap (0, 0) of the first).
template <typename TX>
void dw_row(const ConvShape &s, const TX *xbase, int32_t npx, const size_t *tap_off, const int32_t *wp, int32_t *acc) {
  const int32_t C = s.cout, taps = s.kh * s.kw;
  const size_t px = size_t(s.sw) * size_t(C);
  if (taps == 9)
    dw_row_t<9>(xbase, px, npx, tap_off, wp, C, acc);
  else if (taps == 25)
    dw_row_t<25>(xbase, px, npx, tap_off, wp, C, acc);
  else
    for (int32_t c0 = 0; c0 < C; c0 += 64)
      dw_row_any(xbase + c0, px, npx, tap_off, taps, wp + c0, C, C - c0 < 64 ? C - c0 : 64, acc + c0);
}

// One output pixel anywhere (padded taps read the zero point).
template <typename TX>
void dw_border(const ConvShape &s, const TX *x, int32_t b, int32_t oy, int32_t ox, const int8_t *wp, int32_t *acc) {
  const int32_t C = s.cout, zx = s.x_zero_point;
  for (int32_t c = 0; c < C; ++c)
    acc[c] = 0;
  for (int32_t ky = 0; ky < s.kh; ++ky) {
    const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
    for (int32_t kx = 0; kx < s.kw; ++kx) {
      const int32_t ix = ox * s.sw - s.pl + kx * s.dw;
      const int8_t *w = wp + size_t(ky * s.kw + kx) * size_t(C);
      if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) {
        const TX *xp = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix)) * size_t(C);
        for (int32_t c = 0; c < C; ++c)
          acc[c] += int32_t(xp[c]) * int32_t(w[c]);
      } else {
        for (int32_t c = 0; c < C; ++c)
          acc[c] += zx * int32_t(w[c]);
      }
    }
  }
}

// Depthwise: vectorized over channels, a row of output pixels at a time.
template <typename TX, typename TY>
void conv_depthwise(const ConvShape &s, const TX *x, const int8_t *wp, const int32_t *bias, const Requant &rq, TY *y,
                    void *scratch) {
  const int32_t C = s.cout;
  Carver cv{static_cast<unsigned char *>(scratch)};
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(C) / sizeof(int64_t));
  int32_t *acc = cv.take<int32_t>(size_t(s.ow) * size_t(C));
  size_t *tap_off = cv.take<size_t>(size_t(s.kh) * size_t(s.kw));
  // int32 weights: products in 32-bit lanes (a compiler seeing int8 * int8
  // picks 16-bit multiplies and spends more on widening them).
  int32_t *w32 = cv.take<int32_t>(size_t(s.kh) * size_t(s.kw) * size_t(C));
  for (size_t i = 0; i < size_t(s.kh) * size_t(s.kw) * size_t(C); ++i)
    w32[i] = wp[i];
  const RqTable table = rq_prepare(rq, tab);
  for (int32_t ky = 0; ky < s.kh; ++ky)
    for (int32_t kx = 0; kx < s.kw; ++kx)
      tap_off[ky * s.kw + kx] = (size_t(ky) * size_t(s.dh) * size_t(s.w) + size_t(kx) * size_t(s.dw)) * size_t(C);
  // Interior columns: the whole window inside [0, w).
  const int32_t span_w = (s.kw - 1) * s.dw, span_h = (s.kh - 1) * s.dh;
  int32_t ox_lo = (s.pl + s.sw - 1) / s.sw, ox_hi = s.w - 1 - span_w + s.pl >= 0 ? (s.w - 1 - span_w + s.pl) / s.sw + 1 : 0;
  ox_hi = ox_hi > s.ow ? s.ow : ox_hi;
  ox_lo = ox_lo > ox_hi ? ox_hi : ox_lo;
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t oy = 0; oy < s.oh; ++oy) {
      const int32_t iy0 = oy * s.sh - s.pt;
      if (iy0 >= 0 && iy0 + span_h < s.h && ox_lo < ox_hi) {
        const TX *xrow = x + (size_t(b) * size_t(s.h) + size_t(iy0)) * size_t(s.w) * size_t(C);
        dw_row(s, xrow + size_t(ox_lo * s.sw - s.pl) * size_t(C), ox_hi - ox_lo, tap_off, w32,
               acc + size_t(ox_lo) * size_t(C));
        for (int32_t ox = 0; ox < ox_lo; ++ox)
          dw_border(s, x, b, oy, ox, wp, acc + size_t(ox) * size_t(C));
        for (int32_t ox = ox_hi; ox < s.ow; ++ox)
          dw_border(s, x, b, oy, ox, wp, acc + size_t(ox) * size_t(C));
      } else {
        for (int32_t ox = 0; ox < s.ow; ++ox)
          dw_border(s, x, b, oy, ox, wp, acc + size_t(ox) * size_t(C));
      }
      TY *yrow = y + (size_t(b) * size_t(s.oh) + size_t(oy)) * size_t(s.ow) * size_t(C);
      requant_rows(acc, size_t(C), bias, C, s.ow, table, 0, yrow, size_t(C));
    }
}

// One im2col row (patch of output pixel (oy, ox) of batch b, group g) as AccT.
// Where a kernel row lies inside the image and its taps are adjacent in memory
// (one group, no dilation) it is converted in one run.
template <typename TX>
void im2col_row(const ConvShape &s, const TX *x, int32_t b, int32_t g, int32_t oy, int32_t ox, int32_t kp, AccT *row) {
  const int32_t cg = s.cin / s.group;
  const AccT padv = to_a<TX>(TX(s.x_zero_point));
  const int32_t ix0 = ox * s.sw - s.pl;
  const bool row_run = s.group == 1 && s.dw == 1 && ix0 >= 0 && ix0 + s.kw <= s.w;
  int32_t k = 0;
  for (int32_t ky = 0; ky < s.kh; ++ky) {
    const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
    const bool y_in = iy >= 0 && iy < s.h;
    if (y_in && row_run) {
      const TX *src = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix0)) * size_t(s.cin);
      const int32_t n = s.kw * cg;
      convert_run(src, n, row + k);
      k += n;
      continue;
    }
    for (int32_t kx = 0; kx < s.kw; ++kx, k += cg) {
      const int32_t ix = ix0 + kx * s.dw;
      AccT *dst = row + k;
      if (y_in && ix >= 0 && ix < s.w) {
        const TX *src = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix)) * size_t(s.cin) +
                        size_t(g) * size_t(cg);
        convert_run(src, cg, dst);
      } else {
        for (int32_t c = 0; c < cg; ++c)
          dst[c] = padv;
      }
    }
  }
  for (; k < kp; ++k)
    row[k] = AccT(0);
}

template <typename TX, typename TY>
void conv_general(const ConvShape &s, const TX *x, const int8_t *wp, const int32_t *bias, const Requant &rq, TY *y,
                  void *scratch) {
  const int32_t cg = s.cin / s.group, og = s.cout / s.group, K = cg * s.kh * s.kw;
  const int32_t kp = kpad(K), op = round_up(og, kNrPad), P = s.oh * s.ow;
  PanelCtx ctx = panel_setup<TX>(s.group, og, K, panel_rows(int64_t(P)), wp, bias, rq, scratch);
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t g = 0; g < s.group; ++g) {
      const int8_t *wg = wp + size_t(g) * size_t(op) * size_t(kp);
      for (int32_t p0 = 0; p0 < P; p0 += kPanel) {
        const int32_t rows = P - p0 < kPanel ? P - p0 : kPanel;
        for (int32_t i = 0; i < rows; ++i)
          im2col_row<TX>(s, x, b, g, (p0 + i) / s.ow, (p0 + i) % s.ow, kp, ctx.a + size_t(i) * size_t(kp));
        panel_multiply(ctx.a, rows, kp, wg, op, ctx.acc);
        TY *yp = y + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cout) + size_t(g) * size_t(og);
        requant_rows(ctx.acc, size_t(op), ctx.offset + size_t(g) * size_t(og), og, rows, ctx.table, g * og, yp,
                     size_t(s.cout));
      }
    }
}

// ---- small patches (K <= kSmallK): lanes over output channels ----------------
//
// With few multiply-adds per output a K-reduction spends more on padding K and
// on horizontal sums than on the products, so small-K convs (1x1 convs with
// few input channels, the RGB stem) broadcast each activation and accumulate
// 32 output channels per pixel in vector lanes instead.
// Packed: for each group, for each tile of 32 output channels (zero padded),
// K rows of 32 int8 weights.
constexpr int32_t kSmallK = 64;
constexpr int32_t kOT = 32; // output channels per packed tile
#if defined(__AVX512F__)
constexpr int32_t kSmallMR = 6, kSmallNO = 32; // 12 zmm accumulators
#else
constexpr int32_t kSmallMR = 4, kSmallNO = 16;
#endif
static_assert(kOT % kSmallNO == 0, "kernel tile must divide the packed tile");

inline bool conv_is_small_k(const ConvShape &s) { return (s.cin / s.group) * s.kh * s.kw <= kSmallK; }

inline size_t smallk_packed_bytes(const ConvShape &s) {
  const int32_t og = s.cout / s.group, K = (s.cin / s.group) * s.kh * s.kw;
  return size_t(s.group) * size_t(round_up(og, kOT)) * size_t(K);
}

inline size_t smallk_scratch_bytes(const ConvShape &s) {
  const int32_t K = (s.cin / s.group) * s.kh * s.kw;
  const size_t rows = size_t(panel_rows(int64_t(s.oh) * s.ow));
  return carve_bytes(rq_table_bytes(s.cout)) + carve_bytes(rows * size_t(K)) + // panel of 1-byte TX
         carve_bytes(size_t(K) * size_t(kOT) * 4) + carve_bytes(rows * size_t(kOT) * 4);
}

// c[i][o] = sum_k a[i][k] * w[k][o] for MR rows, NO channels (w row stride
// kOT), accumulators in registers (hence out of line).
template <int MR, int NO, typename TX>
QCC_RT_NOINLINE void smallk_tile(const TX *a, size_t lda, int32_t K, const int32_t *w, int32_t *c) {
  int32_t acc[MR][NO] = {};
  for (int32_t k = 0; k < K; ++k)
    for (int i = 0; i < MR; ++i) {
      const int32_t xv = int32_t(a[size_t(i) * lda + size_t(k)]);
      for (int o = 0; o < NO; ++o)
        acc[i][o] += xv * w[size_t(k) * kOT + size_t(o)];
    }
  for (int i = 0; i < MR; ++i)
    for (int o = 0; o < NO; ++o)
      c[size_t(i) * kOT + size_t(o)] = acc[i][o];
}

// Rows [0, rows) of a panel against kOT packed channels of which n are real.
// (Narrower tiles for a short last tile compiled to memory-bound loops; a
// padded full tile is faster.)
template <typename TX>
void smallk_panel(const TX *ap, size_t lda, int32_t rows, int32_t K, const int32_t *wbuf, int32_t n, int32_t *acc) {
  const int32_t full = rows - rows % kSmallMR;
  for (int32_t o0 = 0; o0 < n; o0 += kSmallNO) {
    for (int32_t i = 0; i < full; i += kSmallMR)
      smallk_tile<kSmallMR, kSmallNO>(ap + size_t(i) * lda, lda, K, wbuf + o0, acc + size_t(i) * kOT + size_t(o0));
    for (int32_t i = full; i < rows; ++i)
      smallk_tile<1, kSmallNO>(ap + size_t(i) * lda, lda, K, wbuf + o0, acc + size_t(i) * kOT + size_t(o0));
  }
}

template <typename TX>
void im2col_raw(const ConvShape &s, const TX *x, int32_t b, int32_t g, int32_t oy, int32_t ox, TX *row) {
  const int32_t cg = s.cin / s.group;
  const int32_t ix0 = ox * s.sw - s.pl;
  const bool row_run = s.group == 1 && s.dw == 1 && ix0 >= 0 && ix0 + s.kw <= s.w;
  int32_t k = 0;
  for (int32_t ky = 0; ky < s.kh; ++ky) {
    const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
    const bool y_in = iy >= 0 && iy < s.h;
    if (y_in && row_run) {
      const TX *src = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix0)) * size_t(s.cin);
      const int32_t n = s.kw * cg;
      std::memcpy(row + k, src, size_t(n) * sizeof(TX));
      k += n;
      continue;
    }
    for (int32_t kx = 0; kx < s.kw; ++kx, k += cg) {
      const int32_t ix = ix0 + kx * s.dw;
      if (y_in && ix >= 0 && ix < s.w) {
        const TX *src = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix)) * size_t(s.cin) +
                        size_t(g) * size_t(cg);
        std::memcpy(row + k, src, size_t(cg) * sizeof(TX));
      } else {
        for (int32_t c = 0; c < cg; ++c)
          row[k + c] = TX(s.x_zero_point);
      }
    }
  }
}

template <typename TX, typename TY>
void conv_small_k(const ConvShape &s, const TX *x, const int8_t *wp, const int32_t *bias, const Requant &rq, TY *y,
                  void *scratch) {
  const int32_t og = s.cout / s.group, K = (s.cin / s.group) * s.kh * s.kw, P = s.oh * s.ow;
  const int32_t tiles = round_up(og, kOT) / kOT;
  Carver cv{static_cast<unsigned char *>(scratch)};
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(s.cout) / sizeof(int64_t));
  static_assert(sizeof(TX) == 1, "conv inputs are 8-bit");
  const size_t prow = size_t(panel_rows(int64_t(P)));
  TX *a = cv.take<TX>(prow * size_t(K));
  int32_t *wbuf = cv.take<int32_t>(size_t(K) * kOT);
  int32_t *acc = cv.take<int32_t>(prow * kOT);
  const RqTable table = rq_prepare(rq, tab);
  // A 1x1 stride-1 unpadded conv reads its rows straight from x.
  const bool direct = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pl == 0 && s.oh == s.h &&
                      s.ow == s.w;
  const size_t lda = direct ? size_t(s.cin) : size_t(K);
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t g = 0; g < s.group; ++g)
      for (int32_t p0 = 0; p0 < P; p0 += kPanelMax) {
        const int32_t rows = P - p0 < kPanelMax ? P - p0 : kPanelMax;
        const TX *ap = a;
        if (direct)
          ap = x + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cin) + size_t(g) * size_t(K);
        else
          for (int32_t i = 0; i < rows; ++i)
            im2col_raw(s, x, b, g, (p0 + i) / s.ow, (p0 + i) % s.ow, a + size_t(i) * size_t(K));
        for (int32_t t = 0; t < tiles; ++t) {
          const int8_t *wt = wp + (size_t(g) * size_t(tiles) + size_t(t)) * size_t(K) * kOT;
          for (size_t i = 0; i < size_t(K) * kOT; ++i)
            wbuf[i] = wt[i];
          const int32_t n = og - t * kOT < kOT ? og - t * kOT : kOT;
          smallk_panel(ap, lda, rows, K, wbuf, n, acc);
          const int32_t c0 = t * kOT;
          TY *yp = y + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cout) + size_t(g) * size_t(og) + size_t(c0);
          requant_rows(acc, size_t(kOT), bias + size_t(g) * size_t(og) + size_t(c0), n, rows, table, g * og + c0, yp,
                       size_t(s.cout));
        }
      }
}

} // namespace detail

inline size_t conv_packed_weight_bytes(const ConvShape &s) {
  if (detail::conv_is_depthwise(s))
    return size_t(s.kh) * size_t(s.kw) * size_t(s.cout);
  if (detail::conv_is_small_k(s))
    return detail::smallk_packed_bytes(s);
  return detail::rows_packed_bytes(s.group, s.cout / s.group, (s.cin / s.group) * s.kh * s.kw);
}

inline void conv_pack_weights(const ConvShape &s, const int8_t *w_oihw, int8_t *packed) {
  const int32_t cg = s.cin / s.group, og = s.cout / s.group, T = s.kh * s.kw;
  if (detail::conv_is_depthwise(s)) {
    for (int32_t c = 0; c < s.cout; ++c)
      for (int32_t t = 0; t < T; ++t)
        packed[size_t(t) * size_t(s.cout) + size_t(c)] = w_oihw[size_t(c) * size_t(T) + size_t(t)];
    return;
  }
  if (detail::conv_is_small_k(s)) {
    const int32_t K = cg * T, tiles = detail::round_up(og, detail::kOT) / detail::kOT;
    for (int32_t g = 0; g < s.group; ++g)
      for (int32_t t = 0; t < tiles; ++t)
        for (int32_t k = 0; k < K; ++k)
          for (int32_t j = 0; j < detail::kOT; ++j) {
            const int32_t o = t * detail::kOT + j, tap = k / cg, c = k % cg;
            packed[((size_t(g) * size_t(tiles) + size_t(t)) * size_t(K) + size_t(k)) * detail::kOT + size_t(j)] =
                o < og ? w_oihw[((size_t(g) * size_t(og) + size_t(o)) * size_t(cg) + size_t(c)) * size_t(T) + size_t(tap)]
                       : int8_t(0);
          }
    return;
  }
  detail::pack_rows(s.group, og, cg * T, packed, [&](int32_t g, int32_t o, int32_t k) {
    const int32_t tap = k / cg, c = k % cg; // k = (ky * kw + kx) * cg + c
    return w_oihw[(size_t(g) * size_t(og) + size_t(o)) * size_t(cg) * size_t(T) + size_t(c) * size_t(T) + size_t(tap)];
  });
}

inline size_t conv_scratch_bytes(const ConvShape &s) {
  if (detail::conv_is_depthwise(s))
    return detail::dw_scratch_bytes(s);
  if (detail::conv_is_small_k(s))
    return detail::smallk_scratch_bytes(s);
  return detail::panel_scratch_bytes(s.cout, s.cout / s.group, (s.cin / s.group) * s.kh * s.kw,
                                      detail::panel_rows(int64_t(s.oh) * s.ow));
}

template <typename TX, typename TY>
void conv_nhwc(const ConvShape &s, const TX *x, const int8_t *w_packed, const int32_t *bias, const Requant &rq, TY *y,
               void *scratch) {
  if (detail::conv_is_depthwise(s))
    detail::conv_depthwise(s, x, w_packed, bias, rq, y, scratch);
  else if (detail::conv_is_small_k(s))
    detail::conv_small_k(s, x, w_packed, bias, rq, y, scratch);
  else
    detail::conv_general(s, x, w_packed, bias, rq, y, scratch);
}

} // namespace qcc_rt
