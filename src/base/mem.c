#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long fail_after;	/* 0 = never */

void mem_fail_after_for_test(unsigned long n)
{
	fail_after = n;
}

static int should_fail(void)
{
	return fail_after != 0 && --fail_after == 0;
}

static void *check(void *p, size_t n)
{
	static const char msg[] = "cplane: out of memory (allocating ";
	char num[32];
	int len;

	if (p != NULL)
		return p;
	/* No stdio buffers, no allocation: write(2) what little there is to say. */
	len = snprintf(num, sizeof(num), "%zu bytes)\n", n);
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, num, (size_t)len) < 0)
		abort();
	abort();
}

void *xmalloc(size_t n)
{
	return check(should_fail() ? NULL : malloc(n ? n : 1), n);
}

void *xcalloc(size_t n, size_t size)
{
	return check(should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1), n * size);
}

void *xrealloc(void *p, size_t n)
{
	return check(should_fail() ? NULL : realloc(p, n ? n : 1), n);
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static unsigned long try_fail_after, try_calls;	/* 0 = never */

void mem_try_fail_after_for_test(unsigned long n)
{
	try_fail_after = n;
}

unsigned long mem_try_calls_for_test(void)
{
	return try_calls;
}

static int try_should_fail(void)
{
	try_calls++;
	return try_fail_after != 0 && --try_fail_after == 0;
}

void *mem_try_alloc(size_t n)
{
	return try_should_fail() ? NULL : malloc(n ? n : 1);
}

void *mem_try_realloc(void *p, size_t n)
{
	return try_should_fail() ? NULL : realloc(p, n ? n : 1);
}
