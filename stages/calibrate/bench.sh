#!/bin/sh
# make bench-calibrate: peak memory of calibrate for 100 vs 2000 images on
# MobileNetV2 (must agree within 10%: memory does not grow with the data
# set), and throughput with 1 and 2 threads.  Prints a table; exit 1 if the
# memory check fails.  Usage: bench.sh BIN BUILD
set -eu
BIN=$1
BUILD=$2
PY=/usr/bin/python3
W=$BUILD/bench-calibrate
mkdir -p "$W"
W=$(cd "$W" && pwd)

# MobileNetV2: the torchvision export tests/fixtures/gen/make_torchvision.py
# writes, else an export here (random weights: throughput and memory do not
# depend on them).
model=
for d in "$BUILD/torchvision" build/torchvision; do
	[ -f "$d/mobilenet_v2_opset13.onnx" ] && { model=$d/mobilenet_v2_opset13.onnx; break; }
done
if [ -z "$model" ]; then
	model=$W/mobilenet_v2.onnx
	[ -f "$model" ] || "$PY" -c "
import torch, torchvision
m = torchvision.models.mobilenet_v2().eval()
torch.onnx.export(m, torch.zeros(1, 3, 224, 224), '$model', opset_version=13)
" || { echo "bench-calibrate: needs MobileNetV2: /usr/bin/python3 with torch and torchvision" >&2; exit 1; }
fi
"$BIN/onnx2ir" "$model" -o "$W/mnv2.ir"
[ -f "$W/img/img19.png" ] || "$PY" stages/calibrate/bench_images.py "$W/img"
# list files of 100 and 2000 entries over the 20 images (each entry is
# decoded, crop-resized to 224x224 and run)
i=0
while [ $i -lt 100 ]; do
	ls "$W"/img/*.png
	i=$((i + 1))
done | head -n 2000 > "$W/l2000.txt"
head -n 100 "$W/l2000.txt" > "$W/l100.txt"

# run N THREADS: prints "wall_s user+sys_s peak_kb"
run() {
	/usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" \
		"$BIN/calibrate" -q "$W/mnv2.ir" --data "$W/l$1.txt" --resize crop \
		--mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --threads "$2" -o "$W/out.ir"
	awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$W/time.txt"
}

set -- $(run 100 1); w1=$1 c1=$2 m1=$3
set -- $(run 100 2); w2=$1 c2=$2 m2=$3
set -- $(run 2000 2); w3=$1 c3=$2 m3=$3
echo "calibrate on MobileNetV2 (224x224 PNGs, crop-resized; $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg))"
printf "%-8s %-8s %10s %10s %12s %14s\n" images threads wall_s cpu_s images/s peak_RSS_MiB
# one row: IMAGES THREADS WALL CPU PEAK_KB (awk: bc is not in the base image)
row() {
	awk -v n="$1" -v t="$2" -v w="$3" -v c="$4" -v m="$5" \
		'BEGIN { printf "%-8s %-8s %10s %10s %12.2f %14.1f\n", n, t, w, c, n / w, m / 1024 }'
}
row 100 1 "$w1" "$c1" "$m1"
row 100 2 "$w2" "$c2" "$m2"
row 2000 2 "$w3" "$c3" "$m3"
awk -v a="$m3" -v b="$m2" 'BEGIN {
	r = a / b
	printf "peak RSS 2000 / 100 images: %.3f ", r
	if (r <= 1.10 && r >= 0.90) { print "(within 10%: ok)"; exit 0 }
	print "(NOT within 10%)"; exit 1
}'
