"""Small float ONNX models that sweep the shapes and ops the C++ backend must
reproduce bit for bit: odd sizes, padding (also asymmetric), stride 2,
dilation, groups, depthwise (with a channel multiplier), 1x1, channel counts
that are not multiples of 4, 8 or 16, pooling with ceil_mode, broadcasting
add and mul, concat, resize, pad, transpose, slice, flatten after NHWC
layers, lookup-table activations.

Built with onnx.helper and a fixed numpy seed at test time (nothing to commit).
    models(seed) -> [(name, ModelProto, input_shape)]
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, name, shape, rng):
        self.name, self.rng = name, rng
        self.nodes, self.inits = [], []
        self.shape = shape
        self.count = 0

    def fresh(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def const(self, arr, base="c"):
        n = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), n))
        return n

    def node(self, op, ins, **attrs):
        out = self.fresh(op.lower() + "_")
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pads=None, dil=1, group=1, act=None):
        kh, kw = (k, k) if isinstance(k, int) else k
        w = self.rng.normal(0, 1.0 / np.sqrt(cin // group * kh * kw), (cout, cin // group, kh, kw))
        b = self.rng.normal(0, 0.1, cout)
        pads = pads if pads is not None else [kh // 2, kw // 2, kh // 2, kw // 2]
        y = self.node("Conv", [x, self.const(w, "w"), self.const(b, "b")], kernel_shape=[kh, kw],
                      strides=[stride, stride], pads=pads, dilations=[dil, dil], group=group)
        if act == "relu":
            y = self.node("Relu", [y])
        elif act == "relu6":
            y = self.node("Clip", [y, self.const(0.0), self.const(6.0)])
        return y

    def model(self, out):
        g = helper.make_graph(self.nodes, self.name,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        # The output's type comes from shape inference.
        m.graph.output[0].type.tensor_type.ClearField("shape")
        inferred = onnx.shape_inference.infer_shapes(m)
        return inferred


def models(seed=0):
    rng = np.random.default_rng(seed)
    out = []

    # Convolution geometries, chained so one library covers several.
    b = Builder("conv_sweep", [1, 3, 13, 11], rng)
    y = b.conv("x", 3, 5, 3, act="relu")                       # odd sizes, pad 1
    y = b.conv(y, 5, 7, 3, stride=2, act="relu6")              # stride 2
    y = b.conv(y, 7, 7, 3, group=7)                            # depthwise
    y = b.conv(y, 7, 14, 3, group=7, pads=[1, 0, 2, 1])        # depthwise x2 multiplier, asymmetric pad
    y = b.conv(y, 14, 13, 1, act="relu")                       # 1x1, 13 channels
    y = b.conv(y, 13, 9, (2, 3), dil=2, pads=[1, 2, 1, 2])     # rectangular kernel, dilation 2
    out.append(("conv_sweep", b.model(y), b.shape))

    b = Builder("conv_groups", [1, 12, 9, 10], rng)
    y = b.conv("x", 12, 24, 3, group=3, act="relu")            # grouped
    y = b.conv(y, 24, 33, 1, stride=2)                         # strided 1x1, 33 channels
    y = b.conv(y, 33, 17, 5, pads=[2, 2, 2, 2], act="relu")    # 5x5
    y = b.conv(y, 17, 17, 3, stride=2, group=17, pads=[0, 0, 0, 0])  # depthwise, no pad
    out.append(("conv_groups", b.model(y), b.shape))

    # Pooling, residual add, global average pool, fully connected.
    b = Builder("pool_residual", [1, 6, 15, 15], rng)
    y = b.conv("x", 6, 10, 3, act="relu")
    y = b.node("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    z = b.conv(y, 10, 10, 3, act="relu")
    y = b.node("Add", [y, z])
    y = b.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.node("GlobalAveragePool", [y])
    y = b.node("Flatten", [y], axis=1)
    y = b.node("Gemm", [y, b.const(rng.normal(0, 0.3, (7, 10)), "fc"), b.const(rng.normal(0, 0.1, 7), "fcb")], transB=1)
    out.append(("pool_residual", b.model(y), b.shape))

    # Flatten straight after NHWC layers (a layout change), MLP head.
    b = Builder("flatten_head", [2, 3, 7, 5], rng)
    y = b.conv("x", 3, 6, 3, act="relu")
    y = b.node("Flatten", [y], axis=1)
    y = b.node("Gemm", [y, b.const(rng.normal(0, 0.1, (11, 210)), "fc"), b.const(rng.normal(0, 0.1, 11), "fcb")],
               transB=1)
    y = b.node("Relu", [y])
    y = b.node("MatMul", [y, b.const(rng.normal(0, 0.3, (11, 5)), "mm")])
    out.append(("flatten_head", b.model(y), b.shape))

    # Broadcasting add / mul, concat, lookup tables.
    b = Builder("broadcast_concat", [1, 5, 6, 7], rng)
    y = b.conv("x", 5, 8, 3)
    g = b.node("GlobalAveragePool", [y])
    g = b.node("Sigmoid", [g])                                  # LUT
    y2 = b.node("Mul", [y, g])                                  # [1,8,6,7] * [1,8,1,1]
    y3 = b.node("Add", [y2, b.const(rng.normal(0, 0.5, (1, 8, 1, 1)), "bias")])  # constant broadcast
    t = b.node("Tanh", [y])                                     # LUT
    c = b.node("Concat", [y3, t], axis=1)
    y = b.conv(c, 16, 4, 1)
    out.append(("broadcast_concat", b.model(y), b.shape))

    # Data movement: pad, resize nearest, transpose, slice.
    b = Builder("movement", [1, 4, 5, 6], rng)
    y = b.conv("x", 4, 6, 3, act="relu")
    y = b.node("Pad", [y, b.inits.append(numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "pads")) or "pads"],
               mode="constant")
    sc = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    b.inits.append(sc)
    y = b.node("Resize", [y, "", "scales"], mode="nearest")
    y = b.conv(y, 6, 5, 3, stride=2)
    st = [numpy_helper.from_array(np.array(v, np.int64), n) for v, n in
          [([1, 0], "starts"), ([5, 7], "ends"), ([1, 3], "axes")]]
    b.inits.extend(st)
    y = b.node("Slice", [y, "starts", "ends", "axes"])
    y = b.node("Transpose", [y], perm=[0, 2, 3, 1])
    out.append(("movement", b.model(y), b.shape))
    return out


if __name__ == "__main__":
    import sys
    for name, m, shape in models():
        onnx.checker.check_model(m)
        onnx.save(m, f"{sys.argv[1]}/{name}.onnx")
        print(name, shape)
