// qcc kernel library: convolution, NHWC (qcc::QConv).
//
// Three paths, chosen from the shape alone (so that qcc's packing on the host
// and the kernel on the target agree whatever the target's SIMD):
//   depthwise (cin/group == 1 and cout/group == 1): packed [kh*kw][cout] int8;
//     input rows widened to float once each into a ring of kh rows (padding
//     included, so every output pixel is interior), vectorized over channels,
//     a row of output pixels at a time, the taps unrolled for 3x3 and 5x5;
//     wide layers run in passes over blocks of channels whose ring fits L1.
//   small patches (K = cin/group * kh * kw <= kSmallK, and image stems with
//     at most 4 input channels up to K = 512): packed per group as tiles of
//     32 output channels, [tile][K][32] int8; each activation is broadcast
//     against 32 channels held in float vector lanes (no K padding, no
//     horizontal sums). 1x1 stride-1 convs read rows of x; other single-group
//     convs read their windows from widened input rows (no im2col); the rest
//     go through im2col.
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

// Channels per pass over the image: the widened rows of one pass (span_h
// rows of CB channels) should stay in L1 (whole rows of a wide layer did not:
// widening them was bound by stores to L2). At most 64, halved down to 16
// while the ring is over kDwRingBytes; all channels when there are fewer.
constexpr size_t kDwRingBytes = 24 * 1024;
inline int32_t dw_block_channels(const ConvShape &s) {
  if (s.cout <= 64)
    return s.cout; // one pass (blocks are 16, 32 or 64 channels of a wider layer)
  int32_t cb = 64;
  const size_t row = size_t(dw_span_h(s)) * size_t(dw_row_cols(s)) * 4;
  while (cb / 2 >= 16 && row * size_t(cb) > kDwRingBytes)
    cb /= 2;
  return cb;
}

inline size_t dw_scratch_bytes(const ConvShape &s) {
  const size_t taps = size_t(s.kh) * size_t(s.kw), CB = size_t(dw_block_channels(s));
  return carve_bytes(rq_table_bytes(s.cout)) + carve_bytes(size_t(s.ow) * CB * 4) + // table, accumulators
         carve_bytes(taps * CB * 4) +                                                // float weights of a block
         carve_bytes(size_t(dw_span_h(s)) * size_t(dw_row_cols(s)) * CB * 4) +      // widened rows
         carve_bytes(size_t(dw_span_h(s)) * 4) +                                    // ring tags
         carve_bytes(size_t(dw_row_cols(s)) * CB * 2);                               // gathered row (TX)
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

// Widens input row iy of batch b (C channels; zero point outside the image)
// into dst, columns -pl .. cols - pl - 1.
template <typename TX>
void widen_row(const ConvShape &s, const TX *x, int32_t b, int32_t iy, int32_t C, int32_t cols, float *dst) {
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

// Widens channels c0 .. c0 + CB - 1 of input row iy of batch b (x has C
// channels; zero point outside the image) into dst (CB floats per column),
// columns -pl .. cols - pl - 1. CB < C only for CB = 16, 32 or 64 (see
// dw_block_channels): the block's bytes are first gathered into tmp (cols *
// CB bytes; constant-size copies), then converted in one long run (short
// per-column conversions compiled to narrow vectors or scalar code).
template <int CBt, typename TX> void gather_columns(const TX *src, size_t C, int32_t n, TX *dst) {
  for (int32_t col = 0; col < n; ++col)
    std::memcpy(dst + size_t(col) * CBt, src + size_t(col) * C, CBt * sizeof(TX));
}
template <typename TX>
void widen_row_block(const ConvShape &s, const TX *x, int32_t b, int32_t iy, int32_t C, int32_t c0, int32_t CB,
                     int32_t cols, float *dst, TX *tmp) {
  if (CB == C) {
    widen_row(s, x, b, iy, C, cols, dst);
    return;
  }
  const float zp = float(s.x_zero_point);
  if (iy < 0 || iy >= s.h) {
    for (size_t i = 0; i < size_t(cols) * size_t(CB); ++i)
      dst[i] = zp;
    return;
  }
  const int32_t in_lo = s.pl < cols ? s.pl : cols, in_hi = s.pl + s.w < cols ? s.pl + s.w : cols;
  for (size_t i = 0; i < size_t(in_lo) * size_t(CB); ++i)
    dst[i] = zp;
  const TX *src = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w)) * size_t(C) + size_t(c0);
  const int32_t n = in_hi - in_lo;
  if (CB == 16)
    gather_columns<16>(src, size_t(C), n, tmp);
  else if (CB == 32)
    gather_columns<32>(src, size_t(C), n, tmp);
  else
    gather_columns<64>(src, size_t(C), n, tmp);
  float *d = dst + size_t(in_lo) * size_t(CB);
  for (size_t i = 0; i < size_t(n) * size_t(CB); ++i)
    d[i] = float(tmp[i]);
  for (size_t i = size_t(in_hi) * size_t(CB); i < size_t(cols) * size_t(CB); ++i)
    dst[i] = zp;
}


// The window's rows of output row oy in a ring of span rows (each input row
// widened once): ring slot of input row iy, refreshed when its tag differs.
// Channels c0 .. c0 + CB - 1 of x's C.
template <typename TX>
const float *ring_row(const ConvShape &s, const TX *x, int32_t b, int32_t iy, int32_t C, int32_t c0, int32_t CB,
                      int32_t cols, int32_t span, float *ring, int32_t *tag, TX *tmp = nullptr) {
  const int32_t slot = ((iy % span) + span) % span;
  float *r = ring + size_t(slot) * size_t(cols) * size_t(CB);
  if (tag[slot] != iy) {
    widen_row_block(s, x, b, iy, C, c0, CB, cols, r, tmp);
    tag[slot] = iy;
  }
  return r;
}

template <typename TX, typename TY>
void conv_depthwise(const ConvShape &s, const TX *x, const int8_t *wp, const int32_t *bias, const Requant &rq, TY *y,
                    void *scratch) {
  const int32_t C = s.cout, taps = s.kh * s.kw, span = dw_span_h(s), cols = dw_row_cols(s);
  const int32_t CB = dw_block_channels(s);
  Carver cv{static_cast<unsigned char *>(scratch)};
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(C) / sizeof(int64_t));
  int32_t *acc = cv.take<int32_t>(size_t(s.ow) * size_t(CB));
  float *wf = cv.take<float>(size_t(taps) * size_t(CB));
  float *ring = cv.take<float>(size_t(span) * size_t(cols) * size_t(CB));
  int32_t *tag = cv.take<int32_t>(size_t(span));
  TX *tmp = cv.take<TX>(size_t(cols) * size_t(CB));
  const RqTable table = rq_prepare(rq, tab);
  const size_t px = size_t(s.sw) * size_t(CB);
  // Tap pointers of one output row: up to kMaxTaps at once (larger windows
  // run a kernel row, and kMaxTaps of its columns, at a time).
  constexpr int32_t kMaxTaps = 64;
  const float *xtap[kMaxTaps];
  // Passes over blocks of CB channels (the last one overlapping its
  // neighbour); within a pass, ring rows, weights and accumulators hold CB
  // channels, so the row kernels below see CB as their channel count.
  for (int32_t cn = 0; cn < C; cn += CB) {
    const int32_t c0 = cn + CB <= C ? cn : C - CB;
    for (int32_t t = 0; t < taps; ++t)
      for (int32_t c = 0; c < CB; ++c)
        wf[size_t(t) * size_t(CB) + size_t(c)] = float(wp[size_t(t) * size_t(C) + size_t(c0 + c)]);
    for (int32_t b = 0; b < s.n; ++b) {
      for (int32_t i = 0; i < span; ++i)
        tag[i] = INT32_MIN;
      for (int32_t oy = 0; oy < s.oh; ++oy) {
        // The window's rows are distinct ring slots (span_h consecutive rows).
        auto row = [&](int32_t ky) {
          return ring_row(s, x, b, oy * s.sh - s.pt + ky * s.dh, C, c0, CB, cols, span, ring, tag, tmp);
        };
        if (taps <= kMaxTaps) {
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const float *r = row(ky);
            for (int32_t kx = 0; kx < s.kw; ++kx)
              xtap[ky * s.kw + kx] = r + size_t(kx) * size_t(s.dw) * size_t(CB);
          }
          if (taps == 9 && s.kw == 3 && (s.sw == 1 || s.sw == 2) && s.dw == 1 && CB >= 16) {
            const float *r3[3] = {xtap[0], xtap[3], xtap[6]};
            if (s.sw == 1)
              dw3_row<1>(r3, s.ow, wf, CB, acc);
            else
              dw3_row<2>(r3, s.ow, wf, CB, acc);
          } else if (taps == 9)
            dw_row_t<9>(xtap, px, s.ow, wf, CB, acc);
          else if (taps == 25)
            dw_row_t<25>(xtap, px, s.ow, wf, CB, acc);
          else
            for (int32_t d0 = 0; d0 < CB; d0 += 64) {
              const float *xt[kMaxTaps];
              for (int32_t t = 0; t < taps; ++t)
                xt[t] = xtap[t] + d0;
              dw_row_any(xt, px, s.ow, taps, wf + d0, CB, CB - d0 < 64 ? CB - d0 : 64, acc + d0, false);
            }
        } else {
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const float *r = row(ky);
            for (int32_t kx0 = 0; kx0 < s.kw; kx0 += kMaxTaps) {
              const int32_t nk = s.kw - kx0 < kMaxTaps ? s.kw - kx0 : kMaxTaps;
              for (int32_t d0 = 0; d0 < CB; d0 += 64) {
                for (int32_t t = 0; t < nk; ++t)
                  xtap[t] = r + size_t(kx0 + t) * size_t(s.dw) * size_t(CB) + size_t(d0);
                dw_row_any(xtap, px, s.ow, nk, wf + size_t(ky * s.kw + kx0) * size_t(CB) + size_t(d0), CB,
                           CB - d0 < 64 ? CB - d0 : 64, acc + d0, ky > 0 || kx0 > 0);
              }
            }
          }
        }
        TY *yrow = y + (size_t(b) * size_t(s.oh) + size_t(oy)) * size_t(s.ow) * size_t(C) + size_t(c0);
        requant_rows(acc, size_t(CB), bias + c0, CB, s.ow, table, c0, yrow, size_t(C));
      }
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
  (void)kp; // the K padding [K, kp) was zeroed by panel_setup
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
// Pixels per small-K panel: a multiple of the row tile (a short row tile runs
// at a fraction of the speed), at most kPanelMax (scratch sizing).
constexpr int32_t kSmallPanel = kSmallMR * (kPanelMax / kSmallMR);


inline size_t smallk_packed_bytes(const ConvShape &s) {
  const int32_t og = s.cout / s.group, K = (s.cin / s.group) * s.kh * s.kw;
  return size_t(s.group) * size_t(round_up(og, kOT)) * size_t(K);
}

// A 1x1 stride-1 unpadded conv: its panel rows are rows of x.
inline bool smallk_is_pointwise(const ConvShape &s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pl == 0 && s.oh == s.h && s.ow == s.w;
}
// Other convs of one group without horizontal dilation read their windows
// straight from widened input rows (no im2col): per kernel row, kw * cin
// contiguous floats.
inline bool smallk_uses_rows(const ConvShape &s) { return s.group == 1 && s.dw == 1 && !smallk_is_pointwise(s); }

// Float lanes: K <= kSmallK, and image stems (at most 4 input channels, a
// window read from widened rows) up to the exact-float bound: their im2col
// rows are short runs the K-reduction GEMM handles poorly (ResNet-18's 7x7
// stem, K = 147: 1.45 -> 1.10 ms).
constexpr int32_t kStemCin = 4;
inline bool conv_is_small_k(const ConvShape &s) {
  const int32_t K = (s.cin / s.group) * s.kh * s.kw;
  return K <= kSmallK || (s.cin <= kStemCin && smallk_uses_rows(s) && K <= kFloatExactTerms);
}

inline size_t smallk_scratch_bytes(const ConvShape &s) {
  const int32_t K = (s.cin / s.group) * s.kh * s.kw;
  const size_t rows = size_t(panel_rows(int64_t(s.oh) * s.ow));
  const size_t ogp = size_t(round_up(s.cout / s.group, kOT));
  if (smallk_uses_rows(s))
    return carve_bytes(rq_table_bytes(s.cout)) + carve_bytes(size_t(K) * ogp * 4) + carve_bytes(rows * ogp * 4) +
           carve_bytes(size_t(dw_span_h(s)) * size_t(dw_row_cols(s)) * size_t(s.cin) * 4) + // widened rows
           carve_bytes(size_t(dw_span_h(s)) * 4);                                          // ring tags
  return carve_bytes(rq_table_bytes(s.cout)) + carve_bytes(rows * size_t(K)) + // panel of 1-byte TX
         carve_bytes(rows * size_t(K) * 4) + carve_bytes(size_t(K) * ogp * 4) + // float panel, float weights of a group
         carve_bytes(rows * ogp * 4);                                          // accumulators of all tiles
}


// c[i][o] = sum over the K terms of row i times w[k][o], for MR rows and NO
// channels (w row stride kOT), accumulators in registers (hence out of line).
// The K terms are nseg runs of klen contiguous floats: run g of row i starts
// at seg[g] + off + i * lda (an im2col panel row: one run; a conv window on
// widened input rows: one run per kernel row). Weights of run g follow run g-1.
template <int MR, int NO>
QCC_RT_NOINLINE void smallk_tile(const float *const *seg, int32_t nseg, size_t off, size_t lda, int32_t klen,
                                 const float *w, int32_t *c, size_t ldc) {
  // klen >= 1: the first term initializes (a zero-initialized array compiled
  // to a memset and a round trip through the stack).
  float acc[MR][NO];
  const float *a = seg[0] + off;
  for (int i = 0; i < MR; ++i) {
    const float xv = a[size_t(i) * lda];
    QCC_RT_NO_UNROLL
    for (int o = 0; o < NO; ++o)
      acc[i][o] = xv * w[o];
  }
  for (int32_t g = 0; g < nseg; ++g) {
    a = seg[g] + off;
    const float *wg = w + size_t(g) * size_t(klen) * kOT;
    for (int32_t k = g == 0 ? 1 : 0; k < klen; ++k)
      for (int i = 0; i < MR; ++i) {
        const float xv = a[size_t(i) * lda + size_t(k)];
        QCC_RT_NO_UNROLL
        for (int o = 0; o < NO; ++o)
          acc[i][o] = fmadd(xv, wg[size_t(k) * kOT + size_t(o)], acc[i][o]);
      }
  }
  for (int i = 0; i < MR; ++i)
    for (int o = 0; o < NO; ++o)
      c[size_t(i) * ldc + size_t(o)] = int32_t(acc[i][o]);
}

// Rows [0, rows) against one tile of NO channels: MR rows at a time, the last
// MR overlapping the previous tile (recomputing a few rows is cheaper than
// single-row tiles); under MR rows, one at a time.
template <int MR, int NO>
void smallk_rows(const float *const *seg, int32_t nseg, size_t lda, int32_t klen, int32_t rows, const float *w,
                 int32_t *acc, size_t ldc) {
  if (rows < MR) {
    for (int32_t i = 0; i < rows; ++i)
      smallk_tile<1, NO>(seg, nseg, size_t(i) * lda, lda, klen, w, acc + size_t(i) * ldc, ldc);
    return;
  }
  for (int32_t i = 0;; i += MR) {
    const int32_t i0 = i + MR <= rows ? i : rows - MR;
    smallk_tile<MR, NO>(seg, nseg, size_t(i0) * lda, lda, klen, w, acc + size_t(i0) * ldc, ldc);
    if (i0 + MR == rows)
      break;
  }
}

// Rows [0, rows) against kOT packed channels of which n are real.
// (Narrower tiles for a short last tile compiled to memory-bound loops; a
// padded full tile is faster.)
inline void smallk_panel(const float *const *seg, int32_t nseg, size_t lda, int32_t klen, int32_t rows,
                         const float *wbuf, int32_t n, int32_t *acc, size_t ldc) {
  if (kSmallNO > 16 && n <= 16) { // one narrow tile: twice the rows instead of padded channels
    smallk_rows<kSmallMR * kSmallNO / 16, 16>(seg, nseg, lda, klen, rows, wbuf, acc, ldc);
    return;
  }
  for (int32_t o0 = 0; o0 < n; o0 += kSmallNO)
    smallk_rows<kSmallMR, kSmallNO>(seg, nseg, lda, klen, rows, wbuf + o0, acc + size_t(o0), ldc);
}

// Widened input rows instead of im2col (smallk_uses_rows): each kernel row of
// the window is one run of kw * cin floats, pixel stride sw * cin.
template <typename TX, typename TY>
void conv_small_k_rows(const ConvShape &s, const TX *x, const int8_t *wp, const int32_t *bias, const Requant &rq,
                       TY *y, void *scratch) {
  const int32_t K = s.cin * s.kh * s.kw, klen = s.kw * s.cin, span = dw_span_h(s), cols = dw_row_cols(s);
  const int32_t tiles = round_up(s.cout, kOT) / kOT;
  const size_t ogp = size_t(tiles) * kOT, prow = size_t(panel_rows(int64_t(s.oh) * s.ow));
  Carver cv{static_cast<unsigned char *>(scratch)};
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(s.cout) / sizeof(int64_t));
  float *wbuf = cv.take<float>(size_t(K) * ogp);
  int32_t *acc = cv.take<int32_t>(prow * ogp);
  float *ring = cv.take<float>(size_t(span) * size_t(cols) * size_t(s.cin));
  int32_t *tag = cv.take<int32_t>(size_t(span));
  for (size_t i = 0; i < size_t(K) * ogp; ++i)
    wbuf[i] = float(wp[i]);
  const RqTable table = rq_prepare(rq, tab);
  const size_t lda = size_t(s.sw) * size_t(s.cin);
  const float *rows_ky[kFloatExactTerms], *seg[kFloatExactTerms]; // kh <= K <= kFloatExactTerms
  for (int32_t b = 0; b < s.n; ++b) {
    for (int32_t i = 0; i < span; ++i)
      tag[i] = INT32_MIN;
    for (int32_t oy = 0; oy < s.oh; ++oy) {
      for (int32_t ky = 0; ky < s.kh; ++ky)
        rows_ky[ky] = ring_row(s, x, b, oy * s.sh - s.pt + ky * s.dh, s.cin, 0, s.cin, cols, span, ring, tag);
      for (int32_t ox0 = 0; ox0 < s.ow; ox0 += kSmallPanel) {
        const int32_t rows = s.ow - ox0 < kSmallPanel ? s.ow - ox0 : kSmallPanel;
        for (int32_t ky = 0; ky < s.kh; ++ky)
          seg[ky] = rows_ky[ky] + size_t(ox0) * lda;
        for (int32_t t = 0; t < tiles; ++t) {
          const int32_t n = s.cout - t * kOT < kOT ? s.cout - t * kOT : kOT;
          smallk_panel(seg, s.kh, lda, klen, rows, wbuf + size_t(t) * size_t(K) * kOT, n, acc + size_t(t) * kOT, ogp);
        }
        TY *yp = y + ((size_t(b) * size_t(s.oh) + size_t(oy)) * size_t(s.ow) + size_t(ox0)) * size_t(s.cout);
        requant_rows(acc, ogp, bias, s.cout, rows, table, 0, yp, size_t(s.cout));
      }
    }
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
  const size_t ogp = size_t(tiles) * kOT; // accumulator row: every tile of the group
  float *wbuf = cv.take<float>(size_t(K) * ogp);
  int32_t *acc = cv.take<int32_t>(prow * ogp);
  const RqTable table = rq_prepare(rq, tab);
  const bool direct = smallk_is_pointwise(s);
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t g = 0; g < s.group; ++g) {
      // The group's weights as float, once per call (all tiles: every panel uses them).
      const int8_t *wg = wp + size_t(g) * size_t(tiles) * size_t(K) * kOT;
      for (size_t i = 0; i < size_t(K) * ogp; ++i)
        wbuf[i] = float(wg[i]);
      for (int32_t p0 = 0; p0 < P; p0 += kSmallPanel) {
        const int32_t rows = P - p0 < kSmallPanel ? P - p0 : kSmallPanel;
        if (direct && K == s.cin) { // whole rows: one contiguous run
          const TX *src = x + (size_t(b) * size_t(P) + size_t(p0)) * size_t(K);
          for (size_t i = 0; i < size_t(rows) * size_t(K); ++i)
            af[i] = float(src[i]);
        } else if (direct) {
          const TX *src = x + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cin) + size_t(g) * size_t(K);
          for (int32_t i = 0; i < rows; ++i) {
            const TX *sr = src + size_t(i) * size_t(s.cin);
            float *dr = af + size_t(i) * size_t(K);
            for (int32_t k = 0; k < K; ++k)
              dr[k] = float(sr[k]);
          }
        } else {
          for (int32_t i = 0; i < rows; ++i)
            im2col_raw(s, x, b, g, (p0 + i) / s.ow, (p0 + i) % s.ow, a + size_t(i) * size_t(K));
          for (size_t i = 0; i < size_t(rows) * size_t(K); ++i)
            af[i] = float(a[i]);
        }
        for (int32_t t = 0; t < tiles; ++t) {
          const int32_t n = og - t * kOT < kOT ? og - t * kOT : kOT;
          const float *seg[1] = {af};
          smallk_panel(seg, 1, size_t(K), K, rows, wbuf + size_t(t) * size_t(K) * kOT, n, acc + size_t(t) * kOT, ogp);
        }
        // One requantization pass over whole rows (long runs vectorize better).
        TY *yp = y + (size_t(b) * size_t(P) + size_t(p0)) * size_t(s.cout) + size_t(g) * size_t(og);
        requant_rows(acc, ogp, bias + size_t(g) * size_t(og), og, rows, table, g * og, yp, size_t(s.cout));
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
  else if (detail::conv_is_small_k(s) && detail::smallk_uses_rows(s))
    detail::conv_small_k_rows(s, x, w_packed, bias, rq, y, scratch);
  else if (detail::conv_is_small_k(s))
    detail::conv_small_k(s, x, w_packed, bias, rq, y, scratch);
  else
    detail::conv_general(s, x, w_packed, bias, rq, y, scratch);
}

} // namespace qcc_rt
