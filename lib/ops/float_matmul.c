/* Gemm and MatMul: shape rules and float kernels, both over BLAS sgemm. */
#include "ops_float_internal.h"

#include <string.h>

#include <cblas.h>

int infer_gemm(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b, *c;
	int64_t ta, tb, m, k, kb, nn, out[2];
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 3, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	c = qp_in_tensor(g, n, 2);
	if (qp_want_real(n, a, "input A", err) || qp_want_real(n, b, "input B", err) ||
	    qp_want_rank(n, a, "input A", 2, 2, err) ||
	    qp_want_rank(n, b, "input B", 2, 2, err))
		return -1;
	ta = qp_node_attr_int(n, "transA", 0);
	tb = qp_node_attr_int(n, "transB", 0);
	if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
		return qp_node_err(err, n, "transA %lld / transB %lld must be 0 or 1",
				(long long)ta, (long long)tb);
	m = ta ? a->dims[1] : a->dims[0];
	k = ta ? a->dims[0] : a->dims[1];
	kb = tb ? b->dims[1] : b->dims[0];
	nn = tb ? b->dims[0] : b->dims[1];
	if (m < 1 || k < 1 || nn < 1)
		return qp_node_err(err, n, "empty operand: A '%s' %s, B '%s' %s",
				a->name, qp_dims_str(2, a->dims, s1, sizeof s1),
				b->name, qp_dims_str(2, b->dims, s2, sizeof s2));
	if (k != kb)
		return qp_node_err(err, n, "inner dimensions differ: A '%s' %s (transA %lld), B '%s' %s (transB %lld)",
				a->name, qp_dims_str(2, a->dims, s1, sizeof s1), (long long)ta,
				b->name, qp_dims_str(2, b->dims, s2, sizeof s2), (long long)tb);
	if (c) {
		int ok = 1;

		if (qp_want_real(n, c, "input C", err))
			return -1;
		if (c->rank > 2)
			ok = 0;
		else if (c->rank == 1)
			ok = c->dims[0] == 1 || c->dims[0] == nn;
		else if (c->rank == 2)
			ok = (c->dims[0] == 1 || c->dims[0] == m) &&
			     (c->dims[1] == 1 || c->dims[1] == nn);
		if (!ok)
			return qp_node_err(err, n, "input C '%s' %s does not broadcast to [%lld,%lld]",
					c->name, qp_dims_str(c->rank, c->dims, s1, sizeof s1),
					(long long)m, (long long)nn);
	}
	out[0] = m;
	out[1] = nn;
	qp_set_out(g, n, 0, QP_DT_FLOAT32, 2, out);
	return 0;
}

int run_gemm(const qp_graph *g, const qp_node *n,
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
		return qp_node_err(err, n, "operands must have rank 1 or more, not %d and %d",
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
		return qp_node_err(err, n, "empty operand: %s x %s",
				qp_dims_str(ra, adims, s1, sizeof s1),
				qp_dims_str(rb, bdims, s2, sizeof s2));
	if (s->b[s->rb - 2] != s->k)
		return qp_node_err(err, n, "inner dimensions differ: %s x %s",
				qp_dims_str(ra, adims, s1, sizeof s1),
				qp_dims_str(rb, bdims, s2, sizeof s2));
	if (qp_broadcast_dims(s->ra - 2, s->a, s->rb - 2, s->b, &s->ro_batch, s->batch))
		return qp_node_err(err, n, "batch dimensions of %s and %s do not broadcast",
				qp_dims_str(ra, adims, s1, sizeof s1),
				qp_dims_str(rb, bdims, s2, sizeof s2));
	s->out_rank = s->ro_batch;
	memcpy(s->out, s->batch, sizeof(int64_t) * (size_t)s->ro_batch);
	if (ra != 1)
		s->out[s->out_rank++] = s->m;
	if (rb != 1)
		s->out[s->out_rank++] = s->n;
	return 0;
}

int infer_matmul(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b;
	matmul_shape s;

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	if (qp_want_real(n, a, "input A", err) || qp_want_real(n, b, "input B", err))
		return -1;
	if (matmul_shape_init(n, a->rank, a->dims, b->rank, b->dims, &s, err))
		return -1;
	qp_set_out(g, n, 0, QP_DT_FLOAT32, s.out_rank, s.out);
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

int run_matmul(const qp_graph *g, const qp_node *n,
	       const qp_value *const *in, qp_value *const *out,
	       qp_err *err)
{
	matmul_shape s;
	int64_t batches;

	(void)g;
	if (matmul_shape_init(n, in[0]->rank, in[0]->dims, in[1]->rank,
			      in[1]->dims, &s, err))
		return -1;
	batches = qp_prod(0, s.ro_batch, s.batch);
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
