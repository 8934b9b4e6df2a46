/*
 * libFuzzer target for src/json.
 *
 * The first byte picks a split point, a chunk size and the skipper's
 * instruction set.  Checks, on any input:
 *  - the AVX2 and baseline skippers give the same result;
 *  - the tokenizer gives the same tokens and result whole, split at the
 *    chosen point, and in small chunks (also when skipping every value);
 *  - extraction of a fixed path table gives the same events whole and split,
 *    and, when strict mode accepts the input, fast mode gives the same events;
 *  - a document that parses is written back by the writer, and that output
 *    re-parses to the same tokens and rewrites to the same bytes.
 */
#include "json/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct rec {
	uint8_t *b;
	size_t n, cap;
} rec;

static void rec_put(rec *r, const void *p, size_t n)
{
	if (r->n + n > r->cap) {
		size_t cap = (r->n + n) * 2 + 256;
		uint8_t *b = realloc(r->b, cap);

		if (!b)
			abort();
		r->b = b;
		r->cap = cap;
	}
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void rec_token(rec *r, const json_token *t)
{
	uint8_t ty = (uint8_t)t->type;
	uint32_t depth = t->depth;

	rec_put(r, &ty, 1);
	rec_put(r, &depth, sizeof(depth));
	switch (t->type) {
	case JSON_KEY: case JSON_STRING:
		rec_put(r, &t->len, sizeof(t->len));
		rec_put(r, t->str, t->len);
		break;
	case JSON_INT:
		rec_put(r, &t->i, sizeof(t->i));
		break;
	case JSON_DOUBLE:
		rec_put(r, &t->d, sizeof(t->d));
		break;
	}
}

static void rec_end(rec *r, int err)
{
	uint8_t ty = 0xee;

	rec_put(r, &ty, 1);
	rec_put(r, &err, sizeof(err));
}

/* Tokenizes data fed in pieces: first `split` bytes, then chunks of `step`. */
static void tokenize(const uint8_t *data, size_t len, size_t split, size_t step, unsigned flags,
    int skip_all, rec *r)
{
	static char sbuf[256];
	json_parser p;
	json_token t;
	size_t off = 0;
	int res = 0;

	json_parser_init(&p, sbuf, sizeof(sbuf), flags);
	json_parser_set_max_depth(&p, 16);
	if (skip_all)
		json_skip_next(&p);
	while (res >= 0) {
		size_t n = off < split ? split - off : step;
		uint8_t *copy;

		if (n > len - off)
			n = len - off;
		copy = malloc(n + 1);	/* its own allocation: stale views trip ASan */
		memcpy(copy, data + off, n);
		json_feed(&p, copy, n);
		off += n;
		if (off == len)
			json_feed_end(&p);
		while ((res = json_next(&p, &t)) == 1) {
			rec_token(r, &t);
			if (skip_all && t.depth == 0)
				json_skip_next(&p);
		}
		free(copy);
		if (off == len)
			break;
	}
	rec_end(r, res);
}

static const char *const paths[] = {
	"type", "object.metadata.name", "object.metadata.labels.a\\.b/c", "items[*]",
	"items[*].metadata.name", "items[*].status.conditions[*]", "items[*].status.conditions[*].type",
	"a", "a.b", "a.b[*]", "a.b[*].c", "[*]", "[*].x", "k",
};

static int on_event(void *ctx, const json_event *ev)
{
	rec *r = ctx;
	int32_t v[3] = { ev->kind, ev->path, (int32_t)ev->index };

	rec_put(r, v, sizeof(v));
	if (ev->kind == JSON_EV_VALUE)
		rec_token(r, ev->tok);
	return 0;
}

static int extract(const json_pathset *ps, const uint8_t *data, size_t len, size_t split,
    unsigned flags, rec *r)
{
	static json_extract x;
	static char sbuf[128];
	uint64_t off;
	int res;

	json_extract_init(&x, ps, sbuf, sizeof(sbuf), flags, on_event, r);
	json_parser_set_max_depth(&x.p, 16);
	res = json_extract_feed(&x, data, split);
	if (res >= 0)
		res = json_extract_feed(&x, data + split, len - split);
	if (res >= 0)
		res = json_extract_finish(&x);
	rec_end(r, res);
	off = json_offset(&x.p);	/* errors at the same byte however fed */
	rec_put(r, &off, sizeof(off));
	return res;
}

static int same(const rec *a, const rec *b)
{
	return a->n == b->n && memcmp(a->b, b->b, a->n) == 0;
}

/* Parses a document and writes it back; returns the writer's length or < 0
 * (a parse error, -200 for an infinity, or ENOSPC when escapes and number
 * spelling outgrow the 8x room). */
static int rewrite(const uint8_t *in, size_t len, uint8_t *out, size_t cap, rec *r)
{
	static char sbuf[256];
	json_parser p;
	json_token t;
	json_writer w;
	int res;

	json_parser_init(&p, sbuf, sizeof(sbuf), JSON_SINGLE);
	json_parser_set_max_depth(&p, 16);
	json_writer_init(&w, out, cap);
	json_feed(&p, in, len);
	json_feed_end(&p);
	while ((res = json_next(&p, &t)) == 1) {
		rec_token(r, &t);
		switch (t.type) {
		case JSON_OBJECT_BEGIN: res = json_write_object_begin(&w); break;
		case JSON_OBJECT_END: res = json_write_object_end(&w); break;
		case JSON_ARRAY_BEGIN: res = json_write_array_begin(&w); break;
		case JSON_ARRAY_END: res = json_write_array_end(&w); break;
		case JSON_KEY: res = json_write_key(&w, t.str, t.len); break;
		case JSON_STRING: res = json_write_string(&w, t.str, t.len); break;
		case JSON_INT: res = json_write_int(&w, t.i); break;
		case JSON_DOUBLE:
			/* Overflowed exponents parse to infinity, which JSON cannot write. */
			res = (t.d - t.d != 0) ? JSON_EUSAGE : json_write_double(&w, t.d);
			break;
		case JSON_TRUE: res = json_write_bool(&w, 1); break;
		case JSON_FALSE: res = json_write_bool(&w, 0); break;
		case JSON_NULL: res = json_write_null(&w); break;
		default: res = -100; break;
		}
		if (res < 0)
			return res == JSON_EUSAGE ? -200 : res;
	}
	if (res < 0)
		return res;
	return json_writer_finish(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_pathset ps;
	static int compiled;
	rec a = { 0 }, b = { 0 };
	size_t split, step, len;
	unsigned flags;
	int skip, res;

	if (size < 1)
		return 0;
	if (!compiled) {
		if (json_pathset_compile(&ps, paths, sizeof(paths) / sizeof(paths[0])) != 0)
			abort();
		compiled = 1;
	}
	flags = (data[0] & 1 ? JSON_SINGLE : 0) | (data[0] & 0x80 ? JSON_BASELINE_SIMD : 0);
	step = 1 + (data[0] >> 1 & 7) * 9;
	/* Every code path (portable, SSE2, SSE4.2, AVX2; the best the CPU has
	 * by default) agrees with the portable one. */
	a.n = 0;
	tokenize(data + 1, size - 1, size - 1, 1,
	    (flags & JSON_SINGLE) | JSON_PATH_SCALAR << JSON_SIMD_SHIFT, 1, &a);
	for (skip = 0; skip <= JSON_PATH_AVX2; skip++) {
		b.n = 0;
		tokenize(data + 1, size - 1, size - 1, 1,
		    (flags & JSON_SINGLE) | (unsigned)skip << JSON_SIMD_SHIFT, 1, &b);
		if (!same(&a, &b))
			abort();
	}
	data++;
	len = size - 1;
	split = len ? (size_t)data[len / 2] * 131 % (len + 1) : 0;

	for (skip = 0; skip <= 1; skip++) {
		a.n = b.n = 0;
		tokenize(data, len, len, 1, flags, skip, &a);
		tokenize(data, len, split, len + 1, flags, skip, &b);
		if (!same(&a, &b))
			abort();
		b.n = 0;
		tokenize(data, len, 0, step, flags, skip, &b);
		if (!same(&a, &b))
			abort();
	}

	a.n = b.n = 0;
	extract(&ps, data, len, len, flags, &a);
	extract(&ps, data, len, split, flags, &b);
	if (!same(&a, &b))
		abort();
	b.n = 0;
	res = extract(&ps, data, len, split, flags | JSON_EXTRACT_STRICT, &b);
	if (res >= 0 && !same(&a, &b))
		abort();
	/* The extractor on every path agrees with the portable one, split. */
	a.n = 0;
	extract(&ps, data, len, split, (flags & JSON_SINGLE) | JSON_PATH_SCALAR << JSON_SIMD_SHIFT, &a);
	for (skip = JSON_PATH_SSE2; skip <= JSON_PATH_AVX2; skip++) {
		b.n = 0;
		extract(&ps, data, len, split, (flags & JSON_SINGLE) | (unsigned)skip << JSON_SIMD_SHIFT, &b);
		if (!same(&a, &b))
			abort();
	}

	if (len < 4096) {
		uint8_t *o1 = malloc(len * 8 + 64), *o2 = malloc(len * 8 + 64);
		int n1, n2;

		a.n = b.n = 0;
		n1 = rewrite(data, len, o1, len * 8 + 64, &a);
		if (n1 > 0) {
			n2 = rewrite(o1, (size_t)n1, o2, len * 8 + 64, &b);
			if (n2 != n1 || memcmp(o1, o2, (size_t)n1) != 0)
				abort();
			if (!same(&a, &b))
				abort();
		}
		free(o1);
		free(o2);
	}
	free(a.b);
	free(b.b);
	return 0;
}
