/* Activation statistics for calibrate.
 *
 * Every statistic combines exactly (lib/quant/stats.c, docs/ir.md section 5), so
 * the samples can be spread over threads in any order and over separate
 * runs (shards) that calibrate --merge combines: the result is the same
 * bytes.  Each thread has its own interpreter and accumulators over the
 * shared, read-only graph; the data feed (lib/data/feed.h) is shared behind a
 * mutex and hands out one batch at a time, so memory does not grow with the
 * data set.
 */
#include "calibrate.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interp.h"
#include "stats.h"

typedef struct shared {
	const qp_graph *g;
	qp_feed *feed;
	int64_t batch, total, next, done;  /* next: handed out; done: run */
	int failed, data_error;
	qp_err err;
	pthread_mutex_t lock;
	int progress;
	double start, last_report;
} shared;

typedef struct worker {
	shared *sh;
	qp_stats **acc;          /* per tensor, NULL until observed */
	double *ch_sum, *ch_sq;  /* per-channel scratch for one sample */
	int64_t valid, sample0;  /* samples in the current batch */
	qp_err err;
	int failed;
	pthread_t thread;
} worker;

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int observe(void *ctx, int tensor, const qp_value *v, qp_err *err)
{
	worker *w = ctx;
	const qp_tensor *t = &w->sh->g->tensors[tensor];
	const float *x = v->data;
	int64_t rows = 1, row_numel = v->numel, inner = 1, outer;
	int nch;
	qp_stats *s;

	if (v->dtype != QP_DT_FLOAT32 || t->data || v->numel == 0)
		return 0;
	nch = qp_stats_channels(t);
	if (nch == 0)
		return 0;
	/* Rows along the batch axis are samples; a short last batch is
	 * padded with zeros, and only the real samples' rows count.  A tensor
	 * without the batch axis counts once per batch. */
	if (v->rank >= 1 && v->dims[0] == w->sh->batch) {
		rows = w->valid;
		row_numel = v->numel / v->dims[0];
	}
	for (int d = 2; d < t->rank; d++)
		inner *= t->dims[d];
	outer = t->rank >= 2 ? row_numel / (nch * inner) : 1;
	if (t->rank < 2)
		inner = row_numel;
	if (!w->acc[tensor]) {
		w->acc[tensor] = qp_stats_new(nch);
		if (!w->acc[tensor])
			return qp_err_set(err, "out of memory");
	}
	s = w->acc[tensor];
	for (int64_t r = 0; r < rows; r++) {
		const float *row = x + r * row_numel;

		/* Within one sample the order of additions is fixed, so the
		 * per-sample double sums are the same in every run; across
		 * samples they add into exact wide integers. */
		for (int c = 0; c < nch; c++)
			w->ch_sum[c] = w->ch_sq[c] = 0;
		for (int64_t o = 0; o < outer; o++) {
			for (int c = 0; c < nch; c++) {
				const float *p = row + (o * nch + c) * inner;
				double sum = 0, sq = 0;

				for (int64_t i = 0; i < inner; i++) {
					float xi = p[i];

					if (!isfinite(xi))
						return qp_err_set(err, "tensor '%s' has a non-finite value (%s) in sample %lld",
								  t->name, isnan(xi) ? "NaN" : xi > 0 ? "+inf" : "-inf",
								  (long long)(w->sample0 + r));
					if (s->count == 0 && o == 0 && c == 0 && i == 0) {
						s->min = s->max = xi;
					} else if (xi < s->min) {
						s->min = xi;
					} else if (xi > s->max) {
						s->max = xi;
					}
					s->hist[qp_stats_hist_bin(xi)]++;
					sum += xi;
					sq += (double)xi * xi;
				}
				w->ch_sum[c] += sum;
				w->ch_sq[c] += sq;
			}
		}
		for (int c = 0; c < nch; c++)
			if (qp_wide_add_double(s->sum + (size_t)c * QP_STATS_SUM_WORDS,
					       QP_STATS_SUM_WORDS, w->ch_sum[c], QP_STATS_SUM_LSB) ||
			    qp_wide_add_double(s->sumsq + (size_t)c * QP_STATS_SQ_WORDS,
					       QP_STATS_SQ_WORDS, w->ch_sq[c], QP_STATS_SQ_LSB))
				return qp_err_set(err, "tensor '%s': channel sums out of range", t->name);
		s->count += row_numel;
	}
	return 0;
}

static void report_progress(shared *sh, int final)
{
	double t = now_seconds(), rate;
	long long left;

	if (!sh->progress || (!final && t - sh->last_report < 0.5))
		return;
	sh->last_report = t;
	rate = t > sh->start ? sh->done / (t - sh->start) : 0;
	left = rate > 0 ? (long long)((sh->total - sh->done) / rate + 0.5) : 0;
	fprintf(stderr, "\rcalibrate: %lld/%lld samples, %.1f samples/s, ETA %lld:%02lld ",
		(long long)sh->done, (long long)sh->total, rate, left / 60, left % 60);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* Fills the interpreter's inputs with the next batch under the lock;
 * returns the samples taken, 0 at the end, -1 on a data error. */
static int64_t take_batch(worker *w, qp_interp *ip)
{
	shared *sh = w->sh;
	int64_t take;

	float *dst[QP_FEED_MAX_INPUTS];

	for (int i = 0; i < sh->g->n_inputs; i++)
		dst[i] = qp_interp_input(ip, i)->data;
	pthread_mutex_lock(&sh->lock);
	take = sh->failed ? 0 : qp_feed_next(sh->feed, dst, NULL, &sh->err);
	if (take < 0)
		sh->failed = sh->data_error = 1;
	if (take > 0) {
		w->sample0 = sh->next;
		sh->next += take;
	}
	pthread_mutex_unlock(&sh->lock);
	return take;
}

static void *work(void *arg)
{
	worker *w = arg;
	qp_interp_opts opts = { .observe = observe, .observe_ctx = w };
	qp_interp *ip = qp_interp_new(w->sh->g, &opts, &w->err);
	int64_t take;

	if (!ip) {
		w->failed = 1;
	} else {
		while ((take = take_batch(w, ip)) > 0) {
			w->valid = take;
			if (qp_interp_run(ip, &w->err)) {
				w->failed = 1;
				break;
			}
			pthread_mutex_lock(&w->sh->lock);
			w->sh->done += take;
			report_progress(w->sh, 0);
			pthread_mutex_unlock(&w->sh->lock);
		}
	}
	if (w->failed) {       /* stop the others soon */
		pthread_mutex_lock(&w->sh->lock);
		w->sh->failed = 1;
		pthread_mutex_unlock(&w->sh->lock);
	}
	qp_interp_free(ip);
	return NULL;
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

/* Opens the feed; calibrate needs float32 inputs and some samples. */
static int open_feed(const qp_graph *g, const calib_opts *o, shared *sh, qp_err *err)
{
	qp_datasrc_input in[QP_FEED_MAX_INPUTS];

	if (g->n_inputs > QP_FEED_MAX_INPUTS)
		return qp_err_set(err, "the model has %d inputs; at most %d are supported",
				  g->n_inputs, QP_FEED_MAX_INPUTS);
	for (int i = 0; i < g->n_inputs; i++) {
		const qp_tensor *t = &g->tensors[g->inputs[i].tensor];

		if (t->dtype != QP_DT_FLOAT32)
			return qp_err_set(err, "input '%s' is %s; calibrate feeds float32 inputs only",
					  t->name, qp_dtype_name(t->dtype));
		in[i].name = t->name;
		in[i].layout = g->inputs[i].layout;
		in[i].rank = t->rank;
		in[i].dims = t->dims;
	}
	sh->feed = qp_feed_open(g->n_inputs, in, o->paths, &o->feed, err);
	if (!sh->feed)
		return -1;
	sh->total = qp_feed_samples(sh->feed);
	if (sh->total == 0)
		return qp_err_set(err, "%s: no samples", o->paths[0]);
	return 0;
}

int calibrate_graph(qp_graph *g, const calib_opts *o, int64_t *used,
		    int *data_error, qp_err *err)
{
	shared sh = { .g = g };
	worker *w = NULL;
	int n_workers = o->threads > 0 ? o->threads : 1, started = 0, rc = -1, nch_max = 1;
	const qp_tensor *in0;

	*used = 0;
	*data_error = 0;
	if (is_quantized(g))
		return qp_err_set(err, "the IR is already quantized; calibrate takes the float IR from onnx2ir or keras2ir");
	if (g->n_inputs < 1)
		return qp_err_set(err, "the graph has no inputs");
	in0 = &g->tensors[g->inputs[0].tensor];
	sh.batch = in0->rank >= 1 && in0->dims[0] > 0 ? in0->dims[0] : 1;
	for (int i = 0; i < g->n_inputs; i++) {
		const qp_tensor *t = &g->tensors[g->inputs[i].tensor];

		if (t->rank < 1 || t->dims[0] != sh.batch)
			return qp_err_set(err, "input '%s': dim 0 must be the batch size %lld shared by all inputs",
					  t->name, (long long)sh.batch);
	}
	if (open_feed(g, o, &sh, err)) {
		*data_error = 1;
		goto out;
	}
	for (int t = 0; t < g->n_tensors; t++)
		if (qp_stats_channels(&g->tensors[t]) > nch_max)
			nch_max = qp_stats_channels(&g->tensors[t]);
	/* no idle interpreters: at most one thread per batch */
	if (n_workers > (sh.total + sh.batch - 1) / sh.batch)
		n_workers = (int)((sh.total + sh.batch - 1) / sh.batch);
	w = calloc((size_t)n_workers, sizeof *w);
	if (!w || pthread_mutex_init(&sh.lock, NULL)) {
		free(w);
		w = NULL;
		qp_err_set(err, "out of memory");
		goto out;
	}
	sh.progress = o->progress;
	sh.start = sh.last_report = now_seconds();
	for (int k = 0; k < n_workers; k++) {
		w[k].sh = &sh;
		w[k].acc = calloc((size_t)g->n_tensors, sizeof *w[k].acc);
		w[k].ch_sum = malloc((size_t)nch_max * sizeof *w[k].ch_sum);
		w[k].ch_sq = malloc((size_t)nch_max * sizeof *w[k].ch_sq);
		if (!w[k].acc || !w[k].ch_sum || !w[k].ch_sq) {
			qp_err_set(err, "out of memory");
			goto join;
		}
	}
	for (; started < n_workers; started++)
		if (pthread_create(&w[started].thread, NULL, work, &w[started])) {
			qp_err_set(err, "cannot start thread %d", started + 1);
			break;
		}
join:
	for (int k = 0; k < started; k++)
		pthread_join(w[k].thread, NULL);
	if (started < n_workers)
		goto out;
	report_progress(&sh, 1);
	if (sh.failed) {
		for (int k = 0; k < n_workers; k++)
			if (w[k].failed) {
				*err = w[k].err;
				goto out;
			}
		*err = sh.err;
		*data_error = sh.data_error;
		goto out;
	}
	for (int t = 0; t < g->n_tensors; t++) {
		qp_stats *total = NULL;

		for (int k = 0; k < n_workers; k++) {
			if (!w[k].acc[t])
				continue;
			if (!total) {
				total = qp_stats_new(w[k].acc[t]->n_channels);
				if (!total) {
					qp_err_set(err, "out of memory");
					goto out;
				}
			}
			if (qp_stats_merge(total, w[k].acc[t], g->tensors[t].name, err)) {
				qp_stats_free(total);
				goto out;
			}
		}
		if (total && total->count == 0) {
			qp_stats_free(total);
			total = NULL;
		}
		if (total) {
			qp_stats_free(g->tensors[t].stats);
			g->tensors[t].stats = total;
		}
	}
	*used = sh.next;
	rc = 0;
out:
	if (w) {
		for (int k = 0; k < n_workers; k++) {
			if (w[k].acc)
				for (int t = 0; t < g->n_tensors; t++)
					qp_stats_free(w[k].acc[t]);
			free(w[k].acc);
			free(w[k].ch_sum);
			free(w[k].ch_sq);
		}
		free(w);
		pthread_mutex_destroy(&sh.lock);
	}
	qp_feed_free(sh.feed);
	return rc;
}

/* The IR bytes of g without statistics and history: what "the same
 * model" means for --merge. */
static int model_bytes(qp_graph *g, void **buf, size_t *len, qp_err *err)
{
	qp_stats **saved = calloc((size_t)g->n_tensors + 1, sizeof *saved);
	cJSON *history = g->history;
	int rc;

	if (!saved)
		return qp_err_set(err, "out of memory");
	for (int t = 0; t < g->n_tensors; t++) {
		saved[t] = g->tensors[t].stats;
		g->tensors[t].stats = NULL;
	}
	g->history = cJSON_CreateArray();
	rc = g->history ? qp_ir_write_mem(g, buf, len, err) : qp_err_set(err, "out of memory");
	cJSON_Delete(g->history);
	g->history = history;
	for (int t = 0; t < g->n_tensors; t++)
		g->tensors[t].stats = saved[t];
	free(saved);
	return rc;
}

int calibrate_merge_begin(calib_merge *m, qp_graph *g, qp_err *err)
{
	m->g = g;
	m->model = NULL;
	return model_bytes(g, &m->model, &m->len, err);
}

int calibrate_merge_add(calib_merge *m, qp_graph *other, qp_err *err)
{
	void *b = NULL;
	size_t lb;
	int same;

	if (model_bytes(other, &b, &lb, err))
		return -1;
	same = m->len == lb && memcmp(m->model, b, lb) == 0;
	free(b);
	if (!same)
		return qp_err_set(err, "not the same model as the first file (tensors, nodes, inputs or outputs differ)");
	for (int t = 0; t < m->g->n_tensors; t++) {
		qp_tensor *dst = &m->g->tensors[t];
		const qp_stats *src = other->tensors[t].stats;

		if (!dst->stats != !src)
			return qp_err_set(err, "tensor '%s' has statistics in one file and not in the other",
					  dst->name);
		if (src && qp_stats_merge(dst->stats, src, dst->name, err))
			return -1;
	}
	return 0;
}

void calibrate_merge_end(calib_merge *m)
{
	free(m->model);
	m->model = NULL;
}
