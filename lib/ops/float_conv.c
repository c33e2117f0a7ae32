/* Conv, ConvTranspose and pooling (MaxPool, AveragePool, GlobalAveragePool,
 * GlobalMaxPool): their shape rules and float kernels, around one window
 * geometry that inference and kernels compute alike.
 */
#include "ops_float_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

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

/* Geometry of a Conv/pool from the values (the graph was inferred, so this
 * cannot fail on a verified graph; errors are still reported). */
static int window_from_values(const qp_node *n, const qp_value *x,
			      const int64_t *k, int is_pool, window *win,
			      qp_err *err)
{
	return window_init(n, x->rank, x->dims, k, is_pool, win, err);
}

/* Conv's and ConvTranspose's kernel_shape, when given, must be the weight's
 * spatial dims (the kernels read them from the weight). */
static int weight_kernel_shape(const qp_node *n, const qp_tensor *x,
			       const qp_tensor *w, qp_err *err)
{
	int64_t ks[3];
	char s1[160];

	if (!qp_node_attr(n, "kernel_shape"))
		return 0;
	if (qp_spatial_ints(n, "kernel_shape", x->rank - 2, 1, 1, ks, err))
		return -1;
	for (int i = 0; i < x->rank - 2; i++)
		if (ks[i] != w->dims[2 + i])
			return qp_node_err(err, n, "kernel_shape %lld does not match weight '%s' %s",
					   (long long)ks[i], w->name,
					   qp_dims_str(w->rank, w->dims, s1, sizeof s1));
	return 0;
}

/* ---- Conv --------------------------------------------------------------- */

/* The inputs Conv and ConvTranspose share: real input *x of rank 3 to
 * max_rank, real weight *w, optional bias *b (NULL when absent). */
static int conv_inputs(qp_graph *g, const qp_node *n, int max_rank, const qp_tensor **x,
		       const qp_tensor **w, const qp_tensor **b, qp_err *err)
{
	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	*x = qp_in_tensor(g, n, 0);
	*w = qp_in_tensor(g, n, 1);
	*b = qp_in_tensor(g, n, 2);
	if (qp_want_real(n, *x, "input", err) || qp_want_real(n, *w, "weight", err) ||
	    qp_want_rank(n, *x, "input", 3, max_rank, err))
		return -1;
	return 0;
}

int infer_conv(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *w, *b;
	int64_t group, c, m, k[2], out[4];
	window win;
	char s1[160], s2[160];

	if (conv_inputs(g, n, 4, &x, &w, &b, err))
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
	if (weight_kernel_shape(n, x, w, err))
		return -1;
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

int run_conv(const qp_graph *g, const qp_node *n,
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

/* ---- pooling ------------------------------------------------------------ */

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

int infer_maxpool(qp_graph *g, int node, qp_err *err)
{
	return infer_pool(g, node, 1, err);
}

int infer_avgpool(qp_graph *g, int node, qp_err *err)
{
	return infer_pool(g, node, 0, err);
}

int infer_gap(qp_graph *g, int node, qp_err *err)
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

/* The 1-D or 2-D window of a MaxPool or AveragePool from its kernel_shape. */
static int pool_window(const qp_node *n, const qp_value *x, window *win,
		       qp_err *err)
{
	int64_t k[2];
	int ks_n;
	const int64_t *ks = qp_node_attr_ints(n, "kernel_shape", &ks_n);

	for (int i = 0; i < ks_n && i < 2; i++)
		k[i] = ks[i];
	return window_from_values(n, x, k, 1, win, err);
}

int run_maxpool(const qp_graph *g, const qp_node *n,
		const qp_value *const *in, qp_value *const *out,
		qp_err *err)
{
	const qp_value *x = in[0];
	int col_major = qp_node_attr_int(n, "storage_order", 0) == 1;
	window win;

	(void)g;
	if (x->rank == 5)
		return run_pool3d(n, x, out, 1, err);
	if (pool_window(n, x, &win, err))
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

int run_avgpool(const qp_graph *g, const qp_node *n,
		const qp_value *const *in, qp_value *const *out,
		qp_err *err)
{
	const qp_value *x = in[0];
	int include_pad = (int)qp_node_attr_int(n, "count_include_pad", 0);
	window win;

	(void)g;
	if (x->rank == 5)
		return run_pool3d(n, x, out, 0, err);
	if (pool_window(n, x, &win, err))
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

int run_gap(const qp_graph *g, const qp_node *n,
	    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	global_pool(in[0], F32(out[0]), 0);
	return 0;
}

int run_gmp(const qp_graph *g, const qp_node *n,
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

int infer_convtranspose(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *w, *b;
	tconv t;
	int64_t out[5];
	char s1[160], s2[160];

	if (conv_inputs(g, n, 5, &x, &w, &b, err))
		return -1;
	if (w->rank != x->rank || w->dims[0] != x->dims[1])
		return qp_node_err(err, n, "weight '%s' %s does not fit input '%s' %s",
				   w->name, qp_dims_str(w->rank, w->dims, s1, sizeof s1),
				   x->name, qp_dims_str(x->rank, x->dims, s2, sizeof s2));
	if (x->dims[0] < 1 || x->dims[1] < 1 || w->dims[1] < 1)
		return qp_node_err(err, n, "empty input '%s' or weight '%s'", x->name, w->name);
	if (weight_kernel_shape(n, x, w, err) ||
	    tconv_init(n, x->rank, x->dims, w->dims, &t, err))
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

int run_convtranspose(const qp_graph *g, const qp_node *n,
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
