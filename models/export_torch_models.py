"""Export small float PyTorch models to ONNX for qcc tests/benchmarks.

Rerun (from the repo root; needs numpy, onnx, onnxruntime, torch, torchvision):

    python3 models/export_torch_models.py

Writes, for each of mobilenetv2, resnet18 and transformer_encoder:
    models/<name>/model.onnx        opset 13, dynamic batch dim "batch", I/O "input"/"output"
    models/<name>/input.npy         float32 batch-2 seeded normal input
    models/<name>/expected_ort.npy  onnxruntime CPU output (1 thread) on input.npy
All exports use the legacy TorchScript exporter (dynamo=False) so the graphs are
classic ONNX graphs. Weights are random (seed 0); BatchNorm running statistics are
calibrated on random data so activations are not degenerate.
"""
import contextlib
import math
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision

OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))


def calibrate_bn(model, batches=8):
    """Run train-mode forwards on random data to set realistic BN running stats.

    Stats are reset and averaged cumulatively (momentum=None): with the default
    momentum 0.1, 8 batches leave 43% of the init stats (mean 0, var 1) in place and
    MobileNetV2's output becomes input-independent (|y[0]-y[1]| ~ 1e-7)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    gen = torch.Generator().manual_seed(1234)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, 3, 224, 224, generator=gen))
    for bn in bns:
        bn.momentum = 0.1
    model.eval()


def export(name, model, shape):
    out_dir = os.path.join(HERE, name)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    model.eval()
    dummy = torch.randn(1, *shape[1:])
    kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    with torch.no_grad():
        torch.onnx.export(
            model, (dummy,), path,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, **kwargs)
    onnx.checker.check_model(onnx.load(path))

    x = np.random.default_rng(0).standard_normal((2, *shape[1:])).astype(np.float32)
    np.save(os.path.join(out_dir, "input.npy"), x)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x})[0]
    np.save(os.path.join(out_dir, "expected_ort.npy"), y)

    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{name}: out {y.shape}, max|ort-torch| = {np.abs(y - ref).max():.3g}, ops: {ops}")


@contextlib.contextmanager
def plain_sdpa():
    """Swap F.scaled_dot_product_attention for its MatMul/Softmax math so the legacy
    exporter can emit it at opset 13 (its SDPA symbolic needs opset >= 14)."""
    F = torch.nn.functional
    orig = F.scaled_dot_product_attention

    def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **_):
        assert attn_mask is None and not is_causal and dropout_p == 0.0
        with warnings.catch_warnings():  # head dim is static: a constant is intended
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
        return torch.softmax(q @ k.transpose(-2, -1) * s, dim=-1) @ v

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = orig


class EncoderOnly(torch.nn.Module):
    """forward(x) wrapper: the legacy exporter otherwise passes the layer's default
    is_causal=False as a traced tensor, which scaled_dot_product_attention rejects."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


def main():
    torch.manual_seed(0)

    m = torchvision.models.mobilenet_v2(weights=None)
    calibrate_bn(m)
    export("mobilenetv2", m, (1, 3, 224, 224))

    m = torchvision.models.resnet18(weights=None)
    calibrate_bn(m)
    export("resnet18", m, (1, 3, 224, 224))

    # Disable the fused MHA fast path so the export decomposes into primitives.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    layer = torch.nn.TransformerEncoderLayer(
        d_model=64, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=True)
    # LayerNorm gains/biases and attention biases start as exact 1s/0s; perturb them so
    # tests exercise them (and the exporter doesn't merge equal initializers via Identity).
    with torch.no_grad():
        for p in (layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias,
                  layer.self_attn.in_proj_bias, layer.self_attn.out_proj.bias):
            p.add_(0.1 * torch.randn_like(p))
    m = EncoderOnly(layer)
    with plain_sdpa():
        export("transformer_encoder", m, (1, 16, 64))

    for name in ("mobilenetv2", "resnet18", "transformer_encoder"):
        for f in ("model.onnx", "input.npy", "expected_ort.npy"):
            p = os.path.join(HERE, name, f)
            print(f"{os.path.getsize(p):>12,d}  models/{name}/{f}")


if __name__ == "__main__":
    main()
