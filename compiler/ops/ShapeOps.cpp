// Shape, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Identity, Constant, Cast.
#include "ops/OpRegistry.h"

namespace qcc {

void registerShapeOps(OpRegistry &r) {}

} // namespace qcc
