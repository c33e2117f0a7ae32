/* Normalizations: Softmax, BatchNormalization (inference form) and
 * InstanceNormalization, shape rules and float kernels. */
#include "ops_float_internal.h"

#include <math.h>

int infer_softmax(qp_graph *g, int node, qp_err *err)
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

int run_softmax(const qp_graph *g, const qp_node *n,
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

/* A per-channel parameter (scale, bias, mean, var): real, shape [c]. */
static int want_per_channel(const qp_node *n, const qp_tensor *t,
			    const char *what, int64_t c, qp_err *err)
{
	char s1[160];

	if (qp_want_real(n, t, what, err))
		return -1;
	if (t->rank != 1 || t->dims[0] != c)
		return qp_node_err(err, n, "%s '%s' has shape %s, expected [%lld]",
				   what, t->name,
				   qp_dims_str(t->rank, t->dims, s1, sizeof s1),
				   (long long)c);
	return 0;
}

int infer_batchnorm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	static const char *const what[] = {"input", "scale", "bias", "mean", "var"};
	const qp_tensor *x;

	if (n->n_outputs > 1 || qp_node_attr_int(n, "training_mode", 0) != 0)
		return qp_node_err(err, n, "training mode is not supported");
	if (qp_check_io(g, n, 5, 5, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_rank(n, x, "input", 2, QP_MAX_RANK, err) ||
	    qp_want_real(n, x, what[0], err))
		return -1;
	for (int i = 1; i < 5; i++)
		if (want_per_channel(n, qp_in_tensor(g, n, i), what[i], x->dims[1], err))
			return -1;
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

int run_batchnorm(const qp_graph *g, const qp_node *n,
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

int infer_instnorm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 3, 3, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_real(n, x, "input", err) ||
	    qp_want_rank(n, x, "input", 3, QP_MAX_RANK, err) ||
	    want_per_channel(n, qp_in_tensor(g, n, 1), "scale", x->dims[1], err) ||
	    want_per_channel(n, qp_in_tensor(g, n, 2), "bias", x->dims[1], err))
		return -1;
	qp_set_out(g, n, 0, QP_DT_FLOAT32, x->rank, x->dims);
	return 0;
}

int run_instnorm(const qp_graph *g, const qp_node *n,
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
