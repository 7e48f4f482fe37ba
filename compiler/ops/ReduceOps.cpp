// Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
// ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp; ArgMax, ArgMin.
//
// Canonical forms:
//   Reduce*   one input; `axes` lists the reduced axes explicitly, sorted and
//             non-negative. The ONNX "no axes = reduce all" default is expanded
//             to every axis; an empty `axes` means nothing is reduced (the ONNX
//             noop_with_empty_axes case: the op's map and finalise still apply,
//             e.g. ReduceSumSquare squares). `noop_with_empty_axes` is dropped;
//             `keepdims` stays (default 1).
//   ArgMax,   `axis` normalised to [0, rank); `keepdims`, `select_last_index`.
//   ArgMin
#include "ops/OpRegistry.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcc {

namespace {

using llvm::Error;

enum class Red { Sum, Mean, Max, Min, Prod, SumSquare, L1, L2, LogSum, LogSumExp };

Red redOf(const std::string &op) {
  static const std::pair<const char *, Red> table[] = {
      {"ReduceSum", Red::Sum},       {"ReduceMean", Red::Mean}, {"ReduceMax", Red::Max},
      {"ReduceMin", Red::Min},       {"ReduceProd", Red::Prod}, {"ReduceSumSquare", Red::SumSquare},
      {"ReduceL1", Red::L1},         {"ReduceL2", Red::L2},     {"ReduceLogSum", Red::LogSum},
      {"ReduceLogSumExp", Red::LogSumExp}};
  for (auto &[name, r] : table)
    if (op == name)
      return r;
  return Red::Sum;
}

bool floatOnly(Red r) { return r == Red::LogSum || r == Red::LogSumExp; }

// ---- canonicalize / infer -----------------------------------------------------------

Error canonReduce(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  const int64_t rank = n.inputs[0]->type.rank();
  // ReduceSum took axes as an input from opset 13, the others from opset 18.
  const bool axesIsInput = opset >= 18 || (n.op == "ReduceSum" && opset >= 13);
  std::vector<int64_t> axes;
  bool given = false;
  if (axesIsInput) {
    if (n.has("axes"))
      return nodeError(n, "axes is an input since opset {}, not an attribute", n.op == "ReduceSum" ? 13 : 18);
    if (n.input(1)) {
      auto v = constInts(n, 1);
      if (!v)
        return v.takeError();
      axes = *v;
      given = !axes.empty();
    }
    dropInputs(n, 1);
  } else if (n.has("axes")) {
    axes = n.getInts("axes");
    given = !axes.empty();
  }
  if (!given) {
    axes.clear();
    if (n.getInt("noop_with_empty_axes", 0) == 0)
      for (int64_t d = 0; d < rank; ++d)
        axes.push_back(d);
  }
  for (int64_t &a : axes) {
    auto na = normAxis(n, a, rank);
    if (!na)
      return na.takeError();
    a = *na;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return nodeError(n, "axes lists an axis twice");
  n.attrs["axes"] = axes;
  n.attrs.erase("noop_with_empty_axes");
  return Error::success();
}

Error inferReduce(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  const Red red = redOf(n.op);
  if (floatOnly(red) && !x.elem.isFloat())
    return nodeError(n, "input has element type {}; {} expects a float tensor", x.elem.str(), n.op);
  if (x.elem.isBool() && red != Red::Max && red != Red::Min)
    return nodeError(n, "bool inputs are supported by ReduceMax and ReduceMin only");
  std::vector<bool> reduced(static_cast<size_t>(x.rank()), false);
  for (int64_t a : n.getInts("axes")) {
    if (a < 0 || a >= x.rank())
      return nodeError(n, "axis {} is out of range for rank {}", a, x.rank());
    reduced[size_t(a)] = true;
  }
  const bool keep = n.getInt("keepdims", 1) != 0;
  Shape out;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (!reduced[size_t(d)])
      out.push_back(x.shape[size_t(d)]);
    else if (keep)
      out.push_back(1);
  }
  setOutput(n, 0, x.elem, out);
  return Error::success();
}

// ---- the reduction kernel -------------------------------------------------------------

/// The input shape with adjacent axes of the same kind (reduced or kept) merged,
/// and each merged axis's stride in the output (0 along reduced axes).
struct ReducePlan {
  std::vector<int64_t> dims;
  std::vector<bool> reduced;
  std::vector<int64_t> outStride;
};

ReducePlan planReduce(const Shape &shape, const std::vector<int64_t> &axes) {
  ReducePlan p;
  for (size_t d = 0; d < shape.size(); ++d) {
    bool r = std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end();
    if (shape[d] == 1)
      continue; // size-1 axes do not matter either way
    if (!p.dims.empty() && p.reduced.back() == r)
      p.dims.back() *= shape[d];
    else {
      p.dims.push_back(shape[d]);
      p.reduced.push_back(r);
    }
  }
  if (p.dims.empty()) { // a single element
    p.dims.push_back(1);
    p.reduced.push_back(false);
  }
  p.outStride.assign(p.dims.size(), 0);
  int64_t stride = 1;
  for (size_t d = p.dims.size(); d-- > 0;)
    if (!p.reduced[d]) {
      p.outStride[d] = stride;
      stride *= p.dims[d];
    }
  return p;
}

/// acc[out(i)] = comb(acc[out(i)], map(x[i], out(i))) over every input element.
/// The innermost merged axis is the inner loop: contiguous on both sides when it
/// is kept, a lane-split reduction into one accumulator when it is reduced.
template <typename T, typename Acc, typename Map, typename Comb>
void accumulate(const T *x, const ReducePlan &p, Acc *acc, Acc init, Map map, Comb comb) {
  const size_t r = p.dims.size();
  const int64_t inner = p.dims[r - 1];
  const bool innerReduced = p.reduced[r - 1];
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < r; ++d)
    rows *= p.dims[d];
  std::vector<int64_t> idx(r, 0);
  int64_t o = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const T *xr = x + row * inner;
    if (innerReduced) {
      Acc part[8] = {init, init, init, init, init, init, init, init};
      int64_t j = 0;
      for (; j + 8 <= inner; j += 8)
        for (int k = 0; k < 8; ++k)
          part[k] = comb(part[k], map(xr[j + k], o));
      for (; j < inner; ++j)
        part[0] = comb(part[0], map(xr[j], o));
      Acc s = acc[o];
      for (int k = 0; k < 8; ++k)
        s = comb(s, part[k]);
      acc[o] = s;
    } else {
      Acc *ar = acc + o;
      for (int64_t j = 0; j < inner; ++j)
        ar[j] = comb(ar[j], map(xr[j], o + j));
    }
    // advance the odometer over the outer merged axes
    for (size_t d = r - 1; d-- > 0;) {
      ++idx[d];
      o += p.outStride[d];
      if (idx[d] < p.dims[d])
        break;
      o -= p.outStride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

/// Accumulator type: the float itself, or 64-bit integers (bool as an integer).
template <typename T> struct AccOf { using type = T; };
template <> struct AccOf<bool> { using type = int64_t; };
template <> struct AccOf<int8_t> { using type = int64_t; };
template <> struct AccOf<int16_t> { using type = int64_t; };
template <> struct AccOf<int32_t> { using type = int64_t; };
template <> struct AccOf<uint8_t> { using type = uint64_t; };
template <> struct AccOf<uint16_t> { using type = uint64_t; };
template <> struct AccOf<uint32_t> { using type = uint64_t; };

template <typename T> constexpr T lowestOf() {
  if constexpr (std::numeric_limits<T>::has_infinity)
    return -std::numeric_limits<T>::infinity();
  else
    return std::numeric_limits<T>::lowest();
}
template <typename T> constexpr T highestOf() {
  if constexpr (std::numeric_limits<T>::has_infinity)
    return std::numeric_limits<T>::infinity();
  else
    return std::numeric_limits<T>::max();
}

template <typename T> void runReduce(Red red, const Tensor &x, Tensor &y, const ReducePlan &p) {
  using Acc = typename AccOf<T>::type;
  const T *px = x.data<T>();
  T *py = y.data<T>();
  const int64_t outCount = y.size();
  const int64_t count = outCount ? x.size() / outCount : 0; // elements per output
  std::vector<Acc> acc(static_cast<size_t>(outCount));
  auto run = [&](Acc init, auto map, auto comb) {
    std::fill(acc.begin(), acc.end(), init);
    if (x.size())
      accumulate<T, Acc>(px, p, acc.data(), init, map, comb);
  };
  auto plus = [](Acc a, Acc b) { return Acc(a + b); };
  auto same = [](T v, int64_t) { return Acc(v); };
  switch (red) {
  case Red::Sum:
  case Red::Mean:
  case Red::LogSum:
    run(Acc(0), same, plus);
    break;
  case Red::SumSquare:
  case Red::L2:
    run(Acc(0), [](T v, int64_t) { return Acc(Acc(v) * Acc(v)); }, plus);
    break;
  case Red::L1:
    run(Acc(0), [](T v, int64_t) { return Acc(v) < Acc(0) ? Acc(-Acc(v)) : Acc(v); }, plus);
    break;
  case Red::Prod:
    run(Acc(1), same, [](Acc a, Acc b) { return Acc(a * b); });
    break;
  case Red::Max:
    run(Acc(lowestOf<T>()), same, [](Acc a, Acc b) { return a > b ? a : b; });
    break;
  case Red::Min:
    run(Acc(highestOf<T>()), same, [](Acc a, Acc b) { return a < b ? a : b; });
    break;
  case Red::LogSumExp:
    if constexpr (std::is_floating_point_v<T>) {
      // Shift by the largest finite element (or 0) so that exp cannot overflow.
      run(Acc(lowestOf<T>()), [](T v, int64_t) { return std::isinf(v) ? lowestOf<T>() : v; },
          [](Acc a, Acc b) { return a > b ? a : b; });
      std::vector<Acc> shift(acc.size());
      for (size_t i = 0; i < acc.size(); ++i)
        shift[i] = std::isfinite(acc[i]) ? acc[i] : Acc(0);
      run(Acc(0), [&](T v, int64_t o) { return Acc(std::exp(v - shift[size_t(o)])); }, plus);
      for (size_t i = 0; i < acc.size(); ++i)
        acc[i] = Acc(std::log(acc[i]) + shift[i]);
    }
    break;
  }
  for (int64_t o = 0; o < outCount; ++o) {
    Acc a = acc[size_t(o)];
    switch (red) {
    case Red::Mean:
      if constexpr (std::is_floating_point_v<Acc>)
        a = a / Acc(count);
      else
        a = count ? Acc(a / Acc(count)) : Acc(0);
      break;
    case Red::L2: a = Acc(std::sqrt(double(a))); break;
    case Red::LogSum: a = Acc(std::log(double(a))); break;
    default: break;
    }
    py[o] = T(a);
  }
}

Error evalReduce(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const ReducePlan plan = planReduce(x.shape(), n.getInts("axes"));
  const Red red = redOf(n.op);
  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    if (floatOnly(red) && !std::is_floating_point_v<T>)
      return nodeError(n, "no kernel for element type {}", x.elem().str());
    runReduce<T>(red, x, out[0], plan);
    return Error::success();
  });
}

// ---- ArgMax, ArgMin -----------------------------------------------------------------

Error canonArg(Node &n, int64_t) {
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  auto axis = normAxis(n, n.getInt("axis", 0), n.inputs[0]->type.rank());
  if (!axis)
    return axis.takeError();
  n.attrs["axis"] = *axis;
  return Error::success();
}

Error inferArg(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  if (x.elem.isBool())
    return nodeError(n, "bool inputs are not supported");
  if (x.rank() == 0)
    return nodeError(n, "input is a scalar; {} needs at least one axis", n.op);
  auto axis = normAxis(n, n.getInt("axis", 0), x.rank());
  if (!axis)
    return axis.takeError();
  if (x.shape[size_t(*axis)] == 0)
    return nodeError(n, "axis {} has size 0; there is no element to select", *axis);
  Shape out = x.shape;
  if (n.getInt("keepdims", 1))
    out[size_t(*axis)] = 1;
  else
    out.erase(out.begin() + *axis);
  setOutput(n, 0, ElemType::i64(), out);
  return Error::success();
}

/// Index of the extreme element along the middle axis of [outer, len, inner].
/// `better(a, b)` says a replaces the current best b (strict: first index wins;
/// non-strict: last index wins).
template <typename T, typename Better>
void argExtreme(const T *x, int64_t *y, int64_t outer, int64_t len, int64_t inner, Better better) {
  std::vector<T> best(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const T *xb = x + o * len * inner;
    int64_t *yb = y + o * inner;
    for (int64_t j = 0; j < inner; ++j) {
      best[size_t(j)] = xb[j];
      yb[j] = 0;
    }
    for (int64_t k = 1; k < len; ++k)
      for (int64_t j = 0; j < inner; ++j)
        if (better(xb[k * inner + j], best[size_t(j)])) {
          best[size_t(j)] = xb[k * inner + j];
          yb[j] = k;
        }
  }
}

Error evalArg(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const Shape &s = x.shape();
  const int64_t axis = n.getInt("axis", 0);
  int64_t outer = 1, inner = 1, len = s[size_t(axis)];
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d < axis)
      outer *= s[size_t(d)];
    else if (d > axis)
      inner *= s[size_t(d)];
  const bool isMax = n.op == "ArgMax";
  const bool last = n.getInt("select_last_index", 0) != 0;
  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    const T *px = x.data<T>();
    int64_t *py = out[0].data<int64_t>();
    if (isMax && last)
      argExtreme<T>(px, py, outer, len, inner, [](T a, T b) { return a >= b; });
    else if (isMax)
      argExtreme<T>(px, py, outer, len, inner, [](T a, T b) { return a > b; });
    else if (last)
      argExtreme<T>(px, py, outer, len, inner, [](T a, T b) { return a <= b; });
    else
      argExtreme<T>(px, py, outer, len, inner, [](T a, T b) { return a < b; });
    return Error::success();
  });
}

} // namespace

void registerReduceOps(OpRegistry &r) {
  for (const char *op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                         "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"})
    r.add({op, "", canonReduce, inferReduce, evalReduce});
  r.add({"ArgMax", "", canonArg, inferArg, evalArg});
  r.add({"ArgMin", "", canonArg, inferArg, evalArg});
}

} // namespace qcc
