/* ONNX data-movement ops: one row per op (shape inference + kernel).
 *
 * These move elements without arithmetic (Resize's linear mode aside), so
 * the kernels work on every IR dtype by element size.  The IR forms
 * (docs/ir.md section 3) hold every opset-dependent input as an attribute:
 * the importer resolved them, so shapes here never depend on data.
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

static int run_concat(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *y = out[0];
	size_t esz = qp_dtype_size(y->dtype);
	int axis = (int)qp_node_attr_int(n, "axis", 0);
	int64_t outer, inner, off = 0;

	(void)g, (void)err;
	if (axis < 0)
		axis += y->rank;
	outer = qp_prod(0, axis, y->dims);
	inner = qp_prod(axis + 1, y->rank, y->dims);
	for (int i = 0; i < n->n_inputs; i++) {
		int64_t block = in[i]->dims[axis] * inner;

		for (int64_t o = 0; o < outer; o++)
			memcpy((char *)y->data + (size_t)(o * y->dims[axis] * inner + off) * esz,
			       (const char *)in[i]->data + (size_t)(o * block) * esz,
			       (size_t)block * esz);
		off += block;
	}
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
	const qp_value *x = in[0];
	size_t esz = qp_dtype_size(x->dtype);
	int axis = (int)qp_node_attr_int(n, "axis", 0);
	int64_t outer, inner, off = 0;

	(void)g, (void)err;
	if (axis < 0)
		axis += x->rank;
	outer = qp_prod(0, axis, x->dims);
	inner = qp_prod(axis + 1, x->rank, x->dims);
	for (int i = 0; i < n->n_outputs; i++) {
		int64_t block = out[i]->dims[axis] * inner;

		for (int64_t o = 0; o < outer; o++)
			memcpy((char *)out[i]->data + (size_t)(o * block) * esz,
			       (const char *)x->data + (size_t)(o * x->dims[axis] * inner + off) * esz,
			       (size_t)block * esz);
		off += block;
	}
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
 * starts/ends clamped to [0, dim] for positive steps, [-1, dim-1] for
 * negative ones, after adding dim to negative values). */
static int slice_plan(const qp_node *n, int rank, const int64_t *dims,
		      int64_t *start, int64_t *step, int64_t *out, qp_err *err)
{
	const int64_t *starts, *ends, *axes, *steps;
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
		d = dims[a];
		if (st == 0)
			return qp_node_err(err, n, "step 0 on axis %d", a);
		s = starts[i] < 0 ? starts[i] + d : starts[i];
		e = ends[i] < 0 ? ends[i] + d : ends[i];
		if (st > 0) {
			s = s < 0 ? 0 : s > d ? d : s;
			e = e < 0 ? 0 : e > d ? d : e;
			out[a] = e > s ? (e - s + st - 1) / st : 0;
		} else {
			s = s < -1 ? -1 : s > d - 1 ? d - 1 : s;
			e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
			out[a] = s > e ? (s - e + (-st) - 1) / (-st) : 0;
		}
		start[a] = s;
		step[a] = st;
	}
	return 0;
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
		out[i] = x->dims[i] + pads[i] + pads[x->rank + i];
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
       CT_TF_HALF_PIXEL_NEAREST };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };

typedef struct resize_cfg {
	int linear, ct, nearest;
	const float *scales;   /* NULL: out/in */
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
		"align_corners", "asymmetric", "tf_half_pixel_for_nearest"};
	static const char *const nm_names[] = {"round_prefer_floor", "round_prefer_ceil",
		"floor", "ceil"};
	const char *mode = qp_node_attr_string(n, "mode", "nearest");
	const char *ct = qp_node_attr_string(n, "coordinate_transformation_mode", "half_pixel");
	const char *nm = qp_node_attr_string(n, "nearest_mode", "round_prefer_floor");
	int count;

	if (!strcmp(mode, "nearest"))
		c->linear = 0;
	else if (!strcmp(mode, "linear"))
		c->linear = 1;
	else
		return qp_node_err(err, n, "resize mode '%s' is not supported (nearest, linear)", mode);
	if ((c->ct = lookup(ct, ct_names, 5)) < 0)
		return qp_node_err(err, n, "coordinate_transformation_mode '%s' is not supported", ct);
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
	if (c.linear && x->dtype != QP_DT_FLOAT32)
		return qp_node_err(err, n, "linear resize needs float32, not %s", qp_dtype_name(x->dtype));
	for (int i = 0; i < x->rank; i++) {
		if (sizes[i] < 1 || (x->dims[i] == 0 && sizes[i] > 0))
			return qp_node_err(err, n, "output size %lld on axis %d is not possible",
					   (long long)sizes[i], i);
		moving += sizes[i] != x->dims[i];
	}
	if (c.linear && moving > 3)
		return qp_node_err(err, n, "linear resize over %d axes (at most 3)", moving);
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

static int run_resize(const qp_graph *g, const qp_node *n,
		      const qp_value *const *in, qp_value *const *out, qp_err *err)
{
	const qp_value *x = in[0], *y = out[0];
	int rank = x->rank, moving[QP_MAX_RANK], n_moving = 0;
	int64_t st[QP_MAX_RANK], idx[QP_MAX_RANK] = {0}, o = 0;
	/* Per axis and output coordinate: the two neighbours and the weight of
	 * the upper one (nearest: one neighbour, weight 0). */
	int64_t *lo[QP_MAX_RANK] = {0}, *hi[QP_MAX_RANK] = {0};
	double *w[QP_MAX_RANK] = {0};
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

		lo[a] = malloc(sizeof(int64_t) * (size_t)dout);
		hi[a] = malloc(sizeof(int64_t) * (size_t)dout);
		w[a] = malloc(sizeof(double) * (size_t)dout);
		if (!lo[a] || !hi[a] || !w[a]) {
			qp_err_set(err, "out of memory");
			goto done;
		}
		if (c.linear && din != dout)
			moving[n_moving++] = a;
		for (int64_t i = 0; i < dout; i++) {
			double xo = resize_coord(&c, a, i, din, dout);

			if (!c.linear) {
				lo[a][i] = hi[a][i] = nearest_index(c.nearest, xo, din);
				w[a][i] = 0;
			} else if (din == dout) {
				/* An axis linear mode does not resize is copied. */
				lo[a][i] = hi[a][i] = i;
				w[a][i] = 0;
			} else {
				/* Neighbours outside the input take the edge value, as
				 * ONNX's reference implementation pads with edge. */
				double f = floor(xo);
				int64_t i0 = (int64_t)f, i1 = i0 + 1;

				w[a][i] = xo - f;
				lo[a][i] = i0 < 0 ? 0 : i0 >= din ? din - 1 : i0;
				hi[a][i] = i1 < 0 ? 0 : i1 >= din ? din - 1 : i1;
			}
		}
	}
	strides_of(rank, x->dims, st);
	do {
		if (!c.linear) {
			int64_t si = 0;

			for (int k = 0; k < rank; k++)
				si += lo[k][idx[k]] * st[k];
			copy_elem(y->data, o, x->data, si, esz);
		} else {
			double acc = 0;
			int64_t base = 0;

			for (int k = 0; k < rank; k++)
				base += lo[k][idx[k]] * st[k];
			for (int corner = 0; corner < (1 << n_moving); corner++) {
				double wt = 1;
				int64_t si = base;

				for (int m = 0; m < n_moving; m++) {
					int a = moving[m];
					double wa = w[a][idx[a]];

					if (corner & (1 << m)) {
						wt *= wa;
						si += (hi[a][idx[a]] - lo[a][idx[a]]) * st[a];
					} else {
						wt *= 1 - wa;
					}
				}
				acc += wt * ((const float *)x->data)[si];
			}
			((float *)y->data)[o] = (float)acc;
		}
		o++;
	} while (next_index(rank, y->dims, idx));
	rc = 0;
done:
	for (int a = 0; a < rank; a++) {
		free(lo[a]);
		free(hi[a]);
		free(w[a]);
	}
	return rc;
}

const qp_op_def qp_ops_tensor[] = {
	{"Concat", infer_concat, run_concat},
	{"Split", infer_split, run_split},
	{"Squeeze", infer_squeeze, qp_kernel_copy},
	{"Unsqueeze", infer_unsqueeze, qp_kernel_copy},
	{"Slice", infer_slice, run_slice},
	{"Gather", infer_gather, run_gather},
	{"Expand", infer_expand, run_broadcast_copy},
	{"Tile", infer_tile, run_tile},
	{"Pad", infer_pad, run_pad},
	{"Resize", infer_resize, run_resize},
	{NULL, NULL, NULL},
};
