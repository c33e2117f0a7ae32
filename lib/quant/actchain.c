#include "actchain.h"

#include <stdlib.h>
#include <string.h>

static int is_unary(const char *op)
{
	return !strcmp(op, "Sigmoid") || !strcmp(op, "Tanh") || !strcmp(op, "Erf");
}

static int is_binary(const char *op)
{
	return !strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") ||
	       !strcmp(op, "Div") || !strcmp(op, "Pow");
}

static int eligible(const qp_node *n)
{
	if (n->n_outputs != 1 || n->outputs[0] < 0)
		return 0;
	return (is_unary(n->op) && n->n_inputs == 1) ||
	       (is_binary(n->op) && n->n_inputs == 2);
}

static int scalar_const(const qp_graph *g, int t)
{
	const qp_tensor *s = &g->tensors[t];

	return s->data && s->dtype == QP_DT_FLOAT32 && qp_tensor_numel(s) == 1;
}

static int is_activation(const qp_graph *g, int t)
{
	return t >= 0 && !g->tensors[t].data && g->tensors[t].dtype == QP_DT_FLOAT32;
}

static int is_output(const qp_graph *g, int t)
{
	for (int i = 0; i < g->n_outputs; i++)
		if (g->outputs[i].tensor == t)
			return 1;
	return 0;
}

/* The chain ending at node end with input x, not crossing taken nodes:
 * its size (in[] marks its nodes), or 0 when there is none. */
static int chain_with(const qp_graph *g, int end, int x, const int *end_of,
		      unsigned char *in)
{
	int stack[QP_ACT_CHAIN_MAX], sp = 0, count = 0, unary = 0, binary = 0;

	memset(in, 0, (size_t)g->n_nodes);
	in[end] = 1;
	stack[sp++] = end;
	count = 1;
	while (sp > 0) {
		const qp_node *n = &g->nodes[stack[--sp]];

		unary += is_unary(n->op);
		binary += is_binary(n->op);
		for (int j = 0; j < n->n_inputs; j++) {
			int t = n->inputs[j], p;

			if (t < 0)
				return 0;
			if (t == x || scalar_const(g, t))
				continue;
			p = qp_graph_producer(g, t);
			if (p < 0 || !eligible(&g->nodes[p]) || end_of[p] >= 0)
				return 0;
			if (in[p])
				continue;
			if (count == QP_ACT_CHAIN_MAX)
				return 0;
			in[p] = 1;
			stack[sp++] = p;
			count++;
		}
	}
	if (!unary || !binary)
		return 0;
	/* Only the end's output may leave the chain, and its constants are
	 * its own: quantize keeps them float for the table, which a reader
	 * outside would have quantized. */
	for (int i = 0; i < g->n_nodes; i++) {
		int t = g->nodes[i].outputs[0];

		if (!in[i])
			continue;
		for (int j = 0; j < g->nodes[i].n_inputs; j++) {
			int ct = g->nodes[i].inputs[j];

			if (ct == x || !scalar_const(g, ct))
				continue;
			for (int k = 0; k < g->n_nodes; k++)
				for (int l = 0; l < g->nodes[k].n_inputs; l++)
					if (g->nodes[k].inputs[l] == ct && !in[k])
						return 0;
		}
		if (i == end)
			continue;
		if (is_output(g, t))
			return 0;
		for (int k = 0; k < g->n_nodes; k++)
			for (int j = 0; j < g->nodes[k].n_inputs; j++)
				if (g->nodes[k].inputs[j] == t && !in[k])
					return 0;
	}
	return count;
}

int qp_act_chains(const qp_graph *g, int *end_of)
{
	unsigned char *in = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * 2);
	unsigned char *near;
	int i;

	if (!in)
		return -1;
	near = in + (g->n_nodes ? g->n_nodes : 1);
	for (i = 0; i < g->n_nodes; i++)
		end_of[i] = -1;
	for (i = g->n_nodes - 1; i >= 0; i--) {
		const qp_node *e = &g->nodes[i];
		int cand[2 * QP_ACT_CHAIN_MAX], n_cand = 0, best_n = 0;
		int stack[QP_ACT_CHAIN_MAX], sp = 0, seen = 0;

		if (end_of[i] >= 0 || !eligible(e) || !is_activation(g, e->outputs[0]))
			continue;
		/* The candidates for X: the activations the eligible nodes
		 * above the end read, up to QP_ACT_CHAIN_MAX nodes back. */
		memset(near, 0, (size_t)g->n_nodes);
		near[i] = 1;
		stack[sp++] = i;
		seen = 1;
		while (sp > 0) {
			const qp_node *n = &g->nodes[stack[--sp]];

			for (int j = 0; j < n->n_inputs; j++) {
				int t = n->inputs[j], p, k;

				if (!is_activation(g, t))
					continue;
				for (k = 0; k < n_cand && cand[k] != t; k++)
					;
				if (k == n_cand && n_cand < 2 * QP_ACT_CHAIN_MAX)
					cand[n_cand++] = t;
				p = qp_graph_producer(g, t);
				if (p >= 0 && !near[p] && eligible(&g->nodes[p]) &&
				    end_of[p] < 0 && seen < QP_ACT_CHAIN_MAX) {
					near[p] = 1;
					stack[sp++] = p;
					seen++;
				}
			}
		}
		/* The largest chain over the candidates (the first on a tie). */
		int best_x = -1;

		for (int k = 0; k < n_cand; k++) {
			int m = chain_with(g, i, cand[k], end_of, in);

			if (m > best_n) {
				best_n = m;
				best_x = cand[k];
			}
		}
		if (best_x < 0)
			continue;
		chain_with(g, i, best_x, end_of, in);
		for (int k = 0; k < g->n_nodes; k++)
			if (in[k])
				end_of[k] = i;
	}
	free(in);
	return 0;
}

int qp_act_chain_input(const qp_graph *g, const int *end_of, int end)
{
	/* X is the one activation a chain node reads that no chain node writes. */
	for (int i = 0; i <= end; i++) {
		const qp_node *n = &g->nodes[i];

		if (end_of[i] != end)
			continue;
		for (int j = 0; j < n->n_inputs; j++) {
			int t = n->inputs[j], p;

			if (t < 0 || scalar_const(g, t))
				continue;
			p = qp_graph_producer(g, t);
			if (p < 0 || end_of[p] != end)
				return t;
		}
	}
	return -1;
}
