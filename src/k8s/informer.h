/*
 * The informer: keeps a local cache of the Deployments labelled
 * app.kubernetes.io/managed-by=cplane in the client's namespace, and says
 * what changed.
 *
 *   LIST  ?labelSelector=..&limit=500[&continue=..]   page by page, decoded as it streams
 *   WATCH ?labelSelector=..&watch=1&allowWatchBookmarks=true&resourceVersion=<rv>
 *         &timeoutSeconds=<random 240..360>
 *
 * After each complete LIST the cache is made equal to it: on_upsert for
 * every Deployment that is new or has another resourceVersion (as the pages
 * arrive), then on_delete for every cached one that is gone (in name order);
 * then on_synced once (first list only), then the on_listed hook (every list).
 * A WATCH applies events as they come (ADDED/MODIFIED whose resourceVersion
 * the cache already has are dropped, so nothing is reported twice).  When
 * the server ends a watch normally, a new one starts from the last
 * resourceVersion seen (bookmarks included); when the connection fails, the
 * same after a jittered exponential backoff (250 ms doubling to 30 s); 429
 * waits for Retry-After; 410 Gone, an ERROR event or an undecodable stream
 * lead to a relist after the backoff's next delay.  Only a watch that
 * delivers events resets the backoff, so a server that keeps failing, or
 * keeps ending watches at once, sees ever longer pauses.
 *
 * Liveness: a watch that receives no byte for twice the bookmark interval
 * the server has been keeping (measured between its bookmarks; 150 s
 * before one is seen, and never less than 10 s nor more than 150 s) is
 * dead though its connection never closed (a node or middlebox gone): it
 * is dropped with one log line, the client's idle pooled connections with
 * it (they went the same way), and a new watch starts from the last
 * resourceVersion.
 *
 * Callbacks run on the loop; records passed are valid during the call only
 * (copy what you keep, or look names up in the cache later).  Callbacks may
 * read the cache and use the client, but must not free the informer.
 */
#ifndef CPLANE_K8S_INFORMER_H
#define CPLANE_K8S_INFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/backoff.h"
#include "k8s/cache.h"
#include "k8s/client.h"
#include "k8s/deploy.h"

typedef struct k8s_informer k8s_informer;

typedef struct k8s_informer_cbs {
	/* d: the record now cached, as decoded (d->pod set: its pod spec); old: the one it replaced as
	 * the cache kept it (k8s/cache.h: no Progressing message unless False), NULL when new. */
	void (*on_upsert)(void *ctx, const k8s_deployment *d, const k8s_deployment *old);
	/* last: the record as last known (DELETED event's object, or the cached one on relist). */
	void (*on_delete)(void *ctx, const k8s_deployment *last);
	/* The first LIST completed: the cache is complete (optional). */
	void (*on_synced)(void *ctx);
} k8s_informer_cbs;

typedef struct k8s_informer_opts {
	int64_t watch_timeout_min_s;	/* 0 = 240 */
	int64_t watch_timeout_max_s;	/* 0 = 360 */
	int64_t backoff_base_ms;	/* 0 = 250 */
	int64_t backoff_cap_ms;		/* 0 = 30000 */
	int page_limit;			/* 0 = 500 */
	const char *label_selector;	/* URL-encoded; NULL = K8S_MANAGED_SELECTOR */
	k8s_rand_fn rnd;		/* NULL = built-in */
	void *rnd_ctx;
} k8s_informer_opts;

typedef struct k8s_informer_stats {
	uint64_t lists;			/* complete LIST cycles (first one included) */
	uint64_t relists;		/* LIST cycles after the first */
	uint64_t list_pages;		/* LIST requests answered 2xx */
	uint64_t list_errors;		/* LIST requests that failed */
	uint64_t watches;		/* WATCH requests started */
	uint64_t watch_restarts;	/* watches started after the first */
	uint64_t watch_errors;		/* watches ended by an error (not a normal close) */
	uint64_t events;		/* ADDED/MODIFIED/DELETED applied (duplicates not counted) */
	uint64_t duplicates;		/* events and list items the cache already had (same resourceVersion) */
	uint64_t bookmarks;
	uint64_t watch_silent;		/* watches dropped for silence (liveness) */
	uint64_t expired;		/* 410 answers and ERROR events */
	uint64_t throttled;		/* 429 answers */
} k8s_informer_stats;

/* Never NULL (base/mem.h).  opts may be NULL.  Nothing happens until start. */
k8s_informer *k8s_informer_new(k8s_client *c, const k8s_informer_opts *opts, const k8s_informer_cbs *cbs,
    void *ctx);
/* Begins the first LIST (from the loop, not inside this call: a timer, nothing allocated). */
void k8s_informer_start(k8s_informer *inf);
/* Stops everything and frees; callbacks do not run after this. */
void k8s_informer_free(k8s_informer *inf);

/* True once the first LIST completed. */
int k8s_informer_synced(const k8s_informer *inf);
/* The cache (read only): k8s_cache_get / k8s_cache_next / k8s_cache_count. */
const k8s_cache *k8s_informer_cache(const k8s_informer *inf);
/* The last resourceVersion seen ("" before the first list). */
const char *k8s_informer_resource_version(const k8s_informer *inf);
void k8s_informer_get_stats(const k8s_informer *inf, k8s_informer_stats *out);

/*
 * After every complete LIST (the first included): started_us is
 * io_loop_clock_us() when the cycle's first page was requested.  Anything that
 * existed then and is not in the cache now was deleted before the list was
 * taken, even if the informer never saw it (a Deployment created and deleted
 * while a watch was down); a watch has no such gaps, a relist does.  NULL
 * clears.
 */
typedef void (*k8s_informer_listed_fn)(void *ctx, int64_t started_us);
void k8s_informer_on_listed(k8s_informer *inf, k8s_informer_listed_fn fn, void *ctx);

#endif
