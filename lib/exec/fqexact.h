/* Integer-exact fake quantization: what irrun computes, on a quantized IR,
 * for the ops whose device kernel sums integers (docs/ir.md section 4.4).
 *
 * Fake quantization in float32 (dequantized operands, a float kernel, then
 * round(y / s_y)) differs from the device wherever float32 summation or the
 * rounding of a bias or of a requantization multiplier moves a value across
 * a rounding boundary.  That happens on a few elements per million, and on
 * deep networks whose outputs are sensitive to every input bit (untrained
 * MobileNets: one flipped code early on changes most outputs) it made
 * fake quantization a poor model of the device.  These rules compute what
 * the lowered kernel computes from the quantized IR's own parameters:
 * operand codes recovered from the fake-quantized values (exact: they lie
 * on their grid), the int32 bias as stored, sums in int64, and one
 * requantization by the multiplier lower derives from s_x s_w / s_y
 * (qp_quantize_multiplier, qp_rt_requant).  The result is written back as
 * real values on the output grid, so what follows (a fused Relu or Clip,
 * the output's fake quantization) sees exactly the device's codes.
 *
 * The loops are written here, from the ONNX semantics, not taken from the
 * runtime: they share only the scalar rules (multiplier, requantization),
 * so a quantized IR under irrun still checks what lower and the runtime do
 * with layouts, padding, groups, broadcasting and weight packing.
 */
#ifndef QP_FQEXACT_H
#define QP_FQEXACT_H

#include "ops.h"

typedef struct qp_fq_exact qp_fq_exact;

typedef int (*qp_fq_exact_fn)(const qp_graph *g, const qp_node *n, const qp_fq_exact *fx,
			      const qp_value *const *in, qp_value *const *out, qp_err *err);

/* A node's integer rule and the grid its output is computed on: its own
 * output's parameters, or, when quantize left the output unquantized for
 * a fused Relu or Clip, that reader's output's. */
struct qp_fq_exact {
	qp_fq_exact_fn run;
	const qp_quant *grid;
};

/* Fills fx and returns 1 when node ni has an integer rule and its operands
 * are what the rule needs (activations quantized per tensor to 2..8 bits,
 * int8 weights with zero point 0 per tensor or per output channel, an int32
 * bias); returns 0 otherwise (the float kernel then runs, as before). */
int qp_fq_exact_find(const qp_graph *g, int ni, qp_fq_exact *fx);

#endif
