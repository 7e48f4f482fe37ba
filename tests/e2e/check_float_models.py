#!/usr/bin/env python3
"""qcc's float interpreter against onnxruntime on real models.

For each model: random seeded inputs (or the bundled input.npy), `qcc run`, and
onnxruntime (one thread) on the same data; passes when
max|qcc - ort| / max|ort| <= 1e-4 on every output element.

    python3 tests/e2e/check_float_models.py QCC_BINARY [--only NAME]
"""
import argparse
import os
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
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
HLS = os.path.join(SHARED, "hls4ml-example-models")
ESPCN = os.path.join(SHARED, "qonnx-testdata", "bsd300x3-espcn")

# (name, path, per-sample input shape override or None, data file or None)
MODELS = [
    ("mobilenetv2", f"{ROOT}/models/mobilenetv2/model.onnx", None, f"{ROOT}/models/mobilenetv2/input.npy"),
    ("resnet18", f"{ROOT}/models/resnet18/model.onnx", None, f"{ROOT}/models/resnet18/input.npy"),
    ("transformer_encoder", f"{ROOT}/models/transformer_encoder/model.onnx", None,
     f"{ROOT}/models/transformer_encoder/input.npy"),
    ("hls4ml/conv1d_small_keras", f"{HLS}/conv1d_small_keras.onnx", None, None),
    ("hls4ml/conv2d_small_keras", f"{HLS}/conv2d_small_keras.onnx", None, None),
    ("hls4ml/conv2d_small_mp_keras", f"{HLS}/conv2d_small_mp_keras.onnx", None, None),
    ("hls4ml/dense_big_keras", f"{HLS}/dense_big_keras.onnx", None, None),
    ("hls4ml/three_layer_keras", f"{HLS}/three_layer_keras.onnx", None, None),
    ("hls4ml/three_layer_pytorch", f"{HLS}/three_layer_pytorch.onnx", [1, 16], None),
    ("hls4ml/three_layer_bn_pytorch", f"{HLS}/three_layer_bn_pytorch.onnx", [1, 16], None),
    ("hls4ml/two_layer_keras", f"{HLS}/two_layer_keras.onnx", None, None),
    ("hls4ml/two_layer_pytorch", f"{HLS}/two_layer_pytorch.onnx", [1, 10], None),
    ("qonnx/espcn_nn_resize_float", f"{ESPCN}/nn_resize/float_model.onnx", None, None),
    ("qonnx/espcn_subpixel_float", f"{ESPCN}/subpixel/float_model.onnx", None, None),
    ("qonnx/residual_block_clean", f"{SHARED}/qonnx-testdata/residual_block_clean.onnx", None, None),
]
# Real models that are invalid as exported: onnxruntime refuses them too.
# qcc must exit 2 with a message containing the given text.
INVALID = [
    # keras2onnx transposes [1,64] to [64,1], leaving 1 channel for 64 scales.
    ("hls4ml/three_layer_bn_keras", f"{HLS}/three_layer_bn_keras.onnx",
     "node 'BatchNormalization__' (BatchNormalization): scale has shape [64]"),
]
SAMPLES = 3
TOLERANCE = 1e-4


def check(qcc, name, path, shape, data, tmp):
    if not os.path.exists(path):
        return f"SKIP {name}: {path} not found"
    model = onnx.load(path)
    inp = graph_input(model)
    cmd = [qcc, "run", path]
    if data is None:
        dims = shape or [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
        rng = np.random.default_rng(0)
        x = rng.standard_normal([SAMPLES] + list(dims[1:])).astype(np.float32)
        data = os.path.join(tmp, name.replace("/", "_") + "_in.npy")
        np.save(data, x)
    else:
        x = np.load(data)
    if shape is not None:
        cmd += ["--input-shape", f"{inp.name}={'x'.join(map(str, shape))}"]
    out = os.path.join(tmp, name.replace("/", "_") + "_out.npy")
    r = subprocess.run(cmd + ["--input", data, "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        return f"FAIL {name}: qcc exited {r.returncode}: {r.stderr.strip()}"
    got = np.load(out)
    want = ort_outputs(model, x, shape)
    if got.shape != want.shape:
        return f"FAIL {name}: shape {got.shape} != onnxruntime {want.shape}"
    rel = float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-12))
    verdict = "ok  " if rel <= TOLERANCE else "FAIL"
    return f"{verdict} {name}: {x.shape[0]} samples, max rel err {rel:.2e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("qcc")
    ap.add_argument("--only")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, shape, data in MODELS:
            if args.only and args.only not in name:
                continue
            line = check(args.qcc, name, path, shape, data, tmp)
            print(line, flush=True)
            results.append(line)
        for name, path, text in INVALID:
            if args.only and args.only not in name:
                continue
            if not os.path.exists(path):
                results.append(f"SKIP {name}: {path} not found")
                continue
            r = subprocess.run([args.qcc, "inspect", path], capture_output=True, text=True)
            ok = r.returncode == 2 and text in r.stderr
            line = f"{'ok  ' if ok else 'FAIL'} {name}: invalid as exported; qcc exits {r.returncode}: {r.stderr.strip()}"
            print(line, flush=True)
            results.append(line)
    passed = sum(r.startswith("ok") for r in results)
    failed = sum(r.startswith("FAIL") for r in results)
    print(f"{passed} passed, {failed} failed, {len(results) - passed - failed} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
