/* The reference interpreter: runs any stage's IR on the host.
 *
 * float IR      ONNX semantics in float32 (OpenBLAS for GEMM-shaped work);
 * quantized IR  weights dequantized, every activation with quant parameters
 *               quantized and dequantized after it is produced (fake quant);
 * lowered IR    integer ops from lib/ops_int.c, which call the runtime's own
 *               kernels, so irrun and simulate share one arithmetic.
 * Every activation buffer is allocated once when the interpreter is created;
 * running a sample allocates nothing.
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
 * ("NHWC" <-> "NCHW" for rank 3/4 without/with batch; NULL/"NCHW" copies). */
void qp_layout_to_canonical(const char *layout, int rank, const int64_t *dims,
			    const float *src, float *dst);
void qp_layout_from_canonical(const char *layout, int rank,
			      const int64_t *dims, const float *src, float *dst);

#endif
