/* Helpers shared by the op tables (lib/ops/ops_float.c and its float_*.c,
 * lib/ops/ops_tensor.c):
 * node-located errors, input/output accessors for shape inference,
 * attribute and constant readers, numpy broadcasting, and dtype-generic
 * element access for kernels that handle every IR dtype.
 *
 * Every function that can fail returns 0 or -1 and fills err with a
 * message ending "(node 'x', op 'Op')".
 */
#ifndef QP_OPS_COMMON_H
#define QP_OPS_COMMON_H

#include "ops.h"

/* ---- table rows --------------------------------------------------------- */

/* A qp_op_row: name, shape rule, kernel, family data, attributes; the
 * attribute list is written in the row, QP_ATTRS(QP_OPT("axis", QP_AT_INT))
 * or QP_NO_ATTRS. */
#define QP_ROW(name, infer, run, kind, ints_ok, attrs) \
	{{name, infer, run}, attrs, kind, ints_ok}
#define QP_ATTRS(...) ((const qp_attr_def[]){__VA_ARGS__, {NULL, 0, 0}})
#define QP_NO_ATTRS ((const qp_attr_def[]){{NULL, 0, 0}})
#define QP_OPT(name, types) {name, types, 0}
#define QP_REQ(name, types) {name, types, 1}
#define QP_ROW_END {{NULL, NULL, NULL}, NULL, 0, 0}

/* ---- errors and formatting ------------------------------------------- */

/* Sets err to "msg (node 'n', op 'Op')"; returns -1.  The helper for every
 * message about one node, in lib/ and the stages alike (qp_err_node in
 * err.h is the same for bare names). */
int qp_node_err(qp_err *err, const qp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same added as a line after the message in err (collected errors) /
 * put before it ("weight 'w' (node 'n', op 'Op'): old message"). */
int qp_node_err_append(qp_err *err, const qp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int qp_node_err_prefix(qp_err *err, const qp_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "[1,3,28,28]" into buf (truncated to len); returns buf. */
const char *qp_dims_str(int rank, const int64_t *dims, char *buf, size_t len);

/* ---- shape inference accessors ---------------------------------------- */

/* Input i of node n, or NULL when omitted or beyond n_inputs. */
qp_tensor *qp_in_tensor(qp_graph *g, const qp_node *n, int i);

/* Input count in [min_in, max_in], the first min_in present, exactly one
 * output. */
int qp_check_io(qp_graph *g, const qp_node *n, int min_in, int max_in,
		qp_err *err);
/* The same with an output count in [min_out, max_out]. */
int qp_check_io_n(qp_graph *g, const qp_node *n, int min_in, int max_in,
		  int min_out, int max_out, qp_err *err);

/* float32, or an integer constant with quant that the interpreter
 * dequantizes for float ops' consumers. */
int qp_is_real(const qp_tensor *t);
/* Errors naming `what` (e.g. "input") and the tensor unless it is real /
 * its rank is in [lo, hi]. */
int qp_want_real(const qp_node *n, const qp_tensor *t, const char *what,
		 qp_err *err);
int qp_want_rank(const qp_node *n, const qp_tensor *t, const char *what,
		 int lo, int hi, qp_err *err);

/* The dtype an elementwise op computes in for operand t: float32 for real
 * operands (float32 or dequantized constants), else t's own dtype. */
qp_dtype qp_compute_dtype(const qp_tensor *t);
/* Errors naming `what` and the tensor unless it is real or, when ints_ok,
 * of an integer dtype (ONNX allows them; PyTorch exports build shapes with
 * int64 Shape/Gather/Mul/Concat chains). */
int qp_want_numeric(const qp_node *n, const qp_tensor *t, const char *what,
		    int ints_ok, qp_err *err);

/* Node n's row in the op table: a family's shared kernel reads there which
 * member it computes.  qp_bug when n's op has no float or tensor row. */
const qp_op_row *qp_node_row(const qp_node *n);

/* Sets dtype and shape of output i (frees any data it had). */
void qp_set_out(qp_graph *g, const qp_node *n, int i, qp_dtype dt, int rank,
		const int64_t *dims);

/* Product of dims[from..to). */
int64_t qp_prod(int from, int to, const int64_t *dims);

/* ---- attributes and constants ----------------------------------------- */

/* Reads an ints attribute of exactly count values, each in
 * [min_value, QP_MAX_WINDOW]; absent: every value dflt. */
int qp_spatial_ints(const qp_node *n, const char *name, int count,
		    int64_t dflt, int64_t min_value, int64_t *out, qp_err *err);

/* Normalizes an axis in [-rank, rank) to [0, rank); what names it in the
 * message ("axis"). */
int qp_norm_axis(const qp_node *n, int64_t axis, int rank, const char *what,
		 int *out, qp_err *err);

/* A constant integer tensor's values as int64 (int8..int64 dtypes).
 * Returns a malloc'd array (count in *count; a 0-element tensor gives a
 * non-NULL 1-slot array), or NULL with err set when t has no data or is not
 * an integer dtype.  what names the tensor's role in the message. */
int64_t *qp_const_ints(const qp_node *n, const qp_tensor *t, const char *what,
		       int64_t *count, qp_err *err);

/* ---- broadcasting ------------------------------------------------------ */

/* numpy broadcasting of two shapes into o (rank *ro); -1 when
 * incompatible (no message). */
int qp_broadcast_dims(int ra, const int64_t *a, int rb, const int64_t *b,
		      int *ro, int64_t *o);

/* Element strides of an operand of shape (rank, dims) read along each axis
 * of the broadcast output shape (out_rank axes): 0 where the operand is
 * broadcast or missing (right-aligned, numpy rules). */
void qp_broadcast_strides(int out_rank, const int64_t *out_dims, int rank,
			  const int64_t *dims, int64_t *strides);

/* Calls visit(ctx, out_index, in_offsets) for every element of the output
 * shape in row-major order, with the offsets of n_in operands whose
 * broadcast strides are strides[k][axis] (from qp_broadcast_strides). */
typedef void (*qp_bcast_visit)(void *ctx, int64_t out_index,
			       const int64_t *in_offsets);
void qp_broadcast_walk(int out_rank, const int64_t *out_dims, int n_in,
		       int64_t (*strides)[QP_MAX_RANK], qp_bcast_visit visit,
		       void *ctx);

/* ---- dtype-generic element access ------------------------------------- */

/* Element i of data of dtype dt as double / int64 (bool: 0 or 1). */
double qp_elem_get_f64(const void *data, qp_dtype dt, int64_t i);
int64_t qp_elem_get_i64(const void *data, qp_dtype dt, int64_t i);
/* Stores v into element i: float32 rounds; integer dtypes wrap like a C
 * conversion from int64 (callers saturate first where ONNX says so); bool
 * is v != 0. */
void qp_elem_set_f64(void *data, qp_dtype dt, int64_t i, double v);
void qp_elem_set_i64(void *data, qp_dtype dt, int64_t i, int64_t v);

int qp_dtype_is_int(qp_dtype dt);   /* int8..int64 (not bool) */

/* ---- shared kernels ----------------------------------------------------- */

/* Output 0 = input 0, element for element (Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity: ops that change only the shape). */
int qp_kernel_copy(const qp_graph *g, const qp_node *n,
		   const qp_value *const *in, qp_value *const *out, qp_err *err);

#endif
