/*
 * A scripted HTTP/1.1 server for k8s unit tests, on the test's poll loop:
 * each request (head + Content-Length body) gets the next scripted answer,
 * whatever its path; requests are recorded for checks.  Header-only: include
 * once per test program, after harness.h.
 */
#ifndef CPLANE_TEST_FAKE_HTTP_H
#define CPLANE_TEST_FAKE_HTTP_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "io/loop.h"
#include "io/net.h"

#ifndef MAX_STEPS
#define MAX_STEPS 8
#endif

/* One scripted answer: raw response bytes, or close without answering. */
struct step {
	const char *resp;	/* NULL: close the connection as soon as the request arrived */
	int close_after;
};

static struct server {
	io_loop *loop;
	int lfd;
	struct step steps[MAX_STEPS];
	int nsteps, next;
	int accepted;
	char reqs[MAX_STEPS][2048];	/* request heads as received */
	int nreqs;
	struct sconn {
		int fd;
		buf in;
	} c[8];
} S;

static void sconn_close(struct sconn *c)
{
	io_loop_del_fd(S.loop, c->fd);
	close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

static void on_sconn(io_loop *loop, int fd, unsigned ev, void *arg)
{
	struct sconn *c = arg;
	uint8_t tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	(void)loop;
	(void)ev;
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		sconn_close(c);
		return;
	}
	buf_append(&c->in, tmp, (size_t)n);
	for (;;) {
		const char *p = (const char *)buf_data(&c->in);
		size_t len = buf_len(&c->in);
		const char *end = memmem(p, len, "\r\n\r\n", 4);
		if (end == NULL)
			return;
		size_t head = (size_t)(end - p) + 4, body = 0;
		const char *cl = memmem(p, head, "Content-Length: ", 16);
		if (cl)
			body = (size_t)atoi(cl + 16);
		if (len < head + body)
			return;
		if (S.nreqs < MAX_STEPS) {
			size_t k = head + body < sizeof(S.reqs[0]) - 1 ? head + body : sizeof(S.reqs[0]) - 1;
			memcpy(S.reqs[S.nreqs], p, k);
			S.reqs[S.nreqs][k] = '\0';
			S.nreqs++;
		}
		buf_consume(&c->in, head + body);
		struct step *st = S.next < S.nsteps ? &S.steps[S.next++] : NULL;
		if (st == NULL || st->resp == NULL) {
			sconn_close(c);
			return;
		}
		if (write(fd, st->resp, strlen(st->resp)) < 0)
			CHECK(!"server write");
		if (st->close_after) {
			sconn_close(c);
			return;
		}
	}
}

static void on_accept(io_loop *loop, int fd, unsigned ev, void *arg)
{
	int cfd;

	(void)ev;
	(void)arg;
	while ((cfd = io_accept(fd)) >= 0) {
		S.accepted++;
		for (int i = 0; i < 8; i++) {
			if (S.c[i].fd < 0) {
				S.c[i].fd = cfd;
				buf_init(&S.c[i].in);
				io_loop_add_fd(loop, cfd, IO_READ, on_sconn, &S.c[i]);
				cfd = -1;
				break;
			}
		}
		if (cfd >= 0)
			close(cfd);
	}
}

#endif
