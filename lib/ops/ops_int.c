/* Lowered integer ops (docs/ir.md section 6).
 *
 * Shape inference is done here; the arithmetic is not: every kernel builds
 * the runtime's operand views and parameter vector (lib/ir/lowered.c) and
 * calls qp_rt_op_check + qp_rt_op_run, the very code simulate runs, so a
 * lowered IR under irrun and its emitted binary agree bit for bit.
 */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "lowered.h"
#include "ops_common.h"

static int set_out(qp_graph *g, const qp_node *n, qp_dtype dt, int rank,
		   const int64_t *dims)
{
	qp_tensor *t = &g->tensors[n->outputs[0]];

	/* Keep the quant parameters; only dtype and shape are inferred. */
	if (t->dtype != dt || t->rank != rank ||
	    memcmp(t->dims, dims, (size_t)rank * sizeof *dims))
		qp_tensor_reshape(t, dt, rank, dims);
	return 0;
}

static int need(qp_graph *g, const qp_node *n, int n_in, int rank0,
		qp_err *err)
{
	const qp_tensor *x;

	if (n->n_inputs < n_in || n->n_outputs != 1)
		return qp_node_err(err, n, "expected %d inputs and 1 output", n_in);
	x = qp_in_tensor(g, n, 0);
	if (!x)
		return qp_node_err(err, n, "missing input");
	if (rank0 && x->rank != rank0)
		return qp_node_err(err, n, "input must have rank %d, not %d", rank0, x->rank);
	return 0;
}

static int infer_same(qp_graph *g, int idx, qp_dtype dt, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x;

	if (need(g, n, 1, 0, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	return set_out(g, n, dt, x->rank, x->dims);
}

/* Same shape as input 0, int8 (Quantize, QSoftmax, ...) or float32
 * (Dequantize). */
static int infer_same_i8(qp_graph *g, int idx, qp_err *err)
{
	return infer_same(g, idx, QP_DT_INT8, err);
}

static int infer_same_f32(qp_graph *g, int idx, qp_err *err)
{
	return infer_same(g, idx, QP_DT_FLOAT32, err);
}

/* Reads an ints attribute of exactly count values. */
static const int64_t *ints_attr(const qp_node *n, const char *name, int count,
				qp_err *err)
{
	int c;
	const int64_t *v = qp_node_attr_ints(n, name, &c);

	if (!v || c != count) {
		qp_node_err(err, n, "attribute '%s' needs %d values", name, count);
		return NULL;
	}
	return v;
}

static int64_t extent(int64_t in, int64_t p0, int64_t p1, int64_t k, int64_t d,
		      int64_t s, int ceil)
{
	int64_t span = in + p0 + p1 - (d * (k - 1) + 1);

	if (span < 0 || s < 1)
		return -1;
	return (ceil ? (span + s - 1) / s : span / s) + 1;
}

static int infer_window(qp_graph *g, int idx, int conv, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x, *w = NULL;
	const int64_t *k = NULL, *s, *p, *d;
	static const int64_t ones[2] = {1, 1};
	int64_t kk[2], dims[4];
	int ceil = 0, i;

	if (need(g, n, conv ? 2 : 1, 0, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	/* A pool also takes [N, C, L], read as [N, C, 1, L] (runtime/kernels.c). */
	if (x->rank != 4 && (conv || x->rank != 3))
		return qp_node_err(err, n, "input must have rank 4%s, not %d",
				   conv ? "" : " or 3", x->rank);
	if (conv) {
		w = qp_in_tensor(g, n, 1);
		if (!w || w->rank != 4)
			return qp_node_err(err, n, "weights must have rank 4");
		kk[0] = w->dims[2];
		kk[1] = w->dims[3];
		k = kk;
	} else {
		if (!(k = ints_attr(n, "kernel_shape", 2, err)))
			return -1;
		ceil = (int)qp_node_attr_int(n, "ceil_mode", 0);
	}
	if (!(s = ints_attr(n, "strides", 2, err)) || !(p = ints_attr(n, "pads", 4, err)))
		return -1;
	d = qp_node_attr(n, "dilations") ? ints_attr(n, "dilations", 2, err) : ones;
	if (!d)
		return -1;
	dims[0] = x->dims[0];
	dims[1] = conv ? w->dims[0] : x->dims[1];
	for (i = 0; i < 2; i++) {
		int64_t in = x->rank == 4 ? x->dims[2 + i] : i ? x->dims[2] : 1;

		dims[2 + i] = extent(in, p[i], p[2 + i], k[i], d[i], s[i], ceil);
		if (dims[2 + i] < 1)
			return qp_node_err(err, n, "window larger than the padded input");
		/* ceil_mode drops a last window that would start in the end
		 * padding, as ONNX and PyTorch do. */
		if (ceil && dims[2 + i] > 1 && (dims[2 + i] - 1) * s[i] >= in + p[i])
			dims[2 + i]--;
	}
	if (x->rank == 3) {
		if (dims[2] != 1)
			return qp_node_err(err, n, "a 1-d pool needs kernel 1 and no padding on the first axis");
		dims[2] = dims[3];
	}
	return set_out(g, n, QP_DT_INT8, x->rank, dims);
}

static int infer_conv(qp_graph *g, int idx, qp_err *err)
{
	return infer_window(g, idx, 1, err);
}

static int infer_pool(qp_graph *g, int idx, qp_err *err)
{
	return infer_window(g, idx, 0, err);
}

/* QConvTranspose: W [C_in, C_out/group, kh, kw]; each spatial extent is
 * ONNX's s (in - 1) + output_padding + d (k - 1) + 1 - pads. */
static int infer_convtranspose(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x, *w;
	const int64_t *s, *p, *d, *op;
	int64_t dims[4], group = qp_node_attr_int(n, "group", 1);
	int i;

	if (need(g, n, 2, 4, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	w = qp_in_tensor(g, n, 1);
	if (!w || w->rank != 4 || w->dims[0] != x->dims[1])
		return qp_node_err(err, n, "weights must be [%lld, C_out/group, kh, kw]",
				   (long long)x->dims[1]);
	if (group < 1 || x->dims[1] % group)
		return qp_node_err(err, n, "group %lld does not divide the input channels %lld",
				   (long long)group, (long long)x->dims[1]);
	if (!(s = ints_attr(n, "strides", 2, err)) || !(p = ints_attr(n, "pads", 4, err)) ||
	    !(d = ints_attr(n, "dilations", 2, err)) ||
	    !(op = ints_attr(n, "output_padding", 2, err)))
		return -1;
	dims[0] = x->dims[0];
	dims[1] = w->dims[1] * group;
	for (i = 0; i < 2; i++) {
		/* The runtime's ranges (window_ok), checked before any product. */
		if (s[i] < 1 || s[i] > 65535 || d[i] < 1 || d[i] > 65535 || op[i] < 0 ||
		    op[i] > 65535 || p[i] < 0 || p[i] > 65535 || p[2 + i] < 0 || p[2 + i] > 65535)
			return qp_node_err(err, n, "strides and dilations must be 1..65535, pads and output_padding 0..65535");
		dims[2 + i] = s[i] * (x->dims[2 + i] - 1) + op[i] + d[i] * (w->dims[2 + i] - 1) + 1 -
			      p[i] - p[2 + i];
		if (dims[2 + i] < 1)
			return qp_node_err(err, n, "output extent %lld along spatial axis %d is not positive",
					   (long long)dims[2 + i], i);
	}
	return set_out(g, n, QP_DT_INT8, 4, dims);
}

static int infer_gemm(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *a, *w;
	int64_t dims[2];

	if (need(g, n, 2, 2, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	w = qp_in_tensor(g, n, 1);
	if (!w || w->rank != 2 || w->dims[1] != a->dims[1])
		return qp_node_err(err, n, "weights must be [N, %lld]", (long long)a->dims[1]);
	dims[0] = a->dims[0];
	dims[1] = w->dims[0];
	return set_out(g, n, QP_DT_INT8, 2, dims);
}

static int infer_binary(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *a, *b;
	int64_t dims[QP_MAX_RANK];
	int r, i;

	if (need(g, n, 2, 0, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	if (!b)
		return qp_node_err(err, n, "missing input");
	r = a->rank > b->rank ? a->rank : b->rank;
	for (i = 0; i < r; i++) {
		int ia = i - (r - a->rank), ib = i - (r - b->rank);
		int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;

		if (da != db && da != 1 && db != 1)
			return qp_node_err(err, n, "shapes do not broadcast");
		dims[i] = da > db ? da : db;
	}
	return set_out(g, n, QP_DT_INT8, r, dims);
}

static int infer_reshape(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const int64_t *shape;
	int c, i;
	int64_t total = 1;

	if (need(g, n, 1, 0, err))
		return -1;
	shape = qp_node_attr_ints(n, "shape", &c);
	if (!shape || c > QP_MAX_RANK)
		return qp_node_err(err, n, "missing attribute 'shape'");
	for (i = 0; i < c; i++) {
		if (shape[i] < 1)
			return qp_node_err(err, n, "bad shape value %lld", (long long)shape[i]);
		total *= shape[i];
	}
	if (total != qp_tensor_numel(qp_in_tensor(g, n, 0)))
		return qp_node_err(err, n, "shape does not keep the element count");
	return set_out(g, n, QP_DT_INT8, c, shape);
}

/* QResize: the extra attribute sizes is the output shape (the ratios
 * do not determine it); only the spatial axes may change. */
static int infer_resize(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x;
	const int64_t *sizes;
	int c, i;

	if (need(g, n, 1, 0, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (x->rank != 4 && x->rank != 3)
		return qp_node_err(err, n, "input must have rank 4 or 3, not %d", x->rank);
	sizes = qp_node_attr_ints(n, "sizes", &c);
	if (!sizes || c != x->rank)
		return qp_node_err(err, n, "attribute 'sizes' needs %d values", x->rank);
	for (i = 0; i < c; i++)
		if (sizes[i] < 1 || sizes[i] > 65535 || (i < 2 && sizes[i] != x->dims[i]))
			return qp_node_err(err, n, "bad output size %lld on axis %d",
					   (long long)sizes[i], i);
	return set_out(g, n, QP_DT_INT8, c, sizes);
}

/* QConcat: the inputs' dims, summed along axis (the first parameter). */
static int infer_concat(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x0;
	int64_t dims[QP_MAX_RANK], axis = qp_node_attr_int(n, "axis", -1);
	int i, k;

	if (need(g, n, 1, 0, err))
		return -1;
	if (n->n_inputs > QP_RT_MAX_INPUTS)
		return qp_node_err(err, n, "%d inputs; the runtime takes at most %d",
				   n->n_inputs, QP_RT_MAX_INPUTS);
	x0 = qp_in_tensor(g, n, 0);
	if (axis < 0 || axis >= x0->rank)
		return qp_node_err(err, n, "axis %lld is out of range for rank %d",
				   (long long)axis, x0->rank);
	memcpy(dims, x0->dims, (size_t)x0->rank * sizeof *dims);
	dims[axis] = 0;
	for (i = 0; i < n->n_inputs; i++) {
		const qp_tensor *x = qp_in_tensor(g, n, i);

		if (!x || x->rank != x0->rank)
			return qp_node_err(err, n, "input %d is missing or differs from input 0 in rank", i);
		for (k = 0; k < x->rank; k++)
			if (k != axis && x->dims[k] != x0->dims[k])
				return qp_node_err(err, n, "input %d differs from input 0 in dim %d", i, k);
		dims[axis] += x->dims[axis];
	}
	return set_out(g, n, QP_DT_INT8, x0->rank, dims);
}

/* QSlice: per axis, the count of start, start + step, ... before end
 * (normalized as the runtime's check_slice requires). */
static int infer_slice(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x;
	const int64_t *s, *e, *st;
	int64_t dims[QP_MAX_RANK];
	int k;

	if (need(g, n, 1, 0, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(s = ints_attr(n, "starts", x->rank, err)) ||
	    !(e = ints_attr(n, "ends", x->rank, err)) ||
	    !(st = ints_attr(n, "steps", x->rank, err)))
		return -1;
	for (k = 0; k < x->rank; k++) {
		int64_t d = x->dims[k];

		if (st[k] > 0 && 0 <= s[k] && s[k] < e[k] && e[k] <= d)
			dims[k] = (e[k] - s[k] - 1) / st[k] + 1;
		else if (st[k] < 0 && st[k] > INT32_MIN && -1 <= e[k] && e[k] < s[k] && s[k] < d)
			dims[k] = (s[k] - e[k] - 1) / -st[k] + 1;
		else
			return qp_node_err(err, n, "axis %d: start %lld, end %lld, step %lld do not select elements of a dim of %lld",
					   k, (long long)s[k], (long long)e[k], (long long)st[k],
					   (long long)d);
	}
	return set_out(g, n, QP_DT_INT8, x->rank, dims);
}

/* QTranspose: y's dim k is x's dim perm[k]. */
static int infer_transpose(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x;
	const int64_t *perm;
	int64_t dims[QP_MAX_RANK];
	unsigned seen = 0;
	int k;

	if (need(g, n, 1, 0, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(perm = ints_attr(n, "perm", x->rank, err)))
		return -1;
	for (k = 0; k < x->rank; k++) {
		if (perm[k] < 0 || perm[k] >= x->rank || (seen >> perm[k] & 1))
			return qp_node_err(err, n, "perm is not a permutation of the %d axes", x->rank);
		seen |= 1u << perm[k];
		dims[k] = x->dims[perm[k]];
	}
	return set_out(g, n, QP_DT_INT8, x->rank, dims);
}

/* QPad: each axis grows by its begin and end pads (negative ones crop). */
static int infer_pad(qp_graph *g, int idx, qp_err *err)
{
	const qp_node *n = &g->nodes[idx];
	const qp_tensor *x;
	const int64_t *pads;
	int64_t dims[QP_MAX_RANK];
	int k;

	if (need(g, n, 1, 0, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(pads = ints_attr(n, "pads", 2 * x->rank, err)))
		return -1;
	for (k = 0; k < x->rank; k++) {
		if (pads[k] < -x->dims[k] || pads[x->rank + k] < -x->dims[k] ||
		    pads[k] > INT32_MAX || pads[x->rank + k] > INT32_MAX ||
		    (dims[k] = x->dims[k] + pads[k] + pads[x->rank + k]) < 1)
			return qp_node_err(err, n, "pads %lld/%lld leave axis %d of %lld without elements or out of range",
					   (long long)pads[k], (long long)pads[x->rank + k], k,
					   (long long)x->dims[k]);
	}
	return set_out(g, n, QP_DT_INT8, x->rank, dims);
}

/* Runs one lowered node through the runtime's kernels. */
static int run_int(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	qp_rt_tensor views[QP_RT_MAX_INPUTS + 1];
	const qp_rt_tensor *rin[QP_RT_MAX_INPUTS], *rout[1];
	int32_t buf[512], *params;
	int n_params, opcode = qp_lowered_opcode(n->op), i, st;

	if (!opcode || n->n_inputs > QP_RT_MAX_INPUTS || n->n_outputs != 1)
		return qp_node_err(err, n, "bad lowered op");
	for (i = 0; i < n->n_inputs; i++) {
		rin[i] = NULL;
		if (!in[i])
			continue;
		if (qp_lowered_view(&g->tensors[n->inputs[i]], in[i]->rank, in[i]->dims,
				    in[i]->data, &views[i]))
			return qp_node_err(err, n, "input %d has a dtype or shape the runtime cannot take",
					   i);
		rin[i] = &views[i];
	}
	if (qp_lowered_view(&g->tensors[n->outputs[0]], out[0]->rank, out[0]->dims,
			    out[0]->data, &views[QP_RT_MAX_INPUTS]))
		return qp_node_err(err, n, "output has a dtype or shape the runtime cannot take");
	rout[0] = &views[QP_RT_MAX_INPUTS];
	if (qp_lowered_params(n, buf, (int)(sizeof buf / sizeof buf[0]), &params,
			      &n_params, err))
		return -1;
	st = qp_rt_op_check(opcode, rin, n->n_inputs, rout, 1, params, n_params);
	if (st == QP_OK)
		qp_rt_op_run(opcode, rin, n->n_inputs, rout, 1, params, n_params);
	if (params != buf)
		free(params);
	if (st != QP_OK)
		return qp_node_err(err, n, "%s", qp_status_str(st));
	return 0;
}

/* From the op list (runtime/qp_ops.h): the shape rule is the row's own,
 * the kernel is always the runtime's. */
#define INT_ROW(id, name, code, in_min, in_max, n_out, kernel, shape, params) \
	{name, infer_##shape, run_int},
const qp_op_def qp_ops_int[] = {
	QP_RT_OPS(INT_ROW)
	{NULL, NULL, NULL},
};
#undef INT_ROW
