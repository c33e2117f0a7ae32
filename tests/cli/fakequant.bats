#!/usr/bin/env bats
# Fake quantization matches the device (issue 21): irrun on the quantized IR
# rounds where the lowered model rounds.  A chain the target fuses
# (op -> Relu, docs/tpc.md section 4) is quantized once, at the Relu's
# output; quantize gives the op's own output no parameters (docs/ir.md
# section 4.3), so fake quant does not round it a second time.  Before,
# chain.onnx agreed within one output step on 94.14% of its elements.
load test_helper

F="$FIXTURES/fakequant"
TPC="$QPIPE_TOP/tpc/int8.json"

# tpc OUT.json PYTHON: tpc/int8.json with the statements PYTHON applied to it (t).
tpc() {
	"$PY" - "$TPC" "$1" "$2" <<-'EOF'
	import sys, json
	t = json.load(open(sys.argv[1]))
	exec(sys.argv[3])
	json.dump(t, open(sys.argv[2], "w"))
	EOF
}

# pipeline TPC.json: q.ir and low.ir for chain.onnx, fq.npy and dev.npy
# (irrun on each over chain.x.npy).
pipeline() {
	onnx2ir "$F/chain.onnx" -o f.ir &&
	calibrate -q --data "$F/chain.x.npy" f.ir -o cal.ir &&
	quantize -q --tpc "$1" cal.ir -o q.ir &&
	lower q.ir -o low.ir &&
	irrun -q q.ir --input "$F/chain.x.npy" -o fq.npy &&
	irrun -q low.ir --input "$F/chain.x.npy" -o dev.npy
}

# agree A.npy B.npy STEP: prints the percentage of elements within one STEP
# of each other; fails below 99%.  Two values one integer apart differ by
# STEP only up to float32 rounding of (q - zp) * STEP, up to 255 STEPs
# large: 255 * 2^-24 < 1e-4 of a STEP.
agree() {
	"$PY" - "$1" "$2" "$3" <<-'EOF'
	import sys, numpy as np
	a, b = (np.load(p).astype(np.float64) for p in sys.argv[1:3])
	step = float(sys.argv[3])
	if a.shape != b.shape or not a.size:
	    sys.exit("shapes %s and %s" % (a.shape, b.shape))
	ok = float((np.abs(a - b) <= step * (1 + 1e-4)).mean())
	print("%.2f%% of %d elements within one output step (%g)" % (100 * ok, a.size, step))
	sys.exit(0 if ok >= 0.99 else 1)
	EOF
}

# scale IR TENSOR: the per-tensor scale irdump prints for float TENSOR.
scale() {
	irdump "$1" | sed -n "s/^  $2: float32 .*(scale \([^,]*\), zero point .*/\1/p"
}

@test "a fused Conv->Relu is quantized once: fake quant agrees with the lowered model" {
	need_numpy
	pipeline "$TPC"
	run -0 irdump q.ir
	# The Relus' outputs have parameters, the Convs' outputs (read by
	# nothing but a fused Relu) none.
	[[ "$output" == *"  r1: float32 asymmetric 8-bit"* ]]
	[[ "$output" == *"  y: float32 asymmetric 8-bit"* ]]
	[[ "$output" != *"  c1: float32 "* ]]
	[[ "$output" != *"  c2: float32 "* ]]
	# lower fused both pairs, writing with the Relus' parameters.
	run -0 irdump low.ir
	[[ "$output" == *"  conv1: QConv(x_q, conv1.weight, conv1.bias) -> r1"* ]]
	[[ "$output" != *"QRequant"* ]]
	step=$(scale q.ir y)
	[ -n "$step" ]
	run agree fq.npy dev.npy "$step"
	echo "# fused (tpc/int8.json): $output" >&3
	[ "$status" -eq 0 ]
}

@test "without fusing patterns the Conv output keeps its own parameters and both sides round twice" {
	need_numpy
	tpc nofuse.json 't["fusing_patterns"] = []'
	pipeline nofuse.json
	run -0 irdump q.ir
	[[ "$output" == *"  c1: float32 asymmetric 8-bit"* ]]
	[[ "$output" == *"  c2: float32 asymmetric 8-bit"* ]]
	run -0 irdump low.ir
	[[ "$output" == *"  relu1: QRequant(c1) -> r1"* ]]
	[[ "$output" == *"  relu2: QRequant(c2) -> y_q"* ]]
	step=$(scale q.ir y)
	[ -n "$step" ]
	run agree fq.npy dev.npy "$step"
	echo "# unfused (no patterns): $output" >&3
	[ "$status" -eq 0 ]
}

@test "only the chains the target fuses lose their intermediate parameters" {
	need_numpy
	# A pattern for Gemm->Relu only: neither Conv->Relu is fused, so both
	# Conv outputs keep theirs, and lower leaves both Relus unfused.
	tpc fc.json 't["fusing_patterns"] = [["fully_connected", "relu"]]'
	pipeline fc.json
	run -0 irdump q.ir
	[[ "$output" == *"  c1: float32 asymmetric 8-bit"* ]]
	[[ "$output" == *"  c2: float32 asymmetric 8-bit"* ]]
	run -0 irdump low.ir
	[[ "$output" == *"  relu1: QRequant(c1) -> r1"* ]]
}

# Integer-exact fake quantization (docs/ir.md section 4.4): irrun on a
# quantized IR computes a depthwise 1x1 Conv, a Conv of 576 products per
# output and a Conv (strided, padded, grouped, per-channel int8
# weights, int32 bias, fused Relu), a broadcast Add of two activations and
# a Gemm as the device does.  The reference is numpy written from that
# text, reading the IR with the spec-only reader tests/fixtures/gen/qpir.py:
# input codes by round-half-away of x / s, exact integer sums plus the
# stored bias, the real multiplier s_x s_w / s_y (not the runtime's 31-bit
# one, so the two may differ only within 2^-31 of a tie: none expected),
# round half away, zero point, clamp.  QAdd's reference follows its
# documented two-stage rescaling (section 6) with real multipliers.
@test "fake quantization of Conv, Add and Gemm is the device's integer arithmetic (numpy reference)" {
	"$PY" -c 'import onnx, numpy' 2>/dev/null || skip "needs /usr/bin/python3 with onnx and numpy (make deps)"
	"$PY" - <<'PY'
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto as T
rng = np.random.default_rng(21)
w = rng.normal(size=(8, 32, 3, 3)).astype(np.float32)
# A Conv of 576 products per output: float32 sums of that length move a
# value across a rounding boundary on about one output in a thousand.
we = rng.normal(size=(64, 64, 3, 3)).astype(np.float32)
b = rng.normal(size=8).astype(np.float32)
w2 = rng.normal(size=(8 * 4 * 3, 10)).astype(np.float32)
b2 = rng.normal(size=10).astype(np.float32)
# A depthwise 1x1 Conv: one product per output, so its bias's rounding to
# int32 (about 1/256 of an output step here) shows on a few outputs in
# 1000, where a float bias would give other codes.
wd = rng.normal(size=(64, 1, 1, 1)).astype(np.float32)
bd = rng.normal(size=64).astype(np.float32)
nodes = [helper.make_node("Conv", ["x", "wd", "bd"], ["d"], name="dw", group=64),
         helper.make_node("Conv", ["x", "we"], ["e"], name="big", pads=[1, 1, 1, 1]),helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", group=2,
                          strides=[2, 2], pads=[1, 0, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("Conv", ["x", "w", "b"], ["c2"], name="conv2", group=2,
                          strides=[2, 2], pads=[1, 0, 1, 1]),
         helper.make_node("Add", ["r", "c2"], ["s"], name="add"),
         helper.make_node("Flatten", ["s"], ["f"], name="flat"),
         helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc")]
g = helper.make_graph(nodes, "fq",
                      [helper.make_tensor_value_info("x", T.FLOAT, [1, 64, 8, 7])],
                      [helper.make_tensor_value_info(n, T.FLOAT, None) for n in ("y", "r", "c2", "s", "d", "e")],
                      [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"), (w2, "w2"), (b2, "b2"), (wd, "wd"), (bd, "bd"), (we, "we"))])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "fq.onnx")
np.save("cal.npy", rng.normal(size=(32, 64, 8, 7)).astype(np.float32))
np.save("x.npy", rng.normal(size=(64, 64, 8, 7)).astype(np.float32))
PY
	run -0 onnx2ir -q fq.onnx -o f.ir
	run -0 calibrate -q --data cal.npy f.ir -o cal.ir
	run -0 quantize -q --tpc "$TPC" cal.ir -o q.ir
	# The intermediates the reference computes are outputs too.
	run -0 irrun -q q.ir --input x.npy -o y.npy -o r.npy -o c2.npy -o s.npy -o d.npy -o e.npy
	run -0 "$PY" - "$FIXTURES/gen" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import qpir
h, arr = qpir.read("q.ir")
def q(name):
    t = qpir.tensor(h, name)["quant"]
    return np.array(t["scale"], np.float64), np.array(t["zero_point"]), t["bits"], t["signed"]
def rha(v):  # round half away from zero
    return np.sign(v) * np.floor(np.abs(v) + 0.5)
def codes(x, name):
    s, zp, bits, signed = q(name)
    lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
    return np.clip(rha(x.astype(np.float64) / s[0]) + zp[0], lo, hi) - zp[0]
def out(acc, real, name, relu=False):
    s, zp, bits, signed = q(name)
    lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
    c = np.clip(rha(acc * real) + zp[0], zp[0] if relu else lo, hi)
    return (c - zp[0]) * s[0]
x = np.load("x.npy").astype(np.float32)
xc = codes(x, "x")
wq = arr["w"].astype(np.int64); ws = q("w")[0]; bq = arr["b"].astype(np.int64)
def conv(xc):
    n = xc.shape[0]
    xp = np.pad(xc, ((0, 0), (0, 0), (1, 1), (0, 1)))
    ho, wo = (xp.shape[2] - 3) // 2 + 1, (xp.shape[3] - 3) // 2 + 1
    acc = np.zeros((n, 8, ho, wo))
    for oc in range(8):
        gi = oc // 4
        for ky in range(3):
            for kx in range(3):
                patch = xp[:, 32 * gi:32 * gi + 32, ky:ky + 2 * ho:2, kx:kx + 2 * wo:2]
                acc[:, oc] += np.einsum("nchw,c->nhw", patch, wq[oc, :, ky, kx])
        acc[:, oc] += bq[oc]
    return acc
acc = conv(xc)
sx = q("x")[0][0]
r = out(acc, (sx * ws / q("r")[0][0])[None, :, None, None], "r", relu=True)
c2 = out(acc, (sx * ws / q("c2")[0][0])[None, :, None, None], "c2")
# QAdd: both inputs at 2^-20 of twice the larger scale, added, requantized.
sa, sb, sy = q("r")[0][0], q("c2")[0][0], q("s")[0][0]
tm = 2 * max(sa, sb)
ia = rha(codes(r, "r") * 2**20 * sa / tm)
ib = rha(codes(c2, "c2") * 2**20 * sb / tm)
s = out(ia + ib, tm / (2**20 * sy), "s")
f = s.reshape(len(s), -1)
w2q = arr["w2"].astype(np.int64); w2s = q("w2")[0]
acc2 = codes(f, "s") @ w2q + arr["b2"].astype(np.int64)
ref = out(acc2, q("s")[0][0] * w2s / q("y")[0][0], "y")
accd = xc * arr["wd"].astype(np.int64).reshape(1, 64, 1, 1) + arr["bd"].astype(np.int64).reshape(1, 64, 1, 1)
d = out(accd, (sx * q("wd")[0] / q("d")[0][0]).reshape(1, 64, 1, 1), "d")
xe = np.pad(xc, ((0, 0), (0, 0), (1, 1), (1, 1)))
wei = arr["we"].astype(np.float64)
acce = sum(np.einsum("nchw,oc->nohw", xe[:, :, ky:ky + 8, kx:kx + 7], wei[:, :, ky, kx])
           for ky in range(3) for kx in range(3))
e = out(acce, (sx * q("we")[0] / q("e")[0][0]).reshape(1, 64, 1, 1), "e")
for name, v in (("r", r), ("c2", c2), ("s", s), ("y", ref), ("d", d), ("e", e)):
    got = np.load(name + ".npy").astype(np.float64).reshape(v.shape)
    exact = float(np.mean(np.abs(got - v) <= 1e-4 * q(name)[0][0]))
    print("%s: %.3f%% of %d equal the integer reference" % (name, 100 * exact, v.size))
    assert exact == 1.0, name
PY
	echo "# $output" >&3
}
