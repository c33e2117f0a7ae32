/* The in-memory graph: dtypes and scheme names, tensors, nodes, their
 * ordering and removal, history entries, and freeing.  docs/ir.md is the
 * normative description; ir.h lists the invariants qp_graph_verify
 * (verify.c) checks.
 */
#include "ir.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"      /* QP_VERSION, for history entries */
#include "ir_internal.h"
#include "quant.h"
#include "stats.h"
#include "utf8.h"

/* ---- dtypes and schemes ------------------------------------------------- */

static const char *const dtype_names[QP_DT_COUNT] = {
	"float32", "int8", "uint8", "int16", "int32", "int64", "bool"
};
static const size_t dtype_sizes[QP_DT_COUNT] = { 4, 1, 1, 2, 4, 8, 1 };

const char *qp_dtype_name(qp_dtype dt)
{
	return (unsigned)dt < QP_DT_COUNT ? dtype_names[dt] : "?";
}

int qp_dtype_parse(const char *name, qp_dtype *dt)
{
	for (int i = 0; i < QP_DT_COUNT; i++)
		if (name && strcmp(name, dtype_names[i]) == 0) {
			*dt = (qp_dtype)i;
			return 0;
		}
	return -1;
}

size_t qp_dtype_size(qp_dtype dt)
{
	return (unsigned)dt < QP_DT_COUNT ? dtype_sizes[dt] : 0;
}

static const char *const qscheme_names[] = { "symmetric", "asymmetric", "power_of_two" };
#define N_QSCHEMES ((int)(sizeof qscheme_names / sizeof qscheme_names[0]))

const char *qp_qscheme_name(qp_qscheme s)
{
	return (unsigned)s < (unsigned)N_QSCHEMES ? qscheme_names[s] : "?";
}

int qp_qscheme_parse(const char *name, qp_qscheme *s)
{
	for (int i = 0; i < N_QSCHEMES; i++)
		if (name && strcmp(name, qscheme_names[i]) == 0) {
			*s = (qp_qscheme)i;
			return 0;
		}
	return -1;
}

_Static_assert(N_QSCHEMES == IR_N_QSCHEMES, "IR_N_QSCHEMES is the number of scheme names");

/* ---- small helpers -------------------------------------------------------- */

char *ir_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

/* Grows *arr (element size elem) to hold at least need elements. */
static int grow(void **arr, int *cap, int need, size_t elem)
{
	int ncap;
	void *p;

	if (need <= *cap)
		return 0;
	if (need > INT_MAX / 2)
		return -1;
	ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	if ((size_t)ncap > SIZE_MAX / elem)
		return -1;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}


int ir_name_ok(const char *name)
{
	return name && name[0] && strlen(name) <= IR_MAX_NAME;
}

/* ---- name lookup ------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;     /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

int ir_map_init(ir_name_map *m, int n)
{
	size_t cap = 16;

	while (cap < (size_t)n * 2 + 1)
		cap *= 2;
	m->keys = calloc(cap, sizeof *m->keys);
	m->vals = calloc(cap, sizeof *m->vals);
	m->mask = cap - 1;
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = NULL;
		m->vals = NULL;
		return -1;
	}
	return 0;
}

void ir_map_free(ir_name_map *m)
{
	free(m->keys);
	free(m->vals);
}

int ir_map_get(const ir_name_map *m, const char *key)
{
	for (size_t i = hash_str(key) & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return -1;
}

int ir_map_put(ir_name_map *m, const char *key, int val)
{
	size_t i;

	for (i = hash_str(key) & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	m->keys[i] = key;
	m->vals[i] = val;
	return -1;
}

/* ---- graph ---------------------------------------------------------------- */

qp_graph *qp_graph_new(void)
{
	return calloc(1, sizeof(qp_graph));
}

static void node_clear(qp_node *n)
{
	free(n->name);
	free(n->op);
	free(n->inputs);
	free(n->outputs);
	for (int i = 0; i < n->n_attrs; i++)
		ir_attr_clear(&n->attrs[i]);
	free(n->attrs);
	memset(n, 0, sizeof *n);
}

static void tensor_clear(qp_tensor *t)
{
	free(t->name);
	free(t->data);
	qp_quant_free(t->quant);
	qp_stats_free(t->stats);
	memset(t, 0, sizeof *t);
}

void qp_graph_free(qp_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_tensors; i++)
		tensor_clear(&g->tensors[i]);
	free(g->tensors);
	for (int i = 0; i < g->n_nodes; i++)
		node_clear(&g->nodes[i]);
	free(g->nodes);
	for (int i = 0; i < g->n_inputs; i++)
		free(g->inputs[i].layout);
	free(g->inputs);
	for (int i = 0; i < g->n_outputs; i++)
		free(g->outputs[i].layout);
	free(g->outputs);
	cJSON_Delete(g->history);
	cJSON_Delete(g->meta);
	free(g);
}

int ir_add_tensor_unchecked(qp_graph *g, const char *name, qp_dtype dt, int rank,
			    const int64_t *dims, qp_err *err)
{
	qp_tensor *t;

	if (!ir_name_ok(name))
		return qp_err_set(err, "tensor name must be 1 to %d bytes", IR_MAX_NAME);
	if ((unsigned)dt >= QP_DT_COUNT)
		return qp_err_set(err, "tensor '%s': unknown dtype %d", name, (int)dt);
	if (rank < 0 || rank > QP_MAX_RANK)
		return qp_err_set(err, "tensor '%s': rank %d is outside 0..%d", name,
				  rank, QP_MAX_RANK);
	for (int i = 0; i < rank; i++)
		if (dims[i] < 0)
			return qp_err_set(err, "tensor '%s': negative dimension %" PRId64,
					  name, dims[i]);
	if (grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1,
		 sizeof *g->tensors))
		return qp_err_set(err, "out of memory");
	t = &g->tensors[g->n_tensors];
	memset(t, 0, sizeof *t);
	t->name = ir_strdup(name);
	if (!t->name)
		return qp_err_set(err, "out of memory");
	t->dtype = dt;
	t->rank = rank;
	for (int i = 0; i < rank; i++)
		t->dims[i] = dims[i];
	return g->n_tensors++;
}

int qp_graph_add_tensor(qp_graph *g, const char *name, qp_dtype dt, int rank,
			const int64_t *dims, qp_err *err)
{
	if (name && qp_graph_find_tensor(g, name) >= 0)
		return qp_err_set(err, "duplicate tensor name '%s'", name);
	return ir_add_tensor_unchecked(g, name, dt, rank, dims, err);
}

int qp_graph_find_tensor(const qp_graph *g, const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < g->n_tensors; i++)
		if (strcmp(g->tensors[i].name, name) == 0)
			return i;
	return -1;
}

char *qp_graph_unique_tensor_name(const qp_graph *g, const char *base)
{
	size_t len = strlen(base);
	char *name = malloc(len + 24);

	if (!name)
		return NULL;
	memcpy(name, base, len + 1);
	for (long i = 1; qp_graph_find_tensor(g, name) >= 0; i++)
		snprintf(name + len, 24, "_%ld", i);
	return name;
}

int64_t qp_tensor_numel(const qp_tensor *t)
{
	int64_t n = 1;

	for (int i = 0; i < t->rank; i++) {
		if (t->dims[i] < 0)
			return -1;
		if (t->dims[i] && n > INT64_MAX / t->dims[i])
			return -1;
		n *= t->dims[i];
	}
	return n;
}

int ir_tensor_bytes(const qp_tensor *t, size_t *nbytes)
{
	int64_t n = qp_tensor_numel(t);
	size_t es = qp_dtype_size(t->dtype);

	if (n < 0 || es == 0 || (uint64_t)n > SIZE_MAX / es)
		return -1;
	*nbytes = (size_t)n * es;
	return 0;
}

void *qp_aligned_alloc(size_t nbytes)
{
	size_t rounded;
	void *p;

	if (nbytes > SIZE_MAX - QP_IR_ALIGN)
		return NULL;
	/* aligned_alloc wants a multiple of the alignment; never 0 bytes. */
	rounded = (nbytes + QP_IR_ALIGN - 1) / QP_IR_ALIGN * QP_IR_ALIGN;
	if (rounded == 0)
		rounded = QP_IR_ALIGN;
	p = aligned_alloc(QP_IR_ALIGN, rounded);
	if (p)
		memset(p, 0, rounded);
	return p;
}

int qp_tensor_alloc_data(qp_tensor *t, qp_err *err)
{
	size_t nbytes;
	void *p;

	if (ir_tensor_bytes(t, &nbytes))
		return qp_err_set(err, "tensor '%s': size overflows", t->name);
	p = qp_aligned_alloc(nbytes);
	if (!p)
		return qp_err_set(err, "tensor '%s': out of memory for %zu bytes",
				  t->name, nbytes);
	free(t->data);
	t->data = p;
	t->nbytes = nbytes;
	return 0;
}

void qp_tensor_reshape(qp_tensor *t, qp_dtype dt, int rank, const int64_t *dims)
{
	free(t->data);
	t->data = NULL;
	t->nbytes = 0;
	t->dtype = dt;
	t->rank = rank < 0 ? 0 : rank > QP_MAX_RANK ? QP_MAX_RANK : rank;
	for (int i = 0; i < t->rank; i++)
		t->dims[i] = dims[i];
}

int qp_graph_add_node(qp_graph *g, const char *name, const char *op,
		      int n_inputs, const int *inputs,
		      int n_outputs, const int *outputs, qp_err *err)
{
	qp_node *n;

	if (!name || !name[0])
		return qp_err_set(err, "node name must not be empty (op '%s')",
				  op ? op : "");
	if (!op || !op[0])
		return qp_err_set(err, "node '%s' has no op", name);
	if (n_inputs < 0 || n_outputs < 0)
		return qp_err_node(err, name, op, "negative input or output count");
	for (int i = 0; i < n_inputs; i++)
		if (inputs[i] < -1 || inputs[i] >= g->n_tensors)
			return qp_err_node(err, name, op, "input %d refers to no tensor", i);
	for (int i = 0; i < n_outputs; i++)
		if (outputs[i] < 0 || outputs[i] >= g->n_tensors)
			return qp_err_node(err, name, op, "output %d refers to no tensor", i);
	if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
		return qp_err_set(err, "out of memory");
	n = &g->nodes[g->n_nodes];
	memset(n, 0, sizeof *n);
	n->name = ir_strdup(name);
	n->op = ir_strdup(op);
	n->inputs = malloc(((size_t)n_inputs + 1) * sizeof *n->inputs);
	n->outputs = malloc(((size_t)n_outputs + 1) * sizeof *n->outputs);
	if (!n->name || !n->op || !n->inputs || !n->outputs) {
		node_clear(n);
		return qp_err_set(err, "out of memory");
	}
	if (n_inputs)
		memcpy(n->inputs, inputs, (size_t)n_inputs * sizeof *inputs);
	if (n_outputs)
		memcpy(n->outputs, outputs, (size_t)n_outputs * sizeof *outputs);
	n->n_inputs = n_inputs;
	n->n_outputs = n_outputs;
	return g->n_nodes++;
}

void qp_graph_remove_nodes(qp_graph *g, const unsigned char *keep)
{
	int w = 0;

	for (int r = 0; r < g->n_nodes; r++) {
		if (keep[r])
			g->nodes[w++] = g->nodes[r];
		else
			node_clear(&g->nodes[r]);
	}
	g->n_nodes = w;
}

void qp_graph_drop_unused_tensors(qp_graph *g)
{
	int *remap;
	int w = 0;

	if (g->n_tensors == 0)
		return;
	remap = calloc((size_t)g->n_tensors, sizeof *remap);
	if (!remap)
		return;   /* nothing dropped: still a valid graph */
	/* remap[i] = 1 marks "used" first, then becomes the new index. */
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		for (int j = 0; j < n->n_inputs; j++)
			if (n->inputs[j] >= 0)
				remap[n->inputs[j]] = 1;
		for (int j = 0; j < n->n_outputs; j++)
			remap[n->outputs[j]] = 1;
	}
	for (int i = 0; i < g->n_inputs; i++)
		remap[g->inputs[i].tensor] = 1;
	for (int i = 0; i < g->n_outputs; i++)
		remap[g->outputs[i].tensor] = 1;
	for (int i = 0; i < g->n_tensors; i++) {
		if (remap[i]) {
			g->tensors[w] = g->tensors[i];
			remap[i] = w++;
		} else {
			tensor_clear(&g->tensors[i]);
			remap[i] = -1;
		}
	}
	g->n_tensors = w;
	for (int i = 0; i < g->n_nodes; i++) {
		qp_node *n = &g->nodes[i];

		for (int j = 0; j < n->n_inputs; j++)
			if (n->inputs[j] >= 0)
				n->inputs[j] = remap[n->inputs[j]];
		for (int j = 0; j < n->n_outputs; j++)
			n->outputs[j] = remap[n->outputs[j]];
	}
	for (int i = 0; i < g->n_inputs; i++)
		g->inputs[i].tensor = remap[g->inputs[i].tensor];
	for (int i = 0; i < g->n_outputs; i++)
		g->outputs[i].tensor = remap[g->outputs[i].tensor];
	free(remap);
}

int qp_graph_producer(const qp_graph *g, int t)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_outputs; j++)
			if (g->nodes[i].outputs[j] == t)
				return i;
	return -1;
}

int qp_graph_consumers(const qp_graph *g, int t)
{
	int count = 0;

	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			count += g->nodes[i].inputs[j] == t;
	for (int i = 0; i < g->n_outputs; i++)
		count += g->outputs[i].tensor == t;
	return count;
}

int qp_graph_only_consumer(const qp_graph *g, int t)
{
	if (qp_graph_consumers(g, t) != 1)
		return -1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j] == t)
				return i;
	return -1;
}

/* A tensor is available without a producer when it is a constant or a
 * graph input. */
static int is_graph_input(const qp_graph *g, int t)
{
	for (int i = 0; i < g->n_inputs; i++)
		if (g->inputs[i].tensor == t)
			return 1;
	return 0;
}

/* Min-heap of node indices, so the topological sort is stable: among the
 * ready nodes the one that came first goes first. */
static void heap_push(int *h, int *n, int v)
{
	int i = (*n)++;

	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static int heap_pop(int *h, int *n)
{
	int top = h[0], v = h[--*n], i = 0;

	for (;;) {
		int c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = v;
	return top;
}

int qp_graph_toposort(qp_graph *g, qp_err *err)
{
	int nt = g->n_tensors, nn = g->n_nodes, done = 0, nheap = 0, rc = -1;
	int *producer = malloc(((size_t)nt + 1) * sizeof *producer);
	int *pending = calloc((size_t)nn + 1, sizeof *pending);
	int *heap = malloc(((size_t)nn + 1) * sizeof *heap);
	int *order = malloc(((size_t)nn + 1) * sizeof *order);
	/* consumers as CSR lists: for tensor t, cons[cstart[t]..cstart[t+1]) */
	int *cstart = calloc((size_t)nt + 2, sizeof *cstart);
	int *cons = NULL;
	size_t nedges = 0;
	qp_node *sorted = NULL;

	if (!producer || !pending || !heap || !order || !cstart)
		goto oom;
	for (int t = 0; t < nt; t++)
		producer[t] = -1;
	for (int i = 0; i < nn; i++)
		for (int j = 0; j < g->nodes[i].n_outputs; j++) {
			int t = g->nodes[i].outputs[j];

			if (producer[t] >= 0) {
				qp_err_node(err, g->nodes[i].name, g->nodes[i].op, "tensor '%s' is produced twice",
					    g->tensors[t].name);
				goto out;
			}
			producer[t] = i;
		}
	for (int i = 0; i < nn; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++) {
			int t = g->nodes[i].inputs[j];

			if (t < 0)
				continue;
			if (producer[t] < 0) {
				if (!g->tensors[t].data && !is_graph_input(g, t)) {
					qp_err_node(err, g->nodes[i].name, g->nodes[i].op, "tensor '%s' is used but never produced",
						    g->tensors[t].name);
					goto out;
				}
				continue;
			}
			pending[i]++;
			cstart[t + 1]++;
			nedges++;
		}
	for (int t = 0; t < nt; t++)
		cstart[t + 1] += cstart[t];
	cons = malloc((nedges + 1) * sizeof *cons);
	if (!cons)
		goto oom;
	{
		int *fill = calloc((size_t)nt + 1, sizeof *fill);

		if (!fill)
			goto oom;
		for (int i = 0; i < nn; i++)
			for (int j = 0; j < g->nodes[i].n_inputs; j++) {
				int t = g->nodes[i].inputs[j];

				if (t >= 0 && producer[t] >= 0)
					cons[cstart[t] + fill[t]++] = i;
			}
		free(fill);
	}
	for (int i = 0; i < nn; i++)
		if (pending[i] == 0)
			heap_push(heap, &nheap, i);
	while (nheap > 0) {
		int i = heap_pop(heap, &nheap);

		order[done++] = i;
		for (int j = 0; j < g->nodes[i].n_outputs; j++) {
			int t = g->nodes[i].outputs[j];

			for (int k = cstart[t]; k < cstart[t + 1]; k++)
				if (--pending[cons[k]] == 0)
					heap_push(heap, &nheap, cons[k]);
		}
	}
	if (done < nn) {
		for (int i = 0; i < nn; i++)
			if (pending[i] > 0) {
				qp_err_node(err, g->nodes[i].name, g->nodes[i].op, "graph has a cycle");
				break;
			}
		goto out;
	}
	sorted = malloc(((size_t)nn + 1) * sizeof *sorted);
	if (!sorted)
		goto oom;
	for (int i = 0; i < nn; i++)
		sorted[i] = g->nodes[order[i]];
	if (nn)
		memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
	rc = 0;
	goto out;
oom:
	qp_err_set(err, "out of memory");
out:
	free(sorted);
	free(producer);
	free(pending);
	free(heap);
	free(order);
	free(cstart);
	free(cons);
	return rc;
}

/* ---- history --------------------------------------------------------------- */

int qp_graph_add_history(qp_graph *g, const char *tool, int argc, char **argv)
{
	cJSON *entry = cJSON_CreateObject(), *args = cJSON_CreateArray();

	if (!entry || !args)
		goto fail;
	if (!cJSON_AddStringToObject(entry, "tool", tool ? tool : "") ||
	    !cJSON_AddStringToObject(entry, "version", QP_VERSION))
		goto fail;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i] ? argv[i] : "";
		/* argv[0] as the tool's name, not the build's path: the history
		 * should read the same on every machine. */
		const char *slash = i == 0 ? strrchr(a, '/') : NULL;
		/* Any file name works: bytes that are not UTF-8 are kept as
		 * the text \xNN (docs/ir.md section 1). */
		char *text = qp_utf8_escape_dup(slash ? slash + 1 : a);
		cJSON *s = text ? cJSON_CreateString(text) : NULL;

		free(text);
		if (!s)
			goto fail;
		cJSON_AddItemToArray(args, s);
	}
	cJSON_AddItemToObject(entry, "argv", args);
	args = NULL;
	if (!g->history) {
		g->history = cJSON_CreateArray();
		if (!g->history)
			goto fail;
	}
	cJSON_AddItemToArray(g->history, entry);
	return 0;
fail:
	cJSON_Delete(entry);
	cJSON_Delete(args);
	return -1;
}
