/*
 * HTTP/2 connection tests: client and server h2_conn pairs exchanging bytes
 * in memory (flow control both ways, resets, GOAWAY, limits), the timers,
 * and recorded client byte streams (ours and grpcio's) fed at every split
 * point giving the same events and output.
 */
#include "h2_test_util.h"
#include "h2_grpcio_client.h"
#include "base/mem.h"

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

/* One round of n requests all live at once on the server, then answered. */
static void concurrent_round(side *cl, side *sv, int n)
{
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	int32_t ids[128];

	CHECK(n <= 128);
	for (int i = 0; i < n; i++)
		CHECK((ids[i] = h2_submit_request(cl->c, "POST", "http", "x", "/s/M", f, 1, 1, NULL)) > 0);
	pump(cl, sv);
	CHECK_EQ_INT(h2_conn_open_streams(sv->c), n);
	for (int i = 0; i < n; i++)
		respond(sv, sv->c, ids[i]);
	pump(cl, sv);
	CHECK_EQ_INT(h2_conn_open_streams(sv->c), 0);
}

/*
 * The server keeps as many spare stream objects as were live at once (so a
 * client holding 100 streams open costs no malloc per call), and ticks trim
 * them back to 64 a second after that load is gone.
 */
static void test_spare_streams_follow_load(void)
{
	side cl, sv;
	int closes;

	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, NULL);
	h2_conn_tick(sv.c, 1);
	concurrent_round(&cl, &sv, 10);
	CHECK_EQ_INT(h2_conn_spare_streams(sv.c), 10);
	concurrent_round(&cl, &sv, 100);
	CHECK_EQ_INT(h2_conn_spare_streams(sv.c), 100);
	CHECK(h2_conn_next_deadline(sv.c) >= 0);	/* a trim is owed */
	/* another round of 100 is served from the spares: the count does not move */
	concurrent_round(&cl, &sv, 100);
	CHECK_EQ_INT(h2_conn_spare_streams(sv.c), 100);
	/* ticks within the second that saw 100 live keep them */
	for (int64_t t = 1; t <= 1001; t += 500)
		h2_conn_tick(sv.c, t);
	CHECK_EQ_INT(h2_conn_spare_streams(sv.c), 100);
	/* a quiet second later they go back to 64, and no more trims are asked for */
	h2_conn_tick(sv.c, 2001);
	CHECK_EQ_INT(h2_conn_spare_streams(sv.c), 64);
	CHECK_EQ_INT(h2_conn_next_deadline(sv.c), -1);
	/* the load comes back: the list grows to it again */
	concurrent_round(&cl, &sv, 128);
	CHECK_EQ_INT(h2_conn_spare_streams(sv.c), 128);
	closes = sv.closes;
	CHECK_EQ_INT(closes, 10 + 100 + 100 + 128);
	CHECK_EQ_INT(cl.closes, closes);
	side_free(&cl);
	side_free(&sv);
}

/* ---- kept header blocks ---- */

static void drain_output(h2_conn *c)
{
	size_t n;

	if (h2_conn_pending(c, &n))
		h2_conn_consumed(c, n);
}

/* The payloads of the HEADERS frames in the server's output, in order, into out[] (cap of them). */
static size_t server_header_blocks(raw *r, buf *out, size_t cap)
{
	const uint8_t *p;
	size_t n, off = 0, k = 0;

	p = h2_conn_pending(r->sv.c, &n);
	while (p && off + 9 <= n) {
		h2_frame_hdr h;

		h2_frame_hdr_parse(p + off, &h);
		if (h.type == H2_FT_HEADERS && k < cap) {
			CHECK(h.flags & H2_FLAG_END_HEADERS);
			buf_reset(&out[k]);
			buf_append(&out[k], p + off + 9, h.length);
			k++;
		}
		off += 9 + h.length;
	}
	h2_conn_consumed(r->sv.c, n);
	return k;
}

/* What a fresh encoder in ref's state writes for :status (when nonzero) and f. */
static void ref_block(hpack_encoder *ref, buf *b, int status, const h2_field *f, size_t n)
{
	buf_reset(b);
	CHECK_EQ_INT(hpack_encode_begin(ref, b), 0);
	if (status)
		CHECK_EQ_INT(hpack_encode_field(ref, b, (const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(hpack_encode_field(ref, b, (const uint8_t *)f[i].name, f[i].name_len,
		    (const uint8_t *)f[i].value, f[i].value_len,
		    f[i].flags & H2_FIELD_SENSITIVE ? HPACK_FIELD_NEVER_INDEXED : 0), 0);
}

/*
 * One call on a new stream answered with headers h (and trailers t when
 * nt > 0): the server's blocks must be byte for byte what a fresh encoder
 * in the same state writes, whether it encoded them or wrote a kept block.
 */
static void answer_and_compare(raw *r, hpack_encoder *ref, uint32_t sid, const h2_field *h, size_t nh,
    const h2_field *t, size_t nt)
{
	buf got[2] = {BUF_INIT, BUF_INIT}, want = BUF_INIT;

	raw_headers(r, sid, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, req_post);
	EXPECT_OK(raw_run(r));
	CHECK_EQ_INT(h2_submit_response(r->sv.c, (int32_t)sid, 200, h, nh, nt == 0), 0);
	if (nt)
		CHECK_EQ_INT(h2_submit_trailers(r->sv.c, (int32_t)sid, t, nt), 0);
	CHECK_EQ_INT(server_header_blocks(r, got, 2), nt ? 2 : 1);
	ref_block(ref, &want, 200, h, nh);
	CHECK(buf_len(&got[0]) == buf_len(&want) && memcmp(buf_data(&got[0]), buf_data(&want), buf_len(&want)) == 0);
	if (nt) {
		ref_block(ref, &want, 0, t, nt);
		CHECK(buf_len(&got[1]) == buf_len(&want) &&
		    memcmp(buf_data(&got[1]), buf_data(&want), buf_len(&want)) == 0);
	}
	buf_free(&got[0]);
	buf_free(&got[1]);
	buf_free(&want);
}

static void test_kept_blocks_match_fresh_encoding(void)
{
	static const h2_field a[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field b[] = {H2_FIELD_LIT("content-type", "application/json")};
	static const h2_field a2[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("x-k", "v")};
	static const h2_field ok[] = {H2_FIELD_LIT("grpc-status", "0")};
	static const h2_field fail[] = {H2_FIELD_LIT("grpc-status", "5"), H2_FIELD_LIT("grpc-message", "gone")};
	h2_field secret[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field bad[] = {H2_FIELD_LIT("content-type", "application/grpc\r")};
	const uint16_t ids[] = {H2_SETTINGS_HEADER_TABLE_SIZE};
	uint32_t vals[] = {0};
	hpack_encoder ref;
	uint32_t sid = 1;
	raw r;

	raw_init(&r, NULL);
	hpack_encoder_init(&ref, 4096);
	EXPECT_OK(raw_run(&r));
	drain_output(r.sv.c);
	/* the same answer again and again: inserted once, then kept and written again */
	for (int i = 0; i < 4; i++, sid += 2)
		answer_and_compare(&r, &ref, sid, a, 1, ok, 1);
	/* another value moves the table: the kept block's indices are stale and must not be used */
	answer_and_compare(&r, &ref, sid, b, 1, fail, 2);
	sid += 2;
	for (int i = 0; i < 3; i++, sid += 2)
		answer_and_compare(&r, &ref, sid, a, 1, ok, 1);
	/* more fields, fewer fields, the same field never indexed: other blocks */
	answer_and_compare(&r, &ref, sid, a2, 2, ok, 1);
	sid += 2;
	answer_and_compare(&r, &ref, sid, a2, 1, ok, 1);
	sid += 2;
	secret[0].flags = H2_FIELD_SENSITIVE;
	answer_and_compare(&r, &ref, sid, secret, 1, ok, 1);
	sid += 2;
	answer_and_compare(&r, &ref, sid, a, 1, ok, 1);
	sid += 2;
	/* a bad value is refused even after good ones were kept */
	raw_headers(&r, sid, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, req_post);
	EXPECT_OK(raw_run(&r));
	CHECK_EQ_INT(h2_submit_response(r.sv.c, (int32_t)sid, 200, bad, 1, 1), H2_ERR_INVALID);
	CHECK_EQ_INT(h2_submit_rst_stream(r.sv.c, (int32_t)sid, H2_CANCEL), 0);
	drain_output(r.sv.c);
	sid += 2;
	/* the peer shrinks the table: the next block starts with a size update, kept blocks are stale */
	h2_frame_put_settings(&r.in, ids, vals, 1);
	CHECK_EQ_INT(raw_run(&r).acks, 1);
	hpack_encoder_set_max_size(&ref, 0);
	for (int i = 0; i < 3; i++, sid += 2)
		answer_and_compare(&r, &ref, sid, a, 1, ok, 1);
	/* and grows it back */
	vals[0] = 4096;
	h2_frame_put_settings(&r.in, ids, vals, 1);
	CHECK_EQ_INT(raw_run(&r).acks, 1);
	hpack_encoder_set_max_size(&ref, 4096);
	for (int i = 0; i < 3; i++, sid += 2)
		answer_and_compare(&r, &ref, sid, a, 1, ok, 1);
	hpack_encoder_free(&ref);
	raw_free(&r);
}

/* ---- kept request blocks ---- */

/* A request block's bytes sent as they are, on stream sid. */
static void raw_block_bytes(raw *r, uint32_t sid, uint8_t flags, const buf *blk)
{
	h2_frame_put_headers(&r->in, sid, flags, buf_data(blk), buf_len(blk), 16384, 0, NULL);
}

/* The server's log since the last call, then cleared. */
static const char *take_log(raw *r, buf *copy)
{
	buf_reset(copy);
	buf_append(copy, buf_data(&r->sv.log), buf_len(&r->sv.log));
	buf_append_byte(copy, 0);
	buf_reset(&r->sv.log);
	return (const char *)buf_data(copy);
}

/*
 * The same request block again is the same fields only while the decoder's
 * table is unchanged: after an insert moves index 62, or a size update
 * empties the table, the kept fields must not be used.  And what the frame
 * says (END_STREAM) is judged every time, not kept with the block.
 */
static void test_kept_request_blocks(void)
{
	static const char *const one[] = {":method", "POST", ":scheme", "http", ":path", "/", "x-k", "one", NULL};
	static const char *const two[] = {":method", "POST", ":scheme", "http", ":path", "/", "x-k", "two", NULL};
	static const char *const clen[] = {":method", "POST", ":scheme", "http", ":path", "/", "content-length", "5", NULL};
	const uint8_t eh = H2_FLAG_END_HEADERS, es = H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM;
	buf b1 = BUF_INIT, b2 = BUF_INIT, b3 = BUF_INIT, lg = BUF_INIT;
	verdict v;
	raw r;

	raw_init(&r, NULL);
	EXPECT_OK(raw_run(&r));
	drain_output(r.sv.c);
	raw_block(&r, &b1, one);	/* inserts x-k: one (index 62) */
	raw_block_bytes(&r, 1, es, &b1);
	raw_block(&r, &b2, one);	/* all indexed: the block the server keeps */
	CHECK(buf_len(&b2) < buf_len(&b1));
	for (uint32_t sid = 3; sid <= 7; sid += 2)
		raw_block_bytes(&r, sid, es, &b2);
	EXPECT_OK(raw_run(&r));
	CHECK_EQ_STR(take_log(&r, &lg), "H 1 POST http / x-k=one END\nH 3 POST http / x-k=one END\n"
	    "H 5 POST http / x-k=one END\nH 7 POST http / x-k=one END\n");
	/* x-k: two goes in at 62; the kept block's bytes now say two */
	raw_block(&r, &b3, two);
	raw_block_bytes(&r, 9, es, &b3);
	raw_block_bytes(&r, 11, es, &b2);
	raw_block_bytes(&r, 13, es, &b2);
	EXPECT_OK(raw_run(&r));
	CHECK_EQ_STR(take_log(&r, &lg), "H 9 POST http / x-k=two END\nH 11 POST http / x-k=two END\n"
	    "H 13 POST http / x-k=two END\n");
	/* a size update to 0 empties the table: index 62 no longer exists */
	buf_reset(&b3);
	buf_append_byte(&b3, 0x20);
	buf_append(&b3, "\x83\x86\x84", 3);	/* POST, http, / from the static table */
	raw_block_bytes(&r, 15, es, &b3);
	EXPECT_OK(raw_run(&r));
	CHECK_EQ_STR(take_log(&r, &lg), "H 15 POST http / END\n");
	raw_block_bytes(&r, 17, es, &b2);
	v = raw_run(&r);
	EXPECT_CONN_ERROR(v, H2_COMPRESSION_ERROR);
	raw_free(&r);

	/*
	 * Our SETTINGS lowered the table to 0; until the client acknowledges it,
	 * it may use 4096.  Once it has, its next block must start with a size
	 * update: the kept block (no update) is now a COMPRESSION_ERROR.
	 */
	{
		h2_settings st;

		h2_settings_default(&st);
		st.header_table_size = 0;
		side_init(&r.sv, H2_ROLE_SERVER, &st);
		hpack_encoder_init(&r.enc, 4096);
		buf_init(&r.in);
		buf_append(&r.in, H2_PREFACE, H2_PREFACE_LEN);
		h2_frame_put_settings(&r.in, NULL, NULL, 0);
		raw_block(&r, &b1, one);
		raw_block_bytes(&r, 1, es, &b1);
		raw_block(&r, &b2, one);
		raw_block_bytes(&r, 3, es, &b2);
		raw_block_bytes(&r, 5, es, &b2);
		EXPECT_OK(raw_run(&r));
		CHECK_EQ_STR(take_log(&r, &lg), "H 1 POST http / x-k=one END\nH 3 POST http / x-k=one END\n"
		    "H 5 POST http / x-k=one END\n");
		h2_frame_put_settings_ack(&r.in);
		raw_block_bytes(&r, 7, es, &b2);
		v = raw_run(&r);
		EXPECT_CONN_ERROR(v, H2_COMPRESSION_ERROR);
		raw_free(&r);
	}

	/* content-length 5 is fine with a body to come, malformed with END_STREAM: judged per frame */
	raw_init(&r, NULL);
	EXPECT_OK(raw_run(&r));
	raw_block(&r, &b1, clen);
	raw_block_bytes(&r, 1, eh, &b1);
	raw_block(&r, &b2, clen);
	raw_block_bytes(&r, 3, eh, &b2);
	EXPECT_OK(raw_run(&r));
	raw_block_bytes(&r, 5, es, &b2);
	v = raw_run(&r);
	EXPECT_STREAM_ERROR(v, 5, H2_PROTOCOL_ERROR);
	raw_block_bytes(&r, 7, eh, &b2);
	EXPECT_OK(raw_run(&r));
	CHECK_EQ_STR(take_log(&r, &lg), "H 1 POST http / content-length=5\nH 3 POST http / content-length=5\n"
	    "H 7 POST http / content-length=5\n");
	/* a bad :path is refused each time its block comes, between good ones */
	{
		static const char *const badpath[] = {":method", "POST", ":scheme", "http", ":path", "x", NULL};

		raw_block(&r, &b3, badpath);
		for (uint32_t sid = 9; sid <= 13; sid += 4) {
			raw_block_bytes(&r, sid, es, &b3);
			v = raw_run(&r);
			EXPECT_STREAM_ERROR(v, sid, H2_PROTOCOL_ERROR);
			raw_block_bytes(&r, sid + 2, eh, &b2);
			EXPECT_OK(raw_run(&r));
		}
		CHECK_EQ_STR(take_log(&r, &lg), "H 11 POST http / content-length=5\nH 15 POST http / content-length=5\n");
	}
	raw_free(&r);
	buf_free(&b1);
	buf_free(&b2);
	buf_free(&b3);
	buf_free(&lg);
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

/* ---- checked allocation failures (base/mem.h) ---- */

enum { OUT_DONE, OUT_GOAWAY, OUT_LOCAL };

/*
 * A unary call with a 20,000-byte answer between a fresh pair, the n-th
 * checked allocation after the handshake failing (0: none).  Returns how it
 * ended; *calls counts the checked allocations it made.
 */
static int unary_failing(unsigned long n, unsigned long *calls)
{
	static const h2_field f[] = {H2_FIELD_LIT("content-type", "application/grpc"), H2_FIELD_LIT("te", "trailers"),
	    H2_FIELD_LIT("x-note", "a value long enough to be Huffman-coded by the encoder")};
	static const h2_field hdrs[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static const h2_field trl[] = {H2_FIELD_LIT("grpc-status", "0")};
	static uint8_t body[20000];
	side cl, sv;
	unsigned long before;
	int32_t id;
	int local = 0, out;

	side_init(&cl, H2_ROLE_CLIENT, NULL);
	side_init(&sv, H2_ROLE_SERVER, NULL);
	pump(&cl, &sv);
	/* The logs are the test's: give them their room before anything may fail. */
	CHECK_EQ_INT(buf_reserve(&cl.log, 4096), 0);
	CHECK_EQ_INT(buf_reserve(&sv.log, 4096), 0);
	before = mem_try_calls_for_test();
	mem_try_fail_after_for_test(n);
	id = h2_submit_request(cl.c, "POST", "http", "localhost", "/svc/M", f, 3, 0, NULL);
	if (id < 0 || h2_submit_data(cl.c, id, (const uint8_t *)"\0\0\0\0\6abcdef", 11, 1) != 0)
		local = 1;
	pump(&cl, &sv);
	if (strstr(logstr(&sv), "D 1 11 END\n")) {
		if (h2_submit_response(sv.c, 1, 200, hdrs, 1, 0) != 0 || h2_submit_data(sv.c, 1, body, sizeof(body), 0) != 0 ||
		    h2_submit_trailers(sv.c, 1, trl, 1) != 0)
			local = 1;
		pump(&cl, &sv);
	}
	mem_try_fail_after_for_test(0);
	*calls = mem_try_calls_for_test() - before;
	if (strstr(logstr(&cl), "H 1 grpc-status=0 END TRAILERS\nC 1 NO_ERROR\n") && !cl.goaways && !sv.goaways) {
		out = OUT_DONE;
	} else if ((h2_conn_want_close(cl.c) && h2_conn_error_code(cl.c) == H2_INTERNAL_ERROR && sv.goaways &&
	    sv.goaway_code == H2_INTERNAL_ERROR) || (h2_conn_want_close(sv.c) &&
	    h2_conn_error_code(sv.c) == H2_INTERNAL_ERROR && cl.goaways && cl.goaway_code == H2_INTERNAL_ERROR)) {
		out = OUT_GOAWAY;	/* the side that could not grow told its peer, which closed the call */
		/* A GOAWAY naming stream 1 leaves it to the transport closing; one naming 0 closes it now. */
		CHECK(cl.goaways || strstr(logstr(&cl), "C 1 ") != NULL);
	} else {
		out = OUT_LOCAL;	/* a submit said so to its caller */
		CHECK(local);
	}
	side_free(&cl);
	side_free(&sv);
	return out;
}

/*
 * Every checked allocation of a unary call fails in turn, client and server
 * side (the frame bufs, HPACK's Huffman scratch, the field store): each
 * either ends in GOAWAY(INTERNAL_ERROR) that the peer sees, or an error to
 * the submitting caller; none crashes, and ASan finds nothing leaked.
 */
static void test_checked_allocations_fail(void)
{
	unsigned long total, calls, n;
	int seen[3] = {0, 0, 0};

	CHECK_EQ_INT(unary_failing(0, &total), OUT_DONE);
	CHECK(total >= 5);
	for (n = 1; n <= total; n++) {
		int out = unary_failing(n, &calls);

		CHECK(calls >= n);	/* the n-th one was made, and failed */
		seen[out]++;
	}
	CHECK(seen[OUT_GOAWAY] > 0);
	/* The connection itself: its preface and SETTINGS go into a buf too. */
	for (n = 1;; n++) {
		h2_conn *c;

		mem_try_fail_after_for_test(n);
		c = h2_conn_new(H2_ROLE_CLIENT, NULL, &test_cb, NULL);
		mem_try_fail_after_for_test(0);
		if (c) {
			h2_conn_free(c);
			break;
		}
	}
	CHECK(n > 1);
	printf("h2: %lu checked allocations per call failed in turn: %d done, %d GOAWAY, %d local errors\n",
	    total, seen[OUT_DONE], seen[OUT_GOAWAY], seen[OUT_LOCAL]);
}


int main(void)
{
	RUN(test_unary_pair);
	RUN(test_spare_streams_follow_load);
	RUN(test_kept_blocks_match_fresh_encoding);
	RUN(test_kept_request_blocks);
	RUN(test_flow_control_many);
	RUN(test_backpressure);
	RUN(test_client_reset_and_goaway);
	RUN(test_goaway_refuses_later_streams);
	RUN(test_concurrency_limit);
	RUN(test_settings_timeout_and_stall);
	RUN(test_every_split);
	RUN(test_grpcio_recording_every_split);
	RUN(test_checked_allocations_fail);
	return harness_finish();
}
