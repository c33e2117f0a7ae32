#!/usr/bin/env bats
# onnx2ir imports opsets 7 to 20: the older forms of opsets 7 to 12
# (attributes that later became inputs, Upsample, Resize 10, Softmax's 2-D
# coercion; docs/man/onnx2ir.md "Older opsets") are mapped to the opset 13+
# form.  The models are written here with onnx.helper (and checked with
# onnx.checker against the declared opset); the references are numpy,
# written from the ONNX operator specification of that opset, not from
# qpipe.  Every model has a batch of 1, so irrun's output is the model's.
load test_helper

need_onnx() {
	need_numpy
	"$PY" -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with the onnx package (python3-onnx)"
}

# model NAME: writes NAME.onnx, NAME.x.npy and NAME.ref.npy.
model() {
	"$PY" - "$1" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

name = sys.argv[1]
rng = np.random.default_rng(7)
F = TensorProto.FLOAT


def save(opset, nodes, x, y_shape, inits=()):
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("x", F, list(x.shape))],
                          [helper.make_tensor_value_info("y", F, list(y_shape))],
                          list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 4 if opset < 9 else 5 if opset < 11 else 6 if opset < 12 else 7
    onnx.checker.check_model(m)
    onnx.save(m, name + ".onnx")
    np.save(name + ".x.npy", x)


def softmax(v, axis):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


if name == "opset7":
    # Upsample-7 (scales attribute, nearest), Clip-6 (min/max attributes),
    # Pad-2 (pads/value attributes), Dropout-7 (ratio attribute).
    x = rng.uniform(-1, 1, (1, 2, 2, 3)).astype(np.float32)
    nodes = [helper.make_node("Upsample", ["x"], ["u"], name="up", mode="nearest",
                              scales=[1.0, 1.0, 2.0, 3.0]),
             helper.make_node("Clip", ["u"], ["c"], name="clip", min=-0.5, max=0.4),
             helper.make_node("Pad", ["c"], ["p"], name="pad", mode="constant",
                              pads=[0, 0, 1, 2, 0, 0, 0, 1], value=0.25),
             helper.make_node("Dropout", ["p"], ["y"], name="drop", ratio=0.3)]
    u = np.repeat(np.repeat(x, 2, axis=2), 3, axis=3)
    c = np.clip(u, -0.5, 0.4)
    y = np.pad(c, [(0, 0), (0, 0), (1, 0), (2, 1)], constant_values=0.25)
    save(7, nodes, x, y.shape)
elif name == "opset9":
    # Upsample-9 (scales input), Slice-1 (starts/ends/axes attributes),
    # Squeeze-1 and Unsqueeze-1 (axes attributes), TopK-1 (k attribute).
    x = rng.uniform(-1, 1, (1, 3, 2, 4)).astype(np.float32)
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [helper.make_node("Upsample", ["x", "scales"], ["u"], name="up", mode="nearest"),
             helper.make_node("Slice", ["u"], ["s"], name="slice",
                              starts=[1, 1], ends=[2, 7], axes=[1, 3]),
             helper.make_node("Squeeze", ["s"], ["q"], name="squeeze", axes=[1]),
             helper.make_node("TopK", ["q"], ["t", "ti"], name="topk", axis=2, k=3),
             helper.make_node("Unsqueeze", ["t"], ["y"], name="unsqueeze", axes=[0])]
    u = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)
    s = u[:, 1:2, :, 1:7]
    q = np.squeeze(s, axis=1)
    t = -np.sort(-q, axis=2)[:, :, :3]
    y = t[np.newaxis]
    save(9, nodes, x, y.shape, [scales])
elif name == "opset10":
    # Resize-10 (X, scales; mode only), Clip-6 and Pad-2 attributes,
    # Dropout-10 (ratio attribute).
    x = rng.uniform(-1, 1, (1, 2, 3, 2)).astype(np.float32)
    scales = numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "scales")
    nodes = [helper.make_node("Resize", ["x", "scales"], ["r"], name="resize", mode="nearest"),
             helper.make_node("Pad", ["r"], ["p"], name="pad", mode="edge",
                              pads=[0, 0, 1, 0, 0, 0, 0, 2]),
             helper.make_node("Clip", ["p"], ["c"], name="clip", max=0.6),
             helper.make_node("Dropout", ["c"], ["y"], name="drop", ratio=0.5)]
    r = np.repeat(np.repeat(x, 2, axis=2), 3, axis=3)
    p = np.pad(r, [(0, 0), (0, 0), (1, 0), (0, 2)], mode="edge")
    y = np.minimum(p, 0.6)
    save(10, nodes, x, y.shape, [scales])
elif name == "opset11":
    # Split-11 (split attribute), ReduceMean-11 (axes attribute),
    # Unsqueeze-11 (axes attribute), Softmax-11 axis 1 on a 2-D input.
    x = rng.uniform(-2, 2, (1, 6, 4)).astype(np.float32)
    nodes = [helper.make_node("Split", ["x"], ["a", "b"], name="split", axis=1, split=[2, 4]),
             helper.make_node("ReduceMean", ["b"], ["m"], name="mean", axes=[1], keepdims=1),
             helper.make_node("Concat", ["m", "a"], ["k"], name="cat", axis=1),
             helper.make_node("ReduceMean", ["k"], ["r"], name="mean2", axes=[1], keepdims=0),
             helper.make_node("Softmax", ["r"], ["s"], name="softmax", axis=1),
             helper.make_node("Unsqueeze", ["s"], ["y"], name="unsqueeze", axes=[1])]
    a, b = x[:, :2], x[:, 2:]
    k = np.concatenate([b.mean(axis=1, keepdims=True), a], axis=1)
    r = k.mean(axis=1)
    y = softmax(r, 1)[:, np.newaxis, :]
    save(11, nodes, x, y.shape)
elif name == "opset12":
    # Squeeze-11 (axes attribute), ReduceMean (axes attribute), Softmax-11
    # with its default axis 1 on a 2-D input, Split-11 into equal parts.
    x = rng.uniform(-2, 2, (1, 1, 8)).astype(np.float32)
    nodes = [helper.make_node("Squeeze", ["x"], ["q"], name="squeeze", axes=[1]),
             helper.make_node("Split", ["q"], ["a", "b"], name="split", axis=1),
             helper.make_node("Sub", ["a", "b"], ["d"], name="sub"),
             helper.make_node("Softmax", ["d"], ["s"], name="softmax"),
             helper.make_node("ReduceMean", ["s"], ["m"], name="mean", axes=[0], keepdims=1),
             helper.make_node("Mul", ["s", "m"], ["y"], name="mul")]
    q = x[:, 0, :]
    d = q[:, :4] - q[:, 4:]
    s = softmax(d, 1)
    y = s * s.mean(axis=0, keepdims=True)
    save(12, nodes, x, y.shape)
elif name == "softmax4d":
    # Softmax-11 axis 1 on [1, 2, 3, 4]: a softmax over 24 values at once.
    x = rng.uniform(-1, 1, (1, 2, 3, 4)).astype(np.float32)
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="sm4", axis=1)]
    y = softmax(x.reshape(1, 24), 1).reshape(x.shape)
    save(11, nodes, x, y.shape)
np.save(name + ".ref.npy", y.astype(np.float32))
PY
}

# runs_like_spec NAME: the model imports, and irrun's output is the numpy
# reference within 1e-5.
runs_like_spec() {
	need_onnx
	model "$1"
	run -0 onnx2ir -q "$1.onnx" -o m.ir
	run -0 irrun -q m.ir --input "$1.x.npy" -o y.npy
	run -0 npy_close y.npy "$1.ref.npy" 1e-5
}

@test "opset 7: Upsample (scales attribute), Clip, Pad and Dropout attributes" {
	runs_like_spec opset7
	run -0 irdump m.ir
	assert_output --partial "Resize"
}

@test "opset 9: Upsample (scales input), Slice, Squeeze, Unsqueeze and TopK attributes" {
	runs_like_spec opset9
}

@test "opset 10: Resize 10 (scales input 1), Pad edge, Clip and Dropout attributes" {
	runs_like_spec opset10
}

@test "opset 11: Split and ReduceMean/Unsqueeze axes attributes, Softmax axis 1 on 2-D" {
	runs_like_spec opset11
}

@test "opset 12: Squeeze and ReduceMean axes attributes, Softmax default axis on 2-D, equal Split" {
	runs_like_spec opset12
}

@test "opset 11: Softmax axis 1 on a rank-4 input is refused, naming the node and the reason" {
	need_onnx
	model softmax4d
	run -1 --separate-stderr onnx2ir -q softmax4d.onnx -o m.ir
	[[ $stderr == "onnx2ir: softmax4d.onnx: "* ]]
	[[ $stderr == *"(node 'sm4', op 'Softmax')"* ]]
	[[ $stderr == *"coerces input 'x' to 2-D at axis 1"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[ ! -e m.ir ]
}
