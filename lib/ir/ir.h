/* The qpipe IR: in-memory graph and the .ir file reader/writer.
 *
 * docs/ir.md is the normative description of the file; this header is the
 * in-memory twin.  Every stage reads a graph with qp_ir_read (which runs
 * qp_graph_verify before returning), changes it, and writes it with
 * qp_ir_write (which verifies again and writes atomically).  The sections
 * below follow the files of lib/ir/: types, the graph (graph.c),
 * attributes (attr.c), verification (verify.c), reading (read.c) and
 * writing (write.c).
 *
 * Ownership: the graph owns every string, array and tensor buffer reachable
 * from it.  Tensors and nodes are referred to by index: qp_graph_add_* may
 * realloc the arrays, so a qp_tensor* or qp_node* taken before an add is
 * invalid after it.
 */
#ifndef QP_IR_H
#define QP_IR_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

#define QP_IR_VERSION_MAJOR 0
#define QP_IR_VERSION_MINOR 1
#define QP_MAX_RANK 8
/* Largest stride, dilation, pad or kernel size a window accepts: far beyond
 * any real network, and small enough that the window arithmetic
 * (dilation * (kernel - 1) + pads) cannot overflow int64. */
#define QP_MAX_WINDOW ((int64_t)INT32_MAX)
#define QP_IR_ALIGN 64

/* ---- types ------------------------------------------------------------------ */

typedef enum qp_dtype {
	QP_DT_FLOAT32,
	QP_DT_INT8,
	QP_DT_UINT8,
	QP_DT_INT16,
	QP_DT_INT32,
	QP_DT_INT64,
	QP_DT_BOOL,
	QP_DT_COUNT
} qp_dtype;

/* "float32", "int8", ... as written in the IR header. */
const char *qp_dtype_name(qp_dtype dt);
/* 0 and *dt set on success, -1 for an unknown name. */
int qp_dtype_parse(const char *name, qp_dtype *dt);
size_t qp_dtype_size(qp_dtype dt);

typedef enum qp_qscheme {
	QP_Q_SYMMETRIC,     /* zero_point == 0 */
	QP_Q_ASYMMETRIC,    /* uniform, any zero_point */
	QP_Q_POWER_OF_TWO   /* symmetric, every scale an exact power of two */
} qp_qscheme;

const char *qp_qscheme_name(qp_qscheme s);
int qp_qscheme_parse(const char *name, qp_qscheme *s);

/* real = scale[c] * (q - zero_point[c]), c = index along axis (or 0). */
typedef struct qp_quant {
	qp_qscheme scheme;
	int bits;            /* 2..16 for activations/weights, 32 for biases */
	int is_signed;
	int axis;            /* -1: per tensor (n == 1); else the channel axis */
	int n;               /* number of scales: 1, or dims[axis] */
	float *scale;        /* n entries, each finite and > 0 */
	int32_t *zero_point; /* n entries, inside the integer range */
} qp_quant;

/* qp_quant_new, _dup and _free: quant.h. */

/* Calibration statistics of one activation tensor: defined with their
 * functions in stats.h. */
typedef struct qp_stats qp_stats;

typedef struct qp_tensor {
	char *name;
	qp_dtype dtype;
	int rank;                   /* 0..QP_MAX_RANK; 0 = scalar */
	int64_t dims[QP_MAX_RANK];  /* every dim >= 0 and concrete */
	void *data;                 /* constants only; owned, QP_IR_ALIGN aligned */
	size_t nbytes;              /* numel * dtype size when data != NULL */
	qp_quant *quant;            /* NULL: not quantized */
	qp_stats *stats;            /* NULL: no statistics */
} qp_tensor;

typedef enum qp_attr_type {
	QP_ATTR_INT,
	QP_ATTR_FLOAT,
	QP_ATTR_INTS,
	QP_ATTR_FLOATS,
	QP_ATTR_STRING
} qp_attr_type;

typedef struct qp_attr {
	char *name;
	qp_attr_type type;
	int64_t i;            /* QP_ATTR_INT */
	float f;              /* QP_ATTR_FLOAT */
	int n;                /* element count of ints/floats */
	int64_t *ints;        /* QP_ATTR_INTS */
	float *floats;        /* QP_ATTR_FLOATS */
	char *s;              /* QP_ATTR_STRING */
} qp_attr;

typedef struct qp_node {
	char *name;           /* unique in the graph */
	char *op;             /* "Conv", ... (docs/ir.md, "Op set") */
	int n_inputs;
	int *inputs;          /* tensor indices; -1 = omitted optional input */
	int n_outputs;
	int *outputs;         /* tensor indices */
	int n_attrs;
	qp_attr *attrs;
} qp_node;

/* A graph input or output.  layout says how users lay out data they feed or
 * read ("NCHW" is the canonical layout the graph computes in; "NHWC" means
 * tools transpose user data to/from NCHW at the boundary); NULL = as is. */
typedef struct qp_graph_io {
	int tensor;
	char *layout;
} qp_graph_io;

typedef struct qp_graph {
	int n_tensors;
	qp_tensor *tensors;
	int n_nodes;
	qp_node *nodes;        /* topological order once verified */
	int n_inputs;
	qp_graph_io *inputs;
	int n_outputs;
	qp_graph_io *outputs;
	cJSON *history;        /* array of {"tool","version","argv":[...]} */
	cJSON *meta;           /* object of namespaced stage metadata:
	                          "target" (quantize), "lowered" (lower) */
	int cap_tensors, cap_nodes; /* private */
} qp_graph;

/* ---- the graph (graph.c) ------------------------------------------------ */

qp_graph *qp_graph_new(void);
void qp_graph_free(qp_graph *g);

/* Adds a tensor without data; returns its index, or -1 (duplicate or bad
 * name, bad rank, negative dim). */
int qp_graph_add_tensor(qp_graph *g, const char *name, qp_dtype dt, int rank,
			const int64_t *dims, qp_err *err);
/* Index of the tensor called name, or -1. */
int qp_graph_find_tensor(const qp_graph *g, const char *name);
/* A name not yet used by a tensor: base, base_1, base_2, ... (malloc'd). */
char *qp_graph_unique_tensor_name(const qp_graph *g, const char *base);

/* Element count, or -1 on overflow. */
int64_t qp_tensor_numel(const qp_tensor *t);
/* Allocates zeroed, aligned data of numel * dtype size (replacing any old
 * data); returns 0 or -1. */
int qp_tensor_alloc_data(qp_tensor *t, qp_err *err);
/* Replaces shape and dtype; frees data. */
void qp_tensor_reshape(qp_tensor *t, qp_dtype dt, int rank, const int64_t *dims);
void *qp_aligned_alloc(size_t nbytes);   /* zeroed; free with free() */

/* Adds a node; copies the index arrays; returns its index or -1. */
int qp_graph_add_node(qp_graph *g, const char *name, const char *op,
		      int n_inputs, const int *inputs,
		      int n_outputs, const int *outputs, qp_err *err);
/* Removes the nodes whose keep[i] is 0, keeping order. */
void qp_graph_remove_nodes(qp_graph *g, const unsigned char *keep);
/* Drops tensors no node, input or output refers to; renumbers indices. */
void qp_graph_drop_unused_tensors(qp_graph *g);
/* Sorts nodes topologically (stable); -1 on a cycle or an input with no
 * producer. */
int qp_graph_toposort(qp_graph *g, qp_err *err);
/* Index of the node producing tensor t, or -1 (graph input / constant). */
int qp_graph_producer(const qp_graph *g, int t);
/* Number of node inputs and graph outputs referring to tensor t. */
int qp_graph_consumers(const qp_graph *g, int t);
/* The node reading tensor t when exactly one node input refers to it and
 * no graph output does; else -1. */
int qp_graph_only_consumer(const qp_graph *g, int t);

/* Appends {"tool","version","argv"} to the history. */
int qp_graph_add_history(qp_graph *g, const char *tool, int argc, char **argv);

/* ---- attributes (attr.c) --------------------------------------------------- */

/* Getters return the default when the attribute is absent;
 * qp_node_attr returns NULL then. */
const qp_attr *qp_node_attr(const qp_node *n, const char *name);
int64_t qp_node_attr_int(const qp_node *n, const char *name, int64_t dflt);
float qp_node_attr_float(const qp_node *n, const char *name, float dflt);
/* Returns the array and sets *count, or NULL and *count = 0. */
const int64_t *qp_node_attr_ints(const qp_node *n, const char *name, int *count);
const float *qp_node_attr_floats(const qp_node *n, const char *name, int *count);
const char *qp_node_attr_string(const qp_node *n, const char *name, const char *dflt);
/* Setters replace an attribute of the same name; they return 0 or -1. */
int qp_node_set_int(qp_node *n, const char *name, int64_t v);
int qp_node_set_float(qp_node *n, const char *name, float v);
int qp_node_set_ints(qp_node *n, const char *name, int count, const int64_t *v);
int qp_node_set_floats(qp_node *n, const char *name, int count, const float *v);
int qp_node_set_string(qp_node *n, const char *name, const char *v);

/* ---- verification (verify.c) ----------------------------------------------- */

/* Checks every invariant docs/ir.md lists: names unique and non-empty,
 * indices in range, dtypes known, shapes non-negative without overflow,
 * data sizes match, quant parameters consistent with the tensor, every
 * node input produced before it is used, single producer per tensor,
 * graph inputs/outputs valid. */
int qp_graph_verify(const qp_graph *g, qp_err *err);

/* ---- reading (read.c) ------------------------------------------------------ */

/* Reads and verifies an IR file.  path NULL or "-" reads standard input
 * (pipes are fine: the file is read whole, then checked).  Error messages
 * do not include the path: callers print "tool: path: msg". */
int qp_ir_read(const char *path, qp_graph **out, qp_err *err);
int qp_ir_read_mem(const void *buf, size_t len, qp_graph **out, qp_err *err);
/* Checks only the frame of an IR file in memory (docs/ir.md section 1: magic,
 * version, flags, trailer, checksum, header length) and returns the file's
 * format version and its JSON header text (*header points into buf and is
 * not NUL terminated).  For inspection tools such as irdump; everything
 * else reads graphs with qp_ir_read. */
int qp_ir_frame(const void *buf, size_t len, unsigned *major, unsigned *minor,
		const char **header, size_t *header_len, qp_err *err);

/* ---- writing (write.c) ------------------------------------------------------ */

/* Verifies and writes.  path NULL or "-" writes standard output; a path is
 * written atomically (temp file beside it, fsync, rename); on failure no
 * file is left.  Same graph, same bytes. */
int qp_ir_write(const qp_graph *g, const char *path, qp_err *err);
int qp_ir_write_mem(const qp_graph *g, void **buf, size_t *len, qp_err *err);

#endif
