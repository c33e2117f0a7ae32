#!/usr/bin/env bats
# idx2npy: IDX (MNIST format) -> .npy.  Fixtures in tests/fixtures/idx are
# hand-made (tests/fixtures/idx/make.sh spells out every byte); expected
# values below are worked out by hand from those bytes, and the exhaustive
# 0..255 check compares with numpy's float32 x / 255 (the preprocessing that
# examples/fashion-mnist/train.py uses).

load test_helper

IDX="$FIXTURES/idx"

# py 'expression using a' FILE: prints the value, with a = np.load(FILE)
npy() {
	"$PY" -c "import numpy as np, sys; a = np.load(sys.argv[1]); print($1)" "$2"
}

# Only the named files may exist in the scratch dir (no output or temporary
# file left behind after an error).
only_files() {
	[ "$(ls -A | sort)" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]
}

@test "--help lists every option and exits 0" {
	run -0 idx2npy --help
	assert_output --partial "Usage: idx2npy [options] [FILE.idx[.gz]] [-o OUT.npy]"
	for opt in --output --scale --layout --limit --force --help --version; do
		assert_output --partial -- "$opt"
	done
}

@test "man page documents every option --help shows" {
	page="$QPIPE_TOP/docs/man/idx2npy.md"
	[ -f "$page" ]
	for opt in $(idx2npy --help | grep -o -- '--[a-z]*' | sort -u); do
		grep -q -- "$opt" "$page" || { echo "missing $opt"; return 1; }
	done
}

@test "images: plain IDX -> float32 (N,1,H,W) scaled by 1/255" {
	need_numpy
	run -0 idx2npy "$IDX/images-2x2x3.idx" -o x.npy
	run -0 npy 'a.dtype, a.shape' x.npy
	assert_output "float32 (2, 1, 2, 3)"
	# image 0 bytes 0 255 51 102 153 204 are exactly 0, 1, .2, .4, .6, .8
	# (each rounded once to float32); image 1 is 1 2 3 4 5 128 over 255.
	run -0 npy 'int((a == np.array([[[[0, 1, .2], [.4, .6, .8]]], [[[1, 2, 3], [4, 5, 128]]]]).astype(np.float32) / np.array([1, 255], np.float32).reshape(2, 1, 1, 1)).all())' x.npy
	assert_output 1
}

@test "images: gzip'd input gives the same bytes as plain input" {
	idx2npy "$IDX/images-2x2x3.idx" -o plain.npy
	idx2npy "$IDX/images-2x2x3.idx.gz" -o gz.npy
	cmp plain.npy gz.npy
}

@test "images: float32 bytes are little-endian IEEE (1.0 = 00 00 80 3f)" {
	idx2npy --limit 1 "$IDX/images-2x2x3.idx" -o x.npy
	# 6 floats of data at the end of the file; the second is 255/255 = 1.0
	run -0 bash -c "tail -c 24 x.npy | od -An -tx1 | tr -s ' \n' ' '"
	assert_output " 00 00 00 00 00 00 80 3f cd cc 4c 3e cd cc cc 3e 9a 99 19 3f cd cc 4c 3f "
}

@test "images: every byte value matches numpy float32(x) / 255 exactly" {
	need_numpy
	# one 16x16 image holding the bytes 0..255
	{ printf '\000\000\010\003\000\000\000\001\000\000\000\020\000\000\000\020'
	  for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done; } >all.idx
	run -0 idx2npy all.idx -o all.npy
	run -0 npy 'int(a.shape == (1, 1, 16, 16) and (a.ravel() == np.arange(256).astype(np.float32) / np.float32(255)).all())' all.npy
	assert_output 1
}

@test "--scale 1 keeps the bytes, --scale A/B is a fraction" {
	need_numpy
	idx2npy --scale 1 "$IDX/images-2x2x3.idx" -o one.npy
	run -0 npy 'a.ravel().tolist()' one.npy
	assert_output "[0.0, 255.0, 51.0, 102.0, 153.0, 204.0, 1.0, 2.0, 3.0, 4.0, 5.0, 128.0]"
	idx2npy --scale 1/2 "$IDX/images-2x2x3.idx" -o half.npy
	run -0 npy 'a.ravel().tolist()[:3]' half.npy
	assert_output "[0.0, 127.5, 25.5]"
	idx2npy --scale 1/255 "$IDX/images-2x2x3.idx" -o a.npy
	idx2npy "$IDX/images-2x2x3.idx" -o b.npy
	cmp a.npy b.npy
}

@test "--layout nhwc gives (N,H,W,1) with the same data" {
	need_numpy
	idx2npy --layout nhwc "$IDX/images-2x2x3.idx" -o nhwc.npy
	idx2npy --layout nchw "$IDX/images-2x2x3.idx" -o nchw.npy
	run -0 npy 'a.shape' nhwc.npy
	assert_output "(2, 2, 3, 1)"
	cmp <(tail -c 48 nhwc.npy) <(tail -c 48 nchw.npy)
}

@test "labels: rank-1 IDX -> int64 (N,), plain and gzip" {
	need_numpy
	idx2npy "$IDX/labels-3.idx" -o y.npy
	run -0 npy 'a.dtype, a.shape, a.tolist()' y.npy
	assert_output "int64 (3,) [9, 0, 7]"
	idx2npy "$IDX/labels-3.idx.gz" -o ygz.npy
	cmp y.npy ygz.npy
}

@test "--limit N converts the first N items; larger N converts all" {
	need_numpy
	idx2npy --limit 2 "$IDX/labels-3.idx" -o y2.npy
	run -0 npy 'a.shape, a.tolist()' y2.npy
	assert_output "(2,) [9, 0]"
	idx2npy --limit 1 "$IDX/images-2x2x3.idx.gz" -o x1.npy
	run -0 npy 'a.shape' x1.npy
	assert_output "(1, 1, 2, 3)"
	idx2npy --limit 0 "$IDX/labels-3.idx" -o y0.npy
	run -0 npy 'a.shape' y0.npy
	assert_output "(0,)"
	idx2npy --limit 99 "$IDX/labels-3.idx" -o y99.npy
	idx2npy "$IDX/labels-3.idx" -o yall.npy
	cmp y99.npy yall.npy
}

@test "stdin in, stdout out" {
	idx2npy "$IDX/labels-3.idx.gz" -o file.npy
	idx2npy - <"$IDX/labels-3.idx.gz" >dash.npy
	idx2npy <"$IDX/labels-3.idx" >none.npy
	cmp file.npy dash.npy
	cmp file.npy none.npy
}

@test "error: missing file" {
	run -1 --separate-stderr idx2npy nosuch.idx -o out.npy
	[ "$stderr" = "idx2npy: nosuch.idx: cannot open: No such file or directory" ]
	only_files
}

@test "error: not an IDX file (bad magic)" {
	printf 'P5\n2 2\n255\nabcd' >pic.pgm
	run -1 --separate-stderr idx2npy pic.pgm -o out.npy
	[ "$stderr" = "idx2npy: pic.pgm: not an IDX file: magic 0x50350a32 (want 0x00000803 for images or 0x00000801 for labels)" ]
	only_files pic.pgm
}

@test "error: element type other than unsigned byte" {
	printf '\000\000\015\001\000\000\000\001\000\000\000\000' >float.idx
	run -1 --separate-stderr idx2npy float.idx -o out.npy
	[ "$stderr" = "idx2npy: float.idx: unsupported IDX element type 0x0d (only 0x08, unsigned byte, is supported)" ]
	only_files float.idx
}

@test "error: rank other than 1 or 3" {
	printf '\000\000\010\002\000\000\000\001\000\000\000\001\000' >r2.idx
	run -1 --separate-stderr idx2npy r2.idx -o out.npy
	[ "$stderr" = "idx2npy: r2.idx: unsupported IDX rank 2 (want 3 for images or 1 for labels)" ]
	only_files r2.idx
}

@test "error: zero image dimension" {
	printf '\000\000\010\003\000\000\000\001\000\000\000\000\000\000\000\002' >z.idx
	run -1 --separate-stderr idx2npy z.idx -o out.npy
	[ "$stderr" = "idx2npy: z.idx: image dimension 1 is 0" ]
	only_files z.idx
}

@test "error: every truncated prefix of the image file fails, leaving nothing" {
	size=$(stat -c %s "$IDX/images-2x2x3.idx")
	for n in $(seq 0 $((size - 1))); do
		head -c "$n" "$IDX/images-2x2x3.idx" >cut.idx
		run -1 --separate-stderr idx2npy cut.idx -o out.npy
		[ "${#lines[@]}" -eq 0 ] || { echo "stdout at $n"; return 1; }
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "stderr at $n: $stderr"; return 1; }
		[[ "$stderr" == "idx2npy: cut.idx: truncated: "* ]] || { echo "at $n: $stderr"; return 1; }
		[ ! -e out.npy ] || { echo "output left at $n"; return 1; }
	done
	only_files cut.idx
}

@test "error: truncated data names the byte counts" {
	head -c 25 "$IDX/images-2x2x3.idx" >cut.idx
	run -1 --separate-stderr idx2npy cut.idx -o out.npy
	[ "$stderr" = "idx2npy: cut.idx: truncated: 9 data bytes where dimensions 2x2x3 need 12" ]
	# --limit does not skip the check of the rest of the file
	run -1 --separate-stderr idx2npy --limit 1 cut.idx -o out.npy
	[ "$stderr" = "idx2npy: cut.idx: truncated: 9 data bytes where dimensions 2x2x3 need 12" ]
	only_files cut.idx
}

@test "error: a header that promises far more than a plain file holds is refused at once" {
	# Found by tests/fuzz/fuzz.py: 5 images of 86x4259375074 bytes used to
	# be an "out of memory" when the first chunk buffer was sized by them.
	{ printf '\000\000\010\003\000\000\000\005\000\000\000\126\375\340\347\342'; head -c 100 /dev/zero; } >huge.idx
	run -1 --separate-stderr idx2npy huge.idx -o out.npy
	[ "$stderr" = "idx2npy: huge.idx: truncated: 100 data bytes where dimensions 5x86x4259375074 need 1831531281820" ]
	only_files huge.idx
}

@test "error: image dimensions whose product overflows are refused" {
	# Found by tests/fuzz/fuzz.py: 4294967295 x 4294967295 pixels per image
	# overflowed int64 (signed overflow, undefined behaviour).
	{ printf '\000\000\010\003\000\000\000\002\377\377\377\377\377\377\377\377'; head -c 24 /dev/zero; } >big.idx
	run -1 --separate-stderr idx2npy big.idx -o out.npy
	[ "$stderr" = "idx2npy: big.idx: dimensions too large" ]
	only_files big.idx
}

@test "an empty set of huge images allocates nothing (found by fuzzing)" {
	# 0 images of 33554432x33554432 bytes, then 4 stray bytes
	{ printf '\000\000\010\003\000\000\000\000\002\000\000\000\002\000\000\000'; printf 'abcd'; } >empty.idx
	run -1 --separate-stderr idx2npy empty.idx -o out.npy
	[ "$stderr" = "idx2npy: empty.idx: trailing data after the 0 bytes that dimensions 0x33554432x33554432 describe" ]
	only_files empty.idx
}

@test "error: trailing data after the items" {
	{ cat "$IDX/labels-3.idx"; printf 'x'; } >long.idx
	run -1 --separate-stderr idx2npy long.idx -o out.npy
	[ "$stderr" = "idx2npy: long.idx: trailing data after the 3 bytes that dimensions 3 describe" ]
	only_files long.idx
}

@test "error: truncated gzip stream" {
	# Random bytes compress badly, so cutting the stream in half cuts data.
	{ printf '\000\000\010\001\000\000\020\000'; head -c 4096 /dev/urandom; } | gzip -n >big.idx.gz
	size=$(stat -c %s big.idx.gz)
	head -c $((size / 2)) big.idx.gz >cut.idx.gz
	run -1 --separate-stderr idx2npy cut.idx.gz -o out.npy
	[ "$stderr" = "idx2npy: cut.idx.gz: corrupt or truncated gzip data (unexpected end of file)" ]
	only_files big.idx.gz cut.idx.gz
}

@test "error: corrupt gzip stream" {
	{ printf '\000\000\010\001\000\000\020\000'; head -c 4096 /dev/zero; } | gzip -n >z.idx.gz
	# Overwrite compressed bytes in the middle with garbage.
	cp z.idx.gz bad.idx.gz
	printf '\377\377\377\377\377\377\377\377' | dd of=bad.idx.gz bs=1 seek=12 conv=notrunc 2>/dev/null
	run -1 --separate-stderr idx2npy bad.idx.gz -o out.npy
	[[ "$stderr" == "idx2npy: bad.idx.gz: corrupt"*"gzip data ("*")" ]]
	only_files bad.idx.gz z.idx.gz
}

@test "usage errors exit 2" {
	run -2 --separate-stderr idx2npy --layout nwhc "$IDX/labels-3.idx"
	[ "${stderr_lines[0]}" = "idx2npy: --layout wants nchw or nhwc, not 'nwhc'" ]
	run -2 --separate-stderr idx2npy --limit -1 "$IDX/labels-3.idx"
	run -2 --separate-stderr idx2npy --scale 1/0 "$IDX/labels-3.idx"
	[ "${stderr_lines[0]}" = "idx2npy: --scale divides by zero in '1/0'" ]
	run -2 --separate-stderr idx2npy --scale abc "$IDX/labels-3.idx"
	run -2 --separate-stderr idx2npy a.idx b.idx
	[ "${stderr_lines[0]}" = "idx2npy: one input file, not 2" ]
	run -2 --separate-stderr idx2npy --bogus
}
