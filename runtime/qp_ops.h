/* The lowered op set, defined once (docs/hacking.md, "Adding an op").
 *
 * QP_RT_OPS(X) calls X once per op, in opcode order:
 *
 *   X(ID, name, opcode, in_min, in_max, n_out, kernel, shape, params)
 *
 *   ID      the enum suffix: QP_OP_<ID> in qp_runtime.h
 *   name    the lowered IR op name (docs/ir.md section 6)
 *   opcode  the number in the device binary (docs/binary.md section 5);
 *           never renumber: binaries already written carry it
 *   in_min, in_max
 *           required and maximum input count (inputs past in_min are
 *           optional, like QConv's bias); n_out the output count
 *   kernel  runtime/kernels.c defines check_<kernel> and run_<kernel>
 *   shape   lib/ops/ops_int.c defines infer_<shape>, the IR shape rule
 *   params  the parameter schema: the node attributes that make up the
 *           int32 parameter vector, in order.  "a" is one int ("int"
 *           attribute, or "ints" of one value); "a[N]" exactly N ints;
 *           "a[]" any number (per-channel multipliers).  After a "|":
 *           the op's extra attributes, read by the IR's shape rule only
 *           and not emitted (QMaxPool's ceil_mode, QReshape's shape);
 *           "a?" there is optional.  The IR verifier refuses a lowered
 *           node with an attribute its row does not list, or without
 *           one it lists (lib/ops/ops.c).
 *
 * Generated from it: the opcode enum (qp_runtime.h), the arity and
 * dispatch tables (kernels.c), the parameter layout and name <-> opcode
 * maps (lib/ir/lowered.c) and the integer op table (lib/ops/ops_int.c).  The
 * runtime ignores the shape column, lib/ the kernel column, so neither
 * depends on the other's functions.
 */
#ifndef QP_RT_OPS_H
#define QP_RT_OPS_H

#define QP_RT_OPS(X) \
	X(QUANTIZE,   "Quantize",   1, 1, 1, 1, quantize,   same_i8,    \
	  "act_min act_max") \
	X(DEQUANTIZE, "Dequantize", 2, 1, 1, 1, dequantize, same_f32,   \
	  "") \
	X(QCONV,      "QConv",      3, 2, 3, 1, conv,       conv,       \
	  "strides[2] pads[4] dilations[2] group act_min act_max multiplier[] shift[]") \
	X(QGEMM,      "QGemm",      4, 2, 3, 1, gemm,       gemm,       \
	  "act_min act_max multiplier[] shift[]") \
	X(QMAXPOOL,   "QMaxPool",   5, 1, 1, 1, maxpool,    pool,       \
	  "kernel_shape[2] strides[2] pads[4] dilations[2] | ceil_mode?") \
	X(QAVGPOOL,   "QAvgPool",   6, 1, 1, 1, avgpool,    pool,       \
	  "kernel_shape[2] strides[2] pads[4] count_include_pad act_min act_max multiplier[1] shift[1] | ceil_mode?") \
	X(QADD,       "QAdd",       7, 2, 2, 1, add,        binary,     \
	  "act_min act_max left_shift multiplier[3] shift[3]") \
	X(QMUL,       "QMul",       8, 2, 2, 1, mul,        binary,     \
	  "act_min act_max multiplier[1] shift[1]") \
	X(QRESHAPE,   "QReshape",   9, 1, 1, 1, reshape,    reshape,    \
	  "| shape[]") \
	X(QSOFTMAX,   "QSoftmax",  10, 1, 1, 1, softmax,    same_i8,    \
	  "act_min act_max multiplier[1] shift[1] exp_table[256]") \
	X(QREQUANT,   "QRequant",  11, 1, 1, 1, requant,    same_i8,    \
	  "act_min act_max multiplier[1] shift[1]") \
	X(QCLIP,      "QClip",     12, 1, 1, 1, clip,       same_i8,    \
	  "act_min act_max") \
	X(QLUT,       "QLut",      13, 1, 1, 1, lut,        same_i8,    \
	  "table[256]") \
	X(QCONCAT,    "QConcat",   14, 1, 16, 1, concat,     concat,     \
	  "axis multiplier[] shift[]") \
	X(QSLICE,     "QSlice",    15, 1, 1, 1, slice,      slice,      \
	  "starts[] ends[] steps[]") \
	X(QTRANSPOSE, "QTranspose", 16, 1, 1, 1, transpose, transpose,  \
	  "perm[]") \
	X(QPAD,       "QPad",      17, 1, 1, 1, pad,        pad,        \
	  "mode value pads[]") \
	X(QAFFINE,    "QAffine",   18, 1, 1, 1, affine,     same_i8,    \
	  "axis act_min act_max frac_bits multiplier[] shift[] offset[]") \
	X(QRESIZE,    "QResize",   19, 1, 1, 1, resize,     resize,     \
	  "mode coord nearest num[2] den[2] | sizes[]") \
	X(QPRELU,     "QPRelu",    20, 1, 1, 1, prelu,      same_i8,    \
	  "axis act_min act_max pos_multiplier pos_shift neg_multiplier[] neg_shift[]") \
	X(QCONVTRANSPOSE, "QConvTranspose", 21, 2, 3, 1, convtranspose, convtranspose, \
	  "strides[2] pads[4] dilations[2] output_padding[2] group act_min act_max multiplier[] shift[]")

#endif
