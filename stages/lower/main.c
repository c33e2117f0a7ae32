/* lower: quantized IR -> lowered integer IR with an arena memory plan. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io.h"
#include "ir.h"
#include "lower.h"

enum { OPT_OUTPUT = 'o', OPT_QUIET = 'q', OPT_REPORT = 256, OPT_REPORT_FORMAT };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "PATH", "write the lowered IR here (default: stdout)"},
	{OPT_QUIET, "quiet", 'q', NULL, "print nothing but errors (lower prints nothing else anyway)"},
	{OPT_REPORT, "report", 0, "FILE", "write what each lowered layer costs to FILE ('-': stdout, with -o)"},
	{OPT_REPORT_FORMAT, "report-format", 0, "FMT", "text (default) or json"},
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
	const char *input = "-", *output = "-", *report = NULL, *arg;
	int optind_out, opt, json = 0, *fused_into = NULL;
	qp_graph *g = NULL, *low = NULL;
	qp_err err;

	qp_cli_init(&cli);
	while ((opt = qp_cli_next(&cli, argc, argv, &arg, &optind_out)) != -1) {
		if (opt == OPT_OUTPUT)
			output = arg;
		else if (opt == OPT_REPORT)
			report = arg;
		else if (opt == OPT_REPORT_FORMAT) {
			if (strcmp(arg, "text") && strcmp(arg, "json"))
				qp_usage_error("--report-format: '%s' is neither text nor json", arg);
			json = !strcmp(arg, "json");
		}
	}
	if (optind_out < argc)
		input = argv[optind_out++];
	if (optind_out < argc)
		qp_usage_error("unexpected argument '%s'", argv[optind_out]);
	qp_cli_check_output(output, 0, 0);
	/* Standard output carries the IR unless -o sends it elsewhere. */
	if (report && qp_is_stdio(report) && qp_is_stdio(output))
		qp_usage_error("--report -: standard output already carries the IR; give -o or a report file");

	if (qp_ir_read(input, &g, &err))
		qp_die_err(input, &err);
	if (qp_lower_fused(g, &low, &fused_into, &err))
		qp_die_err(input, &err);
	if (qp_graph_add_history(low, "lower", argc, qp_cli_typed_argv(argv)) ||
	    qp_ir_write(low, output, &err))
		qp_die_err(qp_is_stdio(output) ? "-" : output, &err);
	if (report) {
		qp_out o;

		if (qp_out_open(&o, report, 0, 0, &err))
			qp_die_err(report, &err);
		if (qp_lower_report(g, low, fused_into, json, o.fp, &err) || qp_out_commit(&o, &err)) {
			qp_out_abort(&o);
			qp_die_err(report, &err);
		}
	}
	free(fused_into);
	qp_graph_free(low);
	qp_graph_free(g);
	return 0;
}
