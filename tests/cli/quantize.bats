#!/usr/bin/env bats
# quantize: CLI behaviour and the numbers it writes.
#
# Fixtures (tests/fixtures/quantize/, made by tests/fixtures/gen/gen_quantize.py):
#   convbn.cal.ir    Conv-BN-Relu-MaxPool-Flatten-Gemm-Softmax with statistics
#   convbn.ir        the same without statistics
#   mlp.cal.ir       MatMul-Add(const)-Relu-Gemm(alpha 0.5, beta 2)-Softmax
#   sharedbn.cal.ir  Conv whose output is a graph output and feeds a BN
#   *.npy            references: PyTorch's fuse_conv_bn_weights, 0.5*W, 2*C
# Outputs are checked by tests/fixtures/gen/qpir.py, a reader written from
# docs/ir.md alone, against formulas recomputed here in numpy.
load test_helper

Q="$FIXTURES/quantize"
TPC="$QPIPE_TOP/tpc/int8.json"
GEN="$QPIPE_TOP/tests/fixtures/gen"

@test "quantize --help lists --tpc and exits 0" {
	run quantize --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--tpc TPC.json"* ]]
	[[ "$output" == *"-o, --output PATH"* ]]
}

@test "quantize without --tpc is a usage error (exit 2)" {
	run -2 --separate-stderr quantize "$Q/convbn.cal.ir" -o out.ir
	[ "${stderr_lines[0]}" = "quantize: --tpc is required" ]
	[ ! -e out.ir ]
}

@test "quantize with two inputs is a usage error (exit 2)" {
	run -2 --separate-stderr quantize --tpc "$TPC" a.ir b.ir
	[ "${stderr_lines[0]}" = "quantize: expected at most one input file, got 2" ]
}

@test "quantize refuses an IR without statistics" {
	cp "$Q/convbn.ir" m.ir
	run -1 --separate-stderr quantize --tpc "$TPC" m.ir -o out.ir
	[ "$stderr" = "quantize: m.ir: no activation statistics; run calibrate first" ]
	[ ! -e out.ir ]
}

@test "quantize names the key of a bad TPC" {
	sed 's/"MaxPool", "AveragePool"/"MaxPool", "Conv3D"/' "$TPC" >bad.json
	run -1 --separate-stderr quantize --tpc bad.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: bad.json: operator_sets[6].ops[1]: unknown op 'Conv3D'" ]
	[ ! -e out.ir ]
	sed 's/"n_bits": 8, "method": "symmetric"/"n_bits": 17, "method": "symmetric"/' "$TPC" >bits.json
	run -1 --separate-stderr quantize --tpc bits.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: bits.json: default_config.weights.n_bits: 17 is outside 2..16" ]
	echo '{"format": "qpipe-tpc",' >trunc.json
	run -1 --separate-stderr quantize --tpc trunc.json "$Q/convbn.cal.ir" -o out.ir
	[[ "$stderr" == "quantize: trunc.json: invalid JSON near byte "* ]]
	run -1 --separate-stderr quantize --tpc missing.json "$Q/convbn.cal.ir" -o out.ir
	[[ "$stderr" == "quantize: missing.json: "*"No such file or directory"* ]]
	[ ! -e out.ir ]
}

@test "quantize lists every op the target lacks, at once" {
	cat >conv-only.json <<-'EOF'
	{"format": "qpipe-tpc", "version": 1, "name": "tiny",
	 "default_config": {
	   "weights": {"enabled": true, "n_bits": 8, "method": "symmetric", "per_channel": true},
	   "activation": {"enabled": true, "n_bits": 8, "method": "uniform", "signedness": "signed"}},
	 "operator_sets": [{"name": "conv", "ops": ["Conv", "Gemm"]}]}
	EOF
	run -1 --separate-stderr quantize --tpc conv-only.json "$Q/convbn.cal.ir" -o out.ir
	[ "${#stderr_lines[@]}" -eq 4 ]
	[ "${stderr_lines[0]}" = "quantize: $Q/convbn.cal.ir: target 'tiny' does not support op 'Relu' (node 'relu', op 'Relu')" ]
	[ "${stderr_lines[1]}" = "quantize: $Q/convbn.cal.ir: target 'tiny' does not support op 'MaxPool' (node 'pool', op 'MaxPool')" ]
	[ "${stderr_lines[2]}" = "quantize: $Q/convbn.cal.ir: target 'tiny' does not support op 'Flatten' (node 'flat', op 'Flatten')" ]
	[ "${stderr_lines[3]}" = "quantize: $Q/convbn.cal.ir: target 'tiny' does not support op 'Softmax' (node 'softmax', op 'Softmax')" ]
	[ ! -e out.ir ]
}

@test "quantize leaves a BatchNormalization whose Conv output has another consumer" {
	# The Conv's output is also a graph output, so the BatchNorm cannot
	# fold: it stays, with its statistics float and its own output
	# parameters (int8's batch_norm set; lower makes it a QAffine).
	quantize -q --tpc "$TPC" "$Q/sharedbn.cal.ir" -o out.ir
	run -0 irdump out.ir
	[[ "$output" == *"BatchNormalization 1, Conv 1"* ]]
	[[ "$output" == *"  n: float32 asymmetric 8-bit signed, per tensor"* ]]
	irdump --json out.ir | "$PY" -c '
import json, sys
t = {x["name"]: x for x in json.load(sys.stdin)["tensors"]}
for k in ("gamma", "beta", "mean", "var"):
    assert t[k]["dtype"] == "float32" and "quant" not in t[k], t[k]
assert t["n"]["quant"] != t["c"]["quant"], (t["n"], t["c"])'
	sed -e '/"name": "batch_norm"/d' -e 's/"Div"\]},/"Div"]}/' "$TPC" >nobn.json
	run -1 --separate-stderr quantize --tpc nobn.json "$Q/sharedbn.cal.ir" -o out2.ir
	[ "$stderr" = "quantize: $Q/sharedbn.cal.ir: target 'int8' does not support op 'BatchNormalization' (node 'bn', op 'BatchNormalization')" ]
}

@test "quantize folds Keras' Dense -> BatchNormalization (a real autoencoder) into the Gemm" {
	m="$SHARED/testdata/keras/k2_h5_tiny_toycar_dense_ae.hdf5"
	[ -f "$m" ] || skip "../shared/testdata/keras not present"
	keras2ir "$m" -o m.ir
	run -0 irdump m.ir
	[[ "$output" == *"BatchNormalization 9, Gemm 10"* ]]
	calibrate -q --data "$m.input.npy" m.ir -o m.cal.ir
	quantize --tpc "$TPC" m.cal.ir -o q.ir
	run -0 irdump q.ir
	[[ "$output" != *"BatchNormalization"* ]]
}

@test "quantize refuses an already quantized IR" {
	quantize --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	run -1 --separate-stderr quantize --tpc "$TPC" q.ir -o q2.ir
	[ "$stderr" = "quantize: q.ir: input is already quantized (it has meta.target); quantize takes a calibrated float IR" ]
	[ ! -e q2.ir ]
}

@test "quantize is deterministic and works in a pipe" {
	cp "$Q/convbn.cal.ir" m.ir
	quantize --tpc "$TPC" m.ir -o a.ir
	mv a.ir first.ir
	quantize --tpc "$TPC" m.ir -o a.ir
	cmp first.ir a.ir
	# through a pipe: the same IR but for the argv in the history
	run bash -c "cat m.ir | quantize --tpc '$TPC' | cat >c.ir"
	[ "$status" -eq 0 ]
	run "$PY" - "$GEN" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1]); import qpir
	(ha, aa), (hc, ac) = qpir.read("a.ir"), qpir.read("c.ir")
	assert hc["history"][-1]["argv"][1:] == ["--tpc", ha["history"][-1]["argv"][2]]
	del ha["history"], hc["history"]
	assert ha == hc
	assert all((aa[k] == ac[k]).all() for k in aa) and aa.keys() == ac.keys()
	EOF
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "quantize: Conv+BN folded, int8 per-channel weights, int32 biases (vs PyTorch)" {
	quantize --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	run "$PY" - "$GEN" "$Q" <<-'EOF'
	import json, sys
	import numpy as np
	sys.path.insert(0, sys.argv[1]); import qpir
	q = sys.argv[2]
	h, a = qpir.read("q.ir")
	ops = [n["op"] for n in h["graph"]["nodes"]]
	assert ops == ["Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"], ops
	conv = h["graph"]["nodes"][0]
	assert conv["outputs"] == ["n"], conv  # the BN's output, with its stats
	names = {t["name"] for t in h["tensors"]}
	assert not names & {"c", "gamma", "beta", "mean", "var"}, names
	ref_w = np.load(q + "/convbn.fold-w.npy").astype(np.float64)
	ref_b = np.load(q + "/convbn.fold-b.npy").astype(np.float64)
	w = qpir.tensor(h, conv["inputs"][1]); b = qpir.tensor(h, conv["inputs"][2])
	assert w["dtype"] == "int8" and b["dtype"] == "int32", (w, b)
	qw, qb = w["quant"], b["quant"]
	assert (qw["scheme"], qw["bits"], qw["signed"], qw["axis"]) == ("symmetric", 8, True, 0), qw
	assert qw["zero_point"] == [0, 0, 0]
	sw = np.array(qw["scale"])
	# scale = max|w_c| / 127 (from PyTorch's fold; 1e-6 relative for the float
	# rounding of two independent folds); the zero channel gets 2^-23
	amax = np.abs(ref_w).reshape(3, -1).max(axis=1)
	assert amax[2] == 0
	assert np.allclose(sw[:2], amax[:2] / 127, rtol=1e-6, atol=0), (sw, amax / 127)
	# (JSON holds %.9g text: compare as the float32 values they denote)
	assert np.float32(sw[2]) == np.float32(2.0 ** -23), sw
	deq = a[w["name"]].astype(np.float64) * sw[:, None, None, None]
	err = np.abs(deq - ref_w).reshape(3, -1).max(axis=1)
	assert np.all(err <= sw / 2 * (1 + 1e-5) + 1e-7), (err, sw / 2)
	assert np.abs(a[w["name"]]).max() == 127
	# bias: int32, scale s_in * s_w[c], within half a step of the folded bias
	s_in = qpir.tensor(h, "x")["quant"]["scale"][0]
	assert (qb["scheme"], qb["bits"], qb["signed"], qb["axis"]) == ("symmetric", 32, True, 0), qb
	sb = np.array(qb["scale"])
	assert np.allclose(sb, np.float32(s_in) * sw.astype(np.float32), rtol=1e-7), (sb, s_in * sw)
	berr = np.abs(a[b["name"]].astype(np.float64) * sb - ref_b)
	assert np.all(berr <= sb / 2 * (1 + 1e-5) + 1e-6 * np.abs(ref_b)), (berr, sb)
	EOF
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "quantize: activation parameters follow docs/ir.md section 4" {
	quantize --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	run "$PY" - "$GEN" "$TPC" <<-'EOF'
	import json, sys
	import numpy as np
	sys.path.insert(0, sys.argv[1]); import qpir
	h, a = qpir.read("q.ir")
	T = {t["name"]: t for t in h["tensors"]}
	def asym(lo, hi):  # the rule, recomputed in double precision
	    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
	    s = float(np.float32((hi - lo) / 255.0))
	    t = lo / s
	    r = np.floor(abs(t) + 0.5) * np.sign(t)  # round half away from zero
	    return s, int(min(max(-128 - r, -128), 127))
	for name in ["x", "r", "g"]:
	    q = T[name]["quant"]; st = T[name]["stats"]
	    assert (q["scheme"], q["bits"], q["signed"], q["axis"]) == ("asymmetric", 8, True, -1), (name, q)
	    s, z = asym(st["min"], st["max"])
	    assert np.float32(q["scale"][0]) == np.float32(s) and q["zero_point"][0] == z, (name, q, s, z)
	# n (the folded Conv's output) is read only by the Relu tpc/int8.json
	# fuses with it: one kernel, rounded once at r, so n has no quant
	assert "quant" not in T["n"] and "stats" in T["n"], T["n"]
	# Relu output [0, max] -> zero point -128
	assert T["r"]["quant"]["zero_point"] == [-128]
	# MaxPool and Flatten keep their input's parameters exactly
	assert T["p"]["quant"] == T["r"]["quant"] and T["f"]["quant"] == T["r"]["quant"]
	# Softmax: fixed 1/256, -128
	assert T["s"]["quant"]["scale"] == [0.00390625] and T["s"]["quant"]["zero_point"] == [-128]
	# every other float activation is quantized; stats are kept
	for t in h["tensors"]:
	    if t["dtype"] == "float32" and t["name"] != "n":
	        assert "data" not in t and "quant" in t and "stats" in t, t
	# the whole TPC is in meta.target; history says quantize
	assert h["meta"]["target"] == json.load(open(sys.argv[2])), h["meta"]
	assert h["history"][-1]["tool"] == "quantize"
	assert h["history"][-1]["argv"][1:3] == ["--tpc", sys.argv[2]], h["history"]
	EOF
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "quantize: MatMul weights per column, Gemm alpha/beta folded, Add constant quantized" {
	quantize --tpc "$TPC" "$Q/mlp.cal.ir" -o q.ir
	run "$PY" - "$GEN" "$Q" <<-'EOF'
	import sys
	import numpy as np
	sys.path.insert(0, sys.argv[1]); import qpir
	h, a = qpir.read("q.ir")
	_, f = qpir.read(sys.argv[2] + "/mlp.cal.ir")
	T = {t["name"]: t for t in h["tensors"]}
	fc = [n for n in h["graph"]["nodes"] if n["op"] == "Gemm"][0]
	assert fc["attrs"]["alpha"] == {"float": 1} and fc["attrs"]["beta"] == {"float": 1}, fc
	def check_weight(name, ref, axis):
	    q = T[name]["quant"]
	    assert T[name]["dtype"] == "int8" and q["axis"] == axis and q["scheme"] == "symmetric", q
	    s = np.array(q["scale"], dtype=np.float64)
	    amax = np.abs(ref).max(axis=1 - axis)
	    assert np.allclose(s, amax / 127, rtol=1e-6), (s, amax / 127)
	    shape = [1, 1]; shape[axis] = -1
	    err = np.abs(a[name] * s.reshape(shape) - ref)
	    assert np.all(err <= s.reshape(shape) / 2 * (1 + 1e-5)), (name, err)
	    return s
	# MatMul B [K, N]: per output column (axis 1)
	check_weight("mb", f["mb"].astype(np.float64), 1)
	# Gemm without transB: W [K, N], axis 1; alpha 0.5 folded into it
	sw = check_weight("gw", np.load(sys.argv[2] + "/mlp.gw.npy").astype(np.float64), 1)
	# C [1, 3] became an int32 bias [3] with beta 2 folded in
	gc = T["gc"]
	assert gc["dtype"] == "int32" and gc["shape"] == [3] and gc["quant"]["bits"] == 32, gc
	sb = np.array(gc["quant"]["scale"])
	ref = np.load(sys.argv[2] + "/mlp.gc.npy").astype(np.float64)
	assert np.all(np.abs(a["gc"] * sb - ref) <= sb / 2 * (1 + 1e-5) + 1e-6 * np.abs(ref))
	assert np.allclose(sb, T["r"]["quant"]["scale"][0] * sw, rtol=1e-6)
	# the Add constant: int8, per tensor, asymmetric, within half a step
	k = T["k"]; qk = k["quant"]
	assert k["dtype"] == "int8" and qk["axis"] == -1 and qk["scheme"] == "asymmetric", k
	deq = (a["k"].astype(np.float64) - qk["zero_point"][0]) * qk["scale"][0]
	assert np.all(np.abs(deq - f["k"]) <= qk["scale"][0] / 2 * (1 + 1e-5)), (deq, f["k"])
	EOF
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "quantize output passes irdump --json (when irdump is built)" {
	command -v irdump >/dev/null || skip "irdump not built"
	quantize --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	run irdump --json q.ir
	[ "$status" -eq 0 ]
	command -v jq >/dev/null || skip "jq not installed"
	[ "$(echo "$output" | jq -r '.tensors[] | select(.name == "w") | .dtype')" = int8 ]
	[ "$(echo "$output" | jq -r '.tensors[] | select(.name == "w") | .quant.axis')" = 0 ]
	[ "$(echo "$output" | jq -r '.meta.target.name')" = int8 ]
}

@test "quantize: the fake-quantized model stays within 0.05 of the float model (irrun)" {
	command -v irrun >/dev/null || skip "irrun not built"
	quantize --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	"$PY" -c "import numpy as np; np.save('x.npy', np.random.default_rng(5).normal(0, 1, (8, 2, 4, 4)).astype(np.float32))"
	irrun "$Q/convbn.cal.ir" --input x.npy -o yf.npy
	irrun q.ir --input x.npy -o yq.npy
	# A sanity bound on softmax probabilities, not an accuracy claim: the
	# output step is 1/256 and the logits' step ~0.018, so honest rounding
	# stays near 0.02, while a wrong fold, axis or scale moves probabilities
	# by tenths.
	run "$PY" -c "import numpy as np; d = np.abs(np.load('yf.npy') - np.load('yq.npy')).max(); print(d); assert d < 0.05"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}
