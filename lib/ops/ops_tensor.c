/* ONNX data-movement ops: one row per op (shape inference + kernel).
 *
 * These move elements without arithmetic (Resize's linear mode aside), so
 * the kernels work on every IR dtype by element size.  The IR forms
 * (docs/ir.md section 3) hold every opset-dependent input as an attribute:
 * the importer resolved them, so shapes here never depend on data
 * (Range aside: its constant scalar inputs are its length, and onnx2ir
 * folds it).
 */
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"

/* ---- helpers ------------------------------------------------------------ */

/* Row-major strides of a shape (elements). */
static void strides_of(int rank, const int64_t *dims, int64_t *st)
{
	int64_t s = 1;

	for (int i = rank - 1; i >= 0; i--) {
		st[i] = s;
		s *= dims[i];
	}
}

/* Advances a multi-index over dims; returns 0 after the last element. */
static int next_index(int rank, const int64_t *dims, int64_t *idx)
{
	for (int i = rank - 1; i >= 0; i--) {
		if (++idx[i] < dims[i])
			return 1;
		idx[i] = 0;
	}
	return 0;
}

static void copy_elem(void *dst, int64_t di, const void *src, int64_t si, size_t esz)
{
	memcpy((char *)dst + (size_t)di * esz, (const char *)src + (size_t)si * esz, esz);
}

/* An ints attribute that must be present, with count in [lo, hi]. */
static const int64_t *need_ints(const qp_node *n, const char *name, int lo, int hi,
				int *count, qp_err *err)
{
	const int64_t *v = qp_node_attr_ints(n, name, count);

	if (!v && lo > 0) {
		qp_node_err(err, n, "missing attribute '%s'", name);
		return NULL;
	}
	if (*count < lo || *count > hi) {
		qp_node_err(err, n, "attribute '%s' has %d values, expected %d to %d",
			    name, *count, lo, hi);
		return NULL;
	}
	return v;
}

/* ---- Concat ------------------------------------------------------------ */

static int infer_concat(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x0;
	int64_t out[QP_MAX_RANK];
	int axis;

	if (qp_check_io(g, n, 1, 4096, err))
		return -1;
	x0 = qp_in_tensor(g, n, 0);
	if (x0->rank < 1)
		return qp_node_err(err, n, "inputs must have rank >= 1");
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", 0), x0->rank, "axis", &axis, err))
		return -1;
	memcpy(out, x0->dims, sizeof out);
	out[axis] = 0;
	for (int i = 0; i < n->n_inputs; i++) {
		const qp_tensor *x = qp_in_tensor(g, n, i);

		if (!x)
			return qp_node_err(err, n, "input %d is missing", i);
		if (x->rank != x0->rank || x->dtype != x0->dtype)
			return qp_node_err(err, n, "input %d has rank %d and dtype %s; input 0 has rank %d and dtype %s",
					   i, x->rank, qp_dtype_name(x->dtype), x0->rank,
					   qp_dtype_name(x0->dtype));
		for (int k = 0; k < x->rank; k++)
			if (k != axis && x->dims[k] != x0->dims[k])
				return qp_node_err(err, n, "input %d differs from input 0 in dim %d (%lld vs %lld)",
						   i, k, (long long)x->dims[k], (long long)x0->dims[k]);
		out[axis] += x->dims[axis];
	}
	qp_set_out(g, n, 0, x0->dtype, x0->rank, out);
	return 0;
}

/* Concat and Split move the same blocks: along axis, the whole tensor
 * (dims) is the pieces side by side.  join 1 copies pieces -> whole,
 * 0 whole -> pieces. */
static void move_pieces(const qp_node *n, char *whole, int rank, const int64_t *dims,
			const qp_value *const *pv, int count, size_t esz, int join)
{
	int axis = (int)qp_node_attr_int(n, "axis", 0);
	int64_t outer, inner, off = 0;

	if (axis < 0)
		axis += rank;
	outer = qp_prod(0, axis, dims);
	inner = qp_prod(axis + 1, rank, dims);
	for (int i = 0; i < count; i++) {
		int64_t block = pv[i]->dims[axis] * inner;

		for (int64_t o = 0; o < outer; o++) {
			char *w = whole + (size_t)(o * dims[axis] * inner + off) * esz;
			char *p = (char *)pv[i]->data + (size_t)(o * block) * esz;

			memcpy(join ? w : p, join ? p : w, (size_t)block * esz);
		}
		off += block;
	}
}

static int run_concat(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)err;
	move_pieces(n, out[0]->data, out[0]->rank, out[0]->dims, in, n->n_inputs,
		    qp_dtype_size(out[0]->dtype), 1);
	return 0;
}

/* ---- Split ------------------------------------------------------------- */

static int infer_split(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	const int64_t *split;
	int64_t out[QP_MAX_RANK], total = 0;
	int axis, count;

	if (qp_check_io_n(g, n, 1, 1, 1, QP_MAX_RANK * 64, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", 0), x->rank, "axis", &axis, err))
		return -1;
	if (!(split = need_ints(n, "split", n->n_outputs, n->n_outputs, &count, err)))
		return -1;
	for (int i = 0; i < count; i++) {
		if (split[i] < 0)
			return qp_node_err(err, n, "split size %lld is negative", (long long)split[i]);
		total += split[i];
	}
	if (total != x->dims[axis])
		return qp_node_err(err, n, "split sizes add up to %lld, the axis has %lld",
				   (long long)total, (long long)x->dims[axis]);
	memcpy(out, x->dims, sizeof out);
	for (int i = 0; i < count; i++) {
		out[axis] = split[i];
		qp_set_out(g, n, i, x->dtype, x->rank, out);
	}
	return 0;
}

static int run_split(const qp_graph *g, const qp_node *n,
		     const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g, (void)err;
	move_pieces(n, in[0]->data, in[0]->rank, in[0]->dims, (const qp_value *const *)out,
		    n->n_outputs, qp_dtype_size(in[0]->dtype), 0);
	return 0;
}

/* ---- Squeeze, Unsqueeze -------------------------------------------------- */

static int infer_squeeze(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	const int64_t *axes;
	unsigned char drop[QP_MAX_RANK] = {0};
	int64_t out[QP_MAX_RANK];
	int count, r = 0;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(axes = need_ints(n, "axes", 0, QP_MAX_RANK, &count, err)) && count)
		return -1;
	for (int i = 0; i < count; i++) {
		int a;

		if (qp_norm_axis(n, axes[i], x->rank, "axes", &a, err))
			return -1;
		if (x->dims[a] != 1)
			return qp_node_err(err, n, "cannot squeeze axis %d of size %lld", a,
					   (long long)x->dims[a]);
		drop[a] = 1;
	}
	for (int i = 0; i < x->rank; i++)
		if (!drop[i] && !(count == 0 && x->dims[i] == 1))
			out[r++] = x->dims[i];
	qp_set_out(g, n, 0, x->dtype, r, out);
	return 0;
}

static int infer_unsqueeze(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	const int64_t *axes;
	unsigned char add[QP_MAX_RANK] = {0};
	int64_t out[QP_MAX_RANK];
	int count, r, j = 0;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(axes = need_ints(n, "axes", 1, QP_MAX_RANK, &count, err)))
		return -1;
	r = x->rank + count;
	if (r > QP_MAX_RANK)
		return qp_node_err(err, n, "result would have rank %d (at most %d)", r, QP_MAX_RANK);
	for (int i = 0; i < count; i++) {
		int a;

		if (qp_norm_axis(n, axes[i], r, "axes", &a, err))
			return -1;
		if (add[a])
			return qp_node_err(err, n, "axis %d is given twice", a);
		add[a] = 1;
	}
	for (int i = 0; i < r; i++)
		out[i] = add[i] ? 1 : x->dims[j++];
	qp_set_out(g, n, 0, x->dtype, r, out);
	return 0;
}

/* ---- Slice ------------------------------------------------------------- */

/* Per-axis start and step of a Slice, and the output dims (ONNX clamping:
 * starts/ends clamped to [0, dim] for positive steps; for negative ones
 * starts to [0, dim-1] and ends to [-1, dim-1], after adding dim to
 * negative values).  numpy differs here: x[-dim-1::-1] is empty in numpy
 * but holds x[0] under the ONNX spec (and onnxruntime). */
static int slice_plan(const qp_node *n, int rank, const int64_t *dims,
		      int64_t *start, int64_t *step, int64_t *out, qp_err *err)
{
	const int64_t *starts, *ends, *axes, *steps;
	unsigned char seen[QP_MAX_RANK] = {0};
	int cs, ce, ca, cp;

	if (!(starts = need_ints(n, "starts", 1, QP_MAX_RANK, &cs, err)) ||
	    !(ends = need_ints(n, "ends", cs, cs, &ce, err)) ||
	    !(axes = need_ints(n, "axes", cs, cs, &ca, err)) ||
	    !(steps = need_ints(n, "steps", cs, cs, &cp, err)))
		return -1;
	for (int i = 0; i < rank; i++) {
		start[i] = 0;
		step[i] = 1;
		out[i] = dims[i];
	}
	for (int i = 0; i < cs; i++) {
		int a;
		int64_t d, s, e, st = steps[i];

		if (qp_norm_axis(n, axes[i], rank, "axes", &a, err))
			return -1;
		if (seen[a]++)
			return qp_node_err(err, n, "axis %d is given twice", a);
		d = dims[a];
		if (st == 0)
			return qp_node_err(err, n, "step 0 on axis %d", a);
		s = starts[i] < 0 ? starts[i] + d : starts[i];
		e = ends[i] < 0 ? ends[i] + d : ends[i];
		if (st > 0) {
			s = s < 0 ? 0 : s > d ? d : s;
			e = e < 0 ? 0 : e > d ? d : e;
			out[a] = e > s ? (e - s - 1) / st + 1 : 0;
		} else {
			s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
			e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
			/* -INT64_MIN overflows; any step longer than the
			 * axis takes one element. */
			int64_t mag = st == INT64_MIN ? INT64_MAX : -st;

			out[a] = d > 0 && s > e ? (s - e - 1) / mag + 1 : 0;
		}
		start[a] = s;
		step[a] = st;
	}
	return 0;
}

int qp_slice_plan(const qp_node *n, int rank, const int64_t *dims,
		  int64_t *start, int64_t *step, int64_t *out, qp_err *err)
{
	return slice_plan(n, rank, dims, start, step, out, err);
}

static int infer_slice(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t start[QP_MAX_RANK], step[QP_MAX_RANK], out[QP_MAX_RANK];

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (slice_plan(n, x->rank, x->dims, start, step, out, err))
		return -1;
	qp_set_out(g, n, 0, x->dtype, x->rank, out);
	return 0;
}

static int run_slice(const qp_graph *g, const qp_node *n,
		     const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *y = out[0];
	int64_t start[QP_MAX_RANK], step[QP_MAX_RANK], dims[QP_MAX_RANK];
	int64_t st[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, o = 0;
	size_t esz = qp_dtype_size(x->dtype);

	(void)g;
	if (slice_plan(n, x->rank, x->dims, start, step, dims, err))
		return -1;
	if (y->numel == 0)
		return 0;
	strides_of(x->rank, x->dims, st);
	do {
		int64_t si = 0;

		for (int k = 0; k < x->rank; k++)
			si += (start[k] + idx[k] * step[k]) * st[k];
		copy_elem(y->data, o++, x->data, si, esz);
	} while (next_index(y->rank, y->dims, idx));
	return 0;
}

/* ---- Gather ------------------------------------------------------------ */

static int infer_gather(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x, *ind;
	int64_t out[QP_MAX_RANK];
	int axis, r = 0;

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	ind = qp_in_tensor(g, n, 1);
	if (ind->dtype != QP_DT_INT64 && ind->dtype != QP_DT_INT32)
		return qp_node_err(err, n, "indices must be int32 or int64, not %s",
				   qp_dtype_name(ind->dtype));
	if (x->rank < 1)
		return qp_node_err(err, n, "data must have rank >= 1");
	if (qp_norm_axis(n, qp_node_attr_int(n, "axis", 0), x->rank, "axis", &axis, err))
		return -1;
	if (x->rank - 1 + ind->rank > QP_MAX_RANK)
		return qp_node_err(err, n, "result rank exceeds %d", QP_MAX_RANK);
	for (int i = 0; i < axis; i++)
		out[r++] = x->dims[i];
	for (int i = 0; i < ind->rank; i++)
		out[r++] = ind->dims[i];
	for (int i = axis + 1; i < x->rank; i++)
		out[r++] = x->dims[i];
	qp_set_out(g, n, 0, x->dtype, r, out);
	return 0;
}

static int run_gather(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *ind = in[1];
	size_t esz = qp_dtype_size(x->dtype);
	int axis = (int)qp_node_attr_int(n, "axis", 0);
	int64_t outer, inner, d, o = 0;

	(void)g;
	if (axis < 0)
		axis += x->rank;
	outer = qp_prod(0, axis, x->dims);
	inner = qp_prod(axis + 1, x->rank, x->dims);
	d = x->dims[axis];
	for (int64_t a = 0; a < outer; a++)
		for (int64_t j = 0; j < ind->numel; j++) {
			int64_t k = qp_elem_get_i64(ind->data, ind->dtype, j);

			if (k < -d || k >= d)
				return qp_node_err(err, n, "index %lld is out of range for an axis of %lld",
						   (long long)k, (long long)d);
			if (k < 0)
				k += d;
			memcpy((char *)out[0]->data + (size_t)(o * inner) * esz,
			       (const char *)x->data + (size_t)((a * d + k) * inner) * esz,
			       (size_t)inner * esz);
			o++;
		}
	return 0;
}

/* ---- Expand, Tile -------------------------------------------------------- */

static int infer_expand(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t *shape, count, out[QP_MAX_RANK];
	int r;

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	shape = qp_const_ints(n, qp_in_tensor(g, n, 1), "shape", &count, err);
	if (!shape)
		return -1;
	if (count > QP_MAX_RANK ||
	    qp_broadcast_dims(x->rank, x->dims, (int)count, shape, &r, out)) {
		free(shape);
		return qp_node_err(err, n, "shape does not broadcast with the input");
	}
	free(shape);
	qp_set_out(g, n, 0, x->dtype, r, out);
	return 0;
}

static int run_broadcast_copy(const qp_graph *g, const qp_node *n,
			      const qp_value *const *in, qp_value *const *out,
			      qp_err *err)
{
	const qp_value *x = in[0], *y = out[0];
	int64_t st[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, o = 0;
	size_t esz = qp_dtype_size(x->dtype);

	(void)g, (void)n, (void)err;
	if (y->numel == 0)
		return 0;
	qp_broadcast_strides(y->rank, y->dims, x->rank, x->dims, st);
	do {
		int64_t si = 0;

		for (int k = 0; k < y->rank; k++)
			si += idx[k] * st[k];
		copy_elem(y->data, o++, x->data, si, esz);
	} while (next_index(y->rank, y->dims, idx));
	return 0;
}

static int infer_tile(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t *rep, count, out[QP_MAX_RANK];

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	rep = qp_const_ints(n, qp_in_tensor(g, n, 1), "repeats", &count, err);
	if (!rep)
		return -1;
	if (count != x->rank) {
		free(rep);
		return qp_node_err(err, n, "repeats has %lld values, the input rank is %d",
				   (long long)count, x->rank);
	}
	for (int i = 0; i < x->rank; i++) {
		if (rep[i] < 0) {
			free(rep);
			return qp_node_err(err, n, "negative repeat");
		}
		out[i] = x->dims[i] * rep[i];
	}
	free(rep);
	qp_set_out(g, n, 0, x->dtype, x->rank, out);
	return 0;
}

static int run_tile(const qp_graph *g, const qp_node *n,
		    const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *y = out[0];
	int64_t st[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, o = 0;
	size_t esz = qp_dtype_size(x->dtype);

	(void)g, (void)n, (void)err;
	if (y->numel == 0)
		return 0;
	strides_of(x->rank, x->dims, st);
	do {
		int64_t si = 0;

		for (int k = 0; k < y->rank; k++)
			si += (idx[k] % x->dims[k]) * st[k];
		copy_elem(y->data, o++, x->data, si, esz);
	} while (next_index(y->rank, y->dims, idx));
	return 0;
}

/* ---- Pad --------------------------------------------------------------- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static int pad_mode(const qp_node *n, int *mode, qp_err *err)
{
	const char *m = qp_node_attr_string(n, "mode", "constant");

	if (!strcmp(m, "constant"))
		*mode = PAD_CONSTANT;
	else if (!strcmp(m, "reflect"))
		*mode = PAD_REFLECT;
	else if (!strcmp(m, "edge"))
		*mode = PAD_EDGE;
	else
		return qp_node_err(err, n, "pad mode '%s' is not supported (constant, reflect, edge)", m);
	return 0;
}

static int infer_pad(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	const int64_t *pads;
	int64_t out[QP_MAX_RANK];
	int count, mode;

	if (qp_check_io(g, n, 1, 1, err) || pad_mode(n, &mode, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(pads = need_ints(n, "pads", 2 * x->rank, 2 * x->rank, &count, err)))
		return -1;
	for (int i = 0; i < x->rank; i++) {
		if (__builtin_add_overflow(x->dims[i], pads[i], &out[i]) ||
		    __builtin_add_overflow(out[i], pads[x->rank + i], &out[i]))
			return qp_node_err(err, n, "pads of axis %d overflow its length", i);
		if (out[i] < 0)
			return qp_node_err(err, n, "pads make axis %d negative", i);
		if (mode == PAD_REFLECT && (pads[i] > x->dims[i] - 1 || pads[x->rank + i] > x->dims[i] - 1) &&
		    (pads[i] > 0 || pads[x->rank + i] > 0))
			return qp_node_err(err, n, "reflect padding of %lld/%lld needs an axis longer than that (axis %d has %lld)",
					   (long long)pads[i], (long long)pads[x->rank + i], i,
					   (long long)x->dims[i]);
		if (mode == PAD_EDGE && x->dims[i] == 0 && out[i] > 0)
			return qp_node_err(err, n, "edge padding of an empty axis");
	}
	qp_set_out(g, n, 0, x->dtype, x->rank, out);
	return 0;
}

static int run_pad(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *y = out[0];
	int count, mode;
	const int64_t *pads = qp_node_attr_ints(n, "pads", &count);
	double value = qp_node_attr_float(n, "value", 0.0f);
	int64_t st[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, o = 0;
	size_t esz = qp_dtype_size(x->dtype);

	(void)g;
	if (pad_mode(n, &mode, err))
		return -1;
	if (y->numel == 0)
		return 0;
	strides_of(x->rank, x->dims, st);
	do {
		int64_t si = 0;
		int inside = 1;

		for (int k = 0; k < x->rank; k++) {
			int64_t i = idx[k] - pads[k], d = x->dims[k];

			if (i < 0 || i >= d) {
				if (mode == PAD_CONSTANT)
					inside = 0;
				else if (mode == PAD_EDGE)
					i = i < 0 ? 0 : d - 1;
				else
					i = i < 0 ? -i : 2 * (d - 1) - i;
			}
			si += i * st[k];
		}
		if (inside)
			copy_elem(y->data, o, x->data, si, esz);
		else
			qp_elem_set_f64(y->data, y->dtype, o, value);
		o++;
	} while (next_index(y->rank, y->dims, idx));
	return 0;
}

/* ---- Resize ------------------------------------------------------------ */

enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC,
       CT_TF_HALF_PIXEL_NEAREST, CT_TF_CROP_AND_RESIZE };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };

enum { RM_NEAREST, RM_LINEAR, RM_CUBIC };

typedef struct resize_cfg {
	int mode, ct, nearest;
	int taps;              /* neighbours per axis: 1, 2 or 4 */
	double cubic_a;        /* cubic_coeff_a */
	int exclude_outside;
	const float *scales;   /* NULL: out/in */
	const float *roi;      /* tf_crop_and_resize: starts then ends */
	int rank;
	float extrapolation;   /* tf_crop_and_resize: value outside the input */
} resize_cfg;

static int lookup(const char *s, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int resize_config(const qp_node *n, int rank, resize_cfg *c, qp_err *err)
{
	static const char *const ct_names[] = {"half_pixel", "pytorch_half_pixel",
		"align_corners", "asymmetric", "tf_half_pixel_for_nearest", "tf_crop_and_resize"};
	static const char *const nm_names[] = {"round_prefer_floor", "round_prefer_ceil",
		"floor", "ceil"};
	const char *mode = qp_node_attr_string(n, "mode", "nearest");
	const char *ct = qp_node_attr_string(n, "coordinate_transformation_mode", "half_pixel");
	const char *nm = qp_node_attr_string(n, "nearest_mode", "round_prefer_floor");
	int count;

	if (!strcmp(mode, "nearest"))
		c->mode = RM_NEAREST, c->taps = 1;
	else if (!strcmp(mode, "linear"))
		c->mode = RM_LINEAR, c->taps = 2;
	else if (!strcmp(mode, "cubic"))
		c->mode = RM_CUBIC, c->taps = 4;
	else
		return qp_node_err(err, n, "resize mode '%s' is not supported (nearest, linear, cubic)", mode);
	c->cubic_a = qp_node_attr_float(n, "cubic_coeff_a", -0.75f);
	c->exclude_outside = qp_node_attr_int(n, "exclude_outside", 0) != 0;
	if ((c->ct = lookup(ct, ct_names, 6)) < 0)
		return qp_node_err(err, n, "coordinate_transformation_mode '%s' is not supported", ct);
	c->rank = rank;
	c->extrapolation = qp_node_attr_float(n, "extrapolation_value", 0.0f);
	c->roi = qp_node_attr_floats(n, "roi", &count);
	if (c->ct == CT_TF_CROP_AND_RESIZE && (!c->roi || count != 2 * rank))
		return qp_node_err(err, n, "tf_crop_and_resize needs attribute 'roi' with %d values", 2 * rank);
	if ((c->nearest = lookup(nm, nm_names, 4)) < 0)
		return qp_node_err(err, n, "nearest_mode '%s' is not supported", nm);
	c->scales = qp_node_attr_floats(n, "scales", &count);
	if (c->scales && count != rank)
		return qp_node_err(err, n, "scales has %d values, the input rank is %d", count, rank);
	for (int i = 0; c->scales && i < count; i++)
		if (!(c->scales[i] > 0))
			return qp_node_err(err, n, "scale %g is not positive", c->scales[i]);
	return 0;
}

static int infer_resize(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	const int64_t *sizes;
	resize_cfg c;
	int count, moving = 0;

	if (qp_check_io(g, n, 1, 1, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (!(sizes = need_ints(n, "sizes", x->rank, x->rank, &count, err)) ||
	    resize_config(n, x->rank, &c, err))
		return -1;
	if ((c.mode != RM_NEAREST || c.ct == CT_TF_CROP_AND_RESIZE) && x->dtype != QP_DT_FLOAT32)
		return qp_node_err(err, n, "%s resize needs float32, not %s",
				   c.ct == CT_TF_CROP_AND_RESIZE ? "tf_crop_and_resize"
				   : qp_node_attr_string(n, "mode", "nearest"), qp_dtype_name(x->dtype));
	for (int i = 0; i < x->rank; i++) {
		if (sizes[i] < 1 || (x->dims[i] == 0 && sizes[i] > 0))
			return qp_node_err(err, n, "output size %lld on axis %d is not possible",
					   (long long)sizes[i], i);
		moving += sizes[i] != x->dims[i] || (c.scales && c.scales[i] != 1.0f);
	}
	/* The kernel visits taps^moving input points per output element. */
	if (c.mode != RM_NEAREST && moving > (c.mode == RM_LINEAR ? 3 : 2))
		return qp_node_err(err, n, "%s resize over %d axes (at most %d)",
				   qp_node_attr_string(n, "mode", "nearest"), moving,
				   c.mode == RM_LINEAR ? 3 : 2);
	qp_set_out(g, n, 0, x->dtype, x->rank, sizes);
	return 0;
}

/* The input coordinate of output coordinate o along one axis (ONNX
 * coordinate_transformation_mode). */
static double resize_coord(const resize_cfg *c, int axis, int64_t o, int64_t in, int64_t out)
{
	double scale = c->scales ? c->scales[axis] : (double)out / (double)in;
	/* With explicit scales ONNX measures the resized length unrounded,
	 * in * scale, not the integer output size. */
	double len = c->scales ? (double)in * scale : (double)out;

	switch (c->ct) {
	case CT_PYTORCH_HALF_PIXEL:
		return len > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
	case CT_ALIGN_CORNERS:
		return len == 1 ? 0.0 : (double)o * (double)(in - 1) / (len - 1);
	case CT_ASYMMETRIC:
		return o / scale;
	case CT_TF_HALF_PIXEL_NEAREST:
		return (o + 0.5) / scale;
	case CT_TF_CROP_AND_RESIZE: {
		double start = c->roi[axis], end = c->roi[c->rank + axis];

		return len > 1 ? start * (double)(in - 1) + o * (end - start) * (double)(in - 1) / (len - 1)
			       : 0.5 * (start + end) * (double)(in - 1);
	}
	default:
		return (o + 0.5) / scale - 0.5;
	}
}

static int64_t nearest_index(int mode, double x, int64_t in)
{
	double f = floor(x);
	int64_t i;

	switch (mode) {
	case NM_FLOOR: i = (int64_t)f; break;
	case NM_CEIL: i = (int64_t)ceil(x); break;
	case NM_ROUND_PREFER_CEIL: i = x - f == 0.5 ? (int64_t)f + 1 : (int64_t)floor(x + 0.5); break;
	default: i = x - f == 0.5 ? (int64_t)f : (int64_t)floor(x + 0.5); break;
	}
	return i < 0 ? 0 : i >= in ? in - 1 : i;
}

/* ONNX's cubic weights of the four neighbours floor(x)-1 .. floor(x)+2 at
 * distance ratio = x - floor(x) from the second (onnx/reference
 * op_resize.py, _cubic_coeffs: Keys' kernel with coefficient a). */
static void cubic_weights(double r, double a, double *w)
{
	double s = 1 + r, t = 1 - r, u = 2 - r;

	w[0] = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
	w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
	w[2] = ((a + 2) * t - (a + 3)) * t * t + 1;
	w[3] = ((a * u - 5 * a) * u + 8 * a) * u - 4 * a;
}

/* Taps of output coordinate o along one axis: c->taps input indices
 * (clamped to the axis: ONNX's reference pads with edge values) and their
 * weights. */
static int resize_taps(const resize_cfg *c, int axis, int64_t o, int64_t din,
		       int64_t dout, int64_t *idx, double *w)
{
	double xo = resize_coord(c, axis, o, din, dout), f = floor(xo), sum = 0;
	int64_t base = (int64_t)f;
	/* tf_crop_and_resize: a coordinate outside the input takes the
	 * extrapolation value */
	int outside = c->ct == CT_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(din - 1));

	if (c->mode == RM_NEAREST) {
		idx[0] = nearest_index(c->nearest, xo, din);
		w[0] = 1;
		return outside;
	}
	if (c->mode == RM_LINEAR) {
		w[0] = 1 - (xo - f);
		w[1] = xo - f;
	} else {
		cubic_weights(xo - f, c->cubic_a, w);
	}
	for (int k = 0; k < c->taps; k++) {
		int64_t i = base + k - (c->taps == 4);

		if (c->exclude_outside && (i < 0 || i >= din))
			w[k] = 0;
		sum += w[k];
		idx[k] = i < 0 ? 0 : i >= din ? din - 1 : i;
	}
	if (c->exclude_outside && sum != 0)
		for (int k = 0; k < c->taps; k++)
			w[k] /= sum;
	return outside;
}

static int run_resize(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *y = out[0];
	int rank = x->rank, moving[QP_MAX_RANK], n_moving = 0, points = 1;
	int64_t st[QP_MAX_RANK], pos[QP_MAX_RANK] = {0}, o = 0;
	/* Per axis: taps input indices and weights per output coordinate
	 * (taps 1 on an axis where every output copies one input). */
	int64_t *idx[QP_MAX_RANK] = {0};
	double *w[QP_MAX_RANK] = {0};
	unsigned char *outside[QP_MAX_RANK] = {0};   /* per axis and output coordinate */
	int taps[QP_MAX_RANK];
	size_t esz = qp_dtype_size(x->dtype);
	resize_cfg c;
	int rc = -1;

	(void)g;
	if (resize_config(n, rank, &c, err))
		return -1;
	if (y->numel == 0)
		return 0;
	for (int a = 0; a < rank; a++) {
		int64_t din = x->dims[a], dout = y->dims[a];
		int single = 1;

		idx[a] = malloc(sizeof(int64_t) * (size_t)(dout * c.taps));
		w[a] = malloc(sizeof(double) * (size_t)(dout * c.taps));
		outside[a] = malloc((size_t)dout);
		if (!idx[a] || !w[a] || !outside[a]) {
			qp_err_set(err, "out of memory");
			goto done;
		}
		for (int64_t i = 0; i < dout; i++) {
			outside[a][i] = (unsigned char)resize_taps(&c, a, i, din, dout,
								   idx[a] + i * c.taps, w[a] + i * c.taps);
			for (int k = 0; k < c.taps; k++)
				if (w[a][i * c.taps + k] != 0 && w[a][i * c.taps + k] != 1)
					single = 0;
		}
		taps[a] = c.taps;
		if (single && c.taps > 1) {
			/* Every output takes one input whole (an axis the op does
			 * not resize, or integer coordinates): keep that tap. */
			for (int64_t i = 0; i < dout; i++)
				for (int k = 0; k < c.taps; k++)
					if (w[a][i * c.taps + k] == 1)
						idx[a][i] = idx[a][i * c.taps + k];
			taps[a] = 1;
		}
		if (taps[a] > 1) {
			moving[n_moving++] = a;
			points *= taps[a];
		}
	}
	strides_of(rank, x->dims, st);
	do {
		int64_t base = 0;
		int out_of_input = 0;

		for (int k = 0; k < rank; k++) {
			if (taps[k] == 1)
				base += idx[k][pos[k]] * st[k];
			out_of_input |= outside[k][pos[k]];
		}
		if (out_of_input) {
			((float *)y->data)[o] = c.extrapolation;   /* float32 only (infer) */
		} else if (n_moving == 0) {
			copy_elem(y->data, o, x->data, base, esz);
		} else {
			double acc = 0;

			/* Sum over every combination of the moving axes' taps. */
			for (int p = 0; p < points; p++) {
				double wt = 1;
				int64_t si = base;
				int rest = p;

				for (int m = 0; m < n_moving; m++) {
					int a = moving[m];
					int k = rest % taps[a];
					int64_t at = pos[a] * taps[a] + k;

					rest /= taps[a];
					wt *= w[a][at];
					si += idx[a][at] * st[a];
				}
				acc += wt * ((const float *)x->data)[si];
			}
			((float *)y->data)[o] = (float)acc;
		}
		o++;
	} while (next_index(rank, y->dims, pos));
	rc = 0;
done:
	for (int a = 0; a < rank; a++) {
		free(idx[a]);
		free(w[a]);
		free(outside[a]);
	}
	return rc;
}

/* ---- DepthToSpace, SpaceToDepth ------------------------------------------- */

/* Blocksize (>= 1) and, for DepthToSpace, whether the mode is CRD (1) or
 * DCR (0, ONNX's default). */
static int block_config(const qp_node *n, int64_t *b, int *crd, qp_err *err)
{
	const char *mode = qp_node_attr_string(n, "mode", "DCR");

	*b = qp_node_attr_int(n, "blocksize", 0);
	if (*b < 1 || *b > 65536)
		return qp_node_err(err, n, "blocksize %lld is not in [1, 65536]", (long long)*b);
	if (!strcmp(mode, "DCR"))
		*crd = 0;
	else if (!strcmp(mode, "CRD"))
		*crd = 1;
	else
		return qp_node_err(err, n, "mode '%s' is not supported (DCR, CRD)", mode);
	return 0;
}

static int infer_depth_space(qp_graph *g, int node, int to_space, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;
	int64_t b, out[4];
	int crd;

	if (qp_check_io(g, n, 1, 1, err) || block_config(n, &b, &crd, err))
		return -1;
	x = qp_in_tensor(g, n, 0);
	if (qp_want_rank(n, x, "input", 4, 4, err))
		return -1;
	out[0] = x->dims[0];
	if (to_space) {
		if (x->dims[1] % (b * b))
			return qp_node_err(err, n, "%lld channels are not a multiple of blocksize^2 = %lld",
					   (long long)x->dims[1], (long long)(b * b));
		out[1] = x->dims[1] / (b * b);
		out[2] = x->dims[2] * b;
		out[3] = x->dims[3] * b;
	} else {
		if (x->dims[2] % b || x->dims[3] % b)
			return qp_node_err(err, n, "height %lld and width %lld must be multiples of blocksize %lld",
					   (long long)x->dims[2], (long long)x->dims[3], (long long)b);
		out[1] = x->dims[1] * b * b;
		out[2] = x->dims[2] / b;
		out[3] = x->dims[3] / b;
	}
	qp_set_out(g, n, 0, x->dtype, 4, out);
	return 0;
}

static int infer_depth_to_space(qp_graph *g, int node, qp_err *err)
{
	return infer_depth_space(g, node, 1, err);
}

static int infer_space_to_depth(qp_graph *g, int node, qp_err *err)
{
	return infer_depth_space(g, node, 0, err);
}

/* Walks the space-side tensor [N, C, H*b, W*b] and pairs each element with
 * its depth-side position [N, C*b*b, H, W] (the ONNX spec's reshape /
 * transpose formulas written out as index arithmetic). */
static int run_depth_space(const qp_node *n, const qp_value *depth, const qp_value *space,
			   int to_space, qp_err *err)
{
	size_t esz = qp_dtype_size(depth->dtype);
	int64_t b, c = space->dims[1], h = depth->dims[2], w = depth->dims[3];
	int64_t cd = depth->dims[1], o = 0;
	int crd;

	if (block_config(n, &b, &crd, err))
		return -1;
	for (int64_t ni = 0; ni < space->dims[0]; ni++)
		for (int64_t ci = 0; ci < c; ci++)
			for (int64_t y = 0; y < h * b; y++)
				for (int64_t x = 0; x < w * b; x++, o++) {
					int64_t i = y % b, j = x % b;
					int64_t dc = crd ? ci * b * b + i * b + j : (i * b + j) * c + ci;
					int64_t di = ((ni * cd + dc) * h + y / b) * w + x / b;

					if (to_space)
						copy_elem(space->data, o, depth->data, di, esz);
					else
						copy_elem(depth->data, di, space->data, o, esz);
				}
	return 0;
}

static int run_depth_to_space(const qp_graph *g, const qp_node *n,
			      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g;
	return run_depth_space(n, in[0], out[0], 1, err);
}

static int run_space_to_depth(const qp_graph *g, const qp_node *n,
			      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	(void)g;
	/* SpaceToDepth has no mode: its order is DepthToSpace's DCR. */
	return run_depth_space(n, out[0], in[0], 0, err);
}

/* ---- Range ---------------------------------------------------------------- */

/* Range(start, limit, delta): scalars of one dtype (float32, int16, int32,
 * int64).  The output length max(ceil((limit - start) / delta), 0) is its
 * shape, and shapes are static: the three must be constants (onnx2ir then
 * folds the node).  Float lengths are computed in float32, as ONNX's
 * function body does; integer ones exactly. */
static int range_scalar(const qp_node *n, const qp_tensor *t, const char *what,
			qp_err *err)
{
	if (t->dtype != QP_DT_FLOAT32 && t->dtype != QP_DT_INT16 &&
	    t->dtype != QP_DT_INT32 && t->dtype != QP_DT_INT64)
		return qp_node_err(err, n, "%s '%s' has dtype %s, expected float32, int16, int32 or int64",
				   what, t->name, qp_dtype_name(t->dtype));
	if (qp_tensor_numel(t) != 1)
		return qp_node_err(err, n, "%s '%s' has %lld elements, expected a scalar",
				   what, t->name, (long long)qp_tensor_numel(t));
	if (!t->data || t->quant)
		return qp_node_err(err, n, "%s '%s' must be a constant: the output length is its shape, and shapes are static",
				   what, t->name);
	return 0;
}

static int infer_range(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	static const char *const what[3] = {"start", "limit", "delta"};
	const qp_tensor *t[3];
	int64_t len;

	if (qp_check_io(g, n, 3, 3, err))
		return -1;
	for (int i = 0; i < 3; i++) {
		t[i] = qp_in_tensor(g, n, i);
		if (range_scalar(n, t[i], what[i], err))
			return -1;
		if (t[i]->dtype != t[0]->dtype)
			return qp_node_err(err, n, "%s '%s' has dtype %s but start '%s' %s", what[i],
					   t[i]->name, qp_dtype_name(t[i]->dtype), t[0]->name,
					   qp_dtype_name(t[0]->dtype));
	}
	if (t[0]->dtype == QP_DT_FLOAT32) {
		float s = ((const float *)t[0]->data)[0], l = ((const float *)t[1]->data)[0];
		float d = ((const float *)t[2]->data)[0], q;

		if (d == 0.0f || !isfinite(s) || !isfinite(l) || !isfinite(d))
			return qp_node_err(err, n, "start %g, limit %g, delta %g give no finite range",
					   s, l, d);
		q = ceilf((l - s) / d);
		if (q > (float)(1 << 30))
			return qp_node_err(err, n, "range of %.9g elements is too large", q);
		len = q > 0.0f ? (int64_t)q : 0;
	} else {
		int64_t s = qp_elem_get_i64(t[0]->data, t[0]->dtype, 0);
		int64_t l = qp_elem_get_i64(t[1]->data, t[1]->dtype, 0);
		int64_t d = qp_elem_get_i64(t[2]->data, t[2]->dtype, 0), span;

		if (d == 0)
			return qp_node_err(err, n, "delta is 0");
		/* l - s may overflow int64: check the size in double first. */
		if (fabs((double)l - (double)s) > 4e18 ||
		    fabs(((double)l - (double)s) / (double)d) > (double)(1 << 30))
			return qp_node_err(err, n, "range from %lld to %lld by %lld is too large",
					   (long long)s, (long long)l, (long long)d);
		span = l - s;
		len = span / d + (span % d != 0 && (span < 0) == (d < 0));
		len = len > 0 ? len : 0;
	}
	qp_set_out(g, n, 0, t[0]->dtype, 1, &len);
	return 0;
}

static int run_range(const qp_graph *g, const qp_node *n,
		     const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	qp_value *y = out[0];

	(void)g, (void)n, (void)err;
	if (y->dtype == QP_DT_FLOAT32) {
		float s = ((const float *)in[0]->data)[0], d = ((const float *)in[2]->data)[0];

		for (int64_t i = 0; i < y->numel; i++)
			((float *)y->data)[i] = s + (float)i * d;
		return 0;
	}
	int64_t s = qp_elem_get_i64(in[0]->data, in[0]->dtype, 0);
	int64_t d = qp_elem_get_i64(in[2]->data, in[2]->dtype, 0);

	for (int64_t i = 0; i < y->numel; i++)
		qp_elem_set_i64(y->data, y->dtype, i, (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d));
	return 0;
}

/* One row per op: name, shape rule, kernel, and the attributes it defines
 * (ops.h).  Opset-dependent inputs are attributes here (docs/ir.md
 * section 3), so most of these are required. */
const qp_op_row qp_ops_tensor[] = {
	QP_ROW("Concat", infer_concat, run_concat, 0, 0,
	       QP_ATTRS(QP_OPT("axis", QP_AT_INT))),
	QP_ROW("Split", infer_split, run_split, 0, 0,
	       QP_ATTRS(QP_OPT("axis", QP_AT_INT), QP_REQ("split", QP_AT_INTS))),
	QP_ROW("Squeeze", infer_squeeze, qp_kernel_copy, 0, 0,
	       QP_ATTRS(QP_OPT("axes", QP_AT_INTS))),
	QP_ROW("Unsqueeze", infer_unsqueeze, qp_kernel_copy, 0, 0,
	       QP_ATTRS(QP_REQ("axes", QP_AT_INTS))),
	QP_ROW("Slice", infer_slice, run_slice, 0, 0,
	       QP_ATTRS(QP_REQ("starts", QP_AT_INTS), QP_REQ("ends", QP_AT_INTS),
			QP_REQ("axes", QP_AT_INTS), QP_REQ("steps", QP_AT_INTS))),
	QP_ROW("Gather", infer_gather, run_gather, 0, 0,
	       QP_ATTRS(QP_OPT("axis", QP_AT_INT))),
	QP_ROW("Expand", infer_expand, run_broadcast_copy, 0, 0, QP_NO_ATTRS),
	QP_ROW("Tile", infer_tile, run_tile, 0, 0, QP_NO_ATTRS),
	QP_ROW("Pad", infer_pad, run_pad, 0, 0,
	       QP_ATTRS(QP_REQ("pads", QP_AT_INTS), QP_OPT("value", QP_AT_FLOAT),
			QP_OPT("mode", QP_AT_STRING))),
	QP_ROW("Resize", infer_resize, run_resize, 0, 0,
	       QP_ATTRS(QP_REQ("sizes", QP_AT_INTS), QP_OPT("scales", QP_AT_FLOATS),
			QP_OPT("mode", QP_AT_STRING),
			QP_OPT("coordinate_transformation_mode", QP_AT_STRING),
			QP_OPT("nearest_mode", QP_AT_STRING),
			QP_OPT("cubic_coeff_a", QP_AT_FLOAT),
			QP_OPT("exclude_outside", QP_AT_INT),
			QP_OPT("extrapolation_value", QP_AT_FLOAT),
			QP_OPT("roi", QP_AT_FLOATS))),
	QP_ROW("DepthToSpace", infer_depth_to_space, run_depth_to_space, 0, 0,
	       QP_ATTRS(QP_REQ("blocksize", QP_AT_INT), QP_OPT("mode", QP_AT_STRING))),
	QP_ROW("SpaceToDepth", infer_space_to_depth, run_space_to_depth, 0, 0,
	       QP_ATTRS(QP_REQ("blocksize", QP_AT_INT))),
	QP_ROW("Range", infer_range, run_range, 0, 0, QP_NO_ATTRS),
	QP_ROW_END,
};
