/*
 * Linear probing; deletion shifts the following run back (no tombstones), so
 * a lookup stops at the first empty slot however many removals came before.
 */
#include "base/htab.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

uint32_t base_fnv1a(uint32_t h, const void *s, size_t n)
{
	const uint8_t *p = s;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

uint32_t base_fnv1a_str(const char *s)
{
	uint32_t h = BASE_FNV1A_INIT;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

void htab_init(htab *t, htab_key_fn key)
{
	memset(t, 0, sizeof(*t));
	t->key = key;
}

void htab_free(htab *t)
{
	free(t->rec);
	free(t->tag);
	t->rec = NULL;
	t->tag = NULL;
	t->cap = t->count = 0;
}

static uint16_t tag_of(uint32_t h)
{
	return (uint16_t)(h >> 16);
}

static size_t probe(const htab *t, const char *key, uint32_t h)
{
	size_t m = t->cap - 1, i = h & m;
	uint16_t tag = tag_of(h);

	for (; t->rec[i]; i = (i + 1) & m)
		if (t->tag[i] == tag && strcmp(t->key(t->rec[i]), key) == 0)
			return i;
	return i;
}

void **htab_slot(const htab *t, const char *key)
{
	size_t i;

	if (t->count == 0)
		return NULL;
	i = probe(t, key, base_fnv1a_str(key));
	return t->rec[i] ? &t->rec[i] : NULL;
}

void *htab_find(const htab *t, const char *key)
{
	void **s = htab_slot(t, key);

	return s ? *s : NULL;
}

static void place(void **rec, uint16_t *tag, size_t cap, void *r, uint32_t h)
{
	size_t m = cap - 1, i = h & m;

	while (rec[i])
		i = (i + 1) & m;
	rec[i] = r;
	tag[i] = tag_of(h);
}

static void resize(htab *t, size_t cap)
{
	void **rec = xcalloc(cap, sizeof(*rec));
	uint16_t *tag = xcalloc(cap, sizeof(*tag));

	/* The slots keep 16 bits of the hash: the rest comes from the key (rare). */
	for (size_t i = 0; i < t->cap; i++)
		if (t->rec[i])
			place(rec, tag, cap, t->rec[i], base_fnv1a_str(t->key(t->rec[i])));
	free(t->rec);
	free(t->tag);
	t->rec = rec;
	t->tag = tag;
	t->cap = cap;
}

void htab_insert(htab *t, void *rec)
{
	if ((t->count + 1) * 4 > t->cap * 3)
		resize(t, t->cap ? t->cap * 2 : 16);
	place(t->rec, t->tag, t->cap, rec, base_fnv1a_str(t->key(rec)));
	t->count++;
}

void *htab_remove(htab *t, const char *key)
{
	size_t m, i, j;
	void *r;

	if (t->count == 0)
		return NULL;
	m = t->cap - 1;
	i = probe(t, key, base_fnv1a_str(key));
	r = t->rec[i];
	if (r == NULL)
		return NULL;
	/* Backward shift: move up each later record of the run whose home is
	 * not between the hole and it (cyclically). */
	for (j = (i + 1) & m; t->rec[j]; j = (j + 1) & m) {
		size_t home = base_fnv1a_str(t->key(t->rec[j])) & m;

		if (((j - home) & m) >= ((j - i) & m)) {
			t->rec[i] = t->rec[j];
			t->tag[i] = t->tag[j];
			i = j;
		}
	}
	t->rec[i] = NULL;
	t->count--;
	return r;
}

void *htab_next(const htab *t, size_t *pos)
{
	for (; *pos < t->cap; (*pos)++)
		if (t->rec[*pos])
			return t->rec[(*pos)++];
	return NULL;
}
