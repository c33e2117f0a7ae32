#!/usr/bin/env bats
# QConvTranspose end to end: ONNX ConvTranspose (stride 2, pads,
# output_padding, group 2, dilation, 1-d, auto_pad SAME_UPPER; the fused
# Relu) through quantize, lower, emit and simulate.  References: PyTorch's
# float output (NAME.y.npy, tests/fixtures/gen/make_qconvtranspose_fixtures.py),
# a numpy reference of the integer arithmetic that reads only the quantized
# IR (tests/fixtures/gen/qconvtranspose_ref.py, written from docs/ir.md
# sections 4 and 6 and the ONNX spec), and the attributes and record layout
# computed here from the ONNX spec and docs/binary.md.
load test_helper.bash

F="$FIXTURES/qconvtranspose"
GEN="$QPIPE_TOP/tests/fixtures/gen"
MODELS="qct_s2 qct_g2 qct_1d qct_same"

# pipeline NAME [TPC]: f.ir, c.ir, q.ir, low.ir, m.bin in NAME/, calibrated
# on the model's own input.
pipeline() {
	mkdir -p "$1" &&
	onnx2ir "$F/$1.onnx" -o "$1/f.ir" &&
	calibrate -q --data "$F/$1.x.npy" "$1/f.ir" -o "$1/c.ir" &&
	quantize -q --tpc "$QPIPE_TOP/tpc/${2:-int8}.json" "$1/c.ir" -o "$1/q.ir" &&
	lower "$1/q.ir" -o "$1/low.ir" &&
	emit "$1/low.ir" -o "$1/m.bin" &&
	irdump --json "$1/low.ir" > "$1/low.json"
}

@test "the float ConvTranspose of every fixture is PyTorch's within 1e-5 (import and float kernel)" {
	need_numpy
	for m in $MODELS; do
		onnx2ir "$F/$m.onnx" -o $m.ir
		irrun -q $m.ir --input "$F/$m.x.npy" -o $m.npy
		run -0 npy_close $m.npy "$F/$m.y.npy" 1e-5
	done
}

@test "ConvTranspose lowers to one QConvTranspose with the spec's attributes; a 1-d one between two QReshapes, a Relu fused" {
	need_numpy
	for m in $MODELS; do
		pipeline $m
	done
	"$PY" - <<'PY'
import json
def lowered(m):
    g = json.load(open(m + "/low.json"))
    return g, [n["op"] for n in g["graph"]["nodes"]], g["graph"]["nodes"]
def attrs(n):
    return {k: v.get("ints", v.get("int")) for k, v in n["attrs"].items()
            if k in ("strides", "pads", "dilations", "output_padding", "group")}
# The ONNX attributes, as 2-d: PyTorch's padding p is pads [p, p, p, p].
want = {
    "qct_s2": dict(strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1], output_padding=[1, 1], group=1),
    "qct_g2": dict(strides=[2, 2], pads=[2, 2, 2, 2], dilations=[2, 2], output_padding=[1, 1], group=2),
    # 1-d: a first axis of size 1, no padding on it
    "qct_1d": dict(strides=[1, 2], pads=[0, 1, 0, 1], dilations=[1, 1], output_padding=[0, 0], group=1),
    # SAME_UPPER, stride 2, k 3 over 5: output 10, total padding
    # 2 * 4 + 3 - 10 = 1, begin 1 // 2 = 0, end 1 (ONNX spec)
    "qct_same": dict(strides=[2, 2], pads=[0, 0, 1, 1], dilations=[1, 1], output_padding=[0, 0], group=1),
}
ops = {
    "qct_s2": ["Quantize", "QConvTranspose", "Dequantize"],
    "qct_g2": ["Quantize", "QConvTranspose", "Dequantize"],
    "qct_1d": ["Quantize", "QReshape", "QConvTranspose", "QReshape", "Dequantize"],
    "qct_same": ["Quantize", "QConvTranspose", "Dequantize"],
}
for m in want:
    g, got, nodes = lowered(m)
    assert got == ops[m], (m, got)
    ct = [n for n in nodes if n["op"] == "QConvTranspose"][0]
    assert attrs(ct) == want[m], (m, attrs(ct))
    shapes = {t["name"]: t["shape"] for t in g["tensors"]}
    w = shapes[ct["inputs"][1]]
    # W [C_in, C_out/group, kh, kw]: one multiplier per output channel
    assert len(ct["attrs"]["multiplier"]["ints"]) == w[1] * want[m]["group"], m
    assert len(ct["inputs"]) == (2 if m == "qct_same" else 3), m   # qct_same has no bias
print("ok")
PY
}

@test "the lowered output equals the numpy reference of the integer arithmetic bit for bit, and simulate equals irrun" {
	need_numpy
	for m in $MODELS; do
		pipeline $m
		irrun -q $m/low.ir --input "$F/$m.x.npy" -o $m/low.npy
		simulate $m/m.bin --input "$F/$m.x.npy" -o $m/sim.npy
		cmp $m/sim.npy $m/low.npy
		PYTHONPATH="$GEN" "$PY" "$GEN/qconvtranspose_ref.py" $m/q.ir $m/low.ir "$F/$m.x.npy" $m/ref.npy
		cmp $m/ref.npy $m/low.npy
	done
}

@test "the reference can fail: one changed weight code changes it" {
	need_numpy
	pipeline qct_s2
	irrun -q qct_s2/low.ir --input "$F/qct_s2.x.npy" -o low.npy
	PYTHONPATH="$GEN" "$PY" - qct_s2/q.ir <<'PY'
import sys, qpir
h, a = qpir.read(sys.argv[1])
w = a["0.weight"].copy()
w.flat[0] = 127 if w.flat[0] != 127 else -127
a = dict(a); a["0.weight"] = w
qpir.write("bad.q.ir", h, a)
PY
	PYTHONPATH="$GEN" "$PY" "$GEN/qconvtranspose_ref.py" bad.q.ir qct_s2/low.ir "$F/qct_s2.x.npy" ref.npy
	run ! cmp -s ref.npy low.npy
}

@test "the lowered output is PyTorch's within two output steps, and fake quantization's within one on 99%" {
	need_numpy
	for m in $MODELS; do
		pipeline $m
		irrun -q $m/low.ir --input "$F/$m.x.npy" -o $m/low.npy
		irrun -q $m/q.ir --input "$F/$m.x.npy" -o $m/fq.npy
		run -0 one_step $m/q.ir $m/fq.npy $m/low.npy
		echo "$output"
		"$PY" - $m/low.npy "$F/$m.y.npy" $m/low.json <<'PY'
import json, sys
import numpy as np
y, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
g = json.load(open(sys.argv[3]))
s = [t for t in g["tensors"] if t["name"] == "y_q"][0]["quant"]["scale"][0]
assert y.shape == ref.shape, (y.shape, ref.shape)
d = float(np.abs(y - ref).max())
print("max abs diff %g, output step %g" % (d, s))
assert d <= 2 * s, d
PY
	done
}

@test "the binary's QConvTranspose record is opcode 21 with the node's parameters in schema order (docs/binary.md)" {
	need_numpy
	pipeline qct_g2
	PYTHONPATH="$GEN" "$PY" - qct_g2/m.bin qct_g2/low.json <<'PY'
import json, sys
from qpbin import records, node_params
g = json.load(open(sys.argv[2]))
n = [n for n in g["graph"]["nodes"] if n["op"] == "QConvTranspose"][0]
p = node_params(n, ["strides", "pads", "dilations", "output_padding", "group",
                    "act_min", "act_max", "multiplier", "shift"])
assert p[:11] == [2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 2], p[:11]
found = [(n_in, n_out, q) for code, n_in, n_out, q in records(sys.argv[1]) if code == 21]
assert found == [(3, 1, p)], (found, p)
PY
}

@test "quantize gives ConvTranspose int8 weights per channel on axis 1 (C_out/group scales) and int32 biases at s_in s_w[c % (C_out/group)]" {
	need_numpy
	pipeline qct_s2
	pipeline qct_g2
	PYTHONPATH="$GEN" "$PY" - <<'PY'
import numpy as np, qpir
h, a = qpir.read("qct_s2/q.ir")
w, b = qpir.tensor(h, "0.weight"), qpir.tensor(h, "0.bias")
assert w["dtype"] == "int8" and w["quant"]["axis"] == 1 and len(w["quant"]["scale"]) == 6, w["quant"]
# symmetric: each channel's largest magnitude is 127
assert (np.abs(a["0.weight"]).max(axis=(0, 2, 3)) == 127).all()
sx = qpir.tensor(h, "x")["quant"]["scale"][0]
assert b["dtype"] == "int32"
assert np.allclose(b["quant"]["scale"], np.float32(sx) * np.float32(w["quant"]["scale"]), rtol=1e-6)
h, a = qpir.read("qct_g2/q.ir")
w, b = qpir.tensor(h, "weight"), qpir.tensor(h, "bias")
# groups 2: W [4, 3, 3, 3], 3 scales for the 6 output channels; output
# channel c = 3 g + m (group g) has weight channel m = c % 3
assert w["shape"] == [4, 3, 3, 3] and len(w["quant"]["scale"]) == 3, (w["shape"], w["quant"])
sx = qpir.tensor(h, "x")["quant"]["scale"][0]
sw = np.float32(w["quant"]["scale"])
assert np.allclose(b["quant"]["scale"], np.float32(sx) * sw[[0, 1, 2, 0, 1, 2]], rtol=1e-6), b["quant"]
PY
}

@test "the imx500 target quantizes and lowers ConvTranspose + Relu fused, in power-of-two steps, and simulate equals irrun" {
	need_numpy
	pipeline qct_s2 imx500
	pipeline qct_1d imx500
	for m in qct_s2 qct_1d; do
		"$PY" - $m/low.json <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
ops = [n["op"] for n in g["graph"]["nodes"]]
assert "QConvTranspose" in ops and "QRequant" not in ops, ops
for t in g["tensors"]:
    if t.get("quant") and t["dtype"] == "int8" and "data" not in t:
        s = t["quant"]["scale"][0]
        assert s == 2.0 ** round(__import__("math").log2(s)), (t["name"], s)
PY
		irrun -q $m/low.ir --input "$F/$m.x.npy" -o $m/low.npy
		simulate $m/m.bin --input "$F/$m.x.npy" -o $m/sim.npy
		cmp $m/sim.npy $m/low.npy
		PYTHONPATH="$GEN" "$PY" "$GEN/qconvtranspose_ref.py" $m/q.ir $m/low.ir "$F/$m.x.npy" $m/ref.npy
		cmp $m/ref.npy $m/low.npy
	done
}

@test "a target that leaves ConvTranspose's weights float is refused by lower, naming the node" {
	need_numpy
	"$PY" - "$QPIPE_TOP/tpc/int8.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["name"] = "w_off"
conv = next(s for s in t["operator_sets"] if s["name"] == "conv")
conv["config"] = {"weights": {"enabled": False}}
json.dump(t, open("w_off.json", "w"))
PY
	onnx2ir "$F/qct_g2.onnx" -o f.ir
	calibrate -q --data "$F/qct_g2.x.npy" f.ir -o c.ir
	quantize -q --tpc w_off.json c.ir -o q.ir
	run -1 --separate-stderr lower q.ir -o low.ir
	[ "$stderr" = "lower: q.ir: weights 'weight' are not quantized int8 constants (node '/ConvTranspose', op 'ConvTranspose')" ]
	[ ! -e low.ir ]
}

@test "lower --report counts a QConvTranspose's MACs over the (position, tap) pairs inside the output" {
	need_numpy
	pipeline qct_s2
	pipeline qct_1d
	lower qct_s2/q.ir -o /dev/null --report s2.json --report-format json
	lower qct_1d/q.ir -o /dev/null --report 1d.json --report-format json
	"$PY" - s2.json 1d.json <<'PY'
import json, sys
def macs(path):
    return [l["macs"] for l in json.load(open(path))["layers"] if l["op"] == "QConvTranspose"]
def pairs(n_in, k, s, p, out):   # o = i s - p + k' inside [0, out)
    return sum(1 for i in range(n_in) for kk in range(k) if 0 <= i * s - p + kk < out)
# qct_s2: batch 2, C_in 4, C_out 6, 5 -> 10, k 3, stride 2, pad 1: the tap
# (0, 0) lands at -1 on each axis, so 14 of 15 pairs count
assert macs(sys.argv[1]) == [2 * 4 * 6 * pairs(5, 3, 2, 1, 10) ** 2] == [9408], macs(sys.argv[1])
# qct_1d: batch 2, C_in 3, C_out 4, 7 -> 14, k 4, stride 2, pad 1: 26 of 28
assert macs(sys.argv[2]) == [2 * 3 * 4 * pairs(7, 4, 2, 1, 14)] == [624], macs(sys.argv[2])
PY
}

# real MODEL CALIB INPUT TPC: float -> device binary; simulate equals irrun
# on the lowered IR (cmp), and prints the share of output elements where
# irrun on the lowered IR is within one output step of irrun on q.ir.
real() {
	case $1 in
	*.keras) keras2ir "$1" -o f.ir ;;
	*) onnx2ir -q "$1" -o f.ir ;;
	esac
	calibrate -q --data "$2" f.ir -o c.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/$4.json" c.ir -o q.ir
	lower q.ir -o l.ir
	emit l.ir -o m.bin
	irrun -q l.ir --input "$3" -o low.npy
	simulate m.bin --input "$3" -o sim.npy
	cmp low.npy sim.npy
	irrun -q q.ir --input "$3" -o fq.npy
	run -0 one_step q.ir fq.npy low.npy
	echo "$output"
}

@test "the U-Net family fixture (ConvTranspose 2x2/2 + Concat) goes to int8: simulate = irrun, fake-quant within one step" {
	need_numpy
	real "$FIXTURES/families/unet.onnx" "$FIXTURES/families/calib.npy" "$FIXTURES/families/test-input.npy" int8
}

@test "the U-Net goes to imx500: simulate = irrun, fake-quant within one step" {
	# Power-of-two scales make the QConcat's ratio after the QConvTranspose
	# exactly 1/2, so a negative odd code is a tie; the requantization rounds
	# it half away from zero, as fake quantization does.  (With ties toward
	# +infinity only 74.5% was within one step; measured now: 100%, max 1.)
	need_numpy
	real "$FIXTURES/families/unet.onnx" "$FIXTURES/families/calib.npy" "$FIXTURES/families/test-input.npy" imx500
}

@test "the Keras conv autoencoder (three Conv2DTranspose + ReLU) goes to int8 and imx500: simulate = irrun, fake-quant within one step" {
	need_numpy
	local k="$SHARED/testdata/keras/k2_keras_v213_conv_autoencoder.keras"
	[ -f "$k" ] || skip "no $k"
	real "$k" "$k.input.npy" "$k.input.npy" int8
	[ "$(irdump l.ir | grep -c ': QConvTranspose(')" = 3 ]
	real "$k" "$k.input.npy" "$k.input.npy" imx500
}
