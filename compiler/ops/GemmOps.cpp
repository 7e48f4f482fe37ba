// Gemm and MatMul: OpenBLAS sgemm for float32, a plain loop for the other
// numeric types.
#include "ops/Broadcast.h"
#include "ops/GemmKernel.h"
#include "ops/OpRegistry.h"

namespace qcc {

namespace {

llvm::Error checkNumeric(const Node &n, size_t i) {
  const ElemType &e = inType(n, i).elem;
  if (e.isBool() || e.kind() == ElemType::Kind::Bipolar)
    return nodeError(n, "input {} ('{}') is {}, expected a numeric tensor", i, n.inputs[i]->name, e.str());
  return llvm::Error::success();
}

// ---- Gemm ----------------------------------------------------------------------

struct GemmDims {
  int64_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
};

llvm::Expected<GemmDims> gemmDims(const Node &n) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  const TensorType &a = inType(n, 0), &b = inType(n, 1);
  if (a.rank() != 2 || b.rank() != 2)
    return nodeError(n, "A ({}) and B ({}) must be matrices (rank 2)", a.str(), b.str());
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i]) {
      if (auto e = checkNumeric(n, i))
        return e;
      if (inType(n, i).elem != a.elem)
        return nodeError(n, "input {} is {}, A is {}: Gemm needs one element type", i, inType(n, i).str(),
                         a.str());
    }
  GemmDims d;
  d.transA = n.getInt("transA", 0) != 0;
  d.transB = n.getInt("transB", 0) != 0;
  d.m = d.transA ? a.shape[1] : a.shape[0];
  d.k = d.transA ? a.shape[0] : a.shape[1];
  int64_t kb = d.transB ? b.shape[1] : b.shape[0];
  d.n = d.transB ? b.shape[0] : b.shape[1];
  if (d.k != kb)
    return nodeError(n, "inner dimensions differ: op(A) is {}x{}, op(B) is {}x{} (transA={}, transB={})", d.m,
                     d.k, kb, d.n, int(d.transA), int(d.transB));
  if (n.input(2)) {
    const TensorType &c = inType(n, 2);
    bool ok = c.rank() <= 2;
    if (ok && c.rank() >= 1)
      ok = c.shape.back() == 1 || c.shape.back() == d.n;
    if (ok && c.rank() == 2)
      ok = c.shape[0] == 1 || c.shape[0] == d.m;
    if (!ok)
      return nodeError(n, "C ({}) does not broadcast to the {}x{} result", c.str(), d.m, d.n);
  }
  return d;
}

llvm::Error canonicalizeGemm(Node &n, int64_t opset) {
  // Before opset 7, C broadcasts only with broadcast=1; otherwise it must be M x N.
  if (opset < 7 && n.getInt("broadcast", 0) == 0 && n.input(2)) {
    auto d = gemmDims(n);
    if (!d)
      return d.takeError();
    const TensorType &c = inType(n, 2);
    if (c.shape != Shape{d->m, d->n})
      return nodeError(n, "C is {} but broadcast=0 (opset {}) requires shape [{},{}]", c.str(), opset, d->m, d->n);
  }
  n.attrs.erase("broadcast");
  return llvm::Error::success();
}

llvm::Error inferGemm(Node &n) {
  auto d = gemmDims(n);
  if (!d)
    return d.takeError();
  setOutput(n, 0, inType(n, 0).elem, {d->m, d->n});
  return llvm::Error::success();
}

/// y[i, j] = c broadcast to m x n.
template <typename T> void broadcastC(const Tensor &c, int64_t m, int64_t n, T *y) {
  const Shape &s = c.shape();
  const int64_t cm = s.size() == 2 ? s[0] : 1, cn = s.empty() ? 1 : s.back();
  const T *pc = c.data<T>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      y[i * n + j] = pc[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
}

/// Reference Gemm for the non-float32 types: accumulates in T (double for floats).
template <typename T>
void gemmLoop(const GemmDims &d, float alpha, float beta, const T *a, const T *b, const Tensor *c, T *y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  if (c)
    broadcastC<T>(*c, d.m, d.n, y);
  for (int64_t i = 0; i < d.m; ++i)
    for (int64_t j = 0; j < d.n; ++j) {
      Acc acc = 0;
      for (int64_t p = 0; p < d.k; ++p) {
        T av = d.transA ? a[p * d.m + i] : a[i * d.k + p];
        T bv = d.transB ? b[j * d.k + p] : b[p * d.n + j];
        acc += Acc(av) * Acc(bv);
      }
      double cv = c ? double(y[i * d.n + j]) : 0.0;
      y[i * d.n + j] = T(double(alpha) * double(acc) + double(beta) * cv);
    }
}

llvm::Error evalGemm(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto d = gemmDims(n);
  if (!d)
    return d.takeError();
  const float alpha = n.getFloat("alpha", 1.f), beta = n.getFloat("beta", 1.f);
  const Tensor *c = in.size() > 2 ? in[2] : nullptr;
  Tensor &y = out[0];
  if (y.elem() == ElemType::f32()) {
    const bool useC = c && beta != 0.f;
    if (useC)
      broadcastC<float>(*c, d->m, d->n, y.data<float>());
    kernels::sgemm(d->transA, d->transB, d->m, d->n, d->k, alpha, in[0]->data<float>(),
                   d->transA ? d->m : d->k, in[1]->data<float>(), d->transB ? d->k : d->n, useC ? beta : 0.f,
                   y.data<float>(), d->n);
    applyFusedClamp(n, y);
    return llvm::Error::success();
  }
  return dispatchStorage(y.elem().storage(), [&](auto tag) -> llvm::Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>)
      return nodeError(n, "Gemm on bool tensors is not supported");
    else
      gemmLoop<T>(*d, alpha, beta, in[0]->data<T>(), in[1]->data<T>(), c, y.data<T>());
    return llvm::Error::success();
  });
}

int64_t macsGemm(const Node &n) {
  auto d = gemmDims(n);
  if (!d) {
    llvm::consumeError(d.takeError());
    return 0;
  }
  return d->m * d->n * d->k;
}

// ---- MatMul (numpy semantics) -----------------------------------------------

struct MatMulDims {
  int64_t m = 1, n = 1, k = 0;
  Shape batch, batchA, batchB; ///< broadcast batch shape and each operand's batch shape
  Shape out;
};

llvm::Expected<MatMulDims> matmulDims(const Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  const TensorType &a = inType(n, 0), &b = inType(n, 1);
  if (a.rank() < 1 || b.rank() < 1)
    return nodeError(n, "operands must have rank >= 1, got {} and {}", a.str(), b.str());
  if (a.elem != b.elem)
    return nodeError(n, "operand types differ: {} and {}", a.str(), b.str());
  if (auto e = checkNumeric(n, 0))
    return e;
  MatMulDims d;
  // A 1-D operand is a row (A) or column (B) vector whose axis is dropped from the result.
  d.k = a.shape.back();
  if (a.rank() >= 2) {
    d.m = a.shape[a.shape.size() - 2];
    d.batchA.assign(a.shape.begin(), a.shape.end() - 2);
  }
  int64_t kb = b.rank() >= 2 ? b.shape[b.shape.size() - 2] : b.shape[0];
  if (b.rank() >= 2) {
    d.n = b.shape.back();
    d.batchB.assign(b.shape.begin(), b.shape.end() - 2);
  }
  if (d.k != kb)
    return nodeError(n, "inner dimensions differ: A is {}, B is {} ({} vs {})", a.str(), b.str(), d.k, kb);
  auto batch = broadcastShapes(n, d.batchA, d.batchB);
  if (!batch) {
    llvm::consumeError(batch.takeError());
    return nodeError(n, "batch dimensions of A ({}) and B ({}) do not broadcast", a.str(), b.str());
  }
  d.batch = *batch;
  d.out = d.batch;
  if (a.rank() >= 2)
    d.out.push_back(d.m);
  if (b.rank() >= 2)
    d.out.push_back(d.n);
  return d;
}

llvm::Error inferMatMul(Node &n) {
  auto d = matmulDims(n);
  if (!d)
    return d.takeError();
  setOutput(n, 0, inType(n, 0).elem, d->out);
  return llvm::Error::success();
}

/// Calls f(outMatrix, aMatrix, bMatrix) for each matrix of the broadcast batch.
template <typename F> void forEachBatch(const MatMulDims &d, F &&f) {
  const int64_t count = numElements(d.batch);
  if (count == 0)
    return;
  if (d.batch.empty()) {
    f(0, 0, 0);
    return;
  }
  forEachBroadcast(d.batch, d.batchA, d.batchB, f);
}

template <typename T> void matmulLoop(const MatMulDims &d, const T *a, const T *b, T *y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  const int64_t sa = d.m * d.k, sb = d.k * d.n, sy = d.m * d.n;
  forEachBatch(d, [&](int64_t o, int64_t ia, int64_t ib) {
    const T *pa = a + ia * sa, *pb = b + ib * sb;
    T *py = y + o * sy;
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) {
        Acc acc = 0;
        for (int64_t p = 0; p < d.k; ++p)
          acc += Acc(pa[i * d.k + p]) * Acc(pb[p * d.n + j]);
        py[i * d.n + j] = T(acc);
      }
  });
}

void matmulF32(const MatMulDims &d, const float *a, const float *b, float *y) {
  // B shared by every batch and A not broadcast: one GEMM over all rows of A.
  if (numElements(d.batchB) == 1 && numElements(d.batchA) == numElements(d.batch)) {
    const int64_t rows = numElements(d.batch) * d.m;
    kernels::sgemm(false, false, rows, d.n, d.k, 1.f, a, d.k, b, d.n, 0.f, y, d.n);
    return;
  }
  const int64_t sa = d.m * d.k, sb = d.k * d.n, sy = d.m * d.n;
  forEachBatch(d, [&](int64_t o, int64_t ia, int64_t ib) {
    kernels::sgemm(false, false, d.m, d.n, d.k, 1.f, a + ia * sa, d.k, b + ib * sb, d.n, 0.f, y + o * sy, d.n);
  });
}

llvm::Error evalMatMul(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto d = matmulDims(n);
  if (!d)
    return d.takeError();
  Tensor &y = out[0];
  if (y.elem() == ElemType::f32()) {
    matmulF32(*d, in[0]->data<float>(), in[1]->data<float>(), y.data<float>());
    applyFusedClamp(n, y);
    return llvm::Error::success();
  }
  return dispatchStorage(y.elem().storage(), [&](auto tag) -> llvm::Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>)
      return nodeError(n, "MatMul on bool tensors is not supported");
    else
      matmulLoop<T>(*d, in[0]->data<T>(), in[1]->data<T>(), y.data<T>());
    return llvm::Error::success();
  });
}

int64_t macsMatMul(const Node &n) {
  auto d = matmulDims(n);
  if (!d) {
    llvm::consumeError(d.takeError());
    return 0;
  }
  return numElements(d->batch) * d->m * d->n * d->k;
}

} // namespace

void registerGemmOps(OpRegistry &r) {
  kernels::useSingleThreadedBlas();
  r.add({"Gemm", "", canonicalizeGemm, inferGemm, evalGemm, macsGemm});
  r.add({"MatMul", "", nullptr, inferMatMul, evalMatMul, macsMatMul});
}

} // namespace qcc
