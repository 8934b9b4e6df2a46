/* HTTP/1.1: every response vector fed whole, byte by byte and split at every point. */
#include <limits.h>

#include "base/mem.h"
#include "harness.h"
#include "http1/http1.h"

/* Everything the callbacks saw, as text, so runs can be compared byte for byte. */
typedef struct rec {
	buf log;
	int abort_at_body;	/* nonzero: on_body returns nonzero */
} rec;

static int on_headers(void *arg, const http1_response *r)
{
	rec *x = arg;

	buf_printf(&x->log, "H %d 1.%d [%.*s] cl=%lld chunked=%d ka=%d\n", r->status,
	    r->minor_version, (int)r->reason.len, r->reason.p, (long long)r->content_length,
	    r->chunked, r->keep_alive);
	for (size_t i = 0; i < r->nheaders; i++)
		buf_printf(&x->log, "  %.*s=[%.*s]\n", (int)r->headers[i].name.len,
		    r->headers[i].name.p, (int)r->headers[i].value.len, r->headers[i].value.p);
	return 0;
}

static int on_body(void *arg, const uint8_t *p, size_t n)
{
	rec *x = arg;

	CHECK(n > 0);
	if (x->abort_at_body)
		return 1;
	/* newlines escaped so that normalise() can glue deliveries back together */
	buf_append_str(&x->log, "B:");
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n')
			buf_append_str(&x->log, "\\n");
		else
			buf_append_byte(&x->log, p[i]);
	buf_append_str(&x->log, "\n");
	return 0;
}

static int on_complete(void *arg, const http1_response *r)
{
	rec *x = arg;

	for (size_t i = 0; i < r->ntrailers; i++)
		buf_printf(&x->log, "  T %.*s=[%.*s]\n", (int)r->trailers[i].name.len,
		    r->trailers[i].name.p, (int)r->trailers[i].value.len, r->trailers[i].value.p);
	buf_append_str(&x->log, "done\n");
	return 0;
}

static const http1_resp_cbs cbs = {on_headers, on_body, on_complete};

/* Collapses consecutive "B:" lines into one so the log is split-independent. */
static void normalise(buf *in, buf *out)
{
	const char *p = (const char *)buf_data(in), *e = p + buf_len(in);
	bool in_body = false;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(e - p);

		if (n >= 2 && p[0] == 'B' && p[1] == ':') {
			if (!in_body)
				buf_append_str(out, "B:");
			/* body lines end with the '\n' we added */
			buf_append(out, p + 2, n - 3);
			in_body = true;
		} else {
			if (in_body)
				buf_append_str(out, "\n");
			in_body = false;
			buf_append(out, p, n);
		}
		p += n;
	}
	if (in_body)
		buf_append_str(out, "\n");
}

enum { MODE_WHOLE, MODE_BYTES, MODE_SPLIT };

/* Error codes by name in the expected text ("rc=HTTP1_E_CONTENT_LENGTH"), numbers for counts. */
static const char *rc_name(int rc)
{
	static const char *const names[] = { "HTTP1_E_NOMEM", "HTTP1_E_STATUS_LINE", "HTTP1_E_VERSION",
		"HTTP1_E_HEADER", "HTTP1_E_HEADER_TOO_LARGE", "HTTP1_E_TOO_MANY_HEADERS", "HTTP1_E_CONTENT_LENGTH",
		"HTTP1_E_TRANSFER_ENCODING", "HTTP1_E_CHUNK_SIZE", "HTTP1_E_CHUNK_EXT", "HTTP1_E_CHUNK_DATA",
		"HTTP1_E_TRUNCATED", "HTTP1_E_CALLBACK" };
	static char num[16];

	if (rc < 0 && -rc <= (int)(sizeof(names) / sizeof(names[0])))
		return names[-rc - 1];
	snprintf(num, sizeof(num), "%d", rc);
	return num;
}

/* Runs one vector; result text into out: normalised log + "rc=.. left=<bytes not consumed>". */
static void run(const char *in, size_t len, unsigned flags, bool eof, const http1_limits *lim,
    int mode, size_t split, buf *out)
{
	rec x = {BUF_INIT, 0};
	http1_resp *p = http1_resp_new(lim, &cbs, &x);
	size_t pos = 0, cuts[2], ncuts = 0;
	int rc = 0;

	if (mode == MODE_SPLIT)
		cuts[ncuts++] = split;
	cuts[ncuts++] = len;
	http1_resp_reset(p, flags);
	for (size_t ci = 0, start = 0; ci < ncuts && rc == 0 && !http1_resp_done(p); ci++) {
		size_t end = cuts[ci];

		while (start < end) {
			size_t piece_end = mode == MODE_BYTES ? start + 1 : end;
			int r = http1_resp_feed(p, (const uint8_t *)in + start, piece_end - start);

			if (r < 0) {
				rc = r;
				break;
			}
			if (http1_resp_done(p)) {
				pos = start + (size_t)r;
				break;
			}
			CHECK_EQ_INT(r, piece_end - start);
			start = piece_end;
			pos = start;
		}
	}
	if (eof && rc == 0 && !http1_resp_done(p))
		rc = http1_resp_eof(p);
	/* sticky */
	if (rc < 0)
		CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)"x", 1), rc);
	normalise(&x.log, out);
	buf_printf(out, "rc=%s left=%zu", rc_name(rc), rc < 0 ? (size_t)0 : len - pos);
	http1_resp_free(p);
	buf_free(&x.log);
}

static void check_vector(const char *name, const char *in, size_t len, unsigned flags, bool eof,
    const http1_limits *lim, const char *want)
{
	buf whole = BUF_INIT;

	run(in, len, flags, eof, lim, MODE_WHOLE, 0, &whole);
	buf_append_byte(&whole, 0);
	if (strcmp((char *)buf_data(&whole), want) != 0) {
		fprintf(stderr, "vector %s:\n got: %s\nwant: %s\n", name, (char *)buf_data(&whole), want);
		CHECK(!"whole mismatch");
	}
	for (int mode = MODE_BYTES; mode <= MODE_SPLIT; mode++) {
		for (size_t k = 0; k <= (mode == MODE_SPLIT ? len : 0); k++) {
			buf b = BUF_INIT;

			run(in, len, flags, eof, lim, mode, k, &b);
			buf_append_byte(&b, 0);
			if (strcmp((char *)buf_data(&b), (char *)buf_data(&whole)) != 0) {
				fprintf(stderr, "vector %s mode %d split %zu:\n got: %s\nwant: %s\n", name,
				    mode, k, (char *)buf_data(&b), (char *)buf_data(&whole));
				CHECK(!"split mismatch");
				buf_free(&b);
				goto out;
			}
			buf_free(&b);
		}
	}
out:
	buf_free(&whole);
}

#define V(name, in, flags, eof, want) check_vector(name, in, sizeof(in) - 1, flags, eof, NULL, want)
#define E(name, in, err) V(name, in, 0, true, "rc=" #err " left=0")

static void test_content_length(void)
{
	V("cl", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello"
	    "HTTP/1.1 204 No Content\r\n\r\n", 0, false,
	    "H 200 1.1 [OK] cl=5 chunked=0 ka=1\n  Content-Type=[application/json]\n"
	    "  Content-Length=[5]\nB:hello\ndone\nrc=0 left=27");
	V("cl0", "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n", 0, false,
	    "H 201 1.1 [Created] cl=0 chunked=0 ka=1\n  content-length=[0]\ndone\nrc=0 left=0");
	V("cl repeated equal", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok", 0,
	    false, "H 200 1.1 [OK] cl=2 chunked=0 ka=1\n  Content-Length=[2]\n  Content-Length=[2, 2]\n"
	    "B:ok\ndone\nrc=0 left=0");
	V("ows trimmed", "HTTP/1.1 200 OK\r\nX-A:  \t v a \t \r\nX-Empty:\r\nContent-Length: 0\r\n\r\n", 0,
	    false, "H 200 1.1 [OK] cl=0 chunked=0 ka=1\n  X-A=[v a]\n  X-Empty=[]\n  Content-Length=[0]\n"
	    "done\nrc=0 left=0");
	E("cl conflict", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", HTTP1_E_CONTENT_LENGTH);
	E("cl list conflict", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!", HTTP1_E_CONTENT_LENGTH);
	E("cl negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP1_E_CONTENT_LENGTH);
	E("cl junk", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", HTTP1_E_CONTENT_LENGTH);
	E("cl empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", HTTP1_E_CONTENT_LENGTH);
	E("cl huge", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP1_E_CONTENT_LENGTH);
	E("cl with chunked", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_E_CONTENT_LENGTH);
	E("te gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP1_E_TRANSFER_ENCODING);
	E("te gzip chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTP1_E_TRANSFER_ENCODING);
	E("te chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_E_TRANSFER_ENCODING);
	V("truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel", 0, true,
	    "H 200 1.1 [OK] cl=10 chunked=0 ka=1\n  Content-Length=[10]\nB:hel\nrc=HTTP1_E_TRUNCATED left=0");
}

static void test_keep_alive(void)
{
	V("1.0 close", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, false,
	    "H 200 1.0 [OK] cl=1 chunked=0 ka=0\n  Content-Length=[1]\nB:x\ndone\nrc=0 left=0");
	V("1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", 0,
	    false, "H 200 1.0 [OK] cl=1 chunked=0 ka=1\n  Connection=[Keep-Alive]\n  Content-Length=[1]\n"
	    "B:x\ndone\nrc=0 left=0");
	V("1.1 close", "HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 1\r\n\r\nx", 0, false,
	    "H 200 1.1 [OK] cl=1 chunked=0 ka=0\n  Connection=[foo, close]\n  Content-Length=[1]\n"
	    "B:x\ndone\nrc=0 left=0");
	V("until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\nuntil the end", 0,
	    true, "H 200 1.1 [OK] cl=-1 chunked=0 ka=0\n  Content-Type=[text/plain]\n"
	    "B:all of it\\nuntil the end\ndone\nrc=0 left=0");
	V("until close 1.0", "HTTP/1.0 200 OK\n\nabc", 0, true,
	    "H 200 1.0 [OK] cl=-1 chunked=0 ka=0\nB:abc\ndone\nrc=0 left=0");
}

static void test_status_lines(void)
{
	V("no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, false,
	    "H 200 1.1 [] cl=0 chunked=0 ka=1\n  Content-Length=[0]\ndone\nrc=0 left=0");
	V("empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", 0, false,
	    "H 404 1.1 [] cl=0 chunked=0 ka=1\n  Content-Length=[0]\ndone\nrc=0 left=0");
	V("long reason", "HTTP/1.1 503 Service Unavailable\tnow\r\nContent-Length: 0\r\n\r\n", 0, false,
	    "H 503 1.1 [Service Unavailable\tnow] cl=0 chunked=0 ka=1\n  Content-Length=[0]\ndone\nrc=0 left=0");
	V("bare lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0, false,
	    "H 200 1.1 [OK] cl=2 chunked=0 ka=1\n  Content-Length=[2]\nB:ok\ndone\nrc=0 left=0");
	E("http2", "HTTP/2.0 200 OK\r\n\r\n", HTTP1_E_VERSION);
	E("http1.2", "HTTP/1.2 200 OK\r\n\r\n", HTTP1_E_VERSION);
	E("two digits", "HTTP/1.1 20 OK\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("four digits", "HTTP/1.1 2000 OK\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("status 099", "HTTP/1.1 099 x\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("status 600", "HTTP/1.1 600 x\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("not http", "ICY 200 OK\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("lowercase", "http/1.1 200 OK\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("no space", "HTTP/1.1\t200 OK\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("control in reason", "HTTP/1.1 200 O\001K\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("bare cr", "HTTP/1.1 200 OK\rX: y\r\n\r\n", HTTP1_E_STATUS_LINE);
	E("empty", "", HTTP1_E_TRUNCATED);
	E("only head", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", HTTP1_E_TRUNCATED);
	V("100 continue", "HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 103 Early\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, false,
	    "H 200 1.1 [OK] cl=2 chunked=0 ka=1\n  Content-Length=[2]\nB:ok\ndone\nrc=0 left=0");
	V("head", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1", HTTP1_RESP_HEAD, false,
	    "H 200 1.1 [OK] cl=10 chunked=0 ka=1\n  Content-Length=[10]\ndone\nrc=0 left=8");
	V("head chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_RESP_HEAD, false,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\ndone\nrc=0 left=0");
	V("204", "HTTP/1.1 204 No Content\r\n\r\nHTTP", 0, false,
	    "H 204 1.1 [No Content] cl=-1 chunked=0 ka=1\ndone\nrc=0 left=4");
	V("304 with cl", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", 0, false,
	    "H 304 1.1 [Not Modified] cl=100 chunked=0 ka=1\n  Content-Length=[100]\ndone\nrc=0 left=0");
}

static void test_bad_headers(void)
{
	E("folded", "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n", HTTP1_E_HEADER);
	E("folded tab", "HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\n\r\n", HTTP1_E_HEADER);
	E("space before colon", "HTTP/1.1 200 OK\r\nX-A : one\r\n\r\n", HTTP1_E_HEADER);
	E("no colon", "HTTP/1.1 200 OK\r\nX-A one\r\n\r\n", HTTP1_E_HEADER);
	E("empty name", "HTTP/1.1 200 OK\r\n: one\r\n\r\n", HTTP1_E_HEADER);
	E("bad name char", "HTTP/1.1 200 OK\r\nX(A): one\r\n\r\n", HTTP1_E_HEADER);
	E("nul in value", "HTTP/1.1 200 OK\r\nX-A: o\0ne\r\n\r\n", HTTP1_E_HEADER);
	E("bare cr in value", "HTTP/1.1 200 OK\r\nX-A: o\rne\r\n\r\n", HTTP1_E_HEADER);
	E("del in value", "HTTP/1.1 200 OK\r\nX-A: o\x7fne\r\n\r\n", HTTP1_E_HEADER);
	V("obs-text ok", "HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", 0, false,
	    "H 200 1.1 [OK] cl=0 chunked=0 ka=1\n  X-A=[caf\xc3\xa9]\n  Content-Length=[0]\ndone\nrc=0 left=0");
}

static void test_chunked(void)
{
	V("chunked ext trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;foo=bar\r\nhello\r\n6 ; a=\"x;y\" ;b\r\n world\r\n000A\r\n0123456789\r\n"
	    "0;last\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\nNEXT", 0, false,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\n"
	    "B:hello world0123456789\n  T X-Checksum=[abc]\n  T X-More=[1]\ndone\nrc=0 left=4");
	V("chunked empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", 0, false,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[Chunked]\ndone\nrc=0 left=0");
	V("chunked bare lf", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", 0, false,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:abc\ndone\nrc=0 left=0");
	V("chunked 1.0 keepalive off", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
	    0, false, "H 200 1.0 [OK] cl=-1 chunked=1 ka=0\n  Transfer-Encoding=[chunked]\nB:x\ndone\nrc=0 left=0");
	V("chunk size max", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nab", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:ab\nrc=HTTP1_E_TRUNCATED left=0");
	V("chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", 0,
	    true, "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_SIZE left=0");
	V("chunk size long overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
	    0, true, "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_SIZE left=0");
	V("chunk size leading zeros", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "00000000000000000000001\r\nz\r\n0\r\n\r\n", 0, false,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:z\ndone\nrc=0 left=0");
	V("chunk size empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_SIZE left=0");
	V("chunk size junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1g\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_SIZE left=0");
	V("chunk size -", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_SIZE left=0");
	V("chunk size cr junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\rx", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_SIZE left=0");
	V("chunk data no crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:ab\nrc=HTTP1_E_CHUNK_DATA left=0");
	V("chunk data cr then junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rx", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:ab\nrc=HTTP1_E_CHUNK_DATA left=0");
	V("chunk ext control", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a\001\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_EXT left=0");
	V("bad trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded\r\n\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_HEADER left=0");
	V("truncated trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_TRUNCATED left=0");
	V("truncated mid chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", 0, true,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:abc\nrc=HTTP1_E_TRUNCATED left=0");
}

static void test_limits(void)
{
	http1_limits small = {64, 2, 16, 8};
	static const char big[] = "HTTP/1.1 200 OK\r\nX-Long: 01234567890123456789012345678901234567890\r\n\r\n";
	static const char many[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	static const char two[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
	static const char ext[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;123456789\r\n";
	static const char ext_ok[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;12345678\r\nx\r\n"
	    "0\r\nX: 012345678\r\n\r\n";
	static const char trl[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX: 012345678901\r\n\r\n";

	check_vector("big", big, sizeof(big) - 1, 0, true, &small, "rc=HTTP1_E_HEADER_TOO_LARGE left=0");
	check_vector("many", many, sizeof(many) - 1, 0, true, &small, "rc=HTTP1_E_TOO_MANY_HEADERS left=0");
	check_vector("two", two, sizeof(two) - 1, 0, true, &small,
	    "H 200 1.1 [OK] cl=-1 chunked=0 ka=0\n  A=[1]\n  B=[2]\ndone\nrc=0 left=0");
	check_vector("ext", ext, sizeof(ext) - 1, 0, true, &small,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_CHUNK_EXT left=0");
	check_vector("ext ok", ext_ok, sizeof(ext_ok) - 1, 0, false, &small,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nB:x\n"
	    "  T X=[012345678]\ndone\nrc=0 left=0");
	check_vector("trailer big", trl, sizeof(trl) - 1, 0, true, &small,
	    "H 200 1.1 [OK] cl=-1 chunked=1 ka=1\n  Transfer-Encoding=[chunked]\nrc=HTTP1_E_HEADER_TOO_LARGE left=0");
}

/* The default limit: a header block of 64 KiB is refused before the end arrives. */
static void test_default_header_limit(void)
{
	rec x = {BUF_INIT, 0};
	http1_resp *p = http1_resp_new(NULL, &cbs, &x);
	static const char start[] = "HTTP/1.1 200 OK\r\nX-Big: ";
	uint8_t fill[1024];
	int rc = 0;

	memset(fill, 'a', sizeof(fill));
	http1_resp_reset(p, 0);
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)start, sizeof(start) - 1), sizeof(start) - 1);
	for (int i = 0; i < 70 && rc >= 0; i++)
		rc = http1_resp_feed(p, fill, sizeof(fill));
	CHECK_EQ_INT(rc, HTTP1_E_HEADER_TOO_LARGE);
	CHECK_EQ_INT(http1_resp_error(p), HTTP1_E_HEADER_TOO_LARGE);
	CHECK_EQ_INT(x.log.end, 0);
	http1_resp_free(p);
	buf_free(&x.log);
}

/* A watch: body bytes flow out before the response ends, and two responses share a parser. */
static void test_streaming_and_reuse(void)
{
	rec x = {BUF_INIT, 0};
	http1_resp *p = http1_resp_new(NULL, &cbs, &x);
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char ev[] = "17\r\n{\"type\":\"ADDED\",\"x\":1}\n\r\n";
	static const char want_ev[] = "B:{\"type\":\"ADDED\",\"x\":1}\\n\n";
	static const char end[] = "0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";

	http1_resp_reset(p, 0);
	CHECK(!http1_resp_started(p));
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)head, sizeof(head) - 1), sizeof(head) - 1);
	CHECK(http1_resp_started(p));
	CHECK(http1_resp_have_headers(p));
	for (int i = 0; i < 1000; i++) {
		buf_reset(&x.log);
		CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)ev, sizeof(ev) - 1), sizeof(ev) - 1);
		CHECK_EQ_MEM(buf_data(&x.log), buf_len(&x.log), want_ev, sizeof(want_ev) - 1);
	}
	CHECK(!http1_resp_done(p));
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)end, sizeof(end) - 1), 5);
	CHECK(http1_resp_done(p));
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)end + 5, 3), 0);
	http1_resp_reset(p, 0);
	buf_reset(&x.log);
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)end + 5, sizeof(end) - 6), sizeof(end) - 6);
	CHECK(http1_resp_done(p));
	CHECK_EQ_INT(http1_resp_response(p)->content_length, 3);
	CHECK(http1_find_header(http1_resp_response(p)->headers, http1_resp_response(p)->nheaders,
	    "CONTENT-LENGTH") != NULL);
	CHECK(http1_find_header(http1_resp_response(p)->headers, http1_resp_response(p)->nheaders,
	    "x-none") == NULL);
	/* a kept-alive connection that closes before any byte: retryable */
	http1_resp_reset(p, 0);
	CHECK(!http1_resp_started(p));
	CHECK_EQ_INT(http1_resp_eof(p), HTTP1_E_TRUNCATED);
	http1_resp_free(p);
	buf_free(&x.log);
}

static void test_callback_abort(void)
{
	rec x = {BUF_INIT, 1};
	http1_resp *p = http1_resp_new(NULL, &cbs, &x);
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";

	http1_resp_reset(p, 0);
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)in, sizeof(in) - 1), HTTP1_E_CALLBACK);
	CHECK_EQ_INT(http1_resp_eof(p), HTTP1_E_CALLBACK);
	CHECK_EQ_STR(http1_strerror(HTTP1_E_CALLBACK), "aborted by callback");
	CHECK_EQ_STR(http1_strerror(-999), "unknown HTTP/1 error");
	for (int e = HTTP1_E_NOMEM; e >= HTTP1_E_CALLBACK; e--)
		CHECK(strcmp(http1_strerror(e), "unknown HTTP/1 error") != 0);
	http1_resp_free(p);
	buf_free(&x.log);
	/* no callbacks at all */
	p = http1_resp_new(NULL, NULL, NULL);
	http1_resp_reset(p, 0);
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)in, sizeof(in) - 1), sizeof(in) - 1);
	CHECK(http1_resp_done(p));
	http1_resp_free(p);
}

/*
 * The head and trailer stores hold what the peer sends, so they grow through
 * the checked allocator: each of a chunked response's allocations failing
 * in turn ends the parse with HTTP1_E_NOMEM (sticky until reset), and the
 * same parser then reads the next response whole.
 */
static void test_checked_allocations_fail(void)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
	http1_resp *p = http1_resp_new(NULL, NULL, NULL);
	unsigned long before = mem_try_calls_for_test(), total;

	http1_resp_reset(p, 0);
	CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)in, sizeof(in) - 1), sizeof(in) - 1);
	CHECK(http1_resp_done(p));
	total = mem_try_calls_for_test() - before;
	http1_resp_free(p);
	CHECK(total >= 2);	/* the head and the trailers */
	for (unsigned long n = 1; n <= total; n++) {
		p = http1_resp_new(NULL, NULL, NULL);
		http1_resp_reset(p, 0);
		mem_try_fail_after_for_test(n);
		CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)in, sizeof(in) - 1), HTTP1_E_NOMEM);
		mem_try_fail_after_for_test(0);
		CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)"x", 1), HTTP1_E_NOMEM);
		http1_resp_reset(p, 0);
		CHECK_EQ_INT(http1_resp_feed(p, (const uint8_t *)in, sizeof(in) - 1), sizeof(in) - 1);
		CHECK(http1_resp_done(p));
		http1_resp_free(p);
	}
}

static void test_write_request(void)
{
	buf b = BUF_INIT;
	http1_header h[] = {
		{STR_LIT("Host"), STR_LIT("10.0.0.1:6443")},
		{STR_LIT("Authorization"), STR_LIT("Bearer abc")},
	};
	static const char want_get[] = "GET /apis/apps/v1/namespaces/ns/deployments?watch=1 HTTP/1.1\r\n"
	    "Host: 10.0.0.1:6443\r\nAuthorization: Bearer abc\r\n\r\n";
	static const char want_post[] = "POST /x HTTP/1.1\r\nHost: 10.0.0.1:6443\r\nAuthorization: Bearer abc\r\n"
	    "Content-Length: 7\r\n\r\n{\"a\":1}";
	static const char want_del[] = "DELETE /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	static const char want_put[] = "PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	http1_header bad[] = {{STR_LIT("X"), STR_LIT("a\r\nInjected: 1")}};
	http1_header badname[] = {{STR_LIT("X Y"), STR_LIT("a")}};

	CHECK_EQ_INT(http1_write_request(&b, "GET", "/apis/apps/v1/namespaces/ns/deployments?watch=1", h, 2,
	    NULL, 0), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want_get, sizeof(want_get) - 1);
	buf_reset(&b);
	CHECK_EQ_INT(http1_write_request(&b, "POST", "/x", h, 2, "{\"a\":1}", 7), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want_post, sizeof(want_post) - 1);
	buf_reset(&b);
	CHECK_EQ_INT(http1_write_request(&b, "DELETE", "/x", NULL, 0, "", 0), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want_del, sizeof(want_del) - 1);
	buf_reset(&b);
	CHECK_EQ_INT(http1_write_request(&b, "PUT", "/x", NULL, 0, NULL, 0), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want_put, sizeof(want_put) - 1);
	buf_reset(&b);
	buf_append_str(&b, "keep");
	CHECK_EQ_INT(http1_write_request(&b, "GET", "/x", bad, 1, NULL, 0), -1);
	CHECK_EQ_INT(http1_write_request(&b, "GET", "/x", badname, 1, NULL, 0), -1);
	CHECK_EQ_INT(http1_write_request(&b, "GET", "/x y", NULL, 0, NULL, 0), -1);
	CHECK_EQ_INT(http1_write_request(&b, "G T", "/x", NULL, 0, NULL, 0), -1);
	CHECK_EQ_INT(http1_write_request(&b, "GET", "", NULL, 0, NULL, 0), -1);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "keep", 4);
	/* a buffer limit makes the append fail and leaves the bytes as they were */
	buf_set_limit(&b, 10);
	CHECK_EQ_INT(http1_write_request(&b, "GET", "/x", h, 2, NULL, 0), -1);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "keep", 4);
	buf_free(&b);
}

static void test_write_response(void)
{
	buf b = BUF_INIT;
	http1_header h[] = {{STR_LIT("Content-Type"), STR_LIT("text/plain; version=0.0.4")}};
	static const char want[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
	    "Content-Length: 3\r\n\r\nabc";
	static const char want_close[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

	CHECK_EQ_INT(http1_write_response(&b, 200, "OK", h, 1, "abc", 3, false), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want, sizeof(want) - 1);
	buf_reset(&b);
	CHECK_EQ_INT(http1_write_response(&b, 404, "Not Found", NULL, 0, NULL, 0, true), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want_close, sizeof(want_close) - 1);
	CHECK_EQ_INT(http1_write_response(&b, 200, "O\nK", NULL, 0, NULL, 0, true), -1);
	CHECK_EQ_INT(http1_write_response(&b, 200, "OK", NULL, 0, NULL, 3, true), -1);
	buf_free(&b);
}

static int req_len(const char *s, size_t n, http1_request *r, http1_header *h)
{
	return http1_parse_request((const uint8_t *)s, n, r, h, 8, 0);
}

static void test_parse_request(void)
{
	static const char in[] = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\nGET /next";
	size_t head = sizeof(in) - 1 - 9;
	http1_header h[8];
	http1_request r;

	/* every prefix short of the blank line needs more */
	for (size_t k = 0; k < head; k++)
		CHECK_EQ_INT(http1_parse_request((const uint8_t *)in, k, &r, h, 8, 0), 0);
	CHECK_EQ_INT(http1_parse_request((const uint8_t *)in, sizeof(in) - 1, &r, h, 8, 0), head);
	CHECK(str_eq_cstr(r.method, "GET"));
	CHECK(str_eq_cstr(r.target, "/metrics?x=1"));
	CHECK_EQ_INT(r.minor_version, 1);
	CHECK_EQ_INT(r.nheaders, 2);
	CHECK(str_eq_cstr(h[1].name, "Accept") && str_eq_cstr(h[1].value, "text/plain"));
	CHECK(r.keep_alive);
	CHECK_EQ_INT(r.content_length, 0);

#define REQ(s, want) \
	do { \
		static const char in_[] = s; \
		int got = req_len(in_, sizeof(in_) - 1, &r, h); \
		CHECK_EQ_INT(got, want); \
	} while (0)
	REQ("POST /x HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody", 58);
	CHECK_EQ_INT(r.content_length, 4);
	CHECK(!r.keep_alive);
	REQ("GET / HTTP/1.0\r\n\r\n", 18);
	CHECK(!r.keep_alive);
	REQ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 42);
	CHECK(r.keep_alive);
	REQ("GET / HTTP/1.1\n\n", 16);
	REQ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_E_TRANSFER_ENCODING);
	REQ("GET / HTTP/2.0\r\n\r\n", HTTP1_E_VERSION);
	REQ("GET  / HTTP/1.1\r\n\r\n", HTTP1_E_STATUS_LINE);
	REQ("GET /\x01 HTTP/1.1\r\n\r\n", HTTP1_E_STATUS_LINE);
	REQ("G@T / HTTP/1.1\r\n\r\n", HTTP1_E_STATUS_LINE);
	REQ("GET / HTTP/1.1 x\r\n\r\n", HTTP1_E_STATUS_LINE);
	REQ("GET /\r\n\r\n", HTTP1_E_STATUS_LINE);
	REQ("GET / HTTP/1.1\r\nX : y\r\n\r\n", HTTP1_E_HEADER);
	REQ("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n",
	    HTTP1_E_TOO_MANY_HEADERS);
	REQ("GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", HTTP1_E_CONTENT_LENGTH);
#undef REQ
	CHECK_EQ_INT(http1_parse_request((const uint8_t *)"GET / HTTP/1.1\r\nX: yyyyyyyy", 27, &r, h, 8, 16),
	    HTTP1_E_HEADER_TOO_LARGE);
	CHECK_EQ_INT(http1_parse_request((const uint8_t *)"GET / HTTP/1.1\r\nX", 17, &r, h, 8, 18), 0);
}

int main(void)
{
	RUN(test_content_length);
	RUN(test_keep_alive);
	RUN(test_status_lines);
	RUN(test_bad_headers);
	RUN(test_chunked);
	RUN(test_limits);
	RUN(test_default_header_limit);
	RUN(test_streaming_and_reuse);
	RUN(test_callback_abort);
	RUN(test_checked_allocations_fail);
	RUN(test_write_request);
	RUN(test_write_response);
	RUN(test_parse_request);
	return harness_finish();
}
