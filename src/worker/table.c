/*
 * Separate chaining over a power-of-two bucket array that doubles at load
 * factor 1; FNV-1a hashes.  Thousands of clusters cost one allocation each
 * plus the bucket array.
 */
#include "worker/table.h"

#include <stdlib.h>
#include <string.h>

struct cluster_table {
	struct cluster **buckets;
	size_t nbuckets;	/* power of two */
	size_t count;
};

static void cluster_free(struct cluster *c)
{
	free(c->want_image);
	free(c->image);
	free(c->failure);
	free(c->spec_blob);
	free(c->service_dns);
	free(c);
}

int cluster_set_text(char **slot, const char *v)
{
	char *p;

	if (v == NULL || v[0] == '\0') {
		free(*slot);
		*slot = NULL;
		return 0;
	}
	if (*slot && strcmp(*slot, v) == 0)
		return 0;
	p = strdup(v);
	if (p == NULL)
		return -1;
	free(*slot);
	*slot = p;
	return 0;
}

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

cluster_table *cluster_table_new(void)
{
	cluster_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->nbuckets = 64;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void cluster_table_free(cluster_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct cluster *c = t->buckets[i], *next;
		for (; c; c = next) {
			next = c->next_in_bucket;
			cluster_free(c);
		}
	}
	free(t->buckets);
	free(t);
}

struct cluster *cluster_table_find(const cluster_table *t, const char *name)
{
	uint32_t h = hash_name(name);
	struct cluster *c = t->buckets[h & (t->nbuckets - 1)];

	for (; c; c = c->next_in_bucket)
		if (c->hash == h && strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void grow(cluster_table *t)
{
	size_t n = t->nbuckets * 2;
	struct cluster **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;		/* keep working with longer chains */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct cluster *c = t->buckets[i], *next;
		for (; c; c = next) {
			next = c->next_in_bucket;
			c->next_in_bucket = b[c->hash & (n - 1)];
			b[c->hash & (n - 1)] = c;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

struct cluster *cluster_table_get_or_add(cluster_table *t, const char *name)
{
	struct cluster *c = cluster_table_find(t, name);
	size_t slot;

	if (c)
		return c;
	if (strlen(name) > CLUSTER_NAME_MAX)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	strcpy(c->name, name);
	c->hash = hash_name(name);
	c->phase = PHASE_ABSENT;
	if (t->count + 1 > t->nbuckets)
		grow(t);
	slot = c->hash & (t->nbuckets - 1);
	c->next_in_bucket = t->buckets[slot];
	t->buckets[slot] = c;
	t->count++;
	return c;
}

void cluster_table_remove(cluster_table *t, struct cluster *c)
{
	struct cluster **pp = &t->buckets[c->hash & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next_in_bucket) {
		if (*pp == c) {
			*pp = c->next_in_bucket;
			t->count--;
			cluster_free(c);
			return;
		}
	}
}

size_t cluster_table_count(const cluster_table *t)
{
	return t->count;
}

static int by_name(const void *a, const void *b)
{
	const struct cluster *x = *(struct cluster *const *)a, *y = *(struct cluster *const *)b;

	return strcmp(x->name, y->name);
}

size_t cluster_table_sorted(const cluster_table *t, struct cluster **out)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct cluster *c = t->buckets[i]; c; c = c->next_in_bucket)
			out[n++] = c;
	qsort(out, n, sizeof(*out), by_name);
	return n;
}

void cluster_table_foreach(const cluster_table *t, void (*fn)(struct cluster *c, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct cluster *c = t->buckets[i]; c; c = c->next_in_bucket)
			fn(c, arg);
}
