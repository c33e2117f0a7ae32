/* Runtime tensor views over test arrays, shared by the lowered-kernel unit
 * tests (test_qconcat, test_qpool, test_qshape, test_qarith). */
#ifndef QP_TEST_RT_VIEW_H
#define QP_TEST_RT_VIEW_H

#include <stdint.h>
#include <string.h>

#include "qp_runtime.h"

/* An int8 tensor of the given dims and quantization over data. */
static inline qp_rt_tensor view(int rank, const int32_t *dims, float scale, int32_t zp,
				void *data)
{
	qp_rt_tensor t;

	memset(&t, 0, sizeof t);
	t.dtype = QP_RT_INT8;
	t.rank = rank;
	memcpy(t.dims, dims, sizeof *dims * (size_t)rank);
	t.scale = scale;
	t.zero_point = zp;
	t.data = data;
	return t;
}

/* The n int8 values at a equal those at b. */
static inline int same(const int8_t *a, const int8_t *b, int n)
{
	return memcmp(a, b, (size_t)n) == 0;
}

#endif
