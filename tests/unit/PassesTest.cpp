// Canonicalization passes: golden IR per pass (tests/passes/<pass>.txt), folded
// constant values against hand-computed numbers, and float-interpreter outputs
// before and after each pass on small graphs and on the real models.
#include "OnnxBuilder.h"

#include "driver/DataIO.h"
#include "frontend/OnnxLoader.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "ops/OpRegistry.h"
#include "passes/FuseActivations.h"
#include "passes/FusedActivation.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

using namespace qcc;
using qcc::test::OnnxBuilder;
namespace fs = std::filesystem;

namespace {

// ---- locating files -------------------------------------------------------------

/// The repository root: QCC_SOURCE_DIR when the build defines it, else the
/// nearest parent of the test binary that holds passes/Pass.h.
fs::path sourceDir() {
#ifdef QCC_SOURCE_DIR
  return fs::path(QCC_SOURCE_DIR);
#else
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path p = exe.parent_path(); !ec && !p.empty() && p != p.root_path(); p = p.parent_path())
    if (fs::exists(p / "passes" / "Pass.h"))
      return p;
  return fs::current_path();
#endif
}

/// Section `name` of tests/passes/<pass>.txt (empty when missing).
std::string goldenCase(const std::string &pass, const std::string &name) {
  std::ifstream f(sourceDir() / "tests" / "passes" / (pass + ".txt"));
  std::string line, body;
  bool inCase = false, found = false;
  while (std::getline(f, line)) {
    if (line.rfind("=== ", 0) == 0) {
      inCase = line.substr(4) == name;
      found |= inCase;
      continue;
    }
    if (inCase)
      body += line + "\n";
  }
  return found ? body : "";
}

std::vector<std::string> lines(const std::string &s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

/// Line-by-line comparison that names the first differing line.
void expectSameText(const std::string &expected, const std::string &actual, const std::string &what) {
  auto e = lines(expected), a = lines(actual);
  for (size_t i = 0; i < std::max(e.size(), a.size()); ++i) {
    std::string el = i < e.size() ? e[i] : "<end>", al = i < a.size() ? a[i] : "<end>";
    if (el != al) {
      ADD_FAILURE() << what << ": line " << i + 1 << " differs\n  expected: " << el << "\n  actual:   " << al
                    << "\nfull output:\n"
                    << actual;
      return;
    }
  }
}

// ---- building graphs --------------------------------------------------------------

void attrF(onnx::NodeProto &n, const std::string &name, float v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void scalarF(OnnxBuilder &b, const std::string &name, float v) { b.initF(name, {}, {v}); }

std::unique_ptr<Graph> load(OnnxBuilder &b, const std::string &tag) {
  auto g = loadOnnx(b.save(test::tempDir("passes_" + tag)));
  if (!g) {
    ADD_FAILURE() << tag << ": " << llvm::toString(g.takeError());
    return nullptr;
  }
  return std::move(*g);
}

std::vector<float> floats(const Graph &g, const std::string &value) {
  const Value *v = g.findValue(value);
  if (!v || !v->isConstant())
    return {};
  return v->constant->toFloats();
}

// ---- running graphs --------------------------------------------------------------

/// Seeded inputs in [-3, 3) (integers get small values).
std::vector<Tensor> randomInputs(const Graph &g, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-3.f, 3.f);
  std::vector<Tensor> ins;
  for (const Value *v : g.inputs) {
    Tensor t(v->type.elem, v->type.shape);
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, v->type.elem.isFloat() ? dist(rng) : double(int(dist(rng))));
    ins.push_back(std::move(t));
  }
  return ins;
}

/// The float interpreter's outputs. With `emulateClamp`, a node carrying a
/// fused clamp that its op's kernel ignores gets it applied after the kernel:
/// this is the semantics FusedActivation.h documents, so fused graphs can be
/// checked before the ops implement it.
std::vector<Tensor> run(const Graph &g, const std::vector<Tensor> &inputs, bool emulateClamp = false) {
  auto it = Interpreter::create(g);
  if (!it) {
    ADD_FAILURE() << llvm::toString(it.takeError());
    return {};
  }
  if (emulateClamp)
    it->observer = [](const Node &n, llvm::ArrayRef<Tensor> outs) {
      auto clamp = fusedClamp(n);
      if (!clamp || fusedClampSupported(n.op) || outs.empty() || outs[0].elem() != ElemType::f32())
        return;
      float *p = reinterpret_cast<float *>(outs[0].buffer().get()); // the node's own output buffer
      for (int64_t i = 0; i < outs[0].size(); ++i) {
        float v = p[i] < clamp->lo ? clamp->lo : p[i];
        p[i] = v > clamp->hi ? clamp->hi : v;
      }
    };
  auto outs = it->run(inputs);
  if (!outs) {
    ADD_FAILURE() << llvm::toString(outs.takeError());
    return {};
  }
  // Outputs may alias the interpreter's buffers: copy them out.
  std::vector<Tensor> copies;
  for (const Tensor &t : *outs)
    copies.push_back(t.clone());
  return copies;
}

/// max |a - b| / max |b| over all outputs (0 when both are all zero).
double relativeDiff(const std::vector<Tensor> &a, const std::vector<Tensor> &b) {
  if (a.size() != b.size())
    return INFINITY;
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].type() != b[k].type())
      return INFINITY;
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < a[k].size(); ++i) {
      double x = a[k].getDouble(i), y = b[k].getDouble(i);
      if (std::isnan(x) != std::isnan(y))
        return INFINITY;
      if (!std::isnan(x))
        diff = std::max(diff, std::fabs(x - y));
      scale = std::max(scale, std::fabs(y));
    }
    worst = std::max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

const PassInfo *forcedFuseActivations() {
  static const PassInfo info{"fuse-activations", "fuse-activations, every producer op treated as supported",
                             [](Graph &g, PassStats &s) {
                               return fuseActivations(g, s, [](const std::string &) { return true; });
                             }};
  return &info;
}

/// Runs one pass (verifier on) on `g`, compares the IR with the golden case
/// and the outputs with those before the pass.
void checkGolden(Graph &g, const std::string &pass, const std::string &name, const PassInfo *info = nullptr,
                 PassStats *statsOut = nullptr) {
  SCOPED_TRACE(pass + " / " + name);
  std::string expected = goldenCase(pass, name);
  ASSERT_FALSE(expected.empty()) << "no case '" << name << "' in tests/passes/" << pass << ".txt";
  const std::string before = printGraph(g);
  auto inputs = randomInputs(g, 7);
  auto ref = run(g, inputs);
  PassStats stats;
  const PassInfo *p = info ? info : findPass(pass);
  ASSERT_NE(p, nullptr);
  if (auto e = runPassList(g, {p}, /*verify=*/true, &stats))
    FAIL() << llvm::toString(std::move(e));
  if (expected == "unchanged\n") {
    expectSameText(before, printGraph(g), "unchanged graph");
    EXPECT_EQ(stats.of(pass), 0);
  } else {
    expectSameText(expected, printGraph(g), "golden");
    EXPECT_GT(stats.of(pass), 0);
  }
  EXPECT_LE(relativeDiff(run(g, inputs, /*emulateClamp=*/true), ref), 1e-6);
  if (statsOut)
    *statsOut = stats;
}

} // namespace

// ---- framework ---------------------------------------------------------------------

TEST(Passes, RegistryNamesAndPipeline) {
  std::vector<std::string> names;
  for (const PassInfo &p : allPasses()) {
    names.push_back(p.name);
    EXPECT_EQ(findPass(p.name), &p);
    EXPECT_NE(std::string(p.summary), "");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"fold-constants", "remove-identity", "fold-batchnorm",
                                             "fuse-matmul-add", "fuse-layernorm", "hoist-activations",
                                             "fuse-activations"}));
  for (const std::string &n : canonicalizePipeline())
    EXPECT_NE(findPass(n), nullptr) << n;
  // Every pass has a golden file named like its flag.
  for (const std::string &n : names)
    EXPECT_TRUE(fs::exists(sourceDir() / "tests" / "passes" / (n + ".txt"))) << n;
}

TEST(Passes, ParsesPassLists) {
  auto all = parsePassList("canonicalize");
  ASSERT_TRUE(bool(all));
  EXPECT_EQ(*all, canonicalizePipeline());
  auto none = parsePassList("none");
  ASSERT_TRUE(bool(none));
  EXPECT_TRUE(none->empty());
  auto two = parsePassList("fold-batchnorm,fuse-activations");
  ASSERT_TRUE(bool(two));
  EXPECT_EQ(*two, (std::vector<std::string>{"fold-batchnorm", "fuse-activations"}));
  auto bad = parsePassList("fold-batchnorm,fuse-everything");
  ASSERT_FALSE(bool(bad));
  std::string msg = llvm::toString(bad.takeError());
  EXPECT_NE(msg.find("unknown pass 'fuse-everything'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fold-constants"), std::string::npos) << msg; // lists the known ones
}

TEST(Passes, VerifierNamesThePassThatBrokeTheIR) {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "broken");
  ASSERT_TRUE(g);
  static const PassInfo breaker{"break-types", "sets a wrong output type", [](Graph &g, PassStats &s) -> llvm::Error {
                                  g.nodes()[0]->outputs[0]->type.shape = {3, 2};
                                  s.count();
                                  return llvm::Error::success();
                                }};
  auto e = runPassList(*g, {&breaker}, /*verify=*/true);
  ASSERT_TRUE(bool(e));
  std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("after pass 'break-types'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("node 'relu' (Relu)"), std::string::npos) << msg;
  // Without verification the same pass goes through.
  EXPECT_FALSE(bool(runPassList(*g, {&breaker}, /*verify=*/false)));
}

TEST(Passes, UnknownPassIsAnError) {
  Graph g;
  auto e = runPasses(g, {"no-such-pass"}, true);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("no-such-pass"), std::string::npos);
}

// ---- fold-constants ----------------------------------------------------------------

namespace {
/// IR built directly (the frontend would fold these nodes at import).
Node *addNodeInferred(Graph &g, const std::string &op, const std::string &name, std::vector<Value *> ins,
                      std::vector<std::string> outs) {
  std::vector<Value *> o;
  for (auto &n : outs)
    o.push_back(g.addValue(n, TensorType{}));
  Node *n = g.addNode(op, name, std::move(ins), std::move(o));
  if (auto e = OpRegistry::get().lookup("", op)->infer(*n))
    ADD_FAILURE() << llvm::toString(std::move(e));
  return n;
}

Tensor vecF(std::vector<float> v) {
  Tensor t(ElemType::f32(), {int64_t(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}
} // namespace

TEST(FoldConstants, AddOfConstants) {
  Graph g;
  g.name = "test";
  Value *x = g.addValue("x", TensorType{ElemType::f32(), {2}});
  g.inputs = {x};
  Value *c1 = g.addConstant("c1", vecF({1, 2})), *c2 = g.addConstant("c2", vecF({3, 4}));
  Node *add = addNodeInferred(g, "Add", "add", {c1, c2}, {"t"});
  addNodeInferred(g, "Mul", "mul", {x, add->outputs[0]}, {"y"});
  g.outputs = {g.findValue("y")};
  checkGolden(g, "fold-constants", "add_of_constants");
  EXPECT_EQ(floats(g, "t"), (std::vector<float>{4, 6}));
}

TEST(FoldConstants, ShapeReadsOnlyTheStaticType) {
  Graph g;
  g.name = "test";
  Value *x = g.addValue("x", TensorType{ElemType::f32(), {2, 3}});
  g.inputs = {x};
  addNodeInferred(g, "Shape", "shape", {x}, {"s"});
  g.outputs = {g.findValue("s")};
  checkGolden(g, "fold-constants", "shape_of_input");
  ASSERT_TRUE(g.outputs[0]->isConstant());
  EXPECT_EQ(g.outputs[0]->constant->toInts(), (std::vector<int64_t>{2, 3}));
}

TEST(FoldConstants, LeavesNodesThatReadInputs) {
  Graph g;
  g.name = "test";
  Value *x = g.addValue("x", TensorType{ElemType::f32(), {2}});
  g.inputs = {x};
  addNodeInferred(g, "Add", "add", {x, g.addConstant("c", vecF({1, 2}))}, {"y"});
  g.outputs = {g.findValue("y")};
  checkGolden(g, "fold-constants", "needs_an_input");
}

// ---- remove-identity ---------------------------------------------------------------

TEST(RemoveIdentity, IdentityAndDropout) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Identity", {"x"}, {"a"}, "id");
  b.node("Relu", {"a"}, {"b"}, "relu");
  b.node("Dropout", {"b"}, {"y"}, "drop");
  b.output("y");
  auto g = load(b, "ri1");
  ASSERT_TRUE(g);
  checkGolden(*g, "remove-identity", "identity_relu_dropout");
}

TEST(RemoveIdentity, ReshapeChainBecomesOneReshape) {
  OnnxBuilder b;
  b.input("x", {2, 3, 4});
  auto &fl = b.node("Flatten", {"x"}, {"a"}, "flatten");
  b.attrInt(fl, "axis", 1);
  b.initI64("shape64", {6, 4});
  b.node("Reshape", {"a", "shape64"}, {"b"}, "reshape");
  b.initI64("axes0", {0});
  b.node("Unsqueeze", {"b", "axes0"}, {"c"}, "unsqueeze");
  b.node("Relu", {"c"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "ri2");
  ASSERT_TRUE(g);
  checkGolden(*g, "remove-identity", "reshape_chain");
}

TEST(RemoveIdentity, ReshapeBackToTheInputShapeDisappears) {
  OnnxBuilder b;
  b.input("x", {2, 6});
  b.initI64("s34", {3, 4});
  b.initI64("s26", {2, 6});
  b.node("Reshape", {"x", "s34"}, {"a"}, "r1");
  b.node("Reshape", {"a", "s26"}, {"b"}, "r2");
  b.node("Relu", {"b"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "ri3");
  ASSERT_TRUE(g);
  checkGolden(*g, "remove-identity", "round_trip_reshape");
}

TEST(RemoveIdentity, UnitTransposeIsAReshapeAndSameTypeCastGoes) {
  OnnxBuilder b;
  b.input("x", {1, 16, 64});
  b.attrInts(b.node("Transpose", {"x"}, {"a"}, "t_unit"), "perm", {1, 0, 2});
  b.attrInts(b.node("Transpose", {"a"}, {"b"}, "t_id"), "perm", {0, 1, 2});
  b.attrInt(b.node("Cast", {"b"}, {"c"}, "cast"), "to", onnx::TensorProto::FLOAT);
  b.attrInts(b.node("Transpose", {"c"}, {"y"}, "t_real"), "perm", {2, 0, 1});
  b.output("y");
  auto g = load(b, "ri4");
  ASSERT_TRUE(g);
  checkGolden(*g, "remove-identity", "transpose_and_cast");
}

TEST(RemoveIdentity, KeepsNodesAGraphOutputNeeds) {
  // Identity(input) as a graph output keeps the output's name; a Dropout whose
  // mask is read is not an identity.
  OnnxBuilder b;
  b.input("x", {4});
  b.node("Identity", {"x"}, {"y"}, "id");
  b.node("Dropout", {"x"}, {"d", "m"}, "drop");
  b.output("y");
  b.output("d");
  b.output("m");
  auto g = load(b, "ri5");
  ASSERT_TRUE(g);
  checkGolden(*g, "remove-identity", "kept_when_needed");
}

// ---- fold-batchnorm ----------------------------------------------------------------

namespace {
/// BatchNormalization parameters named s, bi, m, v (per channel).
void bnParams(OnnxBuilder &b, std::vector<float> scale, std::vector<float> bias, std::vector<float> mean,
              std::vector<float> var) {
  int64_t c = int64_t(scale.size());
  b.initF("s", {c}, scale);
  b.initF("bi", {c}, bias);
  b.initF("m", {c}, mean);
  b.initF("v", {c}, var);
}
} // namespace

TEST(FoldBatchNorm, ConvThenBatchNorm) {
  // a = scale / sqrt(var + eps) = {3/2, 2/1}; b = bias - mean * a = {2.5, -2}
  // W' = a * W = {3, -2}; B' = a * B + b = {1.5 + 2.5, 1 - 2} = {4, -1}
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.initF("W", {2, 1, 1, 1}, {2, -1});
  b.initF("B", {2}, {1, 0.5});
  bnParams(b, {3, 2}, {4, -1}, {1, 0.5}, {3, 0});
  b.node("Conv", {"x", "W", "B"}, {"c"}, "conv");
  attrF(b.node("BatchNormalization", {"c", "s", "bi", "m", "v"}, {"y"}, "bn"), "epsilon", 1.f);
  b.output("y");
  auto g = load(b, "bn1");
  ASSERT_TRUE(g);
  checkGolden(*g, "fold-batchnorm", "conv_bn");
  EXPECT_EQ(floats(*g, "W_folded"), (std::vector<float>{3, -2}));
  EXPECT_EQ(floats(*g, "B_folded"), (std::vector<float>{4, -1}));
}

TEST(FoldBatchNorm, GemmThroughUnsqueezeAndSqueeze) {
  // PyTorch's BatchNorm1d after Linear. a = {4/2, 3/1} = {2, 3}; b = {0 - 2, 1 - 0} = {-2, 1}.
  // transB=1: row j of B is output column j: B' = {{2,4},{9,12}}.
  // C' = a * C + b = {2*0.5 - 2, 3*(-0.5) + 1} = {-1, -0.5}
  OnnxBuilder b;
  b.input("x", {1, 2});
  b.initF("B", {2, 2}, {1, 2, 3, 4});
  b.initF("C", {2}, {0.5, -0.5});
  bnParams(b, {4, 3}, {0, 1}, {1, 0}, {3, 0});
  b.attrInt(b.node("Gemm", {"x", "B", "C"}, {"g"}, "gemm"), "transB", 1);
  b.initI64("ax2", {2});
  b.node("Unsqueeze", {"g", "ax2"}, {"u"}, "unsq");
  attrF(b.node("BatchNormalization", {"u", "s", "bi", "m", "v"}, {"bnout"}, "bn"), "epsilon", 1.f);
  b.node("Squeeze", {"bnout", "ax2"}, {"y"}, "sq");
  b.output("y");
  auto g = load(b, "bn2");
  ASSERT_TRUE(g);
  checkGolden(*g, "fold-batchnorm", "gemm_unsqueeze_bn_squeeze");
  EXPECT_EQ(floats(*g, "B_folded"), (std::vector<float>{2, 4, 9, 12}));
  EXPECT_EQ(floats(*g, "C_folded"), (std::vector<float>{-1, -0.5}));
}

TEST(FoldBatchNorm, MatMulBecomesGemmWithBias) {
  // W [4,2] columns scaled by a = {1/sqrt(1), 4/sqrt(4)} = {1, 2} (eps 0);
  // bias = bias - mean * a = {0.5 - 1, -1 - 6} = {-0.5, -7}
  OnnxBuilder b;
  b.input("x", {3, 4});
  b.initF("W", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  bnParams(b, {1, 4}, {0.5, -1}, {1, 3}, {1, 4});
  b.node("MatMul", {"x", "W"}, {"mmout"}, "mm");
  attrF(b.node("BatchNormalization", {"mmout", "s", "bi", "m", "v"}, {"y"}, "bn"), "epsilon", 0.f);
  b.output("y");
  auto g = load(b, "bn3");
  ASSERT_TRUE(g);
  checkGolden(*g, "fold-batchnorm", "matmul_bn");
  EXPECT_EQ(floats(*g, "W_folded"), (std::vector<float>{1, 4, 3, 8, 5, 12, 7, 16}));
  EXPECT_EQ(floats(*g, "mm_bias_folded"), (std::vector<float>{-0.5, -7}));
}

TEST(FoldBatchNorm, GroupedConvTranspose) {
  // W is [C=4, M/group=3, 2, 2] with group 2: output channel o = (c / 2) * 3 + m.
  OnnxBuilder b;
  b.input("x", {1, 4, 3, 3});
  std::vector<float> w(4 * 3 * 2 * 2);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(int(i % 7) - 3) * 0.25f;
  b.initF("W", {4, 3, 2, 2}, w);
  bnParams(b, {1, 2, 3, 4, 5, 6}, {0, 1, 0, -1, 2, 0}, {0.5, 0, -1, 1, 0, 2}, {1, 3, 0, 15, 8, 3});
  auto &ct = b.node("ConvTranspose", {"x", "W"}, {"c"}, "deconv");
  b.attrInt(ct, "group", 2);
  b.attrInts(ct, "strides", {2, 2});
  attrF(b.node("BatchNormalization", {"c", "s", "bi", "m", "v"}, {"y"}, "bn"), "epsilon", 1.f);
  b.output("y");
  auto g = load(b, "bn4");
  ASSERT_TRUE(g);
  checkGolden(*g, "fold-batchnorm", "conv_transpose_group");
  // Hand check of one weight: W[c=2, m=1, 0, 0] (index 2*12 + 1*4 = 28) feeds
  // output channel (2/2)*3 + 1 = 4, a[4] = 5 / sqrt(8 + 1).
  EXPECT_FLOAT_EQ(floats(*g, "W_folded")[28], w[28] * 5.f / 3.f);
  // bias'[4] = bias - mean * a = 2 - 0 = 2; bias'[5] = 0 - 2 * 6 / 2 = -6
  EXPECT_FLOAT_EQ(floats(*g, "deconv_bias_folded")[4], 2.f);
  EXPECT_FLOAT_EQ(floats(*g, "deconv_bias_folded")[5], -6.f);
}

TEST(FoldBatchNorm, NotAfterAnActivation) {
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.initF("W", {2, 1, 1, 1}, {2, -1});
  bnParams(b, {3, 2}, {4, -1}, {1, 0.5}, {3, 0});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"r"}, "relu");
  b.node("BatchNormalization", {"r", "s", "bi", "m", "v"}, {"y"}, "bn");
  b.output("y");
  auto g = load(b, "bn5");
  ASSERT_TRUE(g);
  checkGolden(*g, "fold-batchnorm", "bn_after_relu");
}

TEST(FoldBatchNorm, NotWhenTheConvOutputIsReadElsewhere) {
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.initF("W", {2, 1, 1, 1}, {2, -1});
  bnParams(b, {3, 2}, {4, -1}, {1, 0.5}, {3, 0});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("BatchNormalization", {"c", "s", "bi", "m", "v"}, {"y"}, "bn");
  b.output("y");
  b.output("c");
  auto g = load(b, "bn6");
  ASSERT_TRUE(g);
  checkGolden(*g, "fold-batchnorm", "conv_output_shared");
}

// ---- fuse-matmul-add ---------------------------------------------------------------

namespace {
std::vector<float> ramp(size_t n, float step = 0.1f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = (float(i % 11) - 5.f) * step;
  return v;
}
} // namespace

TEST(FuseMatMulAdd, TwoDimensional) {
  OnnxBuilder b;
  b.input("x", {3, 4});
  b.initF("W", {4, 5}, ramp(20));
  b.initF("bias", {5}, {1, 2, 3, 4, 5});
  b.node("MatMul", {"x", "W"}, {"m"}, "mm");
  b.node("Add", {"m", "bias"}, {"y"}, "add");
  b.output("y");
  auto g = load(b, "mma1");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-matmul-add", "matmul_add_2d");
}

TEST(FuseMatMulAdd, NDimensionalWithBiasFirst) {
  OnnxBuilder b;
  b.input("x", {2, 3, 4});
  b.initF("W", {4, 5}, ramp(20));
  b.initF("bias", {1, 1, 5}, {1, 2, 3, 4, 5});
  b.node("MatMul", {"x", "W"}, {"m"}, "mm");
  b.node("Add", {"bias", "m"}, {"y"}, "add");
  b.output("y");
  auto g = load(b, "mma2");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-matmul-add", "matmul_add_nd");
  EXPECT_EQ(floats(*g, "bias_vector"), (std::vector<float>{1, 2, 3, 4, 5}));
}

TEST(FuseMatMulAdd, NotForAPerRowBias) {
  OnnxBuilder b;
  b.input("x", {3, 4});
  b.initF("W", {4, 5}, ramp(20));
  b.initF("bias", {3, 1}, {1, 2, 3});
  b.node("MatMul", {"x", "W"}, {"m"}, "mm");
  b.node("Add", {"m", "bias"}, {"y"}, "add");
  b.output("y");
  auto g = load(b, "mma3");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-matmul-add", "bias_per_row");
}

TEST(FuseMatMulAdd, NotForAComputedWeight) {
  OnnxBuilder b;
  b.input("x", {3, 4});
  b.input("w", {4, 5});
  b.initF("bias", {5}, {1, 2, 3, 4, 5});
  b.node("MatMul", {"x", "w"}, {"m"}, "mm");
  b.node("Add", {"m", "bias"}, {"y"}, "add");
  b.output("y");
  auto g = load(b, "mma4");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-matmul-add", "weight_not_constant");
}

// ---- fuse-layernorm ----------------------------------------------------------------

namespace {
/// The decomposed layer norm over `axes` of x; `prefix` names the nodes.
/// mulForm squares with Mul(d, d); affine adds Mul(gamma) and Add(beta).
void decomposedLayerNorm(OnnxBuilder &b, const std::string &prefix, std::vector<int64_t> axes, bool mulForm,
                         bool affine, float eps, int64_t normSize) {
  b.attrInts(b.node("ReduceMean", {"x"}, {"mean"}, prefix + "ReduceMean"), "axes", axes);
  b.node("Sub", {"x", "mean"}, {"d"}, prefix + "Sub");
  if (mulForm) {
    b.node("Mul", {"d", "d"}, {"sq"}, prefix + "Square");
  } else {
    scalarF(b, "two", 2.f);
    b.node("Pow", {"d", "two"}, {"sq"}, prefix + "Pow");
  }
  b.attrInts(b.node("ReduceMean", {"sq"}, {"var"}, prefix + "ReduceMean_1"), "axes", axes);
  scalarF(b, "eps", eps);
  b.node("Add", {"var", "eps"}, {"ve"}, prefix + "Add");
  b.node("Sqrt", {"ve"}, {"sd"}, prefix + "Sqrt");
  b.node("Div", {"d", "sd"}, {affine ? "n" : "y"}, prefix + "Div");
  if (affine) {
    b.initF("gamma", {normSize}, ramp(size_t(normSize), 0.3f));
    b.initF("beta", {normSize}, ramp(size_t(normSize), -0.2f));
    b.node("Mul", {"n", "gamma"}, {"gn"}, prefix + "Mul");
    b.node("Add", {"gn", "beta"}, {"y"}, prefix + "Add_1");
  }
  b.output("y");
}
} // namespace

TEST(FuseLayerNorm, DecomposedWithScaleAndBias) {
  OnnxBuilder b;
  b.input("x", {2, 3, 8});
  decomposedLayerNorm(b, "/ln/", {-1}, false, true, 1e-5f, 8);
  auto g = load(b, "ln1");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-layernorm", "decomposed");
}

TEST(FuseLayerNorm, SquareAsMulWithoutAffine) {
  OnnxBuilder b;
  b.input("x", {4, 6});
  decomposedLayerNorm(b, "", {1}, true, false, 1e-6f, 6);
  auto g = load(b, "ln2");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-layernorm", "mul_form_no_affine");
  std::vector<float> ones(6, 1.f);
  EXPECT_EQ(floats(*g, "x_ln_scale"), ones);
}

TEST(FuseLayerNorm, NotOverALeadingAxis) {
  OnnxBuilder b;
  b.input("x", {2, 3, 8});
  decomposedLayerNorm(b, "", {1}, false, false, 1e-5f, 8);
  auto g = load(b, "ln3");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-layernorm", "not_last_axis");
}

// ---- hoist-activations ---------------------------------------------------------------

TEST(HoistActivations, ReluAboveAReshape) {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.initF("W", {3, 4}, ramp(12, 2.f));
  b.node("Gemm", {"x", "W"}, {"g"}, "gemm");
  b.initI64("s8", {8});
  b.node("Reshape", {"g", "s8"}, {"r"}, "flat");
  b.node("Relu", {"r"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "ha1");
  ASSERT_TRUE(g);
  checkGolden(*g, "hoist-activations", "gemm_reshape_relu");
}

TEST(HoistActivations, ClipAboveTwoReshapes) {
  OnnxBuilder b;
  b.input("x", {1, 2, 3, 3});
  b.initF("W", {4, 2, 3, 3}, ramp(72, 1.f));
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.attrInt(b.node("Flatten", {"c"}, {"f"}, "flatten"), "axis", 1);
  b.initI64("ax2", {2});
  b.node("Unsqueeze", {"f", "ax2"}, {"u"}, "unsqueeze");
  scalarF(b, "lo", 0.f);
  scalarF(b, "hi", 6.f);
  b.node("Clip", {"u", "lo", "hi"}, {"y"}, "relu6");
  b.output("y");
  auto g = load(b, "ha2");
  ASSERT_TRUE(g);
  checkGolden(*g, "hoist-activations", "conv_flatten_unsqueeze_clip");
}

TEST(HoistActivations, NotWithoutAProducerToJoin) {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.initI64("s6", {6});
  b.node("Reshape", {"x", "s6"}, {"r"}, "flat");
  b.node("Relu", {"r"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "ha3");
  ASSERT_TRUE(g);
  checkGolden(*g, "hoist-activations", "not_after_a_producer");
}

// ---- fuse-activations ----------------------------------------------------------------

TEST(FuseActivations, ConvRelu) {
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.initF("W", {1, 1, 1, 1}, {-1.5f});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "fa1");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-activations", "conv_relu", forcedFuseActivations());
  auto clamp = fusedClamp(*g->nodes()[0]);
  ASSERT_TRUE(clamp.has_value());
  EXPECT_EQ(clamp->lo, 0.f);
  EXPECT_TRUE(std::isinf(clamp->hi) && clamp->hi > 0);
}

TEST(FuseActivations, Relu6ThroughAReshape) {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.initF("W", {3, 4}, ramp(12, 2.f));
  b.node("Gemm", {"x", "W"}, {"g"}, "gemm");
  b.initI64("s8", {8});
  b.node("Reshape", {"g", "s8"}, {"r"}, "flat");
  scalarF(b, "lo", 0.f);
  scalarF(b, "hi", 6.f);
  b.node("Clip", {"r", "lo", "hi"}, {"y"}, "clip");
  b.output("y");
  auto g = load(b, "fa2");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-activations", "gemm_relu6_through_reshape", forcedFuseActivations());
}

TEST(FuseActivations, ReluThenClipIntersect) {
  OnnxBuilder b;
  b.input("x1", {4});
  b.input("x2", {4});
  b.node("Add", {"x1", "x2"}, {"a"}, "add");
  b.node("Relu", {"a"}, {"r"}, "relu");
  scalarF(b, "lo", -1.f);
  scalarF(b, "hi", 4.f);
  b.node("Clip", {"r", "lo", "hi"}, {"y"}, "clip");
  b.output("y");
  auto g = load(b, "fa3");
  ASSERT_TRUE(g);
  PassStats stats;
  checkGolden(*g, "fuse-activations", "relu_then_clip", forcedFuseActivations(), &stats);
  EXPECT_EQ(stats.of("fuse-activations"), 2);
  EXPECT_EQ(stats.details["fuse-activations: Relu into Add"], 1);
  EXPECT_EQ(stats.details["fuse-activations: Clip into Add"], 1);
}

TEST(FuseActivations, NotWhenSharedOrNotAClamp) {
  // The Conv output is also a graph output; LeakyRelu is not a clamp; a Clip
  // with min > max is not a range; Sigmoid's producer is not a fusion target.
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.input("p", {3, 4});
  b.initF("W", {1, 1, 1, 1}, {2.f});
  b.initF("M", {4, 2}, ramp(8));
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"y"}, "relu");
  b.node("MatMul", {"p", "M"}, {"m"}, "mm");
  b.node("LeakyRelu", {"m"}, {"z"}, "leaky");
  b.node("MatMul", {"p", "M"}, {"m2"}, "mm2");
  scalarF(b, "lo", 3.f);
  scalarF(b, "hi", 1.f);
  b.node("Clip", {"m2", "lo", "hi"}, {"w"}, "clip_empty");
  b.output("y");
  b.output("c");
  b.output("z");
  b.output("w");
  auto g = load(b, "fa4");
  ASSERT_TRUE(g);
  checkGolden(*g, "fuse-activations", "not_fused", forcedFuseActivations());
}

TEST(FuseActivations, RegisteredPassFusesOnlyIntoOpsThatApplyTheClamp) {
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2});
  b.initF("W", {1, 1, 1, 1}, {-1.5f});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"y"}, "relu");
  b.output("y");
  auto g = load(b, "fa5");
  ASSERT_TRUE(g);
  auto inputs = randomInputs(*g, 3);
  auto ref = run(*g, inputs);
  PassStats stats;
  ASSERT_FALSE(bool(runPasses(*g, {"fuse-activations"}, true, &stats)));
  EXPECT_EQ(stats.of("fuse-activations"), fusedClampSupported("Conv") ? 1 : 0);
  EXPECT_EQ(g->nodes().size(), fusedClampSupported("Conv") ? 1u : 2u);
  // No emulation here: the plain interpreter must agree.
  EXPECT_LE(relativeDiff(run(*g, inputs), ref), 1e-6);
}

// ---- real models: every pass keeps the float outputs ----------------------------------

namespace {

struct RealModel {
  std::string name;
  fs::path path;
  std::map<std::string, Shape> shapes;
  fs::path input; ///< .npy, or empty for seeded random data
};

std::vector<RealModel> realModels() {
  const fs::path root = sourceDir(), hls = root.parent_path() / "shared" / "models" / "hls4ml-example-models";
  std::vector<RealModel> m = {
      {"mobilenetv2", root / "models/mobilenetv2/model.onnx", {}, root / "models/mobilenetv2/input.npy"},
      {"resnet18", root / "models/resnet18/model.onnx", {}, root / "models/resnet18/input.npy"},
      {"transformer_encoder", root / "models/transformer_encoder/model.onnx", {},
       root / "models/transformer_encoder/input.npy"},
      {"conv2d_small_mp_keras", hls / "conv2d_small_mp_keras.onnx", {}, {}},
      {"three_layer_bn_pytorch", hls / "three_layer_bn_pytorch.onnx", {{"0", {1, 16}}}, {}},
      {"conv1d_small_keras", hls / "conv1d_small_keras.onnx", {}, {}},
      {"dense_big_keras", hls / "dense_big_keras.onnx", {}, {}},
      {"three_layer_pytorch", hls / "three_layer_pytorch.onnx", {{"0", {1, 16}}}, {}},
      {"two_layer_keras", hls / "two_layer_keras.onnx", {}, {}},
  };
  return m;
}

std::unique_ptr<Graph> loadReal(const RealModel &m) {
  LoadOptions opts;
  opts.inputShapes = m.shapes;
  auto g = loadOnnx(m.path.string(), opts);
  if (!g) {
    ADD_FAILURE() << llvm::toString(g.takeError());
    return nullptr;
  }
  return std::move(*g);
}

std::vector<Tensor> modelInputs(const RealModel &m, const Graph &g) {
  if (m.input.empty())
    return randomInputs(g, 11);
  auto t = readNpyTensor(m.input.string());
  if (!t) {
    ADD_FAILURE() << llvm::toString(t.takeError());
    return {};
  }
  // the first sample, at the graph's batch size
  const Shape want = g.inputs[0]->type.shape;
  Tensor one(ElemType::f32(), want);
  std::copy(t->data<float>(), t->data<float>() + one.size(), one.data<float>());
  return {one};
}

int countOps(const Graph &g, const std::string &op) {
  int n = 0;
  for (const auto &node : g.nodes())
    n += node->op == op;
  return n;
}

/// Runs the pipeline pass by pass (verifier on), checking the outputs after
/// each one; `forcedActivations` uses the fuse-activations rewrite on every
/// producer with the clamp emulated.
PassStats checkPipeline(const RealModel &m, bool forcedActivations, std::unique_ptr<Graph> *keep = nullptr) {
  SCOPED_TRACE(m.name);
  PassStats stats;
  auto g = loadReal(m);
  if (!g)
    return stats;
  auto inputs = modelInputs(m, *g);
  auto ref = run(*g, inputs);
  for (const std::string &name : canonicalizePipeline()) {
    const PassInfo *p = forcedActivations && name == "fuse-activations" ? forcedFuseActivations() : findPass(name);
    if (auto e = runPassList(*g, {p}, /*verify=*/true, &stats)) {
      ADD_FAILURE() << llvm::toString(std::move(e));
      return stats;
    }
    double diff = relativeDiff(run(*g, inputs, forcedActivations), ref);
    EXPECT_LE(diff, 1e-5) << "outputs moved after pass '" << name << "'";
  }
  if (keep)
    *keep = std::move(g);
  return stats;
}

bool available(const RealModel &m) { return fs::exists(m.path); }

} // namespace

TEST(PassesOnModels, EveryPassKeepsTheFloatOutputs) {
  for (const RealModel &m : realModels()) {
    if (!available(m)) {
      std::cout << "[  note    ] " << m.name << ": " << m.path << " not found, not checked\n";
      continue;
    }
    PassStats s = checkPipeline(m, /*forcedActivations=*/false);
    std::cout << "[  stats   ] " << m.name << ": " << s.summary() << "\n";
  }
}

TEST(PassesOnModels, ForcedActivationFusionKeepsTheOutputs) {
  // The rewrite fuse-activations would make once Conv/Gemm/MatMul/Add apply
  // act_min/act_max (emulated here), on every model.
  for (const RealModel &m : realModels()) {
    if (!available(m))
      continue;
    PassStats s = checkPipeline(m, /*forcedActivations=*/true);
    std::cout << "[  stats   ] " << m.name << " (activations forced): " << s.summary() << "\n";
    for (const auto &[what, n] : s.details)
      std::cout << "[  detail  ]     " << what << ": " << n << "\n";
  }
}

TEST(PassesOnModels, TransformerLayerNormsAreFused) {
  RealModel m = realModels()[2];
  ASSERT_TRUE(available(m)) << m.path;
  std::unique_ptr<Graph> g;
  PassStats s = checkPipeline(m, false, &g);
  ASSERT_TRUE(g);
  EXPECT_EQ(countOps(*g, "LayerNormalization"), 2);
  EXPECT_EQ(countOps(*g, "ReduceMean"), 0);
  EXPECT_EQ(countOps(*g, "Pow"), 0);
  EXPECT_EQ(countOps(*g, "Sqrt"), 0);
  EXPECT_EQ(s.of("fuse-layernorm"), 2);
  // The three MatMul + bias pairs (in-projection, linear1, linear2) are Gemms now.
  EXPECT_EQ(s.details["fuse-matmul-add: MatMul+Add into Gemm (N-D, with reshapes)"], 3);
}

TEST(PassesOnModels, BatchNormsOfThreeLayerBnPytorchFold) {
  RealModel m = realModels()[4];
  if (!available(m))
    GTEST_SKIP() << m.path << " not found";
  std::unique_ptr<Graph> g;
  PassStats s = checkPipeline(m, false, &g);
  ASSERT_TRUE(g);
  EXPECT_EQ(s.of("fold-batchnorm"), 4);
  EXPECT_EQ(countOps(*g, "BatchNormalization"), 0);
  // The Unsqueeze/Squeeze pairs around each BN are gone too.
  EXPECT_EQ(countOps(*g, "Unsqueeze") + countOps(*g, "Squeeze") + countOps(*g, "Reshape"), 0);
}
