/*
 * Watch-event throughput of src/k8s: a pre-generated stream of Deployment
 * events (bench/json/deploy_gen.h, managedFields included) fed in 16 KiB
 * chunks to the watch decoder, alone and with each record applied to the
 * informer's cache; best of 5 runs.  Prints key=value lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "deploy_gen.h"
#include "k8s/cache.h"
#include "k8s/deploy.h"

#define EVENTS 20000

struct sink {
	k8s_cache *cache;
	unsigned long n;
};

static int on_ev(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	struct sink *s = ctx;

	(void)type;
	(void)st;
	s->n++;
	if (s->cache && d)
		k8s_cache_put(s->cache, d, NULL);
	return 0;
}

static double run(const char *stream, size_t len, int with_cache, unsigned long *events)
{
	struct sink s = { with_cache ? k8s_cache_new() : NULL, 0 };
	k8s_deploy_decoder *dec = k8s_deploy_decoder_new(K8S_DECODE_WATCH, on_ev, &s);
	int64_t t0 = clock_mono_us();

	for (size_t off = 0; off < len; off += 16384) {
		size_t n = len - off < 16384 ? len - off : 16384;
		if (k8s_deploy_decoder_feed(dec, stream + off, n) < 0) {
			fprintf(stderr, "decode error\n");
			exit(1);
		}
	}
	if (k8s_deploy_decoder_finish(dec) < 0)
		exit(1);
	int64_t t1 = clock_mono_us();
	*events = s.n;
	k8s_deploy_decoder_free(dec);
	k8s_cache_free(s.cache);
	return (double)(t1 - t0) / 1e6;
}

int main(void)
{
	size_t cap = (size_t)EVENTS * 4096, len = 0;
	char *stream = malloc(cap);
	deploy_want w;
	unsigned long n = 0;

	for (unsigned i = 0; i < EVENTS; i++)
		len += deploy_gen_event(stream + len, cap - len, i, &w);
	for (int mode = 0; mode < 2; mode++) {
		double best = 1e9;
		for (int r = 0; r < 5; r++) {
			double t = run(stream, len, mode, &n);
			if (t < best)
				best = t;
		}
		if (n != EVENTS) {
			fprintf(stderr, "decoded %lu of %d events\n", n, EVENTS);
			return 1;
		}
		printf("%s_events_per_s=%.0f\n", mode ? "watch_decode_cache" : "watch_decode", EVENTS / best);
		printf("%s_mib_per_s=%.1f\n", mode ? "watch_decode_cache" : "watch_decode",
		    (double)len / best / (1024.0 * 1024.0));
	}
	printf("watch_event_bytes_avg=%zu\n", len / EVENTS);
	free(stream);
	return 0;
}
