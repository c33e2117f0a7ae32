#!/usr/bin/env bats
# The documents' op tables against the tables in the code they describe
# (issue 20), one test per document: tests/conformance/doc_ops.py reads
# both the document and the C sources, so a row added to one and not the
# other fails here.  docs/conformance.md's generated part is compared with
# what tests/conformance/doc_tables.py writes from a fresh conformance run.
load test_helper

@test "doc_tables: docs/ir.md sections 3 and 6 list the float, tensor and lowered op tables" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" ir
}

@test "doc_tables: docs/ir.md section 4.4 lists exactly the integer-exact fake-quantization rules of lib/exec/fqexact.c" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" fakequant
}

@test "doc_tables: docs/binary.md section 5 lists runtime/qp_ops.h's ops, opcodes, inputs and parameters" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" binary
}

@test "doc_tables: docs/man/onnx2ir.md lists exactly the ONNX ops of stages/onnx2ir/ops.c" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" onnx2ir
}

@test "doc_tables: docs/man/keras2ir.md lists exactly the layers and activations of stages/keras2ir/layers.c" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" keras2ir
}

@test "doc_tables: docs/man/lower.md lists exactly the lowering rules of stages/lower/lower.c" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" lower
}

@test "doc_tables: docs/man/quantize.md names exactly the weight and float-parameter rules of stages/quantize/quantize.c" {
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_ops.py" quantize
}

@test "doc_tables: docs/conformance.md is what doc_tables.py writes from a conformance run" {
	"$QPIPE_TOP/tests/conformance/run" >conformance.log 2>&1 || true
	grep -q '^# total ' conformance.log || { tail -n 20 conformance.log; false; }
	run -0 "$PY" "$QPIPE_TOP/tests/conformance/doc_tables.py" --check conformance.log
}

@test "doc_tables: a document that drifts is reported (doc_ops.py on a copy with a row removed)" {
	# The check itself can fail: the same script over a copy of the tree
	# whose docs/binary.md lost QClip's row and whose onnx2ir.md lost Tile.
	mkdir -p t/tests/conformance t/docs/man t/runtime
	cp "$QPIPE_TOP/tests/conformance/doc_ops.py" t/tests/conformance/
	cp "$QPIPE_TOP/runtime/qp_ops.h" t/runtime/
	grep -v '^| 12 | QClip ' "$QPIPE_TOP/docs/binary.md" >t/docs/binary.md
	mkdir -p t/stages/onnx2ir
	cp "$QPIPE_TOP/stages/onnx2ir/ops.c" t/stages/onnx2ir/
	sed 's/ Tile,//' "$QPIPE_TOP/docs/man/onnx2ir.md" >t/docs/man/onnx2ir.md
	run -1 "$PY" t/tests/conformance/doc_ops.py binary
	[ "$output" = "lowered op QClip is in runtime/qp_ops.h but not in docs/binary.md section 5" ]
	run -1 "$PY" t/tests/conformance/doc_ops.py onnx2ir
	[ "$output" = "ONNX op Tile is in stages/onnx2ir/ops.c onnx_ops[] but not in docs/man/onnx2ir.md" ]
}
