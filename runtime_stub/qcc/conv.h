// qcc kernel library: convolution, NHWC (qcc::QConv).
//
// Three paths, chosen from the shape alone (so that qcc's packing on the host
// and the kernel on the target agree whatever the target's SIMD):
//   depthwise (cin/group == 1 and cout/group == 1): packed [kh*kw][cout] int8;
//     input rows widened to float once each into a ring of kh rows (padding
//     included, so every output pixel is interior), vectorized over channels,
//     a row of output pixels at a time, the taps unrolled for 3x3 and 5x5.
//   small patches (K = cin/group * kh * kw <= kSmallK): packed per group as
//     tiles of 32 output channels, [tile][K][32] int8; each activation is
//     broadcast against 32 channels held in float vector lanes (no K padding,
//     no horizontal sums). Covers 1x1 convs with few input channels and RGB stems.
//   everything else: K-reduction GEMM (gemm_core.h) on im2col panels of up to
//     kPanelMax output pixels; packed rows [group][cout/group padded to 8][K
//     padded to 64] int8 plus the per-channel weight sums.
// The float paths are exact (see kFloatExactTerms). Scratch
// (conv_scratch_bytes) holds the panels or widened rows, accumulators and the
// per-channel requantization table; any alignment is fine.
#pragma once

#include "gemm_core.h"
#include "ref_conv.h"

#include <cmath>
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

// Exact float arithmetic on 8-bit data: a product of an 8-bit activation and
// an int8 weight is below 2^15 in magnitude, so a float sum of up to 2^9 such
// products (< 2^24) is exact whatever the order or fusion. The depthwise and
// small-K paths multiply in float lanes (one fused multiply-add per lane where
// the target has FMA) and convert the sums back to int32.
constexpr int32_t kFloatExactTerms = 512;
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__aarch64__)
inline float fmadd(float a, float b, float c) { return std::fma(a, b, c); }
#else
inline float fmadd(float a, float b, float c) { return a * b + c; }
#endif

inline bool conv_is_depthwise(const ConvShape &s) { return s.cin == s.group && s.cout == s.group; }

// Depthwise: input rows are widened to float once each (padded columns and
// rows hold the zero point), kept in a ring of span_h rows, so that every
// output pixel is interior and each tap costs one multiply-add per lane.
inline int32_t dw_span_h(const ConvShape &s) { return (s.kh - 1) * s.dh + 1; }
// Columns of a widened row: input columns -pl .. (ow - 1) * sw - pl + span_w.
inline int32_t dw_row_cols(const ConvShape &s) { return (s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1; }

inline size_t dw_scratch_bytes(const ConvShape &s) {
  const size_t taps = size_t(s.kh) * size_t(s.kw), C = size_t(s.cout);
  return carve_bytes(rq_table_bytes(s.cout)) + carve_bytes(size_t(s.ow) * C * 4) + // table, accumulators
         carve_bytes(taps * C * 4) +                                                // float weights
         carve_bytes(size_t(dw_span_h(s)) * size_t(dw_row_cols(s)) * C * 4) +      // widened rows
         carve_bytes(size_t(dw_span_h(s)) * 4);                                    // ring tags
}

template <size_t... I>
inline float dw_taps(const float *const *xt, const float *w, size_t xi, size_t c, size_t wstride, std::index_sequence<I...>) {
  float s = 0.f;
  ((s = fmadd(xt[I][xi + c], w[I * wstride + c], s)), ...);
  return s;
}

// One output row, one block of channels, T taps known at compile time: the
// weights of the block are copied to a local [T][CB] array (constant offsets,
// few live pointers), the taps unroll inside the channel loop so the sums stay
// in registers, four pixels at a time; results go through a local block
// (which cannot alias the inputs) to acc. CB > 0: exactly CB channels (a
// constant trip count the vectorizer sizes its vectors to); CB == 0: cn
// channels (cn <= 64).
//   xtap[t]: widened input of tap t for output pixel 0, channel c0; px: step
//   between output pixels; wp: float weights of tap 0, channel c0 (tap stride C).
template <int T, int CB>
void dw_row_block(const float *const *xtap, size_t px, int32_t npx, const float *wp, int32_t C, int32_t cn_,
                  int32_t *acc) {
  constexpr int32_t kB = CB > 0 ? CB : 64;
  const int32_t cn = CB > 0 ? CB : cn_;
  float wl[T * kB];
  for (int t = 0; t < T; ++t)
    for (int32_t c = 0; c < cn; ++c)
      wl[t * kB + c] = wp[size_t(t) * size_t(C) + size_t(c)];
  const float *xt[T];
  for (int t = 0; t < T; ++t)
    xt[t] = xtap[t];
  constexpr auto seq = std::make_index_sequence<T>();
  float a[4][kB];
  int32_t p = 0;
  for (; p + 4 <= npx; p += 4) {
    const size_t x0 = size_t(p) * px, x1 = x0 + px, x2 = x1 + px, x3 = x2 + px;
    QCC_RT_NO_UNROLL
    for (int32_t c = 0; c < cn; ++c) {
      a[0][c] = dw_taps(xt, wl, x0, size_t(c), kB, seq);
      a[1][c] = dw_taps(xt, wl, x1, size_t(c), kB, seq);
      a[2][c] = dw_taps(xt, wl, x2, size_t(c), kB, seq);
      a[3][c] = dw_taps(xt, wl, x3, size_t(c), kB, seq);
    }
    for (int j = 0; j < 4; ++j)
      for (int32_t c = 0; c < cn; ++c)
        acc[size_t(p + j) * size_t(C) + size_t(c)] = int32_t(a[j][c]);
  }
  for (; p < npx; ++p) {
    QCC_RT_NO_UNROLL
    for (int32_t c = 0; c < cn; ++c)
      a[0][c] = dw_taps(xt, wl, size_t(p) * px, size_t(c), kB, seq);
    for (int32_t c = 0; c < cn; ++c)
      acc[size_t(p) * size_t(C) + size_t(c)] = int32_t(a[0][c]);
  }
}

// Any tap count: float sums of at most kFloatExactTerms taps at a time,
// added up in int32; one pixel at a time. Tap t of pixel p, channel c:
// xtap[t][p * px + c] times wp[t * C + c]. add: acc += the sums (else =).
inline void dw_row_any(const float *const *xtap, size_t px, int32_t npx, int32_t taps, const float *wp, int32_t C,
                       int32_t cn, int32_t *acc, bool add) {
  float a[64];
  int32_t ai[64];
  for (int32_t p = 0; p < npx; ++p) {
    for (int32_t c = 0; c < cn; ++c)
      ai[c] = 0;
    for (int32_t t0 = 0; t0 < taps; t0 += kFloatExactTerms) {
      const int32_t t1 = taps - t0 < kFloatExactTerms ? taps : t0 + kFloatExactTerms;
      for (int32_t c = 0; c < cn; ++c)
        a[c] = 0.f;
      for (int32_t t = t0; t < t1; ++t) {
        const float *xp = xtap[t] + size_t(p) * px;
        const float *w = wp + size_t(t) * size_t(C);
        for (int32_t c = 0; c < cn; ++c)
          a[c] = fmadd(xp[c], w[c], a[c]);
      }
      for (int32_t c = 0; c < cn; ++c)
        ai[c] += int32_t(a[c]);
    }
    int32_t *out = acc + size_t(p) * size_t(C);
    for (int32_t c = 0; c < cn; ++c)
      out[c] = (add ? out[c] : 0) + ai[c];
  }
}

// Channel blocks of 64, then the rest as one block of 32 or 64 ending at C and
// overlapping the previous one (recomputing a few channels beats the short
// blocks, which compile to poor code).
template <int T> void dw_row_t(const float *const *xtap, size_t px, int32_t npx, const float *wp, int32_t C, int32_t *acc) {
  const float *xt[T];
  auto at = [&](int32_t c0) {
    for (int t = 0; t < T; ++t)
      xt[t] = xtap[t] + c0;
    return static_cast<const float *const *>(xt);
  };
  int32_t c0 = 0;
  for (; c0 + 64 <= C; c0 += 64)
    dw_row_block<T, 64>(at(c0), px, npx, wp + c0, C, 0, acc + c0);
  const int32_t rest = C - c0;
  if (rest == 0)
    return;
  if (C >= 64 && rest > 32) {
    c0 = C - 64, dw_row_block<T, 64>(at(c0), px, npx, wp + c0, C, 0, acc + c0);
  } else if (rest > 32) { // 32 < C < 64: two blocks of 32
    dw_row_block<T, 32>(at(0), px, npx, wp, C, 0, acc);
    c0 = C - 32, dw_row_block<T, 32>(at(c0), px, npx, wp + c0, C, 0, acc + c0);
  } else if (C >= 32)
    c0 = C - 32, dw_row_block<T, 32>(at(c0), px, npx, wp + c0, C, 0, acc + c0);
  else if (C >= 16) { // 16 <= C < 32: two blocks of 16
    dw_row_block<T, 16>(at(0), px, npx, wp, C, 0, acc);
    if (C > 16)
      c0 = C - 16, dw_row_block<T, 16>(at(c0), px, npx, wp + c0, C, 0, acc + c0);
  } else
    dw_row_block<T, 0>(at(0), px, npx, wp, C, C, acc);
}

// 3x3, stride SW (1 or 2), no dilation: neighbouring output pixels share
// input columns, so four pixels read 3 + 3 * SW columns per kernel row (18 or
// 27 loads for 36 multiply-adds instead of 36). rows[ky]: widened row of
// kernel row ky at output pixel 0, channel c0 (column stride C); CB channels.
template <int SW, int CB>
void dw3_block(const float *const *rows, int32_t npx, const float *wp, int32_t C, int32_t *acc) {
  float wl[9 * CB];
  for (int t = 0; t < 9; ++t)
    for (int32_t c = 0; c < CB; ++c)
      wl[t * CB + c] = wp[size_t(t) * size_t(C) + size_t(c)];
  const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
  const size_t S = size_t(C);
  float a[4][CB];
  int32_t p = 0;
  for (; p + 4 <= npx; p += 4) {
    const size_t o = size_t(p) * SW * S;
    QCC_RT_NO_UNROLL
    for (int32_t c = 0; c < CB; ++c) {
      float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
      auto row = [&](const float *r, int k) {
        const float *q = r + o + size_t(c);
        const float w0 = wl[(3 * k) * CB + c], w1 = wl[(3 * k + 1) * CB + c], w2 = wl[(3 * k + 2) * CB + c];
        if (SW == 1) {
          const float x0 = q[0], x1 = q[S], x2 = q[2 * S], x3 = q[3 * S], x4 = q[4 * S], x5 = q[5 * S];
          s0 = fmadd(x2, w2, fmadd(x1, w1, fmadd(x0, w0, s0)));
          s1 = fmadd(x3, w2, fmadd(x2, w1, fmadd(x1, w0, s1)));
          s2 = fmadd(x4, w2, fmadd(x3, w1, fmadd(x2, w0, s2)));
          s3 = fmadd(x5, w2, fmadd(x4, w1, fmadd(x3, w0, s3)));
        } else {
          const float x0 = q[0], x1 = q[S], x2 = q[2 * S], x3 = q[3 * S], x4 = q[4 * S], x5 = q[5 * S],
                      x6 = q[6 * S], x7 = q[7 * S], x8 = q[8 * S];
          s0 = fmadd(x2, w2, fmadd(x1, w1, fmadd(x0, w0, s0)));
          s1 = fmadd(x4, w2, fmadd(x3, w1, fmadd(x2, w0, s1)));
          s2 = fmadd(x6, w2, fmadd(x5, w1, fmadd(x4, w0, s2)));
          s3 = fmadd(x8, w2, fmadd(x7, w1, fmadd(x6, w0, s3)));
        }
      };
      row(r0, 0);
      row(r1, 1);
      row(r2, 2);
      a[0][c] = s0;
      a[1][c] = s1;
      a[2][c] = s2;
      a[3][c] = s3;
    }
    for (int j = 0; j < 4; ++j)
      for (int32_t c = 0; c < CB; ++c)
        acc[size_t(p + j) * S + size_t(c)] = int32_t(a[j][c]);
  }
  for (; p < npx; ++p) {
    const size_t o = size_t(p) * SW * S;
    QCC_RT_NO_UNROLL
    for (int32_t c = 0; c < CB; ++c) {
      float s0 = 0.f;
      for (int k = 0; k < 3; ++k) {
        const float *q = (k == 0 ? r0 : k == 1 ? r1 : r2) + o + size_t(c);
        s0 = fmadd(q[2 * S], wl[(3 * k + 2) * CB + c],
                   fmadd(q[S], wl[(3 * k + 1) * CB + c], fmadd(q[0], wl[(3 * k) * CB + c], s0)));
      }
      a[0][c] = s0;
    }
    for (int32_t c = 0; c < CB; ++c)
      acc[size_t(p) * S + size_t(c)] = int32_t(a[0][c]);
  }
}

// Channel blocks for dw3_block as in dw_row_t (C >= 16; the last block overlaps).
template <int SW> void dw3_row(const float *const *rows, int32_t npx, const float *wp, int32_t C, int32_t *acc) {
  const float *rc[3];
  auto at = [&](int32_t c0) {
    for (int k = 0; k < 3; ++k)
      rc[k] = rows[k] + c0;
    return static_cast<const float *const *>(rc);
  };
  int32_t c0 = 0;
  for (; c0 + 64 <= C; c0 += 64)
    dw3_block<SW, 64>(at(c0), npx, wp + c0, C, acc + c0);
  const int32_t rest = C - c0;
  if (rest == 0)
    return;
  if (C >= 64 && rest > 32) {
    c0 = C - 64, dw3_block<SW, 64>(at(c0), npx, wp + c0, C, acc + c0);
  } else if (rest > 32) { // 32 < C < 64: two blocks of 32
    dw3_block<SW, 32>(at(0), npx, wp, C, acc);
    c0 = C - 32, dw3_block<SW, 32>(at(c0), npx, wp + c0, C, acc + c0);
  } else if (C >= 32) {
    c0 = C - 32, dw3_block<SW, 32>(at(c0), npx, wp + c0, C, acc + c0);
  } else { // 16 <= C < 32: two blocks of 16
    dw3_block<SW, 16>(at(0), npx, wp, C, acc);
    if (C > 16)
      c0 = C - 16, dw3_block<SW, 16>(at(c0), npx, wp + c0, C, acc + c0);
  }
}

// Widens input row iy of batch b (zero point outside the image) into dst.
template <typename TX> void dw_widen_row(const ConvShape &s, const TX *x, int32_t b, int32_t iy, float *dst) {
  const int32_t C = s.cout, cols = dw_row_cols(s);
  const float zp = float(s.x_zero_point);
  if (iy < 0 || iy >= s.h) {
    for (size_t i = 0; i < size_t(cols) * size_t(C); ++i)
      dst[i] = zp;
    return;
  }
  const int32_t in_lo = s.pl < cols ? s.pl : cols;               // first column inside the image
  const int32_t in_hi = s.pl + s.w < cols ? s.pl + s.w : cols;   // one past the last
  for (size_t i = 0; i < size_t(in_lo) * size_t(C); ++i)
    dst[i] = zp;
  const TX *src = x + (size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) * size_t(C);
  for (size_t i = 0; i < size_t(in_hi - in_lo) * size_t(C); ++i)
    dst[size_t(in_lo) * size_t(C) + i] = float(src[i]);
  for (size_t i = size_t(in_hi) * size_t(C); i < size_t(cols) * size_t(C); ++i)
    dst[i] = zp;
}

template <typename TX, typename TY>
void conv_depthwise(const ConvShape &s, const TX *x, const int8_t *wp, const int32_t *bias, const Requant &rq, TY *y,
                    void *scratch) {
  const int32_t C = s.cout, taps = s.kh * s.kw, span = dw_span_h(s), cols = dw_row_cols(s);
  Carver cv{static_cast<unsigned char *>(scratch)};
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(C) / sizeof(int64_t));
  int32_t *acc = cv.take<int32_t>(size_t(s.ow) * size_t(C));
  float *wf = cv.take<float>(size_t(taps) * size_t(C));
  float *ring = cv.take<float>(size_t(span) * size_t(cols) * size_t(C));
  int32_t *tag = cv.take<int32_t>(size_t(span));
  for (size_t i = 0; i < size_t(taps) * size_t(C); ++i)
    wf[i] = float(wp[i]);
  const RqTable table = rq_prepare(rq, tab);
  const size_t row_elems = size_t(cols) * size_t(C), px = size_t(s.sw) * size_t(C);
  // Tap pointers of one output row: up to kMaxTaps at once (larger windows
  // run a kernel row, and kMaxTaps of its columns, at a time).
  constexpr int32_t kMaxTaps = 64;
  const float *xtap[kMaxTaps];
  for (int32_t b = 0; b < s.n; ++b) {
    for (int32_t i = 0; i < span; ++i)
      tag[i] = INT32_MIN;
    for (int32_t oy = 0; oy < s.oh; ++oy) {
      // The window's rows are distinct ring slots (span_h consecutive rows).
      auto row = [&](int32_t ky) {
        const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
        const int32_t slot = ((iy % span) + span) % span;
        float *r = ring + size_t(slot) * row_elems;
        if (tag[slot] != iy) {
          dw_widen_row(s, x, b, iy, r);
          tag[slot] = iy;
        }
        return static_cast<const float *>(r);
      };
      if (taps <= kMaxTaps) {
        for (int32_t ky = 0; ky < s.kh; ++ky) {
          const float *r = row(ky);
          for (int32_t kx = 0; kx < s.kw; ++kx)
            xtap[ky * s.kw + kx] = r + size_t(kx) * size_t(s.dw) * size_t(C);
        }
        if (taps == 9 && s.kw == 3 && (s.sw == 1 || s.sw == 2) && s.dw == 1 && C >= 16) {
          const float *r3[3] = {xtap[0], xtap[3], xtap[6]};
          if (s.sw == 1)
            dw3_row<1>(r3, s.ow, wf, C, acc);
          else
            dw3_row<2>(r3, s.ow, wf, C, acc);
        } else if (taps == 9)
          dw_row_t<9>(xtap, px, s.ow, wf, C, acc);
        else if (taps == 25)
          dw_row_t<25>(xtap, px, s.ow, wf, C, acc);
        else
          for (int32_t c0 = 0; c0 < C; c0 += 64) {
            const float *xt[kMaxTaps];
            for (int32_t t = 0; t < taps; ++t)
              xt[t] = xtap[t] + c0;
            dw_row_any(xt, px, s.ow, taps, wf + c0, C, C - c0 < 64 ? C - c0 : 64, acc + c0, false);
          }
      } else {
        for (int32_t ky = 0; ky < s.kh; ++ky) {
          const float *r = row(ky);
          for (int32_t kx0 = 0; kx0 < s.kw; kx0 += kMaxTaps) {
            const int32_t nk = s.kw - kx0 < kMaxTaps ? s.kw - kx0 : kMaxTaps;
            for (int32_t c0 = 0; c0 < C; c0 += 64) {
              for (int32_t t = 0; t < nk; ++t)
                xtap[t] = r + size_t(kx0 + t) * size_t(s.dw) * size_t(C) + size_t(c0);
              dw_row_any(xtap, px, s.ow, nk, wf + size_t(ky * s.kw + kx0) * size_t(C) + size_t(c0), C,
                         C - c0 < 64 ? C - c0 : 64, acc + c0, ky > 0 || kx0 > 0);
            }
          }
        }
      }
      TY *yrow = y + (size_t(b) * size_t(s.oh) + size_t(oy)) * size_t(s.ow) * size_t(C);
      requant_rows(acc, size_t(C), bias, C, s.ow, table, 0, yrow, size_t(C));
    }
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
constexpr int32_t kSmallK = 96;
static_assert(kSmallK <= kFloatExactTerms, "small-K float sums must stay exact");
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
         carve_bytes(rows * size_t(K) * 4) + carve_bytes(size_t(K) * size_t(kOT) * 4) +
         carve_bytes(rows * size_t(round_up(s.cout / s.group, kOT)) * 4); // accumulators of all tiles
}


// c[i][o] = sum_k a[i][k] * w[k][o] for MR rows, NO channels (w row stride
// kOT), accumulators in registers (hence out of line).
template <int MR, int NO>
QCC_RT_NOINLINE void smallk_tile(const float *a, size_t lda, int32_t K, const float *w, int32_t *c, size_t ldc) {
  float acc[MR][NO] = {};
  for (int32_t k = 0; k < K; ++k)
    for (int i = 0; i < MR; ++i) {
      const float xv = a[size_t(i) * lda + size_t(k)];
      QCC_RT_NO_UNROLL
      for (int o = 0; o < NO; ++o)
        acc[i][o] = fmadd(xv, w[size_t(k) * kOT + size_t(o)], acc[i][o]);
    }
  for (int i = 0; i < MR; ++i)
    for (int o = 0; o < NO; ++o)
      c[size_t(i) * ldc + size_t(o)] = int32_t(acc[i][o]);
}

// Rows [0, rows) of a panel against kOT packed channels of which n are real.
// (Narrower tiles for a short last tile compiled to memory-bound loops; a
// padded full tile is faster.)
inline void smallk_panel(const float *ap, size_t lda, int32_t rows, int32_t K, const float *wbuf, int32_t n, int32_t *acc,
                         size_t ldc) {
  if (kSmallNO > 16 && n <= 16) { // one narrow tile: twice the rows instead of padded channels
    constexpr int32_t kMR2 = kSmallMR * kSmallNO / 16;
    const int32_t full2 = rows - rows % kMR2;
    for (int32_t i = 0; i < full2; i += kMR2)
      smallk_tile<kMR2, 16>(ap + size_t(i) * lda, lda, K, wbuf, acc + size_t(i) * ldc, ldc);
    for (int32_t i = full2; i < rows; ++i)
      smallk_tile<1, 16>(ap + size_t(i) * lda, lda, K, wbuf, acc + size_t(i) * ldc, ldc);
    return;
  }
  const int32_t full = rows - rows % kSmallMR;
  for (int32_t o0 = 0; o0 < n; o0 += kSmallNO) {
    for (int32_t i = 0; i < full; i += kSmallMR)
      smallk_tile<kSmallMR, kSmallNO>(ap + size_t(i) * lda, lda, K, wbuf + o0, acc + size_t(i) * ldc + size_t(o0), ldc);
    for (int32_t i = full; i < rows; ++i)
      smallk_tile<1, kSmallNO>(ap + size_t(i) * lda, lda, K, wbuf + o0, acc + size_t(i) * ldc + size_t(o0), ldc);
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
  float *af = cv.take<float>(prow * size_t(K));
  float *wbuf = cv.take<float>(size_t(K) * kOT);
  const size_t ogp = size_t(tiles) * kOT; // accumulator row: every tile of the group
  int32_t *acc = cv.take<int32_t>(prow * ogp);
  const RqTable table = rq_prepare(rq, tab);
  // A 1x1 stride-1 unpadded conv reads its rows straight from x.
  const bool direct = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pl == 0 && s.oh == s.h &&
                      s.ow == s.w;
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t g = 0; g < s.group; ++g)
      for (int32_t p0 = 0; p0 < P; p0 += kPanelMax) {
        const int32_t rows = P - p0 < kPanelMax ? P - p0 : kPanelMax;
        if (direct) {
          const TX *src = x + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cin) + size_t(g) * size_t(K);
          for (int32_t i = 0; i < rows; ++i)
            for (int32_t k = 0; k < K; ++k)
              af[size_t(i) * size_t(K) + size_t(k)] = float(src[size_t(i) * size_t(s.cin) + size_t(k)]);
        } else {
          for (int32_t i = 0; i < rows; ++i)
            im2col_raw(s, x, b, g, (p0 + i) / s.ow, (p0 + i) % s.ow, a + size_t(i) * size_t(K));
          for (size_t i = 0; i < size_t(rows) * size_t(K); ++i)
            af[i] = float(a[i]);
        }
        for (int32_t t = 0; t < tiles; ++t) {
          const int8_t *wt = wp + (size_t(g) * size_t(tiles) + size_t(t)) * size_t(K) * kOT;
          for (size_t i = 0; i < size_t(K) * kOT; ++i)
            wbuf[i] = float(wt[i]);
          const int32_t n = og - t * kOT < kOT ? og - t * kOT : kOT;
          smallk_panel(af, size_t(K), rows, K, wbuf, n, acc + size_t(t) * kOT, ogp);
        }
        // One requantization pass over whole rows (long runs vectorize better).
        TY *yp = y + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cout) + size_t(g) * size_t(og);
        requant_rows(acc, ogp, bias + size_t(g) * size_t(og), og, rows, table, g * og, yp, size_t(s.cout));
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
