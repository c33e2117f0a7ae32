/* The .ir writer: qp_ir_write_mem and qp_ir_write.  The graph is verified,
 * laid out (blob offsets, header text, sizes), then emitted in one pass
 * to memory or to an atomically written file (docs/ir.md).  Same graph,
 * same bytes.
 */
#include "ir.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "io.h"
#include "ir_internal.h"
#include "json.h"
#include "stats.h"
#include "utf8.h"

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

/* Numbers are printed here rather than by cJSON: floats with %.9g (enough
 * to read back the identical float, and the same bytes on every run) and
 * integers exactly. */
static cJSON *num_float(float f)
{
	return qp_json_rawf("%.9g", (double)f);
}

static cJSON *num_int(int64_t v)
{
	return qp_json_rawf("%" PRId64, v);
}

static int int_fits_json(int64_t v)
{
	return v >= -QP_JSON_MAX_INT && v <= QP_JSON_MAX_INT;
}

static int write_attr(cJSON *attrs, const qp_node *n, const qp_attr *a, qp_err *err)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	int rc;

	if (!o || qp_json_add(attrs, a->name, o))
		return qp_err_set(err, "out of memory");
	switch (a->type) {
	case QP_ATTR_INT:
		if (!int_fits_json(a->i))
			goto big;
		rc = qp_json_add(o, "int", num_int(a->i));
		return rc ? qp_err_set(err, "out of memory") : 0;
	case QP_ATTR_FLOAT:
		rc = qp_json_add(o, "float", num_float(a->f));
		return rc ? qp_err_set(err, "out of memory") : 0;
	case QP_ATTR_STRING:
		rc = qp_json_add(o, "string", cJSON_CreateString(a->s));
		return rc ? qp_err_set(err, "out of memory") : 0;
	case QP_ATTR_INTS:
	case QP_ATTR_FLOATS:
		arr = cJSON_CreateArray();
		if (qp_json_add(o, a->type == QP_ATTR_INTS ? "ints" : "floats", arr))
			return qp_err_set(err, "out of memory");
		for (int k = 0; k < a->n; k++) {
			if (a->type == QP_ATTR_INTS && !int_fits_json(a->ints[k]))
				goto big;
			if (qp_json_add(arr, NULL, a->type == QP_ATTR_INTS ? num_int(a->ints[k])
									   : num_float(a->floats[k])))
				return qp_err_set(err, "out of memory");
		}
		return 0;
	}
	return qp_err_node(err, n->name, n->op, "attribute '%s' has unknown type", a->name);
big:
	return qp_err_node(err, n->name, n->op, "attribute '%s' holds an integer beyond +-2^53, which format %d.%d cannot store",
			   a->name, QP_IR_VERSION_MAJOR, QP_IR_VERSION_MINOR);
}

static int write_names(cJSON *parent, const char *key_name, const qp_graph *g,
		       const int *idx, int n)
{
	cJSON *arr = cJSON_CreateArray();

	if (qp_json_add(parent, key_name, arr))
		return -1;
	for (int i = 0; i < n; i++)
		if (qp_json_add(arr, NULL,
				cJSON_CreateString(idx[i] < 0 ? "" : g->tensors[idx[i]].name)))
			return -1;
	return 0;
}

static int write_io(cJSON *graph, const char *key_name, const qp_graph *g,
		    const qp_graph_io *io, int n)
{
	cJSON *arr = cJSON_CreateArray();

	if (qp_json_add(graph, key_name, arr))
		return -1;
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (qp_json_add(arr, NULL, o) ||
		    qp_json_add(o, "name", cJSON_CreateString(g->tensors[io[i].tensor].name)))
			return -1;
		if (io[i].layout && qp_json_add(o, "layout", cJSON_CreateString(io[i].layout)))
			return -1;
	}
	return 0;
}

static int write_tensor(cJSON *arr, const qp_tensor *t, uint64_t offset)
{
	cJSON *o = cJSON_CreateObject(), *shape, *data;

	if (qp_json_add(arr, NULL, o) ||
	    qp_json_add(o, "name", cJSON_CreateString(t->name)) ||
	    qp_json_add(o, "dtype", cJSON_CreateString(qp_dtype_name(t->dtype))))
		return -1;
	shape = cJSON_CreateArray();
	if (qp_json_add(o, "shape", shape))
		return -1;
	for (int i = 0; i < t->rank; i++)
		if (qp_json_add(shape, NULL, num_int(t->dims[i])))
			return -1;
	if (t->data) {
		data = cJSON_CreateArray();
		if (qp_json_add(o, "data", data) ||
		    qp_json_add(data, NULL, num_int((int64_t)offset)) ||
		    qp_json_add(data, NULL, num_int((int64_t)t->nbytes)))
			return -1;
	}
	if (t->quant) {
		const qp_quant *q = t->quant;
		cJSON *jq = cJSON_CreateObject(), *sc, *zp;

		if (qp_json_add(o, "quant", jq) ||
		    qp_json_add(jq, "scheme", cJSON_CreateString(qp_qscheme_name(q->scheme))) ||
		    qp_json_add(jq, "bits", num_int(q->bits)) ||
		    qp_json_add(jq, "signed", cJSON_CreateBool(q->is_signed)) ||
		    qp_json_add(jq, "axis", num_int(q->axis)))
			return -1;
		sc = cJSON_CreateArray();
		if (qp_json_add(jq, "scale", sc))
			return -1;
		for (int i = 0; i < q->n; i++)
			if (qp_json_add(sc, NULL, num_float(q->scale[i])))
				return -1;
		zp = cJSON_CreateArray();
		if (qp_json_add(jq, "zero_point", zp))
			return -1;
		for (int i = 0; i < q->n; i++)
			if (qp_json_add(zp, NULL, num_int(q->zero_point[i])))
				return -1;
	}
	if (t->stats) {
		cJSON *js = cJSON_CreateObject();

		if (qp_json_add(o, "stats", js) ||
		    qp_json_add(js, "min", num_float(t->stats->min)) ||
		    qp_json_add(js, "max", num_float(t->stats->max)) ||
		    qp_json_add(js, "count", num_int(t->stats->count)) ||
		    qp_stats_write_json(t->stats, js))
			return -1;
	}
	return 0;
}

/* Builds the header; offsets[i] is where tensor i's data goes in the blob. */
static cJSON *build_header(const qp_graph *g, const uint64_t *offsets, qp_err *err)
{
	cJSON *root = cJSON_CreateObject(), *graph, *nodes, *tensors;

	if (!root || qp_json_add(root, "format", cJSON_CreateString("qpipe-ir")))
		goto oom;
	if (qp_json_add(root, "history", g->history ? cJSON_Duplicate(g->history, 1)
						    : cJSON_CreateArray()))
		goto oom;
	graph = cJSON_CreateObject();
	if (qp_json_add(root, "graph", graph) ||
	    write_io(graph, "inputs", g, g->inputs, g->n_inputs) ||
	    write_io(graph, "outputs", g, g->outputs, g->n_outputs))
		goto oom;
	nodes = cJSON_CreateArray();
	if (qp_json_add(graph, "nodes", nodes))
		goto oom;
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];
		cJSON *o = cJSON_CreateObject();

		if (qp_json_add(nodes, NULL, o) ||
		    qp_json_add(o, "name", cJSON_CreateString(n->name)) ||
		    qp_json_add(o, "op", cJSON_CreateString(n->op)) ||
		    write_names(o, "inputs", g, n->inputs, n->n_inputs) ||
		    write_names(o, "outputs", g, n->outputs, n->n_outputs))
			goto oom;
		if (n->n_attrs) {
			cJSON *attrs = cJSON_CreateObject();

			if (qp_json_add(o, "attrs", attrs))
				goto oom;
			for (int a = 0; a < n->n_attrs; a++)
				if (write_attr(attrs, n, &n->attrs[a], err))
					goto fail;
		}
	}
	tensors = cJSON_CreateArray();
	if (qp_json_add(root, "tensors", tensors))
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
	if (qp_json_add(root, "meta", g->meta ? cJSON_Duplicate(g->meta, 1) : cJSON_CreateObject()))
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
		cursor = ir_align_up(cursor, QP_IR_ALIGN);
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
	l->blob_start = ir_align_up(IR_FRAME_HEAD + l->header_len, QP_IR_ALIGN);
	l->total = ir_align_up(l->blob_start + cursor, 8) + IR_TRAILER;
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
