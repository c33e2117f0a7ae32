#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

qp_quant *qp_quant_new(int n)
{
	qp_quant *q;

	if (n < 1)
		return NULL;
	q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->scheme = QP_Q_SYMMETRIC;
	q->bits = 8;
	q->is_signed = 1;
	q->axis = -1;
	q->n = n;
	q->scale = calloc((size_t)n, sizeof *q->scale);
	q->zero_point = calloc((size_t)n, sizeof *q->zero_point);
	if (!q->scale || !q->zero_point) {
		qp_quant_free(q);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		q->scale[i] = 1.0f;
	return q;
}

qp_quant *qp_quant_dup(const qp_quant *q)
{
	qp_quant *d;

	if (!q)
		return NULL;
	d = qp_quant_new(q->n);
	if (!d)
		return NULL;
	d->scheme = q->scheme;
	d->bits = q->bits;
	d->is_signed = q->is_signed;
	d->axis = q->axis;
	memcpy(d->scale, q->scale, (size_t)q->n * sizeof *q->scale);
	memcpy(d->zero_point, q->zero_point, (size_t)q->n * sizeof *q->zero_point);
	return d;
}

void qp_quant_free(qp_quant *q)
{
	if (!q)
		return;
	free(q->scale);
	free(q->zero_point);
	free(q);
}

void qp_qrange(int bits, int is_signed, int32_t *qmin, int32_t *qmax)
{
	if (bits < 2 || bits > 32 || (bits == 32 && !is_signed))
		qp_bug("integer range of %d bits (%s)", bits,
		       is_signed ? "signed" : "unsigned");
	if (is_signed) {
		int64_t half = (int64_t)1 << (bits - 1);

		*qmin = (int32_t)-half;
		*qmax = (int32_t)(half - 1);
	} else {
		*qmin = 0;
		*qmax = (int32_t)(((int64_t)1 << bits) - 1);
	}
}

/* Raised to the floor so a zero-width range still gives a valid scale. */
static float floor_scale(double s)
{
	float f = (float)s;

	return f < QP_QUANT_MIN_SCALE ? QP_QUANT_MIN_SCALE : f;
}

static int32_t clamp_i32(double v, int32_t lo, int32_t hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return (int32_t)v;
}

/* 2^ceil(log2(a)) for a > 0, exactly: frexp gives a = m * 2^e with m in
 * [0.5, 1), and log2(a) is an integer only when m is exactly 0.5. */
static double pow2_ceil(double a)
{
	int e;
	double m = frexp(a, &e);

	return ldexp(1.0, m == 0.5 ? e - 1 : e);
}

int qp_quant_choose(float min, float max, qp_qscheme scheme, int bits,
		    int is_signed, float *scale, int32_t *zero_point,
		    qp_err *err)
{
	int32_t qmin, qmax;
	double amax;

	if (!isfinite(min) || !isfinite(max))
		return qp_err_set(err, "range [%.9g, %.9g] is not finite",
				  (double)min, (double)max);
	if (min > max)
		return qp_err_set(err, "range minimum %.9g exceeds maximum %.9g",
				  (double)min, (double)max);
	if (bits < 2 || bits > 16)
		return qp_err_set(err, "%d bits is outside 2..16", bits);
	qp_qrange(bits, is_signed, &qmin, &qmax);
	amax = fmax(fabs((double)min), fabs((double)max));

	switch (scheme) {
	case QP_Q_ASYMMETRIC: {
		double lo = fmin((double)min, 0.0), hi = fmax((double)max, 0.0);
		float s = floor_scale((hi - lo) / ((double)qmax - qmin));

		*scale = s;
		*zero_point = clamp_i32((double)qmin - round(lo / (double)s),
					qmin, qmax);
		return 0;
	}
	case QP_Q_SYMMETRIC:
		*scale = floor_scale(amax / (double)qmax);
		*zero_point = 0;
		return 0;
	case QP_Q_POWER_OF_TWO:
		*scale = amax == 0 ? QP_QUANT_MIN_SCALE
				   : floor_scale(ldexp(pow2_ceil(amax),
						       -(bits - (is_signed ? 1 : 0))));
		*zero_point = 0;
		return 0;
	}
	return qp_err_set(err, "unknown quantization scheme %d", (int)scheme);
}

int32_t qp_quantize_value(float x, float scale, int32_t zero_point,
			  int32_t qmin, int32_t qmax)
{
	double t;

	if (isnan(x))
		return clamp_i32((double)zero_point, qmin, qmax);
	/* round() is round-half-away-from-zero; clamping in double also
	 * covers values far outside the int32 range. */
	t = round((double)x / (double)scale) + (double)zero_point;
	return clamp_i32(t, qmin, qmax);
}

float qp_dequantize_value(int32_t q, float scale, int32_t zero_point)
{
	return (float)((int64_t)q - zero_point) * scale;
}

float qp_fake_quant_value(float x, float scale, int32_t zero_point,
			  int32_t qmin, int32_t qmax)
{
	return qp_dequantize_value(qp_quantize_value(x, scale, zero_point,
						     qmin, qmax),
				   scale, zero_point);
}

int qp_quant_storage_dtype(int bits, int is_signed, qp_dtype *dt)
{
	if (bits >= 2 && bits <= 8)
		*dt = is_signed ? QP_DT_INT8 : QP_DT_UINT8;
	else if (bits <= 16 && is_signed)
		*dt = QP_DT_INT16;
	else if (bits == 32 && is_signed)
		*dt = QP_DT_INT32;
	else
		return -1;
	return 0;
}

/* Splits a shape around axis: element i is in channel (i / inner) % n. */
static int channel_layout(int rank, const int64_t *dims, int axis,
			  int64_t *numel, int64_t *n, int64_t *inner,
			  qp_err *err)
{
	int64_t total = 1;
	int d;

	if (axis < -1 || axis >= rank)
		return qp_err_set(err, "quantization axis %d is outside a rank-%d tensor",
				  axis, rank);
	*inner = 1;
	for (d = 0; d < rank; d++) {
		if (dims[d] < 0 || (dims[d] && total > INT64_MAX / dims[d]))
			return qp_err_set(err, "tensor size overflows");
		total *= dims[d];
		if (axis >= 0 && d > axis)
			*inner *= dims[d];
	}
	*numel = total;
	*n = axis < 0 ? 1 : dims[axis];
	return 0;
}

qp_quant *qp_quant_choose_array(const float *x, int rank, const int64_t *dims,
				int axis, qp_qscheme scheme, int bits,
				int is_signed, qp_err *err)
{
	int64_t numel, n, inner, i, c;
	float *lo = NULL, *hi = NULL;
	qp_quant *q = NULL;

	if (channel_layout(rank, dims, axis, &numel, &n, &inner, err))
		return NULL;
	if (n < 1 || n > INT32_MAX)
		return qp_err_set(err, "cannot quantize along an axis of %lld channels",
				  (long long)n), NULL;
	q = qp_quant_new((int)n);
	lo = malloc((size_t)n * sizeof *lo);
	hi = malloc((size_t)n * sizeof *hi);
	if (!q || !lo || !hi) {
		qp_err_set(err, "out of memory");
		goto fail;
	}
	/* A channel with no elements has the range [0, 0]. */
	for (c = 0; c < n; c++)
		lo[c] = hi[c] = 0;
	for (c = 0; c < n; c++) {
		int seen = 0;

		for (i = c * inner; i < numel; i += n * inner) {
			int64_t k;

			for (k = 0; k < inner; k++) {
				float v = x[i + k];

				if (!isfinite(v)) {
					qp_err_set(err, "value %.9g at index %lld is not finite",
						   (double)v, (long long)(i + k));
					goto fail;
				}
				if (!seen || v < lo[c])
					lo[c] = v;
				if (!seen || v > hi[c])
					hi[c] = v;
				seen = 1;
			}
		}
	}
	q->scheme = scheme;
	q->bits = bits;
	q->is_signed = is_signed;
	q->axis = axis;
	for (c = 0; c < n; c++)
		if (qp_quant_choose(lo[c], hi[c], scheme, bits, is_signed,
				    &q->scale[c], &q->zero_point[c], err))
			goto fail;
	free(lo);
	free(hi);
	return q;
fail:
	free(lo);
	free(hi);
	qp_quant_free(q);
	return NULL;
}

static int check_quant(const qp_quant *q, int rank, const int64_t *dims,
		       qp_dtype dt, int64_t *numel, int64_t *n,
		       int64_t *inner, qp_err *err)
{
	qp_dtype want;

	if (channel_layout(rank, dims, q->axis, numel, n, inner, err))
		return -1;
	if (*n != q->n)
		return qp_err_set(err, "%d scales for an axis of %lld channels",
				  q->n, (long long)*n);
	if (qp_quant_storage_dtype(q->bits, q->is_signed, &want) || want != dt)
		return qp_err_set(err, "dtype %s does not hold %s %d-bit integers",
				  qp_dtype_name(dt),
				  q->is_signed ? "signed" : "unsigned", q->bits);
	return 0;
}

int qp_quantize_array(const float *x, int rank, const int64_t *dims,
		      const qp_quant *q, void *out, qp_dtype dt, qp_err *err)
{
	int64_t numel, n, inner, i;
	int32_t qmin, qmax;

	if (check_quant(q, rank, dims, dt, &numel, &n, &inner, err))
		return -1;
	qp_qrange(q->bits, q->is_signed, &qmin, &qmax);
	for (i = 0; i < numel; i++) {
		int64_t c = (i / inner) % n;
		int32_t v = qp_quantize_value(x[i], q->scale[c],
					      q->zero_point[c], qmin, qmax);

		switch (dt) {
		case QP_DT_INT8: ((int8_t *)out)[i] = (int8_t)v; break;
		case QP_DT_UINT8: ((uint8_t *)out)[i] = (uint8_t)v; break;
		case QP_DT_INT16: ((int16_t *)out)[i] = (int16_t)v; break;
		default: ((int32_t *)out)[i] = v; break;
		}
	}
	return 0;
}

int qp_dequantize_array(const void *in, qp_dtype dt, int rank,
			const int64_t *dims, const qp_quant *q, float *out,
			qp_err *err)
{
	int64_t numel, n, inner, i;

	if (check_quant(q, rank, dims, dt, &numel, &n, &inner, err))
		return -1;
	for (i = 0; i < numel; i++) {
		int64_t c = (i / inner) % n;
		int32_t v;

		switch (dt) {
		case QP_DT_INT8: v = ((const int8_t *)in)[i]; break;
		case QP_DT_UINT8: v = ((const uint8_t *)in)[i]; break;
		case QP_DT_INT16: v = ((const int16_t *)in)[i]; break;
		default: v = ((const int32_t *)in)[i]; break;
		}
		out[i] = qp_dequantize_value(v, q->scale[c], q->zero_point[c]);
	}
	return 0;
}

int qp_fake_quant_array(float *x, int rank, const int64_t *dims,
			const qp_quant *q, qp_err *err)
{
	int64_t numel, n, inner, i;
	int32_t qmin, qmax;

	if (channel_layout(rank, dims, q->axis, &numel, &n, &inner, err))
		return -1;
	if (n != q->n)
		return qp_err_set(err, "%d scales for an axis of %lld channels",
				  q->n, (long long)n);
	qp_qrange(q->bits, q->is_signed, &qmin, &qmax);
	for (i = 0; i < numel; i++) {
		int64_t c = (i / inner) % n;

		x[i] = qp_fake_quant_value(x[i], q->scale[c], q->zero_point[c],
					   qmin, qmax);
	}
	return 0;
}

int qp_quant_equal(const qp_quant *a, const qp_quant *b)
{
	if (!a || !b)
		return a == b;
	return a->scheme == b->scheme && a->bits == b->bits &&
	       a->is_signed == b->is_signed && a->axis == b->axis &&
	       a->n == b->n &&
	       !memcmp(a->scale, b->scale, (size_t)a->n * sizeof *a->scale) &&
	       !memcmp(a->zero_point, b->zero_point,
		       (size_t)a->n * sizeof *a->zero_point);
}
