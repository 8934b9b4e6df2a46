/*
 * HPACK Huffman code (RFC 7541 section 5.2 and Appendix B).
 *
 * Decoding walks the code tree a nibble at a time through a precomputed
 * state table (hpack_huffman_table.h, written by scripts/gen_hpack_huffman.py):
 * two table lookups per input byte, no bit loop.  A string is valid only if
 * it never decodes EOS and ends on a state reached by at most 7 one-bits
 * after the last symbol.
 *
 * Encoding packs codes into a 64-bit accumulator and flushes whole bytes; the
 * last byte is padded with the high bits of EOS (all ones).
 */
#include <stddef.h>
#include <stdint.h>

#include "h2/hpack.h"
#include "h2/hpack_huffman_table.h"

/*
 * The common case, with room for the most symbols len octets can hold (and
 * one more): branch-free, every step stores its symbol byte and advances only
 * if the step completed one; failures are collected and checked at the end.
 */
static int decode_roomy(const uint8_t *in, size_t len, uint8_t *out)
{
	const struct huff_step *t;
	unsigned state = 0, flags, seen = 0, last = HUFF_ACCEPT;
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		t = &huff_dec[state][in[i] >> 4];
		flags = t->flags;
		out[n] = t->sym;
		n += flags & HUFF_SYM;
		t = &huff_dec[t->next][in[i] & 0xf];
		out[n] = t->sym;
		n += t->flags & HUFF_SYM;
		seen |= flags | t->flags;
		last = t->flags;
		state = t->next;
	}
	if ((seen & HUFF_FAIL) || !(last & HUFF_ACCEPT) || n > INT32_MAX)
		return HPACK_ERR_HUFFMAN;
	return (int)n;
}

int hpack_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t outsz)
{
	const struct huff_step *t;
	size_t i, n = 0;
	unsigned state = 0, accept = 1, flags;

	if (out != NULL && len <= (SIZE_MAX - 1) / 8 && outsz > len * 8 / 5)
		return decode_roomy(in, len, out);
	for (i = 0; i < len; i++) {
		t = &huff_dec[state][in[i] >> 4];
		flags = t->flags;
		if (flags & HUFF_SYM) {
			if (out != NULL) {
				if (n == outsz)
					return HPACK_ERR_HUFFMAN;
				out[n] = t->sym;
			}
			n++;
		}
		state = t->next;
		t = &huff_dec[state][in[i] & 0xf];
		flags |= t->flags;
		if (t->flags & HUFF_SYM) {
			if (out != NULL) {
				if (n == outsz)
					return HPACK_ERR_HUFFMAN;
				out[n] = t->sym;
			}
			n++;
		}
		if (flags & HUFF_FAIL)
			return HPACK_ERR_HUFFMAN;
		state = t->next;
		accept = t->flags & HUFF_ACCEPT;
	}
	if (!accept)
		return HPACK_ERR_HUFFMAN;
	if (n > INT32_MAX)
		return HPACK_ERR_HUFFMAN;
	return (int)n;
}

size_t hpack_huffman_encoded_len(const uint8_t *in, size_t len)
{
	size_t i, bits = 0;

	for (i = 0; i < len; i++)
		bits += huff_codes[in[i]].bits;
	return (bits + 7) / 8;
}

void hpack_huffman_encode(const uint8_t *in, size_t len, uint8_t *out)
{
	uint64_t acc = 0;
	unsigned nbits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		const struct huff_code *c = &huff_codes[in[i]];

		/* at most 7 bits remain pending, plus a 30-bit code: fits in 64 */
		acc = (acc << c->bits) | c->code;
		nbits += c->bits;
		while (nbits >= 8) {
			nbits -= 8;
			*out++ = (uint8_t)(acc >> nbits);
		}
	}
	if (nbits > 0)
		*out = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
}
