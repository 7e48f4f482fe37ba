#!/usr/bin/env python3
"""Float reference interpreter vs onnxruntime, one thread each, same run.

    python3 tests/bench/bench_float_interpreter.py build/compiler/qcc [--samples 20]

For each model: qcc's time per sample (interpreter only, as `qcc run` reports
it, model loading excluded) and onnxruntime's (one CPUExecutionProvider
session, intra_op_num_threads=1, inter_op_num_threads=1, best of the samples
after a warm-up), and their ratio. Goal (issue 2): ratio <= 3.
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = [("mobilenetv2", [3, 224, 224]), ("resnet18", [3, 224, 224]), ("transformer_encoder", [16, 64])]


def ort_ms(path, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: x[:1]})
    times = []
    for i in range(x.shape[0]):
        t = time.perf_counter()
        sess.run(None, {name: x[i:i + 1]})
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def qcc_ms(qcc, path, data, out):
    r = subprocess.run([qcc, "run", path, "--input", data, "-o", out], capture_output=True, text=True, check=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return float(re.search(r"\(([\d.]+) ms/sample\)", r.stderr).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    print(f"{'model':<22} {'qcc ms':>9} {'ort ms':>9} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in MODELS:
            path = f"{ROOT}/models/{name}/model.onnx"
            x = np.random.default_rng(0).standard_normal([args.samples] + shape).astype(np.float32)
            data = os.path.join(tmp, "x.npy")
            np.save(data, x)
            q = qcc_ms(args.qcc, path, data, os.path.join(tmp, "y.npy"))
            o = ort_ms(path, x)
            print(f"{name:<22} {q:9.2f} {o:9.2f} {q / o:7.2f}", flush=True)


if __name__ == "__main__":
    main()
