// QONNX lowering of Trunc (an integer shift with its rounding) and the average pooling brevitas exports around it.
//
// prepareQonnxTrunc runs before lowerQonnx (quant/ImportQonnx.h) and
// finishQonnxTrunc after the QDQ lowering (quant/ImportQdq.h); see
// lowerQonnxModel in driver/ModelOptions.cpp for the order.
//
// prepare rewrites each Trunc (v1 and v2, ops/QonnxOps.cpp), together with an
// AveragePool / GlobalAveragePool feeding only it (brevitas TruncAvgPool2d,
// TruncAdaptiveAvgPool2d), whose input lies on a per-tensor integer grid
// (a Quant, or a DequantizeLinear, seen through Concat of one grid and
// data-movement ops) with scale s_q and zero point z_q:
//   QuantizeLinear(s_q, z_q) -> qcc::QTrunc (ops/TruncOps.cpp) -> DequantizeLinear
// Exactness: the float pool gives sum(q - z_q) * s_q / K and Trunc's scale is
// s_q / K (checked: the ratio must recover the integer sum A within a quarter
// step at the largest |A|), so rint(x / scale + zp) = A + zp; then
//   v1: y = round_mode((A + zp) / 2^(in_bits - out_bits)), grid (scale, zp)
//   v2: y = round_mode(clamp((A + zp) / t, min_int, max_int)), t = 2^rint(log2(out_scale / scale))
//       (log2 in float32 as numpy), grid (out_scale, zp / t)
// clamp before or after the rounding is the same (integer bounds), and the
// division by a power of two is exact in float. QTrunc computes exactly that in
// integers (round_mode of a fraction with a power-of-two denominator).
// Anything else (another producer, count_include_pad=0 with padding,
// ceil_mode, a scale that is not the sum's grid, per-channel parameters) is an
// error naming the Trunc; a Trunc behind a QONNX node not lowered yet (e.g.
// BipolarQuant) is left for checkQonnxLowered, which names that node first.
//
// finish removes the QuantizeLinear put before QTrunc once the QDQ lowering made
// it an identity (a Lut of one grid, or DequantizeLinear -> QuantizeLinear).
#pragma once

#include "ir/Graph.h"
#include "quant/ImportQonnx.h"

#include <llvm/Support/Error.h>

namespace qcc {

llvm::Error prepareQonnxTrunc(Graph &g, QonnxImportStats &stats);
llvm::Error finishQonnxTrunc(Graph &g, QonnxImportStats &stats);

} // namespace qcc
