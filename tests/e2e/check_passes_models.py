#!/usr/bin/env python3
"""The canonicalization passes on real models, through the CLI.

Needs `--passes LIST` on `qcc run` and `qcc inspect` (LIST: canonicalize, none,
or comma-separated pass names). For each model, on seeded random inputs (or
the bundled input.npy):
  - every pass alone and the whole `canonicalize` pipeline keep the float
    outputs: max|passed - unpassed| / max|unpassed| <= 1e-5;
  - the canonicalized model still matches onnxruntime (an independent
    reference): max|qcc - ort| / max|ort| <= 1e-4;
  - the rewrites expected on that model happened (op counts in
    `qcc inspect --ir --passes canonicalize`);
and an unknown pass name is a usage error (exit 2, naming the pass).

    python3 tests/e2e/check_passes_models.py QCC_BINARY [--only NAME]
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from ort_reference import graph_input, ort_outputs  # noqa: E402

ort.set_default_logger_severity(3)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HLS = os.path.join(os.path.dirname(ROOT), "shared", "models", "hls4ml-example-models")

PASSES = ["fold-constants", "remove-identity", "fold-batchnorm", "fuse-matmul-add", "fuse-layernorm",
          "hoist-activations", "fuse-activations"]
SAME = 1e-5  # passed vs unpassed
ORT = 1e-4   # passed vs onnxruntime (as tests/e2e/check_float_models.py)
SAMPLES = 3

# (name, path, input shape override or None, data file or None,
#  {op: count after canonicalize} that must hold)
MODELS = [
    ("mobilenetv2", f"{ROOT}/models/mobilenetv2/model.onnx", None, f"{ROOT}/models/mobilenetv2/input.npy", {}),
    ("resnet18", f"{ROOT}/models/resnet18/model.onnx", None, f"{ROOT}/models/resnet18/input.npy", {}),
    ("transformer_encoder", f"{ROOT}/models/transformer_encoder/model.onnx", None,
     f"{ROOT}/models/transformer_encoder/input.npy",
     # the two decomposed layer norms fuse; the three MatMul + bias pairs become Gemms
     {"LayerNormalization": 2, "ReduceMean": 0, "Pow": 0, "Sqrt": 0, "Div": 0, "Gemm": 4}),
    ("hls4ml/conv2d_small_mp_keras", f"{HLS}/conv2d_small_mp_keras.onnx", None, None,
     # its BatchNormalization follows a Selu: nothing to fold into, it stays
     {"BatchNormalization": 1}),
    ("hls4ml/three_layer_bn_pytorch", f"{HLS}/three_layer_bn_pytorch.onnx", [1, 16], None,
     # BN folded into each Gemm; the Unsqueeze/Squeeze pairs around them vanish
     {"BatchNormalization": 0, "Unsqueeze": 0, "Squeeze": 0, "Reshape": 0, "Gemm": 4}),
    ("hls4ml/dense_big_keras", f"{HLS}/dense_big_keras.onnx", None, None,
     {"MatMul": 0, "Identity": 0, "Gemm": 6}),
    ("hls4ml/conv1d_small_keras", f"{HLS}/conv1d_small_keras.onnx", None, None, {}),
    ("hls4ml/two_layer_keras", f"{HLS}/two_layer_keras.onnx", None, None, {"MatMul": 0}),
]


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


class Model:
    def __init__(self, qcc, name, path, shape, data, tmp):
        self.qcc, self.name, self.path, self.tmp = qcc, name, path, tmp
        self.model = onnx.load(path)
        inp = graph_input(self.model)
        self.extra = []
        if shape is not None:
            self.extra = ["--input-shape", f"{inp.name}={'x'.join(map(str, shape))}"]
        if data is None:
            dims = shape or [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
            x = np.random.default_rng(0).standard_normal([SAMPLES] + list(dims[1:])).astype(np.float32)
            data = os.path.join(tmp, self.tag() + "_in.npy")
            np.save(data, x)
        self.data, self.x, self.shape = data, np.load(data), shape

    def tag(self):
        return self.name.replace("/", "_")

    def run(self, passes):
        out = os.path.join(self.tmp, f"{self.tag()}_{passes.replace(',', '_')}.npy")
        r = subprocess.run([self.qcc, "run", self.path, "--passes", passes, "--input", self.data, "-o", out]
                           + self.extra, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"qcc run --passes {passes} exited {r.returncode}: {r.stderr.strip()}")
        return np.load(out)

    def ops_after_canonicalize(self):
        r = subprocess.run([self.qcc, "inspect", "--ir", "--passes", "canonicalize", self.path] + self.extra,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"qcc inspect --passes canonicalize exited {r.returncode}: {r.stderr.strip()}")
        # node lines: "  %out = Op(...) ...  # name"
        ops = re.findall(r"^  \S.* = (?:[\w.]+::)?(\w+)\(", r.stdout, re.M)
        return collections.Counter(ops), r.stderr.strip()


def check(qcc, name, path, shape, data, expect, tmp):
    if not os.path.exists(path):
        return [f"SKIP {name}: {path} not found"]
    m = Model(qcc, name, path, shape, data, tmp)
    lines = []
    try:
        ref = m.run("none")
        for p in PASSES + ["canonicalize"]:
            got = m.run(p)
            e = rel(got, ref) if got.shape == ref.shape else float("inf")
            lines.append(f"{'ok  ' if e <= SAME else 'FAIL'} {name}: --passes {p}: max rel diff {e:.1e}")
        got = m.run("canonicalize")
        e = rel(got, ort_outputs(m.model, m.x, shape))
        lines.append(f"{'ok  ' if e <= ORT else 'FAIL'} {name}: canonicalized vs onnxruntime: {e:.1e}")
        ops, stats = m.ops_after_canonicalize()
        bad = {op: ops.get(op, 0) for op, n in expect.items() if ops.get(op, 0) != n}
        lines.append(f"{'FAIL' if bad else 'ok  '} {name}: op counts after canonicalize"
                     + (f": expected {expect}, got {bad}" if bad else f" ({stats})"))
    except RuntimeError as err:
        lines.append(f"FAIL {name}: {err}")
    return lines


def check_bad_pass(qcc):
    path = f"{ROOT}/models/transformer_encoder/model.onnx"
    r = subprocess.run([qcc, "inspect", path, "--passes", "fold-constants,fuse-everything"],
                       capture_output=True, text=True)
    ok = r.returncode == 2 and "unknown pass 'fuse-everything'" in r.stderr
    return f"{'ok  ' if ok else 'FAIL'} unknown pass name: exit {r.returncode}: {r.stderr.strip()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("qcc")
    ap.add_argument("--only")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, shape, data, expect in MODELS:
            if args.only and args.only not in name:
                continue
            for line in check(args.qcc, name, path, shape, data, expect, tmp):
                print(line, flush=True)
                results.append(line)
    if not args.only:
        results.append(check_bad_pass(args.qcc))
        print(results[-1])
    passed = sum(r.startswith("ok") for r in results)
    failed = sum(r.startswith("FAIL") for r in results)
    print(f"{passed} passed, {failed} failed, {len(results) - passed - failed} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
