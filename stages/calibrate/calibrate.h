/* calibrate: run a float IR over data and record activation statistics. */
#ifndef QP_CALIBRATE_H
#define QP_CALIBRATE_H

#include <stdint.h>

#include "ir.h"

/* Runs the float graph over the samples of the .npy files (one per graph
 * input, see qp_feed_open) and replaces the stats {min, max, count} of every
 * float32 activation (graph inputs and node outputs).  limit > 0 stops
 * after that many samples.  *used is set to the number of samples run.
 * Refuses a quantized or lowered IR.  On failure *data_error tells whether
 * the message is about a data file (it then starts with the file's path)
 * rather than the model. */
int calibrate_graph(qp_graph *g, int n_paths, const char *const *paths,
		    int64_t limit, int64_t *used, int *data_error,
		    qp_err *err);

#endif
