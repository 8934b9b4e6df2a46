/*
 * The socket side of a TLS connection: moves records between a non-blocking
 * socket and a BearSSL engine (a tls_server of tls_server.h, or a tls_client
 * of tls.h), and offers the
 * plaintext through recv(2)/send(2)-shaped calls, so that a byte-stream pump
 * written for TCP (grpc/transport.c) runs unchanged over TLS and whatever is
 * above it (HTTP/2) never knows.
 *
 * Return conventions are recv's and send's: > 0 bytes, 0 for the peer's
 * orderly end (close_notify or EOF), -1 with errno EAGAIN when nothing can be
 * done until the socket is ready again, EPROTO when TLS failed (the alert, if
 * any, has been written; io_tls_error() says why), or the socket's errno.
 */
#ifndef CPLANE_IO_TLS_STREAM_H
#define CPLANE_IO_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "io/tls.h"
#include "io/tls_server.h"

/* One engine: exactly one of the two is set; both NULL = no TLS. */
typedef struct io_tls {
	tls_server *server;
	tls_client *client;
	uint8_t *pend;		/* records read but not yet taken by the engine (rare; heap) */
	size_t pend_len, pend_cap;
} io_tls;

static inline bool io_tls_on(const io_tls *t) { return t->server != NULL || t->client != NULL; }

/* Reads records as the socket has them (writing handshake answers as they come) and returns plaintext. */
ssize_t io_tls_recv(io_tls *t, int fd, void *out, size_t cap);
/* Encrypts up to one record of p (n > 0) and writes it; returns the plaintext bytes taken. */
ssize_t io_tls_send(io_tls *t, int fd, const void *p, size_t n);
/* Writes records waiting for the socket: 0 none left, 1 some left (wait for POLLOUT), -1 error. */
int io_tls_flush(io_tls *t, int fd);

/* Records are waiting for the socket. */
bool io_tls_want_write(io_tls *t);
/* The engine takes plaintext now (handshake over, no record waiting). */
bool io_tls_can_send(io_tls *t);
/* Bytes are waiting to be read without the socket (decrypted, or records read ahead). */
bool io_tls_buffered(io_tls *t);
/*
 * After a write failed (the peer closed): reads what the peer sent before it
 * closed — an alert, most often — into the engine, so io_tls_error() can say
 * it.  Returns the engine's error (0 = none).
 */
int io_tls_absorb(io_tls *t, int fd);
/* The engine is done (failed, refused or closed); nothing more will pass. */
bool io_tls_closed(io_tls *t);
/* The handshake has completed. */
bool io_tls_handshake_done(io_tls *t);
/* Frees what the stream holds besides the engine (call when the connection ends). */
void io_tls_release(io_tls *t);
/* Why the connection failed, "tls: ..." (static storage). */
const char *io_tls_error(io_tls *t);

#endif
