"""Train small float models on real labelled data and export them to ONNX.

These give qcc accuracy checks on real data (issue 3): a quantized model's top-1
accuracy can be compared with the float accuracy recorded here.

Rerun from the repo root (CPU only, ~2-3 minutes on 2 cores):

    apt-get install -y dataset-fashion-mnist   # IDX files in /usr/share/datasets/fashion-mnist
    pip install scikit-learn                   # 8x8 digits ship inside the package
    python3 models/train_small_models.py

Writes, for <dataset> in fashion_mnist and digits:
    models/<dataset>/cnn.onnx, mlp.onnx   opset 13, input "input" / output "logits",
                                          dynamic batch dim "batch"
    models/<dataset>/calib.npy            float32 N x 1 x H x W training samples
    models/<dataset>/test.npy             float32 N x 1 x H x W held-out samples
    models/<dataset>/test_labels.npy      int64 labels for test.npy
    models/<dataset>/float_accuracy.json  onnxruntime top-1 on test.npy: {"cnn", "mlp"}
    models/<dataset>/README.md            source, preprocessing, architectures, accuracy
Preprocessing is in the data, not the models: pixels scaled to [0, 1], minus 0.5.
Every model, the MLPs included, takes N x 1 x H x W so one test.npy serves both.
"""
import gzip
import json
import os
import random
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
OPSET = 13
SEED = 0


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- data

def read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def load_fashion():
    """Returns (x_train, y_train, x_test, y_test); x is float32 N x 1 x 28 x 28 in [-0.5, 0.5]."""
    def images(name):
        raw = read_idx(os.path.join(FASHION_DIR, name), 16)  # magic, count, rows, cols
        return (raw.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0 - 0.5).astype(np.float32)

    def labels(name):
        return read_idx(os.path.join(FASHION_DIR, name), 8).astype(np.int64)  # magic, count

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def load_digits():
    """sklearn's bundled 8x8 digits (pixel values 0..16), 1797 samples: a seeded shuffle,
    then 1500 train and 297 test. (The file's own order puts a harder set of writers
    at the end, so a plain first-1500 split tests on an unrepresentative tail.)"""
    from sklearn.datasets import load_digits as sk_load_digits
    d = sk_load_digits()
    x = (d.data.reshape(-1, 1, 8, 8).astype(np.float32) / 16.0 - 0.5).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))
    x, y = x[order], y[order]
    return x[:1500], y[:1500], x[1500:], y[1500:]


# ---------------------------------------------------------------- models

class FashionCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.depthwise = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.ReLU6())
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.depthwise(x)  # residual Add around the depthwise block
        return self.head(x)


def fashion_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
                         nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def digits_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def digits_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


# ---------------------------------------------------------------- training

def train(model, x, y, epochs, batch, lr):
    """Adam with a seeded shuffle per epoch; returns the model in eval mode."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(SEED)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        print(f"    epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f}")
    return model.eval()


def export(model, path, example):
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.from_numpy(example[:1]),), path, dynamo=False,
            opset_version=OPSET, do_constant_folding=True,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))


def ort_accuracy(path, x, y):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"input": x})[0]
    return float((logits.argmax(axis=1) == y).mean())


def op_types(path):
    return sorted({n.op_type for n in onnx.load(path).graph.node})


README = {
    "fashion_mnist": {
        "title": "Fashion-MNIST",
        "source": "Debian package `dataset-fashion-mnist` (IDX files in "
                  "/usr/share/datasets/fashion-mnist): 60000 train / 10000 test 28x28 grayscale "
                  "images, 10 clothing classes.",
        "preprocess": "pixel / 255 - 0.5 (range [-0.5, 0.5]), layout N x 1 x 28 x 28 float32. "
                      "Done in the data, not the model.",
        "subsets": "calib.npy: 500 training images (seeded random subset, in file order). "
                   "test.npy / test_labels.npy: the first 1000 test images.",
        "cnn": "Conv(1->16,3x3,pad1)+BN+ReLU, MaxPool2, Conv(16->32,3x3,pad1)+BN+ReLU, MaxPool2, "
               "x + ReLU6(depthwise Conv(32->32,3x3,pad1,groups=32)), Flatten, Gemm(1568->64)+ReLU, "
               "Gemm(64->10). BN is folded into the convs by the exporter. Adam, 4 epochs.",
        "mlp": "Flatten, Gemm(784->128)+ReLU, Gemm(128->64)+ReLU, Gemm(64->10). Adam, 8 epochs.",
    },
    "digits": {
        "title": "sklearn 8x8 digits",
        "source": "scikit-learn's bundled `sklearn.datasets.load_digits()` (1797 8x8 images, "
                  "values 0..16, 10 classes; ships inside the package, no download).",
        "preprocess": "pixel / 16 - 0.5 (range [-0.5, 0.5]), layout N x 1 x 8 x 8 float32 "
                      "(the MLP starts with Flatten). Split: seeded permutation (numpy "
                      "default_rng(0)), first 1500 train, remaining 297 test.",
        "subsets": "calib.npy: 300 training images (seeded random subset). "
                   "test.npy / test_labels.npy: all 297 held-out images.",
        "cnn": "Conv(1->8,3x3,pad1)+ReLU, Conv(8->16,3x3,stride2,pad1)+ReLU, Flatten, "
               "Gemm(256->10). Adam, 40 epochs.",
        "mlp": "Flatten, Gemm(64->32)+ReLU, Gemm(32->10). Adam, 60 epochs.",
    },
}


def write_readme(out_dir, name, accuracy, ops, n_test):
    r = README[name]
    lines = [
        f"# {r['title']} (float models for qcc accuracy checks)", "",
        "Generated by `python3 models/train_small_models.py` (CPU, fixed seeds); do not edit by hand.", "",
        f"- Data: {r['source']}",
        f"- Preprocessing: {r['preprocess']}",
        f"- Files: {r['subsets']} Labels are int64.",
        "- Models: ONNX opset 13, input `input` (N x 1 x H x W), output `logits` (N x 10), "
        "dynamic batch dim `batch`.",
    ]
    for key in ("cnn", "mlp"):
        lines.append(f"  - `{key}.onnx`: {r[key]} Ops: {', '.join(ops[key])}.")
    lines.append(f"- Float top-1 on test.npy ({n_test} samples, onnxruntime CPU): " +
                 ", ".join(f"{k} {accuracy[k]:.4f}" for k in ("cnn", "mlp")) +
                 " (also in float_accuracy.json).")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def build_dataset(name, data, specs, n_calib, n_test):
    """Trains each (key, model factory, epochs, batch, lr) spec, exports it and writes the data files."""
    x_train, y_train, x_test, y_test = data
    out_dir = os.path.join(HERE, name)
    os.makedirs(out_dir, exist_ok=True)

    # Calibration samples: a seeded random subset of the training split.
    pick = np.random.default_rng(SEED).permutation(len(x_train))[:n_calib]
    calib = np.ascontiguousarray(x_train[np.sort(pick)])
    test_x = np.ascontiguousarray(x_test[:n_test])
    test_y = np.ascontiguousarray(y_test[:n_test])
    np.save(os.path.join(out_dir, "calib.npy"), calib)
    np.save(os.path.join(out_dir, "test.npy"), test_x)
    np.save(os.path.join(out_dir, "test_labels.npy"), test_y)

    accuracy, ops = {}, {}
    for key, factory, epochs, batch, lr in specs:
        seed_everything(SEED)
        print(f"{name}/{key}: training on {len(x_train)} samples")
        model = train(factory(), x_train, y_train, epochs, batch, lr)
        path = os.path.join(out_dir, f"{key}.onnx")
        export(model, path, x_test)
        accuracy[key] = ort_accuracy(path, test_x, test_y)
        ops[key] = op_types(path)
        full = ort_accuracy(path, x_test, y_test)
        print(f"{name}/{key}: onnxruntime top-1 {accuracy[key]:.4f} on test.npy ({len(test_y)}), "
              f"{full:.4f} on all {len(y_test)} held-out; ops {ops[key]}")
    with open(os.path.join(out_dir, "float_accuracy.json"), "w") as f:
        json.dump(accuracy, f, indent=2, sort_keys=True)
        f.write("\n")
    write_readme(out_dir, name, accuracy, ops, len(test_y))
    return accuracy


def main():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    seed_everything(SEED)
    build_dataset("fashion_mnist", load_fashion(), [
        ("cnn", FashionCnn, 4, 128, 2e-3),
        ("mlp", fashion_mlp, 8, 128, 1e-3),
    ], n_calib=500, n_test=1000)
    build_dataset("digits", load_digits(), [
        ("cnn", digits_cnn, 40, 32, 3e-3),
        ("mlp", digits_mlp, 60, 32, 3e-3),
    ], n_calib=300, n_test=None)


if __name__ == "__main__":
    main()
