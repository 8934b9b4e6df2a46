/*
 * io_resolver: lookups on a thread, results through the loop.  Only names
 * that resolve without the network (an IP literal; an unknown service name
 * fails in /etc/services), so the tests do not depend on DNS.  The loop waits
 * on the resolver's pipe, never on a timer.
 */
#include "harness.h"

#include <netinet/in.h>

#include "io/loop.h"
#include "io/resolver.h"

static int done_calls, done_ok;

static void on_done(void *arg, int ok)
{
	(void)arg;
	done_calls++;
	done_ok = ok;
}

/* Turns the loop until the lookup reported (bounded: each turn waits on the pipe). */
static void wait_done(io_loop *loop)
{
	for (int i = 0; i < 100 && done_calls == 0; i++)
		io_loop_run_once(loop, 100);
}

static void test_ip_literal(void)
{
	io_loop *loop = io_loop_new();
	io_resolver *r = io_resolver_new(loop, "127.0.0.1", "6443", on_done, NULL);
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[128];

	done_calls = 0;
	CHECK(r != NULL);
	CHECK_EQ_INT(io_resolver_result(r, &ss, &len, err, sizeof(err)), -1);	/* nothing yet */
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(io_resolver_start(r), 0);
	CHECK_EQ_INT(io_resolver_start(r), 1);	/* one at a time */
	CHECK(io_resolver_busy(r));
	wait_done(loop);
	CHECK_EQ_INT(done_calls, 1);
	CHECK_EQ_INT(done_ok, 1);
	CHECK(!io_resolver_busy(r));
	CHECK_EQ_INT(io_resolver_result(r, &ss, &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(ss.ss_family, AF_INET);
	CHECK_EQ_INT(len, sizeof(struct sockaddr_in));
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 6443);
	CHECK_EQ_INT(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x7f000001);
	/* again: a second lookup runs after the first ended */
	done_calls = 0;
	CHECK_EQ_INT(io_resolver_start(r), 0);
	wait_done(loop);
	CHECK_EQ_INT(done_calls, 1);
	io_resolver_free(r);
	io_loop_free(loop);
}

static void test_failure_keeps_reason(void)
{
	io_loop *loop = io_loop_new();
	io_resolver *r = io_resolver_new(loop, "127.0.0.1", "no-such-service-cplane", on_done, NULL);
	struct sockaddr_storage ss;
	socklen_t len;
	char err[128];

	done_calls = 0;
	CHECK_EQ_INT(io_resolver_start(r), 0);
	wait_done(loop);
	CHECK_EQ_INT(done_calls, 1);
	CHECK_EQ_INT(done_ok, 0);
	CHECK_EQ_INT(io_resolver_result(r, &ss, &len, err, sizeof(err)), -1);
	CHECK(err[0] != '\0');
	io_resolver_free(r);
	io_loop_free(loop);
}

/* Freed while a lookup runs: it waits for the thread; nothing leaks (ASan) and no callback runs. */
static void test_free_while_busy(void)
{
	io_loop *loop = io_loop_new();
	io_resolver *r = io_resolver_new(loop, "127.0.0.1", "80", on_done, NULL);

	done_calls = 0;
	CHECK_EQ_INT(io_resolver_start(r), 0);
	io_resolver_free(r);
	io_loop_run_once(loop, 0);
	CHECK_EQ_INT(done_calls, 0);
	io_loop_free(loop);
}

int main(void)
{
	RUN(test_ip_literal);
	RUN(test_failure_keeps_reason);
	RUN(test_free_while_busy);
	return harness_finish();
}
