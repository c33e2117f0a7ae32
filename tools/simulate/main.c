/* simulate: run a device binary through the embeddable runtime on the host,
 * with irrun's data conventions, so the two can be compared byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
	{OPT_INPUT, "input", 'i', "X.npy", "input data, samples along dim 0; once per model input ('-' = stdin)"},
	{OPT_OUTPUT, "output", 'o', "Y.npy", "write the outputs here, once per model output (default: stdout)"},
	{OPT_EVAL, "eval", 0, "LABELS.npy", "compare output 0's argmax with integer labels (N,); print top-1"},
	{OPT_INFO, "info", 0, NULL, "print binary_size and arena_size of MODEL.bin and exit"},
	{OPT_FORCE, "force", 'f', NULL, "write binary output to a terminal"},
	{OPT_QUIET, "quiet", 'q', NULL, "print no progress"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "simulate",
	.synopsis = "[options] MODEL.bin --input X.npy [-o Y.npy] [--eval LABELS.npy]\n"
		    "       simulate --info MODEL.bin",
	.summary = "Runs a device binary (from emit) through the qpipe runtime over the samples\n"
		   "of a .npy file and writes the outputs, stacked along dim 0, as float32 .npy.",
	.opts = options,
	.epilog = "Data conventions are irrun's: dim 0 is the batch, data is read in batches of\n"
		  "the model's batch size, inputs/outputs recorded as NHWC are transposed at the\n"
		  "boundary. See docs/man/simulate.md.\n",
};

typedef struct sim_args {
	const char *model;
	qp_run_files files;
	int info;
} sim_args;

static void parse_args(int argc, char **argv, sim_args *a)
{
	const char *arg;
	int c, first;

	memset(a, 0, sizeof *a);
	qp_cli_init(&cli);
	while ((c = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if (qp_run_files_option(&a->files, c, arg))
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
	qp_run_files_check(&a->files, a->model);
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
	qp_npy npy[QP_RESULTS_MAX];
	float *user_in[QP_RESULTS_MAX], *canon_in[QP_RESULTS_MAX];
	float *canon_out[QP_RESULTS_MAX], *user_out[QP_RESULTS_MAX];
	unsigned char *arena;
} sim;

static void open_inputs(sim *s, const sim_args *a, int64_t *samples)
{
	qp_err err = {{0}};

	if (a->files.n_inputs != s->n_in)
		qp_die(a->model, "the model has %d inputs, --input was given %d times",
		       s->n_in, a->files.n_inputs);
	for (int i = 0; i < s->n_in; i++) {
		const qp_io_info *io = &s->in[i];
		int64_t cdims[QP_MAX_RANK], udims[QP_MAX_RANK];
		int ok;

		if (io->rank < 1 || io->dims[0] != s->batch)
			qp_die(a->model, "input %d has no batch axis of size %lld", i,
			       (long long)s->batch);
		sample_dims(io, cdims);
		qp_layout_user_dims(layout_name(io->layout), io->rank - 1, cdims, udims);
		if (qp_npy_open(&s->npy[i], a->files.inputs[i], &err))
			qp_die_err(a->files.inputs[i], &err);
		ok = s->npy[i].rank == io->rank;
		for (int k = 1; ok && k < io->rank; k++)
			ok = s->npy[i].dims[k] == udims[k - 1];
		if (!ok)
			qp_die(a->files.inputs[i], "data shape does not match model input %d (per-sample shape expected in %s layout)",
			       i, io->layout == QP_LAYOUT_NHWC ? "NHWC" : "NCHW");
		if (s->npy[i].type == QP_NPY_BOOL)   /* as irrun (qp_feed_open) */
			qp_die(a->files.inputs[i], "boolean data is not a model input");
		if (i == 0)
			*samples = s->npy[i].rows;
		else if (s->npy[i].rows != *samples)
			qp_die(a->files.inputs[i], "has %lld samples, the first input %lld",
			       (long long)s->npy[i].rows, (long long)*samples);
		s->user_in[i] = malloc(io->nbytes);
		s->canon_in[i] = malloc(io->nbytes);
		if (!s->user_in[i] || !s->canon_in[i])
			qp_die(NULL, "out of memory");
	}
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
	int64_t samples = 0, done = 0;
	const char *fail_file = NULL;

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
	if (a.files.eval && qp_results_open_labels(&res, a.files.eval, samples, s.batch, &err))
		qp_die_err(NULL, &err);
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

	while (done < samples) {
		int64_t take = samples - done < s.batch ? samples - done : s.batch;
		const void *inp[QP_RESULTS_MAX];
		void *outp[QP_RESULTS_MAX];

		for (int i = 0; i < s.n_in; i++) {
			const qp_io_info *io = &s.in[i];
			int64_t per = io->numel / s.batch, cdims[QP_MAX_RANK];

			if (qp_npy_read_rows_f32(&s.npy[i], take, s.user_in[i], &err)) {
				qp_err_prefix(&err, "%s", a.files.inputs[i]);
				goto fail;
			}
			/* A short last batch is padded with zeros. */
			memset(s.user_in[i] + take * per, 0,
			       sizeof(float) * (size_t)((s.batch - take) * per));
			sample_dims(io, cdims);
			for (int64_t b = 0; b < s.batch; b++)
				qp_layout_to_canonical(layout_name(io->layout), io->rank - 1, cdims,
						       s.user_in[i] + b * per, s.canon_in[i] + b * per);
			inp[i] = s.canon_in[i];
		}
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
			if (qp_results_add(&res, i, s.user_out[i], take, per, &err))
				goto fail;
		}
		done += take;
	}
	if (qp_results_finish(&res, &err))
		qp_die_err(NULL, &err);
	for (int i = 0; i < s.n_in; i++) {
		qp_npy_close(&s.npy[i]);
		free(s.user_in[i]);
		free(s.canon_in[i]);
	}
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
