/* quantize: calibrated float IR + target description -> quantized IR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ir.h"
#include "quantize.h"
#include "tpc.h"

enum { OPT_TPC = 't', OPT_OUT = 'o', OPT_QUIET = 'q' };

static const qp_cli_opt opts[] = {
	{OPT_TPC, "tpc", 't', "TPC.json|NAME", "target (required): a file (tpc/int8.json) or a name (imx500)"},
	{OPT_OUT, "output", 'o', "PATH", "write the quantized IR here (default: standard output)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print no summary"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "quantize",
	.synopsis = "--tpc TPC.json|NAME [options] [INPUT.ir] [-o OUTPUT.ir]",
	.summary = "Quantizes a calibrated float IR for the target a TPC describes:\n"
		   "folds BatchNormalization into Conv, int8 weights per output channel,\n"
		   "int32 biases, and per-tensor parameters for every activation.",
	.opts = opts,
	.epilog = "INPUT.ir must carry statistics from calibrate; '-' or no INPUT reads\n"
		  "standard input.  See docs/man/quantize.md and docs/tpc.md.\n",
};

/* Where `--tpc NAME` looks (docs/tpc.md section 1.1): $QPIPE_TPC_PATH, the
 * installed directory the Makefile compiles in, then tpc/ beside the
 * directory of the executable, so an uninstalled bin/quantize finds the
 * source tree's targets.  exe_tpc holds the last. */
static int tpc_dirs(const char *dirs[3], char *exe_tpc, size_t size)
{
	int n = 0;
	ssize_t len;

	dirs[n++] = getenv("QPIPE_TPC_PATH");
#ifdef QP_TPC_DIR
	dirs[n++] = QP_TPC_DIR;
#endif
	len = readlink("/proc/self/exe", exe_tpc, size - 1);
	if (len > 0 && (size_t)len < size - 1) {
		char *slash;

		exe_tpc[len] = 0;
		slash = strrchr(exe_tpc, '/');
		if (slash && (size_t)(slash - exe_tpc) + sizeof "/../tpc" <= size) {
			strcpy(slash, "/../tpc");
			dirs[n++] = exe_tpc;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *dirs[3];
	char exe_tpc[4096], *tpc_file = NULL;
	const char *tpc_path = NULL, *out = NULL, *in = NULL, *arg;
	int quiet = 0, c, first;
	qp_graph *g = NULL;
	qp_tpc *tpc = NULL;
	quantize_report rep;
	qp_err err = {{0}};

	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		switch (c) {
		case OPT_TPC: tpc_path = arg; break;
		case OPT_OUT: out = arg; break;
		case OPT_QUIET: quiet = 1; break;
		}
	}
	if (argc - first > 1)
		qp_usage_error("expected at most one input file, got %d", argc - first);
	if (argc - first == 1)
		in = argv[first];
	if (!tpc_path)
		qp_usage_error("--tpc is required");
	qp_cli_check_output(out, 0, 0);

	if (qp_tpc_find(tpc_path, dirs, tpc_dirs(dirs, exe_tpc, sizeof exe_tpc),
			&tpc_file, &err))
		qp_die_err(tpc_path, &err);
	if (qp_tpc_read(tpc_file, &tpc, &err))
		qp_die_err(tpc_file, &err);
	if (qp_ir_read(in, &g, &err))
		qp_die_err(in ? in : "-", &err);
	if (quantize_graph(g, tpc, &rep, &err))
		qp_die_err(in ? in : "-", &err);
	if (qp_graph_add_history(g, "quantize", argc, qp_cli_typed_argv(argv)))
		qp_die(in ? in : "-", "out of memory");
	if (qp_ir_write(g, out, &err))
		qp_die_err(out ? out : "-", &err);
	if (!quiet && isatty(STDERR_FILENO))
		qp_warn("target '%s': folded %d BatchNormalization, quantized %d weights, %d biases, %d activations (%d fused into a Relu, %d inside an activation chain, left float)",
			tpc->name, rep.bn_folded, rep.weights, rep.biases,
			rep.activations, rep.fused, rep.chained);
	qp_graph_free(g);
	qp_tpc_free(tpc);
	free(tpc_file);
	return QP_EXIT_OK;
}
