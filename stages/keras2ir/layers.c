/* The layer table: one row per Keras layer class, turning it into IR ops.
 *
 * Keras computes in NHWC; the IR computes in NCHW (docs/ir.md).  So image
 * tensors in the graph are NCHW, the graph input is marked layout "NHWC"
 * (tools transpose user data at the boundary), Conv2D kernels go from
 * Keras' HWIO to OIHW, and Flatten, the one layer whose result depends on
 * the memory order, is handled specially (see flatten_emit).
 *
 * Naming: a layer's final output tensor carries the layer's name, so the
 * IR's activations can be compared with Keras' layer by layer; a fused
 * activation makes the main op write "<layer>/linear" and an activation
 * node "<layer>/<act>" write "<layer>".  Weights are "<layer>/kernel",
 * "<layer>/bias".
 */
#include "keras.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- config helpers ------------------------------------------------------- */

static const char *cfg_string(const cJSON *cfg, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* A whole number that fits an int. */
static int json_int(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    fabs(v->valuedouble) > 1e9)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* n ints from key: a list of n whole numbers, or one number repeated (Keras
 * accepts kernel_size=3 for (3, 3)).  Absent or null gives dflt (when dflt
 * is NULL, absent is an error).  0 or -1. */
static int cfg_ints(const cJSON *cfg, const char *key, int n, int64_t *out,
		    const int64_t *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key), *it;
	int i = 0;

	if (!v || cJSON_IsNull(v)) {
		if (!dflt)
			return -1;
		memcpy(out, dflt, (size_t)n * sizeof *out);
		return 0;
	}
	if (cJSON_IsNumber(v)) {
		if (json_int(v, &out[0]) != 0)
			return -1;
		for (i = 1; i < n; i++)
			out[i] = out[0];
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
		return -1;
	cJSON_ArrayForEach(it, v)
		if (json_int(it, &out[i++]) != 0)
			return -1;
	return 0;
}

static int cfg_bool(const cJSON *cfg, const char *key, int dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* The activation's name: a string ("relu"), null (= "linear"), or an
 * object as some Keras versions serialise functions:
 * {"class_name": "function", "config": "relu"} or {"class_name": "ReLU"}.
 * NULL when it cannot be told. */
static const char *cfg_activation(const cJSON *cfg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key), *c;

	if (!v || cJSON_IsNull(v))
		return "linear";
	if (cJSON_IsString(v))
		return v->valuestring;
	c = cJSON_GetObjectItemCaseSensitive(v, "config");
	if (cJSON_IsString(c))
		return c->valuestring;
	return cfg_string(v, "class_name", NULL);
}

static int supported_activation(const char *act)
{
	static const char *const ok[] = {"linear", "relu", "softmax", "relu6", "sigmoid",
		"tanh", "elu", "hard_sigmoid", "hard_swish", "hard_silu", "swish", "silu",
		"gelu", NULL};

	for (int i = 0; act && ok[i]; i++)
		if (strcmp(act, ok[i]) == 0)
			return 1;
	return 0;
}

/* Appends one problem line naming the layer; returns 1 (one problem). */
static int problem(qp_err *err, const keras_layer *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int problem(qp_err *err, const keras_layer *l, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	qp_err_append(err, "%s (layer '%s', class '%s')", msg, l->name, l->class_name);
	return 1;
}

static int check_activation(const keras_layer *l, const char *key, qp_err *err)
{
	const char *act = cfg_activation(l->config, key);

	if (supported_activation(act))
		return 0;
	return problem(err, l, "unsupported %s '%s'", key, act ? act : "?");
}

static int check_channels_last(const keras_layer *l, qp_err *err)
{
	const char *df = cfg_string(l->config, "data_format", "channels_last");

	if (strcmp(df, "channels_last") == 0)
		return 0;
	return problem(err, l, "unsupported data_format '%s'", df);
}

static int check_padding(const keras_layer *l, qp_err *err)
{
	const char *p = cfg_string(l->config, "padding", "valid");

	if (strcmp(p, "valid") == 0 || strcmp(p, "same") == 0)
		return 0;
	return problem(err, l, "unsupported padding '%s'", p);
}

/* Checks that key holds n positive ints (or is absent when dflt != NULL). */
static int check_positive(const keras_layer *l, const char *key, int n,
			  const int64_t *dflt, qp_err *err)
{
	int64_t v[4];
	int i;

	if (cfg_ints(l->config, key, n, v, dflt) != 0)
		return problem(err, l, "missing or malformed %s", key);
	for (i = 0; i < n; i++)
		if (v[i] < 1)
			return problem(err, l, "unsupported %s %lld", key, (long long)v[i]);
	return 0;
}

/* ---- graph building helpers ---------------------------------------------- */

/* Adds a float32 constant tensor holding data. */
static int add_const(keras_ctx *c, const char *name, int rank,
		     const int64_t *dims, const float *data, qp_err *err)
{
	int t = qp_graph_add_tensor(c->g, name, QP_DT_FLOAT32, rank, dims, err);

	if (t < 0 || qp_tensor_alloc_data(&c->g->tensors[t], err) != 0)
		return -1;
	memcpy(c->g->tensors[t].data, data, c->g->tensors[t].nbytes);
	return t;
}

/* Adds node `name` running op on inputs, writing a new tensor out_name of
 * the given (NCHW) shape, which becomes the current tensor.  Returns the
 * node index. */
static int add_op(keras_ctx *c, const char *name, const char *op, int n_in,
		  const int *in, const char *out_name, int rank,
		  const int64_t *dims, qp_err *err)
{
	char *unique = qp_graph_unique_tensor_name(c->g, out_name);
	int out, node;

	if (!unique)
		return qp_err_set(err, "out of memory");
	out = qp_graph_add_tensor(c->g, unique, QP_DT_FLOAT32, rank, dims, err);
	free(unique);
	if (out < 0)
		return -1;
	node = qp_graph_add_node(c->g, name, op, n_in, in, 1, &out, err);
	if (node < 0)
		return -1;
	c->cur = out;
	c->rank = rank;
	memcpy(c->dims, dims, (size_t)rank * sizeof *dims);
	return node;
}

static int set_ints(keras_ctx *c, int node, const char *name, int n,
		    const int64_t *v, qp_err *err)
{
	if (qp_node_set_ints(&c->g->nodes[node], name, n, v) != 0)
		return qp_err_set(err, "out of memory");
	return 0;
}

/* The name the layer's main op writes: the layer's own name, or
 * "<layer>/linear" when an activation node will follow and take it. */
static void main_out_name(const keras_layer *l, const char *act, char *buf,
			  size_t size)
{
	if (strcmp(act, "linear") == 0)
		snprintf(buf, size, "%s", l->name);
	else
		snprintf(buf, size, "%s/linear", l->name);
}

static int emit_more_activation(keras_ctx *c, const keras_layer *l,
				const char *act, const char *nn, qp_err *err);

/* Emits activation act on the current tensor; its output is named out_name.
 * node_name NULL: "<layer>/<act>".  Keras' softmax runs over the last
 * (channel) axis, which is axis 1 of an NCHW tensor and of a 2-D one. */
static int emit_activation(keras_ctx *c, const keras_layer *l, const char *act,
			   const char *node_name, qp_err *err)
{
	char nn[1100];
	int in = c->cur, node;

	if (strcmp(act, "linear") == 0)
		return 0;
	if (!node_name) {
		snprintf(nn, sizeof nn, "%s/%s", l->name, act);
		node_name = nn;
	}
	if (strcmp(act, "relu") == 0)
		return add_op(c, node_name, "Relu", 1, &in, l->name, c->rank, c->dims, err) < 0 ? -1 : 0;
	if (strcmp(act, "softmax") == 0) {
		node = add_op(c, node_name, "Softmax", 1, &in, l->name, c->rank, c->dims, err);
		if (node < 0)
			return -1;
		if (qp_node_set_int(&c->g->nodes[node], "axis", 1) != 0)
			return qp_err_set(err, "out of memory");
		return 0;
	}
	node = emit_more_activation(c, l, act, node_name, err);
	if (node != 0)
		return node < 0 ? -1 : 0;
	return qp_err_set(err, "unsupported activation '%s'", act);   /* check() let it through */
}

/* Keras "same" padding (as TensorFlow): output = ceil(in / stride), the
 * total padding split with the odd element at the end (bottom/right).
 * "valid": no padding.  Returns the output size, < 1 when the window does
 * not fit. */
static int64_t pad_dim(const char *padding, int64_t in, int64_t k,
		       int64_t stride, int64_t dil, int64_t *pad_begin,
		       int64_t *pad_end)
{
	int64_t eff = (k - 1) * dil + 1, out, total;

	if (strcmp(padding, "same") == 0) {
		out = (in + stride - 1) / stride;
		total = (out - 1) * stride + eff - in;
		if (total < 0)
			total = 0;
		*pad_begin = total / 2;
		*pad_end = total - total / 2;
		return out;
	}
	*pad_begin = *pad_end = 0;
	return in < eff ? 0 : (in - eff) / stride + 1;
}

static int need_rank(const keras_ctx *c, int rank, qp_err *err)
{
	if (c->rank == rank)
		return 0;
	return qp_err_set(err, "needs a rank-%d input, got rank %d", rank, c->rank);
}

/* ---- InputLayer ----------------------------------------------------------- */

static const cJSON *input_shape_of(const keras_layer *l)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(l->config, "batch_shape");

	if (!cJSON_IsArray(s))   /* Keras 2 */
		s = cJSON_GetObjectItemCaseSensitive(l->config, "batch_input_shape");
	return cJSON_IsArray(s) ? s : NULL;
}

static int input_check(const keras_layer *l, qp_err *err)
{
	int n = 0;

	if (!input_shape_of(l))
		n += problem(err, l, "no batch_shape");
	if (cfg_bool(l->config, "sparse", 0))
		n += problem(err, l, "unsupported sparse input");
	if (cfg_bool(l->config, "ragged", 0))
		n += problem(err, l, "unsupported ragged input");
	return n;
}

int keras_add_input(keras_ctx *c, const char *name, const cJSON *batch_shape,
		    qp_err *err)
{
	int64_t k[QP_MAX_RANK], dims[QP_MAX_RANK];
	const cJSON *it;
	int rank = 0, t;
	qp_graph_io *io;

	if (c->cur >= 0 && !c->functional)
		return qp_err_set(err, "a second input");
	cJSON_ArrayForEach(it, batch_shape) {
		if (rank >= QP_MAX_RANK)
			return qp_err_set(err, "input shape has more than %d dims", QP_MAX_RANK);
		if (rank == 0 && cJSON_IsNull(it))
			k[rank] = 1;    /* the batch: the IR runs one sample at a time */
		else if (json_int(it, &k[rank]) != 0 || k[rank] < 1)
			return qp_err_set(err, "input shape has an unknown or bad dim %d "
					  "(only fixed shapes are supported)", rank);
		rank++;
	}
	if (rank == 4) {
		/* Keras N,H,W,C -> IR N,C,H,W */
		dims[0] = 1, dims[1] = k[3], dims[2] = k[1], dims[3] = k[2];
	} else if (rank == 3) {
		/* Keras N,L,C -> IR N,C,L */
		dims[0] = 1, dims[1] = k[2], dims[2] = k[1];
	} else if (rank == 2) {
		dims[0] = 1, dims[1] = k[1];
	} else {
		return qp_err_set(err, "unsupported input rank %d (only images N,H,W,C "
				  "and vectors N,F)", rank);
	}
	t = qp_graph_add_tensor(c->g, name, QP_DT_FLOAT32, rank, dims, err);
	if (t < 0)
		return -1;
	io = realloc(c->g->inputs, (size_t)(c->g->n_inputs + 1) * sizeof *io);
	if (!io)
		return qp_err_set(err, "out of memory");
	c->g->inputs = io;
	io[c->g->n_inputs].tensor = t;
	io[c->g->n_inputs].layout = rank >= 3 ? strdup("NHWC") : NULL;
	if (rank >= 3 && !io[c->g->n_inputs].layout)
		return qp_err_set(err, "out of memory");
	c->g->n_inputs++;
	c->cur = t;
	c->rank = rank;
	memcpy(c->dims, dims, (size_t)rank * sizeof *dims);
	return 0;
}

static int input_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return keras_add_input(c, l->name, input_shape_of(l), err);
}

/* ---- Conv2D --------------------------------------------------------------- */

static const int64_t ones2[2] = {1, 1};

static int conv_check(const keras_layer *l, qp_err *err)
{
	int64_t groups;
	int n = 0;

	n += check_positive(l, "filters", 1, NULL, err);
	n += check_positive(l, "kernel_size", 2, NULL, err);
	n += check_positive(l, "strides", 2, ones2, err);
	n += check_positive(l, "dilation_rate", 2, ones2, err);
	n += check_padding(l, err);
	n += check_channels_last(l, err);
	n += check_activation(l, "activation", err);
	if (cfg_ints(l->config, "groups", 1, &groups, ones2) != 0 || groups < 1)
		n += problem(err, l, "malformed groups");
	return n;
}

/* ---- Dense ---------------------------------------------------------------- */

static int dense_check(const keras_layer *l, qp_err *err)
{
	return check_positive(l, "units", 1, NULL, err) +
	       check_activation(l, "activation", err);
}

static int dense_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t units, kdims[2], odims[2], n_feat;
	const char *act = cfg_activation(l->config, "activation");
	keras_array kern = {0}, bias = {0};
	char name[1100];
	float *perm = NULL;
	const float *w;
	int in[3], n_in = 2, rc = -1, fold = c->flatten_pending;

	cfg_ints(l->config, "units", 1, &units, NULL);
	if (fold) {
		/* The NHWC Flatten before us: flatten the NCHW tensor as is
		 * and permute our kernel's rows instead (see flatten_emit). */
		int64_t fdims[2] = {1, c->flat_c * c->flat_h * c->flat_w};
		int x = c->cur;

		if (add_op(c, c->flat_name, "Flatten", 1, &x, c->flat_name, 2, fdims, err) < 0)
			return -1;
		c->flatten_pending = 0;
	} else if (need_rank(c, 2, err) != 0) {
		return -1;
	}
	n_feat = c->dims[1];
	kdims[0] = n_feat, kdims[1] = units;
	if (keras_layer_weight(c, l, 0, 2, kdims, &kern, err) != 0)
		return -1;
	w = kern.data;
	if (fold) {
		/* Keras row (h*W + w)*C + ch holds the weights of the feature
		 * that the NCHW flatten puts at (ch*H + h)*W + w. */
		int64_t C = c->flat_c, H = c->flat_h, W = c->flat_w, ch, h, x;

		perm = malloc((size_t)kern.numel * sizeof *perm);
		if (!perm) {
			qp_err_set(err, "out of memory");
			goto out;
		}
		for (h = 0; h < H; h++)
			for (x = 0; x < W; x++)
				for (ch = 0; ch < C; ch++)
					memcpy(perm + ((ch * H + h) * W + x) * units,
					       kern.data + ((h * W + x) * C + ch) * units,
					       (size_t)units * sizeof *perm);
		w = perm;
		c->flat_name = NULL;
	}
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/kernel", l->name);
	/* Gemm B is the Keras kernel as stored, (in, out), so transB = 0. */
	if ((in[1] = add_const(c, name, 2, kdims, w, err)) < 0)
		goto out;
	if (cfg_bool(l->config, "use_bias", 1)) {
		if (keras_layer_weight(c, l, 1, 1, &units, &bias, err) != 0)
			goto out;
		snprintf(name, sizeof name, "%s/bias", l->name);
		if ((in[2] = add_const(c, name, 1, &units, bias.data, err)) < 0)
			goto out;
		n_in = 3;
	}
	odims[0] = 1, odims[1] = units;
	main_out_name(l, act, name, sizeof name);
	if (add_op(c, l->name, "Gemm", n_in, in, name, 2, odims, err) < 0)
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(perm);
	keras_array_free(&kern);
	keras_array_free(&bias);
	return rc;
}

/* ---- MaxPooling2D --------------------------------------------------------- */

static const int64_t twos2[2] = {2, 2};

static int maxpool_check(const keras_layer *l, qp_err *err)
{
	int64_t pool[2];

	if (cfg_ints(l->config, "pool_size", 2, pool, twos2) != 0)
		pool[0] = pool[1] = 1;
	return check_positive(l, "pool_size", 2, twos2, err) +
	       check_positive(l, "strides", 2, pool, err) +   /* null = pool_size */
	       check_padding(l, err) + check_channels_last(l, err);
}

static int maxpool_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t pool[2], s[2], pb[2], pe[2], odims[4], pads[4];
	const char *padding = cfg_string(l->config, "padding", "valid");
	int in = c->cur, node, j;

	cfg_ints(l->config, "pool_size", 2, pool, twos2);
	cfg_ints(l->config, "strides", 2, s, pool);
	if (need_rank(c, 4, err) != 0)
		return -1;
	odims[0] = 1, odims[1] = c->dims[1];
	for (j = 0; j < 2; j++) {
		odims[2 + j] = pad_dim(padding, c->dims[2 + j], pool[j], s[j], 1, &pb[j], &pe[j]);
		if (odims[2 + j] < 1)
			return qp_err_set(err, "pool %lldx%lld does not fit the %lldx%lld input",
					  (long long)pool[0], (long long)pool[1],
					  (long long)c->dims[2], (long long)c->dims[3]);
	}
	pads[0] = pb[0], pads[1] = pb[1], pads[2] = pe[0], pads[3] = pe[1];
	node = add_op(c, l->name, "MaxPool", 1, &in, l->name, 4, odims, err);
	if (node < 0)
		return -1;
	/* MaxPool ignores padded cells (ONNX pads with -inf), as Keras does. */
	if (set_ints(c, node, "kernel_shape", 2, pool, err) != 0 ||
	    set_ints(c, node, "strides", 2, s, err) != 0 ||
	    set_ints(c, node, "pads", 4, pads, err) != 0)
		return -1;
	return 0;
}

/* ---- Flatten -------------------------------------------------------------- */

static int flatten_check(const keras_layer *l, qp_err *err)
{
	return check_channels_last(l, err);
}

/* Keras flattens an N,H,W,C tensor in NHWC order; the IR's tensor is
 * N,C,H,W, whose plain Flatten orders the same numbers differently.  Two
 * fixes: Transpose(0,2,3,1) before the Flatten, or permute the rows of the
 * Dense kernel that consumes the flattened vector.  We permute when a
 * Dense follows (through Dropouts), which is what real classifiers do:
 * the graph then has no layout op at all, so no Transpose has to be
 * calibrated, quantized, lowered or run on the device, and the weights
 * cost nothing extra.  Otherwise (Flatten last, or followed by another
 * layer) we emit the Transpose, which is always correct.  Hence the
 * Flatten is decided lazily: it only records itself here, and the next
 * layer either folds it (Dense) or has it flushed first (everything else,
 * see keras_flush_flatten).  When H = W = 1 the orders agree and a plain
 * Flatten is emitted at once. */
static int flatten_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int in = c->cur;

	if (c->rank == 2)
		return 0;        /* already flat: Keras' Flatten is the identity */
	if (need_rank(c, 4, err) != 0)
		return -1;
	if (c->dims[2] * c->dims[3] == 1) {
		int64_t fdims[2] = {1, c->dims[1]};

		return add_op(c, l->name, "Flatten", 1, &in, l->name, 2, fdims, err) < 0 ? -1 : 0;
	}
	c->flat_name = l->name;
	c->flat_c = c->dims[1], c->flat_h = c->dims[2], c->flat_w = c->dims[3];
	c->flatten_pending = 1;
	/* In a graph the consumers are not known here: emit it now. */
	return c->functional ? keras_flush_flatten(c, err) : 0;
}

int keras_flush_flatten(keras_ctx *c, qp_err *err)
{
	int64_t perm[4] = {0, 2, 3, 1};
	int64_t tdims[4] = {1, c->flat_h, c->flat_w, c->flat_c};
	int64_t fdims[2] = {1, c->flat_c * c->flat_h * c->flat_w};
	char name[1100];
	int in = c->cur, node;

	if (!c->flatten_pending)
		return 0;
	c->flatten_pending = 0;
	snprintf(name, sizeof name, "%s/nhwc", c->flat_name);
	node = add_op(c, name, "Transpose", 1, &in, name, 4, tdims, err);
	if (node < 0 || set_ints(c, node, "perm", 4, perm, err) != 0)
		return -1;
	in = c->cur;
	if (add_op(c, c->flat_name, "Flatten", 1, &in, c->flat_name, 2, fdims, err) < 0)
		return -1;
	c->flat_name = NULL;
	return 0;
}

/* ---- Dropout, activations ------------------------------------------------- */

static int no_check(const keras_layer *l, qp_err *err)
{
	return 0;
}

/* Dropout is the identity at inference. */
static int dropout_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return 0;
}

static int activation_check(const keras_layer *l, qp_err *err)
{
	return check_activation(l, "activation", err);
}

static int activation_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const char *act = cfg_activation(l->config, "activation");

	return emit_activation(c, l, act, l->name, err);   /* linear: nothing */
}

static int softmax_check(const keras_layer *l, qp_err *err)
{
	int64_t axis, minus1 = -1;

	if (cfg_ints(l->config, "axis", 1, &axis, &minus1) != 0 || axis != -1)
		return problem(err, l, "unsupported axis (only -1)");
	return 0;
}

static int softmax_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return emit_activation(c, l, "softmax", l->name, err);
}

/* ---- more activations ----------------------------------------------------- */

/* Adds a float constant of n values shaped for broadcasting against an
 * IR tensor of rank `rank` along the channel axis 1 ([n] for rank 2,
 * [n,1] for rank 3, [n,1,1] for rank 4); n = 1 gives a [1] scalar. */
static int add_channel_const(keras_ctx *c, const char *name, int rank,
			     int64_t n, const float *v, qp_err *err)
{
	int64_t dims[QP_MAX_RANK];
	int r = 1, i;

	dims[0] = n;
	if (n > 1)
		for (i = 2; i < rank; i++)
			dims[r++] = 1;
	return add_const(c, name, r, dims, v, err);
}

/* cur = cur <op> scalar v */
static int emit_scalar_op(keras_ctx *c, const char *node, const char *op,
			  float v, const char *out_name, qp_err *err)
{
	char name[1200];
	int in[2];

	snprintf(name, sizeof name, "%s/const", node);
	in[0] = c->cur;
	if ((in[1] = add_channel_const(c, name, c->rank, 1, &v, err)) < 0)
		return -1;
	return add_op(c, node, op, 2, in, out_name, c->rank, c->dims, err) < 0 ? -1 : 0;
}

static int emit_clip(keras_ctx *c, const char *node, float lo, float hi,
		     const char *out_name, qp_err *err)
{
	char name[1200];
	int in[3];

	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/min", node);
	if ((in[1] = add_channel_const(c, name, c->rank, 1, &lo, err)) < 0)
		return -1;
	snprintf(name, sizeof name, "%s/max", node);
	if ((in[2] = add_channel_const(c, name, c->rank, 1, &hi, err)) < 0)
		return -1;
	return add_op(c, node, "Clip", 3, in, out_name, c->rank, c->dims, err) < 0 ? -1 : 0;
}

/* The activations beyond relu/softmax; 1 = handled, 0 = not ours, -1. */
static int emit_more_activation(keras_ctx *c, const keras_layer *l,
				const char *act, const char *nn, qp_err *err)
{
	const char *unary = NULL;
	char name[1200];
	int in = c->cur, node, x = c->cur;

	if (!strcmp(act, "sigmoid")) unary = "Sigmoid";
	else if (!strcmp(act, "tanh")) unary = "Tanh";
	else if (!strcmp(act, "elu")) unary = "Elu";
	if (unary)
		return add_op(c, nn, unary, 1, &in, l->name, c->rank, c->dims, err) < 0 ? -1 : 1;
	if (!strcmp(act, "relu6"))
		return emit_clip(c, nn, 0.0f, 6.0f, l->name, err) < 0 ? -1 : 1;
	if (!strcmp(act, "hard_sigmoid") || !strcmp(act, "hard_swish") ||
	    !strcmp(act, "hard_silu")) {
		/* Keras 2: clip(0.2x + 0.5); Keras 3: relu6(x + 3) / 6. */
		float alpha = c->keras_major >= 3 || strcmp(act, "hard_sigmoid") ? 1.0f / 6 : 0.2f;

		node = add_op(c, nn, strcmp(act, "hard_sigmoid") ? "HardSwish" : "HardSigmoid",
			      1, &in, l->name, c->rank, c->dims, err);
		if (node < 0 || qp_node_set_float(&c->g->nodes[node], "alpha", alpha) != 0 ||
		    qp_node_set_float(&c->g->nodes[node], "beta", 0.5f) != 0)
			return -1;
		return 1;
	}
	if (!strcmp(act, "swish") || !strcmp(act, "silu")) {
		int ins[2];

		snprintf(name, sizeof name, "%s/sigmoid", nn);
		if (add_op(c, name, "Sigmoid", 1, &in, name, c->rank, c->dims, err) < 0)
			return -1;
		ins[0] = x, ins[1] = c->cur;
		return add_op(c, nn, "Mul", 2, ins, l->name, c->rank, c->dims, err) < 0 ? -1 : 1;
	}
	if (!strcmp(act, "gelu")) {
		/* 0.5 x (1 + erf(x / sqrt 2)) */
		int ins[2];
		char n2[1200];

		snprintf(name, sizeof name, "%s/scaled", nn);
		if (emit_scalar_op(c, name, "Mul", (float)M_SQRT1_2, name, err) != 0)
			return -1;
		in = c->cur;
		snprintf(name, sizeof name, "%s/erf", nn);
		if (add_op(c, name, "Erf", 1, &in, name, c->rank, c->dims, err) < 0)
			return -1;
		snprintf(name, sizeof name, "%s/plus1", nn);
		if (emit_scalar_op(c, name, "Add", 1.0f, name, err) != 0)
			return -1;
		snprintf(n2, sizeof n2, "%s/half", nn);
		if (emit_scalar_op(c, n2, "Mul", 0.5f, n2, err) != 0)
			return -1;
		ins[0] = x, ins[1] = c->cur;
		return add_op(c, nn, "Mul", 2, ins, l->name, c->rank, c->dims, err) < 0 ? -1 : 1;
	}
	return 0;
}

/* ---- convolutions: Conv1D, Conv2D, DepthwiseConv2D ------------------------ */

enum { CONV_PLAIN, CONV_DEPTHWISE };

static int convnd_check(const keras_layer *l, int sp, int kind, qp_err *err)
{
	static const int64_t ones[2] = {1, 1};
	int64_t groups;
	int n = 0;

	if (kind == CONV_PLAIN)
		n += check_positive(l, "filters", 1, NULL, err);
	else
		n += check_positive(l, "depth_multiplier", 1, ones, err);
	n += check_positive(l, "kernel_size", sp, NULL, err);
	n += check_positive(l, "strides", sp, ones, err);
	n += check_positive(l, "dilation_rate", sp, ones, err);
	n += check_padding(l, err);
	n += check_channels_last(l, err);
	n += check_activation(l, "activation", err);
	if (cfg_ints(l->config, "groups", 1, &groups, ones) != 0 || groups < 1)
		n += problem(err, l, "malformed groups");
	return n;
}

static int conv1d_check(const keras_layer *l, qp_err *err)
{
	return convnd_check(l, 1, CONV_PLAIN, err);
}

static int dwconv_check(const keras_layer *l, qp_err *err)
{
	return convnd_check(l, 2, CONV_DEPTHWISE, err);
}

static int convnd_emit(keras_ctx *c, const keras_layer *l, int sp, int kind,
		       qp_err *err)
{
	static const int64_t ones[2] = {1, 1};
	int64_t filters, mult = 1, k[2], s[2], d[2], groups, pb[2], pe[2], out_sp[2];
	int64_t kdims[4], odims[4], wdims[4], pads[4], cin, cin_g, kh, kw, o, i, y, x;
	const char *padding = cfg_string(l->config, "padding", "valid");
	const char *act = cfg_activation(l->config, "activation");
	keras_array kern = {0}, bias = {0};
	char name[1100];
	float *w = NULL;
	int in[3], n_in = 2, node, j, rc = -1;

	cfg_ints(l->config, "kernel_size", sp, k, NULL);
	cfg_ints(l->config, "strides", sp, s, ones);
	cfg_ints(l->config, "dilation_rate", sp, d, ones);
	cfg_ints(l->config, "groups", 1, &groups, ones);
	if (need_rank(c, sp + 2, err) != 0)
		return -1;
	cin = c->dims[1];
	if (kind == CONV_DEPTHWISE) {
		cfg_ints(l->config, "depth_multiplier", 1, &mult, ones);
		groups = cin;
		filters = cin * mult;
	} else {
		cfg_ints(l->config, "filters", 1, &filters, NULL);
	}
	if (cin % groups != 0)
		return qp_err_set(err, "groups %lld does not divide the %lld input channels",
				  (long long)groups, (long long)cin);
	cin_g = cin / groups;
	for (j = 0; j < sp; j++) {
		out_sp[j] = pad_dim(padding, c->dims[2 + j], k[j], s[j], d[j], &pb[j], &pe[j]);
		if (out_sp[j] < 1)
			return qp_err_set(err, "the kernel does not fit the input");
	}
	kh = sp == 2 ? k[0] : 1;
	kw = k[sp - 1];
	/* Keras kernels: (k..., cin/groups, filters), depthwise (k..., cin, mult) */
	for (j = 0; j < sp; j++)
		kdims[j] = k[j];
	kdims[sp] = kind == CONV_DEPTHWISE ? cin : cin_g;
	kdims[sp + 1] = kind == CONV_DEPTHWISE ? mult : filters;
	if (keras_layer_weight(c, l, 0, sp + 2, kdims, &kern, err) != 0)
		return -1;
	w = malloc((size_t)kern.numel * sizeof *w);
	if (!w) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	if (kind == CONV_DEPTHWISE) {
		/* output channel i*mult + m reads input channel i */
		for (y = 0; y < kh; y++)
			for (x = 0; x < kw; x++)
				for (i = 0; i < cin; i++)
					for (o = 0; o < mult; o++)
						w[(i * mult + o) * kh * kw + y * kw + x] =
							kern.data[((y * kw + x) * cin + i) * mult + o];
		cin_g = 1;
	} else {
		for (y = 0; y < kh; y++)
			for (x = 0; x < kw; x++)
				for (i = 0; i < cin_g; i++)
					for (o = 0; o < filters; o++)
						w[((o * cin_g + i) * kh + y) * kw + x] =
							kern.data[((y * kw + x) * cin_g + i) * filters + o];
	}
	wdims[0] = filters, wdims[1] = cin_g;
	for (j = 0; j < sp; j++)
		wdims[2 + j] = k[j];
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/kernel", l->name);
	if ((in[1] = add_const(c, name, sp + 2, wdims, w, err)) < 0)
		goto out;
	if (cfg_bool(l->config, "use_bias", 1)) {
		if (keras_layer_weight(c, l, 1, 1, &filters, &bias, err) != 0)
			goto out;
		snprintf(name, sizeof name, "%s/bias", l->name);
		if ((in[2] = add_const(c, name, 1, &filters, bias.data, err)) < 0)
			goto out;
		n_in = 3;
	}
	odims[0] = 1, odims[1] = filters;
	for (j = 0; j < sp; j++)
		odims[2 + j] = out_sp[j];
	main_out_name(l, act, name, sizeof name);
	node = add_op(c, l->name, "Conv", n_in, in, name, sp + 2, odims, err);
	if (node < 0)
		goto out;
	for (j = 0; j < sp; j++)
		pads[j] = pb[j], pads[sp + j] = pe[j];
	if (set_ints(c, node, "kernel_shape", sp, k, err) != 0 ||
	    set_ints(c, node, "strides", sp, s, err) != 0 ||
	    set_ints(c, node, "pads", 2 * sp, pads, err) != 0 ||
	    set_ints(c, node, "dilations", sp, d, err) != 0 ||
	    qp_node_set_int(&c->g->nodes[node], "group", groups) != 0)
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(w);
	keras_array_free(&kern);
	keras_array_free(&bias);
	return rc;
}

static int conv1d_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return convnd_emit(c, l, 1, CONV_PLAIN, err);
}

static int dwconv_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return convnd_emit(c, l, 2, CONV_DEPTHWISE, err);
}

/* ---- Conv2DTranspose ------------------------------------------------------ */

static int tconv_check(const keras_layer *l, qp_err *err)
{
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(l->config, "output_padding");
	int n = convnd_check(l, 2, CONV_PLAIN, err);

	if (op && !cJSON_IsNull(op))
		n += problem(err, l, "unsupported output_padding");
	return n;
}

static int tconv_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t filters, k[2], s[2], d[2], pads[4], opad[2], odims[4], kdims[4], wdims[4];
	int64_t cin, y, x, i, o;
	const char *padding = cfg_string(l->config, "padding", "valid");
	const char *act = cfg_activation(l->config, "activation");
	keras_array kern = {0}, bias = {0};
	char name[1100];
	float *w = NULL;
	int in[3], n_in = 2, node, j, rc = -1;

	cfg_ints(l->config, "filters", 1, &filters, NULL);
	cfg_ints(l->config, "kernel_size", 2, k, NULL);
	cfg_ints(l->config, "strides", 2, s, ones2);
	cfg_ints(l->config, "dilation_rate", 2, d, ones2);
	if (need_rank(c, 4, err) != 0)
		return -1;
	cin = c->dims[1];
	for (j = 0; j < 2; j++) {
		int64_t eff = (k[j] - 1) * d[j] + 1, full = s[j] * (c->dims[2 + j] - 1) + eff;

		if (!strcmp(padding, "same")) {
			/* the pads of the forward "same" conv this is the gradient of */
			int64_t total = eff - s[j] > 0 ? eff - s[j] : 0;

			pads[j] = total / 2, pads[2 + j] = total - total / 2;
			odims[2 + j] = s[j] * c->dims[2 + j];
		} else {
			pads[j] = pads[2 + j] = 0;
			odims[2 + j] = full > s[j] * c->dims[2 + j] ? full : s[j] * c->dims[2 + j];
			if (full < odims[2 + j])
				odims[2 + j] = full;
		}
		opad[j] = odims[2 + j] - (full - pads[j] - pads[2 + j]);
	}
	kdims[0] = k[0], kdims[1] = k[1], kdims[2] = filters, kdims[3] = cin;
	if (keras_layer_weight(c, l, 0, 4, kdims, &kern, err) != 0)
		return -1;
	/* Keras (kh, kw, out, in) -> ConvTranspose (in, out, kh, kw) */
	w = malloc((size_t)kern.numel * sizeof *w);
	if (!w) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (y = 0; y < k[0]; y++)
		for (x = 0; x < k[1]; x++)
			for (o = 0; o < filters; o++)
				for (i = 0; i < cin; i++)
					w[((i * filters + o) * k[0] + y) * k[1] + x] =
						kern.data[((y * k[1] + x) * filters + o) * cin + i];
	wdims[0] = cin, wdims[1] = filters, wdims[2] = k[0], wdims[3] = k[1];
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/kernel", l->name);
	if ((in[1] = add_const(c, name, 4, wdims, w, err)) < 0)
		goto out;
	if (cfg_bool(l->config, "use_bias", 1)) {
		if (keras_layer_weight(c, l, 1, 1, &filters, &bias, err) != 0)
			goto out;
		snprintf(name, sizeof name, "%s/bias", l->name);
		if ((in[2] = add_const(c, name, 1, &filters, bias.data, err)) < 0)
			goto out;
		n_in = 3;
	}
	odims[0] = 1, odims[1] = filters;
	main_out_name(l, act, name, sizeof name);
	node = add_op(c, l->name, "ConvTranspose", n_in, in, name, 4, odims, err);
	if (node < 0)
		goto out;
	if (set_ints(c, node, "kernel_shape", 2, k, err) != 0 ||
	    set_ints(c, node, "strides", 2, s, err) != 0 ||
	    set_ints(c, node, "pads", 4, pads, err) != 0 ||
	    set_ints(c, node, "dilations", 2, d, err) != 0 ||
	    ((opad[0] || opad[1]) && set_ints(c, node, "output_padding", 2, opad, err) != 0))
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(w);
	keras_array_free(&kern);
	keras_array_free(&bias);
	return rc;
}

/* ---- BatchNormalization --------------------------------------------------- */

static int bn_check(const keras_layer *l, qp_err *err)
{
	const cJSON *axis = cJSON_GetObjectItemCaseSensitive(l->config, "axis");

	if (cJSON_IsArray(axis) && cJSON_GetArraySize(axis) == 1)
		axis = cJSON_GetArrayItem(axis, 0);
	/* -1 or the last axis (checked against the rank at emit time) */
	if (!cJSON_IsNumber(axis))
		return problem(err, l, "unsupported axis");
	return 0;
}

static int bn_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *axis = cJSON_GetObjectItemCaseSensitive(l->config, "axis");
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(l->config, "epsilon");
	int64_t ch = c->dims[1];
	keras_array a[4] = {{0}};
	float *ones = NULL, *zeros = NULL;
	static const char *const what[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
	int have[4], k = 0, j, in[5], node, rc = -1;

	if (cJSON_IsArray(axis))
		axis = cJSON_GetArrayItem(axis, 0);
	if (axis->valueint != -1 && axis->valueint != c->rank - 1)
		return qp_err_set(err, "unsupported axis %d (only the channel axis)", axis->valueint);
	have[0] = cfg_bool(l->config, "scale", 1);
	have[1] = cfg_bool(l->config, "center", 1);
	have[2] = have[3] = 1;
	ones = malloc((size_t)ch * sizeof *ones);
	zeros = calloc((size_t)ch, sizeof *zeros);
	if (!ones || !zeros) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (j = 0; j < ch; j++)
		ones[j] = 1.0f;
	in[0] = c->cur;
	for (j = 0; j < 4; j++) {
		char name[1200];

		snprintf(name, sizeof name, "%s/%s", l->name, what[j]);
		if (have[j] && keras_layer_weight(c, l, k++, 1, &ch, &a[j], err) != 0)
			goto out;
		if ((in[1 + j] = add_const(c, name, 1, &ch, have[j] ? a[j].data : j ? zeros : ones, err)) < 0)
			goto out;
	}
	node = add_op(c, l->name, "BatchNormalization", 5, in, l->name, c->rank, c->dims, err);
	if (node < 0 || qp_node_set_float(&c->g->nodes[node], "epsilon",
					  cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-3f) != 0)
		goto out;
	rc = 0;
out:
	for (j = 0; j < 4; j++)
		keras_array_free(&a[j]);
	free(ones);
	free(zeros);
	return rc;
}

/* ---- merging layers ------------------------------------------------------- */

static int merge_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const char *cls = l->class_name, *op;
	int variadic = 0, i, node, in[2];
	char name[1200];

	if (c->n_ins < 2)
		return qp_err_set(err, "needs at least 2 inputs, got %d", c->n_ins);
	if (!strcmp(cls, "Add")) op = "Add";
	else if (!strcmp(cls, "Subtract")) op = "Sub";
	else if (!strcmp(cls, "Multiply")) op = "Mul";
	else if (!strcmp(cls, "Maximum")) op = "Max", variadic = 1;
	else if (!strcmp(cls, "Minimum")) op = "Min", variadic = 1;
	else op = "Mean", variadic = 1;
	if (!strcmp(cls, "Subtract") && c->n_ins != 2)
		return qp_err_set(err, "needs exactly 2 inputs, got %d", c->n_ins);
	if (variadic)
		return add_op(c, l->name, op, c->n_ins, c->ins, l->name, c->rank, c->dims, err) < 0 ? -1 : 0;
	in[0] = c->ins[0];
	for (i = 1; i < c->n_ins; i++) {
		in[1] = c->ins[i];
		if (i + 1 < c->n_ins)
			snprintf(name, sizeof name, "%s/%d", l->name, i);
		else
			snprintf(name, sizeof name, "%s", l->name);
		node = add_op(c, name, op, 2, in, name, c->rank, c->dims, err);
		if (node < 0)
			return -1;
		in[0] = c->cur;
	}
	return 0;
}

/* ---- pooling -------------------------------------------------------------- */

static int pool_emit(keras_ctx *c, const keras_layer *l, int sp, const char *op,
		     qp_err *err)
{
	int64_t pool[2], s[2], pb[2], pe[2], odims[4], pads[4];
	const char *padding = cfg_string(l->config, "padding", "valid");
	int in = c->cur, node, j;

	cfg_ints(l->config, "pool_size", sp, pool, twos2);
	cfg_ints(l->config, "strides", sp, s, pool);
	if (need_rank(c, sp + 2, err) != 0)
		return -1;
	odims[0] = 1, odims[1] = c->dims[1];
	for (j = 0; j < sp; j++) {
		odims[2 + j] = pad_dim(padding, c->dims[2 + j], pool[j], s[j], 1, &pb[j], &pe[j]);
		if (odims[2 + j] < 1)
			return qp_err_set(err, "the pool window does not fit the input");
		pads[j] = pb[j], pads[sp + j] = pe[j];
	}
	node = add_op(c, l->name, op, 1, &in, l->name, sp + 2, odims, err);
	if (node < 0)
		return -1;
	/* Keras' "same" average pooling divides by the cells inside the
	 * input only: count_include_pad 0. */
	if (set_ints(c, node, "kernel_shape", sp, pool, err) != 0 ||
	    set_ints(c, node, "strides", sp, s, err) != 0 ||
	    set_ints(c, node, "pads", 2 * sp, pads, err) != 0 ||
	    (!strcmp(op, "AveragePool") &&
	     qp_node_set_int(&c->g->nodes[node], "count_include_pad", 0) != 0))
		return -1;
	return 0;
}

static int pool1d_check(const keras_layer *l, qp_err *err)
{
	static const int64_t two = 2;
	int64_t pool;

	if (cfg_ints(l->config, "pool_size", 1, &pool, &two) != 0)
		pool = 1;
	return check_positive(l, "pool_size", 1, &two, err) +
	       check_positive(l, "strides", 1, &pool, err) +
	       check_padding(l, err) + check_channels_last(l, err);
}

static int maxpool1d_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return pool_emit(c, l, 1, "MaxPool", err);
}

static int avgpool1d_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return pool_emit(c, l, 1, "AveragePool", err);
}

static int avgpool_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return pool_emit(c, l, 2, "AveragePool", err);
}

static int gpool_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t odims[4] = {1, c->dims[1], 1, 1}, fdims[2] = {1, c->dims[1]};
	const char *op = strstr(l->class_name, "Max") ? "GlobalMaxPool" : "GlobalAveragePool";
	int keep = cfg_bool(l->config, "keepdims", 0), in = c->cur;
	char name[1200];

	if (c->rank != 3 && c->rank != 4)
		return qp_err_set(err, "needs a rank-3 or rank-4 input, got rank %d", c->rank);
	snprintf(name, sizeof name, "%s%s", l->name, keep ? "" : "/pool");
	if (add_op(c, keep ? l->name : name, op, 1, &in, name, c->rank, odims, err) < 0)
		return -1;
	if (keep)
		return 0;
	in = c->cur;
	return add_op(c, l->name, "Flatten", 1, &in, l->name, 2, fdims, err) < 0 ? -1 : 0;
}

/* ---- ReLU, Rescaling, ZeroPadding2D, UpSampling2D, Reshape ---------------- */

static int relu2_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(l->config, "max_value");
	const cJSON *slope = cJSON_GetObjectItemCaseSensitive(l->config, "negative_slope");
	double ns = cJSON_IsNumber(slope) ? slope->valuedouble : 0;
	int in = c->cur, node;
	char name[1200];

	if (ns != 0) {
		snprintf(name, sizeof name, "%s%s", l->name, cJSON_IsNumber(max) ? "/leaky" : "");
		node = add_op(c, name, "LeakyRelu", 1, &in, name, c->rank, c->dims, err);
		if (node < 0 || qp_node_set_float(&c->g->nodes[node], "alpha", (float)ns) != 0)
			return -1;
		if (!cJSON_IsNumber(max))
			return 0;
		return emit_clip(c, l->name, -INFINITY, (float)max->valuedouble, l->name, err);
	}
	if (cJSON_IsNumber(max))
		return emit_clip(c, l->name, 0.0f, (float)max->valuedouble, l->name, err);
	return emit_activation(c, l, "relu", l->name, err);
}

static int relu2_check(const keras_layer *l, qp_err *err)
{
	const cJSON *thr = cJSON_GetObjectItemCaseSensitive(l->config, "threshold");
	const cJSON *slope = cJSON_GetObjectItemCaseSensitive(l->config, "negative_slope");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(l->config, "max_value");
	int n = 0;

	if (thr && !(cJSON_IsNumber(thr) && thr->valuedouble == 0))
		n += problem(err, l, "unsupported threshold %.9g",
			     cJSON_IsNumber(thr) ? thr->valuedouble : NAN);
	if (slope && !cJSON_IsNumber(slope))
		n += problem(err, l, "malformed negative_slope");
	if (max && !cJSON_IsNull(max) && !cJSON_IsNumber(max))
		n += problem(err, l, "malformed max_value");
	return n;
}

static int rescaling_check(const keras_layer *l, qp_err *err)
{
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(l->config, "scale");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(l->config, "offset");

	if (!cJSON_IsNumber(sc) || (off && !cJSON_IsNumber(off)))
		return problem(err, l, "unsupported scale/offset (only numbers)");
	return 0;
}

static int rescaling_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(l->config, "scale");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(l->config, "offset");
	double o = cJSON_IsNumber(off) ? off->valuedouble : 0;
	char name[1200];

	snprintf(name, sizeof name, "%s%s", l->name, o != 0 ? "/scale" : "");
	if (emit_scalar_op(c, name, "Mul", (float)sc->valuedouble, name, err) != 0)
		return -1;
	if (o == 0)
		return 0;
	return emit_scalar_op(c, l->name, "Add", (float)o, l->name, err);
}

/* ((top, bottom), (left, right)), or (h, w), or n */
static int zeropad_amounts(const cJSON *cfg, const char *key, int64_t *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	int j;

	if (cJSON_IsNumber(v)) {
		p[0] = p[1] = p[2] = p[3] = v->valueint;
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
		return -1;
	for (j = 0; j < 2; j++) {
		const cJSON *e = cJSON_GetArrayItem(v, j);

		if (cJSON_IsNumber(e)) {
			p[2 * j] = p[2 * j + 1] = e->valueint;
		} else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2) {
			p[2 * j] = cJSON_GetArrayItem(e, 0)->valueint;
			p[2 * j + 1] = cJSON_GetArrayItem(e, 1)->valueint;
		} else {
			return -1;
		}
	}
	return 0;
}

static int zeropad_check(const keras_layer *l, qp_err *err)
{
	int64_t p[4];

	if (zeropad_amounts(l->config, "padding", p) != 0)
		return problem(err, l, "malformed padding");
	return check_channels_last(l, err);
}

static int zeropad_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t p[4], pads[8] = {0}, odims[4];
	int in = c->cur, node;

	zeropad_amounts(l->config, "padding", p);
	if (need_rank(c, 4, err) != 0)
		return -1;
	/* [top, bottom, left, right] -> ONNX begins then ends over N,C,H,W */
	pads[2] = p[0], pads[6] = p[1], pads[3] = p[2], pads[7] = p[3];
	odims[0] = 1, odims[1] = c->dims[1];
	odims[2] = c->dims[2] + p[0] + p[1], odims[3] = c->dims[3] + p[2] + p[3];
	node = add_op(c, l->name, "Pad", 1, &in, l->name, 4, odims, err);
	if (node < 0 || set_ints(c, node, "pads", 8, pads, err) != 0)
		return -1;
	return 0;
}

static int upsample_check(const keras_layer *l, qp_err *err)
{
	const char *m = cfg_string(l->config, "interpolation", "nearest");
	int n = check_positive(l, "size", 2, twos2, err) + check_channels_last(l, err);

	if (strcmp(m, "nearest") && strcmp(m, "bilinear"))
		n += problem(err, l, "unsupported interpolation '%s'", m);
	return n;
}

static int upsample_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t sz[2], odims[4];
	float scales[4];
	const char *m = cfg_string(l->config, "interpolation", "nearest");
	int in = c->cur, node, bil = !strcmp(m, "bilinear");

	cfg_ints(l->config, "size", 2, sz, twos2);
	if (need_rank(c, 4, err) != 0)
		return -1;
	odims[0] = 1, odims[1] = c->dims[1];
	odims[2] = c->dims[2] * sz[0], odims[3] = c->dims[3] * sz[1];
	scales[0] = scales[1] = 1.0f, scales[2] = (float)sz[0], scales[3] = (float)sz[1];
	node = add_op(c, l->name, "Resize", 1, &in, l->name, 4, odims, err);
	/* nearest: source index floor(dst / size) (asymmetric, floor);
	 * bilinear: TensorFlow's half_pixel resize. */
	if (node < 0 || set_ints(c, node, "sizes", 4, odims, err) != 0 ||
	    qp_node_set_floats(&c->g->nodes[node], "scales", 4, scales) != 0 ||
	    qp_node_set_string(&c->g->nodes[node], "mode", bil ? "linear" : "nearest") != 0 ||
	    qp_node_set_string(&c->g->nodes[node], "coordinate_transformation_mode",
			       bil ? "half_pixel" : "asymmetric") != 0 ||
	    (!bil && qp_node_set_string(&c->g->nodes[node], "nearest_mode", "floor") != 0))
		return qp_err_set(err, "out of memory");
	return 0;
}

static int reshape_check(const keras_layer *l, qp_err *err)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(l->config, "target_shape");

	if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) < 1 || cJSON_GetArraySize(t) > 3)
		return problem(err, l, "unsupported target_shape (rank 1 to 3)");
	return 0;
}

/* Keras reshapes the channels-last tensor: go to channels-last, Reshape
 * with the Keras shape (batch 1), come back to channels-first. */
static int reshape_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(l->config, "target_shape"), *it;
	int64_t shape[QP_MAX_RANK], kd[QP_MAX_RANK], nd[QP_MAX_RANK], perm[QP_MAX_RANK];
	int64_t numel = 1, known = 1, sdim;
	int r = 1, j, unknown = -1, in, node, shape_t;
	char name[1200];

	for (j = 0; j < c->rank; j++)
		numel *= c->dims[j];
	shape[0] = 1;
	cJSON_ArrayForEach(it, t) {
		shape[r] = it->valueint;
		if (shape[r] == -1)
			unknown = r;
		else
			known *= shape[r];
		r++;
	}
	if (unknown >= 0 && known > 0)
		shape[unknown] = numel / known;
	if (c->rank >= 3) {
		/* to channels-last */
		perm[0] = 0;
		for (j = 1; j < c->rank - 1; j++)
			perm[j] = j + 1, kd[j] = c->dims[j + 1];
		perm[c->rank - 1] = 1, kd[c->rank - 1] = c->dims[1], kd[0] = 1;
		in = c->cur;
		snprintf(name, sizeof name, "%s/nhwc", l->name);
		node = add_op(c, name, "Transpose", 1, &in, name, c->rank, kd, err);
		if (node < 0 || set_ints(c, node, "perm", c->rank, perm, err) != 0)
			return -1;
	}
	snprintf(name, sizeof name, "%s/shape", l->name);
	sdim = r;
	shape_t = qp_graph_add_tensor(c->g, name, QP_DT_INT64, 1, &sdim, err);
	if (shape_t < 0 || qp_tensor_alloc_data(&c->g->tensors[shape_t], err) != 0)
		return -1;
	memcpy(c->g->tensors[shape_t].data, shape, (size_t)r * sizeof *shape);
	{
		int ins[2] = {c->cur, shape_t};

		snprintf(name, sizeof name, "%s%s", l->name, r >= 3 ? "/reshape" : "");
		if (add_op(c, name, "Reshape", 2, ins, name, r, shape, err) < 0)
			return -1;
	}
	if (r >= 3) {
		perm[0] = 0, perm[1] = r - 1, nd[0] = 1, nd[1] = shape[r - 1];
		for (j = 2; j < r; j++)
			perm[j] = j - 1, nd[j] = shape[j - 1];
		in = c->cur;
		node = add_op(c, l->name, "Transpose", 1, &in, l->name, r, nd, err);
		if (node < 0 || set_ints(c, node, "perm", r, perm, err) != 0)
			return -1;
	}
	return 0;
}

static int conv2d_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return convnd_emit(c, l, 2, CONV_PLAIN, err);
}

static int avgpool_check(const keras_layer *l, qp_err *err)
{
	return maxpool_check(l, err);
}

/* ---- the table ------------------------------------------------------------ */

static const keras_layer_def layer_table[] = {
	{"InputLayer", input_check, input_emit, 0},
	{"Conv2D", conv_check, conv2d_emit, 0},
	{"Conv1D", conv1d_check, conv1d_emit, 0},
	{"DepthwiseConv2D", dwconv_check, dwconv_emit, 0},
	{"Conv2DTranspose", tconv_check, tconv_emit, 0},
	{"BatchNormalization", bn_check, bn_emit, 0},
	{"Add", no_check, merge_emit, 0},
	{"Subtract", no_check, merge_emit, 0},
	{"Multiply", no_check, merge_emit, 0},
	{"Maximum", no_check, merge_emit, 0},
	{"Minimum", no_check, merge_emit, 0},
	{"Average", no_check, merge_emit, 0},
	{"AveragePooling2D", avgpool_check, avgpool_emit, 0},
	{"MaxPooling1D", pool1d_check, maxpool1d_emit, 0},
	{"AveragePooling1D", pool1d_check, avgpool1d_emit, 0},
	{"GlobalAveragePooling1D", no_check, gpool_emit, 0},
	{"GlobalAveragePooling2D", no_check, gpool_emit, 0},
	{"GlobalMaxPooling1D", no_check, gpool_emit, 0},
	{"GlobalMaxPooling2D", no_check, gpool_emit, 0},
	{"Rescaling", rescaling_check, rescaling_emit, 0},
	{"ZeroPadding2D", zeropad_check, zeropad_emit, 0},
	{"UpSampling2D", upsample_check, upsample_emit, 0},
	{"Reshape", reshape_check, reshape_emit, 0},
	{"SpatialDropout1D", no_check, dropout_emit, 1},
	{"SpatialDropout2D", no_check, dropout_emit, 1},
	{"Dense", dense_check, dense_emit, 1},
	{"MaxPooling2D", maxpool_check, maxpool_emit, 0},
	{"Flatten", flatten_check, flatten_emit, 0},
	{"Dropout", no_check, dropout_emit, 1},
	{"ReLU", relu2_check, relu2_emit, 0},
	{"Activation", activation_check, activation_emit, 0},
	{"Softmax", softmax_check, softmax_emit, 0},
	{NULL, NULL, NULL, 0}
};

const keras_layer_def *keras_layer_find(const char *class_name)
{
	const keras_layer_def *d;

	for (d = layer_table; d->class_name; d++)
		if (strcmp(d->class_name, class_name) == 0)
			return d;
	return NULL;
}

int keras_add_output(keras_ctx *c, int t, qp_err *err)
{
	qp_graph_io *io = realloc(c->g->outputs, (size_t)(c->g->n_outputs + 1) * sizeof *io);
	int rank = c->g->tensors[t].rank;

	if (!io)
		return qp_err_set(err, "out of memory");
	c->g->outputs = io;
	io += c->g->n_outputs;
	io->tensor = t;
	/* An image (or sequence) output goes back to the user in Keras' layout. */
	io->layout = rank >= 3 ? strdup("NHWC") : NULL;
	if (rank >= 3 && !io->layout)
		return qp_err_set(err, "out of memory");
	c->g->n_outputs++;
	return 0;
}
