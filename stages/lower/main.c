/* lower: quantized IR -> lowered integer IR with an arena memory plan. */
#include "cli.h"
#include "io.h"
#include "ir.h"
#include "lower.h"

enum { OPT_OUTPUT = 'o', OPT_QUIET = 'q' };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "PATH", "write the lowered IR here (default: stdout)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print nothing but errors (lower prints nothing else anyway)"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "lower",
	.synopsis = "[options] [INPUT.ir] [-o OUTPUT.ir]",
	.summary = "Lowers a quantized IR to integer ops: Quantize at the inputs, QConv/QGemm/...\n"
		   "with Relu fused where the target's fusing_patterns allow and int32\n"
		   "multiplier/shift requantization, Dequantize at the outputs, and a 16-byte\n"
		   "aligned arena plan for the int8 activations, checked against the target's\n"
		   "resources.",
	.opts = options,
	.epilog = "INPUT.ir must come from quantize; '-' or no INPUT reads standard input.\n"
		  "See docs/man/lower.md and docs/ir.md section 6.\n",
};

int main(int argc, char **argv)
{
	const char *input = "-", *output = "-", *arg;
	int optind_out, opt;
	qp_graph *g = NULL, *low = NULL;
	qp_err err;

	qp_cli_init(&cli);
	while ((opt = qp_cli_next(&cli, argc, argv, &arg, &optind_out)) != -1) {
		if (opt == OPT_OUTPUT)
			output = arg;
	}
	if (optind_out < argc)
		input = argv[optind_out++];
	if (optind_out < argc)
		qp_usage_error("unexpected argument '%s'", argv[optind_out]);
	qp_cli_check_output(output, 0, 0);

	if (qp_ir_read(input, &g, &err))
		qp_die_err(input, &err);
	if (qp_lower(g, &low, &err))
		qp_die_err(input, &err);
	if (qp_graph_add_history(low, "lower", argc, qp_cli_typed_argv(argv)) ||
	    qp_ir_write(low, output, &err))
		qp_die_err(qp_is_stdio(output) ? "-" : output, &err);
	qp_graph_free(low);
	qp_graph_free(g);
	return 0;
}
