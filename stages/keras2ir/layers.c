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
	return act && (strcmp(act, "linear") == 0 || strcmp(act, "relu") == 0 ||
		       strcmp(act, "softmax") == 0);
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

	if (c->cur >= 0)
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
	io[c->g->n_inputs].layout = rank == 4 ? strdup("NHWC") : NULL;
	if (rank == 4 && !io[c->g->n_inputs].layout)
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

static int conv_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t filters, k[2], s[2], d[2], groups, pb[2], pe[2], out_hw[2];
	int64_t kdims[4], odims[4], wdims[4], pads[4], cin, cin_g, kh, kw, o, i, y, x;
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
	cfg_ints(l->config, "groups", 1, &groups, ones2);
	if (need_rank(c, 4, err) != 0)
		return -1;
	cin = c->dims[1];
	if (cin % groups != 0)
		return qp_err_set(err, "groups %lld does not divide the %lld input channels",
				  (long long)groups, (long long)cin);
	cin_g = cin / groups;
	kh = k[0], kw = k[1];
	for (j = 0; j < 2; j++) {
		out_hw[j] = pad_dim(padding, c->dims[2 + j], k[j], s[j], d[j], &pb[j], &pe[j]);
		if (out_hw[j] < 1)
			return qp_err_set(err, "kernel %lldx%lld does not fit the %lldx%lld input",
					  (long long)k[0], (long long)k[1],
					  (long long)c->dims[2], (long long)c->dims[3]);
	}
	kdims[0] = kh, kdims[1] = kw, kdims[2] = cin_g, kdims[3] = filters;
	if (keras_layer_weight(c, l, 0, 4, kdims, &kern, err) != 0)
		return -1;
	/* HWIO -> OIHW */
	w = malloc((size_t)kern.numel * sizeof *w);
	if (!w) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (y = 0; y < kh; y++)
		for (x = 0; x < kw; x++)
			for (i = 0; i < cin_g; i++)
				for (o = 0; o < filters; o++)
					w[((o * cin_g + i) * kh + y) * kw + x] =
						kern.data[((y * kw + x) * cin_g + i) * filters + o];
	wdims[0] = filters, wdims[1] = cin_g, wdims[2] = kh, wdims[3] = kw;
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
	odims[0] = 1, odims[1] = filters, odims[2] = out_hw[0], odims[3] = out_hw[1];
	main_out_name(l, act, name, sizeof name);
	node = add_op(c, l->name, "Conv", n_in, in, name, 4, odims, err);
	if (node < 0)
		goto out;
	pads[0] = pb[0], pads[1] = pb[1], pads[2] = pe[0], pads[3] = pe[1];
	if (set_ints(c, node, "kernel_shape", 2, k, err) != 0 ||
	    set_ints(c, node, "strides", 2, s, err) != 0 ||
	    set_ints(c, node, "pads", 4, pads, err) != 0 ||
	    set_ints(c, node, "dilations", 2, d, err) != 0 ||
	    qp_node_set_int(&c->g->nodes[node], "group", groups) != 0)
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(w);
	keras_array_free(&kern);
	keras_array_free(&bias);
	return rc;
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
	return 0;
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

static int relu_check(const keras_layer *l, qp_err *err)
{
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(l->config, "max_value");
	const cJSON *slope = cJSON_GetObjectItemCaseSensitive(l->config, "negative_slope");
	const cJSON *thr = cJSON_GetObjectItemCaseSensitive(l->config, "threshold");
	int n = 0;

	if (max && !cJSON_IsNull(max))
		n += problem(err, l, "unsupported max_value %.9g",
			     cJSON_IsNumber(max) ? max->valuedouble : NAN);
	if (slope && !(cJSON_IsNumber(slope) && slope->valuedouble == 0))
		n += problem(err, l, "unsupported negative_slope %.9g",
			     cJSON_IsNumber(slope) ? slope->valuedouble : NAN);
	if (thr && !(cJSON_IsNumber(thr) && thr->valuedouble == 0))
		n += problem(err, l, "unsupported threshold %.9g",
			     cJSON_IsNumber(thr) ? thr->valuedouble : NAN);
	return n;
}

static int relu_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	return emit_activation(c, l, "relu", l->name, err);
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

/* ---- the table ------------------------------------------------------------ */

static const keras_layer_def layer_table[] = {
	{"InputLayer", input_check, input_emit, 0},
	{"Conv2D", conv_check, conv_emit, 0},
	{"Dense", dense_check, dense_emit, 1},
	{"MaxPooling2D", maxpool_check, maxpool_emit, 0},
	{"Flatten", flatten_check, flatten_emit, 0},
	{"Dropout", no_check, dropout_emit, 1},
	{"ReLU", relu_check, relu_emit, 0},
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

int keras_finish_graph(keras_ctx *c, qp_err *err)
{
	qp_graph_io *io;

	if (keras_flush_flatten(c, err) != 0)
		return -1;
	if (c->cur < 0)
		return qp_err_set(err, "model has no input");
	io = calloc(1, sizeof *io);
	if (!io)
		return qp_err_set(err, "out of memory");
	io->tensor = c->cur;
	/* An image output goes back to the user in Keras' layout. */
	io->layout = c->rank == 4 ? strdup("NHWC") : NULL;
	free(c->g->outputs);
	c->g->outputs = io;
	c->g->n_outputs = 1;
	if (c->rank == 4 && !io->layout)
		return qp_err_set(err, "out of memory");
	return 0;
}
