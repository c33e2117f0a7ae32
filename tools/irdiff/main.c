/* irdiff: run two IRs of one model (float, quantized, lowered) over the
 * same samples and report, tensor by tensor in A's order, how far B's
 * values are from A's (lib/exec/diff.h): SQNR, cosine, max error; as a
 * table, CSV or JSON, and optionally an SVG bar chart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diff.h"
#include "feed.h"
#include "interp.h"
#include "io.h"
#include "ir.h"
#include "quant.h"
#include "report.h"

enum { OPT_INPUT = 'i', OPT_OUTPUT = 'o', OPT_FORMAT = 256, OPT_SVG };

static const qp_cli_opt options[] = {
	{OPT_INPUT, "input", 'i', "[INPUT=]PATH", "samples: .npy, .npz, .idx[.gz], image folder, list file or image; once per input"},
	{OPT_FORMAT, "format", 0, "FORMAT", "table (default), csv or json"},
	{OPT_OUTPUT, "output", 'o', "OUT", "write the report here (default: stdout)"},
	{OPT_SVG, "svg", 0, "OUT.svg", "also draw the SQNR of each tensor as an SVG bar chart"},
	QP_FEED_CLI_OPTS,
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "irdiff",
	.synopsis = "[options] A.ir B.ir --input [INPUT=]PATH [--format table|csv|json] [--svg OUT.svg] [-o OUT]",
	.summary = "Runs two IRs of one model (float, quantized, lowered) over the same samples\n"
		   "and compares them tensor by tensor, with A as the reference: SQNR in dB,\n"
		   "cosine similarity and max abs error, in A's node order; the worst is named.",
	.opts = options,
	.epilog = "Tensors pair by name (a lowered IR's T_q also pairs with T); integer values\n"
		  "are dequantized. Tensors in one graph only or of different shapes are\n"
		  "skipped and counted. See docs/man/irdiff.md.\n",
};

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } out_format;

typedef struct diff_args {
	const char *model[2];
	const char *inputs[QP_FEED_MAX_INPUTS];
	int n_inputs;
	const char *output, *svg;
	out_format format;
	qp_feed_opts feed;
} diff_args;

static void parse_args(int argc, char **argv, diff_args *a)
{
	const char *arg;
	int c, first, rc;
	qp_err err = {{0}};

	memset(a, 0, sizeof *a);
	a->output = "-";
	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if ((rc = qp_feed_option(&a->feed, c, arg, &err)) < 0)
			qp_usage_error("%s", err.msg);
		if (rc)
			continue;
		switch (c) {
		case OPT_INPUT:
			if (a->n_inputs == QP_FEED_MAX_INPUTS)
				qp_usage_error("too many --input (at most %d)", QP_FEED_MAX_INPUTS);
			a->inputs[a->n_inputs++] = arg;
			break;
		case OPT_OUTPUT: a->output = arg; break;
		case OPT_SVG: a->svg = arg; break;
		case OPT_FORMAT:
			if (!strcmp(arg, "table"))
				a->format = FMT_TABLE;
			else if (!strcmp(arg, "csv"))
				a->format = FMT_CSV;
			else if (!strcmp(arg, "json"))
				a->format = FMT_JSON;
			else
				qp_usage_error("--format wants table, csv or json, not '%s'", arg);
			break;
		}
	}
	if (argc - first != 2)
		qp_usage_error("two models expected (A.ir B.ir), got %d", argc - first);
	a->model[0] = argv[first];
	a->model[1] = argv[first + 1];
	if (!a->n_inputs)
		qp_usage_error("no --input given");
	if (qp_is_stdio(a->model[0]) && qp_is_stdio(a->model[1]))
		qp_usage_error("A and B cannot both come from standard input");
	for (int i = 0; i < a->n_inputs; i++)
		if (qp_is_stdio(a->inputs[i]) && (qp_is_stdio(a->model[0]) || qp_is_stdio(a->model[1])))
			qp_usage_error("a model and an input cannot both come from standard input");
	if (a->svg && qp_is_stdio(a->svg))
		qp_usage_error("--svg wants a file, not standard output");
	a->feed.src.allow_nonfinite = 1;
}

/* The feed's view of A's inputs; B's must have the same count and shapes. */
static void describe_inputs(const qp_graph *g, const qp_graph *b, const diff_args *a,
			    qp_datasrc_input *in)
{
	if (g->n_inputs < 1 || g->n_inputs > QP_FEED_MAX_INPUTS)
		qp_die(a->model[0], "the model has %d inputs; 1 to %d are supported", g->n_inputs,
		       QP_FEED_MAX_INPUTS);
	if (b->n_inputs != g->n_inputs)
		qp_die(a->model[1], "the model has %d inputs, %s has %d", b->n_inputs,
		       a->model[0], g->n_inputs);
	for (int i = 0; i < g->n_inputs; i++) {
		const qp_tensor *t = &g->tensors[g->inputs[i].tensor];
		const qp_tensor *u = &b->tensors[b->inputs[i].tensor];

		for (int k = 0; k < 2; k++) {
			const qp_tensor *x = k ? u : t;

			if (x->dtype != QP_DT_FLOAT32 && !x->quant)
				qp_die(a->model[k], "model input '%s' has dtype %s without quantization parameters",
				       x->name, qp_dtype_name(x->dtype));
		}
		if (t->rank != u->rank || memcmp(t->dims, u->dims, sizeof(int64_t) * (size_t)t->rank))
			qp_die(a->model[1], "input %d ('%s') has another shape than %s's input '%s'",
			       i + 1, u->name, a->model[0], t->name);
		in[i].name = t->name;
		in[i].layout = g->inputs[i].layout;
		in[i].rank = t->rank;
		in[i].dims = t->dims;
	}
}

/* Copies one batch into graph input i of ip, quantizing for an integer one. */
static int fill_input(qp_interp *ip, const qp_graph *g, int i, const float *x, qp_err *err)
{
	const qp_tensor *t = &g->tensors[g->inputs[i].tensor];
	qp_value *v = qp_interp_input(ip, i);

	if (v->dtype == QP_DT_FLOAT32) {
		memcpy(v->data, x, sizeof(float) * (size_t)v->numel);
		return 0;
	}
	if (qp_quantize_array(x, t->rank, t->dims, t->quant, v->data, t->dtype, err))
		return qp_err_prefix(err, "input '%s'", t->name);
	return 0;
}

/* Writes one report to path atomically; on failure nothing is left. */
static int write_report(const char *path, int (*fn)(FILE *, const report_src *, qp_err *),
			const report_src *src, qp_out *o, qp_err *err)
{
	if (qp_out_open(o, path, 0, 0, err))
		return -1;
	if (fn(o->fp, src, err)) {
		qp_out_abort(o);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static int (*const writers[])(FILE *, const report_src *, qp_err *) = {
		[FMT_TABLE] = report_table, [FMT_CSV] = report_csv, [FMT_JSON] = report_json,
	};
	diff_args a;
	qp_graph *g[2] = {NULL, NULL};
	qp_interp *ip[2];
	qp_err err = {{0}};
	qp_datasrc_input ins[QP_FEED_MAX_INPUTS];
	const char *paths[QP_FEED_MAX_INPUTS];
	float *xbuf[QP_FEED_MAX_INPUTS] = {0};
	qp_feed *feed;
	qp_diff *d;
	qp_out out = {0}, svg = {0};
	report_src src;
	int64_t batch, take;

	parse_args(argc, argv, &a);
	for (int k = 0; k < 2; k++)
		if (qp_ir_read(a.model[k], &g[k], &err))
			qp_die_err(a.model[k], &err);
	describe_inputs(g[0], g[1], &a, ins);
	d = qp_diff_new(g[0], qp_interp_wants_fake_quant(g[0]), g[1], qp_interp_wants_fake_quant(g[1]), &err);
	if (!d)
		qp_die_err(NULL, &err);
	if (!qp_diff_rows(d))
		qp_die(a.model[1], "no tensor in common with %s (none has the same name and shape)",
		       a.model[0]);
	if (qp_feed_assign(g[0]->n_inputs, ins, "--input", a.n_inputs, a.inputs, paths, &err))
		qp_usage_error("%s", err.msg);
	if (!(feed = qp_feed_open(g[0]->n_inputs, ins, paths, &a.feed, &err)))
		qp_die_err(NULL, &err);
	if (qp_feed_samples(feed) < 1)
		qp_die(qp_feed_path(feed, 0), "no samples to compare");
	batch = qp_feed_batch(feed);
	for (int k = 0; k < 2; k++) {
		qp_interp_opts opts = {0};

		opts.fake_quant = qp_interp_wants_fake_quant(g[k]);
		opts.observe = k ? qp_diff_observe_b : qp_diff_observe_a;
		opts.observe_ctx = d;
		if (!(ip[k] = qp_interp_new(g[k], &opts, &err)))
			qp_die_err(a.model[k], &err);
	}
	/* Own buffers: fake quantization rounds A's inputs in place. */
	for (int i = 0; i < g[0]->n_inputs; i++)
		if (!(xbuf[i] = malloc(sizeof(float) * (size_t)qp_tensor_numel(
					      &g[0]->tensors[g[0]->inputs[i].tensor]))))
			qp_die(NULL, "out of memory");

	/* Messages from the data side already start with their file. */
	while ((take = qp_feed_next(feed, xbuf, NULL, &err)) > 0) {
		qp_diff_batch(d, take, batch);
		for (int k = 0; k < 2; k++) {
			for (int i = 0; i < g[k]->n_inputs; i++)
				if (fill_input(ip[k], g[k], i, xbuf[i], &err))
					qp_die_err(a.model[k], &err);
			if (qp_interp_run(ip[k], &err))
				qp_die_err(a.model[k], &err);
		}
	}
	if (take < 0)
		qp_die_err(NULL, &err);

	/* Outputs are opened last, so no earlier error leaves a file behind. */
	src = (report_src){.a = g[0], .d = d, .a_name = a.model[0], .b_name = a.model[1]};
	if (a.svg && write_report(a.svg, report_svg, &src, &svg, &err))
		qp_die_err(a.svg, &err);
	if (write_report(a.output, writers[a.format], &src, &out, &err)) {
		qp_out_abort(&svg);
		qp_die_err(a.output, &err);
	}
	if (a.svg && qp_out_commit(&svg, &err)) {
		qp_out_abort(&out);
		qp_die_err(a.svg, &err);
	}
	if (qp_out_commit(&out, &err))
		qp_die_err(a.output, &err);
	for (int i = 0; i < g[0]->n_inputs; i++)
		free(xbuf[i]);
	for (int k = 0; k < 2; k++) {
		qp_interp_free(ip[k]);
		qp_graph_free(g[k]);
	}
	qp_feed_free(feed);
	qp_diff_free(d);
	return QP_EXIT_OK;
}
