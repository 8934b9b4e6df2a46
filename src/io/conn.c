/*
 * io_conn: plain TCP or TLS client stream on the poll loop.
 *
 * Implementation notes.  Every entry from the loop (fd event, timer, deferred
 * flush) runs inside enter()/leave(); io_conn_free() from inside a callback
 * only marks the conn, and the outermost leave() releases it, so no frame ever
 * touches freed memory; after each user callback the code checks `dead` and
 * unwinds.  Writes accumulate in `out` and are pushed by a deferred call at
 * the end of the loop turn (one send for many small writes).  With TLS the
 * BearSSL engine is pumped until it makes no more progress: records out to the
 * socket, records in from it, plaintext in and out; POLLIN/POLLOUT interest
 * is then derived from what the engine still wants.
 */
#include "io/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"
#include "io/net.h"

enum cstate { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

struct io_conn {
	io_loop *loop;
	io_conn_cbs cbs;
	void *arg;
	int fd;
	enum cstate state;
	tls_client *tls;
	buf out;		/* plaintext not yet sent (or not yet given to the TLS engine) */
	size_t max_pending;
	io_timer timer;
	int depth;		/* nesting of entries from the loop */
	bool dead;		/* io_conn_free() called */
	bool paused;
	bool flush_queued;
	bool drain_armed;	/* something was queued since the last on_drain */
	bool want_write;	/* the kernel said EAGAIN on send */
	char peer[64];
	char err[256];
};

static void fd_cb(io_loop *loop, int fd, unsigned events, void *arg);
static void destroy(io_conn *c);

static void enter(io_conn *c) { c->depth++; }

/* Returns false when c was freed (or is about to be): the caller must stop using it. */
static bool leave(io_conn *c)
{
	if (--c->depth == 0 && c->dead) {
		destroy(c);
		return false;
	}
	return !c->dead;
}

static void close_fd(io_conn *c)
{
	if (c->fd >= 0) {
		io_loop_del_fd(c->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	io_timer_stop(c->loop, &c->timer);
}

/* Ends the connection and reports it once.  error NULL = orderly EOF. */
static void fail(io_conn *c, const char *error)
{
	if (c->state == C_CLOSED)
		return;
	c->state = C_CLOSED;
	close_fd(c);
	if (error != NULL && error != c->err)
		snprintf(c->err, sizeof(c->err), "%s", error);
	if (c->cbs.on_close != NULL)
		c->cbs.on_close(c, error != NULL ? c->err : NULL, c->arg);
}

static void fail_errno(io_conn *c, const char *what, int e)
{
	snprintf(c->err, sizeof(c->err), "%s: %s", what, strerror(e));
	fail(c, c->err);
}

static void fail_tls(io_conn *c)
{
	int e = tls_client_error(c->tls);

	snprintf(c->err, sizeof(c->err), "tls: %s", tls_error_string(e));
	fail(c, c->err);
}

/* Sends from p; returns bytes sent (maybe 0 on EAGAIN) or -1 after failing the conn. */
static ssize_t send_some(io_conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	do
		w = send(c->fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->want_write = true;
			return 0;
		}
		fail_errno(c, "send", errno);
		return -1;
	}
	if ((size_t)w < n)
		c->want_write = true;
	return w;
}

static void update_interest(io_conn *c)
{
	unsigned want = 0;

	if (c->state == C_CLOSED || c->fd < 0)
		return;
	if (c->state == C_CONNECTING) {
		want = IO_WRITE;
	} else if (c->tls != NULL) {
		unsigned st = tls_client_state(c->tls);

		if ((st & TLS_RECVREC) && (!c->paused || c->state == C_HANDSHAKE))
			want |= IO_READ;
		if ((st & TLS_SENDREC) && c->want_write)
			want |= IO_WRITE;
	} else {
		if (!c->paused)
			want |= IO_READ;
		if (buf_len(&c->out) > 0 && c->want_write)
			want |= IO_WRITE;
	}
	io_loop_set_interest(c->loop, c->fd, want);
}

/* Runs on_connected once the stream is usable; false when the conn went away. */
static bool become_open(io_conn *c)
{
	c->state = C_OPEN;
	io_timer_stop(c->loop, &c->timer);
	if (c->cbs.on_connected != NULL)
		c->cbs.on_connected(c, c->arg);
	return !c->dead && c->state == C_OPEN;
}

static bool maybe_drain(io_conn *c)
{
	if (c->drain_armed && io_conn_pending(c) == 0 && c->state == C_OPEN) {
		c->drain_armed = false;
		if (c->cbs.on_drain != NULL)
			c->cbs.on_drain(c, c->arg);
	}
	return !c->dead && c->state != C_CLOSED;
}

/* ---- plain TCP ---------------------------------------------------------------- */

static void plain_flush(io_conn *c)
{
	while (buf_len(&c->out) > 0) {
		ssize_t w = send_some(c, buf_data(&c->out), buf_len(&c->out));

		if (w <= 0)
			return;
		buf_consume(&c->out, (size_t)w);
	}
	c->want_write = false;
	buf_reset(&c->out);
}

static void plain_read(io_conn *c)
{
	uint8_t b[65536];

	/* a bounded number of reads per turn keeps one busy peer from starving the loop */
	for (int round = 0; round < 8 && !c->paused; round++) {
		ssize_t n = recv(c->fd, b, sizeof(b), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fail_errno(c, "recv", errno);
			return;
		}
		if (n == 0) {
			fail(c, NULL);
			return;
		}
		if (c->cbs.on_data != NULL)
			c->cbs.on_data(c, b, (size_t)n, c->arg);
		if (c->dead || c->state == C_CLOSED)
			return;
		if ((size_t)n < sizeof(b))
			return;
	}
}

/* ---- TLS -------------------------------------------------------------------------- */

/* Pumps the engine until nothing moves; may_read: the fd may have bytes. */
static void tls_pump(io_conn *c, bool may_read)
{
	int reads = 0;

	for (;;) {
		unsigned st = tls_client_state(c->tls);
		bool progress = false;
		uint8_t *p;
		size_t n;

		if (st & TLS_CLOSED) {
			if (tls_client_error(c->tls) != 0)
				fail_tls(c);
			else
				fail(c, NULL);
			return;
		}
		if (c->state == C_HANDSHAKE && tls_client_handshake_done(c->tls)) {
			if (!become_open(c))
				return;
			continue;
		}
		if ((st & TLS_SENDREC) && (p = tls_client_sendrec_buf(c->tls, &n)) != NULL) {
			ssize_t w = send_some(c, p, n);

			if (w < 0)
				return;
			if (w > 0) {
				tls_client_sendrec_ack(c->tls, (size_t)w);
				progress = true;
			}
		} else {
			c->want_write = false;
		}
		if ((st & TLS_RECVAPP) && !c->paused && (p = tls_client_recvapp_buf(c->tls, &n)) != NULL) {
			/* the view is only valid until the ack: the callback sees it first */
			if (c->cbs.on_data != NULL)
				c->cbs.on_data(c, p, n, c->arg);
			if (c->dead || c->state == C_CLOSED)
				return;
			tls_client_recvapp_ack(c->tls, n);
			progress = true;
		}
		if ((st & TLS_SENDAPP) && buf_len(&c->out) > 0 &&
		    (p = tls_client_sendapp_buf(c->tls, &n)) != NULL) {
			if (n > buf_len(&c->out))
				n = buf_len(&c->out);
			memcpy(p, buf_data(&c->out), n);
			tls_client_sendapp_ack(c->tls, n);
			buf_consume(&c->out, n);
			if (buf_len(&c->out) == 0) {
				buf_reset(&c->out);
				tls_client_flush(c->tls);
			}
			progress = true;
		}
		if ((st & TLS_RECVREC) && may_read && reads < 8 &&
		    (!c->paused || c->state == C_HANDSHAKE) &&
		    (p = tls_client_recvrec_buf(c->tls, &n)) != NULL) {
			ssize_t r = recv(c->fd, p, n, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				fail_errno(c, "recv", errno);
				return;
			}
			if (r == 0) {
				/* no close_notify: during the handshake that is a failure; after
				 * it the HTTP framing above tells a truncated message apart */
				if (c->state == C_HANDSHAKE)
					fail(c, "tls: connection closed by peer during handshake");
				else
					fail(c, NULL);
				return;
			}
			if (r > 0) {
				tls_client_recvrec_ack(c->tls, (size_t)r);
				reads++;
				progress = true;
			} else {
				may_read = false;
			}
		}
		if (!progress)
			return;
	}
}

/* ---- loop entries ---------------------------------------------------------------- */

static void drive(io_conn *c, bool readable)
{
	if (c->state == C_CLOSED)
		return;
	if (c->tls != NULL) {
		tls_pump(c, readable);
	} else {
		plain_flush(c);
		if (readable && !c->dead && c->state == C_OPEN)
			plain_read(c);
	}
	if (!c->dead && c->state != C_CLOSED && maybe_drain(c))
		update_interest(c);
}

static void fd_cb(io_loop *loop, int fd, unsigned events, void *arg)
{
	io_conn *c = arg;

	(void)loop;
	(void)fd;
	enter(c);
	if (c->state == C_CONNECTING) {
		int e = io_connect_result(c->fd);

		if (e != 0) {
			fail_errno(c, "connect", e);
			goto out;
		}
		if (c->tls != NULL) {
			c->state = C_HANDSHAKE;
		} else if (!become_open(c)) {
			goto out;
		}
		drive(c, true);
		goto out;
	}
	if ((events & IO_WRITE))
		c->want_write = false;
	/* IO_ERROR: let recv/send report the precise errno */
	drive(c, (events & (IO_READ | IO_ERROR)) != 0);
out:
	leave(c);
}

static void flush_cb(io_loop *loop, void *arg)
{
	io_conn *c = arg;

	(void)loop;
	c->flush_queued = false;
	enter(c);
	if (c->state == C_OPEN)
		drive(c, false);
	leave(c);
}

static void timer_cb(io_loop *loop, void *arg)
{
	io_conn *c = arg;

	(void)loop;
	enter(c);
	fail(c, c->state == C_HANDSHAKE ? "tls: handshake timeout" : "connect timeout");
	leave(c);
}

/* ---- API ---------------------------------------------------------------------------- */

io_conn *io_conn_connect(io_loop *loop, const io_conn_opts *opts, const io_conn_cbs *cbs,
    void *arg, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	io_conn *c;
	char host[256];
	size_t hl = strlen(opts->host);

	/* "[v6]" as written in URLs: getaddrinfo wants it bare */
	if (hl >= 2 && hl - 2 < sizeof(host) && opts->host[0] == '[' && opts->host[hl - 1] == ']') {
		memcpy(host, opts->host + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		str_copy(host, sizeof(host), opts->host);
	}
	if (opts->addrlen > 0) {
		memcpy(&ss, opts->addr, opts->addrlen);
		sslen = opts->addrlen;
	} else if (io_resolve(host, opts->port, &ss, &sslen, err, errsz) < 0) {
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->cbs = *cbs;
	c->arg = arg;
	c->fd = -1;
	c->max_pending = opts->max_pending ? opts->max_pending : (64u << 20);
	buf_init(&c->out);
	io_timer_init(&c->timer, timer_cb, c);
	io_format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	if (opts->anchors != NULL) {
		const char *name = opts->server_name ? opts->server_name : tls_verify_name(opts->host);

		c->tls = tls_client_new(opts->anchors, name, err, errsz);
		if (c->tls == NULL)
			goto fail;
		if (opts->client_chain && opts->client_key &&
		    tls_client_set_identity(c->tls, opts->client_chain, opts->client_key, err, errsz) < 0)
			goto fail;
	}
	c->fd = io_connect((struct sockaddr *)&ss, sslen);
	if (c->fd < 0) {
		snprintf(err, errsz, "connect %s: %s", c->peer, strerror(errno));
		goto fail;
	}
	io_set_keepalive(c->fd, 30, 10, 3);
	if (io_loop_add_fd(loop, c->fd, IO_WRITE, fd_cb, c) < 0) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	c->state = C_CONNECTING;
	io_timer_start(loop, &c->timer, opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000);
	return c;
fail:
	if (c->fd >= 0)
		close(c->fd);
	tls_client_free(c->tls);
	free(c);
	return NULL;
}

int io_conn_write(io_conn *c, const void *p, size_t n)
{
	if (c->dead || c->state == C_CLOSED)
		return -1;
	if (n == 0)
		return 0;
	if (io_conn_pending(c) + n > c->max_pending || buf_append(&c->out, p, n) < 0)
		return -1;
	c->drain_armed = true;
	if (!c->flush_queued && c->state == C_OPEN) {
		if (io_loop_defer(c->loop, flush_cb, c) == 0)
			c->flush_queued = true;
	}
	return 0;
}

size_t io_conn_pending(const io_conn *c)
{
	size_t n = buf_len(&c->out);

	if (c->tls != NULL && c->state != C_CLOSED) {
		size_t r = 0;

		/* records built but not yet sent; the engine's buffer pointer is cheap to ask for */
		if (tls_client_sendrec_buf(c->tls, &r) != NULL)
			n += r;
	}
	return n;
}

void io_conn_pause_read(io_conn *c, bool pause)
{
	if (c->paused == pause || c->state == C_CLOSED)
		return;
	c->paused = pause;
	if (!pause && c->state == C_OPEN && !c->flush_queued) {
		/* TLS may hold decrypted bytes the socket will never signal again */
		if (io_loop_defer(c->loop, flush_cb, c) == 0)
			c->flush_queued = true;
	}
	update_interest(c);
}

bool io_conn_is_open(const io_conn *c) { return !c->dead && c->state == C_OPEN; }
const char *io_conn_peer(const io_conn *c) { return c->peer; }
const char *io_conn_tls_suite(const io_conn *c) { return c->tls != NULL ? tls_client_suite(c->tls) : ""; }

static void destroy(io_conn *c)
{
	if (c->flush_queued)
		io_loop_cancel_defer(c->loop, flush_cb, c);
	close_fd(c);
	tls_client_free(c->tls);
	buf_free(&c->out);
	free(c);
}

void io_conn_free(io_conn *c)
{
	if (c == NULL || c->dead)
		return;
	c->dead = true;
	if (c->tls != NULL && c->fd >= 0 && c->state == C_OPEN) {
		uint8_t *p;
		size_t n;

		/* best effort close_notify: one non-blocking send, never waited for */
		tls_client_close(c->tls);
		if ((p = tls_client_sendrec_buf(c->tls, &n)) != NULL)
			(void)!send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	c->state = C_CLOSED;
	close_fd(c);
	if (c->depth == 0)
		destroy(c);
}
