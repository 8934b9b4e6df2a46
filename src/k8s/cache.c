#include "k8s/cache.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint32_t hash;
	uint32_t mark;
	k8s_deployment d;
};

struct k8s_cache {
	struct entry **b;
	size_t nb, n;
};

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

k8s_cache *k8s_cache_new(void)
{
	k8s_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->nb = 64;
	c->b = calloc(c->nb, sizeof(*c->b));
	if (c->b == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void k8s_cache_free(k8s_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nb; i++) {
		struct entry *e = c->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(c->b);
	free(c);
}

size_t k8s_cache_count(const k8s_cache *c)
{
	return c->n;
}

static struct entry **find(const k8s_cache *c, const char *name, uint32_t h)
{
	struct entry **pp = &c->b[h & (c->nb - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->d.name, name) == 0)
			return pp;
	return pp;
}

const k8s_deployment *k8s_cache_get(const k8s_cache *c, const char *name)
{
	struct entry *e = *find(c, name, hash_name(name));

	return e ? &e->d : NULL;
}

static void grow(k8s_cache *c)
{
	size_t nb = c->nb * 2;
	struct entry **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;	/* longer chains, still correct */
	for (size_t i = 0; i < c->nb; i++) {
		struct entry *e = c->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(c->b);
	c->b = b;
	c->nb = nb;
}

const k8s_deployment *k8s_cache_put(k8s_cache *c, const k8s_deployment *d, int *created)
{
	uint32_t h = hash_name(d->name);
	struct entry **pp = find(c, d->name, h), *e = *pp;

	if (e) {
		e->d = *d;
		e->d.pod = NULL;	/* a view into the decoder: not ours to keep */
		if (created)
			*created = 0;
		return &e->d;
	}
	e = malloc(sizeof(*e));
	if (e == NULL)
		return NULL;
	e->next = NULL;
	e->hash = h;
	e->mark = 0;
	e->d = *d;
	e->d.pod = NULL;	/* a view into the decoder: not ours to keep */
	*pp = e;
	c->n++;
	if (created)
		*created = 1;
	if (c->n > c->nb)
		grow(c);
	return &e->d;
}

int k8s_cache_remove(k8s_cache *c, const char *name, k8s_deployment *last)
{
	struct entry **pp = find(c, name, hash_name(name)), *e = *pp;

	if (e == NULL)
		return 0;
	*pp = e->next;
	if (last)
		*last = e->d;
	free(e);
	c->n--;
	return 1;
}

void k8s_cache_set_mark(k8s_cache *c, const char *name, uint32_t mark)
{
	struct entry *e = *find(c, name, hash_name(name));

	if (e)
		e->mark = mark;
}

void k8s_cache_foreach_unmarked(const k8s_cache *c, uint32_t mark, k8s_cache_fn fn, void *ctx)
{
	for (size_t i = 0; i < c->nb; i++)
		for (const struct entry *e = c->b[i]; e; e = e->next)
			if (e->mark != mark)
				fn(ctx, &e->d);
}

void k8s_cache_foreach(const k8s_cache *c, k8s_cache_fn fn, void *ctx)
{
	for (size_t i = 0; i < c->nb; i++)
		for (const struct entry *e = c->b[i]; e; e = e->next)
			fn(ctx, &e->d);
}

const k8s_deployment *k8s_cache_next(const k8s_cache *c, k8s_cache_iter *it)
{
	const struct entry *e = it->entry;

	if (e && e->next) {
		it->entry = e->next;
		return &e->next->d;
	}
	if (e)
		it->bucket++;
	for (; it->bucket < c->nb; it->bucket++) {
		if (c->b[it->bucket]) {
			it->entry = c->b[it->bucket];
			return &c->b[it->bucket]->d;
		}
	}
	it->entry = NULL;
	return NULL;
}
