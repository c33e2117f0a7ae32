/* The lowered IR (docs/ir.md section 6): helpers shared by lower, emit and
 * the integer op table (lib/ops/ops_int.c).
 *
 * A lowered node's attributes map one to one onto the int32 parameter
 * vector of its runtime op (docs/binary.md section 5); qp_lowered_params
 * is the only code that builds that vector, so emit and irrun hand the
 * runtime kernels identical parameters.
 */
#ifndef QP_LOWERED_H
#define QP_LOWERED_H

#include <stdint.h>

#include "ir.h"
#include "qp_runtime.h"

#define QP_ARENA_ALIGN 16

/* Runtime opcode of a lowered op name ("QConv" -> QP_OP_QCONV), or 0. */
int qp_lowered_opcode(const char *op);
/* Attribute i (from 0) that lowered op `op` defines, from its row of the op
 * list (runtime/qp_ops.h): the parameter vector's attributes in order,
 * then the extra ones the shape rule reads.  Fills name, *array (1: ints
 * only; 0: an int, or ints of one value) and *required (0 only for an
 * optional extra).  -1 past the last one, or when op is not lowered. */
int qp_lowered_attr(const char *op, int i, char name[64], int *array, int *required);
/* Lowered op name of an opcode, or NULL. */
const char *qp_lowered_op_name(int opcode);

/* True when the graph carries meta.lowered (written by lower). */
int qp_lowered_is(const qp_graph *g);

/* gemmlowp/TFLite QuantizeMultiplier: real = mult * 2^(shift - 31), mult
 * in [2^30, 2^31) (or 0 for real == 0), shift in [-31, 30].  Returns -1 for
 * a negative or non-finite real.  Reals too small flush to (0, 0); too
 * large saturate to (2^31 - 1, 30). */
int qp_quantize_multiplier(double real, int32_t *mult, int *shift);

/* QAdd's rescaling (TFLite's scheme): both inputs, shifted left by
 * QP_ADD_LEFT_SHIFT, go to a common scale of 2^-20 of twice the larger
 * input scale, are added, and the sum is requantized to the output.
 * real[0], real[1]: the inputs' multipliers; real[2]: the output's.  One
 * definition for lower and for fake quantization (lib/exec/fqexact.c). */
#define QP_ADD_LEFT_SHIFT 20
void qp_add_multipliers(double sa, double sb, double sy, double real[3]);

/* The int32 parameter vector of lowered node n (malloc'd into *params, or
 * written into buf when it has room for cap entries; *params then points
 * at buf).  Missing or out-of-range attributes are errors naming the node. */
int qp_lowered_params(const qp_node *n, int32_t *buf, int cap,
		      int32_t **params, int *n_params, qp_err *err);

/* Runtime dtype of an IR dtype (0 when the runtime has none). */
int qp_lowered_rt_dtype(qp_dtype dt);
/* Fills an operand view (dtype, dims, per-tensor scale/zero point, data)
 * from an IR tensor; -1 when dims do not fit int32 or the dtype is not a
 * runtime dtype.  Per-channel tensors get scale 0, zero point 0. */
int qp_lowered_view(const qp_tensor *t, int rank, const int64_t *dims,
		    void *data, qp_rt_tensor *v);

/* Arena memory plan: offsets[t] for every tensor t that lives in the arena
 * (int8, no data, not a graph input or output), -1 for the others. */
typedef struct qp_plan {
	int n;               /* g->n_tensors */
	int64_t *offsets;
	int64_t arena_size;
} qp_plan;

/* True when tensor t lives in the arena. */
int qp_lowered_in_arena(const qp_graph *g, int t);
/* Greedy by size with lifetimes (first producer .. last consumer), each
 * offset a multiple of QP_ARENA_ALIGN. */
int qp_plan_compute(const qp_graph *g, qp_plan *p, qp_err *err);
/* Lifetimes the plan uses: first[t], last[t] the indices of the node
 * producing tensor t and of the last node reading it (-1 when none);
 * arrays of g->n_tensors. */
void qp_plan_lifetimes(const qp_graph *g, int *first, int *last);
/* Stores the plan in meta.lowered ({"alignment", "arena_size", "plan"}). */
int qp_plan_store(qp_graph *g, const qp_plan *p, qp_err *err);
/* Reads meta.lowered back and checks it: every arena tensor planned,
 * aligned, inside arena_size, no overlap between tensors whose lifetimes
 * overlap. */
int qp_plan_load(const qp_graph *g, qp_plan *p, qp_err *err);
void qp_plan_release(qp_plan *p);

#endif
