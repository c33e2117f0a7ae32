#!/usr/bin/env bats
# keras2ir: real Keras models from ../shared/testdata/keras/ (references computed
# by an independent numpy implementation of Keras, see its MANIFEST.md) and
# error paths.
load test_helper

KERAS="$SHARED/testdata/keras"

need_keras() {
	[ -d "$KERAS" ] || skip "../shared/testdata/keras not present"
	$PY -c 'import numpy' 2>/dev/null || skip "numpy for /usr/bin/python3 not installed (make deps)"
}

# close A.npy B.npy TOL: max |a-b| <= TOL, shapes equal
close() {
	$PY - "$1" "$2" "$3" <<'PY'
import sys, numpy as np
a, b, tol = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
assert a.shape == b.shape, (a.shape, b.shape)
d = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
print("max abs diff", d)
sys.exit(0 if d <= tol else 1)
PY
}

check_model() {
	local m=$KERAS/$1
	run -0 keras2ir "$m" -o m.ir
	run -0 irrun m.ir --input "$m.input.npy" -o y.npy
	run -0 close y.npy "$m.output.npy" 1e-4
}

@test "keras2ir: Keras 3 .keras Sequential CNN matches the reference within 1e-4" {
	need_keras
	check_model k3_keras_seq_fashion_cnn.keras
}

@test "keras2ir: Keras 3 .h5 Sequential CNN matches the reference within 1e-4" {
	need_keras
	check_model k3_h5_seq_mnist_cnn.h5
}

@test "keras2ir: the input is marked NHWC and the graph computes in NCHW" {
	need_keras
	run -0 keras2ir "$KERAS/k3_keras_seq_fashion_cnn.keras" -o m.ir
	run -0 irdump m.ir
	[[ "$output" == *"[1, 1, 28, 28] NHWC"* ]]
}

@test "keras2ir: reads the model from standard input and writes to a pipe" {
	need_keras
	run -0 bash -c "keras2ir < '$KERAS/k3_keras_seq_fashion_cnn.keras' | irdump -"
	[[ "$output" == *"Conv"* ]]
}

@test "keras2ir: a file that is not a Keras model is an error, no output" {
	printf 'garbage' > g.keras
	run -1 --separate-stderr keras2ir g.keras -o out.ir
	[ "$stderr" = "keras2ir: g.keras: not a keras model: expected a .keras zip archive or an HDF5 .h5 file" ]
	[ ! -e out.ir ]
	[ -z "$(ls -A | grep -v '^g.keras$')" ]
}

@test "keras2ir: a missing file is an error" {
	run -1 --separate-stderr keras2ir nope.h5 -o out.ir
	[ "$stderr" = "keras2ir: nope.h5: cannot open: No such file or directory" ]
	[ ! -e out.ir ]
}

@test "keras2ir: bad usage exits 2" {
	run -2 keras2ir --no-such-option
	run -2 keras2ir a.keras b.keras
}

@test "keras2ir: --help agrees with the man page's options" {
	run -0 keras2ir --help
	for opt in --output --quiet --help --version; do
		[[ "$output" == *"$opt"* ]]
		grep -q -- "$opt" "$QPIPE_TOP/docs/man/keras2ir.md"
	done
}
