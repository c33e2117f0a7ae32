/* QMul and QAdd with numpy broadcasting, Sub as QAdd with a negated
 * multiplier, and QAffine (runtime/kernels.c), against hand calculation.
 * The requantization rule is docs/ir.md section 6: requant(x, M, shift) =
 * x * M / 2^(31 - shift) rounded once, ties away from zero; QAffine's
 * offset step rdivpot rounds ties away from zero.  Every expected integer is
 * worked out in the comment next to it. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"

/* Scale 1: these kernels read only the zero points and the multipliers. */
static qp_rt_tensor view1(int rank, const int32_t *dims, int32_t zp, void *data)
{
	return view(rank, dims, 1.0f, zp, data);
}

#define M075 1610612736   /* 0.75 * 2^31 */
#define M05  (1 << 30)    /* 0.5 * 2^31 */


/* Squeeze-excite: a [1, 2, 1, 3] times the gate b [1, 2, 1, 1], real
 * multiplier 0.5, zero points a 0, b 1, y -1. */
static void test_mul_broadcast(void)
{
	static const int32_t da[4] = {1, 2, 1, 3}, db[4] = {1, 2, 1, 1};
	static const int32_t dbad[4] = {1, 2, 1, 2};
	int8_t a[6] = {4, -3, 100, 7, -5, 127};
	int8_t b[2] = {4, -2};   /* b_d 3 and -3 */
	int8_t y[6];
	qp_rt_tensor ta = view1(4, da, 0, a), tb = view1(4, db, 1, b);
	qp_rt_tensor ty = view1(4, da, -1, y), tbad = view1(4, dbad, -1, y);
	const qp_rt_tensor *ins[2] = {&ta, &tb}, *outs[1] = {&ty}, *bad[1] = {&tbad};
	int32_t p[4] = {-128, 127, M05, 0};
	static const int8_t want[6] = {
		/* channel 0, b_d 3: 12 * 0.5 = 6 -> 5; -9 * 0.5 = -4.5 ties away
		 * to -5 -> -6; 300 * 0.5 = 150 -> 149 saturates to 127 */
		5, -6, 127,
		/* channel 1, b_d -3: -21 -> -10.5 ties away to -11 -> -12; 15 ->
		 * 7.5 -> 8 -> 7; -381 -> -190.5 -> -191 -> -192 saturates */
		-12, 7, -128,
	};

	CHECK(qp_rt_op_check(QP_OP_QMUL, ins, 2, outs, 1, p, 4) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QMUL, ins, 2, outs, 1, p, 4);
	CHECK(same(y, want, 6));
	/* The output must be the broadcast shape. */
	CHECK(qp_rt_op_check(QP_OP_QMUL, ins, 2, bad, 1, p, 4) == QP_E_PARAM);
}

/* a [2, 1] and b [3] broadcast both ways to y [2, 3] (different ranks);
 * left_shift 0, a at real 1 (M05, shift 1: exact), b at 0.5, y at 1,
 * zero points 0, 0 and 2.  Add, then Sub: b's multiplier negated. */
static void test_add_sub_broadcast(void)
{
	static const int32_t da[2] = {2, 1}, db[1] = {3}, dy[2] = {2, 3};
	static const int32_t dbad[2] = {2, 4};
	int8_t a[2] = {120, -7}, b[3] = {3, -3, 120}, y[8];
	qp_rt_tensor ta = view1(2, da, 0, a), tb = view1(1, db, 0, b);
	qp_rt_tensor ty = view1(2, dy, 2, y), tbad = view1(2, dbad, 2, y);
	const qp_rt_tensor *ins[2] = {&ta, &tb}, *outs[1] = {&ty}, *bad[1] = {&tbad};
	int32_t p[9] = {-128, 127, 0, M05, M05, M05, 1, 0, 1};
	static const int8_t want_add[6] = {
		/* b / 2: 1.5 ties away to 2, -1.5 to -2, 60.  Row 0: 120 + 2 + 2
		 * = 124, 120 - 2 + 2 = 120, 120 + 60 + 2 = 182 saturates */
		124, 120, 127,
		/* row 1: -7 + 2 + 2, -7 - 2 + 2, -7 + 60 + 2 */
		-3, -7, 55,
	};
	static const int8_t want_sub[6] = {
		/* -b / 2: -1.5 ties away to -2, 1.5 to 2, -60 (exactly Add's
		 * negation: the rounding is symmetric).  Row 0: 120 - 2 + 2,
		 * 120 + 2 + 2, 120 - 60 + 2 */
		120, 124, 62,
		/* row 1: -7 - 2 + 2, -7 + 2 + 2, -7 - 60 + 2 */
		-7, -3, -65,
	};

	CHECK(qp_rt_op_check(QP_OP_QADD, ins, 2, outs, 1, p, 9) == QP_OK);
	qp_rt_op_run(QP_OP_QADD, ins, 2, outs, 1, p, 9);
	CHECK(same(y, want_add, 6));
	CHECK(qp_rt_op_check(QP_OP_QADD, ins, 2, bad, 1, p, 9) == QP_E_PARAM);
	p[4] = -M05;
	CHECK(qp_rt_op_check(QP_OP_QADD, ins, 2, outs, 1, p, 9) == QP_OK);
	qp_rt_op_run(QP_OP_QADD, ins, 2, outs, 1, p, 9);
	CHECK(same(y, want_sub, 6));
	/* Only b's multiplier may be negative, and not -2^31. */
	p[4] = INT32_MIN;
	CHECK(qp_rt_op_check(QP_OP_QADD, ins, 2, outs, 1, p, 9) == QP_E_PARAM);
	p[4] = M05;
	p[3] = -M05;
	CHECK(qp_rt_op_check(QP_OP_QADD, ins, 2, outs, 1, p, 9) == QP_E_PARAM);
}

/* x [1, 2, 3] on axis 1, frac_bits 2, zero points x 1, y -3, range
 * [-45, 127].  Channel 0: (M05, 1) = real 1, offset 5; channel 1: (-M075,
 * 3) = real -6, offset -2.  y = rdivpot(requant(x_d) + offset, 2) - 3. */
static void test_affine(void)
{
	static const int32_t dx[3] = {1, 2, 3}, d3[3] = {1, 3, 2};
	int8_t x[6] = {2, -10, 127, -128, 0, 30}, y[6];
	qp_rt_tensor tx = view1(3, dx, 1, x), ty = view1(3, dx, -3, y);
	qp_rt_tensor tx3 = view1(3, d3, 1, x), ty3 = view1(3, d3, -3, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	const qp_rt_tensor *ins3[1] = {&tx3}, *outs3[1] = {&ty3};
	int32_t p[10] = {1, -45, 127, 2, M05, -M075, 1, 3, 5, -2};
	static const int8_t want[6] = {
		/* x_d 1: (1 + 5) / 4 = 1.5 ties away to 2 -> -1; x_d -11: -6 / 4
		 * = -1.5 ties away to -2 -> -5; x_d 126: 131 / 4 = 32.75 -> 33
		 * -> 30 */
		-1, -5, 30,
		/* x_d -129: (774 - 2) / 4 = 193 -> 190 saturates to 127; x_d -1:
		 * 4 / 4 = 1 -> -2; x_d 29: -176 / 4 = -44 -> -47, below act_min */
		127, -2, -45,
	};

	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins, 1, outs, 1, p, 10) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QAFFINE, ins, 1, outs, 1, p, 10);
	CHECK(same(y, want, 6));
	/* Three per-channel vectors of C = dims[axis] values, nothing else. */
	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins, 1, outs, 1, p, 9) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins3, 1, outs3, 1, p, 10) == QP_E_PARAM);
	p[0] = 3;
	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins, 1, outs, 1, p, 10) == QP_E_PARAM);
	p[0] = 1;
	p[3] = 17;
	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins, 1, outs, 1, p, 10) == QP_E_PARAM);
	p[3] = 2;
	p[5] = INT32_MIN;
	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins, 1, outs, 1, p, 10) == QP_E_PARAM);
	p[5] = -M075;
	p[7] = 31;
	CHECK(qp_rt_op_check(QP_OP_QAFFINE, ins, 1, outs, 1, p, 10) == QP_E_PARAM);
}

int main(void)
{
	TEST(test_mul_broadcast);
	TEST(test_add_sub_broadcast);
	TEST(test_affine);
	return CHECK_DONE();
}
