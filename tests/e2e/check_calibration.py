#!/usr/bin/env python3
"""`qcc calibrate` end to end.

1. Sharding: calibrate two shards of the data, merge them, and compare with one
   run over all the data: the profiles must be identical (every histogram and
   every range), for each method, in either merge order, and when the merge
   picks a method other than the shards'. On a small Keras model and on
   ResNet-18 with a few samples. Likewise --threads 1 and --threads 3.
2. Statistics against independent references: the graph input's histogram
   against numpy on the raw data (exactly); every other tensor's min/max and
   count against onnxruntime's intermediate values; every tensor's range for
   each method against the numpy re-implementation in calib_reference.py
   (minmax, percentile at 99.999 and 99, entropy: equal; mse: within 0.1% of
   the reference's best expected error).
3. Bad input: exit 2, a message naming the file, no profile written.
4. Progress bar on a terminal, a single summary line otherwise.

    python3 tests/e2e/check_calibration.py QCC_BINARY
"""
import json
import os
import pty
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calib_reference as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
SMALL = os.path.join(SHARED, "hls4ml-example-models", "conv2d_small_mp_keras.onnx")
RESNET = f"{ROOT}/models/resnet18/model.onnx"
METHODS = ["minmax", "percentile", "entropy", "mse"]

failures = []
passes = 0


def check(ok, what):
    global passes
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if ok:
        passes += 1
    else:
        failures.append(what)


def qcc(*args):
    return subprocess.run([QCC, *args], capture_output=True, text=True)


def calibrate(model, data, out, *extra):
    r = qcc("calibrate", model, "--calib", data, "-o", out, *extra)
    if r.returncode != 0:
        raise RuntimeError(f"qcc calibrate {model} failed: {r.stderr}")
    return r


def merge(out, *profiles, extra=()):
    r = qcc("calibrate", "--merge", *profiles, "-o", out, *extra)
    if r.returncode != 0:
        raise RuntimeError(f"qcc calibrate --merge failed: {r.stderr}")


def load(path):
    with open(path) as f:
        return json.load(f)


def check_sharding(tmp, tag, model, x, split, methods):
    whole, a, b = (os.path.join(tmp, f"{tag}_{n}.npy") for n in ("all", "a", "b"))
    np.save(whole, x)
    np.save(a, x[:split])
    np.save(b, x[split:])
    for m in methods:
        p = {n: os.path.join(tmp, f"{tag}_{m}_{n}.json") for n in ("all", "a", "b", "ab", "ba")}
        calibrate(model, whole, p["all"], "--method", m)
        calibrate(model, a, p["a"], "--method", m)
        calibrate(model, b, p["b"], "--method", m)
        merge(p["ab"], p["a"], p["b"])
        merge(p["ba"], p["b"], p["a"])
        single = open(p["all"]).read()
        check(open(p["ab"]).read() == single and open(p["ba"]).read() == single,
              f"{tag} {m}: merge of {split}+{len(x) - split} samples is byte-identical to one run "
              f"({len(load(p['all'])['tensors'])} tensors), in both orders")
    # Shards calibrated with minmax, merged as entropy == one entropy run.
    if "entropy" in methods and "minmax" in methods:
        out = os.path.join(tmp, f"{tag}_override.json")
        merge(out, os.path.join(tmp, f"{tag}_minmax_a.json"), os.path.join(tmp, f"{tag}_minmax_b.json"),
              extra=("--method", "entropy"))
        check(load(out) == load(os.path.join(tmp, f"{tag}_entropy_all.json")),
              f"{tag}: minmax shards merged with --method entropy equal an entropy run")


def check_threads(tmp):
    data = os.path.join(tmp, "small_all.npy")
    outs = [os.path.join(tmp, f"threads{n}.json") for n in (1, 3)]
    for n, out in zip((1, 3), outs):
        calibrate(SMALL, data, out, "--method", "entropy", "--threads", str(n))
    check(open(outs[0]).read() == open(outs[1]).read(), "--threads 1 and --threads 3 write identical profiles")


def ort_values(model, x):
    """Every float value of the ONNX graph, stacked over samples, by onnxruntime."""
    m = onnx.load(model)
    m = onnx.shape_inference.infer_shapes(m)
    floats = {vi.name for vi in list(m.graph.value_info) + list(m.graph.output)
              if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    known = {o.name for o in m.graph.output}
    for n in m.graph.node:
        for o in n.output:
            if o in floats and o not in known:
                m.graph.output.add().name = o
                known.add(o)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    inp = sess.get_inputs()[0].name
    runs = [sess.run(None, {inp: x[i:i + 1]}) for i in range(len(x))]
    return {n: np.stack([r[k] for r in runs]) for k, n in enumerate(names) if n in floats}


def check_against_references(tmp, x):
    profiles = {m: load(os.path.join(tmp, f"small_{m}_all.json")) for m in METHODS}
    p99 = os.path.join(tmp, "small_p99.json")
    calibrate(SMALL, os.path.join(tmp, "small_all.npy"), p99, "--method", "percentile", "--percentile", "99")
    profiles["percentile 99"] = load(p99)
    tensors = profiles["minmax"]["tensors"]
    # The graph input, exactly.
    inp = onnx.load(SMALL).graph.input[0].name
    mn, mx, e, h = ref.hist_from_data(x)
    t = tensors[inp]
    check(t["min"] == mn and t["max"] == mx and t["exponent"] == e and
          np.array_equal(ref.decode_hist(t["hist"]), h) and t["count"] == x.size,
          f"input '{inp}': min, max, grid and histogram equal numpy's on the raw data")
    # Intermediate values against onnxruntime.
    values = ort_values(SMALL, x)
    missing = sorted(set(values) - set(tensors))
    check(not missing, f"every float value onnxruntime computes is profiled ({len(values)} values)"
          + (f"; missing {missing}" if missing else ""))
    bad = []
    for name, v in values.items():
        if name not in tensors:
            continue
        t = tensors[name]
        tol = 1e-4 * max(1.0, float(np.abs(v).max()))
        if t["count"] != v.size or abs(t["min"] - v.min()) > tol or abs(t["max"] - v.max()) > tol:
            bad.append(f"{name}: qcc [{t['min']}, {t['max']}] x{t['count']}, ort [{v.min()}, {v.max()}] x{v.size}")
    check(not bad, f"min, max and count of {len(values)} values match onnxruntime" + "".join("\n    " + b for b in bad))
    # Ranges per method against the numpy re-implementation.
    for m in ["minmax", "percentile", "percentile 99", "entropy"]:
        bad = []
        for name, t in profiles[m]["tensors"].items():
            want = ref.calibrated_range(t, profiles[m]["method"], profiles[m]["percentile"])
            if list(t["range"]) != [float(want[0]), float(want[1])]:
                bad.append(f"{name}: qcc {t['range']}, reference {want}")
        check(not bad, f"{m}: ranges of {len(profiles[m]['tensors'])} tensors equal the numpy reference"
              + "".join("\n    " + b for b in bad))
    bad, worst = [], 0.0
    for name, t in profiles["mse"]["tensors"].items():
        h = ref.decode_hist(t["hist"])
        width = 2.0 ** (t["exponent"] - 11)
        amax = max(abs(t["min"]), abs(t["max"]))
        _, best = ref.mse_threshold(h, width, amax, t["min"], t["max"])
        got = ref.mse_error(h, width, t["min"], t["max"], max(-t["range"][0], t["range"][1]))
        worst = max(worst, got / best - 1)
        if got > best * 1.001:
            bad.append(f"{name}: qcc range {t['range']} has error {got:.6g}, reference best {best:.6g}")
    check(not bad, f"mse: every range's expected error is within 0.1% of the reference optimum "
          f"(worst {worst * 100:.3f}%)" + "".join("\n    " + b for b in bad))


def expect_error(what, args, needles, out=None):
    r = qcc(*args)
    msg = r.stderr.strip()
    ok = r.returncode == 2 and all(n in msg for n in needles) and (out is None or not os.path.exists(out))
    check(ok, f"bad input, {what}: exit {r.returncode}, '{msg}'")


def check_bad_inputs(tmp):
    out = os.path.join(tmp, "never.json")
    good = os.path.join(tmp, "small_all.npy")
    rng = np.random.default_rng(5)

    def save(name, arr):
        path = os.path.join(tmp, name)
        np.save(path, arr)
        return path

    shape = save("bad_shape.npy", rng.standard_normal((4, 24, 24, 1)).astype(np.float32))
    expect_error("data of the wrong shape", ["calibrate", SMALL, "--calib", shape, "-o", out],
                 [shape, "shape", "expects"], out)
    dtype = save("bad_dtype.npy", rng.standard_normal((4, 25, 25, 1)))
    expect_error("data of the wrong dtype", ["calibrate", SMALL, "--calib", dtype, "-o", out],
                 [dtype, "float64", "float32"], out)
    nan = rng.standard_normal((4, 25, 25, 1)).astype(np.float32)
    nan[2, 3, 4, 0] = np.nan
    nan = save("bad_nan.npy", nan)
    expect_error("NaN in data", ["calibrate", SMALL, "--calib", nan, "-o", out], [nan, "NaN or Inf"], out)
    expect_error("--calib-samples beyond the data",
                 ["calibrate", SMALL, "--calib", good, "--calib-samples", "1000", "-o", out],
                 [good, "--calib-samples 1000", "more samples than"], out)
    batch4 = save("six_samples.npy", rng.standard_normal((6, 3, 224, 224)).astype(np.float32))
    expect_error("a sample count that does not fill batches",
                 ["calibrate", RESNET, "--input-shape", "input=4x3x224x224", "--calib", batch4, "-o", out],
                 [batch4, "6 samples", "batches of 4"], out)
    empty = os.path.join(tmp, "empty_folder")
    os.makedirs(empty, exist_ok=True)
    expect_error("an empty folder", ["calibrate", SMALL, "--calib", empty, "-o", out], [empty, "no .pb"], out)
    expect_error("no --calib", ["calibrate", SMALL, "-o", out], ["--calib"], out)
    expect_error("an unknown method", ["calibrate", SMALL, "--calib", good, "--method", "magic", "-o", out],
                 ["magic", "minmax, percentile, entropy, mse"], out)
    expect_error("a percentile out of range",
                 ["calibrate", SMALL, "--calib", good, "--method", "percentile", "--percentile", "120", "-o", out],
                 ["--percentile 120"], out)
    small = os.path.join(tmp, "small_minmax_a.json")
    resnet = os.path.join(tmp, "resnet_minmax_a.json")
    expect_error("merging profiles of different models", ["calibrate", "--merge", small, resnet, "-o", out],
                 [resnet, "different model"], out)
    text = open(small).read()
    corrupt = os.path.join(tmp, "corrupt.json")
    with open(corrupt, "w") as f:
        f.write(text[:len(text) // 2])
    expect_error("a truncated profile", ["calibrate", "--merge", small, corrupt, "-o", out],
                 [corrupt, "invalid JSON"], out)
    p = json.loads(text)
    first = next(iter(p["tensors"]))
    p["tensors"][first]["count"] += 1
    tampered = os.path.join(tmp, "tampered.json")
    with open(tampered, "w") as f:
        json.dump(p, f)
    expect_error("a profile whose histogram and count disagree", ["calibrate", "--merge", small, tampered, "-o", out],
                 [tampered, "corrupt calibration profile", first], out)
    entropy = os.path.join(tmp, "small_entropy_b.json")
    expect_error("merging shards of different methods", ["calibrate", "--merge", small, entropy, "-o", out],
                 [entropy, "--method"], out)
    expect_error("--merge of one profile", ["calibrate", "--merge", small, "-o", out], ["at least two"], out)


def check_progress(tmp):
    data = os.path.join(tmp, "small_all.npy")
    out = os.path.join(tmp, "progress.json")
    r = calibrate(SMALL, data, out)
    lines = r.stderr.splitlines()
    check(len(lines) == 1 and lines[0].startswith("qcc: calibrated") and "64 samples" in lines[0],
          f"stderr not a terminal: one summary line ('{r.stderr.strip()}')")
    # stderr on a pseudo-terminal: the bar is drawn, then erased before the summary.
    master, slave = pty.openpty()
    p = subprocess.Popen([QCC, "calibrate", SMALL, "--calib", data, "-o", out], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    p.wait()
    os.close(master)
    text = got.decode(errors="replace")
    check(p.returncode == 0 and "calibrating [" in text and "64/64 samples" in text and "qcc: calibrated" in text,
          "stderr a terminal: a progress bar, then the summary")


def main():
    global QCC
    QCC = sys.argv[1]
    rng = np.random.default_rng(2024)
    with tempfile.TemporaryDirectory() as tmp:
        x = rng.standard_normal((64, 25, 25, 1)).astype(np.float32)
        check_sharding(tmp, "small", SMALL, x, 40, METHODS)
        xr = rng.standard_normal((3, 3, 224, 224)).astype(np.float32)
        check_sharding(tmp, "resnet", RESNET, xr, 1, ["minmax", "entropy"])
        check_threads(tmp)
        check_against_references(tmp, x)
        check_bad_inputs(tmp)
        check_progress(tmp)
    print(f"{passes} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
