/*
 * An HTTP/2 connection over a non-blocking socket, driven by the io loop:
 * the glue between one h2_conn (sans-I/O) and one fd, shared by the gRPC
 * server and client.
 *
 *   readable  → read as much as is there (bounded per turn) into h2_conn_feed()
 *   any output → grpc_transport_kick(): one deferred flush per loop turn
 *                writes everything h2 has queued in one write(2) where the
 *                socket takes it; the rest waits for POLLOUT
 *   h2 timers → an io_timer at h2_conn_next_deadline()
 *
 * Reading pauses while more than GRPC_TRANSPORT_PAUSE_BYTES of output is
 * unwritten, so a peer that sends but never reads cannot make us buffer
 * without bound.
 *
 * The transport is embedded in its owner and owns neither the h2_conn nor
 * itself: when the connection ends (EOF, socket error, h2 connection error
 * once its GOAWAY is out, or want_close) it closes the fd and calls
 * on_close, which usually frees the h2_conn and the owner.  on_close runs
 * only from the transport's own io callbacks, never from inside an h2 call,
 * and the transport is not touched after it returns.
 *
 * TLS: with tls.server or tls.client set (before grpc_transport_start) the socket carries TLS and
 * the pump moves plaintext through io_tls_stream (io/tls_stream.h); h2 sees
 * the same bytes either way.  The transport does not own the engine.
 *
 * A transport with fd -1 is detached (tests, fuzzing): kick does nothing and
 * the owner drives h2_conn_feed()/h2_conn_pending() itself.
 */
#ifndef CPLANE_GRPC_TRANSPORT_H
#define CPLANE_GRPC_TRANSPORT_H

#include <stdint.h>

#include "h2/h2.h"
#include "io/loop.h"
#include "io/tls_stream.h"

#define GRPC_TRANSPORT_PAUSE_BYTES (1u << 20)

typedef struct grpc_transport grpc_transport;

struct grpc_transport {
	io_loop *loop;
	int fd;
	h2_conn *h2;
	io_tls tls;		/* both NULL = plain TCP */
	io_timer tick;
	int64_t tick_at;	/* when tick is armed for, -1 if not */
	unsigned flags;		/* TR_* in transport.c */
	uint8_t head[8];	/* the first bytes received (diagnosis of a peer that is not HTTP/2) */
	uint8_t nhead;
	/* Client: the non-blocking connect finished; err is 0 or an errno.  On error on_close follows. */
	void (*on_connect)(grpc_transport *t, int err);
	/* Optional: runs at each turn's flush, before writing (after any input or submit). */
	void (*on_turn)(grpc_transport *t);
	/* The socket is closed; reason is a static string. */
	void (*on_close)(grpc_transport *t, const char *reason);
	void *owner;
};

/*
 * Starts driving fd (already non-blocking) with h2.  connecting: a
 * connect(2) is in progress (wait for writability, then on_connect).
 * Returns 0 or -1 (the loop refused the fd; nothing to undo but the fd).
 */
int grpc_transport_start(grpc_transport *t, io_loop *loop, int fd, h2_conn *h2, int connecting);
/* Schedules a flush at the end of this loop turn (idempotent). Call after any h2 submit. */
void grpc_transport_kick(grpc_transport *t);
/* Closes the fd and stops callbacks and timers, without calling on_close.  Idempotent. */
void grpc_transport_stop(grpc_transport *t);
/* True once connected (server side: from the start). */
int grpc_transport_connected(const grpc_transport *t);

#endif
