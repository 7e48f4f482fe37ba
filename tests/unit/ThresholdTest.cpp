// qcc::Threshold (ops/ThresholdOps.cpp), its kernel (runtime_stub/qcc/threshold.h)
// and the QONNX threshold lowering (quant/LowerQonnxThresholds.h). Expected
// values are counted here directly from the definition
// y = base + step * #{i : x >= t[c][i]}, or derived by hand from qonnx's
// formulas (bipolar_quant.py, intquant.py).
#include "OnnxBuilder.h"

#include "driver/ModelOptions.h"
#include "frontend/OnnxLoader.h"
#include "interp/Interpreter.h"
#include "ops/OpRegistry.h"
#include "qcc/threshold.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qcc;
using qcc::test::OnnxBuilder;

namespace {

const char *kDomain = "qonnx.custom_op.general";

int32_t countAtLeast(int32_t x, const std::vector<int32_t> &row) {
  int32_t c = 0;
  for (int32_t t : row)
    c += x >= t ? 1 : 0;
  return c;
}

TEST(Threshold, EvalCountsPerChannel) {
  Graph g;
  Value *x = g.addValue("x", TensorType{ElemType::intN(8, true), {2, 3, 2}});
  g.inputs.push_back(x);
  Tensor t(ElemType::i32(), {3, 2});
  const std::vector<std::vector<int32_t>> rows = {{-5, 0}, {1, 1}, {-128, 100}};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 2; ++k)
      t.data<int32_t>()[r * 2 + k] = rows[size_t(r)][size_t(k)];
  Value *tv = g.addConstant("t", t);
  Value *y = g.addValue("y", TensorType{});
  Node *n = g.addNode("Threshold", "th", {x, tv}, {y});
  n->domain = "qcc";
  n->attrs["axis"] = int64_t(1);
  n->attrs["out_base"] = int64_t(-3);
  n->attrs["out_step"] = int64_t(3);
  n->attrs["out_bits"] = int64_t(4);
  n->attrs["out_signed"] = int64_t(1);
  const OpDef *def = OpRegistry::get().lookup("qcc", "Threshold");
  ASSERT_TRUE(def);
  auto e = def->infer(*n);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  EXPECT_EQ(y->type, (TensorType{ElemType::intN(4, true), {2, 3, 2}}));
  Tensor xt(ElemType::intN(8, true), {2, 3, 2});
  const std::vector<int8_t> xs = {-6, -5, 0, 1, 127, -128, 0, 99, 100, 2, -1, 5};
  for (size_t i = 0; i < xs.size(); ++i)
    xt.data<int8_t>()[i] = xs[i];
  std::vector<Tensor> out{Tensor(y->type.elem, y->type.shape)};
  std::vector<const Tensor *> in{&xt, &t};
  auto e2 = def->eval(*n, in, out);
  ASSERT_FALSE(bool(e2)) << llvm::toString(std::move(e2));
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_EQ(out[0].getInt(int64_t(i)), -3 + 3 * countAtLeast(xs[i], rows[(i / 2) % 3])) << i;
}

TEST(Threshold, InferRejectsUnsortedRowsAndLevelsOutsideTheType) {
  Graph g;
  Value *x = g.addValue("x", TensorType{ElemType::i32(), {1, 2}});
  Tensor t(ElemType::i32(), {1, 2});
  t.data<int32_t>()[0] = 5;
  t.data<int32_t>()[1] = 4;
  Value *y = g.addValue("y", TensorType{});
  Node *n = g.addNode("Threshold", "th", {x, g.addConstant("t", t)}, {y});
  n->domain = "qcc";
  n->attrs["out_bits"] = int64_t(2);
  n->attrs["out_signed"] = int64_t(1);
  const OpDef *def = OpRegistry::get().lookup("qcc", "Threshold");
  auto e = def->infer(*n);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("sorted"), std::string::npos);
  n->input(1)->constant->data<int32_t>()[1] = 6;
  n->attrs["out_base"] = int64_t(0);
  n->attrs["out_step"] = int64_t(2); // levels 0, 2, 4: not int2
  auto e2 = def->infer(*n);
  ASSERT_TRUE(bool(e2));
  EXPECT_NE(llvm::toString(std::move(e2)).find("fit"), std::string::npos);
}

TEST(Threshold, KernelMatchesScalarTwinAndDefinition) {
  std::mt19937 rng(7);
  for (int32_t steps : {1, 3, 20}) // 20: the binary-search path
    for (int32_t rows : {1, 5}) {
      const int64_t outer = 3, channels = 5, inner = 7, n = outer * channels * inner;
      std::vector<std::vector<int32_t>> tr(static_cast<size_t>(rows));
      std::vector<int32_t> flat;
      for (auto &r : tr) {
        for (int32_t k = 0; k < steps; ++k)
          r.push_back(int32_t(rng() % 2001) - 1000);
        std::sort(r.begin(), r.end());
        flat.insert(flat.end(), r.begin(), r.end());
      }
      std::vector<int16_t> x(static_cast<size_t>(n));
      for (auto &v : x)
        v = int16_t(int32_t(rng() % 2401) - 1200);
      const qcc_rt::ThresholdShape s{outer, channels, inner, steps, rows, -1, 2};
      std::vector<int32_t> y(static_cast<size_t>(n)), yr(static_cast<size_t>(n));
      qcc_rt::threshold(s, x.data(), flat.data(), y.data());
      qcc_rt::ref::threshold(s, x.data(), flat.data(), yr.data());
      EXPECT_EQ(y, yr) << steps << " " << rows;
      for (int64_t i = 0; i < n; ++i) {
        const auto &row = tr[rows == 1 ? 0 : size_t((i / inner) % channels)];
        ASSERT_EQ(y[size_t(i)], -1 + 2 * countAtLeast(x[size_t(i)], row)) << i;
      }
      std::vector<int16_t> inPlace = x; // y aliasing x
      qcc_rt::threshold(s, inPlace.data(), flat.data(), inPlace.data());
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(inPlace[size_t(i)], int16_t(yr[size_t(i)]));
    }
}

/// BipolarQuant(x) -> Gemm(bipolar weights * 0.5, float bias) -> BipolarQuant.
TEST(ThresholdLowering, BipolarGemmThresholdsComeFromTheBias) {
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.output("y");
  b.initF("one", {}, {1.f});
  b.node("BipolarQuant", {"x", "one"}, {"xb"}, "bq_in").set_domain(kDomain);
  b.initF("w", {4, 3}, {0.5f, -0.5f, 0.5f, -0.5f, -0.5f, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0.5f});
  b.initF("bias", {4}, {-1.f, 0.25f, 2.f, -0.5f});
  auto &gm = b.node("Gemm", {"xb", "w", "bias"}, {"g"});
  OnnxBuilder::attrInt(gm, "transB", 1);
  b.initF("s", {}, {0.75f});
  b.node("BipolarQuant", {"g", "s"}, {"y"}, "bq_out").set_domain(kDomain);
  const std::string path = b.save(test::tempDir("threshold_bipolar"));
  auto ref = loadOnnx(path), g = loadOnnx(path);
  ASSERT_TRUE(bool(ref) && bool(g));
  auto e = lowerQonnxModel(**g, path);
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  std::vector<std::string> ops;
  for (const auto &n : (*g)->nodes())
    ops.push_back(n->op);
  EXPECT_EQ(ops, (std::vector<std::string>{"QuantizeLinear", "Threshold", "QGemm", "Threshold", "DequantizeLinear"}));
  // 0.5 * acc + b >= 0  <=>  acc >= ceil(-2b): 2, ceil(-0.5) = 0, -4, 1.
  const Node *last = nullptr;
  for (const auto &n : (*g)->nodes())
    if (n->op == "Threshold")
      last = n.get();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->input(1)->constant->toInts(), (std::vector<int64_t>{2, 0, -4, 1}));
  // Every sign pattern of x: the integer graph equals the float one.
  auto fi = Interpreter::create(**ref), ii = Interpreter::create(**g);
  ASSERT_TRUE(bool(fi) && bool(ii));
  for (int m = 0; m < 8; ++m) {
    Tensor x(ElemType::f32(), {1, 3});
    for (int k = 0; k < 3; ++k)
      x.data<float>()[k] = (m >> k) & 1 ? 0.3f * float(k + 1) : -0.2f;
    auto a = fi->run({x}), c = ii->run({x});
    ASSERT_TRUE(bool(a) && bool(c));
    EXPECT_EQ((*a)[0].toFloats(), (*c)[0].toFloats()) << m;
  }
}

/// Quant(ROUND, 8 bits) -> Quant(mode, 3 bits): the thresholds on the 8-bit
/// integers reproduce qonnx's float32 formula for every input integer.
TEST(ThresholdLowering, QuantModesOnIntegersMatchQonnxForEveryInput) {
  for (const char *mode : {"CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"}) {
    OnnxBuilder b;
    b.input("x", {1, 256});
    b.output("y");
    auto quant = [&](const std::string &x, const std::string &y, float s, float bits, int64_t sg, const char *m) {
      b.initF(y + "_s", {}, {s});
      b.initF(y + "_z", {}, {0.f});
      b.initF(y + "_b", {}, {bits});
      auto &n = b.node("Quant", {x, y + "_s", y + "_z", y + "_b"}, {y}, "quant_" + y);
      n.set_domain(kDomain);
      OnnxBuilder::attrInt(n, "signed", sg);
      OnnxBuilder::attrInt(n, "narrow", 0);
      auto *a = n.add_attribute();
      a->set_name("rounding_mode");
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s(m);
    };
    const float s1 = 0.0390625f, s2 = 0.3f; // 2.5 / 64, and a scale with many exact ties
    quant("x", "xq", s1, 8, 1, "ROUND");
    quant("xq", "y", s2, 3, 1, mode);
    const std::string path = b.save(test::tempDir(std::string("threshold_") + mode));
    auto ref = loadOnnx(path), g = loadOnnx(path);
    ASSERT_TRUE(bool(ref) && bool(g));
    auto e = lowerQonnxModel(**g, path);
    ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
    int thresholds = 0;
    for (const auto &n : (*g)->nodes())
      thresholds += n->op == "Threshold" ? 1 : 0;
    EXPECT_EQ(thresholds, 1) << mode;
    Tensor x(ElemType::f32(), {1, 256});
    for (int q = -128; q < 128; ++q)
      x.data<float>()[q + 128] = float(q) * s1;
    auto fi = Interpreter::create(**ref), ii = Interpreter::create(**g);
    ASSERT_TRUE(bool(fi) && bool(ii));
    auto a = fi->run({x}), c = ii->run({x});
    ASSERT_TRUE(bool(a) && bool(c));
    EXPECT_EQ((*a)[0].toFloats(), (*c)[0].toFloats()) << mode;
  }
}

} // namespace

namespace {

/// What threshold lowering cannot take is an error naming the node and op.
TEST(ThresholdLowering, UnsupportedProducersAndScalesAreNamed) {
  {
    OnnxBuilder b;
    b.input("x", {1, 4});
    b.output("y");
    b.node("Sigmoid", {"x"}, {"sg"});
    b.initF("s", {}, {0.5f});
    b.node("BipolarQuant", {"sg", "s"}, {"y"}, "bq_after_sigmoid").set_domain(kDomain);
    const std::string path = b.save(test::tempDir("threshold_bad_producer"));
    auto g = loadOnnx(path);
    ASSERT_TRUE(bool(g));
    auto e = lowerQonnxModel(**g, path);
    ASSERT_TRUE(bool(e));
    const std::string msg = llvm::toString(std::move(e));
    EXPECT_NE(msg.find("bq_after_sigmoid"), std::string::npos) << msg;
    EXPECT_NE(msg.find("BipolarQuant"), std::string::npos) << msg;
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 2});
    b.output("y");
    b.initF("s", {1, 2}, {0.5f, 0.25f}); // per-channel activation scale
    b.node("BipolarQuant", {"x", "s"}, {"y"}, "bq_per_channel").set_domain(kDomain);
    const std::string path = b.save(test::tempDir("threshold_bad_scale"));
    auto g = loadOnnx(path);
    ASSERT_TRUE(bool(g));
    auto e = lowerQonnxModel(**g, path);
    ASSERT_TRUE(bool(e));
    const std::string msg = llvm::toString(std::move(e));
    EXPECT_NE(msg.find("bq_per_channel"), std::string::npos) << msg;
    EXPECT_NE(msg.find("scale"), std::string::npos) << msg;
  }
}

} // namespace
