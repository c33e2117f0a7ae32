/* Unit tests for lib/ir/{graph,attr,verify,read,write}.c: graph building, attributes, the verifier, the
 * topological sort, and the .ir reader/writer, including every damaged
 * form of a small file we can think of (each must fail with a message and
 * never crash; run under `make asan` too).
 *
 * Files with deliberately bad headers are framed by build_frame() below, an
 * implementation of docs/ir.md section 1 written separately from the
 * library's writer, so they carry a valid checksum and reach the JSON
 * checks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "crc32c.h"
#include "ir.h"
#include "quant.h"
#include "stats.h"

/* ---- helpers ---------------------------------------------------------------- */

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Frames header + blob per docs/ir.md with a correct trailer. */
static unsigned char *build_frame(const char *header, const void *blob, size_t blob_len,
				  size_t *len)
{
	size_t h = strlen(header);
	size_t b = (24 + h + 63) / 64 * 64;
	size_t total = (b + blob_len + 7) / 8 * 8 + 16;
	unsigned char *p = calloc(1, total);

	memcpy(p, "\x89QPIR\r\n\x1a", 8);
	put_le(p + 8, 0, 2);
	put_le(p + 10, 1, 2);
	put_le(p + 16, h, 8);
	memcpy(p + 24, header, h);
	if (blob_len)
		memcpy(p + b, blob, blob_len);
	put_le(p + total - 16, total, 8);
	put_le(p + total - 8, qp_crc32c(0, p, total - 8), 4);
	memcpy(p + total - 4, "QPEN", 4);
	*len = total;
	return p;
}

/* Recomputes the trailer after a test edits bytes on purpose. */
static void refresh_crc(unsigned char *p, size_t len)
{
	put_le(p + len - 8, qp_crc32c(0, p, len - 8), 4);
}

/* Reads a framed header and returns the error (empty on success). */
static const char *read_header_err(const char *header, const void *blob, size_t blob_len)
{
	static qp_err err;
	qp_graph *g = NULL;
	size_t len;
	unsigned char *p = build_frame(header, blob, blob_len, &len);

	memset(&err, 0, sizeof err);
	if (qp_ir_read_mem(p, len, &g, &err) == 0) {
		CHECK(g != NULL);
		qp_graph_free(g);
		err.msg[0] = 0;
	} else {
		CHECK(g == NULL);
		CHECK(err.msg[0] != 0);
	}
	free(p);
	return err.msg;
}

#define CHECK_HAS(msg, needle)                                                    \
	do {                                                                      \
		const char *m_ = (msg);                                           \
		if (!strstr(m_, needle)) {                                        \
			printf("# %s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, \
			       m_, needle);                                        \
			check_failures++;                                         \
		}                                                                 \
	} while (0)

static const float w_vals[8] = { 0.5f, -1.25f, 3.0f, 0.1f, -0.2f, 1e-7f, 65504.0f, -0.0f };

/* x[1,2,2,2] --Resize(w, third input omitted)--> c1 --Relu--> y; q: a
 * quantized constant; bias: int32 with a 32-bit quant.  conv1 carries one
 * attribute of every type (and an empty list); it is a Resize because that
 * row defines attributes of every type, and the verifier refuses any
 * attribute an op's row (float, tensor or lowered) does not define. */
static qp_graph *sample_graph(void)
{
	qp_err err = { { 0 } };
	qp_graph *g = qp_graph_new();
	int64_t dx[4] = { 1, 2, 2, 2 }, dw[4] = { 4, 2, 1, 1 }, dq[2] = { 2, 3 }, db[1] = { 2 };
	int x, w, q, b, c1, y, n, in[3], out[1];
	char *argv[] = { "onnx2ir", "model.onnx", "-o", "m.ir" };
	int64_t ints[3] = { 1, -2, 9007199254740992LL };
	float floats[2] = { 0.25f, -1e-5f };

	x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 4, dx, &err);
	w = qp_graph_add_tensor(g, "w", QP_DT_FLOAT32, 4, dw, &err);
	q = qp_graph_add_tensor(g, "q", QP_DT_INT8, 2, dq, &err);
	b = qp_graph_add_tensor(g, "bias", QP_DT_INT32, 1, db, &err);
	c1 = qp_graph_add_tensor(g, "c1", QP_DT_FLOAT32, 4, dx, &err);
	y = qp_graph_add_tensor(g, "y", QP_DT_FLOAT32, 4, dx, &err);
	CHECK(x == 0 && w == 1 && q == 2 && b == 3 && c1 == 4 && y == 5);
	CHECK(qp_tensor_alloc_data(&g->tensors[w], &err) == 0);
	memcpy(g->tensors[w].data, w_vals, sizeof w_vals);
	CHECK(qp_tensor_alloc_data(&g->tensors[q], &err) == 0);
	for (int i = 0; i < 6; i++)
		((int8_t *)g->tensors[q].data)[i] = (int8_t)(i * 40 - 128);
	g->tensors[q].quant = qp_quant_new(2);
	g->tensors[q].quant->scheme = QP_Q_ASYMMETRIC;
	g->tensors[q].quant->axis = 0;
	g->tensors[q].quant->scale[0] = 0.0123f;
	g->tensors[q].quant->scale[1] = 3.5f;
	g->tensors[q].quant->zero_point[0] = -128;
	g->tensors[q].quant->zero_point[1] = 127;
	CHECK(qp_tensor_alloc_data(&g->tensors[b], &err) == 0);
	((int32_t *)g->tensors[b].data)[0] = INT32_MIN;
	((int32_t *)g->tensors[b].data)[1] = INT32_MAX;
	g->tensors[b].quant = qp_quant_new(1);
	g->tensors[b].quant->bits = 32;
	g->tensors[b].quant->scale[0] = 0.000244140625f;
	g->tensors[b].quant->scheme = QP_Q_POWER_OF_TWO;
	g->tensors[c1].stats = calloc(1, sizeof(qp_stats));
	g->tensors[c1].stats->min = -1.5f;
	g->tensors[c1].stats->max = 3.25f;
	g->tensors[c1].stats->count = 6272;
	g->tensors[y].stats = calloc(1, sizeof(qp_stats));
	g->tensors[y].stats->min = 0.0f;
	g->tensors[y].stats->max = 0.1f;
	g->tensors[y].stats->count = 1;

	in[0] = x;
	in[1] = w;
	in[2] = -1;
	out[0] = c1;
	n = qp_graph_add_node(g, "conv1", "Resize", 3, in, 1, out, &err);
	CHECK(n == 0);
	CHECK(qp_node_set_int(&g->nodes[n], "exclude_outside", 1) == 0);
	CHECK(qp_node_set_float(&g->nodes[n], "cubic_coeff_a", 0.1f) == 0);
	CHECK(qp_node_set_ints(&g->nodes[n], "sizes", 3, ints) == 0);
	CHECK(qp_node_set_floats(&g->nodes[n], "scales", 2, floats) == 0);
	CHECK(qp_node_set_string(&g->nodes[n], "mode", "caf\xc3\xa9 \"q\"\n") == 0);
	CHECK(qp_node_set_floats(&g->nodes[n], "roi", 0, NULL) == 0);
	in[0] = c1;
	out[0] = y;
	CHECK(qp_graph_add_node(g, "relu1", "Relu", 1, in, 1, out, &err) == 1);
	/* q and bias feed a node so the graph mentions them. */
	{
		int t = qp_graph_add_tensor(g, "qb", QP_DT_INT32, 1, db, &err);
		int in2[2] = { q, b }, out2[1] = { t };

		CHECK(qp_graph_add_node(g, "use_q", "Add", 2, in2, 1, out2, &err) == 2);
	}
	g->n_inputs = 1;
	g->inputs = calloc(1, sizeof *g->inputs);
	g->inputs[0].tensor = x;
	g->inputs[0].layout = strdup("NCHW");
	g->n_outputs = 1;
	g->outputs = calloc(1, sizeof *g->outputs);
	g->outputs[0].tensor = y;
	g->outputs[0].layout = strdup("NHWC");
	CHECK(qp_graph_add_history(g, "onnx2ir", 4, argv) == 0);
	g->meta = cJSON_Parse("{\"target\":{\"name\":\"imx500\",\"bits\":[8,16]},\"x.note\":\"hi\"}");
	CHECK(qp_graph_verify(g, &err) == 0);
	if (err.msg[0])
		printf("# %s\n", err.msg);
	return g;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_crc32c(void)
{
	CHECK(qp_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(qp_crc32c(qp_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
	CHECK(qp_crc32c(0, "", 0) == 0);
}

static void test_dtypes(void)
{
	qp_dtype dt;
	qp_qscheme s;

	for (int i = 0; i < QP_DT_COUNT; i++) {
		CHECK(qp_dtype_parse(qp_dtype_name((qp_dtype)i), &dt) == 0);
		CHECK((int)dt == i);
	}
	CHECK(qp_dtype_parse("float64", &dt) == -1);
	CHECK(qp_dtype_size(QP_DT_INT64) == 8 && qp_dtype_size(QP_DT_FLOAT32) == 4);
	CHECK(qp_qscheme_parse("power_of_two", &s) == 0 && s == QP_Q_POWER_OF_TWO);
	CHECK(qp_qscheme_parse("pot", &s) == -1);
}

static void test_build_and_attrs(void)
{
	qp_graph *g = sample_graph();
	const qp_node *n = &g->nodes[0];
	int cnt;
	char *name;
	qp_err err;
	int64_t d1[1] = { 1 };

	CHECK(qp_node_attr_int(n, "exclude_outside", 7) == 1);
	CHECK(qp_node_attr_int(n, "nope", 7) == 7);
	CHECK(qp_node_attr_float(n, "cubic_coeff_a", 0) == 0.1f);
	CHECK(qp_node_attr_ints(n, "sizes", &cnt)[2] == 9007199254740992LL && cnt == 3);
	CHECK(qp_node_attr_ints(n, "cubic_coeff_a", &cnt) == NULL && cnt == 0);
	CHECK(qp_node_attr_floats(n, "scales", &cnt)[1] == -1e-5f && cnt == 2);
	CHECK_STR(qp_node_attr_string(n, "mode", ""), "caf\xc3\xa9 \"q\"\n");
	CHECK_STR(qp_node_attr_string(n, "nope", "d"), "d");
	/* A setter replaces in place, keeping the order. */
	CHECK(qp_node_set_string(&g->nodes[0], "exclude_outside", "g") == 0);
	CHECK(g->nodes[0].n_attrs == 6);
	CHECK_STR(g->nodes[0].attrs[0].name, "exclude_outside");
	CHECK(qp_node_attr_int(n, "exclude_outside", 7) == 7);
	CHECK(qp_graph_find_tensor(g, "c1") == 4 && qp_graph_find_tensor(g, "zz") == -1);
	CHECK(qp_graph_producer(g, 4) == 0 && qp_graph_producer(g, 0) == -1);
	CHECK(qp_graph_consumers(g, 4) == 1 && qp_graph_consumers(g, 5) == 1);
	name = qp_graph_unique_tensor_name(g, "c1");
	CHECK_STR(name, "c1_1");
	free(name);
	name = qp_graph_unique_tensor_name(g, "fresh");
	CHECK_STR(name, "fresh");
	free(name);
	CHECK(qp_graph_add_tensor(g, "c1", QP_DT_FLOAT32, 1, d1, &err) == -1);
	CHECK_HAS(err.msg, "duplicate tensor name 'c1'");
	CHECK(qp_graph_add_tensor(g, "", QP_DT_FLOAT32, 1, d1, &err) == -1);
	CHECK(qp_graph_add_tensor(g, "r9", QP_DT_FLOAT32, 9, d1, &err) == -1);
	CHECK(((uintptr_t)g->tensors[1].data & 63) == 0);
	{
		int64_t big[3] = { INT64_MAX / 2, 3, 1 };
		int t = qp_graph_add_tensor(g, "huge", QP_DT_FLOAT32, 3, big, &err);

		CHECK(t >= 0 && qp_tensor_numel(&g->tensors[t]) == -1);
		CHECK(qp_tensor_alloc_data(&g->tensors[t], &err) == -1);
	}
	qp_graph_free(g);
	qp_graph_free(NULL);
}

static void test_remove_and_drop(void)
{
	qp_graph *g = sample_graph();
	unsigned char keep[3] = { 1, 1, 0 };
	qp_err err;

	qp_graph_remove_nodes(g, keep);
	CHECK(g->n_nodes == 2);
	qp_graph_drop_unused_tensors(g);
	CHECK(g->n_tensors == 4);   /* x, w, c1, y */
	CHECK(qp_graph_find_tensor(g, "q") == -1 && qp_graph_find_tensor(g, "qb") == -1);
	CHECK(g->nodes[1].inputs[0] == qp_graph_find_tensor(g, "c1"));
	CHECK(g->outputs[0].tensor == qp_graph_find_tensor(g, "y"));
	CHECK(qp_graph_verify(g, &err) == 0);
	qp_graph_free(g);
}

static void test_toposort(void)
{
	qp_graph *g = sample_graph();
	qp_node tmp;
	qp_err err;

	/* Reversed order: relu before conv. */
	tmp = g->nodes[0];
	g->nodes[0] = g->nodes[1];
	g->nodes[1] = tmp;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "input 'c1' is not produced before it is used (node 'relu1', op 'Relu')");
	CHECK(qp_graph_toposort(g, &err) == 0);
	CHECK_STR(g->nodes[0].name, "conv1");
	CHECK_STR(g->nodes[1].name, "relu1");
	CHECK_STR(g->nodes[2].name, "use_q");   /* stable: stays last */
	CHECK(qp_graph_verify(g, &err) == 0);
	/* A cycle: conv1 reads y, which relu1 makes from c1. */
	g->nodes[0].inputs[0] = qp_graph_find_tensor(g, "y");
	CHECK(qp_graph_toposort(g, &err) == -1);
	CHECK_HAS(err.msg, "cycle");
	CHECK(qp_graph_verify(g, &err) == -1);
	qp_graph_free(g);
}

static void test_verify_rejects(void)
{
	qp_graph *g;
	qp_err err;
	char *old;

	g = sample_graph();
	old = g->tensors[5].name;
	g->tensors[5].name = strdup("c1");
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "duplicate tensor name 'c1'");
	free(g->tensors[5].name);
	g->tensors[5].name = old;
	old = g->nodes[1].name;
	g->nodes[1].name = strdup("conv1");
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "duplicate node name 'conv1'");
	free(g->nodes[1].name);
	g->nodes[1].name = old;
	CHECK(qp_graph_verify(g, &err) == 0);

	/* Quant parameters. */
	g->tensors[2].quant->scale[1] = 0.0f;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "tensor 'q': quant scale[1]");
	g->tensors[2].quant->scale[1] = NAN;
	CHECK(qp_graph_verify(g, &err) == -1);
	g->tensors[2].quant->scale[1] = 3.5f;
	g->tensors[2].quant->zero_point[1] = 128;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "zero_point[1] = 128 outside [-128, 127]");
	g->tensors[2].quant->zero_point[1] = 127;
	g->tensors[2].quant->scheme = QP_Q_SYMMETRIC;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "scheme 'symmetric' wants 0");
	g->tensors[2].quant->scheme = QP_Q_ASYMMETRIC;
	g->tensors[2].quant->axis = 1;    /* dims[1] == 3, but 2 scales */
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "quant has 2 scales");
	g->tensors[2].quant->axis = 2;
	CHECK(qp_graph_verify(g, &err) == -1);
	g->tensors[2].quant->axis = 0;
	g->tensors[2].quant->bits = 17;
	CHECK(qp_graph_verify(g, &err) == -1);
	g->tensors[2].quant->bits = 8;
	g->tensors[3].quant->scale[0] = 0.3f;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "not a power of two");
	g->tensors[3].quant->scale[0] = 0.25f;
	CHECK(qp_graph_verify(g, &err) == 0);

	/* Stats. */
	g->tensors[4].stats->min = 5.0f;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "tensor 'c1': stats min 5");
	g->tensors[4].stats->min = -1.5f;
	g->tensors[4].stats->count = 0;
	CHECK(qp_graph_verify(g, &err) == -1);
	g->tensors[4].stats->count = 10;

	/* Data size, graph I/O, producers. */
	g->tensors[1].nbytes = 4;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "tensor 'w': holds 4 bytes, shape and dtype want 32");
	g->tensors[1].nbytes = 32;
	g->nodes[2].outputs[0] = 5;   /* use_q also produces y */
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "tensor 'y' is produced twice (node 'use_q', op 'Add')");
	g->nodes[2].outputs[0] = 1;   /* ... or overwrites the constant w */
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "is a constant or graph input");
	g->nodes[2].outputs[0] = 6;
	g->outputs[0].tensor = 0;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "graph output 'x' is not produced by any node");
	g->outputs[0].tensor = 5;
	free(g->inputs[0].layout);
	g->inputs[0].layout = strdup("NWHC");
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "unknown layout 'NWHC'");
	free(g->inputs[0].layout);
	g->inputs[0].layout = NULL;
	g->nodes[0].inputs[0] = 6;    /* conv1 reads qb, made later by use_q */
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "input 'qb' is not produced before it is used (node 'conv1', op 'Resize')");
	g->nodes[0].inputs[0] = 77;
	CHECK(qp_graph_verify(g, &err) == -1);
	g->nodes[0].inputs[0] = 0;
	g->nodes[0].attrs[1].f = INFINITY;
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "attribute 'cubic_coeff_a' is not finite (node 'conv1', op 'Resize')");
	g->nodes[0].attrs[1].f = 0.1f;
	/* History is checked as the reader checks it. */
	cJSON_AddItemToArray(g->history, cJSON_CreateNumber(3));
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_HAS(err.msg, "history[1] must be");
	cJSON_DeleteItemFromArray(g->history, 1);
	CHECK(qp_graph_verify(g, &err) == 0);
	qp_graph_free(g);
}

static void check_same_graph(const qp_graph *a, const qp_graph *b)
{
	CHECK(a->n_tensors == b->n_tensors && a->n_nodes == b->n_nodes);
	CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs);
	if (a->n_tensors != b->n_tensors || a->n_nodes != b->n_nodes)
		return;
	for (int i = 0; i < a->n_tensors; i++) {
		const qp_tensor *s = &a->tensors[i], *t = &b->tensors[i];

		CHECK_STR(s->name, t->name);
		CHECK(s->dtype == t->dtype && s->rank == t->rank);
		CHECK(memcmp(s->dims, t->dims, sizeof s->dims[0] * (size_t)s->rank) == 0);
		CHECK(!s->data == !t->data);
		if (s->data && t->data) {
			CHECK(s->nbytes == t->nbytes);
			CHECK(memcmp(s->data, t->data, s->nbytes) == 0);
			CHECK(((uintptr_t)t->data & 63) == 0);
		}
		CHECK(!s->quant == !t->quant);
		if (s->quant && t->quant) {
			CHECK(s->quant->scheme == t->quant->scheme);
			CHECK(s->quant->bits == t->quant->bits);
			CHECK(s->quant->is_signed == t->quant->is_signed);
			CHECK(s->quant->axis == t->quant->axis && s->quant->n == t->quant->n);
			for (int k = 0; k < s->quant->n && s->quant->n == t->quant->n; k++) {
				CHECK(s->quant->scale[k] == t->quant->scale[k]);
				CHECK(s->quant->zero_point[k] == t->quant->zero_point[k]);
			}
		}
		CHECK(!s->stats == !t->stats);
		if (s->stats && t->stats) {
			CHECK(s->stats->min == t->stats->min && s->stats->max == t->stats->max);
			CHECK(s->stats->count == t->stats->count);
		}
	}
	for (int i = 0; i < a->n_nodes; i++) {
		const qp_node *m = &a->nodes[i], *n = &b->nodes[i];

		CHECK_STR(m->name, n->name);
		CHECK_STR(m->op, n->op);
		CHECK(m->n_inputs == n->n_inputs && m->n_outputs == n->n_outputs);
		CHECK(memcmp(m->inputs, n->inputs, sizeof(int) * (size_t)m->n_inputs) == 0);
		CHECK(memcmp(m->outputs, n->outputs, sizeof(int) * (size_t)m->n_outputs) == 0);
		CHECK(m->n_attrs == n->n_attrs);
		for (int k = 0; k < m->n_attrs && m->n_attrs == n->n_attrs; k++) {
			const qp_attr *x = &m->attrs[k], *y = &n->attrs[k];

			CHECK_STR(x->name, y->name);
			CHECK(x->type == y->type);
			if (x->type != y->type)
				continue;
			switch (x->type) {
			case QP_ATTR_INT: CHECK(x->i == y->i); break;
			case QP_ATTR_FLOAT: CHECK(x->f == y->f); break;
			case QP_ATTR_STRING: CHECK_STR(x->s, y->s); break;
			case QP_ATTR_INTS:
				CHECK(x->n == y->n);
				for (int j = 0; j < x->n && x->n == y->n; j++)
					CHECK(x->ints[j] == y->ints[j]);
				break;
			case QP_ATTR_FLOATS:
				CHECK(x->n == y->n);
				for (int j = 0; j < x->n && x->n == y->n; j++)
					CHECK(x->floats[j] == y->floats[j]);
				break;
			}
		}
	}
	for (int i = 0; i < a->n_inputs && a->n_inputs == b->n_inputs; i++) {
		CHECK(a->inputs[i].tensor == b->inputs[i].tensor);
		CHECK(!a->inputs[i].layout == !b->inputs[i].layout);
		if (a->inputs[i].layout && b->inputs[i].layout)
			CHECK_STR(a->inputs[i].layout, b->inputs[i].layout);
	}
	for (int i = 0; i < a->n_outputs && a->n_outputs == b->n_outputs; i++) {
		CHECK(a->outputs[i].tensor == b->outputs[i].tensor);
		if (a->outputs[i].layout && b->outputs[i].layout)
			CHECK_STR(a->outputs[i].layout, b->outputs[i].layout);
	}
	CHECK(cJSON_Compare(a->history, b->history, 1));
	CHECK(cJSON_Compare(a->meta, b->meta, 1));
}

static void test_roundtrip(void)
{
	qp_graph *g = sample_graph(), *h = NULL;
	void *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0, hl;
	qp_err err = { { 0 } };
	const unsigned char *p;

	CHECK(qp_ir_write_mem(g, &buf, &len, &err) == 0);
	if (err.msg[0])
		printf("# %s\n", err.msg);
	p = buf;
	/* The frame, byte by byte (docs/ir.md section 1). */
	CHECK(len >= 40 && len % 8 == 0);
	CHECK(memcmp(p, "\x89QPIR\r\n\x1a", 8) == 0);
	CHECK(get_le(p + 8, 2) == 0 && get_le(p + 10, 2) == 1 && get_le(p + 12, 4) == 0);
	hl = (size_t)get_le(p + 16, 8);
	CHECK(p[24] == '{' && p[24 + hl - 1] == '}');
	for (size_t i = 24 + hl; i < (24 + hl + 63) / 64 * 64; i++)
		CHECK(p[i] == 0);
	CHECK(get_le(p + len - 16, 8) == len);
	CHECK(get_le(p + len - 8, 4) == qp_crc32c(0, p, len - 8));
	CHECK(memcmp(p + len - 4, "QPEN", 4) == 0);
	/* The blob: w at offset 0, q at 64, bias at 128. */
	{
		size_t b = (24 + hl + 63) / 64 * 64;

		CHECK(memcmp(p + b, w_vals, sizeof w_vals) == 0);
		CHECK((int8_t)p[b + 64] == -128 && (int8_t)p[b + 64 + 5] == 72);
		CHECK(get_le(p + b + 128, 4) == 0x80000000u);
		CHECK(len == (b + 128 + 8 + 7) / 8 * 8 + 16);
	}
	/* Float text that reads back exactly. */
	CHECK(memmem(p + 24, hl, "\"scale\":[0.0122999996,3.5]", 26) != NULL);
	CHECK(memmem(p + 24, hl, "{\"ints\":[1,-2,9007199254740992]}", 32) != NULL);

	CHECK(qp_ir_read_mem(buf, len, &h, &err) == 0);
	if (!h) {
		printf("# %s\n", err.msg);
		goto out;
	}
	check_same_graph(g, h);
	CHECK(qp_ir_write_mem(h, &buf2, &len2, &err) == 0);
	CHECK(len == len2 && memcmp(buf, buf2, len) == 0);
	free(buf2);
	buf2 = NULL;
	/* Writing the same graph twice gives the same bytes. */
	CHECK(qp_ir_write_mem(g, &buf2, &len2, &err) == 0);
	CHECK(len == len2 && memcmp(buf, buf2, len) == 0);
out:
	free(buf);
	free(buf2);
	qp_graph_free(g);
	qp_graph_free(h);
}

static void test_file_io(void)
{
	char dir[] = "/tmp/test_ir.XXXXXX", path[256];
	qp_graph *g = sample_graph(), *h = NULL;
	qp_err err;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/m.ir", dir);
	CHECK(qp_ir_write(g, path, &err) == 0);
	CHECK(qp_ir_read(path, &h, &err) == 0);
	if (h)
		check_same_graph(g, h);
	qp_graph_free(h);
	h = NULL;
	/* A graph the verifier rejects is not written, and no file appears. */
	snprintf(path, sizeof path, "%s/bad.ir", dir);
	g->outputs[0].tensor = 0;
	CHECK(qp_ir_write(g, path, &err) == -1);
	CHECK(access(path, F_OK) == -1);
	g->outputs[0].tensor = 5;
	/* Integers JSON cannot carry exactly are refused, not rounded. */
	CHECK(qp_node_set_int(&g->nodes[0], "exclude_outside", INT64_MAX) == 0);
	CHECK(qp_ir_write(g, path, &err) == -1);
	CHECK_HAS(err.msg, "attribute 'exclude_outside' holds an integer beyond +-2^53");
	CHECK(access(path, F_OK) == -1);
	snprintf(path, sizeof path, "%s/nope.ir", dir);
	CHECK(qp_ir_read(path, &h, &err) == -1 && h == NULL);
	CHECK_HAS(err.msg, "No such file or directory");
	snprintf(path, sizeof path, "rm -rf %s", dir);
	CHECK(system(path) == 0);
	qp_graph_free(g);
}

/* Every prefix, every flipped byte: a clean error each time. */
static void test_damage(void)
{
	qp_graph *g = sample_graph(), *h = NULL;
	unsigned char *buf = NULL, *copy;
	size_t len = 0;
	qp_err err;
	int bad_prefix = 0, bad_flip = 0;

	CHECK(qp_ir_write_mem(g, (void **)&buf, &len, &err) == 0);
	copy = malloc(len);
	for (size_t n = 0; n < len; n++) {
		memcpy(copy, buf, n);   /* exact-size buffer: ASan sees overreads */
		err.msg[0] = 0;
		if (qp_ir_read_mem(copy, n, &h, &err) != -1 || h || !err.msg[0])
			bad_prefix++;
		qp_graph_free(h);
		h = NULL;
	}
	CHECK(bad_prefix == 0);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(copy, buf, len);
			copy[i] ^= (unsigned char)(1u << bit);
			err.msg[0] = 0;
			if (qp_ir_read_mem(copy, len, &h, &err) != -1 || h || !err.msg[0])
				bad_flip++;
			qp_graph_free(h);
			h = NULL;
		}
	}
	CHECK(bad_flip == 0);

	/* The specific messages. */
	CHECK(qp_ir_read_mem(buf, 812 > len ? len - 8 : 812, &h, &err) == -1);
	memcpy(copy, buf, len);
	copy[1] = 'X';
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == -1);
	CHECK_STR(err.msg, "not a qpipe IR file (bad magic)");
	CHECK(qp_ir_read_mem("{\"format\":1}", 12, &h, &err) == -1);
	CHECK_STR(err.msg, "not a qpipe IR file (bad magic)");
	CHECK(qp_ir_read_mem(buf, 0, &h, &err) == -1);
	CHECK(qp_ir_read_mem(buf, 30, &h, &err) == -1);
	CHECK_STR(err.msg, "truncated file: 30 bytes, an IR file has at least 40");
	CHECK(qp_ir_read_mem(buf, len - 1, &h, &err) == -1);
	CHECK_HAS(err.msg, "no end marker");
	memcpy(copy, buf, len);
	put_le(copy + 8, 3, 2);
	put_le(copy + 10, 0, 2);
	refresh_crc(copy, len);
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == -1);
	CHECK_STR(err.msg, "unsupported IR format version 3.0 (this qpipe reads 0.x)");
	memcpy(copy, buf, len);
	put_le(copy + 10, 7, 2);   /* a newer minor is read */
	refresh_crc(copy, len);
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == 0);
	qp_graph_free(h);
	h = NULL;
	memcpy(copy, buf, len);
	put_le(copy + 12, 1, 4);
	refresh_crc(copy, len);
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == -1);
	CHECK_STR(err.msg, "unsupported IR flags 0x00000001 (this qpipe reads 0)");
	memcpy(copy, buf, len);
	copy[len / 2] ^= 0x10;
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == -1);
	CHECK_STR(err.msg, "checksum mismatch (file damaged)");
	memcpy(copy, buf, len);
	put_le(copy + len - 16, len + 100, 8);
	refresh_crc(copy, len);
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == -1);
	CHECK(strstr(err.msg, "truncated file: ") == err.msg);
	memcpy(copy, buf, len);
	put_le(copy + 16, 1u << 31, 8);
	refresh_crc(copy, len);
	CHECK(qp_ir_read_mem(copy, len, &h, &err) == -1);
	CHECK_HAS(err.msg, "bad header length 2147483648");
	/* Two files glued together. */
	{
		unsigned char *two = malloc(2 * len);

		memcpy(two, buf, len);
		memcpy(two + len, buf, len);
		CHECK(qp_ir_read_mem(two, 2 * len, &h, &err) == -1);
		CHECK_HAS(err.msg, "damaged file");
		free(two);
	}
	free(copy);
	free(buf);
	qp_graph_free(g);
}

#define T_X "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[1,4]}"
#define T_Y "{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":[1,4]}"
#define G_XY "\"graph\":{\"inputs\":[{\"name\":\"x\"}],\"outputs\":[{\"name\":\"y\"}]," \
	"\"nodes\":[{\"name\":\"r\",\"op\":\"Relu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}]}"
#define HDR(tensors_extra) \
	"{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":[" T_X "," T_Y tensors_extra "]}"

static void test_bad_headers(void)
{
	static unsigned char blob[256];

	CHECK_STR(read_header_err(HDR(""), NULL, 0), "");
	CHECK_STR(read_header_err(HDR(",{\"name\":\"c\",\"dtype\":\"int8\",\"shape\":[4],\"data\":[64,4]}"),
				  blob, 128), "");
	/* Spans. */
	CHECK_STR(read_header_err(HDR(",{\"name\":\"w1\",\"dtype\":\"float32\",\"shape\":[992],\"data\":[128,3968]}"),
				  blob, 256),
		  "tensor 'w1': data span [128, 4096) outside the blob");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[100],\"data\":[0,100]}"
				      ",{\"name\":\"b\",\"dtype\":\"int8\",\"shape\":[10],\"data\":[64,10]}"),
				  blob, 256),
		  "tensors 'a' and 'b': data spans [0, 100) and [64, 74) overlap");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[4],\"data\":[8,4]}"),
				  blob, 256),
		  "tensor 'a': data offset 8 is not a multiple of 64");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int16\",\"shape\":[4],\"data\":[0,4]}"),
				  blob, 256),
		  "tensor 'a': data holds 4 bytes, shape and dtype want 8");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[4],\"data\":[0]}"),
				  blob, 256), "data must be [offset, nbytes]");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[4],\"data\":[-64,4]}"),
				  blob, 256), "data must be [offset, nbytes]");
	/* Sizes: element count and byte size overflow; huge integers. */
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[4294967296,4294967296,4294967296]}"),
				  NULL, 0), "overflows");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int64\",\"shape\":[4294967296,4294967296]}"),
				  NULL, 0), "overflows");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[1e300]}"),
				  NULL, 0), "shape must hold non-negative integers");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[1.5]}"),
				  NULL, 0), "shape must hold non-negative integers");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[-1]}"),
				  NULL, 0), "shape must hold non-negative integers");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[1,1,1,1,1,1,1,1,1]}"),
				  NULL, 0), "shape must be an array of 0 to 8 integers");
	/* Types and keys. */
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"float64\",\"shape\":[]}"),
				  NULL, 0), "tensor 'a': unknown dtype 'float64'");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":8,\"shape\":[]}"),
				  NULL, 0), "tensor 'a': unknown dtype");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":\"4\"}"),
				  NULL, 0), "tensor 'a': shape must be an array");
	CHECK_HAS(read_header_err(HDR(",{\"name\":7,\"dtype\":\"int8\",\"shape\":[]}"),
				  NULL, 0), "tensors[2]: name must be a string");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"\",\"dtype\":\"int8\",\"shape\":[]}"),
				  NULL, 0), "tensors[2]: name must be a string");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"x\",\"dtype\":\"int8\",\"shape\":[]}"),
				  NULL, 0), "duplicate tensor name 'x'");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[],\"colour\":1}"),
				  NULL, 0), "tensor 'a': tensor: unknown key 'colour'");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[],\"shape\":[2]}"),
				  NULL, 0), "key 'shape' appears twice");
	CHECK_HAS(read_header_err(HDR(",7"), NULL, 0), "tensors[2] must be an object");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":[" T_X "," T_Y "],\"extra\":1}",
				  NULL, 0), "header: unknown key 'extra'");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":{}}", NULL, 0),
		  "tensors must be an array");
	CHECK_HAS(read_header_err("{\"format\":\"onnx\"," G_XY ",\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "format must be \"qpipe-ir\"");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"tensors\":[]}", NULL, 0),
		  "graph must be an object");
	CHECK_HAS(read_header_err("[1,2]", NULL, 0), "header is not a JSON object");
	CHECK_HAS(read_header_err("{\"format\":", NULL, 0), "header is not valid JSON");
	CHECK_STR(read_header_err(HDR("") " ", NULL, 0), "");
	CHECK_HAS(read_header_err(HDR("") "x", NULL, 0), "header is not valid JSON");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":[" T_X "," T_Y "],\"history\":{}}",
				  NULL, 0), "history must be an array");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":[" T_X "," T_Y "],\"history\":[{\"tool\":1}]}",
				  NULL, 0), "history[0] must be");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":[" T_X "," T_Y "],\"meta\":[]}",
				  NULL, 0), "meta must be an object");
	/* Graph references. */
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\"}],"
				  "\"outputs\":[{\"name\":\"y\"}],\"nodes\":[{\"name\":\"r\",\"op\":\"Relu\","
				  "\"inputs\":[\"z\"],\"outputs\":[\"y\"]}]},\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "unknown tensor 'z' (node 'r', op 'Relu')");
	CHECK_STR(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\"}],"
				  "\"outputs\":[{\"name\":\"y\"}],\"nodes\":[{\"name\":\"r\",\"op\":\"Relu\","
				  "\"inputs\":[\"\"],\"outputs\":[\"y\"]}]},\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\"}],"
				  "\"outputs\":[{\"name\":\"y\"}],\"nodes\":[{\"name\":\"r\",\"op\":\"Relu\","
				  "\"inputs\":[\"x\"],\"outputs\":[\"\"]}]},\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "empty outputs name (node 'r', op 'Relu')");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\"}],"
				  "\"outputs\":[{\"name\":\"y\"}],\"nodes\":[{\"name\":\"r\",\"op\":\"Relu\","
				  "\"inputs\":\"x\",\"outputs\":[\"y\"]}]},\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "inputs must be an array of tensor names (node 'r', op 'Relu')");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\"}],"
				  "\"outputs\":[{\"name\":\"y\"}],\"nodes\":[{\"name\":\"r\",\"op\":\"Relu\","
				  "\"inputs\":[\"y\"],\"outputs\":[\"y\"]}]},\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "not produced before it is used");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"q\"}],"
				  "\"outputs\":[{\"name\":\"y\"}],\"nodes\":[]},\"tensors\":[" T_X "," T_Y "]}",
				  NULL, 0), "graph input 'q' is not a tensor");
	CHECK_HAS(read_header_err("{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\",\"layout\":5}],"
				  "\"outputs\":[],\"nodes\":[]},\"tensors\":[" T_X "]}",
				  NULL, 0), "layout must be a string");
	/* Attributes, on a Resize (it defines an int, a floats and an ints
	 * one): the reader refuses malformed values before the verifier looks
	 * at names. */
#define NODE_ATTR(a) "{\"format\":\"qpipe-ir\",\"graph\":{\"inputs\":[{\"name\":\"x\"}]," \
	"\"outputs\":[{\"name\":\"y\"}],\"nodes\":[{\"name\":\"r\",\"op\":\"Resize\"," \
	"\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"attrs\":{" a "}}]},\"tensors\":[" T_X "," T_Y "]}"
	CHECK_STR(read_header_err(NODE_ATTR("\"exclude_outside\":{\"int\":3},\"scales\":{\"floats\":[1,2.5]},\"sizes\":{\"ints\":[]}"),
				  NULL, 0), "");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"int\":3.5}"), NULL, 0),
		  "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"int\":1e17}"), NULL, 0),
		  "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":3"), NULL, 0), "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{}"), NULL, 0), "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"int\":1,\"float\":2}"), NULL, 0),
		  "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"ints\":[1,\"2\"]}"), NULL, 0),
		  "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"string\":[]}"), NULL, 0),
		  "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"double\":1}"), NULL, 0),
		  "attribute 'a' must be one of");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"int\":1},\"a\":{\"int\":2}"), NULL, 0),
		  "attribute 'a' appears twice (node 'r', op 'Resize')");
	CHECK_HAS(read_header_err(NODE_ATTR("\"a\":{\"float\":1e39}"), NULL, 0),
		  "attribute 'a' is not finite");
	/* Quant and stats. */
#define T_Q(q) ",{\"name\":\"a\",\"dtype\":\"int8\",\"shape\":[2,3],\"quant\":" q "}"
	CHECK_STR(read_header_err(HDR(T_Q("{\"scheme\":\"asymmetric\",\"bits\":8,\"signed\":false,"
					  "\"axis\":0,\"scale\":[0.5,1],\"zero_point\":[0,255]}")), NULL, 0), "");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"asymmetric\",\"bits\":8,\"signed\":false,"
					  "\"axis\":0,\"scale\":[0.5,1],\"zero_point\":[0,256]}")), NULL, 0),
		  "tensor 'a': quant zero_point[1] = 256 outside [0, 255]");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"symmetric\",\"bits\":8,\"signed\":true,"
					  "\"axis\":0,\"scale\":[0.5,1,2],\"zero_point\":[0,0,0]}")), NULL, 0),
		  "tensor 'a': quant has 3 scales");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"symmetric\",\"bits\":8,\"signed\":true,"
					  "\"axis\":-1,\"scale\":[0.5,1],\"zero_point\":[0]}")), NULL, 0),
		  "quant has 2 scales and 1 zero points");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"symmetric\",\"bits\":8,\"signed\":true,"
					  "\"axis\":-1,\"scale\":[-0.5],\"zero_point\":[0]}")), NULL, 0),
		  "quant scale[0] = -0.5 is not finite and > 0");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"symmetric\",\"bits\":8,\"signed\":1,"
					  "\"axis\":-1,\"scale\":[0.5],\"zero_point\":[0]}")), NULL, 0),
		  "quant signed must be true or false");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"linear\",\"bits\":8,\"signed\":true,"
					  "\"axis\":-1,\"scale\":[0.5],\"zero_point\":[0]}")), NULL, 0),
		  "quant scheme must be");
	CHECK_HAS(read_header_err(HDR(T_Q("{\"scheme\":\"symmetric\",\"bits\":8,\"signed\":true,"
					  "\"axis\":-1,\"scale\":[0.5],\"zero_point\":[0],\"pot\":1}")), NULL, 0),
		  "tensor 'a': quant: unknown key 'pot'");
	CHECK_HAS(read_header_err(HDR(T_Q("7")), NULL, 0), "tensor 'a': quant must be an object");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"float32\",\"shape\":[],"
				      "\"stats\":{\"min\":2,\"max\":1,\"count\":3}}"), NULL, 0),
		  "tensor 'a': stats min 2 and max 1");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"float32\",\"shape\":[],"
				      "\"stats\":{\"min\":0,\"max\":1,\"count\":0}}"), NULL, 0),
		  "stats count 0 must be at least 1");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"float32\",\"shape\":[],"
				      "\"stats\":{\"min\":0,\"max\":1}}"), NULL, 0),
		  "stats needs numbers");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\",\"dtype\":\"float32\",\"shape\":[],"
				      "\"stats\":{\"min\":0,\"max\":1e40,\"count\":1}}"), NULL, 0),
		  "must be finite");
	/* A NUL byte inside the header. */
	{
		qp_graph *g = NULL;
		qp_err err;
		size_t len;
		unsigned char *p = build_frame(HDR(""), NULL, 0, &len);

		p[30] = 0;
		refresh_crc(p, len);
		CHECK(qp_ir_read_mem(p, len, &g, &err) == -1);
		CHECK_STR(err.msg, "header holds a NUL byte");
		free(p);
	}
}

/* Random damage to headers: garbage in, error out, never a crash. */
static void test_header_fuzz(void)
{
	const char *base = HDR(T_Q("{\"scheme\":\"asymmetric\",\"bits\":8,\"signed\":false,"
				   "\"axis\":0,\"scale\":[0.5,1],\"zero_point\":[0,255]}")
			       ",{\"name\":\"c\",\"dtype\":\"int8\",\"shape\":[4],\"data\":[64,4]}");
	static const char repl[] = "{}[],:\"0-9e.x\\ ";
	size_t n = strlen(base);
	char *h = malloc(n + 1);
	unsigned seed = 12345;
	static unsigned char blob[128];
	int ok = 0;

	for (int round = 0; round < 20000; round++) {
		memcpy(h, base, n + 1);
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			h[(seed >> 8) % n] = repl[(seed >> 20) % (sizeof repl - 1)];
		}
		ok += read_header_err(h, blob, sizeof blob)[0] == 0;
	}
	CHECK(ok < 20000);   /* most damage is caught; none crashes */
	free(h);
}

/* docs/ir.md section 1: the header is strict UTF-8; history entries escape
 * argv bytes as \xNN; the verifier and writer refuse any other string that
 * is not UTF-8, naming it escaped. */
static void test_utf8(void)
{
	static const char *const bad[] = {
		"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"
	};
	char h[1024], *argv[] = { "/usr/bin/lower", "in.ir", "-o", "\xff\xfe.ir" };
	qp_err err = { { 0 } };
	qp_graph *g, *back = NULL;
	const cJSON *last;
	void *buf = NULL;
	size_t len = 0;
	char *old;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* HDR(...) with a bad byte in tensor a's name. */
		snprintf(h, sizeof h, "{\"format\":\"qpipe-ir\"," G_XY ",\"tensors\":[" T_X "," T_Y
			 ",{\"name\":\"a%s\",\"dtype\":\"int8\",\"shape\":[]}]}", bad[i]);
		CHECK_HAS(read_header_err(h, NULL, 0), "header is not valid UTF-8 (at byte");
	}
	CHECK_STR(read_header_err(HDR(",{\"name\":\"a\xf0\x9f\x98\x80\xc3\xa9\",\"dtype\":\"int8\",\"shape\":[]}"),
				  NULL, 0), "");
	/* \u escapes decode to UTF-8; a lone surrogate is not JSON. */
	CHECK_STR(read_header_err(HDR(",{\"name\":\"a\\u00e9\\ud83d\\ude00\",\"dtype\":\"int8\",\"shape\":[]}"),
				  NULL, 0), "");
	CHECK_HAS(read_header_err(HDR(",{\"name\":\"a\\ud800\",\"dtype\":\"int8\",\"shape\":[]}"),
				  NULL, 0), "not valid JSON");

	/* A history entry from a file name that is not UTF-8. */
	g = sample_graph();
	CHECK(qp_graph_add_history(g, "lower", 4, argv) == 0);
	CHECK(qp_ir_write_mem(g, &buf, &len, &err) == 0);
	CHECK(qp_ir_read_mem(buf, len, &back, &err) == 0);
	if (back) {
		last = cJSON_GetArrayItem(back->history, cJSON_GetArraySize(back->history) - 1);
		last = cJSON_GetObjectItemCaseSensitive(last, "argv");
		CHECK_STR(cJSON_GetArrayItem(last, 0)->valuestring, "lower");
		CHECK_STR(cJSON_GetArrayItem(last, 3)->valuestring, "\\xff\\xfe.ir");
	}
	free(buf);
	qp_graph_free(back);

	/* Names and strings set in memory: verifier and writer refuse them. */
	old = g->tensors[4].name;
	g->tensors[4].name = strdup("c\xff");
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_STR(err.msg, "tensor 4: name 'c\\xff' is not valid UTF-8");
	CHECK(qp_ir_write_mem(g, &buf, &len, &err) == -1 && buf == NULL);
	free(g->tensors[4].name);
	g->tensors[4].name = old;
	old = g->nodes[1].name;
	g->nodes[1].name = strdup("relu\xc0\xaf");
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_STR(err.msg, "node 1: name is not valid UTF-8 (node 'relu\\xc0\\xaf', op 'Relu')");
	free(g->nodes[1].name);
	g->nodes[1].name = old;
	CHECK(qp_node_set_string(&g->nodes[0], "mode", "\xed\xa0\x80") == 0);
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_STR(err.msg, "attribute 'mode' value '\\xed\\xa0\\x80' is not valid UTF-8 (node 'conv1', op 'Resize')");
	CHECK(qp_node_set_string(&g->nodes[0], "mode", "ok") == 0);
	CHECK(qp_graph_verify(g, &err) == 0);
	cJSON_AddItemToObject(g->meta, "x.bad", cJSON_CreateString("\xf5\x80"));
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_STR(err.msg, "meta holds a string that is not valid UTF-8");
	cJSON_DeleteItemFromObjectCaseSensitive(g->meta, "x.bad");
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(g->history, 0), "argv"),
			     cJSON_CreateString("\xff"));
	CHECK(qp_graph_verify(g, &err) == -1);
	CHECK_STR(err.msg, "history[0] holds a string that is not valid UTF-8");
	CHECK(qp_ir_write_mem(g, &buf, &len, &err) == -1);
	qp_graph_free(g);
}

int main(void)
{
	TEST(test_crc32c);
	TEST(test_dtypes);
	TEST(test_build_and_attrs);
	TEST(test_remove_and_drop);
	TEST(test_toposort);
	TEST(test_verify_rejects);
	TEST(test_roundtrip);
	TEST(test_file_io);
	TEST(test_damage);
	TEST(test_bad_headers);
	TEST(test_header_fuzz);
	TEST(test_utf8);
	return CHECK_DONE();
}
