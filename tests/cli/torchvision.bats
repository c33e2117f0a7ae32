#!/usr/bin/env bats
# Torchvision classifiers, SSDlite320's backbone and head (two outputs,
# each compared) and a YOLO-style detector, exported from PyTorch
# with random weights and non-trivial BatchNorm statistics
# (tests/fixtures/gen/make_torchvision.py): each converts with onnx2ir and
# irrun matches PyTorch's own output within 1e-4 of the output's magnitude
# (max |a - b| <= 1e-4 * max |ref|).  The small detector is committed in
# tests/fixtures/torchvision/; the big models (5..100 MB each) are generated
# once into build/torchvision/ by tests/torchvision/gen.sh, and these tests
# skip with a note when /usr/bin/python3 cannot import torch/torchvision.

load test_helper

setup_file() {
	export TV_BIG="$QPIPE_TOP/build/torchvision"
	local note
	note=$("$QPIPE_TOP/tests/torchvision/gen.sh" "$TV_BIG") && note=
	export TV_NOTE="$note"
}

# check_model DIR NAME OPSET [NOUT]: convert, run, compare with PyTorch
# (NAME.y.npy; a model with NOUT = 2 outputs: NAME.y0.npy and NAME.y1.npy,
# each compared on its own).
check_model() {
	local dir=$1 name=$2 opset=$3 nout=${4:-1} i
	if [ ! -f "$dir/${name}_opset$opset.onnx" ]; then
		[ -n "${TV_NOTE:-}" ] && skip "$TV_NOTE"
		fail "missing $dir/${name}_opset$opset.onnx (tests/torchvision/gen.sh failed?)"
	fi
	run onnx2ir "$dir/${name}_opset$opset.onnx" -o m.ir
	[ "$status" -eq 0 ] || fail "onnx2ir failed: $output"
	if [ "$nout" -gt 1 ]; then
		local outs=()
		for ((i = 0; i < nout; i++)); do outs+=(-o y$i.npy); done
		run irrun m.ir --input "$dir/$name.x.npy" "${outs[@]}"
		[ "$status" -eq 0 ] || fail "irrun failed: $output"
		for ((i = 0; i < nout; i++)); do
			close_to_pytorch y$i.npy "$dir/$name.y$i.npy" || return 1
		done
		return 0
	fi
	run irrun m.ir --input "$dir/$name.x.npy" -o y.npy
	[ "$status" -eq 0 ] || fail "irrun failed: $output"
	close_to_pytorch y.npy "$dir/$name.y.npy"
}

# close_to_pytorch Y.npy REF.npy: same shape, max |a - b| <= 1e-4 * max |ref|.
close_to_pytorch() {
	run "$PY" -c '
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
if a.shape != b.shape:
    sys.exit("shape %s, PyTorch %s" % (a.shape, b.shape))
err, mag = float(np.abs(a.astype(np.float64) - b).max()), float(np.abs(b).max())
print("max error %.3g, max |ref| %.3g, relative %.3g" % (err, mag, err / mag))
sys.exit(0 if err <= 1e-4 * mag else 1)' "$1" "$2"
	[ "$status" -eq 0 ] || fail "irrun differs from PyTorch ($2): $output"
}

big() { check_model "$TV_BIG" "$@"; }
small() { check_model "$FIXTURES/torchvision" "$@"; }

@test "yolo_head opset 13 (committed) matches PyTorch" { small yolo_head 13; }
@test "yolo_head opset 17 (committed) matches PyTorch" { small yolo_head 17; }
@test "resnet18 opset 13 matches PyTorch" { big resnet18 13; }
@test "resnet18 opset 17 matches PyTorch" { big resnet18 17; }
@test "resnet50 opset 13 matches PyTorch" { big resnet50 13; }
@test "resnet50 opset 17 matches PyTorch" { big resnet50 17; }
@test "mobilenet_v2 opset 13 matches PyTorch" { big mobilenet_v2 13; }
@test "mobilenet_v2 opset 17 matches PyTorch" { big mobilenet_v2 17; }
@test "mobilenet_v3_small opset 13 matches PyTorch" { big mobilenet_v3_small 13; }
@test "mobilenet_v3_small opset 17 matches PyTorch" { big mobilenet_v3_small 17; }
@test "squeezenet1_1 opset 13 matches PyTorch" { big squeezenet1_1 13; }
@test "squeezenet1_1 opset 17 matches PyTorch" { big squeezenet1_1 17; }
@test "shufflenet_v2_x0_5 opset 13 matches PyTorch" { big shufflenet_v2_x0_5 13; }
@test "shufflenet_v2_x0_5 opset 17 matches PyTorch" { big shufflenet_v2_x0_5 17; }
@test "efficientnet_b0 opset 13 matches PyTorch" { big efficientnet_b0 13; }
@test "efficientnet_b0 opset 17 matches PyTorch" { big efficientnet_b0 17; }
@test "mobilenet_v3_large opset 13 matches PyTorch" { big mobilenet_v3_large 13; }
@test "mobilenet_v3_large opset 17 matches PyTorch" { big mobilenet_v3_large 17; }
@test "regnet_x_400mf opset 13 matches PyTorch" { big regnet_x_400mf 13; }
@test "regnet_x_400mf opset 17 matches PyTorch" { big regnet_x_400mf 17; }
@test "regnet_y_400mf (squeeze-excite) opset 13 matches PyTorch" { big regnet_y_400mf 13; }
@test "regnet_y_400mf (squeeze-excite) opset 17 matches PyTorch" { big regnet_y_400mf 17; }
@test "ssdlite320 (backbone + head, both outputs) opset 13 matches PyTorch" { big ssdlite320 13 2; }
@test "ssdlite320 (backbone + head, both outputs) opset 17 matches PyTorch" { big ssdlite320 17 2; }

@test "the committed detector fixture is what the generator writes" {
	# Guards against a hand-edited or stale fixture: regenerate and compare
	# the reference output (the .onnx bytes depend on the torch build).
	"$PY" -c 'import torch, torchvision' 2>/dev/null ||
		skip "torchvision models not generated: /usr/bin/python3 cannot import torch/torchvision (make deps QPIPE_DEPS_PYTHON=1)"
	"$PY" "$QPIPE_TOP/tests/fixtures/gen/make_torchvision.py" "$TMP/gen" yolo_head >/dev/null 2>&1
	cmp "$TMP/gen/yolo_head.x.npy" "$FIXTURES/torchvision/yolo_head.x.npy"
	# Another CPU may round the last bit differently.
	"$PY" -c '
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.abs(a - b).max() <= 1e-6 * np.abs(b).max() else 1)' \
		"$TMP/gen/yolo_head.y.npy" "$FIXTURES/torchvision/yolo_head.y.npy"
}

@test "onnx2ir on resnet50 peaks below 2x the model's file size" {
	[ -f "$TV_BIG/resnet50_opset17.onnx" ] || skip "${TV_NOTE:-resnet50 not generated}"
	[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is not installed"
	# Sanitizers add shadow memory; the bound is about the normal build.
	ldd "$QPIPE_BIN/onnx2ir" | grep -q 'libasan' && skip "sanitizer build"
	run "$QPIPE_TOP/bench/onnx2ir_memory.sh" "$QPIPE_BIN/onnx2ir" "$TV_BIG/resnet50_opset17.onnx"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a model from a path, a redirected file and a pipe gives the same IR" {
	# onnx2ir maps regular files (pbstream.c) and reads pipes whole.
	m="$FIXTURES/onnx/cnn13.onnx"
	onnx2ir "$m" -o a.ir
	onnx2ir <"$m" >b.ir
	cat "$m" | onnx2ir -o c.ir
	for f in a b c; do
		irdump --json $f.ir | jq -S 'del(.history)' >$f.json
		irrun $f.ir --input "$FIXTURES/onnx/cnn13.x.npy" -o $f.npy
	done
	cmp a.json b.json && cmp a.json c.json
	cmp a.npy b.npy && cmp a.npy c.npy
}

@test "a truncated or damaged model is refused, exit 1, no output file" {
	m="$FIXTURES/torchvision/yolo_head_opset13.onnx"
	head -c 100000 "$m" >trunc.onnx
	run -1 --separate-stderr onnx2ir trunc.onnx -o out.ir
	[ "$stderr" = "onnx2ir: trunc.onnx: not a valid ONNX model (protobuf parse failed)" ]
	[ ! -e out.ir ]
	head -c 100000 "$m" | { run -1 --separate-stderr onnx2ir -o out.ir
		[ "$stderr" = "onnx2ir: -: not a valid ONNX model (protobuf parse failed)" ]; }
	[ ! -e out.ir ]
	# A tag with wire type 7 (invalid) at the start.
	printf '\x0f\x01' >bad.onnx
	run -1 --separate-stderr onnx2ir bad.onnx -o out.ir
	[ "$stderr" = "onnx2ir: bad.onnx: not a valid ONNX model (protobuf parse failed)" ]
	[ ! -e out.ir ]
}

@test "the streamed IR writer follows docs/ir.md byte for byte (independent checker)" {
	# qp_ir_write writes straight from the tensors, computing the CRC on
	# the way; check_ir.py recomputes everything from the bytes.
	onnx2ir "$FIXTURES/onnx/cnn13.onnx" -o m.ir
	run "$PY" "$QPIPE_TOP/tests/fixtures/gen/check_ir.py" m.ir
	[ "$status" -eq 0 ] && [ "$output" = ok ]
	onnx2ir "$FIXTURES/onnx/cnn13.onnx" | cat >p.ir
	run "$PY" "$QPIPE_TOP/tests/fixtures/gen/check_ir.py" p.ir
	[ "$status" -eq 0 ] && [ "$output" = ok ]
}
