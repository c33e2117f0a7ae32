#!/usr/bin/env bats
# QLut end to end: ONNX Conv -> one unary activation (Sigmoid, Tanh,
# HardSwish, HardSigmoid, LeakyRelu, Elu) through quantize, lower, emit and
# simulate.  References, none of them qpipe's own output: PyTorch's float
# output (qlut_*.y.npy, from tests/fixtures/gen/make_qlut_fixtures.py), the
# tables computed here with numpy from the ONNX formulas and Quantize's rule
# (docs/ir.md sections 4 and 6), and the record layout of docs/binary.md.
load test_helper.bash

F="$FIXTURES/lower"
OPS="sigmoid tanh hardswish hardsigmoid leakyrelu elu"

build() {   # NAME -> NAME.q.ir NAME.low.ir NAME.bin NAME.json
	onnx2ir "$F/qlut_$1.onnx" -o "$1.f.ir" &&
	calibrate -q --data "$F/qlut.x.npy" "$1.f.ir" -o "$1.cal.ir" &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" "$1.cal.ir" -o "$1.q.ir" &&
	lower "$1.q.ir" -o "$1.low.ir" &&
	emit "$1.low.ir" -o "$1.bin" &&
	irdump --json "$1.low.ir" > "$1.json"
}

# The lowered graph of NAME.json is Quantize, QConv, QLut, Dequantize.
# Prints the QLut's table, then s_x zp_x s_y zp_y, as Python literals.
PYLIB='
import json, sys
import numpy as np

def lut(path):
    g = json.load(open(path))
    nodes = g["graph"]["nodes"]
    assert [n["op"] for n in nodes] == ["Quantize", "QConv", "QLut", "Dequantize"], \
        [n["op"] for n in nodes]
    n = nodes[2]
    q = {t["name"]: t.get("quant") for t in g["tensors"]}
    qx, qy = q[n["inputs"][0]], q[n["outputs"][0]]
    assert list(n["attrs"]) == ["table"], n["attrs"]
    table = np.array(n["attrs"]["table"]["ints"], dtype=np.int64)
    assert table.shape == (256,), table.shape
    return (table, np.float32(qx["scale"][0]), qx["zero_point"][0],
            np.float32(qy["scale"][0]), qy["zero_point"][0])

def quantize(y, s, zp):
    # docs/ir.md section 4: round half away from zero of (double) y / s,
    # plus the zero point, clamped to int8; NaN is the zero point.
    v = np.asarray(y, dtype=np.float64) / np.float64(s)
    v = np.where(np.isnan(v), 0.0, np.clip(v, -1e9, 1e9))
    t = np.trunc(v)
    t = t + (v - t >= 0.5) - (v - t <= -0.5)
    return np.clip(t + zp, -128, 127).astype(np.int64)

def codes_to_real(sx, zx):
    # The input code q in -128..127 as a float32 real: (q - zp) s in double.
    q = np.arange(-128, 128, dtype=np.float64)
    return ((q - zx) * np.float64(sx)).astype(np.float32)
'

@test "each activation lowers to one QLut between the Conv and the output, with its own output parameters" {
	need_numpy
	for n in $OPS; do build "$n"; done
	"$PY" - $OPS <<PY
$PYLIB
for name in sys.argv[1:]:
    table, sx, zx, sy, zy = lut(name + ".json")
    # quantize gave the activation parameters of its own (set 'lut' of
    # tpc/int8.json), not the Conv's: the output range is the activation's.
    assert (sx, zx) != (sy, zy), (name, sx, zx, sy, zy)
    ref = np.load("$F/qlut_%s.y.npy" % name)
    lo, hi = sy * (-128 - zy), sy * (127 - zy)
    assert lo <= ref.min() + sy and hi >= ref.max() - sy, (name, lo, hi, ref.min(), ref.max())
    assert hi - lo < 1.5 * (ref.max() - ref.min()), (name, lo, hi)
    # Every activation here is monotonic (HardSwish from its minimum at
    # -1.5 on), so its table must not step down over the codes the Conv
    # output reaches.
    x = codes_to_real(sx, zx)
    rising = np.diff(table[x >= (-1.5 if name == "hardswish" else -np.inf)])
    assert (rising >= 0).all() and table.max() > table.min(), (name, table)
PY
}

@test "simulate on the binary equals irrun on the lowered IR bit for bit, and PyTorch within two output steps" {
	need_numpy
	for n in $OPS; do
		build "$n"
		simulate "$n.bin" --input "$F/qlut.x.npy" -o "$n.sim.npy"
		irrun -q "$n.low.ir" --input "$F/qlut.x.npy" -o "$n.ref.npy"
		cmp "$n.sim.npy" "$n.ref.npy"
	done
	"$PY" - $OPS <<PY
$PYLIB
for name in sys.argv[1:]:
    table, sx, zx, sy, zy = lut(name + ".json")
    y, ref = np.load(name + ".sim.npy"), np.load("$F/qlut_%s.y.npy" % name)
    assert y.shape == ref.shape, (name, y.shape, ref.shape)
    d = float(np.abs(y - ref).max())
    print("%s: max abs diff %g = %.2f output steps" % (name, d, d / sy))
    assert d <= 2 * sy, (name, d, sy)
    # The table is used, not bypassed: outputs take many distinct values.
    assert len(np.unique(y)) > 20, (name, len(np.unique(y)))
PY
}

@test "the HardSigmoid and LeakyRelu tables are the ONNX formulas on every input code, quantized (numpy)" {
	need_numpy
	build hardsigmoid
	build leakyrelu
	"$PY" - <<PY
$PYLIB
# Piecewise linear, so float32 numpy computes exactly what a float32 C
# kernel does: the tables must match entry for entry.
table, sx, zx, sy, zy = lut("hardsigmoid.json")
x = codes_to_real(sx, zx)
alpha, beta = np.float32(1.0 / 6.0), np.float32(0.5)  # PyTorch's Hardsigmoid
y = np.maximum(np.float32(0), np.minimum(np.float32(1), alpha * x + beta))
want = quantize(y, sy, zy)
assert (table == want).all(), np.nonzero(table != want)
# Both ends saturate: 0 below x = -3 and 1 above 3, at the output's range.
assert table[0] == quantize(0.0, sy, zy) and table[255] == quantize(1.0, sy, zy), table

table, sx, zx, sy, zy = lut("leakyrelu.json")
x = codes_to_real(sx, zx)
y = np.where(x < 0, np.float32(0.1) * x, x)
want = quantize(y, sy, zy)
assert (table == want).all(), np.nonzero(table != want)
PY
}

@test "the Sigmoid, Tanh, HardSwish and Elu tables are within one code of the ONNX formulas in float64 (numpy)" {
	need_numpy
	for n in sigmoid tanh hardswish elu; do build "$n"; done
	"$PY" - <<PY
$PYLIB
# Transcendental in float32 libm against float64 here: a value next to a
# rounding boundary may land on the other side, never further.
f = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "hardswish": lambda x: x * np.maximum(0.0, np.minimum(1.0, x / 6.0 + 0.5)),
    "elu": lambda x: np.where(x < 0, 0.7 * np.expm1(x), x),
}
for name, fn in f.items():
    table, sx, zx, sy, zy = lut(name + ".json")
    x = codes_to_real(sx, zx).astype(np.float64)
    want = quantize(fn(x), sy, zy)
    diff = np.abs(table - want)
    print(name, "entries off by one:", int((diff == 1).sum()))
    assert diff.max() <= 1 and (diff == 1).sum() <= 4, (name, np.nonzero(diff))
PY
}

@test "the binary's QLut record is opcode 13 with the 256 table entries as parameters (docs/binary.md)" {
	need_numpy
	build sigmoid
	PYTHONPATH="$QPIPE_TOP/tests/fixtures/gen" "$PY" - sigmoid.bin <<PY
$PYLIB
from qpbin import records
table = lut("sigmoid.json")[0]
found = [(n_in, n_out, p) for code, n_in, n_out, p in records(sys.argv[1]) if code == 13]
assert found == [(1, 1, [int(v) for v in table])], found
PY
}
