/* Lowered integer ops (filled in by the lowering work). */
#include "ops.h"

const qp_op_def qp_ops_int[] = {
	{NULL, NULL, NULL},
};
