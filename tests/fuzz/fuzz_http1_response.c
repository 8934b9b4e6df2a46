/*
 * HTTP/1.1 response parser on arbitrary bytes: one connection's worth of
 * responses, parsed twice — whole, and in pieces of pseudo-random sizes — and
 * the two runs must report exactly the same headers, body bytes, trailers,
 * completions and error.  The request parser gets the same bytes too.
 *
 * Input: byte 0 = flags (bit 0: the request was HEAD; bits 1-7 seed the piece
 * sizes), the rest = what the server sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1/http1.h"

typedef struct run_log {
	buf ev;
	size_t body;
	uint32_t body_hash;
} run_log;

static int on_headers(void *arg, const http1_response *r)
{
	run_log *l = arg;

	buf_printf(&l->ev, "H%d.%d.%lld.%d.%d.%zu|", r->status, r->minor_version,
	    (long long)r->content_length, r->chunked, r->keep_alive, r->nheaders);
	for (size_t i = 0; i < r->nheaders; i++) {
		buf_append(&l->ev, r->headers[i].name.p, r->headers[i].name.len);
		buf_append(&l->ev, "=", 1);
		buf_append(&l->ev, r->headers[i].value.p, r->headers[i].value.len);
		buf_append(&l->ev, "|", 1);
	}
	return 0;
}

static int on_body(void *arg, const uint8_t *p, size_t n)
{
	run_log *l = arg;

	if (n == 0)
		abort();
	for (size_t i = 0; i < n; i++)
		l->body_hash = (l->body_hash ^ p[i]) * 16777619u;
	l->body += n;
	return 0;
}

static int on_complete(void *arg, const http1_response *r)
{
	run_log *l = arg;

	buf_printf(&l->ev, "D%zu.%08x.%zu|", l->body, l->body_hash, r->ntrailers);
	for (size_t i = 0; i < r->ntrailers; i++) {
		buf_append(&l->ev, r->trailers[i].name.p, r->trailers[i].name.len);
		buf_append(&l->ev, "|", 1);
	}
	return 0;
}

static const http1_resp_cbs cbs = {on_headers, on_body, on_complete};

/* Parses a connection's bytes; piece sizes from seed (0 = whole).  Returns the final rc. */
static int run(const uint8_t *d, size_t len, unsigned flags, uint32_t seed, run_log *l)
{
	http1_limits lim = {4096, 16, 1024, 64};
	http1_resp *p = http1_resp_new(&lim, &cbs, l);
	size_t pos = 0;
	int rc = 0, responses = 0;

	if (p == NULL)
		abort();
	http1_resp_reset(p, flags);
	while (pos < len && rc >= 0) {
		size_t n = len - pos;
		int r;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 23;
			if (n > len - pos)
				n = len - pos;
		}
		r = http1_resp_feed(p, d + pos, n);
		if (r < 0) {
			rc = r;
			break;
		}
		if ((size_t)r > n)
			abort();
		pos += (size_t)r;
		if (http1_resp_done(p)) {
			if (++responses == 8)
				break;
			http1_resp_reset(p, flags);
		} else if ((size_t)r != n) {
			abort();	/* all bytes are taken unless a response completed */
		}
	}
	if (rc >= 0 && !http1_resp_done(p))
		rc = http1_resp_eof(p);
	if (rc < 0 && http1_resp_feed(p, d, len) != rc)
		abort();	/* sticky */
	buf_printf(&l->ev, "R%d.%zu", rc, rc < 0 ? 0 : pos);
	http1_resp_free(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_log a = {BUF_INIT, 0, 2166136261u}, b = {BUF_INIT, 0, 2166136261u};
	unsigned flags;
	http1_header h[16];
	http1_request req;

	if (size < 1)
		return 0;
	flags = data[0] & 1 ? HTTP1_RESP_HEAD : 0;
	run(data + 1, size - 1, flags, 0, &a);
	run(data + 1, size - 1, flags, (uint32_t)(data[0] >> 1) + 1, &b);
	if (buf_len(&a.ev) != buf_len(&b.ev) || memcmp(buf_data(&a.ev), buf_data(&b.ev), buf_len(&a.ev)) != 0)
		abort();
	buf_free(&a.ev);
	buf_free(&b.ev);
	{
		int r = http1_parse_request(data + 1, size - 1, &req, h, 16, 4096);

		if (r > 0 && ((size_t)r > size - 1 || req.nheaders > 16))
			abort();
	}
	return 0;
}
