/* keras2ir: Keras model (.keras or .h5) -> qpipe IR. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io.h"
#include "ir.h"
#include "keras.h"
#include "passes.h"
#include "ops.h"

/* Model files are read whole (they may come from a pipe); refuse absurd
 * sizes before allocating. */
#define MODEL_MAX_BYTES ((size_t)8 << 30)

enum { OPT_OUTPUT = 'o', OPT_QUIET = 'q' };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "PATH", "write the IR here (default: standard output)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print nothing but errors"},
	{0, NULL, 0, NULL, NULL}
};

static const qp_cli cli = {
	"keras2ir",
	"[options] [MODEL.keras|MODEL.h5] [-o OUTPUT.ir]",
	"Converts a Keras Sequential or Functional model (Keras 3 or 2.13+ .keras, Keras 2/3 .h5) to a qpipe IR.",
	options,
	"MODEL '-' or absent reads standard input. Layers: see keras2ir(1). The IR\n"
	"computes in NCHW; image and sequence inputs and outputs are marked layout\n"
	"NHWC, so tools take data laid out as Keras does.\n",
};

/* ---- HDF5 crash guard (see keras_h5_depth in h5.c) ---------------------- */

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define N_FATAL_SIGNALS (sizeof fatal_signals / sizeof fatal_signals[0])
static struct sigaction previous_actions[N_FATAL_SIGNALS];
static char crash_line[1200];
static size_t crash_len;

static void on_fatal_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (keras_h5_depth > 0) {
		ssize_t w = write(STDERR_FILENO, crash_line, crash_len);

		(void)w;
		_exit(QP_EXIT_INPUT);
	}
	/* Not inside HDF5: hand the signal back to whoever had it before (the
	 * default action, or a sanitizer's report).  A fault recurs when the
	 * instruction runs again; a signal someone sent is raised again. */
	for (size_t i = 0; i < N_FATAL_SIGNALS; i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &previous_actions[i], NULL);
	if (info->si_code <= 0)
		raise(sig);
}

static void guard_hdf5(const char *path)
{
	struct sigaction sa;
	int n = snprintf(crash_line, sizeof crash_line,
			 "keras2ir: %s: the HDF5 library crashed reading the file (damaged HDF5 data)\n",
			 qp_is_stdio(path) ? "-" : path);

	crash_len = n < 0 ? 0 : (size_t)n < sizeof crash_line ? (size_t)n : sizeof crash_line - 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fatal_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_FATAL_SIGNALS; i++)
		sigaction(fatal_signals[i], &sa, &previous_actions[i]);
}

int main(int argc, char **argv)
{
	const char *in_path = "-", *out_path = NULL, *arg;
	int opt, first;
	qp_graph *g = NULL;
	void *buf = NULL;
	size_t len = 0;
	qp_err err = {{0}};

	qp_cli_init(&cli);
	while ((opt = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		switch (opt) {
		case OPT_OUTPUT: out_path = arg; break;
		case OPT_QUIET: break;   /* nothing is printed on success anyway */
		default: qp_usage_error("unexpected option");
		}
	}
	if (argc - first > 1)
		qp_usage_error("more than one model given ('%s', '%s')", argv[first], argv[first + 1]);
	if (argc - first == 1)
		in_path = argv[first];
	if (qp_is_stdio(in_path) && isatty(STDIN_FILENO))
		qp_usage_error("no model given and standard input is a terminal");
	qp_cli_check_output(out_path, 0, 0);

	guard_hdf5(in_path);
	if (qp_read_all(in_path, &buf, &len, MODEL_MAX_BYTES, &err) != 0 ||
	    keras_import(buf, len, &g, &err) != 0 ||
	    (qp_graph_add_history(g, cli.prog, argc, qp_cli_typed_argv(argv)) != 0 &&
	     qp_err_set(&err, "out of memory")) ||
	    qp_graph_toposort(g, &err) != 0 ||
	    qp_graph_infer_shapes(g, &err) != 0 ||
	    qp_pass_fold_pads(g, NULL, &err) != 0) {
		free(buf);
		qp_graph_free(g);
		qp_die_err(in_path, &err);
	}
	free(buf);
	if (qp_ir_write(g, out_path, &err) != 0) {
		qp_graph_free(g);
		qp_die_err(out_path ? out_path : "-", &err);
	}
	qp_graph_free(g);
	return QP_EXIT_OK;
}
