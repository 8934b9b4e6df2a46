/*
 * gRPC server over h2c (HTTP/2 with prior knowledge), on the io loop.
 *
 * Methods are registered by :path ("/cplane.v1.ClusterService/GetCluster").
 * Unary and server-streaming methods: the client sends one request message
 * and half-closes; the handler runs once it has all of it.  Bidirectional
 * methods (grpc_server_add_bidi_method): the handler runs when the request
 * headers pass validation, then every request message goes to a message
 * handler as it arrives, and the half-close too.
 *
 * Handlers are asynchronous.  A handler gets a grpc_call and may answer at
 * once or at any later loop turn:
 *
 *   grpc_call_reply(call, &resp.base);           unary: one message + OK
 *   grpc_call_send(call, &msg.base) ...          streaming: any number of messages
 *   grpc_call_finish(call, GRPC_NOT_FOUND, "no cluster \"x\"");
 *
 * Lifetime of a call — the one rule: a grpc_call lives until
 * grpc_call_finish() (or grpc_call_reply(), which finishes) is called on it,
 * whatever happens to its stream.  If the stream goes away first (client
 * RST_STREAM, deadline expiry, connection loss, server shutdown), the cancel
 * hook runs once (set it if the handler holds the call across turns), sends
 * become no-ops returning GRPC_ERR_CANCELLED, and the handler still calls
 * grpc_call_finish() to release the call — from inside the hook is fine.
 * On deadline expiry the server itself answers DEADLINE_EXCEEDED, on
 * shutdown UNAVAILABLE; the status given to the later finish is then
 * ignored.
 *
 * Requests are validated as grpc/doc/PROTOCOL-HTTP2.md says before any
 * handler runs: POST, content-type application/grpc[+proto][;...] (else HTTP
 * 415), te: trailers (else INTERNAL), grpc-encoding identity or absent and
 * uncompressed messages (else UNIMPLEMENTED with grpc-accept-encoding:
 * identity), grpc-timeout well formed (else INTERNAL), a message within
 * max_recv_msg (else RESOURCE_EXHAUSTED), exactly one request message (else
 * INTERNAL), a request the method's descriptor can unpack (else INTERNAL),
 * a registered path (else UNIMPLEMENTED).  Errors go as Trailers-Only
 * responses.  A request that is not gRPC gets plain HTTP: GET / → 200
 * text/plain "cplane <CPLANE_VERSION> gRPC: <first service>\n"; anything
 * else → 415.
 *
 * Memory: call objects are pooled; a unary call whose request and response
 * are small does no malloc in steady state (request bytes, metadata and the
 * unpacked request live in per-call storage that is kept for reuse).
 */
#ifndef CPLANE_GRPC_SERVER_H
#define CPLANE_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "grpc/grpc.h"
#include "io/loop.h"
#include "io/tls_server.h"

typedef struct grpc_server grpc_server;
typedef struct grpc_call grpc_call;
typedef struct grpc_sconn grpc_sconn;

/*
 * Connections (see io/conntab.h): a connection is "handshaking" until the
 * client's preface and SETTINGS arrived, "idle" while it has no open
 * stream, busy otherwise.  Handshaking past handshake_timeout_ms: closed.
 * Idle past max_conn_idle_ms: GOAWAY (NO_ERROR, "max connection idle"),
 * closed once written (at most 1 s later).  A newcomer when max_conns are
 * open, or when its address already holds max_conns_per_peer, closes the
 * connection (of that address) that has been handshaking or idle the
 * longest; it is refused only when every candidate is busy.  When accept
 * runs out of descriptors, the longest-idle connection is closed too, and
 * otherwise the listener backs off (io/listener.h).
 */
typedef struct grpc_server_opts {
	uint32_t max_recv_msg;		/* 4 MiB: larger request → RESOURCE_EXHAUSTED */
	uint32_t max_concurrent_streams;/* 1000 per connection (SETTINGS_MAX_CONCURRENT_STREAMS) */
	size_t max_conns;		/* 1000 open connections */
	size_t max_conns_per_peer;	/* 256 per peer address (port ignored); 0 = no limit */
	int64_t handshake_timeout_ms;	/* 5000: preface + SETTINGS */
	int64_t max_conn_idle_ms;	/* 300000 without an open stream → GOAWAY; 0 = never */
	int listen_backlog;		/* 1024 */
	tls_server_config *tls;		/* non-NULL: TLS on every connection (io/tls_server.h); NULL = h2c */
} grpc_server_opts;

void grpc_server_opts_default(grpc_server_opts *o);

/* Handler: runs once the request is complete and valid.  arg is the registration's. */
typedef void (*grpc_handler)(grpc_call *call, void *arg);
/* Cancel hook: the call's stream is gone; grpc_call_cancel_status() says why. */
typedef void (*grpc_cancel_hook)(grpc_call *call, void *arg);
/* Streaming back-pressure release: the call's queued output has drained. */
typedef void (*grpc_writable_cb)(grpc_call *call, void *arg);
/* Shutdown finished: every connection is closed. */
typedef void (*grpc_shutdown_cb)(grpc_server *s, void *arg);

/* opts may be NULL (defaults).  Never NULL (base/mem.h). */
grpc_server *grpc_server_new(io_loop *loop, const grpc_server_opts *opts);
/*
 * Closes the listener and every connection at once; calls still held by
 * handlers get their cancel hook (status UNAVAILABLE) and are then freed
 * even if not finished — finish them in the hook or never touch them again.
 */
void grpc_server_free(grpc_server *s);

/*
 * Registers a method.  path is copied ("/pkg.Service/Method").  req: the
 * request message's descriptor (the request is unpacked into per-call
 * storage and offered by grpc_call_request_msg()), or NULL to take raw bytes
 * only.  Returns 0 or GRPC_ERR_INVALID (duplicate or not starting with '/').
 */
int grpc_server_add_method(grpc_server *s, const char *path, const ProtobufCMessageDescriptor *req,
    grpc_handler fn, void *arg);

/*
 * Bidirectional stream handler: msg/len is one request message (valid only
 * during the call), or msg == NULL once the client half-closed (then no
 * more messages come).  It may send and may finish the call.
 */
typedef void (*grpc_msg_handler)(grpc_call *call, const uint8_t *msg, size_t len, void *arg);
/*
 * Registers a bidirectional streaming method: start runs once per call
 * (set the cancel hook there; it may also finish the call), then on_msg per
 * message and at half-close.  The request messages are not unpacked
 * (grpc_call_request()/_msg() stay empty).  Returns as grpc_server_add_method().
 */
int grpc_server_add_bidi_method(grpc_server *s, const char *path, grpc_handler start,
    grpc_msg_handler on_msg, void *arg);

/* Listens on addr ("host:port", ":port", "[v6]:port").  Returns 0, or -1 with a reason in err. */
int grpc_server_listen(grpc_server *s, const char *addr, char *err, size_t errsz);
/* The bound port of the listener, or -1. */
int grpc_server_port(const grpc_server *s);

/*
 * Graceful shutdown: stops accepting, sends GOAWAY (graceful) on every
 * connection, sets every health status NOT_SERVING, lets calls run for
 * grace_ms, then ends the rest UNAVAILABLE (cancel hooks run) and closes
 * connections once their output is written (at most 1 s later).  done runs
 * once nothing is left (possibly before this returns if nothing is open).
 */
void grpc_server_shutdown(grpc_server *s, int64_t grace_ms, grpc_shutdown_cb done, void *arg);

typedef struct grpc_server_stats {
	uint64_t conns_accepted, conns_refused;	/* refused: table full of busy connections */
	uint64_t conns_evicted;			/* closed to make room for a newcomer or a descriptor */
	uint64_t conns_handshake_timeouts;	/* closed: no preface + SETTINGS in time */
	uint64_t conns_idle_closed;		/* GOAWAY after max_conn_idle_ms without a stream */
	uint64_t calls_started;			/* handlers run */
	uint64_t calls_rejected;		/* answered by the server itself (validation, unknown method) */
	uint64_t calls_cancelled;		/* stream gone before the handler finished */
	uint64_t calls_deadline;		/* of those, by deadline expiry */
	size_t conns_open, calls_active;	/* now; active = handler started, not yet finished */
} grpc_server_stats;
/* Copies the counters out (a snapshot). */
void grpc_server_get_stats(const grpc_server *s, grpc_server_stats *out);
io_loop *grpc_server_loop(const grpc_server *s);

/* --- calls --- */

/* Registered path, NUL-terminated. */
const char *grpc_call_path(const grpc_call *c);
/* The request message's bytes (no prefix); valid until finish. */
const uint8_t *grpc_call_request(const grpc_call *c, size_t *len);
/* The unpacked request (method registered with a descriptor), else NULL; valid until finish. */
const ProtobufCMessage *grpc_call_request_msg(const grpc_call *c);
/* Deadline from grpc-timeout in io_loop_now() milliseconds, or -1 when the client set none. */
int64_t grpc_call_deadline(const grpc_call *c);
/* Custom request metadata (reserved names filtered out), in arrival order; valid until finish. */
size_t grpc_call_metadata_count(const grpc_call *c);
const grpc_metadata *grpc_call_metadata_at(const grpc_call *c, size_t i);
/* First value of name (lower-case), or NULL; *len gets its length (may be NULL). */
const char *grpc_call_metadata_get(const grpc_call *c, const char *name, size_t *len);
/*
 * The same, and *value_id gets a nonzero id when the value is bytes the
 * HPACK decoder kept (h2_headers.value_ids): the same nonzero id means the
 * same bytes, on any connection, for the life of the process; 0 says nothing.
 */
const char *grpc_call_metadata_get_id(const grpc_call *c, const char *name, size_t *len, uint64_t *value_id);

/*
 * Response metadata: trailing 0 adds a response header (only before the
 * first send), trailing 1 a trailer (sent by finish; with Trailers-Only
 * responses both go in the one block).  Name must be lower-case and not
 * reserved; both strings are copied.  At most 16 entries per call.
 * Returns 0, GRPC_ERR_INVALID, GRPC_ERR_STATE, GRPC_ERR_NOMEM.
 */
int grpc_call_add_metadata(grpc_call *c, int trailing, const char *name, const char *value, size_t value_len);

/*
 * Sends one response message (response headers go first, once).  The bytes
 * are copied into the connection's output.  Returns 0, GRPC_ERR_CANCELLED
 * (stream gone), GRPC_ERR_STATE (finished), GRPC_ERR_NOMEM.
 */
int grpc_call_send(grpc_call *c, const ProtobufCMessage *msg);
int grpc_call_send_bytes(grpc_call *c, const uint8_t *msg, size_t len);
/*
 * Ends the call: trailers grpc-status (+ percent-encoded grpc-message when
 * message is non-empty); Trailers-Only when nothing was sent.  Releases the
 * call: c is invalid afterwards.  message may be NULL.  Returns 0, or
 * GRPC_ERR_CANCELLED when the stream was already gone (the call is
 * released all the same).
 */
int grpc_call_finish(grpc_call *c, int status, const char *message);
/* grpc_call_finish() with a printf-style message. */
int grpc_call_finishf(grpc_call *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Unary convenience: send(msg) then finish(OK).  Releases the call whatever happens. */
int grpc_call_reply(grpc_call *c, const ProtobufCMessage *msg);
int grpc_call_reply_bytes(grpc_call *c, const uint8_t *msg, size_t len);

/* Response bytes queued on the stream and not yet handed to the socket (flow control, slow reader). */
size_t grpc_call_send_queued_bytes(const grpc_call *c);
/* fn runs whenever queued output has drained after being non-empty; NULL clears. */
void grpc_call_set_on_writable(grpc_call *c, grpc_writable_cb fn, void *arg);
/* Sets (or with NULL clears) the cancel hook; runs at most once. */
void grpc_call_set_cancel_hook(grpc_call *c, grpc_cancel_hook fn, void *arg);
/* Non-zero once the stream is gone; sends are then no-ops. */
int grpc_call_cancelled(const grpc_call *c);
/* Why: GRPC_CANCELLED (client reset), GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE (connection lost, shutdown); GRPC_OK while live. */
int grpc_call_cancel_status(const grpc_call *c);

void grpc_call_set_user(grpc_call *c, void *user);
void *grpc_call_user(const grpc_call *c);
grpc_server *grpc_call_server(const grpc_call *c);
/* Which connection the call came on, as an opaque identity (callers that keep calls of one connection in
 * order); NULL once the connection is gone.  Another connection may get the same value later. */
const void *grpc_call_conn_id(const grpc_call *c);

/* --- without sockets (tests, fuzzing) --- */

/* A server connection with no fd: feed it bytes, take its output. NULL on ENOMEM. */
grpc_sconn *grpc_server_conn_new_detached(grpc_server *s);
/* Feeds client bytes; returns len or < 0 once the connection failed (its GOAWAY is in the output). */
int64_t grpc_server_conn_feed(grpc_sconn *sc, const uint8_t *in, size_t len);
/* Output to the client: pointer to *len bytes, valid until the next call; then consumed(n). */
const uint8_t *grpc_server_conn_pending(grpc_sconn *sc, size_t *len);
void grpc_server_conn_consumed(grpc_sconn *sc, size_t n);
/* Frees the connection: its calls are cancelled (UNAVAILABLE) as on connection loss. */
void grpc_server_conn_free(grpc_sconn *sc);

/* For health.c: a per-server extension slot freed with the server. */
void grpc_server_set_ext(grpc_server *s, void *ext, void (*free_ext)(void *ext));
void *grpc_server_ext(const grpc_server *s);
/* For health.c: run at shutdown start. */
void grpc_server_set_shutdown_hook(grpc_server *s, void (*fn)(grpc_server *s, void *ext));

#endif
