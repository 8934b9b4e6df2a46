#include "base/buf.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_free(buf *b)
{
	free(b->base);
	memset(b, 0, sizeof(*b));
}

void buf_set_limit(buf *b, size_t limit)
{
	b->limit = limit;
}

int buf_reserve_slow(buf *b, size_t n)
{
	size_t len = buf_len(b), want, cap;
	uint8_t *p;

	if (n > SIZE_MAX / 2 - len || (b->limit && len + n > b->limit))
		return -1;
	if (b->cap - b->end >= n)
		return 0;
	want = len + n;
	/* Reclaim consumed space first: cheaper than growing when it suffices. */
	if (b->start > 0 && b->cap >= want && (b->start >= len || b->cap - len >= n)) {
		memmove(b->base, b->base + b->start, len);
		b->start = 0;
		b->end = len;
		return 0;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	if (b->start > 0) {
		p = mem_try_alloc(cap);
		if (p == NULL)
			return -1;
		if (len)
			memcpy(p, b->base + b->start, len);
		free(b->base);
	} else {
		p = mem_try_realloc(b->base, cap);
		if (p == NULL)
			return -1;
	}
	b->base = p;
	b->cap = cap;
	b->start = 0;
	b->end = len;
	return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->base + b->end, p, n);
	b->end += n;
	return 0;
}

int buf_append_byte(buf *b, uint8_t c)
{
	return buf_append(b, &c, 1);
}

int buf_append_str(buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0)
		return -1;
	vsnprintf((char *)b->base + b->end, (size_t)n + 1, fmt, ap);
	b->end += (size_t)n;
	return 0;
}

int buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		b->start = b->end = 0;
}

void buf_reset(buf *b)
{
	b->start = b->end = 0;
}

uint8_t *buf_detach(buf *b, size_t *len)
{
	uint8_t *p;

	*len = buf_len(b);
	if (b->start > 0 && *len)
		memmove(b->base, b->base + b->start, *len);
	p = b->base;
	memset(b, 0, sizeof(*b));
	return p;
}
