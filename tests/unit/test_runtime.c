/* The embeddable runtime: requantization rule, kernels and the binary
 * validator.  Every expected number is worked out by hand in the comment
 * next to it (docs/ir.md section 6 states the rule). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crc32c.h"
#include "lowered.h"
#include "qp_runtime.h"

#define Q30 (1 << 30)

static void test_rdivpot(void)
{
	/* Ties away from zero, on both sides. */
	CHECK(qp_rt_rdivpot(3, 1) == 2);      /* 1.5 */
	CHECK(qp_rt_rdivpot(-3, 1) == -2);    /* -1.5 */
	CHECK(qp_rt_rdivpot(5, 2) == 1);      /* 1.25 */
	CHECK(qp_rt_rdivpot(-5, 2) == -1);    /* -1.25 */
	CHECK(qp_rt_rdivpot(6, 2) == 2);      /* 1.5 */
	CHECK(qp_rt_rdivpot(-6, 2) == -2);    /* -1.5 */
	CHECK(qp_rt_rdivpot(-7, 2) == -2);    /* -1.75 */
	CHECK(qp_rt_rdivpot(-2, 2) == -1);    /* -0.5 */
	CHECK(qp_rt_rdivpot(2, 2) == 1);      /* 0.5 */
	CHECK(qp_rt_rdivpot(-1, 2) == 0);     /* -0.25 */
	CHECK(qp_rt_rdivpot(INT32_MIN, 31) == -1);  /* -1 exactly */
	CHECK(qp_rt_rdivpot(INT32_MAX, 31) == 1);   /* 0.99999 */
	CHECK(qp_rt_rdivpot(-12345, 0) == -12345);
}

static void test_requant(void)
{
	const int32_t m875 = 1879048192;	/* 0.875 * 2^31 */

	/* (2^30, 1) is the multiplier 1.0: identity. */
	CHECK(qp_rt_requant(100, Q30, 1) == 100);
	CHECK(qp_rt_requant(-100, Q30, 1) == -100);
	/* (2^30, s) is 2^(s-1): pure shifts, ties away from zero, as
	 * fake quantization's round(). */
	CHECK(qp_rt_requant(7, Q30, -1) == 2);		/* 1.75 */
	CHECK(qp_rt_requant(-7, Q30, -1) == -2);	/* -1.75 */
	CHECK(qp_rt_requant(-6, Q30, -2) == -1);	/* -0.75 */
	CHECK(qp_rt_requant(-3, Q30, 0) == -2);		/* -1.5 tie */
	CHECK(qp_rt_requant(3, Q30, 0) == 2);		/* 1.5 tie */
	CHECK(qp_rt_requant(-5, Q30, -1) == -1);	/* -1.25 */
	/* -0.5 ties away to -1; 0.5 to 1. */
	CHECK(qp_rt_requant(-4, Q30, -2) == -1);
	CHECK(qp_rt_requant(4, Q30, -2) == 1);
	CHECK(qp_rt_requant(5, Q30, 3) == 20);		/* 5 * 4, exact */
	/* One rounding: 1 * 0.875 / 2 = 0.4375 -> 0.  Rounding twice gave
	 * 1: SRDHM 0.875 -> 1, then 1 / 2 = 0.5 -> 1.  Same on the negative
	 * side: -0.4375 -> 0 (twice: -1, then -0.5 -> -1). */
	CHECK(qp_rt_requant(1, m875, -1) == 0);
	CHECK(qp_rt_requant(-1, m875, -1) == 0);
	/* 3 * 0.875 = 2.625 -> 3; -2.625 -> -3; 4 * 0.875 / 2 = 1.75 -> 2. */
	CHECK(qp_rt_requant(3, m875, 0) == 3);
	CHECK(qp_rt_requant(-3, m875, 0) == -3);
	CHECK(qp_rt_requant(4, m875, -1) == 2);
	/* A tie on a non-power-of-two multiplier: 0.75 * 2 = 1.5 -> 2,
	 * -1.5 -> -2. */
	CHECK(qp_rt_requant(2, 3 << 29, 0) == 2);
	CHECK(qp_rt_requant(-2, 3 << 29, 0) == -2);
	/* Saturation: INT32_MAX * 2 and INT32_MIN * 2 do not fit. */
	CHECK(qp_rt_requant(INT32_MAX, Q30, 2) == INT32_MAX);
	CHECK(qp_rt_requant(INT32_MIN, Q30, 2) == INT32_MIN);
	/* (2^31 - 1)^2 / 2^62 = 0.99999... -> 1; INT32_MIN (2^31 - 1) / 2^62
	 * = -0.99999... -> -1; the largest product with the smallest shift
	 * (n = 1) saturates. */
	CHECK(qp_rt_requant(INT32_MAX, INT32_MAX, -31) == 1);
	CHECK(qp_rt_requant(INT32_MIN, INT32_MAX, -31) == -1);
	CHECK(qp_rt_requant(INT32_MIN, INT32_MAX, 30) == INT32_MIN);
	CHECK(qp_rt_requant(INT32_MAX, INT32_MAX, 30) == INT32_MAX);
	CHECK(qp_rt_requant(12345, 0, 0) == 0);
	CHECK(qp_rt_requant(-12345, 0, -31) == 0);
}

static void test_quantize_multiplier(void)
{
	int32_t m;
	int s;

	CHECK(qp_quantize_multiplier(1.0, &m, &s) == 0 && m == Q30 && s == 1);
	CHECK(qp_quantize_multiplier(0.5, &m, &s) == 0 && m == Q30 && s == 0);
	/* 0.75 = 0.75 * 2^0: 0.75 * 2^31 = 1610612736. */
	CHECK(qp_quantize_multiplier(0.75, &m, &s) == 0 && m == 1610612736 && s == 0);
	/* 1 - 2^-40 rounds to 2^31 * 2^-1... -> renormalized to (2^30, 1). */
	CHECK(qp_quantize_multiplier(1.0 - 1.0 / 1099511627776.0, &m, &s) == 0 &&
	      m == Q30 && s == 1);
	CHECK(qp_quantize_multiplier(0.0, &m, &s) == 0 && m == 0 && s == 0);
	CHECK(qp_quantize_multiplier(1e-12, &m, &s) == 0 && m == 0 && s == 0);
	CHECK(qp_quantize_multiplier(1e12, &m, &s) == 0 && m == INT32_MAX && s == 30);
	CHECK(qp_quantize_multiplier(-1.0, &m, &s) == -1);
}

static void test_quantize_one(void)
{
	/* round half away from zero, then + zero point, clamped. */
	CHECK(qp_rt_quantize_one(0.5f, 1.0f, 0, -128, 127) == 1);
	CHECK(qp_rt_quantize_one(-0.5f, 1.0f, 0, -128, 127) == -1);
	CHECK(qp_rt_quantize_one(2.5f, 1.0f, 0, -128, 127) == 3);
	CHECK(qp_rt_quantize_one(-2.4f, 1.0f, 0, -128, 127) == -2);
	CHECK(qp_rt_quantize_one(1000.0f, 1.0f, 0, -128, 127) == 127);
	CHECK(qp_rt_quantize_one(-1000.0f, 1.0f, 5, -128, 127) == -128);
	CHECK(qp_rt_quantize_one(0.0f / 0.0f, 1.0f, 7, -128, 127) == 7);
	CHECK(qp_rt_quantize_one(1.0f, 0.25f, -128, -128, 127) == -124);
	CHECK(qp_rt_quantize_one(3.0e38f, 1e-30f, 0, -8, 7) == 7);
}

static qp_rt_tensor view(int dtype, int rank, const int32_t *dims, float scale,
			 int32_t zp, void *data)
{
	qp_rt_tensor t;

	memset(&t, 0, sizeof t);
	t.dtype = dtype;
	t.rank = rank;
	memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
	t.scale = scale;
	t.zero_point = zp;
	t.data = data;
	return t;
}

/* x - zp = [[1,2,3],[4,5,6],[7,8,9]] (zp 2), w = [[1,-1],[2,0]], bias 10,
 * multiplier 0.5, output zero point -3. */
static int8_t conv_x[9] = {3, 4, 5, 6, 7, 8, 9, 10, 11};
static int8_t conv_w[4] = {1, -1, 2, 0};
static int32_t conv_b[1] = {10};

static int run_conv(int pad, int32_t act_min, int ho, int8_t *y)
{
	static const int32_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 1, 2, 2}, bd[1] = {1};
	int32_t yd[4] = {1, 1, ho, ho};
	int32_t p[13] = {1, 1, pad, pad, pad, pad, 1, 1, 1, act_min, 127, Q30, 0};
	qp_rt_tensor x = view(QP_RT_INT8, 4, xd, 0.1f, 2, conv_x);
	qp_rt_tensor w = view(QP_RT_INT8, 4, wd, 0, 0, conv_w);
	qp_rt_tensor b = view(QP_RT_INT32, 1, bd, 0, 0, conv_b);
	qp_rt_tensor out = view(QP_RT_INT8, 4, yd, 0.1f, -3, y);
	const qp_rt_tensor *in[3] = {&x, &w, &b}, *o[1] = {&out};
	int st = qp_rt_op_check(QP_OP_QCONV, in, 3, o, 1, p, 13);

	if (st == QP_OK)
		qp_rt_op_run(QP_OP_QCONV, in, 3, o, 1, p, 13);
	return st;
}

static void test_conv(void)
{
	int8_t y[16];

	/* acc = 7+10, 9+10, 13+10, 15+10 = 17, 19, 23, 25; * 0.5 = 8.5, 9.5,
	 * 11.5, 12.5 -> 9, 10, 12, 13 (ties up); - 3. */
	CHECK(run_conv(0, -128, 2, y) == QP_OK);
	CHECK(y[0] == 6 && y[1] == 7 && y[2] == 9 && y[3] == 10);
	/* Fused Relu as the clamp: act_min 8. */
	CHECK(run_conv(0, 8, 2, y) == QP_OK);
	CHECK(y[0] == 8 && y[1] == 8 && y[2] == 9 && y[3] == 10);
	/* Padding 1: out 4x4.  (0,0) sees only x00*w11 = 0 -> 10 -> 5 -> 2;
	 * (0,1) sees x00*w10 + x01*w11 = 2 -> 12 -> 6 -> 3; padding contributes
	 * nothing because it is the zero point. */
	CHECK(run_conv(1, -128, 4, y) == QP_OK);
	CHECK(y[0] == 2 && y[1] == 3);
	/* Wrong output shape is refused. */
	CHECK(run_conv(0, -128, 3, y) == QP_E_PARAM);
}

static int run_pool(int op, const int32_t *p, int np, int ho, int8_t *y)
{
	static const int32_t xd[4] = {1, 1, 3, 3};
	int32_t yd[4] = {1, 1, ho, ho};
	qp_rt_tensor x = view(QP_RT_INT8, 4, xd, 0.1f, 2, conv_x);
	qp_rt_tensor out = view(QP_RT_INT8, 4, yd, 0.1f, 2, y);
	const qp_rt_tensor *in[1] = {&x}, *o[1] = {&out};
	int st = qp_rt_op_check(op, in, 1, o, 1, p, np);

	if (st == QP_OK)
		qp_rt_op_run(op, in, 1, o, 1, p, np);
	return st;
}

static void test_pools(void)
{
	int8_t y[4];
	/* kh kw sh sw pt pl pb pr dh dw */
	static const int32_t mp[10] = {2, 2, 1, 1, 0, 0, 0, 0, 1, 1};
	static const int32_t mp_pad[10] = {2, 2, 2, 2, 1, 1, 1, 1, 1, 1};
	/* kh kw sh sw pt pl pb pr count_include_pad min max mult shift; the
	 * multiplier is 1/4 = (2^30, -1) */
	static const int32_t ap[13] = {2, 2, 1, 1, 0, 0, 0, 0, 0, -128, 127, Q30, -1};
	static const int32_t ap_pad[13] = {2, 2, 2, 2, 1, 1, 1, 1, 0, -128, 127, Q30, -1};

	CHECK(run_pool(QP_OP_QMAXPOOL, mp, 10, 2, y) == QP_OK);
	CHECK(y[0] == 7 && y[1] == 8 && y[2] == 10 && y[3] == 11);
	/* Padded windows: {3}, {4,5}, {6,9}, {7,8,10,11}. */
	CHECK(run_pool(QP_OP_QMAXPOOL, mp_pad, 10, 2, y) == QP_OK);
	CHECK(y[0] == 3 && y[1] == 5 && y[2] == 9 && y[3] == 11);
	/* Sums of x - zp over 2x2 windows: 12, 16, 24, 28; / 4 = 3, 4, 6, 7;
	 * + zp 2. */
	CHECK(run_pool(QP_OP_QAVGPOOL, ap, 13, 2, y) == QP_OK);
	CHECK(y[0] == 5 && y[1] == 6 && y[2] == 8 && y[3] == 9);
	/* Padding not counted: windows {1}, {2,3}, {4,7}, {5,6,8,9}: averages
	 * 1, 2.5, 5.5, 7 -> 1, 3, 6, 7 (ties away); + 2. */
	CHECK(run_pool(QP_OP_QAVGPOOL, ap_pad, 13, 2, y) == QP_OK);
	CHECK(y[0] == 3 && y[1] == 5 && y[2] == 8 && y[3] == 9);
	/* 3 outputs per axis would need ceil_mode and a window starting in
	 * the padding only: refused. */
	CHECK(run_pool(QP_OP_QMAXPOOL, mp_pad, 10, 3, y) == QP_E_PARAM);
}

static void test_gemm_add_mul_softmax(void)
{
	/* gemm: a - zp = [2, 4], w = [[1,2],[-1,3]], b = [0,1] -> 10, 11;
	 * multiplier 1.0, clamp at 10. */
	int8_t a[2] = {3, 5}, w[4] = {1, 2, -1, 3}, y[4];
	int32_t b[2] = {0, 1};
	static const int32_t ad[2] = {1, 2}, wd[2] = {2, 2}, bd[1] = {2}, yd[2] = {1, 2};
	int32_t gp[6] = {-128, 10, Q30, Q30, 1, 1};
	qp_rt_tensor ta = view(QP_RT_INT8, 2, ad, 1, 1, a), tw = view(QP_RT_INT8, 2, wd, 0, 0, w);
	qp_rt_tensor tb = view(QP_RT_INT32, 1, bd, 0, 0, b), ty = view(QP_RT_INT8, 2, yd, 1, 0, y);
	const qp_rt_tensor *in[3] = {&ta, &tw, &tb}, *o[1] = {&ty};

	CHECK(qp_rt_op_check(QP_OP_QGEMM, in, 3, o, 1, gp, 6) == QP_OK);
	qp_rt_op_run(QP_OP_QGEMM, in, 3, o, 1, gp, 6);
	CHECK(y[0] == 10 && y[1] == 10);
	gp[1] = 127;
	qp_rt_op_run(QP_OP_QGEMM, in, 3, o, 1, gp, 6);
	CHECK(y[0] == 10 && y[1] == 11);

	{
		/* add: 10 * 0.5 + 20 * 0.5 = 15 at output scale 1.  twice_max = 1;
		 * input multipliers 0.5 = (2^30, 0); output 2^-20 = (2^30, -19). */
		int8_t x1[1] = {10}, x2[1] = {20}, r[1];
		static const int32_t d1[1] = {1};
		int32_t p[9] = {-128, 127, 20, Q30, Q30, Q30, 0, 0, -19};
		qp_rt_tensor t1 = view(QP_RT_INT8, 1, d1, 0.5f, 0, x1);
		qp_rt_tensor t2 = view(QP_RT_INT8, 1, d1, 0.5f, 0, x2);
		qp_rt_tensor tr = view(QP_RT_INT8, 1, d1, 1, 0, r);
		const qp_rt_tensor *ins[2] = {&t1, &t2}, *outs[1] = {&tr};

		CHECK(qp_rt_op_check(QP_OP_QADD, ins, 2, outs, 1, p, 9) == QP_OK);
		qp_rt_op_run(QP_OP_QADD, ins, 2, outs, 1, p, 9);
		CHECK(r[0] == 15);
	}
	{
		/* mul with broadcasting: [[1,2],[3,4]] * [10,20] = [[10,40],[30,80]]
		 * at multiplier 1.0. */
		int8_t x1[4] = {1, 2, 3, 4}, x2[2] = {10, 20}, r[4];
		static const int32_t d1[2] = {2, 2}, d2[1] = {2};
		int32_t p[4] = {-128, 127, Q30, 1};
		qp_rt_tensor t1 = view(QP_RT_INT8, 2, d1, 1, 0, x1);
		qp_rt_tensor t2 = view(QP_RT_INT8, 1, d2, 1, 0, x2);
		qp_rt_tensor tr = view(QP_RT_INT8, 2, d1, 1, 0, r);
		const qp_rt_tensor *ins[2] = {&t1, &t2}, *outs[1] = {&tr};

		CHECK(qp_rt_op_check(QP_OP_QMUL, ins, 2, outs, 1, p, 4) == QP_OK);
		qp_rt_op_run(QP_OP_QMUL, ins, 2, outs, 1, p, 4);
		CHECK(r[0] == 10 && r[1] == 40 && r[2] == 30 && r[3] == 80);
	}
	{
		/* softmax of two equal values: 0.5 each = 2^29 in Q30; output
		 * scale 1/256, zp -128: multiplier 2^-22 = (2^30, -21);
		 * 2^29 -> 2^28 -> 2^7 = 128; - 128 = 0. */
		int8_t x[2] = {5, 5}, r[2];
		static const int32_t d[1] = {2};
		int32_t p[260];
		qp_rt_tensor tx = view(QP_RT_INT8, 1, d, 0.1f, 0, x);
		qp_rt_tensor tr = view(QP_RT_INT8, 1, d, 1.0f / 256, -128, r);
		const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&tr};
		int i;

		p[0] = -128;
		p[1] = 127;
		p[2] = Q30;
		p[3] = -21;
		for (i = 0; i < 256; i++)
			p[4 + i] = Q30 >> (i < 30 ? i : 30);
		CHECK(qp_rt_op_check(QP_OP_QSOFTMAX, ins, 1, outs, 1, p, 260) == QP_OK);
		qp_rt_op_run(QP_OP_QSOFTMAX, ins, 1, outs, 1, p, 260);
		CHECK(r[0] == 0 && r[1] == 0);
		p[4] = 0;   /* table[0] must keep the row sum positive */
		CHECK(qp_rt_op_check(QP_OP_QSOFTMAX, ins, 1, outs, 1, p, 260) == QP_E_PARAM);
	}
}

/* QLut: y = table[x + 128].  Table entry i is 127 - i (a reversal: -128 -> 127,
 * 127 -> -128), so every output names the entry it came from; the edges
 * -128 and 127 read entries 0 and 255. */
static void test_lut(void)
{
	int8_t x[5] = {-128, -1, 0, 1, 127}, y[5];
	static const int32_t d[2] = {1, 5};
	static const int32_t d4[1] = {4};
	int32_t p[256];
	qp_rt_tensor tx = view(QP_RT_INT8, 2, d, 0.1f, 3, x);
	qp_rt_tensor ty = view(QP_RT_INT8, 2, d, 0.02f, -7, y);
	qp_rt_tensor tbad = view(QP_RT_INT8, 1, d4, 0.02f, -7, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty}, *bad[1] = {&tbad};
	int i;

	for (i = 0; i < 256; i++)
		p[i] = 127 - i;
	CHECK(qp_rt_op_check(QP_OP_QLUT, ins, 1, outs, 1, p, 256) == QP_OK);
	qp_rt_op_run(QP_OP_QLUT, ins, 1, outs, 1, p, 256);
	/* x + 128 = 0, 127, 128, 129, 255 -> 127, 0, -1, -2, -128 */
	CHECK(y[0] == 127 && y[1] == 0 && y[2] == -1 && y[3] == -2 && y[4] == -128);
	/* A table constant but at the edges: only entries 0 and 255 differ. */
	for (i = 0; i < 256; i++)
		p[i] = 5;
	p[0] = -128;
	p[255] = 127;
	qp_rt_op_run(QP_OP_QLUT, ins, 1, outs, 1, p, 256);
	CHECK(y[0] == -128 && y[1] == 5 && y[2] == 5 && y[3] == 5 && y[4] == 127);
	/* Refused: an entry outside int8, a short table, other dims. */
	p[7] = 128;
	CHECK(qp_rt_op_check(QP_OP_QLUT, ins, 1, outs, 1, p, 256) == QP_E_PARAM);
	p[7] = -129;
	CHECK(qp_rt_op_check(QP_OP_QLUT, ins, 1, outs, 1, p, 256) == QP_E_PARAM);
	p[7] = 5;
	CHECK(qp_rt_op_check(QP_OP_QLUT, ins, 1, outs, 1, p, 255) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QLUT, ins, 1, bad, 1, p, 256) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QLUT, ins, 1, outs, 1, p, 256) == QP_OK);
}

/* ---- a whole binary, written byte by byte from docs/binary.md ---------------
 * input f32 [1,4] -> Quantize (s 0.5, zp 1) -> QGemm (w [2,4], b [2],
 * multipliers 0.5, out s 0.25 zp -2) -> Dequantize -> output f32 [1,2]. */
enum { BIN_LEN = 576 };

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_tensor(unsigned char *b, int i, int dt, int rank, const uint32_t *dims,
		       int loc, uint32_t off, uint32_t nbytes, float scale, int32_t zp)
{
	unsigned char *r = b + 64 + 64 * i;
	uint32_t u;
	int k;

	r[0] = (unsigned char)dt;
	r[1] = (unsigned char)rank;
	r[2] = (unsigned char)loc;
	put32(r + 4, off);
	put32(r + 8, nbytes);
	put32(r + 12, (uint32_t)zp);
	memcpy(&u, &scale, 4);
	put32(r + 16, u);
	for (k = 0; k < rank; k++)
		put32(r + 24 + 4 * k, dims[k]);
}

static unsigned char *op_hdr(unsigned char *p, int opcode, int nin, int np)
{
	p[0] = (unsigned char)opcode;
	p[2] = (unsigned char)nin;
	p[4] = 1;
	p[6] = (unsigned char)np;
	return p + 8;
}

static void seal(unsigned char *b, size_t len)
{
	put32(b + len - 8, qp_rt_crc32c(b, len - 8));
}

static void build_binary(unsigned char *b)
{
	static const unsigned char magic[8] = {0x89, 'Q', 'P', 'B', '\r', '\n', 0x1a, '\n'};
	static const uint32_t d14[2] = {1, 4}, d24[2] = {2, 4}, d2[1] = {2}, d12[2] = {1, 2};
	static const int8_t w[8] = {1, 2, 3, 4, -1, -1, 1, 1};
	static const int32_t bias[2] = {1, -2};
	unsigned char *p;
	int k;

	memset(b, 0, BIN_LEN);
	memcpy(b, magic, 8);
	b[8] = QP_BIN_VERSION_MAJOR;     /* major (minor 0) */
	put32(b + 16, BIN_LEN);
	put32(b + 20, 6);              /* tensors */
	put32(b + 24, 3);              /* ops */
	put32(b + 28, 1);
	put32(b + 32, 1);
	put32(b + 36, 18);             /* arena */
	put32(b + 40, 64);
	put32(b + 44, 448);
	put32(b + 48, 88);
	put32(b + 52, 544);
	put32(b + 56, 24);
	put_tensor(b, 0, QP_RT_FLOAT32, 2, d14, QP_LOC_INPUT, 0, 16, 0, 0);
	put_tensor(b, 1, QP_RT_INT8, 2, d14, QP_LOC_ARENA, 0, 4, 0.5f, 1);
	put_tensor(b, 2, QP_RT_INT8, 2, d24, QP_LOC_WEIGHTS, 0, 8, 0, 0);
	put_tensor(b, 3, QP_RT_INT32, 1, d2, QP_LOC_WEIGHTS, 16, 8, 0, 0);
	put_tensor(b, 4, QP_RT_INT8, 2, d12, QP_LOC_ARENA, 16, 2, 0.25f, -2);
	put_tensor(b, 5, QP_RT_FLOAT32, 2, d12, QP_LOC_OUTPUT, 0, 8, 0, 0);
	p = op_hdr(b + 448, QP_OP_QUANTIZE, 1, 2);
	put32(p, 0); put32(p + 4, 1); put32(p + 8, (uint32_t)-128); put32(p + 12, 127);
	p = op_hdr(p + 16, QP_OP_QGEMM, 3, 6);
	put32(p, 1); put32(p + 4, 2); put32(p + 8, 3); put32(p + 12, 4);
	put32(p + 16, (uint32_t)-128); put32(p + 20, 127);
	put32(p + 24, Q30); put32(p + 28, Q30); put32(p + 32, 0); put32(p + 36, 0);
	p = op_hdr(p + 40, QP_OP_DEQUANTIZE, 1, 0);
	put32(p, 4); put32(p + 4, 5);
	memcpy(b + 544, w, 8);
	for (k = 0; k < 2; k++)
		put32(b + 560 + 4 * k, (uint32_t)bias[k]);
	memcpy(b + BIN_LEN - 4, "QPBE", 4);
	seal(b, BIN_LEN);
}

static uint32_t buf_u32[BIN_LEN / 4], copy_u32[BIN_LEN / 4];

static void test_binary_runs(void)
{
	unsigned char *b = (unsigned char *)buf_u32;
	unsigned char arena[18];
	/* x = [1, -0.5, 2, 0.2] -> q = [3, 0, 5, 1] (x/0.5 rounded, + 1);
	 * x - zp = [2, -1, 4, 0]; acc = [2-2+12+0+1, -2+1+4+0-2] = [13, 1];
	 * * 0.5 -> 6.5, 0.5 -> 7, 1; - 2 = [5, -1]; dequant 0.25 * (q + 2) =
	 * [1.75, 0.25]. */
	float x[4] = {1.0f, -0.5f, 2.0f, 0.2f}, y[2] = {0, 0};
	const void *in[1] = {x};
	void *out[1] = {y};
	qp_model m;
	qp_io_info info;

	build_binary(b);
	CHECK(qp_rt_crc32c(b, 100) == qp_crc32c(0, b, 100));   /* two implementations */
	CHECK(qp_model_open(&m, b, BIN_LEN) == QP_OK);
	CHECK(qp_arena_size(&m) == 18);
	CHECK(qp_model_input(&m, 0, &info) == QP_OK && info.numel == 4 && info.rank == 2);
	CHECK(qp_model_output(&m, 0, &info) == QP_OK && info.nbytes == 8);
	CHECK(qp_model_output(&m, 1, &info) == QP_E_ARG);
	CHECK(qp_run(&m, arena, in, out) == QP_OK);
	CHECK(y[0] == 1.75f && y[1] == 0.25f);
	CHECK(qp_run(&m, NULL, in, out) == QP_E_ARG);
}

static void test_binary_rejects(void)
{
	unsigned char *b = (unsigned char *)buf_u32, *c = (unsigned char *)copy_u32;
	size_t k, i;
	int v, accepted = 0;

	build_binary(b);
	/* Every truncated prefix. */
	for (k = 0; k < BIN_LEN; k++)
		if (qp_model_check(b, k) == QP_OK) {
			printf("# prefix %zu accepted\n", k);
			CHECK(0);
		}
	/* Every byte changed: the checksum catches it. */
	for (i = 0; i < BIN_LEN; i++) {
		memcpy(c, b, BIN_LEN);
		c[i] ^= 0x5a;
		if (qp_model_check(c, BIN_LEN) == QP_OK) {
			printf("# flipped byte %zu accepted\n", i);
			CHECK(0);
		}
	}
	/* Every byte changed and the checksum fixed: the validators alone must
	 * refuse it or leave a model that runs without touching memory out of
	 * bounds (run under make asan). */
	for (i = 0; i < BIN_LEN - 8; i++) {
		for (v = 0; v < 3; v++) {
			unsigned char arena[64];
			float x[4] = {1, 2, 3, 4}, y[16];
			const void *in[1] = {x};
			void *out[1] = {y};
			qp_model m;

			memcpy(c, b, BIN_LEN);
			c[i] = v == 0 ? 0 : v == 1 ? 0xff : (unsigned char)(c[i] ^ 0x80);
			seal(c, BIN_LEN);
			if (qp_model_open(&m, c, BIN_LEN) != QP_OK)
				continue;
			accepted++;
			if (qp_arena_size(&m) <= sizeof arena && m.n_inputs == 1 && m.n_outputs == 1) {
				qp_io_info io;

				if (qp_model_input(&m, 0, &io) == QP_OK && io.nbytes <= sizeof x &&
				    qp_model_output(&m, 0, &io) == QP_OK && io.nbytes <= sizeof y)
					CHECK(qp_run(&m, arena, in, out) == QP_OK);
			}
		}
	}
	printf("# %d of %d re-sealed mutations still valid\n", accepted, 3 * (BIN_LEN - 8));
	/* Specific statuses. */
	memcpy(c, b, BIN_LEN);
	c[0] = 'X';
	CHECK(qp_model_check(c, BIN_LEN) == QP_E_MAGIC);
	memcpy(c, b, BIN_LEN);
	c[8] = 2;   /* major 2 */
	CHECK(qp_model_check(c, BIN_LEN) == QP_E_VERSION);
	memcpy(c, b, BIN_LEN);
	c[BIN_LEN - 8] ^= 1;
	CHECK(qp_model_check(c, BIN_LEN) == QP_E_CRC);
	CHECK(qp_model_check(b, BIN_LEN - 1) == QP_E_TRUNCATED);
	CHECK(qp_model_check(b + 1, BIN_LEN - 1) == QP_E_ALIGN);
	CHECK(qp_model_check(NULL, 0) == QP_E_ARG);
	CHECK(strcmp(qp_status_str(QP_E_CRC), "checksum mismatch (corrupted binary)") == 0);
	CHECK(strcmp(qp_status_str(999), "unknown status") == 0);
}

int main(void)
{
	TEST(test_rdivpot);
	TEST(test_requant);
	TEST(test_quantize_multiplier);
	TEST(test_quantize_one);
	TEST(test_conv);
	TEST(test_pools);
	TEST(test_gemm_add_mul_softmax);
	TEST(test_lut);
	TEST(test_binary_runs);
	TEST(test_binary_rejects);
	return CHECK_DONE();
}
