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

#include "json.h"

/* ---- config helpers ------------------------------------------------------- */

static const char *cfg_string(const cJSON *cfg, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* Config integers are whole numbers that fit an int. */
#define CFG_INT_MAX 1000000000

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
		if (qp_json_int(v, -CFG_INT_MAX, CFG_INT_MAX, &out[0]) != 0)
			return -1;
		for (i = 1; i < n; i++)
			out[i] = out[0];
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
		return -1;
	cJSON_ArrayForEach(it, v)
		if (qp_json_int(it, -CFG_INT_MAX, CFG_INT_MAX, &out[i++]) != 0)
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

/* A later call of a shared layer ("<layer>/call<k>/kernel") reuses the
 * first call's constant ("<layer>/kernel") when it holds the same numbers,
 * so the weights exist once in the graph as they do in the model. */
static int shared_const(const keras_ctx *c, const char *name, int rank,
			const int64_t *dims, const float *data)
{
	size_t n = c->call_name ? strlen(c->call_name) : 0;
	char first[1400];
	const qp_tensor *t;
	int64_t numel = 1;
	int i, ti;

	if (!n || strncmp(name, c->call_name, n) != 0 || name[n] != '/')
		return -1;
	snprintf(first, sizeof first, "%s%s", c->base_name, name + n);
	if ((ti = qp_graph_find_tensor(c->g, first)) < 0)
		return -1;
	t = &c->g->tensors[ti];
	if (!t->data || t->dtype != QP_DT_FLOAT32 || t->rank != rank)
		return -1;
	for (i = 0; i < rank; i++) {
		if (t->dims[i] != dims[i])
			return -1;
		numel *= dims[i];
	}
	return memcmp(t->data, data, (size_t)numel * sizeof *data) ? -1 : ti;
}

/* Adds a float32 constant tensor holding data. */
static int add_const(keras_ctx *c, const char *name, int rank,
		     const int64_t *dims, const float *data, qp_err *err)
{
	int t = shared_const(c, name, rank, dims, data);

	if (t >= 0)
		return t;
	t = qp_graph_add_tensor(c->g, name, QP_DT_FLOAT32, rank, dims, err);

	if (t < 0 || qp_tensor_alloc_data(&c->g->tensors[t], err) != 0)
		return -1;
	memcpy(c->g->tensors[t].data, data, c->g->tensors[t].nbytes);
	return t;
}

/* Adds the constants "<wname>/kernel" (w: rank, dims) as in[1] and, when
 * bias is not NULL, "<wname>/bias" (n values) as in[2]; in[0] is the
 * current tensor.  Returns the number of inputs, 2 or 3, or -1. */
static int add_kernel_bias(keras_ctx *c, const char *wname, const float *w, int rank,
			   const int64_t *dims, const float *bias, int64_t n, int *in,
			   qp_err *err)
{
	char name[1200];

	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/kernel", wname);
	if ((in[1] = add_const(c, name, rank, dims, w, err)) < 0)
		return -1;
	if (!bias)
		return 2;
	snprintf(name, sizeof name, "%s/bias", wname);
	if ((in[2] = add_const(c, name, 1, &n, bias, err)) < 0)
		return -1;
	return 3;
}

/* Weight k, the bias of n values, when the layer uses one (use_bias);
 * otherwise b stays empty (b->data NULL). */
static int load_bias(keras_ctx *c, const keras_layer *l, int k, int64_t n,
		     keras_array *b, qp_err *err)
{
	if (!cfg_bool(l->config, "use_bias", 1))
		return 0;
	return keras_layer_weight(c, l, k, 1, &n, b, err);
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
		else if (qp_json_int(it, 1, CFG_INT_MAX, &k[rank]) != 0)
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

static int dense_nd_emit(keras_ctx *c, const keras_layer *l, int64_t units,
			 const char *act, qp_err *err);

static int dense_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t units, kdims[2], odims[2], n_feat;
	const char *act = cfg_activation(l->config, "activation");
	keras_array kern = {0}, bias = {0};
	char name[1100];
	float *perm = NULL;
	const float *w;
	int in[3], n_in, rc = -1, fold = c->flatten_pending;

	cfg_ints(l->config, "units", 1, &units, NULL);
	if (fold) {
		/* The NHWC Flatten before us: flatten the NCHW tensor as is
		 * and permute our kernel's rows instead (see flatten_emit). */
		int64_t fdims[2] = {1, c->flat_c * c->flat_h * c->flat_w};
		int x = c->cur;

		if (add_op(c, c->flat_name, "Flatten", 1, &x, c->flat_name, 2, fdims, err) < 0)
			return -1;
		c->flatten_pending = 0;
	} else if (c->rank == 3 || c->rank == 4) {
		return dense_nd_emit(c, l, units, act, err);
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
	if (load_bias(c, l, 1, units, &bias, err) != 0)
		goto out;
	/* Gemm B is the Keras kernel as stored, (in, out), so transB = 0. */
	n_in = add_kernel_bias(c, l->name, w, 2, kdims, bias.data, units, in, err);
	if (n_in < 0)
		goto out;
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
	if (c->rank != 3 && need_rank(c, 4, err) != 0)
		return -1;
	if (c->rank == 3 ? c->dims[2] == 1 : c->dims[2] * c->dims[3] == 1) {
		int64_t fdims[2] = {1, c->dims[1]};

		return add_op(c, l->name, "Flatten", 1, &in, l->name, 2, fdims, err) < 0 ? -1 : 0;
	}
	/* a sequence N,C,L is an image with H = 1 */
	c->flat_name = l->name;
	c->flat_rank = c->rank;
	c->flat_c = c->dims[1];
	c->flat_h = c->rank == 3 ? 1 : c->dims[2];
	c->flat_w = c->dims[c->rank - 1];
	c->flatten_pending = 1;
	/* In a graph the consumers are not known here: emit it now. */
	return c->functional ? keras_flush_flatten(c, err) : 0;
}

int keras_flush_flatten(keras_ctx *c, qp_err *err)
{
	int64_t perm[4] = {0, 2, 3, 1}, perm3[3] = {0, 2, 1};
	int64_t tdims[4] = {1, c->flat_h, c->flat_w, c->flat_c};
	int64_t tdims3[3] = {1, c->flat_w, c->flat_c};
	int r = c->flat_rank;
	int64_t fdims[2] = {1, c->flat_c * c->flat_h * c->flat_w};
	char name[1100];
	int in = c->cur, node;

	if (!c->flatten_pending)
		return 0;
	c->flatten_pending = 0;
	snprintf(name, sizeof name, "%s/nhwc", c->flat_name);
	node = add_op(c, name, "Transpose", 1, &in, name, r, r == 3 ? tdims3 : tdims, err);
	if (node < 0 || set_ints(c, node, "perm", r, r == 3 ? perm3 : perm, err) != 0)
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
	if (!strcmp(act, "hard_swish") || !strcmp(act, "hard_silu"))
		/* Keras 3's hard_silu (hard_swish its alias) is x relu6(x + 3) / 6,
		 * ONNX HardSwish exactly, which has no attributes; Keras 2 has no
		 * built-in of that name. */
		return add_op(c, nn, "HardSwish", 1, &in, l->name, c->rank, c->dims, err) < 0
			? -1 : 1;
	if (!strcmp(act, "hard_sigmoid")) {
		/* Keras 2: clip(0.2x + 0.5); Keras 3: relu6(x + 3) / 6. */
		float alpha = c->keras_major >= 3 ? 1.0f / 6 : 0.2f;

		node = add_op(c, nn, "HardSigmoid", 1, &in, l->name, c->rank, c->dims, err);
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

/* Keras kernels keep the spatial dims first, (kh, kw, a, b); the IR's
 * put them last.  Writes (b, a, kh, kw) when swap (Conv: (in, out) ->
 * (out, in); ConvTranspose: (out, in) -> (in, out)), else (a*b, 1, kh, kw)
 * with channel i*b + m (depthwise: input channel i, multiplier m). */
static void spatial_last(const float *src, int64_t kh, int64_t kw, int64_t a,
			 int64_t b, int swap, float *dst)
{
	for (int64_t y = 0; y < kh; y++)
		for (int64_t x = 0; x < kw; x++)
			for (int64_t i = 0; i < a; i++)
				for (int64_t o = 0; o < b; o++)
					dst[((swap ? o * a + i : i * b + o) * kh + y) * kw + x] =
						src[((y * kw + x) * a + i) * b + o];
}

/* A convolution's geometry in IR terms: sp spatial dims, pads as ONNX
 * (begins then ends), output spatial size. */
typedef struct conv_geom {
	int sp;
	int64_t k[2], s[2], d[2], pads[4], group, out_sp[2];
} conv_geom;

/* Reads kernel weight k (Keras dims kdims, spatial first: (kh, kw, a, b))
 * into a new buffer in the IR's order (spatial_last); NULL on failure. */
static float *load_kernel(keras_ctx *c, const keras_layer *l, int k, int rank,
			  const int64_t *kdims, int64_t kh, int64_t kw, int64_t a,
			  int64_t b, int swap, qp_err *err)
{
	keras_array raw = {0};
	float *w;

	if (keras_layer_weight(c, l, k, rank, kdims, &raw, err) != 0)
		return NULL;
	w = malloc((size_t)raw.numel * sizeof *w);
	if (w)
		spatial_last(raw.data, kh, kw, a, b, swap, w);
	else
		qp_err_set(err, "out of memory");
	keras_array_free(&raw);
	return w;
}

/* The geometry of a convolution over the current tensor with Keras padding
 * ("same": TensorFlow's pads, the odd one at the end). */
static int conv_geometry(const keras_ctx *c, const char *padding, int sp,
			 const int64_t *k, const int64_t *s, const int64_t *d,
			 int64_t group, conv_geom *geo, qp_err *err)
{
	memset(geo, 0, sizeof *geo);
	geo->sp = sp;
	geo->group = group;
	for (int j = 0; j < sp; j++) {
		geo->k[j] = k[j], geo->s[j] = s[j], geo->d[j] = d[j];
		geo->out_sp[j] = pad_dim(padding, c->dims[2 + j], k[j], s[j], d[j],
					 &geo->pads[j], &geo->pads[sp + j]);
		if (geo->out_sp[j] < 1)
			return qp_err_set(err, "the kernel does not fit the input");
	}
	return 0;
}

/* Adds Conv(cur, "<wname>/kernel" w (OIHW / OIW), "<wname>/bias" bias or
 * none) as node node_name writing out_name; it becomes the current
 * tensor. */
static int add_conv_node(keras_ctx *c, const char *node_name, const char *wname,
			 const char *out_name, const float *w, int64_t filters,
			 int64_t cin_g, const float *bias, const conv_geom *geo,
			 qp_err *err)
{
	int64_t wdims[4], odims[4];
	int in[3], n_in, node, j, sp = geo->sp;

	wdims[0] = filters, wdims[1] = cin_g;
	for (j = 0; j < sp; j++)
		wdims[2 + j] = geo->k[j];
	n_in = add_kernel_bias(c, wname, w, sp + 2, wdims, bias, filters, in, err);
	if (n_in < 0)
		return -1;
	odims[0] = 1, odims[1] = filters;
	for (j = 0; j < sp; j++)
		odims[2 + j] = geo->out_sp[j];
	node = add_op(c, node_name, "Conv", n_in, in, out_name, sp + 2, odims, err);
	if (node < 0)
		return -1;
	if (set_ints(c, node, "kernel_shape", sp, geo->k, err) != 0 ||
	    set_ints(c, node, "strides", sp, geo->s, err) != 0 ||
	    set_ints(c, node, "pads", 2 * sp, geo->pads, err) != 0 ||
	    set_ints(c, node, "dilations", sp, geo->d, err) != 0 ||
	    qp_node_set_int(&c->g->nodes[node], "group", geo->group) != 0)
		return qp_err_set(err, "out of memory");
	return 0;
}


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
	int64_t filters, mult = 1, k[2], s[2], d[2], groups, kdims[4], cin, cin_g;
	const char *padding = cfg_string(l->config, "padding", "valid");
	const char *act = cfg_activation(l->config, "activation");
	keras_array bias = {0};
	char name[1100];
	float *w = NULL;
	conv_geom geo;
	int j, rc = -1;

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
	if (conv_geometry(c, padding, sp, k, s, d, groups, &geo, err) != 0)
		return -1;
	/* Keras kernels: (k..., cin/groups, filters), depthwise (k..., cin, mult) */
	for (j = 0; j < sp; j++)
		kdims[j] = k[j];
	kdims[sp] = kind == CONV_DEPTHWISE ? cin : cin_g;
	kdims[sp + 1] = kind == CONV_DEPTHWISE ? mult : filters;
	w = load_kernel(c, l, 0, sp + 2, kdims, sp == 2 ? k[0] : 1, k[sp - 1],
			kdims[sp], kdims[sp + 1], kind != CONV_DEPTHWISE, err);
	if (!w || load_bias(c, l, 1, filters, &bias, err) != 0)
		goto out;
	main_out_name(l, act, name, sizeof name);
	if (add_conv_node(c, l->name, l->name, name, w, filters,
			  kind == CONV_DEPTHWISE ? 1 : cin_g, bias.data, &geo, err) != 0)
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(w);
	keras_array_free(&bias);
	return rc;
}

/* Dense on a sequence or an image acts on the channels of every position:
 * a 1x1 convolution in the IR's channels-first layout. */
static int dense_nd_emit(keras_ctx *c, const keras_layer *l, int64_t units,
			 const char *act, qp_err *err)
{
	int64_t kdims[2] = {c->dims[1], units}, cin = c->dims[1];
	int sp = c->rank - 2, rc = -1;
	conv_geom geo = {sp, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1,
			 {c->dims[2], c->dims[c->rank - 1]}};
	keras_array bias = {0};
	float *w = load_kernel(c, l, 0, 2, kdims, 1, 1, cin, units, 1, err);
	char name[1100];

	if (!w || load_bias(c, l, 1, units, &bias, err) != 0)
		goto out;
	main_out_name(l, act, name, sizeof name);
	if (add_conv_node(c, l->name, l->name, name, w, units, cin, bias.data, &geo, err) != 0)
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(w);
	keras_array_free(&bias);
	return rc;
}

static int sepconv_check(const keras_layer *l, qp_err *err)
{
	static const int64_t one = 1;

	return convnd_check(l, 2, CONV_PLAIN, err) +
	       check_positive(l, "depth_multiplier", 1, &one, err);
}

/* SeparableConv2D: a depthwise convolution (strides, dilation, padding;
 * output channel i*mult + m reads input channel i) then a pointwise 1x1
 * convolution with the bias and the activation. */
static int sepconv_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	static const int64_t ones[2] = {1, 1};
	int64_t filters, mult, k[2], s[2], d[2], cin, dk[4], pk[4];
	const char *padding = cfg_string(l->config, "padding", "valid");
	const char *act = cfg_activation(l->config, "activation");
	keras_array bias = {0};
	float *w1 = NULL, *w2 = NULL;
	char name[1100], nd[1100];
	conv_geom g1, g2;
	int rc = -1;

	cfg_ints(l->config, "filters", 1, &filters, NULL);
	cfg_ints(l->config, "depth_multiplier", 1, &mult, ones);
	cfg_ints(l->config, "kernel_size", 2, k, NULL);
	cfg_ints(l->config, "strides", 2, s, ones);
	cfg_ints(l->config, "dilation_rate", 2, d, ones);
	if (need_rank(c, 4, err) != 0)
		return -1;
	cin = c->dims[1];
	if (conv_geometry(c, padding, 2, k, s, d, cin, &g1, err) != 0)
		return -1;
	/* the pointwise convolution keeps the depthwise output's size */
	g2 = g1;
	g2.group = 1;
	for (int j = 0; j < 2; j++)
		g2.k[j] = g2.s[j] = g2.d[j] = 1, g2.pads[j] = g2.pads[2 + j] = 0;
	dk[0] = k[0], dk[1] = k[1], dk[2] = cin, dk[3] = mult;
	pk[0] = 1, pk[1] = 1, pk[2] = cin * mult, pk[3] = filters;
	if (!(w1 = load_kernel(c, l, 0, 4, dk, k[0], k[1], cin, mult, 0, err)) ||
	    !(w2 = load_kernel(c, l, 1, 4, pk, 1, 1, cin * mult, filters, 1, err)) ||
	    load_bias(c, l, 2, filters, &bias, err) != 0)
		goto out;
	snprintf(nd, sizeof nd, "%s/depthwise", l->name);
	if (add_conv_node(c, nd, nd, nd, w1, cin * mult, 1, NULL, &g1, err) != 0)
		goto out;
	main_out_name(l, act, name, sizeof name);
	if (add_conv_node(c, l->name, l->name, name, w2, filters, cin * mult, bias.data, &g2, err) != 0)
		goto out;
	rc = emit_activation(c, l, act, NULL, err);
out:
	free(w1);
	free(w2);
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
	int64_t cin;
	const char *padding = cfg_string(l->config, "padding", "valid");
	const char *act = cfg_activation(l->config, "activation");
	keras_array bias = {0};
	char name[1100];
	float *w = NULL;
	int in[3], n_in, node, j, rc = -1;

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
	/* Keras (kh, kw, out, in) -> ConvTranspose (in, out, kh, kw) */
	w = load_kernel(c, l, 0, 4, kdims, k[0], k[1], filters, cin, 1, err);
	if (!w || load_bias(c, l, 1, filters, &bias, err) != 0)
		goto out;
	wdims[0] = cin, wdims[1] = filters, wdims[2] = k[0], wdims[3] = k[1];
	n_in = add_kernel_bias(c, l->name, w, 4, wdims, bias.data, filters, in, err);
	if (n_in < 0)
		goto out;
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

static int relu_threshold_emit(keras_ctx *c, const keras_layer *l, double t,
			       double ns, const cJSON *max, qp_err *err);

static int relu2_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(l->config, "max_value");
	const cJSON *slope = cJSON_GetObjectItemCaseSensitive(l->config, "negative_slope");
	const cJSON *thr = cJSON_GetObjectItemCaseSensitive(l->config, "threshold");
	double ns = cJSON_IsNumber(slope) ? slope->valuedouble : 0;
	int in = c->cur, node;
	char name[1200];

	if (cJSON_IsNumber(thr) && thr->valuedouble != 0)
		return relu_threshold_emit(c, l, thr->valuedouble, ns, max, err);
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

	if (thr && !cJSON_IsNumber(thr))
		n += problem(err, l, "malformed threshold");
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

/* ZeroPadding2D's padding, Cropping2D's cropping: amounts, channels last. */
static int amounts_check(const keras_layer *l, const char *key, qp_err *err)
{
	int64_t p[4];

	if (zeropad_amounts(l->config, key, p) != 0)
		return problem(err, l, "malformed %s", key);
	return check_channels_last(l, err);
}

static int zeropad_check(const keras_layer *l, qp_err *err)
{
	return amounts_check(l, "padding", err);
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

/* ---- layout helpers ------------------------------------------------------- */

/* The IR axis of Keras axis a (negative counts from the end) of a rank-r
 * tensor: Keras is channels-last, the IR channels-first (N,C,spatial...).
 * -1 when out of range or the batch axis. */
static int ir_axis(int64_t a, int r)
{
	if (a < 0)
		a += r;
	if (a < 1 || a >= r)
		return -1;
	if (r <= 2)
		return (int)a;
	return a == r - 1 ? 1 : (int)a + 1;
}

/* The Keras axis of IR axis j of a rank-r tensor (inverse of ir_axis). */
static int keras_axis(int j, int r)
{
	if (r <= 2 || j == 0)
		return j;
	return j == 1 ? r - 1 : j - 1;
}

/* Copies a per-sample Keras array (dims k[0..m), channels last, m = r - 1)
 * into IR order (channels first), writing its IR dims to d. */
static void to_channels_first(const float *src, int m, const int64_t *k,
			      float *dst, int64_t *d)
{
	int64_t ch = k[m - 1], sp = 1, i, j;

	for (j = 0; j < m - 1; j++)
		sp *= k[j];
	d[0] = ch;
	for (j = 1; j < m; j++)
		d[j] = k[j - 1];
	for (i = 0; i < sp; i++)
		for (j = 0; j < ch; j++)
			dst[j * sp + i] = src[i * ch + j];
}

/* ---- LeakyReLU, PReLU, ReLU with a threshold ------------------------------ */

/* Keras 3 calls the slope negative_slope, Keras 2 alpha; both default 0.3. */
static const cJSON *leaky_slope(const keras_layer *l)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(l->config, "negative_slope");

	return v ? v : cJSON_GetObjectItemCaseSensitive(l->config, "alpha");
}

static int leaky_check(const keras_layer *l, qp_err *err)
{
	const cJSON *v = leaky_slope(l);

	if (v && !cJSON_IsNumber(v))
		return problem(err, l, "malformed negative_slope");
	return 0;
}

static int leaky_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *v = leaky_slope(l);
	int in = c->cur, node;

	node = add_op(c, l->name, "LeakyRelu", 1, &in, l->name, c->rank, c->dims, err);
	if (node < 0 || qp_node_set_float(&c->g->nodes[node], "alpha",
					  v ? (float)v->valuedouble : 0.3f) != 0)
		return -1;
	return 0;
}

static int prelu_check(const keras_layer *l, qp_err *err)
{
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(l->config, "shared_axes");

	if (sa && !cJSON_IsNull(sa) && !cJSON_IsArray(sa) && !cJSON_IsNumber(sa))
		return problem(err, l, "malformed shared_axes");
	return 0;
}

/* alpha has the Keras per-sample shape with 1 on the shared axes; the IR
 * slope is the same numbers channels-first, broadcast over the batch. */
static int prelu_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t want[QP_MAX_RANK], d[QP_MAX_RANK];
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(l->config, "shared_axes"), *it;
	keras_array a = {0};
	float *w = NULL;
	char name[1200];
	int m = c->rank - 1, j, in[2], rc = -1;

	for (j = 0; j < m; j++)
		want[j] = c->dims[ir_axis(j + 1, c->rank)];
	if (cJSON_IsNumber(sa)) {
		if (sa->valueint >= 1 && sa->valueint <= m)
			want[sa->valueint - 1] = 1;
	} else if (cJSON_IsArray(sa)) {
		cJSON_ArrayForEach(it, sa)
			if (cJSON_IsNumber(it) && it->valueint >= 1 && it->valueint <= m)
				want[it->valueint - 1] = 1;
	}
	if (keras_layer_weight(c, l, 0, m, want, &a, err) != 0)
		return -1;
	w = malloc((size_t)a.numel * sizeof *w);
	if (!w) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	to_channels_first(a.data, m, want, w, d);
	snprintf(name, sizeof name, "%s/alpha", l->name);
	in[0] = c->cur;
	if ((in[1] = add_const(c, name, m, d, w, err)) < 0)
		goto out;
	rc = add_op(c, l->name, "PRelu", 2, in, l->name, c->rank, c->dims, err) < 0 ? -1 : 0;
out:
	free(w);
	keras_array_free(&a);
	return rc;
}

/* Keras' relu(x, negative_slope, max_value, threshold) with threshold t != 0:
 * x * (x > t), clipped to [0, max_value] when given, minus
 * negative_slope * relu(t - x). */
static int relu_threshold_emit(keras_ctx *c, const keras_layer *l, double t,
			       double ns, const cJSON *max, qp_err *err)
{
	char name[1200];
	int x = c->cur, in[2], node, pos;
	int last = ns == 0 && !cJSON_IsNumber(max);

	snprintf(name, sizeof name, "%s%s", l->name, last ? "" : "/above");
	node = add_op(c, name, "ThresholdedRelu", 1, &x, name, c->rank, c->dims, err);
	if (node < 0 || qp_node_set_float(&c->g->nodes[node], "alpha", (float)t) != 0)
		return -1;
	if (cJSON_IsNumber(max)) {
		snprintf(name, sizeof name, "%s%s", l->name, ns == 0 ? "" : "/clip");
		if (emit_clip(c, name, 0.0f, (float)max->valuedouble, name, err) != 0)
			return -1;
	}
	if (ns == 0)
		return 0;
	pos = c->cur;
	/* relu(t - x) * ns = relu(-(x - t)) * ns: Sub, Neg, Relu, Mul */
	c->cur = x;
	snprintf(name, sizeof name, "%s/shift", l->name);
	if (emit_scalar_op(c, name, "Sub", (float)t, name, err) != 0)
		return -1;
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/neg", l->name);
	if (add_op(c, name, "Neg", 1, in, name, c->rank, c->dims, err) < 0)
		return -1;
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/below", l->name);
	if (add_op(c, name, "Relu", 1, in, name, c->rank, c->dims, err) < 0)
		return -1;
	snprintf(name, sizeof name, "%s/slope", l->name);
	if (emit_scalar_op(c, name, "Mul", (float)ns, name, err) != 0)
		return -1;
	in[0] = pos, in[1] = c->cur;
	return add_op(c, l->name, "Sub", 2, in, l->name, c->rank, c->dims, err) < 0 ? -1 : 0;
}

/* ---- Concatenate, Cropping2D, Permute ------------------------------------- */

static int concat_check(const keras_layer *l, qp_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(l->config, "axis");

	if (a && !cJSON_IsNumber(a))
		return problem(err, l, "malformed axis");
	return 0;
}

static int concat_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(l->config, "axis");
	int64_t dims[QP_MAX_RANK];
	int axis = ir_axis(cJSON_IsNumber(a) ? a->valueint : -1, c->rank), i, j, node;

	if (c->n_ins < 1)
		return qp_err_set(err, "needs inputs");
	if (axis < 0)
		return qp_err_set(err, "axis %d is out of range for rank %d",
				  cJSON_IsNumber(a) ? a->valueint : -1, c->rank);
	memcpy(dims, c->dims, sizeof dims);
	dims[axis] = 0;
	for (i = 0; i < c->n_ins; i++) {
		const qp_tensor *t = &c->g->tensors[c->ins[i]];

		if (t->rank != c->rank)
			return qp_err_set(err, "inputs have ranks %d and %d", c->rank, t->rank);
		for (j = 0; j < c->rank; j++)
			if (j != axis && t->dims[j] != c->dims[j])
				return qp_err_set(err, "input shapes differ off the concatenation axis");
		dims[axis] += t->dims[axis];
	}
	node = add_op(c, l->name, "Concat", c->n_ins, c->ins, l->name, c->rank, dims, err);
	if (node < 0 || qp_node_set_int(&c->g->nodes[node], "axis", axis) != 0)
		return -1;
	return 0;
}

static int crop_check(const keras_layer *l, qp_err *err)
{
	return amounts_check(l, "cropping", err);
}

static int crop_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	int64_t p[4], starts[2], ends[2], axes[2] = {2, 3}, steps[2] = {1, 1}, odims[4];
	int in = c->cur, node;

	zeropad_amounts(l->config, "cropping", p);
	if (need_rank(c, 4, err) != 0)
		return -1;
	if (p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0 ||
	    p[0] + p[1] >= c->dims[2] || p[2] + p[3] >= c->dims[3])
		return qp_err_set(err, "cropping (%lld, %lld), (%lld, %lld) does not fit the %lldx%lld input",
				  (long long)p[0], (long long)p[1], (long long)p[2],
				  (long long)p[3], (long long)c->dims[2], (long long)c->dims[3]);
	starts[0] = p[0], starts[1] = p[2];
	ends[0] = c->dims[2] - p[1], ends[1] = c->dims[3] - p[3];
	odims[0] = 1, odims[1] = c->dims[1];
	odims[2] = ends[0] - starts[0], odims[3] = ends[1] - starts[1];
	node = add_op(c, l->name, "Slice", 1, &in, l->name, 4, odims, err);
	if (node < 0 || set_ints(c, node, "starts", 2, starts, err) != 0 ||
	    set_ints(c, node, "ends", 2, ends, err) != 0 ||
	    set_ints(c, node, "axes", 2, axes, err) != 0 ||
	    set_ints(c, node, "steps", 2, steps, err) != 0)
		return -1;
	return 0;
}

static int permute_check(const keras_layer *l, qp_err *err)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(l->config, "dims"), *it;
	int n = cJSON_GetArraySize(d), seen = 0;

	if (!cJSON_IsArray(d) || n < 1 || n >= QP_MAX_RANK)
		return problem(err, l, "malformed dims");
	cJSON_ArrayForEach(it, d) {
		if (!cJSON_IsNumber(it) || it->valueint < 1 || it->valueint > n ||
		    (seen & (1 << it->valueint)))
			return problem(err, l, "dims is not a permutation of 1..%d", n);
		seen |= 1 << it->valueint;
	}
	return 0;
}

/* One Transpose: IR -> Keras order, Keras' permutation, back to IR order,
 * composed.  Output IR axis j is Keras output axis keras_axis(j), which is
 * Keras input axis q[...], which is IR input axis ir_axis(...). */
static int permute_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(l->config, "dims");
	int64_t q[QP_MAX_RANK], perm[QP_MAX_RANK], odims[QP_MAX_RANK];
	int r = c->rank, j, in = c->cur, node;

	if (cJSON_GetArraySize(d) != r - 1)
		return qp_err_set(err, "dims has %d entries, the input has rank %d",
				  cJSON_GetArraySize(d), r);
	q[0] = 0;
	for (j = 1; j < r; j++)
		q[j] = cJSON_GetArrayItem(d, j - 1)->valueint;
	for (j = 0; j < r; j++) {
		int ka = keras_axis(j, r);

		perm[j] = ka == 0 ? 0 : ir_axis(q[ka], r);
		odims[j] = c->dims[perm[j]];
	}
	node = add_op(c, l->name, "Transpose", 1, &in, l->name, r, odims, err);
	if (node < 0 || set_ints(c, node, "perm", r, perm, err) != 0)
		return -1;
	return 0;
}

/* ---- Normalization, LayerNormalization ------------------------------------ */

static int norm_check(const keras_layer *l, qp_err *err)
{
	const cJSON *axis = cJSON_GetObjectItemCaseSensitive(l->config, "axis");
	int n = 0;

	if (cJSON_IsArray(axis) && cJSON_GetArraySize(axis) == 1)
		axis = cJSON_GetArrayItem(axis, 0);
	if (axis && !(cJSON_IsNumber(axis) && axis->valueint == -1))
		n += problem(err, l, "unsupported axis (only -1, the channels)");
	if (cfg_bool(l->config, "invert", 0))
		n += problem(err, l, "unsupported invert");
	return n;
}

/* The values of a config key holding a number or a list (Normalization's
 * mean/variance given in the config instead of adapted weights). */
static int cfg_floats(const cJSON *v, int64_t n, float *out)
{
	const cJSON *it;
	int64_t i = 0;

	if (cJSON_IsNumber(v)) {
		for (i = 0; i < n; i++)
			out[i] = (float)v->valuedouble;
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
		return -1;
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsNumber(it))
			return -1;
		out[i++] = (float)it->valuedouble;
	}
	return 0;
}

/* (x - mean) / max(sqrt(variance), 1e-7) per channel, as Mul and Add. */
static int norm_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *cm = cJSON_GetObjectItemCaseSensitive(l->config, "mean");
	const cJSON *cv = cJSON_GetObjectItemCaseSensitive(l->config, "variance");
	int64_t ch = c->dims[1], any = -1, j;
	keras_array m = {0}, v = {0};
	float *scale = malloc((size_t)ch * sizeof *scale), *shift = malloc((size_t)ch * sizeof *shift);
	const float *mean, *var;
	char name[1200];
	int in[2], rc = -1;

	if (!scale || !shift) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	if (cm && !cJSON_IsNull(cm)) {
		if (cfg_floats(cm, ch, scale) != 0 || cfg_floats(cv, ch, shift) != 0) {
			qp_err_set(err, "mean and variance must be numbers or lists of %lld", (long long)ch);
			goto out;
		}
		mean = scale, var = shift;
	} else {
		if (keras_layer_weight(c, l, 0, 1, &any, &m, err) != 0 ||
		    keras_layer_weight(c, l, 1, 1, &any, &v, err) != 0)
			goto out;
		if (m.numel != ch || v.numel != ch) {
			qp_err_set(err, "mean and variance have %lld and %lld values, the input %lld channels",
				   (long long)m.numel, (long long)v.numel, (long long)ch);
			goto out;
		}
		mean = m.data, var = v.data;
	}
	/* mean/var may alias scale/shift (config values): read entry j
	 * before writing it */
	for (j = 0; j < ch; j++) {
		double sd = sqrt((double)var[j]), s = 1.0 / (sd > 1e-7 ? sd : 1e-7);
		double mj = mean[j];

		scale[j] = (float)s;
		shift[j] = (float)(-mj * s);
	}
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/scale", l->name);
	if ((in[1] = add_channel_const(c, name, c->rank, ch, scale, err)) < 0 ||
	    add_op(c, name, "Mul", 2, in, name, c->rank, c->dims, err) < 0)
		goto out;
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/shift", l->name);
	if ((in[1] = add_channel_const(c, name, c->rank, ch, shift, err)) < 0 ||
	    add_op(c, l->name, "Add", 2, in, l->name, c->rank, c->dims, err) < 0)
		goto out;
	rc = 0;
out:
	free(scale);
	free(shift);
	keras_array_free(&m);
	keras_array_free(&v);
	return rc;
}

/* Keras axes (an int or a list) of a LayerNormalization; 0 or -1. */
static int ln_axes(const keras_layer *l, int64_t *ax, int *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(l->config, "axis"), *it;

	*n = 0;
	if (!a || cJSON_IsNumber(a)) {
		ax[(*n)++] = a ? a->valueint : -1;
		return 0;
	}
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) >= QP_MAX_RANK)
		return -1;
	cJSON_ArrayForEach(it, a) {
		if (!cJSON_IsNumber(it))
			return -1;
		ax[(*n)++] = it->valueint;
	}
	return 0;
}

static int ln_check(const keras_layer *l, qp_err *err)
{
	int64_t ax[QP_MAX_RANK];
	int n = 0, k;

	if (ln_axes(l, ax, &k) != 0)
		n += problem(err, l, "malformed axis");
	if (cfg_bool(l->config, "rms_scaling", 0))
		n += problem(err, l, "unsupported rms_scaling");
	return n;
}

/* mean and variance over the axes (population variance, as Keras), then
 * (x - mean) / sqrt(var + epsilon) * gamma + beta, from the IR's float
 * ops; gamma and beta have the Keras shape of the normalised axes and go
 * to the IR order broadcast over the others. */
static int ln_emit(keras_ctx *c, const keras_layer *l, qp_err *err)
{
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(l->config, "epsilon");
	int64_t ax[QP_MAX_RANK], axes[QP_MAX_RANK], rdims[QP_MAX_RANK], pdims[QP_MAX_RANK];
	int64_t wk[QP_MAX_RANK], xd[QP_MAX_RANK], numel = 1;
	int r = c->rank, n, j, k, x = c->cur, d, node, in[2], rc = -1, w = 0, is_ax[QP_MAX_RANK] = {0};
	int scale = cfg_bool(l->config, "scale", 1), center = cfg_bool(l->config, "center", 1);
	keras_array gb[2] = {{0}};
	float *p = NULL;
	char name[1200];

	memcpy(xd, c->dims, sizeof xd);
	ln_axes(l, ax, &n);
	for (k = 0; k < n; k++) {
		j = ir_axis(ax[k], r);
		if (j < 0)
			return qp_err_set(err, "axis %lld is out of range for rank %d", (long long)ax[k], r);
		is_ax[j] = 1;
	}
	n = 0;
	for (j = 0; j < r; j++) {
		rdims[j] = is_ax[j] ? 1 : c->dims[j];
		pdims[j] = is_ax[j] ? c->dims[j] : 1;
		if (is_ax[j])
			axes[n++] = j, numel *= c->dims[j];
	}
	/* the Keras shape of gamma/beta: the normalised axes in Keras order */
	for (k = 1; k < r; k++)
		if (is_ax[ir_axis(k, r)])
			wk[w++] = c->dims[ir_axis(k, r)];
	/* mean, x - mean, variance, 1 / sqrt(variance + epsilon) */
	snprintf(name, sizeof name, "%s/mean", l->name);
	node = add_op(c, name, "ReduceMean", 1, &x, name, r, rdims, err);
	if (node < 0 || set_ints(c, node, "axes", n, axes, err) != 0)
		return -1;
	in[0] = x, in[1] = c->cur;
	snprintf(name, sizeof name, "%s/centered", l->name);
	if (add_op(c, name, "Sub", 2, in, name, r, xd, err) < 0)
		return -1;
	d = c->cur;
	in[0] = d, in[1] = d;
	snprintf(name, sizeof name, "%s/square", l->name);
	if (add_op(c, name, "Mul", 2, in, name, r, xd, err) < 0)
		return -1;
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/variance", l->name);
	node = add_op(c, name, "ReduceMean", 1, in, name, r, rdims, err);
	if (node < 0 || set_ints(c, node, "axes", n, axes, err) != 0)
		return -1;
	snprintf(name, sizeof name, "%s/epsilon", l->name);
	if (emit_scalar_op(c, name, "Add", cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-3f,
			   name, err) != 0)
		return -1;
	in[0] = c->cur;
	snprintf(name, sizeof name, "%s/std", l->name);
	if (add_op(c, name, "Sqrt", 1, in, name, r, rdims, err) < 0)
		return -1;
	in[0] = d, in[1] = c->cur;
	snprintf(name, sizeof name, "%s%s", l->name, scale || center ? "/normalized" : "");
	if (add_op(c, name, "Div", 2, in, name, r, xd, err) < 0)
		return -1;
	p = malloc((size_t)numel * sizeof *p);
	if (!p)
		return qp_err_set(err, "out of memory");
	for (k = 0; k < 2; k++) {
		static const char *const what[2] = {"gamma", "beta"};
		int have = k == 0 ? scale : center;

		if (!have)
			continue;
		if (keras_layer_weight(c, l, k == 1 && scale ? 1 : 0, w, wk, &gb[k], err) != 0)
			goto out;
		/* Keras order over the normalised axes -> IR order */
		{
			int64_t ir_idx[QP_MAX_RANK] = {0}, e, src, stride;

			for (e = 0; e < numel; e++) {
				int64_t rem = e;

				for (j = r - 1; j >= 0; j--) {
					ir_idx[j] = rem % pdims[j];
					rem /= pdims[j];
				}
				src = 0, stride = 1;
				for (j = r - 1; j >= 1; j--) {
					int ia = ir_axis(j, r);   /* Keras axis j, innermost first */

					if (!is_ax[ia])
						continue;
					src += ir_idx[ia] * stride;
					stride *= pdims[ia];
				}
				p[e] = gb[k].data[src];
			}
		}
		in[0] = c->cur;
		snprintf(name, sizeof name, "%s/%s", l->name, what[k]);
		if ((in[1] = add_const(c, name, r, pdims, p, err)) < 0)
			goto out;
		snprintf(name, sizeof name, "%s%s", l->name, k == 0 && center ? "/scaled" : "");
		if (add_op(c, name, k == 0 ? "Mul" : "Add", 2, in, name, r, xd, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(p);
	keras_array_free(&gb[0]);
	keras_array_free(&gb[1]);
	return rc;
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
	{"LeakyReLU", leaky_check, leaky_emit, 0},
	{"SeparableConv2D", sepconv_check, sepconv_emit, 0},
	{"PReLU", prelu_check, prelu_emit, 0},
	{"Concatenate", concat_check, concat_emit, 0},
	{"Cropping2D", crop_check, crop_emit, 0},
	{"Permute", permute_check, permute_emit, 0},
	{"Normalization", norm_check, norm_emit, 0},
	{"LayerNormalization", ln_check, ln_emit, 0},
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
