/* 1-d pools and QResize (runtime/kernels.c) against hand calculation.
 * Pools over [N, C, L] use the 2-d records with a window of height 1
 * (docs/ir.md section 6).  QResize's coordinates follow ONNX Resize's
 * coordinate_transformation_mode and nearest_mode; bilinear rounds the
 * weighted sum once, half away from zero (TFLite's ResizeBilinearInteger).
 * Every expected integer is worked out in the comment next to it. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"



static void test_maxpool_1d(void)
{
	static const int32_t dx[3] = {1, 1, 5}, dy[3] = {1, 1, 3}, dy4[3] = {1, 1, 4};
	int8_t x[5] = {3, -7, 10, 2, -128}, y[4];
	qp_rt_tensor tx = view(3, dx, 0.1f, 0, x), ty = view(3, dy, 0.1f, 0, y);
	qp_rt_tensor ty4 = view(3, dy4, 0.1f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty}, *outs4[1] = {&ty4};
	/* kernel [1, 3], strides [1, 2], pads [0, 1, 0, 1], dilations [1, 1] */
	int32_t p[10] = {1, 3, 1, 2, 0, 1, 0, 1, 1, 1};
	/* Windows over padded positions -1..1, 1..3, 3..5; padding skipped:
	 * max(3, -7) = 3, max(-7, 10, 2) = 10, max(2, -128) = 2. */
	static const int8_t want[3] = {3, 10, 2};
	/* kernel 2, dilation 2, stride 1, no padding: (0, 2), (1, 3), (2, 4):
	 * max(3, 10) = 10, max(-7, 2) = 2, max(10, -128) = 10. */
	int32_t pd[10] = {1, 2, 1, 1, 0, 0, 0, 0, 1, 2};
	static const int8_t want_d[3] = {10, 2, 10};

	CHECK(qp_rt_op_check(QP_OP_QMAXPOOL, ins, 1, outs, 1, p, 10) == QP_OK);
	qp_rt_op_run(QP_OP_QMAXPOOL, ins, 1, outs, 1, p, 10);
	CHECK(same(y, want, 3));
	CHECK(qp_rt_op_check(QP_OP_QMAXPOOL, ins, 1, outs, 1, pd, 10) == QP_OK);
	qp_rt_op_run(QP_OP_QMAXPOOL, ins, 1, outs, 1, pd, 10);
	CHECK(same(y, want_d, 3));
	/* A window of height 2 does not fit the height 1 of [N, C, L]. */
	p[0] = 2;
	CHECK(qp_rt_op_check(QP_OP_QMAXPOOL, ins, 1, outs, 1, p, 10) == QP_E_PARAM);
	p[0] = 1;
	/* ceil_mode (PyTorch's rule): kernel 2, stride 2, pads 1, 1 over 5
	 * gives ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the fourth would
	 * start at padded position 6 >= 5 + 1, in the end padding: dropped,
	 * so 3, as floor gives; 4 is refused. */
	{
		int32_t pc[10] = {1, 2, 1, 2, 0, 1, 0, 1, 1, 1};
		static const int8_t want_c[3] = {3, 10, 2};   /* (-1, 0) (1, 2) (3, 4) */

		CHECK(qp_rt_op_check(QP_OP_QMAXPOOL, ins, 1, outs4, 1, pc, 10) == QP_E_PARAM);
		CHECK(qp_rt_op_check(QP_OP_QMAXPOOL, ins, 1, outs, 1, pc, 10) == QP_OK);
		qp_rt_op_run(QP_OP_QMAXPOOL, ins, 1, outs, 1, pc, 10);
		CHECK(same(y, want_c, 3));
	}
}

#define M13 1431655765   /* round(2/3 * 2^31): 1/3 = (2/3) * 2^-1 */

static void test_avgpool_1d(void)
{
	static const int32_t d[3] = {1, 1, 4};
	int8_t x[4] = {10, -3, 7, 100}, y[4];
	/* Equal scales, so the real multiplier is 1 / 3 (the full window). */
	qp_rt_tensor tx = view(3, d, 0.5f, 2, x), ty = view(3, d, 0.5f, -1, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	/* kernel [1, 3], strides 1, pads [0, 1, 0, 1], count_include_pad 0,
	 * act range, multiplier, shift */
	int32_t p[13] = {1, 3, 1, 1, 0, 1, 0, 1, 0, -128, 127, M13, -1};
	/* x - zp = 8, -5, 5, 98.  count_include_pad 0: the edge windows hold 2
	 * values and are rescaled to the full window first, rounded half
	 * away from zero; then acc * M13 / 2^32 (= acc / 3, M13 a hair below
	 * 2/3 * 2^31) rounded once, + zp -1.
	 * w0: 8 - 5 = 3 -> 3 * 3 / 2 = 4.5 -> 5; 1.67 -> 2; 1
	 * w1: 8 - 5 + 5 = 8; 2.67 -> 3; 2
	 * w2: -5 + 5 + 98 = 98; 32.67 -> 33; 32
	 * w3: 5 + 98 = 103 -> 309 / 2 = 154.5 -> 155; 51.67 -> 52; 51 */
	static const int8_t want[4] = {1, 2, 32, 51};
	/* count_include_pad 1: every window counts 3 (the padded input).
	 * w0: 3 -> 0.99999... -> 1; 0.  w3: 103 -> 34.33 -> 34; 33 (rounding
	 * twice, SRDHM 68.67 -> 69 then 34.5 -> 35, gave 34). */
	static const int8_t want_cip[4] = {0, 2, 32, 33};

	CHECK(qp_rt_op_check(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13) == QP_OK);
	qp_rt_op_run(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13);
	CHECK(same(y, want, 4));
	p[8] = 1;
	CHECK(qp_rt_op_check(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13) == QP_OK);
	qp_rt_op_run(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13);
	CHECK(same(y, want_cip, 4));
	/* Padding on the height of [N, C, L] is refused. */
	p[4] = 1;
	CHECK(qp_rt_op_check(QP_OP_QAVGPOOL, ins, 1, outs, 1, p, 13) == QP_E_PARAM);
}

/* params: mode coord nearest num_h num_w den_h den_w: each axis's
 * input/output ratio num / den */
static void test_resize_nearest(void)
{
	static const int32_t dx[4] = {1, 1, 2, 3}, dy[4] = {1, 1, 4, 6};
	static const int32_t d4[3] = {1, 1, 4}, d2[3] = {1, 1, 2};
	int8_t x[6] = {1, 2, 3, 4, 5, 6}, y[24];
	int8_t x4[4] = {10, 20, 30, 40}, y2[2];
	qp_rt_tensor tx = view(4, dx, 0.1f, 3, x), ty = view(4, dy, 0.1f, 3, y);
	qp_rt_tensor tx4 = view(3, d4, 0.1f, 3, x4), ty2 = view(3, d2, 0.1f, 3, y2);
	qp_rt_tensor tbad = view(4, dy, 0.1f, 4, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty}, *bad[1] = {&tbad};
	const qp_rt_tensor *ins4[1] = {&tx4}, *outs2[1] = {&ty2};
	/* x2, asymmetric, floor (F.interpolate nearest): source o * 1/2
	 * floored: rows 0 0 1 1, columns 0 0 1 1 2 2. */
	int32_t p[7] = {0, 0, 0, 1, 1, 2, 2};
	static const int8_t want[24] = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3,
					4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
	/* 4 -> 2 (ratio 2 / 1), half_pixel: (o + 1/2) * 2 - 1/2 =
	 * 0.5, 2.5, both ties: round_prefer_floor 0, 2; round_prefer_ceil
	 * 1, 3; floor 0, 2; ceil 1, 3.  asymmetric: 2 o = 0, 2.
	 * tf_half_pixel_for_nearest: (o + 1/2) * 2 = 1, 3. */
	static const struct { int32_t coord, rule; int8_t a, b; } cases[] = {
		{1, 2, 10, 30}, {1, 3, 20, 40}, {1, 0, 10, 30}, {1, 1, 20, 40},
		{0, 0, 10, 30}, {2, 0, 20, 40},
	};
	size_t i;

	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7);
	CHECK(same(y, want, 24));
	/* x2 half_pixel round_prefer_floor: (o + 1/2) / 2 - 1/2 = -0.25, 0.25,
	 * 0.75, 1.25, ... round to 0 0 1 1 ...: the same picture. */
	p[1] = 1, p[2] = 2;
	qp_rt_op_run(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7);
	CHECK(same(y, want, 24));
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int32_t q[7] = {0, cases[i].coord, cases[i].rule, 1, 2, 1, 1};

		CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins4, 1, outs2, 1, q, 7) == QP_OK);
		qp_rt_op_run(QP_OP_QRESIZE, ins4, 1, outs2, 1, q, 7);
		CHECK(y2[0] == cases[i].a && y2[1] == cases[i].b);
	}
	/* Refused: other output parameters, an unknown coord or rule, a
	 * negative numerator, a zero denominator, a missing parameter. */
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, bad, 1, p, 7) == QP_E_PARAM);
	p[1] = 3;
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_E_PARAM);
	p[1] = 1, p[2] = 4;
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_E_PARAM);
	p[2] = 0, p[3] = -1;
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_E_PARAM);
	p[3] = 1, p[5] = 0;
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_E_PARAM);
	p[5] = 2;
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 6) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_OK);
}

static void test_resize_bilinear(void)
{
	static const int32_t dx[4] = {1, 1, 2, 2}, dy[4] = {1, 1, 3, 3};
	static const int32_t d2[3] = {1, 1, 2}, d4[3] = {1, 1, 4};
	int8_t x[4] = {0, 101, -51, 20}, y[9];
	int8_t x2[2] = {-3, 4}, y4[4];
	qp_rt_tensor tx = view(4, dx, 0.1f, -5, x), ty = view(4, dy, 0.1f, -5, y);
	qp_rt_tensor tx2 = view(3, d2, 0.1f, 0, x2), ty4 = view(3, d4, 0.1f, 0, y4);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	const qp_rt_tensor *ins2[1] = {&tx2}, *outs4[1] = {&ty4};
	/* align_corners 2x2 -> 3x3: ratio (2 - 1) / (3 - 1) = 1/2, coord 0;
	 * coordinates 0, 1/2, 1 on both axes.  Codes are interpolated as
	 * they are (the weights sum to one, so the zero point cancels), ties
	 * away from zero:
	 * row 0: 0, (0 + 101) / 2 = 50.5 -> 51, 101
	 * row 1: (0 - 51) / 2 = -25.5 -> -26, (0 + 101 - 51 + 20) / 4 = 17.5
	 *        -> 18, (101 + 20) / 2 = 60.5 -> 61
	 * row 2: -51, (-51 + 20) / 2 = -15.5 -> -16, 20 */
	int32_t p[7] = {1, 0, 0, 1, 1, 2, 2};
	static const int8_t want[9] = {0, 51, 101, -26, 18, 61, -51, -16, 20};
	/* half_pixel x2 on [N, C, L]: (o + 1/2) / 2 - 1/2 = -0.25, 0.25, 0.75,
	 * 1.25, clamped to [0, 1]: -3; 0.75 * -3 + 0.25 * 4 = -1.25 -> -1;
	 * 0.25 * -3 + 0.75 * 4 = 2.25 -> 2; 4. */
	int32_t ph[7] = {1, 1, 0, 1, 1, 1, 2};
	static const int8_t want_h[4] = {-3, -1, 2, 4};

	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_OK);
	qp_rt_op_run(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7);
	CHECK(same(y, want, 9));
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins2, 1, outs4, 1, ph, 7) == QP_OK);
	qp_rt_op_run(QP_OP_QRESIZE, ins2, 1, outs4, 1, ph, 7);
	CHECK(same(y4, want_h, 4));
	/* Linear takes no nearest rule. */
	p[2] = 2;
	CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins, 1, outs, 1, p, 7) == QP_E_PARAM);
	p[2] = 0;
	/* 2 -> 3 along W, half_pixel, ratio 2/3 (not a power of two):
	 * (o + 1/2) 2/3 - 1/2 = -1/6, 1/2, 7/6 -> clamped 0, 1/2, 1; over
	 * -3, 4: -3, (-3 + 4) / 2 = 0.5 -> 1 (an exact tie, away from zero), 4. */
	{
		static const int32_t d3[3] = {1, 1, 3};
		int32_t p23[7] = {1, 1, 0, 1, 2, 1, 3};
		int8_t y3[3];
		qp_rt_tensor ty3 = view(3, d3, 0.1f, 0, y3);
		const qp_rt_tensor *outs3[1] = {&ty3};

		CHECK(qp_rt_op_check(QP_OP_QRESIZE, ins2, 1, outs3, 1, p23, 7) == QP_OK);
		qp_rt_op_run(QP_OP_QRESIZE, ins2, 1, outs3, 1, p23, 7);
		CHECK(y3[0] == -3 && y3[1] == 1 && y3[2] == 4);
	}
}

int main(void)
{
	TEST(test_maxpool_1d);
	TEST(test_avgpool_1d);
	TEST(test_resize_nearest);
	TEST(test_resize_bilinear);
	return CHECK_DONE();
}
