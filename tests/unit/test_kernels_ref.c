/* The lowered integer kernels (runtime/kernels.c) through the runtime's
 * public API, against hand calculation and an independent reference.
 *
 * The requantization is docs/ir.md section 6's single rounding:
 *   R(x, M, s) = sat32(round_half_away_from_zero(x M / 2^n)),  n = 31 - s,
 * in int64: for p = x M >= 0, floor((p + 2^(n-1)) / 2^n), for p < 0,
 * -floor((-p + 2^(n-1)) / 2^n).  The hand cases below work every expected
 * integer out in the comment next to it; where the earlier single rounding
 * with ties toward +infinity (floor((x M + 2^(n-1)) / 2^n)) gives another
 * value, the comment says "up: v", and where the old double rounding
 * (SRDHM, then a rounding divide by 2^n, ties away from zero) does, "dbl: v".
 *
 * test_reference_cases runs the randomized cases of
 * tests/fixtures/kernels_ref/kernels_ref.h, whose expected outputs
 * tests/fixtures/gen/make_kernel_ref_fixtures.py computes from the spec
 * with Python integers and numpy (not by running qpipe); one TAP line per
 * case, with how many of its elements each earlier rule would change. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"
#include "../fixtures/kernels_ref/kernels_ref.h"

#define Q30  (1 << 30)    /* 0.5 * 2^31: with shift s the real 2^(s - 1) */
#define M075 1610612736   /* 0.75 * 2^31 */

/* Runs one op if its check accepts it; returns the check's status. */
static int run_op(int opcode, const qp_rt_tensor *const *in, int n_in,
		  const qp_rt_tensor *y, const int32_t *p, int np)
{
	const qp_rt_tensor *out[1] = {y};
	int st = qp_rt_op_check(opcode, in, n_in, out, 1, p, np);

	if (st == QP_OK)
		qp_rt_op_run(opcode, in, n_in, out, 1, p, np);
	return st;
}

static void show_diff(const int8_t *got, const int8_t *want, int n)
{
	int i, shown = 0;

	for (i = 0; i < n && shown < 8; i++)
		if (got[i] != want[i]) {
			printf("#   y[%d] = %d, want %d\n", i, got[i], want[i]);
			shown++;
		}
}

#define CHECK_SAME(got, want, n)                                   \
	do {                                                       \
		CHECK(same(got, want, n));                         \
		if (!same(got, want, n))                           \
			show_diff(got, want, n);                   \
	} while (0)

/* ---- QRequant: ties and double rounding ----------------------------------------- */

static void test_requant_single_rounding(void)
{
	static const int32_t d7[1] = {7}, d4[1] = {4}, d2[1] = {2};
	int8_t x[7] = {-6, 6, 5, -5, -2, 2, -7}, y[7];
	qp_rt_tensor tx = view(1, d7, 1.0f, 0, x), ty = view(1, d7, 0.25f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx};
	/* Real 0.25 = (2^30, -1): n = 32, R(x) = x / 4 rounded half away.
	 *   -6: -1.5 -> -2 (up: -1)
	 *    6:  1.5 ->  2
	 *    5:  1.25 -> 1 (dbl: srdhm 2.5 -> 3, 1.5 -> 2: two roundings)
	 *   -5: -1.25 -> -1
	 *   -2: -0.5 -> -1 (up: 0)
	 *    2:  0.5 -> 1
	 *   -7: -1.75 -> -2 */
	int32_t p[4] = {-128, 127, Q30, -1};
	static const int8_t want[7] = {-2, 2, 1, -1, -1, 1, -2};
	/* Real 0.375 = (0.75 * 2^31, -1), the general (not 2^30) multiplier;
	 * x_d = x - 0:
	 *   -4: -1.5 -> -2 (up: -1)
	 *    4:  1.5 -> 2
	 *  -12: -4.5 -> -5 (up: -4)
	 *    3:  1.125 -> 1;  -3: -1.125 -> -1
	 *  127:  47.625 -> 48;  -128: -48 exactly */
	int8_t x2[7] = {-4, 4, -12, 3, -3, 127, -128}, y2[7];
	qp_rt_tensor tx2 = view(1, d7, 1.0f, 0, x2), ty2 = view(1, d7, 0.375f, 0, y2);
	const qp_rt_tensor *ins2[1] = {&tx2};
	int32_t p2[4] = {-128, 127, M075, -1};
	static const int8_t want2[7] = {-2, 2, -5, 1, -1, 48, -48};
	/* Zero points 2 and -3, range [-5, 100], real 0.375:
	 *   x -2: x_d -4 -> -1.5 -> -2 -> -5, just act_min (up: -1 -> -4)
	 *   x 8: x_d 6 -> 2.25 -> 2 -> -1 (dbl: srdhm 4.5 -> 5, 2.5 -> 3 -> 0)
	 *   x 127: x_d 125 -> 46.875 -> 47 -> 44
	 *   x -128: x_d -130 -> -48.75 -> -49 -> -52, below act_min: -5 */
	int8_t x3[4] = {-2, 8, 127, -128}, y3[4];
	qp_rt_tensor tx3 = view(1, d4, 1.0f, 2, x3), ty3 = view(1, d4, 0.375f, -3, y3);
	const qp_rt_tensor *ins3[1] = {&tx3};
	int32_t p3[4] = {-5, 100, M075, -1};
	static const int8_t want3[4] = {-5, -1, 44, -5};
	/* Real 128 = (2^30, 8): x_d 1 -> 128, saturates at act_max 127;
	 * x_d -1 -> -128 fits. */
	int8_t x4[2] = {1, -1}, y4[2];
	qp_rt_tensor tx4 = view(1, d2, 1.0f, 0, x4), ty4 = view(1, d2, 1.0f, 0, y4);
	const qp_rt_tensor *ins4[1] = {&tx4};
	int32_t p4[4] = {-128, 127, Q30, 8};
	static const int8_t want4[2] = {127, -128};

	CHECK(run_op(QP_OP_QREQUANT, ins, 1, &ty, p, 4) == QP_OK);
	CHECK_SAME(y, want, 7);
	CHECK(run_op(QP_OP_QREQUANT, ins2, 1, &ty2, p2, 4) == QP_OK);
	CHECK_SAME(y2, want2, 7);
	CHECK(run_op(QP_OP_QREQUANT, ins3, 1, &ty3, p3, 4) == QP_OK);
	CHECK_SAME(y3, want3, 4);
	CHECK(run_op(QP_OP_QREQUANT, ins4, 1, &ty4, p4, 4) == QP_OK);
	CHECK_SAME(y4, want4, 2);
	/* Refused: a negative multiplier, a shift out of [-31, 30], a range
	 * outside int8. */
	p[2] = -Q30;
	CHECK(run_op(QP_OP_QREQUANT, ins, 1, &ty, p, 4) == QP_E_PARAM);
	p[2] = Q30, p[3] = 31;
	CHECK(run_op(QP_OP_QREQUANT, ins, 1, &ty, p, 4) == QP_E_PARAM);
	p[3] = -1, p[1] = 128;
	CHECK(run_op(QP_OP_QREQUANT, ins, 1, &ty, p, 4) == QP_E_PARAM);
}

/* ---- QConv / QGemm: int32 accumulator saturation, per-channel ties --------------- */

/* x all 127 with zero point -128 (x_d 255) over 64 x 5 x 5 = 1600 taps;
 * channel 0's weights all -128 and bias INT32_MIN + 1000, channel 1's all
 * 127 and bias INT32_MAX - 1000.  Real multiplier 2^-25 = (2^30, -24) on
 * both, output zero point 0:
 *   ch 0: acc = -2^31 + 1000 - 255 * 128 * 1600 = -2^31 - 52223000, which
 *         saturates to -2^31: -2^31 / 2^25 = -64 exactly -> -64
 *         (unsaturated it would be -65.56 -> -66)
 *   ch 1: acc = 2^31 - 1 - 1000 + 255 * 127 * 1600 saturates to 2^31 - 1:
 *         63.99999997 -> 64 (unsaturated 65.54 -> 66) */
enum { SAT_C = 64, SAT_K = 5, SAT_TAPS = SAT_C * SAT_K * SAT_K };
static int8_t sat_x[SAT_TAPS], sat_w[2 * SAT_TAPS];

static void fill_saturation(int32_t *bias)
{
	memset(sat_x, 127, sizeof sat_x);
	memset(sat_w, -128, SAT_TAPS);
	memset(sat_w + SAT_TAPS, 127, SAT_TAPS);
	bias[0] = INT32_MIN + 1000;
	bias[1] = INT32_MAX - 1000;
}

static void test_accumulator_saturation(void)
{
	static const int32_t dx[4] = {1, SAT_C, SAT_K, SAT_K}, dw[4] = {2, SAT_C, SAT_K, SAT_K};
	static const int32_t dy[4] = {1, 2, 1, 1}, db[1] = {2};
	static const int32_t da[2] = {1, SAT_TAPS}, dwg[2] = {2, SAT_TAPS}, dyg[2] = {1, 2};
	static const int8_t want[2] = {-64, 64};
	int32_t bias[2];
	int8_t y[2];
	int32_t pc[15] = {1, 1, 0, 0, 0, 0, 1, 1, 1, -128, 127, Q30, Q30, -24, -24};
	int32_t pg[6] = {-128, 127, Q30, Q30, -24, -24};
	qp_rt_tensor tx, tw, tb, ty, ta, twg, tyg;
	const qp_rt_tensor *ins[3], *ing[3];

	fill_saturation(bias);
	tx = view(4, dx, 0.1f, -128, sat_x);
	tw = view(4, dw, 0.0f, 0, sat_w);
	tb = view(1, db, 0.0f, 0, bias);
	tb.dtype = QP_RT_INT32;
	ty = view(4, dy, 0.1f, 0, y);
	ins[0] = &tx, ins[1] = &tw, ins[2] = &tb;
	CHECK(run_op(QP_OP_QCONV, ins, 3, &ty, pc, 15) == QP_OK);
	CHECK_SAME(y, want, 2);
	/* The same sums as a [1, 1600] x [2, 1600]^T QGemm. */
	ta = view(2, da, 0.1f, -128, sat_x);
	twg = view(2, dwg, 0.0f, 0, sat_w);
	tyg = view(2, dyg, 0.1f, 0, y);
	ing[0] = &ta, ing[1] = &twg, ing[2] = &tb;
	memset(y, 0x55, sizeof y);
	CHECK(run_op(QP_OP_QGEMM, ing, 3, &tyg, pg, 6) == QP_OK);
	CHECK_SAME(y, want, 2);
}

/* Depthwise 1x1 (group 2) over x [1, 2, 1, 2] with zero point 1 and
 * per-channel multipliers: ch 0 w 3 at real 0.25 (2^30, -1), ch 1 w -1 at
 * real 0.5 (2^30, 0); output zero point -1.
 *   ch 0: x 3, -1 -> x_d 2, -2 -> acc 6, -6 -> 1.5 -> 2, -1.5 -> -2
 *         (up: -1) -> 1, -3 (up: -2)
 *   ch 1: x 5, -1 -> x_d 4, -2 -> acc -4, 2 -> -2, 1 -> -3, 0
 * With act_min -1 (a fused Relu at the zero point): 1, -1, -1, 0. */
static void test_conv_per_channel_ties(void)
{
	static const int32_t dx[4] = {1, 2, 1, 2}, dw[4] = {2, 1, 1, 1};
	int8_t x[4] = {3, -1, 5, -1}, w[2] = {3, -1}, y[4];
	qp_rt_tensor tx = view(4, dx, 0.1f, 1, x), tw = view(4, dw, 0.0f, 0, w);
	qp_rt_tensor ty = view(4, dx, 0.1f, -1, y);
	const qp_rt_tensor *ins[2] = {&tx, &tw};
	int32_t p[15] = {1, 1, 0, 0, 0, 0, 1, 1, 2, -128, 127, Q30, Q30, -1, 0};
	static const int8_t want[4] = {1, -3, -3, 0}, want_relu[4] = {1, -1, -1, 0};

	CHECK(run_op(QP_OP_QCONV, ins, 2, &ty, p, 15) == QP_OK);
	CHECK_SAME(y, want, 4);
	p[9] = -1;
	CHECK(run_op(QP_OP_QCONV, ins, 2, &ty, p, 15) == QP_OK);
	CHECK_SAME(y, want_relu, 4);
	/* Refused: a group that does not divide the channels, weights of the
	 * wrong input depth for the group, one shift missing. */
	p[8] = 3;
	CHECK(run_op(QP_OP_QCONV, ins, 2, &ty, p, 15) == QP_E_PARAM);
	p[8] = 1;
	CHECK(run_op(QP_OP_QCONV, ins, 2, &ty, p, 15) == QP_E_PARAM);
	p[8] = 2;
	CHECK(run_op(QP_OP_QCONV, ins, 2, &ty, p, 14) == QP_E_PARAM);
}

/* QAffine's int32 steps saturate: x [2] on axis 0 (two channels), zero
 * points 0, frac_bits 16, both channels (2^30, 30) = real 2^29, offsets
 * +5 and -5.
 *   ch 0: x 100: R = 100 * 2^29 saturates to 2^31 - 1; + 5 saturates
 *         again; rdivpot(2^31 - 1, 16) = 32768 -> 127 (a wrapping sum
 *         would be -2^31 + 4 -> -128)
 *   ch 1: x -100: R = -2^31; - 5 saturates at -2^31; / 2^16 = -32768 ->
 *         -128 (wrapping: 2^31 - 5 -> 127) */
static void test_affine_int32_saturation(void)
{
	static const int32_t d[1] = {2};
	int8_t x[2] = {100, -100}, y[2];
	qp_rt_tensor tx = view(1, d, 1.0f, 0, x), ty = view(1, d, 1.0f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx};
	int32_t p[10] = {0, -128, 127, 16, Q30, Q30, 30, 30, 5, -5};
	static const int8_t want[2] = {127, -128};

	CHECK(run_op(QP_OP_QAFFINE, ins, 1, &ty, p, 10) == QP_OK);
	CHECK_SAME(y, want, 2);
}

/* ---- QAvgPool: windows clipped by ceil_mode ----------------------------------------- */

/* x [1, 1, 3, 3] = [[1, 2, -3], [4, 5, -6], [7, 8, -9]], zero points 0,
 * kernel 2x2, stride 2, no padding, ceil_mode: out 2x2 (ceil((3 - 2) / 2)
 * + 1 = 2; the last window starts at 2 < 3).  Real 1/4 = (2^30, -1).
 *   (0, 0): 1 + 2 + 4 + 5 = 12 (4 elements) -> 3
 *   (0, 1): -3 - 6 = -9 over 2 -> round(-9 * 4 / 2) = -18 -> -4.5 -> -5
 *           (up: -4)
 *   (1, 0): 7 + 8 = 15 over 2 -> 30 -> 7.5 -> 8
 *   (1, 1): -9 over 1 -> -36 -> -9
 * count_include_pad 1 gives the same: what ceil_mode clips is outside the
 * padded input, not padding. */
static void test_avgpool_ceil_clipped(void)
{
	static const int32_t dx[4] = {1, 1, 3, 3}, dy[4] = {1, 1, 2, 2}, dy1[4] = {1, 1, 1, 1};
	int8_t x[9] = {1, 2, -3, 4, 5, -6, 7, 8, -9}, y[4];
	qp_rt_tensor tx = view(4, dx, 0.1f, 0, x), ty = view(4, dy, 0.1f, 0, y);
	qp_rt_tensor ty1 = view(4, dy1, 0.1f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx};
	int32_t p[13] = {2, 2, 2, 2, 0, 0, 0, 0, 0, -128, 127, Q30, -1};
	static const int8_t want[4] = {3, -5, 8, -9};
	/* Floor mode (out 1x1) is accepted too: just (0, 0). */

	CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty, p, 13) == QP_OK);
	CHECK_SAME(y, want, 4);
	p[8] = 1;
	memset(y, 0x55, sizeof y);
	CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty, p, 13) == QP_OK);
	CHECK_SAME(y, want, 4);
	CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty1, p, 13) == QP_OK);
	CHECK(y[0] == 3);
	/* Saturation at the clamp: act range [-5, 5]: 3, -5, 5, -5. */
	{
		static const int8_t want_c[4] = {3, -5, 5, -5};

		p[9] = -5, p[10] = 5;
		CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty, p, 13) == QP_OK);
		CHECK_SAME(y, want_c, 4);
	}
	/* count_include_pad must be 0 or 1. */
	p[8] = 2;
	CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty, p, 13) == QP_E_PARAM);
}

#define M13 1431655765   /* round(2/3 * 2^31): 1/3 = (M13, -1) */

/* The rescale of a window with fewer elements rounds ties away from zero,
 * negative ones too.  x [1, 1, 1, 3] = [-1, -2, 5], zero points 0, kernel
 * 1x3, stride 1, pads 1 left and right, real 1/3 = (M13, -1):
 * R(v) = v * M13 / 2^32 to nearest (no ties at this multiplier).
 * count_include_pad 0:
 *   w0: -1 - 2 = -3 over 2 -> round(-3 * 3 / 2) = -4.5 -> -5 -> -1.67 -> -2
 *   w1: -1 - 2 + 5 = 2 (full) -> 0.67 -> 1
 *   w2: -2 + 5 = 3 over 2 -> 4.5 -> 5 -> 1.67 -> 2
 * count_include_pad 1 (every window counts 3): -3 -> -0.99999999977 -> -1;
 *   2 -> 1; 3 -> 1. */
static void test_avgpool_rescale_ties(void)
{
	static const int32_t dx[4] = {1, 1, 1, 3};
	int8_t x[3] = {-1, -2, 5}, y[3];
	qp_rt_tensor tx = view(4, dx, 0.1f, 0, x), ty = view(4, dx, 0.1f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx};
	int32_t p[13] = {1, 3, 1, 1, 0, 1, 0, 1, 0, -128, 127, M13, -1};
	static const int8_t want[3] = {-2, 1, 2}, want_cip[3] = {-1, 1, 1};

	CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty, p, 13) == QP_OK);
	CHECK_SAME(y, want, 3);
	p[8] = 1;
	CHECK(run_op(QP_OP_QAVGPOOL, ins, 1, &ty, p, 13) == QP_OK);
	CHECK_SAME(y, want_cip, 3);
}

/* ---- QSoftmax: the table, the normalisation's rounding, saturation --------------- */

static void softmax_params(int32_t *p, int32_t lo, int32_t hi, int32_t m, int32_t s)
{
	int i;

	p[0] = lo, p[1] = hi, p[2] = m, p[3] = s;
	/* table[d] = 2^(30 - d), 1 from d = 30 on: exp(-s_x d) with s_x = ln 2 */
	for (i = 0; i < 256; i++)
		p[4 + i] = Q30 >> (i < 30 ? i : 30);
}

static void test_softmax_hand(void)
{
	static const int32_t d33[2] = {3, 3}, d7[2] = {1, 7};
	int32_t p[260];
	/* Output scale 1/256, zero point -128: multiplier 2^-30 * 256 = 2^-22
	 * = (2^30, -21).
	 * Row [4, 4, 4]: S = 3 * 2^30, p = round(2^60 / S) = round(357913941.33)
	 *   = 357913941; / 2^22 = 85.33 -> 85; - 128 = -43.
	 * Row [10, 9, 8]: d = 0, 1, 2, table 2^30, 2^29, 2^28, S = 7 * 2^28:
	 *   p = 2^32/7 = 613566756.57 -> 613566757 -> 146.29 -> 146 -> 18;
	 *   2^31/7 = 306783378.29 -> 306783378 -> 73.14 -> 73 -> -55;
	 *   2^30/7 = 153391689.14 -> 153391689 -> 36.57 -> 37 -> -91.
	 * Row [5, -128, -128]: d = 133 reads table[133] = 1: S = 2^30 + 2;
	 *   p0 = round(2^60 / (2^30 + 2)) = round(2^30 - 2 + 4 / (2^30 + 2)) =
	 *   2^30 - 2 -> / 2^22 = 255.9999995 -> 256 -> 128, saturates at 127;
	 *   p1 = round(2^30 / (2^30 + 2)) = 1 -> 0 -> -128. */
	int8_t x[9] = {4, 4, 4, 10, 9, 8, 5, -128, -128}, y[9];
	qp_rt_tensor tx = view(2, d33, 0.693147f, 0, x), ty = view(2, d33, 1.0f / 256, -128, y);
	const qp_rt_tensor *ins[1] = {&tx};
	static const int8_t want[9] = {-43, -43, -43, 18, -55, -91, 127, -128, -128};
	/* A tie in the normalisation: table[0] = 2^30, table[1] = 3, table[2]
	 * = 2^30 - 3; row [0, 0, 0, 0, 0, -1, -2]: S = 5 * 2^30 + 3 + 2^30 - 3
	 * = 6 * 2^30; d = 1 gives 3 * 2^30 / S = 0.5 exactly, rounded away
	 * from zero to 1 (half to even or truncation would give 0).  At the
	 * multiplier 1.0 = (2^30, 1), zero point 0: 1; the others, about 2^30
	 * / 6, saturate at 127. */
	int8_t x7[7] = {0, 0, 0, 0, 0, -1, -2}, y7[7];
	qp_rt_tensor tx7 = view(2, d7, 0.1f, 0, x7), ty7 = view(2, d7, 1.0f, 0, y7);
	const qp_rt_tensor *ins7[1] = {&tx7};
	static const int8_t want7[7] = {127, 127, 127, 127, 127, 1, 127};

	softmax_params(p, -128, 127, Q30, -21);
	CHECK(run_op(QP_OP_QSOFTMAX, ins, 1, &ty, p, 260) == QP_OK);
	CHECK_SAME(y, want, 9);
	/* act_min -50 clamps -55, -91 and -128. */
	{
		static const int8_t want_c[9] = {-43, -43, -43, 18, -50, -50, 127, -50, -50};

		p[0] = -50;
		CHECK(run_op(QP_OP_QSOFTMAX, ins, 1, &ty, p, 260) == QP_OK);
		CHECK_SAME(y, want_c, 9);
	}
	softmax_params(p, -128, 127, Q30, 1);
	p[4 + 1] = 3;
	p[4 + 2] = Q30 - 3;
	CHECK(run_op(QP_OP_QSOFTMAX, ins7, 1, &ty7, p, 260) == QP_OK);
	CHECK_SAME(y7, want7, 7);
	/* Refused: a table entry above 2^30 or negative. */
	p[4 + 9] = Q30 + 1;
	CHECK(run_op(QP_OP_QSOFTMAX, ins7, 1, &ty7, p, 260) == QP_E_PARAM);
	p[4 + 9] = -1;
	CHECK(run_op(QP_OP_QSOFTMAX, ins7, 1, &ty7, p, 260) == QP_E_PARAM);
}

/* ---- QMul's zero points ---------------------------------------------------------- */

/* a zero point 3, b -5, y 4, real 0.25 = (2^30, -1):
 *   a 10, b -2: 7 * 3 = 21 -> 5.25 -> 5 (dbl: 6) -> 9
 *   a -5, b 4: -8 * 9 = -72 -> -18 -> -14
 *   a 1, b -2: -2 * 3 = -6 -> -1.5 -> -2 (up: -1) -> 2
 *   a 127, b 127: 124 * 132 = 16368 -> 4092 -> saturates at 127
 *   a -128, b 127: -131 * 132 = -17292 -> -4323 -> saturates at -128
 * With act_min 4 (Relu at y's zero point): 9, 4, 4, 127, 4. */
static void test_mul_zero_points(void)
{
	static const int32_t d[1] = {5};
	int8_t a[5] = {10, -5, 1, 127, -128}, b[5] = {-2, 4, -2, 127, 127}, y[5];
	qp_rt_tensor ta = view(1, d, 0.1f, 3, a), tb = view(1, d, 0.2f, -5, b);
	qp_rt_tensor ty = view(1, d, 0.08f, 4, y);
	const qp_rt_tensor *ins[2] = {&ta, &tb};
	int32_t p[4] = {-128, 127, Q30, -1};
	static const int8_t want[5] = {9, -14, 2, 127, -128};
	static const int8_t want_relu[5] = {9, 4, 4, 127, 4};

	CHECK(run_op(QP_OP_QMUL, ins, 2, &ty, p, 4) == QP_OK);
	CHECK_SAME(y, want, 5);
	p[0] = 4;
	CHECK(run_op(QP_OP_QMUL, ins, 2, &ty, p, 4) == QP_OK);
	CHECK_SAME(y, want_relu, 5);
}

/* ---- Quantize / Dequantize -------------------------------------------------------- */

static void test_quantize_op(void)
{
	static const int32_t d12[1] = {12}, d4[1] = {4};
	/* Scale 0.5, zero point -1: q = round_half_away(x / 0.5) - 1.
	 *   0.25: 0.5 -> 1 -> 0;       -0.25: -0.5 -> -1 -> -2
	 *   0.75: 1.5 -> 2 -> 1;       -0.75: -1.5 -> -2 -> -3
	 *   63.75: 127.5 -> 128 -> 127 (just fits)
	 *   64.25: 128.5 -> 129 -> 128, saturates at 127
	 *   -63.25: -126.5 -> -127 -> -128 (just fits)
	 *   -63.75: -127.5 -> -128 -> -129, saturates at -128
	 *   NaN -> the zero point -1; +inf -> 127; -inf -> -128
	 *   0.24: 0.48 -> 0 -> -1 */
	float x[12] = {0.25f, -0.25f, 0.75f, -0.75f, 63.75f, 64.25f, -63.25f, -63.75f,
		       NAN, INFINITY, -INFINITY, 0.24f};
	int8_t y[12];
	static const int8_t want[12] = {0, -2, 1, -3, 127, 127, -128, -128, -1, 127, -128, -1};
	qp_rt_tensor tx = view(1, d12, 0.0f, 0, x), ty = view(1, d12, 0.5f, -1, y);
	const qp_rt_tensor *ins[1] = {&tx};
	int32_t p[2] = {-128, 127};
	/* The division is double: 0.25f / 0.1f is 2.4999999627 in double
	 * (0.1f is 0.100000001490116), so 2, where float division would give
	 * 2.5 and round to 3.  A 4-bit range [-8, 7], scale 0.1f, zero point
	 * 0: 0.25 -> 2, -0.25 -> -2, 0.75 -> 7.4999998882 -> 7, -0.75 ->
	 * -7.4999998882 -> -7 (float division: 2.5, -2.5, 7.5, -7.5 -> 3, -3,
	 * 8 saturated to 7, -8). */
	float x4[4] = {0.25f, -0.25f, 0.75f, -0.75f};
	int8_t y4[4];
	static const int8_t want4[4] = {2, -2, 7, -7};
	qp_rt_tensor tx4 = view(1, d4, 0.0f, 0, x4), ty4 = view(1, d4, 0.1f, 0, y4);
	const qp_rt_tensor *ins4[1] = {&tx4};
	int32_t p4[2] = {-8, 7};

	tx.dtype = QP_RT_FLOAT32;
	tx4.dtype = QP_RT_FLOAT32;
	CHECK(run_op(QP_OP_QUANTIZE, ins, 1, &ty, p, 2) == QP_OK);
	CHECK_SAME(y, want, 12);
	CHECK(run_op(QP_OP_QUANTIZE, ins4, 1, &ty4, p4, 2) == QP_OK);
	CHECK_SAME(y4, want4, 4);
	/* 4-bit saturation: scale 1/8: 0.9375 * 8 = 7.5 -> 8 -> 7; -1.0625 *
	 * 8 = -8.5 -> -9 -> -8 */
	{
		float xs[2] = {0.9375f, -1.0625f};
		int8_t ys[2];
		static const int32_t d2[1] = {2};
		qp_rt_tensor txs = view(1, d2, 0.0f, 0, xs), tys = view(1, d2, 0.125f, 0, ys);
		const qp_rt_tensor *inss[1] = {&txs};

		txs.dtype = QP_RT_FLOAT32;
		CHECK(run_op(QP_OP_QUANTIZE, inss, 1, &tys, p4, 2) == QP_OK);
		CHECK(ys[0] == 7 && ys[1] == -8);
	}
	/* Refused: a zero or negative scale, an int8 input. */
	ty.scale = 0.0f;
	CHECK(run_op(QP_OP_QUANTIZE, ins, 1, &ty, p, 2) == QP_E_PARAM);
	ty.scale = -0.5f;
	CHECK(run_op(QP_OP_QUANTIZE, ins, 1, &ty, p, 2) == QP_E_PARAM);
	ty.scale = 0.5f;
	tx.dtype = QP_RT_INT8;
	CHECK(run_op(QP_OP_QUANTIZE, ins, 1, &ty, p, 2) == QP_E_PARAM);
}

/* Scale 0.5, zero point -3: y = 0.5 (q + 3): -128 -> -62.5, 127 -> 65,
 * -3 -> 0, 0 -> 1.5 (all exact in float). */
static void test_dequantize_op(void)
{
	static const int32_t d[2] = {2, 2};
	int8_t x[4] = {-128, 127, -3, 0};
	float y[4];
	qp_rt_tensor tx = view(2, d, 0.5f, -3, x), ty = view(2, d, 0.0f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx};

	ty.dtype = QP_RT_FLOAT32;
	CHECK(run_op(QP_OP_DEQUANTIZE, ins, 1, &ty, NULL, 0) == QP_OK);
	CHECK(y[0] == -62.5f && y[1] == 65.0f && y[2] == 0.0f && y[3] == 1.5f);
	/* Refused: parameters, an int8 output. */
	CHECK(run_op(QP_OP_DEQUANTIZE, ins, 1, &ty, (const int32_t[]){0}, 1) == QP_E_PARAM);
	ty.dtype = QP_RT_INT8;
	CHECK(run_op(QP_OP_DEQUANTIZE, ins, 1, &ty, NULL, 0) == QP_E_PARAM);
}

/* ---- QReshape, QClip --------------------------------------------------------------- */

static void test_reshape_clip(void)
{
	static const int32_t d23[2] = {2, 3}, d32[2] = {3, 2}, d4[1] = {4};
	int8_t x[6] = {-128, -5, 0, 7, 100, 127}, y[6];
	qp_rt_tensor tx = view(2, d23, 0.1f, 2, x), ty = view(2, d32, 0.1f, 2, y);
	qp_rt_tensor ty4 = view(1, d4, 0.1f, 2, y);
	const qp_rt_tensor *ins[1] = {&tx};
	int32_t pc[2] = {-5, 99};
	/* Reshape copies the row-major bytes; clip [-5, 99]: -5, -5, 0, 7, 99,
	 * 99. */
	static const int8_t want_c[6] = {-5, -5, 0, 7, 99, 99};

	memset(y, 0x55, sizeof y);
	CHECK(run_op(QP_OP_QRESHAPE, ins, 1, &ty, NULL, 0) == QP_OK);
	CHECK_SAME(y, x, 6);
	CHECK(run_op(QP_OP_QRESHAPE, ins, 1, &ty4, NULL, 0) == QP_E_PARAM);
	ty = view(2, d23, 0.1f, 2, y);
	CHECK(run_op(QP_OP_QCLIP, ins, 1, &ty, pc, 2) == QP_OK);
	CHECK_SAME(y, want_c, 6);
	/* QClip needs y to share x's zero point and a range inside int8 with
	 * min <= max. */
	ty.zero_point = 3;
	CHECK(run_op(QP_OP_QCLIP, ins, 1, &ty, pc, 2) == QP_E_PARAM);
	ty.zero_point = 2;
	pc[0] = 100;
	CHECK(run_op(QP_OP_QCLIP, ins, 1, &ty, pc, 2) == QP_E_PARAM);
}

/* ---- the randomized reference cases ---------------------------------------------- */

static size_t dtype_size(int dt)
{
	return dt == QP_RT_INT8 ? 1 : 4;
}

static qp_rt_tensor rt_of(const kr_tensor *k, void *data)
{
	qp_rt_tensor t;

	memset(&t, 0, sizeof t);
	t.dtype = k->dtype;
	t.rank = k->rank;
	memcpy(t.dims, k->dims, sizeof t.dims);
	t.scale = k->scale;
	t.zero_point = k->zero_point;
	t.data = data;
	return t;
}

static int64_t numel_of(const kr_tensor *k)
{
	int64_t n = 1;
	int i;

	for (i = 0; i < k->rank; i++)
		n *= k->dims[i];
	return n;
}

enum { KR_MAX_BYTES = 4096 };

/* Returns 0 when the case's output equals the reference, printing the
 * first differences otherwise. */
static int run_case(const kr_case *c)
{
	/* uint32_t, so float and int32 data are aligned */
	static uint32_t in_words[4][KR_MAX_BYTES / 4];
	static uint32_t out_words[(KR_MAX_BYTES + 16) / 4];
	unsigned char *out_buf = (unsigned char *)out_words;
	qp_rt_tensor t[4], y;
	const qp_rt_tensor *in[4], *out[1];
	size_t esz = dtype_size(c->want.dtype), nbytes = (size_t)numel_of(&c->want) * esz;
	int i, st, bad = 0;

	if (nbytes > KR_MAX_BYTES) {
		printf("# %s: output of %zu bytes is too large for the test\n", c->name, nbytes);
		return 1;
	}
	for (i = 0; i < c->n_in; i++) {
		size_t n = (size_t)numel_of(&c->in[i]) * dtype_size(c->in[i].dtype);

		if (n > KR_MAX_BYTES) {
			printf("# %s: input %d of %zu bytes is too large\n", c->name, i, n);
			return 1;
		}
		/* A copy, so a kernel that wrote its input would be seen. */
		memcpy(in_words[i], c->in[i].data, n);
		t[i] = rt_of(&c->in[i], in_words[i]);
		in[i] = &t[i];
	}
	memset(out_words, 0x55, sizeof out_words);
	y = rt_of(&c->want, out_buf);
	out[0] = &y;
	st = qp_rt_op_check(c->opcode, in, c->n_in, out, 1, c->params, c->n_params);
	if (st != QP_OK) {
		printf("# %s: qp_rt_op_check gives %d\n", c->name, st);
		return 1;
	}
	qp_rt_op_run(c->opcode, in, c->n_in, out, 1, c->params, c->n_params);
	for (i = 0; (size_t)i < nbytes / esz; i++) {
		int diff;

		if (c->want.dtype == QP_RT_FLOAT32) {
			float g, w;

			memcpy(&g, out_buf + 4 * i, 4);
			memcpy(&w, (const unsigned char *)c->want.data + 4 * i, 4);
			diff = memcmp(&g, &w, 4) != 0;
			if (diff && bad < 6)
				printf("# %s: y[%d] = %.9g, want %.9g\n", c->name, i, g, w);
		} else {
			int8_t g = (int8_t)out_buf[i], w = ((const int8_t *)c->want.data)[i];

			diff = g != w;
			if (diff && bad < 6)
				printf("# %s: y[%d] = %d, want %d\n", c->name, i, g, w);
		}
		bad += diff;
	}
	if (bad)
		printf("# %s: %d of %zu elements differ\n", c->name, bad, nbytes / esz);
	for (i = 0; i < 16; i++)
		if (out_buf[nbytes + (size_t)i] != 0x55) {
			printf("# %s: wrote past its output\n", c->name);
			return 1;
		}
	for (i = 0; i < c->n_in; i++)
		if (memcmp(in_words[i], c->in[i].data,
			   (size_t)numel_of(&c->in[i]) * dtype_size(c->in[i].dtype))) {
			printf("# %s: changed input %d\n", c->name, i);
			return 1;
		}
	return bad != 0;
}

/* One TAP line per case, in check.h's numbering. */
static void test_reference_cases(void)
{
	size_t i, n = sizeof kr_cases / sizeof kr_cases[0];

	for (i = 0; i < n; i++) {
		const kr_case *c = &kr_cases[i];
		int failed = run_case(c);

		check_tests++;
		if (failed) {
			check_failures++;
			check_failed_tests++;
		}
		printf("%s %d reference_%s", failed ? "not ok" : "ok", check_tests, c->name);
		if (c->old_diff)
			printf(" (%d elements differ under the double rounding)", c->old_diff);
		if (c->up_diff)
			printf(" (%d differ under ties toward +infinity)", c->up_diff);
		printf("\n");
		fflush(stdout);
	}
}

int main(void)
{
	TEST(test_requant_single_rounding);
	TEST(test_accumulator_saturation);
	TEST(test_conv_per_channel_ties);
	TEST(test_affine_int32_saturation);
	TEST(test_avgpool_ceil_clipped);
	TEST(test_avgpool_rescale_ties);
	TEST(test_softmax_hand);
	TEST(test_mul_zero_points);
	TEST(test_quantize_op);
	TEST(test_dequantize_op);
	TEST(test_reshape_clip);
	test_reference_cases();
	return CHECK_DONE();
}
