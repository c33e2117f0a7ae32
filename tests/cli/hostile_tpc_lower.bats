#!/usr/bin/env bats
# Hostile inputs to the TPC parser and to lower (issue 19, items 3 and 4):
# raw control and NUL bytes in a TPC, a Conv whose group does not fit its
# channels, a graph without outputs, and a target that leaves activations
# float.  Each must be refused with a message naming the key path, node or
# graph, and no output file.
load test_helper

Q="$FIXTURES/quantize"
TPC="$QPIPE_TOP/tpc/int8.json"
GEN="$QPIPE_TOP/tests/fixtures/gen"

# A complete TPC whose third operator set's name is "$1" (printf escapes).
tpc_with_set_name() {
	printf '{"format": "qpipe-tpc", "version": 1, "name": "t",
 "default_config": {
  "weights": {"enabled": true, "n_bits": 8, "method": "symmetric", "per_channel": true},
  "activation": {"enabled": true, "n_bits": 8, "method": "uniform", "signedness": "signed"}},
 "operator_sets": [{"name": "conv", "ops": ["Conv", "Gemm"]}, {"name": "relu", "ops": ["Relu"]},
  {"name": "%b", "ops": ["MaxPool", "Flatten", "Softmax"]}]}\n' "$1"
}

# mutate IN OUT PYTHON: rewrites IR IN's header h (and arrays a) with the
# Python statements PYTHON, through the spec-only reader tests/fixtures/gen/qpir.py.
mutate() {
	"$PY" - "$GEN" "$1" "$2" "$3" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1]); import qpir
	h, a = qpir.read(sys.argv[2])
	g = h["graph"]
	exec(sys.argv[4])
	qpir.write(sys.argv[3], h, a)
	EOF
}

set_conv_group() {
	mutate q.ir "$2" "next(n for n in g['nodes'] if n['name'] == 'conv')['attrs']['group'] = {'int': $1}"
}

@test "tpc: a raw control byte inside a string names its key path" {
	tpc_with_set_name pool >ok.json
	run -0 quantize -q --tpc ok.json "$Q/convbn.cal.ir" -o q.ir
	tpc_with_set_name 'po\x01ol' >bad.json
	run -1 --separate-stderr quantize --tpc bad.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: bad.json: raw control byte 0x01 inside a string (at operator_sets[2].name)" ]
	[ ! -e out.ir ]
	printf '{"format": "qpipe-tpc", "version": 1, "name": "a\x1fb"}' >top.json
	run -1 --separate-stderr quantize --tpc top.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: top.json: raw control byte 0x1f inside a string (at name)" ]
	[ ! -e out.ir ]
}

@test "tpc: a raw NUL inside a string is an error, not a shorter string" {
	# cJSON would stop the name at the NUL and take the set as "pool".
	tpc_with_set_name 'pool\x00x' >nul.json
	run -1 --separate-stderr quantize --tpc nul.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: nul.json: raw NUL byte 0x00 inside a string (at operator_sets[2].name)" ]
	[ ! -e out.ir ]
}

@test "tpc: a NUL or control byte outside any string is an error too" {
	# cJSON skips both as white space, before and after the document.
	{ cat "$TPC"; printf '\x00'; } >trailing.json
	run -1 --separate-stderr quantize --tpc trailing.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: trailing.json: raw NUL byte 0x00 between tokens (at the top level)" ]
	printf '{"format": "qpipe-tpc",\x01 "version": 1, "name": "t"}' >between.json
	run -1 --separate-stderr quantize --tpc between.json "$Q/convbn.cal.ir" -o out.ir
	[ "$stderr" = "quantize: between.json: raw control byte 0x01 between tokens (at the top level)" ]
	[ ! -e out.ir ]
}

@test "lower refuses a Conv with group 0, naming the node" {
	need_numpy
	quantize -q --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	set_conv_group 0 g0.ir
	run -1 --separate-stderr lower g0.ir -o out.ir
	[ "$stderr" = "lower: g0.ir: group 0 is not positive (node 'conv', op 'Conv')" ]
	[ ! -e out.ir ]
	# irrun's shape check (the same code) says the same of the quantized IR.
	"$PY" -c 'import numpy as np; np.save("x.npy", np.zeros((1, 2, 4, 4), np.float32))'
	run -0 irrun q.ir --input x.npy -o y.npy
	run -1 --separate-stderr irrun g0.ir --input x.npy -o y.npy
	[ "$stderr" = "irrun: g0.ir: group 0 is not positive (node 'conv', op 'Conv')" ]
}

@test "lower refuses a Conv with a negative group, naming the node" {
	need_numpy
	quantize -q --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	set_conv_group -2 gneg.ir
	run -1 --separate-stderr lower gneg.ir -o out.ir
	[ "$stderr" = "lower: gneg.ir: group -2 is not positive (node 'conv', op 'Conv')" ]
	[ ! -e out.ir ]
}

@test "lower refuses a Conv whose group does not divide its channels" {
	need_numpy
	quantize -q --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	# input channels 2, output channels 3
	set_conv_group 2 g2.ir
	run -1 --separate-stderr lower g2.ir -o out.ir
	[ "$stderr" = "lower: g2.ir: group 2 does not divide the input channels 2 and output channels 3 (node 'conv', op 'Conv')" ]
	[ ! -e out.ir ]
	set_conv_group 3 g3.ir
	run -1 --separate-stderr lower g3.ir -o out.ir
	[ "$stderr" = "lower: g3.ir: group 3 does not divide the input channels 2 and output channels 3 (node 'conv', op 'Conv')" ]
	[ ! -e out.ir ]
}

@test "lower refuses a graph with no outputs" {
	need_numpy
	quantize -q --tpc "$TPC" "$Q/convbn.cal.ir" -o q.ir
	mutate q.ir none.ir "g['outputs'] = []"
	run -1 --separate-stderr lower none.ir -o out.ir
	[ "$stderr" = "lower: none.ir: the graph has no outputs; there is nothing to lower" ]
	[ ! -e out.ir ]
}

@test "lower says the target left activations float (default_config activation.enabled false)" {
	sed 's/"activation": {"enabled": true/"activation": {"enabled": false/; s/"name": "int8"/"name": "w8"/' \
		"$TPC" >w8.json
	quantize -q --tpc w8.json "$Q/convbn.cal.ir" -o q.ir
	run -1 --separate-stderr lower q.ir -o out.ir
	[ "$stderr" = "lower: q.ir: activations are not quantized: the target (TPC 'w8') left 'x' float (activation.enabled false in default_config); lower needs int8 activations (node 'conv', op 'Conv')" ]
	[ ! -e out.ir ]
}

@test "lower says which operator set left an activation float" {
	sed 's/{"name": "fully_connected", "ops": \["Gemm", "MatMul"\]}/{"name": "fully_connected", "ops": ["Gemm", "MatMul"], "config": {"activation": {"enabled": false}}}/' \
		"$TPC" >fcf.json
	grep -q '"enabled": false' fcf.json
	quantize -q --tpc fcf.json "$Q/convbn.cal.ir" -o q.ir
	run -1 --separate-stderr lower q.ir -o out.ir
	# the Gemm's output g is float: the Gemm cannot write it, the Softmax
	# cannot read it
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "lower: q.ir: activations are not quantized: the target (TPC 'int8') left 'g' float (activation.enabled false for operator set 'fully_connected'); lower needs int8 activations (node 'fc', op 'Gemm')" ]
	[ "${stderr_lines[1]}" = "lower: q.ir: activations are not quantized: the target (TPC 'int8') left 'g' float (activation.enabled false for operator set 'fully_connected'); lower needs int8 activations (node 'softmax', op 'Softmax')" ]
	[ ! -e out.ir ]
}
