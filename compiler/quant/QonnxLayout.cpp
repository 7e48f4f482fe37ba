#include "quant/QonnxLayout.h"

#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace qcc {

namespace {

using llvm::Error;

const char *const kChannelsLast = "qonnx.custom_op.channels_last";

bool isQuantDomain(const std::string &d) {
  return d == "onnx.brevitas" || d == "qonnx.custom_op.general" || d == "finn.custom_op.general";
}

bool isScalarConst(const Value *v) { return v && v->isConstant() && v->constant->size() == 1; }

/// A Quant with per-tensor scale, zero point and bit width: elementwise.
bool isPerTensorQuant(const Node &n) {
  return isQuantDomain(n.domain) && n.op == "Quant" && n.inputs.size() == 4 && isScalarConst(n.input(1)) &&
         isScalarConst(n.input(2)) && isScalarConst(n.input(3)) && n.outputs.size() == 1;
}

bool isElementwise(const Node &n) {
  if (isPerTensorQuant(n))
    return true;
  return n.domain.empty() && (n.op == "Relu" || n.op == "LeakyRelu") && n.inputs.size() == 1 &&
         n.outputs.size() == 1 && !n.has("act_min");
}

Tensor permuted(const Tensor &t, const std::vector<int64_t> &perm) {
  const Shape &in = t.shape();
  const size_t r = in.size();
  Shape out(r);
  std::vector<int64_t> inStride(r, 1);
  for (size_t i = r; i-- > 1;)
    inStride[i - 1] = inStride[i] * in[i];
  for (size_t i = 0; i < r; ++i)
    out[i] = in[size_t(perm[i])];
  Tensor o(t.elem(), out);
  std::vector<int64_t> idx(r, 0);
  for (int64_t j = 0; j < o.size(); ++j) {
    int64_t src = 0;
    for (size_t i = 0; i < r; ++i)
      src += idx[i] * inStride[size_t(perm[i])];
    o.setDouble(j, t.getDouble(src));
    for (size_t i = r; i-- > 0;) {
      if (++idx[i] < out[i])
        break;
      idx[i] = 0;
    }
  }
  return o;
}

std::vector<int64_t> permOf(const Node &t) {
  std::vector<int64_t> p = t.getInts("perm");
  if (p.empty() && t.input(0)) {
    p.resize(size_t(t.input(0)->type.rank()));
    std::iota(p.rbegin(), p.rend(), 0); // default: reverse
  }
  return p;
}

class LayoutRewriter {
public:
  LayoutRewriter(Graph &g, QonnxLayoutStats &st) : g_(g), st_(st) {}

  Error run() {
    for (Node *n : snapshot())
      if (n->domain == kChannelsLast && (n->op == "Conv" || n->op == "MaxPool"))
        if (auto e = channelsFirst(*n))
          return e;
    for (int guard = 0; guard < 100000; ++guard) {
      auto changed = sinkOnce();
      if (!changed)
        return changed.takeError();
      if (!*changed)
        break;
    }
    for (Node *n : snapshot())
      reluAfterPositiveMul(*n);
    for (Node *n : snapshot())
      if (auto e = splitLeakyRelu(*n))
        return e;
    return Error::success();
  }

  /// Relu -> Mul by a positive constant (qonnx's eltwise transforms leave
  /// this): relu(x) * m == relu(x * m) exactly for m > 0, so the Mul moves
  /// first and joins the per-channel affine ops a conv folds.
  void reluAfterPositiveMul(Node &r) {
    if (!r.domain.empty() || r.op != "Relu" || r.has("act_min") || !r.input(0) || !r.output(0))
      return;
    Value *ry = r.output(0);
    std::vector<Node *> us = g_.users(ry);
    if (us.size() != 1 || isGraphOutput(ry))
      return;
    Node &m = *us[0];
    if (!m.domain.empty() || m.op != "Mul" || m.inputs.size() != 2 || !m.output(0) || m.has("act_min"))
      return;
    Value *k = m.input(0) == ry ? m.input(1) : m.input(0);
    if (!k || !k->isConstant() || k->type.elem != ElemType::f32() || m.output(0)->type.shape != ry->type.shape)
      return;
    for (int64_t i = 0; i < k->constant->size(); ++i)
      if (!(k->constant->getDouble(i) > 0) || !std::isfinite(k->constant->getDouble(i)))
        return;
    // Mul reads the Relu's input into the Relu's old value; the Relu
    // produces the Mul's old value.
    Value *x = r.input(0), *my = m.output(0);
    for (Value *&v : m.inputs)
      if (v == ry)
        v = x;
    m.outputs[0] = ry;
    ry->producer = &m;
    r.inputs[0] = ry;
    r.outputs[0] = my;
    my->producer = &r;
    auto copy = std::make_unique<Node>(r);
    g_.insertNodeBefore(after(m), std::move(copy));
    g_.eraseNode(&r);
    st_.moved++;
  }

private:
  std::vector<Node *> snapshot() const {
    std::vector<Node *> v;
    for (const auto &n : g_.nodes())
      v.push_back(n.get());
    return v;
  }

  bool isGraphOutput(const Value *v) const {
    return std::find(g_.outputs.begin(), g_.outputs.end(), v) != g_.outputs.end();
  }

  Node *after(const Node &n) const {
    const auto &ns = g_.nodes();
    for (size_t i = 0; i + 1 < ns.size(); ++i)
      if (ns[i].get() == &n)
        return ns[i + 1].get();
    return nullptr;
  }

  Error infer(Node &n) {
    const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
    if (!def)
      return nodeError(n, "op is not registered");
    return def->infer(n);
  }

  /// A Transpose node (not inserted yet) from x to a new value.
  std::unique_ptr<Node> transpose(const std::string &name, Value *x, Value *y, std::vector<int64_t> perm) {
    auto t = std::make_unique<Node>();
    t->name = name;
    t->op = "Transpose";
    t->attrs["perm"] = std::move(perm);
    t->inputs = {x};
    t->outputs = {y};
    return t;
  }

  // ---- 1. channels-last ops ----------------------------------------------------

  Error channelsFirst(Node &n) {
    Value *x = n.input(0), *y = n.output(0);
    if (!x || !y || n.outputs.size() != 1 || x->type.rank() < 3)
      return Error::success(); // left for the final check to report
    const int64_t r = x->type.rank();
    std::vector<int64_t> toFirst = {0, r - 1}, toLast = {0};
    for (int64_t i = 1; i < r - 1; ++i)
      toFirst.push_back(i);
    for (int64_t i = 2; i < r; ++i)
      toLast.push_back(i);
    toLast.push_back(1);
    Value *xt = g_.addValue(g_.uniqueName(x->name + "/channels_first"), TensorType{});
    auto tin = transpose(n.name + "/to_channels_first", x, xt, toFirst);
    if (auto e = infer(*tin))
      return withContext(std::move(e), n.describe());
    g_.insertNodeBefore(&n, std::move(tin));
    xt->quant = x->quant;

    auto op = std::make_unique<Node>(n);
    op->domain.clear();
    op->inputs[0] = xt;
    if (n.op == "Conv") {
      Value *w = n.input(1);
      if (!w || w->type.rank() != r)
        return nodeError(n, "channels-last Conv weight must have rank {}", r);
      if (w->isConstant()) {
        Value *wt = g_.addConstant(g_.uniqueName(w->name + "/channels_first"), permuted(*w->constant, toFirst));
        if (w->quant) {
          QuantInfo q = *w->quant;
          if (q.axis >= 0)
            q.axis = int64_t(std::find(toFirst.begin(), toFirst.end(), q.axis) - toFirst.begin());
          wt->quant = q;
        }
        op->inputs[1] = wt;
      } else {
        Value *wt = g_.addValue(g_.uniqueName(w->name + "/channels_first"), TensorType{});
        auto tw = transpose(n.name + "/weight_to_channels_first", w, wt, toFirst);
        if (auto e = infer(*tw))
          return withContext(std::move(e), n.describe());
        g_.insertNodeBefore(&n, std::move(tw));
        wt->quant = w->quant;
        op->inputs[1] = wt;
      }
    }
    Value *yt = g_.addValue(g_.uniqueName(y->name + "/channels_first"), TensorType{});
    op->outputs = {yt};
    if (auto e = infer(*op))
      return withContext(std::move(e), n.describe());
    g_.insertNodeBefore(&n, std::move(op));
    const TensorType want = y->type;
    auto tout = transpose(n.name + "/to_channels_last", yt, y, toLast);
    if (auto e = infer(*tout))
      return withContext(std::move(e), n.describe());
    if (y->type != want)
      return nodeError(n, "channels-first rewrite changes the output type {} to {}", want.str(), y->type.str());
    g_.insertNodeBefore(&n, std::move(tout));
    g_.eraseNode(&n);
    st_.channelsLast++;
    return Error::success();
  }

  // ---- 2. moving data movement down ----------------------------------------------

  /// Moves the data-movement node `t` (one input, one output read by `u`
  /// only) after the elementwise node `u`: u reads t's input, a copy of t
  /// reads u's new output and produces u's old output value.
  Error swapAfter(Node &t, Node &u) {
    Value *x = t.input(0), *uy = u.output(0);
    TensorType ut = x->type;
    ut.elem = uy->type.elem;
    Value *moved = g_.addValue(g_.uniqueName(uy->name + "/before_" + t.op), ut);
    moved->quant = uy->quant;
    u.inputs[0] = x;
    u.outputs[0] = moved;
    moved->producer = &u;
    auto copy = std::make_unique<Node>(t);
    copy->inputs = {moved};
    copy->outputs = {uy};
    const TensorType want = uy->type;
    if (auto e = infer(u))
      return withContext(std::move(e), "moving " + t.describe());
    if (auto e = infer(*copy))
      return withContext(std::move(e), "moving " + t.describe());
    if (uy->type != want)
      return nodeError(t, "moving it after {} changes {} to {}", u.describe(), want.str(), uy->type.str());
    g_.insertNodeBefore(after(u), std::move(copy));
    g_.eraseNode(&t);
    st_.moved++;
    return Error::success();
  }

  /// Replaces the single-user node `u` (reading transposed values) by `nu`
  /// (reading the untransposed ones, producing a new value) + Transpose(perm)
  /// producing u's output.
  Error replaceThenTranspose(Node &u, std::unique_ptr<Node> nu, const std::vector<int64_t> &perm) {
    Value *uy = u.output(0);
    Value *mid = g_.addValue(g_.uniqueName(uy->name + "/before_Transpose"), TensorType{});
    nu->outputs = {mid};
    if (auto e = infer(*nu))
      return withContext(std::move(e), "moving a Transpose after " + u.describe());
    mid->quant = uy->quant;
    const TensorType want = uy->type;
    auto t = transpose(u.name + "/Transpose", mid, uy, perm);
    if (auto e = infer(*t))
      return withContext(std::move(e), "moving a Transpose after " + u.describe());
    if (uy->type != want)
      return nodeError(u, "moving a Transpose after it changes {} to {}", want.str(), uy->type.str());
    Node *pos = after(u);
    g_.insertNodeBefore(pos, std::move(nu));
    g_.insertNodeBefore(pos, std::move(t));
    g_.eraseNode(&u);
    st_.moved++;
    return Error::success();
  }

  static bool isTranspose(const Node *n) { return n && n->domain.empty() && n->op == "Transpose"; }

  llvm::Expected<bool> sinkOnce() {
    for (Node *t : snapshot()) {
      const bool tr = isTranspose(t);
      const bool d2s = t->domain.empty() && t->op == "DepthToSpace";
      if ((!tr && !d2s) || t->inputs.size() != 1 || t->outputs.size() != 1 || !t->input(0) || !t->output(0))
        continue;
      Value *ty = t->output(0);
      std::vector<Node *> us = g_.users(ty);
      // A Transpose of this Transpose: compose (cancel when the identity).
      if (tr)
        for (Node *u : us)
          if (isTranspose(u) && u->input(0) == ty && !isGraphOutput(u->output(0))) {
            const std::vector<int64_t> pt = permOf(*t), pu = permOf(*u);
            if (pt.size() != pu.size())
              continue;
            std::vector<int64_t> c(pu.size());
            bool identity = true;
            for (size_t i = 0; i < pu.size(); ++i) {
              c[i] = pt[size_t(pu[i])];
              identity &= c[i] == int64_t(i);
            }
            if (identity) {
              g_.replaceAllUsesWith(u->output(0), t->input(0));
              g_.eraseNode(u);
            } else {
              u->inputs[0] = t->input(0);
              u->attrs["perm"] = c;
            }
            if (g_.users(ty).empty() && !isGraphOutput(ty))
              g_.eraseNode(t);
            st_.cancelled++;
            return true;
          }
      if (us.size() != 1 || isGraphOutput(ty))
        continue;
      Node *u = us[0];
      if (u->input(0) != ty || !u->output(0) || u->outputs.size() != 1)
        continue;
      if (isElementwise(*u)) {
        if (auto e = swapAfter(*t, *u))
          return llvm::Expected<bool>(std::move(e));
        return true;
      }
      if (!tr)
        continue;
      const std::vector<int64_t> perm = permOf(*t);
      if (u->domain.empty() && u->op == "Resize" && u->inputs.size() == 1 &&
          u->getString("mode", "nearest") == "nearest" && !u->has("axes")) {
        auto nu = std::make_unique<Node>(*u);
        nu->inputs = {t->input(0)};
        for (const char *a : {"scales", "sizes"})
          if (u->has(a)) {
            const bool ints = std::string(a) == "sizes";
            const size_t r = perm.size();
            if (ints) {
              std::vector<int64_t> v = u->getInts(a), p(r);
              if (v.size() != r)
                goto next;
              for (size_t i = 0; i < r; ++i)
                p[size_t(perm[i])] = v[i];
              nu->attrs[a] = p;
            } else {
              std::vector<float> v = u->getFloats(a), p(r);
              if (v.size() != r)
                goto next;
              for (size_t i = 0; i < r; ++i)
                p[size_t(perm[i])] = v[i];
              nu->attrs[a] = p;
            }
          }
        if (auto e = replaceThenTranspose(*u, std::move(nu), perm))
          return llvm::Expected<bool>(std::move(e));
        g_.eraseNode(t);
        return true;
      }
      if (u->domain.empty() && u->op == "Concat") {
        std::vector<Node *> ts;
        for (Value *v : u->inputs) {
          Node *p = v ? v->producer : nullptr;
          if (!isTranspose(p) || permOf(*p) != perm || isGraphOutput(v))
            goto next;
          ts.push_back(p);
        }
        auto nu = std::make_unique<Node>(*u);
        for (size_t i = 0; i < ts.size(); ++i)
          nu->inputs[i] = ts[i]->input(0);
        int64_t axis = u->getInt("axis", 0);
        if (axis < 0)
          axis += int64_t(perm.size());
        if (axis < 0 || axis >= int64_t(perm.size()))
          continue;
        nu->attrs["axis"] = perm[size_t(axis)];
        if (auto e = replaceThenTranspose(*u, std::move(nu), perm))
          return llvm::Expected<bool>(std::move(e));
        for (Node *p : ts)
          if (g_.users(p->output(0)).empty() && !isGraphOutput(p->output(0)))
            g_.eraseNode(p);
        return true;
      }
    next:;
    }
    return false;
  }

  // ---- 3. LeakyRelu after a conv ------------------------------------------------

  /// Q(leaky(v)) = Q(relu(v)) + Q(min(alpha * v, 0)) - zp for alpha > 0
  /// (one of the two is zp, the other the output; Q is monotone), so
  /// Conv -> LeakyRelu -> Quant becomes Conv -> Relu -> Quant plus
  /// Conv -> Mul(alpha) -> Clip(max 0) -> Quant, added by an Add -> Quant on
  /// the same grid (integer addition, exact). Each conv then requantizes its
  /// exact accumulator once, as every other conv does.
  Error splitLeakyRelu(Node &l) {
    if (!l.domain.empty() || l.op != "LeakyRelu" || !l.input(0) || !l.output(0))
      return Error::success();
    Value *v = l.input(0), *o = l.output(0);
    Node *p = v->producer;
    if (!p || !p->domain.empty() || (p->op != "Conv" && p->op != "Gemm" && p->op != "MatMul") ||
        p->outputs.size() != 1 || p->has("act_min") || g_.users(v).size() != 1 || isGraphOutput(v) ||
        isGraphOutput(o))
      return Error::success();
    std::vector<Node *> us = g_.users(o);
    if (us.size() != 1 || !isPerTensorQuant(*us[0]) || us[0]->input(0) != o)
      return Error::success();
    Node &q = *us[0];
    const float alpha = l.getFloat("alpha", 0.01f);
    if (!(alpha > 0) || !std::isfinite(alpha))
      return Error::success();
    auto val = [&](const std::string &base) { return g_.addValue(g_.uniqueName(base), TensorType{}); };
    auto make = [&](const std::string &op, const std::string &name, std::vector<Value *> in, Value *out) {
      auto n = std::make_unique<Node>();
      n->op = op;
      n->name = name;
      n->inputs = std::move(in);
      n->outputs = {out};
      return n;
    };
    // A copy of src (attributes kept) named `name` that writes `out`, reading `in0` as input 0 when given.
    auto copyOf = [&](const Node &src, const std::string &name, Value *in0, Value *out) {
      auto n = std::make_unique<Node>(src);
      n->name = name;
      if (in0)
        n->inputs[0] = in0;
      n->outputs = {out};
      return n;
    };
    std::vector<std::unique_ptr<Node>> added;
    // negative part
    Value *vn = val(v->name + "/negative_part");
    added.push_back(copyOf(*p, p->name + "/negative_part", nullptr, vn));
    Value *m = val(v->name + "/times_alpha");
    Value *av = g_.addConstant(g_.uniqueName(l.name + "/alpha"), Tensor::scalarF32(alpha));
    added.push_back(make("Mul", l.name + "/times_alpha", {vn, av}, m));
    Value *c = val(v->name + "/negative");
    auto clip = make("Clip", l.name + "/negative", {m}, c);
    clip->attrs["min"] = -std::numeric_limits<float>::infinity();
    clip->attrs["max"] = 0.f;
    added.push_back(std::move(clip));
    Value *qn = val(o->name + "/negative");
    added.push_back(copyOf(q, q.name + "/negative", c, qn));
    // positive part: the LeakyRelu becomes a Relu
    Value *qp = val(o->name + "/positive");
    added.push_back(copyOf(q, q.name + "/positive", o, qp));
    Value *sum = val(o->name + "/sum");
    added.push_back(make("Add", l.name + "/sum", {qp, qn}, sum));
    l.op = "Relu";
    l.attrs.erase("alpha");
    if (auto e = infer(l))
      return withContext(std::move(e), "splitting " + l.describe());
    for (auto &n : added) {
      if (auto e = infer(*n))
        return withContext(std::move(e), "splitting " + l.describe());
      if (isPerTensorQuant(*n))
        n->outputs[0]->quant = q.output(0)->quant;
      g_.insertNodeBefore(&q, std::move(n));
    }
    q.inputs[0] = sum;
    st_.leakySplit++;
    return Error::success();
  }

  Graph &g_;
  QonnxLayoutStats &st_;
};

} // namespace

Error prepareQonnxLayout(Graph &g, QonnxLayoutStats *stats) {
  QonnxLayoutStats local;
  LayoutRewriter r(g, stats ? *stats : local);
  return r.run();
}

} // namespace qcc
