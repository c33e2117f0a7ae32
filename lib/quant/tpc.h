/* Target Platform Capabilities (TPC): what a target can run and how it
 * wants each op quantized.  docs/tpc.md describes the JSON; this is its
 * validated in-memory form.  Modelled on MCT's TargetPlatformCapabilities
 * (default OpQuantizationConfig, operator sets with their own configs,
 * fusing patterns), reduced to what qpipe acts on.
 *
 * The parser is strict: an unknown key, a wrong type, a value out of range
 * or an op outside the IR op set is an error naming the key path, e.g.
 * "operator_sets[2].ops[0]: unknown op 'Conv3D'".
 */
#ifndef QP_TPC_H
#define QP_TPC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "ir.h"

#define QP_TPC_FORMAT_VERSION 1
#define QP_TPC_MAX_CANDIDATES 8

typedef enum qp_signedness {
	QP_SIGN_AUTO,      /* unsigned when the observed minimum is >= 0 */
	QP_SIGN_SIGNED,
	QP_SIGN_UNSIGNED
} qp_signedness;

/* One op set's configuration after merging its overrides onto the default
 * (every field is set). */
typedef struct qp_tpc_op_config {
	/* Weights (Conv W, Gemm B, MatMul constant B). */
	int weights_enabled;
	int weights_n_bits;               /* 2..16 */
	qp_qscheme weights_method;
	int weights_per_channel;
	int n_weights_candidates;         /* mixed-precision bit widths, */
	int weights_candidates[QP_TPC_MAX_CANDIDATES]; /* n_bits included */
	/* Output activation. */
	int activation_enabled;
	int activation_n_bits;            /* 2..16 */
	qp_qscheme activation_method;
	qp_signedness signedness;
	int preserving;                   /* output takes the input's params */
	int has_fixed;                    /* fixed_scale/fixed_zero_point given */
	float fixed_scale;
	int32_t fixed_zero_point;
} qp_tpc_op_config;

typedef struct qp_tpc_op_set {
	char *name;
	int n_ops;
	char **ops;                       /* IR op names */
	qp_tpc_op_config config;
} qp_tpc_op_set;

/* A fusing pattern is a chain of steps; a step matches a node whose op is
 * in any of its operator sets (MCT's OperatorSetGroup). */
typedef struct qp_tpc_fusing_step {
	int n;
	int *sets;                        /* indices into op_sets */
} qp_tpc_fusing_step;

typedef struct qp_tpc_fusing {
	int n;                            /* >= 2 */
	qp_tpc_fusing_step *steps;
} qp_tpc_fusing;

typedef struct qp_tpc {
	char *name;
	qp_tpc_op_config default_config;
	int n_op_sets;
	qp_tpc_op_set *op_sets;
	int n_fusing;
	qp_tpc_fusing *fusing;
	int64_t weight_memory_bytes;      /* -1: not limited */
	int64_t activation_memory_bytes;  /* -1: not limited */
	cJSON *json;                      /* the whole document, as given */
} qp_tpc;

/* Parses and validates a TPC document.  Messages name the key path and do
 * not include a file name. */
int qp_tpc_parse(const char *text, size_t len, qp_tpc **out, qp_err *err);
/* The same from an already parsed JSON object (e.g. an IR's meta.target);
 * the json is copied. */
int qp_tpc_from_json(const cJSON *json, qp_tpc **out, qp_err *err);
/* Reads path ("-" = stdin) and parses it. */
int qp_tpc_read(const char *path, qp_tpc **out, qp_err *err);
void qp_tpc_free(qp_tpc *tpc);

/* Resolves `--tpc NAME` to a file (docs/tpc.md section 1.1).  A NAME that
 * qp_tpc_is_path calls a path ("-", containing '/', or ending in ".json")
 * is returned as is.  Otherwise NAME.json is looked for in dirs[0..n_dirs),
 * each a colon-separated list of directories ($PATH style; NULL and empty
 * elements skipped), and the first that can be opened wins.  *path is
 * malloc'ed; on failure the message lists every directory looked in. */
int qp_tpc_is_path(const char *name);
int qp_tpc_find(const char *name, const char *const *dirs, int n_dirs,
		char **path, qp_err *err);

/* The operator set listing op, or NULL when the target does not list it. */
const qp_tpc_op_set *qp_tpc_find_op(const qp_tpc *tpc, const char *op);
/* True when op belongs to one of the step's operator sets. */
int qp_tpc_step_matches(const qp_tpc *tpc, const qp_tpc_fusing_step *step,
			const char *op);
/* The activation node, a Relu or a Clip with constant scalar bounds
 * (ReLU6), that runs as one kernel with node ni of g on this target, or -1:
 * ni is a Conv, Gemm, MatMul, Add, Sub or Mul (the ops lower has a fused
 * kernel for), a two-step fusing pattern lists its operator set and then the
 * activation's, and its output is read by that activation alone (no other
 * node, not a graph output).  quantize and lower both ask this, so the
 * tensor quantize leaves unquantized inside a chain is exactly one lower
 * never materializes.  tpc NULL: nothing fuses (docs/tpc.md section 4). */
int qp_tpc_fused_relu(const qp_tpc *tpc, const qp_graph *g, int ni);

const char *qp_signedness_name(qp_signedness s);
/* "power_of_two", "symmetric", "uniform": the TPC's names for qp_qscheme
 * (MCT's QuantizationMethod); uniform is QP_Q_ASYMMETRIC. */
const char *qp_tpc_method_name(qp_qscheme s);

#endif
