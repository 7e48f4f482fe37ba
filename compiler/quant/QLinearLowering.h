// Lowering of ONNX Runtime's QOperator ops onto qcc's integer ops.
//
//   QLinearConv, ConvInteger          -> qcc::QConv (weights minus their zero
//                                        point, input zero point folded into
//                                        the int32 bias)
//   QLinearMatMul, MatMulInteger      -> qcc::QGemm when B is a constant 2-D
//                                        matrix (otherwise the op keeps its own
//                                        integer kernel, ops/QLinearOps.cpp)
//   com.microsoft QGemm               -> qcc::QGemm [+ DequantizeLinear when the
//                                        output is float]
//   com.microsoft QLinearAdd / Mul    -> qcc::QAddFma (MLAS's x86 float32
//                                        arithmetic) / qcc::QMul
//   com.microsoft QLinearGlobalAveragePool -> qcc::QGlobalAveragePool
//   com.microsoft QLinearConcat       -> qcc::Lut per rescaled input + Concat
//   com.microsoft QLinearSigmoid / QLinearLeakyRelu -> qcc::Lut
//
// Numerics follow ONNX Runtime's CPU kernels (rounding "onnx"): float32
// multipliers computed in the same order ORT computes them (e.g.
// float(x_scale * w_scale[c]) / y_scale for QLinearConv), lookup tables built
// as ORT builds them (dequantize in float32, transform, QuantizeLinear).
// ConvInteger and MatMulInteger produce the raw int32 accumulator: their
// requantizer is the identity (rounding "single", multiplier 2^30, shift -1,
// exact for every int32).
//
// One lowering serves both the reference eval of each QOperator op (before
// the graph is lowered) and the graph pass (quant/ImportQdq.h), so a model
// computes the same integers either way.
#pragma once

#include "ir/Graph.h"
#include "quant/Requant.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/STLExtras.h>
#include <llvm/Support/Error.h>

#include <optional>
#include <string>
#include <vector>

namespace qcc {

/// Where a lowered node's input comes from.
struct LoweredInput {
  enum class Kind { NodeInput, Constant, Step } kind = Kind::NodeInput;
  size_t index = 0;  ///< input of the QOperator node, or an earlier step
  Tensor constant;   ///< Kind::Constant
  std::string name;  ///< Kind::Constant: suffix for the new value's name
};

/// One node of the replacement (op, domain and attributes in `node`; its
/// inputs and outputs are filled in when the step is materialized).
struct LoweredStep {
  Node node;
  std::vector<LoweredInput> inputs;
};

/// The replacement of one QOperator node: the last step produces its output.
struct Lowering {
  std::vector<LoweredStep> steps;
  std::optional<QuantInfo> outQuant; ///< grid of the output, recorded on the value
};

/// Input i of the node as a tensor when known (a constant in a graph, any
/// input during eval), else null.
using TensorOf = llvm::function_ref<const Tensor *(size_t)>;

/// True for the QOperator ops this module lowers (by domain and op type).
bool isQOperatorOp(const Node &n);

/// Indices of a QOperator node's scale and zero-point inputs.
std::vector<size_t> qoperatorParamInputs(const Node &n);

/// Quantization of a QLinearMatMul / MatMulInteger node: zero points of A
/// (per tensor or per row) and B (per tensor or per column), and the output
/// requantizers per column (the identity for MatMulInteger's int32 output).
struct MatMulQuant {
  std::vector<int32_t> az, bz;
  std::vector<Requant> rq;
  ElemType y = ElemType::i32();
  float yScale = 1.f;
  int32_t yz = 0;
};
llvm::Expected<MatMulQuant> matMulQuant(const Node &n, TensorOf tensorOf);

/// For QLinearMatMul / MatMulInteger: whether B is a known 2-D matrix with
/// per-tensor A zero point, so the op lowers to qcc::QGemm.
bool matMulLowersToQGemm(const Node &n, TensorOf tensorOf);

/// Builds the replacement of a QOperator node; nodeError when the node cannot
/// be lowered (a weight or parameter that is not known, an unsupported form).
llvm::Expected<Lowering> lowerQOperator(const Node &n, TensorOf tensorOf);

/// Runs a lowering on concrete tensors: the reference eval of QOperator ops.
llvm::Error evalLowering(const Node &n, const Lowering &l, llvm::ArrayRef<const Tensor *> in,
                         llvm::MutableArrayRef<Tensor> out);

/// Replaces `n` in `g` by the lowering's nodes (inserted where `n` was; the
/// last one takes over n's output value). `n` is erased.
llvm::Error applyLowering(Graph &g, Node &n, const Lowering &l);

/// ONNX Runtime's lookup table for a unary op on 8-bit data: entry v - qmin(x)
/// is QuantizeLinear(f(x_scale * (v - x_zp)), y_scale, y_zp), all in float32.
std::vector<int64_t> ortLookupTable(ElemType x, float xScale, int32_t xZp, ElemType y, float yScale, int32_t yZp,
                                    llvm::function_ref<float(float)> f);

/// ONNX QuantizeLinear of one float32 value: saturate(round_half_even(v / scale) + zp).
int32_t quantizeLinear(float v, float scale, int32_t zp, ElemType y);

} // namespace qcc
