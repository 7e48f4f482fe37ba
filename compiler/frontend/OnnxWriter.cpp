#include "frontend/OnnxWriter.h"

#include "support/Error.h"

#include <onnx/onnx_pb.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <fmt/format.h>

namespace qcc {

namespace {

llvm::Expected<int32_t> onnxType(const ElemType &e) {
  using TP = onnx::TensorProto;
  switch (e.storage()) {
  case Storage::F32: return TP::FLOAT;
  case Storage::F64: return TP::DOUBLE;
  case Storage::I8: return TP::INT8;
  case Storage::U8: return TP::UINT8;
  case Storage::I16: return TP::INT16;
  case Storage::U16: return TP::UINT16;
  case Storage::I32: return TP::INT32;
  case Storage::U32: return TP::UINT32;
  case Storage::I64: return TP::INT64;
  case Storage::U64: return TP::UINT64;
  case Storage::Bool: return TP::BOOL;
  }
  return makeError("element type {} has no ONNX equivalent", e.str());
}

llvm::Error fillTensor(const Tensor &t, const std::string &name, onnx::TensorProto &p) {
  auto dt = onnxType(t.elem());
  if (!dt)
    return dt.takeError();
  p.set_name(name);
  p.set_data_type(*dt);
  for (int64_t d : t.shape())
    p.add_dims(d);
  p.set_raw_data(std::string(reinterpret_cast<const char *>(t.raw()), t.bytes()));
  return llvm::Error::success();
}

llvm::Error fillValueInfo(const Value &v, onnx::ValueInfoProto &vi) {
  auto dt = onnxType(v.type.elem);
  if (!dt)
    return dt.takeError();
  vi.set_name(v.name);
  auto *tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(*dt);
  auto *shape = tt->mutable_shape();
  for (int64_t d : v.type.shape)
    shape->add_dim()->set_dim_value(d);
  return llvm::Error::success();
}

llvm::Error fillAttribute(const std::string &name, const Attribute &a, onnx::AttributeProto &p) {
  using AP = onnx::AttributeProto;
  p.set_name(name);
  if (auto *i = std::get_if<int64_t>(&a)) {
    p.set_type(AP::INT);
    p.set_i(*i);
  } else if (auto *f = std::get_if<float>(&a)) {
    p.set_type(AP::FLOAT);
    p.set_f(*f);
  } else if (auto *s = std::get_if<std::string>(&a)) {
    p.set_type(AP::STRING);
    p.set_s(*s);
  } else if (auto *is = std::get_if<std::vector<int64_t>>(&a)) {
    p.set_type(AP::INTS);
    for (int64_t x : *is)
      p.add_ints(x);
  } else if (auto *fs = std::get_if<std::vector<float>>(&a)) {
    p.set_type(AP::FLOATS);
    for (float x : *fs)
      p.add_floats(x);
  } else if (auto *ss = std::get_if<std::vector<std::string>>(&a)) {
    p.set_type(AP::STRINGS);
    for (const auto &x : *ss)
      p.add_strings(x);
  } else if (auto *t = std::get_if<Tensor>(&a)) {
    p.set_type(AP::TENSOR);
    return fillTensor(*t, "", *p.mutable_t());
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error writeOnnx(const Graph &g, const std::string &path) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("qcc");
  // The IR's canonical form, not always valid ONNX for the opset: see OnnxLoader.
  auto *meta = m.add_metadata_props();
  meta->set_key("qcc.canonical");
  meta->set_value("1");
  for (const auto &[domain, version] : g.opsets) {
    auto *op = m.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }
  onnx::GraphProto &gp = *m.mutable_graph();
  gp.set_name(g.name);
  std::set<const Value *> written;
  for (const auto &n : g.nodes())
    for (const Value *v : n->inputs)
      if (v && v->isConstant() && written.insert(v).second)
        if (auto e = fillTensor(*v->constant, v->name, *gp.add_initializer()))
          return e;
  for (const Value *v : g.outputs)
    if (v->isConstant() && written.insert(v).second)
      if (auto e = fillTensor(*v->constant, v->name, *gp.add_initializer()))
        return e;
  // ONNX has no 2..7-bit (or 9..15-bit) integer types: such constants are
  // written in their storage type, and their widths kept here ("bits:name"
  // lines), so a reload infers the same narrow types (QuantizeLinear takes its
  // output type, and so its saturation range, from the zero point's).
  std::set<std::string> narrow; // sorted: the same graph writes the same bytes
  for (const Value *v : written) {
    const ElemType &e = v->constant->elem();
    if (e.isInt() && e.bits() != e.storageBytes() * 8)
      narrow.insert(fmt::format("{}:{}", e.bits(), v->name));
  }
  std::string widths;
  for (const std::string &w : narrow)
    widths += (widths.empty() ? "" : "\n") + w;
  if (!widths.empty()) {
    auto *w = m.add_metadata_props();
    w->set_key("qcc.int_widths");
    w->set_value(widths);
  }
  for (const Value *v : g.inputs)
    if (auto e = fillValueInfo(*v, *gp.add_input()))
      return e;
  for (const Value *v : g.outputs)
    if (auto e = fillValueInfo(*v, *gp.add_output()))
      return e;
  for (const auto &n : g.nodes()) {
    onnx::NodeProto &np = *gp.add_node();
    np.set_name(n->name);
    np.set_op_type(n->op);
    np.set_domain(n->domain);
    for (const Value *v : n->inputs)
      np.add_input(v ? v->name : "");
    for (const Value *v : n->outputs)
      np.add_output(v ? v->name : "");
    for (const auto &[k, a] : n->attrs)
      if (auto e = fillAttribute(k, a, *np.add_attribute()))
        return withContext(std::move(e), n->describe());
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f || !m.SerializeToOstream(&f))
      return makeError("{}: cannot write", path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return makeError("{}: cannot write", path);
  }
  return llvm::Error::success();
}

} // namespace qcc
