/*
 * Implementation notes.  Keys are SHA-256 digests, so their first bytes are
 * already uniformly spread: the bucket index is taken from them directly (an
 * attacker who could aim keys at one bucket could also find SHA-256
 * preimages).  Buckets are a power of two, at least 2 x cap, sized once;
 * chains stay short and nothing is rehashed.  Answers sit on a doubly linked
 * LRU list, most recent at the head; expiry is checked lazily at lookup, and
 * an expired answer that is never asked for again simply ages out of the LRU
 * tail.  A review in flight is an entry without a value and off the LRU list,
 * so eviction can never drop the waiters of a review.
 */
#include "auth/cache.h"

#include "base/mem.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

struct auth_cache_entry {
	uint8_t key[AUTH_KEY_LEN];
	struct auth_cache_entry *hnext;		/* bucket chain */
	struct auth_cache_entry *lprev, *lnext;	/* LRU list (answers only) */
	int64_t expires_ms;
	void *value;
	auth_wait *whead, *wtail;		/* reviews in flight only */
	int pending;
};

struct auth_cache {
	struct auth_cache_entry **bucket;
	size_t mask;
	size_t cap;
	struct auth_cache_entry *lru_head, *lru_tail;
	void (*free_value)(void *value);
	auth_cache_stats st;
};

auth_cache *auth_cache_new(size_t cap, void (*free_value)(void *value))
{
	auth_cache *c;
	size_t n = 16;

	if (cap == 0)
		cap = 1;
	while (n < 2 * cap && n < ((size_t)1 << 30))
		n <<= 1;
	c = xcalloc(1, sizeof(*c));
	c->bucket = xcalloc(n, sizeof(*c->bucket));
	c->mask = n - 1;
	c->cap = cap;
	c->free_value = free_value;
	return c;
}

static size_t bucket_of(const auth_cache *c, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)h & c->mask;
}

static struct auth_cache_entry **find_slot(auth_cache *c, const uint8_t *key)
{
	struct auth_cache_entry **pp = &c->bucket[bucket_of(c, key)];

	while (*pp && !mem_eq((*pp)->key, key, AUTH_KEY_LEN))
		pp = &(*pp)->hnext;
	return pp;
}

static void lru_unlink(auth_cache *c, struct auth_cache_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		c->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		c->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push_head(auth_cache *c, struct auth_cache_entry *e)
{
	e->lprev = NULL;
	e->lnext = c->lru_head;
	if (c->lru_head)
		c->lru_head->lprev = e;
	else
		c->lru_tail = e;
	c->lru_head = e;
}

/* Unlinks *pp (an answer, or a review in flight whose waiters were taken) and frees it. */
static void drop(auth_cache *c, struct auth_cache_entry **pp)
{
	struct auth_cache_entry *e = *pp;

	*pp = e->hnext;
	if (e->pending) {
		c->st.in_flight--;
	} else {
		lru_unlink(c, e);
		c->st.answers--;
		if (c->free_value && e->value)
			c->free_value(e->value);
	}
	free(e);
}

void auth_cache_free(auth_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		while (c->bucket[i]) {
			for (auth_wait *w = c->bucket[i]->whead; w; w = w->next)
				w->entry = NULL;
			drop(c, &c->bucket[i]);
		}
	free(c->bucket);
	free(c);
}

int auth_cache_get(auth_cache *c, const uint8_t key[AUTH_KEY_LEN], int64_t now_ms, void **value)
{
	struct auth_cache_entry **pp = find_slot(c, key), *e = *pp;

	*value = NULL;
	if (e == NULL)
		return AUTH_CACHE_MISS;
	if (e->pending)
		return AUTH_CACHE_PENDING;
	if (now_ms >= e->expires_ms) {
		c->st.expired++;
		drop(c, pp);
		return AUTH_CACHE_MISS;
	}
	if (c->lru_head != e) {
		lru_unlink(c, e);
		lru_push_head(c, e);
	}
	*value = e->value;
	return AUTH_CACHE_HIT;
}

void auth_cache_begin(auth_cache *c, const uint8_t key[AUTH_KEY_LEN])
{
	struct auth_cache_entry **pp = find_slot(c, key), *e;

	if (*pp && (*pp)->pending)
		return;
	if (*pp)
		drop(c, pp);
	e = xcalloc(1, sizeof(*e));
	memcpy(e->key, key, AUTH_KEY_LEN);
	e->pending = 1;
	e->hnext = c->bucket[bucket_of(c, key)];
	c->bucket[bucket_of(c, key)] = e;
	c->st.in_flight++;
}

int auth_cache_wait(auth_cache *c, const uint8_t key[AUTH_KEY_LEN], auth_wait *w)
{
	struct auth_cache_entry *e = *find_slot(c, key);

	if (e == NULL || !e->pending)
		return -1;
	w->entry = e;
	w->next = NULL;
	w->prev = e->wtail;
	if (e->wtail)
		e->wtail->next = w;
	else
		e->whead = w;
	e->wtail = w;
	return 0;
}

void auth_cache_unwait(auth_wait *w)
{
	struct auth_cache_entry *e = w->entry;

	if (e == NULL)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		e->whead = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		e->wtail = w->prev;
	w->prev = w->next = NULL;
	w->entry = NULL;
}

auth_wait *auth_cache_finish(auth_cache *c, const uint8_t key[AUTH_KEY_LEN], void *value, int64_t ttl_ms,
    int64_t now_ms)
{
	struct auth_cache_entry **pp = find_slot(c, key), *e = *pp;
	auth_wait *list;

	if (e == NULL || !e->pending) {
		if (c->free_value && value)
			c->free_value(value);
		return NULL;
	}
	list = e->whead;
	for (auth_wait *w = list; w; w = w->next) {
		w->entry = NULL;
		w->prev = NULL;
	}
	e->whead = e->wtail = NULL;
	if (value == NULL || ttl_ms <= 0) {
		drop(c, pp);
		if (c->free_value && value)
			c->free_value(value);
		return list;
	}
	e->pending = 0;
	c->st.in_flight--;
	e->value = value;
	e->expires_ms = now_ms + ttl_ms;
	lru_push_head(c, e);
	c->st.answers++;
	while (c->st.answers > c->cap) {
		struct auth_cache_entry *old = c->lru_tail;
		c->st.evicted++;
		drop(c, find_slot(c, old->key));
	}
	return list;
}

void auth_cache_get_stats(const auth_cache *c, auth_cache_stats *out)
{
	*out = c->st;
}
