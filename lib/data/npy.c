/* NumPy .npy reader (streaming) and writer.
 *
 * Format (numpy/lib/format.py): magic "\x93NUMPY", major, minor, header
 * length (u16 for 1.0, u32 for 2.0/3.0), then a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a '\n', then the raw C-order data.  Only
 * little-endian (or byte-sized) plain dtypes are accepted: no structured
 * dtypes, no Fortran order, no object arrays.
 */
#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20)

static const struct npy_dtype {
	const char *descr;      /* without the byte-order character */
	qp_npy_type type;
	size_t size;
} npy_dtypes[] = {
	{"f4", QP_NPY_F32, 4}, {"f8", QP_NPY_F64, 8}, {"i1", QP_NPY_I8, 1},
	{"u1", QP_NPY_U8, 1},  {"i2", QP_NPY_I16, 2}, {"i4", QP_NPY_I32, 4},
	{"i8", QP_NPY_I64, 8}, {"b1", QP_NPY_BOOL, 1},
};

static const struct npy_dtype *dtype_by_type(qp_npy_type t)
{
	for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
		if (npy_dtypes[i].type == t)
			return &npy_dtypes[i];
	return NULL;
}

/* ---- header parsing ------------------------------------------------------ */

typedef struct cursor {
	const char *p, *end;
} cursor;

static void skip_space(cursor *c)
{
	while (c->p < c->end && isspace((unsigned char)*c->p))
		c->p++;
}

static int eat(cursor *c, char ch)
{
	skip_space(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return 1;
	}
	return 0;
}

/* A quoted Python string ('...' or "...") without escapes into buf. */
static int parse_str(cursor *c, char *buf, size_t len)
{
	char q;
	size_t n = 0;

	skip_space(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return -1;
	q = *c->p++;
	while (c->p < c->end && *c->p != q) {
		if (*c->p == '\\' || n + 1 >= len)
			return -1;
		buf[n++] = *c->p++;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	buf[n] = 0;
	return 0;
}

static int parse_word(cursor *c, const char *word)
{
	size_t n = strlen(word);

	skip_space(c);
	if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
		c->p += n;
		return 0;
	}
	return -1;
}

static int parse_shape(cursor *c, qp_npy *r, qp_err *err)
{
	r->rank = 0;
	if (!eat(c, '('))
		return qp_err_set(err, "bad .npy header: 'shape' is not a tuple");
	for (;;) {
		int64_t v = 0;

		if (eat(c, ')'))
			return 0;
		skip_space(c);
		if (c->p >= c->end || !isdigit((unsigned char)*c->p))
			return qp_err_set(err, "bad .npy header: bad 'shape' value");
		while (c->p < c->end && isdigit((unsigned char)*c->p)) {
			if (v > (INT64_MAX - 9) / 10)
				return qp_err_set(err, "bad .npy header: 'shape' dim too large");
			v = v * 10 + (*c->p++ - '0');
		}
		if (c->p < c->end && *c->p == 'L')   /* Python 2 longs */
			c->p++;
		if (r->rank >= QP_MAX_RANK)
			return qp_err_set(err, "array has more than %d dims", QP_MAX_RANK);
		r->dims[r->rank++] = v;
		if (!eat(c, ',')) {
			if (eat(c, ')'))
				return 0;
			return qp_err_set(err, "bad .npy header: bad 'shape' tuple");
		}
	}
}

static int parse_header(const char *text, size_t len, qp_npy *r, qp_err *err)
{
	cursor c = {text, text + len};
	int have_descr = 0, have_order = 0, have_shape = 0;
	char key[32], descr[32];

	if (!eat(&c, '{'))
		return qp_err_set(err, "bad .npy header: not a dict");
	while (!eat(&c, '}')) {
		if (parse_str(&c, key, sizeof key) || !eat(&c, ':'))
			return qp_err_set(err, "bad .npy header: bad key");
		if (strcmp(key, "descr") == 0) {
			const struct npy_dtype *d = NULL;

			if (parse_str(&c, descr, sizeof descr))
				return qp_err_set(err, "bad .npy header: 'descr' is not a plain dtype string");
			for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
				if (strcmp(descr + 1, npy_dtypes[i].descr) == 0)
					d = &npy_dtypes[i];
			if (!d || !strchr("<>|=", descr[0]))
				return qp_err_set(err, "unsupported dtype '%s' (want float32/64, int8/16/32/64, uint8 or bool)",
						  descr);
			if (descr[0] == '>' && d->size > 1)
				return qp_err_set(err, "big-endian dtype '%s' is not supported", descr);
			r->type = d->type;
			r->elem_size = d->size;
			have_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0) {
			if (parse_word(&c, "True") == 0)
				return qp_err_set(err, "fortran_order True is not supported; save the array in C order");
			if (parse_word(&c, "False"))
				return qp_err_set(err, "bad .npy header: bad 'fortran_order'");
			have_order = 1;
		} else if (strcmp(key, "shape") == 0) {
			if (parse_shape(&c, r, err))
				return -1;
			have_shape = 1;
		} else {
			return qp_err_set(err, "bad .npy header: unknown key '%s'", key);
		}
		if (!eat(&c, ',')) {
			if (eat(&c, '}'))
				break;
			return qp_err_set(err, "bad .npy header: expected ',' or '}'");
		}
	}
	if (!have_descr || !have_order || !have_shape)
		return qp_err_set(err, "bad .npy header: missing 'descr', 'fortran_order' or 'shape'");
	return 0;
}

/* ---- reader ---------------------------------------------------------------- */

static int read_exact(FILE *fp, void *buf, size_t n, const char *what,
		      qp_err *err)
{
	if (n && fread(buf, 1, n, fp) != n) {
		if (ferror(fp))
			return qp_err_errno(err, "read error");
		return qp_err_set(err, "truncated %s", what);
	}
	return 0;
}

int qp_npy_open(qp_npy *r, const char *path, qp_err *err)
{
	FILE *fp;
	struct stat st;

	if (qp_is_stdio(path))
		return qp_npy_open_stream(r, stdin, 0, err);
	fp = fopen(path, "rb");
	if (!fp) {
		memset(r, 0, sizeof *r);
		return qp_err_errno(err, "cannot open");
	}
	/* fopen succeeds on a directory; the first read would fail. */
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		memset(r, 0, sizeof *r);
		return qp_err_set(err, "is a directory, not a .npy file");
	}
	return qp_npy_open_stream(r, fp, 1, err);
}

int qp_npy_open_stream(qp_npy *r, FILE *fp, int owns_fp, qp_err *err)
{
	unsigned char pre[12];
	size_t hlen, pre_len;
	char *header = NULL;
	int64_t numel = 1;
	struct stat st;

	memset(r, 0, sizeof *r);
	r->fp = fp;
	r->owns_fp = owns_fp;
	pre_len = fread(pre, 1, 10, r->fp);
	if (pre_len < 10 && ferror(r->fp)) {
		qp_err_errno(err, "read error");
		qp_npy_close(r);
		return -1;
	}
	/* Judge the magic on the bytes there are: a file cut inside the
	 * magic or the version and length after it is truncated, not foreign. */
	if (memcmp(pre, NPY_MAGIC, pre_len < 6 ? pre_len : 6) != 0) {
		qp_npy_close(r);
		return qp_err_set(err, "not a .npy file (bad magic)");
	}
	if (pre_len < 10) {
		qp_npy_close(r);
		if (pre_len == 0)
			return qp_err_set(err, "truncated .npy header: the file is empty");
		return qp_err_set(err, "truncated .npy header: the file ends after %zu bytes",
				  pre_len);
	}
	if (pre[6] == 1) {
		hlen = pre[8] | (size_t)pre[9] << 8;
		pre_len = 10;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, r->fp) != 2) {
			qp_npy_close(r);
			return qp_err_set(err, "truncated .npy header");
		}
		hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
		       (size_t)pre[11] << 24;
		pre_len = 12;
	} else {
		qp_npy_close(r);
		return qp_err_set(err, ".npy format version %d.%d is not supported",
				  pre[6], pre[7]);
	}
	if (hlen == 0 || hlen > NPY_MAX_HEADER) {
		qp_npy_close(r);
		return qp_err_set(err, "bad .npy header length %zu", hlen);
	}
	header = malloc(hlen);
	if (!header) {
		qp_npy_close(r);
		return qp_err_set(err, "out of memory");
	}
	if (read_exact(r->fp, header, hlen, ".npy header", err) ||
	    parse_header(header, hlen, r, err)) {
		free(header);
		qp_npy_close(r);
		return -1;
	}
	free(header);
	for (int i = 0; i < r->rank; i++) {
		if (r->dims[i] && numel > INT64_MAX / 8 / r->dims[i]) {
			qp_npy_close(r);
			return qp_err_set(err, "array too large");
		}
		numel *= r->dims[i];
	}
	r->rows = r->rank ? r->dims[0] : 1;
	r->row_elems = 1;
	for (int i = 1; i < r->rank; i++)
		r->row_elems *= r->dims[i];
	/* A regular file's length is known: catch truncation before reading. */
	if (r->owns_fp && fileno(r->fp) >= 0 && fstat(fileno(r->fp), &st) == 0 &&
	    S_ISREG(st.st_mode) && ftell(r->fp) == (long)(pre_len + hlen)) {
		int64_t want = (int64_t)(pre_len + hlen) + numel * (int64_t)r->elem_size;

		if ((int64_t)st.st_size < want) {
			qp_npy_close(r);
			return qp_err_set(err, "truncated data: the header promises %lld bytes, the file has %lld",
					  (long long)want, (long long)st.st_size);
		}
		if ((int64_t)st.st_size > want) {
			qp_npy_close(r);
			return qp_err_set(err, "%lld bytes of trailing garbage after the array",
					  (long long)(st.st_size - want));
		}
	}
	return 0;
}

static int check_rows(qp_npy *r, int64_t n, qp_err *err)
{
	if (n < 0 || n > r->rows - r->rows_read)
		return qp_err_set(err, "asked for %lld rows, %lld left",
				  (long long)n, (long long)(r->rows - r->rows_read));
	return 0;
}

/* Reads count elements into a bounce buffer piece by piece and hands each
 * piece to convert(), so a float64 file needs no second full-size copy. */
#define NPY_CHUNK 4096

static double elem_as_double(const unsigned char *p, qp_npy_type t)
{
	/* Little-endian host assumed for multi-byte types (checked below). */
	switch (t) {
	case QP_NPY_F32: { float v; memcpy(&v, p, 4); return v; }
	case QP_NPY_F64: { double v; memcpy(&v, p, 8); return v; }
	case QP_NPY_I8: return (int8_t)p[0];
	case QP_NPY_U8: return p[0];
	case QP_NPY_BOOL: return p[0] != 0;
	case QP_NPY_I16: { int16_t v; memcpy(&v, p, 2); return v; }
	case QP_NPY_I32: { int32_t v; memcpy(&v, p, 4); return v; }
	case QP_NPY_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
	}
	return 0;
}

static int64_t elem_as_i64(const unsigned char *p, qp_npy_type t)
{
	switch (t) {
	case QP_NPY_I64: { int64_t v; memcpy(&v, p, 8); return v; }
	case QP_NPY_I32: { int32_t v; memcpy(&v, p, 4); return v; }
	case QP_NPY_I16: { int16_t v; memcpy(&v, p, 2); return v; }
	case QP_NPY_I8: return (int8_t)p[0];
	default: return p[0];
	}
}

int qp_npy_read_rows_f32(qp_npy *r, int64_t n, float *dst, qp_err *err)
{
	int64_t count;
	unsigned char buf[NPY_CHUNK * 8];

	_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
		       "the .npy reader assumes a little-endian host");
	if (check_rows(r, n, err))
		return -1;
	count = n * r->row_elems;
	if (r->type == QP_NPY_F32) {
		if (read_exact(r->fp, dst, (size_t)count * 4, "data", err))
			return -1;
	} else {
		for (int64_t done = 0; done < count;) {
			int64_t k = count - done < NPY_CHUNK ? count - done : NPY_CHUNK;

			if (read_exact(r->fp, buf, (size_t)k * r->elem_size, "data", err))
				return -1;
			for (int64_t i = 0; i < k; i++)
				dst[done + i] = (float)elem_as_double(buf + i * r->elem_size, r->type);
			done += k;
		}
	}
	r->rows_read += n;
	return 0;
}

int qp_npy_read_rows_i64(qp_npy *r, int64_t n, int64_t *dst, qp_err *err)
{
	int64_t count;
	unsigned char buf[NPY_CHUNK * 8];

	if (r->type == QP_NPY_F32 || r->type == QP_NPY_F64)
		return qp_err_set(err, "expected integers, the array holds floats");
	if (check_rows(r, n, err))
		return -1;
	count = n * r->row_elems;
	for (int64_t done = 0; done < count;) {
		int64_t k = count - done < NPY_CHUNK ? count - done : NPY_CHUNK;

		if (read_exact(r->fp, buf, (size_t)k * r->elem_size, "data", err))
			return -1;
		for (int64_t i = 0; i < k; i++)
			dst[done + i] = elem_as_i64(buf + i * r->elem_size, r->type);
		done += k;
	}
	r->rows_read += n;
	return 0;
}

void qp_npy_close(qp_npy *r)
{
	if (r->fp && r->owns_fp)
		fclose(r->fp);
	r->fp = NULL;
	r->owns_fp = 0;
}

/* ---- writer ------------------------------------------------------------------ */

int qp_npy_write_header(qp_out *o, qp_npy_type type, int rank,
			const int64_t *dims, qp_err *err)
{
	const struct npy_dtype *d = dtype_by_type(type);
	char dict[1024];
	unsigned char pre[12];
	size_t n, total, pre_len = 10;
	int used;

	if (!d || rank < 0 || rank > QP_MAX_RANK)
		return qp_err_set(err, "cannot write a .npy of this type or rank");
	used = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
			d->size == 1 ? '|' : '<', d->descr);
	for (int i = 0; i < rank; i++)
		used += snprintf(dict + used, sizeof dict - (size_t)used, "%lld,%s",
				 (long long)dims[i], i + 1 < rank ? " " : "");
	if (rank > 1)   /* numpy writes (2, 3), but (5,) for one dim */
		used--;
	used += snprintf(dict + used, sizeof dict - (size_t)used, "), }");
	n = (size_t)used;
	/* Pad with spaces so the data starts at a multiple of 64, end in '\n'
	 * (what numpy itself writes). */
	total = (pre_len + n + 1 + 63) / 64 * 64;
	memcpy(pre, NPY_MAGIC, 6);
	pre[6] = 1;
	pre[7] = 0;
	pre[8] = (unsigned char)((total - pre_len) & 0xff);
	pre[9] = (unsigned char)((total - pre_len) >> 8);
	memset(dict + n, ' ', total - pre_len - n - 1);
	dict[total - pre_len - 1] = '\n';
	if (qp_out_write(o, pre, pre_len, err) ||
	    qp_out_write(o, dict, total - pre_len, err))
		return -1;
	return 0;
}

int qp_npy_save(const char *path, qp_npy_type type, int rank,
		const int64_t *dims, const void *data, int force, qp_err *err)
{
	qp_out o;
	const struct npy_dtype *d = dtype_by_type(type);
	int64_t numel = 1;

	if (!d)
		return qp_err_set(err, "cannot write a .npy of this type");
	for (int i = 0; i < rank; i++)
		numel *= dims[i];
	if (qp_out_open(&o, path, 1, force, err))
		return -1;
	if (qp_npy_write_header(&o, type, rank, dims, err) ||
	    qp_out_write(&o, data, (size_t)numel * d->size, err)) {
		qp_out_abort(&o);
		return -1;
	}
	return qp_out_commit(&o, err);
}
