#include "passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* A float constant (has data) whose shape is exactly [n]. */
static int is_vector(const qp_graph *g, int t, int64_t n)
{
	const qp_tensor *x;

	if (t < 0)
		return 0;
	x = &g->tensors[t];
	return x->data && x->dtype == QP_DT_FLOAT32 && x->rank == 1 &&
	       x->dims[0] == n;
}

static int is_float_const(const qp_graph *g, int t)
{
	return t >= 0 && g->tensors[t].data &&
	       g->tensors[t].dtype == QP_DT_FLOAT32;
}

/* Gives conv node ci a zero bias of n channels as input 2; returns the
 * tensor index or -1. */
static int add_zero_bias(qp_graph *g, int ci, int64_t n, qp_err *err)
{
	char *name = NULL;
	int t, *in;
	qp_node *conv;
	char base[1100];

	snprintf(base, sizeof base, "%s.bias", g->nodes[ci].name);
	name = qp_graph_unique_tensor_name(g, base);
	if (!name)
		return qp_err_set(err, "out of memory");
	t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, 1, &n, err);
	free(name);
	if (t < 0 || qp_tensor_alloc_data(&g->tensors[t], err))
		return -1;
	conv = &g->nodes[ci];
	if (conv->n_inputs < 3) {
		in = realloc(conv->inputs, 3 * sizeof *in);
		if (!in)
			return qp_err_set(err, "out of memory");
		conv->inputs = in;
		conv->n_inputs = 3;
	}
	conv->inputs[2] = t;
	return t;
}

/* Output channels of the weight of Conv or Gemm node ci, and where the
 * weights of one channel lie: Conv W[oc, ...] and Gemm B[N, K] (transB 1)
 * hold a channel's weights contiguously, Gemm B[K, N] (transB 0) in
 * column c with stride N.  0 when the node is neither. */
static int64_t weight_channels(const qp_graph *g, int ci, int *strided)
{
	const qp_node *n = &g->nodes[ci];
	const qp_tensor *w = &g->tensors[n->inputs[1]];

	*strided = 0;
	if (!strcmp(n->op, "Conv"))
		return w->rank >= 1 ? w->dims[0] : 0;
	if (strcmp(n->op, "Gemm") || w->rank != 2 ||
	    qp_node_attr_float(n, "alpha", 1.0f) != 1.0f ||
	    qp_node_attr_float(n, "beta", 1.0f) != 1.0f)
		return 0;
	if (qp_node_attr_int(n, "transB", 0) == 1)
		return w->dims[0];
	*strided = 1;
	return qp_node_attr_int(n, "transB", 0) == 0 ? w->dims[1] : 0;
}

/* Folds BN node bi into Conv or Gemm node ci (the checks are done). */
static int fold_one(qp_graph *g, int ci, int bi, qp_err *err)
{
	const qp_node *bn = &g->nodes[bi];
	int w = g->nodes[ci].inputs[1], strided;
	int b = g->nodes[ci].n_inputs > 2 ? g->nodes[ci].inputs[2] : -1;
	int64_t oc = weight_channels(g, ci, &strided), per, c, k;
	double eps = qp_node_attr_float(bn, "epsilon", 1e-5f);
	const float *gamma, *beta, *mean, *var;
	float *wd, *bd;
	int out = bn->outputs[0];

	if (b < 0 && (b = add_zero_bias(g, ci, oc, err)) < 0)
		return -1;
	/* Pointers only after the add: it may move the tensor array. */
	bn = &g->nodes[bi];
	gamma = g->tensors[bn->inputs[1]].data;
	beta = g->tensors[bn->inputs[2]].data;
	mean = g->tensors[bn->inputs[3]].data;
	var = g->tensors[bn->inputs[4]].data;
	wd = g->tensors[w].data;
	bd = g->tensors[b].data;
	per = qp_tensor_numel(&g->tensors[w]) / oc;
	for (c = 0; c < oc; c++) {
		double a = (double)gamma[c] / sqrt((double)var[c] + eps);

		for (k = 0; k < per; k++) {
			int64_t i = strided ? k * oc + c : c * per + k;

			wd[i] = (float)((double)wd[i] * a);
		}
		bd[c] = (float)(((double)bd[c] - (double)mean[c]) * a +
				(double)beta[c]);
	}
	g->nodes[ci].outputs[0] = out;
	return 0;
}

int qp_pass_fold_batchnorm(qp_graph *g, int *count, qp_err *err)
{
	unsigned char *keep;
	int folded = 0, rc = 0;

	if (count)
		*count = 0;
	keep = malloc((size_t)g->n_nodes + 1);
	if (!keep)
		return qp_err_set(err, "out of memory");
	memset(keep, 1, (size_t)g->n_nodes + 1);
	for (int bi = 0; bi < g->n_nodes; bi++) {
		const qp_node *bn = &g->nodes[bi], *conv;
		int x, ci, w, b, strided;
		int64_t oc;

		if (strcmp(bn->op, "BatchNormalization") || bn->n_inputs != 5 ||
		    bn->n_outputs != 1)
			continue;
		x = bn->inputs[0];
		ci = x >= 0 ? qp_graph_producer(g, x) : -1;
		if (ci < 0 || !keep[ci])
			continue;
		conv = &g->nodes[ci];
		if ((strcmp(conv->op, "Conv") && strcmp(conv->op, "Gemm")) ||
		    conv->n_outputs != 1 || conv->n_inputs < 2 || qp_graph_only_consumer(g, x) != bi)
			continue;
		w = conv->inputs[1];
		b = conv->n_inputs > 2 ? conv->inputs[2] : -1;
		if (!is_float_const(g, w) || g->tensors[w].rank < 1 ||
		    qp_graph_only_consumer(g, w) != ci)
			continue;
		oc = weight_channels(g, ci, &strided);
		if (oc < 1 || (b >= 0 && (!is_vector(g, b, oc) ||
					  qp_graph_only_consumer(g, b) != ci)))
			continue;
		if (!is_vector(g, bn->inputs[1], oc) ||
		    !is_vector(g, bn->inputs[2], oc) ||
		    !is_vector(g, bn->inputs[3], oc) ||
		    !is_vector(g, bn->inputs[4], oc))
			continue;
		if (fold_one(g, ci, bi, err)) {
			rc = -1;
			break;
		}
		keep[bi] = 0;
		folded++;
	}
	if (folded) {
		qp_graph_remove_nodes(g, keep);
		qp_graph_drop_unused_tensors(g);
	}
	free(keep);
	if (count)
		*count = folded;
	return rc;
}

int qp_pass_gemm_normalize(qp_graph *g, int *count, qp_err *err)
{
	int changed = 0;

	if (count)
		*count = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		qp_node *n = &g->nodes[i];
		float alpha = qp_node_attr_float(n, "alpha", 1.0f);
		float beta = qp_node_attr_float(n, "beta", 1.0f);
		int bt = n->n_inputs > 1 ? n->inputs[1] : -1;
		int ct = n->n_inputs > 2 ? n->inputs[2] : -1;
		int did = 0;

		if (strcmp(n->op, "Gemm") || !is_float_const(g, bt) ||
		    (ct >= 0 && !is_float_const(g, ct)))
			continue;
		/* Scaling shared constants would change the other users. */
		if (alpha != 1.0f && qp_graph_only_consumer(g, bt) == i) {
			float *d = g->tensors[bt].data;
			int64_t k, m = qp_tensor_numel(&g->tensors[bt]);

			for (k = 0; k < m; k++)
				d[k] *= alpha;
			if (qp_node_set_float(n, "alpha", 1.0f))
				return qp_err_set(err, "out of memory");
			did = 1;
		}
		if (ct >= 0 && beta != 1.0f && qp_graph_only_consumer(g, ct) == i) {
			float *d = g->tensors[ct].data;
			int64_t k, m = qp_tensor_numel(&g->tensors[ct]);

			for (k = 0; k < m; k++)
				d[k] *= beta;
			if (qp_node_set_float(n, "beta", 1.0f))
				return qp_err_set(err, "out of memory");
			did = 1;
		}
		if (ct >= 0 && g->tensors[ct].rank == 2 &&
		    g->tensors[ct].dims[0] == 1 && qp_graph_only_consumer(g, ct) == i) {
			qp_tensor *c = &g->tensors[ct];

			/* Same bytes, one axis fewer: keep the data. */
			c->dims[0] = c->dims[1];
			c->rank = 1;
			did = 1;
		}
		changed += did;
	}
	if (count)
		*count = changed;
	return 0;
}

/* ---- dead nodes and Pad folding (import passes of onnx2ir and keras2ir) ---- */

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

void qp_pass_remove_dead(qp_graph *g, int *count)
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
	/* The Pad's output must feed one node, as its X. */
	cons = qp_graph_only_consumer(g, pn->outputs[0]);
	if (cons < 0 || g->nodes[cons].inputs[0] != pn->outputs[0])
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

int qp_pass_fold_pads(qp_graph *g, int *count, qp_err *err)
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
		qp_pass_remove_dead(g, NULL);
	if (count)
		*count = folded;
	return 0;
}
