/* QPRelu (runtime/kernels.c) against hand calculation.  The rule is
 * docs/ir.md section 6: with d = x - zp_x, y = clamp(R(d, pos) + zp_y) for
 * d >= 0 and clamp(R(d, neg[c]) + zp_y) for d < 0, where R(x, M, shift) =
 * x M / 2^n, n = 31 - shift, rounded once, ties away from zero (for p = x M
 * >= 0, floor((p + 2^(n-1)) / 2^n), for p < 0, -floor((-p + 2^(n-1)) /
 * 2^n)); a negative slope is a negative neg multiplier.  Every expected
 * integer is worked out in the comment next to it. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"

#define M075 1610612736   /* 0.75 * 2^31 */
#define M05  (1 << 30)    /* 0.5 * 2^31 */

/* x [1, 2, 1, 3] on axis 1, zp_x 2, zp_y -1.  Positive side real 0.75
 * (M075, shift 0); channel 0's slope side real -0.5 (-M05, shift 0),
 * channel 1's 1.5 (M075, shift 1). */
static void test_prelu_channels(void)
{
	static const int32_t dx[4] = {1, 2, 1, 3};
	int8_t x[6] = {4, -1, -128, 127, -128, -3};
	int8_t y[6];
	qp_rt_tensor tx = view(4, dx, 0.1f, 2, x), ty = view(4, dx, 0.2f, -1, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	int32_t p[9] = {1, -128, 127, M075, 0, -M05, M075, 0, 1};
	static const int8_t want[6] = {
		/* channel 0.  d = 2: 2 * 0.75 = 1.5, a tie, away to 2 -> 1.
		 * d = -3: -3 * -0.5 = 1.5: (3 2^30 + 2^30) / 2^31 = 2 -> 1.
		 * d = -130: 65 exactly -> 64 */
		1, 1, 64,
		/* channel 1.  d = 125: 93.75 -> 94 -> 93.  d = -130: -195 ->
		 * -196, saturates to -128.  d = -5: -7.5, a negative tie, away
		 * from zero: -floor((5 * M075 + 2^29) / 2^30) = -8 -> -9 (ties
		 * toward +infinity would give -7 -> -8) */
		93, -128, -9,
	};

	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, p, 9) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QPRELU, ins, 1, outs, 1, p, 9);
	CHECK(same(y, want, 6));
}

/* x = zp_x is the real 0 on both sides: y = zp_y.  act_min/act_max clamp:
 * a range [-1, 10] (a fused bound) holds d = 100 at 10. */
static void test_prelu_zero_and_range(void)
{
	static const int32_t dx[2] = {1, 3};
	int8_t x[3] = {-5, 95, -6};
	int8_t y[3];
	qp_rt_tensor tx = view(2, dx, 1.0f, -5, x), ty = view(2, dx, 1.0f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	/* One channel on axis 0 (dims[0] = 1); slope side 0 (multiplier 0). */
	int32_t p[7] = {0, -1, 10, M05, 1, 0, 0};
	/* d = 0 -> 0; d = 100, real 1 (M05, shift 1: exact) -> 100 -> 10;
	 * d = -1, slope 0 -> 0 */
	static const int8_t want[3] = {0, 10, 0};

	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, p, 7) == QP_OK);
	qp_rt_op_run(QP_OP_QPRELU, ins, 1, outs, 1, p, 7);
	CHECK(same(y, want, 3));
}

/* What the check refuses: a channel count that is not x's extent on axis,
 * an axis out of range, a multiplier of -2^31, an odd parameter count. */
static void test_prelu_check(void)
{
	static const int32_t dx[4] = {1, 2, 1, 3};
	int8_t x[6] = {0}, y[6];
	qp_rt_tensor tx = view(4, dx, 0.1f, 0, x), ty = view(4, dx, 0.1f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	int32_t three[11] = {1, -128, 127, M05, 0, M05, M05, M05, 0, 0, 0};
	int32_t axis[9] = {4, -128, 127, M05, 0, M05, M05, 0, 0};
	int32_t minm[9] = {1, -128, 127, M05, 0, INT32_MIN, M05, 0, 0};
	int32_t negpos[9] = {1, -128, 127, -M05, 0, M05, M05, 0, 0};

	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, three, 11) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, axis, 9) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, minm, 9) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, negpos, 9) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QPRELU, ins, 1, outs, 1, axis, 8) == QP_E_PARAM);
}

int main(void)
{
	TEST(test_prelu_channels);
	TEST(test_prelu_zero_and_range);
	TEST(test_prelu_check);
	return CHECK_DONE();
}
