/* emit: lowered IR -> device binary v0 (docs/binary.md). */
#ifndef QP_STAGE_EMIT_H
#define QP_STAGE_EMIT_H

#include <stddef.h>
#include <stdio.h>

#include "ir.h"

/* Serializes a lowered graph into a malloc'd buffer (*buf, *len) and runs
 * the runtime's own qp_model_check on it, so emit never writes a binary
 * the runtime would refuse. */
int qp_emit_binary(const qp_graph *g, void **buf, size_t *len, qp_err *err);

/* --format c (emit_c.c). */

/* 1 when s can name the array: a C identifier, not a keyword, not starting
 * with '_' (reserved at file scope). */
int qp_emit_c_ident_ok(const char *s);
/* The symbol -o PATH gives: PATH's base name without ".c", each character
 * outside [A-Za-z0-9_] made '_', "model_" put before a leading digit or
 * '_' ("model" for an empty name), '_' after a keyword.  malloc'd; NULL
 * when out of memory. */
char *qp_emit_c_symbol(const char *c_path);
/* The header beside c_path: a final ".c" becomes ".h", else ".h" is
 * appended.  malloc'd; NULL when out of memory. */
char *qp_emit_c_header_path(const char *c_path);
/* Writes the binary (len bytes, as qp_emit_binary made it) as the array
 * `sym` to c, which includes "header_name", and its declarations and the
 * _LEN and _ARENA_SIZE macros to h.  Write errors are left in the streams
 * for the caller's qp_out_commit to report. */
int qp_emit_c_write(const void *bin, size_t len, const char *sym,
		    const char *header_name, FILE *c, FILE *h, qp_err *err);

#endif
