/*
 * HTTP/2 input: the preface, frame reassembly across feeds, each frame
 * type's meaning for stream and connection state (RFC 9113 §5.1, §6), header
 * block assembly and field validation (§8.2, §8.3).
 *
 * Implementation notes.
 * - A frame that arrives whole in one feed is processed in place; only a
 *   frame split across feeds is copied into inbuf.  The length is checked
 *   against our SETTINGS_MAX_FRAME_SIZE before any payload is buffered.
 * - A header block that arrives in one HEADERS frame is decoded in place;
 *   CONTINUATION sequences are joined in `block`, capped in frames
 *   (max_continuations) and bytes.
 * - Every header block is HPACK-decoded, even for a stream we refuse or
 *   ignore, or the peer's and our dynamic tables drift apart.
 * - Fields are validated while they are decoded; a malformed block is still
 *   decoded to its end and then answered with a stream error.
 * - A request block that decoded without touching the HPACK table is kept
 *   with its decoded fields; the same bytes next time, in the same decoder
 *   state, are the same fields, validated the same way, so they are not
 *   decoded again (h2_conn.rq_memo).
 */
#include "h2/h2_int.h"
#include "base/mem.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

static int ctl_ok(h2_conn *c)
{
	return c->failed ? H2_ERR_CONN : 0;
}

/* ---- field validation ---- */

/* RFC 9110 token characters, lowercase only (§8.2.1: uppercase names are malformed). */
static const uint8_t tchar_lower[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Nonzero exactly when some byte of x is zero (the classic bit trick; which
 * bit is set may be off, whether one is set is not). */
static uint64_t has_zero_byte(uint64_t x)
{
	return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

int h2__value_ok(const uint8_t *v, size_t n)
{
	const uint64_t cr = 0x0d0d0d0d0d0d0d0dull, lf = 0x0a0a0a0a0a0a0a0aull;
	size_t i = 0;

	if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		return 0;
	/* NUL, CR, LF anywhere (RFC 9113 §8.2.1): eight bytes a step, every call. */
	for (; i + 8 <= n; i += 8) {
		uint64_t x;

		memcpy(&x, v + i, 8);
		if (has_zero_byte(x) | has_zero_byte(x ^ cr) | has_zero_byte(x ^ lf))
			return 0;
	}
	if (i < n && n >= 8) {	/* the tail as the last eight bytes, overlapping */
		uint64_t x;

		memcpy(&x, v + n - 8, 8);
		return !(has_zero_byte(x) | has_zero_byte(x ^ cr) | has_zero_byte(x ^ lf));
	}
	for (; i < n; i++)
		if (v[i] == 0 || v[i] == '\r' || v[i] == '\n')
			return 0;
	return 1;
}

/* Exact comparison with a string literal (length known at compile time). */
#define NAME_IS(n, len, lit) ((len) == sizeof(lit) - 1 && mem_eq((n), (lit), sizeof(lit) - 1))

static int case_eq(const uint8_t *a, size_t n, const char *lit)
{
	size_t i;

	if (n != strlen(lit))
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t ch = a[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch + 32);
		if (ch != (uint8_t)lit[i])
			return 0;
	}
	return 1;
}

static int parse_u63(const uint8_t *v, size_t n, int64_t *out)
{
	int64_t x = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

static int store(h2_conn *c, const uint8_t *p, size_t n, uint32_t *off)
{
	*off = (uint32_t)buf_len(&c->fstore);
	return buf_append(&c->fstore, p, n);
}

/* Name and value in one reservation: the common case costs two memcpy. */
static int store2(h2_conn *c, const uint8_t *a, size_t an, uint32_t *aoff, const uint8_t *b, size_t bn,
    uint32_t *boff)
{
	uint8_t *t;

	if (buf_reserve(&c->fstore, an + bn) != 0)
		return -1;
	t = buf_tail(&c->fstore);
	*aoff = (uint32_t)buf_len(&c->fstore);
	*boff = *aoff + (uint32_t)an;
	memcpy(t, a, an);
	if (bn)
		memcpy(t + an, b, bn);
	buf_commit(&c->fstore, an + bn);
	return 0;
}

#define MALFORMED(why) do { hb->malformed = (why); return 0; } while (0)

static int field_cb(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    unsigned flags)
{
	h2_conn *c = ctx;
	h2_hblock *hb = &c->hb;
	size_t i;

	if (hb->kind == HB_DISCARD || hb->malformed)
		return 0;
	if (nlen == 0)
		MALFORMED("empty field name");
	/* the decoder ran h2__value_ok on these bytes when it kept them (table entry, Huffman memo) */
	if (!(flags & HPACK_FIELD_VALUE_CHECKED) && !h2__value_ok(value, vlen))
		MALFORMED("invalid field value");
	if (name[0] == ':') {
		int idx = -1;

		if (hb->seen_regular)
			MALFORMED("pseudo-header after regular field");
		if (hb->kind == HB_REQUEST) {
			if (NAME_IS(name, nlen, ":method"))
				idx = PSI_METHOD;
			else if (NAME_IS(name, nlen, ":scheme"))
				idx = PSI_SCHEME;
			else if (NAME_IS(name, nlen, ":authority"))
				idx = PSI_AUTHORITY;
			else if (NAME_IS(name, nlen, ":path"))
				idx = PSI_PATH;
		} else if (hb->kind == HB_RESPONSE && NAME_IS(name, nlen, ":status")) {
			idx = PSI_STATUS;
		}
		if (idx < 0)
			MALFORMED("unknown or misplaced pseudo-header");
		if (hb->pseudo & (1u << idx))
			MALFORMED("duplicate pseudo-header");
		hb->pseudo |= 1u << idx;
		hb->ps_len[idx] = (uint32_t)vlen;
		return store(c, value, vlen, &hb->ps_off[idx]) == 0 ? 0 : -1;
	}
	hb->seen_regular = 1;
	for (i = 0; i < nlen; i++)
		if (!tchar_lower[name[i]])
			MALFORMED("invalid character in field name");
	/* §8.2.2: connection-specific fields make the message malformed; switch on length first. */
	switch (nlen) {
	case 2:
		if (NAME_IS(name, nlen, "te") && !case_eq(value, vlen, "trailers"))
			MALFORMED("te other than trailers");
		break;
	case 7:
		if (NAME_IS(name, nlen, "upgrade"))
			MALFORMED("connection-specific field");
		break;
	case 10:
		if (NAME_IS(name, nlen, "connection") || NAME_IS(name, nlen, "keep-alive"))
			MALFORMED("connection-specific field");
		break;
	case 14:
		if (NAME_IS(name, nlen, "content-length") && hb->kind != HB_TRAILERS) {
			int64_t v;

			if (parse_u63(value, vlen, &v) != 0 || (hb->content_length >= 0 && hb->content_length != v))
				MALFORMED("bad content-length");
			hb->content_length = v;
		}
		break;
	case 16:
		if (NAME_IS(name, nlen, "proxy-connection"))
			MALFORMED("connection-specific field");
		break;
	case 17:
		if (NAME_IS(name, nlen, "transfer-encoding"))
			MALFORMED("connection-specific field");
		break;
	default:
		break;
	}
	if (hb->nfields == c->frec_cap) {
		size_t cap = c->frec_cap ? c->frec_cap * 2 : 16;
		/* The count is the peer's, but max_header_list_size bounds it: ours to size. */
		c->frec = xrealloc(c->frec, cap * sizeof(*c->frec));
		c->fields = xrealloc(c->fields, cap * sizeof(*c->fields));
		c->value_ids = xrealloc(c->value_ids, cap * sizeof(*c->value_ids));
		c->frec_cap = cap;
	}
	{
		h2_frec *r = &c->frec[hb->nfields];

		r->name_len = (uint32_t)nlen;
		r->value_len = (uint32_t)vlen;
		r->flags = flags & HPACK_FIELD_NEVER_INDEXED ? H2_FIELD_SENSITIVE : 0;
		r->value_id = hpack_decoder_value_id(&c->dec);
		if (store2(c, name, nlen, &r->name_off, value, vlen, &r->value_off) != 0)
			return -1;
	}
	hb->nfields++;
	return 0;
}

/*
 * A request's pseudo-header set (§8.3.1): what its block alone decides, so
 * it is judged once when the block is decoded and kept with it.
 */
static void check_request_pseudo(h2_conn *c)
{
	h2_hblock *hb = &c->hb;
	const uint8_t *base = buf_data(&c->fstore);
	const uint8_t *m = base + hb->ps_off[PSI_METHOD], *p = base + hb->ps_off[PSI_PATH];
	const uint8_t *sc = base + hb->ps_off[PSI_SCHEME];

	if (hb->malformed)
		return;
	if (!(hb->pseudo & PS_METHOD)) {
		hb->malformed = "missing :method";
	} else if (NAME_IS(m, hb->ps_len[PSI_METHOD], "CONNECT")) {
		if (!(hb->pseudo & PS_AUTHORITY) || (hb->pseudo & (PS_SCHEME | PS_PATH)))
			hb->malformed = "bad CONNECT pseudo-headers";
	} else if ((hb->pseudo & (PS_SCHEME | PS_PATH)) != (PS_SCHEME | PS_PATH)) {
		hb->malformed = "missing :scheme or :path";
	} else if (hb->ps_len[PSI_PATH] == 0) {
		hb->malformed = "empty :path";
	} else if (NAME_IS(sc, hb->ps_len[PSI_SCHEME], "http") || NAME_IS(sc, hb->ps_len[PSI_SCHEME], "https")) {
		if (p[0] != '/' && !(hb->ps_len[PSI_PATH] == 1 && p[0] == '*' && NAME_IS(m, hb->ps_len[PSI_METHOD], "OPTIONS")))
			hb->malformed = "bad :path";
		/* §8.3.1: no userinfo in :authority for http(s). */
		else if ((hb->pseudo & PS_AUTHORITY) && hb->ps_len[PSI_AUTHORITY] > 0 &&
		    memchr(base + hb->ps_off[PSI_AUTHORITY], '@', hb->ps_len[PSI_AUTHORITY]) != NULL)
			hb->malformed = "userinfo in :authority";
	}
}

/*
 * Checks the block once the frame that ends it is known (§8.3.1, §8.3.2):
 * a response's :status, trailers' END_STREAM, a request's content-length
 * against END_STREAM (its pseudo-headers were judged with the block).
 */
static void finish_validation(h2_conn *c, int end_stream)
{
	h2_hblock *hb = &c->hb;
	const uint8_t *base = buf_data(&c->fstore);

	if (hb->malformed)
		return;
	if (hb->kind == HB_RESPONSE) {
		const uint8_t *st = base + hb->ps_off[PSI_STATUS];

		if (!(hb->pseudo & PS_STATUS) || hb->ps_len[PSI_STATUS] != 3 || st[0] < '1' || st[0] > '9' ||
		    st[1] < '0' || st[1] > '9' || st[2] < '0' || st[2] > '9')
			hb->malformed = "missing or bad :status";
	} else if (hb->kind == HB_TRAILERS) {
		if (!end_stream)
			hb->malformed = "trailers without END_STREAM";
	}
	if (!hb->malformed && end_stream && hb->kind == HB_REQUEST && hb->content_length > 0)
		hb->malformed = "content-length with no body";
}

/* Request blocks up to this size are kept for the next call (h2_conn.rq_memo). */
#define RQ_MEMO_MAX 2048

static int decode_block(h2_conn *c, int kind, const uint8_t *data, size_t len)
{
	size_t limit = c->local.max_header_list_size ? c->local.max_header_list_size : (size_t)1 << 20;
	uint64_t st = hpack_decoder_state(&c->dec);
	int rc;

	if (kind == HB_REQUEST && c->rq_memo_ok && len == c->rq_memo_len && st == c->rq_memo_state &&
	    mem_eq(data, c->rq_memo, len)) {
		c->hb = c->rq_memo_hb;
		return 0;
	}
	c->rq_memo_ok = 0;
	c->fields_built = 0;
	memset(&c->hb, 0, sizeof(c->hb));
	c->hb.kind = kind;
	c->hb.content_length = -1;
	buf_reset(&c->fstore);
	/* Storage always exists, so field pointers are never offsets from NULL. */
	if (buf_reserve(&c->fstore, 256) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	rc = hpack_decode_block(&c->dec, data, len, limit, field_cb, c);
	switch (rc) {
	case HPACK_OK:
		if (kind == HB_REQUEST)
			check_request_pseudo(c);
		if (kind == HB_REQUEST && c->local.keep_blocks && !c->hb.malformed && len <= RQ_MEMO_MAX &&
		    hpack_decoder_state(&c->dec) == st) {
			if (c->rq_memo_cap < len) {
				c->rq_memo_cap = len < 128 ? 128 : len;
				free(c->rq_memo);
				c->rq_memo = xmalloc(c->rq_memo_cap);
			}
			memcpy(c->rq_memo, data, len);
			c->rq_memo_len = len;
			c->rq_memo_state = st;
			c->rq_memo_hb = c->hb;
			c->rq_memo_ok = 1;
			c->rq_memo_id++;
		}
		return 0;
	case HPACK_ERR_LIST_TOO_LARGE:
		/* The decoder read the whole block (tables in step); only this stream is refused. */
		c->hb.too_large = 1;
		return 0;
	case HPACK_ERR_STRING_TOO_LONG:
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "header list too large");
	case HPACK_ERR_NOMEM:
	case HPACK_ERR_CALLBACK:
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	default:
		return h2__conn_error(c, H2_COMPRESSION_ERROR, "HPACK decoding failed");
	}
}

static int deliver_headers(h2_conn *c, h2_stream *s, int end_stream, int is_trailers)
{
	h2_hblock *hb = &c->hb;
	const uint8_t *base = buf_data(&c->fstore);
	h2_headers h;
	size_t i;
	int32_t id = (int32_t)s->id;

	memset(&h, 0, sizeof(h));
#define PS(field, i) \
	if (hb->pseudo & (1u << (i))) { \
		h.field = (const char *)base + hb->ps_off[i]; \
		h.field##_len = hb->ps_len[i]; \
	}
	PS(method, PSI_METHOD)
	PS(scheme, PSI_SCHEME)
	PS(authority, PSI_AUTHORITY)
	PS(path, PSI_PATH)
#undef PS
	if (hb->pseudo & PS_STATUS) {
		const uint8_t *st = base + hb->ps_off[PSI_STATUS];

		h.status = (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
	}
	/* a kept request block's fields are still where the last delivery put them */
	for (i = 0; !c->fields_built && i < hb->nfields; i++) {
		c->fields[i].name = (const char *)base + c->frec[i].name_off;
		c->fields[i].name_len = c->frec[i].name_len;
		c->fields[i].value = (const char *)base + c->frec[i].value_off;
		c->fields[i].value_len = c->frec[i].value_len;
		c->fields[i].flags = c->frec[i].flags;
		c->value_ids[i] = c->frec[i].value_id;
	}
	c->fields_built = 1;
	h.fields = c->fields;
	h.value_ids = c->value_ids;
	h.nfields = hb->nfields;
	h.content_length = is_trailers ? s->content_length : hb->content_length;
	h.end_stream = end_stream;
	h.is_trailers = is_trailers;
	/* the block just decoded (or restored) is the kept one exactly when the memo holds */
	if (hb->kind == HB_REQUEST && c->rq_memo_ok)
		h.block_id = c->rq_memo_id;
	if (c->cb.on_headers && c->cb.on_headers(c, c->user, id, s->user, &h) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "application failed");
	if ((s = h2__find(c, (uint32_t)id)) != NULL)
		h2__stream_maybe_close(c, s);
	return ctl_ok(c);
}

/* A header block for a stream we no longer have: ignore or STREAM_CLOSED (§5.1) or bad id (§5.1.1). */
static int block_on_closed(h2_conn *c, uint32_t sid, const uint8_t *data, size_t len)
{
	int how = h2__closed_how(c, sid);

	if (how == CLOSED_RESET_BY_US)
		return decode_block(c, HB_DISCARD, data, len);
	if (how != 0)
		return h2__conn_error(c, H2_STREAM_CLOSED, "HEADERS on a closed stream");
	return h2__conn_error(c, H2_PROTOCOL_ERROR, "HEADERS on a stream id that was never opened");
}

/*
 * A request whose header list passed our limit: §10.5.1's 431, then (if the
 * client is still sending) RST_STREAM NO_ERROR as §8.1 allows after a
 * complete response.  The app never hears of it.
 */
static int refuse_too_large(h2_conn *c, h2_stream *s, int end_stream)
{
	uint32_t sid = s->id;

	s->remote_closed = (uint8_t)end_stream;
	if (h2_submit_response(c, (int32_t)sid, 431, NULL, 0, 1) != 0)
		return ctl_ok(c);
	if (h2__find(c, sid) != NULL)
		return h2__stream_error(c, sid, H2_NO_ERROR);
	return ctl_ok(c);
}

static int end_block(h2_conn *c, const uint8_t *data, size_t len)
{
	uint32_t sid = c->block_sid;
	int end_stream = (c->block_flags & H2_FLAG_END_STREAM) != 0;
	int self_dep = c->block_prio.has_priority && c->block_prio.dependency == sid;
	h2_stream *s = h2__find(c, sid);
	int rc, kind;

	c->in_block = 0;
	if (s == NULL && c->role == H2_ROLE_SERVER && sid > c->last_peer_id) {
		c->last_peer_id = sid;
		if ((c->goaway_sent == 2 && sid > c->goaway_sent_last) || c->failed) {
			h2__closed_remember(c, sid, CLOSED_RESET_BY_US);
			return decode_block(c, HB_DISCARD, data, len);
		}
		if (c->n_remote >= c->local.max_concurrent_streams) {
			if ((rc = decode_block(c, HB_DISCARD, data, len)) != 0)
				return rc;
			return h2__stream_error(c, sid, H2_REFUSED_STREAM);
		}
		s = h2__stream_new(c, sid);
		c->stats.streams_opened++;
		if ((rc = decode_block(c, HB_REQUEST, data, len)) != 0)
			return rc;
		if (c->hb.too_large)
			return refuse_too_large(c, s, end_stream);
		finish_validation(c, end_stream);
		if (c->hb.malformed || self_dep)
			return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
		s->headers_recv = 1;
		s->delivered = 1;
		s->content_length = c->hb.content_length;
		s->remote_closed = (uint8_t)end_stream;
		return deliver_headers(c, s, end_stream, 0);
	}
	if (s == NULL)
		return block_on_closed(c, sid, data, len);
	if (s->remote_closed) {
		if ((rc = decode_block(c, HB_DISCARD, data, len)) != 0)
			return rc;
		return h2__stream_error(c, sid, H2_STREAM_CLOSED);
	}
	kind = s->headers_recv ? HB_TRAILERS : HB_RESPONSE;
	if ((rc = decode_block(c, kind, data, len)) != 0)
		return rc;
	finish_validation(c, end_stream);
	if (c->hb.malformed || self_dep || c->hb.too_large)
		return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
	if (kind == HB_RESPONSE) {
		const uint8_t *st = buf_data(&c->fstore) + c->hb.ps_off[PSI_STATUS];
		int status = (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
		if (status < 200) {
			/* Informational: skipped; 101 has no meaning in HTTP/2 (§8.6). */
			if (status == 101 || end_stream)
				return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
			return 0;
		}
		s->headers_recv = 1;
		s->content_length = s->is_head || status == 204 || status == 304 ? -1 : c->hb.content_length;
	} else if (s->content_length >= 0 && (uint64_t)s->content_length != s->data_received) {
		return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
	}
	if (end_stream && kind == HB_RESPONSE && s->content_length > 0)
		return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
	s->remote_closed = (uint8_t)end_stream;
	return deliver_headers(c, s, end_stream, kind == HB_TRAILERS);
}

/* ---- frames ---- */

static int on_data(h2_conn *c, const h2_frame *f)
{
	uint32_t sid = f->hdr.stream_id, flen = f->hdr.length;
	int end_stream = (f->hdr.flags & H2_FLAG_END_STREAM) != 0;
	h2_stream *s;
	int rc;

	if (sid == 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "DATA on stream 0");
	if (h2__is_idle(c, sid))
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "DATA on an idle stream");
	if (flen > c->recv_window)
		return h2__conn_error(c, H2_FLOW_CONTROL_ERROR, "connection window exceeded");
	c->recv_window -= flen;
	if (f->data_len == 0 && !end_stream && h2__bucket_take(c, &c->empty_data) != 0)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many empty DATA frames");
	s = h2__find(c, sid);
	if (s == NULL) {
		int how = h2__closed_how(c, sid);

		if ((rc = h2__window_update_conn(c, flen)) != 0)
			return rc;
		if (how == CLOSED_NORMAL)
			return h2__conn_error(c, H2_STREAM_CLOSED, "DATA on a closed stream");
		if (how == CLOSED_RESET_BY_PEER)
			return h2__stream_error(c, sid, H2_STREAM_CLOSED);
		return 0;	/* we reset it (or long ago): frames in flight are ignored */
	}
	if (s->remote_closed || (c->role == H2_ROLE_CLIENT && !s->headers_recv)) {
		if ((rc = h2__window_update_conn(c, flen)) != 0)
			return rc;
		return h2__stream_error(c, sid, s->remote_closed ? H2_STREAM_CLOSED : H2_PROTOCOL_ERROR);
	}
	if (flen > s->recv_window) {
		if ((rc = h2__window_update_conn(c, flen)) != 0)
			return rc;
		return h2__stream_error(c, sid, H2_FLOW_CONTROL_ERROR);
	}
	s->recv_window -= flen;
	s->data_received += f->data_len;
	if (s->content_length >= 0 && (s->data_received > (uint64_t)s->content_length ||
	    (end_stream && s->data_received != (uint64_t)s->content_length))) {
		if ((rc = h2__window_update_conn(c, flen)) != 0)
			return rc;
		return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
	}
	/* Padding is ours to return at once; the payload waits for the app. */
	if (f->pad_len) {
		s->recv_window += f->pad_len;
		if ((rc = h2__window_update_conn(c, f->pad_len)) != 0)
			return rc;
	}
	if (end_stream)
		s->remote_closed = 1;
	s->recv_unconsumed += f->data_len;
	if (c->cb.on_data && (f->data_len > 0 || end_stream) &&
	    c->cb.on_data(c, c->user, (int32_t)sid, s->user, f->data, f->data_len, end_stream) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "application failed");
	if (c->failed)
		return H2_ERR_CONN;
	if (c->local.auto_consume || c->cb.on_data == NULL)
		h2_conn_consume(c, (int32_t)sid, f->data_len);
	if ((s = h2__find(c, sid)) != NULL)
		h2__stream_maybe_close(c, s);
	return ctl_ok(c);
}

static int on_headers_frame(h2_conn *c, const h2_frame *f)
{
	uint32_t sid = f->hdr.stream_id;

	if (sid == 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "HEADERS on stream 0");
	if ((sid & 1u) == 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "HEADERS on an even stream id");
	if (c->role == H2_ROLE_CLIENT && h2__is_idle(c, sid))
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "HEADERS on an idle stream");
	c->block_sid = sid;
	c->block_flags = f->hdr.flags;
	c->block_prio = *f;
	c->block_conts = 0;
	c->in_block = 1;
	if (f->hdr.flags & H2_FLAG_END_HEADERS)
		return end_block(c, f->data, f->data_len);
	buf_reset(&c->block);
	if (buf_append(&c->block, f->data, f->data_len) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	return 0;
}

static int on_continuation(h2_conn *c, const h2_frame *f)
{
	size_t cap = (size_t)(c->local.max_header_list_size ? c->local.max_header_list_size : 65536) * 4 +
	    c->local.max_frame_size;

	if (!c->in_block)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "CONTINUATION without HEADERS");
	if (++c->block_conts > c->local.max_continuations)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
	if (buf_len(&c->block) + f->data_len > cap)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "header block too large");
	if (buf_append(&c->block, f->data, f->data_len) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	if (f->hdr.flags & H2_FLAG_END_HEADERS) {
		int rc = end_block(c, buf_data(&c->block), buf_len(&c->block));

		/* A rare huge block should not pin its memory for the connection's life. */
		if (c->block.cap > 65536)
			buf_free(&c->block);
		return rc;
	}
	return 0;
}

static int on_rst_stream(h2_conn *c, const h2_frame *f)
{
	uint32_t sid = f->hdr.stream_id;
	h2_stream *s;

	if (sid == 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "RST_STREAM on stream 0");
	if (h2__is_idle(c, sid))
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "RST_STREAM on an idle stream");
	if (h2__bucket_take(c, &c->rst_in) != 0)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many RST_STREAM frames");
	if ((s = h2__find(c, sid)) != NULL) {
		c->stats.streams_reset_by_peer++;
		h2__stream_close(c, s, f->error_code, 1, CLOSED_RESET_BY_PEER);
	}
	return ctl_ok(c);
}

static int on_settings(h2_conn *c, const h2_frame *f)
{
	int rc;

	if (f->hdr.stream_id != 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "SETTINGS on a stream");
	if (f->hdr.flags & H2_FLAG_ACK) {
		if (c->settings_pending && c->local.header_table_size < 4096)
			hpack_decoder_set_settings_max(&c->dec, c->local.header_table_size);
		c->settings_pending = 0;
		c->settings_deadline = 0;
		return 0;
	}
	if (f->data_len / 6 > 32)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many SETTINGS entries");
	if (h2__bucket_take(c, &c->settings_in) != 0)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many SETTINGS frames");
	if ((rc = h2__apply_settings(c, f)) != 0)
		return rc;
	c->got_settings = 1;
	if (h2_frame_put_settings_ack(&c->out) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	c->stats.frames_out++;
	if ((rc = h2__ctl_queued(c)) != 0)
		return rc;
	if (c->cb.on_settings)
		c->cb.on_settings(c, c->user);
	return ctl_ok(c);
}

static const uint8_t graceful_opaque[8] = {'c', 'p', 'l', 'g', 'o', 'a', 'w', 'y'};

static int on_ping(h2_conn *c, const h2_frame *f)
{
	if (f->hdr.stream_id != 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "PING on a stream");
	if (f->hdr.flags & H2_FLAG_ACK) {
		if (c->graceful_wait && memcmp(f->data, graceful_opaque, 8) == 0)
			h2__goaway_final(c);
		else if (c->cb.on_ping_ack)
			c->cb.on_ping_ack(c, c->user, f->data);
		return ctl_ok(c);
	}
	if (h2_frame_put_ping(&c->out, f->data, 1) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	c->stats.frames_out++;
	return h2__ctl_queued(c);
}

static int on_goaway(h2_conn *c, const h2_frame *f)
{
	size_t i;

	if (f->hdr.stream_id != 0)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "GOAWAY on a stream");
	if (!c->goaway_recv || f->last_stream_id < c->goaway_recv_last)
		c->goaway_recv_last = f->last_stream_id;
	c->goaway_recv = 1;
	if (c->cb.on_goaway)
		c->cb.on_goaway(c, c->user, f->last_stream_id, f->error_code, f->data, f->data_len);
	/* Streams we opened past last_stream_id were never processed: safe to retry. */
	for (i = 0; i < c->tab_cap && !c->failed; i++) {
		h2_stream *s = c->tab[i];

		if (s && h2__is_local_id(c, s->id) && s->id > c->goaway_recv_last) {
			h2__stream_close(c, s, H2_REFUSED_STREAM, 1, CLOSED_RESET_BY_US);
			i = (size_t)-1;	/* the table shifted: rescan */
		}
	}
	return ctl_ok(c);
}

static int on_window_update(h2_conn *c, const h2_frame *f)
{
	uint32_t sid = f->hdr.stream_id;
	h2_stream *s;

	if (sid == 0) {
		if (f->increment == 0)
			return h2__conn_error(c, H2_PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
		c->send_window += f->increment;
		if (c->send_window > H2_MAX_WINDOW)
			return h2__conn_error(c, H2_FLOW_CONTROL_ERROR, "connection window overflow");
		return 0;
	}
	if (h2__is_idle(c, sid))
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
	if ((s = h2__find(c, sid)) == NULL)
		return 0;
	if (f->increment == 0)
		return h2__stream_error(c, sid, H2_PROTOCOL_ERROR);
	s->send_window += f->increment;
	if (s->send_window > H2_MAX_WINDOW)
		return h2__stream_error(c, sid, H2_FLOW_CONTROL_ERROR);
	return 0;
}

int h2__process_frame(h2_conn *c, const h2_frame_hdr *hdr, const uint8_t *payload)
{
	h2_frame f;
	int rc;

	c->stats.frames_in++;
	rc = h2_frame_decode(hdr, payload, &f);
	if (rc == H2_FRAME_ERR_PADDING)
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "padding longer than payload");
	if (rc == H2_FRAME_ERR_SIZE) {
		/* §6.3: a PRIORITY of the wrong size is only a stream error. */
		if (hdr->type == H2_FT_PRIORITY && hdr->stream_id != 0)
			return h2__stream_error(c, hdr->stream_id, H2_FRAME_SIZE_ERROR);
		return h2__conn_error(c, H2_FRAME_SIZE_ERROR, "bad frame length");
	}
	switch (hdr->type) {
	case H2_FT_DATA:
		return on_data(c, &f);
	case H2_FT_HEADERS:
		return on_headers_frame(c, &f);
	case H2_FT_PRIORITY:
		if (hdr->stream_id == 0)
			return h2__conn_error(c, H2_PROTOCOL_ERROR, "PRIORITY on stream 0");
		if (f.dependency == hdr->stream_id)
			return h2__stream_error(c, hdr->stream_id, H2_PROTOCOL_ERROR);
		return 0;
	case H2_FT_RST_STREAM:
		return on_rst_stream(c, &f);
	case H2_FT_SETTINGS:
		return on_settings(c, &f);
	case H2_FT_PUSH_PROMISE:
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "PUSH_PROMISE not allowed");
	case H2_FT_PING:
		return on_ping(c, &f);
	case H2_FT_GOAWAY:
		return on_goaway(c, &f);
	case H2_FT_WINDOW_UPDATE:
		return on_window_update(c, &f);
	case H2_FT_CONTINUATION:
		return on_continuation(c, &f);
	default:	/* §5.5: unknown frame types are ignored */
		return 0;
	}
}

/* Checks a frame header before its payload is buffered. */
static int begin_frame(h2_conn *c)
{
	const h2_frame_hdr *h = &c->cur;

	if (h->length > c->local.max_frame_size)
		return h2__conn_error(c, H2_FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
	if (!c->got_settings && (h->type != H2_FT_SETTINGS || (h->flags & H2_FLAG_ACK)))
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "preface must start with SETTINGS");
	if (c->in_block && (h->type != H2_FT_CONTINUATION || h->stream_id != c->block_sid))
		return h2__conn_error(c, H2_PROTOCOL_ERROR, "header block interrupted");
	return 0;
}

int64_t h2_conn_feed(h2_conn *c, const uint8_t *in, size_t len)
{
	size_t off = 0;
	const uint8_t *payload;

	if (c->failed)
		return H2_ERR_CONN;
	while (off < len) {
		if (c->preface_have < H2_PREFACE_LEN) {
			size_t n = H2_PREFACE_LEN - c->preface_have;

			if (n > len - off)
				n = len - off;
			if (memcmp(in + off, &H2_PREFACE[c->preface_have], n) != 0)
				return h2__conn_error(c, H2_PROTOCOL_ERROR, "bad connection preface");
			c->preface_have += n;
			off += n;
			continue;
		}
		if (!c->in_payload) {
			if (c->hdr_have == 0 && len - off >= H2_FRAME_HDR_LEN) {
				h2_frame_hdr_parse(in + off, &c->cur);
				off += H2_FRAME_HDR_LEN;
			} else {
				size_t n = H2_FRAME_HDR_LEN - c->hdr_have;

				if (n > len - off)
					n = len - off;
				memcpy(c->hdrbuf + c->hdr_have, in + off, n);
				c->hdr_have += n;
				off += n;
				if (c->hdr_have < H2_FRAME_HDR_LEN)
					break;
				c->hdr_have = 0;
				h2_frame_hdr_parse(c->hdrbuf, &c->cur);
			}
			if (begin_frame(c) != 0)
				return H2_ERR_CONN;
			c->in_payload = 1;
			buf_reset(&c->inbuf);
		}
		if (buf_len(&c->inbuf) == 0 && len - off >= c->cur.length) {
			payload = in + off;
			off += c->cur.length;
		} else {
			size_t n = c->cur.length - buf_len(&c->inbuf);

			if (n > len - off)
				n = len - off;
			if (buf_append(&c->inbuf, in + off, n) != 0)
				return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
			off += n;
			if (buf_len(&c->inbuf) < c->cur.length)
				break;
			payload = buf_data(&c->inbuf);
		}
		c->in_payload = 0;
		if (h2__process_frame(c, &c->cur, payload) != 0 || c->failed)
			return H2_ERR_CONN;
	}
	return (int64_t)len;
}
