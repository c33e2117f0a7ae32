/* Op lookup and whole-graph shape inference.  The rows live in
 * lib/ops_float.c (ONNX-semantics float ops) and lib/ops_int.c (lowered
 * integer ops); this file only searches them. */
#include "ops.h"

#include <string.h>

static const qp_op_def *find_in(const qp_op_def *table, const char *name)
{
	for (const qp_op_def *d = table; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

const qp_op_def *qp_op_find(const char *name)
{
	const qp_op_def *d;

	if (!name)
		return NULL;
	d = find_in(qp_ops_float, name);
	if (!d)
		d = find_in(qp_ops_tensor, name);
	return d ? d : find_in(qp_ops_int, name);
}

int qp_graph_infer_shapes(qp_graph *g, qp_err *err)
{
	/* Node order is topological, so every input's shape is known (a graph
	 * input, a constant, or inferred for an earlier node) when a node is
	 * reached. */
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];
		const qp_op_def *d = qp_op_find(n->op);

		if (!d)
			return qp_err_set(err, "unsupported op (node '%s', op '%s')",
					  n->name, n->op);
		if (!d->infer)
			return qp_err_set(err, "op has no shape inference (node '%s', op '%s')",
					  n->name, n->op);
		if (d->infer(g, i, err) != 0)
			return -1;
	}
	return 0;
}
