/* The single-node fixture case runner shared by test_ops_math.c and
 * test_ops_tensor.c (test code only: a header of static functions, included
 * by one translation unit each).
 *
 * A case directory holds case.json (op, attrs, inputs, outputs, rtol/atol)
 * and one .npy per tensor, written by a tests/fixtures/gen/ script from an
 * independent reference.  run_all_cases() makes one TAP test per directory:
 * it builds the node, infers shapes, runs it through qp_interp and compares
 * every output (dtype, shape, values: integers exactly, floats within the
 * case's tolerances; inf and nan must match). */
#ifndef QP_TEST_CASE_RUNNER_H
#define QP_TEST_CASE_RUNNER_H

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "interp.h"
#include "npy.h"
#include "ops.h"
#include "ops_common.h"

static int npy_dtype(qp_npy_type t, qp_dtype *dt)
{
	switch (t) {
	case QP_NPY_F32: case QP_NPY_F64: *dt = QP_DT_FLOAT32; return 0;
	case QP_NPY_I8: *dt = QP_DT_INT8; return 0;
	case QP_NPY_U8: *dt = QP_DT_UINT8; return 0;
	case QP_NPY_I16: *dt = QP_DT_INT16; return 0;
	case QP_NPY_I32: *dt = QP_DT_INT32; return 0;
	case QP_NPY_I64: *dt = QP_DT_INT64; return 0;
	case QP_NPY_BOOL: *dt = QP_DT_BOOL; return 0;
	}
	return -1;
}

/* A loaded .npy: dtype, shape, data in that dtype (malloc'd). */
typedef struct arr {
	qp_dtype dtype;
	int rank;
	int64_t dims[QP_MAX_RANK];
	int64_t numel;
	void *data;
} arr;

static int load(const char *dir, const char *file, arr *a)
{
	char path[512];
	qp_npy r;
	qp_err err = {{0}};
	int rc = 0;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	memset(a, 0, sizeof *a);
	if (qp_npy_open(&r, path, &err) || npy_dtype(r.type, &a->dtype)) {
		printf("# %s: %s\n", path, err.msg);
		return -1;
	}
	a->rank = r.rank;
	memcpy(a->dims, r.dims, sizeof a->dims);
	a->numel = r.rows * r.row_elems;
	a->data = calloc((size_t)(a->numel ? a->numel : 1), 8);
	if (a->dtype == QP_DT_FLOAT32) {
		rc = qp_npy_read_rows_f32(&r, r.rows, a->data, &err);
	} else {
		int64_t *tmp = calloc((size_t)(a->numel ? a->numel : 1), 8);

		rc = qp_npy_read_rows_i64(&r, r.rows, tmp, &err);
		for (int64_t i = 0; i < a->numel; i++)
			qp_elem_set_i64(a->data, a->dtype, i, tmp[i]);
		free(tmp);
	}
	if (rc)
		printf("# %s: %s\n", path, err.msg);
	qp_npy_close(&r);
	return rc;
}

static void add_io(qp_graph *g, int is_output, int t)
{
	qp_graph_io **io = is_output ? &g->outputs : &g->inputs;
	int *n = is_output ? &g->n_outputs : &g->n_inputs;

	*io = realloc(*io, sizeof **io * (size_t)(*n + 1));
	(*io)[*n].tensor = t;
	(*io)[*n].layout = NULL;
	(*n)++;
}

static void set_attrs(qp_node *n, const cJSON *attrs)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, attrs) {
		const cJSON *v = a->child;
		int count = cJSON_GetArraySize(v), i = 0;
		const cJSON *e;

		if (strcmp(v->string, "int") == 0) {
			qp_node_set_int(n, a->string, (int64_t)v->valuedouble);
		} else if (strcmp(v->string, "float") == 0) {
			qp_node_set_float(n, a->string, (float)v->valuedouble);
		} else if (strcmp(v->string, "string") == 0) {
			qp_node_set_string(n, a->string, v->valuestring);
		} else if (strcmp(v->string, "ints") == 0) {
			int64_t *ints = calloc((size_t)count + 1, sizeof *ints);

			cJSON_ArrayForEach(e, v) ints[i++] = (int64_t)e->valuedouble;
			qp_node_set_ints(n, a->string, count, ints);
			free(ints);
		} else {
			float *fl = calloc((size_t)count + 1, sizeof *fl);

			cJSON_ArrayForEach(e, v) fl[i++] = (float)e->valuedouble;
			qp_node_set_floats(n, a->string, count, fl);
			free(fl);
		}
	}
}

static int close_enough(double got, double want, double rtol, double atol)
{
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	return fabs(got - want) <= atol + rtol * fabs(want);
}

/* Runs one case directory; returns the number of failed checks. */
static int run_case(const char *dir)
{
	char path[512];
	char *text;
	cJSON *c;
	qp_graph *g = qp_graph_new();
	arr ins[16], want[4];
	int n_in, n_out, tin[16], tout[4], node, bad = 0;
	double rtol, atol;
	qp_err err = {{0}};
	qp_interp *ip = NULL;
	FILE *fp;
	long len;

	snprintf(path, sizeof path, "%s/case.json", dir);
	fp = fopen(path, "rb");
	if (!fp)
		return printf("# %s: cannot open\n", path), 1;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	text = calloc((size_t)len + 1, 1);
	if (fread(text, 1, (size_t)len, fp) != (size_t)len)
		len = 0;
	fclose(fp);
	c = cJSON_Parse(text);
	free(text);
	n_in = cJSON_GetArraySize(cJSON_GetObjectItem(c, "inputs"));
	n_out = cJSON_GetArraySize(cJSON_GetObjectItem(c, "outputs"));
	rtol = cJSON_GetObjectItem(c, "rtol")->valuedouble;
	atol = cJSON_GetObjectItem(c, "atol")->valuedouble;
	memset(ins, 0, sizeof ins);
	memset(want, 0, sizeof want);
	for (int i = 0; i < n_in; i++) {
		const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "inputs"), i);
		char name[32];

		tin[i] = -1;
		if (cJSON_IsNull(in))
			continue;
		if (load(dir, cJSON_GetObjectItem(in, "file")->valuestring, &ins[i]))
			bad++;
		snprintf(name, sizeof name, "in%d", i);
		tin[i] = qp_graph_add_tensor(g, name, ins[i].dtype, ins[i].rank,
					     ins[i].dims, NULL);
		if (cJSON_IsTrue(cJSON_GetObjectItem(in, "const"))) {
			qp_tensor *t = &g->tensors[tin[i]];

			qp_tensor_alloc_data(t, NULL);
			memcpy(t->data, ins[i].data, t->nbytes);
		} else {
			add_io(g, 0, tin[i]);
		}
	}
	for (int i = 0; i < n_out; i++) {
		char name[32];

		if (load(dir, cJSON_GetArrayItem(cJSON_GetObjectItem(c, "outputs"), i)->valuestring,
			 &want[i]))
			bad++;
		snprintf(name, sizeof name, "out%d", i);
		tout[i] = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, 0, NULL, NULL);
		add_io(g, 1, tout[i]);
	}
	node = qp_graph_add_node(g, "n", cJSON_GetObjectItem(c, "op")->valuestring,
				 n_in, tin, n_out, tout, NULL);
	set_attrs(&g->nodes[node], cJSON_GetObjectItem(c, "attrs"));
	if (bad)
		goto done;
	if (qp_graph_infer_shapes(g, &err) ||
	    !(ip = qp_interp_new(g, NULL, &err))) {
		printf("# %s: %s\n", dir, err.msg);
		bad++;
		goto done;
	}
	for (int i = 0, k = 0; i < n_in; i++) {
		if (tin[i] < 0 || g->tensors[tin[i]].data)
			continue;
		memcpy(qp_interp_input(ip, k++)->data, ins[i].data,
		       (size_t)ins[i].numel * qp_dtype_size(ins[i].dtype));
	}
	if (qp_interp_run(ip, &err)) {
		printf("# %s: run: %s\n", dir, err.msg);
		bad++;
		goto done;
	}
	for (int i = 0; i < n_out; i++) {
		const qp_value *y = qp_interp_output(ip, i);
		int shown = 0;

		if (y->dtype != want[i].dtype || y->rank != want[i].rank ||
		    memcmp(y->dims, want[i].dims, sizeof(int64_t) * (size_t)y->rank)) {
			char s1[160], s2[160];

			printf("# %s: output %d is %s %s, want %s %s\n", dir, i,
			       qp_dtype_name(y->dtype), qp_dims_str(y->rank, y->dims, s1, sizeof s1),
			       qp_dtype_name(want[i].dtype),
			       qp_dims_str(want[i].rank, want[i].dims, s2, sizeof s2));
			bad++;
			continue;
		}
		for (int64_t e = 0; e < y->numel; e++) {
			double got = qp_elem_get_f64(y->data, y->dtype, e);
			double exp = qp_elem_get_f64(want[i].data, want[i].dtype, e);
			int ok = y->dtype == QP_DT_FLOAT32
				? close_enough(got, exp, rtol, atol)
				: qp_elem_get_i64(y->data, y->dtype, e) ==
				  qp_elem_get_i64(want[i].data, want[i].dtype, e);

			if (!ok) {
				if (shown++ < 3)
					printf("# %s: output %d element %lld: got %.9g, want %.9g\n",
					       dir, i, (long long)e, got, exp);
				bad++;
			}
		}
	}
done:
	qp_interp_free(ip);
	for (int i = 0; i < n_in; i++)
		free(ins[i].data);
	for (int i = 0; i < n_out; i++)
		free(want[i].data);
	cJSON_Delete(c);
	qp_graph_free(g);
	return bad;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every fixture case is one TAP test named after its directory. */
static void run_all_cases(const char *cases_dir)
{
	DIR *d = opendir(cases_dir);
	struct dirent *e;
	char **names = NULL;
	int n = 0;

	if (!d) {
		printf("# cannot open %s (run from the repository root)\n", cases_dir);
		CHECK(0);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "SKIPPED") == 0)
			continue;
		names = realloc(names, sizeof *names * (size_t)(n + 1));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, by_name);
	for (int i = 0; i < n; i++) {
		char dir[512];
		int before = check_failures;

		snprintf(dir, sizeof dir, "%s/%s", cases_dir, names[i]);
		check_failures += run_case(dir) ? 1 : 0;
		check_tests++;
		if (check_failures != before) {
			check_failed_tests++;
			printf("not ok %d %s\n", check_tests, names[i]);
		} else {
			printf("ok %d %s\n", check_tests, names[i]);
		}
		free(names[i]);
	}
	free(names);
}

#endif
