// ReduceMean and other reductions.
#include "ops/OpRegistry.h"

namespace qcc {

void registerReduceOps(OpRegistry &r) {}

} // namespace qcc
