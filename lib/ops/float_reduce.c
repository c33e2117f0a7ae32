/* Reductions: Reduce* (one kernel for the family, which reads the reduction
 * from the node's row), ArgMax/ArgMin and TopK. */
#include "ops_float_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Which axes of a rank-`rank` input node n reduces (reduced[i] = 1), from
 * the "axes" attribute (or a constant axes input, opset 18 form, if the
 * importer left one), keepdims and noop_with_empty_axes. */
static int reduce_axes(const qp_graph *gc, const qp_node *n, int rank,
		       int *reduced, int *noop, qp_err *err)
{
	qp_graph *g = (qp_graph *)gc;   /* only read */
	int count = 0;
	const int64_t *axes = qp_node_attr_ints(n, "axes", &count);
	int64_t *from_input = NULL, n_in = 0;
	const qp_tensor *t = qp_in_tensor(g, n, 1);
	int64_t nwea = qp_node_attr_int(n, "noop_with_empty_axes", 0);
	int64_t keep = qp_node_attr_int(n, "keepdims", 1);

	if ((nwea != 0 && nwea != 1) || (keep != 0 && keep != 1))
		return qp_node_err(err, n, "keepdims %lld / noop_with_empty_axes %lld must be 0 or 1",
				   (long long)keep, (long long)nwea);
	if (t) {
		if (qp_node_attr(n, "axes"))
			return qp_node_err(err, n, "axes given both as attribute and input");
		from_input = qp_const_ints(n, t, "axes", &n_in, err);
		if (!from_input)
			return -1;
		axes = from_input;
		count = (int)n_in;
	}
	memset(reduced, 0, sizeof(int) * QP_MAX_RANK);
	*noop = 0;
	if (count == 0) {
		if (nwea)
			*noop = 1;
		else
			for (int i = 0; i < rank; i++)
				reduced[i] = 1;
	}
	for (int i = 0; i < count; i++) {
		int a;

		if (qp_norm_axis(n, axes[i], rank, "axis", &a, err)) {
			free(from_input);
			return -1;
		}
		if (reduced[a]) {
			free(from_input);
			return qp_node_err(err, n, "axis %lld is given twice",
					   (long long)axes[i]);
		}
		reduced[a] = 1;
	}
	free(from_input);
	return 0;
}

int infer_reduce(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int reduced[QP_MAX_RANK], noop, ro = 0;
	int keep = (int)qp_node_attr_int(n, "keepdims", 1);
	int64_t out[QP_MAX_RANK];

	if (qp_check_io(g, n, 1, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_numeric(n, x, "input", 1, err))
		return -1;
	if (reduce_axes(g, n, x->rank, reduced, &noop, err))
		return -1;
	for (int i = 0; i < x->rank; i++) {
		if (!reduced[i])
			out[ro++] = x->dims[i];
		else if (keep)
			out[ro++] = 1;
	}
	qp_set_out(g, n, 0, qp_compute_dtype(x), ro, out);
	return 0;
}

int run_reduce(const qp_graph *g, const qp_node *n,
	       const qp_value *const *in, qp_value *const *out,
	       qp_err *err)
{
	const qp_value *x = in[0];
	qp_value *y = out[0];
	reduce_op op = (reduce_op)qp_node_row(n)->kind;
	int reduced[QP_MAX_RANK], noop, r = x->rank;
	int64_t ost[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, stride = 1, o = 0, count = 1;
	double *acc;

	if (reduce_axes(g, n, r, reduced, &noop, err))
		return -1;
	if (noop) {
		memcpy(y->data, x->data, (size_t)x->numel * qp_dtype_size(x->dtype));
		return 0;
	}
	/* Output offset strides along each input axis (0 where reduced). */
	for (int i = r - 1; i >= 0; i--) {
		ost[i] = reduced[i] ? 0 : stride;
		if (!reduced[i])
			stride *= x->dims[i];
		else
			count *= x->dims[i];
	}
	acc = malloc(sizeof(double) * (size_t)(y->numel ? y->numel : 1));
	if (!acc)
		return qp_node_err(err, n, "out of memory");
	for (int64_t i = 0; i < y->numel; i++)
		acc[i] = op == RD_MAX ? -INFINITY : op == RD_MIN ? INFINITY
			: op == RD_PROD ? 1.0 : 0.0;
	for (int64_t i = 0; i < x->numel; i++) {
		double v = x->dtype == QP_DT_FLOAT32 ? CF32(x)[i]
			: qp_elem_get_f64(x->data, x->dtype, i);

		switch (op) {
		case RD_SUM: case RD_MEAN: acc[o] += v; break;
		case RD_MAX: acc[o] = v > acc[o] || isnan(v) ? v : acc[o]; break;
		case RD_MIN: acc[o] = v < acc[o] || isnan(v) ? v : acc[o]; break;
		case RD_PROD: acc[o] *= v; break;
		case RD_SUMSQ: case RD_L2: acc[o] += v * v; break;
		case RD_L1: acc[o] += fabs(v); break;
		}
		for (int k = r - 1; k >= 0; k--) {
			idx[k]++;
			o += ost[k];
			if (idx[k] < x->dims[k])
				break;
			o -= ost[k] * idx[k];
			idx[k] = 0;
		}
	}
	for (int64_t i = 0; i < y->numel; i++) {
		double v = acc[i];

		if (op == RD_MEAN)
			v = count ? v / (double)count : NAN;
		else if (op == RD_L2)
			v = sqrt(v);
		qp_elem_set_f64(y->data, y->dtype, i, v);
	}
	free(acc);
	return 0;
}

/* ArgMax / ArgMin: int64 indices along axis. */
int infer_argmax(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int axis, ro = 0;
	int64_t keep = qp_node_attr_int(n, "keepdims", 1);
	int64_t last = qp_node_attr_int(n, "select_last_index", 0);
	int64_t out[QP_MAX_RANK];

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_numeric(n, x, "input", 1, err) ||
	    qp_want_rank(n, x, "input", 1, QP_MAX_RANK, err))
		return -1;
	if ((keep != 0 && keep != 1) || (last != 0 && last != 1))
		return qp_node_err(err, n, "keepdims %lld / select_last_index %lld must be 0 or 1",
				   (long long)keep, (long long)last);
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", 0), x->rank, "axis", &axis, err))
		return -1;
	if (x->dims[axis] < 1)
		return qp_node_err(err, n, "input '%s' is empty along axis %d",
				   x->name, axis);
	for (int i = 0; i < x->rank; i++) {
		if (i != axis)
			out[ro++] = x->dims[i];
		else if (keep)
			out[ro++] = 1;
	}
	qp_set_out(g, n, 0, QP_DT_INT64, ro, out);
	return 0;
}

int run_argmax(const qp_graph *g, const qp_node *n,
	       const qp_value *const *in, qp_value *const *out,
	       qp_err *err)
{
	const qp_value *x = in[0];
	int axis, is_min = qp_node_row(n)->kind;   /* ArgMin */
	int last = (int)qp_node_attr_int(n, "select_last_index", 0);
	int64_t len, inner, outer;

	(void)g;
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", 0), x->rank, "axis", &axis, err))
		return -1;
	len = x->dims[axis];
	inner = qp_prod(axis + 1, x->rank, x->dims);
	outer = qp_prod(0, axis, x->dims);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * len * inner + i, best = 0;
			double bv = qp_elem_get_f64(x->data, x->dtype, base);

			for (int64_t j = 1; j < len; j++) {
				double v = qp_elem_get_f64(x->data, x->dtype, base + j * inner);
				int better = is_min ? v < bv : v > bv;

				if (better || (last && v == bv)) {
					bv = v;
					best = j;
				}
			}
			((int64_t *)out[0]->data)[o * inner + i] = best;
		}
	return 0;
}

/* TopK(x, k): k a constant int64 scalar or [1]. */
static int topk_k(const qp_graph *gc, const qp_node *n, int64_t *k, qp_err *err)
{
	qp_graph *g = (qp_graph *)gc;   /* only read */
	const qp_tensor *t = qp_in_tensor(g, n, 1);
	int64_t count, *v = qp_const_ints(n, t, "k", &count, err);

	if (!v)
		return -1;
	if (count != 1) {
		free(v);
		return qp_node_err(err, n, "k '%s' has %lld values, expected 1",
				   t->name, (long long)count);
	}
	*k = v[0];
	free(v);
	return 0;
}

int infer_topk(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int axis;
	int64_t k = 0, out[QP_MAX_RANK];
	int64_t largest = qp_node_attr_int(n, "largest", 1);
	int64_t sorted = qp_node_attr_int(n, "sorted", 1);

	if (qp_check_io_n(g, n, 2, 2, 2, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_numeric(n, x, "input", 1, err) ||
	    qp_want_rank(n, x, "input", 1, QP_MAX_RANK, err))
		return -1;
	if ((largest != 0 && largest != 1) || (sorted != 0 && sorted != 1))
		return qp_node_err(err, n, "largest %lld / sorted %lld must be 0 or 1",
				   (long long)largest, (long long)sorted);
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", -1), x->rank, "axis", &axis, err) ||
	    topk_k(g, n, &k, err))
		return -1;
	if (k < 0 || k > x->dims[axis])
		return qp_node_err(err, n, "k %lld is outside 0..%lld (axis %d of '%s')",
				   (long long)k, (long long)x->dims[axis], axis, x->name);
	memcpy(out, x->dims, sizeof(int64_t) * (size_t)x->rank);
	out[axis] = k;
	qp_set_out(g, n, 0, qp_compute_dtype(x), x->rank, out);
	qp_set_out(g, n, 1, QP_DT_INT64, x->rank, out);
	return 0;
}

typedef struct topk_item {
	double v;
	int64_t i;
} topk_item;

/* Larger value first, then lower index (ONNX: equal values keep index
 * order); NaN counts as larger than any number. */
static int topk_cmp_largest(const void *pa, const void *pb)
{
	const topk_item *a = pa, *b = pb;

	if (a->v != b->v) {
		if (isnan(a->v) || a->v > b->v)
			return isnan(b->v) ? (a->i < b->i ? -1 : 1) : -1;
		if (isnan(b->v) || a->v < b->v)
			return 1;
	}
	return a->i < b->i ? -1 : a->i > b->i;
}

static int topk_cmp_smallest(const void *pa, const void *pb)
{
	const topk_item *a = pa, *b = pb;

	if (a->v != b->v) {
		if (isnan(b->v) || a->v < b->v)
			return isnan(a->v) ? (a->i < b->i ? -1 : 1) : -1;
		if (isnan(a->v) || a->v > b->v)
			return 1;
	}
	return a->i < b->i ? -1 : a->i > b->i;
}

int run_topk(const qp_graph *g, const qp_node *n,
	     const qp_value *const *in, qp_value *const *out,
	     qp_err *err)
{
	const qp_value *x = in[0];
	int axis, largest = (int)qp_node_attr_int(n, "largest", 1);
	int64_t k, len, inner, outer;
	topk_item *items;

	(void)g;
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", -1), x->rank, "axis", &axis, err))
		return -1;
	k = out[0]->dims[axis];
	len = x->dims[axis];
	inner = qp_prod(axis + 1, x->rank, x->dims);
	outer = qp_prod(0, axis, x->dims);
	items = malloc(sizeof *items * (size_t)(len ? len : 1));
	if (!items)
		return qp_node_err(err, n, "out of memory");
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * len * inner + i, obase = o * k * inner + i;

			for (int64_t j = 0; j < len; j++) {
				items[j].v = qp_elem_get_f64(x->data, x->dtype, base + j * inner);
				items[j].i = j;
			}
			/* The comparators break ties by index, so the
			 * unstable qsort gives one defined order; sorted=0
			 * leaves the order open, so sorted order is fine. */
			qsort(items, (size_t)len, sizeof *items,
			      largest ? topk_cmp_largest : topk_cmp_smallest);
			for (int64_t j = 0; j < k; j++) {
				int64_t src = base + items[j].i * inner;

				memcpy((char *)out[0]->data + (size_t)(obase + j * inner) * qp_dtype_size(x->dtype),
				       (const char *)x->data + (size_t)src * qp_dtype_size(x->dtype),
				       qp_dtype_size(x->dtype));
				((int64_t *)out[1]->data)[obase + j * inner] = items[j].i;
			}
		}
	free(items);
	return 0;
}
