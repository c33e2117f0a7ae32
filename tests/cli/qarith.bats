#!/usr/bin/env bats
# Elementwise int8 arithmetic with broadcasting and a standalone
# BatchNormalization, end to end: a squeeze-excite block (Mul of
# [N,C,H,W] by [N,C,1,1]), Sub / Div / Add with scalar and [1,C,1,1]
# constants, Conv -> ReLU -> BatchNorm2d -> Conv, and BatchNorm1d, from
# tests/fixtures/gen/make_qarith_fixtures.py.  References: PyTorch's float
# outputs, the BatchNorm statistics read from the ONNX files, and the
# multipliers and record layout computed here from docs/ir.md section 6
# and docs/binary.md section 5.
load test_helper.bash

F="$FIXTURES/lower"

build() {   # MODEL INPUT -> q.ir low.ir m.bin
	int8_pipeline "$F/qarith_$1.onnx" "$F/$2"
}

# check_close MODEL INPUT STEPS: simulate == irrun on low.ir byte for byte,
# and within STEPS output quantization steps of PyTorch.
check_close() {
	simulate m.bin --input "$F/$2" -o sim.npy
	irrun -q low.ir --input "$F/$2" -o low.npy
	cmp sim.npy low.npy
	"$PY" - sim.npy "$F/qarith_$1.y.npy" low.json "$3" <<'PY'
import json, sys
import numpy as np
y, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
g = json.load(open(sys.argv[3]))
s = [t for t in g["tensors"] if t["name"] == "y_q"][0]["quant"]["scale"][0]
assert y.shape == ref.shape, (y.shape, ref.shape)
d = float(np.abs(y - ref).max())
print("max |simulate - pytorch| %g = %.2f output steps (step %g)" % (d, d / s, s))
assert d <= float(sys.argv[4]) * s, d / s
PY
}


@test "squeeze-excite: Mul of [N,C,H,W] by the [N,C,1,1] gate lowers to one broadcasting QMul" {
	need_numpy
	build se qarith.x.npy
	"$PY" - low.json <<'PY'
import json, math, sys
import numpy as np
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
ops = [n["op"] for n in nodes]
assert ops == ["Quantize", "QConv", "QAvgPool", "QConv", "QConv", "QLut", "QMul", "Dequantize"], ops
t = {x["name"]: x for x in g["tensors"]}
mul = nodes[6]
a, b = (t[i] for i in mul["inputs"])
assert a["shape"] == [2, 6, 6, 6] and b["shape"] == [2, 6, 1, 1], (a["shape"], b["shape"])
sc = lambda x: float(np.float32(x["quant"]["scale"][0]))
m, e = math.frexp(sc(a) * sc(b) / sc(t[mul["outputs"][0]]))
assert mul["attrs"]["multiplier"]["ints"] == [round(m * 2**31)], mul["attrs"]
assert mul["attrs"]["shift"]["ints"] == [e], mul["attrs"]
PY
}

@test "squeeze-excite: simulate equals irrun bit for bit, PyTorch within three output steps" {
	need_numpy
	build se qarith.x.npy
	# The features' own rounding (Conv + ReLU: half a step of theirs, about
	# one of the output's, since the gate is below 1 and the output range
	# is the features' times it), the gate's through two Convs and the
	# Sigmoid table, and the Mul's: three.
	check_close se qarith.x.npy 3
}

@test "Sub, Div and Add: x - 0.25 is QAdd with b's multiplier negated, x / 3 a QRequant, x / d a QAffine" {
	need_numpy
	build ops qarith.x.npy
	"$PY" - low.json <<'PY'
import json, math, sys
import numpy as np
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
ops = [n["op"] for n in nodes]
assert ops == ["Quantize", "QConv", "QAdd", "QRequant", "QAdd", "QAffine", "QAdd", "Dequantize"], ops
t = {x["name"]: x for x in g["tensors"]}
sc = lambda name: float(np.float32(t[name]["quant"]["scale"][0]))
def mult(real):
    m, e = math.frexp(abs(real))
    m = round(m * 2**31)
    if m == 2**31:
        m, e = m // 2, e + 1
    return (m if real >= 0 else -m), e
sub, div3, addc, divd, add = nodes[2:7]
# Sub: the constant 0.25 is an int8 constant quantized per tensor; TFLite's
# Add with b's multiplier negated.
a, b = sub["inputs"]
assert t[b]["dtype"] == "int8" and "quant" in t[b], t[b]
tw = 2 * max(sc(a), sc(b))
want = [mult(sc(a) / tw), mult(-sc(b) / tw), mult(tw / (2**20 * sc(sub["outputs"][0])))]
got = list(zip(sub["attrs"]["multiplier"]["ints"], sub["attrs"]["shift"]["ints"]))
assert got == want and want[1][0] < 0, (got, want)
# x / 3: one requantization by s_x / (3 s_y).
want = mult(sc(div3["inputs"][0]) / (3.0 * sc(div3["outputs"][0])))
assert (div3["attrs"]["multiplier"]["ints"], div3["attrs"]["shift"]["ints"]) == ([want[0]], [want[1]]), div3
# + c, c a [1, 4, 1, 1] int8 constant: a broadcasting QAdd.
assert t[addc["inputs"][1]]["shape"] == [1, 4, 1, 1] and t[addc["inputs"][1]]["dtype"] == "int8"
# x / d, d = [2, -4, 0.5, 3] on the channels: QAffine on axis 1, the
# multiplier (1/d) s_x / s_y 2^8, negative for -4, offset 0.
at = divd["attrs"]
sx, sy = sc(divd["inputs"][0]), sc(divd["outputs"][0])
want = [mult(sx / (d * sy) * 256) for d in (2.0, -4.0, 0.5, 3.0)]
assert at["axis"] == {"int": 1} and at["frac_bits"] == {"int": 8}, at
assert list(zip(at["multiplier"]["ints"], at["shift"]["ints"])) == want, (at, want)
assert at["offset"]["ints"] == [0, 0, 0, 0], at
assert add["op"] == "QAdd" and all(t[i]["dtype"] == "int8" and "quant" in t[i] and
                                   not t[i].get("constant") for i in add["inputs"]), add
PY
}

@test "Sub, Div and Add: simulate equals irrun bit for bit, PyTorch within three output steps" {
	need_numpy
	build ops qarith.x.npy
	# The Conv's rounding reaches the output on both branches (through
	# (x - 0.25) / 3 and x / d, |1/d| up to 2, each then rounded again at its
	# own parameters), plus the constants' and the final Add's: three.
	check_close ops qarith.x.npy 3
}

@test "Conv -> ReLU -> BatchNorm2d -> Conv: the BatchNorm lowers to QAffine, coefficients from the running statistics" {
	need_numpy
	build bn2d qarith.x.npy
	"$PY" - low.json "$F/qarith_bn2d.onnx" <<'PY'
import json, math, sys
import numpy as np
import onnx
from onnx import numpy_helper
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
ops = [n["op"] for n in nodes]
assert ops == ["Quantize", "QConv", "QAffine", "QConv", "Dequantize"], ops
m = onnx.load(sys.argv[2])
bn = [n for n in m.graph.node if n.op_type == "BatchNormalization"][0]
init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in m.graph.initializer}
gamma, beta, mean, var = (init[i] for i in bn.input[1:])
eps = [a.f for a in bn.attribute if a.name == "epsilon"][0]
a = gamma / np.sqrt(var + np.float32(eps))
b = beta - a * mean
assert (a < 0).sum() == 1, a
t = {x["name"]: x for x in g["tensors"]}
aff = nodes[2]
sc = lambda name: float(np.float32(t[name]["quant"]["scale"][0]))
sx, sy = sc(aff["inputs"][0]), sc(aff["outputs"][0])
def mult(real):
    m, e = math.frexp(abs(real))
    m = round(m * 2**31)
    if m == 2**31:
        m, e = m // 2, e + 1
    return (m if real >= 0 else -m), e
at = aff["attrs"]
want = [mult(x * sx / sy * 256) for x in a]
got = list(zip(at["multiplier"]["ints"], at["shift"]["ints"]))
assert got == want, (got, want)
# offset = round(b / s_y * 2^8), ties away from zero (llround).
want_off = [int(math.copysign(math.floor(abs(v) / sy * 256 + 0.5), v)) for v in b]
assert at["offset"]["ints"] == want_off, (at["offset"], want_off)
assert at["axis"] == {"int": 1} and at["frac_bits"] == {"int": 8}, at
PY
}

@test "Conv -> ReLU -> BatchNorm2d -> Conv: simulate equals irrun bit for bit, PyTorch within two output steps" {
	need_numpy
	build bn2d qarith.x.npy
	# The ReLU's rounding through the BatchNorm's gain, the BatchNorm's own
	# and the last Conv's: two.
	check_close bn2d qarith.x.npy 2
}

@test "ReLU -> BatchNorm1d over [N, C, L]: QAffine on axis 1, PyTorch within the bound of its roundings" {
	need_numpy
	build relu_bn1d qarith_1d.x.npy
	simulate m.bin --input "$F/qarith_1d.x.npy" -o sim.npy
	irrun -q low.ir --input "$F/qarith_1d.x.npy" -o low.npy
	cmp sim.npy low.npy
	"$PY" - low.json "$F/qarith_relu_bn1d.onnx" sim.npy "$F/qarith_relu_bn1d.y.npy" <<'PY'
import json, sys
import numpy as np
import onnx
from onnx import numpy_helper
g = json.load(open(sys.argv[1]))
assert [n["op"] for n in g["graph"]["nodes"]] == ["Quantize", "QRequant", "QAffine", "Dequantize"]
m = onnx.load(sys.argv[2])
init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in m.graph.initializer}
bn = [n for n in m.graph.node if n.op_type == "BatchNormalization"][0]
gamma, beta, mean, var = (init[i] for i in bn.input[1:])
a = np.abs(gamma / np.sqrt(var + 1e-5)).max()
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
sx, sr, sy = (q[k]["scale"][0] for k in ("x_q", "/Relu_output_0", "y_q"))
# Half a step at the input and at the ReLU, through the largest gain, plus
# the QAffine's own half step and its 2^-8 intermediate rounding.
bound = 0.5 * (sx + sr) * a / sy + 0.5 + 2.0 / 256
d = float(np.abs(np.load(sys.argv[3]) - np.load(sys.argv[4])).max()) / sy
print("max |simulate - pytorch| = %.3f output steps, bound %.3f" % (d, bound))
assert d <= bound, (d, bound)
PY
}

@test "Conv1d -> ReLU -> BatchNorm1d: quantize keeps the BatchNorm, float statistics and its own output parameters" {
	need_numpy
	onnx2ir "$F/qarith_bn1d.onnx" -o f.ir
	calibrate -q --data "$F/qarith_1d.x.npy" f.ir -o f.cal.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	irdump --json q.ir > q.json
	"$PY" - q.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
bn = [n for n in g["graph"]["nodes"] if n["op"] == "BatchNormalization"]
assert len(bn) == 1, g["graph"]["nodes"]
t = {x["name"]: x for x in g["tensors"]}
for i in bn[0]["inputs"][1:]:
    assert t[i]["dtype"] == "float32" and "quant" not in t[i], t[i]
qx, qy = t[bn[0]["inputs"][0]]["quant"], t[bn[0]["outputs"][0]]["quant"]
assert qy["scale"] != qx["scale"], (qx, qy)
PY
	run --separate-stderr lower q.ir -o low.ir
	if [[ "$stderr" == *"only 2-d convolutions"* ]]; then
		skip "lower has no 1-d Conv yet (the BatchNorm1d itself: the ReLU -> BatchNorm1d test)"
	fi
	[ "$status" -eq 0 ]
	emit low.ir -o m.bin
	irdump --json low.ir > low.json
	grep -q '"QAffine"' low.json
	# Conv1d + ReLU's rounding through the BatchNorm's gain and its own.
	check_close bn1d qarith_1d.x.npy 2
}

@test "the binary's records: QAffine is opcode 18 with axis act_min act_max frac_bits multiplier shift offset; Sub a QAdd (7)" {
	need_numpy
	build ops qarith.x.npy
	PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - m.bin low.json <<'PY'
import json, sys
from qpbin import records, node_params as params
g = json.load(open(sys.argv[2]))
keys = {"QAffine": (18, ("axis", "act_min", "act_max", "frac_bits", "multiplier", "shift", "offset")),
        "QAdd": (7, ("act_min", "act_max", "left_shift", "multiplier", "shift"))}
want = [(keys[n["op"]][0], params(n, keys[n["op"]][1])) for n in g["graph"]["nodes"] if n["op"] in keys]
found = [(code, p) for code, _, _, p in records(sys.argv[1]) if code in (7, 18)]
assert len(want) == 4 and found == want, (found, want)
assert found[0][1][4] < 0, found[0]    # Sub: b's multiplier negated
PY
}

@test "quantize refuses Sub, Div and BatchNormalization when the target does not list them" {
	onnx2ir "$F/qarith_ops.onnx" -o f.ir
	calibrate -q --data "$F/qarith.x.npy" f.ir -o f.cal.ir
	sed -e 's/"Add", "Sub"/"Add"/' -e '/"name": "div"/d' "$QPIPE_TOP/tpc/int8.json" > none.json
	! grep -q '"Sub"\|"Div"' none.json
	run --separate-stderr quantize -q --tpc none.json f.cal.ir -o q.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"target 'int8' does not support op 'Sub' (node '/Sub', op 'Sub')"* ]]
	[[ "$stderr" == *"does not support op 'Div'"* ]]
	onnx2ir "$F/qarith_bn2d.onnx" -o b.ir
	calibrate -q --data "$F/qarith.x.npy" b.ir -o b.cal.ir
	sed -e '/"name": "batch_norm"/d' -e 's/"Div"\]},/"Div"]}/' "$QPIPE_TOP/tpc/int8.json" > nobn.json
	"$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' nobn.json
	run --separate-stderr quantize -q --tpc nobn.json b.cal.ir -o q.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"does not support op 'BatchNormalization'"* ]]
}
