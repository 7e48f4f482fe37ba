// qcc kernel library: requantization of rows of int32 accumulators, written
// branch-free over per-channel tables so compilers vectorize it. The scalar
// requantize() in requant.h is the definition; the tests check that the two
// agree bit for bit.
//
//   y[i] = clamp(zero_point + R_(c0+i)(acc[i] + offset[i]), lo, hi)
//
// acc + offset wraps in 32 bits, as the reference's int32 accumulator would.
// All shift counts and factors are precomputed per channel as int64, so the
// loops have no variable shifts of constants and one lane width for the 64-bit
// arithmetic (what vectorizers need).
#pragma once

#include "requant.h"

#include <cstring>

namespace qcc_rt {
namespace detail {

// Per-channel requantization parameters, structure of arrays.
//   tflite: p0 = 2^left; m32 = multiplier (0 where the result is always 0),
//           r32 = right shift (<= 31), k32 = 2^right - 1 (int32 arrays)
//   single: p0 = multiplier (0 where the result is always 0), p1 = rounding
//           addend 2^(total-1) (0 if total <= 0), p2 = total shift (0 if <= 0)
//   onnx:   scale only.
struct RqTable {
  const int64_t *p0, *p1, *p2;
  const int32_t *m32, *r32, *k32;
  const int64_t *ta, *tadj, *ts; // tflite, one rounding: addend, negative adjustment, total shift
  const float *scale;
  int32_t rounding, zero_point, lo, hi;
  bool per_channel;
  bool left_shift; // tflite: some channel shifts left (multiplier >= 1)
  bool one_floor;  // tflite without left shifts and without multiplier INT32_MIN: rq_tflite1 applies
};

// Bytes of table storage for `channels` channels (int64-aligned).
inline size_t rq_table_bytes(int32_t channels) {
  return (size_t(channels) * (6 * sizeof(int64_t) + 3 * sizeof(int32_t)) + 7) / 8 * 8;
}

// Fills `storage` (rq_table_bytes(rq.channels), int64-aligned) and returns the table.
// Branch-free loops per rounding mode (they run on every call, per channel).
inline RqTable rq_prepare(const Requant &rq, int64_t *storage) {
  const int32_t n = rq.channels;
  int64_t *p0 = storage, *p1 = storage + n, *p2 = storage + 2 * n;
  int64_t *ta = storage + 3 * n, *tadj = storage + 4 * n, *ts = storage + 5 * n;
  int32_t *m32 = reinterpret_cast<int32_t *>(storage + 6 * n), *r32 = m32 + n, *k32 = r32 + n;
  RqTable t{p0, p1, p2, m32, r32, k32, ta, tadj, ts, rq.scale, rq.rounding, rq.zero_point, rq.lo, rq.hi, n != 1, false,
            rq.rounding == kRoundTflite};
  // Each rounding mode fills (and the loops read) only its own fields.
  const int32_t *M = rq.multiplier, *S = rq.shift;
  if (rq.rounding == kRoundSingle) {
    for (int32_t c = 0; c < n; ++c) {
      const int64_t total = 31 + int64_t(S[c]);
      const int32_t m = M[c];
      const bool on = total > 0 && total < 63;
      const int64_t sh = on ? total - 1 : 0;
      p0[c] = total >= 63 ? 0 : int64_t(m);
      p1[c] = on ? int64_t(1) << sh : 0;
      p2[c] = on ? total : 0;
    }
  } else if (rq.rounding == kRoundTflite) {
    int32_t any_left = 0, any_min = 0;
    for (int32_t c = 0; c < n; ++c) {
      any_left |= S[c] < 0 ? 1 : 0;
      any_min |= M[c] == INT32_MIN ? 1 : 0;
    }
    t.left_shift = any_left != 0;
    t.one_floor = any_left == 0 && any_min == 0;
    for (int32_t c = 0; c < n; ++c) { // 32-bit fields (r32 = 0 and m32 = 0 where the result is 0)
      const int32_t s = S[c], m = M[c];
      const bool big = s > 31;
      const int32_t r = s > 0 && !big ? s : 0;
      m32[c] = big ? 0 : m;
      r32[c] = r;
      k32[c] = int32_t((uint32_t(1) << r) - 1u);
    }
    // 64-bit fields, all 0 where the result is 0 (s > 31). Powers of two come
    // from 32-bit shifts (gcc does not vectorize variable 64-bit shifts).
    for (int32_t c = 0; c < n; ++c) {
      const int32_t s = S[c];
      const int64_t live = s <= 31 ? 1 : 0;
      const int32_t r = s > 0 && s <= 31 ? s : 0;
      const int64_t rpos = r > 0 ? 1 : 0, pow_r = int64_t(uint32_t(1) << r);
      ta[c] = live * ((int64_t(1) << 30) + rpos * (pow_r << 30));
      tadj[c] = rpos << 31;
      ts[c] = live * (31 + int64_t(r));
      const int32_t left = s < -32 ? 32 : s < 0 ? -s : 0; // 2^left, left saturating at 32
      p0[c] = int64_t(uint32_t(1) << (left > 31 ? 31 : left)) * (left > 31 ? 2 : 1);
    }
  }
  return t;
}

inline int32_t wrap_add(int32_t a, int32_t b) { return int32_t(uint32_t(a) + uint32_t(b)); }

inline int64_t sat32_64(int64_t v) { return v < INT32_MIN ? int64_t(INT32_MIN) : v > INT32_MAX ? int64_t(INT32_MAX) : v; }

// gemmlowp's SRDHM, (v * m + nudge) / 2^31 truncated, equals round-half-up of
// v * m / 2^31: (v * m + 2^30) >> 31 (floor). Only v = m = INT32_MIN
// saturates. The rounding right shift then runs on 32-bit lanes.
// Saturating left shift (kLeft), SRDHM, rounding right shift.
template <bool kLeft> inline int32_t rq_tflite(int32_t x, int64_t f, int32_t m, int32_t r, int32_t mask) {
  const int64_t v = kLeft ? sat32_64(int64_t(x) * f) : int64_t(x);
  int64_t high = (v * m + (int64_t(1) << 30)) >> 31;
  high = high > INT32_MAX ? int64_t(INT32_MAX) : high; // only v = m = INT32_MIN reaches 2^31
  const int32_t h = int32_t(high);
  const int32_t rem = h & mask;
  const int32_t thr = (mask >> 1) + (h < 0 ? 1 : 0);
  return (h >> r) + (rem > thr ? 1 : 0);
}

// The same without left shift as one floor division: with p = x * m and
// h = floor((p + 2^30) / 2^31) (SRDHM, for m != INT32_MIN), the rounding
// right shift by r >= 1 is floor((h + 2^(r-1) - [h < 0]) / 2^r), and nested
// floors of integer quotients merge: R = floor((p + a - [p < -2^30] * adj) / 2^s)
// with a = 2^30 + 2^(30+r), adj = 2^31, s = 31 + r (r = 0: a = 2^30, adj = 0).
inline int32_t rq_tflite1(int32_t x, int32_t m, int64_t a, int64_t adj, int64_t s) {
  const int64_t p = int64_t(x) * int64_t(m);
  return int32_t((p + a - (p < -(int64_t(1) << 30) ? adj : 0)) >> s);
}

inline int32_t rq_single(int32_t x, int64_t m, int64_t rnd, int64_t t) {
  return int32_t(sat32_64((int64_t(x) * m + rnd) >> t));
}

// onnx: float32 product, clamp (NaN goes to the low end, as fmax does), round half to even.
inline int32_t rq_onnx(int32_t x, float scale) {
  float v = float(x) * scale;
  v = v >= -2147483648.f ? v : -2147483648.f;
  v = v <= 2147483520.f ? v : 2147483520.f;
  return int32_t(round_even(v));
}

// clamp(zp + r, lo, hi) without 64-bit lanes: r is clamped to the bounds
// shifted by -zp (themselves clamped to int32, which r cannot pass anyway).
struct OutClamp {
  int32_t zp, rlo, rhi;
  OutClamp(int32_t zp_, int32_t lo, int32_t hi) : zp(zp_) {
    const int64_t l = int64_t(lo) - zp_, h = int64_t(hi) - zp_;
    rlo = int32_t(l < INT32_MIN ? int64_t(INT32_MIN) : l > INT32_MAX ? int64_t(INT32_MAX) : l);
    rhi = int32_t(h < INT32_MIN ? int64_t(INT32_MIN) : h > INT32_MAX ? int64_t(INT32_MAX) : h);
  }
  int32_t operator()(int32_t r) const { // max then min (one instruction each where vectorized)
    const int32_t lo = r > rlo ? r : rlo;
    return (lo < rhi ? lo : rhi) + zp;
  }
};

// y[i] = TY(v[i]).
template <typename TY> inline void narrow(const int32_t *v, int32_t n, TY *y) {
  for (int32_t i = 0; i < n; ++i)
    y[i] = TY(v[i]);
}

// y[i] = TY(f(i)) for i < n, in blocks of kB (a constant trip count: the
// block's 64-bit intermediates stay in vector registers); the results go
// through a local int32 block, narrowed in a second constant-trip loop (a
// narrowing store straight from registers compiles to slow vpmov* stores on
// some x86). Blocks of 64, then of 16; a short tail recomputes the last full
// block (f reads only its inputs); rows under 16 run element by element.
template <int32_t kB, typename TY, typename F> inline void rq_block(int32_t i, TY *y, F &f) {
  int32_t v[kB];
  for (int32_t j = 0; j < kB; ++j)
    v[j] = f(i + j);
  TY o[kB];
  for (int32_t j = 0; j < kB; ++j)
    o[j] = TY(v[j]);
  std::memcpy(y + i, o, sizeof(o));
}

template <typename TY, typename F> inline void rq_store_blocks(int32_t n, TY *y, F &&f) {
  int32_t i = 0;
  for (; i + 64 <= n; i += 64)
    rq_block<64>(i, y, f);
  for (; i + 16 <= n; i += 16)
    rq_block<16>(i, y, f);
  if (i == n)
    return;
  if (n >= 16) {
    rq_block<16>(n - 16, y, f);
    return;
  }
  for (; i < n; ++i)
    y[i] = TY(f(i));
}

// Over `rows` rows of n channels (row r at acc + r * stride): y = clamp(zp +
// R(acc[i] + offset[i])), row r at y + r * y_stride. acc is only read.
// Rows under kRqB channels: element by element along each row.
template <bool kPerChannel, typename TY>
void requant_rows_narrow(const int32_t *acc, size_t stride, const int32_t *offset, int32_t n, int32_t rows,
                         const RqTable &t, int32_t c0, TY *y, size_t y_stride) {
  const OutClamp clamp_out(t.zero_point, t.lo, t.hi);
  const int32_t b = kPerChannel ? c0 : 0;
  for (int32_t r = 0; r < rows; ++r) {
    const int32_t *a = acc + size_t(r) * stride;
    TY *yr = y + size_t(r) * y_stride;
    if (t.rounding == kRoundOnnx) {
      const float *sc = t.scale + b;
      rq_store_blocks(n, yr, [&](int32_t i) { return clamp_out(rq_onnx(wrap_add(a[i], offset[i]), sc[kPerChannel ? i : 0])); });
    } else if (t.rounding == kRoundSingle) {
      const int64_t *p0 = t.p0 + b, *p1 = t.p1 + b, *p2 = t.p2 + b;
      rq_store_blocks(n, yr, [&](int32_t i) {
        const int32_t j = kPerChannel ? i : 0;
        return clamp_out(rq_single(wrap_add(a[i], offset[i]), p0[j], p1[j], p2[j]));
      });
    } else if (t.one_floor) {
      const int32_t *m32 = t.m32 + b;
      const int64_t *ta = t.ta + b, *tadj = t.tadj + b, *ts = t.ts + b;
      rq_store_blocks(n, yr, [&](int32_t i) {
        const int32_t j = kPerChannel ? i : 0;
        return clamp_out(rq_tflite1(wrap_add(a[i], offset[i]), m32[j], ta[j], tadj[j], ts[j]));
      });
    } else if (t.left_shift) {
      const int64_t *p0 = t.p0 + b;
      const int32_t *m32 = t.m32 + b, *r32 = t.r32 + b, *k32 = t.k32 + b;
      rq_store_blocks(n, yr, [&](int32_t i) {
        const int32_t j = kPerChannel ? i : 0;
        return clamp_out(rq_tflite<true>(wrap_add(a[i], offset[i]), p0[j], m32[j], r32[j], k32[j]));
      });
    } else {
      const int32_t *m32 = t.m32 + b, *r32 = t.r32 + b, *k32 = t.k32 + b;
      rq_store_blocks(n, yr, [&](int32_t i) {
        const int32_t j = kPerChannel ? i : 0;
        return clamp_out(rq_tflite<false>(wrap_add(a[i], offset[i]), 1, m32[j], r32[j], k32[j]));
      });
    }
  }
}

// Channels per block of the row-streaming epilogue.
constexpr int32_t kRqB = 16;

// Every row of one block of kRqB channels: f(acc value, lane) -> int32. The
// block's parameters live in f's local arrays, loaded once per block and held
// in registers while the rows stream past (reloading the 64-bit tables for
// every row made the epilogue load-bound).
template <typename TY, typename F>
inline void rq_block_rows(const int32_t *acc, size_t stride, int32_t rows, TY *y, size_t y_stride, const F &f) {
  for (int32_t r = 0; r < rows; ++r) {
    const int32_t *a = acc + size_t(r) * stride;
    int32_t v[kRqB];
    for (int32_t j = 0; j < kRqB; ++j)
      v[j] = f(a[j], j);
    TY o[kRqB];
    for (int32_t j = 0; j < kRqB; ++j)
      o[j] = TY(v[j]);
    std::memcpy(y + size_t(r) * y_stride, o, sizeof(o));
  }
}

// Blocks of kRqB channels (the last one overlapping its neighbour when n is
// not a multiple), rows inner.
template <bool kPerChannel, typename TY>
void requant_rows_t(const int32_t *acc, size_t stride, const int32_t *offset, int32_t n, int32_t rows,
                    const RqTable &t, int32_t c0, TY *y, size_t y_stride) {
  if (n < kRqB) {
    requant_rows_narrow<kPerChannel>(acc, stride, offset, n, rows, t, c0, y, y_stride);
    return;
  }
  const OutClamp clamp_out(t.zero_point, t.lo, t.hi);
  for (int32_t c = 0; c < n; c += kRqB) {
    const int32_t cb = c + kRqB <= n ? c : n - kRqB;
    const int32_t *ab = acc + cb;
    TY *yb = y + cb;
    int32_t off[kRqB];
    for (int32_t j = 0; j < kRqB; ++j)
      off[j] = offset[cb + j];
    auto at = [&](int32_t j) { return kPerChannel ? size_t(c0 + cb + j) : size_t(0); };
    if (t.rounding == kRoundOnnx) {
      float sc[kRqB];
      for (int32_t j = 0; j < kRqB; ++j)
        sc[j] = t.scale[at(j)];
      rq_block_rows(ab, stride, rows, yb, y_stride,
                    [&](int32_t a, int32_t j) { return clamp_out(rq_onnx(wrap_add(a, off[j]), sc[j])); });
    } else if (t.rounding == kRoundSingle) {
      int64_t p0[kRqB], p1[kRqB], p2[kRqB];
      for (int32_t j = 0; j < kRqB; ++j)
        p0[j] = t.p0[at(j)], p1[j] = t.p1[at(j)], p2[j] = t.p2[at(j)];
      rq_block_rows(ab, stride, rows, yb, y_stride,
                    [&](int32_t a, int32_t j) { return clamp_out(rq_single(wrap_add(a, off[j]), p0[j], p1[j], p2[j])); });
    } else if (t.one_floor) {
      int32_t m[kRqB];
      int64_t ta[kRqB], tadj[kRqB], ts[kRqB];
      for (int32_t j = 0; j < kRqB; ++j)
        m[j] = t.m32[at(j)], ta[j] = t.ta[at(j)], tadj[j] = t.tadj[at(j)], ts[j] = t.ts[at(j)];
      rq_block_rows(ab, stride, rows, yb, y_stride, [&](int32_t a, int32_t j) {
        return clamp_out(rq_tflite1(wrap_add(a, off[j]), m[j], ta[j], tadj[j], ts[j]));
      });
    } else {
      int64_t p0[kRqB];
      int32_t m[kRqB], r[kRqB], k[kRqB];
      for (int32_t j = 0; j < kRqB; ++j)
        p0[j] = t.p0[at(j)], m[j] = t.m32[at(j)], r[j] = t.r32[at(j)], k[j] = t.k32[at(j)];
      if (t.left_shift)
        rq_block_rows(ab, stride, rows, yb, y_stride, [&](int32_t a, int32_t j) {
          return clamp_out(rq_tflite<true>(wrap_add(a, off[j]), p0[j], m[j], r[j], k[j]));
        });
      else
        rq_block_rows(ab, stride, rows, yb, y_stride, [&](int32_t a, int32_t j) {
          return clamp_out(rq_tflite<false>(wrap_add(a, off[j]), 1, m[j], r[j], k[j]));
        });
    }
  }
}

// Per tensor, in place: a[i] = R(a[i]) (kOut: clamp(zp + R(a[i]))).
template <bool kOut> void rq_apply(int32_t *a, int32_t n, const RqTable &t) {
  const OutClamp clamp_out(kOut ? t.zero_point : 0, kOut ? t.lo : INT32_MIN, kOut ? t.hi : INT32_MAX);
  if (t.rounding == kRoundOnnx) {
    const float sc = t.scale[0];
    for (int32_t i = 0; i < n; ++i)
      a[i] = clamp_out(rq_onnx(a[i], sc));
  } else if (t.rounding == kRoundSingle) {
    const int64_t p0 = t.p0[0], p1 = t.p1[0], p2 = t.p2[0];
    for (int32_t i = 0; i < n; ++i)
      a[i] = clamp_out(rq_single(a[i], p0, p1, p2));
  } else if (t.one_floor) {
    const int32_t m = t.m32[0];
    const int64_t ta = t.ta[0], tadj = t.tadj[0], ts = t.ts[0];
    for (int32_t i = 0; i < n; ++i)
      a[i] = clamp_out(rq_tflite1(a[i], m, ta, tadj, ts));
  } else if (t.left_shift) {
    const int64_t p0 = t.p0[0];
    const int32_t m = t.m32[0], r = t.r32[0], k = t.k32[0];
    for (int32_t i = 0; i < n; ++i)
      a[i] = clamp_out(rq_tflite<true>(a[i], p0, m, r, k));
  } else {
    const int32_t m = t.m32[0], r = t.r32[0], k = t.k32[0];
    for (int32_t i = 0; i < n; ++i)
      a[i] = clamp_out(rq_tflite<false>(a[i], 1, m, r, k));
  }
}

// Storage for a per-tensor table.
struct RqTable1 {
  int64_t storage[12];
  RqTable t;
  explicit RqTable1(const Requant &rq) {
    Requant one = rq;
    one.channels = 1;
    t = rq_prepare(one, storage);
  }
};

// Requantizes `rows` rows of acc (n channels c0 .. c0 + n - 1, plus offset)
// into y; acc is overwritten.
template <typename TY>
void requant_rows(int32_t *acc, size_t stride, const int32_t *offset, int32_t n, int32_t rows, const RqTable &t,
                  int32_t c0, TY *y, size_t y_stride) {
  if (t.per_channel)
    requant_rows_t<true>(acc, stride, offset, n, rows, t, c0, y, y_stride);
  else
    requant_rows_t<false>(acc, stride, offset, n, rows, t, c0, y, y_stride);
}


} // namespace detail
} // namespace qcc_rt
