/*
 * cplane.v1.ClusterService: the semantics table of DESIGN.md over the
 * cluster table.  The service is fed Deployment events (from the informer)
 * and API answers (from the backend), and answers gRPC calls; it never
 * touches Kubernetes itself but through worker_backend, so the Kubernetes
 * client can be swapped for a fake in tests.
 */
#ifndef CPLANE_WORKER_SERVICE_H
#define CPLANE_WORKER_SERVICE_H

#include <stdint.h>

#include "grpc/server.h"
#include "k8s/client.h"
#include "k8s/deploy.h"
#include "k8s/status.h"
#include "worker/auth.h"
#include "worker/table.h"

typedef struct worker_service worker_service;

/*
 * What the service needs from Kubernetes.  The completions have the
 * Kubernetes client's own signatures (k8s/client.h), called exactly once,
 * possibly before the request function returns; err valid during the call.
 * A fake in tests records the calls and completes them when it likes.
 */
struct worker_backend {
	/* POST the Deployment for spec. */
	void (*create)(void *impl, const k8s_deploy_spec *spec, k8s_deploy_done_fn done, void *arg);
	/* DELETE with foreground propagation. */
	void (*remove)(void *impl, const char *name, k8s_delete_done_fn done, void *arg);
	/* Reads the cluster's pods and says why replicas are not available; timeout_ms bounds it. */
	void (*diagnose)(void *impl, const char *name, int32_t want, int32_t available, int64_t timeout_ms,
	    k8s_diag_done_fn done, void *arg);
	/* PATCH the Deployment with a JSON merge patch (UpdateCluster). */
	void (*patch)(void *impl, const char *name, const k8s_deploy_patch *patch, k8s_deploy_done_fn done, void *arg);
	/* POST the cluster's headless Service, owned by the Deployment owner_uid. */
	void (*create_service)(void *impl, const char *name, const k8s_podspec *pod, const char *owner_uid,
	    k8s_delete_done_fn done, void *arg);
	void *impl;
	const char *namespace_;	/* for messages ("in namespace x") */
	/*
	 * Records a Kubernetes Event on the cluster's Deployment (optional, NULL =
	 * none; worker/recorder.h): uid NULL when the service does not know it.
	 * Fire and forget: it never fails a call.
	 */
	void (*event)(void *event_impl, const char *name, const char *uid, int warning, const char *reason,
	    const char *message);
	void *event_impl;
};

/* How long a call waits for the first list when sync_wait_ms is 0. */
#define WORKER_SYNC_WAIT_MS_DEFAULT 30000

struct worker_service_opts {
	const char *default_image;
	const char *allowed_images;	/* --allowed-images (worker/allowlist.h); NULL = any */
	const char *node_selector;	/* "k=v" or NULL */
	int64_t create_timeout_ms;
	int64_t delete_timeout_ms;
	int64_t max_replicas;
	int64_t sync_wait_ms;		/* how long a call waits for the first list; 0 = WORKER_SYNC_WAIT_MS_DEFAULT */
	worker_auth *auth;		/* who may call (worker/auth.h); NULL admits every call */
};

enum worker_method { WM_CREATE, WM_DELETE, WM_GET, WM_LIST, WM_WATCH, WM_UPDATE, WM_COUNT };
extern const char *const worker_method_names[WM_COUNT];
/* Upper bounds (seconds) of the latency histogram's finite buckets; one more bucket is +Inf. */
#define WORKER_LATENCY_BUCKETS 11
extern const double worker_latency_bounds[WORKER_LATENCY_BUCKETS];

typedef struct worker_service_stats {
	uint64_t calls[WM_COUNT][GRPC_STATUS_MAX + 1];	/* by method and gRPC code */
	uint64_t latency_buckets[WM_COUNT][WORKER_LATENCY_BUCKETS + 1];	/* per bucket (not cumulative); last +Inf */
	double latency_sum_s[WM_COUNT];
	size_t waiting_calls;
} worker_service_stats;

/* NULL when the methods cannot be registered (or the table made); allocation failure aborts (base/mem.h). */
worker_service *worker_service_new(io_loop *loop, grpc_server *server, const struct worker_backend *backend,
    const struct worker_service_opts *opts);
void worker_service_free(worker_service *s);

/* Informer feed. */
void worker_service_on_upsert(worker_service *s, const k8s_deployment *d);
void worker_service_on_delete(worker_service *s, const char *name);
void worker_service_on_synced(worker_service *s);
/*
 * A complete LIST (k8s_informer_on_listed) requested at started_us
 * (io_loop_clock_us() of the service's loop): a Create whose POST was answered before that and whose
 * Deployment is not in the cache was deleted unseen; it stops waiting.
 */
void worker_service_on_listed(worker_service *s, int64_t started_us);
int worker_service_synced(const worker_service *s);

/* Draining: new calls get UNAVAILABLE; waiting ones keep waiting until the server ends them. */
void worker_service_drain(worker_service *s);

/* Copies the counters out (a snapshot). */
void worker_service_get_stats(const worker_service *s, worker_service_stats *out);
const cluster_table *worker_service_table(const worker_service *s);
/* Clusters by phase (index enum cluster_phase). */
void worker_service_phase_counts(const worker_service *s, uint64_t counts[PHASE_COUNT]);

/* Prometheus families of the service (a metrics_source_fn; arg is the service). */
void worker_service_write_metrics(buf *out, void *arg);

#endif
