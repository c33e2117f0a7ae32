/* The ONNX -> IR op table: one row per supported ONNX op.
 *
 * A row names the ONNX op, its input/output counts, the attributes it may
 * carry (anything else is refused, so a semantic we do not model is never
 * silently dropped) and the function that adds the IR node.  The IR op set
 * is ONNX's with every opset-dependent form resolved (docs/ir.md section 3):
 * auto_pad becomes explicit pads, defaults that changed between opsets are
 * written out, pass-through ops (Identity, inference Dropout) disappear and
 * Constant nodes become constant tensors.  Attribute semantics follow the
 * ONNX operator specification, opsets 13 to 20.
 */
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
	for (i = 0; i < want; i++)
		if (out[i] < min)
			return onnx_node_err(c, err, "attribute '%s' value %lld is below %lld",
					     name, (long long)out[i], (long long)min);
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
		int64_t extent = (w->kernel[i] - 1) * w->dilations[i] + 1;
		int64_t out = (in + st - 1) / st, total;

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
	int64_t ceil_mode, count_include_pad;
	window w = {0};
	int s, i;

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
	if (onnx_emit_node(c, c->op, err))
		return -1;
	if (qp_node_set_ints(node_of(c), "kernel_shape", s, w.kernel) ||
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

/* Softmax's axis default is -1 from opset 13 (it was 1 and meant "flatten
 * to 2-D" before); opsets below 13 are refused, so -1 is right here. */
static int import_softmax(onnx_ctx *c, qp_err *err)
{
	int64_t axis;

	if (onnx_attr_int(c, "axis", -1, &axis, err) || onnx_emit_node(c, "Softmax", err))
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
		return qp_err_set(err, "reshape shape is not a constant (node '%s', op '%s'); constant folding is not supported yet",
				  c->name, c->op);
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
	if (onnx_emit_node(c, "BatchNormalization", err))
		return -1;
	return qp_node_set_float(node_of(c), "epsilon", eps) ? oom(err) : 0;
}

static int import_identity(onnx_ctx *c, qp_err *err)
{
	return onnx_alias_output(c, onnx_input(c, 0), err);
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
	return onnx_alias_output(c, onnx_input(c, 0), err);
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
		if (onnx_add_constant(c->g, c->np->output[0], a->t, &t, err))
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

/* name, inputs min..max, outputs max, accepted attributes, import. */
const onnx_op onnx_ops[] = {
	{"Add", 2, 2, 1, "", import_plain},
	{"AveragePool", 1, 1, 1,
	 "auto_pad ceil_mode count_include_pad dilations kernel_shape pads strides", import_pool},
	{"BatchNormalization", 5, 5, 3, "epsilon momentum training_mode", import_batchnorm},
	{"Constant", 0, 0, 1, "value value_float value_floats value_int value_ints", import_constant},
	{"Conv", 2, 3, 1, "auto_pad dilations group kernel_shape pads strides", import_conv},
	{"Dropout", 1, 3, 2, "seed", import_dropout},
	{"Flatten", 1, 1, 1, "axis", import_flatten},
	{"Gemm", 2, 3, 1, "alpha beta transA transB", import_plain},
	{"GlobalAveragePool", 1, 1, 1, "", import_plain},
	{"Identity", 1, 1, 1, "", import_identity},
	{"MatMul", 2, 2, 1, "", import_plain},
	{"MaxPool", 1, 1, 2,
	 "auto_pad ceil_mode dilations kernel_shape pads storage_order strides", import_pool},
	{"Mul", 2, 2, 1, "", import_plain},
	{"Relu", 1, 1, 1, "", import_plain},
	{"Reshape", 2, 2, 1, "allowzero", import_reshape},
	{"Softmax", 1, 1, 1, "axis", import_softmax},
	{"Transpose", 1, 1, 1, "perm", import_transpose},
	{NULL, 0, 0, 0, NULL, NULL},
};

const onnx_op *onnx_op_find(const char *op_type)
{
	const onnx_op *row;

	for (row = onnx_ops; row->name; row++)
		if (strcmp(row->name, op_type) == 0)
			return row;
	return NULL;
}
