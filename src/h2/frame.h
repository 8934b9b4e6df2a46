/*
 * HTTP/2 frame codec (RFC 9113 §4, §6): the 9-byte header, structural
 * validation of each frame type's payload (lengths, padding, reserved
 * bits), and writers that append frames to a buf.  Stateless: what a frame
 * means for a stream or connection is decided in h2.c.
 */
#ifndef CPLANE_H2_FRAME_H
#define CPLANE_H2_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define H2_FRAME_HDR_LEN 9
#define H2_DEFAULT_MAX_FRAME 16384u
#define H2_MAX_FRAME_LIMIT 16777215u	/* 2^24 - 1 */
#define H2_MAX_WINDOW 2147483647	/* 2^31 - 1 */
#define H2_DEFAULT_WINDOW 65535

enum h2_frame_type {
	H2_FT_DATA = 0x0,
	H2_FT_HEADERS = 0x1,
	H2_FT_PRIORITY = 0x2,
	H2_FT_RST_STREAM = 0x3,
	H2_FT_SETTINGS = 0x4,
	H2_FT_PUSH_PROMISE = 0x5,
	H2_FT_PING = 0x6,
	H2_FT_GOAWAY = 0x7,
	H2_FT_WINDOW_UPDATE = 0x8,
	H2_FT_CONTINUATION = 0x9,
};

#define H2_FLAG_END_STREAM 0x01u
#define H2_FLAG_ACK 0x01u
#define H2_FLAG_END_HEADERS 0x04u
#define H2_FLAG_PADDED 0x08u
#define H2_FLAG_PRIORITY 0x20u

enum h2_settings_id {
	H2_SETTINGS_HEADER_TABLE_SIZE = 0x1,
	H2_SETTINGS_ENABLE_PUSH = 0x2,
	H2_SETTINGS_MAX_CONCURRENT_STREAMS = 0x3,
	H2_SETTINGS_INITIAL_WINDOW_SIZE = 0x4,
	H2_SETTINGS_MAX_FRAME_SIZE = 0x5,
	H2_SETTINGS_MAX_HEADER_LIST_SIZE = 0x6,
	H2_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8,
	H2_SETTINGS_NO_RFC7540_PRIORITIES = 0x9,
};

typedef struct h2_frame_hdr {
	uint32_t length;	/* 24 bits */
	uint8_t type;
	uint8_t flags;
	uint32_t stream_id;	/* reserved bit cleared */
} h2_frame_hdr;

/* A decoded payload; pointers are into the payload passed to h2_frame_decode(). */
typedef struct h2_frame {
	h2_frame_hdr hdr;
	const uint8_t *data;	/* DATA payload, HEADERS/PUSH_PROMISE/CONTINUATION fragment, GOAWAY debug, SETTINGS entries, PING opaque */
	size_t data_len;
	uint32_t pad_len;	/* padding bytes (plus 1 for the Pad Length field when PADDED) removed */
	int has_priority;	/* HEADERS with PRIORITY flag, or PRIORITY frame */
	uint32_t dependency;
	int exclusive;
	uint8_t weight;
	uint32_t error_code;	/* RST_STREAM, GOAWAY */
	uint32_t last_stream_id;/* GOAWAY */
	uint32_t promised_id;	/* PUSH_PROMISE */
	uint32_t increment;	/* WINDOW_UPDATE (0 is reported, the caller decides) */
} h2_frame;

/* Structural errors of one frame; the caller maps them to connection or stream errors. */
enum h2_frame_err {
	H2_FRAME_OK = 0,
	H2_FRAME_ERR_SIZE = -1,		/* wrong length for the type → FRAME_SIZE_ERROR */
	H2_FRAME_ERR_PADDING = -2,	/* pad length >= payload → PROTOCOL_ERROR */
};

void h2_frame_hdr_parse(const uint8_t in[H2_FRAME_HDR_LEN], h2_frame_hdr *h);
void h2_frame_hdr_put(uint8_t out[H2_FRAME_HDR_LEN], uint32_t length, uint8_t type, uint8_t flags,
    uint32_t stream_id);

/*
 * Decodes the payload of a frame whose header is hdr (payload holds
 * hdr->length bytes).  Unknown types decode to just the header with data =
 * payload.  Returns H2_FRAME_OK or an h2_frame_err.
 */
int h2_frame_decode(const h2_frame_hdr *hdr, const uint8_t *payload, h2_frame *f);

/* Reads SETTINGS entry i (f->data_len / 6 entries). */
void h2_frame_setting(const h2_frame *f, size_t i, uint16_t *id, uint32_t *value);

/*
 * Writers.  Each appends one complete frame to out and returns 0, or -1 on
 * ENOMEM (out unchanged).  pad: number of padding bytes (0 = not PADDED;
 * 1..255 adds the PADDED flag and a Pad Length byte; the caller keeps
 * length + pad + 1 within the peer's max frame size).
 */
int h2_frame_put_data(buf *out, uint32_t stream_id, uint8_t flags, const uint8_t *data, size_t len,
    unsigned pad);
/* Writes a header block as HEADERS (+ CONTINUATION when it exceeds max_frame); flags may hold END_STREAM. */
int h2_frame_put_headers(buf *out, uint32_t stream_id, uint8_t flags, const uint8_t *block, size_t len,
    size_t max_frame, unsigned pad, const h2_frame *priority);
int h2_frame_put_priority(buf *out, uint32_t stream_id, uint32_t dependency, int exclusive, uint8_t weight);
int h2_frame_put_rst_stream(buf *out, uint32_t stream_id, uint32_t error_code);
/* ids/values: n entries. */
int h2_frame_put_settings(buf *out, const uint16_t *ids, const uint32_t *values, size_t n);
int h2_frame_put_settings_ack(buf *out);
int h2_frame_put_push_promise(buf *out, uint32_t stream_id, uint32_t promised_id, const uint8_t *block,
    size_t len, uint8_t flags);
int h2_frame_put_ping(buf *out, const uint8_t opaque[8], int ack);
int h2_frame_put_goaway(buf *out, uint32_t last_stream_id, uint32_t error_code, const uint8_t *debug,
    size_t debug_len);
int h2_frame_put_window_update(buf *out, uint32_t stream_id, uint32_t increment);
int h2_frame_put_continuation(buf *out, uint32_t stream_id, uint8_t flags, const uint8_t *frag, size_t len);

static inline uint32_t h2_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void h2_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
