/* keras2ir: Keras model (.keras or .h5) -> qpipe IR. */
#include <stdlib.h>
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
	if (qp_is_stdio(out_path) && isatty(STDOUT_FILENO))
		qp_usage_error("refusing to write a binary IR to a terminal; use -o PATH or a pipe");

	if (qp_read_all(in_path, &buf, &len, MODEL_MAX_BYTES, &err) != 0 ||
	    keras_import(buf, len, &g, &err) != 0 ||
	    (qp_graph_add_history(g, cli.prog, argc, argv) != 0 &&
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
