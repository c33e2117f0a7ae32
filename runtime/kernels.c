/* Reference int8 kernels and the requantization rule.
 *
 * This file is the one place where qpipe's integer arithmetic is defined:
 * simulate runs it through qp_run, irrun through lib/ops/ops_int.c.  Kernels
 * assume qp_rt_op_check accepted their operands and parameters; the checks
 * live next to each kernel so the two cannot drift.
 */
#include "qp_runtime.h"

#include <string.h>

/* ---- requantization (docs/ir.md section 6) -------------------------------- */

/* Floor division by 2^e without relying on the implementation-defined
 * right shift of negative numbers. */
static int32_t floor_shift(int32_t x, int e)
{
	if (x >= 0)
		return x >> e;
	return ~((~x) >> e);
}

int32_t qp_rt_rdivpot(int32_t x, int exponent)
{
	int32_t mask, remainder, threshold;

	if (exponent <= 0)
		return x;
	if (exponent > 31)
		exponent = 31;
	mask = (int32_t)(((int64_t)1 << exponent) - 1);
	remainder = x & mask;
	/* Ties go away from zero: a negative tie needs one more. */
	threshold = (mask >> 1) + (x < 0 ? 1 : 0);
	return floor_shift(x, exponent) + (remainder > threshold ? 1 : 0);
}

static int32_t sat32(int64_t v)
{
	if (v > INT32_MAX)
		return INT32_MAX;
	if (v < INT32_MIN)
		return INT32_MIN;
	return (int32_t)v;
}

/* x / 2^e for 0 <= e <= 62, rounded to nearest with ties away from zero,
 * the rounding of fake quantization (round()), so an exact tie (common with
 * power-of-two scales) goes the same way on the device. */
static int64_t round_shift64(int64_t x, int e)
{
	int64_t half = e > 0 ? (int64_t)1 << (e - 1) : 0;

	if (x >= 0)
		return (x + half) >> e;
	return -((-x + half) >> e);
}

/* One rounding of x * multiplier / 2^(31 - shift), ties away from zero:
 * gemmlowp's SRDHM followed by a rounding shift rounds twice, and those
 * one-step flips are what made the device disagree with fake quantization
 * on deep nets (docs/decisions.md).  |x * multiplier| < 2^62, so int64 holds
 * it.  A multiplier of exactly 2^30 is a power-of-two ratio (the IMX500's
 * power-of-two activations): it is a pure rounding shift, same value. */
int32_t qp_rt_requant(int32_t x, int32_t multiplier, int shift)
{
	int k;

	if (shift > 30)
		shift = 30;
	if (shift < -31)
		shift = -31;
	if (multiplier == (int32_t)1 << 30) {
		k = 1 - shift;
		if (k <= 0)
			return sat32((int64_t)x * ((int64_t)1 << -k));
		return sat32(round_shift64(x, k));
	}
	return sat32(round_shift64((int64_t)x * multiplier, 31 - shift));
}

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Requantize an accumulator and add the output zero point, saturating. */
static int8_t requant_out(int64_t acc, int32_t mult, int32_t shift,
			  int32_t zp, int32_t lo, int32_t hi)
{
	int64_t r = (int64_t)qp_rt_requant(sat32(acc), mult, (int)shift) + zp;

	return (int8_t)clamp32(sat32(r), lo, hi);
}

int32_t qp_rt_quantize_one(float x, float scale, int32_t zero_point,
			   int32_t qmin, int32_t qmax)
{
	/* Divided in double so the only rounding is the one below; the same
	 * rule as lib/quant/quant.h's qp_quantize_value (fake quantization). */
	double v = (double)x / (double)scale;
	int32_t t;
	double frac;
	int64_t r;

	if (v != v)            /* NaN: the real value 0 */
		v = 0.0;
	if (v > 1e9)
		v = 1e9;
	if (v < -1e9)
		v = -1e9;
	t = (int32_t)v;        /* toward zero */
	frac = v - (double)t;  /* exact */
	if (frac >= 0.5)       /* ties away from zero */
		t++;
	else if (frac <= -0.5)
		t--;
	r = (int64_t)t + zero_point;
	return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

/* ---- helpers for checks ------------------------------------------------------ */

static int64_t numel(const qp_rt_tensor *t)
{
	int64_t n = 1;
	int i;

	for (i = 0; i < t->rank; i++)
		n *= t->dims[i];
	return n;
}

static int same_dims(const qp_rt_tensor *a, const qp_rt_tensor *b)
{
	int i;

	if (a->rank != b->rank)
		return 0;
	for (i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return 0;
	return 1;
}

static int act_range_ok(int32_t lo, int32_t hi)
{
	return lo >= -128 && hi <= 127 && lo <= hi;
}

static int mult_ok(int32_t mult, int32_t shift)
{
	return mult >= 0 && shift >= -31 && shift <= 30;
}

static int is_int8(const qp_rt_tensor *t)
{
	return t && t->dtype == QP_RT_INT8;
}

/* Output extent of a pooling/conv window; ceil selects ceil_mode. */
static int64_t out_extent(int64_t in, int64_t pad0, int64_t pad1, int64_t k,
			  int64_t dil, int64_t stride, int ceil)
{
	int64_t span = in + pad0 + pad1 - (dil * (k - 1) + 1);

	if (span < 0)
		return -1;
	return (ceil ? (span + stride - 1) / stride : span / stride) + 1;
}

static int window_ok(const int32_t *k, const int32_t *s, const int32_t *pads,
		     const int32_t *d)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (k[i] < 1 || k[i] > 65535 || s[i] < 1 || s[i] > 65535 ||
		    d[i] < 1 || d[i] > 65535)
			return 0;
	}
	for (i = 0; i < 4; i++)
		if (pads[i] < 0 || pads[i] > 65535)
			return 0;
	return 1;
}

/* What every check_<kernel> and run_<kernel> of the op list (qp_ops.h) is
 * given; in[i] is NULL for an omitted optional input.  One signature for
 * all, so the dispatch tables below are generated from the list. */
typedef struct op_args {
	const qp_rt_tensor *const *in;
	int n_in;
	const qp_rt_tensor *y;
	const int32_t *p;
	int np;
} op_args;

/* ---- quantize / dequantize ------------------------------------------------- */

static int check_quantize(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int np = op->np;

	if (np != 2 || !x || x->dtype != QP_RT_FLOAT32 || !is_int8(y) ||
	    !same_dims(x, y) || !act_range_ok(p[0], p[1]))
		return QP_E_PARAM;
	if (!(y->scale > 0.0f) || y->scale > 3.0e38f)
		return QP_E_PARAM;
	return QP_OK;
}

static void run_quantize(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const float *src = x->data;
	int8_t *dst = y->data;
	int64_t i, n = numel(x);

	for (i = 0; i < n; i++)
		dst[i] = (int8_t)qp_rt_quantize_one(src[i], y->scale,
						    y->zero_point, p[0], p[1]);
}

static int check_dequantize(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	int np = op->np;

	if (np != 0 || !is_int8(x) || !y || y->dtype != QP_RT_FLOAT32 ||
	    !same_dims(x, y))
		return QP_E_PARAM;
	return QP_OK;
}

static void run_dequantize(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int8_t *src = x->data;
	float *dst = y->data;
	int64_t i, n = numel(x);

	for (i = 0; i < n; i++)
		dst[i] = x->scale * (float)((int32_t)src[i] - x->zero_point);
}

/* ---- QCONV ---------------------------------------------------------------------
 * params: stride_h stride_w pad_t pad_l pad_b pad_r dil_h dil_w group
 *         act_min act_max mult[C_out] shift[C_out] */
enum { CONV_FIXED = 11 };

static int check_conv(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *w = op->in[1], *y = op->y;
	const qp_rt_tensor *b = op->n_in > 2 ? op->in[2] : NULL;
	const int32_t *p = op->p;
	int np = op->np;
	int32_t pads[4], k[2], g;
	int64_t co, i;

	if (!is_int8(x) || !is_int8(w) || !is_int8(y) || x->rank != 4 ||
	    w->rank != 4 || y->rank != 4 || np < CONV_FIXED)
		return QP_E_PARAM;
	co = w->dims[0];
	if (np != CONV_FIXED + 2 * co)
		return QP_E_PARAM;
	g = p[8];
	memcpy(pads, p + 2, sizeof pads);
	k[0] = w->dims[2];
	k[1] = w->dims[3];
	if (!window_ok(k, p, pads, p + 6) || g < 1 || x->dims[1] % g ||
	    co % g || w->dims[1] != x->dims[1] / g)
		return QP_E_PARAM;
	if (b && (b->dtype != QP_RT_INT32 || b->rank != 1 || b->dims[0] != co))
		return QP_E_PARAM;
	if (y->dims[0] != x->dims[0] || y->dims[1] != co ||
	    y->dims[2] != out_extent(x->dims[2], p[2], p[4], k[0], p[6], p[0], 0) ||
	    y->dims[3] != out_extent(x->dims[3], p[3], p[5], k[1], p[7], p[1], 0))
		return QP_E_PARAM;
	if (!act_range_ok(p[9], p[10]))
		return QP_E_PARAM;
	for (i = 0; i < co; i++)
		if (!mult_ok(p[CONV_FIXED + i], p[CONV_FIXED + co + i]))
			return QP_E_PARAM;
	return QP_OK;
}

static void run_conv(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *w = op->in[1], *y = op->y;
	const qp_rt_tensor *b = op->n_in > 2 ? op->in[2] : NULL;
	const int32_t *p = op->p;
	const int8_t *xd = x->data, *wd = w->data;
	const int32_t *bd = b ? (const int32_t *)b->data : NULL;
	int8_t *yd = y->data;
	int32_t n_batch = x->dims[0], c_in = x->dims[1], h = x->dims[2],
		wid = x->dims[3];
	int32_t c_out = y->dims[1], ho = y->dims[2], wo = y->dims[3];
	int32_t kh = w->dims[2], kw = w->dims[3], group = p[8];
	int32_t cg_in = c_in / group, cg_out = c_out / group;
	const int32_t *mult = p + CONV_FIXED, *shift = p + CONV_FIXED + c_out;
	int32_t xzp = x->zero_point;
	int32_t n, oc, oy, ox, ic, ky, kx;

	for (n = 0; n < n_batch; n++) {
		for (oc = 0; oc < c_out; oc++) {
			int32_t ic0 = (oc / cg_out) * cg_in;
			const int8_t *wo_ = wd + (size_t)oc * cg_in * kh * kw;

			for (oy = 0; oy < ho; oy++) {
				for (ox = 0; ox < wo; ox++) {
					int64_t acc = bd ? bd[oc] : 0;

					for (ic = 0; ic < cg_in; ic++) {
						const int8_t *xc = xd + ((size_t)n * c_in + ic0 + ic) * h * wid;
						const int8_t *wc = wo_ + (size_t)ic * kh * kw;

						for (ky = 0; ky < kh; ky++) {
							int32_t iy = oy * p[0] - p[2] + ky * p[6];

							if (iy < 0 || iy >= h)
								continue;
							for (kx = 0; kx < kw; kx++) {
								int32_t ix = ox * p[1] - p[3] + kx * p[7];

								if (ix < 0 || ix >= wid)
									continue;
								acc += (int64_t)((int32_t)xc[(size_t)iy * wid + ix] - xzp) *
								       wc[ky * kw + kx];
							}
						}
					}
					yd[(((size_t)n * c_out + oc) * ho + oy) * wo + ox] =
						requant_out(acc, mult[oc], shift[oc], y->zero_point, p[9], p[10]);
				}
			}
		}
	}
}

/* ---- QCONVTRANSPOSE ------------------------------------------------------------
 * params: stride_h stride_w pad_t pad_l pad_b pad_r dil_h dil_w opad_h opad_w
 *         group act_min act_max mult[C_out] shift[C_out]
 * w int8 [C_in, C_out/group, kh, kw] (ONNX ConvTranspose's layout).  Input
 * pixel (iy, ix) and tap (ky, kx) meet at output (iy s_h - pad_t + ky d_h,
 * ix s_w - pad_l + kx d_w), so output (oy, ox) sums over the taps with
 * oy + pad_t - ky d_h a multiple of s_h whose quotient iy is inside the
 * input (a gather: each output is one accumulator, no scratch buffer).
 * Output extent (ONNX): s (in - 1) + opad + d (k - 1) + 1 - pad_begin - pad_end. */
enum { TCONV_FIXED = 13 };

static int64_t tconv_extent(int64_t in, int64_t s, int64_t opad, int64_t k,
			    int64_t d, int64_t p0, int64_t p1)
{
	return s * (in - 1) + opad + d * (k - 1) + 1 - p0 - p1;
}

static int check_convtranspose(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *w = op->in[1], *y = op->y;
	const qp_rt_tensor *b = op->n_in > 2 ? op->in[2] : NULL;
	const int32_t *p = op->p;
	int32_t pads[4], k[2], g;
	int64_t co, i;

	if (!is_int8(x) || !is_int8(w) || !is_int8(y) || x->rank != 4 ||
	    w->rank != 4 || y->rank != 4 || op->np < TCONV_FIXED)
		return QP_E_PARAM;
	g = p[10];
	if (g < 1 || x->dims[1] % g || w->dims[0] != x->dims[1] || w->dims[1] < 1)
		return QP_E_PARAM;
	co = (int64_t)w->dims[1] * g;
	if (op->np != TCONV_FIXED + 2 * co || y->dims[1] != co)
		return QP_E_PARAM;
	memcpy(pads, p + 2, sizeof pads);
	k[0] = w->dims[2];
	k[1] = w->dims[3];
	if (!window_ok(k, p, pads, p + 6))
		return QP_E_PARAM;
	/* output_padding: the ONNX and PyTorch bound, below the stride or
	 * the dilation (the extra rows are reached by no input otherwise). */
	for (i = 0; i < 2; i++)
		if (p[8 + i] < 0 || (p[8 + i] >= p[i] && p[8 + i] >= p[6 + i]))
			return QP_E_PARAM;
	if (b && (b->dtype != QP_RT_INT32 || b->rank != 1 || b->dims[0] != co))
		return QP_E_PARAM;
	if (y->dims[0] != x->dims[0] ||
	    y->dims[2] != tconv_extent(x->dims[2], p[0], p[8], k[0], p[6], p[2], p[4]) ||
	    y->dims[3] != tconv_extent(x->dims[3], p[1], p[9], k[1], p[7], p[3], p[5]))
		return QP_E_PARAM;
	if (!act_range_ok(p[11], p[12]))
		return QP_E_PARAM;
	for (i = 0; i < co; i++)
		if (!mult_ok(p[TCONV_FIXED + i], p[TCONV_FIXED + co + i]))
			return QP_E_PARAM;
	return QP_OK;
}

/* The input index along one axis that tap t reaches output o from, or -1. */
static int32_t tconv_src(int32_t o, int32_t pad, int32_t t, int32_t dil,
			 int32_t stride, int32_t in)
{
	int64_t v = (int64_t)o + pad - (int64_t)t * dil;

	if (v < 0 || v % stride)
		return -1;
	v /= stride;
	return v < in ? (int32_t)v : -1;
}

static void run_convtranspose(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *w = op->in[1], *y = op->y;
	const qp_rt_tensor *b = op->n_in > 2 ? op->in[2] : NULL;
	const int32_t *p = op->p;
	const int8_t *xd = x->data, *wd = w->data;
	const int32_t *bd = b ? (const int32_t *)b->data : NULL;
	int8_t *yd = y->data;
	int32_t n_batch = x->dims[0], c_in = x->dims[1], h = x->dims[2],
		wid = x->dims[3];
	int32_t c_out = y->dims[1], ho = y->dims[2], wo = y->dims[3];
	int32_t kh = w->dims[2], kw = w->dims[3], group = p[10];
	int32_t cg_in = c_in / group, cg_out = c_out / group;
	const int32_t *mult = p + TCONV_FIXED, *shift = p + TCONV_FIXED + c_out;
	int32_t xzp = x->zero_point;
	int32_t n, oc, oy, ox, ic, ky, kx;

	for (n = 0; n < n_batch; n++) {
		for (oc = 0; oc < c_out; oc++) {
			int32_t ic0 = (oc / cg_out) * cg_in, m = oc % cg_out;

			for (oy = 0; oy < ho; oy++) {
				for (ox = 0; ox < wo; ox++) {
					int64_t acc = bd ? bd[oc] : 0;

					for (ky = 0; ky < kh; ky++) {
						int32_t iy = tconv_src(oy, p[2], ky, p[6], p[0], h);

						if (iy < 0)
							continue;
						for (kx = 0; kx < kw; kx++) {
							int32_t ix = tconv_src(ox, p[3], kx, p[7], p[1], wid);

							if (ix < 0)
								continue;
							for (ic = 0; ic < cg_in; ic++) {
								int32_t c = ic0 + ic;
								int32_t xv = xd[(((size_t)n * c_in + c) * h + iy) * wid + ix];
								int8_t wv = wd[(((size_t)c * cg_out + m) * kh + ky) * kw + kx];

								acc += (int64_t)(xv - xzp) * wv;
							}
						}
					}
					yd[(((size_t)n * c_out + oc) * ho + oy) * wo + ox] =
						requant_out(acc, mult[oc], shift[oc], y->zero_point, p[11], p[12]);
				}
			}
		}
	}
}

/* ---- QGEMM: y[M,N] = a[M,K] * w[N,K]^T + b[N]; params act_min act_max
 * mult[N] shift[N] */
static int check_gemm(const op_args *op)
{
	const qp_rt_tensor *a = op->in[0], *w = op->in[1], *y = op->y;
	const qp_rt_tensor *b = op->n_in > 2 ? op->in[2] : NULL;
	const int32_t *p = op->p;
	int np = op->np;
	int64_t nn, i;

	if (!is_int8(a) || !is_int8(w) || !is_int8(y) || a->rank != 2 ||
	    w->rank != 2 || y->rank != 2 || np < 2)
		return QP_E_PARAM;
	nn = w->dims[0];
	if (np != 2 + 2 * nn || a->dims[1] != w->dims[1] ||
	    y->dims[0] != a->dims[0] || y->dims[1] != nn ||
	    !act_range_ok(p[0], p[1]))
		return QP_E_PARAM;
	if (b && (b->dtype != QP_RT_INT32 || b->rank != 1 || b->dims[0] != nn))
		return QP_E_PARAM;
	for (i = 0; i < nn; i++)
		if (!mult_ok(p[2 + i], p[2 + nn + i]))
			return QP_E_PARAM;
	return QP_OK;
}

static void run_gemm(const op_args *op)
{
	const qp_rt_tensor *a = op->in[0], *w = op->in[1], *y = op->y;
	const qp_rt_tensor *b = op->n_in > 2 ? op->in[2] : NULL;
	const int32_t *p = op->p;
	const int8_t *ad = a->data, *wd = w->data;
	const int32_t *bd = b ? (const int32_t *)b->data : NULL;
	int8_t *yd = y->data;
	int32_t m = a->dims[0], k = a->dims[1], n = w->dims[0];
	int32_t i, j, l;

	for (i = 0; i < m; i++) {
		const int8_t *ar = ad + (size_t)i * k;

		for (j = 0; j < n; j++) {
			const int8_t *wr = wd + (size_t)j * k;
			int64_t acc = bd ? bd[j] : 0;

			for (l = 0; l < k; l++)
				acc += (int64_t)((int32_t)ar[l] - a->zero_point) * wr[l];
			yd[(size_t)i * n + j] = requant_out(acc, p[2 + j], p[2 + n + j],
							    y->zero_point, p[0], p[1]);
		}
	}
}

/* ---- pools ----------------------------------------------------------------------
 * QMAXPOOL params: kh kw sh sw pt pl pb pr dh dw
 * QAVGPOOL params: kh kw sh sw pt pl pb pr count_include_pad act_min act_max
 *                  mult shift
 * A 1-d pool is the same record over [N, C, L] tensors, read as
 * [N, C, 1, L]: the lowering writes kh = sh = dh = 1 and pt = pb = 0, so
 * the parameter vector and the opcodes did not change. */

/* The spatial extents of a pool operand: [N, C, H, W], or [N, C, L] as
 * H = 1, W = L. */
static void pool_hw(const qp_rt_tensor *t, int32_t *hw)
{
	hw[0] = t->rank == 4 ? t->dims[2] : 1;
	hw[1] = t->dims[t->rank - 1];
}

static int check_pool_shape(const qp_rt_tensor *x, const qp_rt_tensor *y,
			    const int32_t *p, const int32_t *dil)
{
	int32_t xhw[2], yhw[2];
	int i;

	if (!is_int8(x) || !is_int8(y) || (x->rank != 4 && x->rank != 3) ||
	    y->rank != x->rank || !window_ok(p, p + 2, p + 4, dil) ||
	    y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1])
		return QP_E_PARAM;
	pool_hw(x, xhw);
	pool_hw(y, yhw);
	for (i = 0; i < 2; i++) {
		int64_t lo = out_extent(xhw[i], p[4 + i], p[6 + i], p[i],
					dil[i], p[2 + i], 0);
		int64_t hi = out_extent(xhw[i], p[4 + i], p[6 + i], p[i],
					dil[i], p[2 + i], 1);

		/* ceil_mode drops a last window that would start in the
		 * end padding (ONNX, PyTorch). */
		if (hi > 1 && (hi - 1) * p[2 + i] >= (int64_t)xhw[i] + p[4 + i])
			hi--;
		/* ceil_mode is folded into the output shape: accept either. */
		if (lo < 1 || (yhw[i] != lo && yhw[i] != hi))
			return QP_E_PARAM;
		/* Every window must start inside the padded input. */
		if ((int64_t)(yhw[i] - 1) * p[2 + i] >= (int64_t)xhw[i] + p[4 + i])
			return QP_E_PARAM;
	}
	return QP_OK;
}

static int check_maxpool(const op_args *op)
{
	if (op->np != 10)
		return QP_E_PARAM;
	return check_pool_shape(op->in[0], op->y, op->p, op->p + 8);
}

static void run_maxpool(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int32_t xhw[2], yhw[2], nc = x->dims[0] * x->dims[1], h, w, ho, wo;
	int32_t c, oy, ox, ky, kx;

	pool_hw(x, xhw);
	pool_hw(y, yhw);
	h = xhw[0], w = xhw[1], ho = yhw[0], wo = yhw[1];
	for (c = 0; c < nc; c++) {
		const int8_t *xc = xd + (size_t)c * h * w;

		for (oy = 0; oy < ho; oy++) {
			for (ox = 0; ox < wo; ox++) {
				int32_t best = -128;

				/* Padding never wins: it is skipped, as in ONNX. */
				for (ky = 0; ky < p[0]; ky++) {
					int32_t iy = oy * p[2] - p[4] + ky * p[8];

					if (iy < 0 || iy >= h)
						continue;
					for (kx = 0; kx < p[1]; kx++) {
						int32_t ix = ox * p[3] - p[5] + kx * p[9];

						if (ix >= 0 && ix < w && xc[(size_t)iy * w + ix] > best)
							best = xc[(size_t)iy * w + ix];
					}
				}
				yd[((size_t)c * ho + oy) * wo + ox] = (int8_t)best;
			}
		}
	}
}

static int check_avgpool(const op_args *op)
{
	static const int32_t one[2] = {1, 1};
	const int32_t *p = op->p;

	if (op->np != 13 || (p[8] != 0 && p[8] != 1) || !act_range_ok(p[9], p[10]) ||
	    !mult_ok(p[11], p[12]))
		return QP_E_PARAM;
	return check_pool_shape(op->in[0], op->y, p, one);
}

/* Rounded (half away from zero) a / b for b > 0. */
static int64_t div_round(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

static void run_avgpool(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int32_t xhw[2], yhw[2], nc = x->dims[0] * x->dims[1], h, w, ho, wo;
	int64_t full = (int64_t)p[0] * p[1];
	int32_t c, oy, ox, iy, ix;

	pool_hw(x, xhw);
	pool_hw(y, yhw);
	h = xhw[0], w = xhw[1], ho = yhw[0], wo = yhw[1];
	for (c = 0; c < nc; c++) {
		const int8_t *xc = xd + (size_t)c * h * w;

		for (oy = 0; oy < ho; oy++) {
			for (ox = 0; ox < wo; ox++) {
				int32_t y0 = oy * p[2] - p[4], x0 = ox * p[3] - p[5];
				int32_t y1 = y0 + p[0], x1 = x0 + p[1];
				int64_t acc = 0, count;

				/* count_include_pad counts the window clipped to
				 * the padded input, else to the input itself. */
				if (p[8]) {
					int32_t cy0 = y0 < -p[4] ? -p[4] : y0, cy1 = y1 > h + p[6] ? h + p[6] : y1;
					int32_t cx0 = x0 < -p[5] ? -p[5] : x0, cx1 = x1 > w + p[7] ? w + p[7] : x1;

					count = (int64_t)(cy1 - cy0) * (cx1 - cx0);
				} else {
					int32_t cy0 = y0 < 0 ? 0 : y0, cy1 = y1 > h ? h : y1;
					int32_t cx0 = x0 < 0 ? 0 : x0, cx1 = x1 > w ? w : x1;

					count = (int64_t)(cy1 - cy0) * (cx1 - cx0);
				}
				for (iy = y0 < 0 ? 0 : y0; iy < y1 && iy < h; iy++)
					for (ix = x0 < 0 ? 0 : x0; ix < x1 && ix < w; ix++)
						acc += (int32_t)xc[(size_t)iy * w + ix] - x->zero_point;
				/* The multiplier divides by the full window; a
				 * smaller count rescales the sum first. */
				if (count > 0 && count != full)
					acc = div_round(acc * full, count);
				yd[((size_t)c * ho + oy) * wo + ox] =
					requant_out(acc, p[11], p[12], y->zero_point, p[9], p[10]);
			}
		}
	}
}

/* ---- resize ------------------------------------------------------------------------
 * QRESIZE params: mode coord nearest num_h num_w den_h den_w
 *   mode     0 nearest, 1 linear (bilinear on the two spatial axes)
 *   coord    how output index o maps to an input coordinate, with
 *            r = num / den the axis's input/output ratio:
 *            0 asymmetric  o r        (align_corners: lower writes r as
 *                                     (in - 1) / (out - 1))
 *            1 half_pixel  (o + 1/2) r - 1/2
 *            2 tf_half_pixel_for_nearest  (o + 1/2) r
 *   nearest  0 floor, 1 ceil, 2 round_prefer_floor, 3 round_prefer_ceil
 *            (0 for linear)
 * The ratio is a fraction, not a rounded fixed-point number, so every
 * coordinate is exact in units of 1 / (2 den): 2 o num + num - den.
 * Nearest ties and the linear weights are then ONNX's exactly.  Linear
 * follows TFLite's ResizeBilinearInteger (integer weights, one rounding of
 * the weighted sum, half away from zero) with weights in units of
 * 1 / (2 den) instead of 1 / 1024, and clamps the coordinate to
 * [0, in - 1] as ONNX Runtime does.  Both modes keep the input's
 * parameters: the weights sum to one, so the integers need no
 * requantization.  [N, C, L] is read as [N, C, 1, L]. */
#define RS_MAX_DEN (1 << 24)   /* (2 den)^2 * 4 * 128 < 2^63 */

static int check_resize(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;

	if (op->np != 7 || !is_int8(x) || !is_int8(y) ||
	    (x->rank != 4 && x->rank != 3) || y->rank != x->rank ||
	    y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] ||
	    x->scale != y->scale || x->zero_point != y->zero_point)
		return QP_E_PARAM;
	if (p[0] < 0 || p[0] > 1 || p[1] < 0 || p[1] > 2 || p[2] < 0 || p[2] > 3 ||
	    (p[0] == 1 && p[2] != 0) || p[3] < 0 || p[4] < 0 || p[3] > (1 << 30) ||
	    p[4] > (1 << 30) || p[5] < 1 || p[6] < 1 || p[5] > RS_MAX_DEN || p[6] > RS_MAX_DEN)
		return QP_E_PARAM;
	return QP_OK;
}

/* floor(a / d) for any sign of a, d > 0. */
static int64_t floor_div64(int64_t a, int64_t d)
{
	return a >= 0 ? a / d : -((-a + d - 1) / d);
}

/* Output index o's input coordinate in units of 1 / (2 den). */
static int64_t rs_coord(int32_t o, int32_t num, int32_t den, int coord)
{
	int64_t v = 2 * (int64_t)o * num;

	if (coord)
		v += num;
	if (coord == 1)
		v -= den;
	return v;
}

static int32_t rs_nearest(int64_t v, int64_t one, int rule, int32_t in)
{
	int64_t i;

	if (rule == 0)
		i = floor_div64(v, one);
	else if (rule == 1)
		i = floor_div64(v + one - 1, one);
	else if (rule == 2)   /* a tie goes down */
		i = -floor_div64(-v + one / 2, one);
	else                  /* a tie goes up */
		i = floor_div64(v + one / 2, one);
	return i < 0 ? 0 : i >= in ? in - 1 : (int32_t)i;
}

/* Clamped coordinate: lower index, upper index, upper weight (of one). */
static void rs_linear(int64_t v, int64_t one, int32_t in, int32_t *i0, int32_t *i1,
		      int64_t *f)
{
	int64_t top = (int64_t)(in - 1) * one;

	v = v < 0 ? 0 : v > top ? top : v;
	*i0 = (int32_t)(v / one);
	*f = v - (int64_t)*i0 * one;
	*i1 = *i0 + 1 < in ? *i0 + 1 : *i0;
}

static void run_resize(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int32_t xhw[2], yhw[2], nc = x->dims[0] * x->dims[1], c, oy, ox;
	const int64_t oh = 2 * (int64_t)p[5], ow = 2 * (int64_t)p[6];

	pool_hw(x, xhw);
	pool_hw(y, yhw);
	for (c = 0; c < nc; c++) {
		const int8_t *xc = xd + (size_t)c * xhw[0] * xhw[1];
		int8_t *yc = yd + (size_t)c * yhw[0] * yhw[1];

		for (oy = 0; oy < yhw[0]; oy++) {
			int64_t vy = rs_coord(oy, p[3], p[5], p[1]), fy;
			int32_t y0, y1;

			if (p[0] == 0)
				y0 = rs_nearest(vy, oh, p[2], xhw[0]), y1 = y0, fy = 0;
			else
				rs_linear(vy, oh, xhw[0], &y0, &y1, &fy);
			for (ox = 0; ox < yhw[1]; ox++) {
				int64_t vx = rs_coord(ox, p[4], p[6], p[1]), fx, acc;
				int32_t x0, x1;

				if (p[0] == 0) {
					x0 = rs_nearest(vx, ow, p[2], xhw[1]);
					yc[(size_t)oy * yhw[1] + ox] = xc[(size_t)y0 * xhw[1] + x0];
					continue;
				}
				rs_linear(vx, ow, xhw[1], &x0, &x1, &fx);
				acc = (int64_t)xc[(size_t)y0 * xhw[1] + x0] * (oh - fy) * (ow - fx) +
				      (int64_t)xc[(size_t)y0 * xhw[1] + x1] * (oh - fy) * fx +
				      (int64_t)xc[(size_t)y1 * xhw[1] + x0] * fy * (ow - fx) +
				      (int64_t)xc[(size_t)y1 * xhw[1] + x1] * fy * fx;
				/* One rounding, half away from zero, as TFLite. */
				yc[(size_t)oy * yhw[1] + ox] = (int8_t)clamp32(
					(int32_t)div_round(acc, oh * ow), -128, 127);
			}
		}
	}
}

/* ---- elementwise with numpy broadcasting ------------------------------------ */

/* Strides of a, right-aligned to y's rank, 0 where a broadcasts. */
static int bcast_strides(const qp_rt_tensor *a, const qp_rt_tensor *y,
			 int64_t *st)
{
	int i, off = y->rank - a->rank;
	int64_t s = 1;

	if (off < 0)
		return -1;
	for (i = y->rank - 1; i >= 0; i--) {
		int32_t d = i >= off ? a->dims[i - off] : 1;

		if (d != y->dims[i] && d != 1)
			return -1;
		st[i] = d == 1 ? 0 : s;
		s *= d;
	}
	return 0;
}

static int check_binary(const qp_rt_tensor *a, const qp_rt_tensor *b,
			const qp_rt_tensor *y)
{
	int64_t st[QP_RT_MAX_RANK];
	int i, ra, rb;

	if (!is_int8(a) || !is_int8(b) || !is_int8(y) ||
	    bcast_strides(a, y, st) || bcast_strides(b, y, st))
		return QP_E_PARAM;
	/* y must be exactly the broadcast shape, not larger. */
	ra = y->rank - a->rank;
	rb = y->rank - b->rank;
	if (ra > 0 && rb > 0)
		return QP_E_PARAM;
	for (i = 0; i < y->rank; i++) {
		int32_t da = i >= ra ? a->dims[i - ra] : 1;
		int32_t db = i >= rb ? b->dims[i - rb] : 1;

		if (y->dims[i] != (da > db ? da : db))
			return QP_E_PARAM;
	}
	return QP_OK;
}

/* Calls fn for every output element with the broadcast input offsets. */
typedef int8_t (*binary_fn)(int32_t a, int32_t b, const int32_t *p,
			    int32_t y_zp);

static void run_binary(const qp_rt_tensor *a, const qp_rt_tensor *b,
		       const qp_rt_tensor *y, const int32_t *p, binary_fn fn)
{
	int64_t sa[QP_RT_MAX_RANK], sb[QP_RT_MAX_RANK];
	int32_t idx[QP_RT_MAX_RANK] = {0};
	const int8_t *ad = a->data, *bd = b->data;
	int8_t *yd = y->data;
	int64_t i, n = numel(y), oa = 0, ob = 0;
	int r = y->rank, d;

	bcast_strides(a, y, sa);
	bcast_strides(b, y, sb);
	for (i = 0; i < n; i++) {
		yd[i] = fn((int32_t)ad[oa] - a->zero_point,
			   (int32_t)bd[ob] - b->zero_point, p, y->zero_point);
		/* Odometer over y's index, keeping the input offsets. */
		for (d = r - 1; d >= 0; d--) {
			idx[d]++;
			oa += sa[d];
			ob += sb[d];
			if (idx[d] < y->dims[d])
				break;
			oa -= sa[d] * idx[d];
			ob -= sb[d] * idx[d];
			idx[d] = 0;
		}
	}
}

/* QADD params: act_min act_max left_shift mult_a mult_b mult_y shift_a
 * shift_b shift_y (TFLite's scheme: both inputs rescaled to a common
 * fine scale, added, then requantized to the output).  mult_b may be
 * negative: Sub is QAdd with b's multiplier negated, so a - b costs the
 * roundings a + b does and no more (requant by -m is -(requant by m) but
 * where the doubling high multiply meets an exact tie, which it rounds up,
 * a 2^-20 step of the common scale). */
static int check_add(const op_args *op)
{
	const int32_t *p = op->p;

	if (op->np != 9 || !act_range_ok(p[0], p[1]) || p[2] < 0 || p[2] > 20 ||
	    !mult_ok(p[3], p[6]) || p[4] == INT32_MIN ||
	    !mult_ok(p[4] < 0 ? -p[4] : p[4], p[7]) || !mult_ok(p[5], p[8]))
		return QP_E_PARAM;
	return check_binary(op->in[0], op->in[1], op->y);
}

static int8_t add_one(int32_t a, int32_t b, const int32_t *p, int32_t y_zp)
{
	int32_t sa = qp_rt_requant(a * (1 << p[2]), p[3], p[6]);
	int32_t sb = qp_rt_requant(b * (1 << p[2]), p[4], p[7]);

	return requant_out((int64_t)sa + sb, p[5], p[8], y_zp, p[0], p[1]);
}

static void run_add(const op_args *op)
{
	run_binary(op->in[0], op->in[1], op->y, op->p, add_one);
}

/* QMUL params: act_min act_max mult shift */
static int check_mul(const op_args *op)
{
	const int32_t *p = op->p;

	if (op->np != 4 || !act_range_ok(p[0], p[1]) || !mult_ok(p[2], p[3]))
		return QP_E_PARAM;
	return check_binary(op->in[0], op->in[1], op->y);
}

static int8_t mul_one(int32_t a, int32_t b, const int32_t *p, int32_t y_zp)
{
	return requant_out((int64_t)a * b, p[2], p[3], y_zp, p[0], p[1]);
}

static void run_mul(const op_args *op)
{
	run_binary(op->in[0], op->in[1], op->y, op->p, mul_one);
}

/* ---- QRESHAPE, QREQUANT ------------------------------------------------------ */

static int check_reshape(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;

	if (op->np != 0 || !is_int8(x) || !is_int8(y) || numel(x) != numel(y))
		return QP_E_PARAM;
	return QP_OK;
}

static void run_reshape(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;

	if (x->data != y->data)
		memmove(y->data, x->data, (size_t)numel(x));
}

/* QREQUANT params: act_min act_max mult shift */
static int check_requant(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;

	if (op->np != 4 || !is_int8(x) || !is_int8(y) || !same_dims(x, y) ||
	    !act_range_ok(p[0], p[1]) || !mult_ok(p[2], p[3]))
		return QP_E_PARAM;
	return QP_OK;
}

static void run_requant(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int64_t i, n = numel(x);

	for (i = 0; i < n; i++)
		yd[i] = requant_out((int32_t)xd[i] - x->zero_point, p[2], p[3],
				    y->zero_point, p[0], p[1]);
}

/* ---- QCLIP: y = clamp(x, act_min, act_max) --------------------------------------
 * y shares x's scale and zero point, so clamping the integers is exact. */
static int check_clip(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;

	if (op->np != 2 || !is_int8(x) || !is_int8(y) || !same_dims(x, y) ||
	    x->scale != y->scale || x->zero_point != y->zero_point ||
	    !act_range_ok(p[0], p[1]))
		return QP_E_PARAM;
	return QP_OK;
}

static void run_clip(const op_args *op)
{
	const int8_t *xd = op->in[0]->data;
	int8_t *yd = op->y->data;
	int64_t i, n = numel(op->in[0]);

	for (i = 0; i < n; i++)
		yd[i] = (int8_t)clamp32(xd[i], op->p[0], op->p[1]);
}

/* ---- QLUT: y = table[x + 128] ----------------------------------------------------
 * Any int8 -> int8 function of one element is a table of its 256 values;
 * lower fills it from the float op, so the kernel needs no arithmetic of
 * its own and the output's parameters are already folded into the entries. */
enum { LUT_TABLE = 256 };

static int check_lut(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	int i;

	if (op->np != LUT_TABLE || !is_int8(x) || !is_int8(y) || !same_dims(x, y))
		return QP_E_PARAM;
	for (i = 0; i < LUT_TABLE; i++)
		if (op->p[i] < -128 || op->p[i] > 127)
			return QP_E_PARAM;
	return QP_OK;
}

static void run_lut(const op_args *op)
{
	const int8_t *xd = op->in[0]->data;
	int8_t *yd = op->y->data;
	int64_t i, n = numel(op->in[0]);

	for (i = 0; i < n; i++)
		yd[i] = (int8_t)op->p[(int32_t)xd[i] + 128];
}

/* ---- QSOFTMAX over the last axis ----------------------------------------------
 * params: act_min act_max mult shift table[256].  table[d] = exp(-s_x d) in
 * Q30 for d = max - x; the probability is formed in Q30 and requantized
 * with (mult, shift) = 2^-30 / s_y.  All integer, so no libm. */
enum { SOFTMAX_TABLE = 256, SOFTMAX_FIXED = 4 };

static int check_softmax(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int i;

	if (op->np != SOFTMAX_FIXED + SOFTMAX_TABLE || !is_int8(x) || !is_int8(y) ||
	    x->rank < 1 || !same_dims(x, y) || !act_range_ok(p[0], p[1]) ||
	    !mult_ok(p[2], p[3]))
		return QP_E_PARAM;
	/* table[0] > 0 keeps the row sum positive (the max contributes it). */
	if (p[SOFTMAX_FIXED] < 1)
		return QP_E_PARAM;
	for (i = 0; i < SOFTMAX_TABLE; i++)
		if (p[SOFTMAX_FIXED + i] < 0 || p[SOFTMAX_FIXED + i] > (1 << 30))
			return QP_E_PARAM;
	return QP_OK;
}

static void run_softmax(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	const int32_t *table = p + SOFTMAX_FIXED;
	int64_t len = x->dims[x->rank - 1], rows = numel(x) / len, r, i;

	for (r = 0; r < rows; r++) {
		const int8_t *xr = xd + r * len;
		int8_t *yr = yd + r * len;
		int32_t mx = -128;
		int64_t sum = 0;

		for (i = 0; i < len; i++)
			if (xr[i] > mx)
				mx = xr[i];
		for (i = 0; i < len; i++)
			sum += table[mx - xr[i]];
		for (i = 0; i < len; i++) {
			int64_t prob = div_round((int64_t)table[mx - xr[i]] << 30, sum);

			yr[i] = requant_out(prob, p[2], p[3], y->zero_point, p[0], p[1]);
		}
	}
}

/* ---- QCONCAT: inputs side by side along one axis ----------------------------------
 * params: axis, multiplier[n_in], shift[n_in].  Input i is requantized to
 * the output's parameters with its own (multiplier, shift), as QRequant
 * does, saturating at -128/127.  An input that already has the output's
 * scale and zero point is copied: its multiplier and shift are not read
 * (lower writes 1.0's, 2^30 and 1, which give the same integers). */
static int check_concat(const op_args *op)
{
	const qp_rt_tensor *y = op->y;
	const int32_t *p = op->p;
	int64_t sum = 0;
	int i, k, axis;

	if (op->np != 1 + 2 * op->n_in || !is_int8(y) || y->rank < 1 ||
	    p[0] < 0 || p[0] >= y->rank)
		return QP_E_PARAM;
	axis = (int)p[0];
	for (i = 0; i < op->n_in; i++) {
		const qp_rt_tensor *x = op->in[i];

		if (!is_int8(x) || x->rank != y->rank ||
		    !mult_ok(p[1 + i], p[1 + op->n_in + i]))
			return QP_E_PARAM;
		for (k = 0; k < y->rank; k++)
			if (k != axis && x->dims[k] != y->dims[k])
				return QP_E_PARAM;
		sum += x->dims[axis];
	}
	return sum == y->dims[axis] ? QP_OK : QP_E_PARAM;
}

static void run_concat(const op_args *op)
{
	const qp_rt_tensor *y = op->y;
	int8_t *yd = y->data;
	int axis = (int)op->p[0], i, k;
	int64_t outer = 1, inner = 1, off = 0, o, j;

	for (k = 0; k < axis; k++)
		outer *= y->dims[k];
	for (k = axis + 1; k < y->rank; k++)
		inner *= y->dims[k];
	for (i = 0; i < op->n_in; i++) {
		const qp_rt_tensor *x = op->in[i];
		const int8_t *xd = x->data;
		int32_t mult = op->p[1 + i], shift = op->p[1 + op->n_in + i];
		int64_t block = x->dims[axis] * inner;
		int copy = x->scale == y->scale && x->zero_point == y->zero_point;

		for (o = 0; o < outer; o++) {
			const int8_t *s = xd + o * block;
			int8_t *d = yd + o * y->dims[axis] * inner + off;

			if (copy) {
				memcpy(d, s, (size_t)block);
				continue;
			}
			for (j = 0; j < block; j++)
				d[j] = requant_out((int32_t)s[j] - x->zero_point, mult, shift,
						   y->zero_point, -128, 127);
		}
		off += block;
	}
}

/* ---- QSLICE: y[i] = x[start + i * step] on every axis -------------------------------
 * params: starts[rank] ends[rank] steps[rank], normalized by lower: with
 * step > 0, 0 <= start < end <= dim; with step < 0, -1 <= end < start < dim;
 * y's dims are the element counts.  y shares x's scale and zero point, so
 * the integers are copied. */
static int check_slice(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int r, k;

	if (!is_int8(x) || !is_int8(y) || x->rank != y->rank || x->rank < 1 ||
	    op->np != 3 * x->rank || x->scale != y->scale ||
	    x->zero_point != y->zero_point)
		return QP_E_PARAM;
	r = x->rank;
	for (k = 0; k < r; k++) {
		int64_t s = p[k], e = p[r + k], st = p[2 * r + k], d = x->dims[k], count;

		if (st > 0 && 0 <= s && s < e && e <= d)
			count = (e - s - 1) / st + 1;
		else if (st < 0 && -1 <= e && e < s && s < d)
			count = (s - e - 1) / -st + 1;
		else
			return QP_E_PARAM;
		if (count != y->dims[k])
			return QP_E_PARAM;
	}
	return QP_OK;
}

static void run_slice(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int64_t xs[QP_RT_MAX_RANK], step[QP_RT_MAX_RANK], s = 1, src = 0, i, n = numel(y);
	int32_t idx[QP_RT_MAX_RANK] = {0};
	int r = x->rank, d;

	for (d = r - 1; d >= 0; d--) {
		xs[d] = s;
		s *= x->dims[d];
	}
	for (d = 0; d < r; d++) {
		step[d] = (int64_t)p[2 * r + d] * xs[d];
		src += (int64_t)p[d] * xs[d];
	}
	for (i = 0; i < n; i++) {
		yd[i] = xd[src];
		/* Odometer over y's index, keeping the source offset. */
		for (d = r - 1; d >= 0; d--) {
			idx[d]++;
			src += step[d];
			if (idx[d] < y->dims[d])
				break;
			src -= step[d] * idx[d];
			idx[d] = 0;
		}
	}
}

/* ---- QTRANSPOSE: y's axis k is x's axis perm[k] -----------------------------------
 * params: perm[rank], a permutation of 0..rank-1.  y shares x's scale and
 * zero point, so the integers move unchanged. */
static int check_transpose(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	int seen[QP_RT_MAX_RANK] = {0};
	int k;

	if (!is_int8(x) || !is_int8(y) || x->rank != y->rank || x->rank < 1 ||
	    op->np != x->rank || x->scale != y->scale || x->zero_point != y->zero_point)
		return QP_E_PARAM;
	for (k = 0; k < x->rank; k++) {
		int32_t a = op->p[k];

		if (a < 0 || a >= x->rank || seen[a]++ || y->dims[k] != x->dims[a])
			return QP_E_PARAM;
	}
	return QP_OK;
}

static void run_transpose(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int64_t xs[QP_RT_MAX_RANK], step[QP_RT_MAX_RANK], s = 1, src = 0, i, n = numel(y);
	int32_t idx[QP_RT_MAX_RANK] = {0};
	int r = x->rank, d;

	for (d = r - 1; d >= 0; d--) {
		xs[d] = s;
		s *= x->dims[d];
	}
	/* Stepping y's axis d steps x's axis perm[d]. */
	for (d = 0; d < r; d++)
		step[d] = xs[op->p[d]];
	for (i = 0; i < n; i++) {
		yd[i] = xd[src];
		for (d = r - 1; d >= 0; d--) {
			idx[d]++;
			src += step[d];
			if (idx[d] < y->dims[d])
				break;
			src -= step[d] * idx[d];
			idx[d] = 0;
		}
	}
}

/* ---- QPAD: x placed in a larger (or cropped) y --------------------------------------
 * params: mode value pads[2 * rank] (all begins, then all ends, as ONNX).
 * mode 0 fills with value (the pad constant, quantized by lower with x's
 * parameters), 1 reflects about the edge element, 2 repeats it.  Negative
 * pads crop.  y shares x's scale and zero point, so the kept integers are
 * copied. */
enum { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2 };

static int check_pad(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int r, k;

	if (!is_int8(x) || !is_int8(y) || x->rank != y->rank || x->rank < 1 ||
	    op->np != 2 + 2 * x->rank || x->scale != y->scale ||
	    x->zero_point != y->zero_point || p[0] < PAD_CONSTANT || p[0] > PAD_EDGE ||
	    p[1] < -128 || p[1] > 127)
		return QP_E_PARAM;
	r = x->rank;
	for (k = 0; k < r; k++) {
		int64_t b = p[2 + k], e = p[2 + r + k], d = x->dims[k];

		if (d < 1 || d + b + e != y->dims[k] || b < -d || e < -d)
			return QP_E_PARAM;
		/* Reflection reaches at most d - 1 elements in from either edge. */
		if (p[0] == PAD_REFLECT && (b > d - 1 || e > d - 1))
			return QP_E_PARAM;
	}
	return QP_OK;
}

static void run_pad(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int64_t xs[QP_RT_MAX_RANK], s = 1, i, n = numel(y);
	int32_t idx[QP_RT_MAX_RANK] = {0};
	int r = x->rank, mode = (int)p[0], d;

	for (d = r - 1; d >= 0; d--) {
		xs[d] = s;
		s *= x->dims[d];
	}
	for (i = 0; i < n; i++) {
		int64_t src = 0;
		int inside = 1;

		for (d = 0; d < r && inside; d++) {
			int64_t j = (int64_t)idx[d] - p[2 + d], len = x->dims[d];

			if (j < 0 || j >= len) {
				if (mode == PAD_CONSTANT)
					inside = 0;
				else if (mode == PAD_REFLECT)
					j = j < 0 ? -j : 2 * (len - 1) - j;
				else
					j = j < 0 ? 0 : len - 1;
			}
			src += j * xs[d];
		}
		yd[i] = inside ? xd[src] : (int8_t)p[1];
		for (d = r - 1; d >= 0; d--) {
			if (++idx[d] < y->dims[d])
				break;
			idx[d] = 0;
		}
	}
}

/* ---- QAFFINE: a per-channel integer affine map (standalone BatchNormalization, Div
 * by a per-channel constant)
 * params: axis act_min act_max frac_bits mult[C] shift[C] offset[C], C = x's
 * extent on axis.  With F = frac_bits and c the channel,
 *   y = clamp(rdivpot(requant(x - zp_x, mult[c], shift[c]) + offset[c], F) + zp_y)
 * (mult, shift) is the real multiplier a[c] s_x / s_y times 2^F and offset[c]
 * = round(b[c] / s_y 2^F): the product and the offset meet F bits finer
 * than the output step, so the one rounding that matters is the last (as
 * QConv's bias joins the accumulator before its requantization).  mult may
 * be negative (BatchNorm's gamma can be); like QAdd's mult_b, it is one
 * rounding either way. */
static int check_affine(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int64_t ch;
	int i;

	if (op->np < 7 || (op->np - 4) % 3 || !is_int8(x) || !is_int8(y) ||
	    !same_dims(x, y) || p[0] < 0 || p[0] >= x->rank ||
	    !act_range_ok(p[1], p[2]) || p[3] < 0 || p[3] > 16)
		return QP_E_PARAM;
	ch = (op->np - 4) / 3;
	if (x->dims[p[0]] != ch)
		return QP_E_PARAM;
	for (i = 0; i < ch; i++) {
		int32_t m = p[4 + i];

		if (m == INT32_MIN || !mult_ok(m < 0 ? -m : m, p[4 + ch + i]))
			return QP_E_PARAM;
	}
	return QP_OK;
}

static void run_affine(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int64_t ch = (op->np - 4) / 3, inner = 1, outer = 1, o, c, k;
	const int32_t *mult = p + 4, *shift = p + 4 + ch, *off = p + 4 + 2 * ch;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int i;

	for (i = 0; i < p[0]; i++)
		outer *= x->dims[i];
	for (i = p[0] + 1; i < x->rank; i++)
		inner *= x->dims[i];
	for (o = 0; o < outer; o++) {
		for (c = 0; c < ch; c++) {
			int64_t base = (o * ch + c) * inner;

			for (k = 0; k < inner; k++) {
				int32_t t = qp_rt_requant((int32_t)xd[base + k] - x->zero_point,
							  mult[c], (int)shift[c]);
				int64_t r = (int64_t)qp_rt_rdivpot(sat32((int64_t)t + off[c]),
								   (int)p[3]) + y->zero_point;

				yd[base + k] = (int8_t)clamp32(sat32(r), p[1], p[2]);
			}
		}
	}
}

/* ---- QPRELU: PRelu with a slope per channel (ONNX PRelu, Keras PReLU)
 * params: axis act_min act_max pos_mult pos_shift neg_mult[C] neg_shift[C],
 * C = x's extent on axis.  With d = x - zp_x and c the channel,
 *   y = clamp(requant(d, pos_mult, pos_shift) + zp_y)        d >= 0
 *   y = clamp(requant(d, neg_mult[c], neg_shift[c]) + zp_y)  d < 0
 * (pos_mult, pos_shift) is s_x / s_y, (neg_mult[c], neg_shift[c]) is
 * slope[c] s_x / s_y.  A negative slope is a negative neg_mult (|neg_mult|
 * and neg_shift the multiplier of |slope[c]| s_x / s_y), as QAffine's: the
 * product d * neg_mult is rounded once either way. */
static int check_prelu(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int64_t ch;
	int i;

	if (op->np < 7 || (op->np - 5) % 2 || !is_int8(x) || !is_int8(y) ||
	    !same_dims(x, y) || p[0] < 0 || p[0] >= x->rank ||
	    !act_range_ok(p[1], p[2]) || !mult_ok(p[3], p[4]))
		return QP_E_PARAM;
	ch = (op->np - 5) / 2;
	if (x->dims[p[0]] != ch)
		return QP_E_PARAM;
	for (i = 0; i < ch; i++) {
		int32_t m = p[5 + i];

		if (m == INT32_MIN || !mult_ok(m < 0 ? -m : m, p[5 + ch + i]))
			return QP_E_PARAM;
	}
	return QP_OK;
}

static void run_prelu(const op_args *op)
{
	const qp_rt_tensor *x = op->in[0], *y = op->y;
	const int32_t *p = op->p;
	int64_t ch = (op->np - 5) / 2, inner = 1, outer = 1, o, c, k;
	const int32_t *mult = p + 5, *shift = p + 5 + ch;
	const int8_t *xd = x->data;
	int8_t *yd = y->data;
	int i;

	for (i = 0; i < p[0]; i++)
		outer *= x->dims[i];
	for (i = p[0] + 1; i < x->rank; i++)
		inner *= x->dims[i];
	for (o = 0; o < outer; o++) {
		for (c = 0; c < ch; c++) {
			int64_t base = (o * ch + c) * inner;

			for (k = 0; k < inner; k++) {
				int32_t d = (int32_t)xd[base + k] - x->zero_point;
				int32_t t = d >= 0 ? qp_rt_requant(d, p[3], (int)p[4]) :
					    qp_rt_requant(d, mult[c], (int)shift[c]);
				int64_t r = (int64_t)t + y->zero_point;

				yd[base + k] = (int8_t)clamp32(sat32(r), p[1], p[2]);
			}
		}
	}
}

/* ---- dispatch ---------------------------------------------------------------------- */

/* One row per opcode, generated from the op list (qp_ops.h). */
typedef struct op_row {
	int in_min, in_max, n_out;
	int (*check)(const op_args *op);
	void (*run)(const op_args *op);
} op_row;

#define OP_ROW(id, name, code, in_min, in_max, n_out, kernel, shape, params) \
	[QP_OP_##id] = {in_min, in_max, n_out, check_##kernel, run_##kernel},
static const op_row op_rows[QP_OP_COUNT] = {QP_RT_OPS(OP_ROW)};
#undef OP_ROW

/* The list must number its ops 1, 2, ... without gaps, or a missing
 * opcode would dispatch to a zero row.  (A duplicate opcode is already a
 * compile error: -Woverride-init.) */
#define OP_ONE(id, name, code, in_min, in_max, n_out, kernel, shape, params) +1
typedef char op_list_is_dense[(0 QP_RT_OPS(OP_ONE)) == QP_OP_COUNT - 1 ? 1 : -1];
#undef OP_ONE

/* Model.c and lib/ops/ops_int.c keep QP_RT_MAX_INPUTS views per op: no
 * row may take more (QConcat's 16 is the most). */
#define OP_FITS(id, name, code, in_min, in_max, n_out, kernel, shape, params) \
	typedef char op_##id##_inputs_fit[(in_max) <= QP_RT_MAX_INPUTS ? 1 : -1];
QP_RT_OPS(OP_FITS)
#undef OP_FITS

int qp_rt_op_check(int opcode, const qp_rt_tensor *const *in, int n_in,
		   const qp_rt_tensor *const *out, int n_out,
		   const int32_t *params, int n_params)
{
	const op_row *r;
	op_args a;
	int i;

	if (opcode < 1 || opcode >= QP_OP_COUNT)
		return QP_E_OP;
	r = &op_rows[opcode];
	if (n_in < r->in_min || n_in > r->in_max || n_out != r->n_out || !out ||
	    !out[0] || !in || n_params < 0 || (n_params > 0 && !params))
		return QP_E_OP;
	for (i = 0; i < n_in; i++)
		if (!in[i] && i < r->in_min)
			return QP_E_OP;
	a.in = in;
	a.n_in = n_in;
	a.y = out[0];
	a.p = params;
	a.np = n_params;
	return r->check(&a);
}

void qp_rt_op_run(int opcode, const qp_rt_tensor *const *in, int n_in,
		  const qp_rt_tensor *const *out, int n_out,
		  const int32_t *params, int n_params)
{
	op_args a;

	(void)n_out;
	if (opcode < 1 || opcode >= QP_OP_COUNT)
		return;
	a.in = in;
	a.n_in = n_in;
	a.y = out[0];
	a.p = params;
	a.np = n_params;
	op_rows[opcode].run(&a);
}
