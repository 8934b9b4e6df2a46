/* Pieces shared by the HTTP/1.1 request and response parsers. */
#ifndef CPLANE_HTTP1_HTTP1_INT_H
#define CPLANE_HTTP1_HTTP1_INT_H

#include "http1/http1.h"

/* tchar per RFC 9110 5.6.2. */
bool http1__is_tchar(uint8_t c);

/*
 * Tracks the end of a header block across any split: feed bytes one at a time;
 * returns true on the byte that ends the block (an empty line: CRLF CRLF, or
 * bare LF forms).  *st starts at 0 for a block that begins with a start line,
 * at HTTP1_EOH_LINE_START for a trailer block (which may be empty).
 */
enum { HTTP1_EOH_LINE_START = 2 };
static inline bool http1__eoh_step(uint8_t *st, uint8_t c)
{
	if (c == '\n') {
		if (*st >= HTTP1_EOH_LINE_START)
			return true;
		*st = HTTP1_EOH_LINE_START;
	} else if (c == '\r') {
		*st = *st == HTTP1_EOH_LINE_START ? 3 : 1;
	} else {
		*st = 0;
	}
	return false;
}

/*
 * Parses the line at *pp (up to end) into its content [*ls, *le) and moves *pp
 * past the terminator (CRLF or LF).  A CR not followed by LF is an error.
 * Returns 0, or -1 when the line is malformed or has no terminator.
 */
int http1__take_line(const char **pp, const char *end, const char **ls, const char **le);

/*
 * Parses header lines from *pp up to and including the empty line that ends
 * the block, into tab (at most max).  Returns 0 and *n, or HTTP1_E_HEADER /
 * HTTP1_E_TOO_MANY_HEADERS.
 */
int http1__parse_fields(const char **pp, const char *end, http1_header *tab, size_t max, size_t *n);

/* "HTTP/1.x" in [p, e): returns x (0 or 1), -1 when not HTTP/ at all, -2 for another version. */
int http1__parse_version(const char *p, const char *e);

/*
 * Reads the framing headers of a table: Content-Length (-1 if absent; equal
 * repeats allowed, differing ones an error), Transfer-Encoding (chunked must
 * be the last and only coding), Connection close / keep-alive tokens.
 * Returns 0 or a negative http1_error.
 */
typedef struct http1_framing {
	int64_t content_length;
	bool has_te;
	bool chunked;
	bool conn_close;
	bool conn_keep_alive;
} http1_framing;
int http1__read_framing(const http1_header *tab, size_t n, http1_framing *f);

#endif
