/*
 * Asking the API server about a caller: TokenReview (who is this token?) and
 * SubjectAccessReview (may this user do that?), as kube-rbac-proxy and every
 * aggregated API server ask them.
 *
 *   POST /apis/authentication.k8s.io/v1/tokenreviews
 *        {"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",
 *         "spec":{"token":"...","audiences":["cplane"]}}
 *   POST /apis/authorization.k8s.io/v1/subjectaccessreviews
 *        {"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
 *         "spec":{"resourceAttributes":{"namespace":"ns","verb":"create","group":"cplane.dev",
 *                 "resource":"clusters","name":"web"},
 *                 "user":"...","uid":"...","groups":[...],"extra":{"k":["v"]}}}
 *
 * The writers and decoders are pure (byte-exact, unit-tested); the two
 * submit calls send them through the client's request queue.  Both are POSTs
 * that change nothing, so they are retried as GETs are; the TokenReview body
 * is wiped from memory once sent (K8S_REQ_SECRET).  A token never appears in
 * an error message.
 */
#ifndef CPLANE_K8S_REVIEW_H
#define CPLANE_K8S_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/client.h"

#define K8S_REVIEW_MAX_GROUPS 256
#define K8S_REVIEW_MAX_EXTRA 32		/* extra keys; and values per key */
#define K8S_REVIEW_MAX_STRING 1024	/* longest name, group, extra key or value kept */

typedef struct k8s_user_extra {
	char *key;
	char **values;
	size_t nvalues;
} k8s_user_extra;

/* Who a token belongs to (TokenReview status.user).  Heap strings; k8s_user_info_clear frees them. */
typedef struct k8s_user_info {
	char *username;		/* "" when absent */
	char *uid;		/* "" when absent */
	char **groups;
	size_t ngroups;
	k8s_user_extra *extra;
	size_t nextra;
} k8s_user_info;

void k8s_user_info_clear(k8s_user_info *u);
/* Deep copy into dst (which is overwritten); cannot fail (base/mem.h). */
void k8s_user_info_copy(k8s_user_info *dst, const k8s_user_info *src);

typedef struct k8s_token_review {
	int authenticated;	/* status.authenticated, and (when an audience was asked for) it is among status.audiences */
	k8s_user_info user;
	char error[K8S_MESSAGE_MAX];	/* status.error, or why the audience did not match */
} k8s_token_review;

typedef struct k8s_access_attrs {
	const char *namespace_;
	const char *verb;	/* "create", "delete", "get", "list", "watch", "update" */
	const char *group;	/* "cplane.dev" */
	const char *resource;	/* "clusters" */
	const char *name;	/* NULL or "" for none (list) */
} k8s_access_attrs;

typedef struct k8s_access_review {
	int allowed;		/* status.allowed (and not status.denied) */
	char reason[K8S_MESSAGE_MAX];	/* status.reason, else status.evaluationError */
} k8s_access_review;

/*
 * Writers: the request body into out[0..cap).  audience NULL or "" sends no
 * audiences.  Return the length, JSON_ENOSPC when cap is too small (the
 * length needed is then what json_writer_len would say: call with cap 0 to
 * size it), or JSON_EUSAGE / JSON_EUTF8 for unwritable input.
 */
int k8s_token_review_write(const char *token, size_t token_len, const char *audience, uint8_t *out, size_t cap);
int k8s_access_review_write(const k8s_user_info *user, const k8s_access_attrs *a, uint8_t *out, size_t cap);
/* Bytes k8s_*_write needs (so callers can allocate once). */
size_t k8s_token_review_size(const char *token, size_t token_len, const char *audience);
size_t k8s_access_review_size(const k8s_user_info *user, const k8s_access_attrs *a);

/*
 * Decoders of a 2xx answer body.  0 with *out filled (out->user must be
 * cleared with k8s_user_info_clear afterwards, also on error), or -1 with err
 * set (K8S_ERR_PROTO: not JSON, or past the K8S_REVIEW_MAX_* bounds).
 * audience: the one asked for (NULL or "" = none): an authenticated answer
 * whose status.audiences does not list it counts as not authenticated.
 */
int k8s_token_review_decode(const void *body, size_t len, const char *audience, k8s_token_review *out,
    k8s_error *err);
int k8s_access_review_decode(const void *body, size_t len, k8s_access_review *out, k8s_error *err);

/* Completions: err->kind == K8S_OK with the answer, else r is NULL.  Valid during the call. */
typedef void (*k8s_token_review_fn)(void *ctx, const k8s_error *err, const k8s_token_review *r);
typedef void (*k8s_access_review_fn)(void *ctx, const k8s_error *err, const k8s_access_review *r);

/* Sends the reviews.  NULL only when the body cannot be written (no callback then). */
k8s_req *k8s_review_token(k8s_client *c, const char *token, size_t token_len, const char *audience,
    k8s_token_review_fn fn, void *ctx);
k8s_req *k8s_review_access(k8s_client *c, const k8s_user_info *user, const k8s_access_attrs *a,
    k8s_access_review_fn fn, void *ctx);

#endif
