#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int qp_is_stdio(const char *path)
{
	return !path || strcmp(path, "-") == 0;
}

int qp_read_all(const char *path, void **buf, size_t *len, size_t limit,
		qp_err *err)
{
	int fd = qp_is_stdio(path) ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 16, n = 0;
	unsigned char *data = NULL;
	struct stat st;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return qp_err_errno(err, "cannot open");
	/* A regular file is read in one allocation of its exact size. */
	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			goto isdir;
		if (S_ISREG(st.st_mode) && (size_t)st.st_size + 1 > cap)
			cap = (size_t)st.st_size + 1;
	}
	data = malloc(cap);
	if (!data)
		goto oom;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			unsigned char *grown;

			if (cap > SIZE_MAX / 2)
				goto oom;
			grown = realloc(data, cap * 2);
			if (!grown)
				goto oom;
			data = grown;
			cap *= 2;
		}
		r = read(fd, data + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			qp_err_errno(err, "read error");
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (limit && n > limit) {
			qp_err_set(err, "file is larger than %zu bytes", limit);
			goto fail;
		}
	}
	data[n] = 0;
	if (fd != STDIN_FILENO)
		close(fd);
	*buf = data;
	*len = n;
	return 0;
isdir:
	qp_err_set(err, "is a directory");
	goto fail;
oom:
	qp_err_set(err, "out of memory reading the file");
fail:
	free(data);
	if (fd != STDIN_FILENO)
		close(fd);
	return -1;
}

int qp_out_open(qp_out *o, const char *path, int binary, int force, qp_err *err)
{
	const char *slash;
	size_t dirlen;
	int fd;

	memset(o, 0, sizeof *o);
	if (qp_is_stdio(path)) {
		if (binary && !force && isatty(STDOUT_FILENO))
			return qp_err_set(err, "refusing to write binary output to a terminal (use -o FILE, or -f)");
		o->fp = stdout;
		return 0;
	}
	o->path = strdup(path);
	/* The temporary file lives beside the target so rename() is atomic. */
	slash = strrchr(path, '/');
	dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	o->tmp = malloc(dirlen + strlen(path + dirlen) + 16);
	if (!o->path || !o->tmp) {
		qp_out_abort(o);
		return qp_err_set(err, "out of memory");
	}
	memcpy(o->tmp, path, dirlen);
	sprintf(o->tmp + dirlen, ".%s.XXXXXX", path + dirlen);
	fd = mkstemp(o->tmp);
	if (fd < 0) {
		qp_err_errno(err, "cannot create a file beside '%s'", path);
		free(o->tmp);
		o->tmp = NULL;
		qp_out_abort(o);
		return -1;
	}
	/* mkstemp makes 0600 files; outputs are ordinary files. */
	{
		mode_t mask = umask(0);

		umask(mask);
		fchmod(fd, 0666 & ~mask);
	}
	o->fp = fdopen(fd, "wb");
	if (!o->fp) {
		close(fd);
		qp_err_errno(err, "cannot open '%s'", path);
		qp_out_abort(o);
		return -1;
	}
	return 0;
}

int qp_out_write(qp_out *o, const void *buf, size_t len, qp_err *err)
{
	if (len && fwrite(buf, 1, len, o->fp) != len)
		return qp_err_errno(err, "write error");
	return 0;
}

int qp_out_commit(qp_out *o, qp_err *err)
{
	int bad = 0;

	if (!o->fp)
		return qp_err_set(err, "output is not open");
	if (fflush(o->fp) != 0 || ferror(o->fp))
		bad = 1;
	if (!bad && o->tmp && fsync(fileno(o->fp)) != 0 && errno != EINVAL)
		bad = 1;
	if (!o->tmp) {
		/* stdout: the caller's stream; report errors, keep it open. */
		o->fp = NULL;
		if (bad)
			return qp_err_errno(err, "write error on standard output");
		return 0;
	}
	if (fclose(o->fp) != 0)
		bad = 1;
	o->fp = NULL;
	if (bad) {
		qp_err_errno(err, "write error");
		qp_out_abort(o);
		return -1;
	}
	if (rename(o->tmp, o->path) != 0) {
		qp_err_errno(err, "cannot rename into '%s'", o->path);
		qp_out_abort(o);
		return -1;
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return 0;
}

void qp_out_abort(qp_out *o)
{
	if (o->fp && o->fp != stdout)
		fclose(o->fp);
	o->fp = NULL;
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
}
