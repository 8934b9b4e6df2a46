/*
 * Internal to src/json: the extractor's key lookup, shared by the
 * extractor and the tokenizer's member loop, which calls it in place of
 * the key filter callback (json__set_extract_filter) so the per-member
 * call does not make the loop spill its registers.
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

/* Members nobody asked for never become tokens. */
KEYS_INLINE int json__key_filter(json_extract *x, const char *key, size_t len, unsigned depth)
{
	unsigned parent = x->node[depth - 1], v;
	const struct json_pnode *pn = &x->ps->node[parent];

	if (!(pn->key_lens >> (len < 63 ? len : 63) & 1) && !pn->any_child)
		return 0;
	v = match_key(x, parent, key, len);

	if (v == JSON__NONE)
		return 0;
	x->pending = (uint16_t)v;
	return JSON_FILTER_VALUE_ONLY;	/* on_token() has nothing to do for the key */
}


#endif
