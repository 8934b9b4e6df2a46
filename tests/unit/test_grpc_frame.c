/* gRPC wire helpers: message framing fed at every split, grpc-timeout, percent-encoding, status names. */
#include "harness.h"

#include "grpc/grpc.h"

/* Collected messages, concatenated with a 1-byte separator count. */
typedef struct sink {
	buf all;
	int count;
	int stop_after;
} sink;

static int sink_cb(void *ctx, const uint8_t *msg, size_t len)
{
	sink *s = ctx;
	uint8_t l[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	buf_append(&s->all, l, 4);
	buf_append(&s->all, msg, len);
	s->count++;
	return s->stop_after && s->count >= s->stop_after;
}

/* Feeds `in` in pieces at the cut points; returns the last feed result. */
static int64_t feed_split(grpc_reader *r, sink *s, const uint8_t *in, size_t len, size_t cut1, size_t cut2)
{
	int64_t rc = 0;
	size_t cuts[4] = {0, cut1, cut2, len};
	for (int k = 0; k < 3; k++) {
		if (cuts[k + 1] < cuts[k])
			continue;
		rc = grpc_reader_feed(r, in + cuts[k], cuts[k + 1] - cuts[k], sink_cb, s);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static void test_reader_vectors(void)
{
	/* GetClusterRequest{name:"demo"}, an empty message, then a 3-byte one. */
	static const uint8_t in[] = {
		0x00, 0x00, 0x00, 0x00, 0x06, 0x0a, 0x04, 'd', 'e', 'm', 'o',
		0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c',
	};
	static const uint8_t want[] = {
		0, 0, 0, 6, 0x0a, 0x04, 'd', 'e', 'm', 'o',
		0, 0, 0, 0,
		0, 0, 0, 3, 'a', 'b', 'c',
	};
	size_t n = sizeof(in);

	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			grpc_reader r;
			sink s = {BUF_INIT, 0, 0};
			grpc_reader_init(&r, 100);
			CHECK_EQ_INT(feed_split(&r, &s, in, n, a, b) >= 0, 1);
			CHECK_EQ_INT(s.count, 3);
			CHECK_EQ_MEM(buf_data(&s.all), buf_len(&s.all), want, sizeof(want));
			CHECK(grpc_reader_idle(&r));
			CHECK_EQ_INT((int)r.messages, 3);
			grpc_reader_free(&r);
			buf_free(&s.all);
		}
	}
	/* Byte by byte. */
	{
		grpc_reader r;
		sink s = {BUF_INIT, 0, 0};
		grpc_reader_init(&r, 100);
		for (size_t i = 0; i < n; i++) {
			CHECK_EQ_INT(grpc_reader_feed(&r, in + i, 1, sink_cb, &s), 1);
			if (i == 3)
				CHECK(!grpc_reader_idle(&r));
		}
		CHECK_EQ_MEM(buf_data(&s.all), buf_len(&s.all), want, sizeof(want));
		grpc_reader_free(&r);
		buf_free(&s.all);
	}
}

static void test_reader_errors(void)
{
	static const uint8_t big[] = {0x00, 0x00, 0x00, 0x00, 0x65, 'x'};	/* 101 > 100 */
	static const uint8_t compressed[] = {0x01, 0x00, 0x00, 0x00, 0x01, 'x'};
	static const uint8_t badflag[] = {0x02, 0x00, 0x00, 0x00, 0x01, 'x'};
	static const uint8_t exact[] = {0x00, 0x00, 0x00, 0x00, 0x64};	/* 100: allowed */
	static const uint8_t two[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b'};
	grpc_reader r;
	sink s = {BUF_INIT, 0, 0};

	for (size_t cut = 0; cut <= sizeof(big); cut++) {
		grpc_reader_init(&r, 100);
		CHECK_EQ_INT(feed_split(&r, &s, big, sizeof(big), cut, cut), GRPC_ERR_TOO_LARGE);
		CHECK_EQ_INT(r.msg_len, 101);
		/* sticky */
		CHECK_EQ_INT(grpc_reader_feed(&r, exact, sizeof(exact), sink_cb, &s), GRPC_ERR_TOO_LARGE);
		grpc_reader_free(&r);
	}
	grpc_reader_init(&r, 100);
	CHECK_EQ_INT(grpc_reader_feed(&r, compressed, sizeof(compressed), sink_cb, &s), GRPC_ERR_COMPRESSED);
	grpc_reader_free(&r);
	grpc_reader_init(&r, 100);
	CHECK_EQ_INT(grpc_reader_feed(&r, badflag, sizeof(badflag), sink_cb, &s), GRPC_ERR_BAD_FLAG);
	grpc_reader_free(&r);
	grpc_reader_init(&r, 100);
	CHECK_EQ_INT(grpc_reader_feed(&r, exact, sizeof(exact), sink_cb, &s), (int)sizeof(exact));
	CHECK(!grpc_reader_idle(&r));
	grpc_reader_free(&r);
	/* callback stop after the first message, at every split */
	for (size_t cut = 0; cut <= sizeof(two); cut++) {
		sink s2 = {BUF_INIT, 0, 1};
		grpc_reader_init(&r, 100);
		CHECK_EQ_INT(feed_split(&r, &s2, two, sizeof(two), cut, cut), GRPC_ERR_CALLBACK);
		CHECK_EQ_INT(s2.count, 1);
		grpc_reader_free(&r);
		buf_free(&s2.all);
	}
	/* reset clears a sticky error */
	grpc_reader_init(&r, 100);
	CHECK(grpc_reader_feed(&r, big, sizeof(big), NULL, NULL) < 0);
	grpc_reader_reset(&r);
	CHECK_EQ_INT(grpc_reader_feed(&r, two, sizeof(two), NULL, NULL), (int)sizeof(two));
	CHECK_EQ_INT((int)r.messages, 2);
	grpc_reader_free(&r);
	buf_free(&s.all);
}

static void test_reader_large(void)
{
	/* A 4 MiB - 1 message fed in DATA-frame-sized pieces, then the limit +1. */
	size_t mlen = GRPC_DEFAULT_MAX_MSG;
	buf in = BUF_INIT;
	uint8_t *m = malloc(mlen);
	grpc_reader r;
	sink s = {BUF_INIT, 0, 0};

	for (size_t i = 0; i < mlen; i++)
		m[i] = (uint8_t)(i * 7);
	CHECK_EQ_INT(grpc_msg_append(&in, m, mlen), 0);
	CHECK_EQ_INT(buf_len(&in), mlen + 5);
	grpc_reader_init(&r, GRPC_DEFAULT_MAX_MSG);
	for (size_t off = 0; off < buf_len(&in); off += 16384) {
		size_t k = buf_len(&in) - off < 16384 ? buf_len(&in) - off : 16384;
		CHECK_EQ_INT(grpc_reader_feed(&r, buf_data(&in) + off, k, sink_cb, &s), (int64_t)k);
	}
	CHECK_EQ_INT(s.count, 1);
	CHECK_EQ_MEM(buf_data(&s.all) + 4, buf_len(&s.all) - 4, m, mlen);
	grpc_reader_free(&r);
	grpc_reader_init(&r, GRPC_DEFAULT_MAX_MSG - 1);
	CHECK_EQ_INT(grpc_reader_feed(&r, buf_data(&in), 5, sink_cb, &s), GRPC_ERR_TOO_LARGE);
	CHECK_EQ_INT(buf_len(&r.body), 0);	/* refused before buffering */
	grpc_reader_free(&r);
	buf_free(&in);
	buf_free(&s.all);
	free(m);
}

static void test_msg_append(void)
{
	static const uint8_t demo[] = {0x0a, 0x04, 'd', 'e', 'm', 'o'};
	static const uint8_t want[] = {0x00, 0x00, 0x00, 0x00, 0x06, 0x0a, 0x04, 'd', 'e', 'm', 'o',
		0x00, 0x00, 0x00, 0x00, 0x00};
	buf b = BUF_INIT;
	uint8_t p[5];

	CHECK_EQ_INT(grpc_msg_append(&b, demo, sizeof(demo)), 0);
	CHECK_EQ_INT(grpc_msg_append(&b, NULL, 0), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), want, sizeof(want));
	grpc_prefix_write(p, 0x01020304);
	CHECK_EQ_MEM(p, 5, "\x00\x01\x02\x03\x04", 5);
	buf_free(&b);
}

static void test_timeout_parse(void)
{
	static const struct { const char *in; int64_t ms; } ok[] = {
		{"1H", 3600000}, {"2M", 120000}, {"3S", 3000}, {"250m", 250}, {"0m", 0},
		{"1u", 1}, {"1000u", 1}, {"1001u", 2}, {"1n", 1}, {"1000000n", 1}, {"1000001n", 2},
		{"99999999H", 99999999LL * 3600000}, {"00000005S", 5000}, {"99999999n", 100},
		{"100m", 100}, {"0n", 0},
	};
	static const char *const bad[] = {
		"", "m", "1", "123456789S", "1s", "1h", "-1S", "+1S", " 1S", "1S ", "1.5S", "1x", "S1",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = -1;
		CHECK_EQ_INT(grpc_timeout_parse(ok[i].in, strlen(ok[i].in), &ms), 0);
		CHECK_EQ_INT(ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = -1;
		CHECK_EQ_INT(grpc_timeout_parse(bad[i], strlen(bad[i]), &ms), GRPC_ERR_INVALID);
	}
}

static void test_timeout_format(void)
{
	static const struct { int64_t ms; const char *out; } v[] = {
		{0, "0m"}, {-5, "0m"}, {1, "1m"}, {250, "250m"}, {99999999, "99999999m"},
		{100000000, "100000S"}, {100000001, "100001S"}, {99999999000LL, "99999999S"},
		{99999999001LL, "1666667M"}, {99999999LL * 60000 + 1, "1666667H"},
		{INT64_MAX, "99999999H"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[GRPC_TIMEOUT_BUFSZ];
		int n = grpc_timeout_format(v[i].ms, out);
		CHECK_EQ_STR(out, v[i].out);
		CHECK_EQ_INT(n, (int)strlen(v[i].out));
		/* round trip never shortens the timeout */
		int64_t back;
		CHECK_EQ_INT(grpc_timeout_parse(out, (size_t)n, &back), 0);
		CHECK(back >= (v[i].ms < 0 ? 0 : v[i].ms) || v[i].ms == INT64_MAX);
	}
}

static void test_percent(void)
{
	static const struct { const char *in; size_t len; const char *out; } v[] = {
		{"plain text", 10, "plain text"},
		{"100%", 4, "100%25"},
		{"a\nb", 3, "a%0Ab"},
		{"\xe2\x82\xac", 3, "%E2%82%AC"},
		{"~\x7f", 2, "~%7F"},
		{"\0x", 2, "%00x"},
		{"", 0, ""},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf b = BUF_INIT;
		char dec[64];
		CHECK_EQ_INT(grpc_percent_encode(&b, v[i].in, v[i].len), 0);
		CHECK_EQ_MEM(buf_data(&b), buf_len(&b), v[i].out, strlen(v[i].out));
		CHECK_EQ_INT(grpc_percent_encoded_len(v[i].in, v[i].len), strlen(v[i].out));
		size_t n = grpc_percent_decode((const char *)buf_data(&b), buf_len(&b), dec);
		CHECK_EQ_MEM(dec, n, v[i].in, v[i].len);
		buf_free(&b);
	}
	/* lenient decoding of malformed escapes; in place */
	static const struct { const char *in; const char *out; } d[] = {
		{"%", "%"}, {"%4", "%4"}, {"%zz", "%zz"}, {"%41%4", "A%4"}, {"%e2%82%ac", "\xe2\x82\xac"},
		{"a%%41", "a%A"},
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		char tmp[32];
		size_t len = strlen(d[i].in);
		memcpy(tmp, d[i].in, len);
		size_t n = grpc_percent_decode(tmp, len, tmp);
		CHECK_EQ_MEM(tmp, n, d[i].out, strlen(d[i].out));
	}
}

/* What the server keeps out of a call's metadata: pseudo-headers, grpc-*, HTTP's own fields. */
static void test_metadata_reserved(void)
{
	static const char *const yes[] = {
		":path", ":", "grpc-timeout", "grpc-", "grpc-status-details-bin", "te", "host", "user-agent",
		"connection", "content-type", "content-length", "accept-encoding", "content-encoding",
	};
	static const char *const no[] = {
		"", "t", "tf", "hosts", "hostx", "user-agenx", "connectiox", "content-typf", "content-lengtx",
		"accept-encodinx", "content-encodinx", "grpc", "grpcx", "grpc_timeout", "authorization",
		"x-user", "custom-bin", "teapot", "contenttype",
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK_EQ_INT(grpc_metadata_reserved(yes[i], strlen(yes[i])), 1);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK_EQ_INT(grpc_metadata_reserved(no[i], strlen(no[i])), 0);
	/* the length given is what counts, not a terminator */
	CHECK_EQ_INT(grpc_metadata_reserved("tea", 2), 1);
	CHECK_EQ_INT(grpc_metadata_reserved("te", 1), 0);
}

static void test_status(void)
{
	CHECK_EQ_STR(grpc_status_name(GRPC_OK), "OK");
	CHECK_EQ_STR(grpc_status_name(GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	CHECK_EQ_STR(grpc_status_name(GRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
	CHECK_EQ_STR(grpc_status_name(GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	CHECK(grpc_status_name(17) == NULL);
	CHECK(grpc_status_name(-1) == NULL);
	for (int i = 0; i <= GRPC_STATUS_MAX; i++)
		CHECK(grpc_status_name(i) != NULL);
	CHECK_EQ_INT(grpc_status_parse("0", 1), 0);
	CHECK_EQ_INT(grpc_status_parse("14", 2), 14);
	CHECK_EQ_INT(grpc_status_parse("", 0), -1);
	CHECK_EQ_INT(grpc_status_parse("1a", 2), -1);
	CHECK_EQ_INT(grpc_status_parse("-1", 2), -1);
	CHECK_EQ_INT(grpc_status_from_http(404), GRPC_UNIMPLEMENTED);
	CHECK_EQ_INT(grpc_status_from_http(503), GRPC_UNAVAILABLE);
	CHECK_EQ_INT(grpc_status_from_http(500), GRPC_UNKNOWN);
	CHECK(strcmp(grpc_strerror(GRPC_ERR_TOO_LARGE), "unknown error") != 0);
}

int main(void)
{
	RUN(test_reader_vectors);
	RUN(test_reader_errors);
	RUN(test_reader_large);
	RUN(test_msg_append);
	RUN(test_timeout_parse);
	RUN(test_timeout_format);
	RUN(test_percent);
	RUN(test_metadata_reserved);
	RUN(test_status);
	return harness_finish();
}
