#include "io/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define ACCEPTS_PER_TURN 64

static int out_of_resources(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static void resume_cb(io_loop *loop, void *arg)
{
	io_listener *l = arg;

	if (l->fd >= 0)
		io_loop_set_interest(loop, l->fd, IO_READ);
}

static void pause_for_a_while(io_listener *l, int e)
{
	int64_t now = io_loop_now(l->loop);

	if (l->delay_ms == 0)
		l->delay_ms = IO_LISTENER_BACKOFF_MIN_MS;
	l->shortages++;
	/* One line per shortage: a shortage flaps (a freed descriptor is taken at once), so lines are spaced. */
	if (l->logged_at == 0 || now - l->logged_at >= IO_LISTENER_LOG_EVERY_MS) {
		char ms[24], n[24];
		l->logged_at = now ? now : 1;
		log_warn("Out of resources to accept connections: pausing the listener", "listener", l->name,
		    "error", strerror(e), "pause_ms", log_i64(ms, l->delay_ms), "pauses",
		    log_i64(n, (int64_t)l->shortages), NULL);
	}
	io_loop_set_interest(l->loop, l->fd, 0);
	io_timer_start(l->loop, &l->backoff, l->delay_ms);
	l->delay_ms *= 2;
	if (l->delay_ms > IO_LISTENER_BACKOFF_MAX_MS)
		l->delay_ms = IO_LISTENER_BACKOFF_MAX_MS;
}

static void on_readable(io_loop *loop, int fd, unsigned ev, void *arg)
{
	io_listener *l = arg;
	int freed_one = 0;

	(void)loop;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_TURN && l->fd == fd; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int one = 1;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			int e = errno;
			if (e == EINTR || e == ECONNABORTED)
				continue;
			if (!out_of_resources(e))
				return;	/* EAGAIN: the queue is empty */
			if (!freed_one && l->on_exhausted && l->on_exhausted(l->arg)) {
				freed_one = 1;
				continue;
			}
			pause_for_a_while(l, e);
			return;
		}
		l->delay_ms = 0;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		l->on_accept(cfd, (const struct sockaddr *)&ss, l->arg);
	}
}

int io_listener_start(io_listener *l, io_loop *loop, int fd, const char *name,
    io_listener_accept_cb on_accept, io_listener_exhausted_cb on_exhausted, void *arg)
{
	memset(l, 0, sizeof(*l));
	l->loop = loop;
	l->fd = fd;
	l->name = name;
	l->on_accept = on_accept;
	l->on_exhausted = on_exhausted;
	l->arg = arg;
	io_timer_init(&l->backoff, resume_cb, l);
	if (io_loop_add_fd(loop, fd, IO_READ, on_readable, l) < 0) {
		l->fd = -1;
		return -1;
	}
	return 0;
}

void io_listener_stop(io_listener *l)
{
	if (l->loop)
		io_timer_stop(l->loop, &l->backoff);
	if (l->fd >= 0) {
		io_loop_del_fd(l->loop, l->fd);
		close(l->fd);
		l->fd = -1;
	}
}
