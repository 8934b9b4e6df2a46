/*
 * The metrics endpoint's connection policy (issue 18) on a real loopback
 * socket with the loop's clock injected: a request head must be complete
 * within 10 s of its first byte however slowly it drips (no restart per
 * byte); a connection waiting for a request goes after 30 s; at 64
 * connections a newcomer closes the one in its state the longest.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "loop_test_util.h"
#include "base/log.h"
#include "io/loop.h"
#include "worker/metrics.h"


static void advance(io_loop *loop, int64_t ms)
{
	fake_us += ms * 1000;
	turns(loop, 3);
}

/* 1 = still open (nothing or data to read), 0 = the server closed it. */
static int is_open(int fd)
{
	char b[4096];
	ssize_t n;

	while ((n = recv(fd, b, sizeof(b), 0)) > 0)
		;
	if (n == 0)
		return 0;
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

static void send_str(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		CHECK(!"send");
}

static metrics_server *server(io_loop **loop, int *port)
{
	char err[256];
	metrics_server *m;

	*loop = io_loop_new();
	fake_us = 1000000;
	io_loop_set_clock(*loop, fake_clock, NULL);
	m = metrics_server_new(*loop, "127.0.0.1:0", err, sizeof(err));
	CHECK(m != NULL);
	*port = metrics_server_port(m);
	return m;
}

static void test_head_deadline_counts_from_the_first_byte(void)
{
	io_loop *loop;
	int port;
	metrics_server *m = server(&loop, &port);
	int fd = dial(port);

	turns(loop, 5);
	send_str(fd, "GET /me");
	turns(loop, 5);
	for (int i = 0; i < 9; i++) {		/* a byte a second for 9 s: never complete */
		advance(loop, 1000);
		send_str(fd, "t");
		turns(loop, 3);
		CHECK(is_open(fd));
	}
	advance(loop, 999);
	CHECK(is_open(fd));
	advance(loop, 2);			/* 10 s after the first byte */
	turns(loop, 5);
	CHECK(!is_open(fd));
	close(fd);
	metrics_server_free(m);
	io_loop_free(loop);
}

static void test_idle_connection_closed_after_30s_and_answered_before(void)
{
	io_loop *loop;
	int port;
	metrics_server *m = server(&loop, &port);
	int fd = dial(port);
	char b[512];
	ssize_t n;

	turns(loop, 5);
	advance(loop, 29000);
	CHECK(is_open(fd));
	send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	turns(loop, 10);
	n = recv(fd, b, sizeof(b) - 1, 0);
	CHECK(n > 0);
	b[n > 0 ? n : 0] = '\0';
	CHECK(strncmp(b, "HTTP/1.1 200", 12) == 0);
	/* answered: waiting for the next request restarts the 30 s */
	advance(loop, 29000);
	CHECK(is_open(fd));
	advance(loop, 1001);
	turns(loop, 5);
	CHECK(!is_open(fd));
	close(fd);
	metrics_server_free(m);
	io_loop_free(loop);
}

static void test_at_capacity_the_longest_waiting_goes(void)
{
	io_loop *loop;
	int port;
	metrics_server *m = server(&loop, &port);
	int fds[64], extra;
	char b[512];
	ssize_t n;

	for (int i = 0; i < 64; i++) {
		fds[i] = dial(port);
		turns(loop, 2);
		fake_us += 1000;	/* each a millisecond younger than the one before */
	}
	turns(loop, 5);
	extra = dial(port);
	turns(loop, 5);
	CHECK(!is_open(fds[0]));		/* the oldest made room */
	for (int i = 1; i < 64; i++)
		CHECK(is_open(fds[i]));
	send_str(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	turns(loop, 10);
	n = recv(extra, b, sizeof(b) - 1, 0);
	CHECK(n > 12 && strncmp(b, "HTTP/1.1 200", 12) == 0);
	for (int i = 0; i < 64; i++)
		close(fds[i]);
	close(extra);
	metrics_server_free(m);
	io_loop_free(loop);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(test_head_deadline_counts_from_the_first_byte);
	RUN(test_idle_connection_closed_after_30s_and_answered_before);
	RUN(test_at_capacity_the_longest_waiting_goes);
	return harness_finish();
}
