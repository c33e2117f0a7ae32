/* NumPy .npy files (format versions 1.0, 2.0, 3.0), little-endian, C order.
 *
 * The reader streams: qp_npy_open parses and validates the header, then
 * qp_npy_read_rows reads a few rows (slices along the first axis) at a time,
 * so tools never hold a whole data set in memory.  float64/int32/int64/uint8
 * etc. are accepted; qp_npy_read_rows_f32 converts to float32.
 */
#ifndef QP_NPY_H
#define QP_NPY_H

#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "io.h"

typedef enum qp_npy_type {
	QP_NPY_F32, QP_NPY_F64, QP_NPY_I8, QP_NPY_U8, QP_NPY_I16, QP_NPY_I32,
	QP_NPY_I64, QP_NPY_BOOL
} qp_npy_type;

typedef struct qp_npy {
	FILE *fp;
	int owns_fp;
	qp_npy_type type;
	size_t elem_size;
	int rank;
	int64_t dims[QP_MAX_RANK];
	int64_t row_elems;        /* product of dims[1..] (1 for rank 0/1) */
	int64_t rows;             /* dims[0] (1 for rank 0) */
	int64_t rows_read;
} qp_npy;

/* Opens and validates (magic, version, dict, dtype, order, sizes against the
 * file length when it is a regular file). path "-" = stdin. */
int qp_npy_open(qp_npy *r, const char *path, qp_err *err);
/* The same for an open stream positioned at the magic (a zip member through
 * fopencookie, say); the stream is closed by qp_npy_close when owns_fp.
 * On failure the stream is closed too when owns_fp.  The length check
 * against the file size applies only to a regular file
 * whose array starts at offset 0. */
int qp_npy_open_stream(qp_npy *r, FILE *fp, int owns_fp, qp_err *err);
/* Reads n rows as float32 into dst (n * row_elems floats). */
int qp_npy_read_rows_f32(qp_npy *r, int64_t n, float *dst, qp_err *err);
/* Reads n rows as int64 (integer files only). */
int qp_npy_read_rows_i64(qp_npy *r, int64_t n, int64_t *dst, qp_err *err);
void qp_npy_close(qp_npy *r);

/* Writes a header for dtype (QP_NPY_F32, QP_NPY_I64, QP_NPY_I8, ...) and
 * shape to an open output; the caller then writes the data. */
int qp_npy_write_header(qp_out *o, qp_npy_type type, int rank,
			const int64_t *dims, qp_err *err);
/* Writes a whole array atomically. */
int qp_npy_save(const char *path, qp_npy_type type, int rank,
		const int64_t *dims, const void *data, int force, qp_err *err);

#endif
