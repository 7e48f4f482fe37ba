#!/usr/bin/env python3
"""Float models quantized to other widths: --weight-bits, --act-bits, --precision NODE=WnAm.

    check_precision.py QCC [--markdown] [--keep DIR]

On models/fashion_mnist/{cnn,mlp} and models/digits/{cnn,mlp}:
  - W8A8 is today's int8: `--weight-bits 8 --act-bits 8` writes model.qir and
    model.qcc.onnx byte-identical to the defaults;
  - the grids are what was asked, read back from OUT/model.qcc.onnx and
    OUT/report.json: every QConv / QGemm weight within [-(2^(W-1)-1), 2^(W-1)-1]
    and equal to numpy's own symmetric per-row quantization of the float
    weights (round(w / (max|row| / qmax))); out_bits / out_min / out_max /
    zero points on the A-bit grid; the input quantization clipped to the A-bit
    range; report.json settings and per-layer weight_bits / output_bits;
  - per accepted layer, numpy's bound |bias| + sum|w| * max|x| on the written
    integers fits int32 (the integer reference never overflows);
  - top-1 of the integer reference (`qcc run OUT`) on the committed test sets
    with labels: W4A8 within 3 points of float, W8A16 within 0.5 of float,
    W2A2 at least 20 points below W8A8, W2A8 below W4A8, W4A4 not above W4A8;
  - per-node overrides land on the named node only, a fused Relu's A moves to
    its Conv, and `qcc compare` is bit_exact with the generated C++ for W4A4
    (cnn) and for a mixed mlp (W2 / W3A5 / 16-bit logits / 6-bit input);
  - bad options (syntax, unknown node, bits outside 2..16, A on a MaxPool, W on
    a graph input), widths the backend cannot emit (16-bit input into a fully
    connected kernel) and an int32 accumulator that could overflow (W16A16) exit
    2 with a message naming the option or the node, writing nothing.
Prints the top-1 table; exit 1 on a failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = [("fashion_mnist", "cnn"), ("fashion_mnist", "mlp"), ("digits", "cnn"), ("digits", "mlp")]
# (W, A, extra options): the accuracy table's columns. A16 does not fit the
# cpu kernels (8-bit inputs), so the table uses --target none throughout.
CONFIGS = [(8, 8), (4, 8), (8, 4), (4, 4), (2, 8), (8, 16), (2, 2)]
INT32_MAX = 2**31 - 1

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def qcc(args, exe):
    return subprocess.run([exe] + args, capture_output=True, text=True)


def compile_model(exe, model, calib, out, opts, target="none"):
    r = qcc(["compile", model, "--calib", calib, "-o", out, "--target", target] + opts, exe)
    return r


def top1(exe, model, data, labels, out_npy):
    r = qcc(["run", model, "--input", data, "-o", out_npy], exe)
    if r.returncode:
        raise RuntimeError(f"qcc run {model}: {r.stderr.strip()}")
    return 100.0 * float((np.load(out_npy).argmax(1) == labels).mean())


def graph_of(out):
    m = onnx.load(os.path.join(out, "model.qcc.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    attrs = {n.name: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in m.graph.node}
    return m.graph, inits, attrs


def grid_range(bits, signed=True):
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def float_weights(model):
    """ONNX node name -> (float weight rows [out, K] (Gemm transB / Conv OIHW), float bias or None)."""
    m = onnx.load(model)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    rows = {}
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm") and len(n.input) > 1 and n.input[1] in inits:
            w = inits[n.input[1]].astype(np.float64)
            a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
            if n.op_type == "Gemm" and not a.get("transB", 0):
                w = w.T
            bias = inits[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else None
            rows[n.name] = (w.reshape(w.shape[0], -1), bias)
    return rows


def check_grids(tag, model, out, wbits_of, abits_of, input_bits, signed=True):
    """wbits_of / abits_of: node name -> expected widths of QConv / QGemm nodes."""
    g, inits, attrs = graph_of(out)
    report = json.load(open(os.path.join(out, "report.json")))
    layers = {l["node"]: l for l in report["layers"]}
    fw = float_weights(model)
    weighted = [n for n in g.node if n.domain == "qcc" and n.op_type in ("QConv", "QGemm")]
    check(len(weighted) == len(fw), f"{tag}: one QConv/QGemm per float Conv/Gemm ({len(weighted)})")
    for n in weighted:
        wb, ab = wbits_of(n.name), abits_of(n.name)
        qmax = 2 ** (wb - 1) - 1
        w = inits[n.input[1]].astype(np.int64).reshape(inits[n.input[1]].shape[0], -1)
        # numpy's own symmetric per-row quantization of the float weights. The
        # scale has a floor that keeps the int32 bias b / (s_x * s_w) within
        # 2^29 (rows of near-zero weights with a real bias); s_x from report.json.
        f, fb = fw[n.name]
        scale = np.abs(f).max(axis=1, keepdims=True) / qmax
        sx = [l["output_scale"] for l in report["layers"] if l.get("output") == n.input[0]]
        check(len(sx) == 1, f"{tag}: {n.name}: report.json gives the input scale")
        if fb is not None and sx:
            scale = np.maximum(scale, (np.abs(fb) / (sx[0] * 2.0**29)).reshape(-1, 1))
        expect = np.clip(np.rint(f / np.where(scale > 0, scale, 1)), -qmax, qmax)
        same = float((expect == w).mean())
        check(np.abs(w).max() <= qmax and same >= 0.9999,
              f"{tag}: {n.name} weights on the W{wb} grid (max |w| {np.abs(w).max()} <= {qmax}, "
              f"{100 * same:.2f} % equal to numpy)")
        lo, hi = grid_range(ab, signed)
        a = attrs[n.name]
        check(a["out_bits"] == ab and lo <= a["out_min"] <= a["out_max"] <= hi and lo <= a["out_zero_point"] <= hi,
              f"{tag}: {n.name} output on the A{ab} grid (out_bits {a['out_bits']}, "
              f"[{a['out_min']}, {a['out_max']}], zp {a['out_zero_point']})")
        l = layers.get(n.name, {})
        check(l.get("weight_bits") == wb and l.get("output_bits") == ab,
              f"{tag}: report.json {n.name}: weight_bits {l.get('weight_bits')}, output_bits {l.get('output_bits')}")
        # The int32 accumulator bound on the written integers. Input grid: the
        # graph input's for the first layer, else the previous layer's output
        # (these models only move data or add at the same width in between).
        i = weighted.index(n)
        xbits = input_bits if i == 0 else abits_of(weighted[i - 1].name)
        b = inits[n.input[2]].astype(np.int64)
        bound = np.abs(b) + np.abs(w).sum(axis=1) * max(np.abs(grid_range(xbits, signed)))
        check(bound.max() <= INT32_MAX, f"{tag}: {n.name} accumulator bound {bound.max()} fits int32")
    # The graph input: QuantizeLinear to 8/16-bit storage, clipped to the A-bit grid when narrower.
    qls = [n for n in g.node if n.op_type == "QuantizeLinear"]
    clips = [n for n in g.node if n.op_type == "Clip" and qls and n.input[0] == qls[0].output[0]]
    lo, hi = grid_range(input_bits, signed)
    if input_bits in (8, 16):
        check(not clips, f"{tag}: input quantized to int{input_bits} without a Clip")
    else:
        ok = len(clips) == 1 and (attrs[clips[0].name]["min"], attrs[clips[0].name]["max"]) == (lo, hi)
        check(ok, f"{tag}: input clipped to the {input_bits}-bit grid [{lo}, {hi}]")
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--keep", help="keep outputs in this folder")
    args = ap.parse_args()
    exe = args.qcc
    tmp_ctx = tempfile.TemporaryDirectory()
    tmp = args.keep or tmp_ctx.name
    os.makedirs(tmp, exist_ok=True)

    # ---- W8A8 stays today's int8, byte for byte ------------------------------------
    d = os.path.join(ROOT, "models", "fashion_mnist")
    cnn, calib = os.path.join(d, "cnn.onnx"), os.path.join(d, "calib.npy")
    a, b = os.path.join(tmp, "default"), os.path.join(tmp, "w8a8")
    ra = compile_model(exe, cnn, calib, a, [])
    rb = compile_model(exe, cnn, calib, b, ["--weight-bits", "8", "--act-bits", "8"])
    check(ra.returncode == 0 and rb.returncode == 0,
          f"compile default / W8A8 {(ra.stderr if ra.returncode else '')[-300:]}{(rb.stderr if rb.returncode else '')[-300:]}")
    for f in ("model.qir", "model.qcc.onnx"):
        check(open(os.path.join(a, f), "rb").read() == open(os.path.join(b, f), "rb").read(),
              f"W8A8 {f} byte-identical to the default")
    s = json.load(open(os.path.join(a, "report.json")))["settings"]
    check((s.get("weight_bits"), s.get("act_bits"), s.get("weights"), s.get("activations"), s.get("precision")) ==
          (8, 8, "int8 symmetric per channel", "int8 asymmetric per tensor", {}), f"default settings {s}")

    # ---- accuracy table and grids ----------------------------------------------------
    table = []
    for dataset, name in MODELS:
        d = os.path.join(ROOT, "models", dataset)
        model, calib = os.path.join(d, f"{name}.onnx"), os.path.join(d, "calib.npy")
        test, labels = os.path.join(d, "test.npy"), np.load(os.path.join(d, "test_labels.npy"))
        npy = os.path.join(tmp, "y.npy")
        ref = top1(exe, model, test, labels, npy)
        acc = {}
        for w, a_ in CONFIGS:
            out = os.path.join(tmp, f"{dataset}_{name}_w{w}a{a_}")
            opts = ["--weight-bits", str(w), "--act-bits", str(a_)]
            if a_ > 11 and name == "cnn":  # its residual Add: QAdd under tflite takes at most 11-bit inputs
                opts += ["--rounding", "onnx"]
            r = compile_model(exe, model, calib, out, opts)
            if r.returncode:
                acc[(w, a_)] = None
                msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
                # A16 may be refused, never silently: exit 2 naming a node and why.
                refused_ok = a_ == 16 and r.returncode == 2 and "node '" in msg and "accumulator" in msg
                check(refused_ok, f"{dataset}/{name} W{w}A{a_}: refused: {msg}")
                continue
            acc[(w, a_)] = top1(exe, out, test, labels, npy)
            rep = check_grids(f"{dataset}/{name} W{w}A{a_}", model, out, lambda n: w, lambda n: a_, a_)
            st = rep["settings"]
            check((st["weight_bits"], st["act_bits"], st["weights"], st["activations"]) ==
                  (w, a_, f"int{w} symmetric per channel", f"int{a_} asymmetric per tensor"),
                  f"{dataset}/{name} W{w}A{a_}: report settings")
        f = lambda k: acc.get(k)
        tag = f"{dataset}/{name}"
        check(f((4, 8)) is not None and ref - f((4, 8)) <= 3.0, f"{tag}: W4A8 {f((4, 8))} within 3 points of float {ref:.2f}")
        if f((8, 16)) is not None:
            check(abs(ref - f((8, 16))) <= 0.5, f"{tag}: W8A16 {f((8, 16))} within 0.5 of float {ref:.2f}")
        check(f((2, 2)) is not None and f((8, 8)) - f((2, 2)) >= 20, f"{tag}: W2A2 {f((2, 2))} well below W8A8 {f((8, 8))}")
        check(f((2, 8)) < f((4, 8)), f"{tag}: W2A8 {f((2, 8))} below W4A8 {f((4, 8))}")
        check(f((4, 4)) <= f((4, 8)) + 0.5, f"{tag}: W4A4 {f((4, 4))} not above W4A8 {f((4, 8))}")
        table.append([tag, f"{ref:.2f}"] + ["refused" if acc[c] is None else f"{acc[c]:.2f}" for c in CONFIGS])

    # ---- per-node overrides, bit-exact with the generated C++ ------------------------
    d = os.path.join(ROOT, "models", "fashion_mnist")
    mlp, cnn, calib, test = (os.path.join(d, f) for f in ("mlp.onnx", "cnn.onnx", "calib.npy", "test.npy"))
    mixed = os.path.join(tmp, "mlp_mixed")
    over = {"/1/Gemm": (2, 8), "/3/Gemm": (3, 5), "/5/Gemm": (8, 16)}
    r = compile_model(exe, mlp, calib, mixed, ["--precision", "/1/Gemm=W2", "--precision", "/3/Gemm=W3A5",
                                               "--precision", "/5/Gemm=A16", "--precision", "input=A6"], target="cpu")
    check(r.returncode == 0, f"mlp mixed precision compiles for --target cpu {r.stderr[-400:] if r.returncode else ''}")
    if r.returncode == 0:
        rep = check_grids("mlp mixed", mlp, mixed, lambda n: over[n][0], lambda n: over[n][1], 6)
        check(rep["settings"]["precision"] == {"/1/Gemm": "W2", "/3/Gemm": "W3A5", "/5/Gemm": "A16", "input": "A6"},
              f"report settings.precision {rep['settings']['precision']}")
    cnn_ov = os.path.join(tmp, "cnn_override")
    r = compile_model(exe, cnn, calib, cnn_ov, ["--precision", "/stem/stem.2/Relu=A5", "--precision",
                                                "/head/head.1/Gemm=W3"])
    check(r.returncode == 0 and "fused into '/stem/stem.0/Conv'" in r.stderr, f"a fused Relu's A moves to its Conv")
    if r.returncode == 0:
        ov = {"/stem/stem.0/Conv": (8, 5), "/head/head.1/Gemm": (3, 8)}
        check_grids("cnn overrides", cnn, cnn_ov, lambda n: ov.get(n, (8, 8))[0], lambda n: ov.get(n, (8, 8))[1], 8)
    w4a4 = os.path.join(tmp, "cnn_w4a4_cpu")
    r = compile_model(exe, cnn, calib, w4a4, ["--weight-bits", "4", "--act-bits", "4"], target="cpu")
    check(r.returncode == 0, f"cnn W4A4 compiles for --target cpu {r.stderr[-300:] if r.returncode else ''}")
    u5 = os.path.join(tmp, "cnn_w6u5_cpu")
    r = compile_model(exe, cnn, calib, u5, ["--weight-bits", "6", "--act-bits", "5", "--act-uint8"], target="cpu")
    check(r.returncode == 0, f"cnn W6 uint5 compiles for --target cpu {r.stderr[-300:] if r.returncode else ''}")
    if r.returncode == 0:
        check_grids("cnn W6 uint5", cnn, u5, lambda n: 6, lambda n: 5, 5, signed=False)
        check(json.load(open(os.path.join(u5, "report.json")))["settings"]["activations"] == "uint5 asymmetric per tensor",
              "cnn W6 uint5: report settings name uint5 activations")
    for model, out in ((cnn, w4a4), (mlp, mixed), (cnn, u5)):
        r = qcc(["compare", model, out, "--data", test, "--samples", "200", "--layer-samples", "0", "--json"], exe)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            j = {}
        check(r.returncode == 0 and j.get("bit_exact") is True and j.get("mismatched_samples") == 0,
              f"qcc compare {os.path.basename(out)}: bit_exact {j.get('bit_exact')} {r.stderr[-300:] if r.returncode else ''}")

    # ---- refusals: exit 2, a message naming the option / node, nothing written -------
    bad = [
        (mlp, ["--weight-bits", "1"], "--weight-bits 1"),
        (mlp, ["--act-bits", "17"], "--act-bits 17"),
        (mlp, ["--precision", "/1/Gemm=W4A1"], "/1/Gemm=W4A1"),
        (mlp, ["--precision", "/1/Gemm=Q4"], "/1/Gemm=Q4"),
        (mlp, ["--precision", "/1/Gemm"], "--precision '/1/Gemm'"),
        (mlp, ["--precision", "/9/Gemm=W4"], "no node or graph input named '/9/Gemm'"),
        (mlp, ["--precision", "/1/Gemm=W4", "--precision", "/1/Gemm=W2"], "'/1/Gemm' is given W4 and W2"),
        (mlp, ["--precision", "input=W4"], "graph input"),
        (cnn, ["--precision", "/stem/stem.3/MaxPool=A4"], "'/stem/stem.3/MaxPool' (MaxPool)"),
        (mlp, ["--weight-bits", "16", "--act-bits", "16", "--target", "none"], "'/1/Gemm' (Gemm): the int32 accumulator"),
        (mlp, ["--act-bits", "16"], "'/1/Gemm' (qcc::QGemm): --target cpu"),
        (cnn, ["--act-bits", "12", "--target", "none"], "'/Add' (Add)"),
    ]
    for model, opts, needle in bad:
        out = os.path.join(tmp, "bad_out")
        target = [] if "--target" in opts else ["--target", "cpu"]
        r = qcc(["compile", model, "--calib", calib, "-o", out] + target + opts, exe)
        check(r.returncode == 2 and needle in r.stderr and not os.path.exists(out),
              f"{' '.join(opts)}: exit {r.returncode}, names {needle!r}: {r.stderr.strip().splitlines()[-1:]}")

    cols = [f"W{w}A{a}" for w, a in CONFIGS]
    print("\ntop-1 (%) of the integer reference, committed test sets (--target none; A16 cnn with --rounding onnx)")
    print("| model | float | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    print(f"\n{len(failures)} failed" if failures else "\nall passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
