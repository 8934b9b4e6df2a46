/*
 * HTTP/1.1 message heads: field parsing shared by both parsers, the framing
 * rules (RFC 9112 section 6), the writers and the request parser.
 *
 * Strictness is deliberate: an API client that guesses wrong about where a
 * body ends corrupts every later response on the keep-alive connection, so
 * anything ambiguous (obs-fold, whitespace before the colon, differing
 * Content-Lengths, Content-Length together with chunked, unknown transfer
 * codings) is an error rather than a guess.  Bare LF line ends are accepted
 * (RFC 9112 2.2 allows it); bare CR is not.
 */
#include "http1/http1_int.h"

#include <string.h>

const char *http1_strerror(int err)
{
	switch (err) {
	case HTTP1_OK: return "ok";
	case HTTP1_E_NOMEM: return "out of memory";
	case HTTP1_E_STATUS_LINE: return "malformed start line";
	case HTTP1_E_VERSION: return "unsupported HTTP version";
	case HTTP1_E_HEADER: return "malformed header field";
	case HTTP1_E_HEADER_TOO_LARGE: return "header block too large";
	case HTTP1_E_TOO_MANY_HEADERS: return "too many header fields";
	case HTTP1_E_CONTENT_LENGTH: return "invalid or conflicting Content-Length";
	case HTTP1_E_TRANSFER_ENCODING: return "unsupported Transfer-Encoding";
	case HTTP1_E_CHUNK_SIZE: return "malformed chunk size";
	case HTTP1_E_CHUNK_EXT: return "malformed or oversized chunk extension";
	case HTTP1_E_CHUNK_DATA: return "chunk data not followed by CRLF";
	case HTTP1_E_TRUNCATED: return "connection closed inside a message";
	case HTTP1_E_CALLBACK: return "aborted by callback";
	}
	return "unknown HTTP/1 error";
}

bool http1__is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB / obs-text: everything but controls and DEL. */
static bool is_value_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int http1__take_line(const char **pp, const char *end, const char **ls, const char **le)
{
	const char *p = *pp, *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return -1;
	*ls = p;
	*le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	if (memchr(p, '\r', (size_t)(*le - p)) != NULL)
		return -1;
	*pp = nl + 1;
	return 0;
}

int http1__parse_fields(const char **pp, const char *end, http1_header *tab, size_t max, size_t *n)
{
	const char *ls, *le;

	*n = 0;
	for (;;) {
		const char *p, *colon, *vs, *ve;

		if (http1__take_line(pp, end, &ls, &le) < 0)
			return HTTP1_E_HEADER;
		if (ls == le)
			return 0;
		/* obs-fold and a line without a name both start with something that is not a tchar */
		for (p = ls; p < le && http1__is_tchar((uint8_t)*p); p++)
			;
		if (p == ls || p == le || *p != ':')
			return HTTP1_E_HEADER;
		colon = p;
		for (vs = colon + 1; vs < le && (*vs == ' ' || *vs == '\t'); vs++)
			;
		for (ve = le; ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		for (p = vs; p < ve; p++)
			if (!is_value_char((uint8_t)*p))
				return HTTP1_E_HEADER;
		if (*n == max)
			return HTTP1_E_TOO_MANY_HEADERS;
		tab[*n].name = str_make(ls, (size_t)(colon - ls));
		tab[*n].value = str_make(vs, (size_t)(ve - vs));
		(*n)++;
	}
}

const http1_header *http1_find_header(const http1_header *h, size_t n, const char *name)
{
	str want = str_from_cstr(name);

	for (size_t i = 0; i < n; i++)
		if (str_case_eq(h[i].name, want))
			return &h[i];
	return NULL;
}

/* Calls fn on each comma-separated, OWS-trimmed element of v (empty ones skipped). */
static int each_token(str v, int (*fn)(str tok, void *arg), void *arg)
{
	size_t i = 0;

	while (i < v.len) {
		size_t s = i, e;
		int rc;

		while (i < v.len && v.p[i] != ',')
			i++;
		e = i++;
		while (s < e && (v.p[s] == ' ' || v.p[s] == '\t'))
			s++;
		while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		if (e > s && (rc = fn(str_make(v.p + s, e - s), arg)) != 0)
			return rc;
	}
	return 0;
}

static int cl_token(str tok, void *arg)
{
	http1_framing *f = arg;
	int64_t v = 0;

	if (tok.len > 18)
		return HTTP1_E_CONTENT_LENGTH;	/* 10^18 bytes is already absurd; bounds the arithmetic */
	for (size_t i = 0; i < tok.len; i++) {
		if (tok.p[i] < '0' || tok.p[i] > '9')
			return HTTP1_E_CONTENT_LENGTH;
		v = v * 10 + (tok.p[i] - '0');
	}
	if (f->content_length >= 0 && f->content_length != v)
		return HTTP1_E_CONTENT_LENGTH;
	f->content_length = v;
	return 0;
}

static int te_token(str tok, void *arg)
{
	http1_framing *f = arg;

	/* anything after chunked, or any coding but chunked, is something we never asked for */
	if (f->chunked || !str_case_eq(tok, STR_LIT("chunked")))
		return HTTP1_E_TRANSFER_ENCODING;
	f->chunked = true;
	return 0;
}

static int conn_token(str tok, void *arg)
{
	http1_framing *f = arg;

	if (str_case_eq(tok, STR_LIT("close")))
		f->conn_close = true;
	else if (str_case_eq(tok, STR_LIT("keep-alive")))
		f->conn_keep_alive = true;
	return 0;
}

int http1__read_framing(const http1_header *tab, size_t n, http1_framing *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->content_length = -1;
	for (size_t i = 0; i < n; i++) {
		str name = tab[i].name;

		if (str_case_eq(name, STR_LIT("content-length"))) {
			if (tab[i].value.len == 0)
				return HTTP1_E_CONTENT_LENGTH;
			if ((rc = each_token(tab[i].value, cl_token, f)) != 0)
				return rc;
			if (f->content_length < 0)
				return HTTP1_E_CONTENT_LENGTH;	/* only commas */
		} else if (str_case_eq(name, STR_LIT("transfer-encoding"))) {
			f->has_te = true;
			if ((rc = each_token(tab[i].value, te_token, f)) != 0)
				return rc;
		} else if (str_case_eq(name, STR_LIT("connection"))) {
			each_token(tab[i].value, conn_token, f);
		}
	}
	if (f->has_te && !f->chunked)
		return HTTP1_E_TRANSFER_ENCODING;
	if (f->has_te && f->content_length >= 0)
		return HTTP1_E_CONTENT_LENGTH;	/* request smuggling shape: refuse */
	return 0;
}

/* ---- writers ---------------------------------------------------------------- */

static bool valid_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!http1__is_tchar((uint8_t)*s))
			return false;
	return true;
}

static bool valid_value(str v)
{
	for (size_t i = 0; i < v.len; i++)
		if (!is_value_char((uint8_t)v.p[i]))
			return false;
	return true;
}

static bool valid_headers(const http1_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (h[i].name.len == 0 || !valid_value(h[i].value))
			return false;
		for (size_t j = 0; j < h[i].name.len; j++)
			if (!http1__is_tchar((uint8_t)h[i].name.p[j]))
				return false;
	}
	return true;
}

static int append_headers(buf *out, const http1_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf_append(out, h[i].name.p, h[i].name.len) < 0 || buf_append(out, ": ", 2) < 0 ||
		    buf_append(out, h[i].value.p, h[i].value.len) < 0 || buf_append(out, "\r\n", 2) < 0)
			return -1;
	return 0;
}

static int finish(buf *out, size_t old_len, int rc)
{
	if (rc < 0)
		out->end = out->start + old_len;
	return rc < 0 ? -1 : 0;
}

int http1_write_request(buf *out, const char *method, const char *target,
    const http1_header *headers, size_t nheaders, const void *body, size_t body_len)
{
	size_t old_len = buf_len(out);
	int rc;

	if (!valid_token(method) || *target == '\0' || !valid_headers(headers, nheaders))
		return -1;
	for (const char *t = target; *t; t++)
		if ((uint8_t)*t <= 0x20 || *t == 0x7f)
			return -1;
	rc = buf_printf(out, "%s %s HTTP/1.1\r\n", method, target);
	if (rc >= 0)
		rc = append_headers(out, headers, nheaders);
	if (rc >= 0 && body != NULL)
		rc = buf_printf(out, "Content-Length: %zu\r\n", body_len);
	else if (rc >= 0 && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0))
		rc = buf_append_str(out, "Content-Length: 0\r\n");
	if (rc >= 0)
		rc = buf_append(out, "\r\n", 2);
	if (rc >= 0 && body != NULL && body_len > 0)
		rc = buf_append(out, body, body_len);
	return finish(out, old_len, rc);
}

int http1_write_response(buf *out, int status, const char *reason,
    const http1_header *headers, size_t nheaders, const void *body, size_t body_len, bool close)
{
	size_t old_len = buf_len(out);
	int rc;

	if (status < 100 || status > 999 || !valid_headers(headers, nheaders) ||
	    !valid_value(str_from_cstr(reason)) || (body == NULL && body_len > 0))
		return -1;
	rc = buf_printf(out, "HTTP/1.1 %03d %s\r\n", status, reason);
	if (rc >= 0)
		rc = append_headers(out, headers, nheaders);
	if (rc >= 0)
		rc = buf_printf(out, "Content-Length: %zu\r\n%s\r\n", body_len,
		    close ? "Connection: close\r\n" : "");
	if (rc >= 0 && body_len > 0)
		rc = buf_append(out, body, body_len);
	return finish(out, old_len, rc);
}

/* ---- request parser ------------------------------------------------------------ */

int http1__parse_version(const char *p, const char *e)
{
	if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0)
		return -1;
	if (p[5] != '1' || p[6] != '.' || (p[7] != '0' && p[7] != '1'))
		return -2;
	return p[7] - '0';
}

int http1_parse_request(const uint8_t *data, size_t len, http1_request *req,
    http1_header *headers, size_t max_headers, size_t max_header_bytes)
{
	const char *p = (const char *)data, *end, *ls, *le, *sp1, *sp2;
	size_t scan = len, head_len = 0;
	uint8_t st = 0;
	http1_framing f;
	int v, rc;

	if (max_header_bytes == 0)
		max_header_bytes = HTTP1_DEFAULT_MAX_HEADER_BYTES;
	if (scan > max_header_bytes)
		scan = max_header_bytes;
	for (size_t i = 0; i < scan; i++) {
		if (http1__eoh_step(&st, data[i])) {
			head_len = i + 1;
			break;
		}
	}
	if (head_len == 0)
		return len >= max_header_bytes ? HTTP1_E_HEADER_TOO_LARGE : 0;
	end = p + head_len;
	memset(req, 0, sizeof(*req));
	if (http1__take_line(&p, end, &ls, &le) < 0)
		return HTTP1_E_STATUS_LINE;
	sp1 = memchr(ls, ' ', (size_t)(le - ls));
	if (sp1 == NULL || sp1 == ls)
		return HTTP1_E_STATUS_LINE;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return HTTP1_E_STATUS_LINE;
	for (const char *q = ls; q < sp1; q++)
		if (!http1__is_tchar((uint8_t)*q))
			return HTTP1_E_STATUS_LINE;
	for (const char *q = sp1 + 1; q < sp2; q++)
		if ((uint8_t)*q <= 0x20 || *q == 0x7f)
			return HTTP1_E_STATUS_LINE;
	v = http1__parse_version(sp2 + 1, le);
	if (v < 0)
		return v == -1 ? HTTP1_E_STATUS_LINE : HTTP1_E_VERSION;
	req->method = str_make(ls, (size_t)(sp1 - ls));
	req->target = str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	req->minor_version = v;
	if ((rc = http1__parse_fields(&p, end, headers, max_headers, &req->nheaders)) != 0)
		return rc;
	if ((rc = http1__read_framing(headers, req->nheaders, &f)) != 0)
		return rc;
	if (f.has_te)
		return HTTP1_E_TRANSFER_ENCODING;
	req->content_length = f.content_length < 0 ? 0 : f.content_length;
	req->keep_alive = v == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	return (int)head_len;
}
