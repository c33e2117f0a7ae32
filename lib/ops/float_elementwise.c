/* The unary functions (Relu, Sqrt, Exp, Log, Sin, ..., IsNaN, Not): one shape
 * rule and one kernel for the family, which reads the function from the
 * node's row.  IsNaN and IsInf write bool; Not takes and writes bool. */
#include "ops_float_internal.h"

#include <math.h>
#include <string.h>

int infer_unary(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int kind;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	kind = qp_node_row(n)->kind;
	if (kind == UN_NOT) {
		if (x->dtype != QP_DT_BOOL)
			return qp_node_err(err, n, "input '%s' has dtype %s, expected bool",
					   x->name, qp_dtype_name(x->dtype));
	} else if (qp_want_numeric(n, x, "input", qp_node_row(n)->ints_ok, err)) {
		return -1;
	}
	if (kind == UN_GELU) {
		const char *a = qp_node_attr_string(n, "approximate", "none");

		if (strcmp(a, "none") && strcmp(a, "tanh"))
			return qp_node_err(err, n, "approximate '%s' is not 'none' or 'tanh'", a);
	}
	if (kind == UN_CELU && qp_node_attr_float(n, "alpha", 1.0f) == 0.0f)
		return qp_node_err(err, n, "alpha is 0 (Celu divides by it)");
	qp_set_out(g, n, 0, kind >= UN_ISNAN ? QP_DT_BOOL : qp_compute_dtype(x),
		   x->rank, x->dims);
	return 0;
}

/* ln(1 + e^x) without overflow: max(x, 0) + ln(1 + e^-|x|). */
static double softplus(double x)
{
	return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

/* ONNX Sign: -1, 0 or 1; NaN stays NaN (as numpy's sign). */
static float signf(float x)
{
	return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x != x ? x : 0.0f;
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
			else if (op == UN_SIGN)
				v = (v > 0) - (v < 0);
			else if (op == UN_NOT)
				v = !v;
			else
				v = (int64_t)(0 - (uint64_t)v);
			qp_elem_set_i64(out[0]->data, out[0]->dtype, i, v);
		}
		return 0;
	}
	const float *s = CF32(x);
	float *d = F32(out[0]);
	unsigned char *b = out[0]->data;   /* IsNaN, IsInf: bool */
	float alpha, beta;
	int neg, pos;

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
#define MAP(expr)                                           \
	for (int64_t i = 0; i < len; i++) {                 \
		float v = s[i];                             \
		d[i] = (expr);                              \
	}                                                   \
	break
	case UN_LOG: MAP(logf(v));
	case UN_SIN: MAP(sinf(v));
	case UN_COS: MAP(cosf(v));
	case UN_TAN: MAP(tanf(v));
	case UN_ASIN: MAP(asinf(v));
	case UN_ACOS: MAP(acosf(v));
	case UN_ATAN: MAP(atanf(v));
	case UN_SINH: MAP(sinhf(v));
	case UN_COSH: MAP(coshf(v));
	case UN_ASINH: MAP(asinhf(v));
	case UN_ACOSH: MAP(acoshf(v));
	case UN_ATANH: MAP(atanhf(v));
	case UN_FLOOR: MAP(floorf(v));
	case UN_CEIL: MAP(ceilf(v));
	/* Halves to even: rintf in the default rounding mode. */
	case UN_ROUND: MAP(rintf(v));
	case UN_SIGN: MAP(signf(v));
	case UN_SOFTPLUS: MAP((float)softplus(v));
	case UN_SOFTSIGN: MAP(v / (1.0f + fabsf(v)));
	case UN_MISH: MAP((float)(v * tanh(softplus(v))));
	case UN_SELU:
		/* ONNX's defaults, the float32 values of the SELU paper's
		 * constants: gamma (x <= 0 ? alpha e^x - alpha : x). */
		alpha = qp_node_attr_float(n, "alpha", 1.67326319217681884765625f);
		beta = qp_node_attr_float(n, "gamma", 1.05070102214813232421875f);
		MAP(v <= 0.0f ? (float)(beta * (alpha * exp(v) - alpha)) : beta * v);
	case UN_CELU:
		/* max(0, x) + min(0, alpha (e^(x/alpha) - 1)) */
		alpha = qp_node_attr_float(n, "alpha", 1.0f);
		MAP(fmaxf(0.0f, v) + fminf(0.0f, (float)(alpha * expm1(v / alpha))));
	case UN_SHRINK:
		alpha = qp_node_attr_float(n, "lambd", 0.5f);
		beta = qp_node_attr_float(n, "bias", 0.0f);
		MAP(v < -alpha ? v + beta : v > alpha ? v - beta : 0.0f);
#undef MAP
	case UN_ISNAN:
		for (int64_t i = 0; i < len; i++)
			b[i] = isnan(s[i]) != 0;
		break;
	case UN_ISINF:
		neg = (int)qp_node_attr_int(n, "detect_negative", 1);
		pos = (int)qp_node_attr_int(n, "detect_positive", 1);
		for (int64_t i = 0; i < len; i++)
			b[i] = isinf(s[i]) && (s[i] < 0.0f ? neg : pos);
		break;
	case UN_NOT:   /* bool input: the integer path above */
		break;
	}
	return 0;
}
