/* The float ops of lib/ops/ops_float.c against independent references.
 *
 * Every directory under tests/fixtures/math/ is one single-node case made
 * by tests/fixtures/gen/make_math_fixtures.py: ONNX's own backend node
 * tests (expected outputs from ONNX's numpy reference) translated to the IR
 * form, plus edge cases computed with numpy/PyTorch.  Each case builds the
 * node, infers shapes, runs it through qp_interp and compares every output
 * (dtype, shape, values: integers exactly, floats with the case's rtol/atol
 * as ONNX's runner does; inf and nan must match). */
#include "case_runner.h"

/* Errors name the node and op, and bad attribute values are refused. */
static void test_errors_name_the_node(void)
{
	qp_graph *g = qp_graph_new();
	int64_t d[] = {2, 3};
	int x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 2, d, NULL);
	int lo = qp_graph_add_tensor(g, "lo", QP_DT_INT64, 0, NULL, NULL);
	int y = qp_graph_add_tensor(g, "y", QP_DT_FLOAT32, 0, NULL, NULL);
	int ins[] = {x, lo};
	qp_err err = {{0}};
	int node;

	qp_tensor_alloc_data(&g->tensors[lo], NULL);
	add_io(g, 0, x);
	add_io(g, 1, y);
	node = qp_graph_add_node(g, "clip1", "Clip", 2, ins, 1, &y, NULL);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK(strstr(err.msg, "(node 'clip1', op 'Clip')") != NULL);
	CHECK(strstr(err.msg, "int64") != NULL);
	/* Cast to an unknown dtype. */
	free(g->nodes[node].op);
	g->nodes[node].op = strdup("Cast");
	g->nodes[node].n_inputs = 1;
	qp_node_set_string(&g->nodes[node], "to", "float16");
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK_STR(err.msg, "cast to 'float16' is not supported (node 'clip1', op 'Cast')");
	/* ArgMax select_last_index 2. */
	free(g->nodes[node].op);
	g->nodes[node].op = strdup("ArgMax");
	qp_node_set_int(&g->nodes[node], "select_last_index", 2);
	CHECK(qp_graph_infer_shapes(g, &err) != 0);
	CHECK(strstr(err.msg, "select_last_index 2") != NULL);
	qp_graph_free(g);
}

int main(void)
{
	run_all_cases("tests/fixtures/math");
	TEST(test_errors_name_the_node);
	return CHECK_DONE();
}
