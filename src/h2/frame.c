/*
 * HTTP/2 frame codec.  Decoding validates only what the frame itself can
 * tell (fixed lengths, padding); stream ids and states are h2.c's business
 * because the same fault is a stream error in one state and a connection
 * error in another.
 */
#include "h2/frame.h"

#include <string.h>

void h2_frame_hdr_parse(const uint8_t in[H2_FRAME_HDR_LEN], h2_frame_hdr *h)
{
	h->length = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
	h->type = in[3];
	h->flags = in[4];
	h->stream_id = h2_get_u32(in + 5) & 0x7fffffffu;
}

void h2_frame_hdr_put(uint8_t out[H2_FRAME_HDR_LEN], uint32_t length, uint8_t type, uint8_t flags,
    uint32_t stream_id)
{
	out[0] = (uint8_t)(length >> 16);
	out[1] = (uint8_t)(length >> 8);
	out[2] = (uint8_t)length;
	out[3] = type;
	out[4] = flags;
	h2_put_u32(out + 5, stream_id & 0x7fffffffu);
}

/* Strips padding: on return p/len are the unpadded content. */
static int strip_padding(h2_frame *f, const uint8_t **p, size_t *len)
{
	size_t pad;

	if (!(f->hdr.flags & H2_FLAG_PADDED))
		return H2_FRAME_OK;
	if (*len < 1)
		return H2_FRAME_ERR_SIZE;
	pad = (*p)[0];
	(*p)++;
	(*len)--;
	/* §6.1: padding as long as or longer than the rest is PROTOCOL_ERROR. */
	if (pad > *len)
		return H2_FRAME_ERR_PADDING;
	*len -= pad;
	f->pad_len = (uint32_t)pad + 1;
	return H2_FRAME_OK;
}

static void read_priority(h2_frame *f, const uint8_t *p)
{
	uint32_t v = h2_get_u32(p);

	f->has_priority = 1;
	f->exclusive = (v >> 31) != 0;
	f->dependency = v & 0x7fffffffu;
	f->weight = p[4];
}

int h2_frame_decode(const h2_frame_hdr *hdr, const uint8_t *payload, h2_frame *f)
{
	const uint8_t *p = payload;
	size_t len = hdr->length;
	int rc;

	memset(f, 0, sizeof(*f));
	f->hdr = *hdr;
	switch (hdr->type) {
	case H2_FT_DATA:
		if ((rc = strip_padding(f, &p, &len)) != H2_FRAME_OK)
			return rc;
		break;
	case H2_FT_HEADERS:
		if ((rc = strip_padding(f, &p, &len)) != H2_FRAME_OK)
			return rc;
		if (hdr->flags & H2_FLAG_PRIORITY) {
			if (len < 5)
				return H2_FRAME_ERR_SIZE;
			read_priority(f, p);
			p += 5;
			len -= 5;
		}
		break;
	case H2_FT_PRIORITY:
		if (len != 5)
			return H2_FRAME_ERR_SIZE;
		read_priority(f, p);
		return H2_FRAME_OK;
	case H2_FT_RST_STREAM:
		if (len != 4)
			return H2_FRAME_ERR_SIZE;
		f->error_code = h2_get_u32(p);
		return H2_FRAME_OK;
	case H2_FT_SETTINGS:
		if ((hdr->flags & H2_FLAG_ACK) ? len != 0 : len % 6 != 0)
			return H2_FRAME_ERR_SIZE;
		break;
	case H2_FT_PUSH_PROMISE:
		if ((rc = strip_padding(f, &p, &len)) != H2_FRAME_OK)
			return rc;
		if (len < 4)
			return H2_FRAME_ERR_SIZE;
		f->promised_id = h2_get_u32(p) & 0x7fffffffu;
		p += 4;
		len -= 4;
		break;
	case H2_FT_PING:
		if (len != 8)
			return H2_FRAME_ERR_SIZE;
		break;
	case H2_FT_GOAWAY:
		if (len < 8)
			return H2_FRAME_ERR_SIZE;
		f->last_stream_id = h2_get_u32(p) & 0x7fffffffu;
		f->error_code = h2_get_u32(p + 4);
		p += 8;
		len -= 8;
		break;
	case H2_FT_WINDOW_UPDATE:
		if (len != 4)
			return H2_FRAME_ERR_SIZE;
		f->increment = h2_get_u32(p) & 0x7fffffffu;
		return H2_FRAME_OK;
	default:	/* CONTINUATION and unknown types: the payload as is */
		break;
	}
	f->data = p;
	f->data_len = len;
	return H2_FRAME_OK;
}

void h2_frame_setting(const h2_frame *f, size_t i, uint16_t *id, uint32_t *value)
{
	const uint8_t *p = f->data + i * 6;

	*id = (uint16_t)(p[0] << 8 | p[1]);
	*value = h2_get_u32(p + 2);
}

/* Reserves a frame of payload length n and writes its header; returns the payload pointer. */
static uint8_t *frame_begin(buf *out, uint32_t n, uint8_t type, uint8_t flags, uint32_t stream_id)
{
	uint8_t *p;

	if (buf_reserve(out, H2_FRAME_HDR_LEN + (size_t)n) != 0)
		return NULL;
	p = buf_tail(out);
	h2_frame_hdr_put(p, n, type, flags, stream_id);
	return p + H2_FRAME_HDR_LEN;
}

static void frame_end(buf *out, uint32_t n)
{
	buf_commit(out, H2_FRAME_HDR_LEN + (size_t)n);
}

static int put_padded(buf *out, uint8_t type, uint32_t stream_id, uint8_t flags,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *data, size_t len, unsigned pad)
{
	uint32_t n = (uint32_t)(prefix_len + len + (pad ? pad + 1 : 0));
	uint8_t *p;

	if (pad > 255)
		return -1;
	if (pad)
		flags |= H2_FLAG_PADDED;
	if ((p = frame_begin(out, n, type, flags, stream_id)) == NULL)
		return -1;
	if (pad)
		*p++ = (uint8_t)pad;
	if (prefix_len)
		memcpy(p, prefix, prefix_len);
	p += prefix_len;
	if (len)
		memcpy(p, data, len);
	p += len;
	if (pad)
		memset(p, 0, pad);
	frame_end(out, n);
	return 0;
}

int h2_frame_put_data(buf *out, uint32_t stream_id, uint8_t flags, const uint8_t *data, size_t len,
    unsigned pad)
{
	return put_padded(out, H2_FT_DATA, stream_id, flags & H2_FLAG_END_STREAM, NULL, 0, data, len, pad);
}

int h2_frame_put_headers(buf *out, uint32_t stream_id, uint8_t flags, const uint8_t *block, size_t len,
    size_t max_frame, unsigned pad, const h2_frame *priority)
{
	uint8_t prio[5];
	size_t prio_len = 0, room, first, save = buf_len(out);

	flags &= H2_FLAG_END_STREAM;
	if (priority && priority->has_priority) {
		h2_put_u32(prio, priority->dependency | (priority->exclusive ? 0x80000000u : 0));
		prio[4] = priority->weight;
		prio_len = 5;
		flags |= H2_FLAG_PRIORITY;
	}
	room = prio_len + (pad ? pad + 1 : 0);
	if (room >= max_frame)
		return -1;
	first = len <= max_frame - room ? len : max_frame - room;
	if (first == len)
		flags |= H2_FLAG_END_HEADERS;
	if (put_padded(out, H2_FT_HEADERS, stream_id, flags, prio, prio_len, block, first, pad) != 0)
		return -1;
	block += first;
	len -= first;
	while (len > 0) {
		size_t n = len < max_frame ? len : max_frame;

		if (h2_frame_put_continuation(out, stream_id, n == len ? H2_FLAG_END_HEADERS : 0, block, n) != 0) {
			out->end = out->start + save;
			return -1;
		}
		block += n;
		len -= n;
	}
	return 0;
}

int h2_frame_put_priority(buf *out, uint32_t stream_id, uint32_t dependency, int exclusive, uint8_t weight)
{
	uint8_t *p = frame_begin(out, 5, H2_FT_PRIORITY, 0, stream_id);

	if (p == NULL)
		return -1;
	h2_put_u32(p, (dependency & 0x7fffffffu) | (exclusive ? 0x80000000u : 0));
	p[4] = weight;
	frame_end(out, 5);
	return 0;
}

int h2_frame_put_rst_stream(buf *out, uint32_t stream_id, uint32_t error_code)
{
	uint8_t *p = frame_begin(out, 4, H2_FT_RST_STREAM, 0, stream_id);

	if (p == NULL)
		return -1;
	h2_put_u32(p, error_code);
	frame_end(out, 4);
	return 0;
}

int h2_frame_put_settings(buf *out, const uint16_t *ids, const uint32_t *values, size_t n)
{
	uint8_t *p = frame_begin(out, (uint32_t)(n * 6), H2_FT_SETTINGS, 0, 0);
	size_t i;

	if (p == NULL)
		return -1;
	for (i = 0; i < n; i++, p += 6) {
		p[0] = (uint8_t)(ids[i] >> 8);
		p[1] = (uint8_t)ids[i];
		h2_put_u32(p + 2, values[i]);
	}
	frame_end(out, (uint32_t)(n * 6));
	return 0;
}

int h2_frame_put_settings_ack(buf *out)
{
	if (frame_begin(out, 0, H2_FT_SETTINGS, H2_FLAG_ACK, 0) == NULL)
		return -1;
	frame_end(out, 0);
	return 0;
}

int h2_frame_put_push_promise(buf *out, uint32_t stream_id, uint32_t promised_id, const uint8_t *block,
    size_t len, uint8_t flags)
{
	uint8_t id[4];

	h2_put_u32(id, promised_id & 0x7fffffffu);
	return put_padded(out, H2_FT_PUSH_PROMISE, stream_id, flags & H2_FLAG_END_HEADERS, id, 4, block, len, 0);
}

int h2_frame_put_ping(buf *out, const uint8_t opaque[8], int ack)
{
	uint8_t *p = frame_begin(out, 8, H2_FT_PING, ack ? H2_FLAG_ACK : 0, 0);

	if (p == NULL)
		return -1;
	memcpy(p, opaque, 8);
	frame_end(out, 8);
	return 0;
}

int h2_frame_put_goaway(buf *out, uint32_t last_stream_id, uint32_t error_code, const uint8_t *debug,
    size_t debug_len)
{
	uint8_t *p = frame_begin(out, (uint32_t)(8 + debug_len), H2_FT_GOAWAY, 0, 0);

	if (p == NULL)
		return -1;
	h2_put_u32(p, last_stream_id & 0x7fffffffu);
	h2_put_u32(p + 4, error_code);
	if (debug_len)
		memcpy(p + 8, debug, debug_len);
	frame_end(out, (uint32_t)(8 + debug_len));
	return 0;
}

int h2_frame_put_window_update(buf *out, uint32_t stream_id, uint32_t increment)
{
	uint8_t *p = frame_begin(out, 4, H2_FT_WINDOW_UPDATE, 0, stream_id);

	if (p == NULL)
		return -1;
	h2_put_u32(p, increment & 0x7fffffffu);
	frame_end(out, 4);
	return 0;
}

int h2_frame_put_continuation(buf *out, uint32_t stream_id, uint8_t flags, const uint8_t *frag, size_t len)
{
	return put_padded(out, H2_FT_CONTINUATION, stream_id, flags & H2_FLAG_END_HEADERS, NULL, 0, frag, len, 0);
}
