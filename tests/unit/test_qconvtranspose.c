/* QConvTranspose (runtime/kernels.c) against hand calculation.
 *
 * ONNX ConvTranspose: input pixel i and kernel tap k meet at output
 * o = i s - pad_begin + k d, and the output extent is
 * s (in - 1) + output_padding + d (k - 1) + 1 - pad_begin - pad_end.
 * The weights are [C_in, C_out/group, kh, kw].  Every accumulator below is
 * worked out in the comments, then requantized by the single rounding of
 * docs/ir.md section 6: acc M / 2^n, n = 31 - shift, rounded half away
 * from zero (for p = acc M >= 0, floor((p + 2^(n-1)) / 2^n), for p < 0,
 * -floor((-p + 2^(n-1)) / 2^n)); then + zp_y and the clamp to
 * [act_min, act_max].  The negative ties below would round the other way
 * under the earlier rule, ties toward +infinity. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"

#define M_HALF 1073741824        /* 2^30: with shift 0, real 0.5 */
#define M_3_4 1610612736         /* 0.75 * 2^31: with shift 0, real 0.75 */

static qp_rt_tensor view_i32(int rank, const int32_t *dims, void *data)
{
	qp_rt_tensor t = view(rank, dims, 1.0f, 0, data);

	t.dtype = QP_RT_INT32;
	return t;
}

/* 2-d, stride 2, kernel 2x2, no pads, output_padding 1 on both axes:
 * out = 2 (2 - 1) + 1 + 1 (2 - 1) + 1 = 5.  Output (2i + a, 2j + b) gets
 * x[i][j] w[a][b]; row 4 and column 4 (the output padding) only the bias.
 * Channel 0 tests the tie rule, channel 1 the saturation. */
static void test_stride2_output_padding(void)
{
	static const int32_t dx[4] = {1, 1, 2, 2}, dw[4] = {1, 2, 2, 2},
			     db[1] = {2}, dy[4] = {1, 2, 5, 5}, dy4[4] = {1, 2, 4, 4};
	/* Codes with zero point 1: the values are 1 2 / 3 4. */
	int8_t x[4] = {2, 3, 4, 5};
	/* w[0][oc]: channel 0 [[1, -1], [-3, 2]], channel 1 [[100, -100], [1, 1]] */
	int8_t w[8] = {1, -1, -3, 2, 100, -100, 1, 1};
	int32_t b[2] = {1, 0};
	int8_t y[50];
	qp_rt_tensor tx = view(4, dx, 0.5f, 1, x), tw = view(4, dw, 1.0f, 0, w);
	qp_rt_tensor tb = view_i32(1, db, b), ty = view(4, dy, 0.25f, 3, y);
	qp_rt_tensor ty4 = view(4, dy4, 0.25f, 3, y);
	const qp_rt_tensor *ins[3] = {&tx, &tw, &tb}, *outs[1] = {&ty}, *outs4[1] = {&ty4};
	/* strides, pads, dilations, output_padding, group, act range, mult, shift */
	int32_t p[17] = {2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 1, -128, 127,
			 M_HALF, M_3_4, 0, 0};
	/* Channel 0, bias 1: the accumulators
	 *    2   0   3  -1   1      (1+1, -1+1, 2+1, -2+1, bias)
	 *   -2   3  -5   5   1      (-3+1, 2+1, -6+1, 4+1)
	 *    4  -2   5  -3   1      (3+1, -3+1, 4+1, -4+1)
	 *   -8   7 -11   9   1      (-9+1, 6+1, -12+1, 8+1)
	 *    1   1   1   1   1
	 * times 0.5, ties away from zero (-0.5 -> -1, -2.5 -> -3, 1.5 -> 2,
	 * -1.5 -> -2, 3.5 -> 4, -5.5 -> -6, 4.5 -> 5, 0.5 -> 1; ties toward
	 * +infinity would give 0, -2, -1, -5 for the negative ones), then + 3:
	 *    1  0  2 -1  1  ->  4  3  5  2  4
	 *   -1  2 -3  3  1  ->  2  5  0  6  4
	 *    2 -1  3 -2  1  ->  5  2  6  1  4
	 *   -4  4 -6  5  1  -> -1  7 -3  8  4
	 *    1  1  1  1  1  ->  4  4  4  4  4 */
	static const int8_t want0[25] = {
		4, 3, 5, 2, 4,
		2, 5, 0, 6, 4,
		5, 2, 6, 1, 4,
		-1, 7, -3, 8, 4,
		4, 4, 4, 4, 4,
	};
	/* Channel 1, bias 0: the accumulators
	 *   100 -100  200 -200  0
	 *     1    1    2    2  0
	 *   300 -300  400 -400  0
	 *     3    3    4    4  0
	 *     0    0    0    0  0
	 * times 0.75: 75 -75 150 -150 0 / 0.75 0.75 1.5 1.5 0 / 225 -225 300
	 * -300 0 / 2.25 2.25 3 3 0, rounded 75 -75 150 -150 0 / 1 1 2 2 0 /
	 * 225 -225 300 -300 0 / 2 2 3 3 0, + 3 and clamped to [-128, 127]:
	 * 153, 228, 303 saturate to 127; -147, -222, -297 to -128. */
	static const int8_t want1[25] = {
		78, -72, 127, -128, 3,
		4, 4, 5, 5, 3,
		127, -128, 127, -128, 3,
		5, 5, 6, 6, 3,
		3, 3, 3, 3, 3,
	};

	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17);
	CHECK(same(y, want0, 25));
	CHECK(same(y + 25, want1, 25));
	/* Without output_padding the extent is 4: a 5x5 output is refused,
	 * and so is 4x4 with it. */
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs4, 1, p, 17) == QP_E_PARAM);
	p[8] = p[9] = 0;
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs4, 1, p, 17) == QP_OK);
	/* output_padding must stay below the stride (or the dilation): 2 is
	 * refused at stride 2, dilation 1. */
	p[8] = 2;
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_E_PARAM);
	p[8] = 0;
	/* One multiplier per output channel (2): 15 parameters are refused. */
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs4, 1, p, 15) == QP_E_PARAM);
	/* No bias: channel 0's top-left accumulator is 1, times 0.5 is 0.5,
	 * rounded up to 1, + 3 = 4. */
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 2, outs4, 1, p, 17) == QP_OK);
	qp_rt_op_run(QP_OP_QCONVTRANSPOSE, ins, 2, outs4, 1, p, 17);
	CHECK(y[0] == 4);
}

/* A 1-d transposed convolution as [N, C, 1, L] with group 2, stride 2,
 * pads 1 and 1, dilation 2, output_padding 1: L = 3, k = 3 gives
 * 2 (3 - 1) + 1 + 2 (3 - 1) + 1 - 1 - 1 = 8 outputs, and o = 2 i + 2 k - 1
 * (i, k = 0..2) reaches -1 (cropped), 1, 3, 5, 7: the even outputs hold
 * only the bias.  Group g reads input channel g and writes output
 * channel g (C_in 2, C_out/group 1). */
static void test_1d_group_dilation_pads(void)
{
	static const int32_t dx[4] = {1, 2, 1, 3}, dw[4] = {2, 1, 1, 3},
			     db[1] = {2}, dy[4] = {1, 2, 1, 8}, dy7[4] = {1, 2, 1, 7};
	int8_t x[6] = {1, -2, 3, 4, 0, -1};
	int8_t w[6] = {1, 2, 3, -1, 1, 2};
	int32_t b[2] = {10, -20};
	int8_t y[16];
	qp_rt_tensor tx = view(4, dx, 1.0f, 0, x), tw = view(4, dw, 1.0f, 0, w);
	qp_rt_tensor tb = view_i32(1, db, b), ty = view(4, dy, 1.0f, 0, y);
	qp_rt_tensor ty7 = view(4, dy7, 1.0f, 0, y);
	const qp_rt_tensor *ins[3] = {&tx, &tw, &tb}, *outs[1] = {&ty}, *outs7[1] = {&ty7};
	/* Channel 0 real 1 (2^30, shift 1), channel 1 real 0.25 (2^30, shift -1). */
	int32_t p[17] = {1, 2, 0, 1, 0, 1, 1, 2, 0, 1, 2, -128, 127,
			 M_HALF, M_HALF, 1, -1};
	/* Channel 0, x 1 -2 3, w 1 2 3:
	 *   o1 = x0 w1 + x1 w0 = 2 - 2 = 0, o3 = x0 w2 + x1 w1 + x2 w0 = 3 - 4 + 3 = 2,
	 *   o5 = x1 w2 + x2 w1 = -6 + 6 = 0, o7 = x2 w2 = 9; + bias 10:
	 *   10 10 10 12 10 10 10 19, times 1.
	 * Channel 1, x 4 0 -1, w -1 1 2:
	 *   o1 = 4 + 0 = 4, o3 = 8 + 0 + 1 = 9, o5 = 0 - 1 = -1, o7 = -2; + bias -20:
	 *   -20 -16 -20 -11 -20 -21 -20 -22, divided by 4:
	 *   -5 -4 -5 -2.75 -5 -5.25 -5 -5.5 -> -5 -4 -5 -3 -5 -5 -5 -6
	 *   (-5.5 a tie, away from zero; ties toward +infinity would give -5). */
	static const int8_t want[16] = {
		10, 10, 10, 12, 10, 10, 10, 19,
		-5, -4, -5, -3, -5, -5, -5, -6,
	};

	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_OK);
	qp_rt_op_run(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17);
	CHECK(same(y, want, 16));
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs7, 1, p, 17) == QP_E_PARAM);
	/* A fused Relu's clamp: act_min 0 zeroes channel 1. */
	p[11] = 0;
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_OK);
	qp_rt_op_run(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17);
	CHECK(same(y, want, 8));
	CHECK(y[8] == 0 && y[11] == 0 && y[15] == 0);
	p[11] = -128;
	/* output_padding 2 is not below stride 2 or dilation 2. */
	p[9] = 2;
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_E_PARAM);
	p[9] = 1;
	/* group 3 does not divide the 2 input channels; group 1 makes C_out
	 * W's 1, not y's 2. */
	p[10] = 3;
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_E_PARAM);
	p[10] = 1;
	CHECK(qp_rt_op_check(QP_OP_QCONVTRANSPOSE, ins, 3, outs, 1, p, 17) == QP_E_PARAM);
}

int main(void)
{
	TEST(test_stride2_output_padding);
	TEST(test_1d_group_dilation_pads);
	return CHECK_DONE();
}
