/* Keras model files -> IR graph: tells the formats apart, walks the model
 * config, and finds each layer's weights.
 *
 * Two containers hold the same two things, a JSON model config and HDF5
 * weights (layouts verified on real files, see docs/man/keras2ir.md):
 *   .keras (Keras 3)  zip: config.json, model.weights.h5 with
 *                     layers/<key>/vars/<k>; <key> is the layer class in
 *                     snake case made unique by a counter in layer order
 *                     ("conv2d", "conv2d_1", ...), not the layer's name
 *   .h5 (Keras 2, and Keras 3 saving to .h5)  HDF5 whose root attribute
 *                     model_config holds the config and whose group
 *                     model_weights/<layer name> lists its datasets in the
 *                     attribute weight_names (kernel first, then bias)
 */
#include "keras.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const unsigned char zip_magic[4] = {'P', 'K', 3, 4};
static const unsigned char hdf5_magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* Keras' naming.to_snake_case, which names the weight groups of .keras
 * files: "Conv2D" -> "conv2d", "MaxPooling2D" -> "max_pooling2d",
 * "ReLU" -> "re_lu".  Rules: drop non-word characters; put '_' before an
 * upper-case letter followed by lower-case ones (when something precedes
 * it); then between a lower-case letter and an upper-case one; lower it. */
static char *snake_case(const char *s)
{
	size_t n = strlen(s), i, j = 0;
	char *w = malloc(n + 1), *a = malloc(2 * n + 1), *b = malloc(4 * n + 1);

	if (!w || !a || !b) {
		free(w), free(a), free(b);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (isalnum((unsigned char)s[i]) || s[i] == '_')
			w[j++] = s[i];
	w[j] = 0;
	n = j;
	for (i = 0, j = 0; i < n; i++) {
		if (i > 0 && isupper((unsigned char)w[i]) && i + 1 < n &&
		    islower((unsigned char)w[i + 1]))
			a[j++] = '_';
		a[j++] = w[i];
	}
	a[j] = 0;
	n = j;
	for (i = 0, j = 0; i < n; i++) {
		b[j++] = (char)tolower((unsigned char)a[i]);
		if (islower((unsigned char)a[i]) && i + 1 < n &&
		    isupper((unsigned char)a[i + 1]))
			b[j++] = '_';
	}
	b[j] = 0;
	free(w);
	free(a);
	return b;
}

/* True when weight name w ("seq/dense_1/kernel:0") has the path
 * component key ("dense_1") before its last component. */
static int has_component(const char *w, const char *key)
{
	size_t n = strlen(key);
	const char *p = w;

	while ((p = strstr(p, key))) {
		if ((p == w || p[-1] == '/') && p[n] == '/')
			return 1;
		p++;
	}
	return 0;
}

int keras_layer_weight(keras_ctx *c, const keras_layer *l, int k, int rank,
		       const int64_t *dims, keras_array *a, qp_err *err)
{
	char path[2048];
	int i, ok;

	if (c->wformat == KERAS_WEIGHTS_V3) {
		snprintf(path, sizeof path, "%s/vars/%d", l->v3_path, k);
		if (!keras_h5_exists(c->h5, path))
			return qp_err_set(err, "no weight '%s' in model.weights.h5", path);
	} else {
		const char *group = l->h5_group;
		char **names = NULL;
		int n = 0, w, found = -1, seen = 0;

		if (!keras_h5_exists(c->h5, group))
			return qp_err_set(err, "no weight group '%s'", group);
		if (keras_h5_attr_strings(c->h5, group, "weight_names", &names, &n, err) != 0)
			return -1;
		for (w = 0; w < n && found < 0; w++)
			if (!l->h5_shared_group || has_component(names[w], l->key))
				if (seen++ == k)
					found = w;
		if (found < 0) {
			keras_strings_free(names, n);
			return qp_err_set(err, "weight group '%s' has %d weights%s%s%s, expected at least %d",
					  group, seen, l->h5_shared_group ? " of layer '" : "",
					  l->h5_shared_group ? l->key : "",
					  l->h5_shared_group ? "'" : "", k + 1);
		}
		snprintf(path, sizeof path, "%s/%s", group, names[found]);
		keras_strings_free(names, n);
	}
	if (keras_h5_read_floats(c->h5, path, a, err) != 0)
		return -1;
	ok = a->rank == rank;
	for (i = 0; ok && i < rank; i++)
		ok = dims[i] < 0 || dims[i] == a->dims[i];
	if (!ok) {
		char got[256], want[256];
		int gn = 0, wn = 0;

		for (i = 0; i < a->rank; i++)
			gn += snprintf(got + gn, sizeof got - (size_t)gn, "%s%lld",
				       i ? "," : "", (long long)a->dims[i]);
		got[gn] = 0;
		for (i = 0; i < rank; i++)
			wn += snprintf(want + wn, sizeof want - (size_t)wn, "%s%lld",
				       i ? "," : "", (long long)dims[i]);
		want[wn] = 0;
		keras_array_free(a);
		/* dims of -1 print as such: "any" would be longer, not clearer */
		return qp_err_set(err, "weight '%s' has shape [%s], expected [%s]",
				  path, got, want);
	}
	return 0;
}

/* Where the layers of one model (the file's, or a nested one) get their
 * names and weights. */
typedef struct model_scope {
	const char *prefix;        /* IR name prefix: "" or "<model>/" */
	const char *v3_prefix;     /* "layers/" or "<the model's v3 path>/layers/" */
	const char *h5_group;      /* legacy: NULL at the top, else the group of
	                              the outermost enclosing model */
} model_scope;

static int is_model_class(const char *cls)
{
	return !strcmp(cls, "Sequential") || !strcmp(cls, "Functional") ||
	       !strcmp(cls, "Model");
}

static void free_layers(keras_layer *ls, int n)
{
	for (int i = 0; i < n; i++) {
		free(ls[i].v3_path);
		free(ls[i].h5_group);
		free(ls[i].owned_name);
	}
	free(ls);
}

static char *concat(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* Layer entries of the config, validated enough for the table to rely on:
 * class_name a string, config an object, a name. */
static int collect_layers(const cJSON *layers, const model_scope *sc,
			  keras_layer **out, int *n_out, qp_err *err)
{
	int n = cJSON_GetArraySize(layers), i = 0;
	keras_layer *ls = calloc((size_t)(n ? n : 1), sizeof *ls);
	const cJSON *it;

	if (!ls)
		return qp_err_set(err, "out of memory");
	cJSON_ArrayForEach(it, layers) {
		const cJSON *cls = cJSON_GetObjectItemCaseSensitive(it, "class_name");
		const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(it, "config");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(cfg, "name");

		if (!cJSON_IsString(name))
			name = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (!cJSON_IsString(cls) || !cJSON_IsObject(cfg) || !cJSON_IsString(name)) {
			free_layers(ls, n);
			return qp_err_set(err, "model config: layer %d has no class_name, config or name", i);
		}
		ls[i].class_name = cls->valuestring;
		ls[i].config = cfg;
		ls[i].entry = it;
		ls[i].key = name->valuestring;
		ls[i].name = name->valuestring;
		if (sc->prefix[0]) {
			ls[i].owned_name = concat(sc->prefix, name->valuestring, "");
			ls[i].name = ls[i].owned_name;
		}
		ls[i].h5_shared_group = sc->h5_group != NULL;
		ls[i].h5_group = sc->h5_group ? strdup(sc->h5_group) :
				 concat("model_weights/", name->valuestring, "");
		if (!ls[i].h5_group || (sc->prefix[0] && !ls[i].owned_name)) {
			free_layers(ls, n);
			return qp_err_set(err, "out of memory");
		}
		i++;
	}
	*out = ls;
	*n_out = n;
	return 0;
}

/* Where each layer's weights live in a .keras file.  Keras names the
 * group after the class in snake case with a counter ("conv2d",
 * "conv2d_1", ...) under "layers/" (Keras 3) or, in Keras 2.13/2.14,
 * under "_layer_checkpoint_dependencies\" with a counter that steps by two
 * (each layer was visited twice while saving; seen on real files).  So
 * the k-th layer of a class takes the next existing group after the one
 * the previous layer of that class took; failing that, a group named
 * after the layer (which some writers use).  A nested model's group has
 * its layers under "<group>/layers/". */
static int assign_v3_paths(hid_t h5, const char *prefix, keras_layer *ls,
			   int n, qp_err *err)
{
	int i, j;
	int *suffix = calloc(n > 0 ? (size_t)n : 1, sizeof *suffix);

	if (!suffix)
		return qp_err_set(err, "out of memory");
	for (i = 0; i < n; i++) {
		char *snake, key[1100], path[1200], sub[1200];
		int next = 0, s;

		suffix[i] = -1;
		snake = snake_case(ls[i].class_name);
		if (!snake) {
			free(suffix);
			return qp_err_set(err, "out of memory");
		}
		for (j = i - 1; j >= 0; j--)
			if (strcmp(ls[j].class_name, ls[i].class_name) == 0 && suffix[j] >= 0) {
				next = suffix[j] + 1;
				break;
			}
		for (s = next; s < next + 8; s++) {
			if (s)
				snprintf(key, sizeof key, "%s%s_%d", prefix, snake, s);
			else
				snprintf(key, sizeof key, "%s%s", prefix, snake);
			snprintf(path, sizeof path, "%s/vars", key);
			snprintf(sub, sizeof sub, "%s/layers", key);
			if (keras_h5_exists(h5, path) || keras_h5_exists(h5, sub)) {
				suffix[i] = s;
				break;
			}
		}
		free(snake);
		if (suffix[i] < 0)
			snprintf(key, sizeof key, "%s%s", prefix, ls[i].key);
		ls[i].v3_path = strdup(key);
		if (!ls[i].v3_path) {
			free(suffix);
			return qp_err_set(err, "out of memory");
		}
	}
	free(suffix);
	return 0;
}

/* Appends " (layer 'x', class 'Y')" to the message of a failed handler. */
static int locate(qp_err *err, const keras_layer *l)
{
	char msg[QP_ERR_MSG_MAX];

	if (!err)
		return -1;
	snprintf(msg, sizeof msg, "%s", err->msg);
	return qp_err_set(err, "%s (layer '%s', class '%s')", msg, l->name, l->class_name);
}

/* A nested model's layer list: its config's "layers" (a Sequential of
 * Keras before 2.2: the config itself). */
static const cJSON *model_layers(const cJSON *cfg)
{
	return cJSON_IsArray(cfg) ? cfg : cJSON_GetObjectItemCaseSensitive(cfg, "layers");
}

static int check_layers(const keras_layer *ls, int n, int functional,
			const char *prefix, qp_err *lines);

/* The problems of a nested model's layers, named "<model>/<layer>". */
static int check_nested(const keras_layer *l, qp_err *lines)
{
	const cJSON *layers = model_layers(l->config);
	/* Only names matter here; "-" stands in for the weight group (no
	 * weights are read while checking). */
	model_scope sc = {NULL, "", "-"};
	keras_layer *ls = NULL;
	char *prefix = concat(l->name, "/", "");
	int n = 0, problems;

	if (!prefix) {
		qp_err_append(lines, "out of memory");
		return 1;
	}
	sc.prefix = prefix;
	if (!cJSON_IsArray(layers) || collect_layers(layers, &sc, &ls, &n, NULL) != 0) {
		qp_err_append(lines, "nested model has no valid layer list (layer '%s', class '%s')",
			      l->name, l->class_name);
		free(prefix);
		return 1;
	}
	problems = check_layers(ls, n, strcmp(l->class_name, "Sequential") != 0, prefix, lines);
	free_layers(ls, n);
	free(prefix);
	return problems;
}

/* Pass 1: every unsupported class or attribute value, one line each,
 * nested models included, before anything is built (the house rule:
 * collect, then fail).  Returns the number of problems. */
static int check_layers(const keras_layer *ls, int n, int functional,
			const char *prefix, qp_err *lines)
{
	int i, problems = 0;

	for (i = 0; i < n; i++) {
		const keras_layer_def *def = keras_layer_find(ls[i].class_name);

		if (is_model_class(ls[i].class_name)) {
			problems += check_nested(&ls[i], lines);
		} else if (!def) {
			qp_err_append(lines, "unsupported layer '%s' (class '%s')",
				      ls[i].name, ls[i].class_name);
			problems++;
		} else {
			problems += def->check(&ls[i], lines);
			if (!functional && i > 0 && strcmp(ls[i].class_name, "InputLayer") == 0 &&
			    !prefix[0]) {
				qp_err_append(lines, "InputLayer is not the first layer (layer '%s', class 'InputLayer')",
					      ls[i].name);
				problems++;
			}
		}
	}
	return problems;
}

static int check_all(const keras_layer *ls, int n, int functional, qp_err *err)
{
	qp_err lines;

	lines.msg[0] = 0;
	if (check_layers(ls, n, functional, "", &lines) == 0)
		return 0;
	if (err)
		memcpy(err->msg, lines.msg, sizeof lines.msg);
	return -1;
}

/* ---- Functional models ---------------------------------------------------- */

/* One input reference of a node: Keras 2 [name, node, tensor, kwargs],
 * Keras 3 {"class_name": "__keras_tensor__", "config": {"keras_history":
 * [name, node, tensor]}}. */
typedef struct tensor_ref {
	const char *layer;
	int node, tensor;
} tensor_ref;

static int history_ref(const cJSON *h, tensor_ref *r)
{
	const cJSON *name = cJSON_GetArrayItem(h, 0), *nd = cJSON_GetArrayItem(h, 1),
		    *t = cJSON_GetArrayItem(h, 2);

	if (!cJSON_IsArray(h) || !cJSON_IsString(name) || !cJSON_IsNumber(nd) ||
	    !cJSON_IsNumber(t))
		return -1;
	r->layer = name->valuestring;
	r->node = nd->valueint;
	r->tensor = t->valueint;
	return 0;
}

/* Collects the __keras_tensor__ objects under a Keras 3 args value, in
 * order (Add and Concatenate take a list of them). */
static int collect_k3_refs(const cJSON *v, tensor_ref *refs, int *n)
{
	const cJSON *it;

	if (cJSON_IsObject(v)) {
		const cJSON *cls = cJSON_GetObjectItemCaseSensitive(v, "class_name");
		const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(v, "config");

		if (cJSON_IsString(cls) && strcmp(cls->valuestring, "__keras_tensor__") == 0) {
			if (*n >= KERAS_MAX_LAYER_INPUTS)
				return -1;
			if (history_ref(cJSON_GetObjectItemCaseSensitive(cfg, "keras_history"),
					&refs[*n]) != 0)
				return -1;
			(*n)++;
		}
		return 0;
	}
	if (cJSON_IsArray(v))
		cJSON_ArrayForEach(it, v)
			if (collect_k3_refs(it, refs, n) != 0)
				return -1;
	return 0;
}

/* The input references of one inbound node, either format. */
static int node_refs(const cJSON *node, tensor_ref *refs, int *n)
{
	const cJSON *it;

	*n = 0;
	if (cJSON_IsObject(node))
		return collect_k3_refs(cJSON_GetObjectItemCaseSensitive(node, "args"), refs, n);
	if (!cJSON_IsArray(node))
		return -1;
	cJSON_ArrayForEach(it, node) {
		if (*n >= KERAS_MAX_LAYER_INPUTS || history_ref(it, &refs[*n]) != 0)
			return -1;
		(*n)++;
	}
	return 0;
}

/* input_layers / output_layers: [[name, node, tensor], ...] or one bare
 * [name, node, tensor]. */
static int io_refs(const cJSON *v, tensor_ref *refs, int *n)
{
	const cJSON *it;

	*n = 0;
	if (cJSON_IsArray(v) && cJSON_IsString(cJSON_GetArrayItem(v, 0))) {
		*n = 1;
		return history_ref(v, &refs[0]);
	}
	if (!cJSON_IsArray(v))
		return -1;
	cJSON_ArrayForEach(it, v) {
		if (*n >= KERAS_MAX_LAYER_INPUTS || history_ref(it, &refs[*n]) != 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int layer_index(const keras_layer *ls, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ls[i].key, name) == 0)
			return i;
	return -1;
}

/* The IR tensors a Functional model's layer calls produced: output
 * `tensor` of call `node` of layer `layer`. */
typedef struct call_output {
	int layer, node, tensor, ir;
} call_output;

typedef struct call_table {
	call_output *v;
	int n, cap;
} call_table;

static int record(call_table *t, int layer, int node, int tensor, int ir)
{
	if (t->n == t->cap) {
		int cap = t->cap ? 2 * t->cap : 64;
		call_output *v = realloc(t->v, (size_t)cap * sizeof *v);

		if (!v)
			return -1;
		t->v = v, t->cap = cap;
	}
	t->v[t->n++] = (call_output){layer, node, tensor, ir};
	return 0;
}

static int lookup(const call_table *t, int layer, int node, int tensor)
{
	for (int i = 0; i < t->n; i++)
		if (t->v[i].layer == layer && t->v[i].node == node && t->v[i].tensor == tensor)
			return t->v[i].ir;
	return -1;
}

static int build_model(keras_ctx *c, const keras_layer *self, const cJSON *cfg,
		       const model_scope *sc, const int *in_t, int n_in,
		       int *out_t, int *n_out, qp_err *err);

/* Makes the current tensor t (its shape is the graph's). */
static void set_current(keras_ctx *c, int t)
{
	const qp_tensor *x = &c->g->tensors[t];

	c->cur = t;
	c->rank = x->rank;
	memcpy(c->dims, x->dims, sizeof c->dims);
}

/* Emits call `node` of layer l on the tensors c->ins[0..n_ins): a table
 * row, or a nested model.  Its outputs go to outs (*n_outs of them). */
static int emit_call(keras_ctx *c, const keras_layer *l, int node,
		     const model_scope *sc, int *outs, int *n_outs, qp_err *err)
{
	keras_layer call = *l;
	char *name = NULL;
	int rc;

	if (node > 0) {
		char suffix[32];

		snprintf(suffix, sizeof suffix, "/call%d", node);
		name = concat(l->name, suffix, "");
		if (!name)
			return qp_err_set(err, "out of memory");
		call.name = name;
	}
	if (c->n_ins > 0)
		set_current(c, c->ins[0]);
	if (is_model_class(l->class_name)) {
		char *prefix = concat(call.name, "/", ""), *v3 = concat(l->v3_path ? l->v3_path : "", "/layers/", "");
		model_scope inner = {prefix, v3, sc->h5_group ? sc->h5_group : l->h5_group};
		int ins[KERAS_MAX_LAYER_INPUTS], n = c->n_ins;

		memcpy(ins, c->ins, sizeof ins);
		rc = prefix && v3 ? build_model(c, &call, l->config, &inner, ins, n, outs, n_outs, err)
				  : qp_err_set(err, "out of memory");
		/* a problem of the nested model as a whole: say which one */
		if (rc != 0 && err && !strstr(err->msg, "(layer '"))
			locate(err, &call);
		free(prefix);
		free(v3);
	} else {
		c->call_name = node > 0 ? call.name : NULL;
		c->base_name = l->name;
		rc = keras_layer_find(l->class_name)->emit(c, &call, err);
		c->call_name = c->base_name = NULL;
		if (rc != 0)
			locate(err, &call);
		outs[0] = c->cur;
		*n_outs = 1;
	}
	free(name);
	return rc;
}

/* Builds a Functional model: each layer's inbound nodes (one per call)
 * name the calls whose outputs it consumes; calls are emitted once all
 * of those exist (config order is topological in practice; we do not
 * rely on it).  At the top (in_t NULL) its InputLayers become the graph's
 * inputs, in input_layers order; nested, they are bound to in_t. */
static int build_functional(keras_ctx *c, const keras_layer *self, const cJSON *cfg,
			    const model_scope *sc, const int *in_t, int n_in,
			    int *out_t, int *n_out, qp_err *err)
{
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cfg, "layers");
	keras_layer *ls = NULL;
	call_table calls = {0};
	tensor_ref io[KERAS_MAX_LAYER_INPUTS];
	int n = 0, i, k, rc = -1, left = 0, progress, n_io, saved = c->functional;

	if (!cJSON_IsArray(layers))
		return qp_err_set(err, "model config has no layer list");
	if (collect_layers(layers, sc, &ls, &n, err) != 0)
		return -1;
	c->functional = 1;
	if (n == 0) {
		qp_err_set(err, "model has no layers");
		goto out;
	}
	if (!self && check_all(ls, n, 1, err) != 0)
		goto out;
	if (c->wformat == KERAS_WEIGHTS_V3 &&
	    assign_v3_paths(c->h5, sc->v3_prefix, ls, n, err) != 0)
		goto out;
	/* The inputs, in the model's order. */
	if (io_refs(cJSON_GetObjectItemCaseSensitive(cfg, "input_layers"), io, &n_io) != 0 ||
	    n_io == 0) {
		qp_err_set(err, "malformed input_layers");
		goto out;
	}
	if (in_t && n_io != n_in) {
		qp_err_set(err, "the model takes %d inputs, it is called with %d", n_io, n_in);
		goto out;
	}
	for (k = 0; k < n_io; k++) {
		int j = layer_index(ls, n, io[k].layer), t;

		if (j < 0 || strcmp(ls[j].class_name, "InputLayer") != 0) {
			qp_err_set(err, "input_layers names '%s', not an InputLayer", io[k].layer);
			goto out;
		}
		if (in_t) {
			t = in_t[k];
		} else {
			c->n_ins = 0;
			if (keras_layer_find("InputLayer")->emit(c, &ls[j], err) != 0) {
				locate(err, &ls[j]);
				goto out;
			}
			t = c->cur;
		}
		if (record(&calls, j, 0, 0, t) != 0) {
			qp_err_set(err, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		int nodes = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ls[i].entry,
										 "inbound_nodes"));

		if (strcmp(ls[i].class_name, "InputLayer") == 0)
			continue;
		if (nodes == 0) {
			qp_err_set(err, "layer has no inputs (layer '%s', class '%s')",
				   ls[i].name, ls[i].class_name);
			goto out;
		}
		left += nodes;
	}
	do {
		progress = 0;
		for (i = 0; i < n; i++) {
			const cJSON *inb = cJSON_GetObjectItemCaseSensitive(ls[i].entry, "inbound_nodes");
			int nodes = cJSON_GetArraySize(inb);

			if (strcmp(ls[i].class_name, "InputLayer") == 0)
				continue;
			for (k = 0; k < nodes; k++) {
				tensor_ref refs[KERAS_MAX_LAYER_INPUTS];
				int outs[KERAS_MAX_LAYER_INPUTS], nr = 0, no = 0, r, ready = 1;

				if (lookup(&calls, i, k, 0) >= 0)
					continue;
				if (node_refs(cJSON_GetArrayItem(inb, k), refs, &nr) != 0 || nr == 0) {
					qp_err_set(err, "malformed inbound_nodes (layer '%s', class '%s')",
						   ls[i].name, ls[i].class_name);
					goto out;
				}
				for (r = 0; r < nr && ready; r++) {
					int j = layer_index(ls, n, refs[r].layer);

					if (j < 0) {
						qp_err_set(err, "input '%s' is not a layer of the model "
							   "(layer '%s', class '%s')", refs[r].layer,
							   ls[i].name, ls[i].class_name);
						goto out;
					}
					c->ins[r] = lookup(&calls, j, refs[r].node, refs[r].tensor);
					ready = c->ins[r] >= 0;
				}
				if (!ready)
					continue;
				c->n_ins = nr;
				if (emit_call(c, &ls[i], k, sc, outs, &no, err) != 0)
					goto out;
				for (r = 0; r < no; r++)
					if (record(&calls, i, k, r, outs[r]) != 0) {
						qp_err_set(err, "out of memory");
						goto out;
					}
				left--;
				progress = 1;
			}
		}
	} while (left > 0 && progress);
	if (left > 0) {
		/* name the first layer whose inputs never became available */
		for (i = 0; i < n; i++)
			if (strcmp(ls[i].class_name, "InputLayer") != 0 && lookup(&calls, i, 0, 0) < 0)
				break;
		qp_err_set(err, "the layer graph has a cycle or an input that is never computed "
			   "(layer '%s', class '%s')", i < n ? ls[i].name : "?",
			   i < n ? ls[i].class_name : "?");
		goto out;
	}
	if (io_refs(cJSON_GetObjectItemCaseSensitive(cfg, "output_layers"), io, &n_io) != 0 ||
	    n_io == 0) {
		qp_err_set(err, "malformed output_layers");
		goto out;
	}
	for (k = 0; k < n_io; k++) {
		int j = layer_index(ls, n, io[k].layer);

		out_t[k] = j < 0 ? -1 : lookup(&calls, j, io[k].node, io[k].tensor);
		if (out_t[k] < 0) {
			qp_err_set(err, "output_layers names '%s' node %d tensor %d, which the model "
				   "does not compute", io[k].layer, io[k].node, io[k].tensor);
			goto out;
		}
	}
	*n_out = n_io;
	rc = 0;
out:
	c->functional = saved;
	free_layers(ls, n);
	free(calls.v);
	return rc;
}

/* The input of a Sequential without an InputLayer: Keras 2 puts
 * batch_input_shape on the first layer, Keras 3 build_input_shape on the
 * model config. */
static const cJSON *implicit_input_shape(const cJSON *model_cfg,
					 const keras_layer *first)
{
	const cJSON *s = first ? cJSON_GetObjectItemCaseSensitive(first->config,
								  "batch_input_shape") : NULL;

	if (!cJSON_IsArray(s) && cJSON_IsObject(model_cfg))
		s = cJSON_GetObjectItemCaseSensitive(model_cfg, "build_input_shape");
	return cJSON_IsArray(s) ? s : NULL;
}

/* A Sequential is a chain; at the top its input is the graph's, nested it
 * is in_t[0] (its InputLayer, if any, is then only a shape note). */
static int build_sequential(keras_ctx *c, const keras_layer *self, const cJSON *cfg,
			    const model_scope *sc, const int *in_t, int n_in,
			    int *out_t, int *n_out, qp_err *err)
{
	const cJSON *layers = model_layers(cfg);
	keras_layer *ls = NULL;
	int n = 0, i, rc = -1, saved = c->functional;

	if (!cJSON_IsArray(layers))
		return qp_err_set(err, "model config has no layer list");
	if (collect_layers(layers, sc, &ls, &n, err) != 0)
		return -1;
	c->functional = 0;
	if (n == 0) {
		qp_err_set(err, "model has no layers");
		goto out;
	}
	if (!self && check_all(ls, n, 0, err) != 0)
		goto out;
	if (c->wformat == KERAS_WEIGHTS_V3 &&
	    assign_v3_paths(c->h5, sc->v3_prefix, ls, n, err) != 0)
		goto out;
	if (in_t) {
		if (n_in != 1) {
			qp_err_set(err, "a Sequential takes 1 input, it is called with %d", n_in);
			goto out;
		}
		set_current(c, in_t[0]);
	} else if (strcmp(ls[0].class_name, "InputLayer") != 0) {
		const cJSON *shape = implicit_input_shape(cfg, &ls[0]);

		if (!shape) {
			qp_err_set(err, "model has no InputLayer and no input shape");
			goto out;
		}
		if (keras_add_input(c, "input", shape, err) != 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		const keras_layer_def *def = keras_layer_find(ls[i].class_name);
		int outs[KERAS_MAX_LAYER_INPUTS], no = 0;

		if (in_t && strcmp(ls[i].class_name, "InputLayer") == 0)
			continue;
		if (c->flatten_pending && (!def || !def->takes_flatten) &&
		    keras_flush_flatten(c, err) != 0)
			goto out;
		c->n_ins = c->cur >= 0 ? 1 : 0;
		c->ins[0] = c->cur;
		if (emit_call(c, &ls[i], 0, sc, outs, &no, err) != 0)
			goto out;
		if (no != 1) {
			qp_err_set(err, "a layer of a Sequential has %d outputs (layer '%s', class '%s')",
				   no, ls[i].name, ls[i].class_name);
			goto out;
		}
		set_current(c, outs[0]);
	}
	if (keras_flush_flatten(c, err) != 0)
		goto out;
	if (c->cur < 0) {
		qp_err_set(err, "model has no input");
		goto out;
	}
	out_t[0] = c->cur;
	*n_out = 1;
	rc = 0;
out:
	c->functional = saved;
	free_layers(ls, n);
	return rc;
}

/* A model, the file's (self NULL) or a nested one called on in_t. */
static int build_model(keras_ctx *c, const keras_layer *self, const cJSON *cfg,
		       const model_scope *sc, const int *in_t, int n_in,
		       int *out_t, int *n_out, qp_err *err)
{
	const char *cls = self ? self->class_name : NULL;

	if (!cls || strcmp(cls, "Sequential") == 0)
		return build_sequential(c, self, cfg, sc, in_t, n_in, out_t, n_out, err);
	return build_functional(c, self, cfg, sc, in_t, n_in, out_t, n_out, err);
}

/* Builds the graph from a parsed model config and opened weights. */
static int import_model(keras_ctx *c, const cJSON *root, qp_err *err)
{
	const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "class_name");
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
	model_scope top = {"", c->v3_prefix ? c->v3_prefix : "", NULL};
	int outs[KERAS_MAX_LAYER_INPUTS], n_out = 0, i, rc;

	if (!cJSON_IsString(cls))
		return qp_err_set(err, "model config has no class_name");
	if (!is_model_class(cls->valuestring))
		return qp_err_set(err, "unsupported model class '%s'; only Sequential and Functional",
				  cls->valuestring);
	if (strcmp(cls->valuestring, "Sequential") == 0)
		rc = build_sequential(c, NULL, cfg, &top, NULL, 0, outs, &n_out, err);
	else
		rc = build_functional(c, NULL, cfg, &top, NULL, 0, outs, &n_out, err);
	if (rc != 0)
		return -1;
	for (i = 0; i < n_out; i++)
		if (keras_add_output(c, outs[i], err) != 0)
			return -1;
	return 0;
}

/* The name of a layer entry {"class_name": s, "config": {"name": s}} (or
 * the entry's own "name"), "" when it has none. */
static const char *entry_name(const cJSON *entry)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(entry, "config");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(cfg, "name");

	if (!cJSON_IsString(name))
		name = cJSON_GetObjectItemCaseSensitive(entry, "name");
	return cJSON_IsString(name) ? name->valuestring : "";
}

/* IR text is UTF-8 (docs/ir.md section 1), but cJSON keeps a string's bytes
 * as they are, so a config holding bytes that are not UTF-8 is refused
 * before anything copies or prints them (names are how users refer to
 * tensors; they are not repaired).  A layer's own name and class are named
 * as such; any other string with the layer it is in.  Bad bytes are shown
 * as \xNN so the message is UTF-8.  Depth is bounded by cJSON's parser. */
static int config_utf8(const cJSON *v, const char *what, const cJSON *layer,
		       qp_err *err)
{
	char bad[QP_UTF8_SHOW_MAX], name[QP_UTF8_SHOW_MAX], cls[QP_UTF8_SHOW_MAX];
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "class_name");

	if (cJSON_IsObject(v) && cJSON_IsString(c) &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(v, "config"))) {
		layer = v;
		qp_utf8_show(name, entry_name(layer));
		qp_utf8_show(cls, c->valuestring);
		if (!qp_utf8_valid_str(entry_name(layer)))
			return qp_err_set(err, "layer name is not valid UTF-8 (layer '%s', class '%s')",
					  name, cls);
		if (!qp_utf8_valid_str(c->valuestring))
			return qp_err_set(err, "layer class name is not valid UTF-8 (layer '%s', class '%s')",
					  name, cls);
	}
	for (c = v->child; c; c = c->next) {
		const char *s = !qp_utf8_valid_str(c->string) ? c->string :
				cJSON_IsString(c) && !qp_utf8_valid_str(c->valuestring)
				? c->valuestring : NULL;

		if (s && !layer)
			return qp_err_set(err, "%s: string '%s' is not valid UTF-8", what,
					  qp_utf8_show(bad, s));
		if (s)
			return qp_err_set(err, "config string '%s' is not valid UTF-8 (layer '%s', class '%s')",
					  qp_utf8_show(bad, s), qp_utf8_show(name, entry_name(layer)),
					  cJSON_GetObjectItemCaseSensitive(layer, "class_name")->valuestring);
		if (config_utf8(c, what, layer, err))
			return -1;
	}
	return 0;
}

static int parse_config(const char *text, size_t len, const char *what,
			cJSON **out, qp_err *err)
{
	*out = cJSON_ParseWithLength(text, len);
	if (!*out || !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return qp_err_set(err, "%s is not a JSON object", what);
	}
	if (config_utf8(*out, what, NULL, err)) {
		cJSON_Delete(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int import_keras_zip(keras_ctx *c, const void *buf, size_t len, qp_err *err)
{
	keras_zip_entry e[2] = {{"config.json", NULL, 0}, {"model.weights.h5", NULL, 0}};
	cJSON *root = NULL;
	int rc = -1;

	if (keras_zip_read(buf, len, e, 2, err) != 0)
		return -1;
	if (parse_config(e[0].data, e[0].len, "config.json", &root, err) != 0)
		goto out;
	if (keras_h5_open_mem(e[1].data, e[1].len, &c->h5, err) != 0) {
		qp_err_prefix(err, "model.weights.h5");
		goto out;
	}
	c->wformat = KERAS_WEIGHTS_V3;
	c->v3_prefix = keras_h5_exists(c->h5, "layers") ? "layers/" :
		       "_layer_checkpoint_dependencies\\";
	/* metadata.json says which Keras wrote the file (optional). */
	{
		keras_zip_entry m = {"metadata.json", NULL, 0};

		c->keras_major = 3;
		if (keras_zip_read(buf, len, &m, 1, NULL) == 0) {
			if (strstr(m.data, "\"keras_version\": \"2."))
				c->keras_major = 2;
			free(m.data);
		}
	}
	rc = import_model(c, root, err);
out:
	keras_h5_close(c->h5);   /* before freeing the image it reads */
	c->h5 = -1;
	cJSON_Delete(root);
	free(e[0].data);
	free(e[1].data);
	return rc;
}

static int import_h5(keras_ctx *c, const void *buf, size_t len, qp_err *err)
{
	char *text = NULL;
	cJSON *root = NULL;
	int rc = -1;

	if (keras_h5_open_mem(buf, len, &c->h5, err) != 0)
		return -1;
	if (keras_h5_attr_string(c->h5, "/", "model_config", &text, err) != 0) {
		qp_err_set(err, "no 'model_config' attribute: not a whole Keras model "
			   "(a weights-only file?)");
		goto out;
	}
	if (!keras_h5_exists(c->h5, "model_weights")) {
		qp_err_set(err, "no 'model_weights' group: the model was saved without weights");
		goto out;
	}
	if (parse_config(text, strlen(text), "model_config", &root, err) != 0)
		goto out;
	c->wformat = KERAS_WEIGHTS_LEGACY;
	{
		char *version = NULL;

		c->keras_major = 2;
		if (keras_h5_attr_string(c->h5, "/", "keras_version", &version, NULL) == 0 &&
		    version[0] == '3')
			c->keras_major = 3;
		free(version);
	}
	rc = import_model(c, root, err);
out:
	keras_h5_close(c->h5);
	c->h5 = -1;
	cJSON_Delete(root);
	free(text);
	return rc;
}

int keras_import(const void *buf, size_t len, qp_graph **out, qp_err *err)
{
	keras_ctx c;
	int rc;

	*out = NULL;
	memset(&c, 0, sizeof c);
	c.h5 = -1;
	c.cur = -1;
	c.g = qp_graph_new();
	if (!c.g)
		return qp_err_set(err, "out of memory");
	if (len >= sizeof zip_magic && memcmp(buf, zip_magic, sizeof zip_magic) == 0)
		rc = import_keras_zip(&c, buf, len, err);
	else if (len >= sizeof hdf5_magic && memcmp(buf, hdf5_magic, sizeof hdf5_magic) == 0)
		rc = import_h5(&c, buf, len, err);
	else
		rc = qp_err_set(err, "not a keras model: expected a .keras zip archive or an HDF5 .h5 file");
	if (rc != 0) {
		qp_graph_free(c.g);
		return -1;
	}
	*out = c.g;
	return 0;
}
