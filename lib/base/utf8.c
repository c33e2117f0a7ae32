#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid sequence at p (n bytes available), or 0 when the
 * bytes there are not one.  The ranges are RFC 3629's table: the second
 * byte's range after E0, ED, F0 and F4 is what excludes overlongs,
 * surrogates and code points above U+10FFFF. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		len = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;        /* overlong below U+0800 */
		else if (p[0] == 0xED)
			hi = 0x9F;        /* surrogates U+D800..U+DFFF */
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		if (p[0] == 0xF0)
			lo = 0x90;        /* overlong below U+10000 */
		else if (p[0] == 0xF4)
			hi = 0x8F;        /* above U+10FFFF */
	} else
		return 0;             /* continuation byte, C0, C1, F5..FF */
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

size_t qp_utf8_valid_prefix(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0, k;

	while (i < len) {
		if (p[i] < 0x80) {    /* ASCII runs, the common case */
			i++;
			continue;
		}
		k = seq_len(p + i, len - i);
		if (!k)
			break;
		i += k;
	}
	return i;
}

int qp_utf8_valid(const void *s, size_t len)
{
	return qp_utf8_valid_prefix(s, len) == len;
}

int qp_utf8_valid_str(const char *s)
{
	return !s || qp_utf8_valid(s, strlen(s));
}

size_t qp_utf8_escape(char *dst, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0, out = 0;
	int room = size > 0;

	if (room)
		dst[0] = 0;
	while (i < n) {
		size_t k = seq_len(p + i, n - i), w = k ? k : 4;
		const char esc[4] = { '\\', 'x', hex[p[i] >> 4], hex[p[i] & 15] };

		/* A piece that does not fit whole ends the copy. */
		if (room && out + w < size) {
			memcpy(dst + out, k ? (const char *)p + i : esc, w);
			dst[out + w] = 0;
		} else {
			room = 0;
		}
		out += w;
		i += k ? k : 1;
	}
	return out;
}

char *qp_utf8_escape_dup(const char *s)
{
	size_t n = qp_utf8_escape(NULL, 0, s);
	char *d = malloc(n + 1);

	if (d)
		qp_utf8_escape(d, n + 1, s);
	return d;
}

const char *qp_utf8_show(char *buf, const char *s)
{
	size_t n = qp_utf8_escape(buf, QP_UTF8_SHOW_MAX - 3, s);

	if (n >= QP_UTF8_SHOW_MAX - 3)
		strcat(buf, "...");
	return buf;
}
