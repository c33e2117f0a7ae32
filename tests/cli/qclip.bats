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

# A target that gives Clip its own parameters (MCT's IMX500 does: ReLU6 is
# its own operator set): Clip moved from int8's preserving set to its relu
# set, which the pattern [["conv", "fully_connected"], "relu"] fuses after a
# Conv: own.json.  imx_nofuse.json is tpc/imx500.json (its relu6 set has
# its own power-of-two parameters) without fusing patterns.
own_targets() {
	sed -e 's/, "Clip"//' -e 's/"ops": \["Relu"\]/"ops": ["Relu", "Clip"]/' \
		"$QPIPE_TOP/tpc/int8.json" > own.json
	[ "$(grep -c '"Clip"' own.json)" -eq 1 ] && grep -q '"Relu", "Clip"' own.json
	"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); d["fusing_patterns"] = []; json.dump(d, open("imx_nofuse.json", "w"))' "$QPIPE_TOP/tpc/imx500.json"
	onnx2ir "$F/qclip.onnx" -o f.ir
	calibrate -q --data "$F/qclip.x.npy" f.ir -o f.cal.ir
}

@test "a Clip with its own parameters that the target fuses after a Conv is the QConv's act_min/act_max at those parameters" {
	need_numpy
	own_targets
	quantize -q --tpc own.json f.cal.ir -o q.ir
	lower q.ir -o low.ir
	emit low.ir -o m.bin
	irdump --json q.ir > q.json
	irdump --json low.ir > low.json
	"$PY" - q.json low.json <<'PY'
import json, sys
q, g = (json.load(open(f)) for f in sys.argv[1:3])
qt = {t["name"]: t for t in q["tensors"]}
conv = [n for n in q["graph"]["nodes"] if n["op"] == "Conv"][0]
# Rounded once, at the Clip's output (docs/tpc.md section 4).
assert "quant" not in qt[conv["outputs"][0]], qt[conv["outputs"][0]]
nodes = g["graph"]["nodes"]
assert [n["op"] for n in nodes] == ["Quantize", "QConv", "Dequantize"], nodes
yq = [t for t in g["tensors"] if t["name"] == nodes[1]["outputs"][0]][0]["quant"]
assert yq == {k: v for k, v in qt["y"]["quant"].items() if k in yq}, (yq, qt["y"]["quant"])
s, zp = yq["scale"][0], yq["zero_point"][0]
# The bounds 0 and 6 by Quantize's rule at y's parameters (round half away
# from zero, clamp to -128..127).
lo = max(-128, zp)
hi = min(127, int(6.0 / s + 0.5) + zp)
a = nodes[1]["attrs"]
assert (a["act_min"]["int"], a["act_max"]["int"]) == (lo, hi), (a["act_min"], a["act_max"], lo, hi)
# y's parameters are the Clip's own, for [0, 6], not the Conv's (whose
# output reaches about 13): its top code is 6 within a step.
assert abs(s * (127 - zp) - 6.0) <= s, (s, zp)
PY
	simulate m.bin --input "$F/qclip.x.npy" -o sim.npy
	irrun -q low.ir --input "$F/qclip.x.npy" -o low.npy
	cmp sim.npy low.npy
	irrun -q q.ir --input "$F/qclip.x.npy" -o fq.npy
	run one_step q.ir fq.npy low.npy
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a Clip with its own parameters and nothing to fuse into is a QRequant clamping at its bounds" {
	need_numpy
	own_targets
	quantize -q --tpc imx_nofuse.json f.cal.ir -o q.ir
	lower q.ir -o low.ir
	emit low.ir -o m.bin
	irdump --json low.ir > low.json
	"$PY" - low.json <<'PY'
import json, sys, math
import numpy as np
g = json.load(open(sys.argv[1]))
nodes = g["graph"]["nodes"]
assert [n["op"] for n in nodes] == ["Quantize", "QConv", "QRequant", "Dequantize"], nodes
r = nodes[2]
q = {t["name"]: t.get("quant") for t in g["tensors"]}
qx, qy = q[r["inputs"][0]], q[r["outputs"][0]]
assert qx["scale"] != qy["scale"], (qx, qy)
s, zp = qy["scale"][0], qy["zero_point"][0]
lo, hi = max(-128, zp), min(127, int(6.0 / s + 0.5) + zp)
# Unsigned power-of-two for [0, 6]: threshold 8, so 6 is below the range
# end and the bound bites.
assert (s, zp, hi) == (8 / 256, -128, 64), (s, zp, hi)
# The multiplier of s_x / s_y as docs/ir.md section 6 encodes it (frexp),
# from the float32 scales (irdump prints them with 9 digits).
m, e = math.frexp(float(np.float32(qx["scale"][0])) / float(np.float32(s)))
m = round(m * 2 ** 31)
if m == 2 ** 31:
    m, e = m // 2, e + 1
want = {"act_min": {"int": lo}, "act_max": {"int": hi},
        "multiplier": {"ints": [m]}, "shift": {"ints": [e]}}
assert r["attrs"] == want, (r["attrs"], want)
PY
	simulate m.bin --input "$F/qclip.x.npy" -o sim.npy
	irrun -q low.ir --input "$F/qclip.x.npy" -o low.npy
	cmp sim.npy low.npy
	irrun -q q.ir --input "$F/qclip.x.npy" -o fq.npy
	run one_step q.ir fq.npy low.npy
	echo "$output"
	[ "$status" -eq 0 ]
}
