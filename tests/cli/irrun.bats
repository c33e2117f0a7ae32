#!/usr/bin/env bats
# irrun: run an IR over .npy data.  The model and its expected outputs come
# from PyTorch (tests/fixtures/gen/make_kernel_fixtures.py writes
# tests/fixtures/irrun/: tiny.onnx, tiny_x.npy, tiny_y.npy = PyTorch's
# output, tiny_labels.npy with PyTorch's argmax for 4 of the 6 samples).

load test_helper

RUN="$FIXTURES/irrun"

# Largest absolute difference between two .npy files (and equal shapes).
maxdiff() {
	"$PY" -c "
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == b.shape, (a.shape, b.shape)
assert a.dtype == np.float32, a.dtype
print('%.3g' % np.abs(a.astype(np.float64) - b).max())" "$1" "$2"
}

# Only the named files may exist in the scratch dir.
only_files() {
	[ "$(ls -A | sort)" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]
}

tiny() {
	cp "$RUN"/tiny_x.npy "$RUN"/tiny_labels.npy "$RUN"/tiny_x_nhwc.npy .
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
}

@test "--help lists every option and exits 0" {
	run -0 irrun --help
	assert_output --partial "Usage: irrun [options] [MODEL.ir] --input [INPUT=]PATH [-o Y.npy] [--eval LABELS]"
	for opt in --input --output --eval --float --force --quiet --help --version \
		   --size --resize --mean --std --scale --channels --skip --limit --shuffle; do
		assert_output --partial -- "$opt"
	done
}

@test "man page documents every option --help shows" {
	page="$QPIPE_TOP/docs/man/irrun.md"
	[ -f "$page" ]
	for opt in $(irrun --help | grep -o -- '--[a-z]*' | sort -u); do
		grep -q -- "$opt" "$page" || { echo "missing $opt"; return 1; }
	done
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^## $sec" "$page" || { echo "missing section $sec"; return 1; }
	done
}

@test "float IR output matches PyTorch" {
	need_numpy
	tiny
	run -0 irrun tiny.ir --input tiny_x.npy -o y.npy
	assert_output ""
	run -0 maxdiff y.npy "$RUN/tiny_y.npy"
	# float32 with a different summation order: a few ulp
	"$PY" -c "import sys; sys.exit(float('$output') > 1e-6)"
}

@test "output goes to standard output when -o is absent, same bytes" {
	tiny
	irrun tiny.ir --input tiny_x.npy -o a.npy
	irrun tiny.ir --input tiny_x.npy > b.npy
	cmp a.npy b.npy
	# 6 samples x 10 floats after the 128-byte header
	[ "$(stat -c %s a.npy)" -eq $((128 + 6 * 10 * 4)) ]
}

@test "the model can come from standard input" {
	tiny
	irrun tiny.ir --input tiny_x.npy -o a.npy
	irrun --input tiny_x.npy -o b.npy < tiny.ir
	cmp a.npy b.npy
}

@test "--eval prints top-1 and writes no array" {
	tiny
	run -0 --separate-stderr irrun tiny.ir --input tiny_x.npy --eval tiny_labels.npy
	[ "$output" = "top-1 0.6667 (4/6)" ]
	[ "$stderr" = "" ]
	only_files tiny.ir tiny_x.npy tiny_labels.npy tiny_x_nhwc.npy
}

@test "--eval with -o writes the array too" {
	tiny
	run -0 irrun tiny.ir --input tiny_x.npy --eval tiny_labels.npy -o y.npy
	[ "$output" = "top-1 0.6667 (4/6)" ]
	[ -s y.npy ]
}

@test "data of the wrong shape: both shapes named, exit 1, no output" {
	tiny
	run -1 --separate-stderr irrun tiny.ir --input tiny_x_nhwc.npy -o y.npy
	[ "$stderr" = "irrun: tiny_x_nhwc.npy: array shape (6,16,16,3) does not match model input 'x' (N,3,16,16) in layout NCHW" ]
	[ "$output" = "" ]
	only_files tiny.ir tiny_x.npy tiny_labels.npy tiny_x_nhwc.npy
}

@test "truncated data: exit 1, no output" {
	tiny
	head -c 1000 tiny_x.npy > cut.npy
	run -1 --separate-stderr irrun tiny.ir --input cut.npy -o y.npy
	[ "$stderr" = "irrun: cut.npy: truncated data: the header promises 18560 bytes, the file has 1000" ]
	[ ! -e y.npy ]
}

@test "not a data file: exit 1, no output" {
	tiny
	run -1 --separate-stderr irrun tiny.ir --input tiny.ir -o y.npy
	[ "$stderr" = "irrun: tiny.ir: unknown data format (want .npy, .npz, IDX, an image, a folder of images or a .txt/.lst list of images)" ]
	[ ! -e y.npy ]
}

@test "labels of the wrong length or type are refused" {
	tiny
	run -1 --separate-stderr irrun tiny.ir --input tiny_x.npy --eval tiny_x.npy
	[ "$stderr" = "irrun: tiny_x.npy: labels must have shape (6,), not rank 4 with 6 rows" ]
}

@test "usage errors exit 2" {
	tiny
	run -2 --separate-stderr irrun tiny.ir
	[ "${stderr_lines[0]}" = "irrun: no --input given" ]
	run -2 --separate-stderr irrun --input - < tiny.ir
	[ "${stderr_lines[0]}" = "irrun: the model and an input cannot both come from standard input" ]
	run -2 --separate-stderr irrun tiny.ir --input tiny_x.npy --eval tiny_labels.npy -o -
	[ "${stderr_lines[0]}" = "irrun: --eval prints to standard output; give -o a file" ]
	run -2 irrun --bogus
}

@test "a model that is not an IR: exit 1" {
	tiny
	run -1 --separate-stderr irrun tiny_x.npy --input tiny_x.npy -o y.npy
	[[ "$stderr" == "irrun: tiny_x.npy: "* ]]
	[ ! -e y.npy ]
}

@test "quantized IR runs fake-quantized: close to float, not equal" {
	need_numpy
	command -v quantize >/dev/null || skip "quantize not built"
	tiny
	calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	quantize --tpc "$QPIPE_TOP/tpc/int8.json" tiny.cal.ir -o tiny.q.ir
	irrun tiny.ir --input tiny_x.npy -o f.npy
	irrun tiny.q.ir --input tiny_x.npy -o q.npy
	run -0 maxdiff q.npy f.npy
	echo "quantized vs float: $output"
	"$PY" -c "import sys; d = float('$output'); sys.exit(not (0 < d < 0.02))"
	# --float turns fake quantization off: closer to the float model
	irrun --float tiny.q.ir --input tiny_x.npy -o nq.npy
	run -0 maxdiff nq.npy f.npy
	"$PY" -c "import sys; sys.exit(not (float('$output') < 0.005))"
}

@test "NHWC model (Keras) takes NHWC data and matches the Keras reference" {
	need_numpy
	command -v keras2ir >/dev/null || skip "keras2ir not built"
	k="$SHARED/testdata/keras/k3_h5_seq_mnist_cnn.h5"
	[ -f "$k" ] || skip "needs ../shared/testdata"
	keras2ir "$k" -o k.ir
	irrun k.ir --input "$k.input.npy" -o y.npy
	run -0 maxdiff y.npy "$k.output.npy"
	"$PY" -c "import sys; sys.exit(float('$output') > 1e-5)"
}

@test "a two-output model writes one file per -o, in output order" {
	need_numpy
	onnx2ir "$RUN/two.onnx" -o two.ir
	run -0 irrun two.ir --input "$RUN/two_x.npy" -o r.npy -o d.npy
	run -0 maxdiff r.npy "$RUN/two_r.npy"
	[ "$output" = 0 ]
	run -0 maxdiff d.npy "$RUN/two_d.npy"
	[ "$output" = 0 ]
	run -1 --separate-stderr irrun two.ir --input "$RUN/two_x.npy" -o r2.npy
	[ "$stderr" = "irrun: two.ir: the model has 2 outputs, -o was given 1 times" ]
	run -1 --separate-stderr irrun two.ir --input "$RUN/two_x.npy"
	[ "$stderr" = "irrun: two.ir: the model has 2 outputs; give -o once per output" ]
	[ ! -e r2.npy ]
}

@test "binary output to a terminal is refused" {
	command -v script >/dev/null || skip "needs script(1) for a terminal"
	tiny
	run -2 script -qec "irrun tiny.ir --input tiny_x.npy" /dev/null
	assert_output --partial "irrun: refusing to write binary output to a terminal; use -o PATH, a pipe or -f"
}

@test "lowered IR runs in integers, close to PyTorch" {
	need_numpy
	command -v quantize >/dev/null && command -v lower >/dev/null || skip "quantize/lower not built"
	tiny
	calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	quantize --tpc "$QPIPE_TOP/tpc/int8.json" tiny.cal.ir -o tiny.q.ir
	lower tiny.q.ir -o tiny.low.ir
	run -0 irrun tiny.low.ir --input tiny_x.npy -o y.npy
	run -0 maxdiff y.npy "$RUN/tiny_y.npy"
	echo "lowered vs PyTorch: $output"
	# int8 softmax output: steps of 1/256; a few steps of error at most
	"$PY" -c "import sys; sys.exit(not (float('$output') < 0.02))"
}
