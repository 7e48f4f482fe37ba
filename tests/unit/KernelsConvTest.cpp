// qcc_rt::conv_nhwc and qcc_rt::gemm against qcc::QConv / qcc::QGemm.
#include "KernelsTestUtil.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace qcc;
using namespace kt;

namespace {

struct CC {
  int32_t n, cin, h, w, cout, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
  bool oneD = false;
};

std::string describe(const CC &c) {
  std::ostringstream o;
  o << "n" << c.n << " cin" << c.cin << " " << c.h << "x" << c.w << " cout" << c.cout << " k" << c.kh << "x" << c.kw
    << " s" << c.sh << "," << c.sw << " d" << c.dh << "," << c.dw << " pads" << c.pt << "," << c.pl << "," << c.pb
    << "," << c.pr << " g" << c.group << (c.oneD ? " 1-D" : "");
  return o.str();
}

enum class Values { Random, Min, Max, Alternate };

// Per-output-channel requantizers whose outputs land mostly inside TY's
// range, plus channels at the extremes (saturation, zero, huge left shifts).
std::vector<Requant> makeRequants(int32_t channels, double accStd, double outStd, Rounding r, std::mt19937 &rng,
                                  bool extremes) {
  std::uniform_real_distribution<double> f(0.5, 2.0);
  std::vector<Requant> rqs;
  for (int32_t o = 0; o < channels; ++o) {
    double real = outStd / std::max(accStd, 1.0) * f(rng);
    Requant q = Requant::make(real, r, float(real));
    if (extremes && channels > 1) {
      switch (o % 9) {
      case 1: q.fp = {INT32_MAX, -31}; break;  // saturates everything but 0
      case 3: q.fp = {INT32_MAX, 62}; break;   // everything rounds to 0
      case 5: q.fp = {1 << 30, 31}; break;     // shift just past 31 bits
      case 7: q.fp = {(1 << 30) + 12345, -3}; break;
      default: break;
      }
      q.scale = float(double(q.fp.multiplier) * std::ldexp(1.0, -31 - q.fp.shift));
    }
    rqs.push_back(q);
  }
  return rqs;
}

template <typename T> int64_t tmin() { return std::numeric_limits<T>::min(); }
template <typename T> int64_t tmax() { return std::numeric_limits<T>::max(); }

template <typename TX> Tensor makeX(Shape s, std::mt19937 &rng, Values v) {
  Tensor t = randomTensor<TX>(s, rng);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (v == Values::Min)
      t.data<TX>()[i] = TX(tmin<TX>());
    else if (v == Values::Max)
      t.data<TX>()[i] = TX(tmax<TX>());
    else if (v == Values::Alternate)
      t.data<TX>()[i] = TX(i % 3 ? tmax<TX>() : tmin<TX>());
  }
  return t;
}

int64_t outStdFor(int bits) { return bits == 8 ? 60 : bits == 16 ? 12000 : 1000000; }

template <typename TX, typename TY>
void checkConv(const CC &c, Rounding r, std::mt19937 &rng, Values xv, bool extremes, bool perTensor = false) {
  SCOPED_TRACE(describe(c) + " x " + typeName<TX>() + " y " + typeName<TY>() + " rounding " + roundingName(r) +
               " values " + std::to_string(int(xv)));
  const int32_t cg = c.cin / c.group, K = cg * c.kh * c.kw;
  Shape xs = c.oneD ? Shape{c.n, c.cin, c.w} : Shape{c.n, c.cin, c.h, c.w};
  Shape ws = c.oneD ? Shape{c.cout, cg, c.kw} : Shape{c.cout, cg, c.kh, c.kw};
  Tensor x = makeX<TX>(xs, rng, xv);
  Tensor w = randomTensor<int8_t>(ws, rng, -128, 127);
  if (xv == Values::Alternate) // weights at their edges too
    for (int64_t i = 0; i < w.size(); ++i)
      w.data<int8_t>()[i] = int8_t(i % 2 ? -128 : 127);
  std::uniform_int_distribution<int64_t> zd(tmin<TX>(), tmax<TX>());
  int32_t zx = int32_t(zd(rng));
  if (extremes)
    zx = int32_t(rng() % 2 ? tmin<TX>() : tmax<TX>());
  Tensor b(ElemType::i32(), {c.cout});
  std::uniform_int_distribution<int32_t> bd(-20000, 20000);
  for (int32_t o = 0; o < c.cout; ++o) {
    int64_t sum = 0;
    for (int32_t k = 0; k < K; ++k)
      sum += w.data<int8_t>()[o * K + k];
    int64_t bias = bd(rng) - int64_t(zx) * sum;
    if (extremes && o % 4 == 2) // near the int32 edges without overflowing the accumulator
      bias = (o % 8 == 2 ? 1 : -1) * (int64_t(INT32_MAX) - int64_t(K) * 255 * 128 - 1);
    b.data<int32_t>()[o] = int32_t(bias);
  }
  const int bits = int(sizeof(TY) * 8);
  const double accStd = std::sqrt(double(K)) * 75.0 * 74.0;
  std::vector<Requant> rqs = makeRequants(perTensor ? 1 : c.cout, accStd, double(outStdFor(bits)), r, rng, extremes);
  std::uniform_int_distribution<int64_t> od(tmin<TY>(), tmax<TY>());
  int32_t zo = bits == 32 ? int32_t(od(rng) / 1024) : int32_t(od(rng));
  if (extremes)
    zo = int32_t(rng() % 2 ? tmin<TY>() : tmax<TY>()) / (bits == 32 ? 2 : 1);
  int32_t lo = int32_t(tmin<TY>()), hi = int32_t(tmax<TY>());
  if (!extremes && bits == 8 && rng() % 2) {
    lo = int32_t(tmin<TY>() + 5);
    hi = int32_t(tmax<TY>() - 17);
  }
  std::map<std::string, Attribute> attrs = {
      {"strides", c.oneD ? std::vector<int64_t>{c.sw} : std::vector<int64_t>{c.sh, c.sw}},
      {"dilations", c.oneD ? std::vector<int64_t>{c.dw} : std::vector<int64_t>{c.dh, c.dw}},
      {"pads", c.oneD ? std::vector<int64_t>{c.pl, c.pr} : std::vector<int64_t>{c.pt, c.pl, c.pb, c.pr}},
      {"group", int64_t(c.group)},
      {"x_zero_point", int64_t(zx)},
      {"out_zero_point", int64_t(zo)},
      {"out_min", int64_t(lo)},
      {"out_max", int64_t(hi)},
      {"out_bits", int64_t(bits)},
      {"out_signed", int64_t(std::is_signed_v<TY>)}};
  {
    Node tmp;
    tmp.attrs = attrs;
    setRequants(tmp, rqs);
    attrs = tmp.attrs;
  }
  auto run = runNode("qcc", "QConv", {&x, &w, &b}, attrs);
  ASSERT_EQ(run->out.size(), 1u);
  Tensor want = run->out[0];
  const int32_t oh = c.oneD ? 1 : int32_t(want.shape()[2]), ow = int32_t(want.shape().back());
  if (c.oneD) {
    x = x.reshaped({c.n, c.cin, 1, c.w});
    want = want.reshaped({c.n, c.cout, 1, ow});
  }
  Tensor xn = toNhwc(x), wantN = toNhwc(want);
  qcc_rt::ConvShape s{c.n, c.oneD ? 1 : c.h, c.w, c.cin, oh, ow, c.cout, c.oneD ? 1 : c.kh, c.kw,
                      c.oneD ? 1 : c.sh, c.sw, c.oneD ? 1 : c.dh, c.dw, c.oneD ? 0 : c.pt, c.pl, c.group, zx};
  RqHolder h = makeRq(rqs, zo, lo, hi);
  // Optimized kernel; the packed weights start at an odd address on purpose.
  std::vector<int8_t> packed(qcc_rt::conv_packed_weight_bytes(s) + 1);
  qcc_rt::conv_pack_weights(s, w.data<int8_t>(), packed.data() + 1);
  std::vector<unsigned char> scratch(qcc_rt::conv_scratch_bytes(s));
  Tensor got(elemOf<TY>(), wantN.shape());
  qcc_rt::conv_nhwc<TX, TY>(s, xn.data<TX>(), packed.data() + 1, b.data<int32_t>(), h.rt, got.data<TY>(),
                            scratch.empty() ? nullptr : scratch.data());
  // Scalar twin.
  std::vector<int8_t> rpacked(qcc_rt::ref::conv_packed_weight_bytes(s));
  qcc_rt::ref::conv_pack_weights(s, w.data<int8_t>(), rpacked.data());
  std::vector<unsigned char> rscratch(qcc_rt::ref::conv_scratch_bytes(s));
  Tensor gotRef(elemOf<TY>(), wantN.shape());
  qcc_rt::ref::conv_nhwc<TX, TY>(s, xn.data<TX>(), rpacked.data(), b.data<int32_t>(), h.rt, gotRef.data<TY>(),
                                 rscratch.empty() ? nullptr : rscratch.data());
  for (int64_t i = 0; i < wantN.size(); ++i) {
    ASSERT_EQ(int64_t(gotRef.data<TY>()[i]), wantN.getInt(i)) << "ref twin at NHWC index " << i;
    ASSERT_EQ(int64_t(got.data<TY>()[i]), wantN.getInt(i)) << "optimized at NHWC index " << i << " (channel "
                                                           << i % c.cout << ")";
  }
}

std::vector<CC> convCases() {
  // n cin h w cout kh kw sh sw dh dw pt pl pb pr group
  return {
      {1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},        // tiny 3x3, odd sizes
      {2, 4, 9, 9, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},        // grouped, stride 2, batch 2
      {1, 8, 6, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},        // depthwise
      {1, 5, 5, 5, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},        // 1x1, odd channels
      {1, 6, 11, 8, 6, 5, 3, 2, 1, 2, 1, 2, 1, 3, 0, 3},       // 5x3, dilation, asymmetric pads
      {1, 1, 4, 4, 1, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1},        // single channel, no pad
      {1, 16, 7, 7, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16},     // depthwise stride 2
      {1, 3, 1, 9, 5, 1, 3, 1, 1, 1, 2, 0, 1, 0, 1, 1, true},  // 1-D
      {1, 24, 9, 9, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},      // 1x1, cout not a multiple of 16
      {1, 17, 6, 6, 33, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},      // 1x1 stride 2
      {1, 70, 5, 6, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // K = 630
      {1, 33, 8, 5, 64, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},      // dilation 2, wide cout
      {1, 3, 15, 15, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1},      // stem 7x7
      {1, 37, 7, 9, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 37},     // depthwise, odd channel count
      {1, 13, 5, 5, 26, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 13},     // depthwise multiplier 2
      {2, 20, 4, 4, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},      // groups of 5 -> 3
      {1, 64, 6, 6, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // resnet-like
      {1, 96, 3, 3, 100, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},     // 1x1 wide
      {1, 144, 5, 5, 144, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 144},  // mobilenet depthwise s2, pads (0,0,1,1)
      {1, 4, 3, 3, 2, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 1},        // padding wider than half the kernel
      {1, 2, 1, 1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},        // 1x1 image
      {3, 9, 2, 3, 5, 2, 2, 1, 2, 1, 1, 1, 0, 0, 1, 1},        // even kernel
      // Paths of the optimized kernel: depthwise blocks of 64 / 16 / rest,
      // 9 / 25 / other tap counts, interior runs of 4 pixels and borders.
      {1, 80, 9, 10, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 80},
      {1, 100, 8, 12, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 100},
      {1, 24, 11, 13, 24, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 24},
      {1, 20, 9, 9, 20, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, 20},
      {1, 16, 12, 12, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 16},
      {2, 32, 10, 9, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 32},
      {1, 17, 3, 20, 17, 3, 3, 1, 1, 1, 1, 0, 1, 0, 1, 17},    // one interior row
      // 3x3 stride 2 depthwise (shared columns): four-pixel steps plus tails, blocks 32+32, 64+64, 16+16.
      {1, 40, 13, 11, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 40},
      {1, 72, 9, 19, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 72},
      {1, 20, 7, 14, 20, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 20},
      // Depthwise windows past the tap-pointer limit (64) and past the exact
      // float sum limit (512 taps); 7x7 with dilation through the generic taps.
      {1, 10, 11, 12, 10, 9, 9, 1, 1, 1, 1, 4, 4, 4, 4, 10},
      {1, 5, 1, 700, 5, 1, 600, 1, 1, 1, 1, 0, 0, 0, 3, 5, true},
      {1, 70, 9, 10, 70, 7, 7, 2, 1, 1, 2, 3, 3, 3, 3, 70},
      // 3x3 stride 1 depthwise (shared columns): channel blocks 16, 16+16, 32+32, 64, 64+64 overlapping,
      // rows shorter than the four-pixel step.
      {1, 16, 6, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16},
      {1, 48, 5, 7, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 48},
      {1, 64, 4, 6, 64, 3, 3, 1, 1, 1, 1, 0, 1, 0, 1, 64},
      {1, 130, 4, 5, 130, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 130},
      {1, 40, 5, 2, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 40},
      // Small patches (K <= 96): direct 1x1 rows, im2col, groups, two channel tiles.
      {2, 16, 7, 9, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 64, 5, 7, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 8, 12, 12, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},      // 144 pixels: several panels
      {1, 8, 6, 6, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
      {1, 3, 16, 16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},     // mobilenet stem
      // K <= 96 in float lanes, K > 96: K-reduction GEMM with groups, stride, 1-D, panels.
      {1, 65, 5, 7, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 96, 5, 7, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 97, 5, 7, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 24, 7, 7, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},
      {1, 130, 6, 6, 20, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},
      {1, 40, 1, 20, 8, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 1, true},
      {1, 70, 9, 9, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 16, 9, 11, 24, 3, 3, 1, 1, 1, 1, 1, 2, 0, 1, 1},     // row runs next to padding
  };
}

} // namespace

TEST(KernelsConv, ShapeSweepAllRoundingsAndTypes) {
  std::mt19937 rng(42);
  for (const CC &c : convCases())
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx}) {
      checkConv<int8_t, int8_t>(c, r, rng, Values::Random, false);
      checkConv<uint8_t, uint8_t>(c, r, rng, Values::Random, false);
      checkConv<uint8_t, int8_t>(c, r, rng, Values::Random, false, true);
      checkConv<int8_t, int16_t>(c, r, rng, Values::Random, false);
      checkConv<int8_t, int32_t>(c, r, rng, Values::Random, false);
      checkConv<uint8_t, uint16_t>(c, r, rng, Values::Random, false);
      if (HasFatalFailure())
        return;
    }
}

TEST(KernelsConv, ExtremeValues) {
  std::mt19937 rng(43);
  for (const CC &c : convCases())
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx})
      for (Values v : {Values::Random, Values::Min, Values::Max, Values::Alternate}) {
        checkConv<int8_t, int8_t>(c, r, rng, v, true);
        checkConv<uint8_t, uint8_t>(c, r, rng, v, true);
        checkConv<uint8_t, int32_t>(c, r, rng, v, true);
        if (HasFatalFailure())
          return;
      }
}

// ---- gemm -------------------------------------------------------------------------

namespace {

template <typename TX, typename TY> void checkGemm(int32_t m, int32_t n, int32_t k, Rounding r, std::mt19937 &rng,
                                                   Values xv, bool extremes) {
  SCOPED_TRACE("gemm m" + std::to_string(m) + " n" + std::to_string(n) + " k" + std::to_string(k) + " x " +
               typeName<TX>() + " y " + typeName<TY>() + " rounding " + roundingName(r));
  Tensor x = makeX<TX>({m, k}, rng, xv);
  Tensor w = randomTensor<int8_t>({n, k}, rng, -128, 127);
  Tensor b(ElemType::i32(), {n});
  std::uniform_int_distribution<int32_t> bd(-300000, 300000);
  for (int32_t o = 0; o < n; ++o) {
    b.data<int32_t>()[o] = bd(rng);
    if (extremes && o % 4 == 2)
      b.data<int32_t>()[o] = int32_t((o % 8 == 2 ? 1 : -1) * (int64_t(INT32_MAX) - int64_t(k) * 255 * 128 - 1));
  }
  const int bits = int(sizeof(TY) * 8);
  std::vector<Requant> rqs =
      makeRequants(n % 2 ? 1 : n, std::sqrt(double(k)) * 75.0 * 74.0, double(outStdFor(bits)), r, rng, extremes);
  std::uniform_int_distribution<int64_t> od(tmin<TY>(), tmax<TY>());
  int32_t zo = bits == 32 ? int32_t(od(rng) / 1024) : int32_t(od(rng));
  if (extremes)
    zo = int32_t(rng() % 2 ? tmin<TY>() : tmax<TY>()) / (bits == 32 ? 2 : 1);
  const int32_t lo = int32_t(tmin<TY>()), hi = int32_t(tmax<TY>());
  Node tmp;
  tmp.attrs = {{"out_zero_point", int64_t(zo)}, {"out_bits", int64_t(bits)}, {"out_signed", int64_t(std::is_signed_v<TY>)}};
  setRequants(tmp, rqs);
  auto run = runNode("qcc", "QGemm", {&x, &w, &b}, tmp.attrs);
  const Tensor &want = run->out[0];
  qcc_rt::GemmShape s{m, n, k};
  RqHolder h = makeRq(rqs, zo, lo, hi);
  std::vector<int8_t> packed(qcc_rt::gemm_packed_weight_bytes(s) + 3);
  qcc_rt::gemm_pack_weights(s, w.data<int8_t>(), packed.data() + 3);
  std::vector<unsigned char> scratch(qcc_rt::gemm_scratch_bytes(s));
  Tensor got(elemOf<TY>(), {m, n}), gotRef(elemOf<TY>(), {m, n});
  qcc_rt::gemm<TX, TY>(s, x.data<TX>(), packed.data() + 3, b.data<int32_t>(), h.rt, got.data<TY>(),
                       scratch.empty() ? nullptr : scratch.data());
  std::vector<int8_t> rpacked(qcc_rt::ref::gemm_packed_weight_bytes(s));
  qcc_rt::ref::gemm_pack_weights(s, w.data<int8_t>(), rpacked.data());
  qcc_rt::ref::gemm<TX, TY>(s, x.data<TX>(), rpacked.data(), b.data<int32_t>(), h.rt, gotRef.data<TY>(), nullptr);
  for (int64_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(int64_t(gotRef.data<TY>()[i]), want.getInt(i)) << "ref twin at " << i;
    ASSERT_EQ(int64_t(got.data<TY>()[i]), want.getInt(i)) << "optimized at " << i;
  }
}

} // namespace

TEST(KernelsGemm, ShapeSweep) {
  std::mt19937 rng(44);
  const int32_t shapes[][3] = {{1, 1, 1},   {1, 10, 7},   {1, 1000, 512}, {3, 17, 33},  {2, 64, 64}, {5, 31, 100},
                               {1, 16, 16}, {7, 48, 130}, {1, 9, 1280},   {4, 100, 3}, {1, 33, 17}, {70, 20, 100}};
  for (auto &sh : shapes)
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx}) {
      checkGemm<int8_t, int8_t>(sh[0], sh[1], sh[2], r, rng, Values::Random, false);
      checkGemm<uint8_t, uint8_t>(sh[0], sh[1], sh[2], r, rng, Values::Random, false);
      checkGemm<uint8_t, int16_t>(sh[0], sh[1], sh[2], r, rng, Values::Random, false);
      checkGemm<int8_t, int32_t>(sh[0], sh[1], sh[2], r, rng, Values::Random, false);
      for (Values v : {Values::Min, Values::Max, Values::Alternate}) {
        checkGemm<int8_t, int8_t>(sh[0], sh[1], sh[2], r, rng, v, true);
        checkGemm<uint8_t, uint8_t>(sh[0], sh[1], sh[2], r, rng, v, true);
      }
      if (HasFatalFailure())
        return;
    }
}

// A single-row GEMM (an FC layer at batch 1) needs scratch for one panel row,
// not a full panel: the generated arena stays small.
TEST(KernelsGemm, SingleRowScratchIsSmall) {
  const qcc_rt::GemmShape fc{1, 64, 1568};
  EXPECT_LT(qcc_rt::gemm_scratch_bytes(fc), size_t(16 * 1024));
  const qcc_rt::GemmShape batch{200, 64, 1568};
  EXPECT_GE(qcc_rt::gemm_scratch_bytes(batch), qcc_rt::gemm_scratch_bytes(fc));
}
