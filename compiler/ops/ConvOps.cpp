// Conv and ConvTranspose over 1..N spatial axes (NCHW), float32.
//
// Canonical form: explicit kernel_shape, strides, dilations, pads and group
// (plus output_padding for ConvTranspose); auto_pad and output_shape are
// resolved against the static input shape at import.
//
// Kernels: im2col (in cache-sized row tiles) + OpenBLAS sgemm per (image,
// group), with 1x1 stride-1 convolutions fed to the GEMM directly; depthwise
// 1D/2D convolutions (one input channel per group) use a direct vectorized
// kernel over stride-phase-split planes; ConvTranspose is a GEMM followed by
// col2im.
#include "ops/GemmKernel.h"
#include "ops/OpRegistry.h"

namespace qcc {

namespace {

/// Everything a Conv or ConvTranspose kernel needs, validated.
/// Conv: geom.in is X's spatial extent and geom.out is Y's.
/// ConvTranspose: the roles swap (Y is the image a Conv would slide over),
/// so geom.in is Y's spatial extent and geom.out is X's.
struct ConvShape {
  int64_t batch = 0, inChannels = 0, outChannels = 0, group = 1;
  kernels::WindowGeometry geom;
  std::vector<int64_t> outputPadding; ///< ConvTranspose only
};

/// Checks X, W and B of a Conv or ConvTranspose; returns the weight's kernel extents.
llvm::Expected<std::vector<int64_t>> checkOperands(const Node &n, int64_t &group) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  const TensorType &x = inType(n, 0), &w = inType(n, 1);
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i] && inType(n, i).elem != ElemType::f32())
      return nodeError(n, "input {} ('{}') is {}; the float interpreter's {} supports f32", i,
                       n.inputs[i]->name, inType(n, i).str(), n.op);
  if (x.rank() < 3)
    return nodeError(n, "input X has rank {} ({}), expected N x C x at least one spatial axis", x.rank(),
                     x.str());
  if (w.rank() != x.rank())
    return nodeError(n, "weight W has rank {} ({}), expected {} like the input X ({})", w.rank(), w.str(),
                     x.rank(), x.str());
  for (size_t d = 1; d < x.shape.size(); ++d)
    if (x.shape[d] < 1)
      return nodeError(n, "input X has an empty or unknown axis: {}", x.str());
  for (int64_t dim : w.shape)
    if (dim < 1)
      return nodeError(n, "weight W has an empty or unknown axis: {}", w.str());
  group = n.getInt("group", 1);
  if (group < 1)
    return nodeError(n, "group is {}, must be at least 1", group);
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  if (n.has("kernel_shape") && n.getInts("kernel_shape") != kernel)
    return nodeError(n, "kernel_shape [{}] does not match the weight's spatial shape [{}]",
                     fmt::join(n.getInts("kernel_shape"), ","), fmt::join(kernel, ","));
  return kernel;
}

llvm::Error checkBias(const Node &n, int64_t outChannels) {
  if (!n.input(2))
    return llvm::Error::success();
  const TensorType &b = inType(n, 2);
  if (b.rank() != 1 || b.shape[0] != outChannels)
    return nodeError(n, "bias B is {}, expected f32[{}] (one value per output channel)", b.str(), outChannels);
  return llvm::Error::success();
}

llvm::Expected<ConvShape> convShape(const Node &n) {
  ConvShape s;
  auto kernel = checkOperands(n, s.group);
  if (!kernel)
    return kernel.takeError();
  const TensorType &x = inType(n, 0), &w = inType(n, 1);
  s.batch = x.shape[0];
  s.inChannels = x.shape[1];
  s.outChannels = w.shape[0];
  if (s.inChannels % s.group != 0)
    return nodeError(n, "group {} does not divide the input's {} channels", s.group, s.inChannels);
  if (s.outChannels % s.group != 0)
    return nodeError(n, "group {} does not divide the weight's {} output channels", s.group, s.outChannels);
  if (w.shape[1] * s.group != s.inChannels)
    return nodeError(n, "weight W ({}) expects {} input channels per group ({} with group {}), the input X ({}) has {}",
                     w.str(), w.shape[1], w.shape[1] * s.group, s.group, x.str(), s.inChannels);
  if (auto e = checkBias(n, s.outChannels))
    return e;
  auto g = resolveWindow(n, Shape(x.shape.begin() + 2, x.shape.end()), *kernel, /*ceilMode=*/false);
  if (!g)
    return g.takeError();
  s.geom = std::move(*g);
  return s;
}

// ---- ConvTranspose geometry ------------------------------------------------

/// Splits a total padding the way ONNX does when it derives pads from an output shape.
void splitTransposePadding(int64_t total, bool sameUpper, int64_t &begin, int64_t &end) {
  begin = sameUpper ? total / 2 : total - total / 2;
  end = total - begin;
}

llvm::Expected<ConvShape> convTransposeShape(const Node &n) {
  ConvShape s;
  auto kernel = checkOperands(n, s.group);
  if (!kernel)
    return kernel.takeError();
  const TensorType &x = inType(n, 0), &w = inType(n, 1);
  const size_t r = size_t(x.rank() - 2);
  s.batch = x.shape[0];
  s.inChannels = x.shape[1];
  if (w.shape[0] != s.inChannels)
    return nodeError(n, "weight W ({}) has {} input channels, the input X ({}) has {}", w.str(), w.shape[0],
                     x.str(), s.inChannels);
  if (s.inChannels % s.group != 0)
    return nodeError(n, "group {} does not divide the input's {} channels", s.group, s.inChannels);
  s.outChannels = w.shape[1] * s.group;
  if (auto e = checkBias(n, s.outChannels))
    return e;

  kernels::WindowGeometry &g = s.geom;
  g.out.assign(x.shape.begin() + 2, x.shape.end());
  g.kernel = *kernel;
  for (int64_t k : g.kernel)
    if (k > kMaxWindowValue)
      return nodeError(n, "kernel extent {} is too large", k);
  auto strides = windowInts(n, "strides", r, 1, 1);
  if (!strides)
    return strides.takeError();
  auto dilations = windowInts(n, "dilations", r, 1, 1);
  if (!dilations)
    return dilations.takeError();
  auto outputPadding = windowInts(n, "output_padding", r, 0, 0);
  if (!outputPadding)
    return outputPadding.takeError();
  g.strides = *strides;
  g.dilations = *dilations;
  s.outputPadding = *outputPadding;
  // (ONNX asks for output_padding < stride; larger values only add zero
  // positions at the end, so they are accepted.)

  std::string autoPad = n.getString("auto_pad", "NOTSET");
  if (autoPad.empty())
    autoPad = "NOTSET";
  if (autoPad != "NOTSET" && autoPad != "VALID" && autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER")
    return nodeError(n, "auto_pad '{}' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", autoPad);
  // The extent with no padding removed.
  auto fullExtent = [&](size_t d) {
    return g.strides[d] * (g.out[d] - 1) + s.outputPadding[d] + dilatedExtent(g.kernel[d], g.dilations[d]);
  };

  std::vector<int64_t> wanted; // requested output extents, if any
  if (n.has("output_shape")) {
    wanted = n.getInts("output_shape");
    if (wanted.size() == r + 2)
      wanted.erase(wanted.begin(), wanted.begin() + 2);
    if (wanted.size() != r)
      return nodeError(n, "output_shape [{}] must give the {} spatial extents", fmt::join(n.getInts("output_shape"), ","), r);
    for (int64_t e : wanted)
      if (e < 1 || e > kMaxWindowValue)
        return nodeError(n, "output_shape [{}] must hold positive extents", fmt::join(wanted, ","));
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    // Aim for input * stride; where the kernel does not reach that far the
    // output keeps its full extent, unpadded (as onnxruntime does).
    for (size_t d = 0; d < r; ++d)
      wanted.push_back(std::min(g.out[d] * g.strides[d], fullExtent(d)));
  }

  g.pads.assign(2 * r, 0);
  if (!wanted.empty()) {
    for (size_t d = 0; d < r; ++d) {
      int64_t total = fullExtent(d) - wanted[d];
      if (total >= 0) {
        splitTransposePadding(total, autoPad == "SAME_UPPER", g.pads[d], g.pads[d + r]);
      } else if (-total < g.strides[d]) {
        // Up to stride - 1 positions past the kernel's reach: implicit
        // output_padding (zeros at the end), as onnxruntime accepts.
        s.outputPadding[d] -= total;
      } else {
        return nodeError(n, "output_shape [{}] is larger than the transposed convolution reaches ({} along "
                            "spatial axis {})",
                         fmt::join(wanted, ","), fullExtent(d), d);
      }
    }
  } else if (autoPad == "NOTSET") {
    auto pads = windowInts(n, "pads", 2 * r, 0, 0);
    if (!pads)
      return pads.takeError();
    g.pads = *pads;
  }
  g.in.resize(r);
  for (size_t d = 0; d < r; ++d) {
    g.in[d] = fullExtent(d) - g.pads[d] - g.pads[d + r];
    if (g.in[d] < 1)
      return nodeError(n, "pads [{}] remove the whole output along spatial axis {}", fmt::join(g.pads, ","), d);
  }
  return s;
}

// ---- kernels -----------------------------------------------------------------

/// Sets each of `channels` planes of y to its bias (b[m]), or to zero without a bias.
void fillBias(int64_t channels, int64_t planeSize, const float *b, float *y) {
  for (int64_t m = 0; m < channels; ++m)
    std::fill(y + m * planeSize, y + (m + 1) * planeSize, b ? b[m] : 0.f);
}

bool isPointwise(const kernels::WindowGeometry &g) {
  for (size_t d = 0; d < g.rank(); ++d)
    if (g.kernel[d] != 1 || g.strides[d] != 1 || g.pads[d] != 0 || g.pads[d + g.rank()] != 0)
      return false;
  return true;
}

/// Depthwise convolution (one input channel per group) over 1 or 2 spatial axes.
///
/// Each input plane is zero-padded and split into stride phases:
///   phase[rh][rw][i][j] = padded[i*sh + rh][j*sw + rw]   (Hq x Wq each)
/// so that tap (kh, kw) reads phase (kh*dh % sh, kw*dw % sw) at a fixed offset
/// for every output. Each tap is then one long contiguous multiply-add over an
/// OH x Wq accumulator whose columns past OW are scratch; valid columns never
/// wrap into the next row because the window fits the padded input.
struct DepthwisePlan {
  int64_t H, W, OH, OW, KH, KW, sh, sw, dh, dw, padTop, padLeft;
  int64_t Hq, Wq; ///< phase plane extents
};

DepthwisePlan depthwisePlan(const kernels::WindowGeometry &g) {
  const bool twoD = g.rank() == 2;
  const size_t r = g.rank();
  DepthwisePlan p;
  p.H = twoD ? g.in[0] : 1;
  p.W = g.in.back();
  p.OH = twoD ? g.out[0] : 1;
  p.OW = g.out.back();
  p.KH = twoD ? g.kernel[0] : 1;
  p.KW = g.kernel.back();
  p.sh = twoD ? g.strides[0] : 1;
  p.sw = g.strides.back();
  p.dh = twoD ? g.dilations[0] : 1;
  p.dw = g.dilations.back();
  p.padTop = twoD ? g.pads[0] : 0;
  p.padLeft = g.pads[r - 1];
  const int64_t Hp = p.H + p.padTop + (twoD ? g.pads[r] : 0);
  const int64_t Wp = p.W + p.padLeft + g.pads[2 * r - 1];
  p.Hq = (Hp + p.sh - 1) / p.sh;
  p.Wq = (Wp + p.sw - 1) / p.sw;
  return p;
}

/// Splits a padded row into `Stride` phase rows: phase r, column j = row[j*Stride + r].
/// A constant stride lets the compiler vectorize the strided loads.
template <int64_t Stride>
void deinterleaveRow(const float *row, int64_t count, float *phase0, int64_t phaseStride) {
  for (int64_t r = 0; r < Stride; ++r) {
    float *dst = phase0 + r * phaseStride;
    for (int64_t j = 0; j < count; ++j)
      dst[j] = row[j * Stride + r];
  }
}

/// Writes the padded, phase-split copy of one input plane. `rowBuf` holds
/// sw * Wq floats (one padded row). The caller zeroes `phases` and `rowBuf`
/// once: every plane writes the same (interior) positions, so the padding
/// stays zero from one channel to the next.
void splitPhases(const DepthwisePlan &p, const float *x, float *phases, float *rowBuf) {
  const int64_t planeSize = p.Hq * p.Wq;
  for (int64_t ih = 0; ih < p.H; ++ih) {
    const int64_t ph = ih + p.padTop; // row in the padded plane
    const float *src = x + ih * p.W;
    float *rowBase = phases + (ph % p.sh) * p.sw * planeSize + (ph / p.sh) * p.Wq;
    if (p.sw == 1) {
      std::memcpy(rowBase + p.padLeft, src, size_t(p.W) * sizeof(float));
      continue;
    }
    // the padding columns of rowBuf stay zero (the caller zeroed it)
    std::memcpy(rowBuf + p.padLeft, src, size_t(p.W) * sizeof(float));
    if (p.sw == 2) {
      deinterleaveRow<2>(rowBuf, p.Wq, rowBase, planeSize);
    } else {
      for (int64_t r = 0; r < p.sw; ++r)
        for (int64_t j = 0; j < p.Wq; ++j)
          rowBase[r * planeSize + j] = rowBuf[j * p.sw + r];
    }
  }
}

/// Eight floats as one value (GCC/Clang vector extension): one AVX register in
/// the AVX2 clone below, two SSE registers otherwise.
/// Loads and stores go through memcpy: the arrays are only float-aligned.
typedef float Float8 __attribute__((vector_size(32)));

#if defined(__x86_64__)
#define QCC_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define QCC_AVX2_CLONE
#endif

/// acc[o] = bias + sum over taps t (in order) of weights[t] * base[offsets[t] + o].
/// Blocks of 32 outputs stay in registers across the taps. Each output sums
/// its taps in the same order whatever the vector width, and no FMA
/// contraction is enabled, so both clones give bit-identical results.
QCC_AVX2_CLONE void depthwiseTaps(const float *base, const int64_t *offsets, const float *weights,
                                  int64_t taps, float bias, float *acc, int64_t count) {
  int64_t o = 0;
  for (; o + 32 <= count; o += 32) {
    Float8 a0 = {bias, bias, bias, bias, bias, bias, bias, bias};
    Float8 a1 = a0, a2 = a0, a3 = a0;
    for (int64_t t = 0; t < taps; ++t) {
      const float *src = base + offsets[t] + o;
      Float8 x0, x1, x2, x3;
      std::memcpy(&x0, src, sizeof x0);
      std::memcpy(&x1, src + 8, sizeof x1);
      std::memcpy(&x2, src + 16, sizeof x2);
      std::memcpy(&x3, src + 24, sizeof x3);
      const float wv = weights[t];
      a0 += wv * x0;
      a1 += wv * x1;
      a2 += wv * x2;
      a3 += wv * x3;
    }
    std::memcpy(acc + o, &a0, sizeof a0);
    std::memcpy(acc + o + 8, &a1, sizeof a1);
    std::memcpy(acc + o + 16, &a2, sizeof a2);
    std::memcpy(acc + o + 24, &a3, sizeof a3);
  }
  for (; o < count; ++o) {
    float a = bias;
    for (int64_t t = 0; t < taps; ++t)
      a += weights[t] * base[offsets[t] + o];
    acc[o] = a;
  }
}

void depthwiseF32(const ConvShape &s, const float *x, const float *w, const float *b, float *y) {
  const DepthwisePlan p = depthwisePlan(s.geom);
  const int64_t planeSize = p.Hq * p.Wq;
  // Accumulator length rounded up to whole 32-float blocks of depthwiseTaps;
  // the extra outputs are scratch like the columns past OW.
  const int64_t accSize = (p.OH * p.Wq + 31) / 32 * 32;
  // Scratch layout: phase planes, slack (the scratch outputs of the last rows
  // read up to Wq + 31 floats past the last plane), accumulator, padded row.
  const int64_t phasesSize = p.sh * p.sw * planeSize, slack = p.Wq + 32, rowLength = p.sw * p.Wq;
  float *phases = kernels::scratchFloats(size_t(phasesSize + slack + accSize + rowLength));
  float *acc = phases + phasesSize + slack;
  float *rowBuf = acc + accSize;
  std::fill(phases, phases + phasesSize + slack, 0.f);
  std::fill(rowBuf, rowBuf + rowLength, 0.f);
  // where each tap (kh, kw) reads in the phase planes, the same for every channel
  std::vector<int64_t> offsets;
  for (int64_t kh = 0; kh < p.KH; ++kh)
    for (int64_t kw = 0; kw < p.KW; ++kw) {
      const int64_t offH = kh * p.dh, offW = kw * p.dw;
      offsets.push_back(((offH % p.sh) * p.sw + offW % p.sw) * planeSize + (offH / p.sh) * p.Wq + offW / p.sw);
    }
  const int64_t taps = p.KH * p.KW;
  const int64_t perGroup = s.outChannels / s.group;
  for (int64_t i = 0; i < s.batch; ++i)
    for (int64_t c = 0; c < s.inChannels; ++c) {
      splitPhases(p, x + (i * s.inChannels + c) * p.H * p.W, phases, rowBuf);
      for (int64_t m = c * perGroup; m < (c + 1) * perGroup; ++m) {
        depthwiseTaps(phases, offsets.data(), w + m * taps, taps, b ? b[m] : 0.f, acc, accSize);
        float *ym = y + (i * s.outChannels + m) * p.OH * p.OW;
        for (int64_t oh = 0; oh < p.OH; ++oh)
          std::memcpy(ym + oh * p.OW, acc + oh * p.Wq, size_t(p.OW) * sizeof(float));
      }
    }
}

/// Output rows per im2col tile: the column matrix of a tile stays within about
/// 1 MB, so the GEMM reads it from cache instead of memory.
int64_t im2colTileRows(const kernels::WindowGeometry &g, int64_t k) {
  const int64_t rows = g.rank() == 2 ? g.out[0] : 1, rowSize = g.out.back();
  const int64_t budget = int64_t(1) << 18; // floats
  return std::clamp<int64_t>(budget / std::max<int64_t>(k * rowSize, 1), 1, rows);
}

/// Sets columns [begin, end) of the `rows` x `ld` matrix y to the bias of each
/// row (or zero without a bias).
void fillBiasColumns(int64_t rows, int64_t ld, int64_t begin, int64_t end, const float *b, float *y) {
  for (int64_t m = 0; m < rows; ++m)
    std::fill(y + m * ld + begin, y + m * ld + end, b ? b[m] : 0.f);
}

/// The depthwise kernel copies each padded plane; with pads beyond the window
/// (legal, but never useful) that copy could dwarf the output, so such
/// convolutions take the im2col path instead.
bool depthwiseFits(const ConvShape &s) {
  const kernels::WindowGeometry &g = s.geom;
  if (s.inChannels / s.group != 1 || s.group == 1 || g.rank() > 2)
    return false;
  for (size_t d = 0; d < g.rank(); ++d) {
    const int64_t extent = dilatedExtent(g.kernel[d], g.dilations[d]);
    if (g.pads[d] > extent || g.pads[d + g.rank()] > extent)
      return false;
  }
  return true;
}

void convF32(const ConvShape &s, const float *x, const float *w, const float *b, float *y) {
  const kernels::WindowGeometry &g = s.geom;
  const int64_t cg = s.inChannels / s.group, mg = s.outChannels / s.group;
  if (depthwiseFits(s))
    return depthwiseF32(s, x, w, b, y);
  const int64_t inSize = g.inSize(), outSize = g.outSize();
  const int64_t k = cg * g.kernelSize();
  // Output columns are produced in blocks [begin, end): runs of output rows
  // for the 1D/2D im2col (so the column matrix stays in cache), the whole
  // output otherwise; 1x1 convolutions read x directly.
  const bool pointwise = isPointwise(g);
  const bool rowTiles = !pointwise && g.rank() <= 2;
  const int64_t rowSize = g.out.back();
  const int64_t block = rowTiles ? im2colTileRows(g, k) * rowSize : outSize;
  float *col = pointwise ? nullptr : kernels::scratchFloats(size_t(k * block));
  // With a bias, each block starts from it and the GEMM accumulates (beta = 1);
  // without one, BLAS zeroes the block itself (beta = 0).
  const float beta = b ? 1.f : 0.f;
  for (int64_t i = 0; i < s.batch; ++i)
    for (int64_t grp = 0; grp < s.group; ++grp) {
      const float *xg = x + (i * s.inChannels + grp * cg) * inSize;
      float *yg = y + (i * s.outChannels + grp * mg) * outSize;
      const float *wg = w + grp * mg * k;
      const float *bg = b ? b + grp * mg : nullptr;
      for (int64_t begin = 0; begin < outSize; begin += block) {
        const int64_t end = std::min(outSize, begin + block), n = end - begin;
        if (bg)
          fillBiasColumns(mg, outSize, begin, end, bg, yg);
        if (pointwise) {
          kernels::sgemm(false, false, mg, n, k, 1.f, wg, k, xg, outSize, beta, yg, outSize);
          continue;
        }
        if (rowTiles)
          kernels::im2col2D(g, cg, xg, col, begin / rowSize, end / rowSize);
        else
          kernels::im2col(g, cg, xg, col);
        kernels::sgemm(false, false, mg, n, k, 1.f, wg, k, col, n, beta, yg + begin, outSize);
      }
    }
}

void convTransposeF32(const ConvShape &s, const float *x, const float *w, const float *b, float *y) {
  const kernels::WindowGeometry &g = s.geom;
  const int64_t cg = s.inChannels / s.group, mg = s.outChannels / s.group;
  const int64_t xSize = g.outSize(), ySize = g.inSize(), taps = g.kernelSize();
  float *col = kernels::scratchFloats(size_t(mg * taps * xSize));
  for (int64_t i = 0; i < s.batch; ++i)
    fillBias(s.outChannels, ySize, b, y + i * s.outChannels * ySize);
  for (int64_t i = 0; i < s.batch; ++i)
    for (int64_t grp = 0; grp < s.group; ++grp) {
      const float *xg = x + (i * s.inChannels + grp * cg) * xSize;
      const float *wg = w + grp * cg * mg * taps; // W is [C, M/group, taps...]
      float *yg = y + (i * s.outChannels + grp * mg) * ySize;
      // col[(m, taps), xPos] = sum_c W[c, m, taps] * x[c, xPos]
      kernels::sgemm(true, false, mg * taps, xSize, cg, 1.f, wg, mg * taps, xg, xSize, 0.f, col, xSize);
      kernels::col2imAdd(g, mg, col, yg);
    }
}

// ---- op definitions ------------------------------------------------------------

Shape outputShape(const ConvShape &s, const std::vector<int64_t> &spatial) {
  Shape out{s.batch, s.outChannels};
  out.insert(out.end(), spatial.begin(), spatial.end());
  return out;
}

llvm::Error canonicalizeConv(Node &n, int64_t) {
  auto s = convShape(n);
  if (!s)
    return s.takeError();
  storeWindow(n, s->geom);
  n.attrs["group"] = s->group;
  return llvm::Error::success();
}

llvm::Error inferConv(Node &n) {
  auto s = convShape(n);
  if (!s)
    return s.takeError();
  setOutput(n, 0, ElemType::f32(), outputShape(*s, s->geom.out));
  return llvm::Error::success();
}

const float *optionalData(llvm::ArrayRef<const Tensor *> in, size_t i) {
  return i < in.size() && in[i] ? in[i]->data<float>() : nullptr;
}

llvm::Error evalConv(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto s = convShape(n);
  if (!s)
    return s.takeError();
  convF32(*s, in[0]->data<float>(), in[1]->data<float>(), optionalData(in, 2), out[0].data<float>());
  applyFusedClamp(n, out[0]);
  return llvm::Error::success();
}

int64_t macsConv(const Node &n) {
  // every output element reads C/group x kernel taps weights: W's size / M
  const TensorType &w = inType(n, 1);
  const TensorType &y = n.outputs[0]->type;
  return y.numElements() * (w.numElements() / std::max<int64_t>(w.shape[0], 1));
}

llvm::Error canonicalizeConvTranspose(Node &n, int64_t) {
  auto s = convTransposeShape(n);
  if (!s)
    return s.takeError();
  storeWindow(n, s->geom);
  n.attrs["output_padding"] = s->outputPadding;
  n.attrs["group"] = s->group;
  n.attrs.erase("output_shape");
  return llvm::Error::success();
}

llvm::Error inferConvTranspose(Node &n) {
  auto s = convTransposeShape(n);
  if (!s)
    return s.takeError();
  setOutput(n, 0, ElemType::f32(), outputShape(*s, s->geom.in));
  return llvm::Error::success();
}

llvm::Error evalConvTranspose(const Node &n, llvm::ArrayRef<const Tensor *> in,
                              llvm::MutableArrayRef<Tensor> out) {
  auto s = convTransposeShape(n);
  if (!s)
    return s.takeError();
  convTransposeF32(*s, in[0]->data<float>(), in[1]->data<float>(), optionalData(in, 2), out[0].data<float>());
  applyFusedClamp(n, out[0]);
  return llvm::Error::success();
}

int64_t macsConvTranspose(const Node &n) {
  // every input element is multiplied by M/group x kernel taps weights: W's size / C
  const TensorType &x = inType(n, 0), &w = inType(n, 1);
  return x.numElements() * (w.numElements() / std::max<int64_t>(w.shape[0], 1));
}

} // namespace

void registerConvOps(OpRegistry &r) {
  kernels::useSingleThreadedBlas();
  r.add({"Conv", "", canonicalizeConv, inferConv, evalConv, macsConv});
  r.add({"ConvTranspose", "", canonicalizeConvTranspose, inferConvTranspose, evalConvTranspose,
         macsConvTranspose});
}

} // namespace qcc
