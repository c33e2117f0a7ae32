#include "diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fqexact.h"
#include "quant.h"

struct qp_diff {
	const qp_graph *a, *b;
	unsigned char *act_a, *act_b; /* per tensor: an activation to compare */
	int n_rows;
	qp_diff_row *rows;
	float **a_vals;          /* per row: A's value of the current batch */
	int *row_of_a, *row_of_b; /* tensor -> row, or -1 */
	float *scratch;          /* B's value as floats, when not float32 */
	qp_diff_skips skips;
	int64_t take, batch;
};

static int is_lowered(const qp_graph *g)
{
	return g->meta && cJSON_GetObjectItemCaseSensitive(g->meta, "lowered");
}

/* act[t] = 1 for g's activations, but for the insides of fused chains
 * when g runs fake-quantized (see diff.h); NULL when out of memory. */
static unsigned char *activations(const qp_graph *g, int fake_quant)
{
	unsigned char *act = malloc((size_t)g->n_tensors + 1);

	if (!act)
		return NULL;
	for (int t = 0; t < g->n_tensors; t++)
		act[t] = !g->tensors[t].data;
	for (int i = 0; fake_quant && i < g->n_nodes; i++) {
		qp_fq_exact fx;
		int y = g->nodes[i].n_outputs == 1 ? g->nodes[i].outputs[0] : -1;

		if (y >= 0 && qp_fq_exact_find(g, i, &fx) && fx.grid != g->tensors[y].quant)
			act[y] = 0;
	}
	return act;
}

/* Index of the activation of g called name (len bytes of it), or -1. */
static int find_activation(const qp_graph *g, const unsigned char *act, const char *name,
			   size_t len)
{
	for (int t = 0; t < g->n_tensors; t++)
		if (act[t] && strlen(g->tensors[t].name) == len &&
		    !memcmp(g->tensors[t].name, name, len))
			return t;
	return -1;
}

static int same_shape(const qp_tensor *x, const qp_tensor *y)
{
	return x->rank == y->rank &&
	       !memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank);
}

/* B's partner for A's tensor ta among the tensors taken[] does not mark
 * as paired already, or -1. */
static int partner(const qp_diff *d, int ta, const int *taken)
{
	const char *name = d->a->tensors[ta].name;
	size_t len = strlen(name);
	int tb = find_activation(d->b, d->act_b, name, len);

	if (tb >= 0 && !taken[tb])
		return tb;
	if (is_lowered(d->b)) {
		char *q = malloc(len + 3);

		if (q) {
			memcpy(q, name, len);
			memcpy(q + len, "_q", 3);
			tb = find_activation(d->b, d->act_b, q, len + 2);
			free(q);
			if (tb >= 0 && !taken[tb])
				return tb;
		}
	}
	if (is_lowered(d->a) && len > 2 && !strcmp(name + len - 2, "_q")) {
		tb = find_activation(d->b, d->act_b, name, len - 2);
		if (tb >= 0 && !taken[tb])
			return tb;
	}
	return -1;
}

/* A's activations in row order: graph inputs, then node outputs. */
static int a_order(const qp_graph *g, const unsigned char *act, int *order)
{
	int n = 0;

	for (int i = 0; i < g->n_inputs; i++)
		if (act[g->inputs[i].tensor])
			order[n++] = g->inputs[i].tensor;
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_outputs; j++)
			if (g->nodes[i].outputs[j] >= 0 && act[g->nodes[i].outputs[j]])
				order[n++] = g->nodes[i].outputs[j];
	return n;
}

qp_diff *qp_diff_new(const qp_graph *a, int fake_quant_a, const qp_graph *b,
		     int fake_quant_b, qp_err *err)
{
	qp_diff *d = calloc(1, sizeof *d);
	int *order = NULL, *match = NULL, *taken = NULL, n_order = 0, n_act_b = 0;
	size_t n_out = (size_t)a->n_inputs, max_numel = 1;

	for (int i = 0; i < a->n_nodes; i++)
		n_out += (size_t)a->nodes[i].n_outputs;
	if (!d)
		goto oom;
	d->a = a;
	d->b = b;
	d->take = d->batch = 1;
	order = malloc(sizeof *order * (n_out + 1));
	match = malloc(sizeof *match * (n_out + 1));
	taken = calloc((size_t)b->n_tensors + 1, sizeof *taken);
	d->row_of_a = malloc(sizeof *d->row_of_a * ((size_t)a->n_tensors + 1));
	d->row_of_b = malloc(sizeof *d->row_of_b * ((size_t)b->n_tensors + 1));
	d->rows = calloc(n_out + 1, sizeof *d->rows);
	d->a_vals = calloc(n_out + 1, sizeof *d->a_vals);
	d->act_a = activations(a, fake_quant_a);
	d->act_b = activations(b, fake_quant_b);
	if (!order || !match || !taken || !d->row_of_a || !d->row_of_b || !d->rows ||
	    !d->a_vals || !d->act_a || !d->act_b)
		goto oom;
	for (int t = 0; t < a->n_tensors; t++)
		d->row_of_a[t] = -1;
	for (int t = 0; t < b->n_tensors; t++) {
		d->row_of_b[t] = -1;
		n_act_b += d->act_b[t];
	}
	n_order = a_order(a, d->act_a, order);
	/* Exact names first, for every tensor, so that a T_q fallback never
	 * takes a tensor that another one matches by its own name. */
	for (int i = 0; i < n_order; i++) {
		const char *name = a->tensors[order[i]].name;

		match[i] = find_activation(b, d->act_b, name, strlen(name));
		if (match[i] >= 0)
			taken[match[i]] = 1;
	}
	for (int i = 0; i < n_order; i++)
		if (match[i] < 0 && (match[i] = partner(d, order[i], taken)) >= 0)
			taken[match[i]] = 1;
	for (int i = 0; i < n_order; i++) {
		const qp_tensor *ta = &a->tensors[order[i]];
		qp_diff_row *r;

		if (match[i] < 0) {
			d->skips.only_a++;
			continue;
		}
		n_act_b--;
		if (!same_shape(ta, &b->tensors[match[i]])) {
			d->skips.shape++;
			continue;
		}
		r = &d->rows[d->n_rows];
		r->tensor_a = order[i];
		r->tensor_b = match[i];
		r->node_a = qp_graph_producer(a, order[i]);
		if (qp_tensor_numel(ta) < 0 || (size_t)qp_tensor_numel(ta) > SIZE_MAX / sizeof(float)) {
			qp_err_set(err, "tensor '%s' is too large", ta->name);
			goto fail;
		}
		if ((size_t)qp_tensor_numel(ta) > max_numel)
			max_numel = (size_t)qp_tensor_numel(ta);
		if (!(d->a_vals[d->n_rows] = malloc(sizeof(float) * ((size_t)qp_tensor_numel(ta) + 1))))
			goto oom;
		d->row_of_a[r->tensor_a] = d->row_of_b[r->tensor_b] = d->n_rows++;
	}
	d->skips.only_b = n_act_b;
	if (!(d->scratch = malloc(sizeof(float) * max_numel)))
		goto oom;
	free(order);
	free(match);
	free(taken);
	return d;
oom:
	qp_err_set(err, "out of memory");
fail:
	free(order);
	free(match);
	free(taken);
	qp_diff_free(d);
	return NULL;
}

void qp_diff_free(qp_diff *d)
{
	if (!d)
		return;
	for (int i = 0; d->a_vals && i < d->n_rows; i++)
		free(d->a_vals[i]);
	free(d->a_vals);
	free(d->act_a);
	free(d->act_b);
	free(d->rows);
	free(d->row_of_a);
	free(d->row_of_b);
	free(d->scratch);
	free(d);
}

void qp_diff_batch(qp_diff *d, int64_t take, int64_t batch)
{
	d->take = take;
	d->batch = batch;
}

/* v as floats in out (numel of them): dequantized with the tensor's quant
 * when it is an integer with one, else converted. */
static int to_float(const qp_tensor *t, const qp_value *v, float *out, qp_err *err)
{
	switch (v->dtype) {
	case QP_DT_FLOAT32:
		memcpy(out, v->data, sizeof(float) * (size_t)v->numel);
		return 0;
	case QP_DT_INT8: case QP_DT_UINT8: case QP_DT_INT16: case QP_DT_INT32:
		if (t->quant) {
			if (qp_dequantize_array(v->data, v->dtype, v->rank, v->dims, t->quant, out, err))
				return qp_err_prefix(err, "tensor '%s'", t->name);
			return 0;
		}
		break;
	default:
		break;
	}
	for (int64_t i = 0; i < v->numel; i++)
		switch (v->dtype) {
		case QP_DT_INT8: out[i] = ((const int8_t *)v->data)[i]; break;
		case QP_DT_UINT8: out[i] = ((const uint8_t *)v->data)[i]; break;
		case QP_DT_INT16: out[i] = ((const int16_t *)v->data)[i]; break;
		case QP_DT_INT32: out[i] = (float)((const int32_t *)v->data)[i]; break;
		case QP_DT_INT64: out[i] = (float)((const int64_t *)v->data)[i]; break;
		case QP_DT_BOOL: out[i] = ((const unsigned char *)v->data)[i] != 0; break;
		default: qp_bug("tensor '%s' has no dtype", t->name);
		}
	return 0;
}

int qp_diff_observe_a(void *ctx, int tensor, const qp_value *v, qp_err *err)
{
	qp_diff *d = ctx;
	int r = d->row_of_a[tensor];

	if (r < 0)
		return 0;
	return to_float(&d->a->tensors[tensor], v, d->a_vals[r], err);
}

int qp_diff_observe_b(void *ctx, int tensor, const qp_value *v, qp_err *err)
{
	qp_diff *d = ctx;
	int ri = d->row_of_b[tensor];
	qp_diff_row *r;
	const qp_tensor *ta;
	const float *x, *y;
	int64_t n;

	if (ri < 0)
		return 0;
	r = &d->rows[ri];
	ta = &d->a->tensors[r->tensor_a];
	x = d->a_vals[ri];
	if (v->dtype == QP_DT_FLOAT32) {
		y = v->data;
	} else {
		if (to_float(&d->b->tensors[tensor], v, d->scratch, err))
			return -1;
		y = d->scratch;
	}
	/* The padding of a short last batch is no sample. */
	n = v->numel;
	if (ta->rank >= 1 && ta->dims[0] == d->batch && d->batch > 0)
		n = n / d->batch * d->take;
	for (int64_t i = 0; i < n; i++) {
		double p = x[i], q = y[i], e = p - q, ae = fabs(e);

		r->sum_aa += p * p;
		r->sum_bb += q * q;
		r->sum_ab += p * q;
		r->sum_ee += e * e;
		if (ae > r->max_err || isnan(ae))
			r->max_err = ae;
	}
	r->elements += n;
	return 0;
}

int qp_diff_rows(const qp_diff *d)
{
	return d->n_rows;
}

const qp_diff_row *qp_diff_row_at(const qp_diff *d, int i)
{
	return &d->rows[i];
}

void qp_diff_skipped(const qp_diff *d, qp_diff_skips *s)
{
	*s = d->skips;
}

double qp_diff_sqnr(const qp_diff_row *r)
{
	if (isnan(r->sum_ee) || isnan(r->sum_aa))
		return NAN;
	if (r->sum_ee == 0)
		return INFINITY;
	return 10 * log10(r->sum_aa / r->sum_ee);
}

double qp_diff_cosine(const qp_diff_row *r)
{
	double den = sqrt(r->sum_aa) * sqrt(r->sum_bb), c;

	if (isnan(den) || isnan(r->sum_ab))
		return NAN;
	if (r->sum_aa == 0 && r->sum_bb == 0)
		return 1;
	if (den == 0)
		return 0;
	c = r->sum_ab / den;
	return c > 1 ? 1 : c < -1 ? -1 : c;
}

int qp_diff_worst(const qp_diff *d)
{
	int worst = -1;
	double lo = INFINITY;

	for (int i = 0; i < d->n_rows; i++) {
		double s = qp_diff_sqnr(&d->rows[i]);

		if (isnan(s))
			return i;
		if (s < lo) {
			lo = s;
			worst = i;
		}
	}
	return worst;
}
