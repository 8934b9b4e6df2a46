/*
 * Implementation notes.
 *
 * A call is QUEUED (waiting for a connection or a free stream), on the WIRE
 * (an h2 stream whose user pointer is the call), or ended and freed.  Queued
 * calls are opened by a deferred "pump" so that opening never happens from
 * deep inside another h2 callback's iteration; the pump runs after
 * connects, SETTINGS, stream closes and GOAWAY.
 *
 * The h2 stream's user pointer is cleared before a call resets its stream
 * or ends, so the close callback that follows finds nothing to do.
 *
 * A message callback may cancel its own call; the reader is still walking
 * the call's buffer then, so the cancel is recorded (in_cb) and carried out
 * once the reader returns.
 */
#include "grpc/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/transport.h"
#include "base/mem.h"
#include "h2/h2.h"
#include "io/net.h"

#ifndef CPLANE_VERSION
#define CPLANE_VERSION "dev"
#endif

#define MAX_MD 32

enum { CC_QUEUED = 1, CC_WIRE = 2 };

struct cconn {
	grpc_transport tr;
	grpc_client *cl;
	h2_conn *h2;
	int goaway;		/* no new streams here */
	int dying;
	int connected;
	int settled;		/* the server's first SETTINGS arrived: streams may open */
	uint64_t opened;	/* streams opened here */
	const char *lost;	/* status message for calls ended by the connection's loss */
	size_t nstreams;
	io_timer connect_timer;
	struct cconn *prev, *next;
};

struct grpc_ccall {
	grpc_client *cl;
	struct cconn *conn;
	int32_t sid;
	int state;
	int stream;		/* server-streaming: any number of messages */
	int retries;
	int got_headers;
	int http_status;
	int in_cb;
	int cancel_req;
	uint32_t nmsgs;
	char *path;
	buf req;		/* prefixed request message */
	buf md;			/* request metadata: name\0value\0 ... */
	size_t nmd;
	buf rmd;		/* response metadata: name\0value\0 ... */
	int64_t deadline;	/* io_loop_now() ms, -1 none */
	io_timer timer;
	grpc_reader rd;
	grpc_client_msg_cb on_msg;
	grpc_client_done_cb on_done;
	void *arg;
	grpc_ccall *prev, *next;	/* queue */
};

struct grpc_client {
	io_loop *loop;
	struct sockaddr_storage sa;
	socklen_t salen;
	grpc_client_opts opts;
	char authority[256];
	char ua[64];
	struct cconn *active;
	struct cconn *conns;
	grpc_ccall *q_head, *q_tail;
	size_t ncalls;
	uint64_t connects;
	int pump_queued;
	int freeing;
};

static void pump_kick(grpc_client *cl);

/* ---- call lifecycle ------------------------------------------------------------ */

static void q_unlink(grpc_client *cl, grpc_ccall *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		cl->q_head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		cl->q_tail = k->prev;
	k->prev = k->next = NULL;
}

static void q_push(grpc_client *cl, grpc_ccall *k, int front)
{
	k->state = CC_QUEUED;
	if (front) {
		k->prev = NULL;
		k->next = cl->q_head;
		if (cl->q_head)
			cl->q_head->prev = k;
		else
			cl->q_tail = k;
		cl->q_head = k;
	} else {
		k->next = NULL;
		k->prev = cl->q_tail;
		if (cl->q_tail)
			cl->q_tail->next = k;
		else
			cl->q_head = k;
		cl->q_tail = k;
	}
}

static void call_free(grpc_ccall *k)
{
	grpc_reader_free(&k->rd);
	buf_free(&k->req);
	buf_free(&k->md);
	buf_free(&k->rmd);
	free(k->path);
	free(k);
}

/* Detaches the call from its stream or queue (no wire action). */
static void call_detach(grpc_ccall *k)
{
	grpc_client *cl = k->cl;

	if (k->state == CC_QUEUED) {
		q_unlink(cl, k);
	} else if (k->state == CC_WIRE) {
		/* Also while the connection is being freed: its close callbacks are still to come. */
		h2_stream_set_user(k->conn->h2, k->sid, NULL);
		k->conn->nstreams--;
		pump_kick(cl);
	}
	k->state = 0;
	k->conn = NULL;
}

static void call_done(grpc_ccall *k, int status, const char *msg)
{
	grpc_client *cl = k->cl;

	if (k->state == 0)
		return;
	call_detach(k);
	io_timer_stop(cl->loop, &k->timer);
	cl->ncalls--;
	if (k->on_done)
		k->on_done(k, k->arg, status, msg ? msg : "");
	call_free(k);
}

/* Resets the call's stream (if on the wire) and ends it. */
static void call_abort(grpc_ccall *k, int status, const char *msg)
{
	if (k->state == CC_WIRE && !k->conn->dying) {
		struct cconn *cc = k->conn;
		h2_stream_set_user(cc->h2, k->sid, NULL);
		h2_submit_rst_stream(cc->h2, k->sid, H2_CANCEL);
		grpc_transport_kick(&cc->tr);
	}
	call_done(k, status, msg);
}

static void call_timer_cb(io_loop *loop, void *arg)
{
	(void)loop;
	call_abort(arg, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

/* ---- connections --------------------------------------------------------------- */

static void fail_queued(grpc_client *cl, int status, const char *msg)
{
	while (cl->q_head)
		call_done(cl->q_head, status, msg);
}

/*
 * A connection that ended before the server's SETTINGS: say what the target
 * is instead of reconnecting to it until the deadline (it will not turn
 * into an HTTP/2 server).  Returns 0 when it did not end that way.
 */
static const char no_settings_in_time[] = "no HTTP/2 settings from the target in time";

static int not_http2_reason(const struct cconn *cc, const char *reason, char *out, size_t outsz)
{
	const grpc_transport *t = &cc->tr;

	if (!cc->connected || cc->settled)
		return 0;
	if (t->nhead >= 5 && memcmp(t->head, "HTTP/", 5) == 0) {
		size_t n = 5;
		while (n < t->nhead && t->head[n] > ' ' && t->head[n] < 0x7f)
			n++;
		snprintf(out, outsz, "the target answered %.*s, not HTTP/2: not a gRPC server (h2c)", (int)n,
		    (const char *)t->head);
	} else if (t->nhead == 0 && reason == no_settings_in_time) {
		snprintf(out, outsz, "the target sent nothing: no HTTP/2 settings within %lld ms (not a gRPC server?)",
		    (long long)cc->cl->opts.connect_timeout_ms);
	} else if (t->nhead == 0) {
		snprintf(out, outsz, "connection closed before the HTTP/2 settings (%s)", reason);
	} else if (t->head[0] == 0x15 || t->head[0] == 0x16) {
		snprintf(out, outsz, "the target answered with TLS, not plaintext HTTP/2");
	} else {
		snprintf(out, outsz, "the target's first bytes are not HTTP/2 (%s)", reason);
	}
	return 1;
}

static void conn_destroy(struct cconn *cc, const char *reason)
{
	grpc_client *cl = cc->cl;
	/* a TLS handshake that failed is a connect that failed: queued calls end, not retry */
	int was_connected = cc->connected && (cc->tr.tls.client == NULL || tls_client_handshake_done(cc->tr.tls.client));
	char msg[160];
	int not_h2;

	cc->dying = 1;
	if (cl->active == cc)
		cl->active = NULL;
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		cl->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	io_timer_stop(cl->loop, &cc->connect_timer);
	grpc_transport_stop(&cc->tr);
	not_h2 = not_http2_reason(cc, reason, msg, sizeof(msg));
	if (!not_h2)
		snprintf(msg, sizeof(msg), "%s: %s", was_connected ? "connection lost" : "connect failed", reason);
	cc->lost = msg;
	h2_conn_free(cc->h2);
	tls_client_free(cc->tr.tls.client);
	free(cc);
	if (cl->freeing)
		return;
	if ((!was_connected || not_h2) && cl->active == NULL)
		fail_queued(cl, GRPC_UNAVAILABLE, msg);
	else
		pump_kick(cl);
}

static void conn_on_close(grpc_transport *t, const char *reason)
{
	conn_destroy(t->owner, reason);
}

static void conn_on_connect(grpc_transport *t, int err)
{
	struct cconn *cc = t->owner;

	if (err == 0) {
		/* connect_timer keeps running until the server's SETTINGS (cb_settings). */
		cc->connected = 1;
		pump_kick(cc->cl);
	}
}

static void connect_timeout_cb(io_loop *loop, void *arg)
{
	struct cconn *cc = arg;

	(void)loop;
	conn_destroy(cc, cc->connected ? no_settings_in_time : "connect timed out");
}

static const h2_callbacks client_cbs;

/* A client engine for one connection, offering ALPN h2 and the client certificate if any. */
static int tls_setup(grpc_client *cl, struct cconn *cc)
{
	static const char *const h2[] = {"h2"};
	char err[256];

	cc->tr.tls.client = tls_client_new(cl->opts.tls_anchors, cl->opts.tls_server_name, err, sizeof(err));
	if (cc->tr.tls.client == NULL)
		return -1;
	tls_client_set_alpn(cc->tr.tls.client, h2, 1);
	if (cl->opts.tls_chain != NULL && cl->opts.tls_key != NULL &&
	    tls_client_set_identity(cc->tr.tls.client, cl->opts.tls_chain, cl->opts.tls_key, err, sizeof(err)) < 0) {
		tls_client_free(cc->tr.tls.client);
		cc->tr.tls.client = NULL;
		return -1;
	}
	return 0;
}

static struct cconn *conn_new(grpc_client *cl)
{
	struct cconn *cc = xcalloc(1, sizeof(*cc));
	h2_settings st;
	int fd;

	cc->cl = cl;
	h2_settings_default(&st);
	st.auto_consume = 1;	/* responses are bounded by max_recv_msg per message */
	cc->h2 = h2_conn_new(H2_ROLE_CLIENT, &st, &client_cbs, cc);
	if (cc->h2 == NULL) {
		free(cc);
		return NULL;
	}
	if (cl->opts.tls_anchors != NULL && tls_setup(cl, cc) < 0) {
		h2_conn_free(cc->h2);
		free(cc);
		fail_queued(cl, GRPC_UNAVAILABLE, "tls setup failed");
		return NULL;
	}
	cl->connects++;
	fd = io_connect((const struct sockaddr *)&cl->sa, cl->salen);
	cc->tr.owner = cc;
	cc->tr.on_close = conn_on_close;
	cc->tr.on_connect = conn_on_connect;
	if (fd < 0 || grpc_transport_start(&cc->tr, cl->loop, fd, cc->h2, 1) < 0) {
		if (fd >= 0)
			grpc_transport_stop(&cc->tr);
		h2_conn_free(cc->h2);
		tls_client_free(cc->tr.tls.client);
		free(cc);
		fail_queued(cl, GRPC_UNAVAILABLE, "connect failed");
		return NULL;
	}
	io_timer_init(&cc->connect_timer, connect_timeout_cb, cc);
	io_timer_start(cl->loop, &cc->connect_timer, cl->opts.connect_timeout_ms);
	cc->next = cl->conns;
	if (cl->conns)
		cl->conns->prev = cc;
	cl->conns = cc;
	cl->active = cc;
	return cc;
}

/* ---- opening streams ----------------------------------------------------------- */

/* 1: opened (or ended); 0: no stream available now, keep it queued; -1: connection unusable. */
static int open_stream(struct cconn *cc, grpc_ccall *k)
{
	grpc_client *cl = cc->cl;
	h2_field f[4 + MAX_MD];
	char tmo[GRPC_TIMEOUT_BUFSZ];
	size_t n = 0;
	int32_t sid;
	const char *p = (const char *)buf_data(&k->md);

	f[n++] = (h2_field)H2_FIELD_LIT("content-type", "application/grpc");
	f[n++] = (h2_field)H2_FIELD_LIT("te", "trailers");
	f[n++] = (h2_field){"user-agent", 10, cl->ua, strlen(cl->ua), 0};
	if (k->deadline >= 0) {
		int64_t left = k->deadline - io_loop_now(cl->loop);
		if (left <= 0) {
			call_done(k, GRPC_DEADLINE_EXCEEDED, "deadline exceeded before the call started");
			return 1;
		}
		f[n++] = (h2_field){"grpc-timeout", 12, tmo, (size_t)grpc_timeout_format(left, tmo), 0};
	}
	for (size_t i = 0; i < k->nmd; i++) {
		size_t nl = strlen(p), vl = strlen(p + nl + 1);
		f[n++] = (h2_field){p, nl, p + nl + 1, vl, 0};
		p += nl + vl + 2;
	}
	sid = h2_submit_request(cc->h2, "POST", cl->opts.tls_anchors ? "https" : "http", cl->authority, k->path, f, n, 0, k);
	if (sid == H2_ERR_CONCURRENCY)
		return 0;
	if (sid == H2_ERR_NO_IDS || sid == H2_ERR_CLOSING || sid == H2_ERR_CONN) {
		cc->goaway = 1;
		return -1;
	}
	if (sid < 0) {
		call_done(k, GRPC_INTERNAL, h2_strerror(sid));
		return 1;
	}
	q_unlink(cl, k);
	k->state = CC_WIRE;
	k->conn = cc;
	k->sid = sid;
	cc->nstreams++;
	cc->opened++;
	if (h2_submit_data(cc->h2, sid, buf_data(&k->req), buf_len(&k->req), 1) < 0) {
		call_abort(k, GRPC_INTERNAL, "cannot queue the request");
		return 1;
	}
	grpc_transport_kick(&cc->tr);	/* k->req is kept until the server answers: a refused stream is retried */
	return 1;
}

static void pump_cb(io_loop *loop, void *arg)
{
	grpc_client *cl = arg;

	(void)loop;
	cl->pump_queued = 0;
	while (cl->q_head && !cl->freeing) {
		struct cconn *cc = cl->active;
		int rc;
		if (cc && cc->goaway) {
			cl->active = NULL;
			if (cc->opened == 0) {
				/* GOAWAY before any stream: the server is going away; do not spin. */
				fail_queued(cl, GRPC_UNAVAILABLE, "the server sent GOAWAY");
				return;
			}
			cc = NULL;
		}
		if (cc == NULL && (cc = conn_new(cl)) == NULL)
			return;
		if (!cc->connected || !cc->settled)
			return;	/* conn_on_connect / cb_settings pump again */
		if (!h2_conn_can_open_stream(cc->h2)) {
			if (h2_conn_open_streams(cc->h2) > 0 && !cc->goaway)
				return;	/* at the peer's concurrency limit: a stream close pumps again */
			if (cc->opened == 0) {
				/* A fresh connection that takes no stream: do not spin reconnecting. */
				fail_queued(cl, GRPC_UNAVAILABLE, "the server accepts no streams");
				return;
			}
			cc->goaway = 1;	/* ids exhausted or closing: next connection */
			continue;
		}
		rc = open_stream(cc, cl->q_head);
		if (rc == 0)
			return;
		if (rc < 0)
			continue;
	}
}

static void pump_kick(grpc_client *cl)
{
	if (cl->pump_queued || cl->freeing || cl->q_head == NULL)
		return;
	if (io_loop_defer(cl->loop, pump_cb, cl) == 0)
		cl->pump_queued = 1;
}

/* ---- h2 callbacks -------------------------------------------------------------- */

#define NAME_IS(f, lit) ((f)->name_len == sizeof(lit) - 1 && memcmp((f)->name, lit, sizeof(lit) - 1) == 0)

static void record_md(grpc_ccall *k, const h2_headers *h)
{
	for (size_t i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		if (buf_reserve(&k->rmd, f->name_len + f->value_len + 2) < 0)
			return;
		buf_append(&k->rmd, f->name, f->name_len);
		buf_append_byte(&k->rmd, 0);
		buf_append(&k->rmd, f->value, f->value_len);
		buf_append_byte(&k->rmd, 0);
	}
}

static void finish_from_fields(grpc_ccall *k, const h2_headers *h)
{
	const h2_field *st = NULL, *msg = NULL;
	char text[1024];
	size_t tl = 0;
	int status;

	for (size_t i = 0; i < h->nfields; i++) {
		if (NAME_IS(&h->fields[i], "grpc-status"))
			st = &h->fields[i];
		else if (NAME_IS(&h->fields[i], "grpc-message"))
			msg = &h->fields[i];
	}
	if (msg) {
		size_t n = msg->value_len < sizeof(text) - 1 ? msg->value_len : sizeof(text) - 1;
		tl = grpc_percent_decode(msg->value, n, text);
	}
	text[tl] = '\0';
	if (st) {
		status = grpc_status_parse(st->value, st->value_len);
		if (status < 0) {
			status = GRPC_UNKNOWN;
			snprintf(text, sizeof(text), "malformed grpc-status");
		}
	} else if (k->http_status != 200) {
		status = grpc_status_from_http(k->http_status);
		snprintf(text, sizeof(text), "HTTP status %d without grpc-status", k->http_status);
	} else {
		status = GRPC_INTERNAL;
		snprintf(text, sizeof(text), "response ended without grpc-status");
	}
	if (status == GRPC_OK && !grpc_reader_idle(&k->rd)) {
		status = GRPC_INTERNAL;
		snprintf(text, sizeof(text), "response ended inside a message");
	} else if (status == GRPC_OK && !k->stream && k->nmsgs != 1) {
		status = GRPC_INTERNAL;
		snprintf(text, sizeof(text), "unary response carried %u messages", k->nmsgs);
	}
	call_done(k, status, text);
}

static int cb_headers(h2_conn *h2, void *user, int32_t sid, void *stream_user, const h2_headers *h)
{
	grpc_ccall *k = stream_user;

	(void)h2;
	(void)user;
	(void)sid;
	if (k == NULL)
		return 0;
	if (!h->is_trailers) {
		k->got_headers = 1;
		k->http_status = h->status;
		buf_free(&k->req);	/* processed: no retry from here on */
	}
	record_md(k, h);
	if (h->end_stream)
		finish_from_fields(k, h);
	return 0;
}

static int on_resp_msg(void *ctx, const uint8_t *msg, size_t len)
{
	grpc_ccall *k = ctx;

	k->nmsgs++;
	if (!k->stream && k->nmsgs > 1)
		return 1;
	if (k->on_msg && k->on_msg(k, k->arg, msg, len) != 0)
		k->cancel_req = 1;
	return k->cancel_req;
}

static int cb_data(h2_conn *h2, void *user, int32_t sid, void *stream_user, const uint8_t *data,
    size_t len, int end_stream)
{
	grpc_ccall *k = stream_user;
	int64_t rc;

	(void)h2;
	(void)user;
	(void)sid;
	(void)end_stream;
	if (k == NULL || len == 0)
		return 0;
	if (k->http_status != 200) {
		call_abort(k, grpc_status_from_http(k->http_status), "non-gRPC response");
		return 0;
	}
	k->in_cb = 1;
	rc = grpc_reader_feed(&k->rd, data, len, on_resp_msg, k);
	k->in_cb = 0;
	if (k->cancel_req)
		call_abort(k, GRPC_CANCELLED, "cancelled");
	else if (rc == GRPC_ERR_TOO_LARGE)
		call_abort(k, GRPC_RESOURCE_EXHAUSTED, "response message larger than max");
	else if (rc == GRPC_ERR_CALLBACK)
		call_abort(k, GRPC_INTERNAL, "unary response carried more than one message");
	else if (rc < 0)
		call_abort(k, GRPC_INTERNAL, grpc_strerror((int)rc));
	return 0;
}

static void cb_stream_close(h2_conn *h2, void *user, int32_t sid, void *stream_user,
    uint32_t error_code, int remote)
{
	struct cconn *cc = user;
	grpc_ccall *k = stream_user;
	char msg[160];

	(void)h2;
	(void)sid;
	(void)remote;
	if (k == NULL)
		return;
	if (error_code == H2_REFUSED_STREAM && !k->got_headers && k->retries == 0 && !cc->cl->freeing) {
		/* Never processed by the server: try once more on a (new) connection. */
		call_detach(k);
		k->retries++;
		grpc_reader_reset(&k->rd);
		q_push(cc->cl, k, 1);
		pump_kick(cc->cl);
		return;
	}
	if (cc->cl->freeing) {
		call_done(k, GRPC_CANCELLED, "client closed");
		return;
	}
	if (cc->dying) {
		call_done(k, GRPC_UNAVAILABLE, cc->lost);
		return;
	}
	switch (error_code) {
	case H2_CANCEL: call_done(k, GRPC_CANCELLED, "stream cancelled by the server"); return;
	case H2_REFUSED_STREAM: call_done(k, GRPC_UNAVAILABLE, "stream refused by the server"); return;
	case H2_ENHANCE_YOUR_CALM: call_done(k, GRPC_RESOURCE_EXHAUSTED, "ENHANCE_YOUR_CALM"); return;
	default:
		snprintf(msg, sizeof(msg), "stream reset: %s", h2_error_code_str(error_code));
		call_done(k, error_code == H2_NO_ERROR ? GRPC_INTERNAL : GRPC_UNAVAILABLE, msg);
	}
}

static void cb_goaway(h2_conn *h2, void *user, uint32_t last_stream_id, uint32_t error_code,
    const uint8_t *debug, size_t debug_len)
{
	struct cconn *cc = user;

	(void)h2;
	(void)last_stream_id;
	(void)error_code;
	(void)debug;
	(void)debug_len;
	cc->goaway = 1;	/* the pump moves new calls to a new connection */
	pump_kick(cc->cl);
}

static void cb_settings(h2_conn *h2, void *user)
{
	struct cconn *cc = user;

	(void)h2;
	cc->settled = 1;
	io_timer_stop(cc->cl->loop, &cc->connect_timer);
	pump_kick(cc->cl);
}

static const h2_callbacks client_cbs = {
	.on_headers = cb_headers,
	.on_data = cb_data,
	.on_stream_close = cb_stream_close,
	.on_goaway = cb_goaway,
	.on_settings = cb_settings,
};

/* ---- API ----------------------------------------------------------------------- */

void grpc_client_opts_default(grpc_client_opts *o)
{
	o->authority = NULL;
	o->max_recv_msg = GRPC_DEFAULT_MAX_MSG;
	o->connect_timeout_ms = 5000;
	o->user_agent = NULL;
	o->tls_anchors = NULL;
	o->tls_server_name = NULL;
	o->tls_chain = NULL;
	o->tls_key = NULL;
}

grpc_client *grpc_client_new(io_loop *loop, const struct sockaddr *sa, socklen_t salen,
    const grpc_client_opts *opts)
{
	grpc_client *cl;

	if (salen > sizeof(cl->sa))
		return NULL;
	cl = xcalloc(1, sizeof(*cl));
	cl->loop = loop;
	memcpy(&cl->sa, sa, salen);
	cl->salen = salen;
	if (opts)
		cl->opts = *opts;
	else
		grpc_client_opts_default(&cl->opts);
	if (cl->opts.authority)
		snprintf(cl->authority, sizeof(cl->authority), "%s", cl->opts.authority);
	else
		io_format_addr(sa, cl->authority, sizeof(cl->authority));
	snprintf(cl->ua, sizeof(cl->ua), "%s",
	    cl->opts.user_agent ? cl->opts.user_agent : "cplane/" CPLANE_VERSION);
	cl->opts.authority = NULL;
	cl->opts.user_agent = NULL;
	return cl;
}

void grpc_client_free(grpc_client *cl)
{
	if (cl == NULL)
		return;
	cl->freeing = 1;
	if (cl->pump_queued)
		io_loop_cancel_defer(cl->loop, pump_cb, cl);
	fail_queued(cl, GRPC_CANCELLED, "client closed");
	while (cl->conns)
		conn_destroy(cl->conns, "client closed");
	free(cl);
}

static grpc_ccall *start(grpc_client *cl, const char *path, const uint8_t *req, size_t len,
    int prefixed, int stream, const grpc_call_opts *o, grpc_client_msg_cb on_msg,
    grpc_client_done_cb on_done, void *arg)
{
	grpc_ccall *k;

	if (o && o->nmd > MAX_MD)
		return NULL;
	k = xcalloc(1, sizeof(*k));
	k->cl = cl;
	k->stream = stream;
	k->deadline = -1;
	k->on_msg = on_msg;
	k->on_done = on_done;
	k->arg = arg;
	grpc_reader_init(&k->rd, cl->opts.max_recv_msg);
	io_timer_init(&k->timer, call_timer_cb, k);
	k->path = xstrdup(path);
	if (prefixed ? buf_append(&k->req, req, len) < 0 : grpc_msg_append(&k->req, req, len) < 0)
		goto fail;
	for (size_t i = 0; o && i < o->nmd; i++) {
		const grpc_metadata *m = &o->md[i];
		if (buf_append(&k->md, m->name, m->name_len) < 0 || buf_append_byte(&k->md, 0) < 0 ||
		    buf_append(&k->md, m->value, m->value_len) < 0 || buf_append_byte(&k->md, 0) < 0)
			goto fail;
		k->nmd++;
	}
	if (o && o->timeout_ms > 0) {
		k->deadline = io_loop_now(cl->loop) + o->timeout_ms;
		io_timer_start_at(cl->loop, &k->timer, k->deadline);
	}
	cl->ncalls++;
	q_push(cl, k, 0);
	pump_kick(cl);
	return k;
fail:
	call_free(k);
	return NULL;
}

grpc_ccall *grpc_client_unary(grpc_client *c, const char *path, const uint8_t *req, size_t len,
    const grpc_call_opts *opts, grpc_client_msg_cb on_msg, grpc_client_done_cb on_done, void *arg)
{
	return start(c, path, req, len, 0, 0, opts, on_msg, on_done, arg);
}

grpc_ccall *grpc_client_stream(grpc_client *c, const char *path, const uint8_t *req, size_t len,
    const grpc_call_opts *opts, grpc_client_msg_cb on_msg, grpc_client_done_cb on_done, void *arg)
{
	return start(c, path, req, len, 0, 1, opts, on_msg, on_done, arg);
}

grpc_ccall *grpc_client_call_pb(grpc_client *c, const char *path, const ProtobufCMessage *msg,
    int stream, const grpc_call_opts *opts, grpc_client_msg_cb on_msg, grpc_client_done_cb on_done,
    void *arg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *p;
	grpc_ccall *k;

	if (len > UINT32_MAX)
		return NULL;
	p = xmalloc(GRPC_PREFIX_LEN + len);
	grpc_prefix_write(p, (uint32_t)len);
	protobuf_c_message_pack(msg, p + GRPC_PREFIX_LEN);
	k = start(c, path, p, GRPC_PREFIX_LEN + len, 1, stream, opts, on_msg, on_done, arg);
	free(p);
	return k;
}

void grpc_client_cancel(grpc_ccall *k)
{
	if (k == NULL || k->state == 0)
		return;
	if (k->in_cb) {
		k->cancel_req = 1;
		return;
	}
	call_abort(k, GRPC_CANCELLED, "cancelled by the client");
}

const char *grpc_ccall_metadata_get(const grpc_ccall *k, const char *name, size_t *len)
{
	const char *p = (const char *)buf_data(&k->rmd), *end = p + buf_len(&k->rmd);

	while (p < end) {
		size_t nl = strlen(p);
		const char *v = p + nl + 1;
		size_t vl = strlen(v);
		if (strcmp(p, name) == 0) {
			if (len)
				*len = vl;
			return v;
		}
		p = v + vl + 1;
	}
	return NULL;
}

size_t grpc_client_active_calls(const grpc_client *c)
{
	return c->ncalls;
}

uint64_t grpc_client_connects(const grpc_client *c)
{
	return c->connects;
}
