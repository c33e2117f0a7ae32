/* Float ops with ONNX semantics (docs/ir.md section 3): one row per op with
 * its shape inference, its float32 kernel and the attributes it defines
 * (the table at the end; tests/conformance/doc_ops.py holds docs/ir.md to
 * it).
 *
 * Inference validates everything a kernel relies on (ranks, channel counts,
 * kernel against input size, attribute values), so kernels trust the shapes
 * of the values they are given; the interpreter re-runs inference on a
 * scratch copy of the graph before it runs anything, so an IR whose stored
 * shapes disagree with the ops never reaches a kernel.
 *
 * Weights of a quantized IR (int8/int32 with quant) are accepted wherever a
 * float operand is: the interpreter hands kernels a dequantized float copy.
 */
#include "ops_common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

/* ---- shared helpers --------------------------------------------------- */

/* Geometry of a 1-D or 2-D window op, always stored as 2-D (a 1-D op gets
 * height 1), so kernels have one code path. */
typedef struct window {
	int64_t n, c, h, w;         /* input */
	int64_t kh, kw, sh, sw, dh, dw;
	int64_t pt, pl, pb, pr;     /* pads: top, left, bottom, right */
	int64_t oh, ow;             /* output */
} window;

/* Window geometry along every spatial axis of a Conv or pool: strides s,
 * dilations d, pads p (begins then ends), output sizes out.  x_dims: the
 * input's [N, C, spatial...]; k: the kernel's spatial sizes.  is_pool
 * enables ceil_mode. */
static int window_axes(const qp_node *n, int rank, const int64_t *x_dims,
		       const int64_t *k, int is_pool, int64_t *s, int64_t *d,
		       int64_t *p, int64_t *out, qp_err *err)
{
	int sp = rank - 2;
	int ceil_mode = is_pool ? (int)qp_node_attr_int(n, "ceil_mode", 0) : 0;

	if (qp_spatial_ints(n, "strides", sp, 1, 1, s, err) ||
	    qp_spatial_ints(n, "dilations", sp, 1, 1, d, err) ||
	    qp_spatial_ints(n, "pads", 2 * sp, 0, 0, p, err))
		return -1;
	if (strcmp(qp_node_attr_string(n, "auto_pad", "NOTSET"), "NOTSET") != 0)
		return qp_node_err(err, n, "auto_pad '%s' must be resolved into pads by the importer",
				qp_node_attr_string(n, "auto_pad", "NOTSET"));
	if (ceil_mode != 0 && ceil_mode != 1)
		return qp_node_err(err, n, "attribute 'ceil_mode' is %d, expected 0 or 1",
				ceil_mode);
	for (int i = 0; i < sp; i++) {
		int64_t padded = x_dims[2 + i] + p[i] + p[sp + i], span;

		if (k[i] < 1 || k[i] > QP_MAX_WINDOW)
			return qp_node_err(err, n, "kernel size %lld is not in [1, %lld]",
					(long long)k[i], (long long)QP_MAX_WINDOW);
		span = d[i] * (k[i] - 1) + 1;
		/* Conv may pad more than its kernel covers; a pool window
		 * entirely in padding would have no value (PyTorch forbids it). */
		if (is_pool && (p[i] >= span || p[sp + i] >= span))
			return qp_node_err(err, n, "pads %lld,%lld must be smaller than the kernel extent %lld",
					(long long)p[i], (long long)p[sp + i],
					(long long)span);
		if (span > padded)
			return qp_node_err(err, n, "kernel extent %lld is larger than the padded input %lld along spatial axis %d",
					(long long)span, (long long)padded, i);
		out[i] = (padded - span) / s[i] + 1;
		if (ceil_mode) {
			out[i] = (padded - span + s[i] - 1) / s[i] + 1;
			/* The last window must start inside the input or the
			 * left padding (ONNX and PyTorch agree). */
			if ((out[i] - 1) * s[i] >= x_dims[2 + i] + p[i])
				out[i]--;
		}
	}
	return 0;
}

/* The 1-D or 2-D geometry as a window (rank 3 or 4). */
static int window_init(const qp_node *n, int rank, const int64_t *x_dims,
		       const int64_t *k, int is_pool, window *win, qp_err *err)
{
	int64_t s[2], d[2], p[4], out[2];

	if (window_axes(n, rank, x_dims, k, is_pool, s, d, p, out, err))
		return -1;
	win->n = x_dims[0];
	win->c = x_dims[1];
	if (rank == 3) {
		win->h = 1, win->kh = 1, win->sh = 1, win->dh = 1;
		win->pt = 0, win->pb = 0, win->oh = 1;
		win->w = x_dims[2], win->kw = k[0], win->sw = s[0], win->dw = d[0];
		win->pl = p[0], win->pr = p[1], win->ow = out[0];
	} else {
		win->h = x_dims[2], win->kh = k[0], win->sh = s[0], win->dh = d[0];
		win->pt = p[0], win->pb = p[2], win->oh = out[0];
		win->w = x_dims[3], win->kw = k[1], win->sw = s[1], win->dw = d[1];
		win->pl = p[1], win->pr = p[3], win->ow = out[1];
	}
	return 0;
}

static void window_out_dims(const window *win, int rank, int64_t *dims,
			    int64_t channels)
{
	dims[0] = win->n;
	dims[1] = channels;
	if (rank == 3) {
		dims[2] = win->ow;
	} else {
		dims[2] = win->oh;
		dims[3] = win->ow;
	}
}

/* ---- shape inference ---------------------------------------------------- */

static int infer_conv(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *w, *b;
	int64_t group, c, m, k[2], out[4];
	window win;
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	w = qp_in_tensor(g, n, 1);
	b = qp_in_tensor(g, n, 2);
	if (qp_want_real(n, x, "input", err) || qp_want_real(n, w, "weight", err) ||
	    qp_want_rank(n, x, "input", 3, 4, err))
		return -1;
	if (w->rank != x->rank)
		return qp_node_err(err, n, "weight '%s' has shape %s, input '%s' %s: ranks differ",
				w->name, qp_dims_str(w->rank, w->dims, s1, sizeof s1),
				x->name, qp_dims_str(x->rank, x->dims, s2, sizeof s2));
	group = qp_node_attr_int(n, "group", 1);
	c = x->dims[1];
	m = w->dims[0];
	if (group < 1)
		return qp_node_err(err, n, "group %lld is not positive", (long long)group);
	/* BLAS wants leading dimensions >= 1: refuse empty operands here. */
	if (c < 1 || m < 1 || x->dims[0] < 1)
		return qp_node_err(err, n, "empty input '%s' %s or weight '%s' %s",
				x->name, qp_dims_str(x->rank, x->dims, s1, sizeof s1),
				w->name, qp_dims_str(w->rank, w->dims, s2, sizeof s2));
	if (c % group != 0 || m % group != 0)
		return qp_node_err(err, n, "group %lld does not divide the input channels %lld and output channels %lld",
				(long long)group, (long long)c, (long long)m);
	if (w->dims[1] * group != c)
		return qp_node_err(err, n, "input '%s' has %lld channels, weight '%s' %s expects %lld (group %lld)",
				x->name, (long long)c, w->name,
				qp_dims_str(w->rank, w->dims, s1, sizeof s1),
				(long long)(w->dims[1] * group), (long long)group);
	if (qp_node_attr(n, "kernel_shape")) {
		int64_t ks[2];

		if (qp_spatial_ints(n, "kernel_shape", x->rank - 2, 1, 1, ks, err))
			return -1;
		for (int i = 0; i < x->rank - 2; i++)
			if (ks[i] != w->dims[2 + i])
				return qp_node_err(err, n, "kernel_shape %lld does not match weight '%s' %s",
						(long long)ks[i], w->name,
						qp_dims_str(w->rank, w->dims, s1, sizeof s1));
	}
	if (b) {
		if (qp_want_real(n, b, "bias", err))
			return -1;
		if (b->rank != 1 || b->dims[0] != m)
			return qp_node_err(err, n, "bias '%s' has shape %s, expected [%lld]",
					b->name, qp_dims_str(b->rank, b->dims, s1, sizeof s1),
					(long long)m);
	}
	for (int i = 0; i < x->rank - 2; i++)
		k[i] = w->dims[2 + i];
	if (window_init(n, x->rank, x->dims, k, 0, &win, err))
		return -1;
	window_out_dims(&win, x->rank, out, m);
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, out);
	return 0;
}

static int infer_pool(qp_graph *g, int node, int is_max, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t k[3], out[5];
	window win;

	if (qp_check_io_n(g, n, 1, 1, 1, is_max ? 2 : 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	/* max is order-preserving for any affine quantization, so MaxPool
	 * also runs on int8 activations of a lowered IR (and ONNX defines it
	 * on int8 and uint8). */
	if (!(is_max && (x->dtype == QP_DT_INT8 || x->dtype == QP_DT_UINT8)) &&
	    qp_want_real(n, x, "input", err))
		return -1;
	if (qp_want_rank(n, x, "input", 3, 5, err))
		return -1;
	if (!qp_node_attr(n, "kernel_shape"))
		return qp_node_err(err, n, "attribute 'kernel_shape' is missing");
	if (qp_spatial_ints(n, "kernel_shape", x->rank - 2, 1, 1, k, err))
		return -1;
	if (!is_max) {
		int64_t d[3];
		int64_t cip = qp_node_attr_int(n, "count_include_pad", 0);

		if (qp_spatial_ints(n, "dilations", x->rank - 2, 1, 1, d, err))
			return -1;
		for (int i = 0; i < x->rank - 2; i++)
			if (d[i] != 1)
				return qp_node_err(err, n, "dilations %lld are not supported",
						(long long)d[i]);
		if (cip != 0 && cip != 1)
			return qp_node_err(err, n, "attribute 'count_include_pad' is %lld, expected 0 or 1",
					(long long)cip);
	}
	if (qp_node_attr_int(n, "storage_order", 0) != 0 &&
	    qp_node_attr_int(n, "storage_order", 0) != 1)
		return qp_node_err(err, n, "attribute 'storage_order' is %lld, expected 0 or 1",
				   (long long)qp_node_attr_int(n, "storage_order", 0));
	if (x->rank == 5) {
		int64_t st[3], dl[3], pd[6];

		if (window_axes(n, 5, x->dims, k, 1, st, dl, pd, out + 2, err))
			return -1;
		out[0] = x->dims[0], out[1] = x->dims[1];
	} else {
		if (window_init(n, x->rank, x->dims, k, 1, &win, err))
			return -1;
		window_out_dims(&win, x->rank, out, x->dims[1]);
	}
	qp_set_out(g, n, 0, is_max ? x->dtype : QP_DT_FLOAT32, x->rank, out);
	/* MaxPool's Indices: the flat index of each maximum in the input
	 * (N and C included, padding not counted), as ONNX defines it. */
	if (n->n_outputs == 2)
		qp_set_out(g, n, 1, QP_DT_INT64, x->rank, out);
	return 0;
}

static int infer_maxpool(qp_graph *g, int node, qp_err *err)
{
	return infer_pool(g, node, 1, err);
}

static int infer_avgpool(qp_graph *g, int node, qp_err *err)
{
	return infer_pool(g, node, 0, err);
}

static int infer_gap(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t out[QP_MAX_RANK];

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_real(n, x, "input", err) ||
	    qp_want_rank(n, x, "input", 3, QP_MAX_RANK, err))
		return -1;
	for (int i = 0; i < x->rank; i++)
		out[i] = i < 2 ? x->dims[i] : 1;
	for (int i = 2; i < x->rank; i++)
		if (x->dims[i] < 1)
			return qp_node_err(err, n, "input '%s' has an empty spatial axis", x->name);
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, out);
	return 0;
}

static int infer_gemm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b, *c;
	int64_t ta, tb, m, k, kb, nn, out[2];
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	c = qp_in_tensor(g, n, 2);
	if (qp_want_real(n, a, "input A", err) || qp_want_real(n, b, "input B", err) ||
	    qp_want_rank(n, a, "input A", 2, 2, err) ||
	    qp_want_rank(n, b, "input B", 2, 2, err))
		return -1;
	ta = qp_node_attr_int(n, "transA", 0);
	tb = qp_node_attr_int(n, "transB", 0);
	if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
		return qp_node_err(err, n, "transA %lld / transB %lld must be 0 or 1",
				(long long)ta, (long long)tb);
	m = ta ? a->dims[1] : a->dims[0];
	k = ta ? a->dims[0] : a->dims[1];
	kb = tb ? b->dims[1] : b->dims[0];
	nn = tb ? b->dims[0] : b->dims[1];
	if (m < 1 || k < 1 || nn < 1)
		return qp_node_err(err, n, "empty operand: A '%s' %s, B '%s' %s",
				a->name, qp_dims_str(2, a->dims, s1, sizeof s1),
				b->name, qp_dims_str(2, b->dims, s2, sizeof s2));
	if (k != kb)
		return qp_node_err(err, n, "inner dimensions differ: A '%s' %s (transA %lld), B '%s' %s (transB %lld)",
				a->name, qp_dims_str(2, a->dims, s1, sizeof s1), (long long)ta,
				b->name, qp_dims_str(2, b->dims, s2, sizeof s2), (long long)tb);
	if (c) {
		int ok = 1;

		if (qp_want_real(n, c, "input C", err))
			return -1;
		if (c->rank > 2)
			ok = 0;
		else if (c->rank == 1)
			ok = c->dims[0] == 1 || c->dims[0] == nn;
		else if (c->rank == 2)
			ok = (c->dims[0] == 1 || c->dims[0] == m) &&
			     (c->dims[1] == 1 || c->dims[1] == nn);
		if (!ok)
			return qp_node_err(err, n, "input C '%s' %s does not broadcast to [%lld,%lld]",
					c->name, qp_dims_str(c->rank, c->dims, s1, sizeof s1),
					(long long)m, (long long)nn);
	}
	out[0] = m;
	out[1] = nn;
	qp_set_out(g, n, 0, QP_DT_FLOAT32, 2, out);
	return 0;
}

/* MatMul operands brought to rank >= 2 ([K] -> [1,K] for A, [K,1] for B),
 * and the output shape with those added axes removed again. */
typedef struct matmul_shape {
	int ra, rb, ro_batch;       /* ranks after promotion; batch rank */
	int64_t a[QP_MAX_RANK], b[QP_MAX_RANK];
	int64_t batch[QP_MAX_RANK]; /* broadcast batch dims */
	int64_t m, k, n;
	int out_rank;
	int64_t out[QP_MAX_RANK];
} matmul_shape;

static int matmul_shape_init(const qp_node *n, int ra, const int64_t *adims,
			     int rb, const int64_t *bdims, matmul_shape *s,
			     qp_err *err)
{
	char s1[160], s2[160];

	if (ra < 1 || rb < 1)
		return qp_node_err(err, n, "operands must have rank 1 or more, not %d and %d",
				ra, rb);
	if (ra == 1) {
		s->ra = 2, s->a[0] = 1, s->a[1] = adims[0];
	} else {
		s->ra = ra;
		memcpy(s->a, adims, sizeof(int64_t) * (size_t)ra);
	}
	if (rb == 1) {
		s->rb = 2, s->b[0] = bdims[0], s->b[1] = 1;
	} else {
		s->rb = rb;
		memcpy(s->b, bdims, sizeof(int64_t) * (size_t)rb);
	}
	s->m = s->a[s->ra - 2];
	s->k = s->a[s->ra - 1];
	s->n = s->b[s->rb - 1];
	if (s->m < 1 || s->k < 1 || s->n < 1)
		return qp_node_err(err, n, "empty operand: %s x %s",
				qp_dims_str(ra, adims, s1, sizeof s1),
				qp_dims_str(rb, bdims, s2, sizeof s2));
	if (s->b[s->rb - 2] != s->k)
		return qp_node_err(err, n, "inner dimensions differ: %s x %s",
				qp_dims_str(ra, adims, s1, sizeof s1),
				qp_dims_str(rb, bdims, s2, sizeof s2));
	if (qp_broadcast_dims(s->ra - 2, s->a, s->rb - 2, s->b, &s->ro_batch, s->batch))
		return qp_node_err(err, n, "batch dimensions of %s and %s do not broadcast",
				qp_dims_str(ra, adims, s1, sizeof s1),
				qp_dims_str(rb, bdims, s2, sizeof s2));
	s->out_rank = s->ro_batch;
	memcpy(s->out, s->batch, sizeof(int64_t) * (size_t)s->ro_batch);
	if (ra != 1)
		s->out[s->out_rank++] = s->m;
	if (rb != 1)
		s->out[s->out_rank++] = s->n;
	return 0;
}

static int infer_matmul(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b;
	matmul_shape s;

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	if (qp_want_real(n, a, "input A", err) || qp_want_real(n, b, "input B", err))
		return -1;
	if (matmul_shape_init(n, a->rank, a->dims, b->rank, b->dims, &s, err))
		return -1;
	qp_set_out(g, n, 0, QP_DT_FLOAT32, s.out_rank, s.out);
	return 0;
}

static int infer_flatten(qp_graph *g, int node, qp_err *err)
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

static int infer_reshape(qp_graph *g, int node, qp_err *err)
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

static int infer_softmax(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t axis;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_real(n, x, "input", err) ||
	    qp_want_rank(n, x, "input", 1, QP_MAX_RANK, err))
		return -1;
	axis = qp_node_attr_int(n, "axis", -1);
	if (axis < -x->rank || axis >= x->rank)
		return qp_node_err(err, n, "axis %lld is out of range for rank %d",
				(long long)axis, x->rank);
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

static int infer_batchnorm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	static const char *const what[] = {"input", "scale", "bias", "mean", "var"};
	const qp_tensor *x;
	char s1[160];

	if (n->n_outputs > 1 || qp_node_attr_int(n, "training_mode", 0) != 0)
		return qp_node_err(err, n, "training mode is not supported");
	if (qp_check_io(g, n, 5, 5, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_rank(n, x, "input", 2, QP_MAX_RANK, err))
		return -1;
	for (int i = 0; i < 5; i++) {
		const qp_tensor *t = qp_in_tensor(g, n, i);

		if (qp_want_real(n, t, what[i], err))
			return -1;
		if (i > 0 && (t->rank != 1 || t->dims[0] != x->dims[1]))
			return qp_node_err(err, n, "%s '%s' has shape %s, expected [%lld]",
					what[i], t->name,
					qp_dims_str(t->rank, t->dims, s1, sizeof s1),
					(long long)x->dims[1]);
	}
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, x->dims);
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

static int infer_transpose(qp_graph *g, int node, qp_err *err)
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

/* ---- kernels ------------------------------------------------------------ */

#define F32(v) ((float *)(v)->data)
#define CF32(v) ((const float *)(v)->data)

/* Geometry of a Conv/pool from the values (the graph was inferred, so this
 * cannot fail on a verified graph; errors are still reported). */
static int window_from_values(const qp_node *n, const qp_value *x,
			      const int64_t *k, int is_pool, window *win,
			      qp_err *err)
{
	return window_init(n, x->rank, x->dims, k, is_pool, win, err);
}

/* Unfolds one group's input [cg, h, w] into col [cg*kh*kw, oh*ow]. */
static void im2col(const float *x, int64_t cg, const window *win, float *col)
{
	int64_t p = win->oh * win->ow;

	for (int64_t c = 0; c < cg; c++)
		for (int64_t ki = 0; ki < win->kh; ki++)
			for (int64_t kj = 0; kj < win->kw; kj++) {
				float *row = col + ((c * win->kh + ki) * win->kw + kj) * p;
				const float *plane = x + c * win->h * win->w;

				for (int64_t oy = 0; oy < win->oh; oy++) {
					int64_t iy = oy * win->sh - win->pt + ki * win->dh;
					float *dst = row + oy * win->ow;

					if (iy < 0 || iy >= win->h) {
						memset(dst, 0, sizeof(float) * (size_t)win->ow);
						continue;
					}
					for (int64_t ox = 0; ox < win->ow; ox++) {
						int64_t ix = ox * win->sw - win->pl + kj * win->dw;

						dst[ox] = ix < 0 || ix >= win->w ? 0.0f
							: plane[iy * win->w + ix];
					}
				}
			}
}

static int run_conv(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *w = in[1], *b = n->n_inputs > 2 ? in[2] : NULL;
	int64_t k[2], group = qp_node_attr_int(n, "group", 1);
	int64_t cg, m, mg, kdim, p;
	int pointwise;
	float *col = NULL;
	window win;

	(void)g;
	for (int i = 0; i < x->rank - 2; i++)
		k[i] = w->dims[2 + i];
	if (window_from_values(n, x, k, 0, &win, err))
		return -1;
	m = w->dims[0];
	cg = win.c / group;
	mg = m / group;
	kdim = cg * win.kh * win.kw;
	p = win.oh * win.ow;
	/* A 1x1, stride 1, unpadded convolution is a plain GEMM over the
	 * input planes: no unfolding needed. */
	pointwise = win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 &&
		    win.pt == 0 && win.pl == 0 && win.pb == 0 && win.pr == 0;
	if (!pointwise) {
		col = malloc(sizeof(float) * (size_t)(kdim * p > 0 ? kdim * p : 1));
		if (!col)
			return qp_node_err(err, n, "out of memory for %lld unfolded values",
					(long long)(kdim * p));
	}
	for (int64_t b_i = 0; b_i < win.n; b_i++) {
		const float *xb = CF32(x) + b_i * win.c * win.h * win.w;
		float *yb = F32(out[0]) + b_i * m * p;

		if (b) {
			for (int64_t o = 0; o < m; o++)
				for (int64_t j = 0; j < p; j++)
					yb[o * p + j] = CF32(b)[o];
		}
		for (int64_t gi = 0; gi < group; gi++) {
			const float *xg = xb + gi * cg * win.h * win.w;
			const float *src = xg;

			if (!pointwise) {
				im2col(xg, cg, &win, col);
				src = col;
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    (int)mg, (int)p, (int)kdim, 1.0f,
				    CF32(w) + gi * mg * kdim, (int)kdim,
				    src, (int)p, b ? 1.0f : 0.0f,
				    yb + gi * mg * p, (int)p);
		}
	}
	free(col);
	return 0;
}

/* Window bounds along one axis for output position o (before clipping to
 * the input). */
static void window_span(int64_t o, int64_t stride, int64_t pad_begin,
			int64_t kernel, int64_t dil, int64_t *first,
			int64_t *last_excl)
{
	*first = o * stride - pad_begin;
	*last_excl = *first + (kernel - 1) * dil + 1;
}

/* 3-D pooling (rank 5, float32): the 1-D/2-D kernels' rules (max over
 * the cells inside the input, average over the cells inside the input or,
 * with count_include_pad, inside the padded input) along three axes. */
static int run_pool3d(const qp_node *n, const qp_value *x, qp_value *const *out,
		      int is_max, qp_err *err)
{
	int64_t k[3], s[3], d[3], p[6], od[3], lo[3], hi[3], cnt_hi[3], o = 0;
	int include_pad = (int)qp_node_attr_int(n, "count_include_pad", 0), ks_n, i;
	int col_major = qp_node_attr_int(n, "storage_order", 0) == 1;
	const int64_t *ks = qp_node_attr_ints(n, "kernel_shape", &ks_n);
	const int64_t *xd = x->dims + 2;
	const float *xs = CF32(x);

	if (x->dtype != QP_DT_FLOAT32)
		return qp_node_err(err, n, "3-D pooling takes float32, not %s",
				   qp_dtype_name(x->dtype));
	for (i = 0; i < 3; i++)
		k[i] = ks[i];
	if (window_axes(n, 5, x->dims, k, 1, s, d, p, od, err))
		return -1;
	for (int64_t pl = 0; pl < x->dims[0] * x->dims[1]; pl++) {
		const float *xp = xs + pl * xd[0] * xd[1] * xd[2];

		for (int64_t a = 0; a < od[0]; a++)
		for (int64_t b = 0; b < od[1]; b++)
		for (int64_t c = 0; c < od[2]; c++, o++) {
			int64_t at[3] = {a, b, c}, best_i = -1, count = 1;
			float best = -INFINITY;
			double sum = 0;

			for (i = 0; i < 3; i++) {
				lo[i] = at[i] * s[i] - p[i];
				hi[i] = lo[i] + (k[i] - 1) * d[i] + 1;
				/* count_include_pad stops at the end padding */
				cnt_hi[i] = hi[i] < xd[i] + p[3 + i] ? hi[i] : xd[i] + p[3 + i];
				count *= cnt_hi[i] - lo[i];
			}
			if (!include_pad)
				count = 0;
			for (int64_t z = lo[0]; z < hi[0]; z += d[0]) {
				if (z < 0 || z >= xd[0])
					continue;
				for (int64_t y = lo[1]; y < hi[1]; y += d[1]) {
					if (y < 0 || y >= xd[1])
						continue;
					for (int64_t w = lo[2]; w < hi[2]; w += d[2]) {
						int64_t idx = (z * xd[1] + y) * xd[2] + w;

						if (w < 0 || w >= xd[2])
							continue;
						if (xp[idx] > best || best_i < 0)
							best = xp[idx], best_i = idx;
						sum += xp[idx];
						if (!include_pad)
							count++;
					}
				}
			}
			if (is_max) {
				F32(out[0])[o] = best;
				if (n->n_outputs == 2 && out[1]) {
					/* storage_order 1: column-major within the volume */
					int64_t z = best_i / (xd[1] * xd[2]), y = best_i / xd[2] % xd[1],
						w = best_i % xd[2];

					((int64_t *)out[1]->data)[o] = pl * xd[0] * xd[1] * xd[2] +
						(col_major ? (w * xd[1] + y) * xd[0] + z : best_i);
				}
			} else {
				F32(out[0])[o] = count > 0 ? (float)(sum / (double)count) : 0.0f;
			}
		}
	}
	return 0;
}

static int run_maxpool(const qp_graph *g, const qp_node *n,
		       const qp_value *const *in, qp_value *const *out,
		       qp_err *err)
{
	const qp_value *x = in[0];
	int64_t k[2];
	int ks_n;
	const int64_t *ks = qp_node_attr_ints(n, "kernel_shape", &ks_n);
	int col_major = qp_node_attr_int(n, "storage_order", 0) == 1;
	window win;

	(void)g;
	if (x->rank == 5)
		return run_pool3d(n, x, out, 1, err);
	for (int i = 0; i < ks_n && i < 2; i++)
		k[i] = ks[i];
	if (window_from_values(n, x, k, 1, &win, err))
		return -1;
	for (int64_t pl = 0; pl < win.n * win.c; pl++) {
		for (int64_t oy = 0; oy < win.oh; oy++)
			for (int64_t ox = 0; ox < win.ow; ox++) {
				int64_t y0, y1, x0, x1, o = (pl * win.oh + oy) * win.ow + ox;
				int64_t best_i = -1;
				float best = -INFINITY;
				int found = 0;

				window_span(oy, win.sh, win.pt, win.kh, win.dh, &y0, &y1);
				window_span(ox, win.sw, win.pl, win.kw, win.dw, &x0, &x1);
				for (int64_t iy = y0; iy < y1; iy += win.dh) {
					if (iy < 0 || iy >= win.h)
						continue;
					for (int64_t ix = x0; ix < x1; ix += win.dw) {
						int64_t i = (pl * win.h + iy) * win.w + ix;
						float v;

						if (ix < 0 || ix >= win.w)
							continue;
						v = x->dtype == QP_DT_INT8 ? ((const int8_t *)x->data)[i]
						  : x->dtype == QP_DT_UINT8 ? ((const uint8_t *)x->data)[i]
						  : CF32(x)[i];
						if (!found || v > best)
							best = v, best_i = i;
						found = 1;
					}
				}
				if (x->dtype == QP_DT_INT8)
					((int8_t *)out[0]->data)[o] = found ? (int8_t)best : INT8_MIN;
				else if (x->dtype == QP_DT_UINT8)
					((uint8_t *)out[0]->data)[o] = found ? (uint8_t)best : 0;
				else
					F32(out[0])[o] = best;
				if (n->n_outputs == 2 && out[1]) {
					/* row-major flat index, or column-major
					 * within the plane for storage_order 1 */
					int64_t in_plane = best_i - pl * win.h * win.w;

					if (col_major && best_i >= 0)
						best_i = pl * win.h * win.w + in_plane % win.w * win.h +
							 in_plane / win.w;
					((int64_t *)out[1]->data)[o] = best_i;
				}
			}
	}
	return 0;
}

static int run_avgpool(const qp_graph *g, const qp_node *n,
		       const qp_value *const *in, qp_value *const *out,
		       qp_err *err)
{
	const qp_value *x = in[0];
	int64_t k[2];
	int ks_n;
	const int64_t *ks = qp_node_attr_ints(n, "kernel_shape", &ks_n);
	int include_pad = (int)qp_node_attr_int(n, "count_include_pad", 0);
	window win;

	(void)g;
	if (x->rank == 5)
		return run_pool3d(n, x, out, 0, err);
	for (int i = 0; i < ks_n && i < 2; i++)
		k[i] = ks[i];
	if (window_from_values(n, x, k, 1, &win, err))
		return -1;
	for (int64_t pl = 0; pl < win.n * win.c; pl++) {
		const float *xp = CF32(x) + pl * win.h * win.w;

		for (int64_t oy = 0; oy < win.oh; oy++)
			for (int64_t ox = 0; ox < win.ow; ox++) {
				int64_t y0 = oy * win.sh - win.pt, x0 = ox * win.sw - win.pl;
				int64_t y1 = y0 + win.kh, x1 = x0 + win.kw, count;
				float sum = 0.0f;

				/* count_include_pad counts the padding cells but not
				 * the cells a ceil_mode window hangs past the end
				 * padding (PyTorch's and onnxruntime's rule). */
				if (y1 > win.h + win.pb)
					y1 = win.h + win.pb;
				if (x1 > win.w + win.pr)
					x1 = win.w + win.pr;
				count = (y1 - y0) * (x1 - x0);
				if (y0 < 0)
					y0 = 0;
				if (x0 < 0)
					x0 = 0;
				if (y1 > win.h)
					y1 = win.h;
				if (x1 > win.w)
					x1 = win.w;
				if (!include_pad)
					count = (y1 - y0) * (x1 - x0);
				for (int64_t iy = y0; iy < y1; iy++)
					for (int64_t ix = x0; ix < x1; ix++)
						sum += xp[iy * win.w + ix];
				F32(out[0])[(pl * win.oh + oy) * win.ow + ox] =
					count > 0 ? sum / (float)count : 0.0f;
			}
	}
	return 0;
}

/* GlobalAveragePool and GlobalMaxPool: one value per (N, C) plane. */
static void global_pool(const qp_value *x, float *y, int is_max)
{
	int64_t planes = x->dims[0] * x->dims[1];
	int64_t size = qp_prod(2, x->rank, x->dims);

	for (int64_t p = 0; p < planes; p++) {
		const float *xp = CF32(x) + p * size;
		double sum = 0.0;
		float best = xp[0];

		if (is_max) {
			for (int64_t i = 1; i < size; i++)
				best = xp[i] > best || isnan(xp[i]) ? xp[i] : best;
			y[p] = best;
			continue;
		}
		for (int64_t i = 0; i < size; i++)
			sum += xp[i];
		y[p] = (float)(sum / (double)size);
	}
}

static int run_gap(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	global_pool(in[0], F32(out[0]), 0);
	return 0;
}

static int run_gemm(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *a = in[0], *b = in[1], *c = n->n_inputs > 2 ? in[2] : NULL;
	int ta = (int)qp_node_attr_int(n, "transA", 0);
	int tb = (int)qp_node_attr_int(n, "transB", 0);
	float alpha = qp_node_attr_float(n, "alpha", 1.0f);
	float beta = qp_node_attr_float(n, "beta", 1.0f);
	int64_t m = out[0]->dims[0], nn = out[0]->dims[1];
	int64_t k = ta ? a->dims[0] : a->dims[1];
	float *y = F32(out[0]);

	(void)g, (void)err;
	if (c) {
		/* C broadcasts unidirectionally to [M, N]. */
		int64_t cr = c->rank >= 2 ? c->dims[0] : 1;
		int64_t cc = c->rank >= 1 ? c->dims[c->rank - 1] : 1;

		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < nn; j++)
				y[i * nn + j] = beta * CF32(c)[(cr == 1 ? 0 : i) * cc +
							       (cc == 1 ? 0 : j)];
	}
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
		    tb ? CblasTrans : CblasNoTrans, (int)m, (int)nn, (int)k,
		    alpha, CF32(a), (int)a->dims[1], CF32(b), (int)b->dims[1],
		    c ? 1.0f : 0.0f, y, (int)nn);
	return 0;
}

/* Offset of batch index `lin` (over the broadcast batch dims) into an
 * operand with batch dims `dims` (right-aligned, size-1 dims broadcast). */
static int64_t batch_offset(int64_t lin, int ro, const int64_t *batch,
			    int r, const int64_t *dims, int64_t mat_size)
{
	int64_t off = 0, stride = mat_size;

	for (int i = ro - 1; i >= 0; i--) {
		int64_t idx = lin % batch[i];
		int j = i - (ro - r);

		lin /= batch[i];
		if (j >= 0) {
			if (dims[j] != 1)
				off += idx * stride;
			stride *= dims[j];
		}
	}
	return off;
}

static int run_matmul(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out,
		      qp_err *err)
{
	matmul_shape s;
	int64_t batches;

	(void)g;
	if (matmul_shape_init(n, in[0]->rank, in[0]->dims, in[1]->rank,
			      in[1]->dims, &s, err))
		return -1;
	batches = qp_prod(0, s.ro_batch, s.batch);
	for (int64_t bi = 0; bi < batches; bi++) {
		int64_t ao = batch_offset(bi, s.ro_batch, s.batch, s.ra - 2, s.a, s.m * s.k);
		int64_t bo = batch_offset(bi, s.ro_batch, s.batch, s.rb - 2, s.b, s.k * s.n);

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s.m,
			    (int)s.n, (int)s.k, 1.0f, CF32(in[0]) + ao, (int)s.k,
			    CF32(in[1]) + bo, (int)s.n, 0.0f,
			    F32(out[0]) + bi * s.m * s.n, (int)s.n);
	}
	return 0;
}

/* Flatten and Reshape only relabel the shape: the bytes are the same. */
static int run_softmax(const qp_graph *g, const qp_node *n,
		       const qp_value *const *in, qp_value *const *out,
		       qp_err *err)
{
	const qp_value *x = in[0];
	int axis = (int)qp_node_attr_int(n, "axis", -1);
	int64_t len, inner, outer;

	(void)g, (void)err;
	if (axis < 0)
		axis += x->rank;
	len = x->dims[axis];
	inner = qp_prod(axis + 1, x->rank, x->dims);
	outer = qp_prod(0, axis, x->dims);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			const float *src = CF32(x) + o * len * inner + i;
			float *dst = F32(out[0]) + o * len * inner + i;
			float mx = -INFINITY;
			double sum = 0.0;

			for (int64_t j = 0; j < len; j++)
				if (src[j * inner] > mx)
					mx = src[j * inner];
			for (int64_t j = 0; j < len; j++) {
				dst[j * inner] = expf(src[j * inner] - mx);
				sum += dst[j * inner];
			}
			for (int64_t j = 0; j < len; j++)
				dst[j * inner] = (float)(dst[j * inner] / sum);
		}
	return 0;
}

static int run_batchnorm(const qp_graph *g, const qp_node *n,
			 const qp_value *const *in, qp_value *const *out,
			 qp_err *err)
{
	const qp_value *x = in[0];
	float eps = qp_node_attr_float(n, "epsilon", 1e-5f);
	int64_t c = x->dims[1], size = qp_prod(2, x->rank, x->dims);

	(void)g, (void)err;
	for (int64_t b = 0; b < x->dims[0]; b++)
		for (int64_t ch = 0; ch < c; ch++) {
			float mul = CF32(in[1])[ch] / sqrtf(CF32(in[4])[ch] + eps);
			float add = CF32(in[2])[ch] - CF32(in[3])[ch] * mul;
			const float *src = CF32(x) + (b * c + ch) * size;
			float *dst = F32(out[0]) + (b * c + ch) * size;

			for (int64_t i = 0; i < size; i++)
				dst[i] = src[i] * mul + add;
		}
	return 0;
}

static int run_transpose(const qp_graph *g, const qp_node *n,
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

/* ---- elementwise ops ---------------------------------------------------- */

/* Integer IR dtypes the arithmetic ops also take (ONNX allows them; PyTorch
 * exports build shapes with int64 Shape/Gather/Mul/Concat chains). */
static int is_int_dt(qp_dtype dt)
{
	return qp_dtype_is_int(dt);
}

/* The dtype an elementwise op computes in for operand t: float32 for real
 * operands (float32 or dequantized constants), else t's own dtype. */
static qp_dtype compute_dtype(const qp_tensor *t)
{
	return qp_is_real(t) ? QP_DT_FLOAT32 : t->dtype;
}

/* Operand must be float32 (or real), or an integer dtype when ints_ok. */
static int want_numeric(const qp_node *n, const qp_tensor *t, const char *what,
			int ints_ok, qp_err *err)
{
	if (qp_is_real(t) || (ints_ok && is_int_dt(t->dtype)))
		return 0;
	return qp_node_err(err, n, "%s '%s' has dtype %s, expected %s", what,
			   t->name, qp_dtype_name(t->dtype),
			   ints_ok ? "float32 or an integer type" : "float32");
}

typedef enum unary_op {
	UN_RELU, UN_SQRT, UN_EXP, UN_ERF, UN_LEAKY, UN_SIGMOID, UN_HSIGMOID,
	UN_HSWISH, UN_TANH, UN_ABS, UN_NEG, UN_RECIP, UN_ELU, UN_THRESH
} unary_op;

/* The node's row in the op table: a family's shared kernel reads there
 * which member it computes. */
static const qp_op_row *row_of(const qp_node *n)
{
	const qp_op_row *r = qp_op_row_of(qp_op_find(n->op));

	if (!r)
		qp_bug("no float op %s", n->op);
	return r;
}

static int infer_unary(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (want_numeric(n, x, "input", row_of(n)->ints_ok, err))
		return -1;
	qp_set_out(g, n, 0, compute_dtype(x), x->rank, x->dims);
	return 0;
}

static float sigmoidf(float x)
{
	/* exp of a large positive argument overflows: use the form whose
	 * exponent is never positive. */
	if (x >= 0.0f)
		return 1.0f / (1.0f + expf(-x));
	float e = expf(x);
	return e / (1.0f + e);
}

static int run_unary(const qp_graph *g, const qp_node *n,
		     const qp_value *const *in, qp_value *const *out,
		     qp_err *err)
{
	const qp_value *x = in[0];
	unary_op op = (unary_op)row_of(n)->kind;
	int64_t len = x->numel;

	(void)g, (void)err;
	if (x->dtype != QP_DT_FLOAT32) {
		for (int64_t i = 0; i < len; i++) {
			int64_t v = qp_elem_get_i64(x->data, x->dtype, i);

			if (op == UN_RELU)
				v = v > 0 ? v : 0;
			else if (op == UN_ABS)
				v = v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
			else
				v = (int64_t)(0 - (uint64_t)v);
			qp_elem_set_i64(out[0]->data, out[0]->dtype, i, v);
		}
		return 0;
	}
	const float *s = CF32(x);
	float *d = F32(out[0]);
	float alpha, beta;

	switch (op) {
	case UN_RELU:
		for (int64_t i = 0; i < len; i++)
			d[i] = s[i] > 0.0f ? s[i] : 0.0f;
		break;
	case UN_SQRT:
		for (int64_t i = 0; i < len; i++)
			d[i] = sqrtf(s[i]);
		break;
	case UN_EXP:
		for (int64_t i = 0; i < len; i++)
			d[i] = expf(s[i]);
		break;
	case UN_ERF:
		for (int64_t i = 0; i < len; i++)
			d[i] = erff(s[i]);
		break;
	case UN_LEAKY:
		alpha = qp_node_attr_float(n, "alpha", 0.01f);
		for (int64_t i = 0; i < len; i++)
			d[i] = s[i] < 0.0f ? alpha * s[i] : s[i];
		break;
	case UN_SIGMOID:
		for (int64_t i = 0; i < len; i++)
			d[i] = sigmoidf(s[i]);
		break;
	case UN_HSIGMOID:
		alpha = qp_node_attr_float(n, "alpha", 0.2f);
		beta = qp_node_attr_float(n, "beta", 0.5f);
		for (int64_t i = 0; i < len; i++)
			d[i] = fmaxf(0.0f, fminf(1.0f, alpha * s[i] + beta));
		break;
	case UN_HSWISH:
		/* ONNX: x * max(0, min(1, x/6 + 0.5)). */
		for (int64_t i = 0; i < len; i++)
			d[i] = s[i] * fmaxf(0.0f, fminf(1.0f, s[i] / 6.0f + 0.5f));
		break;
	case UN_TANH:
		for (int64_t i = 0; i < len; i++)
			d[i] = tanhf(s[i]);
		break;
	case UN_ABS:
		for (int64_t i = 0; i < len; i++)
			d[i] = fabsf(s[i]);
		break;
	case UN_NEG:
		for (int64_t i = 0; i < len; i++)
			d[i] = -s[i];
		break;
	case UN_RECIP:
		for (int64_t i = 0; i < len; i++)
			d[i] = 1.0f / s[i];
		break;
	case UN_ELU:
		alpha = qp_node_attr_float(n, "alpha", 1.0f);
		for (int64_t i = 0; i < len; i++)
			d[i] = s[i] < 0.0f ? alpha * expm1f(s[i]) : s[i];
		break;
	case UN_THRESH:
		alpha = qp_node_attr_float(n, "alpha", 1.0f);
		for (int64_t i = 0; i < len; i++)
			d[i] = s[i] > alpha ? s[i] : 0.0f;
		break;
	}
	return 0;
}

/* Binary ops with numpy broadcasting.  PRelu is x < 0 ? slope * x : x with
 * the slope broadcast to x.  AR_MEAN is Mean's row: it adds, then divides
 * by the input count (run_variadic). */
typedef enum arith {
	AR_ADD, AR_SUB, AR_MUL, AR_DIV, AR_POW, AR_MAX, AR_MIN, AR_PRELU, AR_MEAN
} arith;

static int infer_arith(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b;
	arith op = (arith)row_of(n)->kind;
	qp_dtype dt;
	int ro;
	int64_t out[QP_MAX_RANK];
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	if (want_numeric(n, a, "input A", 1, err) ||
	    want_numeric(n, b, "input B", 1, err))
		return -1;
	dt = compute_dtype(a);
	/* Pow's exponent may have another type than its base (ONNX T1). */
	if (op != AR_POW && compute_dtype(b) != dt)
		return qp_node_err(err, n, "input A '%s' has dtype %s but input B '%s' %s",
				   a->name, qp_dtype_name(a->dtype), b->name,
				   qp_dtype_name(b->dtype));
	if (qp_broadcast_dims(a->rank, a->dims, b->rank, b->dims, &ro, out))
		return qp_node_err(err, n, "shapes %s ('%s') and %s ('%s') do not broadcast",
				   qp_dims_str(a->rank, a->dims, s1, sizeof s1), a->name,
				   qp_dims_str(b->rank, b->dims, s2, sizeof s2), b->name);
	if (op == AR_PRELU &&
	    (ro != a->rank || memcmp(out, a->dims, sizeof(int64_t) * (size_t)ro)))
		return qp_node_err(err, n, "slope '%s' %s does not broadcast to input '%s' %s",
				   b->name, qp_dims_str(b->rank, b->dims, s1, sizeof s1),
				   a->name, qp_dims_str(a->rank, a->dims, s2, sizeof s2));
	qp_set_out(g, n, 0, dt, ro, out);
	return 0;
}

static float fmax_nan(float a, float b)
{
	return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
}

static float fmin_nan(float a, float b)
{
	return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
}

/* One output row: dst[j] = pa[j*sa] (op) pb[j*sb]. */
static void f32_row(arith op, const float *pa, int64_t sa, const float *pb,
		    int64_t sb, float *dst, int64_t len)
{
#define ROW(expr)                                                   \
	for (int64_t j = 0; j < len; j++) {                         \
		float va = pa[j * sa], vb = pb[j * sb];             \
		dst[j] = (expr);                                    \
	}                                                           \
	break
	switch (op) {
	case AR_ADD: case AR_MEAN: ROW(va + vb);
	case AR_SUB: ROW(va - vb);
	case AR_MUL: ROW(va * vb);
	case AR_DIV: ROW(va / vb);
	case AR_POW: ROW(powf(va, vb));
	case AR_MAX: ROW(fmax_nan(va, vb));
	case AR_MIN: ROW(fmin_nan(va, vb));
	case AR_PRELU: ROW(va < 0.0f ? va * vb : va);
	}
#undef ROW
}

/* y = a (op) b, float32, numpy broadcasting.  y may alias a when a has
 * y's shape (the variadic ops fold into their output). */
static void f32_broadcast(arith op, const qp_value *a, const float *pa,
			  const qp_value *b, const float *pb, qp_value *y)
{
	int r = y->rank;
	int64_t sa[QP_MAX_RANK], sb[QP_MAX_RANK], idx[QP_MAX_RANK] = {0};
	int64_t inner, outer, ia = 0, ib = 0;
	float *py = F32(y);

	if (a->numel == y->numel && b->numel == y->numel) {
		f32_row(op, pa, 1, pb, 1, py, y->numel);
		return;
	}
	if (r == 0) {
		f32_row(op, pa, 0, pb, 0, py, 1);
		return;
	}
	qp_broadcast_strides(r, y->dims, a->rank, a->dims, sa);
	qp_broadcast_strides(r, y->dims, b->rank, b->dims, sb);
	inner = y->dims[r - 1];
	outer = inner ? y->numel / inner : 0;
	for (int64_t o = 0; o < outer; o++) {
		f32_row(op, pa + ia, sa[r - 1], pb + ib, sb[r - 1], py + o * inner,
			inner);
		for (int i = r - 2; i >= 0; i--) {
			idx[i]++;
			ia += sa[i];
			ib += sb[i];
			if (idx[i] < y->dims[i])
				break;
			ia -= sa[i] * idx[i];
			ib -= sb[i] * idx[i];
			idx[i] = 0;
		}
	}
}

static int64_t ipow(int64_t base, int64_t e)
{
	uint64_t r = 1, b = (uint64_t)base;

	if (e < 0)   /* as numpy would for |base| > 1: truncates to 0 */
		return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
	while (e) {
		if (e & 1)
			r *= b;
		b *= b;
		e >>= 1;
	}
	return (int64_t)r;
}

/* Integer arithmetic wraps like the dtype (computed in uint64, which C
 * defines, then narrowed); integer division truncates toward zero as C and
 * onnxruntime do, and a zero divisor gives 0 (ONNX leaves it undefined; a
 * trap would kill the tool). */
static int64_t int_apply(arith op, int64_t a, int64_t b)
{
	switch (op) {
	case AR_ADD: case AR_MEAN: return (int64_t)((uint64_t)a + (uint64_t)b);
	case AR_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
	case AR_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
	case AR_DIV:
		if (b == 0)
			return 0;
		if (b == -1)
			return (int64_t)(0 - (uint64_t)a);
		return a / b;
	case AR_POW: return ipow(a, b);
	case AR_MAX: return a > b ? a : b;
	case AR_MIN: return a < b ? a : b;
	case AR_PRELU: return a < 0 ? (int64_t)((uint64_t)a * (uint64_t)b) : a;
	}
	return 0;
}

typedef struct int_ctx {
	arith op;
	const qp_value *a, *b;
	qp_value *y;
} int_ctx;

static void int_visit(void *ctx, int64_t o, const int64_t *off)
{
	const int_ctx *c = ctx;
	int64_t va = qp_elem_get_i64(c->a->data, c->a->dtype, off[0]), r;

	if (c->op == AR_POW && c->b->dtype == QP_DT_FLOAT32) {
		/* Integer base, float exponent: ONNX computes in the base
		 * type's domain; truncate the real power. */
		double p = pow((double)va, qp_elem_get_f64(c->b->data, c->b->dtype, off[1]));

		qp_elem_set_f64(c->y->data, c->y->dtype, o, p);
		return;
	}
	r = int_apply(c->op, va, qp_elem_get_i64(c->b->data, c->b->dtype, off[1]));
	qp_elem_set_i64(c->y->data, c->y->dtype, o, r);
}

/* y = a (op) b for any dtype pair infer_arith accepted. */
static int arith_values(const qp_node *n, arith op, const qp_value *a,
			const qp_value *b, qp_value *y, qp_err *err)
{
	if (y->dtype == QP_DT_FLOAT32) {
		float *tmp = NULL;
		const float *pb = CF32(b);

		if (b->dtype != QP_DT_FLOAT32) {
			/* Pow with an integer exponent. */
			tmp = malloc(sizeof(float) * (size_t)(b->numel ? b->numel : 1));
			if (!tmp)
				return qp_node_err(err, n, "out of memory");
			for (int64_t i = 0; i < b->numel; i++)
				tmp[i] = (float)qp_elem_get_f64(b->data, b->dtype, i);
			pb = tmp;
		}
		f32_broadcast(op, a, CF32(a), b, pb, y);
		free(tmp);
		return 0;
	}
	int64_t st[2][QP_MAX_RANK];
	int_ctx c = {op, a, b, y};

	qp_broadcast_strides(y->rank, y->dims, a->rank, a->dims, st[0]);
	qp_broadcast_strides(y->rank, y->dims, b->rank, b->dims, st[1]);
	qp_broadcast_walk(y->rank, y->dims, 2, st, int_visit, &c);
	return 0;
}

static int run_arith(const qp_graph *g, const qp_node *n,
		     const qp_value *const *in, qp_value *const *out,
		     qp_err *err)
{
	(void)g;
	return arith_values(n, (arith)row_of(n)->kind, in[0], in[1], out[0], err);
}

/* Sum, Mean, Max, Min: any number of inputs, all broadcast together. */
static int infer_variadic(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a;
	int ro, ints_ok = row_of(n)->kind != AR_MEAN;
	int64_t out[QP_MAX_RANK];
	char s1[160], s2[160];
	qp_dtype dt;

	if (qp_check_io(g, n, 1, 1 << 20, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	if (want_numeric(n, a, "input", ints_ok, err))
		return -1;
	dt = compute_dtype(a);
	ro = a->rank;
	memcpy(out, a->dims, sizeof(int64_t) * (size_t)ro);
	for (int i = 1; i < n->n_inputs; i++) {
		const qp_tensor *b = qp_in_tensor(g, n, i);
		int64_t prev[QP_MAX_RANK];
		int rp = ro;

		if (!b)
			return qp_node_err(err, n, "input %d is missing", i);
		if (compute_dtype(b) != dt)
			return qp_node_err(err, n, "input '%s' has dtype %s but input '%s' %s",
					   a->name, qp_dtype_name(a->dtype), b->name,
					   qp_dtype_name(b->dtype));
		memcpy(prev, out, sizeof prev);
		if (qp_broadcast_dims(rp, prev, b->rank, b->dims, &ro, out))
			return qp_node_err(err, n, "shapes %s and %s ('%s') do not broadcast",
					   qp_dims_str(rp, prev, s1, sizeof s1),
					   qp_dims_str(b->rank, b->dims, s2, sizeof s2),
					   b->name);
	}
	qp_set_out(g, n, 0, dt, ro, out);
	return 0;
}

typedef struct copy_ctx {
	const unsigned char *src;
	unsigned char *dst;
	size_t es;
} copy_ctx;

static void copy_visit(void *ctx, int64_t o, const int64_t *off)
{
	const copy_ctx *c = ctx;

	memcpy(c->dst + (size_t)o * c->es, c->src + (size_t)off[0] * c->es, c->es);
}

/* Writes x broadcast to y's shape into y (same dtype). */
static void broadcast_copy(const qp_value *x, qp_value *y)
{
	int64_t st[1][QP_MAX_RANK];
	copy_ctx c = {x->data, y->data, qp_dtype_size(y->dtype)};

	qp_broadcast_strides(y->rank, y->dims, x->rank, x->dims, st[0]);
	qp_broadcast_walk(y->rank, y->dims, 1, st, copy_visit, &c);
}

static int run_variadic(const qp_graph *g, const qp_node *n,
			const qp_value *const *in, qp_value *const *out,
			qp_err *err)
{
	arith op = (arith)row_of(n)->kind;
	qp_value *y = out[0];

	(void)g;
	broadcast_copy(in[0], y);
	for (int i = 1; i < n->n_inputs; i++)
		if (arith_values(n, op, y, in[i], y, err))
			return -1;
	if (op == AR_MEAN)
		for (int64_t i = 0; i < y->numel; i++)
			F32(y)[i] /= (float)n->n_inputs;
	return 0;
}

/* Where(cond, x, y): cond bool, x and y one dtype, all broadcast. */
static int infer_where(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *c, *x, *y;
	int r1, r2;
	int64_t o1[QP_MAX_RANK], o2[QP_MAX_RANK];

	if (qp_check_io(g, n, 3, 3, err))
		return -1;
	c = qp_in_tensor(g, n, 0);
	x = qp_in_tensor(g, n, 1);
	y = qp_in_tensor(g, n, 2);
	if (c->dtype != QP_DT_BOOL)
		return qp_node_err(err, n, "condition '%s' has dtype %s, expected bool",
				   c->name, qp_dtype_name(c->dtype));
	if (compute_dtype(x) != compute_dtype(y))
		return qp_node_err(err, n, "input X '%s' has dtype %s but input Y '%s' %s",
				   x->name, qp_dtype_name(x->dtype), y->name,
				   qp_dtype_name(y->dtype));
	if (qp_broadcast_dims(c->rank, c->dims, x->rank, x->dims, &r1, o1) ||
	    qp_broadcast_dims(r1, o1, y->rank, y->dims, &r2, o2))
		return qp_node_err(err, n, "shapes of '%s', '%s' and '%s' do not broadcast",
				   c->name, x->name, y->name);
	qp_set_out(g, n, 0, compute_dtype(x), r2, o2);
	return 0;
}

typedef struct where_ctx {
	const unsigned char *c, *x, *y;
	unsigned char *dst;
	size_t es;
} where_ctx;

static void where_visit(void *ctx, int64_t o, const int64_t *off)
{
	const where_ctx *w = ctx;
	const unsigned char *src = w->c[off[0]] ? w->x + (size_t)off[1] * w->es
						: w->y + (size_t)off[2] * w->es;

	memcpy(w->dst + (size_t)o * w->es, src, w->es);
}

static int run_where(const qp_graph *g, const qp_node *n,
		     const qp_value *const *in, qp_value *const *out,
		     qp_err *err)
{
	qp_value *y = out[0];
	int64_t st[3][QP_MAX_RANK];
	where_ctx w = {in[0]->data, in[1]->data, in[2]->data, y->data,
		       qp_dtype_size(y->dtype)};

	(void)g, (void)n, (void)err;
	for (int i = 0; i < 3; i++)
		qp_broadcast_strides(y->rank, y->dims, in[i]->rank, in[i]->dims, st[i]);
	qp_broadcast_walk(y->rank, y->dims, 3, st, where_visit, &w);
	return 0;
}

/* Clip(x, min?, max?): the importer turns opset < 11 attributes into
 * inputs.  A missing bound is no bound. */
static int infer_clip(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 1, 3, err))
		return -1;
	if (qp_node_attr(n, "min") || qp_node_attr(n, "max"))
		return qp_node_err(err, n, "min/max attributes must be turned into inputs by the importer");
	x = qp_in_tensor(g, n, 0);
	if (want_numeric(n, x, "input", 1, err))
		return -1;
	for (int i = 1; i < 3; i++) {
		const qp_tensor *b = qp_in_tensor(g, n, i);

		if (!b)
			continue;
		if (compute_dtype(b) != compute_dtype(x))
			return qp_node_err(err, n, "bound '%s' has dtype %s, input '%s' %s",
					   b->name, qp_dtype_name(b->dtype), x->name,
					   qp_dtype_name(x->dtype));
		if (qp_tensor_numel(b) != 1)
			return qp_node_err(err, n, "bound '%s' has %lld elements, expected a scalar",
					   b->name, (long long)qp_tensor_numel(b));
	}
	qp_set_out(g, n, 0, compute_dtype(x), x->rank, x->dims);
	return 0;
}

static int run_clip(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out,
		    qp_err *err)
{
	const qp_value *x = in[0];
	const qp_value *lo = n->n_inputs > 1 ? in[1] : NULL;
	const qp_value *hi = n->n_inputs > 2 ? in[2] : NULL;

	(void)g, (void)err;
	if (x->dtype == QP_DT_FLOAT32) {
		float l = lo ? CF32(lo)[0] : -INFINITY, h = hi ? CF32(hi)[0] : INFINITY;

		/* ONNX: min(max(x, min), max), so max wins when min > max;
		 * NaN passes through. */
		for (int64_t i = 0; i < x->numel; i++) {
			float v = CF32(x)[i];

			v = v < l ? l : v;
			F32(out[0])[i] = v > h ? h : v;
		}
		return 0;
	}
	int64_t l = lo ? qp_elem_get_i64(lo->data, lo->dtype, 0) : INT64_MIN;
	int64_t h = hi ? qp_elem_get_i64(hi->data, hi->dtype, 0) : INT64_MAX;

	for (int64_t i = 0; i < x->numel; i++) {
		int64_t v = qp_elem_get_i64(x->data, x->dtype, i);

		v = v < l ? l : v;
		qp_elem_set_i64(out[0]->data, x->dtype, i, v > h ? h : v);
	}
	return 0;
}

/* ---- reductions --------------------------------------------------------- */

typedef enum reduce_op {
	RD_SUM, RD_MEAN, RD_MAX, RD_MIN, RD_PROD, RD_SUMSQ, RD_L1, RD_L2
} reduce_op;

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

static int infer_reduce(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int reduced[QP_MAX_RANK], noop, ro = 0;
	int keep = (int)qp_node_attr_int(n, "keepdims", 1);
	int64_t out[QP_MAX_RANK];

	if (qp_check_io(g, n, 1, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (want_numeric(n, x, "input", 1, err))
		return -1;
	if (reduce_axes(g, n, x->rank, reduced, &noop, err))
		return -1;
	for (int i = 0; i < x->rank; i++) {
		if (!reduced[i])
			out[ro++] = x->dims[i];
		else if (keep)
			out[ro++] = 1;
	}
	qp_set_out(g, n, 0, compute_dtype(x), ro, out);
	return 0;
}

static int run_reduce(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out,
		      qp_err *err)
{
	const qp_value *x = in[0];
	qp_value *y = out[0];
	reduce_op op = (reduce_op)row_of(n)->kind;
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
static int infer_argmax(qp_graph *g, int node, qp_err *err)
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
	if (want_numeric(n, x, "input", 1, err) ||
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

static int run_argmax(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out,
		      qp_err *err)
{
	const qp_value *x = in[0];
	int axis, is_min = row_of(n)->kind;   /* ArgMin */
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

static int infer_topk(qp_graph *g, int node, qp_err *err)
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
	if (want_numeric(n, x, "input", 1, err) ||
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
	qp_set_out(g, n, 0, compute_dtype(x), x->rank, out);
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

static int run_topk(const qp_graph *g, const qp_node *n,
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

/* ---- normalization and pooling ------------------------------------------ */

static int infer_instnorm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	char s1[160];

	if (qp_check_io(g, n, 3, 3, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_real(n, x, "input", err) ||
	    qp_want_rank(n, x, "input", 3, QP_MAX_RANK, err))
		return -1;
	for (int i = 1; i < 3; i++) {
		const qp_tensor *t = qp_in_tensor(g, n, i);

		if (qp_want_real(n, t, i == 1 ? "scale" : "bias", err))
			return -1;
		if (t->rank != 1 || t->dims[0] != x->dims[1])
			return qp_node_err(err, n, "%s '%s' has shape %s, expected [%lld]",
					   i == 1 ? "scale" : "bias", t->name,
					   qp_dims_str(t->rank, t->dims, s1, sizeof s1),
					   (long long)x->dims[1]);
	}
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

static int run_instnorm(const qp_graph *g, const qp_node *n,
			const qp_value *const *in, qp_value *const *out,
			qp_err *err)
{
	const qp_value *x = in[0];
	float eps = qp_node_attr_float(n, "epsilon", 1e-5f);
	int64_t c = x->dims[1], size = qp_prod(2, x->rank, x->dims);

	(void)g, (void)err;
	for (int64_t p = 0; p < x->dims[0] * c; p++) {
		const float *src = CF32(x) + p * size;
		float *dst = F32(out[0]) + p * size;
		double mean = 0.0, var = 0.0;
		float scale = CF32(in[1])[p % c], bias = CF32(in[2])[p % c], mul;

		for (int64_t i = 0; i < size; i++)
			mean += src[i];
		mean = size ? mean / (double)size : 0.0;
		for (int64_t i = 0; i < size; i++)
			var += (src[i] - mean) * (src[i] - mean);
		var = size ? var / (double)size : 0.0;
		mul = (float)(scale / sqrt(var + eps));
		for (int64_t i = 0; i < size; i++)
			dst[i] = (float)((src[i] - mean) * mul + bias);
	}
	return 0;
}

static int run_gmp(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	global_pool(in[0], F32(out[0]), 1);
	return 0;
}

/* ---- ConvTranspose ------------------------------------------------------ */

/* Geometry with up to 3 spatial axes; missing leading axes have size 1. */
typedef struct tconv {
	int64_t n, c, m, group;
	int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} tconv;

static int tconv_init(const qp_node *n, int rank, const int64_t *xd,
		      const int64_t *wd, tconv *t, qp_err *err)
{
	int sp = rank - 2, off = 3 - sp;
	int64_t s[3], d[3], p[6], op[3];

	if (strcmp(qp_node_attr_string(n, "auto_pad", "NOTSET"), "NOTSET") != 0 ||
	    qp_node_attr(n, "output_shape"))
		return qp_node_err(err, n, "auto_pad/output_shape must be resolved into pads by the importer");
	if (qp_spatial_ints(n, "strides", sp, 1, 1, s, err) ||
	    qp_spatial_ints(n, "dilations", sp, 1, 1, d, err) ||
	    qp_spatial_ints(n, "pads", 2 * sp, 0, 0, p, err) ||
	    qp_spatial_ints(n, "output_padding", sp, 0, 0, op, err))
		return -1;
	t->n = xd[0];
	t->c = xd[1];
	t->group = qp_node_attr_int(n, "group", 1);
	if (t->group < 1 || t->c % t->group != 0)
		return qp_node_err(err, n, "group %lld does not divide the input channels %lld",
				   (long long)t->group, (long long)t->c);
	t->m = wd[1] * t->group;
	for (int i = 0; i < 3; i++) {
		t->in[i] = 1, t->k[i] = 1, t->s[i] = 1, t->d[i] = 1;
		t->pb[i] = 0, t->pe[i] = 0, t->out[i] = 1;
	}
	for (int i = 0; i < sp; i++) {
		int j = off + i;

		t->in[j] = xd[2 + i];
		t->k[j] = wd[2 + i];
		t->s[j] = s[i];
		t->d[j] = d[i];
		t->pb[j] = p[i];
		t->pe[j] = p[sp + i];
		if (op[i] >= s[i] && op[i] >= d[i])
			return qp_node_err(err, n, "output_padding %lld must be smaller than the stride or dilation",
					   (long long)op[i]);
		t->out[j] = s[i] * (xd[2 + i] - 1) + op[i] + (wd[2 + i] - 1) * d[i] + 1 -
			    p[i] - p[sp + i];
		if (t->out[j] < 1)
			return qp_node_err(err, n, "output size %lld along spatial axis %d is not positive",
					   (long long)t->out[j], i);
	}
	return 0;
}

static int infer_convtranspose(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *w, *b;
	tconv t;
	int64_t out[5];
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	w = qp_in_tensor(g, n, 1);
	b = qp_in_tensor(g, n, 2);
	if (qp_want_real(n, x, "input", err) || qp_want_real(n, w, "weight", err) ||
	    qp_want_rank(n, x, "input", 3, 5, err))
		return -1;
	if (w->rank != x->rank || w->dims[0] != x->dims[1])
		return qp_node_err(err, n, "weight '%s' %s does not fit input '%s' %s",
				   w->name, qp_dims_str(w->rank, w->dims, s1, sizeof s1),
				   x->name, qp_dims_str(x->rank, x->dims, s2, sizeof s2));
	if (x->dims[0] < 1 || x->dims[1] < 1 || w->dims[1] < 1)
		return qp_node_err(err, n, "empty input '%s' or weight '%s'", x->name, w->name);
	if (qp_node_attr(n, "kernel_shape")) {
		int64_t ks[3];

		if (qp_spatial_ints(n, "kernel_shape", x->rank - 2, 1, 1, ks, err))
			return -1;
		for (int i = 0; i < x->rank - 2; i++)
			if (ks[i] != w->dims[2 + i])
				return qp_node_err(err, n, "kernel_shape %lld does not match weight '%s' %s",
						   (long long)ks[i], w->name,
						   qp_dims_str(w->rank, w->dims, s1, sizeof s1));
	}
	if (tconv_init(n, x->rank, x->dims, w->dims, &t, err))
		return -1;
	if (b && qp_want_real(n, b, "bias", err))
		return -1;
	if (b && (b->rank != 1 || b->dims[0] != t.m))
		return qp_node_err(err, n, "bias '%s' has shape %s, expected [%lld]",
				   b->name, qp_dims_str(b->rank, b->dims, s1, sizeof s1),
				   (long long)t.m);
	out[0] = t.n;
	out[1] = t.m;
	for (int i = 0; i < x->rank - 2; i++)
		out[2 + i] = t.out[3 - (x->rank - 2) + i];
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, out);
	return 0;
}

static int run_convtranspose(const qp_graph *g, const qp_node *n,
			     const qp_value *const *in, qp_value *const *out,
			     qp_err *err)
{
	const qp_value *x = in[0], *w = in[1];
	const qp_value *b = n->n_inputs > 2 ? in[2] : NULL;
	tconv t;
	int64_t cg, mg, kk, p, osz;
	float *col;

	(void)g;
	if (tconv_init(n, x->rank, x->dims, w->dims, &t, err))
		return -1;
	cg = t.c / t.group;
	mg = t.m / t.group;
	kk = t.k[0] * t.k[1] * t.k[2];
	p = t.in[0] * t.in[1] * t.in[2];
	osz = t.out[0] * t.out[1] * t.out[2];
	col = malloc(sizeof(float) * (size_t)(mg * kk * p));
	if (!col)
		return qp_node_err(err, n, "out of memory for %lld values",
				   (long long)(mg * kk * p));
	for (int64_t bi = 0; bi < t.n; bi++)
		for (int64_t gi = 0; gi < t.group; gi++) {
			const float *xg = CF32(x) + (bi * t.c + gi * cg) * p;
			const float *wg = CF32(w) + gi * cg * mg * kk;

			/* col[mg*kk, p] = W_g^T [cg, mg*kk]^T x X_g [cg, p]: every
			 * input pixel's contribution to every kernel tap, then
			 * scattered into the output (col2im). */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    (int)(mg * kk), (int)p, (int)cg, 1.0f, wg,
				    (int)(mg * kk), xg, (int)p, 0.0f, col, (int)p);
			for (int64_t m = 0; m < mg; m++) {
				int64_t oc = gi * mg + m;
				float *y = F32(out[0]) + (bi * t.m + oc) * osz;
				float bias = b ? CF32(b)[oc] : 0.0f;

				for (int64_t i = 0; i < osz; i++)
					y[i] = bias;
				for (int64_t k0 = 0; k0 < t.k[0]; k0++)
				for (int64_t k1 = 0; k1 < t.k[1]; k1++)
				for (int64_t k2 = 0; k2 < t.k[2]; k2++) {
					const float *cr = col + (m * kk + (k0 * t.k[1] + k1) * t.k[2] + k2) * p;

					for (int64_t i0 = 0; i0 < t.in[0]; i0++) {
						int64_t o0 = i0 * t.s[0] - t.pb[0] + k0 * t.d[0];

						if (o0 < 0 || o0 >= t.out[0])
							continue;
						for (int64_t i1 = 0; i1 < t.in[1]; i1++) {
							int64_t o1 = i1 * t.s[1] - t.pb[1] + k1 * t.d[1];

							if (o1 < 0 || o1 >= t.out[1])
								continue;
							for (int64_t i2 = 0; i2 < t.in[2]; i2++) {
								int64_t o2 = i2 * t.s[2] - t.pb[2] + k2 * t.d[2];

								if (o2 < 0 || o2 >= t.out[2])
									continue;
								y[(o0 * t.out[1] + o1) * t.out[2] + o2] +=
									cr[(i0 * t.in[1] + i1) * t.in[2] + i2];
							}
						}
					}
				}
			}
		}
	free(col);
	return 0;
}

/* ---- dtype conversion and quantization ---------------------------------- */

/* Cast's "to": an IR dtype name; ONNX TensorProto numbers are accepted
 * too for the IR dtypes. */
static int cast_to(const qp_node *n, qp_dtype *dt, qp_err *err)
{
	const qp_attr *a = qp_node_attr(n, "to");

	if (!a)
		return qp_node_err(err, n, "attribute 'to' is missing");
	if (a->type == QP_ATTR_STRING) {
		if (qp_dtype_parse(a->s, dt))
			return qp_node_err(err, n, "cast to '%s' is not supported", a->s);
		return 0;
	}
	if (a->type == QP_ATTR_INT) {
		switch (a->i) {
		case 1: *dt = QP_DT_FLOAT32; return 0;
		case 2: *dt = QP_DT_UINT8; return 0;
		case 3: *dt = QP_DT_INT8; return 0;
		case 5: *dt = QP_DT_INT16; return 0;
		case 6: *dt = QP_DT_INT32; return 0;
		case 7: *dt = QP_DT_INT64; return 0;
		case 9: *dt = QP_DT_BOOL; return 0;
		}
		return qp_node_err(err, n, "cast to ONNX type %lld is not supported",
				   (long long)a->i);
	}
	return qp_node_err(err, n, "attribute 'to' must be a dtype name");
}

static int infer_cast(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	qp_dtype dt;

	if (qp_check_io(g, n, 1, 1, err) || cast_to(n, &dt, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	qp_set_out(g, n, 0, dt, x->rank, x->dims);
	return 0;
}

static int run_cast(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out,
		    qp_err *err)
{
	const qp_value *x = in[0];
	qp_value *y = out[0];

	(void)g, (void)n, (void)err;
	/* float -> integer truncates toward zero (numpy astype, which the
	 * ONNX reference uses); integer -> integer wraps. */
	for (int64_t i = 0; i < x->numel; i++) {
		if (x->dtype == QP_DT_FLOAT32)
			qp_elem_set_f64(y->data, y->dtype, i, CF32(x)[i]);
		else
			qp_elem_set_i64(y->data, y->dtype, i,
					qp_elem_get_i64(x->data, x->dtype, i));
	}
	return 0;
}

static int infer_identity(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	qp_set_out(g, n, 0, x->dtype, x->rank, x->dims);
	return 0;
}

/* Quantize/DequantizeLinear: scale a scalar (per tensor) or 1-d of
 * dims[axis] (per axis); zero point the same shape, int8/uint8 (or int32
 * for DequantizeLinear). */
static int qdq_params(qp_graph *g, const qp_node *n, const qp_tensor *x,
		      qp_err *err)
{
	const qp_tensor *s = qp_in_tensor(g, n, 1), *zp = qp_in_tensor(g, n, 2);
	char s1[160];
	int axis;

	if (s->dtype != QP_DT_FLOAT32)
		return qp_node_err(err, n, "scale '%s' has dtype %s, expected float32",
				   s->name, qp_dtype_name(s->dtype));
	if (zp && zp->dtype != QP_DT_INT8 && zp->dtype != QP_DT_UINT8 &&
	    zp->dtype != QP_DT_INT32)
		return qp_node_err(err, n, "zero point '%s' has dtype %s, expected int8 or uint8",
				   zp->name, qp_dtype_name(zp->dtype));
	if (zp && (zp->rank != s->rank ||
		   qp_tensor_numel(zp) != qp_tensor_numel(s)))
		return qp_node_err(err, n, "zero point '%s' and scale '%s' differ in shape",
				   zp->name, s->name);
	if (qp_tensor_numel(s) == 1 && s->rank <= 1)
		return 0;
	if (s->rank != 1)
		return qp_node_err(err, n, "scale '%s' has shape %s, expected a scalar or 1-d",
				   s->name, qp_dims_str(s->rank, s->dims, s1, sizeof s1));
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", 1), x->rank, "axis", &axis, err))
		return -1;
	if (s->dims[0] != x->dims[axis])
		return qp_node_err(err, n, "scale '%s' has %lld values, input '%s' %lld along axis %d",
				   s->name, (long long)s->dims[0], x->name,
				   (long long)x->dims[axis], axis);
	return 0;
}

static int infer_quantize(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *zp;

	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	zp = qp_in_tensor(g, n, 2);
	if (x->dtype != QP_DT_FLOAT32 && x->dtype != QP_DT_INT32)
		return qp_node_err(err, n, "input '%s' has dtype %s, expected float32 or int32",
				   x->name, qp_dtype_name(x->dtype));
	if (qdq_params(g, n, x, err))
		return -1;
	if (zp && zp->dtype == QP_DT_INT32)
		return qp_node_err(err, n, "zero point '%s' has dtype int32, expected int8 or uint8",
				   zp->name);
	qp_set_out(g, n, 0, zp ? zp->dtype : QP_DT_UINT8, x->rank, x->dims);
	return 0;
}

static int infer_dequantize(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *zp;

	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	zp = qp_in_tensor(g, n, 2);
	if (x->dtype != QP_DT_INT8 && x->dtype != QP_DT_UINT8 &&
	    x->dtype != QP_DT_INT32)
		return qp_node_err(err, n, "input '%s' has dtype %s, expected int8, uint8 or int32",
				   x->name, qp_dtype_name(x->dtype));
	if (qdq_params(g, n, x, err))
		return -1;
	if (zp && zp->dtype != x->dtype)
		return qp_node_err(err, n, "zero point '%s' has dtype %s, input '%s' %s",
				   zp->name, qp_dtype_name(zp->dtype), x->name,
				   qp_dtype_name(x->dtype));
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

/* Channel count and inner size of a per-axis scale (1, numel: per tensor). */
static void qdq_layout(const qp_node *n, const qp_value *x, const qp_value *s,
		       int64_t *channels, int64_t *inner)
{
	int64_t axis = qp_node_attr_int(n, "axis", 1);

	*channels = 1;
	*inner = x->numel ? x->numel : 1;
	if (s->numel == 1 && s->rank <= 1)
		return;
	if (axis < 0)
		axis += x->rank;
	*channels = x->dims[axis];
	*inner = qp_prod((int)axis + 1, x->rank, x->dims);
}

static int run_quantize(const qp_graph *g, const qp_node *n,
			const qp_value *const *in, qp_value *const *out,
			qp_err *err)
{
	const qp_value *x = in[0], *s = in[1];
	const qp_value *zp = n->n_inputs > 2 ? in[2] : NULL;
	qp_value *y = out[0];
	int64_t ch, inner, lo = y->dtype == QP_DT_INT8 ? -128 : 0;
	int64_t hi = y->dtype == QP_DT_INT8 ? 127 : 255;

	(void)g, (void)err;
	qdq_layout(n, x, s, &ch, &inner);
	for (int64_t i = 0; i < x->numel; i++) {
		int64_t c = ch == 1 ? 0 : (i / inner) % ch;
		float v = x->dtype == QP_DT_FLOAT32 ? CF32(x)[i]
			: (float)((const int32_t *)x->data)[i];
		/* float32 division as the ONNX reference does it, then
		 * round half to even (rint in the default rounding mode). */
		double q = rint(v / CF32(s)[c]);

		if (zp)
			q += (double)qp_elem_get_i64(zp->data, zp->dtype, c);
		q = q < (double)lo ? (double)lo : q > (double)hi ? (double)hi : q;
		qp_elem_set_i64(y->data, y->dtype, i, (int64_t)q);
	}
	return 0;
}

static int run_dequantize(const qp_graph *g, const qp_node *n,
			  const qp_value *const *in, qp_value *const *out,
			  qp_err *err)
{
	const qp_value *x = in[0], *s = in[1];
	const qp_value *zp = n->n_inputs > 2 ? in[2] : NULL;
	int64_t ch, inner;

	(void)g, (void)err;
	qdq_layout(n, x, s, &ch, &inner);
	for (int64_t i = 0; i < x->numel; i++) {
		int64_t c = ch == 1 ? 0 : (i / inner) % ch;
		int64_t q = qp_elem_get_i64(x->data, x->dtype, i);

		if (zp)
			q -= qp_elem_get_i64(zp->data, zp->dtype, c);
		F32(out[0])[i] = (float)q * CF32(s)[c];
	}
	return 0;
}

/* One row per op: name, shape rule, kernel, family data (the unary
 * function, arithmetic or reduction a shared kernel computes, and whether
 * a unary op is also defined on integers), and the attributes it defines.
 * Attributes the code refuses whatever their value (auto_pad, Clip's
 * opset < 11 min/max, ConvTranspose's output_shape) are not defined: the
 * importers resolve them, so an IR never carries them. */
#define OP QP_ROW
#define ATTRS QP_ATTRS
#define NONE QP_NO_ATTRS
#define OPT QP_OPT
#define REQ QP_REQ
#define WINDOW OPT("strides", QP_AT_INTS), OPT("pads", QP_AT_INTS), \
	OPT("dilations", QP_AT_INTS)
#define REDUCE ATTRS(OPT("axes", QP_AT_INTS), OPT("keepdims", QP_AT_INT), \
	OPT("noop_with_empty_axes", QP_AT_INT))
#define ARG ATTRS(OPT("axis", QP_AT_INT), OPT("keepdims", QP_AT_INT), \
	OPT("select_last_index", QP_AT_INT))
#define UNARY(name, kind, ints_ok, attrs) OP(name, infer_unary, run_unary, kind, ints_ok, attrs)
#define ARITH(name, kind) OP(name, infer_arith, run_arith, kind, 0, NONE)
#define VARIADIC(name, kind) OP(name, infer_variadic, run_variadic, kind, 0, NONE)
#define REDUCTION(name, kind) OP(name, infer_reduce, run_reduce, kind, 0, REDUCE)

const qp_op_row qp_ops_float[] = {
	OP("Conv", infer_conv, run_conv, 0, 0,
	   ATTRS(WINDOW, OPT("group", QP_AT_INT), OPT("kernel_shape", QP_AT_INTS))),
	OP("MaxPool", infer_maxpool, run_maxpool, 0, 0,
	   ATTRS(REQ("kernel_shape", QP_AT_INTS), WINDOW, OPT("ceil_mode", QP_AT_INT),
		 OPT("storage_order", QP_AT_INT))),
	OP("AveragePool", infer_avgpool, run_avgpool, 0, 0,
	   ATTRS(REQ("kernel_shape", QP_AT_INTS), WINDOW, OPT("ceil_mode", QP_AT_INT),
		 OPT("count_include_pad", QP_AT_INT))),
	OP("GlobalAveragePool", infer_gap, run_gap, 0, 0, NONE),
	OP("Gemm", infer_gemm, run_gemm, 0, 0,
	   ATTRS(OPT("alpha", QP_AT_FLOAT), OPT("beta", QP_AT_FLOAT),
		 OPT("transA", QP_AT_INT), OPT("transB", QP_AT_INT))),
	OP("MatMul", infer_matmul, run_matmul, 0, 0, NONE),
	OP("Flatten", infer_flatten, qp_kernel_copy, 0, 0, ATTRS(OPT("axis", QP_AT_INT))),
	OP("Reshape", infer_reshape, qp_kernel_copy, 0, 0, ATTRS(OPT("allowzero", QP_AT_INT))),
	OP("Softmax", infer_softmax, run_softmax, 0, 0, ATTRS(OPT("axis", QP_AT_INT))),
	OP("BatchNormalization", infer_batchnorm, run_batchnorm, 0, 0,
	   ATTRS(OPT("epsilon", QP_AT_FLOAT))),
	OP("Transpose", infer_transpose, run_transpose, 0, 0, ATTRS(OPT("perm", QP_AT_INTS))),
	UNARY("Relu", UN_RELU, 1, NONE),
	UNARY("Sqrt", UN_SQRT, 0, NONE),
	UNARY("Exp", UN_EXP, 0, NONE),
	UNARY("Erf", UN_ERF, 0, NONE),
	UNARY("LeakyRelu", UN_LEAKY, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	UNARY("Sigmoid", UN_SIGMOID, 0, NONE),
	UNARY("HardSigmoid", UN_HSIGMOID, 0,
	      ATTRS(OPT("alpha", QP_AT_FLOAT), OPT("beta", QP_AT_FLOAT))),
	UNARY("HardSwish", UN_HSWISH, 0, NONE),
	UNARY("Tanh", UN_TANH, 0, NONE),
	UNARY("Abs", UN_ABS, 1, NONE),
	UNARY("Neg", UN_NEG, 1, NONE),
	UNARY("Reciprocal", UN_RECIP, 0, NONE),
	UNARY("Elu", UN_ELU, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	UNARY("ThresholdedRelu", UN_THRESH, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	ARITH("Add", AR_ADD),
	ARITH("Sub", AR_SUB),
	ARITH("Mul", AR_MUL),
	ARITH("Div", AR_DIV),
	ARITH("Pow", AR_POW),
	ARITH("PRelu", AR_PRELU),
	VARIADIC("Sum", AR_ADD),
	VARIADIC("Mean", AR_MEAN),
	VARIADIC("Max", AR_MAX),
	VARIADIC("Min", AR_MIN),
	OP("Where", infer_where, run_where, 0, 0, NONE),
	OP("Clip", infer_clip, run_clip, 0, 0, NONE),
	REDUCTION("ReduceMean", RD_MEAN),
	REDUCTION("ReduceMax", RD_MAX),
	REDUCTION("ReduceSum", RD_SUM),
	REDUCTION("ReduceMin", RD_MIN),
	REDUCTION("ReduceProd", RD_PROD),
	REDUCTION("ReduceSumSquare", RD_SUMSQ),
	REDUCTION("ReduceL1", RD_L1),
	REDUCTION("ReduceL2", RD_L2),
	OP("ArgMax", infer_argmax, run_argmax, 0, 0, ARG),
	OP("ArgMin", infer_argmax, run_argmax, 1, 0, ARG),
	OP("TopK", infer_topk, run_topk, 0, 0,
	   ATTRS(OPT("axis", QP_AT_INT), OPT("largest", QP_AT_INT), OPT("sorted", QP_AT_INT))),
	OP("InstanceNormalization", infer_instnorm, run_instnorm, 0, 0,
	   ATTRS(OPT("epsilon", QP_AT_FLOAT))),
	OP("GlobalMaxPool", infer_gap, run_gmp, 0, 0, NONE),
	OP("ConvTranspose", infer_convtranspose, run_convtranspose, 0, 0,
	   ATTRS(WINDOW, OPT("output_padding", QP_AT_INTS), OPT("group", QP_AT_INT),
		 OPT("kernel_shape", QP_AT_INTS))),
	/* "to" is an IR dtype name, or an ONNX TensorProto number (cast_to). */
	OP("Cast", infer_cast, run_cast, 0, 0, ATTRS(REQ("to", QP_AT_STRING | QP_AT_INT))),
	OP("Identity", infer_identity, qp_kernel_copy, 0, 0, NONE),
	/* saturate (opset 19) concerns float8 outputs only: the IR's int8 and
	 * uint8 always saturate.  onnx2ir keeps it as ONNX wrote it. */
	OP("QuantizeLinear", infer_quantize, run_quantize, 0, 0,
	   ATTRS(OPT("axis", QP_AT_INT), OPT("saturate", QP_AT_INT))),
	OP("DequantizeLinear", infer_dequantize, run_dequantize, 0, 0,
	   ATTRS(OPT("axis", QP_AT_INT))),
	QP_ROW_END,
};
