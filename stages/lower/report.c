/* lower --report: what each lowered layer costs (docs/man/lower.md, REPORT).
 *
 * Every number comes from the lowered graph itself and from the helpers the
 * resources check uses (qp_lower_weight_bytes, qp_lower_node_bytes,
 * qp_plan_load, qp_plan_lifetimes), so the report cannot disagree with what
 * lower refused or what emit writes.  The JSON is built with cJSON and the
 * text from the same structure, so the two formats cannot drift either.
 */
#include "lower.h"

#include <stdlib.h>
#include <string.h>

#include "lowered.h"
#include "tpc.h"

/* QConvTranspose: the (input position, tap) pairs along spatial axis a
 * that land inside the output (o = i s - pad_begin + k d); the cropped
 * ones cost nothing. */
static int64_t tconv_pairs(const qp_graph *g, const qp_node *n, int a)
{
	const qp_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]];
	const qp_tensor *y = &g->tensors[n->outputs[0]];
	int c;
	const int64_t *s = qp_node_attr_ints(n, "strides", &c), *p = qp_node_attr_ints(n, "pads", &c);
	const int64_t *d = qp_node_attr_ints(n, "dilations", &c);
	int64_t pairs = 0;

	for (int64_t i = 0; i < x->dims[2 + a]; i++)
		for (int64_t k = 0; k < w->dims[2 + a]; k++) {
			int64_t o = i * s[a] - p[a] + k * d[a];

			pairs += o >= 0 && o < y->dims[2 + a];
		}
	return pairs;
}

/* Multiply-accumulates of lowered node n: QConv N*Co*Ho*Wo*(Ci/group)*Kh*Kw
 * (the output's elements times the weights' [Ci/group, Kh, Kw]), QGemm
 * M*K*N (the output's elements times K), QConvTranspose
 * N*Ci*(Co/group)*Ph*Pw (each input channel reaches Co/group outputs, over
 * the Ph*Pw (position, tap) pairs inside the output).  0 for every other
 * op: they do a few integer operations per element, not MACs. */
static int64_t node_macs(const qp_graph *g, const qp_node *n)
{
	const qp_tensor *y = &g->tensors[n->outputs[0]];
	const qp_tensor *w = n->n_inputs > 1 && n->inputs[1] >= 0 ? &g->tensors[n->inputs[1]] : NULL;
	int64_t per = 1;

	if (w && !strcmp(n->op, "QConvTranspose"))
		return y->dims[0] * w->dims[0] * w->dims[1] * tconv_pairs(g, n, 0) *
		       tconv_pairs(g, n, 1);
	if (!w || (strcmp(n->op, "QConv") && strcmp(n->op, "QGemm")))
		return 0;
	for (int i = 1; i < w->rank; i++)   /* QConv: Ci/g*Kh*Kw; QGemm [N, K]: K */
		per *= w->dims[i];
	return qp_tensor_numel(y) * per;
}

static int find_node(const qp_graph *g, const char *name)
{
	for (int i = 0; i < g->n_nodes; i++)
		if (!strcmp(g->nodes[i].name, name))
			return i;
	return -1;
}

static cJSON *num(int64_t x)
{
	return cJSON_CreateNumber((double)x);
}

/* The report as JSON (the text form is printed from it). */
static cJSON *build(const qp_graph *src, const qp_graph *g, const int *fused_into,
		    const qp_plan *plan, const int *first, const int *last, qp_err *err)
{
	cJSON *root = cJSON_CreateObject(), *layers, *tensors, *tot, *tgt = NULL;
	int64_t macs = 0, weights = 0, sum = 0;
	qp_tpc *tpc = NULL;
	const cJSON *mt = g->meta ? cJSON_GetObjectItemCaseSensitive(g->meta, "target") : NULL;

	if (!root || !(layers = cJSON_AddArrayToObject(root, "layers")) ||
	    !(tensors = cJSON_AddArrayToObject(root, "tensors")))
		goto oom;
	for (int k = 0; k < g->n_nodes; k++) {
		const qp_node *n = &g->nodes[k];
		cJSON *l = cJSON_CreateObject(), *fused;
		int s = find_node(src, n->name), y = n->outputs[0];
		int64_t live = 0, top = 0, m = node_macs(g, n), wb = qp_lower_node_bytes(g, k, 1);

		if (!l || !cJSON_AddItemToArray(layers, l))
			goto oom;
		/* What the arena holds while node k runs: its inputs, its
		 * output and everything still waiting for a later reader. */
		for (int t = 0; t < g->n_tensors; t++) {
			if (plan->offsets[t] < 0 || first[t] > k || last[t] < k)
				continue;
			live += qp_tensor_numel(&g->tensors[t]);
			if (plan->offsets[t] + qp_tensor_numel(&g->tensors[t]) > top)
				top = plan->offsets[t] + qp_tensor_numel(&g->tensors[t]);
		}
		macs += m;
		weights += wb;
		if (!cJSON_AddStringToObject(l, "name", n->name) ||
		    !cJSON_AddStringToObject(l, "op", n->op) ||
		    !cJSON_AddItemToObject(l, "macs", num(m)) ||
		    !cJSON_AddItemToObject(l, "weight_bytes", num(wb)) ||
		    !cJSON_AddItemToObject(l, "activation_bytes", num(qp_lower_node_bytes(g, k, 0))) ||
		    !cJSON_AddItemToObject(l, "arena_offset", plan->offsets[y] >= 0 ?
					   num(plan->offsets[y]) : cJSON_CreateNull()) ||
		    !cJSON_AddItemToObject(l, "live_bytes", num(live)) ||
		    !cJSON_AddItemToObject(l, "arena_top", num(top)) ||
		    !(fused = cJSON_AddArrayToObject(l, "fused")))
			goto oom;
		for (int r = 0; s >= 0 && r < src->n_nodes; r++) {
			cJSON *f;

			if (fused_into[r] != s)
				continue;
			if (!(f = cJSON_CreateObject()) || !cJSON_AddItemToArray(fused, f) ||
			    !cJSON_AddStringToObject(f, "name", src->nodes[r].name) ||
			    !cJSON_AddStringToObject(f, "op", src->nodes[r].op))
				goto oom;
		}
	}
	for (int t = 0; t < g->n_tensors; t++) {
		cJSON *x;

		if (plan->offsets[t] < 0)
			continue;
		/* An arena without reuse: every tensor at its own aligned place. */
		sum += (qp_tensor_numel(&g->tensors[t]) + QP_ARENA_ALIGN - 1) /
		       QP_ARENA_ALIGN * QP_ARENA_ALIGN;
		if (!(x = cJSON_CreateObject()) || !cJSON_AddItemToArray(tensors, x) ||
		    !cJSON_AddStringToObject(x, "name", g->tensors[t].name) ||
		    !cJSON_AddItemToObject(x, "bytes", num(qp_tensor_numel(&g->tensors[t]))) ||
		    !cJSON_AddItemToObject(x, "offset", num(plan->offsets[t])) ||
		    !cJSON_AddItemToObject(x, "first", num(first[t])) ||
		    !cJSON_AddItemToObject(x, "last", num(last[t])))
			goto oom;
	}
	if (!(tot = cJSON_AddObjectToObject(root, "totals")) ||
	    !cJSON_AddItemToObject(tot, "macs", num(macs)) ||
	    !cJSON_AddItemToObject(tot, "weight_bytes", num(weights)) ||
	    !cJSON_AddItemToObject(tot, "activation_sum_bytes", num(sum)) ||
	    !cJSON_AddItemToObject(tot, "arena_bytes", num(plan->arena_size)) ||
	    !cJSON_AddItemToObject(tot, "saving_bytes", num(sum - plan->arena_size)))
		goto oom;
	if (mt && qp_tpc_from_json(mt, &tpc, err)) {
		cJSON_Delete(root);
		return NULL;
	}
	if (!tpc) {
		if (!cJSON_AddNullToObject(root, "target"))
			goto oom;
		return root;
	}
	if (!(tgt = cJSON_AddObjectToObject(root, "target")) ||
	    !cJSON_AddStringToObject(tgt, "name", tpc->name ? tpc->name : "") ||
	    !cJSON_AddItemToObject(tgt, "weight_memory_bytes", tpc->weight_memory_bytes >= 0 ?
				   num(tpc->weight_memory_bytes) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(tgt, "activation_memory_bytes", tpc->activation_memory_bytes >= 0 ?
				   num(tpc->activation_memory_bytes) : cJSON_CreateNull()))
		goto oom;
	qp_tpc_free(tpc);
	return root;
oom:
	qp_tpc_free(tpc);
	cJSON_Delete(root);
	qp_err_set(err, "out of memory");
	return NULL;
}

static long long geti(const cJSON *o, const char *key)
{
	return (long long)cJSON_GetObjectItemCaseSensitive(o, key)->valuedouble;
}

/* "of the target's N (M free)" or "(the target sets no limit)". */
static void limit(FILE *f, long long need, const cJSON *tgt, const char *key)
{
	const cJSON *lim = tgt ? cJSON_GetObjectItemCaseSensitive(tgt, key) : NULL;

	if (!cJSON_IsNumber(lim))
		fprintf(f, " (no %s)", key);
	else
		fprintf(f, " of the target's %lld (%s, %.1f%%)", (long long)lim->valuedouble, key,
			lim->valuedouble > 0 ? 100.0 * (double)need / lim->valuedouble : 0.0);
}

static void print_text(const cJSON *r, FILE *f)
{
	const cJSON *l, *x, *tot = cJSON_GetObjectItemCaseSensitive(r, "totals");
	const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(r, "target");
	long long sum = geti(tot, "activation_sum_bytes"), arena = geti(tot, "arena_bytes");
	int k = 0;

	fprintf(f, "%5s  %-12s %14s %10s %9s %9s %9s %9s  %s\n", "layer", "op", "MACs",
		"weights", "act", "offset", "live", "top", "node (fused)");
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(r, "layers")) {
		const cJSON *off = cJSON_GetObjectItemCaseSensitive(l, "arena_offset");
		char offs[32];

		if (cJSON_IsNumber(off))
			snprintf(offs, sizeof offs, "%lld", (long long)off->valuedouble);
		else
			snprintf(offs, sizeof offs, "-");
		fprintf(f, "%5d  %-12s %14lld %10lld %9lld %9s %9lld %9lld  %s", k++,
			cJSON_GetObjectItemCaseSensitive(l, "op")->valuestring, geti(l, "macs"),
			geti(l, "weight_bytes"), geti(l, "activation_bytes"), offs,
			geti(l, "live_bytes"), geti(l, "arena_top"),
			cJSON_GetObjectItemCaseSensitive(l, "name")->valuestring);
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(l, "fused"))
			fprintf(f, " + %s '%s'", cJSON_GetObjectItemCaseSensitive(x, "op")->valuestring,
				cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring);
		fputc('\n', f);
	}
	fprintf(f, "MACs: %lld\n", geti(tot, "macs"));
	fprintf(f, "weights: %lld bytes", geti(tot, "weight_bytes"));
	limit(f, geti(tot, "weight_bytes"), tgt, "weight_memory_bytes");
	fprintf(f, "\nactivations: %lld bytes without reuse, arena %lld bytes", sum, arena);
	limit(f, arena, tgt, "activation_memory_bytes");
	fprintf(f, "; reuse saves %lld bytes", sum - arena);
	if (arena > 0)
		fprintf(f, " (%.2fx)", (double)sum / (double)arena);
	fputc('\n', f);
	if (cJSON_IsObject(tgt))
		fprintf(f, "target: '%s'\n", cJSON_GetObjectItemCaseSensitive(tgt, "name")->valuestring);
	else
		fprintf(f, "target: none (no meta.target)\n");
}

int qp_lower_report(const qp_graph *src, const qp_graph *low, const int *fused_into,
		    int json, FILE *f, qp_err *err)
{
	qp_plan plan = {0};
	int *first = NULL, *last = NULL, rc = -1;
	cJSON *r = NULL;
	size_t nt = (size_t)(low->n_tensors ? low->n_tensors : 1);

	/* The plan as stored (and checked) in meta.lowered: what emit writes. */
	if (qp_plan_load(low, &plan, err))
		return -1;
	first = malloc(nt * sizeof *first);
	last = malloc(nt * sizeof *last);
	if (!first || !last) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	qp_plan_lifetimes(low, first, last);
	if (!(r = build(src, low, fused_into, &plan, first, last, err)))
		goto out;
	if (json) {
		char *s = cJSON_Print(r);

		if (!s) {
			qp_err_set(err, "out of memory");
			goto out;
		}
		fprintf(f, "%s\n", s);
		free(s);
	} else {
		print_text(r, f);
	}
	rc = 0;
out:
	cJSON_Delete(r);
	free(first);
	free(last);
	qp_plan_release(&plan);
	return rc;
}
