/*
 * io_conn over plain TCP on loopback, server and client in one loop:
 * writes queued before the connect completes, coalescing, on_drain, pause and
 * resume, EOF, refused connections, max_pending, and io_conn_free() from
 * inside every callback (ASan catches a use after free).
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"	/* before base/buf.h: it has a local named buf */
#include "base/buf.h"
#include "io/conn.h"
#include "io/loop.h"
#include "io/net.h"

/* A tiny echo server: accepts, echoes everything, or closes at once / sends a blob. */
enum srv_mode { ECHO, CLOSE_AT_ONCE, BLOB };

static struct srv {
	io_loop *loop;
	int lfd, cfd;
	enum srv_mode mode;
	buf out;
	size_t blob;
	int reads;
} S;

static void srv_flush(void)
{
	while (buf_len(&S.out) > 0) {
		ssize_t w = send(S.cfd, buf_data(&S.out), buf_len(&S.out), MSG_NOSIGNAL);

		if (w <= 0)
			break;
		buf_consume(&S.out, (size_t)w);
	}
	io_loop_set_interest(S.loop, S.cfd, IO_READ | (buf_len(&S.out) ? IO_WRITE : 0));
}

static void srv_conn_cb(io_loop *loop, int fd, unsigned events, void *arg)
{
	uint8_t b[4096];
	ssize_t n;

	(void)loop;
	(void)arg;
	if (events & IO_READ) {
		n = recv(fd, b, sizeof(b), 0);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			io_loop_del_fd(S.loop, fd);
			close(fd);
			S.cfd = -1;
			return;
		}
		S.reads++;
		if (S.mode == ECHO)
			buf_append(&S.out, b, (size_t)n);
	}
	srv_flush();
}

static void srv_accept_cb(io_loop *loop, int fd, unsigned events, void *arg)
{
	int c = io_accept(fd);

	(void)events;
	(void)arg;
	if (c < 0)
		return;
	if (S.mode == CLOSE_AT_ONCE) {
		close(c);
		return;
	}
	S.cfd = c;
	io_loop_add_fd(loop, c, IO_READ, srv_conn_cb, NULL);
	if (S.mode == BLOB) {
		for (size_t i = 0; i < S.blob; i++)
			buf_append_byte(&S.out, (uint8_t)(i % 251));
		srv_flush();
	}
}

static char port[16];

static void srv_start(enum srv_mode mode)
{
	char err[128];

	memset(&S, 0, sizeof(S));
	S.loop = io_loop_new();
	S.mode = mode;
	S.cfd = -1;
	S.lfd = io_listen("127.0.0.1:0", 16, err, sizeof(err));
	CHECK(S.lfd >= 0);
	snprintf(port, sizeof(port), "%d", io_local_port(S.lfd));
	io_loop_add_fd(S.loop, S.lfd, IO_READ, srv_accept_cb, NULL);
}

static void srv_stop(void)
{
	if (S.cfd >= 0) {
		io_loop_del_fd(S.loop, S.cfd);
		close(S.cfd);
	}
	io_loop_del_fd(S.loop, S.lfd);
	close(S.lfd);
	buf_free(&S.out);
	io_loop_free(S.loop);
}

/* Client side record. */
static struct cli {
	io_conn *c;
	int connected, closes, drains;
	char close_err[256];
	bool close_null;
	buf in;
	size_t free_after;	/* io_conn_free once this many bytes arrived (0 = never) */
	bool free_on_connect, free_on_close, pause_on_connect;
	bool freed;
} C;

static void on_connected(io_conn *c, void *arg)
{
	(void)arg;
	C.connected++;
	if (C.pause_on_connect)
		io_conn_pause_read(c, true);
	if (C.free_on_connect) {
		io_conn_free(c);
		C.freed = true;
	}
}

static void on_data(io_conn *c, const uint8_t *p, size_t n, void *arg)
{
	(void)arg;
	buf_append(&C.in, p, n);
	if (C.free_after && buf_len(&C.in) >= C.free_after) {
		io_conn_free(c);
		C.freed = true;
	}
}

static void on_drain(io_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	C.drains++;
}

static void on_close(io_conn *c, const char *error, void *arg)
{
	(void)arg;
	C.closes++;
	C.close_null = error == NULL;
	snprintf(C.close_err, sizeof(C.close_err), "%s", error ? error : "");
	CHECK(!io_conn_is_open(c));
	if (C.free_on_close) {
		io_conn_free(c);
		C.freed = true;
	}
}

static const io_conn_cbs cbs = {on_connected, on_data, on_drain, on_close};

static io_conn *cli_connect(const char *p, size_t max_pending)
{
	io_conn_opts o;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = p;
	o.max_pending = max_pending;
	o.connect_timeout_ms = 5000;
	C.c = io_conn_connect(S.loop, &o, &cbs, NULL, err, sizeof(err));
	return C.c;
}

static void spin(bool (*until)(void))
{
	for (int i = 0; i < 2000 && !until(); i++)
		io_loop_run_once(S.loop, 10);
}

static bool got_5000(void) { return buf_len(&C.in) >= 5000 || C.freed; }
static bool closed(void) { return C.closes > 0 || C.freed; }
static bool connected(void) { return C.connected > 0; }

static void cli_reset(void)
{
	buf_free(&C.in);
	memset(&C, 0, sizeof(C));
}

static void test_echo_queued_before_connect(void)
{
	srv_start(ECHO);
	cli_reset();
	CHECK(cli_connect(port, 0) != NULL);
	CHECK(!io_conn_is_open(C.c));
	CHECK(strncmp(io_conn_peer(C.c), "127.0.0.1:", 10) == 0 && strcmp(io_conn_peer(C.c) + 10, port) == 0);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ_INT(io_conn_write(C.c, "hello", 5), 0);
	CHECK_EQ_INT(io_conn_pending(C.c), 5000);
	spin(got_5000);
	CHECK_EQ_INT(C.connected, 1);
	CHECK_EQ_INT(buf_len(&C.in), 5000);
	CHECK(memcmp(buf_data(&C.in), "hellohello", 10) == 0);
	CHECK_EQ_INT(io_conn_pending(C.c), 0);
	CHECK(C.drains >= 1);
	/* many small writes within a turn become few sends */
	CHECK(S.reads < 50);
	CHECK_EQ_STR(io_conn_tls_suite(C.c), "");
	io_conn_free(C.c);
	CHECK_EQ_INT(C.closes, 0);	/* free never reports a close */
	srv_stop();
	cli_reset();
}

static void test_free_inside_callbacks(void)
{
	srv_start(ECHO);
	cli_reset();
	C.free_after = 5;
	CHECK(cli_connect(port, 0) != NULL);
	CHECK_EQ_INT(io_conn_write(C.c, "hello", 5), 0);
	spin(got_5000);
	CHECK(C.freed);
	srv_stop();

	srv_start(ECHO);
	cli_reset();
	C.free_on_connect = true;
	CHECK(cli_connect(port, 0) != NULL);
	io_conn_write(C.c, "x", 1);
	spin(got_5000);
	CHECK(C.freed);
	CHECK_EQ_INT(C.closes, 0);
	for (int i = 0; i < 5; i++)
		io_loop_run_once(S.loop, 1);
	srv_stop();

	srv_start(CLOSE_AT_ONCE);
	cli_reset();
	C.free_on_close = true;
	CHECK(cli_connect(port, 0) != NULL);
	spin(closed);
	CHECK(C.freed);
	CHECK_EQ_INT(C.closes, 1);
	CHECK(C.close_null || strncmp(C.close_err, "recv: ", 6) == 0);
	srv_stop();
	cli_reset();
}

static void test_eof_and_refused(void)
{
	int probe_fd;
	char refused_port[16];
	char err[128];

	srv_start(CLOSE_AT_ONCE);
	cli_reset();
	CHECK(cli_connect(port, 0) != NULL);
	spin(closed);
	CHECK_EQ_INT(C.closes, 1);
	CHECK_EQ_INT(io_conn_write(C.c, "x", 1), -1);
	io_conn_free(C.c);

	/* a port nobody listens on */
	probe_fd = io_listen("127.0.0.1:0", 1, err, sizeof(err));
	snprintf(refused_port, sizeof(refused_port), "%d", io_local_port(probe_fd));
	close(probe_fd);
	cli_reset();
	if (cli_connect(refused_port, 0) != NULL) {
		spin(closed);
		CHECK_EQ_INT(C.closes, 1);
		CHECK_EQ_STR(C.close_err, "connect: Connection refused");
		CHECK_EQ_INT(C.connected, 0);
		io_conn_free(C.c);
	}
	srv_stop();
	cli_reset();
}

static void test_max_pending(void)
{
	srv_start(ECHO);
	cli_reset();
	CHECK(cli_connect(port, 10) != NULL);
	CHECK_EQ_INT(io_conn_write(C.c, "0123456789x", 11), -1);
	CHECK_EQ_INT(io_conn_write(C.c, "0123456789", 10), 0);
	CHECK_EQ_INT(io_conn_write(C.c, "x", 1), -1);
	CHECK_EQ_INT(io_conn_write(C.c, "", 0), 0);
	io_conn_free(C.c);
	io_conn_free(NULL);
	srv_stop();
	cli_reset();
}

static size_t blob_len;
static bool got_blob(void) { return buf_len(&C.in) >= blob_len; }

static void test_pause_resume(void)
{
	blob_len = 300000;
	srv_start(BLOB);
	S.blob = blob_len;
	cli_reset();
	C.pause_on_connect = true;
	CHECK(cli_connect(port, 0) != NULL);
	spin(connected);
	for (int i = 0; i < 20; i++)
		io_loop_run_once(S.loop, 5);
	CHECK_EQ_INT(buf_len(&C.in), 0);
	io_conn_pause_read(C.c, false);
	spin(got_blob);
	CHECK_EQ_INT(buf_len(&C.in), blob_len);
	{
		bool ok = true;

		for (size_t i = 0; i < buf_len(&C.in); i++)
			if (buf_data(&C.in)[i] != (uint8_t)(i % 251))
				ok = false;
		CHECK(ok);
	}
	io_conn_free(C.c);
	srv_stop();
	cli_reset();
}

static void test_ipv6_brackets(void)
{
	io_conn_opts o;
	io_loop *l = io_loop_new();
	char err[256] = "";
	io_conn *c;

	/* resolves and starts (the connect itself may be refused: no listener, maybe no IPv6) */
	memset(&o, 0, sizeof(o));
	o.host = "[::1]";
	o.port = "9";
	c = io_conn_connect(l, &o, &cbs, NULL, err, sizeof(err));
	CHECK(c != NULL || strncmp(err, "resolve", 7) != 0);
	io_conn_free(c);
	io_loop_free(l);
}

static void test_resolve_failure(void)
{
	io_conn_opts o;
	io_loop *l = io_loop_new();
	char err[256] = "";

	memset(&o, 0, sizeof(o));
	o.host = "no-such-host.invalid";
	o.port = "80";
	CHECK(io_conn_connect(l, &o, &cbs, NULL, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "resolve no-such-host.invalid: ", 30) == 0);
	io_loop_free(l);
}

int main(void)
{
	RUN(test_echo_queued_before_connect);
	RUN(test_free_inside_callbacks);
	RUN(test_eof_and_refused);
	RUN(test_max_pending);
	RUN(test_pause_resume);
	RUN(test_ipv6_brackets);
	RUN(test_resolve_failure);
	return harness_finish();
}
