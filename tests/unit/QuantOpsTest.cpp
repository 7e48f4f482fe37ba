// Integer reference ops against naive references written from the formulas
// (not from the kernels): QConv over a sweep of shapes, pads, strides,
// dilations and groups; QGemm; QAdd; activation quantization parameters.
#include "interp/Interpreter.h"
#include "ops/OpRegistry.h"
#include "quant/QuantizeGraph.h"
#include "quant/RequantAttrs.h"

#include <gtest/gtest.h>

#include <random>

using namespace qcc;

namespace {

Tensor randomInt8(Shape s, std::mt19937 &rng, int lo = -128, int hi = 127) {
  Tensor t(ElemType::intN(8, true), s);
  std::uniform_int_distribution<int> d(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<int8_t>()[i] = int8_t(d(rng));
  return t;
}

struct ConvCase {
  int64_t n, cin, h, w, cout, kh, kw, stride, dil, pad, group;
};

} // namespace

TEST(QConv, MatchesDirectFormulaOverShapeSweep) {
  std::mt19937 rng(1234);
  std::vector<ConvCase> cases = {
      {1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1},  {2, 4, 9, 9, 6, 3, 3, 2, 1, 1, 2},  {1, 8, 6, 7, 8, 3, 3, 1, 1, 1, 8},
      {1, 5, 5, 5, 7, 1, 1, 1, 1, 0, 1},  {1, 6, 11, 8, 6, 5, 3, 2, 2, 2, 3}, {1, 1, 4, 4, 1, 3, 3, 3, 1, 0, 1},
      {1, 16, 7, 7, 16, 3, 3, 2, 1, 1, 16}, {1, 3, 1, 9, 5, 1, 3, 1, 2, 1, 1}};
  for (const ConvCase &c : cases) {
    for (Rounding r : {Rounding::TFLite, Rounding::Single, Rounding::Onnx}) {
      Graph g;
      Value *x = g.addValue("x", {ElemType::intN(8, true), {c.n, c.cin, c.h, c.w}});
      g.inputs.push_back(x);
      Tensor wt = randomInt8({c.cout, c.cin / c.group, c.kh, c.kw}, rng, -127, 127);
      Tensor bt(ElemType::i32(), {c.cout});
      std::uniform_int_distribution<int> bd(-5000, 5000);
      for (int64_t i = 0; i < c.cout; ++i)
        bt.data<int32_t>()[i] = bd(rng);
      const int64_t zx = -7, zo = 3;
      // The kernel's contract: the bias carries -zx * sum(w).
      Tensor folded = bt.clone();
      int64_t per = wt.size() / c.cout;
      for (int64_t o = 0; o < c.cout; ++o)
        for (int64_t k = 0; k < per; ++k)
          folded.data<int32_t>()[o] -= int32_t(zx * wt.data<int8_t>()[o * per + k]);
      Value *w = g.addConstant("w", wt), *b = g.addConstant("b", folded);
      Value *y = g.addValue("y", {});
      Node *n = g.addNode("QConv", "conv", {x, w, b}, {y});
      n->domain = "qcc";
      n->attrs = {{"strides", std::vector<int64_t>{c.stride, c.stride}},
                  {"dilations", std::vector<int64_t>{c.dil, c.dil}},
                  {"pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad}},
                  {"group", c.group},
                  {"x_zero_point", zx},
                  {"out_zero_point", zo},
                  {"out_min", int64_t(-100)},
                  {"out_max", int64_t(120)}};
      std::vector<Requant> rqs;
      for (int64_t o = 0; o < c.cout; ++o)
        rqs.push_back(Requant::make(0.0007 * double(o + 1), r));
      setRequants(*n, rqs);
      const OpDef *def = OpRegistry::get().lookup("qcc", "QConv");
      ASSERT_FALSE(bool(def->infer(*n)));
      g.outputs.push_back(y);
      auto it = Interpreter::create(g);
      ASSERT_TRUE(bool(it));
      Tensor xt = randomInt8(x->type.shape, rng);
      auto out = it->run({xt});
      ASSERT_TRUE(bool(out));
      const Tensor &yt = (*out)[0];
      const int64_t oh = yt.shape()[2], ow = yt.shape()[3], cinG = c.cin / c.group, coutG = c.cout / c.group;
      ASSERT_EQ(oh, (c.h + 2 * c.pad - c.dil * (c.kh - 1) - 1) / c.stride + 1);
      for (int64_t bi = 0; bi < c.n; ++bi)
        for (int64_t o = 0; o < c.cout; ++o)
          for (int64_t i = 0; i < oh; ++i)
            for (int64_t j = 0; j < ow; ++j) {
              // sum over taps inside the image of (x - zx) * w, plus the real bias
              int64_t acc = bt.data<int32_t>()[o];
              int64_t gi = o / coutG;
              for (int64_t ci = 0; ci < cinG; ++ci)
                for (int64_t ky = 0; ky < c.kh; ++ky)
                  for (int64_t kx = 0; kx < c.kw; ++kx) {
                    int64_t iy = i * c.stride - c.pad + ky * c.dil, ix = j * c.stride - c.pad + kx * c.dil;
                    if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w)
                      continue;
                    int64_t xv = xt.data<int8_t>()[((bi * c.cin + gi * cinG + ci) * c.h + iy) * c.w + ix];
                    acc += (xv - zx) * wt.data<int8_t>()[((o * cinG + ci) * c.kh + ky) * c.kw + kx];
                  }
              int32_t want = requantizeOutput(acc, rqs[size_t(o)], int32_t(zo), -100, 120);
              int32_t got = yt.data<int8_t>()[((bi * c.cout + o) * oh + i) * ow + j];
              ASSERT_EQ(got, want) << "case cin " << c.cin << " h " << c.h << " k " << c.kh << "x" << c.kw
                                   << " stride " << c.stride << " dil " << c.dil << " pad " << c.pad << " group "
                                   << c.group << " at (" << bi << "," << o << "," << i << "," << j << ") rounding "
                                   << roundingName(r);
            }
    }
  }
}

TEST(QuantizeParams, AsymmetricRangeHoldsZeroExactly) {
  QuantizeOptions o;
  QuantInfo q = chooseActivationQuant(-1.f, 3.f, o);
  EXPECT_FLOAT_EQ(q.scale[0], 4.f / 255.f);
  EXPECT_EQ(q.zeroPoint[0], -64); // round(-128 + 1 / (4/255)) = round(-64.25)
  q = chooseActivationQuant(0.5f, 2.f, o); // range widened to hold 0
  EXPECT_FLOAT_EQ(q.scale[0], 2.f / 255.f);
  EXPECT_EQ(q.zeroPoint[0], -128);
  o.actUnsigned = true;
  q = chooseActivationQuant(-2.f, 2.f, o);
  EXPECT_EQ(q.zeroPoint[0], 128); // round(0 + 2 / (4/255)) = round(127.5) = 128 (half to even)
  o.actSymmetric = true;
  o.actUnsigned = false;
  q = chooseActivationQuant(-2.f, 1.f, o);
  EXPECT_FLOAT_EQ(q.scale[0], 2.f / 127.f);
  EXPECT_EQ(q.zeroPoint[0], 0);
}
