/*
 * gRPC wire helpers: status names, grpc-timeout, grpc-message
 * percent-encoding, the length-prefixed message reader.
 *
 * The reader follows nghttp2's fixed-field mark: the 5-byte prefix is
 * collected in a small array (it may arrive a byte at a time), the body is
 * either handed over in place when the chunk holds all of it, or gathered
 * into a buffer sized exactly once from the prefix.
 */
#include "grpc/grpc.h"
#include "base/str.h"

#include <string.h>

static const char *const status_names[GRPC_STATUS_MAX + 1] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *grpc_status_name(int code)
{
	if (code < 0 || code > GRPC_STATUS_MAX)
		return NULL;
	return status_names[code];
}

int grpc_status_parse(const char *s, size_t len)
{
	int v = 0;

	if (len == 0 || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int grpc_status_from_http(int http_status)
{
	switch (http_status) {
	case 400: return GRPC_INTERNAL;
	case 401: return GRPC_UNAUTHENTICATED;
	case 403: return GRPC_PERMISSION_DENIED;
	case 404: return GRPC_UNIMPLEMENTED;
	case 429: case 502: case 503: case 504: return GRPC_UNAVAILABLE;
	default: return GRPC_UNKNOWN;
	}
}

const char *grpc_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case GRPC_ERR_NOMEM: return "out of memory";
	case GRPC_ERR_TOO_LARGE: return "message larger than the maximum";
	case GRPC_ERR_COMPRESSED: return "compressed message (only identity is supported)";
	case GRPC_ERR_BAD_FLAG: return "reserved bits set in the message flags";
	case GRPC_ERR_CALLBACK: return "message callback failed";
	case GRPC_ERR_INVALID: return "invalid argument or malformed value";
	case GRPC_ERR_CANCELLED: return "call cancelled";
	case GRPC_ERR_STATE: return "not allowed in the call's state";
	case GRPC_ERR_UNAVAILABLE: return "no connection available";
	default: return "unknown error";
	}
}

int grpc_metadata_reserved(const char *name, size_t len)
{
	if (len == 0)
		return 0;
	if (name[0] == ':' || (len >= 5 && mem_eq(name, "grpc-", 5)))
		return 1;
	/* the rest by length: every call checks every field */
	switch (len) {
	case 2:
		return mem_eq(name, "te", 2);
	case 4:
		return mem_eq(name, "host", 4);
	case 10:
		return mem_eq(name, "user-agent", 10) || mem_eq(name, "connection", 10);
	case 12:
		return mem_eq(name, "content-type", 12);
	case 14:
		return mem_eq(name, "content-length", 14);
	case 15:
		return mem_eq(name, "accept-encoding", 15);
	case 16:
		return mem_eq(name, "content-encoding", 16);
	default:
		return 0;
	}
}

/* --- grpc-timeout --- */

int grpc_timeout_parse(const char *s, size_t len, int64_t *ms)
{
	int64_t v = 0;
	size_t i;

	if (len < 2 || len > 9)
		return GRPC_ERR_INVALID;
	for (i = 0; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GRPC_ERR_INVALID;
		v = v * 10 + (s[i] - '0');
	}
	/* 8 digits keep every product far below 2^63: 99999999 H is 3.6e14 ms. */
	switch (s[len - 1]) {
	case 'H': v *= 3600000; break;
	case 'M': v *= 60000; break;
	case 'S': v *= 1000; break;
	case 'm': break;
	case 'u': v = (v + 999) / 1000; break;
	case 'n': v = (v + 999999) / 1000000; break;
	default: return GRPC_ERR_INVALID;
	}
	*ms = v;
	return 0;
}

int grpc_timeout_format(int64_t ms, char out[GRPC_TIMEOUT_BUFSZ])
{
	static const struct { int64_t div; char unit; } units[] = {
		{1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'},
	};
	int64_t v = 0;
	char unit = 'H', digits[20];
	int n = 0, len = 0;

	if (ms < 0)
		ms = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		v = ms / units[i].div + (ms % units[i].div != 0);
		unit = units[i].unit;
		if (v <= 99999999)
			break;
	}
	if (v > 99999999)
		v = 99999999;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[len++] = digits[--n];
	out[len++] = unit;
	out[len] = '\0';
	return len;
}

/* --- percent-encoding --- */

static int needs_escape(uint8_t c)
{
	return c < 0x20 || c > 0x7e || c == '%';
}

size_t grpc_percent_encoded_len(const char *msg, size_t len)
{
	size_t n = len;

	for (size_t i = 0; i < len; i++)
		if (needs_escape((uint8_t)msg[i]))
			n += 2;
	return n;
}

int grpc_percent_encode(buf *out, const char *msg, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = grpc_percent_encoded_len(msg, len);
	uint8_t *p;

	if (buf_reserve(out, need) < 0)
		return GRPC_ERR_NOMEM;
	p = buf_tail(out);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)msg[i];
		if (needs_escape(c)) {
			*p++ = '%';
			*p++ = (uint8_t)hex[c >> 4];
			*p++ = (uint8_t)hex[c & 15];
		} else {
			*p++ = c;
		}
	}
	buf_commit(out, need);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t grpc_percent_decode(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		int hi, lo;
		if (in[i] == '%' && i + 2 < len &&
		    (hi = hexval(in[i + 1])) >= 0 && (lo = hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else {
			out[o++] = in[i++];
		}
	}
	return o;
}

/* --- messages --- */

void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

int grpc_msg_append(buf *out, const uint8_t *msg, size_t len)
{
	if (len > UINT32_MAX)
		return GRPC_ERR_TOO_LARGE;
	if (buf_reserve(out, GRPC_PREFIX_LEN + len) < 0)
		return GRPC_ERR_NOMEM;
	grpc_prefix_write(buf_tail(out), (uint32_t)len);
	if (len)
		memcpy(buf_tail(out) + GRPC_PREFIX_LEN, msg, len);
	buf_commit(out, GRPC_PREFIX_LEN + len);
	return 0;
}

void grpc_reader_init(grpc_reader *r, uint32_t max_len)
{
	memset(r, 0, sizeof(*r));
	r->max_len = max_len;
}

void grpc_reader_reset(grpc_reader *r)
{
	r->hdr_len = 0;
	r->need = 0;
	r->msg_len = 0;
	r->err = 0;
	r->messages = 0;
	buf_reset(&r->body);
}

void grpc_reader_free(grpc_reader *r)
{
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

int grpc_reader_idle(const grpc_reader *r)
{
	return r->hdr_len == 0;
}

static int reader_fail(grpc_reader *r, int err)
{
	r->err = err;
	return err;
}

int64_t grpc_reader_feed(grpc_reader *r, const uint8_t *in, size_t len, grpc_msg_cb cb, void *ctx)
{
	size_t i = 0;

	if (r->err)
		return r->err;
	while (i < len) {
		if (r->hdr_len < GRPC_PREFIX_LEN) {
			while (r->hdr_len < GRPC_PREFIX_LEN && i < len)
				r->hdr[r->hdr_len++] = in[i++];
			if (r->hdr_len < GRPC_PREFIX_LEN)
				break;
			if (r->hdr[0] & 0xfe)
				return reader_fail(r, GRPC_ERR_BAD_FLAG);
			r->msg_len = (uint32_t)r->hdr[1] << 24 | (uint32_t)r->hdr[2] << 16 |
			    (uint32_t)r->hdr[3] << 8 | r->hdr[4];
			if (r->hdr[0] & 1)
				return reader_fail(r, GRPC_ERR_COMPRESSED);
			if (r->msg_len > r->max_len)
				return reader_fail(r, GRPC_ERR_TOO_LARGE);
			r->need = r->msg_len;
			buf_reset(&r->body);
			if (r->need == 0 || len - i >= r->need) {
				/* Whole body in this chunk: hand it over in place. */
				const uint8_t *m = in + i;
				i += r->need;
				r->need = 0;
				r->hdr_len = 0;
				r->messages++;
				if (cb && cb(ctx, m, r->msg_len) != 0)
					return reader_fail(r, GRPC_ERR_CALLBACK);
				continue;
			}
			if (buf_reserve(&r->body, r->msg_len) < 0)
				return reader_fail(r, GRPC_ERR_NOMEM);
		}
		{
			size_t take = len - i < r->need ? len - i : r->need;
			buf_append(&r->body, in + i, take); /* reserved above: cannot fail */
			i += take;
			r->need -= (uint32_t)take;
			if (r->need)
				break;
			r->hdr_len = 0;
			r->messages++;
			if (cb && cb(ctx, buf_data(&r->body), buf_len(&r->body)) != 0)
				return reader_fail(r, GRPC_ERR_CALLBACK);
		}
	}
	return (int64_t)len;
}
