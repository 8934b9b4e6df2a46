/*
 * Who may call: the worker's check of every cplane.v1 call (DESIGN.md
 * "Security").  The call's `authorization: Bearer <token>` is reviewed by
 * the API server — TokenReview for who, SubjectAccessReview for whether they
 * may <verb> clusters.cplane.dev <name> in the worker's namespace — through
 * the Kubernetes client's request queue, on the loop: a call waiting on a
 * review never blocks anything.
 *
 * Answers are cached (src/auth/cache.h) by SHA-256 of the token (token
 * reviews) and by SHA-256 of (that digest, verb, name) (access reviews):
 * allowed 60 s, refused 10 s, 4,096 of each at most.  Calls with the same
 * unseen token share one review.  A review that cannot be made (API server
 * unreachable, 5xx after the client's retries, the worker lacks
 * system:auth-delegator) answers UNAVAILABLE and is not cached.  The token is
 * never kept, logged or quoted.
 *
 * Codes: no/malformed header → UNAUTHENTICATED "missing bearer token[: why]";
 * token refused → UNAUTHENTICATED "token rejected: <status.error>"; RBAC
 * says no → PERMISSION_DENIED "<user> may not <verb> clusters.cplane.dev
 * "<name>" in namespace <ns>".
 */
#ifndef CPLANE_WORKER_AUTH_H
#define CPLANE_WORKER_AUTH_H

#include <stdint.h>

#include "base/buf.h"
#include "grpc/server.h"
#include "k8s/client.h"

typedef struct worker_auth worker_auth;

enum worker_auth_mode { WORKER_AUTH_KUBERNETES = 0, WORKER_AUTH_NONE = 1 };

/* "kubernetes" / "none" → mode; 0 or -1. */
int worker_auth_parse_mode(const char *s, enum worker_auth_mode *out);

struct worker_auth_opts {
	enum worker_auth_mode mode;
	const char *audience;		/* spec.audiences[0]; "" sends none */
	const char *namespace_;		/* of the access reviews and messages */
	int64_t allow_ttl_ms;		/* 0 = 60 s */
	int64_t deny_ttl_ms;		/* 0 = 10 s */
	size_t cache_entries;		/* 0 = 4096, per cache */
};

/* client may be NULL only with WORKER_AUTH_NONE.  Strings are copied.  Never NULL (base/mem.h). */
worker_auth *worker_auth_new(io_loop *loop, k8s_client *client, const struct worker_auth_opts *opts);
/* Cancels reviews in flight; calls still waiting are forgotten (their cancel hooks are cleared). Before k8s_client_free. */
void worker_auth_free(worker_auth *a);

typedef struct worker_auth_result {
	int code;		/* GRPC_OK, or the code to end the call with */
	const char *message;	/* "" for OK */
	const char *user;	/* who asked ("" when unknown, "-" with auth none) */
} worker_auth_result;

/* r is valid during the call only.  The call is the handler's again: answer or finish it. */
typedef void (*worker_auth_done)(void *arg, grpc_call *call, const worker_auth_result *r);

/*
 * Decides whether call may <verb> the cluster `name` ("" or NULL: the whole
 * namespace, as for list).  verb is a static string ("create", "update",
 * "delete", "get", "list", "watch").  done runs exactly once: before this
 * returns when the answer is at hand (cache, malformed header, auth none),
 * else from a later loop turn.  While it waits the call's cancel hook is the
 * gate's; a call whose stream goes away gets done with the call's cancel
 * status, and the handler finishes it as usual.
 */
void worker_auth_check(worker_auth *a, grpc_call *call, const char *verb, const char *name,
    worker_auth_done done, void *arg);

typedef struct worker_auth_stats {
	uint64_t reviews[2][3];	/* [token, access][allowed, denied, error] */
	uint64_t cache_hits;	/* answers taken from the cache (token and access lookups each count) */
	uint64_t shared;	/* calls that joined a review already in flight */
	size_t waiting;		/* calls waiting on a review now */
} worker_auth_stats;
void worker_auth_get_stats(const worker_auth *a, worker_auth_stats *out);

/* cplane_auth_reviews_total{kind,result} and cplane_auth_cache_hits_total (a metrics_source_fn; arg the gate). */
void worker_auth_write_metrics(buf *out, void *arg);

#endif
