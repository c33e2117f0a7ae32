/* ReduceMean's integer arithmetic (docs/ir.md section 6) against hand
 * calculation.  lower makes a ReduceMean over any axes one QAvgPool over
 * the view [outer, 1, len, inner] with a [len, 1] window (the reduced
 * axes' elements of each output are len values inner apart), so the reduce
 * kernel is run_avgpool in that layout: acc = sum (x - zp_x) in int64, then
 * one requantization by qp_rt_requant with the real multiplier
 * s_x / (len s_y), y = clamp(requant + zp_y, act_min, act_max).  The
 * requantization rounds acc M / 2^n, n = 31 - shift, once, ties away from
 * zero: with p = acc M, floor((p + 2^(n-1)) / 2^n) for p >= 0,
 * -floor((-p + 2^(n-1)) / 2^n) for p < 0.  Every expected integer is worked
 * out in the comment next to it. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"

/* params: kernel_shape[2] strides[2] pads[4] count_include_pad act_min
 * act_max multiplier shift */
static void params(int32_t *p, int32_t len, int32_t lo, int32_t hi, int32_t m, int32_t sh)
{
	int32_t v[13] = {len, 1, 1, 1, 0, 0, 0, 0, 0, lo, hi, m, sh};

	memcpy(p, v, sizeof v);
}

/* Mean over axis 1 of [2, 2, 3] (outer 2, len 2, inner 3): s_x = s_y, so
 * the real multiplier is 1/2 = 0.5 * 2^0: multiplier 2^30, shift 0, and
 * y = acc / 2 rounded half away from zero, + zp_y.  zp_x 1, zp_y 5, act range
 * [-120, 127]. */
static void test_mean_axis1_ties_saturation(void)
{
	static const int32_t dx[4] = {2, 1, 2, 3}, dy[4] = {2, 1, 1, 3};
	int8_t x[12] = {
		4, -2, 10,       /* outer 0, len 0 */
		1, 3, -7,        /* outer 0, len 1 */
		127, 127, -128,  /* outer 1, len 0 */
		127, 100, -128,  /* outer 1, len 1 */
	}, y[6];
	qp_rt_tensor tx = view(4, dx, 0.5f, 1, x), ty = view(4, dy, 0.5f, 5, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	int32_t p[13];
	/* x - zp: outer 0: (3, -3, 9) and (0, 2, -8): sums 3, -1, 1.
	 *   3 / 2 = 1.5, a tie: away from zero to 2 -> 7
	 *  -1 / 2 = -0.5, a tie: away from zero to -1 -> 4 (ties toward
	 *   +infinity would give 0 -> 5)
	 *   1 / 2 = 0.5, a tie: 1 -> 6
	 * outer 1: (126, 126, -129) and (126, 99, -129): sums 252, 225, -258.
	 *   126 + 5 = 131: saturates at act_max 127
	 *   112.5, a tie: 113 + 5 = 118
	 *   -129 exactly, + 5 = -124: saturates at act_min -120 */
	static const int8_t want[6] = {7, 4, 6, 127, 118, -120};

	params(p, 2, -120, 127, 1 << 30, 0);
	CHECK(qp_rt_op_check(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13);
	CHECK(same(y, want, 6));
	/* The requantization alone, at the ties: acc / 2, half away from zero
	 * (ties toward +infinity would give 0 and -1 for -1 and -3). */
	CHECK(qp_rt_requant(3, 1 << 30, 0) == 2);
	CHECK(qp_rt_requant(-1, 1 << 30, 0) == -1);
	CHECK(qp_rt_requant(-3, 1 << 30, 0) == -2);
	CHECK(qp_rt_requant(225, 1 << 30, 0) == 113);
}

#define M13 1431655765   /* round(2/3 * 2^31): 1/3 = (2/3) * 2^-1 */

/* Mean over (1, 2, 3) of [2, 3, 1, 1] as outer 2, len 3, inner 1, and an
 * output scale 4 times the input's: real 1 / (3 * 4) = 1/12 = (2/3) 2^-3,
 * multiplier M13, shift -3, y = acc M13 / 2^34 to nearest (no ties here)
 * + zp_y.
 * zp_x -10, zp_y 0. */
static void test_mean_thirds(void)
{
	static const int32_t dx[4] = {2, 1, 3, 1}, dy[4] = {2, 1, 1, 1};
	int8_t x[6] = {20, 40, 7, -128, -100, -50}, y[2];
	qp_rt_tensor tx = view(4, dx, 0.25f, -10, x), ty = view(4, dy, 1.0f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	int32_t p[13];
	/* outer 0: 30 + 50 + 17 = 97; 97 / 12 = 8.083 -> 8
	 * outer 1: -118 - 90 - 40 = -248; -248 / 12 = -20.667 -> -21 */
	static const int8_t want[2] = {8, -21};

	params(p, 3, -128, 127, M13, -3);
	CHECK(qp_rt_op_check(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13) == QP_OK);
	qp_rt_op_run(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13);
	CHECK(same(y, want, 2));
	/* The window must cover the whole reduced run: a [2, 1] window over
	 * len 3 gives 2 outputs per column, not 1. */
	p[0] = 2;
	CHECK(qp_rt_op_check(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13) == QP_E_PARAM);
}

int main(void)
{
	TEST(test_mean_axis1_ties_saturation);
	TEST(test_mean_thirds);
	return CHECK_DONE();
}
