#!/bin/sh
# Peak resident memory of onnx2ir on a model, against the model's file size
# (docs/performance.md; issue 4 asks for less than 2x on ResNet-50).
#
#   bench/onnx2ir_memory.sh [ONNX2IR] [MODEL.onnx]
#
# Defaults: bin/onnx2ir and build/torchvision/resnet50_opset17.onnx (made
# by tests/torchvision/gen.sh; `make bench` runs both).  Needs GNU time
# (/usr/bin/time -v).  Prints file size, peak RSS and their ratio; exits 1
# when the ratio is 2 or more.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:-$top/bin/onnx2ir}
model=${2:-$top/build/torchvision/resnet50_opset17.onnx}
limit=2

if [ ! -f "$model" ]; then
	echo "bench: $model is missing; generate it with tests/torchvision/gen.sh (needs torch/torchvision)" >&2
	exit 1
fi
if [ ! -x /usr/bin/time ]; then
	echo "bench: /usr/bin/time is missing (Debian package time)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/time -v "$tool" -q "$model" -o "$tmp/m.ir" 2>"$tmp/time" || {
	cat "$tmp/time" >&2
	exit 1
}
size=$(stat -c %s "$model")
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time")
secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time")
awk -v size="$size" -v rss="$rss_kb" -v secs="$secs" -v limit="$limit" -v name="$(basename "$model")" 'BEGIN {
	ratio = rss * 1024 / size
	printf "onnx2ir %s: file %.1f MB, peak RSS %.1f MB, ratio %.2f (limit %d), wall %s\n",
		name, size / 1e6, rss * 1024 / 1e6, ratio, limit, secs
	exit ratio < limit ? 0 : 1
}'
