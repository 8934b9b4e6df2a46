/* The poll loop: fds, timers, deferred calls, signals, stop. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "io/loop.h"
#include "io/net.h"

static int order[64];
static int norder;

static void record(io_loop *loop, void *arg)
{
	(void)loop;
	order[norder++] = (int)(intptr_t)arg;
}

static void run_until(io_loop *loop, int *flag, int64_t max_ms)
{
	int64_t end = clock_mono_ms() + max_ms;

	while (!*flag && clock_mono_ms() < end)
		io_loop_run_once(loop, 50);
}

static int64_t fake_us = 1000000000;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_us;
}

/* A loop on the injected clock: timers fire when a test moves it, never by waiting. */
static io_loop *fake_loop(void)
{
	io_loop *loop = io_loop_new();

	io_loop_set_clock(loop, fake_clock, NULL);
	return loop;
}

static void advance_ms(io_loop *loop, int64_t ms)
{
	fake_us += ms * 1000;
	io_loop_run_once(loop, 0);
}

static void test_timer_order(void)
{
	io_loop *loop = fake_loop();
	io_timer t[5];
	int64_t delays[5] = { 30, 10, 20, 10, 0 };

	norder = 0;
	for (int i = 0; i < 5; i++) {
		io_timer_init(&t[i], record, (void *)(intptr_t)i);
		io_timer_start(loop, &t[i], delays[i]);
	}
	CHECK_EQ_INT(io_loop_timer_count(loop), 5);
	io_loop_run_once(loop, 0);
	CHECK_EQ_INT(norder, 1);	/* the 0 ms one only */
	advance_ms(loop, 9);
	CHECK_EQ_INT(norder, 1);
	advance_ms(loop, 1);
	CHECK_EQ_INT(norder, 3);
	advance_ms(loop, 20);
	CHECK_EQ_INT(norder, 5);
	CHECK_EQ_INT(io_loop_timer_count(loop), 0);
	/* by deadline, FIFO among equal deadlines */
	CHECK_EQ_INT(order[0], 4);
	CHECK_EQ_INT(order[1], 1);
	CHECK_EQ_INT(order[2], 3);
	CHECK_EQ_INT(order[3], 2);
	CHECK_EQ_INT(order[4], 0);
	io_loop_free(loop);
}

static io_timer cancel_victim;

static void cancel_other(io_loop *loop, void *arg)
{
	(void)arg;
	io_timer_stop(loop, &cancel_victim);
	order[norder++] = 100;
}

static void test_cancel_during_callback(void)
{
	io_loop *loop = fake_loop();
	io_timer first;

	norder = 0;
	/* Both expire in the same turn; the first cancels the second, which must not fire. */
	io_timer_init(&first, cancel_other, NULL);
	io_timer_init(&cancel_victim, record, (void *)7);
	io_timer_start(loop, &first, 1);
	io_timer_start(loop, &cancel_victim, 1);
	advance_ms(loop, 5);
	io_loop_run_once(loop, 0);
	CHECK_EQ_INT(norder, 1);
	CHECK_EQ_INT(order[0], 100);
	CHECK(!io_timer_active(&cancel_victim));
	io_loop_free(loop);
}

static int rearm_count;

static void rearm_self(io_loop *loop, void *arg)
{
	io_timer *t = arg;

	if (++rearm_count < 3)
		io_timer_start(loop, t, 1);
}

static void test_rearm(void)
{
	io_loop *loop = fake_loop();
	io_timer t, u;

	rearm_count = 0;
	io_timer_init(&t, rearm_self, &t);
	io_timer_start(loop, &t, 1);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(rearm_count, i);
		advance_ms(loop, 1);
	}
	CHECK(!io_timer_active(&t));
	CHECK_EQ_INT(rearm_count, 3);
	/* Re-arming an armed timer moves it rather than adding a second entry. */
	norder = 0;
	io_timer_init(&u, record, (void *)9);
	io_timer_start(loop, &u, 100000);
	io_timer_start(loop, &u, 0);
	CHECK_EQ_INT(io_loop_timer_count(loop), 1);
	io_loop_run_once(loop, 0);
	CHECK_EQ_INT(norder, 1);
	CHECK_EQ_INT(io_loop_timer_count(loop), 0);
	io_timer_stop(loop, &u);	/* harmless when not armed */
	io_loop_free(loop);
}

static int64_t last_fire;
static int fired, out_of_order;

static void check_monotonic(io_loop *loop, void *arg)
{
	io_timer *t = arg;

	(void)loop;
	if (t->when < last_fire)
		out_of_order++;
	last_fire = t->when;
	fired++;
}

static void test_10k_timers(void)
{
	enum { N = 10000 };
	io_loop *loop = io_loop_new();
	io_timer *t = calloc(N, sizeof(*t));
	int cancelled = 0;

	fired = out_of_order = 0;
	last_fire = 0;
	srand(1);
	for (int i = 0; i < N; i++) {
		io_timer_init(&t[i], check_monotonic, &t[i]);
		io_timer_start(loop, &t[i], rand() % 40);
	}
	/* cancel every third, re-arm every seventh */
	for (int i = 0; i < N; i += 3) {
		io_timer_stop(loop, &t[i]);
		cancelled++;
	}
	for (int i = 1; i < N; i += 7) {
		if (!io_timer_active(&t[i]))
			cancelled--;	/* re-arming a cancelled timer brings it back */
		io_timer_start(loop, &t[i], rand() % 40);
	}
	CHECK_EQ_INT(io_loop_timer_count(loop), N - cancelled);
	while (io_loop_timer_count(loop) > 0)
		io_loop_run_once(loop, -1);
	CHECK_EQ_INT(fired, N - cancelled);
	CHECK_EQ_INT(out_of_order, 0);
	free(t);
	io_loop_free(loop);
}

static int defer_runs;

static void defer_again(io_loop *loop, void *arg)
{
	(void)arg;
	if (++defer_runs == 1)
		io_loop_defer(loop, defer_again, NULL);	/* runs in the same turn */
}

static void test_defer(void)
{
	io_loop *loop = io_loop_new();

	defer_runs = 0;
	norder = 0;
	io_loop_defer(loop, defer_again, NULL);
	io_loop_defer(loop, record, (void *)5);
	io_loop_defer(loop, record, (void *)6);
	io_loop_cancel_defer(loop, record, (void *)5);
	io_loop_run_once(loop, 0);
	CHECK_EQ_INT(defer_runs, 2);
	CHECK_EQ_INT(norder, 1);
	CHECK_EQ_INT(order[0], 6);
	io_loop_free(loop);
}

struct pipe_ctx {
	int reads, writes, other_fd;
	char got[16];
};

static void on_pipe(io_loop *loop, int fd, unsigned ev, void *arg)
{
	struct pipe_ctx *c = arg;

	if (ev & IO_READ) {
		ssize_t n = read(fd, c->got, sizeof(c->got));
		(void)n;
		c->reads++;
		/* Removing another ready fd from inside a callback must stop its dispatch. */
		io_loop_del_fd(loop, c->other_fd);
	}
	if (ev & IO_WRITE)
		c->writes++;
}

static void test_fd_dispatch_and_removal(void)
{
	io_loop *loop = io_loop_new();
	int a[2], b[2];
	struct pipe_ctx ca = { 0 }, cb = { 0 };

	CHECK_EQ_INT(pipe(a), 0);
	CHECK_EQ_INT(pipe(b), 0);
	ca.other_fd = b[0];
	cb.other_fd = a[0];
	CHECK_EQ_INT(io_loop_add_fd(loop, a[0], IO_READ, on_pipe, &ca), 0);
	CHECK_EQ_INT(io_loop_add_fd(loop, b[0], IO_READ, on_pipe, &cb), 0);
	CHECK_EQ_INT(io_loop_add_fd(loop, a[0], IO_READ, on_pipe, &ca), -1);	/* twice */
	CHECK_EQ_INT(write(a[1], "x", 1), 1);
	CHECK_EQ_INT(write(b[1], "y", 1), 1);
	io_loop_run_once(loop, 100);
	/* exactly one of the two ran: the first removed the other */
	CHECK_EQ_INT(ca.reads + cb.reads, 1);
	/* write interest on a pipe's write end fires; read interest off means no read events */
	CHECK_EQ_INT(io_loop_add_fd(loop, a[1], IO_WRITE, on_pipe, &ca), 0);
	io_loop_run_once(loop, 100);
	CHECK_EQ_INT(ca.writes, 1);
	CHECK_EQ_INT(io_loop_set_interest(loop, a[1], 0), 0);
	io_loop_run_once(loop, 10);
	CHECK_EQ_INT(ca.writes, 1);
	CHECK_EQ_INT(io_loop_interest(loop, a[1]), 0);
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
	io_loop_free(loop);
}

static int got_signal;

static void on_sig(io_loop *loop, int signo, void *arg)
{
	(void)arg;
	got_signal = signo;
	io_loop_stop(loop);
}

static void raise_timer(io_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	kill(getpid(), SIGTERM);
}

static void test_signal_stops_loop(void)
{
	io_loop *loop = io_loop_new();
	io_timer t;
	int64_t start = clock_mono_ms();

	got_signal = 0;
	CHECK_EQ_INT(io_loop_on_signal(loop, SIGTERM, on_sig, NULL), 0);
	io_timer_init(&t, raise_timer, NULL);
	io_timer_start(loop, &t, 5);
	CHECK_EQ_INT(io_loop_run(loop), 0);
	CHECK_EQ_INT(got_signal, SIGTERM);
	CHECK(clock_mono_ms() - start < 5000);
	io_loop_free(loop);
	signal(SIGTERM, SIG_DFL);
}

static void stop_timer(io_loop *loop, void *arg)
{
	(void)arg;
	io_loop_stop(loop);
}

/* The injected clock is the loop's only time: io_loop_now and io_loop_clock_us follow it. */
static void test_injected_clock(void)
{
	io_loop *loop = fake_loop();
	io_timer t;

	norder = 0;
	CHECK_EQ_INT(io_loop_clock_us(loop), fake_us);
	CHECK_EQ_INT(io_loop_now(loop), fake_us / 1000);
	io_timer_init(&t, record, (void *)3);
	io_timer_start(loop, &t, 1000);
	CHECK_EQ_INT(t.when, fake_us / 1000 + 1000);
	fake_us += 999999;
	CHECK_EQ_INT(io_loop_clock_us(loop), fake_us);	/* read live */
	CHECK_EQ_INT(io_loop_now(loop), (fake_us - 999999) / 1000);	/* refreshed per turn */
	CHECK_EQ_INT(io_loop_now_us(loop), fake_us - 999999);
	io_loop_run_once(loop, 0);
	CHECK_EQ_INT(io_loop_now(loop), fake_us / 1000);
	CHECK_EQ_INT(io_loop_now_us(loop), fake_us);	/* to the µs, as the turn began */
	fake_us += 7;
	CHECK_EQ_INT(io_loop_now_us(loop), fake_us - 7);
	fake_us -= 7;
	CHECK_EQ_INT(norder, 0);
	advance_ms(loop, 1);
	CHECK_EQ_INT(norder, 1);
	/* back to CLOCK_MONOTONIC */
	io_loop_set_clock(loop, NULL, NULL);
	{
		int64_t d = io_loop_clock_us(loop) / 1000 - clock_mono_ms();
		CHECK(d >= -5 && d <= 5);
	}
	io_loop_free(loop);
}

/* An idle loop sleeps in poll until the timer (the real clock: what is tested is the sleep). */
static void test_idle_sleeps(void)
{
	io_loop *loop = io_loop_new();
	io_timer t;
	int turns = 0;
	int64_t start = clock_mono_ms();

	io_timer_init(&t, stop_timer, NULL);
	io_timer_start(loop, &t, 50);
	while (!io_loop_stopped(loop)) {
		io_loop_run_once(loop, -1);
		turns++;
	}
	CHECK(turns <= 3);
	CHECK(clock_mono_ms() - start >= 45);
	io_loop_free(loop);
}

struct tcp_ctx {
	int lfd, accepted, connected, done;
	char got[8];
};

static void on_accept(io_loop *loop, int fd, unsigned ev, void *arg)
{
	struct tcp_ctx *c = arg;
	int s;

	(void)ev;
	(void)loop;
	s = io_accept(fd);
	if (s >= 0) {
		c->accepted = s;
		CHECK_EQ_INT(write(s, "pong", 4), 4);
	}
}

static void on_client(io_loop *loop, int fd, unsigned ev, void *arg)
{
	struct tcp_ctx *c = arg;

	if ((ev & IO_WRITE) && !c->connected) {
		CHECK_EQ_INT(io_connect_result(fd), 0);
		c->connected = 1;
		io_loop_set_interest(loop, fd, IO_READ);
		return;
	}
	if (ev & IO_READ) {
		ssize_t n = read(fd, c->got, 4);
		if (n == 4)
			c->done = 1;
	}
}

static void run_tcp(const char *listen_addr, const char *host)
{
	io_loop *loop = io_loop_new();
	struct tcp_ctx c = { .accepted = -1 };
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[256], port[16];
	int cfd;

	c.lfd = io_listen(listen_addr, 16, err, sizeof(err));
	if (c.lfd < 0) {
		fprintf(stderr, "skip %s: %s\n", listen_addr, err);
		io_loop_free(loop);
		return;
	}
	snprintf(port, sizeof(port), "%d", io_local_port(c.lfd));
	CHECK_EQ_INT(io_resolve(host, port, &ss, &sl, err, sizeof(err)), 0);
	cfd = io_connect((struct sockaddr *)&ss, sl);
	CHECK(cfd >= 0);
	io_loop_add_fd(loop, c.lfd, IO_READ, on_accept, &c);
	io_loop_add_fd(loop, cfd, IO_WRITE, on_client, &c);
	run_until(loop, &c.done, 3000);
	CHECK(c.done);
	CHECK_EQ_MEM(c.got, 4, "pong", 4);
	close(cfd);
	if (c.accepted >= 0)
		close(c.accepted);
	close(c.lfd);
	io_loop_free(loop);
}

static void test_tcp_v4_v6(void)
{
	char host[64], port[16];

	run_tcp("127.0.0.1:0", "127.0.0.1");
	run_tcp("[::1]:0", "::1");
	run_tcp(":0", "127.0.0.1");
	CHECK_EQ_INT(io_split_hostport("[::1]:80", host, sizeof(host), port, sizeof(port)), 0);
	CHECK_EQ_STR(host, "::1");
	CHECK_EQ_STR(port, "80");
	CHECK_EQ_INT(io_split_hostport(":50051", host, sizeof(host), port, sizeof(port)), 0);
	CHECK_EQ_STR(host, "");
	CHECK_EQ_INT(io_split_hostport("::1:80", host, sizeof(host), port, sizeof(port)), -1);
	CHECK_EQ_INT(io_split_hostport("host:", host, sizeof(host), port, sizeof(port)), -1);
	CHECK_EQ_INT(io_split_hostport("host:8x", host, sizeof(host), port, sizeof(port)), -1);
	CHECK(io_listen("nonsense", 1, host, sizeof(host)) < 0);
}

int main(void)
{
	RUN(test_timer_order);
	RUN(test_cancel_during_callback);
	RUN(test_rearm);
	RUN(test_10k_timers);
	RUN(test_defer);
	RUN(test_fd_dispatch_and_removal);
	RUN(test_signal_stops_loop);
	RUN(test_injected_clock);
	RUN(test_idle_sleeps);
	RUN(test_tcp_v4_v6);
	return harness_finish();
}
