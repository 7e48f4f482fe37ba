// Binary layers (runtime_stub/qcc/binary.h): the XNOR-popcount conv / GEMM and
// their scalar twins against the integer reference qcc::QConv / qcc::QGemm
// (run through the op registry) on +-1 inputs and +-m weights; the compiler's
// packing (backends/cpp/WeightPacking) and what it refuses.
#include "KernelsTestUtil.h"

#include "backends/cpp/WeightPacking.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace qcc;
using namespace kt;

namespace {

struct BC {
  int32_t n, cin, h, w, cout, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
};

std::string describe(const BC &c) {
  std::ostringstream o;
  o << "n" << c.n << " cin" << c.cin << " " << c.h << "x" << c.w << " cout" << c.cout << " k" << c.kh << "x" << c.kw
    << " s" << c.sh << "," << c.sw << " d" << c.dh << "," << c.dw << " pads" << c.pt << "," << c.pl << "," << c.pb
    << "," << c.pr << " g" << c.group;
  return o.str();
}

// +-1 values (the input of a binary layer).
template <typename T> Tensor bipolar(Shape s, std::mt19937 &rng) {
  Tensor t(elemOf<T>(), s);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<T>()[i] = T(rng() % 2 ? 1 : -1);
  return t;
}

// Weights +-m_o per output channel (rows of k values); m_o = 1 or random in 1..127.
Tensor bipolarWeights(Shape s, int64_t k, bool unit, std::mt19937 &rng) {
  Tensor t(ElemType::intN(8, true), s);
  for (int64_t o = 0; o < s[0]; ++o) {
    const int32_t m = unit ? 1 : int32_t(1 + rng() % 127);
    for (int64_t j = 0; j < k; ++j)
      t.data<int8_t>()[o * k + j] = int8_t(rng() % 2 ? m : -m);
  }
  return t;
}

std::vector<Requant> requants(int32_t channels, Rounding r, double accStd, double outStd, std::mt19937 &rng) {
  std::uniform_real_distribution<double> f(0.5, 2.0);
  std::vector<Requant> rqs;
  for (int32_t o = 0; o < channels; ++o) {
    const double real = outStd / std::max(accStd, 1.0) * f(rng);
    rqs.push_back(Requant::make(real, r, float(real)));
  }
  return rqs;
}

template <typename TY>
void checkConv(const BC &c, Rounding r, bool unitWeights, bool perTensor, std::mt19937 &rng) {
  SCOPED_TRACE(describe(c) + (unitWeights ? " weights +-1" : " weights +-m") + " rounding " +
               std::to_string(int(r)) + " y bytes " + std::to_string(sizeof(TY)));
  const int32_t cg = c.cin / c.group, K = cg * c.kh * c.kw;
  Tensor x = bipolar<int8_t>({c.n, c.cin, c.h, c.w}, rng);
  Tensor w = bipolarWeights({c.cout, cg, c.kh, c.kw}, K, unitWeights, rng);
  Tensor b(ElemType::i32(), {c.cout});
  std::uniform_int_distribution<int32_t> bd(-3 * K, 3 * K);
  for (int32_t o = 0; o < c.cout; ++o)
    b.data<int32_t>()[o] = bd(rng);
  const int bits = int(sizeof(TY) * 8);
  // 32-bit outputs: the accumulator itself (scale 1), as the brevitas models' QConv -> Threshold.
  std::vector<Requant> rqs = bits == 32 ? std::vector<Requant>(perTensor ? 1 : size_t(c.cout), Requant::make(1.0, r, 1.f))
                                        : requants(perTensor ? 1 : c.cout, r, std::sqrt(double(K)) * 60, 40, rng);
  const int32_t zo = bits == 32 ? 0 : int32_t(rng() % 21) - 10;
  const int32_t lo = bits == 32 ? INT32_MIN : -128, hi = bits == 32 ? INT32_MAX : 127;
  Node tmp;
  tmp.attrs = {{"strides", std::vector<int64_t>{c.sh, c.sw}},
               {"dilations", std::vector<int64_t>{c.dh, c.dw}},
               {"pads", std::vector<int64_t>{c.pt, c.pl, c.pb, c.pr}},
               {"group", int64_t(c.group)},
               {"x_zero_point", int64_t(0)},
               {"out_zero_point", int64_t(zo)},
               {"out_bits", int64_t(bits)},
               {"out_signed", int64_t(1)}};
  setRequants(tmp, rqs);
  auto run = runNode("qcc", "QConv", {&x, &w, &b}, tmp.attrs);
  ASSERT_EQ(run->out.size(), 1u);
  const Tensor wantN = toNhwc(run->out[0]), xn = toNhwc(x);
  qcc_rt::ConvShape s{c.n,  c.h,  c.w,  c.cin, int32_t(wantN.shape()[1]), int32_t(wantN.shape()[2]), c.cout, c.kh, c.kw,
                      c.sh, c.sw, c.dh, c.dw,  c.pt, c.pl, c.group, 0};
  RqHolder h = makeRq(rqs, zo, lo, hi);
  auto bin = qcc::cpp::packBinaryConv(s, std::vector<int8_t>(w.data<int8_t>(), w.data<int8_t>() + w.size()));
  ASSERT_TRUE(bin.has_value());
  ASSERT_EQ(bin->bits.size(), qcc_rt::binary_conv_packed_words(s));
  // Scratch at an odd address: the kernel aligns its pieces itself.
  std::vector<unsigned char> scratch(qcc_rt::binary_conv_scratch_bytes(s) + 1);
  Tensor got(elemOf<TY>(), wantN.shape()), gotRef(elemOf<TY>(), wantN.shape());
  qcc_rt::binary_conv_nhwc<int8_t, TY>(s, xn.data<int8_t>(), bin->bits.data(), bin->magnitude.data(),
                                       b.data<int32_t>(), h.rt, got.data<TY>(), scratch.data() + 1);
  qcc_rt::ref::binary_conv_nhwc<int8_t, TY>(s, xn.data<int8_t>(), bin->bits.data(), bin->magnitude.data(),
                                            b.data<int32_t>(), h.rt, gotRef.data<TY>(), nullptr);
  for (int64_t i = 0; i < wantN.size(); ++i) {
    ASSERT_EQ(int64_t(gotRef.data<TY>()[i]), wantN.getInt(i)) << "ref twin at NHWC index " << i;
    ASSERT_EQ(int64_t(got.data<TY>()[i]), wantN.getInt(i)) << "popcount kernel at NHWC index " << i << " (channel "
                                                           << i % c.cout << ")";
  }
}

template <typename TY> void checkGemm(int32_t m, int32_t n, int32_t k, Rounding r, bool unitWeights, std::mt19937 &rng) {
  SCOPED_TRACE("gemm m" + std::to_string(m) + " n" + std::to_string(n) + " k" + std::to_string(k) +
               (unitWeights ? " weights +-1" : " weights +-m") + " y bytes " + std::to_string(sizeof(TY)));
  Tensor x = bipolar<int8_t>({m, k}, rng);
  Tensor w = bipolarWeights({n, k}, k, unitWeights, rng);
  Tensor b(ElemType::i32(), {n});
  std::uniform_int_distribution<int32_t> bd(-3 * k, 3 * k);
  for (int32_t o = 0; o < n; ++o)
    b.data<int32_t>()[o] = bd(rng);
  const int bits = int(sizeof(TY) * 8);
  std::vector<Requant> rqs = bits == 32 ? std::vector<Requant>{Requant::make(1.0, r, 1.f)}
                                        : requants(n % 2 ? 1 : n, r, std::sqrt(double(k)) * 60, 40, rng);
  const int32_t zo = bits == 32 ? 0 : int32_t(rng() % 21) - 10;
  const int32_t lo = bits == 32 ? INT32_MIN : -128, hi = bits == 32 ? INT32_MAX : 127;
  Node tmp;
  tmp.attrs = {{"out_zero_point", int64_t(zo)}, {"out_bits", int64_t(bits)}, {"out_signed", int64_t(1)}};
  setRequants(tmp, rqs);
  auto run = runNode("qcc", "QGemm", {&x, &w, &b}, tmp.attrs);
  const Tensor &want = run->out[0];
  qcc_rt::GemmShape s{m, n, k};
  RqHolder h = makeRq(rqs, zo, lo, hi);
  auto bin = qcc::cpp::packBinaryGemm(s, std::vector<int8_t>(w.data<int8_t>(), w.data<int8_t>() + w.size()));
  ASSERT_TRUE(bin.has_value());
  std::vector<unsigned char> scratch(qcc_rt::binary_gemm_scratch_bytes(s) + 3);
  Tensor got(elemOf<TY>(), {m, n}), gotRef(elemOf<TY>(), {m, n});
  qcc_rt::binary_gemm<int8_t, TY>(s, x.data<int8_t>(), bin->bits.data(), bin->magnitude.data(), b.data<int32_t>(), h.rt,
                                  got.data<TY>(), scratch.data() + 3);
  qcc_rt::ref::binary_gemm<int8_t, TY>(s, x.data<int8_t>(), bin->bits.data(), bin->magnitude.data(),
                                       b.data<int32_t>(), h.rt, gotRef.data<TY>(), nullptr);
  for (int64_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(int64_t(gotRef.data<TY>()[i]), want.getInt(i)) << "ref twin at " << i;
    ASSERT_EQ(int64_t(got.data<TY>()[i]), want.getInt(i)) << "popcount kernel at " << i;
  }
}

} // namespace

TEST(BinaryKernel, PopcountFallbackAgrees) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng() & rng(); // sparse and dense words
    int32_t want = 0;
    for (int b = 0; b < 64; ++b)
      want += int32_t((v >> b) & 1);
    ASSERT_EQ(qcc_rt::detail::popcount64_swar(v), want);
    ASSERT_EQ(QCC_RT_POPCOUNT64(v), want);
  }
  EXPECT_EQ(qcc_rt::detail::popcount64_swar(~uint64_t(0)), 64);
  EXPECT_EQ(qcc_rt::detail::popcount64_swar(0), 0);
}

TEST(BinaryKernel, PackingFormatByHand) {
  // GEMM 2 x 3: row 0 = {+1, -1, -1} (bits 0b110), row 1 = {-5, 5, -5} (0b101, m = 5).
  const std::vector<int8_t> w = {1, -1, -1, -5, 5, -5};
  auto p = qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 2, 3}, w);
  ASSERT_TRUE(p.has_value());
  // Word-major, channels padded to 8 lanes: word 0 of channel 0, of channel 1, six zero lanes.
  EXPECT_EQ(p->bits, (std::vector<uint64_t>{0x6, 0x5, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(p->magnitude, (std::vector<int32_t>{1, 5}));
  // K = 70 spills into a second word: bit 69 of channel 0.
  std::vector<int8_t> w70(70, 1);
  w70[69] = -1;
  auto p70 = qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 1, 70}, w70);
  ASSERT_TRUE(p70.has_value());
  std::vector<uint64_t> want70(16, 0);
  want70[8] = uint64_t(1) << 5; // word 1, lane 0
  EXPECT_EQ(p70->bits, want70);
  // Conv OIHW [1, 2, 1, 2]: patch bit j = tap * cin + c, so w[c=1][tap=0] is bit 1.
  const std::vector<int8_t> wc = {1, 1, -1, 1}; // c0: taps +1 +1; c1: taps -1 +1
  auto pc = qcc::cpp::packBinaryConv(qcc_rt::ConvShape{1, 3, 3, 2, 3, 2, 1, 1, 2, 1, 1, 1, 1, 0, 0, 1, 0}, wc);
  ASSERT_TRUE(pc.has_value());
  EXPECT_EQ(pc->bits, (std::vector<uint64_t>{0x2, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(BinaryKernel, RefusesNonBinaryWeights) {
  EXPECT_FALSE(qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 2, 2}, {1, -1, 1, 0}).has_value());   // a zero
  EXPECT_FALSE(qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 1, 3}, {2, -2, 1}).has_value());      // two magnitudes
  EXPECT_FALSE(qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 1, 2}, {0, 0}).has_value());          // all zero
  EXPECT_TRUE(qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 2, 2}, {3, -3, -127, 127}).has_value()); // per channel
  EXPECT_TRUE(qcc::cpp::packBinaryGemm(qcc_rt::GemmShape{1, 1, 2}, {-128, -128}).has_value());
}

TEST(BinaryKernel, ConvSweep) {
  std::mt19937 rng(2026);
  // n cin h w cout kh kw sh sw dh dw pt pl pb pr group
  const BC cases[] = {
      {1, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},        // the brevitas cnn layer (K = 72)
      {1, 8, 8, 8, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},        // 1x1
      {2, 3, 7, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},        // stride 2, odd sizes, batch 2
      {1, 64, 6, 6, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // K = 576 (9 words), one tap per word
      {1, 65, 5, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},       // cin = 65: taps straddle words
      {1, 100, 4, 5, 33, 3, 3, 2, 1, 1, 1, 2, 1, 0, 2, 1},     // asymmetric pads
      {1, 6, 11, 8, 6, 5, 3, 2, 1, 2, 1, 2, 1, 3, 0, 3},       // groups, dilation
      {2, 20, 4, 4, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},      // groups of 5 -> 3
      {1, 16, 7, 7, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16},     // depthwise
      {1, 4, 3, 3, 2, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 1},        // padding wider than half the kernel
      {1, 2, 1, 1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},        // 1x1 image
      {1, 130, 3, 4, 8, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1, 2},      // groups of 65 input channels
      {1, 3, 1, 40, 4, 1, 5, 1, 2, 1, 1, 0, 2, 0, 2, 1},       // 1-D as height 1
      {3, 9, 5, 3, 70, 3, 2, 1, 2, 1, 1, 1, 0, 0, 1, 1},       // 70 outputs per position, > one block of rows
  };
  for (const BC &c : cases)
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx}) {
      checkConv<int8_t>(c, r, rng() % 2, rng() % 3 == 0, rng);
      checkConv<int32_t>(c, r, true, rng() % 2, rng);
      if (HasFatalFailure())
        return;
    }
}

TEST(BinaryKernel, GemmSweep) {
  std::mt19937 rng(99);
  const int32_t shapes[][3] = {{1, 32, 32}, {1, 10, 32}, {1, 1, 1},    {3, 17, 63}, {2, 5, 64},
                               {5, 9, 65},  {17, 40, 200}, {1, 256, 1000}, {33, 3, 129}};
  for (auto &sh : shapes)
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx}) {
      checkGemm<int8_t>(sh[0], sh[1], sh[2], r, rng() % 2, rng);
      checkGemm<int32_t>(sh[0], sh[1], sh[2], r, false, rng);
      if (HasFatalFailure())
        return;
    }
}
