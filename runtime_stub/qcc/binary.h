// qcc kernel library: binary layers by XNOR-popcount (a qcc::QConv / QGemm
// whose inputs hold only -1 and +1 and whose weights are +-m_o per output
// channel o, m_o > 0; the backend proves both before it picks this kernel).
//
// With bit(v) = (v < 0), a product of two +-1 values is 1 - 2 * (bit(x) ^
// bit(w)), so over the K_valid taps of one output
//   acc_o = bias_o + m_o * (K_valid - 2 * popcount(x_bits ^ w_bits)).
// Conv padding holds the input zero point, which must be 0: a padded tap adds
// 0, not +-1, so each output position carries a mask of its valid taps and
// K_valid counts them. The result goes through the same requantization as
// the int8 kernels (epilogue.h), so it equals qcc::QConv / QGemm exactly.
//
// Packed weights (binary_*_pack_weights, run by qcc at compile time): for
// group g, word i of the K bits (K = kh * kw * cin/group for a conv, k for a
// GEMM; bit j of the patch is word j / 64, bit j % 64, j = (ky * kw + kx) *
// cin/group + c as in OHWI order) of the group's output channels o:
//   bits[(g * kwords + i) * ogp + o]   (og = cout/group padded to ogp, a
//   multiple of kBinLanes; bits past K and padding channels are 0)
// word-major, so a vector of kBinLanes output channels is one load.
// magnitude[o] = m_o (cout values). Scratch: binary_*_scratch_bytes, any
// alignment.
#pragma once

#include "epilogue.h"
#include "shapes.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

// Portable C++17 has no popcount; gcc and clang have a builtin.
#if defined(__GNUC__) || defined(__clang__)
#define QCC_RT_POPCOUNT64(v) int32_t(__builtin_popcountll(v))
#else
#define QCC_RT_POPCOUNT64(v) ::qcc_rt::detail::popcount64_swar(v)
#endif

namespace qcc_rt {

namespace detail {

inline int32_t popcount64_swar(uint64_t v) {
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return int32_t((v * 0x0101010101010101ull) >> 56);
}

inline int32_t bin_words(int64_t bits) { return int32_t((bits + 63) / 64); }

// Output channels per vector of popcounts (8 x 64 bits: one AVX-512 register).
constexpr int32_t kBinLanes = 8;
inline int32_t bin_padded(int32_t og) { return (og + kBinLanes - 1) / kBinLanes * kBinLanes; }

// The n (1..64) bits of src starting at bit `at`.
inline uint64_t bin_get(const uint64_t *src, int64_t at, int32_t n) {
  const int64_t w = at >> 6;
  const int32_t b = int32_t(at & 63);
  uint64_t v = src[w] >> b;
  if (b && b + n > 64)
    v |= src[w + 1] << (64 - b);
  return n == 64 ? v : v & ((uint64_t(1) << n) - 1);
}

// ORs the low n (1..64) bits of v into dst at bit `at`.
inline void bin_or(uint64_t *dst, int64_t at, uint64_t v, int32_t n) {
  const int64_t w = at >> 6;
  const int32_t b = int32_t(at & 63);
  dst[w] |= v << b;
  if (b && b + n > 64)
    dst[w + 1] |= v >> (64 - b);
}

// Sign bits of n values (bit j of the words = x[j] < 0); bits past n in the
// last word are 0.
template <typename TX> inline void bin_pack_row(const TX *x, int64_t n, uint64_t *bits) {
  int64_t i = 0;
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (sizeof(TX) == 1 && TX(-1) < TX(0)) {
    // 8 int8 values at a time: their sign bits (bit 8k + 7 of a little-endian
    // load) moved to bit 8k, then one multiply gathers bit 8k into bit 56 + k
    // (every partial product lands on its own bit: no carries).
    for (; i + 64 <= n; i += 64) {
      uint64_t v = 0;
      for (int32_t b = 0; b < 8; ++b) {
        uint64_t q;
        std::memcpy(&q, x + i + 8 * b, 8);
        v |= (((q >> 7) & 0x0101010101010101ull) * 0x0102040810204080ull >> 56) << (8 * b);
      }
      bits[i >> 6] = v;
    }
  }
#endif
  for (; i < n; i += 64) {
    const int32_t m = n - i < 64 ? int32_t(n - i) : 64;
    uint64_t v = 0;
    for (int32_t j = 0; j < m; ++j)
      v |= uint64_t(x[i + j] < 0) << j;
    bits[i >> 6] = v;
  }
}

// dst bits [at, at + n) |= src bits [from, from + n) (dst zeroed there before).
inline void bin_copy(uint64_t *dst, int64_t at, const uint64_t *src, int64_t from, int64_t n) {
  for (int64_t c = 0; c < n; c += 64) {
    const int32_t m = n - c < 64 ? int32_t(n - c) : 64;
    bin_or(dst, at + c, bin_get(src, from + c, m), m);
  }
}

// dst bits [at, at + n) |= 1.
inline void bin_ones(uint64_t *dst, int64_t at, int64_t n) {
  for (int64_t c = 0; c < n; c += 64) {
    const int32_t m = n - c < 64 ? int32_t(n - c) : 64;
    bin_or(dst, at + c, m == 64 ? ~uint64_t(0) : (uint64_t(1) << m) - 1, m);
  }
}

// Packs weights into the word-major layout; w(o, j) is weight j of output
// channel o (o over all groups). False unless every channel's weights are
// +-m_o with m_o > 0.
template <typename W>
inline bool bin_pack(const W &w, int32_t groups, int32_t og, int64_t k, uint64_t *bits, int32_t *magnitude) {
  const int32_t kw = bin_words(k), ogp = bin_padded(og);
  std::memset(bits, 0, size_t(groups) * size_t(kw) * size_t(ogp) * 8);
  for (int32_t g = 0; g < groups; ++g)
    for (int32_t o = 0; o < og; ++o) {
      const int32_t oo = g * og + o, w0 = int32_t(w(oo, 0)), m = w0 < 0 ? -w0 : w0;
      if (m == 0)
        return false;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t v = int32_t(w(oo, j));
        if (v != m && v != -m)
          return false;
        if (v < 0)
          bits[(size_t(g) * kw + size_t(j >> 6)) * ogp + o] |= uint64_t(1) << (j & 63);
      }
      magnitude[oo] = m;
    }
  return true;
}

// 64-byte aligned pieces of caller scratch.
struct BinCarve {
  unsigned char *p;
  explicit BinCarve(void *s) : p(static_cast<unsigned char *>(s)) {}
  template <typename T> T *take(size_t n) {
    const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63);
    T *r = reinterpret_cast<T *>(a);
    p = reinterpret_cast<unsigned char *>(a + n * sizeof(T));
    return r;
  }
};
inline size_t bin_carve_bytes(size_t n) { return n + 64; }

// Output positions per block: their rows and accumulators stay in L1.
constexpr int32_t kBinRows = 16;

// gcc would unroll a constant-trip lane loop completely before vectorizing
// it, then vectorize badly across rows; kept rolled it is one vector op each.
#if defined(__GNUC__) && !defined(__clang__)
#define QCC_RT_BIN_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define QCC_RT_BIN_NO_UNROLL
#endif

// NR rows (x, mask: kwords words each, row r at + r * kwords) against the LL
// channels o0.. of the word-major weights: acc[r * ogp + o] = popcount((x_r ^
// w_o) & mask_r). The NR x LL sums stay in vector registers over all words.
template <int NR, int LL>
inline void bin_dot_tile(const uint64_t *x, const uint64_t *mask, int32_t kwords, const uint64_t *w, int32_t ogp,
                         int32_t o0, int32_t *acc) {
  uint64_t sum[NR][LL] = {};
  for (int32_t i = 0; i < kwords; ++i) {
    const uint64_t *wi = w + size_t(i) * ogp + o0;
    for (int r = 0; r < NR; ++r) {
      const uint64_t xi = x[size_t(r) * kwords + i], mi = mask[size_t(r) * kwords + i];
      QCC_RT_BIN_NO_UNROLL
      for (int32_t l = 0; l < LL; ++l)
        sum[r][l] += uint64_t(QCC_RT_POPCOUNT64((xi ^ wi[l]) & mi));
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int32_t l = 0; l < LL; ++l)
      acc[size_t(r) * ogp + o0 + l] = int32_t(sum[r][l]);
}

template <int NR>
inline void bin_dot_rows(const uint64_t *x, const uint64_t *mask, int32_t kwords, const uint64_t *w, int32_t ogp,
                         int32_t *acc) {
  int32_t o0 = 0;
  for (; o0 + 2 * kBinLanes <= ogp; o0 += 2 * kBinLanes)
    bin_dot_tile<NR, 2 * kBinLanes>(x, mask, kwords, w, ogp, o0, acc);
  if (o0 < ogp) // ogp is a multiple of kBinLanes
    bin_dot_tile<NR, kBinLanes>(x, mask, kwords, w, ogp, o0, acc);
}

// acc[r][o] = m_o * (kvalid[r] - 2 * popcount((x_r ^ w_o) & mask_r)) for the
// `rows` rows of one block (row stride of acc: ogp).
inline void bin_dot_block(const uint64_t *x, const uint64_t *mask, const int32_t *kvalid, int32_t rows, int32_t kwords,
                          const uint64_t *w, const int32_t *magnitude, int32_t og, int32_t ogp, int32_t *acc) {
  int32_t r = 0;
  for (; r + 4 <= rows; r += 4)
    bin_dot_rows<4>(x + size_t(r) * kwords, mask + size_t(r) * kwords, kwords, w, ogp, acc + size_t(r) * ogp);
  for (; r < rows; ++r)
    bin_dot_rows<1>(x + size_t(r) * kwords, mask + size_t(r) * kwords, kwords, w, ogp, acc + size_t(r) * ogp);
  for (r = 0; r < rows; ++r) {
    int32_t *a = acc + size_t(r) * ogp;
    const int32_t kv = kvalid[r];
    for (int32_t o = 0; o < og; ++o)
      a[o] = magnitude[o] * (kv - 2 * a[o]);
  }
}

} // namespace detail

// ---- convolution (NHWC, like conv_nhwc; x_zero_point must be 0) -------------

// Whether the popcount kernel pays off: every output position packs a patch
// row per group, so groups of fewer than kBinLanes output channels (depthwise)
// or patches of under 64 bits (one word: nothing to gain) run faster on the
// int8 kernels (measured: tests/bench/bench_binary.cpp).
inline bool binary_conv_worthwhile(const ConvShape &s) {
  return s.cout / s.group >= detail::kBinLanes && int64_t(s.kh) * s.kw * (s.cin / s.group) >= 64;
}

inline size_t binary_conv_packed_words(const ConvShape &s) {
  return size_t(s.group) * size_t(detail::bin_words(int64_t(s.kh) * s.kw * (s.cin / s.group))) *
         size_t(detail::bin_padded(s.cout / s.group));
}

// w_oihw: the IR weights; false (nothing usable written) unless each output
// channel's weights are all +-m with m > 0.
inline bool binary_conv_pack_weights(const ConvShape &s, const int8_t *w_oihw, uint64_t *bits, int32_t *magnitude) {
  const int32_t cg = s.cin / s.group, og = s.cout / s.group, taps = s.kh * s.kw;
  auto w = [&](int32_t o, int64_t j) { // patch bit j = tap * cg + c, from OIHW
    return w_oihw[(size_t(o) * cg + size_t(j % cg)) * size_t(taps) + size_t(j / cg)];
  };
  return detail::bin_pack(w, s.group, og, int64_t(taps) * cg, bits, magnitude);
}

inline size_t binary_conv_scratch_bytes(const ConvShape &s) {
  const int32_t cg = s.cin / s.group, ogp = detail::bin_padded(s.cout / s.group);
  const int64_t stream = int64_t(s.n) * s.h * s.w * s.cin; // input sign bits, pixel after pixel
  const size_t kw = size_t(detail::bin_words(int64_t(s.kh) * s.kw * cg)), rows = detail::kBinRows;
  return detail::bin_carve_bytes(detail::rq_table_bytes(s.cout)) +
         detail::bin_carve_bytes(size_t(detail::bin_words(stream)) * 8) +
         2 * detail::bin_carve_bytes(rows * kw * 8) + // patch rows, masks
         detail::bin_carve_bytes(rows * 4) + detail::bin_carve_bytes(rows * size_t(ogp) * 4);
}

template <typename TX, typename TY>
void binary_conv_nhwc(const ConvShape &s, const TX *x, const uint64_t *w_bits, const int32_t *magnitude,
                      const int32_t *bias, const Requant &rq, TY *y, void *scratch) {
  using namespace detail;
  const int32_t cg = s.cin / s.group, og = s.cout / s.group, ogp = bin_padded(og);
  const int64_t k = int64_t(s.kh) * s.kw * cg;
  const int32_t kw = bin_words(k);
  BinCarve cv(scratch);
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(s.cout) / sizeof(int64_t));
  const RqTable table = rq_prepare(rq, tab);
  const int64_t stream = int64_t(s.n) * s.h * s.w * s.cin;
  uint64_t *bits = cv.take<uint64_t>(size_t(bin_words(stream)));
  uint64_t *xr = cv.take<uint64_t>(size_t(kBinRows) * kw), *mr = cv.take<uint64_t>(size_t(kBinRows) * kw);
  int32_t *kvalid = cv.take<int32_t>(kBinRows), *acc = cv.take<int32_t>(size_t(kBinRows) * ogp);
  bin_pack_row(x, stream, bits); // pixel p's channel c is bit p * cin + c
  // Group 1 without column dilation: the valid taps of a kernel row are one
  // run of input bits; else one run of cg bits per tap.
  const bool runs = s.group == 1 && s.dw == 1;
  const int64_t positions = int64_t(s.n) * s.oh * s.ow;
  for (int32_t g = 0; g < s.group; ++g) {
    const uint64_t *wg = w_bits + size_t(g) * size_t(kw) * size_t(ogp);
    for (int64_t p0 = 0; p0 < positions; p0 += kBinRows) {
      const int32_t rows = positions - p0 < kBinRows ? int32_t(positions - p0) : kBinRows;
      std::memset(xr, 0, size_t(rows) * size_t(kw) * 8);
      std::memset(mr, 0, size_t(rows) * size_t(kw) * 8);
      for (int32_t r = 0; r < rows; ++r) { // the patch bits of one output position
        const int64_t p = p0 + r;
        const int32_t b = int32_t(p / (int64_t(s.oh) * s.ow)), oy = int32_t(p / s.ow % s.oh), ox = int32_t(p % s.ow);
        uint64_t *xw = xr + size_t(r) * kw, *mw = mr + size_t(r) * kw;
        int32_t valid = 0; // padded taps: x bits and mask stay 0
        const int32_t ix0 = ox * s.sw - s.pl;
        for (int32_t ky = 0; ky < s.kh; ++ky) {
          const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
          if (iy < 0 || iy >= s.h)
            continue;
          const int64_t rowBit = (int64_t(b) * s.h + iy) * s.w * int64_t(s.cin);
          if (runs) {
            const int32_t lo = ix0 < 0 ? -ix0 : 0, hi = ix0 + s.kw > s.w ? s.w - ix0 : s.kw; // valid kx
            if (hi <= lo)
              continue;
            const int64_t at = int64_t(ky * s.kw + lo) * cg, n = int64_t(hi - lo) * cg;
            bin_copy(xw, at, bits, rowBit + int64_t(ix0 + lo) * s.cin, n);
            bin_ones(mw, at, n);
            valid += hi - lo;
            continue;
          }
          for (int32_t kx = 0; kx < s.kw; ++kx) {
            const int32_t ix = ix0 + kx * s.dw;
            if (ix < 0 || ix >= s.w)
              continue;
            const int64_t at = int64_t(ky * s.kw + kx) * cg;
            bin_copy(xw, at, bits, rowBit + int64_t(ix) * s.cin + int64_t(g) * cg, cg);
            bin_ones(mw, at, cg);
            ++valid;
          }
        }
        kvalid[r] = valid * cg;
      }
      bin_dot_block(xr, mr, kvalid, rows, kw, wg, magnitude + size_t(g) * og, og, ogp, acc);
      requant_rows(acc, size_t(ogp), bias + size_t(g) * og, og, rows, table, g * og,
                   y + size_t(p0) * size_t(s.cout) + size_t(g) * og, size_t(s.cout));
    }
  }
}

// ---- fully connected (like gemm: x [m, k], y [m, n]) --------------------------

inline size_t binary_gemm_packed_words(const GemmShape &s) {
  return size_t(detail::bin_words(s.k)) * size_t(detail::bin_padded(s.n));
}

inline bool binary_gemm_pack_weights(const GemmShape &s, const int8_t *w_nk, uint64_t *bits, int32_t *magnitude) {
  auto w = [&](int32_t o, int64_t j) { return w_nk[size_t(o) * size_t(s.k) + size_t(j)]; };
  return detail::bin_pack(w, 1, s.n, s.k, bits, magnitude);
}

inline size_t binary_gemm_scratch_bytes(const GemmShape &s) {
  const size_t kw = size_t(detail::bin_words(s.k)), rows = detail::kBinRows;
  return detail::bin_carve_bytes(detail::rq_table_bytes(s.n)) + 2 * detail::bin_carve_bytes(rows * kw * 8) +
         detail::bin_carve_bytes(rows * 4) + detail::bin_carve_bytes(rows * size_t(detail::bin_padded(s.n)) * 4);
}

template <typename TX, typename TY>
void binary_gemm(const GemmShape &s, const TX *x, const uint64_t *w_bits, const int32_t *magnitude, const int32_t *bias,
                 const Requant &rq, TY *y, void *scratch) {
  using namespace detail;
  const int32_t kw = bin_words(s.k), np = bin_padded(s.n);
  BinCarve cv(scratch);
  int64_t *tab = cv.take<int64_t>(rq_table_bytes(s.n) / sizeof(int64_t));
  const RqTable table = rq_prepare(rq, tab);
  uint64_t *xr = cv.take<uint64_t>(size_t(kBinRows) * kw), *mr = cv.take<uint64_t>(size_t(kBinRows) * kw);
  int32_t *kvalid = cv.take<int32_t>(kBinRows), *acc = cv.take<int32_t>(size_t(kBinRows) * np);
  for (int32_t r = 0; r < kBinRows; ++r)
    kvalid[r] = s.k;
  for (size_t i = 0; i < size_t(kBinRows) * kw; ++i)
    mr[i] = ~uint64_t(0); // bits past k are 0 in x and w alike
  for (int32_t m0 = 0; m0 < s.m; m0 += kBinRows) {
    const int32_t rows = s.m - m0 < kBinRows ? s.m - m0 : kBinRows;
    for (int32_t r = 0; r < rows; ++r)
      bin_pack_row(x + size_t(m0 + r) * size_t(s.k), s.k, xr + size_t(r) * kw);
    bin_dot_block(xr, mr, kvalid, rows, kw, w_bits, magnitude, s.n, np, acc);
    requant_rows(acc, size_t(np), bias, s.n, rows, table, 0, y + size_t(m0) * size_t(s.n), size_t(s.n));
  }
}

// ---- scalar twins (tests): the same packed weights, plain arithmetic ---------

namespace ref {

namespace detail {
inline int32_t bin_weight(const uint64_t *bits, int32_t kwords, int32_t og, int32_t g, int64_t j, int32_t o,
                          const int32_t *magnitude) {
  const int32_t ogp = qcc_rt::detail::bin_padded(og);
  const uint64_t word = bits[(size_t(g) * kwords + size_t(j >> 6)) * ogp + size_t(o)];
  const int32_t m = magnitude[size_t(g) * og + o];
  return (word >> (j & 63)) & 1 ? -m : m;
}
} // namespace detail

template <typename TX, typename TY>
void binary_conv_nhwc(const ConvShape &s, const TX *x, const uint64_t *w_bits, const int32_t *magnitude,
                      const int32_t *bias, const Requant &rq, TY *y, void *) {
  const int32_t cg = s.cin / s.group, og = s.cout / s.group;
  const int32_t kwords = qcc_rt::detail::bin_words(int64_t(s.kh) * s.kw * cg);
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t oy = 0; oy < s.oh; ++oy)
      for (int32_t ox = 0; ox < s.ow; ++ox)
        for (int32_t o = 0; o < s.cout; ++o) {
          const int32_t g = o / og;
          int32_t acc = bias[o];
          for (int32_t ky = 0; ky < s.kh; ++ky)
            for (int32_t kx = 0; kx < s.kw; ++kx) {
              const int32_t iy = oy * s.sh - s.pt + ky * s.dh, ix = ox * s.sw - s.pl + kx * s.dw;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w)
                continue; // padding holds the zero point 0
              const TX *xp = x + ((size_t(b) * s.h + iy) * s.w + ix) * s.cin + size_t(g) * cg;
              for (int32_t c = 0; c < cg; ++c)
                acc += int32_t(xp[c]) *
                       detail::bin_weight(w_bits, kwords, og, g, int64_t(ky * s.kw + kx) * cg + c, o % og, magnitude);
            }
          y[((size_t(b) * s.oh + oy) * s.ow + ox) * s.cout + o] = TY(requantize_output(acc, rq, o));
        }
}

template <typename TX, typename TY>
void binary_gemm(const GemmShape &s, const TX *x, const uint64_t *w_bits, const int32_t *magnitude, const int32_t *bias,
                 const Requant &rq, TY *y, void *) {
  const int32_t kwords = qcc_rt::detail::bin_words(s.k);
  for (int32_t m = 0; m < s.m; ++m)
    for (int32_t o = 0; o < s.n; ++o) {
      int32_t acc = bias[o];
      for (int32_t k = 0; k < s.k; ++k)
        acc += int32_t(x[size_t(m) * s.k + k]) * detail::bin_weight(w_bits, kwords, s.n, 0, k, o, magnitude);
      y[size_t(m) * s.n + o] = TY(requantize_output(acc, rq, o));
    }
}

} // namespace ref
} // namespace qcc_rt
