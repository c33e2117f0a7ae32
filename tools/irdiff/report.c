#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* One row as the reports print it. */
typedef struct row_view {
	const char *tensor;
	const char *node, *op;   /* NULL for a graph input */
	long long elements;
	double sqnr, cosine, max_err;
} row_view;

static row_view view(const report_src *s, int i)
{
	const qp_diff_row *r = qp_diff_row_at(s->d, i);
	row_view v;

	v.tensor = s->a->tensors[r->tensor_a].name;
	v.node = r->node_a >= 0 ? s->a->nodes[r->node_a].name : NULL;
	v.op = r->node_a >= 0 ? s->a->nodes[r->node_a].op : NULL;
	v.elements = (long long)r->elements;
	v.sqnr = qp_diff_sqnr(r);
	v.cosine = qp_diff_cosine(r);
	v.max_err = r->max_err;
	return v;
}

/* x with fmt, or "inf", "-inf", "nan": the same spelling in every format. */
static const char *num(char *buf, size_t size, const char *fmt, double x)
{
	if (isnan(x))
		return "nan";
	if (isinf(x))
		return x > 0 ? "inf" : "-inf";
	snprintf(buf, size, fmt, x);
	return buf;
}

/* Code points of a UTF-8 string (the IR's names are valid UTF-8). */
static int width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void pad(FILE *fp, const char *s, int w, int right)
{
	int n = w - width(s);

	if (right)
		fprintf(fp, "%*s%s", n > 0 ? n : 0, "", s);
	else
		fprintf(fp, "%s%*s", s, n > 0 ? n : 0, "");
}

static void summary(FILE *fp, const report_src *s)
{
	qp_diff_skips k;
	int worst = qp_diff_worst(s->d);
	char b[64];

	qp_diff_skipped(s->d, &k);
	fprintf(fp, "compared %d tensors, skipped %d (%d only in %s, %d only in %s, %d of different shapes)\n",
		qp_diff_rows(s->d), k.only_a + k.only_b + k.shape, k.only_a, s->a_name,
		k.only_b, s->b_name, k.shape);
	if (worst < 0) {
		fprintf(fp, "worst: none (every compared tensor is equal)\n");
	} else {
		row_view v = view(s, worst);

		if (v.op)
			fprintf(fp, "worst: %s (op %s) SQNR %s dB\n", v.tensor, v.op,
				num(b, sizeof b, "%.2f", v.sqnr));
		else
			fprintf(fp, "worst: %s (graph input) SQNR %s dB\n", v.tensor,
				num(b, sizeof b, "%.2f", v.sqnr));
	}
}

enum { N_COLS = 7 };

static const char *const table_head[N_COLS] = {
	"tensor", "node", "op", "elements", "SQNR dB", "cosine", "max error"
};

/* Row i's cells for the table (bufs holds the numbers). */
static void cells(const report_src *s, int i, char bufs[4][64], const char **c)
{
	row_view v = view(s, i);

	c[0] = v.tensor;
	c[1] = v.node ? v.node : "-";
	c[2] = v.op ? v.op : "-";
	snprintf(bufs[0], 64, "%lld", v.elements);
	c[3] = bufs[0];
	c[4] = num(bufs[1], 64, "%.2f", v.sqnr);
	c[5] = num(bufs[2], 64, "%.6f", v.cosine);
	c[6] = num(bufs[3], 64, "%.3g", v.max_err);
}

int report_table(FILE *fp, const report_src *s, qp_err *err)
{
	int w[N_COLS], n = qp_diff_rows(s->d), worst = qp_diff_worst(s->d);
	char bufs[4][64];
	const char *c[N_COLS];

	for (int j = 0; j < N_COLS; j++)
		w[j] = width(table_head[j]);
	for (int i = 0; i < n; i++) {
		cells(s, i, bufs, c);
		for (int j = 0; j < N_COLS; j++)
			if (width(c[j]) > w[j])
				w[j] = width(c[j]);
	}
	for (int i = -1; i < n; i++) {
		if (i < 0)
			memcpy(c, table_head, sizeof c);
		else
			cells(s, i, bufs, c);
		for (int j = 0; j < N_COLS; j++) {
			if (j)
				fputs("  ", fp);
			pad(fp, c[j], w[j], j >= 3);
		}
		fputs(i == worst && i >= 0 ? "  <- worst\n" : "\n", fp);
	}
	summary(fp, s);
	return 0;
}

/* A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
static void csv_field(FILE *fp, const char *f)
{
	if (!strpbrk(f, ",\"\r\n")) {
		fputs(f, fp);
		return;
	}
	fputc('"', fp);
	for (; *f; f++) {
		if (*f == '"')
			fputc('"', fp);
		fputc(*f, fp);
	}
	fputc('"', fp);
}

int report_csv(FILE *fp, const report_src *s, qp_err *err)
{
	char b[3][64];

	fputs("tensor,node,op,elements,sqnr_db,cosine,max_error\n", fp);
	for (int i = 0; i < qp_diff_rows(s->d); i++) {
		row_view v = view(s, i);

		csv_field(fp, v.tensor);
		fputc(',', fp);
		csv_field(fp, v.node ? v.node : "");
		fputc(',', fp);
		csv_field(fp, v.op ? v.op : "");
		fprintf(fp, ",%lld,%s,%s,%s\n", v.elements, num(b[0], 64, "%.9g", v.sqnr),
			num(b[1], 64, "%.9g", v.cosine), num(b[2], 64, "%.9g", v.max_err));
	}
	return 0;
}

/* A number as JSON: raw %.9g when finite, else the string "inf", "-inf"
 * or "nan" (JSON has no such numbers). */
static cJSON *json_num(double x)
{
	char b[64];

	if (!isfinite(x))
		return cJSON_CreateString(num(b, sizeof b, "%.9g", x));
	return qp_json_rawf("%.9g", x);
}

static cJSON *json_str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

int report_json(FILE *fp, const report_src *s, qp_err *err)
{
	cJSON *root = cJSON_CreateObject(), *rows = cJSON_CreateArray(), *worst;
	qp_diff_skips k;
	int w = qp_diff_worst(s->d), bad;
	char *text;

	qp_diff_skipped(s->d, &k);
	/* Once added, rows belongs to root; it is freed alone only when it
	 * never got there. */
	bad = !root ||
	      qp_json_add(root, "compared", qp_json_rawf("%d", qp_diff_rows(s->d))) ||
	      qp_json_add(root, "skipped", qp_json_rawf("%d", k.only_a + k.only_b + k.shape)) ||
	      qp_json_add(root, "rows", rows);
	if (bad) {
		cJSON_Delete(root);
		cJSON_Delete(rows);
		return qp_err_set(err, "out of memory");
	}
	for (int i = 0; !bad && i < qp_diff_rows(s->d); i++) {
		row_view v = view(s, i);
		cJSON *r = cJSON_CreateObject();

		bad = qp_json_add(rows, NULL, r) ||
		      qp_json_add(r, "tensor", cJSON_CreateString(v.tensor)) ||
		      qp_json_add(r, "node", json_str_or_null(v.node)) ||
		      qp_json_add(r, "op", json_str_or_null(v.op)) ||
		      qp_json_add(r, "elements", qp_json_rawf("%lld", v.elements)) ||
		      qp_json_add(r, "sqnr_db", json_num(v.sqnr)) ||
		      qp_json_add(r, "cosine", json_num(v.cosine)) ||
		      qp_json_add(r, "max_error", json_num(v.max_err));
	}
	if (!bad && w < 0) {
		bad = qp_json_add(root, "worst", cJSON_CreateNull());
	} else if (!bad) {
		row_view v = view(s, w);

		worst = cJSON_CreateObject();
		bad = qp_json_add(root, "worst", worst) ||
		      qp_json_add(worst, "tensor", cJSON_CreateString(v.tensor)) ||
		      qp_json_add(worst, "node", json_str_or_null(v.node)) ||
		      qp_json_add(worst, "op", json_str_or_null(v.op)) ||
		      qp_json_add(worst, "sqnr_db", json_num(v.sqnr));
	}
	text = bad ? NULL : cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return qp_err_set(err, "out of memory");
	fprintf(fp, "%s\n", text);
	free(text);
	return 0;
}

/* ---- SVG ------------------------------------------------------------------ */

/* Text for XML character data and attribute values.  XML 1.0 cannot hold
 * control characters other than tab and line breaks: they become '?'. */
static void xml_text(FILE *fp, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", fp); break;
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&apos;", fp); break;
		default:
			fputc((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r' ? '?' : *s, fp);
		}
}

/* 1, 2 or 5 times a power of ten, near range / 6. */
static double tick_step(double range)
{
	double raw = range / 6, mag = pow(10, floor(log10(raw))), r = raw / mag;

	return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

enum { BAR_H = 14, PITCH = 20, TOP = 44, PLOT_W = 480, CHAR_W = 7 };

#define COL_BAR "#4e79a7"
#define COL_INF "#59a14f"
#define COL_WORST "#e15759"

int report_svg(FILE *fp, const report_src *s, qp_err *err)
{
	int n = qp_diff_rows(s->d), worst = qp_diff_worst(s->d), label_w = 60;
	double lo = 0, hi = 0, step, cap;
	int any_finite = 0, any_inf = 0, axis_y, w, h;

	for (int i = 0; i < n; i++) {
		row_view v = view(s, i);
		int lw = width(v.tensor) * CHAR_W + 16;

		if (lw > label_w)
			label_w = lw;
		if (isfinite(v.sqnr)) {
			if (!any_finite || v.sqnr > hi)
				hi = v.sqnr;
			if (!any_finite || v.sqnr < lo)
				lo = v.sqnr;
			any_finite = 1;
		} else if (v.sqnr > 0) {
			any_inf = 1;
		}
	}
	/* inf is drawn 10 dB past the largest finite value. */
	cap = (any_finite ? hi : 0) + 10;
	if (any_inf)
		hi = cap;
	if (lo > 0)
		lo = 0;
	if (hi <= lo)
		hi = lo + 10;
	step = tick_step(hi - lo);
	lo = floor(lo / step) * step;
	hi = ceil(hi / step) * step;
	axis_y = TOP + n * PITCH + 4;
	w = label_w + PLOT_W + 70;
	h = axis_y + 48;
#define X(v) (label_w + ((v) - lo) / (hi - lo) * PLOT_W)

	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		w, h, w, h);
	fprintf(fp, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h);
	fputs("<text x=\"8\" y=\"24\" font-family=\"sans-serif\" font-size=\"15\" font-weight=\"bold\">SQNR per tensor: ", fp);
	xml_text(fp, s->b_name);
	fputs(" against ", fp);
	xml_text(fp, s->a_name);
	fputs("</text>\n<g font-family=\"sans-serif\" font-size=\"12\">\n", fp);
	for (int i = 0; i < n; i++) {
		row_view v = view(s, i);
		double val = isnan(v.sqnr) ? 0 : isinf(v.sqnr) ? (v.sqnr > 0 ? cap : lo) : v.sqnr;
		double x0 = X(0), x1 = X(val);
		int y = TOP + i * PITCH;
		const char *col = i == worst ? COL_WORST : isinf(v.sqnr) && v.sqnr > 0 ? COL_INF : COL_BAR;
		char b[64];

		fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6, y + BAR_H - 3);
		xml_text(fp, v.tensor);
		fprintf(fp, "</text>\n<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>\n",
			x1 < x0 ? x1 : x0, y, fabs(x1 - x0), BAR_H, col);
		fprintf(fp, "<text x=\"%.2f\" y=\"%d\">%s</text>\n", (x1 > x0 ? x1 : x0) + 4,
			y + BAR_H - 3, num(b, sizeof b, "%.1f", v.sqnr));
	}
	fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000000\"/>\n",
		label_w, axis_y, label_w + PLOT_W, axis_y);
	for (int k = 0; lo + k * step <= hi + step * 1e-9; k++) {
		double t = lo + k * step, x = X(t);

		fprintf(fp, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#000000\"/>\n",
			x, axis_y, x, axis_y + 5);
		fprintf(fp, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
			x, axis_y + 18, fabs(t) < step * 1e-9 ? 0.0 : t);
	}
	fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">SQNR (dB)%s</text>\n",
		label_w + PLOT_W / 2, axis_y + 38, any_inf ? "; green: equal (inf)" : "");
#undef X
	fputs("</g>\n</svg>\n", fp);
	return 0;
}
