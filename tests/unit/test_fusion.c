/* Unit tests of the decisions quantize and lower share: which activation
 * fuses into the op before it (qp_tpc_fused_relu, lib/quant/tpc.c: a Relu or
 * a Clip with constant scalar bounds, under a two-step fusing pattern) and
 * which Add/Sub/Mul constant can be folded (qp_const_affine_of,
 * lib/quant/constop.c).  Each graph is built by hand; the expected answer is
 * the rule in docs/tpc.md section 4 and constop.h. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "constop.h"
#include "tpc.h"

static const char TPC[] =
	"{\"format\": \"qpipe-tpc\", \"version\": 1, \"name\": \"t\","
	" \"default_config\": {"
	"  \"weights\": {\"enabled\": true, \"n_bits\": 8, \"method\": \"symmetric\", \"per_channel\": true},"
	"  \"activation\": {\"enabled\": true, \"n_bits\": 8, \"method\": \"power_of_two\", \"signedness\": \"auto\"}},"
	" \"operator_sets\": [{\"name\": \"conv\", \"ops\": [\"Conv\"]},"
	"  {\"name\": \"relu\", \"ops\": [\"Relu\"]}, {\"name\": \"relu6\", \"ops\": [\"Clip\"]},"
	"  {\"name\": \"mul\", \"ops\": [\"Mul\", \"Add\", \"Sub\"]}],"
	" \"fusing_patterns\": [[\"conv\", [\"relu\", \"relu6\"]], [\"mul\", \"relu\"]]}";

static int tensor(qp_graph *g, const char *name, int rank, const int64_t *dims, int constant)
{
	int t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, rank, dims, NULL);

	if (t >= 0 && constant && qp_tensor_alloc_data(&g->tensors[t], NULL))
		return -1;
	return t;
}

/* x -> Conv (node 0) -> c -> Clip(c, lo, hi) (node 1) -> y, lo a constant
 * or (lo_act) an activation; extra_reader adds a Relu that also reads c. */
static qp_graph *conv_clip(int lo_act, int extra_reader)
{
	qp_graph *g = qp_graph_new();
	int64_t xd[4] = {1, 1, 2, 2}, wd[4] = {1, 1, 1, 1}, one[1] = {1};
	int x = tensor(g, "x", 4, xd, 0), w = tensor(g, "w", 4, wd, 1);
	int c = tensor(g, "c", 4, xd, 0), y = tensor(g, "y", 4, xd, 0);
	int lo = lo_act ? tensor(g, "lo", 1, one, 0) : tensor(g, "lo", 1, one, 1);
	int hi = tensor(g, "hi", 1, one, 1);
	int in[3] = {x, w, -1};

	qp_graph_add_node(g, "conv", "Conv", 2, in, 1, &c, NULL);
	in[0] = c, in[1] = lo, in[2] = hi;
	qp_graph_add_node(g, "clip", "Clip", 3, in, 1, &y, NULL);
	if (extra_reader) {
		int z = tensor(g, "z", 4, xd, 0);

		qp_graph_add_node(g, "relu", "Relu", 1, &c, 1, &z, NULL);
	}
	return g;
}

static void test_fused_clip(void)
{
	qp_tpc *t = NULL;
	qp_err err = {{0}};
	qp_graph *g;

	CHECK(qp_tpc_parse(TPC, strlen(TPC), &t, &err) == 0);
	if (!t)
		return;
	/* Conv -> Clip with constant bounds, pattern conv -> relu6: node 1. */
	g = conv_clip(0, 0);
	CHECK(qp_tpc_fused_relu(t, g, 0) == 1);
	CHECK(qp_tpc_fused_relu(t, g, 1) == -1);   /* a Clip fuses nothing */
	CHECK(qp_tpc_fused_relu(NULL, g, 0) == -1);
	qp_graph_free(g);
	/* A bound computed at run time is no constant clamp. */
	g = conv_clip(1, 0);
	CHECK(qp_tpc_fused_relu(t, g, 0) == -1);
	qp_graph_free(g);
	/* The Conv's output read twice: nothing fuses. */
	g = conv_clip(0, 1);
	CHECK(qp_tpc_fused_relu(t, g, 0) == -1);
	qp_graph_free(g);
	qp_tpc_free(t);
}

static void test_fused_clip_needs_pattern(void)
{
	/* mul -> relu only: a Mul followed by a Clip does not fuse. */
	qp_tpc *t = NULL;
	qp_err err = {{0}};
	qp_graph *g = qp_graph_new();
	int64_t d[2] = {1, 4}, one[1] = {1};
	int x = tensor(g, "x", 2, d, 0), k = tensor(g, "k", 1, one, 1);
	int m = tensor(g, "m", 2, d, 0), y = tensor(g, "y", 2, d, 0);
	int lo = tensor(g, "lo", 1, one, 1), hi = tensor(g, "hi", 1, one, 1);
	int in[3] = {x, k, -1};

	qp_graph_add_node(g, "mul", "Mul", 2, in, 1, &m, NULL);
	in[0] = m, in[1] = lo, in[2] = hi;
	qp_graph_add_node(g, "clip", "Clip", 3, in, 1, &y, NULL);
	CHECK(qp_tpc_parse(TPC, strlen(TPC), &t, &err) == 0);
	CHECK(t && qp_tpc_fused_relu(t, g, 0) == -1);
	qp_tpc_free(t);
	qp_graph_free(g);
}

/* Op(a, b) with a, b of the given dims, constant where ca/cb; the output
 * has dims yd.  Returns qp_const_affine_of's answer. */
static int affine(const char *op, int ra, const int64_t *da, int ca, int rb,
		  const int64_t *db, int cb, int ry, const int64_t *dy, qp_const_affine *out)
{
	qp_graph *g = qp_graph_new();
	int a = tensor(g, "a", ra, da, ca), b = tensor(g, "b", rb, db, cb);
	int y = tensor(g, "y", ry, dy, 0), in[2] = {a, b}, r;

	qp_graph_add_node(g, "n", op, 2, in, 1, &y, NULL);
	r = qp_const_affine_of(g, &g->nodes[0], out);
	qp_graph_free(g);
	return r;
}

static void test_const_affine(void)
{
	int64_t x[4] = {1, 3, 4, 5}, ch[3] = {3, 1, 1}, sc[1] = {1}, two[3] = {3, 4, 1};
	int64_t row[1] = {5}, big[4] = {2, 3, 4, 5};
	qp_const_affine ca = {-1, -1, -1};

	/* x * k[C, 1, 1]: axis 1 (right-aligned), x is input 0. */
	CHECK(affine("Mul", 4, x, 0, 3, ch, 1, 4, x, &ca) == 1);
	CHECK(ca.x == 0 && ca.c == 1 && ca.axis == 1);
	/* k - x, k one value: x is input 1, no axis. */
	CHECK(affine("Sub", 1, sc, 1, 4, x, 0, 4, x, &ca) == 1);
	CHECK(ca.x == 1 && ca.c == 0 && ca.axis == -1);
	/* x + k[W]: the last axis. */
	CHECK(affine("Add", 4, x, 0, 1, row, 1, 4, x, &ca) == 1 && ca.axis == 3);
	/* varying along two axes, an activation times an activation, a
	 * constant that broadcasts x to a larger shape, Div: no. */
	CHECK(affine("Mul", 4, x, 0, 3, two, 1, 4, x, NULL) == 0);
	CHECK(affine("Mul", 4, x, 0, 4, x, 0, 4, x, NULL) == 0);
	CHECK(affine("Add", 4, x, 0, 4, big, 1, 4, big, NULL) == 0);
	CHECK(affine("Div", 4, x, 0, 1, sc, 1, 4, x, NULL) == 0);
}

int main(void)
{
	TEST(test_fused_clip);
	TEST(test_fused_clip_needs_pattern);
	TEST(test_const_affine);
	return CHECK_DONE();
}
