/* Graph passes that rewrite a float graph without changing what it
 * computes (up to float rounding).  Each returns 0 or -1 with err set, and
 * reports how many rewrites it made through *count (which may be NULL).
 * Passes keep tensor names of surviving activations, so calibration
 * statistics stay attached to the right values.
 */
#ifndef QP_PASSES_H
#define QP_PASSES_H

#include "err.h"
#include "ir.h"

/* Folds each BatchNormalization whose input X is the output of a Conv, or
 * of a Gemm with alpha = beta = 1 (Keras' Dense then BatchNormalization on
 * the features; run qp_pass_gemm_normalize first), into that node:
 *
 *   a[c]  = scale[c] / sqrt(var[c] + epsilon)
 *   W'[c] = W[c] * a[c]                     (every weight of output channel c)
 *   B'[c] = (B[c] - mean[c]) * a[c] + bias[c]   (B = 0 when the Conv has none)
 *
 * computed in double and stored as float.  The Conv then writes the BN's
 * output tensor (keeping its name and statistics) and the BN node goes.
 * A pair is left alone unless the Conv output feeds only the BN (no other
 * node, not a graph output), W and B are float constants used by this Conv
 * only, and the BN parameters are float constants of shape [C] with C the
 * Conv's output channels (a Gemm's N).  For a Gemm, "W[c]" is row c of B
 * when transB is 1 and column c when it is 0, and B' is C'. */
int qp_pass_fold_batchnorm(qp_graph *g, int *count, qp_err *err);

/* Brings every Gemm to the form the quantizer handles: alpha folded into B,
 * beta into C (then both attributes 1), and C of shape [1, N] reshaped to
 * [N].  A Gemm whose B or C is not a float constant is left alone. */
int qp_pass_gemm_normalize(qp_graph *g, int *count, qp_err *err);

/* Removes nodes none of whose outputs is used (by a live node or as a
 * graph output), then tensors nothing refers to.  Cannot fail: out of
 * memory leaves the graph as it was. */
void qp_pass_remove_dead(qp_graph *g, int *count);

/* Folds each zero, constant-mode Pad of the spatial axes into the Conv,
 * AveragePool (count_include_pad becomes 1, allowed only when the pool's
 * own padding already counted or there was none) or MaxPool (only when
 * its input comes from a Relu, so zeros never win a maximum) that is its
 * only consumer, when the consumer's output shape stays the same. */
int qp_pass_fold_pads(qp_graph *g, int *count, qp_err *err);

#endif
