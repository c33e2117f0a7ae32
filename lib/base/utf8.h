/* Strict UTF-8 (RFC 3629): the one validator every IR and JSON string goes
 * through (docs/ir.md section 1).
 *
 * Strict means: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no truncated sequences.  A NUL byte is valid
 * UTF-8 (U+0000); callers that hold C strings never see one, and the IR
 * reader refuses it in the header separately.
 */
#ifndef QP_UTF8_H
#define QP_UTF8_H

#include <stddef.h>

/* Length of the longest valid UTF-8 prefix of s[0, len): len when all of
 * it is valid, else the offset of the first byte that is not. */
size_t qp_utf8_valid_prefix(const void *s, size_t len);

/* 1 when s[0, len) is valid UTF-8, else 0. */
int qp_utf8_valid(const void *s, size_t len);

/* 1 when the C string s is valid UTF-8 (NULL counts as valid), else 0. */
int qp_utf8_valid_str(const char *s);

/* Copies the C string s into dst with every byte that is not part of a
 * valid sequence written as the four characters "\xNN" (lower-case hex), so
 * the result is valid UTF-8: a lossy form (a literal "\xff" in s reads the
 * same) for history entries and for showing bad names in messages.
 * snprintf-like: writes at most size bytes including the NUL (never
 * splitting a character or an escape) and returns the length the whole
 * result needs.  s NULL is taken as "". */
size_t qp_utf8_escape(char *dst, size_t size, const char *s);

/* The same, malloc'd; NULL when out of memory. */
char *qp_utf8_escape_dup(const char *s);

/* Size of a buffer for qp_utf8_show. */
#define QP_UTF8_SHOW_MAX 128

/* s escaped as by qp_utf8_escape into buf (QP_UTF8_SHOW_MAX bytes), cut
 * with "..." when longer: for naming a bad string in an error message.
 * Returns buf. */
const char *qp_utf8_show(char *buf, const char *s);

#endif
