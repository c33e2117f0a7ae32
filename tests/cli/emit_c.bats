#!/usr/bin/env bats
# emit --format c: the device binary as a C array and a header that firmware
# compiles with runtime/ alone (docs/man/emit.md).  The key properties: the
# array holds exactly emit --format bin's bytes, and a C99 program built from
# model.c + runtime/*.c (nothing from lib/) reproduces simulate byte for byte.
load test_helper.bash

OPS="$FIXTURES/lower"

lowered() {   # lowered MODEL.onnx CALIB.npy -> q.ir low.ir
	onnx2ir "$1" -o f.ir &&
	calibrate -q --data "$2" f.ir -o f.cal.ir &&
	quantize -q --tpc "$QPIPE_TOP/tpc/int8.json" f.cal.ir -o q.ir &&
	lower q.ir -o low.ir
}

# array_bytes FILE.c SYM OUT.bin: the initializer of SYM[] as raw bytes.
array_bytes() {
	"$PY" - "$1" "$2" "$3" <<'PY'
import re, sys
src, sym, out = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
m = re.search(r'const unsigned char ' + re.escape(sym) + r'\[[A-Z0-9_]*\] = \{(.*?)\};', src, re.S)
if not m:
    sys.exit("no array %s in %s" % (sym, sys.argv[1]))
body = m.group(1)
vals = re.findall(r'0x([0-9a-f]{2}),', body)
if len(re.sub(r'0x[0-9a-f]{2},|\s', '', body)):
    sys.exit("unexpected text in the initializer")
open(out, 'wb').write(bytes(int(v, 16) for v in vals))
PY
}

# The firmware side: model.h + qp_runtime.h only, a static arena sized by
# MODEL_ARENA_SIZE, raw float32 samples (every input, in the binary's layout)
# on stdin, raw float32 outputs on stdout.
write_prog() {
	cat > prog.c <<'C'
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "qp_runtime.h"

#define MAX_IO 8
#define POOL_FLOATS (1L << 18)

static unsigned char arena[MODEL_ARENA_SIZE];
static float pool[POOL_FLOATS];

int main(void)
{
	const void *in[MAX_IO];
	void *out[MAX_IO];
	size_t in_bytes[MAX_IO], out_bytes[MAX_IO];
	long used = 0;
	unsigned i, runs = 0;
	qp_io_info info;
	qp_model m;
	int st;

	if ((uintptr_t)model % 16 != 0) {
		fputs("prog: model[] is not 16-byte aligned\n", stderr);
		return 1;
	}
	st = qp_model_open(&m, model, model_len);
	if (st != QP_OK || qp_arena_size(&m) > sizeof arena ||
	    m.n_inputs > MAX_IO || m.n_outputs > MAX_IO) {
		fprintf(stderr, "prog: cannot open the model: %s\n", qp_status_str(st));
		return 1;
	}
	for (i = 0; i < m.n_inputs + m.n_outputs; i++) {
		int isin = i < m.n_inputs;
		unsigned k = isin ? i : i - m.n_inputs;

		st = isin ? qp_model_input(&m, k, &info) : qp_model_output(&m, k, &info);
		if (st != QP_OK || used + (long)info.nbytes / 4 > POOL_FLOATS)
			return 1;
		if (isin) {
			in[k] = pool + used;
			in_bytes[k] = info.nbytes;
		} else {
			out[k] = pool + used;
			out_bytes[k] = info.nbytes;
		}
		used += (long)(info.nbytes + 3) / 4;
	}
	for (;; runs++) {
		for (i = 0; i < m.n_inputs; i++) {
			size_t got = fread((void *)in[i], 1, in_bytes[i], stdin);

			if (got == 0 && i == 0 && feof(stdin))
				return runs ? 0 : 1;
			if (got != in_bytes[i]) {
				fputs("prog: short input\n", stderr);
				return 1;
			}
		}
		st = qp_run(&m, arena, in, out);
		if (st != QP_OK)
			return 1;
		for (i = 0; i < m.n_outputs; i++)
			if (fwrite(out[i], 1, out_bytes[i], stdout) != out_bytes[i])
				return 1;
	}
}
C
}

@test "emit --help lists the bin and c formats and --name" {
	run emit --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--format FORMAT"*"bin"*" c "* ]]
	[[ "$output" == *"--name SYM"* ]]
}

@test "emit --format c: the array holds exactly the bytes of emit --format bin" {
	need_numpy
	lowered "$OPS/ops.onnx" "$OPS/ops.x.npy"
	emit low.ir -o m.bin
	emit --format c low.ir -o model.c
	[ -f model.h ]
	array_bytes model.c model arr.bin
	cmp arr.bin m.bin
	grep -qx "#define MODEL_LEN $(wc -c < m.bin)UL" model.h
	grep -qx 'extern const unsigned char model\[MODEL_LEN\];' model.h
	grep -qx 'extern const unsigned long model_len;' model.h
	grep -qx "#define MODEL_ARENA_SIZE $(simulate --info m.bin | sed -n 's/^arena_size //p')UL" model.h
}

@test "emit --format c: a C99 program on runtime/ alone reproduces simulate byte for byte (fashion-mnist)" {
	[ -f "$EXAMPLE/model.onnx" ] && [ -f "$EXAMPLE/calib.npy" ] || skip "examples/fashion-mnist not built"
	need_numpy
	command -v cc >/dev/null || skip "no cc"
	lowered "$EXAMPLE/model.onnx" "$EXAMPLE/calib.npy"
	emit low.ir -o m.bin
	emit --format c low.ir -o model.c
	write_prog
	cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$QPIPE_TOP/runtime" \
		model.c prog.c "$QPIPE_TOP"/runtime/*.c -lm -o prog
	# Five images of the reference input, (N, 1, 28, 28) NCHW float32 as the
	# binary records its input; the model runs one sample at a time.
	"$PY" -c 'import sys, numpy as np
x = np.load(sys.argv[1])[:5].astype("<f4")
np.save("x.npy", x); x.tofile("x.raw")' "$EXAMPLE/ref-input.npy"
	./prog < x.raw > y.raw
	simulate m.bin --input x.npy -o sim.npy
	"$PY" -c 'import numpy as np
y = np.load("sim.npy"); assert y.dtype == np.float32 and y.shape[0] == 5, y.shape
open("sim.raw", "wb").write(y.astype("<f4").tobytes())'
	[ "$(wc -c < y.raw)" -eq 200 ]   # 5 samples x 10 classes x 4 bytes
	cmp y.raw sim.raw
}

@test "emit --format c: model.c also compiles as C11 (the _Alignas spelling)" {
	command -v cc >/dev/null || skip "no cc"
	lowered "$OPS/ops.onnx" "$OPS/ops.x.npy"
	emit --format c low.ir -o model.c
	cc -std=c11 -pedantic -Wall -Wextra -Werror -c model.c -o model.o
}

@test "emit --format c names the header and the symbol after -o, or --name" {
	need_numpy
	lowered "$OPS/ops.onnx" "$OPS/ops.x.npy"
	emit low.ir -o m.bin
	mkdir out
	emit --format c low.ir -o out/my-model.v2.c
	[ -f out/my-model.v2.h ]
	grep -qx '#include "my-model.v2.h"' out/my-model.v2.c
	grep -qx 'extern const unsigned char my_model_v2\[MY_MODEL_V2_LEN\];' out/my-model.v2.h
	array_bytes out/my-model.v2.c my_model_v2 a.bin
	cmp a.bin m.bin
	emit --format c low.ir -o 3x.c
	grep -q 'extern const unsigned char model_3x\[' 3x.h
	emit --format c low.ir -o int.c
	grep -q 'extern const unsigned char int_\[' int.h
	emit --format c --name net low.ir -o out/x.c
	[ -f out/x.h ]
	grep -qx 'extern const unsigned long net_len;' out/x.h
	grep -qx 'const unsigned long net_len = NET_LEN;' out/x.c
}

@test "emit --format c is deterministic" {
	lowered "$OPS/ops.onnx" "$OPS/ops.x.npy"
	emit --format c low.ir -o a.c
	emit --format c --name a < low.ir -o b.c
	cmp a.h b.h
	cmp a.c <(sed 's/^#include "b.h"$/#include "a.h"/' b.c)
}

@test "emit --format c refuses standard output and bad names (usage, exit 2)" {
	lowered "$OPS/ops.onnx" "$OPS/ops.x.npy"
	run -2 --separate-stderr emit --format c low.ir
	[ "${stderr_lines[0]}" = "emit: --format c writes two files (NAME.c and NAME.h); give -o NAME.c" ]
	run -2 --separate-stderr emit --format c low.ir -o -
	run -2 --separate-stderr emit --format c --name 9lives low.ir -o m.c
	[[ "${stderr_lines[0]}" == "emit: --name '9lives' is not a usable C identifier"* ]]
	run -2 emit --format c --name static low.ir -o m.c
	run -2 emit --format c --name a-b low.ir -o m.c
	run -2 --separate-stderr emit --name net low.ir -o m.bin
	[ "${stderr_lines[0]}" = "emit: --name applies only to --format c" ]
	[ ! -e m.c ] && [ ! -e m.h ] && [ ! -e m.bin ]
}

@test "emit --format c leaves neither file when either cannot be written" {
	lowered "$OPS/ops.onnx" "$OPS/ops.x.npy"
	run -1 --separate-stderr emit --format c q.ir -o m.c
	[ "$stderr" = "emit: q.ir: not lowered; run lower first" ]
	[ ! -e m.c ] && [ ! -e m.h ]
	# The header's place is taken by a directory: no .c either.
	mkdir m.h
	run -1 --separate-stderr emit --format c low.ir -o m.c
	[ "$stderr" = "emit: m.h: cannot write 'm.h': is a directory" ]
	[ ! -e m.c ]
	# An earlier pair is kept as it was, with no temporary files beside it.
	rmdir m.h
	echo old > m.c
	echo old > m.h
	run -1 emit --format c q.ir -o m.c
	[ "$(cat m.c m.h)" = "$(printf 'old\nold')" ]
	[ "$(ls -A)" = "$(printf '%s\n' f.cal.ir f.ir low.ir m.c m.h q.ir | sort)" ] ||
		{ ls -A; false; }
}
