"""Exports the small brevitas QONNX models in this folder (run once; CI needs neither torch nor brevitas).

    python3 models/brevitas/export_brevitas.py [--out models/brevitas] [--epochs 6]

Needs torch, brevitas (with onnx and onnxoptimizer) and scikit-learn. CPU only, fixed seeds.
Data: scikit-learn's bundled 8x8 digits (pixel / 16 - 0.5, N x 1 x 8 x 8), the same split as
models/digits (numpy default_rng(0) permutation, first 1500 train, the rest test).

For each bit width N in 1, 2, 3, 4, 8 it trains (quantization-aware, a few epochs of Adam)
and exports with brevitas.export.export_qonnx:
  mlp_wNaN: 8-bit input Quant, Flatten, QuantLinear(64->32, N-bit weights) + QuantReLU(N),
            QuantLinear(32->32) with a residual add (both operands on one N-bit quantizer)
            + QuantReLU(N), QuantLinear(32->10) with an 8-bit output Quant.
  cnn_wNaN: 8-bit input Quant, QuantConv2d(1->8, 3x3, per-channel N-bit weights) + QuantReLU(N),
            QuantConv2d(8->8, 3x3) with a residual add + QuantReLU(N), a 1x1 QuantConv2d branch
            concatenated with it on one N-bit quantizer (16 channels), TruncAvgPool2d(2) to N
            bits (FLOOR for odd N, ROUND for even N), Flatten, QuantLinear(256->10) with an
            8-bit output Quant.
  pool_wNaN_MODE (N = 3, 4, 8): all-convolutional, average pooling through Trunc, no biases or
            residuals: QuantConv2d(1->8) + QuantReLU(N), TruncAvgPool2d(2) to N bits,
            QuantConv2d(8->16) + QuantReLU(N), QuantConv2d(16->10, 1x1) + 8-bit signed QuantIdentity,
            TruncAdaptiveAvgPool2d(1) to 8 bits, Flatten (the logits); Trunc rounding FLOOR
            (TruncTo8bit) or ROUND (RoundTo8bit).
At N = 1 weights and hidden activations are binary (SignedBinaryWeightPerTensorConst /
SignedBinaryActPerTensorConst: BipolarQuant in QONNX) and the pool truncates to 2 bits.
Biases are Int32Bias (32-bit Quant on the bias, folded into int32 by importers).
  mlp_w1a1_pot, cnn_w1a1_pot: the binary models with every scale a power of two (weights
            +-0.5 instead of +-0.1, input and output Quant Int8ActPerTensorFixedPoint), so that
            qonnx's float32 arithmetic is exact: its sums cannot round a +-1 accumulator onto
            the other side of a threshold (the plain w1a1 models' ties).

`--only a,b` exports just those models and merges their accuracy into accuracy.json (the
other committed files stay untouched).

Writes NAME.onnx, test_inputs.npy (16 held-out images) and test_labels.npy, and
accuracy.json (top-1 of the brevitas model on the 297 held-out images).
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import brevitas
import brevitas.nn as qnn
from brevitas.export import export_qonnx
from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8ActPerTensorFloat, Int8WeightPerChannelFloat,
                            Int8WeightPerTensorFloat, Int32Bias, SignedBinaryActPerTensorConst,
                            SignedBinaryWeightPerTensorConst, Uint8ActPerTensorFloat)
from brevitas.quant.scaled_int import RoundTo8bit, TruncTo8bit

BITS = (1, 2, 3, 4, 8)


def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0 - 0.5)[:, None]
    y = d.target.astype(np.int64)
    p = np.random.default_rng(0).permutation(len(x))
    tr, te = p[:1500], p[1500:]
    return x[tr], y[tr], x[te], y[te]


def weight_quant(bits, per_channel, pot=False):
    if bits == 1:
        return dict(weight_quant=SignedBinaryWeightPerTensorConst.let(scaling_const=0.5) if pot
                    else SignedBinaryWeightPerTensorConst)
    return dict(weight_quant=Int8WeightPerChannelFloat if per_channel else Int8WeightPerTensorFloat,
                weight_bit_width=bits)


def relu(bits):
    """The hidden activation: QuantReLU at N bits, binary (sign) at 1 bit."""
    if bits == 1:
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits, return_quant_tensor=True)


def signed_act(bits):
    if bits == 1:
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits, return_quant_tensor=True)


def trunc_quant(bits, floor=None):
    # TruncTo8bit / RoundTo8bit at another width: keep the MSBs of the pooled sum.
    floor = bits % 2 == 1 if floor is None else floor
    return (TruncTo8bit if floor else RoundTo8bit).let(bit_width=max(bits, 2))


def io_quant(pot):
    """8-bit input / output Quant: a float scale, or a power of two (pot)."""
    return Int8ActPerTensorFixedPoint if pot else Int8ActPerTensorFloat


class Mlp(nn.Module):
    def __init__(self, bits, pot=False):
        super().__init__()
        b = dict(bias=True, bias_quant=Int32Bias, return_quant_tensor=True)
        self.inp = qnn.QuantIdentity(act_quant=io_quant(pot), bit_width=8, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(64, 32, **weight_quant(bits, False, pot), **b)
        self.act1 = relu(bits)
        self.fc2 = qnn.QuantLinear(32, 32, **weight_quant(bits, False, pot), **b)
        self.res = signed_act(bits)  # one quantizer for both operands of the add
        self.act2 = relu(bits)
        self.fc3 = qnn.QuantLinear(32, 10, **weight_quant(bits, False, pot), bias=True, bias_quant=Int32Bias,
                                   output_quant=io_quant(pot), return_quant_tensor=False)

    def forward(self, x):
        h = self.act1(self.fc1(self.inp(x).flatten(1)))
        h = self.act2(self.res(self.fc2(h)) + self.res(h))
        return self.fc3(h)


class Cnn(nn.Module):
    def __init__(self, bits, pot=False):
        super().__init__()
        b = dict(bias=True, bias_quant=Int32Bias, return_quant_tensor=True)
        self.inp = qnn.QuantIdentity(act_quant=io_quant(pot), bit_width=8, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(1, 8, 3, padding=1, **weight_quant(bits, True, pot), **b)
        self.act1 = relu(bits)
        self.c2 = qnn.QuantConv2d(8, 8, 3, padding=1, **weight_quant(bits, True, pot), **b)
        self.res = signed_act(bits)
        self.act2 = relu(bits)  # also quantizes the 1x1 branch: one grid for the concat
        self.c3 = qnn.QuantConv2d(8, 8, 1, **weight_quant(bits, True, pot), **b)
        self.pool = qnn.TruncAvgPool2d(2, trunc_quant=trunc_quant(bits), return_quant_tensor=True)
        self.fc = qnn.QuantLinear(16 * 4 * 4, 10, **weight_quant(bits, False, pot), bias=True, bias_quant=Int32Bias,
                                  output_quant=io_quant(pot), return_quant_tensor=False)

    def forward(self, x):
        a = self.act1(self.c1(self.inp(x)))
        r = self.act2(self.res(self.c2(a)) + self.res(a))
        br = self.act2(self.c3(r))
        c = torch.cat([r, br], dim=1)
        return self.fc(self.pool(c).flatten(1))


class Pool(nn.Module):
    """All-convolutional, average pooling through Trunc, no biases or residuals: QuantConv2d + QuantReLU,
    TruncAvgPool2d(2), QuantConv2d + QuantReLU, 1x1 QuantConv2d to 10 classes + 8-bit signed
    QuantIdentity, TruncAdaptiveAvgPool2d(1) (8 bits), Flatten: the logits are the pooled Trunc output."""

    def __init__(self, bits, floor):
        super().__init__()
        b = dict(bias=False, return_quant_tensor=True)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(1, 8, 3, padding=1, **weight_quant(bits, True), **b)
        self.act1 = relu(bits)
        self.pool1 = qnn.TruncAvgPool2d(2, trunc_quant=trunc_quant(bits, floor), return_quant_tensor=True)
        self.c2 = qnn.QuantConv2d(8, 16, 3, padding=1, **weight_quant(bits, True), **b)
        self.act2 = relu(bits)
        self.c3 = qnn.QuantConv2d(16, 10, 1, **weight_quant(bits, True), **b)
        self.out = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=True)
        self.pool2 = qnn.TruncAdaptiveAvgPool2d(1, trunc_quant=trunc_quant(8, floor), return_quant_tensor=False)

    def forward(self, x):
        a = self.pool1(self.act1(self.c1(self.inp(x))))
        a = self.out(self.c3(self.act2(self.c2(a))))
        return self.pool2(a).flatten(1)


def train(model, xtr, ytr, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 50):
            idx = perm[i:i + 50]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--only", help="comma-separated model names: export just these")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr, xte, yte = digits()
    acc = {"brevitas": brevitas.__version__, "torch": torch.__version__, "top1_test": {}}
    cases = [(f"{kind}_w{bits}a{bits}", bits, lambda b=bits, c=cls: c(b)) for kind, cls in (("mlp", Mlp), ("cnn", Cnn))
             for bits in BITS]
    cases += [("pool_w3a3_floor", 3, lambda: Pool(3, True)), ("pool_w4a4_round", 4, lambda: Pool(4, False)),
              ("pool_w8a8_floor", 8, lambda: Pool(8, True))]
    cases += [("mlp_w1a1_pot", 1, lambda: Mlp(1, pot=True)), ("cnn_w1a1_pot", 1, lambda: Cnn(1, pot=True))]
    only = set(args.only.split(",")) if args.only else None
    if only:
        unknown = only - {c[0] for c in cases}
        if unknown:
            raise SystemExit(f"unknown models: {sorted(unknown)}")
        cases = [c for c in cases if c[0] in only]
        with open(os.path.join(args.out, "accuracy.json")) as f:
            acc = json.load(f)
    for name, bits, make in cases:
        seed = 100 * bits + sum(map(ord, name)) % 97
        torch.manual_seed(seed)
        model = make()
        train(model, xtr, ytr, args.epochs, seed)
        acc["top1_test"][name] = round(accuracy(model, xte, yte), 4)
        path = os.path.join(args.out, name + ".onnx")
        export_qonnx(model, torch.from_numpy(xte[:1]), path, dynamo=False)
        print(name, acc["top1_test"][name], os.path.getsize(path), "bytes", flush=True)
    if not only:
        np.save(os.path.join(args.out, "test_inputs.npy"), xte[:16])
        np.save(os.path.join(args.out, "test_labels.npy"), yte[:16])
    with open(os.path.join(args.out, "accuracy.json"), "w") as f:
        json.dump(acc, f, indent=1)


if __name__ == "__main__":
    main()
