/*
 * The informer's store: one packed record per Deployment, keyed by name (one
 * namespace), in the base hash table (base/htab.h).
 *
 * A record is sized to fit: the numbers, the condition statuses and the
 * reasons Kubernetes uses as one-byte codes, then the strings it really has
 * (name, uid, resourceVersion, image, ...), each once; the labels that only
 * repeat the name are a bit.  The Progressing message is kept only while
 * Progressing is False (a failed rollout: the one time anyone reads it), so
 * a record grows when such a message arrives and shrinks when it goes.
 * Records are unpacked into a caller's k8s_deployment on the way out: every
 * field as it was put, except that message, and pod, which is always NULL.
 */
#ifndef CPLANE_K8S_CACHE_H
#define CPLANE_K8S_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/deploy.h"

typedef struct k8s_cache k8s_cache;

/* Never NULL (base/mem.h). */
k8s_cache *k8s_cache_new(void);
void k8s_cache_free(k8s_cache *c);

size_t k8s_cache_count(const k8s_cache *c);
/* 1 with *out (may be NULL) filled when name is there, else 0. */
int k8s_cache_get(const k8s_cache *c, const char *name, k8s_deployment *out);
/* Copies name's uid into out[0..outsz) (truncated to fit); 1, or 0 when absent. */
int k8s_cache_uid(const k8s_cache *c, const char *name, char *out, size_t outsz);
/* The resourceVersion stored for name, or NULL when absent; valid until
 * the cache is next modified. */
const char *k8s_cache_rv(const k8s_cache *c, const char *name);
/* Inserts or overwrites with d (packed; d->pod is not kept); cannot fail
 * (base/mem.h).  *created (may be NULL) says whether the name was new.  A
 * replaced record keeps its mark. */
void k8s_cache_put(k8s_cache *c, const k8s_deployment *d, int *created);
/* Removes name, unpacking its last record into *last (may be NULL); 1 if it was there, else 0. */
int k8s_cache_remove(k8s_cache *c, const char *name, k8s_deployment *last);
/* Bytes the records take (packed, before the allocator's rounding). */
size_t k8s_cache_record_bytes(const k8s_cache *c);

/* Relist bookkeeping: a mark per record. */
void k8s_cache_set_mark(k8s_cache *c, const char *name, uint32_t mark);
/* Calls fn with the name of every record whose mark differs from mark (any
 * order).  fn may not modify the cache; collect names and remove afterwards. */
typedef void (*k8s_cache_name_fn)(void *ctx, const char *name);
void k8s_cache_foreach_unmarked(const k8s_cache *c, uint32_t mark, k8s_cache_name_fn fn, void *ctx);

/*
 * Iteration, any order: start from K8S_CACHE_ITER_INIT; unpacks the next
 * record into *out and returns out, or NULL at the end.  Valid while the
 * cache is not modified.
 */
typedef struct k8s_cache_iter {
	size_t pos;
} k8s_cache_iter;
#define K8S_CACHE_ITER_INIT {0}
const k8s_deployment *k8s_cache_next(const k8s_cache *c, k8s_cache_iter *it, k8s_deployment *out);
/* Calls fn for every record (unpacked into a scratch record). */
typedef void (*k8s_cache_fn)(void *ctx, const k8s_deployment *d);
void k8s_cache_foreach(const k8s_cache *c, k8s_cache_fn fn, void *ctx);

#endif
