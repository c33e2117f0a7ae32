/* irrun: run any stage's IR (float, fake-quantized or lowered) over a data
 * set (any source lib/data/feed.h reads), batch by batch, and write the outputs
 * or the top-1 accuracy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "feed.h"
#include "interp.h"
#include "io.h"
#include "ir.h"
#include "npy.h"
#include "quant.h"
#include "results.h"

enum { OPT_INPUT = QP_RUN_OPT_INPUT, OPT_OUTPUT = QP_RUN_OPT_OUTPUT, OPT_FORCE = QP_RUN_OPT_FORCE,
       OPT_QUIET = 'q', OPT_EVAL = QP_RUN_OPT_EVAL, OPT_FLOAT };


static const qp_cli_opt options[] = {
	QP_RUN_CLI_OPTS,
	QP_FEED_CLI_OPTS,
	{OPT_FLOAT, "float", 0, NULL, "ignore activation quantization parameters (no fake quantization)"},
	{OPT_FORCE, "force", 'f', NULL, "write binary output to a terminal"},
	{OPT_QUIET, "quiet", 'q', NULL, "print nothing but errors (irrun prints no progress)"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "irrun",
	.synopsis = "[options] [MODEL.ir] --input [INPUT=]PATH [-o Y.npy] [--eval LABELS]",
	.summary = "Runs a qpipe IR of any stage (float, quantized, lowered) over samples\n"
		   "(.npy, .npz, IDX, image folder, list file or image) and writes the outputs,\n"
		   "stacked along dim 0, as float32 .npy.",
	.opts = options,
	.epilog = "Dim 0 of each model input and output is the batch; data is read in batches\n"
		  "of the model's batch size. A model input with layout NHWC takes data as\n"
		  "(N,H,W,C). A quantized IR is fake-quantized, a lowered IR runs in integers.\n"
		  "Images become (pixel * scale - mean) / std. MODEL '-' or absent reads\n"
		  "standard input. See docs/man/irrun.md and docs/calibrate.md.\n",
};

typedef struct run_args {
	const char *model;
	qp_run_files files;
	qp_feed_opts feed;
	int no_fake_quant, quiet;
} run_args;

static void parse_args(int argc, char **argv, run_args *a)
{
	const char *arg;
	int c, first, rc;
	qp_err err = {{0}};

	memset(a, 0, sizeof *a);
	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if ((rc = qp_run_files_option(&a->files, c, arg, &err)) == 0)
			rc = qp_feed_option(&a->feed, c, arg, &err);
		if (rc < 0)
			qp_usage_error("%s", err.msg);
		if (rc)
			continue;
		switch (c) {
		case OPT_FLOAT: a->no_fake_quant = 1; break;
		case OPT_QUIET: a->quiet = 1; break;
		}
	}
	if (argc - first > 1)
		qp_usage_error("one model expected, got %d", argc - first);
	a->model = argc - first == 1 ? argv[first] : "-";
	if (qp_run_files_check(&a->files, a->model, &err))
		qp_usage_error("%s", err.msg);
	/* irrun shows what the model does with any value, NaN included. */
	a->feed.src.allow_nonfinite = 1;
}

/* The feed's view of the graph inputs; refuses inputs irrun cannot fill. */
static void describe_inputs(const qp_graph *g, const char *model, qp_datasrc_input *in)
{
	if (g->n_inputs < 1 || g->n_inputs > QP_FEED_MAX_INPUTS)
		qp_die(model, "the model has %d inputs; 1 to %d are supported", g->n_inputs,
		       QP_FEED_MAX_INPUTS);
	for (int i = 0; i < g->n_inputs; i++) {
		const qp_tensor *t = &g->tensors[g->inputs[i].tensor];

		if (t->dtype != QP_DT_FLOAT32 && !t->quant)
			qp_die(model, "model input '%s' has dtype %s without quantization parameters",
			       t->name, qp_dtype_name(t->dtype));
		in[i].name = t->name;
		in[i].layout = g->inputs[i].layout;
		in[i].rank = t->rank;
		in[i].dims = t->dims;
	}
}

int main(int argc, char **argv)
{
	run_args a;
	qp_graph *g = NULL;
	qp_err err = {{0}};
	qp_feed *feed;
	qp_interp *ip;
	qp_interp_opts opts = {0};
	qp_results res = {0};
	qp_datasrc_input ins[QP_FEED_MAX_INPUTS];
	const char *paths[QP_FEED_MAX_INPUTS];
	float *ybuf[QP_RESULTS_MAX] = {0}, *xbuf[QP_FEED_MAX_INPUTS] = {0};
	int64_t *labels = NULL;
	int64_t batch, samples, take;
	size_t max_out = 1;
	const char *fail_file = NULL;

	parse_args(argc, argv, &a);
	if (qp_ir_read(a.model, &g, &err))
		qp_die_err(a.model, &err);
	if (a.files.n_outputs && a.files.n_outputs != g->n_outputs)
		qp_die(a.model, "the model has %d outputs, -o was given %d times",
		       g->n_outputs, a.files.n_outputs);
	if (!a.files.eval && !a.files.n_outputs && g->n_outputs != 1)
		qp_die(a.model, "the model has %d outputs; give -o once per output",
		       g->n_outputs);
	if (a.files.eval && g->n_outputs < 1)
		qp_die(a.model, "the model has no output to evaluate");
	if (g->n_outputs > QP_RESULTS_MAX)
		qp_die(a.model, "the model has %d outputs; at most %d are supported",
		       g->n_outputs, QP_RESULTS_MAX);

	describe_inputs(g, a.model, ins);
	if (qp_feed_assign(g->n_inputs, ins, "--input", a.files.n_inputs, a.files.inputs,
			   paths, &err))
		qp_usage_error("%s", err.msg);
	feed = qp_feed_open(g->n_inputs, ins, paths, &a.feed, &err);
	if (!feed)
		qp_die_err(NULL, &err);
	batch = qp_feed_batch(feed);
	samples = qp_feed_samples(feed);
	for (int i = 0; i < g->n_outputs; i++) {
		const qp_tensor *t = &g->tensors[g->outputs[i].tensor];
		int64_t numel = qp_tensor_numel(t);

		if (t->rank < 1 || t->dims[0] != batch)
			qp_die(a.model, "output '%s' has no batch axis of size %lld (dim 0 of the inputs)",
			       t->name, (long long)batch);
		if ((size_t)numel > max_out)
			max_out = (size_t)numel;
	}
	if (a.files.eval) {
		if (qp_feed_open_labels(feed, a.files.eval, &err))
			qp_die_err(NULL, &err);
		qp_results_eval(&res, a.files.eval, samples);
		if (!(labels = malloc(sizeof *labels * (size_t)batch)))
			qp_die(NULL, "out of memory");
	}

	opts.fake_quant = !a.no_fake_quant && qp_interp_wants_fake_quant(g);
	ip = qp_interp_new(g, &opts, &err);
	if (!ip)
		qp_die_err(a.model, &err);

	/* Outputs are opened last, so no input error leaves a file behind. */
	if (a.files.n_outputs || !a.files.eval) {
		const char *names[QP_RESULTS_MAX];
		int rank[QP_RESULTS_MAX];
		int64_t user_dims[QP_RESULTS_MAX][QP_MAX_RANK];

		for (int i = 0; i < g->n_outputs; i++) {
			const qp_graph_io *io = &g->outputs[i];
			const qp_tensor *t = &g->tensors[io->tensor];

			names[i] = a.files.n_outputs ? a.files.outputs[i] : "-";
			rank[i] = t->rank;
			qp_layout_user_dims(io->layout, t->rank - 1, t->dims + 1, user_dims[i]);
		}
		if (qp_results_open_outputs(&res, g->n_outputs, names, samples, rank,
					    (const int64_t (*)[QP_MAX_RANK])user_dims,
					    a.files.force, &err)) {
			qp_results_abort(&res);
			qp_die_err(NULL, &err);
		}
	}
	for (int i = 0; i < g->n_outputs; i++) {
		ybuf[i] = malloc(sizeof(float) * max_out);
		if (!ybuf[i])
			qp_die(NULL, "out of memory");
	}
	/* Float inputs are filled in place; integer ones (a lowered IR's)
	 * through a float batch that is quantized with the input's quant. */
	for (int i = 0; i < g->n_inputs; i++) {
		qp_value *v = qp_interp_input(ip, i);

		xbuf[i] = v->dtype == QP_DT_FLOAT32 ? v->data : malloc(sizeof(float) * (size_t)v->numel);
		if (!xbuf[i])
			qp_die(NULL, "out of memory");
	}

	/* Messages from the data side already start with their file. */
	while ((take = qp_feed_next(feed, xbuf, labels, &err)) > 0) {
		for (int i = 0; i < g->n_inputs; i++) {
			const qp_tensor *t = &g->tensors[g->inputs[i].tensor];
			qp_value *v = qp_interp_input(ip, i);

			if (v->dtype != QP_DT_FLOAT32 &&
			    qp_quantize_array(xbuf[i], t->rank, t->dims, t->quant, v->data, t->dtype, &err)) {
				qp_err_prefix(&err, "input '%s'", t->name);
				goto fail;
			}
		}
		if (qp_interp_run(ip, &err)) {
			fail_file = a.model;
			goto fail;
		}
		for (int i = 0; i < g->n_outputs; i++) {
			const qp_tensor *t = &g->tensors[g->outputs[i].tensor];
			int64_t per = qp_tensor_numel(t) / batch;

			if (qp_interp_output_f32(ip, i, ybuf[i], &err)) {
				fail_file = a.model;
				goto fail;
			}
			if (qp_results_add(&res, i, ybuf[i], take, per, labels, &err))
				goto fail;
		}
	}
	if (take < 0)
		goto fail;
	if (qp_results_finish(&res, &err))
		qp_die_err(NULL, &err);
	for (int i = 0; i < g->n_outputs; i++)
		free(ybuf[i]);
	for (int i = 0; i < g->n_inputs; i++)
		if (xbuf[i] != qp_interp_input(ip, i)->data)
			free(xbuf[i]);
	free(labels);
	qp_interp_free(ip);
	qp_feed_free(feed);
	qp_graph_free(g);
	return QP_EXIT_OK;
fail:
	qp_results_abort(&res);
	qp_die_err(fail_file, &err);
}
