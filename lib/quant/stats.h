/* Calibration statistics of one activation tensor (docs/ir.md, section 5).
 * Everything but min/max/count is optional (n_channels 0: absent) and is
 * kept in a form that merges exactly: per-channel sums as wide
 * two's-complement integers (little-endian 64-bit words) in units of
 * 2^QP_STATS_SUM_LSB (values) and 2^QP_STATS_SQ_LSB (squares), and a
 * histogram over float32 bit patterns (bin = bits >> 20; 0 and -0 in bin 0).
 * A tensor owns its statistics (qp_tensor.stats; ir.h declares the type).
 */
#ifndef QP_STATS_H
#define QP_STATS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "ir.h"

#define QP_STATS_SUM_WORDS 6
#define QP_STATS_SUM_LSB (-149)
#define QP_STATS_SQ_WORDS 10
#define QP_STATS_SQ_LSB (-298)
#define QP_STATS_HIST_BINS 4096

struct qp_stats {
	float min, max;
	int64_t count;       /* values observed */
	int n_channels;      /* 0: no per-channel sums or histogram */
	uint64_t *sum;       /* n_channels * QP_STATS_SUM_WORDS */
	uint64_t *sumsq;     /* n_channels * QP_STATS_SQ_WORDS */
	int64_t *hist;       /* QP_STATS_HIST_BINS counts */
};

/* Channels are axis 1 for rank >= 2, else the whole tensor is one
 * channel. */
int qp_stats_channels(const qp_tensor *t);
qp_stats *qp_stats_new(int n_channels);      /* zeroed; NULL: no memory */
void qp_stats_free(qp_stats *s);
int qp_stats_hist_bin(float x);
/* w (n words) += x, x a multiple of 2^lsb_exp; -1 if it is not or the sum
 * would not fit.  Exact, so the order of additions does not matter. */
int qp_wide_add_double(uint64_t *w, int n, double x, int lsb_exp);
void qp_wide_add(uint64_t *w, const uint64_t *v, int n);
double qp_wide_to_double(const uint64_t *w, int n, int lsb_exp);
char *qp_wide_to_hex(const uint64_t *w, int n);     /* malloc'd */
int qp_wide_from_hex(const char *s, uint64_t *w, int n);
double qp_stats_mean(const qp_stats *s, int channel);
double qp_stats_std(const qp_stats *s, int channel);
/* dst += src, exactly. */
int qp_stats_merge(qp_stats *dst, const qp_stats *src, const char *name,
		   qp_err *err);
int qp_stats_verify(const qp_tensor *t, qp_err *err);
int qp_stats_write_json(const qp_stats *s, cJSON *js);
int qp_stats_read_json(const cJSON *js, qp_tensor *t, qp_err *err);

#endif
