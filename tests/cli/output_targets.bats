#!/usr/bin/env bats
# Every tool that writes a file, against every kind of thing -o can name
# (lib/base/io.c; docs/man/*.md "Output"): a FIFO and a socket get the bytes in
# place, a device node is written and never replaced, a symbolic link is
# followed, an existing file keeps its mode and owner, a 255-byte name
# works, a full file system leaves the old file intact, and an empty path is
# a usage error.  Device nodes are made with mknod in the scratch folder,
# never the machine's own.
load test_helper.bash

OPS="$FIXTURES/lower"
WRITERS="onnx2ir keras2ir calibrate quantize lower emit irrun simulate idx2npy"

# The inputs of every writer, made once: the float, calibrated, quantized
# and lowered IR and the device binary of the small ops model.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	onnx2ir "$OPS/ops.onnx" -o "$d/f.ir" &&
	calibrate -q --data "$OPS/ops.x.npy" "$d/f.ir" -o "$d/cal.ir" &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" "$d/cal.ir" -o "$d/q.ir" &&
	lower "$d/q.ir" -o "$d/low.ir" &&
	emit "$d/low.ir" -o "$d/m.bin"
}

# write WRITER OUT: runs WRITER with its usual input and -o OUT.  Inputs are
# absolute paths, so the same command run in two folders writes the same
# bytes (the IR's history records the command line).
write() {
	local d=$BATS_FILE_TMPDIR
	case $1 in
	onnx2ir) onnx2ir "$OPS/ops.onnx" -o "$2" ;;
	keras2ir) keras2ir "$FIXTURES/keras/k2_cnn.h5" -o "$2" ;;
	calibrate) calibrate -q --data "$OPS/ops.x.npy" "$d/f.ir" -o "$2" ;;
	quantize) quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" "$d/cal.ir" -o "$2" ;;
	lower) lower "$d/q.ir" -o "$2" ;;
	emit) emit "$d/low.ir" -o "$2" ;;
	irrun) irrun "$d/f.ir" --input "$OPS/ops.x.npy" -o "$2" ;;
	simulate) simulate "$d/m.bin" --input "$OPS/ops.x.npy" -o "$2" ;;
	idx2npy) idx2npy "$FIXTURES/idx/images-2x2x3.idx" -o "$2" ;;
	esac
}

# expected WRITER NAME: the bytes WRITER writes to a plain file NAME, in
# ./plain/NAME.
expected() {
	mkdir -p plain && (cd plain && write "$1" "$2")
}

# no_temp DIR...: no temporary ".NAME.XXXXXX" file was left behind.
no_temp() {
	local left
	left=$(find "$@" -maxdepth 1 -name '.*.??????' | head -n 3)
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
}

@test "a FIFO named by -o gets the whole output and stays a FIFO" {
	for w in $WRITERS; do
		expected "$w" out
		rm -f out && mkfifo out
		# A writer that renamed over the FIFO would leave this reader blocked.
		timeout 20 cat out >got &
		run write "$w" out
		wait
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ -p out ] || { echo "$w replaced the FIFO"; false; }
		cmp got plain/out || { echo "$w: FIFO reader got other bytes"; false; }
		no_temp .
	done
}

@test "a Unix socket named by -o gets the whole output" {
	[ -x "$PY" ] || skip "needs /usr/bin/python3 to listen on the socket"
	for w in $WRITERS; do
		expected "$w" sock
		rm -f sock got ready
		"$PY" -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.bind("sock"); s.listen(1)
open("ready", "w").close()
c, _ = s.accept(); data = b""
while True:
    b = c.recv(65536)
    if not b: break
    data += b
open("got", "wb").write(data)' &
		while [ ! -e ready ]; do sleep 0.05; done
		run write "$w" sock
		wait
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ -S sock ] || { echo "$w replaced the socket"; false; }
		cmp got plain/sock || { echo "$w: socket reader got other bytes"; false; }
	done
}

@test "a character device named by -o is written in place, never replaced" {
	if [ "$(id -u)" -eq 0 ]; then
		mknod null c 1 3 || skip "mknod is not allowed here"
		dev=$PWD/null
	else
		# Not root: the machine's /dev/null cannot be renamed over by us.
		dev=/dev/null
	fi
	for w in $WRITERS; do
		run write "$w" "$dev"
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ -c "$dev" ] || { echo "$w replaced the device node"; false; }
	done
	no_temp .
}

@test "a full device (/dev/full made with mknod) is a write error, exit 1" {
	[ "$(id -u)" -eq 0 ] || skip "mknod needs root"
	mknod full c 1 7 || skip "mknod is not allowed here"
	for w in $WRITERS; do
		run write "$w" full
		[ "$status" -eq 1 ] || { echo "$w: status $status: $output"; false; }
		[[ "$output" == *"full: "*"No space left on device"* ]] || { echo "$w: $output"; false; }
		[ -c full ] || { echo "$w replaced the device node"; false; }
	done
	no_temp .
}

@test "a symbolic link is followed: its target is replaced, in the target's folder" {
	mkdir target
	for w in $WRITERS; do
		expected "$w" link
		rm -f link target/real
		echo old >target/real
		ln -s target/real link
		run write "$w" link
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ -L link ] || { echo "$w replaced the link"; false; }
		cmp target/real plain/link || { echo "$w: the target does not hold the output"; false; }
		no_temp . target
	done
}

@test "a dangling symbolic link gets its target created" {
	mkdir target
	for w in $WRITERS; do
		rm -f link target/new
		ln -s target/new link
		run write "$w" link
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ -L link ] && [ -s target/new ] || { echo "$w: link or target wrong"; false; }
	done
}

@test "an existing file keeps its mode, and its owner when we are root" {
	for w in $WRITERS; do
		rm -f out
		echo old >out
		chmod 600 out
		[ "$(id -u)" -eq 0 ] && chown 65534:65534 out
		run write "$w" out
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ "$(stat -c %a out)" = 600 ] || { echo "$w: mode $(stat -c %a out)"; false; }
		if [ "$(id -u)" -eq 0 ]; then
			[ "$(stat -c %u:%g out)" = 65534:65534 ] ||
				{ echo "$w: owner $(stat -c %u:%g out)"; false; }
		fi
		[ "$(head -c 3 out)" != old ]
	done
}

@test "a new file gets 0666 less the umask" {
	umask 027
	for w in $WRITERS; do
		rm -f out
		run write "$w" out
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ "$(stat -c %a out)" = 640 ] || { echo "$w: mode $(stat -c %a out)"; false; }
	done
}

@test "an output name of 255 bytes works" {
	name=$(printf 'n%.0s' $(seq 251)).out
	[ ${#name} -eq 255 ]
	for w in $WRITERS; do
		rm -f "$name"
		run write "$w" "$name"
		[ "$status" -eq 0 ] || { echo "$w: $output"; false; }
		[ -s "$name" ]
		no_temp .
	done
}

@test "-o naming a directory says so, exit 1" {
	mkdir d
	for w in $WRITERS; do
		run write "$w" d
		[ "$status" -eq 1 ] || { echo "$w: status $status: $output"; false; }
		[[ "$output" == *"is a directory"* ]] || { echo "$w: $output"; false; }
	done
}

@test "-o '' is a usage error naming the empty path, for every writer" {
	for w in $WRITERS; do
		run write "$w" ''
		[ "$status" -eq 2 ] || { echo "$w: status $status: $output"; false; }
		[[ "$output" == *"''"* ]] || { echo "$w: $output"; false; }
		[[ "$output" != *": -: "* ]] || { echo "$w reports '' as '-': $output"; false; }
	done
}

@test "an input of '' is a usage error naming the empty path" {
	for t in onnx2ir keras2ir lower quantize emit irdump idx2npy; do
		case $t in
		quantize) run quantize --tpc "$QPIPE_TOP/tpc/int8.json" '' ;;
		*) run "$t" '' ;;
		esac
		[ "$status" -eq 2 ] || { echo "$t: status $status: $output"; false; }
		[[ "$output" == *"empty path ('')"* ]] || { echo "$t: $output"; false; }
	done
	run irrun --input '' "$BATS_FILE_TMPDIR/f.ir"
	[ "$status" -eq 2 ]
	[[ "$output" == *"''"* ]]
	run calibrate --data '' "$BATS_FILE_TMPDIR/f.ir" -o x.ir
	[ "$status" -eq 2 ]
	[[ "$output" == *"''"* ]]
}

@test "binary output to a terminal is a usage error; -f is offered only where it exists" {
	command -v script >/dev/null || skip "needs script(1) from bsdutils for a terminal"
	export OPS FIXTURES QPIPE_TOP BATS_FILE_TMPDIR
	for w in onnx2ir keras2ir calibrate quantize lower; do
		run script -qec "$(declare -f write); write $w -" /dev/null
		[ "$status" -eq 2 ] || { echo "$w: status $status: $output"; false; }
		[[ "$output" == *"refusing to write binary output to a terminal"* ]] || { echo "$w: $output"; false; }
		[[ "$output" != *"-f"* ]] || { echo "$w offers -f, which it lacks: $output"; false; }
	done
	for w in emit irrun simulate idx2npy; do
		run script -qec "$(declare -f write); write $w -" /dev/null
		[ "$status" -eq 2 ] || { echo "$w: status $status: $output"; false; }
		[[ "$output" == *"or -f"* ]] || { echo "$w: $output"; false; }
	done
}

@test "a full file system: exit 1, the old file intact, no temporary file left" {
	[ "$(id -u)" -eq 0 ] || skip "mounting a small tmpfs needs root"
	mkdir fs
	mount -t tmpfs -o size=64k tmpfs fs 2>/dev/null || skip "cannot mount a tmpfs here"
	echo old >fs/out
	dd if=/dev/zero of=fs/fill bs=4k 2>/dev/null || true
	fails=
	for w in $WRITERS; do
		run write "$w" fs/out
		[ "$status" -eq 1 ] && [[ "$output" == *"No space left on device"* ]] ||
			fails="$fails $w($status: $output)"
		[ "$(cat fs/out)" = old ] || fails="$fails $w(damaged the old file)"
		no_temp fs || fails="$fails $w(left a temporary file)"
	done
	umount fs
	[ -z "$fails" ] || { echo "$fails"; false; }
}
