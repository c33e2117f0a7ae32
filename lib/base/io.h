/* File input and atomic file output shared by every tool.
 *
 * "-" (or NULL) names standard input or output.  An output path that is a
 * regular file (or does not exist yet) is written to a temporary file beside
 * it and renamed into place only by qp_out_commit, so a failed or killed
 * stage never leaves a plausible partial file behind (pairs with
 * .DELETE_ON_ERROR in make); the new file keeps the old one's mode (and
 * owner, where the process may give it).  A symbolic link is followed and
 * its target replaced, in the target's directory.  A character or block
 * device, FIFO or socket is written in place: renaming over it would
 * destroy the node and never reach its reader.
 */
#ifndef QP_IO_H
#define QP_IO_H

#include <stdio.h>
#include <stddef.h>

#include "err.h"

/* Reads a whole file (or stdin) into a malloc'd buffer (NUL terminated one
 * byte past len, for text).  limit: refuse files larger than this (0: no
 * limit).  Messages do not include the path. */
int qp_read_all(const char *path, void **buf, size_t *len, size_t limit,
		qp_err *err);

/* True when path names standard input/output. */
int qp_is_stdio(const char *path);

typedef struct qp_out {
	FILE *fp;        /* write here */
	char *path;      /* final path with links resolved; NULL for stdout */
	char *tmp;       /* temporary path; NULL for stdout and in-place writes */
} qp_out;

/* Opens an output.  path NULL or "-" = stdout, refused when stdout is a
 * terminal and binary is set unless force is set (tools check this first,
 * as a usage error: qp_cli_check_output).  An empty path is an error. */
int qp_out_open(qp_out *o, const char *path, int binary, int force, qp_err *err);
/* Flushes, fsyncs, closes and renames into place (in-place outputs are
 * flushed and closed).  On failure the temporary
 * file is removed and -1 returned.  Write errors seen earlier (short write,
 * EPIPE) are reported here. */
int qp_out_commit(qp_out *o, qp_err *err);
/* Closes and removes the temporary file; safe on a committed or zeroed out. */
void qp_out_abort(qp_out *o);
/* Writes the whole buffer in one call; -1 with errno message on failure. */
int qp_out_write(qp_out *o, const void *buf, size_t len, qp_err *err);

#endif
