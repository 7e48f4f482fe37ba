// The op registry: one OpDef per supported (domain, op type).
//
// Each op family lives in its own file (ConvOps.cpp, PoolOps.cpp, ...) and
// registers its ops from a register*Ops function listed in OpRegistry.cpp.
//   canonicalize: rewrite opset-dependent forms into the one form the IR keeps
//                 (e.g. constant `axes` inputs become an `axes` attribute).
//   infer:        set output types (element type and static shape).
//   eval:         the float reference kernel; outputs are preallocated by the
//                 interpreter from the inferred types.
//   macs:         multiply-accumulates of one run, for `qcc inspect`.
#pragma once

#include "ir/Graph.h"
#include "support/Error.h"

#include <llvm/ADT/ArrayRef.h>

#include <string>

namespace qcc {

struct OpDef {
  std::string op;
  std::string domain; ///< "" for ai.onnx
  llvm::Error (*canonicalize)(Node &n, int64_t opset) = nullptr;
  llvm::Error (*infer)(Node &n) = nullptr;
  llvm::Error (*eval)(const Node &n, llvm::ArrayRef<const Tensor *> in,
                      llvm::MutableArrayRef<Tensor> out) = nullptr;
  int64_t (*macs)(const Node &n) = nullptr;
  /// Folded at import even when inputs are not constant (Shape, Size: they
  /// only read static types).
  bool foldFromTypes = false;
  /// Oldest opset whose meaning of this op is implemented.
  int64_t minOpset = 1;
};

class OpRegistry {
public:
  static const OpRegistry &get();
  const OpDef *lookup(const std::string &domain, const std::string &op) const;
  bool knowsDomain(const std::string &domain) const;
  std::vector<const OpDef *> all() const;

  void add(OpDef def);

private:
  std::vector<OpDef> defs_;
};

// ---- helpers shared by op implementations --------------------------------

/// Checks the number of inputs (counting absent optional ones at the end).
llvm::Error expectInputs(const Node &n, size_t min, size_t max);
/// Input i must exist and be constant; returns its values as int64.
llvm::Expected<std::vector<int64_t>> constInts(const Node &n, size_t i);
/// Input i must exist and be a constant scalar (or 1-element tensor).
llvm::Expected<double> constScalar(const Node &n, size_t i);
/// Drops inputs from index `from` on (after their content moved to attributes).
void dropInputs(Node &n, size_t from);
/// Normalises a possibly negative axis for a tensor of rank r.
llvm::Expected<int64_t> normAxis(const Node &n, int64_t axis, int64_t rank);
/// Numpy-style broadcast of two shapes.
llvm::Expected<Shape> broadcastShapes(const Node &n, const Shape &a, const Shape &b);
/// Applies a fused activation clamp (attributes act_min / act_max, see
/// passes/FusedActivation.h) to an f32 output: y = min(max(y, act_min), act_max).
/// Conv, ConvTranspose, Gemm, MatMul and Add call it at the end of their eval.
void applyFusedClamp(const Node &n, Tensor &y);
/// Sets output i's type.
void setOutput(Node &n, size_t i, ElemType e, Shape s);
const TensorType &inType(const Node &n, size_t i);

// Family registration (one per file).
void registerElementwiseOps(OpRegistry &r);
void registerActivationOps(OpRegistry &r);
void registerConvOps(OpRegistry &r);
void registerGemmOps(OpRegistry &r);
void registerPoolOps(OpRegistry &r);
void registerNormOps(OpRegistry &r);
void registerReduceOps(OpRegistry &r);
void registerShapeOps(OpRegistry &r);
void registerTensorOps(OpRegistry &r);
void registerResizeOps(OpRegistry &r);
void registerQuantOps(OpRegistry &r);
void registerQLinearOps(OpRegistry &r);
void registerQonnxOps(OpRegistry &r);
void registerThresholdOps(OpRegistry &r);
void registerTruncOps(OpRegistry &r);

} // namespace qcc
