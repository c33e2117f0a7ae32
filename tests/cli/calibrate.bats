#!/usr/bin/env bats
# calibrate: activation statistics.  Expected min/max come from PyTorch
# (tests/fixtures/irrun/tiny_expected.txt, written by
# tests/fixtures/gen/make_kernel_fixtures.py); counts are hand-calculated
# from the shapes.

load test_helper

RUN="$FIXTURES/irrun"

tiny() {
	cp "$RUN"/tiny_x.npy "$RUN"/tiny_x_nhwc.npy .
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
}

expected() {
	awk -v k="$1" '$1 == k { print $2 }' "$RUN/tiny_expected.txt"
}

# stat TENSOR FIELD: from irdump --stats of tiny.cal.ir
stat_of() {
	irdump --stats tiny.cal.ir | awk -v t="$1" -v f="$2" '$1 == t { for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }'
}

# close A B: |A - B| <= 1e-5 (PyTorch's conv sums in another order)
close() {
	awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5) }'
}

only_files() {
	[ "$(ls -A | sort)" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]
}

@test "--help lists every option and exits 0" {
	run -0 calibrate --help
	assert_output --partial "Usage: calibrate [options] [MODEL.ir] --data X.npy [-o OUT.ir]"
	for opt in --data --limit --output --quiet --help --version; do
		assert_output --partial -- "$opt"
	done
}

@test "man page documents every option --help shows" {
	page="$QPIPE_TOP/docs/man/calibrate.md"
	[ -f "$page" ]
	for opt in $(calibrate --help | grep -o -- '--[a-z]*' | sort -u); do
		grep -q -- "$opt" "$page" || { echo "missing $opt"; return 1; }
	done
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^## $sec" "$page" || { echo "missing section $sec"; return 1; }
	done
}

@test "statistics match PyTorch's activations" {
	tiny
	run -0 calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	# the graph input: exact (no arithmetic involved)
	[ "$(stat_of x min)" = "$(expected input_min)" ]
	[ "$(stat_of x max)" = "$(expected input_max)" ]
	close "$(stat_of /Relu_output_0 min)" 0
	close "$(stat_of /Relu_output_0 max)" "$(expected relu_max)"
	close "$(stat_of /Add_output_0 min)" "$(expected add_min)"
	close "$(stat_of /Add_output_0 max)" "$(expected add_max)"
	close "$(stat_of y min)" "$(expected y_min)"
	close "$(stat_of y max)" "$(expected y_max)"
	# counts: 6 samples x 3x16x16 input, 8x8x8 after the stride-2 conv,
	# 10 classes
	[ "$(stat_of x count)" = 4608 ]
	[ "$(stat_of /Relu_output_0 count)" = 3072 ]
	[ "$(stat_of y count)" = 60 ]
}

@test "--limit uses the first N samples" {
	tiny
	calibrate tiny.ir --data tiny_x.npy --limit 2 -o tiny.cal.ir
	[ "$(stat_of x count)" = 1536 ]
	[ "$(stat_of y count)" = 20 ]
	run -2 calibrate tiny.ir --data tiny_x.npy --limit 0 -o out.ir
}

@test "deterministic, works in a pipe, appends history" {
	tiny
	mkdir d1 d2
	(cd d1 && calibrate ../tiny.ir --data ../tiny_x.npy -o out.ir)
	(cd d2 && calibrate ../tiny.ir --data ../tiny_x.npy -o out.ir)
	cmp d1/out.ir d2/out.ir
	mv d1/out.ir a.ir
	# the pipe form records another argv in the history; same statistics
	calibrate --data tiny_x.npy < tiny.ir > c.ir
	[ "$(irdump --stats c.ir)" = "$(irdump --stats a.ir)" ]
	run -0 irdump --json a.ir
	assert_output --partial '"tool": "calibrate"'
	# the rest of the pipeline accepts it
	irrun a.ir --input tiny_x.npy -o y.npy
}

@test "an already quantized IR is refused" {
	command -v quantize >/dev/null || skip "quantize not built"
	tiny
	calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	quantize --tpc "$QPIPE_TOP/tpc/int8.json" tiny.cal.ir -o tiny.q.ir
	run -1 --separate-stderr calibrate tiny.q.ir --data tiny_x.npy -o out.ir
	[ "$stderr" = "calibrate: tiny.q.ir: the IR is already quantized; calibrate takes the float IR from onnx2ir or keras2ir" ]
	[ ! -e out.ir ]
}

@test "data of the wrong shape: both shapes named, exit 1, no output" {
	tiny
	run -1 --separate-stderr calibrate tiny.ir --data tiny_x_nhwc.npy -o out.ir
	[ "$stderr" = "calibrate: tiny_x_nhwc.npy: array shape (6,16,16,3) does not match model input 'x' (N,3,16,16) in layout NCHW" ]
	only_files tiny.ir tiny_x.npy tiny_x_nhwc.npy
}

@test "non-finite data is an error" {
	tiny
	# a float32 (1,3,16,16) array of NaN: header as numpy writes it
	{
		printf '\x93NUMPY\x01\x00\x76\x00'
		printf "%-117s\n" "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 16), }"
		# 0xffffffff is a NaN
		head -c $((3 * 16 * 16 * 4)) /dev/zero | tr '\0' '\377'
	} > nan.npy
	run -1 --separate-stderr calibrate tiny.ir --data nan.npy -o out.ir
	[ "$stderr" = "calibrate: tiny.ir: tensor 'x' has a non-finite value (NaN) in the batch starting at sample 0" ]
	[ ! -e out.ir ]
}

@test "usage errors exit 2" {
	tiny
	run -2 --separate-stderr calibrate tiny.ir -o out.ir
	[ "${stderr_lines[0]}" = "calibrate: no --data given" ]
	run -2 --separate-stderr calibrate --data - -o out.ir < tiny.ir
	[ "${stderr_lines[0]}" = "calibrate: the model and the data cannot both come from standard input" ]
}
