#!/usr/bin/env python3
"""Structured fuzzing of the frontend and the float kernels.

Takes the ONNX backend node test models of the ops qcc supports, mutates each
in ways a broken exporter could (attribute values, dimensions, dropped inputs,
swapped op types, flipped bytes), and runs `qcc inspect` and `qcc run` on the
result. Every run must end with exit code 0 or 2: never a crash, a signal, a
sanitizer report or another exit code. Seeded, so a failure replays.

    python3 tests/bad_models/fuzz_models.py QCC_BINARY [--cases 300] [--seed 1]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

NODE_DIR = "/usr/share/libonnx-testdata/data/node"
PREFIXES = ["test_conv", "test_convtranspose", "test_maxpool", "test_averagepool", "test_gemm", "test_matmul",
            "test_reshape", "test_slice", "test_pad", "test_resize", "test_gather", "test_split", "test_concat",
            "test_transpose", "test_softmax", "test_batchnorm", "test_layer_norm", "test_reduce_mean",
            "test_depthtospace", "test_squeeze", "test_unsqueeze", "test_flatten", "test_clip", "test_expand",
            "test_tile", "test_globalaveragepool", "test_add_bcast", "test_prelu", "test_cast"]
EVIL_INTS = [-(2 ** 62), -(2 ** 31), -7, -2, -1, 0, 1, 2, 3, 5, 1000, 2 ** 31, 2 ** 62]
SWAP_OPS = ["Conv", "MaxPool", "Reshape", "Slice", "Pad", "Gemm", "MatMul", "Concat", "Transpose", "Resize",
            "Gather", "Split", "Softmax", "Add", "ConvTranspose", "AveragePool", "Flatten", "Squeeze"]


def mutate(model, rng):
    g = model.graph
    kind = rng.randrange(7)
    if kind == 0 and g.node:
        n = rng.choice(g.node)
        ints = [a for a in n.attribute if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)]
        if ints:
            a = rng.choice(ints)
            if a.type == onnx.AttributeProto.INT:
                a.i = rng.choice(EVIL_INTS)
            elif a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice(EVIL_INTS)
            return "attribute"
    if kind == 1 and g.initializer:
        t = rng.choice(g.initializer)
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice(EVIL_INTS)
            return "initializer dims"
    if kind == 2 and g.input:
        dims = g.input[rng.randrange(len(g.input))].type.tensor_type.shape.dim
        if dims:
            dims[rng.randrange(len(dims))].dim_value = rng.choice([0, 1, 2, 3, 7, 2 ** 20])
            return "input dims"
    if kind == 3 and g.node:
        n = rng.choice(g.node)
        if n.input:
            n.input[rng.randrange(len(n.input))] = rng.choice(["", "nonexistent", n.output[0]])
            return "node input"
    if kind == 4 and g.node:
        rng.choice(g.node).op_type = rng.choice(SWAP_OPS)
        return "op type"
    if kind == 5 and g.node:
        n = rng.choice(g.node)
        if n.attribute:
            del n.attribute[rng.randrange(len(n.attribute))]
            return "dropped attribute"
    return "bytes"


def flip_bytes(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def input_npz(model, path, rng):
    arrays = {}
    inits = {t.name for t in model.graph.initializer}
    for i in model.graph.input:
        if i.name in inits or not i.type.HasField("tensor_type"):
            continue
        dims = [max(1, min(d.dim_value or 1, 64)) for d in i.type.tensor_type.shape.dim]
        dt = onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
        if dt.kind in "iu":
            arrays[i.name] = np.random.default_rng(rng.randrange(1 << 30)).integers(-3, 4, dims).astype(dt)
        elif dt.kind == "b":
            arrays[i.name] = np.ones(dims, dtype=bool)
        else:
            arrays[i.name] = np.random.default_rng(rng.randrange(1 << 30)).standard_normal(dims).astype(dt)
    np.savez(path, **arrays)


def crashed(r):
    return (r.returncode not in (0, 2) or "Sanitizer" in r.stderr or "runtime error:" in r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    models = sorted(d for d in os.listdir(NODE_DIR) if any(d.startswith(p) for p in PREFIXES))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            name = rng.choice(models)
            model = onnx.load(os.path.join(NODE_DIR, name, "model.onnx"))
            what = mutate(model, rng)
            data = model.SerializeToString()
            if what == "bytes":
                data = flip_bytes(data, rng)
            path = os.path.join(tmp, "m.onnx")
            with open(path, "wb") as f:
                f.write(data)
            runs = [[args.qcc, "inspect", path]]
            try:
                npz = os.path.join(tmp, "in.npz")
                input_npz(onnx.load_from_string(data), npz, rng)
                runs.append([args.qcc, "run", path, "--input", npz, "-o", os.path.join(tmp, "out.npy")])
            except Exception:
                pass  # the mutation broke the model for numpy too: inspect only
            for cmd in runs:
                r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
                if crashed(r):
                    failures += 1
                    keep = os.path.join(tempfile.gettempdir(), f"qcc_fuzz_case{case}.onnx")
                    with open(keep, "wb") as f:
                        f.write(data)
                    print(f"FAIL case {case} ({name}, {what}) `{cmd[1]}` exit {r.returncode}, kept {keep}\n"
                          f"{r.stderr[-1500:]}")
    print(f"{args.cases - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
