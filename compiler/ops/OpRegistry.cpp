#include "ops/OpRegistry.h"

#include <cmath>

namespace qcc {

const OpRegistry &OpRegistry::get() {
  static const OpRegistry reg = [] {
    OpRegistry r;
    registerElementwiseOps(r);
    registerActivationOps(r);
    registerConvOps(r);
    registerGemmOps(r);
    registerPoolOps(r);
    registerNormOps(r);
    registerReduceOps(r);
    registerShapeOps(r);
    registerTensorOps(r);
    registerResizeOps(r);
    registerQuantOps(r);
    registerQLinearOps(r);
    registerQonnxOps(r);
    registerThresholdOps(r);
    registerTruncOps(r);
    return r;
  }();
  return reg;
}

void OpRegistry::add(OpDef def) { defs_.push_back(std::move(def)); }

const OpDef *OpRegistry::lookup(const std::string &domain, const std::string &op) const {
  std::string d = domain == "ai.onnx" ? "" : domain;
  for (const OpDef &def : defs_)
    if (def.op == op && def.domain == d)
      return &def;
  return nullptr;
}

bool OpRegistry::knowsDomain(const std::string &domain) const {
  std::string d = domain == "ai.onnx" ? "" : domain;
  for (const OpDef &def : defs_)
    if (def.domain == d)
      return true;
  return false;
}

std::vector<const OpDef *> OpRegistry::all() const {
  std::vector<const OpDef *> v;
  for (const OpDef &d : defs_)
    v.push_back(&d);
  return v;
}

llvm::Error expectInputs(const Node &n, size_t min, size_t max) {
  size_t count = n.inputs.size();
  while (count > 0 && !n.inputs[count - 1])
    --count;
  if (count < min || count > max)
    return nodeError(n, "expects {} to {} inputs, has {}", min, max, count);
  for (size_t i = 0; i < min; ++i)
    if (!n.inputs[i])
      return nodeError(n, "required input {} is missing", i);
  return llvm::Error::success();
}

llvm::Expected<std::vector<int64_t>> constInts(const Node &n, size_t i) {
  Value *v = n.input(i);
  if (!v)
    return nodeError(n, "input {} is missing", i);
  if (!v->isConstant())
    return nodeError(n, "input {} ('{}') must be a constant (an initializer or computable "
                        "from static shapes); qcc compiles static graphs",
                     i, v->name);
  return v->constant->toInts();
}

llvm::Expected<double> constScalar(const Node &n, size_t i) {
  Value *v = n.input(i);
  if (!v || !v->isConstant())
    return nodeError(n, "input {} must be a constant scalar", i);
  if (v->constant->size() != 1)
    return nodeError(n, "input {} ('{}') must hold one value, has {}", i, v->name,
                     v->constant->size());
  return v->constant->getDouble(0);
}

void dropInputs(Node &n, size_t from) {
  if (n.inputs.size() > from)
    n.inputs.resize(from);
}

llvm::Expected<int64_t> normAxis(const Node &n, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    return nodeError(n, "axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}

llvm::Expected<Shape> broadcastShapes(const Node &n, const Shape &a, const Shape &b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return nodeError(n, "shapes [{}] and [{}] do not broadcast", fmt::join(a, ","),
                       fmt::join(b, ","));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void applyFusedClamp(const Node &n, Tensor &y) {
  if ((!n.has("act_min") && !n.has("act_max")) || y.elem() != ElemType::f32())
    return;
  const float lo = n.getFloat("act_min", -INFINITY), hi = n.getFloat("act_max", INFINITY);
  float *p = y.data<float>();
  for (int64_t i = 0; i < y.size(); ++i) {
    const float v = p[i] < lo ? lo : p[i]; // same order as Clip: NaN passes through
    p[i] = v > hi ? hi : v;
  }
}

void setOutput(Node &n, size_t i, ElemType e, Shape s) {
  if (Value *v = n.output(i))
    v->type = TensorType{e, std::move(s)};
}

const TensorType &inType(const Node &n, size_t i) { return n.inputs[i]->type; }

} // namespace qcc
