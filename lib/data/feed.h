/* The data feed: batches of samples for a model's inputs, from every source
 * lib/data/datasrc.h reads (.npy, .npz, IDX, image folders, list files, single
 * images), with the same options, checks and messages in every tool that
 * reads data (calibrate --data, irrun --input, simulate --input).
 *
 * A feed holds one qp_datasrc per model input and hands out batches of the
 * model's batch size (dim 0 of its inputs): each input's samples, in the
 * canonical layout, as float32, a short last batch padded with zeros.  All
 * sources must hold the same number of samples; --skip samples are passed
 * over first, --limit cuts the rest, --shuffle visits them in a seeded
 * order that is the same for every input and for the labels.  Memory holds
 * one batch, never the data set.
 *
 * The feed knows model inputs only through qp_datasrc_input, so a float
 * IR's graph inputs and a device binary's inputs are fed alike.
 *
 * Error messages start with the file they are about; usage problems
 * (qp_feed_option, qp_feed_assign) return -1 with a message the caller turns
 * into a usage error (exit 2).  Nothing here prints or exits.
 */
#ifndef QP_FEED_H
#define QP_FEED_H

#include <stdint.h>

#include "datasrc.h"
#include "err.h"

#define QP_FEED_MAX_INPUTS 16

typedef struct qp_feed_opts {
	qp_datasrc_opts src;    /* image options, shuffle; src.limit is ignored */
	int64_t skip;           /* samples to pass over first */
	int64_t limit;          /* > 0: at most this many after skip */
} qp_feed_opts;

/* The data options every data consumer takes, as qp_cli_opt rows (cli.h):
 * put QP_FEED_CLI_OPTS in the tool's option table and hand every option to
 * qp_feed_option.  Codes 300 and up, clear of the tools' own. */
enum {
	QP_FEED_OPT_SIZE = 300, QP_FEED_OPT_RESIZE, QP_FEED_OPT_MEAN, QP_FEED_OPT_STD,
	QP_FEED_OPT_SCALE, QP_FEED_OPT_CHANNELS, QP_FEED_OPT_SKIP, QP_FEED_OPT_LIMIT,
	QP_FEED_OPT_SHUFFLE
};

#define QP_FEED_CLI_OPTS \
	{QP_FEED_OPT_SIZE, "size", 0, "WxH", "image size to produce (default: the model input's)"}, \
	{QP_FEED_OPT_RESIZE, "resize", 0, "MODE", "none (default: other sizes are an error), bilinear or crop"}, \
	{QP_FEED_OPT_MEAN, "mean", 0, "A[,B,C]", "subtracted per channel after --scale (default 0)"}, \
	{QP_FEED_OPT_STD, "std", 0, "A[,B,C]", "divided per channel after --mean (default 1)"}, \
	{QP_FEED_OPT_SCALE, "scale", 0, "X", "pixel multiplier (default 1/255)"}, \
	{QP_FEED_OPT_CHANNELS, "channels", 0, "ORDER", "rgb, bgr or gray (default: from the model)"}, \
	{QP_FEED_OPT_SKIP, "skip", 0, "N", "pass over the first N samples (for shards)"}, \
	{QP_FEED_OPT_LIMIT, "limit", 0, "N", "use at most N samples after --skip (default: all)"}, \
	{QP_FEED_OPT_SHUFFLE, "shuffle", 0, "SEED", "visit samples in a seeded random order"}

/* Records option c: 1 if it is one of QP_FEED_OPT_*, 0 if not, -1 on a bad
 * value (err names it). */
int qp_feed_option(qp_feed_opts *o, int c, const char *arg, qp_err *err);

/* Gives each model input its path from the tool's data arguments (opt is
 * the option's name for messages, "--data" or "--input"): "NAME=PATH" goes
 * to input NAME, a plain path to the next input without one, in order.
 * A NAME that is no input, while no file has the whole argument as its
 * name, is an error, as are two paths for an input and an input without
 * one.  paths has n_inputs entries; they point into args. */
int qp_feed_assign(int n_inputs, const qp_datasrc_input *inputs, const char *opt,
		   int n_args, const char *const *args, const char **paths, qp_err *err);

typedef struct qp_feed qp_feed;

/* Opens paths[i] for inputs[i].  Every input's dim 0 must be the same
 * batch size; every source must fill its input and hold as many samples
 * as the first.  Reads and drops the --skip samples.  Zero samples is not
 * an error here (a consumer that needs some says so). */
qp_feed *qp_feed_open(int n_inputs, const qp_datasrc_input *inputs,
		      const char *const *paths, const qp_feed_opts *o, qp_err *err);
void qp_feed_free(qp_feed *f);
/* Opens integer labels (qp_datasrc_open_labels), one per sample of the
 * data in the file, visited in the data's order: qp_feed_next fills them. */
int qp_feed_open_labels(qp_feed *f, const char *path, qp_err *err);
/* Samples the feed will hand out (after skip and limit). */
int64_t qp_feed_samples(const qp_feed *f);
/* The model's batch size. */
int64_t qp_feed_batch(const qp_feed *f);
/* Input i's data path as given. */
const char *qp_feed_path(const qp_feed *f, int i);
/* Fills dst[i] (batch * sample_numel floats of input i, canonical layout)
 * with the next batch, and labels (batch entries) when labels are open and
 * labels is not NULL.  Returns the real samples in it (the rest is zeros),
 * 0 at the end, -1 on error. */
int64_t qp_feed_next(qp_feed *f, float *const *dst, int64_t *labels, qp_err *err);

#endif
