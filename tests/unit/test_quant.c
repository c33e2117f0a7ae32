/* Unit tests of lib/quant/quant.c, lib/quant/tpc.c and lib/ir/passes.c.  Every expected
 * number is worked out by hand in the comment beside it (ranges are chosen
 * so the arithmetic is exact in binary floating point). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "interp.h"
#include "passes.h"
#include "quant.h"
#include "tpc.h"

static const float TINY = 1.0f / 8388608.0f;   /* 2^-23 */

/* ---- quant.c ------------------------------------------------------------------ */

static void test_qrange(void)
{
	int32_t lo, hi;

	qp_qrange(8, 1, &lo, &hi);
	CHECK(lo == -128 && hi == 127);
	qp_qrange(8, 0, &lo, &hi);
	CHECK(lo == 0 && hi == 255);
	qp_qrange(4, 1, &lo, &hi);
	CHECK(lo == -8 && hi == 7);
	qp_qrange(16, 1, &lo, &hi);
	CHECK(lo == -32768 && hi == 32767);
	qp_qrange(32, 1, &lo, &hi);
	CHECK(lo == INT32_MIN && hi == INT32_MAX);
}

/* choose() with scheme, bits, signedness; returns scale and zero point. */
static int choose(float min, float max, qp_qscheme s, int bits, int sgn,
		  float *scale, int32_t *zp)
{
	qp_err err = {{0}};

	*scale = -1;
	*zp = 12345;
	return qp_quant_choose(min, max, s, bits, sgn, scale, zp, &err);
}

static void test_choose_asymmetric(void)
{
	float s;
	int32_t z;

	/* width 127.5 / 255 steps = 0.5; zp = -128 - round(-64 / 0.5) = 0 */
	CHECK(choose(-64, 63.5f, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 0.5f && z == 0);
	/* [0, 255]: scale 1, zp = -128 - 0 */
	CHECK(choose(0, 255, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == -128);
	/* [-10, 245]: scale 1, zp = -128 + 10 */
	CHECK(choose(-10, 245, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == -118);
	/* positive only [2, 255]: the range is extended to [0, 255] */
	CHECK(choose(2, 255, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == -128);
	/* negative only [-255, -1]: extended to [-255, 0]; zp = -128 + 255 */
	CHECK(choose(-255, -1, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == 127);
	/* degenerate [0, 0]: the smallest scale, zp = qmin */
	CHECK(choose(0, 0, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == TINY && z == -128);
	/* min == max == 3: extended to [0, 3]; 3/255 computed in double */
	CHECK(choose(3, 3, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == (float)(3.0 / 255.0) && z == -128);
	/* ties in the zero point: lo / scale = -0.5 -> -1 (away from zero),
	 * zp = -128 + 1; lo / scale = -1.5 -> -2, zp = -126 */
	CHECK(choose(-0.5f, 254.5f, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == -127);
	CHECK(choose(-1.5f, 253.5f, QP_Q_ASYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == -126);
	/* unsigned 8 bits [-10, 245]: zp = 0 + 10 */
	CHECK(choose(-10, 245, QP_Q_ASYMMETRIC, 8, 0, &s, &z) == 0);
	CHECK(s == 1.0f && z == 10);
	/* 4 bits signed [-8, 7]: 15 / 15 = 1, zp = -8 + 8 = 0 */
	CHECK(choose(-8, 7, QP_Q_ASYMMETRIC, 4, 1, &s, &z) == 0);
	CHECK(s == 1.0f && z == 0);
}

static void test_choose_symmetric(void)
{
	float s;
	int32_t z;

	/* max |x| = 254 over 127 = 2 */
	CHECK(choose(-254, 100, QP_Q_SYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 2.0f && z == 0);
	CHECK(choose(-100, 254, QP_Q_SYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == 2.0f && z == 0);
	/* unsigned: 510 / 255 = 2 */
	CHECK(choose(0, 510, QP_Q_SYMMETRIC, 8, 0, &s, &z) == 0);
	CHECK(s == 2.0f && z == 0);
	/* an all-zero channel */
	CHECK(choose(0, 0, QP_Q_SYMMETRIC, 8, 1, &s, &z) == 0);
	CHECK(s == TINY && z == 0);
	/* 4 bits: 14 / 7 = 2 */
	CHECK(choose(-14, 3, QP_Q_SYMMETRIC, 4, 1, &s, &z) == 0);
	CHECK(s == 2.0f && z == 0);
}

static void test_choose_power_of_two(void)
{
	float s;
	int32_t z;

	/* T = 2^ceil(log2 1) = 1, scale = 1/128 */
	CHECK(choose(-1, 0.25f, QP_Q_POWER_OF_TWO, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f / 128 && z == 0);
	/* 1.5 -> T = 2 -> 2/128 */
	CHECK(choose(0, 1.5f, QP_Q_POWER_OF_TWO, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f / 64);
	/* 0.3 -> T = 0.5 -> 0.5/128 */
	CHECK(choose(-0.3f, 0.1f, QP_Q_POWER_OF_TWO, 8, 1, &s, &z) == 0);
	CHECK(s == 1.0f / 256);
	/* unsigned 8 bits: T/256 */
	CHECK(choose(0, 1, QP_Q_POWER_OF_TWO, 8, 0, &s, &z) == 0);
	CHECK(s == 1.0f / 256);
	/* 4 bits signed: T/8 */
	CHECK(choose(-1, 1, QP_Q_POWER_OF_TWO, 4, 1, &s, &z) == 0);
	CHECK(s == 1.0f / 8);
	/* zero and very small ranges get 2^-23 */
	CHECK(choose(0, 0, QP_Q_POWER_OF_TWO, 8, 1, &s, &z) == 0);
	CHECK(s == TINY);
	CHECK(choose(0, ldexpf(1, -30), QP_Q_POWER_OF_TWO, 8, 1, &s, &z) == 0);
	CHECK(s == TINY);
}

static void test_choose_errors(void)
{
	qp_err err = {{0}};
	float s;
	int32_t z;

	CHECK(qp_quant_choose(1, 0, QP_Q_ASYMMETRIC, 8, 1, &s, &z, &err) == -1);
	CHECK_STR(err.msg, "range minimum 1 exceeds maximum 0");
	CHECK(qp_quant_choose(0, INFINITY, QP_Q_SYMMETRIC, 8, 1, &s, &z, &err) == -1);
	CHECK_STR(err.msg, "range [0, inf] is not finite");
	CHECK(qp_quant_choose(0, 1, QP_Q_SYMMETRIC, 17, 1, &s, &z, &err) == -1);
	CHECK_STR(err.msg, "17 bits is outside 2..16");
}

static void test_quantize_value(void)
{
	/* round half away from zero */
	CHECK(qp_quantize_value(2.5f, 1, 0, -128, 127) == 3);
	CHECK(qp_quantize_value(-2.5f, 1, 0, -128, 127) == -3);
	CHECK(qp_quantize_value(0.5f, 1, 0, -128, 127) == 1);
	CHECK(qp_quantize_value(-0.5f, 1, 0, -128, 127) == -1);
	CHECK(qp_quantize_value(1.49f, 1, 0, -128, 127) == 1);
	CHECK(qp_quantize_value(-1.51f, 1, 0, -128, 127) == -2);
	/* 1.25 / 0.5 = 2.5 -> 3, + zp -128 = -125 */
	CHECK(qp_quantize_value(1.25f, 0.5f, -128, -128, 127) == -125);
	/* clamping */
	CHECK(qp_quantize_value(200, 1, 0, -128, 127) == 127);
	CHECK(qp_quantize_value(-200, 1, 0, -128, 127) == -128);
	CHECK(qp_quantize_value(-1, 1, 0, 0, 255) == 0);
	CHECK(qp_quantize_value(1e30f, 1, 0, INT32_MIN, INT32_MAX) == INT32_MAX);
	CHECK(qp_quantize_value(-1e30f, 1, 0, INT32_MIN, INT32_MAX) == INT32_MIN);
	CHECK(qp_quantize_value(NAN, 1, -5, -128, 127) == -5);
	/* dequantize: 0.5 * (-125 + 128) = 1.5 */
	CHECK(qp_dequantize_value(-125, 0.5f, -128) == 1.5f);
	CHECK(qp_fake_quant_value(1.25f, 0.5f, -128, -128, 127) == 1.5f);
	/* 200 / 0.5 - 128 = 272 saturates at 127: 0.5 * (127 + 128) = 127.5 */
	CHECK(qp_fake_quant_value(200, 0.5f, -128, -128, 127) == 127.5f);
}

static void test_storage_dtype(void)
{
	qp_dtype dt;

	CHECK(qp_quant_storage_dtype(8, 1, &dt) == 0 && dt == QP_DT_INT8);
	CHECK(qp_quant_storage_dtype(4, 0, &dt) == 0 && dt == QP_DT_UINT8);
	CHECK(qp_quant_storage_dtype(16, 1, &dt) == 0 && dt == QP_DT_INT16);
	CHECK(qp_quant_storage_dtype(32, 1, &dt) == 0 && dt == QP_DT_INT32);
	CHECK(qp_quant_storage_dtype(12, 0, &dt) == -1);
}

static void test_per_channel(void)
{
	/* rows = output channels; row 0 has max |w| = 127 so scale 1 and
	 * the quantized values are the rounded weights; row 1 is all zero. */
	const float w[2][5] = {{127, -63.5f, 0.5f, -0.5f, 2.4f}, {0, 0, 0, 0, 0}};
	const int64_t dims[2] = {2, 5};
	const int8_t want0[5] = {127, -64, 1, -1, 2};
	int8_t q[10];
	float back[10];
	qp_err err = {{0}};
	qp_quant *p;

	p = qp_quant_choose_array(&w[0][0], 2, dims, 0, QP_Q_SYMMETRIC, 8, 1, &err);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(p->n == 2 && p->axis == 0);
	CHECK(p->scale[0] == 1.0f && p->scale[1] == TINY);
	CHECK(p->zero_point[0] == 0 && p->zero_point[1] == 0);
	CHECK(qp_quantize_array(&w[0][0], 2, dims, p, q, QP_DT_INT8, &err) == 0);
	CHECK(memcmp(q, want0, 5) == 0);
	for (int i = 5; i < 10; i++)
		CHECK(q[i] == 0);
	CHECK(qp_dequantize_array(q, QP_DT_INT8, 2, dims, p, back, &err) == 0);
	CHECK(back[1] == -64 && back[4] == 2 && back[7] == 0);
	/* the wrong storage dtype is refused */
	CHECK(qp_quantize_array(&w[0][0], 2, dims, p, q, QP_DT_INT16, &err) == -1);
	CHECK_STR(err.msg, "dtype int16 does not hold signed 8-bit integers");
	qp_quant_free(p);

	/* along axis 1 the columns' max |w| are 127, 63.5, 0.5, 0.5, 2.4 */
	p = qp_quant_choose_array(&w[0][0], 2, dims, 1, QP_Q_SYMMETRIC, 8, 1, &err);
	CHECK(p && p->n == 5);
	if (p) {
		CHECK(p->scale[0] == 1.0f);
		CHECK(p->scale[1] == (float)(63.5 / 127.0));
		CHECK(p->scale[2] == (float)(0.5 / 127.0));
		CHECK(p->scale[4] == (float)((double)2.4f / 127.0));
	}
	qp_quant_free(p);

	/* per tensor */
	p = qp_quant_choose_array(&w[0][0], 2, dims, -1, QP_Q_SYMMETRIC, 8, 1, &err);
	CHECK(p && p->n == 1 && p->axis == -1 && p->scale[0] == 1.0f);
	qp_quant_free(p);
}

static void test_fake_quant_array(void)
{
	/* per tensor, scale 0.5, zp -128:
	 *   1.25: 2.5 -> 3, q = -125, back 0.5 * 3 = 1.5
	 *   -3:   -6 - 128 = -134 clamps to -128, back 0
	 *   10:   20 - 128 = -108, back 10 */
	float x[3] = {1.25f, -3, 10};
	const int64_t dims[1] = {3};
	qp_quant *q = qp_quant_new(1);
	qp_err err = {{0}};

	if (!q)
		return;
	q->scheme = QP_Q_ASYMMETRIC;
	q->scale[0] = 0.5f;
	q->zero_point[0] = -128;
	CHECK(qp_fake_quant_array(x, 1, dims, q, &err) == 0);
	CHECK(x[0] == 1.5f && x[1] == 0 && x[2] == 10);
	qp_quant_free(q);
}

/* ---- tpc.c --------------------------------------------------------------------- */

#define DEFAULT_CFG                                                              \
	"\"default_config\": {\"weights\": {\"enabled\": true, \"n_bits\": 8, "      \
	"\"method\": \"symmetric\", \"per_channel\": true}, \"activation\": "       \
	"{\"enabled\": true, \"n_bits\": 8, \"method\": \"uniform\", "              \
	"\"signedness\": \"signed\"}}"
#define HEAD "{\"format\": \"qpipe-tpc\", \"version\": 1, \"name\": \"t\", "

static const char *tpc_error(const char *text)
{
	static qp_err err;
	qp_tpc *t = NULL;

	memset(&err, 0, sizeof err);
	if (qp_tpc_parse(text, strlen(text), &t, &err) == 0) {
		qp_tpc_free(t);
		return "(parsed)";
	}
	CHECK(t == NULL);
	return err.msg;
}

static void test_tpc_good(void)
{
	static const char text[] = HEAD DEFAULT_CFG ", \"operator_sets\": ["
		"{\"name\": \"conv\", \"ops\": [\"Conv\", \"Gemm\"], \"config\": "
		"{\"weights\": {\"n_bits\": 4, \"mixed_precision_n_bits\": [8, 4, 2]}}},"
		"{\"name\": \"relu\", \"ops\": [\"Relu\"]},"
		"{\"name\": \"keep\", \"ops\": [\"MaxPool\"], \"config\": {\"activation\": {\"preserving\": true}}},"
		"{\"name\": \"sm\", \"ops\": [\"Softmax\"], \"config\": {\"activation\": "
		"{\"fixed_scale\": 0.00390625, \"fixed_zero_point\": -128}}}],"
		"\"fusing_patterns\": [[\"conv\", \"relu\"], [[\"conv\", \"keep\"], \"relu\"]],"
		"\"resources\": {\"weight_memory_bytes\": 1000}}";
	qp_err err = {{0}};
	qp_tpc *t = NULL;
	const qp_tpc_op_set *s;

	CHECK(qp_tpc_parse(text, strlen(text), &t, &err) == 0);
	if (!t) {
		printf("# %s\n", err.msg);
		return;
	}
	CHECK_STR(t->name, "t");
	CHECK(t->n_op_sets == 4 && t->n_fusing == 2);
	CHECK(t->default_config.weights_n_bits == 8);
	CHECK(t->default_config.activation_method == QP_Q_ASYMMETRIC);
	s = qp_tpc_find_op(t, "Gemm");
	CHECK(s && !strcmp(s->name, "conv"));
	/* the override changes only what it names */
	CHECK(s && s->config.weights_n_bits == 4 && s->config.n_weights_candidates == 3);
	CHECK(s && s->config.weights_per_channel == 1 && s->config.activation_n_bits == 8);
	s = qp_tpc_find_op(t, "MaxPool");
	CHECK(s && s->config.preserving && !s->config.has_fixed);
	s = qp_tpc_find_op(t, "Softmax");
	CHECK(s && s->config.has_fixed && s->config.fixed_scale == 1.0f / 256 &&
	      s->config.fixed_zero_point == -128);
	CHECK(qp_tpc_find_op(t, "Add") == NULL);
	CHECK(t->fusing[1].n == 2 && t->fusing[1].steps[0].n == 2);
	CHECK(qp_tpc_step_matches(t, &t->fusing[1].steps[0], "MaxPool"));
	CHECK(!qp_tpc_step_matches(t, &t->fusing[1].steps[0], "Relu"));
	CHECK(t->weight_memory_bytes == 1000 && t->activation_memory_bytes == -1);
	CHECK(cJSON_IsObject(t->json));
	qp_tpc_free(t);

	/* the shipped target parses */
	CHECK(qp_tpc_read("tpc/int8.json", &t, &err) == 0);
	if (t)
		CHECK_STR(t->name, "int8");
	qp_tpc_free(t);
}

static void test_tpc_errors(void)
{
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"]},"
			    "{\"name\": \"b\", \"ops\": [\"Relu\"]}, {\"name\": \"c\", \"ops\": [\"Conv3D\"]}]}"),
		  "operator_sets[2].ops[0]: unknown op 'Conv3D'");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [], \"foo\": 1}"),
		  "unknown key 'foo'");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"], "
			    "\"config\": {\"weights\": {\"bits\": 4}}}]}"),
		  "operator_sets[0].config.weights: unknown key 'bits'");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"], "
			    "\"config\": {\"weights\": {\"n_bits\": 17}}}]}"),
		  "operator_sets[0].config.weights.n_bits: 17 is outside 2..16");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"], "
			    "\"config\": {\"activation\": {\"n_bits\": 1}}}]}"),
		  "operator_sets[0].config.activation.n_bits: 1 is outside 2..16");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"], "
			    "\"config\": {\"activation\": {\"n_bits\": 8.5}}}]}"),
		  "operator_sets[0].config.activation.n_bits: expected an integer, not 8.5");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"], "
			    "\"config\": {\"activation\": {\"method\": \"linear\"}}}]}"),
		  "operator_sets[0].config.activation.method: unknown method 'linear' (power_of_two, symmetric or uniform)");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": 3, \"ops\": [\"Conv\"]}]}"),
		  "operator_sets[0].name: expected a string");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": \"Conv\"}]}"),
		  "operator_sets[0].ops: expected a non-empty array of op names");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"]},"
			    "{\"name\": \"b\", \"ops\": [\"Relu\", \"Conv\"]}]}"),
		  "operator_sets[1].ops[1]: op 'Conv' is already in operator set 'a'");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"]},"
			    "{\"name\": \"a\", \"ops\": [\"Relu\"]}]}"),
		  "operator_sets[1].name: operator set 'a' defined twice");
	CHECK_STR(tpc_error(HEAD "\"default_config\": {\"weights\": {\"enabled\": true, \"n_bits\": 8, "
			    "\"method\": \"symmetric\", \"per_channel\": true}, \"activation\": "
			    "{\"enabled\": true, \"n_bits\": 8, \"method\": \"uniform\"}}, \"operator_sets\": []}"),
		  "default_config.activation.signedness: missing");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG "}"), "operator_sets: missing");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"]}],"
			    "\"fusing_patterns\": [[\"a\", \"relux\"]]}"),
		  "fusing_patterns[0][1]: unknown operator set 'relux'");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"a\", \"ops\": [\"Conv\"]}],"
			    "\"fusing_patterns\": [[\"a\"]]}"),
		  "fusing_patterns[0]: expected an array of at least two operator set names");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"s\", \"ops\": [\"Softmax\"], "
			    "\"config\": {\"activation\": {\"fixed_scale\": 0.5, \"fixed_zero_point\": 128}}}]}"),
		  "operator_sets[0].config.activation.fixed_zero_point: 128 is outside -128..127");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"s\", \"ops\": [\"Softmax\"], "
			    "\"config\": {\"activation\": {\"fixed_scale\": 0.5}}}]}"),
		  "operator_sets[0].config.activation.fixed_zero_point: missing (fixed_scale needs it)");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [{\"name\": \"s\", \"ops\": [\"Softmax\"], "
			    "\"config\": {\"activation\": {\"signedness\": \"auto\", \"fixed_scale\": 0.5, \"fixed_zero_point\": 0}}}]}"),
		  "operator_sets[0].config.activation.signedness: fixed parameters need 'signed' or 'unsigned', not 'auto'");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [], \"resources\": {\"weight_memory_bytes\": -1}}"),
		  "resources.weight_memory_bytes: -1 is outside 0..9007199254740992");
	CHECK_STR(tpc_error(HEAD DEFAULT_CFG ", \"operator_sets\": [], \"name\": \"x\"}"),
		  "key 'name' appears twice");
	CHECK_STR(tpc_error("{\"format\": \"qpipe-tpc\", \"version\": 2}"),
		  "version: 2 is not supported (this qpipe reads version 1)");
	CHECK_STR(tpc_error("{\"format\": \"mct\"}"), "format: expected 'qpipe-tpc', not 'mct'");
	CHECK_STR(tpc_error("{\"format\": "), "invalid JSON near byte 10");
	CHECK_STR(tpc_error("[]"), "expected a JSON object at the top level");
	CHECK_STR(tpc_error("{} x"), "unexpected data after the JSON document at byte 3");
}

/* ---- passes.c ------------------------------------------------------------------ */

static int add_const(qp_graph *g, const char *name, int rank, const int64_t *dims,
		     const float *v)
{
	qp_err err = {{0}};
	int t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, rank, dims, &err);

	if (t < 0 || qp_tensor_alloc_data(&g->tensors[t], &err))
		return -1;
	memcpy(g->tensors[t].data, v, g->tensors[t].nbytes);
	return t;
}

/* Adds "bn": BatchNormalization(c) -> "y" of the given dims, epsilon 1,
 * gamma {1, 2}, beta {0.5, -1}, mean {1, 0}, var {3, 0} (two channels). */
static int add_bn(qp_graph *g, int c, int rank, const int64_t *dims)
{
	static const int64_t vd[1] = {2};
	static const float gamma[2] = {1, 2}, beta[2] = {0.5f, -1}, mean[2] = {1, 0},
			   var[2] = {3, 0};
	qp_err err = {{0}};
	int in[5], y, ni;

	in[0] = c;
	in[1] = add_const(g, "gamma", 1, vd, gamma);
	in[2] = add_const(g, "beta", 1, vd, beta);
	in[3] = add_const(g, "mean", 1, vd, mean);
	in[4] = add_const(g, "var", 1, vd, var);
	y = qp_graph_add_tensor(g, "y", QP_DT_FLOAT32, rank, dims, &err);
	ni = qp_graph_add_node(g, "bn", "BatchNormalization", 5, in, 1, &y, &err);
	qp_node_set_float(&g->nodes[ni], "epsilon", 1.0f);
	return y;
}

/* x[1,1,1,2] -> Conv(W[2,1,1,1] = {2, 3}, B) -> c -> BN -> y, epsilon 1,
 * gamma {1, 2}, beta {0.5, -1}, mean {1, 0}, var {3, 0}:
 *   a = gamma / sqrt(var + 1) = {0.5, 2}
 *   W' = {2 * 0.5, 3 * 2} = {1, 6}
 *   B' = (B - mean) * a + beta: with B = {4, 1}: {2, 1}; without: {0, -1} */
static qp_graph *bn_graph(int with_bias, int c_is_output)
{
	static const int64_t xd[4] = {1, 1, 1, 2}, wd[4] = {2, 1, 1, 1}, vd[1] = {2},
			     yd[4] = {1, 2, 1, 2};
	static const float w[2] = {2, 3}, b[2] = {4, 1};
	qp_err err = {{0}};
	qp_graph *g = qp_graph_new();
	int x, c, y, in[3];

	if (!g)
		return NULL;
	x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 4, xd, &err);
	in[0] = x;
	in[1] = add_const(g, "w", 4, wd, w);
	in[2] = with_bias ? add_const(g, "b", 1, vd, b) : -1;
	c = qp_graph_add_tensor(g, "c", QP_DT_FLOAT32, 4, yd, &err);
	qp_graph_add_node(g, "conv", "Conv", with_bias ? 3 : 2, in, 1, &c, &err);
	y = add_bn(g, c, 4, yd);
	g->n_inputs = 1;
	g->inputs = calloc(1, sizeof *g->inputs);
	g->n_outputs = c_is_output ? 2 : 1;
	g->outputs = calloc(2, sizeof *g->outputs);
	if (!g->inputs || !g->outputs) {
		qp_graph_free(g);
		return NULL;
	}
	g->inputs[0].tensor = x;
	g->outputs[0].tensor = y;
	g->outputs[1].tensor = c;
	if (qp_graph_verify(g, &err)) {
		printf("# bn_graph: %s\n", err.msg);
		qp_graph_free(g);
		return NULL;
	}
	return g;
}

/* x[1,2] -> Gemm(B, C = {4, 1}) -> c[1,2] -> BN (the parameters above,
 * a = {0.5, 2}) -> y.  B = [[1, 2], [3, 4]] (row-major 1 2 3 4):
 *   transB 0: B is [K, N], channel n is column n:
 *             B' = [[0.5, 4], [1.5, 8]]
 *   transB 1: B is [N, K], channel n is row n:
 *             B' = [[0.5, 1], [6, 8]]
 *   C' = (C - mean) * a + beta = {2, 1} */
static qp_graph *gemm_bn_graph(int trans_b)
{
	static const int64_t xd[2] = {1, 2}, bd[2] = {2, 2}, vd[1] = {2};
	static const float b[4] = {1, 2, 3, 4}, c[2] = {4, 1};
	qp_err err = {{0}};
	qp_graph *g = qp_graph_new();
	int x, ct, y, in[3], ni;

	if (!g)
		return NULL;
	x = qp_graph_add_tensor(g, "x", QP_DT_FLOAT32, 2, xd, &err);
	in[0] = x;
	in[1] = add_const(g, "B", 2, bd, b);
	in[2] = add_const(g, "C", 1, vd, c);
	ct = qp_graph_add_tensor(g, "c", QP_DT_FLOAT32, 2, xd, &err);
	ni = qp_graph_add_node(g, "dense", "Gemm", 3, in, 1, &ct, &err);
	qp_node_set_int(&g->nodes[ni], "transB", trans_b);
	y = add_bn(g, ct, 2, xd);
	g->n_inputs = g->n_outputs = 1;
	g->inputs = calloc(1, sizeof *g->inputs);
	g->outputs = calloc(1, sizeof *g->outputs);
	if (!g->inputs || !g->outputs) {
		qp_graph_free(g);
		return NULL;
	}
	g->inputs[0].tensor = x;
	g->outputs[0].tensor = y;
	return g;
}

static void test_fold_batchnorm_gemm(void)
{
	static const float want[2][4] = {{0.5f, 4, 1.5f, 8}, {0.5f, 1, 6, 8}};
	qp_err err = {{0}};
	int count = -1;

	for (int tb = 0; tb < 2; tb++) {
		qp_graph *g = gemm_bn_graph(tb);
		const float *w, *c;

		CHECK(g != NULL && qp_graph_verify(g, &err) == 0);
		if (!g)
			return;
		CHECK(qp_pass_fold_batchnorm(g, &count, &err) == 0 && count == 1);
		CHECK(g->n_nodes == 1 && !strcmp(g->nodes[0].op, "Gemm"));
		CHECK_STR(g->tensors[g->nodes[0].outputs[0]].name, "y");
		w = g->tensors[g->nodes[0].inputs[1]].data;
		c = g->tensors[g->nodes[0].inputs[2]].data;
		CHECK(memcmp(w, want[tb], sizeof want[tb]) == 0);
		CHECK(c[0] == 2 && c[1] == 1);
		CHECK(qp_graph_verify(g, &err) == 0);
		qp_graph_free(g);
	}
	/* alpha != 1 (not normalized yet): left alone */
	{
		qp_graph *g = gemm_bn_graph(0);

		if (!g)
			return;
		qp_node_set_float(&g->nodes[0], "alpha", 2.0f);
		CHECK(qp_pass_fold_batchnorm(g, &count, &err) == 0 && count == 0);
		CHECK(g->n_nodes == 2);
		qp_graph_free(g);
	}
}

static void test_fold_batchnorm(void)
{
	qp_err err = {{0}};
	int count = -1;
	qp_graph *g = bn_graph(1, 0);
	const float *w, *b;

	CHECK(g != NULL);
	if (!g)
		return;
	CHECK(qp_pass_fold_batchnorm(g, &count, &err) == 0);
	CHECK(count == 1);
	CHECK(g->n_nodes == 1 && !strcmp(g->nodes[0].op, "Conv"));
	/* the Conv now writes the BN's output, keeping its name */
	CHECK_STR(g->tensors[g->nodes[0].outputs[0]].name, "y");
	CHECK(qp_graph_find_tensor(g, "c") < 0 && qp_graph_find_tensor(g, "gamma") < 0);
	w = g->tensors[g->nodes[0].inputs[1]].data;
	b = g->tensors[g->nodes[0].inputs[2]].data;
	CHECK(w[0] == 1 && w[1] == 6);
	CHECK(b[0] == 2 && b[1] == 1);
	CHECK(qp_graph_verify(g, &err) == 0);
	qp_graph_free(g);

	/* without a bias the fold creates one */
	g = bn_graph(0, 0);
	CHECK(g != NULL);
	if (!g)
		return;
	CHECK(qp_pass_fold_batchnorm(g, &count, &err) == 0 && count == 1);
	CHECK(g->nodes[0].n_inputs == 3);
	CHECK_STR(g->tensors[g->nodes[0].inputs[2]].name, "conv.bias");
	w = g->tensors[g->nodes[0].inputs[1]].data;
	b = g->tensors[g->nodes[0].inputs[2]].data;
	CHECK(w[0] == 1 && w[1] == 6);
	CHECK(b[0] == 0 && b[1] == -1);
	CHECK(qp_graph_verify(g, &err) == 0);
	qp_graph_free(g);

	/* the Conv output is also a graph output: leave both nodes alone */
	g = bn_graph(1, 1);
	CHECK(g != NULL);
	if (!g)
		return;
	CHECK(qp_pass_fold_batchnorm(g, &count, &err) == 0 && count == 0);
	CHECK(g->n_nodes == 2);
	w = g->tensors[g->nodes[0].inputs[1]].data;
	CHECK(w[0] == 2 && w[1] == 3);
	qp_graph_free(g);
}

/* A quantized int8 constant feeding DequantizeLinear is taken as its
 * stored integers (the op applies its own scale); feeding a float op
 * (Relu) it is dequantized with its own quant.  Hand calculation: stored
 * {-4, 2, 10}, quant scale 0.5; DequantizeLinear scale 0.25 gives
 * {-1, 0.5, 2.5}; Relu of the dequantized {-2, 1, 5} gives {0, 1, 5}. */
static void test_interp_quantized_constants(void)
{
	static const int8_t stored[3] = {-4, 2, 10};
	static const float want_dq[3] = {-1.0f, 0.5f, 2.5f}, want_relu[3] = {0, 1, 5};
	qp_graph *g = qp_graph_new();
	int64_t d3 = 3;
	int w = qp_graph_add_tensor(g, "w", QP_DT_INT8, 1, &d3, NULL);
	int sc = qp_graph_add_tensor(g, "s", QP_DT_FLOAT32, 0, NULL, NULL);
	int y = qp_graph_add_tensor(g, "y", QP_DT_FLOAT32, 0, NULL, NULL);
	int r = qp_graph_add_tensor(g, "r", QP_DT_FLOAT32, 0, NULL, NULL);
	int ins[2] = {w, sc};
	qp_err err = {{0}};
	qp_interp *ip = NULL;
	qp_quant *q = qp_quant_new(1);

	qp_tensor_alloc_data(&g->tensors[w], NULL);
	memcpy(g->tensors[w].data, stored, sizeof stored);
	q->bits = 8, q->is_signed = 1, q->axis = -1, q->scale[0] = 0.5f, q->zero_point[0] = 0;
	g->tensors[w].quant = q;
	qp_tensor_alloc_data(&g->tensors[sc], NULL);
	*(float *)g->tensors[sc].data = 0.25f;
	g->outputs = calloc(2, sizeof *g->outputs);
	g->outputs[0].tensor = y, g->outputs[1].tensor = r;
	g->n_outputs = 2;
	qp_graph_add_node(g, "dq", "DequantizeLinear", 2, ins, 1, &y, NULL);
	qp_graph_add_node(g, "relu", "Relu", 1, &w, 1, &r, NULL);
	CHECK(qp_graph_infer_shapes(g, &err) == 0);
	CHECK((ip = qp_interp_new(g, NULL, &err)) != NULL);
	if (ip && qp_interp_run(ip, &err) == 0) {
		const float *a = qp_interp_output(ip, 0)->data, *b = qp_interp_output(ip, 1)->data;

		for (int i = 0; i < 3; i++) {
			CHECK(a[i] == want_dq[i]);
			CHECK(b[i] == want_relu[i]);
		}
	} else {
		printf("# %s\n", err.msg);
		CHECK(0);
	}
	qp_interp_free(ip);
	qp_graph_free(g);
}

int main(void)
{
	TEST(test_interp_quantized_constants);
	TEST(test_qrange);
	TEST(test_choose_asymmetric);
	TEST(test_choose_symmetric);
	TEST(test_choose_power_of_two);
	TEST(test_choose_errors);
	TEST(test_quantize_value);
	TEST(test_storage_dtype);
	TEST(test_per_channel);
	TEST(test_fake_quant_array);
	TEST(test_tpc_good);
	TEST(test_tpc_errors);
	TEST(test_fold_batchnorm);
	TEST(test_fold_batchnorm_gemm);
	return CHECK_DONE();
}
