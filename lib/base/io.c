#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* The temporary name is ".NAME.XXXXXX" beside the target; a long NAME is
 * cut so the whole name still fits one directory entry (NAME_MAX). */
#define TMP_EXTRA 8   /* "." + ".XXXXXX" */

/* Follows a chain of symbolic links in the last component of path, so the
 * link's target is what gets replaced, in the target's own directory.  A
 * dangling link yields the path it points at (the file is then created
 * there, as a shell's '>' would).  Returns a malloc'd path or NULL with
 * errno set. */
static char *resolve_links(const char *path)
{
	char *cur = strdup(path);
	int hops;

	for (hops = 0; cur; hops++) {
		struct stat st;
		char target[PATH_MAX];
		const char *slash;
		ssize_t n;
		size_t dirlen;
		char *next;

		if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
			return cur;
		if (hops == 40) {
			free(cur);
			errno = ELOOP;
			return NULL;
		}
		n = readlink(cur, target, sizeof target - 1);
		if (n < 0) {
			free(cur);
			return NULL;
		}
		target[n] = 0;
		slash = strrchr(cur, '/');
		dirlen = target[0] != '/' && slash ? (size_t)(slash - cur) + 1 : 0;
		next = malloc(dirlen + (size_t)n + 1);
		if (next) {
			memcpy(next, cur, dirlen);
			memcpy(next + dirlen, target, (size_t)n + 1);
		}
		free(cur);
		cur = next;
	}
	errno = ENOMEM;
	return NULL;
}

/* Opens a device, FIFO or socket for writing as it is: renaming a file over
 * it would destroy the node and never reach its reader. */
static int open_in_place(const char *path, const struct stat *st)
{
	int fd;

	if (S_ISSOCK(st->st_mode)) {
		struct sockaddr_un addr = {.sun_family = AF_UNIX};

		if (strlen(path) >= sizeof addr.sun_path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(addr.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		return fd;
	}
	do
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* The temporary file takes the mode of the file it replaces (and its owner
 * where we may give it, i.e. as root), so replacing a 0600 file does not
 * publish it; a new file gets 0666 less the umask, as open(2) would. */
static void copy_attributes(int fd, const struct stat *old)
{
	mode_t mode;

	if (old) {
		if ((old->st_uid != geteuid() || old->st_gid != getegid()) &&
		    fchown(fd, old->st_uid, old->st_gid) != 0) {
			/* Not ours to give away: the file keeps our ownership. */
		}
		mode = old->st_mode & 07777;
	} else {
		mode_t mask = umask(0);

		umask(mask);
		mode = 0666 & ~mask;
	}
	if (fchmod(fd, mode) != 0) {
		/* mkstemp's 0600 stays: stricter, never looser. */
	}
}

int qp_out_open(qp_out *o, const char *path, int binary, int force, qp_err *err)
{
	const char *base;
	struct stat st;
	int fd, exists;
	size_t dirlen, baselen;

	memset(o, 0, sizeof *o);
	if (qp_is_stdio(path)) {
		if (binary && !force && isatty(STDOUT_FILENO))
			return qp_err_set(err, "refusing to write binary output to a terminal");
		o->fp = stdout;
		return 0;
	}
	if (!*path)
		return qp_err_set(err, "the output path is empty ('')");
	o->path = resolve_links(path);
	if (!o->path)
		return qp_err_errno(err, "cannot follow the symbolic link '%s'", path);
	exists = stat(o->path, &st) == 0;
	if (!exists && errno != ENOENT) {
		qp_err_errno(err, "cannot write '%s'", path);
		qp_out_abort(o);
		return -1;
	}
	if (exists && S_ISDIR(st.st_mode)) {
		qp_err_set(err, "cannot write '%s': is a directory", path);
		qp_out_abort(o);
		return -1;
	}
	if (exists && !S_ISREG(st.st_mode)) {
		fd = open_in_place(o->path, &st);
		if (fd < 0 || !(o->fp = fdopen(fd, "wb"))) {
			qp_err_errno(err, "cannot open '%s'", path);
			if (fd >= 0)
				close(fd);
			qp_out_abort(o);
			return -1;
		}
		return 0;
	}
	/* The temporary file lives beside the target so rename() is atomic. */
	base = strrchr(o->path, '/');
	base = base ? base + 1 : o->path;
	dirlen = (size_t)(base - o->path);
	baselen = strlen(base);
	if (baselen > NAME_MAX - TMP_EXTRA)
		baselen = NAME_MAX - TMP_EXTRA;
	o->tmp = malloc(dirlen + baselen + TMP_EXTRA + 1);
	if (!o->tmp) {
		qp_out_abort(o);
		return qp_err_set(err, "out of memory");
	}
	sprintf(o->tmp, "%.*s.%.*s.XXXXXX", (int)dirlen, o->path, (int)baselen, base);
	fd = mkostemp(o->tmp, O_CLOEXEC);
	if (fd < 0) {
		qp_err_errno(err, "cannot create a file beside '%s'", path);
		free(o->tmp);
		o->tmp = NULL;
		qp_out_abort(o);
		return -1;
	}
	copy_attributes(fd, exists ? &st : NULL);
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
	if (o->fp == stdout) {
		/* stdout: the caller's stream; report errors, keep it open. */
		o->fp = NULL;
		if (bad)
			return qp_err_errno(err, "write error on standard output");
		return 0;
	}
	if (fclose(o->fp) != 0 && !bad)
		bad = 1;
	o->fp = NULL;
	if (bad) {
		qp_err_errno(err, "write error");
		qp_out_abort(o);
		return -1;
	}
	if (o->tmp && rename(o->tmp, o->path) != 0) {
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
