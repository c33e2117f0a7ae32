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
