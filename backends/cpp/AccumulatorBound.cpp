#include "backends/cpp/AccumulatorBound.h"

#include "quant/RequantAttrs.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace qcc::cpp {

std::pair<int64_t, int64_t> integerRange(const Value *v) {
  QuantInfo q;
  q.bits = v->type.elem.bits();
  q.isSigned = v->type.elem.isSigned();
  std::pair<int64_t, int64_t> r{q.qmin(), q.qmax()};
  auto meet = [&](int64_t lo, int64_t hi) {
    r.first = std::clamp(lo, r.first, r.second);
    r.second = std::clamp(hi, r.first, r.second);
  };
  if (v->isConstant()) {
    const Tensor &t = *v->constant;
    if (t.size() > 0) {
      auto vals = t.toInts();
      meet(*std::min_element(vals.begin(), vals.end()), *std::max_element(vals.begin(), vals.end()));
    }
    return r;
  }
  const Node *p = v->producer;
  if (!p || p->inputs.empty() || !p->input(0))
    return r;
  if (p->domain == "qcc") {
    if (p->op == "Lut") {
      auto t = p->getInts("table");
      if (!t.empty())
        meet(*std::min_element(t.begin(), t.end()), *std::max_element(t.begin(), t.end()));
    } else {
      int32_t lo, hi;
      outputClamp(*p, lo, hi);
      meet(lo, hi);
    }
    return r;
  }
  if (!p->domain.empty())
    return r;
  const std::string &op = p->op;
  if (op == "Clip") {
    auto in = integerRange(p->input(0));
    const int64_t lo = p->getInt("min", std::numeric_limits<int64_t>::min());
    const int64_t hi = p->getInt("max", std::numeric_limits<int64_t>::max());
    meet(std::clamp(in.first, lo, std::max(lo, hi)), std::clamp(in.second, lo, std::max(lo, hi)));
  } else if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity" ||
             op == "Dropout" || op == "Transpose" || op == "MaxPool") {
    auto in = integerRange(p->input(0));
    meet(in.first, in.second);
  } else if (op == "Concat" || (op == "Pad" && p->getString("mode", "constant") == "constant")) {
    std::pair<int64_t, int64_t> u = integerRange(p->input(0));
    if (op == "Concat")
      for (const Value *x : p->inputs)
        if (x) {
          auto in = integerRange(x);
          u = {std::min(u.first, in.first), std::max(u.second, in.second)};
        }
    if (op == "Pad") {
      const int64_t pv = int64_t(std::nearbyint(p->getFloat("value", 0)));
      u = {std::min(u.first, pv), std::max(u.second, pv)};
    }
    meet(u.first, u.second);
  }
  return r;
}

int signedBitsFor(int64_t lo, int64_t hi) {
  int b = 1;
  while (b < 64 && (lo < -(int64_t(1) << (b - 1)) || hi > (int64_t(1) << (b - 1)) - 1))
    ++b;
  return b;
}

AccumulatorBound accumulatorBound(const std::vector<int8_t> &w, int64_t channels, const std::vector<int32_t> &bias,
                                  int64_t xmin, int64_t xmax, int64_t storageMax) {
  AccumulatorBound r;
  const int64_t K = channels > 0 ? int64_t(w.size()) / channels : 0;
  bool first = true;
  for (int64_t o = 0; o < channels; ++o) {
    const int64_t b = bias.empty() ? 0 : bias[size_t(o)];
    int64_t lo = b, hi = b, absSum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t wk = w[size_t(o * K + k)];
      lo += std::min(wk * xmin, wk * xmax);
      hi += std::max(wk * xmin, wk * xmax);
      absSum += std::abs(wk);
    }
    r.lo = first ? lo : std::min(r.lo, lo);
    r.hi = first ? hi : std::max(r.hi, hi);
    r.partialBound = std::max(r.partialBound, std::abs(b) + absSum * storageMax);
    first = false;
  }
  r.bits = signedBitsFor(r.lo, r.hi);
  return r;
}

} // namespace qcc::cpp
