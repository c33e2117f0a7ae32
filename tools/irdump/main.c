/* irdump: the text twin of a .ir file.
 *
 * Reads and fully verifies one IR (qp_ir_read_mem), then prints a summary,
 * the JSON header (--json), one tensor's values (--tensor NAME) or the
 * calibration statistics (--stats).  Output is deterministic, so two dumps
 * can be diffed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io.h"
#include "ir.h"
#include "stats.h"

enum { OPT_JSON = 'j', OPT_TENSOR = 't', OPT_STATS = 's' };

static const qp_cli_opt options[] = {
	{ OPT_JSON, "json", 'j', NULL, "print the JSON header, pretty-printed" },
	{ OPT_TENSOR, "tensor", 't', "NAME", "print tensor NAME: dtype, shape, quant, stats, values" },
	{ OPT_STATS, "stats", 's', NULL, "print the calibration statistics, one tensor a line" },
	{ 0, NULL, 0, NULL, NULL }
};

static const qp_cli cli = {
	.prog = "irdump",
	.synopsis = "[options] [FILE.ir]",
	.summary = "Print a qpipe IR file (standard input when FILE is '-' or absent) as text.",
	.opts = options,
	.epilog = "Without options, prints a summary: format version, history, inputs,\n"
		  "outputs, nodes, tensors and parameters, quantization, statistics, meta.\n",
};

typedef struct cmdline {
	const char *input;     /* NULL: stdin */
	int json;
	int stats;
	const char *tensor;    /* NULL: no --tensor */
} cmdline;

static void parse_cmdline(int argc, char **argv, cmdline *cmd)
{
	const char *arg;
	int id, first;

	memset(cmd, 0, sizeof *cmd);
	while ((id = qp_cli_next(&cli, argc, argv, &arg, &first)) != -1) {
		switch (id) {
		case OPT_JSON: cmd->json = 1; break;
		case OPT_STATS: cmd->stats = 1; break;
		case OPT_TENSOR: cmd->tensor = arg; break;
		default: qp_bug("option %d not handled", id);
		}
	}
	if (cmd->json + cmd->stats + (cmd->tensor != NULL) > 1)
		qp_usage_error("--json, --stats and --tensor are exclusive");
	if (argc - first > 1)
		qp_usage_error("one input file at most, got %d", argc - first);
	if (argc - first == 1)
		cmd->input = argv[first];
}

static void print_shape(const qp_tensor *t)
{
	putchar('[');
	for (int i = 0; i < t->rank; i++)
		printf("%s%" PRId64, i ? ", " : "", t->dims[i]);
	putchar(']');
}

/* An argv word, quoted when a shell would need it. */
static void print_word(const char *s)
{
	if (s[0] && !strpbrk(s, " \t\n'\"\\$`*?[]{}()<>|&;#~"))
		fputs(s, stdout);
	else {
		putchar('\'');
		for (; *s; s++)
			if (*s == '\'')
				fputs("'\\''", stdout);
			else
				putchar(*s);
		putchar('\'');
	}
}

static void print_quant(const qp_tensor *t)
{
	const qp_quant *q = t->quant;

	printf("%s %d-bit %s, ", qp_qscheme_name(q->scheme), q->bits,
	       q->is_signed ? "signed" : "unsigned");
	if (q->axis < 0 || q->n == 1)
		printf("per tensor (scale %.9g, zero point %" PRId32 ")",
		       (double)q->scale[0], q->zero_point[0]);
	else
		printf("per channel (axis %d, %d scales)", q->axis, q->n);
}

static void print_io(const qp_graph *g, const qp_graph_io *io, int n)
{
	for (int i = 0; i < n; i++) {
		const qp_tensor *t = &g->tensors[io[i].tensor];

		printf("  %s: %s ", t->name, qp_dtype_name(t->dtype));
		print_shape(t);
		if (io[i].layout)
			printf(" %s", io[i].layout);
		putchar('\n');
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "nodes: 5 (Conv 2, Relu 3)": op counts in name order. */
static void print_op_counts(const qp_graph *g)
{
	const char **ops = malloc(((size_t)g->n_nodes + 1) * sizeof *ops);

	printf("nodes: %d", g->n_nodes);
	if (!ops || g->n_nodes == 0) {
		putchar('\n');
		free(ops);
		return;
	}
	for (int i = 0; i < g->n_nodes; i++)
		ops[i] = g->nodes[i].op;
	qsort(ops, (size_t)g->n_nodes, sizeof *ops, cmp_str);
	printf(" (");
	for (int i = 0; i < g->n_nodes;) {
		int j = i;

		while (j < g->n_nodes && strcmp(ops[j], ops[i]) == 0)
			j++;
		printf("%s%s %d", i ? ", " : "", ops[i], j - i);
		i = j;
	}
	printf(")\n");
	free(ops);
}

static void print_summary(const qp_graph *g, unsigned major, unsigned minor)
{
	int n_const = 0, n_quant = 0, n_stats = 0, n_act = 0;
	int64_t params = 0;
	uint64_t bytes = 0;
	const cJSON *e;

	printf("format: qpipe-ir %u.%u\n", major, minor);
	printf("history: %d\n", cJSON_GetArraySize(g->history));
	cJSON_ArrayForEach(e, g->history) {
		const cJSON *a;

		printf("  %s %s:", cJSON_GetObjectItemCaseSensitive(e, "tool")->valuestring,
		       cJSON_GetObjectItemCaseSensitive(e, "version")->valuestring);
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(e, "argv")) {
			putchar(' ');
			print_word(a->valuestring);
		}
		putchar('\n');
	}
	printf("inputs: %d\n", g->n_inputs);
	print_io(g, g->inputs, g->n_inputs);
	printf("outputs: %d\n", g->n_outputs);
	print_io(g, g->outputs, g->n_outputs);
	print_op_counts(g);
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		printf("  %s: %s(", n->name, n->op);
		for (int j = 0; j < n->n_inputs; j++)
			printf("%s%s", j ? ", " : "",
			       n->inputs[j] < 0 ? "(none)" : g->tensors[n->inputs[j]].name);
		printf(") ->");
		for (int j = 0; j < n->n_outputs; j++)
			printf("%s %s", j ? "," : "", g->tensors[n->outputs[j]].name);
		putchar('\n');
	}
	for (int i = 0; i < g->n_tensors; i++) {
		const qp_tensor *t = &g->tensors[i];

		if (t->data) {
			n_const++;
			params += qp_tensor_numel(t);
			bytes += t->nbytes;
		} else {
			n_act++;
		}
		n_quant += t->quant != NULL;
		n_stats += t->stats != NULL;
	}
	printf("tensors: %d (%d constants, %d activations)\n", g->n_tensors, n_const, n_act);
	printf("parameters: %" PRId64 " (%" PRIu64 " bytes)\n", params, bytes);
	printf("quantized: %d\n", n_quant);
	for (int i = 0; i < g->n_tensors; i++) {
		const qp_tensor *t = &g->tensors[i];

		if (!t->quant)
			continue;
		printf("  %s: %s ", t->name, qp_dtype_name(t->dtype));
		print_quant(t);
		putchar('\n');
	}
	printf("stats: %d of %d activations\n", n_stats, n_act);
	printf("meta:");
	cJSON_ArrayForEach(e, g->meta)
		printf(" %s", e->string);
	putchar('\n');
}

static void print_stats(const qp_graph *g)
{
	for (int i = 0; i < g->n_tensors; i++) {
		const qp_stats *s = g->tensors[i].stats;

		if (s)
			printf("%s min %.9g max %.9g count %" PRId64 "\n", g->tensors[i].name,
			       (double)s->min, (double)s->max, s->count);
	}
}

static void print_value(const qp_tensor *t, int64_t i)
{
	const void *d = t->data;

	switch (t->dtype) {
	case QP_DT_FLOAT32: printf("%.9g\n", (double)((const float *)d)[i]); break;
	case QP_DT_INT8: printf("%d\n", ((const int8_t *)d)[i]); break;
	case QP_DT_UINT8: printf("%u\n", ((const uint8_t *)d)[i]); break;
	case QP_DT_INT16: printf("%d\n", ((const int16_t *)d)[i]); break;
	case QP_DT_INT32: printf("%" PRId32 "\n", ((const int32_t *)d)[i]); break;
	case QP_DT_INT64: printf("%" PRId64 "\n", ((const int64_t *)d)[i]); break;
	case QP_DT_BOOL: printf("%d\n", ((const uint8_t *)d)[i] != 0); break;
	default: qp_bug("dtype %d", (int)t->dtype);
	}
}

/* "# key: value" lines, then the values one a line, so scripts can take the
 * numbers with grep -v '^#'. */
static void print_tensor(const char *file, const qp_graph *g, const char *name)
{
	int ti = qp_graph_find_tensor(g, name);
	const qp_tensor *t;
	int64_t numel;

	if (ti < 0)
		qp_die(file, "no tensor '%s'", name);
	t = &g->tensors[ti];
	if (!t->data)
		qp_die(file, "tensor '%s' has no data (not a constant)", name);
	numel = qp_tensor_numel(t);
	printf("# name: %s\n# dtype: %s\n# shape: ", t->name, qp_dtype_name(t->dtype));
	print_shape(t);
	printf("\n# quant: ");
	if (t->quant) {
		print_quant(t);
		if (t->quant->n > 1) {
			printf("\n# scale:");
			for (int i = 0; i < t->quant->n; i++)
				printf(" %.9g", (double)t->quant->scale[i]);
			printf("\n# zero_point:");
			for (int i = 0; i < t->quant->n; i++)
				printf(" %" PRId32, t->quant->zero_point[i]);
		}
	} else {
		printf("none");
	}
	printf("\n# stats: ");
	if (t->stats)
		printf("min %.9g max %.9g count %" PRId64, (double)t->stats->min,
		       (double)t->stats->max, t->stats->count);
	else
		printf("none");
	printf("\n# values: %" PRId64 "\n", numel);
	for (int64_t i = 0; i < numel; i++)
		print_value(t, i);
}

/* A scalar or a key, as JSON text (cJSON escapes strings; numbers come
 * back as the file wrote them, since %.9g text survives a double). */
static void print_scalar(const cJSON *item)
{
	char *text = cJSON_PrintUnformatted(item);

	fputs(text ? text : "null", stdout);
	free(text);
}

static void print_key(const char *key)
{
	cJSON *s = cJSON_CreateString(key);

	print_scalar(s);
	cJSON_Delete(s);
}

/* Two-space indentation, one key a line, arrays of scalars on one line:
 * readable and diffable. */
static void print_json_value(const cJSON *v, int depth)
{
	const cJSON *c;
	int flat = 1;

	if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
		print_scalar(v);
		return;
	}
	if (!v->child) {
		fputs(cJSON_IsObject(v) ? "{}" : "[]", stdout);
		return;
	}
	if (cJSON_IsArray(v))
		cJSON_ArrayForEach(c, v)
			flat &= !cJSON_IsObject(c) && !cJSON_IsArray(c);
	if (cJSON_IsArray(v) && flat) {
		putchar('[');
		cJSON_ArrayForEach(c, v) {
			print_scalar(c);
			if (c->next)
				fputs(", ", stdout);
		}
		putchar(']');
		return;
	}
	fputs(cJSON_IsObject(v) ? "{\n" : "[\n", stdout);
	cJSON_ArrayForEach(c, v) {
		printf("%*s", 2 * (depth + 1), "");
		if (cJSON_IsObject(v)) {
			print_key(c->string);
			fputs(": ", stdout);
		}
		print_json_value(c, depth + 1);
		fputs(c->next ? ",\n" : "\n", stdout);
	}
	printf("%*s%c", 2 * depth, "", cJSON_IsObject(v) ? '}' : ']');
}

/* The header as the file holds it (already verified), re-indented.  The
 * reader refused it unless it is valid UTF-8 (docs/ir.md section 1), and
 * cJSON escapes quotes, backslashes and control characters, so this prints
 * strict JSON whatever the names hold. */
static void print_json(const char *file, const char *header, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(header, len);

	if (!root)
		qp_die(file, "out of memory printing the header");
	print_json_value(root, 0);
	putchar('\n');
	cJSON_Delete(root);
}

int main(int argc, char **argv)
{
	cmdline cmd;
	qp_err err = { { 0 } };
	qp_graph *g = NULL;
	void *buf;
	size_t len, header_len;
	const char *header, *shown;
	unsigned major, minor;

	qp_cli_init(&cli);
	parse_cmdline(argc, argv, &cmd);
	shown = cmd.input ? cmd.input : "-";
	/* Read whole, verify everything, and only then print: a damaged file
	 * gives one error line and no partial dump. */
	if (qp_read_all(cmd.input, &buf, &len, 0, &err) ||
	    qp_ir_read_mem(buf, len, &g, &err) ||
	    qp_ir_frame(buf, len, &major, &minor, &header, &header_len, &err))
		qp_die_err(shown, &err);
	if (cmd.json)
		print_json(shown, header, header_len);
	else if (cmd.tensor)
		print_tensor(shown, g, cmd.tensor);
	else if (cmd.stats)
		print_stats(g);
	else
		print_summary(g, major, minor);
	free(buf);
	qp_graph_free(g);
	if (fflush(stdout) != 0 || ferror(stdout))
		qp_die(NULL, "write error on standard output");
	return 0;
}
