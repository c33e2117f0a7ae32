#include "tpc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "json.h"
#include "ops.h"
#include "quant.h"

/* Key paths in messages: "operator_sets[2].config.activation.n_bits". */
#define PATH_MAX_LEN 512

/* Largest TPC file we accept; real ones are a few kilobytes. */
#define TPC_MAX_BYTES (16u << 20)

/* Bounded append; a path longer than PATH_MAX_LEN is cut short, which only
 * shortens a message.  dst must not overlap the sources. */
static void append(char *dst, size_t *n, const char *s)
{
	while (*s && *n + 1 < PATH_MAX_LEN)
		dst[(*n)++] = *s++;
	dst[*n] = 0;
}

static void join(char *dst, const char *path, const char *key)
{
	size_t n = 0;

	append(dst, &n, path);
	if (*path)
		append(dst, &n, ".");
	append(dst, &n, key);
}

static void join_index(char *dst, const char *path, int i)
{
	char num[16];
	size_t n = 0;

	snprintf(num, sizeof num, "[%d]", i);
	append(dst, &n, path);
	append(dst, &n, num);
}

static int expect_object(const cJSON *j, const char *path, qp_err *err)
{
	if (!cJSON_IsObject(j))
		return qp_err_set(err, "%s: expected an object", path);
	return 0;
}

/* Gets obj.key; *present says whether it is there.  A missing required
 * key is an error. */
static const cJSON *get(const cJSON *obj, const char *path, const char *key,
			int required, char *p, qp_err *err, int *failed)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	join(p, path, key);
	if (!v && required) {
		qp_err_set(err, "%s: missing", p);
		*failed = 1;
	}
	return v;
}

static int as_int(const cJSON *v, const char *p, long long lo, long long hi,
		  long long *out, qp_err *err)
{
	double d;

	if (!cJSON_IsNumber(v))
		return qp_err_set(err, "%s: expected an integer", p);
	d = v->valuedouble;
	if (d != floor(d) || !isfinite(d))
		return qp_err_set(err, "%s: expected an integer, not %.9g", p, d);
	if (d < (double)lo || d > (double)hi)
		return qp_err_set(err, "%s: %.17g is outside %lld..%lld", p, d,
				  lo, hi);
	*out = (long long)d;
	return 0;
}

static int as_bool(const cJSON *v, const char *p, int *out, qp_err *err)
{
	if (!cJSON_IsBool(v))
		return qp_err_set(err, "%s: expected true or false", p);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int as_string(const cJSON *v, const char *p, const char **out,
		     qp_err *err)
{
	if (!cJSON_IsString(v) || !v->valuestring)
		return qp_err_set(err, "%s: expected a string", p);
	*out = v->valuestring;
	return 0;
}

static int as_method(const cJSON *v, const char *p, qp_qscheme *out,
		     qp_err *err)
{
	const char *s = NULL;

	if (as_string(v, p, &s, err))
		return -1;
	if (!strcmp(s, "power_of_two"))
		*out = QP_Q_POWER_OF_TWO;
	else if (!strcmp(s, "symmetric"))
		*out = QP_Q_SYMMETRIC;
	else if (!strcmp(s, "uniform"))
		*out = QP_Q_ASYMMETRIC;
	else
		return qp_err_set(err, "%s: unknown method '%s' (power_of_two, symmetric or uniform)",
				  p, s);
	return 0;
}

static int as_signedness(const cJSON *v, const char *p, qp_signedness *out,
			 qp_err *err)
{
	const char *s = NULL;

	if (as_string(v, p, &s, err))
		return -1;
	if (!strcmp(s, "auto"))
		*out = QP_SIGN_AUTO;
	else if (!strcmp(s, "signed"))
		*out = QP_SIGN_SIGNED;
	else if (!strcmp(s, "unsigned"))
		*out = QP_SIGN_UNSIGNED;
	else
		return qp_err_set(err, "%s: unknown signedness '%s' (auto, signed or unsigned)",
				  p, s);
	return 0;
}

static int as_bits(const cJSON *v, const char *p, int *out, qp_err *err)
{
	long long b;

	if (as_int(v, p, 2, 16, &b, err))
		return -1;
	*out = (int)b;
	return 0;
}

/* "weights" of a config.  In the default config the basic keys are
 * required; in an operator set's config every key is an override. */
static int parse_weights(const cJSON *w, const char *path, int is_default,
			 qp_tpc_op_config *c, qp_err *err)
{
	static const char *const keys[] = {"enabled", "n_bits", "method",
		"per_channel", "mixed_precision_n_bits", NULL};
	char p[PATH_MAX_LEN];
	const cJSON *v;
	int failed = 0;

	if (expect_object(w, path, err) || qp_json_check_keys(w, keys, path, err))
		return -1;
	if ((v = get(w, path, "enabled", is_default, p, err, &failed)) &&
	    as_bool(v, p, &c->weights_enabled, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(w, path, "n_bits", is_default, p, err, &failed))) {
		if (as_bits(v, p, &c->weights_n_bits, err))
			return -1;
		/* A new width without its own candidate list has one candidate. */
		c->n_weights_candidates = 1;
		c->weights_candidates[0] = c->weights_n_bits;
	}
	if (failed)
		return -1;
	if ((v = get(w, path, "method", is_default, p, err, &failed)) &&
	    as_method(v, p, &c->weights_method, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(w, path, "per_channel", is_default, p, err, &failed)) &&
	    as_bool(v, p, &c->weights_per_channel, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(w, path, "mixed_precision_n_bits", 0, p, err, &failed))) {
		const cJSON *e;
		int i = 0, has_own = 0;
		char pe[PATH_MAX_LEN];

		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
			return qp_err_set(err, "%s: expected a non-empty array of bit widths", p);
		if (cJSON_GetArraySize(v) > QP_TPC_MAX_CANDIDATES)
			return qp_err_set(err, "%s: more than %d candidates", p,
					  QP_TPC_MAX_CANDIDATES);
		cJSON_ArrayForEach(e, v) {
			int j;

			join_index(pe, p, i);
			if (as_bits(e, pe, &c->weights_candidates[i], err))
				return -1;
			for (j = 0; j < i; j++)
				if (c->weights_candidates[j] == c->weights_candidates[i])
					return qp_err_set(err, "%s: %d bits listed twice", pe,
							  c->weights_candidates[i]);
			if (c->weights_candidates[i] == c->weights_n_bits)
				has_own = 1;
			i++;
		}
		c->n_weights_candidates = i;
		if (!has_own)
			return qp_err_set(err, "%s: must include n_bits (%d)", p,
					  c->weights_n_bits);
	}
	return 0;
}

static int parse_activation(const cJSON *a, const char *path, int is_default,
			    qp_tpc_op_config *c, qp_err *err)
{
	static const char *const keys[] = {"enabled", "n_bits", "method",
		"signedness", "preserving", "fixed_scale", "fixed_zero_point",
		NULL};
	char p[PATH_MAX_LEN];
	const cJSON *v, *fs, *fz;
	int failed = 0;

	if (expect_object(a, path, err) || qp_json_check_keys(a, keys, path, err))
		return -1;
	if ((v = get(a, path, "enabled", is_default, p, err, &failed)) &&
	    as_bool(v, p, &c->activation_enabled, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(a, path, "n_bits", is_default, p, err, &failed)) &&
	    as_bits(v, p, &c->activation_n_bits, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(a, path, "method", is_default, p, err, &failed)) &&
	    as_method(v, p, &c->activation_method, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(a, path, "signedness", is_default, p, err, &failed)) &&
	    as_signedness(v, p, &c->signedness, err))
		return -1;
	if (failed)
		return -1;
	if ((v = get(a, path, "preserving", 0, p, err, &failed)) &&
	    as_bool(v, p, &c->preserving, err))
		return -1;

	fs = get(a, path, "fixed_scale", 0, p, err, &failed);
	fz = cJSON_GetObjectItemCaseSensitive(a, "fixed_zero_point");
	if (!fs && !fz)
		return 0;
	if (is_default)
		return qp_err_set(err, "%s.%s: only an operator set can fix its output parameters",
				  path, fs ? "fixed_scale" : "fixed_zero_point");
	if (!fs)
		return qp_err_set(err, "%s.fixed_scale: missing (fixed_zero_point needs it)", path);
	if (!fz)
		return qp_err_set(err, "%s.fixed_zero_point: missing (fixed_scale needs it)", path);
	if (!cJSON_IsNumber(fs) || !isfinite(fs->valuedouble) ||
	    fs->valuedouble <= 0 || (float)fs->valuedouble <= 0)
		return qp_err_set(err, "%s: expected a positive number", p);
	c->fixed_scale = (float)fs->valuedouble;
	{
		long long z;

		join(p, path, "fixed_zero_point");
		if (as_int(fz, p, -65536, 65535, &z, err))
			return -1;
		c->fixed_zero_point = (int32_t)z;
	}
	c->has_fixed = 1;
	return 0;
}

/* Checks that hold for a whole, merged config. */
static int check_config(const qp_tpc_op_config *c, const char *path,
			qp_err *err)
{
	int i, has_own = 0;
	int32_t qmin, qmax;

	for (i = 0; i < c->n_weights_candidates; i++)
		if (c->weights_candidates[i] == c->weights_n_bits)
			has_own = 1;
	if (!has_own)
		return qp_err_set(err, "%s.weights.mixed_precision_n_bits: must include n_bits (%d)",
				  path, c->weights_n_bits);
	if (c->activation_n_bits > 8 && c->signedness == QP_SIGN_UNSIGNED)
		return qp_err_set(err, "%s.activation.signedness: unsigned activations wider than 8 bits are not supported",
				  path);
	if (!c->has_fixed)
		return 0;
	if (c->preserving)
		return qp_err_set(err, "%s.activation: preserving and fixed_scale exclude each other",
				  path);
	if (c->signedness == QP_SIGN_AUTO)
		return qp_err_set(err, "%s.activation.signedness: fixed parameters need 'signed' or 'unsigned', not 'auto'",
				  path);
	qp_qrange(c->activation_n_bits, c->signedness == QP_SIGN_SIGNED,
		  &qmin, &qmax);
	if (c->fixed_zero_point < qmin || c->fixed_zero_point > qmax)
		return qp_err_set(err, "%s.activation.fixed_zero_point: %d is outside %d..%d",
				  path, (int)c->fixed_zero_point, (int)qmin,
				  (int)qmax);
	if (c->activation_method != QP_Q_ASYMMETRIC && c->fixed_zero_point != 0)
		return qp_err_set(err, "%s.activation.fixed_zero_point: %s activations need zero point 0",
				  path, qp_tpc_method_name(c->activation_method));
	return 0;
}

static int parse_config(const cJSON *j, const char *path, int is_default,
			qp_tpc_op_config *c, qp_err *err)
{
	static const char *const keys[] = {"weights", "activation", NULL};
	char p[PATH_MAX_LEN];
	const cJSON *v;
	int failed = 0;

	if (expect_object(j, path, err) || qp_json_check_keys(j, keys, path, err))
		return -1;
	if ((v = get(j, path, "weights", is_default, p, err, &failed)) &&
	    parse_weights(v, p, is_default, c, err))
		return -1;
	if (failed)
		return -1;
	/* An operator set's override of the activation replaces any fixed
	 * parameters it inherited only when it gives its own. */
	if ((v = get(j, path, "activation", is_default, p, err, &failed)) &&
	    parse_activation(v, p, is_default, c, err))
		return -1;
	if (failed)
		return -1;
	return check_config(c, path, err);
}

/* A target lists the ops of the float IR it quantizes: every row of the
 * float and tensor tables (Concat, Split and Slice are tensor ops), not the
 * lowered integer ops, which no target quantizes. */
static int known_op(const char *name)
{
	return qp_op_row_of(qp_op_find(name)) != NULL;
}

static int find_set(const qp_tpc *t, const char *name)
{
	int i;

	for (i = 0; i < t->n_op_sets; i++)
		if (!strcmp(t->op_sets[i].name, name))
			return i;
	return -1;
}

static int parse_op_sets(qp_tpc *t, const cJSON *arr, const char *path,
			 qp_err *err)
{
	static const char *const keys[] = {"name", "ops", "config", NULL};
	const cJSON *s;
	int i = 0;

	if (!cJSON_IsArray(arr))
		return qp_err_set(err, "%s: expected an array", path);
	t->op_sets = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *t->op_sets);
	if (!t->op_sets)
		return qp_err_set(err, "out of memory");
	cJSON_ArrayForEach(s, arr) {
		qp_tpc_op_set *set = &t->op_sets[i];
		char ps[PATH_MAX_LEN], p[PATH_MAX_LEN];
		const cJSON *v, *op;
		const char *str = NULL;
		int failed = 0, k = 0;

		join_index(ps, path, i);
		if (expect_object(s, ps, err) || qp_json_check_keys(s, keys, ps, err))
			return -1;
		v = get(s, ps, "name", 1, p, err, &failed);
		if (failed || as_string(v, p, &str, err))
			return -1;
		if (!*str)
			return qp_err_set(err, "%s: empty name", p);
		if (find_set(t, str) >= 0)
			return qp_err_set(err, "%s: operator set '%s' defined twice", p, str);
		if (!(set->name = strdup(str)))
			return qp_err_set(err, "out of memory");
		t->n_op_sets = i + 1;

		v = get(s, ps, "ops", 1, p, err, &failed);
		if (failed)
			return -1;
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
			return qp_err_set(err, "%s: expected a non-empty array of op names", p);
		set->ops = calloc((size_t)cJSON_GetArraySize(v), sizeof *set->ops);
		if (!set->ops)
			return qp_err_set(err, "out of memory");
		cJSON_ArrayForEach(op, v) {
			char pe[PATH_MAX_LEN];
			const qp_tpc_op_set *other;

			join_index(pe, p, k);
			if (as_string(op, pe, &str, err))
				return -1;
			if (!known_op(str))
				return qp_err_set(err, "%s: unknown op '%s'", pe, str);
			if ((other = qp_tpc_find_op(t, str)))
				return qp_err_set(err, "%s: op '%s' is already in operator set '%s'",
						  pe, str, other->name);
			if (!(set->ops[k] = strdup(str)))
				return qp_err_set(err, "out of memory");
			set->n_ops = ++k;
		}

		set->config = t->default_config;
		if ((v = get(s, ps, "config", 0, p, err, &failed)) &&
		    parse_config(v, p, 0, &set->config, err))
			return -1;
		i++;
	}
	return 0;
}

static int parse_fusing(qp_tpc *t, const cJSON *arr, const char *path,
			qp_err *err)
{
	const cJSON *pat;
	int i = 0;

	if (!cJSON_IsArray(arr))
		return qp_err_set(err, "%s: expected an array", path);
	t->fusing = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *t->fusing);
	if (!t->fusing)
		return qp_err_set(err, "out of memory");
	cJSON_ArrayForEach(pat, arr) {
		qp_tpc_fusing *f = &t->fusing[i];
		char pp[PATH_MAX_LEN];
		const cJSON *step;
		int k = 0;

		join_index(pp, path, i);
		t->n_fusing = i + 1;
		if (!cJSON_IsArray(pat) || cJSON_GetArraySize(pat) < 2)
			return qp_err_set(err, "%s: expected an array of at least two operator set names",
					  pp);
		f->steps = calloc((size_t)cJSON_GetArraySize(pat), sizeof *f->steps);
		if (!f->steps)
			return qp_err_set(err, "out of memory");
		cJSON_ArrayForEach(step, pat) {
			qp_tpc_fusing_step *st = &f->steps[k];
			char pk[PATH_MAX_LEN];
			const cJSON *alt;
			int single = cJSON_IsString(step), a = 0;

			join_index(pk, pp, k);
			f->n = ++k;
			if (!single && (!cJSON_IsArray(step) || cJSON_GetArraySize(step) < 1))
				return qp_err_set(err, "%s: expected an operator set name or a non-empty array of them",
						  pk);
			st->sets = calloc(single ? 1 : (size_t)cJSON_GetArraySize(step),
					  sizeof *st->sets);
			if (!st->sets)
				return qp_err_set(err, "out of memory");
			for (alt = single ? step : step->child; alt;
			     alt = single ? NULL : alt->next) {
				char pa[PATH_MAX_LEN];
				const char *name = NULL;
				int idx;

				if (single)
					memcpy(pa, pk, sizeof pa);
				else
					join_index(pa, pk, a);
				if (as_string(alt, pa, &name, err))
					return -1;
				if ((idx = find_set(t, name)) < 0)
					return qp_err_set(err, "%s: unknown operator set '%s'",
							  pa, name);
				st->sets[a] = idx;
				st->n = ++a;
			}
		}
		i++;
	}
	return 0;
}

static int parse_resources(qp_tpc *t, const cJSON *r, const char *path,
			   qp_err *err)
{
	static const char *const keys[] = {"weight_memory_bytes",
		"activation_memory_bytes", NULL};
	char p[PATH_MAX_LEN];
	const cJSON *v;
	long long n;
	int failed = 0;

	if (expect_object(r, path, err) || qp_json_check_keys(r, keys, path, err))
		return -1;
	if ((v = get(r, path, "weight_memory_bytes", 0, p, err, &failed))) {
		if (as_int(v, p, 0, (1LL << 53), &n, err))
			return -1;
		t->weight_memory_bytes = n;
	}
	if ((v = get(r, path, "activation_memory_bytes", 0, p, err, &failed))) {
		if (as_int(v, p, 0, (1LL << 53), &n, err))
			return -1;
		t->activation_memory_bytes = n;
	}
	return 0;
}

static int parse_doc(qp_tpc *t, const cJSON *j, qp_err *err)
{
	static const char *const keys[] = {"format", "version", "name",
		"description", "default_config", "operator_sets",
		"fusing_patterns", "resources", NULL};
	char p[PATH_MAX_LEN];
	const cJSON *v;
	const char *s = NULL;
	long long version;
	int failed = 0;

	if (!cJSON_IsObject(j))
		return qp_err_set(err, "expected a JSON object at the top level");
	if (qp_json_check_keys(j, keys, "", err))
		return -1;
	v = get(j, "", "format", 1, p, err, &failed);
	if (failed || as_string(v, p, &s, err))
		return -1;
	if (strcmp(s, "qpipe-tpc"))
		return qp_err_set(err, "format: expected 'qpipe-tpc', not '%s'", s);
	v = get(j, "", "version", 1, p, err, &failed);
	if (failed || as_int(v, p, 1, 1000000, &version, err))
		return -1;
	if (version != QP_TPC_FORMAT_VERSION)
		return qp_err_set(err, "version: %lld is not supported (this qpipe reads version %d)",
				  version, QP_TPC_FORMAT_VERSION);
	v = get(j, "", "name", 1, p, err, &failed);
	if (failed || as_string(v, p, &s, err))
		return -1;
	if (!*s)
		return qp_err_set(err, "name: empty name");
	if (!(t->name = strdup(s)))
		return qp_err_set(err, "out of memory");
	if ((v = get(j, "", "description", 0, p, err, &failed)) &&
	    as_string(v, p, &s, err))
		return -1;
	v = get(j, "", "default_config", 1, p, err, &failed);
	if (failed || parse_config(v, p, 1, &t->default_config, err))
		return -1;
	v = get(j, "", "operator_sets", 1, p, err, &failed);
	if (failed || parse_op_sets(t, v, p, err))
		return -1;
	if ((v = get(j, "", "fusing_patterns", 0, p, err, &failed)) &&
	    parse_fusing(t, v, p, err))
		return -1;
	if ((v = get(j, "", "resources", 0, p, err, &failed)) &&
	    parse_resources(t, v, p, err))
		return -1;
	return 0;
}

int qp_tpc_from_json(const cJSON *json, qp_tpc **out, qp_err *err)
{
	qp_tpc *t = calloc(1, sizeof *t);

	*out = NULL;
	if (!t)
		return qp_err_set(err, "out of memory");
	t->weight_memory_bytes = -1;
	t->activation_memory_bytes = -1;
	if (parse_doc(t, json, err) ||
	    !(t->json = cJSON_Duplicate(json, 1))) {
		if (!t->json && err && !err->msg[0])
			qp_err_set(err, "out of memory");
		qp_tpc_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* JSON allows no raw byte below 0x20 inside a string and only tab, line
 * feed and carriage return between tokens (RFC 8259 sections 2 and 7), but
 * cJSON keeps raw control bytes in strings, skips any of them between
 * tokens as white space, and ends a string at a NUL.  So before cJSON sees
 * the text, scan all len bytes for one and name the key path it is at,
 * followed from the brackets, commas and keys seen so far.  On text that is
 * malformed before the byte, the path is a best guess; the byte is an error
 * either way. */
static int check_raw_bytes(const char *text, size_t len, qp_err *err)
{
	struct { size_t base; int index, is_array; } st[64];
	char path[PATH_MAX_LEN] = "", key[PATH_MAX_LEN], num[16];
	size_t i, n = 0, kn = 0;
	int depth = 0, in_str = 0, in_key = 0, esc = 0, want_key = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		int framed = depth > 0 && depth <= (int)(sizeof st / sizeof st[0]);

		if (c < 0x20 && (in_str || (c != '\t' && c != '\n' && c != '\r')))
			return qp_err_set(err, "raw %s byte 0x%02x %s (at %s)",
					  c ? "control" : "NUL", c,
					  in_str ? "inside a string" : "between tokens",
					  n ? path : "the top level");
		if (in_str) {
			if (!esc && c == '"') {
				in_str = 0;
				if (in_key) {
					key[kn] = 0;
					n = st[depth - 1].base;
					path[n] = 0;
					if (n)
						append(path, &n, ".");
					append(path, &n, key);
				}
			} else if (in_key && kn + 1 < sizeof key) {
				key[kn++] = (char)c;
			}
			esc = !esc && c == '\\';
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			in_key = framed && want_key;
			want_key = 0;
			kn = 0;
			break;
		case '{':
		case '[':
			if (depth < (int)(sizeof st / sizeof st[0])) {
				st[depth].base = n;
				st[depth].index = 0;
				st[depth].is_array = c == '[';
				if (c == '[')
					append(path, &n, "[0]");
			}
			depth++;
			want_key = c == '{';
			break;
		case ',':
			if (framed) {
				n = st[depth - 1].base;
				path[n] = 0;
				if (st[depth - 1].is_array) {
					snprintf(num, sizeof num, "[%d]", ++st[depth - 1].index);
					append(path, &n, num);
				} else {
					want_key = 1;
				}
			}
			break;
		case '}':
		case ']':
			if (framed) {
				n = st[depth - 1].base;
				path[n] = 0;
			}
			if (depth)
				depth--;
			break;
		}
	}
	return 0;
}

int qp_tpc_parse(const char *text, size_t len, qp_tpc **out, qp_err *err)
{
	const char *end = NULL;
	cJSON *j;
	int rc;

	*out = NULL;
	if (check_raw_bytes(text, len, err))
		return -1;
	j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!j) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;

		return qp_err_set(err, "invalid JSON near byte %zu", at);
	}
	/* Nothing but white space may follow the document. */
	for (; end && (size_t)(end - text) < len; end++)
		if (!strchr(" \t\r\n", *end)) {
			cJSON_Delete(j);
			return qp_err_set(err, "unexpected data after the JSON document at byte %zu",
					  (size_t)(end - text));
		}
	rc = qp_tpc_from_json(j, out, err);
	cJSON_Delete(j);
	return rc;
}

int qp_tpc_read(const char *path, qp_tpc **out, qp_err *err)
{
	void *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (qp_read_all(path, &buf, &len, TPC_MAX_BYTES, err))
		return -1;
	rc = qp_tpc_parse(buf, len, out, err);
	free(buf);
	return rc;
}

void qp_tpc_free(qp_tpc *t)
{
	int i, k;

	if (!t)
		return;
	for (i = 0; i < t->n_op_sets; i++) {
		for (k = 0; k < t->op_sets[i].n_ops; k++)
			free(t->op_sets[i].ops[k]);
		free(t->op_sets[i].ops);
		free(t->op_sets[i].name);
	}
	free(t->op_sets);
	for (i = 0; i < t->n_fusing; i++) {
		for (k = 0; k < t->fusing[i].n; k++)
			free(t->fusing[i].steps[k].sets);
		free(t->fusing[i].steps);
	}
	free(t->fusing);
	free(t->name);
	cJSON_Delete(t->json);
	free(t);
}

const qp_tpc_op_set *qp_tpc_find_op(const qp_tpc *t, const char *op)
{
	int i, k;

	for (i = 0; i < t->n_op_sets; i++)
		for (k = 0; k < t->op_sets[i].n_ops; k++)
			if (t->op_sets[i].ops[k] && !strcmp(t->op_sets[i].ops[k], op))
				return &t->op_sets[i];
	return NULL;
}

int qp_tpc_step_matches(const qp_tpc *t, const qp_tpc_fusing_step *step,
			const char *op)
{
	const qp_tpc_op_set *set = qp_tpc_find_op(t, op);
	int i;

	for (i = 0; set && i < step->n; i++)
		if (&t->op_sets[step->sets[i]] == set)
			return 1;
	return 0;
}

/* A Clip whose bounds are constant scalars (or absent): ReLU6 and the
 * like, which a fused kernel applies as its output's integer range. */
static int const_clip(const qp_graph *g, const qp_node *m)
{
	int k;

	if (strcmp(m->op, "Clip"))
		return 0;
	for (k = 1; k < m->n_inputs; k++)
		if (m->inputs[k] >= 0 && (!g->tensors[m->inputs[k]].data ||
					  qp_tensor_numel(&g->tensors[m->inputs[k]]) != 1))
			return 0;
	return 1;
}

/* The single node reading tensor t as its input 0, when t has no other use
 * and is not a graph output: its index, else -1. */
static int only_reader(const qp_graph *g, int t)
{
	int r = qp_graph_only_consumer(g, t);

	return r >= 0 && g->nodes[r].n_inputs > 0 && g->nodes[r].inputs[0] == t ? r : -1;
}

int qp_tpc_fused_relu(const qp_tpc *tpc, const qp_graph *g, int ni)
{
	/* The ops whose lowering rule has a fused Relu or Clip (QConv,
	 * QConvTranspose, QGemm for Gemm and MatMul, QAdd for Add and Sub,
	 * QMul, QAffine for a Mul, Add or Sub by a float constant).  A rule
	 * added there needs its op here, or quantize gives its output
	 * parameters and lower's unfused Relu or Clip reads them: correct,
	 * only unfused. */
	static const char *const fusable[] = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub",
					      "Mul", NULL};
	const qp_node *n = &g->nodes[ni];
	const qp_node *a;
	int i, k, r;

	if (!tpc || n->n_outputs < 1 || n->outputs[0] < 0)
		return -1;
	for (k = 0; fusable[k] && strcmp(fusable[k], n->op); k++)
		;
	if (!fusable[k] || (r = only_reader(g, n->outputs[0])) < 0)
		return -1;
	a = &g->nodes[r];
	if (strcmp(a->op, "Relu") && !const_clip(g, a))
		return -1;
	/* Longer patterns are not acted on: lower has no kernel for three
	 * ops, and a target that fuses Conv->Add->Relu need not fuse
	 * Conv->Relu. */
	for (i = 0; i < tpc->n_fusing; i++) {
		const qp_tpc_fusing *f = &tpc->fusing[i];

		if (f->n == 2 && qp_tpc_step_matches(tpc, &f->steps[0], n->op) &&
		    qp_tpc_step_matches(tpc, &f->steps[1], a->op))
			return r;
	}
	return -1;
}

const char *qp_signedness_name(qp_signedness s)
{
	switch (s) {
	case QP_SIGN_AUTO: return "auto";
	case QP_SIGN_SIGNED: return "signed";
	case QP_SIGN_UNSIGNED: return "unsigned";
	}
	return "?";
}

const char *qp_tpc_method_name(qp_qscheme s)
{
	switch (s) {
	case QP_Q_POWER_OF_TWO: return "power_of_two";
	case QP_Q_SYMMETRIC: return "symmetric";
	case QP_Q_ASYMMETRIC: return "uniform";
	}
	return "?";
}

/* ---- finding a target by name ------------------------------------------------ */

int qp_tpc_is_path(const char *name)
{
	size_t n = strlen(name);

	return !strcmp(name, "-") || strchr(name, '/') ||
	       (n >= 5 && !strcmp(name + n - 5, ".json"));
}

/* Appends dir/NAME.json to the message's list of places; dir may end in '/'. */
static int candidate(char *buf, size_t size, const char *dir, size_t dlen,
		     const char *name)
{
	int slash = dlen > 0 && dir[dlen - 1] == '/';
	int n = snprintf(buf, size, "%.*s%s%s.json", (int)dlen, dir,
			 slash ? "" : "/", name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int qp_tpc_find(const char *name, const char *const *dirs, int n_dirs,
		char **path, qp_err *err)
{
	char buf[4096], looked[2048] = "";
	size_t used = 0;
	int i;

	*path = NULL;
	if (qp_tpc_is_path(name)) {
		*path = strdup(name);
		return *path ? 0 : qp_err_set(err, "out of memory");
	}
	/* Each entry is a colon-separated list (as $PATH): the first
	 * existing, readable NAME.json wins; empty elements are skipped. */
	for (i = 0; i < n_dirs; i++) {
		const char *d = dirs[i];

		while (d && *d) {
			size_t len = strcspn(d, ":");

			if (len && !candidate(buf, sizeof buf, d, len, name)) {
				FILE *f = fopen(buf, "r");

				if (f) {
					fclose(f);
					*path = strdup(buf);
					return *path ? 0 : qp_err_set(err, "out of memory");
				}
				if (used < sizeof looked)
					used += (size_t)snprintf(looked + used,
								 sizeof looked - used,
								 "%s%.*s", used ? ", " : "",
								 (int)len, d);
			}
			d += len;
			if (*d == ':')
				d++;
		}
	}
	if (!used)
		return qp_err_set(err, "no such target: nowhere to look for %s.json (set QPIPE_TPC_PATH, or give a file name)",
				  name);
	return qp_err_set(err, "no such target: looked for %s.json in %s",
			  name, looked);
}
