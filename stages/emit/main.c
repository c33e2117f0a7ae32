/* emit: lowered IR -> device binary for the qpipe runtime. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "emit.h"
#include "io.h"
#include "ir.h"

enum { OPT_OUTPUT = 'o', OPT_FORCE = 'f', OPT_FORMAT = 256 };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "PATH", "write the binary here (default: stdout, never a terminal)"},
	{OPT_FORMAT, "format", 0, "FORMAT", "output format: bin (device binary v0, the default)"},
	{OPT_FORCE, "force", 'f', NULL, "write to standard output even when it is a terminal"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "emit",
	.synopsis = "[options] [LOWERED.ir] [-o MODEL.bin]",
	.summary = "Writes a lowered IR as a device binary for the qpipe runtime (docs/binary.md).",
	.opts = options,
	.epilog = "LOWERED.ir must come from lower; '-' or no input reads standard input.\n"
		  "See docs/man/emit.md.\n",
};

int main(int argc, char **argv)
{
	const char *input = "-", *output = "-", *format = "bin", *arg;
	int force = 0, first, opt;
	qp_graph *g = NULL;
	void *bin = NULL;
	size_t len = 0;
	qp_out out;
	qp_err err;

	qp_cli_init(&cli);
	while ((opt = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if (opt == OPT_OUTPUT)
			output = arg;
		else if (opt == OPT_FORCE)
			force = 1;
		else if (opt == OPT_FORMAT)
			format = arg;
	}
	if (first < argc)
		input = argv[first++];
	if (first < argc)
		qp_usage_error("unexpected argument '%s'", argv[first]);
	if (strcmp(format, "bin"))
		qp_usage_error("unsupported --format '%s' (supported: bin)", format);
	qp_cli_check_output(output, 1, force);

	if (qp_ir_read(input, &g, &err))
		qp_die_err(input, &err);
	if (qp_emit_binary(g, &bin, &len, &err))
		qp_die_err(input, &err);
	memset(&out, 0, sizeof out);
	if (qp_out_open(&out, output, 1, force, &err) ||
	    qp_out_write(&out, bin, len, &err) || qp_out_commit(&out, &err)) {
		qp_out_abort(&out);
		qp_die_err(output, &err);
	}
	free(bin);
	qp_graph_free(g);
	return 0;
}
