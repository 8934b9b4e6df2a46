/*
 * HTTP/2 output: submits, DATA scheduling under flow control, GOAWAY and
 * PING, and the output buffer handed to the io layer.
 *
 * Implementation notes.
 * - Everything goes into one buffer (c->out) so the io layer writes once
 *   per loop turn.  HEADERS are HPACK-encoded straight into it behind a
 *   9-byte placeholder that is filled in afterwards; only a block larger
 *   than the peer's max frame size is copied out and split.
 * - DATA is framed from the caller's memory at once when nothing is queued
 *   on the stream and the windows allow; the rest is copied into the
 *   stream's queue and framed by h2_conn_pending(), one frame per stream per
 *   round (round-robin), up to output_high_water.
 * - HPACK encoding happens in wire order, so queued trailers are kept as
 *   plain fields and encoded only when they are framed.
 * - A server answers every call with the same response headers and the same
 *   trailers; once such a block encodes without touching the HPACK table,
 *   it is kept (h2_block_memo) and written again for the same fields while
 *   the encoder's state is unchanged: one comparison instead of checking
 *   and encoding every field.
 */
#include "h2/h2_int.h"
#include "base/mem.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

#define H2_DATA_FRAME_CAP 65536

static const uint8_t graceful_opaque[8] = {'c', 'p', 'l', 'g', 'o', 'a', 'w', 'y'};

void h2__link_pending(h2_conn *c, h2_stream *s)
{
	if (s->pending)
		return;
	s->pending = 1;
	s->next = NULL;
	s->prev = c->pend_tail;
	if (c->pend_tail)
		c->pend_tail->next = s;
	else
		c->pend_head = s;
	c->pend_tail = s;
	c->npending++;
}

void h2__unlink_pending(h2_conn *c, h2_stream *s)
{
	if (!s->pending)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		c->pend_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		c->pend_tail = s->prev;
	s->next = s->prev = NULL;
	s->pending = 0;
	c->npending--;
}

static int64_t window_of(const h2_conn *c, const h2_stream *s)
{
	return s->send_window < c->send_window ? s->send_window : c->send_window;
}

int h2__stream_can_progress(const h2_conn *c, const h2_stream *s)
{
	if (buf_len(&s->sendq) > 0)
		return window_of(c, s) > 0;
	return 1;	/* only END_STREAM or trailers left: not flow controlled */
}

/* ---- field checks for what we send ---- */

static int send_name_ok(const char *n, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		uint8_t ch = (uint8_t)n[i];

		if (ch <= 0x20 || ch >= 0x7f || (ch >= 'A' && ch <= 'Z') || ch == ':')
			return 0;
	}
	return 1;
}

static int send_value_ok(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (v[i] == 0 || v[i] == '\r' || v[i] == '\n')
			return 0;
	return 1;
}

static int fields_ok(const h2_field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!send_name_ok(f[i].name, f[i].name_len) || !send_value_ok(f[i].value, f[i].value_len))
			return 0;
	return 1;
}

static unsigned hpack_flags(unsigned f)
{
	return (f & H2_FIELD_SENSITIVE ? HPACK_FIELD_NEVER_INDEXED : 0) |
	    (f & H2_FIELD_NO_INDEX ? HPACK_FIELD_NO_INDEX : 0);
}

/* ---- kept header blocks ---- */

/* Whether the key entry at *kp (before end) is this field; steps past it when it is. */
static inline __attribute__((always_inline)) int memo_entry_is(const uint8_t **kp, const uint8_t *end, unsigned flags, const char *name,
    size_t nl, const char *value, size_t vl)
{
	const uint8_t *k = *kp;

	if (end - k < 3 || k[0] != flags || k[1] != nl || k[2] != vl || (size_t)(end - k) - 3 < nl + vl ||
	    !mem_eq(k + 3, name, nl) || !mem_eq(k + 3 + nl, value, vl))
		return 0;
	*kp = k + 3 + nl + vl;
	return 1;
}

/* Whether the memo key at k (of len bytes) is exactly these fields. */
static int memo_key_is(const uint8_t *k, size_t len, const char *const *pn, const char *const *pv,
    const size_t *pvl, size_t np, const h2_field *f, size_t n)
{
	const uint8_t *end = k + len;
	size_t i;

	for (i = 0; i < np; i++)
		if (!memo_entry_is(&k, end, 0, pn[i], strlen(pn[i]), pv[i], pvl[i]))
			return 0;
	for (i = 0; i < n; i++)
		if (!memo_entry_is(&k, end, f[i].flags, f[i].name, f[i].name_len, f[i].value, f[i].value_len))
			return 0;
	return k == end;
}

/* The kept block for exactly these fields that the encoder would write again now, or NULL. */
static const h2_block_memo *memo_find(const h2_conn *c, const char *const *pn, const char *const *pv,
    const size_t *pvl, size_t np, const h2_field *f, size_t n)
{
	uint64_t st;

	if (c->memo == NULL)
		return NULL;
	st = hpack_encoder_state(&c->enc);
	for (unsigned k = 0; k < H2_MEMO_SLOTS; k++) {
		const h2_block_memo *m = &c->memo[k];

		if (m->key_len && m->enc_state == st &&
		    memo_key_is(m->key, m->key_len, pn, pv, pvl, np, f, n))
			return m;
	}
	return NULL;
}

/* Keeps block (blen bytes, just encoded in encoder state st, which it left as it was) for these fields. */
static void memo_keep(h2_conn *c, uint64_t st, const uint8_t *block, size_t blen, const char *const *pn,
    const char *const *pv, const size_t *pvl, size_t np, const h2_field *f, size_t n)
{
	uint8_t key[H2_MEMO_KEY_MAX];
	size_t klen = 0, i;
	h2_block_memo *m;

	if (blen > H2_MEMO_BLOCK_MAX)
		return;
	for (i = 0; i < np + n; i++) {
		const char *name = i < np ? pn[i] : f[i - np].name;
		const char *value = i < np ? pv[i] : f[i - np].value;
		size_t nl = i < np ? strlen(name) : f[i - np].name_len;
		size_t vl = i < np ? pvl[i] : f[i - np].value_len;
		unsigned flags = i < np ? 0 : f[i - np].flags;

		if (flags > 0xff || nl > 0xff || vl > 0xff || sizeof(key) - klen < 3 + nl + vl)
			return;
		key[klen] = (uint8_t)flags;
		key[klen + 1] = (uint8_t)nl;
		key[klen + 2] = (uint8_t)vl;
		memcpy(key + klen + 3, name, nl);
		if (vl)
			memcpy(key + klen + 3 + nl, value, vl);
		klen += 3 + nl + vl;
	}
	if (klen == 0)
		return;
	if (c->memo == NULL)
		c->memo = xcalloc(H2_MEMO_SLOTS, sizeof(*c->memo));
	m = &c->memo[c->memo_next];
	c->memo_next = (c->memo_next + 1) % H2_MEMO_SLOTS;
	m->enc_state = st;
	m->key_len = (uint16_t)klen;
	m->block_len = (uint16_t)blen;
	memcpy(m->key, key, klen);
	memcpy(m->block, block, blen);
}

/*
 * Writes HEADERS (+ CONTINUATION) for sid: pseudo-headers pn/pv (np of
 * them), then fields.  Fields were validated by the caller, or memo (from
 * memo_find() for the same fields, nothing written since) is their block.
 * A failure midway leaves the HPACK encoder ahead of the peer, so it fails
 * the connection.
 */
static int put_header_block(h2_conn *c, uint32_t sid, int end_stream, const h2_block_memo *memo,
    const char *const *pn, const char *const *pv, const size_t *pvl, size_t np, const h2_field *f, size_t n)
{
	size_t start = buf_len(&c->out), blen, i;
	uint8_t flags = end_stream ? H2_FLAG_END_STREAM : 0;
	uint64_t st = hpack_encoder_state(&c->enc);

	if (buf_reserve(&c->out, H2_FRAME_HDR_LEN + 256) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	if (memo) {
		/* H2_MEMO_BLOCK_MAX is below any peer's max frame size (16384 at least) */
		h2_frame_hdr_put(buf_tail(&c->out), memo->block_len, H2_FT_HEADERS,
		    (uint8_t)(flags | H2_FLAG_END_HEADERS), sid);
		memcpy(buf_tail(&c->out) + H2_FRAME_HDR_LEN, memo->block, memo->block_len);
		buf_commit(&c->out, H2_FRAME_HDR_LEN + memo->block_len);
		c->stats.frames_out++;
		return 0;
	}
	buf_commit(&c->out, H2_FRAME_HDR_LEN);
	if (hpack_encode_begin(&c->enc, &c->out) != 0)
		goto fail;
	for (i = 0; i < np; i++)
		if (hpack_encode_field(&c->enc, &c->out, (const uint8_t *)pn[i], strlen(pn[i]),
		    (const uint8_t *)pv[i], pvl[i], 0) != 0)
			goto fail;
	for (i = 0; i < n; i++)
		if (hpack_encode_field(&c->enc, &c->out, (const uint8_t *)f[i].name, f[i].name_len,
		    (const uint8_t *)f[i].value, f[i].value_len, hpack_flags(f[i].flags)) != 0)
			goto fail;
	blen = buf_len(&c->out) - start - H2_FRAME_HDR_LEN;
	if (c->local.keep_blocks && hpack_encoder_state(&c->enc) == st)
		memo_keep(c, st, buf_data(&c->out) + start + H2_FRAME_HDR_LEN, blen, pn, pv, pvl, np, f, n);
	if (blen <= c->peer_max_frame) {
		h2_frame_hdr_put(buf_data(&c->out) + start, (uint32_t)blen, H2_FT_HEADERS,
		    (uint8_t)(flags | H2_FLAG_END_HEADERS), sid);
	} else {
		uint8_t *tmp = xmalloc(blen);
		int rc;

		memcpy(tmp, buf_data(&c->out) + start + H2_FRAME_HDR_LEN, blen);
		c->out.end = c->out.start + start;
		rc = h2_frame_put_headers(&c->out, sid, flags, tmp, blen, c->peer_max_frame, 0, NULL);
		free(tmp);
		if (rc != 0)
			goto fail;
	}
	c->stats.frames_out++;
	return 0;
fail:
	/* Drop the half-written frame: the GOAWAY must follow whole frames. */
	c->out.end = c->out.start + start;
	return h2__conn_error(c, H2_INTERNAL_ERROR, "header encoding failed");
}

/* ---- submits ---- */

int32_t h2_submit_request(h2_conn *c, const char *method, const char *scheme, const char *authority,
    const char *path, const h2_field *fields, size_t nfields, int end_stream, void *stream_user)
{
	const char *pn[4], *pv[4];
	size_t pvl[4], np = 0;
	const h2_block_memo *memo;
	h2_stream *s;
	uint32_t id;

	if (c->failed)
		return H2_ERR_CONN;
	if (c->role != H2_ROLE_CLIENT || !method || !scheme || !path || !*method || !*path)
		return H2_ERR_INVALID;
	pn[np] = ":method"; pv[np] = method; pvl[np++] = strlen(method);
	pn[np] = ":scheme"; pv[np] = scheme; pvl[np++] = strlen(scheme);
	if (authority) {
		pn[np] = ":authority"; pv[np] = authority; pvl[np++] = strlen(authority);
	}
	pn[np] = ":path"; pv[np] = path; pvl[np++] = strlen(path);
	memo = memo_find(c, pn, pv, pvl, np, fields, nfields);
	if (memo == NULL && !fields_ok(fields, nfields))
		return H2_ERR_INVALID;
	if (c->goaway_sent || c->goaway_recv || c->next_local_id > H2_MAX_WINDOW)
		return H2_ERR_NO_IDS;
	/* Before the peer's SETTINGS its limit is unknown: RFC 9113 §6.5.2 recommends at least 100. */
	if (c->n_local >= (c->got_settings ? c->peer_max_concurrent : 100))
		return H2_ERR_CONCURRENCY;
	id = c->next_local_id;
	s = h2__stream_new(c, id);
	c->next_local_id += 2;
	c->stats.streams_opened++;
	s->user = stream_user;
	s->delivered = 1;
	s->headers_sent = 1;
	s->is_head = strcmp(method, "HEAD") == 0;
	if (put_header_block(c, id, end_stream, memo, pn, pv, pvl, np, fields, nfields) != 0)
		return H2_ERR_CONN;
	if (end_stream)
		s->local_closed = 1;
	return (int32_t)id;
}

static h2_stream *sendable(h2_conn *c, int32_t stream_id, int *err)
{
	h2_stream *s;

	*err = 0;
	if (c->failed) {
		*err = H2_ERR_CONN;
		return NULL;
	}
	if (stream_id <= 0 || (s = h2__find(c, (uint32_t)stream_id)) == NULL) {
		*err = H2_ERR_NO_STREAM;
		return NULL;
	}
	if (s->local_closed || s->end_queued) {
		*err = H2_ERR_STREAM_STATE;
		return NULL;
	}
	return s;
}

int h2_submit_response(h2_conn *c, int32_t stream_id, int status, const h2_field *fields,
    size_t nfields, int end_stream)
{
	static const char *const pn[1] = {":status"};
	char st[4];
	const char *pv[1] = {st};
	size_t pvl[1] = {3};
	const h2_block_memo *memo;
	h2_stream *s;
	int err;

	if ((s = sendable(c, stream_id, &err)) == NULL)
		return err;
	if (c->role != H2_ROLE_SERVER || status < 100 || status > 999)
		return H2_ERR_INVALID;
	st[0] = (char)('0' + status / 100);
	st[1] = (char)('0' + status / 10 % 10);
	st[2] = (char)('0' + status % 10);
	st[3] = 0;
	memo = memo_find(c, pn, pv, pvl, 1, fields, nfields);
	if (memo == NULL && !fields_ok(fields, nfields))
		return H2_ERR_INVALID;
	if (s->headers_sent)
		return H2_ERR_STREAM_STATE;
	if (put_header_block(c, s->id, end_stream, memo, pn, pv, pvl, 1, fields, nfields) != 0)
		return H2_ERR_CONN;
	/* 1xx are informational: the final response is still to come. */
	if (status >= 200)
		s->headers_sent = 1;
	if (end_stream) {
		s->local_closed = 1;
		h2__stream_maybe_close(c, s);
	}
	return 0;
}

/* Frames up to len bytes of data for s within windows and the high-water mark; returns bytes framed. */
static size_t frame_data(h2_conn *c, h2_stream *s, const uint8_t *data, size_t len, int end_after,
    int one_frame)
{
	size_t done = 0;

	while (done < len && buf_len(&c->out) < c->local.output_high_water) {
		int64_t w = window_of(c, s);
		size_t n = len - done;
		int last;

		if (w <= 0)
			break;
		if ((int64_t)n > w)
			n = (size_t)w;
		if (n > c->peer_max_frame)
			n = c->peer_max_frame;
		/* A peer allowing 16 MB frames should not make one DATA frame balloon our buffer. */
		if (n > H2_DATA_FRAME_CAP)
			n = H2_DATA_FRAME_CAP;
		last = end_after && done + n == len;
		if (h2_frame_put_data(&c->out, s->id, last ? H2_FLAG_END_STREAM : 0, data + done, n, 0) != 0) {
			h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
			break;
		}
		c->stats.frames_out++;
		s->send_window -= (int64_t)n;
		c->send_window -= (int64_t)n;
		done += n;
		if (last)
			s->local_closed = 1;
		if (one_frame)
			break;
	}
	return done;
}

static int put_end_stream(h2_conn *c, h2_stream *s)
{
	if (h2_frame_put_data(&c->out, s->id, H2_FLAG_END_STREAM, NULL, 0, 0) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	c->stats.frames_out++;
	s->local_closed = 1;
	return 0;
}

int h2_submit_data(h2_conn *c, int32_t stream_id, const uint8_t *data, size_t len, int end_stream)
{
	h2_stream *s;
	size_t done = 0;
	int err;

	if ((s = sendable(c, stream_id, &err)) == NULL)
		return err;
	if (!s->headers_sent)
		return H2_ERR_STREAM_STATE;
	if (!s->pending) {
		done = frame_data(c, s, data, len, end_stream, 0);
		if (c->failed)
			return H2_ERR_CONN;
		if (done == len) {
			if (end_stream && !s->local_closed && put_end_stream(c, s) != 0)
				return H2_ERR_CONN;
			h2__stream_maybe_close(c, s);
			return 0;
		}
	}
	if (buf_append(&s->sendq, data + done, len - done) != 0)
		return H2_ERR_NOMEM;
	s->end_queued = (uint8_t)end_stream;
	s->notify_ready = 1;
	h2__link_pending(c, s);
	return 0;
}

static int serialize_fields(buf *b, const h2_field *f, size_t n)
{
	size_t i;
	uint8_t len[4];

	for (i = 0; i < n; i++) {
		h2_put_u32(len, (uint32_t)f[i].name_len);
		if (buf_append(b, len, 4) || buf_append(b, f[i].name, f[i].name_len))
			return -1;
		h2_put_u32(len, (uint32_t)f[i].value_len);
		if (buf_append(b, len, 4) || buf_append(b, f[i].value, f[i].value_len) ||
		    buf_append_byte(b, (uint8_t)f[i].flags))
			return -1;
	}
	return 0;
}

/* Frames the queued trailers of s (the queue has drained). */
static int put_queued_trailers(h2_conn *c, h2_stream *s)
{
	const uint8_t *p = buf_data(&s->trailers), *end = p + buf_len(&s->trailers);
	h2_field fs[32], *f = fs;
	size_t n = 0, cap = 32;
	int rc;

	memset(fs, 0, sizeof(fs));

	while (p < end) {
		if (n == cap) {
			h2_field *nf = xmalloc(cap * 2 * sizeof(*nf));

			memcpy(nf, f, n * sizeof(*nf));
			if (f != fs)
				free(f);
			f = nf;
			cap *= 2;
		}
		f[n].name_len = h2_get_u32(p);
		f[n].name = (const char *)p + 4;
		p += 4 + f[n].name_len;
		f[n].value_len = h2_get_u32(p);
		f[n].value = (const char *)p + 4;
		p += 4 + f[n].value_len;
		f[n].flags = *p++;
		n++;
	}
	rc = put_header_block(c, s->id, 1, memo_find(c, NULL, NULL, NULL, 0, f, n), NULL, NULL, NULL, 0, f, n);
	if (f != fs)
		free(f);
	if (rc != 0)
		return rc;
	s->local_closed = 1;
	s->trailers_queued = 0;
	buf_reset(&s->trailers);
	return 0;
}

int h2_submit_trailers(h2_conn *c, int32_t stream_id, const h2_field *fields, size_t nfields)
{
	const h2_block_memo *memo;
	h2_stream *s;
	int err;

	if ((s = sendable(c, stream_id, &err)) == NULL)
		return err;
	if (!s->headers_sent)
		return H2_ERR_STREAM_STATE;
	memo = memo_find(c, NULL, NULL, NULL, 0, fields, nfields);
	if (memo == NULL && !fields_ok(fields, nfields))
		return H2_ERR_INVALID;
	if (!s->pending) {
		if (put_header_block(c, s->id, 1, memo, NULL, NULL, NULL, 0, fields, nfields) != 0)
			return H2_ERR_CONN;
		s->local_closed = 1;
		h2__stream_maybe_close(c, s);
		return 0;
	}
	if (serialize_fields(&s->trailers, fields, nfields) != 0) {
		buf_reset(&s->trailers);
		return H2_ERR_NOMEM;
	}
	s->trailers_queued = 1;
	s->end_queued = 1;
	return 0;
}

int h2_submit_rst_stream(h2_conn *c, int32_t stream_id, uint32_t error_code)
{
	h2_stream *s = stream_id > 0 ? h2__find(c, (uint32_t)stream_id) : NULL;

	if (c->failed)
		return H2_ERR_CONN;
	if (s == NULL)
		return H2_ERR_NO_STREAM;
	if (h2_frame_put_rst_stream(&c->out, s->id, error_code) != 0)
		return H2_ERR_NOMEM;
	c->stats.frames_out++;
	c->stats.streams_reset_by_us++;
	h2__stream_close(c, s, error_code, 0, CLOSED_RESET_BY_US);
	return 0;
}

void h2__goaway_final(h2_conn *c)
{
	c->graceful_wait = 0;
	if (c->goaway_sent == 2 || c->failed)
		return;
	if (h2_frame_put_goaway(&c->out, c->last_peer_id, H2_NO_ERROR, NULL, 0) != 0) {
		h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
		return;
	}
	c->stats.frames_out++;
	c->goaway_sent = 2;
	c->goaway_sent_last = c->last_peer_id;
}

int h2_submit_goaway(h2_conn *c, uint32_t error_code, int graceful, const char *debug)
{
	if (c->failed)
		return H2_ERR_CONN;
	if (error_code != H2_NO_ERROR) {
		h2__conn_error(c, error_code, debug);
		return 0;
	}
	if (graceful && c->role == H2_ROLE_SERVER && c->goaway_sent == 0) {
		/* §6.8: announce first, then name the last stream once in-flight ones have arrived. */
		if (h2_frame_put_goaway(&c->out, H2_MAX_WINDOW, H2_NO_ERROR, (const uint8_t *)debug,
		    debug ? strlen(debug) : 0) != 0 || h2_frame_put_ping(&c->out, graceful_opaque, 0) != 0)
			return H2_ERR_NOMEM;
		c->stats.frames_out += 2;
		c->goaway_sent = 1;
		c->graceful_wait = 1;
		c->graceful_deadline = 0;
		return 0;
	}
	h2__goaway_final(c);
	return c->failed ? H2_ERR_CONN : 0;
}

int h2_submit_ping(h2_conn *c, const uint8_t opaque[8])
{
	if (c->failed)
		return H2_ERR_CONN;
	if (h2_frame_put_ping(&c->out, opaque, 0) != 0)
		return H2_ERR_NOMEM;
	c->stats.frames_out++;
	return 0;
}

/* ---- scheduling and output ---- */

/* One round for s: at most one DATA frame, or its END_STREAM/trailers. Returns 1 on progress. */
static int stream_flush_one(h2_conn *c, h2_stream *s)
{
	size_t n;
	int progressed = 0, notify;
	uint32_t id;
	void *su;

	if (buf_len(&s->sendq) > 0) {
		int end_after = s->end_queued && !s->trailers_queued;

		n = frame_data(c, s, buf_data(&s->sendq), buf_len(&s->sendq), end_after, 1);
		if (c->failed)
			return 0;	/* s went with the connection */
		buf_consume(&s->sendq, n);
		progressed = n > 0;
		if (buf_len(&s->sendq) > 0)
			return progressed;
	}
	if (s->trailers_queued) {
		if (put_queued_trailers(c, s) != 0)
			return 0;
		progressed = 1;
	} else if (s->end_queued && !s->local_closed) {
		if (put_end_stream(c, s) != 0)
			return 0;
		progressed = 1;
	}
	h2__unlink_pending(c, s);
	notify = s->notify_ready;
	s->notify_ready = 0;
	id = s->id;
	su = s->user;
	if (h2__stream_maybe_close(c, s))
		return 1;
	if (notify && c->cb.on_send_ready)
		c->cb.on_send_ready(c, c->user, (int32_t)id, su);
	return 1;
}

void h2__flush_streams(h2_conn *c)
{
	size_t idle = 0;

	while (c->pend_head && !c->failed && buf_len(&c->out) < c->local.output_high_water &&
	    idle < c->npending) {
		h2_stream *s = c->pend_head;

		/* Rotate first: the stream may leave the list (or close) inside. */
		h2__unlink_pending(c, s);
		h2__link_pending(c, s);
		if (stream_flush_one(c, s))
			idle = 0;
		else
			idle++;
	}
}

const uint8_t *h2_conn_pending(h2_conn *c, size_t *len)
{
	if (!c->failed)
		h2__flush_streams(c);
	*len = buf_len(&c->out);
	return *len ? buf_data(&c->out) : NULL;
}

void h2_conn_consumed(h2_conn *c, size_t n)
{
	if (n > buf_len(&c->out))
		n = buf_len(&c->out);
	buf_consume(&c->out, n);
	c->out_consumed_total += n;
	if (buf_len(&c->out) == 0) {
		/* The peer has read everything we owed it. */
		buf_reset(&c->out);
		c->ctl_queued = 0;
		c->ctl_since_epoch = 0;
		c->ctl_epoch_end = c->out_consumed_total;
	} else if (c->out_consumed_total >= c->ctl_epoch_end) {
		c->ctl_queued = c->ctl_since_epoch;
		c->ctl_since_epoch = 0;
		c->ctl_epoch_end = c->out_consumed_total + buf_len(&c->out);
	}
}

int h2_conn_want_write(const h2_conn *c)
{
	const h2_stream *s;

	if (buf_len(&c->out) > 0)
		return 1;
	if (c->failed)
		return 0;
	for (s = c->pend_head; s; s = s->next)
		if (h2__stream_can_progress(c, s))
			return 1;
	return 0;
}
