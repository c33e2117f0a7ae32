/* Float kernels, shape inference and the interpreter.
 *
 * Expected outputs come from PyTorch (tests/fixtures/npy/k_*.npy, made by
 * tests/fixtures/gen/make_kernel_fixtures.py) or are hand-calculated next
 * to the test.  Each test builds a one-node graph, infers shapes, runs it
 * through qp_interp and compares with the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "interp.h"
#include "npy.h"
#include "ops.h"
#include "quant.h"

#define FIX "tests/fixtures/npy/k_"

typedef struct array {
	int rank;
	int64_t dims[QP_MAX_RANK];
	int64_t numel;
	float *data;
} array;

static array load(const char *name)
{
	char path[256];
	qp_npy r;
	qp_err err = {{0}};
	array a = {0};

	snprintf(path, sizeof path, FIX "%s.npy", name);
	if (qp_npy_open(&r, path, &err)) {
		printf("# %s: %s\n", path, err.msg);
		return a;
	}
	a.rank = r.rank;
	memcpy(a.dims, r.dims, sizeof a.dims);
	a.numel = r.rows * r.row_elems;
	a.data = malloc(sizeof(float) * (size_t)(a.numel ? a.numel : 1));
	if (qp_npy_read_rows_f32(&r, r.rows, a.data, &err))
		printf("# %s: %s\n", path, err.msg);
	qp_npy_close(&r);
	return a;
}

static void add_graph_io(qp_graph *g, int is_output, int t)
{
	qp_graph_io **io = is_output ? &g->outputs : &g->inputs;
	int *n = is_output ? &g->n_outputs : &g->n_inputs;

	*io = realloc(*io, sizeof **io * (size_t)(*n + 1));
	(*io)[*n].tensor = t;
	(*io)[*n].layout = NULL;
	(*n)++;
}

/* A graph input named name with the fixture's shape. */
static int input_from(qp_graph *g, const char *name, const array *a)
{
	int t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, a->rank, a->dims, NULL);

	add_graph_io(g, 0, t);
	return t;
}

static int const_from(qp_graph *g, const char *name, const array *a)
{
	int t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, a->rank, a->dims, NULL);

	qp_tensor_alloc_data(&g->tensors[t], NULL);
	memcpy(g->tensors[t].data, a->data, sizeof(float) * (size_t)a->numel);
	return t;
}

static int output_tensor(qp_graph *g, const char *name)
{
	int t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, 0, NULL, NULL);

	add_graph_io(g, 1, t);
	return t;
}

static int close_to(float got, float want)
{
	return fabsf(got - want) <= 1e-5f + 1e-4f * fabsf(want);
}

/* Infers, runs with the given input arrays, compares output 0 with want. */
static void run_and_compare(qp_graph *g, const array *inputs, int n_inputs,
			    const array *want)
{
	qp_err err = {{0}};
	qp_interp *ip;
	const qp_value *y;
	int bad = 0;

	if (qp_graph_infer_shapes(g, &err)) {
		printf("# infer: %s\n", err.msg);
		CHECK(0);
		return;
	}
	ip = qp_interp_new(g, NULL, &err);
	if (!ip) {
		printf("# interp: %s\n", err.msg);
		CHECK(0);
		return;
	}
	for (int i = 0; i < n_inputs; i++)
		memcpy(qp_interp_input(ip, i)->data, inputs[i].data,
		       sizeof(float) * (size_t)inputs[i].numel);
	CHECK(qp_interp_run(ip, &err) == 0);
	y = qp_interp_output(ip, 0);
	CHECK(y->rank == want->rank);
	CHECK(memcmp(y->dims, want->dims, sizeof(int64_t) * (size_t)want->rank) == 0);
	CHECK(y->numel == want->numel);
	for (int64_t i = 0; y->numel == want->numel && i < y->numel; i++)
		if (!close_to(((float *)y->data)[i], want->data[i])) {
			if (bad++ < 3)
				printf("# element %lld: got %.9g, want %.9g\n", (long long)i,
				       ((float *)y->data)[i], want->data[i]);
		}
	CHECK(bad == 0);
	qp_interp_free(ip);
}

static void free_arrays(array *a, int n)
{
	for (int i = 0; i < n; i++)
		free(a[i].data);
}

/* Generic one-node test: inputs named by fixture (first n_dyn are graph
 * inputs, the rest constants); "" = omitted optional input. */
static qp_node *one_node(qp_graph *g, const char *op, int n_in,
			 const char *const *fixtures, int n_dyn, array *arrays)
{
	int ins[8], out, node;

	for (int i = 0; i < n_in; i++) {
		if (!fixtures[i][0]) {
			ins[i] = -1;
			continue;
		}
		arrays[i] = load(fixtures[i]);
		ins[i] = i < n_dyn ? input_from(g, fixtures[i], &arrays[i])
				   : const_from(g, fixtures[i], &arrays[i]);
	}
	out = output_tensor(g, "y");
	node = qp_graph_add_node(g, "n", op, n_in, ins, 1, &out, NULL);
	return &g->nodes[node];
}

static void check_op(const char *op, int n_in, const char *const *fixtures,
		     int n_dyn, const char *want_name,
		     void (*set_attrs)(qp_node *))
{
	qp_graph *g = qp_graph_new();
	array arrays[8] = {{0}}, want = load(want_name);
	qp_node *n = one_node(g, op, n_in, fixtures, n_dyn, arrays);

	if (set_attrs)
		set_attrs(n);
	run_and_compare(g, arrays, n_dyn, &want);
	free_arrays(arrays, n_in);
	free(want.data);
	qp_graph_free(g);
}

static void conv_attrs(qp_node *n)
{
	int64_t pads[] = {1, 0, 2, 1}, strides[] = {2, 1}, dil[] = {1, 2};

	qp_node_set_ints(n, "pads", 4, pads);
	qp_node_set_ints(n, "strides", 2, strides);
	qp_node_set_ints(n, "dilations", 2, dil);
	qp_node_set_int(n, "group", 2);
}

static void test_conv_groups_pads_strides_dilations(void)
{
	const char *f[] = {"conv_x", "conv_w", "conv_b"};

	check_op("Conv", 3, f, 1, "conv_y", conv_attrs);
}

static void dw_attrs(qp_node *n)
{
	int64_t pads[] = {1, 1, 1, 1}, strides[] = {2, 2};

	qp_node_set_ints(n, "pads", 4, pads);
	qp_node_set_ints(n, "strides", 2, strides);
	qp_node_set_int(n, "group", 3);
}

static void test_conv_depthwise_no_bias(void)
{
	const char *f[] = {"dw_x", "dw_w"};

	check_op("Conv", 2, f, 1, "dw_y", dw_attrs);
}

static void conv1d_attrs(qp_node *n)
{
	int64_t pads[] = {1, 1}, strides[] = {2}, dil[] = {2};

	qp_node_set_ints(n, "pads", 2, pads);
	qp_node_set_ints(n, "strides", 1, strides);
	qp_node_set_ints(n, "dilations", 1, dil);
}

static void test_conv_1d(void)
{
	const char *f[] = {"conv1d_x", "conv1d_w", "conv1d_b"};

	check_op("Conv", 3, f, 1, "conv1d_y", conv1d_attrs);
}

static void test_conv_pointwise(void)
{
	const char *f[] = {"pw_x", "pw_w", "pw_b"};

	check_op("Conv", 3, f, 1, "pw_y", NULL);
}

static void pool_attrs(qp_node *n)
{
	int64_t k[] = {3, 3}, pads[] = {1, 1, 1, 1}, strides[] = {2, 2};

	qp_node_set_ints(n, "kernel_shape", 2, k);
	qp_node_set_ints(n, "pads", 4, pads);
	qp_node_set_ints(n, "strides", 2, strides);
	qp_node_set_int(n, "ceil_mode", 1);
}

static void pool_attrs_include_pad(qp_node *n)
{
	pool_attrs(n);
	qp_node_set_int(n, "count_include_pad", 1);
}

static void maxpool_dil_attrs(qp_node *n)
{
	int64_t k[] = {2, 2}, dil[] = {2, 2};

	qp_node_set_ints(n, "kernel_shape", 2, k);
	qp_node_set_ints(n, "dilations", 2, dil);
}

static void test_maxpool_ceil(void)
{
	const char *f[] = {"pool_x"};

	check_op("MaxPool", 1, f, 1, "maxpool_ceil_y", pool_attrs);
}

static void test_maxpool_dilations(void)
{
	const char *f[] = {"pool_x"};

	check_op("MaxPool", 1, f, 1, "maxpool_dil_y", maxpool_dil_attrs);
}

static void test_avgpool_ceil_count_include_pad(void)
{
	const char *f[] = {"pool_x"};

	check_op("AveragePool", 1, f, 1, "avgpool_ceil_pad_y", pool_attrs_include_pad);
}

static void test_avgpool_ceil_exclude_pad(void)
{
	const char *f[] = {"pool_x"};

	check_op("AveragePool", 1, f, 1, "avgpool_ceil_nopad_y", pool_attrs);
}

static void test_global_average_pool(void)
{
	const char *f[] = {"pool_x"};

	check_op("GlobalAveragePool", 1, f, 1, "gap_y", NULL);
}

static void gemm_attrs(qp_node *n)
{
	qp_node_set_int(n, "transB", 1);
	qp_node_set_float(n, "alpha", 0.5f);
	qp_node_set_float(n, "beta", 2.0f);
}

static void test_gemm_transb_alpha_beta(void)
{
	const char *f[] = {"gemm_a", "gemm_b", "gemm_c"};

	check_op("Gemm", 3, f, 1, "gemm_y", gemm_attrs);
}

static void gemm_ta_attrs(qp_node *n)
{
	qp_node_set_int(n, "transA", 1);
}

static void test_gemm_transa_column_bias(void)
{
	const char *f[] = {"gemmta_a", "gemmta_b", "gemmta_c"};

	check_op("Gemm", 3, f, 1, "gemmta_y", gemm_ta_attrs);
}

static void test_matmul_batched_broadcast(void)
{
	const char *f[] = {"mm_a", "mm_b"};

	check_op("MatMul", 2, f, 2, "mm_y", NULL);
}

static void test_matmul_1d(void)
{
	const char *f[] = {"mm1_a", "mm1_b"};

	check_op("MatMul", 2, f, 2, "mm1_y", NULL);
}

static void test_add_broadcast(void)
{
	const char *f[] = {"add_a", "add_b"};

	check_op("Add", 2, f, 2, "add_y", NULL);
}

static void test_mul_broadcast(void)
{
	const char *f[] = {"mul_a", "mul_b"};

	check_op("Mul", 2, f, 2, "mul_y", NULL);
}

static void softmax_attrs(qp_node *n)
{
	qp_node_set_int(n, "axis", 1);
}

static void test_softmax_axis1(void)
{
	const char *f[] = {"softmax_x"};

	check_op("Softmax", 1, f, 1, "softmax_y", softmax_attrs);
}

static void bn_attrs(qp_node *n)
{
	qp_node_set_float(n, "epsilon", 1e-3f);
}

static void test_batchnorm(void)
{
	const char *f[] = {"bn_x", "bn_scale", "bn_b", "bn_mean", "bn_var"};

	check_op("BatchNormalization", 5, f, 1, "bn_y", bn_attrs);
}

static void tr_attrs(qp_node *n)
{
	int64_t perm[] = {0, 2, 3, 1};

	qp_node_set_ints(n, "perm", 4, perm);
}

static void test_transpose(void)
{
	const char *f[] = {"tr_x"};

	check_op("Transpose", 1, f, 1, "tr_y", tr_attrs);
}

/* ---- hand-calculated ------------------------------------------------------ */

/* Reshape [2,3,4] with shape [0,-1]: 0 copies dim 0, -1 takes the rest. */
static void test_reshape_zero_and_minus_one(void)
{
	qp_graph *g = qp_graph_new();
	int64_t xd[] = {2, 3, 4}, sd[] = {2};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 3, xd, NULL);
	int s = qp_graph_add_tensor(g, "s", QP_DT_INT64, 1, sd, NULL);
	int y = output_tensor(g, "y"), ins[2] = {x, s};
	array in = {3, {2, 3, 4}, 24, NULL}, want = {2, {2, 12}, 24, NULL};

	add_graph_io(g, 0, x);
	qp_tensor_alloc_data(&g->tensors[s], NULL);
	((int64_t *)g->tensors[s].data)[0] = 0;
	((int64_t *)g->tensors[s].data)[1] = -1;
	qp_graph_add_node(g, "n", "Reshape", 2, ins, 1, &y, NULL);
	in.data = malloc(24 * sizeof(float));
	for (int i = 0; i < 24; i++)
		in.data[i] = (float)i;
	want.data = in.data;
	run_and_compare(g, &in, 1, &want);
	free(in.data);
	qp_graph_free(g);
}

/* Flatten axis 2 of [2,3,4,5] is [6,20]; Relu clamps negatives. */
static void test_flatten_relu(void)
{
	qp_graph *g = qp_graph_new();
	int64_t xd[] = {2, 3, 4, 5};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 4, xd, NULL);
	int f = qp_graph_add_tensor(g, "f", QP_DT_FLOAT32, 0, NULL, NULL);
	int y = output_tensor(g, "y");
	int n;
	array in = {4, {2, 3, 4, 5}, 120, NULL}, want = {2, {6, 20}, 120, NULL};

	add_graph_io(g, 0, x);
	n = qp_graph_add_node(g, "flat", "Flatten", 1, &x, 1, &f, NULL);
	qp_node_set_int(&g->nodes[n], "axis", 2);
	qp_graph_add_node(g, "relu", "Relu", 1, &f, 1, &y, NULL);
	in.data = malloc(120 * sizeof(float));
	want.data = malloc(120 * sizeof(float));
	for (int i = 0; i < 120; i++) {
		in.data[i] = (float)(i - 60) * 0.5f;
		want.data[i] = in.data[i] > 0 ? in.data[i] : 0;
	}
	run_and_compare(g, &in, 1, &want);
	free(in.data);
	free(want.data);
	qp_graph_free(g);
}

/* Fake quantization: scale 0.5, zero point 0, int8: x -> 0.5 *
 * clamp(round_half_away(x / 0.5), -128, 127).
 *   0.3 -> 0.6 -> 1 -> 0.5;  0.25 -> 0.5 -> 1 (tie away) -> 0.5;
 *   0.74 -> 1.48 -> 1 -> 0.5; 100 -> 200 -> 127 -> 63.5;  -1 -> relu 0. */
static void test_fake_quant_relu_output(void)
{
	qp_graph *g = qp_graph_new();
	int64_t xd[] = {5};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 1, xd, NULL);
	int y = output_tensor(g, "y");
	float in[] = {0.3f, 0.25f, 0.74f, 100.0f, -1.0f};
	float want[] = {0.5f, 0.5f, 0.5f, 63.5f, 0.0f};
	qp_interp_opts opts = {.fake_quant = 1};
	qp_err err = {{0}};
	qp_interp *ip;
	qp_quant *q;

	add_graph_io(g, 0, x);
	qp_graph_add_node(g, "relu", "Relu", 1, &x, 1, &y, NULL);
	CHECK(qp_graph_infer_shapes(g, &err) == 0);
	q = qp_quant_new(1);
	q->scheme = QP_Q_SYMMETRIC;
	q->bits = 8;
	q->is_signed = 1;
	q->axis = -1;
	q->scale[0] = 0.5f;
	q->zero_point[0] = 0;
	g->tensors[y].quant = q;
	ip = qp_interp_new(g, &opts, &err);
	CHECK(ip != NULL);
	if (ip) {
		memcpy(qp_interp_input(ip, 0)->data, in, sizeof in);
		CHECK(qp_interp_run(ip, &err) == 0);
		for (int i = 0; i < 5; i++)
			CHECK(((float *)qp_interp_output(ip, 0)->data)[i] == want[i]);
	}
	qp_interp_free(ip);
	qp_graph_free(g);
}

/* An int8 weight with per-channel quant under a float Gemm is dequantized:
 * B = [[1,2],[3,4]] (transB: rows are output channels), scales 0.5, 0.25:
 * real B = [[0.5,1],[0.75,1]]; A = [[1,1]] -> y = [[1.5, 1.75]]. */
static void test_quantized_weight_dequantized(void)
{
	qp_graph *g = qp_graph_new();
	int64_t ad[] = {1, 2}, bd[] = {2, 2};
	int a = qp_graph_add_tensor(g, "a", QP_DT_FLOAT32, 2, ad, NULL);
	int b = qp_graph_add_tensor(g, "b", QP_DT_INT8, 2, bd, NULL);
	int y = output_tensor(g, "y"), ins[2] = {a, b}, n;
	array in = {2, {1, 2}, 2, (float[]){1, 1}};
	array want = {2, {1, 2}, 2, (float[]){1.5f, 1.75f}};
	qp_quant *q = qp_quant_new(2);

	add_graph_io(g, 0, a);
	qp_tensor_alloc_data(&g->tensors[b], NULL);
	memcpy(g->tensors[b].data, (int8_t[]){1, 2, 3, 4}, 4);
	q->scheme = QP_Q_SYMMETRIC;
	q->bits = 8;
	q->is_signed = 1;
	q->axis = 0;
	q->scale[0] = 0.5f;
	q->scale[1] = 0.25f;
	q->zero_point[0] = q->zero_point[1] = 0;
	g->tensors[b].quant = q;
	n = qp_graph_add_node(g, "fc", "Gemm", 2, ins, 1, &y, NULL);
	qp_node_set_int(&g->nodes[n], "transB", 1);
	run_and_compare(g, &in, 1, &want);
	qp_graph_free(g);
}

/* ---- inference errors ------------------------------------------------------ */

/* Builds x -> op(w?) -> y and returns the inference error message. */
static void infer_error(const char *op, int rx, const int64_t *xd, int rw,
			const int64_t *wd, void (*set_attrs)(qp_node *),
			const char *want)
{
	qp_graph *g = qp_graph_new();
	qp_err err = {{0}};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, rx, xd, NULL);
	int y = output_tensor(g, "y"), ins[2] = {x, -1}, n;

	add_graph_io(g, 0, x);
	if (rw >= 0) {
		ins[1] = qp_graph_add_tensor(g, "w", rw == 1 && !strcmp(op, "Reshape")
					     ? QP_DT_INT64 : QP_DT_FLOAT32, rw, wd, NULL);
		qp_tensor_alloc_data(&g->tensors[ins[1]], NULL);
		if (!strcmp(op, "Reshape")) {
			((int64_t *)g->tensors[ins[1]].data)[0] = 4;
			((int64_t *)g->tensors[ins[1]].data)[1] = 2;
		}
	}
	n = qp_graph_add_node(g, "n", op, rw >= 0 ? 2 : 1, ins, 1, &y, NULL);
	if (set_attrs)
		set_attrs(&g->nodes[n]);
	CHECK(qp_graph_infer_shapes(g, &err) == -1);
	CHECK_STR(err.msg, want);
	qp_graph_free(g);
}

static void group2(qp_node *n)
{
	qp_node_set_int(n, "group", 2);
}

static void group3(qp_node *n)
{
	qp_node_set_int(n, "group", 3);
}

static void test_infer_errors(void)
{
	int64_t x4[] = {1, 4, 5, 5}, w_bad[] = {6, 3, 3, 3}, x_small[] = {1, 1, 2, 2};
	int64_t w3[] = {1, 1, 3, 3}, x23[] = {2, 3}, s2[] = {2}, b45[] = {4, 5};

	infer_error("Conv", 4, x4, 4, w_bad, group2,
		    "input 'x' has 4 channels, weight 'w' [6,3,3,3] expects 6 (group 2) (node 'n', op 'Conv')");
	infer_error("Conv", 4, x4, 4, w_bad, group3,
		    "group 3 does not divide the input channels 4 and output channels 6 (node 'n', op 'Conv')");
	infer_error("Conv", 4, x_small, 4, w3, NULL,
		    "kernel extent 3 is larger than the padded input 2 along spatial axis 0 (node 'n', op 'Conv')");
	infer_error("Conv", 2, x23, 4, w3, NULL,
		    "input 'x' has rank 2 (shape [2,3]), expected 3 to 4 (node 'n', op 'Conv')");
	infer_error("Reshape", 2, x23, 1, s2, NULL,
		    "cannot reshape input 'x' [2,3] (6 elements) to [4,2] (8 elements) (node 'n', op 'Reshape')");
	infer_error("Gemm", 2, x23, 2, b45, NULL,
		    "inner dimensions differ: A 'x' [2,3] (transA 0), B 'w' [4,5] (transB 0) (node 'n', op 'Gemm')");
	infer_error("Add", 2, x23, 2, b45, NULL,
		    "shapes [2,3] ('x') and [4,5] ('w') do not broadcast (node 'n', op 'Add')");
	infer_error("MaxPool", 4, x4, -1, NULL, NULL,
		    "attribute 'kernel_shape' is missing (node 'n', op 'MaxPool')");
	infer_error("Frobnicate", 2, x23, -1, NULL, NULL,
		    "unsupported op (node 'n', op 'Frobnicate')");
}

/* The interpreter re-checks stored shapes against the ops. */
static void test_interp_rejects_wrong_stored_shape(void)
{
	qp_graph *g = qp_graph_new();
	int64_t xd[] = {2, 3}, bad[] = {3, 2};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 2, xd, NULL);
	int y = output_tensor(g, "y");
	qp_err err = {{0}};

	add_graph_io(g, 0, x);
	qp_graph_add_node(g, "r", "Relu", 1, &x, 1, &y, NULL);
	qp_tensor_reshape(&g->tensors[y], QP_DT_FLOAT32, 2, bad);
	CHECK(qp_interp_new(g, NULL, &err) == NULL);
	CHECK_STR(err.msg, "tensor 'y' is float32 [3,2] in the IR, but the op gives float32 [2,3] (node 'r', op 'Relu')");
	qp_graph_free(g);
}

/* ---- layouts ----------------------------------------------------------------- */

static void test_layout_nhwc(void)
{
	/* canonical sample (C=2, H=2, W=3); user (H, W, C). */
	int64_t dims[] = {2, 2, 3}, user[3], bdims[] = {1, 2, 2, 3}, buser[4];
	float src[12], canon[12], back[12];

	for (int h = 0; h < 2; h++)
		for (int w = 0; w < 3; w++)
			for (int c = 0; c < 2; c++)
				src[(h * 3 + w) * 2 + c] = (float)(100 * c + 10 * h + w);
	qp_layout_to_canonical("NHWC", 3, dims, src, canon);
	for (int c = 0; c < 2; c++)
		for (int h = 0; h < 2; h++)
			for (int w = 0; w < 3; w++)
				CHECK(canon[(c * 2 + h) * 3 + w] == (float)(100 * c + 10 * h + w));
	qp_layout_from_canonical("NHWC", 3, dims, canon, back);
	CHECK(memcmp(src, back, sizeof src) == 0);
	qp_layout_to_canonical("NHWC", 4, bdims, src, back);
	CHECK(memcmp(canon, back, sizeof canon) == 0);
	qp_layout_to_canonical(NULL, 3, dims, src, back);
	CHECK(memcmp(src, back, sizeof src) == 0);
	qp_layout_user_dims("NHWC", 3, dims, user);
	CHECK(user[0] == 2 && user[1] == 3 && user[2] == 2);
	qp_layout_user_dims("NHWC", 4, bdims, buser);
	CHECK(buser[0] == 1 && buser[1] == 2 && buser[2] == 3 && buser[3] == 2);
}

int main(void)
{
	TEST(test_conv_groups_pads_strides_dilations);
	TEST(test_conv_depthwise_no_bias);
	TEST(test_conv_1d);
	TEST(test_conv_pointwise);
	TEST(test_maxpool_ceil);
	TEST(test_maxpool_dilations);
	TEST(test_avgpool_ceil_count_include_pad);
	TEST(test_avgpool_ceil_exclude_pad);
	TEST(test_global_average_pool);
	TEST(test_gemm_transb_alpha_beta);
	TEST(test_gemm_transa_column_bias);
	TEST(test_matmul_batched_broadcast);
	TEST(test_matmul_1d);
	TEST(test_add_broadcast);
	TEST(test_mul_broadcast);
	TEST(test_softmax_axis1);
	TEST(test_batchnorm);
	TEST(test_transpose);
	TEST(test_reshape_zero_and_minus_one);
	TEST(test_flatten_relu);
	TEST(test_fake_quant_relu_output);
	TEST(test_quantized_weight_dequantized);
	TEST(test_infer_errors);
	TEST(test_interp_rejects_wrong_stored_shape);
	TEST(test_layout_nhwc);
	return CHECK_DONE();
}
