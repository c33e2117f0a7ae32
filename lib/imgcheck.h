/* Structural checks of image files before stb_image decodes them.
 *
 * Debian 12 ships stb_image 2.27, whose decoders trust fields that later
 * versions check (docs/decisions.md, "Images: checked before stb_image
 * decodes them"): an over-long JPEG Huffman table writes past its array,
 * an invalid deflate code in a PNG reads past a table, a truncated PNM
 * yields uninitialised pixels.  qp_image_check walks the container of a
 * PNG, JPEG or PNM held in memory and refuses what those decoders would
 * mishandle; anything else (BMP) passes through unchanged.
 */
#ifndef QP_IMGCHECK_H
#define QP_IMGCHECK_H

#include <stddef.h>

#include "err.h"

/* 0 when buf (len bytes) may be handed to stb_image to be decoded into
 * channels (1 or 3) channels; else -1 and err says what is wrong, without
 * the file name. */
int qp_image_check(const unsigned char *buf, size_t len, int channels, qp_err *err);

#endif
