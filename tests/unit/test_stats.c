/* Exact, order-independent statistics (lib/quant/stats.c, docs/ir.md section 5).
 * Expected values are hand-calculated. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stats.h"

#define N QP_STATS_SUM_WORDS

static void test_hex(void)
{
	uint64_t w[N] = {0}, r[N];
	char *s;

	/* 1.0 = 2^149 units: bit 149 = word 2, bit 21 */
	CHECK(qp_wide_add_double(w, N, 1.0, QP_STATS_SUM_LSB) == 0);
	CHECK(w[2] == (uint64_t)1 << 21 && w[0] == 0 && w[1] == 0);
	s = qp_wide_to_hex(w, N);
	CHECK_STR(s, "0x2" "0000000000" "0000000000" "0000000000" "0000000"); /* 2^149: 37 zeros */
	CHECK(qp_wide_from_hex(s, r, N) == 0 && memcmp(r, w, sizeof w) == 0);
	free(s);
	/* 1 - 3 = -2 */
	CHECK(qp_wide_add_double(w, N, -3.0, QP_STATS_SUM_LSB) == 0);
	CHECK(qp_wide_to_double(w, N, QP_STATS_SUM_LSB) == -2.0);
	s = qp_wide_to_hex(w, N);
	CHECK_STR(s, "-0x4" "0000000000" "0000000000" "0000000000" "0000000"); /* -2^150 */
	CHECK(qp_wide_from_hex(s, r, N) == 0 && memcmp(r, w, sizeof w) == 0);
	free(s);
	/* the smallest subnormal is one unit; back to zero */
	memset(w, 0, sizeof w);
	CHECK(qp_wide_add_double(w, N, ldexp(1, -149), QP_STATS_SUM_LSB) == 0);
	s = qp_wide_to_hex(w, N);
	CHECK_STR(s, "0x1");
	free(s);
	CHECK(qp_wide_add_double(w, N, -ldexp(1, -149), QP_STATS_SUM_LSB) == 0);
	s = qp_wide_to_hex(w, N);
	CHECK_STR(s, "0x0");
	free(s);
	/* off the grid, too wide, malformed */
	CHECK(qp_wide_add_double(w, N, ldexp(1, -150), QP_STATS_SUM_LSB) == -1);
	CHECK(qp_wide_add_double(w, N, ldexp(1, 300), QP_STATS_SUM_LSB) == -1);
	CHECK(qp_wide_from_hex("12", r, N) == -1);
	CHECK(qp_wide_from_hex("0x012", r, N) == -1);
	CHECK(qp_wide_from_hex("0xg", r, N) == -1);
}

/* Sums of the same values in different orders and groupings are equal
 * bit for bit, where a double sum is not. */
static void test_order_independent(void)
{
	enum { M = 1000 };
	float v[M];
	uint64_t fwd[N] = {0}, bwd[N] = {0}, a[N] = {0}, b[N] = {0};
	double dfwd = 0, dbwd = 0;
	uint32_t seed = 12345;

	for (int i = 0; i < M; i++) {
		seed = seed * 1664525u + 1013904223u;
		v[i] = ldexpf((float)(seed >> 8) / 16777216.0f - 0.5f, (int)(seed % 40) - 20);
	}
	for (int i = 0; i < M; i++) {
		CHECK(qp_wide_add_double(fwd, N, v[i], QP_STATS_SUM_LSB) == 0);
		CHECK(qp_wide_add_double(bwd, N, v[M - 1 - i], QP_STATS_SUM_LSB) == 0);
		CHECK(qp_wide_add_double(i % 3 ? a : b, N, v[i], QP_STATS_SUM_LSB) == 0);
		dfwd += v[i];
		dbwd += v[M - 1 - i];
	}
	qp_wide_add(a, b, N);
	CHECK(memcmp(fwd, bwd, sizeof fwd) == 0);
	CHECK(memcmp(fwd, a, sizeof fwd) == 0);
	/* the double sums differ in the last bits; the exact one is within
	 * rounding of both */
	CHECK(fabs(qp_wide_to_double(fwd, N, QP_STATS_SUM_LSB) - dfwd) <= 1e-9 * fabs(dfwd) + 1e-12);
	(void)dbwd;
}

static void test_bins_and_merge(void)
{
	qp_stats *s = qp_stats_new(2), *t = qp_stats_new(2);
	qp_err err = {{0}};

	CHECK(qp_stats_hist_bin(0.0f) == 0 && qp_stats_hist_bin(-0.0f) == 0);
	CHECK(qp_stats_hist_bin(1.0f) == 0x3f8);           /* 0x3f800000 >> 20 */
	CHECK(qp_stats_hist_bin(1.124f) == 0x3f8);         /* same 1/8 octave */
	CHECK(qp_stats_hist_bin(1.126f) == 0x3f9);
	CHECK(qp_stats_hist_bin(-2.0f) == 0xc00);          /* 0xc0000000 >> 20 */
	s->min = -1; s->max = 2; s->count = 4; s->hist[0x3f8] = 4;
	t->min = -3; t->max = 1; t->count = 2; t->hist[0x3f8] = 1; t->hist[0] = 1;
	qp_wide_add_double(s->sum, QP_STATS_SUM_WORDS, 1.5, QP_STATS_SUM_LSB);
	qp_wide_add_double(t->sum, QP_STATS_SUM_WORDS, 2.5, QP_STATS_SUM_LSB);
	CHECK(qp_stats_merge(s, t, "x", &err) == 0);
	CHECK(s->min == -3 && s->max == 2 && s->count == 6);
	CHECK(s->hist[0x3f8] == 5 && s->hist[0] == 1);
	/* channel 0 holds 3 values summing to 4 */
	CHECK(qp_stats_mean(s, 0) == 4.0 / 3);
	qp_stats_free(t);
	t = qp_stats_new(3);
	t->count = 3;
	CHECK(qp_stats_merge(s, t, "x", &err) == -1);
	CHECK_STR(err.msg, "tensor 'x': statistics over 2 and 3 channels cannot be merged");
	qp_stats_free(s);
	qp_stats_free(t);
}

int main(void)
{
	TEST(test_hex);
	TEST(test_order_independent);
	TEST(test_bins_and_merge);
	return CHECK_DONE();
}
