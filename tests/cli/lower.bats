#!/usr/bin/env bats
# lower: quantized IR -> lowered integer IR (docs/man/lower.md).
load test_helper.bash

OPS="$FIXTURES/lower"

quantized() {
	onnx2ir "$OPS/ops.onnx" -o f.ir &&
	calibrate -q --data "$OPS/ops.x.npy" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
}

@test "lower --help describes the tool" {
	run lower --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: lower"* ]]
}

@test "lower turns every float op into an integer op with Quantize/Dequantize at the boundary" {
	quantized
	run lower q.ir -o low.ir
	[ "$status" -eq 0 ]
	run irdump low.ir
	[ "$status" -eq 0 ]
	[[ "$output" == *"quantize_x: Quantize(x) -> x_q"* ]]
	[[ "$output" == *"dequantize_probs: Dequantize(probs_q) -> probs"* ]]
	# Relu after Conv and after Add is fused into them (no QRequant left).
	[[ "$output" != *"Relu("* ]]
	[[ "$output" != *"QRequant"* ]]
	[[ "$output" == *"QConv"* && "$output" == *"QSoftmax"* && "$output" == *"QAdd"* ]]
	run irdump --json low.ir
	[[ "$output" == *'"arena_size"'* ]]
}

@test "lower is deterministic and works in a pipe" {
	quantized
	lower q.ir > a.ir
	lower q.ir > b.ir
	cmp a.ir b.ir
	# The binary carries no history, so a pipe gives the same bytes.
	emit a.ir -o a.bin
	run bash -c "lower < q.ir | emit > b.bin"
	[ "$status" -eq 0 ]
	cmp a.bin b.bin
}

@test "lower refuses an IR without quantization" {
	onnx2ir "$OPS/ops.onnx" -o f.ir
	run -1 --separate-stderr lower f.ir -o out.ir
	[ "$stderr" = "lower: f.ir: not quantized; run quantize first" ]
	[ ! -e out.ir ]
}

@test "lower refuses an IR it already lowered" {
	quantized
	lower q.ir -o low.ir
	run -1 --separate-stderr lower low.ir -o again.ir
	[ "$stderr" = "lower: low.ir: already lowered" ]
	[ ! -e again.ir ]
}

@test "lower refuses a file that is not an IR" {
	echo hello > junk.ir
	run -1 --separate-stderr lower junk.ir -o out.ir
	[[ "$stderr" == "lower: junk.ir: "* ]]
	[ ! -e out.ir ]
}

@test "lower with an unexpected argument is a usage error" {
	run -2 lower a.ir b.ir
}

@test "lower lists every node it cannot lower, one line each, and writes nothing" {
	# two Divs by a constant that varies along two axes
	# (tests/fixtures/gen/make_qreduce_fixtures.py)
	onnx2ir "$OPS/unlowerable.onnx" -o f.ir
	calibrate -q --data "$OPS/unlowerable.x.npy" f.ir -o f.cal.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	run -1 --separate-stderr lower q.ir -o out.ir
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "lower: q.ir: the divisor 'd' varies along more than one axis (node '/d1', op 'Div')" ]
	[ "${stderr_lines[1]}" = "lower: q.ir: the divisor 'd' varies along more than one axis (node '/d2', op 'Div')" ]
	[ ! -e out.ir ]
}

@test "lower: softmax over the channels of [N, C, 1, 1] and a permute of length-1 axes (vs PyTorch)" {
	need_numpy
	onnx2ir "$OPS/head.onnx" -o f.ir
	calibrate -q --data "$OPS/head.x.npy" f.ir -o f.cal.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	lower q.ir -o low.ir
	run -0 irdump low.ir
	# the softmax runs on a [16... 1, 5] view: QReshape, QSoftmax, QReshape
	[[ "$output" == *"/Softmax/rows: QReshape(/conv/Conv_output_0) -> /Softmax/rows"* ]]
	[[ "$output" == *"/Softmax: QSoftmax(/Softmax/rows) -> /Softmax/rows_softmax"* ]]
	[[ "$output" == *"/Transpose: QReshape(/Softmax_output_0) -> probs_q"* ]]
	# integer result = fake-quantized result, and within one output step
	# (1/256) of PyTorch's float probabilities
	irrun low.ir --input "$OPS/head.x.npy" -o low.npy
	irrun q.ir --input "$OPS/head.x.npy" -o fq.npy
	run -0 npy_close low.npy fq.npy 0
	run -0 npy_close low.npy "$OPS/head.y.npy" 0.0039
}

@test "a transpose that moves data lowers to QTranspose, which simulate runs as irrun does" {
	# Once refused; QTranspose (tests/cli/qshape.bats) took it over.
	onnx2ir "$OPS/perm.onnx" -o f.ir
	calibrate -q --data "$OPS/perm.x.npy" f.ir -o f.cal.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	lower q.ir -o low.ir
	run -0 irdump low.ir
	[[ "$output" == *"/Transpose: QTranspose("* ]]
	emit low.ir -o m.bin
	simulate m.bin --input "$OPS/perm.x.npy" -o sim.npy
	irrun -q low.ir --input "$OPS/perm.x.npy" -o low.npy
	cmp sim.npy low.npy
}
