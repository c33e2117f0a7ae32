#!/usr/bin/env bats
# lower --report (docs/man/lower.md, REPORT): every number is recomputed here
# from what irdump --json shows of the lowered IR (shapes, attributes,
# constants' byte counts, meta.lowered), not from lower's code.
load test_helper.bash

OPS="$FIXTURES/lower"

# lowered NAME: NAME.onnx through the pipeline of tests/cli/emit.bats,
# with the JSON report in r.json.
lowered() {
	onnx2ir "$OPS/$1.onnx" -o f.ir &&
	calibrate -q --data "$OPS/$1.x.npy" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir --report r.json --report-format json &&
	irdump --json low.ir >low.json
}

# check_report: the report r.json against low.json (irdump's view).
check_report() {
	"$PY" - <<'EOF'
import json

r = json.load(open("r.json"))
d = json.load(open("low.json"))
t = {x["name"]: x for x in d["tensors"]}
nodes = d["graph"]["nodes"]
io = {x["name"] for x in d["graph"]["inputs"] + d["graph"]["outputs"]}

def prod(v):
    p = 1
    for x in v:
        p *= x
    return p

def attr(n, k, dflt):
    a = n.get("attrs", {}).get(k)
    return a["int"] if a else dflt

assert len(r["layers"]) == len(nodes), (len(r["layers"]), len(nodes))
macs_total = weights_total = 0
for n, l in zip(nodes, r["layers"]):
    assert (l["name"], l["op"]) == (n["name"], n["op"]), (l, n)
    # MACs by hand from the shapes: Conv N*Co*Ho*Wo*(Ci/group)*Kh*Kw, Gemm M*K*N.
    macs = 0
    if n["op"] == "QConv":
        N, Ci, H, W = t[n["inputs"][0]]["shape"]
        Co, _, Kh, Kw = t[n["inputs"][1]]["shape"]
        _, _, Ho, Wo = t[n["outputs"][0]]["shape"]
        macs = N * Co * Ho * Wo * (Ci // attr(n, "group", 1)) * Kh * Kw
    elif n["op"] == "QGemm":
        M, K = t[n["inputs"][0]]["shape"]
        Nn, K2 = t[n["inputs"][1]]["shape"]
        assert K == K2
        macs = M * K * Nn
    assert l["macs"] == macs, (n["name"], l["macs"], macs)
    # Weights as emit lays them out: each constant's bytes rounded up to 16.
    wb = sum((t[i]["data"][1] + 15) // 16 * 16 for i in n["inputs"] if i and "data" in t[i])
    assert l["weight_bytes"] == wb, (n["name"], l["weight_bytes"], wb)
    macs_total += macs
    weights_total += wb
assert r["totals"]["macs"] == macs_total
assert r["totals"]["weight_bytes"] == weights_total

# The arena tensors: int8 activations that are not constants or graph I/O,
# living from their producer to their last reader (node indices).
first, last = {}, {}
for k, n in enumerate(nodes):
    for o in n["outputs"]:
        first.setdefault(o, k)
        last[o] = max(last.get(o, k), k)
    for i in n["inputs"]:
        if i:
            last[i] = k
arena = {x["name"] for x in d["tensors"]
         if x["dtype"] == "int8" and "data" not in x and x["name"] not in io}
rt = {x["name"]: x for x in r["tensors"]}
assert set(rt) == arena, (set(rt) ^ arena)
plan = d["meta"]["lowered"]
for name, x in rt.items():
    assert x["bytes"] == prod(t[name]["shape"]), name
    assert x["offset"] == plan["plan"][name] and x["offset"] % 16 == 0, name
    assert (x["first"], x["last"]) == (first[name], last[name]), name
    assert x["offset"] + x["bytes"] <= r["totals"]["arena_bytes"], name
# No two tensors live at the same time share a byte.
items = list(rt.values())
for i, a in enumerate(items):
    for b in items[:i]:
        if a["first"] <= b["last"] and b["first"] <= a["last"]:
            assert a["offset"] + a["bytes"] <= b["offset"] or \
                   b["offset"] + b["bytes"] <= a["offset"], (a, b)
total = sum((x["bytes"] + 15) // 16 * 16 for x in items)
assert r["totals"]["activation_sum_bytes"] == total
assert r["totals"]["arena_bytes"] == plan["arena_size"] <= total
assert r["totals"]["saving_bytes"] == total - plan["arena_size"]
# While layer k runs the arena holds every tensor live at k.
for k, l in enumerate(r["layers"]):
    live = [x for x in items if x["first"] <= k <= x["last"]]
    assert l["live_bytes"] == sum(x["bytes"] for x in live), k
    assert l["arena_top"] == max([x["offset"] + x["bytes"] for x in live] or [0]), k
tgt = d["meta"]["target"]
assert r["target"]["name"] == tgt["name"]
print("ok", macs_total, weights_total, total, plan["arena_size"])
EOF
}

@test "lower --report-format json on ops.onnx: MACs, weights and the arena agree with irdump" {
	need_numpy
	lowered ops
	run -0 check_report
	[[ "$output" == "ok "* ]]
	# By hand from the fixture's first conv: a [2, 4, 8, 8] output, each
	# element 3 input channels x 3x3 taps.
	"$PY" -c 'import json, sys; l = json.load(open("r.json"))["layers"]; sys.exit(l[1]["macs"] != 2*4*8*8*3*3*3)'
}

@test "lower --report on ops.onnx names the Relus fused into the Conv and the Add" {
	need_numpy
	lowered ops
	"$PY" - <<'EOF'
import json
r = json.load(open("r.json"))
fused = {l["name"]: [(f["op"], f["name"]) for f in l["fused"]] for l in r["layers"]}
assert fused["/conv/Conv"] == [("Relu", "/Relu")], fused
assert fused["/Add"] == [("Relu", "/Relu_1")], fused
assert all(v == [] for k, v in fused.items() if k not in ("/conv/Conv", "/Add")), fused
EOF
}

@test "lower --report-format json on head.onnx: MACs, weights and the arena agree with irdump" {
	need_numpy
	lowered head
	run -0 check_report
	[[ "$output" == "ok "* ]]
}

@test "lower --report text goes to the file, the IR is unchanged by it" {
	need_numpy
	lowered ops
	lower q.ir -o plain.ir
	lower q.ir -o text.ir --report r.txt
	# Only the history (lower's argv) differs.
	irdump --json plain.ir >plain.json
	irdump --json text.ir >text.json
	"$PY" - <<'EOF'
import json
a, b = (json.load(open(f)) for f in ("plain.json", "text.json"))
assert a["history"][-1]["argv"] != b["history"][-1]["argv"]
del a["history"], b["history"]
assert a == b
EOF
	grep -q '^    1  QConv  *13824 ' r.txt
	grep -q '/conv/Conv + Relu '"'"'/Relu'"'" r.txt
	grep -q "^activations: [0-9]* bytes without reuse, arena [0-9]* bytes" r.txt
	grep -q "^target: 'int8'" r.txt
}

@test "lower --report - writes the report to stdout when -o names the IR file" {
	lowered ops
	run --separate-stderr lower q.ir -o x.ir --report - --report-format json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" | "$PY" -c 'import json, sys; json.load(sys.stdin)'
	[ -s x.ir ]
}

@test "lower --report - without -o is a usage error; so is an unknown format" {
	lowered ops
	run lower q.ir --report -
	[ "$status" -eq 2 ]
	[[ "$output" == *"lower: --report -: standard output already carries the IR"* ]]
	run lower q.ir -o y.ir --report r --report-format xml
	[ "$status" -eq 2 ]
	[[ "$output" == *"lower: --report-format: 'xml' is neither text nor json"* ]]
	[ ! -e y.ir ]
}

@test "the report's weight total is the one the resources check refuses" {
	need_numpy
	lowered ops
	w=$("$PY" -c 'import json; print(json.load(open("r.json"))["totals"]["weight_bytes"])')
	a=$("$PY" -c 'import json; print(json.load(open("r.json"))["totals"]["arena_bytes"])')
	"$PY" - "$QPIPE_TOP/tpc/int8.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["name"] = "tiny"
d["resources"] = {"weight_memory_bytes": 1, "activation_memory_bytes": 1}
json.dump(d, open("tiny.json", "w"))
EOF
	quantize -q --tpc tiny.json f.cal.ir -o tiny.q.ir
	run lower tiny.q.ir -o t.ir
	[ "$status" -eq 1 ]
	[[ "$output" == *"the weights need $w bytes, $((w - 1)) more"* ]]
	[[ "$output" == *"the activation arena needs $a bytes, $((a - 1)) more"* ]]
}
