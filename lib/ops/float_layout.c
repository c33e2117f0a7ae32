/* Ops that relabel or permute elements: Flatten, Reshape, Identity and
 * Transpose.  The first three only relabel the shape (the bytes are the
 * same), so their kernel is qp_kernel_copy and only their shape rules are
 * here.
 */
#include "ops_float_internal.h"

#include <string.h>

int infer_flatten(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t axis, out[2];

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	axis = qp_node_attr_int(n, "axis", 1);
	if (axis < -x->rank || axis > x->rank)
		return qp_node_err(err, n, "axis %lld is out of range for rank %d",
				(long long)axis, x->rank);
	if (axis < 0)
		axis += x->rank;
	out[0] = qp_prod(0, (int)axis, x->dims);
	out[1] = qp_prod((int)axis, x->rank, x->dims);
	qp_set_out(g, n, 0, x->dtype, 2, out);
	return 0;
}

int infer_reshape(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *shape;
	const int64_t *want;
	int64_t out[QP_MAX_RANK], known = 1, numel;
	int rank, infer_at = -1, allowzero;
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	shape = qp_in_tensor(g, n, 1);
	if (!shape->data || shape->dtype != QP_DT_INT64 || shape->rank != 1)
		return qp_node_err(err, n, "shape '%s' must be a constant 1-d int64 tensor",
				shape->name);
	rank = (int)shape->dims[0];
	if (rank > QP_MAX_RANK)
		return qp_node_err(err, n, "shape '%s' has %d dims, at most %d are supported",
				shape->name, rank, QP_MAX_RANK);
	want = shape->data;
	allowzero = (int)qp_node_attr_int(n, "allowzero", 0);
	numel = qp_tensor_numel(x);
	for (int i = 0; i < rank; i++) {
		int64_t d = want[i];

		if (d == -1) {
			if (infer_at >= 0)
				return qp_node_err(err, n, "shape '%s' has more than one -1",
						shape->name);
			infer_at = i;
			out[i] = 1;
			continue;
		}
		if (d == 0 && !allowzero) {
			if (i >= x->rank)
				return qp_node_err(err, n, "shape '%s' copies dim %d (0) but the input has rank %d",
						shape->name, i, x->rank);
			d = x->dims[i];
		}
		if (d < 0)
			return qp_node_err(err, n, "shape '%s' has invalid dim %lld",
					shape->name, (long long)d);
		out[i] = d;
		if (d > 0 && known > INT64_MAX / d)
			return qp_node_err(err, n, "shape '%s' overflows", shape->name);
		known *= d;
	}
	if (infer_at >= 0) {
		if (known == 0 || numel % known != 0)
			return qp_node_err(err, n, "cannot reshape input '%s' %s to %s",
					x->name, qp_dims_str(x->rank, x->dims, s1, sizeof s1),
					qp_dims_str(rank, want, s2, sizeof s2));
		out[infer_at] = numel / known;
		known = numel;
	}
	if (known != numel)
		return qp_node_err(err, n, "cannot reshape input '%s' %s (%lld elements) to %s (%lld elements)",
				x->name, qp_dims_str(x->rank, x->dims, s1, sizeof s1),
				(long long)numel, qp_dims_str(rank, out, s2, sizeof s2),
				(long long)known);
	qp_set_out(g, n, 0, x->dtype, rank, out);
	return 0;
}

int infer_identity(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	qp_set_out(g, n, 0, x->dtype, x->rank, x->dims);
	return 0;
}

/* perm attribute, or the reversed axes when absent; validated. */
static int transpose_perm(const qp_node *n, int rank, int *perm, qp_err *err)
{
	int count, seen[QP_MAX_RANK] = {0};
	const int64_t *p = qp_node_attr_ints(n, "perm", &count);

	if (!qp_node_attr(n, "perm")) {
		for (int i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
		return 0;
	}
	if (count != rank)
		return qp_node_err(err, n, "perm has %d values for an input of rank %d",
				count, rank);
	for (int i = 0; i < rank; i++) {
		if (p[i] < 0 || p[i] >= rank || seen[p[i]])
			return qp_node_err(err, n, "perm is not a permutation of 0..%d",
					rank - 1);
		seen[p[i]] = 1;
		perm[i] = (int)p[i];
	}
	return 0;
}

int infer_transpose(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int perm[QP_MAX_RANK];
	int64_t out[QP_MAX_RANK];

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (transpose_perm(n, x->rank, perm, err))
		return -1;
	for (int i = 0; i < x->rank; i++)
		out[i] = x->dims[perm[i]];
	qp_set_out(g, n, 0, x->dtype, x->rank, out);
	return 0;
}

int run_transpose(const qp_graph *g, const qp_node *n,
		  const qp_value *const *in, qp_value *const *out,
		  qp_err *err)
{
	const qp_value *x = in[0];
	int r = x->rank, perm[QP_MAX_RANK];
	int64_t in_stride[QP_MAX_RANK], st[QP_MAX_RANK], idx[QP_MAX_RANK] = {0};
	int64_t off = 0, stride = 1;
	size_t es = qp_dtype_size(x->dtype);
	const unsigned char *src = x->data;
	unsigned char *dst = out[0]->data;

	(void)g;
	if (transpose_perm(n, r, perm, err))
		return -1;
	if (r == 0 || x->numel == 0)
		return qp_kernel_copy(g, n, in, out, err);
	for (int i = r - 1; i >= 0; i--) {
		in_stride[i] = stride;
		stride *= x->dims[i];
	}
	for (int i = 0; i < r; i++)
		st[i] = in_stride[perm[i]];
	for (int64_t o = 0; o < out[0]->numel; o++) {
		memcpy(dst + (size_t)o * es, src + (size_t)off * es, es);
		for (int i = r - 1; i >= 0; i--) {
			idx[i]++;
			off += st[i];
			if (idx[i] < out[0]->dims[i])
				break;
			off -= st[i] * idx[i];
			idx[i] = 0;
		}
	}
	return 0;
}
