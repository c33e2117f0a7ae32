/* What the files of the IR module share and nobody else sees: the file
 * frame's constants and the helpers that more than one of graph.c, attr.c,
 * verify.c, read.c and write.c need.  Include only from lib/ir/.
 *
 * The symbols are extern (they link across files) but not API: the ir_
 * prefix marks them private to lib/ir/.
 */
#ifndef QP_IR_INTERNAL_H
#define QP_IR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* The frame, docs/ir.md section 1. */
#define IR_MAGIC "\x89QPIR\r\n\x1a"
#define IR_END_MAGIC "QPEN"
#define IR_FRAME_HEAD 24                      /* magic..header_len */
#define IR_TRAILER 16                         /* total_len, crc, end magic */
#define IR_MIN_FILE (IR_FRAME_HEAD + IR_TRAILER)
#define IR_MAX_HEADER ((uint64_t)1 << 30)
#define IR_MAX_NAME 1024
/* Number of qp_qscheme values, for range checks (graph.c asserts it
 * against its name table). */
#define IR_N_QSCHEMES 3

static inline uint64_t ir_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- graph.c ------------------------------------------------------------ */

/* A malloc'd copy of s, or NULL. */
char *ir_strdup(const char *s);
/* A tensor or node name the format allows: 1 to IR_MAX_NAME bytes. */
int ir_name_ok(const char *name);
/* Byte size of t's data, or -1 on overflow (or a bad dtype). */
int ir_tensor_bytes(const qp_tensor *t, size_t *nbytes);
/* qp_graph_add_tensor without the duplicate-name scan (the reader checks
 * names with a hash table instead of a quadratic search). */
int ir_add_tensor_unchecked(qp_graph *g, const char *name, qp_dtype dt, int rank,
			    const int64_t *dims, qp_err *err);

/* A string -> index table for name lookups over whole graphs (the reader
 * and the verifier would otherwise be quadratic in the tensor count).
 * Open addressing, keys borrowed. */
typedef struct ir_name_map {
	const char **keys;
	int *vals;
	size_t mask;
} ir_name_map;

/* Room for n keys; 0 or -1 (out of memory). */
int ir_map_init(ir_name_map *m, int n);
void ir_map_free(ir_name_map *m);
/* Index stored for key, or -1. */
int ir_map_get(const ir_name_map *m, const char *key);
/* Inserts key -> val unless key is present; returns the existing value, or
 * -1 when inserted.  The table must have room (ir_map_init with the count). */
int ir_map_put(ir_name_map *m, const char *key, int val);

/* ---- attr.c ------------------------------------------------------------- */

/* Frees a's name and values and zeroes it. */
void ir_attr_clear(qp_attr *a);

/* ---- verify.c ----------------------------------------------------------- */

/* History entries are {"tool": s, "version": s, "argv": [s, ...]}: checked
 * by the verifier too, so no stage can write a file readers refuse. */
int ir_check_history(const cJSON *h, qp_err *err);

#endif
