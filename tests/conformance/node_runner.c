/* node_runner: runs one ONNX backend node test against qpipe's interpreter.
 *
 *   node_runner MODEL.ir TESTDIR
 *
 * MODEL.ir is the test's model.onnx after onnx2ir; TESTDIR holds
 * input_<i>.pb and output_<i>.pb, serialized onnx.TensorProto in the order
 * of the graph's inputs and outputs.  Every input is fed whole (no batch
 * splitting: node tests use dim 0 as an ordinary axis), the graph is run
 * once, and every output is compared with the expected one the way ONNX's
 * own backend runner does: |a - b| <= 1e-7 + 1e-3 * |b|, NaN equal to NaN,
 * integers and booleans exactly; shapes and dtypes must match too.
 *
 * Exit status: 0 every output matches, 1 a mismatch or an error (the first
 * one is printed), 2 usage.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "io.h"
#include "ir.h"
#include "onnx.pb-c.h"

#define ATOL 1e-7
#define RTOL 1e-3

/* One expected or given tensor, converted to a qpipe dtype. */
typedef struct pb_tensor {
	qp_dtype dtype;
	int rank;
	int64_t dims[QP_MAX_RANK];
	int64_t numel;
	void *data;      /* numel elements of dtype */
} pb_tensor;

static int read_file(const char *path, uint8_t **buf, size_t *len, qp_err *err)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return qp_err_errno(err, "%s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return qp_err_errno(err, "%s", path);
	}
	*buf = malloc(n ? (size_t)n : 1);
	if (!*buf) {
		fclose(f);
		return qp_err_set(err, "%s: out of memory", path);
	}
	if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		free(*buf);
		fclose(f);
		return qp_err_set(err, "%s: short read", path);
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

/* Copies element i of the typed field or raw_data of tp into dst (dtype
 * dt).  Doubles become float32: onnx2ir imports them as float32. */
static int fill_elements(const Onnx__TensorProto *tp, pb_tensor *t,
			 const char *path, qp_err *err)
{
	size_t esize = qp_dtype_size(t->dtype);
	size_t raw_esize;
	int64_t n = t->numel, i;
	int is_double = tp->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;

	t->data = calloc(n ? (size_t)n : 1, esize);
	if (!t->data)
		return qp_err_set(err, "%s: out of memory", path);
	raw_esize = is_double ? 8 : esize;
	if (tp->has_raw_data) {
		if (tp->raw_data.len != (size_t)n * raw_esize)
			return qp_err_set(err, "%s: raw_data holds %zu bytes, expected %lld",
					  path, tp->raw_data.len,
					  (long long)((size_t)n * raw_esize));
		if (!is_double) {
			/* An empty tensor may have no buffer: memcpy(NULL) is UB. */
			if (n > 0)
				memcpy(t->data, tp->raw_data.data, (size_t)n * esize);
			return 0;
		}
		for (i = 0; i < n; i++) {
			double d;

			memcpy(&d, tp->raw_data.data + i * 8, 8);
			((float *)t->data)[i] = (float)d;
		}
		return 0;
	}
	switch (tp->data_type) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
		if ((int64_t)tp->n_float_data != n)
			goto count;
		memcpy(t->data, tp->float_data, (size_t)n * 4);
		return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
		if ((int64_t)tp->n_double_data != n)
			goto count;
		for (i = 0; i < n; i++)
			((float *)t->data)[i] = (float)tp->double_data[i];
		return 0;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
		if ((int64_t)tp->n_int64_data != n)
			goto count;
		memcpy(t->data, tp->int64_data, (size_t)n * 8);
		return 0;
	default:
		/* int32, int16, int8, uint8 and bool all travel in int32_data. */
		if ((int64_t)tp->n_int32_data != n)
			goto count;
		for (i = 0; i < n; i++) {
			int32_t v = tp->int32_data[i];

			switch (t->dtype) {
			case QP_DT_INT32: ((int32_t *)t->data)[i] = v; break;
			case QP_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
			case QP_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
			default: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
			}
		}
		return 0;
	}
count:
	return qp_err_set(err, "%s: typed data holds a wrong number of elements (expected %lld)",
			  path, (long long)n);
}

static int read_tensor_pb(const char *path, pb_tensor *t, qp_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	Onnx__TensorProto *tp;
	size_t k;
	int rc = -1;

	memset(t, 0, sizeof *t);
	if (read_file(path, &buf, &len, err) < 0)
		return -1;
	tp = onnx__tensor_proto__unpack(NULL, len, buf);
	free(buf);
	if (!tp)
		return qp_err_set(err, "%s: not a serialized onnx.TensorProto", path);
	switch (tp->data_type) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
	case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: t->dtype = QP_DT_FLOAT32; break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: t->dtype = QP_DT_INT64; break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: t->dtype = QP_DT_INT32; break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: t->dtype = QP_DT_INT16; break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: t->dtype = QP_DT_INT8; break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: t->dtype = QP_DT_UINT8; break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: t->dtype = QP_DT_BOOL; break;
	default:
		qp_err_set(err, "%s: unsupported tensor data type %d", path,
			   (int)tp->data_type);
		goto out;
	}
	if (tp->n_dims > QP_MAX_RANK) {
		qp_err_set(err, "%s: rank %zu exceeds %d", path, tp->n_dims,
			   QP_MAX_RANK);
		goto out;
	}
	t->rank = (int)tp->n_dims;
	t->numel = 1;
	for (k = 0; k < tp->n_dims; k++) {
		if (tp->dims[k] < 0 || tp->dims[k] > ((int64_t)1 << 31)) {
			qp_err_set(err, "%s: bad dim %lld", path,
				   (long long)tp->dims[k]);
			goto out;
		}
		t->dims[k] = tp->dims[k];
		t->numel *= tp->dims[k];
	}
	rc = fill_elements(tp, t, path, err);
out:
	onnx__tensor_proto__free_unpacked(tp, NULL);
	if (rc < 0) {
		free(t->data);
		t->data = NULL;
	}
	return rc;
}

static void format_dims(char *buf, size_t size, int rank, const int64_t *dims)
{
	size_t used = 0;
	int k;

	used += (size_t)snprintf(buf, size, "(");
	for (k = 0; k < rank && used < size; k++)
		used += (size_t)snprintf(buf + used, size - used, "%s%lld",
					 k ? "," : "", (long long)dims[k]);
	if (used < size)
		snprintf(buf + used, size - used, ")");
}

static int same_shape(int rank_a, const int64_t *a, int rank_b,
		      const int64_t *b)
{
	return rank_a == rank_b &&
	       memcmp(a, b, (size_t)rank_a * sizeof *a) == 0;
}

static double element(const void *data, qp_dtype dt, int64_t i)
{
	switch (dt) {
	case QP_DT_FLOAT32: return ((const float *)data)[i];
	case QP_DT_INT8: return ((const int8_t *)data)[i];
	case QP_DT_UINT8: return ((const uint8_t *)data)[i];
	case QP_DT_INT16: return ((const int16_t *)data)[i];
	case QP_DT_INT32: return ((const int32_t *)data)[i];
	case QP_DT_INT64: return (double)((const int64_t *)data)[i];
	case QP_DT_BOOL: return ((const uint8_t *)data)[i] != 0;
	default: return NAN;
	}
}

static int64_t element_int(const void *data, qp_dtype dt, int64_t i)
{
	if (dt == QP_DT_INT64)
		return ((const int64_t *)data)[i];
	return (int64_t)element(data, dt, i);
}

/* Compares output i; 0 equal, -1 with the first difference in err. */
static int compare_output(const char *name, const qp_value *got,
			  const pb_tensor *want, qp_err *err)
{
	char gs[160], ws[160];
	int64_t i;

	if (got->dtype != want->dtype)
		return qp_err_set(err, "output '%s': dtype %s, expected %s", name,
				  qp_dtype_name(got->dtype),
				  qp_dtype_name(want->dtype));
	if (!same_shape(got->rank, got->dims, want->rank, want->dims)) {
		format_dims(gs, sizeof gs, got->rank, got->dims);
		format_dims(ws, sizeof ws, want->rank, want->dims);
		return qp_err_set(err, "output '%s': shape %s, expected %s", name,
				  gs, ws);
	}
	for (i = 0; i < want->numel; i++) {
		if (want->dtype == QP_DT_FLOAT32) {
			double a = ((const float *)got->data)[i];
			double b = ((const float *)want->data)[i];

			if (isnan(a) && isnan(b))
				continue;
			if (a == b || fabs(a - b) <= ATOL + RTOL * fabs(b))
				continue;
			return qp_err_set(err, "output '%s': element %lld is %.9g, expected %.9g",
					  name, (long long)i, a, b);
		}
		if (element_int(got->data, got->dtype, i) !=
		    element_int(want->data, want->dtype, i))
			return qp_err_set(err, "output '%s': element %lld is %lld, expected %lld",
					  name, (long long)i,
					  (long long)element_int(got->data, got->dtype, i),
					  (long long)element_int(want->data, want->dtype, i));
	}
	return 0;
}

/* Fills graph input i from TESTDIR/input_<i>.pb. */
static int feed_input(qp_interp *ip, const qp_graph *g, int i,
		      const char *dir, qp_err *err)
{
	const qp_tensor *t = &g->tensors[g->inputs[i].tensor];
	qp_value *v = qp_interp_input(ip, i);
	char path[4096], gs[160], ws[160];
	pb_tensor pb;
	int rc = -1;

	snprintf(path, sizeof path, "%s/input_%d.pb", dir, i);
	if (read_tensor_pb(path, &pb, err) < 0)
		goto out;
	if (pb.dtype != v->dtype) {
		qp_err_set(err, "%s: dtype %s, graph input '%s' is %s", path,
			   qp_dtype_name(pb.dtype), t->name,
			   qp_dtype_name(v->dtype));
		goto out;
	}
	if (!same_shape(pb.rank, pb.dims, v->rank, v->dims)) {
		format_dims(gs, sizeof gs, pb.rank, pb.dims);
		format_dims(ws, sizeof ws, v->rank, v->dims);
		qp_err_set(err, "%s: shape %s, graph input '%s' is %s", path, gs,
			   t->name, ws);
		goto out;
	}
	memcpy(v->data, pb.data, (size_t)pb.numel * qp_dtype_size(pb.dtype));
	rc = 0;
out:
	free(pb.data);
	return rc;
}

static int run_test(const char *model, const char *dir, qp_err *err)
{
	qp_graph *g = NULL;
	qp_interp *ip = NULL;
	pb_tensor want;
	char path[4096];
	int i, rc = -1;

	if (qp_ir_read(model, &g, err) < 0)
		return qp_err_prefix(err, "%s", model);
	ip = qp_interp_new(g, NULL, err);
	if (!ip) {
		qp_err_prefix(err, "%s", model);
		goto out;
	}
	for (i = 0; i < g->n_inputs; i++)
		if (feed_input(ip, g, i, dir, err) < 0)
			goto out;
	/* A model that lost a graph input on import would silently ignore it. */
	snprintf(path, sizeof path, "%s/input_%d.pb", dir, g->n_inputs);
	if (access(path, F_OK) == 0) {
		qp_err_set(err, "%s: the IR has only %d inputs", path, g->n_inputs);
		goto out;
	}
	if (qp_interp_run(ip, err) < 0)
		goto out;
	for (i = 0; i < g->n_outputs; i++) {
		const char *name = g->tensors[g->outputs[i].tensor].name;
		int cmp;

		snprintf(path, sizeof path, "%s/output_%d.pb", dir, i);
		if (read_tensor_pb(path, &want, err) < 0)
			goto out;
		cmp = compare_output(name, qp_interp_output(ip, i), &want, err);
		free(want.data);
		if (cmp < 0)
			goto out;
	}
	snprintf(path, sizeof path, "%s/output_%d.pb", dir, g->n_outputs);
	if (access(path, F_OK) == 0) {
		qp_err_set(err, "%s: the IR has only %d outputs", path,
			   g->n_outputs);
		goto out;
	}
	rc = 0;
out:
	qp_interp_free(ip);
	qp_graph_free(g);
	return rc;
}

int main(int argc, char **argv)
{
	qp_err err = {{0}};

	if (argc != 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: node_runner MODEL.ir TESTDIR\n");
		return 2;
	}
	if (run_test(argv[1], argv[2], &err) < 0) {
		fprintf(stderr, "node_runner: %s\n", err.msg);
		return 1;
	}
	return 0;
}
