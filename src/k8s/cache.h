/*
 * The informer's store: Deployment records keyed by name (one namespace), a
 * chained hash map whose entries never move, so a record pointer stays valid
 * until that name is removed or the cache is freed.
 */
#ifndef CPLANE_K8S_CACHE_H
#define CPLANE_K8S_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/deploy.h"

typedef struct k8s_cache k8s_cache;

k8s_cache *k8s_cache_new(void);
void k8s_cache_free(k8s_cache *c);

size_t k8s_cache_count(const k8s_cache *c);
/* NULL when absent. */
const k8s_deployment *k8s_cache_get(const k8s_cache *c, const char *name);
/* Inserts or overwrites d (copied); returns the stored record or NULL on ENOMEM.
 * *created (may be NULL) says whether the name was new. */
const k8s_deployment *k8s_cache_put(k8s_cache *c, const k8s_deployment *d, int *created);
/* Removes name, copying its last record into *last (may be NULL); 1 if it was there, else 0. */
int k8s_cache_remove(k8s_cache *c, const char *name, k8s_deployment *last);

/* Relist bookkeeping: a mark per record. */
void k8s_cache_set_mark(k8s_cache *c, const char *name, uint32_t mark);
/* Calls fn for every record whose mark differs from mark (any order). fn may
 * not modify the cache; collect names and remove afterwards. */
typedef void (*k8s_cache_fn)(void *ctx, const k8s_deployment *d);
void k8s_cache_foreach_unmarked(const k8s_cache *c, uint32_t mark, k8s_cache_fn fn, void *ctx);

/*
 * Iteration, any order: start from K8S_CACHE_ITER_INIT; returns the next
 * record or NULL at the end.  Valid while the cache is not modified.
 */
typedef struct k8s_cache_iter {
	size_t bucket;
	const void *entry;
} k8s_cache_iter;
#define K8S_CACHE_ITER_INIT {0, NULL}
const k8s_deployment *k8s_cache_next(const k8s_cache *c, k8s_cache_iter *it);
/* Calls fn for every record. */
void k8s_cache_foreach(const k8s_cache *c, k8s_cache_fn fn, void *ctx);

#endif
