#!/usr/bin/env bats
# Pooling, ReduceMean and Resize in int8, 1-d and 2-d, end to end: the
# models of tests/fixtures/gen/make_qpool_fixtures.py.  References:
# PyTorch's float outputs; numpy's ONNX Resize on the codes; the lowered
# windows, multipliers, ratios and record layout computed here from docs/ir.md section 6 and
# docs/binary.md section 5.
load test_helper.bash

F="$FIXTURES/lower"

input() {   # MODEL -> its input file
	[ "$1" = 1d ] && echo "$F/qpool.x1.npy" || echo "$F/qpool.x2.npy"
}

build() {   # MODEL -> q.ir low.ir m.bin
	int8_pipeline "$F/qpool_$1.onnx" "$(input "$1")"
}

# check_close MODEL STEPS: simulate == irrun on low.ir byte for byte, and
# within STEPS output quantization steps of PyTorch.
check_close() {
	simulate m.bin --input "$(input "$1")" -o sim.npy
	irrun -q low.ir --input "$(input "$1")" -o low.npy
	cmp sim.npy low.npy
	irdump --json low.ir > low.json
	"$PY" - sim.npy "$F/qpool_$1.y.npy" low.json "$2" <<'PY'
import json, sys
import numpy as np
y, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
g = json.load(open(sys.argv[3]))
s = [t for t in g["tensors"] if t["name"] == "y_q"][0]["quant"]["scale"][0]
assert y.shape == ref.shape, (y.shape, ref.shape)
d = float(np.abs(y - ref).max())
print("max |simulate - pytorch| %g = %.2f output steps (step %g)" % (d, d / s, s))
assert d <= float(sys.argv[4]) * s, d
PY
}

# attrs OP: the lowered nodes' ops, then each OP node's attributes, as JSON.
nodes() {
	irdump --json low.ir > low.json
	"$PY" - low.json "$1" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
print(json.dumps([n["op"] for n in nodes]))
for n in nodes:
    if n["op"] == sys.argv[2]:
        print(json.dumps({k: v.get("ints", v.get("int")) for k, v in n["attrs"].items()
                          if k not in ("multiplier", "shift")}, sort_keys=True))
PY
}

@test "1-d pools: MaxPool1d and AvgPool1d lower to the 2-d records with a window of height 1" {
	need_numpy
	build 1d
	run nodes QMaxPool
	[ "${lines[0]}" = '["Quantize", "QReshape", "QConv", "QReshape", "QMaxPool", "QAvgPool", "QReshape", "QConv", "QReshape", "Dequantize"]' ]
	[ "${lines[1]}" = '{"ceil_mode": 0, "dilations": [1, 1], "kernel_shape": [1, 3], "pads": [0, 1, 0, 1], "strides": [1, 2]}' ]
	run nodes QAvgPool
	[ "${lines[1]}" = '{"act_max": 127, "act_min": -128, "ceil_mode": 0, "count_include_pad": 0, "kernel_shape": [1, 3], "pads": [0, 1, 0, 1], "strides": [1, 1]}' ]
}

@test "1-d pools: simulate equals irrun bit for bit, PyTorch within three output steps" {
	need_numpy
	build 1d
	# The first Conv's rounding, the average's, the last Conv's.
	check_close 1d 3
}

@test "AvgPool2d with ceil_mode, padding and count_include_pad 0, then mean over (2, 3): QAvgPool, QAvgPool of the whole map, QReshape" {
	need_numpy
	build avg2d
	run nodes QAvgPool
	[ "${lines[0]}" = '["Quantize", "QConv", "QAvgPool", "QAvgPool", "QReshape", "Dequantize"]' ]
	# Conv 3x3 on 8x8 gives 6x6; ceil((6 + 2 - 3) / 2) + 1 = 4 windows, the
	# last starting at padded column 6 (input column 5): inside.
	[ "${lines[1]}" = '{"act_max": 127, "act_min": -128, "ceil_mode": 1, "count_include_pad": 0, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]}' ]
	[ "${lines[2]}" = '{"act_max": 127, "act_min": -128, "ceil_mode": 0, "count_include_pad": 0, "kernel_shape": [4, 4], "pads": [0, 0, 0, 0], "strides": [1, 1]}' ]
	"$PY" - low.json <<'PY'
import json, math, sys
import numpy as np
g = json.load(open(sys.argv[1]))
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
dims = {t["name"]: t["shape"] for t in g["tensors"]}
mean = [n for n in g["graph"]["nodes"] if n["op"] == "QAvgPool"][1]
sx = float(np.float32(q[mean["inputs"][0]]["scale"][0]))
sy = float(np.float32(q[mean["outputs"][0]]["scale"][0]))
m, e = math.frexp(sx / (sy * 16))      # docs/ir.md section 6
assert mean["attrs"]["multiplier"]["ints"] == [round(m * 2**31)], mean
assert mean["attrs"]["shift"]["ints"] == [e], mean
assert dims[mean["outputs"][0]] == [2, 6, 1, 1], dims[mean["outputs"][0]]
PY
}

@test "AvgPool2d ceil_mode and mean over (2, 3): simulate equals irrun bit for bit, PyTorch within two output steps" {
	need_numpy
	build avg2d
	check_close avg2d 2
}

@test "MaxPool2d ceil_mode, then mean over the last axis with keepdim: a [1, W] window" {
	need_numpy
	build maxmean
	run nodes QAvgPool
	[ "${lines[0]}" = '["Quantize", "QConv", "QMaxPool", "QAvgPool", "Dequantize"]' ]
	[ "${lines[1]}" = '{"act_max": 127, "act_min": -128, "ceil_mode": 0, "count_include_pad": 0, "kernel_shape": [1, 3], "pads": [0, 0, 0, 0], "strides": [1, 1]}' ]
	check_close maxmean 2
}

@test "GlobalMaxPool: QMaxPool of the whole map, the input's parameters; PyTorch within two output steps" {
	need_numpy
	build gmax
	run nodes QMaxPool
	[ "${lines[0]}" = '["Quantize", "QConv", "QMaxPool", "QReshape", "Dequantize"]' ]
	[ "${lines[1]}" = '{"ceil_mode": 0, "dilations": [1, 1], "kernel_shape": [6, 6], "pads": [0, 0, 0, 0], "strides": [1, 1]}' ]
	# The max picks a code and adds no rounding: what is left is the
	# Conv's (the input's and weights' quantization, its own rounding).
	check_close gmax 2
}

@test "mean over the channels with keepdim: a [C, 1] window over the view [N, 1, C, H W]; PyTorch within two output steps" {
	need_numpy
	build meanc
	run nodes QAvgPool
	[ "${lines[0]}" = '["Quantize", "QConv", "QReshape", "QAvgPool", "QReshape", "Dequantize"]' ]
	[ "${lines[1]}" = '{"act_max": 127, "act_min": -128, "ceil_mode": 0, "count_include_pad": 0, "kernel_shape": [5, 1], "pads": [0, 0, 0, 0], "strides": [1, 1]}' ]
	# The Conv's rounding and the mean's.  Measured: 1.13 steps.
	check_close meanc 2
}

@test "nearest x2 (asymmetric, floor): QResize mode 0, ratio 1/2, the input's parameters" {
	need_numpy
	build nearest
	run nodes QResize
	[ "${lines[0]}" = '["Quantize", "QConv", "QResize", "QConv", "Dequantize"]' ]
	[ "${lines[1]}" = '{"coord": 0, "den": [2, 2], "mode": 0, "nearest": 0, "num": [1, 1], "sizes": [2, 4, 16, 16]}' ]
	check_close nearest 2
}

@test "bilinear x2, align_corners False (half_pixel): QResize mode 1, coord 1" {
	need_numpy
	build bilinear
	run nodes QResize
	[ "${lines[1]}" = '{"coord": 1, "den": [2, 2], "mode": 1, "nearest": 0, "num": [1, 1], "sizes": [2, 4, 16, 16]}' ]
	# Conv, interpolation (rounded once), Conv.
	check_close bilinear 3
}

@test "bilinear x2, align_corners True: coord 0 with ratio (8 - 1) / (16 - 1)" {
	need_numpy
	build bilinear_ac
	run nodes QResize
	[ "${lines[1]}" = '{"coord": 0, "den": [15, 15], "mode": 1, "nearest": 0, "num": [7, 7], "sizes": [2, 4, 16, 16]}' ]
	check_close bilinear_ac 3
}

@test "the binary's records: QResize is opcode 19 with mode, coord, nearest, num_h, num_w, den_h, den_w" {
	need_numpy
	build bilinear_ac
	PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - m.bin <<'PY'
import sys
from qpbin import records
found = [(n_in, n_out, p) for code, n_in, n_out, p in records(sys.argv[1]) if code == 19]
assert found == [(1, 1, [1, 0, 0, 7, 7, 15, 15])], found
PY
}

@test "lower refuses a Resize whose output the target quantized apart from its input" {
	onnx2ir "$F/qpool_bilinear.onnx" -o f.ir
	calibrate -q --data "$F/qpool.x2.npy" f.ir -o f.cal.ir
	sed -e 's/, "Resize"\]/]/' -e 's/"ops": \["Concat"\]/"ops": ["Concat", "Resize"]/' \
		"$QPIPE_TOP/tpc/int8.json" > own.json
	grep -q '"Concat", "Resize"' own.json
	quantize -q --tpc own.json f.cal.ir -o q.ir
	run --separate-stderr lower q.ir -o low.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"output quantization differs from the input's (node '/Resize', op 'Resize')"* ]]
}

# resize_vs_numpy CASE EXACT: a lone Resize lowered to Quantize -> QResize
# -> Dequantize; the output codes against ONNX Resize (the spec's
# formulas, written here in exact fractions, so a tie is a tie) on the
# input's codes, rounded half away from zero.  EXACT 1: equal everywhere;
# 0: at most one code apart.
resize_vs_numpy() {
	build "$1"
	simulate m.bin --input "$F/qpool.x2.npy" -o sim.npy
	irrun -q low.ir --input "$F/qpool.x2.npy" -o low.npy
	cmp sim.npy low.npy
	irdump --json low.ir > low.json
	"$PY" - "$F/qpool.x2.npy" sim.npy low.json "$F/qpool_$1.onnx" "$2" <<'PY'
import json, math, sys
from fractions import Fraction as Fr
import numpy as np
import onnx
from onnx import numpy_helper
x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
g = json.load(open(sys.argv[3]))
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
s, zp = q["x_q"]["scale"][0], q["x_q"]["zero_point"][0]
assert q["y_q"] == q["x_q"], (q["y_q"], q["x_q"])
m = onnx.load(sys.argv[4])
node = m.graph.node[0]
at = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
mode, ctm, nm = at["mode"].decode(), at["coordinate_transformation_mode"].decode(), at["nearest_mode"].decode()
init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
scales = init["scales"][2:] if init["scales"].size else None
out = [int(8 * v) for v in scales] if scales is not None else list(init["sizes"][2:])
def away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)
# Quantize (docs/ir.md section 4.1): divided in double, ties away from zero.
xq = np.clip(away(x.astype(np.float64) / np.float64(np.float32(s))) + zp, -128, 127)
def coord(o, scale):
    # ONNX Resize's coordinate_transformation_mode
    if ctm == "half_pixel":
        return (o + Fr(1, 2)) / scale - Fr(1, 2)
    if ctm == "tf_half_pixel_for_nearest":
        return (o + Fr(1, 2)) / scale
    raise SystemExit("no rule for " + ctm)
def nearest(c):
    if nm == "round_prefer_floor":
        return math.ceil(c - Fr(1, 2))
    if nm == "round_prefer_ceil":
        return math.floor(c + Fr(1, 2))
    return math.floor(c)
# Each axis's scale as given (a float, exactly), or out / in from sizes.
sc = [Fr(float(scales[a])) if scales is not None else Fr(out[a], 8) for a in range(2)]
cs = [[coord(o, sc[a]) for o in range(out[a])] for a in range(2)]
def taps(c):
    c = min(max(c, Fr(0)), Fr(7))
    i0 = math.floor(c)
    return i0, min(i0 + 1, 7), c - i0
ref = np.zeros(xq.shape[:2] + tuple(out))
for n in range(xq.shape[0]):
    for ch in range(xq.shape[1]):
        p = xq[n, ch].astype(int)
        for oy in range(out[0]):
            for ox in range(out[1]):
                if mode == "nearest":
                    iy = min(max(nearest(cs[0][oy]), 0), 7)
                    ix = min(max(nearest(cs[1][ox]), 0), 7)
                    ref[n, ch, oy, ox] = p[iy, ix]
                    continue
                y0, y1, fy = taps(cs[0][oy])
                x0, x1, fx = taps(cs[1][ox])
                v = (p[y0, x0] * (1 - fy) * (1 - fx) + p[y0, x1] * (1 - fy) * fx +
                     p[y1, x0] * fy * (1 - fx) + p[y1, x1] * fy * fx)
                r = math.floor(abs(v) + Fr(1, 2))
                ref[n, ch, oy, ox] = r if v >= 0 else -r
codes = np.round(y.astype(np.float64) / np.float64(np.float32(s))) + zp
assert codes.shape == ref.shape, (codes.shape, ref.shape)
d = np.abs(codes - ref)
print("%s: %d of %d codes differ from numpy, by at most %d" % (sys.argv[4], (d > 0).sum(), d.size, d.max()))
assert d.max() == 0 if sys.argv[5] == "1" else d.max() <= 1, d.max()
PY
}

@test "QResize against ONNX Resize in exact fractions on the codes: linear half_pixel x2, exact" {
	need_numpy
	resize_vs_numpy rs_linear2 1
}

@test "QResize against ONNX Resize in exact fractions on the codes: linear half_pixel 8 -> 12 (ratio 2/3, exact ties), exact" {
	need_numpy
	resize_vs_numpy rs_linear15 1
}

@test "QResize against ONNX Resize in exact fractions on the codes: nearest half_pixel round_prefer_floor 8 -> 4, every coordinate a tie, exact" {
	need_numpy
	resize_vs_numpy rs_nearest_ties 1
}

@test "QResize against ONNX Resize in exact fractions on the codes: nearest tf_half_pixel_for_nearest round_prefer_ceil x2, exact" {
	need_numpy
	resize_vs_numpy rs_nearest_ceil 1
}
