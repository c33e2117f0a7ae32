#!/bin/sh
# int8 top-1 of the device binary (simulate) against float (irrun) on the
# Fashion-MNIST test images, for every family fixture and the example model,
# with both targets (tpc/int8.json, tpc/imx500.json); writes docs/accuracy.md
# (issue 21).
#
#   bench/accuracy.sh [-n LIMIT] [-o OUT.md] [BIN]
#
# BIN defaults to bin/.  -n LIMIT evaluates the binaries (and the float model,
# for the drop) on the first LIMIT test images only (simulate is scalar: about
# 15 ms an image for these models); 0, the default, means all 10,000.  The
# float model is always also run on all 10,000, which is what REFERENCE.json's
# PyTorch numbers use.  -o defaults to docs/accuracy.md, written at the end
# (atomically).  A stage that refuses a model is recorded in the table as the
# stage and its message, and the run goes on; the script exits 1 only when it
# cannot run at all (missing tool, data or fixtures).  Needs the Debian
# package dataset-fashion-mnist.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
limit=0
out=$top/docs/accuracy.md
while getopts n:o: opt; do
	case $opt in
	n) limit=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: bench/accuracy.sh [-n LIMIT] [-o OUT.md] [BIN]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
bin=${1:-$top/bin}
data=${QPIPE_FMNIST:-/usr/share/datasets/fashion-mnist}
images=$data/t10k-images-idx3-ubyte.gz
labels=$data/t10k-labels-idx1-ubyte.gz
fam=$top/tests/fixtures/families
ex=$top/examples/fashion-mnist

for t in onnx2ir irrun calibrate quantize lower emit simulate; do
	[ -x "$bin/$t" ] || { echo "bench: $bin/$t is missing; build qpipe first (make all)" >&2; exit 1; }
done
for f in "$images" "$labels"; do
	[ -f "$f" ] || { echo "bench: $f is missing; install the Debian package dataset-fashion-mnist" >&2; exit 1; }
done
[ -f "$fam/REFERENCE.json" ] || { echo "bench: $fam/REFERENCE.json is missing" >&2; exit 1; }

case $limit in
0) lim= ;;
*[!0-9]*) echo "bench: -n wants a number of images, not '$limit'" >&2; exit 2 ;;
*) lim="--limit $limit" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# The references: "name float qnnpack onednn better" per family, "-" where
# FX PTQ failed (REFERENCE.json has an "error" there instead of "top1").
python3 - "$fam/REFERENCE.json" >"$tmp/ref" <<'EOF'
import json, sys
models = json.load(open(sys.argv[1]))["models"]
for name, m in models.items():
    fx = m["fx_ptq"]
    t = lambda e: "%.2f" % fx[e]["top1"] if "top1" in fx.get(e, {}) else "-"
    print(name, "%.2f" % m["float_top1"], t("qnnpack"), t("onednn"), fx.get("better", "-"))
EOF

# "top-1 0.8754 (8754/10000)" -> "87.54"
pct() { awk '/^top-1 / { printf "%.2f\n", $2 * 100; found = 1 } END { exit !found }' "$1"; }

# run STAGE LOG CMD...: run one stage; on failure record "STAGE: message"
# (the tool's last line of standard error, without its "tool: file: " prefix).
run() {
	stage=$1 log=$2
	shift 2
	rc=0
	"$@" >"$log" 2>"$log.err" || rc=$?
	[ $rc -ne 0 ] || return 0
	msg=$(grep -v '^$' "$log.err" | tail -n 1 | sed 's/^[a-z0-9]*: [^ ]*: //; s/^[a-z0-9]*: //; s/|/\\|/g')
	[ -n "$msg" ] || msg="exit status $rc, no message"
	echo "$stage: $msg" >"$log.refused"
	return 1
}

# target MODEL TPC: quantize .. simulate; prints the top-1 or the refusal
target() {
	m=$1 t=$2 w=$tmp/$1.$2
	if run quantize "$w.q" "$bin/quantize" -q --tpc "$top/tpc/$t.json" "$tmp/$m.cal.ir" -o "$w.q.ir" &&
		run lower "$w.l" "$bin/lower" -q "$w.q.ir" -o "$w.low.ir" &&
		run emit "$w.e" "$bin/emit" "$w.low.ir" -o "$w.bin" &&
		run simulate "$w.s" "$bin/simulate" -q "$w.bin" --input "$images" $lim --eval "$labels" &&
		pct "$w.s"; then
		return 0
	fi
	cat "$w".*.refused
}

models=$(awk '{ print $1 }' "$tmp/ref")
[ -f "$ex/model.onnx" ] && models="$models example"
: >"$tmp/rows"
for m in $models; do
	if [ "$m" = example ]; then
		onnx=$ex/model.onnx calib=$ex/calib.npy ref="- - - -"
	else
		onnx=$fam/$m.onnx calib=$fam/calib.npy
		ref=$(awk -v m="$m" '$1 == m { print $2, $3, $4, $5 }' "$tmp/ref")
	fi
	echo "bench: $m" >&2
	w=$tmp/$m
	f10k=- fn=- i8=- ix=-
	if run onnx2ir "$w.i" "$bin/onnx2ir" -q "$onnx" -o "$w.ir"; then
		if run irrun "$w.f" "$bin/irrun" -q "$w.ir" --input "$images" --eval "$labels"; then
			f10k=$(pct "$w.f")
			fn=$f10k
			if [ -n "$lim" ] && run irrun "$w.fn" "$bin/irrun" -q "$w.ir" --input "$images" $lim --eval "$labels"; then
				fn=$(pct "$w.fn")
			fi
		else
			f10k=$(cat "$w.f.refused")
		fi
		if run calibrate "$w.c" "$bin/calibrate" -q --data "$calib" "$w.ir" -o "$w.cal.ir"; then
			i8=$(target "$m" int8)
			ix=$(target "$m" imx500)
		else
			i8=$(cat "$w.c.refused") ix=$i8
		fi
	else
		f10k=$(cat "$w.i.refused") i8=$f10k ix=$f10k
	fi
	# one line per model, fields separated by tabs (refusals contain spaces)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$f10k" "$fn" "$i8" "$ix" "$ref" >>"$tmp/rows"
done
secs=$(( $(date +%s) - start ))

if [ -n "$lim" ]; then
	n=$limit nwords="the first $limit of the 10,000 Fashion-MNIST test images (\`--limit $limit\`: simulate is scalar and all 10,000 for every model and target did not fit the time budget)"
else
	n=10000 nwords="all 10,000 Fashion-MNIST test images"
fi
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || uname -s)

{
	cat <<EOF
# int8 accuracy on Fashion-MNIST

Issue 21: top-1 of each vision-family fixture (tests/fixtures/families/) and
of the example model (examples/fashion-mnist/), quantized to int8 for both
targets and run as a device binary by \`simulate\`, against the float model
run by \`irrun\`.  Generated by \`make bench-accuracy\` (bench/accuracy.sh);
do not edit by hand.

Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $os, $(uname -m), $cpu,
$(nproc) cores, qpipe $commit; the run took $((secs / 60)) min $((secs % 60)) s.

- **Pipeline:** \`onnx2ir\` → \`calibrate --data calib.npy\` (the 200 images
  of tests/fixtures/families/calib.npy; the example uses its own
  examples/fashion-mnist/calib.npy, as \`make example\` does) →
  \`quantize --tpc tpc/int8.json\` or \`--tpc tpc/imx500.json\` → \`lower\` →
  \`emit\` → \`simulate --eval\`.  All defaults; the feed reads the IDX files
  with its default scale 1/255, the preprocessing the models were trained with.
- **Images:** int8 and imx500 columns: $nwords.
  "float, N" is \`irrun\` on the same $n images, and the drops are against
  it; "float, 10k" is \`irrun\` on all 10,000, comparable with PyTorch's float
  and FX PTQ numbers from REFERENCE.json (also on all 10,000).
- **FX PTQ:** PyTorch's post-training quantization (qnnpack: per-tensor
  weights; onednn: per-channel), the better of the two engines.
- A stage that refuses the model is shown as *stage: message*.

EOF
	echo "| model | float, 10k (qpipe) | float, 10k (PyTorch) | float, N=$n (qpipe) | int8 simulate | drop | imx500 simulate | drop | FX PTQ, better engine |"
	echo "|---|---|---|---|---|---|---|---|---|"
	awk -F '\t' '
	function isnum(s) { return s ~ /^[0-9]+(\.[0-9]+)?$/ }
	function cell(s) { return isnum(s) ? s : "*" s "*" }
	function drop(q, f) { return isnum(q) && isnum(f) ? sprintf("%.2f", f - q) : "—" }
	{
		split($6, r, " ")    # float qnnpack onednn better
		fx = "—"
		if (r[4] != "-" && r[4] != "") {
			v = r[4] == "qnnpack" ? r[2] : r[3]
			fx = v " (" r[4] ")"
		}
		name = $1 == "example" ? "example (examples/fashion-mnist)" : $1
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, cell($2),
			r[1] == "-" ? "—" : r[1], cell($3), cell($4), drop($4, $3), cell($5), drop($5, $3), fx
	}' "$tmp/rows"
	cat <<EOF

Top-1 in percent; drop = float (same images) − int8, in points.
EOF
} >"$tmp/accuracy.md"
mv "$tmp/accuracy.md" "$out"
echo "bench: wrote $out ($secs s)" >&2
