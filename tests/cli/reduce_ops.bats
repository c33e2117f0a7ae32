#!/usr/bin/env bats
# ReduceMin, ReduceProd, ReduceL1, ReduceL2 and ArgMin through onnx2ir and
# irrun (issue 20: ops without an ONNX node test in ../shared/testdata).
# The models in tests/fixtures/onnx/reduce are made by
# tests/fixtures/gen/make_reduce_fixtures.py with onnx.helper; NAME.y.npy is
# numpy's answer from the ONNX operator spec for the seeded NAME.x.npy,
# computed without qpipe.  Reduce* are compared within 1e-5 of the
# reference's largest magnitude, ArgMin exactly.

load test_helper

REDUCE="$FIXTURES/onnx/reduce"

need_irrun() {
	command -v irrun >/dev/null || skip "irrun is not built"
}

# check_cases TOL PATTERN: every case REDUCE/PATTERN.onnx imported, run on
# its x.npy and compared with its y.npy, within TOL times the reference's
# largest magnitude (TOL 0: exactly).  Names the failing case.
check_cases() {
	local tol=$1 m name n=0 abs
	need_numpy
	need_irrun
	for m in "$REDUCE"/$2.onnx; do
		[ -f "$m" ] || { echo "no case $2"; false; }
		name=${m##*/}
		name=${name%.onnx}
		n=$((n + 1))
		abs=$("$PY" -c 'import sys, numpy as np
b = np.abs(np.load(sys.argv[1]).astype(np.float64))
print("%.9g" % (float(sys.argv[2]) * (b.max() if b.size else 0.0)))' "$REDUCE/$name.y.npy" "$tol")
		run onnx2ir -q "$m" -o "$name.ir"
		[ "$status" -eq 0 ] || { echo "$name: onnx2ir: $output"; false; }
		run irrun -q "$name.ir" --input "$REDUCE/$name.x.npy" -o "$name.npy"
		[ "$status" -eq 0 ] || { echo "$name: irrun: $output"; false; }
		run npy_close "$name.npy" "$REDUCE/$name.y.npy" "$abs"
		[ "$status" -eq 0 ] || { echo "$name: $output (tolerance $abs)"; false; }
	done
	[ "$n" -gt 0 ]
}

@test "ReduceMin: axes attribute (opset 13), axes input (18, 20), keepdims 0/1, negative axis, all axes, noop" {
	check_cases 1e-5 'ReduceMin_opset*'
}

@test "ReduceProd: axes attribute (opset 13), axes input (18), keepdims 0/1, negative axis, all axes, noop" {
	check_cases 1e-5 'ReduceProd_opset*'
}

@test "ReduceL1: axes attribute (opset 13), axes input (18), keepdims 0/1, negative axis, all axes, noop" {
	check_cases 1e-5 'ReduceL1_opset*'
}

@test "ReduceL2: axes attribute (opset 13), axes input (18), keepdims 0/1, negative axis, all axes, noop" {
	check_cases 1e-5 'ReduceL2_opset*'
}

@test "ArgMin: first and last index of tied minima, keepdims 0/1, negative axis, opsets 13 and 20, exact" {
	check_cases 0 'ArgMin_opset*'
}

@test "ArgMin: the IR output is int64, the kept axis size 1" {
	need_irrun
	run -0 onnx2ir -q "$REDUCE/ArgMin_opset13_axis1_keep_last.onnx" -o m.ir
	run -0 irdump m.ir
	assert_output --partial "y: int64 [2, 1, 4]"
}

@test "Reduce*: axes as an attribute at opset 18 is refused, naming the node" {
	run -1 onnx2ir -q "$REDUCE/refuse_opset18_axes_attribute.onnx" -o m.ir
	assert_output --partial "attribute 'axes' is not part of opset 18; axes is an input"
	assert_output --partial "ReduceL2"
	[ ! -e m.ir ]
}

@test "Reduce*: axes as an input at opset 13 is refused, naming the node" {
	run -1 onnx2ir -q "$REDUCE/refuse_opset13_axes_input.onnx" -o m.ir
	assert_output --partial "axes is an attribute in opset 13, not an input"
	assert_output --partial "ReduceProd"
	[ ! -e m.ir ]
}

@test "reduce_ops: the generated fixtures are byte-identical when regenerated" {
	need_numpy
	"$PY" -c 'import onnx' 2>/dev/null || skip "onnx for /usr/bin/python3 not installed"
	run -0 "$PY" "$QPIPE_TOP/tests/fixtures/gen/make_reduce_fixtures.py" gen
	for f in gen/*; do
		cmp "$f" "$REDUCE/${f#gen/}"
	done
	[ "$(ls gen | wc -l)" -eq "$(ls "$REDUCE" | wc -l)" ]
}
