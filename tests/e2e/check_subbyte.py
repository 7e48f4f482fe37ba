"""Sub-byte weights in the generated C++: packed storage, accumulator widths, bit-exactness.

    check_subbyte.py QCC [--keep DIR]

QONNX models with 2-, 3- and 4-bit weights (check_qonnx_int.py's builders, plus
one here with a depthwise conv and biases) and an 8-bit control:

  qcc compile MODEL -o OUT --calib X   then OUT/library.json, per QConv / QGemm:
  - weight_count and weight_bits equal the model's weight tensor and Quant bit width;
    weight_storage_bits is 2 for 2-bit weights, 4 for 3- and 4-bit, 8 otherwise;
  - packing saves at least count - ceil(count * storage_bits / 8) bytes (the
    weight values alone, from the model's weight counts), and the stored panel
    lies within ceil(panel * storage_bits / 8) + 4 * cout (only the int32
    per-channel sums a panel may carry stay unpacked); nothing changes at 8 bits;
  - acc_bits equals a numpy bound: integer weights from qonnx's own quant(),
    the float bias on the accumulator grid (rint(b / (s_x * s_w))), the input
    range of the producing Quant (bits, signed, narrow), per channel
    bias + sum min/max(w * xmin, w * xmax), smallest signed width holding all;
  - the totals add up, NAME_WEIGHT_BYTES in NAME.h is the blob's size;
  qcc compare MODEL OUT --data X --json    bit_exact (also with --weights external,
  whose NAME.weights.bin holds the packed blob); the depthwise model is built
  with g++ and clang++ -Wall -Wextra -Werror, mlp_w2 with g++ ASan/UBSan, and
  run against `qcc run` (check_cpp_backend.py's runner) instead.
  A QGemm whose int32 accumulator could overflow (K = 70000 weights of 127 on
  int8 inputs) exits 2 naming the node; K = 66000 still compiles.
Prints the weight bytes before / after packing per model; exit 1 on a failure.
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_cpp_backend  # noqa: E402
import check_qonnx_int as qi  # noqa: E402

STORAGE_BITS = {1: 1, 2: 2, 3: 4, 4: 4}


def dw_bias_model():
    """Conv (4-bit weights, float bias) -> Relu -> Quant u4 -> depthwise Conv (2-bit) -> Quant -> Flatten -> Gemm (3-bit)."""
    b = qi.Builder(11)
    x = b.quant("x", b.act(0.05), 8, 1, 0)
    bias = b.const(b.rng.normal(0, 1, 8).astype(np.float32), "bias")
    h = b.node("Conv", [x, b.weight([8, 3, 3, 3], 4, True), bias], pads=[1, 1, 1, 1])
    a = b.quant(b.node("Relu", [h]), b.act(0.25), 4, 0, 0)
    d = b.node("Conv", [a, b.weight([8, 1, 3, 3], 2, True)], pads=[1, 1, 1, 1], group=8)
    s = b.quant(d, b.act(0.3), 4, 1, 0)
    g = b.node("Gemm", [b.node("Flatten", [s]), b.weight([10, 512], 3, True)], transB=1)
    return b.model([1, 3, 8, 8], b.quant(g, b.act(0.5), 8, 1, 0))


def big_gemm(k):
    """Quant int8 [1, k] -> Gemm with k weights of 127 (per tensor) -> Quant."""
    b = qi.Builder(3)
    x = b.quant("x", np.float32(0.05), 8, 1, 0)
    w = b.quant(b.const(np.ones([1, k], np.float32), "w"), np.float32(1.0 / 127), 8, 1, 1)
    g = b.node("Gemm", [x, w], transB=1)
    return b.model([1, k], b.quant(g, np.float32(50.0), 8, 1, 0))


# ---- the independent accumulator bound --------------------------------------------------

def initializers(m):
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def quant_attrs(n):
    a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
    mode = a.get("rounding_mode", "ROUND")
    return a.get("signed", 1), a.get("narrow", 0), mode.decode() if isinstance(mode, bytes) else mode


def int_weights(n_quant, inits):
    """Integer weights of a Quant on a constant, through qonnx's quant()."""
    from qonnx.custom_op.general.quant import quant
    w, s, z, bits = (inits[i] for i in n_quant.input)
    signed, narrow, mode = quant_attrs(n_quant)
    q = quant(w, s, z, bits, signed, narrow, mode)
    return np.rint(q / s + z).astype(np.int64), s, int(bits)


def input_range(name, producer, inits):
    """Integer range of the Quant an input comes from (through data movement), as qonnx defines it."""
    n = producer[name]
    while n.op_type in ("Flatten", "Reshape", "MaxPool"):
        n = producer[n.input[0]]
    if n.op_type == "Concat":
        rs = [input_range(i, producer, inits) for i in n.input]
        return min(r[0] for r in rs), max(r[1] for r in rs), rs[0][2]
    assert n.op_type == "Quant", n.op_type
    bits = int(inits[n.input[3]])
    signed, narrow, _ = quant_attrs(n)
    # qonnx's min_int / max_int
    lo, hi = (-(2 ** (bits - 1)) + narrow, 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1 - narrow)
    return lo, hi, float(np.asarray(inits[n.input[1]]).reshape(-1)[0])


def numpy_layers(path):
    """node name -> (weight count, weight bits, cout, acc bits) for every Conv / Gemm of a QONNX model."""
    m = onnx.load(path)
    inits = initializers(m)
    producer = {o: n for n in m.graph.node for o in n.output}
    out = {}
    for n in m.graph.node:
        if n.op_type not in ("Conv", "Gemm"):
            continue
        wq = producer[n.input[1]]
        w, ws, bits = int_weights(wq, inits)
        cout = w.shape[0]
        w2 = w.reshape(cout, -1)
        xmin, xmax, sx = input_range(n.input[0], producer, inits)
        sw = np.broadcast_to(np.asarray(ws, np.float64).reshape(-1), (cout,))
        bias = np.zeros(cout, np.int64)
        if len(n.input) > 2 and n.input[2]:
            bias = np.rint(inits[n.input[2]].astype(np.float64) / (np.float64(np.float32(sx)) * sw)).astype(np.int64)
        lo = bias + np.minimum(w2 * xmin, w2 * xmax).sum(1)
        hi = bias + np.maximum(w2 * xmin, w2 * xmax).sum(1)
        b = 1
        while lo.min() < -(2 ** (b - 1)) or hi.max() > 2 ** (b - 1) - 1:
            b += 1
        out[n.name] = (int(w.size), bits, cout, b)
    return out


# ---- checks -------------------------------------------------------------------------------

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def compare(qcc, model, out, data):
    r = run([qcc, "compare", model, out, "--data", data, "--json"])
    try:
        return bool(json.loads(r.stdout).get("bit_exact")), r.stderr.strip()[-300:]
    except ValueError:
        return False, f"exit {r.returncode}: {r.stderr.strip()[-300:]}"


def check_library(name, model, out, fails, expect_packed):
    with open(os.path.join(out, "library.json")) as f:
        lib = json.load(f)
    want = numpy_layers(model)
    layers = [l for l in lib["layers"] if "weight_count" in l]
    if sorted(l["node"] for l in layers) != sorted(want):
        fails.append(f"{name}: weighted layers {[l['node'] for l in layers]} != the model's {sorted(want)}")
        return None
    values_int8 = values_stored = 0
    for l in layers:
        count, bits, cout, acc = want[l["node"]]
        sb = STORAGE_BITS.get(bits, 8)
        where = f"{name}/{l['node']}"
        if (l["weight_count"], l["weight_bits"], l["weight_storage_bits"]) != (count, bits, sb):
            fails.append(f"{where}: count/bits/storage {l['weight_count']}/{l['weight_bits']}/"
                         f"{l['weight_storage_bits']}, want {count}/{bits}/{sb}")
        saved = l["weight_bytes_unpacked"] - l["weight_bytes"]
        panel, stored = l["weight_panel_bytes"], l["weight_panel_bytes_stored"]
        if saved != panel - stored:
            fails.append(f"{where}: saved {saved} != panel {panel} - stored {stored}")
        if sb == 8:
            if saved != 0 or stored != panel:
                fails.append(f"{where}: 8-bit weights changed size ({panel} -> {stored})")
        else:
            if saved < count - math.ceil(count * sb / 8):
                fails.append(f"{where}: saved {saved} bytes, the {count} {bits}-bit weights alone save "
                             f"{count - math.ceil(count * sb / 8)}")
            lo = math.ceil(panel * sb / 8)
            if not lo <= stored <= lo + 4 * cout:
                fails.append(f"{where}: stored panel {stored} outside [{lo}, {lo + 4 * cout}]")
        if l["acc_bits"] != acc:
            fails.append(f"{where}: acc_bits {l['acc_bits']}, numpy bound {acc}")
        values_int8 += count
        values_stored += math.ceil(count * sb / 8)
    if lib["weight_bytes_layers"] != sum(l["weight_bytes"] for l in lib["layers"]):
        fails.append(f"{name}: weight_bytes_layers is not the layers' sum")
    saved = lib["weight_bytes_saved_by_packing"]
    if saved != sum(l["weight_bytes_unpacked"] - l["weight_bytes"] for l in layers):
        fails.append(f"{name}: weight_bytes_saved_by_packing is not the layers' sum")
    if (saved > 0) != expect_packed:
        fails.append(f"{name}: saved {saved} bytes, expected packing: {expect_packed}")
    header = open(os.path.join(out, f"{lib['name']}.h")).read()
    m = re.search(r"#define \w+_WEIGHT_BYTES (\d+)", header)
    if not m or int(m.group(1)) != lib["weight_bytes"]:
        fails.append(f"{name}: NAME_WEIGHT_BYTES != library weight_bytes {lib['weight_bytes']}")
    src = open(os.path.join(out, f"{lib['name']}.cpp")).read()
    if ("qcc_rt::unpack_panel(" in src) != expect_packed:
        fails.append(f"{name}: unpack_panel calls do not match the packing")
    if expect_packed and not lib["arena_bytes"] >= lib["weight_unpack_bytes"] > 0:
        fails.append(f"{name}: arena {lib['arena_bytes']} vs unpacked panel {lib['weight_unpack_bytes']}")
    # report.json's "library" section carries the same figures.
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f).get("library", {})
    for k in ("weight_bytes", "weight_bytes_layers", "weight_bytes_saved_by_packing", "layers"):
        if rep.get(k) != lib.get(k):
            fails.append(f"{name}: report.json library[{k!r}] differs from library.json")
    return (lib["weight_bytes_layers_unpacked"], lib["weight_bytes_layers"], lib["weight_bytes"], values_int8,
            values_stored, lib["arena_bytes"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcc")
    ap.add_argument("--keep")
    args = ap.parse_args()
    qcc = args.qcc
    work = args.keep or tempfile.mkdtemp(prefix="qcc_subbyte_")
    os.makedirs(work, exist_ok=True)
    models = {
        "cnn_w4": (qi.cnn(8, 4, 4), True),
        "cnn_w2": (qi.cnn(8, 2, 3, seed=2), True),
        "cnn_w3_unsigned_in": (qi.cnn(8, 3, 2, signed_in=0, seed=3), True),
        "mlp_w2": (qi.mlp(2, narrow=0, seed=7), True),
        "mlp_w3": (qi.mlp(3, signed_in=1, seed=6), True),
        "dw_bias_w4w2w3": (dw_bias_model(), True),
        "cnn_w8": (qi.cnn(8, 8, 8), False),
    }
    fails, rows, jobs = [], [], []
    pool = cf.ThreadPoolExecutor(3)
    for name, (m, packed) in models.items():
        path = os.path.join(work, name + ".onnx")
        onnx.save(m, path)
        x = qi.input_data(path, 4, seed=len(name))
        xp = os.path.join(work, name + "_x.npy")
        np.save(xp, x)
        out = os.path.join(work, name + "_out")
        r = run([qcc, "compile", path, "-o", out, "--calib", xp])
        if r.returncode != 0:
            fails.append(f"{name}: compile exited {r.returncode}: {r.stderr.strip()[-300:]}")
            continue
        fig = check_library(name, path, out, fails, packed)
        if fig:
            rows.append((name,) + fig)
        if packed and name not in ("dw_bias_w4w2w3", "mlp_w2"):  # these two: the -Werror runners below
            jobs.append((name, pool.submit(compare, qcc, path, out, xp)))
        if name == "cnn_w4":  # --weights external: the .bin holds the same packed blob
            ext = out + "_external"
            r = run([qcc, "compile", path, "-o", ext, "--calib", xp, "--weights", "external"])
            if r.returncode != 0:
                fails.append(f"{name} external: compile exited {r.returncode}")
            else:
                lib = json.load(open(os.path.join(out, "library.json")))
                binp = os.path.join(ext, f"{lib['name']}.weights.bin")
                if os.path.getsize(binp) != lib["weight_bytes"]:
                    fails.append(f"{name}: weights.bin has {os.path.getsize(binp)} bytes, want {lib['weight_bytes']}")
                jobs.append((name + " external", pool.submit(compare, qcc, path, ext, xp)))
        # -Werror builds of the generated code, run against `qcc run` (check_cpp_backend's runner).
        builds = {"dw_bias_w4w2w3": [("g++", False), ("clang++", False)], "mlp_w2": [("g++", True)]}.get(name)
        if builds:
            jobs.append((name + " runner " + "/".join(c + (" asan" if s else "") for c, s in builds),
                         pool.submit(check_cpp_backend.check, qcc, work, (name + "_runner", path, xp, [], builds))))

    # The int32 accumulator: refused where it could overflow, accepted just below.
    for k, ok in ((70000, False), (66000, True)):
        name = f"gemm_k{k}"
        path = os.path.join(work, name + ".onnx")
        onnx.save(big_gemm(k), path)
        xp = os.path.join(work, name + "_x.npy")
        np.save(xp, np.random.default_rng(0).normal(0, 1, (2, k)).astype(np.float32))
        out = os.path.join(work, name + "_out")
        r = run([qcc, "compile", path, "-o", out, "--calib", xp])
        if ok:
            if r.returncode != 0:
                fails.append(f"{name}: compile exited {r.returncode}: {r.stderr.strip()[-300:]}")
            else:
                check_library(name, path, out, fails, False)
        else:
            msg = r.stderr.strip()
            gemm = [n.name for n in onnx.load(path).graph.node if n.op_type == "Gemm"][0]
            if r.returncode != 2 or f"node '{gemm}'" not in msg or "overflow" not in msg or os.path.exists(out):
                fails.append(f"{name}: want exit 2 naming node '{gemm}' and the overflow, got {r.returncode}: {msg[-300:]}")
            else:
                print(f"{name}: refused as expected: {msg.splitlines()[-1][:200]}")

    for label, fut in jobs:
        try:
            res = fut.result()
        except Exception as e:  # a failed -Werror build
            res = f"failed: {e}"
        if isinstance(res, tuple):
            ok, note = res
            print(f"{label}: compare bit_exact {ok}")
            if not ok:
                fails.append(f"{label}: qcc compare not bit-exact: {note}")
        else:
            print(f"{label}: {res}")
            if not res.startswith("ok"):
                fails.append(f"{label}: {res}")
    pool.shutdown()

    print(f"{'model':<20} {'layers int8':>11} {'stored':>7} {'saved':>6} {'blob':>6} {'values int8':>11} "
          f"{'packed':>7} {'arena':>6}")
    for name, unp, st, blob, v8, vs, arena in rows:
        print(f"{name:<20} {unp:>11} {st:>7} {unp - st:>6} {blob:>6} {v8:>11} {vs:>7} {arena:>6}")
    for f in fails:
        print("FAIL", f)
    print("ok" if not fails else f"{len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
