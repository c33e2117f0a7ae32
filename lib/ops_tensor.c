/* ONNX data-movement ops: one row per op (shape inference + kernel). */
#include "ops.h"

const qp_op_def qp_ops_tensor[] = {
	{NULL, NULL, NULL},
};
