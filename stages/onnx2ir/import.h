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

#define ONNX_OPSET_MIN 7
#define ONNX_OPSET_MAX 20

/* What the caller may want to tell the user without failing. */
typedef struct onnx_import_info {
	int opset;          /* the model's default-domain opset */
	qp_err warnings;    /* one warning per line; empty when none */
} onnx_import_info;

/* Parses an ONNX model held in memory and builds a verified, shape-inferred,
 * topologically sorted graph.  Messages do not include the file name.
 * Tensors with external data are refused (there is no directory to read
 * them from); onnx_import_file resolves them. */
int onnx_import(const void *buf, size_t len, qp_graph **out,
		onnx_import_info *info, qp_err *err);
/* The same with external data files read relative to base_dir (NULL: no
 * external data allowed). */
int onnx_import_ex(const void *buf, size_t len, const char *base_dir,
		   qp_graph **out, onnx_import_info *info, qp_err *err);
/* Loads the model at path ("-" or NULL: standard input) and imports it;
 * external data files are read from the model's directory.  All model
 * loading happens here, so a streaming reader can replace it in one place. */
int onnx_import_file(const char *path, qp_graph **out, onnx_import_info *info,
		     qp_err *err);

/* ---- for the op table (ops.c) ------------------------------------------ */

struct onnx_old_form;

/* The node being imported. */
typedef struct onnx_ctx {
	qp_graph *g;
	const Onnx__GraphProto *graph;
	const Onnx__NodeProto *np;
	const char *name;   /* unique IR node name */
	const char *op;     /* ONNX op_type */
	int opset;
	int node;           /* IR node index once onnx_emit_node added it; -1 before */
	const char *base_dir; /* external data directory; NULL: none allowed */
	void *priv;         /* import.c's state (name aliases) */
	const struct onnx_old_form *old; /* the older form np was rewritten from, or NULL */
} onnx_ctx;

typedef int (*onnx_import_fn)(onnx_ctx *c, qp_err *err);

typedef struct onnx_op {
	const char *name;          /* ONNX op_type, default domain */
	int min_inputs, max_inputs;
	int max_outputs;           /* outputs past the first must be absent or unused */
	const char *attrs;         /* accepted ONNX attributes, space separated */
	onnx_import_fn import;     /* adds the node(s), sets IR attributes */
	int all_outputs;           /* 1: every output is an IR output (Split, TopK) */
} onnx_op;

/* NULL-name-terminated; ops.c. */
extern const onnx_op onnx_ops[];
const onnx_op *onnx_op_find(const char *op_type);

/* ---- older opsets' forms ------------------------------------------------- */

/* How an attribute that later became an input is turned into a constant. */
typedef enum onnx_moved_kind {
	ONNX_MOVE_INTS = 1,    /* ints -> 1-D int64 */
	ONNX_MOVE_INT_1D,      /* int -> 1-D int64 of one element (TopK's k) */
	ONNX_MOVE_FLOATS,      /* floats -> 1-D float */
	ONNX_MOVE_FLOAT,       /* float -> float scalar */
} onnx_moved_kind;

typedef struct onnx_moved {
	const char *attr;      /* NULL: no more */
	int input;             /* the input index it has in the row's form */
	onnx_moved_kind kind;
} onnx_moved;

enum {
	/* Softmax before opset 13: axis defaults to 1 and the input is
	 * coerced to 2-D around it; the converter maps it to a softmax over
	 * one axis when that is the same, else refuses. */
	ONNX_OLD_COERCE_2D = 1,
};

/* One row per op and opset range whose form differs from the row in
 * onnx_ops[] (the opset 13+ form, which the IR follows).  import.c
 * rewrites such a node into the row's form -- moved attributes become
 * constant inputs named after the node, inputs from shift_from move up
 * one, string attributes whose meaning was fixed before get their old
 * value written out -- then runs the row's checks and converter (or the
 * form's own).  Opsets without a row import as the row says. */
typedef struct onnx_old_form {
	const char *op;
	int opset_min, opset_max;
	int max_inputs;            /* inputs of the old form */
	int max_outputs;           /* 0: the row's */
	const char *attrs;         /* accepted besides the row's and the moved ones */
	onnx_moved moved[3];
	int shift_from;            /* 0: none */
	const char *fixed;         /* "name=value ..." string attributes set when absent */
	onnx_import_fn import;     /* NULL: the row's */
	int flags;                 /* ONNX_OLD_* */
} onnx_old_form;

/* NULL-op-terminated; ops.c. */
extern const onnx_old_form onnx_old_forms[];
const onnx_old_form *onnx_old_form_find(const char *op_type, int opset);

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
/* The same with the node's first n_outputs outputs (Split, TopK); an
 * unnamed one gets a fresh name. */
int onnx_emit_node_n(onnx_ctx *c, const char *op, int n_outputs, qp_err *err);
/* True when the node's output i is a graph output. */
int onnx_output_is_graph_output(const onnx_ctx *c, int i);
/* Makes the node's output 0 another name for tensor t (pass-through ops). */
int onnx_alias_output(onnx_ctx *c, int t, qp_err *err);
/* Adds a constant tensor called name from a TensorProto; returns its index
 * in *index. */
int onnx_add_constant(qp_graph *g, const char *name,
		      const Onnx__TensorProto *tp, int *index, qp_err *err);
/* The same, reading external data (data_location EXTERNAL) from files
 * relative to base_dir (NULL: refused).  Locations must be relative paths
 * without "..", and offset/length must lie inside the file. */
int onnx_add_constant_ext(qp_graph *g, const char *name,
			  const Onnx__TensorProto *tp, const char *base_dir,
			  int *index, qp_err *err);
/* Adds a constant tensor called name (a fresh name when taken) with the
 * given dtype, shape and data (copied); returns its index or -1. */
int onnx_new_constant(qp_graph *g, const char *name, qp_dtype dt, int rank,
		      const int64_t *dims, const void *data, qp_err *err);

/* ---- import passes (fold.c) ---------------------------------------------- */

/* Constant folding of one node: when every input is a constant, runs the
 * interpreter's kernel now, makes the outputs constants and removes the
 * node.  *folded tells whether it did.  Outputs larger than a limit stay
 * computed at run time (folding must not blow up the file). */
int onnx_fold_node(qp_graph *g, int node, int *folded, qp_err *err);

#endif
