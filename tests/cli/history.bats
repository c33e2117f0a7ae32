#!/usr/bin/env bats
# The IR's history records each tool's command line as typed (docs/ir.md
# section 2), although getopt_long reorders argv while parsing it.
load test_helper.bash

OPS="$FIXTURES/lower"

# argv_of IR N: history entry N's argv, one word per line.
argv_of() {
	irdump --json "$1" | "$PY" -c '
import json, sys
print("\n".join(json.load(sys.stdin)["history"][int(sys.argv[1])]["argv"]))' "$2"
}

@test "every stage records its argv in the order typed, operands before options" {
	need_numpy
	onnx2ir "$OPS/ops.onnx" -q -o f.ir
	calibrate f.ir -q --data "$OPS/ops.x.npy" -o c.ir
	quantize c.ir -q --tpc "$QPIPE_TOP/tpc/int8.json" -o q.ir
	lower q.ir -o l.ir
	run -0 argv_of l.ir 0
	[ "$output" = "$(printf '%s\n' onnx2ir "$OPS/ops.onnx" -q -o f.ir)" ]
	run -0 argv_of l.ir 1
	[ "$output" = "$(printf '%s\n' calibrate f.ir -q --data "$OPS/ops.x.npy" -o c.ir)" ]
	run -0 argv_of l.ir 2
	[ "$output" = "$(printf '%s\n' quantize c.ir -q --tpc "$QPIPE_TOP/tpc/int8.json" -o q.ir)" ]
	run -0 argv_of l.ir 3
	[ "$output" = "$(printf '%s\n' lower q.ir -o l.ir)" ]
}

@test "keras2ir records its argv as typed" {
	keras2ir "$FIXTURES/keras/k2_cnn.h5" -q -o k.ir
	run -0 argv_of k.ir 0
	[ "$output" = "$(printf '%s\n' keras2ir "$FIXTURES/keras/k2_cnn.h5" -q -o k.ir)" ]
}
