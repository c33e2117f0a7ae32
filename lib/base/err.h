/* Error reporting for library code.
 *
 * Library functions never print and never exit: they return an int status
 * (0 ok, -1 failure) and fill an optional qp_err.  Only a tool's main()
 * turns the message into "tool: file: message" and an exit code.
 *
 * Messages are lower-case, one line, name the bad value, and end with the
 * location when there is one: "unsupported op (node 'conv1', op 'Foo')".
 */
#ifndef QP_ERR_H
#define QP_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define QP_ERR_MSG_MAX 4096

typedef struct qp_err {
	char msg[QP_ERR_MSG_MAX];
} qp_err;

/* Sets err->msg (printf format) when err is not NULL; always returns -1 so
 * callers can write `return qp_err_set(err, "...")`.  A message that is
 * already set is replaced. */
int qp_err_set(qp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the current message: "prefix: old message".  Returns -1. */
int qp_err_prefix(qp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like qp_err_set but appends ": strerror(errno)". */
int qp_err_errno(qp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends a line to the message (for collected multi-line errors such as
 * "every unsupported op"); the lines are separated by '\n'. */
int qp_err_append(qp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* How a node-located message joins err: replacing it (qp_err_set), as a
 * line after it (qp_err_append) or before it (qp_err_prefix). */
typedef enum { QP_ERR_SET, QP_ERR_APPEND, QP_ERR_PREFIX } qp_err_how;

/* The one place that spells the node location: "msg (node 'n', op 'Op')"
 * set, appended or prefixed as how says.  Takes the names, not a qp_node,
 * so that readers and importers holding no qp_node yet, and lib/ir below
 * lib/ops, share it; code with a qp_node calls qp_node_err (ops_common.h).
 * Returns -1. */
int qp_err_vnode(qp_err *err, qp_err_how how, const char *node,
		 const char *op, const char *fmt, va_list ap);
int qp_err_node(qp_err *err, const char *node, const char *op,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Internal invariant broken: a bug in qpipe, never bad user data. */
#define qp_bug(...) qp_bug_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void qp_bug_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
