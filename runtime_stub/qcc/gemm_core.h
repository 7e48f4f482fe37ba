// qcc kernel library: the int8 GEMM core shared by conv_nhwc and gemm.
//
// Packed weights ("row-major K-padded", the same bytes on every target; qcc
// packs them on the host at compile time):
//   for each group g, for each output channel o of the group, rounded up to a
//   multiple of kNrPad: kpad(K) int8 weights, K in (ky, kx, ci) order (NHWC
//   patch order), zero padded from K to kpad(K) = K rounded up to kKAlign;
//   rows past the group's channel count are zero;
//   then cout int32 little-endian: the sum of each channel's K weights.
//
// The kernel multiplies an activation panel A (pixels x kpad(K), the im2col
// rows, built in scratch) by the weight rows with a register-tiled
// micro-kernel whose inner loop is a K-reduction: compilers turn it into dot
// product instructions (pmaddwd, vpdpwssd, vpdpbusd, sdot). The element type
// of A is chosen per target (QCC_RT_DOT; override with -DQCC_RT_DOT=n):
//   0: int16 (every SIMD ISA has a 16-bit multiply-add into 32 bits)
//   1: uint8, with int8 inputs shifted by +128 (x86 VNNI: u8 x s8 dot products)
//   2: int8, with uint8 inputs shifted by -128 (Arm dot product: s8 x s8)
// A shift by 128 is undone exactly through the weight sums: the per-channel
// offset is bias - shift * sum(w) (32-bit wrapping arithmetic).
#pragma once

#include "epilogue.h"
#include "shapes.h"

#include <cstring>
#include <type_traits>

#ifndef QCC_RT_DOT
#if defined(__AVX512VNNI__) || defined(__AVXVNNI__)
#define QCC_RT_DOT 1
#elif defined(__ARM_FEATURE_DOTPROD)
#define QCC_RT_DOT 2
#else
#define QCC_RT_DOT 0
#endif
#endif

// Micro-kernels stay out of line: inlined into the big drivers, compilers
// tend to keep their accumulator arrays in memory instead of registers.
#if defined(__GNUC__)
#define QCC_RT_NOINLINE __attribute__((noinline))
#else
#define QCC_RT_NOINLINE
#endif

namespace qcc_rt {
namespace detail {

constexpr int32_t kKAlign = 64; // K padding of packed weight rows
constexpr int32_t kNrPad = 8;   // output channels per group padded to this
constexpr int32_t kPanelMax = 64; // pixels per activation panel (scratch sizing)

#if QCC_RT_DOT == 1
using AccT = uint8_t;
constexpr int32_t kMR = 6, kNR = 4;
#elif QCC_RT_DOT == 2
using AccT = int8_t;
constexpr int32_t kMR = 4, kNR = 4;
#else
using AccT = int16_t;
#if defined(__AVX512F__)
constexpr int32_t kMR = 4, kNR = 8;
#else
constexpr int32_t kMR = 4, kNR = 4;
#endif
#endif
constexpr int32_t kPanel = kMR * (kPanelMax / kMR); // pixels per panel, a multiple of kMR
static_assert(kNrPad % kNR == 0, "channel tiles must divide the channel padding");

inline int32_t round_up(int32_t v, int32_t m) { return (v + m - 1) / m * m; }
inline int32_t kpad(int32_t k) { return round_up(k < 1 ? 1 : k, kKAlign); }

// A value of the input type TX as stored in A (shifted by 128 when needed).
template <typename TX> constexpr int32_t a_shift() {
  return std::is_same<AccT, uint8_t>::value && std::is_signed<TX>::value     ? 128
         : std::is_same<AccT, int8_t>::value && !std::is_signed<TX>::value ? -128
                                                                           : 0;
}
template <typename TX> inline AccT to_a(TX v) { return AccT(int32_t(v) + a_shift<TX>()); }

// dst[i] = to_a(src[i]) for i < n, in 16-element chunks through local buffers
// (straight-line vector code; a plain loop would size its vectors for 64
// lanes and run short patch rows in scalar code). The last chunk overlaps.
template <typename TX> inline void convert_16(const TX *src, AccT *dst) {
  TX in[16];
  AccT out[16];
  std::memcpy(in, src, sizeof(in));
  for (int i = 0; i < 16; ++i)
    out[i] = to_a<TX>(in[i]);
  std::memcpy(dst, out, sizeof(out));
}
template <typename TX> inline void convert_64(const TX *src, AccT *dst) {
  TX in[64];
  AccT out[64];
  std::memcpy(in, src, sizeof(in));
  for (int i = 0; i < 64; ++i)
    out[i] = to_a<TX>(in[i]);
  std::memcpy(dst, out, sizeof(out));
}
template <typename TX> inline void convert_run(const TX *src, int32_t n, AccT *dst) {
  if (n < 16) {
    for (int32_t i = 0; i < n; ++i)
      dst[i] = to_a<TX>(src[i]);
    return;
  }
  int32_t i = 0;
  for (; i + 64 <= n; i += 64)
    convert_64(src + i, dst + i);
  for (; i + 16 <= n; i += 16)
    convert_16(src + i, dst + i);
  if (i < n)
    convert_16(src + n - 16, dst + n - 16);
}

// Little-endian int32 in packed bytes (any alignment, any host order).
inline void put_le32(int8_t *p, int32_t v) {
  const uint32_t u = uint32_t(v);
  for (int i = 0; i < 4; ++i)
    p[i] = int8_t(uint8_t(u >> (8 * i)));
}
inline int32_t get_le32(const int8_t *p) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i)
    u |= uint32_t(uint8_t(p[i])) << (8 * i);
  return int32_t(u);
}

// Bytes of packed rows for `groups` groups of `cout_g` channels of K weights, plus sums.
inline size_t rows_packed_bytes(int32_t groups, int32_t cout_g, int32_t k) {
  return size_t(groups) * size_t(round_up(cout_g, kNrPad)) * size_t(kpad(k)) + size_t(groups) * size_t(cout_g) * 4;
}

// get(g, o, k) -> int8 weight of channel o of group g at patch index k.
template <typename Get> void pack_rows(int32_t groups, int32_t cout_g, int32_t k, int8_t *packed, Get get) {
  const int32_t kp = kpad(k), op = round_up(cout_g, kNrPad);
  int8_t *sums = packed + size_t(groups) * size_t(op) * size_t(kp);
  for (int32_t g = 0; g < groups; ++g)
    for (int32_t o = 0; o < op; ++o) {
      int8_t *row = packed + (size_t(g) * size_t(op) + size_t(o)) * size_t(kp);
      int32_t sum = 0;
      for (int32_t i = 0; i < kp; ++i) {
        const int8_t v = (o < cout_g && i < k) ? get(g, o, i) : int8_t(0);
        row[i] = v;
        sum += v;
      }
      if (o < cout_g)
        put_le32(sums + 4 * (size_t(g) * size_t(cout_g) + size_t(o)), sum);
    }
}

// MR x NR register tile: c[i * ldc + j] = sum_k a[i * lda + k] * b[j * ldb + k].
template <int MR, int NR>
QCC_RT_NOINLINE void micro_tile(const AccT *a, size_t lda, const int8_t *b, size_t ldb, int32_t kp, int32_t *c, size_t ldc) {
  int32_t acc[MR][NR] = {};
  for (int32_t k = 0; k < kp; ++k)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        acc[i][j] += int32_t(a[size_t(i) * lda + size_t(k)]) * int32_t(b[size_t(j) * ldb + size_t(k)]);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      c[size_t(i) * ldc + size_t(j)] = acc[i][j];
}

// Scratch layout shared by conv and gemm: aligned regions carved from the
// caller's buffer (which need not be aligned).
struct Carver {
  unsigned char *p;
  template <typename T> T *take(size_t count) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    a = (a + 63) & ~uintptr_t(63);
    T *r = reinterpret_cast<T *>(a);
    p = reinterpret_cast<unsigned char *>(a + count * sizeof(T));
    return r;
  }
};
inline size_t carve_bytes(size_t bytes) { return bytes + 64; }

// Panel rows the scratch must hold when the GEMM has `rows` rows in all (a
// target-independent bound on the kernel's panel height).
inline int32_t panel_rows(int64_t rows) { return rows < 1 ? 1 : rows < kPanelMax ? int32_t(rows) : kPanelMax; }

// Scratch bytes of the panel GEMM for cout channels (all groups), cout_g per
// group, K, with panels of at most `rows` rows (see panel_rows).
inline size_t panel_scratch_bytes(int32_t cout, int32_t cout_g, int32_t k, int32_t rows) {
  return carve_bytes(size_t(cout) * 4) +                                   // offsets
         carve_bytes(rq_table_bytes(cout)) +                               // requant table
         carve_bytes(size_t(rows) * size_t(kpad(k)) * 2) +                 // A panel (AccT: 1 or 2 bytes)
         carve_bytes(size_t(rows) * size_t(round_up(cout_g, kNrPad)) * 4); // accumulators
}

// Per-channel offsets (bias - shift * sum(w)) and the requant table.
struct PanelCtx {
  int32_t *offset;
  RqTable table;
  AccT *a;
  int32_t *acc;
};

template <typename TX>
PanelCtx panel_setup(int32_t groups, int32_t cout_g, int32_t k, int32_t rows, const int8_t *packed,
                     const int32_t *bias, const Requant &rq, void *scratch) {
  const int32_t cout = groups * cout_g, op = round_up(cout_g, kNrPad), kp = kpad(k);
  Carver cv{static_cast<unsigned char *>(scratch)};
  PanelCtx c;
  c.offset = cv.take<int32_t>(size_t(cout));
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(cout) / sizeof(int64_t));
  static_assert(sizeof(AccT) <= 2, "panel scratch is sized for at most 2-byte elements");
  c.a = cv.take<AccT>(size_t(rows) * size_t(kp) * 2 / sizeof(AccT));
  c.acc = cv.take<int32_t>(size_t(rows) * size_t(op));
  // Panel rows are written over [0, k) only: their K padding is zeroed once.
  if (kp > k)
    for (int32_t i = 0; i < rows; ++i)
      std::memset(c.a + size_t(i) * size_t(kp) + size_t(k), 0, size_t(kp - k) * sizeof(AccT));
  const int8_t *sums = packed + size_t(groups) * size_t(op) * size_t(kp);
  const uint32_t shift = uint32_t(a_shift<TX>());
  for (int32_t o = 0; o < cout; ++o)
    c.offset[o] = int32_t(uint32_t(bias[o]) - shift * uint32_t(get_le32(sums + 4 * size_t(o))));
  c.table = rq_prepare(rq, tab);
  return c;
}

// acc[p * op + o] for the `rows` panel rows against group g's packed rows.
inline void panel_multiply(const AccT *a, int32_t rows, int32_t kp, const int8_t *wg, int32_t op, int32_t *acc) {
  const int32_t full = rows - rows % kMR;
  for (int32_t o = 0; o < op; o += kNR) {
    const int8_t *b = wg + size_t(o) * size_t(kp);
    for (int32_t i = 0; i < full; i += kMR)
      micro_tile<kMR, kNR>(a + size_t(i) * size_t(kp), size_t(kp), b, size_t(kp), kp, acc + size_t(i) * size_t(op) + size_t(o),
                           size_t(op));
    for (int32_t i = full; i < rows; ++i)
      micro_tile<1, kNR>(a + size_t(i) * size_t(kp), size_t(kp), b, size_t(kp), kp, acc + size_t(i) * size_t(op) + size_t(o),
                         size_t(op));
  }
}

} // namespace detail
} // namespace qcc_rt
