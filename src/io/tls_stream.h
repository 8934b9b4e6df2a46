/*
 * The socket side of a TLS server connection: moves records between a
 * non-blocking socket and a tls_server engine (tls_server.h), and offers the
 * plaintext through recv(2)/send(2)-shaped calls, so that a byte-stream pump
 * written for TCP (grpc/transport.c) runs unchanged over TLS and whatever is
 * above it (HTTP/2) never knows.
 *
 * Return conventions are recv's and send's: > 0 bytes, 0 for the peer's
 * orderly end (close_notify or EOF), -1 with errno EAGAIN when nothing can be
 * done until the socket is ready again, EPROTO when TLS failed (the alert, if
 * any, has been written; tls_server_error() says why), or the socket's errno.
 */
#ifndef CPLANE_IO_TLS_STREAM_H
#define CPLANE_IO_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "io/tls_server.h"

/* Reads records as the socket has them (writing handshake answers as they come) and returns plaintext. */
ssize_t io_tls_recv(tls_server *s, int fd, void *out, size_t cap);
/* Encrypts up to one record of p (n > 0) and writes it; returns the plaintext bytes taken. */
ssize_t io_tls_send(tls_server *s, int fd, const void *p, size_t n);
/* Writes records waiting for the socket: 0 none left, 1 some left (wait for POLLOUT), -1 error. */
int io_tls_flush(tls_server *s, int fd);

/* Records are waiting for the socket. */
bool io_tls_want_write(tls_server *s);
/* The engine takes plaintext now (handshake over, no record waiting). */
bool io_tls_can_send(tls_server *s);
/* Decrypted bytes are waiting to be read (a read stopped because out was full). */
bool io_tls_buffered(tls_server *s);
/* Why the connection failed, "tls: ..." (static storage). */
const char *io_tls_error(tls_server *s);

#endif
