/* Lowering: quantized float ops -> integer ops over int8 activations.
 *
 * One rule per quantized-IR op (the table at the bottom).  A rule reads the
 * source node, its tensors' quant parameters and attributes, and adds the
 * integer node to the new graph with its requantization multipliers
 * precomputed (docs/ir.md section 6).  Rules never stop the pass: each
 * failure is one line in the collected error, so a user sees every node
 * lower cannot handle at once.
 */
#include "lower.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actchain.h"
#include "constop.h"
#include "lowered.h"
#include "ops.h"
#include "quant.h"
#include "tpc.h"

typedef struct ctx {
	const qp_graph *src;
	qp_graph *dst;
	int *map;             /* src tensor -> dst tensor, or -1 */
	unsigned char *skip;  /* src nodes absorbed by a fusion */
	int *fused_into;      /* src node -> the src node it was fused into, or -1 (for --report) */
	int *chain_end;       /* src node -> the end of its activation chain (actchain.h), or -1 */
	int fused_act;        /* the Relu or Clip fused into the node being lowered (fused_output), or -1 */
	qp_err line;          /* the current rule's failure */
	qp_tpc *tpc;          /* meta.target, parsed when first needed */
	int tpc_tried;
} ctx;

/* An activation's integer parameters, unsigned ranges already folded into
 * int8 (q_u8 - 2^(b-1) = q_i8 with zero point zp - 2^(b-1)). */
typedef struct actq {
	float scale;
	int32_t zp, qmin, qmax;
	int bits;
} actq;

static int fail(ctx *c, const qp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(ctx *c, const qp_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qp_err_vnode(&c->line, QP_ERR_SET, n->name, n->op, fmt, ap);
	va_end(ap);
	return -1;
}

static const qp_tensor *stensor(const ctx *c, const qp_node *n, int i)
{
	return i < n->n_inputs && n->inputs[i] >= 0 ? &c->src->tensors[n->inputs[i]] : NULL;
}

/* Src activation t has no quantization parameters: say why.  quantize
 * copies its TPC into meta.target; when the config there that governs t
 * (its producer's operator set, default_config for a graph input) has
 * activation.enabled false, the target left t float on purpose. */
static int no_quant(ctx *c, const qp_node *n, const qp_tensor *t)
{
	const cJSON *j = c->src->meta ?
		cJSON_GetObjectItemCaseSensitive(c->src->meta, "target") : NULL;
	const qp_tpc_op_set *set = NULL;
	const qp_tpc_op_config *cfg = NULL;
	int p = qp_graph_producer(c->src, (int)(t - c->src->tensors));

	if (!c->tpc_tried && j) {
		qp_err ignored = {0};

		/* A target that does not parse explains nothing. */
		qp_tpc_from_json(j, &c->tpc, &ignored);
	}
	c->tpc_tried = 1;
	if (c->tpc && p >= 0 && (set = qp_tpc_find_op(c->tpc, c->src->nodes[p].op)))
		cfg = &set->config;
	else if (c->tpc && p < 0)
		cfg = &c->tpc->default_config;
	if (cfg && !cfg->activation_enabled)
		return fail(c, n, "activations are not quantized: the target (TPC '%s') left '%s' float (activation.enabled false %s%s%s); lower needs int8 activations",
			    c->tpc->name, t->name,
			    set ? "for operator set '" : "in default_config",
			    set ? set->name : "", set ? "'" : "");
	return fail(c, n, "tensor '%s' has no quantization parameters", t->name);
}

static int act_params(ctx *c, const qp_node *n, const qp_tensor *t, actq *a)
{
	const qp_quant *q = t->quant;

	if (!q)
		return no_quant(c, n, t);
	if (q->n != 1)
		return fail(c, n, "activation '%s' is quantized per channel; only per-tensor is supported",
			    t->name);
	if (q->bits > 8 || q->bits < 2)
		return fail(c, n, "activation '%s' has %d bits; only 2..8 are supported",
			    t->name, q->bits);
	a->bits = q->bits;
	a->scale = q->scale[0];
	a->qmin = -(1 << (q->bits - 1));
	a->qmax = (1 << (q->bits - 1)) - 1;
	a->zp = q->is_signed ? q->zero_point[0] : q->zero_point[0] - (1 << (q->bits - 1));
	return 0;
}

static int name_taken(const ctx *c, const char *name)
{
	return qp_graph_find_tensor(c->src, name) >= 0 ||
	       qp_graph_find_tensor(c->dst, name) >= 0;
}

static int node_name_taken(const ctx *c, const char *name)
{
	for (int i = 0; i < c->dst->n_nodes; i++)
		if (strcmp(c->dst->nodes[i].name, name) == 0)
			return 1;
	return 0;
}

/* A fresh name "base", "base_1", ... for which taken() is false. */
static char *fresh_name_by(const ctx *c, const char *base,
			   int (*taken)(const ctx *, const char *))
{
	size_t len = strlen(base) + 24;
	char *s = malloc(len);
	int k;

	if (!s)
		return NULL;
	snprintf(s, len, "%s", base);
	for (k = 1; taken(c, s); k++)
		snprintf(s, len, "%s_%d", base, k);
	return s;
}

/* A fresh tensor name unused in both graphs. */
static char *fresh_name(const ctx *c, const char *base)
{
	return fresh_name_by(c, base, name_taken);
}

static int is_graph_output(const qp_graph *g, int t)
{
	int i;

	for (i = 0; i < g->n_outputs; i++)
		if (g->outputs[i].tensor == t)
			return 1;
	return 0;
}

static int is_graph_input(const qp_graph *g, int t)
{
	int i;

	for (i = 0; i < g->n_inputs; i++)
		if (g->inputs[i].tensor == t)
			return 1;
	return 0;
}

/* The int8 twin in dst of src activation st, created on first use. */
static int dst_act(ctx *c, const qp_node *n, int st)
{
	const qp_tensor *s = &c->src->tensors[st];
	qp_quant *q;
	actq a;
	char *name;
	int t;

	if (c->map[st] >= 0)
		return c->map[st];
	if (s->data)
		return fail(c, n, "tensor '%s' is a constant where an activation is expected", s->name);
	if (act_params(c, n, s, &a))
		return -1;
	/* Graph inputs and outputs keep their names for the float tensors at
	 * the boundary; their int8 twins get "_q". */
	if (is_graph_input(c->src, st) || is_graph_output(c->src, st)) {
		size_t len = strlen(s->name) + 3;
		char *base = malloc(len);

		if (base)
			snprintf(base, len, "%s_q", s->name);
		name = base ? fresh_name(c, base) : NULL;
		free(base);
	} else {
		name = strdup(s->name);
	}
	if (!name)
		return fail(c, n, "out of memory");
	t = qp_graph_add_tensor(c->dst, name, QP_DT_INT8, s->rank, s->dims, &c->line);
	free(name);
	if (t < 0)
		return -1;
	if (!(q = qp_quant_new(1)))
		return fail(c, n, "out of memory");
	q->scheme = a.zp ? QP_Q_ASYMMETRIC : s->quant->scheme;
	q->bits = a.bits;
	q->is_signed = 1;
	q->axis = -1;
	q->scale[0] = a.scale;
	q->zero_point[0] = a.zp;
	c->dst->tensors[t].quant = q;
	c->map[st] = t;
	return t;
}

/* A copy in dst of src constant st (data and quant). */
static int dst_const(ctx *c, const qp_node *n, int st)
{
	const qp_tensor *s = &c->src->tensors[st];
	int t;

	if (c->map[st] >= 0)
		return c->map[st];
	if (!s->data)
		return fail(c, n, "tensor '%s' must be a constant", s->name);
	t = qp_graph_add_tensor(c->dst, s->name, s->dtype, s->rank, s->dims, &c->line);
	if (t < 0 || qp_tensor_alloc_data(&c->dst->tensors[t], &c->line))
		return -1;
	memcpy(c->dst->tensors[t].data, s->data, s->nbytes);
	if (s->quant && !(c->dst->tensors[t].quant = qp_quant_dup(s->quant)))
		return fail(c, n, "out of memory");
	c->map[st] = t;
	return t;
}

/* Per-channel weight scales; the weights must be symmetric int8. */
static int weight_scales(ctx *c, const qp_node *n, const qp_tensor *w,
			 int channels, int axis, double *s)
{
	const qp_quant *q = w->quant;
	int i;

	if (!w->data || w->dtype != QP_DT_INT8 || !q)
		return fail(c, n, "weights '%s' are not quantized int8 constants", w->name);
	if (q->n != 1 && (q->n != channels || q->axis != axis))
		return fail(c, n, "weights '%s' are not quantized per output channel", w->name);
	for (i = 0; i < q->n; i++)
		if (q->zero_point[i] != 0)
			return fail(c, n, "weights '%s' have a non-zero zero point", w->name);
	for (i = 0; i < channels; i++)
		s[i] = q->scale[q->n == 1 ? 0 : i];
	return 0;
}

static int bias_ok(ctx *c, const qp_node *n, const qp_tensor *b, int64_t channels)
{
	if (!b->data || b->dtype != QP_DT_INT32 || qp_tensor_numel(b) != channels)
		return fail(c, n, "bias '%s' is not an int32 constant of %lld values",
			    b->name, (long long)channels);
	return 0;
}

/* The src tensor the lowered op writes: the fused Relu's output when there
 * is one.  Sets *relu. */
static int fused_output(ctx *c, const qp_node *n, int *relu)
{
	/* The same decision quantize made: it left n's own output unquantized. */
	int r = qp_tpc_fused_relu(c->tpc, c->src, (int)(n - c->src->nodes));

	*relu = r >= 0;
	c->fused_act = r;
	if (r < 0)
		return n->outputs[0];
	c->skip[r] = 1;
	c->fused_into[r] = (int)(n - c->src->nodes);
	return c->src->nodes[r].outputs[0];
}

static int add_node(ctx *c, const qp_node *n, const char *op, int n_in,
		    const int *in, int out)
{
	return qp_graph_add_node(c->dst, n->name, op, n_in, in, 1, &out, &c->line);
}

static int set_mults(ctx *c, int node, const char *mname, const char *sname,
		     int count, const double *real)
{
	int64_t *m = malloc((size_t)count * sizeof *m), *s = malloc((size_t)count * sizeof *s);
	int i, rc = -1;

	if (!m || !s)
		goto out;
	for (i = 0; i < count; i++) {
		int32_t mm;
		int sh;

		if (qp_quantize_multiplier(real[i], &mm, &sh)) {
			qp_err_set(&c->line, "bad requantization scale %g (node '%s')",
				   real[i], c->dst->nodes[node].name);
			goto out;
		}
		m[i] = mm;
		s[i] = sh;
	}
	if (qp_node_set_ints(&c->dst->nodes[node], mname, count, m) ||
	    qp_node_set_ints(&c->dst->nodes[node], sname, count, s))
		qp_err_set(&c->line, "out of memory");
	else
		rc = 0;
out:
	free(m);
	free(s);
	return rc;
}

/* Clip node m's constant bounds quantized by Quantize's rule at a's
 * parameters: a missing bound is the range end, and min > max gives max
 * everywhere, as ONNX does.  Quantization is monotone, so clamping the
 * codes there is the float clamp followed by the quantization. */
static int clip_bounds(ctx *c, const qp_node *m, const actq *a, int32_t *lim)
{
	int i;

	lim[0] = a->qmin;
	lim[1] = a->qmax;
	for (i = 0; i < 2; i++) {
		const qp_tensor *b = stensor(c, m, 1 + i);
		float v;

		if (!b)
			continue;
		if (!b->data || b->dtype != QP_DT_FLOAT32 || qp_tensor_numel(b) != 1)
			return fail(c, m, "bound '%s' is not a float32 constant scalar", b->name);
		v = ((const float *)b->data)[0];
		if (v != v)
			return fail(c, m, "bound '%s' is NaN", b->name);
		lim[i] = qp_rt_quantize_one(v, a->scale, a->zp, a->qmin, a->qmax);
	}
	if (lim[0] > lim[1])
		lim[0] = lim[1];
	return 0;
}

/* act_min and act_max of the lowered node: y's range, from real 0 up with
 * relu.  When relu comes from fused_output and the fused node is a Clip
 * (ReLU6), its bounds at y's parameters instead. */
static int set_range(ctx *c, int node, const actq *y, int relu)
{
	qp_node *d = &c->dst->nodes[node];
	int32_t lim[2] = {relu && y->zp > y->qmin ? y->zp : y->qmin, y->qmax};

	if (relu && c->fused_act >= 0 && !strcmp(c->src->nodes[c->fused_act].op, "Clip") &&
	    clip_bounds(c, &c->src->nodes[c->fused_act], y, lim))
		return -1;
	if (qp_node_set_int(d, "act_min", lim[0]) || qp_node_set_int(d, "act_max", lim[1]))
		return qp_err_set(&c->line, "out of memory");
	return 0;
}

/* ints attribute of n, or the default of count copies of dflt. */
static int get_ints(ctx *c, const qp_node *n, const char *name, int count,
		    int64_t dflt, int64_t *v)
{
	int k, cnt;
	const int64_t *a = qp_node_attr_ints(n, name, &cnt);

	if (!a) {
		for (k = 0; k < count; k++)
			v[k] = dflt;
		return 0;
	}
	if (cnt != count)
		return fail(c, n, "attribute '%s' has %d values, expected %d", name, cnt, count);
	memcpy(v, a, (size_t)count * sizeof *v);
	return 0;
}

/* ---- rules ------------------------------------------------------------------------- */

static int new_temp(ctx *c, const qp_node *n, int like, int rank, const int64_t *dims,
		    const char *suffix);
static int add_view(ctx *c, const qp_node *n, int from, int to, const char *suffix);
static int lower_const_affine(ctx *c, const qp_node *n, const qp_const_affine *ca);
static int add_transpose(ctx *c, const qp_node *n, int from, int to, const int64_t *perm,
			 const char *suffix);
static int const_as_4d(ctx *c, const qp_node *n, const qp_tensor *w, const int64_t *wd);

static int lower_conv(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0), *w = stensor(c, n, 1), *b = stensor(c, n, 2);
	int64_t strides[2], pads[4], dil[2], group = qp_node_attr_int(n, "group", 1);
	actq ax, ay;
	double *real = NULL;
	int relu, ys, in[3], out, node, co, i, rc = -1, conv_out;
	int one_d = x && w && x->rank == 3 && w->rank == 3;

	if (!x || !w || ((x->rank != 4 || w->rank != 4) && !one_d))
		return fail(c, n, "only 1-d and 2-d convolutions (rank-3 or rank-4 input and weights) are supported");
	co = (int)w->dims[0];
	if (one_d) {
		/* [N, C, L] as [N, C, 1, L]: the attributes gain a first axis
		 * of size 1, and QReshape views go around the QConv. */
		int64_t s1[1] = {1}, p1[2] = {0, 0}, d1[1] = {1};

		if (get_ints(c, n, "strides", 1, 1, s1) || get_ints(c, n, "pads", 2, 0, p1) ||
		    get_ints(c, n, "dilations", 1, 1, d1))
			return -1;
		strides[0] = dil[0] = 1, pads[0] = pads[2] = 0;
		strides[1] = s1[0], dil[1] = d1[0], pads[1] = p1[0], pads[3] = p1[1];
	} else if (get_ints(c, n, "strides", 2, 1, strides) || get_ints(c, n, "pads", 4, 0, pads) ||
		   get_ints(c, n, "dilations", 2, 1, dil)) {
		return -1;
	}
	ys = fused_output(c, n, &relu);
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[ys], &ay))
		return -1;
	if (!(real = malloc((size_t)co * sizeof *real)))
		return fail(c, n, "out of memory");
	if (weight_scales(c, n, w, co, 0, real) || (b && bias_ok(c, n, b, co)))
		goto out;
	for (i = 0; i < co; i++)
		real[i] = (double)ax.scale * real[i] / (double)ay.scale;
	if ((in[0] = dst_act(c, n, n->inputs[0])) < 0 ||
	    (!one_d && (in[1] = dst_const(c, n, n->inputs[1])) < 0) ||
	    (b && (in[2] = dst_const(c, n, n->inputs[2])) < 0) ||
	    (out = dst_act(c, n, ys)) < 0)
		goto out;
	conv_out = out;
	if (one_d) {
		const qp_tensor *yt = &c->dst->tensors[out];
		int64_t xd[4] = {x->dims[0], x->dims[1], 1, x->dims[2]};
		int64_t yd[4] = {yt->dims[0], yt->dims[1], 1, yt->dims[2]};
		int64_t wd[4] = {w->dims[0], w->dims[1], 1, w->dims[2]};
		int x4 = new_temp(c, n, in[0], 4, xd, "x2d");

		if (x4 < 0 || add_view(c, n, in[0], x4, "to2d") ||
		    (conv_out = new_temp(c, n, out, 4, yd, "y2d")) < 0)
			goto out;
		/* The weights, same bytes and quantization, as [Co, Ci, 1, K]. */
		if ((in[1] = const_as_4d(c, n, w, wd)) < 0)
			goto out;
		in[0] = x4;
	}
	if ((node = add_node(c, n, "QConv", b ? 3 : 2, in, conv_out)) < 0)
		goto out;
	if (qp_node_set_ints(&c->dst->nodes[node], "strides", 2, strides) ||
	    qp_node_set_ints(&c->dst->nodes[node], "pads", 4, pads) ||
	    qp_node_set_ints(&c->dst->nodes[node], "dilations", 2, dil) ||
	    qp_node_set_int(&c->dst->nodes[node], "group", group) ||
	    set_range(c, node, &ay, relu) ||
	    set_mults(c, node, "multiplier", "shift", co, real) ||
	    (one_d && add_view(c, n, conv_out, out, "to1d")))
		goto out;
	rc = 0;
out:
	free(real);
	return rc;
}

/* A copy of constant w (same bytes and quantization) under a fresh name with
 * the 4-d dims wd: a 1-d convolution's weights as [A, B, 1, K]. */
static int const_as_4d(ctx *c, const qp_node *n, const qp_tensor *w, const int64_t *wd)
{
	char *name = fresh_name(c, w->name);
	int w4 = name ? qp_graph_add_tensor(c->dst, name, w->dtype, 4, wd, &c->line) : -1;

	free(name);
	if (w4 < 0 || qp_tensor_alloc_data(&c->dst->tensors[w4], &c->line))
		return -1;
	memcpy(c->dst->tensors[w4].data, w->data, w->nbytes);
	if (w->quant && !(c->dst->tensors[w4].quant = qp_quant_dup(w->quant))) {
		fail(c, n, "out of memory");
		return -1;
	}
	return w4;
}


/* ConvTranspose (+ Relu) -> QConvTranspose.  W [C_in, C_out/group, k...]
 * is quantized per channel on axis 1 (quantize's rule), each scale shared
 * by the groups: output channel c has weight channel c % (C_out/group).
 * The IR's ConvTranspose has explicit pads and output_padding only (the
 * importers resolve auto_pad and output_shape into them, and the float
 * shape rule, which runs before lower, refuses either). */
static int lower_convtranspose(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0), *w = stensor(c, n, 1), *b = stensor(c, n, 2);
	int64_t strides[2], pads[4], dil[2], opad[2], group = qp_node_attr_int(n, "group", 1);
	actq ax, ay;
	double *real = NULL, *ws = NULL;
	int relu, ys, in[3], out, node, co, cw, i, rc = -1, conv_out;
	int one_d = x && w && x->rank == 3 && w->rank == 3;

	if (!x || !w || ((x->rank != 4 || w->rank != 4) && !one_d))
		return fail(c, n, "only 1-d and 2-d transposed convolutions (rank-3 or rank-4 input and weights) are supported");
	cw = (int)w->dims[1];
	co = (int)(w->dims[1] * group);
	if (one_d) {
		/* [N, C, L] as [N, C, 1, L], as lower_conv does. */
		int64_t s1[1] = {1}, p1[2] = {0, 0}, d1[1] = {1}, o1[1] = {0};

		if (get_ints(c, n, "strides", 1, 1, s1) || get_ints(c, n, "pads", 2, 0, p1) ||
		    get_ints(c, n, "dilations", 1, 1, d1) || get_ints(c, n, "output_padding", 1, 0, o1))
			return -1;
		strides[0] = dil[0] = 1, pads[0] = pads[2] = 0, opad[0] = 0;
		strides[1] = s1[0], dil[1] = d1[0], pads[1] = p1[0], pads[3] = p1[1], opad[1] = o1[0];
	} else if (get_ints(c, n, "strides", 2, 1, strides) || get_ints(c, n, "pads", 4, 0, pads) ||
		   get_ints(c, n, "dilations", 2, 1, dil) ||
		   get_ints(c, n, "output_padding", 2, 0, opad)) {
		return -1;
	}
	ys = fused_output(c, n, &relu);
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[ys], &ay))
		return -1;
	real = malloc((size_t)co * sizeof *real);
	ws = malloc((size_t)cw * sizeof *ws);
	if (!real || !ws) {
		fail(c, n, "out of memory");
		goto out;
	}
	if (weight_scales(c, n, w, cw, 1, ws) || (b && bias_ok(c, n, b, co)))
		goto out;
	for (i = 0; i < co; i++)
		real[i] = (double)ax.scale * ws[i % cw] / (double)ay.scale;
	if ((in[0] = dst_act(c, n, n->inputs[0])) < 0 ||
	    (!one_d && (in[1] = dst_const(c, n, n->inputs[1])) < 0) ||
	    (b && (in[2] = dst_const(c, n, n->inputs[2])) < 0) ||
	    (out = dst_act(c, n, ys)) < 0)
		goto out;
	conv_out = out;
	if (one_d) {
		const qp_tensor *yt = &c->dst->tensors[out];
		int64_t xd[4] = {x->dims[0], x->dims[1], 1, x->dims[2]};
		int64_t yd[4] = {yt->dims[0], yt->dims[1], 1, yt->dims[2]};
		int64_t wd[4] = {w->dims[0], w->dims[1], 1, w->dims[2]};
		int x4 = new_temp(c, n, in[0], 4, xd, "x2d");

		if (x4 < 0 || add_view(c, n, in[0], x4, "to2d") ||
		    (conv_out = new_temp(c, n, out, 4, yd, "y2d")) < 0)
			goto out;
		/* The weights, same bytes and quantization, as [Ci, Co/g, 1, K]. */
		if ((in[1] = const_as_4d(c, n, w, wd)) < 0)
			goto out;
		in[0] = x4;
	}
	if ((node = add_node(c, n, "QConvTranspose", b ? 3 : 2, in, conv_out)) < 0)
		goto out;
	if (qp_node_set_ints(&c->dst->nodes[node], "strides", 2, strides) ||
	    qp_node_set_ints(&c->dst->nodes[node], "pads", 4, pads) ||
	    qp_node_set_ints(&c->dst->nodes[node], "dilations", 2, dil) ||
	    qp_node_set_ints(&c->dst->nodes[node], "output_padding", 2, opad) ||
	    qp_node_set_int(&c->dst->nodes[node], "group", group) ||
	    set_range(c, node, &ay, relu) ||
	    set_mults(c, node, "multiplier", "shift", co, real) ||
	    (one_d && add_view(c, n, conv_out, out, "to1d")))
		goto out;
	rc = 0;
out:
	free(real);
	free(ws);
	return rc;
}

/* Gemm (transA 0, beta 1) and MatMul with a constant right operand: QGemm
 * with the weights stored [N, K]. */
static int lower_gemm(ctx *c, const qp_node *n)
{
	int is_matmul = !strcmp(n->op, "MatMul");
	const qp_tensor *a = stensor(c, n, 0), *w = stensor(c, n, 1);
	const qp_tensor *b = is_matmul ? NULL : stensor(c, n, 2);
	int trans_b = is_matmul ? 0 : (int)qp_node_attr_int(n, "transB", 0);
	float alpha = is_matmul ? 1.0f : qp_node_attr_float(n, "alpha", 1.0f);
	actq aa, ay;
	double *real = NULL;
	int relu, ys, in[3], out, node, nn, k, i, j, rc = -1;
	qp_tensor *wt;

	if (!a || !w || a->rank != 2 || w->rank != 2)
		return fail(c, n, "only rank-2 operands are supported");
	if (!is_matmul && qp_node_attr_int(n, "transA", 0) != 0)
		return fail(c, n, "transA is not supported");
	if (b && qp_node_attr_float(n, "beta", 1.0f) != 1.0f)
		return fail(c, n, "beta other than 1 is not supported");
	nn = (int)w->dims[trans_b ? 0 : 1];
	k = (int)w->dims[trans_b ? 1 : 0];
	ys = fused_output(c, n, &relu);
	if (act_params(c, n, a, &aa) || act_params(c, n, &c->src->tensors[ys], &ay))
		return -1;
	if (!(real = malloc((size_t)nn * sizeof *real)))
		return fail(c, n, "out of memory");
	if (weight_scales(c, n, w, nn, trans_b ? 0 : 1, real) || (b && bias_ok(c, n, b, nn)))
		goto out;
	for (i = 0; i < nn; i++)
		real[i] = (double)alpha * aa.scale * real[i] / (double)ay.scale;
	if ((in[0] = dst_act(c, n, n->inputs[0])) < 0)
		goto out;
	/* Weights as [N, K] so the kernel reads rows; per-channel axis 0. */
	{
		int64_t dims[2] = {nn, k};
		char *name = fresh_name(c, w->name);
		const int8_t *src = w->data;
		int8_t *dst;

		in[1] = name ? qp_graph_add_tensor(c->dst, name, QP_DT_INT8, 2, dims, &c->line) : -1;
		free(name);
		if (in[1] < 0 || qp_tensor_alloc_data(&c->dst->tensors[in[1]], &c->line))
			goto out;
		wt = &c->dst->tensors[in[1]];
		dst = wt->data;
		for (i = 0; i < nn; i++)
			for (j = 0; j < k; j++)
				dst[(size_t)i * k + j] = trans_b ? src[(size_t)i * k + j] : src[(size_t)j * nn + i];
		if (!(wt->quant = qp_quant_dup(w->quant)))
			goto oom;
		if (wt->quant->n != 1)
			wt->quant->axis = 0;
	}
	if (b) {
		int64_t dims[1] = {nn};
		char *name = fresh_name(c, b->name);

		in[2] = name ? qp_graph_add_tensor(c->dst, name, QP_DT_INT32, 1, dims, &c->line) : -1;
		free(name);
		if (in[2] < 0 || qp_tensor_alloc_data(&c->dst->tensors[in[2]], &c->line))
			goto out;
		memcpy(c->dst->tensors[in[2]].data, b->data, (size_t)nn * 4);
		if (b->quant) {
			if (!(c->dst->tensors[in[2]].quant = qp_quant_dup(b->quant)))
				goto oom;
			c->dst->tensors[in[2]].quant->axis = b->quant->n == 1 ? -1 : 0;
		}
	}
	if ((out = dst_act(c, n, ys)) < 0 ||
	    (node = add_node(c, n, "QGemm", b ? 3 : 2, in, out)) < 0 ||
	    set_range(c, node, &ay, relu) ||
	    set_mults(c, node, "multiplier", "shift", nn, real))
		goto out;
	rc = 0;
	goto out;
oom:
	fail(c, n, "out of memory");
out:
	free(real);
	return rc;
}

/* Ops whose output shares the input's parameters. */
static int same_quant(ctx *c, const qp_node *n, const actq *a, const actq *b)
{
	if (a->scale != b->scale || a->zp != b->zp)
		return fail(c, n, "output quantization differs from the input's");
	return 0;
}

/* A pool's window as the 2-d record: kernel, strides, pads (top, left,
 * bottom, right), dilations.  1-d ([N, C, L]) attributes become a window
 * of height 1 with no padding on the first axis, which the kernels read
 * over [N, C, 1, L] (runtime/kernels.c); a global pool's window is the
 * whole input. */
static int pool_window(ctx *c, const qp_node *n, const qp_tensor *x, int global,
		       int64_t *k, int64_t *s, int64_t *p, int64_t *d)
{
	int64_t k1[1] = {1}, s1[1] = {1}, p1[2] = {0, 0}, d1[1] = {1};
	int cnt;

	if (!x || (x->rank != 4 && x->rank != 3))
		return fail(c, n, "only 1-d and 2-d pooling (rank-3 or rank-4 input) is supported");
	k[0] = s[0] = s[1] = d[0] = d[1] = 1;
	memset(p, 0, 4 * sizeof *p);
	if (global) {
		k[0] = x->rank == 4 ? x->dims[2] : 1;
		k[1] = x->dims[x->rank - 1];
		return 0;
	}
	if (!qp_node_attr_ints(n, "kernel_shape", &cnt) || cnt != x->rank - 2)
		return fail(c, n, "kernel_shape needs %d values", x->rank - 2);
	if (x->rank == 4)
		return get_ints(c, n, "kernel_shape", 2, 1, k) ||
		       get_ints(c, n, "strides", 2, 1, s) || get_ints(c, n, "pads", 4, 0, p) ||
		       get_ints(c, n, "dilations", 2, 1, d) ? -1 : 0;
	if (get_ints(c, n, "kernel_shape", 1, 1, k1) || get_ints(c, n, "strides", 1, 1, s1) ||
	    get_ints(c, n, "pads", 2, 0, p1) || get_ints(c, n, "dilations", 1, 1, d1))
		return -1;
	k[1] = k1[0];
	s[1] = s1[0];
	p[1] = p1[0];
	p[3] = p1[1];
	d[1] = d1[0];
	return 0;
}

/* MaxPool and GlobalMaxPool: QMaxPool, sharing the input's parameters. */
static int lower_maxpool(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	int64_t k[2], s[2], p[4], d[2];
	actq ax, ay;
	int in, out, node;

	if (pool_window(c, n, x, !strcmp(n->op, "GlobalMaxPool"), k, s, p, d))
		return -1;
	if (n->n_outputs > 1)
		return fail(c, n, "the Indices output is not supported on the device");
	if (qp_node_attr_int(n, "storage_order", 0) != 0)
		return fail(c, n, "storage_order 1 is not supported");
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay) ||
	    same_quant(c, n, &ax, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QMaxPool", 1, &in, out)) < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "kernel_shape", 2, k) ||
	    qp_node_set_ints(&c->dst->nodes[node], "strides", 2, s) ||
	    qp_node_set_ints(&c->dst->nodes[node], "pads", 4, p) ||
	    qp_node_set_ints(&c->dst->nodes[node], "dilations", 2, d) ||
	    qp_node_set_int(&c->dst->nodes[node], "ceil_mode", qp_node_attr_int(n, "ceil_mode", 0)))
		return fail(c, n, "out of memory");
	return 0;
}

/* The QAvgPool node from dst tensor in to dst tensor out, its multiplier
 * dividing by the full window (the kernel rescales clipped windows). */
static int add_avgpool(ctx *c, const qp_node *n, int in, int out, const actq *ax,
		       const actq *ay, const int64_t *k, const int64_t *s,
		       const int64_t *p, int64_t cip, int64_t ceil)
{
	double real = (double)ax->scale / ((double)ay->scale * (double)(k[0] * k[1]));
	int node = add_node(c, n, "QAvgPool", 1, &in, out);

	if (node < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "kernel_shape", 2, k) ||
	    qp_node_set_ints(&c->dst->nodes[node], "strides", 2, s) ||
	    qp_node_set_ints(&c->dst->nodes[node], "pads", 4, p) ||
	    qp_node_set_int(&c->dst->nodes[node], "count_include_pad", cip) ||
	    qp_node_set_int(&c->dst->nodes[node], "ceil_mode", ceil) ||
	    set_range(c, node, ay, 0) || set_mults(c, node, "multiplier", "shift", 1, &real))
		return -1;
	return 0;
}

/* AveragePool and GlobalAveragePool, 1-d or 2-d: QAvgPool. */
static int lower_avgpool(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	int64_t k[2], s[2], p[4], d[2];
	actq ax, ay;
	int in, out;

	if (pool_window(c, n, x, !strcmp(n->op, "GlobalAveragePool"), k, s, p, d))
		return -1;
	if (d[0] != 1 || d[1] != 1)
		return fail(c, n, "dilated average pooling is not supported");
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	return add_avgpool(c, n, in, out, &ax, &ay, k, s, p,
			   qp_node_attr_int(n, "count_include_pad", 0),
			   qp_node_attr_int(n, "ceil_mode", 0));
}

/* Which axes ReduceMean n reduces (red[i] = 1), by the float op's rule
 * (lib/ops/float_reduce.c): the "axes" attribute, or a constant int64 axes
 * input (opset 18's form, where an IR carries it); no axes means all, or
 * none with noop_with_empty_axes.  Sets *from_attr when the axes came from
 * the attribute. */
static int reduce_mask(ctx *c, const qp_node *n, int rank, unsigned char *red,
		       int *from_attr)
{
	const qp_tensor *t = stensor(c, n, 1);
	const int64_t *axes = NULL;
	int cnt = 0, i;

	*from_attr = !t;
	if (t) {
		if (!t->data || t->dtype != QP_DT_INT64 || t->rank > 1)
			return fail(c, n, "axes '%s' is not a constant int64 vector", t->name);
		axes = t->data;
		cnt = (int)qp_tensor_numel(t);
	} else {
		axes = qp_node_attr_ints(n, "axes", &cnt);
	}
	memset(red, 0, QP_MAX_RANK);
	if ((!axes || cnt == 0) && !qp_node_attr_int(n, "noop_with_empty_axes", 0))
		memset(red, 1, (size_t)rank);
	for (i = 0; axes && i < cnt; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];

		if (a < 0 || a >= rank || red[a])
			return fail(c, n, "axis %lld is out of range for rank %d or given twice",
				    (long long)axes[i], rank);
		red[a] = 1;
	}
	return 0;
}

/* ReduceMean over any axes, as one QAvgPool: each output's elements are
 * summed once and requantized once by s_x / (count s_y), as a mean over
 * spatial axes is.  Length-1 axes aside, when the reduced axes are one run
 * of consecutive axes, x is viewed as [outer, 1, len, inner] and pooled by
 * a [len, 1] window; otherwise a QTranspose first moves the kept axes
 * before the reduced ones (inner = 1).  A run longer than the window's
 * 65535 with inner 1 is split over both window axes. */
static int lower_reduce_any(ctx *c, const qp_node *n, const qp_tensor *x,
			    const unsigned char *red)
{
	const qp_tensor *y = &c->src->tensors[n->outputs[0]];
	int64_t perm[QP_MAX_RANK], moved[QP_MAX_RANK], view[4], pooled[4];
	int64_t k[2] = {1, 1}, s[2] = {1, 1}, p[4] = {0, 0, 0, 0};
	int64_t outer = 1, len = 1, inner = 1;
	int r = x->rank, runs = 0, first = -1, last = -1, prev = 0, i, j;
	int in, out, from, to;
	actq ax, ay;

	for (i = 0; i < r; i++) {
		if (x->dims[i] == 1)
			continue;
		if (red[i] && !prev)
			runs++;
		prev = red[i];
		if (red[i]) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	if (runs > 1) {
		for (i = j = 0; i < r; i++)
			if (!red[i])
				perm[j++] = i, outer *= x->dims[i];
		for (i = 0; i < r; i++)
			if (red[i])
				perm[j++] = i, len *= x->dims[i];
		for (i = 0; i < r; i++)
			moved[i] = x->dims[perm[i]];
	} else {
		for (i = 0; i < r; i++) {
			if (first >= 0 && i >= first && i <= last)
				len *= x->dims[i];
			else if (first < 0 || i < first)
				outer *= x->dims[i];
			else
				inner *= x->dims[i];
		}
	}
	view[0] = outer, view[1] = 1, view[2] = len, view[3] = inner;
	k[0] = len;
	if (len > 65535) {
		int64_t d;

		for (d = (len + 65534) / 65535; inner == 1 && d <= 65535; d++)
			if (len % d == 0)
				break;
		if (inner != 1 || d > 65535 || len / d > 65535)
			return fail(c, n, "ReduceMean over %lld elements per output is not supported (the window holds at most 65535 by 65535)",
				    (long long)len);
		view[2] = k[0] = d;
		view[3] = k[1] = len / d;
	}
	pooled[0] = outer, pooled[1] = pooled[2] = 1, pooled[3] = inner;
	if (outer * inner != qp_tensor_numel(y))
		return fail(c, n, "output '%s' does not have the reduced shape", y->name);
	if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	from = in;
	if (runs > 1 && ((from = new_temp(c, n, in, r, moved, "moved")) < 0 ||
			 add_transpose(c, n, in, from, perm, "move")))
		return -1;
	if (c->dst->tensors[from].rank != 4 ||
	    memcmp(c->dst->tensors[from].dims, view, sizeof view)) {
		int v = new_temp(c, n, in, 4, view, "view");

		if (v < 0 || add_view(c, n, from, v, "view"))
			return -1;
		from = v;
	}
	to = out;
	if ((y->rank != 4 || memcmp(y->dims, pooled, sizeof pooled)) &&
	    (to = new_temp(c, n, out, 4, pooled, "pooled")) < 0)
		return -1;
	if (add_avgpool(c, n, from, to, &ax, &ay, k, s, p, 0, 0))
		return -1;
	return to == out ? 0 : add_view(c, n, to, out, "unview");
}

/* ReduceMean over spatial axes of [N, C, H, W] or [N, C, L] (axes as the
 * attribute): a QAvgPool whose window spans the reduced axes, then for
 * keepdims 0 a QReshape that drops them.  Any other set of axes:
 * lower_reduce_any. */
static int lower_reduce_mean(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0), *y = &c->src->tensors[n->outputs[0]];
	int64_t k[2] = {1, 1}, s[2] = {1, 1}, p[4] = {0, 0, 0, 0}, pooled[4];
	int64_t keep = qp_node_attr_int(n, "keepdims", 1);
	const int64_t *axes;
	unsigned char red[QP_MAX_RANK];
	actq ax, ay;
	int cnt, i, in, out, mid, from_attr, spatial = 1;

	if (!x)
		return fail(c, n, "ReduceMean needs an input");
	if (reduce_mask(c, n, x->rank, red, &from_attr))
		return -1;
	for (i = 0; i < x->rank; i++)
		if (red[i] && i < 2)
			spatial = 0;
	axes = qp_node_attr_ints(n, "axes", &cnt);
	if ((x->rank != 4 && x->rank != 3) || !spatial || !from_attr || !axes || cnt == 0)
		return lower_reduce_any(c, n, x, red);
	for (i = 0; i < cnt; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];

		/* [N, C, L] is pooled as [N, C, 1, L]: L is the window's width. */
		k[x->rank == 4 ? a - 2 : 1] = x->dims[a];
	}
	if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	if (keep)
		return add_avgpool(c, n, in, out, &ax, &ay, k, s, p, 0, 0);
	memcpy(pooled, x->dims, (size_t)x->rank * sizeof *pooled);
	for (i = 0; i < cnt; i++)
		pooled[axes[i] < 0 ? axes[i] + x->rank : axes[i]] = 1;
	if ((mid = new_temp(c, n, out, x->rank, pooled, "pooled")) < 0 ||
	    add_avgpool(c, n, in, mid, &ax, &ay, k, s, p, 0, 0))
		return -1;
	return add_view(c, n, mid, out, "squeeze");
}

/* A copy in dst of src constant st quantized unsigned 8-bit (a positive
 * constant under signedness auto): int8 codes q - 128 with zero point
 * zp - 128, the same real values, as act_params folds an activation. */
static int dst_const_u8(ctx *c, const qp_node *n, int st)
{
	const qp_tensor *s = &c->src->tensors[st];
	const uint8_t *src = s->data;
	int8_t *dst;
	int64_t i, m = qp_tensor_numel(s);
	int t;

	if (c->map[st] >= 0)
		return c->map[st];
	t = qp_graph_add_tensor(c->dst, s->name, QP_DT_INT8, s->rank, s->dims, &c->line);
	if (t < 0 || qp_tensor_alloc_data(&c->dst->tensors[t], &c->line))
		return -1;
	dst = c->dst->tensors[t].data;
	for (i = 0; i < m; i++)
		dst[i] = (int8_t)(src[i] - 128);
	if (!(c->dst->tensors[t].quant = qp_quant_dup(s->quant)))
		return fail(c, n, "out of memory");
	c->dst->tensors[t].quant->is_signed = 1;
	c->dst->tensors[t].quant->zero_point[0] -= 128;
	if (c->dst->tensors[t].quant->zero_point[0])
		c->dst->tensors[t].quant->scheme = QP_Q_ASYMMETRIC;
	c->map[st] = t;
	return t;
}

/* An int8 operand of Add/Mul: an activation or a per-tensor 8-bit constant. */
static int binary_operand(ctx *c, const qp_node *n, int i, actq *a)
{
	const qp_tensor *t = stensor(c, n, i);
	int u8;

	if (!t)
		return fail(c, n, "missing input %d", i);
	u8 = t->data && t->dtype == QP_DT_UINT8 && t->quant && t->quant->n == 1 &&
	     t->quant->bits == 8 && !t->quant->is_signed;
	if (t->data && !u8 && (t->dtype != QP_DT_INT8 || !t->quant))
		return fail(c, n, "constant '%s' is not quantized to int8", t->name);
	if (act_params(c, n, t, a))
		return -1;
	if (u8)
		return dst_const_u8(c, n, n->inputs[i]);
	return t->data ? dst_const(c, n, n->inputs[i]) : dst_act(c, n, n->inputs[i]);
}

/* Add, Sub and Mul, the operands broadcast as numpy does (the kernels'
 * strides).  Sub is QAdd with b's multiplier negated (runtime/kernels.c,
 * check_add): no rounding beyond Add's. */
static int lower_add_mul(ctx *c, const qp_node *n)
{
	int is_sub = !strcmp(n->op, "Sub");
	int is_add = is_sub || !strcmp(n->op, "Add");
	actq aa, ab, ay;
	int relu, ys, in[2], out, node;
	qp_const_affine ca;

	if (qp_const_affine_of(c->src, n, &ca))
		return lower_const_affine(c, n, &ca);
	if ((in[0] = binary_operand(c, n, 0, &aa)) < 0 || (in[1] = binary_operand(c, n, 1, &ab)) < 0)
		return -1;
	ys = fused_output(c, n, &relu);
	if (act_params(c, n, &c->src->tensors[ys], &ay) || (out = dst_act(c, n, ys)) < 0 ||
	    (node = add_node(c, n, is_add ? "QAdd" : "QMul", 2, in, out)) < 0 ||
	    set_range(c, node, &ay, relu))
		return -1;
	if (is_add) {
		double real[3];

		qp_add_multipliers(aa.scale, ab.scale, ay.scale, real);
		if (qp_node_set_int(&c->dst->nodes[node], "left_shift", QP_ADD_LEFT_SHIFT) ||
		    set_mults(c, node, "multiplier", "shift", 3, real))
			return -1;
		if (is_sub) {
			int cnt;
			const int64_t *m = qp_node_attr_ints(&c->dst->nodes[node], "multiplier", &cnt);
			int64_t neg[3] = {m[0], -m[1], m[2]};

			if (qp_node_set_ints(&c->dst->nodes[node], "multiplier", 3, neg))
				return fail(c, n, "out of memory");
		}
	} else {
		double real = (double)aa.scale * ab.scale / ay.scale;

		if (set_mults(c, node, "multiplier", "shift", 1, &real))
			return -1;
	}
	return 0;
}

/* ---- QAffine: y = a[ch] x + b[ch] per channel (docs/ir.md section 6) ---- */

/* Fraction bits where QAffine's product and offset meet: the rounding
 * before the last costs at most 2^-9 of an output step, and products up to
 * 2^31 / (255 * 2^8), i.e. |a| s_x / s_y below 32768, do not saturate. */
#define AFFINE_FRAC_BITS 8

/* Adds QAffine from dst tensor in to out along axis with ch channels:
 * y = a[k] x + b[k] in real numbers, x and y quantized as ax and ay, the
 * range set_range's for relu. */
static int add_affine_range(ctx *c, const qp_node *n, int in, int out, int axis, int ch,
			    const double *a, const double *b, const actq *ax, const actq *ay,
			    int relu)
{
	int64_t *v = malloc((size_t)ch * 3 * sizeof *v);
	qp_node *d;
	int node, k;

	if (!v)
		return fail(c, n, "out of memory");
	for (k = 0; k < ch; k++) {
		double real = a[k] * ax->scale / ay->scale * (1 << AFFINE_FRAC_BITS);
		double off = b[k] / ay->scale * (1 << AFFINE_FRAC_BITS);
		int32_t m;
		int sh;

		if (!isfinite(real) || !isfinite(off) ||
		    qp_quantize_multiplier(fabs(real), &m, &sh)) {
			free(v);
			return fail(c, n, "bad affine coefficient %g for channel %d", a[k], k);
		}
		/* Past +-2^30 the output saturates anyway. */
		off = off > 1073741824.0 ? 1073741824.0 : off < -1073741824.0 ? -1073741824.0 : off;
		v[k] = real < 0 ? -(int64_t)m : m;
		v[ch + k] = sh;
		v[2 * ch + k] = (int64_t)llround(off);
	}
	if ((node = add_node(c, n, "QAffine", 1, &in, out)) < 0) {
		free(v);
		return -1;
	}
	d = &c->dst->nodes[node];
	if (qp_node_set_int(d, "axis", axis) || set_range(c, node, ay, relu) ||
	    qp_node_set_int(d, "frac_bits", AFFINE_FRAC_BITS) ||
	    qp_node_set_ints(d, "multiplier", ch, v) ||
	    qp_node_set_ints(d, "shift", ch, v + ch) ||
	    qp_node_set_ints(d, "offset", ch, v + 2 * ch)) {
		free(v);
		return fail(c, n, "out of memory");
	}
	free(v);
	return 0;
}

static int add_affine(ctx *c, const qp_node *n, int in, int out, int axis, int ch,
		      const double *a, const double *b, const actq *ax, const actq *ay)
{
	return add_affine_range(c, n, in, out, axis, ch, a, b, ax, ay, 0);
}

/* Add, Sub or Mul of an activation by a constant quantize kept float
 * (constop.h), y = a[k] x + b[k] along ca->axis, (+ a fused Relu or
 * Clip): a Mul by a positive scalar is a QRequant of s_x c / s_y, as Div
 * by a scalar is; anything else a QAffine, the constant folded into its
 * 31-bit multipliers (Mul) or offsets (Add, Sub).  No 8-bit copy of the
 * constant rounds it. */
static int lower_const_affine(ctx *c, const qp_node *n, const qp_const_affine *ca)
{
	const qp_tensor *x = stensor(c, n, ca->x), *k = stensor(c, n, ca->c);
	const float *kv = k->data;
	int is_mul = !strcmp(n->op, "Mul"), is_sub = !strcmp(n->op, "Sub");
	int relu, ys, in, out, node, axis = ca->axis, rc;
	int64_t ch, i;
	double *a;
	actq ax, ay;

	for (i = 0; i < qp_tensor_numel(k); i++)
		if (!isfinite(kv[i]))
			return fail(c, n, "constant '%s' has the value %g", k->name, kv[i]);
	ys = fused_output(c, n, &relu);
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[ys], &ay) ||
	    (in = dst_act(c, n, n->inputs[ca->x])) < 0 || (out = dst_act(c, n, ys)) < 0)
		return -1;
	if (is_mul && axis < 0 && kv[0] >= 0) {
		double real = (double)ax.scale * kv[0] / ay.scale;

		if ((node = add_node(c, n, "QRequant", 1, &in, out)) < 0 ||
		    set_range(c, node, &ay, relu) || set_mults(c, node, "multiplier", "shift", 1, &real))
			return -1;
		return 0;
	}
	/* One value: one channel on axis 0, repeated (as lower_div). */
	if (axis < 0)
		axis = 0;
	ch = x->dims[axis];
	if (!(a = malloc((size_t)ch * 2 * sizeof *a)))
		return fail(c, n, "out of memory");
	for (i = 0; i < ch; i++) {
		double v = kv[qp_tensor_numel(k) == 1 ? 0 : i];

		if (is_mul)
			a[i] = v, a[ch + i] = 0;
		else if (is_sub && ca->x == 1)   /* c - x */
			a[i] = -1, a[ch + i] = v;
		else
			a[i] = 1, a[ch + i] = is_sub ? -v : v;
	}
	rc = add_affine_range(c, n, in, out, axis, (int)ch, a, a + ch, &ax, &ay, relu);
	free(a);
	return rc;
}

/* A float constant input that quantize kept float (its float_from rule). */
static const float *float_const(ctx *c, const qp_node *n, int i, int64_t count)
{
	const qp_tensor *t = stensor(c, n, i);

	if (!t || !t->data || t->dtype != QP_DT_FLOAT32 ||
	    (count >= 0 && qp_tensor_numel(t) != count)) {
		fail(c, n, "input %d must be a float constant%s", i,
		     count >= 0 ? " of one value per channel" : "");
		return NULL;
	}
	return t->data;
}

/* BatchNormalization that quantize could not fold into a Conv or Gemm
 * (e.g. after a ReLU): a per-channel affine map on axis 1. */
static int lower_batchnorm(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	double eps = qp_node_attr_float(n, "epsilon", 1e-5f), *a = NULL, *b;
	const float *g, *beta, *mean, *var;
	actq ax, ay;
	int in, out, rc = -1;
	int64_t ch, k;

	if (!x || x->rank < 2)
		return fail(c, n, "input must have a channel axis");
	ch = x->dims[1];
	if (qp_node_attr_int(n, "training_mode", 0))
		return fail(c, n, "training_mode is not supported");
	if (!(g = float_const(c, n, 1, ch)) || !(beta = float_const(c, n, 2, ch)) ||
	    !(mean = float_const(c, n, 3, ch)) || !(var = float_const(c, n, 4, ch)) ||
	    act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay))
		return -1;
	if (!(a = malloc((size_t)ch * 2 * sizeof *a)))
		return fail(c, n, "out of memory");
	b = a + ch;
	/* As the float kernel: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
	for (k = 0; k < ch; k++) {
		a[k] = (double)g[k] / sqrt((double)var[k] + eps);
		b[k] = (double)beta[k] - a[k] * mean[k];
	}
	if ((in = dst_act(c, n, n->inputs[0])) >= 0 && (out = dst_act(c, n, n->outputs[0])) >= 0)
		rc = add_affine(c, n, in, out, 1, (int)ch, a, b, &ax, &ay);
	free(a);
	return rc;
}

/* Div by a constant, folded into the requantization rather than a QMul by
 * a quantized reciprocal: the reciprocal would be rounded to 8 bits, the
 * multiplier keeps 31.  A scalar divisor gives QRequant (QAffine when
 * negative); one that varies along a single axis gives QAffine. */
static int lower_div(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0), *d = stensor(c, n, 1);
	const qp_tensor *y = &c->src->tensors[n->outputs[0]];
	const float *dv;
	actq ax, ay;
	int in, out, node, axis = -1, i, rc = -1;
	int64_t ch = 1, k;
	double *a;

	if (!x || x->data || !d || !d->data)
		return fail(c, n, "only an activation divided by a constant is supported");
	if (!(dv = float_const(c, n, 1, -1)))
		return -1;
	if (y->rank != x->rank || d->rank > x->rank)
		return fail(c, n, "the divisor must not broadcast the dividend to a larger shape");
	for (i = 0; i < d->rank; i++) {
		if (d->dims[i] == 1)
			continue;
		if (axis >= 0)
			return fail(c, n, "the divisor '%s' varies along more than one axis", d->name);
		axis = i + x->rank - d->rank;
		ch = d->dims[i];
		if (x->dims[axis] != ch)
			return fail(c, n, "the divisor must not broadcast the dividend to a larger shape");
	}
	for (k = 0; k < ch; k++)
		if (!(dv[k] != 0) || !isfinite(dv[k]))
			return fail(c, n, "divisor '%s' has the value %g", d->name, dv[k]);
	if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay) ||
	    (in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	if (axis < 0 && dv[0] > 0) {
		double real = (double)ax.scale / ((double)dv[0] * ay.scale);

		if ((node = add_node(c, n, "QRequant", 1, &in, out)) < 0 ||
		    set_range(c, node, &ay, 0) || set_mults(c, node, "multiplier", "shift", 1, &real))
			return -1;
		return 0;
	}
	if (axis < 0) {      /* a negative scalar: one channel on axis 0 repeated */
		axis = 0;
		ch = x->dims[0];
	}
	if (!(a = calloc((size_t)ch * 2, sizeof *a)))
		return fail(c, n, "out of memory");
	for (k = 0; k < ch; k++)
		a[k] = 1.0 / dv[qp_tensor_numel(d) == 1 ? 0 : k];
	rc = add_affine(c, n, in, out, axis, (int)ch, a, a + ch, &ax, &ay);
	free(a);
	return rc;
}

static int lower_relu(ctx *c, const qp_node *n)
{
	actq ax, ay;
	double real;
	int in, out, node;

	if (act_params(c, n, stensor(c, n, 0), &ax) ||
	    act_params(c, n, &c->src->tensors[n->outputs[0]], &ay))
		return -1;
	real = (double)ax.scale / ay.scale;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QRequant", 1, &in, out)) < 0 ||
	    set_range(c, node, &ay, 1) || set_mults(c, node, "multiplier", "shift", 1, &real))
		return -1;
	return 0;
}

/* Clip with constant bounds (ReLU6).  An output that shares the input's
 * parameters (a preserving operator set) is a QClip: the bounds quantized
 * as Quantize would clamp the integers exactly where the float op clamps
 * the reals.  An output with parameters of its own (the target's relu6 set,
 * not fused into the op before it) is a QRequant to them that clamps at
 * the bounds quantized at the output's parameters, the float clamp
 * followed by the output's quantization. */
static int lower_clip(ctx *c, const qp_node *n)
{
	actq ax, ay;
	int32_t lim[2];
	int in, out, node, same;
	double real;

	if (act_params(c, n, stensor(c, n, 0), &ax) ||
	    act_params(c, n, &c->src->tensors[n->outputs[0]], &ay))
		return -1;
	same = ax.scale == ay.scale && ax.zp == ay.zp;
	if (clip_bounds(c, n, &ay, lim) ||
	    (in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, same ? "QClip" : "QRequant", 1, &in, out)) < 0)
		return -1;
	if (qp_node_set_int(&c->dst->nodes[node], "act_min", lim[0]) ||
	    qp_node_set_int(&c->dst->nodes[node], "act_max", lim[1]))
		return fail(c, n, "out of memory");
	real = (double)ax.scale / ay.scale;
	return same ? 0 : set_mults(c, node, "multiplier", "shift", 1, &real);
}

/* Unary ops of one element (Sigmoid, Tanh, HardSwish, ...): QLut, whose
 * 256 entries are the float op itself on every input code, quantized as
 * Quantize would (docs/ir.md section 6).  The float values come from the
 * interpreter's own kernel for the node, attributes and all, so the table
 * is what fake quantization computes and no op's math is written twice. */
static int lower_lut(ctx *c, const qp_node *n)
{
	const qp_op_def *d = qp_op_find(n->op);
	float xs[256], ys[256];
	qp_value vx = {.dtype = QP_DT_FLOAT32, .rank = 1, .dims = {256}, .numel = 256,
		       .data = xs};
	qp_value vy = vx;
	const qp_value *in = &vx;
	qp_value *out = &vy;
	int64_t table[256];
	actq ax, ay;
	int q, tin, tout, node;

	if (!d || !d->run)
		return fail(c, n, "no float kernel to build the table from");
	if (n->n_inputs != 1 || n->n_outputs != 1)
		return fail(c, n, "a table op takes one input and gives one output");
	if (act_params(c, n, stensor(c, n, 0), &ax) ||
	    act_params(c, n, &c->src->tensors[n->outputs[0]], &ay))
		return -1;
	for (q = -128; q < 128; q++)
		xs[q + 128] = (float)((double)(q - ax.zp) * ax.scale);
	vy.data = ys;
	if (d->run(c->src, n, &in, &out, &c->line))
		return -1;
	for (q = 0; q < 256; q++)
		table[q] = qp_rt_quantize_one(ys[q], ay.scale, ay.zp, ay.qmin, ay.qmax);
	if ((tin = dst_act(c, n, n->inputs[0])) < 0 || (tout = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QLut", 1, &tin, tout)) < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "table", 256, table))
		return fail(c, n, "out of memory");
	return 0;
}

/* An activation chain (actchain.h) ending at node n: one QLut whose table
 * is the chain's float ops, node by node with the interpreter's kernels,
 * on every input code, its scalar constants as quantize left them (float).
 * Fake quantization runs the same kernels on the same values, the inside
 * of the chain unrounded, so the two agree on every code. */
static int lower_chain(ctx *c, const qp_node *n)
{
	const qp_graph *g = c->src;
	int e = (int)(n - g->nodes), x = qp_act_chain_input(g, c->chain_end, e);
	float xs[256], buf[QP_ACT_CHAIN_MAX][256];
	int slot[QP_ACT_CHAIN_MAX], n_slot = 0, i, j, q, tin, tout, node, relu;
	int64_t table[256];
	actq ax, ay;
	/* An end (Add, Mul) the target fuses with the Relu after it: the
	 * table takes the Relu too and writes its output. */
	int ys = fused_output(c, n, &relu);

	if (x < 0)
		return fail(c, n, "activation chain without an input");
	if (act_params(c, n, &g->tensors[x], &ax) ||
	    act_params(c, n, &g->tensors[ys], &ay))
		return -1;
	for (q = -128; q < 128; q++)
		xs[q + 128] = (float)((double)(q - ax.zp) * ax.scale);
	for (i = 0; i <= e; i++) {
		const qp_node *m = &g->nodes[i];
		const qp_op_def *d = qp_op_find(m->op);
		qp_value vin[2], vout = {.dtype = QP_DT_FLOAT32, .rank = 1, .dims = {256},
					 .numel = 256};
		const qp_value *in[2];
		qp_value *out = &vout;

		if (c->chain_end[i] != e)
			continue;
		if (!d || !d->run || m->n_inputs > 2 || n_slot == QP_ACT_CHAIN_MAX)
			return fail(c, m, "no float kernel to build the chain's table from");
		for (j = 0; j < m->n_inputs; j++) {
			const qp_tensor *t = &g->tensors[m->inputs[j]];
			int p = qp_graph_producer(g, m->inputs[j]), k;

			vin[j] = vout;
			if (m->inputs[j] == x) {
				vin[j].data = xs;
			} else if (t->data) {
				vin[j].dims[0] = 1;
				vin[j].numel = 1;
				vin[j].data = t->data;
			} else {
				for (k = 0; k < n_slot && slot[k] != p; k++)
					;
				if (k == n_slot)
					return fail(c, m, "activation chain out of order");
				vin[j].data = buf[k];
			}
			in[j] = &vin[j];
		}
		vout.data = buf[n_slot];
		slot[n_slot++] = i;
		if (d->run(g, m, in, &out, &c->line))
			return -1;
	}
	for (q = 0; q < 256; q++) {
		float v = buf[n_slot - 1][q];

		if (relu)   /* the float Relu's kernel */
			v = v > 0.0f ? v : 0.0f;
		table[q] = qp_rt_quantize_one(v, ay.scale, ay.zp, ay.qmin, ay.qmax);
	}
	if ((tin = dst_act(c, n, x)) < 0 || (tout = dst_act(c, n, ys)) < 0 ||
	    (node = add_node(c, n, "QLut", 1, &tin, tout)) < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "table", 256, table))
		return fail(c, n, "out of memory");
	return 0;
}

/* PRelu.  A slope of one value is a QLut (lower_lut: the float op on every
 * code); one that varies along a single axis is QPRelu, whose negative
 * side has a multiplier per channel, slope[c] s_x / s_y, negative for a
 * negative slope (docs/ir.md section 6). */
static int lower_prelu(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0), *s = stensor(c, n, 1);
	const qp_tensor *y = &c->src->tensors[n->outputs[0]];
	const float *sv;
	int64_t *v, ch = 1, k;
	actq ax, ay;
	int in, out, node, axis = -1, i;
	double real;
	qp_node *d;

	if (!x || x->data || !s || !s->data)
		return fail(c, n, "only an activation with a constant slope is supported");
	if (!(sv = float_const(c, n, 1, -1)))
		return -1;
	if (qp_tensor_numel(s) == 1) {
		const qp_op_def *def = qp_op_find("PRelu");
		float xs[256], ys[256];
		qp_value vx = {.dtype = QP_DT_FLOAT32, .rank = 1, .dims = {256}, .numel = 256,
			       .data = xs};
		qp_value vs = {.dtype = QP_DT_FLOAT32, .rank = 1, .dims = {1}, .numel = 1,
			       .data = (void *)sv};
		qp_value vy = vx;
		const qp_value *ins[2] = {&vx, &vs};
		qp_value *outs = &vy;
		int64_t table[256];
		int q;

		if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay))
			return -1;
		for (q = -128; q < 128; q++)
			xs[q + 128] = (float)((double)(q - ax.zp) * ax.scale);
		vy.data = ys;
		if (!def || def->run(c->src, n, ins, &outs, &c->line))
			return -1;
		for (q = 0; q < 256; q++)
			table[q] = qp_rt_quantize_one(ys[q], ay.scale, ay.zp, ay.qmin, ay.qmax);
		if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
		    (node = add_node(c, n, "QLut", 1, &in, out)) < 0)
			return -1;
		if (qp_node_set_ints(&c->dst->nodes[node], "table", 256, table))
			return fail(c, n, "out of memory");
		return 0;
	}
	if (s->rank > x->rank)
		return fail(c, n, "the slope must not broadcast the input to a larger shape");
	for (i = 0; i < s->rank; i++) {
		if (s->dims[i] == 1)
			continue;
		if (axis >= 0)
			return fail(c, n, "the slope '%s' varies along more than one axis", s->name);
		axis = i + x->rank - s->rank;
		ch = s->dims[i];
	}
	for (k = 0; k < ch; k++)
		if (!isfinite(sv[k]))
			return fail(c, n, "slope '%s' has the value %g", s->name, sv[k]);
	if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay) ||
	    (in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	real = (double)ax.scale / ay.scale;
	if (!(v = malloc((size_t)ch * 2 * sizeof *v)))
		return fail(c, n, "out of memory");
	for (k = 0; k < ch; k++) {
		double r = (double)sv[k] * ax.scale / ay.scale;
		int32_t m;
		int sh;

		if (qp_quantize_multiplier(fabs(r), &m, &sh)) {
			free(v);
			return fail(c, n, "bad slope %g for channel %lld", sv[k], (long long)k);
		}
		v[k] = r < 0 ? -(int64_t)m : m;
		v[ch + k] = sh;
	}
	if ((node = add_node(c, n, "QPRelu", 1, &in, out)) < 0) {
		free(v);
		return -1;
	}
	d = &c->dst->nodes[node];
	if (qp_node_set_int(d, "axis", axis) || set_range(c, node, &ay, 0) ||
	    set_mults(c, node, "pos_multiplier", "pos_shift", 1, &real) ||
	    qp_node_set_ints(d, "neg_multiplier", ch, v) ||
	    qp_node_set_ints(d, "neg_shift", ch, v + ch)) {
		free(v);
		return fail(c, n, "out of memory");
	}
	free(v);
	return 0;
}

/* Flatten, Reshape, Identity: a copy with the output's (inferred) shape. */
static int lower_reshape(ctx *c, const qp_node *n)
{
	const qp_tensor *y = &c->src->tensors[n->outputs[0]];
	actq ax, ay;
	int in, out, node;

	if (act_params(c, n, stensor(c, n, 0), &ax) || act_params(c, n, y, &ay) ||
	    same_quant(c, n, &ax, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QReshape", 1, &in, out)) < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "shape", y->rank, y->dims))
		return fail(c, n, "out of memory");
	return 0;
}

/* True when transposing dims by perm leaves every element at its offset:
 * the axes longer than 1 keep their order. */
static int moves_no_data(int rank, const int64_t *dims, const int64_t *perm)
{
	int64_t last = -1;

	for (int i = 0; i < rank; i++) {
		if (perm[i] < 0 || perm[i] >= rank)
			return 0;
		if (dims[perm[i]] == 1)
			continue;
		if (perm[i] < last)
			return 0;
		last = perm[i];
	}
	return 1;
}

/* A Transpose that only moves axes of length 1 (Keras' Reshape on a 1x1
 * image becomes NHWC<->NCHW transposes around it) is a reshape, which
 * costs the device nothing; any other is a QTranspose.  Quantization
 * preserving, so the integers move unchanged. */
static int lower_transpose(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	int64_t perm[QP_MAX_RANK];
	const int64_t *p;
	int np, i, in, out, node;
	actq ax, ay;

	if (!x)
		return fail(c, n, "transpose needs an input");
	p = qp_node_attr_ints(n, "perm", &np);
	if (p && np != x->rank)
		return fail(c, n, "perm has %d values for rank %d", np, x->rank);
	for (i = 0; i < x->rank; i++)
		perm[i] = p ? p[i] : x->rank - 1 - i;
	if (moves_no_data(x->rank, x->dims, perm))
		return lower_reshape(c, n);
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay) ||
	    same_quant(c, n, &ax, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QTranspose", 1, &in, out)) < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "perm", x->rank, perm))
		return fail(c, n, "out of memory");
	return 0;
}

/* A new int8 tensor "<node>/suffix" of the given dims with the
 * quantization of dst tensor like; returns it or -1. */
static int new_temp(ctx *c, const qp_node *n, int like, int rank, const int64_t *dims,
		    const char *suffix)
{
	char base[1200], *name;
	qp_quant *q = qp_quant_dup(c->dst->tensors[like].quant);
	int t;

	snprintf(base, sizeof base, "%s/%s", n->name, suffix);
	name = fresh_name(c, base);
	if (!q || !name) {
		qp_quant_free(q);
		free(name);
		return fail(c, n, "out of memory");
	}
	t = qp_graph_add_tensor(c->dst, name, QP_DT_INT8, rank, dims, &c->line);
	free(name);
	if (t < 0) {
		qp_quant_free(q);
		return -1;
	}
	c->dst->tensors[t].quant = q;
	return t;
}

/* A QReshape node "<node>/suffix" from dst tensor from to dst tensor to. */
static int add_view(ctx *c, const qp_node *n, int from, int to, const char *suffix)
{
	char base[1200], *name;
	int node;

	snprintf(base, sizeof base, "%s/%s", n->name, suffix);
	if (!(name = fresh_name_by(c, base, node_name_taken)))
		return fail(c, n, "out of memory");
	node = qp_graph_add_node(c->dst, name, "QReshape", 1, &from, 1, &to, &c->line);
	free(name);
	if (node < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "shape", c->dst->tensors[to].rank,
			     c->dst->tensors[to].dims))
		return fail(c, n, "out of memory");
	return 0;
}

/* A QTranspose node "<node>/suffix" from dst tensor from to dst tensor to
 * (to's dims are from's permuted by perm). */
static int add_transpose(ctx *c, const qp_node *n, int from, int to, const int64_t *perm,
			 const char *suffix)
{
	char base[1200], *name;
	int node;

	snprintf(base, sizeof base, "%s/%s", n->name, suffix);
	if (!(name = fresh_name_by(c, base, node_name_taken)))
		return fail(c, n, "out of memory");
	node = qp_graph_add_node(c->dst, name, "QTranspose", 1, &from, 1, &to, &c->line);
	free(name);
	if (node < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "perm", c->dst->tensors[from].rank, perm))
		return fail(c, n, "out of memory");
	return 0;
}

static int lower_softmax(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	int64_t axis = qp_node_attr_int(n, "axis", -1), table[256], flat[2];
	int64_t perm[QP_MAX_RANK], inv[QP_MAX_RANK], last[QP_MAX_RANK];
	actq ax, ay;
	double real;
	int in, out, sm_in, sm_out, node, d, view = 0, move = 0;

	if (!x || x->rank < 1)
		return fail(c, n, "softmax needs an input of rank >= 1");
	if (axis < 0)
		axis += x->rank;
	if (axis < 0 || axis >= x->rank)
		return fail(c, n, "softmax axis %lld is out of range for rank %d",
			    (long long)qp_node_attr_int(n, "axis", -1), x->rank);
	/* The runtime's softmax runs over the last axis.  When every axis
	 * after `axis` has length 1 (a classifier head kept as [N, C, 1, 1])
	 * the groups are contiguous all the same: view the tensor as
	 * [outer, C] around the softmax.  Any other axis is moved last by a
	 * QTranspose and back by its inverse (they move int8 codes: exact). */
	for (int k = (int)axis + 1; k < x->rank; k++)
		if (x->dims[k] != 1)
			move = 1;
	if (move) {
		for (int k = 0, j = 0; k < x->rank; k++)
			if (k != axis)
				perm[j++] = k;
		perm[x->rank - 1] = axis;
		for (int k = 0; k < x->rank; k++) {
			inv[perm[k]] = k;
			last[k] = x->dims[perm[k]];
		}
	} else if (axis != x->rank - 1) {
		view = 1;
		flat[1] = x->dims[axis];
		flat[0] = qp_tensor_numel(x) / (flat[1] ? flat[1] : 1);
	}
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay))
		return -1;
	/* exp(-s_x d) in Q30 for every int8 distance d = max - x. */
	for (d = 0; d < 256; d++)
		table[d] = llround(exp(-(double)ax.scale * d) * 1073741824.0);
	real = 1.0 / (1073741824.0 * ay.scale);
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	sm_in = in, sm_out = out;
	if (view && ((sm_in = new_temp(c, n, in, 2, flat, "rows")) < 0 ||
		     (sm_out = new_temp(c, n, out, 2, flat, "rows_softmax")) < 0 ||
		     add_view(c, n, in, sm_in, "rows")))
		return -1;
	if (move && ((sm_in = new_temp(c, n, in, x->rank, last, "last")) < 0 ||
		     (sm_out = new_temp(c, n, out, x->rank, last, "last_softmax")) < 0 ||
		     add_transpose(c, n, in, sm_in, perm, "to_last")))
		return -1;
	if ((node = add_node(c, n, "QSoftmax", 1, &sm_in, sm_out)) < 0 ||
	    set_range(c, node, &ay, 0) || set_mults(c, node, "multiplier", "shift", 1, &real))
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "exp_table", 256, table))
		return fail(c, n, "out of memory");
	if (move)
		return add_transpose(c, n, sm_out, out, inv, "from_last");
	return view ? add_view(c, n, sm_out, out, "unrows") : 0;
}

/* Concat: every input requantized to the output's parameters, which the
 * target gave the Concat itself (calibrated on the joined tensor).  An
 * input with the output's parameters gets the multiplier of exactly 1.0,
 * and the kernel copies it. */
static int lower_concat(ctx *c, const qp_node *n)
{
	const qp_tensor *y = &c->src->tensors[n->outputs[0]];
	int64_t axis = qp_node_attr_int(n, "axis", 0);
	double real[QP_RT_MAX_INPUTS];
	int in[QP_RT_MAX_INPUTS], out, node, i;
	actq ax, ay;

	if (n->n_inputs < 1 || n->n_inputs > QP_RT_MAX_INPUTS)
		return fail(c, n, "concat of %d inputs; the runtime takes 1 to %d", n->n_inputs,
			    QP_RT_MAX_INPUTS);
	if (axis < 0)
		axis += y->rank;
	if (axis < 0 || axis >= y->rank)
		return fail(c, n, "concat axis %lld is out of range for rank %d",
			    (long long)qp_node_attr_int(n, "axis", 0), y->rank);
	if (act_params(c, n, y, &ay))
		return -1;
	/* The kernel saturates to int8's own range. */
	if (ay.bits != 8)
		return fail(c, n, "output '%s' has %d bits; concat supports 8-bit outputs only",
			    y->name, ay.bits);
	for (i = 0; i < n->n_inputs; i++) {
		if (act_params(c, n, stensor(c, n, i), &ax) ||
		    (in[i] = dst_act(c, n, n->inputs[i])) < 0)
			return -1;
		real[i] = ax.scale == ay.scale && ax.zp == ay.zp ? 1.0 :
			  (double)ax.scale / ay.scale;
	}
	if ((out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QConcat", n->n_inputs, in, out)) < 0)
		return -1;
	if (qp_node_set_int(&c->dst->nodes[node], "axis", axis))
		return fail(c, n, "out of memory");
	return set_mults(c, node, "multiplier", "shift", n->n_inputs, real);
}

/* A QSlice node from dst tensor x to dst tensor y named after n (fresh
 * names when one node becomes several), with per-axis start and step of
 * an output of dims out, ends written as one past the last element taken,
 * as the runtime's check wants. */
static int add_slice(ctx *c, const qp_node *n, int x, int y, int rank,
		     const int64_t *start, const int64_t *step, const int64_t *out)
{
	int64_t p[3][QP_MAX_RANK];
	char *name;
	int node, k;

	for (k = 0; k < rank; k++) {
		/* One element: any step says the same; keep it in int32. */
		int64_t st = out[k] == 1 ? (step[k] > 0 ? 1 : -1) : step[k];

		if (out[k] < 1)
			return fail(c, n, "slice takes no elements on axis %d", k);
		p[0][k] = start[k];
		p[1][k] = start[k] + (out[k] - 1) * st + (st > 0 ? 1 : -1);
		p[2][k] = st;
	}
	if (!(name = fresh_name_by(c, n->name, node_name_taken)))
		return fail(c, n, "out of memory");
	node = qp_graph_add_node(c->dst, name, "QSlice", 1, &x, 1, &y, &c->line);
	free(name);
	if (node < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "starts", rank, p[0]) ||
	    qp_node_set_ints(&c->dst->nodes[node], "ends", rank, p[1]) ||
	    qp_node_set_ints(&c->dst->nodes[node], "steps", rank, p[2]))
		return fail(c, n, "out of memory");
	return 0;
}

/* Slice with constant starts/ends/steps: quantization preserving, so the
 * integers are picked out unchanged. */
static int lower_slice(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	int64_t start[QP_MAX_RANK], step[QP_MAX_RANK], dims[QP_MAX_RANK];
	actq ax, ay;
	int in, out;

	if (!x)
		return fail(c, n, "slice needs an input");
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay) ||
	    same_quant(c, n, &ax, &ay) ||
	    qp_slice_plan(n, x->rank, x->dims, start, step, dims, &c->line))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0)
		return -1;
	return add_slice(c, n, in, out, x->rank, start, step, dims);
}

/* Split: one QSlice per output, each its run of the axis. */
static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* 1 / f for a float f > 0 as an exact fraction num / den: f is m 2^e with
 * m an integer of at most 24 bits.  Returns -1 when it does not fit. */
static int float_inverse(float f, int64_t *num, int64_t *den)
{
	int e;
	double m = frexp((double)f, &e);
	int64_t mi = (int64_t)ldexp(m, 24), g;

	e -= 24;           /* f = mi 2^e */
	if (e <= 0) {
		if (-e > 62)
			return -1;
		*num = (int64_t)1 << -e, *den = mi;
	} else {
		if (e > 30)
			return -1;
		*num = 1, *den = mi << e;
	}
	g = gcd64(*num, *den);
	*num /= g, *den /= g;
	return 0;
}

/* Resize, nearest or linear, on the spatial axes of [N, C, H, W] or
 * [N, C, L]: QResize, sharing the input's parameters (runtime/kernels.c
 * says why that is exact).  Each axis's input/output ratio goes as an
 * exact fraction, in / out or 1 / scale; align_corners and
 * pytorch_half_pixel become the kernel's three coordinate rules by
 * choosing that ratio. */
static int lower_resize(ctx *c, const qp_node *n)
{
	static const char *const nearest_modes[] = {"floor", "ceil", "round_prefer_floor",
						    "round_prefer_ceil"};
	const qp_tensor *x = stensor(c, n, 0), *y = &c->src->tensors[n->outputs[0]];
	const char *mode = qp_node_attr_string(n, "mode", "nearest");
	const char *ct = qp_node_attr_string(n, "coordinate_transformation_mode", "half_pixel");
	const char *nm = qp_node_attr_string(n, "nearest_mode", "round_prefer_floor");
	const float *scales;
	int64_t num[2] = {1, 1}, den[2] = {1, 1}, coord, nearest = -1, linear;
	actq ax, ay;
	int cnt, i, in, out, node;

	if (!x || (x->rank != 4 && x->rank != 3) || y->rank != x->rank)
		return fail(c, n, "only 1-d and 2-d resizing (rank-3 or rank-4 input) is supported");
	linear = !strcmp(mode, "linear");
	if (!linear && strcmp(mode, "nearest"))
		return fail(c, n, "resize mode '%s' is not supported on the device (nearest, linear)", mode);
	for (i = 0; i < 4 && !linear; i++)
		if (!strcmp(nm, nearest_modes[i]))
			nearest = i;
	if (!linear && nearest < 0)
		return fail(c, n, "nearest_mode '%s' is not supported", nm);
	if (!strcmp(ct, "asymmetric") || !strcmp(ct, "align_corners"))
		coord = 0;
	else if (!strcmp(ct, "half_pixel") || !strcmp(ct, "pytorch_half_pixel"))
		coord = 1;
	else if (!strcmp(ct, "tf_half_pixel_for_nearest"))
		coord = 2;
	else
		return fail(c, n, "coordinate_transformation_mode '%s' is not supported on the device", ct);
	scales = qp_node_attr_floats(n, "scales", &cnt);
	if (scales && cnt != x->rank)
		return fail(c, n, "scales has %d values, the input rank is %d", cnt, x->rank);
	for (i = 0; i < 2; i++)
		if (y->dims[i] != x->dims[i])
			return fail(c, n, "resizing axis %d is not supported; only the spatial axes", i);
	for (i = 2; i < x->rank; i++) {
		int64_t in_len = x->dims[i], out_len = y->dims[i], nu, de, g;
		/* ONNX: with explicit scales the resized length is in * scale,
		 * unrounded (lib/ops/ops_tensor.c, resize_coord). */
		double len = scales ? (double)in_len * scales[i] : (double)out_len;
		int a = x->rank == 4 ? i - 2 : 1;

		if (!strcmp(ct, "align_corners")) {
			if (len != floor(len))
				return fail(c, n, "align_corners with a resized length %g that is not whole is not supported",
					    len);
			nu = len > 1 ? in_len - 1 : 0, de = len > 1 ? (int64_t)len - 1 : 1;
		} else if (!strcmp(ct, "pytorch_half_pixel") && !(len > 1)) {
			nu = 0, de = 1, coord = 0;   /* coordinate 0 */
		} else if (scales) {
			if (float_inverse(scales[i], &nu, &de))
				return fail(c, n, "scale %g on axis %d is out of range for the device", scales[i], i);
		} else {
			nu = in_len, de = out_len;
		}
		g = nu ? gcd64(nu, de) : de;
		nu /= g, de /= g;
		if (nu > (1 << 30) || de > (1 << 24))
			return fail(c, n, "the ratio %lld/%lld on axis %d is out of range for the device (numerator at most 2^30, denominator 2^24)",
				    (long long)nu, (long long)de, i);
		num[a] = nu, den[a] = de;
	}
	if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay) || same_quant(c, n, &ax, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QResize", 1, &in, out)) < 0)
		return -1;
	if (qp_node_set_int(&c->dst->nodes[node], "mode", linear) ||
	    qp_node_set_int(&c->dst->nodes[node], "coord", coord) ||
	    qp_node_set_int(&c->dst->nodes[node], "nearest", linear ? 0 : nearest) ||
	    qp_node_set_ints(&c->dst->nodes[node], "num", 2, num) ||
	    qp_node_set_ints(&c->dst->nodes[node], "den", 2, den) ||
	    qp_node_set_ints(&c->dst->nodes[node], "sizes", y->rank, y->dims))
		return fail(c, n, "out of memory");
	return 0;
}

static int lower_split(ctx *c, const qp_node *n)
{
	const qp_tensor *x = stensor(c, n, 0);
	int64_t start[QP_MAX_RANK], step[QP_MAX_RANK], dims[QP_MAX_RANK], axis, off = 0;
	const int64_t *split;
	int cnt, in, out, j, k;
	actq ax, ay;

	if (!x)
		return fail(c, n, "split needs an input");
	axis = qp_node_attr_int(n, "axis", 0);
	if (axis < 0)
		axis += x->rank;
	split = qp_node_attr_ints(n, "split", &cnt);
	if (axis < 0 || axis >= x->rank || !split || cnt != n->n_outputs)
		return fail(c, n, "split needs an axis in range and one size per output");
	if (act_params(c, n, x, &ax) || (in = dst_act(c, n, n->inputs[0])) < 0)
		return -1;
	for (k = 0; k < x->rank; k++) {
		start[k] = 0;
		step[k] = 1;
		dims[k] = x->dims[k];
	}
	for (j = 0; j < n->n_outputs; j++) {
		if (act_params(c, n, &c->src->tensors[n->outputs[j]], &ay) ||
		    same_quant(c, n, &ax, &ay) || (out = dst_act(c, n, n->outputs[j])) < 0)
			return -1;
		start[axis] = off;
		dims[axis] = split[j];
		if (add_slice(c, n, in, out, x->rank, start, step, dims))
			return -1;
		off += split[j];
	}
	return 0;
}

/* Pad: the pad constant quantized with the input's parameters, which the
 * output shares (a zero pad is the zero point); reflect and edge copy
 * input elements, so they are exact too.  The kernel's mode numbers are
 * the positions in this list. */
static int lower_pad(ctx *c, const qp_node *n)
{
	static const char *const modes[] = {"constant", "reflect", "edge"};
	const qp_tensor *x = stensor(c, n, 0);
	const char *mode = qp_node_attr_string(n, "mode", "constant");
	const int64_t *pads;
	int np, m, k, in, out, node;
	actq ax, ay;

	if (!x)
		return fail(c, n, "pad needs an input");
	for (m = 0; m < 3 && strcmp(mode, modes[m]); m++)
		;
	if (m == 3)
		return fail(c, n, "pad mode '%s' is not supported (constant, reflect, edge)", mode);
	pads = qp_node_attr_ints(n, "pads", &np);
	if (!pads || np != 2 * x->rank)
		return fail(c, n, "pads has %d values for rank %d", pads ? np : 0, x->rank);
	for (k = 0; k < np; k++)
		if (pads[k] < INT32_MIN || pads[k] > INT32_MAX)
			return fail(c, n, "pad %lld does not fit the runtime's int32", (long long)pads[k]);
	if (act_params(c, n, x, &ax) || act_params(c, n, &c->src->tensors[n->outputs[0]], &ay) ||
	    same_quant(c, n, &ax, &ay))
		return -1;
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (node = add_node(c, n, "QPad", 1, &in, out)) < 0)
		return -1;
	if (qp_node_set_int(&c->dst->nodes[node], "mode", m) ||
	    qp_node_set_int(&c->dst->nodes[node], "value",
			    qp_rt_quantize_one(qp_node_attr_float(n, "value", 0.0f), ax.scale,
					       ax.zp, ax.qmin, ax.qmax)) ||
	    qp_node_set_ints(&c->dst->nodes[node], "pads", np, pads))
		return fail(c, n, "out of memory");
	return 0;
}

/* DepthToSpace and SpaceToDepth as the ONNX spec defines them: a view of
 * x as 6 axes, a QTranspose, a view as y.  With b the blocksize and
 * [N, C, H, W] the depth side ([N, C * b * b, H, W] holds the blocks):
 *   DCR:          [N, b, b, C, H, W] perm 0 3 4 1 5 2 -> [N, C, H, b, W, b]
 *   CRD:          [N, C, b, b, H, W] perm 0 1 4 2 5 3 -> [N, C, H, b, W, b]
 *   SpaceToDepth: [N, C, H, b, W, b] perm 0 3 5 1 2 4 -> [N, b, b, C, H, W]
 * (SpaceToDepth undoes DCR).  Every step moves integers only. */
static int lower_depth_space(ctx *c, const qp_node *n)
{
	static const int64_t dcr[6] = {0, 3, 4, 1, 5, 2}, crd[6] = {0, 1, 4, 2, 5, 3},
			     s2d[6] = {0, 3, 5, 1, 2, 4};
	const qp_tensor *x = stensor(c, n, 0), *y = &c->src->tensors[n->outputs[0]];
	int to_space = strcmp(n->op, "DepthToSpace") == 0;
	const char *mode = qp_node_attr_string(n, "mode", "DCR");
	int64_t b = qp_node_attr_int(n, "blocksize", 0), a[6], t[6];
	const int64_t *perm;
	int in, out, va, vt, node, k;
	actq ax, ay;

	if (!x || x->rank != 4 || y->rank != 4 || b < 1)
		return fail(c, n, "needs an input of rank 4 and a blocksize >= 1");
	if (to_space && strcmp(mode, "DCR") && strcmp(mode, "CRD"))
		return fail(c, n, "mode '%s' is not supported (DCR, CRD)", mode);
	if (act_params(c, n, x, &ax) || act_params(c, n, y, &ay) || same_quant(c, n, &ax, &ay))
		return -1;
	/* The six axes of the blocked side, as the comment above lists them. */
	a[0] = x->dims[0];
	if (!to_space) {
		perm = s2d;
		a[1] = x->dims[1], a[2] = x->dims[2] / b, a[3] = b, a[4] = x->dims[3] / b, a[5] = b;
	} else {
		perm = strcmp(mode, "DCR") ? crd : dcr;
		a[1] = perm == dcr ? b : y->dims[1], a[2] = b, a[3] = perm == dcr ? y->dims[1] : b;
		a[4] = x->dims[2], a[5] = x->dims[3];
	}
	for (k = 0; k < 6; k++)
		t[k] = a[perm[k]];
	if ((in = dst_act(c, n, n->inputs[0])) < 0 || (out = dst_act(c, n, n->outputs[0])) < 0 ||
	    (va = new_temp(c, n, in, 6, a, "blocks")) < 0 ||
	    (vt = new_temp(c, n, in, 6, t, "blocks_moved")) < 0 ||
	    add_view(c, n, in, va, "blocks") ||
	    (node = add_node(c, n, "QTranspose", 1, &va, vt)) < 0)
		return -1;
	if (qp_node_set_ints(&c->dst->nodes[node], "perm", 6, perm))
		return fail(c, n, "out of memory");
	return add_view(c, n, vt, out, "unblocks");
}

typedef struct rule {
	const char *op;
	int (*lower)(ctx *c, const qp_node *n);
} rule;

static const rule rules[] = {
	{"Conv", lower_conv},
	{"ConvTranspose", lower_convtranspose},
	{"Gemm", lower_gemm},
	{"MatMul", lower_gemm},
	{"MaxPool", lower_maxpool},
	{"AveragePool", lower_avgpool},
	{"GlobalAveragePool", lower_avgpool},
	{"GlobalMaxPool", lower_maxpool},
	{"ReduceMean", lower_reduce_mean},
	{"Resize", lower_resize},
	{"Add", lower_add_mul},
	{"Mul", lower_add_mul},
	{"Sub", lower_add_mul},
	{"Div", lower_div},
	{"BatchNormalization", lower_batchnorm},
	{"Relu", lower_relu},
	{"Flatten", lower_reshape},
	{"Reshape", lower_reshape},
	{"Identity", lower_reshape},
	{"Softmax", lower_softmax},
	{"Transpose", lower_transpose},
	{"Squeeze", lower_reshape},
	{"Unsqueeze", lower_reshape},
	{"Pad", lower_pad},
	{"DepthToSpace", lower_depth_space},
	{"SpaceToDepth", lower_depth_space},
	{"Concat", lower_concat},
	{"Slice", lower_slice},
	{"Split", lower_split},
	{"Clip", lower_clip},
	{"PRelu", lower_prelu},
	{"Sigmoid", lower_lut},
	{"Tanh", lower_lut},
	{"HardSigmoid", lower_lut},
	{"HardSwish", lower_lut},
	{"LeakyRelu", lower_lut},
	{"Elu", lower_lut},
	{"ThresholdedRelu", lower_lut},
	{"Exp", lower_lut},
	{"Erf", lower_lut},
	{"Gelu", lower_lut},
	{"Sqrt", lower_lut},
	{"Reciprocal", lower_lut},
	{"Abs", lower_lut},
	{"Neg", lower_lut},
	{NULL, NULL},
};

/* ---- the pass ------------------------------------------------------------------------ */

/* The first node reading tensor t, or -1. */
static int first_reader(const qp_graph *g, int t)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j] == t)
				return i;
	return -1;
}

static int add_boundary(ctx *c, int is_input, int i)
{
	const qp_graph *g = c->src;
	const qp_graph_io *io = is_input ? &g->inputs[i] : &g->outputs[i];
	const qp_tensor *s = &g->tensors[io->tensor];
	qp_node fake = {.name = s->name, .op = is_input ? "Quantize" : "Dequantize"};
	char *node_name;
	size_t len = strlen(s->name) + 16;
	int ft, qt, node, in, out;
	actq a;

	if (s->dtype != QP_DT_FLOAT32)
		return fail(c, &fake, "graph %s '%s' is %s; float32 expected",
			    is_input ? "input" : "output", s->name, qp_dtype_name(s->dtype));
	if ((qt = dst_act(c, &fake, io->tensor)) < 0 || act_params(c, &fake, s, &a))
		return -1;
	ft = qp_graph_add_tensor(c->dst, s->name, QP_DT_FLOAT32, s->rank, s->dims, &c->line);
	if (ft < 0)
		return -1;
	if (!(node_name = malloc(len)))
		return fail(c, &fake, "out of memory");
	snprintf(node_name, len, "%s_%s", is_input ? "quantize" : "dequantize", s->name);
	in = is_input ? ft : qt;
	out = is_input ? qt : ft;
	node = qp_graph_add_node(c->dst, node_name, fake.op, 1, &in, 1, &out, &c->line);
	free(node_name);
	if (node < 0)
		return -1;
	if (is_input && set_range(c, node, &a, 0))
		return -1;
	return 0;
}

static int set_io(ctx *c)
{
	const qp_graph *g = c->src;
	qp_graph *d = c->dst;
	int i;

	d->inputs = calloc((size_t)(g->n_inputs ? g->n_inputs : 1), sizeof *d->inputs);
	d->outputs = calloc((size_t)(g->n_outputs ? g->n_outputs : 1), sizeof *d->outputs);
	if (!d->inputs || !d->outputs)
		return qp_err_set(&c->line, "out of memory");
	for (i = 0; i < g->n_inputs; i++) {
		d->inputs[i].tensor = qp_graph_find_tensor(d, g->tensors[g->inputs[i].tensor].name);
		d->inputs[i].layout = g->inputs[i].layout ? strdup(g->inputs[i].layout) : NULL;
		d->n_inputs++;
	}
	for (i = 0; i < g->n_outputs; i++) {
		d->outputs[i].tensor = qp_graph_find_tensor(d, g->tensors[g->outputs[i].tensor].name);
		d->outputs[i].layout = g->outputs[i].layout ? strdup(g->outputs[i].layout) : NULL;
		d->n_outputs++;
	}
	return 0;
}

/* ---- the target's resources --------------------------------------------------------- */

#define N_LARGEST 3

static int64_t round_up16(int64_t n)
{
	return (n + 15) / 16 * 16;
}

/* Bytes emit's weights section gives dst tensor t (docs/binary.md section
 * 6: each constant padded to 16), 0 for a tensor that is not there. */
static int64_t weight_bytes(const qp_graph *g, int t)
{
	if (!g->tensors[t].data || is_graph_input(g, t) || is_graph_output(g, t))
		return 0;
	return round_up16((int64_t)g->tensors[t].nbytes);
}

/* What node k of g costs: its arena output or its weights. */
static int64_t node_bytes(const qp_graph *g, int k, int weights)
{
	const qp_node *n = &g->nodes[k];
	int64_t sum = 0;

	if (!weights)
		return qp_lowered_in_arena(g, n->outputs[0]) ?
		       qp_tensor_numel(&g->tensors[n->outputs[0]]) : 0;   /* int8 */
	for (int j = 0; j < n->n_inputs; j++)
		if (n->inputs[j] >= 0)
			sum += weight_bytes(g, n->inputs[j]);
	return sum;
}

/* One line on err: need bytes exceed the target's limit of key, with the
 * N_LARGEST nodes that cost most (ties in graph order). */
static void over_budget(const qp_graph *g, const char *what, int64_t need,
			int64_t limit, const char *key, int weights, qp_err *err)
{
	char line[QP_ERR_MSG_MAX], *p = line, *end = line + sizeof line;
	int top[N_LARGEST], n_top = 0, n_cost = 0;

	p += snprintf(p, (size_t)(end - p), "%s %lld bytes, %lld more than the target's %lld (resources.%s); largest:",
		      what, (long long)need, (long long)(need - limit), (long long)limit, key);
	for (int k = 0; k < g->n_nodes; k++) {
		int64_t b = node_bytes(g, k, weights);
		int at;

		if (b == 0)
			continue;
		n_cost++;
		for (at = n_top; at > 0 && node_bytes(g, top[at - 1], weights) < b; at--)
			if (at < N_LARGEST)
				top[at] = top[at - 1];
		if (at < N_LARGEST) {
			top[at] = k;
			if (n_top < N_LARGEST)
				n_top++;
		}
	}
	for (int i = 0; i < n_top && p < end; i++)
		p += snprintf(p, (size_t)(end - p), "%s '%s' %lld bytes", i ? "," : "",
			      g->nodes[top[i]].name, (long long)node_bytes(g, top[i], weights));
	if (n_cost > n_top && p < end)
		snprintf(p, (size_t)(end - p), ", ...");
	qp_err_append(err, "%s", line);
}

/* Refuses a lowered graph the target's resources cannot hold: the weights
 * section emit will write, and the planned arena. */
static int check_resources(const ctx *c, const qp_plan *plan, qp_err *err)
{
	const qp_tpc *t = c->tpc;
	int64_t weights = 0;

	if (!t)
		return 0;
	err->msg[0] = '\0';
	for (int i = 0; i < c->dst->n_tensors; i++)
		weights += weight_bytes(c->dst, i);
	if (t->weight_memory_bytes >= 0 && weights > t->weight_memory_bytes)
		over_budget(c->dst, "the weights need", weights, t->weight_memory_bytes,
			    "weight_memory_bytes", 1, err);
	if (t->activation_memory_bytes >= 0 && plan->arena_size > t->activation_memory_bytes)
		over_budget(c->dst, "the activation arena needs", plan->arena_size,
			    t->activation_memory_bytes, "activation_memory_bytes", 0, err);
	return err->msg[0] ? -1 : 0;
}

/* The report (report.c) prints the same numbers the check above uses. */
int64_t qp_lower_weight_bytes(const qp_graph *g, int t)
{
	return weight_bytes(g, t);
}

int64_t qp_lower_node_bytes(const qp_graph *g, int k, int weights)
{
	return node_bytes(g, k, weights);
}

int qp_lower(const qp_graph *src, qp_graph **out, qp_err *err)
{
	return qp_lower_fused(src, out, NULL, err);
}

int qp_lower_fused(const qp_graph *src, qp_graph **out, int **fused_into, qp_err *err)
{
	ctx c;
	int i, n_fail = 0, rc = -1;
	qp_plan plan = {0};
	qp_err collected;

	*out = NULL;
	if (fused_into)
		*fused_into = NULL;
	collected.msg[0] = '\0';
	if (qp_lowered_is(src))
		return qp_err_set(err, "already lowered");
	if (src->n_outputs < 1)
		return qp_err_set(err, "the graph has no outputs; there is nothing to lower");
	/* The rules trust shapes and attributes: a Conv with group 0 must stop
	 * here, naming its node, not reach emit as a QConv the runtime refuses. */
	if (qp_graph_check_shapes(src, err))
		return -1;
	memset(&c, 0, sizeof c);
	c.src = src;
	c.fused_act = -1;
	for (i = 0; i < src->n_inputs; i++) {
		int t = src->inputs[i].tensor, k = first_reader(src, t);
		qp_node fake = {.name = src->tensors[t].name, .op = "Quantize"};

		if (src->tensors[t].quant)
			continue;
		if (!src->meta || !cJSON_GetObjectItemCaseSensitive(src->meta, "target"))
			return qp_err_set(err, "not quantized; run quantize first");
		/* quantize ran and left the input float: say why, at its reader. */
		no_quant(&c, k >= 0 ? &src->nodes[k] : &fake, &src->tensors[t]);
		qp_tpc_free(c.tpc);
		return qp_err_set(err, "%s", c.line.msg);
	}
	/* The target decides what is fused and how much memory there is; one
	 * that does not parse cannot be obeyed. */
	if (src->meta && cJSON_GetObjectItemCaseSensitive(src->meta, "target") &&
	    qp_tpc_from_json(cJSON_GetObjectItemCaseSensitive(src->meta, "target"), &c.tpc, &c.line))
		return qp_err_set(err, "meta.target is not a valid target description: %s", c.line.msg);
	c.tpc_tried = 1;
	c.dst = qp_graph_new();
	c.map = malloc((size_t)(src->n_tensors ? src->n_tensors : 1) * sizeof *c.map);
	c.skip = calloc((size_t)(src->n_nodes ? src->n_nodes : 1), 1);
	c.fused_into = malloc((size_t)(src->n_nodes ? src->n_nodes : 1) * sizeof *c.fused_into);
	if (!c.dst || !c.map || !c.skip || !c.fused_into) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < src->n_tensors; i++)
		c.map[i] = -1;
	for (i = 0; i < src->n_nodes; i++)
		c.fused_into[i] = -1;
	if (!(c.chain_end = malloc((size_t)(src->n_nodes ? src->n_nodes : 1) * sizeof *c.chain_end)) ||
	    qp_act_chains(src, c.chain_end)) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	/* The chains quantize made: their inside left without parameters.  A
	 * chain some of whose inside has them lowers op by op. */
	for (i = 0; i < src->n_nodes; i++) {
		int e = c.chain_end[i];

		if (e >= 0 && e != i && src->tensors[src->nodes[i].outputs[0]].quant)
			for (int k = 0; k < src->n_nodes; k++)
				if (c.chain_end[k] == e)
					c.chain_end[k] = -1;
	}
	if ((src->history && !(c.dst->history = cJSON_Duplicate(src->history, 1))) ||
	    (src->meta && !(c.dst->meta = cJSON_Duplicate(src->meta, 1)))) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < src->n_inputs; i++)
		if (add_boundary(&c, 1, i)) {
			qp_err_append(&collected, "%s", c.line.msg);
			n_fail++;
		}
	for (i = 0; i < src->n_nodes; i++) {
		const qp_node *n = &src->nodes[i];
		const rule *r;

		if (c.chain_end[i] >= 0 && c.chain_end[i] != i) {
			c.fused_into[i] = c.chain_end[i];   /* lower_chain's table */
			continue;
		}
		if (c.skip[i])
			continue;
		for (r = rules; r->op && strcmp(r->op, n->op); r++)
			;
		c.line.msg[0] = '\0';
		c.fused_act = -1;
		if (c.chain_end[i] == i) {
			if (lower_chain(&c, n) == 0)
				continue;
		} else if (!r->op)
			fail(&c, n, "unsupported op");
		else if (r->lower(&c, n) == 0)
			continue;
		qp_err_append(&collected, "%s", c.line.msg[0] ? c.line.msg : "failed");
		n_fail++;
	}
	if (n_fail) {
		qp_err_set(err, "%s", collected.msg);
		goto out;
	}
	for (i = 0; i < src->n_outputs; i++)
		if (add_boundary(&c, 0, i)) {
			qp_err_set(err, "%s", c.line.msg);
			goto out;
		}
	if (set_io(&c) || qp_graph_infer_shapes(c.dst, &c.line) ||
	    qp_graph_verify(c.dst, &c.line) || qp_plan_compute(c.dst, &plan, &c.line) ||
	    check_resources(&c, &plan, &c.line) || qp_plan_store(c.dst, &plan, &c.line)) {
		qp_err_set(err, "%s", c.line.msg);
		goto out;
	}
	*out = c.dst;
	c.dst = NULL;
	if (fused_into) {
		*fused_into = c.fused_into;
		c.fused_into = NULL;
	}
	rc = 0;
out:
	qp_plan_release(&plan);
	qp_graph_free(c.dst);
	qp_tpc_free(c.tpc);
	free(c.map);
	free(c.skip);
	free(c.fused_into);
	free(c.chain_end);
	return rc;
}
