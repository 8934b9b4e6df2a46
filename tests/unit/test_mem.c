/*
 * base/mem: x*alloc never return NULL; an allocation that fails ends the
 * process with SIGABRT and a line on stderr (checked in a child process).
 */
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"

static void test_ordinary_use(void)
{
	char *p = xmalloc(16), *q = xcalloc(4, 4), *r = xstrdup("cluster");
	int zero = 1;

	for (int i = 0; i < 16; i++)
		zero &= q[i] == 0;
	CHECK(zero);
	CHECK_EQ_STR(r, "cluster");
	p = xrealloc(p, 4096);
	p[4095] = 1;
	free(p);
	p = xmalloc(0);		/* a size of 0 is a valid, freeable pointer, not a failure */
	CHECK(p != NULL);
	free(p);
	free(q);
	free(r);
}

/* Runs fn in a child with the n-th allocation failing; returns its wait status and what it wrote to stderr. */
static int in_child(void (*fn)(void), unsigned long n, char *err, size_t errsz)
{
	int fds[2], status = 0;
	pid_t pid;
	ssize_t got = 0, k;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		mem_fail_after_for_test(n);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)errsz - 1 && (k = read(fds[0], err + got, errsz - 1 - (size_t)got)) > 0)
		got += k;
	err[got] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return status;
}

static void three_allocations(void)
{
	void *a = xmalloc(8), *b = xcalloc(2, 8), *c = xrealloc(NULL, 24);

	free(a);
	free(b);
	free(c);
}

static void test_failure_aborts(void)
{
	char err[256];

	/* the first, second and third allocation failing: abort each time, saying why */
	for (unsigned long n = 1; n <= 3; n++) {
		int st = in_child(three_allocations, n, err, sizeof(err));
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
		CHECK(strncmp(err, "cplane: out of memory (allocating ", 34) == 0);
	}
	/* past the last allocation nothing fails */
	CHECK_EQ_INT(in_child(three_allocations, 4, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
}

/* The checked allocator: the n-th call fails, the others do not, nor do x*alloc. */
static void test_try_fails_from_nth(void)
{
	unsigned long before = mem_try_calls_for_test();
	void *a, *b, *c, *x;

	mem_try_fail_after_for_test(2);
	a = mem_try_alloc(8);
	b = mem_try_alloc(8);
	x = xmalloc(8);		/* unaffected */
	c = mem_try_realloc(a, 64);
	CHECK(a != NULL);
	CHECK(b == NULL);
	CHECK(c != NULL);
	CHECK(x != NULL);
	CHECK_EQ_INT(mem_try_calls_for_test() - before, 3);
	a = c;
	mem_try_fail_after_for_test(1);
	c = mem_try_realloc(a, 128);
	CHECK(c == NULL);	/* a stays valid, as realloc leaves it */
	c = mem_try_realloc(a, 128);
	CHECK(c != NULL);
	free(c);
	free(x);
}

/* A buf that cannot grow says -1 and keeps what it had. */
static void test_buf_growth_fails(void)
{
	buf b = BUF_INIT;

	CHECK_EQ_INT(buf_append(&b, "abc", 3), 0);
	mem_try_fail_after_for_test(1);
	CHECK_EQ_INT(buf_reserve(&b, 4096), -1);
	CHECK_EQ_INT(buf_append(&b, "x", 1), 0);	/* room it already had needs no allocation */
	mem_try_fail_after_for_test(1);
	CHECK_EQ_INT(buf_len(&b), 4);
	CHECK(memcmp(buf_data(&b), "abcx", 4) == 0);
	buf_consume(&b, 1);
	CHECK_EQ_INT(buf_append(&b, "", 0), 0);
	{
		static uint8_t big[8192];

		CHECK_EQ_INT(buf_append(&b, big, sizeof(big)), -1);	/* a fresh block (start > 0) fails too */
	}
	CHECK_EQ_INT(buf_len(&b), 3);
	CHECK(memcmp(buf_data(&b), "bcx", 3) == 0);
	mem_try_fail_after_for_test(0);
	CHECK_EQ_INT(buf_reserve(&b, 4096), 0);
	buf_free(&b);
}

int main(void)
{
	RUN(test_try_fails_from_nth);
	RUN(test_buf_growth_fails);
	RUN(test_ordinary_use);
	RUN(test_failure_aborts);
	return harness_finish();
}
