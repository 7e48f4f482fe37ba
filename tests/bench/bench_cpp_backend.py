#!/usr/bin/env python3
"""Generated int8 C++ library vs onnxruntime float and onnxruntime int8, one thread each, same run.

    python3 tests/bench/bench_cpp_backend.py build/compiler/qcc [--iters 50] [--rounds 3]
                                             [--models mobilenetv2,resnet18] [--cxx g++]

For MobileNetV2 and ResNet-18 (models/*/model.onnx, batch 1, 224x224):

Latency (median ms per inference on one thread):
  qcc int8   `qcc compile MODEL --calib models/*/input.npy`, then `qcc bench OUT --input input.npy`:
             the library built by its own CMakeLists.txt (Release, -O3, -march=native) and
             timed by qcc's runner around MODEL_run (float in, float out, so the input
             quantization and output dequantization are included).
  ORT float  onnxruntime CPUExecutionProvider, intra_op_num_threads=1, inter_op_num_threads=1.
  ORT int8   the same session options on a QDQ model from onnxruntime.quantization
             quantize_static (after quant_pre_process), calibrated on the same input.npy:
             int8 activations and weights (s8s8), per-channel weights. The default session
             is used (what a user gets); on x86 it runs a few QDQ units in float (README,
             "Pre-quantized models").
  The three are timed in turn in each of --rounds rounds (interleaved, so a noisy
  neighbour on the machine hits all of them alike); the table gives the median of the
  per-round medians and the ratios of those.

Memory:
  qcc        arena bytes + weight bytes of the int8 library (the library allocates
             nothing else; both figures are constants in its header).
  ORT float  onnxruntime's peak resident memory for the float model: a fresh child process
             imports numpy and onnxruntime, creates the session (one thread), runs one
             inference and reports its peak resident set (VmHWM of /proc/self/status); minus
             the same figure for a child that imports numpy and onnxruntime, loads the input
             and stops (the interpreter and library baseline). What remains is what the model
             costs onnxruntime: its weights, its prepacked copies and its activation arena.
             The same is measured for the ORT int8 model for reference.
             Not getrusage(): on Linux ru_maxrss survives fork + exec, so a child of this
             (large) benchmark process would report at least the parent's resident size;
             VmHWM belongs to the child's own address space, created at exec.
  Goal (issue 4): qcc arena + weights <= 1/3 of ORT float's peak.

--base-headers DIR: also times, in the same rounds, a copy of each generated library whose
qcc/*.h are replaced by DIR's *.h (an earlier runtime_stub/qcc), for before/after figures of a
kernel change. Valid only where both header sets pack weights and size scratch alike.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = {"mobilenetv2": "MobileNetV2", "resnet18": "ResNet-18"}

PEAK_RSS_CHILD = r"""
import sys
import numpy as np
import onnxruntime as ort
model, data = sys.argv[1], sys.argv[2]
x = np.load(data)[:1]
if model != "-":
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
    s.run(None, {s.get_inputs()[0].name: x})
# VmHWM: this process image's peak RSS in KiB (see the docstring for why not ru_maxrss).
print([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")][0])
"""


class NpyReader(CalibrationDataReader):
    def __init__(self, name, x):
        self.samples = [{name: x[i:i + 1]} for i in range(x.shape[0])]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.samples):
            return None
        self.i += 1
        return self.samples[self.i - 1]


def ort_int8_model(model, x, tmp, name):
    """QDQ s8s8 per-channel model from quantize_static, calibrated on x."""
    m = onnx.load(model)
    inp = m.graph.input[0]
    for d, v in zip(inp.type.tensor_type.shape.dim, (1,) + x.shape[1:]):
        d.ClearField("dim_param")
        d.dim_value = v
    fixed, pre, out = (os.path.join(tmp, f"{name}_{s}.onnx") for s in ("fixed", "pre", "qdq_s8s8_pc"))
    onnx.save(m, fixed)
    quant_pre_process(fixed, pre)
    quantize_static(pre, out, NpyReader(inp.name, x), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    return out


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def ort_times(sess, x, iters, warmup):
    feed = {sess.get_inputs()[0].name: x[:1]}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), float(np.min(times))


def qcc_bench(qcc, out, data, work, iters, warmup, cxx):
    cmd = [qcc, "bench", out, "--json", "--iters", str(iters), "--warmup", str(warmup), "--input", data,
           "--work-dir", work] + (["--cxx", cxx] if cxx else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
    return json.loads(r.stdout)


def peak_rss_kib(model, data):
    r = subprocess.run([sys.executable, "-c", PEAK_RSS_CHILD, model, data], capture_output=True, text=True,
                       check=True)
    return int(r.stdout.strip().splitlines()[-1])


def mib(b):
    return f"{b / 2**20:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("qcc")
    ap.add_argument("--iters", type=int, default=50, help="timed runs per engine per round")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--cxx", help="compiler for the generated library (default: $CXX, else c++)")
    ap.add_argument("--base-headers", help="also time the libraries with these qcc/*.h (before/after)")
    args = ap.parse_args()
    qcc = os.path.abspath(args.qcc)
    rows_t, rows_m, base_rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model = os.path.join(ROOT, "models", name, "model.onnx")
            data = os.path.join(ROOT, "models", name, "input.npy")
            x = np.load(data).astype(np.float32)
            out = os.path.join(tmp, f"{name}_int8")
            t = time.time()
            subprocess.run([qcc, "compile", model, "--calib", data, "-o", out], check=True, capture_output=True)
            print(f"{name}: qcc compile {time.time() - t:.1f} s", file=sys.stderr, flush=True)
            t = time.time()
            qdq = ort_int8_model(model, x, tmp, name)
            print(f"{name}: quantize_static {time.time() - t:.1f} s", file=sys.stderr, flush=True)
            work = os.path.join(tmp, f"{name}_work")
            t = time.time()
            qcc_bench(qcc, out, data, work, 1, 0, args.cxx)  # builds once; later rounds reuse the build
            if args.base_headers:
                out_b, work_b = out + "_base", work + "_base"
                shutil.copytree(out, out_b)
                for h in glob.glob(os.path.join(args.base_headers, "*.h")):
                    shutil.copy(h, os.path.join(out_b, "qcc", os.path.basename(h)))
                qcc_bench(qcc, out_b, data, work_b, 1, 0, args.cxx)
            print(f"{name}: library build {time.time() - t:.1f} s", file=sys.stderr, flush=True)
            sf, sq = session(model), session(qdq)
            med = {"qcc": [], "ortf": [], "orti": [], "base": []}
            mins = {"qcc": [], "ortf": [], "orti": [], "base": []}
            for rnd in range(args.rounds):
                if args.base_headers:
                    bb = qcc_bench(qcc, out_b, data, work_b, args.iters, args.warmup, args.cxx)
                    med["base"].append(bb["median_ms"])
                    mins["base"].append(bb["min_ms"])
                b = qcc_bench(qcc, out, data, work, args.iters, args.warmup, args.cxx)
                med["qcc"].append(b["median_ms"])
                mins["qcc"].append(b["min_ms"])
                for key, sess in (("ortf", sf), ("orti", sq)):
                    m, n = ort_times(sess, x, args.iters, args.warmup)
                    med[key].append(m)
                    mins[key].append(n)
                print(f"{name}: round {rnd + 1}: qcc {med['qcc'][-1]:.2f} ms, ORT float {med['ortf'][-1]:.2f} ms, "
                      f"ORT int8 {med['orti'][-1]:.2f} ms"
                      + (f", qcc base headers {med['base'][-1]:.2f} ms" if args.base_headers else ""),
                      file=sys.stderr, flush=True)
            if args.base_headers:
                base_rows.append(f"{MODELS.get(name, name)}: qcc with base headers {np.median(med['base']):.2f} ms "
                                 f"(min {min(mins['base']):.2f}) vs {np.median(med['qcc']):.2f} ms "
                                 f"(min {min(mins['qcc']):.2f}) with the current ones")
            q, f, i = (float(np.median(med[k])) for k in ("qcc", "ortf", "orti"))
            rows_t.append([MODELS.get(name, name), f"{q:.2f}", f"{f:.2f}", f"{i:.2f}", f"{q / f:.2f}×",
                           f"{q / i:.2f}×", f"{min(mins['qcc']):.2f} / {min(mins['ortf']):.2f} / "
                                          f"{min(mins['orti']):.2f}"])
            base = peak_rss_kib("-", data)
            ortf_b = (peak_rss_kib(model, data) - base) * 1024
            orti_b = (peak_rss_kib(qdq, data) - base) * 1024
            ours = b["arena_bytes"] + b["weight_bytes"]
            rows_m.append([MODELS.get(name, name), mib(b["arena_bytes"]), mib(b["weight_bytes"]), mib(ours),
                           mib(ortf_b), mib(orti_b), f"{ours / ortf_b:.3f}" if ortf_b > 0 else "-"])
    print(f"\nLatency, one thread, median ms of {args.rounds} rounds x {args.iters} runs "
          f"({os.cpu_count()} cores, {platform_cpu()}):\n")
    print("| model | qcc int8 | ORT float | ORT int8 (QDQ) | qcc / ORT float | qcc / ORT int8 | min ms (qcc / float / int8) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows_t:
        print("| " + " | ".join(r) + " |")
    for r in base_rows:
        print("\n" + r)
    print("\nMemory, MiB (qcc: arena + weights of the library; ORT: peak RSS above the import baseline):\n")
    print("| model | qcc arena | qcc weights | qcc total | ORT float peak | ORT int8 peak | qcc / ORT float |")
    print("|---|---|---|---|---|---|---|")
    for r in rows_m:
        print("| " + " | ".join(r) + " |")
    return 0


def platform_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
