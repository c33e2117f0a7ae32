/* simulate: run a device binary through the embeddable runtime on the host,
 * with irrun's data conventions, so the two can be compared byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "feed.h"
#include "interp.h"
#include "io.h"
#include "npy.h"
#include "results.h"
#include "qp_runtime.h"

enum { OPT_INPUT = QP_RUN_OPT_INPUT, OPT_OUTPUT = QP_RUN_OPT_OUTPUT, OPT_FORCE = QP_RUN_OPT_FORCE,
       OPT_QUIET = 'q', OPT_EVAL = QP_RUN_OPT_EVAL, OPT_INFO };

/* Device binaries are small; this only stops a wrong file from eating RAM. */
#define MAX_BINARY ((size_t)1 << 31)

static const qp_cli_opt options[] = {
	QP_RUN_CLI_OPTS,
	QP_FEED_CLI_OPTS,
	{OPT_INFO, "info", 0, NULL, "print binary_size and arena_size of MODEL.bin and exit"},
	{OPT_FORCE, "force", 'f', NULL, "write binary output to a terminal"},
	{OPT_QUIET, "quiet", 'q', NULL, "print no progress"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "simulate",
	.synopsis = "[options] MODEL.bin --input [INPUT=]PATH [-o Y.npy] [--eval LABELS]\n"
		    "       simulate --info MODEL.bin",
	.summary = "Runs a device binary (from emit) through the qpipe runtime over samples\n"
		   "(.npy, .npz, IDX, image folder, list file or image) and writes the outputs,\n"
		   "stacked along dim 0, as float32 .npy.",
	.opts = options,
	.epilog = "Data conventions are irrun's: dim 0 is the batch, data is read in batches of\n"
		  "the model's batch size, inputs/outputs recorded as NHWC are transposed at the\n"
		  "boundary. The binary records no input names: INPUT is the index (0, 1, ...).\n"
		  "See docs/man/simulate.md.\n",
};

typedef struct sim_args {
	const char *model;
	qp_run_files files;
	qp_feed_opts feed;
	int info;
} sim_args;

static void parse_args(int argc, char **argv, sim_args *a)
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
		case OPT_INFO: a->info = 1; break;
		}
	}
	if (argc - first != 1)
		qp_usage_error("one MODEL.bin expected, got %d", argc - first);
	a->model = argv[first];
	if (a->info)
		return;
	if (qp_run_files_check(&a->files, a->model, &err))
		qp_usage_error("%s", err.msg);
	a->feed.src.allow_nonfinite = 1;   /* as irrun */
}

static const char *layout_name(int layout)
{
	return layout == QP_LAYOUT_NHWC ? "NHWC" : NULL;
}

/* Canonical per-sample dims (dims[1..]) as int64 for the layout helpers. */
static void sample_dims(const qp_io_info *io, int64_t *dims)
{
	for (int k = 1; k < io->rank; k++)
		dims[k - 1] = io->dims[k];
}

typedef struct sim {
	qp_model m;
	int n_in, n_out;
	qp_io_info in[QP_RESULTS_MAX], out[QP_RESULTS_MAX];
	int64_t batch;
	/* The feed's view of the inputs: named by index, canonical dims. */
	char in_name[QP_RESULTS_MAX][12];
	int64_t in_dims[QP_RESULTS_MAX][QP_MAX_RANK];
	qp_datasrc_input ports[QP_RESULTS_MAX];
	qp_feed *feed;
	float *canon_in[QP_RESULTS_MAX];
	float *canon_out[QP_RESULTS_MAX], *user_out[QP_RESULTS_MAX];
	unsigned char *arena;
} sim;

static void open_inputs(sim *s, const sim_args *a, int64_t *samples)
{
	qp_err err = {{0}};
	const char *paths[QP_RESULTS_MAX];

	for (int i = 0; i < s->n_in; i++) {
		const qp_io_info *io = &s->in[i];

		if (io->rank < 1 || io->dims[0] != s->batch)
			qp_die(a->model, "input %d has no batch axis of size %lld", i,
			       (long long)s->batch);
		snprintf(s->in_name[i], sizeof s->in_name[i], "%d", i);
		for (int k = 0; k < io->rank; k++)
			s->in_dims[i][k] = io->dims[k];
		s->ports[i].name = s->in_name[i];
		s->ports[i].layout = layout_name(io->layout);
		s->ports[i].rank = io->rank;
		s->ports[i].dims = s->in_dims[i];
		s->canon_in[i] = malloc(io->nbytes);
		if (!s->canon_in[i])
			qp_die(NULL, "out of memory");
	}
	if (qp_feed_assign(s->n_in, s->ports, "--input", a->files.n_inputs, a->files.inputs,
			   paths, &err))
		qp_usage_error("%s", err.msg);
	s->feed = qp_feed_open(s->n_in, s->ports, paths, &a->feed, &err);
	if (!s->feed)
		qp_die_err(NULL, &err);
	*samples = qp_feed_samples(s->feed);
}

int main(int argc, char **argv)
{
	sim_args a;
	static sim s;
	qp_err err = {{0}};
	void *buf = NULL;
	size_t len = 0;
	qp_results res = {0};
	int st;
	int64_t samples = 0;
	const char *fail_file = NULL;
	int64_t *labels = NULL, take;

	parse_args(argc, argv, &a);
	if (qp_read_all(a.model, &buf, &len, MAX_BINARY, &err))
		qp_die_err(a.model, &err);
	st = qp_model_open(&s.m, buf, len);
	if (st != QP_OK)
		qp_die(a.model, "%s", qp_status_str(st));
	if (a.info) {
		printf("binary_size %zu\narena_size %zu\ntensors %u\nops %u\nweights_size %u\n",
		       len, qp_arena_size(&s.m), s.m.n_tensors, s.m.n_ops, s.m.weights_len);
		if (fflush(stdout) || ferror(stdout))
			qp_die(NULL, "write error on standard output");
		free(buf);
		return QP_EXIT_OK;
	}

	s.n_in = (int)s.m.n_inputs;
	s.n_out = (int)s.m.n_outputs;
	if (s.n_in < 1 || s.n_in > QP_RESULTS_MAX || s.n_out < 1 || s.n_out > QP_RESULTS_MAX)
		qp_die(a.model, "the model has %d inputs and %d outputs; 1..%d of each are supported",
		       s.n_in, s.n_out, QP_RESULTS_MAX);
	for (int i = 0; i < s.n_in; i++)
		qp_model_input(&s.m, (uint32_t)i, &s.in[i]);
	for (int i = 0; i < s.n_out; i++) {
		qp_model_output(&s.m, (uint32_t)i, &s.out[i]);
		s.canon_out[i] = malloc(s.out[i].nbytes);
		s.user_out[i] = malloc(s.out[i].nbytes);
		if (!s.canon_out[i] || !s.user_out[i])
			qp_die(NULL, "out of memory");
	}
	s.batch = s.in[0].rank ? s.in[0].dims[0] : 1;
	for (int i = 0; i < s.n_out; i++)
		if (s.out[i].rank < 1 || s.out[i].dims[0] != s.batch)
			qp_die(a.model, "output %d has no batch axis of size %lld", i,
			       (long long)s.batch);
	if (a.files.n_outputs && a.files.n_outputs != s.n_out)
		qp_die(a.model, "the model has %d outputs, -o was given %d times",
		       s.n_out, a.files.n_outputs);
	if (!a.files.eval && !a.files.n_outputs && s.n_out != 1)
		qp_die(a.model, "the model has %d outputs; give -o once per output", s.n_out);
	open_inputs(&s, &a, &samples);
	if (a.files.eval) {
		if (qp_feed_open_labels(s.feed, a.files.eval, &err))
			qp_die_err(NULL, &err);
		qp_results_eval(&res, a.files.eval, samples);
		if (!(labels = malloc(sizeof *labels * (size_t)s.batch)))
			qp_die(NULL, "out of memory");
	}
	if (!(s.arena = malloc(qp_arena_size(&s.m) ? qp_arena_size(&s.m) : 1)))
		qp_die(NULL, "out of memory");

	/* Outputs are opened last, so no input error leaves a file behind. */
	if (a.files.n_outputs || !a.files.eval) {
		const char *names[QP_RESULTS_MAX];
		int rank[QP_RESULTS_MAX];
		int64_t user_dims[QP_RESULTS_MAX][QP_MAX_RANK];

		for (int i = 0; i < s.n_out; i++) {
			int64_t cdims[QP_MAX_RANK];

			names[i] = a.files.n_outputs ? a.files.outputs[i] : "-";
			rank[i] = s.out[i].rank;
			sample_dims(&s.out[i], cdims);
			qp_layout_user_dims(layout_name(s.out[i].layout), s.out[i].rank - 1,
					    cdims, user_dims[i]);
		}
		if (qp_results_open_outputs(&res, s.n_out, names, samples, rank,
					    (const int64_t (*)[QP_MAX_RANK])user_dims,
					    a.files.force, &err)) {
			qp_results_abort(&res);
			qp_die_err(NULL, &err);
		}
	}

	/* Messages from the data side already start with their file. */
	while ((take = qp_feed_next(s.feed, s.canon_in, labels, &err)) > 0) {
		const void *inp[QP_RESULTS_MAX];
		void *outp[QP_RESULTS_MAX];

		for (int i = 0; i < s.n_in; i++)
			inp[i] = s.canon_in[i];
		for (int i = 0; i < s.n_out; i++)
			outp[i] = s.canon_out[i];
		st = qp_run(&s.m, s.arena, inp, outp);
		if (st != QP_OK) {
			qp_err_set(&err, "%s", qp_status_str(st));
			fail_file = a.model;
			goto fail;
		}
		for (int i = 0; i < s.n_out; i++) {
			const qp_io_info *io = &s.out[i];
			int64_t per = io->numel / s.batch, cdims[QP_MAX_RANK];

			sample_dims(io, cdims);
			for (int64_t b = 0; b < take; b++)
				qp_layout_from_canonical(layout_name(io->layout), io->rank - 1, cdims,
							 s.canon_out[i] + b * per, s.user_out[i] + b * per);
			if (qp_results_add(&res, i, s.user_out[i], take, per, labels, &err))
				goto fail;
		}
	}
	if (take < 0)
		goto fail;
	if (qp_results_finish(&res, &err))
		qp_die_err(NULL, &err);
	for (int i = 0; i < s.n_in; i++)
		free(s.canon_in[i]);
	qp_feed_free(s.feed);
	free(labels);
	for (int i = 0; i < s.n_out; i++) {
		free(s.canon_out[i]);
		free(s.user_out[i]);
	}
	free(s.arena);
	free(buf);
	return QP_EXIT_OK;
fail:
	qp_results_abort(&res);
	qp_die_err(fail_file, &err);
}
