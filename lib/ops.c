/* Op lookup and whole-graph shape inference and checking.  The rows live in
 * lib/ops_float.c (ONNX-semantics float ops) and lib/ops_int.c (lowered
 * integer ops); this file only searches them and runs their shape rules. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

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

int qp_graph_check_shapes(const qp_graph *g, qp_err *err)
{
	qp_graph scratch = *g;
	int rc = 0;

	scratch.tensors = malloc(sizeof(qp_tensor) * (size_t)(g->n_tensors ? g->n_tensors : 1));
	if (!scratch.tensors)
		return qp_err_set(err, "out of memory");
	memcpy(scratch.tensors, g->tensors, sizeof(qp_tensor) * (size_t)g->n_tensors);
	/* Inference rewrites outputs with qp_tensor_reshape, which frees
	 * data: outputs have none, but the copy must never free the graph's. */
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_outputs; j++) {
			qp_tensor *t = &scratch.tensors[g->nodes[i].outputs[j]];

			t->data = NULL;
			t->nbytes = 0;
		}
	for (int i = 0; i < g->n_nodes && rc == 0; i++) {
		const qp_node *n = &g->nodes[i];
		const qp_op_def *d = qp_op_find(n->op);

		if (!d) {
			rc = qp_node_err(err, n, "unsupported op");
			break;
		}
		if (!d->infer)
			continue;
		if (d->infer(&scratch, i, err)) {
			rc = -1;
			break;
		}
		for (int j = 0; j < n->n_outputs; j++) {
			const qp_tensor *want = &scratch.tensors[n->outputs[j]];
			const qp_tensor *have = &g->tensors[n->outputs[j]];
			char s1[160], s2[160];

			if (want->dtype == have->dtype && want->rank == have->rank &&
			    memcmp(want->dims, have->dims,
				   sizeof(int64_t) * (size_t)have->rank) == 0)
				continue;
			rc = qp_node_err(err, n, "tensor '%s' is %s %s in the IR, but the op gives %s %s",
					 have->name, qp_dtype_name(have->dtype),
					 qp_dims_str(have->rank, have->dims, s1, sizeof s1),
					 qp_dtype_name(want->dtype),
					 qp_dims_str(want->rank, want->dims, s2, sizeof s2));
			break;
		}
	}
	free(scratch.tensors);
	return rc;
}
