"""Shared pieces of the QONNX end-to-end checks (check_qonnx_thresholds.py uses them).

    Builder             small QONNX graphs with onnx.helper (Quant, standard ops, the model)
    qonnx_run           every output of qonnx's executor, one sample at a time
    run, last_line      qcc subprocesses and the last line of their stderr
    compare_bit_exact   `qcc compare MODEL OUT --data X --json` -> bit_exact (None if it failed)
    integer_only        float ops left between the quantizers of a model.qir
    result_row, fail_row, print_table
                        the table every check prints: model, equal %, steps, bit_exact, note
"""
import json
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "models"))
DOMAIN = "qonnx.custom_op.general"


class Builder:
    """Nodes and initializers of one graph; names numbered in creation order (so a seed gives one model)."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.k = [], [], 0

    def name(self, base):
        self.k += 1
        return f"{base}{self.k}"

    def const(self, arr, base="c"):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def act(self, scale):
        """An activation scale off the decimal grid (as trained scales are):
        decimal scales like 0.3 / 0.4 make exact float ties common, where the
        float reference and the integer graph round differently."""
        return np.float32(scale * self.rng.uniform(0.9, 1.1))

    def quant(self, x, scale, bits, signed=1, narrow=0, zp=0.0, mode="ROUND"):
        y = self.name("q")
        self.nodes.append(helper.make_node(
            "Quant", [x, self.const(np.asarray(scale, np.float32), "s"), self.const(np.float32(zp), "z"),
                      self.const(np.float32(bits), "b")], [y], domain=DOMAIN, name=self.name("Quant"),
            signed=signed, narrow=narrow, rounding_mode=mode))
        return y

    def node(self, op, inputs, domain="", **attrs):
        y = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [y], name=self.name(op), domain=domain, **attrs))
        return y

    def model(self, x_shape, outputs, opset=13, shapes=None, domain_version=1):
        """Input "x" (float), outputs: one name or a list. shapes: value name -> shape, written as
        value_info (qonnx's channels-last ops infer their shapes from their input's). domain_version:
        DOMAIN's opset (qonnx picks Trunc v1 / v2 by it)."""
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        vi = [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in (shapes or {}).items()]
        g = helper.make_graph(self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None) for y in outputs],
                              self.inits, value_info=vi)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset),
                                                helper.make_opsetid(DOMAIN, domain_version)])
        m.ir_version = 8
        return m


def qonnx_run(path, x):
    """Every output of qonnx's executor (a list, in graph order) on the samples x (batch first), one
    sample at a time, with check_qonnx.py's adjustments to run it (IR version of the one-node models,
    channels-last ops at the model's default opset)."""
    sys.path.insert(0, HERE)
    import check_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    m = ModelWrapper(path).transform(InferShapes())
    check_qonnx._default_opset[0] = next((o.version for o in m.model.opset_import if o.domain in ("", "ai.onnx")), 13)
    inits = {t.name for t in m.graph.initializer}
    iname = [i.name for i in m.graph.input if i.name not in inits][0]
    onames = [o.name for o in m.graph.output]
    res = [execute_onnx(m, {iname: x[i:i + 1]}) for i in range(len(x))]
    return [np.concatenate([r[o] for r in res]) for o in onames]


def run(cmd, timeout=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def last_line(r):
    return (r.stderr.strip().splitlines() or ["?"])[-1]


def compare_bit_exact(qcc, path, out, xp, notes):
    """bit_exact from `qcc compare MODEL OUT --data X --json`; None (and a note) when compare failed."""
    r = run([qcc, "compare", path, out, "--data", xp, "--json"])
    if r.returncode not in (0, 1):
        notes.append("compare: " + last_line(r))
        return None
    try:
        return bool(json.loads(r.stdout).get("bit_exact"))
    except (ValueError, AttributeError):
        notes.append("compare printed no JSON")
        return None


def integer_only(qir):
    """Float ops left in a model.qir: every op reading or writing f32 other than Quantize/DequantizeLinear."""
    bad = []
    for line in qir.splitlines():
        line = line.strip()
        if " = " not in line or line.startswith(("input", "output", "const")):
            continue
        op = line.split(" = ", 1)[1].split("(", 1)[0]
        if "f32" in line and op not in ("QuantizeLinear", "DequantizeLinear"):
            bad.append(op)
    return bad


def result_row(name, equal, steps, bit_exact, values, notes, ok):
    """equal: fraction of outputs exactly equal; values: how many were compared."""
    return (name, f"{100 * equal:.2f}", str(steps), str(bit_exact),
            f"{values} values" + ("; " + "; ".join(notes) if notes else "") + ("" if ok else "  FAIL"))


def fail_row(name, what):
    return (name, "-", "-", "-", what + "  FAIL")


def print_table(rows, results):
    """Prints the table and the pass count; returns the exit code (1 on any failure)."""
    w = max([len(r[0]) for r in rows] + [5])
    print(f"{'model':<{w}}  {'equal %':>8}  {'steps':>5}  {'bit_exact':>9}  note")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>8}  {r[2]:>5}  {r[3]:>9}  {r[4]}")
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1
