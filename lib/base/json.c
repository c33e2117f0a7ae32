#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qp_json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	/* lo and hi are exact as doubles (|x| <= 2^53), so the comparison is
	 * the integer one. */
	if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
		return -1;
	*out = (int64_t)d;
	return 0;
}

int qp_json_float(const cJSON *v, float *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return -1;
	*out = (float)v->valuedouble;
	return 0;
}

const char *qp_json_str(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

int qp_json_check_keys(const cJSON *obj, const char *const *allowed,
		       const char *where, qp_err *err)
{
	const char *sep = where && *where ? ": " : "";

	if (!where)
		where = "";
	for (const cJSON *c = obj->child; c; c = c->next) {
		int known = 0;

		for (int i = 0; allowed[i]; i++)
			known |= strcmp(c->string, allowed[i]) == 0;
		if (!known)
			return qp_err_set(err, "%s%sunknown key '%s'", where, sep, c->string);
		for (const cJSON *d = obj->child; d != c; d = d->next)
			if (strcmp(d->string, c->string) == 0)
				return qp_err_set(err, "%s%skey '%s' appears twice", where, sep,
						  c->string);
	}
	return 0;
}

int qp_json_add(cJSON *parent, const char *name, cJSON *item)
{
	if (!item)
		return -1;
	if (name)
		cJSON_AddItemToObject(parent, name, item);
	else
		cJSON_AddItemToArray(parent, item);
	return 0;
}

cJSON *qp_json_rawf(const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return cJSON_CreateRaw(buf);
}
