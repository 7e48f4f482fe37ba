// Layout and structure rewrites of a QONNX float graph before its Quant
// nodes are lowered (driver/ModelOptions.cpp, lowerQonnxModel), so that
// every quantized op sits between Quant nodes as quant/ImportQdq.h expects:
//
//  1. qonnx.custom_op.channels_last Conv / MaxPool become what qonnx runs:
//     Transpose to channels-first -> the standard ONNX op -> Transpose back
//     (Conv weights, stored [Cout, k..., Cin/group], are transposed once
//     as constants, keeping their quantization grid).
//  2. Data movement (Transpose, DepthToSpace) moves after the per-tensor
//     Quant / Relu / LeakyRelu that follow it (they are elementwise, so they
//     commute with it exactly), Transposes also after a nearest Resize
//     (scales permuted) and a Concat whose inputs are all transposed alike;
//     a Transpose of a Transpose composes, and inverse pairs cancel. What is
//     left are the Transposes the model needs (at its inputs and outputs).
//  3. Relu -> Mul by a positive constant becomes Mul -> Relu (exact), so
//     the Mul joins the per-channel affine ops folded into a conv.
//  4. Conv / Gemm -> LeakyRelu -> Quant (the conv's output has no grid of
//     its own before the LeakyRelu): Q(leaky(v)) = Q(relu(v)) +
//     Q(min(alpha * v, 0)) - zp for alpha > 0, so it becomes two convs on
//     the same integers, one -> Relu -> Quant, one -> Mul(alpha) ->
//     Clip(max 0) -> Quant, and an Add -> Quant on that grid (exact integer
//     addition): exact, at twice the conv's arithmetic.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

namespace qcc {

struct QonnxLayoutStats {
  int channelsLast = 0; ///< channels-last ops rewritten
  int moved = 0;        ///< data-movement ops (and Relus) moved past other ops
  int cancelled = 0;    ///< Transpose pairs composed or cancelled
  int leakySplit = 0;   ///< Conv -> LeakyRelu -> Quant split in two convs
};

llvm::Error prepareQonnxLayout(Graph &g, QonnxLayoutStats *stats = nullptr);

} // namespace qcc
