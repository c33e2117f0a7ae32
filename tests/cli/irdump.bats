#!/usr/bin/env bats
# irdump on tests/fixtures/ir/tiny.ir, which tests/fixtures/gen/make_tiny_ir.py
# writes from docs/ir.md without qpipe code: the values expected here are the
# generator's, formatted by Python, never irdump's own earlier output.

load test_helper.bash

TINY="$FIXTURES/ir/tiny.ir"

@test "irdump: the committed fixture is what the generator writes" {
	"$PY" "$FIXTURES/gen/make_tiny_ir.py" fresh.ir
	cmp fresh.ir "$TINY"
}

@test "irdump: summary lists version, history, inputs, outputs, nodes, tensors" {
	run -0 --separate-stderr irdump "$TINY"
	[ -z "$stderr" ]
	[ "${lines[0]}" = "format: qpipe-ir 0.1" ]
	[ "${lines[1]}" = "history: 1" ]
	[ "${lines[2]}" = "  make_tiny_ir.py 0.1.0: make_tiny_ir.py tiny.ir" ]
	[ "${lines[3]}" = "inputs: 1" ]
	[ "${lines[4]}" = "  x: float32 [1, 2, 2, 2] NCHW" ]
	[ "${lines[5]}" = "outputs: 1" ]
	[ "${lines[6]}" = "  y: float32 [1, 8]" ]
	[ "${lines[7]}" = "nodes: 4 (BatchNormalization 1, Conv 1, Relu 1, Reshape 1)" ]
	[ "${lines[8]}" = "  conv1: Conv(x, w, b) -> c1" ]
	[ "${lines[9]}" = "  bn1: BatchNormalization(c1, bn_scale, bn_bias, bn_mean, bn_var) -> c2" ]
	[ "${lines[10]}" = "  relu1: Relu(c2) -> r" ]
	[ "${lines[11]}" = "  reshape1: Reshape(r, shape) -> y" ]
	# 13 tensors; constants w 4 + b 2 + bn 4*2 + shape 2 + w_q 4 = 20 values,
	# bytes 4*4 + 2*4 + 8*4 + 2*8 + 4*1 = 76.
	[ "${lines[12]}" = "tensors: 13 (8 constants, 5 activations)" ]
	[ "${lines[13]}" = "parameters: 20 (76 bytes)" ]
	[ "${lines[14]}" = "quantized: 2" ]
	[ "${lines[15]}" = "  x: float32 asymmetric 8-bit unsigned, per tensor (scale 0.0078125, zero point 128)" ]
	[ "${lines[16]}" = "  w_q: int8 symmetric 8-bit signed, per channel (axis 0, 2 scales)" ]
	[ "${lines[17]}" = "stats: 5 of 5 activations" ]
	[ "${lines[18]}" = "meta: fixture" ]
	[ "${#lines[@]}" -eq 19 ]
}

@test "irdump: reads standard input, from a pipe and from '-'" {
	irdump "$TINY" >want.txt
	run -0 bash -c "cat '$TINY' | irdump"
	[ "$output" = "$(cat want.txt)" ]
	run -0 bash -c "irdump - <'$TINY'"
	[ "$output" = "$(cat want.txt)" ]
}

@test "irdump --json: the header, as JSON the generator's structure matches" {
	irdump --json "$TINY" >h.json
	run -0 "$PY" - h.json <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
assert h["format"] == "qpipe-ir"
assert [n["name"] for n in h["graph"]["nodes"]] == ["conv1", "bn1", "relu1", "reshape1"]
assert h["graph"]["nodes"][1]["attrs"]["epsilon"] == {"float": 1e-05}
t = {x["name"]: x for x in h["tensors"]}
assert t["w_q"]["quant"]["scale"] == [0.015625, 0.03125]
assert t["shape"]["dtype"] == "int64" and t["shape"]["shape"] == [2]
assert h["meta"] == {"fixture": {"made_by": "tests/fixtures/gen/make_tiny_ir.py"}}
print("ok")
PY
	[ "$output" = "ok" ]
}

@test "irdump --tensor: float values equal the generator's, %.9g" {
	run -0 --separate-stderr irdump --tensor w "$TINY"
	[ "${lines[0]}" = "# name: w" ]
	[ "${lines[1]}" = "# dtype: float32" ]
	[ "${lines[2]}" = "# shape: [2, 2, 1, 1]" ]
	[ "${lines[3]}" = "# quant: none" ]
	[ "${lines[4]}" = "# stats: none" ]
	[ "${lines[5]}" = "# values: 4" ]
	want=$("$PY" -c 'import struct
for v in struct.unpack("<4f", struct.pack("<4f", 0.5, -1.25, 2.0, 0.1)): print("%.9g" % v)')
	[ "$(irdump -t w "$TINY" | grep -v '^#')" = "$want" ]
}

@test "irdump --tensor: integer tensors print as integers, with their quant" {
	run -0 irdump --tensor w_q "$TINY"
	[ "${lines[3]}" = "# quant: symmetric 8-bit signed, per channel (axis 0, 2 scales)" ]
	[ "${lines[4]}" = "# scale: 0.015625 0.03125" ]
	[ "${lines[5]}" = "# zero_point: 0 0" ]
	[ "$(irdump -t w_q "$TINY" | grep -v '^#' | tr '\n' ' ')" = "-128 127 5 -7 " ]
	[ "$(irdump -t shape "$TINY" | grep -v '^#' | tr '\n' ' ')" = "1 8 " ]
}

@test "irdump --tensor: unknown tensor or no data is exit 1" {
	run -1 --separate-stderr irdump --tensor nope "$TINY"
	[ "$stderr" = "irdump: $TINY: no tensor 'nope'" ]
	[ -z "$output" ]
	run -1 --separate-stderr irdump --tensor c1 "$TINY"
	[ "$stderr" = "irdump: $TINY: tensor 'c1' has no data (not a constant)" ]
}

@test "irdump --stats: one line per tensor with statistics" {
	run -0 irdump --stats "$TINY"
	[ "${lines[0]}" = "x min -1 max 0.9921875 count 8" ]
	[ "${lines[2]}" = "c2 min -3 max 4.5 count 8" ]
	[ "${#lines[@]}" -eq 5 ]
}

@test "irdump: usage errors exit 2" {
	run -2 --separate-stderr irdump --bogus "$TINY"
	[ "${stderr_lines[0]}" = "irdump: unknown option '--bogus'" ]
	run -2 irdump "$TINY" "$TINY"
	run -2 irdump --json --stats "$TINY"
	run -2 irdump --tensor
}

@test "irdump: --help and --version" {
	run -0 irdump --help
	[ "${lines[0]}" = "Usage: irdump [options] [FILE.ir]" ]
	[[ "$output" == *"--tensor NAME"* ]]
	run -0 irdump --version
	[[ "$output" == "irdump (qpipe) "*", IR format 0.1" ]]
}

@test "irdump: a missing file is exit 1 with the OS error" {
	run -1 --separate-stderr irdump nope.ir
	[ "$stderr" = "irdump: nope.ir: cannot open: No such file or directory" ]
	[ -z "$output" ]
}

@test "irdump: files qpipe writes pass the independent spec checker" {
	command -v onnx2ir >/dev/null || skip "onnx2ir not built"
	[ -f "$EXAMPLE/model.onnx" ] || skip "no example model"
	onnx2ir "$EXAMPLE/model.onnx" -o m.ir
	run -0 "$PY" "$FIXTURES/gen/check_ir.py" m.ir
	[ "$output" = "ok" ]
	run -0 "$PY" "$FIXTURES/gen/check_ir.py" "$TINY"
	[ "$output" = "ok" ]
	# Deterministic: the same input gives the same bytes.
	mkdir again && (cd again && onnx2ir "$EXAMPLE/model.onnx" -o m.ir)
	cmp m.ir again/m.ir
}
