/* Command-line plumbing for the tools' main() functions.
 *
 * This is the edge of the program: unlike the rest of lib/, the functions
 * here print to stderr and exit (help: 0, bad input: 1, usage: 2).  One
 * option table drives both getopt_long and --help, so the help text cannot
 * drift from the parser.
 */
#ifndef QP_CLI_H
#define QP_CLI_H

#include "err.h"

#define QP_VERSION "0.1.0"

enum { QP_EXIT_OK = 0, QP_EXIT_INPUT = 1, QP_EXIT_USAGE = 2 };

typedef struct qp_cli_opt {
	int id;             /* returned by qp_cli_next: the short letter, or >= 256 */
	const char *name;   /* long name, without "--" */
	char short_name;    /* 0 when there is none */
	const char *arg;    /* argument placeholder ("PATH"); NULL for a flag */
	const char *help;   /* one line */
} qp_cli_opt;

typedef struct qp_cli {
	const char *prog;        /* "quantize" */
	const char *synopsis;    /* "[options] [INPUT.ir] [-o OUTPUT.ir]" */
	const char *summary;     /* one sentence: what the tool does */
	const qp_cli_opt *opts;  /* terminated by an entry with id 0; --help and
	                            --version are added automatically */
	const char *epilog;      /* extra help text after the options, or NULL */
} qp_cli;

/* Sets the program name used by qp_die and friends. */
void qp_cli_init(const qp_cli *cli);
/* Next option id, or -1 when the options end (then *optind_out is the index
 * of the first operand).  An empty option value or operand is a usage
 * error.  Handles --help (stdout, exit 0), --version
 * (exit 0) and unknown options / missing arguments (usage, exit 2). */
int qp_cli_next(const qp_cli *cli, int argc, char **argv, const char **arg,
		int *optind_out);
/* For a tool whose output is binary: a usage error (exit 2) when output
 * names standard output, that is a terminal and force is not set.  The hint
 * offers -f only when the tool has it (has_force). */
void qp_cli_check_output(const char *output, int has_force, int force);
/* The same check for library code, which must not exit: -1 with the
 * message in err when output is refused (a usage error to the caller), 0
 * when it may be written. */
int qp_cli_output_check(const char *output, int has_force, int force,
			qp_err *err);
/* Prints "prog: msg" and the synopsis to stderr, exits 2. */
_Noreturn void qp_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Prints "prog: file: msg" (file "-" for stdin, omitted when NULL), one
 * line per line of msg, exits 1. */
_Noreturn void qp_die(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* qp_die with the message of err. */
_Noreturn void qp_die_err(const char *file, const qp_err *err);
/* Prints "prog: msg" to stderr without exiting (warnings, progress). */
void qp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *qp_prog(void);
/* The command line in the order it was typed (qp_cli_next lets getopt_long
 * permute argv); argv itself before the first qp_cli_next.  For history. */
char **qp_cli_typed_argv(char **argv);

/* Parses a whole decimal integer / float argument or dies with exit 2. */
long long qp_arg_int(const char *opt, const char *s, long long lo, long long hi);
double qp_arg_double(const char *opt, const char *s);

#endif
