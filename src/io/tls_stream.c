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

int io_tls_flush(tls_server *s, int fd)
{
	for (;;) {
		size_t len;
		uint8_t *p = tls_server_sendrec_buf(s, &len);
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
		tls_server_sendrec_ack(s, (size_t)w);
	}
}

ssize_t io_tls_recv(tls_server *s, int fd, void *out, size_t cap)
{
	uint8_t *o = out;
	size_t got = 0;

	for (;;) {
		unsigned st;
		uint8_t *p;
		size_t len;
		ssize_t r;

		if (io_tls_flush(s, fd) < 0)
			return got > 0 ? (ssize_t)got : -1;
		st = tls_server_state(s);
		if ((st & TLS_RECVAPP) && (p = tls_server_recvapp_buf(s, &len)) != NULL) {
			if (len > cap - got)
				len = cap - got;
			memcpy(o + got, p, len);
			tls_server_recvapp_ack(s, len);
			got += len;
			if (got == cap)
				return (ssize_t)got;
			continue;
		}
		if (st & TLS_CLOSED) {
			if (got > 0)
				return (ssize_t)got;
			if (tls_server_error(s) == 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		if (!(st & TLS_RECVREC) || (p = tls_server_recvrec_buf(s, &len)) == NULL) {
			/* the engine waits for its output to leave first */
			if (got > 0)
				return (ssize_t)got;
			errno = EAGAIN;
			return -1;
		}
		r = recv(fd, p, len, 0);
		if (r > 0) {
			tls_server_recvrec_ack(s, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (got > 0)
			return (ssize_t)got;
		return r;	/* 0 = EOF, or -1 with recv's errno */
	}
}

ssize_t io_tls_send(tls_server *s, int fd, const void *p, size_t n)
{
	uint8_t *room;
	size_t len;
	int fl;

	if ((fl = io_tls_flush(s, fd)) < 0)
		return -1;
	if (tls_server_state(s) & TLS_CLOSED) {
		errno = EPIPE;
		return -1;
	}
	if (fl > 0 || (room = tls_server_sendapp_buf(s, &len)) == NULL || len == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (len > n)
		len = n;
	memcpy(room, p, len);
	tls_server_sendapp_ack(s, len);
	tls_server_flush(s);
	if (io_tls_flush(s, fd) < 0)
		return -1;
	return (ssize_t)len;
}

bool io_tls_want_write(tls_server *s)
{
	return (tls_server_state(s) & TLS_SENDREC) != 0;
}

bool io_tls_can_send(tls_server *s)
{
	return (tls_server_state(s) & (TLS_SENDAPP | TLS_SENDREC)) == TLS_SENDAPP;
}

bool io_tls_buffered(tls_server *s)
{
	return (tls_server_state(s) & TLS_RECVAPP) != 0;
}

const char *io_tls_error(tls_server *s)
{
	static char msg[160];

	/* one loop thread: a static buffer read at once by the caller is enough */
	snprintf(msg, sizeof(msg), "tls: %s", tls_error_string(tls_server_error(s)));
	return msg;
}
