/* irdiff's reports of a finished comparison (lib/exec/diff.h): the text
 * table, CSV, JSON and the SVG bar chart.  Each writes to fp and returns 0,
 * or -1 with err set (out of memory); write errors stay in the stream for
 * qp_out_commit to report. */
#ifndef IRDIFF_REPORT_H
#define IRDIFF_REPORT_H

#include <stdio.h>

#include "diff.h"

typedef struct report_src {
	const qp_graph *a;       /* the reference: rows name its tensors */
	const qp_diff *d;
	const char *a_name, *b_name; /* the files, for the summary and title */
} report_src;

int report_table(FILE *fp, const report_src *s, qp_err *err);
int report_csv(FILE *fp, const report_src *s, qp_err *err);
int report_json(FILE *fp, const report_src *s, qp_err *err);
int report_svg(FILE *fp, const report_src *s, qp_err *err);

#endif
