/*
 * Implementation notes.
 *
 * The walk reads only what the wire format needs — tag varints and
 * lengths — and visits each byte of the message once, so it costs less
 * than the unpack that follows.  Nesting is bounded (PBSTRINGS_MAX_DEPTH)
 * so a hostile message cannot recurse deeply; protobuf-c refuses deeper
 * messages anyway.  The path is built on the way down and cut back on the
 * way up, in the caller's buffer.
 */
#include "grpc/pbstrings.h"

#include <string.h>

#define PBSTRINGS_MAX_DEPTH 32

long pbstrings_utf8_bad_at(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t b = p[i];
		size_t need;
		uint32_t cp, min;
		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			need = 1, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			need = 2, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			need = 3, cp = b & 0x07, min = 0x10000;
		} else {
			return (long)i;
		}
		if (n - i <= need)
			return (long)i;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (long)i;
		i += need + 1;
	}
	return -1;
}

static int read_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;
		if (*off >= len)
			return -1;
		b = p[(*off)++];
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static void path_push(char *path, size_t pathsz, size_t *plen, const char *name)
{
	size_t n = strlen(name);

	if (path == NULL || pathsz == 0)
		return;
	if (*plen > 0 && *plen + 1 < pathsz)
		path[(*plen)++] = '.';
	if (*plen + n >= pathsz)
		n = pathsz - 1 - *plen;
	memcpy(path + *plen, name, n);
	*plen += n;
	path[*plen] = '\0';
}

static enum pbstrings_result walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, int depth,
    char *path, size_t pathsz, size_t plen, size_t *at)
{
	size_t off = 0;

	if (depth > PBSTRINGS_MAX_DEPTH)
		return PBSTRINGS_MALFORMED;
	while (off < len) {
		uint64_t key, n;
		const ProtobufCFieldDescriptor *f;
		if (read_varint(p, len, &off, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			return PBSTRINGS_MALFORMED;
		switch (key & 7) {
		case 0:	/* varint */
			if (read_varint(p, len, &off, &n) < 0)
				return PBSTRINGS_MALFORMED;
			continue;
		case 1:	/* fixed64 */
			if (len - off < 8)
				return PBSTRINGS_MALFORMED;
			off += 8;
			continue;
		case 5:	/* fixed32 */
			if (len - off < 4)
				return PBSTRINGS_MALFORMED;
			off += 4;
			continue;
		case 2:
			break;
		default:	/* groups: not in proto3 */
			return PBSTRINGS_MALFORMED;
		}
		if (read_varint(p, len, &off, &n) < 0 || n > len - off)
			return PBSTRINGS_MALFORMED;
		f = protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
		if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING) {
			const uint8_t *s = p + off;
			const uint8_t *nul = memchr(s, 0, (size_t)n);
			long bad = nul ? -1 : pbstrings_utf8_bad_at(s, (size_t)n);
			if (nul || bad >= 0) {
				path_push(path, pathsz, &plen, f->name);
				if (at)
					*at = nul ? (size_t)(nul - s) : (size_t)bad;
				return nul ? PBSTRINGS_NUL : PBSTRINGS_BAD_UTF8;
			}
		} else if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
			size_t keep = plen;
			enum pbstrings_result r;
			path_push(path, pathsz, &plen, f->name);
			r = walk(f->descriptor, p + off, (size_t)n, depth + 1, path, pathsz, plen, at);
			if (r != PBSTRINGS_OK)
				return r;
			plen = keep;
			if (path && pathsz)
				path[plen] = '\0';
		}
		off += (size_t)n;
	}
	return PBSTRINGS_OK;
}

/* Every byte in 0x01..0x7f: eight at a time (a zero byte or a high bit in the word). */
static int all_plain_ascii(const uint8_t *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x;

		memcpy(&x, p + i, 8);
		if ((((x - ones) & ~x) | x) & highs)
			return 0;
	}
	for (; i < n; i++)
		if (p[i] == 0 || p[i] >= 0x80)
			return 0;
	return 1;
}

enum pbstrings_result pbstrings_check(const ProtobufCMessageDescriptor *desc, const uint8_t *msg, size_t len,
    char *path, size_t pathsz, size_t *at)
{
	if (path && pathsz)
		path[0] = '\0';
	if (at)
		*at = 0;
	/* No NUL and no high bit anywhere: no string in it can be bad, wherever the fields are. */
	if (all_plain_ascii(msg, len))
		return PBSTRINGS_OK;
	return walk(desc, msg, len, 0, path, pathsz, 0, at);
}
