/*
 * The gate in front of the ClusterService handlers.
 *
 * Implementation notes.  A call goes through two lookups, each answered by
 * the cache, by a review already in flight (the call joins its waiters), or
 * by a new review: token digest → who (token cache), then (digest, verb,
 * name) → may they (access cache).  A call only gets a heap record (struct
 * pending) when it has to wait; the warm path allocates nothing.  A review
 * in flight is a struct review on the gate's list, so freeing the gate can
 * cancel it; its completion takes the waiters from the cache and walks them.
 * The token's bytes live only in the call's header and, while a TokenReview
 * is being sent, in the request body the client wipes (K8S_REQ_SECRET).
 *
 * Order.  Without the gate, calls on one connection reach the handlers in
 * the order they arrived, and clients lean on that (a Create, then a Get
 * right behind it that sees CREATING).  Reviews would break it: a call whose
 * answer is cached would overtake one waiting for a review.  So a call that
 * waits joins its connection's queue (struct conn_q), and an answer is handed
 * over only when every earlier call of that connection has had its own; a
 * call arriving while its connection has calls in the gate queues behind
 * them even when its answer is cached.  Other connections are not held up.
 *
 * Cost.  SHA-256 of a 1 KB projected token is some 50,000 instructions, and
 * a client sends the same token on every call of a connection.  A small
 * table (struct memo, one slot per connection, direct-mapped) remembers per
 * connection a SipHash-2-4 of the last authorization value (keyed with 16
 * random bytes drawn at start, so nobody can aim a different value at it)
 * with the digest it had, and the last (verb, name) with its access key: a
 * repeat costs a SipHash and two lookups.  The memo holds digests and names,
 * never the token.  When the HPACK decoder kept the value (its Huffman memo
 * or dynamic table) it comes with an id that names those bytes for the life
 * of the process; the same id as last time skips even the SipHash.
 */
#include "worker/auth.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <bearssl.h>

#include "auth/bearer.h"
#include "auth/cache.h"
#include "auth/siphash.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "k8s/review.h"

#define NAME_MAX_LEN 253

enum { KIND_TOKEN, KIND_ACCESS };
enum { RES_ALLOWED, RES_DENIED, RES_ERROR };

struct token_answer {
	int authenticated;
	k8s_user_info user;
	char error[K8S_MESSAGE_MAX];
};

struct access_answer {
	int allowed;
	char username[];
};

struct review {
	struct review *prev, *next;
	worker_auth *a;
	int kind;
	uint8_t key[AUTH_KEY_LEN];
	k8s_req *req;
	char *username;		/* access: who it is about */
};

struct conn_q;

struct pending {
	auth_wait w;
	struct pending *prev, *next;
	struct conn_q *q;		/* its connection's queue */
	struct pending *qnext;
	int ready;			/* answered; handed over when it reaches the head */
	int code;
	char message[K8S_MESSAGE_MAX + 256];
	char user[K8S_REVIEW_MAX_STRING + 1];
	worker_auth *a;
	grpc_call *call;
	worker_auth_done done;
	void *arg;
	const char *verb;
	uint8_t tkey[AUTH_KEY_LEN];
	char name[NAME_MAX_LEN + 1];
};

/* The calls of one connection still in the gate, in arrival order. */
struct conn_q {
	struct conn_q *next;
	const void *conn;
	struct pending *head, *tail;
};

#define MEMO_SLOTS 256		/* power of two */

/* What one connection sent last (see "Cost" above). */
struct memo {
	const void *conn;		/* NULL = empty */
	uint64_t vhash;			/* SipHash of the authorization value */
	uint64_t vid;			/* its grpc_call_metadata_get_id id, 0 = none */
	size_t vlen;
	uint8_t tkey[AUTH_KEY_LEN];	/* its token digest */
	const char *verb;		/* last access key's verb (a static string), NULL = none */
	char name[NAME_MAX_LEN + 1];
	uint8_t akey[AUTH_KEY_LEN];
};

struct worker_auth {
	io_loop *loop;
	k8s_client *client;
	struct worker_auth_opts o;
	char *audience, *namespace_;
	auth_cache *tokens, *access;
	struct pending *pend;
	struct review *reviews;
	struct conn_q *queues;
	worker_auth_stats st;
	int memo_on;			/* a random key was had */
	uint8_t memo_key[16];
	struct memo memo[MEMO_SLOTS];
};

int worker_auth_parse_mode(const char *s, enum worker_auth_mode *out)
{
	if (s && strcmp(s, "kubernetes") == 0)
		*out = WORKER_AUTH_KUBERNETES;
	else if (s && strcmp(s, "none") == 0)
		*out = WORKER_AUTH_NONE;
	else
		return -1;
	return 0;
}

static void free_token_answer(void *v)
{
	struct token_answer *t = v;

	k8s_user_info_clear(&t->user);
	free(t);
}

worker_auth *worker_auth_new(io_loop *loop, k8s_client *client, const struct worker_auth_opts *opts)
{
	worker_auth *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->client = client;
	a->o = *opts;
	if (a->o.allow_ttl_ms <= 0)
		a->o.allow_ttl_ms = 60000;
	if (a->o.deny_ttl_ms <= 0)
		a->o.deny_ttl_ms = 10000;
	if (a->o.cache_entries == 0)
		a->o.cache_entries = 4096;
	a->memo_on = getrandom(a->memo_key, sizeof(a->memo_key), GRND_NONBLOCK) == (ssize_t)sizeof(a->memo_key);
	a->audience = xstrdup(opts->audience ? opts->audience : "");
	a->namespace_ = xstrdup(opts->namespace_ ? opts->namespace_ : "");
	a->tokens = auth_cache_new(a->o.cache_entries, free_token_answer);
	a->access = auth_cache_new(a->o.cache_entries, free);
	return a;
}

void worker_auth_free(worker_auth *a)
{
	if (a == NULL)
		return;
	while (a->reviews) {
		struct review *rv = a->reviews;
		a->reviews = rv->next;
		k8s_req_cancel(rv->req);
		free(rv->username);
		free(rv);
	}
	while (a->pend) {
		struct pending *p = a->pend;
		a->pend = p->next;
		grpc_call_set_cancel_hook(p->call, NULL, NULL);
		free(p);
	}
	while (a->queues) {
		struct conn_q *q = a->queues;
		a->queues = q->next;
		free(q);
	}
	auth_cache_free(a->tokens);
	auth_cache_free(a->access);
	free(a->audience);
	free(a->namespace_);
	free(a);
}

/* ------------------------------------------------------------- answers */

static struct pending *pending_of(auth_wait *w)
{
	return (struct pending *)(void *)((char *)w - offsetof(struct pending, w));
}

static void unlink_pending(worker_auth *a, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		a->pend = p->next;
	if (p->next)
		p->next->prev = p->prev;
	a->st.waiting--;
}

static struct conn_q *find_queue(const worker_auth *a, const void *conn)
{
	for (struct conn_q *q = a->queues; q; q = q->next)
		if (q->conn == conn)
			return q;
	return NULL;
}

static void drop_queue(worker_auth *a, struct conn_q *q)
{
	struct conn_q **pp = &a->queues;

	while (*pp != q)
		pp = &(*pp)->next;
	*pp = q->next;
	free(q);
}

/* Takes p off its queue and the gate's lists, frees it, and hands its answer to its handler. */
static void hand_over(worker_auth *a, struct pending *p)
{
	grpc_call *call = p->call;
	worker_auth_done done = p->done;
	void *arg = p->arg;
	worker_auth_result r;
	struct pending copy;

	grpc_call_set_cancel_hook(call, NULL, NULL);
	unlink_pending(a, p);
	memcpy(&copy, p, sizeof(copy));	/* the strings outlive p for the call */
	free(p);
	r.code = copy.code;
	r.message = copy.message;
	r.user = copy.user;
	done(arg, call, &r);
}

/* Hands over the answers at the head of q that are ready; drops q once it is empty. */
static void flush_queue(worker_auth *a, struct conn_q *q)
{
	for (;;) {
		struct pending *p = q->head;
		int last;

		if (p == NULL || !p->ready)
			return;
		q->head = p->qnext;
		last = q->head == NULL;
		if (last) {
			q->tail = NULL;
			drop_queue(a, q);
		}
		p->q = NULL;
		hand_over(a, p);
		if (last)
			return;
	}
}

/* Takes p out of its queue wherever it is (its call went away). */
static void leave_queue(worker_auth *a, struct pending *p)
{
	struct conn_q *q = p->q;
	struct pending **pp = &q->head, *prev = NULL;

	while (*pp && *pp != p) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp == NULL)
		return;
	*pp = p->qnext;
	if (q->tail == p)
		q->tail = prev;
	p->q = NULL;
	if (q->head == NULL)
		drop_queue(a, q);
	else
		flush_queue(a, q);
}

/*
 * Ends the check of call with this answer.  Without a record (the answer was
 * at hand and the connection has nobody waiting) it goes to the handler at
 * once; with one it waits for the calls ahead of it on its connection.
 */
static void deliver(worker_auth *a, struct pending *p, grpc_call *call, worker_auth_done done, void *arg, int code,
    const char *message, const char *user)
{
	if (p == NULL) {
		worker_auth_result r = { code, message ? message : "", user ? user : "" };
		done(arg, call, &r);
		return;
	}
	p->ready = 1;
	p->code = code;
	snprintf(p->message, sizeof(p->message), "%s", message ? message : "");
	snprintf(p->user, sizeof(p->user), "%s", user ? user : "");
	auth_cache_unwait(&p->w);
	flush_queue(a, p->q);
}

static void denied_message(const worker_auth *a, const char *user, const char *verb, const char *name, char *out,
    size_t outsz)
{
	if (name && name[0])
		snprintf(out, outsz, "%s may not %s clusters.cplane.dev \"%s\" in namespace %s", user, verb, name,
		    a->namespace_);
	else
		snprintf(out, outsz, "%s may not %s clusters.cplane.dev in namespace %s", user, verb, a->namespace_);
}

static void review_error_message(const k8s_error *err, int kind, char *out, size_t outsz)
{
	const char *what = kind == KIND_TOKEN ? "tokenreviews.authentication.k8s.io" :
	    "subjectaccessreviews.authorization.k8s.io";

	if (err->kind == K8S_ERR_API && err->code == 403)
		snprintf(out, outsz, "cannot review the caller: the worker may not create %s (bind its service account "
		    "to the ClusterRole system:auth-delegator): %s", what, err->message);
	else if (err->kind == K8S_ERR_API)
		snprintf(out, outsz, "cannot review the caller: %s: API server error %d %s: %s", what, err->code,
		    err->reason, err->message);
	else
		snprintf(out, outsz, "cannot review the caller: Kubernetes API server unavailable (%s): %s",
		    k8s_err_kind_str(err->kind), err->message);
}

static void access_key(const uint8_t tkey[AUTH_KEY_LEN], const char *verb, const char *name, uint8_t out[AUTH_KEY_LEN])
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, tkey, AUTH_KEY_LEN);
	br_sha256_update(&h, verb, strlen(verb) + 1);
	br_sha256_update(&h, name, strlen(name));
	br_sha256_out(&h, out);
}

/* ------------------------------------------------------------- the steps */

static void on_call_cancelled(grpc_call *call, void *arg);
static void on_token_reviewed(void *ctx, const k8s_error *err, const k8s_token_review *r);
static void on_access_reviewed(void *ctx, const k8s_error *err, const k8s_access_review *r);

/* A record for a call that has to wait (base/mem.h: never NULL). */
static struct pending *make_pending(worker_auth *a, grpc_call *call, const uint8_t tkey[AUTH_KEY_LEN],
    const char *verb, const char *name, worker_auth_done done, void *arg)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	const void *conn = grpc_call_conn_id(call);
	struct conn_q *q = find_queue(a, conn);

	if (q == NULL)
		q = xcalloc(1, sizeof(*q));
	if (q->conn == NULL && q->head == NULL) {
		q->conn = conn;
		q->next = a->queues;
		a->queues = q;
	}
	p->q = q;
	if (q->tail)
		q->tail->qnext = p;
	else
		q->head = p;
	q->tail = p;
	p->a = a;
	p->call = call;
	p->done = done;
	p->arg = arg;
	p->verb = verb;
	memcpy(p->tkey, tkey, AUTH_KEY_LEN);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->next = a->pend;
	if (a->pend)
		a->pend->prev = p;
	a->pend = p;
	a->st.waiting++;
	grpc_call_set_cancel_hook(call, on_call_cancelled, p);
	return p;
}

static struct review *start_review(worker_auth *a, int kind, const uint8_t key[AUTH_KEY_LEN])
{
	struct review *rv = xcalloc(1, sizeof(*rv));

	rv->a = a;
	rv->kind = kind;
	memcpy(rv->key, key, AUTH_KEY_LEN);
	rv->next = a->reviews;
	if (a->reviews)
		a->reviews->prev = rv;
	a->reviews = rv;
	return rv;
}

static void end_review(worker_auth *a, struct review *rv)
{
	if (rv->prev)
		rv->prev->next = rv->next;
	else
		a->reviews = rv->next;
	if (rv->next)
		rv->next->prev = rv->prev;
	free(rv->username);
	free(rv);
}

/*
 * Second lookup: may ans's user do verb on name?  p is the call's record
 * when it already waited (NULL on the synchronous path).
 */
static void check_access(worker_auth *a, struct pending *p, grpc_call *call, const uint8_t tkey[AUTH_KEY_LEN],
    const struct token_answer *ans, const char *verb, const char *name, worker_auth_done done, void *arg,
    struct memo *mm)
{
	uint8_t akey[AUTH_KEY_LEN];
	char msg[K8S_MESSAGE_MAX + 64];
	void *v;
	struct review *rv;

	if (!ans->authenticated) {
		snprintf(msg, sizeof(msg), "token rejected: %s", ans->error);
		deliver(a, p, call, done, arg, GRPC_UNAUTHENTICATED, msg, "");
		return;
	}
	if (mm && mm->verb == verb && strcmp(mm->name, name) == 0 && mem_eq(mm->tkey, tkey, AUTH_KEY_LEN)) {
		memcpy(akey, mm->akey, AUTH_KEY_LEN);
	} else {
		access_key(tkey, verb, name, akey);
		if (mm && strlen(name) < sizeof(mm->name)) {
			mm->verb = verb;
			memcpy(mm->name, name, strlen(name) + 1);
			memcpy(mm->akey, akey, AUTH_KEY_LEN);
		}
	}
	switch (auth_cache_get(a->access, akey, io_loop_now(a->loop), &v)) {
	case AUTH_CACHE_HIT: {
		const struct access_answer *aa = v;
		a->st.cache_hits++;
		if (aa->allowed) {
			deliver(a, p, call, done, arg, GRPC_OK, "", aa->username);
			return;
		}
		denied_message(a, aa->username, verb, name, msg, sizeof(msg));
		deliver(a, p, call, done, arg, GRPC_PERMISSION_DENIED, msg, aa->username);
		return;
	}
	case AUTH_CACHE_PENDING:
		if (p == NULL)
			p = make_pending(a, call, tkey, verb, name, done, arg);
		a->st.shared++;
		auth_cache_wait(a->access, akey, &p->w);
		return;
	default:
		break;
	}
	if (p == NULL)
		p = make_pending(a, call, tkey, verb, name, done, arg);
	rv = start_review(a, KIND_ACCESS, akey);
	rv->username = xstrdup(ans->user.username);
	auth_cache_begin(a->access, akey);
	auth_cache_wait(a->access, akey, &p->w);
	rv->req = k8s_review_access(a->client, &ans->user, &(k8s_access_attrs){ .namespace_ = a->namespace_,
	    .verb = verb, .group = "cplane.dev", .resource = "clusters", .name = name }, on_access_reviewed, rv);
	if (rv->req == NULL) {
		k8s_error e;
		k8s_error_set(&e, K8S_ERR_NOMEM, "the review request could not be built");
		on_access_reviewed(rv, &e, NULL);
	}
}

void worker_auth_check(worker_auth *a, grpc_call *call, const char *verb, const char *name,
    worker_auth_done done, void *arg)
{
	const char *value, *tok = NULL;
	size_t vlen = 0, tlen = 0;
	uint64_t vid = 0;
	uint8_t tkey[AUTH_KEY_LEN];
	char msg[160];
	br_sha256_context h;
	const void *conn;
	struct memo *mm = NULL;
	struct pending *p;
	struct review *rv;
	void *v;
	int rc;

	if (a->o.mode == WORKER_AUTH_NONE) {
		deliver(a, NULL, call, done, arg, GRPC_OK, "", "-");
		return;
	}
	if (name == NULL)
		name = "";
	/* Calls of this connection are still in the gate: this one queues behind them, answer at hand or not. */
	p = a->queues && find_queue(a, grpc_call_conn_id(call)) ? make_pending(a, call, (const uint8_t[AUTH_KEY_LEN]){ 0 },
	    verb, name, done, arg) : NULL;
	value = grpc_call_metadata_get_id(call, "authorization", &vlen, &vid);
	conn = grpc_call_conn_id(call);
	if (a->memo_on && value && conn) {
		uint64_t vh;

		mm = &a->memo[((uintptr_t)conn >> 4 ^ (uintptr_t)conn >> 12) & (MEMO_SLOTS - 1)];
		/* the same id is the same bytes: the memo's digest is this value's */
		if (vid != 0 && mm->conn == conn && mm->vid == vid && mm->vlen == vlen) {
			memcpy(tkey, mm->tkey, AUTH_KEY_LEN);
			goto have_digest;
		}
		vh = auth_siphash24(a->memo_key, value, vlen);
		if (mm->conn == conn && mm->vlen == vlen && mm->vhash == vh) {
			mm->vid = vid;
			memcpy(tkey, mm->tkey, AUTH_KEY_LEN);	/* the value this connection sent last time */
			goto have_digest;
		}
		mm->conn = NULL;	/* refilled below once the value parses */
		mm->verb = NULL;
		mm->vhash = vh;
		mm->vlen = vlen;
		mm->vid = vid;
	}
	rc = auth_bearer_parse(value, vlen, &tok, &tlen);
	if (rc < 0) {
		if (rc == AUTH_BEARER_MISSING)
			snprintf(msg, sizeof(msg), "missing bearer token");
		else
			snprintf(msg, sizeof(msg), "missing bearer token: %s", auth_bearer_strerror(rc));
		deliver(a, p, call, done, arg, GRPC_UNAUTHENTICATED, msg, "");
		return;
	}
	br_sha256_init(&h);
	br_sha256_update(&h, tok, tlen);
	br_sha256_out(&h, tkey);
	if (mm) {
		mm->conn = conn;
		memcpy(mm->tkey, tkey, AUTH_KEY_LEN);
	}
have_digest:
	if (p)
		memcpy(p->tkey, tkey, AUTH_KEY_LEN);
	switch (auth_cache_get(a->tokens, tkey, io_loop_now(a->loop), &v)) {
	case AUTH_CACHE_HIT:
		a->st.cache_hits++;
		check_access(a, p, call, tkey, v, verb, name, done, arg, mm);
		return;
	case AUTH_CACHE_PENDING:
		if (p == NULL)
			p = make_pending(a, call, tkey, verb, name, done, arg);
		a->st.shared++;
		auth_cache_wait(a->tokens, tkey, &p->w);
		return;
	default:
		break;
	}
	if (tok == NULL && auth_bearer_parse(value, vlen, &tok, &tlen) < 0) {
		/* The memo matched a value that does not parse: a SipHash collision (2^-64); refuse. */
		deliver(a, p, call, done, arg, GRPC_UNAUTHENTICATED, "missing bearer token", "");
		return;
	}
	if (p == NULL)
		p = make_pending(a, call, tkey, verb, name, done, arg);
	rv = start_review(a, KIND_TOKEN, tkey);
	auth_cache_begin(a->tokens, tkey);
	auth_cache_wait(a->tokens, tkey, &p->w);
	rv->req = k8s_review_token(a->client, tok, tlen, a->audience, on_token_reviewed, rv);
	if (rv->req == NULL) {
		k8s_error e;
		k8s_error_set(&e, K8S_ERR_NOMEM, "the review request could not be built");
		on_token_reviewed(rv, &e, NULL);
	}
}

static void on_token_reviewed(void *ctx, const k8s_error *err, const k8s_token_review *r)
{
	struct review *rv = ctx;
	worker_auth *a = rv->a;
	uint8_t key[AUTH_KEY_LEN];
	struct token_answer *ans = NULL;
	int64_t ttl = 0;
	char msg[K8S_MESSAGE_MAX + 200];
	auth_wait *list;

	memcpy(key, rv->key, AUTH_KEY_LEN);
	end_review(a, rv);
	if (err->kind == K8S_OK) {
		ans = xcalloc(1, sizeof(*ans));
		ans->authenticated = r->authenticated;
		snprintf(ans->error, sizeof(ans->error), "%s", r->error);
		k8s_user_info_copy(&ans->user, &r->user);
	}
	if (ans == NULL) {
		a->st.reviews[KIND_TOKEN][RES_ERROR]++;
		review_error_message(err, KIND_TOKEN, msg, sizeof(msg));
		log_warn("Token review failed", "error", msg, NULL);
		list = auth_cache_finish(a->tokens, key, NULL, 0, io_loop_now(a->loop));
		for (auth_wait *w = list, *next; w; w = next) {
			next = w->next;
			struct pending *p = pending_of(w);
			deliver(a, p, p->call, p->done, p->arg, GRPC_UNAVAILABLE, msg, "");
		}
		return;
	}
	a->st.reviews[KIND_TOKEN][ans->authenticated ? RES_ALLOWED : RES_DENIED]++;
	ttl = ans->authenticated ? a->o.allow_ttl_ms : a->o.deny_ttl_ms;
	/* ans stays valid while the waiters are walked: only a finish on the token cache could evict it. */
	list = auth_cache_finish(a->tokens, key, ans, ttl, io_loop_now(a->loop));
	for (auth_wait *w = list, *next; w; w = next) {
		next = w->next;
		struct pending *p = pending_of(w);
		check_access(a, p, p->call, p->tkey, ans, p->verb, p->name, p->done, p->arg, NULL);
	}
}

static void on_access_reviewed(void *ctx, const k8s_error *err, const k8s_access_review *r)
{
	struct review *rv = ctx;
	worker_auth *a = rv->a;
	uint8_t key[AUTH_KEY_LEN];
	struct access_answer *ans = NULL;
	char msg[K8S_MESSAGE_MAX + 200];
	auth_wait *list;
	size_t ulen = strlen(rv->username);

	memcpy(key, rv->key, AUTH_KEY_LEN);
	if (err->kind == K8S_OK) {
		ans = xmalloc(sizeof(*ans) + ulen + 1);
		ans->allowed = r->allowed;
		memcpy(ans->username, rv->username, ulen + 1);
	}
	end_review(a, rv);
	if (ans == NULL) {
		a->st.reviews[KIND_ACCESS][RES_ERROR]++;
		review_error_message(err, KIND_ACCESS, msg, sizeof(msg));
		log_warn("Access review failed", "error", msg, NULL);
		list = auth_cache_finish(a->access, key, NULL, 0, io_loop_now(a->loop));
		for (auth_wait *w = list, *next; w; w = next) {
			next = w->next;
			struct pending *p = pending_of(w);
			deliver(a, p, p->call, p->done, p->arg, GRPC_UNAVAILABLE, msg, "");
		}
		return;
	}
	a->st.reviews[KIND_ACCESS][ans->allowed ? RES_ALLOWED : RES_DENIED]++;
	list = auth_cache_finish(a->access, key, ans, ans->allowed ? a->o.allow_ttl_ms : a->o.deny_ttl_ms,
	    io_loop_now(a->loop));
	for (auth_wait *w = list, *next; w; w = next) {
		next = w->next;
		struct pending *p = pending_of(w);
		if (ans->allowed) {
			deliver(a, p, p->call, p->done, p->arg, GRPC_OK, "", ans->username);
		} else {
			denied_message(a, ans->username, p->verb, p->name, msg, sizeof(msg));
			deliver(a, p, p->call, p->done, p->arg, GRPC_PERMISSION_DENIED, msg, ans->username);
		}
	}
}

static void on_call_cancelled(grpc_call *call, void *arg)
{
	struct pending *p = arg;
	worker_auth *a = p->a;

	/* Gone: its place in the order no longer matters, and the calls behind it may go on. */
	auth_cache_unwait(&p->w);
	p->code = grpc_call_cancel_status(call);
	snprintf(p->message, sizeof(p->message), "the call ended while its caller was being reviewed");
	p->user[0] = '\0';
	if (p->q)
		leave_queue(a, p);
	hand_over(a, p);
}

/* -------------------------------------------------------------- metrics */

void worker_auth_get_stats(const worker_auth *a, worker_auth_stats *out)
{
	*out = a->st;
}

void worker_auth_write_metrics(buf *out, void *arg)
{
	const worker_auth *a = arg;
	static const char *const kinds[2] = { "token", "access" };
	static const char *const results[3] = { "allowed", "denied", "error" };

	buf_append_str(out, "# HELP cplane_auth_reviews_total Reviews asked of the API server: TokenReview (token) "
	    "and SubjectAccessReview (access), by result.\n# TYPE cplane_auth_reviews_total counter\n");
	for (int k = 0; k < 2; k++)
		for (int r = 0; r < 3; r++)
			buf_printf(out, "cplane_auth_reviews_total{kind=\"%s\",result=\"%s\"} %llu\n", kinds[k], results[r],
			    (unsigned long long)a->st.reviews[k][r]);
	buf_printf(out, "# HELP cplane_auth_cache_hits_total Review answers taken from the cache (a call's token "
	    "and access lookups each count).\n# TYPE cplane_auth_cache_hits_total counter\n"
	    "cplane_auth_cache_hits_total %llu\n", (unsigned long long)a->st.cache_hits);
}
