// QONNX lowering of BipolarQuant, MultiThreshold and Quant with rounding modes other than ROUND / HALF_EVEN (threshold arithmetic).
//
// prepareQonnxThresholds runs before lowerQonnx (quant/ImportQonnx.h) and
// finishQonnxThresholds after the QDQ lowering (quant/ImportQdq.h); see
// lowerQonnxModel in driver/ModelOptions.cpp for the order.
#pragma once

#include "ir/Graph.h"
#include "quant/ImportQonnx.h"

#include <llvm/Support/Error.h>

namespace qcc {

llvm::Error prepareQonnxThresholds(Graph &g, QonnxImportStats &stats);
llvm::Error finishQonnxThresholds(Graph &g, QonnxImportStats &stats);

} // namespace qcc
