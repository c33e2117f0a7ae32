/* The qpipe IR: in-memory graph, verifier, and the .ir reader/writer.
 *
 * docs/ir.md is the normative description of the bytes; this file is the
 * only code that parses or produces them.  The reader trusts nothing: it
 * checks the frame (magic, version, flags, trailer, checksum) before it
 * parses any JSON, then checks every key and type of the header, every
 * blob span, and finally runs qp_graph_verify, so code after qp_ir_read may
 * rely on the invariants listed in ir.h.
 */
#include "ir.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"      /* QP_VERSION, for history entries */
#include "crc32c.h"
#include "io.h"
#include "ops.h"      /* qp_op_check_node: ops and attributes against the op table */
#include "utf8.h"

#define IR_MAGIC "\x89QPIR\r\n\x1a"
#define IR_END_MAGIC "QPEN"
#define IR_FRAME_HEAD 24                      /* magic..header_len */
#define IR_TRAILER 16                         /* total_len, crc, end magic */
#define IR_MIN_FILE (IR_FRAME_HEAD + IR_TRAILER)
#define IR_MAX_HEADER ((uint64_t)1 << 30)
#define IR_MAX_NAME 1024
/* JSON numbers travel through cJSON as doubles: integers beyond 2^53 would
 * silently lose bits, so format 0.x refuses them on both sides. */
#define IR_MAX_JSON_INT 9007199254740992.0    /* 2^53 */

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

/* ---- small helpers -------------------------------------------------------- */

static char *dupstr(const char *s)
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

/* A string -> index table for name lookups over whole graphs (the reader
 * and the verifier would otherwise be quadratic in the tensor count).
 * Open addressing, keys borrowed. */
typedef struct name_map {
	const char **keys;
	int *vals;
	size_t mask;
} name_map;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;     /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int map_init(name_map *m, int n)
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

static void map_free(name_map *m)
{
	free(m->keys);
	free(m->vals);
}

/* Index stored for key, or -1. */
static int map_get(const name_map *m, const char *key)
{
	for (size_t i = hash_str(key) & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return -1;
}

/* Inserts key -> val unless key is present; returns the existing value, or
 * -1 when inserted.  The table must have room (map_init with the count). */
static int map_put(name_map *m, const char *key, int val)
{
	size_t i;

	for (i = hash_str(key) & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	m->keys[i] = key;
	m->vals[i] = val;
	return -1;
}

/* ---- quant ------------------------------------------------------------------ */

qp_quant *qp_quant_new(int n)
{
	qp_quant *q;

	if (n < 1)
		return NULL;
	q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->scheme = QP_Q_SYMMETRIC;
	q->bits = 8;
	q->is_signed = 1;
	q->axis = -1;
	q->n = n;
	q->scale = calloc((size_t)n, sizeof *q->scale);
	q->zero_point = calloc((size_t)n, sizeof *q->zero_point);
	if (!q->scale || !q->zero_point) {
		qp_quant_free(q);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		q->scale[i] = 1.0f;
	return q;
}

qp_quant *qp_quant_dup(const qp_quant *q)
{
	qp_quant *d;

	if (!q)
		return NULL;
	d = qp_quant_new(q->n);
	if (!d)
		return NULL;
	d->scheme = q->scheme;
	d->bits = q->bits;
	d->is_signed = q->is_signed;
	d->axis = q->axis;
	memcpy(d->scale, q->scale, (size_t)q->n * sizeof *q->scale);
	memcpy(d->zero_point, q->zero_point, (size_t)q->n * sizeof *q->zero_point);
	return d;
}

void qp_quant_free(qp_quant *q)
{
	if (!q)
		return;
	free(q->scale);
	free(q->zero_point);
	free(q);
}

/* ---- graph ---------------------------------------------------------------- */

qp_graph *qp_graph_new(void)
{
	return calloc(1, sizeof(qp_graph));
}

static void attr_clear(qp_attr *a)
{
	free(a->name);
	free(a->ints);
	free(a->floats);
	free(a->s);
	memset(a, 0, sizeof *a);
}

static void node_clear(qp_node *n)
{
	free(n->name);
	free(n->op);
	free(n->inputs);
	free(n->outputs);
	for (int i = 0; i < n->n_attrs; i++)
		attr_clear(&n->attrs[i]);
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

static int name_ok(const char *name)
{
	return name && name[0] && strlen(name) <= IR_MAX_NAME;
}

/* qp_graph_add_tensor without the duplicate-name scan (the reader checks
 * names with a hash table instead of a quadratic search). */
static int add_tensor_unchecked(qp_graph *g, const char *name, qp_dtype dt, int rank,
				const int64_t *dims, qp_err *err)
{
	qp_tensor *t;

	if (!name_ok(name))
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
	t->name = dupstr(name);
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
	return add_tensor_unchecked(g, name, dt, rank, dims, err);
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

/* Byte size of t's data, or -1 on overflow (or a bad dtype). */
static int tensor_bytes(const qp_tensor *t, size_t *nbytes)
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

	if (tensor_bytes(t, &nbytes))
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
		return qp_err_set(err, "negative input or output count (node '%s', op '%s')",
				  name, op);
	for (int i = 0; i < n_inputs; i++)
		if (inputs[i] < -1 || inputs[i] >= g->n_tensors)
			return qp_err_set(err, "input %d refers to no tensor (node '%s', op '%s')",
					  i, name, op);
	for (int i = 0; i < n_outputs; i++)
		if (outputs[i] < 0 || outputs[i] >= g->n_tensors)
			return qp_err_set(err, "output %d refers to no tensor (node '%s', op '%s')",
					  i, name, op);
	if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
		return qp_err_set(err, "out of memory");
	n = &g->nodes[g->n_nodes];
	memset(n, 0, sizeof *n);
	n->name = dupstr(name);
	n->op = dupstr(op);
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
				qp_err_set(err, "tensor '%s' is produced twice (node '%s', op '%s')",
					   g->tensors[t].name, g->nodes[i].name, g->nodes[i].op);
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
					qp_err_set(err, "tensor '%s' is used but never produced (node '%s', op '%s')",
						   g->tensors[t].name, g->nodes[i].name, g->nodes[i].op);
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
				qp_err_set(err, "graph has a cycle (node '%s', op '%s')",
					   g->nodes[i].name, g->nodes[i].op);
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

/* ---- attributes ------------------------------------------------------------ */

const qp_attr *qp_node_attr(const qp_node *n, const char *name)
{
	for (int i = 0; i < n->n_attrs; i++)
		if (strcmp(n->attrs[i].name, name) == 0)
			return &n->attrs[i];
	return NULL;
}

int64_t qp_node_attr_int(const qp_node *n, const char *name, int64_t dflt)
{
	const qp_attr *a = qp_node_attr(n, name);

	return a && a->type == QP_ATTR_INT ? a->i : dflt;
}

float qp_node_attr_float(const qp_node *n, const char *name, float dflt)
{
	const qp_attr *a = qp_node_attr(n, name);

	if (a && a->type == QP_ATTR_FLOAT)
		return a->f;
	/* ONNX writers sometimes store a whole number as an int. */
	if (a && a->type == QP_ATTR_INT)
		return (float)a->i;
	return dflt;
}

const int64_t *qp_node_attr_ints(const qp_node *n, const char *name, int *count)
{
	const qp_attr *a = qp_node_attr(n, name);

	if (a && a->type == QP_ATTR_INTS) {
		*count = a->n;
		return a->ints;
	}
	*count = 0;
	return NULL;
}

const float *qp_node_attr_floats(const qp_node *n, const char *name, int *count)
{
	const qp_attr *a = qp_node_attr(n, name);

	if (a && a->type == QP_ATTR_FLOATS) {
		*count = a->n;
		return a->floats;
	}
	*count = 0;
	return NULL;
}

const char *qp_node_attr_string(const qp_node *n, const char *name, const char *dflt)
{
	const qp_attr *a = qp_node_attr(n, name);

	return a && a->type == QP_ATTR_STRING ? a->s : dflt;
}

/* The attribute called name, emptied for a new value (appended when new). */
static qp_attr *attr_slot(qp_node *n, const char *name)
{
	qp_attr *a = (qp_attr *)qp_node_attr(n, name);
	char *nm;

	if (!name || !name[0])
		return NULL;
	if (a) {
		nm = a->name;
		a->name = NULL;
		attr_clear(a);
		a->name = nm;
		return a;
	}
	nm = dupstr(name);
	if (!nm)
		return NULL;
	/* Attribute arrays are short: grow one at a time. */
	a = realloc(n->attrs, ((size_t)n->n_attrs + 1) * sizeof *a);
	if (!a) {
		free(nm);
		return NULL;
	}
	n->attrs = a;
	a = &n->attrs[n->n_attrs++];
	memset(a, 0, sizeof *a);
	a->name = nm;
	return a;
}

int qp_node_set_int(qp_node *n, const char *name, int64_t v)
{
	qp_attr *a = attr_slot(n, name);

	if (!a)
		return -1;
	a->type = QP_ATTR_INT;
	a->i = v;
	return 0;
}

int qp_node_set_float(qp_node *n, const char *name, float v)
{
	qp_attr *a = attr_slot(n, name);

	if (!a)
		return -1;
	a->type = QP_ATTR_FLOAT;
	a->f = v;
	return 0;
}

/* Stores a copy of count elements of size es as attribute name of type
 * QP_ATTR_INTS or QP_ATTR_FLOATS. */
static int set_array(qp_node *n, const char *name, qp_attr_type type, int count,
		     const void *v, size_t es)
{
	void *copy;
	qp_attr *a;

	if (count < 0)
		return -1;
	copy = malloc(((size_t)count + 1) * es);
	if (!copy)
		return -1;
	if (count)
		memcpy(copy, v, (size_t)count * es);
	a = attr_slot(n, name);
	if (!a) {
		free(copy);
		return -1;
	}
	a->type = type;
	a->n = count;
	if (type == QP_ATTR_INTS)
		a->ints = copy;
	else
		a->floats = copy;
	return 0;
}

int qp_node_set_ints(qp_node *n, const char *name, int count, const int64_t *v)
{
	return set_array(n, name, QP_ATTR_INTS, count, v, sizeof *v);
}

int qp_node_set_floats(qp_node *n, const char *name, int count, const float *v)
{
	return set_array(n, name, QP_ATTR_FLOATS, count, v, sizeof *v);
}

int qp_node_set_string(qp_node *n, const char *name, const char *v)
{
	char *copy;
	qp_attr *a;

	if (!v)
		return -1;
	copy = dupstr(v);
	if (!copy)
		return -1;
	a = attr_slot(n, name);
	if (!a) {
		free(copy);
		return -1;
	}
	a->type = QP_ATTR_STRING;
	a->s = copy;
	return 0;
}

/* ---- JSON helpers (reader and verifier) --------------------------------------- */

/* Rejects keys outside allowed[] (NULL terminated) and repeated keys: cJSON
 * keeps duplicates and lookups would silently see the first. */
static int check_keys(const cJSON *obj, const char *const *allowed, const char *where,
		      qp_err *err)
{
	for (const cJSON *c = obj->child; c; c = c->next) {
		int known = 0;

		for (int i = 0; allowed[i]; i++)
			known |= strcmp(c->string, allowed[i]) == 0;
		if (!known)
			return qp_err_set(err, "%s: unknown key '%s'", where, c->string);
		for (const cJSON *d = obj->child; d != c; d = d->next)
			if (strcmp(d->string, c->string) == 0)
				return qp_err_set(err, "%s: key '%s' appears twice", where, c->string);
	}
	return 0;
}

static const cJSON *key(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* A JSON number that is a whole number JSON can carry exactly. */
static int json_int(const cJSON *v, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || fabs(d) > IR_MAX_JSON_INT)
		return -1;
	*out = (int64_t)d;
	return 0;
}

static int json_float(const cJSON *v, float *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return -1;
	*out = (float)v->valuedouble;
	return 0;
}

static const char *json_str(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

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

/* History entries are {"tool": s, "version": s, "argv": [s, ...]}: checked
 * by the verifier too, so no stage can write a file readers refuse. */
static int check_history(const cJSON *h, qp_err *err)
{
	static const char *const keys[] = { "tool", "version", "argv", NULL };
	int i = 0;

	if (!cJSON_IsArray(h))
		return qp_err_set(err, "history must be an array");
	for (const cJSON *e = h->child; e; e = e->next, i++) {
		const cJSON *argv;

		if (!cJSON_IsObject(e) || check_keys(e, keys, "history", err) ||
		    !json_str(key(e, "tool")) || !json_str(key(e, "version")) ||
		    !cJSON_IsArray(argv = key(e, "argv")))
			return qp_err_set(err, "history[%d] must be {\"tool\": s, \"version\": s, \"argv\": [s, ...]}",
					  i);
		for (const cJSON *a = argv->child; a; a = a->next)
			if (!json_str(a))
				return qp_err_set(err, "history[%d]: argv must hold strings", i);
		if (!json_utf8_ok(e, 0))
			return qp_err_set(err, "history[%d] holds a string that is not valid UTF-8", i);
	}
	return 0;
}

/* ---- verifier ---------------------------------------------------------------- */

static int verify_quant(const qp_tensor *t, qp_err *err)
{
	const qp_quant *q = t->quant;
	int64_t lo, hi;

	if ((unsigned)q->scheme >= (unsigned)N_QSCHEMES)
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
	if (tensor_bytes(t, &nbytes))
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
		return qp_err_set(err, "bad input list (node '%s', op '%s')", n->name, n->op);
	if (n->n_outputs < 1 || !n->outputs)
		return qp_err_set(err, "node has no outputs (node '%s', op '%s')", n->name, n->op);
	for (int j = 0; j < n->n_inputs; j++)
		if (n->inputs[j] < -1 || n->inputs[j] >= g->n_tensors)
			return qp_err_set(err, "input %d refers to tensor index %d, which does not exist (node '%s', op '%s')",
					  j, n->inputs[j], n->name, n->op);
	for (int j = 0; j < n->n_outputs; j++)
		if (n->outputs[j] < 0 || n->outputs[j] >= g->n_tensors)
			return qp_err_set(err, "output %d refers to tensor index %d, which does not exist (node '%s', op '%s')",
					  j, n->outputs[j], n->name, n->op);
	for (int a = 0; a < n->n_attrs; a++) {
		const qp_attr *at = &n->attrs[a];

		if (!at->name || !at->name[0])
			return qp_err_set(err, "attribute with an empty name (node '%s', op '%s')",
					  n->name, n->op);
		if (!qp_utf8_valid_str(at->name))
			return qp_err_set(err, "attribute name '%s' is not valid UTF-8 (node '%s', op '%s')",
					  qp_utf8_show(shown, at->name), n->name, n->op);
		for (int b = 0; b < a; b++)
			if (strcmp(n->attrs[b].name, at->name) == 0)
				return qp_err_set(err, "duplicate attribute '%s' (node '%s', op '%s')",
						  at->name, n->name, n->op);
		switch (at->type) {
		case QP_ATTR_INT:
			break;
		case QP_ATTR_FLOAT:
			if (!isfinite(at->f))
				return qp_err_set(err, "attribute '%s' is not finite (node '%s', op '%s')",
						  at->name, n->name, n->op);
			break;
		case QP_ATTR_INTS:
			if (at->n < 0 || (at->n && !at->ints))
				return qp_err_set(err, "attribute '%s' has a bad list (node '%s', op '%s')",
						  at->name, n->name, n->op);
			break;
		case QP_ATTR_FLOATS:
			if (at->n < 0 || (at->n && !at->floats))
				return qp_err_set(err, "attribute '%s' has a bad list (node '%s', op '%s')",
						  at->name, n->name, n->op);
			for (int k = 0; k < at->n; k++)
				if (!isfinite(at->floats[k]))
					return qp_err_set(err, "attribute '%s'[%d] is not finite (node '%s', op '%s')",
							  at->name, k, n->name, n->op);
			break;
		case QP_ATTR_STRING:
			if (!at->s)
				return qp_err_set(err, "attribute '%s' has no string (node '%s', op '%s')",
						  at->name, n->name, n->op);
			if (!qp_utf8_valid_str(at->s))
				return qp_err_set(err, "attribute '%s' value '%s' is not valid UTF-8 (node '%s', op '%s')",
						  at->name, qp_utf8_show(shown, at->s), n->name, n->op);
			break;
		default:
			return qp_err_set(err, "attribute '%s' has unknown type %d (node '%s', op '%s')",
					  at->name, (int)at->type, n->name, n->op);
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
	name_map names = { 0 };
	unsigned char *state = NULL;   /* per tensor: 1 available, 2 produced */
	char shown[QP_UTF8_SHOW_MAX], shown_op[QP_UTF8_SHOW_MAX];
	int rc = -1;

	if (!g)
		return qp_err_set(err, "no graph");
	if (g->n_tensors < 0 || g->n_nodes < 0 || g->n_inputs < 0 || g->n_outputs < 0)
		return qp_err_set(err, "negative element count in graph");
	if (map_init(&names, g->n_tensors > g->n_nodes ? g->n_tensors : g->n_nodes))
		return qp_err_set(err, "out of memory");
	for (int i = 0; i < g->n_tensors; i++) {
		const qp_tensor *t = &g->tensors[i];

		if (!name_ok(t->name)) {
			qp_err_set(err, "tensor %d: name must be 1 to %d bytes", i, IR_MAX_NAME);
			goto out;
		}
		if (!qp_utf8_valid_str(t->name)) {
			qp_err_set(err, "tensor %d: name '%s' is not valid UTF-8", i,
				   qp_utf8_show(shown, t->name));
			goto out;
		}
		if (map_put(&names, t->name, i) >= 0) {
			qp_err_set(err, "duplicate tensor name '%s'", t->name);
			goto out;
		}
		if (verify_tensor(t, err))
			goto out;
	}
	map_free(&names);
	if (map_init(&names, g->n_nodes))
		return qp_err_set(err, "out of memory");
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		if (!qp_utf8_valid_str(n->op)) {
			qp_err_set(err, "node %d: op name is not valid UTF-8 (node '%s', op '%s')", i,
				   qp_utf8_show(shown, n->name), qp_utf8_show(shown_op, n->op));
			goto out;
		}
		if (!name_ok(n->name)) {
			qp_err_set(err, "node %d: name must be 1 to %d bytes (op '%s')", i,
				   IR_MAX_NAME, n->op ? n->op : "");
			goto out;
		}
		if (!qp_utf8_valid_str(n->name)) {
			qp_err_set(err, "node %d: name is not valid UTF-8 (node '%s', op '%s')", i,
				   qp_utf8_show(shown, n->name), n->op ? n->op : "");
			goto out;
		}
		if (map_put(&names, n->name, i) >= 0) {
			qp_err_set(err, "duplicate node name '%s'", n->name);
			goto out;
		}
		if (verify_node_shape(g, n, err))
			goto out;
	}
	if (verify_io(g, g->inputs, g->n_inputs, "input", err) ||
	    verify_io(g, g->outputs, g->n_outputs, "output", err))
		goto out;
	if (g->history && check_history(g->history, err))
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
				qp_err_set(err, "input '%s' is not produced before it is used (node '%s', op '%s')",
					   g->tensors[t].name, n->name, n->op);
				goto out;
			}
		}
		for (int j = 0; j < n->n_outputs; j++) {
			int t = n->outputs[j];

			if (state[t] == 2) {
				qp_err_set(err, "tensor '%s' is produced twice (node '%s', op '%s')",
					   g->tensors[t].name, n->name, n->op);
				goto out;
			}
			if (state[t] == 1) {
				qp_err_set(err, "output '%s' is a constant or graph input (node '%s', op '%s')",
					   g->tensors[t].name, n->name, n->op);
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
	map_free(&names);
	free(state);
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

/* ---- reader: JSON schema ------------------------------------------------------- */

typedef struct span {
	uint64_t off, len;
	int tensor;
} span;

static int span_cmp(const void *a, const void *b)
{
	const span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off ? 1 : x->tensor - y->tensor;
}

/* A context for one read: the graph being built and the tensor names. */
typedef struct reader {
	qp_graph *g;
	name_map names;
	const unsigned char *blob;
	uint64_t blob_len;
	span *spans;
	int n_spans;
} reader;

static int read_quant(const cJSON *jq, qp_tensor *t, qp_err *err)
{
	static const char *const keys[] = { "scheme", "bits", "signed", "axis", "scale",
					    "zero_point", NULL };
	const cJSON *scale, *zp, *sg;
	const char *scheme;
	qp_qscheme qs;
	int64_t bits, axis;
	int n;

	if (!cJSON_IsObject(jq))
		return qp_err_set(err, "tensor '%s': quant must be an object", t->name);
	if (check_keys(jq, keys, "quant", err))
		return qp_err_prefix(err, "tensor '%s'", t->name);
	scheme = json_str(key(jq, "scheme"));
	if (!scheme || qp_qscheme_parse(scheme, &qs))
		return qp_err_set(err, "tensor '%s': quant scheme must be symmetric, asymmetric or power_of_two",
				  t->name);
	if (json_int(key(jq, "bits"), &bits) || bits < 0 || bits > 64)
		return qp_err_set(err, "tensor '%s': quant bits must be an integer", t->name);
	sg = key(jq, "signed");
	if (!cJSON_IsBool(sg))
		return qp_err_set(err, "tensor '%s': quant signed must be true or false", t->name);
	if (json_int(key(jq, "axis"), &axis) || axis < -1 || axis >= QP_MAX_RANK)
		return qp_err_set(err, "tensor '%s': quant axis must be an integer from -1 to %d",
				  t->name, QP_MAX_RANK - 1);
	scale = key(jq, "scale");
	zp = key(jq, "zero_point");
	if (!cJSON_IsArray(scale) || !cJSON_IsArray(zp))
		return qp_err_set(err, "tensor '%s': quant scale and zero_point must be arrays",
				  t->name);
	n = cJSON_GetArraySize(scale);
	if (n < 1 || n != cJSON_GetArraySize(zp))
		return qp_err_set(err, "tensor '%s': quant has %d scales and %d zero points (want the same count, at least 1)",
				  t->name, n, cJSON_GetArraySize(zp));
	t->quant = qp_quant_new(n);
	if (!t->quant)
		return qp_err_set(err, "out of memory");
	t->quant->scheme = qs;
	t->quant->bits = (int)bits;
	t->quant->is_signed = cJSON_IsTrue(sg);
	t->quant->axis = (int)axis;
	{
		const cJSON *s = scale->child, *z = zp->child;

		for (int i = 0; i < n; i++, s = s->next, z = z->next) {
			int64_t zv;

			if (json_float(s, &t->quant->scale[i]))
				return qp_err_set(err, "tensor '%s': quant scale[%d] must be a number",
						  t->name, i);
			if (json_int(z, &zv) || zv < INT32_MIN || zv > INT32_MAX)
				return qp_err_set(err, "tensor '%s': quant zero_point[%d] must be a 32-bit integer",
						  t->name, i);
			t->quant->zero_point[i] = (int32_t)zv;
		}
	}
	return 0;
}

static int read_stats(const cJSON *js, qp_tensor *t, qp_err *err)
{
	static const char *const keys[] = { "min", "max", "count", "mean", "std",
					    "hist", "sum", "sumsq", NULL };

	if (!cJSON_IsObject(js))
		return qp_err_set(err, "tensor '%s': stats must be an object", t->name);
	if (check_keys(js, keys, "stats", err))
		return qp_err_prefix(err, "tensor '%s'", t->name);
	t->stats = calloc(1, sizeof *t->stats);
	if (!t->stats)
		return qp_err_set(err, "out of memory");
	if (json_float(key(js, "min"), &t->stats->min) ||
	    json_float(key(js, "max"), &t->stats->max) ||
	    json_int(key(js, "count"), &t->stats->count))
		return qp_err_set(err, "tensor '%s': stats needs numbers min and max and an integer count",
				  t->name);
	return qp_stats_read_json(js, t, err);
}

static int read_tensor(reader *r, const cJSON *jt, int idx, qp_err *err)
{
	static const char *const keys[] = { "name", "dtype", "shape", "data", "quant",
					    "stats", NULL };
	const cJSON *shape, *data;
	const char *name, *dtname;
	int64_t dims[QP_MAX_RANK];
	qp_dtype dt;
	qp_tensor *t;
	int rank = 0, ti;
	size_t nbytes;

	if (!cJSON_IsObject(jt))
		return qp_err_set(err, "tensors[%d] must be an object", idx);
	name = json_str(key(jt, "name"));
	if (!name || !name_ok(name))
		return qp_err_set(err, "tensors[%d]: name must be a string of 1 to %d bytes",
				  idx, IR_MAX_NAME);
	if (check_keys(jt, keys, "tensor", err))
		return qp_err_prefix(err, "tensor '%s'", name);
	dtname = json_str(key(jt, "dtype"));
	if (!dtname || qp_dtype_parse(dtname, &dt))
		return qp_err_set(err, "tensor '%s': unknown dtype '%s'", name,
				  dtname ? dtname : "(not a string)");
	shape = key(jt, "shape");
	if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > QP_MAX_RANK)
		return qp_err_set(err, "tensor '%s': shape must be an array of 0 to %d integers",
				  name, QP_MAX_RANK);
	for (const cJSON *d = shape->child; d; d = d->next) {
		if (json_int(d, &dims[rank]) || dims[rank] < 0)
			return qp_err_set(err, "tensor '%s': shape must hold non-negative integers",
					  name);
		rank++;
	}
	if (map_put(&r->names, name, idx) >= 0)
		return qp_err_set(err, "duplicate tensor name '%s'", name);
	ti = add_tensor_unchecked(r->g, name, dt, rank, dims, err);
	if (ti < 0)
		return -1;
	t = &r->g->tensors[ti];
	if (tensor_bytes(t, &nbytes))
		return qp_err_set(err, "tensor '%s': element count or byte size overflows", name);
	data = key(jt, "data");
	if (data) {
		int64_t off, len;

		if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) != 2 ||
		    json_int(data->child, &off) || json_int(data->child->next, &len) ||
		    off < 0 || len < 0)
			return qp_err_set(err, "tensor '%s': data must be [offset, nbytes], two non-negative integers",
					  name);
		if ((uint64_t)len != (uint64_t)nbytes)
			return qp_err_set(err, "tensor '%s': data holds %" PRId64 " bytes, shape and dtype want %zu",
					  name, len, nbytes);
		if (off % QP_IR_ALIGN)
			return qp_err_set(err, "tensor '%s': data offset %" PRId64 " is not a multiple of %d",
					  name, off, QP_IR_ALIGN);
		if ((uint64_t)off > r->blob_len || (uint64_t)len > r->blob_len - (uint64_t)off)
			return qp_err_set(err, "tensor '%s': data span [%" PRId64 ", %" PRId64 ") outside the blob",
					  name, off, off + len);
		r->spans[r->n_spans++] = (span){ (uint64_t)off, (uint64_t)len, ti };
		t->data = qp_aligned_alloc(nbytes);
		if (!t->data)
			return qp_err_set(err, "tensor '%s': out of memory for %zu bytes", name, nbytes);
		t->nbytes = nbytes;
		if (nbytes)
			memcpy(t->data, r->blob + off, nbytes);
	}
	if (key(jt, "quant") && read_quant(key(jt, "quant"), t, err))
		return -1;
	if (key(jt, "stats") && read_stats(key(jt, "stats"), t, err))
		return -1;
	return 0;
}

/* Empty spans hold no bytes and overlap nothing. */
static int check_spans(reader *r, qp_err *err)
{
	uint64_t end = 0;
	int last = -1;

	qsort(r->spans, (size_t)r->n_spans, sizeof *r->spans, span_cmp);
	for (int i = 0; i < r->n_spans; i++) {
		const span *s = &r->spans[i];

		if (s->len == 0)
			continue;
		if (last >= 0 && s->off < end)
			return qp_err_set(err, "tensors '%s' and '%s': data spans [%" PRIu64 ", %" PRIu64
					  ") and [%" PRIu64 ", %" PRIu64 ") overlap",
					  r->g->tensors[r->spans[last].tensor].name,
					  r->g->tensors[s->tensor].name,
					  r->spans[last].off, r->spans[last].off + r->spans[last].len,
					  s->off, s->off + s->len);
		if (s->off + s->len > end) {
			end = s->off + s->len;
			last = i;
		}
	}
	return 0;
}

static int read_io(reader *r, const cJSON *arr, const char *what, qp_graph_io **out,
		   int *n_out, qp_err *err)
{
	static const char *const keys[] = { "name", "layout", NULL };
	int n, i = 0;

	if (!cJSON_IsArray(arr))
		return qp_err_set(err, "graph.%ss must be an array", what);
	n = cJSON_GetArraySize(arr);
	*out = calloc((size_t)n + 1, sizeof **out);
	if (!*out)
		return qp_err_set(err, "out of memory");
	for (const cJSON *e = arr->child; e; e = e->next, i++) {
		const char *name, *layout;
		int t;

		if (!cJSON_IsObject(e) || !(name = json_str(key(e, "name"))))
			return qp_err_set(err, "graph %s %d must be an object with a string name",
					  what, i);
		if (check_keys(e, keys, "graph io", err))
			return qp_err_prefix(err, "graph %s '%s'", what, name);
		t = map_get(&r->names, name);
		if (t < 0)
			return qp_err_set(err, "graph %s '%s' is not a tensor", what, name);
		(*out)[i].tensor = t;
		if (key(e, "layout")) {
			layout = json_str(key(e, "layout"));
			if (!layout)
				return qp_err_set(err, "graph %s '%s': layout must be a string",
						  what, name);
			(*out)[i].layout = dupstr(layout);
			if (!(*out)[i].layout)
				return qp_err_set(err, "out of memory");
		}
		(*n_out)++;
	}
	return 0;
}

static int read_attr(qp_node *n, const cJSON *ja, qp_err *err)
{
	const cJSON *v = ja->child;
	const char *tag = v ? v->string : "";
	int rc = -1;

	if (!cJSON_IsObject(ja) || !v || v->next)
		goto bad;
	if (strcmp(tag, "int") == 0) {
		int64_t i;

		if (json_int(v, &i))
			goto bad;
		rc = qp_node_set_int(n, ja->string, i);
	} else if (strcmp(tag, "float") == 0) {
		float f;

		if (json_float(v, &f))
			goto bad;
		rc = qp_node_set_float(n, ja->string, f);
	} else if (strcmp(tag, "string") == 0) {
		if (!json_str(v))
			goto bad;
		rc = qp_node_set_string(n, ja->string, v->valuestring);
	} else if (strcmp(tag, "ints") == 0 || strcmp(tag, "floats") == 0) {
		int cnt, k = 0, is_int = tag[0] == 'i';
		int64_t *iv;
		float *fv;

		if (!cJSON_IsArray(v))
			goto bad;
		cnt = cJSON_GetArraySize(v);
		iv = malloc(((size_t)cnt + 1) * sizeof *iv);
		fv = malloc(((size_t)cnt + 1) * sizeof *fv);
		if (!iv || !fv) {
			free(iv);
			free(fv);
			return qp_err_set(err, "out of memory");
		}
		for (const cJSON *e = v->child; e; e = e->next, k++)
			if (is_int ? json_int(e, &iv[k]) : json_float(e, &fv[k]))
				break;
		if (k == cnt)
			rc = is_int ? qp_node_set_ints(n, ja->string, cnt, iv)
				    : qp_node_set_floats(n, ja->string, cnt, fv);
		free(iv);
		free(fv);
		if (k != cnt)
			goto bad;
	} else {
		goto bad;
	}
	if (rc)
		return qp_err_set(err, "out of memory");
	return 0;
bad:
	return qp_err_set(err, "attribute '%s' must be one of {\"int\": n}, {\"float\": x}, "
			  "{\"ints\": [..]}, {\"floats\": [..]}, {\"string\": \"s\"} (node '%s', op '%s')",
			  ja->string, n->name, n->op);
}

/* Resolves a JSON array of tensor names into indices ("" -> -1 when
 * allow_omitted).  *idx is malloc'd. */
static int read_names(reader *r, const cJSON *arr, int allow_omitted, int **idx, int *count,
		      const char *what, const char *node, const char *op, qp_err *err)
{
	int n, i = 0;

	if (!cJSON_IsArray(arr))
		return qp_err_set(err, "%s must be an array of tensor names (node '%s', op '%s')",
				  what, node, op);
	n = cJSON_GetArraySize(arr);
	*idx = malloc(((size_t)n + 1) * sizeof **idx);
	if (!*idx)
		return qp_err_set(err, "out of memory");
	for (const cJSON *e = arr->child; e; e = e->next, i++) {
		const char *s = json_str(e);

		if (!s)
			return qp_err_set(err, "%s must be an array of tensor names (node '%s', op '%s')",
					  what, node, op);
		if (!s[0]) {
			if (!allow_omitted)
				return qp_err_set(err, "empty %s name (node '%s', op '%s')",
						  what, node, op);
			(*idx)[i] = -1;
			continue;
		}
		(*idx)[i] = map_get(&r->names, s);
		if ((*idx)[i] < 0)
			return qp_err_set(err, "unknown tensor '%s' (node '%s', op '%s')", s, node, op);
	}
	*count = n;
	return 0;
}

static int read_node(reader *r, const cJSON *jn, int idx, qp_err *err)
{
	static const char *const keys[] = { "name", "op", "inputs", "outputs", "attrs", NULL };
	const char *name, *op;
	int *in = NULL, *out = NULL, n_in = 0, n_out = 0, ni, rc = -1;
	const cJSON *attrs;
	qp_node *n;

	if (!cJSON_IsObject(jn))
		return qp_err_set(err, "graph.nodes[%d] must be an object", idx);
	name = json_str(key(jn, "name"));
	op = json_str(key(jn, "op"));
	if (!name || !name_ok(name))
		return qp_err_set(err, "graph.nodes[%d]: name must be a string of 1 to %d bytes",
				  idx, IR_MAX_NAME);
	if (!op || !op[0])
		return qp_err_set(err, "node '%s': op must be a non-empty string", name);
	if (check_keys(jn, keys, "node", err))
		return qp_err_prefix(err, "node '%s'", name);
	if (read_names(r, key(jn, "inputs"), 1, &in, &n_in, "inputs", name, op, err) ||
	    read_names(r, key(jn, "outputs"), 0, &out, &n_out, "outputs", name, op, err))
		goto out;
	if (n_out < 1) {
		qp_err_set(err, "node has no outputs (node '%s', op '%s')", name, op);
		goto out;
	}
	ni = qp_graph_add_node(r->g, name, op, n_in, in, n_out, out, err);
	if (ni < 0)
		goto out;
	n = &r->g->nodes[ni];
	attrs = key(jn, "attrs");
	if (attrs) {
		if (!cJSON_IsObject(attrs)) {
			qp_err_set(err, "attrs must be an object (node '%s', op '%s')", name, op);
			goto out;
		}
		for (const cJSON *a = attrs->child; a; a = a->next) {
			if (qp_node_attr(n, a->string)) {
				qp_err_set(err, "attribute '%s' appears twice (node '%s', op '%s')",
					   a->string, name, op);
				goto out;
			}
			if (!a->string[0]) {
				qp_err_set(err, "attribute with an empty name (node '%s', op '%s')",
					   name, op);
				goto out;
			}
			if (read_attr(n, a, err))
				goto out;
		}
	}
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

static int read_header(reader *r, cJSON *root, qp_err *err)
{
	static const char *const root_keys[] = { "format", "history", "graph", "tensors",
						 "meta", NULL };
	static const char *const graph_keys[] = { "inputs", "outputs", "nodes", NULL };
	const cJSON *tensors, *graph, *nodes;
	const char *format;
	int i, nt;

	if (!cJSON_IsObject(root))
		return qp_err_set(err, "header is not a JSON object");
	if (check_keys(root, root_keys, "header", err))
		return -1;
	format = json_str(key(root, "format"));
	if (!format || strcmp(format, "qpipe-ir"))
		return qp_err_set(err, "header: format must be \"qpipe-ir\"");
	tensors = key(root, "tensors");
	if (!cJSON_IsArray(tensors))
		return qp_err_set(err, "header: tensors must be an array");
	nt = cJSON_GetArraySize(tensors);
	if (map_init(&r->names, nt))
		return qp_err_set(err, "out of memory");
	r->spans = calloc((size_t)nt + 1, sizeof *r->spans);
	if (!r->spans)
		return qp_err_set(err, "out of memory");
	i = 0;
	for (const cJSON *t = tensors->child; t; t = t->next, i++)
		if (read_tensor(r, t, i, err))
			return -1;
	/* The name map borrows the JSON tree's strings: both live until
	 * qp_ir_read_mem returns. */
	if (check_spans(r, err))
		return -1;
	graph = key(root, "graph");
	if (!cJSON_IsObject(graph))
		return qp_err_set(err, "header: graph must be an object");
	if (check_keys(graph, graph_keys, "graph", err))
		return -1;
	if (read_io(r, key(graph, "inputs"), "input", &r->g->inputs, &r->g->n_inputs, err) ||
	    read_io(r, key(graph, "outputs"), "output", &r->g->outputs, &r->g->n_outputs, err))
		return -1;
	nodes = key(graph, "nodes");
	if (!cJSON_IsArray(nodes))
		return qp_err_set(err, "graph.nodes must be an array");
	i = 0;
	for (const cJSON *n = nodes->child; n; n = n->next, i++)
		if (read_node(r, n, i, err))
			return -1;
	if (key(root, "history")) {
		if (check_history(key(root, "history"), err))
			return -1;
		r->g->history = cJSON_DetachItemFromObjectCaseSensitive(root, "history");
	}
	if (key(root, "meta")) {
		if (!cJSON_IsObject(key(root, "meta")))
			return qp_err_set(err, "meta must be an object");
		r->g->meta = cJSON_DetachItemFromObjectCaseSensitive(root, "meta");
	}
	return 0;
}

/* ---- reader: frame ------------------------------------------------------------ */

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int qp_ir_frame(const void *buf, size_t len, unsigned *major, unsigned *minor,
		const char **header, size_t *header_len, qp_err *err)
{
	const unsigned char *p = buf;
	uint64_t hlen, total_len;
	uint32_t flags, crc;

	/* The order is docs/ir.md's, so each kind of damage gets its own
	 * message and nothing is allocated for a file that is not ours. */
	if (len == 0)
		return qp_err_set(err, "empty file (not a qpipe IR file)");
	if (memcmp(p, IR_MAGIC, len < 8 ? len : 8) != 0)
		return qp_err_set(err, "not a qpipe IR file (bad magic)");
	if (len < IR_MIN_FILE)
		return qp_err_set(err, "truncated file: %zu bytes, an IR file has at least %d",
				  len, IR_MIN_FILE);
	*major = (unsigned)get_le(p + 8, 2);
	*minor = (unsigned)get_le(p + 10, 2);
	if (*major != QP_IR_VERSION_MAJOR)
		return qp_err_set(err, "unsupported IR format version %u.%u (this qpipe reads %d.x)",
				  *major, *minor, QP_IR_VERSION_MAJOR);
	flags = (uint32_t)get_le(p + 12, 4);
	if (flags != 0)
		return qp_err_set(err, "unsupported IR flags 0x%08" PRIx32 " (this qpipe reads 0)",
				  flags);
	if (memcmp(p + len - 4, IR_END_MAGIC, 4) != 0)
		return qp_err_set(err, "truncated or damaged file: %zu bytes and no end marker", len);
	total_len = get_le(p + len - 16, 8);
	if (total_len > len)
		return qp_err_set(err, "truncated file: %zu bytes, trailer says %" PRIu64, len,
				  total_len);
	if (total_len != len)
		return qp_err_set(err, "damaged file: %zu bytes, trailer says %" PRIu64, len,
				  total_len);
	crc = (uint32_t)get_le(p + len - 8, 4);
	if (qp_crc32c(0, p, len - 8) != crc)
		return qp_err_set(err, "checksum mismatch (file damaged)");
	hlen = get_le(p + 16, 8);
	if (hlen < 1 || hlen > IR_MAX_HEADER ||
	    align_up(IR_FRAME_HEAD + hlen, QP_IR_ALIGN) > len - IR_TRAILER)
		return qp_err_set(err, "bad header length %" PRIu64 " in a file of %zu bytes",
				  hlen, len);
	*header = (const char *)p + IR_FRAME_HEAD;
	*header_len = (size_t)hlen;
	return 0;
}

int qp_ir_read_mem(const void *buf, size_t len, qp_graph **out, qp_err *err)
{
	const unsigned char *p = buf;
	const char *header, *parse_end = NULL;
	size_t header_len, blob_start;
	unsigned major, minor;
	char *text = NULL;
	cJSON *root = NULL;
	reader r = { 0 };
	int rc = -1;

	*out = NULL;
	if (qp_ir_frame(buf, len, &major, &minor, &header, &header_len, err))
		return -1;
	blob_start = (size_t)align_up(IR_FRAME_HEAD + header_len, QP_IR_ALIGN);
	if (memchr(header, 0, header_len))
		return qp_err_set(err, "header holds a NUL byte");
	if (!qp_utf8_valid(header, header_len))
		return qp_err_set(err, "header is not valid UTF-8 (at byte %zu of %zu)",
				  qp_utf8_valid_prefix(header, header_len), header_len);

	/* cJSON wants a terminated string. */
	text = malloc(header_len + 1);
	if (!text)
		return qp_err_set(err, "out of memory");
	memcpy(text, header, header_len);
	text[header_len] = 0;
	root = cJSON_ParseWithOpts(text, &parse_end, 1);
	if (!root) {
		qp_err_set(err, "header is not valid JSON (at byte %ld of %zu)",
			   parse_end ? (long)(parse_end - text) : 0L, header_len);
		goto out;
	}
	r.g = qp_graph_new();
	if (!r.g) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	r.blob = p + blob_start;
	r.blob_len = len - IR_TRAILER - blob_start;
	if (read_header(&r, root, err) || qp_graph_verify(r.g, err))
		goto out;
	*out = r.g;
	r.g = NULL;
	rc = 0;
out:
	qp_graph_free(r.g);
	map_free(&r.names);
	free(r.spans);
	cJSON_Delete(root);
	free(text);
	return rc;
}

int qp_ir_read(const char *path, qp_graph **out, qp_err *err)
{
	void *buf;
	size_t len;
	int rc;

	*out = NULL;
	if (qp_read_all(path, &buf, &len, 0, err))
		return -1;
	rc = qp_ir_read_mem(buf, len, out, err);
	free(buf);
	return rc;
}

/* ---- writer ------------------------------------------------------------------- */

/* Numbers are printed here rather than by cJSON: floats with %.9g (enough
 * to read back the identical float, and the same bytes on every run) and
 * integers exactly. */
static cJSON *num_float(float f)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%.9g", (double)f);
	return cJSON_CreateRaw(buf);
}

static cJSON *num_int(int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%" PRId64, v);
	return cJSON_CreateRaw(buf);
}

static int int_fits_json(int64_t v)
{
	return v >= -(int64_t)IR_MAX_JSON_INT && v <= (int64_t)IR_MAX_JSON_INT;
}

/* Adds item to obj (or to an array when name is NULL); fails on NULL. */
static int add(cJSON *parent, const char *name, cJSON *item)
{
	if (!item)
		return -1;
	if (name)
		cJSON_AddItemToObject(parent, name, item);
	else
		cJSON_AddItemToArray(parent, item);
	return 0;
}

static int write_attr(cJSON *attrs, const qp_node *n, const qp_attr *a, qp_err *err)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (!o || add(attrs, a->name, o))
		return qp_err_set(err, "out of memory");
	switch (a->type) {
	case QP_ATTR_INT:
		if (!int_fits_json(a->i))
			goto big;
		return add(o, "int", num_int(a->i)) ? qp_err_set(err, "out of memory") : 0;
	case QP_ATTR_FLOAT:
		return add(o, "float", num_float(a->f)) ? qp_err_set(err, "out of memory") : 0;
	case QP_ATTR_STRING:
		return add(o, "string", cJSON_CreateString(a->s)) ? qp_err_set(err, "out of memory") : 0;
	case QP_ATTR_INTS:
	case QP_ATTR_FLOATS:
		arr = cJSON_CreateArray();
		if (add(o, a->type == QP_ATTR_INTS ? "ints" : "floats", arr))
			return qp_err_set(err, "out of memory");
		for (int k = 0; k < a->n; k++) {
			if (a->type == QP_ATTR_INTS && !int_fits_json(a->ints[k]))
				goto big;
			if (add(arr, NULL, a->type == QP_ATTR_INTS ? num_int(a->ints[k])
								   : num_float(a->floats[k])))
				return qp_err_set(err, "out of memory");
		}
		return 0;
	}
	return qp_err_set(err, "attribute '%s' has unknown type (node '%s', op '%s')",
			  a->name, n->name, n->op);
big:
	return qp_err_set(err, "attribute '%s' holds an integer beyond +-2^53, which format %d.%d cannot store (node '%s', op '%s')",
			  a->name, QP_IR_VERSION_MAJOR, QP_IR_VERSION_MINOR, n->name, n->op);
}

static int write_names(cJSON *parent, const char *key_name, const qp_graph *g,
		       const int *idx, int n)
{
	cJSON *arr = cJSON_CreateArray();

	if (add(parent, key_name, arr))
		return -1;
	for (int i = 0; i < n; i++)
		if (add(arr, NULL, cJSON_CreateString(idx[i] < 0 ? "" : g->tensors[idx[i]].name)))
			return -1;
	return 0;
}

static int write_io(cJSON *graph, const char *key_name, const qp_graph *g,
		    const qp_graph_io *io, int n)
{
	cJSON *arr = cJSON_CreateArray();

	if (add(graph, key_name, arr))
		return -1;
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (add(arr, NULL, o) ||
		    add(o, "name", cJSON_CreateString(g->tensors[io[i].tensor].name)))
			return -1;
		if (io[i].layout && add(o, "layout", cJSON_CreateString(io[i].layout)))
			return -1;
	}
	return 0;
}

static int write_tensor(cJSON *arr, const qp_tensor *t, uint64_t offset)
{
	cJSON *o = cJSON_CreateObject(), *shape, *data;

	if (add(arr, NULL, o) || add(o, "name", cJSON_CreateString(t->name)) ||
	    add(o, "dtype", cJSON_CreateString(qp_dtype_name(t->dtype))))
		return -1;
	shape = cJSON_CreateArray();
	if (add(o, "shape", shape))
		return -1;
	for (int i = 0; i < t->rank; i++)
		if (add(shape, NULL, num_int(t->dims[i])))
			return -1;
	if (t->data) {
		data = cJSON_CreateArray();
		if (add(o, "data", data) || add(data, NULL, num_int((int64_t)offset)) ||
		    add(data, NULL, num_int((int64_t)t->nbytes)))
			return -1;
	}
	if (t->quant) {
		const qp_quant *q = t->quant;
		cJSON *jq = cJSON_CreateObject(), *sc, *zp;

		if (add(o, "quant", jq) ||
		    add(jq, "scheme", cJSON_CreateString(qp_qscheme_name(q->scheme))) ||
		    add(jq, "bits", num_int(q->bits)) ||
		    add(jq, "signed", cJSON_CreateBool(q->is_signed)) ||
		    add(jq, "axis", num_int(q->axis)))
			return -1;
		sc = cJSON_CreateArray();
		if (add(jq, "scale", sc))
			return -1;
		for (int i = 0; i < q->n; i++)
			if (add(sc, NULL, num_float(q->scale[i])))
				return -1;
		zp = cJSON_CreateArray();
		if (add(jq, "zero_point", zp))
			return -1;
		for (int i = 0; i < q->n; i++)
			if (add(zp, NULL, num_int(q->zero_point[i])))
				return -1;
	}
	if (t->stats) {
		cJSON *js = cJSON_CreateObject();

		if (add(o, "stats", js) || add(js, "min", num_float(t->stats->min)) ||
		    add(js, "max", num_float(t->stats->max)) ||
		    add(js, "count", num_int(t->stats->count)) ||
		    qp_stats_write_json(t->stats, js))
			return -1;
	}
	return 0;
}

/* Builds the header; offsets[i] is where tensor i's data goes in the blob. */
static cJSON *build_header(const qp_graph *g, const uint64_t *offsets, qp_err *err)
{
	cJSON *root = cJSON_CreateObject(), *graph, *nodes, *tensors;

	if (!root || add(root, "format", cJSON_CreateString("qpipe-ir")))
		goto oom;
	if (add(root, "history", g->history ? cJSON_Duplicate(g->history, 1)
					    : cJSON_CreateArray()))
		goto oom;
	graph = cJSON_CreateObject();
	if (add(root, "graph", graph) ||
	    write_io(graph, "inputs", g, g->inputs, g->n_inputs) ||
	    write_io(graph, "outputs", g, g->outputs, g->n_outputs))
		goto oom;
	nodes = cJSON_CreateArray();
	if (add(graph, "nodes", nodes))
		goto oom;
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];
		cJSON *o = cJSON_CreateObject();

		if (add(nodes, NULL, o) || add(o, "name", cJSON_CreateString(n->name)) ||
		    add(o, "op", cJSON_CreateString(n->op)) ||
		    write_names(o, "inputs", g, n->inputs, n->n_inputs) ||
		    write_names(o, "outputs", g, n->outputs, n->n_outputs))
			goto oom;
		if (n->n_attrs) {
			cJSON *attrs = cJSON_CreateObject();

			if (add(o, "attrs", attrs))
				goto oom;
			for (int a = 0; a < n->n_attrs; a++)
				if (write_attr(attrs, n, &n->attrs[a], err))
					goto fail;
		}
	}
	tensors = cJSON_CreateArray();
	if (add(root, "tensors", tensors))
		goto oom;
	for (int i = 0; i < g->n_tensors; i++) {
		const qp_tensor *t = &g->tensors[i];

		if (!int_fits_json((int64_t)(t->nbytes + offsets[i])) ||
		    (t->stats && !int_fits_json(t->stats->count)))
			goto big;
		for (int d = 0; d < t->rank; d++)
			if (!int_fits_json(t->dims[d]))
				goto big;
		if (write_tensor(tensors, t, offsets[i]))
			goto oom;
	}
	if (add(root, "meta", g->meta ? cJSON_Duplicate(g->meta, 1) : cJSON_CreateObject()))
		goto oom;
	return root;
big:
	qp_err_set(err, "a tensor size or count beyond 2^53, which format %d.%d cannot store",
		   QP_IR_VERSION_MAJOR, QP_IR_VERSION_MINOR);
	goto fail;
oom:
	qp_err_set(err, "out of memory");
fail:
	cJSON_Delete(root);
	return NULL;
}

/* The layout of an IR file about to be written: the blob offset of every
 * constant, the header text and the sizes that follow from them. */
typedef struct ir_layout {
	uint64_t *offsets;      /* per tensor, relative to the blob */
	char *text;             /* the JSON header */
	size_t header_len;
	uint64_t blob_start, total;
} ir_layout;

static void layout_free(ir_layout *l)
{
	free(l->offsets);
	free(l->text);
}

static int layout_graph(const qp_graph *g, ir_layout *l, qp_err *err)
{
	uint64_t cursor = 0;
	cJSON *root;

	memset(l, 0, sizeof *l);
	if (qp_graph_verify(g, err))
		return -1;
	l->offsets = calloc((size_t)g->n_tensors + 1, sizeof *l->offsets);
	if (!l->offsets)
		return qp_err_set(err, "out of memory");
	/* Constants go into the blob in tensor order, each 64-aligned. */
	for (int i = 0; i < g->n_tensors; i++) {
		if (!g->tensors[i].data)
			continue;
		cursor = align_up(cursor, QP_IR_ALIGN);
		l->offsets[i] = cursor;
		if (g->tensors[i].nbytes > SIZE_MAX / 2 - cursor)
			return qp_err_set(err, "tensor data too large");
		cursor += g->tensors[i].nbytes;
	}
	root = build_header(g, l->offsets, err);
	if (!root)
		return -1;
	l->text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!l->text)
		return qp_err_set(err, "out of memory");
	l->header_len = strlen(l->text);
	/* The verifier checked every string; this holds even for one it
	 * missed, so no writer can make a header readers refuse. */
	if (!qp_utf8_valid(l->text, l->header_len))
		return qp_err_set(err, "header would not be valid UTF-8 (at byte %zu)",
				  qp_utf8_valid_prefix(l->text, l->header_len));
	if (l->header_len > IR_MAX_HEADER)
		return qp_err_set(err, "header of %zu bytes exceeds the 1 GiB limit", l->header_len);
	l->blob_start = align_up(IR_FRAME_HEAD + l->header_len, QP_IR_ALIGN);
	l->total = align_up(l->blob_start + cursor, 8) + IR_TRAILER;
	if (l->total > SIZE_MAX / 2)
		return qp_err_set(err, "IR file too large");
	return 0;
}

/* Where the bytes go, in order: a caller's buffer or an output file.  The
 * checksum is computed on the way, so a file is written straight from the
 * tensor buffers and never assembled in memory (docs/performance.md). */
typedef struct ir_sink {
	unsigned char *buf;     /* memory: the whole file */
	qp_out *out;            /* file */
	uint64_t pos;
	uint32_t crc;
} ir_sink;

static int sink_put(ir_sink *s, const void *p, size_t n, qp_err *err)
{
	if (n == 0)
		return 0;
	s->crc = qp_crc32c(s->crc, p, n);
	if (s->buf)
		memcpy(s->buf + s->pos, p, n);
	else if (qp_out_write(s->out, p, n, err))
		return -1;
	s->pos += n;
	return 0;
}

/* Zero bytes up to offset to (every gap is shorter than QP_IR_ALIGN). */
static int sink_pad(ir_sink *s, uint64_t to, qp_err *err)
{
	static const unsigned char zeros[QP_IR_ALIGN];

	while (s->pos < to)
		if (sink_put(s, zeros, to - s->pos < sizeof zeros ? (size_t)(to - s->pos)
			     : sizeof zeros, err))
			return -1;
	return 0;
}

static int emit_file(const qp_graph *g, const ir_layout *l, ir_sink *s, qp_err *err)
{
	unsigned char head[IR_FRAME_HEAD], tail[IR_TRAILER];

	memcpy(head, IR_MAGIC, 8);
	put_le(head + 8, QP_IR_VERSION_MAJOR, 2);
	put_le(head + 10, QP_IR_VERSION_MINOR, 2);
	put_le(head + 12, 0, 4);
	put_le(head + 16, l->header_len, 8);
	if (sink_put(s, head, sizeof head, err) ||
	    sink_put(s, l->text, l->header_len, err))
		return -1;
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i].data && g->tensors[i].nbytes &&
		    (sink_pad(s, l->blob_start + l->offsets[i], err) ||
		     sink_put(s, g->tensors[i].data, g->tensors[i].nbytes, err)))
			return -1;
	if (sink_pad(s, l->total - IR_TRAILER, err))
		return -1;
	put_le(tail, l->total, 8);
	s->crc = qp_crc32c(s->crc, tail, 8);
	put_le(tail + 8, s->crc, 4);
	memcpy(tail + 12, IR_END_MAGIC, 4);
	if (s->buf)
		memcpy(s->buf + s->pos, tail, sizeof tail);
	else if (qp_out_write(s->out, tail, sizeof tail, err))
		return -1;
	return 0;
}

int qp_ir_write_mem(const qp_graph *g, void **buf, size_t *len, qp_err *err)
{
	ir_sink s = {0};
	ir_layout l;
	int rc = -1;

	*buf = NULL;
	*len = 0;
	if (layout_graph(g, &l, err))
		goto out;
	s.buf = malloc((size_t)l.total);
	if (!s.buf) {
		qp_err_set(err, "out of memory for a %" PRIu64 "-byte file", l.total);
		goto out;
	}
	if (emit_file(g, &l, &s, err))
		goto out;
	*buf = s.buf;
	*len = (size_t)l.total;
	s.buf = NULL;
	rc = 0;
out:
	free(s.buf);
	layout_free(&l);
	return rc;
}

int qp_ir_write(const qp_graph *g, const char *path, qp_err *err)
{
	ir_sink s = {0};
	ir_layout l;
	qp_out o;

	if (layout_graph(g, &l, err)) {
		layout_free(&l);
		return -1;
	}
	if (qp_out_open(&o, path, 1, 0, err)) {
		layout_free(&l);
		return -1;
	}
	s.out = &o;
	if (emit_file(g, &l, &s, err)) {
		layout_free(&l);
		qp_out_abort(&o);
		return -1;
	}
	layout_free(&l);
	return qp_out_commit(&o, err);
}
