#!/usr/bin/env python3
"""`qcc compare` and `qcc bench` end to end, against an independent numpy computation.

For two bundled models (the Fashion-MNIST CNN with embedded weights, the digits
MLP with `--weights external`): `qcc compile`, then `qcc compare --json`, which
builds the generated C++ library with its runner and runs it. Checks:

- the JSON has the documented keys; bit_exact is true;
- top1_float, top1_quant, top1_agreement, sqnr_db and max_abs_err equal what
  numpy computes from `qcc run MODEL` (float interpreter) and `qcc run OUT`
  (integer reference, which the generated code equals when bit_exact holds);
- thresholds: --min-sqnr 200 fails (exit 1, the JSON and the JUnit file still
  written, the failing check named), passing thresholds exit 0;
- the JUnit file is well-formed XML with one test case per check;
- with --sanitize (library and runner built with ASan + UBSan) the CNN runs clean;
- bad input exits 2 with a message naming the file, before anything is built:
  missing OUT, OUT without a library, data of the wrong shape, a label count
  that does not match, --max-top1-drop without labels;
- compare writes nothing into OUT and leaves no temporary folder behind;
- `qcc bench OUT --iters 5 --json` has median_ms, min_ms, arena_bytes,
  weight_bytes, and the byte counts match OUT/library.json.

    python3 tests/e2e/check_compare.py QCC_BINARY
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models")
KEYS = ["samples", "top1_float", "top1_quant", "top1_agreement", "sqnr_db", "max_abs_err", "bit_exact", "per_layer"]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def qcc(args, env=None):
    t = time.time()
    r = subprocess.run([QCC] + args, capture_output=True, text=True, env=env)
    print(f"     qcc {' '.join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in args)}"
          f" -> exit {r.returncode} ({time.time() - t:.1f} s)", flush=True)
    return r


def must(args, env=None):
    r = qcc(args, env)
    if r.returncode != 0:
        raise SystemExit(f"qcc {' '.join(args)} exited {r.returncode}:\n{r.stderr}")
    return r


def close(a, b, rel=1e-9):
    return a is not None and b is not None and abs(a - b) <= rel * max(1.0, abs(b))


def listing(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def numpy_metrics(f, q, labels):
    """The compare metrics from float outputs f, quantized outputs q ([N, C])."""
    f64, q64 = f.astype(np.float64), q.astype(np.float64)
    err = q64 - f64
    m = {"sqnr_db": 10 * math.log10((f64 ** 2).sum() / (err ** 2).sum()), "max_abs_err": float(np.abs(err).max()),
         "top1_agreement": 100.0 * float((f.argmax(1) == q.argmax(1)).mean())}
    if labels is not None:
        m["top1_float"] = 100.0 * float((f.argmax(1) == labels).mean())
        m["top1_quant"] = 100.0 * float((q.argmax(1) == labels).mean())
    return m


def compare_model(tmp, dataset, name, extra_compile, samples, thresholds, expect_exit):
    d = os.path.join(MODELS, dataset)
    model = os.path.join(d, f"{name}.onnx")
    out = os.path.join(tmp, f"{dataset}_{name}")
    must(["compile", model, "--calib", os.path.join(d, "calib.npy"), "-o", out] + extra_compile)
    test = np.load(os.path.join(d, "test.npy"))[:samples]
    labels = np.load(os.path.join(d, "test_labels.npy"))[:samples]
    data, lab = os.path.join(tmp, f"{name}_x.npy"), os.path.join(tmp, f"{name}_y.npy")
    np.save(data, test)
    np.save(lab, labels)
    before = listing(out)

    junit = os.path.join(tmp, f"{name}_junit.xml")
    scratch = os.path.join(tmp, f"tmpdir_{name}")
    os.makedirs(scratch)
    env = dict(os.environ, TMPDIR=scratch)
    r = qcc(["compare", model, out, "--data", data, "--labels", lab, "--json", "--junit", junit] + thresholds, env)
    check(r.returncode == expect_exit, f"{dataset}/{name}: compare exits {expect_exit} (got {r.returncode}: "
                                       f"{r.stderr.strip()[-300:]})")
    try:
        j = json.loads(r.stdout)
    except json.JSONDecodeError:
        check(False, f"{dataset}/{name}: compare --json prints one JSON object")
        return out, model, data, {"checks": []}
    check(all(k in j for k in KEYS), f"{dataset}/{name}: JSON keys {KEYS}")
    check(j["samples"] == samples, f"{dataset}/{name}: samples = {samples}")
    check(j["bit_exact"] is True, f"{dataset}/{name}: generated code bit-exact with the integer reference")
    check(listing(out) == before, f"{dataset}/{name}: compare leaves OUT unchanged")
    check(os.listdir(scratch) == [], f"{dataset}/{name}: no temporary folder left behind")

    # Independent computation from the two reference interpreters.
    fo, qo = os.path.join(tmp, f"{name}_f.npy"), os.path.join(tmp, f"{name}_q.npy")
    must(["run", model, "--input", data, "-o", fo])
    must(["run", out, "--input", data, "-o", qo])
    ref = numpy_metrics(np.load(fo), np.load(qo), labels)
    for k, v in ref.items():
        check(close(j[k], v), f"{dataset}/{name}: {k} {j[k]} = numpy {v:.6g}")
    check(isinstance(j["per_layer"], list) and len(j["per_layer"]) > 0 and
          all(set(l) >= {"node", "op", "sqnr_db"} for l in j["per_layer"]),
          f"{dataset}/{name}: per_layer lists {len(j['per_layer'] or [])} layers with node, op, sqnr_db")

    # JUnit: one test case per check, failures where the JSON says so.
    try:
        suites = ET.parse(junit).getroot()
        cases = suites.findall("./testsuite/testcase")
        failed = {c.get("name") for c in cases if c.find("failure") is not None}
        want_failed = {c["name"] for c in j["checks"] if not c["passed"]}
        check(len(cases) == len(j["checks"]) and failed == want_failed,
              f"{dataset}/{name}: JUnit has {len(cases)} test cases, failing {sorted(failed)}")
    except (ET.ParseError, OSError) as e:
        check(False, f"{dataset}/{name}: JUnit file is valid XML ({e})")
    return out, model, data, j


def main():
    global QCC
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    args = ap.parse_args()
    QCC = os.path.abspath(args.qcc)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        # Fashion-MNIST CNN: a threshold that cannot pass (exit 1) beside two that do.
        out, model, data, j = compare_model(tmp, "fashion_mnist", "cnn", [], 400,
                                            ["--min-sqnr", "200", "--max-top1-drop", "1.0"], 1)
        names = {c["name"]: c["passed"] for c in j["checks"]}
        check(names == {"bit_exact": True, "min_sqnr": False, "max_top1_drop": True},
              f"fashion_mnist/cnn: checks {names}")
        # Digits MLP with external weights; passing thresholds exit 0.
        out2, model2, data2, j2 = compare_model(tmp, "digits", "mlp", ["--weights", "external"], 297,
                                                ["--min-sqnr", "20", "--max-top1-drop", "0.5"], 0)

        # Without labels the top-1 keys are null; --samples takes the first N.
        r = qcc(["compare", model2, out2, "--data", data2, "--json", "--samples", "100", "--layer-samples", "0"])
        k = json.loads(r.stdout) if r.returncode == 0 else {}
        check(r.returncode == 0 and k.get("samples") == 100 and k.get("top1_float", 0) is None and
              k.get("top1_quant", 0) is None and k.get("per_layer", 0) is None,
              "digits/mlp: no labels -> top-1 keys null; --samples 100; --layer-samples 0 -> per_layer null")

        # The generated code under AddressSanitizer and UBSan (the runner aborts on a report).
        r = qcc(["compare", model, out, "--data", data, "--samples", "50", "--layer-samples", "0", "--sanitize",
                 "--json"])
        k = json.loads(r.stdout) if r.returncode == 0 else {}
        check(r.returncode == 0 and k.get("bit_exact") is True,
              f"fashion_mnist/cnn: --sanitize runs clean and bit-exact ({r.stderr.strip()[-300:]})")

        # Human output: a table naming the checks.
        r = qcc(["compare", model2, out2, "--data", data2, "--samples", "50"])
        check(r.returncode == 0 and "bit-exact" in r.stdout and "PASS bit_exact" in r.stdout,
              "digits/mlp: human-readable report")

        # Bad input: exit 2, the file named, before anything is built (fast).
        wrong = os.path.join(tmp, "wrong_shape.npy")
        np.save(wrong, np.zeros((3, 1, 27, 28), np.float32))
        few = os.path.join(tmp, "few_labels.npy")
        np.save(few, np.zeros(7, np.int64))
        nolib = os.path.join(tmp, "nolib")
        must(["compile", model, "--calib", os.path.join(MODELS, "fashion_mnist", "calib.npy"), "-o", nolib,
              "--target", "none"])
        missing = os.path.join(tmp, "no_such_out")
        cases = [
            ("missing OUT", [model, missing, "--data", data], missing),
            ("OUT without a library", [model, nolib, "--data", data], "library.json"),
            ("wrong-shaped data", [model, out, "--data", wrong], wrong),
            ("label count mismatch", [model, out, "--data", data, "--labels", few], few),
            ("--max-top1-drop without labels", [model, out, "--data", data, "--max-top1-drop", "1"], "--labels"),
            ("OUT from another model", [model2, out, "--data", data2], "model.qcc.onnx"),
        ]
        for what, a, named in cases:
            t = time.time()
            r = qcc(["compare"] + a)
            check(r.returncode == 2 and named in r.stderr and r.stderr.startswith("qcc: error:")
                  and time.time() - t < 20, f"bad input ({what}): exit 2 naming {os.path.basename(named)}")

        # bench
        for o in (out, out2):
            r = qcc(["bench", o, "--iters", "5", "--json"])
            b = json.loads(r.stdout) if r.returncode == 0 else {}
            lib = json.load(open(os.path.join(o, "library.json")))
            check(r.returncode == 0 and all(isinstance(b.get(k), (int, float)) for k in
                                            ["median_ms", "min_ms", "arena_bytes", "weight_bytes"])
                  and 0 < b["min_ms"] <= b["median_ms"] and b["arena_bytes"] == lib["arena_bytes"]
                  and b["weight_bytes"] == lib["weight_bytes"],
                  f"bench {os.path.basename(o)}: {b.get('median_ms')} ms median, keys and byte counts")
        r = qcc(["bench", missing])
        check(r.returncode == 2 and missing in r.stderr, "bench: missing OUT exits 2 naming it")
    print(f"{'FAILED' if failures else 'passed'} in {time.time() - start:.1f} s"
          + (f": {len(failures)} failure(s)" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
