/* ONNX model -> qpipe IR graph.
 *
 * import.c walks the ModelProto (parsed by the protoc-c generated code):
 * opset check, initializers, graph inputs, then every node through the op
 * table in ops.c (one row per supported ONNX op), shape inference after each
 * node (so auto_pad can be resolved from the known input shape), and finally
 * the graph outputs.  Nothing here prints or exits.
 */
#ifndef ONNX2IR_IMPORT_H
#define ONNX2IR_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ir.h"
#include "onnx.pb-c.h"

#define ONNX_OPSET_MIN 13
#define ONNX_OPSET_MAX 20

/* What the caller may want to tell the user without failing. */
typedef struct onnx_import_info {
	int opset;          /* the model's default-domain opset */
	qp_err warnings;    /* one warning per line; empty when none */
} onnx_import_info;

/* Parses an ONNX model held in memory and builds a verified, shape-inferred,
 * topologically sorted graph.  Messages do not include the file name. */
int onnx_import(const void *buf, size_t len, qp_graph **out,
		onnx_import_info *info, qp_err *err);

/* ---- for the op table (ops.c) ------------------------------------------ */

/* The node being imported. */
typedef struct onnx_ctx {
	qp_graph *g;
	const Onnx__GraphProto *graph;
	const Onnx__NodeProto *np;
	const char *name;   /* unique IR node name */
	const char *op;     /* ONNX op_type */
	int opset;
	int node;           /* IR node index once onnx_emit_node added it; -1 before */
	void *priv;         /* import.c's state (name aliases) */
} onnx_ctx;

typedef int (*onnx_import_fn)(onnx_ctx *c, qp_err *err);

typedef struct onnx_op {
	const char *name;          /* ONNX op_type, default domain */
	int min_inputs, max_inputs;
	int max_outputs;           /* outputs past the first must be absent or unused */
	const char *attrs;         /* accepted ONNX attributes, space separated */
	onnx_import_fn import;     /* adds the node(s), sets IR attributes */
} onnx_op;

/* NULL-name-terminated; ops.c. */
extern const onnx_op onnx_ops[];
const onnx_op *onnx_op_find(const char *op_type);

/* Sets err to "msg (node 'n', op 'Op')"; returns -1. */
int onnx_node_err(const onnx_ctx *c, qp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Attribute access with type checks; *present tells whether it was given. */
const Onnx__AttributeProto *onnx_attr(const onnx_ctx *c, const char *name);
/* The attribute's type; old writers leave `type` unset, so it is inferred
 * from which field is filled in. */
Onnx__AttributeProto__AttributeType onnx_attr_type(const Onnx__AttributeProto *a);
int onnx_attr_int(const onnx_ctx *c, const char *name, int64_t dflt,
		  int64_t *out, qp_err *err);
int onnx_attr_float(const onnx_ctx *c, const char *name, float dflt,
		    float *out, qp_err *err);
/* Copies up to max values into out, sets *n (0 when absent). */
int onnx_attr_ints(const onnx_ctx *c, const char *name, int64_t *out, int max,
		   int *n, qp_err *err);
/* The string value, or dflt when absent (NUL-terminated copy in buf). */
int onnx_attr_string(const onnx_ctx *c, const char *name, const char *dflt,
		     char *buf, size_t bufsize, qp_err *err);

/* Tensor index of the node's input i, -1 when omitted ("" or past the end). */
int onnx_input(const onnx_ctx *c, int i);
/* True when the node's output i is named and something consumes it (a node
 * input or a graph output). */
int onnx_output_used(const onnx_ctx *c, int i);

/* Adds the IR node op with the ONNX node's inputs and its first output
 * (further outputs must have been checked unused); sets c->node. */
int onnx_emit_node(onnx_ctx *c, const char *op, qp_err *err);
/* Makes the node's output 0 another name for tensor t (pass-through ops). */
int onnx_alias_output(onnx_ctx *c, int t, qp_err *err);
/* Adds a constant tensor called name from a TensorProto; returns its index
 * in *index. */
int onnx_add_constant(qp_graph *g, const char *name,
		      const Onnx__TensorProto *tp, int *index, qp_err *err);

#endif
