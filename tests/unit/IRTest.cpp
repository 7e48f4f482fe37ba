// IR basics: element types, tensors, quantization ranges, graph dead-code
// removal, the verifier.
#include "ir/Graph.h"
#include "ir/Printer.h"

#include <gtest/gtest.h>

using namespace qcc;

TEST(ElemType, NamesAndStorage) {
  EXPECT_EQ(ElemType::f32().str(), "f32");
  EXPECT_EQ(ElemType::intN(4, true).str(), "i4");
  EXPECT_EQ(ElemType::intN(3, false).str(), "u3");
  EXPECT_EQ(ElemType::bipolar().str(), "bipolar");
  EXPECT_EQ(ElemType::intN(4, true).storage(), Storage::I8);
  EXPECT_EQ(ElemType::intN(12, false).storage(), Storage::U16);
  EXPECT_EQ(ElemType::intN(24, true).storage(), Storage::I32);
  EXPECT_EQ(ElemType::i64().storageBytes(), 8u);
  EXPECT_EQ(ElemType::boolean().storageBytes(), 1u);
}

TEST(Tensor, ReshapeSharesBufferCloneDoesNot) {
  Tensor t(ElemType::f32(), {2, 3});
  t.data<float>()[5] = 7.f;
  Tensor r = t.reshaped({3, 2});
  EXPECT_EQ(r.data<float>()[5], 7.f);
  r.data<float>()[0] = 1.f;
  EXPECT_EQ(t.data<float>()[0], 1.f);
  Tensor c = t.clone();
  c.data<float>()[0] = 2.f;
  EXPECT_EQ(t.data<float>()[0], 1.f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
}

TEST(Tensor, GetSetAcrossStorage) {
  Tensor t(ElemType::intN(8, true), {3});
  t.setDouble(0, -128);
  t.setDouble(1, 127);
  EXPECT_EQ(t.getInt(0), -128);
  EXPECT_EQ(t.toInts(), (std::vector<int64_t>{-128, 127, 0}));
}

TEST(QuantInfo, Ranges) {
  QuantInfo q;
  q.bits = 8;
  q.isSigned = true;
  EXPECT_EQ(q.qmin(), -128);
  EXPECT_EQ(q.qmax(), 127);
  q.narrow = true;
  EXPECT_EQ(q.qmin(), -127);
  q.bits = 4;
  q.isSigned = false;
  q.narrow = false;
  EXPECT_EQ(q.qmin(), 0);
  EXPECT_EQ(q.qmax(), 15);
  q.bits = 1;
  q.isSigned = true;
  EXPECT_EQ(q.qmin(), -1);
  EXPECT_EQ(q.qmax(), 0);
}

TEST(Graph, RemoveDeadCodeKeepsWhatOutputsNeed) {
  Graph g;
  Value *x = g.addValue("x", {ElemType::f32(), {4}});
  g.inputs.push_back(x);
  Value *a = g.addValue("a", {ElemType::f32(), {4}});
  Value *b = g.addValue("b", {ElemType::f32(), {4}});
  g.addNode("Relu", "live", {x}, {a});
  g.addNode("Relu", "dead", {x}, {b});
  g.outputs.push_back(a);
  g.removeDeadCode();
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->name, "live");
  EXPECT_EQ(g.findValue("b"), nullptr);
}

TEST(Verifier, RejectsUseBeforeDefinition) {
  Graph g;
  Value *x = g.addValue("x", {ElemType::f32(), {4}});
  g.inputs.push_back(x);
  Value *a = g.addValue("a", {ElemType::f32(), {4}});
  Value *b = g.addValue("b", {ElemType::f32(), {4}});
  g.addNode("Neg", "first", {b}, {a}); // b is defined by the next node
  g.addNode("Neg", "second", {x}, {b});
  g.outputs.push_back(a);
  llvm::Error e = verifyGraph(g);
  ASSERT_TRUE(bool(e));
  std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("node 'first' (Neg)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("used before it is defined"), std::string::npos) << msg;
}

TEST(Verifier, RejectsStaleTypes) {
  Graph g;
  Value *x = g.addValue("x", {ElemType::f32(), {4}});
  g.inputs.push_back(x);
  Value *a = g.addValue("a", {ElemType::f32(), {5}}); // wrong: Neg keeps the shape
  g.addNode("Neg", "neg", {x}, {a});
  g.outputs.push_back(a);
  llvm::Error e = verifyGraph(g);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("inference gives f32[4]"), std::string::npos);
}
