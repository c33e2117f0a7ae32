/* Helpers shared by the op tables (lib/ops/ops_common.h). */
#include "ops_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qp_node_err(qp_err *err, const qp_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qp_err_vnode(err, QP_ERR_SET, n->name, n->op, fmt, ap);
	va_end(ap);
	return -1;
}

int qp_node_err_append(qp_err *err, const qp_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qp_err_vnode(err, QP_ERR_APPEND, n->name, n->op, fmt, ap);
	va_end(ap);
	return -1;
}

int qp_node_err_prefix(qp_err *err, const qp_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qp_err_vnode(err, QP_ERR_PREFIX, n->name, n->op, fmt, ap);
	va_end(ap);
	return -1;
}

const char *qp_dims_str(int rank, const int64_t *dims, char *buf, size_t len)
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

qp_tensor *qp_in_tensor(qp_graph *g, const qp_node *n, int i)
{
	if (i >= n->n_inputs || n->inputs[i] < 0)
		return NULL;
	return &g->tensors[n->inputs[i]];
}

int qp_check_io_n(qp_graph *g, const qp_node *n, int min_in, int max_in,
		  int min_out, int max_out, qp_err *err)
{
	if (n->n_inputs < min_in || n->n_inputs > max_in) {
		if (min_in == max_in)
			return qp_node_err(err, n, "has %d inputs, expected %d",
					   n->n_inputs, min_in);
		return qp_node_err(err, n, "has %d inputs, expected %d to %d",
				   n->n_inputs, min_in, max_in);
	}
	for (int i = 0; i < min_in; i++)
		if (!qp_in_tensor(g, n, i))
			return qp_node_err(err, n, "required input %d is missing", i);
	if (n->n_outputs < min_out || n->n_outputs > max_out) {
		if (min_out == max_out)
			return qp_node_err(err, n, "has %d outputs, expected %d",
					   n->n_outputs, min_out);
		return qp_node_err(err, n, "has %d outputs, expected %d to %d",
				   n->n_outputs, min_out, max_out);
	}
	return 0;
}

int qp_check_io(qp_graph *g, const qp_node *n, int min_in, int max_in,
		qp_err *err)
{
	return qp_check_io_n(g, n, min_in, max_in, 1, 1, err);
}

int qp_is_real(const qp_tensor *t)
{
	return t->dtype == QP_DT_FLOAT32 || (t->quant && t->data);
}

int qp_want_real(const qp_node *n, const qp_tensor *t, const char *what,
		 qp_err *err)
{
	if (qp_is_real(t))
		return 0;
	return qp_node_err(err, n, "%s '%s' has dtype %s, expected float32",
			   what, t->name, qp_dtype_name(t->dtype));
}

int qp_want_rank(const qp_node *n, const qp_tensor *t, const char *what,
		 int lo, int hi, qp_err *err)
{
	char s[160];

	if (t->rank >= lo && t->rank <= hi)
		return 0;
	if (lo == hi)
		return qp_node_err(err, n, "%s '%s' has rank %d (shape %s), expected %d",
				   what, t->name, t->rank,
				   qp_dims_str(t->rank, t->dims, s, sizeof s), lo);
	return qp_node_err(err, n, "%s '%s' has rank %d (shape %s), expected %d to %d",
			   what, t->name, t->rank,
			   qp_dims_str(t->rank, t->dims, s, sizeof s), lo, hi);
}

qp_dtype qp_compute_dtype(const qp_tensor *t)
{
	return qp_is_real(t) ? QP_DT_FLOAT32 : t->dtype;
}

int qp_want_numeric(const qp_node *n, const qp_tensor *t, const char *what,
		    int ints_ok, qp_err *err)
{
	if (qp_is_real(t) || (ints_ok && qp_dtype_is_int(t->dtype)))
		return 0;
	return qp_node_err(err, n, "%s '%s' has dtype %s, expected %s", what,
			   t->name, qp_dtype_name(t->dtype),
			   ints_ok ? "float32 or an integer type" : "float32");
}

const qp_op_row *qp_node_row(const qp_node *n)
{
	const qp_op_row *r = qp_op_row_of(qp_op_find(n->op));

	if (!r)
		qp_bug("no float op %s", n->op);
	return r;
}

void qp_set_out(qp_graph *g, const qp_node *n, int i, qp_dtype dt, int rank,
		const int64_t *dims)
{
	qp_tensor_reshape(&g->tensors[n->outputs[i]], dt, rank, dims);
}

int64_t qp_prod(int from, int to, const int64_t *dims)
{
	int64_t p = 1;

	for (int i = from; i < to; i++)
		p *= dims[i];
	return p;
}

int qp_spatial_ints(const qp_node *n, const char *name, int count,
		    int64_t dflt, int64_t min_value, int64_t *out, qp_err *err)
{
	int have;
	const int64_t *v = qp_node_attr_ints(n, name, &have);

	if (!qp_node_attr(n, name)) {
		for (int i = 0; i < count; i++)
			out[i] = dflt;
		return 0;
	}
	if (!v && have == 0 && count > 0)
		return qp_node_err(err, n, "attribute '%s' must be a list of %d integers",
				   name, count);
	if (have != count)
		return qp_node_err(err, n, "attribute '%s' has %d values, expected %d",
				   name, have, count);
	for (int i = 0; i < count; i++) {
		if (v[i] < min_value)
			return qp_node_err(err, n, "attribute '%s' value %lld is below %lld",
					   name, (long long)v[i], (long long)min_value);
		if (v[i] > QP_MAX_WINDOW)
			return qp_node_err(err, n, "attribute '%s' value %lld is above %lld",
					   name, (long long)v[i], (long long)QP_MAX_WINDOW);
		out[i] = v[i];
	}
	return 0;
}

int qp_norm_axis(const qp_node *n, int64_t axis, int rank, const char *what,
		 int *out, qp_err *err)
{
	if (axis < -rank || axis >= rank)
		return qp_node_err(err, n, "%s %lld is out of range for rank %d",
				   what, (long long)axis, rank);
	*out = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

int qp_dtype_is_int(qp_dtype dt)
{
	return dt == QP_DT_INT8 || dt == QP_DT_UINT8 || dt == QP_DT_INT16 ||
	       dt == QP_DT_INT32 || dt == QP_DT_INT64;
}

int64_t *qp_const_ints(const qp_node *n, const qp_tensor *t, const char *what,
		       int64_t *count, qp_err *err)
{
	int64_t numel = qp_tensor_numel(t);
	int64_t *v;

	if (!qp_dtype_is_int(t->dtype))
		return qp_node_err(err, n, "%s '%s' has dtype %s, expected an integer type",
				   what, t->name, qp_dtype_name(t->dtype)), NULL;
	if (!t->data && numel > 0)
		return qp_node_err(err, n, "%s '%s' must be a constant", what,
				   t->name), NULL;
	v = malloc(sizeof(int64_t) * (size_t)(numel > 0 ? numel : 1));
	if (!v)
		return qp_node_err(err, n, "out of memory"), NULL;
	for (int64_t i = 0; i < numel; i++)
		v[i] = qp_elem_get_i64(t->data, t->dtype, i);
	*count = numel;
	return v;
}

int qp_broadcast_dims(int ra, const int64_t *a, int rb, const int64_t *b,
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

void qp_broadcast_strides(int out_rank, const int64_t *out_dims, int rank,
			  const int64_t *dims, int64_t *strides)
{
	int64_t stride = 1;

	(void)out_dims;
	for (int i = out_rank - 1; i >= 0; i--) {
		int j = i - (out_rank - rank);
		int64_t d = j >= 0 ? dims[j] : 1;

		strides[i] = d == 1 ? 0 : stride;
		stride *= d;
	}
}

void qp_broadcast_walk(int out_rank, const int64_t *out_dims, int n_in,
		       int64_t (*strides)[QP_MAX_RANK], qp_bcast_visit visit,
		       void *ctx)
{
	int64_t idx[QP_MAX_RANK] = {0}, off[16] = {0};
	int64_t numel = qp_prod(0, out_rank, out_dims);

	if (n_in > 16)
		qp_bug("qp_broadcast_walk: %d operands, at most 16", n_in);
	for (int64_t o = 0; o < numel; o++) {
		visit(ctx, o, off);
		/* Advance like an odometer, last axis fastest. */
		for (int i = out_rank - 1; i >= 0; i--) {
			idx[i]++;
			for (int k = 0; k < n_in; k++)
				off[k] += strides[k][i];
			if (idx[i] < out_dims[i])
				break;
			for (int k = 0; k < n_in; k++)
				off[k] -= strides[k][i] * idx[i];
			idx[i] = 0;
		}
	}
}

double qp_elem_get_f64(const void *data, qp_dtype dt, int64_t i)
{
	switch (dt) {
	case QP_DT_FLOAT32: return ((const float *)data)[i];
	case QP_DT_INT8: return ((const int8_t *)data)[i];
	case QP_DT_UINT8: return ((const uint8_t *)data)[i];
	case QP_DT_INT16: return ((const int16_t *)data)[i];
	case QP_DT_INT32: return ((const int32_t *)data)[i];
	case QP_DT_INT64: return (double)((const int64_t *)data)[i];
	case QP_DT_BOOL: return ((const uint8_t *)data)[i] != 0;
	default: qp_bug("bad dtype %d", (int)dt);
	}
}

int64_t qp_elem_get_i64(const void *data, qp_dtype dt, int64_t i)
{
	switch (dt) {
	case QP_DT_FLOAT32: {
		float f = ((const float *)data)[i];

		/* C leaves out-of-range float->int undefined; clamp. */
		if (isnan(f))
			return 0;
		if (f >= 9.2233720368547758e18f)
			return INT64_MAX;
		if (f <= -9.2233720368547758e18f)
			return INT64_MIN;
		return (int64_t)f;
	}
	case QP_DT_INT8: return ((const int8_t *)data)[i];
	case QP_DT_UINT8: return ((const uint8_t *)data)[i];
	case QP_DT_INT16: return ((const int16_t *)data)[i];
	case QP_DT_INT32: return ((const int32_t *)data)[i];
	case QP_DT_INT64: return ((const int64_t *)data)[i];
	case QP_DT_BOOL: return ((const uint8_t *)data)[i] != 0;
	default: qp_bug("bad dtype %d", (int)dt);
	}
}

void qp_elem_set_i64(void *data, qp_dtype dt, int64_t i, int64_t v)
{
	switch (dt) {
	case QP_DT_FLOAT32: ((float *)data)[i] = (float)v; break;
	case QP_DT_INT8: ((int8_t *)data)[i] = (int8_t)(uint8_t)v; break;
	case QP_DT_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
	case QP_DT_INT16: ((int16_t *)data)[i] = (int16_t)(uint16_t)v; break;
	case QP_DT_INT32: ((int32_t *)data)[i] = (int32_t)(uint32_t)v; break;
	case QP_DT_INT64: ((int64_t *)data)[i] = v; break;
	case QP_DT_BOOL: ((uint8_t *)data)[i] = v != 0; break;
	default: qp_bug("bad dtype %d", (int)dt);
	}
}

void qp_elem_set_f64(void *data, qp_dtype dt, int64_t i, double v)
{
	if (dt == QP_DT_FLOAT32) {
		((float *)data)[i] = (float)v;
		return;
	}
	if (dt == QP_DT_BOOL) {
		((uint8_t *)data)[i] = v != 0;
		return;
	}
	/* Truncate toward zero like a C cast, clamped so the cast is defined. */
	if (isnan(v))
		v = 0;
	if (v >= 9.2233720368547758e18)
		v = 9.2233720368547748e18;
	if (v <= -9.2233720368547758e18)
		v = -9.2233720368547758e18;
	qp_elem_set_i64(data, dt, i, (int64_t)v);
}

int qp_kernel_copy(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)n, (void)err;
	if (out[0]->data != in[0]->data)
		memcpy(out[0]->data, in[0]->data,
		       (size_t)in[0]->numel * qp_dtype_size(in[0]->dtype));
	return 0;
}
