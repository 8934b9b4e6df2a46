/*
 * HTTP/2 connection tests: client and server h2_conn pairs exchanging bytes
 * in memory, each protocol violation answered with the RFC's error, flow
 * control both ways, flood limits, and a recorded client byte stream fed at
 * every split point giving the same events.
 */
#include "harness.h"

#include <stdarg.h>

#include "h2/frame.h"
#include "h2/h2.h"
#include "h2/hpack.h"
#include "h2_grpcio_client.h"

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

static void logf_(side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(side *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&s->log, fmt, ap);
	va_end(ap);
}

static void respond(side *sd, h2_conn *c, int32_t id)
{
	static const h2_field hdrs[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field trl[] = {H2_FIELD_LIT("grpc-status", "0")};
	uint8_t *body = calloc(1, sd->body_len + 1);

	CHECK_EQ_INT(h2_submit_response(c, id, 200, hdrs, 1, 0), 0);
	CHECK_EQ_INT(h2_submit_data(c, id, body, sd->body_len, 0), 0);
	CHECK_EQ_INT(h2_submit_trailers(c, id, trl, 1), 0);
	free(body);
}

static int cb_headers(h2_conn *c, void *user, int32_t id, void *su, const h2_headers *h)
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

static int cb_data(h2_conn *c, void *user, int32_t id, void *su, const uint8_t *d, size_t len, int end)
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

static void cb_close(h2_conn *c, void *user, int32_t id, void *su, uint32_t code, int remote)
{
	side *sd = user;

	(void)c;
	(void)su;
	logf_(sd, "C %d %s%s\n", id, h2_error_code_str(code), remote ? " remote" : "");
	sd->closes++;
	sd->last_close_code = code;
}

static void cb_goaway(h2_conn *c, void *user, uint32_t last, uint32_t code, const uint8_t *dbg, size_t n)
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

static void side_init(side *s, enum h2_role role, const h2_settings *st)
{
	memset(s, 0, sizeof(*s));
	s->consume = 1;
	s->c = h2_conn_new(role, st, &test_cb, s);
}

static void side_free(side *s)
{
	h2_conn_free(s->c);
	buf_free(&s->log);
}

/* Moves output both ways until neither side has anything to say. */
static void pump(side *a, side *b)
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

static const char *logstr(side *s)
{
	buf_append_byte(&s->log, 0);
	s->log.end--;
	return (const char *)buf_data(&s->log);
}

/* ---- pairs ---- */

static void test_unary_pair(void)
{
	side cl, sv;
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers")};
	int32_t id;

	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, NULL);
	sv.respond = 1;
	sv.body_len = 11;
	id = h2_submit_request(cl.c, "POST", "http", "localhost", "/svc/M", f, 2, 0, NULL);
	CHECK_EQ_INT(id, 1);
	CHECK_EQ_INT(h2_submit_data(cl.c, id, (const uint8_t *)"\0\0\0\0\6abcdef", 11, 1), 0);
	pump(&cl, &sv);
	CHECK_EQ_STR(logstr(&sv), "H 1 POST http /svc/M @localhost content-type=application/grpc te=trailers\n"
	    "D 1 11 END\nC 1 NO_ERROR\n");
	CHECK_EQ_STR(logstr(&cl), "H 1 200 content-type=application/grpc\nD 1 11\nH 1 grpc-status=0 END TRAILERS\n"
	    "C 1 NO_ERROR\n");
	CHECK_EQ_INT(h2_conn_open_streams(cl.c), 0);
	CHECK_EQ_INT(h2_conn_open_streams(sv.c), 0);
	/* A second call reuses the HPACK dynamic table. */
	id = h2_submit_request(cl.c, "POST", "http", "localhost", "/svc/M", f, 2, 1, NULL);
	CHECK_EQ_INT(id, 3);
	pump(&cl, &sv);
	CHECK_EQ_INT(sv.closes, 2);
	CHECK_EQ_INT(cl.closes, 2);
	CHECK(!h2_conn_want_close(cl.c) && !h2_conn_want_close(sv.c));
	side_free(&cl);
	side_free(&sv);
}

/* Many streams with large bodies both ways, small windows and frames: flow control must pace them. */
static void test_flow_control_many(void)
{
	side cl, sv;
	h2_settings st;
	uint8_t *body = malloc(100000);
	int i, n = 40;

	h2_settings_default(&st);
	st.initial_window_size = 1000;
	st.connection_window = 5000;
	st.max_concurrent_streams = 10;
	side_init(&cl, H2_ROLE_CLIENT, &st);
	side_init(&sv, H2_ROLE_SERVER, &st);
	sv.respond = 1;
	sv.body_len = 30000;
	memset(body, 'x', 100000);
	pump(&cl, &sv);
	for (i = 0; i < n; i++) {
		int32_t id;

		while (!h2_conn_can_open_stream(cl.c))
			pump(&cl, &sv);
		id = h2_submit_request(cl.c, "POST", "http", NULL, "/", NULL, 0, 0, NULL);
		CHECK(id > 0);
		CHECK_EQ_INT(h2_submit_data(cl.c, id, body, 7777, 1), 0);
		if (i % 7 == 0)
			pump(&cl, &sv);
	}
	pump(&cl, &sv);
	CHECK_EQ_INT(sv.data_bytes, (uint64_t)n * 7777);
	CHECK_EQ_INT(cl.data_bytes, (uint64_t)n * 30000);
	CHECK_EQ_INT(sv.closes, n);
	CHECK_EQ_INT(cl.closes, n);
	CHECK_EQ_INT(sv.last_close_code, 0);
	CHECK_EQ_INT(cl.last_close_code, 0);
	free(body);
	side_free(&cl);
	side_free(&sv);
}

/* A consumer that does not consume stalls the sender: back-pressure. */
static void test_backpressure(void)
{
	side cl, sv;
	h2_settings st;
	uint8_t body[200000];
	int32_t id;

	h2_settings_default(&st);
	st.initial_window_size = 65535;
	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, &st);
	sv.consume = 0;
	memset(body, 1, sizeof(body));
	id = h2_submit_request(cl.c, "POST", "http", NULL, "/", NULL, 0, 0, NULL);
	CHECK_EQ_INT(h2_submit_data(cl.c, id, body, sizeof(body), 1), 0);
	pump(&cl, &sv);
	CHECK_EQ_INT(sv.data_bytes, 65535);
	CHECK_EQ_INT(h2_stream_queued_bytes(cl.c, id), sizeof(body) - 65535);
	CHECK(!h2_conn_want_write(cl.c));
	CHECK_EQ_INT(h2_stream_send_window(cl.c, id), 0);
	h2_conn_consume(sv.c, id, 65535);
	pump(&cl, &sv);
	CHECK_EQ_INT(sv.data_bytes, 131070);
	side_free(&cl);
	side_free(&sv);
}

static void test_client_reset_and_goaway(void)
{
	side cl, sv;
	int32_t a, b;

	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, NULL);
	a = h2_submit_request(cl.c, "GET", "http", NULL, "/a", NULL, 0, 1, NULL);
	b = h2_submit_request(cl.c, "GET", "http", NULL, "/b", NULL, 0, 1, NULL);
	pump(&cl, &sv);
	CHECK_EQ_INT(h2_submit_rst_stream(cl.c, a, H2_CANCEL), 0);
	pump(&cl, &sv);
	CHECK(strstr(logstr(&sv), "C 1 CANCEL remote\n") != NULL);
	CHECK(strstr(logstr(&cl), "C 1 CANCEL\n") != NULL);
	/* Graceful shutdown: b still completes, then both want to close. */
	CHECK_EQ_INT(h2_submit_goaway(sv.c, H2_NO_ERROR, 1, NULL), 0);
	pump(&cl, &sv);
	CHECK_EQ_INT(cl.goaways, 2);
	CHECK(!h2_conn_can_open_stream(cl.c));
	CHECK(!h2_conn_want_close(sv.c));
	CHECK_EQ_INT(h2_submit_response(sv.c, b, 204, NULL, 0, 1), 0);
	pump(&cl, &sv);
	CHECK(strstr(logstr(&cl), "H 3 204 END\nC 3 NO_ERROR\n") != NULL);
	CHECK(h2_conn_want_close(sv.c));
	CHECK(h2_conn_want_close(cl.c));
	side_free(&cl);
	side_free(&sv);
}

/* Streams the client opened past the GOAWAY's last id are refused (retryable). */
static void test_goaway_refuses_later_streams(void)
{
	side cl, sv;

	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, NULL);
	h2_submit_request(cl.c, "GET", "http", NULL, "/a", NULL, 0, 1, NULL);
	pump(&cl, &sv);
	h2_submit_goaway(sv.c, H2_NO_ERROR, 0, NULL);
	h2_submit_request(cl.c, "GET", "http", NULL, "/b", NULL, 0, 1, NULL);
	pump(&cl, &sv);
	CHECK(strstr(logstr(&cl), "G 1 NO_ERROR\nC 3 REFUSED_STREAM remote\n") != NULL);
	CHECK_EQ_STR(logstr(&sv), "H 1 GET http /a END\n");
	CHECK_EQ_INT(h2_submit_request(cl.c, "GET", "http", NULL, "/c", NULL, 0, 1, NULL), H2_ERR_NO_IDS);
	side_free(&cl);
	side_free(&sv);
}

static void test_concurrency_limit(void)
{
	side cl, sv;
	h2_settings st;

	h2_settings_default(&st);
	st.max_concurrent_streams = 2;
	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, &st);
	pump(&cl, &sv);
	CHECK_EQ_INT(h2_conn_peer_max_concurrent_streams(cl.c), 2);
	CHECK(h2_submit_request(cl.c, "GET", "http", NULL, "/", NULL, 0, 1, NULL) > 0);
	CHECK(h2_submit_request(cl.c, "GET", "http", NULL, "/", NULL, 0, 1, NULL) > 0);
	CHECK_EQ_INT(h2_submit_request(cl.c, "GET", "http", NULL, "/", NULL, 0, 1, NULL), H2_ERR_CONCURRENCY);
	side_free(&cl);
	side_free(&sv);
}

/* ---- raw frames into a server ---- */

typedef struct raw {
	side sv;
	hpack_encoder enc;
	buf in;
} raw;

static void raw_init(raw *r, const h2_settings *st)
{
	side_init(&r->sv, H2_ROLE_SERVER, st);
	hpack_encoder_init(&r->enc, 4096);
	buf_init(&r->in);
	buf_append(&r->in, H2_PREFACE, H2_PREFACE_LEN);
	h2_frame_put_settings(&r->in, NULL, NULL, 0);
	h2_frame_put_settings_ack(&r->in);
}

static void raw_free(raw *r)
{
	side_free(&r->sv);
	hpack_encoder_free(&r->enc);
	buf_free(&r->in);
}

/* Appends a header block from "name: value" pairs (NULL-terminated list). */
static void raw_block(raw *r, buf *blk, const char *const *kv)
{
	buf_reset(blk);
	hpack_encode_begin(&r->enc, blk);
	for (; kv[0]; kv += 2)
		hpack_encode_field(&r->enc, blk, (const uint8_t *)kv[0], strlen(kv[0]), (const uint8_t *)kv[1],
		    strlen(kv[1]), 0);
}

static const char *const req_get[] = {":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x", NULL};
static const char *const req_post[] = {":method", "POST", ":scheme", "http", ":path", "/", NULL};

static void raw_headers(raw *r, uint32_t sid, uint8_t flags, const char *const *kv)
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

static verdict conn_run(h2_conn *c, buf *in)
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

static verdict raw_run(raw *r)
{
	return conn_run(r->sv.c, &r->in);
}

#define EXPECT_CONN_ERROR(v, code) do { CHECK((v).goaway); CHECK_EQ_INT((v).goaway_code, (code)); } while (0)
#define EXPECT_STREAM_ERROR(v, sid, code) do { \
		CHECK(!(v).goaway); CHECK((v).rst); CHECK_EQ_INT((v).rst_sid, (sid)); CHECK_EQ_INT((v).rst_code, (code)); \
	} while (0)
#define EXPECT_OK(v) do { CHECK(!(v).goaway); CHECK(!(v).rst); } while (0)

static void test_raw_handshake_and_request(void)
{
	raw r;
	verdict v;

	raw_init(&r, NULL);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	v = raw_run(&r);
	EXPECT_OK(v);
	CHECK_EQ_INT(v.acks, 1);
	CHECK_EQ_STR(logstr(&r.sv), "H 1 GET http / @x END\n");
	/* PING is answered; unknown frame types and PRIORITY on idle streams are ignored. */
	h2_frame_put_ping(&r.in, (const uint8_t *)"abcdefgh", 0);
	h2_frame_hdr_put(buf_tail(&r.in), 0, 0xee, 0, 0);
	buf_reserve(&r.in, 9);
	h2_frame_hdr_put(buf_tail(&r.in), 0, 0xee, 0, 0);
	buf_commit(&r.in, 9);
	h2_frame_put_priority(&r.in, 9, 3, 0, 16);
	v = raw_run(&r);
	EXPECT_OK(v);
	CHECK_EQ_INT(v.ping_acks, 1);
	raw_free(&r);
}

static void test_raw_preface_errors(void)
{
	raw r;
	verdict v;

	raw_init(&r, NULL);
	buf_reset(&r.in);
	buf_append_str(&r.in, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	CHECK(h2_conn_want_close(r.sv.c));
	raw_free(&r);

	/* First frame after the preface must be SETTINGS. */
	raw_init(&r, NULL);
	buf_reset(&r.in);
	buf_append(&r.in, H2_PREFACE, H2_PREFACE_LEN);
	h2_frame_put_ping(&r.in, (const uint8_t *)"abcdefgh", 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
}

static void test_raw_frame_errors(void)
{
	raw r;
	verdict v;
	uint8_t big[20000] = {0};

	/* Frame larger than our max frame size. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_data(&r.in, 1, 0, big, sizeof(big), 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_FRAME_SIZE_ERROR);
	raw_free(&r);

	/* DATA on stream 0, on an idle stream. */
	raw_init(&r, NULL);
	h2_frame_put_data(&r.in, 0, 0, big, 1, 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	h2_frame_put_data(&r.in, 1, 0, big, 1, 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);

	/* HEADERS on an even id; on a lower id than the last. */
	raw_init(&r, NULL);
	raw_headers(&r, 2, H2_FLAG_END_STREAM, req_get);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 5, H2_FLAG_END_STREAM, req_get);
	raw_headers(&r, 3, H2_FLAG_END_STREAM, req_get);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);

	/* RST_STREAM / WINDOW_UPDATE / CONTINUATION on an idle stream. */
	raw_init(&r, NULL);
	h2_frame_put_rst_stream(&r.in, 1, H2_CANCEL);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	h2_frame_put_window_update(&r.in, 1, 100);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	h2_frame_put_continuation(&r.in, 1, H2_FLAG_END_HEADERS, big, 1);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);

	/* Bad sizes: PING 7, SETTINGS 5, WINDOW_UPDATE 3, RST 5; PRIORITY 4 is a stream error. */
	{
		static const struct { uint8_t type; uint32_t len, sid, code; } cases[] = {
			{H2_FT_PING, 7, 0, H2_FRAME_SIZE_ERROR}, {H2_FT_SETTINGS, 5, 0, H2_FRAME_SIZE_ERROR},
			{H2_FT_WINDOW_UPDATE, 3, 0, H2_FRAME_SIZE_ERROR}, {H2_FT_RST_STREAM, 5, 1, H2_FRAME_SIZE_ERROR},
			{H2_FT_GOAWAY, 5, 0, H2_FRAME_SIZE_ERROR},
		};
		size_t i;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			raw_init(&r, NULL);
			buf_reserve(&r.in, 9 + cases[i].len);
			h2_frame_hdr_put(buf_tail(&r.in), cases[i].len, cases[i].type, 0, cases[i].sid);
			memset(buf_tail(&r.in) + 9, 0, cases[i].len);
			buf_commit(&r.in, 9 + cases[i].len);
			v = raw_run(&r);
			EXPECT_CONN_ERROR(v, cases[i].code);
			raw_free(&r);
		}
		raw_init(&r, NULL);
		buf_reserve(&r.in, 13);
		h2_frame_hdr_put(buf_tail(&r.in), 4, H2_FT_PRIORITY, 0, 1);
		memset(buf_tail(&r.in) + 9, 0, 4);
		buf_commit(&r.in, 13);
		v = raw_run(&r);
		EXPECT_STREAM_ERROR(v, 1, H2_FRAME_SIZE_ERROR);
		raw_free(&r);
	}

	/* PRIORITY depending on itself; SETTINGS / PING / GOAWAY on a stream. */
	raw_init(&r, NULL);
	h2_frame_put_priority(&r.in, 3, 3, 0, 1);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 3, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	buf_reserve(&r.in, 9);
	h2_frame_hdr_put(buf_tail(&r.in), 0, H2_FT_SETTINGS, 0, 1);
	buf_commit(&r.in, 9);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);

	/* Padding too long. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	buf_reserve(&r.in, 12);
	h2_frame_hdr_put(buf_tail(&r.in), 3, H2_FT_DATA, H2_FLAG_PADDED, 1);
	buf_tail(&r.in)[9] = 3;
	buf_commit(&r.in, 12);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);

	/* PUSH_PROMISE from a client. */
	raw_init(&r, NULL);
	h2_frame_put_push_promise(&r.in, 1, 2, big, 0, H2_FLAG_END_HEADERS);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
}

static void test_raw_settings_errors(void)
{
	static const struct { uint16_t id; uint32_t val; uint32_t code; } cases[] = {
		{H2_SETTINGS_ENABLE_PUSH, 2, H2_PROTOCOL_ERROR},
		{H2_SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000u, H2_FLOW_CONTROL_ERROR},
		{H2_SETTINGS_MAX_FRAME_SIZE, 16383, H2_PROTOCOL_ERROR},
		{H2_SETTINGS_MAX_FRAME_SIZE, 16777216, H2_PROTOCOL_ERROR},
	};
	raw r;
	verdict v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw_init(&r, NULL);
		h2_frame_put_settings(&r.in, &cases[i].id, &cases[i].val, 1);
		v = raw_run(&r);
		EXPECT_CONN_ERROR(v, cases[i].code);
		raw_free(&r);
	}
	/* Unknown settings are ignored and acknowledged. */
	raw_init(&r, NULL);
	{
		uint16_t id = 0x99;
		uint32_t val = 7;

		h2_frame_put_settings(&r.in, &id, &val, 1);
	}
	v = raw_run(&r);
	EXPECT_OK(v);
	CHECK_EQ_INT(v.acks, 2);
	raw_free(&r);
}

static void test_raw_stream_states(void)
{
	raw r;
	verdict v;
	uint8_t d[4] = {0};

	/* half-closed (remote): DATA and HEADERS are STREAM_CLOSED stream errors. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	h2_frame_put_data(&r.in, 1, H2_FLAG_END_STREAM, d, 4, 0);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_STREAM_CLOSED);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_STREAM_CLOSED);
	raw_free(&r);

	/* closed after the peer's RST_STREAM: DATA is STREAM_CLOSED. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_rst_stream(&r.in, 1, H2_CANCEL);
	h2_frame_put_data(&r.in, 1, H2_FLAG_END_STREAM, d, 4, 0);
	v = raw_run(&r);
	CHECK(v.rst || v.goaway);
	CHECK_EQ_INT(v.goaway ? v.goaway_code : v.rst_code, H2_STREAM_CLOSED);
	raw_free(&r);

	/* closed after both END_STREAMs: a later DATA / HEADERS is a STREAM_CLOSED connection error. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	r.sv.respond = 1;
	r.sv.body_len = 0;
	raw_run(&r);
	CHECK_EQ_INT(r.sv.closes, 1);
	h2_frame_put_data(&r.in, 1, H2_FLAG_END_STREAM, d, 4, 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_STREAM_CLOSED);
	raw_free(&r);
	raw_init(&r, NULL);
	r.sv.respond = 1;
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	raw_run(&r);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_STREAM_CLOSED);
	raw_free(&r);

	/* Frames after our own RST_STREAM are ignored (they were in flight). */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	raw_run(&r);
	CHECK_EQ_INT(h2_submit_rst_stream(r.sv.c, 1, H2_CANCEL), 0);
	raw_run(&r);
	h2_frame_put_data(&r.in, 1, 0, d, 4, 0);
	h2_frame_put_window_update(&r.in, 1, 10);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, (const char *const[]){"grpc-status", "0", NULL});
	v = raw_run(&r);
	EXPECT_OK(v);
	raw_free(&r);

	/* Interleaving another frame inside a header block. */
	raw_init(&r, NULL);
	{
		buf blk = BUF_INIT;

		raw_block(&r, &blk, req_get);
		buf_reserve(&r.in, 9 + buf_len(&blk));
		h2_frame_hdr_put(buf_tail(&r.in), (uint32_t)buf_len(&blk), H2_FT_HEADERS, H2_FLAG_END_STREAM, 1);
		memcpy(buf_tail(&r.in) + 9, buf_data(&blk), buf_len(&blk));
		buf_commit(&r.in, 9 + buf_len(&blk));
		h2_frame_put_ping(&r.in, (const uint8_t *)"abcdefgh", 0);
		buf_free(&blk);
	}
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
}

static void test_raw_malformed_requests(void)
{
	static const char *const cases[][16] = {
		{":method", "GET", ":scheme", "http", ":path", "/", "X-Upper", "1", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "connection", "close", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "te", "gzip", NULL},
		{":method", "GET", ":scheme", "http", ":path", "", NULL},
		{":method", "GET", ":scheme", "http", NULL},
		{":method", "GET", ":path", "/", NULL},
		{":scheme", "http", ":path", "/", NULL},
		{":method", "GET", ":method", "GET", ":scheme", "http", ":path", "/", NULL},
		{":method", "GET", ":scheme", "http", "x", "y", ":path", "/", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", ":status", "200", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", ":foo", "x", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "x", " lead", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "content-length", "1", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "x", "a\nb", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "u@h", NULL},
		{":method", "GET", ":scheme", "http", ":path", "x", NULL},
		{":method", "CONNECT", ":scheme", "http", ":path", "/", ":authority", "h:1", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", ":protocol", "websocket", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "x:y", "1", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "proxy-connection", "x", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "transfer-encoding", "chunked", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "keep-alive", "1", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "upgrade", "h2c", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "content-length", "x1", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw r;
		verdict v;

		raw_init(&r, NULL);
		raw_headers(&r, 1, H2_FLAG_END_STREAM, cases[i]);
		v = raw_run(&r);
		EXPECT_STREAM_ERROR(v, 1, H2_PROTOCOL_ERROR);
		CHECK_EQ_INT(buf_len(&r.sv.log), 0);
		/* The connection carries on: HPACK state stayed in step. */
		raw_headers(&r, 3, H2_FLAG_END_STREAM, req_get);
		v = raw_run(&r);
		EXPECT_OK(v);
		CHECK_EQ_STR(logstr(&r.sv), "H 3 GET http / @x END\n");
		raw_free(&r);
	}
}

static void test_raw_wellformed_requests(void)
{
	static const char *const cases[][12] = {
		{":method", "GET", ":scheme", "http", ":path", "/", "te", "trailers", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "te", "Trailers", NULL},
		{":method", "CONNECT", ":authority", "h:443", NULL},
		{":method", "OPTIONS", ":scheme", "https", ":path", "*", NULL},
		{":method", "GET", ":scheme", "foo", ":path", "relative", NULL},
		{":method", "POST", ":scheme", "http", ":path", "/", "content-length", "0", "x", "", NULL},
		{":method", "GET", ":scheme", "http", ":path", "/", "cookie", "a=1", "cookie", "b=2", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw r;
		verdict v;

		raw_init(&r, NULL);
		raw_headers(&r, 1, H2_FLAG_END_STREAM, cases[i]);
		v = raw_run(&r);
		EXPECT_OK(v);
		CHECK(buf_len(&r.sv.log) > 0);
		raw_free(&r);
	}
}

static void test_raw_trailers_and_content_length(void)
{
	raw r;
	verdict v;
	uint8_t d[10] = {0};
	static const char *const post_cl[] = {":method", "POST", ":scheme", "http", ":path", "/", "content-length", "10", NULL};

	/* DATA totals against content-length. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, post_cl);
	h2_frame_put_data(&r.in, 1, H2_FLAG_END_STREAM, d, 9, 0);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, post_cl);
	h2_frame_put_data(&r.in, 1, 0, d, 6, 0);
	h2_frame_put_data(&r.in, 1, H2_FLAG_END_STREAM, d, 4, 0);
	v = raw_run(&r);
	EXPECT_OK(v);
	raw_free(&r);

	/* Trailers: must end the stream, no pseudo-headers. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	raw_headers(&r, 1, 0, (const char *const[]){"x", "1", NULL});
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, (const char *const[]){":path", "/", NULL});
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_data(&r.in, 1, 0, d, 3, 2);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, (const char *const[]){"grpc-status", "0", NULL});
	v = raw_run(&r);
	EXPECT_OK(v);
	CHECK_EQ_STR(logstr(&r.sv), "H 1 POST http /\nD 1 3\nH 1 grpc-status=0 END TRAILERS\n");
	raw_free(&r);
}

static void test_raw_flow_control_errors(void)
{
	raw r;
	verdict v;
	h2_settings st;
	uint8_t d[16384] = {0};
	int i;

	/* WINDOW_UPDATE 0: connection error on stream 0, stream error on a stream. */
	raw_init(&r, NULL);
	h2_frame_put_window_update(&r.in, 0, 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_window_update(&r.in, 1, 0);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_PROTOCOL_ERROR);
	raw_free(&r);

	/* Overflow past 2^31-1. */
	raw_init(&r, NULL);
	h2_frame_put_window_update(&r.in, 0, 0x7fffffffu);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_FLOW_CONTROL_ERROR);
	raw_free(&r);
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_window_update(&r.in, 1, 0x7fffffffu);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_FLOW_CONTROL_ERROR);
	raw_free(&r);

	/* SETTINGS_INITIAL_WINDOW_SIZE change pushes an open stream past 2^31-1. */
	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_window_update(&r.in, 1, 0x7fffffffu - 65535);
	{
		uint16_t id = H2_SETTINGS_INITIAL_WINDOW_SIZE;
		uint32_t val = 65536;

		h2_frame_put_settings(&r.in, &id, &val, 1);
	}
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_FLOW_CONTROL_ERROR);
	raw_free(&r);

	/* The peer sending past our stream window. */
	h2_settings_default(&st);
	st.initial_window_size = 20000;
	raw_init(&r, &st);
	r.sv.consume = 0;
	raw_headers(&r, 1, 0, req_post);
	h2_frame_put_data(&r.in, 1, 0, d, 16384, 0);
	h2_frame_put_data(&r.in, 1, 0, d, 16384, 0);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 1, H2_FLOW_CONTROL_ERROR);
	raw_free(&r);
	/* ... and past the connection window. */
	h2_settings_default(&st);
	st.connection_window = 65535;
	st.initial_window_size = 1 << 20;
	st.auto_consume = 0;
	raw_init(&r, &st);
	r.sv.consume = 0;
	raw_headers(&r, 1, 0, req_post);
	for (i = 0; i < 5; i++)
		h2_frame_put_data(&r.in, 1, 0, d, 16384, 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_FLOW_CONTROL_ERROR);
	raw_free(&r);
}

static void test_raw_refused_stream(void)
{
	raw r;
	verdict v;
	h2_settings st;

	h2_settings_default(&st);
	st.max_concurrent_streams = 1;
	raw_init(&r, &st);
	raw_headers(&r, 1, 0, req_post);
	raw_headers(&r, 3, 0, req_post);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 3, H2_REFUSED_STREAM);
	/* A DATA frame in flight for the refused stream is ignored. */
	h2_frame_put_data(&r.in, 3, H2_FLAG_END_STREAM, (const uint8_t *)"x", 1, 0);
	v = raw_run(&r);
	EXPECT_OK(v);
	raw_free(&r);
}

/* ---- raw frames into a client ---- */

typedef struct rawc {
	side cl;
	hpack_encoder enc;
	buf in;
} rawc;

/* A client with requests on streams 1 (GET, ended) and 3 (POST, open); the server's preface queued. */
static void rawc_init(rawc *r)
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

static void rawc_free(rawc *r)
{
	side_free(&r->cl);
	hpack_encoder_free(&r->enc);
	buf_free(&r->in);
}

static void rawc_headers(rawc *r, uint32_t sid, uint8_t flags, const char *const *kv)
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

static void test_client_responses(void)
{
	rawc r;
	verdict v;

	/* 1xx is skipped, then the response, data, trailers. */
	rawc_init(&r);
	rawc_headers(&r, 1, 0, (const char *const[]){":status", "103", "link", "</a>", NULL});
	rawc_headers(&r, 1, 0, resp_ok);
	h2_frame_put_data(&r.in, 1, 0, (const uint8_t *)"abc", 3, 7);
	rawc_headers(&r, 1, H2_FLAG_END_STREAM, (const char *const[]){"grpc-status", "0", NULL});
	v = conn_run(r.cl.c, &r.in);
	EXPECT_OK(v);
	CHECK_EQ_STR(logstr(&r.cl), "H 1 200 content-type=application/grpc\nD 1 3\n"
	    "H 1 grpc-status=0 END TRAILERS\nC 1 NO_ERROR\n");
	rawc_free(&r);

	/* The server resets stream 3; a GOAWAY naming 1 refuses nothing else. */
	rawc_init(&r);
	h2_frame_put_rst_stream(&r.in, 3, H2_CANCEL);
	h2_frame_put_goaway(&r.in, 1, 0, NULL, 0);
	v = conn_run(r.cl.c, &r.in);
	EXPECT_OK(v);
	CHECK_EQ_STR(logstr(&r.cl), "C 3 CANCEL remote\nG 1 NO_ERROR\n");
	rawc_free(&r);
}

static void test_client_violations(void)
{
	rawc r;
	verdict v;

	/* DATA before the response headers; a response without :status; a request pseudo-header. */
	rawc_init(&r);
	h2_frame_put_data(&r.in, 3, 0, (const uint8_t *)"x", 1, 0);
	v = conn_run(r.cl.c, &r.in);
	EXPECT_STREAM_ERROR(v, 3, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	rawc_init(&r);
	rawc_headers(&r, 3, 0, (const char *const[]){"content-type", "x", NULL});
	v = conn_run(r.cl.c, &r.in);
	EXPECT_STREAM_ERROR(v, 3, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	rawc_init(&r);
	rawc_headers(&r, 3, 0, (const char *const[]){":status", "200", ":path", "/", NULL});
	v = conn_run(r.cl.c, &r.in);
	EXPECT_STREAM_ERROR(v, 3, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	/* 101, and 1xx with END_STREAM. */
	rawc_init(&r);
	rawc_headers(&r, 3, 0, (const char *const[]){":status", "101", NULL});
	v = conn_run(r.cl.c, &r.in);
	EXPECT_STREAM_ERROR(v, 3, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	/* HEADERS on a stream we never opened (idle), on an even id; PUSH_PROMISE; ENABLE_PUSH=1. */
	rawc_init(&r);
	rawc_headers(&r, 5, 0, resp_ok);
	v = conn_run(r.cl.c, &r.in);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	rawc_init(&r);
	rawc_headers(&r, 2, 0, resp_ok);
	v = conn_run(r.cl.c, &r.in);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	rawc_init(&r);
	h2_frame_put_push_promise(&r.in, 3, 2, (const uint8_t *)"\x82", 1, H2_FLAG_END_HEADERS);
	v = conn_run(r.cl.c, &r.in);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	rawc_init(&r);
	{
		uint16_t id = H2_SETTINGS_ENABLE_PUSH;
		uint32_t val = 1;

		h2_frame_put_settings(&r.in, &id, &val, 1);
	}
	v = conn_run(r.cl.c, &r.in);
	EXPECT_CONN_ERROR(v, H2_PROTOCOL_ERROR);
	rawc_free(&r);
	/* content-length 5 but 3 bytes and END_STREAM. */
	rawc_init(&r);
	rawc_headers(&r, 3, 0, (const char *const[]){":status", "200", "content-length", "5", NULL});
	h2_frame_put_data(&r.in, 3, H2_FLAG_END_STREAM, (const uint8_t *)"abc", 3, 0);
	v = conn_run(r.cl.c, &r.in);
	EXPECT_STREAM_ERROR(v, 3, H2_PROTOCOL_ERROR);
	CHECK(strstr(logstr(&r.cl), "C 3 PROTOCOL_ERROR\n") != NULL);
	rawc_free(&r);
}

/* ---- floods ---- */

static void test_flood_rapid_reset(void)
{
	raw r;
	verdict v;
	uint32_t sid;

	raw_init(&r, NULL);
	for (sid = 1; sid < 2 * 1100; sid += 2) {
		raw_headers(&r, sid, 0, req_post);
		h2_frame_put_rst_stream(&r.in, sid, H2_CANCEL);
	}
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_ENHANCE_YOUR_CALM);
	raw_free(&r);
}

static void test_flood_made_you_reset(void)
{
	raw r;
	verdict v;
	uint32_t sid;

	/* Each stream provokes a RST_STREAM from us (WINDOW_UPDATE 0). */
	raw_init(&r, NULL);
	for (sid = 1; sid < 2 * 1100; sid += 2) {
		raw_headers(&r, sid, 0, req_post);
		h2_frame_put_window_update(&r.in, sid, 0);
	}
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_ENHANCE_YOUR_CALM);
	raw_free(&r);
}

static void test_flood_continuation(void)
{
	raw r;
	verdict v;
	buf blk = BUF_INIT;
	int i;

	raw_init(&r, NULL);
	raw_block(&r, &blk, req_get);
	buf_reserve(&r.in, 9 + buf_len(&blk));
	h2_frame_hdr_put(buf_tail(&r.in), (uint32_t)buf_len(&blk), H2_FT_HEADERS, H2_FLAG_END_STREAM, 1);
	memcpy(buf_tail(&r.in) + 9, buf_data(&blk), buf_len(&blk));
	buf_commit(&r.in, 9 + buf_len(&blk));
	for (i = 0; i < 20; i++)
		h2_frame_put_continuation(&r.in, 1, 0, (const uint8_t *)"", 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_ENHANCE_YOUR_CALM);
	buf_free(&blk);
	raw_free(&r);
}

static void test_flood_ping_not_reading(void)
{
	raw r;
	verdict v;
	int i;
	h2_settings st;

	h2_settings_default(&st);
	st.max_queued_control = 100;
	raw_init(&r, &st);
	/* The peer never reads: we never call h2_conn_consumed() between feeds. */
	for (i = 0; i < 150; i++)
		h2_frame_put_ping(&r.in, (const uint8_t *)"abcdefgh", 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_ENHANCE_YOUR_CALM);
	raw_free(&r);
	/* The same pings from a peer that reads are fine. */
	raw_init(&r, &st);
	for (i = 0; i < 150; i++) {
		h2_frame_put_ping(&r.in, (const uint8_t *)"abcdefgh", 0);
		v = raw_run(&r);
	}
	EXPECT_OK(v);
	raw_free(&r);
}

static void test_flood_empty_data_and_settings(void)
{
	raw r;
	verdict v;
	int i;

	raw_init(&r, NULL);
	raw_headers(&r, 1, 0, req_post);
	for (i = 0; i < 1100; i++)
		h2_frame_put_data(&r.in, 1, 0, NULL, 0, 0);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_ENHANCE_YOUR_CALM);
	raw_free(&r);

	raw_init(&r, NULL);
	{
		uint16_t ids[40];
		uint32_t vals[40];

		for (i = 0; i < 40; i++) {
			ids[i] = 0x100;
			vals[i] = 0;
		}
		h2_frame_put_settings(&r.in, ids, vals, 40);
	}
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_ENHANCE_YOUR_CALM);
	raw_free(&r);
}

static void test_hpack_bomb(void)
{
	raw r;
	verdict v;
	h2_settings st;
	buf blk = BUF_INIT;
	char big[3000];
	int i;

	/* One large indexed entry referenced many times expands far past the list limit. */
	h2_settings_default(&st);
	st.max_header_list_size = 16384;
	raw_init(&r, &st);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	hpack_encode_begin(&r.enc, &blk);
	hpack_encode_field(&r.enc, &blk, (const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0);
	for (i = 0; i < 50; i++)
		hpack_encode_field(&r.enc, &blk, (const uint8_t *)"x", 1, (const uint8_t *)big, strlen(big), 0);
	CHECK(buf_len(&blk) < 16384);
	h2_frame_put_headers(&r.in, 1, H2_FLAG_END_STREAM, buf_data(&blk), buf_len(&blk), 16384, 0, NULL);
	v = raw_run(&r);
	/* Refused with 431 (the stream only); the HPACK tables stayed in step. */
	CHECK(!v.goaway);
	CHECK_EQ_INT(v.headers, 1);
	CHECK_EQ_INT(buf_len(&r.sv.log), 0);
	raw_headers(&r, 3, H2_FLAG_END_STREAM, req_get);
	v = raw_run(&r);
	EXPECT_OK(v);
	CHECK_EQ_STR(logstr(&r.sv), "H 3 GET http / @x END\n");
	/* Without END_STREAM the stream is also reset with NO_ERROR. */
	buf_reset(&blk);
	hpack_encode_begin(&r.enc, &blk);
	for (i = 0; i < 50; i++)
		hpack_encode_field(&r.enc, &blk, (const uint8_t *)"x", 1, (const uint8_t *)big, strlen(big), 0);
	h2_frame_put_headers(&r.in, 5, 0, buf_data(&blk), buf_len(&blk), 16384, 0, NULL);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 5, H2_NO_ERROR);
	CHECK_EQ_INT(v.headers, 1);
	buf_free(&blk);
	raw_free(&r);
}

static void test_settings_timeout_and_stall(void)
{
	side cl, sv;
	uint8_t body[100000] = {0};
	int32_t id;
	h2_settings st;

	/* A server that never sees our SETTINGS ACK times the connection out. */
	side_init(&sv, H2_ROLE_SERVER, NULL);
	CHECK_EQ_INT(h2_conn_tick(sv.c, 1000), 0);
	CHECK_EQ_INT(h2_conn_next_deadline(sv.c), 11000);
	CHECK_EQ_INT(h2_conn_tick(sv.c, 10999), 0);
	CHECK_EQ_INT(h2_conn_tick(sv.c, 11000), H2_ERR_CONN);
	CHECK_EQ_INT(h2_conn_error_code(sv.c), H2_SETTINGS_TIMEOUT);
	side_free(&sv);

	/* A peer that keeps its window shut while we hold queued DATA. */
	h2_settings_default(&st);
	st.initial_window_size = 65535;
	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, &st);
	sv.consume = 0;
	id = h2_submit_request(cl.c, "POST", "http", NULL, "/", NULL, 0, 0, NULL);
	h2_submit_data(cl.c, id, body, sizeof(body), 1);
	pump(&cl, &sv);
	CHECK_EQ_INT(h2_conn_tick(cl.c, 1000), 0);
	CHECK_EQ_INT(h2_conn_tick(cl.c, 2000), 0);
	CHECK_EQ_INT(h2_conn_tick(cl.c, 62000), H2_ERR_CONN);
	CHECK_EQ_INT(h2_conn_error_code(cl.c), H2_ENHANCE_YOUR_CALM);
	side_free(&cl);
	side_free(&sv);
}

/* ---- a recorded client stream fed at every split point ---- */

static void record_client(buf *rec)
{
	side cl, sv;
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers"),
		H2_FIELD_LIT("user-agent", "grpc-c/1.0 test")};
	uint8_t body[300];
	int i;
	const uint8_t *p;
	size_t n;

	memset(body, 7, sizeof(body));
	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, NULL);
	sv.respond = 1;
	sv.body_len = 5;
	for (i = 0; i < 5; i++) {
		int32_t id = h2_submit_request(cl.c, "POST", "http", "host:1", "/a.B/C", f, 3, 0, NULL);

		h2_submit_data(cl.c, id, body, 100 + (size_t)i * 50, i != 2);
		if (i == 2) {
			static const h2_field t[] = {H2_FIELD_LIT("x-trailer", "yes")};

			h2_submit_trailers(cl.c, id, t, 1);
		}
		if (i == 3)
			h2_submit_ping(cl.c, (const uint8_t *)"pingpong");
		/* Record what the client says, then let the server answer. */
		while ((p = h2_conn_pending(cl.c, &n)) != NULL) {
			buf_append(rec, p, n);
			h2_conn_feed(sv.c, p, n);
			h2_conn_consumed(cl.c, n);
		}
		while ((p = h2_conn_pending(sv.c, &n)) != NULL) {
			h2_conn_feed(cl.c, p, n);
			h2_conn_consumed(sv.c, n);
		}
	}
	while ((p = h2_conn_pending(cl.c, &n)) != NULL) {
		buf_append(rec, p, n);
		h2_conn_consumed(cl.c, n);
	}
	side_free(&cl);
	side_free(&sv);
}

static void replay(const buf *rec, size_t step, size_t split, buf *events, buf *output)
{
	side sv;
	size_t off = 0;

	side_init(&sv, H2_ROLE_SERVER, NULL);
	sv.respond = 1;
	sv.body_len = 5;
	while (off < buf_len(rec)) {
		size_t n = step ? step : (off < split ? split - off : buf_len(rec) - off);
		const uint8_t *p;
		size_t m;

		if (n > buf_len(rec) - off)
			n = buf_len(rec) - off;
		CHECK_EQ_INT(h2_conn_feed(sv.c, buf_data(rec) + off, n), n);
		off += n;
		while ((p = h2_conn_pending(sv.c, &m)) != NULL) {
			buf_append(output, p, m);
			h2_conn_consumed(sv.c, m);
		}
	}
	buf_append(events, buf_data(&sv.log), buf_len(&sv.log));
	side_free(&sv);
}

static void test_every_split(void)
{
	buf rec = BUF_INIT, ev0 = BUF_INIT, out0 = BUF_INIT;
	size_t split;

	record_client(&rec);
	CHECK(buf_len(&rec) > 500);
	replay(&rec, 0, buf_len(&rec), &ev0, &out0);
	CHECK(strstr((const char *)buf_data(&ev0), "H 5 x-trailer=yes END TRAILERS") != NULL);
	{
		buf ev = BUF_INIT, out = BUF_INIT;

		replay(&rec, 1, 0, &ev, &out);
		CHECK_EQ_MEM(buf_data(&ev), buf_len(&ev), buf_data(&ev0), buf_len(&ev0));
		CHECK_EQ_MEM(buf_data(&out), buf_len(&out), buf_data(&out0), buf_len(&out0));
		buf_free(&ev);
		buf_free(&out);
	}
	for (split = 1; split < buf_len(&rec); split++) {
		buf ev = BUF_INIT, out = BUF_INIT;

		replay(&rec, 0, split, &ev, &out);
		CHECK_EQ_MEM(buf_data(&ev), buf_len(&ev), buf_data(&ev0), buf_len(&ev0));
		buf_free(&ev);
		buf_free(&out);
	}
	buf_free(&rec);
	buf_free(&ev0);
	buf_free(&out0);
}

/* The same, with grpcio's own bytes: SETTINGS with an unknown id, BDP pings, a bidi stream. */
static void test_grpcio_recording_every_split(void)
{
	buf rec = BUF_INIT, ev0 = BUF_INIT, out0 = BUF_INIT;
	size_t split;

	buf_append(&rec, grpcio_client_rec, sizeof(grpcio_client_rec));
	replay(&rec, 0, buf_len(&rec), &ev0, &out0);
	buf_append_byte(&ev0, 0);
	CHECK(strstr((const char *)buf_data(&ev0), "H 1 POST http /cplane.v1.ClusterService/GetCluster @127.0.0.1:") != NULL);
	CHECK(strstr((const char *)buf_data(&ev0), "x-req=3") != NULL);
	CHECK(strstr((const char *)buf_data(&ev0), "D 9 0 END\n") != NULL);
	CHECK(strstr((const char *)buf_data(&ev0), "C 9 NO_ERROR") != NULL);
	CHECK(strstr((const char *)buf_data(&ev0), "PROTOCOL") == NULL);
	ev0.end--;
	for (split = 0; split <= buf_len(&rec); split++) {
		buf ev = BUF_INIT, out = BUF_INIT;

		replay(&rec, split == 0 ? 1 : 0, split, &ev, &out);
		CHECK_EQ_MEM(buf_data(&ev), buf_len(&ev), buf_data(&ev0), buf_len(&ev0));
		CHECK_EQ_MEM(buf_data(&out), buf_len(&out), buf_data(&out0), buf_len(&out0));
		buf_free(&ev);
		buf_free(&out);
	}
	buf_free(&rec);
	buf_free(&ev0);
	buf_free(&out0);
}

int main(void)
{
	RUN(test_unary_pair);
	RUN(test_flow_control_many);
	RUN(test_backpressure);
	RUN(test_client_reset_and_goaway);
	RUN(test_goaway_refuses_later_streams);
	RUN(test_concurrency_limit);
	RUN(test_raw_handshake_and_request);
	RUN(test_raw_preface_errors);
	RUN(test_raw_frame_errors);
	RUN(test_raw_settings_errors);
	RUN(test_raw_stream_states);
	RUN(test_raw_malformed_requests);
	RUN(test_raw_wellformed_requests);
	RUN(test_raw_trailers_and_content_length);
	RUN(test_raw_flow_control_errors);
	RUN(test_raw_refused_stream);
	RUN(test_client_responses);
	RUN(test_client_violations);
	RUN(test_flood_rapid_reset);
	RUN(test_flood_made_you_reset);
	RUN(test_flood_continuation);
	RUN(test_flood_ping_not_reading);
	RUN(test_flood_empty_data_and_settings);
	RUN(test_hpack_bomb);
	RUN(test_settings_timeout_and_stall);
	RUN(test_every_split);
	RUN(test_grpcio_recording_every_split);
	return harness_finish();
}
