/* The op table: one row per op, for every stage that needs it.
 *
 * Adding an op means one row here (shape inference + float kernel), one in
 * the integer table for lowered ops, one in each importer's table, and a
 * quantization/lowering rule.  A float or tensor row also lists every
 * attribute the op defines: the IR verifier refuses any other, so an
 * importer cannot write an attribute that no kernel reads.  Tables:
 *   lib/ops/ops_float.c  ONNX-semantics float ops (Conv, Relu, ...); their
 *                        shape rules and kernels by family in lib/ops/float_*.c
 *   lib/ops/ops_tensor.c ONNX data-movement ops (Concat, Slice, Gather, Pad, ...)
 *   lib/ops/ops_int.c    lowered integer ops (QConv, ...), calling runtime/ kernels
 * qp_op_find searches them in that order (float, tensor, int).
 *
 * A lowered op costs (docs/hacking.md, with QClip as the worked example):
 * one row in runtime/qp_ops.h's QP_RT_OPS (name, opcode, arity, kernel,
 * shape rule, parameter schema), which generates its enum value, runtime
 * dispatch and arity, lib/ir/lowered.c's parameter layout and its row in
 * qp_ops_int; its check_ and run_ functions in runtime/kernels.c; one
 * lowering rule in stages/lower/lower.c; and a quantization rule (its
 * operator set in the TPC, plus a row in stages/quantize/quantize.c when
 * its constant inputs are weights or parameters rather than data).  A new
 * infer_ function here only when no existing shape rule fits; emit needs
 * nothing.  Docs: its rows in docs/ir.md section 6 and docs/binary.md
 * section 5.
 */
#ifndef QP_OPS_H
#define QP_OPS_H

#include "ir.h"

/* A tensor's value while the interpreter runs: shape as in the IR tensor,
 * data owned by the interpreter (constants: the IR's own data, or a
 * dequantized float copy for quantized weights under float ops). */
typedef struct qp_value {
	qp_dtype dtype;
	int rank;
	int64_t dims[QP_MAX_RANK];
	int64_t numel;
	void *data;
} qp_value;

/* Infers dtype and shape of node n's outputs from its inputs (and, where the
 * shape comes from a constant input such as Reshape's shape, from that
 * constant's data), writing them into the graph's output tensors.  Must
 * reject inputs the op cannot take (rank, dtype, attribute values) with a
 * message naming the node: "... (node 'x', op 'Conv')". */
typedef int (*qp_infer_fn)(qp_graph *g, int node, qp_err *err);

/* Computes the outputs of node n.  in[i] is NULL for an omitted optional
 * input; out[] are allocated by the interpreter with the inferred shapes. */
typedef int (*qp_kernel_fn)(const qp_graph *g, const qp_node *n,
			    const qp_value *const *in, qp_value *const *out,
			    qp_err *err);

typedef struct qp_op_def {
	const char *name;
	qp_infer_fn infer;
	qp_kernel_fn run;
} qp_op_def;

/* The types an attribute may have, as bits (1u << qp_attr_type).  A float
 * attribute also takes an int: ONNX writers store whole numbers so, and
 * qp_node_attr_float reads them. */
#define QP_AT_INT (1u << QP_ATTR_INT)
#define QP_AT_FLOAT ((1u << QP_ATTR_FLOAT) | QP_AT_INT)
#define QP_AT_INTS (1u << QP_ATTR_INTS)
#define QP_AT_FLOATS (1u << QP_ATTR_FLOATS)
#define QP_AT_STRING (1u << QP_ATTR_STRING)

/* An attribute an op defines (docs/ir.md section 3).  Values are the
 * shape rule's to check: it names the node and the value it refuses. */
typedef struct qp_attr_def {
	const char *name;
	unsigned types;   /* QP_AT_* bits */
	int required;     /* the op has no default for it */
} qp_attr_def;

/* A row of the ONNX-semantics tables (float, tensor): the op, every
 * attribute it defines ({NULL}-terminated; the verifier refuses any other
 * and a required one missing), and what its family's shared kernel needs
 * to know (which unary function, arithmetic or reduction), so a family
 * has no second table keyed by name. */
typedef struct qp_op_row {
	qp_op_def op;             /* first: qp_op_find returns &row->op */
	const qp_attr_def *attrs;
	int kind;                 /* family selector; 0 for a one-op kernel */
	int ints_ok;              /* also defined on integer dtypes */
} qp_op_row;

/* NULL-name-terminated tables. */
extern const qp_op_row qp_ops_float[];
extern const qp_op_row qp_ops_tensor[];
extern const qp_op_def qp_ops_int[];

const qp_op_def *qp_op_find(const char *name);

/* The float or tensor row d is the op of, or NULL for an integer op (whose
 * attributes are listed by runtime/qp_ops.h, lib/ir/lowered.h). */
const qp_op_row *qp_op_row_of(const qp_op_def *d);
/* Whether d is a row of qp_ops_float. */
int qp_op_is_float(const qp_op_def *d);

/* A Slice node's per-axis start, step and output dims over an input of
 * rank dims, after ONNX's clamping (every axis filled: 0, 1, dim for the
 * axes it does not slice).  For lower, which writes them as QSlice's. */
int qp_slice_plan(const qp_node *n, int rank, const int64_t *dims,
		  int64_t *start, int64_t *step, int64_t *out, qp_err *err);

/* Node n's op is in a table, and every attribute it has is one its row
 * defines, with a type the row allows; every required one is present.
 * An integer op's attributes are those of its row in runtime/qp_ops.h
 * (parameter schema and extra attributes).  For qp_graph_verify. */
int qp_op_check_node(const qp_node *n, qp_err *err);

/* Runs shape inference over the whole graph in node order. */
int qp_graph_infer_shapes(qp_graph *g, qp_err *err);

/* Runs every op's shape rule over a scratch copy of g's tensor table,
 * leaving g untouched: the first node whose inputs or attributes its op
 * refuses (a Conv with group 0), or whose stored output dtype or shape
 * differs from what the op gives, is an error naming the node.  Ops without
 * shape inference are skipped; an unknown op is an error.  For readers of
 * an IR that they did not build (interp, lower). */
int qp_graph_check_shapes(const qp_graph *g, qp_err *err);

#endif
