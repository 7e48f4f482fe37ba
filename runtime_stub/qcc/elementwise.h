// qcc kernel library: elementwise ops. Chunks of up to kChunk elements go
// through int32 buffers on the stack, where the requantization loops
// vectorize (epilogue.h); the broadcast is walked in runs along its innermost
// dimension (or as one run when both inputs are contiguous or scalar).
// In-place use (y aliasing an input of the same element size and layout) is
// allowed: each chunk is read completely before it is written.
#pragma once

#include "epilogue.h"
#include "ref_elementwise.h"

namespace qcc_rt {

namespace detail {

constexpr int32_t kChunk = 256;

// f(out, a, b, len, a_step, b_step) over runs covering the broadcast.
template <typename F> void for_each_run(const Broadcast &s, F &&f) {
  if (s.rank <= 0) {
    f(int64_t(0), int64_t(0), int64_t(0), int64_t(1), int64_t(0), int64_t(0));
    return;
  }
  int64_t total = 1;
  for (int32_t d = 0; d < s.rank; ++d)
    total *= s.dims[d];
  if (total <= 0)
    return;
  // One run when each input is either contiguous in the output's order or a scalar.
  bool a_flat = true, b_flat = true, a_zero = true, b_zero = true;
  int64_t stride = 1;
  for (int32_t d = s.rank - 1; d >= 0; --d) {
    if (s.dims[d] != 1) {
      a_flat = a_flat && s.a_stride[d] == stride;
      b_flat = b_flat && s.b_stride[d] == stride;
      a_zero = a_zero && s.a_stride[d] == 0;
      b_zero = b_zero && s.b_stride[d] == 0;
    }
    stride *= s.dims[d];
  }
  if ((a_flat || a_zero) && (b_flat || b_zero)) {
    f(int64_t(0), int64_t(0), int64_t(0), total, int64_t(a_flat ? 1 : 0), int64_t(b_flat ? 1 : 0));
    return;
  }
  const int32_t last = s.rank - 1;
  const int64_t inner = s.dims[last];
  int64_t idx[6] = {0, 0, 0, 0, 0, 0}, ia = 0, ib = 0;
  for (int64_t o = 0; o < total; o += inner) {
    f(o, ia, ib, inner, s.a_stride[last], s.b_stride[last]);
    for (int32_t d = last - 1; d >= 0; --d) {
      ia += s.a_stride[d];
      ib += s.b_stride[d];
      if (++idx[d] < s.dims[d])
        break;
      ia -= s.a_stride[d] * idx[d];
      ib -= s.b_stride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

// out[i] = int32(p[i * step]) for i < n.
template <typename T> inline void load_i32(const T *p, int64_t step, int32_t n, int32_t *out) {
  if (step == 1) {
    for (int32_t i = 0; i < n; ++i)
      out[i] = int32_t(p[i]);
  } else if (step == 0) {
    const int32_t v = int32_t(p[0]);
    for (int32_t i = 0; i < n; ++i)
      out[i] = v;
  } else {
    for (int32_t i = 0; i < n; ++i)
      out[i] = int32_t(p[int64_t(i) * step]);
  }
}

// Runs f(a_chunk, b_chunk, n, y + o) over the broadcast in chunks (int32 values).
template <typename TA, typename TB, typename TY, typename F>
void binary_chunks(const Broadcast &s, const TA *a, const TB *b, TY *y, F &&f) {
  for_each_run(s, [&](int64_t o, int64_t ia, int64_t ib, int64_t len, int64_t as, int64_t bs) {
    int32_t va[kChunk], vb[kChunk];
    for (int64_t i = 0; i < len; i += kChunk) {
      const int32_t n = int32_t(len - i < kChunk ? len - i : kChunk);
      load_i32(a + ia + i * as, as, n, va);
      load_i32(b + ib + i * bs, bs, n, vb);
      f(va, vb, n, y + o + i);
    }
  });
}

inline int32_t sat32_i(int64_t v) { return int32_t(v < INT32_MIN ? int64_t(INT32_MIN) : v > INT32_MAX ? int64_t(INT32_MAX) : v); }

} // namespace detail

template <typename TA, typename TB, typename TY>
void add(const Broadcast &s, const TA *a, const TB *b, const AddParams &p, TY *y) {
  using namespace detail;
  const int32_t za = p.a_zero_point, zb = p.b_zero_point;
  if (p.a.rounding == kRoundOnnx) {
    const float sa = p.a.scale[0], sb = p.b.scale[0], zo = float(p.out.zero_point);
    const float lo = float(p.out.lo), hi = float(p.out.hi);
    binary_chunks(s, a, b, y, [&](int32_t *va, int32_t *vb, int32_t n, TY *yo) {
      for (int32_t i = 0; i < n; ++i) {
        // + 0.0f: see ref_elementwise.h (no fma contraction into the sum).
        const float pa = float(va[i] - za) * sa + 0.0f, pb = float(vb[i] - zb) * sb + 0.0f;
        float r = round_even(pa + pb) + zo;
        r = r >= lo ? r : lo;
        r = r <= hi ? r : hi;
        va[i] = int32_t(r);
      }
      narrow(va, n, yo);
    });
    return;
  }
  const RqTable1 ta(p.a), tb(p.b), to(p.out);
  if (sizeof(TA) == 1 && sizeof(TB) == 1 && p.a.rounding == kRoundTflite && ta.t.one_floor && tb.t.one_floor &&
      to.t.one_floor) {
    // 8-bit inputs, no left shifts: |(a - za) << 20| < 2^29 and each scaled
    // term is at most that, so no step saturates; one fused pass per chunk.
    const int32_t ma = ta.t.m32[0], mb = tb.t.m32[0], mo = to.t.m32[0];
    const int64_t aa = ta.t.ta[0], ja = ta.t.tadj[0], sa = ta.t.ts[0], ab = tb.t.ta[0], jb = tb.t.tadj[0],
                  sb = tb.t.ts[0], ao = to.t.ta[0], jo = to.t.tadj[0], so = to.t.ts[0];
    const OutClamp clamp_out(to.t.zero_point, to.t.lo, to.t.hi);
    binary_chunks(s, a, b, y, [&](int32_t *va, int32_t *vb, int32_t n, TY *yo) {
      for (int32_t i = 0; i < n; ++i) {
        const int32_t ra = rq_tflite1((va[i] - za) * (int32_t(1) << kAddLeftShift), ma, aa, ja, sa);
        const int32_t rb = rq_tflite1((vb[i] - zb) * (int32_t(1) << kAddLeftShift), mb, ab, jb, sb);
        va[i] = clamp_out(rq_tflite1(ra + rb, mo, ao, jo, so));
      }
      narrow(va, n, yo);
    });
    return;
  }
  binary_chunks(s, a, b, y, [&](int32_t *va, int32_t *vb, int32_t n, TY *yo) {
    for (int32_t i = 0; i < n; ++i) {
      va[i] = sat32_i(int64_t(va[i] - za) * (int64_t(1) << kAddLeftShift));
      vb[i] = sat32_i(int64_t(vb[i] - zb) * (int64_t(1) << kAddLeftShift));
    }
    rq_apply<false>(va, n, ta.t);
    rq_apply<false>(vb, n, tb.t);
    for (int32_t i = 0; i < n; ++i)
      va[i] = sat32_i(int64_t(va[i]) + vb[i]);
    rq_apply<true>(va, n, to.t);
    narrow(va, n, yo);
  });
}

template <typename TA, typename TB, typename TY>
void mul(const Broadcast &s, const TA *a, const TB *b, const MulParams &p, TY *y) {
  using namespace detail;
  const int32_t za = p.a_zero_point, zb = p.b_zero_point;
  const RqTable1 to(p.out);
  binary_chunks(s, a, b, y, [&](int32_t *va, int32_t *vb, int32_t n, TY *yo) {
    for (int32_t i = 0; i < n; ++i)
      va[i] = sat32_i((int64_t(va[i]) - za) * (int64_t(vb[i]) - zb));
    rq_apply<true>(va, n, to.t);
    narrow(va, n, yo);
  });
}

template <typename TA, typename TB, typename TY>
void add_fma(const Broadcast &s, const TA *a, const TB *b, const AddFmaParams &p, TY *y) {
  using namespace detail;
  const float offset = add_fma_offset(p), ra = p.a_ratio, rb = p.b_ratio;
  const float lo = float(p.lo), hi = float(p.hi);
  binary_chunks(s, a, b, y, [&](int32_t *va, int32_t *vb, int32_t n, TY *yo) {
    for (int32_t i = 0; i < n; ++i) {
      const float fa = float(va[i]), fb = float(vb[i]);
      float r = round_even(p.scalar_a ? std::fma(fb, rb, std::fma(fa, ra, offset)) : std::fma(fa, ra, std::fma(fb, rb, offset)));
      r = r >= lo ? r : lo;
      r = r <= hi ? r : hi;
      va[i] = int32_t(r);
    }
    narrow(va, n, yo);
  });
}

template <typename TX, typename TY>
void requantize_tensor(int64_t count, const TX *x, int32_t x_zero_point, const Requant &rq, TY *y) {
  using namespace detail;
  const RqTable1 t(rq);
  int32_t v[kChunk];
  for (int64_t i = 0; i < count; i += kChunk) {
    const int32_t n = int32_t(count - i < kChunk ? count - i : kChunk);
    for (int32_t j = 0; j < n; ++j)
      v[j] = sat32_i(int64_t(x[i + j]) - x_zero_point);
    rq_apply<true>(v, n, t.t);
    narrow(v, n, y + i);
  }
}

template <typename TX, typename TY> void lut(int64_t count, const TX *x, const int32_t *table, int32_t qmin, TY *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = TY(table[int32_t(x[i]) - qmin]);
}

template <typename T> void clip(int64_t count, const T *x, int32_t lo, int32_t hi, T *y) {
  for (int64_t i = 0; i < count; ++i) {
    const int32_t v = int32_t(x[i]);
    y[i] = T(v < lo ? lo : v > hi ? hi : v);
  }
}

// Vectorizable form of ref::quantize for output ranges within +-2^20: the
// quotient is first clamped to [qmin - zp - 1, qmax - zp + 1] (integers, so
// clamping before the monotone rounding changes no result), where adding and
// subtracting 1.5 * 2^23 rounds half to even exactly; NaN gives 0 as in ref.
template <typename TY>
void quantize(int64_t count, const float *x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax, TY *y) {
  constexpr int32_t kLim = 1 << 20;
  if (qmin < -kLim || qmax > kLim || zero_point < -kLim || zero_point > kLim || qmin > qmax) {
    ref::quantize(count, x, scale, zero_point, qmin, qmax, y);
    return;
  }
  const float lo = float(qmin - zero_point - 1), hi = float(qmax - zero_point + 1), magic = 12582912.f;
  int32_t v[detail::kChunk];
  for (int64_t i = 0; i < count; i += detail::kChunk) {
    const int32_t n = int32_t(count - i < detail::kChunk ? count - i : detail::kChunk);
    for (int32_t j = 0; j < n; ++j) {
      const float q = x[i + j] / scale;
      float c = q > lo ? q : lo; // NaN compares false: lo, fixed below
      c = c < hi ? c : hi;
      const int32_t r = int32_t((c + magic) - magic) + zero_point;
      const int32_t s = r < qmin ? qmin : r > qmax ? qmax : r;
      v[j] = q == q ? s : 0;
    }
    detail::narrow(v, n, y + i);
  }
}

template <typename TX> void dequantize(int64_t count, const TX *x, float scale, int32_t zero_point, float *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = float(int64_t(x[i]) - zero_point) * scale;
}

} // namespace qcc_rt
