/*
 * Small string helpers.  A str is a view (pointer + length) into memory owned
 * by someone else; its lifetime is that memory's.
 */
#ifndef CPLANE_BASE_STR_H
#define CPLANE_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct str {
	const char *p;
	size_t len;
} str;

#define STR_LIT(s) ((str){(s), sizeof(s) - 1})

static inline str str_make(const char *p, size_t len) { str s = {p, len}; return s; }
str str_from_cstr(const char *s);
bool str_eq(str a, str b);
bool str_eq_cstr(str a, const char *b);
/* ASCII case-insensitive comparison (HTTP header names). */
bool str_case_eq(str a, str b);
bool str_has_prefix(str s, str prefix);
/* Parses a decimal int64 from the whole of s; returns 0 or -1 (empty, junk, overflow). */
int str_to_i64(str s, int64_t *out);
/* Parses a duration such as "5m", "2m30s", "1.5s", "250ms", "10" (seconds); returns 0 or -1. */
int str_parse_duration_ms(const char *s, int64_t *ms_out);
/* strdup of a view, NUL-terminated; never NULL (xmalloc, base/mem.h). */
char *str_dup(str s);
/* Copies s into dst of size dstsz, always NUL-terminating; returns strlen(s) (truncation if >= dstsz). */
size_t str_copy(char *dst, size_t dstsz, const char *s);
/* Formats into err (errsz bytes, truncating); err == NULL or errsz == 0 writes nothing. */
void str_errf(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * a[0..n) == b[0..n).  For the short names and values of the per-call path
 * (header names, method paths): musl's memcmp goes a byte at a time and the
 * release build (-Os) calls it even for constant lengths; this compares
 * words, and inlines.
 */
static inline __attribute__((always_inline)) bool mem_eq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	uint64_t u, v;
	uint32_t s, t;

	for (; n >= 8; x += 8, y += 8, n -= 8) {
		memcpy(&u, x, 8);
		memcpy(&v, y, 8);
		if (u != v)
			return false;
	}
	if (n >= 4) {	/* 4..7 left: two overlapping words */
		memcpy(&s, x, 4);
		memcpy(&t, y, 4);
		if (s != t)
			return false;
		memcpy(&s, x + n - 4, 4);
		memcpy(&t, y + n - 4, 4);
		return s == t;
	}
	for (; n; n--)
		if (*x++ != *y++)
			return false;
	return true;
}

#endif
