/* Float ops with ONNX semantics (docs/ir.md section 3): one row per op with
 * its shape inference and its float32 kernel.
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
#include "ops.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

/* ---- shared helpers --------------------------------------------------- */

/* Sets err to "msg (node 'n', op 'Op')"; returns -1. */
static int node_err(qp_err *err, const qp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int node_err(qp_err *err, const qp_node *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qp_err_set(err, "%s (node '%s', op '%s')", msg, n->name, n->op);
}

/* "[1,3,28,28]" into buf. */
static const char *dims_str(int rank, const int64_t *dims, char *buf, size_t len)
{
	size_t used = 0;

	used += (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < rank && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld",
					 i ? "," : "", (long long)dims[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}

static qp_tensor *in_tensor(qp_graph *g, const qp_node *n, int i)
{
	if (i >= n->n_inputs || n->inputs[i] < 0)
		return NULL;
	return &g->tensors[n->inputs[i]];
}

/* Input count in [min_in, max_in], the first min_in present, one output. */
static int check_io(qp_graph *g, const qp_node *n, int min_in, int max_in,
		    qp_err *err)
{
	if (n->n_inputs < min_in || n->n_inputs > max_in) {
		if (min_in == max_in)
			return node_err(err, n, "has %d inputs, expected %d",
					n->n_inputs, min_in);
		return node_err(err, n, "has %d inputs, expected %d to %d",
				n->n_inputs, min_in, max_in);
	}
	for (int i = 0; i < min_in; i++)
		if (!in_tensor(g, n, i))
			return node_err(err, n, "required input %d is missing", i);
	if (n->n_outputs != 1)
		return node_err(err, n, "has %d outputs, expected 1", n->n_outputs);
	return 0;
}

/* float32, or an integer constant with quant that the interpreter
 * dequantizes for float consumers. */
static int is_real(const qp_tensor *t)
{
	return t->dtype == QP_DT_FLOAT32 || (t->quant && t->data);
}

static int want_real(const qp_node *n, const qp_tensor *t, const char *what,
		     qp_err *err)
{
	if (is_real(t))
		return 0;
	return node_err(err, n, "%s '%s' has dtype %s, expected float32", what,
			t->name, qp_dtype_name(t->dtype));
}

static int want_rank(const qp_node *n, const qp_tensor *t, const char *what,
		     int lo, int hi, qp_err *err)
{
	char s[160];

	if (t->rank >= lo && t->rank <= hi)
		return 0;
	if (lo == hi)
		return node_err(err, n, "%s '%s' has rank %d (shape %s), expected %d",
				what, t->name, t->rank,
				dims_str(t->rank, t->dims, s, sizeof s), lo);
	return node_err(err, n, "%s '%s' has rank %d (shape %s), expected %d to %d",
			what, t->name, t->rank,
			dims_str(t->rank, t->dims, s, sizeof s), lo, hi);
}

static void set_output(qp_graph *g, const qp_node *n, qp_dtype dt, int rank,
		       const int64_t *dims)
{
	qp_tensor_reshape(&g->tensors[n->outputs[0]], dt, rank, dims);
}

static int64_t prod(int from, int to, const int64_t *dims)
{
	int64_t p = 1;

	for (int i = from; i < to; i++)
		p *= dims[i];
	return p;
}

/* Reads an ints attribute of exactly count values, each >= min_value;
 * absent: every value dflt. */
static int spatial_ints(const qp_node *n, const char *name, int count,
			int64_t dflt, int64_t min_value, int64_t *out,
			qp_err *err)
{
	int have;
	const int64_t *v = qp_node_attr_ints(n, name, &have);

	if (!qp_node_attr(n, name)) {
		for (int i = 0; i < count; i++)
			out[i] = dflt;
		return 0;
	}
	if (!v && have == 0 && count > 0)
		return node_err(err, n, "attribute '%s' must be a list of %d integers",
				name, count);
	if (have != count)
		return node_err(err, n, "attribute '%s' has %d values, expected %d",
				name, have, count);
	for (int i = 0; i < count; i++) {
		if (v[i] < min_value)
			return node_err(err, n, "attribute '%s' value %lld is below %lld",
					name, (long long)v[i], (long long)min_value);
		out[i] = v[i];
	}
	return 0;
}

/* Geometry of a 1-D or 2-D window op, always stored as 2-D (a 1-D op gets
 * height 1), so kernels have one code path. */
typedef struct window {
	int64_t n, c, h, w;         /* input */
	int64_t kh, kw, sh, sw, dh, dw;
	int64_t pt, pl, pb, pr;     /* pads: top, left, bottom, right */
	int64_t oh, ow;             /* output */
} window;

/* x_dims: the input's [N, C, spatial...] (rank 3 or 4); k: the kernel's
 * spatial sizes.  is_pool enables ceil_mode. */
static int window_init(const qp_node *n, int rank, const int64_t *x_dims,
		       const int64_t *k, int is_pool, window *win, qp_err *err)
{
	int sp = rank - 2;
	int64_t s[2], d[2], p[4], in[2], kk[2], out[2];
	int ceil_mode = is_pool ? (int)qp_node_attr_int(n, "ceil_mode", 0) : 0;

	if (spatial_ints(n, "strides", sp, 1, 1, s, err) ||
	    spatial_ints(n, "dilations", sp, 1, 1, d, err) ||
	    spatial_ints(n, "pads", 2 * sp, 0, 0, p, err))
		return -1;
	if (strcmp(qp_node_attr_string(n, "auto_pad", "NOTSET"), "NOTSET") != 0)
		return node_err(err, n, "auto_pad '%s' must be resolved into pads by the importer",
				qp_node_attr_string(n, "auto_pad", "NOTSET"));
	if (ceil_mode != 0 && ceil_mode != 1)
		return node_err(err, n, "attribute 'ceil_mode' is %d, expected 0 or 1",
				ceil_mode);
	for (int i = 0; i < sp; i++) {
		int64_t padded = x_dims[2 + i] + p[i] + p[sp + i];
		int64_t span = d[i] * (k[i] - 1) + 1;

		if (k[i] < 1)
			return node_err(err, n, "kernel size %lld is not positive",
					(long long)k[i]);
		/* Conv may pad more than its kernel covers; a pool window
		 * entirely in padding would have no value (PyTorch forbids it). */
		if (is_pool && (p[i] >= span || p[sp + i] >= span))
			return node_err(err, n, "pads %lld,%lld must be smaller than the kernel extent %lld",
					(long long)p[i], (long long)p[sp + i],
					(long long)span);
		if (span > padded)
			return node_err(err, n, "kernel extent %lld is larger than the padded input %lld along spatial axis %d",
					(long long)span, (long long)padded, i);
		out[i] = (padded - span) / s[i] + 1;
		if (ceil_mode) {
			out[i] = (padded - span + s[i] - 1) / s[i] + 1;
			/* The last window must start inside the input or the
			 * left padding (ONNX and PyTorch agree). */
			if ((out[i] - 1) * s[i] >= x_dims[2 + i] + p[i])
				out[i]--;
		}
		in[i] = x_dims[2 + i];
		kk[i] = k[i];
	}
	win->n = x_dims[0];
	win->c = x_dims[1];
	if (sp == 1) {
		win->h = 1, win->kh = 1, win->sh = 1, win->dh = 1;
		win->pt = 0, win->pb = 0, win->oh = 1;
		win->w = in[0], win->kw = kk[0], win->sw = s[0], win->dw = d[0];
		win->pl = p[0], win->pr = p[1], win->ow = out[0];
	} else {
		win->h = in[0], win->kh = kk[0], win->sh = s[0], win->dh = d[0];
		win->pt = p[0], win->pb = p[2], win->oh = out[0];
		win->w = in[1], win->kw = kk[1], win->sw = s[1], win->dw = d[1];
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

/* numpy broadcasting of two shapes; -1 when incompatible. */
static int broadcast_dims(int ra, const int64_t *a, int rb, const int64_t *b,
			  int *ro, int64_t *o)
{
	int r = ra > rb ? ra : rb;

	for (int i = 0; i < r; i++) {
		int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
		int64_t db = i < r - rb ? 1 : b[i - (r - rb)];

		if (da != db && da != 1 && db != 1)
			return -1;
		o[i] = da == 1 ? db : da;
	}
	*ro = r;
	return 0;
}

/* ---- shape inference ---------------------------------------------------- */

static int infer_conv(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *w, *b;
	int64_t group, c, m, k[2], out[4];
	window win;
	char s1[160], s2[160];

	if (check_io(g, n, 2, 3, err))
		return -1;
	x = in_tensor(g, n, 0);
	w = in_tensor(g, n, 1);
	b = in_tensor(g, n, 2);
	if (want_real(n, x, "input", err) || want_real(n, w, "weight", err) ||
	    want_rank(n, x, "input", 3, 4, err))
		return -1;
	if (w->rank != x->rank)
		return node_err(err, n, "weight '%s' has shape %s, input '%s' %s: ranks differ",
				w->name, dims_str(w->rank, w->dims, s1, sizeof s1),
				x->name, dims_str(x->rank, x->dims, s2, sizeof s2));
	group = qp_node_attr_int(n, "group", 1);
	c = x->dims[1];
	m = w->dims[0];
	if (group < 1)
		return node_err(err, n, "group %lld is not positive", (long long)group);
	/* BLAS wants leading dimensions >= 1: refuse empty operands here. */
	if (c < 1 || m < 1 || x->dims[0] < 1)
		return node_err(err, n, "empty input '%s' %s or weight '%s' %s",
				x->name, dims_str(x->rank, x->dims, s1, sizeof s1),
				w->name, dims_str(w->rank, w->dims, s2, sizeof s2));
	if (c % group != 0 || m % group != 0)
		return node_err(err, n, "group %lld does not divide the input channels %lld and output channels %lld",
				(long long)group, (long long)c, (long long)m);
	if (w->dims[1] * group != c)
		return node_err(err, n, "input '%s' has %lld channels, weight '%s' %s expects %lld (group %lld)",
				x->name, (long long)c, w->name,
				dims_str(w->rank, w->dims, s1, sizeof s1),
				(long long)(w->dims[1] * group), (long long)group);
	if (qp_node_attr(n, "kernel_shape")) {
		int64_t ks[2];

		if (spatial_ints(n, "kernel_shape", x->rank - 2, 1, 1, ks, err))
			return -1;
		for (int i = 0; i < x->rank - 2; i++)
			if (ks[i] != w->dims[2 + i])
				return node_err(err, n, "kernel_shape %lld does not match weight '%s' %s",
						(long long)ks[i], w->name,
						dims_str(w->rank, w->dims, s1, sizeof s1));
	}
	if (b) {
		if (want_real(n, b, "bias", err))
			return -1;
		if (b->rank != 1 || b->dims[0] != m)
			return node_err(err, n, "bias '%s' has shape %s, expected [%lld]",
					b->name, dims_str(b->rank, b->dims, s1, sizeof s1),
					(long long)m);
	}
	for (int i = 0; i < x->rank - 2; i++)
		k[i] = w->dims[2 + i];
	if (window_init(n, x->rank, x->dims, k, 0, &win, err))
		return -1;
	window_out_dims(&win, x->rank, out, m);
	set_output(g, n, QP_DT_FLOAT32, x->rank, out);
	return 0;
}

static int infer_relu(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (check_io(g, n, 1, 1, err))
		return -1;
	x = in_tensor(g, n, 0);
	if (want_real(n, x, "input", err))
		return -1;
	set_output(g, n, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

static int infer_pool(qp_graph *g, int node, int is_max, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t k[2], out[4];
	window win;

	if (check_io(g, n, 1, 1, err))
		return -1;
	x = in_tensor(g, n, 0);
	/* max is order-preserving for any affine quantization, so MaxPool
	 * also runs on int8 activations of a lowered IR. */
	if (!(is_max && x->dtype == QP_DT_INT8) && want_real(n, x, "input", err))
		return -1;
	if (want_rank(n, x, "input", 3, 4, err))
		return -1;
	if (!qp_node_attr(n, "kernel_shape"))
		return node_err(err, n, "attribute 'kernel_shape' is missing");
	if (spatial_ints(n, "kernel_shape", x->rank - 2, 1, 1, k, err))
		return -1;
	if (!is_max) {
		int64_t d[2];
		int64_t cip = qp_node_attr_int(n, "count_include_pad", 0);

		if (spatial_ints(n, "dilations", x->rank - 2, 1, 1, d, err))
			return -1;
		for (int i = 0; i < x->rank - 2; i++)
			if (d[i] != 1)
				return node_err(err, n, "dilations %lld are not supported",
						(long long)d[i]);
		if (cip != 0 && cip != 1)
			return node_err(err, n, "attribute 'count_include_pad' is %lld, expected 0 or 1",
					(long long)cip);
	}
	if (qp_node_attr_int(n, "storage_order", 0) != 0)
		return node_err(err, n, "storage_order 1 is not supported");
	if (window_init(n, x->rank, x->dims, k, 1, &win, err))
		return -1;
	window_out_dims(&win, x->rank, out, x->dims[1]);
	set_output(g, n, is_max ? x->dtype : QP_DT_FLOAT32, x->rank, out);
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

	if (check_io(g, n, 1, 1, err))
		return -1;
	x = in_tensor(g, n, 0);
	if (want_real(n, x, "input", err) ||
	    want_rank(n, x, "input", 3, QP_MAX_RANK, err))
		return -1;
	for (int i = 0; i < x->rank; i++)
		out[i] = i < 2 ? x->dims[i] : 1;
	for (int i = 2; i < x->rank; i++)
		if (x->dims[i] < 1)
			return node_err(err, n, "input '%s' has an empty spatial axis", x->name);
	set_output(g, n, QP_DT_FLOAT32, x->rank, out);
	return 0;
}

static int infer_gemm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b, *c;
	int64_t ta, tb, m, k, kb, nn, out[2];
	char s1[160], s2[160];

	if (check_io(g, n, 2, 3, err))
		return -1;
	a = in_tensor(g, n, 0);
	b = in_tensor(g, n, 1);
	c = in_tensor(g, n, 2);
	if (want_real(n, a, "input A", err) || want_real(n, b, "input B", err) ||
	    want_rank(n, a, "input A", 2, 2, err) ||
	    want_rank(n, b, "input B", 2, 2, err))
		return -1;
	ta = qp_node_attr_int(n, "transA", 0);
	tb = qp_node_attr_int(n, "transB", 0);
	if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
		return node_err(err, n, "transA %lld / transB %lld must be 0 or 1",
				(long long)ta, (long long)tb);
	m = ta ? a->dims[1] : a->dims[0];
	k = ta ? a->dims[0] : a->dims[1];
	kb = tb ? b->dims[1] : b->dims[0];
	nn = tb ? b->dims[0] : b->dims[1];
	if (m < 1 || k < 1 || nn < 1)
		return node_err(err, n, "empty operand: A '%s' %s, B '%s' %s",
				a->name, dims_str(2, a->dims, s1, sizeof s1),
				b->name, dims_str(2, b->dims, s2, sizeof s2));
	if (k != kb)
		return node_err(err, n, "inner dimensions differ: A '%s' %s (transA %lld), B '%s' %s (transB %lld)",
				a->name, dims_str(2, a->dims, s1, sizeof s1), (long long)ta,
				b->name, dims_str(2, b->dims, s2, sizeof s2), (long long)tb);
	if (c) {
		int ok = 1;

		if (want_real(n, c, "input C", err))
			return -1;
		if (c->rank > 2)
			ok = 0;
		else if (c->rank == 1)
			ok = c->dims[0] == 1 || c->dims[0] == nn;
		else if (c->rank == 2)
			ok = (c->dims[0] == 1 || c->dims[0] == m) &&
			     (c->dims[1] == 1 || c->dims[1] == nn);
		if (!ok)
			return node_err(err, n, "input C '%s' %s does not broadcast to [%lld,%lld]",
					c->name, dims_str(c->rank, c->dims, s1, sizeof s1),
					(long long)m, (long long)nn);
	}
	out[0] = m;
	out[1] = nn;
	set_output(g, n, QP_DT_FLOAT32, 2, out);
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
		return node_err(err, n, "operands must have rank 1 or more, not %d and %d",
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
		return node_err(err, n, "empty operand: %s x %s",
				dims_str(ra, adims, s1, sizeof s1),
				dims_str(rb, bdims, s2, sizeof s2));
	if (s->b[s->rb - 2] != s->k)
		return node_err(err, n, "inner dimensions differ: %s x %s",
				dims_str(ra, adims, s1, sizeof s1),
				dims_str(rb, bdims, s2, sizeof s2));
	if (broadcast_dims(s->ra - 2, s->a, s->rb - 2, s->b, &s->ro_batch, s->batch))
		return node_err(err, n, "batch dimensions of %s and %s do not broadcast",
				dims_str(ra, adims, s1, sizeof s1),
				dims_str(rb, bdims, s2, sizeof s2));
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

	if (check_io(g, n, 2, 2, err))
		return -1;
	a = in_tensor(g, n, 0);
	b = in_tensor(g, n, 1);
	if (want_real(n, a, "input A", err) || want_real(n, b, "input B", err))
		return -1;
	if (matmul_shape_init(n, a->rank, a->dims, b->rank, b->dims, &s, err))
		return -1;
	set_output(g, n, QP_DT_FLOAT32, s.out_rank, s.out);
	return 0;
}

static int infer_binary(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b;
	int ro;
	int64_t out[QP_MAX_RANK];
	char s1[160], s2[160];

	if (check_io(g, n, 2, 2, err))
		return -1;
	a = in_tensor(g, n, 0);
	b = in_tensor(g, n, 1);
	if (want_real(n, a, "input A", err) || want_real(n, b, "input B", err))
		return -1;
	if (broadcast_dims(a->rank, a->dims, b->rank, b->dims, &ro, out))
		return node_err(err, n, "shapes %s ('%s') and %s ('%s') do not broadcast",
				dims_str(a->rank, a->dims, s1, sizeof s1), a->name,
				dims_str(b->rank, b->dims, s2, sizeof s2), b->name);
	set_output(g, n, QP_DT_FLOAT32, ro, out);
	return 0;
}

static int infer_flatten(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t axis, out[2];

	if (check_io(g, n, 1, 1, err))
		return -1;
	x = in_tensor(g, n, 0);
	axis = qp_node_attr_int(n, "axis", 1);
	if (axis < -x->rank || axis > x->rank)
		return node_err(err, n, "axis %lld is out of range for rank %d",
				(long long)axis, x->rank);
	if (axis < 0)
		axis += x->rank;
	out[0] = prod(0, (int)axis, x->dims);
	out[1] = prod((int)axis, x->rank, x->dims);
	set_output(g, n, x->dtype, 2, out);
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

	if (check_io(g, n, 2, 2, err))
		return -1;
	x = in_tensor(g, n, 0);
	shape = in_tensor(g, n, 1);
	if (!shape->data || shape->dtype != QP_DT_INT64 || shape->rank != 1)
		return node_err(err, n, "shape '%s' must be a constant 1-d int64 tensor",
				shape->name);
	rank = (int)shape->dims[0];
	if (rank > QP_MAX_RANK)
		return node_err(err, n, "shape '%s' has %d dims, at most %d are supported",
				shape->name, rank, QP_MAX_RANK);
	want = shape->data;
	allowzero = (int)qp_node_attr_int(n, "allowzero", 0);
	numel = qp_tensor_numel(x);
	for (int i = 0; i < rank; i++) {
		int64_t d = want[i];

		if (d == -1) {
			if (infer_at >= 0)
				return node_err(err, n, "shape '%s' has more than one -1",
						shape->name);
			infer_at = i;
			out[i] = 1;
			continue;
		}
		if (d == 0 && !allowzero) {
			if (i >= x->rank)
				return node_err(err, n, "shape '%s' copies dim %d (0) but the input has rank %d",
						shape->name, i, x->rank);
			d = x->dims[i];
		}
		if (d < 0)
			return node_err(err, n, "shape '%s' has invalid dim %lld",
					shape->name, (long long)d);
		out[i] = d;
		if (d > 0 && known > INT64_MAX / d)
			return node_err(err, n, "shape '%s' overflows", shape->name);
		known *= d;
	}
	if (infer_at >= 0) {
		if (known == 0 || numel % known != 0)
			return node_err(err, n, "cannot reshape input '%s' %s to %s",
					x->name, dims_str(x->rank, x->dims, s1, sizeof s1),
					dims_str(rank, want, s2, sizeof s2));
		out[infer_at] = numel / known;
		known = numel;
	}
	if (known != numel)
		return node_err(err, n, "cannot reshape input '%s' %s (%lld elements) to %s (%lld elements)",
				x->name, dims_str(x->rank, x->dims, s1, sizeof s1),
				(long long)numel, dims_str(rank, out, s2, sizeof s2),
				(long long)known);
	set_output(g, n, x->dtype, rank, out);
	return 0;
}

static int infer_softmax(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t axis;

	if (check_io(g, n, 1, 1, err))
		return -1;
	x = in_tensor(g, n, 0);
	if (want_real(n, x, "input", err) ||
	    want_rank(n, x, "input", 1, QP_MAX_RANK, err))
		return -1;
	axis = qp_node_attr_int(n, "axis", -1);
	if (axis < -x->rank || axis >= x->rank)
		return node_err(err, n, "axis %lld is out of range for rank %d",
				(long long)axis, x->rank);
	set_output(g, n, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

static int infer_batchnorm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	static const char *const what[] = {"input", "scale", "bias", "mean", "var"};
	const qp_tensor *x;
	char s1[160];

	if (n->n_outputs > 1 || qp_node_attr_int(n, "training_mode", 0) != 0)
		return node_err(err, n, "training mode is not supported");
	if (check_io(g, n, 5, 5, err))
		return -1;
	x = in_tensor(g, n, 0);
	if (want_rank(n, x, "input", 2, QP_MAX_RANK, err))
		return -1;
	for (int i = 0; i < 5; i++) {
		const qp_tensor *t = in_tensor(g, n, i);

		if (want_real(n, t, what[i], err))
			return -1;
		if (i > 0 && (t->rank != 1 || t->dims[0] != x->dims[1]))
			return node_err(err, n, "%s '%s' has shape %s, expected [%lld]",
					what[i], t->name,
					dims_str(t->rank, t->dims, s1, sizeof s1),
					(long long)x->dims[1]);
	}
	set_output(g, n, QP_DT_FLOAT32, x->rank, x->dims);
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
		return node_err(err, n, "perm has %d values for an input of rank %d",
				count, rank);
	for (int i = 0; i < rank; i++) {
		if (p[i] < 0 || p[i] >= rank || seen[p[i]])
			return node_err(err, n, "perm is not a permutation of 0..%d",
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

	if (check_io(g, n, 1, 1, err))
		return -1;
	x = in_tensor(g, n, 0);
	if (transpose_perm(n, x->rank, perm, err))
		return -1;
	for (int i = 0; i < x->rank; i++)
		out[i] = x->dims[perm[i]];
	set_output(g, n, x->dtype, x->rank, out);
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
			return node_err(err, n, "out of memory for %lld unfolded values",
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

static int run_relu(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const float *x = CF32(in[0]);
	float *y = F32(out[0]);

	(void)g, (void)n, (void)err;
	for (int64_t i = 0; i < in[0]->numel; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
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

static int run_maxpool(const qp_graph *g, const qp_node *n,
		       const qp_value *const *in, qp_value *const *out,
		       qp_err *err)
{
	const qp_value *x = in[0];
	int64_t k[2];
	int ks_n;
	const int64_t *ks = qp_node_attr_ints(n, "kernel_shape", &ks_n);
	window win;

	(void)g;
	for (int i = 0; i < ks_n && i < 2; i++)
		k[i] = ks[i];
	if (window_from_values(n, x, k, 1, &win, err))
		return -1;
	for (int64_t pl = 0; pl < win.n * win.c; pl++) {
		for (int64_t oy = 0; oy < win.oh; oy++)
			for (int64_t ox = 0; ox < win.ow; ox++) {
				int64_t y0, y1, x0, x1, o = (pl * win.oh + oy) * win.ow + ox;
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
						v = x->dtype == QP_DT_INT8
							? ((const int8_t *)x->data)[i]
							: CF32(x)[i];
						if (!found || v > best)
							best = v;
						found = 1;
					}
				}
				if (x->dtype == QP_DT_INT8)
					((int8_t *)out[0]->data)[o] = found ? (int8_t)best : INT8_MIN;
				else
					F32(out[0])[o] = best;
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

static int run_gap(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0];
	int64_t planes = x->dims[0] * x->dims[1];
	int64_t size = prod(2, x->rank, x->dims);

	(void)g, (void)n, (void)err;
	for (int64_t p = 0; p < planes; p++) {
		const float *xp = CF32(x) + p * size;
		double sum = 0.0;

		for (int64_t i = 0; i < size; i++)
			sum += xp[i];
		F32(out[0])[p] = (float)(sum / (double)size);
	}
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
	batches = prod(0, s.ro_batch, s.batch);
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

/* y = a (op) b with numpy broadcasting. */
static void broadcast_binary(const qp_value *a, const qp_value *b,
			     qp_value *y, int is_mul)
{
	int r = y->rank;
	int64_t sa[QP_MAX_RANK], sb[QP_MAX_RANK], idx[QP_MAX_RANK] = {0};
	int64_t inner, outer, ia = 0, ib = 0, stra = 1, strb = 1;
	const float *pa = CF32(a), *pb = CF32(b);
	float *py = F32(y);

	if (a->numel == y->numel && b->numel == y->numel) {
		for (int64_t i = 0; i < y->numel; i++)
			py[i] = is_mul ? pa[i] * pb[i] : pa[i] + pb[i];
		return;
	}
	if (r == 0) {
		py[0] = is_mul ? pa[0] * pb[0] : pa[0] + pb[0];
		return;
	}
	/* Element strides of a and b along each output axis; 0 where the
	 * operand is broadcast. */
	for (int i = r - 1; i >= 0; i--) {
		int ja = i - (r - a->rank), jb = i - (r - b->rank);
		int64_t da = ja >= 0 ? a->dims[ja] : 1, db = jb >= 0 ? b->dims[jb] : 1;

		sa[i] = da == 1 ? 0 : stra;
		sb[i] = db == 1 ? 0 : strb;
		stra *= da;
		strb *= db;
	}
	inner = y->dims[r - 1];
	outer = inner ? y->numel / inner : 0;
	for (int64_t o = 0; o < outer; o++) {
		float *dst = py + o * inner;

		for (int64_t j = 0; j < inner; j++) {
			float va = pa[ia + j * sa[r - 1]], vb = pb[ib + j * sb[r - 1]];

			dst[j] = is_mul ? va * vb : va + vb;
		}
		/* Advance the outer index (axes 0..r-2) like an odometer. */
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

static int run_add(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	broadcast_binary(in[0], in[1], out[0], 0);
	return 0;
}

static int run_mul(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	broadcast_binary(in[0], in[1], out[0], 1);
	return 0;
}

/* Flatten and Reshape only relabel the shape: the bytes are the same. */
static int run_copy(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	if (out[0]->data != in[0]->data)
		memcpy(out[0]->data, in[0]->data,
		       (size_t)in[0]->numel * qp_dtype_size(in[0]->dtype));
	return 0;
}

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
	inner = prod(axis + 1, x->rank, x->dims);
	outer = prod(0, axis, x->dims);
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
	int64_t c = x->dims[1], size = prod(2, x->rank, x->dims);

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
		return run_copy(g, n, in, out, err);
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

const qp_op_def qp_ops_float[] = {
	{"Conv", infer_conv, run_conv},
	{"Relu", infer_relu, run_relu},
	{"MaxPool", infer_maxpool, run_maxpool},
	{"AveragePool", infer_avgpool, run_avgpool},
	{"GlobalAveragePool", infer_gap, run_gap},
	{"Gemm", infer_gemm, run_gemm},
	{"MatMul", infer_matmul, run_matmul},
	{"Add", infer_binary, run_add},
	{"Mul", infer_binary, run_mul},
	{"Flatten", infer_flatten, run_copy},
	{"Reshape", infer_reshape, run_copy},
	{"Softmax", infer_softmax, run_softmax},
	{"BatchNormalization", infer_batchnorm, run_batchnorm},
	{"Transpose", infer_transpose, run_transpose},
	{NULL, NULL, NULL},
};
