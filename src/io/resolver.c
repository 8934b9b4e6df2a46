/*
 * The thread only fills the lookup fields and writes one byte into the
 * pipe; the loop's fd callback joins it and only then reads those fields, so
 * no lock is needed: the join orders the thread's writes before the reads.
 */
#include "io/resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/str.h"
#include "io/net.h"

struct io_resolver {
	io_loop *loop;
	io_resolver_done done;
	void *arg;
	char host[256];
	char port[16];
	int pipe[2];
	int busy;
	pthread_t thread;
	/* written by the thread, read after the join */
	int rc;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];
	/* the last completed lookup, read by the loop */
	int have;		/* 0 none yet, 1 ok, -1 failed */
	struct sockaddr_storage last;
	socklen_t last_len;
	char last_err[256];
};

static void *lookup(void *arg)
{
	io_resolver *r = arg;
	ssize_t n;

	r->rc = io_resolve(r->host, r->port, &r->ss, &r->len, r->err, sizeof(r->err));
	do
		n = write(r->pipe[1], "x", 1);
	while (n < 0 && errno == EINTR);
	return NULL;
}

static void on_pipe(io_loop *loop, int fd, unsigned events, void *arg)
{
	io_resolver *r = arg;
	char b[16];

	(void)loop;
	(void)events;
	if (read(fd, b, sizeof(b)) <= 0 || !r->busy)
		return;
	pthread_join(r->thread, NULL);
	r->busy = 0;
	if (r->rc == 0) {
		r->have = 1;
		r->last = r->ss;
		r->last_len = r->len;
		r->last_err[0] = '\0';
	} else {
		r->have = -1;
		str_copy(r->last_err, sizeof(r->last_err), r->err);
	}
	if (r->done)
		r->done(r->arg, r->rc == 0);
}

io_resolver *io_resolver_new(io_loop *loop, const char *host, const char *port, io_resolver_done done, void *arg)
{
	io_resolver *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->done = done;
	r->arg = arg;
	str_copy(r->host, sizeof(r->host), host);
	str_copy(r->port, sizeof(r->port), port);
	if (pipe(r->pipe) < 0) {
		free(r);
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(r->pipe[i], F_SETFD, FD_CLOEXEC);
		fcntl(r->pipe[i], F_SETFL, fcntl(r->pipe[i], F_GETFL) | O_NONBLOCK);
	}
	if (io_loop_add_fd(loop, r->pipe[0], IO_READ, on_pipe, r) < 0) {
		close(r->pipe[0]);
		close(r->pipe[1]);
		free(r);
		return NULL;
	}
	return r;
}

int io_resolver_start(io_resolver *r)
{
	if (r->busy)
		return 1;
	if (pthread_create(&r->thread, NULL, lookup, r) != 0)
		return -1;
	r->busy = 1;
	return 0;
}

int io_resolver_busy(const io_resolver *r)
{
	return r->busy;
}

int io_resolver_result(const io_resolver *r, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errsz)
{
	if (r->have == 1) {
		*ss = r->last;
		*len = r->last_len;
		return 0;
	}
	snprintf(err, errsz, "%s", r->have < 0 ? r->last_err : "");
	return -1;
}

void io_resolver_free(io_resolver *r)
{
	if (r == NULL)
		return;
	if (r->busy)
		pthread_join(r->thread, NULL);
	io_loop_del_fd(r->loop, r->pipe[0]);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r);
}
