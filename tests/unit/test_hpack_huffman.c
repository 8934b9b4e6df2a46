/*
 * HPACK Huffman code (RFC 7541 5.2, Appendix B): known vectors, all 256
 * octets, the EOS and padding rules, and the nibble-table decoder against a
 * bit-by-bit reference built from the code table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "h2/hpack.h"
#include "h2/hpack_huffman_table.h"

/* Bit-by-bit reference decoder straight from the Appendix B code table. */
static int ref_huff_decode(const uint8_t *in, size_t len, uint8_t *out)
{
	uint32_t code = 0;
	unsigned bits = 0, s;
	size_t i, n = 0;
	int b;

	for (i = 0; i < len; i++) {
		for (b = 7; b >= 0; b--) {
			code = code << 1 | ((in[i] >> b) & 1u);
			bits++;
			for (s = 0; s < 257; s++) {
				if (huff_codes[s].bits == bits && huff_codes[s].code == code)
					break;
			}
			if (s == 256)
				return -1;	/* EOS */
			if (s < 256) {
				out[n++] = (uint8_t)s;
				code = 0;
				bits = 0;
			}
		}
	}
	if (bits > 7 || code != (1u << bits) - 1)
		return -1;
	return (int)n;
}

static void check_huff_vector(const char *plain, const char *hex)
{
	uint8_t want[64], got[64], dec[128];
	size_t wn = harness_unhex(hex, want), pl = strlen(plain);

	CHECK_EQ_INT(hpack_huffman_encoded_len((const uint8_t *)plain, pl), wn);
	hpack_huffman_encode((const uint8_t *)plain, pl, got);
	CHECK_EQ_MEM(got, wn, want, wn);
	CHECK_EQ_INT(hpack_huffman_decode(want, wn, dec, sizeof(dec)), (int)pl);
	CHECK_EQ_MEM(dec, pl, plain, pl);
}

static void test_huffman_vectors(void)
{
	check_huff_vector("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff");
	check_huff_vector("no-cache", "a8eb 1064 9cbf");
	check_huff_vector("custom-key", "25a8 49e9 5ba9 7d7f");
	check_huff_vector("custom-value", "25a8 49e9 5bb8 e8b4 bf");
	check_huff_vector("302", "6402");
	check_huff_vector("private", "aec3 771a 4b");
	check_huff_vector("", "");
}

static void test_huffman_all_bytes(void)
{
	uint8_t in[256], enc[1024], dec[2048], ref[2048];
	size_t i, el, bits = 0;

	for (i = 0; i < 256; i++) {
		uint8_t c = (uint8_t)i;

		el = hpack_huffman_encoded_len(&c, 1);
		CHECK_EQ_INT(el, (huff_codes[i].bits + 7u) / 8);
		hpack_huffman_encode(&c, 1, enc);
		CHECK_EQ_INT(hpack_huffman_decode(enc, el, dec, el * 8 / 5 + 1), 1);
		CHECK_EQ_INT(dec[0], i);
		in[i] = c;
		bits += huff_codes[i].bits;
	}
	el = hpack_huffman_encoded_len(in, 256);
	CHECK_EQ_INT(el, (bits + 7) / 8);
	hpack_huffman_encode(in, 256, enc);
	CHECK_EQ_INT(hpack_huffman_decode(enc, el, dec, el * 8 / 5 + 1), 256);
	CHECK_EQ_MEM(dec, 256, in, 256);
	CHECK_EQ_INT(ref_huff_decode(enc, el, ref), 256);
	/* validate-only mode counts the same */
	CHECK_EQ_INT(hpack_huffman_decode(enc, el, NULL, 0), 256);
	/* output bound honoured */
	CHECK_EQ_INT(hpack_huffman_decode(enc, el, dec, 255), HPACK_ERR_HUFFMAN);
}

static void test_huffman_errors(void)
{
	uint8_t out[64];

	/* 'a' (00011) padded with zeros */
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\x18", 1, out, sizeof(out)), HPACK_ERR_HUFFMAN);
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\x1f", 1, out, sizeof(out)), 1);
	/* 'a' followed by 11 one bits: padding longer than 7 bits */
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\x1f\xff", 2, out, sizeof(out)), HPACK_ERR_HUFFMAN);
	/* a lone all-ones octet is 8 bits of padding */
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\xff", 1, out, sizeof(out)), HPACK_ERR_HUFFMAN);
	/* EOS (30 ones) + 2 bits */
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\xff\xff\xff\xff", 4, out, sizeof(out)), HPACK_ERR_HUFFMAN);
	/* 'a' then EOS then padding */
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\x1f\xff\xff\xff\xff", 5, out, sizeof(out)),
	    HPACK_ERR_HUFFMAN);
	/* a code cut short ('0'..: 28-bit symbol 127 truncated to 16 bits) */
	CHECK_EQ_INT(hpack_huffman_decode((const uint8_t *)"\xff\xfe", 2, out, sizeof(out)), HPACK_ERR_HUFFMAN);
}

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* The nibble table and the reference agree on random (mostly invalid) and damaged valid strings. */
static void test_huffman_differential(void)
{
	uint8_t in[64], enc[256], a[512], b[512];
	size_t i, j, n, el;
	int ra, rb, mismatches = 0, valid = 0;

	for (i = 0; i < 40000; i++) {
		if (i & 1) {
			n = rnd() % 8;
			for (j = 0; j < n; j++)
				enc[j] = (uint8_t)rnd();
			el = n;
		} else {
			n = rnd() % 24;
			for (j = 0; j < n; j++)
				in[j] = (uint8_t)(rnd() % 4 ? 32 + rnd() % 95 : rnd());
			el = hpack_huffman_encoded_len(in, n);
			hpack_huffman_encode(in, n, enc);
			switch (rnd() % 4) {
			case 0: if (el) enc[rnd() % el] ^= (uint8_t)(1u << rnd() % 8); break;
			case 1: if (el) el--; break;
			case 2: enc[el++] = (uint8_t)rnd(); break;
			default: break;
			}
		}
		ra = hpack_huffman_decode(enc, el, a, sizeof(a));
		rb = ref_huff_decode(enc, el, b);
		if (ra < 0)
			ra = -1;
		if (ra != rb || (ra > 0 && memcmp(a, b, (size_t)ra) != 0))
			mismatches++;
		if (ra >= 0)
			valid++;
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK(valid > 10000);
	/* sanity of the generated table: an EOS step always fails back to the root */
	for (i = 0; i < 256; i++)
		for (j = 0; j < 16; j++)
			if (huff_dec[i][j].flags & HUFF_FAIL)
				CHECK(huff_dec[i][j].next == 0 && !(huff_dec[i][j].flags & HUFF_SYM));
}

int main(void)
{
	RUN(test_huffman_vectors);
	RUN(test_huffman_all_bytes);
	RUN(test_huffman_errors);
	RUN(test_huffman_differential);
	return harness_finish();
}
