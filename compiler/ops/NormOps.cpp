// BatchNormalization, LayerNormalization.
#include "ops/OpRegistry.h"

namespace qcc {

void registerNormOps(OpRegistry &r) {}

} // namespace qcc
