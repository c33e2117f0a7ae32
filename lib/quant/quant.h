/* Quantization arithmetic: choosing scale and zero point, quantizing,
 * dequantizing.  No graph or stage logic lives here, so quantize, lower,
 * the interpreter and tests all share one definition of every rule.
 *
 * docs/ir.md section 4 is the normative text; in short:
 *
 *   real = scale * (q - zero_point)
 *   q    = clamp(round_half_away((double)x / (double)scale) + zero_point,
 *                qmin, qmax)
 *
 * round_half_away is C's round(): ties go away from zero (2.5 -> 3,
 * -2.5 -> -3), as TFLite's reference quantizer does.  The division is done
 * in double so that the only rounding is the one written above (float
 * division would add a second one next to ties).
 */
#ifndef QP_QUANT_H
#define QP_QUANT_H

#include <stdint.h>

#include "err.h"
#include "ir.h"

/* The smallest scale ever chosen: 2^-23 (FLT_EPSILON, the clamp PyTorch's
 * observers use).  A range of width zero (an all-zero weight channel, an
 * activation that was always 0) gets this scale; it is an exact power of two,
 * so it is valid for every scheme, and a product of two such scales is still
 * a normal float. */
#define QP_QUANT_MIN_SCALE (1.0f / 8388608.0f)

/* A qp_quant (ir.h) with n scales: symmetric signed 8-bit per tensor, every
 * scale 1 and zero point 0, for the caller to fill in.  NULL when n < 1 or
 * out of memory. */
qp_quant *qp_quant_new(int n);
/* A deep copy, or NULL (q NULL or out of memory). */
qp_quant *qp_quant_dup(const qp_quant *q);
/* Accepts NULL. */
void qp_quant_free(qp_quant *q);

/* Integer range of a bits-wide integer: [-2^(b-1), 2^(b-1)-1] when signed,
 * [0, 2^b-1] otherwise.  bits 2..32 (32 only signed). */
void qp_qrange(int bits, int is_signed, int32_t *qmin, int32_t *qmax);

/* Chooses scale and zero point for values observed in [min, max]:
 *
 *   QP_Q_ASYMMETRIC  lo = min(min, 0), hi = max(max, 0) (0 must be exact);
 *                    scale = (hi - lo) / (qmax - qmin);
 *                    zero_point = clamp(qmin - round_half_away(lo / scale))
 *   QP_Q_SYMMETRIC   scale = max(|min|, |max|) / Q, Q = 2^(b-1)-1 signed,
 *                    2^b-1 unsigned; zero_point 0 (so int8 weights use
 *                    [-127, 127] and 0 is exact)
 *   QP_Q_POWER_OF_TWO  threshold T = 2^ceil(log2(max(|min|, |max|)));
 *                    scale = T / 2^(b-1) signed, T / 2^b unsigned (MCT's
 *                    convention: +T itself clips to qmax); zero_point 0
 *
 * The scale is computed in double, rounded to float, and raised to
 * QP_QUANT_MIN_SCALE when smaller; the zero point is computed from that
 * float scale.  Fails on non-finite input, min > max or bits outside 2..16. */
int qp_quant_choose(float min, float max, qp_qscheme scheme, int bits,
		    int is_signed, float *scale, int32_t *zero_point,
		    qp_err *err);

/* One value, by the rule at the top of this file.  NaN maps to zero_point. */
int32_t qp_quantize_value(float x, float scale, int32_t zero_point,
			  int32_t qmin, int32_t qmax);
/* scale * (q - zero_point), in float. */
float qp_dequantize_value(int32_t q, float scale, int32_t zero_point);
/* dequantize(quantize(x)): the value a consumer sees in a quantized IR. */
float qp_fake_quant_value(float x, float scale, int32_t zero_point,
			  int32_t qmin, int32_t qmax);

/* Storage dtype of integers of this width: int8/uint8 up to 8 bits, int16
 * (signed only) up to 16, int32 for 32 (signed only).  -1 when there is
 * none (unsigned 9..16 bits). */
int qp_quant_storage_dtype(int bits, int is_signed, qp_dtype *dt);

/* Chooses per-tensor (axis -1) or per-channel parameters for a float array
 * from its own values: for each channel c the min and max over the
 * elements whose index along axis is c, then qp_quant_choose.  Returns a
 * new qp_quant (free with qp_quant_free) or NULL. */
qp_quant *qp_quant_choose_array(const float *x, int rank, const int64_t *dims,
				int axis, qp_qscheme scheme, int bits,
				int is_signed, qp_err *err);

/* Quantizes numel floats of the given shape with q into out, whose dtype
 * is dt (int8, uint8, int16 or int32, matching q->bits/signed).  The channel
 * of element i is (i / inner) % dims[axis], inner the product of the dims
 * after axis.  Returns 0, or -1 on a shape/quant mismatch. */
int qp_quantize_array(const float *x, int rank, const int64_t *dims,
		      const qp_quant *q, void *out, qp_dtype dt, qp_err *err);
/* The inverse: integers of dtype dt to floats. */
int qp_dequantize_array(const void *in, qp_dtype dt, int rank,
			const int64_t *dims, const qp_quant *q, float *out,
			qp_err *err);
/* In place: x = dequantize(quantize(x)) (per tensor or per channel). */
int qp_fake_quant_array(float *x, int rank, const int64_t *dims,
			const qp_quant *q, qp_err *err);

/* True when a and b have identical parameters (bitwise equal scales). */
int qp_quant_equal(const qp_quant *a, const qp_quant *b);

#endif
