#!/usr/bin/env bats
# The IR verifier checks every node against the op table (issue 20): an op
# no table has, or an attribute its row does not define, is refused by
# every reader (irdump and each stage) with one line naming the node and
# the attribute; a lowered op may carry exactly the attributes of its row in
# runtime/qp_ops.h (parameter schema and extra attributes).  keras2ir writes
# HardSwish without attributes, as ONNX defines it.  (The docs' op tables
# are checked against the code's by tests/cli/doc_tables.bats.)
load test_helper

Q="$FIXTURES/quantize"
K="$FIXTURES/keras"
TPC="$QPIPE_TOP/tpc/int8.json"
GEN="$QPIPE_TOP/tests/fixtures/gen"

# mutate IN OUT PYTHON: rewrites IR IN's header h (graph g) with the Python
# statements PYTHON, through the spec-only reader tests/fixtures/gen/qpir.py
# (as tests/cli/hostile_tpc_lower.bats does).
mutate() {
	"$PY" - "$GEN" "$1" "$2" "$3" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1]); import qpir
	h, a = qpir.read(sys.argv[2])
	g = h["graph"]
	node = {n["name"]: n for n in g["nodes"]}
	exec(sys.argv[4])
	qpir.write(sys.argv[3], h, a)
	EOF
}

# refused_by_all IR LINE: irdump, calibrate, quantize, lower and irrun each
# exit 1 with "tool: IR: LINE" and write nothing.
refused_by_all() {
	local ir=$1 line=$2
	"$PY" -c 'import numpy as np; np.save("x.npy", np.zeros((2, 2, 4, 4), np.float32))'
	run -1 --separate-stderr irdump "$ir"
	[ "$stderr" = "irdump: $ir: $line" ]
	run -1 --separate-stderr calibrate "$ir" --data x.npy -o out.ir
	[ "$stderr" = "calibrate: $ir: $line" ]
	run -1 --separate-stderr quantize --tpc "$TPC" "$ir" -o out.ir
	[ "$stderr" = "quantize: $ir: $line" ]
	run -1 --separate-stderr lower "$ir" -o out.ir
	[ "$stderr" = "lower: $ir: $line" ]
	run -1 --separate-stderr irrun "$ir" --input x.npy -o y.npy
	[ "$stderr" = "irrun: $ir: $line" ]
	[ ! -e out.ir ] && [ ! -e y.npy ]
}

@test "verify_ops: the unmodified fixture is accepted (the mutations below are what is refused)" {
	need_numpy
	mutate "$Q/convbn.cal.ir" same.ir "pass"
	run -0 irdump same.ir
	"$PY" -c 'import numpy as np; np.save("x.npy", np.zeros((2, 2, 4, 4), np.float32))'
	run -0 irrun same.ir --input x.npy -o y.npy
}

@test "verify_ops: an unknown op is refused by irdump and every stage, naming the node" {
	need_numpy
	mutate "$Q/convbn.cal.ir" foo.ir "node['relu']['op'] = 'Foo'"
	refused_by_all foo.ir "unknown op 'Foo' (node 'relu', op 'Foo')"
}

@test "verify_ops: an attribute the op does not define is refused, naming node and attribute" {
	need_numpy
	mutate "$Q/convbn.cal.ir" alpha.ir "node['relu']['attrs'] = {'alpha': {'float': 0.5}}"
	refused_by_all alpha.ir "attribute 'alpha' is not defined for this op (node 'relu', op 'Relu')"
	# An ONNX attribute the IR resolves away is not defined either.
	mutate "$Q/convbn.cal.ir" autopad.ir "node['conv']['attrs']['auto_pad'] = {'string': 'SAME_UPPER'}"
	refused_by_all autopad.ir "attribute 'auto_pad' is not defined for this op (node 'conv', op 'Conv')"
}

@test "verify_ops: a defined attribute with a type its op does not read is refused" {
	need_numpy
	mutate "$Q/convbn.cal.ir" ty.ir "node['softmax']['attrs'] = {'axis': {'string': '1'}}"
	refused_by_all ty.ir "attribute 'axis' is string, expected int (node 'softmax', op 'Softmax')"
	# A float attribute may be stored as an int (qp_node_attr_float reads it).
	mutate "$Q/convbn.cal.ir" eps.ir "node['bn']['attrs'] = {'epsilon': {'int': 0}}"
	run -0 irdump eps.ir
}

@test "verify_ops: a required attribute that is missing is refused" {
	need_numpy
	mutate "$Q/convbn.cal.ir" nok.ir "del node['pool']['attrs']['kernel_shape']"
	refused_by_all nok.ir "missing attribute 'kernel_shape' (node 'pool', op 'MaxPool')"
}

@test "verify_ops: an unknown op in a lowered IR is refused by irdump and emit" {
	need_numpy
	run -0 quantize -q --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	run -0 lower q.ir -o l.ir
	mutate l.ir bad.ir "n = next(n for n in g['nodes'] if n['op'] == 'QConv'); n['op'] = 'QConvX'; print(n['name'], file=open('name', 'w'))"
	name=$(cat name)
	run -1 --separate-stderr irdump bad.ir
	[ "$stderr" = "irdump: bad.ir: unknown op 'QConvX' (node '$name', op 'QConvX')" ]
	run -1 --separate-stderr emit bad.ir -o out.bin
	[ "$stderr" = "emit: bad.ir: unknown op 'QConvX' (node '$name', op 'QConvX')" ]
}

# lowered IR: convbn.cal.ir quantized and lowered (nodes conv: QConv,
# pool: QMaxPool, flat: QReshape, ...), written to l.ir.
lowered() {
	run -0 quantize -q --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	run -0 lower q.ir -o l.ir
}

# refused_lowered IR LINE: irdump and emit each exit 1 with
# "tool: IR: LINE" and emit writes nothing.
refused_lowered() {
	run -1 --separate-stderr irdump "$1"
	[ "$stderr" = "irdump: $1: $2" ]
	run -1 --separate-stderr emit "$1" -o out.bin
	[ "$stderr" = "emit: $1: $2" ]
	[ ! -e out.bin ]
}

@test "verify_ops: an attribute a lowered op does not define is refused by irdump and emit, naming node and attribute" {
	need_numpy
	lowered
	mutate l.ir alpha.ir "node['conv']['attrs']['alpha'] = {'int': 1}"
	refused_lowered alpha.ir "attribute 'alpha' is not defined for this op (node 'conv', op 'QConv')"
	# ceil_mode is QMaxPool's extra attribute, not QConv's.
	mutate l.ir ceil.ir "node['conv']['attrs']['ceil_mode'] = {'int': 0}"
	refused_lowered ceil.ir "attribute 'ceil_mode' is not defined for this op (node 'conv', op 'QConv')"
	"$PY" -c 'import numpy as np; np.save("x.npy", np.zeros((1, 2, 4, 4), np.float32))'
	run -1 --separate-stderr irrun ceil.ir --input x.npy -o y.npy
	[ "$stderr" = "irrun: ceil.ir: attribute 'ceil_mode' is not defined for this op (node 'conv', op 'QConv')" ]
	[ ! -e y.npy ]
}

@test "verify_ops: a lowered node without an attribute of its row, or with one of the wrong type, is refused" {
	need_numpy
	lowered
	mutate l.ir nogroup.ir "del node['conv']['attrs']['group']"
	refused_lowered nogroup.ir "missing attribute 'group' (node 'conv', op 'QConv')"
	# QReshape's shape is an extra attribute, but required.
	mutate l.ir noshape.ir "del node['flat']['attrs']['shape']"
	refused_lowered noshape.ir "missing attribute 'shape' (node 'flat', op 'QReshape')"
	mutate l.ir strides.ir "node['conv']['attrs']['strides'] = {'int': 1}"
	refused_lowered strides.ir "attribute 'strides' is int, expected ints (node 'conv', op 'QConv')"
}

@test "verify_ops: a lowered IR's extra attributes are allowed, and an optional one may be absent" {
	need_numpy
	lowered
	run -0 emit l.ir -o l.bin
	# QMaxPool's ceil_mode is optional (0); emit never writes it.
	mutate l.ir noceil.ir "assert node['pool']['attrs']['ceil_mode'] == {'int': 0}; del node['pool']['attrs']['ceil_mode']"
	run -0 irdump noceil.ir
	run -0 emit noceil.ir -o noceil.bin
	cmp l.bin noceil.bin
}

@test "verify_ops: keras2ir writes HardSwish without attributes and still matches Keras (k3_act_hard_swish.keras)" {
	need_numpy
	run -0 keras2ir "$K/k3_act_hard_swish.keras" -o m.ir
	"$PY" - "$GEN" m.ir <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1]); import qpir
	h, _ = qpir.read(sys.argv[2])
	hs = [n for n in h["graph"]["nodes"] if n["op"] == "HardSwish"]
	assert len(hs) == 2, hs
	for n in hs:
	    assert "attrs" not in n, n
	EOF
	run -0 irrun m.ir --input "$K/k3_act_hard_swish.keras.input.npy" -o y.npy
	# The reference is Keras's own output, stored with the fixture.
	npy_close y.npy "$K/k3_act_hard_swish.keras.output.npy" 1e-5
}
