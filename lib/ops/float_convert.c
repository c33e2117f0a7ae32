/* Dtype conversion and quantization: Cast, QuantizeLinear, DequantizeLinear. */
#include "ops_float_internal.h"

#include <math.h>

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

int infer_cast(qp_graph *g, int node, qp_err *err)
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

int run_cast(const qp_graph *g, const qp_node *n,
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

/* The checks Quantize and DequantizeLinear share: 2 or 3 inputs, input *x
 * of a dtype in the mask ok (bit 1u << dtype; expected names them), then
 * qdq_params; *zp is the zero point or NULL. */
static int qdq_inputs(qp_graph *g, const qp_node *n, unsigned ok, const char *expected,
		      const qp_tensor **x, const qp_tensor **zp, qp_err *err)
{
	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	*x = qp_in_tensor(g, n, 0);
	*zp = qp_in_tensor(g, n, 2);
	if ((unsigned)(*x)->dtype >= QP_DT_COUNT || !(ok & (1u << (*x)->dtype)))
		return qp_node_err(err, n, "input '%s' has dtype %s, expected %s",
				   (*x)->name, qp_dtype_name((*x)->dtype), expected);
	return qdq_params(g, n, *x, err);
}

int infer_quantize(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *zp;

	if (qdq_inputs(g, n, 1u << QP_DT_FLOAT32 | 1u << QP_DT_INT32, "float32 or int32",
		       &x, &zp, err))
		return -1;
	if (zp && zp->dtype == QP_DT_INT32)
		return qp_node_err(err, n, "zero point '%s' has dtype int32, expected int8 or uint8",
				   zp->name);
	qp_set_out(g, n, 0, zp ? zp->dtype : QP_DT_UINT8, x->rank, x->dims);
	return 0;
}

int infer_dequantize(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *zp;

	if (qdq_inputs(g, n, 1u << QP_DT_INT8 | 1u << QP_DT_UINT8 | 1u << QP_DT_INT32,
		       "int8, uint8 or int32", &x, &zp, err))
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

int run_quantize(const qp_graph *g, const qp_node *n,
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

int run_dequantize(const qp_graph *g, const qp_node *n,
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
