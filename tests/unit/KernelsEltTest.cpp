// qcc_rt pooling and elementwise kernels against the reference ops: MaxPool,
// QGlobalAveragePool, QAdd, QMul, QAddFma, Requantize, Lut, Quantize/
// DequantizeLinear; clip against its formula.
#include "KernelsTestUtil.h"

#include <gtest/gtest.h>

#include <limits>

using namespace qcc;
using namespace kt;

namespace {

template <typename T> int64_t tmin() { return std::numeric_limits<T>::min(); }
template <typename T> int64_t tmax() { return std::numeric_limits<T>::max(); }

template <typename T> void expectSame(const Tensor &want, const T *got, const T *gotRef, const std::string &what) {
  for (int64_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(int64_t(gotRef[i]), want.getInt(i)) << what << ": ref twin at " << i;
    ASSERT_EQ(int64_t(got[i]), want.getInt(i)) << what << ": optimized at " << i;
  }
}

// ---- pools ---------------------------------------------------------------------

struct PC {
  int32_t n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ceil;
};

template <typename T> void checkMaxPool(const PC &p, std::mt19937 &rng) {
  SCOPED_TRACE(std::string("maxpool ") + typeName<T>() + " c" + std::to_string(p.c) + " " + std::to_string(p.h) + "x" +
               std::to_string(p.w) + " k" + std::to_string(p.kh) + "x" + std::to_string(p.kw));
  Tensor x = randomTensor<T>({p.n, p.c, p.h, p.w}, rng);
  std::map<std::string, Attribute> attrs = {{"kernel_shape", std::vector<int64_t>{p.kh, p.kw}},
                                            {"strides", std::vector<int64_t>{p.sh, p.sw}},
                                            {"dilations", std::vector<int64_t>{p.dh, p.dw}},
                                            {"pads", std::vector<int64_t>{p.pt, p.pl, p.pb, p.pr}},
                                            {"ceil_mode", int64_t(p.ceil)}};
  auto run = runNode("", "MaxPool", {&x}, attrs);
  Tensor want = toNhwc(run->out[0]);
  const int32_t oh = int32_t(want.shape()[1]), ow = int32_t(want.shape()[2]);
  qcc_rt::PoolShape s{p.n, p.h, p.w, p.c, oh, ow, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl};
  Tensor xn = toNhwc(x);
  Tensor got(elemOf<T>(), want.shape()), gotRef(elemOf<T>(), want.shape());
  qcc_rt::maxpool_nhwc<T>(s, xn.data<T>(), got.data<T>());
  qcc_rt::ref::maxpool_nhwc<T>(s, xn.data<T>(), gotRef.data<T>());
  expectSame<T>(want, got.data<T>(), gotRef.data<T>(), "maxpool");
}

template <typename TX, typename TY> void checkGap(int32_t n, int32_t c, int32_t h, int32_t w, Rounding r, std::mt19937 &rng,
                                                  bool extremes) {
  SCOPED_TRACE(std::string("gap ") + typeName<TX>() + "->" + typeName<TY>() + " c" + std::to_string(c) + " hw" +
               std::to_string(h * w) + " " + roundingName(r));
  Tensor x = randomTensor<TX>({n, c, h, w}, rng);
  if (extremes)
    for (int64_t i = 0; i < x.size(); ++i)
      x.data<TX>()[i] = TX(i % 5 ? tmax<TX>() : tmin<TX>());
  std::uniform_int_distribution<int64_t> zd(tmin<TX>(), tmax<TX>());
  const int32_t zx = extremes ? int32_t(tmin<TX>()) : int32_t(zd(rng));
  Requant rq = Requant::make(extremes ? 3.5 : 0.9 / double(h * w), r);
  std::uniform_int_distribution<int64_t> od(tmin<TY>(), tmax<TY>());
  const int32_t zo = sizeof(TY) == 4 ? 12345 : int32_t(od(rng));
  Node tmp;
  tmp.attrs = {{"x_zero_point", int64_t(zx)},
               {"out_zero_point", int64_t(zo)},
               {"out_bits", int64_t(sizeof(TY) * 8)},
               {"out_signed", int64_t(std::is_signed_v<TY>)}};
  setRequants(tmp, {rq});
  auto run = runNode("qcc", "QGlobalAveragePool", {&x}, tmp.attrs);
  const Tensor &want = run->out[0]; // [n, c, 1, 1] == NHWC [n, 1, 1, c]
  Tensor xn = toNhwc(x);
  RqHolder hq = makeRq({rq}, zo, int32_t(tmin<TY>()), int32_t(tmax<TY>()));
  Tensor got(elemOf<TY>(), {n, c}), gotRef(elemOf<TY>(), {n, c});
  qcc_rt::global_avgpool_nhwc<TX, TY>(n, h * w, c, xn.data<TX>(), zx, hq.rt, got.data<TY>());
  qcc_rt::ref::global_avgpool_nhwc<TX, TY>(n, h * w, c, xn.data<TX>(), zx, hq.rt, gotRef.data<TY>());
  expectSame<TY>(want, got.data<TY>(), gotRef.data<TY>(), "gap");
}

} // namespace

TEST(KernelsPool, MaxPoolSweep) {
  std::mt19937 rng(50);
  const PC cases[] = {
      {1, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, // resnet stem pool
      {2, 3, 7, 9, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},      {1, 5, 7, 7, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1},
      {1, 17, 6, 5, 3, 2, 1, 2, 2, 1, 1, 0, 2, 1, 0},     {1, 1, 5, 5, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0},
      {1, 33, 8, 8, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},     {1, 4, 1, 9, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 0},
  };
  for (const PC &p : cases) {
    checkMaxPool<int8_t>(p, rng);
    checkMaxPool<uint8_t>(p, rng);
    checkMaxPool<int16_t>(p, rng);
    checkMaxPool<int32_t>(p, rng);
    if (HasFatalFailure())
      return;
  }
}

TEST(KernelsPool, GlobalAveragePool) {
  std::mt19937 rng(51);
  const int32_t cases[][4] = {{1, 512, 7, 7}, {2, 3, 5, 4}, {1, 1280, 7, 7}, {1, 17, 1, 1}, {3, 33, 13, 11}};
  for (auto &c : cases)
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx})
      for (bool ext : {false, true}) {
        checkGap<int8_t, int8_t>(c[0], c[1], c[2], c[3], r, rng, ext);
        checkGap<uint8_t, uint8_t>(c[0], c[1], c[2], c[3], r, rng, ext);
        checkGap<int8_t, int32_t>(c[0], c[1], c[2], c[3], r, rng, ext);
        checkGap<int16_t, int16_t>(c[0], c[1], c[2], c[3], r, rng, ext);
        if (HasFatalFailure())
          return;
      }
}

// ---- broadcasting binary ops --------------------------------------------------------

namespace {

struct BCase {
  Shape a, b;
};

std::vector<BCase> broadcastCases() {
  return {{{1, 8, 5, 5}, {1, 8, 5, 5}}, {{2, 3, 4}, {3, 1}},          {{1, 16, 1, 1}, {1, 16, 7, 7}},
          {{37}, {37}},                 {{}, {5, 3}},                  {{4, 1, 3}, {}},
          {{2, 1, 3, 1, 2, 3}, {1, 2, 1, 2, 1, 3}}, {{1, 64, 3, 3}, {1, 64, 1, 1}}, {{1, 1, 6}, {2, 5, 1}},
          {{1, 9, 9, 64}, {1, 9, 9, 64}},          // several chunks
          {{3, 300}, {300}},                       // runs longer than a chunk
          {{1, 7, 7, 40}, {1, 1, 1, 40}}};         // NHWC per-channel broadcast
}

// The kernel's Broadcast over the output shape (row-major, physical order).
qcc_rt::Broadcast makeBroadcast(const Shape &out, const Shape &a, const Shape &b) {
  qcc_rt::Broadcast s{};
  s.rank = int32_t(out.size());
  auto strides = [&](const Shape &in, int64_t *st) {
    int64_t acc = 1;
    for (size_t d = out.size(); d-- > 0;) {
      const size_t off = out.size() - in.size();
      if (d < off) {
        st[d] = 0;
        continue;
      }
      const int64_t dim = in[d - off];
      st[d] = dim == 1 ? 0 : acc;
      acc *= dim;
    }
  };
  for (size_t d = 0; d < out.size(); ++d)
    s.dims[d] = out[d];
  strides(a, s.a_stride);
  strides(b, s.b_stride);
  return s;
}

template <typename TA, typename TB, typename TY> void checkAddMul(const BCase &c, Rounding r, std::mt19937 &rng, bool ext) {
  SCOPED_TRACE(std::string("add/mul ") + typeName<TA>() + "," + typeName<TB>() + "->" + typeName<TY>() + " " +
               roundingName(r));
  Tensor a = randomTensor<TA>(c.a, rng), b = randomTensor<TB>(c.b, rng);
  if (ext) {
    for (int64_t i = 0; i < a.size(); ++i)
      a.data<TA>()[i] = TA(i % 2 ? tmax<TA>() : tmin<TA>());
    for (int64_t i = 0; i < b.size(); ++i)
      b.data<TB>()[i] = TB(i % 3 ? tmin<TB>() : tmax<TB>());
  }
  std::uniform_int_distribution<int64_t> za(tmin<TA>(), tmax<TA>()), zb(tmin<TB>(), tmax<TB>()),
      zy(tmin<TY>(), tmax<TY>());
  const int32_t zA = ext ? int32_t(tmax<TA>()) : int32_t(za(rng)), zB = ext ? int32_t(tmin<TB>()) : int32_t(zb(rng));
  const int32_t zo = sizeof(TY) == 4 ? -777 : int32_t(zy(rng));
  std::uniform_real_distribution<double> sd(0.2, 1.5);
  const double sa = sd(rng), sb = sd(rng), so = sd(rng) * (sizeof(TY) == 1 ? 1.0 : 0.01);
  // QAdd: a and b to a shared scale 2 * max(sa, sb) (TFLite), output from there.
  const double twice = 2.0 * std::max(sa, sb);
  Requant A = Requant::make(sa / twice, r, float(sa / so)), B = Requant::make(sb / twice, r, float(sb / so));
  Requant O = Requant::make(twice / (double(1 << 20) * so), r);
  Node tmp;
  tmp.attrs = {{"a_zero_point", int64_t(zA)},
               {"b_zero_point", int64_t(zB)},
               {"out_zero_point", int64_t(zo)},
               {"out_bits", int64_t(sizeof(TY) * 8)},
               {"out_signed", int64_t(std::is_signed_v<TY>)}};
  setRequants(tmp, {A}, "a_");
  setRequants(tmp, {B}, "b_");
  setRequants(tmp, {O});
  auto run = runNode("qcc", "QAdd", {&a, &b}, tmp.attrs);
  const Tensor &want = run->out[0];
  qcc_rt::Broadcast s = makeBroadcast(want.shape(), a.shape(), b.shape());
  const int32_t lo = int32_t(tmin<TY>()), hi = int32_t(tmax<TY>());
  RqHolder ha = makeRq({A}, 0, 0, 0), hb = makeRq({B}, 0, 0, 0), ho = makeRq({O}, zo, lo, hi);
  qcc_rt::AddParams p{zA, zB, ha.rt, hb.rt, ho.rt};
  Tensor got(elemOf<TY>(), want.shape()), gotRef(elemOf<TY>(), want.shape());
  qcc_rt::add<TA, TB, TY>(s, a.data<TA>(), b.data<TB>(), p, got.data<TY>());
  qcc_rt::ref::add<TA, TB, TY>(s, a.data<TA>(), b.data<TB>(), p, gotRef.data<TY>());
  expectSame<TY>(want, got.data<TY>(), gotRef.data<TY>(), "add");
  // QMul.
  Requant M = Requant::make(sa * sb / so, r);
  Node tm;
  tm.attrs = tmp.attrs;
  setRequants(tm, {M});
  auto runM = runNode("qcc", "QMul", {&a, &b}, tm.attrs);
  RqHolder hm = makeRq({M}, zo, lo, hi);
  qcc_rt::MulParams mp{zA, zB, hm.rt};
  qcc_rt::mul<TA, TB, TY>(s, a.data<TA>(), b.data<TB>(), mp, got.data<TY>());
  qcc_rt::ref::mul<TA, TB, TY>(s, a.data<TA>(), b.data<TB>(), mp, gotRef.data<TY>());
  expectSame<TY>(runM->out[0], got.data<TY>(), gotRef.data<TY>(), "mul");
  // QAddFma.
  const float ra = float(sa / so), rb = float(sb / so);
  std::map<std::string, Attribute> fa = {{"a_zero_point", int64_t(zA)},
                                         {"b_zero_point", int64_t(zB)},
                                         {"out_zero_point", int64_t(zo)},
                                         {"a_ratio", ra},
                                         {"b_ratio", rb},
                                         {"out_bits", int64_t(sizeof(TY) * 8)},
                                         {"out_signed", int64_t(std::is_signed_v<TY>)}};
  auto runF = runNode("qcc", "QAddFma", {&a, &b}, fa);
  const Shape &ys = want.shape();
  const bool scalarA = !ys.empty() && ys.back() > 1 && (c.a.empty() || c.a.back() == 1);
  qcc_rt::AddFmaParams fp{ra, rb, zA, zB, zo, lo, hi, scalarA ? 1 : 0};
  qcc_rt::add_fma<TA, TB, TY>(s, a.data<TA>(), b.data<TB>(), fp, got.data<TY>());
  qcc_rt::ref::add_fma<TA, TB, TY>(s, a.data<TA>(), b.data<TB>(), fp, gotRef.data<TY>());
  expectSame<TY>(runF->out[0], got.data<TY>(), gotRef.data<TY>(), "add_fma");
}

} // namespace

TEST(KernelsElementwise, AddMulAddFmaBroadcast) {
  std::mt19937 rng(52);
  for (const BCase &c : broadcastCases())
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx})
      for (bool ext : {false, true}) {
        checkAddMul<int8_t, int8_t, int8_t>(c, r, rng, ext);
        checkAddMul<uint8_t, uint8_t, uint8_t>(c, r, rng, ext);
        checkAddMul<int8_t, uint8_t, int16_t>(c, r, rng, ext);
        checkAddMul<int16_t, int16_t, int32_t>(c, r, rng, ext);
        if (HasFatalFailure())
          return;
      }
}

TEST(KernelsElementwise, InPlace) {
  std::mt19937 rng(53);
  Shape sh{2, 3, 8};
  Tensor a = randomTensor<int8_t>(sh, rng), b = randomTensor<int8_t>(sh, rng);
  qcc_rt::Broadcast s = makeBroadcast(sh, sh, sh);
  Requant A = Requant::make(0.4, Rounding::TFLite), B = Requant::make(0.3, Rounding::TFLite),
          O = Requant::make(1.5 / double(1 << 20), Rounding::TFLite);
  RqHolder ha = makeRq({A}, 0, 0, 0), hb = makeRq({B}, 0, 0, 0), ho = makeRq({O}, 3, -128, 127);
  qcc_rt::AddParams p{-3, 5, ha.rt, hb.rt, ho.rt};
  Tensor want(elemOf<int8_t>(), sh), y = a.clone();
  qcc_rt::ref::add<int8_t, int8_t, int8_t>(s, a.data<int8_t>(), b.data<int8_t>(), p, want.data<int8_t>());
  qcc_rt::add<int8_t, int8_t, int8_t>(s, y.data<int8_t>(), b.data<int8_t>(), p, y.data<int8_t>());
  for (int64_t i = 0; i < y.size(); ++i)
    ASSERT_EQ(y.data<int8_t>()[i], want.data<int8_t>()[i]);
  y = b.clone();
  qcc_rt::add<int8_t, int8_t, int8_t>(s, a.data<int8_t>(), y.data<int8_t>(), p, y.data<int8_t>());
  for (int64_t i = 0; i < y.size(); ++i)
    ASSERT_EQ(y.data<int8_t>()[i], want.data<int8_t>()[i]);
  y = a.clone();
  RqHolder hr = makeRq({A}, 7, -128, 127);
  qcc_rt::ref::requantize_tensor<int8_t, int8_t>(y.size(), a.data<int8_t>(), 9, hr.rt, want.data<int8_t>());
  qcc_rt::requantize_tensor<int8_t, int8_t>(y.size(), y.data<int8_t>(), 9, hr.rt, y.data<int8_t>());
  for (int64_t i = 0; i < y.size(); ++i)
    ASSERT_EQ(y.data<int8_t>()[i], want.data<int8_t>()[i]);
}

// ---- unary ---------------------------------------------------------------------------

namespace {

template <typename TX, typename TY> void checkRequantize(Rounding r, std::mt19937 &rng, double real) {
  SCOPED_TRACE(std::string("requantize ") + typeName<TX>() + "->" + typeName<TY>() + " " + roundingName(r) + " M " +
               std::to_string(real));
  Tensor x = randomTensor<TX>({1000}, rng);
  for (int64_t i = 0; i < 6; ++i)
    x.data<TX>()[i] = TX(i % 2 ? tmin<TX>() : tmax<TX>());
  std::uniform_int_distribution<int64_t> zd(tmin<TX>(), tmax<TX>()), zy(tmin<TY>(), tmax<TY>());
  const int32_t zx = int32_t(sizeof(TX) == 4 ? zd(rng) / 4 : zd(rng)), zo = int32_t(sizeof(TY) == 4 ? 99 : zy(rng));
  Requant rq = Requant::make(real, r);
  Node tmp;
  tmp.attrs = {{"x_zero_point", int64_t(zx)},
               {"out_zero_point", int64_t(zo)},
               {"out_bits", int64_t(sizeof(TY) * 8)},
               {"out_signed", int64_t(std::is_signed_v<TY>)}};
  setRequants(tmp, {rq});
  auto run = runNode("qcc", "Requantize", {&x}, tmp.attrs);
  RqHolder h = makeRq({rq}, zo, int32_t(tmin<TY>()), int32_t(tmax<TY>()));
  Tensor got(elemOf<TY>(), x.shape()), gotRef(elemOf<TY>(), x.shape());
  qcc_rt::requantize_tensor<TX, TY>(x.size(), x.data<TX>(), zx, h.rt, got.data<TY>());
  qcc_rt::ref::requantize_tensor<TX, TY>(x.size(), x.data<TX>(), zx, h.rt, gotRef.data<TY>());
  expectSame<TY>(run->out[0], got.data<TY>(), gotRef.data<TY>(), "requantize");
}

template <typename TX, typename TY> void checkLut(std::mt19937 &rng) {
  Tensor x = randomTensor<TX>({777}, rng);
  std::vector<int64_t> table(256);
  std::uniform_int_distribution<int64_t> td(tmin<TY>(), tmax<TY>());
  for (auto &v : table)
    v = td(rng);
  auto run = runNode("qcc", "Lut", {&x},
                     {{"table", table},
                      {"out_bits", int64_t(sizeof(TY) * 8)},
                      {"out_signed", int64_t(std::is_signed_v<TY>)}});
  std::vector<int32_t> t32(table.begin(), table.end());
  Tensor got(elemOf<TY>(), x.shape()), gotRef(elemOf<TY>(), x.shape());
  qcc_rt::lut<TX, TY>(x.size(), x.data<TX>(), t32.data(), int32_t(tmin<TX>()), got.data<TY>());
  qcc_rt::ref::lut<TX, TY>(x.size(), x.data<TX>(), t32.data(), int32_t(tmin<TX>()), gotRef.data<TY>());
  expectSame<TY>(run->out[0], got.data<TY>(), gotRef.data<TY>(), "lut");
}

template <typename TY> void checkQuantDequant(std::mt19937 &rng, float scale, int32_t zp) {
  SCOPED_TRACE(std::string("quantize ") + typeName<TY>() + " scale " + std::to_string(scale));
  Tensor x(ElemType::f32(), {1, 4000});
  std::uniform_real_distribution<float> d(-300.f * scale, 300.f * scale);
  for (int64_t i = 0; i < x.size(); ++i)
    x.data<float>()[i] = d(rng);
  // Exact ties, huge values, infinities and NaN.
  const float specials[] = {0.5f * scale, 1.5f * scale,  2.5f * scale, -0.5f * scale, -2.5f * scale,
                            1e30f,        -1e30f,        std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(), 0.f, -0.f};
  for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); ++i)
    x.data<float>()[i] = specials[i];
  Tensor s = Tensor::scalarF32(scale);
  Tensor z(elemOf<TY>(), {});
  z.data<TY>()[0] = TY(zp);
  auto run = runNode("", "QuantizeLinear", {&x, &s, &z}, {});
  Tensor got(elemOf<TY>(), x.shape()), gotRef(elemOf<TY>(), x.shape());
  qcc_rt::quantize<TY>(x.size(), x.data<float>(), scale, zp, int32_t(tmin<TY>()), int32_t(tmax<TY>()), got.data<TY>());
  qcc_rt::ref::quantize<TY>(x.size(), x.data<float>(), scale, zp, int32_t(tmin<TY>()), int32_t(tmax<TY>()),
                            gotRef.data<TY>());
  expectSame<TY>(run->out[0], got.data<TY>(), gotRef.data<TY>(), "quantize");
  // Dequantize the full range of TY (8/16-bit) or a random sample.
  Tensor q = randomTensor<TY>({3000}, rng);
  auto runD = runNode("", "DequantizeLinear", {&q, &s, &z}, {});
  std::vector<float> f(3000), fr(3000);
  qcc_rt::dequantize<TY>(q.size(), q.data<TY>(), scale, zp, f.data());
  qcc_rt::ref::dequantize<TY>(q.size(), q.data<TY>(), scale, zp, fr.data());
  for (int64_t i = 0; i < q.size(); ++i) {
    ASSERT_EQ(std::memcmp(&f[size_t(i)], runD->out[0].data<float>() + i, 4), 0) << "dequantize at " << i;
    ASSERT_EQ(std::memcmp(&fr[size_t(i)], runD->out[0].data<float>() + i, 4), 0) << "dequantize ref at " << i;
  }
}

} // namespace

TEST(KernelsElementwise, RequantizeTensor) {
  std::mt19937 rng(54);
  for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx})
    for (double real : {0.0003, 0.37, 1.0, 3.9, 700.0, 1e-12}) {
      checkRequantize<int8_t, int8_t>(r, rng, real);
      checkRequantize<uint8_t, int8_t>(r, rng, real);
      checkRequantize<int16_t, uint8_t>(r, rng, real);
      checkRequantize<int32_t, int8_t>(r, rng, real);
      checkRequantize<int32_t, int32_t>(r, rng, real);
      checkRequantize<uint16_t, int16_t>(r, rng, real);
      if (HasFatalFailure())
        return;
    }
}

TEST(KernelsElementwise, Lut) {
  std::mt19937 rng(55);
  checkLut<int8_t, int8_t>(rng);
  checkLut<uint8_t, uint8_t>(rng);
  checkLut<int8_t, uint8_t>(rng);
  checkLut<uint8_t, int16_t>(rng);
}

TEST(KernelsElementwise, QuantizeDequantize) {
  std::mt19937 rng(56);
  for (float scale : {0.0078125f, 0.013f, 1.f, 37.5f}) {
    checkQuantDequant<int8_t>(rng, scale, -128);
    checkQuantDequant<int8_t>(rng, scale, 127);
    checkQuantDequant<uint8_t>(rng, scale, 0);
    checkQuantDequant<uint8_t>(rng, scale, 255);
    checkQuantDequant<int16_t>(rng, scale, -5);
    checkQuantDequant<uint16_t>(rng, scale, 40000);
    checkQuantDequant<int32_t>(rng, scale, 0);
  }
}

TEST(KernelsElementwise, Clip) {
  std::mt19937 rng(57);
  Tensor x = randomTensor<int8_t>({333}, rng);
  std::vector<int8_t> y(333), yr(333);
  qcc_rt::clip<int8_t>(333, x.data<int8_t>(), -20, 100, y.data());
  qcc_rt::ref::clip<int8_t>(333, x.data<int8_t>(), -20, 100, yr.data());
  for (size_t i = 0; i < y.size(); ++i) {
    const int v = x.data<int8_t>()[i];
    ASSERT_EQ(y[i], int8_t(std::min(std::max(v, -20), 100)));
    ASSERT_EQ(yr[i], y[i]);
  }
  Tensor u = randomTensor<uint8_t>({100}, rng);
  std::vector<uint8_t> uy(100);
  qcc_rt::clip<uint8_t>(100, u.data<uint8_t>(), 0, 255, uy.data());
  for (size_t i = 0; i < uy.size(); ++i)
    ASSERT_EQ(uy[i], u.data<uint8_t>()[i]);
  Tensor w = randomTensor<int32_t>({100}, rng);
  std::vector<int32_t> wy(100);
  qcc_rt::clip<int32_t>(100, w.data<int32_t>(), INT32_MIN, 5, wy.data());
  for (size_t i = 0; i < wy.size(); ++i)
    ASSERT_EQ(wy[i], std::min(w.data<int32_t>()[i], 5));
}
