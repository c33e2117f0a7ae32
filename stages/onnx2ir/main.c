/* onnx2ir: import an ONNX model into a qpipe IR file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "import.h"
#include "io.h"
#include "ir.h"

enum { OPT_OUTPUT = 'o', OPT_QUIET = 'q' };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "PATH", "write the IR to PATH (default: standard output)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print no warnings"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "onnx2ir",
	.synopsis = "[options] [MODEL.onnx] [-o OUTPUT.ir]",
	.summary = "Import an ONNX model (default domain, opsets 7 to 20) into a qpipe IR file.\n"
		   "MODEL '-' or absent reads standard input.",
	.opts = options,
	.epilog = "A dynamic batch dimension of a graph input becomes 1; other unknown\n"
		  "dimensions are an error. Every unsupported op is listed, one line each.\n",
};

int main(int argc, char **argv)
{
	const char *out_path = NULL, *model_path = "-", *arg;
	onnx_import_info info;
	int quiet = 0, first, c;
	qp_graph *g = NULL;
	qp_err err = {{0}};

	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if (c == OPT_OUTPUT)
			out_path = arg;
		else if (c == OPT_QUIET)
			quiet = 1;
	}
	if (argc - first > 1)
		qp_usage_error("more than one model given ('%s', '%s')", argv[first], argv[first + 1]);
	if (argc - first == 1)
		model_path = argv[first];
	if (qp_is_stdio(model_path) && isatty(STDIN_FILENO))
		qp_usage_error("no model given and standard input is a terminal");
	qp_cli_check_output(out_path, 0, 0);

	if (onnx_import_file(model_path, &g, &info, &err))
		qp_die_err(model_path, &err);
	if (!quiet && info.warnings.msg[0]) {
		const char *line = info.warnings.msg, *nl;

		for (; line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			qp_warn("%s: %.*s", model_path, nl ? (int)(nl - line) : (int)strlen(line), line);
		}
	}
	if (qp_graph_add_history(g, "onnx2ir", argc, qp_cli_typed_argv(argv)))
		qp_die(NULL, "out of memory");
	if (qp_ir_write(g, out_path, &err))
		qp_die_err(out_path ? out_path : "-", &err);
	qp_graph_free(g);
	return 0;
}
