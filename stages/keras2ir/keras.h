/* keras2ir internals: the Keras model reader and the layer table.
 *
 *   archive.c  entries of a .keras zip, read into memory with libzip
 *   h5.c       HDF5 files opened from memory (core driver), attributes, weights
 *   import.c   model formats (.keras, Keras 2/3 .h5), config walk, weight lookup
 *   layers.c   the layer table: one row per Keras class -> IR nodes
 *
 * Nothing here prints or exits; every function returns 0 or -1 and fills a
 * qp_err, like lib/.
 */
#ifndef KERAS2IR_KERAS_H
#define KERAS2IR_KERAS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hdf5.h>
#include <signal.h>

#include "err.h"
#include "ir.h"

/* ---- archive.c ------------------------------------------------------------ */

typedef struct keras_zip_entry {
	const char *name;   /* in: the member's name in the archive */
	void *data;         /* out: malloc'd contents, NUL terminated past len */
	size_t len;         /* out */
} keras_zip_entry;

/* Reads the named members of the zip archive in buf into memory.  A missing
 * member is an error naming it.  On failure every data pointer is NULL. */
int keras_zip_read(const void *buf, size_t len, keras_zip_entry *entries,
		   int n, qp_err *err);

/* ---- h5.c ----------------------------------------------------------------- */

/* A float array read from an HDF5 dataset (any float type, converted). */
typedef struct keras_array {
	int rank;
	int64_t dims[QP_MAX_RANK];
	int64_t numel;
	float *data;        /* malloc'd */
} keras_array;

void keras_array_free(keras_array *a);

/* Opens the HDF5 file image in buf without copying it: buf must outlive the
 * returned file.  Silences the HDF5 library's own error printing. */
/* Nonzero while one of the keras_h5_* functions runs HDF5 code: keras2ir
 * turns a crash of the library there into an error (main.c). */
extern volatile sig_atomic_t keras_h5_depth;

int keras_h5_open_mem(const void *buf, size_t len, hid_t *file, qp_err *err);
void keras_h5_close(hid_t file);
/* True when the path (absolute or relative to the root) names an object. */
int keras_h5_exists(hid_t file, const char *path);
/* A scalar string attribute (fixed-length or variable-length) of the object
 * at obj_path, as a malloc'd string.  Absent: -1 with a message. */
int keras_h5_attr_string(hid_t file, const char *obj_path, const char *name,
			 char **out, qp_err *err);
/* A 1-D string array attribute; an absent or empty (or non-string, as h5py
 * writes for an empty list) attribute gives *n = 0.  Free with
 * keras_strings_free. */
int keras_h5_attr_strings(hid_t file, const char *obj_path, const char *name,
			  char ***out, int *n, qp_err *err);
void keras_strings_free(char **s, int n);
/* Reads a float dataset. */
int keras_h5_read_floats(hid_t file, const char *path, keras_array *a,
			 qp_err *err);

/* ---- import.c ------------------------------------------------------------- */

/* Where a model's weights live. */
typedef enum keras_weights_format {
	KERAS_WEIGHTS_V3,       /* .keras: layers/<name>/vars/<k> */
	KERAS_WEIGHTS_LEGACY    /* .h5: model_weights/<layer>/<weight_names[k]> */
} keras_weights_format;

/* One layer of the model's config, as the layer table sees it. */
typedef struct keras_layer {
	/* For messages and IR names: config.name, as "<model>/<name>" inside
	 * a nested model and "<name>/call<k>" for the k-th call (k >= 1) of a
	 * layer called more than once. */
	const char *name;
	const char *class_name;
	const cJSON *config;       /* the layer's "config" object */
	const cJSON *entry;        /* its entry in the layer list */
	char *v3_path;             /* KERAS_WEIGHTS_V3: "layers/conv2d_1" */
	/* KERAS_WEIGHTS_LEGACY: the group holding the weights,
	 * "model_weights/<layer>"; for a layer of a nested model the group of
	 * the outermost enclosing model's layer, whose weight_names list every
	 * inner layer's weights, told apart by the component "<key>/". */
	char *h5_group;
	const char *key;           /* config.name */
	int h5_shared_group;       /* the group is an enclosing model's */
	char *owned_name;          /* malloc'd name, when it is not config.name */
} keras_layer;

#define KERAS_MAX_LAYER_INPUTS 32

/* Import state shared by the layer handlers: the graph being built and the
 * tensor that flows from layer to layer (Sequential models are a chain). */
typedef struct keras_ctx {
	qp_graph *g;
	hid_t h5;
	keras_weights_format wformat;
	int cur;                   /* tensor index of the current activation */
	int rank;                  /* its IR (NCHW) shape */
	int64_t dims[QP_MAX_RANK];
	/* A Flatten of an NHWC tensor whose element order is still to be
	 * folded into the next Dense kernel (see layers.c, Flatten). */
	int flatten_pending;
	int flat_rank;             /* 3 (N,C,L: H = 1) or 4 */
	int64_t flat_c, flat_h, flat_w;
	const char *flat_name;     /* the Flatten layer's name (borrowed) */
	/* Functional models: every input tensor of the layer being emitted
	 * (ins[0] is also cur); their shapes are the graph's tensors'. */
	int n_ins;
	int ins[KERAS_MAX_LAYER_INPUTS];
	int functional;            /* a graph, not a chain: Flatten at once */
	int keras_major;           /* 2 or 3: some defaults differ */
	const char *v3_prefix;     /* "layers/" or Keras 2.13's
	                              "_layer_checkpoint_dependencies\\" */
	/* While a shared layer's later call is emitted: its name
	 * ("<layer>/call<k>") and the layer's own, whose constants it reuses. */
	const char *call_name, *base_name;
} keras_ctx;

/* Reads the k-th weight of a layer (k counts kernel, bias, ... as Keras
 * stores them) and checks it has the expected rank and dims (a dim of -1
 * matches anything). */
int keras_layer_weight(keras_ctx *c, const keras_layer *l, int k, int rank,
		       const int64_t *dims, keras_array *a, qp_err *err);

/* Imports a whole Keras model file held in buf (a .keras zip or an HDF5
 * .h5 file; told apart by their magic bytes) into a new graph. */
int keras_import(const void *buf, size_t len, qp_graph **out, qp_err *err);

/* ---- layers.c ------------------------------------------------------------- */

typedef struct keras_layer_def {
	const char *class_name;
	/* Checks the config without touching weights; appends one line to err
	 * per unsupported attribute value and returns how many it appended. */
	int (*check)(const keras_layer *l, qp_err *err);
	/* Emits the layer's IR nodes after the current tensor. */
	int (*emit)(keras_ctx *c, const keras_layer *l, qp_err *err);
	/* 1 when emit handles a pending Flatten itself (Dense folds it into
	 * its kernel, Dropout passes it on); otherwise the importer first
	 * materialises it with keras_flush_flatten. */
	int takes_flatten;
} keras_layer_def;

/* The row for a Keras class name, or NULL. */
const keras_layer_def *keras_layer_find(const char *class_name);

/* InputLayer: adds the graph input (batch 1, NCHW, layout "NHWC" for images).
 * batch_shape is the Keras shape with its batch entry. */
int keras_add_input(keras_ctx *c, const char *name, const cJSON *batch_shape,
		    qp_err *err);
/* Emits a pending Flatten as Transpose to channels-last + Flatten. */
int keras_flush_flatten(keras_ctx *c, qp_err *err);
/* Marks tensor t a graph output (layout "NHWC" for rank 3 and 4). */
int keras_add_output(keras_ctx *c, int t, qp_err *err);

#endif
