// --weight-bits / --act-bits / --precision: the option parser, the grids chosen
// for each width (against hand-computed values), the int32 accumulator proof,
// and quantizeGraph on a small Gemm at several widths.
#include "OnnxBuilder.h"

#include "frontend/OnnxLoader.h"
#include "quant/Precision.h"
#include "quant/QuantizeGraph.h"
#include "quant/RequantAttrs.h"

#include <gtest/gtest.h>

using namespace qcc;
using qcc::test::OnnxBuilder;

namespace {

NodePrecision spec(const char *s) {
  auto p = parsePrecisionSpec(s);
  if (!p) {
    ADD_FAILURE() << s << ": " << llvm::toString(p.takeError());
    return {};
  }
  return *p;
}

std::string specError(const char *s) {
  auto p = parsePrecisionSpec(s);
  if (p)
    return "";
  return llvm::toString(p.takeError());
}

TEST(PrecisionSpec, ParsesWidths) {
  EXPECT_EQ(spec("W4A8").weightBits, 4u);
  EXPECT_EQ(spec("W4A8").actBits, 8u);
  EXPECT_EQ(spec("w2a16").weightBits, 2u);
  EXPECT_EQ(spec("w2a16").actBits, 16u);
  EXPECT_EQ(spec("W4").weightBits, 4u);
  EXPECT_EQ(spec("W4").actBits, 0u); // 0: the global width
  EXPECT_EQ(spec("A16").weightBits, 0u);
  EXPECT_EQ(spec("A16").actBits, 16u);
  EXPECT_EQ(spec("W16A2").str(), "W16A2");
  EXPECT_EQ(spec("A3").str(), "A3");
}

TEST(PrecisionSpec, RejectsBadSpecs) {
  for (const char *bad : {"", "W", "A", "W1", "A1", "W17", "A32", "W0", "X4", "A4W4", "W4W4", "W4A8A8", "W4A", "W 4",
                          "W4 A8", "4", "W-4", "W4000", "W4A8x"})
    EXPECT_NE(specError(bad), "") << bad;
  EXPECT_NE(specError("W17").find("2 to 16"), std::string::npos) << specError("W17");
  EXPECT_NE(specError("A4W4").find("W comes before A"), std::string::npos);
}

TEST(PrecisionOption, SplitsAtTheLastEquals) {
  auto o = parsePrecisionOption("/stem/stem.0/Conv=W4A8");
  ASSERT_TRUE(bool(o)) << llvm::toString(o.takeError());
  EXPECT_EQ(o->first, "/stem/stem.0/Conv");
  EXPECT_EQ(o->second.str(), "W4A8");
  auto eq = parsePrecisionOption("a=b=A4"); // ONNX names may hold '='
  ASSERT_TRUE(bool(eq)) << llvm::toString(eq.takeError());
  EXPECT_EQ(eq->first, "a=b");
  for (const char *bad : {"conv", "=W4", "conv=", "conv=W1", "conv=Q8"}) {
    auto e = parsePrecisionOption(bad);
    EXPECT_FALSE(bool(e)) << bad;
    if (!e) {
      std::string msg = llvm::toString(e.takeError());
      EXPECT_NE(msg.find("--precision"), std::string::npos) << msg;
    }
  }
}

TEST(PrecisionOption, MergesOneNodesValuesAndRejectsContradictions) {
  auto m = parsePrecisionOptions({"fc=W4", "conv=A6", "fc=A8", "fc=W4"});
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  EXPECT_EQ(m->size(), 2u);
  EXPECT_EQ(m->at("fc").str(), "W4A8");
  EXPECT_EQ(m->at("conv").str(), "A6");
  auto c = parsePrecisionOptions({"fc=W4", "fc=W2A8"});
  ASSERT_FALSE(bool(c));
  EXPECT_NE(llvm::toString(c.takeError()).find("'fc'"), std::string::npos);
}

TEST(PrecisionGrid, WidthsAndStorage) {
  EXPECT_FALSE(bool(checkBits(2, "--weight-bits")));
  EXPECT_FALSE(bool(checkBits(16, "--act-bits")));
  for (int64_t b : {-1, 0, 1, 17, 64}) {
    llvm::Error e = checkBits(b, "--act-bits");
    EXPECT_TRUE(bool(e)) << b;
    llvm::consumeError(std::move(e));
  }
  EXPECT_EQ(weightQmax(2), 1);
  EXPECT_EQ(weightQmax(4), 7);
  EXPECT_EQ(weightQmax(8), 127);
  EXPECT_EQ(weightQmax(16), 32767);
  EXPECT_EQ(storageBitsFor(2), 8u);
  EXPECT_EQ(storageBitsFor(8), 8u);
  EXPECT_EQ(storageBitsFor(9), 16u);
  EXPECT_EQ(storageBitsFor(16), 16u);
}

TEST(PrecisionGrid, ActivationGridsPerWidth) {
  QuantizeOptions o;
  // 4-bit signed asymmetric on [-1, 3]: scale 4/15, zp round(-8 + 1/(4/15)) = round(-4.25) = -4.
  QuantInfo q = chooseActivationQuant(-1.f, 3.f, o, 4);
  EXPECT_EQ(q.bits, 4u);
  EXPECT_FLOAT_EQ(q.scale[0], 4.f / 15.f);
  EXPECT_EQ(q.zeroPoint[0], -4);
  EXPECT_EQ(q.qmin(), -8);
  EXPECT_EQ(q.qmax(), 7);
  // 16 bits: scale 4/65535, zp round(-32768 + 65535/4) = round(-16384.25) = -16384.
  q = chooseActivationQuant(-1.f, 3.f, o, 16);
  EXPECT_FLOAT_EQ(q.scale[0], 4.f / 65535.f);
  EXPECT_EQ(q.zeroPoint[0], -16384);
  // --act-bits drives the two-argument form; 8 stays today's int8 grid.
  o.actBits = 2;
  q = chooseActivationQuant(0.f, 3.f, o);
  EXPECT_EQ(q.bits, 2u);
  EXPECT_FLOAT_EQ(q.scale[0], 1.f);
  EXPECT_EQ(q.zeroPoint[0], -2);
  o.actBits = 8;
  q = chooseActivationQuant(-1.f, 3.f, o);
  EXPECT_FLOAT_EQ(q.scale[0], 4.f / 255.f);
  EXPECT_EQ(q.zeroPoint[0], -64);
  // Unsigned 4-bit: [0, 15], zp round(1/(4/15)) = round(3.75) = 4.
  o.actUnsigned = true;
  q = chooseActivationQuant(-1.f, 3.f, o, 4);
  EXPECT_EQ(q.qmin(), 0);
  EXPECT_EQ(q.qmax(), 15);
  EXPECT_EQ(q.zeroPoint[0], 4);
  // Symmetric signed 6-bit: scale max|x| / 31, zp 0.
  o.actUnsigned = false;
  o.actSymmetric = true;
  q = chooseActivationQuant(-1.f, 3.f, o, 6);
  EXPECT_FLOAT_EQ(q.scale[0], 3.f / 31.f);
  EXPECT_EQ(q.zeroPoint[0], 0);
}

TEST(PrecisionGrid, AccumulatorBound) {
  QuantInfo q;
  q.bits = 16;
  q.zeroPoint = {-32768};
  EXPECT_EQ(maxAbsOnGrid(q), 32768);
  EXPECT_EQ(maxDistanceFromZeroPoint(q), 65535);
  q.bits = 4;
  q.zeroPoint = {3};
  EXPECT_EQ(maxAbsOnGrid(q), 8);
  EXPECT_EQ(maxDistanceFromZeroPoint(q), 11); // 3 - (-8)
  EXPECT_EQ(accumulatorBound(-100, 1000, 128), 100 + 128000);
  // int8 x int8 over K = 132000 weights of 127 stays below 2^31; K = 133000 does not.
  EXPECT_LE(accumulatorBound(0, 132000LL * 127, 128), 2147483647LL);
  EXPECT_GT(accumulatorBound(0, 133000LL * 127, 128), 2147483647LL);
}

TEST(PrecisionSettings, RoundTripThroughReportSettings) {
  QuantizeOptions o;
  o.weightBits = 4;
  o.actBits = 12;
  o.actUnsigned = true;
  o.perChannelWeights = false;
  o.nodePrecision["/fc"] = spec("W2A16");
  o.nodePrecision["conv"] = spec("A5");
  llvm::json::Object settings;
  writePrecisionSettings(o, settings);
  EXPECT_EQ(*settings.getString("weights"), "int4 symmetric per tensor");
  EXPECT_EQ(*settings.getString("activations"), "uint12 asymmetric per tensor");
  EXPECT_EQ(*settings.getInteger("weight_bits"), 4);
  EXPECT_EQ(*settings.getInteger("act_bits"), 12);
  QuantizeOptions r;
  ASSERT_FALSE(bool(readPrecisionSettings(settings, r)));
  EXPECT_EQ(r.weightBits, 4u);
  EXPECT_EQ(r.actBits, 12u);
  EXPECT_TRUE(r.actUnsigned);
  EXPECT_FALSE(r.actSymmetric);
  EXPECT_FALSE(r.perChannelWeights);
  ASSERT_EQ(r.nodePrecision.size(), 2u);
  EXPECT_EQ(r.nodePrecision["/fc"].str(), "W2A16");
  EXPECT_EQ(r.nodePrecision["conv"].str(), "A5");
  // Defaults describe today's int8 exactly.
  llvm::json::Object d;
  writePrecisionSettings(QuantizeOptions{}, d);
  EXPECT_EQ(*d.getString("weights"), "int8 symmetric per channel");
  EXPECT_EQ(*d.getString("activations"), "int8 asymmetric per tensor");
}

// ---- quantizeGraph on y = Relu(x W^T + b), x [1, 4] ------------------------------

std::unique_ptr<Graph> gemmGraph() {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.initF("w", {3, 4}, {0.4f, -1.f, 0.2f, 0.f, 2.f, 1.2f, -2.f, 0.5f, 0.1f, 0.25f, -0.3f, 0.4f});
  b.initF("b", {3}, {0.1f, -0.2f, 0.3f});
  auto &g = b.node("Gemm", {"x", "w", "b"}, {"y"}, "fc");
  OnnxBuilder::attrInt(g, "transB", 1);
  b.output("y");
  auto m = loadOnnx(b.save(test::tempDir("precision")));
  if (!m) {
    ADD_FAILURE() << llvm::toString(m.takeError());
    return nullptr;
  }
  return std::move(*m);
}

const RangeMap kRanges = {{"x", {-1.f, 1.f}}, {"y", {-3.f, 3.f}}};

const Node *findOp(const Graph &g, const std::string &op) {
  for (const auto &n : g.nodes())
    if (n->op == op)
      return n.get();
  return nullptr;
}

TEST(PrecisionQuantize, WeightAndActivationGrids) {
  auto g = gemmGraph();
  ASSERT_TRUE(g);
  QuantizeOptions o;
  o.weightBits = 3;
  o.actBits = 6;
  o.nodePrecision["fc"] = spec("A4");
  auto q = quantizeGraph(*g, kRanges, o);
  ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
  const Node *fc = findOp(*q->graph, "QGemm");
  ASSERT_TRUE(fc);
  // Weights: 3-bit symmetric per row, each row's largest |w| on +-3.
  const Value *w = fc->input(1);
  EXPECT_EQ(w->type.elem, ElemType::intN(3, true));
  ASSERT_TRUE(w->quant);
  EXPECT_EQ(w->quant->bits, 3u);
  const int64_t expected[12] = {1, -3, 1, 0, 3, 2, -3, 1, 1, 2, -2, 3}; // round(w / (max|row| / 3))
  for (int64_t i = 0; i < 12; ++i)
    EXPECT_EQ(w->constant->getInt(i), expected[i]) << i;
  // The input: 6 bits in 8-bit storage, clipped to [-32, 31].
  const Node *clip = findOp(*q->graph, "Clip");
  ASSERT_TRUE(clip);
  EXPECT_EQ(clip->getInt("min", 0), -32);
  EXPECT_EQ(clip->getInt("max", 0), 31);
  EXPECT_EQ(fc->input(0)->quant->bits, 6u);
  // The output: --precision fc=A4.
  EXPECT_EQ(fc->outputs[0]->type.elem, ElemType::intN(4, true));
  EXPECT_EQ(fc->getInt("out_bits", 0), 4);
  EXPECT_EQ(fc->getInt("out_min", 0), -8);
  EXPECT_EQ(fc->getInt("out_max", 0), 7);
}

TEST(PrecisionQuantize, DefaultIsInt8WithoutClip) {
  auto g = gemmGraph();
  ASSERT_TRUE(g);
  auto q = quantizeGraph(*g, kRanges, QuantizeOptions{});
  ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
  EXPECT_EQ(findOp(*q->graph, "Clip"), nullptr);
  const Node *fc = findOp(*q->graph, "QGemm");
  ASSERT_TRUE(fc);
  EXPECT_EQ(fc->input(1)->type.elem, ElemType::intN(8, true));
  EXPECT_EQ(fc->input(1)->constant->getInt(1), -127);
  EXPECT_EQ(fc->outputs[0]->type.elem, ElemType::intN(8, true));
}

TEST(PrecisionQuantize, RefusesAnAccumulatorThatCouldOverflow) {
  auto g = gemmGraph();
  ASSERT_TRUE(g);
  QuantizeOptions o;
  o.weightBits = 16; // sum|w| of a row reaches ~ 3 * 32767, times |x| <= 32768 > 2^31
  o.actBits = 16;
  auto q = quantizeGraph(*g, kRanges, o);
  ASSERT_FALSE(bool(q));
  std::string msg = llvm::toString(q.takeError());
  EXPECT_NE(msg.find("'fc'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("accumulator"), std::string::npos) << msg;
  o.weightBits = 8; // 4 * 127 * 32768 fits
  auto ok = quantizeGraph(*g, kRanges, o);
  EXPECT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
}

TEST(PrecisionQuantize, UnusedOverridesAreErrors) {
  auto g = gemmGraph();
  ASSERT_TRUE(g);
  QuantizeOptions o;
  o.nodePrecision["nosuch"] = spec("A4");
  auto q = quantizeGraph(*g, kRanges, o);
  ASSERT_FALSE(bool(q));
  EXPECT_NE(llvm::toString(q.takeError()).find("nosuch"), std::string::npos);
  o.nodePrecision.clear();
  o.nodePrecision["x"] = spec("W4"); // a graph input has no weights
  auto w = quantizeGraph(*g, kRanges, o);
  ASSERT_FALSE(bool(w));
  EXPECT_NE(llvm::toString(w.takeError()).find("graph input"), std::string::npos);
  o.nodePrecision["x"] = spec("A5"); // but its grid can be chosen
  auto a = quantizeGraph(*g, kRanges, o);
  ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
  EXPECT_EQ(findOp(*a->graph, "QGemm")->input(0)->quant->bits, 5u);
}

} // namespace
