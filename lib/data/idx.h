/* Streaming reader for IDX files (the MNIST / Fashion-MNIST format),
 * plain or gzip-compressed.
 *
 * Layout (big-endian): two zero bytes, an element-type byte (only 0x08,
 * unsigned byte, is accepted: that is what MNIST uses), a rank byte, then
 * rank u32 dimensions, then the elements.  Rank 3 is a set of images
 * (N,H,W), rank 1 a set of labels (N).
 *
 * Like the rest of qpipe's library code, these functions print nothing:
 * they return 0 or -1 and fill a qp_err.
 */
#ifndef QP_IDX_H
#define QP_IDX_H

#include <stdint.h>
#include <zlib.h>

#include "err.h"

#define QP_IDX_MAX_RANK 3

typedef struct qp_idx {
	int live;                      /* fd is open (and zs, when gzip) */
	int fd;
	int gzip;                      /* the data is gzip (else read as is) */
	int eof;                       /* read() returned 0 */
	int stream_end;                /* gzip: the last member has ended */
	z_stream zs;                   /* next_in/avail_in: the unread input */
	int64_t start;                 /* fd offset of byte 0 (-1: a pipe) */
	int64_t raw_read;              /* bytes read from fd since byte 0 */
	int64_t pos;                   /* uncompressed bytes delivered */
	unsigned char in[1 << 14];
	int rank;                      /* 1 (labels) or 3 (images) */
	uint32_t dims[QP_IDX_MAX_RANK];   /* dims[0] = number of items */
	int64_t items;                 /* dims[0] */
	int64_t item_bytes;            /* product of dims[1..] (1 for labels) */
	int64_t items_read;
	int64_t file_bytes;            /* a plain regular file's length; -1 when
					  compressed or not a regular file */
} qp_idx;

/* Opens path ("-" = stdin; gzip is detected from the data, not the name)
 * and validates the header: magic, element type, rank, dimensions, and no
 * overflow in the data size.  Concatenated gzip members are one stream (as
 * for gunzip); bytes after the last member that are not one are an error
 * when the reader gets there (unlike zlib's gzread, which ignores them). */
int qp_idx_open(qp_idx *f, const char *path, qp_err *err);
/* Reads the next n items (n * item_bytes bytes) into dst.  A short file or
 * a damaged gzip stream is an error. */
int qp_idx_read_items(qp_idx *f, int64_t n, uint8_t *dst, qp_err *err);
/* Reads and discards the items not read yet, then checks that the file
 * ends exactly there: the data length must match the dimensions. */
int qp_idx_finish(qp_idx *f, qp_err *err);
/* Positions the reader at item k (< items): the next read starts there.
 * Seeking back in a gzip stream rereads it from the start (zlib). */
int qp_idx_seek(qp_idx *f, int64_t k, qp_err *err);
/* Bytes before the first item: the magic and the dimensions. */
int64_t qp_idx_header_bytes(const qp_idx *f);
void qp_idx_close(qp_idx *f);

#endif
