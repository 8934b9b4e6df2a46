/*
 * Kubernetes Events on the clusters' Deployments, recorded as controllers
 * do (client-go's EventRecorder and its correlator, reduced to what cplane
 * needs):
 *
 *   - a new (object uid, reason, message) is a new Event (POST);
 *   - the same one again within the window (10 minutes since it was last
 *     seen) bumps count and lastTimestamp (merge PATCH) instead; repeats
 *     that come while a write is in flight or the rate is spent are folded
 *     into the next PATCH, so the count stays exact;
 *   - at most max_per_s writes a second (a token bucket, burst of the same
 *     size): a new Event past it is dropped and counted, never queued;
 *   - a write that fails is logged and counted, never reported to the
 *     caller: recording cannot fail a call.
 *
 * The uid of a Deployment comes with the call (when the caller knows it) or
 * from recorder_observe(), fed by the informer.  Time: io_loop_now() for the
 * window and the rate (tests inject the loop's clock), wall_ms for the
 * timestamps.
 */
#ifndef CPLANE_WORKER_RECORDER_H
#define CPLANE_WORKER_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "io/loop.h"
#include "k8s/client.h"

typedef struct recorder recorder;

/*
 * Where writes go: path is "/api/v1/namespaces/NS/events" for a POST (patch
 * 0) or ".../events/NAME" for a merge PATCH (patch 1); body is valid during
 * the call.  done gets the Kubernetes client's completion (k8s_done_fn),
 * exactly once, possibly before write returns.
 */
struct recorder_sink {
	void (*write)(void *impl, int patch, const char *path, const uint8_t *body, size_t len, k8s_done_fn done,
	    void *arg);
	void *impl;
};

struct recorder_opts {
	const char *namespace_;
	const char *instance;		/* reportingInstance: the host name; NULL = the component */
	int max_per_s;			/* 0 = 10 */
	int64_t window_ms;		/* 0 = 10 minutes */
	size_t max_entries;		/* Events remembered for repeats; 0 = 256 */
	int64_t (*wall_ms)(void);	/* NULL = clock_wall_ms */
};

struct recorder_stats {
	uint64_t created, patched;	/* writes that succeeded */
	uint64_t failed;		/* writes that failed */
	uint64_t dropped;		/* new Events over the rate */
	uint64_t recorded;		/* recorder_record() calls */
};

/* sink is copied.  Never NULL (base/mem.h). */
recorder *recorder_new(io_loop *loop, const struct recorder_sink *sink, const struct recorder_opts *opts);
/* Writes still in flight must not complete afterwards (free the client first). */
void recorder_free(recorder *r);

/* The Deployment name has this uid now (uid NULL or "": forget it).  Ignored
 * once a uid lookup is set. */
void recorder_observe(recorder *r, const char *name, const char *uid);
/*
 * Where uids come from instead of copies kept by recorder_observe(): fn fills
 * out[0..outsz) with name's uid and returns 1, or returns 0 when it has none.
 * The worker points it at the informer's cache, which has every uid already
 * (a second copy cost ~70 bytes per cluster, and a linear search per event).
 */
typedef int (*recorder_uid_fn)(void *ctx, const char *name, char *out, size_t outsz);
void recorder_set_uid_lookup(recorder *r, recorder_uid_fn fn, void *ctx);
/* Records an Event on Deployment name; uid NULL = the observed one.  Strings are copied. */
void recorder_record(recorder *r, const char *name, const char *uid, int warning, const char *reason,
    const char *message);

const struct recorder_stats *recorder_stats_get(const recorder *r);
/* Prometheus families (a metrics_source_fn; arg is the recorder). */
void recorder_write_metrics(buf *out, void *arg);

#endif
