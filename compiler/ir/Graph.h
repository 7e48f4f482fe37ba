// The qcc IR: a graph of nodes over typed values.
//
// A Value is produced by at most one node, or is a graph input, or is a constant
// (an initializer or a folded result). Nodes are kept in topological order: every
// pass that adds nodes inserts them after their producers. Attributes are
// canonical: the frontend rewrites opset-dependent forms (axes as inputs or
// attributes, Clip bounds, Pad amounts, ...) into one form, so later stages
// never look at opset numbers.
#pragma once

#include "ir/Quant.h"
#include "ir/Tensor.h"
#include "ir/Type.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace qcc {

class Node;

class Value {
public:
  std::string name;
  TensorType type;
  std::optional<QuantInfo> quant;
  std::optional<Tensor> constant; ///< set for initializers and folded values
  Node *producer = nullptr;       ///< null for graph inputs and constants

  bool isConstant() const { return constant.has_value(); }
};

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>, Tensor>;

class Node {
public:
  std::string name;   ///< ONNX node name (made unique and non-empty by the frontend)
  std::string op;     ///< op type, e.g. "Conv"
  std::string domain; ///< "" for the default ONNX domain
  std::vector<Value *> inputs;  ///< nullptr where an optional input is absent
  std::vector<Value *> outputs; ///< nullptr where an optional output is unused
  std::map<std::string, Attribute> attrs;

  Value *input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  Value *output(size_t i) const { return i < outputs.size() ? outputs[i] : nullptr; }
  bool has(const std::string &a) const { return attrs.count(a) != 0; }
  int64_t getInt(const std::string &a, int64_t dflt) const;
  float getFloat(const std::string &a, float dflt) const;
  std::string getString(const std::string &a, const std::string &dflt) const;
  std::vector<int64_t> getInts(const std::string &a, std::vector<int64_t> dflt = {}) const;
  std::vector<float> getFloats(const std::string &a, std::vector<float> dflt = {}) const;
  /// "node 'Conv_3' (Conv)" for error messages.
  std::string describe() const;
};

class Graph {
public:
  std::string name;
  std::string sourcePath;                 ///< file the graph was loaded from
  std::map<std::string, int64_t> opsets;  ///< domain -> version, as imported
  std::vector<Value *> inputs;
  std::vector<Value *> outputs;

  Value *addValue(std::string name, TensorType type);
  Value *addConstant(std::string name, Tensor t);
  /// Appends a node (callers append in topological order).
  Node *addNode(std::unique_ptr<Node> n);
  Node *addNode(std::string op, std::string name, std::vector<Value *> ins, std::vector<Value *> outs);
  Value *findValue(const std::string &name) const;
  /// A value name not used yet, derived from `base`.
  std::string uniqueName(const std::string &base) const;

  const std::vector<std::unique_ptr<Node>> &nodes() const { return nodes_; }
  const std::vector<std::unique_ptr<Value>> &values() const { return values_; }
  /// Drops nodes whose outputs nobody uses and constants nobody reads.
  void removeDeadCode();

  // ---- mutation, for passes ----
  /// Inserts `n` right before `pos` (so it may use what `pos` uses).
  Node *insertNodeBefore(const Node *pos, std::unique_ptr<Node> n);
  /// Removes `n` from the node list (its output values stay until dead-code removal).
  void eraseNode(const Node *n);
  /// Redirects every use of `from` (node inputs, graph outputs) to `to`.
  void replaceAllUsesWith(const Value *from, Value *to);
  /// Nodes that read `v`, in order.
  std::vector<Node *> users(const Value *v) const;

private:
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, Value *> byName_;
};

} // namespace qcc
