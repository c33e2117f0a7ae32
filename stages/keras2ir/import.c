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
		char group[1200], **names = NULL;
		int n = 0;

		snprintf(group, sizeof group, "model_weights/%s", l->name);
		if (!keras_h5_exists(c->h5, group))
			return qp_err_set(err, "no weight group '%s'", group);
		if (keras_h5_attr_strings(c->h5, group, "weight_names", &names, &n, err) != 0)
			return -1;
		if (k >= n) {
			keras_strings_free(names, n);
			return qp_err_set(err, "weight group '%s' has %d weights, expected at least %d",
					  group, n, k + 1);
		}
		snprintf(path, sizeof path, "%s/%s", group, names[k]);
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

/* Layer entries of the config, validated enough for the table to rely on:
 * class_name a string, config an object, a name. */
static int collect_layers(const cJSON *layers, keras_layer **out, int *n_out,
			  qp_err *err)
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
			free(ls);
			return qp_err_set(err, "model config: layer %d has no class_name, config or name", i);
		}
		ls[i].class_name = cls->valuestring;
		ls[i].config = cfg;
		ls[i].name = name->valuestring;
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
 * after the layer (which some writers use). */
static int assign_v3_paths(hid_t h5, const char *prefix, keras_layer *ls,
			   int n, qp_err *err)
{
	int i, j;
	int *suffix = calloc(n > 0 ? (size_t)n : 1, sizeof *suffix);

	if (!suffix)
		return qp_err_set(err, "out of memory");
	for (i = 0; i < n; i++) {
		char *snake, key[1100], path[1200];
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
			if (keras_h5_exists(h5, path)) {
				suffix[i] = s;
				break;
			}
		}
		free(snake);
		if (suffix[i] < 0)
			snprintf(key, sizeof key, "%s%s", prefix, ls[i].name);
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

/* Pass 1: every unsupported class or attribute value, one line each,
 * before anything is built (the house rule: collect, then fail). */
static int check_layers(const keras_layer *ls, int n, int functional, qp_err *err)
{
	qp_err lines;
	int i, problems = 0;

	lines.msg[0] = 0;
	for (i = 0; i < n; i++) {
		const keras_layer_def *def = keras_layer_find(ls[i].class_name);

		if (!def) {
			qp_err_append(&lines, "unsupported layer '%s' (class '%s')",
				      ls[i].name, ls[i].class_name);
			problems++;
		} else {
			problems += def->check(&ls[i], &lines);
			if (!functional && i > 0 && strcmp(ls[i].class_name, "InputLayer") == 0) {
				qp_err_append(&lines, "InputLayer is not the first layer (layer '%s', class 'InputLayer')",
					      ls[i].name);
				problems++;
			}
		}
	}
	if (problems && err)
		memcpy(err->msg, lines.msg, sizeof lines.msg);
	return problems ? -1 : 0;
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

static int layer_index(const keras_layer *ls, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ls[i].name, name) == 0)
			return i;
	return -1;
}

/* Builds a Functional model: each layer's inbound nodes name the layers
 * whose outputs it consumes; layers are emitted once all of those exist
 * (config order is topological in practice; we do not rely on it). */
static int import_functional(keras_ctx *c, const cJSON *model_cfg, qp_err *err)
{
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(model_cfg, "layers");
	const cJSON *outs = cJSON_GetObjectItemCaseSensitive(model_cfg, "output_layers"), *it;
	keras_layer *ls = NULL;
	int *out_t = NULL;   /* IR tensor of layer i's output, -1 before */
	int n = 0, i, rc = -1, left, progress;

	if (!cJSON_IsArray(layers))
		return qp_err_set(err, "model config has no layer list");
	if (collect_layers(layers, &ls, &n, err) != 0)
		return -1;
	c->functional = 1;
	if (n == 0) {
		qp_err_set(err, "model has no layers");
		goto out;
	}
	if (check_layers(ls, n, 1, err) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		const cJSON *inb = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(layers, i), "inbound_nodes");

		if (cJSON_GetArraySize(inb) > 1) {
			qp_err_set(err, "layer is called %d times; shared layers are not supported yet "
				   "(layer '%s', class '%s')", cJSON_GetArraySize(inb),
				   ls[i].name, ls[i].class_name);
			goto out;
		}
	}
	if (c->wformat == KERAS_WEIGHTS_V3 &&
	    assign_v3_paths(c->h5, c->v3_prefix, ls, n, err) != 0)
		goto out;
	out_t = malloc((size_t)n * sizeof *out_t);
	if (!out_t) {
		qp_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		out_t[i] = -1;
	left = n;
	do {
		progress = 0;
		for (i = 0; i < n; i++) {
			const cJSON *inb = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(layers, i), "inbound_nodes");
			tensor_ref refs[KERAS_MAX_LAYER_INPUTS];
			int nr = 0, k, ready = 1;

			if (out_t[i] >= 0)
				continue;
			if (cJSON_GetArraySize(inb) == 1 &&
			    node_refs(cJSON_GetArrayItem(inb, 0), refs, &nr) != 0) {
				qp_err_set(err, "malformed inbound_nodes (layer '%s', class '%s')",
					   ls[i].name, ls[i].class_name);
				goto out;
			}
			if (nr == 0 && strcmp(ls[i].class_name, "InputLayer") != 0) {
				qp_err_set(err, "layer has no inputs (layer '%s', class '%s')",
					   ls[i].name, ls[i].class_name);
				goto out;
			}
			for (k = 0; k < nr && ready; k++) {
				int j = layer_index(ls, n, refs[k].layer);

				if (j < 0 || refs[k].node != 0 || refs[k].tensor != 0) {
					qp_err_set(err, "input '%s' node %d tensor %d is not a layer output "
						   "(layer '%s', class '%s')", refs[k].layer, refs[k].node,
						   refs[k].tensor, ls[i].name, ls[i].class_name);
					goto out;
				}
				ready = out_t[j] >= 0;
				c->ins[k] = out_t[j];
			}
			if (!ready)
				continue;
			c->n_ins = nr;
			if (nr > 0) {
				const qp_tensor *t = &c->g->tensors[c->ins[0]];

				c->cur = c->ins[0];
				c->rank = t->rank;
				memcpy(c->dims, t->dims, sizeof c->dims);
			}
			if (keras_layer_find(ls[i].class_name)->emit(c, &ls[i], err) != 0) {
				locate(err, &ls[i]);
				goto out;
			}
			out_t[i] = c->cur;
			left--;
			progress = 1;
		}
	} while (left > 0 && progress);
	if (left > 0) {
		qp_err_set(err, "the layer graph has a cycle or a missing input");
		goto out;
	}
	/* Outputs: [[name, node, tensor], ...], or one bare [name, node, tensor]. */
	if (cJSON_IsArray(outs) && cJSON_IsString(cJSON_GetArrayItem(outs, 0))) {
		tensor_ref r;

		int j;

		if (history_ref(outs, &r) != 0 || (j = layer_index(ls, n, r.layer)) < 0) {
			qp_err_set(err, "malformed output_layers");
			goto out;
		}
		if (keras_add_output(c, out_t[j], err) != 0)
			goto out;
	} else {
		cJSON_ArrayForEach(it, outs) {
			tensor_ref r;
			int j;

			if (history_ref(it, &r) != 0 || (j = layer_index(ls, n, r.layer)) < 0) {
				qp_err_set(err, "malformed output_layers");
				goto out;
			}
			if (keras_add_output(c, out_t[j], err) != 0)
				goto out;
		}
	}
	if (c->g->n_outputs == 0) {
		qp_err_set(err, "model has no outputs");
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(ls[i].v3_path);
	free(ls);
	free(out_t);
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

	if (!cJSON_IsArray(s))
		s = cJSON_GetObjectItemCaseSensitive(model_cfg, "build_input_shape");
	return cJSON_IsArray(s) ? s : NULL;
}

static int import_sequential(keras_ctx *c, const cJSON *model_cfg,
			     const cJSON *layers, qp_err *err)
{
	keras_layer *ls = NULL;
	int n = 0, i, rc = -1;

	if (collect_layers(layers, &ls, &n, err) != 0)
		return -1;
	if (n == 0) {
		free(ls);
		return qp_err_set(err, "model has no layers");
	}
	if (check_layers(ls, n, 0, err) != 0)
		goto out;
	if (c->wformat == KERAS_WEIGHTS_V3 &&
	    assign_v3_paths(c->h5, c->v3_prefix, ls, n, err) != 0)
		goto out;

	/* Pass 2: build. */
	if (strcmp(ls[0].class_name, "InputLayer") != 0) {
		const cJSON *shape = implicit_input_shape(model_cfg, &ls[0]);

		if (!shape) {
			qp_err_set(err, "model has no InputLayer and no input shape");
			goto out;
		}
		if (keras_add_input(c, "input", shape, err) != 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		const keras_layer_def *def = keras_layer_find(ls[i].class_name);

		if (c->flatten_pending && !def->takes_flatten &&
		    keras_flush_flatten(c, err) != 0)
			goto out;
		if (def->emit(c, &ls[i], err) != 0) {
			locate(err, &ls[i]);
			goto out;
		}
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(ls[i].v3_path);
	free(ls);
	return rc;
}

/* Builds the graph from a parsed model config and opened weights. */
static int import_model(keras_ctx *c, const cJSON *root, qp_err *err)
{
	const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "class_name");
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
	const cJSON *layers;

	if (!cJSON_IsString(cls))
		return qp_err_set(err, "model config has no class_name");
	if (strcmp(cls->valuestring, "Functional") == 0 ||
	    strcmp(cls->valuestring, "Model") == 0)
		return import_functional(c, cfg, err);
	if (strcmp(cls->valuestring, "Sequential") != 0)
		return qp_err_set(err, "unsupported model class '%s'; only Sequential and Functional",
				  cls->valuestring);
	/* Keras before 2.2 wrote a Sequential's config as the bare layer list. */
	layers = cJSON_IsArray(cfg) ? cfg : cJSON_GetObjectItemCaseSensitive(cfg, "layers");
	if (!cJSON_IsArray(layers))
		return qp_err_set(err, "model config has no layer list");
	if (import_sequential(c, cJSON_IsObject(cfg) ? cfg : NULL, layers, err) != 0)
		return -1;
	return keras_finish_graph(c, err);
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
