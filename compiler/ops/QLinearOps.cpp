// ONNX Runtime's QOperator ops: QLinearConv, QLinearMatMul, ConvInteger,
// MatMulInteger (default domain) and com.microsoft's QGemm, QLinearAdd,
// QLinearMul, QLinearGlobalAveragePool, QLinearConcat, QLinearSigmoid,
// QLinearLeakyRelu.
//
// Canonical form: every scale and zero point is a constant (qcc compiles fixed
// quantization grids); QLinearConv / ConvInteger carry explicit window
// attributes as Conv does. The eval of each op is its lowering onto qcc's
// integer ops (quant/QLinearLowering.h) run on the spot, so a model gives the
// same integers before and after quant/ImportQdq rewrites it. QLinearMatMul /
// MatMulInteger whose B is not a constant 2-D matrix keep a direct integer
// kernel (batched matmul, exact int32 accumulation, the same requantizers).
#include "ops/Broadcast.h"
#include "ops/GemmKernel.h"
#include "ops/OpRegistry.h"
#include "quant/QLinearLowering.h"
#include "quant/RequantAttrs.h"

namespace qcc {

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

Error checkParamsConstant(const Node &n) {
  for (size_t i : qoperatorParamInputs(n))
    if (Value *v = n.input(i); v && !v->isConstant())
      return nodeError(n, "input {} ('{}') is a scale or zero point and must be a constant (qcc compiles fixed "
                          "quantization grids)",
                       i, v->name);
  return ok();
}

Error canonQOperator(Node &n, int64_t) { return checkParamsConstant(n); }

ElemType zeroPointElem(const Node &n, size_t i, ElemType dflt) {
  return n.input(i) ? inType(n, i).elem : dflt;
}

Error expect8Bit(const Node &n, size_t i, const char *what) {
  const ElemType e = inType(n, i).elem;
  if (!e.isInt() || e.bits() != 8)
    return nodeError(n, "{} (input {}) must be int8 or uint8, is {}", what, i, inType(n, i).str());
  return ok();
}

// ---- QLinearConv, ConvInteger ------------------------------------------------------

size_t convWeightIndex(const Node &n) { return n.op == "ConvInteger" ? 1 : 3; }

llvm::Expected<kernels::WindowGeometry> convWindow(const Node &n) {
  const size_t wi = convWeightIndex(n);
  if (!n.input(0) || !n.input(wi))
    return nodeError(n, "X and W are required");
  const TensorType &x = inType(n, 0), &w = inType(n, wi);
  if (x.rank() < 3 || w.rank() != x.rank())
    return nodeError(n, "X {} and W {} must have the same rank, 3 or more", x.str(), w.str());
  std::vector<int64_t> kernel = n.getInts("kernel_shape", Shape(w.shape.begin() + 2, w.shape.end()));
  return resolveWindow(n, Shape(x.shape.begin() + 2, x.shape.end()), kernel, false);
}

Error canonConv(Node &n, int64_t) {
  if (auto e = checkParamsConstant(n))
    return e;
  auto g = convWindow(n);
  if (!g)
    return g.takeError();
  storeWindow(n, *g);
  n.attrs["group"] = n.getInt("group", 1);
  return ok();
}

Error inferConv(Node &n) {
  const bool integer = n.op == "ConvInteger";
  if (auto e = expectInputs(n, integer ? 2 : 8, integer ? 4 : 9))
    return e;
  const size_t wi = convWeightIndex(n);
  if (auto e = expect8Bit(n, 0, "X"))
    return e;
  if (auto e = expect8Bit(n, wi, "W"))
    return e;
  auto g = convWindow(n);
  if (!g)
    return g.takeError();
  const TensorType &x = inType(n, 0), &w = inType(n, wi);
  const int64_t group = n.getInt("group", 1);
  if (group < 1 || x.shape[1] % group || w.shape[0] % group || w.shape[1] * group != x.shape[1])
    return nodeError(n, "group {} does not fit input {} and weight {}", group, x.str(), w.str());
  Shape out{x.shape[0], w.shape[0]};
  out.insert(out.end(), g->out.begin(), g->out.end());
  setOutput(n, 0, integer ? ElemType::i32() : zeroPointElem(n, 7, x.elem), out);
  return ok();
}

// ---- QLinearMatMul, MatMulInteger ---------------------------------------------------

size_t matMulBIndex(const Node &n) { return n.op == "MatMulInteger" ? 1 : 3; }

/// numpy matmul shapes: batch axes broadcast, 1-D operands promoted and dropped.
llvm::Expected<Shape> matMulShape(const Node &n, const Shape &a, const Shape &b) {
  if (a.empty() || b.empty())
    return nodeError(n, "A and B must have rank 1 or more");
  const int64_t k1 = a.back(), k2 = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (k1 != k2)
    return nodeError(n, "A [{}] and B [{}] do not multiply", fmt::join(a, ","), fmt::join(b, ","));
  Shape ba = a.size() > 2 ? Shape(a.begin(), a.end() - 2) : Shape{};
  Shape bb = b.size() > 2 ? Shape(b.begin(), b.end() - 2) : Shape{};
  auto batch = broadcastShapes(n, ba, bb);
  if (!batch)
    return batch.takeError();
  Shape out = *batch;
  if (a.size() >= 2)
    out.push_back(a[a.size() - 2]);
  if (b.size() >= 2)
    out.push_back(b.back());
  return out;
}

Error inferMatMul(Node &n) {
  const bool integer = n.op == "MatMulInteger";
  if (auto e = expectInputs(n, integer ? 2 : 8, integer ? 4 : 8))
    return e;
  const size_t bi = matMulBIndex(n);
  if (auto e = expect8Bit(n, 0, "A"))
    return e;
  if (auto e = expect8Bit(n, bi, "B"))
    return e;
  auto s = matMulShape(n, inType(n, 0).shape, inType(n, bi).shape);
  if (!s)
    return s.takeError();
  setOutput(n, 0, integer ? ElemType::i32() : zeroPointElem(n, 7, inType(n, 0).elem), *s);
  return ok();
}

/// Direct integer kernel for B that is batched or not constant.
Error evalMatMulDirect(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto q = matMulQuant(n, [&](size_t i) { return i < in.size() ? in[i] : nullptr; });
  if (!q)
    return q.takeError();
  const Tensor &A = *in[0], &B = *in[matMulBIndex(n)];
  Shape a = A.shape(), b = B.shape();
  if (a.size() == 1)
    a.insert(a.begin(), 1);
  if (b.size() == 1)
    b.push_back(1);
  const int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  auto batch = broadcastShapes(n, ba, bb);
  if (!batch)
    return batch.takeError();
  const int64_t batches = numElements(*batch);
  int32_t lo, hi;
  outputClamp(n, lo, hi);
  if (q->y == ElemType::i32()) {
    lo = std::numeric_limits<int32_t>::min();
    hi = std::numeric_limits<int32_t>::max();
  }
  Tensor &Y = out[0];
  // Offsets of each broadcast batch in A and B.
  auto offsetOf = [&](const Shape &src, int64_t flat, int64_t matrix) {
    int64_t off = 0, stride = matrix;
    std::vector<int64_t> idx(batch->size());
    for (size_t d = batch->size(); d-- > 0;) {
      idx[d] = flat % (*batch)[d];
      flat /= (*batch)[d];
    }
    for (size_t d = src.size(); d-- > 0;) {
      const int64_t od = idx[batch->size() - src.size() + d];
      off += (src[d] == 1 ? 0 : od) * stride;
      stride *= src[d];
    }
    return off;
  };
  for (int64_t bt = 0; bt < batches; ++bt) {
    const int64_t ao = offsetOf(ba, bt, M * K), bo = offsetOf(bb, bt, K * N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        int64_t acc = 0;
        const int64_t za = q->az[q->az.size() == 1 ? 0 : size_t(m)], zb = q->bz[q->bz.size() == 1 ? 0 : size_t(j)];
        for (int64_t k = 0; k < K; ++k)
          acc += (A.getInt(ao + m * K + k) - za) * (B.getInt(bo + k * N + j) - zb);
        const Requant &rq = q->rq[q->rq.size() == 1 ? 0 : size_t(j)];
        Y.setDouble((bt * M + m) * N + j, double(requantizeOutput(acc, rq, q->yz, lo, hi)));
      }
  }
  return ok();
}

// ---- com.microsoft QGemm -------------------------------------------------------------

Error inferQGemm(Node &n) {
  if (auto e = expectInputs(n, 6, 9))
    return e;
  if (auto e = expect8Bit(n, 0, "A"))
    return e;
  if (auto e = expect8Bit(n, 3, "B"))
    return e;
  const TensorType &a = inType(n, 0), &b = inType(n, 3);
  if (a.rank() != 2 || b.rank() != 2)
    return nodeError(n, "A {} and B {} must be 2-D", a.str(), b.str());
  const bool ta = n.getInt("transA", 0) != 0, tb = n.getInt("transB", 0) != 0;
  const int64_t M = ta ? a.shape[1] : a.shape[0], K = ta ? a.shape[0] : a.shape[1];
  const int64_t K2 = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
  if (K != K2)
    return nodeError(n, "A {} and B {} do not multiply (transA={}, transB={})", a.str(), b.str(), ta, tb);
  if (n.input(8) && !n.input(7))
    return nodeError(n, "y_zero_point is given without y_scale");
  setOutput(n, 0, n.input(7) ? zeroPointElem(n, 8, ElemType::intN(8, false)) : ElemType::f32(), {M, N});
  return ok();
}

// ---- com.microsoft QLinearAdd, QLinearMul ------------------------------------------

Error inferBinary(Node &n) {
  if (auto e = expectInputs(n, 7, 8))
    return e;
  if (!n.input(3))
    return nodeError(n, "B is required");
  if (auto e = expect8Bit(n, 0, "A"))
    return e;
  if (inType(n, 3).elem != inType(n, 0).elem)
    return nodeError(n, "A is {} but B is {}", inType(n, 0).str(), inType(n, 3).str());
  auto s = broadcastShapes(n, inType(n, 0).shape, inType(n, 3).shape);
  if (!s)
    return s.takeError();
  // C's type is C_zero_point's: ORT's models give A's; a QONNX residual
  // (two signed grids -> Relu -> an unsigned grid) gives another.
  const Value *cz = n.input(7);
  const ElemType ce = cz && cz->type.elem.isInt() && cz->type.elem.bits() <= 8 ? cz->type.elem : inType(n, 0).elem;
  setOutput(n, 0, ce, *s);
  return ok();
}

// ---- com.microsoft QLinearGlobalAveragePool, QLinearSigmoid, QLinearLeakyRelu -------

Error inferGlobalAveragePool(Node &n) {
  if (auto e = expectInputs(n, 4, 5))
    return e;
  if (auto e = expect8Bit(n, 0, "X"))
    return e;
  Shape s = inType(n, 0).shape;
  if (s.size() < 3)
    return nodeError(n, "X must be N x C x spatial, is {}", inType(n, 0).str());
  const bool last = n.getInt("channels_last", 0) != 0;
  for (size_t d = last ? 1 : 2; d < (last ? s.size() - 1 : s.size()); ++d)
    s[d] = 1;
  setOutput(n, 0, inType(n, 0).elem, s);
  return ok();
}

Error inferUnaryLut(Node &n) {
  if (auto e = expectInputs(n, 4, 5))
    return e;
  if (auto e = expect8Bit(n, 0, "X"))
    return e;
  setOutput(n, 0, inType(n, 0).elem, inType(n, 0).shape);
  return ok();
}

// ---- com.microsoft QLinearConcat ---------------------------------------------------------

Error inferConcat(Node &n) {
  if (n.inputs.size() < 5 || (n.inputs.size() - 2) % 3 != 0)
    return nodeError(n, "expects Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples; has {} inputs",
                     n.inputs.size());
  for (size_t i = 2; i < n.inputs.size(); i += 3)
    if (!n.input(i))
      return nodeError(n, "input {} is missing", i);
  const ElemType e = zeroPointElem(n, 1, ElemType::intN(8, false));
  Shape out = inType(n, 2).shape;
  const int64_t rank = int64_t(out.size());
  auto axis = normAxis(n, n.getInt("axis", 0), rank);
  if (!axis)
    return axis.takeError();
  for (size_t i = 5; i < n.inputs.size(); i += 3) {
    const Shape &s = inType(n, i).shape;
    bool fits = int64_t(s.size()) == rank;
    for (int64_t d = 0; fits && d < rank; ++d)
      fits = d == *axis || s[size_t(d)] == out[size_t(d)];
    if (!fits)
      return nodeError(n, "input {} [{}] does not concatenate with [{}] along axis {}", i, fmt::join(s, ","),
                       fmt::join(out, ","), *axis);
    out[size_t(*axis)] += s[size_t(*axis)];
  }
  for (size_t i = 2; i < n.inputs.size(); i += 3)
    if (inType(n, i).elem != e)
      return nodeError(n, "input {} is {}, the output zero point is {}", i, inType(n, i).str(), e.str());
  setOutput(n, 0, e, out);
  return ok();
}

// ---- eval: the lowering, run on the spot ---------------------------------------------------

Error evalQOperator(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto tensorOf = [&](size_t i) { return i < in.size() ? in[i] : nullptr; };
  if ((n.op == "QLinearMatMul" || n.op == "MatMulInteger") && !matMulLowersToQGemm(n, tensorOf))
    return evalMatMulDirect(n, in, out);
  auto l = lowerQOperator(n, tensorOf);
  if (!l)
    return l.takeError();
  return evalLowering(n, *l, in, out);
}

int64_t macsConv(const Node &n) {
  const TensorType &w = inType(n, convWeightIndex(n));
  return n.outputs[0]->type.numElements() * (w.numElements() / std::max<int64_t>(w.shape[0], 1));
}

int64_t macsMatMul(const Node &n) {
  const TensorType &a = inType(n, 0);
  return n.outputs[0]->type.numElements() * (a.shape.empty() ? 0 : a.shape.back());
}

int64_t macsQGemm(const Node &n) {
  const TensorType &a = inType(n, 0);
  return n.outputs[0]->type.numElements() * a.shape[n.getInt("transA", 0) ? 0 : 1];
}

} // namespace

void registerQLinearOps(OpRegistry &r) {
  r.add({"QLinearConv", "", canonConv, inferConv, evalQOperator, macsConv, false, 10});
  r.add({"ConvInteger", "", canonConv, inferConv, evalQOperator, macsConv, false, 10});
  r.add({"QLinearMatMul", "", canonQOperator, inferMatMul, evalQOperator, macsMatMul, false, 10});
  r.add({"MatMulInteger", "", canonQOperator, inferMatMul, evalQOperator, macsMatMul, false, 10});
  r.add({"QGemm", "com.microsoft", canonQOperator, inferQGemm, evalQOperator, macsQGemm});
  r.add({"QLinearAdd", "com.microsoft", canonQOperator, inferBinary, evalQOperator});
  r.add({"QLinearMul", "com.microsoft", canonQOperator, inferBinary, evalQOperator});
  r.add({"QLinearGlobalAveragePool", "com.microsoft", canonQOperator, inferGlobalAveragePool, evalQOperator});
  r.add({"QLinearConcat", "com.microsoft", canonQOperator, inferConcat, evalQOperator});
  r.add({"QLinearSigmoid", "com.microsoft", canonQOperator, inferUnaryLut, evalQOperator});
  r.add({"QLinearLeakyRelu", "com.microsoft", canonQOperator, inferUnaryLut, evalQOperator});
}

} // namespace qcc
