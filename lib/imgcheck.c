/* Structural checks of PNG, JPEG and PNM files before stb_image decodes
 * them (see imgcheck.h).  Each check follows the format's specification
 * (PNG: ISO/IEC 15948, JPEG: ITU-T T.81 annex B, PNM: netpbm's pgm/ppm
 * pages), not stb's code, and stops at what the decoder needs to be safe:
 * the PNG chunk structure with CRCs and a complete, valid zlib stream of
 * at least the image's size; every JPEG marker segment's length and every
 * Huffman table; the PNM header and the pixel bytes being present. */
#include "imgcheck.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

/* stb_image's own limit (STBI_MAX_DIMENSIONS). */
#define MAX_SIDE (1u << 24)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- PNG ------------------------------------------------------------------ */

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Bytes of filtered scanlines for a w x h (sub)image: each row is a filter
 * byte and ceil(w * bits / 8) bytes. */
static uint64_t png_rows_bytes(uint64_t w, uint64_t h, unsigned bits_per_pixel)
{
	if (w == 0 || h == 0)
		return 0;
	return h * (1 + (w * bits_per_pixel + 7) / 8);
}

/* Raw (inflated) size the IHDR promises; Adam7 sums its seven passes. */
static uint64_t png_raw_bytes(uint32_t w, uint32_t h, unsigned bpp, int interlaced)
{
	static const unsigned x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
	static const unsigned dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
	uint64_t total = 0;

	if (!interlaced)
		return png_rows_bytes(w, h, bpp);
	for (int p = 0; p < 7; p++) {
		uint64_t pw = w > x0[p] ? (w - x0[p] + dx[p] - 1) / dx[p] : 0;
		uint64_t ph = h > y0[p] ? (h - y0[p] + dy[p] - 1) / dy[p] : 0;

		total += png_rows_bytes(pw, ph, bpp);
	}
	return total;
}

static int png_bits_per_pixel(unsigned depth, unsigned colour, unsigned *bpp)
{
	static const unsigned channels[7] = {1, 0, 3, 1, 2, 0, 4};
	int ok;

	switch (colour) {
	case 0: ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; break;
	case 3: ok = depth == 1 || depth == 2 || depth == 4 || depth == 8; break;
	case 2: case 4: case 6: ok = depth == 8 || depth == 16; break;
	default: ok = 0;
	}
	if (!ok)
		return -1;
	*bpp = depth * channels[colour];
	return 0;
}

/* A chunk type for messages: its four letters, or hex when it is not
 * letters (a damaged file). */
static const char *chunk_name(const unsigned char *type, char out[16])
{
	int letters = 1;

	for (int i = 0; i < 4; i++)
		letters &= (type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z');
	if (letters)
		snprintf(out, 16, "'%c%c%c%c'", type[0], type[1], type[2], type[3]);
	else
		snprintf(out, 16, "0x%08x", be32(type));
	return out;
}

static int check_png(const unsigned char *buf, size_t len, qp_err *err)
{
	size_t pos = 8;
	uint32_t w = 0, h = 0;
	unsigned bpp = 0;
	int interlaced = 0, seen_ihdr = 0, inflating = 0, stream_end = 0, rc = -1;
	uint64_t raw = 0;
	unsigned char scratch[16384];
	z_stream z;

	memset(&z, 0, sizeof z);
	while (pos < len) {
		uint32_t n;
		const unsigned char *type, *data;
		char name[16];

		if (len - pos < 12) {
			qp_err_set(err, "truncated PNG chunk at byte %zu", pos);
			goto out;
		}
		n = be32(buf + pos);
		type = buf + pos + 4;
		data = buf + pos + 8;
		if (n > 0x7fffffffu || n > len - pos - 12) {
			qp_err_set(err, "PNG chunk %s at byte %zu runs past the end of the file",
				   chunk_name(type, name), pos);
			goto out;
		}
		if (crc32(crc32(0L, Z_NULL, 0), type, n + 4) != be32(data + n)) {
			/* As libpng does by default: a damaged ancillary chunk
			 * (lower-case first letter: text, gamma, ...) is
			 * skipped, a damaged critical one is an error. */
			if (type[0] & 0x20) {
				pos += (size_t)n + 12;
				continue;
			}
			qp_err_set(err, "PNG chunk %s at byte %zu has a bad CRC (corrupt file)",
				   chunk_name(type, name), pos);
			goto out;
		}
		if (!seen_ihdr) {
			if (memcmp(type, "IHDR", 4) != 0 || n != 13) {
				qp_err_set(err, "PNG does not start with an IHDR chunk");
				goto out;
			}
			w = be32(data);
			h = be32(data + 4);
			if (w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE) {
				qp_err_set(err, "PNG size %ux%u is outside 1..%u", w, h, MAX_SIDE);
				goto out;
			}
			if (png_bits_per_pixel(data[8], data[9], &bpp) ||
			    data[10] != 0 || data[11] != 0 || data[12] > 1) {
				qp_err_set(err, "PNG header is invalid (bit depth %u, colour type %u, methods %u/%u/%u)",
					   data[8], data[9], data[10], data[11], data[12]);
				goto out;
			}
			interlaced = data[12];
			seen_ihdr = 1;
			if (inflateInit(&z) != Z_OK) {
				qp_err_set(err, "out of memory");
				goto out;
			}
			inflating = 1;
		} else if (memcmp(type, "IDAT", 4) == 0 && !stream_end) {
			z.next_in = (unsigned char *)data;
			z.avail_in = n;
			while (z.avail_in > 0 && !stream_end) {
				int zr;

				z.next_out = scratch;
				z.avail_out = sizeof scratch;
				zr = inflate(&z, Z_NO_FLUSH);
				raw += sizeof scratch - z.avail_out;
				if (zr == Z_STREAM_END)
					stream_end = 1;
				else if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
					qp_err_set(err, "PNG image data is not a valid zlib stream (%s)",
						   z.msg ? z.msg : "corrupt");
					goto out;
				}
			}
		} else if (memcmp(type, "IEND", 4) == 0) {
			break;
		}
		pos += (size_t)n + 12;
	}
	if (!seen_ihdr)
		qp_err_set(err, "PNG has no IHDR chunk");
	else if (!stream_end)
		qp_err_set(err, "PNG image data ends early (truncated file?)");
	else if (raw < png_raw_bytes(w, h, bpp, interlaced))
		qp_err_set(err, "PNG image data holds %llu bytes, a %ux%u image needs %llu",
			   (unsigned long long)raw, w, h,
			   (unsigned long long)png_raw_bytes(w, h, bpp, interlaced));
	else
		rc = 0;
out:
	if (inflating)
		inflateEnd(&z);
	return rc;
}

/* ---- JPEG ----------------------------------------------------------------- */

/* One DHT segment: tables of 16 code counts then the symbols.  A table
 * may hold at most 256 symbols, and its code lengths must fit a prefix
 * code (at most 2^k codes of length <= k, counting shorter ones). */
static int check_dht(const unsigned char *p, size_t n, qp_err *err)
{
	while (n > 0) {
		unsigned tc = p[0] >> 4, th = p[0] & 15, total = 0;
		uint32_t codes = 0;

		if (n < 17)
			return qp_err_set(err, "JPEG Huffman table is truncated");
		if (tc > 1 || th > 3)
			return qp_err_set(err, "JPEG Huffman table has class %u, id %u", tc, th);
		for (int k = 0; k < 16; k++) {
			total += p[1 + k];
			codes = (codes << 1) + p[1 + k];
			if (codes > (1u << (k + 1)))
				return qp_err_set(err, "JPEG Huffman table has more codes of length %d than fit", k + 1);
		}
		if (total > 256)
			return qp_err_set(err, "JPEG Huffman table has %u symbols; at most 256", total);
		if (17 + (size_t)total > n)
			return qp_err_set(err, "JPEG Huffman table is truncated");
		p += 17 + total;
		n -= 17 + total;
	}
	return 0;
}

static int check_jpeg(const unsigned char *buf, size_t len, qp_err *err)
{
	size_t pos = 2;

	for (;;) {
		unsigned m;
		size_t seg;

		if (pos >= len)
			return 0;   /* stb fills a truncated scan with zeros */
		if (buf[pos] != 0xff)
			return qp_err_set(err, "JPEG marker expected at byte %zu", pos);
		while (pos < len && buf[pos] == 0xff)
			pos++;
		if (pos >= len)
			return 0;
		m = buf[pos++];
		if (m == 0xd9)
			return 0;                               /* EOI */
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue;                               /* no length */
		if (len - pos < 2)
			return qp_err_set(err, "JPEG segment 0xff%02x is truncated", m);
		seg = (size_t)buf[pos] << 8 | buf[pos + 1];
		if (seg < 2 || seg > len - pos)
			return qp_err_set(err, "JPEG segment 0xff%02x at byte %zu runs past the end of the file",
					  m, pos - 2);
		if (m == 0xc4 && check_dht(buf + pos + 2, seg - 2, err))
			return -1;
		pos += seg;
		if (m == 0xda) {
			/* Entropy-coded data: up to the next marker that is
			 * neither a stuffed 0xff00 nor a restart marker. */
			while (pos + 1 < len && !(buf[pos] == 0xff && buf[pos + 1] != 0 &&
						  !(buf[pos + 1] >= 0xd0 && buf[pos + 1] <= 0xd7)))
				pos++;
			if (pos + 1 >= len)
				return 0;
		}
	}
}

/* ---- PNM ------------------------------------------------------------------ */

/* Skips white space and '#' comments (to the end of their line). */
static size_t pnm_skip(const unsigned char *buf, size_t len, size_t pos)
{
	while (pos < len) {
		if (buf[pos] == '#') {
			while (pos < len && buf[pos] != '\n' && buf[pos] != '\r')
				pos++;
		} else if (buf[pos] == ' ' || (buf[pos] >= '\t' && buf[pos] <= '\r')) {
			pos++;
		} else {
			break;
		}
	}
	return pos;
}

static int pnm_number(const unsigned char *buf, size_t len, size_t *pos, uint32_t *v)
{
	uint64_t n = 0;
	size_t p = pnm_skip(buf, len, *pos), start = p;

	while (p < len && buf[p] >= '0' && buf[p] <= '9' && n <= 0xffffffffu)
		n = n * 10 + (buf[p++] - '0');
	if (p == start || n > 0xffffffffu)
		return -1;
	*v = (uint32_t)n;
	*pos = p;
	return 0;
}

static int check_pnm(const unsigned char *buf, size_t len, int channels, qp_err *err)
{
	size_t pos = 2;
	uint32_t w, h, maxval;
	int comp = buf[1] == '6' ? 3 : 1;
	uint64_t need;

	if (pnm_number(buf, len, &pos, &w) || pnm_number(buf, len, &pos, &h) ||
	    pnm_number(buf, len, &pos, &maxval))
		return qp_err_set(err, "PNM header is damaged (width, height and maximum value expected)");
	if (w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE)
		return qp_err_set(err, "PNM size %ux%u is outside 1..%u", w, h, MAX_SIDE);
	if (maxval == 0 || maxval > 65535)
		return qp_err_set(err, "PNM maximum value %u is outside 1..65535", maxval);
	if (pos >= len || !(buf[pos] == ' ' || (buf[pos] >= '\t' && buf[pos] <= '\r')))
		return qp_err_set(err, "PNM header is damaged (no white space before the pixels)");
	/* stb_image 2.27 converts 16-bit samples to another channel count
	 * with its 8-bit routine, reading past the pixels. */
	if (maxval > 255 && channels != comp)
		return qp_err_set(err, "16-bit %s image, model input takes %d channel%s: convert it to 8 bits first",
				  comp == 3 ? "colour" : "gray", channels, channels == 1 ? "" : "s");
	need = (uint64_t)w * h * (uint64_t)comp * (maxval > 255 ? 2 : 1);
	if (need > len - pos - 1)
		return qp_err_set(err, "PNM pixel data is truncated: %llu bytes, %ux%u needs %llu",
				  (unsigned long long)(len - pos - 1), w, h, (unsigned long long)need);
	return 0;
}

int qp_image_check(const unsigned char *buf, size_t len, int channels, qp_err *err)
{
	if (len >= 8 && memcmp(buf, png_magic, 8) == 0)
		return check_png(buf, len, err);
	if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
		return check_jpeg(buf, len, err);
	if (len >= 2 && buf[0] == 'P' && (buf[1] == '5' || buf[1] == '6'))
		return check_pnm(buf, len, channels, err);
	return 0;
}
