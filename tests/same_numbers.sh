#!/usr/bin/env bash
# same_numbers.sh [BASE]: a refactoring changed no number.
#
# Builds BASE (a commit; default: the one before issue 20's refactoring) in a
# scratch tree, then runs every model we have through the whole pipeline with
# the old and the new binaries: float irrun, calibrate, quantize (TPC
# tpc/int8.json), fake-quant irrun, lower, irrun on the lowered IR, emit and
# simulate, each build with its own tree's tpc/int8.json.  Every device
# binary and every output .npy must be byte-identical
# (IR files are not compared: their history records the command line).
#
# Models: tests/fixtures/lower and tests/fixtures/onnx (ONNX with an input
# .npy), examples/fashion-mnist (when its model is built), the Keras files of
# tests/fixtures/keras and ../shared/testdata/keras.
#
# A model that now gets past a stage where BASE stopped (an op added since)
# is listed as "further", not as a difference: all it shares with BASE
# must still be identical.  Prints one line per model and result that
# differs and ends with "N models (...), N identical, N differ"; exit 1 when
# any differs.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
base=${1:-9a74c0056daf}   # the commit before issue 20
base=${QPIPE_SAME_BASE:-$base}
work=$(mktemp -d "${TMPDIR:-/tmp}/same_numbers.XXXXXX")
trap 'rm -rf "$work"' EXIT

git -C "$top" rev-parse --verify -q "$base^{commit}" >/dev/null ||
	{ echo "same_numbers: unknown commit '$base'"; exit 2; }
mkdir -p "$work/old"
git -C "$top" archive "$base" | tar -x -C "$work/old"
make -C "$work/old" -j2 all >"$work/old.build" 2>&1 ||
	{ echo "same_numbers: building $base failed"; tail "$work/old.build"; exit 1; }
make -C "$top" -j2 all >"$work/new.build" 2>&1 ||
	{ echo "same_numbers: building the work tree failed"; tail "$work/new.build"; exit 1; }

# pipeline BIN OUT MODEL INPUT: runs every stage it can; each stage's result
# file (or ".failed") lands in OUT.  The IR files are then removed.
pipeline() {
	stages "$@"
	rm -f "$2"/*.ir
}

stages() {
	local b=$1 o=$2 m=$3 x=$4
	mkdir -p "$o"
	case $m in
	*.onnx) "$b/onnx2ir" -q "$m" -o "$o/f.ir" ;;
	*) "$b/keras2ir" -q "$m" -o "$o/f.ir" ;;
	esac 2>/dev/null || { touch "$o/import.failed"; return; }
	"$b/irrun" -q "$o/f.ir" --input "$x" -o "$o/float.npy" 2>/dev/null || touch "$o/float.failed"
	"$b/calibrate" -q --data "$x" "$o/f.ir" -o "$o/cal.ir" 2>/dev/null || { touch "$o/calibrate.failed"; return; }
	"$b/quantize" -q --tpc "$b/../tpc/int8.json" "$o/cal.ir" -o "$o/q.ir" 2>/dev/null || { touch "$o/quantize.failed"; return; }
	"$b/irrun" -q "$o/q.ir" --input "$x" -o "$o/fakequant.npy" 2>/dev/null || touch "$o/fakequant.failed"
	"$b/lower" "$o/q.ir" -o "$o/low.ir" 2>/dev/null || { touch "$o/lower.failed"; return; }
	"$b/irrun" -q "$o/low.ir" --input "$x" -o "$o/lowered.npy" 2>/dev/null || touch "$o/lowered.failed"
	"$b/emit" "$o/low.ir" -o "$o/model.bin" 2>/dev/null || { touch "$o/emit.failed"; return; }
	"$b/simulate" "$o/model.bin" --input "$x" -o "$o/simulate.npy" 2>/dev/null || touch "$o/simulate.failed"
}

models=()
for m in "$top"/tests/fixtures/lower/*.onnx "$top"/tests/fixtures/onnx/*.onnx; do
	x=${m%.onnx}.x.npy
	[ -f "$x" ] && models+=("$m|$x")
done
[ -f "$top/examples/fashion-mnist/model.onnx" ] &&
	models+=("$top/examples/fashion-mnist/model.onnx|$top/examples/fashion-mnist/calib.npy")
for m in "$top"/tests/fixtures/keras/*.h5 "$top"/tests/fixtures/keras/*.keras \
	 "$top"/../shared/testdata/keras/*.h5 "$top"/../shared/testdata/keras/*.hdf5 \
	 "$top"/../shared/testdata/keras/*.keras; do
	[ -f "$m.input.npy" ] && models+=("$m|$m.input.npy")
done

# compare OLD NEW: every result both builds made is byte-identical, and the
# new build stops at no stage the old one passed.  Prints what differs;
# sets further=1 when the new build gets past a stage the old one failed
# (an op added since BASE), which is not a change of numbers.
compare() {
	local f bad=0
	further=0
	for f in "$1"/*; do
		f=${f##*/}
		[ "$f" = "*" ] && continue
		if [ ! -e "$2/$f" ] && [ "${f%.failed}" != "$f" ]; then
			further=1
		elif [ -e "$2/$f" ]; then
			cmp -s "$1/$f" "$2/$f" || { echo "$f differs"; bad=1; }
		else
			echo "$f only from the old build"; bad=1
		fi
	done
	return $bad
}

n=0 same=0 differ=0 went_further=0
for entry in "${models[@]}"; do
	m=${entry%%|*} x=${entry#*|}
	id=$n
	n=$((n + 1))
	pipeline "$work/old/bin" "$work/run/$id/old" "$m" "$x"
	pipeline "$top/bin" "$work/run/$id/new" "$m" "$x"
	if compare "$work/run/$id/old" "$work/run/$id/new" >"$work/diff"; then
		same=$((same + 1))
		if [ "$further" -eq 1 ]; then
			went_further=$((went_further + 1))
			echo "further: ${m#"$top"/}: now reaches $(cd "$work/run/$id/new" && ls | tr '\n' ' ')"
		fi
	else
		differ=$((differ + 1))
		sed "s|^|differs: ${m#"$top"/}: |" "$work/diff"
	fi
done
bins=$(find "$work/run" -path '*/new/model.bin' | wc -l)
echo "$n models ($bins reach a device binary, $went_further further than before), $same identical, $differ differ (base $base)"
[ "$differ" -eq 0 ]
