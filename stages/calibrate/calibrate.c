/* Activation statistics for calibrate.
 *
 * Statistics are min, max and count only: merging two runs is exact
 * (min of mins, max of maxes, sum of counts), so a data set can be
 * calibrated in pieces and the results combined without loss.
 */
#include "calibrate.h"

#include <math.h>
#include <stdlib.h>

#include "interp.h"

typedef struct observer {
	const qp_graph *g;
	qp_stats *acc;          /* per tensor */
	unsigned char *seen;    /* per tensor */
	int64_t batch;          /* the model's batch size */
	int64_t valid;          /* real samples in the current batch */
	int64_t sample0;        /* index of the batch's first sample */
} observer;

static int observe(void *ctx, int tensor, const qp_value *v, qp_err *err)
{
	observer *ob = ctx;
	const qp_tensor *t = &ob->g->tensors[tensor];
	const float *x = v->data;
	int64_t n = v->numel;
	qp_stats *s = &ob->acc[tensor];

	if (v->dtype != QP_DT_FLOAT32 || t->data)
		return 0;
	/* A short last batch is padded with zeros: only the real samples'
	 * rows count. */
	if (v->rank >= 1 && v->dims[0] == ob->batch && ob->valid < ob->batch)
		n = v->numel / ob->batch * ob->valid;
	for (int64_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			return qp_err_set(err, "tensor '%s' has a non-finite value (%s) in the batch starting at sample %lld",
					  t->name, isnan(x[i]) ? "NaN" : x[i] > 0 ? "+inf" : "-inf",
					  (long long)ob->sample0);
		if (!ob->seen[tensor]) {
			s->min = s->max = x[i];
			ob->seen[tensor] = 1;
		} else if (x[i] < s->min) {
			s->min = x[i];
		} else if (x[i] > s->max) {
			s->max = x[i];
		}
	}
	s->count += n;
	return 0;
}

static int is_quantized(const qp_graph *g)
{
	if (g->meta && (cJSON_GetObjectItemCaseSensitive(g->meta, "lowered") ||
			cJSON_GetObjectItemCaseSensitive(g->meta, "target")))
		return 1;
	for (int t = 0; t < g->n_tensors; t++)
		if (g->tensors[t].quant)
			return 1;
	return 0;
}

int calibrate_graph(qp_graph *g, int n_paths, const char *const *paths,
		    int64_t limit, int64_t *used, int *data_error,
		    qp_err *err)
{
	observer ob = {0};
	qp_interp_opts opts = {0};
	qp_interp *ip = NULL;
	qp_feed *feed = NULL;
	int64_t take, done = 0, total;
	int rc = -1;

	*used = 0;
	*data_error = 0;
	if (is_quantized(g))
		return qp_err_set(err, "the IR is already quantized; calibrate takes the float IR from onnx2ir or keras2ir");
	ob.g = g;
	ob.acc = calloc((size_t)g->n_tensors + 1, sizeof *ob.acc);
	ob.seen = calloc((size_t)g->n_tensors + 1, 1);
	if (!ob.acc || !ob.seen) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	feed = qp_feed_open(g, n_paths, paths, err);
	if (!feed) {
		*data_error = 1;
		goto out;
	}
	total = qp_feed_samples(feed);
	if (limit > 0 && limit < total)
		total = limit;
	if (total == 0) {
		*data_error = 1;
		qp_err_set(err, "%s: no samples", paths[0]);
		goto out;
	}
	ob.batch = qp_feed_batch(feed);
	opts.observe = observe;
	opts.observe_ctx = &ob;
	ip = qp_interp_new(g, &opts, err);
	if (!ip)
		goto out;
	while (done < total && (take = qp_feed_next(feed, ip, err)) > 0) {
		ob.valid = take < total - done ? take : total - done;
		ob.sample0 = done;
		if (qp_interp_run(ip, err))
			goto out;
		done += ob.valid;
	}
	if (done < total) {     /* qp_feed_next failed */
		*data_error = 1;
		goto out;
	}
	for (int t = 0; t < g->n_tensors; t++) {
		qp_tensor *ten = &g->tensors[t];

		if (!ob.seen[t])
			continue;
		if (!ten->stats) {
			ten->stats = malloc(sizeof *ten->stats);
			if (!ten->stats) {
				qp_err_set(err, "out of memory");
				goto out;
			}
		}
		*ten->stats = ob.acc[t];
	}
	*used = done;
	rc = 0;
out:
	qp_interp_free(ip);
	qp_feed_free(feed);
	free(ob.acc);
	free(ob.seen);
	return rc;
}
