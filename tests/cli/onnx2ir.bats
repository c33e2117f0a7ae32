#!/usr/bin/env bats
# onnx2ir: ONNX model -> IR.  The models in tests/fixtures/onnx are made by
# tests/fixtures/gen/make_onnx_fixtures.py (PyTorch exports at opsets 13 and
# 17, and onnx.helper graphs); NAME.y.npy are PyTorch's outputs for the
# seeded NAME.x.npy, computed without qpipe.  Numbers are checked by running
# the imported IR with irrun; the comparison itself uses numpy.

load test_helper

ONNX="$FIXTURES/onnx"

need_irrun() {
	command -v irrun >/dev/null || skip "irrun is not built"
}

# Only the named files may exist in the scratch dir (nothing left behind).
only_files() {
	[ "$(ls -A | sort)" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]
}

# close_rel ACTUAL.npy EXPECTED.npy: same shape, max |a - b| <= 1e-4 max |b|.
close_rel() {
	"$PY" -c 'import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2]).astype(np.float64)
if a.shape != b.shape:
    sys.exit("shape %s, expected %s" % (a.shape, b.shape))
err = float(np.abs(a - b).max()) if a.size else 0.0
mag = float(np.abs(b).max()) if b.size else 0.0
print("max abs error %g, magnitude %g" % (err, mag))
sys.exit(0 if err <= 1e-4 * max(mag, 1e-30) else 1)' "$1" "$2"
}

# runs_like NAME: import NAME.onnx, run it on NAME.x.npy, compare with NAME.y.npy
runs_like() {
	need_numpy
	need_irrun
	run -0 bash -c "onnx2ir -q '$ONNX/$1.onnx' | irrun -q --input '$ONNX/$1.x.npy' -o y.npy"
	run -0 npy_close y.npy "$ONNX/$1.y.npy" 1e-4
	run -0 close_rel y.npy "$ONNX/$1.y.npy"
}

# ---- usage ---------------------------------------------------------------------

@test "--help lists every option and exits 0" {
	run -0 onnx2ir --help
	assert_output --partial "Usage: onnx2ir [options] [MODEL.onnx] [-o OUTPUT.ir]"
	for opt in --output --quiet --help --version; do
		assert_output --partial -- "$opt"
	done
}

@test "man page documents every option --help shows" {
	page="$QPIPE_TOP/docs/man/onnx2ir.md"
	[ -f "$page" ]
	for opt in $(onnx2ir --help | grep -o -- '--[a-z]*' | sort -u); do
		grep -q -- "$opt" "$page" || { echo "missing $opt"; return 1; }
	done
}

@test "--version names the tool and the IR format" {
	run -0 onnx2ir --version
	assert_output --regexp '^onnx2ir \(qpipe\) [0-9.]+, IR format [0-9]+\.[0-9]+$'
}

@test "bad usage exits 2 with the synopsis" {
	run -2 --separate-stderr onnx2ir --no-such-option "$ONNX/cnn13.onnx" -o out.ir
	[ "${stderr_lines[0]}" = "onnx2ir: unknown option '--no-such-option'" ]
	[ "${stderr_lines[1]}" = "usage: onnx2ir [options] [MODEL.onnx] [-o OUTPUT.ir]" ]
	run -2 --separate-stderr onnx2ir "$ONNX/cnn13.onnx" "$ONNX/cnn17.onnx" -o out.ir
	[[ "${stderr_lines[0]}" == "onnx2ir: more than one model given"* ]]
	run -2 --separate-stderr onnx2ir "$ONNX/cnn13.onnx" -o
	[ "${stderr_lines[0]}" = "onnx2ir: option '-o' needs an argument" ]
	only_files
}

# ---- importing and running -----------------------------------------------------

@test "torch export, opset 13 (Conv, BatchNormalization, pools, constant Reshape, Gemm, Softmax) matches torch" {
	runs_like cnn13
}

@test "torch export, opset 17 (Flatten, dynamic batch) matches torch" {
	runs_like cnn17
}

@test "torch export, opset 17 (Transpose, MatMul, Mul, Add, GlobalAveragePool) matches torch" {
	runs_like matmul17
}

@test "auto_pad SAME_UPPER / SAME_LOWER on Conv, MaxPool, AveragePool matches torch" {
	runs_like autopad_same
}

@test "auto_pad VALID with dilations, opset 18, matches torch" {
	runs_like autopad_valid
}

@test "Constant nodes, Identity, Dropout, typed tensor fields, Gemm attributes match torch" {
	runs_like constants
}

@test "torch x.view(x.size(0), -1) with a dynamic batch: the Shape chain folds to a constant Reshape" {
	runs_like reshape_computed
	run -0 bash -c "onnx2ir -q '$ONNX/reshape_computed.onnx' | irdump -"
	assert_output --partial "nodes: 2 (Relu 1, Reshape 1)"
}

@test "torch export, opset 13: hardswish, avg_pool2d count_include_pad, split/chunk/cat, silu, interpolate, ConvTranspose, clamp, mean/sum, view" {
	runs_like torchops13
}

@test "torch export, opset 17: the same model matches torch" {
	runs_like torchops17
	# the count_include_pad Pad went into the AveragePool, the Shape chains folded
	run -0 bash -c "onnx2ir -q '$ONNX/torchops17.onnx' | irdump -"
	refute_output --partial "Pad"
	refute_output --partial "Shape"
	refute_output --partial "Gather"
}

@test "data-movement ops, opset 13 forms (Split/Squeeze/Unsqueeze/Slice/Pad inputs, Reduce axes attribute)" {
	runs_like tensor13
}

@test "data-movement ops, opset 18 forms (Pad axes, Split num_outputs, Reduce axes inputs)" {
	runs_like tensor18
}

@test "math ops, Clip with inputs, Quantize/DequantizeLinear, Identity on the graph output, opset 13" {
	runs_like math13
}

@test "math ops at opset 19" {
	runs_like math19
}

@test "Resize with scales and sizes, nearest and linear, opsets 13, 18 (axes, keep_aspect_ratio_policy) and 20" {
	runs_like resize13
	runs_like resize18
	runs_like resize20
}

@test "zero Pads fold into AveragePool (count_include_pad), Conv and MaxPool after Relu" {
	runs_like pad_fold
	run -0 bash -c "onnx2ir -q '$ONNX/pad_fold.onnx' | irdump -"
	assert_output --partial "nodes: 4 (AveragePool 1, Conv 1, MaxPool 1, Relu 1)"
}

@test "external data (onnx.save save_as_external_data) is read from the model's directory" {
	runs_like external_ok
	# from another working directory too
	mkdir sub && cd sub
	run -0 onnx2ir -q "$ONNX/external_ok.onnx" -o m.ir
}

@test "external data: missing file, escaping path, span past the end, stdin are refused" {
	run -1 --separate-stderr onnx2ir "$ONNX/external.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/external.onnx: tensor 'w': external data file 'weights.bin': No such file or directory" ]
	run -1 --separate-stderr onnx2ir "$ONNX/external_escape.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/external_escape.onnx: tensor 'w': external data location '../onnx/external_ok.data' must be a relative path inside the model's directory" ]
	run -1 --separate-stderr onnx2ir "$ONNX/external_short.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/external_short.onnx: tensor 'w': external data [1000000, 1000064) is outside file 'external_ok.data' of 200 bytes" ]
	run -1 --separate-stderr bash -c "onnx2ir - -o out.ir < '$ONNX/external_ok.onnx'"
	[ "$stderr" = "onnx2ir: -: tensor 'w1' keeps its data in an external file; read the model from a path, not standard input" ]
	only_files
}

@test "auto_pad becomes explicit pads (SAME_UPPER: odd unit at the end)" {
	command -v jq >/dev/null || skip "needs jq"
	onnx2ir "$ONNX/autopad_same.onnx" -o m.ir
	# 8 wide, kernel 3, stride 2: output 4, total padding 3*2+3-8 = 1
	run -0 bash -c "irdump --json m.ir | jq -c '[.graph.nodes[] | {(.name): .attrs.pads.ints}] | add'"
	assert_output '{"conv_upper":[0,0,1,1],"conv_lower":[1,1,0,0],"add":null,"pool_max":[0,0,1,1],"pool_avg":[1,1,0,0]}'
	run -0 bash -c "irdump --json m.ir | jq -c '[.graph.nodes[].attrs.auto_pad] | unique'"
	assert_output '[null]'
}

@test "pass-through ops vanish, duplicate and empty node names become unique" {
	onnx2ir -q "$ONNX/constants.onnx" -o m.ir
	run -0 irdump m.ir
	assert_output --partial "nodes: 7 (Add 1, Flatten 1, Gemm 1, Mul 1, Reshape 1, Softmax 1, Transpose 1)"
	# the first node called 'dup' is a Constant (now a tensor); the Add
	# that repeats the name gets op type + index
	assert_output --partial "Add_3: Add(x, c1) -> a"
	assert_output --partial "reshape: Reshape(f, shape:0) -> r/1"
	# a graph input that is also an initializer is a constant, and the
	# unused initializer is dropped
	assert_output --partial "inputs: 1"
	refute_output --partial "unused"
}

@test "a dynamic batch dimension becomes 1 with a warning; -q silences it" {
	run -0 --separate-stderr onnx2ir "$ONNX/cnn17.onnx" -o m.ir
	[ "$stderr" = "onnx2ir: $ONNX/cnn17.onnx: input 'x': dynamic batch dimension 'N' set to 1" ]
	run -0 irdump m.ir
	assert_output --partial "x: float32 [1, 1, 8, 8]"
	run -0 --separate-stderr onnx2ir -q "$ONNX/cnn17.onnx" -o m.ir
	[ -z "$stderr" ]
}

@test "deterministic; stdin in and stdout out give the same graph as paths" {
	mkdir one two
	(cd one && onnx2ir "$ONNX/cnn13.onnx" -o m.ir)
	(cd two && onnx2ir "$ONNX/cnn13.onnx" -o m.ir)
	cmp one/m.ir two/m.ir
	onnx2ir "$ONNX/cnn13.onnx" -o a.ir
	onnx2ir "$ONNX/cnn13.onnx" -o b.ir
	onnx2ir < "$ONNX/cnn13.onnx" > c.ir
	onnx2ir - < "$ONNX/cnn13.onnx" > d.ir
	cmp c.ir <(onnx2ir < "$ONNX/cnn13.onnx")
	run -0 irdump d.ir
	assert_output --partial "nodes: 10 (AveragePool 1, BatchNormalization 1, Conv 2, Gemm 1, MaxPool 1, Relu 2, Reshape 1, Softmax 1)"
	command -v jq >/dev/null || skip "needs jq to compare headers without the history"
	# only the history (argv) may differ
	for f in b c d; do
		cmp <(irdump --json a.ir | jq -S 'del(.history)') <(irdump --json $f.ir | jq -S 'del(.history)')
		cmp <(irdump --tensor fc.weight a.ir) <(irdump --tensor fc.weight $f.ir)
	done
}

@test "history records the command line as typed" {
	onnx2ir -o m.ir -q "$ONNX/cnn13.onnx"
	run -0 irdump m.ir
	assert_output --partial "onnx2ir 0.1.0: onnx2ir -o m.ir -q $ONNX/cnn13.onnx"
}

# ---- refused models: one clear message, exit 1, nothing written --------------------

@test "every unsupported op is listed, one line each, exit 1, no output file" {
	run -1 --separate-stderr onnx2ir "$ONNX/unsupported.onnx" -o out.ir
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "${stderr_lines[0]}" = "onnx2ir: $ONNX/unsupported.onnx: unsupported op 'Det' (node 'det_1')" ]
	[ "${stderr_lines[1]}" = "onnx2ir: $ONNX/unsupported.onnx: unsupported op 'NonZero' (first node 'nz_2', 2 nodes)" ]
	[ "${stderr_lines[2]}" = "onnx2ir: $ONNX/unsupported.onnx: unsupported op 'Unique' (node 'Unique_4')" ]
	[ -z "$output" ]
	[ ! -e out.ir ]
	only_files
}

@test "ops of other domains are unsupported ops" {
	run -1 --separate-stderr onnx2ir "$ONNX/custom_domain.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/custom_domain.onnx: unsupported op 'Relu' of domain 'com.example' (node 'custom')" ]
	only_files
}

@test "opsets below 7 and above 20 are refused; 12 imports" {
	run -1 --separate-stderr onnx2ir "$ONNX/opset6.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/opset6.onnx: opset 6 is not supported (supported: 7 to 20); convert the model with onnx.version_converter" ]
	run -1 --separate-stderr onnx2ir "$ONNX/opset21.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/opset21.onnx: opset 21 is not supported (supported: 7 to 20)" ]
	only_files
	run -0 onnx2ir "$ONNX/opset12.onnx" -o out.ir
}

@test "a Reshape shape computed at run time is refused" {
	run -1 --separate-stderr onnx2ir "$ONNX/reshape_input.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/reshape_input.onnx: shape 'shape' is not a constant, even after constant folding (node 'rs', op 'Reshape')" ]
	only_files
}

@test "float16 tensors and unknown spatial dims are refused" {
	run -1 --separate-stderr onnx2ir "$ONNX/float16.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/float16.onnx: tensor 'w16' has dtype float16; supported: float, int64, int32, int16, int8, uint8, bool" ]
	run -1 --separate-stderr onnx2ir "$ONNX/dynamic_hw.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/dynamic_hw.onnx: graph input 'x' dimension 2 ('height') is unknown; only the batch dimension (0) may be dynamic" ]
	only_files
}

@test "garbage, empty and truncated files are refused" {
	printf 'this is not an onnx model\n' > garbage.onnx
	run -1 --separate-stderr onnx2ir garbage.onnx -o out.ir
	[ "$stderr" = "onnx2ir: garbage.onnx: not a valid ONNX model (protobuf parse failed)" ]
	: > empty.onnx
	run -1 --separate-stderr onnx2ir empty.onnx -o out.ir
	[ "$stderr" = "onnx2ir: empty.onnx: not a valid ONNX model (no graph)" ]
	head -c 1000 "$ONNX/cnn13.onnx" > cut.onnx
	run -1 --separate-stderr onnx2ir cut.onnx -o out.ir
	[ "$stderr" = "onnx2ir: cut.onnx: not a valid ONNX model (protobuf parse failed)" ]
	only_files garbage.onnx empty.onnx cut.onnx
}

@test "a missing model file names the file and the OS error" {
	run -1 --separate-stderr onnx2ir no-such.onnx -o out.ir
	[ "$stderr" = "onnx2ir: no-such.onnx: No such file or directory" ] ||
		[[ "$stderr" == "onnx2ir: no-such.onnx: "*"No such file or directory" ]]
	only_files
}

@test "an unwritable output directory fails with exit 1" {
	run -1 --separate-stderr onnx2ir "$ONNX/cnn13.onnx" -o no-such-dir/out.ir
	[[ "$stderr" == "onnx2ir: no-such-dir/out.ir: "* ]]
	only_files
}

# tests/fixtures/onnx/fuzz: models that crashed onnx2ir under the sanitizer
# build before they were fixed (found by tests/fuzz/fuzz.py; see its README).
# Each must now be one clear line naming what is wrong, exit 1, no output.
refused_fuzz() {
	run -1 --separate-stderr onnx2ir "$ONNX/fuzz/$1.onnx" -o out.ir
	[ "$stderr" = "onnx2ir: $ONNX/fuzz/$1.onnx: $2" ]
	only_files
}

@test "fuzz: an empty name for a required input is an error, not a read out of bounds" {
	refused_fuzz empty_required_input "input 0 is required but its name is empty (node 'Transpose_0', op 'Transpose')"
	refused_fuzz pool_empty_input "input 0 is required but its name is empty (node 'pool_valid', op 'MaxPool')"
}

@test "fuzz: an empty string attribute is read as empty" {
	refused_fuzz empty_string_attr "coordinate_transformation_mode '' is not supported (node 'Resize_0', op 'Resize')"
}

@test "fuzz: dims larger than the data are refused before anything is allocated" {
	refused_fuzz huge_dims_short_data "tensor 'fc.bias' has 40 bytes of raw data, expected 34359738368 (8589934592 elements of float32)"
	refused_fuzz constant_huge_dims "node '/Constant_1': tensor '/Constant_1_output_0' has 8 bytes of raw data, expected 8796093022208 (1099511627776 elements of int64)"
}

@test "fuzz: window and pad sizes near INT64_MAX are refused, not overflowed" {
	refused_fuzz huge_dilation "attribute 'dilations' value 9223372036854775807 is above 2147483647 (node 'conv_valid', op 'Conv')"
	refused_fuzz pad_overflow "pads of axis 0 overflow its length (node 'Pad_2', op 'Pad')"
}
