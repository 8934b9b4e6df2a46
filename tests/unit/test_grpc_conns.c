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
#include "h2/frame.h"
#include "h2/hpack.h"
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

static void h_echo(grpc_call *c, void *arg)
{
	size_t len;
	const uint8_t *p = grpc_call_request(c, &len);

	(void)arg;
	grpc_call_reply_bytes(c, p, len);
}

/* Appends a unary call to /t.T/Echo on stream sid: one header block that needs no table. */
static void put_call(buf *out, uint32_t sid)
{
	static const char *const kv[] = {":method", "POST", ":scheme", "http", ":path", "/t.T/Echo",
	    "content-type", "application/grpc", "te", "trailers", NULL};
	static const uint8_t body[] = {0, 0, 0, 0, 2, 'h', 'i'};
	hpack_encoder e;
	buf blk = BUF_INIT;

	hpack_encoder_init(&e, 4096);
	hpack_encode_begin(&e, &blk);
	for (const char *const *p = kv; *p; p += 2)
		hpack_encode_field(&e, &blk, (const uint8_t *)p[0], strlen(p[0]), (const uint8_t *)p[1], strlen(p[1]),
		    HPACK_FIELD_NO_INDEX);
	h2_frame_put_headers(out, sid, 0, buf_data(&blk), buf_len(&blk), 16384, 0, NULL);
	h2_frame_put_data(out, sid, H2_FLAG_END_STREAM, body, sizeof(body), 0);
	buf_free(&blk);
	hpack_encoder_free(&e);
}

/* Whether the bytes read from fd hold the trailers (HEADERS with END_STREAM) of stream sid. */
static int got_trailers(int fd, uint32_t sid)
{
	static uint8_t b[65536];
	ssize_t n, len = 0;

	while ((n = recv(fd, b + len, sizeof(b) - (size_t)len, 0)) > 0)
		len += n;
	for (ssize_t i = 0; i + 9 <= len;) {
		size_t flen = (size_t)b[i] << 16 | (size_t)b[i + 1] << 8 | b[i + 2];
		uint32_t id = (uint32_t)(b[i + 5] & 0x7f) << 24 | (uint32_t)b[i + 6] << 16 | (uint32_t)b[i + 7] << 8 | b[i + 8];

		if (b[i + 3] == H2_FT_HEADERS && (b[i + 4] & H2_FLAG_END_STREAM) && id == sid)
			return 1;
		i += 9 + (ssize_t)flen;
	}
	return 0;
}

/*
 * The server's end of the client socket fd (both ends live in this
 * process): the descriptor whose peer is fd's local address.
 */
static int server_end_of(int fd)
{
	struct sockaddr_in mine, peer;
	socklen_t len = sizeof(mine);

	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&mine, &len), 0);
	for (int i = 3; i < 1024; i++) {
		len = sizeof(peer);
		if (i != fd && getpeername(i, (struct sockaddr *)&peer, &len) == 0 && peer.sin_port == mine.sin_port &&
		    peer.sin_addr.s_addr == mine.sin_addr.s_addr)
			return i;
	}
	return -1;
}

/*
 * Fairness of the read batching (grpc/transport.c reads at most
 * READS_PER_TURN times 64 KiB of one connection per turn): a connection with
 * megabytes of calls queued does not keep another's single call waiting.
 * The quiet one is answered by the next turn while most of the busy one's
 * calls are still unread.
 */
static void test_busy_connection_does_not_starve_another(void)
{
	io_loop *loop;
	int port;
	grpc_server *s = server(&loop, &port, 16);
	int busy, quiet;
	buf flood = BUF_INIT, one = BUF_INIT;
	size_t sent = 0, calls = 0;
	uint64_t before;

	CHECK_EQ_INT(grpc_server_add_method(s, "/t.T/Echo", NULL, h_echo, NULL), 0);
	busy = dial(port);
	quiet = dial(port);
	turns(loop, 3);
	CHECK(send(busy, HELLO, sizeof(HELLO) - 1, MSG_NOSIGNAL) > 0);
	CHECK(send(quiet, HELLO, sizeof(HELLO) - 1, MSG_NOSIGNAL) > 0);
	turns(loop, 3);
	drain(busy, NULL);
	drain(quiet, NULL);
	/* a receive queue as deep as autotuning gives a long-lived busy connection: more than a turn reads */
	{
		int srv = server_end_of(busy), big = 8 << 20;

		CHECK(srv >= 0);
		CHECK_EQ_INT(setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	}
	for (uint32_t sid = 1; buf_len(&flood) < (8u << 20); sid += 2, calls++)
		put_call(&flood, sid);
	/* as much as the socket takes: far more than one turn reads */
	for (;;) {
		ssize_t n = send(busy, buf_data(&flood) + sent, buf_len(&flood) - sent, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	CHECK(sent > (1u << 20));
	put_call(&one, 1);
	CHECK(send(quiet, buf_data(&one), buf_len(&one), MSG_NOSIGNAL) == (ssize_t)buf_len(&one));
	before = stat(s).calls_started;
	io_loop_run_once(loop, 100);	/* both readable: each gets its share of the turn */
	/* the busy one got at most READS_PER_TURN reads of 64 KiB (grpc/transport.c), far from all it sent */
	CHECK(stat(s).calls_started - before > 1);
	CHECK(stat(s).calls_started - before <= 4 * 65536 / (buf_len(&flood) / calls) + 1);	/* + the quiet one */
	io_loop_run_once(loop, 0);	/* the answers written */
	CHECK(got_trailers(quiet, 1));
	close(busy);
	close(quiet);
	buf_free(&flood);
	buf_free(&one);
	grpc_server_free(s);
	io_loop_free(loop);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(test_preface_and_settings_deadline);
	RUN(test_idle_connection_gets_goaway);
	RUN(test_full_table_evicts_the_longest_idle);
	RUN(test_busy_connection_does_not_starve_another);
	return harness_finish();
}
