/*
 * The gRPC client against the gRPC server in one process and one io loop,
 * over loopback: unary, streaming, the queue past the server's stream
 * limit, deadlines and cancellation reaching the server's cancel hooks,
 * protocol violations, connect failure, and reconnection after GOAWAY.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "base/clock.h"
#include "base/mem.h"
#include "grpc/client.h"
#include "grpc/server.h"
#include "io/loop.h"

static io_loop *loop;
static int srv_hooks;

typedef struct outcome {
	int done;
	int status;
	char msg[128];
	int msgs;
	size_t bytes;
	uint8_t first[64];
	size_t first_len;
	char md[32];
} outcome;

static int on_msg(grpc_ccall *k, void *arg, const uint8_t *m, size_t len)
{
	outcome *o = arg;

	(void)k;
	if (o->msgs == 0) {
		o->first_len = len < sizeof(o->first) ? len : sizeof(o->first);
		memcpy(o->first, m, o->first_len);
	}
	o->msgs++;
	o->bytes += len;
	return 0;
}

static void on_done(grpc_ccall *k, void *arg, int status, const char *msg)
{
	outcome *o = arg;
	const char *v = grpc_ccall_metadata_get(k, "x-echo", NULL);

	o->done = 1;
	o->status = status;
	snprintf(o->msg, sizeof(o->msg), "%s", msg);
	snprintf(o->md, sizeof(o->md), "%s", v ? v : "");
}

static void run_until(const int *flag, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (!*flag && clock_mono_ms() < end)
		io_loop_run_once(loop, 10);
}

static int all_done(outcome *o, int n)
{
	for (int i = 0; i < n; i++)
		if (!o[i].done)
			return 0;
	return 1;
}

/* ---- server handlers ---- */

static void h_echo(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *p = grpc_call_request(c, &len);
	size_t vl;
	const char *v = grpc_call_metadata_get(c, "x-in", &vl);

	(void)arg;
	if (v)
		grpc_call_add_metadata(c, 0, "x-echo", v, vl);
	grpc_call_reply_bytes(c, p, len);
}

typedef struct later {
	io_timer t;
	grpc_call *c;
} later;

static void later_fire(io_loop *l, void *arg)
{
	later *x = arg;

	(void)l;
	grpc_call_reply_bytes(x->c, (const uint8_t *)"late", 4);
	free(x);
}

static void later_cancel(grpc_call *c, void *arg)
{
	later *x = arg;

	srv_hooks++;
	io_timer_stop(loop, &x->t);
	free(x);
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void h_later(grpc_call *c, void *arg)	/* replies after 30 ms */
{
	later *x = calloc(1, sizeof(*x));

	(void)arg;
	x->c = c;
	io_timer_init(&x->t, later_fire, x);
	io_timer_start(loop, &x->t, 30);
	grpc_call_set_cancel_hook(c, later_cancel, x);
}

static void hang_hook(grpc_call *c, void *arg)
{
	(void)arg;
	srv_hooks++;
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void h_hang(grpc_call *c, void *arg)
{
	(void)arg;
	grpc_call_set_cancel_hook(c, hang_hook, NULL);
}

static void h_stream(grpc_call *c, void *arg)
{
	uint8_t m[100];

	(void)arg;
	memset(m, 's', sizeof(m));
	for (int i = 0; i < 300; i++)
		grpc_call_send_bytes(c, m, sizeof(m));
	grpc_call_finish(c, GRPC_OK, NULL);
}

static void h_fail(grpc_call *c, void *arg)
{
	(void)arg;
	grpc_call_finish(c, GRPC_ALREADY_EXISTS, "spec: 3 x \"img\" 100%");
}

static grpc_server *start_server(int port)
{
	grpc_server_opts o;
	grpc_server *s;
	char addr[32], err[128];

	grpc_server_opts_default(&o);
	o.max_concurrent_streams = 4;
	s = grpc_server_new(loop, &o);
	grpc_server_add_method(s, "/t.T/Echo", NULL, h_echo, NULL);
	grpc_server_add_method(s, "/t.T/Later", NULL, h_later, NULL);
	grpc_server_add_method(s, "/t.T/Hang", NULL, h_hang, NULL);
	grpc_server_add_method(s, "/t.T/Stream", NULL, h_stream, NULL);
	grpc_server_add_method(s, "/t.T/Fail", NULL, h_fail, NULL);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if (grpc_server_listen(s, addr, err, sizeof(err)) < 0) {
		fprintf(stderr, "listen: %s\n", err);
		grpc_server_free(s);
		return NULL;
	}
	return s;
}

static grpc_client *client_for(int port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return grpc_client_new(loop, (struct sockaddr *)&sa, sizeof(sa), NULL);
}

static void test_calls(void)
{
	grpc_server *s = start_server(0);
	grpc_client *cl = client_for(grpc_server_port(s));
	static const grpc_metadata md[] = {{"x-in", 4, "abc", 3}};
	grpc_call_opts o = {0, md, 1};
	outcome u = {0}, many[40], st = {0}, f = {0};

	memset(many, 0, sizeof(many));
	CHECK(grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"hello", 5, &o, on_msg, on_done, &u) != NULL);
	run_until(&u.done, 5000);
	CHECK_EQ_INT(u.status, GRPC_OK);
	CHECK_EQ_MEM(u.first, u.first_len, "hello", 5);
	CHECK_EQ_STR(u.md, "abc");
	/* 40 calls, the server allows 4 streams: the rest wait in the queue */
	for (int i = 0; i < 40; i++)
		grpc_client_unary(cl, "/t.T/Later", (const uint8_t *)"x", 1, NULL, on_msg, on_done, &many[i]);
	CHECK_EQ_INT(grpc_client_active_calls(cl), 40);
	for (int64_t end = clock_mono_ms() + 10000; !all_done(many, 40) && clock_mono_ms() < end;)
		io_loop_run_once(loop, 10);
	for (int i = 0; i < 40; i++) {
		CHECK_EQ_INT(many[i].status, GRPC_OK);
		CHECK_EQ_MEM(many[i].first, many[i].first_len, "late", 4);
	}
	grpc_client_stream(cl, "/t.T/Stream", (const uint8_t *)"", 0, NULL, on_msg, on_done, &st);
	run_until(&st.done, 5000);
	CHECK_EQ_INT(st.status, GRPC_OK);
	CHECK_EQ_INT(st.msgs, 300);
	CHECK_EQ_INT(st.bytes, 30000);
	/* a unary call answered with several messages is a violation */
	memset(&st, 0, sizeof(st));
	grpc_client_unary(cl, "/t.T/Stream", (const uint8_t *)"", 0, NULL, on_msg, on_done, &st);
	run_until(&st.done, 5000);
	CHECK_EQ_INT(st.status, GRPC_INTERNAL);
	grpc_client_unary(cl, "/t.T/Fail", (const uint8_t *)"", 0, NULL, on_msg, on_done, &f);
	run_until(&f.done, 5000);
	CHECK_EQ_INT(f.status, GRPC_ALREADY_EXISTS);
	CHECK_EQ_STR(f.msg, "spec: 3 x \"img\" 100%");
	memset(&f, 0, sizeof(f));
	grpc_client_unary(cl, "/t.T/Missing", (const uint8_t *)"", 0, NULL, on_msg, on_done, &f);
	run_until(&f.done, 5000);
	CHECK_EQ_INT(f.status, GRPC_UNIMPLEMENTED);
	CHECK_EQ_INT(grpc_client_connects(cl), 1);
	CHECK_EQ_INT(grpc_client_active_calls(cl), 0);
	grpc_client_free(cl);
	grpc_server_free(s);
}

static void test_deadline_and_cancel(void)
{
	grpc_server *s = start_server(0);
	grpc_client *cl = client_for(grpc_server_port(s));
	grpc_call_opts o = {50, NULL, 0};
	outcome d = {0}, c = {0}, q = {0};
	grpc_ccall *k;
	int64_t t0 = clock_mono_ms();

	srv_hooks = 0;
	grpc_client_unary(cl, "/t.T/Hang", (const uint8_t *)"x", 1, &o, on_msg, on_done, &d);
	run_until(&d.done, 5000);
	CHECK_EQ_INT(d.status, GRPC_DEADLINE_EXCEEDED);
	CHECK(clock_mono_ms() - t0 < 2000);
	k = grpc_client_unary(cl, "/t.T/Hang", (const uint8_t *)"x", 1, NULL, on_msg, on_done, &c);
	for (int i = 0; i < 20; i++)
		io_loop_run_once(loop, 5);
	grpc_client_cancel(k);
	CHECK(c.done);
	CHECK_EQ_INT(c.status, GRPC_CANCELLED);
	/* cancelling a call still in the queue */
	k = grpc_client_unary(cl, "/t.T/Hang", (const uint8_t *)"x", 1, NULL, on_msg, on_done, &q);
	grpc_client_cancel(k);
	CHECK(q.done);
	CHECK_EQ_INT(q.status, GRPC_CANCELLED);
	for (int64_t end = clock_mono_ms() + 3000; srv_hooks < 2 && clock_mono_ms() < end;)
		io_loop_run_once(loop, 10);
	CHECK_EQ_INT(srv_hooks, 2);	/* the server saw the deadline's reset and the cancel */
	grpc_client_free(cl);
	grpc_server_free(s);
}

static void test_connect_refused_and_free_with_calls(void)
{
	grpc_server *s = start_server(0);
	int port = grpc_server_port(s);
	grpc_client *cl;
	outcome r = {0}, a = {0};

	grpc_server_free(s);	/* nothing listens there now */
	cl = client_for(port);
	grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"x", 1, NULL, on_msg, on_done, &r);
	run_until(&r.done, 5000);
	CHECK_EQ_INT(r.status, GRPC_UNAVAILABLE);
	/* free with a call in flight: it ends CANCELLED */
	grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"x", 1, NULL, on_msg, on_done, &a);
	grpc_client_free(cl);
	CHECK(a.done);
	CHECK_EQ_INT(a.status, GRPC_CANCELLED);
}

static int shut_done;

static void on_shut(grpc_server *s, void *arg)
{
	(void)s;
	(void)arg;
	shut_done = 1;
}

static void test_reconnect_after_goaway(void)
{
	grpc_server *a = start_server(0), *b = NULL;
	int port = grpc_server_port(a);
	grpc_client *cl = client_for(port);
	outcome first = {0}, inflight = {0}, after = {0};

	grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"1", 1, NULL, on_msg, on_done, &first);
	run_until(&first.done, 5000);
	CHECK_EQ_INT(first.status, GRPC_OK);
	grpc_client_unary(cl, "/t.T/Later", (const uint8_t *)"x", 1, NULL, on_msg, on_done, &inflight);
	for (int i = 0; i < 3; i++)
		io_loop_run_once(loop, 2);
	shut_done = 0;
	grpc_server_shutdown(a, 2000, on_shut, NULL);	/* GOAWAY; listener closed */
	b = start_server(port);				/* a new server on the same port */
	CHECK(b != NULL);
	for (int i = 0; i < 20; i++)
		io_loop_run_once(loop, 5);
	grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"2", 1, NULL, on_msg, on_done, &after);
	run_until(&after.done, 5000);
	run_until(&inflight.done, 5000);
	CHECK_EQ_INT(inflight.status, GRPC_OK);	/* finished on the old connection within the grace */
	CHECK_EQ_INT(after.status, GRPC_OK);
	CHECK_EQ_MEM(after.first, after.first_len, "2", 1);
	CHECK_EQ_INT(grpc_client_connects(cl), 2);
	run_until(&shut_done, 5000);
	CHECK(shut_done);
	grpc_client_free(cl);
	grpc_server_free(a);
	grpc_server_free(b);
}

/*
 * A call's request and metadata are copied into bufs, which grow through
 * the checked allocator: each of those allocations failing in turn makes
 * grpc_client_unary return NULL with no callback (the driver then answers
 * RESOURCE_EXHAUSTED itself); nothing leaks.
 */
static void test_checked_allocations_fail(void)
{
	static const grpc_metadata md[] = {{"authorization", 13, "Bearer t", 8}};
	grpc_call_opts o = {0};
	grpc_client *cl = client_for(1);	/* never connected: no I/O happens before the loop runs */
	unsigned long before = mem_try_calls_for_test(), total;
	outcome r = {0};

	o.md = md;
	o.nmd = 1;
	CHECK(grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"abc", 3, &o, on_msg, on_done, &r) != NULL);
	total = mem_try_calls_for_test() - before;
	CHECK(total >= 2);	/* the request, the metadata */
	for (unsigned long n = 1; n <= total; n++) {
		outcome f = {0};

		mem_try_fail_after_for_test(n);
		CHECK(grpc_client_unary(cl, "/t.T/Echo", (const uint8_t *)"abc", 3, &o, on_msg, on_done, &f) == NULL);
		mem_try_fail_after_for_test(0);
		CHECK(!f.done);
	}
	grpc_client_free(cl);
	CHECK(r.done);
	CHECK_EQ_INT(r.status, GRPC_CANCELLED);
}

int main(void)
{
	loop = io_loop_new();
	RUN(test_calls);
	RUN(test_deadline_and_cancel);
	RUN(test_connect_refused_and_free_with_calls);
	RUN(test_reconnect_after_goaway);
	RUN(test_checked_allocations_fail);
	io_loop_free(loop);
	return harness_finish();
}
