#include "k8s/backoff.h"

#include <unistd.h>

#include "base/clock.h"

uint32_t k8s_xorshift32(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

uint64_t k8s_random_seed(void)
{
	uint64_t s = (uint64_t)clock_wall_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)clock_mono_us() ^
	    ((uint64_t)getpid() << 32);

	return s ? s : 0x853c49e6748fea9bULL;
}

void k8s_backoff_init(k8s_backoff *b, int64_t base_ms, int64_t cap_ms, k8s_rand_fn rnd, void *rnd_ctx)
{
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
	b->attempt = 0;
	b->state = k8s_random_seed();
	b->rnd = rnd;
	b->rnd_ctx = rnd_ctx;
}

void k8s_backoff_reset(k8s_backoff *b)
{
	b->attempt = 0;
}

int64_t k8s_backoff_uniform(k8s_backoff *b, int64_t lo, int64_t hi)
{
	uint64_t span;

	if (hi <= lo)
		return lo;
	span = (uint64_t)(hi - lo) + 1;
	/* Two draws: spans past 2^32 ms never happen here, but stay uniform enough if they do. */
	uint64_t r = b->rnd ? ((uint64_t)b->rnd(b->rnd_ctx) << 32) | b->rnd(b->rnd_ctx)
	    : ((uint64_t)k8s_xorshift32(&b->state) << 32) | k8s_xorshift32(&b->state);
	return lo + (int64_t)(r % span);
}

int64_t k8s_backoff_next(k8s_backoff *b)
{
	int64_t ceil = b->base_ms;

	for (unsigned i = 0; i < b->attempt && ceil < b->cap_ms; i++)
		ceil *= 2;
	if (ceil > b->cap_ms)
		ceil = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	return k8s_backoff_uniform(b, ceil / 2, ceil);
}
