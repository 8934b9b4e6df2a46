/*
 * Implementation notes.  One record at a time each way, as BearSSL's bidi
 * buffer holds it: io_tls_send seals what fits (flush, so a small h2 write
 * is one record, not a wait) and writes it; a record the socket did not take
 * whole blocks further sends (EAGAIN) until io_tls_flush empties it.  Reads
 * loop until the socket has nothing or out is full, and answer the
 * handshake on the way, so one readable event can finish a handshake.
 */
#include "io/tls_stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "io/tls.h"

/* The engine calls, whichever side it is. */
#define E(t, fn) ((t)->server ? tls_server_##fn((t)->server) : tls_client_##fn((t)->client))
#define EA(t, fn, ...) ((t)->server ? tls_server_##fn((t)->server, __VA_ARGS__) : \
	tls_client_##fn((t)->client, __VA_ARGS__))

int io_tls_flush(io_tls *t, int fd)
{
	for (;;) {
		size_t len;
		uint8_t *p = EA(t, sendrec_buf, &len);
		ssize_t w;

		if (p == NULL || len == 0)
			return 0;
		w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		EA(t, sendrec_ack, (size_t)w);
	}
}

ssize_t io_tls_recv(io_tls *t, int fd, void *out, size_t cap)
{
	uint8_t *o = out;
	size_t got = 0;

	for (;;) {
		unsigned st;
		uint8_t *p;
		size_t len;
		ssize_t r;

		if (io_tls_flush(t, fd) < 0)
			return got > 0 ? (ssize_t)got : -1;
		st = E(t, state);
		if ((st & TLS_RECVAPP) && (p = EA(t, recvapp_buf, &len)) != NULL) {
			if (len > cap - got)
				len = cap - got;
			memcpy(o + got, p, len);
			EA(t, recvapp_ack, len);
			got += len;
			if (got == cap)
				return (ssize_t)got;
			continue;
		}
		if (st & TLS_CLOSED) {
			if (got > 0)
				return (ssize_t)got;
			if (E(t, error) == 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		if (!(st & TLS_RECVREC) || (p = EA(t, recvrec_buf, &len)) == NULL) {
			/* the engine waits for its output to leave first */
			if (got > 0)
				return (ssize_t)got;
			errno = EAGAIN;
			return -1;
		}
		r = recv(fd, p, len, 0);
		if (r > 0) {
			EA(t, recvrec_ack, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (got > 0)
			return (ssize_t)got;
		return r;	/* 0 = EOF, or -1 with recv's errno */
	}
}

ssize_t io_tls_send(io_tls *t, int fd, const void *p, size_t n)
{
	uint8_t *room;
	size_t len;
	int fl;

	if ((fl = io_tls_flush(t, fd)) < 0)
		return -1;
	if (E(t, state) & TLS_CLOSED) {
		errno = EPIPE;
		return -1;
	}
	if (fl > 0 || (room = EA(t, sendapp_buf, &len)) == NULL || len == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (len > n)
		len = n;
	memcpy(room, p, len);
	EA(t, sendapp_ack, len);
	E(t, flush);
	if (io_tls_flush(t, fd) < 0)
		return -1;
	return (ssize_t)len;
}

bool io_tls_want_write(io_tls *t)
{
	return (E(t, state) & TLS_SENDREC) != 0;
}

bool io_tls_can_send(io_tls *t)
{
	return (E(t, state) & (TLS_SENDAPP | TLS_SENDREC)) == TLS_SENDAPP;
}

bool io_tls_handshake_done(io_tls *t)
{
	return E(t, handshake_done);
}

bool io_tls_buffered(io_tls *t)
{
	return (E(t, state) & TLS_RECVAPP) != 0;
}

const char *io_tls_error(io_tls *t)
{
	static char msg[160];

	/* one loop thread: a static buffer read at once by the caller is enough */
	snprintf(msg, sizeof(msg), "tls: %s", tls_error_string(E(t, error)));
	return msg;
}
