// fuse-matmul-add: MatMul(x, W) + bias, with W a constant f32 [K, N] and the
// bias a constant that broadcasts along the last axis only ([N], [1, N], ...,
// or one element), becomes one fully connected Gemm(x, W, bias[N]) so that a
// quantizer sees a weight and an int32-able bias on one node.
//   x 2-D [M, K]:        Gemm(x, W, C)
//   x N-D [..., M, K]:   Reshape [rows, K] -> Gemm -> Reshape [..., M, N]
//                        (Gemm takes matrices only; the reshapes move no data
//                        and keep a quantization scale)
// The Add may take the bias first or second. The MatMul's output must be read
// by the Add alone. The Gemm keeps the MatMul's node name and produces the
// Add's output value.
#include "passes/FusedActivation.h"
#include "passes/Pass.h"
#include "passes/Rewrite.h"

namespace qcc {

namespace {

/// The bias as a [N] (or [1]) constant, or null when it does not broadcast
/// along the last axis alone.
Value *biasVector(Graph &g, Value *bias, int64_t n, int64_t outRank) {
  if (!bias || !bias->isConstant() || bias->type.elem != ElemType::f32() || bias->type.rank() > outRank)
    return nullptr;
  const Shape &s = bias->type.shape;
  const int64_t count = bias->constant->size();
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] != 1)
      return nullptr;
  if (count != n && count != 1)
    return nullptr;
  if (s == Shape{count})
    return bias;
  return g.addConstant(g.uniqueName(bias->name + "_vector"), bias->constant->reshaped({count}));
}

bool fuse(Graph &g, Node &add, size_t matmulSide, PassStats &stats) {
  Node *mm = producerIs(add.inputs[matmulSide], "MatMul");
  if (!mm || soleUser(g, mm->outputs[0]) != &add || fusedClamp(*mm))
    return false;
  Value *x = mm->inputs[0], *w = mm->inputs[1];
  if (!w->isConstant() || w->type.elem != ElemType::f32() || w->type.rank() != 2 || x->type.rank() < 2)
    return false;
  Value *out = add.outputs[0];
  if (out->type != mm->outputs[0]->type)
    return false; // the bias broadcast grew the result
  if (fusedClamp(add) && !fusedClampSupported("Gemm"))
    return false;
  Value *c = biasVector(g, add.inputs[1 - matmulSide], w->type.shape[1], out->type.rank());
  if (!c)
    return false;
  const int64_t k = w->type.shape[0], n = w->type.shape[1];
  const int64_t rows = out->type.numElements() / n;
  mm->op = "Gemm";
  if (auto clamp = fusedClamp(add))
    setFusedClamp(*mm, *clamp, add.getString(kActivation, "Clip"));
  if (x->type.rank() == 2) {
    mm->inputs = {x, w, c};
    produceInto(*mm, 0, out);
    stats.count("MatMul+Add into Gemm");
  } else {
    Value *x2 = g.addValue(g.uniqueName(x->name + "_2d"), TensorType{x->type.elem, {rows, k}});
    Node *in = insertBefore(g, mm, "Reshape", mm->name + "/to_2d", {x}, {x2});
    in->attrs["shape"] = std::vector<int64_t>{rows, k};
    Value *y2 = g.addValue(g.uniqueName(out->name + "_2d"), TensorType{out->type.elem, {rows, n}});
    mm->inputs = {x2, w, c};
    produceInto(*mm, 0, y2);
    Node *back = insertBefore(g, &add, "Reshape", mm->name + "/from_2d", {y2}, {out});
    back->attrs["shape"] = out->type.shape;
    stats.count("MatMul+Add into Gemm (N-D, with reshapes)");
  }
  detachNode(add);
  return true;
}

llvm::Error fuseMatMulAdd(Graph &g, PassStats &stats) {
  for (Node *add : nodeList(g)) {
    if (isDetached(*add) || !isOp(*add, "Add") || add->inputs.size() != 2 || !add->input(0) || !add->input(1))
      continue;
    if (add->outputs[0]->type.elem != ElemType::f32())
      continue;
    if (!fuse(g, *add, 0, stats))
      fuse(g, *add, 1, stats);
  }
  return llvm::Error::success();
}

} // namespace

const PassInfo &fuseMatMulAddPass() {
  static const PassInfo info{"fuse-matmul-add",
                             "Turn MatMul with a constant weight plus a constant bias into a Gemm",
                             fuseMatMulAdd};
  return info;
}

} // namespace qcc
