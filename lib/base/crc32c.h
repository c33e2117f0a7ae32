/* CRC-32C (Castagnoli), the checksum in the .ir trailer (docs/ir.md). */
#ifndef QP_CRC32C_H
#define QP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a checksum: start with crc = 0, feed the bytes in any number of
 * pieces, the result is the CRC-32C of their concatenation (init and xorout
 * 0xFFFFFFFF are applied inside, like zlib's crc32). */
uint32_t qp_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
