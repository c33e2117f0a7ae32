#!/usr/bin/env bats
# The IMX500 target (tpc/imx500.json, from MCT's IMX500 TPC v1) and
# `quantize --tpc NAME` (docs/tpc.md section 1.1).
#
# The expected activation parameters are recomputed here in numpy from the
# calibrated min/max that irdump --json shows, by MCT's power-of-two rule
# (threshold 2^ceil(log2 max|x|), scale threshold / 2^7 when the minimum is
# negative, else / 2^8, zero point 0), not read back from quantize.
load test_helper

OPS="$FIXTURES/lower"

# An uninstalled layout: a copy of quantize in inst/bin beside inst/tpc, a
# link to the source tree's targets, so `--tpc NAME` finds them through
# bin/../tpc wherever $QPIPE_BIN is (a copy, since the executable's own path
# is resolved through links).
uninstalled() {
	mkdir -p inst/bin &&
	cp "$QPIPE_BIN/quantize" inst/bin/quantize &&
	ln -s "$QPIPE_TOP/tpc" inst/tpc
}

calibrated() {
	onnx2ir "$OPS/ops.onnx" -o f.ir &&
	calibrate -q --data "$OPS/ops.x.npy" f.ir -o f.cal.ir
}

@test "imx500: --tpc imx500 gives power-of-two activations, signed exactly where the minimum is negative" {
	need_numpy
	calibrated
	uninstalled
	run -0 env -u QPIPE_TPC_PATH inst/bin/quantize -q --tpc imx500 f.cal.ir -o q.ir
	irdump --json q.ir > q.json
	run -0 "$PY" - q.json "$QPIPE_TOP/tpc/imx500.json" <<'PY'
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
tpc = json.load(open(sys.argv[2]))
assert d["meta"]["target"]["name"] == "imx500", d["meta"]["target"]["name"]
preserving = {op for s in tpc["operator_sets"]
              if s.get("config", {}).get("activation", {}).get("preserving")
              for op in s["ops"]}
t = {x["name"]: x for x in d["tensors"]}
producer = {o: n for n in d["graph"]["nodes"] for o in n["outputs"]}
checked = copied = fused = 0
for name, x in t.items():
    if "stats" not in x:
        continue
    if "quant" not in x:
        # the inside of a chain the target fuses (docs/ir.md 4.3, rule 0):
        # read by one Relu or ReLU6 (Clip) alone
        readers = [n for n in d["graph"]["nodes"] if name in n["inputs"]]
        assert len(readers) == 1 and readers[0]["op"] in ("Relu", "Clip"), (name, readers)
        fused += 1
        continue
    q = x["quant"]
    n = producer.get(name)
    if n is not None and n["op"] in preserving:
        # MCT: no activation quantization here, the values stay on the
        # input's grid, which qpipe states as the input's parameters.
        assert q == t[n["inputs"][0]]["quant"], (name, q)
        copied += 1
        continue
    lo, hi = x["stats"]["min"], x["stats"]["max"]
    amax = max(abs(lo), abs(hi))
    signed = lo < 0
    thr = np.power(2.0, np.ceil(np.log2(np.maximum(amax, 2.0 ** -16))))
    want = float(np.float32(thr / 2.0 ** (7 if signed else 8)))
    assert q["scheme"] == "power_of_two" and q["bits"] == 8 and q["axis"] == -1, (name, q)
    assert q["signed"] == signed, (name, lo, q)
    assert q["zero_point"] == [0], (name, q)
    assert q["scale"] == [want], (name, lo, hi, q["scale"], want)
    checked += 1
assert checked >= 8 and copied >= 2, (checked, copied)
# Kernels: 8-bit symmetric per output channel; biases int32.
for w in ("conv.weight", "dw.weight", "fc.weight"):
    q = t[w]["quant"]
    assert (t[w]["dtype"], q["scheme"], q["bits"], q["axis"]) == ("int8", "symmetric", 8, 0), (w, q)
for b in ("conv.bias", "fc.bias"):
    assert t[b]["dtype"] == "int32", b
signs = sorted({t[k]["quant"]["signed"] for k in t if "quant" in t[k] and "stats" in t[k]})
assert signs == [False, True], signs   # the fixture has both kinds
print("checked", checked, "copied", copied)
PY
}

@test "imx500: --tpc int8 and --tpc tpc/int8.json give the same model" {
	need_numpy
	calibrated
	uninstalled
	mkdir a b
	(cd a && env -u QPIPE_TPC_PATH ../inst/bin/quantize -q --tpc int8 ../f.cal.ir -o q.ir)
	(cd b && quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" ../f.cal.ir -o q.ir)
	# The files differ in the recorded --tpc argument only: everything else
	# of the header equals, and so do the device binaries emitted from
	# them, byte for byte (weights included).
	irdump --json a/q.ir > a.json
	irdump --json b/q.ir > b.json
	run -0 "$PY" - a.json b.json <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ha, hb = a.pop("history"), b.pop("history")
assert a == b
assert ha[:-1] == hb[:-1]
va, vb = ha[-1]["argv"], hb[-1]["argv"]
assert [x for x in va if x != "int8"] == [x for x in vb if not x.endswith("/int8.json")], (va, vb)
PY
	run -0 lower a/q.ir -o a.low.ir
	run -0 lower b/q.ir -o b.low.ir
	run -0 emit a.low.ir -o a.bin
	run -0 emit b.low.ir -o b.bin
	cmp a.bin b.bin
}

@test "imx500: a bare name is looked up in \$QPIPE_TPC_PATH first, in order" {
	calibrated
	uninstalled
	mkdir -p one two
	sed 's/"name": "int8"/"name": "mine"/' "$QPIPE_TOP/tpc/int8.json" > two/mine.json
	sed 's/"name": "imx500"/"name": "imx500-local"/' "$QPIPE_TOP/tpc/imx500.json" > two/imx500.json
	QPIPE_TPC_PATH="$PWD/one::$PWD/two" run -0 inst/bin/quantize -q --tpc mine f.cal.ir -o m.ir
	run -0 --separate-stderr irdump --json m.ir
	[[ "$output" == *'"name": "mine"'* ]]
	# Before the shipped targets: the local imx500.json wins.
	QPIPE_TPC_PATH="$PWD/two" run -0 inst/bin/quantize -q --tpc imx500 f.cal.ir -o i.ir
	run -0 --separate-stderr irdump --json i.ir
	[[ "$output" == *'"name": "imx500-local"'* ]]
}

@test "imx500: an unknown name lists every place looked, exit 1, nothing written" {
	calibrated
	uninstalled
	QPIPE_TPC_PATH="/nonexistent/a:/nonexistent/b" run -1 --separate-stderr \
		inst/bin/quantize --tpc nosuch f.cal.ir -o out.ir
	[[ "$stderr" == "quantize: nosuch: no such target: looked for nosuch.json in /nonexistent/a, /nonexistent/b, "*"/share/qpipe/tpc, $PWD/inst/bin/../tpc" ]]
	[ ! -e out.ir ]
}

@test "imx500: a name with '/' or ending in .json is a file, never looked up" {
	calibrated
	uninstalled
	run -1 --separate-stderr inst/bin/quantize --tpc ./imx500 f.cal.ir -o out.ir
	[ "$stderr" = "quantize: ./imx500: cannot open: No such file or directory" ]
	run -1 --separate-stderr inst/bin/quantize --tpc imx500.json f.cal.ir -o out.ir
	[ "$stderr" = "quantize: imx500.json: cannot open: No such file or directory" ]
	[ ! -e out.ir ]
	cp "$QPIPE_TOP/tpc/imx500.json" .
	run -0 inst/bin/quantize -q --tpc imx500.json f.cal.ir -o out.ir
}

@test "imx500: lower, emit and simulate on the IMX500-quantized model equal irrun on the lowered IR" {
	need_numpy
	calibrated
	run -0 quantize -q --tpc "$QPIPE_TOP/tpc/imx500.json" f.cal.ir -o q.ir
	run -0 lower q.ir -o low.ir
	run -0 emit low.ir -o m.bin
	run -0 simulate m.bin --input "$OPS/ops.x.npy" -o sim.npy
	run -0 irrun low.ir --input "$OPS/ops.x.npy" -o ref.npy
	run -0 npy_close sim.npy ref.npy 0
}
