/* The unary functions (Relu, Sqrt, Exp, ...): one shape rule and one kernel
 * for the family, which reads the function from the node's row. */
#include "ops_float_internal.h"

#include <math.h>
#include <string.h>

int infer_unary(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_numeric(n, x, "input", qp_node_row(n)->ints_ok, err))
		return -1;
	if (qp_node_row(n)->kind == UN_GELU) {
		const char *a = qp_node_attr_string(n, "approximate", "none");

		if (strcmp(a, "none") && strcmp(a, "tanh"))
			return qp_node_err(err, n, "approximate '%s' is not 'none' or 'tanh'", a);
	}
	qp_set_out(g, n, 0, qp_compute_dtype(x), x->rank, x->dims);
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

int run_unary(const qp_graph *g, const qp_node *n,
	      const qp_value *const *in, qp_value *const *out,
	      qp_err *err)
{
	const qp_value *x = in[0];
	unary_op op = (unary_op)qp_node_row(n)->kind;
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
	case UN_GELU:
		/* ONNX Gelu (opset 20), in double then rounded once:
		 * x/2 (1 + erf(x / sqrt 2)), or with approximate "tanh"
		 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
		if (!strcmp(qp_node_attr_string(n, "approximate", "none"), "tanh")) {
			for (int64_t i = 0; i < len; i++) {
				double v = s[i];

				d[i] = (float)(0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) *
							   (v + 0.044715 * v * v * v))));
			}
		} else {
			for (int64_t i = 0; i < len; i++) {
				double v = s[i];

				d[i] = (float)(0.5 * v * (1.0 + erf(v * M_SQRT1_2)));
			}
		}
		break;
	}
	return 0;
}
