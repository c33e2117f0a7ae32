#!/usr/bin/env bats
# The TPC's fusing_patterns and resources are acted on by lower (issue 20):
# a model over the target's memory budget is refused with the overflow and
# the layers that cost most; lower fuses exactly the chains the patterns
# allow, and an unfused Relu still lowers and runs.  Byte counts are worked
# out by hand from the shapes below; results are checked against the fused
# graph through a bound derived from the requantization arithmetic.
load test_helper

TPC="$QPIPE_TOP/tpc/int8.json"

# model KIND OUT.onnx, and x.npy (16 samples of [1, 1, 8, 8]).
#   cr:   x -> conv (1->2, 3x3, pad 1) -> relu1 -> flat -> y [1, 128]
#   full: the same, then fc (Gemm 128->4) -> relu2 -> out (Gemm 4->3) -> y [1, 3]
model() {
	"$PY" - "$1" "$2" <<-'EOF'
	import sys, numpy as np, onnx
	from onnx import helper as h, TensorProto as T, numpy_helper as nh
	kind, out = sys.argv[1], sys.argv[2]
	rng = np.random.default_rng(20)
	def init(name, a): return nh.from_array(np.asarray(a, np.float32), name)
	inits = [init("cw", rng.normal(0, 0.5, (2, 1, 3, 3))), init("cb", rng.normal(0, 0.1, 2))]
	nodes = [h.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
	         h.make_node("Relu", ["c"], ["r1"], name="relu1"),
	         h.make_node("Flatten", ["r1"], ["f" if kind == "full" else "y"], name="flat")]
	yshape = [1, 128]
	if kind == "full":
	    inits += [init("fw", rng.normal(0, 0.1, (4, 128))), init("fb", rng.normal(0, 0.1, 4)),
	              init("ow", rng.normal(0, 0.5, (3, 4))), init("ob", rng.normal(0, 0.1, 3))]
	    nodes += [h.make_node("Gemm", ["f", "fw", "fb"], ["g"], name="fc", transB=1),
	              h.make_node("Relu", ["g"], ["r2"], name="relu2"),
	              h.make_node("Gemm", ["r2", "ow", "ob"], ["y"], name="out", transB=1)]
	    yshape = [1, 3]
	g = h.make_graph(nodes, kind, [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 8, 8])],
	                 [h.make_tensor_value_info("y", T.FLOAT, yshape)], inits)
	m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
	m.ir_version = 8
	onnx.save(m, out)
	np.save("x.npy", rng.normal(0, 1, (16, 1, 8, 8)).astype(np.float32))
	EOF
}

# tpc OUT.json PYTHON: tpc/int8.json with the statements PYTHON applied to it (t).
tpc() {
	"$PY" - "$TPC" "$1" "$2" <<-'EOF'
	import sys, json
	t = json.load(open(sys.argv[1]))
	exec(sys.argv[3])
	json.dump(t, open(sys.argv[2], "w"))
	EOF
}

# quantized KIND TPC.json: q.ir, the model KIND calibrated on x.npy and quantized for TPC.json.
quantized() {
	model "$1" m.onnx &&
	onnx2ir m.onnx -o f.ir &&
	calibrate -q --data x.npy f.ir -o cal.ir &&
	quantize -q --tpc "$2" cal.ir -o q.ir
}

need_onnx() {
	need_numpy
	"$PY" -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with onnx (make deps)"
}

# scale IR TENSOR: the per-tensor scale irdump prints for TENSOR.
scale() {
	irdump "$1" | sed -n "s/^  $2: int8 .*(scale \([^,]*\), zero point .*/\1/p"
}

@test "lower refuses an activation arena over the target's budget, naming the overflow and the largest layers" {
	need_onnx
	tpc tiny.json 't["resources"] = {"activation_memory_bytes": 1}'
	quantized full tiny.json
	run -1 --separate-stderr lower q.ir -o out.ir
	# Fused graph: quantize_x writes x_q [1,1,8,8] (64 B), conv writes r1
	# [1,2,8,8] (128 B), flat f [1,128] (128 B), fc r2 [1,4] (4 B), out y_q
	# [1,3] (3 B).  r1 and f are both live at the QReshape, so the arena
	# needs 128 + 128 = 256; everything else fits beside one of them.
	[ "$stderr" = "lower: q.ir: the activation arena needs 256 bytes, 255 more than the target's 1 (resources.activation_memory_bytes); largest: 'conv' 128 bytes, 'flat' 128 bytes, 'quantize_x' 64 bytes, ..." ]
	[ ! -e out.ir ]
	# exactly the need fits
	tpc fits.json 't["resources"] = {"activation_memory_bytes": 256}'
	quantize -q --tpc fits.json cal.ir -o q.ir
	run -0 lower q.ir -o out.ir
}

@test "lower refuses weights over the target's budget, naming the overflow and the largest layers" {
	need_onnx
	tpc w.json 't["resources"] = {"weight_memory_bytes": 600, "activation_memory_bytes": 1000}'
	quantized full w.json
	run -1 --separate-stderr lower q.ir -o out.ir
	# Each constant padded to 16 in the weights section: conv 18 B int8
	# weights -> 32 and 2 int32 biases 8 -> 16: 48; fc 4*128 = 512 and
	# 4*4 = 16: 528; out 3*4 = 12 -> 16 and 3*4 = 12 -> 16: 32.  Sum 608.
	[ "$stderr" = "lower: q.ir: the weights need 608 bytes, 8 more than the target's 600 (resources.weight_memory_bytes); largest: 'fc' 528 bytes, 'conv' 48 bytes, 'out' 32 bytes" ]
	[ ! -e out.ir ]
	# both budgets over: both lines
	tpc both.json 't["resources"] = {"weight_memory_bytes": 607, "activation_memory_bytes": 255}'
	quantize -q --tpc both.json cal.ir -o q.ir
	run -1 --separate-stderr lower q.ir -o out.ir
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ "${stderr_lines[0]}" == "lower: q.ir: the weights need 608 bytes, 1 more than the target's 607 "* ]]
	[[ "${stderr_lines[1]}" == "lower: q.ir: the activation arena needs 256 bytes, 1 more than the target's 255 "* ]]
	tpc fits.json 't["resources"] = {"weight_memory_bytes": 608}'
	quantize -q --tpc fits.json cal.ir -o q.ir
	run -0 lower q.ir -o out.ir
	emit out.ir -o m.bin
}

@test "a target without fusing patterns keeps the Relu its own node, and it runs to within requantization of the fused graph" {
	need_onnx
	tpc nofuse.json 'del t["fusing_patterns"]'
	quantized cr "$TPC"
	lower q.ir -o fused.ir
	quantize -q --tpc nofuse.json cal.ir -o q.ir
	run -0 lower q.ir -o unfused.ir
	run -0 irdump fused.ir
	[[ "$output" == *"  conv: QConv(x_q, cw, cb) -> r1"* ]]
	[[ "$output" != *"relu1:"* ]]
	run -0 irdump unfused.ir
	[[ "$output" == *"  conv: QConv(x_q, cw, cb) -> c"* ]]
	[[ "$output" == *"  relu1: QRequant(c) -> r1"* ]]
	irrun fused.ir --input x.npy -o fused.npy
	irrun unfused.ir --input x.npy -o unfused.npy
	emit unfused.ir -o unfused.bin
	simulate unfused.bin --input x.npy -o sim.npy
	# irrun and simulate run the same integer kernels: identical
	cmp unfused.npy sim.npy || npy_close unfused.npy sim.npy 0
	# Fused, conv rounds once at r1's scale s_r: within s_r/2 of relu(v),
	# v the exact accumulator value.  Unfused, conv rounds at c's scale
	# s_c (within s_c/2 of v, and relu moves nothing further apart), then
	# QRequant rounds at s_r: within s_c/2 + s_r/2.  So they differ by at
	# most s_r + s_c/2 (the flatten copies r1 unchanged).
	sr=$(scale fused.ir r1)
	sc=$(scale unfused.ir c)
	[ -n "$sr" ] && [ -n "$sc" ]
	tol=$("$PY" -c "print($sr + $sc / 2 + 1e-6)")
	run -0 npy_close unfused.npy fused.npy "$tol"
	# (r1's zero point is -128 here, so its clamp at zero is the int8
	# floor; the next test has a Relu whose clamp matters.)
}

@test "unfused and fused agree exactly when the Relu keeps its input's parameters" {
	need_onnx
	# With relu quantization-preserving, r1 has c's scale and zero point:
	# fused, conv clamps round(acc M) + zp to [zp, 127]; unfused, conv
	# clamps it to [-128, 127] and QRequant multiplies by 1 (2^30, shift 1:
	# exact) and clamps to [zp, 127].  Same integers end to end.
	tpc keep.json 'next(s for s in t["operator_sets"] if s["name"] == "relu")["config"] = {"activation": {"preserving": True}}'
	tpc keepnofuse.json 'next(s for s in t["operator_sets"] if s["name"] == "relu")["config"] = {"activation": {"preserving": True}}; t["fusing_patterns"] = []'
	quantized full keep.json
	lower q.ir -o fused.ir
	quantize -q --tpc keepnofuse.json cal.ir -o q.ir
	lower q.ir -o unfused.ir
	run -0 irdump unfused.ir
	[[ "$output" == *"  relu1: QRequant(c) -> r1"* ]]
	[[ "$output" == *"  relu2: QRequant(g) -> r2"* ]]
	irrun fused.ir --input x.npy -o fused.npy
	irrun unfused.ir --input x.npy -o unfused.npy
	run -0 npy_close unfused.npy fused.npy 0
	emit unfused.ir -o unfused.bin
	simulate unfused.bin --input x.npy -o sim.npy
	run -0 npy_close sim.npy fused.npy 0
}

@test "a pattern list that allows only Conv->Relu does not fuse Gemm->Relu" {
	need_onnx
	tpc conv.json 't["fusing_patterns"] = [["conv", "relu"]]'
	quantized full conv.json
	run -0 lower q.ir -o low.ir
	run -0 irdump low.ir
	[[ "$output" == *"  conv: QConv(x_q, cw, cb) -> r1"* ]]
	[[ "$output" != *"relu1:"* ]]
	[[ "$output" == *"  fc: QGemm(f, fw_1, fb_1) -> g"* ]]
	[[ "$output" == *"  relu2: QRequant(g) -> r2"* ]]
	# tpc/int8.json fuses both
	quantize -q --tpc "$TPC" cal.ir -o q8.ir
	run -0 lower q8.ir -o low8.ir
	run -0 irdump low8.ir
	[[ "$output" == *"  fc: QGemm(f, fw_1, fb_1) -> r2"* ]]
	[[ "$output" != *"relu2:"* ]]
	# a three-step pattern is not a two-op fusion lower can run
	tpc three.json 't["fusing_patterns"] = [["conv", "relu", "quantization_preserving"]]'
	quantize -q --tpc three.json cal.ir -o q3.ir
	run -0 lower q3.ir -o low3.ir
	run -0 irdump low3.ir
	[[ "$output" == *"  relu1: QRequant(c) -> r1"* ]]
}

@test "lower refuses a meta.target that is not a valid target description" {
	need_onnx
	quantized cr "$TPC"
	"$PY" - "$QPIPE_TOP/tests/fixtures/gen" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1]); import qpir
	h, a = qpir.read("q.ir")
	h["meta"]["target"]["resources"] = {"weight_memory_bytes": -1}
	qpir.write("bad.ir", h, a)
	EOF
	run -1 --separate-stderr lower bad.ir -o out.ir
	[ "$stderr" = "lower: bad.ir: meta.target is not a valid target description: resources.weight_memory_bytes: -1 is outside 0..9007199254740992" ]
	[ ! -e out.ir ]
}
