/* Where a run's results go: one float32 .npy per model output and/or a
 * top-1 count against integer labels.  irrun and simulate share this, so
 * both print the same line and write the same files.
 *
 * Order of use: qp_results_eval (optional), qp_results_open_outputs
 * (last, so that no earlier error leaves a file behind), qp_results_add per
 * batch and output, qp_results_finish; qp_results_abort on any failure.
 * Error messages start with the file they are about.
 */
#ifndef QP_RESULTS_H
#define QP_RESULTS_H

#include <stdint.h>

#include "io.h"
#include "ir.h"
#include "npy.h"

#define QP_RESULTS_MAX 16

typedef struct qp_results {
	int n_outs;                       /* outputs written to files */
	qp_out outs[QP_RESULTS_MAX];
	const char *out_names[QP_RESULTS_MAX];
	const char *labels_path;          /* NULL: no evaluation */
	int64_t samples, correct;
} qp_results;

/* Scores output 0 against the labels qp_results_add is given (read by the
 * data feed, lib/data/feed.h, so they follow --skip, --limit and --shuffle);
 * path only names them. */
void qp_results_eval(qp_results *r, const char *path, int64_t samples);
/* Opens n outputs (names[i] "-" = stdout) and writes .npy headers of shape
 * (samples, user_dims[i][0..rank[i]-2]). */
int qp_results_open_outputs(qp_results *r, int n, const char *const *names,
			    int64_t samples, const int *rank,
			    const int64_t (*user_dims)[QP_MAX_RANK], int force,
			    qp_err *err);
/* take samples of output i (per values each, user layout): written when
 * output i goes to a file; output 0 is scored against labels[0..take-1]
 * when evaluating. */
int qp_results_add(qp_results *r, int i, const float *y, int64_t take,
		   int64_t per, const int64_t *labels, qp_err *err);
/* Commits the files and prints "top-1 0.8931 (8931/10000)" when
 * evaluating.  Frees everything; on failure nothing is left behind. */
int qp_results_finish(qp_results *r, qp_err *err);
void qp_results_abort(qp_results *r);

/* The data-file options irrun and simulate share (their option codes). */
enum { QP_RUN_OPT_INPUT = 'i', QP_RUN_OPT_OUTPUT = 'o', QP_RUN_OPT_FORCE = 'f',
       QP_RUN_OPT_EVAL = 256 };

/* Their rows for the option table (qp_cli_opt, cli.h). */
#define QP_RUN_CLI_OPTS \
	{QP_RUN_OPT_INPUT, "input", 'i', "[INPUT=]PATH", "samples: .npy, .npz, .idx[.gz], image folder, list file or image; once per input"}, \
	{QP_RUN_OPT_OUTPUT, "output", 'o', "Y.npy", "write the outputs here, once per model output (default: stdout)"}, \
	{QP_RUN_OPT_EVAL, "eval", 0, "LABELS", "compare output 0's argmax with integer labels (.npy or IDX); print top-1"}

typedef struct qp_run_files {
	const char *inputs[QP_RESULTS_MAX];
	int n_inputs;
	const char *outputs[QP_RESULTS_MAX];
	int n_outputs;
	const char *eval;
	int force;
} qp_run_files;

/* Records option c's argument: 1 if c is one of QP_RUN_OPT_*, 0 if not,
 * -1 when there are too many files (err says so; a usage error). */
int qp_run_files_option(qp_run_files *f, int c, const char *arg, qp_err *err);
/* The usage checks both tools make once the model is known: an input is
 * given, the model and an input do not both come from standard input,
 * --eval does not share standard output with an output file, binary
 * output does not go to a terminal without -f.  -1 with err set on the
 * first that fails (a usage error), else 0. */
int qp_run_files_check(const qp_run_files *f, const char *model, qp_err *err);

#endif
