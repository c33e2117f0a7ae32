#!/usr/bin/python3
"""Vendors the ONNX backend node tests qpipe's conformance runner uses.

Run from the repository top with Debian's /usr/bin/python3 (python3-onnx):

    /usr/bin/python3 tests/conformance/vendor.py [SRC]

SRC defaults to ../shared/testdata/onnx-node (ONNX 1.12 backend test cases,
Apache-2.0).  Copies every test whose model uses an op of issue 4 (or of
issue 20: Abs, Reciprocal, ReduceSumSquare) into
tests/conformance/node/<test>/ as model.onnx, input_<i>.pb, output_<i>.pb,
records in tests/conformance/node/MODIFIED.tsv every test it changed, and
in OPS.tsv the op each test is counted under.

Two mechanical changes, both semantics-preserving for the given data, so the
tests reach the kernels instead of stopping at import rules that hold by
design for the models qpipe targets (docs/conformance.md):
  - models below opset 13 are upgraded to opset 13 with ONNX's own
    onnx.version_converter (onnx2ir imports opsets 13-20 only);
  - operands that onnx2ir requires to be constant (Reshape's shape, Slice's
    starts/ends/axes/steps, TopK's k, Resize's scales/sizes, ...) but that
    the test feeds as graph inputs become initializers holding exactly the
    test's input values; the remaining inputs are renumbered in order.
Expected outputs are never touched.  A changed test is vendored twice: the
upstream files unchanged under the upstream name (the runner expects onnx2ir
to refuse them and reports a TAP skip with the reason), and the changed model
with the same data under the name plus "+opset13", "+const" or
"+opset13+const"; both count in the runner's table.  VARIANTS.tsv pairs them
and says why the upstream form is out of scope.  A test the converter cannot
upgrade is copied unchanged (onnx2ir then refuses it; expected-skips says why).
"""
import os
import shutil
import sys

import onnx
from onnx import numpy_helper, version_converter

OPS = set("""Conv ConvTranspose Gemm MatMul Add Sub Mul Div Pow Sqrt Exp Erf Relu
LeakyRelu PRelu Sigmoid HardSigmoid HardSwish Tanh Clip Softmax MaxPool
AveragePool GlobalAveragePool GlobalMaxPool BatchNormalization
InstanceNormalization Concat Split Reshape Flatten Transpose Squeeze Unsqueeze
Slice Gather Pad Resize Upsample ReduceMean ReduceMax ReduceSum Sum Max Min
Where Expand Cast Shape ConstantOfShape Identity Dropout TopK ArgMax
QuantizeLinear DequantizeLinear Tile DepthToSpace SpaceToDepth
Abs Reciprocal ReduceSumSquare Neg Mean""".split())

# Input positions onnx2ir needs as constants (exported models have them as
# initializers or Constant/Shape chains that fold).
CONST_OPERANDS = {
    "Reshape": [1], "Expand": [1], "Tile": [1], "ConstantOfShape": [0], "TopK": [1],
    "Squeeze": [1], "Unsqueeze": [1], "Split": [1], "Slice": [1, 2, 3, 4],
    "Pad": [1, 2], "Resize": [1, 2, 3], "Upsample": [1],
    "ReduceSum": [1], "ReduceMean": [1], "ReduceMax": [1], "ReduceSumSquare": [1],
}

TARGET_OPSET = 13


def opset_of(model):
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def copy_upstream(src, dst):
    """The test exactly as generated, test_data_set_0 moved up one level."""
    data = os.path.join(src, "test_data_set_0")
    os.makedirs(dst, exist_ok=True)
    shutil.copyfile(os.path.join(src, "model.onnx"), os.path.join(dst, "model.onnx"))
    for f in sorted(os.listdir(data)):
        if f.endswith(".pb"):
            shutil.copyfile(os.path.join(data, f), os.path.join(dst, f))


def vendor_one(src, out, notes, variants):
    """Vendors one test; returns the names of the directories it wrote."""
    name = os.path.basename(src)
    model = onnx.load(os.path.join(src, "model.onnx"))
    data = os.path.join(src, "test_data_set_0")
    changes = []
    why = []
    suffix = ""
    old = opset_of(model)
    if old < TARGET_OPSET:
        try:
            model = version_converter.convert_version(model, TARGET_OPSET)
            changes.append("opset %d upgraded to %d with onnx.version_converter" % (old, TARGET_OPSET))
            why.append("opset %d: onnx2ir imports opsets 13-20 by design" % old)
            suffix += "+opset%d" % TARGET_OPSET
        except Exception:  # left as is: onnx2ir refuses it, expected-skips says why
            model = onnx.load(os.path.join(src, "model.onnx"))

    input_names = [v.name for v in model.graph.input]
    frozen = set()
    for node in model.graph.node:
        for pos in CONST_OPERANDS.get(node.op_type, []):
            if pos < len(node.input) and node.input[pos] in input_names:
                frozen.add(node.input[pos])
    if frozen:
        suffix += "+const"
    dst = os.path.join(out, name + suffix)
    os.makedirs(dst, exist_ok=True)
    kept = 0
    for i, vin in enumerate(input_names):
        path = os.path.join(data, "input_%d.pb" % i)
        if vin in frozen:
            tp = onnx.TensorProto()
            with open(path, "rb") as f:
                tp.ParseFromString(f.read())
            tp.name = vin
            model.graph.initializer.append(tp)
        else:
            shutil.copyfile(path, os.path.join(dst, "input_%d.pb" % kept))
            kept += 1
    if frozen:
        keep = [v for v in model.graph.input if v.name not in frozen]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        fed = ", ".join(n for n in input_names if n in frozen)
        changes.append("graph inputs %s made initializers with the test's values" % fed)
        why.append("%s fed as graph input%s: onnx2ir requires constant shape operands by design"
                   % (fed, "s" if len(frozen) > 1 else ""))
    onnx.save(model, os.path.join(dst, "model.onnx"))
    for f in sorted(os.listdir(data)):
        if f.startswith("output_"):
            shutil.copyfile(os.path.join(data, f), os.path.join(dst, f))
    if not changes:
        return [name]
    notes.append("%s\t%s\n" % (name + suffix, "; ".join(changes)))
    variants.append("%s\t%s\t%s\n" % (name, name + suffix, "; ".join(why)))
    copy_upstream(src, os.path.join(out, name))
    return [name, name + suffix]


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, "..", "shared", "testdata", "onnx-node")
    out = os.path.join(top, "tests", "conformance", "node")
    # PROVENANCE.md is hand-written: keep it across a re-vendoring.
    provenance = None
    if os.path.exists(os.path.join(out, "PROVENANCE.md")):
        with open(os.path.join(out, "PROVENANCE.md")) as f:
            provenance = f.read()
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    if provenance is not None:
        with open(os.path.join(out, "PROVENANCE.md"), "w") as f:
            f.write(provenance)
    shutil.copyfile(os.path.join(src, "LICENSE"), os.path.join(out, "LICENSE"))
    notes = []
    variants = []
    op_of = []
    for name in sorted(os.listdir(src)):
        model_path = os.path.join(src, name, "model.onnx")
        if not os.path.exists(model_path):
            continue
        ops = [n.op_type for n in onnx.load(model_path).graph.node]
        tested = [op for op in ops if op in OPS]
        if tested:
            for written in vendor_one(os.path.join(src, name), out, notes, variants):
                op_of.append("%s\t%s\n" % (written, tested[0]))
    with open(os.path.join(out, "MODIFIED.tsv"), "w") as f:
        f.write("# test\tchange (made by tests/conformance/vendor.py)\n")
        f.writelines(notes)
    # Upstream test, its changed variant, why onnx2ir refuses the upstream form.
    with open(os.path.join(out, "VARIANTS.tsv"), "w") as f:
        f.write("# upstream test\tvariant\twhy the upstream form is out of scope\n")
        f.writelines(variants)
    # The op each test is counted under in the runner's per-op table.
    with open(os.path.join(out, "OPS.tsv"), "w") as f:
        f.write("# test\top\n")
        f.writelines(op_of)


if __name__ == "__main__":
    main()
