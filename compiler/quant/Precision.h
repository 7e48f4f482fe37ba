// Bit widths a user asks for when qcc quantizes a float model:
//   --weight-bits N --act-bits M       every layer (2..16; default 8 / 8)
//   --precision NODE=W4A8              one ONNX node; W and A each optional
//                                      ("conv1=W4", "fc=A16"); A is the width of
//                                      the node's output activation.
// Weights are symmetric per channel on [-(2^(N-1)-1), 2^(N-1)-1]; activations
// use the N-bit grid (asymmetric by default). Widths up to 8 bits are held in
// 8-bit storage as the IR's int<N>; 9 to 16 bits in 16-bit storage.
#pragma once

#include "ir/Graph.h"
#include "ir/Quant.h"
#include "ir/Type.h"

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/JSON.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace qcc {

constexpr unsigned kMinBits = 2, kMaxBits = 16;

/// One node's widths; 0 means "the global width".
struct NodePrecision {
  unsigned weightBits = 0;
  unsigned actBits = 0;
  std::string str() const; ///< "W4A8", "W4", "A16"
};

/// "W4A8", "W4", "A16" (case-insensitive) -> widths, each in 2..16.
llvm::Expected<NodePrecision> parsePrecisionSpec(llvm::StringRef spec);

/// One --precision value, NODE=SPEC. Splits at the last '=' (ONNX node names
/// may hold '=', a spec never does).
llvm::Expected<std::pair<std::string, NodePrecision>> parsePrecisionOption(llvm::StringRef option);

/// Every --precision value. A node's values merge (NODE=W4, NODE=A8: W4A8);
/// contradicting ones (W4 and W2) are an error.
llvm::Expected<std::map<std::string, NodePrecision>> parsePrecisionOptions(const std::vector<std::string> &options);

/// `bits` in 2..16, or an error naming `what` (e.g. "--weight-bits").
llvm::Error checkBits(int64_t bits, llvm::StringRef what);

/// Largest weight magnitude on the symmetric N-bit grid: 2^(N-1) - 1.
int64_t weightQmax(unsigned bits);

/// Storage width of N-bit integers: 8, 16 (or 32 above 16 bits).
unsigned storageBitsFor(unsigned bits);

/// Largest |value| an integer on grid q can hold: max(|qmin|, |qmax|).
int64_t maxAbsOnGrid(const QuantInfo &q);

/// Largest |x - zero point| on grid q (how far a value can sit from real 0).
int64_t maxDistanceFromZeroPoint(const QuantInfo &q);

/// Bound on every partial sum of a QConv / QGemm output row, in any order of
/// summation: |bias| + sum_k |w_k| * maxAbsX (the input zero point is folded
/// into bias, so the raw inputs are summed).
int64_t accumulatorBound(int64_t bias, int64_t sumAbsWeights, int64_t maxAbsX);

/// A node of the model as loaded: its op and output value names.
struct NodeOrigin {
  std::string op;
  std::vector<std::string> outputs;
};
std::map<std::string, NodeOrigin> nodeOrigins(const Graph &g);

/// Checks --precision node names against the model as loaded (`loaded`: an
/// unknown name is an error) and moves the override of a node that
/// canonicalization fused away (a Relu into its Conv, a BatchNormalization
/// into its Conv) onto the node of `canonical` that now produces the fused
/// node's output; `notes` gets one line per move.
llvm::Expected<std::map<std::string, NodePrecision>>
resolvePrecisionNodes(const std::map<std::string, NodePrecision> &overrides, const std::map<std::string, NodeOrigin> &loaded,
                      const Graph &canonical, std::vector<std::string> &notes);

struct QuantizeOptions;

/// report.json "settings" entries for the widths (weight_bits, act_bits,
/// precision) and the "weights" / "activations" descriptions.
void writePrecisionSettings(const QuantizeOptions &o, llvm::json::Object &settings);

/// Reads back what writePrecisionSettings wrote (missing keys: 8 bits, no
/// overrides), so that a command re-running the quantizer from report.json
/// gets the same graph.
llvm::Error readPrecisionSettings(const llvm::json::Object &settings, QuantizeOptions &o);

} // namespace qcc
