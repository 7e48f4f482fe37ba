#!/usr/bin/env python3
"""Writes small broken QONNX models: qcc must exit 2 naming the node and op.

    python3 tests/e2e/make_bad_qonnx.py OUTDIR [--json]

Each model is one QONNX node (named after the case) on a [1, 4, 2, 2] float
input. --json prints entries in the format of tests/bad_models/expected.json
(command "inspect", expect "error"). check_qonnx.py runs these cases itself.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

X_SHAPE = [1, 4, 2, 2]


def _model(node, inits, domain_opset=("onnx.brevitas", 1), extra_inputs=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, X_SHAPE)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, X_SHAPE)
    inputs = [x] + list(extra_inputs)
    graph = helper.make_graph([node], "bad_qonnx", inputs, [y],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", 13)]
    if domain_opset is not None:
        opsets.append(helper.make_opsetid(*domain_opset))
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


def _quant(name, scale=np.float32(0.5), zeropt=np.float32(0), bits=np.float32(4), domain="onnx.brevitas",
           **attrs):
    a = {"signed": 1, "narrow": 0, "rounding_mode": "ROUND"}
    a.update(attrs)
    node = helper.make_node("Quant", ["x", "s", "z", "b"], ["y"], name=name, domain=domain, **a)
    return node, {"s": np.asarray(scale, np.float32), "z": np.asarray(zeropt, np.float32),
                  "b": np.asarray(bits, np.float32)}


def cases():
    """(file stem, model, substrings stderr must contain, why)."""
    out = []

    def add(stem, model, must, why):
        out.append((stem, model, must, why))

    n, i = _quant("q_bits_frac", bits=np.float32(2.5))
    add("qonnx_quant_bits_fractional", _model(n, i), ["'q_bits_frac'", "Quant", "not an integer"],
        "Quant bit width 2.5")
    n, i = _quant("q_bits_zero", bits=np.float32(0))
    add("qonnx_quant_bits_zero", _model(n, i), ["'q_bits_zero'", "Quant", "1 to 32"], "Quant bit width 0")
    n, i = _quant("q_bits_33", bits=np.float32(33))
    add("qonnx_quant_bits_33", _model(n, i), ["'q_bits_33'", "Quant", "1 to 32"], "Quant bit width 33")
    # Bit width fed from a graph input: not a constant.
    n, i = _quant("q_bits_dynamic")
    del i["b"]
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [])
    add("qonnx_quant_bits_dynamic", _model(n, i, extra_inputs=[b]), ["'q_bits_dynamic'", "Quant", "constant"],
        "Quant bit width is a graph input")
    n, i = _quant("q_scale_zero", scale=np.float32(0))
    add("qonnx_quant_scale_zero", _model(n, i), ["'q_scale_zero'", "Quant", "positive"], "Quant scale 0")
    n, i = _quant("q_scale_negative", scale=np.array([0.5, -0.5, 0.5, 0.5], np.float32).reshape(1, 4, 1, 1))
    add("qonnx_quant_scale_negative", _model(n, i), ["'q_scale_negative'", "Quant", "positive"],
        "Quant per-channel scale with a negative entry")
    n, i = _quant("q_scale_inf", scale=np.float32(np.inf))
    add("qonnx_quant_scale_inf", _model(n, i), ["'q_scale_inf'", "Quant", "finite"], "Quant scale inf")
    n, i = _quant("q_scale_len", scale=np.full((1, 3, 1, 1), 0.5, np.float32))
    add("qonnx_quant_scale_wrong_length", _model(n, i), ["'q_scale_len'", "Quant", "does not broadcast"],
        "Quant per-channel scale of 3 for 4 channels")
    n, i = _quant("q_zp_len", zeropt=np.zeros((1, 5, 1, 1), np.float32))
    add("qonnx_quant_zeropt_wrong_length", _model(n, i), ["'q_zp_len'", "Quant", "does not broadcast"],
        "Quant per-channel zero point of 5 for 4 channels")
    n, i = _quant("q_rounding", rounding_mode="STOCHASTIC")
    add("qonnx_quant_rounding_unknown", _model(n, i), ["'q_rounding'", "Quant", "unknown rounding_mode"],
        "Quant rounding_mode STOCHASTIC")
    # No opset import for qonnx.custom_op.general: loads (version 1), then fails on the scale.
    n, i = _quant("q_no_opset_scale", scale=np.float32(0), domain="qonnx.custom_op.general")
    add("qonnx_quant_no_opset_bad_scale", _model(n, i, domain_opset=None),
        ["'q_no_opset_scale'", "Quant", "positive"], "Quant without opset import, scale 0")
    # BipolarQuant has no zero point.
    node = helper.make_node("BipolarQuant", ["x", "s", "z"], ["y"], name="bq_zeropt", domain="onnx.brevitas")
    add("qonnx_bipolar_zeropt", _model(node, {"s": np.float32(1), "z": np.float32(0)}),
        ["'bq_zeropt'", "BipolarQuant", "no zero point"], "BipolarQuant given a zero point input")
    node = helper.make_node("BipolarQuant", ["x", "s"], ["y"], name="bq_scale_zero", domain="finn.custom_op.general")
    add("qonnx_bipolar_scale_zero", _model(node, {"s": np.float32(0)}, domain_opset=None),
        ["'bq_scale_zero'", "BipolarQuant", "positive"], "BipolarQuant scale 0")
    # Trunc: the 6-input (version 2) form under opset 1 of its domain.
    node = helper.make_node("Trunc", ["x", "s", "z", "ib", "os", "ob"], ["y"], name="trunc_v2_at_v1",
                            domain="qonnx.custom_op.general", rounding_mode="FLOOR")
    add("qonnx_trunc_v2_inputs_at_opset1",
        _model(node, {"s": np.float32(1), "z": np.float32(0), "ib": np.float32(8), "os": np.float32(16),
                      "ob": np.float32(4)}, domain_opset=("qonnx.custom_op.general", 1)),
        ["'trunc_v2_at_v1'", "Trunc", "takes 5 inputs"], "Trunc with 6 inputs at domain opset 1")
    node = helper.make_node("Trunc", ["x", "s", "z", "ib", "ob"], ["y"], name="trunc_bits_frac",
                            domain="onnx.brevitas", rounding_mode="FLOOR")
    add("qonnx_trunc_bits_fractional",
        _model(node, {"s": np.float32(1), "z": np.float32(0), "ib": np.float32(8), "ob": np.float32(3.5)}),
        ["'trunc_bits_frac'", "Trunc", "not an integer"], "Trunc output bit width 3.5")
    node = helper.make_node("Trunc", ["x", "s", "z", "ib", "ob"], ["y"], name="trunc_rounding",
                            domain="onnx.brevitas", rounding_mode="NEAREST")
    add("qonnx_trunc_rounding_unknown",
        _model(node, {"s": np.float32(1), "z": np.float32(0), "ib": np.float32(8), "ob": np.float32(4)}),
        ["'trunc_rounding'", "Trunc", "unknown rounding_mode"], "Trunc rounding_mode NEAREST")
    # MultiThreshold: unknown out_dtype; thresholds for 3 channels on a 4-channel input.
    node = helper.make_node("MultiThreshold", ["x", "t"], ["y"], name="mt_dtype", domain="finn.custom_op.general",
                            out_dtype="UINT4X")
    add("qonnx_multithreshold_out_dtype",
        _model(node, {"t": np.zeros((4, 3), np.float32)}, domain_opset=("finn.custom_op.general", 1)),
        ["'mt_dtype'", "MultiThreshold", "unknown out_dtype"], "MultiThreshold out_dtype UINT4X")
    node = helper.make_node("MultiThreshold", ["x", "t"], ["y"], name="mt_rows", domain="qonnx.custom_op.general",
                            out_dtype="UINT2")
    add("qonnx_multithreshold_rows", _model(node, {"t": np.zeros((3, 3), np.float32)}, domain_opset=None),
        ["'mt_rows'", "MultiThreshold", "thresholds have 3 rows"], "MultiThreshold with 3 threshold rows, 4 channels")
    return out


def write_all(outdir):
    os.makedirs(outdir, exist_ok=True)
    entries = []
    for stem, model, must, why in cases():
        path = os.path.join(outdir, stem + ".onnx")
        onnx.save(model, path)
        entries.append({"file": stem + ".onnx", "command": "inspect", "expect": "error",
                        "must_contain": [stem + ".onnx"] + must, "why": why})
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--json", action="store_true", help="print expected.json entries")
    args = ap.parse_args()
    entries = write_all(args.outdir)
    if args.json:
        print(json.dumps(entries, indent=1))
    else:
        print(f"wrote {len(entries)} models to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
