/* calibrate: run a float IR over sample data and record, for every float
 * activation, the statistics quantize chooses its parameters from; or
 * (--merge) combine the statistics of runs over parts of a data set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calibrate.h"
#include "cli.h"
#include "io.h"
#include "ir.h"

enum {
	OPT_DATA = 'd', OPT_OUTPUT = 'o', OPT_QUIET = 'q', OPT_THREADS = 'j',
	OPT_LIMIT = 256, OPT_SKIP, OPT_SIZE, OPT_RESIZE, OPT_MEAN, OPT_STD,
	OPT_SCALE, OPT_CHANNELS, OPT_SHUFFLE, OPT_MERGE
};

#define MAX_DATA 16

static const qp_cli_opt options[] = {
	{OPT_DATA, "data", 'd', "[INPUT=]PATH", "samples: .npy, .npz, .idx[.gz], an image folder, a list file or an image; once per model input"},
	{OPT_SIZE, "size", 0, "WxH", "image size to produce (default: the model input's)"},
	{OPT_RESIZE, "resize", 0, "MODE", "none (default: other sizes are an error), bilinear or crop"},
	{OPT_MEAN, "mean", 0, "A[,B,C]", "subtracted per channel after --scale (default 0)"},
	{OPT_STD, "std", 0, "A[,B,C]", "divided per channel after --mean (default 1)"},
	{OPT_SCALE, "scale", 0, "X", "pixel multiplier (default 1/255)"},
	{OPT_CHANNELS, "channels", 0, "ORDER", "rgb, bgr or gray (default: from the model)"},
	{OPT_SKIP, "skip", 0, "N", "pass over the first N samples (for shards)"},
	{OPT_LIMIT, "limit", 0, "N", "use at most N samples after --skip (default: all)"},
	{OPT_SHUFFLE, "shuffle", 0, "SEED", "visit samples in a seeded random order"},
	{OPT_THREADS, "threads", 'j', "N", "interpreter threads (default: all cores)"},
	{OPT_MERGE, "merge", 0, NULL, "combine the statistics of the calibrated IRs given as arguments"},
	{OPT_OUTPUT, "output", 'o', "PATH", "write the IR here (default: standard output)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print no progress or summary"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "calibrate",
	.synopsis = "[options] [MODEL.ir] --data PATH [-o OUT.ir]\n"
		    "       calibrate --merge A.cal.ir B.cal.ir ... [-o OUT.ir]",
	.summary = "Runs a float IR over sample data and records, for every float activation\n"
		   "(graph inputs and node outputs), min, max, count, per-channel sums and a\n"
		   "histogram that merge exactly, so shards calibrated apart and merged give\n"
		   "the same statistics as one run.",
	.opts = options,
	.epilog = "Data is read in batches of the model's batch size (dim 0 of its inputs);\n"
		  "an input with layout NHWC takes (N,H,W,C). MODEL '-' or absent reads\n"
		  "standard input. See docs/man/calibrate.md and docs/calibrate.md.\n",
};

static void usage_err(const qp_err *err)
{
	qp_usage_error("%s", err->msg);
}

static qp_graph *merge_files(int n, char **paths)
{
	qp_graph *g = NULL, *other = NULL;
	qp_err err = {{0}};
	calib_merge m;

	if (n < 1)
		qp_usage_error("--merge needs at least one calibrated IR");
	if (qp_ir_read(paths[0], &g, &err) || calibrate_merge_begin(&m, g, &err))
		qp_die_err(paths[0], &err);
	for (int i = 1; i < n; i++) {
		if (qp_ir_read(paths[i], &other, &err) || calibrate_merge_add(&m, other, &err))
			qp_die_err(paths[i], &err);
		qp_graph_free(other);
		other = NULL;
	}
	calibrate_merge_end(&m);
	return g;
}

/* "NAME=PATH" whose NAME is no model input, and no file of that whole name
 * exists: a misspelt input name, a usage error (docs/man/calibrate.md).
 * A NAME with a '/' is taken for part of a path. */
static int unknown_input(const qp_graph *g, const char *arg, qp_err *err)
{
	const char *eq = strchr(arg, '=');
	struct stat st;
	char names[512] = "";
	size_t used = 0;

	if (!eq || eq == arg || memchr(arg, '/', (size_t)(eq - arg)) || stat(arg, &st) == 0)
		return 0;
	for (int i = 0; i < g->n_inputs && used < sizeof names; i++)
		used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "",
					 g->tensors[g->inputs[i].tensor].name);
	return qp_err_set(err, "--data %s: the model has no input '%.*s' (its inputs: %s)",
			  arg, (int)(eq - arg), arg, names);
}

/* Gives each model input its --data path: "name=path" to that input,
 * plain paths to the remaining inputs in order.  A usage problem is
 * returned in err (the caller frees, then reports it: exiting from here
 * would leave the graph and the table behind). */
static int assign_data(const qp_graph *g, int n_data, const char *const *data, const char **paths,
		       qp_err *err)
{
	for (int i = 0, next = 0; i < n_data; i++) {
		int idx;
		const char *path;

		qp_datasrc_split_arg(g, data[i], &idx, &path);
		if (idx < 0 && unknown_input(g, data[i], err))
			return -1;
		if (idx < 0) {
			while (next < g->n_inputs && paths[next])
				next++;
			if (next == g->n_inputs)
				return qp_err_set(err, "more --data than model inputs (%d)", g->n_inputs);
			idx = next;
		}
		if (paths[idx])
			return qp_err_set(err, "two --data for input '%s'",
					  g->tensors[g->inputs[idx].tensor].name);
		paths[idx] = path;
	}
	for (int i = 0; i < g->n_inputs; i++)
		if (!paths[i])
			return qp_err_set(err, "no --data for input '%s' (the model has %d inputs)",
					  g->tensors[g->inputs[i].tensor].name, g->n_inputs);
	return 0;
}

int main(int argc, char **argv)
{
	const char *data[MAX_DATA], *out = NULL, *model = "-", *arg;
	const char **paths = NULL;
	int n_data = 0, quiet = 0, merge = 0, data_error, c, first;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t used = 0;
	calib_opts o = {0};
	qp_graph *g = NULL;
	qp_err err = {{0}};

	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		switch (c) {
		case OPT_DATA:
			if (n_data == MAX_DATA)
				qp_usage_error("too many --data options (at most %d)", MAX_DATA);
			data[n_data++] = arg;
			break;
		case OPT_SIZE:
			if (qp_datasrc_parse_size(arg, &o.src.height, &o.src.width, &err))
				usage_err(&err);
			break;
		case OPT_RESIZE:
			if (qp_datasrc_parse_resize(arg, &o.src.resize, &err))
				usage_err(&err);
			break;
		case OPT_CHANNELS:
			if (qp_datasrc_parse_channels(arg, &o.src.channels, &err))
				usage_err(&err);
			break;
		case OPT_MEAN:
			if (qp_datasrc_parse_floats3(arg, o.src.mean, 0, &err))
				usage_err(&err);
			break;
		case OPT_STD:
			if (qp_datasrc_parse_floats3(arg, o.src.std, 1, &err))
				usage_err(&err);
			break;
		case OPT_SCALE:
			o.src.scale = (float)qp_arg_double("--scale", arg);
			break;
		case OPT_SHUFFLE:
			o.src.shuffle = 1;
			o.src.seed = (uint64_t)qp_arg_int("--shuffle", arg, 0, INT64_MAX);
			break;
		case OPT_SKIP: o.skip = qp_arg_int("--skip", arg, 0, INT64_MAX); break;
		case OPT_LIMIT: o.limit = qp_arg_int("--limit", arg, 1, INT64_MAX); break;
		case OPT_THREADS: threads = (long)qp_arg_int("--threads", arg, 1, 1024); break;
		case OPT_MERGE: merge = 1; break;
		case OPT_OUTPUT: out = arg; break;
		case OPT_QUIET: quiet = 1; break;
		}
	}
	qp_cli_check_output(out, 0, 0);
	if (merge) {
		if (n_data)
			qp_usage_error("--merge takes calibrated IRs, not --data");
		g = merge_files(argc - first, argv + first);
	} else {
		if (argc - first > 1)
			qp_usage_error("one model expected, got %d", argc - first);
		if (argc - first == 1)
			model = argv[first];
		if (n_data == 0)
			qp_usage_error("no --data given");
		for (int i = 0; i < n_data; i++)
			if (qp_is_stdio(model) && qp_is_stdio(data[i]))
				qp_usage_error("the model and the data cannot both come from standard input");
		if (qp_ir_read(model, &g, &err))
			qp_die_err(model, &err);
		paths = calloc((size_t)g->n_inputs + 1, sizeof *paths);
		if (!paths)
			qp_die(NULL, "out of memory");
		if (assign_data(g, n_data, data, paths, &err)) {
			free(paths);
			qp_graph_free(g);
			usage_err(&err);
		}
		o.paths = paths;
		o.threads = threads > 0 ? (int)threads : 1;
		o.progress = !quiet && isatty(STDERR_FILENO);
		if (calibrate_graph(g, &o, &used, &data_error, &err))
			qp_die_err(data_error ? NULL : model, &err);
	}
	if (qp_graph_add_history(g, "calibrate", argc, qp_cli_typed_argv(argv)))
		qp_die(NULL, "out of memory");
	if (qp_ir_write(g, out, &err))
		qp_die_err(out ? out : "-", &err);
	if (!quiet && isatty(STDERR_FILENO) && !merge)
		qp_warn("recorded statistics over %lld samples", (long long)used);
	qp_graph_free(g);
	free(paths);
	return QP_EXIT_OK;
}
