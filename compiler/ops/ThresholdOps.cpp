// Threshold activations (domain "qcc"): the integer form of QONNX's
// BipolarQuant, FINN's MultiThreshold and Quant with rounding modes other
// than ROUND / HALF_EVEN (quant/LowerQonnxThresholds.h derives them).
//
//   Threshold(x, thresholds)   x: integer tensor (8, 16 or 32-bit storage),
//     thresholds: constant int32 [C or 1, B], every row sorted ascending.
//     Attributes axis (1: the channel axis of x that selects the row; unused
//     with one row), out_base, out_step, out_bits, out_signed.
//       y = out_base + out_step * #{i : x >= thresholds[c][i]}
//     exactly FINN MultiThreshold's counting, on integers. y has type
//     int<out_bits> (signed when out_signed = 1); infer checks that every
//     level out_base + out_step * k, k = 0..B, fits it (no clamping).
//
//   PendingThreshold(x, ...)   float x -> int<out_bits>: a QONNX quantizer
//     (attribute qonnx_op: BipolarQuant, MultiThreshold or Quant; the node
//     keeps the original inputs and attributes) waiting for
//     finishQonnxThresholds to give it an integer input. It exists only
//     inside lowerQonnxModel; it has no eval.
#include "ops/OpRegistry.h"

#include <algorithm>
#include <cstdint>

namespace qcc {

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

ElemType outElem(const Node &n) {
  return ElemType::intN(unsigned(n.getInt("out_bits", 8)), n.getInt("out_signed", 1) != 0);
}

bool intStorage(ElemType e) {
  switch (e.storage()) {
  case Storage::I8: case Storage::U8: case Storage::I16: case Storage::U16: case Storage::I32: return true;
  default: return false;
  }
}

/// The channel axis (normalized), or -1 for one row.
llvm::Expected<int64_t> rowAxis(const Node &n) {
  const TensorType &x = inType(n, 0), &t = inType(n, 1);
  if (t.shape[0] == 1)
    return -1;
  auto a = normAxis(n, n.getInt("axis", 1), x.rank());
  if (!a)
    return a.takeError();
  if (x.shape[size_t(*a)] != t.shape[0])
    return nodeError(n, "thresholds have {} rows; axis {} of the input has {} channels", t.shape[0], *a,
                     x.shape[size_t(*a)]);
  return *a;
}

Error inferThreshold(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  const TensorType &x = inType(n, 0), &t = inType(n, 1);
  if (!x.elem.isInt() || !intStorage(x.elem))
    return nodeError(n, "input must be an integer tensor of at most 32 bits, is {}", x.str());
  if (t.elem != ElemType::i32() || t.rank() != 2 || t.shape[1] < 1)
    return nodeError(n, "thresholds must be int32 [channels or 1, steps >= 1], are {}", t.str());
  if (!n.input(1)->isConstant())
    return nodeError(n, "thresholds must be a constant");
  auto axis = rowAxis(n);
  if (!axis)
    return axis.takeError();
  const Tensor &tv = *n.input(1)->constant;
  const int32_t *p = tv.data<int32_t>();
  for (int64_t r = 0; r < t.shape[0]; ++r)
    for (int64_t i = 1; i < t.shape[1]; ++i)
      if (p[r * t.shape[1] + i] < p[r * t.shape[1] + i - 1])
        return nodeError(n, "threshold row {} is not sorted ascending", r);
  const ElemType y = outElem(n);
  if (!intStorage(y))
    return nodeError(n, "output type {} is not supported", y.str());
  QuantInfo range;
  range.bits = y.bits();
  range.isSigned = y.isSigned();
  const int64_t base = n.getInt("out_base", 0), step = n.getInt("out_step", 1), last = base + step * t.shape[1];
  if (std::min(base, last) < range.qmin() || std::max(base, last) > range.qmax())
    return nodeError(n, "levels {} .. {} do not fit the output type {}", base, last, y.str());
  setOutput(n, 0, y, x.shape);
  return ok();
}

template <typename F> Error forInt(const Node &n, Storage s, F &&f) {
  switch (s) {
  case Storage::I8: f(int8_t{}); return ok();
  case Storage::U8: f(uint8_t{}); return ok();
  case Storage::I16: f(int16_t{}); return ok();
  case Storage::U16: f(uint16_t{}); return ok();
  case Storage::I32: f(int32_t{}); return ok();
  default: return nodeError(n, "integer kernel does not support this element type");
  }
}

Error evalThreshold(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto axis = rowAxis(n);
  if (!axis)
    return axis.takeError();
  const Shape &s = in[0]->shape();
  const int64_t rows = in[1]->shape()[0], steps = in[1]->shape()[1];
  int64_t inner = 1;
  if (*axis >= 0)
    for (size_t d = size_t(*axis) + 1; d < s.size(); ++d)
      inner *= s[d];
  const int32_t *t = in[1]->data<int32_t>();
  const int64_t base = n.getInt("out_base", 0), step = n.getInt("out_step", 1);
  return forInt(n, out[0].elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *y = out[0].data<T>();
    for (int64_t i = 0; i < in[0]->size(); ++i) {
      const int64_t x = in[0]->getInt(i);
      const int32_t *row = t + (rows == 1 ? 0 : (i / inner) % rows) * steps;
      // Rows are sorted (infer checks), so the count of thresholds <= x is
      // their upper bound: 8 probes instead of 255 at 8 bits.
      const int64_t count = std::upper_bound(row, row + steps, x) - row;
      y[i] = T(base + step * count);
    }
  });
}

Error inferPending(Node &n) {
  if (!n.input(0) || !inType(n, 0).elem.isFloat())
    return nodeError(n, "input 0 must be a float tensor");
  if (!n.has("qonnx_op"))
    return nodeError(n, "attribute qonnx_op is missing");
  const ElemType y = outElem(n);
  if (!intStorage(y))
    return nodeError(n, "output type {} is not supported", y.str());
  setOutput(n, 0, y, inType(n, 0).shape);
  return ok();
}

Error evalPending(const Node &n, llvm::ArrayRef<const Tensor *>, llvm::MutableArrayRef<Tensor>) {
  return nodeError(n, "PendingThreshold has no integer input yet (finishQonnxThresholds did not lower it)");
}

} // namespace

void registerThresholdOps(OpRegistry &r) {
  r.add({"Threshold", "qcc", nullptr, inferThreshold, evalThreshold});
  r.add({"PendingThreshold", "qcc", nullptr, inferPending, evalPending});
}

} // namespace qcc
