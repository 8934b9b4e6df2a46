/*
 * grpc/pbstrings: every string field of a request checked with its
 * protobuf length (issue 18: "victim\0zzz" must not act on "victim"),
 * nested messages and map entries included, against byte-exact vectors.
 */
#include "harness.h"
#include "cplane/v1/cplane.pb-c.h"
#include "grpc/pbstrings.h"

#define CREATE (&cplane__v1__create_cluster_request__descriptor)
#define V(lit) ((const uint8_t *)(lit)), (sizeof(lit) - 1)

static enum pbstrings_result chk(const uint8_t *p, size_t n, char *path, size_t *at)
{
	return pbstrings_check(CREATE, p, n, path, 128, at);
}

static void test_clean_request_passes(void)
{
	char path[128];
	size_t at;

	/* name "demo", replicas 3, image "nginx:1.25", env {name "K", value "ünï"} */
	CHECK_EQ_INT(chk(V("\x0a\x04" "demo" "\x10\x03" "\x1a\x0a" "nginx:1.25"
	    "\x2a\x0b" "\x0a\x01K" "\x12\x06" "\xc3\xbcn\xc3\xaf" "x"), path, &at), PBSTRINGS_OK);
	CHECK_EQ_STR(path, "");
	CHECK_EQ_INT(chk(V(""), path, &at), PBSTRINGS_OK);
}

static void test_embedded_nul_names_the_field(void)
{
	char path[128];
	size_t at;

	CHECK_EQ_INT(chk(V("\x0a\x0a" "victim\0zzz"), path, &at), PBSTRINGS_NUL);
	CHECK_EQ_STR(path, "name");
	CHECK_EQ_INT(at, 6);
	CHECK_EQ_INT(chk(V("\x0a\x04" "demo" "\x1a\x08" "nginx\0:1"), path, &at), PBSTRINGS_NUL);
	CHECK_EQ_STR(path, "image");
	CHECK_EQ_INT(at, 5);
	/* nested: env[1].value */
	CHECK_EQ_INT(chk(V("\x2a\x06" "\x0a\x01K" "\x12\x01v" "\x2a\x07" "\x0a\x01J" "\x12\x02\0v"), path, &at),
	    PBSTRINGS_NUL);
	CHECK_EQ_STR(path, "env.value");
	CHECK_EQ_INT(at, 0);
	/* a map entry's key (labels = 9) */
	CHECK_EQ_INT(chk(V("\x4a\x07" "\x0a\x02" "a\0" "\x12\x01" "b"), path, &at), PBSTRINGS_NUL);
	CHECK_EQ_STR(path, "labels.key");
}

static void test_invalid_utf8_names_the_field(void)
{
	char path[128];
	size_t at;

	CHECK_EQ_INT(chk(V("\x0a\x03" "a\xffz"), path, &at), PBSTRINGS_BAD_UTF8);
	CHECK_EQ_STR(path, "name");
	CHECK_EQ_INT(at, 1);
	/* overlong '/', a surrogate, past U+10FFFF, a truncated sequence: all refused */
	CHECK_EQ_INT(chk(V("\x1a\x02" "\xc0\xaf"), path, &at), PBSTRINGS_BAD_UTF8);
	CHECK_EQ_STR(path, "image");
	CHECK_EQ_INT(chk(V("\x1a\x03" "\xed\xa0\x80"), path, &at), PBSTRINGS_BAD_UTF8);
	CHECK_EQ_INT(chk(V("\x1a\x04" "\xf4\x90\x80\x80"), path, &at), PBSTRINGS_BAD_UTF8);
	CHECK_EQ_INT(chk(V("\x1a\x02" "a\xe2"), path, &at), PBSTRINGS_BAD_UTF8);
	CHECK_EQ_INT(at, 1);
	/* the largest code point and a 4-byte emoji are fine */
	CHECK_EQ_INT(chk(V("\x1a\x08" "\xf4\x8f\xbf\xbf" "\xf0\x9f\x98\x80"), path, &at), PBSTRINGS_OK);
	/* resources.cpu_limit (4 → 3) */
	CHECK_EQ_INT(chk(V("\x22\x04" "\x1a\x02" "\x80" "1"), path, &at), PBSTRINGS_BAD_UTF8);
	CHECK_EQ_STR(path, "resources.cpu_limit");
}

static void test_malformed_and_every_prefix(void)
{
	static const uint8_t msg[] = "\x0a\x04" "demo" "\x10\x03" "\x2a\x06" "\x0a\x01K" "\x12\x01v";
	char path[128];
	size_t at;

	/* with a NUL or a high bit somewhere the message is walked, and its structure judged */
	CHECK_EQ_INT(chk(V("\x0a\x85\x01" "demo"), path, &at), PBSTRINGS_MALFORMED);	/* length past the end */
	CHECK_EQ_INT(chk(V("\x0b\x80"), path, &at), PBSTRINGS_MALFORMED);	/* group */
	CHECK_EQ_INT(chk(V("\x10\x80"), path, &at), PBSTRINGS_MALFORMED);	/* varint cut */
	CHECK_EQ_INT(chk(V("\x0a\x06" "demo\0"), path, &at), PBSTRINGS_MALFORMED);
	/* all 0x01..0x7f: no string in it can be bad, so it is not walked; the unpacker judges it */
	CHECK_EQ_INT(chk(V("\x0a\x05" "demo"), path, &at), PBSTRINGS_OK);
	CHECK_EQ_INT(chk(V("\x0b"), path, &at), PBSTRINGS_OK);
	CHECK_EQ_INT(chk(V("\x10"), path, &at), PBSTRINGS_OK);
	/* a NUL or high byte in any of the eight lanes of a word, or in the tail, means a walk */
	for (size_t pos = 0; pos < 11; pos++) {
		uint8_t m[11] = "\x0a\x09" "abcdefghi";

		m[pos] = 0x80;
		CHECK(chk(m, sizeof(m), path, &at) != PBSTRINGS_OK);
		m[pos] = pos >= 2 ? 0 : 0x80;
		CHECK(chk(m, sizeof(m), path, &at) != PBSTRINGS_OK);
	}
	/* every prefix is either fine (ends on a field boundary) or malformed: never a false NUL/UTF-8 */
	for (size_t n = 0; n <= sizeof(msg) - 1; n++) {
		enum pbstrings_result r = chk(msg, n, path, &at);
		CHECK(r == PBSTRINGS_OK || r == PBSTRINGS_MALFORMED);
	}
	/* unknown fields are skipped */
	CHECK_EQ_INT(chk(V("\xfa\x01\x03" "\0\0\0" "\x0a\x01" "a"), path, &at), PBSTRINGS_OK);
}

int main(void)
{
	RUN(test_clean_request_passes);
	RUN(test_embedded_nul_names_the_field);
	RUN(test_invalid_utf8_names_the_field);
	RUN(test_malformed_and_every_prefix);
	return harness_finish();
}
