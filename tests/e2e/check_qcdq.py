#!/usr/bin/env python3
"""QCDQ models (QuantizeLinear -> Clip -> DequantizeLinear): sub-8-bit
quantization written in standard ONNX, against onnxruntime.

    check_qcdq.py QCC [--keep DIR]

A Clip on the integers between QuantizeLinear and DequantizeLinear narrows
an 8-bit grid to fewer bits (qonnx's QCDQ export, brevitas' export_onnx_qcdq).
qcc must read it as that bit width: the integer graph keeps the model's
scales and zero points, the activation types are int<bits>, nothing is
re-quantized by calibration and no float island is left.

For each model built here (conv, gemm, residual add; 2, 3, 4 bits; signed and
unsigned; per-channel weights):
  qcc compile MODEL --calib X -o OUT       (no float island; one QuantizeLinear
                                           and one DequantizeLinear left, at the edges)
  model.qir types                          (the Clip's width, e.g. i4 / u3)
  qcc run OUT --input X -o Y               vs onnxruntime on the same X:
                                           on the output grid, every element
                                           within one step, >= 99 % equal
  qcc compare MODEL OUT --data X --json    bit_exact
Prints a table; exit 1 on a failure.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qonnx_testlib  # noqa: E402


class Builder(qonnx_testlib.Builder):
    """qonnx_testlib's Builder (names, constants) with QCDQ quantizers and DequantizeLinear weights."""

    def qcdq(self, x, scale, bits, signed, zp=0):
        """QuantizeLinear to 8-bit storage, Clip to `bits`, DequantizeLinear."""
        dt = np.int8 if signed else np.uint8
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        s, z = self.const(np.float32(scale), "s"), self.const(dt(zp), "z")
        q, c, y = self.name("q"), self.name("c"), self.name("dq")
        self.nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [q], name=self.name("Quantize")))
        self.nodes.append(helper.make_node("Clip", [q, self.const(dt(lo), "lo"), self.const(dt(hi), "hi")], [c],
                                           name=self.name("Clip")))
        self.nodes.append(helper.make_node("DequantizeLinear", [c, s, z], [y], name=self.name("Dequantize")))
        return y

    def weight(self, shape, bits, axis=0):
        """Per-channel symmetric narrow weights of `bits` bits as int8 + DequantizeLinear."""
        m = (1 << (bits - 1)) - 1
        w = self.rng.integers(-m, m + 1, shape).astype(np.int8)
        s = (self.rng.uniform(0.5, 1.5, shape[axis]) / (m * np.sqrt(np.prod(shape[1:])))).astype(np.float32)
        y = self.name("w")
        self.nodes.append(helper.make_node("DequantizeLinear", [self.const(w, "wq"), self.const(s, "ws"),
                                                                self.const(np.zeros(shape[axis], np.int8), "wz")],
                                           [y], axis=axis, name=self.name("DequantizeW")))
        return y

    def op(self, op, inputs, **attrs):
        y = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [y], name=self.name(op), **attrs))
        return y

    def model(self, x_shape, y, name):
        g = helper.make_graph(self.nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        m.graph.output[0].CopyFrom(onnx.shape_inference.infer_shapes(m).graph.output[0])
        onnx.checker.check_model(m, full_check=True)
        return m


def conv_model(bits, signed, seed):
    b = Builder(seed)
    x = b.qcdq("x", 0.08, bits, signed, zp=0 if signed else 2)
    y = b.op("Conv", [x, b.weight([8, 3, 3, 3], bits), b.const(b.rng.normal(0, 0.05, 8).astype(np.float32), "b")],
             pads=[1, 1, 0, 1], strides=[1, 2])
    y = b.qcdq(b.op("Relu", [y]), 0.05, bits, False)
    y = b.op("Conv", [y, b.weight([5, 8, 1, 1], bits)])
    y = b.qcdq(y, 0.1, bits, True)
    return b.model([1, 3, 9, 10], y, f"qcdq_conv_{bits}b"), [1, 3, 9, 10]


def gemm_model(bits, signed, seed):
    b = Builder(seed)
    x = b.qcdq("x", 0.1, bits, signed)
    y = b.op("Gemm", [x, b.weight([12, 20], bits), b.const(b.rng.normal(0, 0.1, 12).astype(np.float32), "b")],
             transB=1)
    y = b.qcdq(b.op("Relu", [y]), 0.07, bits, False)
    y = b.op("Gemm", [y, b.weight([7, 12], bits)], transB=1)
    y = b.qcdq(y, 0.1, bits, True)
    return b.model([1, 20], y, f"qcdq_gemm_{bits}b"), [1, 20]


def residual_model(bits, signed, seed):
    b = Builder(seed)
    x = b.qcdq("x", 0.08, bits, signed)
    y = b.qcdq(b.op("Conv", [x, b.weight([4, 4, 3, 3], bits)], pads=[1, 1, 1, 1]), 0.08, bits, signed)
    y = b.qcdq(b.op("Add", [x, y]), 0.12, bits, signed)
    return b.model([1, 4, 6, 6], y, f"qcdq_residual_{bits}b"), [1, 4, 6, 6]


# Known gaps, reported not failed (model name prefix -> why); everything else
# is still required for them (bit-exact, within one step). Empty: the Gemm with
# a float bias (gemm_model's first layer) is fused now, its bias rounded onto
# the int32 accumulator grid as onnxruntime's bias quantization rounds it.
KNOWN_GAPS = {}

CASES = [(conv_model, 4, True), (conv_model, 3, False), (conv_model, 2, True),
         (gemm_model, 4, True), (gemm_model, 3, False), (gemm_model, 2, True),
         (residual_model, 4, True), (residual_model, 3, True)]


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def output_grid(model):
    """Scale and zero point of the last DequantizeLinear."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"][-1]
    return float(inits[dq.input[1]]), int(inits[dq.input[2]])


def check(qcc, work, fn, bits, signed, seed):
    model, shape = fn(bits, signed, seed)
    name = model.graph.name + ("_s" if signed else "_u")
    path = os.path.join(work, name + ".onnx")
    onnx.save(model, path)
    rng = np.random.default_rng(seed + 100)
    x = rng.uniform(-1.2, 1.2, [8] + shape[1:]).astype(np.float32)
    xp = os.path.join(work, name + "_x.npy")
    np.save(xp, x)
    out = os.path.join(work, name + "_out")
    fails = []
    r = run([qcc, "compile", path, "--calib", xp, "-o", out])
    if r.returncode != 0:
        return name, None, None, None, [f"compile failed: {r.stderr.strip()[-400:]}"]
    islands = [l.strip() for l in r.stderr.splitlines() if l.strip().startswith("float island:")]
    if islands:
        fails.append("float islands left: " + "; ".join(islands))
    qir = open(os.path.join(out, "model.qir")).read()
    # Integer from the input quantizer to the output dequantizer: any other
    # (De)QuantizeLinear is a unit qcc did not fuse (and re-quantized itself).
    edges = (qir.count("= QuantizeLinear("), qir.count("= DequantizeLinear("))
    gap = next((why for k, why in KNOWN_GAPS.items() if name.startswith(k)), None)
    if edges != (1, 1) and not gap:
        fails.append(f"model.qir has {edges[0]} QuantizeLinear and {edges[1]} DequantizeLinear (want 1 and 1)")
    elif edges != (1, 1):
        print(f"  known gap in {name}: {gap}")
    # Every QCDQ activation keeps the Clip's width: the integer types of that width appear, no Clip is left.
    want = f"{'i' if signed else 'u'}{bits}["
    if want not in qir:
        fails.append(f"model.qir has no {want} tensor")
    if re.search(r"= Clip\(", qir):
        fails.append("a Clip is left in the integer graph")
    yq = os.path.join(work, name + "_y.npy")
    r = run([qcc, "run", out, "--input", xp, "-o", yq])
    if r.returncode != 0:
        return name, None, None, None, fails + [f"run failed: {r.stderr.strip()[-300:]}"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    y_ort = np.concatenate([sess.run(None, {"x": x[i:i + 1]})[0] for i in range(len(x))])
    scale, zp = output_grid(model)
    steps = np.abs(np.round(np.load(yq) / scale) - np.round(y_ort / scale))
    equal = float(np.mean(steps == 0))
    if steps.max() > 1 or (equal < 0.99 and not gap):
        fails.append(f"vs onnxruntime: {100 * equal:.2f}% equal, max {int(steps.max())} steps")
    r = run([qcc, "compare", path, out, "--data", xp, "--json"])
    bit_exact = None
    if r.returncode in (0, 1) and r.stdout.strip():
        bit_exact = json.loads(r.stdout).get("bit_exact")
    if bit_exact is not True:
        fails.append(f"qcc compare: bit_exact {bit_exact} (exit {r.returncode}) {r.stderr.strip()[-300:]}")
    return name, equal, int(steps.max()), bit_exact, fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("qcc")
    ap.add_argument("--keep", help="keep the work folder here")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="qcdq-")
    os.makedirs(work, exist_ok=True)
    failed = 0
    print(f"{'model':<24} {'equal %':>8} {'max steps':>9} {'bit-exact':>9}")
    for i, (fn, bits, signed) in enumerate(CASES):
        name, equal, steps, exact, fails = check(args.qcc, work, fn, bits, signed, 10 + i)
        eq = "-" if equal is None else f"{100 * equal:.2f}"
        print(f"{name:<24} {eq:>8} {'-' if steps is None else steps:>9} {str(exact):>9}")
        for f in fails:
            print(f"  FAIL {f}")
        failed += bool(fails)
    print(f"{len(CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
