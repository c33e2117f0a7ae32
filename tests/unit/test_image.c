/* Image decoding (lib/data/image.c).  Fixtures and expected pixels come from
 * tests/fixtures/gen/make_image_fixtures.py: the numpy arrays the files
 * were written from (checked there against PIL's decode), for JPEG PIL's
 * and torchvision's decode through the same libjpeg-turbo.  Every format
 * must match exactly, JPEG included. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image.h"
#include "io.h"
#include "npy.h"

#define FIX "tests/fixtures/image/"

static unsigned char *slurp(const char *name, size_t *len)
{
	char path[256];
	void *buf = NULL;
	qp_err err = {{0}};

	snprintf(path, sizeof path, FIX "%s", name);
	if (qp_read_all(path, &buf, len, (size_t)1 << 24, &err)) {
		printf("# cannot read %s: %s\n", path, err.msg);
		return NULL;
	}
	return buf;
}

/* The expected (H, W, c) pixels of name (name.cC.npy), as floats. */
static float *expected(const char *name, int c, int64_t *n)
{
	char path[256];
	qp_npy r;
	qp_err err = {{0}};
	float *v;

	snprintf(path, sizeof path, FIX "%s.c%d.npy", name, c);
	if (qp_npy_open(&r, path, &err)) {
		printf("# cannot load %s: %s\n", path, err.msg);
		return NULL;
	}
	*n = r.rows * r.row_elems;
	v = malloc((size_t)*n * sizeof *v);
	if (v && qp_npy_read_rows_f32(&r, r.rows, v, &err)) {
		free(v);
		v = NULL;
	}
	qp_npy_close(&r);
	return v;
}

static const struct good {
	const char *file;
	int w, h, channels;
	const char *format;
} goods[] = {
	{"rgb8.png", 5, 7, 3, "PNG"},
	{"gray8.png", 9, 6, 1, "PNG"},
	{"rgba8.png", 6, 4, 3, "PNG"},
	{"la8.png", 3, 5, 1, "PNG"},
	{"pal.png", 7, 6, 3, "PNG"},
	{"pal_trns.png", 7, 6, 3, "PNG"},
	{"pal_gray.png", 7, 6, 1, "PNG"},
	{"gray1.png", 11, 5, 1, "PNG"},
	{"gray2.png", 7, 4, 1, "PNG"},
	{"gray4.png", 7, 4, 1, "PNG"},
	{"gray16.png", 256, 256, 1, "PNG"},
	{"rgb16.png", 6, 5, 3, "PNG"},
	{"adam7.png", 10, 3, 3, "PNG"},
	{"anc_crc.png", 10, 3, 3, "PNG"},
	{"q90_444.jpg", 17, 13, 3, "JPEG"},
	{"q75_420.jpg", 17, 13, 3, "JPEG"},
	{"q80_422.jpg", 17, 13, 3, "JPEG"},
	{"progressive.jpg", 17, 13, 3, "JPEG"},
	{"gray.jpg", 11, 9, 1, "JPEG"},
	{"rgb24.bmp", 5, 4, 3, "BMP"},
	{"rgba32.bmp", 4, 3, 3, "BMP"},
	{"gray8.bmp", 6, 5, 1, "BMP"},
	{"pal8.bmp", 7, 3, 3, "BMP"},
	{"bw1.bmp", 13, 3, 1, "BMP"},
	{"pal4.bmp", 5, 4, 3, "BMP"},
	{"topdown.bmp", 3, 3, 3, "BMP"},
	{"v5_bitfields.bmp", 3, 2, 3, "BMP"},
	{"core24.bmp", 5, 2, 3, "BMP"},
	{"rgb.ppm", 5, 3, 3, "PNM"},
	{"gray.pgm", 3, 4, 1, "PNM"},
	{"comments.pgm", 3, 4, 1, "PNM"},
	{"gray16.pgm", 300, 2, 1, "PNM"},
	{"max1000.ppm", 20, 2, 3, "PNM"},
	{"max15.pgm", 4, 2, 1, "PNM"},
};

static void check_good(const struct good *g)
{
	size_t len;
	unsigned char *buf = slurp(g->file, &len), *px;
	qp_image_info info;
	qp_err err = {{0}};

	if (!buf) {
		check_failures++;
		return;
	}
	memset(&info, 0, sizeof info);
	if (qp_image_probe(buf, len, &info, &err)) {
		printf("# %s: probe: %s\n", g->file, err.msg);
		check_failures++;
	}
	if (info.width != g->w || info.height != g->h || info.channels != g->channels ||
	    !info.format || strcmp(info.format, g->format)) {
		printf("# %s: probe says %dx%d, %d channels, %s; want %dx%d, %d, %s\n", g->file,
		       info.width, info.height, info.channels, info.format ? info.format : "-",
		       g->w, g->h, g->channels, g->format);
		check_failures++;
	}
	for (int c = 1; c <= 3; c += 2) {
		int64_t n = 0, bad = 0;
		float *want = expected(g->file, c, &n), worst = 0;

		if (!want) {
			check_failures++;
			continue;
		}
		if (qp_image_decode(buf, len, c, NULL, &px, &err)) {
			printf("# %s: decode to %d channels: %s\n", g->file, c, err.msg);
			check_failures++;
			free(want);
			continue;
		}
		if (n != (int64_t)g->w * g->h * c) {
			printf("# %s: %lld expected values for %dx%dx%d\n", g->file, (long long)n,
			       g->w, g->h, c);
			check_failures++;
			n = 0;
		}
		for (int64_t i = 0; i < n; i++) {
			float d = (float)px[i] - want[i];

			if (d < 0)
				d = -d;
			if (d > 0)
				bad++;
			if (d > worst)
				worst = d;
		}
		if (bad) {
			printf("# %s, %d channels: %lld of %lld pixel values differ, by up to %g\n",
			       g->file, c, (long long)bad, (long long)n, worst);
			check_failures++;
		}
		free(px);
		free(want);
	}
	free(buf);
}

static void test_formats(void)
{
	for (size_t i = 0; i < sizeof goods / sizeof *goods; i++)
		check_good(&goods[i]);
}

/* Each must be refused, by the probe or by the decoder, with this text. */
static const struct bad {
	const char *file, *msg;
} bads[] = {
	{"bad_trunc.png", "PNG: "},
	{"bad_ihdr_crc.png", "PNG: IHDR: CRC error"},
	{"bad_deflate.png", "PNG: "},
	{"bad_short_idat.png", "PNG: not enough image data"},
	{"bad_huge.png", "PNG: "},
	{"bad_trunc.jpg", "JPEG: premature end of JPEG file"},
	{"bad_dht257.jpg", "JPEG: bogus Huffman table definition"},
	{"bad_huffcounts.jpg", "JPEG: bogus Huffman table definition"},
	{"bad_entropy.jpg", "JPEG: corrupt JPEG data"},
	{"bad_cmyk.jpg", "JPEG: 4-component colour space (CMYK or YCCK) is not supported"},
	{"bad_trunc.bmp", "BMP: pixel data is truncated"},
	{"bad_rle8.bmp", "BMP: 8 bits per pixel with compression 1 is not supported"},
	{"bad_index.bmp", "BMP: pixel (1,0) is palette entry 5 of 4"},
	{"bad_trunc.ppm", "PNM: pixel data is truncated: 30 bytes, 4x3 needs 36"},
	{"bad_header.ppm", "PNM: header is damaged (width, height and maximum value expected)"},
	{"bad_plain.ppm", "PNM: format P3 is not supported (want binary P5 or P6)"},
	{"bad_over.pgm", "PNM: sample 1 is 101, over the maximum value 100"},
	{"../datasrc/img/notes.txt", "unknown image format (want PNG, JPEG, BMP, PGM or PPM)"},
};

/* 0 when decoding buf fails cleanly (message set, no pixels); err gets
 * the message. */
static int refused(const unsigned char *buf, size_t len, int c, qp_err *err)
{
	qp_image_info info;
	unsigned char *px = (unsigned char *)"x";

	err->msg[0] = 0;
	if (qp_image_probe(buf, len, &info, err) != 0)
		return err->msg[0] ? 0 : -1;
	if (qp_image_decode(buf, len, c, &info, &px, err) == 0) {
		free(px);
		return -1;
	}
	return px || !err->msg[0] ? -1 : 0;
}

static void test_damaged(void)
{
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
		size_t len;
		unsigned char *buf = slurp(bads[i].file, &len);
		qp_err err;

		if (!buf) {
			check_failures++;
			continue;
		}
		for (int c = 1; c <= 3; c += 2) {
			if (refused(buf, len, c, &err)) {
				printf("# %s: not refused cleanly (\"%s\")\n", bads[i].file, err.msg);
				check_failures++;
			} else if (!strstr(err.msg, bads[i].msg)) {
				printf("# %s: \"%s\" lacks \"%s\"\n", bads[i].file, err.msg, bads[i].msg);
				check_failures++;
			}
		}
		free(buf);
	}
}

/* Every proper prefix of these files is refused: each format says how
 * long its data is, and PNG and JPEG end with a marker. */
static void test_truncated(void)
{
	static const char *const files[] = {"rgb8.png", "adam7.png", "q75_420.jpg",
					    "progressive.jpg", "rgb.ppm", "gray16.pgm"};

	for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
		size_t len;
		unsigned char *buf = slurp(files[f], &len);
		qp_err err;

		if (!buf) {
			check_failures++;
			continue;
		}
		for (size_t n = 0; n < len; n++) {
			/* A copy of exactly n bytes, so ASan sees any read past it. */
			unsigned char *cut = malloc(n ? n : 1);

			memcpy(cut, buf, n);
			if (refused(cut, n, 3, &err)) {
				printf("# %s cut to %zu of %zu bytes: not refused\n", files[f], n, len);
				check_failures++;
				free(cut);
				break;
			}
			free(cut);
		}
		free(buf);
	}
}

/* Every single-byte change of small files either decodes or is refused
 * with a message; never a crash or a read outside the buffer (this is
 * what make asan is for). */
static void test_mutated(void)
{
	static const char *const files[] = {"rgb8.png", "pal_trns.png", "q75_420.jpg",
					    "progressive.jpg", "pal4.bmp", "v5_bitfields.bmp",
					    "max1000.ppm"};
	static const unsigned char values[] = {0x00, 0xff, 0x80, 0x7f};

	for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
		size_t len;
		unsigned char *buf = slurp(files[f], &len), *copy;

		if (!buf) {
			check_failures++;
			continue;
		}
		copy = malloc(len);
		for (size_t i = 0; i < len; i++) {
			for (size_t v = 0; v < sizeof values; v++) {
				qp_image_info info;
				unsigned char *px = NULL;
				qp_err err;

				memcpy(copy, buf, len);
				copy[i] = values[v];
				err.msg[0] = 0;
				if (qp_image_decode(copy, len, 1 + 2 * (int)(i % 2), &info, &px, &err) == 0)
					free(px);
				else if (px || !err.msg[0]) {
					printf("# %s, byte %zu = 0x%02x: failed without a message\n",
					       files[f], i, values[v]);
					check_failures++;
				}
			}
		}
		free(copy);
		free(buf);
	}
}

int main(void)
{
	TEST(test_formats);
	TEST(test_damaged);
	TEST(test_truncated);
	TEST(test_mutated);
	return CHECK_DONE();
}
