#!/usr/bin/env bats
# Issue 25's float ops through onnx2ir and irrun: the elementwise functions
# (Log, Sin, ..., Round, Sign, Softplus, Selu, Celu, Mish, Shrink, IsNaN,
# IsInf), Mod, BitShift, the comparisons and logic ops (bool outputs), Neg,
# Mean, Range and Size -- the ops ../shared/testdata/onnx-node (ONNX 1.12) has no
# node test for, or whose tests tests/conformance/vendor.py does not pick.
# gen_cases builds one onnx.helper model per case and its reference output,
# written with numpy from the ONNX operator spec (https://onnx.ai/onnx/
# operators/), in float64 and rounded once, without qpipe.  Bool outputs
# come out of irrun as float32 0/1 and are compared exactly.

load test_helper

need_tools() {
	need_numpy
	"$PY" -c 'import onnx' 2>/dev/null || skip "onnx for /usr/bin/python3 not installed"
	command -v irrun >/dev/null || skip "irrun is not built"
}

# gen_cases: NAME.onnx, NAME.x.npy, NAME.y.npy and NAME.tol (0: exact)
# for every case in the current folder.
gen_cases() {
	"$PY" - <<'PY'
import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as TP

rng = np.random.default_rng(25)
F = TP.FLOAT


def model(name, nodes, x, y_shape, inits=(), opset=13):
    g = h.make_graph(nodes, name,
                     [h.make_tensor_value_info("x", F, list(x.shape))],
                     [h.make_tensor_value_info("y", F, list(y_shape))],
                     initializer=[nh.from_array(a, n) for n, a in inits])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    onnx.save(m, name + ".onnx")


def case(name, nodes, x, y, inits=(), opset=13, tol=1e-5):
    model(name, nodes, x, y.shape, inits, opset)
    np.save(name + ".x.npy", x.astype(np.float32))
    np.save(name + ".y.npy", y.astype(np.float32))
    with open(name + ".tol", "w") as f:
        f.write("%g\n" % tol)


def unary(op, fn, x, opset=13, tol=1e-5, **attrs):
    x = x.astype(np.float32)
    y = fn(x.astype(np.float64)).astype(np.float32)
    case(op + "".join("_%s%g" % kv for kv in sorted(attrs.items())),
         [h.make_node(op, ["x"], ["y"], **attrs)], x, y, opset=opset, tol=tol)


wide = rng.uniform(-4, 4, (2, 3, 5)).astype(np.float32)
unit = rng.uniform(-0.99, 0.99, (2, 3, 5)).astype(np.float32)
pos = rng.uniform(0.01, 9, (2, 3, 5)).astype(np.float32)
# Halves (ties), their neighbours and negative zero-crossers for Round.
halves = np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.49999997, 2.4, 2.6, 0]],
                  np.float32)


def softplus(v):
    return np.log1p(np.exp(-np.abs(v))) + np.maximum(v, 0)


unary("Log", np.log, pos)
unary("Sin", np.sin, wide)
unary("Cos", np.cos, wide)
unary("Tan", np.tan, unit)
unary("Asin", np.arcsin, unit)
unary("Acos", np.arccos, unit)
unary("Atan", np.arctan, wide)
unary("Sinh", np.sinh, wide)
unary("Cosh", np.cosh, wide)
unary("Asinh", np.arcsinh, wide)
unary("Acosh", np.arccosh, pos + 1)
unary("Atanh", np.arctanh, unit)
unary("Floor", np.floor, wide, tol=0)
unary("Ceil", np.ceil, wide, tol=0)
unary("Round", np.round, np.concatenate([halves, wide.reshape(-1)[None, :12]]), tol=0)
unary("Sign", np.sign, np.concatenate([wide.reshape(-1)[:10], np.zeros(2, np.float32)]), tol=0)
unary("Softplus", softplus, wide * 10)
unary("Softsign", lambda v: v / (1 + np.abs(v)), wide)
unary("Mish", lambda v: v * np.tanh(softplus(v)), wide * 5, opset=18)
SA, SG = 1.67326319217681884765625, 1.05070102214813232421875
unary("Selu", lambda v: np.where(v <= 0, SG * (SA * np.exp(v) - SA), SG * v), wide)
unary("Selu", lambda v: np.where(v <= 0, 3 * (2 * np.exp(v) - 2), 3 * v), wide, alpha=2.0, gamma=3.0)
unary("Celu", lambda v: np.maximum(0, v) + np.minimum(0, np.expm1(v)), wide)
unary("Celu", lambda v: np.maximum(0, v) + np.minimum(0, 2 * np.expm1(v / 2)), wide, alpha=2.0)
unary("Shrink", lambda v: np.where(v < -0.5, v, np.where(v > 0.5, v, 0)), wide, opset=13)
unary("Shrink", lambda v: np.where(v < -1.5, v + 1, np.where(v > 1.5, v - 1, 0)), wide,
      lambd=1.5, bias=1.0)
unary("Neg", np.negative, wide, tol=0)
special = np.array([[np.inf, -np.inf, np.nan, 0, -1, 3.0e38]], np.float32)
unary("IsNaN", np.isnan, special, tol=0)
unary("IsInf", np.isinf, special, tol=0)
unary("IsInf", lambda v: np.isneginf(v), special, tol=0, detect_positive=0)
unary("IsInf", lambda v: np.isposinf(v), special, tol=0, detect_negative=0)

# Binary ops: x against a broadcast constant b of shape (3, 1).  Integer
# inputs come from Cast (x holds whole numbers), integer outputs go back
# through Cast: irrun feeds and writes float32.
ints = rng.integers(-9, 10, (2, 3, 4)).astype(np.float32)
b = np.array([[-3.0], [0.0], [2.0]], np.float32)
ib = np.array([[-4], [3], [7]], np.int32)


def binary(name, op, x, fn, bconst, tol=0, **attrs):
    if bconst.dtype in (np.int32, np.uint8):
        tp = TP.INT32 if bconst.dtype == np.int32 else TP.UINT8
        nodes = [h.make_node("Cast", ["x"], ["xi"], to=tp),
                 h.make_node(op, ["xi", "b"], ["r"], **attrs),
                 h.make_node("Cast", ["r"], ["y"], to=F)]
        y = fn(x.astype(bconst.dtype), bconst)
    else:
        nodes = [h.make_node(op, ["x", "b"], ["r"], **attrs),
                 h.make_node("Cast", ["r"], ["y"], to=F)]
        y = fn(x.astype(np.float64), bconst.astype(np.float64))
    case(name, nodes, x, np.asarray(y).astype(np.float32), inits=[("b", bconst)], tol=tol)


ib_nz = np.array([[-4], [3], [7]], np.int32)
binary("Mod_int_fmod0", "Mod", ints, np.mod, ib_nz)          # Python %: sign of the divisor
binary("Mod_int_fmod1", "Mod", ints, np.fmod, ib_nz, fmod=1)  # C %: sign of the dividend
binary("Mod_float_fmod1", "Mod", wide[:, :, :4] * 3, np.fmod,
       np.array([[-1.5], [2.0], [0.75]], np.float32), tol=1e-5, fmod=1)
# BitShift on uint8: numpy's shifts, a shift of 8 or more giving 0.
u8 = rng.integers(0, 256, (2, 3, 4)).astype(np.float32)
shifts = np.array([[0], [3], [9]], np.uint8)
binary("BitShift_left", "BitShift", u8, np.left_shift, shifts, direction="LEFT")
binary("BitShift_right", "BitShift", u8, np.right_shift, shifts, direction="RIGHT")
for op, fn in [("Equal", np.equal), ("Less", np.less), ("LessOrEqual", np.less_equal),
               ("Greater", np.greater), ("GreaterOrEqual", np.greater_equal)]:
    binary(op + "_float", op, ints, fn, b)
    binary(op + "_int32", op, ints, fn, ib)
# NaN compares false (unequal) with everything.
nanx = np.array([[np.nan, 1.0, -np.inf, 2.0]], np.float32)
binary("Less_nan", "Less", nanx, np.less, np.array([np.nan, 2.0, 0.0, 2.0], np.float32))
binary("Equal_nan", "Equal", nanx, np.equal, np.array([np.nan, 1.0, -np.inf, 3.0], np.float32))

# Logic: bools from x > 0 and x < 2 (shapes broadcast: (2,3,4) and (3,1)).
for op, fn in [("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor),
               ("Equal", np.equal)]:
    nodes = [h.make_node("Greater", ["x", "zero"], ["p"]),
             h.make_node("Less", ["bx", "two"], ["q"]),
             h.make_node(op, ["p", "q"], ["r"]),
             h.make_node("Cast", ["r"], ["y"], to=F)]
    y = fn(ints > 0, b < 2)
    case(op + "_bool", nodes, ints, y.astype(np.float32),
         inits=[("zero", np.zeros(1, np.float32)), ("bx", b), ("two", np.full(1, 2, np.float32))],
         tol=0)
nodes = [h.make_node("Greater", ["x", "zero"], ["p"]), h.make_node("Not", ["p"], ["r"]),
         h.make_node("Cast", ["r"], ["y"], to=F)]
case("Not", nodes, ints, np.logical_not(ints > 0).astype(np.float32),
     inits=[("zero", np.zeros(1, np.float32))], tol=0)
# Where on a comparison, the spec's own composition of Shrink.
nodes = [h.make_node("Less", ["x", "zero"], ["c"]), h.make_node("Where", ["c", "x", "b"], ["y"])]
case("Where_less", nodes, wide, np.where(wide < 0, wide, b).astype(np.float32),
     inits=[("zero", np.zeros(1, np.float32)), ("b", b[:, :1] * np.ones((3, 5), np.float32))],
     tol=0)
# Sign on integers.
nodes = [h.make_node("Cast", ["x"], ["xi"], to=TP.INT64), h.make_node("Sign", ["xi"], ["r"]),
         h.make_node("Cast", ["r"], ["y"], to=F)]
case("Sign_int64", nodes, ints, np.sign(ints), tol=0)

# Mean of three broadcast operands.
nodes = [h.make_node("Mean", ["x", "b", "c"], ["y"])]
c3 = rng.uniform(-1, 1, (5,)).astype(np.float32)
case("Mean_three", nodes, wide, ((wide.astype(np.float64) + b[:, :1] + c3) / 3),
     inits=[("b", b), ("c", c3)])


# Range (constant inputs, folded) and Size, added to x so the model has an
# input for irrun.
def arange(s, l, d, dt):
    n = max(int(np.ceil(np.float32(l - s) / np.float32(d))), 0)
    return (s + np.arange(n) * d).astype(dt)


for name, (s, l, d), dt, tp in [("Range_float", (1.0, 3.2, 0.25), np.float32, F),
                                 ("Range_float_down", (10.0, 4.0, -2.0), np.float32, F),
                                 ("Range_int64", (3, 9, 3), np.int64, TP.INT64),
                                 ("Range_int32_down", (10, -1, -3), np.int32, TP.INT32)]:
    r = arange(dt(s), dt(l), dt(d), dt)
    x = rng.uniform(-1, 1, (1, r.size)).astype(np.float32)
    nodes = [h.make_node("Range", ["s", "l", "d"], ["r"]),
             h.make_node("Cast", ["r"], ["rf"], to=F),
             h.make_node("Add", ["x", "rf"], ["y"])]
    case(name, nodes, x, x + r.astype(np.float32),
         inits=[("s", np.array(s, dt)), ("l", np.array(l, dt)), ("d", np.array(d, dt))],
         tol=1e-6)
x = rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
nodes = [h.make_node("Size", ["x"], ["n"]), h.make_node("Cast", ["n"], ["nf"], to=F),
         h.make_node("Add", ["x", "nf"], ["y"])]
case("Size", nodes, x, x + 24, tol=0)

# Refused forms.
x = np.zeros((1, 4), np.float32)
model("refuse_range_input", [h.make_node("ReduceMax", ["x"], ["xm"], keepdims=0),
                             h.make_node("Cast", ["xm"], ["m"], to=TP.INT64),
                             h.make_node("Range", ["s", "m", "d"], ["r"]),
                             h.make_node("Cast", ["r"], ["y"], to=F)],
      x, [4], inits=[("s", np.array(0, np.int64)), ("d", np.array(1, np.int64))])
model("refuse_mod_float_fmod0", [h.make_node("Mod", ["x", "x"], ["y"])], x, [1, 4])
PY
}

# check PATTERN: every generated case NAME matching PATTERN imported, run on
# NAME.x.npy and compared with NAME.y.npy within NAME.tol (relative to the
# reference's magnitude, at least 1; 0: exactly, NaN where NaN).
check() {
	local m name n=0
	shopt -s extglob
	need_tools
	gen_cases
	for m in $1.onnx; do
		[ -f "$m" ] || { echo "no case $1"; false; }
		name=${m%.onnx}
		n=$((n + 1))
		run onnx2ir -q "$m" -o "$name.ir"
		[ "$status" -eq 0 ] || { echo "$name: onnx2ir: $output"; false; }
		run irrun -q "$name.ir" --input "$name.x.npy" -o "$name.out.npy"
		[ "$status" -eq 0 ] || { echo "$name: irrun: $output"; false; }
		run "$PY" -c 'import sys, numpy as np
a, b = np.load(sys.argv[1]).astype(np.float64), np.load(sys.argv[2]).astype(np.float64)
tol = float(open(sys.argv[3]).read())
if a.shape != b.shape:
    sys.exit("shape %s, expected %s" % (a.shape, b.shape))
if (np.isnan(a) != np.isnan(b)).any():
    sys.exit("NaN at %s, expected at %s" % (np.argwhere(np.isnan(a)), np.argwhere(np.isnan(b))))
ok = ~np.isnan(b)
d = np.abs(a[ok] - b[ok])
lim = tol * np.maximum(np.abs(b[ok]), 1.0)
print("max abs diff %g" % (d.max() if d.size else 0))
sys.exit(0 if (d <= lim).all() else 1)' "$name.out.npy" "$name.y.npy" "$name.tol"
		[ "$status" -eq 0 ] || { echo "$name: $output"; false; }
	done
	[ "$n" -gt 0 ]
}

@test "Log, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh: within 1e-5 of numpy" {
	check '@(Log|Sin|Cos|Tan|Asin|Acos|Atan|Sinh|Cosh|Asinh|Acosh|Atanh)'
}

@test "Floor, Ceil, Round (halves to even), Sign (float and int64), Neg: exact" {
	check '@(Floor|Ceil|Round|Sign|Sign_int64|Neg)'
}

@test "Softplus, Softsign, Mish (opset 18), Selu, Celu, Shrink, defaults and attributes: within 1e-5" {
	check '@(Softplus|Softsign|Mish|Selu*|Celu*|Shrink*)'
}

@test "IsNaN, IsInf (detect_negative/detect_positive): bool outputs, exact" {
	check '@(IsNaN|IsInf*)'
}

@test "Mod: fmod 0 on int32 (sign of the divisor), fmod 1 on int32 and float32 (sign of the dividend)" {
	check 'Mod_*'
}

@test "BitShift LEFT and RIGHT on uint8, a shift past the width giving 0: exact" {
	check 'BitShift_*'
}

@test "Equal, Less, LessOrEqual, Greater, GreaterOrEqual on float32 and int32, NaN compares false" {
	check '@(Equal|Less|LessOrEqual|Greater|GreaterOrEqual)_@(float|int32|nan)'
}

@test "And, Or, Xor, Equal on bool, Not, Where on a comparison: broadcast, exact" {
	check '@(And_bool|Or_bool|Xor_bool|Equal_bool|Not|Where_less)'
}

@test "Mean of three broadcast operands" {
	check 'Mean_three'
}

@test "Range (float32 and integers, up and down) and Size fold into constants" {
	check '@(Range_*|Size)'
	run -0 onnx2ir -q Range_int32_down.onnx -o r.ir
	run -0 irdump r.ir
	refute_output --partial ": Range("
	run -0 onnx2ir -q Size.onnx -o s.ir
	run -0 irdump s.ir
	refute_output --partial ": Size("
}

@test "Range with a computed limit is refused, naming the node" {
	need_tools
	gen_cases
	run -1 --separate-stderr onnx2ir -q refuse_range_input.onnx -o m.ir
	[[ "$stderr" == *"limit 'm' must be a constant: the output length is its shape, and shapes are static"*"op 'Range'"* ]]
	[ ! -e m.ir ]
}

@test "Mod with fmod 0 on float32 is refused (ONNX defines it on integers)" {
	need_tools
	gen_cases
	run -1 --separate-stderr onnx2ir -q refuse_mod_float_fmod0.onnx -o m.ir
	[[ "$stderr" == *"fmod 0 is defined on integer inputs only"*"op 'Mod'"* ]]
	[ ! -e m.ir ]
}

@test "quantize names a new float op it has no rule for instead of crashing" {
	need_tools
	gen_cases
	run -0 onnx2ir -q Sin.onnx -o f.ir
	run -0 calibrate -q --data Sin.x.npy f.ir -o f.cal.ir
	run -1 --separate-stderr quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir
	[[ "$stderr" == *"does not support op 'Sin' (node 'Sin_0', op 'Sin')"* ]]
	[ ! -e q.ir ]
}
