/* Add, Sub and Mul by a float constant: y = a[k] x + b[k] along one axis.
 *
 * A target whose op config has weights.enabled false keeps such an op's
 * constant operand float, as MCT keeps the constant attributes of Add,
 * Sub and Mul float under its IMX500 TPC (their default weight attribute
 * config has quantization disabled).  lower then folds the constant into
 * the requantization, a QRequant or a QAffine with 31-bit multipliers,
 * instead of a QAdd/QMul with an 8-bit constant.  quantize and lower both
 * call qp_const_affine_of, so every constant quantize keeps float is one
 * lower can fold (docs/tpc.md section 2, docs/ir.md section 6).
 */
#ifndef QP_CONSTOP_H
#define QP_CONSTOP_H

#include <stdint.h>

#include "ir.h"

typedef struct qp_const_affine {
	int x;          /* input index of the activation: 0 or 1 */
	int c;          /* input index of the constant: 1 - x */
	int axis;       /* the axis of x the constant varies along; -1: one value */
} qp_const_affine;

/* True when node n is Add, Sub or Mul of one float activation and one
 * float32 constant whose values vary along at most one axis, and the
 * constant does not broadcast the activation to a larger shape (the output
 * has the activation's dims).  Fills *ca (which may be NULL). */
int qp_const_affine_of(const qp_graph *g, const qp_node *n, qp_const_affine *ca);

#endif
