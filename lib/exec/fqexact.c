/* Integer-exact fake quantization (fqexact.h): one rule per op, in the
 * table at the end. */
#include "fqexact.h"

#include <stdlib.h>
#include <string.h>

#include "lowered.h"
#include "ops_common.h"
#include "qp_runtime.h"
#include "quant.h"

/* An activation grid: real = scale (code - zp), code in [qmin, qmax]. */
typedef struct grid {
	double scale;
	int32_t zp, qmin, qmax;
} grid;

static int grid_ok(const qp_quant *q)
{
	return q && q->n == 1 && q->bits >= 2 && q->bits <= 8;
}

static grid grid_of(const qp_quant *q)
{
	grid r;

	r.scale = q->scale[0];
	r.zp = q->zero_point[0];
	qp_qrange(q->bits, q->is_signed, &r.qmin, &r.qmax);
	return r;
}

static const qp_tensor *tensor_at(const qp_graph *g, const qp_node *n, int i)
{
	return i < n->n_inputs && n->inputs[i] >= 0 ? &g->tensors[n->inputs[i]] : NULL;
}

/* A computed activation quantized per tensor. */
static int is_act(const qp_tensor *t)
{
	return t && !t->data && t->dtype == QP_DT_FLOAT32 && grid_ok(t->quant);
}

/* A constant stored as its codes, per tensor (a quantized Add operand). */
static int is_code_const(const qp_tensor *t)
{
	return t && t->data && (t->dtype == QP_DT_INT8 || t->dtype == QP_DT_UINT8) &&
	       grid_ok(t->quant);
}

/* int8 weights with zero point 0, per tensor or per channel along axis
 * with channels scales: what lower's weight_scales accepts. */
static int weights_ok(const qp_tensor *w, int64_t channels, int axis)
{
	const qp_quant *q = w ? w->quant : NULL;

	if (!q || !w->data || w->dtype != QP_DT_INT8)
		return 0;
	if (q->n != 1 && (q->n != channels || q->axis != axis))
		return 0;
	for (int i = 0; i < q->n; i++)
		if (q->zero_point[i] != 0)
			return 0;
	return 1;
}

static int bias_ok(const qp_tensor *b, int64_t channels)
{
	return !b || (b->data && b->dtype == QP_DT_INT32 && qp_tensor_numel(b) == channels);
}

/* The grid node ni's rule writes: its output's, or through a Relu or Clip
 * that quantize fused (the output left unquantized, docs/ir.md 4.3).
 * Rounding on the grid, then clamping, is clamping then rounding: both are
 * monotone and the clamp bounds round as lower rounds them. */
static const qp_quant *output_grid(const qp_graph *g, int ni)
{
	const qp_node *n = &g->nodes[ni];
	const qp_tensor *y = n->n_outputs == 1 && n->outputs[0] >= 0 ? &g->tensors[n->outputs[0]] : NULL;
	const qp_node *r;
	int ri;

	if (!y || y->data || y->dtype != QP_DT_FLOAT32)
		return NULL;
	if (y->quant)
		return grid_ok(y->quant) ? y->quant : NULL;
	if ((ri = qp_graph_only_consumer(g, n->outputs[0])) < 0)
		return NULL;
	r = &g->nodes[ri];
	if ((strcmp(r->op, "Relu") && strcmp(r->op, "Clip")) || r->n_outputs != 1 ||
	    r->inputs[0] != n->outputs[0] || r->outputs[0] < 0)
		return NULL;
	y = &g->tensors[r->outputs[0]];
	return is_act(y) ? y->quant : NULL;
}

/* ---- shared arithmetic --------------------------------------------------------- */

static int32_t sat32(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* The device's output rule: requantize, add the zero point, clamp. */
static int32_t requant_code(int64_t acc, int32_t mult, int shift, const grid *y)
{
	int64_t r = (int64_t)qp_rt_requant(sat32(acc), mult, shift) + y->zp;

	return r < y->qmin ? y->qmin : r > y->qmax ? y->qmax : (int32_t)r;
}

static float real_of(int32_t code, const grid *y)
{
	return qp_dequantize_value(code, (float)y->scale, y->zp);
}

/* Centered codes (code - zp) of an activation's fake-quantized values. */
static void act_codes(const qp_value *v, const qp_quant *q, int32_t *dst)
{
	grid a = grid_of(q);
	const float *x = v->data;

	for (int64_t i = 0; i < v->numel; i++)
		dst[i] = qp_quantize_value(x[i], (float)a.scale, a.zp, a.qmin, a.qmax) - a.zp;
}

/* Centered codes of operand t (an activation or a code constant). */
static int32_t *operand_codes(const qp_tensor *t, const qp_value *v, qp_err *err)
{
	int32_t *c = malloc((size_t)(v->numel ? v->numel : 1) * sizeof *c);
	int32_t zp;

	if (!c) {
		qp_err_set(err, "out of memory");
		return NULL;
	}
	if (!t->data) {
		act_codes(v, t->quant, c);
		return c;
	}
	zp = t->quant->zero_point[0];
	for (int64_t i = 0; i < v->numel; i++)
		c[i] = (t->dtype == QP_DT_INT8 ? (int32_t)((const int8_t *)t->data)[i]
					       : (int32_t)((const uint8_t *)t->data)[i]) - zp;
	return c;
}

/* Per-channel multipliers s_x alpha s_w[c] / s_y, computed as lower's
 * rules compute them (same operations, same order). */
static int channel_mults(const qp_node *n, double alpha, double sx, const qp_quant *wq,
			 int64_t channels, int64_t period, double sy, int32_t *mult,
			 int *shift, qp_err *err)
{
	for (int64_t c = 0; c < channels; c++) {
		double sw = wq->scale[wq->n == 1 ? 0 : c % period];
		double real = alpha * sx * sw / sy;

		if (qp_quantize_multiplier(real, &mult[c], &shift[c]))
			return qp_node_err(err, n, "bad requantization scale %g", real);
	}
	return 0;
}

/* The window attributes of a 1-d or 2-d Conv, ConvTranspose or pool, as
 * the 2-d record lower writes (a 1-d window has height 1). */
typedef struct window {
	int64_t stride[2], pad[4], dil[2]; /* pad: top, left, bottom, right */
} window;

static void window_of(const qp_node *n, int spatial, window *w)
{
	const int64_t *a;
	int c;

	for (int i = 0; i < 2; i++)
		w->stride[i] = w->dil[i] = 1;
	memset(w->pad, 0, sizeof w->pad);
	if ((a = qp_node_attr_ints(n, "strides", &c)) && c == spatial)
		for (int i = 0; i < c; i++)
			w->stride[2 - spatial + i] = a[i];
	if ((a = qp_node_attr_ints(n, "dilations", &c)) && c == spatial)
		for (int i = 0; i < c; i++)
			w->dil[2 - spatial + i] = a[i];
	if ((a = qp_node_attr_ints(n, "pads", &c)) && c == 2 * spatial) {
		if (spatial == 2) {
			memcpy(w->pad, a, 4 * sizeof *a);
		} else {
			w->pad[1] = a[0];
			w->pad[3] = a[1];
		}
	}
}

/* [N, C, H, W] of a rank-4 value, or of a rank-3 one as H = 1. */
static void nchw(const qp_value *v, int64_t *d)
{
	d[0] = v->dims[0];
	d[1] = v->dims[1];
	d[2] = v->rank == 4 ? v->dims[2] : 1;
	d[3] = v->dims[v->rank - 1];
}

/* Writes acc[i] for output channel block: codes of the grid, as reals. */
typedef struct outbuf {
	int32_t *mult;
	int *shift;
	int64_t *acc;
} outbuf;

static int outbuf_new(outbuf *o, int64_t channels, int64_t acc_n, qp_err *err)
{
	o->mult = malloc((size_t)channels * sizeof *o->mult);
	o->shift = malloc((size_t)channels * sizeof *o->shift);
	o->acc = malloc((size_t)(acc_n ? acc_n : 1) * sizeof *o->acc);
	if (o->mult && o->shift && o->acc)
		return 0;
	return qp_err_set(err, "out of memory");
}

static void outbuf_free(outbuf *o)
{
	free(o->mult);
	free(o->shift);
	free(o->acc);
}

/* ---- Conv, ConvTranspose ------------------------------------------------------- */

/* What both convolution rules set up: operands, dims as [N, C, H, W] (a
 * 1-d operand as H = 1), the window, the multipliers, the input's codes
 * and an accumulator (one output plane for Conv, the whole sample for
 * ConvTranspose, which scatters). */
typedef struct conv_job {
	const int8_t *w;
	const int32_t *bias;
	grid gy;
	int64_t xd[4], yd[4], kh, kw, group;
	window win;
	outbuf o;
	int32_t *xc;
} conv_job;

static void conv_job_free(conv_job *j)
{
	free(j->xc);
	outbuf_free(&j->o);
}

static int conv_job_new(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
			const qp_value *x, const qp_value *y, int transposed, conv_job *j,
			qp_err *err)
{
	const qp_tensor *xt = tensor_at(g, n, 0), *wt = tensor_at(g, n, 1), *bt = tensor_at(g, n, 2);
	int64_t plane;

	memset(j, 0, sizeof *j);
	j->w = wt->data;
	j->bias = bt ? bt->data : NULL;
	j->gy = grid_of(fx->grid);
	j->group = qp_node_attr_int(n, "group", 1);
	nchw(x, j->xd);
	nchw(y, j->yd);
	j->kh = wt->rank == 4 ? wt->dims[2] : 1;
	j->kw = wt->dims[wt->rank - 1];
	window_of(n, x->rank - 2, &j->win);
	plane = j->yd[2] * j->yd[3];
	if (outbuf_new(&j->o, j->yd[1], transposed ? j->yd[1] * plane : plane, err))
		return -1;
	if (!(j->xc = malloc((size_t)(x->numel ? x->numel : 1) * sizeof *j->xc)))
		return qp_err_set(err, "out of memory");
	/* ConvTranspose's weights [Ci, Co/g, kh, kw] are per channel on axis
	 * 1, each scale shared by the g groups. */
	if (channel_mults(n, 1.0, xt->quant->scale[0], wt->quant, j->yd[1],
			  transposed ? wt->dims[1] : j->yd[1], j->gy.scale, j->o.mult, j->o.shift, err))
		return -1;
	act_codes(x, xt->quant, j->xc);
	return 0;
}

static int run_conv(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	float *yv = out[0]->data;
	conv_job j;
	int64_t cg = tensor_at(g, n, 1)->dims[1], cgo, plane;

	if (conv_job_new(g, n, fx, in[0], out[0], 0, &j, err)) {
		conv_job_free(&j);
		return -1;
	}
	cgo = j.yd[1] / j.group;
	plane = j.yd[2] * j.yd[3];
	for (int64_t b = 0; b < j.xd[0]; b++) {
		for (int64_t oc = 0; oc < j.yd[1]; oc++) {
			int64_t ic0 = oc / cgo * cg;

			for (int64_t i = 0; i < plane; i++)
				j.o.acc[i] = j.bias ? j.bias[oc] : 0;
			for (int64_t ic = 0; ic < cg; ic++) {
				const int32_t *xp = j.xc + (b * j.xd[1] + ic0 + ic) * j.xd[2] * j.xd[3];

				for (int64_t ky = 0; ky < j.kh; ky++) {
					for (int64_t kx = 0; kx < j.kw; kx++) {
						int64_t wv = j.w[((oc * cg + ic) * j.kh + ky) * j.kw + kx];
						int64_t ix0 = kx * j.win.dil[1] - j.win.pad[1], lo, hi;

						if (!wv)
							continue;
						/* Output columns whose tap lands inside the row. */
						lo = ix0 >= 0 ? 0 : (-ix0 + j.win.stride[1] - 1) / j.win.stride[1];
						hi = j.xd[3] - 1 - ix0 >= 0 ? (j.xd[3] - 1 - ix0) / j.win.stride[1] + 1 : 0;
						if (hi > j.yd[3])
							hi = j.yd[3];
						for (int64_t oy = 0; oy < j.yd[2]; oy++) {
							int64_t iy = oy * j.win.stride[0] - j.win.pad[0] + ky * j.win.dil[0];
							const int32_t *row = xp + iy * j.xd[3] + ix0;
							int64_t *acc = j.o.acc + oy * j.yd[3];

							if (iy < 0 || iy >= j.xd[2])
								continue;
							for (int64_t ox = lo; ox < hi; ox++)
								acc[ox] += wv * row[ox * j.win.stride[1]];
						}
					}
				}
			}
			for (int64_t i = 0; i < plane; i++)
				yv[(b * j.yd[1] + oc) * plane + i] =
					real_of(requant_code(j.o.acc[i], j.o.mult[oc], j.o.shift[oc], &j.gy), &j.gy);
		}
	}
	conv_job_free(&j);
	return 0;
}

static int conv_ok(const qp_graph *g, const qp_node *n)
{
	const qp_tensor *x = tensor_at(g, n, 0), *w = tensor_at(g, n, 1);

	return is_act(x) && (x->rank == 3 || x->rank == 4) && w && w->rank == x->rank &&
	       weights_ok(w, w->dims[0], 0) && bias_ok(tensor_at(g, n, 2), w->dims[0]);
}

static int run_convtranspose(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
			     const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	float *yv = out[0]->data;
	conv_job j;
	int64_t cw = tensor_at(g, n, 1)->dims[1], gi, plane;

	if (conv_job_new(g, n, fx, in[0], out[0], 1, &j, err)) {
		conv_job_free(&j);
		return -1;
	}
	gi = j.xd[1] / j.group;
	plane = j.yd[2] * j.yd[3];
	for (int64_t b = 0; b < j.xd[0]; b++) {
		for (int64_t oc = 0; oc < j.yd[1]; oc++)
			for (int64_t i = 0; i < plane; i++)
				j.o.acc[oc * plane + i] = j.bias ? j.bias[oc] : 0;
		/* Input pixel (iy, ix) and tap (ky, kx) meet at output
		 * (iy s - pad + ky d, ix s - pad + kx d) (ONNX ConvTranspose). */
		for (int64_t ic = 0; ic < j.xd[1]; ic++) {
			const int32_t *xp = j.xc + (b * j.xd[1] + ic) * j.xd[2] * j.xd[3];

			for (int64_t ocl = 0; ocl < cw; ocl++) {
				int64_t oc = ic / gi * cw + ocl;

				for (int64_t ky = 0; ky < j.kh; ky++)
					for (int64_t kx = 0; kx < j.kw; kx++) {
						int64_t wv = j.w[((ic * cw + ocl) * j.kh + ky) * j.kw + kx];

						if (!wv)
							continue;
						for (int64_t iy = 0; iy < j.xd[2]; iy++) {
							int64_t oy = iy * j.win.stride[0] - j.win.pad[0] + ky * j.win.dil[0];

							if (oy < 0 || oy >= j.yd[2])
								continue;
							for (int64_t ix = 0; ix < j.xd[3]; ix++) {
								int64_t ox = ix * j.win.stride[1] - j.win.pad[1] + kx * j.win.dil[1];

								if (ox >= 0 && ox < j.yd[3])
									j.o.acc[oc * plane + oy * j.yd[3] + ox] +=
										wv * xp[iy * j.xd[3] + ix];
							}
						}
					}
			}
		}
		for (int64_t oc = 0; oc < j.yd[1]; oc++)
			for (int64_t i = 0; i < plane; i++)
				yv[(b * j.yd[1] + oc) * plane + i] =
					real_of(requant_code(j.o.acc[oc * plane + i], j.o.mult[oc],
							     j.o.shift[oc], &j.gy), &j.gy);
	}
	conv_job_free(&j);
	return 0;
}

static int convtranspose_ok(const qp_graph *g, const qp_node *n)
{
	const qp_tensor *x = tensor_at(g, n, 0), *w = tensor_at(g, n, 1);
	int64_t group = qp_node_attr_int(n, "group", 1);

	return is_act(x) && (x->rank == 3 || x->rank == 4) && w && w->rank == x->rank &&
	       group >= 1 && weights_ok(w, w->dims[1], 1) &&
	       bias_ok(tensor_at(g, n, 2), w->dims[1] * group);
}

/* ---- Gemm, MatMul ----------------------------------------------------------------- */

static int run_gemm(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	int is_matmul = !strcmp(n->op, "MatMul");
	const qp_tensor *at = tensor_at(g, n, 0), *wt = tensor_at(g, n, 1);
	const qp_tensor *bt = is_matmul ? NULL : tensor_at(g, n, 2);
	int trans_b = is_matmul ? 0 : (int)qp_node_attr_int(n, "transB", 0);
	float alpha = is_matmul ? 1.0f : qp_node_attr_float(n, "alpha", 1.0f);
	const qp_value *a = in[0];
	const int8_t *w = wt->data;
	const int32_t *bias = bt ? bt->data : NULL;
	grid gy = grid_of(fx->grid);
	int64_t m = a->dims[0], k = a->dims[1], nn = wt->dims[trans_b ? 0 : 1];
	float *yv = out[0]->data;
	int32_t *ac = malloc((size_t)(a->numel ? a->numel : 1) * sizeof *ac);
	outbuf o = {0};
	int rc = -1;

	if (outbuf_new(&o, nn, 1, err))
		goto out;
	if (!ac) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	if (channel_mults(n, alpha, at->quant->scale[0], wt->quant, nn, nn, gy.scale,
			  o.mult, o.shift, err))
		goto out;
	act_codes(a, at->quant, ac);
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < nn; j++) {
			int64_t acc = bias ? bias[j] : 0;

			for (int64_t t = 0; t < k; t++)
				acc += (int64_t)ac[i * k + t] * w[trans_b ? j * k + t : t * nn + j];
			yv[i * nn + j] = real_of(requant_code(acc, o.mult[j], o.shift[j], &gy), &gy);
		}
	rc = 0;
out:
	free(ac);
	outbuf_free(&o);
	return rc;
}

static int gemm_ok(const qp_graph *g, const qp_node *n)
{
	int is_matmul = !strcmp(n->op, "MatMul");
	const qp_tensor *a = tensor_at(g, n, 0), *w = tensor_at(g, n, 1);
	const qp_tensor *b = is_matmul ? NULL : tensor_at(g, n, 2);
	int trans_b = is_matmul ? 0 : (int)qp_node_attr_int(n, "transB", 0);

	if (!is_act(a) || a->rank != 2 || !w || w->rank != 2)
		return 0;
	if (!is_matmul && (qp_node_attr_int(n, "transA", 0) != 0 ||
			   (b && qp_node_attr_float(n, "beta", 1.0f) != 1.0f)))
		return 0;
	return weights_ok(w, w->dims[trans_b ? 0 : 1], trans_b ? 0 : 1) &&
	       bias_ok(b, w->dims[trans_b ? 0 : 1]);
}

/* ---- Add, Sub, Mul ---------------------------------------------------------------- */

/* Offsets into a and b, broadcast to y numpy-style, for each y element. */
static void bcast_strides(const qp_value *v, const qp_value *y, int64_t *s)
{
	int64_t st = 1;

	for (int d = y->rank - 1; d >= 0; d--) {
		int dv = d - (y->rank - v->rank);

		s[d] = dv >= 0 && v->dims[dv] != 1 ? st : 0;
		if (dv >= 0)
			st *= v->dims[dv];
	}
}

static int run_binary(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
		      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	int is_sub = !strcmp(n->op, "Sub"), is_add = is_sub || !strcmp(n->op, "Add");
	const qp_tensor *ta = tensor_at(g, n, 0), *tb = tensor_at(g, n, 1);
	const qp_value *y = out[0];
	grid gy = grid_of(fx->grid);
	double sa = ta->quant->scale[0], sb = tb->quant->scale[0];
	int32_t *ca = operand_codes(ta, in[0], err), *cb = ca ? operand_codes(tb, in[1], err) : NULL;
	int64_t s_a[QP_MAX_RANK], s_b[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, oa = 0, ob = 0;
	float *yv = y->data;
	int32_t mult[3];
	int shift[3], rc = -1;

	if (!ca || !cb)
		goto out;
	if (is_add) {
		double real[3];

		qp_add_multipliers(sa, sb, gy.scale, real);
		for (int i = 0; i < 3; i++)
			if (qp_quantize_multiplier(real[i], &mult[i], &shift[i])) {
				qp_node_err(err, n, "bad requantization scale %g", real[i]);
				goto out;
			}
		if (is_sub)
			mult[1] = -mult[1];
	} else if (qp_quantize_multiplier(sa * sb / gy.scale, &mult[0], &shift[0])) {
		qp_node_err(err, n, "bad requantization scale %g", sa * sb / gy.scale);
		goto out;
	}
	bcast_strides(in[0], y, s_a);
	bcast_strides(in[1], y, s_b);
	for (int64_t i = 0; i < y->numel; i++) {
		int64_t acc;
		int32_t code;

		if (is_add) {
			acc = (int64_t)qp_rt_requant(ca[oa] * (1 << QP_ADD_LEFT_SHIFT), mult[0], shift[0]) +
			      qp_rt_requant(cb[ob] * (1 << QP_ADD_LEFT_SHIFT), mult[1], shift[1]);
			code = requant_code(acc, mult[2], shift[2], &gy);
		} else {
			code = requant_code((int64_t)ca[oa] * cb[ob], mult[0], shift[0], &gy);
		}
		yv[i] = real_of(code, &gy);
		for (int d = y->rank - 1; d >= 0; d--) {
			idx[d]++;
			oa += s_a[d];
			ob += s_b[d];
			if (idx[d] < y->dims[d])
				break;
			oa -= s_a[d] * idx[d];
			ob -= s_b[d] * idx[d];
			idx[d] = 0;
		}
	}
	rc = 0;
out:
	free(ca);
	free(cb);
	return rc;
}

static int binary_ok(const qp_graph *g, const qp_node *n)
{
	const qp_tensor *a = tensor_at(g, n, 0), *b = tensor_at(g, n, 1);

	/* A float constant operand is lower's QAffine or QRequant, not QAdd
	 * or QMul; it keeps the float rule. */
	return n->n_inputs == 2 && (is_act(a) || is_code_const(a)) &&
	       (is_act(b) || is_code_const(b)) && (is_act(a) || is_act(b));
}

/* ---- AveragePool, GlobalAveragePool ---------------------------------------------- */

/* Rounded (half away from zero) a / b for b > 0, as the device rescales a
 * window clipped by the border. */
static int64_t div_round(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

static int run_avgpool(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
		       const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_tensor *xt = tensor_at(g, n, 0);
	const qp_value *x = in[0];
	int global = !strcmp(n->op, "GlobalAveragePool");
	int cip = (int)qp_node_attr_int(n, "count_include_pad", 0);
	grid gy = grid_of(fx->grid);
	int64_t xd[4], yd[4], k[2] = {1, 1}, full;
	float *yv = out[0]->data;
	int32_t *xc = malloc((size_t)(x->numel ? x->numel : 1) * sizeof *xc), mult;
	window win;
	int shift, cnt;
	const int64_t *ks;

	if (!xc)
		return qp_err_set(err, "out of memory");
	nchw(x, xd);
	nchw(out[0], yd);
	window_of(n, x->rank - 2, &win);
	if (global) {
		k[0] = xd[2];
		k[1] = xd[3];
	} else if ((ks = qp_node_attr_ints(n, "kernel_shape", &cnt)) && cnt == x->rank - 2) {
		k[0] = cnt == 2 ? ks[0] : 1;
		k[1] = ks[cnt - 1];
	}
	full = k[0] * k[1];
	if (qp_quantize_multiplier(xt->quant->scale[0] / (gy.scale * (double)full), &mult, &shift)) {
		free(xc);
		return qp_node_err(err, n, "bad requantization scale");
	}
	act_codes(x, xt->quant, xc);
	for (int64_t c = 0; c < xd[0] * xd[1]; c++) {
		const int32_t *xp = xc + c * xd[2] * xd[3];

		for (int64_t oy = 0; oy < yd[2]; oy++)
			for (int64_t ox = 0; ox < yd[3]; ox++) {
				int64_t y0 = oy * win.stride[0] - win.pad[0], x0 = ox * win.stride[1] - win.pad[1];
				int64_t y1 = y0 + k[0], x1 = x0 + k[1], acc = 0, count, lo[2], hi[2];

				/* count_include_pad counts the window clipped to
				 * the padded input, else to the input. */
				lo[0] = y0 < (cip ? -win.pad[0] : 0) ? (cip ? -win.pad[0] : 0) : y0;
				lo[1] = x0 < (cip ? -win.pad[1] : 0) ? (cip ? -win.pad[1] : 0) : x0;
				hi[0] = y1 > xd[2] + (cip ? win.pad[2] : 0) ? xd[2] + (cip ? win.pad[2] : 0) : y1;
				hi[1] = x1 > xd[3] + (cip ? win.pad[3] : 0) ? xd[3] + (cip ? win.pad[3] : 0) : x1;
				count = (hi[0] - lo[0]) * (hi[1] - lo[1]);
				for (int64_t iy = y0 < 0 ? 0 : y0; iy < y1 && iy < xd[2]; iy++)
					for (int64_t ix = x0 < 0 ? 0 : x0; ix < x1 && ix < xd[3]; ix++)
						acc += xp[iy * xd[3] + ix];
				if (count > 0 && count != full)
					acc = div_round(acc * full, count);
				yv[(c * yd[2] + oy) * yd[3] + ox] =
					real_of(requant_code(acc, mult, shift, &gy), &gy);
			}
	}
	free(xc);
	return 0;
}

static int avgpool_ok(const qp_graph *g, const qp_node *n)
{
	const qp_tensor *x = tensor_at(g, n, 0);
	const int64_t *d;
	int cnt;

	if (!is_act(x) || (x->rank != 3 && x->rank != 4))
		return 0;
	/* Dilated average pooling has no device kernel. */
	if ((d = qp_node_attr_ints(n, "dilations", &cnt)))
		for (int i = 0; i < cnt; i++)
			if (d[i] != 1)
				return 0;
	return 1;
}

/* ---- the table -------------------------------------------------------------------- */

static const struct {
	const char *op;
	qp_fq_exact_fn run;
	int (*ok)(const qp_graph *g, const qp_node *n);
} rules[] = {
	{"Conv", run_conv, conv_ok},
	{"ConvTranspose", run_convtranspose, convtranspose_ok},
	{"Gemm", run_gemm, gemm_ok},
	{"MatMul", run_gemm, gemm_ok},
	{"Add", run_binary, binary_ok},
	{"Sub", run_binary, binary_ok},
	{"Mul", run_binary, binary_ok},
	{"AveragePool", run_avgpool, avgpool_ok},
	{"GlobalAveragePool", run_avgpool, avgpool_ok},
	{NULL, NULL, NULL},
};

int qp_fq_exact_find(const qp_graph *g, int ni, qp_fq_exact *fx)
{
	const qp_node *n = &g->nodes[ni];

	fx->run = NULL;
	fx->grid = NULL;
	for (int i = 0; rules[i].op; i++) {
		if (strcmp(rules[i].op, n->op))
			continue;
		if (n->n_outputs != 1 || !rules[i].ok(g, n) || !(fx->grid = output_grid(g, ni)))
			return 0;
		fx->run = rules[i].run;
		return 1;
	}
	return 0;
}
