// Conv, ConvTranspose.
#include "ops/OpRegistry.h"

namespace qcc {

void registerConvOps(OpRegistry &r) {}

} // namespace qcc
