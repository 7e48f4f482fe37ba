// QONNX quantizers onto the QDQ form qcc already lowers to integers.
//
// lowerQonnx rewrites every Quant node (domains onnx.brevitas,
// qonnx.custom_op.general, finn.custom_op.general) on a non-constant input,
// with a constant integer bit width of 2..8, an integer zero point, rounding
// ROUND / HALF_EVEN, and a per-tensor or single-axis per-channel scale, into
//   QuantizeLinear(x, s, z) -> int<bits>   [-> Clip(lo, hi) on the integers]
//   -> DequantizeLinear(., s, z)
// where [lo, hi] is qonnx's range for (signed, narrow, bits) (intquant.py:
// min_int / max_int). The Clip is only there when that range is narrower
// than the integer type's (narrow, or a sub-8-bit quantizer on a graph input,
// which is quantized to 8-bit storage because the generated float entry point
// saturates inputs to their storage type). quant/ImportQdq.h then fuses the
// result with the surrounding float ops into qcc's integer ops.
//
// Quant on constants (weights) never reaches this pass: the loader folds it,
// and Quant's canonicalize (ops/QonnxOps.cpp) records the grid on the folded
// value, from which ImportQdq recovers the integers exactly as it does for a
// folded DequantizeLinear.
//
// Exactness (qonnx: y = rint(clamp(float32(x / s) + z, lo, hi)); QDQ:
// y = clamp(rint(float32(x / s)) + z, lo, hi)):
//  - clamp-then-round equals round-then-clamp because lo and hi are integers
//    and rint is monotone;
//  - with z == 0 the two are identical; with another even z they are
//    identical unless float32(x / s) + z rounds onto a .5 tie (x / s within
//    half a float32 ulp of x / s + z from a tie, about 2^-22 of all values):
//    one step at most;
//  - with an odd z they differ at exact ties: x / s = k + 0.5 rounds half to
//    even before z is added here, after it in qonnx, one step apart. Ties of
//    real inputs are rare (x / s must be exactly k + 0.5); inside the integer
//    graph the same holds for the requantized outputs of QConv / QGemm /
//    QAddFma, which round the rescaled accumulator and then add z;
//  - NaN: qonnx propagates NaN, QuantizeLinear gives the zero point.
// Everything else (other rounding modes, 1-bit / BipolarQuant, Trunc,
// MultiThreshold, non-integer zero points, > 8 bits) is left in the graph;
// checkQonnxLowered reports it.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <string>
#include <vector>

namespace qcc {

struct QonnxImportStats {
  int quant = 0;                       ///< Quant nodes rewritten to QDQ
  std::vector<std::string> unlowered;  ///< QONNX nodes left, with why
};

/// True for a node of a QONNX domain (Quant, BipolarQuant, Trunc, MultiThreshold).
bool isQonnxNode(const Node &n);

/// True when `g` still has QONNX nodes.
bool hasQonnxOps(const Graph &g);

/// Attribute foldInputRelu puts on a Quant: its input had a Relu, so its
/// integer range starts at the zero point.
inline constexpr const char *kReluFolded = "qcc_relu_folded";

/// Attribute lowerQonnx puts on each QuantizeLinear it makes of a Quant: the
/// QDQ import (quant/ImportQdq.h) then follows qonnx's float semantics for
/// that quantizer (a folded float bias is not rounded onto the accumulator
/// grid), where for a model's own QuantizeLinear it follows ONNX Runtime
/// (which rounds it). lowerQdq removes the attribute.
inline constexpr const char *kFromQonnxQuant = "qcc_qonnx_quant";

/// Graph input -> Relu -> Quant (ESPCN): Q(relu(x)) = max(Q(x), Q(0)) (Q is
/// monotone), so the Quant reads the input and its integer Clip starts at
/// the zero point. Returns how many were folded. Call before lowerQonnx.
int foldInputRelu(Graph &g);

/// Rewrites Quant nodes into QuantizeLinear [+ Clip] + DequantizeLinear (see above).
llvm::Error lowerQonnx(Graph &g, QonnxImportStats *stats = nullptr);

/// Error naming the first QONNX node (and its op) still in `g`, with why it
/// was not lowered: qcc compiles integer graphs only.
llvm::Error checkQonnxLowered(const Graph &g, const QonnxImportStats *stats = nullptr);

} // namespace qcc
