/* Small helpers over cJSON shared by every strict JSON reader (the IR
 * header, TPC files, the lowered plan, Keras configs) and by the writers
 * that print numbers themselves.
 *
 * Readers here trust nothing: a value of the wrong type is refused, not
 * converted, so each caller can say exactly what it wanted.
 */
#ifndef QP_JSON_H
#define QP_JSON_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

/* JSON numbers travel through cJSON as doubles: 2^53 is the largest
 * magnitude below which every integer survives the trip exactly. */
#define QP_JSON_MAX_INT ((int64_t)1 << 53)

/* 0 and *out set when v is a number holding a whole value in [lo, hi];
 * -1 otherwise (not a number, NaN, infinite, fractional, out of range).
 * lo and hi must lie within +-QP_JSON_MAX_INT. */
int qp_json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out);
/* 0 and *out set when v is a finite number (rounded to float). */
int qp_json_float(const cJSON *v, float *out);
/* v's string, or NULL when v is not a string. */
const char *qp_json_str(const cJSON *v);

/* Refuses keys of obj outside allowed[] (NULL terminated) and repeated
 * keys: cJSON keeps duplicates and lookups would silently see the first.
 * Messages are "where: unknown key 'k'" and "where: key 'k' appears twice"
 * (no "where: " when where is NULL or empty).  0 or -1. */
int qp_json_check_keys(const cJSON *obj, const char *const *allowed,
		       const char *where, qp_err *err);

/* Adds item to the object parent as name, or to the array parent when name
 * is NULL; -1 when item is NULL (a failed cJSON_Create*), so builders can
 * chain calls with ||. */
int qp_json_add(cJSON *parent, const char *name, cJSON *item);
/* A raw JSON number printed with fmt (printf style), for writers that
 * want exact, reproducible bytes rather than cJSON's own formatting;
 * NULL when out of memory. */
cJSON *qp_json_rawf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
