/* Activation statistics that merge exactly (docs/ir.md, section 5).
 *
 * Every statistic is kept in a form whose combination is associative and
 * commutative with no rounding, so the statistics of a data set do not
 * depend on how it was split into shards, threads or batches:
 *   min, max, count     exact;
 *   per-channel sums    wide two's-complement fixed-point integers: every
 *                       float32 is a multiple of 2^-149 and every square of
 *                       one (exact in double) a multiple of 2^-298, so the
 *                       sums are integers in those units and add exactly;
 *   histogram           bins defined by the float32 bit pattern, not by
 *                       the data, so shards share bins and counts add.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stats.h"

int qp_stats_channels(const qp_tensor *t)
{
	if (t->rank >= 2)
		return t->dims[1] > 0 ? (int)t->dims[1] : 0;
	return 1;
}

qp_stats *qp_stats_new(int n_channels)
{
	qp_stats *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->n_channels = n_channels;
	if (n_channels > 0) {
		s->sum = calloc((size_t)n_channels * QP_STATS_SUM_WORDS, sizeof *s->sum);
		s->sumsq = calloc((size_t)n_channels * QP_STATS_SQ_WORDS, sizeof *s->sumsq);
		s->hist = calloc(QP_STATS_HIST_BINS, sizeof *s->hist);
		if (!s->sum || !s->sumsq || !s->hist) {
			qp_stats_free(s);
			return NULL;
		}
	}
	return s;
}

void qp_stats_free(qp_stats *s)
{
	if (!s)
		return;
	free(s->sum);
	free(s->sumsq);
	free(s->hist);
	free(s);
}

int qp_stats_hist_bin(float x)
{
	uint32_t bits;

	if (x == 0)     /* -0 and +0 share bin 0 */
		return 0;
	memcpy(&bits, &x, sizeof bits);
	return (int)(bits >> 20);
}

/* w += m * 2^shift (m a non-negative integer < 2^64), n words. */
static void wide_add_shifted(uint64_t *w, int n, uint64_t m, int shift, int negate)
{
	int word = shift / 64, bit = shift % 64;
	uint64_t part[2] = { m << bit, bit ? m >> (64 - bit) : 0 };
	unsigned carry = 0;

	if (!negate) {
		for (int i = word; i < n; i++) {
			uint64_t a = i - word < 2 ? part[i - word] : 0;
			uint64_t s = w[i] + a;
			unsigned c1 = s < a;
			uint64_t s2 = s + carry;

			carry = c1 | (s2 < s);
			w[i] = s2;
			if (i - word >= 1 && !carry)
				break;
		}
	} else {
		unsigned borrow = 0;

		for (int i = word; i < n; i++) {
			uint64_t a = i - word < 2 ? part[i - word] : 0;
			uint64_t d = w[i] - a;
			unsigned b1 = w[i] < a;
			uint64_t d2 = d - borrow;

			borrow = b1 | (d < (uint64_t)borrow);
			w[i] = d2;
			if (i - word >= 1 && !borrow)
				break;
		}
	}
}

int qp_wide_add_double(uint64_t *w, int n, double x, int lsb_exp)
{
	int e;
	double f;
	uint64_t m;
	int shift;

	if (x == 0)
		return 0;
	if (!isfinite(x))
		return -1;
	f = frexp(fabs(x), &e);              /* |x| = f * 2^e, 0.5 <= f < 1 */
	m = (uint64_t)ldexp(f, 53);          /* |x| = m * 2^(e - 53), exact */
	shift = e - 53 - lsb_exp;
	while (shift < 0) {
		if (m & 1)
			return -1;           /* not a multiple of 2^lsb_exp */
		m >>= 1;
		shift++;
	}
	if (shift + 53 >= n * 64)           /* would reach the sign bit */
		return -1;
	wide_add_shifted(w, n, m, shift, x < 0);
	return 0;
}

void qp_wide_add(uint64_t *w, const uint64_t *v, int n)
{
	unsigned carry = 0;

	for (int i = 0; i < n; i++) {
		uint64_t s = w[i] + v[i];
		unsigned c1 = s < v[i];
		uint64_t s2 = s + carry;

		carry = c1 | (s2 < s);
		w[i] = s2;
	}
}

static int wide_negative(const uint64_t *w, int n)
{
	return (int)(w[n - 1] >> 63);
}

static void wide_negate(uint64_t *w, int n)
{
	unsigned carry = 1;

	for (int i = 0; i < n; i++) {
		w[i] = ~w[i] + carry;
		carry = carry && w[i] == 0;
	}
}

double qp_wide_to_double(const uint64_t *w, int n, int lsb_exp)
{
	uint64_t mag[QP_STATS_SQ_WORDS];
	long double v = 0;
	int neg = wide_negative(w, n);

	memcpy(mag, w, (size_t)n * sizeof *w);
	if (neg)
		wide_negate(mag, n);
	for (int i = n - 1; i >= 0; i--)
		v = v * 18446744073709551616.0L + (long double)mag[i];
	v = ldexpl(v, lsb_exp);
	return (double)(neg ? -v : v);
}

/* "0x1f", "-0x3", "0x0": the integer in hexadecimal, no leading zeros. */
char *qp_wide_to_hex(const uint64_t *w, int n)
{
	uint64_t mag[QP_STATS_SQ_WORDS];
	int neg = wide_negative(w, n), top = n - 1;
	char *s = malloc((size_t)n * 16 + 4), *p;

	if (!s)
		return NULL;
	memcpy(mag, w, (size_t)n * sizeof *w);
	if (neg)
		wide_negate(mag, n);
	while (top > 0 && mag[top] == 0)
		top--;
	p = s;
	if (neg)
		*p++ = '-';
	p += sprintf(p, "0x%" PRIx64, mag[top]);
	for (int i = top - 1; i >= 0; i--)
		p += sprintf(p, "%016" PRIx64, mag[i]);
	return s;
}

int qp_wide_from_hex(const char *s, uint64_t *w, int n)
{
	int neg = 0;
	size_t len;

	memset(w, 0, (size_t)n * sizeof *w);
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (s[0] != '0' || s[1] != 'x' || !s[2])
		return -1;
	s += 2;
	len = strlen(s);
	if (len > (size_t)n * 16 || (len > 1 && s[0] == '0'))
		return -1;       /* too wide, or a leading zero */
	for (size_t i = 0; i < len; i++) {
		char c = s[len - 1 - i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -1;
		w[i / 16] |= (uint64_t)d << (4 * (i % 16));
	}
	if (wide_negative(w, n))
		return -1;
	if (neg)
		wide_negate(w, n);
	return 0;
}

double qp_stats_mean(const qp_stats *s, int c)
{
	double per_channel = (double)(s->count / s->n_channels);

	return qp_wide_to_double(s->sum + (size_t)c * QP_STATS_SUM_WORDS,
				 QP_STATS_SUM_WORDS, QP_STATS_SUM_LSB) / per_channel;
}

double qp_stats_std(const qp_stats *s, int c)
{
	double per_channel = (double)(s->count / s->n_channels);
	double mean = qp_stats_mean(s, c);
	double sq = qp_wide_to_double(s->sumsq + (size_t)c * QP_STATS_SQ_WORDS,
				      QP_STATS_SQ_WORDS, QP_STATS_SQ_LSB) / per_channel;
	double var = sq - mean * mean;

	return var > 0 ? sqrt(var) : 0;
}

int qp_stats_merge(qp_stats *dst, const qp_stats *src, const char *name,
		   qp_err *err)
{
	if (src->count == 0)
		return 0;
	if (dst->count == 0) {
		dst->min = src->min;
		dst->max = src->max;
	} else {
		dst->min = src->min < dst->min ? src->min : dst->min;
		dst->max = src->max > dst->max ? src->max : dst->max;
	}
	dst->count += src->count;
	if (dst->n_channels != src->n_channels)
		return qp_err_set(err, "tensor '%s': statistics over %d and %d channels cannot be merged",
				  name, dst->n_channels, src->n_channels);
	if (dst->n_channels == 0)
		return 0;
	for (int c = 0; c < dst->n_channels; c++) {
		qp_wide_add(dst->sum + (size_t)c * QP_STATS_SUM_WORDS,
			    src->sum + (size_t)c * QP_STATS_SUM_WORDS, QP_STATS_SUM_WORDS);
		qp_wide_add(dst->sumsq + (size_t)c * QP_STATS_SQ_WORDS,
			    src->sumsq + (size_t)c * QP_STATS_SQ_WORDS, QP_STATS_SQ_WORDS);
	}
	for (int b = 0; b < QP_STATS_HIST_BINS; b++)
		dst->hist[b] += src->hist[b];
	return 0;
}

int qp_stats_verify(const qp_tensor *t, qp_err *err)
{
	const qp_stats *s = t->stats;
	int64_t total = 0;

	if (s->n_channels == 0)
		return 0;
	if (s->n_channels != qp_stats_channels(t))
		return qp_err_set(err, "tensor '%s': stats have %d channels, the tensor has %d",
				  t->name, s->n_channels, qp_stats_channels(t));
	if (s->count % s->n_channels)
		return qp_err_set(err, "tensor '%s': stats count %" PRId64 " is not a multiple of its %d channels",
				  t->name, s->count, s->n_channels);
	for (int b = 0; b < QP_STATS_HIST_BINS; b++) {
		if (s->hist[b] < 0 || s->hist[b] > s->count - total)
			return qp_err_set(err, "tensor '%s': stats histogram counts exceed count %" PRId64,
					  t->name, s->count);
		total += s->hist[b];
	}
	if (total != s->count)
		return qp_err_set(err, "tensor '%s': stats histogram holds %" PRId64 " values, count is %" PRId64,
				  t->name, total, s->count);
	for (int c = 0; c < s->n_channels; c++)
		if (wide_negative(s->sumsq + (size_t)c * QP_STATS_SQ_WORDS, QP_STATS_SQ_WORDS))
			return qp_err_set(err, "tensor '%s': stats sumsq[%d] is negative", t->name, c);
	return 0;
}

static int add_wide_array(cJSON *js, const char *name, const uint64_t *w,
			  int n_channels, int words)
{
	cJSON *arr = cJSON_CreateArray();

	if (qp_json_add(js, name, arr))
		return -1;
	for (int c = 0; c < n_channels; c++) {
		char *hex = qp_wide_to_hex(w + (size_t)c * words, words);
		cJSON *item = hex ? cJSON_CreateString(hex) : NULL;

		free(hex);
		if (qp_json_add(arr, NULL, item))
			return -1;
	}
	return 0;
}

int qp_stats_write_json(const qp_stats *s, cJSON *js)
{
	cJSON *mean, *std, *hist;

	if (s->n_channels == 0)
		return 0;
	mean = cJSON_CreateArray();
	std = cJSON_CreateArray();
	hist = cJSON_CreateArray();
	if (qp_json_add(js, "mean", mean) || qp_json_add(js, "std", std) ||
	    qp_json_add(js, "hist", hist))
		return -1;
	for (int c = 0; c < s->n_channels; c++)
		if (qp_json_add(mean, NULL, qp_json_rawf("%.9g", qp_stats_mean(s, c))) ||
		    qp_json_add(std, NULL, qp_json_rawf("%.9g", qp_stats_std(s, c))))
			return -1;
	for (int b = 0; b < QP_STATS_HIST_BINS; b++) {
		cJSON *pair;

		if (!s->hist[b])
			continue;
		pair = cJSON_CreateArray();
		if (qp_json_add(hist, NULL, pair) ||
		    qp_json_add(pair, NULL, qp_json_rawf("%.0f", (double)b)) ||
		    qp_json_add(pair, NULL, qp_json_rawf("%.0f", (double)s->hist[b])))
			return -1;
	}
	if (add_wide_array(js, "sum", s->sum, s->n_channels, QP_STATS_SUM_WORDS) ||
	    add_wide_array(js, "sumsq", s->sumsq, s->n_channels, QP_STATS_SQ_WORDS))
		return -1;
	return 0;
}

static int read_wide_array(const cJSON *arr, uint64_t *w, int n_channels,
			   int words)
{
	int c = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n_channels)
		return -1;
	for (const cJSON *it = arr->child; it; it = it->next, c++)
		if (!cJSON_IsString(it) ||
		    qp_wide_from_hex(it->valuestring, w + (size_t)c * words, words))
			return -1;
	return 0;
}

int qp_stats_read_json(const cJSON *js, qp_tensor *t, qp_err *err)
{
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(js, "sum");
	const cJSON *sumsq = cJSON_GetObjectItemCaseSensitive(js, "sumsq");
	const cJSON *hist = cJSON_GetObjectItemCaseSensitive(js, "hist");
	const cJSON *mean = cJSON_GetObjectItemCaseSensitive(js, "mean");
	const cJSON *std = cJSON_GetObjectItemCaseSensitive(js, "std");
	qp_stats *s = t->stats, *full;
	int n = qp_stats_channels(t), prev = -1;

	if (!sum && !sumsq && !hist && !mean && !std)
		return 0;       /* min, max and count only (format 1.0) */
	if (!sum || !sumsq || !hist || !mean || !std)
		return qp_err_set(err, "tensor '%s': stats need all of sum, sumsq, mean, std and hist, or none",
				  t->name);
	if (n == 0)
		return qp_err_set(err, "tensor '%s': stats per channel on a tensor with no channels",
				  t->name);
	full = qp_stats_new(n);
	if (!full)
		return qp_err_set(err, "out of memory");
	full->min = s->min;
	full->max = s->max;
	full->count = s->count;
	qp_stats_free(s);
	t->stats = full;
	/* mean and std are derived from the sums; they are only checked for
	 * shape here and recomputed when the file is written. */
	if (!cJSON_IsArray(mean) || cJSON_GetArraySize(mean) != n ||
	    !cJSON_IsArray(std) || cJSON_GetArraySize(std) != n)
		return qp_err_set(err, "tensor '%s': stats mean and std need %d numbers each", t->name, n);
	if (read_wide_array(sum, full->sum, n, QP_STATS_SUM_WORDS) ||
	    read_wide_array(sumsq, full->sumsq, n, QP_STATS_SQ_WORDS))
		return qp_err_set(err, "tensor '%s': stats sum and sumsq need %d hexadecimal integer strings each, within range",
				  t->name, n);
	if (!cJSON_IsArray(hist))
		return qp_err_set(err, "tensor '%s': stats hist must be an array of [bin, count] pairs", t->name);
	for (const cJSON *p = hist->child; p; p = p->next) {
		const cJSON *b = p->child, *c = b ? b->next : NULL;
		double bv, cv;

		if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 ||
		    !cJSON_IsNumber(b) || !cJSON_IsNumber(c))
			return qp_err_set(err, "tensor '%s': stats hist must be an array of [bin, count] pairs", t->name);
		bv = b->valuedouble;
		cv = c->valuedouble;
		if (bv != floor(bv) || bv <= prev || bv >= QP_STATS_HIST_BINS ||
		    cv != floor(cv) || cv < 1 || cv > 9007199254740992.0)
			return qp_err_set(err, "tensor '%s': stats hist bin %.17g count %.17g: bins must increase within 0..%d, counts be positive integers",
					  t->name, bv, cv, QP_STATS_HIST_BINS - 1);
		prev = (int)bv;
		full->hist[prev] = (int64_t)cv;
	}
	return 0;
}
