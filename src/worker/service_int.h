/*
 * Internals shared by service.c (waiters, reacting to changes, the informer
 * feed) and service_calls.c (the gRPC handlers and API completions).  Calls
 * run one way: service_calls.c uses what is declared here; service.c defines
 * it and never calls into service_calls.c.  Not part of the worker's
 * contract: service.h is.
 */
#ifndef CPLANE_WORKER_SERVICE_INT_H
#define CPLANE_WORKER_SERVICE_INT_H

#include "cplane/v1/cplane.pb-c.h"
#include "worker/service.h"

#define WATCH_QUEUE_MAX (64 * 1024)	/* skip intermediate snapshots past this much unsent */

enum waiter_kind { W_CREATE, W_DELETE, W_WATCH, W_SYNC, W_UPDATE };

struct snapshot {
	int phase;
	int32_t replicas, ready;
	uint32_t text_hash;
};

struct waiter {
	struct waiter *prev, *next;
	worker_service *svc;
	struct cluster *c;	/* NULL for W_SYNC */
	grpc_call *call;
	enum waiter_kind kind;
	enum worker_method method;
	uint64_t id;
	int64_t start_us;
	int64_t timeout_ms;	/* the wait's own bound, for messages */
	io_timer timer;
	int diagnosing;
	/* Create: what this caller asked for */
	int32_t want_replicas;
	char *want_image;	/* heap copy; freed with the waiter */
	char want_hash[17];	/* the spec hash it asked for (Create, Update) */
	/* Update: the target's spec (spec_proto.h blob), whether its PATCH went out, and once
	 * answered, the metadata.generation it made */
	uint8_t *want_blob;
	size_t want_blob_len;
	int patch_sent;
	int patched;
	int64_t want_generation;
	/* Watch: what the client last got; dirty = a newer snapshot is owed */
	struct snapshot sent;
	int dirty;
	char *user;		/* who asked (Create, Update, Delete, and calls held for the sync): for the audit line */
};

struct worker_service {
	io_loop *loop;
	grpc_server *server;
	struct worker_backend backend;
	struct worker_service_opts opts;
	cluster_table *table;
	struct waiter *presync;	/* calls waiting for the first list */
	int synced;
	int draining;
	uint64_t next_id;
	worker_service_stats stats;
	/*
	 * Calls answered this turn whose latency is still to be counted: the
	 * clock is read once when the turn ends (svc__count_call), not once per
	 * call.
	 */
	struct { int64_t start_us; int m; } answered[128];
	size_t nanswered;
	int answered_deferred;
	struct pending_op *ops;	/* API requests and diagnoses in flight */
	struct cluster **sweep;	/* entries to check at the end of this turn */
	size_t nsweep, sweep_cap;
	int sweep_scheduled;
	const char *caller;	/* who the call being dispatched is from (auth), during its handler only */
	struct admit_slot {	/* the context of a call's authorization: which method it is */
		worker_service *s;
		enum worker_method m;
	} admit[WM_COUNT];
};

/* An API request or diagnosis in flight: finds its cluster and waiter again by name and id. */
struct pending_op {
	struct pending_op *prev, *next;	/* the service's list: freed with it if never completed */
	worker_service *svc;
	char name[CLUSTER_NAME_MAX + 1];
	uint64_t waiter_id;
	int64_t start_us;
};

/* A pending op for name, on s's list (start_us = now); never NULL (base/mem.h).  svc__op_free unlinks and frees (NULL is fine). */
struct pending_op *svc__op_new(worker_service *s, const char *name);
void svc__op_free(struct pending_op *op);
/* The service's one clock: the loop's, in µs (injectable in tests). */
static inline int64_t svc__now_us(const worker_service *s) { return io_loop_clock_us(s->loop); }
/* When the turn that read the request began: a call's start, without a clock read per call. */
static inline int64_t svc__turn_us(const worker_service *s) { return io_loop_now_us(s->loop); }
void svc__cluster_changed(worker_service *s, struct cluster *c);
/* Records a Kubernetes Event on c's Deployment through the backend, if it records any. */
void svc__event(worker_service *s, const struct cluster *c, const char *uid, int warning, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Ends every waiter of kind on c with code and message; W_DELETE with GRPC_OK answers SUCCESS. */
void svc__finish_waiters(struct cluster *c, enum waiter_kind kind, int code, const char *message);
int32_t svc__cluster_replicas(const struct cluster *c);
const char *svc__cluster_image(const struct cluster *c);
/* Fills m; returns the unpacked spec m borrows from (NULL when none): spec_blob_free() it after m is sent. */
Cplane__V1__Cluster *svc__cluster_to_msg(const struct cluster *c, enum cluster_phase phase, Cplane__V1__Cluster *m,
    char *msgbuf, size_t msgsz);
/* Keeps the spec of pod (NULL: empty) and hash on the entry.  0, or -1 for a blob past 4 GiB (the old one stays). */
int svc__cluster_set_spec(worker_service *s, struct cluster *c, const k8s_podspec *pod, const char *hash, int service);
void svc__count_call(worker_service *s, enum worker_method m, int code, int64_t start_us);
/* The audit line of a call that changes something (Create, Update, Delete): who, what, which cluster, how it
 * ended.  Before the call is finished. */
void svc__audit(worker_service *s, grpc_call *call, enum worker_method m, const char *user, int code);
/* The cluster name a request names (NULL for methods without one). */
const char *svc__request_name(grpc_call *call, enum worker_method m);
/* The verb a SubjectAccessReview asks about for m ("create", "get", ...). */
const char *svc__method_verb(enum worker_method m);
/* A waiter for call, counted as waiting; never NULL (base/mem.h).  Link it with svc__waiter_link. */
struct waiter *svc__waiter_new(worker_service *s, grpc_call *call, enum waiter_kind kind, enum worker_method m,
    int64_t start_us);
void svc__waiter_link(worker_service *s, struct waiter *w);
void svc__maybe_forget(worker_service *s, struct cluster *c);
void svc__waiter_free(worker_service *s, struct waiter *w);
void svc__waiter_finish(struct waiter *w, int code, const char *message);
void svc__waiter_reply(struct waiter *w, const ProtobufCMessage *msg);
struct waiter *svc__find_waiter(worker_service *s, const char *name, uint64_t id);
void svc__on_call_cancelled(grpc_call *call, void *arg);
int64_t svc__answer_by(worker_service *s, grpc_call *call, int64_t own_timeout_ms, int64_t *timeout_ms);
void svc__on_wait_timeout(io_loop *loop, void *arg);
/* "cluster x already exists with replicas=.. image=.." and, when hash is not its spec's, which one it has. */
void svc__already_exists_text(const struct cluster *c, const char *hash, char *out, size_t outsz);
int svc__spec_matches(const struct cluster *c, int32_t replicas, const char *image, const char *hash);
void svc__watch_send(struct waiter *w, enum cluster_phase phase);
void svc__on_watch_writable(grpc_call *call, void *arg);
void svc__on_sync_timeout(io_loop *loop, void *arg);

/* service_calls.c's answers and waits, shared with service_update.c. */
int svc__map_api_error(const k8s_error *err, const char *verb, const char *ns, char *msg, size_t msgsz);
void svc__reply_error(worker_service *s, grpc_call *call, enum worker_method m, int64_t start_us, int code,
    const char *msg);
void svc__reply_msg(worker_service *s, grpc_call *call, enum worker_method m, int64_t start_us,
    const ProtobufCMessage *msg);
struct waiter *svc__wait_on(worker_service *s, grpc_call *call, struct cluster *c, enum waiter_kind kind,
    enum worker_method m, int64_t start_us, int64_t own_timeout_ms);
/* UpdateCluster (service_update.c). */
void svc__handle_update(worker_service *s, grpc_call *call, int64_t start_us);

#endif
