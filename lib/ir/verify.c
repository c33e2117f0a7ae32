/* qp_graph_verify: every invariant docs/ir.md lists, checked on a graph in
 * memory.  The reader runs it before returning a graph and the writer
 * before writing one, so code in between may rely on ir.h's invariants.
 */
#include "ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"
#include "json.h"
#include "ops.h"      /* qp_op_check_node: ops and attributes against the op table */
#include "stats.h"
#include "utf8.h"

/* Every key and string in v is valid UTF-8 (docs/ir.md section 1).  cJSON
 * copies the bytes of a string as they are, so a tree built in memory may
 * hold anything; depth is bounded as cJSON bounds parsing. */
static int json_utf8_ok(const cJSON *v, int depth)
{
	if (depth > CJSON_NESTING_LIMIT)
		return 0;
	if (v->string && !qp_utf8_valid_str(v->string))
		return 0;
	if (cJSON_IsString(v) || cJSON_IsRaw(v))
		return qp_utf8_valid_str(v->valuestring);
	for (const cJSON *c = v->child; c; c = c->next)
		if (!json_utf8_ok(c, depth + 1))
			return 0;
	return 1;
}

int ir_check_history(const cJSON *h, qp_err *err)
{
	static const char *const keys[] = { "tool", "version", "argv", NULL };
	int i = 0;

	if (!cJSON_IsArray(h))
		return qp_err_set(err, "history must be an array");
	for (const cJSON *e = h->child; e; e = e->next, i++) {
		const cJSON *argv;

		if (!cJSON_IsObject(e) || qp_json_check_keys(e, keys, "history", err) ||
		    !qp_json_str(cJSON_GetObjectItemCaseSensitive(e, "tool")) ||
		    !qp_json_str(cJSON_GetObjectItemCaseSensitive(e, "version")) ||
		    !cJSON_IsArray(argv = cJSON_GetObjectItemCaseSensitive(e, "argv")))
			return qp_err_set(err, "history[%d] must be {\"tool\": s, \"version\": s, \"argv\": [s, ...]}",
					  i);
		for (const cJSON *a = argv->child; a; a = a->next)
			if (!qp_json_str(a))
				return qp_err_set(err, "history[%d]: argv must hold strings", i);
		if (!json_utf8_ok(e, 0))
			return qp_err_set(err, "history[%d] holds a string that is not valid UTF-8", i);
	}
	return 0;
}

static int verify_quant(const qp_tensor *t, qp_err *err)
{
	const qp_quant *q = t->quant;
	int64_t lo, hi;

	if ((unsigned)q->scheme >= (unsigned)IR_N_QSCHEMES)
		return qp_err_set(err, "tensor '%s': unknown quant scheme %d", t->name,
				  (int)q->scheme);
	if (!((q->bits >= 2 && q->bits <= 16) || q->bits == 32))
		return qp_err_set(err, "tensor '%s': quant bits %d (want 2..16 or 32)",
				  t->name, q->bits);
	if (q->is_signed != 0 && q->is_signed != 1)
		return qp_err_set(err, "tensor '%s': quant signed must be 0 or 1", t->name);
	if (q->axis < -1 || q->axis >= t->rank)
		return qp_err_set(err, "tensor '%s': quant axis %d outside -1..%d",
				  t->name, q->axis, t->rank - 1);
	if (q->n < 1 || !q->scale || !q->zero_point)
		return qp_err_set(err, "tensor '%s': quant has no scales", t->name);
	if (q->n != 1 && (q->axis < 0 || q->n != t->dims[q->axis]))
		return qp_err_set(err, "tensor '%s': quant has %d scales, want 1%s",
				  t->name, q->n,
				  q->axis < 0 ? " (per tensor)" : " or shape[axis]");
	if (q->is_signed) {
		lo = -((int64_t)1 << (q->bits - 1));
		hi = ((int64_t)1 << (q->bits - 1)) - 1;
	} else {
		lo = 0;
		hi = ((int64_t)1 << q->bits) - 1;
	}
	for (int i = 0; i < q->n; i++) {
		float s = q->scale[i];

		if (!isfinite(s) || !(s > 0))
			return qp_err_set(err, "tensor '%s': quant scale[%d] = %.9g is not finite and > 0",
					  t->name, i, (double)s);
		if (q->zero_point[i] < lo || q->zero_point[i] > hi)
			return qp_err_set(err, "tensor '%s': quant zero_point[%d] = %" PRId32
					  " outside [%" PRId64 ", %" PRId64 "]",
					  t->name, i, q->zero_point[i], lo, hi);
		if (q->scheme != QP_Q_ASYMMETRIC && q->zero_point[i] != 0)
			return qp_err_set(err, "tensor '%s': quant zero_point[%d] = %" PRId32
					  " but scheme '%s' wants 0",
					  t->name, i, q->zero_point[i], qp_qscheme_name(q->scheme));
		if (q->scheme == QP_Q_POWER_OF_TWO) {
			int e;

			if (frexpf(s, &e) != 0.5f)
				return qp_err_set(err, "tensor '%s': quant scale[%d] = %.9g is not a power of two",
						  t->name, i, (double)s);
		}
	}
	return 0;
}

static int verify_tensor(const qp_tensor *t, qp_err *err)
{
	size_t nbytes;

	if ((unsigned)t->dtype >= QP_DT_COUNT)
		return qp_err_set(err, "tensor '%s': unknown dtype %d", t->name, (int)t->dtype);
	if (t->rank < 0 || t->rank > QP_MAX_RANK)
		return qp_err_set(err, "tensor '%s': rank %d outside 0..%d", t->name,
				  t->rank, QP_MAX_RANK);
	for (int i = 0; i < t->rank; i++)
		if (t->dims[i] < 0)
			return qp_err_set(err, "tensor '%s': negative dimension %" PRId64,
					  t->name, t->dims[i]);
	if (ir_tensor_bytes(t, &nbytes))
		return qp_err_set(err, "tensor '%s': element count overflows", t->name);
	if (t->data) {
		if (t->nbytes != nbytes)
			return qp_err_set(err, "tensor '%s': holds %zu bytes, shape and dtype want %zu",
					  t->name, t->nbytes, nbytes);
		if ((uintptr_t)t->data % QP_IR_ALIGN)
			return qp_err_set(err, "tensor '%s': data is not %d-byte aligned",
					  t->name, QP_IR_ALIGN);
	}
	if (t->quant && verify_quant(t, err))
		return -1;
	if (t->stats) {
		const qp_stats *s = t->stats;

		if (!isfinite(s->min) || !isfinite(s->max) || !(s->min <= s->max))
			return qp_err_set(err, "tensor '%s': stats min %.9g and max %.9g must be finite with min <= max",
					  t->name, (double)s->min, (double)s->max);
		if (s->count < 1)
			return qp_err_set(err, "tensor '%s': stats count %" PRId64 " must be at least 1",
					  t->name, s->count);
		if (qp_stats_verify(t, err))
			return -1;
	}
	return 0;
}

static int verify_node_shape(const qp_graph *g, const qp_node *n, qp_err *err)
{
	char shown[QP_UTF8_SHOW_MAX];

	if (!n->op || !n->op[0])
		return qp_err_set(err, "node '%s' has no op", n->name);
	if (n->n_inputs < 0 || (n->n_inputs && !n->inputs))
		return qp_err_node(err, n->name, n->op, "bad input list");
	if (n->n_outputs < 1 || !n->outputs)
		return qp_err_node(err, n->name, n->op, "node has no outputs");
	for (int j = 0; j < n->n_inputs; j++)
		if (n->inputs[j] < -1 || n->inputs[j] >= g->n_tensors)
			return qp_err_node(err, n->name, n->op, "input %d refers to tensor index %d, which does not exist",
					   j, n->inputs[j]);
	for (int j = 0; j < n->n_outputs; j++)
		if (n->outputs[j] < 0 || n->outputs[j] >= g->n_tensors)
			return qp_err_node(err, n->name, n->op, "output %d refers to tensor index %d, which does not exist",
					   j, n->outputs[j]);
	for (int a = 0; a < n->n_attrs; a++) {
		const qp_attr *at = &n->attrs[a];

		if (!at->name || !at->name[0])
			return qp_err_node(err, n->name, n->op, "attribute with an empty name");
		if (!qp_utf8_valid_str(at->name))
			return qp_err_node(err, n->name, n->op, "attribute name '%s' is not valid UTF-8",
					   qp_utf8_show(shown, at->name));
		for (int b = 0; b < a; b++)
			if (strcmp(n->attrs[b].name, at->name) == 0)
				return qp_err_node(err, n->name, n->op, "duplicate attribute '%s'", at->name);
		switch (at->type) {
		case QP_ATTR_INT:
			break;
		case QP_ATTR_FLOAT:
			if (!isfinite(at->f))
				return qp_err_node(err, n->name, n->op, "attribute '%s' is not finite", at->name);
			break;
		case QP_ATTR_INTS:
			if (at->n < 0 || (at->n && !at->ints))
				return qp_err_node(err, n->name, n->op, "attribute '%s' has a bad list", at->name);
			break;
		case QP_ATTR_FLOATS:
			if (at->n < 0 || (at->n && !at->floats))
				return qp_err_node(err, n->name, n->op, "attribute '%s' has a bad list", at->name);
			for (int k = 0; k < at->n; k++)
				if (!isfinite(at->floats[k]))
					return qp_err_node(err, n->name, n->op, "attribute '%s'[%d] is not finite",
							   at->name, k);
			break;
		case QP_ATTR_STRING:
			if (!at->s)
				return qp_err_node(err, n->name, n->op, "attribute '%s' has no string", at->name);
			if (!qp_utf8_valid_str(at->s))
				return qp_err_node(err, n->name, n->op, "attribute '%s' value '%s' is not valid UTF-8",
						   at->name, qp_utf8_show(shown, at->s));
			break;
		default:
			return qp_err_node(err, n->name, n->op, "attribute '%s' has unknown type %d",
					   at->name, (int)at->type);
		}
	}
	/* The op and its attributes against the op table: an attribute no
	 * kernel reads would otherwise be dropped without a word. */
	return qp_op_check_node(n, err);
}

static int verify_io(const qp_graph *g, const qp_graph_io *io, int n, const char *what,
		     qp_err *err)
{
	char shown[QP_UTF8_SHOW_MAX];

	for (int i = 0; i < n; i++) {
		int t = io[i].tensor;

		if (t < 0 || t >= g->n_tensors)
			return qp_err_set(err, "graph %s %d refers to tensor index %d, which does not exist",
					  what, i, t);
		if (io[i].layout && strcmp(io[i].layout, "NCHW") && strcmp(io[i].layout, "NHWC"))
			return qp_err_set(err, "graph %s '%s': unknown layout '%s' (want NCHW or NHWC)",
					  what, g->tensors[t].name, qp_utf8_show(shown, io[i].layout));
		for (int j = 0; j < i; j++)
			if (io[j].tensor == t)
				return qp_err_set(err, "graph %s '%s' is listed twice", what,
						  g->tensors[t].name);
	}
	return 0;
}

int qp_graph_verify(const qp_graph *g, qp_err *err)
{
	ir_name_map names = { 0 };
	unsigned char *state = NULL;   /* per tensor: 1 available, 2 produced */
	char shown[QP_UTF8_SHOW_MAX], shown_op[QP_UTF8_SHOW_MAX];
	int rc = -1;

	if (!g)
		return qp_err_set(err, "no graph");
	if (g->n_tensors < 0 || g->n_nodes < 0 || g->n_inputs < 0 || g->n_outputs < 0)
		return qp_err_set(err, "negative element count in graph");
	if (ir_map_init(&names, g->n_tensors > g->n_nodes ? g->n_tensors : g->n_nodes))
		return qp_err_set(err, "out of memory");
	for (int i = 0; i < g->n_tensors; i++) {
		const qp_tensor *t = &g->tensors[i];

		if (!ir_name_ok(t->name)) {
			qp_err_set(err, "tensor %d: name must be 1 to %d bytes", i, IR_MAX_NAME);
			goto out;
		}
		if (!qp_utf8_valid_str(t->name)) {
			qp_err_set(err, "tensor %d: name '%s' is not valid UTF-8", i,
				   qp_utf8_show(shown, t->name));
			goto out;
		}
		if (ir_map_put(&names, t->name, i) >= 0) {
			qp_err_set(err, "duplicate tensor name '%s'", t->name);
			goto out;
		}
		if (verify_tensor(t, err))
			goto out;
	}
	ir_map_free(&names);
	if (ir_map_init(&names, g->n_nodes))
		return qp_err_set(err, "out of memory");
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		if (!qp_utf8_valid_str(n->op)) {
			qp_err_node(err, qp_utf8_show(shown, n->name), qp_utf8_show(shown_op, n->op),
				     "node %d: op name is not valid UTF-8", i);
			goto out;
		}
		if (!ir_name_ok(n->name)) {
			qp_err_set(err, "node %d: name must be 1 to %d bytes (op '%s')", i,
				   IR_MAX_NAME, n->op ? n->op : "");
			goto out;
		}
		if (!qp_utf8_valid_str(n->name)) {
			qp_err_node(err, qp_utf8_show(shown, n->name), n->op ? n->op : "",
				     "node %d: name is not valid UTF-8", i);
			goto out;
		}
		if (ir_map_put(&names, n->name, i) >= 0) {
			qp_err_set(err, "duplicate node name '%s'", n->name);
			goto out;
		}
		if (verify_node_shape(g, n, err))
			goto out;
	}
	if (verify_io(g, g->inputs, g->n_inputs, "input", err) ||
	    verify_io(g, g->outputs, g->n_outputs, "output", err))
		goto out;
	if (g->history && ir_check_history(g->history, err))
		goto out;
	if (g->meta && !cJSON_IsObject(g->meta)) {
		qp_err_set(err, "meta must be a JSON object");
		goto out;
	}
	if (g->meta && !json_utf8_ok(g->meta, 0)) {
		qp_err_set(err, "meta holds a string that is not valid UTF-8");
		goto out;
	}

	/* Walk the nodes in order: each input must be available when used,
	 * which also proves the graph acyclic. */
	state = calloc((size_t)g->n_tensors + 1, 1);
	if (!state) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i].data)
			state[i] = 1;
	for (int i = 0; i < g->n_inputs; i++) {
		const qp_tensor *t = &g->tensors[g->inputs[i].tensor];

		if (t->data) {
			qp_err_set(err, "graph input '%s' is a constant", t->name);
			goto out;
		}
		state[g->inputs[i].tensor] = 1;
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		for (int j = 0; j < n->n_inputs; j++) {
			int t = n->inputs[j];

			if (t >= 0 && !state[t]) {
				qp_err_node(err, n->name, n->op, "input '%s' is not produced before it is used",
					    g->tensors[t].name);
				goto out;
			}
		}
		for (int j = 0; j < n->n_outputs; j++) {
			int t = n->outputs[j];

			if (state[t] == 2) {
				qp_err_node(err, n->name, n->op, "tensor '%s' is produced twice", g->tensors[t].name);
				goto out;
			}
			if (state[t] == 1) {
				qp_err_node(err, n->name, n->op, "output '%s' is a constant or graph input",
					    g->tensors[t].name);
				goto out;
			}
			state[t] = 2;
		}
	}
	for (int i = 0; i < g->n_outputs; i++) {
		int t = g->outputs[i].tensor;

		if (state[t] != 2) {
			qp_err_set(err, "graph output '%s' is not produced by any node",
				   g->tensors[t].name);
			goto out;
		}
	}
	rc = 0;
out:
	ir_map_free(&names);
	free(state);
	return rc;
}
