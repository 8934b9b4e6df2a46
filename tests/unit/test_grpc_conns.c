/*
 * The gRPC server's connection table (issue 18) on real loopback sockets
 * with the loop's clock injected: the preface + SETTINGS deadline, GOAWAY
 * after --max-connection-idle without a stream, and at capacity the
 * newcomer served while the connection idle the longest is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "loop_test_util.h"
#include "base/log.h"
#include "grpc/server.h"
#include "io/loop.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HELLO PREFACE "\x00\x00\x00\x04\x00\x00\x00\x00\x00" "\x00\x00\x00\x04\x01\x00\x00\x00\x00"


static void advance(io_loop *loop, int64_t ms)
{
	fake_us += ms * 1000;
	turns(loop, 4);
}

/* Reads what is there; 1 = still open, 0 = closed.  *goaway gets the GOAWAY error code seen, if any. */
static int drain(int fd, long *goaway)
{
	static uint8_t b[65536];
	ssize_t n, len = 0;

	while ((n = recv(fd, b + len, sizeof(b) - (size_t)len, 0)) > 0)
		len += n;
	for (ssize_t i = 0; goaway && i + 9 <= len;) {
		size_t flen = (size_t)b[i] << 16 | (size_t)b[i + 1] << 8 | b[i + 2];
		if (b[i + 3] == 7 && i + 17 <= len)
			*goaway = (long)b[i + 13] << 24 | (long)b[i + 14] << 16 | (long)b[i + 15] << 8 | b[i + 16];
		i += 9 + (ssize_t)flen;
	}
	if (n == 0)
		return 0;
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

static grpc_server_stats stat(const grpc_server *s)
{
	grpc_server_stats st;

	grpc_server_get_stats(s, &st);
	return st;
}

static grpc_server *server(io_loop **loop, int *port, size_t max_conns)
{
	grpc_server_opts o;
	char err[256];
	grpc_server *s;

	*loop = io_loop_new();
	fake_us = 1000000;
	io_loop_set_clock(*loop, fake_clock, NULL);
	grpc_server_opts_default(&o);
	o.max_conns = max_conns;
	o.max_conns_per_peer = 0;
	o.handshake_timeout_ms = 5000;
	o.max_conn_idle_ms = 60000;
	s = grpc_server_new(*loop, &o);
	CHECK(s != NULL);
	CHECK_EQ_INT(grpc_server_listen(s, "127.0.0.1:0", err, sizeof(err)), 0);
	*port = grpc_server_port(s);
	return s;
}

static void test_preface_and_settings_deadline(void)
{
	io_loop *loop;
	int port;
	grpc_server *s = server(&loop, &port, 10);
	int fd = dial(port);

	turns(loop, 5);
	if (send(fd, "PRI * HT", 8, MSG_NOSIGNAL) < 0)	/* part of the preface, then a byte a second */
		CHECK(!"send");
	for (int i = 0; i < 4; i++) {
		advance(loop, 1000);
		if (send(fd, PREFACE + 8 + i, 1, MSG_NOSIGNAL) < 0)
			CHECK(!"send");
		turns(loop, 3);
		CHECK(drain(fd, NULL));
	}
	advance(loop, 999);
	CHECK(drain(fd, NULL));
	advance(loop, 2);				/* 5 s after accept */
	CHECK(!drain(fd, NULL));
	CHECK_EQ_INT(stat(s).conns_handshake_timeouts, 1);
	CHECK_EQ_INT(stat(s).conns_open, 0);
	close(fd);
	grpc_server_free(s);
	io_loop_free(loop);
}

static void test_idle_connection_gets_goaway(void)
{
	io_loop *loop;
	int port;
	grpc_server *s = server(&loop, &port, 10);
	int fd = dial(port);
	long code = -1;

	turns(loop, 5);
	if (send(fd, HELLO, sizeof(HELLO) - 1, MSG_NOSIGNAL) < 0)
		CHECK(!"send");
	turns(loop, 5);
	advance(loop, 10000);				/* handshaken: the 5 s deadline no longer applies */
	CHECK(drain(fd, &code));
	advance(loop, 49999);
	CHECK(drain(fd, &code));
	CHECK_EQ_INT(code, -1);
	advance(loop, 2);				/* 60 s without a stream */
	turns(loop, 5);
	drain(fd, &code);
	CHECK_EQ_INT(code, 0);				/* GOAWAY NO_ERROR */
	CHECK_EQ_INT(stat(s).conns_idle_closed, 1);
	advance(loop, 1500);				/* closed once written (at most 1 s) */
	CHECK(!drain(fd, NULL));
	CHECK_EQ_INT(stat(s).conns_open, 0);
	close(fd);
	grpc_server_free(s);
	io_loop_free(loop);
}

static void test_full_table_evicts_the_longest_idle(void)
{
	io_loop *loop;
	int port;
	grpc_server *s = server(&loop, &port, 3);
	int fds[3], extra;

	for (int i = 0; i < 3; i++) {
		fds[i] = dial(port);
		turns(loop, 3);
		if (send(fds[i], HELLO, sizeof(HELLO) - 1, MSG_NOSIGNAL) < 0)
			CHECK(!"send");
		turns(loop, 3);
		advance(loop, 100);
	}
	/* fds[0] turns idle first; the others after it */
	extra = dial(port);
	turns(loop, 6);
	CHECK(!drain(fds[0], NULL));
	CHECK(drain(fds[1], NULL));
	CHECK(drain(fds[2], NULL));
	CHECK(drain(extra, NULL));
	CHECK_EQ_INT(stat(s).conns_evicted, 1);
	CHECK_EQ_INT(stat(s).conns_refused, 0);
	CHECK_EQ_INT(stat(s).conns_open, 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(extra);
	grpc_server_free(s);
	io_loop_free(loop);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(test_preface_and_settings_deadline);
	RUN(test_idle_connection_gets_goaway);
	RUN(test_full_table_evicts_the_longest_idle);
	return harness_finish();
}
