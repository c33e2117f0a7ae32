/* emit: lowered IR -> device binary for the qpipe runtime. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "emit.h"
#include "io.h"
#include "ir.h"

enum { OPT_OUTPUT = 'o', OPT_FORCE = 'f', OPT_FORMAT = 256, OPT_NAME };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "PATH", "write the binary here (default: stdout, never a terminal)"},
	{OPT_FORMAT, "format", 0, "FORMAT", "output format: bin (device binary v0, the default) or c "
					     "(C array and header; needs -o)"},
	{OPT_NAME, "name", 0, "SYM", "--format c: name the array SYM (default: from -o's file name)"},
	{OPT_FORCE, "force", 'f', NULL, "write to standard output even when it is a terminal"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "emit",
	.synopsis = "[options] [LOWERED.ir] [-o MODEL.bin | --format c -o MODEL.c]",
	.summary = "Writes a lowered IR as a device binary for the qpipe runtime (docs/binary.md).",
	.opts = options,
	.epilog = "LOWERED.ir must come from lower; '-' or no input reads standard input.\n"
		  "See docs/man/emit.md.\n",
};

/* The .c and the .h go to temporary files and are renamed into place only
 * when both are written and synced, so a failure leaves neither behind (and
 * a pair never mixes two models, except if the last rename fails: then the
 * new .c is removed). */
static void write_c(const char *output, const char *name, const void *bin,
		    size_t len)
{
	char *sym = name ? strdup(name) : qp_emit_c_symbol(output);
	char *hpath = qp_emit_c_header_path(output), *cpath = NULL;
	const char *hbase, *s;
	qp_out c, h;
	qp_err err;

	if (!sym || !hpath)
		qp_die(output, "out of memory");
	hbase = strrchr(hpath, '/');
	hbase = hbase ? hbase + 1 : hpath;
	/* The .c names its header in #include "..."; no escapes exist there. */
	for (s = hbase; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < ' ')
			qp_usage_error("cannot #include a header named '%s'; choose another -o", hbase);
	memset(&c, 0, sizeof c);
	memset(&h, 0, sizeof h);
	if (qp_out_open(&c, output, 0, 0, &err))
		qp_die_err(output, &err);
	if (qp_out_open(&h, hpath, 0, 0, &err)) {
		qp_out_abort(&c);
		qp_die_err(hpath, &err);
	}
	if (qp_emit_c_write(bin, len, sym, hbase, c.fp, h.fp, &err)) {
		qp_out_abort(&c);
		qp_out_abort(&h);
		qp_die_err(output, &err);
	}
	/* Flush and sync both before either rename, so that what can still
	 * fail afterwards is the rename alone. */
	if (fflush(h.fp) || ferror(h.fp) || (h.tmp && fsync(fileno(h.fp)))) {
		qp_out_abort(&c);
		qp_out_abort(&h);
		qp_die(hpath, "write error: %s", strerror(errno));
	}
	if (fflush(c.fp) || ferror(c.fp) || (c.tmp && fsync(fileno(c.fp)))) {
		qp_out_abort(&c);
		qp_out_abort(&h);
		qp_die(output, "write error: %s", strerror(errno));
	}
	if (c.path && !(cpath = strdup(c.path))) {
		qp_out_abort(&c);
		qp_out_abort(&h);
		qp_die(output, "out of memory");
	}
	if (qp_out_commit(&c, &err)) {
		qp_out_abort(&h);
		qp_die_err(output, &err);
	}
	if (qp_out_commit(&h, &err)) {
		if (cpath)
			unlink(cpath);
		qp_die_err(hpath, &err);
	}
	free(cpath);
	free(hpath);
	free(sym);
}

int main(int argc, char **argv)
{
	const char *input = "-", *output = "-", *format = "bin", *name = NULL, *arg;
	int force = 0, first, opt, as_c;
	qp_graph *g = NULL;
	void *bin = NULL;
	size_t len = 0;
	qp_out out;
	qp_err err;

	qp_cli_init(&cli);
	while ((opt = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		if (opt == OPT_OUTPUT)
			output = arg;
		else if (opt == OPT_FORCE)
			force = 1;
		else if (opt == OPT_FORMAT)
			format = arg;
		else if (opt == OPT_NAME)
			name = arg;
	}
	if (first < argc)
		input = argv[first++];
	if (first < argc)
		qp_usage_error("unexpected argument '%s'", argv[first]);
	if (strcmp(format, "bin") && strcmp(format, "c"))
		qp_usage_error("unsupported --format '%s' (supported: bin, c)", format);
	as_c = !strcmp(format, "c");
	if (as_c && qp_is_stdio(output))
		qp_usage_error("--format c writes two files (NAME.c and NAME.h); give -o NAME.c");
	if (name && !as_c)
		qp_usage_error("--name applies only to --format c");
	if (name && !qp_emit_c_ident_ok(name))
		qp_usage_error("--name '%s' is not a usable C identifier "
			       "(letters, digits, '_'; not a keyword; no leading digit or '_')", name);
	if (!as_c)
		qp_cli_check_output(output, 1, force);

	if (qp_ir_read(input, &g, &err))
		qp_die_err(input, &err);
	if (qp_emit_binary(g, &bin, &len, &err))
		qp_die_err(input, &err);
	if (as_c) {
		write_c(output, name, bin, len);
	} else {
		memset(&out, 0, sizeof out);
		if (qp_out_open(&out, output, 1, force, &err) ||
		    qp_out_write(&out, bin, len, &err) || qp_out_commit(&out, &err)) {
			qp_out_abort(&out);
			qp_die_err(output, &err);
		}
	}
	free(bin);
	qp_graph_free(g);
	return 0;
}
