"""brevitas-exported QONNX models (models/brevitas) and QONNX Trunc: qcc against qonnx's executor.

    check_brevitas.py QCC [--keep DIR] [--only SUBSTR] [--jobs N]

For every model in models/brevitas (exported once by models/brevitas/export_brevitas.py;
this test needs neither torch nor brevitas) and four Trunc models built here with
onnx.helper (every rounding mode, Trunc v1 and v2, signed sums, zero points on the
input and on Trunc, padded average pooling, clamping to narrow ranges):

  qcc compile MODEL -o OUT --calib X          (X: models/brevitas/test_inputs.npy)
  qcc run OUT --input X -o Y                  (the integer reference)
  qonnx.core.onnx_exec.execute_onnx           (on the same inputs)
  qcc compare MODEL OUT --data X --json       (generated C++ vs the integer reference)

On the output's grid (the scale of the model's last Quant or Trunc; q = y / scale) it
reports the fraction of outputs exactly equal and the largest distance in steps.
Requirement: every output within one step (the Trunc models here: all equal) and
bit_exact true; the binary models in TIE_SENSITIVE have their own requirement (below), those in
EXACT (power-of-two scales) must equal qonnx everywhere. Every committed model is also run by
exact_qonnx.py (an exact evaluation, independent of qcc: integer sums, qonnx's own quantizer
functions on float64), and qcc's output must equal it on every value. Binary layers must run on the
XNOR-popcount kernel (EXPECTED_XNOR, read from library.json). Trunc that qcc does not lower (count_include_pad=0 with padding, a scale
that is not the pooled sum's grid, a per-channel scale) must exit 2 naming the Trunc. Models in EXPECTED_PENDING need lowering qcc does not have yet: they
must make `qcc compile` exit 2 with a message naming a node and its op; one that
compiles is checked fully and reported as ready to leave the set.
Prints a table; exit 1 on a failure.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exact_qonnx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.normpath(os.path.join(HERE, "..", "..", "models", "brevitas"))
DOMAIN = "qonnx.custom_op.general"
MAX_STEPS = 1

# Models whose lowering is not in qcc yet, with what blocks them. Shrink as it lands.
EXPECTED_PENDING = {}

# Binary (1-bit) models with float scales: the sign of a sum of +-1 products sits on
# or next to 0 far more often than a multi-bit quantizer sits on a rounding tie, and
# qonnx evaluates those sums in float32, whose rounding then decides the sign; the
# integer reference sums exactly. Requirement: bit_exact and every output equal to the
# exact evaluation (exact_qonnx.py; qonnx's own agreement with it is printed: 75 % /
# 13 %, so these differences are qonnx's rounding noise, not qcc's).
TIE_SENSITIVE = {"mlp_w1a1", "cnn_w1a1"}

# Binary layers (+-1 inputs from a BipolarQuant, +-1 weights): they must run on the
# XNOR-popcount kernel (library.json "kernel": "xnor_popcount"; runtime_stub/qcc/binary.h),
# every other QConv / QGemm on the int8 one. Node names as in library.json (a prefix).
# (cnn's /c3/Conv is binary too, but a 1x1 conv over 8 channels, 8-bit patches, runs faster
# on the int8 kernel: binary_conv_worthwhile.)
EXPECTED_XNOR = {"mlp_w1a1": ["/fc2/Gemm", "/fc3/Gemm"], "cnn_w1a1": ["/c2/Conv"],
                 "mlp_w1a1_pot": ["/fc2/Gemm", "/fc3/Gemm"], "cnn_w1a1_pot": ["/c2/Conv"]}

# The binary models again with every scale a power of two (export_brevitas.py: weights +-0.5,
# fixed-point input / output Quant): qonnx's float32 sums are exact there, so no tie is
# decided by rounding noise and every output must equal qonnx's (0 steps).
EXACT = {"mlp_w1a1_pot", "cnn_w1a1_pot"}


# ---- Trunc models built here ------------------------------------------------------------

class Builder:
    def __init__(self):
        self.nodes, self.inits, self.k = [], [], 0

    def const(self, v, base="c"):
        self.k += 1
        n = f"{base}{self.k}"
        self.inits.append(numpy_helper.from_array(np.asarray(v, np.float32), n))
        return n

    def node(self, op, inputs, domain="", **attrs):
        self.k += 1
        y = f"{op.lower()}{self.k}"
        self.nodes.append(helper.make_node(op, inputs, [y], name=f"{op}_{self.k}", domain=domain, **attrs))
        return y

    def quant(self, x, scale, zp, bits, signed, narrow=0):
        return self.node("Quant", [x, self.const(scale), self.const(zp), self.const(bits)], DOMAIN,
                         signed=signed, narrow=narrow, rounding_mode="ROUND")

    def model(self, x_shape, y, version):
        g = helper.make_graph(self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, version)])
        m.ir_version = 8
        return m


MODES = ["FLOOR", "CEIL", "ROUND", "HALF_EVEN", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


def trunc_v2_modes():
    """Signed 6-bit input with zero point 3; per rounding mode one Trunc v2 branch, pooled
    (2x2 average pool, stride 1, padded bottom/right, so 4 taps: sum / 8) or elementwise
    (/ 2), all onto one signed 4-bit grid (out_scale 2 s), some narrow; concatenated."""
    b = Builder()
    s = np.float32(0.0371)
    q = b.quant("x", s, 3.0, 6.0, 1)
    branches = []
    for i, mode in enumerate(MODES):
        signed, narrow = 1, i % 3 == 1
        if i % 2 == 0:
            p = b.node("AveragePool", [q], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1],
                       count_include_pad=1)
            ins = [p, b.const(s / np.float32(4)), b.const(0.0), b.const(10.0), b.const(s * np.float32(2)),
                   b.const(4.0)]
        else:
            ins = [q, b.const(s), b.const(0.0), b.const(6.0), b.const(s * np.float32(2)), b.const(4.0)]
        branches.append(b.node("Trunc", ins, DOMAIN, rounding_mode=mode, signed=signed, narrow=int(narrow)))
    return b.model([1, 2, 6, 6], b.node("Concat", branches, axis=1), 2)


def trunc_v1_zero_point():
    """Trunc v1 (domain opset 1) on unsigned 5-bit integers with zero point 2: shift 3 in
    four rounding modes (output grid: the input's scale and zero point), concatenated."""
    b = Builder()
    s = np.float32(0.0437)
    q = b.quant("x", s, 2.0, 5.0, 0)
    branches = [b.node("Trunc", [q, b.const(s), b.const(2.0), b.const(7.0), b.const(4.0)], DOMAIN, rounding_mode=m)
                for m in ("FLOOR", "HALF_UP", "CEIL", "ROUND")]
    return b.model([1, 3, 5, 5], b.node("Concat", branches, axis=1), 1)


def trunc_v2_zero_point():
    """Trunc v2 with zero point 8 on signed 6-bit integers (input zero point -2): elementwise
    / 4 (output zero point 2) in FLOOR and HALF_UP, concatenated."""
    b = Builder()
    s = np.float32(0.0293)
    q = b.quant("x", s, -2.0, 6.0, 1)
    br = [b.node("Trunc", [q, b.const(s), b.const(8.0), b.const(7.0), b.const(s * np.float32(4)), b.const(5.0)],
                 DOMAIN, rounding_mode=m, signed=1, narrow=0) for m in ("FLOOR", "HALF_UP")]
    return b.model([1, 2, 5, 5], b.node("Concat", br, axis=1), 2)


def trunc_v2_pool_zero_point():
    """Trunc v2 after a 3x3 average pool (9 taps: scale s / 9, stride 2, padded all round) of
    signed 6-bit integers with zero point -2: / 16 with zero point 16 (output zero point 1),
    HALF_EVEN, narrow."""
    b = Builder()
    s = np.float32(0.0293)
    q = b.quant("x", s, -2.0, 6.0, 1)
    p = b.node("AveragePool", [q], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    t = b.node("Trunc", [p, b.const(s / np.float32(9)), b.const(16.0), b.const(10.0), b.const(s * np.float32(16 / 9)),
                         b.const(6.0)], DOMAIN, rounding_mode="HALF_EVEN", signed=1, narrow=1)
    return b.model([1, 2, 5, 5], t, 2)


def bad_trunc(kind):
    """A Trunc qcc must refuse (exit 2 naming it): `pad0` average pool with count_include_pad=0
    and padding (a varying divisor), `scale` Trunc scale not the pooled sum's grid (s / 3 for
    4 taps), `perchannel` a per-channel Trunc scale."""
    b = Builder()
    s = np.float32(0.05)
    q = b.quant("x", s, 0.0, 4.0, 1)
    p = b.node("AveragePool", [q], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1] if kind == "pad0" else
               [0, 0, 0, 0], count_include_pad=0)
    ts = {"scale": s / np.float32(3), "perchannel": np.full((1, 2, 1, 1), s / 4, np.float32)}.get(kind, s / 4)
    t = b.node("Trunc", [p, b.const(ts), b.const(0.0), b.const(6.0), b.const(s), b.const(4.0)], DOMAIN,
               rounding_mode="FLOOR")
    return b.model([1, 2, 4, 4], t, 2)


def check_bad(qcc, work, rows):
    ok = True
    for kind in ("pad0", "scale", "perchannel"):
        path = os.path.join(work, f"bad_trunc_{kind}.onnx")
        onnx.save(bad_trunc(kind), path)
        xp = os.path.join(work, "bad_x.npy")
        np.save(xp, np.random.default_rng(0).normal(0, 0.3, (2, 2, 4, 4)).astype(np.float32))
        r = run([qcc, "compile", path, "-o", os.path.join(work, "bad_out"), "--calib", xp])
        msg = last_line(r)
        good = r.returncode == 2 and "node 'Trunc_" in msg and "Trunc" in msg.split("node 'Trunc_", 1)[1]
        ok &= good
        rows.append((f"bad_trunc_{kind}", "-", "-", "-", f"exit {r.returncode}: {msg[:160]}" + ("" if good else "  FAIL")))
    return ok


def built_models(work):
    out = []
    for name, m in (("trunc_v2_modes", trunc_v2_modes()), ("trunc_v1_zero_point", trunc_v1_zero_point()),
                    ("trunc_v2_zero_point", trunc_v2_zero_point()),
                    ("trunc_v2_pool_zero_point", trunc_v2_pool_zero_point())):
        p = os.path.join(work, name + ".onnx")
        onnx.save(m, p)
        x = np.random.default_rng(sum(map(ord, name))).normal(0, 0.4, (8,) + tuple(
            d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim)[1:]).astype(np.float32)
        xp = os.path.join(work, name + "_x.npy")
        np.save(xp, x)
        out.append((name, p, xp, 0))  # exact: no float arithmetic differs
    return out


def committed_models():
    xp = os.path.join(MODELS, "test_inputs.npy")
    names = [(os.path.splitext(os.path.basename(p))[0], p) for p in sorted(glob.glob(os.path.join(MODELS, "*.onnx")))]
    return [(n, p, xp, 0 if n in EXACT else MAX_STEPS) for n, p in names]


# ---- references -----------------------------------------------------------------------

def qonnx_run(path, x):
    # check_qonnx_int's runner: check_qonnx.py's adjustments to qonnx's executor (IR version
    # of the one-node models it builds for onnxruntime).
    sys.path.insert(0, HERE)
    import check_qonnx_int
    return check_qonnx_int.qonnx_run(path, x)


def output_scale(path):
    """Scale of the output's grid: the Quant or Trunc producing the first output (through
    Flatten / Reshape / Concat), or None."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    prod = {o: n for n in m.graph.node for o in n.output}
    v = m.graph.output[0].name
    while v in prod:
        n = prod[v]
        if n.op_type == "Quant":
            return float(inits[n.input[1]].reshape(-1)[0])
        if n.op_type == "Trunc":
            version = next(o.version for o in m.opset_import if o.domain == n.domain)
            return float(inits[n.input[4 if version >= 2 else 1]].reshape(-1)[0])
        if n.op_type not in ("Flatten", "Reshape", "Concat"):
            return None
        v = n.input[0]
    return None


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def last_line(r):
    return (r.stderr.strip().splitlines() or ["?"])[-1]


def pipeline(qcc, name, path, xp, work):
    """compile, run and compare (subprocesses; runs in a worker thread)."""
    out = os.path.join(work, name + "_out")
    res = {"compile": run([qcc, "compile", path, "-o", out, "--calib", xp])}
    if res["compile"].returncode != 0:
        return res
    try:
        res["layers"] = json.load(open(os.path.join(out, "library.json")))["layers"]
    except (OSError, ValueError, KeyError):
        res["layers"] = None
    yp = os.path.join(work, name + "_y.npy")
    res["run"] = run([qcc, "run", out, "--input", xp, "-o", yp])
    if res["run"].returncode == 0:
        res["y"] = np.load(yp)
    res["compare"] = run([qcc, "compare", path, out, "--data", xp, "--json"])
    return res


def check_kernels(name, layers):
    """(ok, note): the layers EXPECTED_XNOR names run on the popcount kernel, no other does."""
    if layers is None:
        return False, "no library.json"
    want = EXPECTED_XNOR.get(name, [])
    xnor = sorted(l["node"] for l in layers if l.get("kernel") == "xnor_popcount")
    matched = [n for n in xnor if any(n == w or n.startswith(w + "/") for w in want)]
    ok = len(matched) == len(xnor) == len(want)
    if not want and ok:
        return True, ""
    return ok, f"xnor_popcount layers {xnor}" + ("" if ok else f", expected {want}")


def judge(name, path, xp, max_steps, res, rows):
    pending = EXPECTED_PENDING.get(name)
    c = res["compile"]
    if c.returncode != 0:
        msg = last_line(c)
        if pending:
            ok = c.returncode == 2 and "node '" in msg and "(" in msg
            rows.append((name, "-", "-", "-", f"pending ({pending}): exit {c.returncode}: {msg[:200]}" +
                         ("" if ok else "  FAIL: expected exit 2 naming a node and op")))
            return ok
        rows.append((name, "-", "-", "-", "compile: " + msg + "  FAIL"))
        return False
    if res["run"].returncode != 0:
        rows.append((name, "-", "-", "-", "run: " + last_line(res["run"]) + "  FAIL"))
        return False
    y_qcc = res["y"]
    y_ref = qonnx_run(path, np.load(xp))
    notes = []
    s = output_scale(path)
    if s is None or y_qcc.shape != y_ref.shape:
        d = (y_qcc.reshape(y_ref.shape) != y_ref).astype(np.int64) * (max_steps + 1) if y_qcc.size == y_ref.size \
            else np.full(1, max_steps + 1)
        notes.append("no output grid: compared exactly" if s is None else "shape mismatch")
    else:
        d = np.abs(np.rint(y_qcc.astype(np.float64) / s) - np.rint(y_ref.astype(np.float64) / s))
    equal, steps = float((d == 0).mean()), int(d.max())
    ok = steps <= max_steps
    if path.startswith(MODELS) and s is not None and y_qcc.size == y_ref.size:
        y_exact = exact_qonnx.exact_run(path, np.load(xp))
        q_exact = np.rint(y_exact / s)
        exact_equal = float((np.rint(y_qcc.astype(np.float64).reshape(y_exact.shape) / s) == q_exact).mean())
        qonnx_exact = float((np.rint(y_ref.astype(np.float64).reshape(y_exact.shape) / s) == q_exact).mean())
        ok = exact_equal == 1.0 and (ok or name in TIE_SENSITIVE)
        notes.append(f"exact evaluation: qcc {100 * exact_equal:.2f} % equal, qonnx {100 * qonnx_exact:.2f} %")
    elif path.startswith(MODELS):
        ok = False
        notes.append("no output grid to compare with the exact evaluation")
    bit_exact = None
    r = res["compare"]
    if r.returncode in (0, 1):
        try:
            bit_exact = bool(json.loads(r.stdout).get("bit_exact"))
        except (ValueError, AttributeError):
            notes.append("compare printed no JSON")
    else:
        notes.append("compare: " + last_line(r))
    ok &= bit_exact is True
    xnor_ok, xnor_note = check_kernels(name, res.get("layers"))
    ok &= xnor_ok
    if xnor_note:
        notes.append(xnor_note)
    if pending and ok:
        notes.append("compiles now: remove it from EXPECTED_PENDING")
    rows.append((name, f"{100 * equal:.2f}", str(steps), str(bit_exact),
                 f"{d.size} values" + ("; " + "; ".join(notes) if notes else "") + ("" if ok else "  FAIL")))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--keep")
    ap.add_argument("--only", help="check only models whose name contains this")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="qcc_brevitas_")
    os.makedirs(work, exist_ok=True)
    cases = [c for c in built_models(work) + committed_models() if not args.only or args.only in c[0]]
    missing = set(EXPECTED_PENDING) - {c[0] for c in committed_models()}
    rows, results = [], []
    if missing and not args.only:
        rows.append(("EXPECTED_PENDING", "-", "-", "-", f"names no model: {sorted(missing)}  FAIL"))
        results.append(False)
    if not args.only or "bad" in args.only:
        results.append(check_bad(args.qcc, work, rows))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(pipeline, args.qcc, name, path, xp, work) for name, path, xp, _ in cases]
        for (name, path, xp, steps), f in zip(cases, futures):
            results.append(judge(name, path, xp, steps, f.result(), rows))
            print(rows[-1], flush=True)
    w = max(len(r[0]) for r in rows)
    print(f"{'model':<{w}}  {'equal %':>8}  {'steps':>5}  {'bit_exact':>9}  note")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>8}  {r[2]:>5}  {r[3]:>9}  {r[4]}")
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
