#!/usr/bin/env bats
# QTranspose, QPad and the shape ops that lower to them end to end: the
# ShuffleNetV2 channel shuffle, F.pad (zero, a value, reflect), pixel_shuffle
# (DepthToSpace CRD; DCR and SpaceToDepth from the ONNX spec),
# pixel_unshuffle and squeeze/unsqueeze, from
# tests/fixtures/gen/make_qshape_fixtures.py.  References: PyTorch's float
# outputs; the permutations, pads and the quantized pad value computed here
# from the ONNX spec and docs/ir.md section 6; the record layout from
# docs/binary.md section 5.
load test_helper.bash

F="$FIXTURES/lower"

build() {   # MODEL -> q.ir low.ir m.bin low.json
	int8_pipeline "$F/qshape_$1.onnx" "$F/qshape.x.npy"
}

# check_close MODEL: simulate == irrun on low.ir byte for byte, and within
# two output steps of PyTorch.  Every model is Conv, data movement, Conv:
# the moves are exact, so the error is the input's and the first Conv's
# rounding (half a step of their own each, carried through the second
# Conv) plus the output's half step.  Measured: 0.8 to 1.5 steps.
check_close() {
	simulate m.bin --input "$F/qshape.x.npy" -o sim.npy
	irrun -q low.ir --input "$F/qshape.x.npy" -o low.npy
	cmp sim.npy low.npy
	"$PY" - sim.npy "$F/qshape_$1.y.npy" low.json <<'PY'
import json, sys
import numpy as np
y, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
g = json.load(open(sys.argv[3]))
s = [t for t in g["tensors"] if t["name"] == "y_q"][0]["quant"]["scale"][0]
assert y.shape == ref.shape, (y.shape, ref.shape)
d = float(np.abs(y - ref).max())
print("max |simulate - pytorch| %g = %.2f output steps (step %g)" % (d, d / s, s))
assert d <= 2 * s, d
PY
}

# check_nodes OPS PERMS...: the lowered op list is OPS (space separated),
# every QTranspose's perm is the next PERM (comma separated), and every
# QReshape, QTranspose and QPad shares its input's parameters.
check_nodes() {
	"$PY" - low.json "$@" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
ops = [n["op"] for n in nodes]
assert ops == sys.argv[2].split(), ops
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
perms = [n["attrs"]["perm"]["ints"] for n in nodes if n["op"] == "QTranspose"]
want = [[int(v) for v in p.split(",")] for p in sys.argv[3:]]
assert perms == want, (perms, want)
for n in nodes:
    if n["op"] in ("QReshape", "QTranspose", "QPad"):
        assert q[n["inputs"][0]] == q[n["outputs"][0]], n
PY
}

@test "channel shuffle: the data-moving Transpose lowers to QTranspose between the views" {
	need_numpy
	build shuffle
	# view(n, 2, 4, h, w).transpose(1, 2): ONNX perm 0 2 1 3 4.
	check_nodes "Quantize QConv QReshape QTranspose QReshape QConv Dequantize" 0,2,1,3,4
	check_close shuffle
}

@test "pixel_shuffle: DepthToSpace CRD is a view as 6 axes, QTranspose 0 1 4 2 5 3, a view" {
	need_numpy
	build pixel
	check_nodes "Quantize QConv QReshape QTranspose QReshape QConv Dequantize" 0,1,4,2,5,3
	# [2, 8, 6, 6] seen as [N, C, b, b, H, W] = [2, 2, 2, 2, 6, 6].
	"$PY" - low.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
v = [n for n in g["graph"]["nodes"] if n["op"] == "QReshape"]
assert v[0]["attrs"]["shape"]["ints"] == [2, 2, 2, 2, 6, 6], v[0]
assert v[1]["attrs"]["shape"]["ints"] == [2, 2, 12, 12], v[1]
PY
	check_close pixel
}

@test "DepthToSpace DCR: QTranspose 0 3 4 1 5 2 over [N, b, b, C, H, W]" {
	need_numpy
	build pixel_dcr
	check_nodes "Quantize QConv QReshape QTranspose QReshape QConv Dequantize" 0,3,4,1,5,2
	check_close pixel_dcr
}

@test "SpaceToDepth: QTranspose 0 3 5 1 2 4 over [N, C, H, b, W, b]; pixel_unshuffle's export too" {
	need_numpy
	build space_to_depth
	check_nodes "Quantize QConv QReshape QTranspose QReshape QConv Dequantize" 0,3,5,1,2,4
	check_close space_to_depth
	build unshuffle
	check_nodes "Quantize QConv QReshape QTranspose QReshape QConv Dequantize" 0,1,3,5,2,4
	check_close unshuffle
}

@test "squeeze and unsqueeze lower to QReshape" {
	need_numpy
	build squeeze
	check_nodes "Quantize QConv QReshape QReshape QConv Dequantize"
	check_close squeeze
}

# check_pad MODEL MODE VALUE: the QPad's mode is MODE, its pads (begins,
# then ends) F.pad's (1, 2, 1, 0) on [N, C, H, W], and its value VALUE
# quantized with its input's parameters as Quantize does (ties away from
# zero, clamped to the 8-bit range).
check_pad() {
	"$PY" - low.json "$2" "$3" <<'PY'
import json, sys
import numpy as np
g = json.load(open(sys.argv[1]))
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
pad = [n for n in g["graph"]["nodes"] if n["op"] == "QPad"]
assert len(pad) == 1, pad
a, qx = pad[0]["attrs"], q[pad[0]["inputs"][0]]
v = float(sys.argv[3]) / float(np.float32(qx["scale"][0]))
code = int(np.sign(v) * np.floor(abs(v) + 0.5)) + qx["zero_point"][0]
code = min(127, max(-128, code))
want = {"mode": {"int": int(sys.argv[2])}, "value": {"int": code},
        "pads": {"ints": [0, 0, 1, 1, 0, 0, 0, 2]}}
assert a == want, (a, want)
print("pad value %s -> code %d (scale %g, zero point %d)"
      % (sys.argv[3], code, qx["scale"][0], qx["zero_point"][0]))
PY
}

@test "F.pad with zero before a Conv: no QPad, the zeros become the Conv's own pads" {
	need_numpy
	build pad
	check_nodes "Quantize QConv QConv Dequantize"
	# F.pad's (1, 2, 1, 0): 1 on top, 0 below, 1 left, 2 right, in the
	# IR's order [top, left, bottom, right].
	"$PY" - low.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
conv = [n for n in g["graph"]["nodes"] if n["op"] == "QConv"][1]
assert conv["attrs"]["pads"]["ints"] == [1, 1, 0, 2], conv["attrs"]["pads"]
PY
	check_close pad
}

@test "F.pad with zero before a MaxPool: QPad fills with the input's zero point" {
	need_numpy
	build pad_pool
	check_nodes "Quantize QConv QPad QMaxPool QConv Dequantize"
	check_pad pad_pool 0 0
	check_close pad_pool
}

@test "F.pad with 0.5: QPad fills with 0.5 quantized at the input's parameters" {
	need_numpy
	build pad_value
	check_nodes "Quantize QConv QPad QConv Dequantize"
	check_pad pad_value 0 0.5
	check_close pad_value
}

@test "F.pad reflect: QPad mode 1 mirrors the integers" {
	need_numpy
	build pad_reflect
	check_nodes "Quantize QConv QPad QConv Dequantize"
	check_pad pad_reflect 1 0
	check_close pad_reflect
}

@test "the binary's records: QTranspose is opcode 16 with perm; QPad 17 with mode, value, pads" {
	need_numpy
	for m in shuffle pad_value; do
		build $m
		PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - m.bin low.json <<'PY'
import json, sys
from qpbin import records, node_params as params
g = json.load(open(sys.argv[2]))
want = []
for n in g["graph"]["nodes"]:
    if n["op"] == "QTranspose":
        want.append((16, params(n, ("perm",))))
    elif n["op"] == "QPad":
        want.append((17, params(n, ("mode", "value", "pads"))))
found = [(code, p) for code, _, _, p in records(sys.argv[1]) if code in (16, 17)]
assert len(want) == 1 and found == want, (found, want)
PY
	done
}

@test "lower refuses a Transpose or a Pad whose output the target quantized apart from its input" {
	# Own parameters calibrated on a moved tensor equal the input's; the
	# softmax set's fixed ones (scale 1/256, zero point -128) do not.
	sed -e 's/"Transpose", //' -e 's/"Pad", //' \
		-e 's/"ops": \["Softmax"\]/"ops": ["Softmax", "Transpose", "Pad"]/' \
		"$QPIPE_TOP/tpc/int8.json" > own.json
	grep -q '"Softmax", "Transpose", "Pad"' own.json
	for m in shuffle pad_value; do
		onnx2ir "$F/qshape_$m.onnx" -o f.ir
		calibrate -q --data "$F/qshape.x.npy" f.ir -o f.cal.ir
		quantize -q --tpc own.json f.cal.ir -o q.ir
		run --separate-stderr lower q.ir -o low.ir
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"output quantization differs from the input's (node '/"*"', op '"*"')"* ]]
		[ ! -e low.ir ]
	done
}
