#include "idx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* Reads more input after the unread bytes (moved to the front). */
static int fill(qp_idx *f, qp_err *err)
{
	ssize_t r;

	if (f->zs.avail_in && f->zs.next_in != f->in)
		memmove(f->in, f->zs.next_in, f->zs.avail_in);
	f->zs.next_in = f->in;
	do
		r = read(f->fd, f->in + f->zs.avail_in, sizeof f->in - f->zs.avail_in);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return qp_err_errno(err, "read error");
	if (r == 0)
		f->eof = 1;
	f->zs.avail_in += (uInt)r;
	f->raw_read += r;
	return 0;
}

/* A gzip member has ended.  Another may follow (gzip's multi-member
 * streams); anything else is trailing data, an error (docs/man/idx2npy.md),
 * counted to the end of the file for the message. */
static int member_end(qp_idx *f, qp_err *err)
{
	int64_t end = f->raw_read - f->zs.avail_in, extra = 0;

	while (f->zs.avail_in < 2 && !f->eof)
		if (fill(f, err))
			return -1;
	if (f->zs.avail_in == 0) {
		f->stream_end = 1;
		return 0;
	}
	if (f->zs.avail_in >= 2 && f->zs.next_in[0] == 0x1f && f->zs.next_in[1] == 0x8b)
		return inflateReset(&f->zs) == Z_OK ? 0 : qp_err_set(err, "out of memory");
	do {
		extra += f->zs.avail_in;
		f->zs.avail_in = 0;
		if (!f->eof && fill(f, err))
			return -1;
	} while (f->zs.avail_in);
	return qp_err_set(err, "trailing data: %lld bytes after the gzip stream, which ends at byte %lld",
			  (long long)extra, (long long)end);
}

/* Reads up to len bytes; returns the count read (short only at the end of
 * the data) or -1 on a read error or a corrupt, truncated or trailed gzip
 * stream, with the message in err. */
static int64_t read_bytes(qp_idx *f, void *dst, int64_t len, qp_err *err)
{
	unsigned char *out = dst;
	int64_t done = 0;

	while (done < len) {
		uInt want = len - done > (1 << 30) ? 1u << 30 : (uInt)(len - done);
		int rc;

		if (f->zs.avail_in == 0 && !f->eof && fill(f, err))
			return -1;
		if (!f->gzip) {
			uInt n = f->zs.avail_in < want ? f->zs.avail_in : want;

			if (n == 0)
				break;
			memcpy(out + done, f->zs.next_in, n);
			f->zs.next_in += n;
			f->zs.avail_in -= n;
			done += n;
			continue;
		}
		if (f->stream_end)
			break;
		f->zs.next_out = out + done;
		f->zs.avail_out = want;
		rc = inflate(&f->zs, Z_NO_FLUSH);
		done += want - f->zs.avail_out;
		if (rc == Z_STREAM_END) {
			if (member_end(f, err))
				return -1;
		} else if (rc == Z_BUF_ERROR) {
			/* No progress with room to write: the input ran out. */
			if (f->eof)
				return qp_err_set(err, "corrupt or truncated gzip data (unexpected end of file)");
		} else if (rc == Z_MEM_ERROR) {
			return qp_err_set(err, "out of memory");
		} else if (rc != Z_OK) {
			return qp_err_set(err, "corrupt gzip data (%s)",
					  f->zs.msg ? f->zs.msg : "compressed data error");
		}
	}
	f->pos += done;
	return done;
}

static int short_data(const qp_idx *f, int64_t items_before, int64_t got, qp_err *err);

int qp_idx_open(qp_idx *f, const char *path, qp_err *err)
{
	unsigned char head[4], raw[4 * QP_IDX_MAX_RANK];
	uint64_t bytes = 1;
	int64_t got;
	struct stat st;
	int fd, i;

	memset(f, 0, sizeof *f);
	fd = qp_is_stdio(path) ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return qp_err_errno(err, "cannot open");
	f->live = 1;
	f->fd = fd;
	f->zs.next_in = f->in;
	f->start = lseek(fd, 0, SEEK_CUR);
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		return qp_err_set(err, "is a directory, not an IDX file");
	/* gzip is recognised by its magic, so "x.idx" and "x.idx.gz" take
	 * the same path. */
	while (f->zs.avail_in < 2 && !f->eof)
		if (fill(f, err))
			return -1;
	if (f->zs.avail_in >= 2 && f->in[0] == 0x1f && f->in[1] == 0x8b) {
		if (inflateInit2(&f->zs, 15 + 16) != Z_OK)
			return qp_err_set(err, "out of memory opening the file");
		f->gzip = 1;
	}
	got = read_bytes(f, head, 4, err);
	if (got < 0)
		return -1;
	if (got < 4)
		return qp_err_set(err, "truncated: the file ends after %lld of the 4 magic bytes",
				  (long long)got);
	if (head[0] != 0 || head[1] != 0)
		return qp_err_set(err, "not an IDX file: magic 0x%02x%02x%02x%02x "
				  "(want 0x00000803 for images or 0x00000801 for labels)",
				  head[0], head[1], head[2], head[3]);
	if (head[2] != 0x08)
		return qp_err_set(err, "unsupported IDX element type 0x%02x "
				  "(only 0x08, unsigned byte, is supported)", head[2]);
	if (head[3] != 1 && head[3] != 3)
		return qp_err_set(err, "unsupported IDX rank %d "
				  "(want 3 for images or 1 for labels)", head[3]);
	f->rank = head[3];
	got = read_bytes(f, raw, 4 * f->rank, err);
	if (got < 0)
		return -1;
	if (got < 4 * f->rank)
		return qp_err_set(err, "truncated: the header ends after %lld of its %d dimension bytes",
				  (long long)got, 4 * f->rank);
	for (i = 0; i < f->rank; i++) {
		f->dims[i] = (uint32_t)raw[4 * i] << 24 | (uint32_t)raw[4 * i + 1] << 16 |
			     (uint32_t)raw[4 * i + 2] << 8 | raw[4 * i + 3];
		if (i > 0 && f->dims[i] == 0)
			return qp_err_set(err, "image dimension %d is 0", i);
		if (i > 0)
			bytes *= f->dims[i];
	}
	/* H*W < 2^64 always (unsigned); the item and the whole set must also
	 * fit in int64. */
	if (bytes > INT64_MAX || f->dims[0] > INT64_MAX / bytes)
		return qp_err_set(err, "dimensions too large");
	f->items = f->dims[0];
	f->item_bytes = (int64_t)bytes;
	/* An uncompressed file says how much data it holds: a header that
	 * promises more is refused now, before anyone sizes a buffer by it. */
	f->file_bytes = !f->gzip && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
			(int64_t)st.st_size : -1;
	if (f->file_bytes >= 0) {
		int64_t have = f->file_bytes - qp_idx_header_bytes(f);

		if (f->items > 0 && have / f->item_bytes < f->items)
			return short_data(f, 0, have, err);
	}
	return 0;
}

/* "10000x28x28" for messages. */
static const char *dims_text(const qp_idx *f, char *buf, size_t size)
{
	if (f->rank == 3)
		snprintf(buf, size, "%ux%ux%u", f->dims[0], f->dims[1], f->dims[2]);
	else
		snprintf(buf, size, "%u", f->dims[0]);
	return buf;
}

static int short_data(const qp_idx *f, int64_t items_before, int64_t got, qp_err *err)
{
	char dims[64];

	return qp_err_set(err, "truncated: %lld data bytes where dimensions %s need %lld",
			  (long long)(items_before * f->item_bytes + got),
			  dims_text(f, dims, sizeof dims),
			  (long long)(f->items * f->item_bytes));
}

int qp_idx_read_items(qp_idx *f, int64_t n, uint8_t *dst, qp_err *err)
{
	int64_t got;

	if (n < 0 || n > f->items - f->items_read)
		qp_bug("qp_idx_read_items past the end (%lld items)", (long long)n);
	got = read_bytes(f, dst, n * f->item_bytes, err);
	if (got < 0)
		return -1;
	if (got < n * f->item_bytes)
		return short_data(f, f->items_read, got, err);
	f->items_read += n;
	return 0;
}

int qp_idx_finish(qp_idx *f, qp_err *err)
{
	unsigned char scratch[65536];
	char dims[64];
	int64_t left = (f->items - f->items_read) * f->item_bytes, got;

	while (left > 0) {
		int64_t want = left < (int64_t)sizeof scratch ? left : (int64_t)sizeof scratch;

		got = read_bytes(f, scratch, want, err);
		if (got < 0)
			return -1;
		if (got < want)
			return short_data(f, 0, f->items * f->item_bytes - left + got, err);
		left -= got;
	}
	f->items_read = f->items;
	got = read_bytes(f, scratch, 1, err);
	if (got < 0)
		return -1;
	if (got > 0)
		return qp_err_set(err, "trailing data after the %lld bytes that dimensions %s describe",
				  (long long)(f->items * f->item_bytes),
				  dims_text(f, dims, sizeof dims));
	return 0;
}

void qp_idx_close(qp_idx *f)
{
	if (!f->live)
		return;
	if (f->gzip)
		inflateEnd(&f->zs);
	close(f->fd);
	f->live = f->gzip = 0;
}

int64_t qp_idx_header_bytes(const qp_idx *f)
{
	return 4 + 4 * (int64_t)f->rank;
}

int qp_idx_seek(qp_idx *f, int64_t k, qp_err *err)
{
	int64_t target;

	if (k < 0 || k >= f->items)
		qp_bug("qp_idx_seek to item %lld of %lld", (long long)k, (long long)f->items);
	if (k == f->items_read)
		return 0;
	target = qp_idx_header_bytes(f) + k * f->item_bytes;
	if (!f->gzip && f->start >= 0 && lseek(f->fd, f->start + target, SEEK_SET) >= 0) {
		f->zs.avail_in = 0;
		f->eof = 0;
		f->raw_read = f->pos = target;
	} else {
		/* A gzip stream (or a pipe) reads forward; going back rereads
		 * from the start, as gzseek does. */
		if (target < f->pos) {
			if (f->start < 0 || lseek(f->fd, f->start, SEEK_SET) < 0)
				return qp_err_errno(err, "cannot seek to item %lld", (long long)k);
			f->zs.avail_in = 0;
			f->eof = f->stream_end = 0;
			f->raw_read = f->pos = 0;
			if (f->gzip && inflateReset(&f->zs) != Z_OK)
				return qp_err_set(err, "out of memory");
		}
		while (f->pos < target) {
			unsigned char scratch[4096];
			int64_t want = target - f->pos < (int64_t)sizeof scratch ?
				       target - f->pos : (int64_t)sizeof scratch;
			int64_t got = read_bytes(f, scratch, want, err);

			if (got < 0)
				return -1;
			if (got < want)
				return short_data(f, 0, f->pos - qp_idx_header_bytes(f), err);
		}
	}
	f->items_read = k;
	return 0;
}
