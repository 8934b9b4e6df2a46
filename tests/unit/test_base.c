/* Buffers, strings, durations, clock formatting, flags. */
#include "harness.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/flags.h"
#include "base/htab.h"
#include "base/str.h"

static void test_buf_append_consume(void)
{
	buf b = BUF_INIT;

	CHECK_EQ_INT(buf_len(&b), 0);
	CHECK_EQ_INT(buf_append(&b, "hello", 5), 0);
	CHECK_EQ_INT(buf_append_str(&b, " world"), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "hello world", 11);
	buf_consume(&b, 6);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "world", 5);
	CHECK_EQ_INT(buf_printf(&b, "-%d-%s", 42, "x"), 0);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "world-42-x", 10);
	buf_consume(&b, buf_len(&b));
	CHECK_EQ_INT(buf_len(&b), 0);
	CHECK_EQ_INT(b.start, 0);
	buf_free(&b);
	CHECK(b.base == NULL);
}

static void test_buf_grow_compacts(void)
{
	buf b = BUF_INIT;
	uint8_t chunk[100];
	size_t cap;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	/* Consume as fast as we append: storage must stay bounded by compaction. */
	for (int i = 0; i < 1000; i++) {
		CHECK_EQ_INT(buf_append(&b, chunk, sizeof(chunk)), 0);
		CHECK_EQ_MEM(buf_data(&b), buf_len(&b), chunk, sizeof(chunk));
		buf_consume(&b, 60);
		buf_consume(&b, 40);
	}
	cap = b.cap;
	CHECK(cap <= 512);
	/* Partial consumption then growth keeps the bytes in order. */
	buf_reset(&b);
	CHECK_EQ_INT(buf_append(&b, "abcdef", 6), 0);
	buf_consume(&b, 2);
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(buf_append(&b, chunk, sizeof(chunk)), 0);
	CHECK_EQ_MEM(buf_data(&b), 4, "cdef", 4);
	CHECK_EQ_INT(buf_len(&b), 4 + 100 * sizeof(chunk));
	CHECK_EQ_MEM(buf_data(&b) + 4 + 99 * sizeof(chunk), sizeof(chunk), chunk, sizeof(chunk));
	buf_free(&b);
}

static void test_buf_limit_and_detach(void)
{
	buf b = BUF_INIT;
	uint8_t *p;
	size_t n;

	buf_set_limit(&b, 8);
	CHECK_EQ_INT(buf_append(&b, "12345678", 8), 0);
	CHECK_EQ_INT(buf_append(&b, "9", 1), -1);
	CHECK_EQ_INT(buf_len(&b), 8);	/* unchanged on failure */
	buf_consume(&b, 3);
	p = buf_detach(&b, &n);
	CHECK_EQ_MEM(p, n, "45678", 5);
	CHECK(b.base == NULL);
	free(p);
	/* reserve + commit for read(2)-style filling */
	CHECK_EQ_INT(buf_reserve(&b, 1000), 0);
	CHECK(buf_tail_room(&b) >= 1000);
	memcpy(buf_tail(&b), "xyz", 3);
	buf_commit(&b, 3);
	CHECK_EQ_MEM(buf_data(&b), buf_len(&b), "xyz", 3);
	buf_free(&b);
}

static void test_str_helpers(void)
{
	int64_t v;

	CHECK(str_eq(STR_LIT("abc"), str_from_cstr("abc")));
	CHECK(!str_eq(STR_LIT("abc"), STR_LIT("abd")));
	CHECK(str_case_eq(STR_LIT("Content-Type"), STR_LIT("content-type")));
	CHECK(str_has_prefix(STR_LIT("grpc-timeout"), STR_LIT("grpc-")));
	CHECK_EQ_INT(str_to_i64(STR_LIT("9223372036854775807"), &v), 0);
	CHECK_EQ_INT(v, INT64_MAX);
	CHECK_EQ_INT(str_to_i64(STR_LIT("-9223372036854775808"), &v), 0);
	CHECK(v == INT64_MIN);
	CHECK_EQ_INT(str_to_i64(STR_LIT("9223372036854775808"), &v), -1);
	CHECK_EQ_INT(str_to_i64(STR_LIT(""), &v), -1);
	CHECK_EQ_INT(str_to_i64(STR_LIT("-"), &v), -1);
	CHECK_EQ_INT(str_to_i64(STR_LIT("12a"), &v), -1);
}

static void test_str_errf(void)
{
	char err[8];

	memset(err, 'x', sizeof(err));
	str_errf(err, sizeof(err), "%s %d", "bad", 42);
	CHECK(strcmp(err, "bad 42") == 0);
	str_errf(err, sizeof(err), "key %s too long", "k");	/* truncated, still terminated */
	CHECK(strcmp(err, "key k t") == 0);
	str_errf(NULL, 10, "%s", "ignored");
	err[0] = 'z';
	str_errf(err, 0, "%s", "ignored");
	CHECK(err[0] == 'z');
}

static void test_durations(void)
{
	static const struct { const char *in; int64_t ms; } ok[] = {
		{ "5m", 300000 }, { "2m30s", 150000 }, { "1.5s", 1500 }, { "250ms", 250 },
		{ "10", 10000 }, { "1h", 3600000 }, { "1500us", 2 }, { "0s", 0 },
	};
	static const char *const bad[] = { "", "m", "5x", "1.5", "5m10", "-1s", "s5" };
	int64_t ms;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_EQ_INT(str_parse_duration_ms(ok[i].in, &ms), 0);
		CHECK_EQ_INT(ms, ok[i].ms);
	}
	/* "1.5" alone is seconds, so it is fine; the rest must fail */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strcmp(bad[i], "1.5") == 0) {
			CHECK_EQ_INT(str_parse_duration_ms(bad[i], &ms), 0);
			CHECK_EQ_INT(ms, 1500);
			continue;
		}
		CHECK_EQ_INT(str_parse_duration_ms(bad[i], &ms), -1);
	}
}

static void test_rfc3339(void)
{
	char out[32];
	int64_t ms;

	clock_format_rfc3339(1674483619, out, sizeof(out));
	CHECK_EQ_STR(out, "2023-01-23T14:20:19Z");
	clock_format_rfc3339(0, out, sizeof(out));
	CHECK_EQ_STR(out, "1970-01-01T00:00:00Z");
	clock_format_rfc3339(951782400, out, sizeof(out));	/* leap day */
	CHECK_EQ_STR(out, "2000-02-29T00:00:00Z");
	CHECK_EQ_INT(clock_parse_rfc3339("2023-01-23T14:20:19Z", 20, &ms), 0);
	CHECK_EQ_INT(ms, 1674483619000LL);
	CHECK_EQ_INT(clock_parse_rfc3339("2023-01-23T14:20:19.250Z", 24, &ms), 0);
	CHECK_EQ_INT(ms, 1674483619250LL);
	CHECK_EQ_INT(clock_parse_rfc3339("2023-13-23T14:20:19Z", 20, &ms), -1);
	CHECK_EQ_INT(clock_parse_rfc3339("2023-01-23 14:20:19Z", 20, &ms), -1);
	CHECK_EQ_INT(clock_parse_rfc3339("2023-01-23T14:20:19", 19, &ms), -1);
	CHECK(clock_mono_ms() > 0);
}

static const char *check_even(const char *v)
{
	return strlen(v) % 2 ? "want an even length" : NULL;
}

static void test_flags(void)
{
	const char *s = NULL, *e = NULL;
	int64_t n = 7, d = 0;
	int b = 0;
	const struct flag_def defs[] = {
		{ "name", FLAG_STRING, &s, "a name", 0, 0, NULL },
		{ "count", FLAG_INT, &n, "a count", 1, 10, NULL },
		{ "wait", FLAG_DURATION, &d, "a duration", 0, 0, NULL },
		{ "verbose", FLAG_BOOL, &b, "more output", 0, 0, NULL },
		{ "even", FLAG_STRING, &e, "even", 0, 0, check_even },
	};
	char *argv1[] = { "prog", "--name", "x", "pos1", "--count=3", "--wait", "2m", "--verbose", "pos2", NULL };
	char *argv2[] = { "prog", "--bogus", NULL };
	char *argv3[] = { "prog", "--count", "11", NULL };
	char *argv4[] = { "prog", "--count", NULL };
	char *argv5[] = { "prog", "--even=abc", NULL };
	char *argv6[] = { "prog", "--no-verbose", "--", "--name", NULL };
	char *pos[4], err[256];
	size_t np;

	CHECK_EQ_INT(flags_parse(defs, 5, 9, argv1, pos, 4, &np, err, sizeof(err)), 0);
	CHECK_EQ_STR(s, "x");
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(d, 120000);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(np, 2);
	CHECK_EQ_STR(pos[0], "pos1");
	CHECK_EQ_STR(pos[1], "pos2");
	CHECK_EQ_INT(flags_parse(defs, 5, 2, argv2, pos, 4, &np, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "unknown flag --bogus");
	CHECK_EQ_INT(flags_parse(defs, 5, 3, argv3, pos, 4, &np, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "bad value for --count: \"11\" (want 1 to 10)");
	CHECK_EQ_INT(flags_parse(defs, 5, 2, argv4, pos, 4, &np, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "flag --count needs a value");
	CHECK_EQ_INT(flags_parse(defs, 5, 2, argv5, pos, 4, &np, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "bad value for --even: \"abc\" (want an even length)");
	CHECK_EQ_INT(flags_parse(defs, 5, 4, argv6, pos, 4, &np, err, sizeof(err)), 0);
	CHECK_EQ_INT(b, 0);
	CHECK_EQ_INT(np, 1);
	CHECK_EQ_STR(pos[0], "--name");
	/* Environment fills in; the command line wins over it. */
	setenv("CPLANE_COUNT", "5", 1);
	setenv("CPLANE_NAME", "fromenv", 1);
	CHECK_EQ_INT(flags_parse(defs, 5, 3, (char *[]){ "prog", "--name", "cli", NULL }, pos, 4, &np, err,
	    sizeof(err)), 0);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_STR(s, "cli");
	setenv("CPLANE_COUNT", "zero", 1);
	CHECK_EQ_INT(flags_parse(defs, 5, 1, argv1, pos, 4, &np, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "bad value for --count: \"zero\" (want an integer) (from CPLANE_COUNT)");
	unsetenv("CPLANE_COUNT");
	unsetenv("CPLANE_NAME");
}

/* FNV-1a: the published 32-bit test vectors. */
static void test_fnv1a(void)
{
	CHECK_EQ_INT(base_fnv1a_str(""), 0x811c9dc5u);
	CHECK_EQ_INT(base_fnv1a_str("a"), 0xe40c292cu);
	CHECK_EQ_INT(base_fnv1a_str("foobar"), 0xbf9cf968u);
	CHECK_EQ_INT(base_fnv1a(BASE_FNV1A_INIT, "foobar", 6), 0xbf9cf968u);
	CHECK_EQ_INT(base_fnv1a(base_fnv1a(BASE_FNV1A_INIT, "foo", 3), "bar", 3), 0xbf9cf968u);
}

struct hrec {
	char name[16];
};

static const char *hrec_key(const void *r)
{
	return ((const struct hrec *)r)->name;
}

/*
 * Against a plain array as the reference: random inserts and removals over a
 * small key space (long probe runs, wrap-around at the end of the slot
 * array, every backward-shift case), then lookups of every key.
 */
static void test_htab_random(void)
{
	enum { KEYS = 3000 };
	static struct hrec recs[KEYS];
	static char in[KEYS];
	htab t;
	uint32_t x = 7;
	size_t bad = 0, n = 0, pos = 0;
	void *r;

	htab_init(&t, hrec_key);
	CHECK(htab_find(&t, "absent") == NULL);
	CHECK(htab_remove(&t, "absent") == NULL);
	for (int i = 0; i < KEYS; i++)
		snprintf(recs[i].name, sizeof(recs[i].name), "k%d", i);
	for (int step = 0; step < 200000; step++) {
		int i;

		x = x * 1103515245u + 12345u;
		i = (int)((x >> 8) % KEYS);
		if (in[i]) {
			if (htab_remove(&t, recs[i].name) != &recs[i])
				bad++;
			in[i] = 0;
		} else {
			htab_insert(&t, &recs[i]);
			in[i] = 1;
		}
		if (step % 997 == 0) {
			for (int k = 0; k < KEYS; k++)
				if ((htab_find(&t, recs[k].name) == &recs[k]) != in[k])
					bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	for (int k = 0; k < KEYS; k++)
		n += in[k];
	CHECK_EQ_INT(t.count, n);
	CHECK(t.count * 4 <= t.cap * 3);
	/* Iteration sees each record once. */
	n = 0;
	while ((r = htab_next(&t, &pos)) != NULL) {
		struct hrec *h = r;
		int k = atoi(h->name + 1);

		if (!in[k])
			bad++;
		in[k] = 2;
		n++;
	}
	CHECK_EQ_INT(n, t.count);
	CHECK_EQ_INT(bad, 0);
	/* A record replaced through its slot (one that moved) is found. */
	{
		static struct hrec moved;
		void **slot;

		for (int k = 0; k < KEYS; k++) {
			if (in[k]) {
				memcpy(&moved, &recs[k], sizeof(moved));
				slot = htab_slot(&t, recs[k].name);
				CHECK(slot != NULL && *slot == &recs[k]);
				*slot = &moved;
				CHECK(htab_find(&t, moved.name) == &moved);
				CHECK(htab_remove(&t, moved.name) == &moved);
				CHECK(htab_find(&t, moved.name) == NULL);
				break;
			}
		}
	}
	htab_free(&t);
	CHECK_EQ_INT(t.count, 0);
	CHECK(htab_find(&t, "k1") == NULL);
}

/* mem_eq agrees with memcmp at every length and every differing position. */
static void test_mem_eq(void)
{
	unsigned char a[48], b[48];
	size_t bad = 0;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 7 + 1);
	for (size_t n = 0; n <= 40; n++) {
		for (size_t off = 0; off < 8; off++) {
			if (!mem_eq(a + off, b + off, n))
				bad++;
			for (size_t k = 0; k < n; k++) {
				b[off + k] ^= 0x80;
				if (mem_eq(a + off, b + off, n) != (memcmp(a + off, b + off, n) == 0))
					bad++;
				if (mem_eq(a + off, b + off, n))
					bad++;
				b[off + k] ^= 0x80;
			}
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(mem_eq("te", "te", 2));
	CHECK(!mem_eq("content-type", "content-tyqe", 12));
}

int main(void)
{
	RUN(test_buf_append_consume);
	RUN(test_buf_grow_compacts);
	RUN(test_buf_limit_and_detach);
	RUN(test_str_helpers);
	RUN(test_str_errf);
	RUN(test_durations);
	RUN(test_rfc3339);
	RUN(test_flags);
	RUN(test_fnv1a);
	RUN(test_htab_random);
	RUN(test_mem_eq);
	return harness_finish();
}
