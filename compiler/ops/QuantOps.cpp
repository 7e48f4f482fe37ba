// Quantization boundary ops (ONNX QuantizeLinear / DequantizeLinear) and the
// integer ops of the lowered graph (domain "qcc"). Their eval functions are the
// integer reference: the exact definition every backend reproduces bit for bit.
//
// Integer ops (requantization attributes: see quant/RequantAttrs.h; every op
// clamps its output to [out_min, out_max], default the output type's range;
// the output element type is int<out_bits>, signed when out_signed=1):
//   QConv(x, w, bias)   x: int8/uint8 NCHW, w: int8 [Cout, Cin/group, kh, kw],
//                       bias: int32 [Cout] with the input zero point folded in
//                       (bias_q - x_zero_point * sum(w)); padding reads
//                       x_zero_point. y = clamp(out_zero_point + R_c(acc)).
//                       Attributes: strides, pads, dilations, group, x_zero_point.
//   QGemm(x, w, bias)   x: [..., K], w: int8 [N, K], bias: int32 [N] (zero point
//                       folded in as for QConv). y[..., n] = clamp(zp + R_n(acc)).
//   QAdd(a, b)          a_zero_point, b_zero_point; tflite/single: both inputs
//                       shifted left by 20 bits, scaled by a_/b_ requantizers
//                       to a shared scale, summed, then the output requantizer;
//                       onnx: nearbyint(float(a-za)*a_scale + float(b-zb)*b_scale).
//   QMul(a, b)          acc = (a - za) * (b - zb); y = clamp(zp + R(acc)).
//   Requantize(x)       x_zero_point; y = clamp(zp + R(x - zx)).
//   QGlobalAveragePool  x_zero_point; acc = sum over H*W of (x - zx); R folds 1/(H*W).
//   Lut(x)              8-bit x: y = table[x - qmin(x)] (256 or fewer entries).
#include "ops/OpRegistry.h"
#include "ops/Broadcast.h"
#include "quant/RequantAttrs.h"

#include <cmath>
#include <cstring>

namespace qcc {

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

template <typename F> Error forIntStorage(const Node &n, Storage s, F &&f) {
  switch (s) {
  case Storage::I8: f(int8_t{}); return ok();
  case Storage::U8: f(uint8_t{}); return ok();
  case Storage::I16: f(int16_t{}); return ok();
  case Storage::U16: f(uint16_t{}); return ok();
  case Storage::I32: f(int32_t{}); return ok();
  default: return nodeError(n, "integer kernel does not support this element type");
  }
}

ElemType outElem(const Node &n) {
  return ElemType::intN(unsigned(n.getInt("out_bits", 8)), n.getInt("out_signed", 1) != 0);
}

// Writes clamp(v) into y[i] for the output's storage.
template <typename T> void store(T *y, int64_t i, int32_t v) { y[i] = T(v); }

// ---- QuantizeLinear / DequantizeLinear (ONNX semantics) ----------------------

struct AxisParams {
  std::vector<float> scale;
  std::vector<int64_t> zp;
  int64_t axis = -1, inner = 1, channels = 1;
};

llvm::Expected<AxisParams> axisParams(const Node &n, const Shape &x) {
  AxisParams p;
  Value *s = n.input(1), *z = n.input(2);
  if (!s || !s->isConstant())
    return nodeError(n, "scale must be a constant");
  if (z && !z->isConstant())
    return nodeError(n, "zero point must be a constant");
  p.scale = s->constant->toFloats();
  p.zp = z ? z->constant->toInts() : std::vector<int64_t>(p.scale.size(), 0);
  if (p.zp.size() != p.scale.size())
    return nodeError(n, "scale has {} values, zero point {}", p.scale.size(), p.zp.size());
  if (n.has("block_size") && n.getInt("block_size", 0) != 0)
    return nodeError(n, "blocked quantization (block_size) is not supported");
  for (float v : p.scale)
    if (!(v > 0) || !std::isfinite(v))
      return nodeError(n, "scale {} is not a positive finite number", v);
  if (s->type.rank() == 1 && p.scale.size() >= 1 && !(p.scale.size() == 1 && x.empty())) {
    if (s->type.shape[0] != 1 || n.has("axis")) {
      auto a = normAxis(n, n.getInt("axis", 1), int64_t(x.size()));
      if (!a)
        return a.takeError();
      p.axis = *a;
      p.channels = x[size_t(p.axis)];
      if (int64_t(p.scale.size()) != p.channels && p.scale.size() != 1)
        return nodeError(n, "{} scales for axis {} of size {}", p.scale.size(), p.axis, p.channels);
      if (p.scale.size() == 1)
        p.axis = -1;
      else
        for (size_t d = size_t(p.axis) + 1; d < x.size(); ++d)
          p.inner *= x[d];
    }
  } else if (s->type.rank() > 1) {
    return nodeError(n, "scale of rank {} (blocked quantization) is not supported", s->type.rank());
  }
  return p;
}

size_t channelOf(const AxisParams &p, int64_t i) {
  return p.axis < 0 ? 0 : size_t((i / p.inner) % p.channels);
}

Error inferQuantize(Node &n) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  ElemType out = n.input(2) ? inType(n, 2).elem : ElemType::intN(8, false);
  if (!out.isInt() || out.bits() > 32)
    return nodeError(n, "output type {} is not supported (int8, uint8, int16, uint16, int32)", out.str());
  if (!inType(n, 0).elem.isFloat())
    return nodeError(n, "input must be float, is {}", inType(n, 0).str());
  auto p = axisParams(n, inType(n, 0).shape);
  if (!p)
    return p.takeError();
  setOutput(n, 0, out, inType(n, 0).shape);
  return ok();
}

Error evalQuantize(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto p = axisParams(n, in[0]->shape());
  if (!p)
    return p.takeError();
  QuantInfo q;
  q.bits = out[0].elem().bits();
  q.isSigned = out[0].elem().isSigned();
  const double lo = double(q.qmin()), hi = double(q.qmax());
  const float *x = in[0]->data<float>();
  return forIntStorage(n, out[0].elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *y = out[0].data<T>();
    for (int64_t i = 0; i < in[0]->size(); ++i) {
      size_t c = channelOf(*p, i);
      // ONNX: saturate(round_half_even(x / scale) + zero_point), in float32.
      double v = double(std::nearbyint(x[i] / p->scale[c])) + double(p->zp[c]);
      y[i] = T(std::isnan(v) ? 0 : std::min(std::max(v, lo), hi));
    }
  });
}

Error inferDequantize(Node &n) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  if (!inType(n, 0).elem.isInt())
    return nodeError(n, "input must be an integer tensor, is {}", inType(n, 0).str());
  auto p = axisParams(n, inType(n, 0).shape);
  if (!p)
    return p.takeError();
  setOutput(n, 0, ElemType::f32(), inType(n, 0).shape);
  return ok();
}

Error evalDequantize(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto p = axisParams(n, in[0]->shape());
  if (!p)
    return p.takeError();
  float *y = out[0].data<float>();
  return forIntStorage(n, in[0]->elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    const T *x = in[0]->data<T>();
    for (int64_t i = 0; i < in[0]->size(); ++i) {
      size_t c = channelOf(*p, i);
      y[i] = float(int64_t(x[i]) - p->zp[c]) * p->scale[c];
    }
  });
}

// ---- QConv ------------------------------------------------------------------

struct QConvGeom {
  int64_t n, cin, h, w, cout, kh, kw, oh, ow, group, sh, sw, dh, dw, pt, pl;
};

llvm::Expected<QConvGeom> qconvGeom(const Node &n) {
  const Shape &x = inType(n, 0).shape, &w = inType(n, 1).shape;
  if (x.size() != 4 && x.size() != 3)
    return nodeError(n, "QConv supports 1-D and 2-D convolution, input is {}", inType(n, 0).str());
  if (w.size() != x.size())
    return nodeError(n, "weight rank {} differs from input rank {}", w.size(), x.size());
  bool oneD = x.size() == 3;
  QConvGeom g;
  g.n = x[0];
  g.cin = x[1];
  g.h = oneD ? 1 : x[2];
  g.w = x.back();
  g.cout = w[0];
  g.kh = oneD ? 1 : w[2];
  g.kw = w.back();
  g.group = n.getInt("group", 1);
  auto strides = n.getInts("strides", std::vector<int64_t>(x.size() - 2, 1));
  auto dil = n.getInts("dilations", std::vector<int64_t>(x.size() - 2, 1));
  auto pads = n.getInts("pads", std::vector<int64_t>(2 * (x.size() - 2), 0));
  if (strides.size() != x.size() - 2 || dil.size() != x.size() - 2 || pads.size() != 2 * (x.size() - 2))
    return nodeError(n, "strides/dilations/pads do not match the spatial rank");
  g.sh = oneD ? 1 : strides[0];
  g.sw = strides.back();
  g.dh = oneD ? 1 : dil[0];
  g.dw = dil.back();
  g.pt = oneD ? 0 : pads[0];
  g.pl = oneD ? pads[0] : pads[1];
  int64_t pb = oneD ? 0 : pads[2], pr = oneD ? pads[1] : pads[3];
  if (g.group < 1 || g.cin % g.group || g.cout % g.group || w[1] * g.group != g.cin)
    return nodeError(n, "group {} does not fit {} input / {} output channels (weight {})", g.group, g.cin, g.cout,
                     inType(n, 1).str());
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    return nodeError(n, "strides and dilations must be positive");
  g.oh = (g.h + g.pt + pb - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (g.w + g.pl + pr - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  if (g.oh < 1 || g.ow < 1)
    return nodeError(n, "the kernel is larger than the padded input");
  return g;
}

Error inferQConv(Node &n) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  auto g = qconvGeom(n);
  if (!g)
    return g.takeError();
  if (n.input(2) && (inType(n, 2).elem != ElemType::i32() || inType(n, 2).numElements() != g->cout))
    return nodeError(n, "bias must be int32 [{}], is {}", g->cout, inType(n, 2).str());
  Shape out = inType(n, 0).rank() == 3 ? Shape{g->n, g->cout, g->ow} : Shape{g->n, g->cout, g->oh, g->ow};
  setOutput(n, 0, outElem(n), out);
  return ok();
}

Error evalQConv(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto g = qconvGeom(n);
  if (!g)
    return g.takeError();
  auto rqs = getRequants(n, g->cout);
  if (!rqs)
    return rqs.takeError();
  int32_t lo, hi;
  outputClamp(n, lo, hi);
  const int32_t zx = int32_t(n.getInt("x_zero_point", 0));
  const int32_t zo = int32_t(n.getInt("out_zero_point", 0));
  const int64_t cinG = g->cin / g->group, coutG = g->cout / g->group;
  const int64_t K = cinG * g->kh * g->kw, P = g->oh * g->ow;
  std::vector<int32_t> col(static_cast<size_t>(K * P)), acc(static_cast<size_t>(P)), wrow(static_cast<size_t>(K));
  const Tensor &w = *in[1];
  const int32_t *bias = in[2] ? in[2]->data<int32_t>() : nullptr;
  return forIntStorage(n, in[0]->elem().storage(), [&](auto xtag) {
    using TX = decltype(xtag);
    const TX *x = in[0]->data<TX>();
    (void)forIntStorage(n, out[0].elem().storage(), [&](auto ytag) {
      using TY = decltype(ytag);
      TY *y = out[0].data<TY>();
      for (int64_t b = 0; b < g->n; ++b)
        for (int64_t grp = 0; grp < g->group; ++grp) {
          // im2col with the input zero point in the padding.
          for (int64_t c = 0; c < cinG; ++c)
            for (int64_t ky = 0; ky < g->kh; ++ky)
              for (int64_t kx = 0; kx < g->kw; ++kx) {
                int32_t *dst = &col[size_t(((c * g->kh + ky) * g->kw + kx) * P)];
                const TX *plane = x + ((b * g->cin) + grp * cinG + c) * g->h * g->w;
                for (int64_t oy = 0; oy < g->oh; ++oy) {
                  int64_t iy = oy * g->sh - g->pt + ky * g->dh;
                  for (int64_t ox = 0; ox < g->ow; ++ox) {
                    int64_t ix = ox * g->sw - g->pl + kx * g->dw;
                    bool inside = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                    dst[oy * g->ow + ox] = inside ? int32_t(plane[iy * g->w + ix]) : zx;
                  }
                }
              }
          for (int64_t oc = 0; oc < coutG; ++oc) {
            const int64_t co = grp * coutG + oc;
            for (int64_t k = 0; k < K; ++k)
              wrow[size_t(k)] = int32_t(w.getInt(co * K + k));
            std::fill(acc.begin(), acc.end(), bias ? bias[co] : 0);
            for (int64_t k = 0; k < K; ++k) {
              const int32_t wk = wrow[size_t(k)];
              const int32_t *src = &col[size_t(k * P)];
              for (int64_t p = 0; p < P; ++p)
                acc[size_t(p)] += wk * src[p];
            }
            const Requant &rq = (*rqs)[rqs->size() == 1 ? 0 : size_t(co)];
            TY *dst = y + (b * g->cout + co) * P;
            for (int64_t p = 0; p < P; ++p)
              dst[p] = TY(requantizeOutput(acc[size_t(p)], rq, zo, lo, hi));
          }
        }
    });
  });
}

int64_t macsQConv(const Node &n) {
  const TensorType &w = inType(n, 1);
  const TensorType &y = n.outputs[0]->type;
  int64_t perOut = w.numElements() / std::max<int64_t>(w.shape[0], 1);
  return y.numElements() * perOut;
}

// ---- QGemm ------------------------------------------------------------------

Error inferQGemm(Node &n) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  const TensorType &x = inType(n, 0), &w = inType(n, 1);
  if (x.rank() < 1 || w.rank() != 2 || x.shape.back() != w.shape[1])
    return nodeError(n, "x {} and weight {} do not multiply (weight is [N, K])", x.str(), w.str());
  if (n.input(2) && (inType(n, 2).elem != ElemType::i32() || inType(n, 2).numElements() != w.shape[0]))
    return nodeError(n, "bias must be int32 [{}], is {}", w.shape[0], inType(n, 2).str());
  Shape out = x.shape;
  out.back() = w.shape[0];
  setOutput(n, 0, outElem(n), out);
  return ok();
}

Error evalQGemm(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const int64_t N = in[1]->shape()[0], K = in[1]->shape()[1], M = in[0]->size() / std::max<int64_t>(K, 1);
  auto rqs = getRequants(n, N);
  if (!rqs)
    return rqs.takeError();
  int32_t lo, hi;
  outputClamp(n, lo, hi);
  const int32_t zo = int32_t(n.getInt("out_zero_point", 0));
  std::vector<int32_t> w(static_cast<size_t>(N * K)), xrow(static_cast<size_t>(K));
  for (int64_t i = 0; i < N * K; ++i)
    w[size_t(i)] = int32_t(in[1]->getInt(i));
  const int32_t *bias = in[2] ? in[2]->data<int32_t>() : nullptr;
  return forIntStorage(n, in[0]->elem().storage(), [&](auto xtag) {
    using TX = decltype(xtag);
    const TX *x = in[0]->data<TX>();
    (void)forIntStorage(n, out[0].elem().storage(), [&](auto ytag) {
      using TY = decltype(ytag);
      TY *y = out[0].data<TY>();
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t k = 0; k < K; ++k)
          xrow[size_t(k)] = int32_t(x[m * K + k]);
        for (int64_t o = 0; o < N; ++o) {
          int32_t acc = bias ? bias[o] : 0;
          const int32_t *wr = &w[size_t(o * K)];
          for (int64_t k = 0; k < K; ++k)
            acc += xrow[size_t(k)] * wr[k];
          const Requant &rq = (*rqs)[rqs->size() == 1 ? 0 : size_t(o)];
          y[m * N + o] = TY(requantizeOutput(acc, rq, zo, lo, hi));
        }
      }
    });
  });
}

int64_t macsQGemm(const Node &n) { return n.outputs[0]->type.numElements() * inType(n, 1).shape[1]; }

// ---- QAdd, QMul ---------------------------------------------------------------

constexpr int kAddLeftShift = 20;

Error inferQBinary(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  auto s = broadcastShapes(n, inType(n, 0).shape, inType(n, 1).shape);
  if (!s)
    return s.takeError();
  setOutput(n, 0, outElem(n), *s);
  return ok();
}

template <typename F>
Error evalIntBinary(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out, F &&f) {
  Tensor &y = out[0];
  std::vector<int32_t> a(static_cast<size_t>(in[0]->size())), b(static_cast<size_t>(in[1]->size()));
  for (int64_t i = 0; i < in[0]->size(); ++i)
    a[size_t(i)] = int32_t(in[0]->getInt(i));
  for (int64_t i = 0; i < in[1]->size(); ++i)
    b[size_t(i)] = int32_t(in[1]->getInt(i));
  return forIntStorage(n, y.elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *py = y.data<T>();
    forEachBroadcast(y.shape(), in[0]->shape(), in[1]->shape(),
                     [&](int64_t o, int64_t ia, int64_t ib) { py[o] = T(f(a[size_t(ia)], b[size_t(ib)])); });
  });
}

Error evalQAdd(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto ra = getRequants(n, 1, "a_"), rb = getRequants(n, 1, "b_"), ro = getRequants(n, 1);
  if (!ra || !rb || !ro) {
    llvm::Error e = llvm::joinErrors(ra.takeError(), llvm::joinErrors(rb.takeError(), ro.takeError()));
    return e;
  }
  int32_t lo, hi;
  outputClamp(n, lo, hi);
  const int32_t za = int32_t(n.getInt("a_zero_point", 0)), zb = int32_t(n.getInt("b_zero_point", 0));
  const int32_t zo = int32_t(n.getInt("out_zero_point", 0));
  const Requant A = (*ra)[0], B = (*rb)[0], O = (*ro)[0];
  if (A.rounding == Rounding::Onnx)
    return evalIntBinary(n, in, out, [&](int32_t a, int32_t b) {
      float v = float(a - za) * A.scale + float(b - zb) * B.scale;
      float r = std::nearbyint(v) + float(zo);
      return int32_t(std::min(std::max(r, float(lo)), float(hi)));
    });
  return evalIntBinary(n, in, out, [&](int32_t a, int32_t b) {
    int32_t sa = requantize(int64_t(a - za) * (1 << kAddLeftShift), A);
    int32_t sb = requantize(int64_t(b - zb) * (1 << kAddLeftShift), B);
    return requantizeOutput(int64_t(sa) + sb, O, zo, lo, hi);
  });
}

Error evalQMul(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto o = getOutputRequant(n);
  if (!o)
    return o.takeError();
  const int32_t za = int32_t(n.getInt("a_zero_point", 0)), zb = int32_t(n.getInt("b_zero_point", 0));
  return evalIntBinary(n, in, out, [&](int32_t a, int32_t b) { return o->apply(int64_t(a - za) * int64_t(b - zb)); });
}

// ---- Requantize, QGlobalAveragePool, Lut --------------------------------------

Error inferUnaryInt(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  if (!inType(n, 0).elem.isInt())
    return nodeError(n, "input must be an integer tensor, is {}", inType(n, 0).str());
  setOutput(n, 0, outElem(n), inType(n, 0).shape);
  return ok();
}

Error evalRequantize(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto o = getOutputRequant(n);
  if (!o)
    return o.takeError();
  const int64_t zx = n.getInt("x_zero_point", 0);
  return forIntStorage(n, out[0].elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *y = out[0].data<T>();
    for (int64_t i = 0; i < in[0]->size(); ++i)
      y[i] = T(o->apply(in[0]->getInt(i) - zx));
  });
}

Error inferQGap(Node &n) {
  if (auto e = inferUnaryInt(n))
    return e;
  Shape s = inType(n, 0).shape;
  if (s.size() < 3)
    return nodeError(n, "input must be N x C x spatial, is {}", inType(n, 0).str());
  for (size_t d = 2; d < s.size(); ++d)
    s[d] = 1;
  setOutput(n, 0, outElem(n), s);
  return ok();
}

Error evalQGap(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto o = getOutputRequant(n);
  if (!o)
    return o.takeError();
  const int64_t zx = n.getInt("x_zero_point", 0);
  const int64_t planes = out[0].size(), area = in[0]->size() / std::max<int64_t>(planes, 1);
  return forIntStorage(n, out[0].elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *y = out[0].data<T>();
    for (int64_t p = 0; p < planes; ++p) {
      int64_t acc = 0;
      for (int64_t i = 0; i < area; ++i)
        acc += in[0]->getInt(p * area + i) - zx;
      y[p] = T(o->apply(acc));
    }
  });
}

Error inferLut(Node &n) {
  if (auto e = inferUnaryInt(n))
    return e;
  const ElemType e = inType(n, 0).elem;
  if (e.bits() > 8)
    return nodeError(n, "lookup tables take inputs of at most 8 bits, input is {}", e.str());
  if (int64_t(n.getInts("table").size()) != (int64_t(1) << e.bits()))
    return nodeError(n, "table has {} entries, a {} input needs {}", n.getInts("table").size(), e.str(),
                     int64_t(1) << e.bits());
  return ok();
}

Error evalLut(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const auto table = n.getInts("table");
  QuantInfo q;
  q.bits = in[0]->elem().bits();
  q.isSigned = in[0]->elem().isSigned();
  const int64_t base = q.qmin();
  return forIntStorage(n, out[0].elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *y = out[0].data<T>();
    for (int64_t i = 0; i < in[0]->size(); ++i)
      y[i] = T(table[size_t(in[0]->getInt(i) - base)]);
  });
}

// ---- Grid annotation of DequantizeLinear outputs (added for QDQ import) -------
//
// The frontend folds DequantizeLinear of constant weights into float
// constants. Recording the grid on the output value (Value::quant: "this float
// value is fake-quantized to that grid") keeps the integers recoverable, so
// quant/ImportQdq can rebuild the int8 weights and int32 biases ONNX Runtime's
// fused kernels use. Semantics of the op are unchanged.
Error canonicalizeDequantize(Node &n, int64_t) {
  Value *y = n.output(0);
  if (!y || !n.input(0) || !n.input(1) || !n.input(1)->isConstant() || (n.input(2) && !n.input(2)->isConstant()))
    return ok();
  const ElemType e = inType(n, 0).elem;
  if (!e.isInt() || e.bits() > 32)
    return ok(); // infer reports it
  auto p = axisParams(n, inType(n, 0).shape);
  if (!p) {
    llvm::consumeError(p.takeError()); // infer reports it
    return ok();
  }
  QuantInfo q;
  q.scale = p->scale;
  q.zeroPoint = p->zp;
  q.axis = p->axis;
  q.bits = e.bits();
  q.isSigned = e.isSigned();
  q.rounding = Rounding::Onnx;
  y->quant = std::move(q);
  return ok();
}

// ---- QAddFma: ONNX Runtime's x86 QLinearAdd (added for QDQ / QOperator import) ----
//
//   QAddFma(a, b)   attributes a_zero_point, b_zero_point, out_zero_point and
//                   a_ratio, b_ratio (float32 s_a / s_c and s_b / s_c). With
//                   offset = float(z_c) - fma(a_ratio, z_a, b_ratio * z_b) (float32),
//                   y = clamp(round_half_even(fma(a, a_ratio, fma(b, b_ratio, offset))))
//                   on the raw integers; where a is broadcast along the innermost
//                   axis the fmas nest the other way: fma(b, b_ratio, fma(a, a_ratio, offset)).
// This is MLAS's AVX2 kernel bit for bit (its scalar-a path folds a into the
// offset first). QAdd's onnx mode rounds differently in about 5 of a million
// sums, which deep residual networks amplify.
Error evalQAddFma(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  int32_t lo, hi;
  outputClamp(n, lo, hi);
  const float ra = n.getFloat("a_ratio", 1.f), rb = n.getFloat("b_ratio", 1.f);
  const float za = float(n.getInt("a_zero_point", 0)), zb = float(n.getInt("b_zero_point", 0));
  const float zc = float(n.getInt("out_zero_point", 0));
  const float offset = zc - std::fma(ra, za, rb * zb);
  Tensor &y = out[0];
  std::vector<float> a(static_cast<size_t>(in[0]->size())), b(static_cast<size_t>(in[1]->size()));
  for (int64_t i = 0; i < in[0]->size(); ++i)
    a[size_t(i)] = float(in[0]->getInt(i));
  for (int64_t i = 0; i < in[1]->size(); ++i)
    b[size_t(i)] = float(in[1]->getInt(i));
  // a is constant along the innermost axis: MLAS's scalar-a kernel.
  const Shape &ys = y.shape(), &as = in[0]->shape();
  const bool scalarA = !ys.empty() && ys.back() > 1 && (as.empty() || as.back() == 1);
  auto round = [&](float v) {
    float r = std::nearbyint(v);
    return int32_t(std::min(std::max(r, float(lo)), float(hi)));
  };
  return forIntStorage(n, y.elem().storage(), [&](auto tag) {
    using T = decltype(tag);
    T *py = y.data<T>();
    forEachBroadcast(ys, as, in[1]->shape(), [&](int64_t o, int64_t ia, int64_t ib) {
      const float va = a[size_t(ia)], vb = b[size_t(ib)];
      py[o] = T(scalarA ? round(std::fma(vb, rb, std::fma(va, ra, offset)))
                        : round(std::fma(va, ra, std::fma(vb, rb, offset))));
    });
  });
}

} // namespace

void registerQuantOps(OpRegistry &r) {
  r.add({"QuantizeLinear", "", nullptr, inferQuantize, evalQuantize});
  r.add({"DequantizeLinear", "", canonicalizeDequantize, inferDequantize, evalDequantize});
  r.add({"QConv", "qcc", nullptr, inferQConv, evalQConv, macsQConv});
  r.add({"QGemm", "qcc", nullptr, inferQGemm, evalQGemm, macsQGemm});
  r.add({"QAdd", "qcc", nullptr, inferQBinary, evalQAdd});
  r.add({"QMul", "qcc", nullptr, inferQBinary, evalQMul});
  r.add({"Requantize", "qcc", nullptr, inferUnaryInt, evalRequantize});
  r.add({"QGlobalAveragePool", "qcc", nullptr, inferQGap, evalQGap});
  r.add({"Lut", "qcc", nullptr, inferLut, evalLut});
  r.add({"QAddFma", "qcc", nullptr, inferQBinary, evalQAddFma});
}

} // namespace qcc
