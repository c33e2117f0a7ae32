/* The qpipe embeddable integer runtime (C99, no malloc, no stdio).
 *
 * Runs a device binary written by `emit` (docs/binary.md).  The caller owns
 * every byte of memory: the binary (read-only), one arena of
 * qp_arena_size() bytes for the int8 activations, and the float32 input and
 * output buffers.  Typical use:
 *
 *     qp_model m;
 *     int st = qp_model_open(&m, buf, len);      // validates everything
 *     if (st != QP_OK) fail(qp_status_str(st));
 *     static unsigned char arena[ARENA];         // >= qp_arena_size(&m)
 *     const void *in[1] = {x};  void *out[1] = {y};
 *     st = qp_run(&m, arena, in, out);
 *
 * After qp_model_open succeeds, qp_run cannot read or write out of bounds:
 * every offset, size, shape and op parameter of the binary has been
 * checked.  The binary must stay alive and unchanged while m is used.
 *
 * Requirements on the host: little-endian, two's-complement integers,
 * IEEE-754 binary32 floats; the binary's buffer 4-byte aligned (16 is
 * recommended).  qp_model_open reports QP_E_ALIGN / QP_E_HOST otherwise.
 *
 * The second half of this header is the kernel layer (qp_rt_*): the integer
 * arithmetic itself.  lib/ops/ops_int.c calls the same functions so that `irrun`
 * on a lowered IR and `simulate` on the emitted binary are bit-identical.
 */
#ifndef QP_RUNTIME_H
#define QP_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "qp_ops.h"

#define QP_BIN_VERSION_MAJOR 1
#define QP_BIN_VERSION_MINOR 0
#define QP_BIN_HEADER_SIZE 64
#define QP_BIN_TENSOR_SIZE 64
#define QP_BIN_TRAILER_SIZE 8
#define QP_BIN_ALIGN 16
#define QP_RT_MAX_RANK 8
/* Most inputs of one op record: QConcat's in_max in qp_ops.h (the others
 * take at most 3; kernels.c checks every row against it).
 * Sized for concatenations of many branches (SSD heads, Inception blocks);
 * the runtime keeps one tensor view per input on the stack while checking
 * and running an op. */
#define QP_RT_MAX_INPUTS 16

/* Status codes (qp_status_str gives a static message for each). */
enum qp_status {
	QP_OK = 0,
	QP_E_ARG,        /* NULL pointer or bad index passed by the caller */
	QP_E_HOST,       /* host is not little-endian / IEEE-754 */
	QP_E_ALIGN,      /* binary buffer not 4-byte aligned */
	QP_E_TRUNCATED,  /* shorter than its header says (or than a header) */
	QP_E_MAGIC,      /* not a qpipe device binary */
	QP_E_VERSION,    /* newer major version */
	QP_E_FLAGS,      /* unknown flags or non-zero reserved fields */
	QP_E_LENGTH,     /* total length does not match the buffer */
	QP_E_CRC,        /* checksum mismatch */
	QP_E_LAYOUT,     /* section offsets/sizes out of bounds or misaligned */
	QP_E_TENSOR,     /* bad tensor record (dtype, rank, size, location) */
	QP_E_IO,         /* graph inputs/outputs missing or duplicated */
	QP_E_OP,         /* unknown opcode or bad op record */
	QP_E_PARAM,      /* op parameters or shapes inconsistent */
	QP_E_STATUS_COUNT
};

/* Static, lower-case, one-line message for a status code. */
const char *qp_status_str(int status);

/* Element types of tensors in the binary. */
enum qp_rt_dtype { QP_RT_INT8 = 1, QP_RT_INT32 = 2, QP_RT_FLOAT32 = 3 };
/* Where a tensor's bytes live. */
enum qp_rt_loc { QP_LOC_ARENA = 0, QP_LOC_WEIGHTS = 1, QP_LOC_INPUT = 2,
		 QP_LOC_OUTPUT = 3 };
/* How the user lays out an input/output (the graph computes in NCHW). */
enum qp_rt_layout { QP_LAYOUT_NCHW = 0, QP_LAYOUT_NHWC = 1 };

/* A validated binary: pointers into the caller's buffer, nothing owned. */
typedef struct qp_model {
	const unsigned char *base;
	size_t len;
	uint32_t n_tensors, n_ops, n_inputs, n_outputs, arena_size;
	const unsigned char *tensors;   /* n_tensors records */
	const unsigned char *ops;       /* op records, ops_len bytes */
	uint32_t ops_len;
	const unsigned char *weights;   /* weights section */
	uint32_t weights_len;
} qp_model;

/* Validates a whole binary: host, alignment, length, magic, version,
 * flags, CRC-32C, every section bound, every tensor record, every op's
 * parameters and shapes.  Returns QP_OK or the first problem found. */
int qp_model_check(const void *buf, size_t len);
/* qp_model_check, then fills m (on failure m is zeroed). */
int qp_model_open(qp_model *m, const void *buf, size_t len);
/* Bytes of arena qp_run needs (no alignment requirement: int8 only). */
size_t qp_arena_size(const qp_model *m);

/* Shape and quantization of graph input/output i, for the caller to size
 * its buffers.  dims are in the canonical (NCHW) order; layout says how
 * the user's data is laid out. */
typedef struct qp_io_info {
	int dtype;                      /* enum qp_rt_dtype; FLOAT32 in v0 */
	int layout;                     /* enum qp_rt_layout */
	int rank;
	int32_t dims[QP_RT_MAX_RANK];
	uint32_t numel;
	uint32_t nbytes;
} qp_io_info;

int qp_model_input(const qp_model *m, uint32_t i, qp_io_info *info);
int qp_model_output(const qp_model *m, uint32_t i, qp_io_info *info);

/* Runs the model once.  inputs[i] points at graph input i (float32,
 * canonical NCHW order, qp_model_input(i).nbytes bytes); outputs[i] receives
 * graph output i.  arena: qp_arena_size(m) writable bytes; its contents on
 * entry do not matter.  Returns QP_OK, or QP_E_ARG for NULL pointers. */
int qp_run(const qp_model *m, void *arena, const void *const *inputs,
	   void *const *outputs);

/* ---- kernel layer, shared with lib/ops/ops_int.c ---------------------------- */

/* Opcodes of the op records (docs/binary.md section 5 lists the params),
 * from the op list in qp_ops.h: QP_OP_QCONV = 3, ...  The list is in
 * opcode order, so QP_OP_COUNT is one past the last. */
#define QP_RT_OP_ENUM(id, name, code, in_min, in_max, n_out, kernel, shape, params) \
	QP_OP_##id = code,
enum qp_rt_opcode {
	QP_RT_OPS(QP_RT_OP_ENUM)
	QP_OP_COUNT
};
#undef QP_RT_OP_ENUM

/* One operand as the kernels see it. */
typedef struct qp_rt_tensor {
	int dtype;                      /* enum qp_rt_dtype */
	int rank;
	int32_t dims[QP_RT_MAX_RANK];
	float scale;                    /* per-tensor activations; else unused */
	int32_t zero_point;
	void *data;                     /* inputs are only read */
} qp_rt_tensor;

/* Checks that an op's operands (dtype, rank, dims) and its parameter
 * vector agree; data pointers are not looked at.  in[i] may be NULL only
 * for an omitted optional input (QCONV/QGEMM bias).  Returns QP_OK or
 * QP_E_OP / QP_E_PARAM. */
int qp_rt_op_check(int opcode, const qp_rt_tensor *const *in, int n_in,
		   const qp_rt_tensor *const *out, int n_out,
		   const int32_t *params, int n_params);
/* Runs an op that passed qp_rt_op_check. */
void qp_rt_op_run(int opcode, const qp_rt_tensor *const *in, int n_in,
		  const qp_rt_tensor *const *out, int n_out,
		  const int32_t *params, int n_params);

/* The requantization rule (docs/ir.md section 6).  qp_rt_requant:
 * multiplier in [0, 2^31), shift in [-31, 30]: x * multiplier / 2^(31-shift)
 * rounded once to nearest, ties away from zero, saturated to int32.
 * qp_rt_rdivpot: x / 2^exponent rounded to nearest, ties away from zero
 * (QAffine's fixed-point offset). */
int32_t qp_rt_rdivpot(int32_t x, int exponent);
int32_t qp_rt_requant(int32_t x, int32_t multiplier, int shift);
/* round-half-away-from-zero((double)x / scale) + zero_point, clamped to
 * [qmin, qmax]; NaN maps to zero_point. */
int32_t qp_rt_quantize_one(float x, float scale, int32_t zero_point,
			   int32_t qmin, int32_t qmax);

/* CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF) of len bytes. */
uint32_t qp_rt_crc32c(const void *buf, size_t len);

#endif
