/* The data feed (see feed.h): batches over the per-input sources of
 * datasrc.c.  The sources know files and samples; the feed knows that a
 * model has several inputs that must agree, a batch size, a skip and a
 * limit, and labels that follow the samples. */
#include "feed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct qp_feed {
	int n;
	qp_datasrc *src[QP_FEED_MAX_INPUTS];
	const char *paths[QP_FEED_MAX_INPUTS];   /* borrowed from the caller */
	int64_t numel[QP_FEED_MAX_INPUTS];       /* floats per sample */
	int64_t batch, total, done, skip, limit;
	qp_datasrc_opts so;                      /* as the sources were opened */
	qp_datasrc *labels;
	const char *labels_path;
	float *scratch;                          /* one sample, for skipping */
};

/* The messages of qp_arg_int/qp_arg_double (cli.c), without exiting. */
static int parse_int(const char *opt, const char *s, long long lo, long long hi,
		     long long *v, qp_err *err)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno || end == s || *end || *v < lo || *v > hi)
		return qp_err_set(err, "%s wants a whole number from %lld to %lld, not '%s'",
				  opt, lo, hi, s);
	return 0;
}

int qp_feed_option(qp_feed_opts *o, int c, const char *arg, qp_err *err)
{
	long long v;
	double x;
	char *end;

	switch (c) {
	case QP_FEED_OPT_SIZE:
		return qp_datasrc_parse_size(arg, &o->src.height, &o->src.width, err) ? -1 : 1;
	case QP_FEED_OPT_RESIZE:
		return qp_datasrc_parse_resize(arg, &o->src.resize, err) ? -1 : 1;
	case QP_FEED_OPT_CHANNELS:
		return qp_datasrc_parse_channels(arg, &o->src.channels, err) ? -1 : 1;
	case QP_FEED_OPT_MEAN:
		return qp_datasrc_parse_floats3(arg, o->src.mean, 0, err) ? -1 : 1;
	case QP_FEED_OPT_STD:
		return qp_datasrc_parse_floats3(arg, o->src.std, 1, err) ? -1 : 1;
	case QP_FEED_OPT_SCALE:
		errno = 0;
		x = strtod(arg, &end);
		if (errno || end == arg || *end || !isfinite(x))
			return qp_err_set(err, "--scale wants a number, not '%s'", arg);
		o->src.scale = (float)x;
		return 1;
	case QP_FEED_OPT_SHUFFLE:
		if (parse_int("--shuffle", arg, 0, INT64_MAX, &v, err))
			return -1;
		o->src.shuffle = 1;
		o->src.seed = (uint64_t)v;
		return 1;
	case QP_FEED_OPT_SKIP:
		if (parse_int("--skip", arg, 0, INT64_MAX, &v, err))
			return -1;
		o->skip = v;
		return 1;
	case QP_FEED_OPT_LIMIT:
		if (parse_int("--limit", arg, 1, INT64_MAX, &v, err))
			return -1;
		o->limit = v;
		return 1;
	}
	return 0;
}

static int input_index(int n, const qp_datasrc_input *in, const char *name, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(in[i].name) == len && strncmp(in[i].name, name, len) == 0)
			return i;
	return -1;
}

/* "NAME=PATH" whose NAME is no model input while no file of that whole
 * name exists: a misspelt input name.  A NAME with a '/' is taken for part
 * of a path. */
static int unknown_input(int n, const qp_datasrc_input *in, const char *opt,
			 const char *arg, qp_err *err)
{
	const char *eq = strchr(arg, '=');
	struct stat st;
	char names[512] = "";
	size_t used = 0;

	if (!eq || eq == arg || memchr(arg, '/', (size_t)(eq - arg)) || stat(arg, &st) == 0)
		return 0;
	for (int i = 0; i < n && used < sizeof names; i++)
		used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "",
					 in[i].name);
	return qp_err_set(err, "%s %s: the model has no input '%.*s' (its inputs: %s)",
			  opt, arg, (int)(eq - arg), arg, names);
}

int qp_feed_assign(int n_inputs, const qp_datasrc_input *inputs, const char *opt,
		   int n_args, const char *const *args, const char **paths, qp_err *err)
{
	for (int i = 0; i < n_inputs; i++)
		paths[i] = NULL;
	for (int i = 0, next = 0; i < n_args; i++) {
		const char *eq = strchr(args[i], '='), *path = args[i];
		int idx = eq ? input_index(n_inputs, inputs, args[i], (size_t)(eq - args[i])) : -1;

		if (idx >= 0)
			path = eq + 1;
		else if (unknown_input(n_inputs, inputs, opt, args[i], err))
			return -1;
		if (idx < 0) {
			while (next < n_inputs && paths[next])
				next++;
			if (next == n_inputs)
				return qp_err_set(err, "more %s than model inputs (%d)", opt, n_inputs);
			idx = next;
		}
		if (paths[idx])
			return qp_err_set(err, "two %s for input '%s'", opt, inputs[idx].name);
		paths[idx] = path;
	}
	for (int i = 0; i < n_inputs; i++)
		if (!paths[i])
			return qp_err_set(err, "no %s for input '%s' (the model has %d inputs)",
					  opt, inputs[i].name, n_inputs);
	return 0;
}

void qp_feed_free(qp_feed *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		qp_datasrc_free(f->src[i]);
	qp_datasrc_free(f->labels);
	free(f->scratch);
	free(f);
}

qp_feed *qp_feed_open(int n_inputs, const qp_datasrc_input *inputs,
		      const char *const *paths, const qp_feed_opts *o, qp_err *err)
{
	qp_feed *f;
	int64_t count = -1, max_numel = 1;

	if (n_inputs < 1 || n_inputs > QP_FEED_MAX_INPUTS)
		return qp_err_set(err, "the model has %d inputs; 1 to %d are supported",
				  n_inputs, QP_FEED_MAX_INPUTS), NULL;
	f = calloc(1, sizeof *f);
	if (!f)
		return qp_err_set(err, "out of memory"), NULL;
	if (o) {
		f->so = o->src;
		f->skip = o->skip;
		f->limit = o->limit;
	}
	/* The sources stop after skip + limit; the feed drops the first skip. */
	f->so.limit = f->limit > 0 ? f->skip + f->limit : 0;
	f->batch = inputs[0].rank >= 1 ? inputs[0].dims[0] : 0;
	for (int i = 0; i < n_inputs; i++) {
		const qp_datasrc_input *in = &inputs[i];
		int64_t n;

		if (in->rank < 1) {
			qp_err_set(err, "model input '%s' has no batch axis", in->name);
			goto fail;
		}
		if (in->dims[0] != f->batch) {
			qp_err_set(err, "model inputs disagree on the batch size (%lld and %lld)",
				   (long long)f->batch, (long long)in->dims[0]);
			goto fail;
		}
		f->paths[i] = paths[i];
		f->src[i] = qp_datasrc_open_input(in, paths[i], &f->so, err);
		if (!f->src[i])
			goto fail;
		f->n = i + 1;
		f->numel[i] = qp_datasrc_sample_numel(f->src[i]);
		if (f->numel[i] > max_numel)
			max_numel = f->numel[i];
		n = qp_datasrc_count(f->src[i]);
		if (count >= 0 && n != count) {
			qp_err_set(err, "%s: %lld samples, but %s has %lld", paths[i], (long long)n,
				   paths[0], (long long)count);
			goto fail;
		}
		count = n;
	}
	if (f->batch < 1) {
		qp_err_set(err, "model batch size is %lld", (long long)f->batch);
		goto fail;
	}
	f->scratch = malloc((size_t)max_numel * sizeof *f->scratch);
	if (!f->scratch) {
		qp_err_set(err, "out of memory");
		goto fail;
	}
	/* Skipped samples are read, not seeked over: a pipe cannot seek, and
	 * bad data is found wherever it is (calibrate's rule). */
	if (f->skip > 0 && count <= f->skip) {
		qp_err_set(err, "%s: no samples after --skip", paths[0]);
		goto fail;
	}
	for (int i = 0; i < f->n; i++)
		for (int64_t k = 0; k < f->skip; k++)
			if (qp_datasrc_next(f->src[i], f->scratch, err) != 1)
				goto fail;
	f->total = count - f->skip;
	if (f->limit > 0 && f->limit < f->total)
		f->total = f->limit;
	return f;
fail:
	qp_feed_free(f);
	return NULL;
}

int qp_feed_open_labels(qp_feed *f, const char *path, qp_err *err)
{
	int64_t label;

	/* As many labels as the data file has samples, not as limit left of
	 * them: labels belong to the samples one by one. */
	f->labels = qp_datasrc_open_labels(path, qp_datasrc_total(f->src[0]), &f->so, err);
	if (!f->labels)
		return -1;
	f->labels_path = path;
	for (int64_t k = 0; k < f->skip; k++)
		if (qp_datasrc_next_label(f->labels, &label, err) != 1)
			return -1;
	return 0;
}

int64_t qp_feed_samples(const qp_feed *f)
{
	return f->total;
}

int64_t qp_feed_batch(const qp_feed *f)
{
	return f->batch;
}

const char *qp_feed_path(const qp_feed *f, int i)
{
	return f->paths[i];
}

int64_t qp_feed_next(qp_feed *f, float *const *dst, int64_t *labels, qp_err *err)
{
	int64_t take = f->total - f->done;

	if (take <= 0)
		return 0;
	if (take > f->batch)
		take = f->batch;
	for (int i = 0; i < f->n; i++) {
		int64_t per = f->numel[i];

		for (int64_t k = 0; k < take; k++) {
			int rc = qp_datasrc_next(f->src[i], dst[i] + k * per, err);

			if (rc == 0)
				qp_err_set(err, "%s: data ended early at sample %lld", f->paths[i],
					   (long long)(f->skip + f->done + k));
			if (rc != 1)
				return -1;
		}
		/* A short last batch is padded with zeros. */
		memset(dst[i] + take * per, 0, sizeof(float) * (size_t)((f->batch - take) * per));
	}
	for (int64_t k = 0; labels && f->labels && k < take; k++) {
		int rc = qp_datasrc_next_label(f->labels, &labels[k], err);

		if (rc == 0)
			qp_err_set(err, "%s: labels ended early", f->labels_path);
		if (rc != 1)
			return -1;
	}
	f->done += take;
	return take;
}
