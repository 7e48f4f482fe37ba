// fold-batchnorm: an inference BatchNormalization y = a*x + b (per channel,
// a = scale / sqrt(var + eps), b = bias - mean * a) that follows a Conv,
// ConvTranspose, Gemm, or MatMul with a constant 2-D weight is folded into that
// op's weights and bias:
//   W'[o, ...] = a[o] * W[o, ...]      bias'[o] = a[o] * bias[o] + b[o]
// (for Gemm the output channel is a column of op(B), and C' = a * beta * C + b
// with beta' = 1; a MatMul becomes a Gemm to carry the bias).
// Conditions: the producer's output is read only by the BN (through
// reshape-like ops that keep axes 0 and 1, e.g. the Unsqueeze/Squeeze pair
// PyTorch emits around BatchNorm1d), weights, bias and BN parameters are f32
// constants, BN parameters are per channel, and the producer has no fused
// activation (a clamp before the BN would not commute).
// A BN that follows anything else is left as it is: it is an exact per-channel
// affine op that a quantizer handles like a depthwise 1x1 convolution, and
// folding it into a following Conv is exact only without padding.
// New weights are new constants ("<name>_folded"): the originals may be shared.
// Weights that carry a quantization grid (a folded QONNX Quant or
// DequantizeLinear) are left alone: scaling them would take them off their
// integer grid. The BN stays, and the QONNX lowering folds it into the
// conv's per-channel requantization instead (quant/ImportQdq.cpp).
#include "passes/FusedActivation.h"
#include "passes/Pass.h"
#include "passes/Rewrite.h"

#include <cmath>

namespace qcc {

namespace {

struct Affine {
  std::vector<double> a, b; ///< y = a[c] * x + b[c]
};

bool isF32Const(const Value *v) { return v && v->isConstant() && v->type.elem == ElemType::f32(); }

std::optional<Affine> bnAffine(const Node &bn, int64_t channels) {
  for (size_t i = 1; i < 5; ++i)
    if (!isF32Const(bn.input(i)) || bn.inputs[i]->constant->size() != channels)
      return std::nullopt;
  const double eps = bn.getFloat("epsilon", 1e-5f);
  Affine f;
  for (int64_t c = 0; c < channels; ++c) {
    // same arithmetic as the BatchNormalization kernel
    double a = bn.inputs[1]->constant->getDouble(c) / std::sqrt(bn.inputs[4]->constant->getDouble(c) + eps);
    f.a.push_back(a);
    f.b.push_back(bn.inputs[2]->constant->getDouble(c) - bn.inputs[3]->constant->getDouble(c) * a);
  }
  return f;
}

/// A reshape-like op that keeps axes 0 and 1 (so the channel axis maps 1:1).
bool keepsChannelAxis(const Node &n) {
  if (!isReshapeLike(n))
    return false;
  const Shape &in = n.inputs[0]->type.shape, &out = n.outputs[0]->type.shape;
  return in.size() >= 2 && out.size() >= 2 && in[0] == out[0] && in[1] == out[1] &&
         numElements(in) == numElements(out);
}

/// Walks up from the BN's input; returns the producer to fold into and sets
/// `last` to the node whose output the BN reads.
Node *findProducer(const Graph &g, const Node &bn, Node *&last) {
  const Node *reader = &bn;
  Value *v = bn.inputs[0];
  while (true) {
    Node *p = v->producer;
    if (!p || isDetached(*p) || soleUser(g, v) != reader || p->outputs.size() != 1)
      return nullptr;
    if (reader == &bn)
      last = p;
    if (isOp(*p, "Conv") || isOp(*p, "ConvTranspose") || isOp(*p, "Gemm") || isOp(*p, "MatMul"))
      return p;
    if (!keepsChannelAxis(*p))
      return nullptr;
    reader = p;
    v = p->inputs[0];
  }
}

Value *foldedConstant(Graph &g, const std::string &base, Shape shape, const std::vector<double> &vals) {
  return addF32Constant(g, base + "_folded", std::move(shape), std::vector<float>(vals.begin(), vals.end()));
}

/// Conv: W [M, C/group, k...]; ConvTranspose: W [C, M/group, k...].
bool foldIntoConv(Graph &g, Node &conv, const Affine &f) {
  Value *w = conv.inputs[1], *bias = conv.input(2);
  if (!isF32Const(w) || w->quant || (bias && !isF32Const(bias)))
    return false;
  const Shape &ws = w->type.shape;
  const int64_t outChannels = int64_t(f.a.size());
  std::vector<double> wv(size_t(w->constant->size()));
  const bool transposed = isOp(conv, "ConvTranspose");
  const int64_t taps = ws.size() > 2 ? numElements(Shape(ws.begin() + 2, ws.end())) : 1;
  const int64_t group = conv.getInt("group", 1);
  for (int64_t i = 0; i < int64_t(wv.size()); ++i) {
    int64_t o;
    if (!transposed) {
      o = i / (ws[1] * taps);
    } else {
      const int64_t c = i / (ws[1] * taps), m = (i / taps) % ws[1];
      o = (c / (ws[0] / group)) * ws[1] + m;
    }
    if (o >= outChannels)
      return false;
    wv[size_t(i)] = double(w->constant->getDouble(i)) * f.a[size_t(o)];
  }
  std::vector<double> bv(static_cast<size_t>(outChannels));
  for (int64_t o = 0; o < outChannels; ++o)
    bv[size_t(o)] = f.a[size_t(o)] * (bias ? bias->constant->getDouble(o) : 0.0) + f.b[size_t(o)];
  conv.inputs[1] = foldedConstant(g, w->name, ws, wv);
  Value *nb = foldedConstant(g, bias ? bias->name : conv.name + "_bias", {outChannels}, bv);
  if (conv.inputs.size() < 3)
    conv.inputs.resize(3, nullptr);
  conv.inputs[2] = nb;
  return true;
}

/// Gemm (or MatMul, turned into a Gemm): the channel is output column j.
bool foldIntoGemm(Graph &g, Node &gemm, const Affine &f) {
  const bool matmul = isOp(gemm, "MatMul");
  Value *a = gemm.inputs[0], *b = gemm.inputs[1], *c = matmul ? nullptr : gemm.input(2);
  if (!isF32Const(b) || b->quant || b->type.rank() != 2 || a->type.rank() != 2 || (c && !isF32Const(c)))
    return false;
  const bool transB = !matmul && gemm.getInt("transB", 0) != 0;
  const int64_t rows = gemm.outputs[0]->type.shape[0], n = int64_t(f.a.size());
  const int64_t k = transB ? b->type.shape[1] : b->type.shape[0];
  if ((transB ? b->type.shape[0] : b->type.shape[1]) != n)
    return false;
  std::vector<double> bv(size_t(b->constant->size()));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = transB ? j * k + p : p * n + j;
      bv[size_t(i)] = double(b->constant->getDouble(i)) * f.a[size_t(j)];
    }
  // C' = a * beta * C + b, kept per column unless C varies by row.
  const double beta = matmul ? 1.0 : gemm.getFloat("beta", 1.f);
  const Shape cs = c ? c->type.shape : Shape{};
  const int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
  const int64_t outRows = cm == 1 ? 1 : rows;
  std::vector<double> cv(size_t(outRows * n));
  for (int64_t i = 0; i < outRows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double old = c ? c->constant->getDouble((cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)) : 0.0;
      cv[size_t(i * n + j)] = f.a[size_t(j)] * beta * old + f.b[size_t(j)];
    }
  gemm.inputs[1] = foldedConstant(g, b->name, b->type.shape, bv);
  Shape newCs = outRows == 1 ? Shape{n} : Shape{rows, n};
  Value *nc = foldedConstant(g, c ? c->name : gemm.name + "_bias", newCs, cv);
  gemm.inputs.resize(3, nullptr);
  gemm.inputs[2] = nc;
  if (matmul)
    gemm.op = "Gemm";
  else
    gemm.attrs["beta"] = 1.f;
  return true;
}

llvm::Error foldBatchNorm(Graph &g, PassStats &stats) {
  for (Node *bn : nodeList(g)) {
    if (isDetached(*bn) || !isOp(*bn, "BatchNormalization") || !bn->input(0) || !bn->output(0))
      continue;
    const TensorType &x = bn->inputs[0]->type;
    if (x.elem != ElemType::f32() || x.rank() < 2)
      continue;
    auto affine = bnAffine(*bn, x.shape[1]);
    if (!affine)
      continue;
    Node *last = nullptr;
    Node *p = findProducer(g, *bn, last);
    if (!p || fusedClamp(*p) || p->outputs[0]->type.rank() < 2 || p->outputs[0]->type.shape[1] != x.shape[1])
      continue;
    const std::string op = p->op;
    const bool folded = (op == "Conv" || op == "ConvTranspose") ? foldIntoConv(g, *p, *affine)
                                                                 : foldIntoGemm(g, *p, *affine);
    if (!folded)
      continue;
    produceInto(*last, 0, bn->outputs[0]);
    detachNode(*bn);
    stats.count("BatchNormalization into " + op);
  }
  return llvm::Error::success();
}

} // namespace

const PassInfo &foldBatchNormPass() {
  static const PassInfo info{"fold-batchnorm",
                             "Fold BatchNormalization into the weights and bias of the Conv, ConvTranspose, "
                             "Gemm or MatMul before it",
                             foldBatchNorm};
  return info;
}

} // namespace qcc
