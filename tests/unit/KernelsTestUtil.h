// Helpers for the kernel library tests: run one integer reference op through
// the op registry, NCHW <-> NHWC, random tensors, requantizer arrays.
#pragma once

#include "ops/OpRegistry.h"
#include "quant/RequantAttrs.h"

#include "qcc/qcc_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <type_traits>

namespace kt {

template <typename T> qcc::ElemType elemOf() {
  if constexpr (std::is_same_v<T, float>)
    return qcc::ElemType::f32();
  else
    return qcc::ElemType::intN(unsigned(sizeof(T) * 8), std::is_signed_v<T>);
}

template <typename T> const char *typeName() {
  if constexpr (std::is_same_v<T, int8_t>)
    return "i8";
  else if constexpr (std::is_same_v<T, uint8_t>)
    return "u8";
  else if constexpr (std::is_same_v<T, int16_t>)
    return "i16";
  else if constexpr (std::is_same_v<T, uint16_t>)
    return "u16";
  else if constexpr (std::is_same_v<T, int32_t>)
    return "i32";
  else
    return "?";
}

inline int32_t rtRounding(qcc::Rounding r) {
  return r == qcc::Rounding::TFLite ? qcc_rt::kRoundTflite
         : r == qcc::Rounding::Single ? qcc_rt::kRoundSingle
                                      : qcc_rt::kRoundOnnx;
}

// A qcc_rt::Requant with its arrays.
struct RqHolder {
  std::vector<int32_t> mult, shift;
  std::vector<float> scale;
  qcc_rt::Requant rt{};
  RqHolder() = default;
  RqHolder(const RqHolder &o) : mult(o.mult), shift(o.shift), scale(o.scale), rt(o.rt) { fix(); }
  RqHolder &operator=(const RqHolder &o) {
    mult = o.mult;
    shift = o.shift;
    scale = o.scale;
    rt = o.rt;
    fix();
    return *this;
  }
  void fix() {
    rt.multiplier = mult.data();
    rt.shift = shift.data();
    rt.scale = scale.data();
  }
};

inline RqHolder makeRq(const std::vector<qcc::Requant> &rqs, int32_t zp, int32_t lo, int32_t hi) {
  RqHolder h;
  for (const qcc::Requant &r : rqs) {
    h.mult.push_back(r.fp.multiplier);
    h.shift.push_back(r.fp.shift);
    h.scale.push_back(r.scale);
  }
  h.rt.channels = int32_t(rqs.size());
  h.rt.rounding = rqs.empty() ? 0 : rtRounding(rqs[0].rounding);
  h.rt.zero_point = zp;
  h.rt.lo = lo;
  h.rt.hi = hi;
  h.fix();
  return h;
}

template <typename T> T *ptr(qcc::Tensor &t) { return t.data<T>(); }
template <typename T> const T *ptr(const qcc::Tensor &t) { return t.data<T>(); }

template <typename T> qcc::Tensor randomTensor(qcc::Shape s, std::mt19937 &rng, int64_t lo, int64_t hi) {
  qcc::Tensor t(elemOf<T>(), s);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<T>()[i] = T(d(rng));
  return t;
}

template <typename T> qcc::Tensor randomTensor(qcc::Shape s, std::mt19937 &rng) {
  return randomTensor<T>(s, rng, std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
}

// Runs one node whose inputs are all given (as constants) and returns its outputs.
struct NodeRun {
  qcc::Graph g;
  qcc::Node *node = nullptr;
  std::vector<qcc::Tensor> out;
};

inline std::unique_ptr<NodeRun> runNode(const std::string &domain, const std::string &op,
                                        const std::vector<const qcc::Tensor *> &inputs,
                                        std::map<std::string, qcc::Attribute> attrs, int outputs = 1) {
  auto r = std::make_unique<NodeRun>();
  std::vector<qcc::Value *> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i)
    ins.push_back(inputs[i] ? r->g.addConstant("in" + std::to_string(i), inputs[i]->clone()) : nullptr);
  for (int i = 0; i < outputs; ++i)
    outs.push_back(r->g.addValue("out" + std::to_string(i), {}));
  r->node = r->g.addNode(op, "node", ins, outs);
  r->node->domain = domain;
  r->node->attrs = std::move(attrs);
  const qcc::OpDef *def = qcc::OpRegistry::get().lookup(domain, op);
  EXPECT_TRUE(def) << op;
  if (!def)
    return r;
  if (def->canonicalize) {
    llvm::Error e = def->canonicalize(*r->node, 17);
    EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
  }
  llvm::Error e = def->infer(*r->node);
  EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
  std::vector<const qcc::Tensor *> in;
  for (qcc::Value *v : ins)
    in.push_back(v ? &*v->constant : nullptr);
  for (qcc::Value *v : outs)
    r->out.emplace_back(v->type.elem, v->type.shape);
  llvm::Error e2 = def->eval(*r->node, in, r->out);
  EXPECT_FALSE(bool(e2)) << llvm::toString(std::move(e2));
  return r;
}

// NCHW <-> NHWC of a 4-D tensor (any element size).
inline qcc::Tensor toNhwc(const qcc::Tensor &t) {
  const qcc::Shape &s = t.shape();
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  qcc::Tensor r(t.elem(), {n, h, w, c});
  const size_t e = t.elem().storageBytes();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < h * w; ++i)
        std::memcpy(r.raw() + size_t((b * h * w + i) * c + ch) * e, t.raw() + size_t((b * c + ch) * h * w + i) * e, e);
  return r;
}

inline int64_t getI(const qcc::Tensor &t, int64_t i) { return t.getInt(i); }

} // namespace kt
