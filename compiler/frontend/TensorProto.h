// Conversion of ONNX TensorProto to qcc tensors (initializers, Constant values,
// .pb test data), including external data confined to a base folder.
#pragma once

#include "ir/Tensor.h"

#include <onnx/onnx_pb.h>
#include <llvm/Support/Error.h>

#include <string>

namespace qcc {

/// Maps an ONNX TensorProto data type to a qcc element type.
llvm::Expected<ElemType> elemTypeFromOnnx(int32_t dataType);

/// Decodes `t`. `baseDir` resolves external data; "" forbids it.
llvm::Expected<Tensor> tensorFromProto(const onnx::TensorProto &t, const std::string &baseDir,
                                       int64_t maxElements = int64_t(1) << 32);

/// Reads a serialized TensorProto file (ONNX test data `input_0.pb`).
llvm::Expected<Tensor> readTensorPb(const std::string &path);

} // namespace qcc
