/* The lowering pass: quantized IR -> lowered IR (docs/ir.md section 6). */
#ifndef QP_STAGE_LOWER_H
#define QP_STAGE_LOWER_H

#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* Builds a new lowered graph from a quantized one (src is not changed):
 * Quantize at every graph input, integer ops with Relu fused into the op
 * before it, Dequantize at every graph output, and the arena plan in
 * meta.lowered.  Every node it cannot lower is listed, one line each. */
int qp_lower(const qp_graph *src, qp_graph **out, qp_err *err);
/* qp_lower that also hands back (*fused_into, malloc'd, src->n_nodes
 * entries; the caller frees it) the src node each src node was fused
 * into, -1 for one that was not; NULL on failure. */
int qp_lower_fused(const qp_graph *src, qp_graph **out, int **fused_into, qp_err *err);

/* Bytes emit's weights section gives lowered tensor t (each constant
 * rounded up to 16; 0 for an activation), and what lowered node k costs:
 * its padded constants (weights 1) or the int8 arena tensor it writes
 * (weights 0).  The resources check and the report both use these. */
int64_t qp_lower_weight_bytes(const qp_graph *g, int t);
int64_t qp_lower_node_bytes(const qp_graph *g, int k, int weights);

/* Writes the --report of a lowering (docs/man/lower.md, REPORT) to f:
 * text (json 0) or one JSON document (json 1).  src is the quantized
 * graph, low what qp_lower_fused made of it, fused_into its array. */
int qp_lower_report(const qp_graph *src, const qp_graph *low, const int *fused_into,
		    int json, FILE *f, qp_err *err);

#endif
