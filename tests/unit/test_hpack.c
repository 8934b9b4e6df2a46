/*
 * HPACK: RFC 7541 Appendix C byte-exact (decode, tables, re-encode), every
 * decoder error path, truncation at every byte, the header list limit, and
 * encoder policy.  The Huffman code has its own test_hpack_huffman.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "h2/hpack.h"

/* ---- helpers ---------------------------------------------------------- */

#define MAXF 1024

struct flist {
	size_t n, calls, stop_after, used;
	struct { size_t no, nl, vo, vl; unsigned flags; } f[MAXF];
	uint8_t arena[1 << 17];
};

static struct flist L1;

static int collect(void *ctx, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl,
    unsigned flags)
{
	struct flist *l = ctx;

	l->calls++;
	if (l->stop_after && l->calls >= l->stop_after)
		return 1;
	if (l->n < MAXF && l->used + nl + vl <= sizeof(l->arena)) {
		l->f[l->n].no = l->used;
		memcpy(l->arena + l->used, name, nl);
		l->used += nl;
		l->f[l->n].vo = l->used;
		memcpy(l->arena + l->used, value, vl);
		l->used += vl;
		l->f[l->n].nl = nl;
		l->f[l->n].vl = vl;
		l->f[l->n].flags = flags;
		l->n++;
	}
	return 0;
}

static void flist_reset(struct flist *l)
{
	l->n = l->calls = l->stop_after = l->used = 0;
}

/* exp: name, value, name, value, ..., NULL */
static void check_fields(const struct flist *l, const char *const *exp, size_t nexp)
{
	size_t i;

	CHECK_EQ_INT(l->n, nexp);
	for (i = 0; i < l->n && i < nexp; i++) {
		CHECK_EQ_MEM(l->arena + l->f[i].no, l->f[i].nl, exp[2 * i], strlen(exp[2 * i]));
		CHECK_EQ_MEM(l->arena + l->f[i].vo, l->f[i].vl, exp[2 * i + 1], strlen(exp[2 * i + 1]));
	}
}

static size_t count_pairs(const char *const *p)
{
	size_t n = 0;

	while (p[2 * n])
		n++;
	return n;
}

static void check_table(const hpack_table *t, const char *const *exp, size_t size)
{
	size_t i, n = count_pairs(exp), nl, vl;
	const uint8_t *name, *value;

	CHECK_EQ_INT(t->count, n);
	CHECK_EQ_INT(t->size, size);
	for (i = 0; i < n; i++) {
		if (hpack_table_entry(t, i, &name, &nl, &value, &vl) != 0) {
			CHECK(!"entry missing");
			return;
		}
		CHECK_EQ_MEM(name, nl, exp[2 * i], strlen(exp[2 * i]));
		CHECK_EQ_MEM(value, vl, exp[2 * i + 1], strlen(exp[2 * i + 1]));
	}
	CHECK(hpack_table_entry(t, n, &name, &nl, &value, &vl) == -1);
}

static int decode_hex(hpack_decoder *d, const char *hex, struct flist *l)
{
	uint8_t b[512];
	size_t n = harness_unhex(hex, b);

	flist_reset(l);
	return hpack_decode_block(d, b, n, 1 << 20, collect, l);
}

/* ---- RFC 7541 Appendix C --------------------------------------------- */

struct example {
	const char *hex;
	const char *const *fields;
	const char *const *table;
	size_t size;
};

#define REQ1 ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"
#define DATE1 "Mon, 21 Oct 2013 20:13:21 GMT"
#define DATE2 "Mon, 21 Oct 2013 20:13:22 GMT"
#define LOC "https://www.example.com"
#define COOKIE "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"

static const char *const req1[] = {REQ1, NULL};
static const char *const req2[] = {REQ1, "cache-control", "no-cache", NULL};
static const char *const req3[] = {":method", "GET", ":scheme", "https", ":path", "/index.html",
	":authority", "www.example.com", "custom-key", "custom-value", NULL};
static const char *const reqt1[] = {":authority", "www.example.com", NULL};
static const char *const reqt2[] = {"cache-control", "no-cache", ":authority", "www.example.com", NULL};
static const char *const reqt3[] = {"custom-key", "custom-value", "cache-control", "no-cache",
	":authority", "www.example.com", NULL};

static const char *const resp1[] = {":status", "302", "cache-control", "private", "date", DATE1,
	"location", LOC, NULL};
static const char *const resp2[] = {":status", "307", "cache-control", "private", "date", DATE1,
	"location", LOC, NULL};
static const char *const resp3[] = {":status", "200", "cache-control", "private", "date", DATE2,
	"location", LOC, "content-encoding", "gzip", "set-cookie", COOKIE, NULL};
static const char *const respt1[] = {"location", LOC, "date", DATE1, "cache-control", "private",
	":status", "302", NULL};
static const char *const respt2[] = {":status", "307", "location", LOC, "date", DATE1,
	"cache-control", "private", NULL};
static const char *const respt3[] = {"set-cookie", COOKIE, "content-encoding", "gzip", "date", DATE2, NULL};

static const struct example c3[] = {
	{"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", req1, reqt1, 57},
	{"8286 84be 5808 6e6f 2d63 6163 6865", req2, reqt2, 110},
	{"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", req3, reqt3, 164},
};
static const struct example c4[] = {
	{"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", req1, reqt1, 57},
	{"8286 84be 5886 a8eb 1064 9cbf", req2, reqt2, 110},
	{"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", req3, reqt3, 164},
};
static const struct example c5[] = {
	{"4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a "
	 "3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
	 resp1, respt1, 222},
	{"4803 3330 37c1 c0bf", resp2, respt2, 222},
	{"88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 "
	 "677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 "
	 "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31", resp3, respt3, 215},
};
static const struct example c6[] = {
	{"4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e "
	 "919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", resp1, respt1, 222},
	{"4883 640e ffc1 c0bf", resp2, respt2, 222},
	{"88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 "
	 "821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed "
	 "4ee5 b106 3d50 07", resp3, respt3, 215},
};

static void run_decode(const struct example *ex, size_t n, size_t table_max)
{
	hpack_decoder d;
	size_t i;

	hpack_decoder_init(&d, table_max);
	for (i = 0; i < n; i++) {
		CHECK_EQ_INT(decode_hex(&d, ex[i].hex, &L1), HPACK_OK);
		check_fields(&L1, ex[i].fields, count_pairs(ex[i].fields));
		check_table(&d.table, ex[i].table, ex[i].size);
	}
	hpack_decoder_free(&d);
}

static void run_encode(const struct example *ex, size_t n, size_t table_max, int huffman)
{
	hpack_encoder e;
	buf out = BUF_INIT;
	uint8_t want[512];
	size_t i, j, wn;

	hpack_encoder_init(&e, table_max);
	e.no_huffman = !huffman;
	for (i = 0; i < n; i++) {
		buf_reset(&out);
		CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
		for (j = 0; ex[i].fields[2 * j]; j++) {
			const char *nm = ex[i].fields[2 * j], *v = ex[i].fields[2 * j + 1];

			CHECK_EQ_INT(hpack_encode_field(&e, &out, (const uint8_t *)nm, strlen(nm),
			    (const uint8_t *)v, strlen(v), 0), HPACK_OK);
		}
		wn = harness_unhex(ex[i].hex, want);
		CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, wn);
		check_table(&e.table, ex[i].table, ex[i].size);
	}
	buf_free(&out);
	hpack_encoder_free(&e);
}

/* Every prefix of every block (after the blocks before it) ends in TRUNCATED or a prefix of the list. */
static void run_truncations(const struct example *ex, size_t n, size_t table_max)
{
	uint8_t b[512];
	size_t i, k, cut, bn, nexp;
	hpack_decoder d;
	int r;

	for (k = 0; k < n; k++) {
		bn = harness_unhex(ex[k].hex, b);
		nexp = count_pairs(ex[k].fields);
		for (cut = 0; cut < bn; cut++) {
			hpack_decoder_init(&d, table_max);
			for (i = 0; i < k; i++)
				CHECK_EQ_INT(decode_hex(&d, ex[i].hex, &L1), HPACK_OK);
			flist_reset(&L1);
			r = hpack_decode_block(&d, b, cut, 1 << 20, collect, &L1);
			CHECK(r == HPACK_OK || r == HPACK_ERR_TRUNCATED);
			if (r == HPACK_OK) {
				CHECK(L1.n < nexp);
				check_fields(&L1, ex[k].fields, L1.n);
			}
			hpack_decoder_free(&d);
		}
	}
}

static void test_c1_integers(void)
{
	uint8_t b[8];
	uint32_t v = 0;

	/* C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with 5 bits; C.1.3: 42 at an octet boundary */
	CHECK_EQ_INT(hpack_encode_int(b, 0xe0, 5, 10), 1);
	CHECK_EQ_MEM(b, 1, "\xea", 1);
	CHECK_EQ_INT(hpack_decode_int(b, 1, 5, &v), 1);
	CHECK_EQ_INT(v, 10);
	CHECK_EQ_INT(hpack_encode_int(b, 0, 5, 1337), 3);
	CHECK_EQ_MEM(b, 3, "\x1f\x9a\x0a", 3);
	CHECK_EQ_INT(hpack_decode_int(b, 3, 5, &v), 3);
	CHECK_EQ_INT(v, 1337);
	CHECK_EQ_INT(hpack_encode_int(b, 0, 8, 42), 1);
	CHECK_EQ_MEM(b, 1, "\x2a", 1);
	CHECK_EQ_INT(hpack_decode_int(b, 1, 8, &v), 1);
	CHECK_EQ_INT(v, 42);
}

static void test_integer_limits(void)
{
	static const uint32_t vals[] = {0, 1, 30, 31, 32, 126, 127, 128, 254, 255, 256, 16383,
		16384, 2097151, 268435455, 268435456, 0x7fffffffu, 0xfffffffeu, 0xffffffffu};
	uint8_t b[8];
	uint32_t v;
	unsigned prefix;
	size_t i, n;

	for (prefix = 1; prefix <= 8; prefix++) {
		for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			n = hpack_encode_int(b, 0, prefix, vals[i]);
			CHECK(n <= 6);
			v = 0;
			CHECK_EQ_INT(hpack_decode_int(b, n, prefix, &v), (int)n);
			CHECK_EQ_INT(v, vals[i]);
			/* every shorter input is "need more", not an error */
			while (n-- > 0)
				CHECK_EQ_INT(hpack_decode_int(b, n, prefix, &v), 0);
		}
	}
	/* 2^32: one past the limit */
	n = hpack_encode_int(b, 0, 8, 0xffffffffu);
	b[n - 1]++;
	CHECK_EQ_INT(hpack_decode_int(b, n, 8, &v), HPACK_ERR_INTEGER);
	CHECK_EQ_INT(hpack_decode_int((const uint8_t *)"\xff\xff\xff\xff\xff\x7f", 6, 8, &v),
	    HPACK_ERR_INTEGER);
	/* overlong: a sixth continuation octet, even of zeros */
	CHECK_EQ_INT(hpack_decode_int((const uint8_t *)"\x1f\x80\x80\x80\x80\x80\x00", 7, 5, &v),
	    HPACK_ERR_INTEGER);
	/* redundant zero continuation octets within the limit are accepted */
	CHECK_EQ_INT(hpack_decode_int((const uint8_t *)"\x1f\x81\x80\x00", 4, 5, &v), 4);
	CHECK_EQ_INT(v, 32);
}

static void test_c2(void)
{
	static const char *const f1[] = {"custom-key", "custom-header", NULL};
	static const char *const f2[] = {":path", "/sample/path", NULL};
	static const char *const f3[] = {"password", "secret", NULL};
	static const char *const f4[] = {":method", "GET", NULL};
	static const char *const none[] = {NULL};
	static const struct { const char *hex; const char *const *f; unsigned flags; size_t size; } ex[] = {
		{"400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", f1, 0, 55},
		{"040c 2f73 616d 706c 652f 7061 7468", f2, HPACK_FIELD_NO_INDEX, 0},
		{"1008 7061 7373 776f 7264 0673 6563 7265 74", f3, HPACK_FIELD_NEVER_INDEXED, 0},
		{"82", f4, 0, 0},
	};
	size_t i, wn;
	uint8_t want[64];

	for (i = 0; i < 4; i++) {
		hpack_decoder d;
		hpack_encoder e;
		buf out = BUF_INIT;

		hpack_decoder_init(&d, 4096);
		CHECK_EQ_INT(decode_hex(&d, ex[i].hex, &L1), HPACK_OK);
		check_fields(&L1, ex[i].f, 1);
		CHECK_EQ_INT(L1.f[0].flags, ex[i].flags & HPACK_FIELD_NEVER_INDEXED);
		check_table(&d.table, ex[i].size ? ex[i].f : none, ex[i].size);
		hpack_decoder_free(&d);

		hpack_encoder_init(&e, 4096);
		e.no_huffman = 1;
		CHECK_EQ_INT(hpack_encode_field(&e, &out, (const uint8_t *)ex[i].f[0], strlen(ex[i].f[0]),
		    (const uint8_t *)ex[i].f[1], strlen(ex[i].f[1]), ex[i].flags), HPACK_OK);
		wn = harness_unhex(ex[i].hex, want);
		CHECK_EQ_MEM(buf_data(&out), buf_len(&out), want, wn);
		check_table(&e.table, ex[i].size ? ex[i].f : none, ex[i].size);
		buf_free(&out);
		hpack_encoder_free(&e);
	}
}

static void test_c3_decode(void) { run_decode(c3, 3, 4096); }
static void test_c4_decode(void) { run_decode(c4, 3, 4096); }
static void test_c5_decode(void) { run_decode(c5, 3, 256); }
static void test_c6_decode(void) { run_decode(c6, 3, 256); }
static void test_c3_encode(void) { run_encode(c3, 3, 4096, 0); }
static void test_c4_encode(void) { run_encode(c4, 3, 4096, 1); }
static void test_c5_encode(void) { run_encode(c5, 3, 256, 0); }
static void test_c6_encode(void) { run_encode(c6, 3, 256, 1); }

static void test_truncation_every_byte(void)
{
	run_truncations(c3, 3, 4096);
	run_truncations(c4, 3, 4096);
	run_truncations(c5, 3, 256);
	run_truncations(c6, 3, 256);
}


static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- decoder errors ----------------------------------------------------- */

static int decode_bytes(hpack_decoder *d, const char *b, size_t n, size_t max_list)
{
	flist_reset(&L1);
	return hpack_decode_block(d, (const uint8_t *)b, n, max_list, collect, &L1);
}

static int decode_fresh(const char *b, size_t n)
{
	hpack_decoder d;
	int r;

	hpack_decoder_init(&d, 4096);
	r = decode_bytes(&d, b, n, 1 << 20);
	hpack_decoder_free(&d);
	return r;
}

static void test_decode_errors(void)
{
	/* index 0, as indexed field and as name index (it means "new name" there only for literals) */
	CHECK_EQ_INT(decode_fresh("\x80", 1), HPACK_ERR_INDEX);
	/* index past the static table with an empty dynamic table */
	CHECK_EQ_INT(decode_fresh("\xbe", 1), HPACK_ERR_INDEX);
	CHECK_EQ_INT(decode_fresh("\xbd", 1), HPACK_OK);	/* 61: www-authenticate */
	CHECK_EQ_INT(decode_fresh("\x7e\x01x", 3), HPACK_ERR_INDEX);
	CHECK_EQ_INT(decode_fresh("\x0f\x2f\x01x", 4), HPACK_ERR_INDEX);
	CHECK_EQ_INT(decode_fresh("\xff\xff\xff\xff\xff\x0f", 6), HPACK_ERR_INTEGER);
	/* size update after a field */
	CHECK_EQ_INT(decode_fresh("\x82\x20", 2), HPACK_ERR_TABLE_SIZE);
	CHECK_EQ_INT(decode_fresh("\x82\x3f\xe1\x1f", 4), HPACK_ERR_TABLE_SIZE);
	/* size updates at the start: several allowed, up to the setting */
	CHECK_EQ_INT(decode_fresh("\x20\x3f\xe1\x1f\x82", 5), HPACK_OK);
	CHECK_EQ_INT(decode_fresh("\x3f\xe2\x1f", 3), HPACK_ERR_TABLE_SIZE);	/* 4097 */
	CHECK_EQ_INT(decode_fresh("\x3f\xff\xff\xff\xff\x0f", 6), HPACK_ERR_INTEGER);
	/* truncated integers */
	CHECK_EQ_INT(decode_fresh("\xff", 1), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\xff\x80", 2), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\x3f", 1), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\x40\x7f", 2), HPACK_ERR_TRUNCATED);
	/* integer overflow in a string length */
	CHECK_EQ_INT(decode_fresh("\x40\x7f\xff\xff\xff\xff\x0f", 7), HPACK_ERR_INTEGER);
	CHECK_EQ_INT(decode_fresh("\x40\x7f\x80\x80\x80\x80\x80\x00", 8), HPACK_ERR_INTEGER);
	/* string lengths past the end, small and huge (never allocated) */
	CHECK_EQ_INT(decode_fresh("\x40\x0a" "cu", 4), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\x40\x01x\x05" "ab", 6), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\x40\xff\xff\xff\xff\x07", 6), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\x40\x01", 2), HPACK_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_fresh("\x41", 1), HPACK_ERR_TRUNCATED);
	/* Huffman: bad padding, EOS, padding > 7 bits in name and value */
	CHECK_EQ_INT(decode_fresh("\x40\x81\x18\x01x", 5), HPACK_ERR_HUFFMAN);
	CHECK_EQ_INT(decode_fresh("\x41\x81\x18", 3), HPACK_ERR_HUFFMAN);
	CHECK_EQ_INT(decode_fresh("\x41\x84\xff\xff\xff\xff", 6), HPACK_ERR_HUFFMAN);
	CHECK_EQ_INT(decode_fresh("\x01\x82\x1f\xff", 4), HPACK_ERR_HUFFMAN);
	CHECK_EQ_INT(decode_fresh("\x41\x81\x1f", 3), HPACK_OK);
	CHECK_EQ_INT(decode_fresh("", 0), HPACK_OK);
	CHECK(strcmp(hpack_strerror(HPACK_ERR_HUFFMAN), hpack_strerror(HPACK_ERR_INDEX)) != 0);
	CHECK(hpack_strerror(-100) != NULL);
}

static void test_need_update(void)
{
	hpack_decoder d;

	hpack_decoder_init(&d, 4096);
	hpack_decoder_set_settings_max(&d, 100);
	CHECK_EQ_INT(decode_bytes(&d, "\x82", 1, 1 << 20), HPACK_ERR_TABLE_SIZE);
	hpack_decoder_free(&d);

	hpack_decoder_init(&d, 4096);
	CHECK_EQ_INT(decode_hex(&d, c3[0].hex, &L1), HPACK_OK);
	hpack_decoder_set_settings_max(&d, 100);
	CHECK_EQ_INT(decode_bytes(&d, "\x3f\x46\x82", 3, 1 << 20), HPACK_ERR_TABLE_SIZE);	/* 101 */
	CHECK_EQ_INT(decode_bytes(&d, "\x3f\x45\xbe", 3, 1 << 20), HPACK_OK);	/* 100, entry kept */
	CHECK_EQ_INT(d.table.count, 1);
	CHECK_EQ_INT(decode_bytes(&d, "\x82", 1, 1 << 20), HPACK_OK);	/* no update needed now */
	CHECK_EQ_INT(decode_bytes(&d, "\x20\xbe", 2, 1 << 20), HPACK_ERR_INDEX);	/* 0 emptied it */
	hpack_decoder_free(&d);
}

static void test_callback_stop(void)
{
	hpack_decoder d;
	uint8_t b[64];
	size_t n = harness_unhex(c3[0].hex, b);

	hpack_decoder_init(&d, 4096);
	flist_reset(&L1);
	L1.stop_after = 2;
	CHECK_EQ_INT(hpack_decode_block(&d, b, n, 1 << 20, collect, &L1), HPACK_ERR_CALLBACK);
	CHECK_EQ_INT(L1.calls, 2);
	hpack_decoder_free(&d);
}

/* A new entry may name the entry its insertion evicts (RFC 7541 4.4). */
static void test_evicted_name_reference(void)
{
	static const char *const t1[] = {"aaaa", "bbbb", NULL};
	static const char *const t2[] = {"aaaa", "cccccccccccc", NULL};
	static const char *const none[] = {NULL};
	hpack_decoder d;

	hpack_decoder_init(&d, 64);
	CHECK_EQ_INT(decode_bytes(&d, "\x40\x04" "aaaa\x04" "bbbb", 11, 1 << 20), HPACK_OK);
	check_table(&d.table, t1, 40);
	CHECK_EQ_INT(decode_bytes(&d, "\x7e\x0c" "cccccccccccc", 14, 1 << 20), HPACK_OK);
	check_fields(&L1, t2, 1);
	check_table(&d.table, t2, 48);
	/* larger than the whole table: delivered, table emptied */
	CHECK_EQ_INT(decode_bytes(&d, "\x7e\x20" "dddddddddddddddddddddddddddddddd", 34, 1 << 20), HPACK_OK);
	CHECK_EQ_INT(L1.n, 1);
	CHECK_EQ_INT(L1.f[0].nl, 4);
	CHECK_EQ_INT(L1.f[0].vl, 32);
	check_table(&d.table, none, 0);
	hpack_decoder_free(&d);
}

/* ---- header list limit -------------------------------------------------- */

static void test_list_limit_keeps_sync(void)
{
	hpack_decoder d;
	uint8_t b[64];
	size_t n = harness_unhex(c3[0].hex, b);

	/* 42 + 43 + 38 fit in 130, :authority (57) does not */
	hpack_decoder_init(&d, 4096);
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, b, n, 130, collect, &L1), HPACK_ERR_LIST_TOO_LARGE);
	CHECK_EQ_INT(L1.calls, 3);
	check_table(&d.table, reqt1, 57);
	/* the table stayed in step: the next block decodes */
	CHECK_EQ_INT(decode_hex(&d, c3[1].hex, &L1), HPACK_OK);
	check_fields(&L1, req2, 5);
	hpack_decoder_free(&d);

	hpack_decoder_init(&d, 4096);
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, b, n, 180, collect, &L1), HPACK_OK);
	CHECK_EQ_INT(L1.calls, 4);
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, b, n, 179, collect, &L1), HPACK_ERR_LIST_TOO_LARGE);
	hpack_decoder_free(&d);
}

static void test_hpack_bomb(void)
{
	static uint8_t blk[20000];
	hpack_decoder d;
	size_t n = 0, i;

	/* one 4000-byte entry, then 10000 one-octet references to it */
	hpack_decoder_init(&d, 4096);
	blk[n++] = 0x40;
	blk[n++] = 1;
	blk[n++] = 'x';
	n += hpack_encode_int(blk + n, 0, 7, 4000);
	memset(blk + n, 'y', 4000);
	n += 4000;
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, blk, n, 1 << 20, collect, &L1), HPACK_OK);
	for (i = 0; i < 10000; i++)
		blk[i] = 0xbe;
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, blk, 10000, 16384, collect, &L1), HPACK_ERR_LIST_TOO_LARGE);
	CHECK_EQ_INT(L1.calls, 4);
	hpack_decoder_free(&d);
}

static void test_list_limit_before_huffman(void)
{
	static uint8_t blk[4000], plain[2999];	/* 14995 bits: 5 bits of padding */
	hpack_decoder d;
	size_t n = 0, hl;

	memset(plain, 'a', sizeof(plain));
	hl = hpack_huffman_encoded_len(plain, sizeof(plain));
	blk[n++] = 0x01;	/* without indexing, :authority */
	n += hpack_encode_int(blk + n, 0x80, 7, (uint32_t)hl);
	hpack_huffman_encode(plain, sizeof(plain), blk + n);
	n += hl;
	hpack_decoder_init(&d, 4096);
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, blk, n, 400, collect, &L1), HPACK_ERR_LIST_TOO_LARGE);
	CHECK_EQ_INT(L1.calls, 0);
	CHECK(d.scratch.cap < 1000);	/* refused before decoding into scratch */
	/* still validated: a bad last octet past the limit is a Huffman error */
	blk[n - 1] = (uint8_t)((blk[n - 1] & 0xe0) | 0x10);	/* padding 10000: not all ones */
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, blk, n, 400, collect, &L1), HPACK_ERR_HUFFMAN);
	hpack_decoder_free(&d);
}

/* ---- encoder ------------------------------------------------------------ */

static int enc(hpack_encoder *e, buf *out, const char *name, const char *value, unsigned flags)
{
	return hpack_encode_field(e, out, (const uint8_t *)name, strlen(name),
	    (const uint8_t *)value, strlen(value), flags);
}

static void test_encoder_grpc_repeats(void)
{
	static const char *const hdrs[] = {":status", "200", "content-type", "application/grpc",
		"grpc-encoding", "identity", "grpc-accept-encoding", "identity,deflate,gzip", NULL};
	static const char *const trl[] = {"grpc-status", "0", "grpc-message", "boom", NULL};
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	size_t i, round, first_len = 0;

	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	for (round = 0; round < 3; round++) {
		buf_reset(&out);
		CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
		for (i = 0; hdrs[2 * i]; i++)
			CHECK_EQ_INT(enc(&e, &out, hdrs[2 * i], hdrs[2 * i + 1], 0), HPACK_OK);
		if (round == 0)
			first_len = buf_len(&out);
		else
			CHECK_EQ_INT(buf_len(&out), 4);	/* every field one indexed octet */
		flist_reset(&L1);
		CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1), HPACK_OK);
		check_fields(&L1, hdrs, 4);

		buf_reset(&out);
		for (i = 0; trl[2 * i]; i++)
			CHECK_EQ_INT(enc(&e, &out, trl[2 * i], trl[2 * i + 1], 0), HPACK_OK);
		if (round > 0)
			CHECK_EQ_INT(buf_data(&out)[0] & 0x80, 0x80);	/* grpc-status: 0 indexed */
		flist_reset(&L1);
		CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1), HPACK_OK);
		check_fields(&L1, trl, 2);
	}
	CHECK(first_len > 4);
	/* grpc-message was never indexed: 3 response entries + grpc-status */
	CHECK_EQ_INT(e.table.count, 4);
	CHECK_EQ_INT(d.table.count, 4);
	buf_free(&out);
	hpack_encoder_free(&e);
	hpack_decoder_free(&d);
}

static void test_encoder_flags(void)
{
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	static char big[3100];

	hpack_encoder_init(&e, 4096);
	e.no_huffman = 1;
	/* never-indexed even with a full static match; the name stays indexed */
	CHECK_EQ_INT(enc(&e, &out, ":method", "GET", HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "\x12\x03GET", 5);
	buf_reset(&out);
	CHECK_EQ_INT(enc(&e, &out, "authorization", "secret", HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "\x1f\x08\x06secret", 9);	/* 23 = 15 + 8 */
	buf_reset(&out);
	CHECK_EQ_INT(enc(&e, &out, "x-a", "b", HPACK_FIELD_NO_INDEX), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "\x00\x03x-a\x01" "b", 7);
	CHECK_EQ_INT(e.table.count, 0);
	/* too big for 3/4 of the table: literal without indexing */
	memset(big, 'v', sizeof(big) - 1);
	buf_reset(&out);
	CHECK_EQ_INT(enc(&e, &out, "x-big", big, 0), HPACK_OK);
	CHECK_EQ_INT(buf_data(&out)[0], 0x00);
	CHECK_EQ_INT(e.table.count, 0);

	/* never-indexed survives the trip */
	hpack_decoder_init(&d, 4096);
	buf_reset(&out);
	CHECK_EQ_INT(enc(&e, &out, "cookie", "k=v", HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
	flist_reset(&L1);
	CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1), HPACK_OK);
	CHECK_EQ_INT(L1.n, 1);
	CHECK_EQ_INT(L1.f[0].flags, HPACK_FIELD_NEVER_INDEXED);
	hpack_decoder_free(&d);
	buf_free(&out);
	hpack_encoder_free(&e);
}

static void test_encoder_size_updates(void)
{
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;

	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
	CHECK_EQ_INT(buf_len(&out), 0);
	CHECK_EQ_INT(enc(&e, &out, "x-one", "1", 0), HPACK_OK);
	CHECK_EQ_INT(decode_bytes(&d, (const char *)buf_data(&out), buf_len(&out), 1 << 20), HPACK_OK);

	/* min then final (4.2) */
	hpack_encoder_set_max_size(&e, 1000);
	hpack_encoder_set_max_size(&e, 2000);
	buf_reset(&out);
	CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "\x3f\xc9\x07\x3f\xb1\x0f", 6);
	CHECK_EQ_INT(enc(&e, &out, "x-one", "1", 0), HPACK_OK);
	CHECK_EQ_INT(decode_bytes(&d, (const char *)buf_data(&out), buf_len(&out), 1 << 20), HPACK_OK);
	CHECK_EQ_INT(d.table.max_size, 2000);
	CHECK_EQ_INT(e.table.count, 1);

	/* through zero: the table empties on both sides */
	hpack_encoder_set_max_size(&e, 0);
	hpack_encoder_set_max_size(&e, 4096);
	buf_reset(&out);
	CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "\x20\x3f\xe1\x1f", 4);
	CHECK_EQ_INT(e.table.count, 0);
	CHECK_EQ_INT(decode_bytes(&d, (const char *)buf_data(&out), buf_len(&out), 1 << 20), HPACK_OK);
	CHECK_EQ_INT(d.table.count, 0);

	/* above our limit, or no change: nothing to say */
	hpack_encoder_set_max_size(&e, 65536);
	buf_reset(&out);
	CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
	CHECK_EQ_INT(buf_len(&out), 0);
	CHECK_EQ_INT(e.table.max_size, 4096);

	/* a smaller final size alone */
	CHECK_EQ_INT(enc(&e, &out, "x-two", "2", 0), HPACK_OK);
	CHECK_EQ_INT(decode_bytes(&d, (const char *)buf_data(&out), buf_len(&out), 1 << 20), HPACK_OK);
	hpack_encoder_set_max_size(&e, 100);
	buf_reset(&out);
	CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out), buf_len(&out), "\x3f\x45", 2);
	CHECK_EQ_INT(enc(&e, &out, "x-two", "2", 0), HPACK_OK);
	CHECK_EQ_MEM(buf_data(&out) + 2, buf_len(&out) - 2, "\xbe", 1);
	CHECK_EQ_INT(decode_bytes(&d, (const char *)buf_data(&out), buf_len(&out), 1 << 20), HPACK_OK);
	buf_free(&out);
	hpack_encoder_free(&e);
	hpack_decoder_free(&d);
}

/* Every static entry (found by decoding its index) encodes back to that one-octet index. */
static void test_static_table_lookup(void)
{
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	uint8_t idx;

	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	for (idx = 1; idx <= 61; idx++) {
		uint8_t b = (uint8_t)(0x80 | idx);

		flist_reset(&L1);
		CHECK_EQ_INT(hpack_decode_block(&d, &b, 1, 1 << 20, collect, &L1), HPACK_OK);
		buf_reset(&out);
		CHECK_EQ_INT(hpack_encode_field(&e, &out, L1.arena + L1.f[0].no, L1.f[0].nl,
		    L1.arena + L1.f[0].vo, L1.f[0].vl, 0), HPACK_OK);
		CHECK_EQ_MEM(buf_data(&out), buf_len(&out), &b, 1);
	}
	/* a name in the table with another value: literal with the first such name index */
	buf_reset(&out);
	CHECK_EQ_INT(enc(&e, &out, ":status", "418", HPACK_FIELD_NO_INDEX), HPACK_OK);
	CHECK_EQ_INT(buf_data(&out)[0], 0x08);
	buf_free(&out);
	hpack_encoder_free(&e);
	hpack_decoder_free(&d);
}

/* Random lists from a small pool (so fields repeat) through encoder and decoder; tables stay equal. */
/* ---- value check marks and the Huffman memo --------------------------- */

static size_t check_calls;

static int no_capital_x(const uint8_t *v, size_t n)
{
	check_calls++;
	return memchr(v, 'X', n) == NULL;
}

static int field_is(const struct flist *l, size_t i, const char *name, const char *value)
{
	return i < l->n && l->f[i].nl == strlen(name) && memcmp(l->arena + l->f[i].no, name, l->f[i].nl) == 0 &&
	    l->f[i].vl == strlen(value) && memcmp(l->arena + l->f[i].vo, value, l->f[i].vl) == 0;
}

/* Huffman literals sent again and again (never indexed, without indexing) come
 * out byte for byte the same, marked checked only when the check passed, and
 * the check runs once per kept string, not per block. */
static void test_value_checked_huffman_memo(void)
{
	static const char good[] = "Bearer eyJhbGciOiJSUzI1NiJ9.0123456789abcdefghij.sig";
	static const char bad[] = "Bearer eyJhbGciOiJSUzI1NiJ9.0123456789Xbcdefghij.sig";
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	size_t calls_after_first = 0;
	int round, with_check;

	for (with_check = 0; with_check < 2; with_check++) {
		hpack_encoder_init(&e, 4096);
		hpack_decoder_init(&d, 4096);
		if (with_check)
			hpack_decoder_set_value_check(&d, no_capital_x);
		check_calls = 0;
		for (round = 0; round < 4; round++) {
			buf_reset(&out);
			CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
			CHECK_EQ_INT(enc(&e, &out, "authorization", good, HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
			CHECK_EQ_INT(enc(&e, &out, ":path", "/cplane.v1.ClusterService/GetCluster", HPACK_FIELD_NO_INDEX),
			    HPACK_OK);
			CHECK_EQ_INT(enc(&e, &out, "x-other", bad, HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
			CHECK_EQ_INT(e.table.count, 0);
			flist_reset(&L1);
			CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1),
			    HPACK_OK);
			CHECK_EQ_INT(L1.n, 3);
			CHECK(field_is(&L1, 0, "authorization", good));
			CHECK(field_is(&L1, 1, ":path", "/cplane.v1.ClusterService/GetCluster"));
			CHECK(field_is(&L1, 2, "x-other", bad));
			CHECK_EQ_INT(L1.f[0].flags, HPACK_FIELD_NEVER_INDEXED | (with_check ? HPACK_FIELD_VALUE_CHECKED : 0));
			CHECK_EQ_INT(L1.f[1].flags, with_check ? HPACK_FIELD_VALUE_CHECKED : 0);
			CHECK_EQ_INT(L1.f[2].flags, HPACK_FIELD_NEVER_INDEXED);	/* failed: never marked */
			if (round == 0)
				calls_after_first = check_calls;
		}
		CHECK_EQ_INT(check_calls, calls_after_first);
		CHECK(with_check ? calls_after_first >= 3 : calls_after_first == 0);
		hpack_decoder_free(&d);
		hpack_encoder_free(&e);
	}
	buf_free(&out);
}

/* A name that came from a memo slot stays right when its own value's
 * decoding replaces that slot; more strings than slots cycle through them. */
static void test_huffman_memo_replacement(void)
{
	char names[9][32], values[9][64];
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	int round, i;

	for (i = 0; i < 9; i++) {
		snprintf(names[i], sizeof(names[i]), "x-long-header-name-%d", i);
		snprintf(values[i], sizeof(values[i]), "value-%d-0123456789abcdefghijklmnopqrstuvwxyz", i);
	}
	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	hpack_decoder_set_value_check(&d, no_capital_x);
	for (round = 0; round < 3; round++) {
		/* one field per block: name N0 then values that step through the slots */
		for (i = 0; i < 9; i++) {
			const char *name = names[i % 2 ? 0 : i];

			buf_reset(&out);
			CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
			CHECK_EQ_INT(enc(&e, &out, name, values[i], HPACK_FIELD_NO_INDEX), HPACK_OK);
			flist_reset(&L1);
			CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1),
			    HPACK_OK);
			CHECK(field_is(&L1, 0, name, values[i]));
			CHECK_EQ_INT(L1.f[0].flags, HPACK_FIELD_VALUE_CHECKED);
		}
		/* all nine in one block: twice the slots */
		buf_reset(&out);
		CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
		for (i = 0; i < 9; i++)
			CHECK_EQ_INT(enc(&e, &out, names[i], values[8 - i], HPACK_FIELD_NO_INDEX), HPACK_OK);
		flist_reset(&L1);
		CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1), HPACK_OK);
		CHECK_EQ_INT(L1.n, 9);
		for (i = 0; i < 9; i++)
			CHECK(field_is(&L1, (size_t)i, names[i], values[8 - i]));
	}
	hpack_decoder_free(&d);
	hpack_encoder_free(&e);
	buf_free(&out);
}

/* Dynamic table entries carry the check's verdict from insert: a referenced
 * entry is marked only if its value passed. */
static void test_value_checked_table(void)
{
	hpack_decoder d;
	static const char two[] = "\x40\x03x-a\x04good" "\x40\x03x-b\x04" "baXd", one[] = "\x40\x03x-a\x04good";

	hpack_decoder_init(&d, 4096);
	hpack_decoder_set_value_check(&d, no_capital_x);
	/* raw literals with incremental indexing: not marked (the callback checks) */
	CHECK_EQ_INT(decode_bytes(&d, two, sizeof(two) - 1, 1 << 20), HPACK_OK);
	CHECK_EQ_INT(L1.n, 2);
	CHECK_EQ_INT(L1.f[0].flags, 0);
	CHECK_EQ_INT(L1.f[1].flags, 0);
	/* 62 is x-b (newest), 63 x-a; 2 is static :method GET (never marked) */
	CHECK_EQ_INT(decode_bytes(&d, "\xbe\xbf\x82", 3, 1 << 20), HPACK_OK);
	CHECK_EQ_INT(L1.n, 3);
	CHECK(field_is(&L1, 0, "x-b", "baXd"));
	CHECK_EQ_INT(L1.f[0].flags, 0);
	CHECK(field_is(&L1, 1, "x-a", "good"));
	CHECK_EQ_INT(L1.f[1].flags, HPACK_FIELD_VALUE_CHECKED);
	CHECK_EQ_INT(L1.f[2].flags, 0);
	hpack_decoder_free(&d);

	/* without a check nothing is ever marked */
	hpack_decoder_init(&d, 4096);
	CHECK_EQ_INT(decode_bytes(&d, one, sizeof(one) - 1, 1 << 20), HPACK_OK);
	CHECK_EQ_INT(decode_bytes(&d, "\xbe", 1, 1 << 20), HPACK_OK);
	CHECK(field_is(&L1, 0, "x-a", "good"));
	CHECK_EQ_INT(L1.f[0].flags, 0);
	hpack_decoder_free(&d);
}

/* Value ids: the same nonzero id exactly when the decoder hands out bytes it kept and they are the same. */
static uint64_t ids[8];
static size_t nids;

static int collect_ids(void *ctx, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl,
    unsigned flags)
{
	if (nids < 8)
		ids[nids++] = hpack_decoder_value_id(ctx);
	return collect(&L1, name, nl, value, vl, flags);
}

static void test_value_ids(void)
{
	static const char tok_a[] = "Bearer eyJhbGciOiJSUzI1NiJ9.0123456789abcdefghij.sig1";
	static const char tok_b[] = "Bearer eyJhbGciOiJSUzI1NiJ9.0123456789abcdefghij.sig2";
	static const char raw[] = "\x40\x03x-a\x04good";
	hpack_encoder e;
	hpack_decoder d, d2;
	buf out = BUF_INIT;
	uint64_t first_a = 0, first_b = 0;
	int round;

	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	hpack_decoder_init(&d2, 4096);
	for (round = 0; round < 3; round++) {
		/* never indexed: the memo's id; a, b, a */
		buf_reset(&out);
		CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
		CHECK_EQ_INT(enc(&e, &out, "authorization", tok_a, HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
		CHECK_EQ_INT(enc(&e, &out, "authorization", tok_b, HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
		CHECK_EQ_INT(enc(&e, &out, "authorization", tok_a, HPACK_FIELD_NEVER_INDEXED), HPACK_OK);
		flist_reset(&L1);
		nids = 0;
		CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect_ids, &d), HPACK_OK);
		CHECK_EQ_INT(nids, 3);
		CHECK(field_is(&L1, 0, "authorization", tok_a));
		CHECK(field_is(&L1, 1, "authorization", tok_b));
		CHECK(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1] && ids[2] == ids[0]);
		if (round == 0) {
			first_a = ids[0];
			first_b = ids[1];
		}
		CHECK(ids[0] == first_a && ids[1] == first_b);
	}
	/* another decoder decoding the same bytes draws its own ids */
	flist_reset(&L1);
	nids = 0;
	CHECK_EQ_INT(hpack_decode_block(&d2, buf_data(&out), buf_len(&out), 1 << 20, collect_ids, &d2), HPACK_OK);
	CHECK(ids[0] != 0 && ids[0] != first_a && ids[1] != first_b);
	/* a raw literal: 0; indexed, then referenced twice: the entry's id both times */
	flist_reset(&L1);
	nids = 0;
	CHECK_EQ_INT(hpack_decode_block(&d, (const uint8_t *)raw, sizeof(raw) - 1, 1 << 20, collect_ids, &d), HPACK_OK);
	CHECK_EQ_INT(ids[0], 0);
	flist_reset(&L1);
	nids = 0;
	CHECK_EQ_INT(hpack_decode_block(&d, (const uint8_t *)"\xbe\xbe\x82", 3, 1 << 20, collect_ids, &d), HPACK_OK);
	CHECK(field_is(&L1, 0, "x-a", "good"));
	CHECK(ids[0] != 0 && ids[1] == ids[0] && ids[2] == 0);
	hpack_decoder_free(&d);
	hpack_decoder_free(&d2);
	hpack_encoder_free(&e);
	buf_free(&out);
}

/* The encoder's state names everything but the fields that decides its output. */
static void test_encoder_state(void)
{
	hpack_encoder e;
	buf a = BUF_INIT, b = BUF_INIT;
	uint64_t s0, s1;

	hpack_encoder_init(&e, 4096);
	s0 = hpack_encoder_state(&e);
	/* a static-table hit and a literal without indexing leave it */
	hpack_encode_begin(&e, &a);
	hpack_encode_field(&e, &a, (const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0);
	hpack_encode_field(&e, &a, (const uint8_t *)"x-t", 3, (const uint8_t *)"1", 1, HPACK_FIELD_NO_INDEX);
	hpack_encode_field(&e, &a, (const uint8_t *)"x-s", 3, (const uint8_t *)"2", 1, HPACK_FIELD_NEVER_INDEXED);
	CHECK(hpack_encoder_state(&e) == s0);
	/* an insert moves it; the same fields again then encode to an index and leave it */
	hpack_encode_field(&e, &a, (const uint8_t *)"content-type", 12, (const uint8_t *)"application/grpc", 16, 0);
	s1 = hpack_encoder_state(&e);
	CHECK(s1 != s0);
	buf_reset(&a);
	hpack_encode_begin(&e, &a);
	hpack_encode_field(&e, &a, (const uint8_t *)"content-type", 12, (const uint8_t *)"application/grpc", 16, 0);
	CHECK(hpack_encoder_state(&e) == s1);
	CHECK_EQ_INT(buf_len(&a), 1);
	/* an owed size update moves it, and so does announcing one that changes the size */
	hpack_encoder_set_max_size(&e, 4096);
	CHECK(hpack_encoder_state(&e) != s1);
	hpack_encode_begin(&e, &b);
	CHECK_EQ_INT(buf_len(&b), 0);	/* the same size: nothing to announce, nothing changed */
	CHECK(hpack_encoder_state(&e) == s1);
	hpack_encoder_set_max_size(&e, 100);
	hpack_encode_begin(&e, &b);
	CHECK(buf_len(&b) > 0);
	CHECK(hpack_encoder_state(&e) != s1);
	/* an insert that evicts moves it; the evicted field is then a literal again */
	buf_reset(&a);
	s0 = hpack_encoder_state(&e);
	hpack_encode_field(&e, &a, (const uint8_t *)"x-a", 3, (const uint8_t *)"012345678901234567890123456789", 30, 0);
	CHECK(hpack_encoder_state(&e) != s0);
	buf_reset(&a);
	hpack_encode_field(&e, &a, (const uint8_t *)"content-type", 12, (const uint8_t *)"application/grpc", 16, 0);
	CHECK(buf_len(&a) > 1);
	buf_free(&a);
	buf_free(&b);
	hpack_encoder_free(&e);
}

static void test_roundtrip_random(void)
{
	static const char *const names[] = {":method", ":path", ":status", "content-type", "x-a",
		"grpc-status", "grpc-message", "user-agent", "x-bin-bin", "cookie", "te"};
	static const char *const values[] = {"", "GET", "POST", "200", "application/grpc", "0",
		"trailers", "/cplane.v1.Api/Get", "\x01\x02\xff\x80", "a longer value with spaces ~~~"};
	hpack_encoder e;
	hpack_decoder d;
	buf out = BUF_INIT;
	size_t block, i, j, nf, nl, vl, nl2, vl2, mism = 0;
	const uint8_t *n1, *v1, *n2, *v2;
	unsigned fl[16];
	const char *fn[16], *fv[16];

	hpack_encoder_init(&e, 4096);
	hpack_decoder_init(&d, 4096);
	/* an empty block must not ask buf_data() of a never-grown buf (NULL + 0) */
	CHECK_EQ_INT(buf_reserve(&out, 64), 0);
	for (block = 0; block < 3000; block++) {
		buf_reset(&out);
		if (rnd() % 50 == 0)
			hpack_encoder_set_max_size(&e, rnd() % 5000);
		if (rnd() % 50 == 0)
			e.no_huffman = !e.no_huffman;
		CHECK_EQ_INT(hpack_encode_begin(&e, &out), HPACK_OK);
		nf = rnd() % 16;
		for (i = 0; i < nf; i++) {
			fn[i] = names[rnd() % (sizeof(names) / sizeof(names[0]))];
			fv[i] = values[rnd() % (sizeof(values) / sizeof(values[0]))];
			fl[i] = rnd() % 8 == 0 ? HPACK_FIELD_NEVER_INDEXED : rnd() % 8 == 0 ? HPACK_FIELD_NO_INDEX : 0;
			CHECK_EQ_INT(enc(&e, &out, fn[i], fv[i], fl[i]), HPACK_OK);
		}
		flist_reset(&L1);
		CHECK_EQ_INT(hpack_decode_block(&d, buf_data(&out), buf_len(&out), 1 << 20, collect, &L1), HPACK_OK);
		if (L1.n != nf) {
			mism++;
			continue;
		}
		for (i = 0; i < nf; i++) {
			if (L1.f[i].nl != strlen(fn[i]) || memcmp(L1.arena + L1.f[i].no, fn[i], L1.f[i].nl) ||
			    L1.f[i].vl != strlen(fv[i]) || memcmp(L1.arena + L1.f[i].vo, fv[i], L1.f[i].vl) ||
			    L1.f[i].flags != (fl[i] & HPACK_FIELD_NEVER_INDEXED))
				mism++;
		}
		if (e.table.count != d.table.count || e.table.size != d.table.size ||
		    e.table.max_size != d.table.max_size)
			mism++;
		for (j = 0; j < e.table.count && j < d.table.count; j++) {
			hpack_table_entry(&e.table, j, &n1, &nl, &v1, &vl);
			hpack_table_entry(&d.table, j, &n2, &nl2, &v2, &vl2);
			if (nl != nl2 || vl != vl2 || memcmp(n1, n2, nl) || memcmp(v1, v2, vl))
				mism++;
		}
	}
	CHECK_EQ_INT(mism, 0);
	buf_free(&out);
	hpack_encoder_free(&e);
	hpack_decoder_free(&d);
}

int main(void)
{
	RUN(test_c1_integers);
	RUN(test_integer_limits);
	RUN(test_c2);
	RUN(test_c3_decode);
	RUN(test_c4_decode);
	RUN(test_c5_decode);
	RUN(test_c6_decode);
	RUN(test_c3_encode);
	RUN(test_c4_encode);
	RUN(test_c5_encode);
	RUN(test_c6_encode);
	RUN(test_truncation_every_byte);
	RUN(test_decode_errors);
	RUN(test_need_update);
	RUN(test_callback_stop);
	RUN(test_value_checked_huffman_memo);
	RUN(test_huffman_memo_replacement);
	RUN(test_value_checked_table);
	RUN(test_value_ids);
	RUN(test_evicted_name_reference);
	RUN(test_list_limit_keeps_sync);
	RUN(test_hpack_bomb);
	RUN(test_list_limit_before_huffman);
	RUN(test_encoder_grpc_repeats);
	RUN(test_encoder_flags);
	RUN(test_encoder_size_updates);
	RUN(test_static_table_lookup);
	RUN(test_encoder_state);
	RUN(test_roundtrip_random);
	return harness_finish();
}
