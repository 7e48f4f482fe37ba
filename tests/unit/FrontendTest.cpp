// ONNX frontend: folding of exporter shape chains, symbolic dimensions,
// external data confinement, and the IR text form.
#include "OnnxBuilder.h"

#include "frontend/OnnxLoader.h"
#include "frontend/OnnxWriter.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace qcc;
using qcc::test::OnnxBuilder;

namespace {
std::string errorOf(llvm::Expected<std::unique_ptr<Graph>> g) {
  if (g)
    return "";
  return llvm::toString(g.takeError());
}
} // namespace

// The chain PyTorch emits for x.view(x.size(0), -1) must fold to a constant
// shape, leaving a single Reshape.
TEST(Frontend, FoldsShapeGatherUnsqueezeConcatChain) {
  OnnxBuilder b;
  b.input("x", {-1, 3, 4});
  b.initI64("zero", {0});
  b.initI64("minus1", {-1});
  b.node("Shape", {"x"}, {"s"});
  auto &gather = b.node("Gather", {"s", "idx"}, {"n"});
  b.attrInt(gather, "axis", 0);
  auto *idx = b.graph().add_initializer();
  idx->set_name("idx");
  idx->set_data_type(onnx::TensorProto::INT64);
  idx->add_int64_data(0); // scalar index
  b.node("Unsqueeze", {"n", "zero"}, {"n1"});
  auto &cat = b.node("Concat", {"n1", "minus1"}, {"shape"});
  b.attrInt(cat, "axis", 0);
  b.node("Reshape", {"x", "shape"}, {"y"}, "flatten");
  b.output("y");
  auto dir = test::tempDir("fold");
  auto g = loadOnnx(b.save(dir));
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  ASSERT_EQ((*g)->nodes().size(), 1u) << printGraph(**g);
  EXPECT_EQ((*g)->nodes()[0]->op, "Reshape");
  EXPECT_EQ((*g)->outputs[0]->type.str(), "f32[1,12]");
  EXPECT_FALSE(bool(verifyGraph(**g)));
}

TEST(Frontend, SymbolicBatchDefaultsToOneAndCanBeSet) {
  OnnxBuilder b;
  b.input("x", {-1, 8});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  auto path = b.save(test::tempDir("batch"));
  auto g = loadOnnx(path);
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  EXPECT_EQ((*g)->inputs[0]->type.str(), "f32[1,8]");
  LoadOptions opts;
  opts.inputShapes["x"] = {4, 8};
  auto g4 = loadOnnx(path, opts);
  ASSERT_TRUE(bool(g4)) << llvm::toString(g4.takeError());
  EXPECT_EQ((*g4)->outputs[0]->type.str(), "f32[4,8]");
}

TEST(Frontend, SymbolicInnerDimensionAsksForInputShape) {
  OnnxBuilder b;
  b.input("x", {1, -1});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  std::string msg = errorOf(loadOnnx(b.save(test::tempDir("sym"))));
  EXPECT_NE(msg.find("--input-shape x="), std::string::npos) << msg;
}

TEST(Frontend, ParsesInputShapeSpecs) {
  auto ok = parseInputShape("input=1x3x224x224");
  ASSERT_TRUE(bool(ok));
  EXPECT_EQ(ok->first, "input");
  EXPECT_EQ(ok->second, (Shape{1, 3, 224, 224}));
  for (const char *bad : {"input", "=1x2", "x=", "x=1x0", "x=1xx2", "x=-3", "x=2y"}) {
    auto r = parseInputShape(bad);
    EXPECT_FALSE(bool(r)) << bad;
    if (!r)
      llvm::consumeError(r.takeError());
  }
}

namespace {
// A model whose initializer "w" lives in external data at `location`.
std::string externalModel(const std::filesystem::path &dir, const std::string &location) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  auto *w = b.graph().add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(1);
  w->add_dims(4);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto *kv = w->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y");
  return b.save(dir);
}
} // namespace

TEST(Frontend, ExternalDataInsideModelFolderLoads) {
  auto dir = test::tempDir("ext_ok");
  float vals[4] = {1, 2, 3, 4};
  std::ofstream(dir / "w.bin", std::ios::binary).write(reinterpret_cast<char *>(vals), sizeof vals);
  auto g = loadOnnx(externalModel(dir, "w.bin"));
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  EXPECT_EQ((*g)->findValue("w")->constant->toFloats(), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Frontend, ExternalDataOutsideModelFolderIsRefused) {
  auto dir = test::tempDir("ext_bad");
  for (std::string loc : {"../../etc/passwd", "/etc/passwd", "sub/../../x.bin"}) {
    std::string msg = errorOf(loadOnnx(externalModel(dir, loc)));
    EXPECT_NE(msg.find("outside the model's folder"), std::string::npos) << loc << ": " << msg;
    EXPECT_NE(msg.find("initializer 'w'"), std::string::npos) << msg;
  }
}

TEST(Frontend, WrongSizeInitializerNamesTheTensor) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.initF("w", {1, 4}, {1, 2, 3}); // one value short
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y");
  std::string msg = errorOf(loadOnnx(b.save(test::tempDir("size"))));
  EXPECT_NE(msg.find("'w' holds 3 values but its shape [1,4] needs 4"), std::string::npos) << msg;
}

TEST(Frontend, UnsupportedOpNamesNodeDomainAndOpset) {
  OnnxBuilder b(17);
  b.input("x", {1, 4});
  b.node("FooBar", {"x"}, {"y"}, "mystery");
  b.output("y");
  std::string msg = errorOf(loadOnnx(b.save(test::tempDir("unsup"))));
  EXPECT_NE(msg.find("model.onnx: node 'mystery' (FooBar): unsupported op (domain 'ai.onnx', opset 17)"),
            std::string::npos)
      << msg;
}

TEST(Frontend, PrintsStableText) {
  OnnxBuilder b;
  b.input("x", {-1, 4});
  b.initF("w", {4}, {1, 2, 3, 4});
  b.node("Mul", {"x", "w"}, {"m"}, "scale");
  b.node("Sqrt", {"m"}, {"y"}, "root");
  b.output("y");
  auto g = loadOnnx(b.save(test::tempDir("print")));
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  EXPECT_EQ(printGraph(**g), "graph \"test\" {\n"
                             "  input %x : f32[1,4]\n"
                             "  const %w : f32[4]\n"
                             "  %m = Mul(%x, %w) : f32[1,4]  # scale\n"
                             "  %y = Sqrt(%m) : f32[1,4]  # root\n"
                             "  output %y : f32[1,4]\n"
                             "}\n");
}

// ONNX has no int4 type: a graph qcc writes keeps the width of its narrow
// integer constants, so the reloaded QuantizeLinear saturates at [-8, 7]
// (at int8's range it would give -9 for -1.08 / 0.12).
TEST(Frontend, WrittenGraphKeepsSubByteWidths) {
  Graph g;
  g.name = "narrow";
  g.opsets[""] = 13;
  Value *x = g.addValue("x", TensorType{ElemType::f32(), Shape{3}});
  g.inputs.push_back(x);
  Tensor s(ElemType::f32(), Shape{});
  s.data<float>()[0] = 0.12f;
  Value *sv = g.addConstant("s", std::move(s));
  Value *zv = g.addConstant("z", Tensor(ElemType::intN(4, true), Shape{}));
  Value *q = g.addValue("q", TensorType{ElemType::intN(4, true), Shape{3}});
  g.addNode("QuantizeLinear", "quantize", {x, sv, zv}, {q});
  g.outputs.push_back(q);
  auto dir = test::tempDir("widths");
  const std::string path = (dir / "narrow.qcc.onnx").string();
  ASSERT_FALSE(bool(writeOnnx(g, path)));
  auto r = loadOnnx(path);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ((*r)->outputs[0]->type.str(), "i4[3]");
  auto interp = Interpreter::create(**r);
  ASSERT_TRUE(bool(interp)) << llvm::toString(interp.takeError());
  Tensor in(ElemType::f32(), Shape{3});
  in.data<float>()[0] = -1.08f;
  in.data<float>()[1] = 0.84f;
  in.data<float>()[2] = 5.0f;
  auto out = interp->run({in});
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  EXPECT_EQ((*out)[0].getDouble(0), -8);
  EXPECT_EQ((*out)[0].getDouble(1), 7);
  EXPECT_EQ((*out)[0].getDouble(2), 7);
}
