/*
 * Implementation notes.
 *
 * Writes are coalesced the way redis' beforeSleep does it: every submit
 * anywhere in a turn only marks the transport (one io_loop_defer), and the
 * deferred flush writes h2's single output buffer at once, so a turn that
 * answered a hundred streams costs one send(2).  POLLOUT interest is asked
 * for only while output is left over.
 *
 * The read buffer is one static scratch array: the loop is single-threaded
 * and h2_conn_feed() consumes everything it is given before returning, so
 * nothing points into it between calls.  That keeps idle connections small.
 */
#include "grpc/transport.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/net.h"

enum {
	TR_FLUSH_QUEUED = 1u,
	TR_CONNECTING = 2u,
	TR_STOPPED = 4u,
};

/* Reads per readable event before yielding to other fds (fairness). */
#define READS_PER_TURN 4
/* send(2) calls per flush; h2 frames queued DATA in high-water-sized slices. */
#define WRITES_PER_FLUSH 16

static uint8_t read_scratch[64 * 1024];

static void flush_cb(io_loop *loop, void *arg);

/* The byte stream under h2: the socket itself, or TLS over it. */
static ssize_t stream_recv(grpc_transport *t, void *p, size_t n)
{
	return io_tls_on(&t->tls) ? io_tls_recv(&t->tls, t->fd, p, n) : recv(t->fd, p, n, 0);
}

static ssize_t stream_send(grpc_transport *t, const void *p, size_t n)
{
	return io_tls_on(&t->tls) ? io_tls_send(&t->tls, t->fd, p, n) : send(t->fd, p, n, MSG_NOSIGNAL);
}

/* Why the stream failed: TLS's own words when TLS refused. */
static const char *stream_error(grpc_transport *t, const char *what)
{
	if (!io_tls_on(&t->tls))
		return what;
	if (errno == EPROTO)
		return io_tls_error(&t->tls);
	/* a write that failed in the handshake: the peer's alert may be waiting unread */
	if (!io_tls_handshake_done(&t->tls) && io_tls_absorb(&t->tls, t->fd) != 0)
		return io_tls_error(&t->tls);
	/* BearSSL ends some refusals (a missing client certificate) without an alert */
	return io_tls_handshake_done(&t->tls) ? what : "tls: connection closed during the handshake";
}

static void tr_close(grpc_transport *t, const char *reason)
{
	grpc_transport_stop(t);
	if (t->on_close)
		t->on_close(t, reason);
}

static void arm_tick(grpc_transport *t)
{
	int64_t d = h2_conn_next_deadline(t->h2);

	if (d < 0) {
		if (t->tick_at >= 0)
			io_timer_stop(t->loop, &t->tick);
		t->tick_at = -1;
	} else if (d != t->tick_at || !io_timer_active(&t->tick)) {
		io_timer_start_at(t->loop, &t->tick, d);
		t->tick_at = d;
	}
}

/* Writes what h2 has; returns -1 when the transport closed (t is gone). */
static int flush_now(grpc_transport *t)
{
	size_t len = 0;
	const uint8_t *p;
	unsigned interest = 0;

	if (io_tls_on(&t->tls)) {
		if (io_tls_flush(&t->tls, t->fd) < 0) {
			tr_close(t, "write failed");
			return -1;
		}
		if (io_tls_closed(&t->tls) && !io_tls_want_write(&t->tls)) {
			/* refused or failed, its alert (if any) written */
			errno = EPROTO;
			tr_close(t, stream_error(t, "closed"));
			return -1;
		}
	}
	for (int i = 0; i < WRITES_PER_FLUSH; i++) {
		ssize_t n;
		p = h2_conn_pending(t->h2, &len);
		if (len == 0)
			break;
		n = stream_send(t, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			tr_close(t, stream_error(t, "write failed"));
			return -1;
		}
		h2_conn_consumed(t->h2, (size_t)n);
		if ((size_t)n < len)
			break;
	}
	p = h2_conn_pending(t->h2, &len);
	if (len == 0 && h2_conn_want_close(t->h2)) {
		tr_close(t, h2_conn_error_code(t->h2) ? h2_conn_error_desc(t->h2) : "closed");
		return -1;
	}
	if (!io_tls_on(&t->tls)) {
		if (len > 0 || h2_conn_want_write(t->h2))
			interest |= IO_WRITE;
	} else if (io_tls_want_write(&t->tls) ||
	    (io_tls_can_send(&t->tls) && (len > 0 || h2_conn_want_write(t->h2)))) {
		/* during the handshake h2's output waits for the engine, not the socket */
		interest |= IO_WRITE;
	}
	if (len <= GRPC_TRANSPORT_PAUSE_BYTES && h2_conn_want_read(t->h2))
		interest |= IO_READ;
	if (interest == 0)
		interest = IO_WRITE;	/* still draining: wait to write, never hang */
	if (io_loop_interest(t->loop, t->fd) != interest)
		io_loop_set_interest(t->loop, t->fd, interest);
	arm_tick(t);
	return 0;
}

static void flush_cb(io_loop *loop, void *arg)
{
	grpc_transport *t = arg;

	(void)loop;
	t->flags &= ~TR_FLUSH_QUEUED;
	if (t->flags & TR_STOPPED)
		return;
	if (t->on_turn)
		t->on_turn(t);
	flush_now(t);
}

static void tick_cb(io_loop *loop, void *arg)
{
	grpc_transport *t = arg;

	t->tick_at = -1;
	h2_conn_tick(t->h2, io_loop_now(loop));
	grpc_transport_kick(t);
}

static void on_io(io_loop *loop, int fd, unsigned ev, void *arg)
{
	grpc_transport *t = arg;

	(void)loop;
	if (t->flags & TR_CONNECTING) {
		int err = io_connect_result(fd);
		t->flags &= ~TR_CONNECTING;
		if (t->on_connect)
			t->on_connect(t, err);
		if (err) {
			tr_close(t, "connect failed");
			return;
		}
		flush_now(t);
		return;
	}
	if ((ev & IO_WRITE) && flush_now(t) < 0)
		return;
	/* TLS: records read ahead wait for the engine's output to leave; POLLOUT lets them in */
	if (!(ev & (IO_READ | IO_ERROR)) && !(io_tls_on(&t->tls) && io_tls_buffered(&t->tls)))
		return;
	for (int i = 0; i < READS_PER_TURN || (io_tls_on(&t->tls) && io_tls_buffered(&t->tls)); i++) {
		ssize_t n = stream_recv(t, read_scratch, sizeof(read_scratch));
		if (n > 0) {
			if (t->nhead < sizeof(t->head)) {
				size_t k = sizeof(t->head) - t->nhead < (size_t)n ? sizeof(t->head) - t->nhead : (size_t)n;
				memcpy(t->head + t->nhead, read_scratch, k);
				t->nhead = (uint8_t)(t->nhead + k);
			}
			if (h2_conn_feed(t->h2, read_scratch, (size_t)n) < 0)
				break;	/* GOAWAY is queued; the flush writes it and closes */
			/* TLS may hold a decrypted rest no poll() would report */
			if ((size_t)n < sizeof(read_scratch) && !(io_tls_on(&t->tls) && io_tls_buffered(&t->tls)))
				break;
			continue;
		}
		if (n == 0) {
			errno = 0;
			tr_close(t, stream_error(t, "peer closed the connection"));
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		tr_close(t, stream_error(t, "read failed"));
		return;
	}
	grpc_transport_kick(t);
}

int grpc_transport_start(grpc_transport *t, io_loop *loop, int fd, h2_conn *h2, int connecting)
{
	t->loop = loop;
	t->fd = fd;
	t->h2 = h2;
	t->tick_at = -1;
	t->nhead = 0;
	t->flags = connecting ? TR_CONNECTING : 0;
	io_timer_init(&t->tick, tick_cb, t);
	if (fd < 0)
		return 0;
	if (io_loop_add_fd(loop, fd, connecting ? IO_WRITE : IO_READ, on_io, t) < 0) {
		t->flags |= TR_STOPPED;
		return -1;
	}
	if (!connecting)
		grpc_transport_kick(t);	/* our SETTINGS go out at once */
	return 0;
}

void grpc_transport_kick(grpc_transport *t)
{
	if (t->fd < 0 || (t->flags & (TR_FLUSH_QUEUED | TR_STOPPED | TR_CONNECTING)))
		return;
	if (io_loop_defer(t->loop, flush_cb, t) == 0)
		t->flags |= TR_FLUSH_QUEUED;
}

void grpc_transport_stop(grpc_transport *t)
{
	if (t->flags & TR_STOPPED)
		return;
	t->flags |= TR_STOPPED;
	if (t->loop) {
		io_timer_stop(t->loop, &t->tick);
		if (t->flags & TR_FLUSH_QUEUED)
			io_loop_cancel_defer(t->loop, flush_cb, t);
	}
	t->flags &= ~TR_FLUSH_QUEUED;
	io_tls_release(&t->tls);
	if (t->fd >= 0 && io_tls_on(&t->tls)) {
		/* what the peer sent and we did not read would make close(2) a reset, and a
		 * reset can overtake the alert just written: read it first */
		for (int i = 0; i < 8 && recv(t->fd, read_scratch, sizeof(read_scratch), MSG_DONTWAIT) > 0; i++)
			;
	}
	if (t->fd >= 0) {
		io_loop_del_fd(t->loop, t->fd);
		close(t->fd);
		t->fd = -1;
	}
}

int grpc_transport_connected(const grpc_transport *t)
{
	return !(t->flags & (TR_CONNECTING | TR_STOPPED));
}
