#include "lowered.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* One row per lowered op, from the op list (runtime/qp_ops.h): its name,
 * opcode and parameter schema. */
typedef struct lowered_op {
	const char *name;
	int opcode;
	const char *params;
} lowered_op;

#define LOWERED_ROW(id, name, code, in_min, in_max, n_out, kernel, shape, params) \
	{name, QP_OP_##id, params},
static const lowered_op lowered_ops[] = {
	QP_RT_OPS(LOWERED_ROW)
	{NULL, 0, NULL},
};
#undef LOWERED_ROW

/* One entry of a parameter schema (qp_ops.h): "a" (scalar: an int, or
 * ints of one value), "a[N]" (exactly N ints) or "a[]" (count 0: any
 * number), and after the "|" the extra attributes, "a?" optional.
 * Advances *s past it; 0 at the end of the parameter vector's part (the
 * "|" or the end of the schema). */
typedef struct param_attr {
	char name[64];
	int count;
	int scalar;
	int optional;
} param_attr;

static int next_param(const char **s, param_attr *a)
{
	const char *p = *s;
	size_t len = 0;

	while (*p == ' ')
		p++;
	*s = p;
	if (!*p || *p == '|')
		return 0;
	while (p[len] && !strchr(" [?|", p[len]))
		len++;
	if (len >= sizeof a->name)
		qp_bug("parameter name too long in the op list: %s", p);
	memcpy(a->name, p, len);
	a->name[len] = '\0';
	p += len;
	a->scalar = *p != '[';
	a->count = a->scalar ? 1 : (int)strtol(p + 1, NULL, 10);
	if (!a->scalar && !(p = strchr(p, ']')))
		qp_bug("unclosed '[' in the op list: %s", *s);
	p += !a->scalar;
	a->optional = *p == '?';
	p += a->optional;
	if (*p && *p != ' ')
		qp_bug("bad parameter schema in the op list: %s", *s);
	*s = p;
	return 1;
}

static const lowered_op *find_op(const char *op)
{
	const lowered_op *o;

	for (o = lowered_ops; op && o->name; o++)
		if (!strcmp(o->name, op))
			return o;
	return NULL;
}

int qp_lowered_opcode(const char *op)
{
	const lowered_op *o = find_op(op);

	return o ? o->opcode : 0;
}

int qp_lowered_attr(const char *op, int i, char name[64], int *array, int *required)
{
	const lowered_op *o = find_op(op);
	const char *schema = o ? o->params : NULL;
	param_attr a;
	int extra = 0;

	if (!o || i < 0)
		return -1;
	for (;;) {
		if (!next_param(&schema, &a)) {
			if (*schema != '|' || extra)
				return -1;
			extra = 1;
			schema++;
			continue;
		}
		if (i-- == 0)
			break;
	}
	memcpy(name, a.name, sizeof a.name);
	*array = !a.scalar;
	*required = !(extra && a.optional);
	return 0;
}

const char *qp_lowered_op_name(int opcode)
{
	const lowered_op *o;

	for (o = lowered_ops; o->name; o++)
		if (o->opcode == opcode)
			return o->name;
	return NULL;
}

int qp_lowered_is(const qp_graph *g)
{
	return g && g->meta && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(g->meta, "lowered"));
}

int qp_quantize_multiplier(double real, int32_t *mult, int *shift)
{
	double q;
	int e;
	int64_t qf;

	if (!(real >= 0) || !isfinite(real))
		return -1;
	if (real == 0) {
		*mult = 0;
		*shift = 0;
		return 0;
	}
	q = frexp(real, &e);                  /* real = q * 2^e, q in [0.5, 1) */
	qf = (int64_t)llround(q * 2147483648.0);
	if (qf == ((int64_t)1 << 31)) {       /* q rounded up to 1.0 */
		qf /= 2;
		e++;
	}
	if (e < -31) {                        /* too small: flush to zero */
		*mult = 0;
		*shift = 0;
		return 0;
	}
	if (e > 30) {                         /* too large: saturate */
		*mult = INT32_MAX;
		*shift = 30;
		return 0;
	}
	*mult = (int32_t)qf;
	*shift = e;
	return 0;
}

void qp_add_multipliers(double sa, double sb, double sy, double real[3])
{
	double twice_max = 2.0 * (sa > sb ? sa : sb);

	real[0] = sa / twice_max;
	real[1] = sb / twice_max;
	real[2] = twice_max / ((double)(1 << QP_ADD_LEFT_SHIFT) * sy);
}

/* Appends attribute values to the vector, growing it as needed. */
typedef struct vec {
	int32_t *v;
	int n, cap;
	int32_t *buf;   /* caller's buffer, not freed */
} vec;

static int vec_push(vec *p, int64_t x)
{
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 64;
		int32_t *nv = malloc((size_t)cap * sizeof *nv);

		if (!nv)
			return -1;
		if (p->n)
			memcpy(nv, p->v, (size_t)p->n * sizeof *nv);
		if (p->v != p->buf)
			free(p->v);
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = (int32_t)x;
	return 0;
}

int qp_lowered_params(const qp_node *n, int32_t *buf, int cap,
		      int32_t **params, int *n_params, qp_err *err)
{
	const lowered_op *o = find_op(n->op);
	vec p = {buf, 0, buf ? cap : 0, buf};
	const char *schema = o ? o->params : NULL;
	param_attr attr, *a = &attr;

	*params = NULL;
	*n_params = 0;
	if (!o)
		return qp_err_node(err, n->name, n->op, "not a lowered op");
	while (next_param(&schema, a)) {
		const qp_attr *at = qp_node_attr(n, a->name);
		int k, cnt;

		if (!at)
			goto missing;
		if (a->scalar && at->type == QP_ATTR_INT) {
			if (at->i < INT32_MIN || at->i > INT32_MAX)
				goto range;
			if (vec_push(&p, at->i))
				goto oom;
			continue;
		}
		if (at->type != QP_ATTR_INTS)
			goto missing;
		cnt = at->n;
		if (a->count && cnt != a->count)
			goto count;
		for (k = 0; k < cnt; k++) {
			if (at->ints[k] < INT32_MIN || at->ints[k] > INT32_MAX)
				goto range;
			if (vec_push(&p, at->ints[k]))
				goto oom;
		}
		continue;
missing:
		qp_err_node(err, n->name, n->op, "missing or mistyped attribute '%s'", a->name);
		goto fail;
range:
		qp_err_node(err, n->name, n->op, "attribute '%s' out of int32 range", a->name);
		goto fail;
count:
		qp_err_node(err, n->name, n->op, "attribute '%s' has %d values, expected %d",
			    a->name, cnt, a->count);
		goto fail;
oom:
		qp_err_set(err, "out of memory");
		goto fail;
	}
	*params = p.v;
	*n_params = p.n;
	return 0;
fail:
	if (p.v != p.buf)
		free(p.v);
	return -1;
}

int qp_lowered_rt_dtype(qp_dtype dt)
{
	switch (dt) {
	case QP_DT_INT8: return QP_RT_INT8;
	case QP_DT_INT32: return QP_RT_INT32;
	case QP_DT_FLOAT32: return QP_RT_FLOAT32;
	default: return 0;
	}
}

int qp_lowered_view(const qp_tensor *t, int rank, const int64_t *dims,
		    void *data, qp_rt_tensor *v)
{
	int i;

	memset(v, 0, sizeof *v);
	v->dtype = qp_lowered_rt_dtype(t->dtype);
	if (!v->dtype || rank > QP_RT_MAX_RANK)
		return -1;
	v->rank = rank;
	for (i = 0; i < rank; i++) {
		if (dims[i] < 1 || dims[i] > INT32_MAX)
			return -1;
		v->dims[i] = (int32_t)dims[i];
	}
	if (t->quant && t->quant->n == 1) {
		v->scale = t->quant->scale[0];
		v->zero_point = t->quant->zero_point[0];
	}
	v->data = data;
	return 0;
}

/* ---- memory plan ------------------------------------------------------------------ */

static int is_graph_io(const qp_graph *g, int t)
{
	int i;

	for (i = 0; i < g->n_inputs; i++)
		if (g->inputs[i].tensor == t)
			return 1;
	for (i = 0; i < g->n_outputs; i++)
		if (g->outputs[i].tensor == t)
			return 1;
	return 0;
}

int qp_lowered_in_arena(const qp_graph *g, int t)
{
	const qp_tensor *x = &g->tensors[t];

	return x->dtype == QP_DT_INT8 && !x->data && !is_graph_io(g, t);
}

/* first[t], last[t]: node indices of the producer and the last consumer. */
static int lifetimes(const qp_graph *g, int *first, int *last)
{
	int i, k;

	for (i = 0; i < g->n_tensors; i++)
		first[i] = last[i] = -1;
	for (i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		for (k = 0; k < n->n_outputs; k++) {
			int t = n->outputs[k];

			if (first[t] < 0)
				first[t] = i;
			if (last[t] < i)
				last[t] = i;
		}
		for (k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];

			if (t >= 0 && last[t] < i)
				last[t] = i;
		}
	}
	return 0;
}

void qp_plan_lifetimes(const qp_graph *g, int *first, int *last)
{
	lifetimes(g, first, last);
}

static int64_t tensor_bytes(const qp_tensor *t)
{
	int64_t n = qp_tensor_numel(t);

	return n < 0 ? -1 : n * (int64_t)qp_dtype_size(t->dtype);
}

static int64_t align_up(int64_t x)
{
	return (x + QP_ARENA_ALIGN - 1) / QP_ARENA_ALIGN * QP_ARENA_ALIGN;
}

typedef struct plan_item {
	int t;
	int64_t size;
	int first, last;
} plan_item;

static int cmp_items(const void *a, const void *b)
{
	const plan_item *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_i64(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

int qp_plan_compute(const qp_graph *g, qp_plan *p, qp_err *err)
{
	int *first = NULL, *last = NULL, n_items = 0, i, j;
	plan_item *items = NULL;
	int64_t *busy = NULL;   /* pairs (start, end) of conflicting spans */
	int rc = -1;

	memset(p, 0, sizeof *p);
	p->n = g->n_tensors;
	p->offsets = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *p->offsets);
	first = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *first);
	last = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *last);
	items = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *items);
	busy = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * 2 * sizeof *busy);
	if (!p->offsets || !first || !last || !items || !busy) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	lifetimes(g, first, last);
	for (i = 0; i < g->n_tensors; i++) {
		p->offsets[i] = -1;
		if (!qp_lowered_in_arena(g, i))
			continue;
		items[n_items].t = i;
		items[n_items].size = tensor_bytes(&g->tensors[i]);
		items[n_items].first = first[i];
		items[n_items].last = last[i];
		if (items[n_items].size < 0) {
			qp_err_set(err, "tensor '%s' too large", g->tensors[i].name);
			goto out;
		}
		n_items++;
	}
	/* Largest first, each at the lowest aligned offset that fits between
	 * the tensors already placed whose lifetimes overlap its own. */
	qsort(items, (size_t)n_items, sizeof *items, cmp_items);
	for (i = 0; i < n_items; i++) {
		int nb = 0;
		int64_t off = 0;

		for (j = 0; j < i; j++) {
			if (items[j].first > items[i].last || items[i].first > items[j].last)
				continue;
			busy[2 * nb] = p->offsets[items[j].t];
			busy[2 * nb + 1] = p->offsets[items[j].t] + items[j].size;
			nb++;
		}
		/* Sorting the pairs by start keeps each end with its start. */
		qsort(busy, (size_t)nb, 2 * sizeof *busy, cmp_i64);
		for (j = 0; j < nb; j++) {
			if (off + items[i].size <= busy[2 * j])
				break;
			if (busy[2 * j + 1] > off)
				off = align_up(busy[2 * j + 1]);
		}
		p->offsets[items[i].t] = off;
		if (off + items[i].size > p->arena_size)
			p->arena_size = off + items[i].size;
	}
	rc = 0;
out:
	free(first);
	free(last);
	free(items);
	free(busy);
	if (rc)
		qp_plan_release(p);
	return rc;
}

int qp_plan_store(qp_graph *g, const qp_plan *p, qp_err *err)
{
	cJSON *low, *plan;
	int i;

	if (!g->meta && !(g->meta = cJSON_CreateObject()))
		return qp_err_set(err, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(g->meta, "lowered");
	low = cJSON_AddObjectToObject(g->meta, "lowered");
	if (!low || !cJSON_AddNumberToObject(low, "alignment", QP_ARENA_ALIGN) ||
	    !cJSON_AddNumberToObject(low, "arena_size", (double)p->arena_size) ||
	    !(plan = cJSON_AddObjectToObject(low, "plan")))
		return qp_err_set(err, "out of memory");
	for (i = 0; i < p->n; i++)
		if (p->offsets[i] >= 0 &&
		    !cJSON_AddNumberToObject(plan, g->tensors[i].name, (double)p->offsets[i]))
			return qp_err_set(err, "out of memory");
	return 0;
}

int qp_plan_load(const qp_graph *g, qp_plan *p, qp_err *err)
{
	const cJSON *low, *plan, *it;
	int *first = NULL, *last = NULL, i, j, rc = -1;

	memset(p, 0, sizeof *p);
	low = g->meta ? cJSON_GetObjectItemCaseSensitive(g->meta, "lowered") : NULL;
	if (!cJSON_IsObject(low))
		return qp_err_set(err, "not lowered; run lower first");
	plan = cJSON_GetObjectItemCaseSensitive(low, "plan");
	if (qp_json_int(cJSON_GetObjectItemCaseSensitive(low, "arena_size"), 0, UINT32_MAX,
			&p->arena_size) ||
	    !cJSON_IsObject(plan))
		return qp_err_set(err, "meta.lowered: missing or bad 'arena_size' or 'plan'");
	p->n = g->n_tensors;
	p->offsets = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *p->offsets);
	first = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *first);
	last = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *last);
	if (!p->offsets || !first || !last) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < g->n_tensors; i++)
		p->offsets[i] = -1;
	cJSON_ArrayForEach(it, plan) {
		int t = qp_graph_find_tensor(g, it->string);
		int64_t off;

		if (t < 0 || !qp_lowered_in_arena(g, t)) {
			qp_err_set(err, "meta.lowered.plan: '%s' is not an arena tensor",
				   it->string);
			goto out;
		}
		if (qp_json_int(it, 0, UINT32_MAX, &off) || off % QP_ARENA_ALIGN ||
		    off + tensor_bytes(&g->tensors[t]) > p->arena_size) {
			qp_err_set(err, "meta.lowered.plan: bad offset for '%s'", it->string);
			goto out;
		}
		p->offsets[t] = off;
	}
	lifetimes(g, first, last);
	for (i = 0; i < g->n_tensors; i++) {
		if (!qp_lowered_in_arena(g, i))
			continue;
		if (p->offsets[i] < 0) {
			qp_err_set(err, "meta.lowered.plan: tensor '%s' has no offset",
				   g->tensors[i].name);
			goto out;
		}
		for (j = 0; j < i; j++) {
			int64_t a0 = p->offsets[i], a1 = a0 + tensor_bytes(&g->tensors[i]);
			int64_t b0 = p->offsets[j], b1 = b0 + tensor_bytes(&g->tensors[j]);

			if (p->offsets[j] < 0 || first[i] > last[j] || first[j] > last[i])
				continue;
			if (a0 < b1 && b0 < a1) {
				qp_err_set(err, "meta.lowered.plan: tensors '%s' and '%s' overlap while both live",
					   g->tensors[i].name, g->tensors[j].name);
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(first);
	free(last);
	if (rc)
		qp_plan_release(p);
	return rc;
}

void qp_plan_release(qp_plan *p)
{
	if (!p)
		return;
	free(p->offsets);
	p->offsets = NULL;
	p->n = 0;
}
