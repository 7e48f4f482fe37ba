// qcc::QTrunc: the integer reference (ops/TruncOps.cpp) and the kernel
// (runtime_stub/qcc/trunc.h) against qonnx's rounding formulas evaluated in
// double (intquant.py: UP = sign(x) ceil|x|, HALF_UP = sign(x) floor(|x| + 0.5), ...),
// and the NHWC kernel against the NCHW reference on padded windows.
#include "ops/OpRegistry.h"

#include "qcc/trunc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qcc;

namespace {

const char *const kModes[] = {"FLOOR", "CEIL", "HALF_EVEN", "UP", "DOWN", "HALF_UP", "HALF_DOWN"};

double sgn(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

/// qonnx's rounding of x = acc / 2^shift (exact in double), mode index as kModes.
double qonnxRound(int mode, double x) {
  switch (mode) {
  case 0: return std::floor(x);
  case 1: return std::ceil(x);
  case 2: return std::nearbyint(x);
  case 3: return sgn(x) * std::ceil(std::fabs(x));
  case 4: return std::trunc(x);
  case 5: return sgn(x) * std::floor(std::fabs(x) + 0.5);
  default: return sgn(x) * std::ceil(std::fabs(x) - 0.5);
  }
}

/// Runs QTrunc's eval on x (int8 NCHW) with the given attributes.
Tensor evalQTrunc(const Tensor &x, std::map<std::string, Attribute> attrs) {
  Graph g;
  Value *xv = g.addValue("x", {x.elem(), x.shape()});
  Value *y = g.addValue("y", {});
  Node *n = g.addNode("QTrunc", "t", {xv}, {y});
  n->domain = "qcc";
  n->attrs = std::move(attrs);
  const OpDef *def = OpRegistry::get().lookup("qcc", "QTrunc");
  EXPECT_NE(def, nullptr);
  EXPECT_FALSE(bool(def->infer(*n)));
  std::vector<Tensor> out(1, Tensor(y->type.elem, y->type.shape));
  std::vector<const Tensor *> in = {&x};
  EXPECT_FALSE(bool(def->eval(*n, in, out)));
  return out[0];
}

} // namespace

TEST(QTrunc, RoundingModesMatchQonnxFormulas) {
  for (int mode = 0; mode < 7; ++mode)
    for (int shift : {-2, 0, 1, 2, 3, 5}) {
      Tensor x(ElemType::intN(16, true), {1, 601});
      for (int64_t i = 0; i < x.size(); ++i)
        x.setDouble(i, double(i - 300));
      const Tensor y = evalQTrunc(x, {{"shift", int64_t(shift)}, {"rounding_mode", std::string(kModes[mode])},
                                      {"out_bits", int64_t(16)}, {"out_signed", int64_t(1)}});
      const qcc_rt::TruncParams p{0, 0, shift, mode, -32768, 32767};
      for (int64_t i = 0; i < x.size(); ++i) {
        const int64_t acc = i - 300;
        const double want = qonnxRound(mode, std::ldexp(double(acc), -shift));
        ASSERT_EQ(y.getDouble(i), want) << kModes[mode] << " shift " << shift << " acc " << acc;
        ASSERT_EQ(double(qcc_rt::trunc_value(acc, p)), want) << kModes[mode] << " shift " << shift << " acc " << acc;
      }
    }
}

TEST(QTrunc, PooledKernelMatchesReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-128, 127);
  const int64_t N = 2, C = 3, H = 7, W = 6;
  Tensor x(ElemType::intN(8, true), {N, C, H, W});
  for (int64_t i = 0; i < x.size(); ++i)
    x.data<int8_t>()[i] = int8_t(d(rng));
  for (int mode = 0; mode < 7; ++mode) {
    const int64_t kh = 3, kw = 2, sh = 2, sw = 1, pt = 1, pl = 0, pb = 1, pr = 1, zx = -5, offset = 3, shift = 2;
    const Tensor y = evalQTrunc(
        x, {{"kernel_shape", std::vector<int64_t>{kh, kw}}, {"strides", std::vector<int64_t>{sh, sw}},
            {"pads", std::vector<int64_t>{pt, pl, pb, pr}}, {"x_zero_point", zx}, {"offset", offset},
            {"shift", shift}, {"rounding_mode", std::string(kModes[mode])}, {"out_min", int64_t(-100)},
            {"out_max", int64_t(90)}, {"out_bits", int64_t(8)}, {"out_signed", int64_t(1)}});
    const int64_t OH = y.shape()[2], OW = y.shape()[3];
    ASSERT_EQ(OH, (H + pt + pb - kh) / sh + 1);
    ASSERT_EQ(OW, (W + pl + pr - kw) / sw + 1);
    // NCHW -> NHWC, run the kernel, compare element by element.
    std::vector<int8_t> xn(size_t(x.size())), yn(size_t(y.size()));
    for (int64_t b = 0; b < N; ++b)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w)
            xn[size_t(((b * H + h) * W + w) * C + c)] = x.data<int8_t>()[((b * C + c) * H + h) * W + w];
    const qcc_rt::PoolShape s{int32_t(N), int32_t(H), int32_t(W), int32_t(C), int32_t(OH), int32_t(OW), int32_t(kh),
                              int32_t(kw), int32_t(sh), int32_t(sw), 1, 1, int32_t(pt), int32_t(pl)};
    const qcc_rt::TruncParams p{int32_t(zx), int32_t(offset), int32_t(shift), mode, -100, 90};
    qcc_rt::trunc_pool_nhwc(s, xn.data(), p, yn.data());
    int64_t clamped = 0;
    for (int64_t b = 0; b < N; ++b)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int ref = y.data<int8_t>()[((b * C + c) * OH + oy) * OW + ox];
            clamped += ref == -100 || ref == 90;
            ASSERT_EQ(int(yn[size_t(((b * OH + oy) * OW + ox) * C + c)]), ref) << kModes[mode];
          }
    EXPECT_LT(clamped, y.size()); // not everything saturated
  }
}
