// Gemm, MatMul.
#include "ops/OpRegistry.h"

namespace qcc {

void registerGemmOps(OpRegistry &r) {}

} // namespace qcc
