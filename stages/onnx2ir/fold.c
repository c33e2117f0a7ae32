/* Import passes: constant folding, dead-node removal, Pad folding.
 *
 * Folding runs node by node while the model is imported (import.c calls
 * onnx_fold_node right after a node's shape inference), so a node whose
 * inputs were all folded sees constants when it is imported.  That is what
 * turns PyTorch's Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains
 * into a constant Reshape shape: Shape itself is imported as a constant
 * (every IR shape is static), and each later node folds in turn.  The
 * kernels are the interpreter's own (lib/ops_*.c), so a folded value is
 * exactly what irrun would have computed.
 */
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "ops.h"

/* Folding must not turn a small Expand or ConstantOfShape into megabytes of
 * file; such outputs stay computed at run time. */
#define FOLD_MAX_BYTES ((size_t)16 << 20)

static void value_of(const qp_tensor *t, qp_value *v)
{
	v->dtype = t->dtype;
	v->rank = t->rank;
	memcpy(v->dims, t->dims, sizeof v->dims);
	v->numel = qp_tensor_numel(t);
	v->data = t->data;
}

static int foldable(const qp_graph *g, const qp_node *n)
{
	size_t bytes = 0;
	int i, any_input = 0;

	for (i = 0; i < n->n_inputs; i++) {
		const qp_tensor *t;

		if (n->inputs[i] < 0)
			continue;
		t = &g->tensors[n->inputs[i]];
		/* A quantized constant means something the kernels only see
		 * through the interpreter's dequantization: leave it. */
		if (!t->data || t->quant)
			return 0;
		any_input = 1;
	}
	if (!any_input)
		return 0;
	for (i = 0; i < n->n_outputs; i++) {
		const qp_tensor *t = &g->tensors[n->outputs[i]];
		int64_t numel = qp_tensor_numel(t);

		if (numel < 0)
			return 0;
		bytes += (size_t)numel * qp_dtype_size(t->dtype);
	}
	return bytes <= FOLD_MAX_BYTES;
}

int onnx_fold_node(qp_graph *g, int node, int *folded, qp_err *err)
{
	qp_node *n = &g->nodes[node];
	const qp_op_def *def = qp_op_find(n->op);
	qp_value vin[64], vout[8];
	const qp_value *in[64];
	qp_value *out[8];
	unsigned char *keep;
	int i;

	*folded = 0;
	if (!def || !def->run || n->n_inputs > 64 || n->n_outputs > 8 || !foldable(g, n))
		return 0;
	for (i = 0; i < n->n_inputs; i++) {
		in[i] = NULL;
		if (n->inputs[i] >= 0) {
			value_of(&g->tensors[n->inputs[i]], &vin[i]);
			in[i] = &vin[i];
		}
	}
	for (i = 0; i < n->n_outputs; i++) {
		qp_tensor *t = &g->tensors[n->outputs[i]];

		if (qp_tensor_alloc_data(t, err))
			goto fail;
		value_of(t, &vout[i]);
		out[i] = &vout[i];
	}
	if (def->run(g, n, in, out, err))
		goto fail;
	keep = malloc((size_t)g->n_nodes);
	if (!keep) {
		qp_err_set(err, "out of memory");
		goto fail;
	}
	memset(keep, 1, (size_t)g->n_nodes);
	keep[node] = 0;
	qp_graph_remove_nodes(g, keep);
	free(keep);
	*folded = 1;
	return 0;
fail:
	/* The outputs stay plain activations: free any data given to them. */
	for (i = 0; i < n->n_outputs; i++) {
		qp_tensor *t = &g->tensors[n->outputs[i]];

		free(t->data);
		t->data = NULL;
		t->nbytes = 0;
	}
	return -1;
}

static int used(const qp_graph *g, const unsigned char *keep, int t)
{
	int i, j;

	for (i = 0; i < g->n_outputs; i++)
		if (g->outputs[i].tensor == t)
			return 1;
	for (i = 0; i < g->n_nodes; i++)
		if (keep[i])
			for (j = 0; j < g->nodes[i].n_inputs; j++)
				if (g->nodes[i].inputs[j] == t)
					return 1;
	return 0;
}

void onnx_remove_dead(qp_graph *g, int *count)
{
	unsigned char *keep = malloc(g->n_nodes ? (size_t)g->n_nodes : 1);
	int removed = 0, changed = 1, i, j;

	if (count)
		*count = 0;
	if (!keep)
		return;   /* nothing removed: still a valid graph */
	memset(keep, 1, g->n_nodes ? (size_t)g->n_nodes : 1);
	/* Backwards: a node's consumers come after it, so one sweep settles
	 * most chains; repeat until nothing changes. */
	while (changed) {
		changed = 0;
		for (i = g->n_nodes - 1; i >= 0; i--) {
			int live = 0;

			if (!keep[i])
				continue;
			for (j = 0; j < g->nodes[i].n_outputs && !live; j++)
				live = used(g, keep, g->nodes[i].outputs[j]);
			if (!live) {
				keep[i] = 0;
				removed++;
				changed = 1;
			}
		}
	}
	if (removed)
		qp_graph_remove_nodes(g, keep);
	free(keep);
	qp_graph_drop_unused_tensors(g);
	if (count)
		*count = removed;
}

/* ---- Pad folding ------------------------------------------------------------ */

static int only_consumer(const qp_graph *g, int t, int *consumer)
{
	int i, j, found = -1;

	for (i = 0; i < g->n_outputs; i++)
		if (g->outputs[i].tensor == t)
			return 0;
	for (i = 0; i < g->n_nodes; i++)
		for (j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j] == t) {
				if (found >= 0 && found != i)
					return 0;
				if (j != 0)
					return 0;   /* the padded tensor must be X */
				found = i;
			}
	*consumer = found;
	return found >= 0;
}

/* True when every value of tensor t is >= 0 for sure (a Relu output), so
 * MaxPool's implicit -inf padding and an explicit 0 give the same maxima. */
static int non_negative(const qp_graph *g, int t)
{
	int p = qp_graph_producer(g, t);

	return p >= 0 && strcmp(g->nodes[p].op, "Relu") == 0;
}

/* Tries to fold Pad node `pad` into its consumer; 1 when done. */
static int fold_one_pad(qp_graph *g, int pad, qp_err *err)
{
	const qp_node *pn = &g->nodes[pad];
	const int64_t *pp;
	int64_t old_pads[2 * QP_MAX_RANK], new_pads[2 * QP_MAX_RANK];
	int64_t old_dims[QP_MAX_RANK];
	int np_count, cons, rank, s, i, n_old, had_pads, had_cip, y;
	int64_t old_cip = 0;
	qp_node *cn;
	const int64_t *op;
	const char *mode = qp_node_attr_string(pn, "mode", "constant");
	qp_err ignored;
	int x = pn->inputs[0];
	int64_t old_dims_rank;

	if (pn->n_inputs != 1 || strcmp(mode, "constant") != 0 ||
	    qp_node_attr_float(pn, "value", 0.0f) != 0.0f)
		return 0;
	pp = qp_node_attr_ints(pn, "pads", &np_count);
	rank = g->tensors[x].rank;
	if (!pp || rank < 3 || np_count != 2 * rank)
		return 0;
	/* Batch and channel axes must not be padded, and nothing negative
	 * (a crop). */
	for (i = 0; i < np_count; i++)
		if (pp[i] < 0 || ((i % rank) < 2 && pp[i] != 0))
			return 0;
	if (!only_consumer(g, pn->outputs[0], &cons))
		return 0;
	cn = &g->nodes[cons];
	if (strcmp(cn->op, "Conv") && strcmp(cn->op, "AveragePool") && strcmp(cn->op, "MaxPool"))
		return 0;
	if (!strcmp(cn->op, "MaxPool") && !non_negative(g, x))
		return 0;
	s = rank - 2;
	op = qp_node_attr_ints(cn, "pads", &n_old);
	had_pads = op != NULL;
	for (i = 0; i < 2 * s; i++)
		old_pads[i] = op && n_old == 2 * s ? op[i] : 0;
	if (op && n_old != 2 * s)
		return 0;
	had_cip = qp_node_attr(cn, "count_include_pad") != NULL;
	if (!strcmp(cn->op, "AveragePool")) {
		/* Explicit zeros count in the average; the pool's own padding
		 * then must count too, which only holds when it already did
		 * or there was none.  ceil_mode windows reach past all
		 * padding, where counting rules differ: leave those. */
		old_cip = qp_node_attr_int(cn, "count_include_pad", 0);
		if (qp_node_attr_int(cn, "ceil_mode", 0) != 0)
			return 0;
		for (i = 0; i < 2 * s && !old_cip; i++)
			if (old_pads[i] != 0)
				return 0;
	}
	for (i = 0; i < s; i++) {
		new_pads[i] = old_pads[i] + pp[2 + i];
		new_pads[s + i] = old_pads[s + i] + pp[rank + 2 + i];
	}
	y = cn->outputs[0];
	old_dims_rank = g->tensors[y].rank;
	memcpy(old_dims, g->tensors[y].dims, sizeof old_dims);
	/* Rewire tentatively, and keep the change only when the consumer's
	 * shape inference accepts it with the same output shape (pool pads
	 * must stay smaller than the window, for example). */
	cn->inputs[0] = x;
	if (qp_node_set_ints(cn, "pads", 2 * s, new_pads) ||
	    (!strcmp(cn->op, "AveragePool") && qp_node_set_int(cn, "count_include_pad", 1)))
		return qp_err_set(err, "out of memory");
	if (qp_op_find(cn->op)->infer(g, cons, &ignored) == 0 &&
	    g->tensors[y].rank == old_dims_rank &&
	    memcmp(g->tensors[y].dims, old_dims, sizeof(int64_t) * (size_t)old_dims_rank) == 0)
		return 1;
	cn->inputs[0] = pn->outputs[0];
	if ((had_pads ? qp_node_set_ints(cn, "pads", 2 * s, old_pads) : 0) ||
	    (!strcmp(cn->op, "AveragePool") && had_cip &&
	     qp_node_set_int(cn, "count_include_pad", old_cip)))
		return qp_err_set(err, "out of memory");
	if (!had_pads || (!strcmp(cn->op, "AveragePool") && !had_cip)) {
		/* Remove attributes the tentative change added. */
		int w = 0;

		for (i = 0; i < cn->n_attrs; i++) {
			int drop = (!had_pads && !strcmp(cn->attrs[i].name, "pads")) ||
				   (!had_cip && !strcmp(cn->op, "AveragePool") &&
				    !strcmp(cn->attrs[i].name, "count_include_pad"));

			if (drop) {
				free(cn->attrs[i].name);
				free(cn->attrs[i].ints);
				free(cn->attrs[i].floats);
				free(cn->attrs[i].s);
			} else {
				cn->attrs[w++] = cn->attrs[i];
			}
		}
		cn->n_attrs = w;
	}
	if (qp_op_find(cn->op)->infer(g, cons, err))
		return -1;
	return 0;
}

int onnx_fold_pads(qp_graph *g, int *count, qp_err *err)
{
	int i, folded = 0, rc;

	for (i = 0; i < g->n_nodes; i++) {
		if (strcmp(g->nodes[i].op, "Pad") != 0)
			continue;
		rc = fold_one_pad(g, i, err);
		if (rc < 0)
			return -1;
		folded += rc;
	}
	if (folded)
		onnx_remove_dead(g, NULL);
	if (count)
		*count = folded;
	return 0;
}
