#!/usr/bin/env python3
"""Makes pre-quantized models with onnxruntime.quantization.quantize_static,
and small single-op QOperator / QDQ models (--ops) for every op qcc imports.

    make_prequantized.py OUT_DIR [--models mobilenetv2,resnet18] [--calib-samples 16] [--ops]

For each bundled float model (fixed input shape 1x3x224x224, preprocessed with
quant_pre_process) it writes the formats and type combinations below into
OUT_DIR as NAME_FORMAT_ACT_W_GRANULARITY.onnx (e.g. mobilenetv2_qdq_s8s8_pc.onnx)
and prints one line per model. Calibration reads seeded normal samples, so a
rerun gives the same scales.

  mobilenetv2: QDQ s8s8 per-channel, QDQ u8s8 per-tensor,
               QOperator u8s8 per-channel, QOperator s8s8 per-tensor
  resnet18:    QDQ s8s8 per-channel, QDQ u8s8 per-tensor,
               QOperator u8s8 per-channel, QOperator s8s8 per-tensor

--ops writes ops_NAME.onnx with ops_NAME.npz (seeded inputs) per case of
op_cases(): QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger and
com.microsoft QGemm, QLinearAdd, QLinearMul, QLinearGlobalAveragePool,
QLinearConcat, QLinearSigmoid, QLinearLeakyRelu in uint8 and int8 forms, and
QDQ units (Conv + Relu, Conv + Clip, Gemm + Relu, MatMul, Gemm without QuantizeLinear, Add, Mul,
Concat, Sigmoid, MaxPool / Reshape / Transpose on the integers, AveragePool).
"""
import argparse
import logging
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "models")

# (format, activation type, per_channel)
COMBOS = {
    "mobilenetv2": [("qdq", "s8", True), ("qdq", "u8", False), ("qop", "u8", True), ("qop", "s8", False)],
    "resnet18": [("qdq", "s8", True), ("qdq", "u8", False), ("qop", "u8", True), ("qop", "s8", False)],
}


class SeededReader(CalibrationDataReader):
    def __init__(self, name, shape, count, seed):
        rng = np.random.default_rng(seed)
        self.samples = [{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(count)]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.samples):
            return None
        self.i += 1
        return self.samples[self.i - 1]


def model_name(model, fmt, act, per_channel):
    return f"{model}_{fmt}_{act}s8_{'pc' if per_channel else 'pt'}.onnx"


def make(model, out_dir, calib_samples):
    src = onnx.load(os.path.join(MODELS, model, "model.onnx"))
    inp = src.graph.input[0]
    for d, v in zip(inp.type.tensor_type.shape.dim, (1, 3, 224, 224)):
        d.ClearField("dim_param")
        d.dim_value = v
    fixed = os.path.join(out_dir, f"{model}_fixed.onnx")
    onnx.save(src, fixed)
    pre = os.path.join(out_dir, f"{model}_pre.onnx")
    quant_pre_process(fixed, pre)
    made = []
    for fmt, act, per_channel in COMBOS[model]:
        out = os.path.join(out_dir, model_name(model, fmt, act, per_channel))
        quantize_static(
            pre,
            out,
            SeededReader(inp.name, (1, 3, 224, 224), calib_samples, seed=0),
            quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
            activation_type=QuantType.QInt8 if act == "s8" else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
        )
        made.append(out)
        print(f"made {out}")
    return made


# ---- single-op models -----------------------------------------------------------------

U8, S8 = np.uint8, np.int8
ONNX_TYPE = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8, np.int32: TensorProto.INT32,
             np.float32: TensorProto.FLOAT}


class Case:
    """One single-op model: nodes, initializers, graph inputs with seeded data."""

    def __init__(self, name, seed):
        self.name, self.rng = name, np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.data = [], [], [], {}

    def const(self, name, value, dtype):
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, name, shape, dtype, lo=None, hi=None):
        info = np.iinfo(dtype)
        lo = info.min if lo is None else lo
        hi = info.max if hi is None else hi
        return self.const(name, self.rng.integers(lo, hi + 1, size=shape), dtype)

    def scale(self, name, shape=(), lo=0.002, hi=0.05):
        return self.const(name, np.exp(self.rng.uniform(np.log(lo), np.log(hi), size=shape)), np.float32)

    def zp(self, name, dtype, shape=()):
        info = np.iinfo(dtype)
        return self.const(name, self.rng.integers(info.min // 2, info.max // 2 + 1, size=shape), dtype)

    def input(self, name, shape, dtype):
        if dtype == np.float32:
            self.data[name] = self.rng.standard_normal(shape).astype(np.float32)
        else:
            info = np.iinfo(dtype)
            self.data[name] = self.rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
        self.inputs.append(helper.make_tensor_value_info(name, ONNX_TYPE[dtype], list(shape)))
        return name

    def node(self, op, ins, outs, domain="", **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, name=f"{op}_{len(self.nodes)}", domain=domain, **attrs))
        return outs[0]

    def q(self, x, dtype, lo=0.01, hi=0.05):
        return self.node("QuantizeLinear", [x, self.scale(x + "_qs", (), lo, hi), self.zp(x + "_qz", dtype)],
                         [x + "_q"])

    def dq(self, xq):
        """DequantizeLinear with the scale / zero point of the QuantizeLinear that made xq."""
        return self.node("DequantizeLinear", [xq, xq[:-2] + "_qs", xq[:-2] + "_qz"], [xq[:-2] + "_dq"])

    def dq_weight(self, name, shape, dtype, axis=None):
        w = self.ints(name, shape, dtype, -127 if dtype == S8 else 0, 127 if dtype == S8 else 255)
        n = shape[axis] if axis is not None else None
        s = self.scale(name + "_s", (n,) if n else (), 0.001, 0.02)
        z = self.const(name + "_z", np.zeros((n,) if n else (), dtype) if dtype == S8 else
                       np.full((n,) if n else (), 128, dtype), dtype)
        attrs = {"axis": axis} if axis is not None else {}
        return self.node("DequantizeLinear", [w, s, z], [name + "_dq"], **attrs)

    def dq_bias(self, name, n, in_scale, w_scale):
        s = np.asarray(numpy_helper.to_array(self.init(in_scale)) * numpy_helper.to_array(self.init(w_scale)),
                       np.float32)
        b = self.const(name, self.rng.integers(-2000, 2000, size=(n,)), np.int32)
        return self.node("DequantizeLinear", [b, self.const(name + "_s", s.reshape(-1) if s.size > 1 else s,
                                                            np.float32),
                                              self.const(name + "_z", np.zeros(s.shape if s.size > 1 else (),
                                                                                np.int32), np.int32)],
                         [name + "_dq"], axis=0)

    def init(self, name):
        return [t for t in self.inits if t.name == name][0]

    def model(self, output, out_type):
        g = helper.make_graph(self.nodes, self.name, self.inputs,
                              [helper.make_tensor_value_info(output, out_type, None)], self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)],
                                 ir_version=8)


def qop_cases():
    cases = []

    def add(c, out, t):
        cases.append((c, c.model(out, ONNX_TYPE[t])))

    for t in (U8, S8):
        sfx = "u8" if t == U8 else "s8"
        # grouped, strided, padded conv; uint8 weights carry a zero point
        c = Case(f"qlinearconv_group_{sfx}", 1)
        wt = U8 if t == U8 else S8
        add(c, c.node("QLinearConv", [c.input("x", (1, 8, 11, 11), t), c.scale("xs"), c.zp("xz", t),
                                      c.ints("w", (6, 4, 3, 3), wt), c.scale("ws", (6,), 0.001, 0.02),
                                      c.const("wz", 3 if wt == U8 else 0, wt), c.scale("ys"), c.zp("yz", t),
                                      c.ints("b", (6,), np.int32, -3000, 3000)], ["y"],
                      group=2, strides=[2, 2], pads=[1, 1, 1, 1]), t)
        c = Case(f"qlinearconv_depthwise_dilated_{sfx}", 2)
        add(c, c.node("QLinearConv", [c.input("x", (1, 8, 12, 12), t), c.scale("xs"), c.zp("xz", t),
                                      c.ints("w", (8, 1, 3, 3), S8, -127, 127), c.scale("ws", (8,), 0.001, 0.02),
                                      c.const("wz", np.zeros(8), S8), c.scale("ys"), c.zp("yz", t)], ["y"],
                      group=8, dilations=[2, 2], pads=[2, 2, 2, 2]), t)
        c = Case(f"qlinearconv_1d_{sfx}", 3)
        add(c, c.node("QLinearConv", [c.input("x", (1, 4, 30), t), c.scale("xs"), c.zp("xz", t),
                                      c.ints("w", (5, 4, 3), S8, -127, 127), c.scale("ws", (), 0.001, 0.02),
                                      c.const("wz", 0, S8), c.scale("ys"), c.zp("yz", t)], ["y"], pads=[1, 1]), t)
        c = Case(f"qlinearmatmul_2d_{sfx}", 4)
        add(c, c.node("QLinearMatMul", [c.input("a", (7, 40), t), c.scale("as"), c.zp("az", t),
                                        c.ints("b", (40, 30), S8 if t == S8 else U8), c.scale("bs", (), 0.001, 0.02),
                                        c.zp("bz", S8 if t == S8 else U8), c.scale("ys"), c.zp("yz", t)], ["y"]), t)
        c = Case(f"qlinearmatmul_batched_{sfx}", 5)
        add(c, c.node("QLinearMatMul", [c.input("a", (2, 5, 16), t), c.scale("as"), c.zp("az", t),
                                        c.input("b", (2, 16, 9), t), c.scale("bs", (), 0.001, 0.02), c.zp("bz", t),
                                        c.scale("ys"), c.zp("yz", t)], ["y"]), t)
        c = Case(f"qgemm_bias_alpha_{sfx}", 6)
        add(c, c.node("QGemm", [c.input("a", (6, 32), t), c.scale("as"), c.zp("az", t),
                                c.ints("b", (20, 32), S8, -127, 127), c.scale("bs", (20,), 0.001, 0.02),
                                c.const("bz", np.zeros(20), S8), c.ints("c", (20,), np.int32, -5000, 5000),
                                c.scale("ys"), c.zp("yz", t)], ["y"], domain="com.microsoft",
                      transB=1, alpha=0.75), t)
        c = Case(f"qgemm_float_out_transA_{sfx}", 7)
        add(c, c.node("QGemm", [c.input("a", (32, 6), t), c.scale("as"), c.zp("az", t),
                                c.ints("b", (32, 20), S8, -127, 127), c.scale("bs", (20,), 0.001, 0.02),
                                c.const("bz", np.zeros(20), S8), c.ints("c", (20,), np.int32, -5000, 5000)], ["y"],
                      domain="com.microsoft", transA=1), np.float32)
        for shape_a, shape_b, tag in [((2, 64, 28, 28), (2, 64, 28, 28), "same"), ((1, 1), (1, 40000), "scalar_a"),
                                      ((1, 40000), (1, 1), "scalar_b"), ((1, 64, 1, 1), (1, 64, 28, 28), "channel_a"),
                                      ((1, 64, 28, 28), (1, 64, 1, 1), "channel_b")]:
            c = Case(f"qlinearadd_{tag}_{sfx}", 8)
            add(c, c.node("QLinearAdd", [c.input("a", shape_a, t), c.scale("as"), c.zp("az", t),
                                         c.input("b", shape_b, t), c.scale("bs"), c.zp("bz", t),
                                         c.scale("ys"), c.zp("yz", t)], ["y"], domain="com.microsoft"), t)
        c = Case(f"qlinearmul_{sfx}", 9)
        add(c, c.node("QLinearMul", [c.input("a", (4, 25000), t), c.scale("as", (), 0.05, 0.2), c.zp("az", t),
                                     c.input("b", (4, 25000), t), c.scale("bs", (), 0.05, 0.2), c.zp("bz", t),
                                     c.scale("ys", (), 0.5, 2.0), c.zp("yz", t)], ["y"], domain="com.microsoft"), t)
        c = Case(f"qlinearglobalaveragepool_{sfx}", 10)
        add(c, c.node("QLinearGlobalAveragePool", [c.input("x", (2, 16, 7, 7), t), c.scale("xs"), c.zp("xz", t),
                                                   c.scale("ys", (), 0.002, 0.01), c.zp("yz", t)], ["y"],
                      domain="com.microsoft", channels_last=0), t)
        c = Case(f"qlinearconcat_{sfx}", 11)
        ys, yz = c.scale("ys"), c.zp("yz", t)
        add(c, c.node("QLinearConcat", [ys, yz, c.input("x0", (1, 3, 8, 8), t), c.scale("s0"), c.zp("z0", t),
                                        c.input("x1", (1, 5, 8, 8), t), ys, yz,
                                        c.input("x2", (1, 2, 8, 8), t), c.scale("s2"), c.zp("z2", t)], ["y"],
                      domain="com.microsoft", axis=1), t)
        for op, attrs in (("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1})):
            c = Case(f"{op.lower()}_{sfx}", 12)
            x = c.input("x", (4, 256), t)
            c.data["x"] = np.tile(np.arange(np.iinfo(t).min, np.iinfo(t).max + 1, dtype=t), (4, 1))
            add(c, c.node(op, [x, c.scale("xs", (), 0.02, 0.08), c.zp("xz", t), c.scale("ys", (), 0.002, 0.01),
                               c.zp("yz", t)], ["y"], domain="com.microsoft", **attrs), t)
    c = Case("convinteger_u8", 13)
    add(c, c.node("ConvInteger", [c.input("x", (1, 4, 9, 9), U8), c.ints("w", (6, 4, 3, 3), U8),
                                  c.const("xz", 130, U8), c.const("wz", 120, U8)], ["y"], pads=[1, 1, 1, 1]),
        np.int32)
    c = Case("matmulinteger_u8s8", 14)
    add(c, c.node("MatMulInteger", [c.input("a", (5, 24), U8), c.ints("b", (24, 7), S8), c.const("az", 131, U8),
                                    c.const("bz", 0, S8)], ["y"]), np.int32)
    return cases


def qdq_cases():
    """Float in, float out: QuantizeLinear, QDQ units, DequantizeLinear."""
    cases = []
    for t in (U8, S8):
        sfx = "u8" if t == U8 else "s8"

        def finish(c, y):
            cases.append((c, c.model(c.dq(c.q(y, t)), TensorProto.FLOAT)))

        c = Case(f"qdq_conv_relu_{sfx}", 21)
        xq = c.dq(c.q(c.input("x", (1, 6, 10, 10), np.float32), t))
        w = c.dq_weight("w", (8, 6, 3, 3), S8, axis=0)
        b = c.dq_bias("b", 8, "x_qs", "w_s")
        y = c.node("Conv", [xq, w, b], ["conv"], pads=[1, 1, 1, 1])
        finish(c, c.node("Relu", [y], ["relu"]))
        c = Case(f"qdq_conv_clip_{sfx}", 29)
        xq = c.dq(c.q(c.input("x", (1, 6, 10, 10), np.float32), t))
        y = c.node("Conv", [xq, c.dq_weight("w", (8, 6, 3, 3), S8, axis=0)], ["conv"], strides=[2, 2])
        finish(c, c.node("Clip", [y, c.const("lo", 0.0, np.float32), c.const("hi", 0.5, np.float32)], ["clip"]))
        c = Case(f"qdq_gemm_relu_{sfx}", 30)
        xq = c.dq(c.q(c.input("x", (5, 24), np.float32), t))
        y = c.node("Gemm", [xq, c.dq_weight("w", (24, 16), S8, axis=1)], ["gemm"])
        finish(c, c.node("Relu", [y], ["relu"]))
        c = Case(f"qdq_matmul_{sfx}", 22)
        xq = c.dq(c.q(c.input("x", (3, 7, 24), np.float32), t))
        finish(c, c.node("MatMul", [xq, c.dq_weight("w", (24, 16), S8, axis=1)], ["mm"]))
        c = Case(f"qdq_gemm_float_out_{sfx}", 23)
        xq = c.dq(c.q(c.input("x", (5, 24), np.float32), t))
        w = c.dq_weight("w", (16, 24), S8, axis=0)
        cases.append((c, c.model(c.node("Gemm", [xq, w, c.dq_bias("b", 16, "x_qs", "w_s")], ["gemm"], transB=1),
                                 TensorProto.FLOAT)))
        for op in ("Add", "Mul"):
            c = Case(f"qdq_{op.lower()}_{sfx}", 24)
            a = c.dq(c.q(c.input("a", (2, 8, 6, 6), np.float32), t, 0.02, 0.06))
            b = c.dq(c.q(c.input("b", (2, 8, 6, 6), np.float32), t, 0.02, 0.06))
            finish(c, c.node(op, [a, b], [op.lower()]))
        c = Case(f"qdq_concat_{sfx}", 25)
        ins = [c.dq(c.q(c.input(f"x{i}", (1, 3 + i, 5, 5), np.float32), t)) for i in range(3)]
        finish(c, c.node("Concat", ins, ["cat"], axis=1))
        c = Case(f"qdq_sigmoid_{sfx}", 26)
        finish(c, c.node("Sigmoid", [c.dq(c.q(c.input("x", (4, 300), np.float32), t, 0.02, 0.05))], ["sig"]))
        c = Case(f"qdq_maxpool_reshape_transpose_{sfx}", 27)
        x = c.input("x", (1, 4, 8, 8), np.float32)
        xq = c.q(x, t)
        p = c.node("MaxPool", [c.dq(xq)], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
        # the same grid after the pool: ORT and qcc run the pool on the integers
        pq = c.node("QuantizeLinear", [p, "x_qs", "x_qz"], ["pool_q"])
        r = c.node("Reshape", [c.node("DequantizeLinear", [pq, "x_qs", "x_qz"], ["pool_dq"]),
                               c.const("shape", [1, 4, 16], np.int64)], ["resh"])
        rq = c.node("QuantizeLinear", [r, "x_qs", "x_qz"], ["resh_q"])
        tr = c.node("Transpose", [c.node("DequantizeLinear", [rq, "x_qs", "x_qz"], ["resh_dq"])], ["tr"],
                    perm=[0, 2, 1])
        tq = c.node("QuantizeLinear", [tr, "x_qs", "x_qz"], ["tr_q"])
        cases.append((c, c.model(c.node("DequantizeLinear", [tq, "x_qs", "x_qz"], ["out"]), TensorProto.FLOAT)))
        c = Case(f"qdq_averagepool_{sfx}", 28)
        finish(c, c.node("AveragePool", [c.dq(c.q(c.input("x", (1, 4, 9, 9), np.float32), t))], ["avg"],
                         kernel_shape=[3, 3], strides=[2, 2]))
    return cases


def make_ops(out_dir):
    made = []
    for c, m in qop_cases() + qdq_cases():
        path = os.path.join(out_dir, f"ops_{c.name}.onnx")
        onnx.save(m, path)
        np.savez(path[:-5] + ".npz", **c.data)
        made.append(path)
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--models", default="mobilenetv2,resnet18")
    ap.add_argument("--calib-samples", type=int, default=16)
    ap.add_argument("--ops", action="store_true", help="also write the single-op models")
    args = ap.parse_args()
    logging.getLogger().setLevel(logging.ERROR)
    os.makedirs(args.out_dir, exist_ok=True)
    for m in filter(None, args.models.split(",")):
        if m not in COMBOS:
            sys.exit(f"unknown model {m} (known: {', '.join(COMBOS)})")
        make(m, args.out_dir, args.calib_samples)
    if args.ops:
        for p in make_ops(args.out_dir):
            print(f"made {p}")


if __name__ == "__main__":
    main()
