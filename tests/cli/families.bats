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

# int8 FAMILY [STEP]: float -> device binary with tpc/int8.json; simulate on
# the binary equals irrun on the lowered IR bit for bit.  With STEP, irrun on
# the lowered IR is also within one output quantization step of irrun on the
# quantized (fake-quant) IR on at least 99% of elements (issue 21); the
# figure is printed.  MobileNetV2 (88.7%), MobileNetV3 (84.4%), EfficientNet
# (84.4%) and ShuffleNetV2 (98.1%) do not reach that (up to 5 steps), so they
# are not claimed here.  Run in isolation on the lowered op's own input, every
# op's fake quantization equals the exact real-number result and is within
# one step of its kernel; the kernels differ on 0.2-7% of elements because the
# requantization rounds twice (SRDHM, then RDIVPOT: docs/ir.md section 6),
# and those one-step flips grow through the deep nets.  With a single rounding
# of x*multiplier/2^(31-shift) all four reach 100%, max 1 step.
int8_family() {
	local m=$1
	[ -f "$FAM/$m.onnx" ] || fail "fixture $m missing"
	need_numpy
	run -0 onnx2ir -q "$FAM/$m.onnx" -o f.ir
	run -0 calibrate -q --data "$FAM/calib.npy" f.ir -o c.ir
	run -0 quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" c.ir -o q.ir
	run -0 lower q.ir -o l.ir
	run -0 emit l.ir -o m.bin
	run -0 irrun l.ir --input "$FAM/test-input.npy" -o low.npy
	run -0 simulate m.bin --input "$FAM/test-input.npy" -o sim.npy
	cmp low.npy sim.npy
	[ "${2:-}" = step ] || return 0
	run -0 irrun q.ir --input "$FAM/test-input.npy" -o fq.npy
	irdump --json q.ir >q.json
	run -0 "$PY" - <<'PY'
import json, numpy as np
h = json.load(open("q.json"))
out = h["graph"]["outputs"][0]["name"]
scale = [t for t in h["tensors"] if t["name"] == out][0]["quant"]["scale"][0]
a, b = np.load("fq.npy"), np.load("low.npy")
within = float(np.mean(np.abs(a - b) <= scale * (1 + 1e-4)))
print("within one step (%.6g): %.2f%% of %d" % (scale, 100 * within, a.size))
assert within >= 0.99, within
PY
	echo "$output"
}

@test "families: resnet goes to int8, simulate = irrun, fake-quant within one step" { int8_family resnet step; }
@test "families: squeezenet goes to int8, simulate = irrun, fake-quant within one step" { int8_family squeezenet step; }
@test "families: mobilenetv2 goes to int8 and simulate = irrun bit for bit" { int8_family mobilenetv2; }
@test "families: mobilenetv3 goes to int8 and simulate = irrun bit for bit" { int8_family mobilenetv3; }
@test "families: efficientnet goes to int8 and simulate = irrun bit for bit" { int8_family efficientnet; }
@test "families: shufflenetv2 goes to int8 and simulate = irrun bit for bit" { int8_family shufflenetv2; }
