// Builds small ONNX models in memory for unit tests (protobuf API directly).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace qcc::test {

class OnnxBuilder {
public:
  explicit OnnxBuilder(int64_t opset = 13) {
    model_.set_ir_version(8);
    auto *op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  onnx::GraphProto &graph() { return *model_.mutable_graph(); }
  onnx::ModelProto &model() { return model_; }

  /// dims: a negative value makes a symbolic dimension named "N".
  void input(const std::string &name, std::vector<int64_t> dims, int elem = onnx::TensorProto::FLOAT) {
    valueInfo(graph().add_input(), name, dims, elem);
  }
  void output(const std::string &name) { graph().add_output()->set_name(name); }

  onnx::TensorProto &initF(const std::string &name, std::vector<int64_t> dims, std::vector<float> vals) {
    auto *t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims)
      t->add_dims(d);
    for (float v : vals)
      t->add_float_data(v);
    return *t;
  }
  onnx::TensorProto &initI64(const std::string &name, std::vector<int64_t> vals) {
    auto *t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(vals.size()));
    for (auto v : vals)
      t->add_int64_data(v);
    return *t;
  }

  onnx::NodeProto &node(const std::string &op, std::vector<std::string> ins, std::vector<std::string> outs,
                        const std::string &name = "") {
    auto *n = graph().add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(graph().node_size()) : name);
    for (auto &i : ins)
      n->add_input(i);
    for (auto &o : outs)
      n->add_output(o);
    return *n;
  }
  static void attrInts(onnx::NodeProto &n, const std::string &name, std::vector<int64_t> v) {
    auto *a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v)
      a->add_ints(x);
  }
  static void attrInt(onnx::NodeProto &n, const std::string &name, int64_t v) {
    auto *a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }

  /// Writes the model to dir/name and returns the path.
  std::string save(const std::filesystem::path &dir, const std::string &name = "model.onnx") {
    std::filesystem::create_directories(dir);
    std::string path = (dir / name).string();
    std::ofstream f(path, std::ios::binary);
    model_.SerializeToOstream(&f);
    return path;
  }

private:
  static void valueInfo(onnx::ValueInfoProto *vi, const std::string &name, const std::vector<int64_t> &dims,
                        int elem) {
    vi->set_name(name);
    auto *tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto *shape = tt->mutable_shape();
    for (auto d : dims) {
      auto *dim = shape->add_dim();
      if (d < 0)
        dim->set_dim_param("N");
      else
        dim->set_dim_value(d);
    }
  }
  onnx::ModelProto model_;
};

/// A fresh temporary directory per test.
inline std::filesystem::path tempDir(const std::string &tag) {
  auto d = std::filesystem::temp_directory_path() / ("qcc_test_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

} // namespace qcc::test
