#!/usr/bin/env bats
# IR and JSON text is always valid UTF-8 (docs/ir.md section 1): importers
# refuse names that are not, history entries escape file-name bytes as \xNN,
# and readers refuse a header that is not strict UTF-8.
load test_helper.bash

TINY="$FIXTURES/ir/tiny.ir"

need_onnx() {
	"$PY" -c 'import onnx' 2>/dev/null || skip "needs /usr/bin/python3 with onnx (python3-onnx, make deps)"
}

# strict_json: standard input decodes as UTF-8 and parses as JSON.
strict_json() {
	"$PY" -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))'
}

# relu2_onnx OUT [FROM TO]: x -> Relu (node "first") -> mid -> Relu (node
# "second") -> y, with the bytes FROM replaced by TO (both hex) in the
# serialized model: names are written with a placeholder of the same length,
# then patched, since onnx's Python API only takes valid UTF-8.
relu2_onnx() {
	"$PY" - "$@" <<'PY'
import sys
import onnx
from onnx import TensorProto, helper
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
nodes = [helper.make_node("Relu", ["x"], ["midQQ"], name="firstQQ"),
         helper.make_node("Relu", ["midQQ"], ["y"], name="second")]
g = helper.make_graph(nodes, "g", [x], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
data = m.SerializeToString()
if len(sys.argv) > 2:
    old, new = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
    assert len(old) == len(new) and old in data
    data = data.replace(old, new)
open(sys.argv[1], "wb").write(data)
PY
}

# reframe OUT FROM TO: tiny.ir with the header bytes FROM replaced by TO
# (hex) everywhere, framed again with a fresh checksum (docs/ir.md section
# 1), so only the header's text is wrong.
reframe() {
	"$PY" - "$TINY" "$@" "$QPIPE_TOP/tests/fixtures/gen" <<'PY'
import sys
sys.path.insert(0, sys.argv[5]); import qpir
h, blob = qpir.unframe(open(sys.argv[1], "rb").read())
old, new = bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
assert old in h
open(sys.argv[2], "wb").write(qpir.frame(h.replace(old, new), blob))
PY
}

@test "utf8_names: onnx2ir refuses a node name that is not UTF-8" {
	need_onnx
	# "firstQQ" -> "first\xff\xfe"
	relu2_onnx bad.onnx 66697273745151 6669727374fffe
	run -1 --separate-stderr onnx2ir bad.onnx -o out.ir
	[ "$stderr" = "onnx2ir: bad.onnx: node name is not valid UTF-8 (node 'first\\xff\\xfe', op 'Relu')" ]
	[ ! -e out.ir ]
	# The message itself is UTF-8.
	printf '%s' "$stderr" | "$PY" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")'
}

@test "utf8_names: onnx2ir refuses a tensor name that is not UTF-8 (overlong, surrogate, truncated)" {
	need_onnx
	relu2_onnx ok.onnx
	run -0 onnx2ir ok.onnx -o ok.ir
	# "midQQ" -> "mid" + each bad 2-byte form
	for bad in c0af edbf e282 f490; do
		relu2_onnx bad.onnx 6d69645151 6d6964$bad
		run -1 --separate-stderr onnx2ir bad.onnx -o out.ir
		shown=$(printf '%s' "$bad" | sed 's/../\\x&/g')
		[ "$stderr" = "onnx2ir: bad.onnx: output name 'mid$shown' is not valid UTF-8 (node 'firstQQ', op 'Relu')" ]
	done
	# A valid 2-byte character is a fine name: "é".
	relu2_onnx e.onnx 6d69645151 6d6964c3a9
	run -0 onnx2ir e.onnx -o e.ir
	run -0 irdump e.ir
	[[ "$output" == *"mid"$'\xc3\xa9'* ]]
}

@test "utf8_names: keras2ir refuses a layer name and a config string that are not UTF-8" {
	# The fixture's zip is unpacked with unzip (Python's zipfile refuses
	# its layout), its config.json patched, and the members zipped again.
	unzip -q "$FIXTURES/keras/k3_act_elu.keras" -d src
	"$PY" - <<'PY'
import zipfile
members = ["metadata.json", "config.json", "model.weights.h5"]
for out, old, new in [("same.keras", b"", b""), ("name.keras", b'"name": "dense"', b'"name": "dense\xff"'),
                      ("str.keras", b'"activation": "elu"}, "registered', b'"activation": "elu\xc0\xaf"}, "registered')]:
    with zipfile.ZipFile(out, "w") as z:
        for m in members:
            data = open("src/" + m, "rb").read()
            if m == "config.json":
                assert old in data
                data = data.replace(old, new, 1)
            z.writestr(m, data)
PY
	run -0 keras2ir same.keras -o ok.ir
	run -1 --separate-stderr keras2ir name.keras -o out.ir
	[ "$stderr" = "keras2ir: name.keras: layer name is not valid UTF-8 (layer 'dense\\xff', class 'Dense')" ]
	run -1 --separate-stderr keras2ir str.keras -o out.ir
	[ "$stderr" = "keras2ir: str.keras: config string 'elu\\xc0\\xaf' is not valid UTF-8 (layer 'activation', class 'Activation')" ]
}

@test "utf8_names: a file name that is not UTF-8 is escaped in the history; irdump --json is strict JSON" {
	need_onnx
	relu2_onnx $'in\xfe.onnx'
	run -0 onnx2ir $'in\xfe.onnx' -o $'\xff.ir'
	run -0 --separate-stderr irdump --json $'\xff.ir'
	printf '%s' "$output" | strict_json
	[[ "$output" == *'["onnx2ir", "in\\xfe.onnx", "-o", "\\xff.ir"]'* ]]
	# The summary shows the same escaped text.
	run -0 irdump $'\xff.ir'
	[[ "$output" == *'in\xfe.onnx'* && "$output" == *'\xff.ir'* ]]
	# Through a pipe and with a valid non-ASCII name, the same.
	relu2_onnx m.onnx
	run -0 bash -c "onnx2ir m.onnx -o $'caf\xc3\xa9.ir' && irdump --json $'caf\xc3\xa9.ir'"
	printf '%s' "$output" | strict_json
	[[ "$output" == *$'"caf\xc3\xa9.ir"'* ]]
}

@test "utf8_names: irdump refuses a header that is not strict UTF-8" {
	# tiny.ir's tensor "c1" renamed everywhere: only the encoding is wrong.
	for bad in ff c0b1 edb080 f4908080 e282 f09f98; do
		reframe bad.ir 22633122 2263${bad}22
		run -1 --separate-stderr irdump --json bad.ir
		[ -z "$output" ]
		[[ "$stderr" == "irdump: bad.ir: header is not valid UTF-8 (at byte "*" of "*")" ]]
	done
	# A valid 4-byte character (U+1F600) is a fine name, and --json stays strict.
	reframe ok.ir 22633122 2263f09f988022
	run -0 --separate-stderr irdump --json ok.ir
	printf '%s' "$output" | strict_json
	[[ "$output" == *$'"c\xf0\x9f\x98\x80"'* ]]
}
