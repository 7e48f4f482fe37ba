"""Binary layers on the XNOR-popcount kernel (runtime_stub/qcc/binary.h), end to end.

    check_binary.py QCC [--keep DIR]

Builds QONNX models with onnx.helper whose convolutions and fully connected layers have
BipolarQuant weights and BipolarQuant (+-1) inputs at awkward shapes: K not a multiple
of 64, asymmetric padding, stride 2, dilation, groups (33 channels per group), 1x1, a
concat and a max pool between binary layers, per-channel weight scales, biases; a
depthwise binary conv and a conv on 8-bit inputs stay on the int8 kernel (exact too), as
does cnn_w1a1's 1x1 conv over 8 channels (binary_conv_worthwhile; check_brevitas.py).
Every scale is a power of two and every sum small, so qonnx's float32 arithmetic is
exact and its executor is an exact reference.

For each model:
  qcc compile MODEL -o OUT --calib X    library.json must name the kernel of every
                                        QConv / QGemm as EXPECTED says ("xnor_popcount"
                                        for binary layers, "int8" for the rest)
  qcc run OUT --input X -o Y            must equal qonnx.core.onnx_exec on every output
  qcc compare MODEL OUT --data X        bit_exact (generated C++ vs integer reference)
Exit 1 on a failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "qonnx.custom_op.general"


class Builder:
    def __init__(self, seed):
        self.nodes, self.inits, self.k = [], [], 0
        self.rng = np.random.default_rng(seed)

    def const(self, v):
        self.k += 1
        n = f"c{self.k}"
        self.inits.append(numpy_helper.from_array(np.asarray(v, np.float32), n))
        return n

    def node(self, op, inputs, name=None, domain="", **attrs):
        self.k += 1
        y = f"{op.lower()}{self.k}"
        self.nodes.append(helper.make_node(op, inputs, [y], name=name or f"{op}_{self.k}", domain=domain, **attrs))
        return y

    def quant(self, x, scale, bits):
        return self.node("Quant", [x, self.const(scale), self.const(0.0), self.const(bits)], domain=DOMAIN, signed=1,
                         narrow=0, rounding_mode="ROUND")

    def bipolar(self, x, scale=1.0):
        return self.node("BipolarQuant", [x, self.const(scale)], domain=DOMAIN)

    def binary_weights(self, shape, per_channel=False):
        """BipolarQuant of random float weights; scale 0.5, or per output channel a power of two."""
        w = self.const(self.rng.normal(0, 1, shape).astype(np.float32))
        s = 0.5 if not per_channel else (2.0 ** -self.rng.integers(0, 3, (shape[0],) + (1,) * (len(shape) - 1)))
        return self.bipolar(w, s)

    def conv(self, x, cout, cin_g, k, name, bias=False, per_channel=False, **attrs):
        ins = [x, self.binary_weights([cout, cin_g] + k, per_channel)]
        if bias:  # on the accumulator grid (input scale 1 x weight scale 0.5)
            ins.append(self.const(0.5 * self.rng.integers(-3, 4, cout)))
        return self.node("Conv", ins, name=name, **attrs)

    def model(self, x_shape, y):
        g = helper.make_graph(self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)])
        m.ir_version = 8
        return m


def conv_model():
    """An int8 first layer, then binary convs of every awkward kind, max pool, binary FC."""
    b = Builder(1)
    q = b.quant("x", 1 / 16, 8)
    a0 = b.bipolar(b.conv(q, 8, 8, [3, 3], "c0_int8_input", pads=[1, 1, 1, 1]))        # 8-bit input: int8 kernel
    x1 = b.bipolar(q)                                                                 # the input binarized
    a1 = b.bipolar(b.conv(x1, 70, 8, [3, 3], "c1_stride2", strides=[2, 2], pads=[1, 0, 0, 1], bias=True))
    a0p = b.node("MaxPool", [a0], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 0, 0])  # [8, 5, 4]
    m = b.node("Concat", [a1, a0p], axis=1)                                           # 78 channels, +-1 both
    a2 = b.bipolar(b.conv(m, 66, 39, [3, 3], "c2_groups_dilation", group=2, dilations=[2, 2],
                          pads=[2, 1, 2, 3], per_channel=True))                       # K = 351, width 5 + 4 - 4
    a3 = b.bipolar(b.conv(a2, 66, 1, [3, 3], "c3_depthwise", group=66, pads=[1, 1, 1, 1], bias=True))  # int8 kernel
    a4 = b.bipolar(b.conv(a3, 65, 66, [1, 1], "c4_1x1"))                              # K = 66
    p = b.node("MaxPool", [a4], kernel_shape=[2, 2], strides=[2, 2])
    f = b.node("Flatten", [p], axis=1)
    wf = b.binary_weights([10, 65 * 2 * 2])
    bf = b.const((0.5 * b.rng.integers(-3, 4, 10)).astype(np.float32))  # a float bias after Flatten
    y = b.node("Gemm", [f, wf, bf], name="fc_binary", transB=1)
    return b.model([1, 8, 11, 9], b.quant(y, 0.5, 8)), {
        "c0_int8_input": "int8", "c1_stride2": "xnor_popcount", "c2_groups_dilation": "xnor_popcount",
        "c3_depthwise": "int8",  # binary, but depthwise runs faster on the int8 kernel
        "c4_1x1": "xnor_popcount", "fc_binary": "xnor_popcount"}


def mlp_model():
    """Binary fully connected layers with K = 100, 33, 17 (no bias, bias), 8-bit output."""
    b = Builder(2)
    q = b.bipolar(b.node("Flatten", [b.quant("x", 1 / 8, 8)], axis=1))
    h = q
    for i, (n, k) in enumerate([(33, 100), (17, 33), (12, 17)]):
        ins = [h, b.binary_weights([k, n])]  # MatMul-style B [K, N] (transB = 0)
        if i == 1:
            ins.append(b.const(0.5 * b.rng.integers(-2, 3, n)))
        h = b.node("Gemm", ins, name=f"fc{i}")
        if i < 2:
            h = b.bipolar(h)
    return b.model([1, 4, 25], b.quant(h, 0.25, 8)), {"fc0": "xnor_popcount", "fc1": "xnor_popcount",
                                                      "fc2": "xnor_popcount"}


def qonnx_run(path, x):
    """qonnx's executor, sample by sample, with the repository's adjustments (shared e2e helper)."""
    sys.path.insert(0, HERE)
    try:
        from qonnx_testlib import qonnx_run as runner
    except ImportError:
        from check_qonnx_int import qonnx_run as runner
    y = runner(path, x)
    return y[0] if isinstance(y, list) else y  # qonnx_testlib: every output, in a list


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def last_line(r):
    return (r.stderr.strip().splitlines() or ["?"])[-1]


def check(qcc, name, model, expected, work):
    path = os.path.join(work, name + ".onnx")
    onnx.save(model, path)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(len(name)).normal(0, 1, [12] + shape[1:]).astype(np.float32)
    xp = os.path.join(work, name + "_x.npy")
    np.save(xp, x)
    out = os.path.join(work, name + "_out")
    r = run([qcc, "compile", path, "-o", out, "--calib", xp])
    if r.returncode != 0:
        return [f"{name}: compile exit {r.returncode}: {last_line(r)}"]
    fails = []
    layers = json.load(open(os.path.join(out, "library.json")))["layers"]
    kernels = {l["node"]: l.get("kernel") for l in layers if l.get("weight_count")}
    for node, want in expected.items():
        got = [k for n, k in kernels.items() if n == node or n.startswith(node + "/")]
        if got != [want]:
            fails.append(f"{name}: node {node}: kernel {got}, expected {want}")
    for n, k in kernels.items():
        if not any(n == e or n.startswith(e + "/") for e in expected):
            fails.append(f"{name}: unexpected weighted layer {n} ({k})")
    yp = os.path.join(work, name + "_y.npy")
    r = run([qcc, "run", out, "--input", xp, "-o", yp])
    if r.returncode != 0:
        return fails + [f"{name}: run: {last_line(r)}"]
    y_ref = qonnx_run(path, x)
    y = np.load(yp).reshape(y_ref.shape)
    equal = float((y == y_ref).mean())
    if equal != 1.0:
        fails.append(f"{name}: {100 * equal:.2f} % of outputs equal to qonnx's executor (exact arithmetic: need 100 %)")
    r = run([qcc, "compare", path, out, "--data", xp, "--json"])
    bit_exact = None
    try:
        bit_exact = json.loads(r.stdout).get("bit_exact")
    except ValueError:
        pass
    if bit_exact is not True:
        fails.append(f"{name}: compare bit_exact {bit_exact} (exit {r.returncode}: {last_line(r)})")
    binary = sum(k == "xnor_popcount" for k in kernels.values())
    print(f"{name}: {binary} of {len(kernels)} weighted layers on xnor_popcount, {100 * equal:.2f} % equal to qonnx, "
          f"bit_exact {bit_exact}, spread of outputs {np.unique(y).size} values", flush=True)
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--keep")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="qcc_binary_")
    os.makedirs(work, exist_ok=True)
    fails = []
    for name, (model, expected) in (("binary_convs", conv_model()), ("binary_mlp", mlp_model())):
        fails += check(args.qcc, name, model, expected, work)
    for f in fails:
        print("FAIL:", f)
    print("ok" if not fails else f"{len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
