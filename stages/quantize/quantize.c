#include "quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actchain.h"
#include "constop.h"
#include "ops_common.h"
#include "passes.h"
#include "quant.h"
#include "stats.h"

/* ---- per-op rules ------------------------------------------------------------
 * Which inputs of an op are weights (quantized per output channel), biases
 * (int32 at s_input * s_weight) and parameters that stay float.  Ops
 * without a row have none; their float constant inputs are quantized per
 * tensor like activations. */

typedef struct quant_rule {
	const char *op;
	int weight;          /* input index of the weight, -1: none */
	int bias;            /* input index of the bias, -1: none */
	/* Output-channel axis of the weight, or -1 when this node's weight
	 * is not one the rule handles (it is then treated as a constant). */
	int (*weight_axis)(const qp_graph *g, const qp_node *n);
	/* Constant inputs from this index on are parameters, kept float (0:
	 * none): Clip's bounds are compared with, not multiplied into, the
	 * activation, and lower quantizes them at the activation's own
	 * parameters, which a scale of their own would only round. */
	int float_from;
} quant_rule;

static int conv_axis(const qp_graph *g, const qp_node *n)
{
	return g->tensors[n->inputs[1]].rank >= 1 ? 0 : -1;
}

static int gemm_axis(const qp_graph *g, const qp_node *n)
{
	if (g->tensors[n->inputs[1]].rank != 2)
		return -1;
	return qp_node_attr_int(n, "transB", 0) ? 0 : 1;
}

/* ConvTranspose's W is [C_in, C_out/group, k...]: the output channels are
 * axis 1, each of its C_out/group shared by the groups (quantize_bias). */
static int convtranspose_axis(const qp_graph *g, const qp_node *n)
{
	return g->tensors[n->inputs[1]].rank >= 2 ? 1 : -1;
}

/* MatMul with a constant 2-D B [K, N]: N output channels on axis 1. */
static int matmul_axis(const qp_graph *g, const qp_node *n)
{
	return g->tensors[n->inputs[1]].rank == 2 ? 1 : -1;
}

static const quant_rule rules[] = {
	{"Conv", 1, 2, conv_axis, 0},
	{"ConvTranspose", 1, 2, convtranspose_axis, 0},
	{"Gemm", 1, 2, gemm_axis, 0},
	{"MatMul", 1, -1, matmul_axis, 0},
	{"Clip", -1, -1, NULL, 1},
	/* lower folds a constant divisor and BatchNormalization's statistics
	 * into 31-bit multipliers: 8-bit copies would only add a rounding. */
	{"Div", -1, -1, NULL, 1},
	{"BatchNormalization", -1, -1, NULL, 1},
	/* PRelu's slope: lower folds it into the negative side's multipliers
	 * (QPRelu) or the table (QLut), never an int8 activation. */
	{"PRelu", -1, -1, NULL, 1},
	{NULL, 0, 0, NULL, 0},
};

static const quant_rule *find_rule(const char *op)
{
	const quant_rule *r;

	for (r = rules; r->op; r++)
		if (!strcmp(r->op, op))
			return r;
	return NULL;
}

/* ---- checks on the input ------------------------------------------------------ */

static int is_activation(const qp_graph *g, int t)
{
	return t >= 0 && !g->tensors[t].data &&
	       g->tensors[t].dtype == QP_DT_FLOAT32;
}

static int check_not_quantized(const qp_graph *g, qp_err *err)
{
	if (g->meta && cJSON_GetObjectItemCaseSensitive(g->meta, "lowered"))
		return qp_err_set(err, "input is already lowered; quantize takes a calibrated float IR");
	if (g->meta && cJSON_GetObjectItemCaseSensitive(g->meta, "target"))
		return qp_err_set(err, "input is already quantized (it has meta.target); quantize takes a calibrated float IR");
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i].quant)
			return qp_err_set(err, "input is already quantized (tensor '%s' has quant); quantize takes a calibrated float IR",
					  g->tensors[i].name);
	return 0;
}

/* Every float activation needs statistics.  With none at all the input is
 * simply uncalibrated, which deserves the short message. */
static int check_stats(const qp_graph *g, qp_err *err)
{
	int with = 0, first_without = -1;

	for (int i = 0; i < g->n_tensors; i++) {
		int used = qp_graph_producer(g, i) >= 0;

		for (int k = 0; k < g->n_inputs && !used; k++)
			used = g->inputs[k].tensor == i;
		if (!used || !is_activation(g, i))
			continue;
		if (g->tensors[i].stats)
			with++;
		else if (first_without < 0)
			first_without = i;
	}
	if (first_without < 0)
		return 0;
	if (!with)
		return qp_err_set(err, "no activation statistics; run calibrate first");
	return qp_err_set(err, "activation '%s' has no statistics; run calibrate first",
			  g->tensors[first_without].name);
}

/* Collect, then fail: one line per op the target does not list. */
static int check_ops(const qp_graph *g, const qp_tpc *tpc, qp_err *err)
{
	int bad = 0;

	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];
		int seen = 0;

		if (qp_tpc_find_op(tpc, n->op))
			continue;
		for (int k = 0; k < i && !seen; k++)
			seen = !strcmp(g->nodes[k].op, n->op) &&
			       !qp_tpc_find_op(tpc, g->nodes[k].op);
		if (seen)
			continue;
		if (!bad)
			qp_node_err(err, n, "target '%s' does not support op '%s'",
				    tpc->name, n->op);
		else
			qp_node_err_append(err, n, "target '%s' does not support op '%s'",
				           tpc->name, n->op);
		bad++;
	}
	return bad ? -1 : 0;
}

/* ---- quantizing tensors ------------------------------------------------------- */

static int resolve_signed(qp_signedness s, float min)
{
	if (s == QP_SIGN_AUTO)
		return !(min >= 0);
	return s == QP_SIGN_SIGNED;
}

/* Replaces the float data of constant t by integers under quant q. */
static int store_quantized(qp_tensor *t, qp_quant *q, qp_err *err)
{
	float *src = t->data;
	qp_dtype dt;

	if (qp_quant_storage_dtype(q->bits, q->is_signed, &dt)) {
		qp_quant_free(q);
		return qp_err_set(err, "tensor '%s': no storage for %s %d-bit integers",
				  t->name, q->is_signed ? "signed" : "unsigned", q->bits);
	}
	/* Take the float data so reshape does not free it yet. */
	t->data = NULL;
	qp_tensor_reshape(t, dt, t->rank, t->dims);
	if (qp_tensor_alloc_data(t, err) ||
	    qp_quantize_array(src, t->rank, t->dims, q, t->data, dt, err)) {
		free(src);
		qp_quant_free(q);
		return -1;
	}
	free(src);
	t->quant = q;
	return 0;
}

static int quantize_weight(qp_graph *g, const qp_node *n, int wt, int axis,
			   const qp_tpc_op_config *cfg, qp_err *err)
{
	qp_tensor *t = &g->tensors[wt];
	qp_quant *q;

	if (t->quant) {
		/* Shared by an earlier node: fine when quantized alike. */
		if (t->quant->bits == cfg->weights_n_bits &&
		    t->quant->scheme == cfg->weights_method &&
		    t->quant->axis == (cfg->weights_per_channel ? axis : -1))
			return 0;
		return qp_node_err(err, n, "weight '%s' is shared with a node that quantizes it differently",
				   t->name);
	}
	q = qp_quant_choose_array(t->data, t->rank, t->dims,
				  cfg->weights_per_channel ? axis : -1,
				  cfg->weights_method, cfg->weights_n_bits, 1, err);
	if (!q)
		return qp_node_err_prefix(err, n, "weight '%s'", t->name);
	return store_quantized(t, q, err);
}

/* int32 bias at scale s_in * s_w[c], one scale per output channel. */
static int quantize_bias(qp_graph *g, const qp_node *n, int bt, int wt,
			 qp_err *err)
{
	const qp_quant *qin = g->tensors[n->inputs[0]].quant;
	const qp_quant *qw = g->tensors[wt].quant;
	qp_tensor *t = &g->tensors[bt];
	qp_quant *q;
	int64_t oc;
	/* ConvTranspose: the weight has C_out/group channels on axis 1, and
	 * output channel c (group c / (C_out/group)) is weight channel
	 * c % (C_out/group). */
	int64_t groups = strcmp(n->op, "ConvTranspose") ? 1 : qp_node_attr_int(n, "group", 1);

	if (t->rank != 1)
		return qp_node_err(err, n, "bias '%s' has rank %d, want 1", t->name, t->rank);
	oc = t->dims[0];
	if (qw->n != 1 && (int64_t)qw->n * groups != oc)
		return qp_node_err(err, n, "bias '%s' has %lld channels but the weight %lld",
				   t->name, (long long)oc, (long long)qw->n * groups);
	if (qin->n != 1)
		return qp_node_err(err, n, "input '%s' is quantized per channel",
				   g->tensors[n->inputs[0]].name);
	q = qp_quant_new((int)oc);
	if (!q)
		return qp_err_set(err, "out of memory");
	q->scheme = QP_Q_SYMMETRIC;
	q->bits = 32;
	q->is_signed = 1;
	q->axis = 0;
	for (int64_t c = 0; c < oc; c++) {
		q->scale[c] = qin->scale[0] * qw->scale[qw->n == 1 ? 0 : c % qw->n];
		q->zero_point[c] = 0;
	}
	if (t->quant) {
		int same = qp_quant_equal(t->quant, q);

		qp_quant_free(q);
		return same ? 0 : qp_node_err(err, n, "bias '%s' is shared by nodes with different input or weight scales",
					      t->name);
	}
	return store_quantized(t, q, err);
}

/* Any other float constant input: per tensor, like an activation of this
 * op, from the constant's own range. */
static int quantize_constant(qp_graph *g, const qp_node *n, int ct,
			     const qp_tpc_op_config *cfg, qp_err *err)
{
	qp_tensor *t = &g->tensors[ct];
	qp_quant *q;
	float lo = 0;
	int64_t m = qp_tensor_numel(t);

	if (t->quant)
		return 0;   /* shared constant: its first consumer chose */
	for (int64_t i = 0; i < m; i++)
		if (i == 0 || ((float *)t->data)[i] < lo)
			lo = ((float *)t->data)[i];
	q = qp_quant_choose_array(t->data, t->rank, t->dims, -1,
				  cfg->activation_method, cfg->activation_n_bits,
				  resolve_signed(cfg->signedness, lo), err);
	if (!q)
		return qp_node_err_prefix(err, n, "constant '%s'", t->name);
	return store_quantized(t, q, err);
}

static int activation_quant(qp_tensor *t, const qp_tpc_op_config *cfg,
			    qp_err *err)
{
	qp_quant *q = qp_quant_new(1);

	if (!q)
		return qp_err_set(err, "out of memory");
	q->bits = cfg->activation_n_bits;
	q->axis = -1;
	if (cfg->has_fixed) {
		q->scheme = cfg->activation_method;
		q->is_signed = cfg->signedness == QP_SIGN_SIGNED;
		q->scale[0] = cfg->fixed_scale;
		q->zero_point[0] = cfg->fixed_zero_point;
	} else {
		q->scheme = cfg->activation_method;
		q->is_signed = resolve_signed(cfg->signedness, t->stats->min);
		if (qp_quant_choose(t->stats->min, t->stats->max, q->scheme,
				    q->bits, q->is_signed, &q->scale[0],
				    &q->zero_point[0], err)) {
			qp_quant_free(q);
			return qp_err_prefix(err, "activation '%s'", t->name);
		}
	}
	qp_quant_free(t->quant);
	t->quant = q;
	return 0;
}

static int quantize_outputs(qp_graph *g, const qp_node *n,
			    const qp_tpc_op_config *cfg, quantize_report *rep,
			    qp_err *err)
{
	for (int j = 0; j < n->n_outputs; j++) {
		qp_tensor *t = &g->tensors[n->outputs[j]];

		if (!is_activation(g, n->outputs[j]) || !cfg->activation_enabled)
			continue;
		if (cfg->preserving) {
			int in = n->n_inputs > 0 ? n->inputs[0] : -1;
			const qp_quant *qi = in >= 0 ? g->tensors[in].quant : NULL;

			if (!qi || qi->n != 1)
				return qp_node_err(err, n, "cannot give '%s' its input's parameters: input '%s' is not quantized per tensor",
						   t->name, in >= 0 ? g->tensors[in].name : "");
			qp_quant_free(t->quant);
			if (!(t->quant = qp_quant_dup(qi)))
				return qp_err_set(err, "out of memory");
		} else if (activation_quant(t, cfg, err)) {
			return err ? qp_node_err(err, n, "%s", err->msg) : -1;
		}
		rep->activations++;
	}
	return 0;
}

/* in_chain: node ni is part of an activation chain (actchain.h), whose
 * scalar constants lower evaluates in float for the chain's table. */
static int quantize_node(qp_graph *g, int ni, const qp_tpc *tpc, int in_chain,
			 quantize_report *rep, qp_err *err)
{
	const qp_node *n = &g->nodes[ni];
	const qp_tpc_op_config *cfg = &qp_tpc_find_op(tpc, n->op)->config;
	const quant_rule *r = find_rule(n->op);
	int wt = -1, bt = -1, axis = -1;

	if (r && r->weight >= 0 && n->n_inputs > r->weight) {
		int cand = n->inputs[r->weight];

		if (cand >= 0 && g->tensors[cand].data &&
		    g->tensors[cand].dtype == QP_DT_FLOAT32 &&
		    (axis = r->weight_axis(g, n)) >= 0)
			wt = cand;
		if (wt >= 0 && r->bias >= 0 && n->n_inputs > r->bias &&
		    n->inputs[r->bias] >= 0)
			bt = n->inputs[r->bias];
	}
	if (!strcmp(n->op, "Gemm") && wt >= 0 &&
	    (qp_node_attr_float(n, "alpha", 1) != 1 ||
	     qp_node_attr_float(n, "beta", 1) != 1 ||
	     qp_node_attr_int(n, "transA", 0)))
		return qp_node_err(err, n, "Gemm with transA, or alpha/beta on shared constants, is not supported");

	if (wt >= 0 && cfg->weights_enabled) {
		if (quantize_weight(g, n, wt, axis, cfg, err))
			return -1;
		rep->weights++;
		/* The bias needs the input's scale: the producer (or the graph
		 * input pass) has set it already in topological order. */
		if (bt >= 0 && g->tensors[bt].dtype == QP_DT_FLOAT32 &&
		    g->tensors[bt].data && g->tensors[n->inputs[0]].quant) {
			if (quantize_bias(g, n, bt, wt, err))
				return -1;
			rep->biases++;
		}
	}
	for (int j = 0; j < n->n_inputs; j++) {
		int ct = n->inputs[j];

		if (ct < 0 || ct == wt || ct == bt || in_chain ||
		    (r && r->float_from && j >= r->float_from) ||
		    !g->tensors[ct].data ||
		    g->tensors[ct].dtype != QP_DT_FLOAT32 ||
		    !cfg->activation_enabled)
			continue;
		if (wt < 0 && r && j == r->weight && !cfg->weights_enabled)
			continue;
		/* Add, Sub, Mul by a constant, on a target that quantizes no
		 * weights here (MCT's IMX500 keeps such constants float): lower
		 * folds it into a QRequant or QAffine (constop.h). */
		if (!cfg->weights_enabled && qp_const_affine_of(g, n, NULL))
			continue;
		if (quantize_constant(g, n, ct, cfg, err))
			return -1;
		rep->constants++;
	}
	return quantize_outputs(g, n, cfg, rep, err);
}

int quantize_graph(qp_graph *g, const qp_tpc *tpc, quantize_report *rep,
		   qp_err *err)
{
	quantize_report local;
	cJSON *target;
	int *end_of;

	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof *rep);
	if (check_not_quantized(g, err) || check_stats(g, err))
		return -1;
	/* Gemm first: the fold takes alpha = beta = 1 and C of shape [N]. */
	if (qp_pass_gemm_normalize(g, NULL, err) ||
	    qp_pass_fold_batchnorm(g, &rep->bn_folded, err))
		return -1;
	if (check_ops(g, tpc, err))
		return -1;

	/* Graph inputs have no producing op: the default config applies. */
	for (int i = 0; i < g->n_inputs; i++) {
		qp_tensor *t = &g->tensors[g->inputs[i].tensor];

		if (!is_activation(g, g->inputs[i].tensor) ||
		    !tpc->default_config.activation_enabled || t->quant)
			continue;
		if (activation_quant(t, &tpc->default_config, err))
			return -1;
		rep->activations++;
	}
	if (!(end_of = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *end_of)) ||
	    qp_act_chains(g, end_of)) {
		free(end_of);
		return qp_err_set(err, "out of memory");
	}
	for (int i = 0; i < g->n_nodes; i++)
		if (quantize_node(g, i, tpc, end_of[i] >= 0, rep, err)) {
			free(end_of);
			return -1;
		}
	/* An activation chain (GELU's Div, Erf, Add, Mul, Mul; SiLU's Sigmoid,
	 * Mul) is one QLut on the device, rounded once at its end: its inside
	 * keeps no parameters, so fake quantization computes the table. */
	for (int i = 0; i < g->n_nodes; i++) {
		qp_tensor *t = &g->tensors[g->nodes[i].outputs[0]];

		if (end_of[i] < 0 || end_of[i] == i || !t->quant)
			continue;
		qp_quant_free(t->quant);
		t->quant = NULL;
		rep->activations--;
		rep->chained++;
	}
	free(end_of);
	/* A chain the target fuses (qp_tpc_fused_relu: lower's own decision)
	 * is one kernel on the device, which rounds once, at the Relu's
	 * output.  Its inside keeps no parameters, so fake quantization rounds
	 * once too and irrun on this IR computes what the lowered model does.
	 * Removed only now: a preserving Relu has copied them first, exactly
	 * the parameters the fused kernel then writes with. */
	for (int i = 0; i < g->n_nodes; i++) {
		qp_tensor *t;

		if (qp_tpc_fused_relu(tpc, g, i) < 0)
			continue;
		t = &g->tensors[g->nodes[i].outputs[0]];
		if (t->quant) {
			qp_quant_free(t->quant);
			t->quant = NULL;
			rep->activations--;
			rep->fused++;
		}
	}

	if (!g->meta && !(g->meta = cJSON_CreateObject()))
		return qp_err_set(err, "out of memory");
	target = cJSON_Duplicate(tpc->json, 1);
	if (!target)
		return qp_err_set(err, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(g->meta, "target");
	cJSON_AddItemToObject(g->meta, "target", target);
	return 0;
}
