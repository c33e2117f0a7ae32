/* The data-movement ops of lib/ops/ops_tensor.c against independent references.
 *
 * Every directory under tests/fixtures/tensor_ops/ is one single-node case
 * made by tests/fixtures/gen/make_tensor_op_fixtures.py with numpy and
 * PyTorch (Resize against torch.nn.functional.interpolate, Pad against
 * numpy.pad / F.pad, Slice against numpy slicing, ...).  Each case builds
 * the node in the IR form, infers shapes, runs it through qp_interp (so
 * multi-output nodes and int64/bool/uint8 tensors go the interpreter's
 * way) and compares every output: dtype, shape, values (integers exactly,
 * floats within the case's rtol/atol).  The case runner is
 * case_runner.h; the ONNX node tests run end to end in
 * tests/conformance/.
 */
#include "case_runner.h"

/* A one-node graph x -> op -> y with x of the given shape; returns g. */
static qp_graph *one_node(const char *op, qp_dtype dt, int rank, const int64_t *dims,
			  int n_out, int *node)
{
	qp_graph *g = qp_graph_new();
	int x = qp_graph_add_tensor(g, "x", dt, rank, dims, NULL);
	int y[4];

	add_io(g, 0, x);
	for (int i = 0; i < n_out; i++) {
		char name[8];

		snprintf(name, sizeof name, "y%d", i);
		y[i] = qp_graph_add_tensor(g, name, dt, 0, NULL, NULL);
		add_io(g, 1, y[i]);
	}
	*node = qp_graph_add_node(g, "t1", op, 1, &x, n_out, y, NULL);
	return g;
}

/* Slice ends of INT64_MAX / INT64_MIN (what ONNX exporters write for "to
 * the end") clamp without overflow. */
static void test_slice_int64_limits(void)
{
	int64_t d[] = {5}, starts[] = {1}, ends[] = {INT64_MAX}, axes[] = {0}, steps[] = {2};
	float xv[] = {0, 1, 2, 3, 4};
	qp_err err = {{0}};
	qp_interp *ip;
	int node;
	qp_graph *g = one_node("Slice", QP_DT_FLOAT32, 1, d, 1, &node);
	qp_node *n = &g->nodes[node];

	qp_node_set_ints(n, "starts", 1, starts);
	qp_node_set_ints(n, "ends", 1, ends);
	qp_node_set_ints(n, "axes", 1, axes);
	qp_node_set_ints(n, "steps", 1, steps);
	CHECK(qp_graph_infer_shapes(g, &err) == 0);
	CHECK(g->tensors[1].rank == 1 && g->tensors[1].dims[0] == 2);
	ip = qp_interp_new(g, NULL, &err);
	CHECK(ip != NULL);
	if (ip) {
		const float *y;

		memcpy(qp_interp_input(ip, 0)->data, xv, sizeof xv);
		CHECK(qp_interp_run(ip, &err) == 0);
		y = qp_interp_output(ip, 0)->data;
		CHECK(y[0] == 1 && y[1] == 3);
		qp_interp_free(ip);
	}
	/* Backwards from the end to INT64_MIN: the whole axis reversed. */
	starts[0] = -1;
	ends[0] = INT64_MIN;
	steps[0] = -1;
	qp_node_set_ints(&g->nodes[node], "starts", 1, starts);
	qp_node_set_ints(&g->nodes[node], "ends", 1, ends);
	qp_node_set_ints(&g->nodes[node], "steps", 1, steps);
	CHECK(qp_graph_infer_shapes(g, &err) == 0);
	CHECK(g->tensors[1].dims[0] == 5);
	steps[0] = INT64_MIN;
	qp_node_set_ints(&g->nodes[node], "steps", 1, steps);
	CHECK(qp_graph_infer_shapes(g, &err) == 0);
	CHECK(g->tensors[1].dims[0] == 1);
	steps[0] = 0;
	qp_node_set_ints(&g->nodes[node], "steps", 1, steps);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "step 0 on axis 0 (node 't1', op 'Slice')");
	qp_graph_free(g);
}

/* Negative steps clamp the start to [0, dim-1] (ONNX spec, onnxruntime),
 * unlike numpy, so a start before the axis still takes element 0.
 * Expected values by hand: x = [0 1 2 3 4]. */
static void test_slice_negative_step_start_clamp(void)
{
	static const struct {
		int64_t start, end, step, len, first;
	} cases[] = {
		{-6, -7, -1, 1, 0},                /* start -1 -> 0, end -2 -> -1 */
		{-100, -200, -1, 1, 0},
		{INT64_MIN, INT64_MIN, -2, 1, 0},
		{3, INT64_MIN, -2, 2, 3},          /* 3, 1 */
		{-1, -6, -3, 2, 4},                /* 4, 1 */
		{2, 2, -1, 0, 0},
	};
	int64_t d[] = {5}, axes[] = {0};
	float xv[] = {0, 1, 2, 3, 4};
	qp_err err = {{0}};
	int node;
	qp_graph *g = one_node("Slice", QP_DT_FLOAT32, 1, d, 1, &node);

	qp_node_set_ints(&g->nodes[node], "axes", 1, axes);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		qp_interp *ip;

		qp_node_set_ints(&g->nodes[node], "starts", 1, &cases[i].start);
		qp_node_set_ints(&g->nodes[node], "ends", 1, &cases[i].end);
		qp_node_set_ints(&g->nodes[node], "steps", 1, &cases[i].step);
		CHECK(qp_graph_infer_shapes(g, &err) == 0);
		CHECK(g->tensors[1].dims[0] == cases[i].len);
		if (!cases[i].len)
			continue;
		ip = qp_interp_new(g, NULL, &err);
		CHECK(ip != NULL);
		if (!ip)
			continue;
		memcpy(qp_interp_input(ip, 0)->data, xv, sizeof xv);
		CHECK(qp_interp_run(ip, &err) == 0);
		CHECK(((const float *)qp_interp_output(ip, 0)->data)[0] == (float)cases[i].first);
		if (cases[i].len > 1)
			CHECK(((const float *)qp_interp_output(ip, 0)->data)[1] ==
			      (float)(cases[i].first + cases[i].step));
		qp_interp_free(ip);
	}
	qp_graph_free(g);

	/* An axis listed twice is refused. */
	{
		int64_t d2[] = {2, 3}, two[] = {1, 1}, ax2[] = {1, -1};

		g = one_node("Slice", QP_DT_FLOAT32, 2, d2, 1, &node);
		qp_node_set_ints(&g->nodes[node], "starts", 2, two);
		qp_node_set_ints(&g->nodes[node], "ends", 2, two);
		qp_node_set_ints(&g->nodes[node], "steps", 2, two);
		qp_node_set_ints(&g->nodes[node], "axes", 2, ax2);
		CHECK(qp_graph_infer_shapes(g, &err) != 0);
		CHECK_STR(err.msg, "axis 1 is given twice (node 't1', op 'Slice')");
		qp_graph_free(g);
	}
}

/* Bad attributes are refused at shape inference with the node named. */
static void test_errors_name_the_node(void)
{
	int64_t d[] = {1, 2, 3, 4}, split[] = {1, 2}, pads[] = {0, 0, 3, 0, 0, 0, 0, 0};
	qp_err err = {{0}};
	int node;
	qp_graph *g = one_node("Split", QP_DT_FLOAT32, 4, d, 2, &node);

	qp_node_set_int(&g->nodes[node], "axis", 3);
	qp_node_set_ints(&g->nodes[node], "split", 2, split);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "split sizes add up to 3, the axis has 4 (node 't1', op 'Split')");
	qp_node_set_int(&g->nodes[node], "axis", 4);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK(strstr(err.msg, "axis") && strstr(err.msg, "(node 't1', op 'Split')"));
	qp_graph_free(g);

	g = one_node("Pad", QP_DT_FLOAT32, 4, d, 1, &node);
	qp_node_set_ints(&g->nodes[node], "pads", 8, pads);
	qp_node_set_string(&g->nodes[node], "mode", "reflect");
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK(strstr(err.msg, "reflect padding") && strstr(err.msg, "(node 't1', op 'Pad')"));
	qp_node_set_string(&g->nodes[node], "mode", "wrap");
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "pad mode 'wrap' is not supported (constant, reflect, edge) (node 't1', op 'Pad')");
	/* Found by fuzzing: pads near INT64_MAX overflowed the output length. */
	pads[0] = pads[4] = INT64_C(1) << 62;
	qp_node_set_string(&g->nodes[node], "mode", "constant");
	qp_node_set_ints(&g->nodes[node], "pads", 8, pads);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "pads of axis 0 overflow its length (node 't1', op 'Pad')");
	qp_graph_free(g);

	g = one_node("Resize", QP_DT_FLOAT32, 4, d, 1, &node);
	qp_node_set_ints(&g->nodes[node], "sizes", 4, d);
	qp_node_set_string(&g->nodes[node], "mode", "bicubic");
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "resize mode 'bicubic' is not supported (nearest, linear, cubic) (node 't1', op 'Resize')");
	qp_graph_free(g);

	g = one_node("DepthToSpace", QP_DT_FLOAT32, 4, d, 1, &node);
	qp_node_set_int(&g->nodes[node], "blocksize", 2);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "2 channels are not a multiple of blocksize^2 = 4 (node 't1', op 'DepthToSpace')");
	qp_graph_free(g);
}

/* An index out of range is data, found only when the kernel runs. */
static void test_gather_index_out_of_range(void)
{
	qp_graph *g = qp_graph_new();
	int64_t d[] = {3}, id[] = {2};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 1, d, NULL);
	int ind = qp_graph_add_tensor(g, "i", QP_DT_INT64, 1, id, NULL);
	int y = qp_graph_add_tensor(g, "y", QP_DT_FLOAT32, 0, NULL, NULL);
	int ins[] = {x, ind};
	qp_err err = {{0}};
	qp_interp *ip;

	add_io(g, 0, x);
	add_io(g, 0, ind);
	add_io(g, 1, y);
	qp_graph_add_node(g, "g1", "Gather", 2, ins, 1, &y, NULL);
	CHECK(qp_graph_infer_shapes(g, &err) == 0);
	ip = qp_interp_new(g, NULL, &err);
	CHECK(ip != NULL);
	if (ip) {
		int64_t *iv = qp_interp_input(ip, 1)->data;

		iv[0] = -3;
		iv[1] = 3;
		CHECK(qp_interp_run(ip, &err) != 0);
		CHECK_STR(err.msg, "index 3 is out of range for an axis of 3 (node 'g1', op 'Gather')");
		qp_interp_free(ip);
	}
	qp_graph_free(g);
}

int main(void)
{
	run_all_cases("tests/fixtures/tensor_ops");
	TEST(test_slice_int64_limits);
	TEST(test_slice_negative_step_start_clamp);
	TEST(test_errors_name_the_node);
	TEST(test_gather_index_out_of_range);
	return CHECK_DONE();
}
