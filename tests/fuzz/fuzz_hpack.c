/*
 * HPACK decoder on arbitrary bytes, then a round trip of whatever decoded:
 * our encoder's output must decode to the same list, and the encoder's and
 * second decoder's tables must stay identical.
 *
 * Input: header blocks separated by "HPAK" (one connection's worth, so the
 * dynamic table carries over).  Block k's parity bits pick the encoder's
 * Huffman use and a table size change, so those paths get exercised too.
 * Both decoders have a value check (no '\n'): a field marked
 * HPACK_FIELD_VALUE_CHECKED must pass it (the mark is not compared between
 * the decoders, whose representations of a field differ).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/hpack.h"

#define MAX_LIST 65536
#define MAX_FIELDS (MAX_LIST / 32 + 1)

struct list {
	size_t n, used;
	struct { uint32_t no, nl, vo, vl; unsigned flags; } f[MAX_FIELDS];
	uint8_t arena[MAX_LIST];
};

static struct list A, B;

static int no_lf(const uint8_t *v, size_t n)
{
	return memchr(v, '\n', n) == NULL;
}

static int collect(void *ctx, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl,
    unsigned flags)
{
	struct list *l = ctx;

	/* the decoder's limit guarantees both fit */
	if (l->n >= MAX_FIELDS || nl + vl > sizeof(l->arena) - l->used)
		abort();
	if ((flags & HPACK_FIELD_VALUE_CHECKED) && !no_lf(value, vl))
		abort();
	flags &= ~HPACK_FIELD_VALUE_CHECKED;
	l->f[l->n].no = (uint32_t)l->used;
	memcpy(l->arena + l->used, name, nl);
	l->used += nl;
	l->f[l->n].vo = (uint32_t)l->used;
	memcpy(l->arena + l->used, value, vl);
	l->used += vl;
	l->f[l->n].nl = (uint32_t)nl;
	l->f[l->n].vl = (uint32_t)vl;
	l->f[l->n].flags = flags;
	l->n++;
	return 0;
}

static void same_lists(const struct list *a, const struct list *b)
{
	size_t i;

	if (a->n != b->n)
		abort();
	for (i = 0; i < a->n; i++) {
		if (a->f[i].nl != b->f[i].nl || a->f[i].vl != b->f[i].vl ||
		    a->f[i].flags != b->f[i].flags ||
		    memcmp(a->arena + a->f[i].no, b->arena + b->f[i].no, a->f[i].nl) != 0 ||
		    memcmp(a->arena + a->f[i].vo, b->arena + b->f[i].vo, a->f[i].vl) != 0)
			abort();
	}
}

static void same_tables(const hpack_table *x, const hpack_table *y)
{
	const uint8_t *n1, *v1, *n2, *v2;
	size_t i, nl1, vl1, nl2, vl2;

	if (x->count != y->count || x->size != y->size || x->max_size != y->max_size)
		abort();
	for (i = 0; i < x->count; i++) {
		if (hpack_table_entry(x, i, &n1, &nl1, &v1, &vl1) != 0 ||
		    hpack_table_entry(y, i, &n2, &nl2, &v2, &vl2) != 0 ||
		    nl1 != nl2 || vl1 != vl2 || memcmp(n1, n2, nl1) || memcmp(v1, v2, vl1))
			abort();
	}
}

/* The primitives on their own. */
static void primitives(const uint8_t *data, size_t size)
{
	static uint8_t out[4096 * 8 / 5 + 1], again[4096], back[sizeof(out)];
	uint32_t v;
	size_t n = size < 4096 ? size : 4096;
	int r, r2;

	if (size > 0) {
		r = hpack_decode_int(data + 1, size - 1, (unsigned)(data[0] % 8) + 1, &v);
		if (r > 6)
			abort();
	}
	r = hpack_huffman_decode(data, n, out, sizeof(out));
	r2 = hpack_huffman_decode(data, n, NULL, 0);
	if (r != r2)
		abort();
	if (r >= 0) {
		size_t el = hpack_huffman_encoded_len(out, (size_t)r);

		/* the code is prefix-free: the only valid encoding is ours, bar padding */
		if (el != n)
			abort();
		hpack_huffman_encode(out, (size_t)r, again);
		if (memcmp(again, data, n) != 0)
			abort();
		if (hpack_huffman_decode(again, el, back, sizeof(back)) != r ||
		    memcmp(back, out, (size_t)r) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hpack_decoder d, d2;
	hpack_encoder e;
	buf out = BUF_INIT;
	size_t pos = 0, end, k = 0, i;
	const uint8_t *sep;
	int r;

	primitives(data, size);
	hpack_decoder_init(&d, 4096);
	hpack_decoder_init(&d2, 4096);
	hpack_decoder_set_value_check(&d, no_lf);
	hpack_decoder_set_value_check(&d2, no_lf);
	hpack_encoder_init(&e, 4096);
	while (pos <= size) {
		sep = size - pos >= 4 ? memmem(data + pos, size - pos, "HPAK", 4) : NULL;
		end = sep ? (size_t)(sep - data) : size;
		A.n = A.used = 0;
		r = hpack_decode_block(&d, data + pos, end - pos, MAX_LIST, collect, &A);
		if (r != HPACK_OK && r != HPACK_ERR_LIST_TOO_LARGE)
			break;
		if (r == HPACK_OK) {
			e.no_huffman = (int)(k & 1);
			if (k & 2)
				hpack_encoder_set_max_size(&e, (end - pos) * 37 % 4500);
			buf_reset(&out);
			if (hpack_encode_begin(&e, &out) != HPACK_OK)
				abort();
			for (i = 0; i < A.n; i++) {
				if (hpack_encode_field(&e, &out, A.arena + A.f[i].no, A.f[i].nl,
				    A.arena + A.f[i].vo, A.f[i].vl, A.f[i].flags) != HPACK_OK)
					abort();
			}
			B.n = B.used = 0;
			/* buf_data() of a never-grown buf is NULL + 0, which UBSan rejects */
			if (hpack_decode_block(&d2, buf_len(&out) ? buf_data(&out) : (const uint8_t *)"",
			    buf_len(&out), MAX_LIST, collect, &B) != HPACK_OK)
				abort();
			same_lists(&A, &B);
			same_tables(&e.table, &d2.table);
		}
		if (!sep)
			break;
		pos = end + 4;
		k++;
	}
	buf_free(&out);
	hpack_encoder_free(&e);
	hpack_decoder_free(&d);
	hpack_decoder_free(&d2);
	return 0;
}
