#!/usr/bin/env bats
# Consistency of the tools' answers to the same bad input (issue 19, item 5):
# simulate refuses what irrun refuses with the same words, a directory or a
# short file is called what it is, bad data is named where it is.

load test_helper

LOW="$FIXTURES/lower"
RUN="$FIXTURES/irrun"
IDX="$FIXTURES/idx"

# Only the named files may exist in the scratch dir.
only_files() {
	[ "$(ls -A | sort)" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]
}

# ops.onnx through every stage: low.ir (for irrun) and m.bin (for simulate).
device() {
	onnx2ir "$LOW/ops.onnx" -o f.ir &&
	calibrate -q --data "$LOW/ops.x.npy" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir &&
	emit low.ir -o m.bin &&
	rm f.ir f.cal.ir q.ir
}

@test "a. simulate refuses boolean .npy data with irrun's message" {
	need_numpy
	device
	"$PY" -c 'import numpy as np, sys; np.save("b.npy", np.load(sys.argv[1]) > 0)' "$LOW/ops.x.npy"
	run -1 --separate-stderr irrun low.ir --input b.npy -o y.npy
	[ "$stderr" = "irrun: b.npy: boolean data is not a model input" ]
	run -1 --separate-stderr simulate m.bin --input b.npy -o y.npy
	[ "$stderr" = "simulate: b.npy: boolean data is not a model input" ]
	only_files low.ir m.bin b.npy
}

@test "b. idx2npy refuses bytes after the gzip stream (file and stdin)" {
	cp "$IDX/images-2x2x3.idx.gz" x.idx.gz
	size=$(stat -c %s x.idx.gz)
	printf 'junk' >>x.idx.gz
	run -1 --separate-stderr idx2npy x.idx.gz -o out.npy
	[ "$stderr" = "idx2npy: x.idx.gz: trailing data: 4 bytes after the gzip stream, which ends at byte $size" ]
	run -1 --separate-stderr idx2npy --limit 1 x.idx.gz -o out.npy
	[ "$stderr" = "idx2npy: x.idx.gz: trailing data: 4 bytes after the gzip stream, which ends at byte $size" ]
	run -1 --separate-stderr idx2npy - -o out.npy <x.idx.gz
	[ "$stderr" = "idx2npy: -: trailing data: 4 bytes after the gzip stream, which ends at byte $size" ]
	only_files x.idx.gz
	# Two gzip members are one stream (as for gunzip): the data is then
	# twice as long as the dimensions say, which is the error.
	cat "$IDX/labels-3.idx.gz" "$IDX/labels-3.idx.gz" >two.idx.gz
	run -1 --separate-stderr idx2npy two.idx.gz -o out.npy
	[ "$stderr" = "idx2npy: two.idx.gz: trailing data after the 3 bytes that dimensions 3 describe" ]
	# The plain file still converts.
	run -0 idx2npy "$IDX/images-2x2x3.idx.gz" -o out.npy
}

@test "c. calibrate --data NAME=PATH for no input of the model is a usage error" {
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
	run -2 --separate-stderr calibrate -q tiny.ir --data images="$RUN/tiny_x.npy" -o out.ir
	[[ "$stderr" == "calibrate: --data images=$RUN/tiny_x.npy: the model has no input 'images' (its inputs: 'x')"$'\n'"usage: calibrate "* ]]
	only_files tiny.ir
	# The input's own name works, and so does a file whose name has '='.
	run -0 calibrate -q tiny.ir --data x="$RUN/tiny_x.npy" -o out.ir
	cp "$RUN/tiny_x.npy" a=b.npy
	run -0 calibrate -q tiny.ir --data a=b.npy -o out2.ir
}

@test "d. a directory where a file is expected: 'is a directory'" {
	need_numpy
	device
	mkdir dir x.npy img
	# Every data consumer reads a folder as images (lib/data/feed.h): an empty
	# one is the same error in all three; labels are never a folder.
	run -1 --separate-stderr irrun low.ir --input dir -o y.npy
	[ "$stderr" = "irrun: dir: no images (.png .jpg .jpeg .bmp .ppm .pgm)" ]
	run -1 --separate-stderr simulate m.bin --input dir -o y.npy
	[ "$stderr" = "simulate: dir: no images (.png .jpg .jpeg .bmp .ppm .pgm)" ]
	run -1 --separate-stderr irrun low.ir --input x.npy -o y.npy
	[ "$stderr" = "irrun: x.npy: is a directory, not a file (and holds no images .png .jpg .jpeg .bmp .ppm .pgm)" ]
	run -1 --separate-stderr irrun low.ir --input "$LOW/ops.x.npy" --eval dir
	[ "$stderr" = "irrun: dir: is a directory, not a label file (.npy or IDX)" ]
	run -1 --separate-stderr simulate m.bin --input "$LOW/ops.x.npy" --eval dir
	[ "$stderr" = "simulate: dir: is a directory, not a label file (.npy or IDX)" ]
	run -1 --separate-stderr idx2npy dir -o y.npy
	[ "$stderr" = "idx2npy: dir: is a directory, not an IDX file" ]
	# calibrate takes a folder of images; one named like a data file and
	# holding none, or a folder in a list of image files, is a mistake.
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
	run -1 --separate-stderr calibrate -q tiny.ir --data x.npy -o out.ir
	[ "$stderr" = "calibrate: x.npy: is a directory, not a file (and holds no images .png .jpg .jpeg .bmp .ppm .pgm)" ]
	run -1 --separate-stderr calibrate -q tiny.ir --data x="x.npy" -o out.ir
	[ "$stderr" = "calibrate: x.npy: is a directory, not a file (and holds no images .png .jpg .jpeg .bmp .ppm .pgm)" ]
	printf 'img\n' >list.txt
	run -1 --separate-stderr calibrate -q tiny.ir --data list.txt -o out.ir
	[ "$stderr" = "calibrate: list.txt:1: img: is a directory, not an image file" ]
	only_files low.ir m.bin dir x.npy img tiny.ir list.txt
}

@test "e. a .npy shorter than its header is truncated, not bad magic" {
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
	printf '\223NU' >three.npy
	run -1 --separate-stderr irrun tiny.ir --input three.npy -o y.npy
	[ "$stderr" = "irrun: three.npy: truncated .npy header: the file ends after 3 bytes" ]
	head -c 8 "$RUN/tiny_x.npy" >eight.npy
	run -1 --separate-stderr irrun tiny.ir --input eight.npy -o y.npy
	[ "$stderr" = "irrun: eight.npy: truncated .npy header: the file ends after 8 bytes" ]
	head -c 40 "$RUN/tiny_x.npy" >cut.npy   # magic, version, length, part of the dict
	run -1 --separate-stderr irrun tiny.ir --input cut.npy -o y.npy
	[ "$stderr" = "irrun: cut.npy: truncated .npy header" ]
	: >empty.npy
	run -1 --separate-stderr irrun tiny.ir --input empty.npy -o y.npy
	[ "$stderr" = "irrun: empty.npy: truncated .npy header: the file is empty" ]
	run -1 --separate-stderr calibrate -q tiny.ir --data three.npy -o out.ir
	[ "$stderr" = "calibrate: three.npy: truncated .npy header: the file ends after 3 bytes" ]
	run -1 --separate-stderr calibrate -q tiny.ir --data cut.npy -o out.ir
	[ "$stderr" = "calibrate: cut.npy: truncated .npy header" ]
	# Foreign bytes, short or long, are still bad magic.
	printf 'PK' >short.npy
	run -1 --separate-stderr irrun tiny.ir --input short.npy -o y.npy
	[ "$stderr" = "irrun: short.npy: not a .npy file (bad magic)" ]
	run -1 --separate-stderr irrun tiny.ir --input tiny.ir -o y.npy
	[ "$stderr" = "irrun: tiny.ir: unknown data format (want .npy, .npz, IDX, an image, a folder of images or a .txt/.lst list of images)" ]
	only_files tiny.ir three.npy eight.npy cut.npy empty.npy short.npy
}

@test "f. NaN or Inf in calibration data names the data file and the sample" {
	need_numpy
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
	"$PY" - "$RUN/tiny_x.npy" <<'PY'
import sys, numpy as np
x = np.load(sys.argv[1])
a = x.copy(); a[4].flat[7] = np.nan; np.save("nan.npy", a)
b = x.copy(); b[2].flat[0] = -np.inf; np.save("inf.npy", b)
np.savez("x.npz", x=a)
PY
	run -1 --separate-stderr calibrate -q tiny.ir --data nan.npy -o out.ir
	[ "$stderr" = "calibrate: nan.npy: sample 4: non-finite value (NaN) at element 7" ]
	run -1 --separate-stderr calibrate -q tiny.ir --data inf.npy -o out.ir
	[ "$stderr" = "calibrate: inf.npy: sample 2: non-finite value (-inf) at element 0" ]
	# The index is the file's own, whatever --skip and --shuffle visit.
	run -1 --separate-stderr calibrate -q tiny.ir --data nan.npy --skip 3 --shuffle 7 -o out.ir
	[ "$stderr" = "calibrate: nan.npy: sample 4: non-finite value (NaN) at element 7" ]
	run -1 --separate-stderr calibrate -q tiny.ir --data x.npz -o out.ir
	[ "$stderr" = "calibrate: x.npz: member x.npy: sample 4: non-finite value (NaN) at element 7" ]
	only_files tiny.ir nan.npy inf.npy x.npz
}

@test "g. an ONNX dimension product that overflows names the model, not the output" {
	"$PY" -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with onnx (Debian python3-onnx)"
	"$PY" - <<'PY'
import onnx
from onnx import helper, TensorProto
big = 1 << 40   # big * big overflows int64
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [big, big])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [big, big])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "big.onnx")
PY
	run -1 --separate-stderr onnx2ir big.onnx -o out.ir
	[ "$stderr" = "onnx2ir: big.onnx: tensor 'x': element count overflows" ]
	run -1 --separate-stderr onnx2ir - -o out.ir <big.onnx
	[ "$stderr" = "onnx2ir: -: tensor 'x': element count overflows" ]
	only_files big.onnx
}
