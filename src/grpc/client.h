/*
 * gRPC client over h2c, on the io loop: one connection to one address
 * carrying many concurrent calls (unary and server-streaming).
 *
 * The connection is opened on the first call and re-opened for new calls
 * after it is lost or the server sent GOAWAY (calls already running on a
 * connection that received GOAWAY finish there).  Calls beyond the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS wait in a queue for a free stream.  Calls
 * refused by the server before it processed them (REFUSED_STREAM, streams
 * above a GOAWAY's last id) are retried once on a new connection.  When
 * the connection cannot be made, or the target turns out not to be an
 * HTTP/2 server (it answers HTTP/1.x or TLS or other bytes, closes, or
 * sends no SETTINGS within connect_timeout_ms), waiting calls fail
 * UNAVAILABLE at once with a message naming what was seen ("the target
 * answered HTTP/1.1, ..."; no wait-for-ready); the next call tries again.
 *
 * Deadlines: a call's timeout goes out as grpc-timeout (the time left when
 * its stream opens) and is enforced here too: at expiry the stream is reset
 * (CANCEL) and the call ends DEADLINE_EXCEEDED.
 *
 * Callbacks: on_msg for each response message, then on_done exactly once
 * for every call grpc_client_unary()/grpc_client_stream() returned, with
 * the status and the percent-decoded grpc-message (from trailers or a
 * Trailers-Only response; derived from the HTTP status or the reset code
 * otherwise).  After on_done the call handle is invalid.  Callbacks may
 * start new calls and cancel any call; they must not free the client.
 */
#ifndef CPLANE_GRPC_CLIENT_H
#define CPLANE_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <protobuf-c/protobuf-c.h>

#include "grpc/grpc.h"
#include "io/loop.h"
#include "io/tls.h"

typedef struct grpc_client grpc_client;
typedef struct grpc_ccall grpc_ccall;

typedef struct grpc_client_opts {
	const char *authority;		/* :authority; NULL = the address as "ip:port" */
	uint32_t max_recv_msg;		/* 4 MiB: larger response → RESOURCE_EXHAUSTED */
	int64_t connect_timeout_ms;	/* 5000: TCP connect + the server's first SETTINGS */
	const char *user_agent;		/* NULL = "cplane/<version>" */
	/* TLS (io/tls.h): anchors non-NULL = every connection is TLS, ALPN "h2", the server's
	 * certificate checked against tls_server_name; tls_chain + tls_key = a client certificate.
	 * All must outlive the client. */
	const tls_anchors *tls_anchors;
	const char *tls_server_name;
	const struct pem_chain *tls_chain;
	const struct pem_key *tls_key;
} grpc_client_opts;

void grpc_client_opts_default(grpc_client_opts *o);

typedef struct grpc_call_opts {
	int64_t timeout_ms;		/* <= 0: no deadline */
	const grpc_metadata *md;	/* custom request metadata (lower-case names), copied */
	size_t nmd;
} grpc_call_opts;

/* A response message; msg valid only during the call.  Return non-zero to cancel the call (CANCELLED). */
typedef int (*grpc_client_msg_cb)(grpc_ccall *call, void *arg, const uint8_t *msg, size_t len);
/* The call ended.  message is NUL-terminated ("" when none), valid only during the call. */
typedef void (*grpc_client_done_cb)(grpc_ccall *call, void *arg, int status, const char *message);

/* sa is copied.  opts may be NULL.  No I/O happens until the first call.  NULL only when salen is larger than a sockaddr_storage. */
grpc_client *grpc_client_new(io_loop *loop, const struct sockaddr *sa, socklen_t salen,
    const grpc_client_opts *opts);
/* Ends every call (on_done with CANCELLED "client closed") and closes the connections. */
void grpc_client_free(grpc_client *c);

/*
 * Starts a unary call: request bytes (no prefix; copied), exactly one
 * response message expected (none or several with status OK → INTERNAL).
 * opts may be NULL.  Returns the call, or NULL on ENOMEM (no callback).
 */
grpc_ccall *grpc_client_unary(grpc_client *c, const char *path, const uint8_t *req, size_t len,
    const grpc_call_opts *opts, grpc_client_msg_cb on_msg, grpc_client_done_cb on_done, void *arg);
/* Starts a server-streaming call: on_msg runs for every message. */
grpc_ccall *grpc_client_stream(grpc_client *c, const char *path, const uint8_t *req, size_t len,
    const grpc_call_opts *opts, grpc_client_msg_cb on_msg, grpc_client_done_cb on_done, void *arg);
/* Packs msg with protobuf-c into the request (unary when stream == 0). */
grpc_ccall *grpc_client_call_pb(grpc_client *c, const char *path, const ProtobufCMessage *msg,
    int stream, const grpc_call_opts *opts, grpc_client_msg_cb on_msg, grpc_client_done_cb on_done,
    void *arg);
/*
 * Cancels a call: RST_STREAM(CANCEL) if it is on the wire, then on_done
 * with CANCELLED runs before this returns.  No-op for a call that ended.
 */
void grpc_client_cancel(grpc_ccall *call);

/* Response metadata (headers, then trailers) of a call, valid during on_msg/on_done. */
const char *grpc_ccall_metadata_get(const grpc_ccall *call, const char *name, size_t *len);

/* Calls not yet ended (queued + on the wire). */
size_t grpc_client_active_calls(const grpc_client *c);
/* Connections opened so far (reconnects show here). */
uint64_t grpc_client_connects(const grpc_client *c);

#endif
