/*
 * A small unit-test harness: one header, no registration magic.
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   int main(void) { RUN(test_something); return harness_finish(); }
 *
 * Every CHECK counts as one assertion.  A test passes when none of its checks
 * failed.  harness_finish() prints "<program>: N passed, N failed" and returns
 * the process exit status; tests/run-unit.sh sums those lines into the one summary
 * that `make test` ends with.
 */
#ifndef CPLANE_TEST_HARNESS_H
#define CPLANE_TEST_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_passed;
static int harness_failed;
static int harness_current_failed;
static const char *harness_current_name = "";

static inline void harness_fail_at(const char *file, int line, const char *what)
{
	fprintf(stderr, "FAIL %s (%s:%d): %s\n", harness_current_name, file, line, what);
	harness_current_failed++;
}

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			harness_fail_at(__FILE__, __LINE__, #cond); \
	} while (0)

#define CHECK_EQ_INT(got, want) \
	do { \
		long long harness_g_ = (long long)(got), harness_w_ = (long long)(want); \
		if (harness_g_ != harness_w_) { \
			char harness_b_[256]; \
			snprintf(harness_b_, sizeof(harness_b_), "%s == %lld, want %s == %lld", \
			    #got, harness_g_, #want, harness_w_); \
			harness_fail_at(__FILE__, __LINE__, harness_b_); \
		} \
	} while (0)

#define CHECK_EQ_STR(got, want) \
	do { \
		const char *harness_g_ = (got), *harness_w_ = (want); \
		if (harness_g_ == NULL || strcmp(harness_g_, harness_w_) != 0) { \
			char harness_b_[1024]; \
			snprintf(harness_b_, sizeof(harness_b_), "%s == \"%s\", want \"%s\"", \
			    #got, harness_g_ ? harness_g_ : "(null)", harness_w_); \
			harness_fail_at(__FILE__, __LINE__, harness_b_); \
		} \
	} while (0)

/* Compares got[0..got_len) with want[0..want_len) and prints a hex diff point. */
#define CHECK_EQ_MEM(got, got_len, want, want_len) \
	harness_check_mem(__FILE__, __LINE__, #got, (const void *)(got), (size_t)(got_len), \
	    (const void *)(want), (size_t)(want_len))

static inline void harness_check_mem(const char *file, int line, const char *expr,
    const void *got, size_t got_len, const void *want, size_t want_len)
{
	const unsigned char *g = got, *w = want;
	size_t i, n = got_len < want_len ? got_len : want_len;
	char buf[256];

	for (i = 0; i < n && g[i] == w[i]; i++)
		;
	if (i == n && got_len == want_len)
		return;
	snprintf(buf, sizeof(buf), "%s: length %zu want %zu, first difference at byte %zu "
	    "(got 0x%02x want 0x%02x)", expr, got_len, want_len, i,
	    i < got_len ? g[i] : 0, i < want_len ? w[i] : 0);
	harness_fail_at(file, line, buf);
}

/*
 * Lower-case hex (as RFC examples print it, spaces and line breaks allowed)
 * into out; other characters are skipped.  Returns the bytes written.
 */
static inline size_t harness_unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	unsigned hi = 0;
	int half = 0;

	for (; *s; s++) {
		unsigned v;

		if (*s >= '0' && *s <= '9')
			v = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			v = (unsigned)(*s - 'a' + 10);
		else
			continue;
		if (half)
			out[n++] = (uint8_t)(hi << 4 | v);
		else
			hi = v;
		half = !half;
	}
	return n;
}

#define RUN(fn) \
	do { \
		harness_current_name = #fn; \
		harness_current_failed = 0; \
		fn(); \
		if (harness_current_failed) \
			harness_failed++; \
		else \
			harness_passed++; \
	} while (0)

static inline int harness_finish_named(const char *program)
{
	const char *slash = strrchr(program, '/');

	printf("%s: %d passed, %d failed\n", slash ? slash + 1 : program,
	    harness_passed, harness_failed);
	fflush(stdout);
	return harness_failed ? 1 : 0;
}

#define harness_finish() harness_finish_named(__FILE__)

#endif
