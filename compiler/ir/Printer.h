// Stable text form of the IR (golden tests compare against it; `qcc inspect --ir`).
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <string>

namespace qcc {

std::string printAttribute(const Attribute &a);
std::string printGraph(const Graph &g);

/// Structural checks: every input defined before use, every value produced
/// once, known ops, and output types that re-inference reproduces.
llvm::Error verifyGraph(const Graph &g);

} // namespace qcc
