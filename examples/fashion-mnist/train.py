#!/usr/bin/python3
"""Train the bundled Fashion-MNIST example model and write its fixtures.

Run from this directory with Debian's python (python3-torch, python3-onnx,
python3-numpy and dataset-fashion-mnist installed):

    /usr/bin/python3 train.py

It reads the IDX files from /usr/share/datasets/fashion-mnist (or the
directory in $FASHION_MNIST_DIR) with gzip + numpy, trains a small CNN for a
few epochs on 2 CPU threads with fixed seeds, and writes beside itself:

    model.onnx       the float model (opset 13, input "input" (1,1,28,28),
                     output "logits" (1,10)), BatchNormalization kept
    calib.npy        500 training images (fixed seed), float32 (500,1,28,28)
    ref-input.npy    the first 16 test images, float32 (16,1,28,28)
    ref-output.npy   PyTorch's logits for them, float32 (16,10)

Finally it runs model.onnx with a small numpy interpreter (not PyTorch) on
ref-input.npy and checks that it reproduces ref-output.npy; rerun only that
check with  /usr/bin/python3 -c "import train; train.check_fixture()".

Preprocessing everywhere (here, idx2npy, calibration): x / 255 as float32,
NCHW.  Test accuracy of the float model is printed at the end.
"""
import gzip
import os
import struct
import sys
import time
import warnings

import numpy as np
import onnx
import torch
from torch import nn

SEED = 20240501
EPOCHS = 3
BATCH = 64
CALIB_COUNT = 500
REF_COUNT = 16
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(path):
    """Reads a gzip'd IDX file (big-endian header, uint8 data) into numpy."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not a uint8 IDX file")
    dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        sys.exit(f"{path}: data length does not match the dimensions")
    return data.reshape(dims)


def images(path):
    x = read_idx(path)
    # The one preprocessing rule: x / 255 in float32, shape (N,1,28,28).
    return (x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)


def labels(path):
    return read_idx(path).astype(np.int64)


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        # 24 hidden units keep model.onnx under 200 KB (the 32*7*7 x 24
        # weight matrix is most of it).
        nn.Linear(32 * 7 * 7, 24), nn.ReLU(),
        nn.Linear(24, 10),
    )


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            logits = model(torch.from_numpy(x[i:i + 1000]))
            correct += int((logits.argmax(1).numpy() == y[i:i + 1000]).sum())
    return 100.0 * correct / len(x)


def onnx_numpy_forward(path, x):
    """Runs model.onnx with plain numpy, independently of PyTorch, so the
    fixture is known to describe the exported graph (BatchNormalization with
    the running statistics, Flatten, Gemm with transB) and not only the
    PyTorch module.  Handles exactly the ops this model uses."""
    from onnx import numpy_helper
    m = onnx.load(path)
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    env[m.graph.input[0].name] = x.astype(np.float64)
    for n in m.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        i = [env[name] for name in n.input]
        if n.op_type == "Conv":
            assert list(a.get("strides", [1, 1])) == [1, 1] and a.get("group", 1) == 1
            p = a.get("pads", [0, 0, 0, 0])
            xp = np.pad(i[0], ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
            w = i[1]
            kh, kw = w.shape[2:]
            oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
            y = np.zeros((xp.shape[0], w.shape[0], oh, ow))
            for dy in range(kh):
                for dx in range(kw):
                    y += np.einsum("nchw,oc->nohw", xp[:, :, dy:dy + oh, dx:dx + ow], w[:, :, dy, dx])
            out = y + i[2].reshape(1, -1, 1, 1)
        elif n.op_type == "BatchNormalization":
            sh = (1, -1, 1, 1)
            out = (i[0] - i[3].reshape(sh)) / np.sqrt(i[4].reshape(sh) + a.get("epsilon", 1e-5)) \
                * i[1].reshape(sh) + i[2].reshape(sh)
        elif n.op_type == "Relu":
            out = np.maximum(i[0], 0)
        elif n.op_type == "MaxPool":
            assert list(a["kernel_shape"]) == [2, 2] and list(a["strides"]) == [2, 2]
            nb, c, h, w = i[0].shape
            out = i[0][:, :, :h // 2 * 2, :w // 2 * 2].reshape(nb, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        elif n.op_type == "Flatten":
            out = i[0].reshape(i[0].shape[0], -1)
        elif n.op_type == "Gemm":
            b = i[1].T if a.get("transB", 0) else i[1]
            out = a.get("alpha", 1.0) * i[0] @ b + a.get("beta", 1.0) * i[2]
        else:
            raise SystemExit(f"onnx_numpy_forward: op {n.op_type} not handled")
        env[n.output[0]] = out
    return env[m.graph.output[0].name]


def check_fixture():
    """The ONNX graph, run by numpy one image at a time (the model's batch
    is 1), must reproduce ref-output.npy."""
    ref_in = np.load(os.path.join(HERE, "ref-input.npy"))
    ref_out = np.load(os.path.join(HERE, "ref-output.npy"))
    got = np.concatenate([onnx_numpy_forward(os.path.join(HERE, "model.onnx"), ref_in[k:k + 1])
                          for k in range(len(ref_in))])
    err = float(np.abs(got - ref_out).max())
    print(f"numpy run of model.onnx vs PyTorch logits: max abs error {err:.3g}")
    if err > 1e-5:
        sys.exit("model.onnx does not reproduce PyTorch's logits")


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)

    x_train = images(os.path.join(DATA, "train-images-idx3-ubyte.gz"))
    y_train = labels(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))
    x_test = images(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))
    y_test = labels(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))

    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(EPOCHS):
        model.train()
        order = rng.permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            xb = torch.from_numpy(x_train[idx])
            yb = torch.from_numpy(y_train[idx])
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(order):.4f}, "
              f"test top-1 {accuracy(model, x_test, y_test):.2f}%, "
              f"{time.time() - start:.0f} s", flush=True)

    model.eval()
    acc = accuracy(model, x_test, y_test)

    # PRESERVE with the model in eval mode keeps BatchNormalization nodes
    # (inference form) instead of folding them into the convolutions, so the
    # importer's BatchNorm handling is exercised by the example.  PyTorch
    # warns about constant folding in PRESERVE mode; that concerns models
    # left in training mode, not this one.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    onnx_path = os.path.join(HERE, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path,
                      opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    print("onnx ops:", " ".join(ops))

    calib_idx = rng.choice(len(x_train), CALIB_COUNT, replace=False)
    np.save(os.path.join(HERE, "calib.npy"), np.ascontiguousarray(x_train[calib_idx]))

    ref_in = np.ascontiguousarray(x_test[:REF_COUNT])
    with torch.no_grad():
        ref_out = model(torch.from_numpy(ref_in)).numpy().astype(np.float32)
    np.save(os.path.join(HERE, "ref-input.npy"), ref_in)
    np.save(os.path.join(HERE, "ref-output.npy"), ref_out)

    check_fixture()
    print(f"float test top-1: {acc:.2f}% ({len(x_test)} images), "
          f"training took {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
