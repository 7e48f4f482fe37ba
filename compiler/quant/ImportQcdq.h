// QCDQ: sub-8-bit quantization written in standard ONNX as
//   QuantizeLinear (int8 / uint8) -> Clip(lo, hi) -> DequantizeLinear
// (qonnx's QCDQ form, brevitas' export_onnx_qcdq). The Clip on the integers
// narrows the 8-bit grid: [lo, hi] inside the range of a signed or unsigned
// N-bit integer (N < 8) makes the pair an N-bit quantizer.
//
// narrowQcdq retypes such a QuantizeLinear (and the DequantizeLinear nodes
// reading it) to int<N> by giving them an N-bit zero point, and drops the
// Clip when [lo, hi] is the whole N-bit range (QuantizeLinear saturates to
// its type). A narrower Clip (e.g. narrow [-7, 7]) stays on the N-bit
// integers, where the QDQ import folds it into the unit's output clamp.
// Exact: saturating to the N-bit range is the Clip (the reference and the
// generated entry point saturate QuantizeLinear to its N-bit type's range).
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

namespace qcc {

/// Rewrites QCDQ triples as above; returns how many quantizers it narrowed.
llvm::Expected<int> narrowQcdq(Graph &g);

} // namespace qcc
