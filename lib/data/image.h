/* Image files held in memory, decoded to 8-bit pixels.
 *
 * PNG is decoded by libpng and JPEG by libjpeg-turbo (both Debian,
 * security-supported); BMP and binary PNM (P5 PGM, P6 PPM) are parsed here
 * from their specifications (docs/decisions.md, "Images are decoded by
 * libpng and libjpeg-turbo").  A damaged file is an error, never a crash or
 * pixels made up by the decoder: JPEG data libjpeg would only warn about
 * (truncated, corrupt entropy data) is refused too.
 *
 * Samples wider than 8 bits (16-bit PNG and PGM/PPM, any PNM maxval other
 * than 255) are scaled to 0..255 with rounding: round(v * 255 / maxval).
 * An alpha channel is dropped, never composited.  Colour to gray is
 * (77 R + 150 G + 29 B) >> 8 of the decoded RGB, for every format; gray to
 * colour replicates the value.
 */
#ifndef QP_IMAGE_H
#define QP_IMAGE_H

#include <stddef.h>

#include "err.h"

typedef struct qp_image_info {
	int width, height;
	/* Colour channels in the file, alpha not counted: 1 for gray (also a
	 * BMP whose palette is all gray), 3 for colour (also a PNG palette). */
	int channels;
	const char *format;     /* "PNG", "JPEG", "BMP", "PNM" */
} qp_image_info;

/* Reads only the header of the image in buf (len bytes) into info, so a
 * caller can refuse a size or channel count before anything large is
 * decoded.  0, or -1 and err says what is wrong, without the file name. */
int qp_image_probe(const unsigned char *buf, size_t len, qp_image_info *info, qp_err *err);

/* Decodes the image in buf into *px: height rows of width pixels of
 * channels (1 or 3) interleaved bytes, converted from the file's own
 * channel count as above; the caller free()s *px.  info (optional) is
 * filled as by qp_image_probe.  Refuses images whose decoded size exceeds
 * INT_MAX bytes.  0, or -1 with *px NULL and err set. */
int qp_image_decode(const unsigned char *buf, size_t len, int channels,
		    qp_image_info *info, unsigned char **px, qp_err *err);

#endif
