#!/usr/bin/env bats
# The one data feed (lib/data/feed.h): irrun and simulate read every source
# calibrate reads, with the same options.  Each test gives the same samples
# twice, once as images or IDX and once as a .npy that numpy made from the
# same pixels by the documented rule value = (pixel * scale - mean) / std
# (docs/calibrate.md), and wants byte-identical outputs.
load test_helper.bash

OPS="$FIXTURES/lower"
FMNIST=/usr/share/datasets/fashion-mnist

# pngs DIR H W C N SEED: N random 8-bit PNGs (C 1 gray, 3 RGB) named
# DIR/img00.png...; DIR.pixels.npy holds their pixels (N,H,W,C) as uint8.
# The PNG is written by hand (zlib + struct), so no imaging library is used.
pngs() {
	"$PY" - "$@" <<'PY'
import sys, os, struct, zlib, numpy as np
d, h, w, c, n, seed = sys.argv[1], *map(int, sys.argv[2:])
os.makedirs(d, exist_ok=True)
px = np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
for i in range(n):
    raw = b"".join(b"\0" + px[i, y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    with open(os.path.join(d, "img%02d.png" % i), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
np.save(d + ".pixels.npy", px)
PY
}

# to_npy PIXELS.npy OUT.npy LAYOUT [MEAN STD]: float32 samples from uint8
# pixels (N,H,W,C): (p * (1/255) - mean) * (1/std), in NCHW or NHWC.
to_npy() {
	"$PY" - "$@" <<'PY'
import sys, numpy as np
p = np.load(sys.argv[1]).astype(np.float32)
mean = np.float32(sys.argv[4] if len(sys.argv) > 4 else 0)
inv_std = np.float32(1) / np.float32(sys.argv[5] if len(sys.argv) > 5 else 1)
x = (p * (np.float32(1) / np.float32(255)) - mean) * inv_std
if sys.argv[3] == "NCHW":
    x = x.transpose(0, 3, 1, 2)
np.save(sys.argv[2], np.ascontiguousarray(x, dtype=np.float32))
PY
}

# idx_npy IMAGES.gz LABELS.gz N X.npy Y.npy: the first N images as (N,1,28,28)
# float32 pixel/255 and their labels as int64, parsed with numpy from the
# IDX bytes (magic 0x00000803 / 0x00000801, big-endian dims).
idx_npy() {
	"$PY" - "$@" <<'PY'
import sys, gzip, numpy as np
img, lab = gzip.open(sys.argv[1]).read(), gzip.open(sys.argv[2]).read()
n = int(sys.argv[3])
assert img[:4] == b"\0\0\x08\x03" and lab[:4] == b"\0\0\x08\x01"
h, w = int.from_bytes(img[8:12], "big"), int.from_bytes(img[12:16], "big")
px = np.frombuffer(img, np.uint8, n * h * w, 16).reshape(n, 1, h, w)
np.save(sys.argv[4], px.astype(np.float32) * (np.float32(1) / np.float32(255)))
np.save(sys.argv[5], np.frombuffer(lab, np.uint8, n, 8).astype(np.int64))
PY
}

device() {   # device MODEL.onnx|.h5 CALIB.npy -> f.ir low.ir m.bin
	case $1 in
	*.onnx) onnx2ir "$1" -o f.ir ;;
	*) keras2ir "$1" -o f.ir ;;
	esac &&
	calibrate -q --data "$2" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir &&
	emit low.ir -o m.bin
}

@test "irrun on a float IR: an RGB image folder equals the same pixels as .npy" {
	need_numpy
	onnx2ir "$FIXTURES/irrun/tiny.onnx" -o tiny.ir   # x: (1,3,16,16)
	pngs imgs 16 16 3 3 1
	to_npy imgs.pixels.npy x.npy NCHW
	run -0 irrun tiny.ir --input imgs -o from_images.npy
	run -0 irrun tiny.ir --input x.npy -o from_npy.npy
	cmp from_images.npy from_npy.npy
	# The image options are calibrate's: --mean and --std too.
	to_npy imgs.pixels.npy xn.npy NCHW 0.5 0.25
	run -0 irrun tiny.ir --input x=imgs --mean 0.5 --std 0.25 -o a.npy
	run -0 irrun tiny.ir --input xn.npy -o b.npy
	cmp a.npy b.npy
	# ... and they make a difference (the test can fail).
	! cmp -s a.npy from_npy.npy
}

@test "irrun: --skip, --limit and --shuffle pick the same samples from images and .npy" {
	need_numpy
	onnx2ir "$FIXTURES/irrun/tiny.onnx" -o tiny.ir
	pngs imgs 16 16 3 5 2
	to_npy imgs.pixels.npy x.npy NCHW
	run -0 irrun tiny.ir --input imgs --shuffle 7 --skip 1 --limit 3 -o a.npy
	run -0 irrun tiny.ir --input x.npy --shuffle 7 --skip 1 --limit 3 -o b.npy
	cmp a.npy b.npy
	# the rows are those of the whole run, in the documented shuffled order
	run -0 irrun tiny.ir --input x.npy -o all.npy
	"$PY" - <<'PY'
import numpy as np
def splitmix(s):
    s = (s + 0x9E3779B97F4A7C15) % 2**64
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return s, z ^ (z >> 31)
perm, s = list(range(5)), 7
for i in range(4, 0, -1):
    s, r = splitmix(s)
    j = r % (i + 1)
    perm[i], perm[j] = perm[j], perm[i]
a, y = np.load("a.npy"), np.load("all.npy")
assert a.shape == (3, 10), a.shape
assert (a == y[perm[1:4]]).all(), perm
PY
}

@test "simulate on a device binary: an image folder equals the same pixels as .npy (padded batch)" {
	need_numpy
	device "$OPS/ops.onnx" "$OPS/ops.x.npy"   # x: (2,3,8,8), 5 samples pad the last batch
	pngs imgs 8 8 3 5 3
	to_npy imgs.pixels.npy x.npy NCHW
	run -0 simulate m.bin --input imgs -o from_images.npy
	run -0 simulate m.bin --input x.npy -o from_npy.npy
	cmp from_images.npy from_npy.npy
	# the binary names its inputs by index
	run -0 simulate m.bin --input 0=imgs -o named.npy
	cmp named.npy from_npy.npy
	run -2 --separate-stderr simulate m.bin --input x=imgs -o bad.npy
	[[ "$stderr" == "simulate: --input x=imgs: the model has no input 'x' (its inputs: '0')"* ]]
}

@test "simulate keeps an NHWC model's layout: images equal the .npy in (N,H,W,C)" {
	need_numpy
	m="$FIXTURES/keras/k2_cnn.h5"   # image: NHWC (1,7,9,3)
	[ -e "$m" ] || skip "no $m"
	device "$m" "$m.input.npy"
	pngs imgs 7 9 3 4 4
	to_npy imgs.pixels.npy x.npy NHWC
	run -0 simulate m.bin --input imgs -o from_images.npy
	run -0 simulate m.bin --input x.npy -o from_npy.npy
	cmp from_images.npy from_npy.npy
	run -0 irrun low.ir --input imgs -o irrun.npy
	cmp irrun.npy from_npy.npy
}

@test "irrun and simulate on an IDX file equal the same images as .npy; --eval takes IDX labels" {
	need_numpy
	[ -e "$FMNIST/t10k-images-idx3-ubyte.gz" ] || skip "needs dataset-fashion-mnist (make deps)"
	idx_npy "$FMNIST/t10k-images-idx3-ubyte.gz" "$FMNIST/t10k-labels-idx1-ubyte.gz" 30 x.npy y.npy
	onnx2ir "$EXAMPLE/model.onnx" -o f.ir     # input: (1,1,28,28)
	run -0 irrun f.ir --input "$FMNIST/t10k-images-idx3-ubyte.gz" --limit 30 -o from_idx.npy
	run -0 irrun f.ir --input x.npy -o from_npy.npy
	cmp from_idx.npy from_npy.npy
	calibrate -q --data x.npy f.ir -o f.cal.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	lower q.ir -o low.ir
	emit low.ir -o m.bin
	run -0 simulate m.bin --input "$FMNIST/t10k-images-idx3-ubyte.gz" --limit 30 -o s_idx.npy
	run -0 simulate m.bin --input x.npy -o s_npy.npy
	cmp s_idx.npy s_npy.npy
	# Labels: IDX and .npy give the same score, which numpy computes from
	# the outputs and the labels it parsed itself.
	want=$("$PY" -c 'import numpy as np; y = np.load("s_npy.npy").argmax(1); l = np.load("y.npy"); print("top-1 %.4f (%d/%d)" % ((y == l).mean(), (y == l).sum(), len(l)))')
	run -0 simulate m.bin --input "$FMNIST/t10k-images-idx3-ubyte.gz" --limit 30 \
		--eval "$FMNIST/t10k-labels-idx1-ubyte.gz"
	[ "$output" = "$want" ]
	run -0 simulate m.bin --input x.npy --eval y.npy
	[ "$output" = "$want" ]
}

@test "irrun and simulate on the small IDX fixture, plain and gzip" {
	need_numpy
	# The fixture's images are 2x3 (N=2); a (N,6) input takes them flattened.
	"$PY" - <<'PY'
import onnx
from onnx import helper, TensorProto
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "flat.onnx")
PY
	onnx2ir flat.onnx -o flat.ir
	"$PY" - "$FIXTURES/idx/images-2x2x3.idx" <<'PY'
import sys, numpy as np
b = open(sys.argv[1], "rb").read()
assert b[:4] == b"\0\0\x08\x03"
n, h, w = (int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
px = np.frombuffer(b, np.uint8, n * h * w, 16).reshape(n, h * w)
np.save("x.npy", px.astype(np.float32) * (np.float32(1) / np.float32(255)))
PY
	run -0 irrun flat.ir --input x.npy -o from_npy.npy
	run -0 irrun flat.ir --input "$FIXTURES/idx/images-2x2x3.idx" -o a.npy
	cmp a.npy from_npy.npy
	run -0 irrun flat.ir --input "$FIXTURES/idx/images-2x2x3.idx.gz" -o b.npy
	cmp b.npy from_npy.npy
}

@test "the data options and their messages are the same in calibrate, irrun and simulate" {
	need_numpy
	device "$OPS/ops.onnx" "$OPS/ops.x.npy"
	pngs imgs 4 4 3 2 5
	for t in "calibrate -q f.ir --data" "irrun f.ir --input" "simulate m.bin --input"; do
		tool=${t%% *}
		run -1 --separate-stderr $t imgs -o out
		[ "$stderr" = "$tool: imgs/img00.png: image is 4x4, the model takes 8x8; use --resize" ]
		run -2 --separate-stderr $t imgs --resize nearest -o out
		[ "${stderr_lines[0]}" = "$tool: bad resize mode 'nearest' (want none, bilinear or crop)" ]
		run -2 --separate-stderr $t imgs --limit 0 -o out
		[ "${stderr_lines[0]}" = "$tool: --limit wants a whole number from 1 to 9223372036854775807, not '0'" ]
		run -1 --separate-stderr $t "$OPS/ops.x.npy" --skip 9 -o out
		[ "$stderr" = "$tool: $OPS/ops.x.npy: no samples after --skip" ]
	done
	[ ! -e out ]
}
