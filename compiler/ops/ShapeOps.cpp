// Ops that reinterpret, reorder or create whole tensors: Shape, Size, Reshape,
// Flatten, Squeeze, Unsqueeze, Transpose, Identity, Constant, ConstantOfShape,
// Cast, CastLike, Expand, DepthToSpace, SpaceToDepth, EyeLike, Range.
//
// Most of these only move bytes, so their kernels work on any element type
// through its storage size. Cast, Range and EyeLike produce values and
// dispatch on the element type.
//
// Canonical forms (the frontend rewrites every opset's form into these):
//   Reshape    `shape` attribute = the resolved output shape (no 0 / -1 left)
//   Squeeze    `axes` attribute, sorted and non-negative (always present)
//   Unsqueeze  `axes` attribute, sorted and non-negative in the output rank
//   Constant   `value` tensor attribute
//   Cast       `to` integer attribute (ONNX data type); CastLike becomes Cast
//   Expand     `shape` attribute = the broadcast output shape
//   Transpose  `perm` attribute (always present)
#include "frontend/TensorProto.h"
#include "ops/Broadcast.h"
#include "ops/OpRegistry.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace qcc {

namespace {

using llvm::Error;

Error ok() { return Error::success(); }

/// Copies a 1-D integer list from an attribute (older opsets) or from constant
/// input `input` (from opset `inputSince` on) into `out`. `present` tells
/// whether either form was given.
Error attrOrInput(Node &n, int64_t opset, int64_t inputSince, const char *attr, size_t input,
                  std::vector<int64_t> &out, bool &present) {
  present = false;
  if (opset < inputSince || n.has(attr)) {
    present = n.has(attr);
    out = n.getInts(attr);
    return ok();
  }
  if (!n.input(input))
    return ok();
  auto v = constInts(n, input);
  if (!v)
    return v.takeError();
  out = std::move(*v);
  present = true;
  dropInputs(n, input);
  return ok();
}

/// Normalises and sorts axes for rank `rank`; duplicates are an error.
llvm::Expected<std::vector<int64_t>> normalizeAxes(const Node &n, std::vector<int64_t> axes, int64_t rank) {
  for (int64_t &a : axes) {
    if (a < -rank || a >= rank)
      return nodeError(n, "axis {} is out of range for rank {}", a, rank);
    if (a < 0)
      a += rank;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return nodeError(n, "axes [{}] name the same axis twice", fmt::join(axes, ","));
  return axes;
}

/// Output = input bytes under a new shape: shares the input buffer.
Error evalAlias(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  out[0] = in[0]->reshaped(out[0].shape());
  return ok();
}

// ---- permutation kernel (Transpose, DepthToSpace, SpaceToDepth) -------------

/// Drops size-1 axes and merges input axes that stay adjacent in the output:
/// NCHW->NHWC becomes [N, C, HW] with perm [0, 2, 1].
void simplifyPermutation(const Shape &shape, const std::vector<int64_t> &perm, Shape &dims,
                         std::vector<int64_t> &p) {
  const size_t r = shape.size();
  std::vector<int64_t> newIndex(r, -1);
  Shape kept;
  for (size_t a = 0; a < r; ++a)
    if (shape[a] != 1) {
      newIndex[a] = int64_t(kept.size());
      kept.push_back(shape[a]);
    }
  std::vector<int64_t> kp;
  for (int64_t a : perm)
    if (shape[size_t(a)] != 1)
      kp.push_back(newIndex[size_t(a)]);
  const size_t m = kept.size();
  std::vector<size_t> posInOutput(m);
  for (size_t i = 0; i < m; ++i)
    posInOutput[size_t(kp[i])] = i;
  // Input axis a joins the group of a-1 when a directly follows a-1 in the output.
  std::vector<int64_t> groupOf(m);
  dims.clear();
  for (size_t a = 0; a < m; ++a) {
    if (a > 0 && posInOutput[a] == posInOutput[a - 1] + 1) {
      dims.back() *= kept[a];
    } else {
      dims.push_back(kept[a]);
    }
    groupOf[a] = int64_t(dims.size()) - 1;
  }
  p.clear();
  for (size_t i = 0; i < m; ++i) {
    size_t a = size_t(kp[i]);
    if (a == 0 || posInOutput[a] != posInOutput[a - 1] + 1)
      p.push_back(groupOf[a]);
  }
}

/// Cache-blocked transpose of a rows x cols matrix.
template <typename T> void transpose2D(const T *src, T *dst, int64_t rows, int64_t cols) {
  constexpr int64_t kBlock = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    const int64_t r1 = std::min(rows, r0 + kBlock);
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
      const int64_t c1 = std::min(cols, c0 + kBlock);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r)
          dst[c * rows + r] = src[r * cols + c];
    }
  }
}

/// Any permutation: walks the output in order, reading the input with strides.
template <typename T>
void permuteStrided(const T *src, T *dst, const Shape &dims, const std::vector<int64_t> &p) {
  const size_t m = dims.size();
  std::vector<int64_t> inStride(m, 1);
  for (size_t a = m - 1; a-- > 0;)
    inStride[a] = inStride[a + 1] * dims[a + 1];
  Shape outDims(m);
  std::vector<int64_t> stride(m);
  for (size_t i = 0; i < m; ++i) {
    outDims[i] = dims[size_t(p[i])];
    stride[i] = inStride[size_t(p[i])];
  }
  const int64_t inner = outDims[m - 1], innerStride = stride[m - 1];
  const int64_t total = numElements(outDims);
  std::vector<int64_t> idx(m, 0);
  int64_t off = 0;
  for (int64_t o = 0; o < total; o += inner) {
    const T *s = src + off;
    T *d = dst + o;
    if (innerStride == 1)
      std::copy(s, s + inner, d);
    else
      for (int64_t j = 0; j < inner; ++j)
        d[j] = s[j * innerStride];
    for (size_t k = m - 1; k-- > 0;) {
      off += stride[k];
      if (++idx[k] < outDims[k])
        break;
      off -= stride[k] * idx[k];
      idx[k] = 0;
    }
  }
}

/// dst = src with its axes permuted: output axis i is input axis perm[i].
void permuteBytes(const std::byte *src, std::byte *dst, const Shape &shape,
                  const std::vector<int64_t> &perm, size_t elemBytes) {
  const int64_t count = numElements(shape);
  if (count == 0)
    return;
  Shape dims;
  std::vector<int64_t> p;
  simplifyPermutation(shape, perm, dims, p);
  const size_t m = dims.size();
  bool identity = true;
  for (size_t i = 0; i < m; ++i)
    identity &= p[i] == int64_t(i);
  if (identity) {
    std::memcpy(dst, src, size_t(count) * elemBytes);
    return;
  }
  dispatchWidth(elemBytes, [&](auto tag) {
    using T = decltype(tag);
    const T *s = reinterpret_cast<const T *>(src);
    T *d = reinterpret_cast<T *>(dst);
    // A batch of matrix transposes: NCHW<->NHWC and swaps of the last two axes.
    bool batched2D = m >= 2 && p[m - 1] == int64_t(m - 2) && p[m - 2] == int64_t(m - 1);
    for (size_t i = 0; i + 2 < m; ++i)
      batched2D &= p[i] == int64_t(i);
    if (batched2D) {
      const int64_t rows = dims[m - 2], cols = dims[m - 1];
      const int64_t batch = count / (rows * cols);
      for (int64_t b = 0; b < batch; ++b)
        transpose2D(s + b * rows * cols, d + b * rows * cols, rows, cols);
      return;
    }
    permuteStrided(s, d, dims, p);
  });
}

// ---- Shape, Size -------------------------------------------------------------

/// Shape-15's [start, end) window over the dimensions, clamped to the rank.
std::pair<int64_t, int64_t> shapeWindow(const Node &n, int64_t rank) {
  auto clampIndex = [rank](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t(0), rank); };
  int64_t start = clampIndex(n.getInt("start", 0));
  int64_t end = n.has("end") ? clampIndex(n.getInt("end", rank)) : rank;
  return {start, std::max(start, end)};
}

Error inferShape(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  auto [start, end] = shapeWindow(n, inType(n, 0).rank());
  setOutput(n, 0, ElemType::i64(), {end - start});
  return ok();
}

// Shape and Size read only the static input type (in[0] may be absent).
Error evalShape(const Node &n, llvm::ArrayRef<const Tensor *>, llvm::MutableArrayRef<Tensor> out) {
  const Shape &s = inType(n, 0).shape;
  auto [start, end] = shapeWindow(n, int64_t(s.size()));
  std::copy(s.begin() + start, s.begin() + end, out[0].data<int64_t>());
  return ok();
}

Error inferSize(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  setOutput(n, 0, ElemType::i64(), {});
  return ok();
}

Error evalSize(const Node &n, llvm::ArrayRef<const Tensor *>, llvm::MutableArrayRef<Tensor> out) {
  out[0].data<int64_t>()[0] = inType(n, 0).numElements();
  return ok();
}

// ---- Reshape -----------------------------------------------------------------

/// Resolves ONNX Reshape's target: 0 copies the input dimension (unless
/// allowzero), one -1 takes what is left.
llvm::Expected<Shape> resolveReshape(const Node &n, const Shape &in, const std::vector<int64_t> &target,
                                     bool allowZero) {
  Shape out(target.begin(), target.end());
  int64_t inferIndex = -1, known = 1;
  bool hasZero = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (inferIndex >= 0)
        return nodeError(n, "target shape [{}] has more than one -1", fmt::join(target, ","));
      inferIndex = int64_t(i);
      continue;
    }
    if (out[i] < -1)
      return nodeError(n, "target shape [{}] has invalid dimension {}", fmt::join(target, ","), out[i]);
    if (out[i] == 0 && !allowZero) {
      if (i >= in.size())
        return nodeError(n, "target shape [{}] copies dimension {} (0), but the input [{}] has rank {}",
                         fmt::join(target, ","), i, fmt::join(in, ","), in.size());
      out[i] = in[i];
    }
    hasZero |= out[i] == 0;
    known *= out[i];
  }
  const int64_t count = numElements(in);
  if (inferIndex >= 0) {
    if (allowZero && hasZero)
      return nodeError(n, "target shape [{}] mixes 0 and -1 with allowzero=1", fmt::join(target, ","));
    if (known == 0 || count % known != 0)
      return nodeError(n, "cannot reshape [{}] ({} elements) to [{}]: -1 cannot be inferred",
                       fmt::join(in, ","), count, fmt::join(target, ","));
    out[size_t(inferIndex)] = count / known;
  }
  if (numElements(out) != count)
    return nodeError(n, "cannot reshape [{}] ({} elements) to [{}] ({} elements)", fmt::join(in, ","),
                     count, fmt::join(out, ","), numElements(out));
  return out;
}

Error canonReshape(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  std::vector<int64_t> target;
  bool present = false;
  if (auto e = attrOrInput(n, opset, 5, "shape", 1, target, present))
    return e;
  if (!present)
    return nodeError(n, "has no target shape (input 1 or the 'shape' attribute)");
  auto shape = resolveReshape(n, inType(n, 0).shape, target, n.getInt("allowzero", 0) != 0);
  if (!shape)
    return shape.takeError();
  n.attrs["shape"] = *shape;
  n.attrs.erase("allowzero");
  n.attrs.erase("consumed_inputs");
  return ok();
}

Error inferReshape(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  // The canonical shape is resolved: every dimension literal.
  Shape shape = n.getInts("shape");
  for (int64_t d : shape)
    if (d < 0)
      return nodeError(n, "shape attribute [{}] is not resolved", fmt::join(shape, ","));
  const TensorType &in = inType(n, 0);
  if (numElements(shape) != in.numElements())
    return nodeError(n, "cannot reshape {} ({} elements) to [{}] ({} elements)", in.str(),
                     in.numElements(), fmt::join(shape, ","), numElements(shape));
  setOutput(n, 0, in.elem, shape);
  return ok();
}

// ---- Flatten -----------------------------------------------------------------

Error inferFlatten(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  int64_t axis = n.getInt("axis", 1);
  if (axis < -in.rank() || axis > in.rank())
    return nodeError(n, "axis {} is out of range for rank {} (expected [{}, {}])", axis, in.rank(),
                     -in.rank(), in.rank());
  if (axis < 0)
    axis += in.rank();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < in.rank(); ++i)
    (i < axis ? outer : inner) *= in.shape[size_t(i)];
  setOutput(n, 0, in.elem, {outer, inner});
  return ok();
}

// ---- Squeeze, Unsqueeze ------------------------------------------------------

Error canonSqueeze(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  std::vector<int64_t> axes;
  bool present = false;
  if (auto e = attrOrInput(n, opset, 13, "axes", 1, axes, present))
    return e;
  const Shape &in = inType(n, 0).shape;
  if (!present) // no axes: every size-1 dimension goes
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i] == 1)
        axes.push_back(int64_t(i));
  auto norm = normalizeAxes(n, axes, int64_t(in.size()));
  if (!norm)
    return norm.takeError();
  n.attrs["axes"] = *norm;
  return ok();
}

Error inferSqueeze(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  auto axes = normalizeAxes(n, n.getInts("axes"), in.rank());
  if (!axes)
    return axes.takeError();
  Shape out;
  for (int64_t i = 0; i < in.rank(); ++i) {
    bool squeezed = std::binary_search(axes->begin(), axes->end(), i);
    if (squeezed && in.shape[size_t(i)] != 1)
      return nodeError(n, "cannot squeeze axis {} of {}: its size is {}, not 1", i, in.str(),
                       in.shape[size_t(i)]);
    if (!squeezed)
      out.push_back(in.shape[size_t(i)]);
  }
  setOutput(n, 0, in.elem, out);
  return ok();
}

Error canonUnsqueeze(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  std::vector<int64_t> axes;
  bool present = false;
  if (auto e = attrOrInput(n, opset, 13, "axes", 1, axes, present))
    return e;
  if (!present)
    return nodeError(n, "has no axes (input 1 or the 'axes' attribute)");
  auto norm = normalizeAxes(n, axes, inType(n, 0).rank() + int64_t(axes.size()));
  if (!norm)
    return norm.takeError();
  n.attrs["axes"] = *norm;
  return ok();
}

Error inferUnsqueeze(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  std::vector<int64_t> given = n.getInts("axes");
  const int64_t outRank = in.rank() + int64_t(given.size());
  auto axes = normalizeAxes(n, given, outRank);
  if (!axes)
    return axes.takeError();
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    out.push_back(std::binary_search(axes->begin(), axes->end(), i) ? 1 : in.shape[next++]);
  setOutput(n, 0, in.elem, out);
  return ok();
}

// ---- Transpose ---------------------------------------------------------------

Error canonTranspose(Node &n, int64_t) {
  if (!n.input(0))
    return nodeError(n, "data input is missing");
  if (!n.has("perm")) { // default: reverse the axes
    std::vector<int64_t> perm(size_t(inType(n, 0).rank()));
    std::iota(perm.rbegin(), perm.rend(), 0);
    n.attrs["perm"] = perm;
  }
  return ok();
}

Error inferTranspose(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  std::vector<int64_t> perm = n.getInts("perm");
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool valid = int64_t(perm.size()) == in.rank();
  for (size_t i = 0; valid && i < sorted.size(); ++i)
    valid = sorted[i] == int64_t(i);
  if (!valid)
    return nodeError(n, "perm [{}] is not a permutation of the {} axes of {}", fmt::join(perm, ","),
                     in.rank(), in.str());
  Shape out;
  for (int64_t a : perm)
    out.push_back(in.shape[size_t(a)]);
  setOutput(n, 0, in.elem, out);
  return ok();
}

Error evalTranspose(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  permuteBytes(in[0]->raw(), out[0].raw(), in[0]->shape(), n.getInts("perm"), in[0]->elem().storageBytes());
  return ok();
}

// ---- DepthToSpace, SpaceToDepth -------------------------------------------------

/// Checks the NCHW input and the blocksize; returns the blocksize.
llvm::Expected<int64_t> blockSizeOf(const Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  if (in.rank() != 4)
    return nodeError(n, "input {} has rank {}, expected 4 (NCHW)", in.str(), in.rank());
  if (!n.has("blocksize"))
    return nodeError(n, "required attribute 'blocksize' is missing");
  int64_t b = n.getInt("blocksize", 0);
  if (b <= 0)
    return nodeError(n, "blocksize {} must be positive", b);
  return b;
}

bool isCrdMode(const Node &n) { return n.getString("mode", "DCR") == "CRD"; }

Error inferDepthToSpace(Node &n) {
  auto b = blockSizeOf(n);
  if (!b)
    return b.takeError();
  const TensorType &in = inType(n, 0);
  std::string mode = n.getString("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    return nodeError(n, "mode '{}' is not DCR or CRD", mode);
  const int64_t bb = *b * *b;
  if (in.shape[1] % bb != 0)
    return nodeError(n, "channels {} are not divisible by blocksize^2 = {}", in.shape[1], bb);
  setOutput(n, 0, in.elem, {in.shape[0], in.shape[1] / bb, in.shape[2] * *b, in.shape[3] * *b});
  return ok();
}

Error evalDepthToSpace(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Shape &s = in[0]->shape();
  const int64_t b = n.getInt("blocksize", 1), c = s[1] / (b * b);
  // DCR: channel = (by * b + bx) * C' + c;  CRD: channel = (c * b + by) * b + bx.
  Shape view = isCrdMode(n) ? Shape{s[0], c, b, b, s[2], s[3]} : Shape{s[0], b, b, c, s[2], s[3]};
  std::vector<int64_t> perm = isCrdMode(n) ? std::vector<int64_t>{0, 1, 4, 2, 5, 3}
                                           : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
  permuteBytes(in[0]->raw(), out[0].raw(), view, perm, in[0]->elem().storageBytes());
  return ok();
}

Error inferSpaceToDepth(Node &n) {
  auto b = blockSizeOf(n);
  if (!b)
    return b.takeError();
  const TensorType &in = inType(n, 0);
  if (in.shape[2] % *b != 0 || in.shape[3] % *b != 0)
    return nodeError(n, "spatial size {}x{} is not divisible by blocksize {}", in.shape[2], in.shape[3], *b);
  setOutput(n, 0, in.elem, {in.shape[0], in.shape[1] * *b * *b, in.shape[2] / *b, in.shape[3] / *b});
  return ok();
}

Error evalSpaceToDepth(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Shape &s = in[0]->shape();
  const int64_t b = n.getInt("blocksize", 1);
  // Output channel = (by * b + bx) * C + c.
  Shape view{s[0], s[1], s[2] / b, b, s[3] / b, b};
  permuteBytes(in[0]->raw(), out[0].raw(), view, {0, 3, 5, 1, 2, 4}, in[0]->elem().storageBytes());
  return ok();
}

// ---- Identity ------------------------------------------------------------------

Error inferIdentity(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  setOutput(n, 0, inType(n, 0).elem, inType(n, 0).shape);
  return ok();
}

// ---- Constant, ConstantOfShape ---------------------------------------------------

Error canonConstant(Node &n, int64_t) {
  if (n.has("value"))
    return ok();
  if (n.has("sparse_value"))
    return nodeError(n, "sparse_value constants are not supported; store the tensor densely");
  if (n.has("value_string") || n.has("value_strings"))
    return nodeError(n, "unsupported element type STRING: qcc does not model string tensors");
  Tensor t;
  if (n.has("value_float")) {
    t = Tensor::scalarF32(n.getFloat("value_float", 0));
  } else if (n.has("value_floats")) {
    std::vector<float> v = n.getFloats("value_floats");
    t = Tensor(ElemType::f32(), {int64_t(v.size())});
    std::copy(v.begin(), v.end(), t.data<float>());
  } else if (n.has("value_int")) {
    t = Tensor(ElemType::i64(), {});
    t.data<int64_t>()[0] = n.getInt("value_int", 0);
  } else if (n.has("value_ints")) {
    t = Tensor::vectorI64(n.getInts("value_ints"));
  } else {
    return nodeError(n, "has no value attribute (value, value_float(s) or value_int(s))");
  }
  for (const char *a : {"value_float", "value_floats", "value_int", "value_ints"})
    n.attrs.erase(a);
  n.attrs["value"] = std::move(t);
  return ok();
}

const Tensor *tensorAttr(const Node &n, const std::string &name) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : std::get_if<Tensor>(&it->second);
}

Error inferConstant(Node &n) {
  if (auto e = expectInputs(n, 0, 0))
    return e;
  const Tensor *v = tensorAttr(n, "value");
  if (!v)
    return nodeError(n, "attribute 'value' is missing or not a tensor");
  setOutput(n, 0, v->elem(), v->shape());
  return ok();
}

Error evalConstant(const Node &n, llvm::ArrayRef<const Tensor *>, llvm::MutableArrayRef<Tensor> out) {
  out[0] = tensorAttr(n, "value")->clone();
  return ok();
}

Error inferConstantOfShape(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  auto shape = constInts(n, 0);
  if (!shape)
    return shape.takeError();
  for (int64_t d : *shape)
    if (d < 0)
      return nodeError(n, "shape [{}] has a negative dimension", fmt::join(*shape, ","));
  ElemType elem = ElemType::f32();
  if (n.has("value")) {
    const Tensor *v = tensorAttr(n, "value");
    if (!v || v->size() != 1)
      return nodeError(n, "attribute 'value' must be a one-element tensor");
    elem = v->elem();
  }
  setOutput(n, 0, elem, *shape);
  return ok();
}

Error evalConstantOfShape(const Node &n, llvm::ArrayRef<const Tensor *>, llvm::MutableArrayRef<Tensor> out) {
  const Tensor *v = tensorAttr(n, "value");
  if (!v) // the output is already zero-filled
    return ok();
  const size_t es = v->elem().storageBytes();
  std::byte *dst = out[0].raw();
  for (int64_t i = 0; i < out[0].size(); ++i)
    std::memcpy(dst + size_t(i) * es, v->raw(), es);
  return ok();
}

// ---- Cast, CastLike ----------------------------------------------------------------

/// The ONNX data type of a qcc element type (the inverse of elemTypeFromOnnx).
llvm::Expected<int64_t> onnxDataType(const Node &n, ElemType e) {
  using TP = onnx::TensorProto;
  if (e == ElemType::f32())
    return TP::FLOAT;
  if (e == ElemType::f64())
    return TP::DOUBLE;
  if (e.isBool())
    return TP::BOOL;
  if (e.isInt()) {
    switch (e.bits()) {
    case 8: return e.isSigned() ? TP::INT8 : TP::UINT8;
    case 16: return e.isSigned() ? TP::INT16 : TP::UINT16;
    case 32: return e.isSigned() ? TP::INT32 : TP::UINT32;
    case 64: return e.isSigned() ? TP::INT64 : TP::UINT64;
    default: break;
    }
  }
  return nodeError(n, "element type {} has no ONNX data type", e.str());
}

Error canonCast(Node &n, int64_t) {
  // Cast-1 names the target type as a string ("FLOAT").
  auto it = n.attrs.find("to");
  if (it != n.attrs.end())
    if (const auto *name = std::get_if<std::string>(&it->second)) {
      onnx::TensorProto::DataType dt;
      if (!onnx::TensorProto::DataType_Parse(*name, &dt))
        return nodeError(n, "'to' names unknown data type '{}'", *name);
      it->second = int64_t(dt);
    }
  n.attrs.erase("saturate"); // float8 targets only; those are not modelled
  return ok();
}

Error canonCastLike(Node &n, int64_t) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  auto to = onnxDataType(n, inType(n, 1).elem);
  if (!to)
    return to.takeError();
  n.op = "Cast";
  n.attrs["to"] = *to;
  n.attrs.erase("saturate");
  dropInputs(n, 1);
  return ok();
}

Error inferCast(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  if (!n.has("to"))
    return nodeError(n, "required attribute 'to' is missing");
  auto to = elemTypeFromOnnx(int32_t(n.getInt("to", 0)));
  if (!to)
    return nodeError(n, "cannot cast to this type: {}", llvm::toString(to.takeError()));
  setOutput(n, 0, *to, inType(n, 0).shape);
  return ok();
}

/// One element converted as ONNX Cast does: floats truncate toward zero when
/// cast to integers (clamped here where C++ would be undefined), any non-zero
/// value is true.
template <typename To, typename From> To castElement(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    // 2^digits is the first value past To's range, exact in any float type;
    // the conversion itself truncates toward zero.
    const From upper = From(std::ldexp(1.0, std::numeric_limits<To>::digits));
    const From lower = From(std::numeric_limits<To>::lowest());
    if (v != v)
      return To(0);
    if (v >= upper)
      return std::numeric_limits<To>::max();
    if (v <= lower)
      return std::numeric_limits<To>::lowest();
    return To(v);
  } else {
    return static_cast<To>(v);
  }
}

Error evalCast(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  Tensor &y = out[0];
  if (x.elem().storage() == y.elem().storage()) {
    std::memcpy(y.raw(), x.raw(), x.bytes());
    return ok();
  }
  dispatchStorage(x.elem().storage(), [&](auto fromTag) {
    using From = decltype(fromTag);
    dispatchStorage(y.elem().storage(), [&](auto toTag) {
      using To = decltype(toTag);
      const From *src = x.data<From>();
      To *dst = y.data<To>();
      for (int64_t i = 0; i < x.size(); ++i)
        dst[i] = castElement<To>(src[i]);
    });
  });
  return ok();
}

// ---- Expand --------------------------------------------------------------------

Error canonExpand(Node &n, int64_t) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  auto shape = constInts(n, 1);
  if (!shape)
    return shape.takeError();
  auto out = broadcastShapes(n, inType(n, 0).shape, *shape);
  if (!out)
    return nodeError(n, "cannot expand {} to [{}]: the shapes do not broadcast", inType(n, 0).str(),
                     fmt::join(*shape, ","));
  n.attrs["shape"] = *out;
  dropInputs(n, 1);
  return ok();
}

Error inferExpand(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  Shape shape = n.getInts("shape");
  auto out = broadcastShapes(n, inType(n, 0).shape, shape);
  if (!out)
    return out.takeError();
  setOutput(n, 0, inType(n, 0).elem, *out);
  return ok();
}

/// Copies `src` broadcast to `outShape` into `dst`, one output row at a time.
template <typename T>
void broadcastCopy(const T *src, const Shape &inShape, T *dst, const Shape &outShape) {
  const int64_t total = numElements(outShape);
  if (total == 0)
    return;
  if (outShape.empty()) {
    dst[0] = src[0];
    return;
  }
  const size_t r = outShape.size();
  std::vector<int64_t> stride = broadcastStrides(inShape, outShape);
  const int64_t inner = outShape[r - 1], innerStride = stride[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t o = 0; o < total; o += inner) {
    if (innerStride == 0)
      std::fill(dst + o, dst + o + inner, src[off]);
    else
      std::copy(src + off, src + off + inner, dst + o);
    for (size_t k = r - 1; k-- > 0;) {
      off += stride[k];
      if (++idx[k] < outShape[k])
        break;
      off -= stride[k] * idx[k];
      idx[k] = 0;
    }
  }
}

Error evalExpand(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  dispatchWidth(in[0]->elem().storageBytes(), [&](auto tag) {
    using T = decltype(tag);
    broadcastCopy(in[0]->data<T>(), in[0]->shape(), out[0].data<T>(), out[0].shape());
  });
  return ok();
}

// ---- EyeLike -------------------------------------------------------------------------

Error inferEyeLike(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &in = inType(n, 0);
  if (in.rank() != 2)
    return nodeError(n, "input {} has rank {}, expected 2", in.str(), in.rank());
  ElemType elem = in.elem;
  if (n.has("dtype")) {
    auto e = elemTypeFromOnnx(int32_t(n.getInt("dtype", 0)));
    if (!e)
      return nodeError(n, "dtype: {}", llvm::toString(e.takeError()));
    elem = *e;
  }
  setOutput(n, 0, elem, in.shape);
  return ok();
}

// Reads only the input's static shape (in[0] may be absent).
Error evalEyeLike(const Node &n, llvm::ArrayRef<const Tensor *>, llvm::MutableArrayRef<Tensor> out) {
  Tensor &y = out[0];
  const int64_t rows = y.shape()[0], cols = y.shape()[1], k = n.getInt("k", 0);
  for (int64_t r = std::max<int64_t>(0, -k); r < rows && r + k < cols; ++r)
    y.setDouble(r * cols + r + k, 1.0);
  return ok();
}

// ---- Range ---------------------------------------------------------------------------

/// Range's element count: max(ceil((limit - start) / delta), 0).
llvm::Expected<int64_t> rangeCount(const Node &n) {
  for (size_t i = 0; i < 3; ++i)
    if (auto v = constScalar(n, i); !v)
      return v.takeError();
  const Tensor &start = *n.inputs[0]->constant, &limit = *n.inputs[1]->constant,
               &delta = *n.inputs[2]->constant;
  if (start.elem().isInt()) { // exact integer arithmetic
    int64_t s = start.getInt(0), l = limit.getInt(0), d = delta.getInt(0);
    if (d == 0)
      return nodeError(n, "delta is 0");
    int64_t span = l - s;
    int64_t count = d > 0 ? (span + d - 1) / d : (span + d + 1) / d;
    return std::max<int64_t>(count, 0);
  }
  double s = start.getDouble(0), l = limit.getDouble(0), d = delta.getDouble(0);
  if (d == 0 || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d))
    return nodeError(n, "start {}, limit {}, delta {} do not define a finite range", s, l, d);
  return std::max<int64_t>(int64_t(std::ceil((l - s) / d)), 0);
}

Error inferRange(Node &n) {
  if (auto e = expectInputs(n, 3, 3))
    return e;
  const ElemType elem = inType(n, 0).elem;
  if (inType(n, 1).elem != elem || inType(n, 2).elem != elem)
    return nodeError(n, "start, limit and delta types differ: {}, {}, {}", elem.str(),
                     inType(n, 1).elem.str(), inType(n, 2).elem.str());
  if (elem.isBool())
    return nodeError(n, "Range over bool is not defined");
  auto count = rangeCount(n);
  if (!count)
    return count.takeError();
  setOutput(n, 0, elem, {*count});
  return ok();
}

Error evalRange(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  dispatchStorage(out[0].elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      const T start = in[0]->data<T>()[0], delta = in[2]->data<T>()[0];
      T *y = out[0].data<T>();
      for (int64_t i = 0; i < out[0].size(); ++i)
        y[i] = T(start + T(i) * delta);
    }
  });
  return ok();
}

} // namespace

void registerShapeOps(OpRegistry &r) {
  OpDef shape{"Shape", "", nullptr, inferShape, evalShape};
  shape.foldFromTypes = true;
  r.add(shape);
  OpDef size{"Size", "", nullptr, inferSize, evalSize};
  size.foldFromTypes = true;
  r.add(size);
  OpDef eyeLike{"EyeLike", "", nullptr, inferEyeLike, evalEyeLike};
  eyeLike.foldFromTypes = true;
  r.add(eyeLike);
  r.add({"Reshape", "", canonReshape, inferReshape, evalAlias});
  r.add({"Flatten", "", nullptr, inferFlatten, evalAlias});
  r.add({"Squeeze", "", canonSqueeze, inferSqueeze, evalAlias});
  r.add({"Unsqueeze", "", canonUnsqueeze, inferUnsqueeze, evalAlias});
  r.add({"Identity", "", nullptr, inferIdentity, evalAlias});
  r.add({"Transpose", "", canonTranspose, inferTranspose, evalTranspose});
  r.add({"DepthToSpace", "", nullptr, inferDepthToSpace, evalDepthToSpace});
  r.add({"SpaceToDepth", "", nullptr, inferSpaceToDepth, evalSpaceToDepth});
  r.add({"Constant", "", canonConstant, inferConstant, evalConstant});
  r.add({"ConstantOfShape", "", nullptr, inferConstantOfShape, evalConstantOfShape});
  r.add({"Cast", "", canonCast, inferCast, evalCast});
  r.add({"CastLike", "", canonCastLike, inferCast, evalCast});
  r.add({"Expand", "", canonExpand, inferExpand, evalExpand});
  r.add({"Range", "", nullptr, inferRange, evalRange});
}

} // namespace qcc
