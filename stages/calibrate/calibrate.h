/* calibrate: run a float IR over data and record activation statistics. */
#ifndef QP_CALIBRATE_H
#define QP_CALIBRATE_H

#include <stdint.h>

#include "feed.h"
#include "ir.h"

/* One data source per graph input: paths[i] feeds graph input i. */
typedef struct calib_opts {
	const char *const *paths;   /* g->n_inputs entries */
	qp_feed_opts feed;          /* image options, skip, limit, shuffle */
	int threads;                /* >= 1 */
	int progress;               /* print a progress line on stderr */
} calib_opts;

/* Runs the float graph over the samples and replaces the statistics of
 * every float32 activation (graph inputs and node outputs): min, max,
 * count, per-channel exact sums and the bit-pattern histogram (docs/ir.md,
 * section 5).  The result does not depend on threads or on how the data
 * was split into runs (every statistic combines exactly).  *used is set to
 * the number of samples run.  Refuses a quantized or lowered IR.  On
 * failure *data_error tells whether the message is about a data file (it
 * then starts with the file's path) rather than the model. */
int calibrate_graph(qp_graph *g, const calib_opts *o, int64_t *used,
		    int *data_error, qp_err *err);

/* Merging the statistics of calibrated IRs into the first one, g.  Each
 * must be the same model as g: identical IR bytes once statistics and
 * history are removed (g's bytes are computed once, in _begin). */
typedef struct calib_merge {
	qp_graph *g;
	void *model;
	size_t len;
} calib_merge;

int calibrate_merge_begin(calib_merge *m, qp_graph *g, qp_err *err);
/* Adds the statistics of other to g's. */
int calibrate_merge_add(calib_merge *m, qp_graph *other, qp_err *err);
/* Frees the merger's copy of the model bytes (not g). */
void calibrate_merge_end(calib_merge *m);

#endif
