/*
 * Checks every string field of a serialized protobuf message against its
 * protobuf length, before protobuf-c turns it into a C string: proto3
 * `string` must be valid UTF-8, and a NUL byte inside would make the C
 * string a different (shorter) value from the one the client sent ("victim\0zzz"
 * acting on "victim").  Nested messages (and map entries) are walked with
 * their descriptors; bytes fields and unknown fields are skipped.
 * Sans-I/O, no allocation.
 */
#ifndef CPLANE_GRPC_PBSTRINGS_H
#define CPLANE_GRPC_PBSTRINGS_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

enum pbstrings_result {
	PBSTRINGS_OK = 0,		/* no string field is bad (structure is the unpacker's to judge) */
	PBSTRINGS_NUL = -1,		/* a string field holds a NUL byte */
	PBSTRINGS_BAD_UTF8 = -2,	/* a string field is not valid UTF-8 */
	PBSTRINGS_MALFORMED = -3,	/* the walk met a malformed message (the unpacker will refuse it too) */
};

/*
 * Walks msg[0..len) as a message of desc.  A message whose bytes are all
 * 0x01..0x7f is OK without a walk: every string in it is NUL-free ASCII,
 * so a malformed one is then left to the unpacker.  On a bad string returns
 * PBSTRINGS_NUL or PBSTRINGS_BAD_UTF8 with the field's dotted path
 * ("name", "spec.env.value") in path and the byte offset inside the string in
 * *at.  path may be NULL.
 */
enum pbstrings_result pbstrings_check(const ProtobufCMessageDescriptor *desc, const uint8_t *msg, size_t len,
    char *path, size_t pathsz, size_t *at);

/* Valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF)?  Returns -1 or the first bad offset. */
long pbstrings_utf8_bad_at(const uint8_t *p, size_t n);

#endif
