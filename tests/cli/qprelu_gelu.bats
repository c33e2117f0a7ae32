#!/usr/bin/env bats
# int8 PRelu, GELU and x * sigmoid(x) end to end (tests/fixtures/qact/, from
# tests/fixtures/gen/make_qact_fixtures.py).  References, none of them
# qpipe's own output: PyTorch's float outputs (NAME.y.npy); the integer
# arithmetic of docs/ir.md section 6 written here in numpy (Quantize's rule,
# the multiplier rule, R() with one rounding, QPRelu, the QLut tables built
# from the functions' formulas); the record layout of docs/binary.md.
load test_helper.bash

F="$FIXTURES/qact"

build() {   # NAME X.npy -> NAME.q.ir NAME.low.ir NAME.bin NAME.json NAME.low.npy NAME.fq.npy
	onnx2ir "$F/$1.onnx" -o "$1.f.ir" &&
	calibrate -q --data "$2" "$1.f.ir" -o "$1.cal.ir" &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" "$1.cal.ir" -o "$1.q.ir" &&
	lower "$1.q.ir" -o "$1.low.ir" &&
	emit "$1.low.ir" -o "$1.bin" &&
	irdump --json "$1.low.ir" > "$1.json" &&
	irdump --json "$1.q.ir" > "$1.q.json" &&
	irrun "$1.low.ir" --input "$2" -o "$1.low.npy" &&
	irrun "$1.q.ir" --input "$2" -o "$1.fq.npy" &&
	simulate "$1.bin" --input "$2" -o "$1.sim.npy"
}

PYLIB='
import json, sys
import numpy as np

def graph(path):
    g = json.load(open(path))
    return g["graph"]["nodes"], {t["name"]: t.get("quant") for t in g["tensors"]}

def params(q, name):
    return np.float32(q[name]["scale"][0]), q[name]["zero_point"][0]

def quantize(y, s, zp):
    # docs/ir.md section 4: round half away from zero of (double) y / s,
    # plus the zero point, clamped to int8.
    v = np.asarray(y, dtype=np.float64) / np.float64(s)
    t = np.trunc(v)
    t = t + (v - t >= 0.5) - (v - t <= -0.5)
    return np.clip(t + zp, -128, 127).astype(np.int64)

def dequantize(q, s, zp):
    return ((q - zp).astype(np.float32) * np.float32(s)).astype(np.float32)

def multiplier(real):
    # docs/ir.md section 6: frexp, round(q 2^31), 2^31 -> halve and e + 1.
    if real == 0:
        return 0, 0
    q, e = np.frexp(real)
    m = int(np.floor(q * 2.0 ** 31 + 0.5))  # q > 0: half away from zero, as llround
    if m == 2 ** 31:
        m //= 2
        e += 1
    if e < -31:
        return 0, 0
    return m, int(e)

def R(x, m, shift):
    # One rounding, ties away from zero: with p = x m, floor((p + 2^(n-1)) /
    # 2^n) for p >= 0, -floor((-p + 2^(n-1)) / 2^n) for p < 0.
    n = 31 - shift
    h = 1 << (n - 1)
    v = [(p + h) >> n if p >= 0 else -((-p + h) >> n)
         for p in (int(e) * m for e in np.asarray(x).ravel())]
    return np.array(v, dtype=np.int64).reshape(np.shape(x))

def ints(a, k):
    return a[k]["ints"] if "ints" in a[k] else [a[k]["int"]]

def codes_to_real(sx, zx):
    q = np.arange(-128, 128, dtype=np.float64)
    return ((q - zx) * np.float64(sx)).astype(np.float32)
'

@test "PRelu with a slope per channel: one QPRelu whose integers equal the numpy rule bit for bit" {
	need_numpy
	build prelu_ch "$F/xsig.x.npy"
	cmp prelu_ch.low.npy prelu_ch.sim.npy
	"$PY" - "$F" <<PY
$PYLIB
F = sys.argv[1]
nodes, q = graph("prelu_ch.json")
assert [n["op"] for n in nodes] == ["Quantize", "QPRelu", "Dequantize"], [n["op"] for n in nodes]
n = nodes[1]
a = n["attrs"]
sx, zx = params(q, n["inputs"][0])
sy, zy = params(q, n["outputs"][0])
slope = [0.25, -0.5, 0.0, 1.75]           # make_qact_fixtures.py
assert ints(a, "axis") == [1], a["axis"]
assert ints(a, "act_min") + ints(a, "act_max") == [-128, 127]
pm, ps = multiplier(float(sx) / float(sy))
assert (ints(a, "pos_multiplier"), ints(a, "pos_shift")) == ([pm], [ps]), (a, pm, ps)
neg = [multiplier(abs(s * float(sx) / float(sy))) for s in slope]
want_m = [-m if s < 0 else m for (m, _), s in zip(neg, slope)]
assert ints(a, "neg_multiplier") == want_m, (a["neg_multiplier"], want_m)
assert ints(a, "neg_shift") == [e for _, e in neg]
assert want_m[1] < 0 and want_m[2] == 0
# The whole lowered model in numpy: Quantize, QPRelu, Dequantize.
x = np.load(F + "/xsig.x.npy")
qx = quantize(x, sx, zx)
d = qx - zx
y = np.empty_like(d)
for c in range(4):
    dc = d[:, c]
    y[:, c] = np.where(dc >= 0, R(dc, pm, ps), R(dc, want_m[c], neg[c][1]))
y = np.clip(y + zy, -128, 127)
low = np.load("prelu_ch.low.npy")
assert np.array_equal(dequantize(y, sy, zy), low), np.abs(dequantize(y, sy, zy) - low).max()
# Saturation is exercised: slope 1.75 on the most negative inputs.
assert (y == -128).any() and (d < 0).mean() > 0.3
ref = np.load(F + "/prelu_ch.y.npy")
err = np.abs(low - ref).max()
print("max |lowered - PyTorch| = %.4g (output step %.4g)" % (err, sy))
assert err <= 2 * sy, err
PY
}

@test "PRelu with one slope lowers to a QLut whose table is the PRelu formula quantized" {
	need_numpy
	build prelu_1 "$F/xsig.x.npy"
	cmp prelu_1.low.npy prelu_1.sim.npy
	"$PY" - "$F" <<PY
$PYLIB
F = sys.argv[1]
nodes, q = graph("prelu_1.json")
assert [n["op"] for n in nodes] == ["Quantize", "QLut", "Dequantize"], [n["op"] for n in nodes]
n = nodes[1]
sx, zx = params(q, n["inputs"][0])
sy, zy = params(q, n["outputs"][0])
x = codes_to_real(sx, zx)
want = quantize(np.where(x < 0, x * np.float32(0.1), x), sy, zy)
table = np.array(n["attrs"]["table"]["ints"])
assert np.array_equal(table, want), np.nonzero(table != want)
low, ref = np.load("prelu_1.low.npy"), np.load(F + "/prelu_1.y.npy")
assert np.abs(low - ref).max() <= 2 * sy
PY
}

@test "quantize keeps PRelu's slope float (a parameter, not an int8 activation)" {
	need_numpy
	build prelu_ch "$F/xsig.x.npy"
	"$PY" <<PY
$PYLIB
g = json.load(open("prelu_ch.q.json"))
n = [n for n in g["graph"]["nodes"] if n["op"] == "PRelu"][0]
slope = [t for t in g["tensors"] if t["name"] == n["inputs"][1]][0]
assert slope["dtype"] == "float32" and "quant" not in slope, slope
PY
}

# GELU, GELU (tanh), SiLU as torch 1.13 exports them after a Conv, and
# x * sigmoid(x) on the graph input: each chain is one QLut.
@test "torch's GELU (Div Erf Add Mul Mul), GELU tanh, SiLU and x*sigmoid(x) each lower to one QLut of the whole function" {
	need_numpy
	for m in gelu gelu_tanh silu; do build $m "$F/qact.x.npy"; done
	build xsig "$F/xsig.x.npy"
	"$PY" - "$F" <<PY
$PYLIB
from math import erf, sqrt, tanh, pi, exp
F = sys.argv[1]
def gelu(v): return 0.5 * v * (1 + erf(v / sqrt(2)))
def gelu_t(v): return 0.5 * v * (1 + tanh(sqrt(2 / pi) * (v + 0.044715 * v ** 3)))
def silu(v): return v / (1 + exp(-v))
for name, f, ops in (("gelu", gelu, ["Quantize", "QConv", "QLut", "Dequantize"]),
                     ("gelu_tanh", gelu_t, ["Quantize", "QConv", "QLut", "Dequantize"]),
                     ("silu", silu, ["Quantize", "QConv", "QLut", "Dequantize"]),
                     ("xsig", silu, ["Quantize", "QLut", "Dequantize"])):
    nodes, q = graph(name + ".json")
    assert [n["op"] for n in nodes] == ops, (name, [n["op"] for n in nodes])
    n = nodes[-2]
    sx, zx = params(q, n["inputs"][0])
    sy, zy = params(q, n["outputs"][0])
    table = np.array(n["attrs"]["table"]["ints"])
    # The table from the formula in double (docs/ir.md, QLut).  lower
    # computes the chain in float32 ops; a float32 rounding can move a
    # value across a half step only when it lies within ~1e-6 steps of
    # it: the codes that close are skipped, none is expected.
    x = codes_to_real(sx, zx).astype(np.float64)
    y = np.array([f(v) for v in x]) / np.float64(sy)
    want = quantize(y * np.float64(sy), sy, zy)
    close = np.abs(np.abs(y - np.trunc(y)) - 0.5) < 1e-4
    bad = (table != want) & ~close
    assert not bad.any(), (name, np.nonzero(bad), table[bad], want[bad])
    print("%s: table of %d codes, %d near a tie" % (name, 256, close.sum()))
    # Against PyTorch: the table's input is the Conv's int8 output, one
    # step s_x of its own; these functions' slopes are at most 1.13.
    ref = np.load(F + "/" + name + ".y.npy")
    low = np.load(name + ".low.npy")
    bound = 2 * max(sx, sy) if name != "xsig" else 2 * sy
    assert np.abs(low - ref).max() <= bound, (name, np.abs(low - ref).max(), sx, sy)
PY
}

@test "a recognised chain is quantized once, at its end: fake quantization equals the device bit for bit" {
	need_numpy
	for m in gelu gelu_tanh silu; do build $m "$F/qact.x.npy"; done
	build xsig "$F/xsig.x.npy"
	"$PY" <<PY
$PYLIB
for name in ("gelu", "gelu_tanh", "silu", "xsig"):
    g = json.load(open(name + ".q.json"))
    out = g["graph"]["outputs"][0]["name"]
    chain = [n for n in g["graph"]["nodes"] if n["op"] != "Conv"]
    quant = {t["name"]: "quant" in t for t in g["tensors"]}
    inside = [n["outputs"][0] for n in chain if n["outputs"][0] != out]
    assert inside and not any(quant[t] for t in inside), (name, inside)
    # The chain's scalar constants stay float: the table is built from them.
    consts = [t for t in g["tensors"] if "data" in t and
              any(t["name"] in n["inputs"] for n in chain)]
    assert all(t["dtype"] == "float32" and "quant" not in t for t in consts), name
    fq, low = np.load(name + ".fq.npy"), np.load(name + ".low.npy")
    assert np.array_equal(fq, low), (name, np.abs(fq - low).max())
PY
	for m in gelu gelu_tanh silu xsig; do cmp $m.low.npy $m.sim.npy; done
}

@test "a chain whose end the target fuses with a Relu (SiLU then ReLU) is one QLut of relu(silu(x)), equal to fake quantization" {
	need_numpy
	build silu_relu "$F/qact.x.npy"
	cmp silu_relu.low.npy silu_relu.sim.npy
	cmp silu_relu.low.npy silu_relu.fq.npy
	"$PY" - "$F" <<PY
$PYLIB
from math import exp
F = sys.argv[1]
nodes, q = graph("silu_relu.json")
assert [n["op"] for n in nodes] == ["Quantize", "QConv", "QLut", "Dequantize"], [n["op"] for n in nodes]
n = nodes[2]
sx, zx = params(q, n["inputs"][0])
sy, zy = params(q, n["outputs"][0])
x = codes_to_real(sx, zx).astype(np.float64)
y = np.array([max(v / (1 + exp(-v)), 0.0) for v in x])
table = np.array(n["attrs"]["table"]["ints"])
v = y / np.float64(sy)
close = np.abs(np.abs(v - np.trunc(v)) - 0.5) < 1e-4
want = quantize(y, sy, zy)
assert not ((table != want) & ~close).any(), np.nonzero(table != want)
# The Relu's zero: every negative SiLU value is the zero point.
assert (table[x < 0] == zy).all()
low, ref = np.load("silu_relu.low.npy"), np.load(F + "/silu_relu.y.npy")
assert np.abs(low - ref).max() <= 2 * max(sx, sy)
PY
}

@test "ONNX Gelu (opset 20, approximate none and tanh) imports, matches PyTorch in float and lowers to a QLut" {
	need_numpy
	for m in gelu20 gelu20_tanh; do
		build $m "$F/xsig.x.npy"
		cmp $m.low.npy $m.sim.npy
		cmp $m.low.npy $m.fq.npy
		irrun $m.f.ir --input "$F/xsig.x.npy" -o $m.float.npy
	done
	"$PY" - "$F" <<PY
$PYLIB
F = sys.argv[1]
for name in ("gelu20", "gelu20_tanh"):
    nodes, q = graph(name + ".json")
    assert [n["op"] for n in nodes] == ["Quantize", "QLut", "Dequantize"], name
    ref = np.load(F + "/" + name + ".y.npy")
    fl = np.load(name + ".float.npy")
    assert np.abs(fl - ref).max() <= 1e-5, (name, np.abs(fl - ref).max())
    sy, zy = params(q, nodes[1]["outputs"][0])
    assert np.abs(np.load(name + ".low.npy") - ref).max() <= 2 * sy
# the two forms differ somewhere: the attribute is read
a, b = np.load(F + "/gelu20.y.npy"), np.load("gelu20_tanh.float.npy")
assert np.abs(a - b).max() > 1e-4
PY
}

@test "the binary's QPRelu record is opcode 20 with axis act_min act_max pos_multiplier pos_shift neg_multiplier[C] neg_shift[C] (docs/binary.md)" {
	need_numpy
	build prelu_ch "$F/xsig.x.npy"
	PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - prelu_ch.bin prelu_ch.json <<'PY'
import json, sys
from qpbin import records, node_params
g = json.load(open(sys.argv[2]))
n = [n for n in g["graph"]["nodes"] if n["op"] == "QPRelu"][0]
want = node_params(n, ["axis", "act_min", "act_max", "pos_multiplier", "pos_shift",
                       "neg_multiplier", "neg_shift"])
found = [(n_in, n_out, p) for code, n_in, n_out, p in records(sys.argv[1]) if code == 20]
assert found == [(1, 1, want)], (found, want)
assert len(want) == 5 + 2 * 4
PY
}

# Keras: keras2ir writes gelu as Mul(x, 1/sqrt 2), Erf, Add, Mul, Mul and
# swish/silu as Sigmoid, Mul; PReLU's alpha has the per-sample shape, one
# per channel only with shared_axes over the spatial ones.
@test "Keras gelu and swish activations lower to one QLut each chain, fake quantization equal to the device" {
	need_numpy
	K="$FIXTURES/keras"
	for m in k3_act_gelu.keras k2_act_swish.h5; do
		keras2ir "$K/$m" -o f.ir
		calibrate -q --data "$K/$m.input.npy" f.ir -o c.ir
		quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" c.ir -o q.ir
		lower q.ir -o l.ir
		run -0 irdump l.ir
		[[ "$output" == *"nodes: 4 (Dequantize 1, QGemm 1, QLut 1, Quantize 1)"* ]]
		irrun l.ir --input "$K/$m.input.npy" -o low.npy
		irrun q.ir --input "$K/$m.input.npy" -o fq.npy
		cmp low.npy fq.npy
	done
}

@test "Keras PReLU: a per-channel alpha is a QPRelu; a per-position alpha is refused, naming the node" {
	K="$FIXTURES/keras"
	keras2ir "$K/k3_prelu_vector.keras" -o f.ir
	calibrate -q --data "$K/k3_prelu_vector.keras.input.npy" f.ir -o c.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" c.ir -o q.ir
	lower q.ir -o l.ir
	run -0 irdump l.ir
	[[ "$output" == *"QPRelu 1"* ]]
	keras2ir "$K/k3_prelu.keras" -o f2.ir
	calibrate -q --data "$K/k3_prelu.keras.input.npy" f2.ir -o c2.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" c2.ir -o q2.ir
	run -1 lower q2.ir -o l2.ir
	[[ "$output" == "lower: q2.ir: the slope 'p_re_lu/alpha' varies along more than one axis (node 'p_re_lu', op 'PRelu')"* ]]
	[ ! -e l2.ir ]
}
