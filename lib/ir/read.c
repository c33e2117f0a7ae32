/* The .ir reader: qp_ir_frame, qp_ir_read_mem, qp_ir_read.
 *
 * docs/ir.md is the normative description of the bytes.  The reader trusts
 * nothing: it checks the frame (magic, version, flags, trailer, checksum)
 * before it parses any JSON, then checks every key and type of the header,
 * every blob span, and finally runs qp_graph_verify, so code after
 * qp_ir_read may rely on the invariants listed in ir.h.
 */
#include "ir.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "io.h"
#include "ir_internal.h"
#include "json.h"
#include "quant.h"
#include "stats.h"
#include "utf8.h"

/* ---- header: JSON schema ------------------------------------------------------- */

static const cJSON *key(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

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
	ir_name_map names;
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
	if (qp_json_check_keys(jq, keys, "quant", err))
		return qp_err_prefix(err, "tensor '%s'", t->name);
	scheme = qp_json_str(key(jq, "scheme"));
	if (!scheme || qp_qscheme_parse(scheme, &qs))
		return qp_err_set(err, "tensor '%s': quant scheme must be symmetric, asymmetric or power_of_two",
				  t->name);
	if (qp_json_int(key(jq, "bits"), 0, 64, &bits))
		return qp_err_set(err, "tensor '%s': quant bits must be an integer", t->name);
	sg = key(jq, "signed");
	if (!cJSON_IsBool(sg))
		return qp_err_set(err, "tensor '%s': quant signed must be true or false", t->name);
	if (qp_json_int(key(jq, "axis"), -1, QP_MAX_RANK - 1, &axis))
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

			if (qp_json_float(s, &t->quant->scale[i]))
				return qp_err_set(err, "tensor '%s': quant scale[%d] must be a number",
						  t->name, i);
			if (qp_json_int(z, INT32_MIN, INT32_MAX, &zv))
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
	if (qp_json_check_keys(js, keys, "stats", err))
		return qp_err_prefix(err, "tensor '%s'", t->name);
	t->stats = calloc(1, sizeof *t->stats);
	if (!t->stats)
		return qp_err_set(err, "out of memory");
	if (qp_json_float(key(js, "min"), &t->stats->min) ||
	    qp_json_float(key(js, "max"), &t->stats->max) ||
	    qp_json_int(key(js, "count"), -QP_JSON_MAX_INT, QP_JSON_MAX_INT, &t->stats->count))
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
	name = qp_json_str(key(jt, "name"));
	if (!name || !ir_name_ok(name))
		return qp_err_set(err, "tensors[%d]: name must be a string of 1 to %d bytes",
				  idx, IR_MAX_NAME);
	if (qp_json_check_keys(jt, keys, "tensor", err))
		return qp_err_prefix(err, "tensor '%s'", name);
	dtname = qp_json_str(key(jt, "dtype"));
	if (!dtname || qp_dtype_parse(dtname, &dt))
		return qp_err_set(err, "tensor '%s': unknown dtype '%s'", name,
				  dtname ? dtname : "(not a string)");
	shape = key(jt, "shape");
	if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > QP_MAX_RANK)
		return qp_err_set(err, "tensor '%s': shape must be an array of 0 to %d integers",
				  name, QP_MAX_RANK);
	for (const cJSON *d = shape->child; d; d = d->next) {
		if (qp_json_int(d, 0, QP_JSON_MAX_INT, &dims[rank]))
			return qp_err_set(err, "tensor '%s': shape must hold non-negative integers",
					  name);
		rank++;
	}
	if (ir_map_put(&r->names, name, idx) >= 0)
		return qp_err_set(err, "duplicate tensor name '%s'", name);
	ti = ir_add_tensor_unchecked(r->g, name, dt, rank, dims, err);
	if (ti < 0)
		return -1;
	t = &r->g->tensors[ti];
	if (ir_tensor_bytes(t, &nbytes))
		return qp_err_set(err, "tensor '%s': element count or byte size overflows", name);
	data = key(jt, "data");
	if (data) {
		int64_t off, len;

		if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) != 2 ||
		    qp_json_int(data->child, 0, QP_JSON_MAX_INT, &off) ||
		    qp_json_int(data->child->next, 0, QP_JSON_MAX_INT, &len))
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

		if (!cJSON_IsObject(e) || !(name = qp_json_str(key(e, "name"))))
			return qp_err_set(err, "graph %s %d must be an object with a string name",
					  what, i);
		if (qp_json_check_keys(e, keys, "graph io", err))
			return qp_err_prefix(err, "graph %s '%s'", what, name);
		t = ir_map_get(&r->names, name);
		if (t < 0)
			return qp_err_set(err, "graph %s '%s' is not a tensor", what, name);
		(*out)[i].tensor = t;
		if (key(e, "layout")) {
			layout = qp_json_str(key(e, "layout"));
			if (!layout)
				return qp_err_set(err, "graph %s '%s': layout must be a string",
						  what, name);
			(*out)[i].layout = ir_strdup(layout);
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

		if (qp_json_int(v, -QP_JSON_MAX_INT, QP_JSON_MAX_INT, &i))
			goto bad;
		rc = qp_node_set_int(n, ja->string, i);
	} else if (strcmp(tag, "float") == 0) {
		float f;

		if (qp_json_float(v, &f))
			goto bad;
		rc = qp_node_set_float(n, ja->string, f);
	} else if (strcmp(tag, "string") == 0) {
		if (!qp_json_str(v))
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
			if (is_int ? qp_json_int(e, -QP_JSON_MAX_INT, QP_JSON_MAX_INT, &iv[k])
				   : qp_json_float(e, &fv[k]))
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
	return qp_err_node(err, n->name, n->op, "attribute '%s' must be one of {\"int\": n}, {\"float\": x}, "
			   "{\"ints\": [..]}, {\"floats\": [..]}, {\"string\": \"s\"}", ja->string);
}

/* Resolves a JSON array of tensor names into indices ("" -> -1 when
 * allow_omitted).  *idx is malloc'd. */
static int read_names(reader *r, const cJSON *arr, int allow_omitted, int **idx, int *count,
		      const char *what, const char *node, const char *op, qp_err *err)
{
	int n, i = 0;

	if (!cJSON_IsArray(arr))
		return qp_err_node(err, node, op, "%s must be an array of tensor names", what);
	n = cJSON_GetArraySize(arr);
	*idx = malloc(((size_t)n + 1) * sizeof **idx);
	if (!*idx)
		return qp_err_set(err, "out of memory");
	for (const cJSON *e = arr->child; e; e = e->next, i++) {
		const char *s = qp_json_str(e);

		if (!s)
			return qp_err_node(err, node, op, "%s must be an array of tensor names",
					    what);
		if (!s[0]) {
			if (!allow_omitted)
				return qp_err_node(err, node, op, "empty %s name", what);
			(*idx)[i] = -1;
			continue;
		}
		(*idx)[i] = ir_map_get(&r->names, s);
		if ((*idx)[i] < 0)
			return qp_err_node(err, node, op, "unknown tensor '%s'", s);
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
	name = qp_json_str(key(jn, "name"));
	op = qp_json_str(key(jn, "op"));
	if (!name || !ir_name_ok(name))
		return qp_err_set(err, "graph.nodes[%d]: name must be a string of 1 to %d bytes",
				  idx, IR_MAX_NAME);
	if (!op || !op[0])
		return qp_err_set(err, "node '%s': op must be a non-empty string", name);
	if (qp_json_check_keys(jn, keys, "node", err))
		return qp_err_prefix(err, "node '%s'", name);
	if (read_names(r, key(jn, "inputs"), 1, &in, &n_in, "inputs", name, op, err) ||
	    read_names(r, key(jn, "outputs"), 0, &out, &n_out, "outputs", name, op, err))
		goto out;
	if (n_out < 1) {
		qp_err_node(err, name, op, "node has no outputs");
		goto out;
	}
	ni = qp_graph_add_node(r->g, name, op, n_in, in, n_out, out, err);
	if (ni < 0)
		goto out;
	n = &r->g->nodes[ni];
	attrs = key(jn, "attrs");
	if (attrs) {
		if (!cJSON_IsObject(attrs)) {
			qp_err_node(err, n->name, n->op, "attrs must be an object");
			goto out;
		}
		for (const cJSON *a = attrs->child; a; a = a->next) {
			if (qp_node_attr(n, a->string)) {
				qp_err_node(err, n->name, n->op, "attribute '%s' appears twice", a->string);
				goto out;
			}
			if (!a->string[0]) {
				qp_err_node(err, n->name, n->op, "attribute with an empty name");
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
	if (qp_json_check_keys(root, root_keys, "header", err))
		return -1;
	format = qp_json_str(key(root, "format"));
	if (!format || strcmp(format, "qpipe-ir"))
		return qp_err_set(err, "header: format must be \"qpipe-ir\"");
	tensors = key(root, "tensors");
	if (!cJSON_IsArray(tensors))
		return qp_err_set(err, "header: tensors must be an array");
	nt = cJSON_GetArraySize(tensors);
	if (ir_map_init(&r->names, nt))
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
	if (qp_json_check_keys(graph, graph_keys, "graph", err))
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
		if (ir_check_history(key(root, "history"), err))
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

/* ---- frame -------------------------------------------------------------------- */

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
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
	    ir_align_up(IR_FRAME_HEAD + hlen, QP_IR_ALIGN) > len - IR_TRAILER)
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
	blob_start = (size_t)ir_align_up(IR_FRAME_HEAD + header_len, QP_IR_ALIGN);
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
	ir_map_free(&r.names);
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
