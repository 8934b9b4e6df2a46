/*
 * Implementation notes.
 *
 * A request is in one of four places: the FIFO queue (waiting for a
 * connection), on a connection (one at a time: no pipelining, so a response
 * always belongs to conn->req), in backoff (its timer will put it back at
 * the queue's head), or done.  Dispatch happens only in pump(), which runs
 * deferred at the end of a loop turn, so no callback ever runs inside
 * k8s_submit() and completions never recurse into dispatch.
 *
 * Connections are never freed where they fail: they are marked dead and
 * reaped by pump(), because the failure is usually noticed inside one of
 * their own callbacks (and inside the HTTP parser, which must not be freed
 * from its callbacks).  Requests, in contrast, are freed as soon as they
 * complete or are cancelled; a connection learns of it because conn->req
 * was cleared.
 */
#include "k8s/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "http1/http1.h"
#include "io/conn.h"
#include "io/resolver.h"
#include "k8s/client_int.h"

#define IDLE_CLOSE_MS 60000
#define MAX_OK_BODY (64u << 20)
#define MAX_ERR_BODY (64u << 10)
#define MAX_COUNTS 64

struct kconn {
	k8s_client *c;
	struct kconn *next;
	io_conn *io;
	http1_resp *resp;
	k8s_req *req;
	io_timer idle;
	int stream;		/* dedicated to one watch */
	int dead;
	int connected;		/* on_connected ran: the request may have gone out */
	int completed;		/* responses finished on it (reused when > 0) */
	int got_bytes;		/* bytes of the current response */
};

struct k8s_req {
	k8s_client *c;
	k8s_req *prev, *next;	/* queue links */
	k8s_req *aprev, *anext;	/* every live request, for k8s_client_free */
	int state;
	int verb;
	char method[8];
	char *path;
	uint8_t *body;
	size_t body_len;
	unsigned flags;
	int64_t timeout_ms;
	k8s_data_fn on_data;
	k8s_done_fn on_done;
	void *ctx;
	void (*free_ctx)(void *ctx);
	struct kconn *conn;
	io_timer timer;
	k8s_backoff bo;
	int retries;
	int auth_retried;
	/* current response */
	int status;
	int streaming;		/* 2xx with on_data: body goes to on_data */
	int aborted;		/* on_data said stop */
	int64_t retry_after_ms;
	buf rbody;
};

enum { R_QUEUED, R_ACTIVE, R_BACKOFF, R_DONE };

struct count {
	uint8_t verb;
	int16_t code;
	uint64_t n;
};

struct k8s_client {
	io_loop *loop;
	k8s_config *cfg;
	k8s_client_opts o;
	k8s_req *qhead, *qtail;
	k8s_req *all;
	struct kconn *conns;
	size_t nqueued;
	int pump_scheduled;
	io_timer token_timer;
	struct count counts[MAX_COUNTS];
	size_t ncounts;
	k8s_client_stats st;
	/* Where the API server is: from the config, then from lookups off the loop after connection failures. */
	struct sockaddr_storage addr;
	socklen_t addrlen;		/* 0: unknown until the resolver answers */
	io_resolver *resolver;
};

static void schedule_pump(k8s_client *c);

/* A connection could not be made: look the host up again (on a thread), in case it moved. */
static void re_resolve(k8s_client *c)
{
	if (c->resolver != NULL && io_resolver_start(c->resolver) == 0)
		c->st.resolves++;
}

static void on_resolved(void *arg, int ok)
{
	k8s_client *c = arg;
	char err[256];

	if (ok && io_resolver_result(c->resolver, &c->addr, &c->addrlen, err, sizeof(err)) == 0)
		schedule_pump(c);
}

const char *k8s_verb_str(int verb)
{
	/* Kubernetes' own verb names, as the API server's audit log and RBAC spell them. */
	static const char *const names[K8S_VERB_N] = { "get", "list", "watch", "create", "delete", "patch",
		"review" };

	return verb >= 0 && verb < K8S_VERB_N ? names[verb] : "OTHER";
}

static void count(k8s_client *c, int verb, int code)
{
	size_t i;

	for (i = 0; i < c->ncounts; i++)
		if (c->counts[i].verb == verb && c->counts[i].code == code)
			break;
	if (i == c->ncounts) {
		if (c->ncounts == MAX_COUNTS)
			return;
		c->ncounts++;
		c->counts[i].verb = (uint8_t)verb;
		c->counts[i].code = (int16_t)code;
		c->counts[i].n = 0;
	}
	c->counts[i].n++;
}

void k8s_client_foreach_count(const k8s_client *c, k8s_count_fn fn, void *ctx)
{
	for (size_t i = 0; i < c->ncounts; i++)
		fn(ctx, k8s_verb_str(c->counts[i].verb), c->counts[i].code, c->counts[i].n);
}

void k8s_client_get_stats(const k8s_client *c, k8s_client_stats *out)
{
	size_t n = 0;

	*out = c->st;
	for (const struct kconn *k = c->conns; k; k = k->next)
		n += !k->dead;
	out->conns_open = n;
	out->queued = c->nqueued;
}

/* ---------------------------------------------------------------- queue */

static void q_push(k8s_client *c, k8s_req *r, int front)
{
	r->state = R_QUEUED;
	r->prev = r->next = NULL;
	if (c->qhead == NULL) {
		c->qhead = c->qtail = r;
	} else if (front) {
		r->next = c->qhead;
		c->qhead->prev = r;
		c->qhead = r;
	} else {
		r->prev = c->qtail;
		c->qtail->next = r;
		c->qtail = r;
	}
	c->nqueued++;
	schedule_pump(c);
}

static void q_remove(k8s_client *c, k8s_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->qhead = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		c->qtail = r->prev;
	r->prev = r->next = NULL;
	c->nqueued--;
}

/* ---------------------------------------------------------- connections */

static void conn_kill(struct kconn *k)
{
	if (k->dead)
		return;
	k->dead = 1;
	k->req = NULL;
	io_timer_stop(k->c->loop, &k->idle);
	io_conn_free(k->io);	/* safe inside its callbacks */
	k->io = NULL;
	schedule_pump(k->c);
}

static void reap(k8s_client *c)
{
	struct kconn **pp = &c->conns;

	while (*pp) {
		struct kconn *k = *pp;
		if (k->dead) {
			*pp = k->next;
			http1_resp_free(k->resp);
			free(k);
		} else {
			pp = &k->next;
		}
	}
}

static void idle_expired(io_loop *loop, void *arg)
{
	(void)loop;
	conn_kill(arg);
}

static void req_free(k8s_req *r)
{
	k8s_client *c = r->c;

	if (r->aprev)
		r->aprev->anext = r->anext;
	else
		c->all = r->anext;
	if (r->anext)
		r->anext->aprev = r->aprev;
	io_timer_stop(c->loop, &r->timer);
	if (r->free_ctx)
		r->free_ctx(r->ctx);
	buf_free(&r->rbody);
	free(r->path);
	if (r->body && (r->flags & K8S_REQ_SECRET))
		explicit_bzero(r->body, r->body_len);
	free(r->body);
	free(r);
}

static void req_complete(k8s_req *r, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	r->state = R_DONE;
	io_timer_stop(r->c->loop, &r->timer);
	if (r->on_done)
		r->on_done(r->ctx, err, status, body, len);
	req_free(r);
}

static void retry_now(io_loop *loop, void *arg)
{
	k8s_req *r = arg;

	(void)loop;
	q_push(r->c, r, 1);
}

/* The one timer of a request changes role (attempt timeout, retry delay);
 * re-initialising an armed timer would corrupt the loop's heap. */
static void req_arm(k8s_req *r, io_timer_cb cb, int64_t delay_ms)
{
	io_timer_stop(r->c->loop, &r->timer);
	io_timer_init(&r->timer, cb, r);
	io_timer_start(r->c->loop, &r->timer, delay_ms);
}

/* The attempt failed with err.  Retries when policy allows, else completes. */
static void attempt_failed(k8s_req *r, k8s_error *err, int may_retry)
{
	k8s_client *c = r->c;
	int64_t delay;

	r->conn = NULL;
	io_timer_stop(c->loop, &r->timer);
	if (may_retry && !(r->flags & K8S_REQ_NO_RETRY) && r->retries < c->o.max_retries &&
	    k8s_error_retryable(err)) {
		delay = k8s_backoff_next(&r->bo);
		if (err->retry_after_ms > delay)
			delay = err->retry_after_ms;
		r->retries++;
		c->st.retries++;
		r->state = R_BACKOFF;
		log_debug("k8s request retry", "method", r->method, "path", r->path, "error", err->message, NULL);
		req_arm(r, retry_now, delay);
		return;
	}
	req_complete(r, err, err->code, NULL, 0);
}

static k8s_error *transport_error(k8s_error *e, const char *why)
{
	int kind = K8S_ERR_CONNECT;

	if (why && strncmp(why, "tls", 3) == 0)
		kind = K8S_ERR_TLS;
	k8s_error_set(e, kind, "%s", why ? why : "connection closed by the API server");
	return e;
}

/* Whether sending r twice is harmless: everything but a create, and creates that change nothing (reviews). */
static int may_repeat(const k8s_req *r)
{
	return r->verb != K8S_VERB_CREATE || (r->flags & K8S_REQ_IDEMPOTENT);
}

/* A connection failed (or closed) while r was on it. */
static void conn_failed(struct kconn *k, const char *why)
{
	k8s_req *r = k->req;
	k8s_error e;
	int may_retry, reused_silent = k->completed > 0 && k->got_bytes == 0, sent = k->connected;

	conn_kill(k);
	if (r == NULL)
		return;
	count(r->c, r->verb, 0);
	transport_error(&e, why);
	if (r->status >= 200 && r->status < 300 && r->streaming) {
		/* Body bytes were delivered already: only the caller can resume. */
		k8s_error_set(&e, e.kind, "stream ended: %s", why ? why : "connection closed");
		req_complete(r, &e, 0, NULL, 0);
		return;
	}
	/* A POST may have been applied unless the connection was a stale
	 * keep-alive one that closed before answering anything. */
	may_retry = may_repeat(r) || reused_silent || !sent;
	attempt_failed(r, &e, may_retry);
}

static void conn_on_connected(io_conn *io, void *arg)
{
	struct kconn *k = arg;

	(void)io;
	k->connected = 1;
}

static void finish_response(struct kconn *k);

static void conn_on_data(io_conn *io, const uint8_t *p, size_t n, void *arg)
{
	struct kconn *k = arg;

	(void)io;
	while (n > 0 && !k->dead) {
		k8s_req *r = k->req;
		if (r == NULL) {
			/* Bytes nobody asked for: the connection's framing is lost. */
			conn_kill(k);
			return;
		}
		k->got_bytes = 1;
		int used = http1_resp_feed(k->resp, p, n);
		if (k->dead || k->req != r)
			return;	/* the request was cancelled from on_data */
		if (used < 0) {
			k8s_error e;
			if (r->aborted)
				k8s_error_set(&e, K8S_ERR_PROTO, "aborted by reader");
			else
				k8s_error_set(&e, K8S_ERR_PROTO, "bad HTTP response: %s", http1_strerror(used));
			conn_kill(k);
			count(r->c, r->verb, 0);
			r->conn = NULL;
			req_complete(r, &e, r->status, NULL, 0);
			return;
		}
		p += used;
		n -= (size_t)used;
		if (!http1_resp_done(k->resp))
			break;
		finish_response(k);
	}
}

static void conn_on_close(io_conn *io, const char *error, void *arg)
{
	struct kconn *k = arg;
	k8s_req *r = k->req;

	(void)io;
	if (error != NULL && !k->connected)
		re_resolve(k->c);	/* the address may have moved (a new Service IP, DNS) */
	if (r && error == NULL && http1_resp_have_headers(k->resp) && http1_resp_eof(k->resp) == 0 &&
	    k->req == r && http1_resp_done(k->resp)) {
		/* A body delimited by the close; the connection is spent. */
		k->stream = 1;
		finish_response(k);
		conn_kill(k);
		return;
	}
	conn_failed(k, error);
}

static const io_conn_cbs conn_cbs = { conn_on_connected, conn_on_data, NULL, conn_on_close };

static int h_headers(void *arg, const http1_response *resp);
static int h_body(void *arg, const uint8_t *p, size_t n);

static const http1_resp_cbs resp_cbs = { h_headers, h_body, NULL };

static struct kconn *conn_new(k8s_client *c, int stream, char *err, size_t errsz)
{
	struct kconn *k = xcalloc(1, sizeof(*k));
	io_conn_opts o;

	k->c = c;
	k->stream = stream;
	io_timer_init(&k->idle, idle_expired, k);
	k->resp = http1_resp_new(NULL, &resp_cbs, k);
	if (c->addrlen == 0) {
		/* Not resolved yet: no blocking lookup here; the attempt fails like a refused connect. */
		struct sockaddr_storage ss;
		socklen_t len;
		char why[256] = "";
		re_resolve(c);
		if (c->resolver)
			(void)io_resolver_result(c->resolver, &ss, &len, why, sizeof(why));
		snprintf(err, errsz, "resolve %.60s: %.120s", c->cfg->host, why[0] ? why : c->cfg->resolve_err[0] ?
		    c->cfg->resolve_err : "in progress");
		http1_resp_free(k->resp);
		free(k);
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.host = c->cfg->host;
	o.port = c->cfg->port;
	o.addr = &c->addr;
	o.addrlen = c->addrlen;
	o.anchors = c->cfg->tls ? c->cfg->anchors : NULL;
	o.server_name = c->cfg->server_name;
	o.client_chain = c->cfg->client_chain;
	o.client_key = c->cfg->client_key;
	o.connect_timeout_ms = c->o.timeout_ms < 10000 ? c->o.timeout_ms : 10000;
	k->io = io_conn_connect(c->loop, &o, &conn_cbs, k, err, errsz);
	if (k->io == NULL) {
		http1_resp_free(k->resp);
		free(k);
		return NULL;
	}
	c->st.connects++;
	k->next = c->conns;
	c->conns = k;
	return k;
}

/* ------------------------------------------------------------- responses */

static int h_headers(void *arg, const http1_response *resp)
{
	struct kconn *k = arg;
	k8s_req *r = k->req;
	const http1_header *h;

	if (r == NULL)
		return 1;
	r->status = resp->status;
	r->streaming = resp->status >= 200 && resp->status < 300 && r->on_data != NULL;
	r->retry_after_ms = 0;
	h = http1_find_header(resp->headers, resp->nheaders, "Retry-After");
	if (h) {
		int64_t s;
		if (str_to_i64(h->value, &s) == 0 && s >= 0)
			r->retry_after_ms = (s > 600 ? 600 : s) * 1000;
	}
	if (r->streaming && (r->flags & K8S_REQ_STREAM)) {
		/* A watch lives as long as the server keeps it; only a total
		 * lifetime, if the caller set one, still applies. */
		io_timer_stop(r->c->loop, &r->timer);
		if (r->timeout_ms > 0)
			io_timer_start(r->c->loop, &r->timer, r->timeout_ms);
	}
	return 0;
}

static int h_body(void *arg, const uint8_t *p, size_t n)
{
	struct kconn *k = arg;
	k8s_req *r = k->req;

	if (r == NULL)
		return 1;
	if (r->streaming) {
		int rc = r->on_data(r->ctx, p, n);
		if (k->req != r)
			return 1;	/* cancelled meanwhile; r is gone */
		if (rc) {
			r->aborted = 1;
			return 1;
		}
		return 0;
	}
	size_t lim = r->status >= 200 && r->status < 300 ? MAX_OK_BODY : MAX_ERR_BODY;
	if (buf_len(&r->rbody) + n > lim) {
		if (r->status >= 200 && r->status < 300)
			return 1;	/* too big to hold: fail the request */
		n = lim - buf_len(&r->rbody);	/* error text: the start is enough */
	}
	return buf_append(&r->rbody, p, n) < 0;
}

static void finish_response(struct kconn *k)
{
	k8s_req *r = k->req;
	k8s_client *c = k->c;
	const http1_response *resp = http1_resp_response(k->resp);
	int keep = resp->keep_alive && !k->stream && !k->dead;
	k8s_error e;

	k->req = NULL;
	k->completed++;
	r->conn = NULL;
	if (keep) {
		k->got_bytes = 0;
		io_timer_start(c->loop, &k->idle, IDLE_CLOSE_MS);
		schedule_pump(c);
	} else {
		conn_kill(k);
	}
	count(c, r->verb, r->status);
	if (r->status >= 200 && r->status < 300) {
		k8s_error_clear(&e);
		req_complete(r, &e, r->status, buf_data(&r->rbody), buf_len(&r->rbody));
		return;
	}
	k8s_status_parse(buf_data(&r->rbody), buf_len(&r->rbody), r->status, &e);
	if (r->retry_after_ms > e.retry_after_ms)
		e.retry_after_ms = r->retry_after_ms;
	if (r->status == 401 && !r->auth_retried && c->cfg->token_file[0]) {
		char why[256];
		r->auth_retried = 1;
		if (k8s_config_reload_token(c->cfg, why, sizeof(why)) < 0)
			log_warn("Cannot re-read the API token", "error", why, NULL);
		else
			c->st.token_reloads++;
		buf_reset(&r->rbody);
		io_timer_stop(c->loop, &r->timer);
		q_push(c, r, 1);
		return;
	}
	buf_reset(&r->rbody);
	attempt_failed(r, &e, 1);
}

/* -------------------------------------------------------------- dispatch */

static void attempt_timeout(io_loop *loop, void *arg)
{
	k8s_req *r = arg;
	struct kconn *k = r->conn;
	k8s_error e;

	(void)loop;
	if (k == NULL)
		return;
	conn_kill(k);
	r->conn = NULL;
	if (r->streaming && (r->flags & K8S_REQ_STREAM)) {
		/* A watch that outlived its lifetime: a normal end for the caller. */
		count(r->c, r->verb, r->status);
		k8s_error_clear(&e);
		req_complete(r, &e, r->status, NULL, 0);
		return;
	}
	count(r->c, r->verb, 0);
	if (r->streaming) {
		k8s_error_set(&e, K8S_ERR_TIMEOUT, "%s %s: response body not complete within %lld ms",
		    r->method, r->path, (long long)(r->timeout_ms ? r->timeout_ms : r->c->o.timeout_ms));
		req_complete(r, &e, r->status, NULL, 0);
		return;
	}
	k8s_error_set(&e, K8S_ERR_TIMEOUT, "%s %s: no answer from the API server within %lld ms", r->method,
	    r->path, (long long)(r->timeout_ms ? r->timeout_ms : r->c->o.timeout_ms));
	attempt_failed(r, &e, may_repeat(r));
}

static int write_request(k8s_client *c, struct kconn *k, k8s_req *r)
{
	buf out = BUF_INIT;
	http1_header h[6];
	size_t nh = 0;
	char auth[80];
	char *authv = NULL;
	char tbuf[512], *target = tbuf;
	size_t tlen = strlen(c->cfg->prefix) + strlen(r->path) + 1;
	int rc;

	/* Paths carry continue tokens: they may be long. */
	if (tlen > sizeof(tbuf))
		target = xmalloc(tlen);
	snprintf(target, tlen, "%s%s", c->cfg->prefix, r->path);
	h[nh++] = (http1_header){ STR_LIT("Host"), str_from_cstr(c->cfg->host_header) };
	h[nh++] = (http1_header){ STR_LIT("User-Agent"), STR_LIT("cplane/" CPLANE_VERSION) };
	h[nh++] = (http1_header){ STR_LIT("Accept"), STR_LIT("application/json") };
	if (r->body)
		h[nh++] = (r->flags & K8S_REQ_MERGE_PATCH) ?
		    (http1_header){ STR_LIT("Content-Type"), STR_LIT("application/merge-patch+json") } :
		    (http1_header){ STR_LIT("Content-Type"), STR_LIT("application/json") };
	if (c->cfg->token) {
		size_t tl = strlen(c->cfg->token);
		authv = tl + 8 < sizeof(auth) ? auth : xmalloc(tl + 8);
		memcpy(authv, "Bearer ", 7);
		memcpy(authv + 7, c->cfg->token, tl + 1);
		h[nh++] = (http1_header){ STR_LIT("Authorization"), str_make(authv, tl + 7) };
	}
	rc = http1_write_request(&out, r->method, target, h, nh, r->body, r->body_len);
	if (authv != auth)
		free(authv);
	if (target != tbuf)
		free(target);
	if (rc == 0)
		rc = io_conn_write(k->io, buf_data(&out), buf_len(&out));
	buf_free(&out);
	return rc;
}

static void start_attempt(k8s_client *c, struct kconn *k, k8s_req *r)
{
	k8s_error e;

	r->state = R_ACTIVE;
	r->conn = k;
	r->status = 0;
	r->streaming = 0;
	r->aborted = 0;
	buf_reset(&r->rbody);
	k->req = r;
	k->got_bytes = 0;
	io_timer_stop(c->loop, &k->idle);
	http1_resp_reset(k->resp, 0);
	c->st.requests++;
	req_arm(r, attempt_timeout, (r->flags & K8S_REQ_STREAM) || r->timeout_ms <= 0 ?
	    c->o.timeout_ms : r->timeout_ms);
	if (write_request(c, k, r) < 0) {
		conn_kill(k);
		r->conn = NULL;
		k8s_error_set(&e, K8S_ERR_NOMEM, "cannot queue the request");
		req_complete(r, &e, 0, NULL, 0);
	}
}

static size_t pooled_conns(const k8s_client *c)
{
	size_t n = 0;

	for (const struct kconn *k = c->conns; k; k = k->next)
		n += !k->dead && !k->stream;
	return n;
}

static struct kconn *idle_conn(k8s_client *c)
{
	for (struct kconn *k = c->conns; k; k = k->next)
		if (!k->dead && !k->stream && k->req == NULL)
			return k;
	return NULL;
}

/* The first queued request that can go now: a watch always can; others
 * need an idle pooled connection or room for a new one. */
static k8s_req *next_ready(k8s_client *c)
{
	int room = idle_conn(c) != NULL || pooled_conns(c) < (size_t)c->o.max_conns;

	for (k8s_req *r = c->qhead; r; r = r->next)
		if ((r->flags & K8S_REQ_STREAM) || room)
			return r;
	return NULL;
}

/* Each step may run callbacks that change the queue, so the scan restarts. */
static void pump(io_loop *loop, void *arg)
{
	k8s_client *c = arg;
	k8s_req *r;

	(void)loop;
	c->pump_scheduled = 0;
	for (reap(c); (r = next_ready(c)) != NULL; reap(c)) {
		struct kconn *k = NULL;
		char err[256];
		int stream = (r->flags & K8S_REQ_STREAM) != 0;

		if (!stream)
			k = idle_conn(c);
		q_remove(c, r);
		if (k == NULL)
			k = conn_new(c, stream, err, sizeof(err));
		if (k == NULL) {
			k8s_error e;
			count(c, r->verb, 0);
			transport_error(&e, err);
			attempt_failed(r, &e, 1);
			continue;
		}
		start_attempt(c, k, r);
	}
}

static void schedule_pump(k8s_client *c)
{
	if (c->pump_scheduled)
		return;
	if (io_loop_defer(c->loop, pump, c) == 0)
		c->pump_scheduled = 1;
}

/* --------------------------------------------------------------- public */

static void token_tick(io_loop *loop, void *arg)
{
	k8s_client *c = arg;
	char why[256];
	int rc = k8s_config_reload_token(c->cfg, why, sizeof(why));

	if (rc < 0)
		log_warn("Cannot re-read the API token", "error", why, NULL);
	else if (rc > 0)
		c->st.token_reloads++;
	io_timer_start(loop, &c->token_timer, c->o.token_refresh_ms);
}

k8s_client *k8s_client_new(io_loop *loop, k8s_config *cfg, const k8s_client_opts *opts)
{
	k8s_client *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->cfg = cfg;
	if (opts)
		c->o = *opts;
	if (c->o.max_conns <= 0)
		c->o.max_conns = 4;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 30000;
	if (c->o.max_retries == 0)
		c->o.max_retries = 4;
	else if (c->o.max_retries < 0)
		c->o.max_retries = 0;
	if (c->o.backoff_base_ms <= 0)
		c->o.backoff_base_ms = 250;
	if (c->o.backoff_cap_ms <= 0)
		c->o.backoff_cap_ms = 8000;
	if (c->o.token_refresh_ms <= 0)
		c->o.token_refresh_ms = 60000;
	c->addr = cfg->addr;
	c->addrlen = cfg->addrlen;
	c->resolver = io_resolver_new(loop, cfg->host, cfg->port, on_resolved, c);
	if (c->resolver == NULL) {
		free(c);
		return NULL;
	}
	io_timer_init(&c->token_timer, token_tick, c);
	if (cfg->token_file[0])
		io_timer_start(loop, &c->token_timer, c->o.token_refresh_ms);
	return c;
}

void k8s_client_free(k8s_client *c)
{
	if (c == NULL)
		return;
	io_timer_stop(c->loop, &c->token_timer);
	io_loop_cancel_defer(c->loop, pump, c);
	for (struct kconn *k = c->conns; k; k = k->next)
		conn_kill(k);
	while (c->all) {
		k8s_req *r = c->all;
		if (r->state == R_QUEUED)
			q_remove(c, r);
		req_free(r);
	}
	io_loop_cancel_defer(c->loop, pump, c);
	reap(c);
	io_resolver_free(c->resolver);
	free(c);
}

io_loop *k8s_client_loop(const k8s_client *c)
{
	return c->loop;
}

const k8s_config *k8s_client_config(const k8s_client *c)
{
	return c->cfg;
}

k8s_req *k8s__submit(k8s_client *c, const k8s_request *q, void (*free_ctx)(void *))
{
	k8s_req *r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->verb = q->verb;
	str_copy(r->method, sizeof(r->method), q->method);
	r->path = str_dup(str_from_cstr(q->path));
	if (q->body) {
		r->body = xmalloc(q->body_len);
		memcpy(r->body, q->body, q->body_len);
		r->body_len = q->body_len;
	}
	r->flags = q->flags;
	r->timeout_ms = q->timeout_ms;
	r->on_data = q->on_data;
	r->on_done = q->on_done;
	r->ctx = q->ctx;
	r->free_ctx = free_ctx;
	buf_init(&r->rbody);
	io_timer_init(&r->timer, retry_now, r);
	r->anext = c->all;
	if (c->all)
		c->all->aprev = r;
	c->all = r;
	k8s_backoff_init(&r->bo, c->o.backoff_base_ms, c->o.backoff_cap_ms, c->o.rnd, c->o.rnd_ctx);
	q_push(c, r, 0);
	return r;
}

k8s_req *k8s_submit(k8s_client *c, const k8s_request *q)
{
	return k8s__submit(c, q, NULL);
}

size_t k8s_client_drop_idle(k8s_client *c)
{
	size_t n = 0;

	for (struct kconn *k = c->conns; k; k = k->next) {
		if (!k->dead && !k->stream && k->req == NULL) {
			conn_kill(k);
			n++;
		}
	}
	return n;
}

void k8s_req_cancel(k8s_req *r)
{
	if (r == NULL)
		return;
	switch (r->state) {
	case R_DONE:
		return;	/* inside its own on_done: freed when that returns */
	case R_QUEUED:
		q_remove(r->c, r);
		break;
	case R_ACTIVE:
		if (r->conn) {
			r->conn->req = NULL;
			conn_kill(r->conn);
		}
		break;
	case R_BACKOFF:
		break;
	}
	req_free(r);
}
