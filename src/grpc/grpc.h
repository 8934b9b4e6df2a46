/*
 * gRPC wire pieces shared by the server and the client, all sans-I/O
 * (grpc/doc/PROTOCOL-HTTP2.md):
 *
 *   - status codes and their names;
 *   - grpc-timeout values ("100m", "5S": at most 8 digits, then H M S m u n);
 *   - percent-encoding of grpc-message;
 *   - length-prefixed messages: a 5-byte prefix (compressed flag, 32-bit
 *     big-endian length) then the message, reassembled from DATA payloads of
 *     any size and split at any point.
 *
 * Return convention: >= 0 success (a count), negative GRPC_ERR_* on failure;
 * grpc_strerror() names each.
 */
#ifndef CPLANE_GRPC_GRPC_H
#define CPLANE_GRPC_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Canonical status codes (grpc/doc/statuscodes.md); wire values. */
enum grpc_status_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};
#define GRPC_STATUS_MAX 16

/* "OK", "CANCELLED", ... "UNAUTHENTICATED"; NULL for a code outside 0..16. */
const char *grpc_status_name(int code);
/* Parses a grpc-status value (decimal, no sign, no leading junk); -1 when malformed. */
int grpc_status_parse(const char *s, size_t len);
/* Status a client derives from a non-200 HTTP :status when no grpc-status came (the spec's table). */
int grpc_status_from_http(int http_status);

/* API errors (negative). */
enum grpc_err {
	GRPC_ERR_NOMEM = -1,
	GRPC_ERR_TOO_LARGE = -2,	/* message length above the reader's max */
	GRPC_ERR_COMPRESSED = -3,	/* compressed flag set: we only speak identity */
	GRPC_ERR_BAD_FLAG = -4,		/* reserved flag bits set */
	GRPC_ERR_CALLBACK = -5,		/* the message callback refused */
	GRPC_ERR_INVALID = -6,		/* bad argument or malformed value */
	GRPC_ERR_CANCELLED = -7,	/* the call's stream is gone (reset, deadline, connection lost) */
	GRPC_ERR_STATE = -8,		/* not allowed in the call's state (finished already) */
	GRPC_ERR_UNAVAILABLE = -9,	/* no connection can carry the call */
};
const char *grpc_strerror(int err);

/*
 * One metadata entry (a custom header or trailer).  Strings need not be
 * NUL-terminated; "-bin" values travel base64-encoded as sent on the wire.
 */
typedef struct grpc_metadata {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} grpc_metadata;

/* True for names the gRPC layer owns (pseudo-headers, content-type, te, grpc-*, ...): not metadata. */
int grpc_metadata_reserved(const char *name, size_t len);

/* --- grpc-timeout --- */

/* Longest formatted value: 8 digits + unit + NUL. */
#define GRPC_TIMEOUT_BUFSZ 10

/*
 * Parses a grpc-timeout value: 1 to 8 ASCII digits then one of H M S m u n.
 * *ms receives the timeout in milliseconds rounded up (so "1n" is 1 ms and a
 * deadline never fires early; "0m" is 0).  Returns 0, or GRPC_ERR_INVALID.
 */
int grpc_timeout_parse(const char *s, size_t len, int64_t *ms);
/*
 * Formats a timeout of ms milliseconds (clamped to >= 0) in the finest unit
 * that fits 8 digits, rounding up in coarser units: "250m", "100000S",
 * "1667M", "27778H"; 99999999H at most.  Returns the length (no NUL counted).
 */
int grpc_timeout_format(int64_t ms, char out[GRPC_TIMEOUT_BUFSZ]);

/* --- grpc-message percent-encoding --- */

/*
 * Appends msg percent-encoded: bytes outside 0x20..0x7e and '%' become %XX
 * (upper-case hex).  Returns 0 or GRPC_ERR_NOMEM.
 */
int grpc_percent_encode(buf *out, const char *msg, size_t len);
/* Bytes grpc_percent_encode() would produce for msg. */
size_t grpc_percent_encoded_len(const char *msg, size_t len);
/*
 * Decodes in into out (out may equal in; needs len bytes).  A '%' not
 * followed by two hex digits is kept as it is, as the spec asks of
 * receivers.  Returns the decoded length.
 */
size_t grpc_percent_decode(const char *in, size_t len, char *out);

/* --- length-prefixed messages --- */

#define GRPC_PREFIX_LEN 5
#define GRPC_DEFAULT_MAX_MSG (4u * 1024 * 1024)

/* Writes the 5-byte prefix of an uncompressed message of len bytes (len < 2^32). */
void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], uint32_t len);
/* Appends prefix + message to out.  Returns 0, GRPC_ERR_NOMEM or GRPC_ERR_TOO_LARGE (len >= 2^32). */
int grpc_msg_append(buf *out, const uint8_t *msg, size_t len);

/* Called once per complete message; msg valid only during the call.  Non-zero stops (GRPC_ERR_CALLBACK). */
typedef int (*grpc_msg_cb)(void *ctx, const uint8_t *msg, size_t len);

/*
 * Reassembles messages from DATA payloads.  Zero-filled is not enough: use
 * grpc_reader_init().  A message that lies whole inside one fed chunk is
 * handed to the callback in place (no copy); one spanning chunks is
 * collected in body.  The length is checked against max_len as soon as the
 * prefix is complete, so a peer never makes us buffer a message we refuse.
 * Errors are sticky.
 */
typedef struct grpc_reader {
	uint8_t hdr[GRPC_PREFIX_LEN];
	uint8_t hdr_len;	/* prefix bytes collected, 0..5 */
	uint32_t need;		/* body bytes still missing of the current message */
	uint32_t msg_len;	/* current message's length */
	buf body;		/* partial message spanning chunks */
	uint32_t max_len;
	int err;		/* sticky GRPC_ERR_* or 0 */
	uint64_t messages;	/* complete messages delivered */
} grpc_reader;

void grpc_reader_init(grpc_reader *r, uint32_t max_len);
/* Forgets any partial message and error, keeping the body buffer's storage for reuse. */
void grpc_reader_reset(grpc_reader *r);
void grpc_reader_free(grpc_reader *r);
/*
 * Feeds a chunk; the callback runs for each message completed by it.
 * Returns len, or the sticky error (GRPC_ERR_TOO_LARGE, _COMPRESSED,
 * _BAD_FLAG, _CALLBACK, _NOMEM).  For TOO_LARGE, r->msg_len holds the
 * offending length.
 */
int64_t grpc_reader_feed(grpc_reader *r, const uint8_t *in, size_t len, grpc_msg_cb cb, void *ctx);
/* True when no message is half received (the stream may end here). */
int grpc_reader_idle(const grpc_reader *r);

#endif
