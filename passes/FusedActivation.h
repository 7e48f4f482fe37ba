// The fused-activation convention: how `fuse-activations` records a clamp on
// the op that produces the activation's input, and how later stages read it.
//
// A node carrying
//   act_min : f32   lower bound (-inf when unbounded below)
//   act_max : f32   upper bound (+inf when unbounded above)
//   activation : string   what was fused ("Relu", "Clip", "Relu+Clip"), for
//                         readers of the IR and the report only
// computes   y = min(max(op(x), act_min), act_max)   after everything the op
// itself does (bias, alpha/beta), exactly like a following Clip{min, max}: a
// value below act_min becomes act_min, then a value above act_max becomes
// act_max (NaN passes through, as in Clip). The two bounds are always both
// present and act_min <= act_max.
//
// Why a clamp only: a quantizer folds it into the requantization clamp of the
// producer's integer output (qmin' = max(qmin, q(act_min)), qmax' = min(qmax,
// q(act_max))), which is exact; LeakyRelu, PRelu, HardSwish etc. are not
// clamps and stay separate ops.
//
// The producer ops (Conv, ConvTranspose, Gemm, MatMul, Add) must apply the
// clamp in their float eval for the float interpreter to compute the fused
// graph; fusedClampSupported() checks this at run time by evaluating a tiny
// node, so the pass fuses only into ops that honour the attributes.
#pragma once

#include "ir/Graph.h"

#include <optional>
#include <string>

namespace qcc {

inline constexpr const char *kActMin = "act_min";
inline constexpr const char *kActMax = "act_max";
inline constexpr const char *kActivation = "activation";

struct ClampRange {
  float lo, hi;
};

/// The clamp fused into n, if any.
std::optional<ClampRange> fusedClamp(const Node &n);
/// Records (or narrows) the clamp on n; `what` names the fused op.
void setFusedClamp(Node &n, ClampRange r, const std::string &what);

/// Ops an activation may be fused into (by kind; the pass checks the rest).
bool isFusionProducer(const Node &n);
/// Whether op's float eval applies act_min/act_max (probed once per op type).
bool fusedClampSupported(const std::string &op);

} // namespace qcc
