/* The reference interpreter (lib/exec/interp.h).
 *
 * qp_interp_new does all the work that can fail or allocate: it re-runs
 * shape inference on a scratch copy of the tensor table (so kernels never
 * see shapes that disagree with their ops), gives every activation one
 * buffer, dequantizes quantized constants that feed float ops, and builds
 * the per-node input/output pointer lists.  qp_interp_run then only calls
 * kernels.
 */
#include "interp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "fqexact.h"
#include "ops_common.h"
#include "quant.h"

struct qp_interp {
	const qp_graph *g;
	qp_interp_opts opts;
	qp_value *vals;          /* per tensor: the value kernels see */
	unsigned char *owned;    /* per tensor: vals[t].data malloc'd by us */
	qp_value *deq;           /* per tensor: float copy of a quantized
	                            constant for float consumers (data NULL
	                            when there is none) */
	const qp_op_def **defs;  /* per node */
	qp_fq_exact *exact;      /* per node, fake_quant only: the integer
	                            rule (fqexact.h), run NULL for none */
	const qp_value **ins;    /* node i's inputs: ins[in_at[i]...] */
	qp_value **outs;
	int *in_at, *out_at;
};

static int is_float_op(const qp_op_def *d)
{
	return qp_op_is_float(d);
}

/* Every node needs a kernel, and the IR's stored dtypes and shapes must be
 * what the ops give (qp_graph_check_shapes): a hand-edited or corrupt IR
 * must not make a kernel read or write past a buffer. */
static int check_shapes(const qp_graph *g, qp_err *err)
{
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];
		const qp_op_def *d = qp_op_find(n->op);

		if (!d)
			return qp_node_err(err, n, "unsupported op");
		if (!d->run)
			return qp_node_err(err, n, "op has no kernel");
	}
	return qp_graph_check_shapes(g, err);
}

static void value_from_tensor(qp_value *v, const qp_tensor *t)
{
	v->dtype = t->dtype;
	v->rank = t->rank;
	memcpy(v->dims, t->dims, sizeof v->dims);
	v->numel = qp_tensor_numel(t);
}

/* The float copy of quantized constant t, made on first use. */
static const qp_value *dequantized(qp_interp *ip, int t, qp_err *err)
{
	const qp_tensor *ten = &ip->g->tensors[t];
	qp_value *v = &ip->deq[t];

	if (v->data)
		return v;
	value_from_tensor(v, ten);
	v->dtype = QP_DT_FLOAT32;
	v->data = qp_aligned_alloc(sizeof(float) * (size_t)v->numel);
	if (!v->data)
		return qp_err_set(err, "out of memory dequantizing '%s'", ten->name), NULL;
	if (qp_dequantize_array(ten->data, ten->dtype, ten->rank, ten->dims,
				ten->quant, v->data, err)) {
		qp_err_prefix(err, "tensor '%s'", ten->name);
		return NULL;
	}
	return v;
}

int qp_interp_wants_fake_quant(const qp_graph *g)
{
	if (g->meta && cJSON_GetObjectItemCaseSensitive(g->meta, "lowered"))
		return 0;
	for (int t = 0; t < g->n_tensors; t++)
		if (g->tensors[t].quant && !g->tensors[t].data &&
		    g->tensors[t].dtype == QP_DT_FLOAT32)
			return 1;
	return 0;
}

qp_interp *qp_interp_new(const qp_graph *g, const qp_interp_opts *opts,
			 qp_err *err)
{
	qp_interp *ip;
	int n_in = 0, n_out = 0;

	if (check_shapes(g, err))
		return NULL;
	/* One sample's GEMMs are small: OpenBLAS's threads cost more than
	 * they save (3x slower on the Fashion-MNIST example), so run on one
	 * thread unless the user asked otherwise. */
	if (!getenv("OPENBLAS_NUM_THREADS"))
		openblas_set_num_threads(1);
	ip = calloc(1, sizeof *ip);
	if (!ip)
		return qp_err_set(err, "out of memory"), NULL;
	ip->g = g;
	if (opts)
		ip->opts = *opts;
	for (int i = 0; i < g->n_nodes; i++) {
		n_in += g->nodes[i].n_inputs;
		n_out += g->nodes[i].n_outputs;
	}
	ip->vals = calloc((size_t)g->n_tensors + 1, sizeof *ip->vals);
	ip->deq = calloc((size_t)g->n_tensors + 1, sizeof *ip->deq);
	ip->owned = calloc((size_t)g->n_tensors + 1, 1);
	ip->defs = calloc((size_t)g->n_nodes + 1, sizeof *ip->defs);
	ip->ins = calloc((size_t)n_in + 1, sizeof *ip->ins);
	ip->outs = calloc((size_t)n_out + 1, sizeof *ip->outs);
	ip->in_at = calloc((size_t)g->n_nodes + 1, sizeof *ip->in_at);
	ip->out_at = calloc((size_t)g->n_nodes + 1, sizeof *ip->out_at);
	ip->exact = calloc((size_t)g->n_nodes + 1, sizeof *ip->exact);
	if (!ip->vals || !ip->deq || !ip->owned || !ip->defs || !ip->ins ||
	    !ip->outs || !ip->in_at || !ip->out_at || !ip->exact) {
		qp_err_set(err, "out of memory");
		goto fail;
	}
	for (int t = 0; t < g->n_tensors; t++) {
		const qp_tensor *ten = &g->tensors[t];
		qp_value *v = &ip->vals[t];

		value_from_tensor(v, ten);
		if (v->numel < 0) {
			qp_err_set(err, "tensor '%s' is too large", ten->name);
			goto fail;
		}
		if (ten->data) {
			/* Kernels take inputs as const; the cast only fits
			 * the shared qp_value type. */
			v->data = ten->data;
			continue;
		}
		v->data = qp_aligned_alloc((size_t)v->numel * qp_dtype_size(v->dtype));
		if (!v->data) {
			qp_err_set(err, "out of memory for tensor '%s'", ten->name);
			goto fail;
		}
		ip->owned[t] = 1;
	}
	n_in = n_out = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];
		const qp_op_def *d = qp_op_find(n->op);
		/* Ops defined on the stored integers themselves take a
		 * quantized constant as it is. */
		int float_op = is_float_op(d) && strcmp(n->op, "DequantizeLinear") &&
			       strcmp(n->op, "QuantizeLinear") && strcmp(n->op, "Cast");

		ip->defs[i] = d;
		if (ip->opts.fake_quant)
			qp_fq_exact_find(g, i, &ip->exact[i]);
		ip->in_at[i] = n_in;
		ip->out_at[i] = n_out;
		for (int j = 0; j < n->n_inputs; j++) {
			int t = n->inputs[j];
			const qp_tensor *ten = t >= 0 ? &g->tensors[t] : NULL;

			if (!ten)
				ip->ins[n_in++] = NULL;
			else if (float_op && ten->data && ten->quant &&
				 ten->dtype != QP_DT_FLOAT32) {
				const qp_value *v = dequantized(ip, t, err);

				if (!v) {
					qp_err_prefix(err, "node '%s'", n->name);
					goto fail;
				}
				ip->ins[n_in++] = v;
			} else {
				ip->ins[n_in++] = &ip->vals[t];
			}
		}
		for (int j = 0; j < n->n_outputs; j++)
			ip->outs[n_out++] = &ip->vals[n->outputs[j]];
	}
	return ip;
fail:
	qp_interp_free(ip);
	return NULL;
}

void qp_interp_free(qp_interp *ip)
{
	if (!ip)
		return;
	for (int t = 0; ip->vals && t < ip->g->n_tensors; t++)
		if (ip->owned && ip->owned[t])
			free(ip->vals[t].data);
	for (int t = 0; ip->deq && t < ip->g->n_tensors; t++)
		free(ip->deq[t].data);
	free(ip->vals);
	free(ip->deq);
	free(ip->owned);
	free(ip->defs);
	free(ip->ins);
	free(ip->outs);
	free(ip->in_at);
	free(ip->out_at);
	free(ip->exact);
	free(ip);
}

qp_value *qp_interp_input(qp_interp *ip, int i)
{
	return &ip->vals[ip->g->inputs[i].tensor];
}

const qp_value *qp_interp_output(const qp_interp *ip, int i)
{
	return &ip->vals[ip->g->outputs[i].tensor];
}

/* Fake quantization and the observer, after tensor t got its value.  Only
 * tensors with quant are rounded: quantize leaves the inside of a chain the
 * target fuses (Conv -> Relu) without, so the chain rounds once, at its
 * end, where the fused device kernel writes (docs/ir.md section 4.3). */
static int produced(qp_interp *ip, int t, qp_err *err)
{
	const qp_tensor *ten = &ip->g->tensors[t];
	qp_value *v = &ip->vals[t];

	if (ip->opts.fake_quant && ten->quant && ten->dtype == QP_DT_FLOAT32 &&
	    !ten->data) {
		const qp_quant *q = ten->quant;

		if (q->n == 1) {
			/* Per tensor (every activation): the same rule as
			 * qp_fake_quant_array without its per-element channel
			 * division, which dominated the run time. */
			float *x = v->data;
			int32_t qmin, qmax;

			qp_qrange(q->bits, q->is_signed, &qmin, &qmax);
			for (int64_t i = 0; i < v->numel; i++)
				x[i] = qp_fake_quant_value(x[i], q->scale[0],
							   q->zero_point[0], qmin, qmax);
		} else if (qp_fake_quant_array(v->data, v->rank, v->dims, q, err)) {
			return qp_err_prefix(err, "tensor '%s'", ten->name);
		}
	}
	if (ip->opts.observe)
		return ip->opts.observe(ip->opts.observe_ctx, t, v, err);
	return 0;
}

int qp_interp_run(qp_interp *ip, qp_err *err)
{
	const qp_graph *g = ip->g;

	for (int i = 0; i < g->n_inputs; i++)
		if (produced(ip, g->inputs[i].tensor, err))
			return -1;
	for (int i = 0; i < g->n_nodes; i++) {
		const qp_node *n = &g->nodes[i];

		const qp_fq_exact *fx = &ip->exact[i];

		if (fx->run ? fx->run(g, n, fx, ip->ins + ip->in_at[i], ip->outs + ip->out_at[i], err)
			    : ip->defs[i]->run(g, n, ip->ins + ip->in_at[i],
					       ip->outs + ip->out_at[i], err))
			return -1;
		for (int j = 0; j < n->n_outputs; j++)
			if (produced(ip, n->outputs[j], err))
				return -1;
	}
	return 0;
}

/* ---- layouts ---------------------------------------------------------------- */

static int is_nhwc(const char *layout)
{
	return layout && strcmp(layout, "NHWC") == 0;
}

static int64_t numel_of(int rank, const int64_t *dims)
{
	int64_t n = 1;

	for (int i = 0; i < rank; i++)
		n *= dims[i];
	return n;
}

/* Channels-last <-> channels-first of samples: each sample is a [C, S]
 * matrix canonically and [S, C] for the user (S the spatial size). */
static void convert_layout(const char *layout, int rank, const int64_t *dims,
			   const float *src, float *dst, int to_canonical)
{
	int64_t samples = 1, c, s;
	const int64_t *sd = dims;
	int sr = rank;

	if (!is_nhwc(layout) || rank < 2 || rank > 4) {
		memcpy(dst, src, sizeof(float) * (size_t)numel_of(rank, dims));
		return;
	}
	if (rank == 4) {
		samples = dims[0];
		sd = dims + 1;
		sr = 3;
	}
	c = sd[0];
	s = numel_of(sr - 1, sd + 1);
	for (int64_t n = 0; n < samples; n++) {
		const float *in = src + n * c * s;
		float *out = dst + n * c * s;

		for (int64_t ci = 0; ci < c; ci++)
			for (int64_t si = 0; si < s; si++) {
				if (to_canonical)
					out[ci * s + si] = in[si * c + ci];
				else
					out[si * c + ci] = in[ci * s + si];
			}
	}
}

void qp_layout_to_canonical(const char *layout, int rank, const int64_t *dims,
			    const float *src, float *dst)
{
	convert_layout(layout, rank, dims, src, dst, 1);
}

void qp_layout_from_canonical(const char *layout, int rank,
			      const int64_t *dims, const float *src, float *dst)
{
	convert_layout(layout, rank, dims, src, dst, 0);
}

void qp_layout_user_dims(const char *layout, int rank, const int64_t *dims,
			 int64_t *user_dims)
{
	int first = rank == 4 ? 1 : 0;

	memcpy(user_dims, dims, sizeof(int64_t) * (size_t)rank);
	if (!is_nhwc(layout) || rank < 2 || rank > 4)
		return;
	/* [.., C, S1, S2] -> [.., S1, S2, C] */
	for (int i = first; i < rank - 1; i++)
		user_dims[i] = dims[i + 1];
	user_dims[rank - 1] = dims[first];
}

int qp_interp_output_f32(const qp_interp *ip, int i, float *dst, qp_err *err)
{
	const qp_graph_io *io = &ip->g->outputs[i];
	const qp_tensor *t = &ip->g->tensors[io->tensor];
	const qp_value *v = &ip->vals[io->tensor];
	float *tmp = dst;
	int rc = 0;

	if (is_nhwc(io->layout) && v->rank >= 2) {
		tmp = malloc(sizeof(float) * (size_t)(v->numel ? v->numel : 1));
		if (!tmp)
			return qp_err_set(err, "out of memory");
	}
	if (v->dtype == QP_DT_FLOAT32) {
		memcpy(tmp, v->data, sizeof(float) * (size_t)v->numel);
	} else if (t->quant && v->dtype != QP_DT_INT64 && v->dtype != QP_DT_BOOL) {
		rc = qp_dequantize_array(v->data, v->dtype, v->rank, v->dims,
					 t->quant, tmp, err);
		if (rc)
			qp_err_prefix(err, "output '%s'", t->name);
	} else {
		for (int64_t k = 0; k < v->numel; k++) {
			switch (v->dtype) {
			case QP_DT_INT8: tmp[k] = ((const int8_t *)v->data)[k]; break;
			case QP_DT_UINT8: tmp[k] = ((const uint8_t *)v->data)[k]; break;
			case QP_DT_BOOL: tmp[k] = ((const uint8_t *)v->data)[k] != 0; break;
			case QP_DT_INT16: tmp[k] = ((const int16_t *)v->data)[k]; break;
			case QP_DT_INT32: tmp[k] = (float)((const int32_t *)v->data)[k]; break;
			case QP_DT_INT64: tmp[k] = (float)((const int64_t *)v->data)[k]; break;
			default: tmp[k] = ((const float *)v->data)[k]; break;
			}
		}
	}
	if (tmp != dst) {
		/* The graph tensor includes the batch axis: convert sample by
		 * sample with the one-sample rule. */
		int64_t per = v->dims[0] ? v->numel / v->dims[0] : 0;

		for (int64_t b = 0; rc == 0 && b < v->dims[0]; b++)
			qp_layout_from_canonical(io->layout, v->rank - 1, v->dims + 1,
						 tmp + b * per, dst + b * per);
		free(tmp);
	}
	return rc;
}
