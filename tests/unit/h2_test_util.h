/*
 * Helpers shared by the h2 connection tests: an endpoint that logs its
 * events, a pump between two connections, and raw frame builders for
 * feeding one connection by hand.
 */
#ifndef CPLANE_TEST_H2_UTIL_H
#define CPLANE_TEST_H2_UTIL_H

#include <stdarg.h>

#include "harness.h"
#include "h2/frame.h"
#include "h2/h2.h"
#include "h2/hpack.h"

/* ---- an endpoint that logs events ---- */

typedef struct side {
	h2_conn *c;
	buf log;
	int respond;		/* server: answer each request when it ends */
	size_t body_len;	/* server: response body size */
	int consume;		/* consume data as it arrives */
	uint64_t data_bytes;
	int closes;
	uint32_t last_close_code;
	int goaways;
	uint32_t goaway_code;
} side;

static inline void logf_(side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void logf_(side *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&s->log, fmt, ap);
	va_end(ap);
}

static inline void respond(side *sd, h2_conn *c, int32_t id)
{
	static const h2_field hdrs[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field trl[] = {H2_FIELD_LIT("grpc-status", "0")};
	uint8_t *body = calloc(1, sd->body_len + 1);

	CHECK_EQ_INT(h2_submit_response(c, id, 200, hdrs, 1, 0), 0);
	CHECK_EQ_INT(h2_submit_data(c, id, body, sd->body_len, 0), 0);
	CHECK_EQ_INT(h2_submit_trailers(c, id, trl, 1), 0);
	free(body);
}

static inline int cb_headers(h2_conn *c, void *user, int32_t id, void *su, const h2_headers *h)
{
	side *sd = user;
	size_t i;

	(void)su;
	logf_(sd, "H %d", id);
	if (h->method)
		logf_(sd, " %.*s %.*s %.*s", (int)h->method_len, h->method, (int)h->scheme_len, h->scheme,
		    (int)h->path_len, h->path);
	if (h->authority)
		logf_(sd, " @%.*s", (int)h->authority_len, h->authority);
	if (h->status)
		logf_(sd, " %d", h->status);
	for (i = 0; i < h->nfields; i++)
		logf_(sd, " %.*s=%.*s", (int)h->fields[i].name_len, h->fields[i].name,
		    (int)h->fields[i].value_len, h->fields[i].value);
	logf_(sd, "%s%s\n", h->end_stream ? " END" : "", h->is_trailers ? " TRAILERS" : "");
	if (sd->respond && h->end_stream && !h->is_trailers)
		respond(sd, c, id);
	return 0;
}

static inline int cb_data(h2_conn *c, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
{
	side *sd = user;

	(void)su;
	(void)d;
	logf_(sd, "D %d %zu%s\n", id, len, end ? " END" : "");
	sd->data_bytes += len;
	if (sd->consume)
		h2_conn_consume(c, id, len);
	if (sd->respond && end)
		respond(sd, c, id);
	return 0;
}

static inline void cb_close(h2_conn *c, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	side *sd = user;

	(void)c;
	(void)su;
	logf_(sd, "C %d %s%s\n", id, h2_error_code_str(code), remote ? " remote" : "");
	sd->closes++;
	sd->last_close_code = code;
}

static inline void cb_goaway(h2_conn *c, void *user, uint32_t last, uint32_t code, const uint8_t *dbg, size_t n)
{
	side *sd = user;

	(void)c;
	(void)dbg;
	(void)n;
	logf_(sd, "G %u %s\n", last, h2_error_code_str(code));
	sd->goaways++;
	sd->goaway_code = code;
}

static const h2_callbacks test_cb = {
	.on_headers = cb_headers, .on_data = cb_data, .on_stream_close = cb_close, .on_goaway = cb_goaway,
};

static inline void side_init(side *s, enum h2_role role, const h2_settings *st)
{
	memset(s, 0, sizeof(*s));
	s->consume = 1;
	s->c = h2_conn_new(role, st, &test_cb, s);
}

static inline void side_free(side *s)
{
	h2_conn_free(s->c);
	buf_free(&s->log);
}

/* Moves output both ways until neither side has anything to say. */
static inline void pump(side *a, side *b)
{
	int moved;

	do {
		const uint8_t *p;
		size_t n;

		moved = 0;
		if ((p = h2_conn_pending(a->c, &n)) != NULL) {
			h2_conn_feed(b->c, p, n);
			h2_conn_consumed(a->c, n);
			moved = 1;
		}
		if ((p = h2_conn_pending(b->c, &n)) != NULL) {
			h2_conn_feed(a->c, p, n);
			h2_conn_consumed(b->c, n);
			moved = 1;
		}
	} while (moved);
}

static inline const char *logstr(side *s)
{
	buf_append_byte(&s->log, 0);
	s->log.end--;
	return (const char *)buf_data(&s->log);
}

/* ---- raw frames into a server ---- */

typedef struct raw {
	side sv;
	hpack_encoder enc;
	buf in;
} raw;

static inline void raw_init(raw *r, const h2_settings *st)
{
	side_init(&r->sv, H2_ROLE_SERVER, st);
	hpack_encoder_init(&r->enc, 4096);
	buf_init(&r->in);
	buf_append(&r->in, H2_PREFACE, H2_PREFACE_LEN);
	h2_frame_put_settings(&r->in, NULL, NULL, 0);
	h2_frame_put_settings_ack(&r->in);
}

static inline void raw_free(raw *r)
{
	side_free(&r->sv);
	hpack_encoder_free(&r->enc);
	buf_free(&r->in);
}

/* Appends a header block from "name: value" pairs (NULL-terminated list). */
static inline void raw_block(raw *r, buf *blk, const char *const *kv)
{
	buf_reset(blk);
	hpack_encode_begin(&r->enc, blk);
	for (; kv[0]; kv += 2)
		hpack_encode_field(&r->enc, blk, (const uint8_t *)kv[0], strlen(kv[0]), (const uint8_t *)kv[1],
		    strlen(kv[1]), 0);
}

static const char *const req_get[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x", NULL};
static const char *const req_post[] = {":method", "POST", ":scheme", "http", ":path", "/", NULL};

static inline void raw_headers(raw *r, uint32_t sid, uint8_t flags, const char *const *kv)
{
	buf blk = BUF_INIT;

	raw_block(r, &blk, kv);
	h2_frame_put_headers(&r->in, sid, flags, buf_data(&blk), buf_len(&blk), 16384, 0, NULL);
	buf_free(&blk);
}

/* Feeds everything queued; returns what the server said last: 'G' GOAWAY / 'R' RST_STREAM, with code. */
typedef struct verdict {
	int goaway;
	uint32_t goaway_code;
	int rst;
	uint32_t rst_sid, rst_code;
	int acks;	/* SETTINGS ACKs */
	int ping_acks;
	int headers;
} verdict;

static inline verdict conn_run(h2_conn *c, buf *in)
{
	verdict v;
	const uint8_t *p;
	size_t n, off = 0;

	memset(&v, 0, sizeof(v));
	h2_conn_feed(c, buf_data(in), buf_len(in));
	buf_reset(in);
	p = h2_conn_pending(c, &n);
	while (p && off + 9 <= n) {
		h2_frame_hdr h;
		h2_frame f;

		h2_frame_hdr_parse(p + off, &h);
		h2_frame_decode(&h, p + off + 9, &f);
		if (h.type == H2_FT_GOAWAY) {
			v.goaway = 1;
			v.goaway_code = f.error_code;
		} else if (h.type == H2_FT_RST_STREAM) {
			v.rst = 1;
			v.rst_sid = h.stream_id;
			v.rst_code = f.error_code;
		} else if (h.type == H2_FT_SETTINGS && (h.flags & H2_FLAG_ACK)) {
			v.acks++;
		} else if (h.type == H2_FT_PING && (h.flags & H2_FLAG_ACK)) {
			v.ping_acks++;
		} else if (h.type == H2_FT_HEADERS) {
			v.headers++;
		}
		off += 9 + h.length;
	}
	h2_conn_consumed(c, n);
	return v;
}

static inline verdict raw_run(raw *r)
{
	return conn_run(r->sv.c, &r->in);
}

#define EXPECT_CONN_ERROR(v, code) do { CHECK((v).goaway); CHECK_EQ_INT((v).goaway_code, (code)); } while (0)
#define EXPECT_STREAM_ERROR(v, sid, code) do { \
		CHECK(!(v).goaway); CHECK((v).rst); CHECK_EQ_INT((v).rst_sid, (sid)); CHECK_EQ_INT((v).rst_code, (code)); \
	} while (0)
#define EXPECT_OK(v) do { CHECK(!(v).goaway); CHECK(!(v).rst); } while (0)

/* ---- raw frames into a client ---- */

typedef struct rawc {
	side cl;
	hpack_encoder enc;
	buf in;
} rawc;

/* A client with requests on streams 1 (GET, ended) and 3 (POST, open); the server's preface queued. */
static inline void rawc_init(rawc *r)
{
	side_init(&r->cl, H2_ROLE_CLIENT, NULL);
	hpack_encoder_init(&r->enc, 4096);
	buf_init(&r->in);
	h2_frame_put_settings(&r->in, NULL, NULL, 0);
	h2_frame_put_settings_ack(&r->in);
	h2_submit_request(r->cl.c, "GET", "http", "x", "/", NULL, 0, 1, NULL);
	h2_submit_request(r->cl.c, "POST", "http", "x", "/", NULL, 0, 0, NULL);
	conn_run(r->cl.c, &r->in);
}

static inline void rawc_free(rawc *r)
{
	side_free(&r->cl);
	hpack_encoder_free(&r->enc);
	buf_free(&r->in);
}

static inline void rawc_headers(rawc *r, uint32_t sid, uint8_t flags, const char *const *kv)
{
	buf blk = BUF_INIT;

	hpack_encode_begin(&r->enc, &blk);
	for (; kv[0]; kv += 2)
		hpack_encode_field(&r->enc, &blk, (const uint8_t *)kv[0], strlen(kv[0]), (const uint8_t *)kv[1],
		    strlen(kv[1]), 0);
	h2_frame_put_headers(&r->in, sid, flags, buf_data(&blk), buf_len(&blk), 16384, 0, NULL);
	buf_free(&blk);
}

static const char *const resp_ok[] = {":status", "200", "content-type", "application/grpc", NULL};


#endif
