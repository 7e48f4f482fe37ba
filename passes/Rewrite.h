// Matching and rewriting helpers the passes share.
//
// Passes iterate over a snapshot of node pointers (nodeList) and never free a
// node while they run: a matched node is detached (no inputs, no outputs), so
// users() no longer sees it, and runPasses' dead-code removal drops it.
#pragma once

#include "ir/Graph.h"

#include <optional>
#include <string>
#include <vector>

namespace qcc {

/// The nodes in order, as raw pointers that stay valid for the whole pass.
std::vector<Node *> nodeList(const Graph &g);

bool isGraphOutput(const Graph &g, const Value *v);
/// The only node reading `v`, or null (several readers, none, or a graph output).
Node *soleUser(const Graph &g, const Value *v);
/// v's producer when it is a default-domain `op` still in the dataflow, else null.
Node *producerIs(const Value *v, const char *op);
/// Default-domain op check.
bool isOp(const Node &n, const char *op);
/// A node with no inputs left (detached earlier in this pass).
bool isDetached(const Node &n);

/// Clears n's inputs and outputs (see the file comment).
void detachNode(Node &n);
/// Makes `producer` produce `v` in output slot `slot` (v keeps its name, so
/// graph outputs and downstream readers are untouched).
void produceInto(Node &producer, size_t slot, Value *v);
/// Replaces `out` (the output of `dying`, which is about to be detached) by
/// `in` everywhere. When `out` is a graph output its name is kept instead, by
/// making in's producer produce `out`; that needs `in` to be an unshared node
/// output. Returns false (nothing changed) when neither works.
bool forwardValue(Graph &g, const Node &dying, Value *out, Value *in);

/// Adds a new f32 constant, named uniquely from `base`.
Value *addF32Constant(Graph &g, const std::string &base, Shape shape, const std::vector<float> &data);
/// A node name no node has yet.
std::string uniqueNodeName(const Graph &g, const std::string &base);
/// Inserts a new default-domain node before `pos` and returns it.
Node *insertBefore(Graph &g, const Node *pos, std::string op, std::string name, std::vector<Value *> ins,
                   std::vector<Value *> outs);

/// A constant with exactly one element: its value.
std::optional<double> constScalar(const Value *v);
/// An f32 constant's values.
std::vector<float> constFloats(const Value *v);

/// Ops that only reinterpret the shape (no data moves): Reshape, Flatten,
/// Squeeze, Unsqueeze, Identity, and a Transpose that moves only size-1 axes.
bool isReshapeLike(const Node &n);
/// A Transpose whose non-unit axes keep their order (a reshape in disguise).
bool transposeKeepsData(const Node &n);

} // namespace qcc
