/*
 * The review cache of the worker's authorization: answers of the API server
 * (TokenReview, SubjectAccessReview) under a 32-byte key — a SHA-256 digest,
 * so no token is ever kept — each with its own lifetime, at most `cap`
 * answers (least recently used dropped first), and reviews in flight that
 * later askers join instead of asking again.
 *
 * An entry is either an answer (a value with an expiry) or a review in flight
 * (a list of waiters, no value).  Only answers count against cap and take
 * part in LRU order; a review in flight stays until auth_cache_finish().
 *
 * Values are the caller's: the cache calls free_value on the ones it drops
 * (expired, evicted, replaced, cache freed).  A value handed out stays valid
 * until the next auth_cache_finish() or auth_cache_free() on the same cache:
 * that is what can evict it.
 *
 * Waiters are caller-owned nodes, linked in while waiting.  Time is passed
 * in (milliseconds on any monotonic clock).  Single-threaded.
 */
#ifndef CPLANE_AUTH_CACHE_H
#define CPLANE_AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_LEN 32

typedef struct auth_cache auth_cache;
struct auth_cache_entry;

typedef struct auth_wait {
	struct auth_wait *prev, *next;		/* private while waiting; next links auth_cache_finish's list */
	struct auth_cache_entry *entry;		/* private: the review waited on, NULL when not waiting */
} auth_wait;

enum auth_cache_state {
	AUTH_CACHE_MISS = 0,	/* absent or expired: start a review (auth_cache_begin) */
	AUTH_CACHE_HIT = 1,	/* *value is the answer */
	AUTH_CACHE_PENDING = 2,	/* a review is in flight: join it (auth_cache_wait) */
};

/* cap >= 1 answers.  free_value may be NULL.  Never NULL (base/mem.h). */
auth_cache *auth_cache_new(size_t cap, void (*free_value)(void *value));
/* Frees every value; waiters still linked are forgotten (their nodes untouched). */
void auth_cache_free(auth_cache *c);

/* Looks key up at now_ms.  A hit becomes the most recently used; an expired answer is dropped (MISS). */
int auth_cache_get(auth_cache *c, const uint8_t key[AUTH_KEY_LEN], int64_t now_ms, void **value);
/* Marks a review of key in flight (after a MISS; an answer still there is dropped).  Cannot fail. */
void auth_cache_begin(auth_cache *c, const uint8_t key[AUTH_KEY_LEN]);
/* Joins w to key's review in flight.  0, or -1 when none is in flight (w untouched). */
int auth_cache_wait(auth_cache *c, const uint8_t key[AUTH_KEY_LEN], auth_wait *w);
/* Takes w off the review it waits on (its caller went away).  A w not waiting is fine. */
void auth_cache_unwait(auth_wait *w);

/*
 * Ends key's review.  With a value and ttl_ms > 0 the answer is kept until
 * now_ms + ttl_ms (evicting the least recently used answer past cap);
 * otherwise nothing is kept (value, if any, is freed: a review that could not
 * be made is not an answer).  Returns the waiters in the order they joined,
 * linked by next and no longer waiting; NULL if none (or no review was in
 * flight).
 */
auth_wait *auth_cache_finish(auth_cache *c, const uint8_t key[AUTH_KEY_LEN], void *value, int64_t ttl_ms,
    int64_t now_ms);

typedef struct auth_cache_stats {
	size_t answers;		/* kept now (<= cap) */
	size_t in_flight;	/* reviews in flight */
	uint64_t evicted;	/* answers dropped for room */
	uint64_t expired;	/* answers dropped at lookup for age */
} auth_cache_stats;
void auth_cache_get_stats(const auth_cache *c, auth_cache_stats *out);

#endif
