/* Tensor-by-tensor comparison of two IRs of one model (irdiff): float vs
 * quantized, float vs lowered, quantized vs lowered.
 *
 * qp_diff_new pairs the activations (graph inputs and node outputs) of A
 * with those of B: by name first; then, when B is lowered, A's T with B's
 * T_q, and when A is lowered, A's T_q with B's T.  A pair whose shapes
 * differ (a lowered IR's reshaped view) is skipped, and so is an
 * activation present in one graph only.  In an IR run fake-quantized, the
 * output of an op computed on the grid of the Relu or Clip fused after it
 * (fqexact.h: its own output has no quant) holds the fused result, as on
 * the device, which never stores the tensor: it counts as absent there,
 * as it is from the lowered IR.  The rows are the pairs in A's
 * order: graph inputs, then each node's outputs in node order.
 *
 * Usage per batch: qp_diff_batch, qp_interp_run on A with
 * qp_diff_observe_a as its observer and the qp_diff as its context, then
 * on B with qp_diff_observe_b.  A's values are copied when observed, so
 * they may be overwritten before B runs.  Values compare as real numbers:
 * an integer tensor with quant is dequantized with it, other integer and
 * bool tensors converted; sums are accumulated in double over all samples.
 */
#ifndef QP_DIFF_H
#define QP_DIFF_H

#include <stdint.h>

#include "ops.h"

typedef struct qp_diff_row {
	int tensor_a, tensor_b;  /* indices in A and in B */
	int node_a;              /* A's producer; -1 for a graph input */
	int64_t elements;        /* compared, over all samples */
	double sum_aa, sum_bb, sum_ab, sum_ee; /* a^2, b^2, a*b, (a-b)^2 */
	double max_err;          /* max |a - b|; NaN once a NaN was seen */
} qp_diff_row;

typedef struct qp_diff qp_diff;

/* Both graphs must outlive the qp_diff; fake_quant_a/_b say whether each
 * runs fake-quantized (qp_interp_opts).  Zero rows is not an error here. */
qp_diff *qp_diff_new(const qp_graph *a, int fake_quant_a, const qp_graph *b,
		     int fake_quant_b, qp_err *err);
void qp_diff_free(qp_diff *d);

/* The next run's batch holds take real samples of batch (the rest is the
 * feed's zero padding, left out of tensors whose dim 0 is the batch). */
void qp_diff_batch(qp_diff *d, int64_t take, int64_t batch);

/* Observers (qp_observe_fn, interp.h) for A's and B's interpreter. */
int qp_diff_observe_a(void *ctx, int tensor, const qp_value *v, qp_err *err);
int qp_diff_observe_b(void *ctx, int tensor, const qp_value *v, qp_err *err);

int qp_diff_rows(const qp_diff *d);
const qp_diff_row *qp_diff_row_at(const qp_diff *d, int i);

/* Activations left out: A's without a partner in B, B's without one in
 * A, and pairs of different shapes. */
typedef struct qp_diff_skips {
	int only_a, only_b, shape;
} qp_diff_skips;
void qp_diff_skipped(const qp_diff *d, qp_diff_skips *s);

/* 10 log10(sum a^2 / sum (a-b)^2) with A as the reference: +inf when the
 * values are equal, -inf when A is all zeros and B is not, NaN when a
 * value was NaN. */
double qp_diff_sqnr(const qp_diff_row *r);
/* sum ab / sqrt(sum a^2 sum b^2) in [-1, 1]; 1 when both are all zeros,
 * 0 when only one is. */
double qp_diff_cosine(const qp_diff_row *r);
/* The row with the lowest SQNR (NaN counts as lowest; the first of
 * equals), or -1 when every row is equal (SQNR +inf) or there is none. */
int qp_diff_worst(const qp_diff *d);

#endif
