// Import of pre-quantized models (quant/ImportQdq.h): the integer graph a QDQ
// model becomes, its folded bias and float32 multipliers, and its outputs, with
// expected values derived by hand from the ONNX operator definitions.
#include "OnnxBuilder.h"

#include "frontend/OnnxLoader.h"
#include "interp/Interpreter.h"
#include "quant/ImportQdq.h"
#include "quant/RequantAttrs.h"

#include <gtest/gtest.h>

using namespace qcc;
using qcc::test::OnnxBuilder;

namespace {

/// An integer initializer (int8, uint8 or int32) with its values in int32_data.
void initInts(OnnxBuilder &b, const std::string &name, int type, std::vector<int64_t> dims, std::vector<int> vals) {
  auto *t = b.graph().add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (auto d : dims)
    t->add_dims(d);
  for (int v : vals)
    t->add_int32_data(v);
}

void initScalarF(OnnxBuilder &b, const std::string &name, float v) { b.initF(name, {}, {v}); }

const Node *findOp(const Graph &g, const std::string &op) {
  for (const auto &n : g.nodes())
    if (n->op == op)
      return n.get();
  return nullptr;
}

std::vector<std::string> ops(const Graph &g) {
  std::vector<std::string> v;
  for (const auto &n : g.nodes())
    v.push_back(n->domain.empty() ? n->op : n->domain + "::" + n->op);
  return v;
}

std::unique_ptr<Graph> load(OnnxBuilder &b, const std::string &tag, QdqImportStats *stats = nullptr) {
  auto g = loadOnnx(b.save(test::tempDir(tag)));
  EXPECT_TRUE(bool(g)) << (g ? "" : llvm::toString(g.takeError()));
  if (!g)
    return nullptr;
  auto e = lowerQdq(**g, stats);
  EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
  return std::move(*g);
}

std::vector<float> run(const Graph &g, Tensor x) {
  auto interp = Interpreter::create(g);
  EXPECT_TRUE(bool(interp));
  auto outs = interp->run({x});
  EXPECT_TRUE(bool(outs)) << (outs ? "" : llvm::toString(outs.takeError()));
  return outs ? (*outs)[0].toFloats() : std::vector<float>{};
}

// x -> Q(0.5, 3, u8) -> DQ -> Conv 1x1 (int8 weights per channel, int32 bias)
// -> Q(1.0, 5, u8) -> DQ: one qcc::QConv between the boundary ops.
OnnxBuilder qdqConv() {
  OnnxBuilder b;
  b.input("x", {1, 2, 1, 2});
  b.output("y");
  initScalarF(b, "xs", 0.5f);
  initInts(b, "xz", onnx::TensorProto::UINT8, {}, {3});
  initInts(b, "w", onnx::TensorProto::INT8, {2, 2, 1, 1}, {1, -2, 3, 4});
  b.initF("ws", {2}, {0.25f, 0.125f});
  initInts(b, "wz", onnx::TensorProto::INT8, {2}, {0, 0});
  initInts(b, "bias", onnx::TensorProto::INT32, {2}, {10, -20});
  b.initF("bs", {2}, {0.125f, 0.0625f}); // x_scale * w_scale
  initInts(b, "bz", onnx::TensorProto::INT32, {2}, {0, 0});
  initScalarF(b, "ys", 1.0f);
  initInts(b, "yz", onnx::TensorProto::UINT8, {}, {5});
  b.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
  b.node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
  OnnxBuilder::attrInt(b.node("DequantizeLinear", {"w", "ws", "wz"}, {"wd"}), "axis", 0);
  OnnxBuilder::attrInt(b.node("DequantizeLinear", {"bias", "bs", "bz"}, {"bd"}), "axis", 0);
  b.node("Conv", {"xd", "wd", "bd"}, {"c"}, "conv");
  b.node("QuantizeLinear", {"c", "ys", "yz"}, {"cq"});
  b.node("DequantizeLinear", {"cq", "ys", "yz"}, {"y"});
  return b;
}

} // namespace

TEST(QdqImport, ConvUnitBecomesOneQConvWithFoldedBias) {
  OnnxBuilder b = qdqConv();
  QdqImportStats stats;
  auto g = load(b, "qdq_conv", &stats);
  ASSERT_TRUE(g);
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "qcc::QConv", "DequantizeLinear"}));
  EXPECT_EQ(stats.units, 1);
  EXPECT_TRUE(stats.floatIslands.empty());
  const Node *conv = findOp(*g, "QConv");
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->getInt("x_zero_point", -1), 3);
  EXPECT_EQ(conv->getInt("out_zero_point", -1), 5);
  EXPECT_EQ(conv->getString("rounding", ""), "onnx");
  // bias - x_zp * sum(w): 10 - 3 * (1 - 2) = 13, -20 - 3 * (3 + 4) = -41
  ASSERT_TRUE(conv->input(2) && conv->input(2)->isConstant());
  EXPECT_EQ(conv->input(2)->constant->toInts(), (std::vector<int64_t>{13, -41}));
  // float(x_scale * w_scale[c]) / y_scale
  EXPECT_EQ(conv->getFloats("scale"), (std::vector<float>{0.125f, 0.0625f}));
}

TEST(QdqImport, ConvUnitComputesTheQuantizedConvolution) {
  OnnxBuilder b = qdqConv();
  auto g = load(b, "qdq_conv_run");
  ASSERT_TRUE(g);
  Tensor x(ElemType::f32(), {1, 2, 1, 2});
  // x / 0.5 rounded + 3: channel 0 -> [5, 7], channel 1 -> [1, 13]
  for (int i = 0; i < 4; ++i)
    x.setDouble(i, std::vector<float>{1.f, 2.f, -1.f, 5.f}[size_t(i)]);
  // acc_c = b_c + sum_k w[c,k] (x_k - 3): pixel 0: x-3 = (2, -2), pixel 1: (4, 10)
  //   c0: 10 + 1*2 - 2*-2 = 16 -> 16 * 0.125 = 2    ; 10 + 4 - 20 = -6  -> -0.75 -> -1
  //   c1: -20 + 3*2 + 4*-2 = -22 -> -1.375 -> -1     ; -20 + 12 + 40 = 32 -> 2
  // y = (round(acc * scale) + 5 - 5) * 1.0, clamped to u8 [0, 255] before the -5
  EXPECT_EQ(run(*g, x), (std::vector<float>{2.f, -1.f, -1.f, 2.f}));
}

TEST(QdqImport, ReluBeforeQuantizeBecomesTheClamp) {
  OnnxBuilder b = qdqConv();
  // Conv -> Relu -> Q: the Relu clamps at Q(0) = 5
  auto *conv = b.graph().mutable_node(4);
  conv->set_output(0, "c0");
  b.node("Relu", {"c0"}, {"c"});
  auto g = load(b, "qdq_conv_relu");
  ASSERT_TRUE(g);
  const Node *qconv = findOp(*g, "QConv");
  ASSERT_TRUE(qconv);
  EXPECT_EQ(qconv->getInt("out_min", -1), 5);
  Tensor x(ElemType::f32(), {1, 2, 1, 2});
  for (int i = 0; i < 4; ++i)
    x.setDouble(i, std::vector<float>{1.f, 2.f, -1.f, 5.f}[size_t(i)]);
  EXPECT_EQ(run(*g, x), (std::vector<float>{2.f, 0.f, 0.f, 2.f}));
}

// com.microsoft QLinearAdd runs as MLAS's x86 kernel: fma(a, ra, fma(b, rb,
// zc - (ra*za + rb*zb))), rounded half to even. Scales are powers of two so
// every float32 step is exact: ra = 0.5, rb = 0.25, offset = 3 - (0.5 + 0.5) = 2.
TEST(QdqImport, QLinearAddRoundsHalfToEvenOnTheFusedSum) {
  OnnxBuilder b;
  b.model().add_opset_import()->set_domain("com.microsoft");
  b.model().mutable_opset_import(1)->set_version(1);
  b.input("a", {1, 4}, onnx::TensorProto::UINT8);
  b.output("y");
  initScalarF(b, "as", 0.5f);
  initInts(b, "az", onnx::TensorProto::UINT8, {}, {1});
  initInts(b, "bv", onnx::TensorProto::UINT8, {1, 4}, {6, 2, 2, 0});
  initScalarF(b, "bs", 0.25f);
  initInts(b, "bz", onnx::TensorProto::UINT8, {}, {2});
  initScalarF(b, "cs", 1.0f);
  initInts(b, "cz", onnx::TensorProto::UINT8, {}, {3});
  b.node("QLinearAdd", {"a", "as", "az", "bv", "bs", "bz", "cs", "cz"}, {"y"}).set_domain("com.microsoft");
  auto g = load(b, "qlinearadd");
  ASSERT_TRUE(g);
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"qcc::QAddFma"}));
  Tensor a(ElemType::intN(8, false), {1, 4});
  for (int i = 0; i < 4; ++i)
    a.setDouble(i, std::vector<double>{5, 4, 6, 0}[size_t(i)]);
  // 2.5 + 1.5 + 2 = 6; 2 + 0.5 + 2 = 4.5 -> 4; 3 + 0.5 + 2 = 5.5 -> 6; 0 + 0 + 2 = 2
  EXPECT_EQ(run(*g, a), (std::vector<float>{6.f, 4.f, 6.f, 2.f}));
}

TEST(QdqImport, DataMovementBetweenEqualGridsRunsOnTheIntegers) {
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.output("y");
  initScalarF(b, "s", 0.1f);
  initInts(b, "z", onnx::TensorProto::INT8, {}, {-4});
  b.node("QuantizeLinear", {"x", "s", "z"}, {"xq"});
  b.node("DequantizeLinear", {"xq", "s", "z"}, {"xd"});
  OnnxBuilder::attrInts(b.node("MaxPool", {"xd"}, {"p"}), "kernel_shape", {2, 2});
  b.node("QuantizeLinear", {"p", "s", "z"}, {"pq"});
  b.node("DequantizeLinear", {"pq", "s", "z"}, {"y"});
  QdqImportStats stats;
  auto g = load(b, "qdq_maxpool", &stats);
  ASSERT_TRUE(g);
  EXPECT_EQ(ops(*g), (std::vector<std::string>{"QuantizeLinear", "MaxPool", "DequantizeLinear"}));
  EXPECT_EQ(stats.dropped, 1);
  EXPECT_EQ(findOp(*g, "MaxPool")->outputs[0]->type.elem, ElemType::intN(8, true));
}

TEST(QdqImport, UnitsQccDoesNotFuseStayFloatIslands) {
  OnnxBuilder b;
  b.input("x", {1, 5});
  b.output("y");
  initScalarF(b, "s", 0.1f);
  initInts(b, "z", onnx::TensorProto::UINT8, {}, {128});
  b.node("QuantizeLinear", {"x", "s", "z"}, {"xq"});
  b.node("DequantizeLinear", {"xq", "s", "z"}, {"xd"});
  b.node("Softmax", {"xd"}, {"sm"}, "softmax");
  b.node("QuantizeLinear", {"sm", "s", "z"}, {"smq"});
  b.node("DequantizeLinear", {"smq", "s", "z"}, {"y"});
  QdqImportStats stats;
  auto g = load(b, "qdq_softmax", &stats);
  ASSERT_TRUE(g);
  EXPECT_EQ(stats.units, 0);
  ASSERT_EQ(stats.floatIslands.size(), 1u);
  EXPECT_NE(stats.floatIslands[0].find("softmax"), std::string::npos);
}

TEST(QdqImport, QOperatorScaleThatIsNotConstantIsRefused) {
  OnnxBuilder b;
  b.input("x", {1, 1, 3, 3}, onnx::TensorProto::UINT8);
  b.input("xs", {});
  b.output("y");
  initInts(b, "xz", onnx::TensorProto::UINT8, {}, {0});
  initInts(b, "w", onnx::TensorProto::UINT8, {1, 1, 1, 1}, {2});
  b.initF("ws", {1}, {1.f});
  initInts(b, "wz", onnx::TensorProto::UINT8, {1}, {0});
  initScalarF(b, "ys", 1.f);
  initInts(b, "yz", onnx::TensorProto::UINT8, {}, {0});
  b.node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"}, "qconv");
  auto g = loadOnnx(b.save(test::tempDir("qlinearconv_runtime_scale")));
  ASSERT_FALSE(bool(g));
  std::string msg = llvm::toString(g.takeError());
  EXPECT_NE(msg.find("node 'qconv' (QLinearConv)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("must be a constant"), std::string::npos) << msg;
}
