/* idx2npy: converts an IDX file (MNIST / Fashion-MNIST) to a NumPy .npy
 * file: images become float32 (N,1,H,W) scaled by --scale, labels int64 (N). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "idx.h"
#include "npy.h"

enum { OPT_OUTPUT = 'o', OPT_FORCE = 'f', OPT_SCALE = 256, OPT_LAYOUT, OPT_LIMIT };

static const qp_cli_opt options[] = {
	{OPT_OUTPUT, "output", 'o', "OUT.npy", "write here (default: standard output)"},
	{OPT_SCALE, "scale", 0, "X", "multiply image bytes by X, a number or A/B (default 1/255)"},
	{OPT_LAYOUT, "layout", 0, "nchw|nhwc", "image array shape (N,1,H,W) or (N,H,W,1) (default nchw)"},
	{OPT_LIMIT, "limit", 0, "N", "convert only the first N items (the whole file is still checked)"},
	{OPT_FORCE, "force", 'f', NULL, "write binary output even to a terminal"},
	{0, NULL, 0, NULL, NULL},
};

static const qp_cli cli = {
	.prog = "idx2npy",
	.synopsis = "[options] [FILE.idx[.gz]] [-o OUT.npy]",
	.summary = "Convert an IDX file (MNIST format, plain or gzip) to a NumPy .npy file:\n"
		   "images (magic 0x00000803) to float32 (N,1,H,W), labels (0x00000801) to int64 (N).",
	.opts = options,
	.epilog = "FILE '-' or absent reads standard input.\n",
};

struct cmdline {
	const char *input;
	const char *output;
	double scale;
	int nhwc;
	int64_t limit;   /* -1: all */
	int force;
};

/* "0.5", "1e-3" or a fraction "1/255", so the default can be written exactly. */
static double parse_scale(const char *s)
{
	const char *slash = strchr(s, '/');
	char num[64];
	double a, b;

	if (!slash)
		return qp_arg_double("--scale", s);
	if ((size_t)(slash - s) >= sizeof num)
		qp_usage_error("--scale wants a number or A/B, not '%s'", s);
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = 0;
	a = qp_arg_double("--scale", num);
	b = qp_arg_double("--scale", slash + 1);
	if (b == 0)
		qp_usage_error("--scale divides by zero in '%s'", s);
	return a / b;
}

static void parse_cmdline(int argc, char **argv, struct cmdline *cmd)
{
	const char *arg;
	int id, first;

	*cmd = (struct cmdline){.scale = 1.0 / 255.0, .limit = -1};
	qp_cli_init(&cli);
	while ((id = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		switch (id) {
		case OPT_OUTPUT: cmd->output = arg; break;
		case OPT_FORCE: cmd->force = 1; break;
		case OPT_SCALE: cmd->scale = parse_scale(arg); break;
		case OPT_LIMIT: cmd->limit = qp_arg_int("--limit", arg, 0, INT64_MAX); break;
		case OPT_LAYOUT:
			if (strcmp(arg, "nchw") == 0)
				cmd->nhwc = 0;
			else if (strcmp(arg, "nhwc") == 0)
				cmd->nhwc = 1;
			else
				qp_usage_error("--layout wants nchw or nhwc, not '%s'", arg);
			break;
		}
	}
	if (argc - first > 1)
		qp_usage_error("one input file, not %d", argc - first);
	cmd->input = first < argc ? argv[first] : "-";
	qp_cli_check_output(cmd->output, 1, cmd->force);
}

/* Converts n items of raw bytes to the output element type, little-endian
 * whatever the host (the .npy header says '<f4' / '<i8'). */
static void convert(const uint8_t *raw, int64_t count, int labels, double scale,
		    unsigned char *out)
{
	int64_t i;

	for (i = 0; i < count; i++) {
		uint64_t bits;
		int b;

		if (labels) {
			bits = raw[i];
			for (b = 0; b < 8; b++)
				out[8 * i + b] = (unsigned char)(bits >> (8 * b));
		} else {
			/* The product in double, rounded once to float: for the
			 * default 1/255 this equals numpy's float32 x / 255. */
			float v = (float)(raw[i] * scale);
			uint32_t u;

			memcpy(&u, &v, sizeof u);
			for (b = 0; b < 4; b++)
				out[4 * i + b] = (unsigned char)(u >> (8 * b));
		}
	}
}

/* Streams the items through in chunks so a big data set needs little
 * memory; the output is atomic, so an error half-way leaves nothing. */
static int convert_file(const struct cmdline *cmd, qp_idx *f, qp_out *out, qp_err *err)
{
	int labels = f->rank == 1;
	int64_t rows = cmd->limit >= 0 && cmd->limit < f->items ? cmd->limit : f->items;
	int64_t dims[4], chunk = 1, done;
	size_t out_elem = labels ? 8 : 4;
	uint8_t *raw = NULL;
	unsigned char *conv = NULL;
	int rc = -1;

	if (labels) {
		dims[0] = rows;
	} else {
		int64_t h = f->dims[1], w = f->dims[2];

		dims[0] = rows;
		dims[1] = cmd->nhwc ? h : 1;
		dims[2] = cmd->nhwc ? w : h;
		dims[3] = cmd->nhwc ? 1 : w;
	}
	/* About 1 MiB of input per chunk, never more items than there are
	 * (an empty set needs no buffer, however large its items claim to be). */
	if (f->item_bytes < (1 << 20))
		chunk = (1 << 20) / f->item_bytes;
	if (chunk > rows)
		chunk = rows;
	if (chunk > 0) {
		raw = malloc((size_t)(chunk * f->item_bytes));
		conv = malloc((size_t)(chunk * f->item_bytes) * out_elem);
		if (!raw || !conv) {
			qp_err_set(err, "out of memory for %lld %s of %lld bytes", (long long)chunk,
				   labels ? "labels" : "images", (long long)f->item_bytes);
			goto done;
		}
	}
	if (qp_npy_write_header(out, labels ? QP_NPY_I64 : QP_NPY_F32, labels ? 1 : 4,
				dims, err) != 0)
		goto done;
	for (done = 0; done < rows; done += chunk) {
		int64_t n = rows - done < chunk ? rows - done : chunk;

		if (qp_idx_read_items(f, n, raw, err) != 0)
			goto done;
		convert(raw, n * f->item_bytes, labels, cmd->scale, conv);
		if (qp_out_write(out, conv, (size_t)(n * f->item_bytes) * out_elem, err) != 0)
			goto done;
	}
	rc = qp_idx_finish(f, err);
done:
	free(raw);
	free(conv);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmdline cmd;
	qp_idx f;
	qp_out out;
	qp_err err = {{0}};

	parse_cmdline(argc, argv, &cmd);
	if (qp_idx_open(&f, cmd.input, &err) != 0) {
		qp_idx_close(&f);
		qp_die_err(cmd.input, &err);
	}
	if (qp_out_open(&out, cmd.output, 1, cmd.force, &err) != 0) {
		qp_idx_close(&f);
		qp_die_err(cmd.output ? cmd.output : "-", &err);
	}
	if (convert_file(&cmd, &f, &out, &err) != 0) {
		qp_out_abort(&out);
		qp_idx_close(&f);
		qp_die_err(cmd.input, &err);
	}
	qp_idx_close(&f);
	if (qp_out_commit(&out, &err) != 0)
		qp_die_err(cmd.output ? cmd.output : "-", &err);
	return 0;
}
