/*
 * Implementation notes.
 *
 * One grpc_sconn per accepted socket: a grpc_transport (socket ↔ h2 pump)
 * plus the h2_conn in server role.  Each gRPC stream that passes header
 * validation gets a grpc_call from the server's pool, set as the h2 stream's
 * user pointer; rejected streams get a Trailers-Only answer at once and no
 * call.  The stream's user pointer is cleared *before* the call ends its
 * stream or is released, so an h2 callback never sees a stale call.
 *
 * Calls whose stream went away while a handler still holds them are
 * "zombies" (flag C_GONE): unlinked from their connection, kept on the
 * server's zombie list until the handler finishes them, so a handler
 * answering late never touches freed memory.
 *
 * The unpacked request lives in a per-call arena handed to protobuf-c as its
 * allocator; resetting the arena replaces protobuf_c_message_free_unpacked().
 * The arena keeps its block across calls, so steady-state unary calls do not
 * allocate.
 */
#include "grpc/server.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc/transport.h"
#include "h2/h2.h"
#include "io/net.h"

#ifndef CPLANE_VERSION
#define CPLANE_VERSION "dev"
#endif

#define MAX_OUT_MD 16
/* Idle calls kept for reuse, and what each may keep: bounds the pool at about 256 x 20 KiB. */
#define POOL_MAX_IDLE 256
#define KEEP_BUF_BYTES 4096u
#define ARENA_MAX (64u * 1024)
#define HARD_CLOSE_MS 1000

enum {
	C_DISPATCHED = 1u,	/* handler has run */
	C_HEADERS_SENT = 2u,
	C_GONE = 4u,		/* stream gone; cancel_status says why */
	C_REQ_DONE = 8u,	/* client half-closed */
	C_HOOK_RAN = 16u,
	C_ZOMBIE = 32u,		/* on the server's zombie list */
};

typedef union arena_big {
	union arena_big *next;
	max_align_t align;
} arena_big;

typedef struct arena {
	uint8_t *base;
	size_t cap, used;
	arena_big *big;
	size_t big_total;
} arena;

struct method_ent {
	char *path;
	size_t path_len;
	const ProtobufCMessageDescriptor *req;
	grpc_handler fn;
	void *arg;
};

struct out_md {
	uint32_t name_off, name_len, value_off, value_len;
	int trailing;
};

struct grpc_call {
	grpc_server *srv;
	grpc_sconn *conn;	/* NULL once gone */
	int32_t sid;
	unsigned flags;
	int cancel_status;
	const struct method_ent *m;
	grpc_reader rd;
	size_t unconsumed;	/* DATA bytes held in a partial message, not yet returned to the windows */
	buf req;
	uint32_t nreq;
	int64_t deadline;
	io_timer timer;
	buf md_store;
	grpc_metadata *md;
	size_t nmd, md_cap;
	buf out_store;
	struct out_md out[MAX_OUT_MD];
	unsigned nout;
	ProtobufCMessage *req_msg;
	arena ar;
	ProtobufCAllocator alloc;
	grpc_cancel_hook hook;
	void *hook_arg;
	grpc_writable_cb wr;
	void *wr_arg;
	void *user;
	grpc_call *prev, *next;
};

struct grpc_sconn {
	grpc_transport tr;
	grpc_server *srv;
	h2_conn *h2;
	grpc_call *calls;
	int dying;
	grpc_sconn *prev, *next;
};

struct grpc_server {
	io_loop *loop;
	grpc_server_opts opts;
	struct method_ent *methods;
	size_t nmethods;
	int listen_fd;
	grpc_sconn *conns;
	grpc_call *free_calls;
	size_t nfree;
	grpc_call *zombies;
	buf scratch;		/* response message being framed */
	buf msgbuf;		/* percent-encoded grpc-message */
	grpc_server_stats stats;
	int shutting;
	int done_called;
	io_timer grace_timer, hard_timer;
	grpc_shutdown_cb done;
	void *done_arg;
	void *ext;
	void (*free_ext)(void *);
	void (*shutdown_hook)(grpc_server *, void *);
};

static const h2_field F_CT_GRPC = H2_FIELD_LIT("content-type", "application/grpc");

/* ---- arena allocator for protobuf-c ---------------------------------------- */

static void *arena_alloc(void *ad, size_t size)
{
	arena *a = ad;
	arena_big *b;

	size = (size + 15) & ~(size_t)15;
	if (a->cap - a->used >= size) {
		void *p = a->base + a->used;
		a->used += size;
		return p;
	}
	b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = a->big;
	a->big = b;
	a->big_total += size;
	return b + 1;
}

static void arena_free(void *ad, void *p)
{
	(void)ad;
	(void)p;	/* released all at once by arena_reset() */
}

static void arena_reset(arena *a)
{
	size_t want = a->used + a->big_total;

	while (a->big) {
		arena_big *n = a->big->next;
		free(a->big);
		a->big = n;
	}
	/* Grow the block to what the last request needed, so the next one fits. */
	if (a->big_total && want <= ARENA_MAX) {
		uint8_t *p = malloc(want);
		if (p) {
			free(a->base);
			a->base = p;
			a->cap = want;
		}
	}
	a->big_total = 0;
	a->used = 0;
}

/* ---- call pool ----------------------------------------------------------------- */

static void call_timer_cb(io_loop *loop, void *arg);

static grpc_call *call_get(grpc_server *s)
{
	grpc_call *c = s->free_calls;

	if (c) {
		s->free_calls = c->next;
		s->nfree--;
	} else {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return NULL;
		grpc_reader_init(&c->rd, s->opts.max_recv_msg);
		c->alloc.alloc = arena_alloc;
		c->alloc.free = arena_free;
		c->alloc.allocator_data = &c->ar;
		io_timer_init(&c->timer, call_timer_cb, c);
	}
	c->srv = s;
	c->flags = 0;
	c->cancel_status = GRPC_OK;
	c->deadline = -1;
	c->prev = c->next = NULL;
	return c;
}

static void shrink(buf *b)
{
	if (b->cap > KEEP_BUF_BYTES)
		buf_free(b);
	else
		buf_reset(b);
}

static void call_unlink(grpc_call *c)
{
	if (c->flags & C_ZOMBIE) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->srv->zombies = c->next;
	} else if (c->conn) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->conn->calls = c->next;
	} else {
		return;
	}
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->flags &= ~C_ZOMBIE;
}

static void call_destroy(grpc_call *c)
{
	arena_reset(&c->ar);
	free(c->ar.base);
	grpc_reader_free(&c->rd);
	buf_free(&c->req);
	buf_free(&c->md_store);
	buf_free(&c->out_store);
	free(c->md);
	free(c);
}

static void call_release(grpc_call *c)
{
	grpc_server *s = c->srv;

	io_timer_stop(s->loop, &c->timer);
	if (c->unconsumed && c->conn && !c->conn->dying)
		h2_conn_consume(c->conn->h2, c->sid, c->unconsumed);
	c->unconsumed = 0;
	call_unlink(c);
	c->conn = NULL;
	if (c->req_msg) {
		c->req_msg = NULL;
		arena_reset(&c->ar);
	}
	if (c->md_cap > 32) {
		free(c->md);
		c->md = NULL;
		c->md_cap = 0;
	}
	if (c->ar.cap > KEEP_BUF_BYTES) {
		free(c->ar.base);
		c->ar.base = NULL;
		c->ar.cap = 0;
	}
	grpc_reader_reset(&c->rd);
	shrink(&c->rd.body);
	shrink(&c->req);
	shrink(&c->md_store);
	shrink(&c->out_store);
	c->nreq = 0;
	c->nmd = 0;
	c->nout = 0;
	c->hook = NULL;
	c->wr = NULL;
	c->user = NULL;
	c->m = NULL;
	if (s->nfree >= POOL_MAX_IDLE) {
		call_destroy(c);
		return;
	}
	c->next = s->free_calls;
	s->free_calls = c;
	s->nfree++;
}

/* ---- responses ---------------------------------------------------------------- */

static size_t add_out_md(const grpc_call *c, h2_field *f, size_t n, int trailing)
{
	for (unsigned i = 0; i < c->nout; i++) {
		const struct out_md *o = &c->out[i];
		if (trailing >= 0 && o->trailing != trailing)
			continue;
		f[n].name = (const char *)buf_data(&c->out_store) + o->name_off;
		f[n].name_len = o->name_len;
		f[n].value = (const char *)buf_data(&c->out_store) + o->value_off;
		f[n].value_len = o->value_len;
		f[n].flags = 0;
		n++;
	}
	return n;
}

/* Fields carrying a status: grpc-status, grpc-message when non-empty. */
static size_t status_fields(grpc_server *s, h2_field *f, size_t n, char code[4], int status,
    const char *msg)
{
	int len = snprintf(code, 4, "%d", status < 0 || status > 999 ? GRPC_UNKNOWN : status);

	f[n].name = "grpc-status";
	f[n].name_len = 11;
	f[n].value = code;
	f[n].value_len = (size_t)len;
	f[n].flags = 0;
	n++;
	if (msg && *msg) {
		buf_reset(&s->msgbuf);
		if (grpc_percent_encode(&s->msgbuf, msg, strlen(msg)) == 0) {
			f[n].name = "grpc-message";
			f[n].name_len = 12;
			f[n].value = (const char *)buf_data(&s->msgbuf);
			f[n].value_len = buf_len(&s->msgbuf);
			f[n].flags = 0;
			n++;
		}
	}
	return n;
}

/* Trailers-Only answer on a stream that has no call (or whose call sent nothing). */
static void reject_stream(grpc_sconn *sc, int32_t sid, int status, const char *msg, int req_done,
    int accept_identity)
{
	h2_field f[4];
	char code[4];
	size_t n = 0;

	f[n++] = F_CT_GRPC;
	n = status_fields(sc->srv, f, n, code, status, msg);
	if (accept_identity) {
		static const h2_field ae = H2_FIELD_LIT("grpc-accept-encoding", "identity");
		f[n++] = ae;
	}
	h2_submit_response(sc->h2, sid, 200, f, n, 1);
	if (!req_done)
		h2_submit_rst_stream(sc->h2, sid, H2_NO_ERROR);
	sc->srv->stats.calls_rejected++;
	grpc_transport_kick(&sc->tr);
}

/* Ends a live call's stream with status (trailers, or Trailers-Only if nothing was sent). */
static void call_end_stream(grpc_call *c, int status, const char *msg, int accept_identity)
{
	static const h2_field ae = H2_FIELD_LIT("grpc-accept-encoding", "identity");
	grpc_sconn *sc = c->conn;
	h2_field f[4 + MAX_OUT_MD];
	char code[4];
	size_t n = 0;

	h2_stream_set_user(sc->h2, c->sid, NULL);
	if (!(c->flags & C_HEADERS_SENT)) {
		f[n++] = F_CT_GRPC;
		n = status_fields(c->srv, f, n, code, status, msg);
		n = add_out_md(c, f, n, -1);
		if (accept_identity)
			f[n++] = ae;
		h2_submit_response(sc->h2, c->sid, 200, f, n, 1);
		c->flags |= C_HEADERS_SENT;
	} else {
		n = status_fields(c->srv, f, n, code, status, msg);
		n = add_out_md(c, f, n, 1);
		h2_submit_trailers(sc->h2, c->sid, f, n);
	}
	if (!(c->flags & C_REQ_DONE))
		h2_submit_rst_stream(sc->h2, c->sid, H2_NO_ERROR);
	grpc_transport_kick(&sc->tr);
}

/* The stream is gone (or ended by the server itself) while the call lives. */
static void call_gone(grpc_call *c, int status)
{
	grpc_server *s = c->srv;

	c->flags |= C_GONE;
	c->cancel_status = status;
	io_timer_stop(s->loop, &c->timer);
	if (c->unconsumed && c->conn && !c->conn->dying)
		h2_conn_consume(c->conn->h2, c->sid, c->unconsumed);
	c->unconsumed = 0;
	call_unlink(c);
	c->conn = NULL;
	if (!(c->flags & C_DISPATCHED)) {
		call_release(c);
		return;
	}
	s->stats.calls_cancelled++;
	if (status == GRPC_DEADLINE_EXCEEDED)
		s->stats.calls_deadline++;
	c->flags |= C_ZOMBIE;
	c->next = s->zombies;
	c->prev = NULL;
	if (s->zombies)
		s->zombies->prev = c;
	s->zombies = c;
	if (c->hook && !(c->flags & C_HOOK_RAN)) {
		c->flags |= C_HOOK_RAN;
		c->hook(c, c->hook_arg);	/* may finish (release) c */
	}
}

/* The server ends a live call itself (deadline, shutdown, bad request). */
static void call_abort(grpc_call *c, int status, const char *msg)
{
	grpc_sconn *sc = c->conn;

	if ((c->flags & C_HEADERS_SENT) && h2_stream_queued_bytes(sc->h2, c->sid) > 0) {
		/*
		 * A stream whose reader is behind: trailers would wait behind its
		 * queued messages, so reset it and free them now.
		 */
		h2_stream_set_user(sc->h2, c->sid, NULL);
		h2_submit_rst_stream(sc->h2, c->sid, H2_CANCEL);
		grpc_transport_kick(&sc->tr);
		call_gone(c, status);
		return;
	}
	call_end_stream(c, status, msg, status == GRPC_UNIMPLEMENTED);
	if (!(c->flags & C_DISPATCHED))
		c->srv->stats.calls_rejected++;
	call_gone(c, status);
}

static void call_timer_cb(io_loop *loop, void *arg)
{
	grpc_call *c = arg;

	(void)loop;
	if (c->conn)
		call_abort(c, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

/* ---- requests ----------------------------------------------------------------- */

static int is_grpc_content_type(const char *v, size_t n)
{
	if (n < 16 || memcmp(v, "application/grpc", 16) != 0)
		return 0;
	v += 16;
	n -= 16;
	if (n == 0 || v[0] == ';')
		return 1;
	return n >= 6 && memcmp(v, "+proto", 6) == 0 && (n == 6 || v[6] == ';');
}

#define NAME_IS(f, lit) ((f)->name_len == sizeof(lit) - 1 && memcmp((f)->name, lit, sizeof(lit) - 1) == 0)
#define VALUE_IS(f, lit) ((f)->value_len == sizeof(lit) - 1 && memcmp((f)->value, lit, sizeof(lit) - 1) == 0)

static const struct method_ent *find_method(const grpc_server *s, const char *p, size_t n)
{
	for (size_t i = 0; i < s->nmethods; i++)
		if (s->methods[i].path_len == n && memcmp(s->methods[i].path, p, n) == 0)
			return &s->methods[i];
	return NULL;
}

/* "unknown service X" or "unknown method M for service X", as grpc-go words it. */
static void unknown_method_msg(const grpc_server *s, const char *p, size_t n, char *out, size_t outsz)
{
	const char *slash = n > 1 ? memchr(p + 1, '/', n - 1) : NULL;
	size_t svc_len;

	if (slash == NULL) {
		snprintf(out, outsz, "malformed method name: \"%.*s\"", (int)(n > 200 ? 200 : n), p);
		return;
	}
	svc_len = (size_t)(slash - p);	/* includes the leading '/' */
	for (size_t i = 0; i < s->nmethods; i++) {
		if (s->methods[i].path_len > svc_len && memcmp(s->methods[i].path, p, svc_len + 1) == 0) {
			snprintf(out, outsz, "unknown method %.*s for service %.*s",
			    (int)(n - svc_len - 1 > 200 ? 200 : n - svc_len - 1), slash + 1,
			    (int)(svc_len - 1 > 200 ? 200 : svc_len - 1), p + 1);
			return;
		}
	}
	snprintf(out, outsz, "unknown service %.*s", (int)(svc_len - 1 > 200 ? 200 : svc_len - 1), p + 1);
}

static void plain_http(grpc_sconn *sc, int32_t sid, const h2_headers *h)
{
	static const h2_field ct = H2_FIELD_LIT("content-type", "text/plain; charset=utf-8");
	grpc_server *s = sc->srv;

	if (h->method_len == 3 && memcmp(h->method, "GET", 3) == 0 && h->path_len == 1 && h->path[0] == '/') {
		char body[256];
		const char *svc = s->nmethods ? s->methods[0].path + 1 : "";
		const char *end = strchr(svc, '/');
		int len = snprintf(body, sizeof(body), "cplane %s gRPC: %.*s\n", CPLANE_VERSION,
		    (int)(end ? end - svc : (ptrdiff_t)strlen(svc)), svc);
		h2_submit_response(sc->h2, sid, 200, &ct, 1, 0);
		h2_submit_data(sc->h2, sid, (const uint8_t *)body, (size_t)len, 1);
	} else {
		h2_submit_response(sc->h2, sid, 415, &ct, 1, 0);
		h2_submit_data(sc->h2, sid, (const uint8_t *)"unsupported media type: gRPC only\n", 34, 1);
	}
	/* No RST_STREAM even if the request goes on: it would drop the queued body. */
	grpc_transport_kick(&sc->tr);
}

/* Copies custom metadata into the call: one reserve, then pointers into it. */
static int collect_metadata(grpc_call *c, const h2_headers *h)
{
	size_t total = 0, n = 0, i;
	char *p;

	for (i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		if (grpc_metadata_reserved(f->name, f->name_len))
			continue;
		total += f->name_len + f->value_len + 2;
		n++;
	}
	c->nmd = 0;
	if (n == 0)
		return 0;
	if (n > c->md_cap) {
		grpc_metadata *md = realloc(c->md, n * sizeof(*md));
		if (md == NULL)
			return -1;
		c->md = md;
		c->md_cap = n;
	}
	buf_reset(&c->md_store);
	if (buf_reserve(&c->md_store, total) < 0)
		return -1;
	p = (char *)buf_tail(&c->md_store);
	for (i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		grpc_metadata *m;
		if (grpc_metadata_reserved(f->name, f->name_len))
			continue;
		m = &c->md[c->nmd++];
		memcpy(p, f->name, f->name_len);
		p[f->name_len] = '\0';
		m->name = p;
		m->name_len = f->name_len;
		p += f->name_len + 1;
		memcpy(p, f->value, f->value_len);
		p[f->value_len] = '\0';
		m->value = p;
		m->value_len = f->value_len;
		p += f->value_len + 1;
	}
	buf_commit(&c->md_store, total);
	return 0;
}

static void dispatch(grpc_call *c)
{
	grpc_server *s = c->srv;

	if (!grpc_reader_idle(&c->rd)) {
		call_abort(c, GRPC_INTERNAL, "request ended inside a message");
		return;
	}
	if (c->nreq != 1) {
		call_abort(c, GRPC_INTERNAL, "expected exactly one request message");
		return;
	}
	if (c->m->req) {
		c->req_msg = protobuf_c_message_unpack(c->m->req, &c->alloc, buf_len(&c->req),
		    buf_data(&c->req));
		if (c->req_msg == NULL) {
			arena_reset(&c->ar);
			call_abort(c, GRPC_INTERNAL, "cannot parse the request message");
			return;
		}
	}
	c->flags |= C_DISPATCHED;
	s->stats.calls_started++;
	s->stats.calls_active++;
	c->m->fn(c, c->m->arg);
}

static int on_req_msg(void *ctx, const uint8_t *msg, size_t len)
{
	grpc_call *c = ctx;

	if (c->nreq++ > 0)
		return 1;
	buf_reset(&c->req);
	return buf_append(&c->req, msg, len) < 0 ? 1 : 0;
}

static void new_stream(grpc_sconn *sc, int32_t sid, const h2_headers *h)
{
	grpc_server *s = sc->srv;
	const h2_field *ct = NULL, *te = NULL, *enc = NULL, *tmo = NULL;
	const struct method_ent *m;
	int64_t timeout = -1;
	grpc_call *c;

	for (size_t i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		if (NAME_IS(f, "content-type"))
			ct = f;
		else if (NAME_IS(f, "te"))
			te = f;
		else if (NAME_IS(f, "grpc-encoding"))
			enc = f;
		else if (NAME_IS(f, "grpc-timeout"))
			tmo = f;
	}
	if (h->method_len != 4 || memcmp(h->method, "POST", 4) != 0 || ct == NULL ||
	    !is_grpc_content_type(ct->value, ct->value_len)) {
		plain_http(sc, sid, h);
		return;
	}
	if (te == NULL || !VALUE_IS(te, "trailers")) {
		reject_stream(sc, sid, GRPC_INTERNAL, "missing \"te: trailers\"", h->end_stream, 0);
		return;
	}
	if (enc && !VALUE_IS(enc, "identity")) {
		reject_stream(sc, sid, GRPC_UNIMPLEMENTED, "grpc-encoding not supported (identity only)",
		    h->end_stream, 1);
		return;
	}
	if (tmo && grpc_timeout_parse(tmo->value, tmo->value_len, &timeout) < 0) {
		reject_stream(sc, sid, GRPC_INTERNAL, "malformed grpc-timeout", h->end_stream, 0);
		return;
	}
	m = find_method(s, h->path, h->path_len);
	if (m == NULL) {
		char msg[512];
		unknown_method_msg(s, h->path ? h->path : "", h->path_len, msg, sizeof(msg));
		reject_stream(sc, sid, GRPC_UNIMPLEMENTED, msg, h->end_stream, 0);
		return;
	}
	if (s->shutting) {
		reject_stream(sc, sid, GRPC_UNAVAILABLE, "server shutting down", h->end_stream, 0);
		return;
	}
	c = call_get(s);
	if (c == NULL || collect_metadata(c, h) < 0) {
		if (c)
			call_release(c);
		reject_stream(sc, sid, GRPC_RESOURCE_EXHAUSTED, "out of memory", h->end_stream, 0);
		return;
	}
	c->conn = sc;
	c->sid = sid;
	c->m = m;
	c->next = sc->calls;
	if (sc->calls)
		sc->calls->prev = c;
	sc->calls = c;
	h2_stream_set_user(sc->h2, sid, c);
	if (timeout >= 0) {
		c->deadline = io_loop_now(s->loop) + timeout;
		io_timer_start_at(s->loop, &c->timer, c->deadline);
	}
	if (h->end_stream) {
		c->flags |= C_REQ_DONE;
		dispatch(c);
	}
}

/* ---- h2 callbacks ------------------------------------------------------------- */

static int cb_headers(h2_conn *h2, void *user, int32_t sid, void *stream_user, const h2_headers *h)
{
	grpc_sconn *sc = user;
	grpc_call *c = stream_user;

	(void)h2;
	if (!h->is_trailers) {
		new_stream(sc, sid, h);
		return 0;
	}
	if (c) {
		c->flags |= C_REQ_DONE;
		dispatch(c);
	}
	return 0;
}

static int cb_data(h2_conn *h2, void *user, int32_t sid, void *stream_user, const uint8_t *data,
    size_t len, int end_stream)
{
	grpc_call *c = stream_user;

	(void)user;
	if (c == NULL) {
		h2_conn_consume(h2, sid, len);
		return 0;
	}
	c->unconsumed += len;
	if (len && grpc_reader_feed(&c->rd, data, len, on_req_msg, c) < 0) {
		switch (c->rd.err) {
		case GRPC_ERR_TOO_LARGE: {
			char msg[128];
			snprintf(msg, sizeof(msg), "received message larger than max (%u vs. %u)",
			    c->rd.msg_len, c->rd.max_len);
			c->flags |= end_stream ? C_REQ_DONE : 0;
			call_abort(c, GRPC_RESOURCE_EXHAUSTED, msg);
			return 0;
		}
		case GRPC_ERR_COMPRESSED:
			c->flags |= end_stream ? C_REQ_DONE : 0;
			call_abort(c, GRPC_UNIMPLEMENTED, "compressed messages are not supported (identity only)");
			return 0;
		case GRPC_ERR_CALLBACK:
			c->flags |= end_stream ? C_REQ_DONE : 0;
			call_abort(c, c->nreq > 1 ? GRPC_INTERNAL : GRPC_RESOURCE_EXHAUSTED,
			    c->nreq > 1 ? "expected exactly one request message" : "out of memory");
			return 0;
		default:
			c->flags |= end_stream ? C_REQ_DONE : 0;
			call_abort(c, GRPC_INTERNAL, "malformed message prefix");
			return 0;
		}
	}
	/*
	 * Bytes of a message still being collected stay charged to the
	 * windows: a peer can make us hold at most one connection window of
	 * partial messages, however many streams it opens.
	 */
	if (grpc_reader_idle(&c->rd)) {
		h2_conn_consume(h2, sid, c->unconsumed);
		c->unconsumed = 0;
	}
	if (end_stream) {
		c->flags |= C_REQ_DONE;
		dispatch(c);
	}
	return 0;
}

static void cb_stream_close(h2_conn *h2, void *user, int32_t sid, void *stream_user,
    uint32_t error_code, int remote)
{
	grpc_sconn *sc = user;
	grpc_call *c = stream_user;

	(void)h2;
	(void)sid;
	(void)error_code;
	if (c == NULL)
		return;
	call_gone(c, sc->dying || !remote ? GRPC_UNAVAILABLE : GRPC_CANCELLED);
}

static void cb_send_ready(h2_conn *h2, void *user, int32_t sid, void *stream_user)
{
	grpc_call *c = stream_user;

	(void)h2;
	(void)user;
	(void)sid;
	if (c && c->wr)
		c->wr(c, c->wr_arg);
}

static const h2_callbacks server_cbs = {
	.on_headers = cb_headers,
	.on_data = cb_data,
	.on_stream_close = cb_stream_close,
	.on_send_ready = cb_send_ready,
};

/* ---- connections -------------------------------------------------------------- */

static void check_done(grpc_server *s)
{
	if (s->shutting && s->conns == NULL && !s->done_called) {
		s->done_called = 1;
		io_timer_stop(s->loop, &s->grace_timer);
		io_timer_stop(s->loop, &s->hard_timer);
		if (s->done)
			s->done(s, s->done_arg);
	}
}

static void sconn_destroy(grpc_sconn *sc)
{
	grpc_server *s = sc->srv;

	grpc_transport_stop(&sc->tr);
	if (sc->prev)
		sc->prev->next = sc->next;
	else if (s->conns == sc)
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	s->stats.conns_open--;
	sc->dying = 1;
	h2_conn_free(sc->h2);	/* open streams → cb_stream_close → calls gone */
	free(sc);
}

static void sconn_on_close(grpc_transport *t, const char *reason)
{
	grpc_sconn *sc = t->owner;
	grpc_server *s = sc->srv;

	(void)reason;
	sconn_destroy(sc);
	check_done(s);
}

static grpc_sconn *sconn_new(grpc_server *s, int fd)
{
	grpc_sconn *sc = calloc(1, sizeof(*sc));
	h2_settings st;

	if (sc == NULL)
		return NULL;
	h2_settings_default(&st);
	st.max_concurrent_streams = s->opts.max_concurrent_streams;
	/* One largest message fits a stream's window; the connection window bounds them all. */
	st.initial_window_size = s->opts.max_recv_msg + GRPC_PREFIX_LEN > st.initial_window_size ?
	    (s->opts.max_recv_msg + GRPC_PREFIX_LEN > 0x7fffffffu ? 0x7fffffffu :
	    s->opts.max_recv_msg + GRPC_PREFIX_LEN) : st.initial_window_size;
	if (st.connection_window < st.initial_window_size)
		st.connection_window = st.initial_window_size;
	st.auto_consume = 0;
	sc->srv = s;
	sc->h2 = h2_conn_new(H2_ROLE_SERVER, &st, &server_cbs, sc);
	if (sc->h2 == NULL) {
		free(sc);
		return NULL;
	}
	sc->tr.owner = sc;
	sc->tr.on_close = sconn_on_close;
	if (grpc_transport_start(&sc->tr, s->loop, fd, sc->h2, 0) < 0) {
		h2_conn_free(sc->h2);
		free(sc);
		return NULL;
	}
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	s->stats.conns_open++;
	return sc;
}

static void on_accept(io_loop *loop, int fd, unsigned events, void *arg)
{
	grpc_server *s = arg;

	(void)loop;
	(void)events;
	for (int i = 0; i < 64; i++) {
		int cfd = io_accept(fd);
		if (cfd < 0)
			break;
		if (s->stats.conns_open >= s->opts.max_conns || s->shutting) {
			s->stats.conns_refused++;
			close(cfd);
			continue;
		}
		if (sconn_new(s, cfd) == NULL) {
			close(cfd);
			continue;
		}
		s->stats.conns_accepted++;
	}
}

/* ---- server ------------------------------------------------------------------- */

void grpc_server_opts_default(grpc_server_opts *o)
{
	o->max_recv_msg = GRPC_DEFAULT_MAX_MSG;
	o->max_concurrent_streams = 1000;
	o->max_conns = 1000;
	o->listen_backlog = 1024;
}

static void grace_cb(io_loop *loop, void *arg);
static void hard_cb(io_loop *loop, void *arg);

grpc_server *grpc_server_new(io_loop *loop, const grpc_server_opts *opts)
{
	grpc_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->loop = loop;
	if (opts)
		s->opts = *opts;
	else
		grpc_server_opts_default(&s->opts);
	s->listen_fd = -1;
	io_timer_init(&s->grace_timer, grace_cb, s);
	io_timer_init(&s->hard_timer, hard_cb, s);
	return s;
}

void grpc_server_free(grpc_server *s)
{
	if (s == NULL)
		return;
	s->shutting = 1;
	s->done_called = 1;
	if (s->listen_fd >= 0) {
		io_loop_del_fd(s->loop, s->listen_fd);
		close(s->listen_fd);
	}
	while (s->conns)
		sconn_destroy(s->conns);
	while (s->zombies) {
		grpc_call *c = s->zombies;
		call_unlink(c);
		call_destroy(c);
	}
	while (s->free_calls) {
		grpc_call *c = s->free_calls;
		s->free_calls = c->next;
		call_destroy(c);
	}
	io_timer_stop(s->loop, &s->grace_timer);
	io_timer_stop(s->loop, &s->hard_timer);
	if (s->free_ext)
		s->free_ext(s->ext);
	for (size_t i = 0; i < s->nmethods; i++)
		free(s->methods[i].path);
	free(s->methods);
	buf_free(&s->scratch);
	buf_free(&s->msgbuf);
	free(s);
}

int grpc_server_add_method(grpc_server *s, const char *path, const ProtobufCMessageDescriptor *req,
    grpc_handler fn, void *arg)
{
	struct method_ent *m;
	size_t n = strlen(path);

	if (n < 2 || path[0] != '/' || fn == NULL || find_method(s, path, n))
		return GRPC_ERR_INVALID;
	m = realloc(s->methods, (s->nmethods + 1) * sizeof(*m));
	if (m == NULL)
		return GRPC_ERR_NOMEM;
	s->methods = m;
	m = &s->methods[s->nmethods];
	m->path = malloc(n + 1);
	if (m->path == NULL)
		return GRPC_ERR_NOMEM;
	memcpy(m->path, path, n + 1);
	m->path_len = n;
	m->req = req;
	m->fn = fn;
	m->arg = arg;
	s->nmethods++;
	return 0;
}

int grpc_server_listen(grpc_server *s, const char *addr, char *err, size_t errsz)
{
	int fd = io_listen(addr, s->opts.listen_backlog, err, errsz);

	if (fd < 0)
		return -1;
	if (io_loop_add_fd(s->loop, fd, IO_READ, on_accept, s) < 0) {
		snprintf(err, errsz, "cannot register listener");
		close(fd);
		return -1;
	}
	if (s->listen_fd >= 0) {
		io_loop_del_fd(s->loop, s->listen_fd);
		close(s->listen_fd);
	}
	s->listen_fd = fd;
	return 0;
}

int grpc_server_port(const grpc_server *s)
{
	return s->listen_fd >= 0 ? io_local_port(s->listen_fd) : -1;
}

static void hard_cb(io_loop *loop, void *arg)
{
	grpc_server *s = arg;

	(void)loop;
	while (s->conns)
		sconn_destroy(s->conns);
	check_done(s);
}

static void grace_cb(io_loop *loop, void *arg)
{
	grpc_server *s = arg;

	for (grpc_sconn *sc = s->conns; sc; sc = sc->next) {
		while (sc->calls)
			call_abort(sc->calls, GRPC_UNAVAILABLE, "server shutting down");
		h2_submit_goaway(sc->h2, H2_NO_ERROR, 0, "shutdown");
		grpc_transport_kick(&sc->tr);
	}
	if (s->conns)
		io_timer_start(loop, &s->hard_timer, HARD_CLOSE_MS);
	check_done(s);
}

void grpc_server_shutdown(grpc_server *s, int64_t grace_ms, grpc_shutdown_cb done, void *arg)
{
	if (s->shutting)
		return;
	s->shutting = 1;
	s->done = done;
	s->done_arg = arg;
	if (s->listen_fd >= 0) {
		io_loop_del_fd(s->loop, s->listen_fd);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	if (s->shutdown_hook)
		s->shutdown_hook(s, s->ext);
	for (grpc_sconn *sc = s->conns; sc; sc = sc->next) {
		h2_submit_goaway(sc->h2, H2_NO_ERROR, 1, "shutdown");
		grpc_transport_kick(&sc->tr);
	}
	io_timer_start(s->loop, &s->grace_timer, grace_ms < 0 ? 0 : grace_ms);
	check_done(s);
}

const grpc_server_stats *grpc_server_stats_get(const grpc_server *s)
{
	return &s->stats;
}

io_loop *grpc_server_loop(const grpc_server *s)
{
	return s->loop;
}

void grpc_server_set_ext(grpc_server *s, void *ext, void (*free_ext)(void *ext))
{
	s->ext = ext;
	s->free_ext = free_ext;
}

void *grpc_server_ext(const grpc_server *s)
{
	return s->ext;
}

void grpc_server_set_shutdown_hook(grpc_server *s, void (*fn)(grpc_server *s, void *ext))
{
	s->shutdown_hook = fn;
}

/* ---- detached connections (tests, fuzzing) ------------------------------------ */

grpc_sconn *grpc_server_conn_new_detached(grpc_server *s)
{
	return sconn_new(s, -1);
}

int64_t grpc_server_conn_feed(grpc_sconn *sc, const uint8_t *in, size_t len)
{
	return h2_conn_feed(sc->h2, in, len);
}

const uint8_t *grpc_server_conn_pending(grpc_sconn *sc, size_t *len)
{
	return h2_conn_pending(sc->h2, len);
}

void grpc_server_conn_consumed(grpc_sconn *sc, size_t n)
{
	h2_conn_consumed(sc->h2, n);
}

void grpc_server_conn_free(grpc_sconn *sc)
{
	grpc_server *s = sc->srv;

	sconn_destroy(sc);
	check_done(s);
}

/* ---- calls -------------------------------------------------------------------- */

const char *grpc_call_path(const grpc_call *c)
{
	return c->m->path;
}

const uint8_t *grpc_call_request(const grpc_call *c, size_t *len)
{
	*len = buf_len(&c->req);
	return buf_data(&c->req);
}

const ProtobufCMessage *grpc_call_request_msg(const grpc_call *c)
{
	return c->req_msg;
}

int64_t grpc_call_deadline(const grpc_call *c)
{
	return c->deadline;
}

size_t grpc_call_metadata_count(const grpc_call *c)
{
	return c->nmd;
}

const grpc_metadata *grpc_call_metadata_at(const grpc_call *c, size_t i)
{
	return i < c->nmd ? &c->md[i] : NULL;
}

const char *grpc_call_metadata_get(const grpc_call *c, const char *name, size_t *len)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < c->nmd; i++) {
		if (c->md[i].name_len == n && memcmp(c->md[i].name, name, n) == 0) {
			if (len)
				*len = c->md[i].value_len;
			return c->md[i].value;
		}
	}
	return NULL;
}

int grpc_call_add_metadata(grpc_call *c, int trailing, const char *name, const char *value,
    size_t value_len)
{
	size_t n = strlen(name);
	struct out_md *o;

	if (n == 0 || grpc_metadata_reserved(name, n))
		return GRPC_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			return GRPC_ERR_INVALID;
	if (c->nout >= MAX_OUT_MD || (!trailing && (c->flags & C_HEADERS_SENT)))
		return GRPC_ERR_STATE;
	o = &c->out[c->nout];
	o->name_off = (uint32_t)buf_len(&c->out_store);
	o->name_len = (uint32_t)n;
	if (buf_append(&c->out_store, name, n) < 0)
		return GRPC_ERR_NOMEM;
	o->value_off = (uint32_t)buf_len(&c->out_store);
	o->value_len = (uint32_t)value_len;
	if (buf_append(&c->out_store, value, value_len) < 0)
		return GRPC_ERR_NOMEM;
	o->trailing = trailing != 0;
	c->nout++;
	return 0;
}

static int send_headers(grpc_call *c)
{
	h2_field f[1 + MAX_OUT_MD];
	size_t n = 0;

	f[n++] = F_CT_GRPC;
	n = add_out_md(c, f, n, 0);
	c->flags |= C_HEADERS_SENT;
	return h2_submit_response(c->conn->h2, c->sid, 200, f, n, 0) < 0 ? GRPC_ERR_NOMEM : 0;
}

static int send_framed(grpc_call *c, const uint8_t *p, size_t len)
{
	int rc;

	if (!(c->flags & C_HEADERS_SENT) && (rc = send_headers(c)) < 0)
		return rc;
	rc = h2_submit_data(c->conn->h2, c->sid, p, len, 0);
	grpc_transport_kick(&c->conn->tr);
	return rc < 0 ? GRPC_ERR_NOMEM : 0;
}

int grpc_call_send(grpc_call *c, const ProtobufCMessage *msg)
{
	grpc_server *s = c->srv;
	size_t len;
	int rc;

	if (c->flags & C_GONE)
		return GRPC_ERR_CANCELLED;
	len = protobuf_c_message_get_packed_size(msg);
	if (len > UINT32_MAX)
		return GRPC_ERR_TOO_LARGE;
	buf_reset(&s->scratch);
	if (buf_reserve(&s->scratch, GRPC_PREFIX_LEN + len) < 0)
		return GRPC_ERR_NOMEM;
	grpc_prefix_write(buf_tail(&s->scratch), (uint32_t)len);
	protobuf_c_message_pack(msg, buf_tail(&s->scratch) + GRPC_PREFIX_LEN);
	buf_commit(&s->scratch, GRPC_PREFIX_LEN + len);
	rc = send_framed(c, buf_data(&s->scratch), buf_len(&s->scratch));
	shrink(&s->scratch);
	return rc;
}

int grpc_call_send_bytes(grpc_call *c, const uint8_t *msg, size_t len)
{
	grpc_server *s = c->srv;
	int rc;

	if (c->flags & C_GONE)
		return GRPC_ERR_CANCELLED;
	buf_reset(&s->scratch);
	if ((rc = grpc_msg_append(&s->scratch, msg, len)) < 0)
		return rc;
	rc = send_framed(c, buf_data(&s->scratch), buf_len(&s->scratch));
	shrink(&s->scratch);
	return rc;
}

int grpc_call_finish(grpc_call *c, int status, const char *message)
{
	int rc = 0;

	if (c->flags & C_DISPATCHED)
		c->srv->stats.calls_active--;
	if (c->flags & C_GONE)
		rc = GRPC_ERR_CANCELLED;
	else
		call_end_stream(c, status, message, 0);
	call_release(c);
	return rc;
}

int grpc_call_finishf(grpc_call *c, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return grpc_call_finish(c, status, msg);
}

int grpc_call_reply(grpc_call *c, const ProtobufCMessage *msg)
{
	int rc = grpc_call_send(c, msg);

	if (rc == GRPC_ERR_NOMEM || rc == GRPC_ERR_TOO_LARGE) {
		grpc_call_finish(c, GRPC_RESOURCE_EXHAUSTED, "cannot send the response");
		return rc;
	}
	return grpc_call_finish(c, GRPC_OK, NULL);
}

int grpc_call_reply_bytes(grpc_call *c, const uint8_t *msg, size_t len)
{
	int rc = grpc_call_send_bytes(c, msg, len);

	if (rc == GRPC_ERR_NOMEM || rc == GRPC_ERR_TOO_LARGE) {
		grpc_call_finish(c, GRPC_RESOURCE_EXHAUSTED, "cannot send the response");
		return rc;
	}
	return grpc_call_finish(c, GRPC_OK, NULL);
}

size_t grpc_call_send_queued_bytes(const grpc_call *c)
{
	if (c->flags & C_GONE)
		return 0;
	return h2_stream_queued_bytes(c->conn->h2, c->sid);
}

void grpc_call_set_on_writable(grpc_call *c, grpc_writable_cb fn, void *arg)
{
	c->wr = fn;
	c->wr_arg = arg;
}

void grpc_call_set_cancel_hook(grpc_call *c, grpc_cancel_hook fn, void *arg)
{
	c->hook = fn;
	c->hook_arg = arg;
}

int grpc_call_cancelled(const grpc_call *c)
{
	return (c->flags & C_GONE) != 0;
}

int grpc_call_cancel_status(const grpc_call *c)
{
	return c->cancel_status;
}

void grpc_call_set_user(grpc_call *c, void *user)
{
	c->user = user;
}

void *grpc_call_user(const grpc_call *c)
{
	return c->user;
}

grpc_server *grpc_call_server(const grpc_call *c)
{
	return c->srv;
}
