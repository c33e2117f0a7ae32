/* Import pass: constant folding (dead-node removal and Pad folding are
 * lib/ir/passes.c's qp_pass_remove_dead and qp_pass_fold_pads).
 *
 * Folding runs node by node while the model is imported (import.c calls
 * onnx_fold_node right after a node's shape inference), so a node whose
 * inputs were all folded sees constants when it is imported.  That is what
 * turns PyTorch's Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains
 * into a constant Reshape shape: Shape itself is imported as a constant
 * (every IR shape is static), and each later node folds in turn.  The
 * kernels are the interpreter's own (lib/ops/ops_*.c), so a folded value is
 * exactly what irrun would have computed.
 */
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "ops.h"

/* Folding must not turn a small Expand or ConstantOfShape into megabytes of
 * file; such outputs stay computed at run time. */
#define FOLD_MAX_BYTES ((size_t)16 << 20)

static void value_of(const qp_tensor *t, qp_value *v)
{
	v->dtype = t->dtype;
	v->rank = t->rank;
	memcpy(v->dims, t->dims, sizeof v->dims);
	v->numel = qp_tensor_numel(t);
	v->data = t->data;
}

static int foldable(const qp_graph *g, const qp_node *n)
{
	size_t bytes = 0;
	int i, any_input = 0;

	for (i = 0; i < n->n_inputs; i++) {
		const qp_tensor *t;

		if (n->inputs[i] < 0)
			continue;
		t = &g->tensors[n->inputs[i]];
		/* A quantized constant means something the kernels only see
		 * through the interpreter's dequantization: leave it. */
		if (!t->data || t->quant)
			return 0;
		any_input = 1;
	}
	if (!any_input)
		return 0;
	for (i = 0; i < n->n_outputs; i++) {
		const qp_tensor *t = &g->tensors[n->outputs[i]];
		int64_t numel = qp_tensor_numel(t);

		if (numel < 0)
			return 0;
		bytes += (size_t)numel * qp_dtype_size(t->dtype);
	}
	return bytes <= FOLD_MAX_BYTES;
}

int onnx_fold_node(qp_graph *g, int node, int *folded, qp_err *err)
{
	qp_node *n = &g->nodes[node];
	const qp_op_def *def = qp_op_find(n->op);
	qp_value vin[64], vout[8];
	const qp_value *in[64];
	qp_value *out[8];
	unsigned char *keep;
	int i;

	*folded = 0;
	if (!def || !def->run || n->n_inputs > 64 || n->n_outputs > 8 || !foldable(g, n))
		return 0;
	for (i = 0; i < n->n_inputs; i++) {
		in[i] = NULL;
		if (n->inputs[i] >= 0) {
			value_of(&g->tensors[n->inputs[i]], &vin[i]);
			in[i] = &vin[i];
		}
	}
	for (i = 0; i < n->n_outputs; i++) {
		qp_tensor *t = &g->tensors[n->outputs[i]];

		if (qp_tensor_alloc_data(t, err))
			goto fail;
		value_of(t, &vout[i]);
		out[i] = &vout[i];
	}
	if (def->run(g, n, in, out, err))
		goto fail;
	keep = malloc((size_t)g->n_nodes);
	if (!keep) {
		qp_err_set(err, "out of memory");
		goto fail;
	}
	memset(keep, 1, (size_t)g->n_nodes);
	keep[node] = 0;
	qp_graph_remove_nodes(g, keep);
	free(keep);
	*folded = 1;
	return 0;
fail:
	/* The outputs stay plain activations: free any data given to them. */
	for (i = 0; i < n->n_outputs; i++) {
		qp_tensor *t = &g->tensors[n->outputs[i]];

		free(t->data);
		t->data = NULL;
		t->nbytes = 0;
	}
	return -1;
}

