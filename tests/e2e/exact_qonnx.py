"""An exact evaluation of small QONNX models, independent of qcc, to tell qcc's errors from
qonnx's float32 rounding noise.

qonnx's executor sums Conv / Gemm in float32 (onnxruntime), so where the exact real value of
an accumulator sits on a rounding tie or a threshold (a binary layer's sum of +-1 products is
often exactly 0), its summation order decides the output. Here every Conv / Gemm whose
operands come from quantizers is summed on their integers (exact in float64: small integer
sums) and scaled once: acc * (s_x * s_w) + bias, so an exact tie stays exact and a value off
a tie by float32's relative 2^-24 keeps its sign. The quantizers themselves are qonnx's own
numpy functions (quant, binary_quant, trunc_v1 / trunc_v2) run on float64.

Ops: Quant, BipolarQuant, Trunc, Conv (groups 1, no dilation), Gemm, BatchNormalization, Add,
Mul, Relu, Flatten, Concat, AveragePool (no padding), GlobalAveragePool, Resize (nearest,
integer factors), DepthToSpace, and Log / Div / Ceil on bit widths. Anything else raises
ValueError.
"""
import numpy as np
import onnx
from onnx import helper, numpy_helper


def _attr(n, k, d=None):
    a = [a for a in n.attribute if a.name == k]
    return helper.get_attribute_value(a[0]) if a else d


def _integers(v, scale):
    """v / scale as integers when v lies on the grid exactly, else None."""
    if scale is None:
        return None
    q = v / scale
    return q if np.array_equal(q, np.rint(q)) else None


def _conv(n, x, w):
    pads, strides = _attr(n, "pads", [0] * 4), _attr(n, "strides", [1, 1])
    if _attr(n, "group", 1) != 1 or _attr(n, "dilations", [1, 1]) != [1, 1]:
        raise ValueError("exact_qonnx: Conv with groups or dilation")
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    kh, kw = w.shape[2:]
    oh, ow = (x.shape[2] - kh) // strides[0] + 1, (x.shape[3] - kw) // strides[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):
        for j in range(kw):
            win = x[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
            y += np.einsum("oc,nchw->nohw", w[:, :, i, j], win)
    return y


def exact_run(path, x):
    from qonnx.custom_op.general.bipolar_quant import binary_quant
    from qonnx.custom_op.general.quant import quant
    from qonnx.custom_op.general.trunc import trunc_v1, trunc_v2

    m = onnx.load(path)
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    env[m.graph.input[0].name] = np.asarray(x, dtype=np.float64)
    grid = {}  # tensor -> its quantizer's scale (broadcastable), for the integer sums
    versions = {o.domain: o.version for o in m.opset_import}
    for n in m.graph.node:
        a = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "Quant":
            y = quant(a[0], a[1], a[2], a[3], _attr(n, "signed", 1), _attr(n, "narrow", 0),
                      _attr(n, "rounding_mode", b"ROUND").decode())
            grid[n.output[0]] = a[1]
        elif op == "BipolarQuant":
            y = binary_quant(a[0], a[1])
            grid[n.output[0]] = a[1]
        elif op == "Trunc":
            mode = _attr(n, "rounding_mode", b"FLOOR").decode()
            if versions.get(n.domain, 1) >= 2:
                y = trunc_v2(a[0], a[1], a[2], a[3], _attr(n, "narrow", 0), _attr(n, "signed", 1), a[4], a[5], mode)
            else:
                y = trunc_v1(a[0], a[1], a[2], a[3], a[4], mode)
        elif op in ("Conv", "Gemm"):
            wv = a[1]
            if op == "Gemm":
                if _attr(n, "transA", 0):
                    raise ValueError("exact_qonnx: Gemm transA")
                wv = wv.T if _attr(n, "transB", 0) else wv
            sx, sw = grid.get(n.input[0]), grid.get(n.input[1])
            if op == "Gemm" and sw is not None and np.size(sw) > 1:
                sw = sw.reshape(-1) if _attr(n, "transB", 0) else sw  # per output column
            qx, qw = _integers(a[0], sx), _integers(wv if op == "Gemm" else a[1], sw)
            if qx is not None and qw is not None:
                acc = _conv(n, qx, qw) if op == "Conv" else qx @ qw
                step = np.asarray(sx, np.float64).reshape(-1)[0] * np.asarray(sw, np.float64)
                y = acc * (step.reshape(1, -1, 1, 1) if op == "Conv" and step.size > 1 else step.reshape(-1))
            else:
                y = _conv(n, a[0], a[1]) if op == "Conv" else a[0] @ wv
            if op == "Gemm":
                y = _attr(n, "alpha", 1.0) * y
            if len(a) > 2 and a[2] is not None:
                b = a[2] * (_attr(n, "beta", 1.0) if op == "Gemm" else 1.0)
                y = y + (b.reshape(1, -1, 1, 1) if op == "Conv" else b)
        elif op == "Add":
            y = a[0] + a[1]
        elif op == "Mul":
            y = a[0] * a[1]
        elif op == "BatchNormalization":
            k = a[1] / np.sqrt(a[4] + np.float64(np.float32(_attr(n, "epsilon", 1e-5))))
            c = (1, -1) + (1,) * (a[0].ndim - 2)
            y = (a[0] - a[3].reshape(c)) * k.reshape(c) + a[2].reshape(c)
        elif op == "Resize":
            if _attr(n, "mode", b"nearest") != b"nearest":
                raise ValueError("exact_qonnx: Resize other than nearest")
            f = [int(v) for v in a[2][2:]]
            if not np.array_equal(a[2][2:], f):
                raise ValueError("exact_qonnx: Resize by a non-integer factor")
            y = a[0].repeat(f[0], axis=2).repeat(f[1], axis=3)
        elif op == "DepthToSpace":
            bs, (nb, c, h, w) = _attr(n, "blocksize"), a[0].shape
            if _attr(n, "mode", b"DCR") == b"CRD":
                y = a[0].reshape(nb, c // bs ** 2, bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
            else:
                y = a[0].reshape(nb, bs, bs, c // bs ** 2, h, w).transpose(0, 3, 4, 1, 5, 2)
            y = y.reshape(nb, c // bs ** 2, h * bs, w * bs)
        elif op == "Relu":
            y = np.maximum(a[0], 0)
        elif op == "Flatten":
            ax = _attr(n, "axis", 1)
            y = a[0].reshape(int(np.prod(a[0].shape[:ax])), -1)
        elif op == "Concat":
            y = np.concatenate(a, axis=_attr(n, "axis"))
        elif op == "AveragePool":
            kh, kw = _attr(n, "kernel_shape")
            sh, sw_ = _attr(n, "strides", [1, 1])
            if any(_attr(n, "pads", [0] * 4)):
                raise ValueError("exact_qonnx: AveragePool with padding")
            v = a[0]
            oh, ow = (v.shape[2] - kh) // sh + 1, (v.shape[3] - kw) // sw_ + 1
            y = sum(v[:, :, i:i + sh * oh:sh, j:j + sw_ * ow:sw_] for i in range(kh) for j in range(kw)) / (kh * kw)
        elif op == "GlobalAveragePool":
            y = a[0].mean(axis=(2, 3), keepdims=True)
        elif op in ("Log", "Div", "Ceil"):
            # brevitas' bit-width arithmetic (ceil(log(n) / log(2))): float32 as onnxruntime does it, so
            # that the widths are the model's (float64 could round log(8) / log(2) past 3).
            f = [v.astype(np.float32) for v in a]
            y = (np.log(f[0]) if op == "Log" else np.ceil(f[0]) if op == "Ceil" else f[0] / f[1]).astype(np.float64)
        else:
            raise ValueError(f"exact_qonnx: op {op}")
        env[n.output[0]] = y
    return env[m.graph.output[0].name]
