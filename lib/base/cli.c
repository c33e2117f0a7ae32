#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "ir.h"

/* The one piece of process-wide state: who we are, for messages, and the
 * command line as typed, for the IR's history (getopt_long permutes argv;
 * the strings stay, only their order changes, so a copy of the pointers
 * suffices).  The copy lives until exit. */
static const qp_cli *cli_current;
static char **cli_typed_argv;

enum { OPT_HELP = 1000, OPT_VERSION = 1001 };

const char *qp_prog(void)
{
	return cli_current ? cli_current->prog : "qpipe";
}

void qp_cli_init(const qp_cli *cli)
{
	cli_current = cli;
}

char **qp_cli_typed_argv(char **argv)
{
	return cli_typed_argv ? cli_typed_argv : argv;
}

static void print_help(const qp_cli *cli)
{
	const qp_cli_opt *o;

	printf("Usage: %s %s\n\n%s\n\nOptions:\n", cli->prog, cli->synopsis, cli->summary);
	for (o = cli->opts; o && o->id; o++) {
		char left[96];
		int n = 0;

		if (o->short_name)
			n = snprintf(left, sizeof left, "-%c, ", o->short_name);
		else
			n = snprintf(left, sizeof left, "    ");
		snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  %-26s %s\n", left, o->help);
	}
	printf("  %-26s %s\n", "-h, --help", "show this help and exit");
	printf("  %-26s %s\n", "    --version", "show the version and exit");
	if (cli->epilog)
		printf("\n%s", cli->epilog);
	printf("\nExit status: 0 success, 1 bad input or failure, 2 bad usage.\n");
}

int qp_cli_next(const qp_cli *cli, int argc, char **argv, const char **arg,
		int *optind_out)
{
	struct option longopts[128];
	char shortopts[256];
	size_t ns = 0;
	int nl = 0, c;
	const qp_cli_opt *o;

	cli_current = cli;
	if (!cli_typed_argv) {
		cli_typed_argv = malloc((size_t)(argc + 1) * sizeof *cli_typed_argv);
		if (!cli_typed_argv) {
			fprintf(stderr, "%s: out of memory\n", cli->prog);
			exit(QP_EXIT_INPUT);
		}
		memcpy(cli_typed_argv, argv, (size_t)(argc + 1) * sizeof *cli_typed_argv);
	}
	/* Rebuilt per call: cheap, and keeps the table the single source. */
	shortopts[ns++] = ':';
	shortopts[ns++] = 'h';
	for (o = cli->opts; o && o->id; o++) {
		if (nl >= 125 || ns + 3 >= sizeof shortopts)
			qp_bug("too many options");
		longopts[nl].name = o->name;
		longopts[nl].has_arg = o->arg ? required_argument : no_argument;
		longopts[nl].flag = NULL;
		longopts[nl].val = o->id;
		nl++;
		if (o->short_name) {
			shortopts[ns++] = o->short_name;
			if (o->arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[nl++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	longopts[nl++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	longopts[nl] = (struct option){NULL, 0, NULL, 0};
	shortopts[ns] = 0;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	*arg = optarg;
	*optind_out = optind;
	if (c == -1) {
		int i;

		/* Every operand is a path, and '' is none: never read it as '-'. */
		for (i = optind; i < argc; i++)
			if (!argv[i][0])
				qp_usage_error("an empty path ('') was given as an operand");
		return -1;
	}
	if (c == 'h' || c == OPT_HELP) {
		print_help(cli);
		exit(QP_EXIT_OK);
	}
	if (c == OPT_VERSION) {
		printf("%s (qpipe) %s, IR format %d.%d\n", cli->prog, QP_VERSION,
		       QP_IR_VERSION_MAJOR, QP_IR_VERSION_MINOR);
		exit(QP_EXIT_OK);
	}
	if (c == '?') {
		if (optopt)
			qp_usage_error("unknown option '-%c'", optopt);
		qp_usage_error("unknown option '%s'", argv[optind - 1]);
	}
	if (c == ':') {
		if (optopt && optopt < 256)
			qp_usage_error("option '-%c' needs an argument", optopt);
		qp_usage_error("option '%s' needs an argument", argv[optind - 1]);
	}
	/* Map short letters that share an id with a table entry. */
	for (o = cli->opts; o && o->id; o++)
		if (o->id == c || (o->short_name && o->short_name == c)) {
			/* No option takes an empty value; for a PATH, '' would
			 * otherwise be reported as standard input or output. */
			if (o->arg && optarg && !optarg[0])
				qp_usage_error("option '--%s' wants a %s, not an empty string ('')",
					       o->name, o->arg);
			return o->id;
		}
	return c;
}

int qp_cli_output_check(const char *output, int has_force, int force,
			qp_err *err)
{
	if (qp_is_stdio(output) && !force && isatty(STDOUT_FILENO))
		return qp_err_set(err, "refusing to write binary output to a terminal; use -o PATH, a pipe%s",
				  has_force ? " or -f" : "");
	return 0;
}

void qp_cli_check_output(const char *output, int has_force, int force)
{
	qp_err err;

	if (qp_cli_output_check(output, has_force, force, &err))
		qp_usage_error("%s", err.msg);
}

/* "prog: msg" on stderr, the line usage errors and warnings share. */
static void vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", qp_prog());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void qp_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	if (cli_current)
		fprintf(stderr, "usage: %s %s\nTry '%s --help' for more information.\n",
			cli_current->prog, cli_current->synopsis, cli_current->prog);
	exit(QP_EXIT_USAGE);
}

/* Prints each line of msg with the "prog: file: " prefix. */
static void print_lines(const char *file, const char *msg)
{
	const char *p = msg;

	do {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (file)
			fprintf(stderr, "%s: %s: %.*s\n", qp_prog(),
				strcmp(file, "") == 0 ? "-" : file, len, p);
		else
			fprintf(stderr, "%s: %.*s\n", qp_prog(), len, p);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
}

void qp_die(const char *file, const char *fmt, ...)
{
	char msg[QP_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_lines(file, msg);
	exit(QP_EXIT_INPUT);
}

void qp_die_err(const char *file, const qp_err *err)
{
	print_lines(file, err && err->msg[0] ? err->msg : "failed");
	exit(QP_EXIT_INPUT);
}

void qp_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

long long qp_arg_int(const char *opt, const char *s, long long lo, long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		qp_usage_error("%s wants a whole number from %lld to %lld, not '%s'",
			       opt, lo, hi, s);
	return v;
}

double qp_arg_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		qp_usage_error("%s wants a number, not '%s'", opt, s);
	return v;
}
