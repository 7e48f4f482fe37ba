#!/usr/bin/env python3
"""Pre-quantized models: qcc's integer reference against onnxruntime.

    check_prequantized.py QCC [--models mobilenetv2,resnet18] [--samples 8] [--keep DIR]

Makes QDQ and QOperator models with onnxruntime.quantization.quantize_static
(make_prequantized.py), runs each with `qcc run MODEL --input X.npy -o Y.npy`
(the model imported onto qcc's integer ops, rounding "onnx") and with
onnxruntime (CPUExecutionProvider, one thread, default graph optimizations,
so ORT fuses the QDQ units the standard way) on seeded samples, and compares
the outputs on the integer grid of the model's last DequantizeLinear:
q = round(y / scale) + zero_point. Requirement per model: at least 99.9% of
the output elements equal and none more than one step apart.

QDQ models with int8 activations: on x86 ORT fuses a QDQ unit only where its
QDQS8ToU8 pass could turn the int8 pairs into uint8 ones (not where a
QuantizeLinear feeds two consumers, e.g. at residual connections); the rest
run as float Conv / Add between DequantizeLinear and QuantizeLinear, whose
float rounding no integer engine reproduces, and quantized networks amplify
single-step differences. The reference for these models is ORT with its
session option session.qdqisint8allowed=1 (the ARM default: every unit fused
into ORT's int8 kernels); the default-x86 figure is printed beside it.

Prints a table (model, format, equal %, max steps) and "N passed, N failed";
exit status 1 when a model fails.
"""
import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_prequantized  # noqa: E402

ort.set_default_logger_severity(3)
logging.getLogger().setLevel(logging.ERROR)

MIN_EQUAL = 0.999
MAX_STEPS = 1


def output_grid(path, required=True):
    """Scale and zero point of the DequantizeLinear producing the first graph output."""
    m = onnx.load(path, load_external_data=False)
    out = m.graph.output[0].name
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if out in n.output:
            if n.op_type != "DequantizeLinear":
                if not required:
                    return None
                sys.exit(f"{path}: output '{out}' is produced by {n.op_type}, not DequantizeLinear")
            scale = float(inits[n.input[1]].reshape(-1)[0])
            zp = int(inits[n.input[2]].reshape(-1)[0]) if len(n.input) > 2 and n.input[2] else 0
            return scale, zp
    sys.exit(f"{path}: no node produces output '{out}'")


def to_steps(y, scale, zp):
    return np.rint(y.astype(np.float64) / scale).astype(np.int64) + zp


def session(path, int8_qdq=False):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    if int8_qdq:  # fuse int8 QDQ units into ORT's int8 kernels, as ORT does on ARM
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_ort(path, x, int8_qdq=False):
    s = session(path, int8_qdq)
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))])


def run_qcc(qcc, path, x_path, y_path):
    r = subprocess.run([qcc, "run", path, "--input", x_path, "-o", y_path], capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
    return np.load(y_path), ""


def steps_apart(path, y_qcc, y_ort):
    """Per-element distance on the output's integer grid."""
    if y_ort.dtype.kind in "iu":
        return np.abs(y_qcc.astype(np.int64) - y_ort.astype(np.int64))
    grid = output_grid(path, required=False)
    if grid:
        return np.abs(to_steps(y_qcc, *grid) - to_steps(y_ort, *grid))
    # float output of an integer op (QGemm without y_scale): the same float32 product, bit for bit
    return (y_qcc != y_ort).astype(np.int64) * (MAX_STEPS + 1)


def verdict(rows, model, variant, y_qcc, y_ort, err, path, note=""):
    """Appends a table row; returns True when the model meets the requirement."""
    if y_qcc is None or y_qcc.shape != y_ort.shape:
        rows.append((model, variant, "error", "-", err or f"shape {y_qcc.shape} != onnxruntime {y_ort.shape}"))
        return False
    diff = steps_apart(path, y_qcc, y_ort)
    equal = float((diff == 0).mean())
    ok = equal >= MIN_EQUAL and int(diff.max()) <= MAX_STEPS
    rows.append((model, variant, f"{100 * equal:.3f}", str(int(diff.max())),
                 f"{diff.size} values" + (f"; {note}" if note else "") + ("" if ok else "  FAIL")))
    return ok


def check_ops(qcc, work, rows):
    """Single-op models (make_prequantized.op cases)."""
    results = []
    for path in make_prequantized.make_ops(work):
        name = os.path.basename(path)[len("ops_") : -len(".onnx")]
        data = dict(np.load(path[:-5] + ".npz"))
        int8_qdq = name.startswith("qdq_") and name.endswith("_s8")
        y_ort = session(path, int8_qdq).run(None, data)[0]
        y_qcc, err = run_qcc(qcc, path, path[:-5] + ".npz", os.path.join(work, f"y_ops_{name}.npy"))
        results.append(verdict(rows, "op", name, y_qcc, y_ort, err, path))
    return results


def check_model(qcc, work, model, x, x_path, rows):
    t0 = time.time()
    paths = make_prequantized.make(model, work, 16)
    print(f"{model}: quantized {len(paths)} variants in {time.time() - t0:.1f} s", flush=True)
    results = []
    for path in paths:
        variant = os.path.basename(path)[len(model) + 1 : -len(".onnx")]
        int8_qdq = variant.startswith("qdq_s8")
        t0 = time.time()
        y_ort = run_ort(path, x, int8_qdq)
        t_ort = time.time() - t0
        t0 = time.time()
        y_qcc, err = run_qcc(qcc, path, x_path, os.path.join(work, f"y_{model}_{variant}.npy"))
        note = f"qcc {time.time() - t0:.1f} s, ort {t_ort:.1f} s"
        if int8_qdq and y_qcc is not None:
            d = steps_apart(path, y_qcc, run_ort(path, x))
            note += (f"; ORT with int8 QDQ fused (ORT default on x86: {100 * float((d == 0).mean()):.1f}% equal, "
                     f"max {int(d.max())})")
        results.append(verdict(rows, model, variant, y_qcc, y_ort, err, path, note))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("qcc")
    ap.add_argument("--models", default="mobilenetv2,resnet18")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--keep", help="write the models and data here instead of a temporary folder")
    ap.add_argument("--no-ops", action="store_true", help="skip the single-op models")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="qcc_prequantized_")
    os.makedirs(work, exist_ok=True)
    x = np.random.default_rng(2024).standard_normal((args.samples, 3, 224, 224)).astype(np.float32)
    x_path = os.path.join(work, "x.npy")
    np.save(x_path, x)

    rows, results = [], []
    if not args.no_ops:
        results += check_ops(args.qcc, work, rows)
    for model in filter(None, args.models.split(",")):
        results += check_model(args.qcc, work, model, x, x_path, rows)

    print(f"\n{'model':<12} {'format':<34} {'equal %':>8} {'max steps':>9}  notes")
    for r in rows:
        print(f"{r[0]:<12} {r[1]:<34} {r[2]:>8} {r[3]:>9}  {r[4]}")
    print(f"\n{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
