/*
 * A listening socket on the io loop that accepts without ever spinning.
 *
 * Each readable event accepts up to 64 connections and hands each to
 * on_accept with the peer's address.  When accept(2) fails for want of
 * resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) the connection stays in the
 * kernel's queue and the socket stays readable, so polling it again would
 * spin: instead on_exhausted (optional) may close one of the owner's
 * connections to free a descriptor (then one more accept is tried), and
 * otherwise the listener stops polling for a while (100 ms, doubling to
 * 1 s while the shortage lasts) and logs one line per shortage, not per
 * attempt (at most one a minute: a shortage flaps, each freed descriptor
 * being taken at once).  A successful accept resets the pause to 100 ms.
 */
#ifndef CPLANE_IO_LISTENER_H
#define CPLANE_IO_LISTENER_H

#include <stdint.h>
#include <sys/socket.h>

#include "io/loop.h"

/* fd is the accepted socket (non-blocking, close-on-exec), now owned by the callee. */
typedef void (*io_listener_accept_cb)(int fd, const struct sockaddr *peer, void *arg);
/* Out of descriptors: close one connection if there is one to spare; return 1 if one was closed. */
typedef int (*io_listener_exhausted_cb)(void *arg);

typedef struct io_listener {
	io_loop *loop;
	int fd;
	const char *name;	/* for the log line: "grpc", "metrics" */
	io_listener_accept_cb on_accept;
	io_listener_exhausted_cb on_exhausted;
	void *arg;
	io_timer backoff;
	int64_t delay_ms;	/* next pause; 0 = no shortage now */
	uint64_t shortages;	/* pauses so far */
	int64_t logged_at;	/* loop ms of the last log line, 0 = none yet */
} io_listener;

/*
 * Starts accepting on fd (a listening socket from io_listen()); name is a
 * static string.  Returns 0 or -1 (the loop refused the fd; fd stays open).
 */
int io_listener_start(io_listener *l, io_loop *loop, int fd, const char *name,
    io_listener_accept_cb on_accept, io_listener_exhausted_cb on_exhausted, void *arg);
/* Stops accepting and closes the socket; idempotent. */
void io_listener_stop(io_listener *l);

#define IO_LISTENER_BACKOFF_MIN_MS 100
#define IO_LISTENER_BACKOFF_MAX_MS 1000
#define IO_LISTENER_LOG_EVERY_MS 60000

#endif
