#!/usr/bin/env bats
# simulate: the device binary through the embeddable runtime
# (docs/man/simulate.md).  The key property: irrun on the lowered IR and
# simulate on the emitted binary give bit-identical outputs.
load test_helper.bash

OPS="$FIXTURES/lower"

build() {   # build MODEL.onnx CALIB.npy -> q.ir low.ir m.bin
	onnx2ir "$1" -o f.ir &&
	calibrate -q --data "$2" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir &&
	emit low.ir -o m.bin
}

@test "simulate and irrun on the lowered IR are bit-identical (every lowered op)" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	# 9 samples in batches of 2: the last batch is padded.
	simulate m.bin --input "$OPS/ops.x.npy" -o sim.npy
	irrun low.ir --input "$OPS/ops.x.npy" -o ref.npy
	cmp sim.npy ref.npy
}

@test "simulate agrees with PyTorch's float model on the top-1 class" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	run --separate-stderr simulate m.bin --input "$OPS/ops.x.npy" --eval "$OPS/ops.labels.npy"
	[ "$status" -eq 0 ]
	[ "$output" = "top-1 1.0000 (9/9)" ]
}

@test "simulate and irrun are bit-identical on the fashion-mnist example" {
	[ -f "$EXAMPLE/model.onnx" ] && [ -f "$EXAMPLE/calib.npy" ] || skip "examples/fashion-mnist not built"
	build "$EXAMPLE/model.onnx" "$EXAMPLE/calib.npy"
	simulate m.bin --input "$EXAMPLE/calib.npy" -o sim.npy
	irrun low.ir --input "$EXAMPLE/calib.npy" -o ref.npy
	cmp sim.npy ref.npy
}

@test "a Keras MobileNetV3-Small goes through every stage; simulate and irrun are bit-identical" {
	# ZeroPadding2D folds into the depthwise convolutions, the [N,C,1,1]
	# head's Softmax and Transposes lower (their accuracy is int8's: this
	# near-uniform 4-class model is no accuracy test)
	m="$SHARED/testdata/keras/k3_keras_mobilenetv3small_min.keras"
	[ -f "$m" ] || skip "../shared/testdata/keras not present"
	keras2ir "$m" -o f.ir
	calibrate -q --data "$m.input.npy" f.ir -o f.cal.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	lower q.ir -o low.ir
	emit low.ir -o m.bin
	simulate m.bin --input "$m.input.npy" -o sim.npy
	irrun low.ir --input "$m.input.npy" -o ref.npy
	cmp sim.npy ref.npy
}

@test "simulate --info prints the binary and arena sizes" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	run simulate --info m.bin
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "binary_size $(wc -c < m.bin)" ]
	[[ "${lines[1]}" =~ ^arena_size\ [0-9]+$ ]]
}

@test "simulate refuses a corrupted binary" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	cp m.bin bad.bin
	printf '\x55' | dd of=bad.bin bs=1 seek=200 conv=notrunc 2>/dev/null
	run -1 --separate-stderr simulate bad.bin --input "$OPS/ops.x.npy" -o y.npy
	[ "$stderr" = "simulate: bad.bin: checksum mismatch (corrupted binary)" ]
	[ ! -e y.npy ]
}

@test "simulate refuses a truncated binary" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	head -c 300 m.bin > short.bin
	run -1 --separate-stderr simulate short.bin --input "$OPS/ops.x.npy" -o y.npy
	[ "$stderr" = "simulate: short.bin: truncated binary" ]
	[ ! -e y.npy ]
}

@test "simulate refuses a file that is not a device binary" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	run -1 --separate-stderr simulate low.ir --input "$OPS/ops.x.npy" -o y.npy
	[ "$stderr" = "simulate: low.ir: not a qpipe device binary (bad magic)" ]
	[ ! -e y.npy ]
}

@test "simulate refuses data of the wrong shape" {
	build "$OPS/ops.onnx" "$OPS/ops.x.npy"
	run -1 --separate-stderr simulate m.bin --input "$OPS/ops.labels.npy" -o y.npy
	[[ "$stderr" == "simulate: $OPS/ops.labels.npy: array shape ("*") does not match model input '0' (N,"* ]]
	[ ! -e y.npy ]
}

@test "simulate without --input is a usage error" {
	run -2 simulate m.bin
}
