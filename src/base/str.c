#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

str str_from_cstr(const char *s)
{
	return str_make(s, strlen(s));
}

bool str_eq(str a, str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool str_eq_cstr(str a, const char *b)
{
	return str_eq(a, str_from_cstr(b));
}

static inline char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

bool str_case_eq(str a, str b)
{
	size_t i;

	if (a.len != b.len)
		return false;
	for (i = 0; i < a.len; i++)
		if (ascii_lower(a.p[i]) != ascii_lower(b.p[i]))
			return false;
	return true;
}

bool str_has_prefix(str s, str prefix)
{
	return s.len >= prefix.len && memcmp(s.p, prefix.p, prefix.len) == 0;
}

int str_to_i64(str s, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	if (s.len == 0)
		return -1;
	if (s.p[0] == '-' || s.p[0] == '+') {
		neg = s.p[0] == '-';
		i = 1;
		if (s.len == 1)
			return -1;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return -1;
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Go-style durations: a sequence of <number><unit>, units h m s ms us ns; a bare number is seconds. */
int str_parse_duration_ms(const char *s, int64_t *ms_out)
{
	double total = 0;
	const char *p = s;
	int any = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p) {
		double v = 0, scale = 1, frac = 0.1;
		int digits = 0;

		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				v += (*p++ - '0') * frac;
				frac /= 10;
				digits++;
			}
		}
		if (!digits)
			return -1;
		if (*p == '\0' && !any) {
			scale = 1000;	/* bare number: seconds */
		} else if (p[0] == 'm' && p[1] == 's') {
			scale = 1, p += 2;
		} else if (p[0] == 'u' && p[1] == 's') {
			scale = 0.001, p += 2;
		} else if (p[0] == 'n' && p[1] == 's') {
			scale = 0.000001, p += 2;
		} else if (*p == 'h') {
			scale = 3600000, p++;
		} else if (*p == 'm') {
			scale = 60000, p++;
		} else if (*p == 's') {
			scale = 1000, p++;
		} else {
			return -1;
		}
		total += v * scale;
		if (total > 9.2e15)
			return -1;
		any = 1;
	}
	*ms_out = (int64_t)(total + 0.5);
	return 0;
}

char *str_dup(str s)
{
	char *p = xmalloc(s.len + 1);

	if (s.len)
		memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	return p;
}

size_t str_copy(char *dst, size_t dstsz, const char *s)
{
	size_t n = strlen(s);

	if (dstsz) {
		size_t c = n < dstsz - 1 ? n : dstsz - 1;
		memcpy(dst, s, c);
		dst[c] = '\0';
	}
	return n;
}

void str_errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}
