// QONNX lowering of Trunc (an integer shift with its rounding) and the average pooling brevitas exports around it.
//
// prepareQonnxTrunc runs before lowerQonnx (quant/ImportQonnx.h) and
// finishQonnxTrunc after the QDQ lowering (quant/ImportQdq.h); see
// lowerQonnxModel in driver/ModelOptions.cpp for the order.
#pragma once

#include "ir/Graph.h"
#include "quant/ImportQonnx.h"

#include <llvm/Support/Error.h>

namespace qcc {

llvm::Error prepareQonnxTrunc(Graph &g, QonnxImportStats &stats);
llvm::Error finishQonnxTrunc(Graph &g, QonnxImportStats &stats);

} // namespace qcc
