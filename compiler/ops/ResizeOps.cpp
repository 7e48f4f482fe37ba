// Resize.
#include "ops/OpRegistry.h"

namespace qcc {

void registerResizeOps(OpRegistry &r) {}

} // namespace qcc
