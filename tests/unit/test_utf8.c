/* Unit tests for lib/base/utf8.c: the strict UTF-8 validator (RFC 3629) and the
 * \xNN escaping used by history entries and error messages. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "utf8.h"

static int valid(const char *s)
{
	return qp_utf8_valid(s, strlen(s));
}

static void test_valid(void)
{
	CHECK(valid(""));
	CHECK(valid("conv1/weight:0"));
	CHECK(valid("\x7f"));
	CHECK(valid("\xc2\x80"));                 /* U+0080, smallest 2-byte */
	CHECK(valid("caf\xc3\xa9"));              /* é */
	CHECK(valid("\xdf\xbf"));                 /* U+07FF */
	CHECK(valid("\xe0\xa0\x80"));             /* U+0800, smallest 3-byte */
	CHECK(valid("\xe2\x82\xac"));             /* € */
	CHECK(valid("\xed\x9f\xbf"));             /* U+D7FF, just below surrogates */
	CHECK(valid("\xee\x80\x80"));             /* U+E000, just above */
	CHECK(valid("\xef\xbf\xbf"));             /* U+FFFF */
	CHECK(valid("\xf0\x90\x80\x80"));         /* U+10000, smallest 4-byte */
	CHECK(valid("\xf0\x9f\x98\x80"));         /* U+1F600 */
	CHECK(valid("\xf4\x8f\xbf\xbf"));         /* U+10FFFF, the largest */
	CHECK(qp_utf8_valid("a\0b", 3));          /* U+0000 is UTF-8 */
	CHECK(qp_utf8_valid_str(NULL));
	CHECK(qp_utf8_valid_str("\xe6\x97\xa5\xe6\x9c\xac"));
}

static void test_invalid(void)
{
	/* lone and stray bytes */
	CHECK(!valid("\x80"));
	CHECK(!valid("\xbf"));
	CHECK(!valid("\xff"));
	CHECK(!valid("\xfe"));
	CHECK(!valid("a\xffz"));
	/* overlong forms */
	CHECK(!valid("\xc0\x80"));                /* U+0000 in 2 bytes */
	CHECK(!valid("\xc0\xaf"));                /* '/' in 2 bytes */
	CHECK(!valid("\xc1\xbf"));
	CHECK(!valid("\xe0\x80\xaf"));            /* '/' in 3 bytes */
	CHECK(!valid("\xe0\x9f\xbf"));            /* U+07FF in 3 bytes */
	CHECK(!valid("\xf0\x80\x80\xaf"));        /* '/' in 4 bytes */
	CHECK(!valid("\xf0\x8f\xbf\xbf"));        /* U+FFFF in 4 bytes */
	/* UTF-16 surrogates, alone and paired (CESU-8) */
	CHECK(!valid("\xed\xa0\x80"));            /* U+D800 */
	CHECK(!valid("\xed\xbf\xbf"));            /* U+DFFF */
	CHECK(!valid("\xed\xa0\xbd\xed\xb8\x80"));
	/* beyond U+10FFFF, and the old 5- and 6-byte forms */
	CHECK(!valid("\xf4\x90\x80\x80"));        /* U+110000 */
	CHECK(!valid("\xf5\x80\x80\x80"));
	CHECK(!valid("\xf7\xbf\xbf\xbf"));
	CHECK(!valid("\xf8\x88\x80\x80\x80"));
	CHECK(!valid("\xfc\x84\x80\x80\x80\x80"));
	/* truncated sequences, at the end and in the middle */
	CHECK(!valid("\xc3"));
	CHECK(!valid("\xe2\x82"));
	CHECK(!valid("\xf0\x9f\x98"));
	CHECK(!valid("\xe2\x82z"));
	CHECK(!valid("\xf0\x9f\x98z"));
	CHECK(!qp_utf8_valid("\xc3\xa9", 1));     /* cut by the length */
	/* a continuation byte where a lead is expected after a whole char */
	CHECK(!valid("\xc3\xa9\xa9"));
	CHECK(!qp_utf8_valid_str("ok\xed\xa0\x80"));
}

static void test_prefix(void)
{
	CHECK(qp_utf8_valid_prefix("abc", 3) == 3);
	CHECK(qp_utf8_valid_prefix("ab\xff", 3) == 2);
	CHECK(qp_utf8_valid_prefix("\xc3\xa9\xe2\x82", 4) == 2);
	CHECK(qp_utf8_valid_prefix("\xf0\x9f\x98\x80!", 5) == 5);
	CHECK(qp_utf8_valid_prefix("", 0) == 0);
}

static void test_escape(void)
{
	char buf[64], *d;

	CHECK(qp_utf8_escape(buf, sizeof buf, "plain.ir") == 8);
	CHECK_STR(buf, "plain.ir");
	CHECK(qp_utf8_escape(buf, sizeof buf, "\xff.ir") == 7);
	CHECK_STR(buf, "\\xff.ir");
	/* valid characters are kept, each bad byte is escaped on its own */
	qp_utf8_escape(buf, sizeof buf, "caf\xc3\xa9-\xe2\x82-\xed\xa0\x80");
	CHECK_STR(buf, "caf\xc3\xa9-\\xe2\\x82-\\xed\\xa0\\x80");
	qp_utf8_escape(buf, sizeof buf, "\xc0\xaf\xf0\x9f\x98\x80");
	CHECK_STR(buf, "\\xc0\\xaf\xf0\x9f\x98\x80");
	CHECK(valid(buf));
	qp_utf8_escape(buf, sizeof buf, NULL);
	CHECK_STR(buf, "");
	/* snprintf-like: the needed length, never a split escape or char */
	CHECK(qp_utf8_escape(NULL, 0, "\xff\xfe") == 8);
	CHECK(qp_utf8_escape(buf, 6, "\xff\xfe") == 8);
	CHECK_STR(buf, "\\xff");
	CHECK(qp_utf8_escape(buf, 4, "a\xf0\x9f\x98\x80") == 5);
	CHECK_STR(buf, "a");
	d = qp_utf8_escape_dup("x\x80y");
	CHECK_STR(d, "x\\x80y");
	free(d);
}

static void test_show(void)
{
	char buf[QP_UTF8_SHOW_MAX], big[400];

	CHECK_STR(qp_utf8_show(buf, "\xff"), "\\xff");
	memset(big, 0xff, sizeof big - 1);
	big[sizeof big - 1] = 0;
	qp_utf8_show(buf, big);
	CHECK(strlen(buf) < QP_UTF8_SHOW_MAX);
	CHECK(strcmp(buf + strlen(buf) - 3, "...") == 0);
	CHECK(strncmp(buf, "\\xff\\xff", 8) == 0);
	CHECK(valid(buf));
}

int main(void)
{
	TEST(test_valid);
	TEST(test_invalid);
	TEST(test_prefix);
	TEST(test_escape);
	TEST(test_show);
	return CHECK_DONE();
}
