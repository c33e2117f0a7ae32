#!/usr/bin/env bats
# QClip end to end: ONNX Conv -> Clip(0, 6) (PyTorch's ReLU6) through
# quantize, lower, emit and simulate (docs/hacking.md walks through how the
# op was added).  References: PyTorch's float output (qclip.y.npy, from
# tests/fixtures/gen/make_qclip_fixtures.py) and the bounds and record
# layout computed here from docs/ir.md section 6 and docs/binary.md.
load test_helper.bash

F="$FIXTURES/lower"

build() {   # -> q.ir low.ir m.bin
	int8_pipeline "$F/qclip.onnx" "$F/qclip.x.npy"
}

@test "Clip(0, 6) after Conv lowers to QClip, clamping at the bounds quantized with the input's parameters" {
	need_numpy
	build
	irdump --json low.ir > low.json
	"$PY" - low.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
assert [n["op"] for n in nodes] == ["Quantize", "QConv", "QClip", "Dequantize"], nodes
clip = nodes[2]
q = {t["name"]: t.get("quant") for t in g["tensors"]}
qx, qy = q[clip["inputs"][0]], q[clip["outputs"][0]]
assert qx["scale"] == qy["scale"] and qx["zero_point"] == qy["zero_point"], (qx, qy)
s, zp = qx["scale"][0], qx["zero_point"][0]
# Quantize's rule (docs/ir.md section 4): round half away from zero.
lo = zp                                  # real 0
hi = min(127, int(6.0 / s + 0.5) + zp)   # 6 / s > 0
assert clip["attrs"] == {"act_min": {"int": lo}, "act_max": {"int": hi}}, (clip["attrs"], lo, hi)
PY
}

@test "simulate on the binary equals irrun on the lowered IR bit for bit, and PyTorch within two output steps" {
	need_numpy
	build
	simulate m.bin --input "$F/qclip.x.npy" -o sim.npy
	irrun -q low.ir --input "$F/qclip.x.npy" -o ref.npy
	cmp sim.npy ref.npy
	irdump --json low.ir > low.json
	"$PY" - sim.npy "$F/qclip.y.npy" low.json <<'PY'
import json, sys
import numpy as np
y, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
g = json.load(open(sys.argv[3]))
s = [t for t in g["tensors"] if t["name"] == "y_q"][0]["quant"]["scale"][0]
assert y.shape == ref.shape, (y.shape, ref.shape)
d = float(np.abs(y - ref).max())
print("max abs diff %g, output step %g" % (d, s))
assert d <= 2 * s, d
# Both bounds bite: without the clamp the output would reach about 13
# (its scale is the Conv's) and go below 0.
assert y.min() == 0.0 and abs(y.max() - 6.0) <= s / 2, (y.min(), y.max())
assert (ref == 0).mean() > 0.1 and (ref == 6).mean() > 0.05
PY
}

@test "the binary's QClip record is opcode 12 with parameters act_min act_max (docs/binary.md)" {
	need_numpy
	build
	irdump --json low.ir > low.json
	PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - m.bin low.json <<'PY'
import json, sys
from qpbin import records
g = json.load(open(sys.argv[2]))
attrs = [n for n in g["graph"]["nodes"] if n["op"] == "QClip"][0]["attrs"]
found = [(n_in, n_out, p) for code, n_in, n_out, p in records(sys.argv[1]) if code == 12]
want = (1, 1, [attrs["act_min"]["int"], attrs["act_max"]["int"]])
assert found == [want], (found, want)
PY
}

@test "quantize leaves Clip's bounds float: they are parameters, not data" {
	need_numpy
	build
	irdump --json q.ir > q.json
	"$PY" - q.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
clip = [n for n in g["graph"]["nodes"] if n["op"] == "Clip"][0]
t = {x["name"]: x for x in g["tensors"]}
for name in clip["inputs"][1:]:
    assert t[name]["dtype"] == "float32" and "quant" not in t[name], t[name]
PY
}

@test "lower refuses a Clip whose output the target quantized apart from its input" {
	onnx2ir "$F/qclip.onnx" -o f.ir
	calibrate -q --data "$F/qclip.x.npy" f.ir -o f.cal.ir
	# Clip moved from the preserving set to the relu set: own parameters.
	sed -e 's/, "Clip"//' -e 's/"ops": \["Relu"\]/"ops": ["Relu", "Clip"]/' \
		"$QPIPE_TOP/tpc/int8.json" > own.json
	[ "$(grep -c '"Clip"' own.json)" -eq 1 ] && grep -q '"Relu", "Clip"' own.json
	quantize -q --tpc own.json f.cal.ir -o q.ir
	run --separate-stderr lower q.ir -o low.ir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"output quantization differs from the input's (node '/1/Clip', op 'Clip')"* ]]
	[ ! -e low.ir ]
}
