// The portable kernel library (runtime_stub/qcc) against the integer reference
// ops (compiler/ops/QuantOps.cpp run through the op registry): every kernel
// bit-exact over sweeps of shapes, roundings, element types and extreme
// values. The reference is NCHW, the kernels NHWC: the tests transpose.
// Optimized kernels are also checked against their qcc_rt::ref twins.
#include "KernelsTestUtil.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <tuple>

using namespace qcc;
using namespace kt;

// ---- requantize ---------------------------------------------------------------

TEST(KernelsRequant, MatchesQccRequantizeOverEdges) {
  std::mt19937 rng(7);
  std::vector<int64_t> accs = {INT64_MIN / 4, -(int64_t(1) << 40), int64_t(INT32_MIN) - 1, INT32_MIN, INT32_MIN + 1,
                               -(int64_t(1) << 30), -65536, -32769, -257, -129, -128, -3, -2, -1, 0, 1, 2, 3, 127,
                               128, 255, 256, 32767, 65535, (int64_t(1) << 30), INT32_MAX - 1, INT32_MAX,
                               int64_t(INT32_MAX) + 1, int64_t(1) << 40, INT64_MAX / 4};
  std::uniform_int_distribution<int64_t> ad(INT32_MIN, INT32_MAX);
  for (int i = 0; i < 60; ++i)
    accs.push_back(ad(rng));
  // Exact halves for the rounding tie cases.
  for (int sh = 1; sh < 12; ++sh)
    for (int64_t k : {-3, -1, 1, 3})
      accs.push_back(k * (int64_t(1) << (sh - 1)));
  std::vector<int32_t> mults = {0, 1, 2, 3, 1 << 29, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX - 1,
                                INT32_MAX};
  std::uniform_int_distribution<int32_t> md(1 << 30, INT32_MAX);
  for (int i = 0; i < 8; ++i)
    mults.push_back(md(rng));
  size_t checked = 0;
  for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx})
    for (int32_t m : mults)
      for (int32_t shift = -31; shift <= 62; ++shift)
        for (int64_t acc : accs) {
          Requant rq;
          rq.fp = {m, shift};
          rq.scale = float(double(m) * std::ldexp(1.0, -31 - shift));
          rq.rounding = r;
          const int32_t want = requantize(acc, rq);
          const int32_t got = qcc_rt::requantize(acc, m, shift, rq.scale, rtRounding(r));
          ASSERT_EQ(got, want) << "acc " << acc << " m " << m << " shift " << shift << " rounding " << roundingName(r);
          // requantize_output: zero points and clamps at the edges.
          for (int32_t zp : {-128, 0, 127, 255}) {
            RqHolder h = makeRq({rq}, zp, -128, 127);
            ASSERT_EQ(qcc_rt::requantize_output(acc, h.rt, 0), requantizeOutput(acc, rq, zp, -128, 127));
          }
          ++checked;
        }
  EXPECT_GT(checked, 100000u);
}

// The vectorized epilogue (epilogue.h: per-channel tables, one-floor tflite
// form, blocks of 64 / 16 and tails) against the scalar requantize_output, with
// multipliers the compiler never emits (negative, INT32_MIN, tiny) included.
TEST(KernelsRequant, EpilogueRowsMatchScalar) {
  std::mt19937 rng(9);
  const std::vector<int32_t> mults = {0, 1, 3, -1, -(1 << 30), INT32_MIN, INT32_MIN + 1, 1 << 30, (1 << 30) + 1,
                                      1518500250, INT32_MAX};
  std::vector<int32_t> accs = {INT32_MIN, INT32_MIN + 1, -(1 << 30) - 1, -(1 << 30), -(1 << 30) + 1, -65536, -257,
                               -128, -2, -1, 0, 1, 2, 127, 255, 65535, (1 << 30) - 1, 1 << 30, INT32_MAX - 1, INT32_MAX};
  std::uniform_int_distribution<int32_t> ad(INT32_MIN, INT32_MAX), sd(-5000000, 5000000);
  while (accs.size() < 70)
    accs.push_back(accs.size() % 2 ? ad(rng) : sd(rng));
  for (int32_t rounding : {qcc_rt::kRoundTflite, qcc_rt::kRoundSingle, qcc_rt::kRoundOnnx})
    for (int32_t n : {1, 5, 16, 23, 37, 64, 80, 150}) {
      // Per channel: a (multiplier, shift) pair per channel, shifts -31 .. 40.
      const size_t nc = static_cast<size_t>(n);
      std::vector<int32_t> m(nc), sh(nc), offset(nc);
      std::vector<float> sc(nc);
      for (int32_t c = 0; c < n; ++c) {
        m[size_t(c)] = c < int32_t(mults.size()) ? mults[size_t(c)] : int32_t(rng() | 0x40000000u) & INT32_MAX;
        sh[size_t(c)] = int32_t(rng() % 72) - 31;
        sc[size_t(c)] = float(std::ldexp(double(m[size_t(c)] == 0 ? 1 : m[size_t(c)]), -31 - sh[size_t(c)]));
        offset[size_t(c)] = c % 3 == 0 ? 0 : sd(rng);
      }
      for (int left : {1, 0}) { // 1 first: the shifts as drawn, some left shifts
        if (left == 0) // keep every shift >= 0: the one-floor path
          for (auto &v : sh)
            v = v < 0 ? -v : v;
        for (auto [zp, lo, hi] : {std::tuple<int32_t, int32_t, int32_t>{0, INT32_MIN, INT32_MAX}, {-7, -128, 127}}) {
          qcc_rt::Requant rq{m.data(), sh.data(), sc.data(), n, rounding, zp, lo, hi};
          std::vector<int64_t> tab(qcc_rt::detail::rq_table_bytes(n) / 8 + 1);
          const qcc_rt::detail::RqTable t = qcc_rt::detail::rq_prepare(rq, tab.data());
          const int32_t rows = int32_t(accs.size());
          std::vector<int32_t> acc(size_t(rows) * size_t(n));
          for (int32_t r = 0; r < rows; ++r)
            for (int32_t c = 0; c < n; ++c)
              acc[size_t(r) * size_t(n) + size_t(c)] = accs[size_t((r + c) % rows)];
          std::vector<int32_t> y(acc.size());
          qcc_rt::detail::requant_rows(acc.data(), size_t(n), offset.data(), n, rows, t, 0, y.data(), size_t(n));
          for (int32_t r = 0; r < rows; ++r)
            for (int32_t c = 0; c < n; ++c) {
              const size_t i = size_t(r) * size_t(n) + size_t(c);
              const int32_t x = int32_t(uint32_t(acc[i]) + uint32_t(offset[size_t(c)]));
              ASSERT_EQ(y[i], qcc_rt::requantize_output(x, rq, c))
                  << "rounding " << rounding << " n " << n << " channel " << c << " x " << x << " m "
                  << m[size_t(c)] << " shift " << sh[size_t(c)];
            }
        }
      }
    }
}

TEST(KernelsRequant, OnnxScalesIncludingExtremes) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> ld(-40.f, 10.f);
  std::uniform_int_distribution<int64_t> ad(INT32_MIN, INT32_MAX);
  for (int i = 0; i < 20000; ++i) {
    Requant rq = Requant::make(std::exp2(double(ld(rng))), Rounding::Onnx);
    if (i % 97 == 0)
      rq.scale = std::numeric_limits<float>::max();
    if (i % 101 == 0)
      rq.scale = std::numeric_limits<float>::denorm_min();
    const int64_t acc = i % 5 == 0 ? int64_t(i % 7) - 3 : ad(rng);
    ASSERT_EQ(qcc_rt::requantize(acc, rq.fp.multiplier, rq.fp.shift, rq.scale, qcc_rt::kRoundOnnx),
              requantize(acc, rq));
  }
}

// ---- movement -------------------------------------------------------------------

TEST(KernelsMovement, StridedCopyFillGather) {
  std::mt19937 rng(9);
  // Transpose NCHW -> NHWC of a 2x3x4x5 tensor and a broadcast copy (stride 0).
  std::vector<int16_t> src(120), dst(120), want(120), dref(120);
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = int16_t(int(i) * 37 - 2000);
  const int64_t dims[4] = {2, 4, 5, 3}; // n h w c order of the destination
  const int64_t sst[4] = {60, 5, 1, 20}, dstd[4] = {60, 15, 3, 1};
  qcc_rt::strided_copy<int16_t>(4, dims, src.data(), sst, dst.data(), dstd);
  qcc_rt::ref::strided_copy<int16_t>(4, dims, src.data(), sst, dref.data(), dstd);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 5; ++w)
          want[size_t(((n * 4 + h) * 5 + w) * 3 + c)] = src[size_t(((n * 3 + c) * 4 + h) * 5 + w)];
  EXPECT_EQ(dst, want);
  EXPECT_EQ(dref, want);
  // Contiguous inner run (memcpy path) with a broadcast outer axis.
  const int64_t d2[3] = {3, 2, 7}, s2[3] = {0, 7, 1}, t2[3] = {14, 7, 1};
  std::vector<uint8_t> a(14), b(42), c(42);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = uint8_t(200 + i);
  qcc_rt::strided_copy<uint8_t>(3, d2, a.data(), s2, b.data(), t2);
  qcc_rt::ref::strided_copy<uint8_t>(3, d2, a.data(), s2, c.data(), t2);
  for (size_t i = 0; i < b.size(); ++i)
    ASSERT_EQ(b[i], a[i % 14]);
  EXPECT_EQ(b, c);
  // Rank 0: one element.
  int32_t one = 5, out = 0;
  qcc_rt::strided_copy<int32_t>(0, nullptr, &one, nullptr, &out, nullptr);
  EXPECT_EQ(out, 5);
  std::vector<int8_t> f(33);
  qcc_rt::fill<int8_t>(33, -128, f.data());
  for (int8_t v : f)
    ASSERT_EQ(v, -128);
  std::vector<uint16_t> f2(5);
  qcc_rt::fill<uint16_t>(5, 65535, f2.data());
  EXPECT_EQ(f2[4], 65535);
  std::vector<int32_t> idx = {3, 0, 0, 9, 2};
  std::vector<int32_t> xs(10), ys(5);
  for (int i = 0; i < 10; ++i)
    xs[size_t(i)] = INT32_MIN + i;
  qcc_rt::gather<int32_t>(5, idx.data(), xs.data(), ys.data());
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(ys[i], xs[size_t(idx[i])]);
}
