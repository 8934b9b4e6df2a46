/*
 * The Kubernetes API client: a request queue over a small keep-alive pool of
 * HTTP/1.1 connections (plain or TLS), on the poll loop.
 *
 * Everything is asynchronous.  A request is submitted, and its completion
 * callback runs later from the loop — never from inside the submitting call —
 * exactly once, unless the request is cancelled first (then never).
 *
 * Policy, per request:
 *   - a timeout per attempt (default 30 s; watches have none once their
 *     headers arrived);
 *   - retries with jittered exponential backoff (250 ms doubling, capped at
 *     8 s, at most 4 retries by default) on connection errors, timeouts and
 *     5xx; 429 waits for Retry-After (or the backoff, whichever is longer).
 *     A POST is not retried once it may have reached the server (a timeout,
 *     or a connection that died after accepting it), except when a reused
 *     idle connection turned out closed before any response byte;
 *   - a 401 re-reads the token file and retries once;
 *   - the token file is also re-read every minute.
 *
 * Up to max_conns connections carry ordinary requests (FIFO queue); each
 * watch (K8S_REQ_STREAM) gets a connection of its own that is closed when the
 * watch ends.  Idle connections are closed after 60 s.
 *
 * Lifetimes: a k8s_req handle is valid until its callback returned or
 * k8s_req_cancel() was called.  Strings passed in are copied.  The client
 * must outlive its requests; k8s_client_free() cancels what is left without
 * calling callbacks.  Callbacks may submit and cancel requests, but must not
 * free the client.
 */
#ifndef CPLANE_K8S_CLIENT_H
#define CPLANE_K8S_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "io/loop.h"
#include "k8s/backoff.h"
#include "k8s/config.h"
#include "k8s/deploy.h"
#include "k8s/status.h"

typedef struct k8s_client k8s_client;
typedef struct k8s_req k8s_req;

typedef struct k8s_client_opts {
	int max_conns;			/* pooled connections; 0 = 4 */
	int64_t timeout_ms;		/* per attempt; 0 = 30 s */
	int max_retries;		/* 0 = 4; -1 = none */
	int64_t backoff_base_ms;	/* 0 = 250 */
	int64_t backoff_cap_ms;		/* 0 = 8000 */
	int64_t token_refresh_ms;	/* 0 = 60 s */
	k8s_rand_fn rnd;		/* NULL = built-in (jitter) */
	void *rnd_ctx;
} k8s_client_opts;

/*
 * cfg must stay valid (and unmoved) for the client's life; the client re-reads
 * its token file.  opts may be NULL.  NULL when the resolver's pipe cannot be made.
 */
k8s_client *k8s_client_new(io_loop *loop, k8s_config *cfg, const k8s_client_opts *opts);
void k8s_client_free(k8s_client *c);
io_loop *k8s_client_loop(const k8s_client *c);
const k8s_config *k8s_client_config(const k8s_client *c);

/* ------------------------------------------------------- generic requests */

/* Verbs as counted in metrics: Kubernetes' verb names (get, list, watch, create, delete, patch), and "review"
 * for the creates of TokenReviews and SubjectAccessReviews (counted apart from the Deployments created). */
enum k8s_verb { K8S_VERB_GET, K8S_VERB_LIST, K8S_VERB_WATCH, K8S_VERB_CREATE, K8S_VERB_DELETE, K8S_VERB_PATCH,
	K8S_VERB_REVIEW,
	K8S_VERB_N };
const char *k8s_verb_str(int verb);

enum k8s_req_flags {
	K8S_REQ_STREAM = 1,	/* a watch: own connection, no timeout after the headers */
	K8S_REQ_NO_RETRY = 2,	/* one attempt only (the caller retries) */
	K8S_REQ_IDEMPOTENT = 4,	/* a POST that changes nothing (a review): retried like a GET */
	K8S_REQ_SECRET = 8,	/* the body holds a credential: wiped from memory when the request is freed */
	K8S_REQ_MERGE_PATCH = 16,	/* the body is a JSON merge patch (application/merge-patch+json) */
};

/*
 * on_data (optional): the body of a 2xx response as it arrives, in pieces;
 * nothing is buffered then.  Return 0 to go on, nonzero to abort the request
 * (it then completes with kind K8S_ERR_PROTO, "aborted by reader", and its
 * connection is closed).
 * on_done: err->kind == K8S_OK for 2xx, with the buffered body (NULL/0 when
 * on_data took it); otherwise the error (K8S_ERR_API with code, reason and
 * message from the Status body).  Everything passed is valid during the call
 * only.  For K8S_REQ_STREAM, on_done also reports the end of a watch: K8S_OK
 * when the server closed the stream normally.
 */
typedef int (*k8s_data_fn)(void *ctx, const uint8_t *p, size_t n);
typedef void (*k8s_done_fn)(void *ctx, const k8s_error *err, int http_status, const uint8_t *body, size_t len);

typedef struct k8s_request {
	int verb;		/* enum k8s_verb (metrics, retry policy: CREATE is not idempotent) */
	const char *method;	/* "GET", "POST", "DELETE" */
	const char *path;	/* "/apis/apps/v1/namespaces/ns/deployments?x=y" (the prefix is added) */
	const void *body;	/* JSON, copied; NULL = none */
	size_t body_len;
	unsigned flags;		/* enum k8s_req_flags */
	int64_t timeout_ms;	/* 0 = the client's */
	k8s_data_fn on_data;
	k8s_done_fn on_done;
	void *ctx;
} k8s_request;

/* Queues a request and returns its handle; cannot fail (base/mem.h). */
k8s_req *k8s_submit(k8s_client *c, const k8s_request *r);
/* Forgets a request: its callbacks will not run.  NULL is ignored. */
void k8s_req_cancel(k8s_req *r);
/*
 * Closes every idle pooled connection (requests in flight keep theirs):
 * after a connection to the server went silent without closing, the
 * others idle on the same path are suspect too.  Returns how many.
 */
size_t k8s_client_drop_idle(k8s_client *c);

/* --------------------------------------------------------- Deployments */

/*
 * err->kind == K8S_OK: d is the Deployment as the server returned it.  Else d
 * is NULL and err says why (AlreadyExists 409, NotFound 404, Forbidden 403,
 * Invalid 422, or a transport kind).  Valid during the call only.
 */
typedef void (*k8s_deploy_done_fn)(void *ctx, const k8s_error *err, const k8s_deployment *d);
typedef void (*k8s_delete_done_fn)(void *ctx, const k8s_error *err);
/* diagnosis: the k8s_diag line (see pods.h), or NULL when err->kind != K8S_OK. */
typedef void (*k8s_diag_done_fn)(void *ctx, const k8s_error *err, const char *diagnosis);

/* POST the Deployment written from spec into the client's namespace. */
k8s_req *k8s_create_deployment(k8s_client *c, const k8s_deploy_spec *spec, k8s_deploy_done_fn fn, void *ctx);
/* PATCH (JSON merge patch) the Deployment name; fn gets the Deployment as patched. */
k8s_req *k8s_patch_deployment(k8s_client *c, const char *name, const k8s_deploy_patch *patch,
    k8s_deploy_done_fn fn, void *ctx);
/* POST the headless Service of cluster name (k8s_service_write_body); AlreadyExists is err 409. */
k8s_req *k8s_create_service(k8s_client *c, const char *name, const k8s_podspec *pod, const char *owner_uid,
    k8s_delete_done_fn fn, void *ctx);
/* GET one Deployment. */
k8s_req *k8s_get_deployment(k8s_client *c, const char *name, k8s_deploy_done_fn fn, void *ctx);
/* DELETE with propagationPolicy Foreground.  Completes when the API server
 * accepted the deletion (the informer then sees deletionTimestamp, and the
 * DELETED event once the pods are gone). */
k8s_req *k8s_delete_deployment(k8s_client *c, const char *name, k8s_delete_done_fn fn, void *ctx);
/* Lists the pods labelled cplane.dev/cluster=<name> (first 500) and builds the
 * diagnosis line quoting available/replicas. */
k8s_req *k8s_diagnose(k8s_client *c, const char *name, int32_t available, int32_t replicas,
    k8s_diag_done_fn fn, void *ctx);

/* --------------------------------------------------------------- metrics */

/* code: HTTP status, or 0 for a transport failure. */
typedef void (*k8s_count_fn)(void *ctx, const char *verb, int code, uint64_t count);
/* Calls fn for every (verb, code) pair seen, in a stable order. */
void k8s_client_foreach_count(const k8s_client *c, k8s_count_fn fn, void *ctx);

typedef struct k8s_client_stats {
	uint64_t requests;	/* attempts sent */
	uint64_t retries;
	uint64_t connects;	/* connections opened */
	uint64_t token_reloads;	/* times the token changed */
	uint64_t resolves;	/* lookups of the API server host started off the loop (after connection failures) */
	size_t conns_open;
	size_t queued;
} k8s_client_stats;
void k8s_client_get_stats(const k8s_client *c, k8s_client_stats *out);

#endif
