/* QTranspose and QPad kernels (runtime/kernels.c) against numpy and hand
 * calculation.  Both move integers without arithmetic, so the expected
 * values are the inputs rearranged: each array's comment names the numpy
 * expression that printed it, or works it out. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "qp_runtime.h"
#include "rt_view.h"



/* x = np.arange(24).reshape(2, 3, 4) - 12; y = x.transpose(2, 0, 1). */
static void test_transpose_3d(void)
{
	static const int32_t dx[3] = {2, 3, 4}, dy[3] = {4, 2, 3}, dbad[3] = {4, 3, 2};
	static const int8_t want[24] = {-12, -8, -4, 0, 4, 8, -11, -7, -3, 1, 5, 9,
					-10, -6, -2, 2, 6, 10, -9, -5, -1, 3, 7, 11};
	int8_t x[24], y[24];
	qp_rt_tensor tx = view(3, dx, 0.1f, 3, x), ty = view(3, dy, 0.1f, 3, y);
	qp_rt_tensor tq = view(3, dy, 0.2f, 3, y), tbad = view(3, dbad, 0.1f, 3, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	const qp_rt_tensor *other_q[1] = {&tq}, *bad_dims[1] = {&tbad};
	int32_t p[3] = {2, 0, 1};
	int i;

	for (i = 0; i < 24; i++)
		x[i] = (int8_t)(i - 12);
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 3) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 3);
	CHECK(same(y, want, 24));
	/* Refused: other parameters, dims that are not x's permuted, a perm
	 * with a repeated or out-of-range axis, one value short. */
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, other_q, 1, p, 3) == QP_E_PARAM);
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, bad_dims, 1, p, 3) == QP_E_PARAM);
	p[1] = 2;
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 3) == QP_E_PARAM);
	p[1] = 3;
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 3) == QP_E_PARAM);
	p[1] = 0;
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 2) == QP_E_PARAM);
}

/* Six axes, DepthToSpace's DCR permutation:
 * np.arange(24).reshape(1, 2, 2, 2, 1, 3).transpose(0, 3, 4, 1, 5, 2). */
static void test_transpose_6d(void)
{
	static const int32_t dx[6] = {1, 2, 2, 2, 1, 3}, dy[6] = {1, 2, 1, 2, 3, 2};
	static const int8_t want[24] = {0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20,
					3, 9, 4, 10, 5, 11, 15, 21, 16, 22, 17, 23};
	int8_t x[24], y[24];
	qp_rt_tensor tx = view(6, dx, 0.5f, -1, x), ty = view(6, dy, 0.5f, -1, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty};
	int32_t p[6] = {0, 3, 4, 1, 5, 2};
	int i;

	for (i = 0; i < 24; i++)
		x[i] = (int8_t)i;
	CHECK(qp_rt_op_check(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 6) == QP_OK);
	qp_rt_op_run(QP_OP_QTRANSPOSE, ins, 1, outs, 1, p, 6);
	CHECK(same(y, want, 24));
}

/* x = [[1, 2, 3], [4, 5, 6]], params mode value pads[4]. */
static void test_pad_constant(void)
{
	static const int32_t dx[2] = {2, 3}, dy[2] = {3, 5}, dcrop[2] = {2, 1};
	/* One row before, two columns after, filled with -5. */
	static const int8_t want[15] = {-5, -5, -5, -5, -5,
					1, 2, 3, -5, -5,
					4, 5, 6, -5, -5};
	int8_t x[6] = {1, 2, 3, 4, 5, 6}, y[15], yc[2];
	qp_rt_tensor tx = view(2, dx, 0.25f, -5, x), ty = view(2, dy, 0.25f, -5, y);
	qp_rt_tensor tc = view(2, dcrop, 0.25f, -5, yc), tq = view(2, dy, 0.25f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty}, *crop[1] = {&tc};
	const qp_rt_tensor *other_q[1] = {&tq};
	int32_t p[6] = {0, -5, 1, 0, 0, 2};
	/* Negative pads crop: the first and last column go, leaving 2, 5. */
	int32_t pc[6] = {0, -5, 0, -1, 0, -1};

	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 6) == QP_OK);
	memset(y, 0x55, sizeof y);
	qp_rt_op_run(QP_OP_QPAD, ins, 1, outs, 1, p, 6);
	CHECK(same(y, want, 15));
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, crop, 1, pc, 6) == QP_OK);
	qp_rt_op_run(QP_OP_QPAD, ins, 1, crop, 1, pc, 6);
	CHECK(yc[0] == 2 && yc[1] == 5);
	/* Refused: other parameters, a value out of int8, an unknown mode,
	 * dims that are not x's padded, one value short. */
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, other_q, 1, p, 6) == QP_E_PARAM);
	p[1] = 128;
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 6) == QP_E_PARAM);
	p[1] = -5;
	p[0] = 3;
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 6) == QP_E_PARAM);
	p[0] = 0;
	p[5] = 1;
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 6) == QP_E_PARAM);
	p[5] = 2;
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 5) == QP_E_PARAM);
}

/* np.pad(x, ((1, 0), (2, 1)), 'reflect') and 'edge'. */
static void test_pad_reflect_edge(void)
{
	static const int32_t dx[2] = {2, 3}, dy[2] = {3, 6}, dy3[2] = {3, 7};
	static const int8_t reflect[18] = {6, 5, 4, 5, 6, 5,
					   3, 2, 1, 2, 3, 2,
					   6, 5, 4, 5, 6, 5};
	static const int8_t edge[18] = {1, 1, 1, 2, 3, 3,
					1, 1, 1, 2, 3, 3,
					4, 4, 4, 5, 6, 6};
	int8_t x[6] = {1, 2, 3, 4, 5, 6}, y[21];
	qp_rt_tensor tx = view(2, dx, 1.0f, 0, x), ty = view(2, dy, 1.0f, 0, y);
	qp_rt_tensor t3 = view(2, dy3, 1.0f, 0, y);
	const qp_rt_tensor *ins[1] = {&tx}, *outs[1] = {&ty}, *wide[1] = {&t3};
	int32_t p[6] = {1, 0, 1, 2, 0, 1};
	int32_t p3[6] = {1, 0, 1, 3, 0, 1};

	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 6) == QP_OK);
	qp_rt_op_run(QP_OP_QPAD, ins, 1, outs, 1, p, 6);
	CHECK(same(y, reflect, 18));
	p[0] = 2;
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, outs, 1, p, 6) == QP_OK);
	qp_rt_op_run(QP_OP_QPAD, ins, 1, outs, 1, p, 6);
	CHECK(same(y, edge, 18));
	/* Reflecting 3 columns of an axis of 3 would reach past its far end
	 * (the mirror of column -3 is column 3); edge repeats as far as asked. */
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, wide, 1, p3, 6) == QP_E_PARAM);
	p3[0] = 2;
	CHECK(qp_rt_op_check(QP_OP_QPAD, ins, 1, wide, 1, p3, 6) == QP_OK);
}

int main(void)
{
	TEST(test_transpose_3d);
	TEST(test_transpose_6d);
	TEST(test_pad_constant);
	TEST(test_pad_reflect_edge);
	return CHECK_DONE();
}
