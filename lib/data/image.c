/* Image decoding (see image.h).
 *
 * libpng and libjpeg-turbo report errors by longjmp; each decoder keeps
 * what it allocates in a context outside its own stack frame, so the one
 * error path frees it whatever the library was doing.  BMP and PNM follow
 * their specifications (Microsoft's BITMAPINFOHEADER family, netpbm's
 * pgm(5)/ppm(5)); every offset is checked against the buffer before use.
 */
#include "image.h"

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* A progressive JPEG may hold any number of scans, each a full pass over
 * the image: a small file can cost minutes.  djpeg's -maxscans advice;
 * real encoders write at most a few dozen. */
#define JPEG_MAX_SCANS 1000
/* PNM and BMP sides, as libjpeg's 65500 and libpng's default 10^6 limit
 * theirs; the decoded-size limit applies on top. */
#define MAX_SIDE (1 << 24)

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Library messages start upper-case ("Premature end of JPEG file"); ours
 * are lower-case.  A leading acronym ("IHDR: CRC error") stays. */
static void lower_first(char *s)
{
	if (s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z')
		s[0] = (char)(s[0] - 'A' + 'a');
}

/* Allocates the pixels of a w x h image decoded to nat channels and then
 * converted to want: room for the larger of the two. */
static int pixels_alloc(unsigned w, unsigned h, int nat, int want, unsigned char **px,
			qp_err *err)
{
	uint64_t bytes = (uint64_t)w * h * (uint64_t)(nat > want ? nat : want);

	if (w == 0 || h == 0)
		return qp_err_set(err, "image is %ux%u: no pixels", w, h);
	if (bytes > INT_MAX)
		return qp_err_set(err, "image is %ux%u: over 2 GiB decoded", w, h);
	*px = malloc((size_t)bytes);
	if (!*px)
		return qp_err_set(err, "out of memory");
	return 0;
}

/* In place, n pixels of from channels to to channels (1 or 3); the buffer
 * has room for the larger.  Gray to RGB runs backwards so no pixel is
 * overwritten before it is read. */
static void convert(unsigned char *px, size_t n, int from, int to)
{
	if (from == 1 && to == 3) {
		for (size_t i = n; i-- > 0;)
			px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = px[i];
	} else if (from == 3 && to == 1) {
		for (size_t i = 0; i < n; i++)
			px[i] = (unsigned char)((77u * px[3 * i] + 150u * px[3 * i + 1] +
						 29u * px[3 * i + 2]) >> 8);
	}
}

/* ---- PNG (libpng) ----------------------------------------------------------- */

typedef struct png_ctx {
	const unsigned char *buf;
	size_t len, pos;
	char msg[256];
	unsigned char *px;
	png_bytep *rows;
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
	png_ctx *c = png_get_error_ptr(png);

	snprintf(c->msg, sizeof c->msg, "%s", msg);
	png_longjmp(png, 1);
}

/* Warnings are for data libpng could use as it is (a damaged ancillary
 * chunk is dropped, as the PNG specification allows). */
static void png_on_warning(png_structp png, png_const_charp msg)
{
}

static void png_feed(png_structp png, png_bytep out, size_t n)
{
	png_ctx *c = png_get_io_ptr(png);

	if (n > c->len - c->pos)
		png_error(png, "file is truncated");
	memcpy(out, c->buf + c->pos, n);
	c->pos += n;
}

/* A palette of grays only is a gray image (as a BMP's must be). */
static int png_palette_gray(png_structp png, png_infop pi)
{
	png_colorp pal;
	int n;

	if (!png_get_PLTE(png, pi, &pal, &n))
		return 0;
	for (int i = 0; i < n; i++)
		if (pal[i].red != pal[i].green || pal[i].red != pal[i].blue)
			return 0;
	return 1;
}

/* want 0: the header only. */
static int png_run(png_ctx *c, int want, qp_image_info *info, unsigned char **px, qp_err *err)
{
	png_structp png;
	png_infop pi;
	png_uint_32 w, h;
	int depth, type, nat;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
	pi = png ? png_create_info_struct(png) : NULL;
	if (!pi) {
		png_destroy_read_struct(&png, NULL, NULL);
		return qp_err_set(err, "out of memory");
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &pi, NULL);
		free(c->rows);
		free(c->px);
		lower_first(c->msg);
		return qp_err_set(err, "PNG: %s", c->msg);
	}
	png_set_read_fn(png, c, png_feed);
	png_read_info(png, pi);
	png_get_IHDR(png, pi, &w, &h, &depth, &type, NULL, NULL, NULL);
	nat = type & PNG_COLOR_MASK_COLOR ? 3 : 1;
	info->width = (int)w;
	info->height = (int)h;
	info->channels = type == PNG_COLOR_TYPE_PALETTE && png_palette_gray(png, pi) ? 1 : nat;
	if (!want) {
		png_destroy_read_struct(&png, &pi, NULL);
		return 0;
	}
	/* round(v * 255 / 65535), where png_set_strip_16 would truncate. */
	if (depth == 16)
		png_set_scale_16(png);
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	/* Also the alpha that palette expansion makes of a tRNS chunk. */
	png_set_strip_alpha(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, pi);
	if (png_get_rowbytes(png, pi) != (size_t)w * (size_t)nat)
		png_error(png, "unexpected row size after conversion to 8 bits");
	if (pixels_alloc(w, h, nat, want, &c->px, err)) {
		png_destroy_read_struct(&png, &pi, NULL);
		return -1;
	}
	c->rows = malloc(h * sizeof *c->rows);
	if (!c->rows)
		png_error(png, "out of memory");
	for (png_uint_32 y = 0; y < h; y++)
		c->rows[y] = c->px + (size_t)y * w * (size_t)nat;
	png_read_image(png, c->rows);
	/* The rest of the file: CRCs of the last chunks, IEND present. */
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &pi, NULL);
	free(c->rows);
	convert(c->px, (size_t)w * h, nat, want);
	*px = c->px;
	return 0;
}

/* ---- JPEG (libjpeg-turbo) --------------------------------------------------- */

/* Lives in the caller's frame: what jpeg_run changes between setjmp and
 * longjmp must not be its own automatic variables. */
typedef struct jpeg_ctx {
	struct jpeg_error_mgr mgr;    /* first: libjpeg hands back its address */
	struct jpeg_decompress_struct d;
	struct jpeg_progress_mgr progress;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	unsigned char *px;
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr j)
{
	jpeg_ctx *c = (jpeg_ctx *)j->err;

	j->err->format_message(j, c->msg);
	longjmp(c->jb, 1);
}

/* libjpeg only warns about corrupt data and goes on with made-up pixels
 * (gray for a truncated file); here that is an error.  The two warnings
 * about metadata alone are not. */
static void jpeg_on_message(j_common_ptr j, int level)
{
	if (level < 0 && j->err->msg_code != JWRN_JFIF_MAJOR && j->err->msg_code != JWRN_BOGUS_ICC)
		jpeg_on_error(j);
}

static void jpeg_on_progress(j_common_ptr j)
{
	j_decompress_ptr d = (j_decompress_ptr)j;

	if (d->input_scan_number > JPEG_MAX_SCANS) {
		jpeg_ctx *c = (jpeg_ctx *)j->err;

		snprintf(c->msg, sizeof c->msg, "more than %d scans", JPEG_MAX_SCANS);
		longjmp(c->jb, 1);
	}
}

static int jpeg_run(jpeg_ctx *c, const unsigned char *buf, size_t len, int want,
		    qp_image_info *info, unsigned char **px, qp_err *err)
{
	j_decompress_ptr d = &c->d;
	int nat;

	/* Zeroed (by the caller) so an error inside jpeg_create_decompress
	 * finds nothing to free. */
	d->err = jpeg_std_error(&c->mgr);
	c->mgr.error_exit = jpeg_on_error;
	c->mgr.emit_message = jpeg_on_message;
	if (setjmp(c->jb)) {
		jpeg_destroy_decompress(d);
		free(c->px);
		lower_first(c->msg);
		return qp_err_set(err, "JPEG: %s", c->msg);
	}
	jpeg_create_decompress(d);
	c->progress.progress_monitor = jpeg_on_progress;
	d->progress = &c->progress;
	jpeg_mem_src(d, buf, (unsigned long)len);
	jpeg_read_header(d, TRUE);
	switch (d->jpeg_color_space) {
	case JCS_GRAYSCALE:
		nat = 1;
		break;
	case JCS_YCbCr:
	case JCS_RGB:
		nat = 3;
		d->out_color_space = JCS_RGB;
		break;
	default:
		jpeg_destroy_decompress(d);
		return qp_err_set(err, "JPEG: %d-component colour space (CMYK or YCCK) is not supported; want gray or colour",
				  d->num_components);
	}
	info->width = (int)d->image_width;
	info->height = (int)d->image_height;
	info->channels = nat;
	if (!want) {
		jpeg_destroy_decompress(d);
		return 0;
	}
	if (pixels_alloc(d->image_width, d->image_height, nat, want, &c->px, err)) {
		jpeg_destroy_decompress(d);
		return -1;
	}
	jpeg_start_decompress(d);
	if (d->output_components != nat || d->output_width != d->image_width ||
	    d->output_height != d->image_height) {
		snprintf(c->msg, sizeof c->msg, "decoder output is %ux%u with %d channels, not %ux%u with %d",
			 d->output_width, d->output_height, d->output_components,
			 d->image_width, d->image_height, nat);
		longjmp(c->jb, 1);
	}
	while (d->output_scanline < d->output_height) {
		JSAMPROW row = c->px + (size_t)d->output_scanline * d->output_width * (size_t)nat;

		jpeg_read_scanlines(d, &row, 1);
	}
	jpeg_finish_decompress(d);
	jpeg_destroy_decompress(d);
	convert(c->px, (size_t)info->width * (size_t)info->height, nat, want);
	*px = c->px;
	return 0;
}

/* ---- PNM (netpbm pgm(5), ppm(5)) ------------------------------------------- */

static int pnm_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* The next decimal number after white space and '#' comments. */
static int pnm_number(const unsigned char *b, size_t len, size_t *pos, unsigned *v)
{
	size_t p = *pos;
	uint64_t x = 0;

	while (p < len && (pnm_space(b[p]) || b[p] == '#')) {
		if (b[p] == '#')
			while (p < len && b[p] != '\n' && b[p] != '\r')
				p++;
		else
			p++;
	}
	if (p >= len || b[p] < '0' || b[p] > '9')
		return -1;
	for (; p < len && b[p] >= '0' && b[p] <= '9'; p++)
		if ((x = x * 10 + (unsigned)(b[p] - '0')) > UINT_MAX / 2)
			return -1;
	*pos = p;
	*v = (unsigned)x;
	return 0;
}

static int pnm_run(const unsigned char *b, size_t len, int want, qp_image_info *info,
		   unsigned char **px, qp_err *err)
{
	unsigned w, h, maxval;
	size_t pos = 2, bytes, n;
	int nat, wide;

	if (b[1] != '5' && b[1] != '6')
		return qp_err_set(err, "PNM: format P%c is not supported (want binary P5 or P6)", b[1]);
	nat = b[1] == '6' ? 3 : 1;
	if (len < 3 || !(pnm_space(b[2]) || b[2] == '#') ||
	    pnm_number(b, len, &pos, &w) || pnm_number(b, len, &pos, &h) ||
	    pnm_number(b, len, &pos, &maxval) || pos >= len || !pnm_space(b[pos]))
		return qp_err_set(err, "PNM: header is damaged (width, height and maximum value expected)");
	pos++;    /* the one white-space byte before the raster */
	if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
		return qp_err_set(err, "PNM: image is %ux%u (each side 1 to %d)", w, h, MAX_SIDE);
	if (maxval < 1 || maxval > 65535)
		return qp_err_set(err, "PNM: maximum value %u is out of range 1..65535", maxval);
	info->width = (int)w;
	info->height = (int)h;
	info->channels = nat;
	if (!want)
		return 0;
	wide = maxval > 255;
	n = (size_t)w * h * (size_t)nat;
	bytes = n << wide;
	if (len - pos < bytes)
		return qp_err_set(err, "PNM: pixel data is truncated: %zu bytes, %ux%u needs %zu",
				  len - pos, w, h, bytes);
	if (pixels_alloc(w, h, nat, want, px, err))
		return -1;
	b += pos;
	for (size_t i = 0; i < n; i++) {
		unsigned v = wide ? (unsigned)b[2 * i] << 8 | b[2 * i + 1] : b[i];

		if (v > maxval) {
			free(*px);
			*px = NULL;
			return qp_err_set(err, "PNM: sample %zu is %u, over the maximum value %u", i, v, maxval);
		}
		/* round(v * 255 / maxval), halves up, as netpbm's pnmdepth. */
		(*px)[i] = (unsigned char)(maxval == 255 ? v : (2u * 255u * v + maxval) / (2u * maxval));
	}
	convert(*px, (size_t)w * h, nat, want);
	return 0;
}

/* ---- BMP -------------------------------------------------------------------- */

static uint32_t le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return le16(p) | le16(p + 2) << 16;
}

/* A channel mask of exactly one byte: its shift, else -1. */
static int byte_mask_shift(uint32_t m)
{
	for (int s = 0; s < 32; s += 8)
		if (m == (uint32_t)0xff << s)
			return s;
	return -1;
}

static int bmp_run(const unsigned char *b, size_t len, int want, qp_image_info *info,
		   unsigned char **px, qp_err *err)
{
	uint32_t off, hsize, bpp, comp = 0, ncolors = 0, planes;
	int64_t w, h;
	int top_down = 0, nat = 3, shift[3] = {16, 8, 0};
	size_t pal = 0, pal_entry = 4, stride, need;

	if (len < 18 || len - 14 < (hsize = le32(b + 14)))
		return qp_err_set(err, "BMP: header is truncated");
	off = le32(b + 10);
	if (hsize == 12) {              /* BITMAPCOREHEADER (OS/2 1.x) */
		w = le16(b + 18);
		h = le16(b + 20);
		planes = le16(b + 22);
		bpp = le16(b + 24);
		pal_entry = 3;
	} else if (hsize == 40 || hsize == 52 || hsize == 56 || hsize == 108 || hsize == 124) {
		w = (int32_t)le32(b + 18);
		h = (int32_t)le32(b + 22);
		planes = le16(b + 26);
		bpp = le16(b + 28);
		comp = le32(b + 30);
		ncolors = le32(b + 46);
	} else {
		return qp_err_set(err, "BMP: header size %u is not supported (want 12, 40, 52, 56, 108 or 124)",
				  hsize);
	}
	pal = 14 + (size_t)hsize;
	if (h < 0) {
		top_down = 1;
		h = -h;
	}
	if (planes != 1)
		return qp_err_set(err, "BMP: %u planes (want 1)", planes);
	if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
		return qp_err_set(err, "BMP: image is %lldx%lld (each side 1 to %d)",
				  (long long)w, (long long)h, MAX_SIDE);
	if (comp == 3 && bpp == 32) {   /* BI_BITFIELDS: after a 40-byte header, else in it */
		const unsigned char *m = b + 14 + 40;

		if (len < 14 + 40 + 12)
			return qp_err_set(err, "BMP: colour masks are truncated");
		for (int k = 0; k < 3; k++)
			if ((shift[k] = byte_mask_shift(le32(m + 4 * k))) < 0)
				return qp_err_set(err, "BMP: colour mask 0x%08x is not supported (want one byte per channel)",
						  le32(m + 4 * k));
		if (hsize == 40)
			pal += 12;
	} else if (comp != 0 || (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 24 && bpp != 32)) {
		return qp_err_set(err, "BMP: %u bits per pixel with compression %u is not supported "
				  "(want uncompressed 1, 4, 8, 24 or 32 bits)", bpp, comp);
	}
	if (bpp <= 8) {
		if (ncolors == 0 || hsize == 12)
			ncolors = 1u << bpp;
		if (ncolors > 1u << bpp)
			return qp_err_set(err, "BMP: %u palette entries for %u bits per pixel", ncolors, bpp);
		if (pal + ncolors * pal_entry > len || pal + ncolors * pal_entry > off)
			return qp_err_set(err, "BMP: palette is truncated");
		nat = 1;
		for (uint32_t i = 0; i < ncolors; i++) {
			const unsigned char *e = b + pal + i * pal_entry;

			if (e[0] != e[1] || e[0] != e[2])
				nat = 3;
		}
	}
	info->width = (int)w;
	info->height = (int)h;
	info->channels = nat;
	if (!want)
		return 0;
	stride = ((size_t)w * bpp + 31) / 32 * 4;
	/* The last row's padding may be missing; its pixels may not. */
	need = stride * (size_t)(h - 1) + ((size_t)w * bpp + 7) / 8;
	if (off > len || len - off < need)
		return qp_err_set(err, "BMP: pixel data is truncated: %zu bytes, %lldx%lld needs %zu",
				  off > len ? (size_t)0 : len - off, (long long)w, (long long)h, need);
	if (pixels_alloc((unsigned)w, (unsigned)h, nat, want, px, err))
		return -1;
	for (int64_t y = 0; y < h; y++) {
		const unsigned char *row = b + off + stride * (size_t)(top_down ? y : h - 1 - y);
		unsigned char *out = *px + (size_t)y * (size_t)w * (size_t)nat;

		for (int64_t x = 0; x < w; x++, out += nat) {
			if (bpp <= 8) {
				unsigned bit = (unsigned)x * bpp;
				unsigned i = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
				const unsigned char *e;

				if (i >= ncolors) {
					free(*px);
					*px = NULL;
					return qp_err_set(err, "BMP: pixel (%lld,%lld) is palette entry %u of %u",
							  (long long)x, (long long)y, i, ncolors);
				}
				e = b + pal + i * pal_entry;
				out[0] = e[2];
				if (nat == 3)
					out[1] = e[1], out[2] = e[0];
			} else if (bpp == 24) {
				const unsigned char *p = row + 3 * x;

				out[0] = p[2], out[1] = p[1], out[2] = p[0];
			} else {
				uint32_t v = le32(row + 4 * x);

				for (int k = 0; k < 3; k++)
					out[k] = (unsigned char)(v >> shift[k]);
			}
		}
	}
	convert(*px, (size_t)w * (size_t)h, nat, want);
	return 0;
}

/* ---- dispatch --------------------------------------------------------------- */

enum format { FMT_NONE, FMT_PNG, FMT_JPEG, FMT_BMP, FMT_PNM };

static const char *const format_names[] = {NULL, "PNG", "JPEG", "BMP", "PNM"};

static enum format sniff(const unsigned char *b, size_t len)
{
	if (len >= 8 && !memcmp(b, png_magic, 8))
		return FMT_PNG;
	if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return FMT_JPEG;
	if (len >= 2 && b[0] == 'B' && b[1] == 'M')
		return FMT_BMP;
	if (len >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7')
		return FMT_PNM;
	return FMT_NONE;
}

/* The libraries' contexts live here, outside the frames that setjmp. */
static int run(const unsigned char *buf, size_t len, int want, qp_image_info *info,
	       unsigned char **px, qp_err *err)
{
	enum format f = sniff(buf, len);
	union {
		png_ctx png;
		jpeg_ctx jpeg;
	} c;

	memset(&c, 0, sizeof c);
	info->format = format_names[f];
	switch (f) {
	case FMT_PNG:
		c.png.buf = buf;
		c.png.len = len;
		return png_run(&c.png, want, info, px, err);
	case FMT_JPEG:
		return jpeg_run(&c.jpeg, buf, len, want, info, px, err);
	case FMT_BMP:
		return bmp_run(buf, len, want, info, px, err);
	case FMT_PNM:
		return pnm_run(buf, len, want, info, px, err);
	case FMT_NONE:
		break;
	}
	return qp_err_set(err, "unknown image format (want PNG, JPEG, BMP, PGM or PPM)");
}

int qp_image_probe(const unsigned char *buf, size_t len, qp_image_info *info, qp_err *err)
{
	return run(buf, len, 0, info, NULL, err);
}

int qp_image_decode(const unsigned char *buf, size_t len, int channels,
		    qp_image_info *info, unsigned char **px, qp_err *err)
{
	qp_image_info own;

	if (channels != 1 && channels != 3)
		qp_bug("qp_image_decode: %d channels", channels);
	*px = NULL;
	return run(buf, len, channels, info ? info : &own, px, err);
}
