#!/usr/bin/env bats
# QConcat and QSlice end to end: a SqueezeNet fire module (two Conv
# branches concatenated on the channels) and a ShuffleNetV2 unit (Split on
# the channels, Conv on one half, Concat, strided Slice; no channel shuffle:
# the shuffle's QTranspose is tests/cli/qshape.bats'), from
# tests/fixtures/gen/make_qconcat_fixtures.py.  References: PyTorch's float
# outputs, and the multipliers and record layout computed here from
# docs/ir.md section 6 and docs/binary.md section 5.
load test_helper.bash

F="$FIXTURES/lower"

build() {   # MODEL -> q.ir low.ir m.bin
	int8_pipeline "$F/qconcat_$1.onnx" "$F/qconcat.x.npy"
}

# check_close MODEL STEPS FAKE: simulate == irrun on low.ir byte for byte;
# within STEPS output quantization steps of PyTorch; within FAKE steps of
# fake quantization (irrun on q.ir) on at least 99% of the elements.
check_close() {
	simulate m.bin --input "$F/qconcat.x.npy" -o sim.npy
	irrun -q low.ir --input "$F/qconcat.x.npy" -o low.npy
	irrun -q q.ir --input "$F/qconcat.x.npy" -o fake.npy
	cmp sim.npy low.npy
	irdump --json low.ir > low.json
	"$PY" - sim.npy "$F/qconcat_$1.y.npy" fake.npy low.json "$2" "$3" <<'PY'
import json, sys
import numpy as np
y, ref, fake = (np.load(f) for f in sys.argv[1:4])
g = json.load(open(sys.argv[4]))
s = [t for t in g["tensors"] if t["name"] == "y_q"][0]["quant"]["scale"][0]
assert y.shape == ref.shape == fake.shape, (y.shape, ref.shape, fake.shape)
d = float(np.abs(y - ref).max())
fs = float(sys.argv[6])
near = float((np.abs(y - fake) <= fs * s * 1.0001).mean())
print("max |simulate - pytorch| %g = %.2f output steps (step %g); %.2f%% within %g step(s) of fake-quant"
      % (d, d / s, s, 100 * near, fs))
assert d <= float(sys.argv[5]) * s, d
assert near >= 0.99, near
PY
}

@test "fire module: Concat lowers to QConcat, the wider branch copied and the other requantized by its own multiplier" {
	need_numpy
	build fire
	irdump --json low.ir > low.json
	"$PY" - low.json <<'PY'
import json, math, sys
import numpy as np
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
assert [n["op"] for n in nodes] == ["Quantize", "QConv", "QConv", "QConv", "QConcat", "Dequantize"], nodes
cat = nodes[4]
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
qy = q[cat["outputs"][0]]
def mult(real):   # docs/ir.md section 6: real = M * 2^(shift - 31), M in [2^30, 2^31)
    m, e = math.frexp(real)
    return round(m * 2**31), e
want_m, want_s, copies = [], [], 0
for name in cat["inputs"]:
    qx = q[name]
    # Scales are float32 in the IR; lower divides them in double.
    same = qx["scale"] == qy["scale"] and qx["zero_point"] == qy["zero_point"]
    copies += same
    m, e = mult(1.0 if same else float(np.float32(qx["scale"][0])) / float(np.float32(qy["scale"][0])))
    want_m.append(m); want_s.append(e)
assert copies == 1, (copies, [q[n] for n in cat["inputs"]], qy)
assert cat["attrs"] == {"axis": {"int": 1}, "multiplier": {"ints": want_m},
                        "shift": {"ints": want_s}}, (cat["attrs"], want_m, want_s)
PY
}

@test "fire module: simulate equals irrun bit for bit, PyTorch within two output steps" {
	need_numpy
	build fire
	# Two quantized convolutions in a row before the Concat: each adds
	# up to half a step of its own output's, hence two.  Fake quantization
	# is compared within two steps, not one: it rounds the 3x3 branch
	# twice (at the Conv's own parameters, then at the Relu's) where the
	# device's fused QConv rounds once, which puts 2.4% of that branch's
	# elements two steps apart (issue 21, "fake quantization that matches
	# the device"); the requantized 1x1 branch agrees within one.
	check_close fire 2 2
}

@test "shuffle unit: Split lowers to one QSlice per half, Slice to QSlice, all sharing the input's parameters" {
	need_numpy
	build shuffle
	irdump --json low.ir > low.json
	"$PY" - low.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
ops = [n["op"] for n in nodes]
assert ops == ["Quantize", "QConv", "QSlice", "QSlice", "QConv", "QConcat", "QSlice", "QSlice",
               "Dequantize"], ops
q = {t["name"]: t["quant"] for t in g["tensors"] if "quant" in t}
sl = [n for n in nodes if n["op"] == "QSlice"]
for n in sl:
    assert q[n["inputs"][0]] == q[n["outputs"][0]], n
def a(n):
    return [n["attrs"][k]["ints"] for k in ("starts", "ends", "steps")]
# The exported batch is 2, the stem's output [2, 8, 6, 6]: split [4, 4] on
# axis 1, then y[:, 1:8:2] (ends one past the last taken: 7 + 1) and
# y[:, :, 1:].
assert a(sl[0]) == [[0, 0, 0, 0], [2, 4, 6, 6], [1, 1, 1, 1]], a(sl[0])
assert a(sl[1]) == [[0, 4, 0, 0], [2, 8, 6, 6], [1, 1, 1, 1]], a(sl[1])
assert a(sl[2]) == [[0, 1, 0, 0], [2, 8, 6, 6], [1, 2, 1, 1]], a(sl[2])
assert a(sl[3]) == [[0, 0, 1, 0], [2, 4, 6, 6], [1, 1, 1, 1]], a(sl[3])
PY
}

@test "shuffle unit: simulate equals irrun bit for bit, PyTorch within four output steps" {
	need_numpy
	build shuffle
	# The stem's rounding reaches the output twice (the copied half and,
	# through a Conv with weights scaled by 2.5, the other), plus the
	# branch's and the Concat's requantization: four steps.
	check_close shuffle 4 1
}

@test "the binary's records: QConcat is opcode 14 with axis, multipliers, shifts; QSlice 15 with starts, ends, steps" {
	need_numpy
	build shuffle
	irdump --json low.ir > low.json
	PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - m.bin low.json <<'PY'
import json, sys
from qpbin import records, node_params as params
g = json.load(open(sys.argv[2]))
want = []
for n in g["graph"]["nodes"]:
    if n["op"] == "QConcat":
        want.append((14, len(n["inputs"]), params(n, ("axis", "multiplier", "shift"))))
    elif n["op"] == "QSlice":
        want.append((15, 1, params(n, ("starts", "ends", "steps"))))
found = [(code, n_in, p) for code, n_in, _, p in records(sys.argv[1]) if code in (14, 15)]
assert len(want) == 5 and found == want, (found, want)
PY
}

@test "the target names Concat, Split and Slice: quantize refuses them when it does not" {
	onnx2ir "$F/qconcat_shuffle.onnx" -o f.ir
	calibrate -q --data "$F/qconcat.x.npy" f.ir -o f.cal.ir
	sed -e 's/"Slice", "Split", //' -e '/"name": "concat"/d' "$QPIPE_TOP/tpc/int8.json" > none.json
	! grep -q '"Concat"\|"Split"\|"Slice"' none.json
	run --separate-stderr quantize -q --tpc none.json f.cal.ir -o q.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"target 'int8' does not support op 'Split' (node '/Split', op 'Split')"* ]]
	[[ "$stderr" == *"does not support op 'Concat'"* && "$stderr" == *"does not support op 'Slice'"* ]]
}

@test "a TPC listing an op the IR does not have is still refused" {
	sed -e 's/"ops": \["Concat"\]/"ops": ["Concatenate"]/' "$QPIPE_TOP/tpc/int8.json" > bad.json
	grep -q Concatenate bad.json
	onnx2ir "$F/qconcat_fire.onnx" -o f.ir
	calibrate -q --data "$F/qconcat.x.npy" f.ir -o f.cal.ir
	run --separate-stderr quantize -q --tpc bad.json f.cal.ir -o q.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unknown op 'Concatenate'"* ]]
}

@test "lower refuses a Slice whose output the target quantized apart from its input" {
	onnx2ir "$F/qconcat_shuffle.onnx" -o f.ir
	calibrate -q --data "$F/qconcat.x.npy" f.ir -o f.cal.ir
	sed -e 's/"Slice", "Split", //' -e 's/"ops": \["Concat"\]/"ops": ["Concat", "Slice", "Split"]/' \
		"$QPIPE_TOP/tpc/int8.json" > own.json
	grep -q '"Concat", "Slice", "Split"' own.json
	quantize -q --tpc own.json f.cal.ir -o q.ir
	run --separate-stderr lower q.ir -o low.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"output quantization differs from the input's (node '/Split', op 'Split')"* ]]
	[[ "$stderr" == *"(node '/Slice', op 'Slice')"* ]]
	[ ! -e low.ir ]
}
