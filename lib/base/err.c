#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qp_err_set(qp_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int qp_err_prefix(qp_err *err, const char *fmt, ...)
{
	char prefix[QP_ERR_MSG_MAX], old[QP_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Truncation is acceptable here: messages are diagnostics. */
	{
		size_t n = strnlen(prefix, sizeof err->msg - 3);

		memcpy(err->msg, prefix, n);
		memcpy(err->msg + n, ": ", 3);
		strncat(err->msg, old, sizeof err->msg - n - 3);
	}
	return -1;
}

int qp_err_errno(qp_err *err, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int qp_err_append(qp_err *err, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	if (!err)
		return -1;
	len = strnlen(err->msg, sizeof err->msg);
	if (len > 0 && len + 1 < sizeof err->msg)
		err->msg[len++] = '\n';
	if (len >= sizeof err->msg - 1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof err->msg - len, fmt, ap);
	va_end(ap);
	return -1;
}

int qp_err_vnode(qp_err *err, qp_err_how how, const char *node,
		 const char *op, const char *fmt, va_list ap)
{
	int (*sink)(qp_err *, const char *, ...) =
		how == QP_ERR_APPEND ? qp_err_append :
		how == QP_ERR_PREFIX ? qp_err_prefix : qp_err_set;
	char msg[QP_ERR_MSG_MAX];

	if (!err)
		return -1;
	/* Formatted apart first: the arguments may point into err->msg. */
	vsnprintf(msg, sizeof msg, fmt, ap);
	return sink(err, "%s (node '%s', op '%s')", msg, node, op);
}

int qp_err_node(qp_err *err, const char *node, const char *op,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qp_err_vnode(err, QP_ERR_SET, node, op, fmt, ap);
	va_end(ap);
	return -1;
}

void qp_bug_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qpipe: internal error at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
