/* The reference interpreter: runs any stage's IR on the host.
 *
 * float IR      ONNX semantics in float32 (OpenBLAS for GEMM-shaped work);
 * quantized IR  weights dequantized, every activation with quant parameters
 *               quantized and dequantized after it is produced (fake quant);
 *               the ops whose device kernel sums integers (Conv, Gemm, Add,
 *               ...) by that integer arithmetic (fqexact.h, docs/ir.md 4.4);
 * lowered IR    integer ops from lib/ops/ops_int.c, which call the runtime's own
 *               kernels, so irrun and simulate share one arithmetic.
 * Every activation buffer is allocated once when the interpreter is created;
 * running a sample allocates only kernel scratch (Conv's im2col buffer).
 * Creation also re-runs shape inference and refuses an IR whose stored
 * shapes disagree with its ops, so kernels can trust their operands.
 */
#ifndef QP_INTERP_H
#define QP_INTERP_H

#include "ops.h"

typedef struct qp_interp qp_interp;

/* Called after a tensor's value is known (graph inputs first, then each
 * node's outputs), for calibration and activation dumps. */
typedef int (*qp_observe_fn)(void *ctx, int tensor, const qp_value *v,
			     qp_err *err);

typedef struct qp_interp_opts {
	int fake_quant;          /* quantize-dequantize activations with quant */
	qp_observe_fn observe;   /* NULL: none */
	void *observe_ctx;
} qp_interp_opts;

/* Whether g is a quantized, not yet lowered IR (its activations carry
 * quant): the IRs irrun and irdiff run with fake_quant. */
int qp_interp_wants_fake_quant(const qp_graph *g);

/* The graph must outlive the interpreter. opts may be NULL. */
qp_interp *qp_interp_new(const qp_graph *g, const qp_interp_opts *opts,
			 qp_err *err);
void qp_interp_free(qp_interp *ip);

/* Buffers of graph input i / output i, in canonical layout and the graph
 * tensor's dtype: fill inputs, qp_interp_run, read outputs. */
qp_value *qp_interp_input(qp_interp *ip, int i);
const qp_value *qp_interp_output(const qp_interp *ip, int i);
int qp_interp_run(qp_interp *ip, qp_err *err);

/* Converts one sample between the user's layout and the canonical one
 * ("NHWC" <-> "NCHW" for rank 3/4 without/with batch; NULL/"NCHW" copies).
 * dims are the canonical dims (those of the IR tensor).  "NHWC" on a rank 2
 * sample means a 1-d model's (L, C) <-> (C, L); rank 0/1 is copied. */
void qp_layout_to_canonical(const char *layout, int rank, const int64_t *dims,
			    const float *src, float *dst);
void qp_layout_from_canonical(const char *layout, int rank,
			      const int64_t *dims, const float *src, float *dst);

/* The dims users see for canonical dims (e.g. NHWC: channels moved last);
 * same rule as above: rank 4 has a batch axis, rank 2/3 is one sample. */
void qp_layout_user_dims(const char *layout, int rank, const int64_t *dims,
			 int64_t *user_dims);

/* Output i of the last run as float32 in the user's layout and in the
 * graph tensor's shape: integer outputs with quant are dequantized, other
 * dtypes converted.  dst holds the output's numel floats. */
int qp_interp_output_f32(const qp_interp *ip, int i, float *dst, qp_err *err);

#endif
