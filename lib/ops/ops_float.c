/* Float ops with ONNX semantics (docs/ir.md section 3): the table, one row
 * per op with its shape inference, its float32 kernel and the attributes it
 * defines (tests/conformance/doc_ops.py holds docs/ir.md to it).  The shape
 * rules and kernels live by family in float_conv.c, float_matmul.c,
 * float_layout.c, float_norm.c, float_elementwise.c, float_arith.c,
 * float_reduce.c and float_convert.c, declared in ops_float_internal.h.
 */
#include "ops_float_internal.h"

/* One row per op: name, shape rule, kernel, family data (the unary
 * function, arithmetic or reduction a shared kernel computes, and whether
 * a unary op is also defined on integers), and the attributes it defines.
 * Attributes the code refuses whatever their value (auto_pad, Clip's
 * opset < 11 min/max, ConvTranspose's output_shape) are not defined: the
 * importers resolve them, so an IR never carries them. */
#define OP QP_ROW
#define ATTRS QP_ATTRS
#define NONE QP_NO_ATTRS
#define OPT QP_OPT
#define REQ QP_REQ
#define WINDOW OPT("strides", QP_AT_INTS), OPT("pads", QP_AT_INTS), \
	OPT("dilations", QP_AT_INTS)
#define REDUCE ATTRS(OPT("axes", QP_AT_INTS), OPT("keepdims", QP_AT_INT), \
	OPT("noop_with_empty_axes", QP_AT_INT))
#define ARG ATTRS(OPT("axis", QP_AT_INT), OPT("keepdims", QP_AT_INT), \
	OPT("select_last_index", QP_AT_INT))
#define UNARY(name, kind, ints_ok, attrs) OP(name, infer_unary, run_unary, kind, ints_ok, attrs)
#define ARITH(name, kind) OP(name, infer_arith, run_arith, kind, 0, NONE)
#define VARIADIC(name, kind) OP(name, infer_variadic, run_variadic, kind, 0, NONE)
#define REDUCTION(name, kind) OP(name, infer_reduce, run_reduce, kind, 0, REDUCE)

const qp_op_row qp_ops_float[] = {
	OP("Conv", infer_conv, run_conv, 0, 0,
	   ATTRS(WINDOW, OPT("group", QP_AT_INT), OPT("kernel_shape", QP_AT_INTS))),
	OP("MaxPool", infer_maxpool, run_maxpool, 0, 0,
	   ATTRS(REQ("kernel_shape", QP_AT_INTS), WINDOW, OPT("ceil_mode", QP_AT_INT),
		 OPT("storage_order", QP_AT_INT))),
	OP("AveragePool", infer_avgpool, run_avgpool, 0, 0,
	   ATTRS(REQ("kernel_shape", QP_AT_INTS), WINDOW, OPT("ceil_mode", QP_AT_INT),
		 OPT("count_include_pad", QP_AT_INT))),
	OP("GlobalAveragePool", infer_gap, run_gap, 0, 0, NONE),
	OP("Gemm", infer_gemm, run_gemm, 0, 0,
	   ATTRS(OPT("alpha", QP_AT_FLOAT), OPT("beta", QP_AT_FLOAT),
		 OPT("transA", QP_AT_INT), OPT("transB", QP_AT_INT))),
	OP("MatMul", infer_matmul, run_matmul, 0, 0, NONE),
	OP("Flatten", infer_flatten, qp_kernel_copy, 0, 0, ATTRS(OPT("axis", QP_AT_INT))),
	OP("Reshape", infer_reshape, qp_kernel_copy, 0, 0, ATTRS(OPT("allowzero", QP_AT_INT))),
	OP("Softmax", infer_softmax, run_softmax, 0, 0, ATTRS(OPT("axis", QP_AT_INT))),
	OP("BatchNormalization", infer_batchnorm, run_batchnorm, 0, 0,
	   ATTRS(OPT("epsilon", QP_AT_FLOAT))),
	OP("Transpose", infer_transpose, run_transpose, 0, 0, ATTRS(OPT("perm", QP_AT_INTS))),
	UNARY("Relu", UN_RELU, 1, NONE),
	UNARY("Sqrt", UN_SQRT, 0, NONE),
	UNARY("Exp", UN_EXP, 0, NONE),
	UNARY("Erf", UN_ERF, 0, NONE),
	UNARY("LeakyRelu", UN_LEAKY, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	UNARY("Sigmoid", UN_SIGMOID, 0, NONE),
	UNARY("HardSigmoid", UN_HSIGMOID, 0,
	      ATTRS(OPT("alpha", QP_AT_FLOAT), OPT("beta", QP_AT_FLOAT))),
	UNARY("HardSwish", UN_HSWISH, 0, NONE),
	UNARY("Tanh", UN_TANH, 0, NONE),
	UNARY("Abs", UN_ABS, 1, NONE),
	UNARY("Neg", UN_NEG, 1, NONE),
	UNARY("Reciprocal", UN_RECIP, 0, NONE),
	UNARY("Elu", UN_ELU, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	UNARY("ThresholdedRelu", UN_THRESH, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	UNARY("Gelu", UN_GELU, 0, ATTRS(OPT("approximate", QP_AT_STRING))),
	UNARY("Log", UN_LOG, 0, NONE),
	UNARY("Sin", UN_SIN, 0, NONE),
	UNARY("Cos", UN_COS, 0, NONE),
	UNARY("Tan", UN_TAN, 0, NONE),
	UNARY("Asin", UN_ASIN, 0, NONE),
	UNARY("Acos", UN_ACOS, 0, NONE),
	UNARY("Atan", UN_ATAN, 0, NONE),
	UNARY("Sinh", UN_SINH, 0, NONE),
	UNARY("Cosh", UN_COSH, 0, NONE),
	UNARY("Asinh", UN_ASINH, 0, NONE),
	UNARY("Acosh", UN_ACOSH, 0, NONE),
	UNARY("Atanh", UN_ATANH, 0, NONE),
	UNARY("Floor", UN_FLOOR, 0, NONE),
	UNARY("Ceil", UN_CEIL, 0, NONE),
	UNARY("Round", UN_ROUND, 0, NONE),
	UNARY("Sign", UN_SIGN, 1, NONE),
	UNARY("Softplus", UN_SOFTPLUS, 0, NONE),
	UNARY("Softsign", UN_SOFTSIGN, 0, NONE),
	UNARY("Mish", UN_MISH, 0, NONE),
	UNARY("Selu", UN_SELU, 0, ATTRS(OPT("alpha", QP_AT_FLOAT), OPT("gamma", QP_AT_FLOAT))),
	UNARY("Celu", UN_CELU, 0, ATTRS(OPT("alpha", QP_AT_FLOAT))),
	UNARY("Shrink", UN_SHRINK, 0, ATTRS(OPT("lambd", QP_AT_FLOAT), OPT("bias", QP_AT_FLOAT))),
	UNARY("IsNaN", UN_ISNAN, 0, NONE),
	UNARY("IsInf", UN_ISINF, 0,
	      ATTRS(OPT("detect_negative", QP_AT_INT), OPT("detect_positive", QP_AT_INT))),
	UNARY("Not", UN_NOT, 0, NONE),
	ARITH("Add", AR_ADD),
	ARITH("Sub", AR_SUB),
	ARITH("Mul", AR_MUL),
	ARITH("Div", AR_DIV),
	ARITH("Pow", AR_POW),
	ARITH("PRelu", AR_PRELU),
	OP("Mod", infer_arith, run_arith, AR_MOD, 0, ATTRS(OPT("fmod", QP_AT_INT))),
	OP("BitShift", infer_arith, run_arith, AR_SHL, 0,
	   ATTRS(REQ("direction", QP_AT_STRING))),
	ARITH("Equal", AR_EQ),
	ARITH("Less", AR_LT),
	ARITH("LessOrEqual", AR_LE),
	ARITH("Greater", AR_GT),
	ARITH("GreaterOrEqual", AR_GE),
	ARITH("And", AR_AND),
	ARITH("Or", AR_OR),
	ARITH("Xor", AR_XOR),
	VARIADIC("Sum", AR_ADD),
	VARIADIC("Mean", AR_MEAN),
	VARIADIC("Max", AR_MAX),
	VARIADIC("Min", AR_MIN),
	OP("Where", infer_where, run_where, 0, 0, NONE),
	OP("Clip", infer_clip, run_clip, 0, 0, NONE),
	REDUCTION("ReduceMean", RD_MEAN),
	REDUCTION("ReduceMax", RD_MAX),
	REDUCTION("ReduceSum", RD_SUM),
	REDUCTION("ReduceMin", RD_MIN),
	REDUCTION("ReduceProd", RD_PROD),
	REDUCTION("ReduceSumSquare", RD_SUMSQ),
	REDUCTION("ReduceL1", RD_L1),
	REDUCTION("ReduceL2", RD_L2),
	OP("ArgMax", infer_argmax, run_argmax, 0, 0, ARG),
	OP("ArgMin", infer_argmax, run_argmax, 1, 0, ARG),
	OP("TopK", infer_topk, run_topk, 0, 0,
	   ATTRS(OPT("axis", QP_AT_INT), OPT("largest", QP_AT_INT), OPT("sorted", QP_AT_INT))),
	OP("InstanceNormalization", infer_instnorm, run_instnorm, 0, 0,
	   ATTRS(OPT("epsilon", QP_AT_FLOAT))),
	OP("GlobalMaxPool", infer_gap, run_gmp, 0, 0, NONE),
	OP("ConvTranspose", infer_convtranspose, run_convtranspose, 0, 0,
	   ATTRS(WINDOW, OPT("output_padding", QP_AT_INTS), OPT("group", QP_AT_INT),
		 OPT("kernel_shape", QP_AT_INTS))),
	/* "to" is an IR dtype name, or an ONNX TensorProto number (cast_to). */
	OP("Cast", infer_cast, run_cast, 0, 0, ATTRS(REQ("to", QP_AT_STRING | QP_AT_INT))),
	OP("Identity", infer_identity, qp_kernel_copy, 0, 0, NONE),
	/* saturate (opset 19) concerns float8 outputs only: the IR's int8 and
	 * uint8 always saturate.  onnx2ir keeps it as ONNX wrote it. */
	OP("QuantizeLinear", infer_quantize, run_quantize, 0, 0,
	   ATTRS(OPT("axis", QP_AT_INT), OPT("saturate", QP_AT_INT))),
	OP("DequantizeLinear", infer_dequantize, run_dequantize, 0, 0,
	   ATTRS(OPT("axis", QP_AT_INT))),
	QP_ROW_END,
};
