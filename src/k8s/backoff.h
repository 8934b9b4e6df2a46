/*
 * Jittered exponential backoff with an injectable random source, so a test
 * can pin the schedule.
 *
 * Attempt n (from 0) has the ceiling c = min(cap, base * 2^n); the delay is
 * drawn uniformly from [c/2, c] ("equal jitter"): never below half the
 * ceiling, so a fleet of clients spreads out without any one retrying at
 * once.
 */
#ifndef CPLANE_K8S_BACKOFF_H
#define CPLANE_K8S_BACKOFF_H

#include <stdint.h>

/* Returns 32 uniformly random bits. */
typedef uint32_t (*k8s_rand_fn)(void *ctx);

typedef struct k8s_backoff {
	int64_t base_ms, cap_ms;
	unsigned attempt;
	k8s_rand_fn rnd;
	void *rnd_ctx;
	uint64_t state;		/* the built-in generator's, when rnd is NULL */
} k8s_backoff;

/* rnd NULL: a xorshift generator seeded from the clock and pid. */
void k8s_backoff_init(k8s_backoff *b, int64_t base_ms, int64_t cap_ms, k8s_rand_fn rnd, void *rnd_ctx);
/* The next delay, and counts the attempt. */
int64_t k8s_backoff_next(k8s_backoff *b);
/* After a success: the next delay starts from base again. */
void k8s_backoff_reset(k8s_backoff *b);
/* Uniform in [lo, hi] (inclusive) from b's random source. */
int64_t k8s_backoff_uniform(k8s_backoff *b, int64_t lo, int64_t hi);

/* xorshift64* step on *state (seeded non-zero); the built-in generator. */
uint32_t k8s_xorshift32(uint64_t *state);
/* A seed that differs between processes and runs. */
uint64_t k8s_random_seed(void);

#endif
