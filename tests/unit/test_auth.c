/* src/auth: the authorization-header parser and the review cache (TTL, LRU, reviews in flight). */
#include "harness.h"

#include "auth/bearer.h"
#include "auth/cache.h"
#include "auth/siphash.h"

static int parse_str(const char *s, const char **tok, size_t *n)
{
	return auth_bearer_parse(s, s ? strlen(s) : 0, tok, n);
}

static void check_token(const char *value, const char *want)
{
	const char *tok;
	size_t n;

	CHECK_EQ_INT(parse_str(value, &tok, &n), 0);
	CHECK_EQ_MEM(tok, n, want, strlen(want));
	CHECK(tok >= value && tok + n <= value + strlen(value));	/* a view, not a copy */
}

static void check_refused(const char *value, int want)
{
	const char *tok = "x";
	size_t n = 1;

	CHECK_EQ_INT(parse_str(value, &tok, &n), want);
	CHECK(tok == NULL);
	CHECK_EQ_INT(n, 0);
}

static void test_bearer_accepted(void)
{
	check_token("Bearer abc", "abc");
	check_token("bearer abc", "abc");
	check_token("BEARER abc", "abc");
	check_token("bEaReR a.b-c_d~e+f/g==", "a.b-c_d~e+f/g==");
	check_token("  Bearer   abc \t", "abc");
	check_token("\tBearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrIn0.c2ln", "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrIn0.c2ln");
	check_token("Bearer !\"#$%&'()*,:;<>?@[\\]^`{|}", "!\"#$%&'()*,:;<>?@[\\]^`{|}");
}

static void test_bearer_malformed(void)
{
	check_refused(NULL, AUTH_BEARER_MISSING);
	check_refused("", AUTH_BEARER_MISSING);
	check_refused("   \t ", AUTH_BEARER_MISSING);
	check_refused("Basic dXNlcjpwYXNz", AUTH_BEARER_SCHEME);
	check_refused("Token abc", AUTH_BEARER_SCHEME);
	check_refused("abc", AUTH_BEARER_SCHEME);
	check_refused("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrIn0.c2ln", AUTH_BEARER_SCHEME);	/* a bare token */
	check_refused("Bearerabc", AUTH_BEARER_SCHEME);
	check_refused("Bearer\tabc", AUTH_BEARER_SCHEME);
	check_refused("Beare abc", AUTH_BEARER_SCHEME);
	check_refused("Bearer", AUTH_BEARER_EMPTY);
	check_refused("Bearer ", AUTH_BEARER_EMPTY);
	check_refused("Bearer    ", AUTH_BEARER_EMPTY);
	check_refused("Bearer abc def", AUTH_BEARER_BAD_CHAR);
	check_refused("Bearer abc\tdef", AUTH_BEARER_BAD_CHAR);
	check_refused("Bearer abc\x01", AUTH_BEARER_BAD_CHAR);
	check_refused("Bearer a\x7f", AUTH_BEARER_BAD_CHAR);
	check_refused("Bearer t\xc3\xa9st", AUTH_BEARER_NON_ASCII);
	check_refused("Bearer \xff", AUTH_BEARER_NON_ASCII);
	check_refused("Bearer a b\xc3\xa9", AUTH_BEARER_NON_ASCII);	/* non-ASCII reported first */
	/* A NUL inside the value (HPACK allows any octet) is a control character. */
	{
		const char v[] = "Bearer ab\0cd";
		const char *tok;
		size_t n;
		CHECK_EQ_INT(auth_bearer_parse(v, sizeof(v) - 1, &tok, &n), AUTH_BEARER_BAD_CHAR);
	}
	/* Every reason reads as the tail of "missing bearer token: ..." and never quotes input. */
	for (int e = AUTH_BEARER_BAD_CHAR; e <= AUTH_BEARER_MISSING; e++)
		CHECK(auth_bearer_strerror(e)[0] != '\0');
	CHECK_EQ_STR(auth_bearer_strerror(0), "");
}

static void test_bearer_length_bound(void)
{
	size_t cap = 7 + AUTH_BEARER_MAX + 1;
	char *v = malloc(cap + 1);
	const char *tok;
	size_t n;

	CHECK(v != NULL);
	memcpy(v, "Bearer ", 7);
	memset(v + 7, 'a', AUTH_BEARER_MAX + 1);
	CHECK_EQ_INT(auth_bearer_parse(v, 7 + AUTH_BEARER_MAX, &tok, &n), 0);
	CHECK_EQ_INT(n, AUTH_BEARER_MAX);
	CHECK_EQ_INT(auth_bearer_parse(v, cap, &tok, &n), AUTH_BEARER_TOO_LONG);
	v[cap - 1] = (char)0xc3;	/* too long wins over what the bytes are */
	CHECK_EQ_INT(auth_bearer_parse(v, cap, &tok, &n), AUTH_BEARER_TOO_LONG);
	free(v);
}

/* Every prefix of a good value is refused or parses to a prefix of the token: nothing reads past len. */
static void test_bearer_every_prefix(void)
{
	const char full[] = "Bearer abc.def";
	for (size_t len = 0; len < sizeof(full) - 1; len++) {
		char *copy = malloc(len ? len : 1);	/* exact size: ASan catches a read past it */
		const char *tok;
		size_t n;
		int rc;

		memcpy(copy, full, len);
		rc = auth_bearer_parse(copy, len, &tok, &n);
		if (len < 8)
			CHECK(rc < 0);
		else
			CHECK(rc == 0 && n == len - 7 && memcmp(tok, "abc.def", n) == 0);
		free(copy);
	}
}

/* ------------------------------------------------------------------ cache */

static int freed;
static void free_value(void *v)
{
	freed++;
	free(v);
}

static void key_of(uint8_t key[AUTH_KEY_LEN], unsigned n)
{
	/* Keys look like digests: the low bytes spread.  Two keys differing only
	 * in the last byte share a bucket, so chains are exercised too. */
	memset(key, 0, AUTH_KEY_LEN);
	key[0] = (uint8_t)(n * 37);
	key[1] = (uint8_t)(n >> 8);
	key[31] = (uint8_t)n;
}

static int *intval(int v)
{
	int *p = malloc(sizeof(*p));
	*p = v;
	return p;
}

static void test_cache_ttl(void)
{
	auth_cache *c = auth_cache_new(8, free_value);
	uint8_t k[AUTH_KEY_LEN];
	void *v;

	freed = 0;
	key_of(k, 1);
	CHECK_EQ_INT(auth_cache_get(c, k, 0, &v), AUTH_CACHE_MISS);
	CHECK(v == NULL);
	auth_cache_begin(c, k);
	CHECK_EQ_INT(auth_cache_get(c, k, 0, &v), AUTH_CACHE_PENDING);
	CHECK(auth_cache_finish(c, k, intval(42), 60000, 1000) == NULL);
	CHECK_EQ_INT(auth_cache_get(c, k, 1000, &v), AUTH_CACHE_HIT);
	CHECK_EQ_INT(*(int *)v, 42);
	CHECK_EQ_INT(auth_cache_get(c, k, 60999, &v), AUTH_CACHE_HIT);
	CHECK_EQ_INT(auth_cache_get(c, k, 61000, &v), AUTH_CACHE_MISS);	/* expired at exactly now + ttl */
	CHECK_EQ_INT(freed, 1);
	/* A denial kept 10 s beside an allowance kept 60 s: each its own lifetime. */
	uint8_t k2[AUTH_KEY_LEN];
	key_of(k2, 2);
	auth_cache_begin(c, k);
	auth_cache_begin(c, k2);
	auth_cache_finish(c, k, intval(1), 60000, 0);
	auth_cache_finish(c, k2, intval(0), 10000, 0);
	CHECK_EQ_INT(auth_cache_get(c, k2, 9999, &v), AUTH_CACHE_HIT);
	CHECK_EQ_INT(auth_cache_get(c, k2, 10000, &v), AUTH_CACHE_MISS);
	CHECK_EQ_INT(auth_cache_get(c, k, 10000, &v), AUTH_CACHE_HIT);
	auth_cache_stats st;
	auth_cache_get_stats(c, &st);
	CHECK_EQ_INT(st.answers, 1);
	CHECK_EQ_INT(st.expired, 2);
	CHECK_EQ_INT(st.in_flight, 0);
	auth_cache_free(c);
	CHECK_EQ_INT(freed, 3);
}

static void test_cache_not_cached(void)
{
	auth_cache *c = auth_cache_new(8, free_value);
	uint8_t k[AUTH_KEY_LEN];
	auth_wait w1 = {0}, w2 = {0};
	void *v;

	freed = 0;
	key_of(k, 7);
	auth_cache_begin(c, k);
	CHECK_EQ_INT(auth_cache_wait(c, k, &w1), 0);
	CHECK_EQ_INT(auth_cache_wait(c, k, &w2), 0);
	/* The review failed: the waiters are told, nothing is kept, the next ask starts over. */
	auth_wait *list = auth_cache_finish(c, k, NULL, 60000, 0);
	CHECK(list == &w1 && w1.next == &w2 && w2.next == NULL);
	CHECK(w1.entry == NULL && w2.entry == NULL);
	CHECK_EQ_INT(auth_cache_get(c, k, 1, &v), AUTH_CACHE_MISS);
	/* ttl 0 with a value: freed, not kept. */
	auth_cache_begin(c, k);
	CHECK(auth_cache_finish(c, k, intval(5), 0, 0) == NULL);
	CHECK_EQ_INT(freed, 1);
	CHECK_EQ_INT(auth_cache_get(c, k, 1, &v), AUTH_CACHE_MISS);
	/* finish without a review in flight frees the value and reports nobody. */
	CHECK(auth_cache_finish(c, k, intval(6), 1000, 0) == NULL);
	CHECK_EQ_INT(freed, 2);
	/* wait with nothing in flight is refused. */
	CHECK_EQ_INT(auth_cache_wait(c, k, &w1), -1);
	auth_cache_free(c);
}

static void test_cache_lru(void)
{
	enum { CAP = 4096 };
	auth_cache *c = auth_cache_new(CAP, free_value);
	uint8_t k[AUTH_KEY_LEN];
	void *v;
	auth_cache_stats st;
	int hits = 0;

	freed = 0;
	for (unsigned i = 0; i < CAP; i++) {
		key_of(k, i);
		auth_cache_begin(c, k);
		auth_cache_finish(c, k, intval((int)i), 60000, 0);
	}
	auth_cache_get_stats(c, &st);
	CHECK_EQ_INT(st.answers, CAP);
	CHECK_EQ_INT(st.evicted, 0);
	/* Touch key 0: now key 1 is the least recently used. */
	key_of(k, 0);
	CHECK_EQ_INT(auth_cache_get(c, k, 1, &v), AUTH_CACHE_HIT);
	key_of(k, CAP);
	auth_cache_begin(c, k);
	/* A review in flight does not count against cap and is never evicted. */
	auth_cache_get_stats(c, &st);
	CHECK_EQ_INT(st.answers, CAP);
	CHECK_EQ_INT(st.in_flight, 1);
	auth_cache_finish(c, k, intval(CAP), 60000, 0);
	auth_cache_get_stats(c, &st);
	CHECK_EQ_INT(st.answers, CAP);
	CHECK_EQ_INT(st.evicted, 1);
	CHECK_EQ_INT(freed, 1);
	key_of(k, 1);
	CHECK_EQ_INT(auth_cache_get(c, k, 2, &v), AUTH_CACHE_MISS);
	key_of(k, 0);
	CHECK_EQ_INT(auth_cache_get(c, k, 2, &v), AUTH_CACHE_HIT);
	for (unsigned i = 2; i <= CAP; i++) {
		key_of(k, i);
		if (auth_cache_get(c, k, 3, &v) == AUTH_CACHE_HIT && *(int *)v == (int)i)
			hits++;
	}
	CHECK_EQ_INT(hits, CAP - 1);
	/* Many more: the cache stays at cap. */
	for (unsigned i = CAP + 1; i < 3 * CAP; i++) {
		key_of(k, i);
		auth_cache_begin(c, k);
		auth_cache_finish(c, k, intval((int)i), 60000, 0);
	}
	auth_cache_get_stats(c, &st);
	CHECK_EQ_INT(st.answers, CAP);
	CHECK_EQ_INT(st.evicted, 2 * CAP);
	auth_cache_free(c);
	CHECK_EQ_INT(freed, 3 * CAP);
}

static void test_cache_in_flight_sharing(void)
{
	auth_cache *c = auth_cache_new(16, free_value);
	uint8_t k[AUTH_KEY_LEN], other[AUTH_KEY_LEN];
	auth_wait w[100];
	void *v;
	int reviews = 0, order_ok = 1, n = 0;

	memset(w, 0, sizeof(w));
	key_of(k, 3);
	key_of(other, 3 + 256 * 256);	/* same first bytes as k but for byte 1: another key */
	other[1] ^= 0x55;
	/* 100 callers with one new key: the first starts the review, the rest join it. */
	for (int i = 0; i < 100; i++) {
		switch (auth_cache_get(c, k, 0, &v)) {
		case AUTH_CACHE_MISS:
			reviews++;
			auth_cache_begin(c, k);
			/* fall through */
		case AUTH_CACHE_PENDING:
			CHECK_EQ_INT(auth_cache_wait(c, k, &w[i]), 0);
			break;
		default:
			CHECK(0);
		}
	}
	CHECK_EQ_INT(reviews, 1);
	/* A caller that went away leaves the list; others keep their place. */
	auth_cache_unwait(&w[0]);
	auth_cache_unwait(&w[50]);
	auth_cache_unwait(&w[99]);
	auth_cache_unwait(&w[50]);	/* twice is fine */
	CHECK_EQ_INT(auth_cache_get(c, other, 0, &v), AUTH_CACHE_MISS);
	auth_wait *list = auth_cache_finish(c, k, intval(1), 60000, 0);
	for (auth_wait *x = list, *prev = NULL; x; prev = x, x = x->next) {
		if (prev && prev >= x)
			order_ok = 0;
		if (x == &w[0] || x == &w[50] || x == &w[99])
			order_ok = 0;
		n++;
	}
	CHECK(order_ok);
	CHECK_EQ_INT(n, 97);
	CHECK_EQ_INT(auth_cache_get(c, k, 1, &v), AUTH_CACHE_HIT);
	/* Freeing a cache with a review in flight forgets its waiters. */
	auth_wait lone = {0};
	auth_cache_begin(c, other);
	auth_cache_wait(c, other, &lone);
	auth_cache_free(c);
}

/* The paper's vectors: key 00..0f; the empty message, and 00..0e (its worked example). */
static void test_siphash_vectors(void)
{
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	CHECK(auth_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(auth_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
	CHECK(auth_siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
	/* Every length differs from its neighbours (the length is in the last word). */
	for (size_t n = 1; n < 64; n++)
		CHECK(auth_siphash24(key, msg, n) != auth_siphash24(key, msg, n - 1));
}

int main(void)
{
	RUN(test_siphash_vectors);
	RUN(test_bearer_accepted);
	RUN(test_bearer_malformed);
	RUN(test_bearer_length_bound);
	RUN(test_bearer_every_prefix);
	RUN(test_cache_ttl);
	RUN(test_cache_not_cached);
	RUN(test_cache_lru);
	RUN(test_cache_in_flight_sharing);
	return harness_finish();
}
