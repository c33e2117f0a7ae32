/* calibrate: run a float IR over sample data and record, for every float
 * activation, the statistics quantize chooses its parameters from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "cli.h"
#include "io.h"
#include "ir.h"

enum { OPT_DATA = 'd', OPT_OUTPUT = 'o', OPT_QUIET = 'q', OPT_LIMIT = 256 };

#define MAX_DATA 16

static const qp_cli_opt options[] = {
	{OPT_DATA, "data", 'd', "X.npy", "calibration samples along dim 0; once per model input"},
	{OPT_LIMIT, "limit", 0, "N", "use at most the first N samples (default: all)"},
	{OPT_OUTPUT, "output", 'o', "PATH", "write the IR here (default: standard output)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print no summary"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "calibrate",
	.synopsis = "[options] [MODEL.ir] --data X.npy [-o OUT.ir]",
	.summary = "Runs a float IR over sample data and records min, max and count of every\n"
		   "float activation (graph inputs and node outputs) as its statistics.",
	.opts = options,
	.epilog = "Data is read in batches of the model's batch size (dim 0 of its inputs);\n"
		  "an input with layout NHWC takes (N,H,W,C). MODEL '-' or absent reads\n"
		  "standard input. See docs/man/calibrate.md.\n",
};

int main(int argc, char **argv)
{
	const char *data[MAX_DATA], *out = NULL, *model = "-", *arg;
	char **argv_copy;
	int n_data = 0, quiet = 0, data_error, c, first;
	long long limit = 0;
	int64_t used;
	qp_graph *g = NULL;
	qp_err err = {{0}};

	/* getopt permutes argv; the history records it as typed. */
	argv_copy = malloc((size_t)(argc + 1) * sizeof *argv_copy);
	if (!argv_copy)
		qp_die(NULL, "out of memory");
	memcpy(argv_copy, argv, (size_t)(argc + 1) * sizeof *argv_copy);

	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		switch (c) {
		case OPT_DATA:
			if (n_data == MAX_DATA)
				qp_usage_error("too many --data files");
			data[n_data++] = arg;
			break;
		case OPT_LIMIT: limit = qp_arg_int("--limit", arg, 1, INT64_MAX); break;
		case OPT_OUTPUT: out = arg; break;
		case OPT_QUIET: quiet = 1; break;
		}
	}
	if (argc - first > 1)
		qp_usage_error("one model expected, got %d", argc - first);
	if (argc - first == 1)
		model = argv[first];
	if (n_data == 0)
		qp_usage_error("no --data given");
	for (int i = 0; i < n_data; i++)
		if (qp_is_stdio(model) && qp_is_stdio(data[i]))
			qp_usage_error("the model and the data cannot both come from standard input");
	if (qp_is_stdio(out) && isatty(STDOUT_FILENO))
		qp_usage_error("refusing to write a binary IR to a terminal; use -o PATH or a pipe");

	if (qp_ir_read(model, &g, &err))
		qp_die_err(model, &err);
	if (calibrate_graph(g, n_data, data, limit, &used, &data_error, &err))
		qp_die_err(data_error ? NULL : model, &err);
	if (qp_graph_add_history(g, "calibrate", argc, argv_copy))
		qp_die(NULL, "out of memory");
	if (qp_ir_write(g, out, &err))
		qp_die_err(out ? out : "-", &err);
	if (!quiet && isatty(STDERR_FILENO))
		qp_warn("recorded statistics over %lld samples", (long long)used);
	qp_graph_free(g);
	free(argv_copy);
	return QP_EXIT_OK;
}
