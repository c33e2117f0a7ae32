/* QConcat and QSlice kernels (runtime/kernels.c) against hand calculation.
 * The requantization rule is docs/ir.md section 6: y = zp_y +
 * x_d * M / 2^(31 - shift) rounded once, ties away from zero, saturated to
 * [-128, 127].  Every
 * expected integer is worked out in the comment next to it. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "lowered.h"
#include "qp_runtime.h"
#include "rt_view.h"


#define M075 1610612736   /* 0.75 * 2^31 */
#define M05  (1 << 30)    /* 0.5 * 2^31 */

static void test_multipliers(void)
{
	int32_t m;
	int s;

	/* real = M * 2^(shift - 31): 3 = 0.75 * 2^2, 0.5 = 0.5 * 2^0,
	 * 0.125 = 0.5 * 2^-2, 1 = 0.5 * 2^1 (the copy's). */
	CHECK(qp_quantize_multiplier(3.0, &m, &s) == 0 && m == M075 && s == 2);
	CHECK(qp_quantize_multiplier(0.5, &m, &s) == 0 && m == M05 && s == 0);
	CHECK(qp_quantize_multiplier(0.125, &m, &s) == 0 && m == M05 && s == -2);
	CHECK(qp_quantize_multiplier(1.0, &m, &s) == 0 && m == M05 && s == 1);
}

/* y [2, 7] = concat on axis 1 of A [2, 2], B [2, 2], C [2, 2], D [2, 1];
 * y has scale 0.5, zero point -2. */
static void test_concat(void)
{
	static const int32_t d2[2] = {2, 2}, d1[2] = {2, 1}, dy[2] = {2, 7};
	static const int32_t dbad[2] = {3, 2}, dy8[2] = {2, 8};
	int8_t a[4] = {-128, 127, 5, -7};   /* A: y's parameters: copied as is */
	int8_t b[4] = {47, 48, -38, -40};   /* B: s 1.5, zp 4: real 3 */
	int8_t c[4] = {3, -3, 5, -128};     /* C: s 0.25, zp 0: real 0.5 */
	int8_t d[2] = {7, -11};             /* D: s 0.0625, zp 1: real 0.125 */
	int8_t y[16];
	qp_rt_tensor ta = view(2, d2, 0.5f, -2, a), tb = view(2, d2, 1.5f, 4, b);
	qp_rt_tensor tc = view(2, d2, 0.25f, 0, c), td = view(2, d1, 0.0625f, 1, d);
	qp_rt_tensor ty = view(2, dy, 0.5f, -2, y), tbad = view(2, dbad, 1.5f, 4, b);
	qp_rt_tensor ty8 = view(2, dy8, 0.5f, -2, y);
	const qp_rt_tensor *ins[4] = {&ta, &tb, &tc, &td}, *outs[1] = {&ty};
	const qp_rt_tensor *bad_in[4] = {&ta, &tbad, &tc, &td}, *bad_out[1] = {&ty8};
	/* axis, multipliers, shifts; A's are 1.0's, which the copy ignores. */
	int32_t p[9] = {1, M05, M075, M05, M05, 1, 2, 0, -2};
	static const int8_t want[14] = {
		/* row 0: A copied; B: x_d 43 -> 43 * 4 * 0.75 = 129 - 2 = 127;
		 * x_d 44 -> 132 - 2 = 130 saturates to 127; C: x_d 3 ->
		 * 1.5 rounds up to 2 -> 0; x_d -3 -> -1.5 ties away from zero
		 * to -2 -> -4 (rounding twice, SRDHM's tie toward +infinity,
		 * gave -3); D: x_d 6 -> 6 / 8 = 0.75 -> 1 -> -1 */
		-128, 127, 127, 127, 0, -4, -1,
		/* row 1: A copied; B: x_d -42 -> -126 - 2 = -128; x_d -44 ->
		 * -132 - 2 = -134 saturates to -128; C: x_d 5 -> 2.5 rounds up
		 * to 3 -> 1; x_d -128 -> -64 -> -66; D: x_d -12 -> -12 / 8 =
		 * -1.5 ties away from zero to -2 -> -4 */
		5, -7, -128, -128, 1, -66, -4,
	};
	int i, ok = 1;

	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, outs, 1, p, 9) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QCONCAT, ins, 4, outs, 1, p, 9);
	for (i = 0; i < 14; i++)
		ok &= y[i] == want[i];
	CHECK(ok);
	for (i = 0; !ok && i < 14; i++)
		printf("# y[%d] = %d, want %d\n", i, y[i], want[i]);
	CHECK(y[14] == 0x55);   /* nothing written past y */

	/* Refused: parameter count, axis, a dim off the axis, axis sum,
	 * negative multiplier, shift out of range. */
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, outs, 1, p, 8) == QP_E_PARAM);
	p[0] = 2;
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, outs, 1, p, 9) == QP_E_PARAM);
	p[0] = 1;
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, bad_in, 4, outs, 1, p, 9) == QP_E_PARAM);
	outs[0] = &ty8;
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, bad_out, 1, p, 9) == QP_E_PARAM);
	outs[0] = &ty;
	p[2] = -1;
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, outs, 1, p, 9) == QP_E_PARAM);
	p[2] = M075;
	p[6] = 31;
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, outs, 1, p, 9) == QP_E_PARAM);
	p[6] = 2;
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 4, outs, 1, p, 9) == QP_OK);
	/* More inputs than the runtime's limit is a bad record. */
	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, QP_RT_MAX_INPUTS + 1, outs, 1, p, 9) == QP_E_OP);
}

/* Axis 0, one input with other parameters: the row blocks follow each
 * other.  y [3, 2] = concat(A [1, 2] copied, B [2, 2] at real 3). */
static void test_concat_axis0(void)
{
	static const int32_t da[2] = {1, 2}, db[2] = {2, 2}, dy[2] = {3, 2};
	int8_t a[2] = {9, -9}, b[4] = {4, 5, 3, 6}, y[6];
	qp_rt_tensor ta = view(2, da, 0.5f, -2, a), tb = view(2, db, 1.5f, 4, b);
	qp_rt_tensor ty = view(2, dy, 0.5f, -2, y);
	const qp_rt_tensor *ins[2] = {&ta, &tb}, *outs[1] = {&ty};
	int32_t p[5] = {0, M05, M075, 1, 2};

	CHECK(qp_rt_op_check(QP_OP_QCONCAT, ins, 2, outs, 1, p, 5) == QP_OK);
	qp_rt_op_run(QP_OP_QCONCAT, ins, 2, outs, 1, p, 5);
	/* B: x_d 0, 1, -1, 2 -> 3 x_d - 2 = -2, 1, -5, 4 */
	CHECK(y[0] == 9 && y[1] == -9 && y[2] == -2 && y[3] == 1 && y[4] == -5 && y[5] == 4);
}

static void test_slice(void)
{
	static const int32_t dx[2] = {2, 5}, dy[2] = {1, 3}, dy2[2] = {1, 2};
	int8_t x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, y[3];
	qp_rt_tensor tx = view(2, dx, 0.1f, 3, x), ty = view(2, dy, 0.1f, 3, y);
	qp_rt_tensor tyq = view(2, dy, 0.2f, 3, y), ty2 = view(2, dy2, 0.1f, 3, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	const qp_rt_tensor *other_q[1] = {&tyq}, *short_y[1] = {&ty2};
	/* Row 1; columns 4, 2, 0 (step -2, end -1: before column 0). */
	int32_t p[6] = {1, 4, 2, -1, 1, -2};

	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, outs, 1, p, 6) == QP_OK);
	qp_rt_op_run(QP_OP_QSLICE, ins, 1, outs, 1, p, 6);
	CHECK(y[0] == 9 && y[1] == 7 && y[2] == 5);
	/* Refused: other parameters, dims that are not the counts, start
	 * out of range, step 0. */
	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, other_q, 1, p, 6) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, short_y, 1, p, 6) == QP_E_PARAM);
	p[0] = 2;
	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, outs, 1, p, 6) == QP_E_PARAM);
	p[0] = 1;
	p[4] = 0;
	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, outs, 1, p, 6) == QP_E_PARAM);
	p[4] = 1;
	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, outs, 1, p, 5) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QSLICE, ins, 1, outs, 1, p, 6) == QP_OK);
}

int main(void)
{
	TEST(test_multipliers);
	TEST(test_concat);
	TEST(test_concat_axis0);
	TEST(test_slice);
	return CHECK_DONE();
}
