/* The device binary writer.  Layout (docs/binary.md): header, tensor
 * table, op records, weights, trailer; little-endian; sections 16-byte
 * aligned.  Every field is written through put32 so the bytes do not depend
 * on the host. */
#include "emit.h"

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "lowered.h"
#include "ops_common.h"

typedef struct bytes {
	unsigned char *p;
	size_t len, cap;
} bytes;

static int reserve(bytes *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 4096;
	unsigned char *np;

	if (b->len + extra <= b->cap)
		return 0;
	while (cap < b->len + extra)
		cap *= 2;
	if (!(np = realloc(b->p, cap)))
		return -1;
	memset(np + b->cap, 0, cap - b->cap);
	b->p = np;
	b->cap = cap;
	return 0;
}

static void put32_at(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static int put(bytes *b, const void *src, size_t n)
{
	if (reserve(b, n))
		return -1;
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

static int put32(bytes *b, uint32_t v)
{
	unsigned char q[4];

	put32_at(q, v);
	return put(b, q, 4);
}

static int put16(bytes *b, uint32_t v)
{
	unsigned char q[2] = {(unsigned char)v, (unsigned char)(v >> 8)};

	return put(b, q, 2);
}

static int pad_to(bytes *b, size_t align)
{
	static const unsigned char zeros[64];
	size_t n = (align - b->len % align) % align;

	return put(b, zeros, n);
}

static int io_index(const qp_graph_io *io, int n, int t)
{
	int i;

	for (i = 0; i < n; i++)
		if (io[i].tensor == t)
			return i;
	return -1;
}

/* One 64-byte tensor record; *woff advances over the weights placed. */
static int put_tensor(bytes *b, const qp_graph *g, int t, const qp_plan *plan,
		      uint32_t *woff, qp_err *err)
{
	const qp_tensor *x = &g->tensors[t];
	int in = io_index(g->inputs, g->n_inputs, t);
	int out = io_index(g->outputs, g->n_outputs, t);
	const char *layout = in >= 0 ? g->inputs[in].layout : out >= 0 ? g->outputs[out].layout : NULL;
	unsigned char rec[QP_BIN_TENSOR_SIZE] = {0};
	int dt = qp_lowered_rt_dtype(x->dtype), k;
	int64_t nbytes = qp_tensor_numel(x) * (int64_t)qp_dtype_size(x->dtype);
	uint32_t loc, off;
	float scale = 0.0f;
	int32_t zp = 0;

	if (!dt || x->rank > QP_RT_MAX_RANK || nbytes < 0 || nbytes > UINT32_MAX)
		return qp_err_set(err, "tensor '%s' (%s, rank %d) cannot be stored in a device binary",
				  x->name, qp_dtype_name(x->dtype), x->rank);
	if (in >= 0) {
		loc = QP_LOC_INPUT;
		off = (uint32_t)in;
	} else if (out >= 0) {
		loc = QP_LOC_OUTPUT;
		off = (uint32_t)out;
	} else if (x->data) {
		loc = QP_LOC_WEIGHTS;
		off = *woff;
		*woff += (uint32_t)((nbytes + QP_BIN_ALIGN - 1) / QP_BIN_ALIGN * QP_BIN_ALIGN);
	} else if (plan->offsets[t] >= 0) {
		loc = QP_LOC_ARENA;
		off = (uint32_t)plan->offsets[t];
	} else {
		return qp_err_set(err, "tensor '%s' is neither a constant, an arena tensor nor a graph input or output",
				  x->name);
	}
	if (x->quant && x->quant->n == 1) {
		scale = x->quant->scale[0];
		zp = x->quant->zero_point[0];
	}
	rec[0] = (unsigned char)dt;
	rec[1] = (unsigned char)x->rank;
	rec[2] = (unsigned char)loc;
	if (layout && !strcmp(layout, "NHWC")) {
		/* Channels last: [N, H, W, C] or, for a 1-d model, [N, L, C]. */
		if (x->rank != 4 && x->rank != 3)
			return qp_err_set(err, "tensor '%s': layout NHWC needs rank 3 or 4", x->name);
		rec[3] = QP_LAYOUT_NHWC;
	}
	put32_at(rec + 4, off);
	put32_at(rec + 8, (uint32_t)nbytes);
	put32_at(rec + 12, (uint32_t)zp);
	{
		uint32_t u;

		memcpy(&u, &scale, 4);
		put32_at(rec + 16, u);
	}
	for (k = 0; k < x->rank; k++) {
		if (x->dims[k] < 1 || x->dims[k] > INT32_MAX)
			return qp_err_set(err, "tensor '%s' has a dimension the runtime cannot take",
					  x->name);
		put32_at(rec + 24 + 4 * k, (uint32_t)x->dims[k]);
	}
	return put(b, rec, sizeof rec);
}

static int put_op(bytes *b, const qp_node *n, qp_err *err)
{
	int opcode = qp_lowered_opcode(n->op), n_params, k, rc = -1;
	int32_t *params = NULL;

	if (!opcode)
		return qp_node_err(err, n, "not a lowered op");
	if (n->n_inputs > QP_RT_MAX_INPUTS || n->n_outputs != 1)
		return qp_node_err(err, n, "bad operand count");
	if (qp_lowered_params(n, NULL, 0, &params, &n_params, err))
		return -1;
	if (n_params > 65535) {
		qp_node_err(err, n, "too many parameters");
		goto out;
	}
	if (put16(b, (uint32_t)opcode) || put16(b, (uint32_t)n->n_inputs) ||
	    put16(b, (uint32_t)n->n_outputs) || put16(b, (uint32_t)n_params))
		goto oom;
	/* Tensor record i is IR tensor i: every tensor is written. */
	for (k = 0; k < n->n_inputs; k++)
		if (put32(b, n->inputs[k] < 0 ? 0xFFFFFFFFu : (uint32_t)n->inputs[k]))
			goto oom;
	if (put32(b, (uint32_t)n->outputs[0]))
		goto oom;
	for (k = 0; k < n_params; k++)
		if (put32(b, (uint32_t)params[k]))
			goto oom;
	rc = 0;
	goto out;
oom:
	qp_err_set(err, "out of memory");
out:
	free(params);
	return rc;
}

int qp_emit_binary(const qp_graph *g, void **buf, size_t *len, qp_err *err)
{
	static const unsigned char magic[8] = {0x89, 'Q', 'P', 'B', '\r', '\n', 0x1a, '\n'};
	bytes b = {0};
	qp_plan plan = {0};
	uint32_t woff = 0, ops_off, ops_len, weights_off, weights_len, total;
	int i, st;

	*buf = NULL;
	*len = 0;
	if (!qp_lowered_is(g))
		return qp_err_set(err, "not lowered; run lower first");
	if (qp_plan_load(g, &plan, err))
		return -1;
	if (plan.arena_size > UINT32_MAX) {
		qp_err_set(err, "arena of %lld bytes is too large", (long long)plan.arena_size);
		goto fail;
	}
	if (reserve(&b, QP_BIN_HEADER_SIZE))
		goto oom;
	b.len = QP_BIN_HEADER_SIZE;   /* filled in at the end */
	for (i = 0; i < g->n_tensors; i++)
		if (put_tensor(&b, g, i, &plan, &woff, err))
			goto fail;
	if (pad_to(&b, QP_BIN_ALIGN))
		goto oom;
	ops_off = (uint32_t)b.len;
	for (i = 0; i < g->n_nodes; i++)
		if (put_op(&b, &g->nodes[i], err))
			goto fail;
	ops_len = (uint32_t)b.len - ops_off;
	if (pad_to(&b, QP_BIN_ALIGN))
		goto oom;
	weights_off = (uint32_t)b.len;
	/* Weights in tensor order, each at the offset put_tensor gave it. */
	for (i = 0; i < g->n_tensors; i++) {
		const qp_tensor *x = &g->tensors[i];

		if (!x->data || io_index(g->inputs, g->n_inputs, i) >= 0 ||
		    io_index(g->outputs, g->n_outputs, i) >= 0)
			continue;
		if (put(&b, x->data, x->nbytes) || pad_to(&b, QP_BIN_ALIGN))
			goto oom;
	}
	weights_len = (uint32_t)b.len - weights_off;
	if (weights_len != woff || b.len + QP_BIN_TRAILER_SIZE > UINT32_MAX) {
		qp_err_set(err, "weights too large for a device binary");
		goto fail;
	}
	total = (uint32_t)(b.len + QP_BIN_TRAILER_SIZE);

	memcpy(b.p, magic, 8);
	b.p[8] = QP_BIN_VERSION_MAJOR;
	b.p[9] = 0;
	b.p[10] = QP_BIN_VERSION_MINOR;
	b.p[11] = 0;
	put32_at(b.p + 12, 0);
	put32_at(b.p + 16, total);
	put32_at(b.p + 20, (uint32_t)g->n_tensors);
	put32_at(b.p + 24, (uint32_t)g->n_nodes);
	put32_at(b.p + 28, (uint32_t)g->n_inputs);
	put32_at(b.p + 32, (uint32_t)g->n_outputs);
	put32_at(b.p + 36, (uint32_t)plan.arena_size);
	put32_at(b.p + 40, QP_BIN_HEADER_SIZE);
	put32_at(b.p + 44, ops_off);
	put32_at(b.p + 48, ops_len);
	put32_at(b.p + 52, weights_off);
	put32_at(b.p + 56, weights_len);
	put32_at(b.p + 60, 0);
	if (put32(&b, qp_crc32c(0, b.p, b.len)) || put(&b, "QPBE", 4))
		goto oom;

	st = qp_model_check(b.p, b.len);
	if (st != QP_OK) {
		qp_err_set(err, "internal error: the runtime rejects the emitted binary: %s",
			   qp_status_str(st));
		goto fail;
	}
	qp_plan_release(&plan);
	*buf = b.p;
	*len = b.len;
	return 0;
oom:
	qp_err_set(err, "out of memory");
fail:
	qp_plan_release(&plan);
	free(b.p);
	return -1;
}
