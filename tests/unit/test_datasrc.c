/* Calibration data sources.  Fixtures and expected samples come from
 * tests/fixtures/gen/make_datasrc_fixtures.py (numpy, PIL, torch): images
 * written by PIL, expected values computed from the pixel arrays, resize
 * references from torch's bilinear interpolate, the shuffle order from the
 * documented splitmix64 + Fisher-Yates in Python. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "datasrc.h"
#include "feed.h"
#include "npy.h"

#define FIX "tests/fixtures/datasrc/"

#define CHECK_HAS(msg, part)                                                \
	do {                                                                \
		if (!strstr((msg), (part))) {                               \
			printf("# %s:%d: \"%s\" lacks \"%s\"\n", __FILE__,  \
			       __LINE__, (msg), (part));                    \
			check_failures++;                                   \
		}                                                           \
	} while (0)

/* A graph with one input (1, d1, d2, d3...) and the given layout. */
static qp_graph *model(const char *name, int rank, const int64_t *dims, const char *layout)
{
	qp_graph *g = qp_graph_new();
	int t = qp_graph_add_tensor(g, name, QP_DT_FLOAT32, rank, dims, NULL);

	g->n_inputs = 1;
	g->inputs = calloc(1, sizeof *g->inputs);
	g->inputs[0].tensor = t;
	g->inputs[0].layout = layout ? strdup(layout) : NULL;
	return g;
}

static qp_graph *rgb_model(void)
{
	static const int64_t d[4] = {1, 3, 3, 4};

	return model("x", 4, d, "NCHW");
}

static qp_graph *gray_model(void)
{
	static const int64_t d[4] = {1, 1, 3, 4};

	return model("x", 4, d, NULL);
}

/* The whole expected array (a small fixture); *n = element count. */
static float *load(const char *name, int64_t *n)
{
	qp_npy r;
	qp_err err = {{0}};
	float *v;
	char path[256];

	snprintf(path, sizeof path, FIX "%s", name);
	if (qp_npy_open(&r, path, &err)) {
		printf("# cannot load %s: %s\n", path, err.msg);
		return NULL;
	}
	*n = r.rows * r.row_elems;
	v = malloc((size_t)*n * sizeof *v);
	if (qp_npy_read_rows_f32(&r, r.rows, v, &err)) {
		free(v);
		v = NULL;
	}
	qp_npy_close(&r);
	return v;
}

/* Reads every sample of src and compares with the expected file. */
static void expect_all(qp_datasrc *src, const char *expect, float tol)
{
	int64_t n = 0, k = qp_datasrc_sample_numel(src), got = 0;
	float *want = load(expect, &n), *s = malloc((size_t)k * sizeof *s);
	qp_err err = {{0}};
	int rc;
	double worst = 0;

	CHECK(want != NULL);
	if (!want) {
		free(s);
		return;
	}
	CHECK(qp_datasrc_count(src) * k == n);
	while ((rc = qp_datasrc_next(src, s, &err)) == 1) {
		for (int64_t i = 0; i < k && (got + 1) * k <= n; i++) {
			double d = fabs((double)s[i] - want[got * k + i]);

			if (d > worst)
				worst = d;
		}
		got++;
	}
	if (rc < 0)
		printf("# %s\n", err.msg);
	CHECK(rc == 0);
	CHECK(got * k == n);
	if (worst > tol)
		printf("# %s: max error %g\n", expect, worst);
	CHECK(worst <= tol);
	free(want);
	free(s);
}

static qp_datasrc *open_ok(const qp_graph *g, const char *spec, const qp_datasrc_opts *o)
{
	qp_err err = {{0}};
	qp_datasrc *src = qp_datasrc_open(g, 0, spec, o, &err);

	if (!src)
		printf("# open %s: %s\n", spec, err.msg);
	CHECK(src != NULL);
	return src;
}

/* Opens spec expecting failure; returns the message. */
static const char *open_fails(const qp_graph *g, const char *spec, const qp_datasrc_opts *o)
{
	static qp_err err;
	qp_datasrc *src;

	memset(&err, 0, sizeof err);
	src = qp_datasrc_open(g, 0, spec, o, &err);
	CHECK(src == NULL);
	qp_datasrc_free(src);
	return err.msg;
}

/* Opens fine, then fails on a sample: returns the message. */
static const char *read_fails(const qp_graph *g, const char *spec, const qp_datasrc_opts *o)
{
	static qp_err err;
	qp_datasrc *src;
	float s[64];
	int rc = 1;

	memset(&err, 0, sizeof err);
	src = open_ok(g, spec, o);
	if (!src)
		return "";
	while (rc == 1)
		rc = qp_datasrc_next(src, s, &err);
	CHECK(rc == -1);
	qp_datasrc_free(src);
	return err.msg;
}

static void test_npy(void)
{
	qp_graph *g = rgb_model();
	qp_datasrc *src = open_ok(g, FIX "data5.npy", NULL);

	if (src) {
		CHECK_STR(qp_datasrc_kind(src), "npy");
		CHECK(qp_datasrc_count(src) == 5 && qp_datasrc_sample_numel(src) == 36);
		expect_all(src, "data5.npy", 0);
	}
	qp_datasrc_free(src);
	src = open_ok(g, FIX "data5_f64.npy", NULL);
	if (src)
		expect_all(src, "data5.npy", 0);
	qp_datasrc_free(src);
	qp_graph_free(g);
}

static void test_npy_nhwc(void)
{
	static const int64_t d[4] = {1, 3, 3, 4};
	qp_graph *g = model("x", 4, d, "NHWC");
	qp_datasrc *src = open_ok(g, FIX "data5_nhwc.npy", NULL);

	/* (N,H,W,C) data becomes canonical (C,H,W) samples. */
	if (src)
		expect_all(src, "data5.npy", 0);
	qp_datasrc_free(src);
	CHECK_STR(open_fails(g, FIX "data5.npy", NULL),
		  FIX "data5.npy: array shape (5,3,3,4) does not match model input 'x' (N,3,4,3) in layout NHWC");
	qp_graph_free(g);
}

static void test_npy_wrong_shape(void)
{
	qp_graph *g = rgb_model();

	CHECK_STR(open_fails(g, FIX "wrong_shape.npy", NULL),
		  FIX "wrong_shape.npy: array shape (5,3,4,3) does not match model input 'x' (N,3,3,4) in layout NCHW");
	CHECK_HAS(open_fails(g, FIX "nonexistent.npy", NULL), FIX "nonexistent.npy: cannot open: No such file");
	qp_graph_free(g);
}

static void test_npz(void)
{
	qp_graph *g = rgb_model();
	qp_datasrc *src;

	/* Member named after the input ('x'), not 'y'. */
	src = open_ok(g, FIX "xy.npz", NULL);
	if (src) {
		CHECK_STR(qp_datasrc_kind(src), "npz");
		expect_all(src, "data5.npy", 0);
	}
	qp_datasrc_free(src);
	/* The only member, deflated (np.savez_compressed). */
	src = open_ok(g, FIX "one_deflated.npz", NULL);
	if (src)
		expect_all(src, "data5.npy", 0);
	qp_datasrc_free(src);
	/* Deflated x.npy beside a non-.npy member. */
	src = open_ok(g, FIX "deflated_x.npz", NULL);
	if (src)
		expect_all(src, "data5.npy", 0);
	qp_datasrc_free(src);
	CHECK_STR(open_fails(g, FIX "ambiguous.npz", NULL),
		  FIX "ambiguous.npz: no member 'x.npy' for model input 'x' among 2 .npy members (a.npy, b.npy)");
	qp_graph_free(g);
}

static void test_idx(void)
{
	static const int64_t flat[2] = {1, 12};
	qp_graph *g = gray_model(), *f = model("x", 2, flat, NULL), *rgb = rgb_model();
	qp_datasrc_opts o = {0};
	qp_datasrc *src;

	src = open_ok(g, FIX "img5.idx", NULL);
	if (src) {
		CHECK_STR(qp_datasrc_kind(src), "idx");
		expect_all(src, "img5.expect.npy", 1e-7f);
	}
	qp_datasrc_free(src);
	src = open_ok(g, FIX "img5.idx.gz", NULL);
	if (src)
		expect_all(src, "img5.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	/* A flat (N,12) input takes the pixels in order. */
	src = open_ok(f, FIX "img5.idx.gz", NULL);
	if (src)
		expect_all(src, "img5.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	CHECK_STR(open_fails(g, FIX "img5_truncated.idx", NULL),
		  FIX "img5_truncated.idx: truncated: 55 data bytes where dimensions 5x3x4 need 60");
	CHECK_HAS(open_fails(rgb, FIX "img5.idx", NULL), "gray images, model input 'x' takes 3 channels");
	o.channels = QP_CHANNELS_RGB;
	src = open_ok(rgb, FIX "img5.idx", &o);
	qp_datasrc_free(src);
	qp_graph_free(g);
	qp_graph_free(f);
	qp_graph_free(rgb);
}

static void test_images(void)
{
	qp_graph *g = rgb_model();
	qp_datasrc *src;

	src = open_ok(g, FIX "rgb_4x3.png", NULL);
	if (src) {
		CHECK_STR(qp_datasrc_kind(src), "images");
		expect_all(src, "rgb_4x3.expect.npy", 1e-7f);
	}
	qp_datasrc_free(src);
	/* a.png b.ppm c.bmp sub/d.png; .hidden.png and notes.txt skipped. */
	src = open_ok(g, FIX "img", NULL);
	if (src) {
		CHECK(qp_datasrc_count(src) == 4);
		expect_all(src, "img.expect.npy", 1e-7f);
	}
	qp_datasrc_free(src);
	src = open_ok(g, FIX "list.txt", NULL);
	if (src)
		expect_all(src, "list.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	/* JPEG: the same libjpeg-turbo and settings as PIL's decode, so exact. */
	src = open_ok(g, FIX "smooth_4x3.jpg", NULL);
	if (src)
		expect_all(src, "smooth_4x3.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	qp_graph_free(g);
}

static void test_normalise(void)
{
	qp_graph *g = rgb_model(), *gray = gray_model();
	qp_datasrc_opts o = {0};
	qp_datasrc *src;

	o.channels = QP_CHANNELS_BGR;
	o.mean[0] = 0.1f, o.mean[1] = 0.2f, o.mean[2] = 0.3f;
	o.std[0] = 0.5f, o.std[1] = 1.0f, o.std[2] = 2.0f;
	src = open_ok(g, FIX "rgb_4x3.png", &o);
	if (src)
		expect_all(src, "rgb_4x3.bgr_norm.expect.npy", 1e-6f);
	qp_datasrc_free(src);
	/* Colour to gray with the documented luma, only when asked. */
	memset(&o, 0, sizeof o);
	CHECK_STR(read_fails(gray, FIX "rgb_4x3.png", &o),
		  FIX "rgb_4x3.png: colour image, model input 'x' takes 1 channel; use --channels gray to convert");
	o.channels = QP_CHANNELS_GRAY;
	src = open_ok(gray, FIX "rgb_4x3.png", &o);
	if (src)
		expect_all(src, "rgb_4x3.gray.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	/* Gray to RGB by replication, only when asked. */
	memset(&o, 0, sizeof o);
	src = open_ok(gray, FIX "gray_4x3.pgm", &o);
	if (src)
		expect_all(src, "gray_4x3.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	CHECK_STR(read_fails(g, FIX "gray_4x3.pgm", &o),
		  FIX "gray_4x3.pgm: gray image, model input 'x' takes 3 channels; use --channels rgb to replicate gray");
	o.channels = QP_CHANNELS_RGB;
	src = open_ok(g, FIX "gray_4x3.pgm", &o);
	if (src)
		expect_all(src, "gray_4x3.rgb.expect.npy", 1e-7f);
	qp_datasrc_free(src);
	CHECK_STR(open_fails(gray, FIX "gray_4x3.pgm", &o),
		  "channels rgb needs a model input with 3 channels; 'x' has 1");
	qp_graph_free(g);
	qp_graph_free(gray);
}

static void test_resize(void)
{
	qp_graph *g = rgb_model();
	qp_datasrc_opts o = {0};
	qp_datasrc *src;

	/* big/: ok_4x3.png reads, then wide_10x4.png is the wrong size. */
	CHECK_STR(read_fails(g, FIX "big", NULL),
		  FIX "big/wide_10x4.png: image is 10x4, the model takes 4x3; use --resize");
	o.resize = QP_RESIZE_BILINEAR;
	src = open_ok(g, FIX "big/wide_10x4.png", &o);
	if (src)
		expect_all(src, "wide.bilinear.expect.npy", 1e-6f);
	qp_datasrc_free(src);
	o.resize = QP_RESIZE_CROP;
	src = open_ok(g, FIX "big/wide_10x4.png", &o);
	if (src)
		expect_all(src, "wide.crop.expect.npy", 1e-6f);
	qp_datasrc_free(src);
	src = open_ok(g, FIX "tall_4x9.png", &o);
	if (src)
		expect_all(src, "tall.crop.expect.npy", 1e-6f);
	qp_datasrc_free(src);
	/* --size must agree with the model's input. */
	o.height = 3, o.width = 4;
	src = open_ok(g, FIX "tall_4x9.png", &o);
	qp_datasrc_free(src);
	o.height = 4;
	CHECK_STR(open_fails(g, FIX "tall_4x9.png", &o),
		  "size 4x4 disagrees with model input 'x', which takes 4x3 images");
	qp_graph_free(g);
}

static void test_bad_images(void)
{
	qp_graph *g = rgb_model();
	char empty[] = "/tmp/qpipe-datasrc-XXXXXX", msg[256];

	CHECK_HAS(read_fails(g, FIX "corrupt.png", NULL),
		  FIX "corrupt.png: not a valid image: PNG: [04][05][06][07]: invalid chunk type");
	CHECK_STR(open_fails(g, FIX "noimg", NULL),
		  FIX "noimg: no images (.png .jpg .jpeg .bmp .ppm .pgm)");
	if (mkdtemp(empty)) {
		snprintf(msg, sizeof msg, "%s: no images (.png .jpg .jpeg .bmp .ppm .pgm)", empty);
		CHECK_STR(open_fails(g, empty, NULL), msg);
		rmdir(empty);
	}
	CHECK_STR(open_fails(g, FIX "list_missing.txt", NULL),
		  FIX "list_missing.txt:2: " FIX "img/missing.png: cannot open: No such file or directory");
	/* A list whose line is not a file. */
	CHECK_STR(open_fails(g, FIX "img/notes.txt", NULL),
		  FIX "img/notes.txt:1: " FIX "img/not an image: cannot open: No such file or directory");
	snprintf(msg, sizeof msg, "%s.txt", empty);
	if (fclose(fopen(msg, "w")) == 0) {
		char want[300];

		snprintf(want, sizeof want, "%s: no image paths in the list", msg);
		CHECK_STR(open_fails(g, msg, NULL), want);
		unlink(msg);
	}
	CHECK_HAS(open_fails(g, FIX "../idx/make.sh", NULL), "make.sh: unknown data format");
	qp_graph_free(g);
}

static void test_not_an_image_input(void)
{
	static const int64_t d[2] = {1, 10};
	qp_graph *g = model("v", 2, d, NULL);

	CHECK_STR(open_fails(g, FIX "img", NULL),
		  FIX "img: model input 'v' (10,) is not an image (want (N,C,H,W) with C 1 or 3, or (N,H,W))");
	qp_graph_free(g);
}

/* Equal within a few float32 ulps: pixel * (1/255) vs numpy's pixel / 255. */
static int near(const float *a, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (fabsf(a[i] - b[i]) > 1e-7f)
			return 0;
	return 1;
}

/* Sample k of a shuffled source is data[order[k]]. */
static void check_shuffled(const qp_graph *g, const char *spec, const char *data_name,
			   uint64_t seed, const char *order_name, int64_t limit)
{
	qp_datasrc_opts o = {0};
	qp_datasrc *src;
	int64_t n = 0, m = 0, k;
	float *data = load(data_name, &n), *order = load(order_name, &m), s[64];
	qp_err err = {{0}};
	int64_t got = 0;

	o.shuffle = 1;
	o.seed = seed;
	o.limit = limit;
	src = open_ok(g, spec, &o);
	if (!src || !data || !order) {
		CHECK(0);
		goto out;
	}
	k = qp_datasrc_sample_numel(src);
	CHECK(qp_datasrc_count(src) == (limit ? limit : m));
	while (qp_datasrc_next(src, s, &err) == 1) {
		int64_t idx = (int64_t)order[got];

		CHECK(near(s, data + idx * k, k));
		got++;
	}
	CHECK(got == (limit ? limit : m));
out:
	qp_datasrc_free(src);
	free(data);
	free(order);
}

static void test_shuffle_limit(void)
{
	qp_graph *g = rgb_model(), *gray = gray_model();
	qp_datasrc_opts o = {0};
	qp_datasrc *src;

	check_shuffled(g, FIX "data5.npy", "data5.npy", 42, "shuffle5_seed42.npy", 0);
	check_shuffled(g, FIX "data5.npy", "data5.npy", 7, "shuffle5_seed7.npy", 0);
	check_shuffled(g, FIX "data5.npy", "data5.npy", 7, "shuffle5_seed7.npy", 3);
	/* Deflated member: backward seeks reopen the member. */
	check_shuffled(g, FIX "one_deflated.npz", "data5.npy", 42, "shuffle5_seed42.npy", 0);
	check_shuffled(g, FIX "xy.npz", "data5.npy", 7, "shuffle5_seed7.npy", 0);
	check_shuffled(gray, FIX "img5.idx.gz", "img5.expect.npy", 42, "shuffle5_seed42.npy", 0);
	/* Limit without shuffle: the first N in order. */
	o.limit = 2;
	src = open_ok(g, FIX "img", &o);
	if (src) {
		float s[36], *want;
		int64_t n;
		qp_err err = {{0}};

		want = load("img.expect.npy", &n);
		CHECK(qp_datasrc_count(src) == 2);
		CHECK(qp_datasrc_next(src, s, &err) == 1 && want && near(s, want, 36));
		CHECK(qp_datasrc_next(src, s, &err) == 1 && want && near(s, want + 36, 36));
		CHECK(qp_datasrc_next(src, s, &err) == 0);
		free(want);
	}
	qp_datasrc_free(src);
	qp_graph_free(g);
	qp_graph_free(gray);
}

static void test_parsers(void)
{
	qp_err err = {{0}};
	int64_t h = 0, w = 0;
	float v[3];
	qp_resize r;
	qp_channels c;
	qp_graph *g = rgb_model();
	const char *p[1];
	const char *two[2] = {"x=a.npy", "b.npy"};
	qp_datasrc_input in = {
		.name = g->tensors[g->inputs[0].tensor].name, .layout = g->inputs[0].layout,
		.rank = g->tensors[g->inputs[0].tensor].rank, .dims = g->tensors[g->inputs[0].tensor].dims,
	};

	CHECK(qp_datasrc_parse_size("224", &h, &w, &err) == 0 && h == 224 && w == 224);
	CHECK(qp_datasrc_parse_size("320x240", &h, &w, &err) == 0 && h == 240 && w == 320);
	CHECK(qp_datasrc_parse_size("0", &h, &w, &err) == -1);
	CHECK(qp_datasrc_parse_size("3x", &h, &w, &err) == -1);
	CHECK_STR(err.msg, "bad size '3x' (want N or WIDTHxHEIGHT, 1..65535)");
	CHECK(qp_datasrc_parse_resize("crop", &r, &err) == 0 && r == QP_RESIZE_CROP);
	CHECK(qp_datasrc_parse_resize("nearest", &r, &err) == -1);
	CHECK(qp_datasrc_parse_channels("bgr", &c, &err) == 0 && c == QP_CHANNELS_BGR);
	CHECK(qp_datasrc_parse_channels("rgba", &c, &err) == -1);
	CHECK(qp_datasrc_parse_floats3("0.5", v, 0, &err) == 0 && v[0] == 0.5f && v[2] == 0.5f);
	CHECK(qp_datasrc_parse_floats3("1,2,3", v, 1, &err) == 0 && v[0] == 1 && v[1] == 2 && v[2] == 3);
	CHECK(qp_datasrc_parse_floats3("1,2", v, 0, &err) == -1);
	CHECK(qp_datasrc_parse_floats3("1,2,3,4", v, 0, &err) == -1);
	CHECK(qp_datasrc_parse_floats3("1,0,3", v, 1, &err) == -1);
	CHECK(qp_feed_assign(1, &in, "--data", 1, (const char *[]){"x=a=b.npy"}, p, &err) == 0 &&
	      strcmp(p[0], "a=b.npy") == 0);
	/* no file "y=b.npy" and no input y: a misspelt name */
	CHECK(qp_feed_assign(1, &in, "--data", 1, (const char *[]){"y=b.npy"}, p, &err) == -1);
	CHECK_STR(err.msg, "--data y=b.npy: the model has no input 'y' (its inputs: 'x')");
	CHECK(qp_feed_assign(1, &in, "--input", 2, two, p, &err) == -1);
	CHECK_STR(err.msg, "more --input than model inputs (1)");
	CHECK(qp_feed_assign(1, &in, "--input", 0, two, p, &err) == -1);
	CHECK_STR(err.msg, "no --input for input 'x' (the model has 1 inputs)");
	qp_graph_free(g);
}

/* Run from the top of the tree (tests/run-all does): fixture paths are
 * relative to it, and the error messages checked name them so. */
int main(void)
{
	TEST(test_npy);
	TEST(test_npy_nhwc);
	TEST(test_npy_wrong_shape);
	TEST(test_npz);
	TEST(test_idx);
	TEST(test_images);
	TEST(test_normalise);
	TEST(test_resize);
	TEST(test_bad_images);
	TEST(test_not_an_image_input);
	TEST(test_shuffle_limit);
	TEST(test_parsers);
	return CHECK_DONE();
}
