// qcc::QTrunc: QONNX Trunc (and the average pooling brevitas exports before it)
// on the integers. quant/LowerQonnxTrunc.h derives its attributes; the eval
// here is the integer reference, runtime_stub/qcc/trunc.h the kernel.
//
//   QTrunc(x)   x: integers. Attributes: x_zero_point (0), offset (0), shift,
//               rounding_mode (FLOOR, CEIL, ROUND, HALF_EVEN, UP, DOWN,
//               HALF_UP, HALF_DOWN), out_min, out_max, out_bits, out_signed;
//               optional kernel_shape [kh, kw], strides, pads [t, l, b, r]
//               (x is then N x C x H x W).
//     acc = offset + sum over the window's taps inside the image of (x - x_zero_point)
//           (no kernel_shape: the window is the element itself; a padded tap
//           adds 0, as a zero-padded float average pool of a zero-point grid)
//     y   = clamp(round_mode(acc / 2^shift), out_min, out_max)
//   exact (64-bit integers; shift < 0 multiplies by 2^-shift).
#include "ops/OpRegistry.h"
#include "ops/QonnxRounding.h"

#include <llvm/ADT/StringRef.h>

#include <algorithm>

namespace qcc {

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

/// Default FLOOR, as qonnx's Trunc; the message names the mode upper-cased.
llvm::Expected<QonnxRounding> modeOf(const Node &n) {
  const std::string s = n.getString("rounding_mode", "FLOOR");
  if (auto m = parseQonnxRounding(s))
    return *m;
  return nodeError(n, "unknown rounding_mode '{}'", llvm::StringRef(s).upper());
}

struct Window {
  bool pooled = false;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
};

llvm::Expected<Window> windowOf(const Node &n) {
  Window w;
  if (!n.has("kernel_shape"))
    return w;
  w.pooled = true;
  const auto k = n.getInts("kernel_shape"), s = n.getInts("strides", {1, 1}), p = n.getInts("pads", {0, 0, 0, 0});
  if (k.size() != 2 || s.size() != 2 || p.size() != 4)
    return nodeError(n, "kernel_shape, strides and pads must describe a 2-D window");
  w.kh = k[0], w.kw = k[1], w.sh = s[0], w.sw = s[1], w.pt = p[0], w.pl = p[1], w.pb = p[2], w.pr = p[3];
  if (w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1 || *std::min_element(p.begin(), p.end()) < 0)
    return nodeError(n, "invalid pooling window");
  return w;
}

Error inferQTrunc(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  if (!x.elem.isInt())
    return nodeError(n, "input must be an integer tensor, is {}", x.str());
  auto m = modeOf(n);
  if (!m)
    return m.takeError();
  const int64_t shift = n.getInt("shift", 0);
  if (shift < -30 || shift > 62)
    return nodeError(n, "shift {} is out of range", shift);
  auto w = windowOf(n);
  if (!w)
    return w.takeError();
  Shape ys = x.shape;
  if (w->pooled) {
    if (x.rank() != 4)
      return nodeError(n, "pooling needs an N x C x H x W input, is {}", x.str());
    const int64_t oh = (ys[2] + w->pt + w->pb - w->kh) / w->sh + 1, ow = (ys[3] + w->pl + w->pr - w->kw) / w->sw + 1;
    if (oh < 1 || ow < 1)
      return nodeError(n, "window larger than the padded input {}", x.str());
    ys[2] = oh;
    ys[3] = ow;
  }
  const int64_t bits = n.getInt("out_bits", 8);
  if (bits < 1 || bits > 32)
    return nodeError(n, "out_bits {} is out of range", bits);
  setOutput(n, 0, ElemType::intN(unsigned(bits), n.getInt("out_signed", 1) != 0), ys);
  return ok();
}

Error evalQTrunc(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto m = modeOf(n);
  if (!m)
    return m.takeError();
  auto w = windowOf(n);
  if (!w)
    return w.takeError();
  const Tensor &x = *in[0];
  Tensor &y = out[0];
  const int64_t zx = n.getInt("x_zero_point", 0), offset = n.getInt("offset", 0), shift = n.getInt("shift", 0);
  QuantInfo range;
  range.bits = y.elem().bits();
  range.isSigned = y.elem().isSigned();
  const int64_t lo = std::max(n.getInt("out_min", range.qmin()), range.qmin());
  const int64_t hi = std::min(n.getInt("out_max", range.qmax()), range.qmax());
  auto finish = [&](int64_t acc) {
    int64_t v = shift > 0 ? qonnxRoundShift(acc, int(shift), *m) : acc * (int64_t(1) << -shift);
    return std::min(std::max(v, lo), hi);
  };
  if (!w->pooled) {
    for (int64_t i = 0; i < x.size(); ++i)
      y.setDouble(i, double(finish(offset + x.getInt(i) - zx)));
    return ok();
  }
  const Shape &xs = x.shape(), &ys = y.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], OH = ys[2], OW = ys[3];
  for (int64_t b = 0; b < N; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t acc = offset;
          for (int64_t ky = 0; ky < w->kh; ++ky)
            for (int64_t kx = 0; kx < w->kw; ++kx) {
              const int64_t iy = oy * w->sh - w->pt + ky, ix = ox * w->sw - w->pl + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                acc += x.getInt(((b * C + c) * H + iy) * W + ix) - zx;
            }
          y.setDouble(((b * C + c) * OH + oy) * OW + ox, double(finish(acc)));
        }
  return ok();
}

} // namespace

void registerTruncOps(OpRegistry &r) { r.add({"QTrunc", "qcc", nullptr, inferQTrunc, evalQTrunc}); }

} // namespace qcc
