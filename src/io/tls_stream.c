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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/mem.h"
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

/*
 * Ciphertext is read ahead of what the engine asks for (it asks for a
 * record's 5-byte header, then its body): one recv(2) brings many records.
 * The loop is single-threaded and a call feeds what it read before
 * returning, except when the engine stops taking records (its output waits
 * for a full socket, or out is full): that rest moves to the connection's
 * own pend buffer, which is rare and freed once fed.
 */
static uint8_t stage[32768];

/* n is at most one read into stage (ours to size), so this cannot fail. */
static void keep_rest(io_tls *t, const uint8_t *in, size_t n)
{
	if (n == 0) {
		io_tls_release(t);
		return;
	}
	if (t->pend != NULL && in >= t->pend && in < t->pend + t->pend_cap) {
		memmove(t->pend, in, n);	/* the rest of pend itself */
		t->pend_len = n;
		return;
	}
	if (n > t->pend_cap) {
		t->pend = xrealloc(t->pend, n);
		t->pend_cap = n;
	}
	memcpy(t->pend, in, n);
	t->pend_len = n;
}

ssize_t io_tls_recv(io_tls *t, int fd, void *out, size_t cap)
{
	uint8_t *o = out;
	size_t got = 0, in_len = t->pend_len;
	const uint8_t *in = t->pend;
	ssize_t rc;

	for (;;) {
		unsigned st;
		uint8_t *p;
		size_t len;
		ssize_t r;

		if (io_tls_flush(t, fd) < 0) {
			rc = got > 0 ? (ssize_t)got : -1;
			goto done;
		}
		st = E(t, state);
		if ((st & TLS_RECVAPP) && (p = EA(t, recvapp_buf, &len)) != NULL) {
			if (len > cap - got)
				len = cap - got;
			memcpy(o + got, p, len);
			EA(t, recvapp_ack, len);
			got += len;
			if (got == cap) {
				rc = (ssize_t)got;
				goto done;
			}
			continue;
		}
		if (st & TLS_CLOSED) {
			in_len = 0;	/* nothing after the end counts */
			if (got > 0)
				rc = (ssize_t)got;
			else if (E(t, error) == 0)
				rc = 0;
			else
				errno = EPROTO, rc = -1;
			goto done;
		}
		if (!(st & TLS_RECVREC) || (p = EA(t, recvrec_buf, &len)) == NULL) {
			/* the engine waits for its output to leave first */
			if (got > 0)
				rc = (ssize_t)got;
			else
				errno = EAGAIN, rc = -1;
			goto done;
		}
		if (in_len == 0) {
			/* plaintext is never longer than its records: what is read fits in out */
			size_t want = cap - got < sizeof(stage) ? cap - got : sizeof(stage);

			r = recv(fd, stage, want, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = got > 0 ? (ssize_t)got : r;	/* 0 = EOF, or -1 with recv's errno */
				goto done;
			}
			in = stage;
			in_len = (size_t)r;
		}
		if (len > in_len)
			len = in_len;
		memcpy(p, in, len);
		in += len;
		in_len -= len;
		EA(t, recvrec_ack, len);
	}
done:
	{
		int e = errno;

		keep_rest(t, in, in_len);
		errno = e;
	}
	return rc;
}

void io_tls_release(io_tls *t)
{
	free(t->pend);
	t->pend = NULL;
	t->pend_len = t->pend_cap = 0;
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

int io_tls_absorb(io_tls *t, int fd)
{
	for (int i = 0; i < 64 && !(E(t, state) & TLS_CLOSED); i++) {
		uint8_t *p;
		size_t len;
		ssize_t r;

		if ((p = EA(t, recvrec_buf, &len)) == NULL)
			break;
		if (t->pend_len > 0) {	/* read ahead earlier: it comes first */
			if (len > t->pend_len)
				len = t->pend_len;
			memcpy(p, t->pend, len);
			memmove(t->pend, t->pend + len, t->pend_len - len);
			t->pend_len -= len;
			EA(t, recvrec_ack, len);
			continue;
		}
		r = recv(fd, p, len, MSG_DONTWAIT);
		if (r <= 0)
			break;
		EA(t, recvrec_ack, (size_t)r);
	}
	return E(t, error);
}

bool io_tls_closed(io_tls *t)
{
	return (E(t, state) & TLS_CLOSED) != 0;
}

bool io_tls_handshake_done(io_tls *t)
{
	return E(t, handshake_done);
}

bool io_tls_buffered(io_tls *t)
{
	return t->pend_len > 0 || (E(t, state) & TLS_RECVAPP) != 0;
}

const char *io_tls_error(io_tls *t)
{
	static char msg[160];

	/* one loop thread: a static buffer read at once by the caller is enough */
	snprintf(msg, sizeof(msg), "tls: %s", tls_error_string(E(t, error)));
	return msg;
}
