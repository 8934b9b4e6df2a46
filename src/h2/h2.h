/*
 * HTTP/2 (RFC 9113) connection and stream state machines, both roles.
 * Sans-I/O, in the shape of nghttp2's mem_recv/mem_send:
 *
 *   io layer                          h2_conn
 *   read() bytes ──────────────────► h2_conn_feed()  ──► callbacks (headers, data, close, goaway)
 *                                                          │  callbacks may h2_submit_*() at once
 *   write(h2_conn_pending()) ◄─────── output buffer  ◄─────┘
 *   h2_conn_consumed(n)
 *   h2_conn_tick(now) at h2_conn_next_deadline()
 *
 * Output is coalesced: every frame produced by any feed/submit call is
 * appended to one buffer, so the io layer does one write per loop turn.
 * Queued stream DATA (held back by flow control or by the output high-water
 * mark) is framed into that buffer by h2_conn_pending().
 *
 * Threading: none.  A connection is used from one thread; callbacks run
 * inside h2_conn_feed(), h2_conn_pending(), h2_conn_tick() and the submit
 * calls that flush, and may call any h2_* function on the same connection
 * except h2_conn_free() (re-entrant submits are fine).
 *
 * Lifetimes: every pointer handed to a callback (header fields, data) is
 * valid only during that callback.  Every pointer passed to a submit call is
 * copied before it returns.
 *
 * Errors: functions return >= 0 on success and a negative H2_ERR_* value on
 * failure; h2_strerror() names them.  A connection error (the peer broke the
 * protocol, or a limit tripped) is sticky: GOAWAY with the RFC's error code
 * is queued, feed returns H2_ERR_CONN from then on, and h2_conn_want_close()
 * turns true; the io layer writes the pending output and closes the socket.
 * Stream errors only reset that stream (RST_STREAM + on_stream_close).
 *
 * Limits (each trips GOAWAY ENHANCE_YOUR_CALM for this connection only,
 * counted in h2_stats.calm_trips):
 *   - RST_STREAM received: token bucket, burst 1000, 33/s (rapid reset,
 *     CVE-2023-44487);
 *   - RST_STREAM we send because of the peer (malformed requests, frames on
 *     half-closed streams, REFUSED_STREAM, bad WINDOW_UPDATEs): burst 1000,
 *     33/s (MadeYouReset, CVE-2025-8671);
 *   - CONTINUATION frames per header block: max_continuations; the block's
 *     compressed size: 4 x max_header_list_size + one frame;
 *   - decoded header list: max_header_list_size, enforced while decoding
 *     (HPACK bomb) -- past it only that stream is refused (431 + RST);
 *   - control frames owed to a peer that does not read (PING/SETTINGS ACKs,
 *     RST_STREAMs): max_queued_control;
 *   - DATA frames without payload or END_STREAM: burst 1000, 100/s;
 *   - SETTINGS: more than 32 entries in one frame, or burst 1000, 100/s;
 *   - DATA queued while the peer keeps its window shut: stall_timeout_ms.
 * The buckets refill from the times given to h2_conn_tick(); while one is
 * refilling, h2_conn_next_deadline() asks for a tick a second.
 */
#ifndef CPLANE_H2_H2_H
#define CPLANE_H2_H2_H

#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/* RFC 9113 §7 error codes (wire values). */
enum h2_error_code {
	H2_NO_ERROR = 0x0,
	H2_PROTOCOL_ERROR = 0x1,
	H2_INTERNAL_ERROR = 0x2,
	H2_FLOW_CONTROL_ERROR = 0x3,
	H2_SETTINGS_TIMEOUT = 0x4,
	H2_STREAM_CLOSED = 0x5,
	H2_FRAME_SIZE_ERROR = 0x6,
	H2_REFUSED_STREAM = 0x7,
	H2_CANCEL = 0x8,
	H2_COMPRESSION_ERROR = 0x9,
	H2_CONNECT_ERROR = 0xa,
	H2_ENHANCE_YOUR_CALM = 0xb,
	H2_INADEQUATE_SECURITY = 0xc,
	H2_HTTP_1_1_REQUIRED = 0xd,
};
/* "PROTOCOL_ERROR" etc.; "UNKNOWN" for other values. */
const char *h2_error_code_str(uint32_t code);

/* API return codes (negative). */
enum h2_status {
	H2_OK = 0,
	H2_ERR_CONN = -1,	/* the connection has failed; see h2_conn_error_code/desc */
	H2_ERR_NOMEM = -2,
	H2_ERR_NO_STREAM = -3,	/* no such open stream (never opened, or closed) */
	H2_ERR_STREAM_STATE = -4,/* not allowed in the stream's state (e.g. data after end_stream, response twice) */
	H2_ERR_NO_IDS = -5,	/* client: stream ids exhausted, or GOAWAY received/sent: open a new connection */
	H2_ERR_CONCURRENCY = -6,/* client: the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached; wait for a close */
	H2_ERR_CLOSING = -7,	/* connection is closing (GOAWAY sent); no new streams */
	H2_ERR_INVALID = -8,	/* bad argument: invalid field name/value, wrong role, bad status, ... */
};
const char *h2_strerror(int err);

enum h2_role { H2_ROLE_CLIENT = 0, H2_ROLE_SERVER = 1 };

/*
 * Our side's settings and limits.  h2_settings_default() fills defaults;
 * change fields before h2_conn_new().  The first six are sent in our
 * SETTINGS frame; the rest are local policy.
 */
typedef struct h2_settings {
	uint32_t header_table_size;	 /* 4096: HPACK decoder table we allow the peer */
	uint32_t enable_push;		 /* always sent as 0; push is never used */
	uint32_t max_concurrent_streams; /* 1000 (peer-initiated streams; REFUSED_STREAM past it) */
	uint32_t initial_window_size;	 /* 1 MiB per-stream receive window */
	uint32_t max_frame_size;	 /* 16384 largest frame we accept */
	uint32_t max_header_list_size;	 /* 64 KiB decoded (name+value+32 each); 0 = do not send */

	uint32_t connection_window;	 /* 16 MiB connection receive window (WINDOW_UPDATE on stream 0 at start) */
	uint32_t settings_timeout_ms;	 /* 10000: peer must ACK our SETTINGS within this (SETTINGS_TIMEOUT) */
	int auto_consume;		 /* 0: app calls h2_conn_consume(); 1: data counts as consumed once on_data returns */
	uint32_t max_continuations;	 /* 8 CONTINUATION frames per header block (flood guard) */
	uint32_t max_queued_control;	 /* 10000 control frames (PING/SETTINGS ACK, RST) owed to a peer not reading */
	size_t output_high_water;	 /* 256 KiB: h2_conn_pending() frames queued DATA only up to this */
	uint32_t stall_timeout_ms;	 /* 60000: DATA queued but peer's window shut this long → ENHANCE_YOUR_CALM; 0 = off */
	int keep_blocks;		 /* 1: keep header blocks to write or read again (h2_headers.block_id); 0: never */
} h2_settings;

void h2_settings_default(h2_settings *s);

/* One header field; strings need not be NUL-terminated. */
typedef struct h2_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	unsigned flags;		/* H2_FIELD_* */
} h2_field;

#define H2_FIELD_SENSITIVE 0x1u	/* never-indexed literal (received or to send) */
#define H2_FIELD_NO_INDEX 0x2u	/* send: literal without indexing (value changes every time) */

/* Helper for literals: H2_FIELD_LIT("content-type", "application/grpc") */
#define H2_FIELD_LIT(n, v) {(n), sizeof(n) - 1, (v), sizeof(v) - 1, 0}

/* Received header block, validated per RFC 9113 §8.2-8.3, pseudo-headers split out. */
typedef struct h2_headers {
	/* Request (server role): :method :scheme :authority :path; NULL/0 when absent. */
	const char *method;	size_t method_len;
	const char *scheme;	size_t scheme_len;
	const char *authority;	size_t authority_len;
	const char *path;	size_t path_len;
	/* Response (client role): :status as a number; 0 in requests and trailers. */
	int status;
	/* Regular fields in the order received (no pseudo-headers; cookies not joined). */
	const h2_field *fields;
	size_t nfields;
	int64_t content_length;	/* parsed content-length, -1 if absent */
	int end_stream;		/* END_STREAM was set: no data follows */
	int is_trailers;	/* a trailing block (always end_stream) */
	/* Per field: nonzero names the value bytes process-wide (hpack_decoder_value_id). */
	const uint64_t *value_ids;
	/*
	 * Requests: nonzero when h2 kept this block (it decoded without touching
	 * the HPACK table); the same id again on this connection is the same
	 * header list, byte for byte, so what the app decided from it holds.
	 */
	uint64_t block_id;
} h2_headers;

typedef struct h2_conn h2_conn;

/*
 * Callbacks.  Any may be NULL.  `user` is h2_conn_new()'s user pointer;
 * `stream_user` is the stream's pointer (h2_stream_set_user() or
 * h2_submit_request()'s argument; NULL until set).  A non-zero return from
 * an int callback fails the connection with INTERNAL_ERROR.
 */
typedef struct h2_callbacks {
	/*
	 * Server: a request's headers (the stream is new; set its user pointer
	 * here), or its trailers.  Client: the final response headers (1xx are
	 * skipped) or trailers.
	 */
	int (*on_headers)(h2_conn *c, void *user, int32_t stream_id, void *stream_user,
	    const h2_headers *h);
	/*
	 * DATA payload (padding removed).  len may be 0 only with end_stream.
	 * Unless auto_consume, the bytes stay charged to the stream's and the
	 * connection's receive windows until h2_conn_consume().
	 */
	int (*on_data)(h2_conn *c, void *user, int32_t stream_id, void *stream_user,
	    const uint8_t *data, size_t len, int end_stream);
	/*
	 * The stream is closed and forgotten; called exactly once for every
	 * stream that produced on_headers (server) or h2_submit_request()
	 * (client), also when the connection ends (h2_conn_free() included).
	 * error_code is H2_NO_ERROR after a clean end in both directions, else
	 * the RST_STREAM code (sent or received; remote says which) or the
	 * connection's error.
	 */
	void (*on_stream_close)(h2_conn *c, void *user, int32_t stream_id, void *stream_user,
	    uint32_t error_code, int remote);
	/* GOAWAY received.  Streams above last_stream_id that we opened are closed with REFUSED_STREAM after this. */
	void (*on_goaway)(h2_conn *c, void *user, uint32_t last_stream_id, uint32_t error_code,
	    const uint8_t *debug, size_t debug_len);
	/* Peer SETTINGS applied (the first one means the connection is up; h2_conn_peer_* reflect it). */
	void (*on_settings)(h2_conn *c, void *user);
	/* A stream's send queue has drained into the output buffer after being non-empty (back-pressure release). */
	void (*on_send_ready)(h2_conn *c, void *user, int32_t stream_id, void *stream_user);
	/* PING ACK for our h2_submit_ping(). */
	void (*on_ping_ack)(h2_conn *c, void *user, const uint8_t opaque[8]);
} h2_callbacks;

/*
 * Creates a connection.  local may be NULL (defaults).  The client preface
 * (client role) and our SETTINGS (+ connection WINDOW_UPDATE) are queued at
 * once.  Returns NULL on ENOMEM.
 */
h2_conn *h2_conn_new(enum h2_role role, const h2_settings *local, const h2_callbacks *cb, void *user);
/* Frees everything; on_stream_close runs for streams still open (error_code CANCEL). */
void h2_conn_free(h2_conn *c);

/*
 * Feeds received bytes (any split).  Returns len (everything consumed; a
 * partial frame is kept inside) or H2_ERR_CONN once the connection failed.
 * Callbacks run from inside.
 */
int64_t h2_conn_feed(h2_conn *c, const uint8_t *in, size_t len);

/*
 * Output ready to write: frames queued DATA up to output_high_water first.
 * Returns a pointer to *len bytes (NULL with *len == 0 when nothing), valid
 * until the next h2_* call on c.  After writing n of them, call
 * h2_conn_consumed(c, n).
 */
const uint8_t *h2_conn_pending(h2_conn *c, size_t *len);
void h2_conn_consumed(h2_conn *c, size_t n);
/* True when there is output, or queued DATA a window allows sending. */
int h2_conn_want_write(const h2_conn *c);
/* False once the connection has failed (nothing more will be read). */
int h2_conn_want_read(const h2_conn *c);
/*
 * True when the connection should be closed after the pending output is
 * written: a connection error, or GOAWAY sent/received and no stream left.
 */
int h2_conn_want_close(const h2_conn *c);

/*
 * Time.  The core has no clock: the io layer calls h2_conn_tick() with its
 * monotonic milliseconds every loop turn (or at least at
 * h2_conn_next_deadline()).  Timers: the SETTINGS ACK timeout (armed at the
 * first tick after our SETTINGS went out), the graceful-GOAWAY drain, and
 * the rate windows of the flood counters.  Returns < 0 if the tick failed
 * the connection (H2_ERR_CONN).
 */
int h2_conn_tick(h2_conn *c, int64_t now_ms);
/* Earliest time h2_conn_tick() has work to do, or -1 for none. */
int64_t h2_conn_next_deadline(const h2_conn *c);

/* After H2_ERR_CONN: the h2 error code sent in GOAWAY (or received) and a static description. */
uint32_t h2_conn_error_code(const h2_conn *c);
const char *h2_conn_error_desc(const h2_conn *c);

/* Peer's settings in effect. */
uint32_t h2_conn_peer_max_concurrent_streams(const h2_conn *c);
/*
 * Stream objects kept for reuse: at least 64 once that many were used, up
 * to as many as were live at once in the last second (at most 512); ticks
 * (h2_conn_next_deadline asks for them) trim the rest.
 */
size_t h2_conn_spare_streams(const h2_conn *c);
uint32_t h2_conn_peer_max_frame_size(const h2_conn *c);
/* Number of open streams (both directions, any open/half-closed state). */
size_t h2_conn_open_streams(const h2_conn *c);
/* True once the peer's preface (server role) and first SETTINGS frame have arrived. */
int h2_conn_handshaken(const h2_conn *c);
/*
 * Client: a new stream may be opened now: the peer's SETTINGS has arrived
 * (its concurrency limit is known), not closing, ids left, under the limit.
 * h2_submit_request() itself allows up to 100 streams before SETTINGS.
 */
int h2_conn_can_open_stream(const h2_conn *c);

/* --- submitting --- */

/*
 * Client: opens a stream with HEADERS (:method :scheme :authority :path,
 * then fields).  NUL-terminated pseudo-header values; authority may be NULL.
 * Returns the new stream id (> 0) or H2_ERR_*.  stream_user is attached.
 */
int32_t h2_submit_request(h2_conn *c, const char *method, const char *scheme, const char *authority,
    const char *path, const h2_field *fields, size_t nfields, int end_stream, void *stream_user);
/* Server: response HEADERS (:status, then fields).  Once per stream; status 200..599. */
int h2_submit_response(h2_conn *c, int32_t stream_id, int status, const h2_field *fields,
    size_t nfields, int end_stream);
/*
 * Either role: queues DATA (copied).  Sent in frames up to the peer's max
 * frame size as the stream's and connection's send windows allow; with
 * end_stream the last frame carries END_STREAM (len may be 0).
 */
int h2_submit_data(h2_conn *c, int32_t stream_id, const uint8_t *data, size_t len, int end_stream);
/* Either role: trailing HEADERS with END_STREAM, sent after all queued DATA. */
int h2_submit_trailers(h2_conn *c, int32_t stream_id, const h2_field *fields, size_t nfields);
/* Resets a stream (on_stream_close runs with remote = 0).  Unknown/closed stream: H2_ERR_NO_STREAM. */
int h2_submit_rst_stream(h2_conn *c, int32_t stream_id, uint32_t error_code);
/*
 * GOAWAY.  graceful (server, NO_ERROR): first GOAWAY(2^31-1) + PING, then
 * after the PING ACK (or 1 s) the real GOAWAY with the last stream we
 * processed; open streams finish; want_close when none is left.  Otherwise
 * one GOAWAY at once; with an error code, open streams are closed and the
 * connection wants to close.  Debug data is a static NUL-terminated string
 * or NULL.
 */
int h2_submit_goaway(h2_conn *c, uint32_t error_code, int graceful, const char *debug);
int h2_submit_ping(h2_conn *c, const uint8_t opaque[8]);

/*
 * Flow control: the application has processed n bytes of stream_id's DATA.
 * WINDOW_UPDATE goes out once half a window has been consumed.  When a
 * stream closes, whatever it delivered and was not consumed goes back to
 * the connection window by itself, so consuming on a closed stream is a
 * no-op (never a double credit); stream_id 0 credits the connection only.
 */
int h2_conn_consume(h2_conn *c, int32_t stream_id, size_t n);

/* Bytes of DATA queued on the stream and not yet framed into output (back-pressure). */
size_t h2_stream_queued_bytes(const h2_conn *c, int32_t stream_id);
/* How much the stream could send right now (min of stream and connection windows), 0 if closed. */
int64_t h2_stream_send_window(const h2_conn *c, int32_t stream_id);
int h2_stream_set_user(h2_conn *c, int32_t stream_id, void *stream_user);
void *h2_stream_get_user(const h2_conn *c, int32_t stream_id);

/* Counters (for metrics and tests). */
typedef struct h2_stats {
	uint64_t frames_in, frames_out;
	uint64_t streams_opened, streams_reset_by_peer, streams_reset_by_us;
	uint64_t calm_trips;	/* limits tripped → ENHANCE_YOUR_CALM */
} h2_stats;
const h2_stats *h2_conn_stats(const h2_conn *c);

#endif
