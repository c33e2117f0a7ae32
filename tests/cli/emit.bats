#!/usr/bin/env bats
# emit: lowered IR -> device binary (docs/man/emit.md, docs/binary.md).
load test_helper.bash

OPS="$FIXTURES/lower"

lowered() {
	onnx2ir "$OPS/ops.onnx" -o f.ir &&
	calibrate -q --data "$OPS/ops.x.npy" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir
}

@test "emit --help describes the tool" {
	run emit --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: emit"* ]]
}

@test "emit writes a binary with the magic and version of docs/binary.md" {
	lowered
	run emit low.ir -o m.bin
	[ "$status" -eq 0 ]
	# magic 89 'QPB' \r \n 1a \n, major 1, minor 0
	[ "$(od -An -tx1 -N12 m.bin | tr -d ' \n')" = "89515042 0d0a1a0a01000000" ] ||
	[ "$(od -An -tx1 -N12 m.bin | tr -d ' \n')" = "895150420d0a1a0a01000000" ]
	# trailer ends with QPBE
	[ "$(tail -c 4 m.bin)" = "QPBE" ]
}

@test "emit is deterministic and works in a pipe" {
	lowered
	emit low.ir -o a.bin
	emit < low.ir > b.bin
	cmp a.bin b.bin
}

@test "emit refuses an IR that is not lowered" {
	lowered
	run -1 --separate-stderr emit q.ir -o m.bin
	[ "$stderr" = "emit: q.ir: not lowered; run lower first" ]
	[ ! -e m.bin ]
}

@test "emit refuses an unknown --format" {
	run -2 emit --format onnx low.ir -o m.bin
	[ ! -e m.bin ]
}

@test "emit on a missing file says so" {
	run -1 --separate-stderr emit nothing.ir -o m.bin
	[[ "$stderr" == "emit: nothing.ir: "* ]]
	[ ! -e m.bin ]
}
