/* Private to lib/ops/: what the float op table (ops_float.c) and its
 * family files (float_*.c) share, so each family keeps its ops' shape rules
 * and kernels together and the table stays one list.
 *
 * Inference validates everything a kernel relies on (ranks, channel counts,
 * kernel against input size, attribute values), so kernels trust the shapes
 * of the values they are given; the interpreter re-runs inference on a
 * scratch copy of the graph before it runs anything, so an IR whose stored
 * shapes disagree with the ops never reaches a kernel.
 *
 * Weights of a quantized IR (int8/int32 with quant) are accepted wherever a
 * float operand is: the interpreter hands kernels a dequantized float copy.
 */
#ifndef QP_OPS_FLOAT_INTERNAL_H
#define QP_OPS_FLOAT_INTERNAL_H

#include "ops_common.h"

#define F32(v) ((float *)(v)->data)
#define CF32(v) ((const float *)(v)->data)

/* The family data of a row (qp_op_row.kind): which member a family's
 * shared kernel computes. */

/* float_elementwise.c */
typedef enum unary_op {
	UN_RELU, UN_SQRT, UN_EXP, UN_ERF, UN_LEAKY, UN_SIGMOID, UN_HSIGMOID,
	UN_HSWISH, UN_TANH, UN_ABS, UN_NEG, UN_RECIP, UN_ELU, UN_THRESH, UN_GELU,
	UN_LOG, UN_SIN, UN_COS, UN_TAN, UN_ASIN, UN_ACOS, UN_ATAN, UN_SINH,
	UN_COSH, UN_ASINH, UN_ACOSH, UN_ATANH, UN_FLOOR, UN_CEIL, UN_ROUND,
	UN_SIGN, UN_SOFTPLUS, UN_SOFTSIGN, UN_SELU, UN_CELU, UN_MISH, UN_SHRINK,
	/* bool outputs: IsNaN, IsInf (float32 input), Not (bool input) */
	UN_ISNAN, UN_ISINF, UN_NOT
} unary_op;

/* float_arith.c: binary ops with numpy broadcasting.  PRelu is
 * x < 0 ? slope * x : x with the slope broadcast to x.  AR_MEAN is Mean's
 * row: it adds, then divides by the input count (run_variadic).  Mod's row
 * is AR_MOD; run_arith computes AR_FMOD for it when its fmod is 1, as
 * BitShift's AR_SHL is AR_SHR for direction "RIGHT" (uint8 only).  The
 * comparisons (AR_EQ..AR_GE) and the logic ops (AR_AND..AR_XOR) write
 * bool. */
typedef enum arith {
	AR_ADD, AR_SUB, AR_MUL, AR_DIV, AR_POW, AR_MAX, AR_MIN, AR_PRELU, AR_MEAN,
	AR_MOD, AR_FMOD, AR_SHL, AR_SHR,
	AR_EQ, AR_LT, AR_LE, AR_GT, AR_GE, AR_AND, AR_OR, AR_XOR
} arith;

/* float_reduce.c */
typedef enum reduce_op {
	RD_SUM, RD_MEAN, RD_MAX, RD_MIN, RD_PROD, RD_SUMSQ, RD_L1, RD_L2
} reduce_op;

/* qp_infer_fn and qp_kernel_fn (ops.h) as function types, so that one
 * line declares a family's shape rules and one its kernels. */
typedef int float_infer(qp_graph *g, int node, qp_err *err);
typedef int float_kernel(const qp_graph *g, const qp_node *n,
			 const qp_value *const *in, qp_value *const *out,
			 qp_err *err);

/* float_conv.c: Conv, ConvTranspose and pooling */
float_infer infer_conv, infer_convtranspose, infer_maxpool, infer_avgpool,
	infer_gap;
float_kernel run_conv, run_convtranspose, run_maxpool, run_avgpool, run_gap,
	run_gmp;

/* float_matmul.c: Gemm, MatMul */
float_infer infer_gemm, infer_matmul;
float_kernel run_gemm, run_matmul;

/* float_layout.c: Flatten, Reshape, Transpose, Identity */
float_infer infer_flatten, infer_reshape, infer_transpose, infer_identity;
float_kernel run_transpose;

/* float_norm.c: Softmax, BatchNormalization, InstanceNormalization */
float_infer infer_softmax, infer_batchnorm, infer_instnorm;
float_kernel run_softmax, run_batchnorm, run_instnorm;

/* float_elementwise.c: the unary functions */
float_infer infer_unary;
float_kernel run_unary;

/* float_arith.c: broadcasting binary and variadic arithmetic, Where, Clip */
float_infer infer_arith, infer_variadic, infer_where, infer_clip;
float_kernel run_arith, run_variadic, run_where, run_clip;

/* float_reduce.c: Reduce*, ArgMax/ArgMin, TopK */
float_infer infer_reduce, infer_argmax, infer_topk;
float_kernel run_reduce, run_argmax, run_topk;

/* float_convert.c: Cast, QuantizeLinear, DequantizeLinear */
float_infer infer_cast, infer_quantize, infer_dequantize;
float_kernel run_cast, run_quantize, run_dequantize;

#endif
