// QONNX lowering of BipolarQuant, MultiThreshold and Quant with rounding modes
// other than ROUND / HALF_EVEN (and 1-bit Quant) onto qcc::Threshold
// (ops/ThresholdOps.cpp): y = base + step * #{i : x >= t[c][i]} on integers.
//
// prepareQonnxThresholds (before lowerQonnx, quant/ImportQonnx.h):
//  - a float weight of Conv / Gemm / MatMul whose values are all +-s_c (a
//    folded BipolarQuant or 1-bit Quant) gets the grid s_c * {-1, +1}, so its
//    integers are recovered like those of a folded Quant;
//  - each such quantizer on an activation becomes
//      qcc::PendingThreshold(x) -> int  ->  DequantizeLinear(sigma, zp)
//    where the integer levels and the grid reproduce the quantizer's float
//    output bit for bit: BipolarQuant: {-1, +1} * s; Quant: qonnx's integer y
//    on (scale, zero point) (1-bit signed: {-1, +1}); MultiThreshold:
//    base + step * count on a grid chosen so that float32(out_scale * count +
//    out_bias) == float(y) * sigma for every count (else not lowered).
//    Consumers then fuse with the DequantizeLinear (quant/ImportQdq.h) as
//    with any quantized tensor.
// finishQonnxThresholds (after the QDQ lowering) gives every pending node an
// integer input and thresholds, by where its float input comes from (a Relu,
// or a fused act_min / act_max clamp, in between is folded in):
//  - a DequantizeLinear of integers q: the float value is float(q - z) * s
//    exactly as qonnx's upstream Quant produced it, and the count is qonnx's
//    float32 arithmetic on it, so the thresholds reproduce qonnx bit for bit;
//  - a Conv / Gemm / MatMul of a per-tensor quantized input (<= 8 bits) and
//    weights on a symmetric grid: a qcc::QConv / QGemm producing the int32
//    accumulator (identity requantization, the input zero point folded into
//    its bias); the real value alpha * s_x * s_w[c] * acc + bias[c] is
//    evaluated in float64 (s_x * s_w is exact there); a float bias needs no
//    grid, it moves into the thresholds. The accumulator's exact range bounds
//    the search and must fit int32;
//  - an Add of two per-tensor quantized tensors of one scale s (a residual):
//    qcc::QAddFma with ratios 1 gives the exact integer sum (int16); the real
//    value is s * sum;
//  - a graph input: a QuantizeLinear fine enough to place every threshold:
//    scale FLT_MIN into int8 when all thresholds sit at 0 (BipolarQuant: exact
//    except that negative denormals count as >= 0 and NaN as 0, where qonnx
//    gives -1), else 2^-30 of the largest threshold into int32 (inputs within
//    half that step of a threshold may land on its other side).
// Thresholds: per row (channel) and level k, the least integer whose count
// reaches k (binary search over the integer range; every count here is
// monotone in its input), int32 [C or 1, B]; identical rows collapse to one.
// Anything else (a per-channel activation scale, > 8-bit Quant with another
// rounding mode, a float producer that is not one of the above) is an error
// naming the node. Differences to qonnx's executor come only from its float32
// conv / gemm sums where the real value is exactly on a threshold (e.g. an
// accumulator of 0 before a sign): there qonnx's rounding noise decides, the
// integer graph takes the exact value.
#pragma once

#include "ir/Graph.h"
#include "quant/ImportQonnx.h"

#include <llvm/Support/Error.h>

namespace qcc {

/// Folded BipolarQuant / 1-bit weights carry no grid: a float weight of
/// Conv / Gemm / MatMul whose values are all +-s_c (per output channel) is
/// exactly s_c * {-1, +1}; record that grid (Value::quant) so the integers are
/// recovered like those of a folded Quant. Idempotent; prepareQonnxThresholds
/// calls it, and lowerQonnxModel before it quantizes weights the model left float.
void markBipolarWeights(Graph &g);

llvm::Error prepareQonnxThresholds(Graph &g, QonnxImportStats &stats);
llvm::Error finishQonnxThresholds(Graph &g, QonnxImportStats &stats);

} // namespace qcc
