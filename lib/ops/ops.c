/* Op lookup, attribute checking and whole-graph shape inference.  The rows
 * live in lib/ops/ops_float.c (ONNX-semantics float ops), lib/ops/ops_tensor.c
 * (data movement) and lib/ops/ops_int.c (lowered integer ops); this file only
 * searches them, checks nodes against them and runs their shape rules. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "lowered.h"      /* qp_lowered_attr: a lowered op's attributes */
#include "ops_common.h"

static const qp_op_row *find_row(const qp_op_row *table, const char *name)
{
	for (const qp_op_row *r = table; r->op.name; r++)
		if (strcmp(r->op.name, name) == 0)
			return r;
	return NULL;
}

const qp_op_def *qp_op_find(const char *name)
{
	const qp_op_row *r;

	if (!name)
		return NULL;
	r = find_row(qp_ops_float, name);
	if (!r)
		r = find_row(qp_ops_tensor, name);
	if (r)
		return &r->op;
	for (const qp_op_def *d = qp_ops_int; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static int in_rows(const qp_op_row *table, const qp_op_def *d)
{
	for (const qp_op_row *r = table; r->op.name; r++)
		if (&r->op == d)
			return 1;
	return 0;
}

const qp_op_row *qp_op_row_of(const qp_op_def *d)
{
	/* op is the row's first member, so the row starts where it does. */
	return d && (in_rows(qp_ops_float, d) || in_rows(qp_ops_tensor, d))
		? (const qp_op_row *)(const void *)d : NULL;
}

int qp_op_is_float(const qp_op_def *d)
{
	return d && in_rows(qp_ops_float, d);
}

/* "int", "float", ... for a value's type or a row's allowed types. */
static const char *types_str(unsigned types)
{
	static const char *const one[] = {"int", "float", "ints", "floats", "string"};

	if (types == QP_AT_FLOAT)
		return "float";
	if (types == (QP_AT_STRING | QP_AT_INT))
		return "string or int";
	if (types == (QP_AT_INT | QP_AT_INTS))
		return "int or ints";
	for (unsigned t = 0; t < sizeof one / sizeof one[0]; t++)
		if (types == 1u << t)
			return one[t];
	return "?";
}

/* A lowered (integer) node against its row of the op list
 * (runtime/qp_ops.h): the parameter schema's attributes and the extra ones
 * its shape rule reads.  Counts and values are qp_lowered_params' and the
 * runtime check's to judge. */
static int check_lowered_node(const qp_node *n, qp_err *err)
{
	char name[64];
	int array, required, k;

	for (int i = 0; i < n->n_attrs; i++) {
		const qp_attr *a = &n->attrs[i];
		unsigned types;

		for (k = 0; qp_lowered_attr(n->op, k, name, &array, &required) == 0; k++)
			if (!strcmp(name, a->name))
				break;
		if (qp_lowered_attr(n->op, k, name, &array, &required))
			return qp_node_err(err, n, "attribute '%s' is not defined for this op",
					   a->name);
		types = array ? QP_AT_INTS : QP_AT_INT | QP_AT_INTS;
		if (!(types & (1u << a->type)))
			return qp_node_err(err, n, "attribute '%s' is %s, expected %s",
					   a->name, types_str(1u << a->type), types_str(types));
	}
	for (k = 0; qp_lowered_attr(n->op, k, name, &array, &required) == 0; k++)
		if (required && !qp_node_attr(n, name))
			return qp_node_err(err, n, "missing attribute '%s'", name);
	return 0;
}

int qp_op_check_node(const qp_node *n, qp_err *err)
{
	const qp_op_def *d = qp_op_find(n->op);
	const qp_op_row *r = qp_op_row_of(d);

	if (!d)
		return qp_node_err(err, n, "unknown op '%s'", n->op);
	if (!r)
		return check_lowered_node(n, err);
	for (int i = 0; i < n->n_attrs; i++) {
		const qp_attr *a = &n->attrs[i];
		const qp_attr_def *ad = r->attrs;

		while (ad && ad->name && strcmp(ad->name, a->name))
			ad++;
		if (!ad || !ad->name)
			return qp_node_err(err, n, "attribute '%s' is not defined for this op",
					   a->name);
		if (!(ad->types & (1u << a->type)))
			return qp_node_err(err, n, "attribute '%s' is %s, expected %s",
					   a->name, types_str(1u << a->type),
					   types_str(ad->types));
	}
	for (const qp_attr_def *ad = r->attrs; ad && ad->name; ad++)
		if (ad->required && !qp_node_attr(n, ad->name))
			return qp_node_err(err, n, "missing attribute '%s'", ad->name);
	return 0;
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
			return qp_node_err(err, n, "unsupported op");
		if (!d->infer)
			return qp_node_err(err, n, "op has no shape inference");
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
