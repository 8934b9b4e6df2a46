/*
 * Incremental HTTP/1.1 response parser.
 *
 * Implementation notes: the header block is copied into `head` as it arrives
 * while a four-state scanner (http1__eoh_step) looks for the empty line, so a
 * split anywhere, even inside "\r\n\r\n", changes nothing; only then is the
 * block parsed, in one piece, into `hdrs`.  The size limit is checked before
 * the bytes are stored.  Trailers get their own storage so the header views
 * stay valid while trailers arrive.  Body bytes are never copied: each state
 * that carries data hands a view of the caller's input to on_body.  The
 * chunked framing is a byte-at-a-time state machine whose only memory is the
 * size being accumulated (overflow-checked) and the extension length.
 */
#include "http1/http1_int.h"
#include "base/mem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum state {
	S_HEAD = 0,
	S_BODY_LEN,		/* Content-Length body: `remaining` left */
	S_BODY_CLOSE,		/* body until the connection closes */
	S_CHUNK_SIZE_FIRST,	/* first hex digit of a chunk size */
	S_CHUNK_SIZE,		/* more hex digits */
	S_CHUNK_SIZE_WS,	/* BWS after the size, before ';' or the line end */
	S_CHUNK_EXT,		/* extension bytes up to the line end */
	S_CHUNK_SIZE_LF,	/* CR seen at the end of the size line */
	S_CHUNK_DATA,		/* `remaining` bytes of chunk data */
	S_CHUNK_DATA_CR,	/* CRLF after chunk data */
	S_CHUNK_DATA_LF,
	S_TRAILERS,		/* trailer block up to the empty line */
	S_DONE,
};

struct http1_resp {
	http1_limits lim;
	http1_resp_cbs cbs;
	void *arg;
	unsigned flags;
	enum state state;
	int err;
	uint8_t eoh;		/* http1__eoh_step state */
	bool any;		/* a byte of this response arrived */
	bool have_headers;
	uint64_t remaining;
	size_t ext_len;
	buf head;
	buf trl;
	http1_header *hdrs;
	http1_header *trls;
	http1_framing framing;
	http1_response resp;
};

http1_resp *http1_resp_new(const http1_limits *limits, const http1_resp_cbs *cbs, void *arg)
{
	http1_resp *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_header_bytes == 0)
		p->lim.max_header_bytes = HTTP1_DEFAULT_MAX_HEADER_BYTES;
	if (p->lim.max_headers == 0)
		p->lim.max_headers = HTTP1_DEFAULT_MAX_HEADERS;
	if (p->lim.max_trailer_bytes == 0)
		p->lim.max_trailer_bytes = HTTP1_DEFAULT_MAX_TRAILER_BYTES;
	if (p->lim.max_chunk_ext == 0)
		p->lim.max_chunk_ext = HTTP1_DEFAULT_MAX_CHUNK_EXT;
	if (cbs != NULL)
		p->cbs = *cbs;
	p->arg = arg;
	buf_init(&p->head);
	buf_init(&p->trl);
	buf_set_limit(&p->head, p->lim.max_header_bytes);
	buf_set_limit(&p->trl, p->lim.max_trailer_bytes);
	p->hdrs = xcalloc(p->lim.max_headers, sizeof(*p->hdrs));
	p->trls = xcalloc(p->lim.max_headers, sizeof(*p->trls));
	http1_resp_reset(p, 0);
	return p;
}

void http1_resp_free(http1_resp *p)
{
	if (p == NULL)
		return;
	buf_free(&p->head);
	buf_free(&p->trl);
	free(p->hdrs);
	free(p->trls);
	free(p);
}

static void start_head(http1_resp *p)
{
	buf_reset(&p->head);
	p->state = S_HEAD;
	p->eoh = 0;
	p->have_headers = false;
	memset(&p->resp, 0, sizeof(p->resp));
	p->resp.content_length = -1;
}

void http1_resp_reset(http1_resp *p, unsigned flags)
{
	start_head(p);
	buf_reset(&p->trl);
	p->flags = flags;
	p->err = 0;
	p->any = false;
	p->remaining = 0;
	p->ext_len = 0;
}

bool http1_resp_done(const http1_resp *p) { return p->state == S_DONE; }
bool http1_resp_have_headers(const http1_resp *p) { return p->have_headers; }
const http1_response *http1_resp_response(const http1_resp *p) { return &p->resp; }
int http1_resp_error(const http1_resp *p) { return p->err; }
bool http1_resp_started(const http1_resp *p) { return p->any; }

static int fail(http1_resp *p, int err)
{
	p->err = err;
	return err;
}

static int complete(http1_resp *p)
{
	p->state = S_DONE;
	if (p->cbs.on_complete != NULL && p->cbs.on_complete(p->arg, &p->resp) != 0)
		return fail(p, HTTP1_E_CALLBACK);
	return 0;
}

static int body(http1_resp *p, const uint8_t *d, size_t n)
{
	if (n > 0 && p->cbs.on_body != NULL && p->cbs.on_body(p->arg, d, n) != 0)
		return fail(p, HTTP1_E_CALLBACK);
	return 0;
}

/* Parses the complete header block in p->head; sets up the body state. */
static int parse_head(http1_resp *p)
{
	const char *s = (const char *)buf_data(&p->head), *end = s + buf_len(&p->head);
	const char *ls, *le, *q;
	http1_response *r = &p->resp;
	int v, rc;

	if (http1__take_line(&s, end, &ls, &le) < 0 || le - ls < 12 || ls[8] != ' ')
		return HTTP1_E_STATUS_LINE;
	v = http1__parse_version(ls, ls + 8);
	if (v < 0)
		return v == -1 ? HTTP1_E_STATUS_LINE : HTTP1_E_VERSION;
	r->minor_version = v;
	r->status = 0;
	for (q = ls + 9; q < ls + 12; q++) {
		if (*q < '0' || *q > '9')
			return HTTP1_E_STATUS_LINE;
		r->status = r->status * 10 + (*q - '0');
	}
	if (r->status < 100 || r->status > 599)
		return HTTP1_E_STATUS_LINE;
	if (q < le && *q != ' ')
		return HTTP1_E_STATUS_LINE;	/* "2000", "200x" */
	if (q < le)
		q++;
	for (const char *c = q; c < le; c++)
		if ((uint8_t)*c < 0x20 ? *c != '\t' : *c == 0x7f)
			return HTTP1_E_STATUS_LINE;
	r->reason = str_make(q, (size_t)(le - q));
	if ((rc = http1__parse_fields(&s, end, p->hdrs, p->lim.max_headers, &r->nheaders)) != 0)
		return rc;
	r->headers = p->hdrs;
	if ((rc = http1__read_framing(p->hdrs, r->nheaders, &p->framing)) != 0)
		return rc;
	r->chunked = p->framing.chunked;
	r->content_length = p->framing.chunked ? -1 : p->framing.content_length;
	return 0;
}

/* After a final (non-1xx) head: report it and pick the body state. */
static int begin_body(http1_resp *p)
{
	http1_response *r = &p->resp;
	bool no_body = (p->flags & HTTP1_RESP_HEAD) || r->status == 204 || r->status == 304;

	r->keep_alive = r->minor_version == 1 ? !p->framing.conn_close :
	    (p->framing.conn_keep_alive && !p->framing.conn_close);
	if (!no_body && !r->chunked && r->content_length < 0)
		r->keep_alive = false;	/* body ends at close */
	p->have_headers = true;
	if (p->cbs.on_headers != NULL && p->cbs.on_headers(p->arg, r) != 0)
		return fail(p, HTTP1_E_CALLBACK);
	if (no_body)
		return complete(p);
	if (r->chunked) {
		p->state = S_CHUNK_SIZE_FIRST;
		p->remaining = 0;
		return 0;
	}
	if (r->content_length >= 0) {
		p->remaining = (uint64_t)r->content_length;
		if (p->remaining == 0)
			return complete(p);
		p->state = S_BODY_LEN;
		return 0;
	}
	p->state = S_BODY_CLOSE;
	return 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Collects a header/trailer block; returns bytes consumed, sets *done when the block ended. */
static int collect(http1_resp *p, buf *b, size_t limit, const uint8_t *d, size_t n, bool *done)
{
	size_t i;

	*done = false;
	for (i = 0; i < n; i++) {
		if (http1__eoh_step(&p->eoh, d[i])) {
			*done = true;
			i++;
			break;
		}
	}
	if (buf_len(b) + i > limit)
		return HTTP1_E_HEADER_TOO_LARGE;
	if (buf_append(b, d, i) < 0)
		return HTTP1_E_NOMEM;
	return (int)i;
}

int http1_resp_feed(http1_resp *p, const uint8_t *data, size_t len)
{
	size_t i = 0, n;
	bool done;
	int rc, hv;

	if (p->err)
		return p->err;
	if (len > INT_MAX)
		len = INT_MAX;	/* the return value must hold the count */
	if (len > 0 && p->state != S_DONE)
		p->any = true;
	while (i < len) {
		uint8_t c = data[i];

		switch (p->state) {
		case S_HEAD:
			rc = collect(p, &p->head, p->lim.max_header_bytes, data + i, len - i, &done);
			if (rc < 0)
				return fail(p, rc);
			i += (size_t)rc;
			if (!done)
				break;
			if ((rc = parse_head(p)) != 0)
				return fail(p, rc);
			if (p->resp.status < 200) {
				start_head(p);	/* 1xx: informational, another head follows */
				break;
			}
			if ((rc = begin_body(p)) != 0)
				return rc;
			break;
		case S_BODY_LEN:
			n = len - i;
			if (n > p->remaining)
				n = (size_t)p->remaining;
			if ((rc = body(p, data + i, n)) != 0)
				return rc;
			i += n;
			p->remaining -= n;
			if (p->remaining == 0 && (rc = complete(p)) != 0)
				return rc;
			break;
		case S_BODY_CLOSE:
			if ((rc = body(p, data + i, len - i)) != 0)
				return rc;
			i = len;
			break;
		case S_CHUNK_SIZE_FIRST:
		case S_CHUNK_SIZE:
			hv = hexval(c);
			if (hv >= 0) {
				if (p->remaining > ((uint64_t)INT64_MAX >> 4))
					return fail(p, HTTP1_E_CHUNK_SIZE);
				p->remaining = (p->remaining << 4) | (uint64_t)hv;
				p->state = S_CHUNK_SIZE;
				i++;
				break;
			}
			if (p->state == S_CHUNK_SIZE_FIRST)
				return fail(p, HTTP1_E_CHUNK_SIZE);
			p->state = S_CHUNK_SIZE_WS;
			/* fall through */
		case S_CHUNK_SIZE_WS:
			i++;
			if (c == ' ' || c == '\t') {
				break;
			} else if (c == ';') {
				p->ext_len = 0;
				p->state = S_CHUNK_EXT;
				break;
			} else if (c == '\r') {
				p->state = S_CHUNK_SIZE_LF;
				break;
			} else if (c == '\n') {
				goto size_line_done;
			}
			return fail(p, HTTP1_E_CHUNK_SIZE);
		case S_CHUNK_EXT:
			i++;
			if (c == '\r') {
				p->state = S_CHUNK_SIZE_LF;
				break;
			}
			if (c == '\n')
				goto size_line_done;
			if ((c < 0x20 && c != '\t') || c == 0x7f || ++p->ext_len > p->lim.max_chunk_ext)
				return fail(p, HTTP1_E_CHUNK_EXT);
			break;
		case S_CHUNK_SIZE_LF:
			i++;
			if (c != '\n')
				return fail(p, HTTP1_E_CHUNK_SIZE);
		size_line_done:
			if (p->remaining == 0) {
				buf_reset(&p->trl);
				p->eoh = HTTP1_EOH_LINE_START;
				p->state = S_TRAILERS;
			} else {
				p->state = S_CHUNK_DATA;
			}
			break;
		case S_CHUNK_DATA:
			n = len - i;
			if (n > p->remaining)
				n = (size_t)p->remaining;
			if ((rc = body(p, data + i, n)) != 0)
				return rc;
			i += n;
			p->remaining -= n;
			if (p->remaining == 0)
				p->state = S_CHUNK_DATA_CR;
			break;
		case S_CHUNK_DATA_CR:
			i++;
			if (c == '\r')
				p->state = S_CHUNK_DATA_LF;
			else if (c == '\n')
				p->state = S_CHUNK_SIZE_FIRST;
			else
				return fail(p, HTTP1_E_CHUNK_DATA);
			break;
		case S_CHUNK_DATA_LF:
			i++;
			if (c != '\n')
				return fail(p, HTTP1_E_CHUNK_DATA);
			p->state = S_CHUNK_SIZE_FIRST;
			break;
		case S_TRAILERS:
			rc = collect(p, &p->trl, p->lim.max_trailer_bytes, data + i, len - i, &done);
			if (rc < 0)
				return fail(p, rc);
			i += (size_t)rc;
			if (!done)
				break;
			{
				const char *s = (const char *)buf_data(&p->trl);

				rc = http1__parse_fields(&s, s + buf_len(&p->trl), p->trls,
				    p->lim.max_headers, &p->resp.ntrailers);
				if (rc != 0)
					return fail(p, rc);
				p->resp.trailers = p->trls;
			}
			if ((rc = complete(p)) != 0)
				return rc;
			break;
		case S_DONE:
			return (int)i;
		}
	}
	return (int)i;
}

int http1_resp_eof(http1_resp *p)
{
	if (p->err)
		return p->err;
	if (p->state == S_DONE)
		return 0;
	if (p->state == S_BODY_CLOSE)
		return complete(p);
	return fail(p, HTTP1_E_TRUNCATED);
}
