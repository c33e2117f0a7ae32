# Shared setup for the CLI tests: bin/ on PATH, a scratch directory per test,
# and the bats-support/bats-assert helpers when installed.
bats_require_minimum_version 1.5.0

QPIPE_TOP=${QPIPE_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
QPIPE_BIN=${QPIPE_BIN:-$QPIPE_TOP/bin}
PATH="$QPIPE_BIN:$PATH"
FIXTURES="$QPIPE_TOP/tests/fixtures"
SHARED="$QPIPE_TOP/../shared"
EXAMPLE="$QPIPE_TOP/examples/fashion-mnist"

for lib in /usr/lib/bats/bats-support /usr/lib/bats/bats-assert /usr/lib/bats-support /usr/lib/bats-assert; do
	[ -f "$lib/load.bash" ] && load "$lib/load.bash"
done

setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/qpipe.XXXXXX")
	cd "$TMP" || return 1
}

teardown() {
	cd / && rm -rf "$TMP"
}

# Debian's python3 (the first python3 on PATH may be another interpreter).
PY=/usr/bin/python3

need_numpy() {
	"$PY" -c 'import numpy' 2>/dev/null || skip "needs /usr/bin/python3 with numpy (make deps)"
}

# npy_close ACTUAL.npy EXPECTED.npy TOL: same shape, max |a - b| <= TOL
# (prints the difference, so a failing test shows it).
npy_close() {
	"$PY" - "$1" "$2" "$3" <<'PY'
import sys, numpy as np
a, b, tol = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
if a.shape != b.shape:
    sys.exit("shape %s, expected %s" % (a.shape, b.shape))
d = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
print("max abs diff %g" % d)
sys.exit(0 if d <= tol else 1)
PY
}

# check_keras MODEL: keras2ir MODEL, irrun on MODEL.input.npy, the output
# within 1e-4 of MODEL.output.npy (a reference qpipe did not compute).
check_keras() {
	local m=$1
	need_numpy
	[ -e "$m.input.npy" ] && [ -e "$m.output.npy" ]
	run -0 keras2ir "$m" -o m.ir
	run -0 irrun m.ir --input "$m.input.npy" -o y.npy
	run -0 npy_close y.npy "$m.output.npy" 1e-4
}

# int8_pipeline MODEL.onnx DATA: the default int8 pipeline, in the current
# folder: f.ir, f.cal.ir, q.ir (tpc/int8.json), low.ir, m.bin, and low.json
# (irdump --json of low.ir).
int8_pipeline() {
	onnx2ir "$1" -o f.ir &&
	calibrate -q --data "$2" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir &&
	emit low.ir -o m.bin &&
	irdump --json low.ir > low.json
}

# one_step Q.ir FQ.npy LOW.npy [FQ.npy LOW.npy ...]: for each graph output
# of the quantized IR Q.ir, in order, the fraction of elements where LOW
# (irrun on the lowered IR) is within one step of FQ (irrun on Q.ir, fake
# quantization), the step being that output's own scale; prints one line per
# output and fails unless every fraction is at least 99%.
one_step() {
	local q=$1
	shift
	irdump --json "$q" >"$q.json" || return 1
	"$PY" - "$q.json" "$@" <<'PY'
import json, sys, numpy as np
h = json.load(open(sys.argv[1]))
outs = [o["name"] for o in h["graph"]["outputs"]]
files = sys.argv[2:]
if len(files) != 2 * len(outs):
    sys.exit("%d outputs, %d files" % (len(outs), len(files)))
ok = True
for i, name in enumerate(outs):
    scale = [t for t in h["tensors"] if t["name"] == name][0]["quant"]["scale"][0]
    a, b = np.load(files[2 * i]), np.load(files[2 * i + 1])
    if a.shape != b.shape or a.size == 0:
        sys.exit("output '%s': shapes %s and %s" % (name, a.shape, b.shape))
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    within = float(np.mean(d <= scale * (1 + 1e-4)))
    print("'%s' within one step (%.4g) on %.2f%% of %d, max %.2f steps"
          % (name, scale, 100 * within, a.size, d.max() / scale))
    ok = ok and within >= 0.99
sys.exit(0 if ok else 1)
PY
}
