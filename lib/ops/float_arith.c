/* Broadcasting arithmetic: the binary ops (Add, Sub, Mul, Div, Pow, PRelu,
 * Mod, BitShift), the comparisons and logic ops (Equal, Less, ..., And, Or,
 * Xor: bool outputs), the variadic ones (Sum, Mean, Max, Min), Where and
 * Clip, on float32 and, where ONNX defines them so, on the integer dtypes. */
#include "ops_float_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int infer_arith(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a, *b;
	arith op = (arith)qp_node_row(n)->kind;
	qp_dtype dt;
	int ro;
	int64_t out[QP_MAX_RANK];
	char s1[160], s2[160];

	if (qp_check_io(g, n, 2, 2, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	b = qp_in_tensor(g, n, 1);
	if (op >= AR_AND || (op == AR_EQ && a->dtype == QP_DT_BOOL)) {
		/* And, Or, Xor: bool only; Equal also compares bools. */
		if (a->dtype != QP_DT_BOOL || b->dtype != QP_DT_BOOL)
			return qp_node_err(err, n, "inputs '%s' (%s) and '%s' (%s) must both be bool",
					   a->name, qp_dtype_name(a->dtype), b->name,
					   qp_dtype_name(b->dtype));
	} else if (qp_want_numeric(n, a, "input A", 1, err) ||
		   qp_want_numeric(n, b, "input B", 1, err)) {
		return -1;
	}
	dt = qp_compute_dtype(a);
	if (op == AR_SHL) {
		const char *dir = qp_node_attr_string(n, "direction", "");

		if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
			return qp_node_err(err, n, "direction '%s' is not 'LEFT' or 'RIGHT'", dir);
		/* ONNX: unsigned integers; the IR's only one is uint8. */
		if (a->dtype != QP_DT_UINT8 || a->quant)
			return qp_node_err(err, n, "input '%s' has dtype %s, expected uint8",
					   a->name, qp_dtype_name(a->dtype));
	}
	if (op == AR_MOD) {
		int64_t fm = qp_node_attr_int(n, "fmod", 0);

		if (fm != 0 && fm != 1)
			return qp_node_err(err, n, "fmod %lld is not 0 or 1", (long long)fm);
		/* ONNX: fmod 0 (Python's %) is defined on integers only. */
		if (fm == 0 && dt == QP_DT_FLOAT32)
			return qp_node_err(err, n, "fmod 0 is defined on integer inputs only, '%s' is %s",
					   a->name, qp_dtype_name(a->dtype));
	}
	/* Pow's exponent may have another type than its base (ONNX T1). */
	if (op != AR_POW && qp_compute_dtype(b) != dt)
		return qp_node_err(err, n, "input A '%s' has dtype %s but input B '%s' %s",
				   a->name, qp_dtype_name(a->dtype), b->name,
				   qp_dtype_name(b->dtype));
	if (qp_broadcast_dims(a->rank, a->dims, b->rank, b->dims, &ro, out))
		return qp_node_err(err, n, "shapes %s ('%s') and %s ('%s') do not broadcast",
				   qp_dims_str(a->rank, a->dims, s1, sizeof s1), a->name,
				   qp_dims_str(b->rank, b->dims, s2, sizeof s2), b->name);
	if (op == AR_PRELU &&
	    (ro != a->rank || memcmp(out, a->dims, sizeof(int64_t) * (size_t)ro)))
		return qp_node_err(err, n, "slope '%s' %s does not broadcast to input '%s' %s",
				   b->name, qp_dims_str(b->rank, b->dims, s1, sizeof s1),
				   a->name, qp_dims_str(a->rank, a->dims, s2, sizeof s2));
	qp_set_out(g, n, 0, op >= AR_EQ ? QP_DT_BOOL : dt, ro, out);
	return 0;
}

static float fmax_nan(float a, float b)
{
	return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
}

static float fmin_nan(float a, float b)
{
	return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
}

/* One output row: dst[j] = pa[j*sa] (op) pb[j*sb]. */
static void f32_row(arith op, const float *pa, int64_t sa, const float *pb,
		    int64_t sb, float *dst, int64_t len)
{
#define ROW(expr)                                                   \
	for (int64_t j = 0; j < len; j++) {                         \
		float va = pa[j * sa], vb = pb[j * sb];             \
		dst[j] = (expr);                                    \
	}                                                           \
	break
	switch (op) {
	case AR_ADD: case AR_MEAN: ROW(va + vb);
	case AR_SUB: ROW(va - vb);
	case AR_MUL: ROW(va * vb);
	case AR_DIV: ROW(va / vb);
	case AR_POW: ROW(powf(va, vb));
	case AR_MAX: ROW(fmax_nan(va, vb));
	case AR_MIN: ROW(fmin_nan(va, vb));
	case AR_PRELU: ROW(va < 0.0f ? va * vb : va);
	/* infer_arith refuses float Mod with fmod 0; the comparisons and
	 * logic ops write bool (cmp_visit). */
	case AR_MOD: case AR_FMOD: ROW(fmodf(va, vb));
	case AR_SHL: case AR_SHR: break;   /* uint8 only */
	case AR_EQ: case AR_LT: case AR_LE: case AR_GT: case AR_GE:
	case AR_AND: case AR_OR: case AR_XOR: break;
	}
#undef ROW
}

/* y = a (op) b, float32, numpy broadcasting.  y may alias a when a has
 * y's shape (the variadic ops fold into their output). */
static void f32_broadcast(arith op, const qp_value *a, const float *pa,
			  const qp_value *b, const float *pb, qp_value *y)
{
	int r = y->rank;
	int64_t sa[QP_MAX_RANK], sb[QP_MAX_RANK], idx[QP_MAX_RANK] = {0};
	int64_t inner, outer, ia = 0, ib = 0;
	float *py = F32(y);

	if (a->numel == y->numel && b->numel == y->numel) {
		f32_row(op, pa, 1, pb, 1, py, y->numel);
		return;
	}
	if (r == 0) {
		f32_row(op, pa, 0, pb, 0, py, 1);
		return;
	}
	qp_broadcast_strides(r, y->dims, a->rank, a->dims, sa);
	qp_broadcast_strides(r, y->dims, b->rank, b->dims, sb);
	inner = y->dims[r - 1];
	outer = inner ? y->numel / inner : 0;
	for (int64_t o = 0; o < outer; o++) {
		f32_row(op, pa + ia, sa[r - 1], pb + ib, sb[r - 1], py + o * inner,
			inner);
		for (int i = r - 2; i >= 0; i--) {
			idx[i]++;
			ia += sa[i];
			ib += sb[i];
			if (idx[i] < y->dims[i])
				break;
			ia -= sa[i] * idx[i];
			ib -= sb[i] * idx[i];
			idx[i] = 0;
		}
	}
}

static int64_t ipow(int64_t base, int64_t e)
{
	uint64_t r = 1, b = (uint64_t)base;

	if (e < 0)   /* as numpy would for |base| > 1: truncates to 0 */
		return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
	while (e) {
		if (e & 1)
			r *= b;
		b *= b;
		e >>= 1;
	}
	return (int64_t)r;
}

/* Integer arithmetic wraps like the dtype (computed in uint64, which C
 * defines, then narrowed); integer division truncates toward zero as C and
 * onnxruntime do, and a zero divisor gives 0 (ONNX leaves it undefined; a
 * trap would kill the tool). */
static int64_t int_apply(arith op, int64_t a, int64_t b)
{
	switch (op) {
	case AR_ADD: case AR_MEAN: return (int64_t)((uint64_t)a + (uint64_t)b);
	case AR_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
	case AR_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
	case AR_DIV:
		if (b == 0)
			return 0;
		if (b == -1)
			return (int64_t)(0 - (uint64_t)a);
		return a / b;
	case AR_POW: return ipow(a, b);
	case AR_MAX: return a > b ? a : b;
	case AR_MIN: return a < b ? a : b;
	case AR_PRELU: return a < 0 ? (int64_t)((uint64_t)a * (uint64_t)b) : a;
	case AR_MOD: case AR_FMOD:
		/* fmod 1: C's %, the sign of a; fmod 0: Python's %, the
		 * sign of b.  A zero divisor gives 0, as for Div. */
		if (b == 0 || b == -1)
			return 0;
		a %= b;
		return op == AR_MOD && a && (a < 0) != (b < 0) ? a + b : a;
	case AR_SHL: case AR_SHR:
		/* Unsigned (uint8) operands; a shift past the width gives 0. */
		if ((uint64_t)b >= 64)
			return 0;
		return op == AR_SHL ? (int64_t)((uint64_t)a << b) : (int64_t)((uint64_t)a >> b);
	case AR_EQ: case AR_LT: case AR_LE: case AR_GT: case AR_GE:
	case AR_AND: case AR_OR: case AR_XOR: break;   /* cmp_visit */
	}
	return 0;
}

typedef struct cmp_ctx {
	arith op;
	const qp_value *a, *b;
	unsigned char *y;
} cmp_ctx;

/* One comparison of op, for both value types (a macro, so int64 compares
 * exactly and float32 keeps NaN comparing false). */
#define CMP(op, va, vb) ((op) == AR_EQ ? (va) == (vb) : (op) == AR_LT ? (va) < (vb) : \
			 (op) == AR_LE ? (va) <= (vb) : (op) == AR_GT ? (va) > (vb) : \
			 (op) == AR_GE ? (va) >= (vb) : 0)

/* The comparisons on float32 (NaN compares false, unequal) or integers,
 * and the logic ops on bool (0/1). */
static void cmp_visit(void *ctx, int64_t o, const int64_t *off)
{
	const cmp_ctx *c = ctx;
	int r;

	if (c->a->dtype == QP_DT_FLOAT32) {
		r = CMP(c->op, CF32(c->a)[off[0]], CF32(c->b)[off[1]]);
	} else {
		int64_t va = qp_elem_get_i64(c->a->data, c->a->dtype, off[0]);
		int64_t vb = qp_elem_get_i64(c->b->data, c->b->dtype, off[1]);

		r = c->op == AR_AND ? va && vb : c->op == AR_OR ? va || vb :
		    c->op == AR_XOR ? !va != !vb : CMP(c->op, va, vb);
	}
	c->y[o] = (unsigned char)r;
}

typedef struct int_ctx {
	arith op;
	const qp_value *a, *b;
	qp_value *y;
} int_ctx;

static void int_visit(void *ctx, int64_t o, const int64_t *off)
{
	const int_ctx *c = ctx;
	int64_t va = qp_elem_get_i64(c->a->data, c->a->dtype, off[0]), r;

	if (c->op == AR_POW && c->b->dtype == QP_DT_FLOAT32) {
		/* Integer base, float exponent: ONNX computes in the base
		 * type's domain; truncate the real power. */
		double p = pow((double)va, qp_elem_get_f64(c->b->data, c->b->dtype, off[1]));

		qp_elem_set_f64(c->y->data, c->y->dtype, o, p);
		return;
	}
	r = int_apply(c->op, va, qp_elem_get_i64(c->b->data, c->b->dtype, off[1]));
	qp_elem_set_i64(c->y->data, c->y->dtype, o, r);
}

/* y = a (op) b for any dtype pair infer_arith accepted. */
static int arith_values(const qp_node *n, arith op, const qp_value *a,
			const qp_value *b, qp_value *y, qp_err *err)
{
	if (op >= AR_EQ) {
		int64_t st[2][QP_MAX_RANK];
		cmp_ctx c = {op, a, b, y->data};

		qp_broadcast_strides(y->rank, y->dims, a->rank, a->dims, st[0]);
		qp_broadcast_strides(y->rank, y->dims, b->rank, b->dims, st[1]);
		qp_broadcast_walk(y->rank, y->dims, 2, st, cmp_visit, &c);
		return 0;
	}
	if (y->dtype == QP_DT_FLOAT32) {
		float *tmp = NULL;
		const float *pb = CF32(b);

		if (b->dtype != QP_DT_FLOAT32) {
			/* Pow with an integer exponent. */
			tmp = malloc(sizeof(float) * (size_t)(b->numel ? b->numel : 1));
			if (!tmp)
				return qp_node_err(err, n, "out of memory");
			for (int64_t i = 0; i < b->numel; i++)
				tmp[i] = (float)qp_elem_get_f64(b->data, b->dtype, i);
			pb = tmp;
		}
		f32_broadcast(op, a, CF32(a), b, pb, y);
		free(tmp);
		return 0;
	}
	int64_t st[2][QP_MAX_RANK];
	int_ctx c = {op, a, b, y};

	qp_broadcast_strides(y->rank, y->dims, a->rank, a->dims, st[0]);
	qp_broadcast_strides(y->rank, y->dims, b->rank, b->dims, st[1]);
	qp_broadcast_walk(y->rank, y->dims, 2, st, int_visit, &c);
	return 0;
}

int run_arith(const qp_graph *g, const qp_node *n,
	      const qp_value *const *in, qp_value *const *out,
	      qp_err *err)
{
	arith op = (arith)qp_node_row(n)->kind;

	(void)g;
	if (op == AR_MOD && qp_node_attr_int(n, "fmod", 0) == 1)
		op = AR_FMOD;
	if (op == AR_SHL && !strcmp(qp_node_attr_string(n, "direction", ""), "RIGHT"))
		op = AR_SHR;
	return arith_values(n, op, in[0], in[1], out[0], err);
}

/* Sum, Mean, Max, Min: any number of inputs, all broadcast together. */
int infer_variadic(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *a;
	int ro, ints_ok = qp_node_row(n)->kind != AR_MEAN;
	int64_t out[QP_MAX_RANK];
	char s1[160], s2[160];
	qp_dtype dt;

	if (qp_check_io(g, n, 1, 1 << 20, err))
		return -1;
	a = qp_in_tensor(g, n, 0);
	if (qp_want_numeric(n, a, "input", ints_ok, err))
		return -1;
	dt = qp_compute_dtype(a);
	ro = a->rank;
	memcpy(out, a->dims, sizeof(int64_t) * (size_t)ro);
	for (int i = 1; i < n->n_inputs; i++) {
		const qp_tensor *b = qp_in_tensor(g, n, i);
		int64_t prev[QP_MAX_RANK];
		int rp = ro;

		if (!b)
			return qp_node_err(err, n, "input %d is missing", i);
		if (qp_compute_dtype(b) != dt)
			return qp_node_err(err, n, "input '%s' has dtype %s but input '%s' %s",
					   a->name, qp_dtype_name(a->dtype), b->name,
					   qp_dtype_name(b->dtype));
		memcpy(prev, out, sizeof prev);
		if (qp_broadcast_dims(rp, prev, b->rank, b->dims, &ro, out))
			return qp_node_err(err, n, "shapes %s and %s ('%s') do not broadcast",
					   qp_dims_str(rp, prev, s1, sizeof s1),
					   qp_dims_str(b->rank, b->dims, s2, sizeof s2),
					   b->name);
	}
	qp_set_out(g, n, 0, dt, ro, out);
	return 0;
}

typedef struct copy_ctx {
	const unsigned char *src;
	unsigned char *dst;
	size_t es;
} copy_ctx;

static void copy_visit(void *ctx, int64_t o, const int64_t *off)
{
	const copy_ctx *c = ctx;

	memcpy(c->dst + (size_t)o * c->es, c->src + (size_t)off[0] * c->es, c->es);
}

/* Writes x broadcast to y's shape into y (same dtype). */
static void broadcast_copy(const qp_value *x, qp_value *y)
{
	int64_t st[1][QP_MAX_RANK];
	copy_ctx c = {x->data, y->data, qp_dtype_size(y->dtype)};

	qp_broadcast_strides(y->rank, y->dims, x->rank, x->dims, st[0]);
	qp_broadcast_walk(y->rank, y->dims, 1, st, copy_visit, &c);
}

int run_variadic(const qp_graph *g, const qp_node *n,
		 const qp_value *const *in, qp_value *const *out,
		 qp_err *err)
{
	arith op = (arith)qp_node_row(n)->kind;
	qp_value *y = out[0];

	(void)g;
	broadcast_copy(in[0], y);
	for (int i = 1; i < n->n_inputs; i++)
		if (arith_values(n, op, y, in[i], y, err))
			return -1;
	if (op == AR_MEAN)
		for (int64_t i = 0; i < y->numel; i++)
			F32(y)[i] /= (float)n->n_inputs;
	return 0;
}

/* Where(cond, x, y): cond bool, x and y one dtype, all broadcast. */
int infer_where(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *c, *x, *y;
	int r1, r2;
	int64_t o1[QP_MAX_RANK], o2[QP_MAX_RANK];

	if (qp_check_io(g, n, 3, 3, err))
		return -1;
	c = qp_in_tensor(g, n, 0);
	x = qp_in_tensor(g, n, 1);
	y = qp_in_tensor(g, n, 2);
	if (c->dtype != QP_DT_BOOL)
		return qp_node_err(err, n, "condition '%s' has dtype %s, expected bool",
				   c->name, qp_dtype_name(c->dtype));
	if (qp_compute_dtype(x) != qp_compute_dtype(y))
		return qp_node_err(err, n, "input X '%s' has dtype %s but input Y '%s' %s",
				   x->name, qp_dtype_name(x->dtype), y->name,
				   qp_dtype_name(y->dtype));
	if (qp_broadcast_dims(c->rank, c->dims, x->rank, x->dims, &r1, o1) ||
	    qp_broadcast_dims(r1, o1, y->rank, y->dims, &r2, o2))
		return qp_node_err(err, n, "shapes of '%s', '%s' and '%s' do not broadcast",
				   c->name, x->name, y->name);
	qp_set_out(g, n, 0, qp_compute_dtype(x), r2, o2);
	return 0;
}

typedef struct where_ctx {
	const unsigned char *c, *x, *y;
	unsigned char *dst;
	size_t es;
} where_ctx;

static void where_visit(void *ctx, int64_t o, const int64_t *off)
{
	const where_ctx *w = ctx;
	const unsigned char *src = w->c[off[0]] ? w->x + (size_t)off[1] * w->es
						: w->y + (size_t)off[2] * w->es;

	memcpy(w->dst + (size_t)o * w->es, src, w->es);
}

int run_where(const qp_graph *g, const qp_node *n,
	      const qp_value *const *in, qp_value *const *out,
	      qp_err *err)
{
	qp_value *y = out[0];
	int64_t st[3][QP_MAX_RANK];
	where_ctx w = {in[0]->data, in[1]->data, in[2]->data, y->data,
		       qp_dtype_size(y->dtype)};

	(void)g, (void)n, (void)err;
	for (int i = 0; i < 3; i++)
		qp_broadcast_strides(y->rank, y->dims, in[i]->rank, in[i]->dims, st[i]);
	qp_broadcast_walk(y->rank, y->dims, 3, st, where_visit, &w);
	return 0;
}

/* Clip(x, min?, max?): the importer turns opset < 11 attributes into
 * inputs.  A missing bound is no bound. */
int infer_clip(qp_graph *g, int node, qp_err *err)
{
	const qp_node *n = &g->nodes[node];
	const qp_tensor *x;

	if (qp_check_io(g, n, 1, 3, err))
		return -1;
	if (qp_node_attr(n, "min") || qp_node_attr(n, "max"))
		return qp_node_err(err, n, "min/max attributes must be turned into inputs by the importer");
	x = qp_in_tensor(g, n, 0);
	if (qp_want_numeric(n, x, "input", 1, err))
		return -1;
	for (int i = 1; i < 3; i++) {
		const qp_tensor *b = qp_in_tensor(g, n, i);

		if (!b)
			continue;
		if (qp_compute_dtype(b) != qp_compute_dtype(x))
			return qp_node_err(err, n, "bound '%s' has dtype %s, input '%s' %s",
					   b->name, qp_dtype_name(b->dtype), x->name,
					   qp_dtype_name(x->dtype));
		if (qp_tensor_numel(b) != 1)
			return qp_node_err(err, n, "bound '%s' has %lld elements, expected a scalar",
					   b->name, (long long)qp_tensor_numel(b));
	}
	qp_set_out(g, n, 0, qp_compute_dtype(x), x->rank, x->dims);
	return 0;
}

int run_clip(const qp_graph *g, const qp_node *n,
	     const qp_value *const *in, qp_value *const *out,
	     qp_err *err)
{
	const qp_value *x = in[0];
	const qp_value *lo = n->n_inputs > 1 ? in[1] : NULL;
	const qp_value *hi = n->n_inputs > 2 ? in[2] : NULL;

	(void)g, (void)err;
	if (x->dtype == QP_DT_FLOAT32) {
		float l = lo ? CF32(lo)[0] : -INFINITY, h = hi ? CF32(hi)[0] : INFINITY;

		/* ONNX: min(max(x, min), max), so max wins when min > max;
		 * NaN passes through. */
		for (int64_t i = 0; i < x->numel; i++) {
			float v = CF32(x)[i];

			v = v < l ? l : v;
			F32(out[0])[i] = v > h ? h : v;
		}
		return 0;
	}
	int64_t l = lo ? qp_elem_get_i64(lo->data, lo->dtype, 0) : INT64_MIN;
	int64_t h = hi ? qp_elem_get_i64(hi->data, hi->dtype, 0) : INT64_MAX;

	for (int64_t i = 0; i < x->numel; i++) {
		int64_t v = qp_elem_get_i64(x->data, x->dtype, i);

		v = v < l ? l : v;
		qp_elem_set_i64(out[0]->data, x->dtype, i, v > h ? h : v);
	}
	return 0;
}
