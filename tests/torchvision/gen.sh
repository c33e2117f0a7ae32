#!/bin/sh
# Generates the big torchvision test models (tests/fixtures/gen/make_torchvision.py
# big) into OUTDIR (default build/torchvision), once: a stamp file records a
# finished run and the models are regenerated only when the generator script
# is newer than the stamp.  Used by `make torchvision-fixtures` (a
# prerequisite of `make check`) and by tests/cli/torchvision.bats, which calls
# it lazily when the models are missing.
#
# Exit status: 0 models present; 3 /usr/bin/python3 cannot import
# torch/torchvision (the note is printed, the tests skip); 1 generation failed.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/torchvision}
gen=$top/tests/fixtures/gen/make_torchvision.py
stamp=$out/.stamp
py=/usr/bin/python3

fresh() { [ -f "$stamp" ] && [ ! "$gen" -nt "$stamp" ]; }

fresh && exit 0
if ! "$py" -c 'import torch, torchvision, onnx, numpy' >/dev/null 2>&1; then
	echo "torchvision models not generated: /usr/bin/python3 cannot import torch/torchvision (make deps QPIPE_DEPS_PYTHON=1)"
	exit 3
fi
mkdir -p "$out"
# Several test runs may start at once (make check, a bats run): one
# generates, the others wait for it and then find the stamp.
exec 9>"$out/.lock"
flock 9
fresh && exit 0
rm -f "$stamp"
echo "generating torchvision test models into $out (about 90 s of CPU)" >&2
"$py" "$gen" "$out" big >"$out/gen.log" 2>&1 || {
	echo "make_torchvision.py failed; see $out/gen.log" >&2
	tail -n 5 "$out/gen.log" >&2
	exit 1
}
touch "$stamp"
