// fuse-activations, with the op-support check made explicit for tests.
#pragma once

#include "passes/Pass.h"

#include <string>

namespace qcc {

/// Fuses Relu and Clip into the producer of their input (see
/// FusedActivation.h), looking through reshape-like ops. `supported(op)`
/// says whether op's float eval applies the clamp; the registered pass uses
/// fusedClampSupported.
llvm::Error fuseActivations(Graph &g, PassStats &stats, bool (*supported)(const std::string &op));

} // namespace qcc
