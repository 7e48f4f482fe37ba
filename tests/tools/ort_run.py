#!/usr/bin/env python3
"""Run an ONNX model with onnxruntime (CPU) on a batch-first .npy input.

Usage:
    python3 tests/tools/ort_run.py MODEL.onnx --input X.npy -o Y.npy [--threads 1]

X feeds the model's first input; the model's first output is written to Y.
If the model's batch dimension is fixed at 1 and X holds N > 1 samples, the
samples are run one at a time and the outputs are concatenated along axis 0.
"""
import argparse

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--input", required=True, help="batch-first input .npy")
    ap.add_argument("-o", "--output", required=True, help="output .npy path")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    out_name = sess.get_outputs()[0].name
    x = np.load(args.input)

    if inp.shape and inp.shape[0] == 1 and x.shape[0] > 1:
        y = np.concatenate([sess.run([out_name], {inp.name: x[i:i + 1]})[0]
                            for i in range(x.shape[0])], axis=0)
    else:
        y = sess.run([out_name], {inp.name: x})[0]
    np.save(args.output, y)
    print(f"{args.output}: {y.dtype} {list(y.shape)}")


if __name__ == "__main__":
    main()
