/* calibrate: run a float IR over sample data and record, for every float
 * activation, the statistics quantize chooses its parameters from; or
 * (--merge) combine the statistics of runs over parts of a data set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "cli.h"
#include "io.h"
#include "ir.h"

enum {
	OPT_DATA = 'd', OPT_OUTPUT = 'o', OPT_QUIET = 'q', OPT_THREADS = 'j',
	OPT_MERGE = 256
};

#define MAX_DATA 16

static const qp_cli_opt options[] = {
	{OPT_DATA, "data", 'd', "[INPUT=]PATH", "samples: .npy, .npz, .idx[.gz], an image folder, a list file or an image; once per model input"},
	QP_FEED_CLI_OPTS,
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

/* Gives each model input its --data path (qp_feed_assign).  A usage
 * problem is returned in err (the caller frees, then reports it: exiting
 * from here would leave the graph and the table behind). */
static int assign_data(const qp_graph *g, int n_data, const char *const *data, const char **paths,
		       qp_err *err)
{
	qp_datasrc_input in[QP_FEED_MAX_INPUTS];

	if (g->n_inputs > QP_FEED_MAX_INPUTS)
		return qp_err_set(err, "the model has %d inputs; at most %d are supported",
				  g->n_inputs, QP_FEED_MAX_INPUTS);
	for (int i = 0; i < g->n_inputs; i++) {
		in[i].name = g->tensors[g->inputs[i].tensor].name;
		in[i].layout = g->inputs[i].layout;
		in[i].rank = g->tensors[g->inputs[i].tensor].rank;
		in[i].dims = g->tensors[g->inputs[i].tensor].dims;
	}
	return qp_feed_assign(g->n_inputs, in, "--data", n_data, data, paths, err);
}

int main(int argc, char **argv)
{
	const char *data[MAX_DATA], *out = NULL, *model = "-", *arg;
	const char **paths = NULL;
	int n_data = 0, quiet = 0, merge = 0, data_error, c, first, rc;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t used = 0;
	calib_opts o = {0};
	qp_graph *g = NULL;
	qp_err err = {{0}};

	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if ((rc = qp_feed_option(&o.feed, c, arg, &err)) < 0)
			usage_err(&err);
		if (rc)
			continue;
		switch (c) {
		case OPT_DATA:
			if (n_data == MAX_DATA)
				qp_usage_error("too many --data options (at most %d)", MAX_DATA);
			data[n_data++] = arg;
			break;
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
