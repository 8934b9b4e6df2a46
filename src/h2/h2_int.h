/*
 * Internals shared by h2_conn.c (lifecycle, streams, settings, errors,
 * timers), h2_recv.c (input: frames, header blocks, validation) and
 * h2_send.c (submits, DATA scheduling, output).  Not a public contract.
 */
#ifndef CPLANE_H2_H2_INT_H
#define CPLANE_H2_H2_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "h2/frame.h"
#include "h2/h2.h"
#include "h2/hpack.h"

/*
 * A live stream (open or half-closed).  Idle streams have no object;
 * closed streams are freed at once and remembered only in the closed ring.
 */
typedef struct h2_stream {
	uint32_t id;
	uint8_t local_closed;	/* END_STREAM framed into output */
	uint8_t remote_closed;	/* END_STREAM received */
	uint8_t end_queued;	/* END_STREAM submitted, waiting behind queued DATA */
	uint8_t trailers_queued;/* trailers (serialized in ->trailers) follow the queue */
	uint8_t headers_sent;	/* our initial HEADERS went out */
	uint8_t headers_recv;	/* peer's initial (final) HEADERS arrived */
	uint8_t delivered;	/* the app knows it: on_stream_close owed */
	uint8_t pending;	/* on the send list */
	uint8_t notify_ready;	/* queue was non-empty: on_send_ready when drained */
	uint8_t is_head;	/* client: request was HEAD (content-length of response not checked) */
	int64_t send_window;
	int64_t recv_window;	/* what the peer may still send */
	uint32_t recv_unacked;	/* consumed, not yet returned by WINDOW_UPDATE */
	uint64_t recv_unconsumed;	/* delivered to the app, not yet consumed */
	int64_t content_length;	/* announced by the peer, -1 none */
	uint64_t data_received;
	buf sendq;
	buf trailers;		/* serialized fields: u32 nlen, name, u32 vlen, value, u8 flags */
	void *user;
	struct h2_stream *next, *prev;	/* send list, or free list (next) */
} h2_stream;

/* Token bucket for rate limits (milli-tokens); without ticks it is a plain count. */
typedef struct h2_bucket {
	int64_t tokens;
	int64_t last_ms;
	uint32_t burst;
	uint32_t per_s;
} h2_bucket;

/* How a recently closed stream ended: decides ignore vs STREAM_CLOSED for late frames. */
enum { CLOSED_NORMAL = 1, CLOSED_RESET_BY_US = 2, CLOSED_RESET_BY_PEER = 3 };
#define H2_CLOSED_RING 256

/*
 * A header block we wrote whose encoding left the HPACK encoder as it was
 * (every field indexed or sent without indexing): the same fields, while
 * the encoder's state is unchanged, are the same bytes, so h2_send writes
 * them again without checking or encoding the fields.  The key is the
 * fields as sent: per field its flags, name and value lengths (one octet
 * each), name, value.
 */
#define H2_MEMO_SLOTS 2
#define H2_MEMO_KEY_MAX 160
#define H2_MEMO_BLOCK_MAX 64
typedef struct h2_block_memo {
	uint64_t enc_state;	/* hpack_encoder_state() it was made in */
	uint16_t key_len;	/* 0: empty slot */
	uint16_t block_len;
	uint8_t key[H2_MEMO_KEY_MAX];
	uint8_t block[H2_MEMO_BLOCK_MAX];
} h2_block_memo;

/* Field record while a block is being decoded: offsets into fstore (it may move). */
typedef struct h2_frec {
	uint32_t name_off, name_len, value_off, value_len;
	unsigned flags;
	uint64_t value_id;
} h2_frec;

/* What a header block is, for validation. */
enum { HB_REQUEST = 1, HB_RESPONSE, HB_TRAILERS, HB_DISCARD };

/* Pseudo-headers: an index into ps_off/ps_len, and its bit in `pseudo` (PS_x == 1u << PSI_x). */
enum { PSI_METHOD, PSI_SCHEME, PSI_AUTHORITY, PSI_PATH, PSI_STATUS, PSI_COUNT };
#define PS_METHOD (1u << PSI_METHOD)
#define PS_SCHEME (1u << PSI_SCHEME)
#define PS_AUTHORITY (1u << PSI_AUTHORITY)
#define PS_PATH (1u << PSI_PATH)
#define PS_STATUS (1u << PSI_STATUS)

typedef struct h2_hblock {
	int kind;
	const char *malformed;	/* first reason, NULL when fine */
	int seen_regular;
	unsigned pseudo;
	uint32_t ps_off[PSI_COUNT], ps_len[PSI_COUNT];	/* indexed by PSI_x */
	int64_t content_length;
	size_t nfields;
	int too_large;		/* decoded list passed our SETTINGS_MAX_HEADER_LIST_SIZE */
} h2_hblock;

struct h2_conn {
	enum h2_role role;
	h2_settings local;
	h2_callbacks cb;
	void *user;

	/* peer's settings */
	uint32_t peer_max_concurrent;
	uint32_t peer_initial_window;
	uint32_t peer_max_frame;
	uint32_t peer_max_header_list;

	/* lifecycle */
	int failed;
	uint32_t error_code;
	const char *error_desc;
	int freeing;
	size_t preface_have;	/* server: client preface bytes matched so far */
	int got_settings;	/* peer's first SETTINGS seen */
	int settings_pending;	/* our SETTINGS not ACKed */
	int64_t settings_deadline;	/* 0 = not armed yet */
	int64_t now_ms;

	/* input */
	uint8_t hdrbuf[H2_FRAME_HDR_LEN];
	size_t hdr_have;
	int in_payload;
	h2_frame_hdr cur;
	buf inbuf;

	/* header block being assembled (HEADERS + CONTINUATION) */
	int in_block;
	uint32_t block_sid;
	uint8_t block_flags;
	h2_frame block_prio;
	uint32_t block_conts;
	buf block;

	/* HPACK and field decoding */
	hpack_decoder dec;
	hpack_encoder enc;
	h2_block_memo *memo;	/* H2_MEMO_SLOTS, made when the first block qualifies */
	unsigned memo_next;	/* slot the next block replaces */
	buf fstore;
	h2_frec *frec;
	h2_field *fields;
	uint64_t *value_ids;	/* h2_headers.value_ids */
	size_t frec_cap;
	h2_hblock hb;
	/*
	 * The last request block, when decoding it left the HPACK decoder as it
	 * was: fstore, frec and rq_memo_hb still hold its fields, so the same
	 * bytes in the same decoder state are not decoded again.  Clients send
	 * the same block for every call (indexed fields, :path and authorization
	 * as literals); any other block ends the memo.
	 */
	uint8_t *rq_memo;	/* the block's bytes (at most RQ_MEMO_MAX: our bound, x-allocated) */
	size_t rq_memo_len, rq_memo_cap;
	uint64_t rq_memo_state;
	h2_hblock rq_memo_hb;
	int rq_memo_ok;
	uint64_t rq_memo_id;	/* h2_headers.block_id of the kept block (ids never repeat on a connection) */
	int fields_built;	/* fields/value_ids hold the last decoded block's (cleared by a decode) */

	/* streams */
	h2_stream **tab;
	size_t tab_cap;		/* power of two */
	size_t nstreams;
	size_t n_local, n_remote;	/* live streams we / the peer opened */
	uint32_t last_peer_id;
	uint32_t next_local_id;
	h2_stream *free_list;
	size_t nfree;
	size_t spare_peak;	/* most streams live at once since the last trim */
	int64_t spare_trim_at;	/* next trim of the free list (ms), 0 = not armed */
	h2_stream *pend_head, *pend_tail;
	size_t npending;
	struct { uint32_t id; uint32_t how; } closed[H2_CLOSED_RING];
	size_t closed_pos;

	/* flow control */
	int64_t send_window;
	int64_t recv_window;
	uint32_t recv_unacked;
	int64_t stall_since;	/* DATA waiting on a shut window since (ms), 0 = not stalled */

	/* output */
	buf out;
	/*
	 * Control frames we owe a peer that may not be reading.  An epoch ends
	 * when everything queued at its start has been written; ctl_queued is
	 * then what was queued since, an upper bound of what is still unwritten.
	 */
	size_t ctl_queued;
	size_t ctl_since_epoch;
	uint64_t out_consumed_total;
	uint64_t ctl_epoch_end;

	/* GOAWAY */
	int goaway_sent;	/* 1 = shutdown notice (2^31-1) sent, 2 = final GOAWAY sent */
	uint32_t goaway_sent_last;
	int graceful_wait;	/* waiting for PING ACK / timer before the final GOAWAY */
	int64_t graceful_deadline;
	int goaway_recv;
	uint32_t goaway_recv_last;

	/* flood guards */
	h2_bucket rst_in;	/* RST_STREAM received (rapid reset) */
	h2_bucket provoked;	/* RST_STREAM we send because of the peer (MadeYouReset) */
	h2_bucket empty_data;	/* DATA without payload and END_STREAM */
	h2_bucket settings_in;

	h2_stats stats;
};

/* h2_conn.c */
h2_stream *h2__find(const h2_conn *c, uint32_t id);
/* Never NULL (base/mem.h: a stream is an object we size). */
h2_stream *h2__stream_new(h2_conn *c, uint32_t id);
/* Removes and frees s; runs on_stream_close if the app knew it. */
void h2__stream_close(h2_conn *c, h2_stream *s, uint32_t code, int remote, int how);
/* Closes s if both directions have ended. Returns 1 if it closed. */
int h2__stream_maybe_close(h2_conn *c, h2_stream *s);
int h2__is_local_id(const h2_conn *c, uint32_t id);
int h2__is_idle(const h2_conn *c, uint32_t id);
int h2__closed_how(const h2_conn *c, uint32_t id);
void h2__closed_remember(h2_conn *c, uint32_t id, int how);
/* Connection error: GOAWAY(code), sticky failure; returns H2_ERR_CONN. */
int h2__conn_error(h2_conn *c, uint32_t code, const char *desc);
/* Stream error: RST_STREAM(code) and close; counts against the provoked-reset limit. */
int h2__stream_error(h2_conn *c, uint32_t id, uint32_t code);
int h2__bucket_take(h2_conn *c, h2_bucket *b);
int h2__ctl_queued(h2_conn *c);
int h2__apply_settings(h2_conn *c, const h2_frame *f);
int h2__window_update_conn(h2_conn *c, size_t n);
void h2__goaway_final(h2_conn *c);

/* h2_recv.c */
int h2__process_frame(h2_conn *c, const h2_frame_hdr *hdr, const uint8_t *payload);
/* RFC 9113 §8.2.1 field value: no NUL, CR or LF; no leading or trailing SP/HTAB.  Also the
 * HPACK decoder's value check, so fields it marks HPACK_FIELD_VALUE_CHECKED passed it. */
int h2__value_ok(const uint8_t *v, size_t n);

/* h2_send.c */
void h2__link_pending(h2_conn *c, h2_stream *s);
void h2__unlink_pending(h2_conn *c, h2_stream *s);
void h2__flush_streams(h2_conn *c);
int h2__stream_can_progress(const h2_conn *c, const h2_stream *s);

#endif
