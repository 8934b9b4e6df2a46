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
