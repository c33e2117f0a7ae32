#!/usr/bin/env bats
# The bundled example (examples/fashion-mnist): the PyTorch reference
# fixture, pipe/file equivalence of the whole pipeline, the example
# Makefile's incremental rules, and the int8 accuracy check.
#
# References: ref-input.npy / ref-output.npy are PyTorch's inputs and logits
# (examples/fashion-mnist/train.py), never qpipe output.

load test_helper

DATASET=/usr/share/datasets/fashion-mnist
TPC_INT8="$QPIPE_TOP/tpc/int8.json"

need_dataset() {
	[ -f "$DATASET/t10k-images-idx3-ubyte.gz" ] ||
		skip "Fashion-MNIST is not installed ($DATASET; apt-get install dataset-fashion-mnist)"
}

@test "example files are present and model.onnx is small" {
	for f in train.py Makefile README.md model.onnx calib.npy ref-input.npy ref-output.npy; do
		[ -f "$EXAMPLE/$f" ] || { echo "missing $f"; return 1; }
	done
	[ "$(stat -c %s "$EXAMPLE/model.onnx")" -lt 204800 ]
}

@test "idx2npy preprocessing equals train.py's: first 16 test images == ref-input.npy" {
	need_numpy
	need_dataset
	idx2npy --limit 16 "$DATASET/t10k-images-idx3-ubyte.gz" -o x.npy
	run -0 "$PY" -c 'import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
print(a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b))' x.npy "$EXAMPLE/ref-input.npy"
	assert_output True
}

@test "irrun on the imported model matches PyTorch's logits within 1e-4" {
	need_numpy
	onnx2ir "$EXAMPLE/model.onnx" -o m.ir
	irrun m.ir --input "$EXAMPLE/ref-input.npy" -o y.npy
	run -0 "$PY" -c 'import numpy as np, sys
y, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
assert y.shape == ref.shape, (y.shape, ref.shape)
err = float(np.abs(y.astype(np.float64) - ref).max())
print("max abs error", err)
assert err <= 1e-4, err
assert (y.argmax(1) == ref.argmax(1)).all()' y.npy "$EXAMPLE/ref-output.npy"
}

@test "the pipeline as one pipe and as separate files gives byte-identical m.bin" {
	run -0 bash -c "set -o pipefail
		onnx2ir '$EXAMPLE/model.onnx' | calibrate --data '$EXAMPLE/calib.npy' |
		quantize --tpc '$TPC_INT8' | lower | emit -o pipe.bin"
	onnx2ir "$EXAMPLE/model.onnx" -o m.ir
	calibrate --data "$EXAMPLE/calib.npy" m.ir -o m.cal.ir
	quantize --tpc "$TPC_INT8" m.cal.ir -o m.q.ir
	lower m.q.ir -o m.low.ir
	emit m.low.ir -o m.bin
	[ -s m.bin ]
	cmp pipe.bin m.bin
}

# The Makefile's rules checked with stand-in tools that log their argv and
# copy input to output, and a tiny data set: no real stage needed.
make_fakes() {
	mkdir -p fakebin data
	cp "$FIXTURES/idx/images-2x2x3.idx.gz" data/t10k-images-idx3-ubyte.gz
	cp "$FIXTURES/idx/labels-3.idx.gz" data/t10k-labels-idx1-ubyte.gz
	for t in idx2npy onnx2ir calibrate quantize lower emit; do
		cat >fakebin/$t <<'FAKE'
#!/bin/bash
echo "$(basename "$0")" >>"${FAKE_LOG:?}"
in= out=
while [ $# -gt 0 ]; do
	case $1 in -o) out=$2; shift 2 ;; --data|--tpc) shift 2 ;; *) in=$1; shift ;; esac
done
cat "$in" >"$out"
FAKE
	done
	cat >fakebin/irrun <<'FAKE'
#!/bin/bash
echo irrun >>"${FAKE_LOG:?}"; echo "top-1 90.22% (9022/10000)"
FAKE
	cat >fakebin/simulate <<'FAKE'
#!/bin/bash
echo simulate >>"${FAKE_LOG:?}"
if [ "$1" = --info ]; then echo "binary_size 51234"; echo "arena_size 12544"
else echo "top-1 ${FAKE_INT8:-0.8950}"; fi
FAKE
	chmod +x fakebin/*
	cp "$TPC_INT8" tpc.json 2>/dev/null || echo '{}' >tpc.json
	export FAKE_LOG=$TMP/log
}

fake_make() {
	make --no-print-directory -C "$EXAMPLE" QPIPE_BIN="$TMP/fakebin" DATA="$TMP/data" \
		TPC="$TMP/tpc.json" OUT="$TMP/out" "$@"
}

@test "example Makefile: summary, and only changed stages rerun" {
	make_fakes
	run -0 fake_make
	assert_line "float top-1:  90.22%"
	assert_line "int8 top-1:   89.50%"
	assert_line "binary size:  51234 bytes"
	assert_line "arena size:   12544 bytes"
	for f in test.npy test-labels.npy model.ir model.cal.ir model.q.ir model.low.ir model.bin; do
		[ -f "out/$f" ] || { echo "missing out/$f"; return 1; }
	done
	# nothing changed: nothing runs
	: >log
	run -0 fake_make
	[ ! -s log ]
	# a newer target description reruns quantize and everything after it only
	touch -d '+1 minute' tpc.json
	run -0 fake_make
	[ "$(sort log | tr '\n' ' ')" = "emit lower quantize simulate simulate " ]
}

@test "example Makefile: check-accuracy passes within 1 point and fails beyond" {
	make_fakes
	FAKE_INT8=0.8930 run -0 fake_make check-accuracy
	assert_output --partial "check-accuracy: ok"
	rm -rf out
	FAKE_INT8=0.8920 run -2 fake_make check-accuracy
	assert_output --partial "check-accuracy: int8 top-1 89.20% is 1.02 points below float 90.22% (allowed 1.00)"
}

@test "example: int8 top-1 within 1.0 point of float on the 10,000 test images" {
	need_dataset
	run make --no-print-directory -C "$EXAMPLE" QPIPE_BIN="$QPIPE_BIN" OUT="$TMP/out" all check-accuracy
	echo "$output"
	[ "$status" -eq 0 ]
	assert_output --partial "check-accuracy: ok"
}
