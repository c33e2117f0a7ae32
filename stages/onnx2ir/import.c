/* ONNX model -> qpipe IR graph (see import.h). */
#include "import.h"
#include "passes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "utf8.h"

#include "ops.h"
#include "pbstream.h"

/* raw_data is little-endian by definition; we copy it as is. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx2ir copies little-endian tensor data directly; big-endian hosts need a byte swap"
#endif

/* An output name of a removed pass-through node (Identity, Dropout) and the
 * tensor it stands for. */
typedef struct alias {
	char *name;
	int tensor;
} alias;

typedef struct importer {
	qp_graph *g;
	const Onnx__GraphProto *graph;
	int opset;
	const char *base_dir;  /* external data directory; NULL: none allowed */
	onnx_pb_file *src;     /* the model file; initializer data comes from it */
	char **node_names;    /* unique IR name per ONNX node */
	alias *aliases;
	int n_aliases;
} importer;

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* ---- errors and attributes --------------------------------------------- */

int onnx_node_err(const onnx_ctx *c, qp_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qp_err_vnode(err, QP_ERR_SET, c->name, c->op, fmt, ap);
	va_end(ap);
	return -1;
}

const Onnx__AttributeProto *onnx_attr(const onnx_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->np->n_attribute; i++)
		if (strcmp(str_or_empty(c->np->attribute[i]->name), name) == 0)
			return c->np->attribute[i];
	return NULL;
}

static const char *attr_type_name(Onnx__AttributeProto__AttributeType t)
{
	switch (t) {
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "float";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "int";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "string";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "tensor";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "floats";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "ints";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "strings";
	default: return "other";
	}
}

Onnx__AttributeProto__AttributeType onnx_attr_type(const Onnx__AttributeProto *a)
{
	if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
		return a->type;
	if (a->n_ints)
		return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	if (a->n_floats)
		return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
	if (a->has_i)
		return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
	if (a->has_f)
		return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
	if (a->has_s)
		return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
	if (a->t)
		return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
	return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static int want_type(const onnx_ctx *c, const Onnx__AttributeProto *a,
		     Onnx__AttributeProto__AttributeType want, qp_err *err)
{
	Onnx__AttributeProto__AttributeType have = onnx_attr_type(a);

	if (have == want)
		return 0;
	return onnx_node_err(c, err, "attribute '%s' must be %s, not %s",
			     a->name, attr_type_name(want), attr_type_name(have));
}

int onnx_attr_int(const onnx_ctx *c, const char *name, int64_t dflt,
		  int64_t *out, qp_err *err)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);

	*out = dflt;
	if (!a)
		return 0;
	if (want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, err))
		return -1;
	*out = a->i;
	return 0;
}

int onnx_attr_float(const onnx_ctx *c, const char *name, float dflt,
		    float *out, qp_err *err)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);

	*out = dflt;
	if (!a)
		return 0;
	if (want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, err))
		return -1;
	*out = a->f;
	return 0;
}

int onnx_attr_ints(const onnx_ctx *c, const char *name, int64_t *out, int max,
		   int *n, qp_err *err)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);

	*n = 0;
	if (!a)
		return 0;
	if (want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, err))
		return -1;
	if (a->n_ints > (size_t)max)
		return onnx_node_err(c, err, "attribute '%s' has %zu values, at most %d expected",
				     name, a->n_ints, max);
	if (a->n_ints)   /* protobuf-c leaves an empty list NULL */
		memcpy(out, a->ints, a->n_ints * sizeof *out);
	*n = (int)a->n_ints;
	return 0;
}

int onnx_attr_string(const onnx_ctx *c, const char *name, const char *dflt,
		     char *buf, size_t bufsize, qp_err *err)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);
	size_t len;

	if (!a) {
		snprintf(buf, bufsize, "%s", dflt);
		return 0;
	}
	if (want_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, err))
		return -1;
	len = a->s.len;
	if (len >= bufsize || (len && memchr(a->s.data, 0, len)))
		return onnx_node_err(c, err, "attribute '%s' has an unexpected value", name);
	if (len)   /* an empty string's data may be NULL */
		memcpy(buf, a->s.data, len);
	buf[len] = 0;
	return 0;
}

/* ---- names ---------------------------------------------------------------- */

static int find_alias(const importer *im, const char *name)
{
	int i;

	for (i = 0; i < im->n_aliases; i++)
		if (strcmp(im->aliases[i].name, name) == 0)
			return im->aliases[i].tensor;
	return -1;
}

/* Tensor index for an ONNX value name, -1 when not (yet) known. */
static int lookup(const importer *im, const char *name)
{
	int t = find_alias(im, name);

	return t >= 0 ? t : qp_graph_find_tensor(im->g, name);
}

int onnx_input(const onnx_ctx *c, int i)
{
	const char *name;

	if (i >= (int)c->np->n_input)
		return -1;
	name = str_or_empty(c->np->input[i]);
	if (!name[0])
		return -1;
	return lookup(c->priv, name);
}

static int name_consumed(const Onnx__GraphProto *graph, const char *name)
{
	size_t i, j;

	for (i = 0; i < graph->n_node; i++)
		for (j = 0; j < graph->node[i]->n_input; j++)
			if (strcmp(str_or_empty(graph->node[i]->input[j]), name) == 0)
				return 1;
	for (i = 0; i < graph->n_output; i++)
		if (strcmp(str_or_empty(graph->output[i]->name), name) == 0)
			return 1;
	return 0;
}

int onnx_output_used(const onnx_ctx *c, int i)
{
	const char *name;

	if (i >= (int)c->np->n_output)
		return 0;
	name = str_or_empty(c->np->output[i]);
	return name[0] && name_consumed(c->graph, name);
}

int onnx_output_is_graph_output(const onnx_ctx *c, int i)
{
	const char *name;
	size_t k;

	if (i >= (int)c->np->n_output)
		return 0;
	name = str_or_empty(c->np->output[i]);
	for (k = 0; name[0] && k < c->graph->n_output; k++)
		if (strcmp(str_or_empty(c->graph->output[k]->name), name) == 0)
			return 1;
	return 0;
}

int onnx_emit_node_n(onnx_ctx *c, const char *op, int n_outputs, qp_err *err)
{
	int ins[64], outs[16];
	int n_in = (int)c->np->n_input, i;

	if (n_in > (int)(sizeof ins / sizeof ins[0]))
		return onnx_node_err(c, err, "too many inputs (%d)", n_in);
	if (n_outputs < 1 || n_outputs > (int)(sizeof outs / sizeof outs[0]))
		return onnx_node_err(c, err, "too many outputs (%d)", n_outputs);
	for (i = 0; i < n_in; i++)
		ins[i] = onnx_input(c, i);
	while (n_in > 0 && ins[n_in - 1] < 0)    /* trailing omitted optionals */
		n_in--;
	for (i = 0; i < n_outputs; i++) {
		const char *name = i < (int)c->np->n_output ? str_or_empty(c->np->output[i]) : "";
		char *fresh = NULL;

		if (!name[0]) {
			char base[1100];

			snprintf(base, sizeof base, "%.1000s_out%d", c->name, i);
			fresh = qp_graph_unique_tensor_name(c->g, base);
			if (!fresh)
				return qp_err_set(err, "out of memory");
			name = fresh;
		}
		/* Shape and dtype are placeholders until shape inference runs. */
		outs[i] = qp_graph_add_tensor(c->g, name, QP_DT_FLOAT32, 0, NULL, err);
		free(fresh);
		if (outs[i] < 0)
			return qp_err_prefix(err, "output %d of node '%s'", i, c->name);
	}
	c->node = qp_graph_add_node(c->g, c->name, op, n_in, ins, n_outputs, outs, err);
	return c->node < 0 ? -1 : 0;
}

int onnx_emit_node(onnx_ctx *c, const char *op, qp_err *err)
{
	return onnx_emit_node_n(c, op, 1, err);
}

int onnx_alias_output(onnx_ctx *c, int t, qp_err *err)
{
	importer *im = c->priv;
	alias *grown;
	char *name;

	if (lookup(im, c->np->output[0]) >= 0)
		return onnx_node_err(c, err, "output '%s' is produced twice", c->np->output[0]);
	grown = realloc(im->aliases, (size_t)(im->n_aliases + 1) * sizeof *grown);
	if (!grown)
		return qp_err_set(err, "out of memory");
	im->aliases = grown;
	name = strdup(c->np->output[0]);
	if (!name)
		return qp_err_set(err, "out of memory");
	im->aliases[im->n_aliases++] = (alias){name, t};
	return 0;
}

/* ---- tensors -------------------------------------------------------------- */

static const char *onnx_dtype_name(int32_t dt)
{
	static const char *const names[] = {
		"undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
		"int64", "string", "bool", "float16", "double", "uint32", "uint64",
		"complex64", "complex128", "bfloat16",
	};

	if (dt >= 0 && dt < (int32_t)(sizeof names / sizeof names[0]))
		return names[dt];
	return "unknown";
}

static int map_dtype(int32_t onnx_dt, qp_dtype *dt)
{
	switch (onnx_dt) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: *dt = QP_DT_FLOAT32; return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: *dt = QP_DT_UINT8; return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: *dt = QP_DT_INT8; return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: *dt = QP_DT_INT16; return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: *dt = QP_DT_INT32; return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: *dt = QP_DT_INT64; return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: *dt = QP_DT_BOOL; return 0;
	default: return -1;
	}
}

#define SUPPORTED_DTYPES "float, int64, int32, int16, int8, uint8, bool"

/* Stores integer v into element i of a tensor of dtype dt, range checked. */
static int store_int(void *data, qp_dtype dt, int64_t i, int64_t v)
{
	switch (dt) {
	case QP_DT_INT8:
		if (v < -128 || v > 127)
			return -1;
		((int8_t *)data)[i] = (int8_t)v;
		return 0;
	case QP_DT_UINT8:
		if (v < 0 || v > 255)
			return -1;
		((uint8_t *)data)[i] = (uint8_t)v;
		return 0;
	case QP_DT_INT16:
		if (v < -32768 || v > 32767)
			return -1;
		((int16_t *)data)[i] = (int16_t)v;
		return 0;
	case QP_DT_INT32:
		((int32_t *)data)[i] = (int32_t)v;
		return 0;
	case QP_DT_BOOL:
		((uint8_t *)data)[i] = v != 0;
		return 0;
	default:
		return -1;
	}
}

/* Element count of the TensorProto's typed field for dtype dt. */
static size_t typed_count(const Onnx__TensorProto *tp, qp_dtype dt)
{
	switch (dt) {
	case QP_DT_FLOAT32: return tp->n_float_data;
	case QP_DT_INT64: return tp->n_int64_data;
	/* int32, int16, int8, uint8 and bool all travel in int32_data. */
	default: return tp->n_int32_data;
	}
}

/* Allocates t's data and fills it from the TensorProto's raw or typed
 * fields.  The sizes are checked first: a forged dims field must not make
 * us allocate what the file does not hold. */
static int fill_data(qp_tensor *t, const Onnx__TensorProto *tp, int64_t numel,
		     qp_err *err)
{
	size_t esize = qp_dtype_size(t->dtype);
	int64_t i;

	if (tp->has_raw_data && (tp->raw_data.len > 0 || numel == 0)) {
		if ((uint64_t)numel > SIZE_MAX / esize || tp->raw_data.len != (size_t)numel * esize)
			return qp_err_set(err, "tensor '%s' has %zu bytes of raw data, expected %lld (%lld elements of %s)",
					  t->name, tp->raw_data.len,
					  (long long)numel * (long long)esize, (long long)numel,
					  qp_dtype_name(t->dtype));
		if (qp_tensor_alloc_data(t, err))
			return qp_err_prefix(err, "tensor '%s'", t->name);
		if (numel > 0)
			memcpy(t->data, tp->raw_data.data, tp->raw_data.len);
		if (t->dtype == QP_DT_BOOL)
			for (i = 0; i < numel; i++)
				((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
		return 0;
	}
	if (typed_count(tp, t->dtype) != (size_t)numel)
		return qp_err_set(err, "tensor '%s' has no data for its %lld elements",
				  t->name, (long long)numel);
	if (qp_tensor_alloc_data(t, err))
		return qp_err_prefix(err, "tensor '%s'", t->name);
	switch (t->dtype) {
	case QP_DT_FLOAT32:
		for (i = 0; i < numel; i++)
			((float *)t->data)[i] = tp->float_data[i];
		return 0;
	case QP_DT_INT64:
		for (i = 0; i < numel; i++)
			((int64_t *)t->data)[i] = tp->int64_data[i];
		return 0;
	default:
		for (i = 0; i < numel; i++)
			if (store_int(t->data, t->dtype, i, tp->int32_data[i]))
				return qp_err_set(err, "tensor '%s' value %d does not fit %s",
						  t->name, (int)tp->int32_data[i],
						  qp_dtype_name(t->dtype));
		return 0;
	}
}

/* ---- external data ---------------------------------------------------- */

/* Parses a decimal key value of external_data; -1 when malformed. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* A location must stay inside the model's directory: relative, no "..". */
static int safe_location(const char *loc)
{
	const char *p = loc;

	if (!loc[0] || loc[0] == '/' || loc[0] == '\\')
		return 0;
	while (*p) {
		size_t len = strcspn(p, "/\\");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += len;
		if (*p)
			p++;
	}
	return 1;
}

/* Allocates tensor t's data and reads its nbytes from the external file the
 * TensorProto names (keys location, offset, length), relative to base_dir,
 * once the file is known to hold them. */
static int read_external(qp_tensor *t, const Onnx__TensorProto *tp, int64_t numel,
			 const char *base_dir, qp_err *err)
{
	const char *location = NULL, *off_s = NULL, *len_s = NULL;
	uint64_t want = (uint64_t)numel * qp_dtype_size(t->dtype), offset = 0, length = want;
	char path[4096];
	FILE *f;
	long size;
	size_t i;
	int rc = -1;

	for (i = 0; i < tp->n_external_data; i++) {
		const char *key = str_or_empty(tp->external_data[i]->key);
		const char *value = tp->external_data[i]->value;

		if (strcmp(key, "location") == 0)
			location = value;
		else if (strcmp(key, "offset") == 0)
			off_s = value;
		else if (strcmp(key, "length") == 0)
			len_s = value;
	}
	if (!base_dir)
		return qp_err_set(err, "tensor '%s' keeps its data in an external file; read the model from a path, not standard input",
				  t->name);
	if (!location)
		return qp_err_set(err, "tensor '%s' has external data without a location", t->name);
	if (!safe_location(location))
		return qp_err_set(err, "tensor '%s': external data location '%s' must be a relative path inside the model's directory",
				  t->name, location);
	if ((off_s && parse_u64(off_s, &offset)) || (len_s && parse_u64(len_s, &length)))
		return qp_err_set(err, "tensor '%s': external data offset '%s' / length '%s' is not a number",
				  t->name, off_s ? off_s : "", len_s ? len_s : "");
	if (length != want)
		return qp_err_set(err, "tensor '%s': external data length %llu, expected %llu bytes",
				  t->name, (unsigned long long)length, (unsigned long long)want);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", base_dir, location) >= sizeof path)
		return qp_err_set(err, "tensor '%s': external data path is too long", t->name);
	f = fopen(path, "rb");
	if (!f)
		return qp_err_errno(err, "tensor '%s': external data file '%s'", t->name, location);
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0) {
		qp_err_errno(err, "tensor '%s': external data file '%s'", t->name, location);
		goto out;
	}
	if (offset > (uint64_t)size || length > (uint64_t)size - offset) {
		qp_err_set(err, "tensor '%s': external data [%llu, %llu) is outside file '%s' of %ld bytes",
			   t->name, (unsigned long long)offset,
			   (unsigned long long)(offset + length), location, size);
		goto out;
	}
	if (qp_tensor_alloc_data(t, err)) {
		qp_err_prefix(err, "tensor '%s'", t->name);
		goto out;
	}
	if (fseek(f, (long)offset, SEEK_SET) ||
	    (length && fread(t->data, 1, (size_t)length, f) != (size_t)length)) {
		qp_err_errno(err, "tensor '%s': reading external data file '%s'", t->name, location);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int onnx_add_constant(qp_graph *g, const char *name,
		      const Onnx__TensorProto *tp, int *index, qp_err *err)
{
	return onnx_add_constant_ext(g, name, tp, NULL, index, err);
}

int onnx_new_constant(qp_graph *g, const char *name, qp_dtype dt, int rank,
		      const int64_t *dims, const void *data, qp_err *err)
{
	char *fresh = qp_graph_unique_tensor_name(g, name);
	int t;

	if (!fresh)
		return qp_err_set(err, "out of memory");
	t = qp_graph_add_tensor(g, fresh, dt, rank, dims, err);
	free(fresh);
	if (t < 0 || qp_tensor_alloc_data(&g->tensors[t], err))
		return -1;
	/* data NULL: the tensor stays zero-filled for the caller to set. */
	if (data && g->tensors[t].nbytes)
		memcpy(g->tensors[t].data, data, g->tensors[t].nbytes);
	return t;
}

int onnx_add_constant_ext(qp_graph *g, const char *name,
			  const Onnx__TensorProto *tp, const char *base_dir,
			  int *index, qp_err *err)
{
	int64_t dims[QP_MAX_RANK], numel;
	qp_dtype dt;
	qp_tensor *t;
	size_t i;
	int ti, external;

	external = tp->has_data_location &&
		   tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
	if (tp->segment)
		return qp_err_set(err, "tensor '%s' is segmented; segmented tensors are not supported", name);
	if (!tp->has_data_type || map_dtype(tp->data_type, &dt))
		return qp_err_set(err, "tensor '%s' has dtype %s; supported: " SUPPORTED_DTYPES,
				  name, onnx_dtype_name(tp->has_data_type ? tp->data_type : 0));
	if (tp->n_dims > QP_MAX_RANK)
		return qp_err_set(err, "tensor '%s' has rank %zu; at most %d is supported",
				  name, tp->n_dims, QP_MAX_RANK);
	for (i = 0; i < tp->n_dims; i++) {
		if (tp->dims[i] < 0)
			return qp_err_set(err, "tensor '%s' has a negative dimension %lld",
					  name, (long long)tp->dims[i]);
		dims[i] = tp->dims[i];
	}
	ti = qp_graph_add_tensor(g, name, dt, (int)tp->n_dims, dims, err);
	if (ti < 0)
		return qp_err_prefix(err, "tensor '%s'", name);
	t = &g->tensors[ti];
	numel = qp_tensor_numel(t);
	if (numel < 0 || (uint64_t)numel > SIZE_MAX / qp_dtype_size(t->dtype))
		return qp_err_set(err, "tensor '%s' is too large", name);
	if (external ? read_external(t, tp, numel, base_dir, err) : fill_data(t, tp, numel, err))
		return -1;
	if (external && t->dtype == QP_DT_BOOL)
		for (i = 0; i < (size_t)numel; i++)
			((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
	*index = ti;
	return 0;
}

/* ---- graph inputs and outputs ------------------------------------------- */

static int is_initializer(const Onnx__GraphProto *graph, const char *name)
{
	size_t i;

	for (i = 0; i < graph->n_initializer; i++)
		if (strcmp(str_or_empty(graph->initializer[i]->name), name) == 0)
			return 1;
	return 0;
}

static int add_io(qp_graph_io **arr, int *n, int tensor, const char *layout,
		  qp_err *err)
{
	qp_graph_io *grown = realloc(*arr, (size_t)(*n + 1) * sizeof *grown);

	if (!grown)
		return qp_err_set(err, "out of memory");
	*arr = grown;
	grown[*n].tensor = tensor;
	grown[*n].layout = NULL;
	if (layout && !(grown[*n].layout = strdup(layout)))
		return qp_err_set(err, "out of memory");
	(*n)++;
	return 0;
}

static int add_graph_input(importer *im, const Onnx__ValueInfoProto *vi,
			   onnx_import_info *info, qp_err *err)
{
	const char *name = str_or_empty(vi->name);
	const Onnx__TypeProto__Tensor *tt;
	int64_t dims[QP_MAX_RANK];
	qp_dtype dt;
	size_t i;
	int t;

	if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
		return qp_err_set(err, "graph input '%s' is not a tensor", name);
	tt = vi->type->tensor_type;
	if (!tt->has_elem_type || map_dtype(tt->elem_type, &dt))
		return qp_err_set(err, "graph input '%s' has dtype %s; supported: " SUPPORTED_DTYPES,
				  name, onnx_dtype_name(tt->has_elem_type ? tt->elem_type : 0));
	if (!tt->shape)
		return qp_err_set(err, "graph input '%s' has no shape; onnx2ir needs the input shape",
				  name);
	if (tt->shape->n_dim > QP_MAX_RANK)
		return qp_err_set(err, "graph input '%s' has rank %zu; at most %d is supported",
				  name, tt->shape->n_dim, QP_MAX_RANK);
	for (i = 0; i < tt->shape->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
		int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
		const char *param = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
			? str_or_empty(d->dim_param) : "";

		if (known && d->dim_value < 0)
			return qp_err_set(err, "graph input '%s' has a negative dimension %lld",
					  name, (long long)d->dim_value);
		if (known) {
			dims[i] = d->dim_value;
		} else if (i == 0) {
			/* A dynamic batch: the IR has static shapes, and the
			 * tools feed one sample at a time. */
			dims[i] = 1;
			qp_err_append(&info->warnings,
				      "input '%s': dynamic batch dimension%s%s%s set to 1",
				      name, param[0] ? " '" : "", param, param[0] ? "'" : "");
		} else {
			return qp_err_set(err, "graph input '%s' dimension %zu%s%s%s is unknown; only the batch dimension (0) may be dynamic",
					  name, i, param[0] ? " ('" : "", param, param[0] ? "')" : "");
		}
	}
	t = qp_graph_add_tensor(im->g, name, dt, (int)tt->shape->n_dim, dims, err);
	if (t < 0)
		return qp_err_prefix(err, "graph input '%s'", name);
	return add_io(&im->g->inputs, &im->g->n_inputs, t,
		      tt->shape->n_dim == 4 ? "NCHW" : NULL, err);
}

static int add_graph_outputs(importer *im, qp_err *err)
{
	size_t i;

	for (i = 0; i < im->graph->n_output; i++) {
		const char *name = str_or_empty(im->graph->output[i]->name);
		int t = lookup(im, name);

		if (t < 0)
			return qp_err_set(err, "graph output '%s' is not produced by any node", name);
		if (qp_graph_producer(im->g, t) < 0)
			return qp_err_set(err, "graph output '%s' is a graph input or a constant; onnx2ir needs it computed by a node",
					  name);
		if (add_io(&im->g->outputs, &im->g->n_outputs, t, NULL, err))
			return -1;
	}
	if (im->g->n_outputs == 0)
		return qp_err_set(err, "the graph has no outputs");
	return 0;
}

/* ---- nodes ---------------------------------------------------------------- */

static int is_default_domain(const char *domain)
{
	return !domain || !domain[0] || strcmp(domain, "ai.onnx") == 0;
}

static int name_taken(char **names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* ONNX node names may be empty or repeated; the IR needs unique ones.  A
 * node keeps its own name when it is the first to use it, else gets
 * "<op>_<index>" (with a suffix in the unlikely case that is taken too). */
static int make_node_names(importer *im, qp_err *err)
{
	size_t n = im->graph->n_node, i;

	im->node_names = calloc(n ? n : 1, sizeof *im->node_names);
	if (!im->node_names)
		return qp_err_set(err, "out of memory");
	for (i = 0; i < n; i++) {
		const char *name = str_or_empty(im->graph->node[i]->name);

		if (name[0] && strlen(name) <= 1024 && !name_taken(im->node_names, n, name) &&
		    !(im->node_names[i] = strdup(name)))
			return qp_err_set(err, "out of memory");
	}
	for (i = 0; i < n; i++) {
		const char *op = str_or_empty(im->graph->node[i]->op_type);
		char buf[160];
		int k;

		if (im->node_names[i])
			continue;
		snprintf(buf, sizeof buf, "%.100s_%zu", op[0] ? op : "node", i);
		for (k = 1; name_taken(im->node_names, n, buf); k++)
			snprintf(buf, sizeof buf, "%.100s_%zu_%d", op[0] ? op : "node", i, k);
		if (!(im->node_names[i] = strdup(buf)))
			return qp_err_set(err, "out of memory");
	}
	return 0;
}

/* IR text is UTF-8 (docs/ir.md section 1), and ONNX's proto2 strings may
 * hold any bytes, so every string the IR could copy from the model is
 * checked before anything uses it: a bad one is refused, not repaired, since
 * names are how users refer to tensors and nodes.  Bad bytes are shown as
 * \xNN so the message itself is UTF-8.  Doc strings and value_info are never
 * copied and are not checked. */
static int bytes_utf8(const ProtobufCBinaryData *b)
{
	return !b->len || qp_utf8_valid(b->data, b->len);
}

static int check_utf8(const importer *im, qp_err *err)
{
	const Onnx__GraphProto *graph = im->graph;
	char node[QP_UTF8_SHOW_MAX], op[QP_UTF8_SHOW_MAX], bad[QP_UTF8_SHOW_MAX];
	size_t i, j;

	for (i = 0; i < graph->n_input; i++)
		if (!qp_utf8_valid_str(graph->input[i]->name))
			return qp_err_set(err, "graph input name '%s' is not valid UTF-8",
					  qp_utf8_show(bad, graph->input[i]->name));
	for (i = 0; i < graph->n_output; i++)
		if (!qp_utf8_valid_str(graph->output[i]->name))
			return qp_err_set(err, "graph output name '%s' is not valid UTF-8",
					  qp_utf8_show(bad, graph->output[i]->name));
	for (i = 0; i < graph->n_initializer; i++)
		if (!qp_utf8_valid_str(graph->initializer[i]->name))
			return qp_err_set(err, "initializer name '%s' is not valid UTF-8",
					  qp_utf8_show(bad, graph->initializer[i]->name));
	for (i = 0; i < graph->n_node; i++) {
		const Onnx__NodeProto *np = graph->node[i];
		const char *what = NULL, *value = NULL;

		qp_utf8_show(node, im->node_names[i]);
		qp_utf8_show(op, str_or_empty(np->op_type));
		if (!qp_utf8_valid_str(np->name))
			return qp_err_node(err, node, op, "node name is not valid UTF-8");
		if (!qp_utf8_valid_str(np->op_type))
			return qp_err_node(err, node, op, "op name is not valid UTF-8");
		if (!qp_utf8_valid_str(np->domain))
			what = "op domain", value = np->domain;
		for (j = 0; !what && j < np->n_input; j++)
			if (!qp_utf8_valid_str(np->input[j]))
				what = "input name", value = np->input[j];
		for (j = 0; !what && j < np->n_output; j++)
			if (!qp_utf8_valid_str(np->output[j]))
				what = "output name", value = np->output[j];
		for (j = 0; !what && j < np->n_attribute; j++) {
			const Onnx__AttributeProto *a = np->attribute[j];
			size_t k;

			if (!qp_utf8_valid_str(a->name)) {
				what = "attribute name", value = a->name;
				break;
			}
			if (!bytes_utf8(&a->s))
				return qp_err_node(err, node, op, "attribute '%s' holds a string that is not valid UTF-8",
						   a->name);
			for (k = 0; k < a->n_strings; k++)
				if (!bytes_utf8(&a->strings[k]))
					return qp_err_node(err, node, op, "attribute '%s' holds a string that is not valid UTF-8",
							   a->name);
		}
		if (what)
			return qp_err_node(err, node, op, "%s '%s' is not valid UTF-8",
					   what, qp_utf8_show(bad, value));
	}
	return 0;
}

static int op_supported(const Onnx__NodeProto *np)
{
	return is_default_domain(np->domain) && onnx_op_find(str_or_empty(np->op_type));
}

/* Collect, then fail: one line per unsupported op type, with its first node
 * and how many nodes use it, so the user sees the whole job at once. */
static int check_supported(importer *im, qp_err *err)
{
	size_t n = im->graph->n_node, i, j;
	qp_err list = {{0}};
	int bad = 0;

	for (i = 0; i < n; i++) {
		const Onnx__NodeProto *np = im->graph->node[i];
		int count = 0;

		if (op_supported(np))
			continue;
		for (j = 0; j < i; j++)    /* reported with an earlier node? */
			if (strcmp(str_or_empty(im->graph->node[j]->op_type), str_or_empty(np->op_type)) == 0 &&
			    strcmp(str_or_empty(im->graph->node[j]->domain), str_or_empty(np->domain)) == 0)
				break;
		if (j < i)
			continue;
		for (j = i; j < n; j++)
			if (strcmp(str_or_empty(im->graph->node[j]->op_type), str_or_empty(np->op_type)) == 0 &&
			    strcmp(str_or_empty(im->graph->node[j]->domain), str_or_empty(np->domain)) == 0)
				count++;
		bad++;
		if (is_default_domain(np->domain))
			qp_err_append(&list, "unsupported op '%s'", str_or_empty(np->op_type));
		else
			qp_err_append(&list, "unsupported op '%s' of domain '%s'",
				      str_or_empty(np->op_type), np->domain);
		/* qp_err_append starts a new line; finish this one in place. */
		{
			size_t len = strlen(list.msg);

			if (count == 1)
				snprintf(list.msg + len, sizeof list.msg - len, " (node '%s')",
					 im->node_names[i]);
			else
				snprintf(list.msg + len, sizeof list.msg - len,
					 " (first node '%s', %d nodes)", im->node_names[i], count);
		}
	}
	return bad ? qp_err_set(err, "%s", list.msg) : 0;
}

/* True when name is one of the space-separated words of list. */
static int in_list(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while (len && (p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[len] == ' ' || !p[len]))
			return 1;
		p += len;
	}
	return 0;
}

/* True when name is set by a "name=value ..." list. */
static int in_fixed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while (p && len && (p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && p[len] == '=')
			return 1;
		p += len;
	}
	return 0;
}

static int check_attrs(const onnx_ctx *c, const onnx_op *row, qp_err *err)
{
	size_t i;

	for (i = 0; i < c->np->n_attribute; i++) {
		const char *name = str_or_empty(c->np->attribute[i]->name);
		const onnx_old_form *f;
		int k;

		if (in_list(row->attrs, name) ||
		    (c->old && (in_list(c->old->attrs, name) || in_fixed(c->old->fixed, name))))
			continue;
		/* An attribute of an older form that became an input. */
		for (f = onnx_old_forms; !c->old && f->op; f++)
			for (k = 0; k < 3 && f->moved[k].attr; k++)
				if (!strcmp(f->op, c->op) && !strcmp(f->moved[k].attr, name))
					return onnx_node_err(c, err, "attribute '%s' is not part of opset %d; %s is an input",
							     name, c->opset, name);
		return onnx_node_err(c, err, "unsupported attribute '%s'", name);
	}
	return 0;
}

/* ---- older opsets' forms (onnx_old_forms[] in ops.c) ----------------------- */

#define OLD_MAX_INPUTS 8
#define OLD_MAX_FIXED 4

/* A node rewritten into its row's form; everything it points to is the
 * original node's or owned here. */
typedef struct rewritten {
	Onnx__NodeProto np;
	char *inputs[OLD_MAX_INPUTS];
	char *owned[OLD_MAX_INPUTS];          /* names of the added constants */
	Onnx__AttributeProto **attrs;
	Onnx__AttributeProto fixed[OLD_MAX_FIXED];
	char fixed_text[OLD_MAX_FIXED][2][64]; /* name, value */
} rewritten;

static void rewritten_release(rewritten *rw)
{
	int i;

	for (i = 0; i < OLD_MAX_INPUTS; i++)
		free(rw->owned[i]);
	free(rw->attrs);
}

static const onnx_moved *moved_of(const onnx_old_form *old, const char *attr)
{
	int i;

	for (i = 0; i < 3 && old->moved[i].attr; i++)
		if (strcmp(old->moved[i].attr, attr) == 0)
			return &old->moved[i];
	return NULL;
}

/* The attribute of the old form that became input i, or NULL. */
static const char *moved_to(const onnx_old_form *old, int i)
{
	int k;

	for (k = 0; k < 3 && old->moved[k].attr; k++)
		if (old->moved[k].input == i)
			return old->moved[k].attr;
	return NULL;
}

/* Turns the moved attribute a into a constant tensor; its name goes to
 * rw->owned[m->input]. */
static int move_attr(onnx_ctx *c, rewritten *rw, const onnx_moved *m,
		     const Onnx__AttributeProto *a, qp_err *err)
{
	Onnx__AttributeProto__AttributeType want =
		m->kind == ONNX_MOVE_INTS ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS :
		m->kind == ONNX_MOVE_INT_1D ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT :
		m->kind == ONNX_MOVE_FLOATS ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS :
		ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
	char base[1100];
	int64_t dim;
	int t;

	if (want_type(c, a, want, err))
		return -1;
	if (rw->owned[m->input])
		return onnx_node_err(c, err, "attribute '%s' is given twice", m->attr);
	snprintf(base, sizeof base, "%.1000s_%s", c->name, m->attr);
	switch (m->kind) {
	case ONNX_MOVE_INTS:
		dim = (int64_t)a->n_ints;
		t = onnx_new_constant(c->g, base, QP_DT_INT64, 1, &dim, a->ints, err);
		break;
	case ONNX_MOVE_INT_1D:
		dim = 1;
		t = onnx_new_constant(c->g, base, QP_DT_INT64, 1, &dim, &a->i, err);
		break;
	case ONNX_MOVE_FLOATS:
		dim = (int64_t)a->n_floats;
		t = onnx_new_constant(c->g, base, QP_DT_FLOAT32, 1, &dim, a->floats, err);
		break;
	default:
		t = onnx_new_constant(c->g, base, QP_DT_FLOAT32, 0, NULL, &a->f, err);
		break;
	}
	if (t < 0)
		return qp_err_prefix(err, "node '%s'", c->name);
	rw->owned[m->input] = strdup(c->g->tensors[t].name);
	return rw->owned[m->input] ? 0 : qp_err_set(err, "out of memory");
}

/* Rewrites c->np (in old's form) into its row's form in rw and points
 * c->np at it. */
static int rewrite_old_form(onnx_ctx *c, const onnx_old_form *old, rewritten *rw,
			    qp_err *err)
{
	const Onnx__NodeProto *np = c->np;
	int n_in = (int)np->n_input, i, n_fixed = 0;
	size_t k, n_attrs = 0;
	const char *f;

	for (i = old->max_inputs; i < n_in; i++) {
		if (moved_to(old, i))
			return onnx_node_err(c, err, "%s is an attribute in opset %d, not an input",
					     moved_to(old, i), c->opset);
		return onnx_node_err(c, err, "has %d inputs, at most %d in opset %d",
				     n_in, old->max_inputs, c->opset);
	}
	rw->np = *np;
	rw->attrs = malloc((np->n_attribute + OLD_MAX_FIXED + 1) * sizeof *rw->attrs);
	if (!rw->attrs)
		return qp_err_set(err, "out of memory");
	for (i = 0; i < OLD_MAX_INPUTS; i++)
		rw->inputs[i] = "";
	for (i = 0; i < n_in; i++)
		rw->inputs[old->shift_from && i >= old->shift_from ? i + 1 : i] = np->input[i];
	if (old->shift_from && n_in > old->shift_from)
		n_in++;
	for (k = 0; k < np->n_attribute; k++) {
		Onnx__AttributeProto *a = np->attribute[k];
		const onnx_moved *m = moved_of(old, str_or_empty(a->name));

		if (!m) {
			rw->attrs[n_attrs++] = a;
			continue;
		}
		if (move_attr(c, rw, m, a, err))
			return -1;
		rw->inputs[m->input] = rw->owned[m->input];
		if (m->input >= n_in)
			n_in = m->input + 1;
	}
	/* "name=value ..." */
	for (f = old->fixed; f && *f && n_fixed < OLD_MAX_FIXED; n_fixed++) {
		Onnx__AttributeProto *a = &rw->fixed[n_fixed];
		char (*text)[64] = rw->fixed_text[n_fixed];
		const char *eq = strchr(f, '='), *end = strchr(f, ' ');
		size_t vlen;

		if (!eq)
			qp_bug("old form of '%s': bad fixed attribute list", old->op);
		if (!end)
			end = f + strlen(f);
		vlen = (size_t)(end - eq - 1);
		snprintf(text[0], sizeof text[0], "%.*s", (int)(eq - f), f);
		snprintf(text[1], sizeof text[1], "%.*s", (int)vlen, eq + 1);
		f = *end ? end + 1 : end;
		/* Not part of the old form: its meaning was fixed. */
		if (onnx_attr(c, text[0]))
			return onnx_node_err(c, err, "unsupported attribute '%s' (opset %d)", text[0], c->opset);
		onnx__attribute_proto__init(a);
		a->name = text[0];
		a->has_type = 1;
		a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
		a->has_s = 1;
		a->s.data = (uint8_t *)text[1];
		a->s.len = strlen(text[1]);
		rw->attrs[n_attrs++] = a;
	}
	rw->np.n_input = (size_t)n_in;
	rw->np.input = rw->inputs;
	rw->np.n_attribute = n_attrs;
	rw->np.attribute = rw->attrs;
	c->np = &rw->np;
	c->old = old;
	return 0;
}

static int import_row(importer *im, onnx_ctx *c, const onnx_op *row, qp_err *err);

static int import_node(importer *im, size_t index, qp_err *err)
{
	const Onnx__NodeProto *np = im->graph->node[index];
	onnx_ctx c = {
		.g = im->g, .graph = im->graph, .np = np,
		.name = im->node_names[index], .op = str_or_empty(np->op_type),
		.opset = im->opset, .node = -1, .base_dir = im->base_dir, .priv = im,
	};
	const onnx_op *row = onnx_op_find(c.op);
	const onnx_old_form *old = onnx_old_form_find(c.op, im->opset);
	rewritten rw = {0};
	int rc;

	if (!row)
		qp_bug("op '%s' passed check_supported", c.op);
	if (old && rewrite_old_form(&c, old, &rw, err))
		rc = -1;
	else
		rc = import_row(im, &c, row, err);
	rewritten_release(&rw);
	return rc;
}

/* The node (in its row's form) through the row's checks and converter,
 * then shape inference and folding. */
static int import_row(importer *im, onnx_ctx *cp, const onnx_op *row, qp_err *err)
{
	const Onnx__NodeProto *np = cp->np;
	onnx_ctx c = *cp;
	int max_outputs = c.old && c.old->max_outputs ? c.old->max_outputs : row->max_outputs;
	onnx_import_fn import = c.old && c.old->import ? c.old->import : row->import;
	int i;

	/* A rewritten node's input count was checked against its old form;
	 * a required input it lacks is a missing attribute there. */
	for (i = (int)np->n_input; c.old && i < row->min_inputs; i++)
		if (moved_to(c.old, i))
			return onnx_node_err(&c, err, "attribute '%s' is missing", moved_to(c.old, i));
	if ((int)np->n_input < row->min_inputs ||
	    (!c.old && (int)np->n_input > row->max_inputs))
		return onnx_node_err(&c, err, "has %zu inputs, expected %d to %d",
				     np->n_input, row->min_inputs, row->max_inputs);
	/* An empty name is ONNX's way to skip an optional input; the ops'
	 * importers rely on their required inputs being there. */
	for (i = 0; i < row->min_inputs; i++)
		if (!str_or_empty(np->input[i])[0]) {
			if (c.old && moved_to(c.old, i))
				return onnx_node_err(&c, err, "attribute '%s' is missing", moved_to(c.old, i));
			return onnx_node_err(&c, err, "input %d is required but its name is empty", i);
		}
	if (np->n_output < 1 || !str_or_empty(np->output[0])[0])
		return onnx_node_err(&c, err, "has no output");
	if ((int)np->n_output > (max_outputs > 1 ? max_outputs : 1))
		return onnx_node_err(&c, err, "has %zu outputs, at most %d expected",
				     np->n_output, max_outputs);
	/* The IR keeps the inference form: extra outputs (MaxPool indices,
	 * Dropout mask, BatchNormalization running statistics) must be
	 * unused. */
	for (i = 1; i < (int)np->n_output && !row->all_outputs; i++)
		if (onnx_output_used(&c, i))
			return onnx_node_err(&c, err, "output %d ('%s') is used; only the first output is supported",
					     i, np->output[i]);
	if (check_attrs(&c, row, err) || import(&c, err))
		return -1;
	if (c.node >= 0) {
		const qp_op_def *def = qp_op_find(im->g->nodes[c.node].op);

		if (!def || !def->infer)
			return onnx_node_err(&c, err, "no shape inference for IR op '%s'",
					     im->g->nodes[c.node].op);
		if (def->infer(im->g, c.node, err))
			return -1;
		/* Constant folding as we go: later nodes (Reshape's shape,
		 * Slice's starts, ...) then see constants.  A graph output
		 * must stay computed by a node. */
		for (i = 0; i < (int)np->n_output; i++)
			if (onnx_output_is_graph_output(&c, i))
				return 0;
		if (onnx_fold_node(im->g, c.node, &i, err))
			return -1;
	}
	return 0;
}

/* True when every input of the node has a tensor by now. */
static int inputs_ready(const importer *im, const Onnx__NodeProto *np,
			const char **missing)
{
	size_t i;

	for (i = 0; i < np->n_input; i++) {
		const char *name = str_or_empty(np->input[i]);

		if (name[0] && lookup(im, name) < 0) {
			*missing = name;
			return 0;
		}
	}
	return 1;
}

static int produced_by_some_node(const Onnx__GraphProto *graph, const char *name)
{
	size_t i, j;

	for (i = 0; i < graph->n_node; i++)
		for (j = 0; j < graph->node[i]->n_output; j++)
			if (strcmp(str_or_empty(graph->node[i]->output[j]), name) == 0)
				return 1;
	return 0;
}

/* ONNX requires nodes in topological order, but some writers do not keep
 * it; importing whatever is ready, pass after pass, takes one pass for a
 * sorted graph and still accepts an unsorted one. */
static int import_nodes(importer *im, qp_err *err)
{
	size_t n = im->graph->n_node, remaining = n, i;
	unsigned char *done = calloc(n ? n : 1, 1);
	int rc = -1;

	if (!done)
		return qp_err_set(err, "out of memory");
	while (remaining > 0) {
		size_t before = remaining;
		const char *missing = NULL;

		for (i = 0; i < n; i++) {
			if (done[i] || !inputs_ready(im, im->graph->node[i], &missing))
				continue;
			if (import_node(im, i, err))
				goto out;
			done[i] = 1;
			remaining--;
		}
		if (remaining == before) {
			for (i = 0; i < n && (done[i] || inputs_ready(im, im->graph->node[i], &missing)); i++)
				;
			if (i == n)
				qp_bug("no progress but every node ready");
			if (produced_by_some_node(im->graph, missing))
				qp_err_node(err, im->node_names[i], str_or_empty(im->graph->node[i]->op_type),
					    "the graph has a cycle through '%s'", missing);
			else
				qp_err_node(err, im->node_names[i], str_or_empty(im->graph->node[i]->op_type),
					    "input '%s' is not produced by any node, initializer or graph input",
					    missing);
			goto out;
		}
	}
	rc = 0;
out:
	free(done);
	return rc;
}

/* ---- model ---------------------------------------------------------------- */

static int check_opset(const Onnx__ModelProto *m, int *opset, qp_err *err)
{
	size_t i;

	for (i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = m->opset_import[i];

		if (!is_default_domain(o->domain))
			continue;   /* only nodes that use another domain matter */
		/* Older forms are mapped by onnx_old_forms[] (ops.c). */
		if (!o->has_version || o->version < ONNX_OPSET_MIN || o->version > ONNX_OPSET_MAX)
			return qp_err_set(err, "opset %lld is not supported (supported: %d to %d)%s",
					  (long long)o->version, ONNX_OPSET_MIN, ONNX_OPSET_MAX,
					  o->version < ONNX_OPSET_MIN
					  ? "; convert the model with onnx.version_converter" : "");
		*opset = (int)o->version;
		return 0;
	}
	return qp_err_set(err, "the model declares no opset for the default ONNX domain");
}

static int build(importer *im, onnx_import_info *info, qp_err *err)
{
	const Onnx__GraphProto *graph = im->graph;
	size_t i;
	int t;

	if (make_node_names(im, err) || check_utf8(im, err) || check_supported(im, err))
		return -1;
	for (i = 0; i < graph->n_input; i++)
		if (!is_initializer(graph, str_or_empty(graph->input[i]->name)) &&
		    add_graph_input(im, graph->input[i], info, err))
			return -1;
	for (i = 0; i < graph->n_initializer; i++)
		if (onnx_pb_add_initializer(im->src, i, im->g, im->base_dir, &t, err))
			return -1;
	if (graph->n_sparse_initializer)
		return qp_err_set(err, "sparse initializers are not supported");
	if (im->g->n_inputs == 0)
		return qp_err_set(err, "the graph has no inputs (every input is an initializer)");
	if (import_nodes(im, err) || add_graph_outputs(im, err))
		return -1;
	/* Import passes (constant folding already ran node by node): dead
	 * nodes (e.g. what fed a folded Shape) and unused tensors go, shapes
	 * are inferred once more over the final graph, then zero Pads fold
	 * into the Conv/pool after them. */
	qp_pass_remove_dead(im->g, NULL);
	if (qp_graph_toposort(im->g, err) || qp_graph_infer_shapes(im->g, err) ||
	    qp_pass_fold_pads(im->g, NULL, err))
		return -1;
	/* The writer verifies too, but a graph the model made invalid (dims
	 * whose product overflows, say) is the model's error: report it here,
	 * where the caller names the model, not the output file. */
	return qp_graph_verify(im->g, err);
}

int onnx_import(const void *buf, size_t len, qp_graph **out,
		onnx_import_info *info, qp_err *err)
{
	return onnx_import_ex(buf, len, NULL, out, info, err);
}

/* ONNX's protobuf encoding cannot exceed 2 GiB. */
#define MODEL_LIMIT ((size_t)2 << 30)

static int import_model(onnx_pb_file *src, const char *base_dir,
			qp_graph **out, onnx_import_info *info, qp_err *err);

int onnx_import_file(const char *path, qp_graph **out, onnx_import_info *info,
		     qp_err *err)
{
	char *dir = NULL, *slash;
	onnx_pb_file *src;
	int rc;

	*out = NULL;
	memset(info, 0, sizeof *info);
	/* Mapped and read initializer by initializer (pbstream.h), so the
	 * model's bytes are never held twice. */
	if (onnx_pb_open(path, MODEL_LIMIT, &src, err))
		return -1;
	if (!qp_is_stdio(path)) {
		dir = strdup(path);
		if (!dir) {
			onnx_pb_close(src);
			return qp_err_set(err, "out of memory");
		}
		slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = 0;
		else if (slash)
			*slash = 0;
		else
			strcpy(dir, ".");
	}
	rc = import_model(src, dir, out, info, err);
	onnx_pb_close(src);
	free(dir);
	return rc;
}

int onnx_import_ex(const void *buf, size_t len, const char *base_dir,
		   qp_graph **out, onnx_import_info *info, qp_err *err)
{
	onnx_pb_file *src;
	int rc;

	*out = NULL;
	memset(info, 0, sizeof *info);
	if (onnx_pb_open_mem(buf, len, &src, err))
		return -1;
	rc = import_model(src, base_dir, out, info, err);
	onnx_pb_close(src);
	return rc;
}

static int import_model(onnx_pb_file *src, const char *base_dir,
			qp_graph **out, onnx_import_info *info, qp_err *err)
{
	const Onnx__ModelProto *model = onnx_pb_model(src);
	importer im = {0};
	int rc = -1, i;

	if (!model->graph) {
		qp_err_set(err, "not a valid ONNX model (no graph)");
		goto out;
	}
	if (check_opset(model, &im.opset, err))
		goto out;
	info->opset = im.opset;
	im.graph = model->graph;
	im.base_dir = base_dir;
	im.src = src;
	im.g = qp_graph_new();
	if (!im.g) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	if (build(&im, info, err))
		goto out;
	*out = im.g;
	im.g = NULL;
	rc = 0;
out:
	if (im.node_names)
		for (i = 0; i < (int)model->graph->n_node; i++)
			free(im.node_names[i]);
	free(im.node_names);
	for (i = 0; i < im.n_aliases; i++)
		free(im.aliases[i].name);
	free(im.aliases);
	qp_graph_free(im.g);
	return rc;
}
