/*
 * HTTP/2 protocol violations, one at a time, fed as raw frames into a
 * server or a client connection: each gets the error RFC 9113 names
 * (connection or stream, and the code), and each flood limit trips
 * ENHANCE_YOUR_CALM.
 */
#include "base/mem.h"
#include "h2_test_util.h"

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

/* HPACK failures are connection errors of type COMPRESSION_ERROR (§4.3). */
static void test_raw_compression_errors(void)
{
	static const struct { const char *block; size_t len; } cases[] = {
		{"\xfe\x7f", 2},			/* indexed field past the tables */
		{"\x80", 1},				/* index 0 */
		{"\x82\x84\x86\x20", 4},		/* table size update after a field */
		{"\x3f\xe2\x1f\x82\x84\x86", 6},	/* table size update above 4096 */
		{"\x82\x84\x86\x40\x05:path", 10},	/* literal ending inside its value length */
		{"\x82\x84\x86\x40\x01x\x81\xff", 8},	/* Huffman value of only EOS padding > 7 bits */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw r;
		verdict v;

		raw_init(&r, NULL);
		h2_frame_put_headers(&r.in, 1, H2_FLAG_END_STREAM, (const uint8_t *)cases[i].block, cases[i].len,
		    16384, 0, NULL);
		v = raw_run(&r);
		EXPECT_CONN_ERROR(v, H2_COMPRESSION_ERROR);
		raw_free(&r);
	}
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
	/* CR or LF at every position of a long value (values are checked eight
	 * bytes a step, then the tail): malformed wherever it sits. */
	for (size_t pos = 0; pos < 21; pos++) {
		for (int k = 0; k < 2; k++) {
			char val[22];
			const char *hs[] = { ":method", "GET", ":scheme", "http", ":path", "/", "x", val, NULL };
			raw r;
			verdict v;

			memset(val, 'v', 21);
			val[21] = '\0';
			val[pos] = k ? '\n' : '\r';
			raw_init(&r, NULL);
			raw_headers(&r, 1, H2_FLAG_END_STREAM, hs);
			v = raw_run(&r);
			EXPECT_STREAM_ERROR(v, 1, H2_PROTOCOL_ERROR);
			raw_free(&r);
		}
	}
	{
		const char *hs[] = { ":method", "GET", ":scheme", "http", ":path", "/", "x",
			"0123456789abcdefghijklmnopqrstuvwxyz\x0b\x7f\x80", NULL };
		raw r;
		verdict v;

		raw_init(&r, NULL);
		raw_headers(&r, 1, H2_FLAG_END_STREAM, hs);
		v = raw_run(&r);
		EXPECT_OK(v);
		raw_free(&r);
	}
}

/* One request whose field "x" goes with the given HPACK representation flags. */
static void raw_request_x(raw *r, uint32_t sid, const char *value, unsigned hflags)
{
	buf blk = BUF_INIT;

	hpack_encode_begin(&r->enc, &blk);
	hpack_encode_field(&r->enc, &blk, (const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0);
	hpack_encode_field(&r->enc, &blk, (const uint8_t *)":scheme", 7, (const uint8_t *)"http", 4, 0);
	hpack_encode_field(&r->enc, &blk, (const uint8_t *)":path", 5, (const uint8_t *)"/", 1, 0);
	hpack_encode_field(&r->enc, &blk, (const uint8_t *)"x", 1, (const uint8_t *)value, strlen(value), hflags);
	h2_frame_put_headers(&r->in, sid, H2_FLAG_END_STREAM, buf_data(&blk), buf_len(&blk), 16384, 0, NULL);
	buf_free(&blk);
}

/* A value the decoder kept (a dynamic table entry, a remembered Huffman
 * string) is refused or accepted exactly as the same value in a fresh
 * literal: every time it comes, whichever representation brings it. */
static void test_raw_kept_values_checked(void)
{
	static const char *const bad[] = {
		"0123456789abcdef\r0123456789", "0123456789abcdef\n0123456789", " leading-space-and-long",
		"trailing-tab-and-long\t", "a\nb",
	};
	static const char *const good[] = {
		"Bearer 0123456789abcdefghijklmnopqrstuvwxyz\x0b\x7f\x80", "Bearer eyJhbGciOiJSUzI1NiJ9.aaaa.sig", "",
	};
	static const unsigned reps[] = {0, HPACK_FIELD_NEVER_INDEXED, HPACK_FIELD_NO_INDEX};
	size_t i, k, t;

	for (k = 0; k < sizeof(reps) / sizeof(reps[0]); k++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + sizeof(good) / sizeof(good[0]); i++) {
			int is_bad = i < sizeof(bad) / sizeof(bad[0]);
			const char *val = is_bad ? bad[i] : good[i - sizeof(bad) / sizeof(bad[0])];
			raw r;

			raw_init(&r, NULL);
			for (t = 0; t < 3; t++) {
				uint32_t sid = (uint32_t)(1 + 2 * t);
				verdict v;

				raw_request_x(&r, sid, val, reps[k]);
				v = raw_run(&r);
				if (is_bad) {
					EXPECT_STREAM_ERROR(v, sid, H2_PROTOCOL_ERROR);
				} else {
					EXPECT_OK(v);
					CHECK_EQ_INT(v.headers, 0);	/* no answer yet: the request was delivered */
				}
			}
			if (!is_bad)
				CHECK(strstr(logstr(&r.sv), "H 5 GET http / ") != NULL);
			else
				CHECK_EQ_INT(buf_len(&r.sv.log), 0);
			raw_free(&r);
		}
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

/* Sums the DATA payload the server sent in its pending output (and consumes it). */
static size_t data_sent(raw *r)
{
	const uint8_t *p;
	size_t n, off = 0, total = 0;

	h2_conn_feed(r->sv.c, buf_data(&r->in), buf_len(&r->in));
	buf_reset(&r->in);
	p = h2_conn_pending(r->sv.c, &n);
	while (p && off + 9 <= n) {
		h2_frame_hdr h;

		h2_frame_hdr_parse(p + off, &h);
		if (h.type == H2_FT_DATA)
			total += h.length;
		off += 9 + h.length;
	}
	h2_conn_consumed(r->sv.c, n);
	return total;
}

/* h2spec 6.9.1 / 6.9.2: our sending follows the peer's window exactly, negative windows included. */
static void test_send_window_changes(void)
{
	raw r;
	uint16_t id = H2_SETTINGS_INITIAL_WINDOW_SIZE;
	uint32_t val;

	/* Window 1: one byte goes out. */
	raw_init(&r, NULL);
	r.sv.respond = 1;
	r.sv.body_len = 10;
	val = 1;
	h2_frame_put_settings(&r.in, &id, &val, 1);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	CHECK_EQ_INT(data_sent(&r), 1);
	raw_free(&r);

	/* Window 0 at HEADERS, raised to 1 afterwards by SETTINGS: one byte. */
	raw_init(&r, NULL);
	r.sv.respond = 1;
	r.sv.body_len = 10;
	val = 0;
	h2_frame_put_settings(&r.in, &id, &val, 1);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	CHECK_EQ_INT(data_sent(&r), 0);
	val = 1;
	h2_frame_put_settings(&r.in, &id, &val, 1);
	CHECK_EQ_INT(data_sent(&r), 1);
	raw_free(&r);

	/* Window 3, all used; lowered to 2 (the stream's window is -1); +2 lets one byte out. */
	raw_init(&r, NULL);
	r.sv.respond = 1;
	r.sv.body_len = 10;
	val = 3;
	h2_frame_put_settings(&r.in, &id, &val, 1);
	raw_headers(&r, 1, H2_FLAG_END_STREAM, req_get);
	CHECK_EQ_INT(data_sent(&r), 3);
	val = 2;
	h2_frame_put_settings(&r.in, &id, &val, 1);
	CHECK_EQ_INT(data_sent(&r), 0);
	CHECK_EQ_INT(h2_stream_send_window(r.sv.c, 1), -1);
	h2_frame_put_window_update(&r.in, 1, 2);
	CHECK_EQ_INT(data_sent(&r), 1);
	/* The connection window is its own: raise the stream's, the rest flows. */
	h2_frame_put_window_update(&r.in, 1, 100);
	CHECK_EQ_INT(data_sent(&r), 6);
	CHECK_EQ_INT(r.sv.closes, 1);
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

/* Resets spread over time refill the bucket: a long-lived client that cancels is not a flood. */
static void test_rapid_reset_refills(void)
{
	raw r;
	verdict v;
	uint32_t sid = 1;
	int64_t now = 1000;
	int round, i;

	raw_init(&r, NULL);
	h2_conn_tick(r.sv.c, now);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 800; i++, sid += 2) {
			raw_headers(&r, sid, 0, req_post);
			h2_frame_put_rst_stream(&r.in, sid, H2_CANCEL);
		}
		v = raw_run(&r);
		EXPECT_OK(v);
		/* The io layer ticks when asked; a minute later the bucket is full again. */
		CHECK(h2_conn_next_deadline(r.sv.c) >= 0 && h2_conn_next_deadline(r.sv.c) <= now + 1000);
		now += 60000;
		CHECK_EQ_INT(h2_conn_tick(r.sv.c, now), 0);
	}
	CHECK_EQ_INT(h2_conn_next_deadline(r.sv.c), -1);
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


/*
 * A client's frames fed 7 bytes at a time (the partial-frame store), a
 * header block split over CONTINUATION (the block store), PINGs and a
 * SETTINGS to answer, DATA to acknowledge and a stream refused past the
 * limit (RST_STREAM): each checked allocation (base/mem.h) the server makes
 * failing in turn ends in GOAWAY(INTERNAL_ERROR) to the client; ASan sees
 * no leak.
 */
static void test_checked_allocations_fail(void)
{
	static const uint8_t opaque[8] = "pingpong";
	static uint8_t body[40000];
	unsigned long total = 0, before;
	int goaways = 0;
	h2_settings st;

	h2_settings_default(&st);
	st.max_concurrent_streams = 1;
	for (unsigned long n = 0; n == 0 || n <= total; n++) {
		raw r;
		verdict v;
		buf blk = BUF_INIT, empty = BUF_INIT;

		raw_init(&r, &st);
		v = raw_run(&r);	/* the handshake, both SETTINGS */
		CHECK_EQ_INT(buf_reserve(&r.sv.log, 4096), 0);	/* the test's own log: not what is tested */
		raw_block(&r, &blk, req_post);
		h2_frame_put_headers(&r.in, 1, 0, buf_data(&blk), buf_len(&blk), 1, 0, NULL);	/* 3 bytes: HEADERS + 2 CONTINUATION */
		h2_frame_put_ping(&r.in, opaque, 0);
		h2_frame_put_settings(&r.in, NULL, NULL, 0);
		h2_frame_put_data(&r.in, 1, 0, body, 16384, 0);
		h2_frame_put_data(&r.in, 1, 0, body, 16384, 0);
		raw_headers(&r, 3, H2_FLAG_END_STREAM, req_post);	/* past max_concurrent_streams: refused */
		h2_frame_put_ping(&r.in, opaque, 0);
		before = mem_try_calls_for_test();
		mem_try_fail_after_for_test(n);
		for (size_t off = 0; off < buf_len(&r.in); off += 7)
			h2_conn_feed(r.sv.c, buf_data(&r.in) + off, buf_len(&r.in) - off < 7 ? buf_len(&r.in) - off : 7);
		buf_reset(&r.in);
		mem_try_fail_after_for_test(0);
		v = conn_run(r.sv.c, &empty);
		if (n == 0) {
			total = mem_try_calls_for_test() - before;
			CHECK(!v.goaway);
			CHECK(v.ping_acks == 2 && v.acks == 1);
			CHECK(total >= 3);
		} else if (v.goaway) {
			CHECK_EQ_INT(v.goaway_code, H2_INTERNAL_ERROR);
			goaways++;
		}
		buf_free(&blk);
		buf_free(&empty);
		raw_free(&r);
	}
	CHECK_EQ_INT(goaways, total);
	printf("h2 raw: %lu checked allocations failed in turn, %d answered with GOAWAY\n", total, goaways);
}

/*
 * Each frame the server owes (or is asked to send) written when `out` must
 * grow to hold it: PING and SETTINGS ACKs, WINDOW_UPDATEs, a RST_STREAM,
 * the graceful GOAWAY pair and the final GOAWAY, a response's HEADERS (one
 * past the 256 bytes reserved for it, and one re-split into HEADERS + 2
 * CONTINUATION past the peer's frame size, too) and a bare END_STREAM; trailers
 * queued behind flow-controlled DATA; and a header block (trailers) split
 * over CONTINUATION, kept in the block store.  `pings` PING ACKs are queued undrained first so
 * that, over the range, every one of those writes meets the buffer full.
 */
enum ctl_case {
	CC_PING_ACK, CC_SETTINGS_ACK, CC_WINDOW_UPDATE, CC_RST_STREAM, CC_GOAWAY_FINAL, CC_GOAWAY_GRACEFUL,
	CC_RESPONSE_HEADERS, CC_BIG_RESPONSE_HEADERS, CC_HUGE_RESPONSE_HEADERS, CC_END_STREAM, CC_QUEUED_TRAILERS, CC_CONTINUATION, CC_COUNT
};

/* One run with the n-th checked allocation of the case failing: 1 when it failed (and was answered as promised). */
static int ctl_case_run(enum ctl_case cc, int pings, unsigned long n)
{
	static const uint8_t opaque[8] = "pingpong";
	static const uint8_t graceful[8] = {'c', 'p', 'l', 'g', 'o', 'a', 'w', 'y'};
	static const h2_field hdrs[] = {H2_FIELD_LIT("content-type", "application/grpc")};
	static uint8_t body[16384];
	static char pad[601];
	static uint8_t big[70000];
	static char huge[65536];
	h2_field bighdrs[2] = {H2_FIELD_LIT("content-type", "application/grpc")};
	const char *const trailers[] = {"x-pad", pad, NULL};
	unsigned long before, calls;
	h2_settings st;
	buf blk = BUF_INIT;
	verdict v;
	raw r;
	int rc = 0, failed;

	memset(pad, 'p', sizeof(pad) - 1);
	bighdrs[1].name = "x-pad";
	bighdrs[1].name_len = 5;
	bighdrs[1].value = pad;
	bighdrs[1].value_len = sizeof(pad) - 1;
	if (cc == CC_HUGE_RESPONSE_HEADERS) {
		/*
		 * '#' is not shorter in Huffman.  Three frames' headers need 6 bytes more
		 * than the field's encoding reserved: value lengths 65456..65496 (no
		 * PINGs queued) put that reservation at every offset around 64 KiB.
		 */
		memset(huge, '#', sizeof(huge));
		bighdrs[1].value = huge;
		bighdrs[1].value_len = 65456 + (size_t)pings;
		pings = 0;
	}
	h2_settings_default(&st);
	st.max_concurrent_streams = 1;
	st.initial_window_size = st.connection_window = H2_DEFAULT_WINDOW;
	raw_init(&r, &st);
	raw_headers(&r, 1, 0, req_post);
	v = raw_run(&r);
	EXPECT_OK(v);
	if (cc == CC_GOAWAY_FINAL)
		CHECK_EQ_INT(h2_submit_goaway(r.sv.c, H2_NO_ERROR, 1, NULL), 0);
	if (cc == CC_END_STREAM || cc == CC_QUEUED_TRAILERS)
		CHECK_EQ_INT(h2_submit_response(r.sv.c, 1, 200, hdrs, 1, 0), 0);
	if (cc == CC_QUEUED_TRAILERS)	/* past the peer's window: the rest waits in the stream's queue */
		CHECK_EQ_INT(h2_submit_data(r.sv.c, 1, big, sizeof(big), 0), 0);
	v = raw_run(&r);
	CHECK(!v.goaway || cc == CC_GOAWAY_FINAL);
	CHECK_EQ_INT(buf_reserve(&r.sv.log, 4096), 0);	/* the test's own log: not what is tested */
	for (int i = 0; i < pings; i++)
		h2_frame_put_ping(&r.in, opaque, 0);
	h2_conn_feed(r.sv.c, buf_data(&r.in), buf_len(&r.in));	/* their ACKs stay queued */
	buf_reset(&r.in);
	switch (cc) {
	case CC_PING_ACK:
		h2_frame_put_ping(&r.in, opaque, 0);
		break;
	case CC_SETTINGS_ACK:
		h2_frame_put_settings(&r.in, NULL, NULL, 0);
		break;
	case CC_WINDOW_UPDATE:	/* half of both windows consumed: a connection and a stream WINDOW_UPDATE */
		h2_frame_put_data(&r.in, 1, 0, body, sizeof(body), 0);
		h2_frame_put_data(&r.in, 1, 0, body, sizeof(body), 0);
		break;
	case CC_RST_STREAM:	/* past max_concurrent_streams: refused */
		raw_headers(&r, 3, H2_FLAG_END_STREAM, req_post);
		break;
	case CC_GOAWAY_FINAL:
		h2_frame_put_ping(&r.in, graceful, 1);
		break;
	case CC_CONTINUATION:
		raw_block(&r, &blk, trailers);
		h2_frame_put_headers(&r.in, 1, H2_FLAG_END_STREAM, buf_data(&blk), buf_len(&blk), 100, 0, NULL);
		break;
	default:
		break;
	}
	before = mem_try_calls_for_test();
	mem_try_fail_after_for_test(n);
	if (cc == CC_GOAWAY_GRACEFUL)
		rc = h2_submit_goaway(r.sv.c, H2_NO_ERROR, 1, NULL);
	else if (cc == CC_RESPONSE_HEADERS)
		rc = h2_submit_response(r.sv.c, 1, 200, hdrs, 1, 0);
	else if (cc == CC_BIG_RESPONSE_HEADERS || cc == CC_HUGE_RESPONSE_HEADERS)
		rc = h2_submit_response(r.sv.c, 1, 200, bighdrs, 2, 0);
	else if (cc == CC_END_STREAM)
		rc = h2_submit_data(r.sv.c, 1, NULL, 0, 1);
	else if (cc == CC_QUEUED_TRAILERS)
		rc = h2_submit_trailers(r.sv.c, 1, hdrs, 1);
	else
		h2_conn_feed(r.sv.c, buf_data(&r.in), buf_len(&r.in));
	calls = mem_try_calls_for_test() - before;
	mem_try_fail_after_for_test(0);
	failed = calls >= n;
	buf_reset(&r.in);
	v = raw_run(&r);
	if (failed && cc == CC_GOAWAY_GRACEFUL) {
		CHECK_EQ_INT(rc, H2_ERR_NOMEM);
	} else if (failed && cc == CC_QUEUED_TRAILERS) {
		CHECK_EQ_INT(rc, H2_ERR_NOMEM);	/* the stream's own error: the connection goes on */
		EXPECT_OK(v);
		CHECK(h2_conn_want_read(r.sv.c));
	} else if (failed) {
		EXPECT_CONN_ERROR(v, H2_INTERNAL_ERROR);
		CHECK(!h2_conn_want_read(r.sv.c));
		CHECK_EQ_INT(rc, cc == CC_RESPONSE_HEADERS || cc == CC_BIG_RESPONSE_HEADERS ||
		    cc == CC_HUGE_RESPONSE_HEADERS || cc == CC_END_STREAM ? H2_ERR_CONN : 0);
	} else {
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(v.ping_acks, pings + (cc == CC_PING_ACK));
		if (cc == CC_GOAWAY_FINAL || cc == CC_GOAWAY_GRACEFUL)
			EXPECT_CONN_ERROR(v, H2_NO_ERROR);
		else if (cc == CC_RST_STREAM)
			EXPECT_STREAM_ERROR(v, 3, H2_REFUSED_STREAM);
		else
			EXPECT_OK(v);
		if (cc == CC_SETTINGS_ACK)
			CHECK_EQ_INT(v.acks, 1);
		if (cc == CC_RESPONSE_HEADERS || cc == CC_BIG_RESPONSE_HEADERS || cc == CC_HUGE_RESPONSE_HEADERS)
			CHECK_EQ_INT(v.headers, 1);
		if (cc == CC_CONTINUATION)
			CHECK(strstr(logstr(&r.sv), "H 1 x-pad=pppp") != NULL);
	}
	buf_free(&blk);
	raw_free(&r);
	return failed;
}

static void test_control_frames_when_out_cannot_grow(void)
{
	static const char *const names[CC_COUNT] = {
		"PING ACK", "SETTINGS ACK", "WINDOW_UPDATE", "RST_STREAM", "final GOAWAY", "graceful GOAWAY",
		"response HEADERS", "response HEADERS past 256 bytes",
		"response HEADERS past the frame size", "END_STREAM", "queued trailers",
		"CONTINUATION block",
	};

	for (int cc = 0; cc < CC_COUNT; cc++) {
		int failures = 0;

		/* 17-byte ACKs: 0..40 of them put the write at every offset around the 256 and 512 byte boundaries. */
		for (int pings = 0; pings <= 40; pings++)
			for (unsigned long n = 1; n <= 3; n++)
				failures += ctl_case_run((enum ctl_case)cc, pings, n);
		CHECK(failures > 0);
		printf("h2 %s: %d runs failed a checked allocation, each answered as promised\n", names[cc], failures);
	}
}

/* A client's request whose :path does not fit the 256 bytes reserved for its HEADERS: GOAWAY(INTERNAL_ERROR). */
static void test_request_headers_when_out_cannot_grow(void)
{
	static char path[601];
	int failures = 0;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	for (unsigned long n = 1; n <= 3; n++) {
		rawc r;
		verdict v;
		unsigned long before, calls;
		int32_t id;

		rawc_init(&r);
		CHECK_EQ_INT(buf_reserve(&r.cl.log, 4096), 0);
		before = mem_try_calls_for_test();
		mem_try_fail_after_for_test(n);
		id = h2_submit_request(r.cl.c, "GET", "http", "x", path, NULL, 0, 1, NULL);
		calls = mem_try_calls_for_test() - before;
		mem_try_fail_after_for_test(0);
		v = conn_run(r.cl.c, &r.in);
		if (calls >= n) {
			failures++;
			CHECK_EQ_INT(id, H2_ERR_CONN);
			EXPECT_CONN_ERROR(v, H2_INTERNAL_ERROR);
		} else {
			CHECK(id > 0);
			CHECK_EQ_INT(v.headers, 1);
		}
		rawc_free(&r);
	}
	CHECK(failures > 0);
}

/* Queuing the preface or our SETTINGS fails: h2_conn_new() answers NULL, nothing leaks. */
static void test_conn_new_out_of_memory(void)
{
	for (int role = H2_ROLE_CLIENT; role <= H2_ROLE_SERVER; role++) {
		int failures = 0;

		for (unsigned long n = 1; n <= 3; n++) {
			unsigned long before = mem_try_calls_for_test(), calls;
			h2_conn *c;

			mem_try_fail_after_for_test(n);
			c = h2_conn_new((enum h2_role)role, NULL, NULL, NULL);
			calls = mem_try_calls_for_test() - before;
			mem_try_fail_after_for_test(0);
			if (calls >= n) {
				CHECK(c == NULL);
				failures++;
			} else {
				CHECK(c != NULL);
			}
			if (c)
				h2_conn_free(c);
		}
		CHECK(failures > 0);
	}
}

int main(void)
{
	RUN(test_raw_handshake_and_request);
	RUN(test_raw_preface_errors);
	RUN(test_raw_frame_errors);
	RUN(test_raw_compression_errors);
	RUN(test_raw_settings_errors);
	RUN(test_raw_stream_states);
	RUN(test_raw_malformed_requests);
	RUN(test_raw_kept_values_checked);
	RUN(test_raw_wellformed_requests);
	RUN(test_raw_trailers_and_content_length);
	RUN(test_raw_flow_control_errors);
	RUN(test_send_window_changes);
	RUN(test_raw_refused_stream);
	RUN(test_client_responses);
	RUN(test_client_violations);
	RUN(test_flood_rapid_reset);
	RUN(test_rapid_reset_refills);
	RUN(test_flood_made_you_reset);
	RUN(test_flood_continuation);
	RUN(test_flood_ping_not_reading);
	RUN(test_flood_empty_data_and_settings);
	RUN(test_hpack_bomb);
	RUN(test_checked_allocations_fail);
	RUN(test_control_frames_when_out_cannot_grow);
	RUN(test_request_headers_when_out_cannot_grow);
	RUN(test_conn_new_out_of_memory);
	return harness_finish();
}
