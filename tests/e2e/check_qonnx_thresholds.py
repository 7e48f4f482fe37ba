"""QONNX threshold quantizers lowered to integers: qcc against qonnx's executor.

    check_qonnx_thresholds.py QCC [--keep DIR] [--samples 16] [--only NAME]

Covers what quant/LowerQonnxThresholds.h lowers onto qcc::Threshold:
BipolarQuant (on weights and activations, and the 1-bit signed Quant),
FINN's MultiThreshold, and Quant with rounding modes CEIL, FLOOR, UP, DOWN,
HALF_UP, HALF_DOWN at 2..8 bits, signed / unsigned, narrow, with a zero point
(after a Conv / Gemm with a float bias and a Relu, after a Conv without bias,
and after another quantizer), plus ../shared/models' bnn_model_fc_1layer.

Per model: qcc compile, qcc run OUT (the integer reference, every output),
qonnx.core.onnx_exec.execute_onnx on the same inputs, and
qcc compare MODEL OUT --data X --json (generated C++ vs the integer reference).
Outputs are compared on their quantizer's integer levels: every output within
one level of qonnx's, bit_exact true, and the graph integer-only (no float op
between the input QuantizeLinear and the output DequantizeLinear). Prints a
table with the fraction of outputs exactly equal; exit 1 on a failure.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper

import qonnx_testlib as lib
from qonnx_testlib import DOMAIN, SHARED

MODES = ["CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


class Builder(lib.Builder):
    """qonnx_testlib's Builder + the integer levels of every output and the scales of the quantizers."""

    def __init__(self, seed):
        super().__init__(seed)
        self.levels = {}  # output name -> (scale, offset): level = y / scale + offset
        self.scales = {}  # quantizer output -> its scale (per output channel for weights)

    def quant(self, x, scale, bits, signed=1, narrow=0, zp=0.0, mode="ROUND"):
        y = super().quant(x, scale, bits, signed, narrow, zp, mode)
        sc = float(np.asarray(scale).reshape(-1)[0])
        self.levels[y] = (2 * sc, 0.5) if bits == 1 and signed else (sc, 0.0)  # 1 bit signed: -s, +s
        self.scales[y] = sc
        return y

    def bipolar(self, x, scale):
        y = self.name("bq")
        self.nodes.append(helper.make_node("BipolarQuant", [x, self.const(np.asarray(scale, np.float32), "s")], [y],
                                           domain=DOMAIN, name=self.name("BipolarQuant")))
        self.levels[y] = (2 * float(np.asarray(scale).reshape(-1)[0]), 0.5)  # -s, +s -> levels 0, 1
        self.scales[y] = np.asarray(scale, np.float64).reshape(-1)
        return y

    def multithreshold(self, x, thresholds, out_dtype, out_scale=1.0, out_bias=0.0):
        y = self.name("mt")
        self.nodes.append(helper.make_node("MultiThreshold", [x, self.const(thresholds.astype(np.float32), "t")], [y],
                                           domain=DOMAIN, name=self.name("MultiThreshold"), out_dtype=out_dtype,
                                           out_scale=float(out_scale), out_bias=float(out_bias)))
        self.levels[y] = (abs(out_scale), -out_bias / abs(out_scale))
        return y

    def weight(self, shape, bits, per_channel=True):
        w = self.rng.normal(0, 1, shape).astype(np.float32)
        qmax = 2 ** (bits - 1) - 1
        if per_channel:
            s = (np.abs(w).reshape(shape[0], -1).max(1) / qmax).astype(np.float32)
            s = s.reshape([shape[0]] + [1] * (len(shape) - 1))
        else:
            s = np.float32(np.abs(w).max() / qmax)
        y = self.name("wq")
        self.nodes.append(helper.make_node(
            "Quant", [self.const(w, "w"), self.const(np.asarray(s, np.float32), "s"), self.const(np.float32(0), "z"),
                      self.const(np.float32(bits), "b")], [y], domain=DOMAIN, name=self.name("Quant"),
            signed=1, narrow=1, rounding_mode="ROUND"))
        self.scales[y] = np.asarray(s, np.float64).reshape(-1)
        return y

    def bipolar_weight(self, shape, per_channel):
        w = self.rng.normal(0, 1, shape).astype(np.float32)
        s = self.rng.uniform(0.05, 0.2, [shape[0]] + [1] * (len(shape) - 1)) if per_channel else 0.1
        return self.bipolar(self.const(w, "w"), np.asarray(s, np.float32))

    def half_bias(self, x, w, n):
        """A float bias half an accumulator step off the integers: s_x * s_w[c] * (acc + k + 0.5) is never 0,
        so qonnx's float32 rounding noise cannot decide a BipolarQuant / sign (an exact tie in the reals)."""
        step = float(np.asarray(self.scales[x]).reshape(-1)[0]) * np.broadcast_to(self.scales[w], (n,))
        return self.const((step * (self.rng.integers(-3, 4, n) + 0.5)).astype(np.float32), "bias")

    def model(self, x_shape, outputs):
        """The model and the levels (scale, offset) of each output."""
        return super().model(x_shape, outputs), [self.levels[y] for y in outputs]


def bipolar_mlp(seed=11):
    """BipolarQuant input -> Gemm (bipolar weights, float bias) -> BipolarQuant -> residual (Gemm ->
    BipolarQuant of the same scale, Add, BipolarQuant) -> Gemm (bipolar weights, per-channel scales, float
    bias) -> 1-bit signed Quant -> Gemm -> Quant 8 bits. Biases sit half an
    accumulator step off the sign's tie (see half_bias); bnn_model_fc_1layer has exact ties at 0."""
    b = Builder(seed)
    x = b.bipolar("x", 1.0)
    h = b.node("Gemm", [x, b.bipolar_weight([32, 24], False), b.const(b.rng.normal(0, 2, 32).astype(np.float32))],
               transB=1)
    s1 = b.act(0.5)
    h = b.bipolar(h, s1)
    w = b.bipolar_weight([32, 32], True)  # residual block on one bipolar quantizer, summed, binarized
    r = b.bipolar(b.node("Gemm", [h, w, b.half_bias(h, w, 32)], transB=1), s1)
    h = b.bipolar(b.node("Add", [h, r]), b.act(0.7))
    w = b.bipolar_weight([16, 32], True)
    h = b.quant(b.node("Gemm", [h, w, b.half_bias(h, w, 16)], transB=1), b.act(0.25), 1, 1, 0)
    y = b.node("Gemm", [h, b.bipolar_weight([10, 16], True)], transB=1)
    return b.model([1, 24], [b.quant(y, b.act(0.05), 8, 1, 0)])


def bipolar_cnn(seed=12):
    """Quant 8 -> Conv -> BipolarQuant -> Conv (bipolar per-channel weights, float bias, zero padding) ->
    BipolarQuant -> Conv (bipolar weights) -> Relu -> Quant 4 -> Flatten -> Gemm -> Quant 8."""
    b = Builder(seed)
    x = b.quant("x", b.act(0.05), 8, 1, 0)
    w = b.weight([8, 3, 3, 3], 4)
    a = b.bipolar(b.node("Conv", [x, w, b.half_bias(x, w, 8)], pads=[1, 1, 1, 1]), b.act(1.0))
    w = b.bipolar_weight([8, 8, 3, 3], True)
    a = b.bipolar(b.node("Conv", [a, w, b.half_bias(a, w, 8)], pads=[1, 1, 1, 1]), b.act(0.5))
    c = b.node("Conv", [a, b.bipolar_weight([6, 8, 3, 3], False)], pads=[1, 1, 1, 1], strides=[2, 2])
    q = b.quant(b.node("Relu", [c]), b.act(0.4), 4, 0, 0)
    g = b.node("Gemm", [b.node("Flatten", [q]), b.weight([10, 6 * 4 * 4], 4)], transB=1)
    return b.model([1, 3, 8, 8], [b.quant(g, b.act(0.3), 8, 1, 0)])


def multithreshold_cnn(seed=13):
    """MultiThreshold on the input (global, 15 steps, out_scale 0.25, out_bias -2) -> Conv -> MultiThreshold
    (per channel, UINT3) -> Conv -> MultiThreshold (global, INT2 with out_bias) -> MaxPool -> Conv ->
    MultiThreshold (BIPOLAR: out_scale 2, out_bias -1), three outputs."""
    b = Builder(seed)
    x = b.multithreshold("x", np.sort(b.rng.normal(0, 1, (1, 15)), axis=1), "INT4", 0.25, -2.0)
    c = b.node("Conv", [x, b.weight([6, 3, 3, 3], 4)], pads=[1, 1, 1, 1])
    t = np.sort(b.rng.normal(0, 1.5, (6, 7)), axis=1)
    m1 = b.multithreshold(c, t, "UINT3", 0.25)
    c = b.node("Conv", [m1, b.weight([5, 6, 3, 3], 3)], pads=[1, 1, 1, 1])
    m2 = b.multithreshold(c, np.sort(b.rng.normal(0, 1, (1, 3)), axis=1), "INT2", 1.0, -2.0)
    p = b.node("MaxPool", [m2], kernel_shape=[2, 2], strides=[2, 2])
    c = b.node("Conv", [p, b.weight([4, 5, 1, 1], 4)])
    m3 = b.multithreshold(c, np.zeros((4, 1)), "BIPOLAR", 2.0, -1.0)
    return b.model([1, 3, 8, 8], [m3, m1, m2])


def rounding_modes(configs, in_mode="ROUND", seed=20):
    """Input Quant (8 bits, in_mode) -> per (bits, signed, narrow, zero point) config and rounding mode one
    branch: Conv (float bias) [-> Relu on every other] -> Quant(mode) -> Conv 1x1 -> Quant(mode) ->
    Quant(mode, coarser scale, one per config); one output per config: its branches concatenated."""
    b = Builder(seed + len(configs))
    x = b.quant("x", b.act(0.05), 8, 1, 0, mode=in_mode)
    outs = []
    for bits, signed, narrow, zp in configs:
        last, s3 = [], b.act(7.0 / 2 ** bits)
        for i, mode in enumerate(MODES):
            c = b.node("Conv", [x, b.weight([4, 3, 3, 3], 4), b.const(b.rng.normal(0, 0.3, 4).astype(np.float32))],
                       pads=[1, 1, 1, 1])
            if i % 2:
                c = b.node("Relu", [c])
            levels = 2 ** bits
            q1 = b.quant(c, b.act(2.5 / levels), bits, signed, narrow, zp, mode)
            c2 = b.node("Conv", [q1, b.weight([4, 4, 1, 1], 4, per_channel=False)])
            q2 = b.quant(c2, b.act(4.0 / levels), bits, signed, narrow, zp, mode)
            last.append(b.quant(q2, s3, bits, signed, narrow, zp, mode))
        # One grid: the branches concatenate on the integers (the qcc runner takes up to 8 outputs).
        outs.append(b.node("Concat", last, axis=1))
        b.levels[outs[-1]] = b.levels[last[0]]
    return b.model([1, 3, 6, 6], outs)


def built_models(work):
    cases = {
        "bipolar_mlp": bipolar_mlp(),
        "bipolar_cnn": bipolar_cnn(),
        "multithreshold_cnn": multithreshold_cnn(),
        # (bits, signed, narrow, zero point) x every rounding mode
        "modes_2s_4sn_zp1_5un": rounding_modes([(2, 1, 0, 0.0), (4, 1, 1, 1.0), (5, 0, 1, 0.0)]),
        "modes_3u_8s_floor_input": rounding_modes([(3, 0, 0, 0.0), (8, 1, 0, 0.0)], in_mode="FLOOR"),
    }
    out = []
    for name, (m, levels) in cases.items():
        p = os.path.join(work, name + ".onnx")
        onnx.save(m, p)
        out.append((name, p, levels))
    return out


def shared_models():
    p = os.path.join(SHARED, "hls4ml-example-models", "bnn_model_fc_1layer.onnx")
    # BipolarQuant with scale 1 on its output: levels -1, +1.
    return [("bnn_model_fc_1layer", p, [(2.0, 0.5)])] if os.path.exists(p) else []


# ---- checks --------------------------------------------------------------------------

def check(qcc, name, path, levels, work, samples, rows):
    stem = name
    shape = [d.dim_value or 1 for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(sum(map(ord, name)))
    x = rng.normal(0, 1, [samples] + shape[1:]).astype(np.float32)
    xp = os.path.join(work, stem + "_x.npy")
    np.save(xp, x)
    out = os.path.join(work, stem + "_out")
    r = lib.run([qcc, "compile", path, "-o", out, "--calib", xp])
    if r.returncode != 0:
        rows.append(lib.fail_row(name, "compile: " + lib.last_line(r)))
        return False
    yp = os.path.join(work, stem + "_y.npz")
    r = lib.run([qcc, "run", out, "--input", xp, "-o", yp])
    if r.returncode != 0:
        rows.append(lib.fail_row(name, "run: " + lib.last_line(r)))
        return False
    ys = np.load(yp)
    refs = lib.qonnx_run(path, x)
    notes, ok = [], True
    with open(os.path.join(out, "model.qir")) as f:
        bad = lib.integer_only(f.read())
    if bad:
        ok = False
        notes.append("float ops left: " + ", ".join(sorted(set(bad))))
    equal, total, steps = 0, 0, 0
    onames = [o.name for o in onnx.load(path).graph.output]
    for oname, ref, (scale, offset) in zip(onames, refs, levels):
        got = ys[oname] if oname in ys.files else ys[ys.files[onames.index(oname)]]
        lq = np.rint(got.astype(np.float64) / scale + offset)
        lr = np.rint(ref.astype(np.float64) / scale + offset)
        # qcc's outputs lie on the quantizer's grid.
        if not np.allclose((lq - offset) * scale, got, rtol=1e-6, atol=1e-6 * scale):
            ok = False
            notes.append(f"{oname} off its grid")
        d = np.abs(lq - lr)
        equal += int((d == 0).sum())
        total += d.size
        steps = max(steps, int(d.max()))
    ok &= steps <= 1
    bit_exact = lib.compare_bit_exact(qcc, path, out, xp, notes)
    ok &= bit_exact is True
    rows.append(lib.result_row(name, equal / max(total, 1), steps, bit_exact, total, notes, ok))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--keep")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--only")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="qcc_qonnx_thr_")
    os.makedirs(work, exist_ok=True)
    rows, results = [], []
    for name, path, levels in built_models(work) + shared_models():
        if args.only and args.only not in name:
            continue
        results.append(check(args.qcc, name, path, levels, work, args.samples, rows))
        print(rows[-1], flush=True)
    return lib.print_table(rows, results)


if __name__ == "__main__":
    sys.exit(main())
