#!/usr/bin/env bats
# Add, Sub and Mul by constants under tpc/imx500.json, whose add, sub and mul
# sets quantize no weights (weights.enabled false, as MCT's IMX500 TPC keeps
# such constant attributes float; docs/tpc.md sections 2 and 6.1).  The ONNX
# model, written here with the onnx package, is
#   y = (k2 - x * k1) + k3
# with x [1, 3, 4, 5], k1 [1, 3, 1, 1] per channel with a negative entry,
# k2 a scalar (the constant first: k2 - v), k3 [1, 3, 4, 1] positive and
# varying along two axes.  Expected: x * k1 and k2 - v stay float and lower
# to QAffine (docs/ir.md section 6); k3 cannot fold, so it is quantized per
# tensor (unsigned power-of-two, all positive) and QAdd reads it as int8
# codes moved by -128.  The reference is the float model in numpy.
load test_helper

model() {
	"$PY" - <<'PY'
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
rng = np.random.default_rng(3)
k1 = np.array([0.75, -1.5, 0.3], np.float32).reshape(1, 3, 1, 1)
k2 = np.array([0.5], np.float32)
k3 = (0.2 + rng.random((1, 3, 4, 1))).astype(np.float32)
nodes = [helper.make_node("Mul", ["x", "k1"], ["m"], name="mul"),
         helper.make_node("Sub", ["k2", "m"], ["s"], name="sub"),
         helper.make_node("Add", ["s", "k3"], ["y"], name="add")]
g = helper.make_graph(nodes, "consts",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 5])],
                      [numpy_helper.from_array(k1, "k1"), numpy_helper.from_array(k2, "k2"),
                       numpy_helper.from_array(k3, "k3")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
onnx.save(m, "c.onnx")
x = rng.uniform(-1, 1, (32, 3, 4, 5)).astype(np.float32)
np.save("x.npy", x)
np.save("ref.npy", ((k2 - x * k1) + k3).astype(np.float32))
PY
}

@test "const_operands: imx500 folds foldable constants of Mul and Sub into QAffine and reads an unsigned constant as int8" {
	need_numpy
	"$PY" -c 'import onnx' 2>/dev/null || skip "needs the onnx Python package"
	model
	onnx2ir c.onnx -o f.ir
	calibrate -q --data x.npy f.ir -o c.ir
	quantize -q --tpc "$QPIPE_TOP/tpc/imx500.json" c.ir -o q.ir
	lower q.ir -o l.ir
	emit l.ir -o m.bin
	irrun -q l.ir --input x.npy -o low.npy
	simulate m.bin --input x.npy -o sim.npy
	cmp low.npy sim.npy
	irrun -q q.ir --input x.npy -o fq.npy
	run -0 one_step q.ir fq.npy low.npy
	echo "# $output" >&3
	irdump --json q.ir > q.json
	irdump --json l.ir > l.json
	run -0 "$PY" - q.json l.json low.npy ref.npy <<'PY'
import json, sys
import numpy as np
q, l = (json.load(open(f)) for f in sys.argv[1:3])
qt = {t["name"]: t for t in q["tensors"]}
assert qt["k1"]["dtype"] == "float32" and "quant" not in qt["k1"], qt["k1"]
assert qt["k2"]["dtype"] == "float32" and "quant" not in qt["k2"], qt["k2"]
assert qt["k3"]["dtype"] == "uint8" and not qt["k3"]["quant"]["signed"], qt["k3"]
ops = [(n["name"], n["op"]) for n in l["graph"]["nodes"]]
assert ops[1:4] == [("mul", "QAffine"), ("sub", "QAffine"), ("add", "QAdd")], ops
lt = {t["name"]: t for t in l["tensors"]}
assert lt["k3"]["dtype"] == "int8" and lt["k3"]["quant"]["zero_point"] == [qt["k3"]["quant"]["zero_point"][0] - 128], lt["k3"]
mul = [n for n in l["graph"]["nodes"] if n["name"] == "mul"][0]["attrs"]
# k1 per channel on axis 1: the multipliers' signs are k1's
assert mul["axis"]["int"] == 1 and [m > 0 for m in mul["multiplier"]["ints"]] == [True, False, True], mul
y, ref = np.load(sys.argv[3]), np.load(sys.argv[4])
s = lt["y_q"]["quant"]["scale"][0]
d = float(np.abs(y - ref).max())
print("max abs diff from the float model %g, output step %g" % (d, s))
assert d <= 3 * s, d
PY
	echo "# $output" >&3
}
