#!/usr/bin/env python3
"""Calibration speed: `qcc calibrate` on MobileNetV2 (224x224) over 500 random
samples with the entropy method, wall time of the whole command (model and
data loading, interpreter with observers, thresholds, profile writing).
Goal (issue 3): under 30 s on the 2-core development machine.

    python3 tests/bench/bench_calibration.py build/compiler/qcc [--samples 500] [--method entropy]

The goal counts the default run (one interpreter thread per core). Also
printed: `--threads 1`, and `qcc run` (one thread) over the same data, so that
the cost of observing (histograms) can be told apart from the float
interpreter's own time.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = f"{ROOT}/models/mobilenetv2/model.onnx"
GOAL_S = 30.0


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t, r.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--method", default="entropy")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "calib.npy")
        np.save(data, np.random.default_rng(0).standard_normal((args.samples, 3, 224, 224)).astype(np.float32))
        run_s, _ = timed([args.qcc, "run", MODEL, "--input", data, "-o", os.path.join(tmp, "y.npy")])
        cal = [args.qcc, "calibrate", MODEL, "--calib", data, "--method", args.method]
        one_s, _ = timed(cal + ["--threads", "1", "-o", os.path.join(tmp, "one.json")])
        cal_s, summary = timed(cal + ["-o", os.path.join(tmp, "profile.json")])
        same = open(os.path.join(tmp, "one.json")).read() == open(os.path.join(tmp, "profile.json")).read()
    print(f"qcc run                   {args.samples} samples: {run_s:6.1f} s (float interpreter alone, one thread)")
    print(f"qcc calibrate --threads 1 {args.samples} samples: {one_s:6.1f} s ({args.method})")
    print(f"qcc calibrate             {args.samples} samples: {cal_s:6.1f} s ({args.method}, {os.cpu_count()} cores; "
          f"goal < {GOAL_S:.0f} s)")
    print(f"  {summary}")
    print(f"  profiles of both calibrate runs identical: {same}")
    return 0 if cal_s < GOAL_S and same else 1


if __name__ == "__main__":
    sys.exit(main())
