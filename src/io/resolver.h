/*
 * Name resolution that never blocks the loop: getaddrinfo runs on a thread
 * of its own and the loop hears of the result through a pipe, as any other
 * fd.  One lookup at a time per resolver; the last result is kept.
 *
 * For names the loop must resolve again while it runs (the API server's host
 * after connection failures).  Resolving before the loop starts may block:
 * io_resolve() in io/net.h.
 */
#ifndef CPLANE_IO_RESOLVER_H
#define CPLANE_IO_RESOLVER_H

#include <sys/socket.h>

#include "io/loop.h"

typedef struct io_resolver io_resolver;

/* Called on the loop when a lookup ended; ok = it found an address (io_resolver_result has it). */
typedef void (*io_resolver_done)(void *arg, int ok);

/* host: DNS name or IP literal without brackets.  NULL when the pipe cannot be made or watched. */
io_resolver *io_resolver_new(io_loop *loop, const char *host, const char *port, io_resolver_done done,
    void *arg);
/* Starts a lookup: 0 started, 1 one is already running, -1 the thread could not start. */
int io_resolver_start(io_resolver *r);
int io_resolver_busy(const io_resolver *r);
/* The last lookup's outcome: 0 with the address, or -1 with the reason in err ("" when none ran yet). */
int io_resolver_result(const io_resolver *r, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errsz);
/* Waits for a running lookup to end (it cannot be interrupted), then frees.  NULL is fine. */
void io_resolver_free(io_resolver *r);

#endif
