#!/usr/bin/env bats
# irdiff: two IRs of one model run over the same samples, compared tensor by
# tensor.  The model is made here with python3-onnx (Conv -> Relu -> Conv ->
# Relu -> Reshape -> Gemm, seeded random weights) and taken through the int8
# pipeline; damaged copies are written with the spec-only IR writer
# tests/fixtures/gen/qpir.py.  SQNR figures are checked against numpy
# recomputing them from irrun's outputs.
load test_helper

# The model and its IRs, made once per file in $BATS_FILE_TMPDIR/m and
# copied into the test's folder: m.onnx, x.npy (16 samples), f.ir, q.ir
# (tpc/int8.json), low.ir.
model() {
	"$PY" -c 'import onnx, numpy' 2>/dev/null || skip "needs /usr/bin/python3 with onnx and numpy (make deps)"
	local d=$BATS_FILE_TMPDIR/m
	if [ ! -e "$d/done" ]; then
		mkdir -p "$d" && (cd "$d" && "$PY" - <<'PY'
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto as T
rng = np.random.default_rng(7)
def w(name, *shape, s=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)
inits = [w("c1w", 8, 3, 3, 3), w("c1b", 8, s=0.1), w("c2w", 8, 8, 3, 3, s=0.2),
         w("c2b", 8, s=0.1), w("fw", 10, 512, s=0.05), w("fb", 10, s=0.1),
         numpy_helper.from_array(np.array([1, -1], np.int64), "shp")]
nodes = [helper.make_node("Conv", ["x", "c1w", "c1b"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
         helper.make_node("Conv", ["r1", "c2w", "c2b"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
         helper.make_node("Reshape", ["r2", "shp"], ["flat"], name="flatten"),
         helper.make_node("Gemm", ["flat", "fw", "fb"], ["y"], name="fc", transB=1)]
g = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                      [helper.make_tensor_value_info("y", T.FLOAT, [1, 10])], inits)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "m.onnx")
np.save("x.npy", rng.standard_normal((16, 3, 8, 8)).astype(np.float32))
PY
		) &&
		onnx2ir "$d/m.onnx" -o "$d/f.ir" &&
		calibrate -q --data "$d/x.npy" "$d/f.ir" -o "$d/cal.ir" &&
		quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" "$d/cal.ir" -o "$d/q.ir" &&
		lower "$d/q.ir" -o "$d/low.ir" &&
		touch "$d/done" || return 1
	fi
	cp "$d/x.npy" "$d/f.ir" "$d/q.ir" "$d/low.ir" .
}

# rename IN OUT OLD=NEW...: IN with tensors renamed (swaps allowed), written
# by the spec-only writer.
rename() {
	"$PY" - "$FIXTURES/gen" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1]); import qpir
src, dst, pairs = sys.argv[2], sys.argv[3], dict(p.split("=", 1) for p in sys.argv[4:])
h, arr = qpir.read(src)
r = lambda n: pairs.get(n, n)
for t in h["tensors"]:
    t["name"] = r(t["name"])
for io in h["graph"]["inputs"] + h["graph"]["outputs"]:
    io["name"] = r(io["name"])
for n in h["graph"]["nodes"]:
    n["inputs"] = [r(x) for x in n["inputs"]]
    n["outputs"] = [r(x) for x in n["outputs"]]
qpir.write(dst, h, {r(k): v for k, v in arr.items()})
PY
}

# rows CSV: "tensor sqnr max_error" per row of an irdiff --format csv file.
rows() {
	"$PY" -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(r["tensor"], r["sqnr_db"], r["max_error"])' "$1"
}

# npsqnr A.npy B.npy: numpy's SQNR of B against A in dB.
npsqnr() {
	"$PY" -c '
import sys, numpy as np
a = np.load(sys.argv[1]).astype(np.float64); b = np.load(sys.argv[2]).astype(np.float64)
assert a.shape == b.shape, (a.shape, b.shape)
print("%.6f" % (10 * np.log10((a * a).sum() / ((a - b) ** 2).sum())))' "$1" "$2"
}

# csv_sqnr CSV TENSOR: that row's SQNR.
csv_sqnr() {
	"$PY" -c '
import csv, sys
print([r for r in csv.DictReader(open(sys.argv[1])) if r["tensor"] == sys.argv[2]][0]["sqnr_db"])' "$1" "$2"
}

# close X Y TOL: |X - Y| <= TOL.
close() {
	echo "$1 vs $2 (tolerance $3)"
	"$PY" -c "import sys; sys.exit(not abs(float('$1') - float('$2')) <= float('$3'))"
}

@test "--help lists every option and exits 0" {
	run -0 irdiff --help
	assert_output --partial "Usage: irdiff [options] A.ir B.ir --input [INPUT=]PATH [--format table|csv|json] [--svg OUT.svg] [-o OUT]"
	for opt in --input --format --output --svg --help --version \
		   --size --resize --mean --std --scale --channels --skip --limit --shuffle; do
		assert_output --partial -- "$opt"
	done
	run -0 irdiff --version
	[ "$output" = "irdiff (qpipe) 0.1.0, IR format 0.1" ]
}

@test "man page documents every option --help shows" {
	page="$QPIPE_TOP/docs/man/irdiff.md"
	[ -f "$page" ]
	for opt in $(irdiff --help | grep -o -- '--[a-z]*' | sort -u); do
		grep -q -- "$opt" "$page" || { echo "missing $opt"; return 1; }
	done
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^## $sec" "$page" || { echo "missing section $sec"; return 1; }
	done
	grep -qF 'irdiff f.ir q.ir --input x.npy --svg q.svg' "$page"
}

@test "identical IRs: every SQNR is inf, every max error 0, no worst" {
	model
	for m in f.ir q.ir low.ir; do
		run -0 --separate-stderr irdiff "$m" "$m" --input x.npy --format csv -o d.csv
		[ "$stderr" = "" ]
		run -0 rows d.csv
		echo "$output"
		[ "${#lines[@]}" -ge 5 ]
		for l in "${lines[@]}"; do
			set -- $l
			[ "$2" = inf ] && [ "$3" = 0 ]
		done
		run -0 irdiff "$m" "$m" --input x.npy
		[ "${lines[-1]}" = "worst: none (every compared tensor is equal)" ]
		[[ "$output" != *"<- worst"* ]]
	done
	# Float: every activation is compared, the graph input first.
	run -0 rows <(irdiff f.ir f.ir --input x.npy --format csv)
	[ "$(echo "$output" | cut -d' ' -f1 | tr '\n' ' ')" = "x c1 r1 c2 r2 flat y " ]
}

@test "float against quantized: every SQNR finite and above 10 dB; the output's matches numpy" {
	model
	need_numpy
	run -0 irdiff f.ir q.ir --input x.npy --format csv -o d.csv
	run -0 rows d.csv
	echo "$output"
	[ "${#lines[@]}" -ge 4 ]
	for l in "${lines[@]}"; do
		set -- $l
		"$PY" -c "import math, sys; s = float('$2'); sys.exit(not (math.isfinite(s) and s > 10))"
	done
	# The Conv outputs inside the fused Conv -> Relu chains hold the fused
	# result in q.ir: absent, like in the lowered IR.
	run -0 irdiff f.ir q.ir --input x.npy
	[ "${lines[-2]}" = "compared 5 tensors, skipped 2 (2 only in f.ir, 0 only in q.ir, 0 of different shapes)" ]
	irrun f.ir --input x.npy -o yf.npy
	irrun q.ir --input x.npy -o yq.npy
	ref=$(npsqnr yf.npy yq.npy)
	close "$(csv_sqnr d.csv y)" "$ref" 0.01
	# float against lowered: the same output, through the integer kernels
	irrun low.ir --input x.npy -o yl.npy
	irdiff f.ir low.ir --input x.npy --format csv -o dl.csv
	close "$(csv_sqnr dl.csv y)" "$(npsqnr yf.npy yl.npy)" 0.01
}

@test "a damaged conv weight: the tensor after it is the worst, SQNR as numpy computes it" {
	model
	need_numpy
	# conv2's int8 weight codes negated (clipped to +-127) in a copy of q.ir.
	"$PY" - "$FIXTURES/gen" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import qpir
h, arr = qpir.read("q.ir")
arr = {k: np.array(v) for k, v in arr.items()}
assert arr["c2w"].dtype == np.int8
arr["c2w"] = np.clip(-arr["c2w"].astype(np.int16), -127, 127).astype(np.int8)
qpir.write("damaged.ir", h, arr)
PY
	run -0 irdiff q.ir damaged.ir --input x.npy --format json -o d.json
	run -0 "$PY" -c '
import json
d = json.load(open("d.json"))
w = d["worst"]
print(w)
assert w["tensor"] in ("c2", "r2") and w["node"] in ("conv2", "relu2"), w
rows = [r["tensor"] for r in d["rows"]]
# before the damage nothing changed
for r in d["rows"][:rows.index(w["tensor"])]:
    assert r["sqnr_db"] == "inf" and r["max_error"] == 0, r
assert isinstance(w["sqnr_db"], float) and w["sqnr_db"] < 10, w'
	echo "$output"
	run -0 irdiff q.ir damaged.ir --input x.npy
	[[ "${lines[-1]}" == "worst: r2 (op Relu) SQNR "*" dB" ]]
	[[ "$(grep -- '<- worst' <<<"$output")" == "r2 "* ]]
	irrun q.ir --input x.npy -o yq.npy
	irrun damaged.ir --input x.npy -o yd.npy
	irdiff q.ir damaged.ir --input x.npy --format csv -o d.csv
	close "$(csv_sqnr d.csv y)" "$(npsqnr yq.npy yd.npy)" 0.01
}

@test "csv and json parse and carry the same numbers as the table" {
	model
	need_numpy
	irdiff f.ir low.ir --input x.npy --limit 3 --format csv -o d.csv
	irdiff f.ir low.ir --input x.npy --limit 3 --format json -o d.json
	irdiff f.ir low.ir --input x.npy --limit 3 -o d.txt
	cat d.txt
	run -0 "$PY" - <<'PY'
import csv, json
c = list(csv.DictReader(open("d.csv")))
j = json.load(open("d.json"))
t = [l.split() for l in open("d.txt").read().splitlines()[1:-2]]
assert list(c[0]) == ["tensor", "node", "op", "elements", "sqnr_db", "cosine", "max_error"], list(c[0])
assert j["compared"] == len(c) == len(j["rows"]) == len(t) == 5, (j["compared"], len(c), len(t))
assert j["skipped"] == 4, j["skipped"]   # c1, c2 only in f.ir; x_q, y_q only in low.ir
num = lambda v: float(v)                 # "inf" parses too
for a, b, r in zip(c, j["rows"], t):
    assert a["tensor"] == b["tensor"] == r[0], (a, b, r)
    assert (a["node"] or None) == b["node"] and (a["op"] or None) == b["op"], (a, b)
    assert int(a["elements"]) == b["elements"] == int(r[3]), (a, b, r)
    for k in ("sqnr_db", "cosine", "max_error"):
        assert num(a[k]) == num(b[k]), (k, a, b)
    assert r[4] == "inf" if a["sqnr_db"] == "inf" else abs(float(r[4]) - float(a["sqnr_db"])) <= 0.005, (a, r)
# --limit 3: three samples of x's 3*8*8
assert c[0]["tensor"] == "x" and int(c[0]["elements"]) == 3 * 192, c[0]
w = min(c, key=lambda r: float(r["sqnr_db"]))
assert j["worst"]["tensor"] == w["tensor"] and num(j["worst"]["sqnr_db"]) == num(w["sqnr_db"]), j["worst"]
PY
	echo "$output"
}

@test "a lowered IR's T_q pairs with T; tensors of different shapes are skipped" {
	model
	# Only low.ir's r1 renamed r1_q: still compared with f.ir's r1.
	rename low.ir lowq.ir r1=r1_q
	run -0 irdiff f.ir lowq.ir --input x.npy
	[ "${lines[-2]}" = "compared 5 tensors, skipped 4 (2 only in f.ir, 2 only in lowq.ir, 0 of different shapes)" ]
	[[ "${lines[2]}" == "r1 "* ]]
	run -0 irdiff lowq.ir f.ir --input x.npy
	[[ "$output" == *$'\nr1_q '* ]]
	# r1 and flat swapped: same names, other shapes.
	rename f.ir swap.ir r1=flat flat=r1
	run -0 irdiff f.ir swap.ir --input x.npy
	[ "${lines[-2]}" = "compared 5 tensors, skipped 2 (0 only in f.ir, 0 only in swap.ir, 2 of different shapes)" ]
}

@test "--svg draws a bar per tensor, escapes names, renders with rsvg-convert" {
	model
	command -v rsvg-convert >/dev/null || skip "needs rsvg-convert (librsvg2-bin, make deps)"
	rename q.ir qn.ir 'r2=r2<&>"'"'"
	rename low.ir lown.ir 'r2=r2<&>"'"'"
	run -0 --separate-stderr irdiff qn.ir lown.ir --input x.npy --svg d.svg -o d.txt
	[ "$output" = "" ]
	cat d.txt
	run -0 "$PY" - <<'PY'
import xml.etree.ElementTree as ET
s = ET.parse("d.svg").getroot()
ns = "{http://www.w3.org/2000/svg}"
assert s.tag == ns + "svg" and s.get("version") == "1.1"
texts = [t.text for t in s.iter(ns + "text")]
assert "r2<&>\"'" in texts, texts
bars = [r for r in s.iter(ns + "rect")][1:]           # the first is the background
assert len(bars) == 5, len(bars)                       # x r1 r2 flat y
fills = [b.get("fill") for b in bars]
assert fills.count("#e15759") == 1 and fills[0] == "#e15759", fills   # worst: x (input rounding)
assert fills[1:] == ["#59a14f"] * 4, fills                             # inf
assert texts.count("inf") == 4, texts
PY
	echo "$output"
	rsvg-convert d.svg -o d.png
	[ -s d.png ]
	[ "$(head -c 8 d.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}

@test "errors: missing file, no --input, nothing in common, bad -o; nothing left behind" {
	model
	run -1 --separate-stderr irdiff nope.ir q.ir --input x.npy
	[ "$stderr" = "irdiff: nope.ir: cannot open: No such file or directory" ]
	run -1 --separate-stderr irdiff f.ir q.ir --input none.npy
	[[ "$stderr" == "irdiff: none.npy: "* ]]
	run -2 --separate-stderr irdiff f.ir q.ir
	[ "${stderr_lines[0]}" = "irdiff: no --input given" ]
	run -2 --separate-stderr irdiff f.ir --input x.npy
	[ "${stderr_lines[0]}" = "irdiff: two models expected (A.ir B.ir), got 1" ]
	run -2 --separate-stderr irdiff f.ir q.ir --input x.npy --format xml
	[ "${stderr_lines[0]}" = "irdiff: --format wants table, csv or json, not 'xml'" ]
	run -2 --separate-stderr irdiff f.ir - --input - < q.ir
	[ "${stderr_lines[0]}" = "irdiff: a model and an input cannot both come from standard input" ]
	rename f.ir z.ir x=zx c1=zc1 r1=zr1 c2=zc2 r2=zr2 flat=zflat y=zy
	run -1 --separate-stderr irdiff f.ir z.ir --input x.npy -o d.txt
	[ "$stderr" = "irdiff: z.ir: no tensor in common with f.ir (none has the same name and shape)" ]
	[ ! -e d.txt ]
	ls -A > before
	run -1 --separate-stderr irdiff f.ir q.ir --input x.npy -o nodir/d.txt
	[[ "$stderr" == "irdiff: nodir/d.txt: "* ]]
	run -1 --separate-stderr irdiff f.ir q.ir --input x.npy --svg nodir/d.svg -o d.txt
	[[ "$stderr" == "irdiff: nodir/d.svg: "* ]]
	[ "$(ls -A)" = "$(cat before)" ]
	[ ! -e nodir ]
}
