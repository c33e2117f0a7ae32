/* The op table: one row per op, for every stage that needs it.
 *
 * Adding an op means one row here (shape inference + float kernel), one in
 * the integer table for lowered ops, one in each importer's table, and a
 * quantization/lowering rule.  Tables:
 *   lib/ops_float.c  ONNX-semantics float ops (Conv, Relu, ...)
 *   lib/ops_tensor.c ONNX data-movement ops (Concat, Slice, Gather, Pad, ...)
 *   lib/ops_int.c    lowered integer ops (QConv, ...), calling runtime/ kernels
 * qp_op_find searches them in that order (float, tensor, int).
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

/* NULL-name-terminated tables. */
extern const qp_op_def qp_ops_float[];
extern const qp_op_def qp_ops_tensor[];
extern const qp_op_def qp_ops_int[];

const qp_op_def *qp_op_find(const char *name);

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
