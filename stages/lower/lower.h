/* The lowering pass: quantized IR -> lowered IR (docs/ir.md section 6). */
#ifndef QP_STAGE_LOWER_H
#define QP_STAGE_LOWER_H

#include "ir.h"

/* Builds a new lowered graph from a quantized one (src is not changed):
 * Quantize at every graph input, integer ops with Relu fused into the op
 * before it, Dequantize at every graph output, and the arena plan in
 * meta.lowered.  Every node it cannot lower is listed, one line each. */
int qp_lower(const qp_graph *src, qp_graph **out, qp_err *err);

#endif
