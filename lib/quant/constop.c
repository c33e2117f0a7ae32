#include "constop.h"

#include <string.h>

int qp_const_affine_of(const qp_graph *g, const qp_node *n, qp_const_affine *ca)
{
	const qp_tensor *x, *k, *y;
	int xi, i, axis = -1;

	if ((strcmp(n->op, "Add") && strcmp(n->op, "Sub") && strcmp(n->op, "Mul")) ||
	    n->n_inputs != 2 || n->n_outputs != 1 || n->inputs[0] < 0 ||
	    n->inputs[1] < 0 || n->outputs[0] < 0)
		return 0;
	xi = g->tensors[n->inputs[0]].data ? 1 : 0;
	x = &g->tensors[n->inputs[xi]];
	k = &g->tensors[n->inputs[1 - xi]];
	y = &g->tensors[n->outputs[0]];
	if (x->data || x->dtype != QP_DT_FLOAT32 || !k->data || k->dtype != QP_DT_FLOAT32 ||
	    k->rank > x->rank || y->rank != x->rank ||
	    memcmp(y->dims, x->dims, (size_t)x->rank * sizeof *x->dims))
		return 0;
	/* Right-aligned as numpy broadcasts: constant axis i is x's axis
	 * i + rank(x) - rank(k). */
	for (i = 0; i < k->rank; i++) {
		if (k->dims[i] == 1)
			continue;
		if (axis >= 0 || k->dims[i] != x->dims[i + x->rank - k->rank])
			return 0;
		axis = i + x->rank - k->rank;
	}
	if (ca) {
		ca->x = xi;
		ca->c = 1 - xi;
		ca->axis = axis;
	}
	return 1;
}
