#!/usr/bin/env bats
# calibrate: activation statistics.  Expected min/max come from PyTorch
# (tests/fixtures/irrun/tiny_expected.txt, written by
# tests/fixtures/gen/make_kernel_fixtures.py); counts are hand-calculated
# from the shapes; per-channel mean/std and the data-source statistics come
# from PyTorch/numpy (tests/fixtures/calibrate/*.txt, written by
# tests/fixtures/gen/make_calibrate_fixtures.py).

load test_helper

RUN="$FIXTURES/irrun"

tiny() {
	cp "$RUN"/tiny_x.npy "$RUN"/tiny_x_nhwc.npy .
	onnx2ir "$RUN/tiny.onnx" -o tiny.ir
}

expected() {
	awk -v k="$1" '$1 == k { print $2 }' "$RUN/tiny_expected.txt"
}

# stat TENSOR FIELD: from irdump --stats of tiny.cal.ir
stat_of() {
	irdump --stats tiny.cal.ir | awk -v t="$1" -v f="$2" '$1 == t { for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }'
}

# close A B: |A - B| <= 1e-5 (PyTorch's conv sums in another order)
close() {
	awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5) }'
}

only_files() {
	[ "$(ls -A | sort)" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ]
}

@test "--help lists every option and exits 0" {
	run -0 calibrate --help
	assert_output --partial "Usage: calibrate [options] [MODEL.ir] --data PATH [-o OUT.ir]"
	assert_output --partial "calibrate --merge A.cal.ir B.cal.ir ... [-o OUT.ir]"
	for opt in --data --size --resize --mean --std --scale --channels --skip \
		   --limit --shuffle --threads --merge --output --quiet --help --version; do
		assert_output --partial -- "$opt"
	done
}

@test "man page documents every option --help shows" {
	page="$QPIPE_TOP/docs/man/calibrate.md"
	[ -f "$page" ]
	for opt in $(calibrate --help | grep -o -- '--[a-z]*' | sort -u); do
		grep -q -- "$opt" "$page" || { echo "missing $opt"; return 1; }
	done
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^## $sec" "$page" || { echo "missing section $sec"; return 1; }
	done
}

@test "statistics match PyTorch's activations" {
	tiny
	run -0 calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	# the graph input: exact (no arithmetic involved)
	[ "$(stat_of x min)" = "$(expected input_min)" ]
	[ "$(stat_of x max)" = "$(expected input_max)" ]
	close "$(stat_of /Relu_output_0 min)" 0
	close "$(stat_of /Relu_output_0 max)" "$(expected relu_max)"
	close "$(stat_of /Add_output_0 min)" "$(expected add_min)"
	close "$(stat_of /Add_output_0 max)" "$(expected add_max)"
	close "$(stat_of y min)" "$(expected y_min)"
	close "$(stat_of y max)" "$(expected y_max)"
	# counts: 6 samples x 3x16x16 input, 8x8x8 after the stride-2 conv,
	# 10 classes
	[ "$(stat_of x count)" = 4608 ]
	[ "$(stat_of /Relu_output_0 count)" = 3072 ]
	[ "$(stat_of y count)" = 60 ]
}

@test "--limit uses the first N samples" {
	tiny
	calibrate tiny.ir --data tiny_x.npy --limit 2 -o tiny.cal.ir
	[ "$(stat_of x count)" = 1536 ]
	[ "$(stat_of y count)" = 20 ]
	run -2 calibrate tiny.ir --data tiny_x.npy --limit 0 -o out.ir
}

@test "deterministic, works in a pipe, appends history" {
	tiny
	mkdir d1 d2
	(cd d1 && calibrate ../tiny.ir --data ../tiny_x.npy -o out.ir)
	(cd d2 && calibrate ../tiny.ir --data ../tiny_x.npy -o out.ir)
	cmp d1/out.ir d2/out.ir
	mv d1/out.ir a.ir
	# the pipe form records another argv in the history; same statistics
	calibrate --data tiny_x.npy < tiny.ir > c.ir
	[ "$(irdump --stats c.ir)" = "$(irdump --stats a.ir)" ]
	run -0 irdump --json a.ir
	assert_output --partial '"tool": "calibrate"'
	# the rest of the pipeline accepts it
	irrun a.ir --input tiny_x.npy -o y.npy
}

@test "an already quantized IR is refused" {
	command -v quantize >/dev/null || skip "quantize not built"
	tiny
	calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	quantize --tpc "$QPIPE_TOP/tpc/int8.json" tiny.cal.ir -o tiny.q.ir
	run -1 --separate-stderr calibrate tiny.q.ir --data tiny_x.npy -o out.ir
	[ "$stderr" = "calibrate: tiny.q.ir: the IR is already quantized; calibrate takes the float IR from onnx2ir or keras2ir" ]
	[ ! -e out.ir ]
}

@test "data of the wrong shape: both shapes named, exit 1, no output" {
	tiny
	run -1 --separate-stderr calibrate tiny.ir --data tiny_x_nhwc.npy -o out.ir
	[ "$stderr" = "calibrate: tiny_x_nhwc.npy: array shape (6,16,16,3) does not match model input 'x' (N,3,16,16) in layout NCHW" ]
	only_files tiny.ir tiny_x.npy tiny_x_nhwc.npy
}

@test "non-finite data is an error" {
	tiny
	# a float32 (1,3,16,16) array of NaN: header as numpy writes it
	{
		printf '\x93NUMPY\x01\x00\x76\x00'
		printf "%-117s\n" "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 16), }"
		# 0xffffffff is a NaN
		head -c $((3 * 16 * 16 * 4)) /dev/zero | tr '\0' '\377'
	} > nan.npy
	run -1 --separate-stderr calibrate tiny.ir --data nan.npy -o out.ir
	[ "$stderr" = "calibrate: nan.npy: sample 0: non-finite value (NaN) at element 0" ]
	[ ! -e out.ir ]
}

@test "usage errors exit 2" {
	tiny
	run -2 --separate-stderr calibrate tiny.ir -o out.ir
	[ "${stderr_lines[0]}" = "calibrate: no --data given" ]
	run -2 --separate-stderr calibrate --data - -o out.ir < tiny.ir
	[ "${stderr_lines[0]}" = "calibrate: the model and the data cannot both come from standard input" ]
}

CAL="$FIXTURES/calibrate"
DS="$FIXTURES/datasrc"

# json_stat FILE TENSOR FIELD: the stats FIELD of TENSOR from irdump --json,
# array elements separated by spaces
json_stat() {
	irdump --json "$1" | awk -v t="$2" -v f="$3" '
		/^  "tensors": \[/ { in_tensors = 1 }
		in_tensors && index($0, "\"name\": \"" t "\",") { found = 1 }
		found && $0 ~ "^ *\"" f "\": " {
			sub(/^ *"[a-z]+": \[?/, ""); sub(/\]?,?$/, ""); gsub(/,/, " "); print; exit
		}'
}

# near A B: |A - B| <= 1e-6 * max(1, |B|) (derived double values)
near() {
	awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; if (m < 1) m = 1; exit !(d <= 1e-6 * m) }'
}

# check_stats EXPECTED_FILE KEY IR TENSOR: every line "KEY FIELD CH VALUE"
# of the expected file against TENSOR's statistics in IR
check_stats() {
	local field ch want got
	[ "$(awk -v k="$2" '$1 == k' "$1" | wc -l)" -gt 3 ]
	while read -r _ field ch want; do
		if [ "$field" = count ]; then
			got=$(json_stat "$3" "$4" "$field")
			[ "$got" = "$want" ] || { echo "$4 $field: got $got, want $want"; return 1; }
		elif [ "$ch" = - ]; then
			got=$(json_stat "$3" "$4" "$field")
			near "$got" "$want" || { echo "$4 $field: got $got, want $want"; return 1; }
		else
			got=$(json_stat "$3" "$4" "$field" | awk -v c="$ch" '{ print $(c + 1) }')
			near "$got" "$want" || { echo "$4 $field[$ch]: got $got, want $want"; return 1; }
		fi
	done < <(awk -v k="$2" '$1 == k' "$1")
}

# the IR header without its history: what must agree between a single run
# and merged shards (the history records different command lines)
no_history() {
	irdump --json "$1" | awk '/^  "history": \[/ { skip = 1 } !skip { print } skip && /^  \],?$/ { skip = 0 }'
}

@test "per-channel mean and std match PyTorch's activations" {
	tiny
	calibrate tiny.ir --data tiny_x.npy -o tiny.cal.ir
	check_stats "$CAL/tiny_stats.txt" x tiny.cal.ir x
	check_stats "$CAL/tiny_stats.txt" /c1/Conv_output_0 tiny.cal.ir /c1/Conv_output_0
	check_stats "$CAL/tiny_stats.txt" /Relu_output_0 tiny.cal.ir /Relu_output_0
}

@test "histogram: bins by float bit pattern, counts add up to count" {
	onnx2ir "$CAL/relu3.onnx" -o m.ir
	calibrate m.ir --data "$DS/data5.npy" -o m.cal.ir
	# data5.npy holds 180 values; 12.375 = 0x41460000 falls in bin 0x414 = 1044
	hist=$(irdump --json m.cal.ir | awk '/"hist": \[/ { h = 1; next } h && /^ *\]/ { exit } h { gsub(/[][, ]+/, " "); print }')
	[ "$(echo "$hist" | awk '{ n += $2 } END { print n }')" = 180 ]
	echo "$hist" | awk '$1 == 1044 { found = 1 } END { exit !found }'
}

@test "data sources: .npy, image folder, list file, IDX and IDX.gz match numpy" {
	onnx2ir "$CAL/relu3.onnx" -o relu3.ir
	onnx2ir "$CAL/relu1.onnx" -o relu1.ir
	calibrate relu3.ir --data "$DS/data5.npy" -o npy.ir
	check_stats "$CAL/sources_stats.txt" npy npy.ir x
	calibrate relu3.ir --data "$DS/img" -o images.ir
	check_stats "$CAL/sources_stats.txt" images images.ir x
	calibrate relu3.ir --data "$DS/list.txt" -o list.ir
	check_stats "$CAL/sources_stats.txt" list list.ir x
	calibrate relu1.ir --data "$DS/img5.idx" -o idx.ir
	check_stats "$CAL/sources_stats.txt" idx idx.ir x
	calibrate relu1.ir --data "$DS/img5.idx.gz" -o idxgz.ir
	[ "$(no_history idx.ir)" = "$(no_history idxgz.ir)" ]
}

@test "data sources: .npz, image options and --shuffle reach the data source" {
	onnx2ir "$CAL/relu3.onnx" -o relu3.ir
	calibrate relu3.ir --data "$DS/one_deflated.npz" -o npz.ir
	[ "$(json_stat npz.ir x count)" -gt 0 ]
	# a 10x4 image only fits with --resize
	calibrate relu3.ir --data "$DS/big" --resize bilinear -o big.ir
	[ "$(json_stat big.ir x count)" = 72 ]
	# --scale 1 --mean 1: every value of the folder moves by 255x - 1
	calibrate relu3.ir --data "$DS/img" -o a.ir
	calibrate relu3.ir --data "$DS/img" --scale 1 --mean 1 --std 1 --channels rgb -o b.ir
	awk -v a="$(json_stat a.ir x max)" -v b="$(json_stat b.ir x max)" 'BEGIN { d = a * 255 - 1 - b; exit !(d < 1e-3 && d > -1e-3) }'
	# order does not change statistics that merge exactly
	calibrate relu3.ir --data "$DS/img" --shuffle 42 -o s.ir
	[ "$(irdump --stats s.ir)" = "$(irdump --stats a.ir)" ]
	[ "$(no_history s.ir)" = "$(no_history a.ir)" ]
}

@test "multi-input model: one --data per input, by name" {
	onnx2ir "$CAL/add2.onnx" -o add2.ir
	calibrate add2.ir --data b="$DS/data5.npy" --data a="$DS/data5.npy" -o out.ir
	check_stats "$CAL/sources_stats.txt" npy out.ir a
	check_stats "$CAL/sources_stats.txt" npy out.ir b
	# y = a + b = 2x: exact doubling
	[ "$(json_stat out.ir y max)" = 75.5 ]
	run -2 --separate-stderr calibrate add2.ir --data a="$DS/data5.npy" -o out2.ir
	[ "${stderr_lines[0]}" = "calibrate: no --data for input 'b' (the model has 2 inputs)" ]
	[ ! -e out2.ir ]
}

@test "bad data: each a clear error naming the file, exit 1, no output" {
	onnx2ir "$CAL/relu3.onnx" -o relu3.ir
	run -1 --separate-stderr calibrate relu3.ir --data "$DS/corrupt.png" -o out.ir
	[ "$stderr" = "calibrate: $DS/corrupt.png: not a valid image: PNG: [04][05][06][07]: invalid chunk type" ]
	run -1 --separate-stderr calibrate relu3.ir --data "$DS/big" -o out.ir
	[ "$stderr" = "calibrate: $DS/big/wide_10x4.png: image is 10x4, the model takes 4x3; use --resize" ]
	run -1 --separate-stderr calibrate relu3.ir --data "$DS/noimg" -o out.ir
	[ "$stderr" = "calibrate: $DS/noimg: no images (.png .jpg .jpeg .bmp .ppm .pgm)" ]
	run -1 --separate-stderr calibrate relu3.ir --data "$DS/wrong_shape.npy" -o out.ir
	[ "$stderr" = "calibrate: $DS/wrong_shape.npy: array shape (5,3,4,3) does not match model input 'x' (N,3,3,4) in layout NCHW" ]
	# a gzip IDX whose data ends inside image 3 (known only when read)
	onnx2ir "$CAL/relu1.onnx" -o relu1.ir
	head -c 60 "$DS/img5.idx" | gzip > short.idx.gz
	run -1 --separate-stderr calibrate relu1.ir --data short.idx.gz -o out.ir
	[ "$stderr" = "calibrate: short.idx.gz: image 3: truncated: 44 data bytes where dimensions 5x3x4 need 60" ]
	rm short.idx.gz relu1.ir
	run -1 --separate-stderr calibrate relu3.ir --data "$DS/data5.npy" --skip 5 -o out.ir
	[ "$stderr" = "calibrate: $DS/data5.npy: no samples after --skip" ]
	only_files relu3.ir
}

@test "bad data: damaged PNG, JPEG and PNM files are refused with the decoder's reason" {
	# Found by tests/fuzz/fuzz.py when stb_image decoded images: it read a
	# 0x0 image from a PNM header with a control byte for white space, and
	# wrote past an array on a JPEG Huffman table of over 256 symbols.
	onnx2ir "$CAL/relu3.onnx" -o relu3.ir
	{ printf 'P6\00228 30\n255\n'; head -c 2520 /dev/zero; } > zero.ppm
	run -1 --separate-stderr calibrate relu3.ir --data zero.ppm --resize bilinear -o out.ir
	[ "$stderr" = "calibrate: zero.ppm: not a valid image: PNM: header is damaged (width, height and maximum value expected)" ]
	{ printf 'P6\n4 3\n255\n'; head -c 30 /dev/zero; } > short.ppm
	run -1 --separate-stderr calibrate relu3.ir --data short.ppm -o out.ir
	[ "$stderr" = "calibrate: short.ppm: not a valid image: PNM: pixel data is truncated: 30 bytes, 4x3 needs 36" ]
	# SOI, then a DHT segment (length 2 + 17 + 257) whose counts, 255 codes
	# of length 9 and 2 of length 10, form a prefix code of 257 symbols
	{ printf '\377\330\377\304\001\024\000\0\0\0\0\0\0\0\0\377\002\0\0\0\0\0\0'
	  head -c 257 /dev/zero; } > dht.jpg
	run -1 --separate-stderr calibrate relu3.ir --data dht.jpg -o out.ir
	[ "$stderr" = "calibrate: dht.jpg: not a valid image: JPEG: bogus Huffman table definition" ]
	# a PNG whose IHDR CRC is damaged
	cp "$DS/img/a.png" crc.png
	printf '\000' | dd of=crc.png bs=1 seek=29 conv=notrunc 2>/dev/null
	run -1 --separate-stderr calibrate relu3.ir --data crc.png -o out.ir
	[ "$stderr" = "calibrate: crc.png: not a valid image: PNG: IHDR: CRC error" ]
	only_files relu3.ir zero.ppm short.ppm dht.jpg crc.png
}

@test "statistics do not depend on the thread count" {
	tiny
	calibrate tiny.ir --data tiny_x.npy --threads 1 -o t1.ir
	for n in 2 3 6 16; do
		calibrate tiny.ir --data tiny_x.npy --threads $n -o t$n.ir
		[ "$(no_history t$n.ir)" = "$(no_history t1.ir)" ]
	done
	# and the files differ only in the history's argv
	[ "$(no_history t1.ir | wc -l)" -gt 100 ]
}

@test "--merge of 4 shards equals one run over all the data" {
	tiny
	calibrate tiny.ir --data tiny_x.npy -o all.ir
	# consecutive slices of 2, 1, 2 and 1 samples, merged out of order
	calibrate tiny.ir --data tiny_x.npy --limit 2 -o s1.ir
	calibrate tiny.ir --data tiny_x.npy --skip 2 --limit 1 -j1 -o s2.ir
	calibrate tiny.ir --data tiny_x.npy --skip 3 --limit 2 -o s3.ir
	calibrate tiny.ir --data tiny_x.npy --skip 5 -o s4.ir
	calibrate --merge s3.ir s1.ir s4.ir s2.ir -o merged.ir
	# everything but the history is the same: graph, tensors, statistics
	# (min, max, count, exact sums, histogram and the mean/std derived
	# from them) byte for byte
	[ "$(no_history merged.ir)" = "$(no_history all.ir)" ]
	[ "$(irdump --stats merged.ir)" = "$(irdump --stats all.ir)" ]
	# the history says how the merged file was made
	run -0 irdump --json merged.ir
	assert_output --partial '"--merge", "s3.ir", "s1.ir", "s4.ir", "s2.ir"'
	# quantize takes the merged file like a single run's
	if command -v quantize >/dev/null; then
		quantize --tpc "$QPIPE_TOP/tpc/int8.json" all.ir -o a.q.ir
		quantize --tpc "$QPIPE_TOP/tpc/int8.json" merged.ir -o m.q.ir
		[ "$(no_history a.q.ir)" = "$(no_history m.q.ir)" ]
	fi
}

@test "--merge refuses another model or an uncalibrated IR: exit 1, no output" {
	tiny
	onnx2ir "$CAL/relu3.onnx" -o relu3.ir
	calibrate tiny.ir --data tiny_x.npy -o a.ir
	calibrate relu3.ir --data "$DS/data5.npy" -o b.ir
	run -1 --separate-stderr calibrate --merge a.ir b.ir -o out.ir
	[ "$stderr" = "calibrate: b.ir: not the same model as the first file (tensors, nodes, inputs or outputs differ)" ]
	run -1 --separate-stderr calibrate --merge a.ir tiny.ir -o out.ir
	[ "$stderr" = "calibrate: tiny.ir: tensor 'x' has statistics in one file and not in the other" ]
	[ ! -e out.ir ]
	run -2 calibrate --merge a.ir --data tiny_x.npy -o out.ir
	[ ! -e out.ir ]
}

@test "no progress line when stderr is not a terminal; -q is quiet" {
	tiny
	run -0 --separate-stderr calibrate tiny.ir --data tiny_x.npy -o a.ir
	[ -z "$stderr" ]
	run -0 --separate-stderr calibrate -q tiny.ir --data tiny_x.npy -o b.ir
	[ -z "$stderr" ]
}

@test "examples/slurm: the shard and merge scripts, run by hand, equal one run" {
	onnx2ir "$CAL/relu3.onnx" -o m.ir
	slurm="$QPIPE_TOP/examples/slurm"
	for k in 0 1 2 3; do
		SLURM_ARRAY_TASK_ID=$k SHARD=1 MODEL=m.ir DATA="$DS/img" sh "$slurm/calibrate-shard.sbatch"
	done
	SHARDS=4 sh "$slurm/merge.sbatch"
	calibrate m.ir --data "$DS/img" --resize crop --mean 0.485,0.456,0.406 \
		--std 0.229,0.224,0.225 -o one.ir
	[ "$(no_history m.cal.ir)" = "$(no_history one.ir)" ]
}

@test "a calibrated IR follows docs/ir.md byte for byte (independent checker)" {
	tiny
	calibrate tiny.ir --data tiny_x.npy -o a.ir
	run /usr/bin/python3 "$QPIPE_TOP/tests/fixtures/gen/check_ir.py" a.ir
	[ "$status" -eq 0 ] && [ "$output" = ok ]
}
