// Ops that cut, join, index or repeat tensors: Concat, Split, Slice, Pad,
// Gather, GatherElements, Tile, Trilu.
//
// Their kernels move bytes, so they work on any element type through its
// storage size.
//
// Canonical forms (the frontend rewrites every opset's form into these):
//   Concat  `axis` attribute, non-negative
//   Split   `axis` non-negative, `split` = the size of every output
//   Slice   `axes` non-negative, `starts` / `ends` resolved and clamped for
//           each axis, `steps`. Resolved means literal: a negative step's end
//           may be -1, meaning "through index 0", not "the last element".
//   Pad     `pads` (begin of every axis, then end of every axis; negative
//           crops), `value` float, `mode` constant | reflect | edge | wrap
//   Gather, GatherElements  `axis` non-negative
//   Tile    `repeats` attribute
//   Trilu   `k` attribute
#include "ops/OpRegistry.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace qcc {

namespace {

using llvm::Error;

Error ok() { return Error::success(); }

int64_t product(const Shape &s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i)
    p *= s[i];
  return p;
}

std::vector<int64_t> rowMajorStrides(const Shape &s) {
  std::vector<int64_t> stride(s.size(), 1);
  for (size_t a = s.size(); a-- > 1;)
    stride[a - 1] = stride[a] * s[a];
  return stride;
}

/// Copies the constant input `input`, when present, into the integer-list
/// attribute `attr` (the caller drops the inputs afterwards).
Error moveIntsToAttr(Node &n, const char *attr, size_t input) {
  if (!n.input(input))
    return ok();
  auto v = constInts(n, input);
  if (!v)
    return v.takeError();
  n.attrs[attr] = *v;
  return ok();
}

/// Normalises attribute `axis` (default `dflt`) for rank `rank` in place.
Error normalizeAxisAttr(Node &n, int64_t rank, int64_t dflt) {
  auto axis = normAxis(n, n.getInt("axis", dflt), rank);
  if (!axis)
    return axis.takeError();
  n.attrs["axis"] = *axis;
  return ok();
}

// ---- Concat --------------------------------------------------------------------

Error canonConcat(Node &n, int64_t opset) {
  if (opset < 4 && !n.has("axis")) // Concat-1 defaulted to axis 1
    n.attrs["axis"] = int64_t(1);
  if (!n.has("axis"))
    return nodeError(n, "required attribute 'axis' is missing");
  if (n.inputs.empty() || !n.input(0))
    return nodeError(n, "needs at least one input");
  if (inType(n, 0).rank() == 0)
    return nodeError(n, "cannot concatenate scalars (rank 0)");
  return normalizeAxisAttr(n, inType(n, 0).rank(), 0);
}

Error inferConcat(Node &n) {
  if (n.inputs.empty())
    return nodeError(n, "needs at least one input");
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (!n.inputs[i])
      return nodeError(n, "input {} is missing", i);
  const TensorType &first = inType(n, 0);
  auto axis = normAxis(n, n.getInt("axis", 0), first.rank());
  if (!axis)
    return axis.takeError();
  Shape out = first.shape;
  out[size_t(*axis)] = 0;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const TensorType &t = inType(n, i);
    if (t.elem != first.elem)
      return nodeError(n, "input {} is {}, but input 0 is {}", i, t.elem.str(), first.elem.str());
    bool same = t.rank() == first.rank();
    for (size_t d = 0; same && d < first.shape.size(); ++d)
      same = int64_t(d) == *axis || t.shape[d] == first.shape[d];
    if (!same)
      return nodeError(n, "input {} {} does not match input 0 {} outside axis {}", i, t.str(), first.str(),
                       *axis);
    out[size_t(*axis)] += t.shape[size_t(*axis)];
  }
  setOutput(n, 0, first.elem, out);
  return ok();
}

Error evalConcat(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Shape &s = out[0].shape();
  const size_t axis = size_t(n.getInt("axis", 0));
  const size_t es = out[0].elem().storageBytes();
  const int64_t outer = product(s, 0, axis), inner = product(s, axis + 1, s.size());
  std::byte *dst = out[0].raw();
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor *t : in) {
      const size_t chunk = size_t(t->shape()[axis] * inner) * es;
      if (chunk) {
        std::memcpy(dst, t->raw() + size_t(o) * chunk, chunk);
        dst += chunk;
      }
    }
  return ok();
}

// ---- Split ---------------------------------------------------------------------

Error canonSplit(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  // The sizes: an input in Split-1 and from Split-13 on, an attribute between.
  if (opset < 2 || opset >= 13)
    if (auto e = moveIntsToAttr(n, "split", 1))
      return e;
  dropInputs(n, 1);
  const TensorType &in = inType(n, 0);
  if (auto e = normalizeAxisAttr(n, in.rank(), 0))
    return e;
  const int64_t dim = in.shape[size_t(n.getInt("axis", 0))];
  const int64_t outputs = int64_t(n.outputs.size());
  if (outputs == 0)
    return nodeError(n, "has no outputs");
  if (!n.has("split")) {
    std::vector<int64_t> split;
    if (n.has("num_outputs")) {
      // Split-18: ceil-sized chunks, the last one smaller.
      int64_t parts = n.getInt("num_outputs", 0);
      if (parts != outputs)
        return nodeError(n, "num_outputs {} differs from the {} outputs", parts, outputs);
      int64_t chunk = (dim + parts - 1) / parts;
      split.assign(size_t(parts), chunk);
      split.back() = dim - chunk * (parts - 1);
      if (split.back() < 0)
        return nodeError(n, "cannot split {} elements into {} parts of {}", dim, parts, chunk);
    } else {
      if (dim % outputs != 0)
        return nodeError(n, "cannot split axis of size {} into {} equal parts", dim, outputs);
      split.assign(size_t(outputs), dim / outputs);
    }
    n.attrs["split"] = split;
  }
  n.attrs.erase("num_outputs");
  return ok();
}

Error inferSplit(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  auto axis = normAxis(n, n.getInt("axis", 0), in.rank());
  if (!axis)
    return axis.takeError();
  std::vector<int64_t> split = n.getInts("split");
  if (split.size() != n.outputs.size())
    return nodeError(n, "split [{}] has {} sizes for {} outputs", fmt::join(split, ","), split.size(),
                     n.outputs.size());
  int64_t sum = 0;
  for (int64_t s : split) {
    if (s < 0)
      return nodeError(n, "split [{}] has a negative size", fmt::join(split, ","));
    sum += s;
  }
  if (sum != in.shape[size_t(*axis)])
    return nodeError(n, "split [{}] sums to {}, but axis {} of {} has size {}", fmt::join(split, ","), sum,
                     *axis, in.str(), in.shape[size_t(*axis)]);
  for (size_t i = 0; i < split.size(); ++i) {
    Shape s = in.shape;
    s[size_t(*axis)] = split[i];
    setOutput(n, i, in.elem, s);
  }
  return ok();
}

Error evalSplit(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Shape &s = in[0]->shape();
  const size_t axis = size_t(n.getInt("axis", 0));
  const size_t es = in[0]->elem().storageBytes();
  const int64_t outer = product(s, 0, axis), inner = product(s, axis + 1, s.size());
  std::vector<int64_t> split = n.getInts("split");
  const std::byte *src = in[0]->raw();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < split.size(); ++i) {
      const size_t chunk = size_t(split[i] * inner) * es;
      if (n.output(i) && chunk)
        std::memcpy(out[i].raw() + size_t(o) * chunk, src, chunk);
      src += chunk;
    }
  return ok();
}

// ---- Slice ---------------------------------------------------------------------

/// Slice's output length along one axis from resolved start, end and step.
int64_t sliceLength(int64_t start, int64_t end, int64_t step) {
  if (step > 0)
    return std::max<int64_t>(0, (end - start + step - 1) / step);
  return std::max<int64_t>(0, (start - end - step - 1) / -step);
}

Error canonSlice(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  if (opset >= 10) {
    if (!n.input(1) || !n.input(2))
      return nodeError(n, "inputs 'starts' and 'ends' are required");
    n.attrs.erase("axes");
    n.attrs.erase("steps");
    if (auto e = moveIntsToAttr(n, "starts", 1))
      return e;
    if (auto e = moveIntsToAttr(n, "ends", 2))
      return e;
    if (auto e = moveIntsToAttr(n, "axes", 3))
      return e;
    if (auto e = moveIntsToAttr(n, "steps", 4))
      return e;
    dropInputs(n, 1);
  }
  const Shape &shape = inType(n, 0).shape;
  const int64_t rank = int64_t(shape.size());
  std::vector<int64_t> starts = n.getInts("starts"), ends = n.getInts("ends");
  std::vector<int64_t> axes = n.getInts("axes"), steps = n.getInts("steps");
  if (!n.has("axes")) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (!n.has("steps"))
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return nodeError(n, "starts, ends, axes and steps have different lengths ({}, {}, {}, {})", starts.size(),
                     ends.size(), axes.size(), steps.size());
  std::vector<bool> seen(size_t(rank), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto axis = normAxis(n, axes[i], rank);
    if (!axis)
      return axis.takeError();
    if (seen[size_t(*axis)])
      return nodeError(n, "axis {} is sliced twice", *axis);
    seen[size_t(*axis)] = true;
    axes[i] = *axis;
    const int64_t dim = shape[size_t(*axis)], step = steps[i];
    if (step == 0)
      return nodeError(n, "step for axis {} is 0", *axis);
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    } else {
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
      end = std::clamp<int64_t>(end, -1, std::max<int64_t>(dim - 1, -1));
    }
    starts[i] = start;
    ends[i] = end;
  }
  n.attrs["starts"] = starts;
  n.attrs["ends"] = ends;
  n.attrs["axes"] = axes;
  n.attrs["steps"] = steps;
  return ok();
}

/// Full-rank start and step of a canonical Slice (untouched axes: 0 and 1).
struct SliceWindow {
  Shape outShape;
  std::vector<int64_t> start, step;
};

llvm::Expected<SliceWindow> sliceWindow(const Node &n, const Shape &in) {
  std::vector<int64_t> starts = n.getInts("starts"), ends = n.getInts("ends");
  std::vector<int64_t> axes = n.getInts("axes"), steps = n.getInts("steps");
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return nodeError(n, "starts, ends, axes and steps have different lengths");
  SliceWindow w{in, std::vector<int64_t>(in.size(), 0), std::vector<int64_t>(in.size(), 1)};
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= int64_t(in.size()))
      return nodeError(n, "axis {} is out of range for rank {}", axes[i], in.size());
    const size_t a = size_t(axes[i]);
    const int64_t dim = in[a];
    const int64_t length = steps[i] == 0 ? 0 : sliceLength(starts[i], ends[i], steps[i]);
    const int64_t last = starts[i] + (length - 1) * steps[i];
    if (steps[i] == 0 || (length > 0 && (starts[i] < 0 || starts[i] >= dim || last < 0 || last >= dim)))
      return nodeError(n, "slice of axis {} (start {}, end {}, step {}) is not resolved for size {}", a,
                       starts[i], ends[i], steps[i], dim);
    w.start[a] = length > 0 ? starts[i] : 0;
    w.step[a] = steps[i];
    w.outShape[a] = length;
  }
  return w;
}

Error inferSlice(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  auto w = sliceWindow(n, inType(n, 0).shape);
  if (!w)
    return w.takeError();
  setOutput(n, 0, inType(n, 0).elem, w->outShape);
  return ok();
}

/// dst[i0, i1, ...] = src[base + sum_k i_k * stride_k], walking dst in order.
template <typename T>
void stridedCopy(const T *src, int64_t base, const Shape &outShape, const std::vector<int64_t> &stride, T *dst) {
  const int64_t total = numElements(outShape);
  if (total == 0)
    return;
  if (outShape.empty()) {
    dst[0] = src[base];
    return;
  }
  const size_t r = outShape.size();
  const int64_t inner = outShape[r - 1], innerStride = stride[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t off = base;
  for (int64_t o = 0; o < total; o += inner) {
    if (innerStride == 1)
      std::copy(src + off, src + off + inner, dst + o);
    else
      for (int64_t j = 0; j < inner; ++j)
        dst[o + j] = src[off + j * innerStride];
    for (size_t k = r - 1; k-- > 0;) {
      off += stride[k];
      if (++idx[k] < outShape[k])
        break;
      off -= stride[k] * idx[k];
      idx[k] = 0;
    }
  }
}

Error evalSlice(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto w = sliceWindow(n, in[0]->shape());
  if (!w)
    return w.takeError();
  std::vector<int64_t> inStride = rowMajorStrides(in[0]->shape()), stride(inStride.size());
  int64_t base = 0;
  for (size_t a = 0; a < inStride.size(); ++a) {
    base += w->start[a] * inStride[a];
    stride[a] = w->step[a] * inStride[a];
  }
  dispatchWidth(in[0]->elem().storageBytes(), [&](auto tag) {
    using T = decltype(tag);
    stridedCopy(in[0]->data<T>(), base, out[0].shape(), stride, out[0].data<T>());
  });
  return ok();
}

// ---- Pad -----------------------------------------------------------------------

enum class PadMode { Constant, Reflect, Edge, Wrap };

llvm::Expected<PadMode> padModeOf(const Node &n) {
  std::string m = n.getString("mode", "constant");
  if (m == "constant")
    return PadMode::Constant;
  if (m == "reflect")
    return PadMode::Reflect;
  if (m == "edge")
    return PadMode::Edge;
  if (m == "wrap")
    return PadMode::Wrap;
  return nodeError(n, "mode '{}' is not constant, reflect, edge or wrap", m);
}

Error canonPad(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  const int64_t rank = inType(n, 0).rank();
  if (opset < 2 && n.has("paddings")) { // Pad-1's name for pads
    n.attrs["pads"] = n.getInts("paddings");
    n.attrs.erase("paddings");
  }
  if (opset >= 11) {
    auto pads = constInts(n, 1);
    if (!pads)
      return pads.takeError();
    float value = 0;
    if (n.input(2)) {
      Value *v = n.input(2);
      if (!v->isConstant())
        return nodeError(n, "constant_value input '{}' must be a constant", v->name);
      if (v->constant->size() > 1)
        return nodeError(n, "constant_value must hold one value, has {}", v->constant->size());
      if (v->constant->size() == 1)
        value = float(v->constant->getDouble(0));
    }
    std::vector<int64_t> full = *pads;
    if (n.input(3)) { // Pad-18: pads only for the listed axes
      auto axes = constInts(n, 3);
      if (!axes)
        return axes.takeError();
      const size_t k = axes->size();
      if (pads->size() != 2 * k)
        return nodeError(n, "pads has {} values for {} axes, expected {}", pads->size(), k, 2 * k);
      full.assign(size_t(2 * rank), 0);
      for (size_t i = 0; i < k; ++i) {
        auto a = normAxis(n, (*axes)[i], rank);
        if (!a)
          return a.takeError();
        full[size_t(*a)] = (*pads)[i];
        full[size_t(*a + rank)] = (*pads)[i + k];
      }
    }
    n.attrs["pads"] = full;
    n.attrs["value"] = value;
    dropInputs(n, 1);
  }
  if (!n.has("value"))
    n.attrs["value"] = 0.0f;
  if (!n.has("mode"))
    n.attrs["mode"] = std::string("constant");
  return ok();
}

Error inferPad(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  auto mode = padModeOf(n);
  if (!mode)
    return mode.takeError();
  std::vector<int64_t> pads = n.getInts("pads");
  if (int64_t(pads.size()) != 2 * in.rank())
    return nodeError(n, "pads has {} values, expected {} (2 x rank of {})", pads.size(), 2 * in.rank(),
                     in.str());
  Shape out = in.shape;
  for (size_t a = 0; a < out.size(); ++a) {
    out[a] += pads[a] + pads[a + out.size()];
    if (out[a] < 0)
      return nodeError(n, "pads [{}] crop axis {} of {} below zero", fmt::join(pads, ","), a, in.str());
    if (*mode != PadMode::Constant && in.shape[a] == 0 && out[a] > 0)
      return nodeError(n, "cannot {}-pad axis {} of {}: it is empty", n.getString("mode", ""), a, in.str());
  }
  setOutput(n, 0, in.elem, out);
  return ok();
}

/// The input index that output index `i` (relative to the input start) reads,
/// or -1 for the constant value.
int64_t padSource(int64_t i, int64_t n, PadMode mode) {
  if (i >= 0 && i < n)
    return i;
  auto wrapIndex = [](int64_t v, int64_t m) { return ((v % m) + m) % m; };
  switch (mode) {
  case PadMode::Constant: return -1;
  case PadMode::Edge: return i < 0 ? 0 : n - 1;
  case PadMode::Wrap: return wrapIndex(i, n);
  case PadMode::Reflect: {
    if (n == 1)
      return 0;
    int64_t j = wrapIndex(i, 2 * (n - 1));
    return j < n ? j : 2 * (n - 1) - j;
  }
  }
  return -1;
}

template <typename T>
void padKernel(const T *src, const Shape &inShape, T *dst, const Shape &outShape,
               const std::vector<int64_t> &pads, PadMode mode, T value) {
  const size_t r = outShape.size();
  const int64_t total = numElements(outShape);
  if (total == 0)
    return;
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  const std::vector<int64_t> inStride = rowMajorStrides(inShape);
  const int64_t inner = outShape[r - 1], inInner = inShape[r - 1], begin = pads[r - 1];
  // The middle of each row, where output j reads input j - begin directly.
  const int64_t midLo = std::clamp<int64_t>(begin, 0, inner);
  const int64_t midHi = std::clamp<int64_t>(begin + inInner, midLo, inner);
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < total; o += inner) {
    T *row = dst + o;
    int64_t off = 0;
    bool constantRow = false;
    for (size_t k = 0; k + 1 < r; ++k) {
      int64_t s = padSource(idx[k] - pads[k], inShape[k], mode);
      if (s < 0) {
        constantRow = true;
        break;
      }
      off += s * inStride[k];
    }
    if (constantRow) {
      std::fill(row, row + inner, value);
    } else {
      const T *srcRow = src + off;
      for (int64_t j = 0; j < midLo; ++j) {
        int64_t s = padSource(j - begin, inInner, mode);
        row[j] = s < 0 ? value : srcRow[s];
      }
      if (midHi > midLo)
        std::copy(srcRow + (midLo - begin), srcRow + (midHi - begin), row + midLo);
      for (int64_t j = midHi; j < inner; ++j) {
        int64_t s = padSource(j - begin, inInner, mode);
        row[j] = s < 0 ? value : srcRow[s];
      }
    }
    for (size_t k = r - 1; k-- > 0;) {
      if (++idx[k] < outShape[k])
        break;
      idx[k] = 0;
    }
  }
}

Error evalPad(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto mode = padModeOf(n);
  if (!mode)
    return mode.takeError();
  // The fill value in the element type, so the kernel can copy its bytes.
  Tensor fill(out[0].elem(), {});
  fill.setDouble(0, n.getFloat("value", 0));
  dispatchWidth(out[0].elem().storageBytes(), [&](auto tag) {
    using T = decltype(tag);
    padKernel(in[0]->data<T>(), in[0]->shape(), out[0].data<T>(), out[0].shape(), n.getInts("pads"), *mode,
              fill.data<T>()[0]);
  });
  return ok();
}

// ---- Gather --------------------------------------------------------------------

Error checkIndexType(const Node &n, size_t i) {
  const ElemType e = inType(n, i).elem;
  if (e != ElemType::i64() && e != ElemType::i32())
    return nodeError(n, "indices are {}, expected int32 or int64", e.str());
  return ok();
}

/// The values of an int32 or int64 index tensor.
std::vector<int64_t> indexValues(const Tensor &t) {
  if (t.elem() == ElemType::i64())
    return std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + t.size());
  const int32_t *p = t.data<int32_t>();
  return std::vector<int64_t>(p, p + t.size());
}

/// Normalises index `v` for an axis of size `dim`; false if out of range.
bool normIndex(int64_t &v, int64_t dim) {
  if (v < -dim || v >= dim)
    return false;
  if (v < 0)
    v += dim;
  return true;
}

Error checkConstIndices(const Node &n, int64_t dim) {
  Value *idx = n.input(1);
  if (!idx->isConstant())
    return ok();
  for (int64_t v : idx->constant->toInts())
    if (!normIndex(v, dim))
      return nodeError(n, "index {} is out of range for axis of size {}", v, dim);
  return ok();
}

Error canonGather(Node &n, int64_t) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  return normalizeAxisAttr(n, inType(n, 0).rank(), 0);
}

Error inferGather(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  if (auto e = checkIndexType(n, 1))
    return e;
  const TensorType &data = inType(n, 0), &indices = inType(n, 1);
  if (data.rank() == 0)
    return nodeError(n, "data is a scalar; Gather needs rank >= 1");
  auto axis = normAxis(n, n.getInt("axis", 0), data.rank());
  if (!axis)
    return axis.takeError();
  if (auto e = checkConstIndices(n, data.shape[size_t(*axis)]))
    return e;
  Shape out(data.shape.begin(), data.shape.begin() + *axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + *axis + 1, data.shape.end());
  setOutput(n, 0, data.elem, out);
  return ok();
}

Error evalGather(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &data = *in[0];
  const Shape &s = data.shape();
  const size_t axis = size_t(n.getInt("axis", 0));
  const int64_t dim = s[axis];
  const size_t es = data.elem().storageBytes();
  const int64_t outer = product(s, 0, axis);
  const size_t row = size_t(product(s, axis + 1, s.size())) * es;
  std::vector<int64_t> indices = indexValues(*in[1]);
  for (int64_t &v : indices)
    if (!normIndex(v, dim))
      return nodeError(n, "index {} is out of range for axis of size {}", v, dim);
  if (row == es) { // gathering single elements: typed copies beat memcpy calls
    dispatchWidth(es, [&](auto tag) {
      using T = decltype(tag);
      const T *src = data.data<T>();
      T *dst = out[0].data<T>();
      for (int64_t o = 0; o < outer; ++o, src += dim)
        for (int64_t v : indices)
          *dst++ = src[v];
    });
    return ok();
  }
  const std::byte *src = data.raw();
  std::byte *dst = out[0].raw();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t v : indices) {
      std::memcpy(dst, src + size_t(o * dim + v) * row, row);
      dst += row;
    }
  return ok();
}

// ---- GatherElements --------------------------------------------------------------

Error inferGatherElements(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  if (auto e = checkIndexType(n, 1))
    return e;
  const TensorType &data = inType(n, 0), &indices = inType(n, 1);
  if (data.rank() == 0 || data.rank() != indices.rank())
    return nodeError(n, "data {} and indices {} must have the same rank >= 1", data.str(), indices.str());
  auto axis = normAxis(n, n.getInt("axis", 0), data.rank());
  if (!axis)
    return axis.takeError();
  for (size_t d = 0; d < data.shape.size(); ++d)
    if (int64_t(d) != *axis && indices.shape[d] > data.shape[d])
      return nodeError(n, "indices {} exceed data {} along axis {}", indices.str(), data.str(), d);
  if (auto e = checkConstIndices(n, data.shape[size_t(*axis)]))
    return e;
  setOutput(n, 0, data.elem, indices.shape);
  return ok();
}

Error evalGatherElements(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &data = *in[0];
  const Shape &is = in[1]->shape();
  const size_t axis = size_t(n.getInt("axis", 0)), r = is.size();
  const int64_t dim = data.shape()[axis];
  const std::vector<int64_t> stride = rowMajorStrides(data.shape());
  std::vector<int64_t> indices = indexValues(*in[1]);
  for (int64_t &v : indices)
    if (!normIndex(v, dim))
      return nodeError(n, "index {} is out of range for axis of size {}", v, dim);
  dispatchWidth(data.elem().storageBytes(), [&](auto tag) {
    using T = decltype(tag);
    const T *src = data.data<T>();
    T *dst = out[0].data<T>();
    std::vector<int64_t> idx(r, 0);
    int64_t base = 0; // offset of idx with the axis coordinate left out
    for (size_t o = 0; o < indices.size(); ++o) {
      dst[o] = src[base + indices[o] * stride[axis]];
      for (size_t k = r; k-- > 0;) {
        if (k != axis)
          base += stride[k];
        if (++idx[k] < is[k])
          break;
        if (k != axis)
          base -= stride[k] * idx[k];
        idx[k] = 0;
      }
    }
  });
  return ok();
}

// ---- Tile ----------------------------------------------------------------------

Error canonTile(Node &n, int64_t opset) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  const int64_t rank = inType(n, 0).rank();
  if (opset < 6) { // Tile-1: `tiles` copies along the single axis `axis`
    auto tiles = constScalar(n, 1);
    if (!tiles)
      return tiles.takeError();
    auto axisValue = constScalar(n, 2);
    if (!axisValue)
      return axisValue.takeError();
    auto axis = normAxis(n, int64_t(*axisValue), rank);
    if (!axis)
      return axis.takeError();
    std::vector<int64_t> repeats(size_t(rank), 1);
    repeats[size_t(*axis)] = int64_t(*tiles);
    n.attrs["repeats"] = repeats;
  } else {
    if (!n.input(1))
      return nodeError(n, "input 'repeats' is missing");
    if (auto e = moveIntsToAttr(n, "repeats", 1))
      return e;
  }
  dropInputs(n, 1);
  return ok();
}

Error inferTile(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  std::vector<int64_t> repeats = n.getInts("repeats");
  if (int64_t(repeats.size()) != in.rank())
    return nodeError(n, "repeats [{}] has {} values for input {} of rank {}", fmt::join(repeats, ","),
                     repeats.size(), in.str(), in.rank());
  Shape out = in.shape;
  for (size_t a = 0; a < out.size(); ++a) {
    if (repeats[a] < 0)
      return nodeError(n, "repeats [{}] has a negative count", fmt::join(repeats, ","));
    out[a] *= repeats[a];
  }
  setOutput(n, 0, in.elem, out);
  return ok();
}

Error evalTile(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Shape &is = in[0]->shape(), &os = out[0].shape();
  const size_t r = os.size(), es = in[0]->elem().storageBytes();
  if (out[0].size() == 0)
    return ok();
  if (r == 0) {
    std::memcpy(out[0].raw(), in[0]->raw(), es);
    return ok();
  }
  const std::vector<int64_t> inStride = rowMajorStrides(is);
  const size_t inRow = size_t(is[r - 1]) * es;
  const int64_t rowRepeats = os[r - 1] / is[r - 1];
  std::vector<int64_t> idx(r, 0);
  std::byte *dst = out[0].raw();
  for (int64_t o = 0; o < out[0].size(); o += os[r - 1]) {
    int64_t off = 0;
    for (size_t k = 0; k + 1 < r; ++k)
      off += (idx[k] % is[k]) * inStride[k];
    for (int64_t t = 0; t < rowRepeats; ++t) {
      std::memcpy(dst, in[0]->raw() + size_t(off) * es, inRow);
      dst += inRow;
    }
    for (size_t k = r - 1; k-- > 0;) {
      if (++idx[k] < os[k])
        break;
      idx[k] = 0;
    }
  }
  return ok();
}

// ---- Trilu ---------------------------------------------------------------------

Error canonTrilu(Node &n, int64_t) {
  if (auto e = expectInputs(n, 1, 2))
    return e;
  if (n.input(1)) {
    auto k = constScalar(n, 1);
    if (!k)
      return k.takeError();
    n.attrs["k"] = int64_t(*k);
  }
  dropInputs(n, 1);
  return ok();
}

Error inferTrilu(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  if (in.rank() < 2)
    return nodeError(n, "input {} has rank {}, expected >= 2", in.str(), in.rank());
  setOutput(n, 0, in.elem, in.shape);
  return ok();
}

Error evalTrilu(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Shape &s = in[0]->shape();
  const int64_t rows = s[s.size() - 2], cols = s[s.size() - 1];
  const int64_t k = n.getInt("k", 0);
  const bool upper = n.getInt("upper", 1) != 0;
  const int64_t matrices = rows * cols != 0 ? in[0]->size() / (rows * cols) : 0;
  dispatchWidth(in[0]->elem().storageBytes(), [&](auto tag) {
    using T = decltype(tag);
    const T *src = in[0]->data<T>();
    T *dst = out[0].data<T>();
    for (int64_t m = 0; m < matrices; ++m)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          const bool keep = upper ? j - i >= k : j - i <= k;
          const int64_t at = (m * rows + i) * cols + j;
          dst[at] = keep ? src[at] : T{};
        }
  });
  return ok();
}

} // namespace

void registerTensorOps(OpRegistry &r) {
  r.add({"Concat", "", canonConcat, inferConcat, evalConcat});
  r.add({"Split", "", canonSplit, inferSplit, evalSplit});
  r.add({"Slice", "", canonSlice, inferSlice, evalSlice});
  r.add({"Pad", "", canonPad, inferPad, evalPad});
  r.add({"Gather", "", canonGather, inferGather, evalGather});
  r.add({"GatherElements", "", canonGather, inferGatherElements, evalGatherElements});
  r.add({"Tile", "", canonTile, inferTile, evalTile});
  r.add({"Trilu", "", canonTrilu, inferTrilu, evalTrilu});
}

} // namespace qcc
