#!/usr/bin/env bats
# Damaged IR files: every reader error is one "irdump: FILE: message" line,
# exit 1, nothing on stdout, no crash (a crash would be exit >= 128).

load test_helper.bash

TINY="$FIXTURES/ir/tiny.ir"

# Writes a copy of tiny.ir with byte OFFSET xor-ed with 0x01.
flip() {
	"$PY" -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[int(sys.argv[2])] ^= 1
open(sys.argv[3], "wb").write(d)' "$TINY" "$1" "$2"
}

# Writes a copy with the bytes at OFFSET replaced by HEX, the CRC recomputed
# (so the damage reaches the check after the checksum).
patch_crc() {
	"$PY" - "$TINY" "$1" "$2" "$3" <<'PY'
import struct, sys
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF
d = bytearray(open(sys.argv[1], "rb").read())
off = int(sys.argv[2]); new = bytes.fromhex(sys.argv[3])
d[off:off + len(new)] = new
d[-8:-4] = struct.pack("<I", crc32c(d[:-8]))
open(sys.argv[4], "wb").write(d)
PY
}

@test "ir_corrupt: truncated at several lengths" {
	size=$(stat -c %s "$TINY")
	for n in 1 7 8 39 40 100 1000 $((size - 17)) $((size - 16)) $((size - 1)); do
		head -c "$n" "$TINY" >t.ir
		run -1 --separate-stderr irdump t.ir
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		case $n in
		1 | 7 | 8 | 39) [ "$stderr" = "irdump: t.ir: truncated file: $n bytes, an IR file has at least 40" ] ;;
		*) [ "$stderr" = "irdump: t.ir: truncated or damaged file: $n bytes and no end marker" ] ;;
		esac
	done
}

@test "ir_corrupt: an empty file" {
	: >empty.ir
	run -1 --separate-stderr irdump empty.ir
	[ "$stderr" = "irdump: empty.ir: empty file (not a qpipe IR file)" ]
}

@test "ir_corrupt: truncated through a pipe names stdin as '-'" {
	run -1 --separate-stderr bash -c "head -c 500 '$TINY' | irdump"
	[ "$stderr" = "irdump: -: truncated or damaged file: 500 bytes and no end marker" ]
}

@test "ir_corrupt: a flipped byte anywhere is caught" {
	size=$(stat -c %s "$TINY")
	for off in 0 5 9 12 20 30 200 $((size - 100)) $((size - 16)) $((size - 8)) $((size - 2)); do
		flip "$off" f.ir
		run -1 --separate-stderr irdump f.ir
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "irdump: f.ir: "* ]]
	done
	flip 200 f.ir
	run -1 --separate-stderr irdump f.ir
	[ "$stderr" = "irdump: f.ir: checksum mismatch (file damaged)" ]
	flip 0 f.ir
	run -1 --separate-stderr irdump f.ir
	[ "$stderr" = "irdump: f.ir: not a qpipe IR file (bad magic)" ]
}

@test "ir_corrupt: wrong magic, text files, newer major version, flags" {
	printf 'hello, world\n' >text.ir
	run -1 --separate-stderr irdump text.ir
	[ "$stderr" = "irdump: text.ir: not a qpipe IR file (bad magic)" ]
	# A text-mode transfer turns \r\n into \n.
	"$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); open("crlf.ir","wb").write(d.replace(b"\r\n", b"\n"))' "$TINY"
	run -1 --separate-stderr irdump crlf.ir
	[ "$stderr" = "irdump: crlf.ir: not a qpipe IR file (bad magic)" ]
	patch_crc 8 03000000 v3.ir
	run -1 --separate-stderr irdump v3.ir
	[ "$stderr" = "irdump: v3.ir: unsupported IR format version 3.0 (this qpipe reads 0.x)" ]
	patch_crc 10 0900 minor.ir
	run -0 irdump minor.ir
	[ "${lines[0]}" = "format: qpipe-ir 0.9" ]
	patch_crc 12 02000000 flags.ir
	run -1 --separate-stderr irdump flags.ir
	[ "$stderr" = "irdump: flags.ir: unsupported IR flags 0x00000002 (this qpipe reads 0)" ]
}

@test "ir_corrupt: trailer length disagreeing with the file" {
	size=$(stat -c %s "$TINY")
	cat "$TINY" "$TINY" >two.ir
	run -1 --separate-stderr irdump two.ir
	[ "$stderr" = "irdump: two.ir: damaged file: $((size * 2)) bytes, trailer says $size" ]
	patch_crc $((size - 16)) 0010000000000000 long.ir   # total_len 4096
	run -1 --separate-stderr irdump long.ir
	[ "$stderr" = "irdump: long.ir: truncated file: $size bytes, trailer says 4096" ]
}

@test "ir_corrupt: a header claiming more bytes than the file holds" {
	patch_crc 16 0000010000000000 hl.ir   # header_len 65536
	run -1 --separate-stderr irdump hl.ir
	[ "$stderr" = "irdump: hl.ir: bad header length 65536 in a file of $(stat -c %s "$TINY") bytes" ]
}

# Rewrites tiny.ir's JSON header with a Python statement on `h` and frames it
# again per docs/ir.md (same blob, fresh checksum), so the damage gets past
# the frame checks and reaches the header checks.
reframe() {
	"$PY" - "$TINY" "$1" "$2" "$QPIPE_TOP/tests/fixtures/gen" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[4]); import qpir
text, blob = qpir.unframe(open(sys.argv[1], "rb").read())
h = json.loads(text)
t = {x["name"]: x for x in h["tensors"]}
exec(sys.argv[2])
open(sys.argv[3], "wb").write(qpir.frame(json.dumps(h, separators=(",", ":")).encode(), blob))
PY
}

@test "ir_corrupt: the re-framing helper alone changes nothing irdump sees" {
	reframe 'pass' same.ir
	run -0 irdump same.ir
	[ "$output" = "$(irdump "$TINY")" ]
}

@test "ir_corrupt: overlapping and out-of-range data spans" {
	reframe 't["b"]["data"] = [0, 8]' overlap.ir
	run -1 --separate-stderr irdump overlap.ir
	[ "$stderr" = "irdump: overlap.ir: tensors 'w' and 'b': data spans [0, 16) and [0, 8) overlap" ]
	reframe 't["w"]["data"] = [4096, 16]' far.ir
	run -1 --separate-stderr irdump far.ir
	[ "$stderr" = "irdump: far.ir: tensor 'w': data span [4096, 4112) outside the blob" ]
	reframe 't["w"]["data"] = [32, 16]' odd.ir
	run -1 --separate-stderr irdump odd.ir
	[ "$stderr" = "irdump: odd.ir: tensor 'w': data offset 32 is not a multiple of 64" ]
	reframe 't["w"]["shape"] = [2, 2, 1, 2]' size.ir
	run -1 --separate-stderr irdump size.ir
	[ "$stderr" = "irdump: size.ir: tensor 'w': data holds 16 bytes, shape and dtype want 32" ]
}

@test "ir_corrupt: wrong types, unknown keys, broken references" {
	reframe 't["w"]["dtype"] = "float64"' dt.ir
	run -1 --separate-stderr irdump dt.ir
	[ "$stderr" = "irdump: dt.ir: tensor 'w': unknown dtype 'float64'" ]
	reframe 't["w"]["shape"] = "2x2"' sh.ir
	run -1 --separate-stderr irdump sh.ir
	[ "$stderr" = "irdump: sh.ir: tensor 'w': shape must be an array of 0 to 8 integers" ]
	reframe 'h["colour"] = "blue"' key.ir
	run -1 --separate-stderr irdump key.ir
	[ "$stderr" = "irdump: key.ir: header: unknown key 'colour'" ]
	reframe 'h["graph"]["nodes"][2]["inputs"] = ["c9"]' ref.ir
	run -1 --separate-stderr irdump ref.ir
	[ "$stderr" = "irdump: ref.ir: unknown tensor 'c9' (node 'relu1', op 'Relu')" ]
	reframe 'h["graph"]["nodes"].reverse()' order.ir
	run -1 --separate-stderr irdump order.ir
	[ "$stderr" = "irdump: order.ir: input 'r' is not produced before it is used (node 'reshape1', op 'Reshape')" ]
	reframe 'h["graph"]["nodes"][0]["attrs"]["group"] = {"int": 1.5}' attr.ir
	run -1 --separate-stderr irdump attr.ir
	[[ "$stderr" == "irdump: attr.ir: attribute 'group' must be one of "*"(node 'conv1', op 'Conv')" ]]
	reframe 't["x"]["quant"]["zero_point"] = [256]' zp.ir
	run -1 --separate-stderr irdump zp.ir
	[ "$stderr" = "irdump: zp.ir: tensor 'x': quant zero_point[0] = 256 outside [0, 255]" ]
	reframe 't["c1"]["stats"]["min"] = 9' st.ir
	run -1 --separate-stderr irdump st.ir
	[ "$stderr" = "irdump: st.ir: tensor 'c1': stats min 9 and max 2.25 must be finite with min <= max" ]
}
