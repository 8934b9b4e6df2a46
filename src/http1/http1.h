/*
 * HTTP/1.1, sans-I/O: a request writer and an incremental response parser for
 * the Kubernetes client, and a small request parser plus response writer for
 * the worker's /metrics endpoint.  Nothing here touches a socket.
 *
 * The response parser is fed whatever bytes arrived, in any split, and gives
 * the same result however they were split.  The header block (and the trailer
 * block of a chunked body) is collected into the parser's own storage up to a
 * limit; body bytes are never buffered: they are handed to on_body as views
 * into the caller's input as soon as they arrive (a watch is an endless
 * chunked body).
 *
 * Return convention: >= 0 bytes consumed, negative enum http1_error.  Errors
 * are sticky: once a parser failed, every later call returns the same error.
 */
#ifndef CPLANE_HTTP1_HTTP1_H
#define CPLANE_HTTP1_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/str.h"

enum http1_error {
	HTTP1_OK = 0,
	HTTP1_E_NOMEM = -1,		/* header storage could not grow (the checked allocator, base/mem.h) */
	HTTP1_E_STATUS_LINE = -2,	/* malformed status line or request line */
	HTTP1_E_VERSION = -3,		/* not HTTP/1.0 or HTTP/1.1 */
	HTTP1_E_HEADER = -4,		/* malformed header line (incl. obs-fold, space before ':') */
	HTTP1_E_HEADER_TOO_LARGE = -5,	/* header or trailer block past max_header_bytes */
	HTTP1_E_TOO_MANY_HEADERS = -6,	/* more than max_headers fields */
	HTTP1_E_CONTENT_LENGTH = -7,	/* malformed, conflicting or with chunked */
	HTTP1_E_TRANSFER_ENCODING = -8,	/* a coding other than a final "chunked" */
	HTTP1_E_CHUNK_SIZE = -9,	/* malformed or overflowing chunk size */
	HTTP1_E_CHUNK_EXT = -10,	/* chunk extension too long or has bare CR/LF */
	HTTP1_E_CHUNK_DATA = -11,	/* chunk data not followed by CRLF */
	HTTP1_E_TRUNCATED = -12,	/* connection closed inside a message */
	HTTP1_E_CALLBACK = -13,		/* a callback returned nonzero */
};

/* A static description of an http1_error ("malformed chunk size"); never NULL. */
const char *http1_strerror(int err);

/* A header field as views.  name is as received (compare with str_case_eq). */
typedef struct http1_header {
	str name;
	str value;	/* leading/trailing spaces and tabs removed */
} http1_header;

/* Limits; zero fields mean the defaults below. */
typedef struct http1_limits {
	size_t max_header_bytes;	/* header block, status line included (default 64 KiB) */
	size_t max_headers;		/* fields in the block (default 100) */
	size_t max_trailer_bytes;	/* trailer block of a chunked body (default 16 KiB) */
	size_t max_chunk_ext;		/* chunk extension bytes per chunk (default 4 KiB) */
} http1_limits;

#define HTTP1_DEFAULT_MAX_HEADER_BYTES (64u * 1024u)
#define HTTP1_DEFAULT_MAX_HEADERS 100u
#define HTTP1_DEFAULT_MAX_TRAILER_BYTES (16u * 1024u)
#define HTTP1_DEFAULT_MAX_CHUNK_EXT 4096u

/* ---- request writer ------------------------------------------------------ */

/*
 * Appends "METHOD target HTTP/1.1\r\n", the headers in order, then either
 * "Content-Length: body_len" and the body (body != NULL; body_len may be 0) or,
 * with body == NULL, no Content-Length (or "Content-Length: 0" for POST, PUT
 * and PATCH, which servers expect), and the blank line.  The caller supplies
 * Host and every other header; names and values must not contain CR or LF
 * (checked: returns -1 and leaves out unchanged).  Returns 0, or -1 on a bad
 * header or ENOMEM.
 */
int http1_write_request(buf *out, const char *method, const char *target,
    const http1_header *headers, size_t nheaders, const void *body, size_t body_len);

/*
 * Appends a response: status line ("HTTP/1.1 200 OK"), the headers, a
 * Content-Length for body_len, "Connection: close" when close is true, the blank
 * line and the body (body may be NULL when body_len is 0).  Returns 0 or -1 as
 * http1_write_request.
 */
int http1_write_response(buf *out, int status, const char *reason,
    const http1_header *headers, size_t nheaders, const void *body, size_t body_len, bool close);

/* ---- response parser ----------------------------------------------------- */

/*
 * What a response looks like once its header block is complete.  The views
 * point into the parser's storage and stay valid until the parser is reset
 * (http1_resp_reset, or http1_resp_free), i.e. through on_body and on_complete.
 */
typedef struct http1_response {
	int status;			/* 200..599 (1xx are skipped) */
	int minor_version;		/* 0 or 1 */
	str reason;
	const http1_header *headers;
	size_t nheaders;
	int64_t content_length;		/* -1 when absent or chunked */
	bool chunked;
	bool keep_alive;		/* connection may carry another request after this one */
	const http1_header *trailers;	/* chunked bodies only; valid in on_complete */
	size_t ntrailers;
} http1_response;

/*
 * Callbacks; NULL members are skipped.  A nonzero return aborts parsing with
 * HTTP1_E_CALLBACK (sticky).  on_body's bytes are a view into the buffer
 * passed to http1_resp_feed, valid only during the call.  Callbacks must not
 * call into the parser (no reset or free from inside): the caller resets after
 * http1_resp_feed returns.
 */
typedef struct http1_resp_cbs {
	int (*on_headers)(void *arg, const http1_response *resp);
	int (*on_body)(void *arg, const uint8_t *p, size_t n);
	int (*on_complete)(void *arg, const http1_response *resp);
} http1_resp_cbs;

typedef struct http1_resp http1_resp;	/* opaque */

/* Never NULL (base/mem.h).  limits may be NULL (defaults). */
http1_resp *http1_resp_new(const http1_limits *limits, const http1_resp_cbs *cbs, void *arg);
void http1_resp_free(http1_resp *p);

enum {
	HTTP1_RESP_HEAD = 1u,	/* the request was HEAD: no body whatever the headers say */
};

/*
 * Prepares for the next response on the connection; flags from the request
 * (HTTP1_RESP_HEAD).  Clears a sticky error and the previous response's
 * views.  Call it before each response after the first (http1_resp_new leaves
 * the parser reset with flags 0).
 */
void http1_resp_reset(http1_resp *p, unsigned flags);

/*
 * Feeds len bytes (at most INT_MAX are looked at per call).  Returns the
 * number consumed: all of them, unless the response completed (on_complete
 * ran) inside the input, in which case it returns the bytes up to the end of
 * that response and the caller keeps the rest for the next one after
 * http1_resp_reset; or a negative http1_error.
 * After completion, feeding more without a reset consumes nothing (returns 0).
 */
int http1_resp_feed(http1_resp *p, const uint8_t *data, size_t len);

/*
 * The connection reached EOF.  Completes a body delimited by the close (runs
 * on_complete and returns 0); returns 0 if the response had already
 * completed; HTTP1_E_TRUNCATED if it ended inside a message (and when nothing
 * was received at all).
 */
int http1_resp_eof(http1_resp *p);

/* True once on_complete ran for the current response. */
bool http1_resp_done(const http1_resp *p);
/*
 * True once a byte of the current response arrived.  A keep-alive connection
 * that closes before that (the server timed it out) lets the caller retry the
 * request on a new connection.
 */
bool http1_resp_started(const http1_resp *p);
/* True once the header block was parsed (on_headers ran). */
bool http1_resp_have_headers(const http1_resp *p);
/* The current response (headers valid once http1_resp_have_headers). */
const http1_response *http1_resp_response(const http1_resp *p);
/* The sticky error, or 0. */
int http1_resp_error(const http1_resp *p);

/* First header named name (case-insensitive) in the table, or NULL. */
const http1_header *http1_find_header(const http1_header *h, size_t n, const char *name);

/* ---- request parser (metrics endpoint) ------------------------------------ */

typedef struct http1_request {
	str method;
	str target;
	int minor_version;
	size_t nheaders;	/* entries filled in the caller's header array */
	int64_t content_length;	/* 0 when absent */
	bool keep_alive;	/* HTTP/1.1 without "Connection: close", or 1.0 with keep-alive */
} http1_request;

/*
 * Parses a request head from data[0..len) (the bytes received so far, the
 * start of the request at data[0]).  Returns the length of the head (>0) once
 * the blank line arrived, 0 when more bytes are needed, or a negative
 * http1_error (chunked request bodies are refused with
 * HTTP1_E_TRANSFER_ENCODING; more than max_header_bytes without the end of the
 * head is HTTP1_E_HEADER_TOO_LARGE).  Views point into data.  The body, if
 * any, is the next content_length bytes: the caller skips them.
 */
int http1_parse_request(const uint8_t *data, size_t len, http1_request *req,
    http1_header *headers, size_t max_headers, size_t max_header_bytes);

#endif
