#include "frontend/OnnxLoader.h"

#include "frontend/TensorProto.h"
#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <onnx/onnx_pb.h>

#include <google/protobuf/io/coded_stream.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace qcc {

namespace {

llvm::Expected<Attribute> convertAttribute(const onnx::AttributeProto &a, const std::string &baseDir) {
  using AP = onnx::AttributeProto;
  switch (a.type()) {
  case AP::INT: return Attribute(int64_t(a.i()));
  case AP::FLOAT: return Attribute(a.f());
  case AP::STRING: return Attribute(a.s());
  case AP::INTS: return Attribute(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
  case AP::FLOATS: return Attribute(std::vector<float>(a.floats().begin(), a.floats().end()));
  case AP::STRINGS: return Attribute(std::vector<std::string>(a.strings().begin(), a.strings().end()));
  case AP::TENSOR: {
    auto t = tensorFromProto(a.t(), baseDir);
    if (!t)
      return t.takeError();
    return Attribute(std::move(*t));
  }
  default:
    return makeError("attribute '{}' has unsupported kind {}", a.name(), AP::AttributeType_Name(a.type()));
  }
}

class Importer {
public:
  Importer(const std::string &path, const LoadOptions &opts) : path_(path), opts_(opts) {
    baseDir_ = fs::path(path).parent_path().string();
    if (baseDir_.empty())
      baseDir_ = ".";
  }

  llvm::Expected<std::unique_ptr<Graph>> run(const onnx::ModelProto &model) {
    g_ = std::make_unique<Graph>();
    g_->sourcePath = path_;
    g_->name = model.graph().name();
    // Graphs qcc wrote (OUT/model.qcc.onnx) are in canonical form already, which
    // is not always valid ONNX for their opset (Clip/Pad/Slice bounds held as
    // attributes): canonicalizing them again would misread them.
    for (const auto &p : model.metadata_props())
      if (p.key() == "qcc.canonical" && p.value() == "1")
        canonical_ = true;
    if (auto e = readOpsets(model))
      return std::move(e);
    const onnx::GraphProto &gp = model.graph();
    if (auto e = importInitializers(gp))
      return std::move(e);
    if (canonical_)
      if (auto e = restoreIntWidths(model))
        return std::move(e);
    if (auto e = importInputs(gp))
      return std::move(e);
    std::vector<int> order;
    if (auto e = sortNodes(gp, order))
      return std::move(e);
    for (int i : order)
      if (auto e = importNode(gp.node(i), i))
        return std::move(e);
    for (const auto &o : gp.output()) {
      Value *v = g_->findValue(o.name());
      if (!v)
        return makeError("graph output '{}' is not produced by any node", o.name());
      g_->outputs.push_back(v);
    }
    g_->removeDeadCode();
    return std::move(g_);
  }

private:
  bool canonical_ = false; ///< written by qcc: skip canonicalization
  llvm::Error readOpsets(const onnx::ModelProto &model) {
    for (const auto &op : model.opset_import()) {
      std::string d = op.domain() == "ai.onnx" ? "" : op.domain();
      g_->opsets[d] = op.version();
    }
    if (!g_->opsets.count(""))
      return makeError("model has no opset import for the default ONNX domain");
    int64_t v = g_->opsets[""];
    if (v < 1 || v > 21)
      return makeError("default-domain opset {} is not supported (qcc reads opsets up to 21)", v);
    return llvm::Error::success();
  }

  llvm::Error importInitializers(const onnx::GraphProto &gp) {
    for (const auto &t : gp.initializer()) {
      if (g_->findValue(t.name()))
        return makeError("initializer '{}' is defined twice", t.name());
      auto tensor = tensorFromProto(t, baseDir_, opts_.maxElements);
      if (!tensor)
        return withContext(tensor.takeError(), fmt::format("initializer '{}'", t.name()));
      g_->addConstant(t.name(), std::move(*tensor));
    }
    return llvm::Error::success();
  }

  /// Narrow integer constants of a graph qcc wrote: see writeOnnx ("qcc.int_widths").
  llvm::Error restoreIntWidths(const onnx::ModelProto &model) {
    for (const auto &p : model.metadata_props()) {
      if (p.key() != "qcc.int_widths")
        continue;
      llvm::SmallVector<llvm::StringRef, 16> lines;
      llvm::StringRef(p.value()).split(lines, '\n', -1, false);
      for (llvm::StringRef line : lines) {
        auto [bitsText, name] = line.split(':');
        unsigned bits = 0;
        Value *v = g_->findValue(name.str());
        if (bitsText.getAsInteger(10, bits) || !v || !v->isConstant() || !v->constant->elem().isInt())
          return makeError("metadata qcc.int_widths: '{}' names no integer initializer", line.str());
        const Tensor &old = *v->constant;
        const ElemType e = ElemType::intN(bits, old.elem().isSigned());
        if (bits < 1 || bits > 64 || e.storageBytes() != old.elem().storageBytes())
          return makeError("metadata qcc.int_widths: '{}' does not fit the initializer's type {}", line.str(),
                           old.elem().str());
        Tensor t(e, old.shape());
        std::copy(old.raw(), old.raw() + old.bytes(), t.raw());
        v->constant = std::move(t);
        v->type = v->constant->type();
      }
    }
    return llvm::Error::success();
  }

  llvm::Error importInputs(const onnx::GraphProto &gp) {
    for (const auto &in : gp.input()) {
      if (g_->findValue(in.name()))
        continue; // an initializer listed as input (IR version < 4 models)
      auto bound = opts_.bindInputs.find(in.name());
      if (bound != opts_.bindInputs.end()) {
        if (in.type().has_tensor_type()) {
          auto declared = elemTypeFromOnnx(in.type().tensor_type().elem_type());
          if (!declared)
            return withContext(declared.takeError(), fmt::format("graph input '{}'", in.name()));
          if (*declared != bound->second.elem())
            return makeError("graph input '{}' is {}, the value bound to it is {}", in.name(), declared->str(),
                             bound->second.elem().str());
        }
        g_->addConstant(in.name(), bound->second);
        continue;
      }
      if (!in.type().has_tensor_type())
        return makeError("graph input '{}' is not a tensor", in.name());
      const auto &tt = in.type().tensor_type();
      auto elem = elemTypeFromOnnx(tt.elem_type());
      if (!elem)
        return withContext(elem.takeError(), fmt::format("graph input '{}'", in.name()));
      Shape shape;
      auto over = opts_.inputShapes.find(in.name());
      if (over != opts_.inputShapes.end()) {
        shape = over->second;
        if (tt.has_shape() && tt.shape().dim_size() != int(shape.size()))
          return makeError("--input-shape {}: rank {} does not match the model's rank {}", in.name(),
                           shape.size(), tt.shape().dim_size());
      } else {
        if (!tt.has_shape())
          return makeError("graph input '{}' has no shape; give one with --input-shape {}=...",
                           in.name(), in.name());
        for (int i = 0; i < tt.shape().dim_size(); ++i) {
          const auto &d = tt.shape().dim(i);
          if (d.has_dim_value()) {
            shape.push_back(d.dim_value());
          } else if (i == 0) {
            shape.push_back(opts_.defaultBatch);
          } else {
            return makeError("graph input '{}' has symbolic dimension '{}' at axis {}; fix it with "
                             "--input-shape {}=...",
                             in.name(), d.dim_param(), i, in.name());
          }
        }
      }
      int64_t count = 1;
      for (int64_t d : shape) {
        if (d <= 0)
          return makeError("graph input '{}' has invalid dimension {} in [{}]", in.name(), d,
                           fmt::join(shape, ","));
        if (count > opts_.maxElements / d)
          return makeError("graph input '{}' is absurdly large ([{}])", in.name(), fmt::join(shape, ","));
        count *= d;
      }
      g_->inputs.push_back(g_->addValue(in.name(), TensorType{*elem, shape}));
    }
    for (const auto &kv : opts_.inputShapes)
      if (!g_->findValue(kv.first) ||
          std::find(g_->inputs.begin(), g_->inputs.end(), g_->findValue(kv.first)) == g_->inputs.end())
        return makeError("--input-shape names '{}', which is not a graph input", kv.first);
    return llvm::Error::success();
  }

  static std::string displayName(const onnx::NodeProto &np, int index) {
    return np.name().empty() ? fmt::format("{}_{}", np.op_type(), index) : np.name();
  }

  // Kahn's algorithm: ONNX requires topological order, but exporters do not
  // always comply; a cycle or a dangling input is an error naming the node.
  llvm::Error sortNodes(const onnx::GraphProto &gp, std::vector<int> &order) {
    std::map<std::string, int> producer;
    for (int i = 0; i < gp.node_size(); ++i)
      for (const auto &o : gp.node(i).output())
        if (!o.empty()) {
          if (producer.count(o) || g_->findValue(o))
            return makeError("node '{}' ({}): output '{}' is already defined elsewhere",
                             displayName(gp.node(i), i), gp.node(i).op_type(), o);
          producer[o] = i;
        }
    std::vector<int> pending(size_t(gp.node_size()), 0);
    std::vector<std::vector<int>> users(size_t(gp.node_size()));
    for (int i = 0; i < gp.node_size(); ++i) {
      for (const auto &in : gp.node(i).input()) {
        if (in.empty() || g_->findValue(in))
          continue;
        auto it = producer.find(in);
        if (it == producer.end())
          return makeError("node '{}' ({}): input '{}' is not a graph input, an initializer or the "
                           "output of any node",
                           displayName(gp.node(i), i), gp.node(i).op_type(), in);
        pending[size_t(i)]++;
        users[size_t(it->second)].push_back(i);
      }
    }
    std::vector<int> ready;
    for (int i = gp.node_size() - 1; i >= 0; --i)
      if (!pending[size_t(i)])
        ready.push_back(i);
    while (!ready.empty()) {
      int i = ready.back();
      ready.pop_back();
      order.push_back(i);
      for (int u : users[size_t(i)])
        if (--pending[size_t(u)] == 0)
          ready.push_back(u);
    }
    if (int(order.size()) != gp.node_size()) {
      for (int i = 0; i < gp.node_size(); ++i)
        if (pending[size_t(i)])
          return makeError("node '{}' ({}) is part of a cycle: the graph is not acyclic",
                           displayName(gp.node(i), i), gp.node(i).op_type());
    }
    return llvm::Error::success();
  }

  llvm::Error importNode(const onnx::NodeProto &np, int index) {
    auto node = std::make_unique<Node>();
    node->name = displayName(np, index);
    node->op = np.op_type();
    node->domain = np.domain() == "ai.onnx" ? "" : np.domain();
    const OpRegistry &reg = OpRegistry::get();
    auto opsetIt = g_->opsets.find(node->domain);
    // QONNX exporters often omit the opset import of their custom domains;
    // qonnx's executor then reads version 1, and so does qcc.
    const bool qonnxDomain = node->domain == "onnx.brevitas" || node->domain == "qonnx.custom_op.general" ||
                             node->domain == "finn.custom_op.general" ||
                             node->domain == "qonnx.custom_op.channels_last";
    if (opsetIt == g_->opsets.end() && !qonnxDomain)
      return makeError("{}: domain '{}' has no opset import in this model", node->describe(), node->domain);
    int64_t opset = opsetIt == g_->opsets.end() ? 1 : opsetIt->second;
    const OpDef *def = reg.lookup(node->domain, node->op);
    if (!def) {
      if (!node->domain.empty() && !reg.knowsDomain(node->domain))
        return makeError("{}: unsupported domain '{}' (opset {})", node->describe(), node->domain, opset);
      return makeError("{}: unsupported op (domain '{}', opset {})", node->describe(),
                       node->domain.empty() ? "ai.onnx" : node->domain, opset);
    }
    if (opset < def->minOpset)
      return makeError("{}: opset {} is older than the oldest supported ({})", node->describe(), opset,
                       def->minOpset);
    for (const auto &a : np.attribute()) {
      auto attr = convertAttribute(a, baseDir_);
      if (!attr)
        return withContext(attr.takeError(), node->describe());
      node->attrs[a.name()] = std::move(*attr);
    }
    for (const auto &in : np.input())
      node->inputs.push_back(in.empty() ? nullptr : g_->findValue(in));
    for (const auto &out : np.output())
      node->outputs.push_back(out.empty() ? nullptr : g_->addValue(out, TensorType{}));

    // DequantizeLinear's canonicalize only annotates grids: keep it.
    // A channels-last node wraps a standard op: canonicalize it at the default domain's opset.
    if (node->domain == "qonnx.custom_op.channels_last")
      opset = g_->opsets[""];
    if (def->canonicalize && (!canonical_ || node->op == "DequantizeLinear"))
      if (auto e = def->canonicalize(*node, opset))
        return e;
    if (auto e = def->infer(*node))
      return e;
    for (Value *o : node->outputs)
      if (o && o->type.numElements() > opts_.maxElements)
        return makeError("{}: output '{}' is absurdly large ({})", node->describe(), o->name,
                         o->type.str());
    return fold(std::move(node), *def);
  }

  // Evaluates a node whose inputs are all constant; otherwise appends it.
  llvm::Error fold(std::unique_ptr<Node> node, const OpDef &def) {
    bool allConst = true;
    for (Value *in : node->inputs)
      allConst &= !in || in->isConstant();
    if (!allConst && !def.foldFromTypes) {
      g_->addNode(std::move(node));
      return llvm::Error::success();
    }
    std::vector<const Tensor *> ins;
    for (Value *in : node->inputs)
      ins.push_back(in && in->isConstant() ? &*in->constant : nullptr);
    std::vector<Tensor> outs(node->outputs.size());
    for (size_t i = 0; i < outs.size(); ++i)
      if (Value *o = node->outputs[i])
        outs[i] = Tensor(o->type.elem, o->type.shape);
    if (auto e = def.eval(*node, ins, outs))
      return e;
    for (size_t i = 0; i < outs.size(); ++i)
      if (Value *o = node->outputs[i])
        o->constant = std::move(outs[i]);
    return llvm::Error::success();
  }

  std::string path_;
  std::string baseDir_;
  const LoadOptions &opts_;
  std::unique_ptr<Graph> g_;
};

} // namespace

llvm::Expected<std::unique_ptr<Graph>> loadOnnx(const std::string &path, const LoadOptions &opts) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return makeError("{}: no such model file", path);
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return makeError("{}: cannot open", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.empty())
    return makeError("{}: the file is empty (0 bytes), not an ONNX model", path);
  onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t *>(bytes.data()),
                                                int(bytes.size()));
  stream.SetTotalBytesLimit(INT32_MAX);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return makeError("{}: not a valid ONNX model (the protobuf is truncated or corrupt)", path);
  if (!model.has_graph())
    return makeError("{}: the model has no graph", path);
  auto g = Importer(path, opts).run(model);
  if (!g)
    return withContext(g.takeError(), path);
  return g;
}

llvm::Expected<std::pair<std::string, Shape>> parseInputShape(const std::string &spec) {
  auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return makeError("--input-shape '{}': expected NAME=DxDxD (e.g. input=1x3x224x224)", spec);
  Shape shape;
  std::string dims = spec.substr(eq + 1);
  size_t pos = 0;
  while (pos <= dims.size()) {
    size_t x = dims.find('x', pos);
    std::string d = dims.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    char *end = nullptr;
    long long v = std::strtoll(d.c_str(), &end, 10);
    if (d.empty() || *end || v <= 0)
      return makeError("--input-shape '{}': '{}' is not a positive dimension", spec, d);
    shape.push_back(v);
    if (x == std::string::npos)
      break;
    pos = x + 1;
  }
  return std::make_pair(spec.substr(0, eq), shape);
}

} // namespace qcc
