/* Device binary v0 (docs/binary.md): validation and execution.
 *
 * qp_model_check walks every byte a later qp_run may touch, so qp_run
 * itself trusts the binary.  Multi-byte header fields are read byte by
 * byte; tensor data and op parameters are used in place, which is why the
 * host must be little-endian and the buffer 4-byte aligned.
 */
#include "qp_runtime.h"

#include <string.h>

static const unsigned char bin_magic[8] = {0x89, 'Q', 'P', 'B', '\r', '\n', 0x1a, '\n'};
static const unsigned char end_magic[4] = {'Q', 'P', 'B', 'E'};

/* Header field offsets (docs/binary.md section 2). */
enum {
	H_MAJOR = 8, H_MINOR = 10, H_FLAGS = 12, H_TOTAL = 16, H_NTENSORS = 20,
	H_NOPS = 24, H_NINPUTS = 28, H_NOUTPUTS = 32, H_ARENA = 36,
	H_TENSORS_OFF = 40, H_OPS_OFF = 44, H_OPS_LEN = 48, H_WEIGHTS_OFF = 52,
	H_WEIGHTS_LEN = 56, H_RESERVED = 60
};
/* Tensor record field offsets (section 3). */
enum {
	T_DTYPE = 0, T_RANK = 1, T_LOC = 2, T_LAYOUT = 3, T_OFFSET = 4,
	T_NBYTES = 8, T_ZP = 12, T_SCALE = 16, T_RESERVED = 20, T_DIMS = 24,
	T_RESERVED2 = 56
};
enum { OP_HEADER = 8, OP_MAX_IN = QP_RT_MAX_INPUTS, OP_MAX_OUT = 1 };
#define NO_TENSOR 0xFFFFFFFFu

const char *qp_status_str(int status)
{
	static const char *const msg[QP_E_STATUS_COUNT] = {
		[QP_OK] = "ok",
		[QP_E_ARG] = "invalid argument",
		[QP_E_HOST] = "host is not little-endian with ieee-754 floats",
		[QP_E_ALIGN] = "buffer is not 4-byte aligned",
		[QP_E_TRUNCATED] = "truncated binary",
		[QP_E_MAGIC] = "not a qpipe device binary (bad magic)",
		[QP_E_VERSION] = "unsupported binary version",
		[QP_E_FLAGS] = "unknown flags or non-zero reserved fields",
		[QP_E_LENGTH] = "length in header does not match the data",
		[QP_E_CRC] = "checksum mismatch (corrupted binary)",
		[QP_E_LAYOUT] = "section offsets out of bounds or misaligned",
		[QP_E_TENSOR] = "bad tensor record",
		[QP_E_IO] = "graph inputs or outputs missing or duplicated",
		[QP_E_OP] = "bad op record",
		[QP_E_PARAM] = "op parameters do not match its tensors",
	};

	if (status < 0 || status >= QP_E_STATUS_COUNT)
		return "unknown status";
	return msg[status];
}

static uint32_t rd16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static float rdf32(const unsigned char *p)
{
	uint32_t u = rd32(p);
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

uint32_t qp_rt_crc32c(const void *buf, size_t len)
{
	/* Half-byte table: small enough for firmware, fast enough here. */
	static const uint32_t tab[16] = {
		0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
		0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
		0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
		0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
	};
	const unsigned char *p = buf;
	uint32_t crc = 0xFFFFFFFFu;
	size_t i;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ tab[crc & 15];
		crc = (crc >> 4) ^ tab[crc & 15];
	}
	return crc ^ 0xFFFFFFFFu;
}

static int host_ok(void)
{
	uint32_t u = 1;
	float f = 1.0f;
	unsigned char c[4];

	memcpy(c, &u, 4);
	if (c[0] != 1)
		return 0;
	memcpy(&u, &f, 4);
	return u == 0x3F800000u && sizeof(float) == 4;
}

static size_t dtype_size(uint32_t dt)
{
	switch (dt) {
	case QP_RT_INT8: return 1;
	case QP_RT_INT32: return 4;
	case QP_RT_FLOAT32: return 4;
	default: return 0;
	}
}

static const unsigned char *tensor_rec(const qp_model *m, uint32_t i)
{
	return m->tensors + (size_t)i * QP_BIN_TENSOR_SIZE;
}

static int check_tensor(const qp_model *m, uint32_t i)
{
	const unsigned char *t = tensor_rec(m, i);
	uint32_t dt = t[T_DTYPE], rank = t[T_RANK], loc = t[T_LOC];
	uint32_t layout = t[T_LAYOUT], off = rd32(t + T_OFFSET);
	uint32_t nbytes = rd32(t + T_NBYTES), k;
	int32_t zp = (int32_t)rd32(t + T_ZP);
	uint32_t scale_bits = rd32(t + T_SCALE);
	uint64_t n = 1;
	size_t esz = dtype_size(dt);

	if (!esz || rank > QP_RT_MAX_RANK || loc > QP_LOC_OUTPUT || layout > 1 ||
	    rd32(t + T_RESERVED) || rd32(t + T_RESERVED2) || rd32(t + T_RESERVED2 + 4))
		return QP_E_TENSOR;
	for (k = 0; k < QP_RT_MAX_RANK; k++) {
		uint32_t d = rd32(t + T_DIMS + 4 * k);

		if (k >= rank) {
			if (d)
				return QP_E_TENSOR;
			continue;
		}
		if (d < 1 || d > INT32_MAX)
			return QP_E_TENSOR;
		n *= d;
		if (n > 0xFFFFFFFFu)
			return QP_E_TENSOR;
	}
	if (n * esz != nbytes)
		return QP_E_TENSOR;
	/* Scale: finite and not negative (0 for weights whose scales live in
	 * the op multipliers). */
	if ((scale_bits & 0x7F800000u) == 0x7F800000u || (scale_bits >> 31))
		return QP_E_TENSOR;
	if (dt == QP_RT_INT8 ? (zp < -128 || zp > 127) : zp != 0)
		return QP_E_TENSOR;
	if (layout && !((loc == QP_LOC_INPUT || loc == QP_LOC_OUTPUT) && (rank == 3 || rank == 4)))
		return QP_E_TENSOR;
	switch (loc) {
	case QP_LOC_ARENA:
		if (dt != QP_RT_INT8 || (uint64_t)off + nbytes > m->arena_size)
			return QP_E_TENSOR;
		break;
	case QP_LOC_WEIGHTS:
		if (dt == QP_RT_FLOAT32 || off % 4 ||
		    (uint64_t)off + nbytes > m->weights_len)
			return QP_E_TENSOR;
		break;
	case QP_LOC_INPUT:
		if (dt != QP_RT_FLOAT32 || off >= m->n_inputs)
			return QP_E_TENSOR;
		break;
	default:
		if (dt != QP_RT_FLOAT32 || off >= m->n_outputs)
			return QP_E_TENSOR;
		break;
	}
	return QP_OK;
}

/* Every graph input/output index is bound to exactly one tensor. */
static int check_io(const qp_model *m, uint32_t loc, uint32_t count)
{
	uint32_t i, j, seen, total = 0;

	for (j = 0; j < m->n_tensors; j++)
		total += tensor_rec(m, j)[T_LOC] == loc;
	if (total != count)
		return QP_E_IO;
	for (i = 0; i < count; i++) {
		seen = 0;
		for (j = 0; j < m->n_tensors; j++) {
			const unsigned char *t = tensor_rec(m, j);

			seen += t[T_LOC] == loc && rd32(t + T_OFFSET) == i;
		}
		if (seen != 1)
			return QP_E_IO;
	}
	return QP_OK;
}

/* Fills an operand view from tensor record i; data from the buffers when
 * given, else NULL. */
static void tensor_view(const qp_model *m, uint32_t i, unsigned char *arena,
			const void *const *inputs, void *const *outputs,
			qp_rt_tensor *v)
{
	const unsigned char *t = tensor_rec(m, i);
	uint32_t off = rd32(t + T_OFFSET);
	int k;

	v->dtype = t[T_DTYPE];
	v->rank = t[T_RANK];
	for (k = 0; k < QP_RT_MAX_RANK; k++)
		v->dims[k] = (int32_t)rd32(t + T_DIMS + 4 * k);
	v->scale = rdf32(t + T_SCALE);
	v->zero_point = (int32_t)rd32(t + T_ZP);
	v->data = NULL;
	switch (t[T_LOC]) {
	case QP_LOC_ARENA:
		if (arena)
			v->data = arena + off;
		break;
	case QP_LOC_WEIGHTS:
		v->data = (void *)(m->weights + off);
		break;
	case QP_LOC_INPUT:
		if (inputs)
			v->data = (void *)inputs[off];
		break;
	default:
		if (outputs)
			v->data = outputs[off];
		break;
	}
}

/* One decoded op record. */
typedef struct op_rec {
	int opcode, n_in, n_out, n_params;
	uint32_t in[OP_MAX_IN], out[OP_MAX_OUT];
	const int32_t *params;
	uint32_t size;
} op_rec;

/* Decodes the record at byte pos of the op section; checks only that it
 * fits (the rest is check_op's job). */
static int decode_op(const qp_model *m, uint32_t pos, op_rec *r)
{
	const unsigned char *p = m->ops + pos;
	uint64_t size;
	int k;

	if ((uint64_t)pos + OP_HEADER > m->ops_len)
		return QP_E_OP;
	r->opcode = (int)rd16(p);
	r->n_in = (int)rd16(p + 2);
	r->n_out = (int)rd16(p + 4);
	r->n_params = (int)rd16(p + 6);
	if (r->n_in > OP_MAX_IN || r->n_out != OP_MAX_OUT)
		return QP_E_OP;
	size = OP_HEADER + 4ull * ((uint64_t)r->n_in + r->n_out + r->n_params);
	if (pos + size > m->ops_len)
		return QP_E_OP;
	p += OP_HEADER;
	for (k = 0; k < r->n_in; k++, p += 4)
		r->in[k] = rd32(p);
	for (k = 0; k < r->n_out; k++, p += 4)
		r->out[k] = rd32(p);
	r->params = (const int32_t *)(const void *)p;
	r->size = (uint32_t)size;
	return QP_OK;
}

static int spans_overlap(const qp_model *m, uint32_t a, uint32_t b)
{
	const unsigned char *ta = tensor_rec(m, a), *tb = tensor_rec(m, b);
	uint64_t a0 = rd32(ta + T_OFFSET), a1 = a0 + rd32(ta + T_NBYTES);
	uint64_t b0 = rd32(tb + T_OFFSET), b1 = b0 + rd32(tb + T_NBYTES);

	if (ta[T_LOC] != QP_LOC_ARENA || tb[T_LOC] != QP_LOC_ARENA)
		return 0;
	return a0 < b1 && b0 < a1;
}

static int check_op(const qp_model *m, const op_rec *r)
{
	qp_rt_tensor views[OP_MAX_IN + OP_MAX_OUT];
	const qp_rt_tensor *in[OP_MAX_IN], *out[OP_MAX_OUT];
	int k, j;

	for (k = 0; k < r->n_in; k++) {
		if (r->in[k] == NO_TENSOR) {
			in[k] = NULL;
			continue;
		}
		if (r->in[k] >= m->n_tensors ||
		    tensor_rec(m, r->in[k])[T_LOC] == QP_LOC_OUTPUT)
			return QP_E_OP;
		tensor_view(m, r->in[k], NULL, NULL, NULL, &views[k]);
		in[k] = &views[k];
	}
	for (k = 0; k < r->n_out; k++) {
		uint32_t loc;

		if (r->out[k] >= m->n_tensors)
			return QP_E_OP;
		loc = tensor_rec(m, r->out[k])[T_LOC];
		if (loc != QP_LOC_ARENA && loc != QP_LOC_OUTPUT)
			return QP_E_OP;
		/* Kernels read inputs while writing outputs: no overlap. */
		for (j = 0; j < r->n_in; j++)
			if (r->in[j] != NO_TENSOR && spans_overlap(m, r->out[k], r->in[j]))
				return QP_E_OP;
		tensor_view(m, r->out[k], NULL, NULL, NULL, &views[OP_MAX_IN + k]);
		out[k] = &views[OP_MAX_IN + k];
	}
	return qp_rt_op_check(r->opcode, in, r->n_in, out, r->n_out, r->params,
			      r->n_params);
}

/* Validates and fills m; on failure the caller zeroes m. */
static int model_parse(qp_model *m, const void *buf, size_t len)
{
	const unsigned char *b = buf;
	uint32_t total, toff, ooff, olen, woff, wlen, i, pos;
	int st;

	if (!buf)
		return QP_E_ARG;
	if (!host_ok())
		return QP_E_HOST;
	if ((size_t)buf % 4)
		return QP_E_ALIGN;
	if (len < QP_BIN_HEADER_SIZE + QP_BIN_TRAILER_SIZE)
		return len >= 8 && memcmp(b, bin_magic, 8) ? QP_E_MAGIC : QP_E_TRUNCATED;
	if (memcmp(b, bin_magic, 8))
		return QP_E_MAGIC;
	if (rd16(b + H_MAJOR) != QP_BIN_VERSION_MAJOR)
		return QP_E_VERSION;
	if (rd32(b + H_FLAGS) || rd32(b + H_RESERVED))
		return QP_E_FLAGS;
	total = rd32(b + H_TOTAL);
	if (total > len)
		return QP_E_TRUNCATED;
	if (total != len || total < QP_BIN_HEADER_SIZE + QP_BIN_TRAILER_SIZE)
		return QP_E_LENGTH;
	if (memcmp(b + total - 4, end_magic, 4))
		return QP_E_MAGIC;
	if (qp_rt_crc32c(b, total - 8) != rd32(b + total - 8))
		return QP_E_CRC;

	m->base = b;
	m->len = len;
	m->n_tensors = rd32(b + H_NTENSORS);
	m->n_ops = rd32(b + H_NOPS);
	m->n_inputs = rd32(b + H_NINPUTS);
	m->n_outputs = rd32(b + H_NOUTPUTS);
	m->arena_size = rd32(b + H_ARENA);
	toff = rd32(b + H_TENSORS_OFF);
	ooff = rd32(b + H_OPS_OFF);
	olen = rd32(b + H_OPS_LEN);
	woff = rd32(b + H_WEIGHTS_OFF);
	wlen = rd32(b + H_WEIGHTS_LEN);
	/* Sections in order, aligned, inside [header, trailer). */
	if (toff != QP_BIN_HEADER_SIZE || ooff % QP_BIN_ALIGN ||
	    woff % QP_BIN_ALIGN ||
	    (uint64_t)toff + (uint64_t)m->n_tensors * QP_BIN_TENSOR_SIZE > ooff ||
	    (uint64_t)ooff + olen > woff ||
	    (uint64_t)woff + wlen > (uint64_t)total - QP_BIN_TRAILER_SIZE)
		return QP_E_LAYOUT;
	m->tensors = b + toff;
	m->ops = b + ooff;
	m->ops_len = olen;
	m->weights = b + woff;
	m->weights_len = wlen;

	for (i = 0; i < m->n_tensors; i++)
		if ((st = check_tensor(m, i)) != QP_OK)
			return st;
	if ((st = check_io(m, QP_LOC_INPUT, m->n_inputs)) != QP_OK ||
	    (st = check_io(m, QP_LOC_OUTPUT, m->n_outputs)) != QP_OK)
		return st;
	for (i = 0, pos = 0; i < m->n_ops; i++) {
		op_rec r;

		if ((st = decode_op(m, pos, &r)) != QP_OK ||
		    (st = check_op(m, &r)) != QP_OK)
			return st;
		pos += r.size;
	}
	if (pos != olen)
		return QP_E_OP;
	return QP_OK;
}

int qp_model_open(qp_model *m, const void *buf, size_t len)
{
	int st;

	if (!m)
		return QP_E_ARG;
	memset(m, 0, sizeof *m);
	st = model_parse(m, buf, len);
	if (st != QP_OK)
		memset(m, 0, sizeof *m);
	return st;
}

int qp_model_check(const void *buf, size_t len)
{
	qp_model m;

	return qp_model_open(&m, buf, len);
}

size_t qp_arena_size(const qp_model *m)
{
	return m ? m->arena_size : 0;
}

static int io_info(const qp_model *m, uint32_t loc, uint32_t i,
		   qp_io_info *info)
{
	uint32_t j;

	if (!m || !info || !m->tensors)
		return QP_E_ARG;
	for (j = 0; j < m->n_tensors; j++) {
		const unsigned char *t = tensor_rec(m, j);
		int k;

		if (t[T_LOC] != loc || rd32(t + T_OFFSET) != i)
			continue;
		info->dtype = t[T_DTYPE];
		info->layout = t[T_LAYOUT];
		info->rank = t[T_RANK];
		info->numel = 1;
		for (k = 0; k < QP_RT_MAX_RANK; k++) {
			info->dims[k] = (int32_t)rd32(t + T_DIMS + 4 * k);
			if (k < info->rank)
				info->numel *= (uint32_t)info->dims[k];
		}
		info->nbytes = rd32(t + T_NBYTES);
		return QP_OK;
	}
	return QP_E_ARG;
}

int qp_model_input(const qp_model *m, uint32_t i, qp_io_info *info)
{
	return io_info(m, QP_LOC_INPUT, i, info);
}

int qp_model_output(const qp_model *m, uint32_t i, qp_io_info *info)
{
	return io_info(m, QP_LOC_OUTPUT, i, info);
}

int qp_run(const qp_model *m, void *arena, const void *const *inputs,
	   void *const *outputs)
{
	uint32_t i, pos;

	if (!m || !m->base || (!arena && m->arena_size) ||
	    (!inputs && m->n_inputs) || (!outputs && m->n_outputs))
		return QP_E_ARG;
	for (i = 0; i < m->n_inputs; i++)
		if (!inputs[i])
			return QP_E_ARG;
	for (i = 0; i < m->n_outputs; i++)
		if (!outputs[i])
			return QP_E_ARG;
	for (i = 0, pos = 0; i < m->n_ops; i++) {
		qp_rt_tensor views[OP_MAX_IN + OP_MAX_OUT];
		const qp_rt_tensor *in[OP_MAX_IN], *out[OP_MAX_OUT];
		op_rec r;
		int k;

		/* Already validated by qp_model_open. */
		decode_op(m, pos, &r);
		for (k = 0; k < r.n_in; k++) {
			in[k] = NULL;
			if (r.in[k] != NO_TENSOR) {
				tensor_view(m, r.in[k], arena, inputs, outputs, &views[k]);
				in[k] = &views[k];
			}
		}
		for (k = 0; k < r.n_out; k++) {
			tensor_view(m, r.out[k], arena, inputs, outputs,
				    &views[OP_MAX_IN + k]);
			out[k] = &views[OP_MAX_IN + k];
		}
		qp_rt_op_run(r.opcode, in, r.n_in, out, r.n_out, r.params,
			     r.n_params);
		pos += r.size;
	}
	return QP_OK;
}
