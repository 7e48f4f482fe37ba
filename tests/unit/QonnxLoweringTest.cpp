// QONNX Quant nodes onto qcc's integer graph (quant/ImportQonnx.h, then
// quant/ImportQdq.h in QONNX mode): the grids recorded on folded weights, the
// QDQ form of activation quantizers and its ranges, the fused integer graph,
// and the errors for what is not lowered yet. Expected values follow qonnx's
// intquant.py (min_int / max_int, clamp then round half to even).
#include "OnnxBuilder.h"

#include "frontend/OnnxLoader.h"
#include "interp/Interpreter.h"
#include "quant/ImportQdq.h"
#include "quant/ImportQonnx.h"
#include "quant/QonnxLayout.h"
#include "driver/ModelOptions.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using qcc::test::OnnxBuilder;

namespace {

const char *kDomain = "qonnx.custom_op.general";

/// Adds Quant(x, scale, zp, bits) with constant parameters named after `y`.
onnx::NodeProto &quant(OnnxBuilder &b, const std::string &x, const std::string &y, std::vector<int64_t> scaleDims,
                       std::vector<float> scale, float zp, float bits, int64_t isSigned, int64_t narrow,
                       const char *mode = "ROUND") {
  b.initF(y + "_s", scaleDims, scale);
  b.initF(y + "_z", {}, {zp});
  b.initF(y + "_b", {}, {bits});
  auto &n = b.node("Quant", {x, y + "_s", y + "_z", y + "_b"}, {y}, "quant_" + y);
  n.set_domain(kDomain);
  OnnxBuilder::attrInt(n, "signed", isSigned);
  OnnxBuilder::attrInt(n, "narrow", narrow);
  auto *a = n.add_attribute();
  a->set_name("rounding_mode");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(mode);
  return n;
}

std::unique_ptr<Graph> load(OnnxBuilder &b, const std::string &tag) {
  auto g = loadOnnx(b.save(test::tempDir(tag)));
  EXPECT_TRUE(bool(g)) << (g ? "" : llvm::toString(g.takeError()));
  return g ? std::move(*g) : nullptr;
}

/// lowerQonnx + lowerQdq (QONNX mode), as qcc compile runs them.
void lower(Graph &g, QonnxImportStats *st = nullptr) {
  auto e = lowerQonnx(g, st);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  QdqImportOptions o;
  o.qonnx = true;
  auto e2 = lowerQdq(g, nullptr, o);
  ASSERT_FALSE(bool(e2)) << llvm::toString(std::move(e2));
}

std::vector<std::string> ops(const Graph &g) {
  std::vector<std::string> v;
  for (const auto &n : g.nodes())
    v.push_back(n->domain.empty() ? n->op : n->domain + "::" + n->op);
  return v;
}

const Node *findOp(const Graph &g, const std::string &op) {
  for (const auto &n : g.nodes())
    if (n->op == op)
      return n.get();
  return nullptr;
}

std::vector<float> run(const Graph &g, const Tensor &x) {
  auto interp = Interpreter::create(g);
  EXPECT_TRUE(bool(interp));
  if (!interp)
    return {};
  auto outs = interp->run({x});
  EXPECT_TRUE(bool(outs)) << (outs ? "" : llvm::toString(outs.takeError()));
  return outs ? (*outs)[0].toFloats() : std::vector<float>{};
}

Tensor f32(Shape s, std::vector<float> v) {
  Tensor t(ElemType::f32(), s);
  for (size_t i = 0; i < v.size(); ++i)
    t.data<float>()[i] = v[i];
  return t;
}

} // namespace

TEST(QonnxLowering, QuantOfAConstantFoldsWithItsGrid) {
  OnnxBuilder b;
  b.input("x", {1, 2});
  b.output("y");
  b.initF("w", {2, 2}, {0.9f, -0.3f, 0.26f, -2.0f});
  quant(b, "w", "wq", {2, 1}, {0.25f, 0.5f}, 0, 4, 1, 1); // int4 narrow, per row
  b.node("MatMul", {"x", "wq"}, {"y"});
  auto g = load(b, "qonnx_fold_weight");
  ASSERT_TRUE(g);
  const Value *w = g->findValue("wq");
  ASSERT_TRUE(w && w->isConstant() && w->quant);
  EXPECT_EQ(w->quant->bits, 4u);
  EXPECT_TRUE(w->quant->isSigned);
  EXPECT_TRUE(w->quant->narrow);
  EXPECT_EQ(w->quant->axis, 0);
  EXPECT_EQ(w->quant->scale, (std::vector<float>{0.25f, 0.5f}));
  // 0.9/0.25 = 3.6 -> 4; -0.3/0.25 = -1.2 -> -1; 0.26/0.5 -> 1 (0.52); -2/0.5 = -4.
  EXPECT_EQ(w->constant->toFloats(), (std::vector<float>{1.0f, -0.25f, 0.5f, -2.0f}));
}

TEST(QonnxLowering, ActivationQuantBecomesQdqOfItsWidth) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("y");
  b.node("Relu", {"x"}, {"r"});
  quant(b, "r", "y", {}, {0.5f}, 0, 3, 0, 0); // uint3: [0, 7]
  auto g = load(b, "qonnx_act_qdq");
  ASSERT_TRUE(g);
  QonnxImportStats st;
  auto e = lowerQonnx(*g, &st);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  EXPECT_EQ(st.quant, 1);
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"Relu", "QuantizeLinear", "DequantizeLinear"}));
  const Node *q = findOp(*g, "QuantizeLinear");
  EXPECT_EQ(q->output(0)->type.elem, ElemType::intN(3, false));
  // clamp to 7 steps; 1.25 / 0.5 = 2.5 -> 2 (half to even).
  EXPECT_EQ(run(*g, f32({1, 4}, {-1.f, 1.25f, 1.8f, 9.f})), (std::vector<float>{0.f, 1.f, 2.f, 3.5f}));
}

TEST(QonnxLowering, NarrowAndInputQuantizersClipToQonnxsRange) {
  // Graph input, int4 non-narrow: 8-bit storage (the generated float entry
  // saturates to storage) + Clip to [-8, 7].
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.output("y");
  quant(b, "x", "xq", {}, {1.f}, 0, 4, 1, 0);
  b.node("Relu", {"xq"}, {"r"});
  quant(b, "r", "y", {}, {1.f}, 0, 4, 1, 1); // narrow int4: [-7, 7]
  auto g = load(b, "qonnx_narrow");
  ASSERT_TRUE(g);
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  std::vector<std::string> o = ops(*g);
  ASSERT_GE(o.size(), 3u);
  EXPECT_EQ(o[0], "QuantizeLinear");
  EXPECT_EQ(o[1], "Clip");
  const Node *q = findOp(*g, "QuantizeLinear");
  EXPECT_EQ(q->output(0)->type.elem, ElemType::intN(8, true));
  const Node *c = findOp(*g, "Clip");
  EXPECT_EQ(c->getInt("min", 0), -8);
  EXPECT_EQ(c->getInt("max", 0), 7);
  EXPECT_EQ(run(*g, f32({1, 3}, {-20.f, 3.f, 20.f})), (std::vector<float>{0.f, 3.f, 7.f}));
}

TEST(QonnxLowering, QdqFormEqualsQuantBitForBit) {
  // The float Quant and its QDQ form on values around every rounding edge:
  // ties, the clamp bounds, per-channel scales, zero points. An odd zero
  // point moves exact .5 ties by one step (qonnx rounds x/s + z half to even,
  // QuantizeLinear rounds x/s, then adds z): documented in ImportQonnx.h.
  for (int zp : {0, 2, 3}) {
    for (int64_t narrow : {0, 1}) {
      OnnxBuilder b;
      b.input("x", {2, 64});
      b.output("y");
      quant(b, "x", "y", {2, 1}, {0.375f, 0.0625f}, float(zp), 5, 1, narrow);
      const std::string tag = "qonnx_bitexact_" + std::to_string(zp) + std::to_string(narrow);
      auto ref = load(b, tag);
      auto g = load(b, tag);
      ASSERT_TRUE(ref && g);
      ASSERT_NO_FATAL_FAILURE(lower(*g));
      std::vector<float> xs;
      for (int i = 0; i < 128; ++i)
        xs.push_back(float(i - 64) * 0.09375f + (i % 3 == 0 ? 0.0078125f : 0.f));
      Tensor x = f32({2, 64}, xs);
      const std::vector<float> got = run(*g, x), want = run(*ref, x);
      if (zp % 2 == 0) {
        EXPECT_EQ(got, want) << tag;
        continue;
      }
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const float s = i < 64 ? 0.375f : 0.0625f;
        const double f = double(xs[i]) / double(s);
        if (f - std::floor(f) == 0.5) // a tie: one step apart at most
          EXPECT_LE(std::fabs(got[i] - want[i]), s) << tag << " element " << i;
        else
          EXPECT_EQ(got[i], want[i]) << tag << " element " << i;
      }
    }
  }
}

TEST(QonnxLowering, ConvWithSubByteQuantizersBecomesOneQConv) {
  OnnxBuilder b;
  b.input("x", {1, 2, 2, 2});
  b.output("y");
  quant(b, "x", "xq", {}, {0.5f}, 0, 8, 1, 0);
  b.initF("w", {2, 2, 1, 1}, {1.f, -0.5f, 0.25f, 0.75f});
  quant(b, "w", "wq", {2, 1, 1, 1}, {0.25f, 0.125f}, 0, 4, 1, 1);
  b.node("Conv", {"xq", "wq"}, {"c"});
  b.node("Relu", {"c"}, {"r"});
  quant(b, "r", "y", {}, {0.25f}, 0, 4, 0, 0); // uint4
  auto ref = load(b, "qonnx_conv");
  auto g = load(b, "qonnx_conv");
  ASSERT_TRUE(ref && g);
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QConv", "DequantizeLinear"}));
  const Node *c = findOp(*g, "QConv");
  EXPECT_EQ(c->getInt("out_bits", 0), 4);
  EXPECT_EQ(c->getInt("out_signed", 1), 0);
  EXPECT_EQ(c->input(1)->type.elem, ElemType::intN(4, true)); // int4 weights, int8 storage
  EXPECT_EQ(c->input(1)->constant->toInts(), (std::vector<int64_t>{4, -2, 2, 6}));
  Tensor x = f32({1, 2, 2, 2}, {1.f, -2.f, 0.5f, 3.f, 2.f, 1.f, -1.f, 0.f});
  EXPECT_EQ(run(*g, x), run(*ref, x));
}

TEST(QonnxLowering, NotLoweredQonnxNodesAreNamed) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("y");
  b.node("Relu", {"x"}, {"r"});
  quant(b, "r", "y", {}, {0.5f}, 0, 4, 0, 0, "FLOOR");
  auto g = load(b, "qonnx_floor");
  ASSERT_TRUE(g);
  QonnxImportStats st;
  ASSERT_FALSE(bool(lowerQonnx(*g, &st)));
  auto e = checkQonnxLowered(*g, &st);
  ASSERT_TRUE(bool(e));
  const std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("quant_y"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not lowered to integers yet"), std::string::npos) << msg;
  EXPECT_NE(msg.find("FLOOR"), std::string::npos) << msg;
}

TEST(QonnxLowering, QuantOfAQuantBecomesAnExactLookupTable) {
  OnnxBuilder b;
  b.input("x", {1, 16});
  b.output("y");
  b.node("Relu", {"x"}, {"r"});
  quant(b, "r", "a", {}, {0.5f}, 0, 4, 0, 0);  // uint4
  quant(b, "a", "y", {}, {0.75f}, 0, 3, 1, 1); // int3 narrow: [-3, 3]
  auto ref = load(b, "qonnx_requant");
  auto g = load(b, "qonnx_requant");
  ASSERT_TRUE(ref && g);
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"Relu", "QuantizeLinear", "qcc::Lut", "DequantizeLinear"}));
  const Node *lut = findOp(*g, "Lut");
  // v * 0.5 / 0.75 rounded half to even, clamped to [-3, 3]: 0 1 1 2 3 3 ...
  EXPECT_EQ(lut->getInts("table"), (std::vector<int64_t>{0, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}));
  std::vector<float> xs;
  for (int i = 0; i < 16; ++i)
    xs.push_back(float(i) * 0.25f);
  Tensor x = f32({1, 16}, xs);
  EXPECT_EQ(run(*g, x), run(*ref, x));
}

namespace {

/// Quant(x) -> Conv (int4 weights [2,1,1,1], float bias) -> `after` nodes -> Quant(uint4 / int4).
void convModel(OnnxBuilder &b, std::vector<float> w, std::vector<float> bnScale) {
  b.input("x", {1, 1, 2, 2});
  b.output("y");
  quant(b, "x", "xq", {}, {0.5f}, 0, 8, 1, 0);
  b.initF("w", {2, 1, 1, 1}, w);
  quant(b, "w", "wq", {2, 1, 1, 1}, {0.25f, 0.125f}, 0, 4, 1, 0);
  b.initF("bias", {2}, {0.3f, -0.2f});
  b.node("Conv", {"xq", "wq", "bias"}, {"c"});
  b.initF("g", {2}, bnScale);
  b.initF("beta", {2}, {0.1f, 0.4f});
  b.initF("mean", {2}, {0.2f, -0.1f});
  b.initF("var", {2}, {1.5f, 0.7f});
  b.node("BatchNormalization", {"c", "g", "beta", "mean", "var"}, {"bn"});
  b.node("Relu", {"bn"}, {"r"});
  quant(b, "r", "y", {}, {0.25f}, 0, 4, 0, 0);
}

} // namespace

TEST(QonnxLowering, BatchNormFoldsIntoTheRequantizationNotTheWeights) {
  OnnxBuilder b;
  convModel(b, {1.f, -0.5f}, {0.8f, -1.3f}); // channel 1: negative BN scale
  auto ref = load(b, "qonnx_bn");
  auto g = load(b, "qonnx_bn");
  ASSERT_TRUE(ref && g);
  // canonicalize's fold-batchnorm must leave weights on a grid alone.
  auto e = runPasses(*g, {"fold-batchnorm"}, true);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  ASSERT_TRUE(findOp(*g, "BatchNormalization"));
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  // The folded bias (float bias and BN shift) has no accumulator grid: the
  // Quant becomes thresholds on the exact int32 accumulator.
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QConv", "qcc::Threshold", "DequantizeLinear"}));
  const Node *c = findOp(*g, "QConv");
  // 1 / 0.25 = 4; -0.5 / 0.125 = -4, negated with its channel's factor.
  EXPECT_EQ(c->input(1)->constant->toInts(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(c->input(1)->type.elem, ElemType::intN(4, true));
  // Equal to the model evaluated exactly (float64, as qonnx's formula: clamp
  // then round half to even) on every integer input, ties included; within
  // one output step (0.25) of the float32 model.
  const double gam[2] = {0.8, -1.3}, beta[2] = {0.1, 0.4}, mean[2] = {0.2, -0.1}, var[2] = {1.5, 0.7},
               bias[2] = {0.3, -0.2}, wr[2] = {1.0, -0.5};
  for (int q0 = -128; q0 < 128; q0 += 4) {
    std::vector<float> xs;
    for (int j = 0; j < 4; ++j)
      xs.push_back(float(q0 + j) * 0.5f);
    Tensor x = f32({1, 1, 2, 2}, xs);
    const auto got = run(*g, x), want = run(*ref, x);
    ASSERT_EQ(got.size(), 8u);
    for (int ch = 0; ch < 2; ++ch)
      for (int j = 0; j < 4; ++j) {
        const double k = double(float(gam[ch])) / std::sqrt(double(float(var[ch])) + double(1e-5f));
        const double conv = double(xs[j]) * wr[ch] + double(float(bias[ch]));
        const double v = std::max(0.0, (conv - double(float(mean[ch]))) * k + double(float(beta[ch])));
        const double level = std::nearbyint(std::min(std::max(v / 0.25, 0.0), 15.0));
        EXPECT_EQ(got[size_t(ch * 4 + j)], float(level * 0.25)) << ch << " " << xs[j];
        EXPECT_LE(std::fabs(got[size_t(ch * 4 + j)] - want[size_t(ch * 4 + j)]), 0.25f + 1e-6f);
      }
  }
}

TEST(QonnxLowering, ABiasOnTheAccumulatorGridKeepsThePlainRequantization) {
  // Bias = integer multiples of s_x * s_w[c] (0.125, 0.0625), no affine op:
  // exact in the int32 bias, so no thresholds.
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.output("y");
  quant(b, "x", "xq", {}, {0.5f}, 0, 8, 1, 0);
  b.initF("w", {2, 1, 1, 1}, {1.f, -0.5f});
  quant(b, "w", "wq", {2, 1, 1, 1}, {0.25f, 0.125f}, 0, 4, 1, 0);
  b.initF("bias", {2}, {0.375f, -0.25f});
  b.node("Conv", {"xq", "wq", "bias"}, {"c"});
  b.node("Relu", {"c"}, {"r"});
  quant(b, "r", "y", {}, {0.25f}, 0, 4, 0, 0);
  auto g = load(b, "qonnx_bias_on_grid");
  ASSERT_TRUE(g);
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QConv", "DequantizeLinear"}));
  EXPECT_EQ(findOp(*g, "QConv")->input(2)->constant->toInts(), (std::vector<int64_t>{3, -4}));
}

TEST(QonnxLowering, NegativeBatchNormScaleWithoutANegatableWeightIsRefused) {
  OnnxBuilder b;
  convModel(b, {1.f, -1.f}, {0.8f, -1.3f}); // -1 / 0.125 = -8: int4 has no +8
  auto g = load(b, "qonnx_bn_neg");
  ASSERT_TRUE(g);
  ASSERT_FALSE(bool(runPasses(*g, {"fold-batchnorm"}, true)));
  ASSERT_FALSE(bool(lowerQonnx(*g)));
  QdqImportOptions o;
  o.qonnx = true;
  auto e = lowerQdq(*g, nullptr, o);
  ASSERT_TRUE(bool(e));
  const std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("negated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Conv"), std::string::npos) << msg;
}

TEST(QonnxLowering, ChannelsLastConvAndLeakyReluLowerExactly) {
  // Quant(x NHWC) -> channels-last Conv -> LeakyRelu -> Quant: Transposes at
  // the edges only, the LeakyRelu split into two exact requantizations.
  OnnxBuilder b;
  b.input("x", {1, 2, 2, 1});
  b.output("y");
  quant(b, "x", "xq", {}, {0.5f}, 0, 4, 1, 0);
  b.initF("w", {2, 1, 1, 1}, {0.75f, -0.5f}); // [Cout, kh, kw, Cin]
  quant(b, "w", "wq", {}, {0.25f}, 0, 4, 1, 1);
  auto &c = b.node("Conv", {"xq", "wq"}, {"c"});
  c.set_domain("qonnx.custom_op.channels_last");
  OnnxBuilder::attrInts(c, "kernel_shape", {1, 1});
  auto &l = b.node("LeakyRelu", {"c"}, {"l"});
  auto *a = l.add_attribute();
  a->set_name("alpha");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(0.1015625f);
  quant(b, "l", "y", {}, {0.0625f}, 0, 4, 1, 0);
  auto ref = load(b, "qonnx_chlast");
  auto g = load(b, "qonnx_chlast");
  ASSERT_TRUE(ref && g);
  QonnxLayoutStats st;
  auto e = prepareQonnxLayout(*g, &st);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  EXPECT_EQ(st.channelsLast, 1);
  EXPECT_EQ(st.leakySplit, 1);
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  int convs = 0, transposes = 0;
  for (const auto &n : g->nodes()) {
    convs += n->op == "QConv";
    transposes += n->op == "Transpose";
    EXPECT_FALSE(n->op == "Conv" || n->op == "LeakyRelu" || n->domain == "qonnx.custom_op.channels_last")
        << n->describe();
  }
  EXPECT_EQ(convs, 2);
  EXPECT_EQ(transposes, 2); // to channels-first after the input, back before the output
  std::vector<float> xs = {-3.5f, -1.f, 0.5f, 2.f, -0.5f, 3.f, -2.5f, 1.5f};
  for (size_t k = 0; k < xs.size(); k += 4) {
    Tensor x = f32({1, 2, 2, 1}, {xs[k], xs[k + 1], xs[k + 2], xs[k + 3]});
    EXPECT_EQ(run(*g, x), run(*ref, x));
  }
}

TEST(QonnxLowering, AnInputTheModelLeavesFloatIsQuantizedByQccWhenGivenItsRange) {
  // ESPCN subpixel: a Conv with quantized weights straight on the float input.
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.output("y");
  b.initF("w", {2, 1, 1, 1}, {1.f, -0.5f});
  quant(b, "w", "wq", {2, 1, 1, 1}, {0.25f, 0.125f}, 0, 4, 1, 0);
  b.node("Conv", {"x", "wq"}, {"c"});
  b.node("Relu", {"c"}, {"r"});
  quant(b, "r", "y", {}, {0.125f}, 0, 4, 0, 0);
  auto g = load(b, "qonnx_float_input");
  auto g2 = load(b, "qonnx_float_input");
  ASSERT_TRUE(g && g2);
  // Without ranges: an error naming the op and the unquantized input.
  auto e = lowerQonnxModel(*g2, "m.onnx");
  ASSERT_TRUE(bool(e));
  const std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("'x' is not quantized by the model"), std::string::npos) << msg;
  std::map<std::string, std::pair<float, float>> ranges = {{"x", {0.f, 1.f}}};
  std::vector<std::string> notes;
  auto e2 = lowerQonnxModel(*g, "m.onnx", &ranges, &notes);
  ASSERT_FALSE(bool(e2)) << llvm::toString(std::move(e2));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("quantized by qcc (left float by the model): uint8"), std::string::npos) << notes[0];
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QConv", "DequantizeLinear"}));
  const Node *q = findOp(*g, "QuantizeLinear");
  EXPECT_EQ(q->input(1)->constant->toFloats()[0], 1.f / 255.f);
  // On the uint8 input grid the conv is exact: 4-bit outputs as the float model rounds them.
  Tensor x = f32({1, 1, 2, 2}, {0.f, 51.f / 255.f, 102.f / 255.f, 1.f});
  const auto got = run(*g, x);
  // y = Q(relu(w * x)), w = {1, -0.5}: channel 0 = round(x / 0.125), channel 1 = 0.
  // 0.2 / 0.125 = 1.6 -> 2; 0.4 / 0.125 = 3.2 -> 3; 1 / 0.125 = 8.
  const std::vector<float> want = {0.f, 0.25f, 0.375f, 1.f, 0.f, 0.f, 0.f, 0.f};
  EXPECT_EQ(got, want);
}

TEST(QonnxLowering, PerChannelMulAddReluMulAfterAConvFoldIntoItsRequantization) {
  // eltwise_chanlast's chain: Conv -> Mul -> Add -> Relu -> Mul(> 0) -> Quant,
  // after canonicalize (the Relu fuses into the Add).
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.output("y");
  quant(b, "x", "xq", {}, {0.5f}, 0, 8, 1, 0);
  b.initF("w", {2, 1, 1, 1}, {1.f, -0.5f});
  quant(b, "w", "wq", {2, 1, 1, 1}, {0.25f, 0.125f}, 0, 4, 1, 0);
  b.node("Conv", {"xq", "wq"}, {"c"});
  b.initF("k1", {1, 2, 1, 1}, {0.7f, -1.1f});
  b.node("Mul", {"c", "k1"}, {"m1"});
  b.initF("k2", {1, 2, 1, 1}, {0.3f, -0.45f});
  b.node("Add", {"m1", "k2"}, {"a"});
  b.node("Relu", {"a"}, {"r"});
  b.initF("k3", {1, 2, 1, 1}, {1.7f, 0.6f});
  b.node("Mul", {"r", "k3"}, {"m2"});
  quant(b, "m2", "y", {}, {0.25f}, 0, 4, 0, 0);
  auto ref = load(b, "qonnx_eltwise");
  auto g = load(b, "qonnx_eltwise");
  ASSERT_TRUE(ref && g);
  auto e = runPasses(*g, canonicalizePipeline(), true);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  auto e2 = prepareQonnxLayout(*g);
  ASSERT_FALSE(bool(e2)) << llvm::toString(std::move(e2));
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QConv", "qcc::Threshold", "DequantizeLinear"}));
  std::vector<float> xs = {-3.5f, -1.f, 0.5f, 2.f, -0.5f, 3.f, -2.5f, 1.5f, 60.f, -64.f, 7.f, -9.f};
  for (size_t k = 0; k < xs.size(); k += 4) {
    Tensor x = f32({1, 1, 2, 2}, {xs[k], xs[k + 1], xs[k + 2], xs[k + 3]});
    const auto got = run(*g, x), want = run(*ref, x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(std::fabs(got[i] - want[i]), 0.25f + 1e-6f) << i;
  }
}

TEST(QonnxLowering, GemmWithAFloatBiasAndAlphaBecomesThresholdsOnItsAccumulator) {
  // Quant(x) -> Gemm(alpha 0.5, beta 2, float bias) -> Relu -> Quant(uint3):
  // the bias has no accumulator grid; the output is exact arithmetic's.
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.output("y");
  quant(b, "x", "xq", {}, {0.25f}, 0, 8, 1, 0);
  b.initF("w", {2, 3}, {0.5f, -0.25f, 0.75f, -0.75f, 0.5f, 0.25f});
  quant(b, "w", "wq", {2, 1}, {0.25f, 0.125f}, 0, 4, 1, 1);
  b.initF("bias", {2}, {0.1f, -0.23f});
  auto &gm = b.node("Gemm", {"xq", "wq", "bias"}, {"g"});
  OnnxBuilder::attrInt(gm, "transB", 1);
  for (auto [k, v] : {std::pair<const char *, float>{"alpha", 0.5f}, {"beta", 2.f}}) {
    auto *a = gm.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  b.node("Relu", {"g"}, {"r"});
  quant(b, "r", "y", {}, {0.3f}, 0, 3, 0, 0);
  auto g = load(b, "qonnx_gemm_float_bias");
  ASSERT_TRUE(g);
  ASSERT_NO_FATAL_FAILURE(lower(*g));
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QGemm", "qcc::Threshold", "DequantizeLinear"}));
  const double w[2][3] = {{0.5, -0.25, 0.75}, {-0.75, 0.5, 0.25}}, bias[2] = {0.1, -0.23};
  for (int q0 = -8; q0 < 8; ++q0)
    for (int q1 = -8; q1 < 8; q1 += 3) { // on x's grid
      const float xs[3] = {float(q0) * 0.25f, float(q1) * 0.25f, float(-q0 - q1 / 2) * 0.25f};
      const auto got = run(*g, f32({1, 3}, {xs[0], xs[1], xs[2]}));
      ASSERT_EQ(got.size(), 2u);
      for (int c = 0; c < 2; ++c) {
        double v = 2.0 * double(float(bias[c]));
        for (int k = 0; k < 3; ++k)
          v += 0.5 * w[c][k] * double(xs[k]);
        const double level = std::min(std::max(std::nearbyint(std::max(v, 0.0) / double(0.3f)), 0.0), 7.0);
        EXPECT_EQ(got[size_t(c)], float(level) * 0.3f) << c << " " << q0 << " " << q1;
      }
    }
}
