#!/usr/bin/env bats
# The vision-family fixtures of issue 21 (tests/fixtures/families/, trained on
# Fashion-MNIST by tests/fixtures/gen/train_families.py): each ONNX model
# imports with onnx2ir, and irrun on the 100 test images reproduces PyTorch's
# float output within 1e-4 (absolute; the logits are of order 10).  The SSD
# model's second output, the box regressions, is compared too.  Skips with a
# note when the fixtures have not been generated.

load test_helper

FAM="$BATS_TEST_DIRNAME/../fixtures/families"

# check_family NAME: onnx2ir NAME.onnx, irrun on test-input.npy, compare.
check_family() {
	local name=$1
	[ -f "$FAM/$name.onnx" ] && [ -f "$FAM/$name.ref.npy" ] && [ -f "$FAM/test-input.npy" ] ||
		skip "fixture $name not generated: run /usr/bin/python3 tests/fixtures/gen/train_families.py"
	need_numpy
	run onnx2ir "$FAM/$name.onnx" -o m.ir
	[ "$status" -eq 0 ] || fail "onnx2ir failed: $output"
	if [ -f "$FAM/$name.boxes.npy" ]; then
		run irrun m.ir --input "$FAM/test-input.npy" -o y.npy -o boxes.npy
	else
		run irrun m.ir --input "$FAM/test-input.npy" -o y.npy
	fi
	[ "$status" -eq 0 ] || fail "irrun failed: $output"
	run npy_close y.npy "$FAM/$name.ref.npy" 1e-4
	[ "$status" -eq 0 ] || fail "logits differ from PyTorch: $output"
	if [ -f "$FAM/$name.boxes.npy" ]; then
		run npy_close boxes.npy "$FAM/$name.boxes.npy" 1e-4
		[ "$status" -eq 0 ] || fail "boxes differ from PyTorch: $output"
	fi
}

@test "families: resnet matches PyTorch in float" { check_family resnet; }
@test "families: mobilenetv2 matches PyTorch in float" { check_family mobilenetv2; }
@test "families: mobilenetv3 matches PyTorch in float" { check_family mobilenetv3; }
@test "families: efficientnet matches PyTorch in float" { check_family efficientnet; }
@test "families: shufflenetv2 matches PyTorch in float" { check_family shufflenetv2; }
@test "families: squeezenet matches PyTorch in float" { check_family squeezenet; }
@test "families: unet matches PyTorch in float" { check_family unet; }
@test "families: ssd (two outputs) matches PyTorch in float" { check_family ssd; }

# int8_family NAME TARGET: float -> device binary with tpc/TARGET.json;
# simulate on the binary equals irrun on the lowered IR bit for bit (every
# output), and irrun on the lowered IR is within one output quantization step
# of irrun on the quantized (fake-quant) IR on at least 99% of elements of
# each output (issue 21; one_step prints the figures).  Before the
# requantization rounded once, with ties away from zero (docs/decisions.md),
# MobileNetV2/V3, EfficientNet and ShuffleNetV2 reached only 84-98% here.
int8_family() {
	local m=$1 target=$2 outs=(-o y.npy) low=(-o low0.npy) sim=(-o sim0.npy) fq=(-o fq0.npy)
	local pairs=(fq0.npy low0.npy)
	[ -f "$FAM/$m.onnx" ] || skip "fixture $m not generated: run /usr/bin/python3 tests/fixtures/gen/train_families.py"
	need_numpy
	if [ -f "$FAM/$m.boxes.npy" ]; then
		low+=(-o low1.npy) sim+=(-o sim1.npy) fq+=(-o fq1.npy) pairs+=(fq1.npy low1.npy)
	fi
	run -0 onnx2ir -q "$FAM/$m.onnx" -o f.ir
	run -0 calibrate -q --data "$FAM/calib.npy" f.ir -o c.ir
	run -0 quantize -q --tpc "$QPIPE_TOP/tpc/$target.json" c.ir -o q.ir
	run lower q.ir -o l.ir
	[ "$status" -eq 0 ] || fail "lower failed: $output"
	run -0 emit l.ir -o m.bin
	run -0 irrun l.ir --input "$FAM/test-input.npy" "${low[@]}"
	run -0 simulate m.bin --input "$FAM/test-input.npy" "${sim[@]}"
	cmp low0.npy sim0.npy
	[ ! -f low1.npy ] || cmp low1.npy sim1.npy
	run -0 irrun q.ir --input "$FAM/test-input.npy" "${fq[@]}"
	run one_step q.ir "${pairs[@]}"
	printf '# %s %s: %s\n' "$m" "$target" "${output//$'\n'/; }" >&3
	[ "$status" -eq 0 ] || fail "lowered not within one step of fake quantization: $output"
}

@test "families: resnet with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family resnet int8; }
@test "families: resnet with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family resnet imx500; }
@test "families: mobilenetv2 with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family mobilenetv2 int8; }
@test "families: mobilenetv2 with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family mobilenetv2 imx500; }
@test "families: mobilenetv3 with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family mobilenetv3 int8; }
@test "families: mobilenetv3 with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family mobilenetv3 imx500; }
@test "families: efficientnet with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family efficientnet int8; }
@test "families: efficientnet with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family efficientnet imx500; }
@test "families: shufflenetv2 with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family shufflenetv2 int8; }
@test "families: shufflenetv2 with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family shufflenetv2 imx500; }
@test "families: squeezenet with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family squeezenet int8; }
@test "families: squeezenet with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family squeezenet imx500; }
@test "families: unet with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family unet int8; }
@test "families: unet with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family unet imx500; }
@test "families: ssd with int8: simulate = irrun, lowered within one step of fake-quant" { int8_family ssd int8; }
@test "families: ssd with imx500: simulate = irrun, lowered within one step of fake-quant" { int8_family ssd imx500; }
