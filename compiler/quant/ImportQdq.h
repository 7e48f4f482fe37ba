// Pre-quantized models onto qcc's integer graph: QDQ (QuantizeLinear /
// DequantizeLinear around float ops) and QOperator (QLinearConv, ...) models,
// keeping the model's own scales and zero points, with ONNX Runtime's
// arithmetic (rounding "onnx").
//
// lowerQdq rewrites a loaded graph in three steps:
//  1. QDQ node units, selected as ONNX Runtime's QDQ transformer selects them
//     (DequantizeLinear on every input -> op -> one QuantizeLinear), become the
//     QOperator op ORT fuses them into: Conv -> QLinearConv, MatMul ->
//     QLinearMatMul, Gemm -> QGemm (also without a QuantizeLinear: float
//     output), Add / Mul -> QLinearAdd / QLinearMul, GlobalAveragePool,
//     Sigmoid, LeakyRelu, Concat -> their QLinear forms. A Relu or Clip between
//     the op and its QuantizeLinear becomes the output clamp (exact:
//     quantization is monotone).
//  2. Data-movement ops between a DequantizeLinear and a QuantizeLinear of the
//     same grid (MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
//     Slice, Gather, Expand, Tile, Split, ReduceMax/Min, Resize; ArgMax after a
//     DequantizeLinear) run on the integers directly, as ORT drops those pairs.
//  3. Every QOperator node lowers onto qcc integer ops (quant/QLinearLowering.h).
// Everything else stays as ORT runs it: DequantizeLinear -> float op ->
// QuantizeLinear ("float islands", listed in the stats).
//
// Deliberate differences from ORT on x86: ORT fuses int8-activation Conv and
// MatMul only on ARM (QDQIsInt8Allowed) and runs them as float islands on
// x86; qcc always fuses them (the exact integer result). AveragePool and
// Softmax units, which ORT fuses into QLinearAveragePool / QLinearSoftmax,
// stay float islands here.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <string>
#include <vector>

namespace qcc {

struct QdqImportStats {
  int units = 0;     ///< QDQ node units fused into integer ops
  int dropped = 0;   ///< data-movement ops moved onto the integers
  int lowered = 0;   ///< QOperator nodes lowered onto qcc ops (including step 1's)
  std::vector<std::string> kept;         ///< QOperator nodes keeping their own kernel, with why
  std::vector<std::string> floatIslands; ///< float ops left between DequantizeLinear and QuantizeLinear
};

/// True when `g` has QuantizeLinear / DequantizeLinear or QOperator nodes.
bool hasQuantizedOps(const Graph &g);

struct QdqImportOptions {
  /// The QDQ form of a QONNX model (quant/ImportQonnx.h): integer types of 2
  /// to 8 bits, and a unit's output type independent of its input's (ORT's
  /// int8/uint8 pairing rules are for ORT's kernels, not for QONNX). The
  /// integer lowering is the same. Conv units (and Gemm units with a float
  /// bias) also take:
  ///  - a float bias (QONNX leaves biases float or on a grid of their own):
  ///    int32 at s_x * s_w[c] when it lies on that grid (up to float32
  ///    precision). Off the grid: for a QuantizeLinear made of a QONNX Quant
  ///    (kFromQonnxQuant, at most 8 bits) the output quantizer becomes a
  ///    qcc::Threshold on the exact int32 accumulator (a QConv / QGemm with
  ///    the identity requantizer), thresholds derived in float64 from the
  ///    real value s_x * s_w[c] * acc + bias[c], so the model's arithmetic is
  ///    exact (needs weight zero points 0 and an accumulator bound below
  ///    2^31; otherwise the bias is rounded as below); for a model's own
  ///    QuantizeLinear (QCDQ) the bias is rounded onto the grid, as
  ///    onnxruntime's BiasQuantization transformer does before fusing;
  ///  - per-channel BatchNormalization / Mul / Add by constants between the
  ///    conv (gemm) and its Relu / Quant, and Gemm's alpha / beta: folded
  ///    into the per-channel weight scales and that bias, the integer weights
  ///    unchanged (a negative factor negates its channel's weights; refused
  ///    when the weight range has no negation of a weight). A channel whose
  ///    factor leaves it below 1e-6 of an output step is the constant bias;
  ///  - no Quant after it (the model's float result): the int32 accumulator
  ///    at s_x * s_w (per-tensor weights), dequantized; Transpose / Reshape /
  ///    DepthToSpace after it run on those integers.
  /// DepthToSpace joins the data-movement ops, and LeakyRelu / Sigmoid tables
  /// may change the integer type.
  bool qonnx = false;
};

/// Rewrites a pre-quantized graph onto qcc's integer ops (see above); the
/// graph is verified afterwards.
llvm::Error lowerQdq(Graph &g, QdqImportStats *stats = nullptr, const QdqImportOptions &opts = {});

} // namespace qcc
