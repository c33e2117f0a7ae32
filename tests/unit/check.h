/* A tiny TAP unit-test harness: CHECK() records one assertion; TEST() runs
 * a test function and prints "ok N name" / "not ok N name", with every
 * failed CHECK as a "# file:line: expr" diagnostic before it. */
#ifndef QP_TEST_CHECK_H
#define QP_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_tests;
static int check_failed_tests;

#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr)) {                                             \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__,    \
			       __LINE__, #expr);                           \
			check_failures++;                                  \
		}                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		const char *check_a_ = (a), *check_b_ = (b);               \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) { \
			printf("# %s:%d: \"%s\" != \"%s\"\n", __FILE__,    \
			       __LINE__, check_a_ ? check_a_ : "(null)",   \
			       check_b_ ? check_b_ : "(null)");            \
			check_failures++;                                  \
		}                                                          \
	} while (0)

#define TEST(fn)                                                           \
	do {                                                               \
		int check_before_ = check_failures;                        \
		fn();                                                      \
		check_tests++;                                             \
		if (check_failures != check_before_) {                     \
			check_failed_tests++;                              \
			printf("not ok %d %s\n", check_tests, #fn);        \
		} else {                                                   \
			printf("ok %d %s\n", check_tests, #fn);            \
		}                                                          \
		fflush(stdout);                                            \
	} while (0)

/* Call last in main: prints the plan, returns the exit status. */
#define CHECK_DONE() (printf("1..%d\n", check_tests), check_failed_tests ? 1 : 0)

#endif
