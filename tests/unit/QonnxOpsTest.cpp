// QONNX ops (Quant, BipolarQuant, Trunc v1/v2, MultiThreshold) in the float
// interpreter. Expected values are worked out by hand from the definitions in
// the qonnx reference code (custom_op/general/intquant.py, bipolar_quant.py,
// trunc.py, multithreshold.py), never taken from qcc's output.
#include "ops/OpRegistry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace qcc;

namespace {

Tensor f32(Shape s, std::vector<float> v) {
  Tensor t(ElemType::f32(), s);
  EXPECT_EQ(t.size(), int64_t(v.size()));
  for (size_t i = 0; i < v.size(); ++i)
    t.data<float>()[i] = v[i];
  return t;
}

Tensor scalar(float v) { return f32({}, {v}); }

struct OpCase {
  std::string op = "Quant";
  std::string domain = "qonnx.custom_op.general";
  int64_t opset = 1;
  Tensor x;
  std::vector<Tensor> params; ///< constant inputs after x
  std::map<std::string, Attribute> attrs;
  bool constantParams = true;
};

/// Runs canonicalize + infer + eval of one node; returns the error text ("" on success).
std::string run(const OpCase &c, std::vector<float> &out) {
  const OpDef *def = OpRegistry::get().lookup(c.domain, c.op);
  if (!def)
    return "no such op";
  Graph g;
  auto node = std::make_unique<Node>();
  node->name = "n0";
  node->op = c.op;
  node->domain = c.domain;
  node->attrs = c.attrs;
  node->inputs.push_back(g.addValue("x", c.x.type()));
  for (size_t i = 0; i < c.params.size(); ++i) {
    const std::string name = "p" + std::to_string(i + 1);
    node->inputs.push_back(c.constantParams ? g.addConstant(name, c.params[i]) : g.addValue(name, c.params[i].type()));
  }
  node->outputs.push_back(g.addValue("y", TensorType{}));
  std::string err;
  if (def->canonicalize)
    if (auto e = def->canonicalize(*node, c.opset))
      return llvm::toString(std::move(e));
  if (auto e = def->infer(*node))
    return llvm::toString(std::move(e));
  std::vector<const Tensor *> ins{&c.x};
  for (const Tensor &p : c.params)
    ins.push_back(&p);
  std::vector<Tensor> outs(1);
  outs[0] = Tensor(node->outputs[0]->type.elem, node->outputs[0]->type.shape);
  if (auto e = def->eval(*node, ins, outs))
    return llvm::toString(std::move(e));
  EXPECT_EQ(outs[0].shape(), c.x.shape());
  out.assign(outs[0].data<float>(), outs[0].data<float>() + outs[0].size());
  return "";
}

std::vector<float> runOk(const OpCase &c) {
  std::vector<float> out;
  std::string err = run(c, out);
  EXPECT_EQ(err, "");
  return out;
}

void expectError(const OpCase &c, const std::string &needle) {
  std::vector<float> out;
  std::string err = run(c, out);
  EXPECT_NE(err.find("node 'n0'"), std::string::npos) << err;
  EXPECT_NE(err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << err;
}

OpCase quant(Tensor x, float scale, float zp, float bits, int64_t isSigned, int64_t narrow, const char *mode) {
  OpCase c;
  c.x = std::move(x);
  c.params = {scalar(scale), scalar(zp), scalar(bits)};
  c.attrs["signed"] = isSigned;
  c.attrs["narrow"] = narrow;
  if (mode)
    c.attrs["rounding_mode"] = std::string(mode);
  return c;
}

void expectSame(const std::vector<float> &got, const std::vector<float> &want, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], want[i]) << what << " element " << i;
}

} // namespace

// Ties (.5) and negatives through every rounding mode, scale 1, int8 range.
TEST(QonnxQuant, RoundingModes) {
  const std::vector<float> x = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, -0.3f, 0.3f, -0.7f, 0.7f};
  struct ModeCase {
    const char *mode;
    std::vector<float> want;
  };
  const std::vector<ModeCase> cases = {
      {"ROUND", {-2, -2, 0, 0, 2, 2, 0, 0, -1, 1}},
      {"HALF_EVEN", {-2, -2, 0, 0, 2, 2, 0, 0, -1, 1}},
      {"CEIL", {-2, -1, 0, 1, 2, 3, 0, 1, 0, 1}},
      {"FLOOR", {-3, -2, -1, 0, 1, 2, -1, 0, -1, 0}},
      {"UP", {-3, -2, -1, 1, 2, 3, -1, 1, -1, 1}},
      {"DOWN", {-2, -1, 0, 0, 1, 2, 0, 0, 0, 0}},
      {"HALF_UP", {-3, -2, -1, 1, 2, 3, 0, 0, -1, 1}},
      {"HALF_DOWN", {-2, -1, 0, 0, 1, 2, 0, 0, -1, 1}},
      {"half_up", {-3, -2, -1, 1, 2, 3, 0, 0, -1, 1}}, // qonnx upper-cases the mode
  };
  for (const ModeCase &m : cases)
    expectSame(runOk(quant(f32({10}, x), 1.f, 0.f, 8.f, 1, 0, m.mode)), m.want, m.mode);
  // Absent rounding_mode: ROUND.
  expectSame(runOk(quant(f32({3}, {0.5f, 1.5f, -2.5f}), 1.f, 0.f, 8.f, 1, 0, nullptr)), {0, 2, -2}, "default");
}

// HALF_UP is sign(x) * floor(|x| + 0.5) in float32, op by op: the largest
// float below 0.5 plus 0.5 rounds (to even) to 1.0, so it rounds up.
TEST(QonnxQuant, HalfUpIsFloat32Arithmetic) {
  const float below = std::nextafter(0.5f, 0.f);
  expectSame(runOk(quant(f32({2}, {below, -below}), 1.f, 0.f, 8.f, 1, 0, "HALF_UP")), {1, -1}, "half_up");
  expectSame(runOk(quant(f32({2}, {below, -below}), 1.f, 0.f, 8.f, 1, 0, "ROUND")), {0, 0}, "round");
}

// Saturation at each width: [min_int, max_int] for signed, unsigned and narrow.
TEST(QonnxQuant, RangesPerBitWidth) {
  struct RangeCase {
    float bits;
    int64_t isSigned, narrow;
    float lo, hi;
  };
  const std::vector<RangeCase> cases = {
      // 1 bit unsigned: [0, 1]; narrow: [0, 0]. (1-bit signed: see OneBitSigned.)
      {1, 0, 0, 0, 1},          {1, 0, 1, 0, 0},
      {2, 1, 0, -2, 1},         {2, 1, 1, -1, 1},         {2, 0, 0, 0, 3},         {2, 0, 1, 0, 2},
      {3, 1, 0, -4, 3},         {3, 1, 1, -3, 3},         {3, 0, 0, 0, 7},         {3, 0, 1, 0, 6},
      {4, 1, 0, -8, 7},         {4, 1, 1, -7, 7},         {4, 0, 0, 0, 15},        {4, 0, 1, 0, 14},
      {8, 1, 0, -128, 127},     {8, 1, 1, -127, 127},     {8, 0, 0, 0, 255},       {8, 0, 1, 0, 254},
      {16, 1, 0, -32768, 32767}, {16, 1, 1, -32767, 32767}, {16, 0, 0, 0, 65535}, {16, 0, 1, 0, 65534},
  };
  for (const RangeCase &r : cases) {
    auto got = runOk(quant(f32({4}, {-1e6f, 1e6f, -0.4f, 0.4f}), 1.f, 0.f, r.bits, r.isSigned, r.narrow, "ROUND"));
    expectSame(got, {r.lo, r.hi, 0, 0},
               "bits " + std::to_string(r.bits) + " signed " + std::to_string(r.isSigned) + " narrow " +
                   std::to_string(r.narrow));
  }
  // 32-bit unsigned: max_int 2^32 - 1 is float32 arithmetic in qonnx (2**bw with a
  // float32 bit width) and rounds to 2^32.
  expectSame(runOk(quant(f32({1}, {1e10f}), 1.f, 0.f, 32.f, 0, 0, "ROUND")), {4294967296.f}, "u32");
}

// Absent signed / narrow: the code's default 1 (signed, narrow): 2 bits -> [-1, 1].
TEST(QonnxQuant, DefaultsSignedNarrow) {
  OpCase c = quant(f32({3}, {-5.f, 5.f, 0.6f}), 1.f, 0.f, 2.f, 1, 1, "ROUND");
  c.attrs.erase("signed");
  c.attrs.erase("narrow");
  expectSame(runOk(c), {-1, 1, 1}, "defaults");
}

// 1-bit signed: y = x/s + z >= 0 ? 1 : -1, whatever narrow and rounding_mode say.
TEST(QonnxQuant, OneBitSigned) {
  const std::vector<float> x = {-0.1f, 0.f, 0.1f, -5.f, 5.f};
  for (int64_t narrow : {0, 1})
    for (const char *mode : {"ROUND", "FLOOR", "UP"})
      expectSame(runOk(quant(f32({5}, x), 0.5f, 0.f, 1.f, 1, narrow, mode)), {-0.5f, 0.5f, 0.5f, -0.5f, 0.5f}, mode);
  // With a zero point the comparison is on x/s + z and the output (y - z) * s.
  // s = 0.5, z = 2: -1 -> -2 + 2 = 0 -> 1 -> (1 - 2) * 0.5; -1.5 -> -1 -> -1 -> (-1 - 2) * 0.5.
  expectSame(runOk(quant(f32({2}, {-1.f, -1.5f}), 0.5f, 2.f, 1.f, 1, 0, "ROUND")), {-0.5f, -1.5f}, "zp");
}

// Scale and zero point: y = clamp(round(x/s + z)) ; out = (y - z) * s.
TEST(QonnxQuant, ScaleAndZeroPoint) {
  // 4-bit unsigned [0, 15], s = 0.25, z = 2:
  //  0.26 -> 1.04 + 2 = 3.04 -> 3 -> 0.25;  -0.26 -> 0.96 -> 1 -> -0.25;  1 -> 6 -> 1;
  //  10 -> 42 -> 15 -> 3.25;  -10 -> -38 -> 0 -> -0.5
  expectSame(runOk(quant(f32({5}, {0.26f, -0.26f, 1.f, 10.f, -10.f}), 0.25f, 2.f, 4.f, 0, 0, "ROUND")),
             {0.25f, -0.25f, 1.f, 3.25f, -0.5f}, "zp");
}

// Per-channel scale broadcast numpy-style ([1, 2, 1] against [1, 2, 2]).
TEST(QonnxQuant, PerChannelScale) {
  OpCase c = quant(f32({1, 2, 2}, {1, 2, 3, 4}), 1.f, 0.f, 8.f, 1, 1, "ROUND");
  c.params[0] = f32({1, 2, 1}, {0.5f, 2.f});
  // 1/0.5 = 2 -> 1; 2/0.5 = 4 -> 2; 3/2 = 1.5 -> 2 -> 4; 4/2 = 2 -> 4
  expectSame(runOk(c), {1, 2, 4, 4}, "per channel");
  // [2, 1, 1] weights-style scale over [2, 1, 2].
  OpCase w = quant(f32({2, 1, 2}, {0.3f, -0.3f, 0.3f, -0.3f}), 1.f, 0.f, 4.f, 1, 1, "ROUND");
  w.params[0] = f32({2, 1, 1}, {0.25f, 0.1f});
  // 0.3/0.25 = 1.2 -> 1 -> 0.25; 0.3/0.1 = 3 (float32: 2.9999998) -> 3 -> 0.3
  auto got = runOk(w);
  expectSame(got, {0.25f, -0.25f, float(3.f * 0.1f), -float(3.f * 0.1f)}, "weights");
}

TEST(QonnxQuant, BadOperands) {
  OpCase c = quant(f32({2}, {1, 2}), 1.f, 0.f, 2.5f, 1, 0, "ROUND");
  expectError(c, "not an integer");
  expectError(quant(f32({2}, {1, 2}), 1.f, 0.f, 0.f, 1, 0, "ROUND"), "1 to 32");
  expectError(quant(f32({2}, {1, 2}), 1.f, 0.f, 33.f, 1, 0, "ROUND"), "1 to 32");
  expectError(quant(f32({2}, {1, 2}), 0.f, 0.f, 8.f, 1, 0, "ROUND"), "positive");
  expectError(quant(f32({2}, {1, 2}), -1.f, 0.f, 8.f, 1, 0, "ROUND"), "positive");
  expectError(quant(f32({2}, {1, 2}), INFINITY, 0.f, 8.f, 1, 0, "ROUND"), "positive");
  expectError(quant(f32({2}, {1, 2}), 1.f, NAN, 8.f, 1, 0, "ROUND"), "finite");
  expectError(quant(f32({2}, {1, 2}), 1.f, 0.f, 8.f, 1, 0, "STOCHASTIC"), "unknown rounding_mode");
  OpCase pc = quant(f32({1, 3, 2}, {1, 2, 3, 4, 5, 6}), 1.f, 0.f, 8.f, 1, 0, "ROUND");
  pc.params[0] = f32({1, 2, 1}, {1, 1});
  expectError(pc, "does not broadcast");
  OpCase dyn = quant(f32({2}, {1, 2}), 1.f, 0.f, 8.f, 1, 0, "ROUND");
  dyn.constantParams = false;
  expectError(dyn, "must be a constant");
}

TEST(QonnxBipolarQuant, SignTimesScale) {
  OpCase c;
  c.op = "BipolarQuant";
  c.domain = "onnx.brevitas";
  c.x = f32({5}, {-1.f, -0.f, 0.f, 0.5f, NAN});
  c.params = {scalar(2.f)};
  // x >= 0 ? 1 : -1 (-0 >= 0 holds; NaN compares false) times the scale.
  expectSame(runOk(c), {-2, 2, 2, 2, -2}, "bipolar");
  c.params.push_back(scalar(0.f));
  expectError(c, "no zero point");
}

namespace {
OpCase truncV1(std::vector<float> x, float scale, float zp, float inBits, float outBits, const char *mode) {
  OpCase c;
  c.op = "Trunc";
  c.x = f32({int64_t(x.size())}, x);
  c.params = {scalar(scale), scalar(zp), scalar(inBits), scalar(outBits)};
  if (mode)
    c.attrs["rounding_mode"] = std::string(mode);
  return c;
}
OpCase truncV2(std::vector<float> x, float scale, float zp, float inBits, float outScale, float outBits,
               const char *mode, int64_t isSigned, int64_t narrow) {
  OpCase c;
  c.op = "Trunc";
  c.opset = 2;
  c.x = f32({int64_t(x.size())}, x);
  c.params = {scalar(scale), scalar(zp), scalar(inBits), scalar(outScale), scalar(outBits)};
  if (mode)
    c.attrs["rounding_mode"] = std::string(mode);
  c.attrs["signed"] = isSigned;
  c.attrs["narrow"] = narrow;
  return c;
}
} // namespace

// v1: y = mode(rint(x/s + z) / 2^(in - out)); out = (y - z) * s (scale unchanged).
TEST(QonnxTrunc, Version1) {
  // 8 -> 4 bits: divide by 16. 37/16 = 2.3125, -37/16 = -2.3125, 40/16 = 2.5, 8/16 = 0.5;
  // 36.5 rounds (half even) to 36 first: 2.25.
  const std::vector<float> x = {37, -37, 40, 8, 36.5f};
  expectSame(runOk(truncV1(x, 1.f, 0.f, 8.f, 4.f, nullptr)), {2, -3, 2, 0, 2}, "floor (default)");
  expectSame(runOk(truncV1(x, 1.f, 0.f, 8.f, 4.f, "ROUND")), {2, -2, 2, 0, 2}, "round");
  expectSame(runOk(truncV1(x, 1.f, 0.f, 8.f, 4.f, "CEIL")), {3, -2, 3, 1, 3}, "ceil");
  expectSame(runOk(truncV1(x, 1.f, 0.f, 8.f, 4.f, "HALF_UP")), {2, -2, 3, 1, 2}, "half_up");
  // s = 0.5: 18.5 -> 37 -> 2 -> 1.0. z = 3: 18.5 -> 40 -> 2.5 -> 2 -> (2 - 3) * 0.5.
  expectSame(runOk(truncV1({18.5f}, 0.5f, 0.f, 8.f, 4.f, "FLOOR")), {1.f}, "scale");
  expectSame(runOk(truncV1({18.5f}, 0.5f, 3.f, 8.f, 4.f, "FLOOR")), {-0.5f}, "zero point");
  // A 6-input Trunc at opset 1 is an error (that is Trunc version 2).
  OpCase six = truncV2({1.f}, 1.f, 0.f, 8.f, 16.f, 4.f, "FLOOR", 1, 0);
  six.opset = 1;
  six.attrs.erase("signed");
  six.attrs.erase("narrow");
  expectError(six, "takes 5 inputs");
}

// v2: t = 2^rint(log2(os/s)); y = mode(clamp(rint(x/s + z) / t)); out = (y - z/t) * os.
TEST(QonnxTrunc, Version2) {
  // s = 0.5, os = 8: t = 16. 18.5 -> 37 -> 2.3125 -> 2 -> 16; -18.5 -> -3 -> -24;
  // 100 -> 200/16 = 12.5 -> clamp 7 -> 56; -100 -> -12.5 -> clamp -8 -> -64.
  // Unsigned [0, 15]: -18.5 clamps to 0; 12.5 is in range and floors to 12 -> 96.
  const std::vector<float> x = {18.5f, -18.5f, 100.f, -100.f};
  expectSame(runOk(truncV2(x, 0.5f, 0.f, 8.f, 8.f, 4.f, "FLOOR", 1, 0)), {16, -24, 56, -64}, "signed");
  expectSame(runOk(truncV2(x, 0.5f, 0.f, 8.f, 8.f, 4.f, "FLOOR", 1, 1)), {16, -24, 56, -56}, "narrow");
  expectSame(runOk(truncV2(x, 0.5f, 0.f, 8.f, 8.f, 4.f, "FLOOR", 0, 0)), {16, 0, 96, 0}, "unsigned");
  // os/s = 12 is not a power of two: log2 = 3.58 rounds to 4, t = 16 again.
  expectSame(runOk(truncV2(x, 0.5f, 0.f, 8.f, 6.f, 4.f, "FLOOR", 1, 0)), {12, -18, 42, -48}, "os 6");
  // z = 2: 18.5 -> 39 -> 2.4375 -> 2; output zero point 2/16 = 0.125: (2 - 0.125) * 8 = 15.
  expectSame(runOk(truncV2({18.5f}, 0.5f, 2.f, 8.f, 8.f, 4.f, "FLOOR", 1, 0)), {15.f}, "zp");
  // Defaults: rounding FLOOR, signed 1, narrow 0.
  OpCase d = truncV2(x, 0.5f, 0.f, 8.f, 8.f, 4.f, nullptr, 1, 0);
  d.attrs.clear();
  expectSame(runOk(d), {16, -24, 56, -64}, "defaults");
  OpCase bad = truncV2(x, 0.5f, 0.f, 8.f, 8.f, 4.f, "FLOOR", 2, 0);
  expectError(bad, "must be 0 or 1");
  expectError(truncV2(x, 0.5f, 0.f, 8.f, 0.f, 4.f, "FLOOR", 1, 0), "positive");
}

namespace {
OpCase multiThreshold(Tensor x, Tensor thr, float scale, float bias, const char *layout) {
  OpCase c;
  c.op = "MultiThreshold";
  c.domain = "finn.custom_op.general";
  c.x = std::move(x);
  c.params = {std::move(thr)};
  c.attrs["out_dtype"] = std::string("UINT2");
  c.attrs["out_scale"] = scale;
  c.attrs["out_bias"] = bias;
  if (layout)
    c.attrs["data_layout"] = std::string(layout);
  return c;
}
} // namespace

// out = out_scale * #{t : x >= t} + out_bias, thresholds per channel.
TEST(QonnxMultiThreshold, PerChannel) {
  const Tensor thr = f32({2, 3}, {0, 1, 2, -1, 0, 10});
  // NCHW [1, 2, 1, 2]: c0 {-0.5, 1.0} -> counts {0, 2}; c1 {-1, 5} -> {1, 2}; * 2 - 1.
  expectSame(runOk(multiThreshold(f32({1, 2, 1, 2}, {-0.5f, 1.f, -1.f, 5.f}), thr, 2.f, -1.f, nullptr)),
             {-1, 3, 1, 3}, "nchw");
  // NHWC [1, 1, 2, 2]: channel is the last axis.
  expectSame(runOk(multiThreshold(f32({1, 1, 2, 2}, {-0.5f, -1.f, 1.f, 5.f}), thr, 2.f, -1.f, "NHWC")),
             {-1, 1, 3, 3}, "nhwc");
  // Rank 3 without data_layout: qonnx guesses NWC (channel axis 2).
  expectSame(runOk(multiThreshold(f32({1, 2, 2}, {-0.5f, -1.f, 1.f, 5.f}), thr, 1.f, 0.f, nullptr)), {0, 1, 2, 2},
             "nwc");
  // One row of thresholds for every channel; x equal to a threshold counts.
  expectSame(runOk(multiThreshold(f32({1, 2}, {1.f, 0.999f}), f32({1, 3}, {0, 1, 2}), 1.f, 0.f, nullptr)), {2, 1},
             "global");
  OpCase bad = multiThreshold(f32({1, 3}, {0, 0, 0}), thr, 1.f, 0.f, nullptr);
  expectError(bad, "thresholds have 2 rows");
  OpCase dt = multiThreshold(f32({1, 2}, {0, 0}), thr, 1.f, 0.f, nullptr);
  dt.attrs["out_dtype"] = std::string("INT4X");
  expectError(dt, "unknown out_dtype");
}

// Registered in all three domains.
TEST(QonnxOps, Domains) {
  for (const char *d : {"onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general"})
    for (const char *op : {"Quant", "BipolarQuant", "Trunc", "MultiThreshold"})
      EXPECT_NE(OpRegistry::get().lookup(d, op), nullptr) << d << " " << op;
  for (const char *op : {"Conv", "MaxPool", "BatchNormalization"})
    EXPECT_NE(OpRegistry::get().lookup("qonnx.custom_op.channels_last", op), nullptr) << op;
}
