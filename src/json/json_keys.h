/*
 * Internal to src/json: the extractor's key lookup and token step, shared
 * by the extractor and the tokenizer's member loop, which calls them in
 * place of the key filter and the sink (json__set_extract_filter), so the
 * calls per member and per token do not make the loop spill its
 * registers.
 */
#ifndef CPLANE_JSON_KEYS_H
#define CPLANE_JSON_KEYS_H

#include "json.h"

#include <string.h>

#define JSON__NONE 0xffff
#define KEYS_INLINE static inline __attribute__((always_inline))

/* Keys are looked up by (parent node, key): one probe in the common case,
 * whether the key is declared or not.  Only the first byte of the key goes
 * in, not the last: its address is known before the key's end is, so the
 * probe does not wait on the scan for the closing quote. */
KEYS_INLINE unsigned key_hash(unsigned parent, const char *k, size_t len)
{
	unsigned h = parent << 4 ^ (unsigned)len << 6 ^ (uint8_t)k[0];

	return (h ^ h >> 9) & (JSON_PATHS_HASH - 1);
}

KEYS_INLINE int eq8(const char *a, const char *b)
{
	uint64_t x, y;

	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return x == y;
}

KEYS_INLINE int eq4(const char *a, const char *b)
{
	uint32_t x, y;

	memcpy(&x, a, 4);
	memcpy(&y, b, 4);
	return x == y;
}

/* Keys are short: compare with overlapping word loads, never past either end. */
KEYS_INLINE int same_bytes(const char *a, const char *b, size_t n)
{
	size_t j;

	if (n >= 8) {
		for (j = 0; j + 8 < n; j += 8)
			if (!eq8(a + j, b + j))
				return 0;
		return eq8(a + n - 8, b + n - 8);
	}
	if (n >= 4)
		return eq4(a, b) && eq4(a + n - 4, b + n - 4);
	for (j = 0; j < n; j++)
		if (a[j] != b[j])
			return 0;
	return 1;
}

KEYS_INLINE unsigned find_key(const json_pathset *ps, unsigned parent, const char *k, size_t len)
{
	unsigned h, i;

	if (len == 0)
		return JSON__NONE;	/* declared keys are never empty */
	for (h = key_hash(parent, k, len); (i = ps->hash[h]) != 0; h = (h + 1) & (JSON_PATHS_HASH - 1)) {
		const struct json_pnode *n = &ps->node[i];

		if (n->parent != parent || n->key_len != len)
			continue;
		if (same_bytes(ps->pool + n->key_off, k, len))
			return i;
	}
	return JSON__NONE;
}

/* A named key first; else the parent's "*" child, remembering the key for the event. */
KEYS_INLINE unsigned match_key(json_extract *x, unsigned parent, const char *k, size_t len)
{
	unsigned v = find_key(x->ps, parent, k, len);

	if (v != JSON__NONE || x->ps->node[parent].any_child == 0 || len > JSON_ANY_KEY_MAX)
		return v;
	memcpy(x->any_key, k, len);
	x->any_len = (uint16_t)len;
	return x->ps->node[parent].any_child;
}

/* Members nobody asked for never become tokens: json__key_filter() for the
 * object whose path node is parent (x->node[depth - 1]), with its key_lens. */
KEYS_INLINE int json__key_filter_at(json_extract *x, unsigned parent, uint64_t key_lens, const char *key,
    size_t len)
{
	unsigned v;

	if (!(key_lens >> (len % 64) & 1))
		return 0;
	v = match_key(x, parent, key, len);

	if (v == JSON__NONE)
		return 0;
	x->pending = (uint16_t)v;
	return JSON_FILTER_VALUE_ONLY;	/* on_token() has nothing to do for the key */
}

KEYS_INLINE int json__key_filter(json_extract *x, const char *key, size_t len, unsigned depth)
{
	unsigned parent = x->node[depth - 1];

	return json__key_filter_at(x, parent, x->ps->node[parent].key_lens, key, len);
}


KEYS_INLINE unsigned elem_child(const json_pathset *ps, unsigned parent)
{
	unsigned e = ps->node[parent].elem_child;

	return e ? e : JSON__NONE;
}

/* The next value belongs to node v: skip it unless something in it is wanted. */
KEYS_INLINE void prepare(json_extract *x, unsigned v)
{
	x->pending = (uint16_t)v;
	if (v != JSON__NONE && (x->ps->node[v].child || x->ps->node[v].any_child || x->ps->node[v].path >= 0))
		return;
	if (x->flags & JSON_EXTRACT_STRICT)
		x->ign = 1;
	else
		json_skip_next(&x->p);
}

KEYS_INLINE void skip_rest(json_extract *x, unsigned depth)
{
	if (x->flags & JSON_EXTRACT_STRICT) {
		x->ign = 2;
		x->ign_rest = 1;
		x->ign_depth = depth;
	} else {
		json_skip_rest(&x->p);
		x->rest_pending = 1;
	}
}

KEYS_INLINE int emit(json_extract *x, int kind, int path, uint32_t index, const json_token *t)
{
	json_event ev;

	ev.kind = kind;
	ev.path = path;
	ev.index = index;
	ev.tok = t;
	ev.key = NULL;
	ev.key_len = 0;
	/* VALUE events are emitted for the pending node: a "*" member's key was kept by match_key(). */
	if (kind == JSON_EV_VALUE && x->pending != JSON__NONE && x->ps->node[x->pending].is_any) {
		ev.key = x->any_key;
		ev.key_len = x->any_len;
	}
	return x->fn(x->ctx, &ev) ? JSON_EABORTED : 0;
}

KEYS_INLINE int json__on_token(json_extract *x, json_token *t)
{
	const json_pathset *ps = x->ps;
	unsigned d = t->depth, v;
	int start, complete, r;

	/* The common token: a scalar member of an object, wanted or not. */
	if (t->type >= JSON_STRING && t->type <= JSON_NULL && !x->ign && d > 0 && !x->isarr[d - 1]) {
		v = x->pending;
		if (v != JSON__NONE && ps->node[v].path >= 0)
			return emit(x, JSON_EV_VALUE, ps->node[v].path, 0, t);
		return 0;
	}

	if (x->ign == 1) {
		x->ign = 0;
		if (t->type == JSON_OBJECT_BEGIN || t->type == JSON_ARRAY_BEGIN) {
			x->ign = 2;
			x->ign_rest = 0;
			x->ign_depth = d;
			return 0;
		}
		if (t->type != JSON_OBJECT_END && t->type != JSON_ARRAY_END)
			t->type = JSON_SKIPPED;
	} else if (x->ign == 2) {
		if ((t->type != JSON_OBJECT_END && t->type != JSON_ARRAY_END) || d != x->ign_depth)
			return 0;
		x->ign = 0;
		x->rest_pending = x->ign_rest;
		t->type = JSON_SKIPPED;
	}

	switch (t->type) {
	case JSON_KEY:
		/* With the key filter installed, keys that get here matched and
		 * key_filter() already set pending. */
		if (x->flags & JSON_EXTRACT_STRICT)
			prepare(x, match_key(x, x->node[d - 1], t->str, t->len));
		return 0;
	case JSON_OBJECT_BEGIN: case JSON_ARRAY_BEGIN:
		start = 1;
		complete = 0;
		break;
	case JSON_OBJECT_END: case JSON_ARRAY_END:
		start = 0;
		complete = 1;
		break;
	case JSON_SKIPPED:
		start = !x->rest_pending;
		x->rest_pending = 0;
		complete = 1;
		break;
	default:
		start = complete = 1;
		break;
	}

	if (start) {
		v = x->pending;
		if (d > 0 && x->isarr[d - 1]) {
			unsigned e = elem_child(ps, x->node[d - 1]);

			if (e != JSON__NONE && ps->node[e].path >= 0) {
				r = emit(x, JSON_EV_ELEM_BEGIN, ps->node[e].path, x->index[d - 1], NULL);
				if (r < 0)
					return r;
			}
		}
		if (v != JSON__NONE && ps->node[v].path >= 0 && t->type != JSON_SKIPPED) {
			r = emit(x, JSON_EV_VALUE, ps->node[v].path, 0, t);
			if (r < 0)
				return r;
		}
		if (t->type == JSON_OBJECT_BEGIN || t->type == JSON_ARRAY_BEGIN) {
			int arr = t->type == JSON_ARRAY_BEGIN;

			if (v == JSON__NONE || !(arr ? ps->node[v].has_elem : ps->node[v].has_key)) {
				skip_rest(x, d);
				return 0;
			}
			x->node[d] = (uint16_t)v;
			x->isarr[d] = (uint8_t)arr;
			if (arr) {
				x->index[d] = 0;
				prepare(x, elem_child(ps, v));
			}
			return 0;
		}
	}
	if (complete) {
		if (d == 0) {
			r = emit(x, JSON_EV_END, -1, 0, NULL);
			if (r < 0)
				return r;
			prepare(x, 0);
		} else if (x->isarr[d - 1]) {
			unsigned e = elem_child(ps, x->node[d - 1]);

			if (e != JSON__NONE && ps->node[e].path >= 0) {
				r = emit(x, JSON_EV_ELEM_END, ps->node[e].path, x->index[d - 1], NULL);
				if (r < 0)
					return r;
			}
			x->index[d - 1]++;
			prepare(x, e);
		}
	}
	return 0;
}

#endif
