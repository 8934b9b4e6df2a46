/*
 * The poll loop: one thread, one poll(2).
 *
 * fds are registered with a read/write interest and a callback; timers are
 * caller-owned io_timer structs kept in a binary heap (add, cancel and re-arm
 * are O(log n), no allocation); deferred callbacks run once at the end of the
 * current turn, before the loop sleeps (the place to coalesce writes);
 * signals arrive through a self-pipe and are delivered as ordinary callbacks.
 *
 * Callbacks may add or remove any fd or timer, including the one being
 * dispatched: interest is re-checked before each callback (an earlier
 * callback in the same turn may have removed the fd).  An idle loop sleeps in
 * poll() until the next timer or event: no busy waiting.
 */
#ifndef CPLANE_IO_LOOP_H
#define CPLANE_IO_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct io_loop io_loop;

enum {
	IO_READ = 1u,
	IO_WRITE = 2u,
	IO_ERROR = 4u,	/* delivered only: POLLERR / POLLHUP / POLLNVAL */
};

typedef void (*io_fd_cb)(io_loop *loop, int fd, unsigned events, void *arg);
typedef void (*io_timer_cb)(io_loop *loop, void *arg);
typedef void (*io_defer_cb)(io_loop *loop, void *arg);
typedef void (*io_signal_cb)(io_loop *loop, int signo, void *arg);

typedef struct io_timer {
	int64_t when;		/* monotonic ms */
	uint64_t seq;		/* FIFO among equal deadlines */
	size_t heap_index;	/* SIZE_MAX when not armed */
	io_timer_cb cb;
	void *arg;
} io_timer;

/* Never NULL: allocation failure aborts (base/mem.h). */
io_loop *io_loop_new(void);
void io_loop_free(io_loop *loop);

/* Runs until io_loop_stop(); returns 0, or -1 if poll failed for a reason other than EINTR. */
int io_loop_run(io_loop *loop);
/* One turn: waits at most timeout_ms (-1 = until the next timer/event); for tests. */
int io_loop_run_once(io_loop *loop, int timeout_ms);
/* Makes io_loop_run() return after the current turn. */
void io_loop_stop(io_loop *loop);
int io_loop_stopped(const io_loop *loop);
/* Monotonic ms from the loop's clock, refreshed once per turn (cheap). */
int64_t io_loop_now(const io_loop *loop);
/*
 * The same in µs: the clock when this turn's poll() returned, so every
 * stamp taken with it in one turn is equal.  For "this request arrived in
 * this turn" (a call's start) without a clock read per call.
 */
int64_t io_loop_now_us(const io_loop *loop);
/*
 * The loop's clock read now, in monotonic µs: for stamps that must order
 * events within one turn ("answered before that LIST began", the end of
 * a turn's calls' latency).
 * Everything that uses time through the loop shares this one clock.
 */
int64_t io_loop_clock_us(const io_loop *loop);
/* A monotonic µs clock; tests inject one so nothing waits on real time. */
typedef int64_t (*io_clock_fn)(void *arg);
/* Replaces the loop's clock (NULL restores CLOCK_MONOTONIC) and refreshes io_loop_now(). */
void io_loop_set_clock(io_loop *loop, io_clock_fn fn, void *arg);

/* fd registration; interest is IO_READ|IO_WRITE.  Returns 0 or -1 (bad fd, already added). */
int io_loop_add_fd(io_loop *loop, int fd, unsigned interest, io_fd_cb cb, void *arg);
int io_loop_set_interest(io_loop *loop, int fd, unsigned interest);
unsigned io_loop_interest(const io_loop *loop, int fd);
/* Forgets fd (does not close it).  Safe from any callback. */
void io_loop_del_fd(io_loop *loop, int fd);

void io_timer_init(io_timer *t, io_timer_cb cb, void *arg);
/* Arms (or re-arms) t to fire delay_ms from now (io_loop_now). */
void io_timer_start(io_loop *loop, io_timer *t, int64_t delay_ms);
/* Arms t for an absolute monotonic time. */
void io_timer_start_at(io_loop *loop, io_timer *t, int64_t when_ms);
/* Disarms t; harmless when not armed. */
void io_timer_stop(io_loop *loop, io_timer *t);
static inline int io_timer_active(const io_timer *t) { return t->heap_index != (size_t)-1; }
size_t io_loop_timer_count(const io_loop *loop);

/* Queues cb(arg) to run once this turn, before sleeping; returns 0 (allocation failure aborts: base/mem.h). */
int io_loop_defer(io_loop *loop, io_defer_cb cb, void *arg);
/* Removes queued deferred calls matching cb and arg (an object being freed). */
void io_loop_cancel_defer(io_loop *loop, io_defer_cb cb, void *arg);

/* Delivers signo into the loop as cb(signo); installs a handler.  Returns 0 or -1. */
int io_loop_on_signal(io_loop *loop, int signo, io_signal_cb cb, void *arg);

#endif
