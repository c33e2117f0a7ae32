#include "results.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void release(qp_results *r)
{
	r->labels_path = NULL;
}

void qp_results_eval(qp_results *r, const char *path, int64_t samples)
{
	r->labels_path = path;
	r->samples = samples;
}

int qp_results_open_outputs(qp_results *r, int n, const char *const *names,
			    int64_t samples, const int *rank,
			    const int64_t (*user_dims)[QP_MAX_RANK], int force,
			    qp_err *err)
{
	if (n > QP_RESULTS_MAX)
		return qp_err_set(err, "too many outputs (%d; at most %d)", n, QP_RESULTS_MAX);
	r->samples = samples;
	for (int i = 0; i < n; i++) {
		int64_t dims[QP_MAX_RANK];

		dims[0] = samples;
		memcpy(dims + 1, user_dims[i], sizeof(int64_t) * (size_t)(rank[i] - 1));
		r->out_names[i] = names[i];
		if (qp_out_open(&r->outs[i], names[i], 1, force, err))
			return qp_err_prefix(err, "%s", names[i]);
		r->n_outs = i + 1;
		if (qp_npy_write_header(&r->outs[i], QP_NPY_F32, rank[i], dims, err))
			return qp_err_prefix(err, "%s", names[i]);
	}
	return 0;
}

static int64_t argmax(const float *x, int64_t n)
{
	int64_t best = 0;

	for (int64_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

int qp_results_add(qp_results *r, int i, const float *y, int64_t take,
		   int64_t per, const int64_t *labels, qp_err *err)
{
	if (i < r->n_outs &&
	    qp_out_write(&r->outs[i], y, sizeof(float) * (size_t)(take * per), err))
		return qp_err_prefix(err, "%s", r->out_names[i]);
	if (i == 0 && r->labels_path)
		for (int64_t s = 0; s < take; s++)
			r->correct += argmax(y + s * per, per) == labels[s];
	return 0;
}

int qp_results_finish(qp_results *r, qp_err *err)
{
	int evaluating = r->labels_path != NULL;

	for (int i = 0; i < r->n_outs; i++)
		if (qp_out_commit(&r->outs[i], err)) {
			qp_err_prefix(err, "%s", r->out_names[i]);
			for (int j = i + 1; j < r->n_outs; j++)
				qp_out_abort(&r->outs[j]);
			r->n_outs = 0;
			release(r);
			return -1;
		}
	r->n_outs = 0;
	release(r);
	if (evaluating) {
		printf("top-1 %.4f (%lld/%lld)\n",
		       r->samples ? (double)r->correct / (double)r->samples : 0.0,
		       (long long)r->correct, (long long)r->samples);
		if (fflush(stdout) || ferror(stdout))
			return qp_err_set(err, "write error on standard output");
	}
	return 0;
}

void qp_results_abort(qp_results *r)
{
	for (int i = 0; i < r->n_outs; i++)
		qp_out_abort(&r->outs[i]);
	r->n_outs = 0;
	release(r);
}

int qp_run_files_option(qp_run_files *f, int c, const char *arg, qp_err *err)
{
	switch (c) {
	case QP_RUN_OPT_INPUT:
		if (f->n_inputs == QP_RESULTS_MAX)
			return qp_err_set(err, "too many --input files");
		f->inputs[f->n_inputs++] = arg;
		return 1;
	case QP_RUN_OPT_OUTPUT:
		if (f->n_outputs == QP_RESULTS_MAX)
			return qp_err_set(err, "too many -o files");
		f->outputs[f->n_outputs++] = arg;
		return 1;
	case QP_RUN_OPT_EVAL:
		f->eval = arg;
		return 1;
	case QP_RUN_OPT_FORCE:
		f->force = 1;
		return 1;
	}
	return 0;
}

int qp_run_files_check(const qp_run_files *f, const char *model, qp_err *err)
{
	if (f->n_inputs == 0)
		return qp_err_set(err, "no --input given");
	for (int i = 0; i < f->n_inputs; i++)
		if (qp_is_stdio(model) && qp_is_stdio(f->inputs[i]))
			return qp_err_set(err, "the model and an input cannot both come from standard input");
	if (f->eval)
		for (int i = 0; i < f->n_outputs; i++)
			if (qp_is_stdio(f->outputs[i]))
				return qp_err_set(err, "--eval prints to standard output; give -o a file");
	if (!f->eval && f->n_outputs == 0 &&
	    qp_cli_output_check("-", 1, f->force, err))
		return -1;
	for (int i = 0; i < f->n_outputs; i++)
		if (qp_cli_output_check(f->outputs[i], 1, f->force, err))
			return -1;
	return 0;
}
