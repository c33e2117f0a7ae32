/* Streaming ONNX model loader (see pbstream.h).
 *
 * The protobuf wire format is a sequence of fields, each a varint tag
 * (field number << 3 | wire type) followed by a varint (type 0), 8 bytes
 * (1), a varint length and that many bytes (2, strings and submessages), or
 * 4 bytes (5).  We walk ModelProto -> graph (field 7) -> initializer
 * (field 5) -> raw_data (field 9), copy every other field verbatim into the
 * skeleton, and remember where each initializer's raw_data lies in the file.
 * Only tags and lengths are read on the way, so the weight bytes are touched
 * once: when they are copied into their IR tensor.
 */
#include "pbstream.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"
#include "io.h"

enum {
	MODEL_GRAPH = 7,          /* ModelProto.graph */
	GRAPH_INITIALIZER = 5,    /* GraphProto.initializer */
	TENSOR_RAW_DATA = 9,      /* TensorProto.raw_data */
	WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5
};

/* Where one initializer's raw_data lies in the file. */
typedef struct raw_span {
	size_t off, len;
	int present;
} raw_span;

struct onnx_pb_file {
	const unsigned char *data;   /* the whole file */
	size_t len;
	void *map;                   /* the mapping, or NULL */
	size_t map_len;
	void *owned;                 /* a pipe's bytes (qp_read_all), or NULL */
	Onnx__ModelProto *model;     /* the skeleton, unpacked */
	raw_span *raw;               /* per graph->initializer[i] */
	size_t n_raw, cap_raw;
};

/* A growable byte buffer for the skeleton. */
typedef struct bytes {
	unsigned char *p;
	size_t len, cap;
} bytes;

static int bytes_put(bytes *b, const void *src, size_t n)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;

		while (n > cap - b->len) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		unsigned char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

static int bytes_put_varint(bytes *b, uint64_t v)
{
	unsigned char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return bytes_put(b, tmp, (size_t)n);
}

/* One field of a message: [start, end) is the whole field (tag included);
 * for WIRE_LEN, [payload, payload + payload_len) is its content. */
typedef struct field {
	uint64_t number;
	int wire;
	size_t start, payload, payload_len, end;
} field;

static int get_varint(const unsigned char *p, size_t end, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	int shift;

	for (shift = 0; shift < 64 && *pos < end; shift += 7) {
		unsigned char c = p[(*pos)++];

		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* Reads the field at *pos of the message spanning [.., end) of p. */
static int next_field(const unsigned char *p, size_t end, size_t *pos, field *f)
{
	uint64_t tag, n;

	f->start = *pos;
	if (get_varint(p, end, pos, &tag))
		return -1;
	f->number = tag >> 3;
	f->wire = (int)(tag & 7);
	if (f->number == 0)
		return -1;
	switch (f->wire) {
	case WIRE_VARINT:
		f->payload = *pos;
		if (get_varint(p, end, pos, &n))
			return -1;
		break;
	case WIRE_I64:
	case WIRE_I32:
		n = f->wire == WIRE_I64 ? 8 : 4;
		if (n > end - *pos)
			return -1;
		f->payload = *pos;
		*pos += n;
		break;
	case WIRE_LEN:
		if (get_varint(p, end, pos, &n) || n > end - *pos)
			return -1;
		f->payload = *pos;
		f->payload_len = (size_t)n;
		*pos += (size_t)n;
		break;
	default:   /* groups (3, 4) are not used by onnx.proto */
		return -1;
	}
	f->end = *pos;
	return 0;
}

/* Copies a TensorProto without its raw_data into out; *raw says where the
 * raw_data was (the last occurrence wins, as in protobuf). */
static int strip_tensor(const onnx_pb_file *f, const field *tf, bytes *out, raw_span *raw)
{
	size_t pos = tf->payload, end = tf->payload + tf->payload_len;
	field fd;

	memset(raw, 0, sizeof *raw);
	while (pos < end) {
		if (next_field(f->data, end, &pos, &fd))
			return -1;
		if (fd.number == TENSOR_RAW_DATA && fd.wire == WIRE_LEN) {
			raw->off = fd.payload;
			raw->len = fd.payload_len;
			raw->present = 1;
		} else if (bytes_put(out, f->data + fd.start, fd.end - fd.start)) {
			return -1;
		}
	}
	return 0;
}

static int push_raw(onnx_pb_file *f, const raw_span *r)
{
	if (f->n_raw == f->cap_raw) {
		size_t cap = f->cap_raw ? f->cap_raw * 2 : 64;
		raw_span *p = realloc(f->raw, cap * sizeof *p);

		if (!p)
			return -1;
		f->raw = p;
		f->cap_raw = cap;
	}
	f->raw[f->n_raw++] = *r;
	return 0;
}

/* Copies a GraphProto into out with every initializer stripped. */
static int strip_graph(onnx_pb_file *f, const field *gf, bytes *out)
{
	size_t pos = gf->payload, end = gf->payload + gf->payload_len;
	bytes tensor = {0};
	raw_span raw;
	field fd;
	int rc = -1;

	while (pos < end) {
		if (next_field(f->data, end, &pos, &fd))
			goto out;
		if (fd.number == GRAPH_INITIALIZER && fd.wire == WIRE_LEN) {
			tensor.len = 0;
			if (strip_tensor(f, &fd, &tensor, &raw) || push_raw(f, &raw) ||
			    bytes_put_varint(out, (GRAPH_INITIALIZER << 3) | WIRE_LEN) ||
			    bytes_put_varint(out, tensor.len) ||
			    bytes_put(out, tensor.p, tensor.len))
				goto out;
		} else if (bytes_put(out, f->data + fd.start, fd.end - fd.start)) {
			goto out;
		}
	}
	rc = 0;
out:
	free(tensor.p);
	return rc;
}

/* Gives the pages of [off, off + len) back to the kernel (they are clean
 * file pages; touching them again would just read the file again). */
static void release(const onnx_pb_file *f, size_t off, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), lo, hi;

	if (!f->map || len == 0)
		return;
	lo = off / page * page;
	hi = (off + len + page - 1) / page * page;
	if (hi > f->map_len)
		hi = f->map_len;
	madvise((unsigned char *)f->map + lo, hi - lo, MADV_DONTNEED);
}

#define NOT_ONNX "not a valid ONNX model (protobuf parse failed)"

/* Builds and unpacks the skeleton of f->data. */
static int load(onnx_pb_file *f, qp_err *err)
{
	bytes skel = {0}, graph = {0};
	size_t pos = 0;
	int graphs = 0, rc = -1;
	field fd;

	while (pos < f->len) {
		if (next_field(f->data, f->len, &pos, &fd)) {
			qp_err_set(err, NOT_ONNX);
			goto out;
		}
		if (fd.number == MODEL_GRAPH && fd.wire == WIRE_LEN) {
			/* protobuf would merge repeated graphs; no writer makes them. */
			if (++graphs > 1) {
				qp_err_set(err, "not a valid ONNX model (more than one graph)");
				goto out;
			}
			if (strip_graph(f, &fd, &graph)) {
				qp_err_set(err, NOT_ONNX);
				goto out;
			}
			if (bytes_put_varint(&skel, (MODEL_GRAPH << 3) | WIRE_LEN) ||
			    bytes_put_varint(&skel, graph.len) ||
			    bytes_put(&skel, graph.p, graph.len))
				goto oom;
		} else if (bytes_put(&skel, f->data + fd.start, fd.end - fd.start)) {
			goto oom;
		}
	}
	/* The walk touched only tags and lengths; drop what it faulted in. */
	release(f, 0, f->len);
	f->model = onnx__model_proto__unpack(NULL, skel.len, skel.p);
	if (!f->model) {
		qp_err_set(err, NOT_ONNX);
		goto out;
	}
	if (f->model->graph && f->model->graph->n_initializer != f->n_raw) {
		qp_err_set(err, "internal error: %zu initializers unpacked, %zu found",
			   f->model->graph->n_initializer, f->n_raw);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	qp_err_set(err, "out of memory");
out:
	free(skel.p);
	free(graph.p);
	return rc;
}

int onnx_pb_open_mem(const void *buf, size_t len, onnx_pb_file **out, qp_err *err)
{
	onnx_pb_file *f = calloc(1, sizeof *f);

	*out = NULL;
	if (!f)
		return qp_err_set(err, "out of memory");
	f->data = buf;
	f->len = len;
	if (load(f, err)) {
		onnx_pb_close(f);
		return -1;
	}
	*out = f;
	return 0;
}

/* Maps a regular file; 1 when fd is something else (a pipe), -1 on error. */
static int map_file(onnx_pb_file *f, int fd, size_t limit, qp_err *err)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0)
		return 1;
	/* Standard input may have been read from already; then read the rest. */
	if (fd == STDIN_FILENO && lseek(fd, 0, SEEK_CUR) != 0)
		return 1;
	if (limit && (uint64_t)st.st_size > limit)
		return qp_err_set(err, "file is larger than %zu bytes", limit);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 1;   /* e.g. a file system without mmap: read it instead */
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	f->map = p;
	f->map_len = (size_t)st.st_size;
	f->data = p;
	f->len = f->map_len;
	return 0;
}

int onnx_pb_open(const char *path, size_t limit, onnx_pb_file **out, qp_err *err)
{
	int fd = qp_is_stdio(path) ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	onnx_pb_file *f;
	int mapped = 1;

	*out = NULL;
	f = calloc(1, sizeof *f);
	if (!f) {
		if (fd > STDIN_FILENO)
			close(fd);
		return qp_err_set(err, "out of memory");
	}
	if (fd >= 0) {
		mapped = map_file(f, fd, limit, err);
		if (fd != STDIN_FILENO)
			close(fd);   /* the mapping stays valid */
		if (mapped < 0)
			goto fail;
	}
	/* Not mappable (a pipe) or not openable: qp_read_all reads it or says
	 * why not, in the words every tool uses. */
	if (mapped) {
		if (qp_read_all(path, &f->owned, &f->len, limit, err))
			goto fail;
		f->data = f->owned;
	}
	if (load(f, err))
		goto fail;
	*out = f;
	return 0;
fail:
	onnx_pb_close(f);
	return -1;
}

const Onnx__ModelProto *onnx_pb_model(const onnx_pb_file *f)
{
	return f->model;
}

int onnx_pb_add_initializer(onnx_pb_file *f, size_t i, qp_graph *g,
			    const char *base_dir, int *index, qp_err *err)
{
	Onnx__TensorProto *tp = f->model->graph->initializer[i];
	const raw_span *raw = &f->raw[i];
	int rc;

	/* Lend the file's bytes to the TensorProto for the copy, then take
	 * them back so free_unpacked never sees them. */
	if (raw->present) {
		tp->has_raw_data = 1;
		tp->raw_data.data = (uint8_t *)(f->data + raw->off);
		tp->raw_data.len = raw->len;
	}
	rc = onnx_add_constant_ext(g, tp->name ? tp->name : "", tp, base_dir, index, err);
	if (raw->present) {
		tp->has_raw_data = 0;
		tp->raw_data.data = NULL;
		tp->raw_data.len = 0;
		release(f, raw->off, raw->len);
	}
	return rc;
}

void onnx_pb_close(onnx_pb_file *f)
{
	if (!f)
		return;
	if (f->model)
		onnx__model_proto__free_unpacked(f->model, NULL);
	if (f->map)
		munmap(f->map, f->map_len);
	free(f->owned);
	free(f->raw);
	free(f);
}
