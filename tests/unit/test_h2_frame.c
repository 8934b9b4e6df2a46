/* Frame codec: every frame type round-trips; structural errors are reported. */
#include "harness.h"

#include "h2/frame.h"

static void decode_one(const buf *b, size_t off, h2_frame *f, int *rc)
{
	h2_frame_hdr h;

	h2_frame_hdr_parse(buf_data(b) + off, &h);
	*rc = h2_frame_decode(&h, buf_data(b) + off + H2_FRAME_HDR_LEN, f);
}

static void test_header(void)
{
	uint8_t p[9];
	h2_frame_hdr h;

	h2_frame_hdr_put(p, 0x123456, 0x9, 0xff, 0xffffffffu);
	CHECK_EQ_MEM(p, 9, "\x12\x34\x56\x09\xff\x7f\xff\xff\xff", 9);
	/* The reserved bit is ignored on receipt. */
	p[5] = 0xff;
	h2_frame_hdr_parse(p, &h);
	CHECK_EQ_INT(h.length, 0x123456);
	CHECK_EQ_INT(h.type, 9);
	CHECK_EQ_INT(h.flags, 0xff);
	CHECK_EQ_INT(h.stream_id, 0x7fffffff);
}

static void test_data_padded(void)
{
	buf b = BUF_INIT;
	h2_frame f;
	int rc;

	CHECK(h2_frame_put_data(&b, 3, H2_FLAG_END_STREAM, (const uint8_t *)"hello", 5, 0) == 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "\x00\x00\x05\x00\x01\x00\x00\x00\x03hello", 14);
	decode_one(&b, 0, &f, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_MEM(f.data, f.data_len, "hello", 5);
	buf_reset(&b);
	CHECK(h2_frame_put_data(&b, 3, 0, (const uint8_t *)"hi", 2, 4) == 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "\x00\x00\x07\x00\x08\x00\x00\x00\x03\x04hi\0\0\0\0", 16);
	decode_one(&b, 0, &f, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_MEM(f.data, f.data_len, "hi", 2);
	CHECK_EQ_INT(f.pad_len, 5);
	/* Padding as long as the frame payload: PROTOCOL_ERROR; one less leaves no data. */
	buf_data(&b)[9] = 7;
	decode_one(&b, 0, &f, &rc);
	CHECK_EQ_INT(rc, H2_FRAME_ERR_PADDING);
	buf_data(&b)[9] = 6;
	decode_one(&b, 0, &f, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(f.data_len, 0);
	buf_data(&b)[9] = 5;
	decode_one(&b, 0, &f, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(f.data_len, 1);
	buf_free(&b);
}

static void test_headers_continuation(void)
{
	buf b = BUF_INIT;
	uint8_t block[40000];
	h2_frame f, prio;
	size_t off = 0, got = 0, i;
	int rc, frames = 0;

	for (i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)i;
	memset(&prio, 0, sizeof(prio));
	prio.has_priority = 1;
	prio.dependency = 7;
	prio.exclusive = 1;
	prio.weight = 42;
	CHECK(h2_frame_put_headers(&b, 5, H2_FLAG_END_STREAM, block, sizeof(block), 16384, 3, &prio) == 0);
	while (off < buf_len(&b)) {
		decode_one(&b, off, &f, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(f.hdr.stream_id, 5);
		CHECK(f.hdr.length <= 16384);
		if (frames == 0) {
			CHECK_EQ_INT(f.hdr.type, H2_FT_HEADERS);
			CHECK(f.hdr.flags & H2_FLAG_END_STREAM);
			CHECK(f.hdr.flags & H2_FLAG_PADDED);
			CHECK(f.has_priority && f.exclusive && f.dependency == 7 && f.weight == 42);
		} else {
			CHECK_EQ_INT(f.hdr.type, H2_FT_CONTINUATION);
		}
		CHECK_EQ_MEM(f.data, f.data_len, block + got, f.data_len);
		got += f.data_len;
		off += H2_FRAME_HDR_LEN + f.hdr.length;
		frames++;
		if (off >= buf_len(&b))
			CHECK(f.hdr.flags & H2_FLAG_END_HEADERS);
		else
			CHECK(!(f.hdr.flags & H2_FLAG_END_HEADERS));
	}
	CHECK_EQ_INT(got, sizeof(block));
	CHECK_EQ_INT(frames, 3);
	buf_free(&b);
}

static void test_control_frames(void)
{
	buf b = BUF_INIT;
	h2_frame f;
	size_t off = 0;
	int rc;
	uint16_t ids[2] = {3, 4}, id;
	uint32_t vals[2] = {100, 65536}, v;

	CHECK(h2_frame_put_priority(&b, 3, 1, 1, 200) == 0);
	CHECK(h2_frame_put_rst_stream(&b, 3, 8) == 0);
	CHECK(h2_frame_put_settings(&b, ids, vals, 2) == 0);
	CHECK(h2_frame_put_settings_ack(&b) == 0);
	CHECK(h2_frame_put_push_promise(&b, 1, 2, (const uint8_t *)"ab", 2, H2_FLAG_END_HEADERS) == 0);
	CHECK(h2_frame_put_ping(&b, (const uint8_t *)"12345678", 1) == 0);
	CHECK(h2_frame_put_goaway(&b, 7, 2, (const uint8_t *)"dbg", 3) == 0);
	CHECK(h2_frame_put_window_update(&b, 0, 1000) == 0);
	CHECK(h2_frame_put_continuation(&b, 1, H2_FLAG_END_HEADERS, (const uint8_t *)"x", 1) == 0);

#define NEXT() do { decode_one(&b, off, &f, &rc); CHECK_EQ_INT(rc, 0); off += 9 + f.hdr.length; } while (0)
	NEXT();
	CHECK(f.hdr.type == H2_FT_PRIORITY && f.dependency == 1 && f.exclusive && f.weight == 200);
	NEXT();
	CHECK(f.hdr.type == H2_FT_RST_STREAM && f.error_code == 8);
	NEXT();
	CHECK(f.hdr.type == H2_FT_SETTINGS && f.data_len == 12);
	h2_frame_setting(&f, 1, &id, &v);
	CHECK(id == 4 && v == 65536);
	NEXT();
	CHECK(f.hdr.type == H2_FT_SETTINGS && (f.hdr.flags & H2_FLAG_ACK) && f.hdr.length == 0);
	NEXT();
	CHECK(f.hdr.type == H2_FT_PUSH_PROMISE && f.promised_id == 2 && f.data_len == 2);
	NEXT();
	CHECK(f.hdr.type == H2_FT_PING && (f.hdr.flags & H2_FLAG_ACK) && memcmp(f.data, "12345678", 8) == 0);
	NEXT();
	CHECK(f.hdr.type == H2_FT_GOAWAY && f.last_stream_id == 7 && f.error_code == 2 && f.data_len == 3);
	NEXT();
	CHECK(f.hdr.type == H2_FT_WINDOW_UPDATE && f.increment == 1000);
	NEXT();
	CHECK(f.hdr.type == H2_FT_CONTINUATION && f.data_len == 1);
#undef NEXT
	CHECK_EQ_INT(off, buf_len(&b));
	buf_free(&b);
}

static void test_bad_lengths(void)
{
	static const struct { uint8_t type, flags; uint32_t len; } bad[] = {
		{H2_FT_PRIORITY, 0, 4}, {H2_FT_PRIORITY, 0, 6}, {H2_FT_RST_STREAM, 0, 3},
		{H2_FT_SETTINGS, 0, 5}, {H2_FT_SETTINGS, H2_FLAG_ACK, 6}, {H2_FT_PING, 0, 7},
		{H2_FT_PING, 0, 9}, {H2_FT_GOAWAY, 0, 7}, {H2_FT_WINDOW_UPDATE, 0, 5},
		{H2_FT_HEADERS, H2_FLAG_PRIORITY, 4}, {H2_FT_PUSH_PROMISE, 0, 3}, {H2_FT_DATA, H2_FLAG_PADDED, 0},
	};
	uint8_t payload[16] = {0};
	h2_frame_hdr h;
	h2_frame f;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h.type = bad[i].type;
		h.flags = bad[i].flags;
		h.length = bad[i].len;
		h.stream_id = 1;
		CHECK_EQ_INT(h2_frame_decode(&h, payload, &f), H2_FRAME_ERR_SIZE);
	}
	/* Unknown types pass through untouched. */
	h.type = 0xfa;
	h.flags = 0;
	h.length = 3;
	CHECK_EQ_INT(h2_frame_decode(&h, payload, &f), 0);
	CHECK_EQ_INT(f.data_len, 3);
}

int main(void)
{
	RUN(test_header);
	RUN(test_data_padded);
	RUN(test_headers_continuation);
	RUN(test_control_frames);
	RUN(test_bad_lengths);
	return harness_finish();
}
