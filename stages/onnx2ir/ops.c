/* The ONNX -> IR op table: one row per supported ONNX op.
 *
 * A row names the ONNX op, its input/output counts, the attributes it may
 * carry (anything else is refused, so a semantic we do not model is never
 * silently dropped) and the function that adds the IR node.  The IR op set
 * is ONNX's with every opset-dependent form resolved (docs/ir.md section 3):
 * auto_pad becomes explicit pads, defaults that changed between opsets are
 * written out, pass-through ops (Identity, inference Dropout) disappear and
 * Constant nodes become constant tensors.  Attribute semantics follow the
 * ONNX operator specification, opsets 13 to 20; onnx_old_forms[] at the end
 * maps the forms of opsets 7 to 12 (and Reduce*'s up to 17) onto these rows.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

#define MAX_SPATIAL (QP_MAX_RANK - 2)

static qp_node *node_of(onnx_ctx *c)
{
	return &c->g->nodes[c->node];
}

static const qp_tensor *tensor_of(const onnx_ctx *c, int input)
{
	return &c->g->tensors[onnx_input(c, input)];
}

static int oom(qp_err *err)
{
	return qp_err_set(err, "out of memory");
}

/* Copies every ONNX attribute as is (for ops whose attributes have the
 * same meaning and defaults in the IR). */
static int copy_attrs(onnx_ctx *c, qp_err *err)
{
	size_t i;

	for (i = 0; i < c->np->n_attribute; i++) {
		const char *name = c->np->attribute[i]->name;
		const Onnx__AttributeProto *a;
		int64_t iv;
		float fv;
		int64_t ints[64];
		int n;

		a = c->np->attribute[i];
		if (onnx_attr_type(a) == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) {
			if (onnx_attr_float(c, name, 0, &fv, err))
				return -1;
			if (qp_node_set_float(node_of(c), name, fv))
				return oom(err);
		} else if (onnx_attr_type(a) == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
			char buf[256];

			if (onnx_attr_string(c, name, "", buf, sizeof buf, err))
				return -1;
			if (qp_node_set_string(node_of(c), name, buf))
				return oom(err);
		} else if (onnx_attr_type(a) == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
			if (onnx_attr_ints(c, name, ints, 64, &n, err))
				return -1;
			if (qp_node_set_ints(node_of(c), name, n, ints))
				return oom(err);
		} else {
			if (onnx_attr_int(c, name, 0, &iv, err))
				return -1;
			if (qp_node_set_int(node_of(c), name, iv))
				return oom(err);
		}
	}
	return 0;
}

/* Add, Mul, MatMul, Relu, GlobalAveragePool, Gemm. */
static int import_plain(onnx_ctx *c, qp_err *err)
{
	if (onnx_emit_node(c, c->op, err))
		return -1;
	return copy_attrs(c, err);
}

/* ---- convolution and pooling windows ------------------------------------ */

typedef struct window {
	int spatial;                     /* number of spatial axes */
	int64_t kernel[MAX_SPATIAL];
	int64_t strides[MAX_SPATIAL];
	int64_t dilations[MAX_SPATIAL];
	int64_t pads[2 * MAX_SPATIAL];   /* begins, then ends */
	int auto_pad;                    /* 0: NOTSET (explicit pads) */
} window;

static int read_axis_list(onnx_ctx *c, const char *name, int64_t *out, int want,
			  int64_t dflt, int64_t min, qp_err *err)
{
	int n, i;

	if (onnx_attr_ints(c, name, out, want, &n, err))
		return -1;
	if (n == 0) {
		for (i = 0; i < want; i++)
			out[i] = dflt;
		return 0;
	}
	if (n != want)
		return onnx_node_err(c, err, "attribute '%s' has %d values, expected %d",
				     name, n, want);
	for (i = 0; i < want; i++) {
		if (out[i] < min)
			return onnx_node_err(c, err, "attribute '%s' value %lld is below %lld",
					     name, (long long)out[i], (long long)min);
		if (out[i] > QP_MAX_WINDOW)
			return onnx_node_err(c, err, "attribute '%s' value %lld is above %lld",
					     name, (long long)out[i], (long long)QP_MAX_WINDOW);
	}
	return 0;
}

/* Reads strides, dilations and pads, and resolves auto_pad into explicit
 * pads from the input's spatial size (known: every producer's shape was
 * inferred before this node).  ONNX: SAME_* keeps output = ceil(in / stride)
 * with total padding max(0, (out - 1) * stride + (k - 1) * dilation + 1 - in),
 * the odd unit at the end for SAME_UPPER and at the beginning for
 * SAME_LOWER; VALID pads nothing. */
static int read_window(onnx_ctx *c, const qp_tensor *x, window *w, qp_err *err)
{
	char auto_pad[32];
	int s = w->spatial, i, n_pads;

	if (read_axis_list(c, "strides", w->strides, s, 1, 1, err) ||
	    read_axis_list(c, "dilations", w->dilations, s, 1, 1, err) ||
	    read_axis_list(c, "pads", w->pads, 2 * s, 0, 0, err) ||
	    onnx_attr_string(c, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad, err))
		return -1;
	if (strcmp(auto_pad, "NOTSET") == 0)
		return 0;
	if (strcmp(auto_pad, "VALID") && strcmp(auto_pad, "SAME_UPPER") &&
	    strcmp(auto_pad, "SAME_LOWER"))
		return onnx_node_err(c, err, "unknown auto_pad '%s'", auto_pad);
	onnx_attr_ints(c, "pads", w->pads, 2 * s, &n_pads, err);
	for (i = 0; i < 2 * s; i++)
		if (n_pads && w->pads[i] != 0)
			return onnx_node_err(c, err, "attribute 'pads' and auto_pad '%s' are both given",
					     auto_pad);
	w->auto_pad = 1;
	for (i = 0; i < s; i++) {
		int64_t in = x->dims[2 + i], st = w->strides[i];
		int64_t extent, out = (in + st - 1) / st, total;

		if (w->kernel[i] < 1 || w->kernel[i] > QP_MAX_WINDOW)
			return onnx_node_err(c, err, "kernel size %lld is not in [1, %lld]",
					     (long long)w->kernel[i], (long long)QP_MAX_WINDOW);
		extent = (w->kernel[i] - 1) * w->dilations[i] + 1;
		w->pads[i] = w->pads[s + i] = 0;
		if (auto_pad[0] == 'V')
			continue;
		total = (out - 1) * st + extent - in;
		if (total < 0)
			total = 0;
		if (strcmp(auto_pad, "SAME_UPPER") == 0) {
			w->pads[i] = total / 2;
			w->pads[s + i] = total - total / 2;
		} else {
			w->pads[s + i] = total / 2;
			w->pads[i] = total - total / 2;
		}
	}
	return 0;
}

static int set_window(onnx_ctx *c, const window *w, int with_dilations)
{
	qp_node *n = node_of(c);
	int s = w->spatial;

	if (qp_node_set_ints(n, "strides", s, w->strides) ||
	    qp_node_set_ints(n, "pads", 2 * s, w->pads))
		return -1;
	if (with_dilations && qp_node_set_ints(n, "dilations", s, w->dilations))
		return -1;
	return 0;
}

static int spatial_rank(onnx_ctx *c, const qp_tensor *x, qp_err *err)
{
	int s = x->rank - 2;

	if (s < 1 || s > MAX_SPATIAL)
		return onnx_node_err(c, err, "input '%s' has rank %d; expected N, C and 1 to %d spatial axes",
				     x->name, x->rank, MAX_SPATIAL);
	return s;
}

static int import_conv(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0), *wt = tensor_of(c, 1);
	int64_t kshape[MAX_SPATIAL], group;
	window w = {0};
	int s, i, n;

	if ((s = spatial_rank(c, x, err)) < 0)
		return -1;
	if (wt->rank != x->rank)
		return onnx_node_err(c, err, "weight '%s' has rank %d, input rank is %d",
				     wt->name, wt->rank, x->rank);
	w.spatial = s;
	for (i = 0; i < s; i++)
		w.kernel[i] = wt->dims[2 + i];
	/* kernel_shape is optional and redundant with W's shape. */
	if (onnx_attr_ints(c, "kernel_shape", kshape, MAX_SPATIAL, &n, err))
		return -1;
	for (i = 0; i < n; i++)
		if (n != s || kshape[i] != w.kernel[i])
			return onnx_node_err(c, err, "attribute 'kernel_shape' does not match weight '%s'",
					     wt->name);
	if (onnx_attr_int(c, "group", 1, &group, err) || read_window(c, x, &w, err))
		return -1;
	if (group < 1)
		return onnx_node_err(c, err, "attribute 'group' is %lld", (long long)group);
	if (onnx_emit_node(c, "Conv", err))
		return -1;
	if (set_window(c, &w, 1) || qp_node_set_int(node_of(c), "group", group))
		return oom(err);
	return 0;
}

/* MaxPool and AveragePool. */
static int import_pool(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int is_max = strcmp(c->op, "MaxPool") == 0;
	int64_t ceil_mode, count_include_pad, storage_order;
	window w = {0};
	int s, i, indices;

	if ((s = spatial_rank(c, x, err)) < 0)
		return -1;
	w.spatial = s;
	if (!onnx_attr(c, "kernel_shape"))
		return onnx_node_err(c, err, "attribute 'kernel_shape' is missing");
	if (read_axis_list(c, "kernel_shape", w.kernel, s, 1, 1, err) ||
	    read_window(c, x, &w, err) ||
	    onnx_attr_int(c, "ceil_mode", 0, &ceil_mode, err) ||
	    onnx_attr_int(c, "count_include_pad", 0, &count_include_pad, err))
		return -1;
	/* ONNX defines auto_pad's output size without ceil_mode; keep to the
	 * combination whose meaning is unambiguous. */
	if (ceil_mode && w.auto_pad)
		return onnx_node_err(c, err, "ceil_mode 1 together with auto_pad is not supported");
	if (!is_max)    /* AveragePool has dilations from opset 19; the IR has none */
		for (i = 0; i < s; i++)
			if (w.dilations[i] != 1)
				return onnx_node_err(c, err, "dilations other than 1 are not supported");
	/* MaxPool's Indices output only when the graph uses it; storage_order
	 * only changes the indices. */
	indices = is_max && c->np->n_output > 1 && onnx_output_used(c, 1);
	if (onnx_attr_int(c, "storage_order", 0, &storage_order, err))
		return -1;
	if (storage_order != 0 && storage_order != 1)
		return onnx_node_err(c, err, "storage_order %lld is not 0 or 1", (long long)storage_order);
	if (onnx_emit_node_n(c, c->op, indices ? 2 : 1, err))
		return -1;
	if ((indices && storage_order &&
	     qp_node_set_int(node_of(c), "storage_order", 1)) ||
	    qp_node_set_ints(node_of(c), "kernel_shape", s, w.kernel) ||
	    set_window(c, &w, is_max) ||
	    qp_node_set_int(node_of(c), "ceil_mode", ceil_mode != 0) ||
	    (!is_max && qp_node_set_int(node_of(c), "count_include_pad", count_include_pad != 0)))
		return oom(err);
	return 0;
}

/* ---- the rest ------------------------------------------------------------- */

static int import_flatten(onnx_ctx *c, qp_err *err)
{
	int64_t axis;

	if (onnx_attr_int(c, "axis", 1, &axis, err) || onnx_emit_node(c, "Flatten", err))
		return -1;
	return qp_node_set_int(node_of(c), "axis", axis) ? oom(err) : 0;
}

static int norm_axis(onnx_ctx *c, int64_t axis, int rank, int64_t *out, qp_err *err);

/* Softmax's axis default is -1 from opset 13.  Before (ONNX_OLD_COERCE_2D)
 * it was 1 and the input was coerced to 2-D, [d0*..*d(axis-1),
 * d(axis)*..*d(r-1)], the softmax taken over the second dimension: that is
 * the IR's softmax over one axis when every other axis from axis on has
 * size 1 (the last axis when all have), else it is refused. */
static int import_softmax(onnx_ctx *c, qp_err *err)
{
	int coerce = c->old && (c->old->flags & ONNX_OLD_COERCE_2D);
	const qp_tensor *x = tensor_of(c, 0);
	int64_t axis;
	int i, one = -1;

	if (onnx_attr_int(c, "axis", coerce ? 1 : -1, &axis, err))
		return -1;
	if (coerce) {
		if (x->rank < 1)
			return onnx_node_err(c, err, "input '%s' is a scalar", x->name);
		if (norm_axis(c, axis, x->rank, &axis, err))
			return -1;
		for (i = (int)axis; i < x->rank; i++) {
			if (x->dims[i] == 1)
				continue;
			if (one >= 0)
				return onnx_node_err(c, err, "opset %d coerces input '%s' to 2-D at axis %lld, "
						     "a softmax over axes %d to %d together, which the "
						     "IR's one-axis Softmax cannot express",
						     c->opset, x->name, (long long)axis, (int)axis, x->rank - 1);
			one = i;
		}
		axis = one >= 0 ? one : x->rank - 1;
	}
	if (onnx_emit_node(c, "Softmax", err))
		return -1;
	return qp_node_set_int(node_of(c), "axis", axis) ? oom(err) : 0;
}

/* perm defaults to reversing the axes. */
static int import_transpose(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int64_t perm[QP_MAX_RANK];
	int n, i;

	if (onnx_attr_ints(c, "perm", perm, QP_MAX_RANK, &n, err))
		return -1;
	if (n == 0) {
		n = x->rank;
		for (i = 0; i < n; i++)
			perm[i] = n - 1 - i;
	}
	if (onnx_emit_node(c, "Transpose", err))
		return -1;
	return qp_node_set_ints(node_of(c), "perm", n, perm) ? oom(err) : 0;
}

/* The IR's Reshape takes its shape from a constant; PyTorch often computes
 * it (Shape -> Gather -> Concat), which needs constant folding first. */
static int import_reshape(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *shape = tensor_of(c, 1);
	int64_t allowzero;

	if (!shape->data)
		return onnx_node_err(c, err, "shape '%s' is not a constant, even after constant folding",
				     shape->name);
	if (shape->dtype != QP_DT_INT64 || shape->rank != 1)
		return onnx_node_err(c, err, "shape '%s' must be a 1-D int64 tensor", shape->name);
	if (onnx_attr_int(c, "allowzero", 0, &allowzero, err) || onnx_emit_node(c, "Reshape", err))
		return -1;
	return qp_node_set_int(node_of(c), "allowzero", allowzero != 0) ? oom(err) : 0;
}

/* Inference form only: training_mode must be 0, running statistics unused
 * (checked by the caller: extra outputs must be unused). */
static int import_batchnorm(onnx_ctx *c, qp_err *err)
{
	int64_t training;
	float eps;

	if (onnx_attr_int(c, "training_mode", 0, &training, err) ||
	    onnx_attr_float(c, "epsilon", 1e-5f, &eps, err))
		return -1;
	if (training)
		return onnx_node_err(c, err, "training_mode 1 is not supported; export the model in inference mode");
	/* spatial (opsets 7-8, default 1): 0 means statistics per element, not
	 * per channel. */
	if (onnx_attr_int(c, "spatial", 1, &training, err))
		return -1;
	if (training != 1)
		return onnx_node_err(c, err, "spatial %lld is not supported (only 1, per-channel statistics)",
				     (long long)training);
	if (onnx_emit_node(c, "BatchNormalization", err))
		return -1;
	return qp_node_set_float(node_of(c), "epsilon", eps) ? oom(err) : 0;
}

/* Pass-through: the output becomes another name for the input, so the
 * node disappears.  A graph output keeps its own name, so there an IR
 * Identity node stays (lower turns it into a reshape-like copy). */
static int pass_through(onnx_ctx *c, qp_err *err)
{
	if (onnx_output_is_graph_output(c, 0)) {
		int keep_inputs = 1;
		const char *op = "Identity";

		/* Emit with input 0 only (Dropout's ratio/training_mode go). */
		if (onnx_emit_node(c, op, err))
			return -1;
		node_of(c)->n_inputs = keep_inputs;
		return 0;
	}
	return onnx_alias_output(c, onnx_input(c, 0), err);
}

static int import_identity(onnx_ctx *c, qp_err *err)
{
	return pass_through(c, err);
}

/* In inference Dropout passes its input through; a training_mode input
 * must be a constant false. */
static int import_dropout(onnx_ctx *c, qp_err *err)
{
	int tm = onnx_input(c, 2);

	if (tm >= 0) {
		const qp_tensor *t = &c->g->tensors[tm];

		if (!t->data || t->dtype != QP_DT_BOOL || qp_tensor_numel(t) != 1 ||
		    ((const unsigned char *)t->data)[0])
			return onnx_node_err(c, err, "training_mode '%s' is not a constant false; only inference is supported",
					     t->name);
	}
	return pass_through(c, err);
}

/* A Constant node becomes a constant tensor named like its output. */
static int import_constant(onnx_ctx *c, qp_err *err)
{
	Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
	const Onnx__AttributeProto *a;
	const char *name;
	int64_t dim;
	int t;

	if (c->np->n_attribute != 1)
		return onnx_node_err(c, err, "needs exactly one value attribute, has %zu",
				     c->np->n_attribute);
	a = c->np->attribute[0];
	name = a->name;
	tp.has_data_type = 1;
	if (strcmp(name, "value") == 0) {
		if (!a->t)
			return onnx_node_err(c, err, "attribute 'value' must be a tensor");
		if (onnx_add_constant_ext(c->g, c->np->output[0], a->t, c->base_dir, &t, err))
			return qp_err_prefix(err, "node '%s'", c->name);
		return 0;
	} else if (strcmp(name, "value_float") == 0) {
		float f;

		if (onnx_attr_float(c, name, 0, &f, err))
			return -1;
		tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
		tp.n_float_data = 1;
		tp.float_data = &f;
		return onnx_add_constant(c->g, c->np->output[0], &tp, &t, err);
	} else if (strcmp(name, "value_int") == 0) {
		int64_t i;

		if (onnx_attr_int(c, name, 0, &i, err))
			return -1;
		tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
		tp.n_int64_data = 1;
		tp.int64_data = &i;
		return onnx_add_constant(c->g, c->np->output[0], &tp, &t, err);
	} else if (strcmp(name, "value_floats") == 0) {
		if (onnx_attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
			return onnx_node_err(c, err, "attribute 'value_floats' must be floats");
		tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
		dim = (int64_t)a->n_floats;
		tp.n_dims = 1;
		tp.dims = &dim;
		tp.n_float_data = a->n_floats;
		tp.float_data = a->floats;
	} else {    /* value_ints */
		if (onnx_attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
			return onnx_node_err(c, err, "attribute 'value_ints' must be ints");
		tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
		dim = (int64_t)a->n_ints;
		tp.n_dims = 1;
		tp.dims = &dim;
		tp.n_int64_data = a->n_ints;
		tp.int64_data = a->ints;
	}
	return onnx_add_constant(c->g, c->np->output[0], &tp, &t, err);
}

/* ---- helpers for inputs that became attributes ---------------------------- */

/* Input i as constant integers (int64 or int32), at most max values;
 * *present 0 when the input is omitted. */
static int const_ints(onnx_ctx *c, int i, const char *what, int64_t *out,
		      int max, int *n, int *present, qp_err *err)
{
	int ti = onnx_input(c, i);
	const qp_tensor *t;
	int64_t numel, k;

	*n = 0;
	if (present)
		*present = ti >= 0;
	if (ti < 0) {
		if (!present)
			return onnx_node_err(c, err, "input '%s' is missing", what);
		return 0;
	}
	t = &c->g->tensors[ti];
	if (!t->data)
		return onnx_node_err(c, err, "%s '%s' is not a constant, even after constant folding",
				     what, t->name);
	if (t->dtype != QP_DT_INT64 && t->dtype != QP_DT_INT32)
		return onnx_node_err(c, err, "%s '%s' has dtype %s, expected int64",
				     what, t->name, qp_dtype_name(t->dtype));
	if (t->rank > 1)
		return onnx_node_err(c, err, "%s '%s' has rank %d, expected 1", what, t->name, t->rank);
	numel = qp_tensor_numel(t);
	if (numel > max)
		return onnx_node_err(c, err, "%s '%s' has %lld values, at most %d expected",
				     what, t->name, (long long)numel, max);
	for (k = 0; k < numel; k++)
		out[k] = t->dtype == QP_DT_INT64 ? ((const int64_t *)t->data)[k]
						 : ((const int32_t *)t->data)[k];
	*n = (int)numel;
	return 0;
}

/* Input i as constant floats (float32); same conventions. */
static int const_floats(onnx_ctx *c, int i, const char *what, float *out,
			int max, int *n, qp_err *err)
{
	int ti = onnx_input(c, i);
	const qp_tensor *t;
	int64_t numel;

	*n = 0;
	if (ti < 0)
		return 0;
	t = &c->g->tensors[ti];
	if (!t->data)
		return onnx_node_err(c, err, "%s '%s' is not a constant, even after constant folding",
				     what, t->name);
	if (t->dtype != QP_DT_FLOAT32)
		return onnx_node_err(c, err, "%s '%s' has dtype %s, expected float",
				     what, t->name, qp_dtype_name(t->dtype));
	numel = qp_tensor_numel(t);
	if (numel > max)
		return onnx_node_err(c, err, "%s '%s' has %lld values, at most %d expected",
				     what, t->name, (long long)numel, max);
	memcpy(out, t->data, (size_t)numel * sizeof *out);
	*n = (int)numel;
	return 0;
}

/* Normalizes axis into [0, rank). */
static int norm_axis(onnx_ctx *c, int64_t axis, int rank, int64_t *out, qp_err *err)
{
	if (axis < -rank || axis >= rank)
		return onnx_node_err(c, err, "axis %lld is outside [%d, %d)", (long long)axis, -rank, rank);
	*out = axis < 0 ? axis + rank : axis;
	return 0;
}

/* Emits the node with input 0 only (the others became attributes). */
static int emit_x_only(onnx_ctx *c, const char *op, qp_err *err)
{
	if (onnx_emit_node(c, op, err))
		return -1;
	node_of(c)->n_inputs = 1;
	return 0;
}

/* ---- ConvTranspose ------------------------------------------------------- */

/* ONNX: out = stride (in - 1) + output_padding + (k - 1) d + 1 - pads.
 * output_shape or auto_pad SAME_* fix out and leave the total padding to
 * compute; the IR keeps explicit pads and output_padding only. */
static int import_convtranspose(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0), *wt = tensor_of(c, 1);
	int64_t st[MAX_SPATIAL], dil[MAX_SPATIAL], pads[2 * MAX_SPATIAL], opad[MAX_SPATIAL];
	int64_t oshape[QP_MAX_RANK], group;
	char auto_pad[32];
	int s, i, n_os;

	if ((s = spatial_rank(c, x, err)) < 0)
		return -1;
	if (wt->rank != x->rank)
		return onnx_node_err(c, err, "weight '%s' has rank %d, input rank is %d",
				     wt->name, wt->rank, x->rank);
	if (read_axis_list(c, "strides", st, s, 1, 1, err) ||
	    read_axis_list(c, "dilations", dil, s, 1, 1, err) ||
	    read_axis_list(c, "pads", pads, 2 * s, 0, 0, err) ||
	    read_axis_list(c, "output_padding", opad, s, 0, 0, err) ||
	    onnx_attr_ints(c, "output_shape", oshape, QP_MAX_RANK, &n_os, err) ||
	    onnx_attr_string(c, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad, err) ||
	    onnx_attr_int(c, "group", 1, &group, err))
		return -1;
	if (strcmp(auto_pad, "NOTSET") && strcmp(auto_pad, "VALID") &&
	    strcmp(auto_pad, "SAME_UPPER") && strcmp(auto_pad, "SAME_LOWER"))
		return onnx_node_err(c, err, "unknown auto_pad '%s'", auto_pad);
	if (n_os == s + 2) {     /* full shape given: keep the spatial part */
		for (i = 0; i < s; i++)
			oshape[i] = oshape[i + 2];
		n_os = s;
	}
	if (n_os && n_os != s)
		return onnx_node_err(c, err, "attribute 'output_shape' has %d values, expected %d", n_os, s);
	if (!n_os && !strncmp(auto_pad, "SAME", 4)) {
		for (i = 0; i < s; i++)
			oshape[i] = x->dims[2 + i] * st[i];
		n_os = s;
	}
	if (!strcmp(auto_pad, "VALID"))
		for (i = 0; i < 2 * s; i++)
			pads[i] = 0;
	for (i = 0; i < n_os; i++) {
		int64_t total = st[i] * (x->dims[2 + i] - 1) + opad[i] +
				(wt->dims[2 + i] - 1) * dil[i] + 1 - oshape[i];

		if (total < 0) {   /* the output is larger: extra output_padding */
			opad[i] -= total;
			total = 0;
		}
		if (!strcmp(auto_pad, "SAME_UPPER")) {
			pads[i] = total / 2;
			pads[s + i] = total - total / 2;
		} else {
			pads[i] = total - total / 2;
			pads[s + i] = total / 2;
		}
	}
	if (onnx_emit_node(c, "ConvTranspose", err))
		return -1;
	if (qp_node_set_ints(node_of(c), "strides", s, st) ||
	    qp_node_set_ints(node_of(c), "dilations", s, dil) ||
	    qp_node_set_ints(node_of(c), "pads", 2 * s, pads) ||
	    qp_node_set_ints(node_of(c), "output_padding", s, opad) ||
	    qp_node_set_int(node_of(c), "group", group))
		return oom(err);
	return 0;
}

/* ---- shape-changing ops whose inputs became attributes -------------------- */

/* Split: sizes from the split input (opset 13+), else num_outputs (opset
 * 18: ceil(dim / n) each, the last one smaller) or the output count (equal
 * parts).  The IR always has "split" filled. */
static int import_split(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int64_t axis, split[16], num, sum = 0, dim;
	int n_split, present, n_out = (int)c->np->n_output, i;

	if (onnx_attr_int(c, "axis", 0, &axis, err) || norm_axis(c, axis, x->rank, &axis, err) ||
	    const_ints(c, 1, "split", split, 16, &n_split, &present, err) ||
	    onnx_attr_int(c, "num_outputs", n_out, &num, err))
		return -1;
	if (n_out > 16)
		return onnx_node_err(c, err, "has %d outputs, at most 16 are supported", n_out);
	dim = x->dims[axis];
	if (present) {
		if (n_split != n_out)
			return onnx_node_err(c, err, "split has %d sizes for %d outputs", n_split, n_out);
	} else {
		int64_t part;

		if (num != n_out)
			return onnx_node_err(c, err, "num_outputs %lld differs from the %d outputs",
					     (long long)num, n_out);
		part = (dim + n_out - 1) / n_out;
		if (c->opset < 18 && dim % n_out)
			return onnx_node_err(c, err, "axis size %lld does not split evenly into %d outputs",
					     (long long)dim, n_out);
		for (i = 0; i < n_out; i++) {
			split[i] = dim - sum < part ? dim - sum : part;
			sum += split[i];
		}
		n_split = n_out;
		sum = 0;
	}
	for (i = 0; i < n_split; i++) {
		if (split[i] < 0)
			return onnx_node_err(c, err, "split size %lld is negative", (long long)split[i]);
		sum += split[i];
	}
	if (sum != dim)
		return onnx_node_err(c, err, "split sizes add up to %lld, axis %lld has %lld",
				     (long long)sum, (long long)axis, (long long)dim);
	if (onnx_emit_node_n(c, "Split", n_out, err))
		return -1;
	node_of(c)->n_inputs = 1;
	if (qp_node_set_int(node_of(c), "axis", axis) ||
	    qp_node_set_ints(node_of(c), "split", n_split, split))
		return oom(err);
	return 0;
}

/* Squeeze/Unsqueeze: axes from input 1 (opset 13+).  Squeeze without axes
 * removes every axis of size 1; the IR lists them. */
static int import_squeeze(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int is_un = strcmp(c->op, "Unsqueeze") == 0;
	int64_t axes[QP_MAX_RANK];
	int n, present, i;

	if (const_ints(c, 1, "axes", axes, QP_MAX_RANK, &n, is_un ? NULL : &present, err))
		return -1;
	if (!is_un && !present)
		for (i = 0, n = 0; i < x->rank; i++)
			if (x->dims[i] == 1)
				axes[n++] = i;
	if (emit_x_only(c, c->op, err))
		return -1;
	return qp_node_set_ints(node_of(c), "axes", n, axes) ? oom(err) : 0;
}

/* Slice: starts, ends, axes, steps inputs -> attributes, all filled.
 * Values beyond the axis (INT64_MAX for "to the end") are clamped to
 * [-dim-1, dim], which keeps ONNX's meaning and fits the IR's ±2^53. */
static int import_slice(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int64_t st[QP_MAX_RANK], en[QP_MAX_RANK], ax[QP_MAX_RANK], sp[QP_MAX_RANK];
	int ns, ne, na, nst, pa, ps, i;

	if (const_ints(c, 1, "starts", st, QP_MAX_RANK, &ns, NULL, err) ||
	    const_ints(c, 2, "ends", en, QP_MAX_RANK, &ne, NULL, err) ||
	    const_ints(c, 3, "axes", ax, QP_MAX_RANK, &na, &pa, err) ||
	    const_ints(c, 4, "steps", sp, QP_MAX_RANK, &nst, &ps, err))
		return -1;
	if (ne != ns || (pa && na != ns) || (ps && nst != ns))
		return onnx_node_err(c, err, "starts, ends, axes and steps differ in length");
	for (i = 0; i < ns; i++) {
		int64_t dim;

		if (!pa)
			ax[i] = i;
		if (!ps)
			sp[i] = 1;
		if (norm_axis(c, ax[i], x->rank, &ax[i], err))
			return -1;
		if (sp[i] == 0)
			return onnx_node_err(c, err, "step 0 on axis %lld", (long long)ax[i]);
		dim = x->dims[ax[i]];
		st[i] = st[i] > dim ? dim : st[i] < -dim - 1 ? -dim - 1 : st[i];
		en[i] = en[i] > dim ? dim : en[i] < -dim - 1 ? -dim - 1 : en[i];
	}
	if (emit_x_only(c, "Slice", err))
		return -1;
	if (qp_node_set_ints(node_of(c), "starts", ns, st) ||
	    qp_node_set_ints(node_of(c), "ends", ns, en) ||
	    qp_node_set_ints(node_of(c), "axes", ns, ax) ||
	    qp_node_set_ints(node_of(c), "steps", ns, sp))
		return oom(err);
	return 0;
}

/* Pad: pads (and opset 18 axes) inputs -> full-rank "pads" attribute,
 * constant_value -> "value" float, "mode" written out. */
static int import_pad(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int64_t pads_in[2 * QP_MAX_RANK], axes[QP_MAX_RANK], pads[2 * QP_MAX_RANK] = {0};
	int np_, na, pa, i, r = x->rank, vt = onnx_input(c, 2);
	char mode[32];
	float value = 0;

	if (onnx_attr_string(c, "mode", "constant", mode, sizeof mode, err) ||
	    const_ints(c, 1, "pads", pads_in, 2 * QP_MAX_RANK, &np_, NULL, err) ||
	    const_ints(c, 3, "axes", axes, QP_MAX_RANK, &na, &pa, err))
		return -1;
	if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge"))
		return onnx_node_err(c, err, "mode '%s' is not supported (constant, reflect, edge)", mode);
	if (!pa) {
		na = r;
		for (i = 0; i < r; i++)
			axes[i] = i;
	}
	if (np_ != 2 * na)
		return onnx_node_err(c, err, "pads has %d values, expected %d", np_, 2 * na);
	for (i = 0; i < na; i++) {
		if (norm_axis(c, axes[i], r, &axes[i], err))
			return -1;
		pads[axes[i]] = pads_in[i];
		pads[r + axes[i]] = pads_in[na + i];
	}
	if (vt >= 0) {
		const qp_tensor *v = &c->g->tensors[vt];

		if (!v->data || qp_tensor_numel(v) != 1)
			return onnx_node_err(c, err, "constant_value '%s' must be a constant scalar", v->name);
		switch (v->dtype) {
		case QP_DT_FLOAT32: value = *(const float *)v->data; break;
		case QP_DT_INT64: value = (float)*(const int64_t *)v->data; break;
		case QP_DT_INT32: value = (float)*(const int32_t *)v->data; break;
		case QP_DT_INT8: value = *(const int8_t *)v->data; break;
		case QP_DT_UINT8: value = *(const uint8_t *)v->data; break;
		default:
			return onnx_node_err(c, err, "constant_value '%s' has dtype %s",
					     v->name, qp_dtype_name(v->dtype));
		}
	}
	if (emit_x_only(c, "Pad", err))
		return -1;
	if (qp_node_set_ints(node_of(c), "pads", 2 * r, pads) ||
	    qp_node_set_float(node_of(c), "value", value) ||
	    qp_node_set_string(node_of(c), "mode", mode))
		return oom(err);
	return 0;
}

/* Resize: roi/scales/sizes inputs and the opset 18 axes and
 * keep_aspect_ratio_policy become "sizes" (the full output shape) and,
 * when the model gave scales or the aspect policy fixed one, "scales" (one
 * per axis, used by the coordinate transformation as ONNX does). */
static int import_resize(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int64_t sizes_in[QP_MAX_RANK], axes[QP_MAX_RANK], sizes[QP_MAX_RANK];
	float scales_in[QP_MAX_RANK], scales[QP_MAX_RANK];
	float roi_in[2 * QP_MAX_RANK], roi[2 * QP_MAX_RANK];
	int n_sizes, n_scales, n_axes, n_roi = 0, i, r = x->rank, use_scales = 0, crop;
	int64_t antialias;
	char policy[32], ctm[64];
	static const char *const copied[] = {
		"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
		"exclude_outside", "extrapolation_value",
	};
	size_t k;

	if (onnx_attr_int(c, "antialias", 0, &antialias, err) ||
	    onnx_attr_string(c, "keep_aspect_ratio_policy", "stretch", policy, sizeof policy, err) ||
	    onnx_attr_string(c, "coordinate_transformation_mode", "half_pixel", ctm, sizeof ctm, err) ||
	    onnx_attr_ints(c, "axes", axes, QP_MAX_RANK, &n_axes, err) ||
	    const_floats(c, 2, "scales", scales_in, QP_MAX_RANK, &n_scales, err) ||
	    const_ints(c, 3, "sizes", sizes_in, QP_MAX_RANK, &n_sizes, &i, err))
		return -1;
	if (antialias != 0)
		return onnx_node_err(c, err, "antialias %lld is not supported", (long long)antialias);
	crop = !strcmp(ctm, "tf_crop_and_resize");
	if (crop && const_floats(c, 1, "roi", roi_in, 2 * QP_MAX_RANK, &n_roi, err))
		return -1;
	if (strcmp(policy, "stretch") && strcmp(policy, "not_larger") && strcmp(policy, "not_smaller"))
		return onnx_node_err(c, err, "unknown keep_aspect_ratio_policy '%s'", policy);
	if (!n_axes) {
		n_axes = r;
		for (i = 0; i < r; i++)
			axes[i] = i;
	}
	for (i = 0; i < n_axes; i++)
		if (norm_axis(c, axes[i], r, &axes[i], err))
			return -1;
	/* tf_crop_and_resize: roi is starts then ends over the axes, as
	 * fractions of each axis; the other axes keep [0, 1]. */
	if (crop) {
		if (n_roi != 2 * n_axes)
			return onnx_node_err(c, err, "roi has %d values, expected %d", n_roi, 2 * n_axes);
		for (i = 0; i < r; i++)
			roi[i] = 0.0f, roi[r + i] = 1.0f;
		for (i = 0; i < n_axes; i++)
			roi[axes[i]] = roi_in[i], roi[r + axes[i]] = roi_in[n_axes + i];
	}
	if ((n_scales > 0) == (n_sizes > 0))
		return onnx_node_err(c, err, "exactly one of scales and sizes must be given");
	for (i = 0; i < r; i++) {
		sizes[i] = x->dims[i];
		scales[i] = 1.0f;
	}
	if (n_scales) {
		if (n_scales != n_axes)
			return onnx_node_err(c, err, "scales has %d values, expected %d", n_scales, n_axes);
		for (i = 0; i < n_axes; i++) {
			if (!(scales_in[i] > 0))
				return onnx_node_err(c, err, "scale %g is not positive", scales_in[i]);
			scales[axes[i]] = scales_in[i];
			sizes[axes[i]] = (int64_t)floor((double)x->dims[axes[i]] * scales_in[i]);
		}
		use_scales = 1;
	} else {
		if (n_sizes != n_axes)
			return onnx_node_err(c, err, "sizes has %d values, expected %d", n_sizes, n_axes);
		if (strcmp(policy, "stretch")) {
			double scale = 0;

			for (i = 0; i < n_axes; i++) {
				double si = (double)sizes_in[i] / (double)x->dims[axes[i]];

				if (i == 0 || (policy[4] == 'l' ? si < scale : si > scale))
					scale = si;
			}
			for (i = 0; i < n_axes; i++) {
				scales[axes[i]] = (float)scale;
				sizes[axes[i]] = (int64_t)floor(scale * (double)x->dims[axes[i]] + 0.5);
			}
			use_scales = 1;
		} else {
			for (i = 0; i < n_axes; i++)
				sizes[axes[i]] = sizes_in[i];
		}
	}
	for (i = 0; i < r; i++)
		if (sizes[i] < 1)
			return onnx_node_err(c, err, "output size %lld along axis %d is not positive",
					     (long long)sizes[i], i);
	if (emit_x_only(c, "Resize", err))
		return -1;
	if (qp_node_set_ints(node_of(c), "sizes", r, sizes) ||
	    (use_scales && qp_node_set_floats(node_of(c), "scales", r, scales)) ||
	    (crop && qp_node_set_floats(node_of(c), "roi", 2 * r, roi)))
		return oom(err);
	for (k = 0; k < sizeof copied / sizeof copied[0]; k++) {
		const Onnx__AttributeProto *a = onnx_attr(c, copied[k]);
		char buf[64];
		int64_t iv;
		float fv;

		if (!a)
			continue;
		if (onnx_attr_type(a) == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
			if (onnx_attr_string(c, copied[k], "", buf, sizeof buf, err))
				return -1;
			if (qp_node_set_string(node_of(c), copied[k], buf))
				return oom(err);
		} else if (onnx_attr_type(a) == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) {
			if (onnx_attr_float(c, copied[k], 0, &fv, err))
				return -1;
			if (qp_node_set_float(node_of(c), copied[k], fv))
				return oom(err);
		} else {
			if (onnx_attr_int(c, copied[k], 0, &iv, err))
				return -1;
			if (qp_node_set_int(node_of(c), copied[k], iv))
				return oom(err);
		}
	}
	return 0;
}

/* Upsample (opsets 7 to 9) imports as Resize through onnx_old_forms[]. */
static int import_upsample(onnx_ctx *c, qp_err *err)
{
	return onnx_node_err(c, err, "Upsample is deprecated from opset 10; export the model with Resize");
}

/* Reduce*: axes is an input from opset 13 (ReduceSum) or 18 (the others);
 * the attribute of older opsets becomes that input (onnx_old_forms[]).
 * The IR always has the attribute (absent = all axes, or none with
 * noop_with_empty_axes). */
static int import_reduce(onnx_ctx *c, qp_err *err)
{
	int64_t axes[QP_MAX_RANK], keep, noop;
	int n = 0, present = 0;

	if (const_ints(c, 1, "axes", axes, QP_MAX_RANK, &n, &present, err))
		return -1;
	if (onnx_attr_int(c, "keepdims", 1, &keep, err) ||
	    onnx_attr_int(c, "noop_with_empty_axes", 0, &noop, err) || emit_x_only(c, c->op, err))
		return -1;
	if ((n && qp_node_set_ints(node_of(c), "axes", n, axes)) ||
	    qp_node_set_int(node_of(c), "keepdims", keep) ||
	    (noop && qp_node_set_int(node_of(c), "noop_with_empty_axes", noop)))
		return oom(err);
	return 0;
}

static const char *ir_dtype_of_onnx(int64_t t)
{
	switch (t) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return "float32";
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return "uint8";
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return "int8";
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return "int16";
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return "int32";
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return "int64";
	case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return "bool";
	default: return NULL;
	}
}

/* Cast: "to" becomes the IR dtype name; saturate (opset 19) only matters
 * for float8 targets, which the IR does not have. */
static int import_cast(onnx_ctx *c, qp_err *err)
{
	int64_t to;
	const char *name;

	if (onnx_attr_int(c, "to", -1, &to, err))
		return -1;
	name = ir_dtype_of_onnx(to);
	if (!name)
		return onnx_node_err(c, err, "cast to ONNX type %lld is not supported (float, int8..int64, uint8, bool)",
				     (long long)to);
	if (onnx_emit_node(c, "Cast", err))
		return -1;
	return qp_node_set_string(node_of(c), "to", name) ? oom(err) : 0;
}

/* A result known at import time (Shape, ConstantOfShape) becomes a constant
 * tensor.  A graph output must be computed by a node, so there the constant
 * gets its own name and an IR Identity copies it to the output. */
static int import_as_constant(onnx_ctx *c, qp_dtype dt, int rank,
			      const int64_t *dims, const void *data, qp_err *err)
{
	int graph_output = onnx_output_is_graph_output(c, 0), t;
	char name[1100];

	snprintf(name, sizeof name, "%.1000s%s", c->np->output[0],
		 graph_output ? "_value" : "");
	t = onnx_new_constant(c->g, name, dt, rank, dims, data, err);
	if (t < 0)
		return qp_err_prefix(err, "node '%s'", c->name);
	if (graph_output) {
		qp_node *nd;

		if (onnx_emit_node(c, "Identity", err))
			return -1;
		nd = node_of(c);
		nd->inputs[0] = t;
		nd->n_inputs = 1;
	}
	return t;
}

/* Shape: every IR shape is static, so Shape is a constant (start/end from
 * opset 15 select a range of axes, clamped as ONNX says). */
static int import_shape(onnx_ctx *c, qp_err *err)
{
	const qp_tensor *x = tensor_of(c, 0);
	int64_t start, end, dims[1], shape[QP_MAX_RANK];
	int r = x->rank, t;

	if (onnx_attr_int(c, "start", 0, &start, err) || onnx_attr_int(c, "end", r, &end, err))
		return -1;
	if (start < 0)
		start += r;
	if (end < 0)
		end += r;
	start = start < 0 ? 0 : start > r ? r : start;
	end = end < 0 ? 0 : end > r ? r : end;
	dims[0] = end > start ? end - start : 0;
	/* Copied: adding the constant may move the tensor array x points into. */
	memcpy(shape, x->dims, sizeof shape);
	t = import_as_constant(c, QP_DT_INT64, 1, dims, shape + start, err);
	return t < 0 ? -1 : 0;
}

/* Size: the input's element count, an int64 scalar known at import time
 * (every IR shape is static), so a constant as Shape's. */
static int import_size(onnx_ctx *c, qp_err *err)
{
	int64_t numel = qp_tensor_numel(tensor_of(c, 0));

	return import_as_constant(c, QP_DT_INT64, 0, NULL, &numel, err) < 0 ? -1 : 0;
}

/* ConstantOfShape: the shape is constant (folded), so the result is a
 * constant tensor filled with the value attribute (default float 0). */
static int import_constant_of_shape(onnx_ctx *c, qp_err *err)
{
	const Onnx__AttributeProto *a = onnx_attr(c, "value");
	int64_t dims[QP_MAX_RANK], numel = 1, k;
	qp_graph *scratch;
	const qp_tensor *v;
	qp_tensor *t;
	int n, ti, vi;
	size_t es;

	if (const_ints(c, 0, "shape", dims, QP_MAX_RANK, &n, NULL, err))
		return -1;
	for (k = 0; k < n; k++) {
		if (dims[k] < 0 || (dims[k] && numel > INT64_MAX / dims[k]))
			return onnx_node_err(c, err, "shape value %lld is invalid", (long long)dims[k]);
		numel *= dims[k];
	}
	ti = import_as_constant(c, QP_DT_FLOAT32, n, dims, NULL, err);
	if (ti < 0)
		return -1;
	if (!a)
		return 0;   /* zeros */
	if (!a->t)
		return onnx_node_err(c, err, "attribute 'value' must be a tensor");
	scratch = qp_graph_new();
	if (!scratch)
		return oom(err);
	if (onnx_add_constant(scratch, "value", a->t, &vi, err)) {
		qp_graph_free(scratch);
		return qp_err_prefix(err, "node '%s'", c->name);
	}
	v = &scratch->tensors[vi];
	if (qp_tensor_numel(v) != 1) {
		qp_graph_free(scratch);
		return onnx_node_err(c, err, "attribute 'value' must hold one element");
	}
	t = &c->g->tensors[ti];
	qp_tensor_reshape(t, v->dtype, n, dims);
	if (qp_tensor_alloc_data(t, err)) {
		qp_graph_free(scratch);
		return -1;
	}
	es = qp_dtype_size(v->dtype);
	for (k = 0; k < numel; k++)
		memcpy((char *)t->data + (size_t)k * es, v->data, es);
	qp_graph_free(scratch);
	return 0;
}

/* TopK: values and indices are both IR outputs; k stays a constant
 * input. */
static int import_topk(onnx_ctx *c, qp_err *err)
{
	if (onnx_emit_node_n(c, "TopK", 2, err))
		return -1;
	return copy_attrs(c, err);
}

/* ---- the table ------------------------------------------------------------ */

#define UNARY(op) {op, 1, 1, 1, "", import_plain, 0}
#define BINARY(op) {op, 2, 2, 1, "", import_plain, 0}

/* name, inputs min..max, outputs max, accepted attributes, import,
 * all outputs real. */
const onnx_op onnx_ops[] = {
	UNARY("Abs"),
	UNARY("Acos"),
	UNARY("Acosh"),
	BINARY("Add"),
	BINARY("And"),
	{"ArgMax", 1, 1, 1, "axis keepdims select_last_index", import_plain, 0},
	{"ArgMin", 1, 1, 1, "axis keepdims select_last_index", import_plain, 0},
	UNARY("Asin"),
	UNARY("Asinh"),
	UNARY("Atan"),
	UNARY("Atanh"),
	{"AveragePool", 1, 1, 1,
	 "auto_pad ceil_mode count_include_pad dilations kernel_shape pads strides", import_pool, 0},
	{"BatchNormalization", 5, 5, 3, "epsilon momentum training_mode", import_batchnorm, 0},
	{"BitShift", 2, 2, 1, "direction", import_plain, 0},
	{"Cast", 1, 1, 1, "to saturate", import_cast, 0},
	UNARY("Ceil"),
	{"Celu", 1, 1, 1, "alpha", import_plain, 0},
	{"Clip", 1, 3, 1, "", import_plain, 0},
	{"Concat", 1, 64, 1, "axis", import_plain, 0},
	{"Constant", 0, 0, 1, "value value_float value_floats value_int value_ints", import_constant, 0},
	{"ConstantOfShape", 1, 1, 1, "value", import_constant_of_shape, 0},
	{"Conv", 2, 3, 1, "auto_pad dilations group kernel_shape pads strides", import_conv, 0},
	{"ConvTranspose", 2, 3, 1,
	 "auto_pad dilations group kernel_shape output_padding output_shape pads strides",
	 import_convtranspose, 0},
	UNARY("Cos"),
	UNARY("Cosh"),
	{"DepthToSpace", 1, 1, 1, "blocksize mode", import_plain, 0},
	{"DequantizeLinear", 2, 3, 1, "axis", import_plain, 0},
	BINARY("Div"),
	{"Dropout", 1, 3, 2, "seed", import_dropout, 0},
	{"Elu", 1, 1, 1, "alpha", import_plain, 0},
	BINARY("Equal"),
	UNARY("Erf"),
	UNARY("Exp"),
	{"Expand", 2, 2, 1, "", import_plain, 0},
	{"Flatten", 1, 1, 1, "axis", import_flatten, 0},
	UNARY("Floor"),
	{"Gather", 2, 2, 1, "axis", import_plain, 0},
	{"Gelu", 1, 1, 1, "approximate", import_plain, 0},
	{"Gemm", 2, 3, 1, "alpha beta transA transB", import_plain, 0},
	UNARY("GlobalAveragePool"),
	UNARY("GlobalMaxPool"),
	BINARY("Greater"),
	BINARY("GreaterOrEqual"),
	{"HardSigmoid", 1, 1, 1, "alpha beta", import_plain, 0},
	UNARY("HardSwish"),
	{"Identity", 1, 1, 1, "", import_identity, 0},
	{"InstanceNormalization", 3, 3, 1, "epsilon", import_plain, 0},
	{"IsInf", 1, 1, 1, "detect_negative detect_positive", import_plain, 0},
	UNARY("IsNaN"),
	{"LeakyRelu", 1, 1, 1, "alpha", import_plain, 0},
	BINARY("Less"),
	BINARY("LessOrEqual"),
	UNARY("Log"),
	BINARY("MatMul"),
	{"Max", 1, 64, 1, "", import_plain, 0},
	{"MaxPool", 1, 1, 2,
	 "auto_pad ceil_mode dilations kernel_shape pads storage_order strides", import_pool, 1},
	{"Mean", 1, 64, 1, "", import_plain, 0},
	{"Min", 1, 64, 1, "", import_plain, 0},
	UNARY("Mish"),
	{"Mod", 2, 2, 1, "fmod", import_plain, 0},
	BINARY("Mul"),
	UNARY("Neg"),
	UNARY("Not"),
	BINARY("Or"),
	BINARY("PRelu"),
	{"Pad", 2, 4, 1, "mode", import_pad, 0},
	BINARY("Pow"),
	{"QuantizeLinear", 2, 3, 1, "axis saturate", import_plain, 0},
	{"Range", 3, 3, 1, "", import_plain, 0},
	UNARY("Reciprocal"),
	{"ReduceL1", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceL2", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceMax", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceMean", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceMin", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceProd", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceSum", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	{"ReduceSumSquare", 1, 2, 1, "keepdims noop_with_empty_axes", import_reduce, 0},
	UNARY("Relu"),
	{"Reshape", 2, 2, 1, "allowzero", import_reshape, 0},
	{"Resize", 1, 4, 1,
	 "antialias axes coordinate_transformation_mode cubic_coeff_a exclude_outside "
	 "extrapolation_value keep_aspect_ratio_policy mode nearest_mode", import_resize, 0},
	UNARY("Round"),
	{"Selu", 1, 1, 1, "alpha gamma", import_plain, 0},
	{"Shape", 1, 1, 1, "start end", import_shape, 0},
	{"Shrink", 1, 1, 1, "bias lambd", import_plain, 0},
	UNARY("Sigmoid"),
	UNARY("Sign"),
	UNARY("Sin"),
	UNARY("Sinh"),
	{"Size", 1, 1, 1, "", import_size, 0},
	{"Slice", 3, 5, 1, "", import_slice, 0},
	{"Softmax", 1, 1, 1, "axis", import_softmax, 0},
	UNARY("Softplus"),
	UNARY("Softsign"),
	{"SpaceToDepth", 1, 1, 1, "blocksize", import_plain, 0},
	{"Split", 1, 2, 16, "axis num_outputs", import_split, 1},
	UNARY("Sqrt"),
	{"Squeeze", 1, 2, 1, "", import_squeeze, 0},
	BINARY("Sub"),
	{"Sum", 1, 64, 1, "", import_plain, 0},
	UNARY("Tan"),
	UNARY("Tanh"),
	{"ThresholdedRelu", 1, 1, 1, "alpha", import_plain, 0},
	{"Tile", 2, 2, 1, "", import_plain, 0},
	{"TopK", 2, 2, 2, "axis largest sorted", import_topk, 1},
	{"Transpose", 1, 1, 1, "perm", import_transpose, 0},
	{"Unsqueeze", 2, 2, 1, "", import_squeeze, 0},
	{"Upsample", 1, 2, 1, "mode", import_upsample, 0},
	{"Where", 3, 3, 1, "", import_plain, 0},
	BINARY("Xor"),
	{NULL, 0, 0, 0, NULL, NULL, 0},
};

/* ---- older opsets' forms ------------------------------------------------- */

#define AXES_ATTR {{"axes", 1, ONNX_MOVE_INTS}}
#define REDUCE_OLD(op, last) {op, 7, last, 1, 0, "", AXES_ATTR, 0, NULL, NULL, 0}
/* Upsample and Resize 10 compute output = floor(input * scale) and, as
 * onnxruntime does for them, source = output / scale (asymmetric), the
 * nearest pixel rounded down: Upsample's nearest integer scales repeat each
 * element, as the ONNX reference does. */
#define RESIZE_10 "coordinate_transformation_mode=asymmetric nearest_mode=floor"

/* op, opsets, inputs max, outputs max (0: the row's), extra attributes,
 * attributes that became inputs, inputs shifted from, fixed string
 * attributes, import (NULL: the row's), flags.  From the ONNX Changelog. */
const onnx_old_form onnx_old_forms[] = {
	/* 7-8: spatial; 7-13: up to five outputs (running and saved statistics) */
	{"BatchNormalization", 7, 8, 5, 5, "spatial", {{0}}, 0, NULL, NULL, 0},
	{"BatchNormalization", 9, 13, 5, 5, "", {{0}}, 0, NULL, NULL, 0},
	{"Clip", 7, 10, 1, 0, "", {{"min", 1, ONNX_MOVE_FLOAT}, {"max", 2, ONNX_MOVE_FLOAT}},
	 0, NULL, NULL, 0},
	/* 7-11: ratio attribute (inference ignores it); 12: ratio input */
	{"Dropout", 7, 11, 1, 0, "ratio", {{0}}, 0, NULL, NULL, 0},
	{"Pad", 7, 10, 1, 0, "", {{"pads", 1, ONNX_MOVE_INTS}, {"value", 2, ONNX_MOVE_FLOAT}},
	 0, NULL, NULL, 0},
	REDUCE_OLD("ReduceL1", 17),
	REDUCE_OLD("ReduceL2", 17),
	REDUCE_OLD("ReduceMax", 17),
	REDUCE_OLD("ReduceMean", 17),
	REDUCE_OLD("ReduceMin", 17),
	REDUCE_OLD("ReduceProd", 17),
	REDUCE_OLD("ReduceSum", 12),
	REDUCE_OLD("ReduceSumSquare", 17),
	/* 10: inputs X, scales; mode only */
	{"Resize", 10, 10, 2, 0, "", {{0}}, 1, RESIZE_10, NULL, 0},
	{"Slice", 7, 9, 1, 0, "",
	 {{"starts", 1, ONNX_MOVE_INTS}, {"ends", 2, ONNX_MOVE_INTS}, {"axes", 3, ONNX_MOVE_INTS}},
	 0, NULL, NULL, 0},
	{"Softmax", 7, 12, 1, 0, "", {{0}}, 0, NULL, NULL, ONNX_OLD_COERCE_2D},
	{"Split", 7, 12, 1, 0, "", {{"split", 1, ONNX_MOVE_INTS}}, 0, NULL, NULL, 0},
	{"Squeeze", 7, 12, 1, 0, "", AXES_ATTR, 0, NULL, NULL, 0},
	{"TopK", 7, 9, 1, 0, "", {{"k", 1, ONNX_MOVE_INT_1D}}, 0, NULL, NULL, 0},
	{"Unsqueeze", 7, 12, 1, 0, "", AXES_ATTR, 0, NULL, NULL, 0},
	/* 7-8: scales attribute; 9: scales input (Resize's input 2) */
	{"Upsample", 7, 8, 1, 0, "", {{"scales", 2, ONNX_MOVE_FLOATS}}, 0, RESIZE_10,
	 import_resize, 0},
	{"Upsample", 9, 9, 2, 0, "", {{0}}, 1, RESIZE_10, import_resize, 0},
	{NULL, 0, 0, 0, 0, NULL, {{0}}, 0, NULL, NULL, 0},
};

const onnx_old_form *onnx_old_form_find(const char *op_type, int opset)
{
	const onnx_old_form *f;

	for (f = onnx_old_forms; f->op; f++)
		if (strcmp(f->op, op_type) == 0 && opset >= f->opset_min && opset <= f->opset_max)
			return f;
	return NULL;
}

const onnx_op *onnx_op_find(const char *op_type)
{
	const onnx_op *row;

	for (row = onnx_ops; row->name; row++)
		if (strcmp(row->name, op_type) == 0)
			return row;
	return NULL;
}
