/* Image structure checks (lib/imgcheck.c).  The files are built here from
 * the format specifications (PNG chunks with zlib's crc32 and compress,
 * JPEG segments and PNM headers byte by byte); the expected sizes are
 * hand-calculated in the comments. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "imgcheck.h"

static size_t put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return 4;
}

static size_t put_chunk(unsigned char *p, const char *type, const unsigned char *data, uint32_t n)
{
	size_t k = put32(p, n);

	memcpy(p + k, type, 4);
	if (n)
		memcpy(p + k + 4, data, n);
	k += 4 + n;
	return k + put32(p + k, (uint32_t)crc32(crc32(0L, Z_NULL, 0), p + 4, n + 4));
}

/* A gray 8-bit w x h PNG whose IDAT holds raw_len bytes of raw (zeros) and
 * whose zlib stream is cut to keep of its bytes (0: all). */
static size_t make_png(unsigned char *out, uint32_t w, uint32_t h, int interlaced,
		       size_t raw_len, size_t keep)
{
	static const unsigned char magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned char ihdr[13], raw[256] = {0}, z[512];
	uLongf zlen = sizeof z;
	size_t k = 8;

	memcpy(out, magic, 8);
	put32(ihdr, w);
	put32(ihdr + 4, h);
	ihdr[8] = 8, ihdr[9] = 0, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = (unsigned char)interlaced;
	k += put_chunk(out + k, "IHDR", ihdr, 13);
	compress(z, &zlen, raw, raw_len);
	k += put_chunk(out + k, "IDAT", z, (uint32_t)(keep ? keep : zlen));
	return k + put_chunk(out + k, "IEND", NULL, 0);
}

static void test_png(void)
{
	unsigned char png[1024];
	qp_err err = {{0}};
	char want[64];
	size_t n;

	/* 2x2 gray 8-bit: 2 rows of 1 filter byte + 2 pixels = 6 bytes */
	n = make_png(png, 2, 2, 0, 6, 0);
	CHECK(qp_image_check(png, n, 1, &err) == 0);
	n = make_png(png, 2, 2, 0, 5, 0);
	CHECK(qp_image_check(png, n, 1, &err) == -1);
	CHECK_STR(err.msg, "PNG image data holds 5 bytes, a 2x2 image needs 6");
	/* Adam7 on 2x2: pass 1 (1x1) 2 bytes, pass 6 (1x1) 2, pass 7 (2x1) 3 = 7 */
	n = make_png(png, 2, 2, 1, 7, 0);
	CHECK(qp_image_check(png, n, 1, &err) == 0);
	n = make_png(png, 2, 2, 1, 6, 0);
	CHECK(qp_image_check(png, n, 1, &err) == -1);
	CHECK_STR(err.msg, "PNG image data holds 6 bytes, a 2x2 image needs 7");
	/* a zlib stream cut short (its chunk CRC recomputed) */
	n = make_png(png, 2, 2, 0, 6, 5);
	CHECK(qp_image_check(png, n, 1, &err) == -1);
	CHECK_STR(err.msg, "PNG image data ends early (truncated file?)");
	/* one flipped bit in the IHDR data: the CRC no longer matches */
	n = make_png(png, 2, 2, 0, 6, 0);
	png[16] ^= 1;
	CHECK(qp_image_check(png, n, 1, &err) == -1);
	CHECK_STR(err.msg, "PNG chunk 'IHDR' at byte 8 has a bad CRC (corrupt file)");
	/* a damaged ancillary chunk (tEXt) is skipped, as libpng does */
	{
		unsigned char text[4] = {'a', 0, 'b', 'c'};
		size_t k = 33;   /* after the signature and IHDR */

		n = make_png(png, 2, 2, 0, 6, 0);
		memmove(png + k + 16, png + k, n - k);
		put_chunk(png + k, "tEXt", text, 4);
		png[k + 8] ^= 1;   /* data byte: the CRC no longer matches */
		CHECK(qp_image_check(png, n + 16, 1, &err) == 0);
	}
	/* a file cut inside the IEND chunk, the last 12 bytes */
	n = make_png(png, 2, 2, 0, 6, 0);
	CHECK(qp_image_check(png, n - 3, 1, &err) == -1);
	snprintf(want, sizeof want, "truncated PNG chunk at byte %zu", n - 12);
	CHECK_STR(err.msg, want);
}

static void test_png_bad_deflate(void)
{
	unsigned char png[256], ihdr[13] = {0};
	/* zlib header 78 01, then a fixed-Huffman block (BFINAL=1, BTYPE=01)
	 * whose first code is 11000110 = literal/length 286, which DEFLATE
	 * (RFC 1951 3.2.6) reserves: zlib says "invalid literal/length code". */
	unsigned char z[] = {0x78, 0x01, 0x1b, 0x03, 0x00};
	qp_err err = {{0}};
	size_t k = 8;

	memcpy(png, "\x89PNG\r\n\x1a\n", 8);
	put32(ihdr, 1);
	put32(ihdr + 4, 1);
	ihdr[8] = 8;
	k += put_chunk(png + k, "IHDR", ihdr, 13);
	k += put_chunk(png + k, "IDAT", z, sizeof z);
	CHECK(qp_image_check(png, k, 1, &err) == -1);
	CHECK_STR(err.msg, "PNG image data is not a valid zlib stream (invalid literal/length code)");
}

static void test_jpeg(void)
{
	/* SOI, DHT with the T.81 table K.3 (luminance DC: counts 0 1 5 1 1 1
	 * 1 1 1 0..., 12 symbols), EOI */
	unsigned char ok[] = {0xff, 0xd8, 0xff, 0xc4, 0x00, 0x1f, 0x00,
			      0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0,
			      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff, 0xd9};
	/* 3 codes of length 1 cannot exist */
	unsigned char over[] = {0xff, 0xd8, 0xff, 0xc4, 0x00, 0x16, 0x00,
				3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				1, 2, 3, 0xff, 0xd9};
	/* a segment length past the end of the file */
	unsigned char longseg[] = {0xff, 0xd8, 0xff, 0xe0, 0x01, 0x00, 0x00};
	/* a scan: SOS header, entropy data with a stuffed 0xff00 and a
	 * restart marker, then a DHT with class 2 after the scan */
	unsigned char scan[] = {0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 63, 0,
				0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56,
				0xff, 0xc4, 0x00, 0x13, 0x20, 0, 0, 0, 0, 0, 0, 0, 0,
				0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd9};
	qp_err err = {{0}};

	CHECK(qp_image_check(ok, sizeof ok, 3, &err) == 0);
	CHECK(qp_image_check(over, sizeof over, 3, &err) == -1);
	CHECK_STR(err.msg, "JPEG Huffman table has more codes of length 1 than fit");
	CHECK(qp_image_check(longseg, sizeof longseg, 3, &err) == -1);
	CHECK_STR(err.msg, "JPEG segment 0xffe0 at byte 2 runs past the end of the file");
	CHECK(qp_image_check(scan, sizeof scan, 3, &err) == -1);
	CHECK_STR(err.msg, "JPEG Huffman table has class 2, id 0");
}

static void test_pnm(void)
{
	unsigned char buf[64] = "P5\n# comment\n3 2\n255\n";
	size_t head = strlen((char *)buf);
	qp_err err = {{0}};

	/* 3x2 gray 8-bit: 6 pixel bytes after the header */
	CHECK(qp_image_check(buf, head + 6, 1, &err) == 0);
	CHECK(qp_image_check(buf, head + 5, 1, &err) == -1);
	CHECK_STR(err.msg, "PNM pixel data is truncated: 5 bytes, 3x2 needs 6");
	/* 16 bits: 12 bytes; fine for one channel, refused for three */
	memcpy(buf, "P5 3 2 65535\n", 13);
	CHECK(qp_image_check(buf, 13 + 12, 1, &err) == 0);
	CHECK(qp_image_check(buf, 13 + 12, 3, &err) == -1);
	CHECK_STR(err.msg, "16-bit gray image, model input takes 3 channels: convert it to 8 bits first");
	memcpy(buf, "P6 0 2 255\n", 11);
	CHECK(qp_image_check(buf, 11 + 12, 3, &err) == -1);
	CHECK_STR(err.msg, "PNM size 0x2 is outside 1..16777216");
	memcpy(buf, "P6 99999999999 2 255\n", 21);
	CHECK(qp_image_check(buf, 40, 3, &err) == -1);
	CHECK_STR(err.msg, "PNM header is damaged (width, height and maximum value expected)");
}

/* Formats the check does not know pass through to stb_image. */
static void test_other(void)
{
	qp_err err = {{0}};

	CHECK(qp_image_check((const unsigned char *)"BM", 2, 3, &err) == 0);
	CHECK(qp_image_check((const unsigned char *)"", 0, 3, &err) == 0);
}

int main(void)
{
	TEST(test_png);
	TEST(test_png_bad_deflate);
	TEST(test_jpeg);
	TEST(test_pnm);
	TEST(test_other);
	return CHECK_DONE();
}
