/* Data sources: one stream of samples for one model input (lib/data/feed.h
 * batches them for calibrate, irrun and simulate).
 *
 * A source turns a path into canonical samples (the graph input's dims
 * without the batch axis, NCHW for images, float32), one at a time, so a
 * caller never holds more than one sample of the data set in memory:
 *
 *   X.npy        array (N, per-sample dims in the input's user layout);
 *                an input with layout "NHWC" takes (N, H, W, C) and the
 *                source transposes each sample to canonical order
 *   X.npz        zip of .npy members (stored or deflated): the member named
 *                after the graph input ("images.npy" for input 'images'),
 *                or the only member
 *   X.idx[.gz]   IDX (MNIST) images, unsigned bytes (N, H, W), plain or gzip;
 *                treated as gray images (scale, mean, std, resize apply)
 *   DIR/         every image under DIR (recursively, hidden entries
 *                skipped), sorted by path relative to DIR (strcmp order)
 *   LIST.txt     (or .lst) one image path per line, relative to the list's
 *                folder unless absolute; blank lines and '#' lines skipped
 *   IMG.png      a single image
 *
 * The format is recognised from the file's first bytes (.npy magic, zip,
 * gzip or IDX header, image magic), a list file by its extension .txt/.lst.
 * "-" reads a .npy from standard input.
 *
 * Images (PNG, JPEG, BMP, PPM/PGM, decoded by lib/data/image.c) are converted to
 * value = (pixel * scale - mean[c]) / std[c] for output channel c, pixel
 * 0..255.  See docs/calibrate.md, "Data sources", for resizing, channel
 * rules and the shuffle algorithm: those are part of this contract.
 *
 * Error messages start with the offending file's path (list entries:
 * "list.txt:3: img/x.png: ...") and are ready for qp_die_err(NULL, err).
 */
#ifndef QP_DATASRC_H
#define QP_DATASRC_H

#include <stdint.h>

#include "ir.h"

typedef enum qp_resize {
	QP_RESIZE_NONE,       /* an image of another size is an error */
	QP_RESIZE_BILINEAR,   /* stretch to H x W (half-pixel bilinear) */
	QP_RESIZE_CROP        /* scale to cover H x W keeping aspect, centre crop */
} qp_resize;

typedef enum qp_channels {
	QP_CHANNELS_AUTO,     /* the model's C: 3 = RGB, 1 = gray; the image
	                         must have that many colour channels */
	QP_CHANNELS_RGB,      /* C must be 3; gray images are replicated */
	QP_CHANNELS_BGR,      /* C must be 3; channels reversed */
	QP_CHANNELS_GRAY      /* C must be 1; colour images converted to luma */
} qp_channels;

/* All-zero options are the defaults (opts NULL too): size from the model,
 * no resize, channels from the model, scale 1/255, mean 0, std 1, all
 * samples in file order. */
typedef struct qp_datasrc_opts {
	int64_t height, width;  /* --size: 0 = the model's; else must agree */
	qp_resize resize;
	qp_channels channels;
	float scale;            /* 0 = 1/255 */
	float mean[3];          /* per output channel (after BGR reordering) */
	float std[3];           /* 0 = 1 */
	int64_t limit;          /* > 0: at most this many samples */
	int shuffle;            /* 1: visit samples in a seeded random order */
	uint64_t seed;
	int allow_nonfinite;    /* 1: pass NaN/inf in arrays through (irrun,
	                           simulate); 0: an error naming the sample */
} qp_datasrc_opts;

typedef struct qp_datasrc qp_datasrc;

/* A model input as a source sees it, so that inputs that are no graph
 * tensor (a device binary's) can be fed too.  Borrowed: name, layout and
 * dims must outlive the source. */
typedef struct qp_datasrc_input {
	const char *name;       /* for messages and the .npz member name */
	const char *layout;     /* the user layout: NULL, "NCHW" or "NHWC" */
	int rank;               /* with the batch axis (>= 1) */
	const int64_t *dims;    /* canonical dims, dims[0] the batch */
} qp_datasrc_input;

/* qp_datasrc_open for an input described by in. */
qp_datasrc *qp_datasrc_open_input(const qp_datasrc_input *in, const char *spec,
				  const qp_datasrc_opts *opts, qp_err *err);

/* Opens spec for graph input input_index.  Checks everything it can
 * without decoding images: format, shapes against the input, options
 * against the input (size, channels), that list entries exist.
 * Returns NULL and fills err on failure. */
qp_datasrc *qp_datasrc_open(const qp_graph *g, int input_index,
			    const char *spec, const qp_datasrc_opts *opts,
			    qp_err *err);
/* Samples this source will produce (after limit). */
int64_t qp_datasrc_count(const qp_datasrc *src);
/* Floats per sample: numel of the input's dims without dim 0. */
int64_t qp_datasrc_sample_numel(const qp_datasrc *src);
/* "npy", "npz", "idx", "images". */
const char *qp_datasrc_kind(const qp_datasrc *src);
/* Writes the next sample (sample_numel floats, canonical layout) into
 * sample.  Returns 1, 0 at the end, -1 on error (a corrupt or wrong-size
 * image, a truncated file). */
int qp_datasrc_next(qp_datasrc *src, float *sample, qp_err *err);
void qp_datasrc_free(qp_datasrc *src);

/* Integer class labels, one per sample: a .npy of shape (want,) and an
 * integer dtype, or an IDX label file (rank 1) of want labels, want being
 * the samples in the data file (before limit).  The options' shuffle, seed and
 * limit apply as to data, so labels visit the samples data sources with the
 * same options visit; the rest is ignored.  Read with
 * qp_datasrc_next_label; qp_datasrc_count tells how many there are. */
qp_datasrc *qp_datasrc_open_labels(const char *spec, int64_t want,
				   const qp_datasrc_opts *opts, qp_err *err);
/* Samples in the file, before limit. */
int64_t qp_datasrc_total(const qp_datasrc *src);
/* As qp_datasrc_next, for a label source. */
int qp_datasrc_next_label(qp_datasrc *src, int64_t *label, qp_err *err);

/* Helpers for the command line; each returns 0 or -1 with a message that
 * names the bad value (callers turn it into a usage error). */
/* "224" (square) or "WIDTHxHEIGHT" ("320x240"), the order image tools and
 * the error messages use. */
int qp_datasrc_parse_size(const char *s, int64_t *height, int64_t *width,
			  qp_err *err);
/* "none", "bilinear", "crop". */
int qp_datasrc_parse_resize(const char *s, qp_resize *r, qp_err *err);
/* "rgb", "bgr", "gray". */
int qp_datasrc_parse_channels(const char *s, qp_channels *c, qp_err *err);
/* "0.5" (all channels) or "0.485,0.456,0.406"; std values must be > 0
 * (positive != 0 asks for that). */
int qp_datasrc_parse_floats3(const char *s, float v[3], int positive,
			     qp_err *err);

#endif
