// Pure data-movement ops (Slice, Gather, Split, Resize nearest, DepthToSpace,
// Tile, ...) as gathers: y[i] = x[map[i]]. The map is computed at compile time
// by running the reference kernel itself on x's element indices, so the
// generated code moves exactly the elements the integer reference moves,
// whatever the op's attributes say.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <cstdint>
#include <vector>

namespace qcc::cpp {

/// True for ops whose outputs only copy elements of input 0.
bool isIndexMapOp(const Node &n);

/// One map per output (empty for absent outputs).
llvm::Expected<std::vector<std::vector<int32_t>>> indexMapsFor(const Node &n);

} // namespace qcc::cpp
