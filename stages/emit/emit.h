/* emit: lowered IR -> device binary v0 (docs/binary.md). */
#ifndef QP_STAGE_EMIT_H
#define QP_STAGE_EMIT_H

#include <stddef.h>

#include "ir.h"

/* Serializes a lowered graph into a malloc'd buffer (*buf, *len) and runs
 * the runtime's own qp_model_check on it, so emit never writes a binary
 * the runtime would refuse. */
int qp_emit_binary(const qp_graph *g, void **buf, size_t *len, qp_err *err);

#endif
