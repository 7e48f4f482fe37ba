#!/usr/bin/env python3
"""QONNX models: qcc's float interpreter against qonnx's executor.

For every QONNX model in ../shared/models: `qcc run MODEL --input X` and
qonnx.core.onnx_exec.execute_onnx on the same inputs (the model's test data
where it has some, else seeded random inputs; integer-valued in the input's
range where the model annotates the input with a QONNX integer datatype).
Passes when max|qcc - qonnx| <= 1e-5 * (output range); where a final Quant
quantizes the output, when that Quant's input agrees within 1e-5 and qcc's
output is exactly qonnx's Quant applied to qcc's input (see check_model).
Prints the fraction of outputs exactly equal. Then an op sweep (single-op
models: Quant over every rounding mode x 1/2/3/4/8/16 bits x signed x narrow,
per-tensor and per-channel scales, zero points, ties; BipolarQuant; Trunc v1 and
v2; MultiThreshold NCHW/NHWC, per-channel and global) that must be bit-exact
with qonnx, and the broken models of make_bad_qonnx.py: qcc must exit 2 naming
the node and op.

    python3 tests/e2e/check_qonnx.py QCC_BINARY [--only NAME] [--skip-big]

Adjustments made to run the reference (in this script only, never in qcc):
  - one-node models qonnx builds for onnxruntime get IR version <= 10 (onnx
    writes its newest, which onnxruntime may not read yet).
  - InferShapes: qonnx's executor refuses models without value_info
    (bnn_model_fc_1layer).
  - qonnx runs a channels-last node (custom_op/channels_last/base_wrapped_op.py)
    as transpose + the standard op in onnxruntime + transpose, asking
    onnxruntime for the op at its class version (opset 1 when the model has
    no opset import for the domain): onnxruntime then rejects the models'
    MaxPool nodes (ceil_mode is no attribute of MaxPool-1). The wrapper here
    asks for the model's default-domain opset instead, as qcc does.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import numpy_helper

warnings.filterwarnings("ignore")

from qonnx.core.datatype import DataType  # noqa: E402
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.core.onnx_exec import execute_onnx  # noqa: E402
from qonnx.custom_op.channels_last.base_wrapped_op import ChannelsLastWrappedOp  # noqa: E402
from qonnx.custom_op.registry import getCustomOp  # noqa: E402
from qonnx.transformation.infer_shapes import InferShapes  # noqa: E402
import qonnx.core.onnx_exec as onnx_exec_module  # noqa: E402
import qonnx.custom_op.channels_last.base_wrapped_op as wrapped_op_module  # noqa: E402
import qonnx.util.basic as qonnx_basic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
HLS = os.path.join(SHARED, "hls4ml-example-models")
QT = os.path.join(SHARED, "qonnx-testdata")
ESPCN = os.path.join(QT, "bsd300x3-espcn")
TOLERANCE = 1e-5
ORT_MAX_IR_VERSION = 10

# (name, path, samples, test data .pb or None, big)
MODELS = [
    ("hls4ml/bnn_model_fc_1layer", f"{HLS}/bnn_model_fc_1layer.onnx", 8, None, False),
    ("hls4ml/branched_model_ch_last", f"{HLS}/branched_model_ch_last.onnx", 1, None, True),
    ("hls4ml/separable_conv_model_ch_last", f"{HLS}/separable_conv_model_ch_last.onnx", 1, None, True),
    ("hls4ml/tiny_unet_ch_last", f"{HLS}/tiny_unet_ch_last.onnx", 1, None, True),
    ("qonnx/eltwise_chanlast_testcase", f"{QT}/eltwise_chanlast_testcase.onnx", 1, None, True),
    ("qonnx/residual_block_clean", f"{QT}/residual_block_clean.onnx", 1, None, False),
    ("qonnx/espcn_nn_resize_quant", f"{ESPCN}/nn_resize/quant_model.onnx", 1, f"{ESPCN}/test_data/input_0.pb", True),
    ("qonnx/espcn_subpixel_quant", f"{ESPCN}/subpixel/quant_model.onnx", 1, f"{ESPCN}/test_data/input_0.pb", True),
]

_default_opset = [13]
_orig_execute = ChannelsLastWrappedOp.execute_node


def _execute_at_default_opset(self, context, graph):
    saved = self.onnx_opset_version
    self.onnx_opset_version = _default_opset[0]
    try:
        return _orig_execute(self, context, graph)
    finally:
        self.onnx_opset_version = saved


ChannelsLastWrappedOp.execute_node = _execute_at_default_opset

# qonnx builds one-node models for onnxruntime with onnx's newest IR version,
# which the installed onnxruntime may not read yet: cap it.
_orig_make_model = qonnx_basic.qonnx_make_model


def _make_model_readable(graph, **kwargs):
    m = _orig_make_model(graph, **kwargs)
    m.ir_version = min(m.ir_version, ORT_MAX_IR_VERSION)
    return m


for _mod in (onnx_exec_module, wrapped_op_module):
    _mod.qonnx_make_model = _make_model_readable


def graph_inputs(model):
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def make_inputs(wrapper, inp, samples, pb, rng):
    dims = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    if pb is not None:
        t = onnx.TensorProto()
        with open(pb, "rb") as f:
            t.ParseFromString(f.read())
        x = numpy_helper.to_array(t).astype(np.float32)
        return x.reshape([1] + list(x.shape))  # one sample of the model's shape
    dt = wrapper.get_tensor_datatype(inp.name)
    shape = [samples] + dims
    if dt is not None and dt.is_integer() and dt != DataType["FLOAT32"]:
        lo, hi = int(dt.min()), int(dt.max())
        return rng.integers(lo, hi + 1, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def reference(wrapper, in_name, names, x):
    """qonnx's values of `names` for each sample of x (x: [samples, *model input shape])."""
    outs = {n: [] for n in names}
    for s in range(x.shape[0]):
        r = execute_onnx(wrapper, {in_name: x[s]}, return_full_exec_context=True)
        for n in names:
            outs[n].append(np.asarray(r[n], dtype=np.float32))
    return {n: np.stack(v) for n, v in outs.items()}


def run_qcc(qcc, path, x, tmp, stem):
    data = os.path.join(tmp, stem + "_in.npy")
    # qcc's .npy input is batch first: samples of the model's batch-1 input.
    np.save(data, x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:]))
    out = os.path.join(tmp, stem + "_out.npz")
    r = subprocess.run([qcc, "run", path, "--input", data, "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"qcc exited {r.returncode}: {r.stderr.strip()}"
    return dict(np.load(out)), None


QONNX_DOMAINS = ("onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general")


def final_quant(model):
    """The Quant/BipolarQuant node producing the first output, or None."""
    out = model.graph.output[0].name
    for n in model.graph.node:
        if out in n.output and n.domain in QONNX_DOMAINS and n.op_type in ("Quant", "BipolarQuant"):
            return n
    return None


def requantize_with_qonnx(model, node, pre):
    """qonnx's own execution of `node` on the input `pre` (qcc's value of it)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ctx = {i: inits[i] for i in node.input[1:]}
    ctx[node.input[0]] = pre
    ctx[node.output[0]] = None
    getCustomOp(node, 1).execute_node(ctx, model.graph)
    return np.asarray(ctx[node.output[0]], dtype=np.float32)


def rel_diff(got, want):
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    span = float(np.max(want) - np.min(want))
    span = span if span > 0 else max(float(np.max(np.abs(want))), 1e-12)
    return float(np.max(diff)), span, float(np.max(diff)) / span


def check_model(qcc, name, path, samples, pb, tmp):
    """Output within TOLERANCE of qonnx; or, when the output is quantized by a
    final Quant, that Quant's input within TOLERANCE and qcc's output exactly
    qonnx's Quant applied to qcc's input (float summation order upstream may
    move a value across a rounding tie: one step, counted in 'exactly equal')."""
    if not os.path.exists(path):
        return f"SKIP {name}: {path} not found"
    model = onnx.load(path)
    _default_opset[0] = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    wrapper = ModelWrapper(model)
    wrapper = wrapper.transform(InferShapes())
    ins = graph_inputs(wrapper.model)
    if len(ins) != 1:
        return f"SKIP {name}: {len(ins)} inputs"
    inp = ins[0]
    out_name = model.graph.output[0].name
    rng = np.random.default_rng(0)
    x = make_inputs(wrapper, inp, samples, pb, rng)
    if x.shape[1] != 1:
        return f"SKIP {name}: batch {x.shape[1]}"
    fq = final_quant(model)
    names = [out_name] + ([fq.input[0]] if fq is not None else [])
    ref = reference(wrapper, inp.name, names, x)
    stem = name.replace("/", "_")
    run_path = path
    if fq is not None:
        # A copy that also outputs the final Quant's input.
        aug = onnx.load(path)
        aug.graph.output.append(onnx.helper.make_tensor_value_info(fq.input[0], onnx.TensorProto.FLOAT, None))
        run_path = os.path.join(tmp, stem + "_aug.onnx")
        onnx.save(aug, run_path)
    outs, err = run_qcc(qcc, run_path, x, tmp, stem)
    if err:
        return f"FAIL {name}: {err}"
    got = outs[out_name]
    want = ref[out_name].reshape((-1,) + ref[out_name].shape[2:])
    if got.shape != want.shape:
        return f"FAIL {name}: shape {got.shape} != qonnx {want.shape}"
    max_abs, span, rel = rel_diff(got, want)
    exact = float(np.mean(got == want))
    line = (f"{name}: {x.shape[0]} sample(s), {got.size} outputs, exactly equal {exact:.6f}, "
            f"max abs diff {max_abs:.3g} (output range {span:.3g}, relative {rel:.2e})")
    passed = rel <= TOLERANCE
    if fq is not None:
        pre_got = outs[fq.input[0]]
        pre_want = ref[fq.input[0]].reshape(pre_got.shape)
        _, _, pre_rel = rel_diff(pre_got, pre_want)
        requant = np.stack([requantize_with_qonnx(model, fq, pre_got[s:s + 1]) for s in range(pre_got.shape[0])])
        quant_exact = bool(np.array_equal(requant.reshape(got.shape), got))
        line += (f"; final {fq.op_type} input relative diff {pre_rel:.2e}, "
                 f"qcc's {fq.op_type} bit-exact with qonnx's on that input: {quant_exact}")
        passed = passed or (pre_rel <= TOLERANCE and quant_exact)
        if not quant_exact:
            passed = False
    return ("ok   " if passed else "FAIL ") + line


# ---- op sweep: single-op models, qcc bit-exact with qonnx ----------------------

MODES = ["ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]
SWEEP_SHAPE = [1, 4, 6, 6]
PER_CHANNEL = np.array([0.5, 0.25, 0.1, 3.0], np.float32).reshape(1, 4, 1, 1)


def sweep_input(rng):
    """Ties for scale 0.25 (k/2 * 0.25, exact in float32), zeros, wide and small values."""
    n = int(np.prod(SWEEP_SHAPE))
    ties = (rng.integers(-80, 80, size=n // 2) + 0.5) * 0.25
    ties[:4] = [0.0, -0.0, 0.125, -0.125]
    rest = rng.standard_normal(n - n // 2) * np.array([0.3, 3.0, 30.0, 3000.0])[rng.integers(0, 4, n - n // 2)]
    x = np.concatenate([ties, rest]).astype(np.float32)
    rng.shuffle(x)
    return x.reshape(SWEEP_SHAPE)


def _sweep_model(nodes, inits, outputs, domain_version):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, SWEEP_SHAPE)
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, shape) for o, shape in outputs]
    g = helper.make_graph(nodes, "sweep", [x], outs,
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                            helper.make_opsetid("qonnx.custom_op.general", domain_version)])
    m.ir_version = 8
    return m


def sweep_models():
    """(name, model, input) covering every mode, width, signedness, narrow, per-channel scale."""
    from onnx import helper
    rng = np.random.default_rng(7)
    D = "qonnx.custom_op.general"
    models = []
    # Quant.
    nodes, inits, outs = [], {"s_t": np.float32(0.25), "s_c": PER_CHANNEL, "z0": np.float32(0),
                              "z2": np.float32(2)}, []
    for bits in (1, 2, 3, 4, 8, 16):
        inits[f"b{bits}"] = np.float32(bits)
    k = 0
    for mode in MODES:
        for bits in (1, 2, 3, 4, 8, 16):
            for signed in (0, 1):
                for narrow in (0, 1):
                    s = "s_c" if k % 2 else "s_t"
                    z = "z2" if k % 3 == 2 else "z0"
                    o = f"q{k}_{mode}_{bits}_{signed}{narrow}"
                    nodes.append(helper.make_node("Quant", ["x", s, z, f"b{bits}"], [o], name=o, domain=D,
                                                  signed=signed, narrow=narrow, rounding_mode=mode))
                    outs.append((o, SWEEP_SHAPE))
                    k += 1
    models.append(("Quant", _sweep_model(nodes, inits, outs, 1), sweep_input(rng)))
    # BipolarQuant.
    nodes = [helper.make_node("BipolarQuant", ["x", "s_t"], ["bq_t"], name="bq_t", domain=D),
             helper.make_node("BipolarQuant", ["x", "s_c"], ["bq_c"], name="bq_c", domain=D)]
    models.append(("BipolarQuant", _sweep_model(nodes, {"s_t": np.float32(0.5), "s_c": PER_CHANNEL},
                                                [("bq_t", SWEEP_SHAPE), ("bq_c", SWEEP_SHAPE)], 1),
                   sweep_input(rng)))
    # Trunc version 1 (x / 0.25 is an integer-ish accumulator; in 10 bits, out 4..10).
    nodes, outs = [], []
    inits = {"s_t": np.float32(0.25), "s_c": PER_CHANNEL, "z0": np.float32(0), "z3": np.float32(3),
             "ib": np.float32(10), "ob4": np.float32(4), "ob7": np.float32(7), "ob10": np.float32(10)}
    k = 0
    for mode in MODES:
        for ob in ("ob4", "ob7", "ob10"):
            s = "s_c" if k % 2 else "s_t"
            z = "z3" if k % 3 == 1 else "z0"
            o = f"t1_{k}_{mode}_{ob}"
            nodes.append(helper.make_node("Trunc", ["x", s, z, "ib", ob], [o], name=o, domain=D, rounding_mode=mode))
            outs.append((o, SWEEP_SHAPE))
            k += 1
    models.append(("Trunc_v1", _sweep_model(nodes, inits, outs, 1), sweep_input(rng) * 8))
    # Trunc version 2: output scale 2^k times the scale, and a non-power-of-two ratio.
    nodes, outs = [], []
    inits = {"s_t": np.float32(0.25), "s_c": PER_CHANNEL, "z0": np.float32(0), "z3": np.float32(3),
             "ib": np.float32(10), "os1": np.float32(0.25), "os16": np.float32(4.0), "os6": np.float32(1.5),
             "osc": PER_CHANNEL * 8, "ob4": np.float32(4), "ob8": np.float32(8)}
    k = 0
    for mode in MODES:
        for os_, s in (("os1", "s_t"), ("os16", "s_t"), ("os6", "s_t"), ("osc", "s_c")):
            for signed, narrow in ((1, 0), (1, 1), (0, 0), (0, 1)):
                z = "z3" if k % 5 == 1 else "z0"
                ob = "ob8" if k % 2 else "ob4"
                o = f"t2_{k}_{mode}_{os_}_{signed}{narrow}"
                nodes.append(helper.make_node("Trunc", ["x", s, z, "ib", os_, ob], [o], name=o, domain=D,
                                              rounding_mode=mode, signed=signed, narrow=narrow))
                outs.append((o, SWEEP_SHAPE))
                k += 1
    models.append(("Trunc_v2", _sweep_model(nodes, inits, outs, 2), sweep_input(rng) * 8))
    # MultiThreshold: per-channel and global thresholds, NCHW and NHWC; some inputs equal thresholds.
    x = sweep_input(rng)
    thr_c = np.sort(rng.standard_normal((4, 7)).astype(np.float32) * 3, axis=1)
    thr_g = np.sort(rng.standard_normal((1, 15)).astype(np.float32) * 3, axis=1)
    x.reshape(-1)[:7] = thr_c[0]
    x.reshape(-1)[7:22] = thr_g[0]
    nhwc = [SWEEP_SHAPE[0], SWEEP_SHAPE[2], SWEEP_SHAPE[3], SWEEP_SHAPE[1]]
    nodes = [
        helper.make_node("MultiThreshold", ["x", "tc"], ["mt_c"], name="mt_c", domain=D, out_dtype="UINT3"),
        helper.make_node("MultiThreshold", ["x", "tg"], ["mt_g"], name="mt_g", domain=D, out_dtype="INT4",
                         out_scale=0.5, out_bias=-3.5),
        helper.make_node("MultiThreshold", ["x", "tc"], ["mt_s"], name="mt_s", domain=D, out_dtype="UINT3",
                         out_scale=0.1, out_bias=0.3, data_layout="NCHW"),
        helper.make_node("Transpose", ["x"], ["x_nhwc"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("MultiThreshold", ["x_nhwc", "tc"], ["mt_nhwc"], name="mt_nhwc", domain=D,
                         out_dtype="UINT3", data_layout="NHWC"),
    ]
    models.append(("MultiThreshold", _sweep_model(nodes, {"tc": thr_c, "tg": thr_g},
                                                  [("mt_c", SWEEP_SHAPE), ("mt_g", SWEEP_SHAPE),
                                                   ("mt_s", SWEEP_SHAPE), ("mt_nhwc", nhwc)], 1), x))
    return models


def check_sweep(qcc, tmp):
    lines = []
    for name, model, x in sweep_models():
        path = os.path.join(tmp, f"sweep_{name}.onnx")
        onnx.save(model, path)
        want = execute_onnx(ModelWrapper(model).transform(InferShapes()), {"x": x})
        outs, err = run_qcc(qcc, path, x[None], tmp, f"sweep_{name}")
        if err:
            lines.append(f"FAIL sweep/{name}: {err}")
            continue
        bad = []
        total = equal = 0
        for o in model.graph.output:
            g = outs[o.name].reshape(want[o.name].shape)
            w = np.asarray(want[o.name], dtype=np.float32)
            total += g.size
            equal += int(np.sum(g == w))
            if not np.array_equal(g, w):
                bad.append(f"{o.name} ({int(np.sum(g != w))} differ)")
        ok = not bad
        lines.append(f"{'ok  ' if ok else 'FAIL'} sweep/{name}: {len(model.graph.output)} nodes, {total} outputs, "
                     f"exactly equal {equal / total:.6f}" + ("" if ok else f"; differ: {', '.join(bad[:8])}"))
    return lines


def check_bad(qcc, tmp):
    sys.path.insert(0, HERE)
    import make_bad_qonnx  # noqa: E402
    bad_dir = os.path.join(tmp, "bad")
    lines = []
    for e in make_bad_qonnx.write_all(bad_dir):
        path = os.path.join(bad_dir, e["file"])
        r = subprocess.run([qcc, "inspect", path], capture_output=True, text=True, timeout=30)
        missing = [m for m in e["must_contain"] if m not in r.stderr]
        ok = r.returncode == 2 and not missing
        detail = "" if ok else f" (exit {r.returncode}, missing {missing}): {r.stderr.strip()}"
        lines.append(f"{'ok  ' if ok else 'FAIL'} bad/{e['file']}: {e['why']}{detail}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("qcc")
    ap.add_argument("--only")
    ap.add_argument("--skip-big", action="store_true", help="only the small models and the bad models")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, samples, pb, big in MODELS:
            if (args.only and args.only not in name) or (args.skip_big and big):
                continue
            line = check_model(args.qcc, name, path, samples, pb, tmp)
            print(line, flush=True)
            results.append(line)
        if not args.only or "sweep" in args.only:
            for line in check_sweep(args.qcc, tmp):
                print(line, flush=True)
                results.append(line)
        if not args.only or "bad" in args.only:
            for line in check_bad(args.qcc, tmp):
                print(line, flush=True)
                results.append(line)
    passed = sum(r.startswith("ok") for r in results)
    failed = sum(r.startswith("FAIL") for r in results)
    print(f"{passed} passed, {failed} failed, {len(results) - passed - failed} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
