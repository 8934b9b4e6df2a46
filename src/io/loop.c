/*
 * Implementation notes.
 *
 * fds live in an array indexed by fd (as redis' ae.c); the pollfd array is
 * rebuilt only when registrations or interests change.  Dispatch walks a
 * snapshot of poll's results and re-checks each fd's registration and
 * interest before calling, since an earlier callback may have removed or
 * replaced it.  A generation counter per slot catches "removed and re-added
 * with the same fd number" within one turn.
 *
 * Timers are a min-heap of caller-owned io_timer pointers ordered by
 * (when, seq); each timer records its heap index so stop and re-arm are
 * O(log n) without searching.  Expired timers are popped one at a time, so a
 * callback that stops another expired timer prevents it from firing.
 *
 * Signals: a handler writes the signal number into a non-blocking self-pipe
 * whose read end is an ordinary registered fd.
 */
#include "io/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"

struct fd_slot {
	io_fd_cb cb;
	void *arg;
	unsigned interest;
	unsigned gen;
	int registered;
};

struct defer_item {
	io_defer_cb cb;
	void *arg;
};

struct signal_slot {
	io_signal_cb cb;
	void *arg;
};

struct io_loop {
	struct fd_slot *fds;
	int fds_cap;
	int nregistered;

	struct pollfd *pfds;
	unsigned *pgens;
	int npfds, pfds_cap;
	int pfds_dirty;

	io_timer **heap;
	size_t nheap, heap_cap;
	uint64_t timer_seq;

	struct defer_item *defers;
	size_t ndefers, defers_cap;

	struct signal_slot signals[65];
	int sigpipe[2];

	int64_t now;
	int64_t now_us;	/* the clock when this turn's poll() returned */
	io_clock_fn clock;	/* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	int stop;
};

static int signal_pipe_wr = -1;

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

io_loop *io_loop_new(void)
{
	io_loop *loop = xcalloc(1, sizeof(*loop));

	loop->sigpipe[0] = loop->sigpipe[1] = -1;
	loop->now_us = io_loop_clock_us(loop);
	loop->now = loop->now_us / 1000;
	return loop;
}

void io_loop_free(io_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop->sigpipe[0] >= 0) {
		for (int s = 1; s < 65; s++)
			if (loop->signals[s].cb)
				signal(s, SIG_DFL);
		if (signal_pipe_wr == loop->sigpipe[1])
			signal_pipe_wr = -1;
		close(loop->sigpipe[0]);
		close(loop->sigpipe[1]);
	}
	free(loop->fds);
	free(loop->pfds);
	free(loop->pgens);
	free(loop->heap);
	free(loop->defers);
	free(loop);
}

int64_t io_loop_now(const io_loop *loop)
{
	return loop->now;
}

int64_t io_loop_now_us(const io_loop *loop)
{
	return loop->now_us;
}

int64_t io_loop_clock_us(const io_loop *loop)
{
	return loop->clock ? loop->clock(loop->clock_arg) : clock_mono_us();
}

void io_loop_set_clock(io_loop *loop, io_clock_fn fn, void *arg)
{
	loop->clock = fn;
	loop->clock_arg = arg;
	loop->now_us = io_loop_clock_us(loop);
	loop->now = loop->now_us / 1000;
}

void io_loop_stop(io_loop *loop)
{
	loop->stop = 1;
}

int io_loop_stopped(const io_loop *loop)
{
	return loop->stop;
}

/* ---- fds ---------------------------------------------------------------- */

static void grow_fds(io_loop *loop, int fd)
{
	int cap = loop->fds_cap ? loop->fds_cap : 64;
	struct fd_slot *p;

	while (cap <= fd)
		cap *= 2;
	p = xrealloc(loop->fds, (size_t)cap * sizeof(*p));
	memset(p + loop->fds_cap, 0, (size_t)(cap - loop->fds_cap) * sizeof(*p));
	loop->fds = p;
	loop->fds_cap = cap;
}

int io_loop_add_fd(io_loop *loop, int fd, unsigned interest, io_fd_cb cb, void *arg)
{
	struct fd_slot *s;

	if (fd < 0 || cb == NULL)
		return -1;
	if (fd >= loop->fds_cap)
		grow_fds(loop, fd);
	s = &loop->fds[fd];
	if (s->registered)
		return -1;
	s->cb = cb;
	s->arg = arg;
	s->interest = interest & (IO_READ | IO_WRITE);
	s->registered = 1;
	s->gen++;
	loop->nregistered++;
	loop->pfds_dirty = 1;
	return 0;
}

int io_loop_set_interest(io_loop *loop, int fd, unsigned interest)
{
	if (fd < 0 || fd >= loop->fds_cap || !loop->fds[fd].registered)
		return -1;
	interest &= IO_READ | IO_WRITE;
	if (loop->fds[fd].interest != interest) {
		loop->fds[fd].interest = interest;
		loop->pfds_dirty = 1;
	}
	return 0;
}

unsigned io_loop_interest(const io_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->fds_cap || !loop->fds[fd].registered)
		return 0;
	return loop->fds[fd].interest;
}

void io_loop_del_fd(io_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->fds_cap || !loop->fds[fd].registered)
		return;
	loop->fds[fd].registered = 0;
	loop->fds[fd].cb = NULL;
	loop->fds[fd].interest = 0;
	loop->fds[fd].gen++;
	loop->nregistered--;
	loop->pfds_dirty = 1;
}

static void rebuild_pfds(io_loop *loop)
{
	int n = 0;

	if (loop->pfds_cap < loop->nregistered) {
		int cap = loop->nregistered * 2;
		loop->pfds = xrealloc(loop->pfds, (size_t)cap * sizeof(*loop->pfds));
		loop->pgens = xrealloc(loop->pgens, (size_t)cap * sizeof(*loop->pgens));
		loop->pfds_cap = cap;
	}
	for (int fd = 0; fd < loop->fds_cap; fd++) {
		struct fd_slot *s = &loop->fds[fd];
		if (!s->registered)
			continue;
		loop->pfds[n].fd = fd;
		loop->pfds[n].events = (short)(((s->interest & IO_READ) ? POLLIN : 0) |
		    ((s->interest & IO_WRITE) ? POLLOUT : 0));
		loop->pfds[n].revents = 0;
		loop->pgens[n] = s->gen;
		n++;
	}
	loop->npfds = n;
	loop->pfds_dirty = 0;
}

/* ---- timers ------------------------------------------------------------- */

static int timer_less(const io_timer *a, const io_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_set(io_loop *loop, size_t i, io_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_up(io_loop *loop, size_t i)
{
	io_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_less(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_down(io_loop *loop, size_t i)
{
	io_timer *t = loop->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const io_timer *best = t;
		if (l < loop->nheap && timer_less(loop->heap[l], best))
			m = l, best = loop->heap[l];
		if (r < loop->nheap && timer_less(loop->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(loop, i, loop->heap[m]);
		i = m;
	}
	heap_set(loop, i, t);
}

void io_timer_init(io_timer *t, io_timer_cb cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->heap_index = (size_t)-1;
	t->cb = cb;
	t->arg = arg;
}

void io_timer_stop(io_loop *loop, io_timer *t)
{
	size_t i = t->heap_index;
	io_timer *last;

	if (i == (size_t)-1 || i >= loop->nheap || loop->heap[i] != t)
		return;
	t->heap_index = (size_t)-1;
	last = loop->heap[--loop->nheap];
	if (i == loop->nheap)
		return;
	heap_set(loop, i, last);
	if (i > 0 && timer_less(last, loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

void io_timer_start_at(io_loop *loop, io_timer *t, int64_t when_ms)
{
	io_timer_stop(loop, t);
	if (loop->nheap == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		loop->heap = xrealloc(loop->heap, cap * sizeof(*loop->heap));
		loop->heap_cap = cap;
	}
	t->when = when_ms;
	t->seq = ++loop->timer_seq;
	heap_set(loop, loop->nheap, t);
	loop->nheap++;
	heap_up(loop, loop->nheap - 1);
}

void io_timer_start(io_loop *loop, io_timer *t, int64_t delay_ms)
{
	io_timer_start_at(loop, t, loop->now + (delay_ms > 0 ? delay_ms : 0));
}

size_t io_loop_timer_count(const io_loop *loop)
{
	return loop->nheap;
}

static void run_timers(io_loop *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->when <= loop->now) {
		io_timer *t = loop->heap[0];
		io_timer_stop(loop, t);
		t->cb(loop, t->arg);
	}
}

/* ---- deferred calls ----------------------------------------------------- */

int io_loop_defer(io_loop *loop, io_defer_cb cb, void *arg)
{
	if (loop->ndefers == loop->defers_cap) {
		size_t cap = loop->defers_cap ? loop->defers_cap * 2 : 32;
		loop->defers = xrealloc(loop->defers, cap * sizeof(*loop->defers));
		loop->defers_cap = cap;
	}
	loop->defers[loop->ndefers].cb = cb;
	loop->defers[loop->ndefers].arg = arg;
	loop->ndefers++;
	return 0;
}

void io_loop_cancel_defer(io_loop *loop, io_defer_cb cb, void *arg)
{
	for (size_t i = 0; i < loop->ndefers; i++)
		if (loop->defers[i].cb == cb && loop->defers[i].arg == arg)
			loop->defers[i].cb = NULL;
}

/* Runs queued calls, including ones queued by them, until none are left. */
static void run_defers(io_loop *loop)
{
	size_t i;

	for (i = 0; i < loop->ndefers; i++) {
		struct defer_item d = loop->defers[i];
		if (d.cb)
			d.cb(loop, d.arg);
	}
	loop->ndefers = 0;
}

/* ---- signals ------------------------------------------------------------ */

static void on_signal_handler(int signo)
{
	int saved = errno;
	unsigned char c = (unsigned char)signo;

	if (signal_pipe_wr >= 0)
		(void)!write(signal_pipe_wr, &c, 1);
	errno = saved;
}

static void on_signal_pipe(io_loop *loop, int fd, unsigned events, void *arg)
{
	unsigned char sigs[64];
	ssize_t n;

	(void)events;
	(void)arg;
	while ((n = read(fd, sigs, sizeof(sigs))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			struct signal_slot *s = sigs[i] < 65 ? &loop->signals[sigs[i]] : NULL;
			if (s && s->cb)
				s->cb(loop, sigs[i], s->arg);
		}
	}
}

int io_loop_on_signal(io_loop *loop, int signo, io_signal_cb cb, void *arg)
{
	struct sigaction sa;

	if (signo <= 0 || signo >= 65)
		return -1;
	if (loop->sigpipe[0] < 0) {
		if (pipe(loop->sigpipe) < 0)
			return -1;
		if (set_nonblock_cloexec(loop->sigpipe[0]) < 0 ||
		    set_nonblock_cloexec(loop->sigpipe[1]) < 0 ||
		    io_loop_add_fd(loop, loop->sigpipe[0], IO_READ, on_signal_pipe, NULL) < 0) {
			close(loop->sigpipe[0]);
			close(loop->sigpipe[1]);
			loop->sigpipe[0] = loop->sigpipe[1] = -1;
			return -1;
		}
		signal_pipe_wr = loop->sigpipe[1];
	}
	loop->signals[signo].cb = cb;
	loop->signals[signo].arg = arg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(signo, &sa, NULL);
}

/* ---- the turn ----------------------------------------------------------- */

int io_loop_run_once(io_loop *loop, int timeout_ms)
{
	int n, wait = timeout_ms;

	run_defers(loop);
	if (loop->stop)
		return 0;
	if (loop->pfds_dirty)
		rebuild_pfds(loop);
	if (loop->nheap > 0) {
		int64_t until = loop->heap[0]->when - io_loop_clock_us(loop) / 1000;
		if (until < 0)
			until = 0;
		if (wait < 0 || until < wait)
			wait = until > 0x7fffffff ? 0x7fffffff : (int)until;
	}
	if (loop->ndefers > 0)
		wait = 0;
	n = poll(loop->pfds, (nfds_t)loop->npfds, wait);
	loop->now_us = io_loop_clock_us(loop);
	loop->now = loop->now_us / 1000;
	if (n < 0 && errno != EINTR)
		return -1;
	for (int i = 0; n > 0 && i < loop->npfds; i++) {
		struct pollfd *p = &loop->pfds[i];
		struct fd_slot *s;
		unsigned ev = 0;

		if (p->revents == 0)
			continue;
		n--;
		if (p->fd >= loop->fds_cap)
			continue;
		s = &loop->fds[p->fd];
		if (!s->registered || s->gen != loop->pgens[i])
			continue;
		if (p->revents & (POLLIN | POLLHUP))
			ev |= IO_READ;
		if (p->revents & POLLOUT)
			ev |= IO_WRITE;
		if (p->revents & (POLLERR | POLLHUP | POLLNVAL))
			ev |= IO_ERROR;
		/* Deliver only what is still asked for (errors always). */
		ev &= s->interest | IO_ERROR;
		if (ev)
			s->cb(loop, p->fd, ev, s->arg);
	}
	run_timers(loop);
	run_defers(loop);
	return 0;
}

int io_loop_run(io_loop *loop)
{
	loop->stop = 0;
	while (!loop->stop) {
		if (io_loop_run_once(loop, -1) < 0)
			return -1;
	}
	return 0;
}
