/* The quantize stage: a calibrated float graph plus a TPC in, a quantized
 * graph out (docs/ir.md section 4 says exactly what it writes). */
#ifndef QP_STAGE_QUANTIZE_H
#define QP_STAGE_QUANTIZE_H

#include "ir.h"
#include "tpc.h"

typedef struct quantize_report {
	int bn_folded;        /* BatchNormalization nodes folded into Conv */
	int weights;          /* weight tensors quantized */
	int biases;           /* bias tensors quantized to int32 */
	int constants;        /* other float constants quantized */
	int activations;      /* activation tensors given parameters */
	int fused;            /* outputs left float inside a fused op->Relu */
	int chained;          /* outputs left float inside an activation chain */
} quantize_report;

/* Checks the graph is calibrated and not yet quantized, that the target
 * lists every op, folds BatchNormalization, quantizes weights, biases and
 * activations, and stores the TPC in meta.target.  On failure the graph
 * may be partly changed; callers discard it. */
int quantize_graph(qp_graph *g, const qp_tpc *tpc, quantize_report *rep,
		   qp_err *err);

#endif
