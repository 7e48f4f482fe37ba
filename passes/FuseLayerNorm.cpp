// fuse-layernorm: the decomposed layer normalization that older exporters emit
//   mean = ReduceMean(x, axes)        d = Sub(x, mean)
//   var  = ReduceMean(Pow(d, 2) | Mul(d, d), axes)
//   y    = Div(d, Sqrt(Add(var, eps)))  [ -> Mul(y, gamma) ] [ -> Add(y, beta) ]
// over trailing axes [a, rank) with keepdims, becomes one
//   LayerNormalization(x, gamma, beta) {axis = a, epsilon = eps}
// (axis is stored non-negative, the IR's canonical form). gamma and beta must be
// f32 constants that vary only along the normalized axes; without a Mul, gamma
// is a constant of ones; without an Add, there is no B input. Every
// intermediate value must be read only inside the pattern. The node is named
// after the pattern's common name prefix ("/layer/norm1/LayerNormalization").
#include "passes/Pass.h"
#include "passes/Rewrite.h"

#include <algorithm>
#include <cmath>

namespace qcc {

namespace {

/// A constant whose broadcast varies only along axes >= a of a rank-r tensor.
bool isNormParam(const Value *p, int64_t a, int64_t r) {
  if (!p || !p->isConstant() || p->type.elem != ElemType::f32() || p->type.rank() > r)
    return false;
  const Shape &s = p->type.shape;
  const int64_t offset = r - int64_t(s.size()); // right-aligned
  for (int64_t i = 0; i < int64_t(s.size()); ++i)
    if (i + offset < a && s[size_t(i)] != 1)
      return false;
  return true;
}

/// The first axis of `axes` when they are exactly the trailing axes [a, r).
std::optional<int64_t> trailingAxes(const Node &reduce, int64_t r) {
  if (reduce.getInt("keepdims", 1) != 1)
    return std::nullopt;
  std::vector<int64_t> axes = reduce.getInts("axes");
  if (axes.empty())
    return std::nullopt;
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != r - int64_t(axes.size()) + int64_t(i))
      return std::nullopt;
  return axes[0];
}

/// One input of a binary node is a constant accepted by `ok`; returns (other
/// input, constant) or nulls.
template <typename F> std::pair<Value *, Value *> splitConst(const Node &n, F ok) {
  if (n.inputs.size() != 2 || !n.inputs[0] || !n.inputs[1])
    return {nullptr, nullptr};
  for (size_t c = 0; c < 2; ++c)
    if (ok(n.inputs[c]) && !n.inputs[1 - c]->isConstant())
      return {n.inputs[1 - c], n.inputs[c]};
  return {nullptr, nullptr};
}

std::string patternName(const Graph &g, const Node &first, const Node &last) {
  const std::string &a = first.name, &b = last.name;
  size_t common = 0;
  while (common < a.size() && common < b.size() && a[common] == b[common])
    ++common;
  size_t slash = a.rfind('/', common ? common - 1 : 0);
  if (common == 0 || slash == std::string::npos)
    return uniqueNodeName(g, last.name + "_layernorm");
  return uniqueNodeName(g, a.substr(0, slash + 1) + "LayerNormalization");
}

bool fuseAt(Graph &g, Node &div, PassStats &stats) {
  // Div(d, Sqrt(Add(ReduceMean(d^2), eps)))
  Value *d = div.inputs[0];
  Node *sub = producerIs(d, "Sub"), *sqrt = producerIs(div.inputs[1], "Sqrt");
  if (!sub || !sqrt || d->type.elem != ElemType::f32() || sub->inputs.size() != 2)
    return false;
  Node *mean1 = producerIs(sub->inputs[1], "ReduceMean");
  Value *x = sub->inputs[0];
  if (!mean1 || mean1->inputs[0] != x || soleUser(g, mean1->outputs[0]) != sub)
    return false;
  Node *addEps = producerIs(sqrt->inputs[0], "Add");
  if (!addEps || soleUser(g, addEps->outputs[0]) != sqrt || soleUser(g, sqrt->outputs[0]) != &div)
    return false;
  auto [var, epsValue] = splitConst(*addEps, [](Value *v) {
    auto s = constScalar(v);
    return s && *s >= 0 && std::isfinite(*s);
  });
  Node *mean2 = producerIs(var, "ReduceMean");
  if (!mean2 || soleUser(g, var) != addEps || addEps->outputs[0]->type != var->type)
    return false;
  Node *square = mean2->inputs[0]->producer;
  if (!square || isDetached(*square) || soleUser(g, mean2->inputs[0]) != mean2)
    return false;
  const bool isPow = isOp(*square, "Pow") && square->inputs[0] == d && constScalar(square->input(1)) == 2.0;
  const bool isMul = isOp(*square, "Mul") && square->inputs.size() == 2 && square->inputs[0] == d &&
                     square->inputs[1] == d;
  if (!isPow && !isMul)
    return false;
  auto dUsers = g.users(d);
  if (isGraphOutput(g, d) || dUsers.size() != 2 ||
      !(std::count(dUsers.begin(), dUsers.end(), square) == 1 && std::count(dUsers.begin(), dUsers.end(), &div) == 1))
    return false;
  const int64_t r = x->type.rank();
  auto a1 = trailingAxes(*mean1, r), a2 = trailingAxes(*mean2, r);
  if (!a1 || !a2 || *a1 != *a2 || mean1->getInts("axes") != mean2->getInts("axes"))
    return false;
  const int64_t axis = *a1;
  auto paramOk = [&](Value *v) { return isNormParam(v, axis, r); };

  // Optional affine tail: Mul(gamma), then Add(beta).
  std::vector<Node *> matched{mean1, sub, square, mean2, addEps, sqrt, &div};
  Value *y = div.outputs[0], *gamma = nullptr, *beta = nullptr;
  if (Node *mul = soleUser(g, y); mul && isOp(*mul, "Mul")) {
    auto [other, param] = splitConst(*mul, paramOk);
    if (other == y && mul->outputs[0]->type == y->type) {
      gamma = param;
      y = mul->outputs[0];
      matched.push_back(mul);
    }
  }
  if (Node *add = soleUser(g, y); add && isOp(*add, "Add")) {
    auto [other, param] = splitConst(*add, paramOk);
    if (other == y && add->outputs[0]->type == y->type) {
      beta = param;
      y = add->outputs[0];
      matched.push_back(add);
    }
  }
  if (!gamma) {
    Shape normShape(x->type.shape.begin() + axis, x->type.shape.end());
    gamma = addF32Constant(g, x->name + "_ln_scale", normShape, std::vector<float>(size_t(numElements(normShape)), 1.f));
  }
  std::vector<Value *> ins{x, gamma};
  if (beta)
    ins.push_back(beta);
  Node *last = matched.back();
  Node *ln = insertBefore(g, last, "LayerNormalization", patternName(g, *mean1, *last), ins, {y});
  ln->attrs["axis"] = axis;
  ln->attrs["epsilon"] = float(*constScalar(epsValue));
  for (Node *n : matched)
    detachNode(*n);
  stats.count(isPow ? "decomposed LayerNorm" : "decomposed LayerNorm (d*d form)");
  return true;
}

llvm::Error fuseLayerNorm(Graph &g, PassStats &stats) {
  for (Node *n : nodeList(g))
    if (!isDetached(*n) && isOp(*n, "Div") && n->inputs.size() == 2 && n->input(0) && n->input(1))
      fuseAt(g, *n, stats);
  return llvm::Error::success();
}

} // namespace

const PassInfo &fuseLayerNormPass() {
  static const PassInfo info{"fuse-layernorm",
                             "Replace the decomposed ReduceMean/Sub/Pow/Sqrt/Div layer norm by LayerNormalization",
                             fuseLayerNorm};
  return info;
}

} // namespace qcc
