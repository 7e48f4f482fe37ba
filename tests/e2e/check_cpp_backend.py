#!/usr/bin/env python3
"""The generated C++ library is bit-exact with the integer reference interpreter.

For every model: `qcc compile` (target cpu), build the library with the host
runner (runtime_stub/host/runner.cpp) using g++ -Wall -Wextra -Werror, run it on
data, run `qcc run OUT` (the integer reference) on the same data, and require
byte-identical outputs. Models: a sweep of small models over conv geometries
and ops (tests/e2e/backend_models.py) under each rounding convention, uint8
activations and per-tensor weights; the bundled real models; MobileNetV2 quantized
by onnxruntime's quantize_static (QDQ and QOperator); the float models
of ../shared/models the compiler supports (several end in a Softmax float
island, one is a 1-D CNN). A few libraries are also built with
clang++ and with -fsanitize=address,undefined. Models the backend cannot
express must fail with exit 2 naming the node and op.

    python3 tests/e2e/check_cpp_backend.py QCC_BINARY [--only NAME]
"""
import argparse
import concurrent.futures as cf
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
HOST = os.path.join(ROOT, "runtime_stub", "host")
sys.path.insert(0, HERE)
import backend_models  # noqa: E402


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def random_data(model_path, samples, seed):
    m = onnx.load(model_path)
    dims = [max(d.dim_value, 1) for d in m.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).normal(0, 1, [dims[0] * samples] + dims[1:]).astype(np.float32)


def build_runner(out, name, exe, cxx="g++", sanitize=False):
    srcs = [os.path.join(HOST, "runner.cpp"), os.path.join(HOST, "npy.cpp"), os.path.join(out, f"{name}.cpp")]
    if os.path.exists(os.path.join(out, f"{name}_weights.cpp")):
        srcs.append(os.path.join(out, f"{name}_weights.cpp"))
    flags = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]
    flags += ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if sanitize else ["-O2"]
    r = sh([cxx] + flags + [f"-DQCC_MODEL={name}", f'-DQCC_MODEL_HEADER="{name}.h"', "-I", out, "-I", HOST] + srcs +
           ["-o", exe])
    if r.returncode != 0:
        raise RuntimeError(f"{cxx} failed on {name}:\n{r.stderr[-3000:]}")


def check(qcc, tmp, case):
    name, model, data, flags, builds = case
    out = os.path.join(tmp, name)
    r = sh([qcc, "compile", model, "--calib", data, "-o", out, "--name", name] + flags)
    if r.returncode != 0:
        return f"compile exited {r.returncode}: {r.stderr.strip()[-500:]}"
    ref = os.path.join(tmp, f"{name}_ref.npy")
    r = sh([qcc, "run", out, "--input", data, "-o", ref])
    if r.returncode != 0:
        return f"qcc run exited {r.returncode}: {r.stderr.strip()[-500:]}"
    want = np.load(ref)
    notes = []
    for cxx, sanitize in builds:
        exe = os.path.join(tmp, f"{name}_{cxx}_{int(sanitize)}")
        build_runner(out, name, exe, cxx, sanitize)
        prefix = os.path.join(tmp, f"{name}_{cxx}_{int(sanitize)}_out")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="halt_on_error=1")
        extra = ["--weights", os.path.join(out, f"{name}.weights.bin")] if "external" in flags else []
        r = sh([exe, "run", data, "--out", prefix] + extra, env=env)
        if r.returncode != 0:
            return f"runner ({cxx}{' asan/ubsan' if sanitize else ''}) exited {r.returncode}: {r.stderr.strip()[-800:]}"
        got = np.load(prefix + "0.npy").reshape(want.shape)
        if got.tobytes() != want.tobytes():
            diff = got != want
            return (f"{cxx}{' asan/ubsan' if sanitize else ''}: {int(diff.sum())} of {diff.size} outputs differ "
                    f"from the integer reference (max |d| {float(np.abs(got - want).max()):g})")
        notes.append(cxx + (" asan/ubsan" if sanitize else ""))
    return "ok: bit-exact (" + ", ".join(notes) + f"), {want.size} outputs"


def cases(tmp):
    gcc = [("g++", False)]
    out = []
    # The sweep, under every rounding and the activation / weight options.
    for name, m, _ in backend_models.models(seed=0):
        path = os.path.join(tmp, f"{name}.onnx")
        onnx.save(m, path)
        data = os.path.join(tmp, f"{name}_x.npy")
        np.save(data, random_data(path, 8, seed=1))
        extra = [("clang++", False), ("g++", True)] if name in ("conv_sweep", "movement", "broadcast_concat") else []
        out.append((f"{name}_tflite", path, data, [], gcc + extra))
        for rounding in ("single", "onnx"):
            out.append((f"{name}_{rounding}", path, data, ["--rounding", rounding], gcc))
        if name in ("conv_groups", "pool_residual"):
            out.append((f"{name}_u8", path, data, ["--act-uint8"], gcc))
        if name == "pool_residual":
            out.append((f"{name}_external", path, data, ["--weights", "external"], gcc + [("g++", True)]))
        if name in ("conv_sweep", "flatten_head"):
            out.append((f"{name}_pt", path, data, ["--per-tensor-weights", "--act-symmetric"], gcc))
    # Bundled models, real data.
    for ds, m in [("fashion_mnist", "cnn"), ("fashion_mnist", "mlp"), ("digits", "cnn"), ("digits", "mlp")]:
        d = os.path.join(ROOT, "models", ds)
        test = os.path.join(tmp, f"{ds}_{m}_test.npy")
        np.save(test, np.load(os.path.join(d, "test.npy"))[:200])
        out.append((f"{ds}_{m}", os.path.join(d, f"{m}.onnx"), test, ["--calib-samples", "200"],
                    gcc + ([("g++", True)] if m == "cnn" and ds == "fashion_mnist" else [])))
    for m in ("mobilenetv2", "resnet18"):
        d = os.path.join(ROOT, "models", m)
        out.append((m, os.path.join(d, "model.onnx"), os.path.join(d, "input.npy"), [], gcc))
    # Pre-quantized models (onnxruntime quantize_static): their own scales, onnx rounding, QAddFma.
    r = sh([sys.executable, os.path.join(HERE, "make_prequantized.py"), tmp, "--models", "mobilenetv2",
            "--calib-samples", "4"])
    if r.returncode != 0:
        raise RuntimeError(f"make_prequantized.py failed: {r.stderr[-1000:]}")
    for m in ("mobilenetv2_qdq_s8s8_pc", "mobilenetv2_qop_u8s8_pc"):
        out.append((m, os.path.join(tmp, f"{m}.onnx"), os.path.join(ROOT, "models", "mobilenetv2", "input.npy"), [], gcc))
    # ../shared/models float models the compiler supports.
    shared = [("hls4ml-example-models", "two_layer_keras"), ("hls4ml-example-models", "two_layer_pytorch"),
              ("hls4ml-example-models", "three_layer_keras"), ("hls4ml-example-models", "three_layer_pytorch"),
              ("hls4ml-example-models", "dense_big_keras"), ("hls4ml-example-models", "conv2d_small_keras"),
              ("hls4ml-example-models", "conv1d_small_keras"),
              ("qonnx-testdata", "residual_block_clean"),
              ("qonnx-testdata/bsd300x3-espcn/nn_resize", "float_model"),
              ("qonnx-testdata/bsd300x3-espcn/subpixel", "float_model")]
    for folder, m in shared:
        path = os.path.join(SHARED, folder, f"{m}.onnx")
        if not os.path.exists(path):
            continue
        tag = folder.split("/")[-1].replace("-", "_") + "_" + m
        data = os.path.join(tmp, f"{tag}_x.npy")
        np.save(data, random_data(path, 2, seed=2))
        out.append((tag, path, data, [], gcc))
    return out


def unsupported(qcc, tmp):
    """Models with ops the backend lacks: exit 2, node and op named, nothing written."""
    fails = []
    tm = os.path.join(ROOT, "models", "transformer_encoder")
    for model, data, want in [
            (os.path.join(tm, "model.onnx"), os.path.join(tm, "input.npy"), "(MatMul): float island op"),
            (os.path.join(SHARED, "hls4ml-example-models", "conv2d_small_mp_keras.onnx"), None,
             "(BatchNormalization): float island op")]:
        if not os.path.exists(model):
            continue
        if data is None:
            data = os.path.join(tmp, "unsupported_x.npy")
            np.save(data, random_data(model, 2, seed=3))
        out = os.path.join(tmp, "unsupported_out")
        r = sh([qcc, "compile", model, "--calib", data, "-o", out])
        ok = r.returncode == 2 and want in r.stderr and model in r.stderr and not os.path.exists(out)
        print(f"{'ok  ' if ok else 'FAIL'} unsupported {os.path.basename(model)}: exit {r.returncode}, "
              f"{r.stderr.strip().splitlines()[-1][:160] if r.stderr.strip() else ''}")
        if ok:
            r = sh([qcc, "compile", model, "--calib", data, "-o", out, "--target", "none"])
            ok = r.returncode == 0 and os.path.exists(os.path.join(out, "model.qcc.onnx"))
            print(f"{'ok  ' if ok else 'FAIL'} --target none on {os.path.basename(model)}: exit {r.returncode}")
        fails += [] if ok else [model]
        shutil.rmtree(out, ignore_errors=True)
    return fails


def readme_c_example(qcc, tmp):
    """The README's C example compiles (cc -Wall -Wextra -Werror) against a
    library built by `qcc compile --build` and runs."""
    import re
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"Calling it from C.*?```c\n(.*?)```", text, re.S)
    if not m:
        print("FAIL README C example: not found")
        return 1
    src = os.path.join(tmp, "readme_main.c")
    open(src, "w").write(m.group(1))
    d = os.path.join(ROOT, "models", "fashion_mnist")
    out = os.path.join(tmp, "readme_lib")
    r = sh([qcc, "compile", os.path.join(d, "cnn.onnx"), "--calib", os.path.join(d, "calib.npy"), "--calib-samples",
            "100", "-o", out, "--build"])
    if r.returncode != 0 or not os.path.exists(os.path.join(out, "libcnn.a")):
        print(f"FAIL README C example: compile --build exited {r.returncode}: {r.stderr[-500:]}")
        return 1
    exe = os.path.join(tmp, "readme_main")
    r = sh(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", src, "-I", out, os.path.join(out, "libcnn.a"),
            "-lstdc++", "-lm", "-o", exe])
    if r.returncode == 0:
        r = sh([exe])
    ok = r.returncode == 0 and r.stdout.startswith("class ")
    print(f"{'ok  ' if ok else 'FAIL'} README C example: exit {r.returncode} {r.stdout.strip()} {r.stderr[-300:]}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--only", help="run the cases whose name contains this")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    qcc = os.path.abspath(args.qcc)
    with tempfile.TemporaryDirectory() as tmp:
        todo = [c for c in cases(tmp) if not args.only or args.only in c[0]]
        failed = 0
        with cf.ThreadPoolExecutor(args.jobs) as ex:
            futures = {ex.submit(check, qcc, tmp, c): c[0] for c in todo}
            for f in cf.as_completed(futures):
                try:
                    msg = f.result()
                except Exception as e:  # a build failure is a test failure
                    msg = str(e)
                good = msg.startswith("ok")
                failed += not good
                print(f"{'ok  ' if good else 'FAIL'} {futures[f]}: {msg}", flush=True)
        if not args.only:
            failed += len(unsupported(qcc, tmp))
            failed += readme_c_example(qcc, tmp)
        print(f"{len(todo) - failed if failed <= len(todo) else 0} of {len(todo)} libraries bit-exact; {failed} failures")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
