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

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc/server_int.h"
#include "io/net.h"
#include "base/mem.h"
#include "base/str.h"

#ifndef CPLANE_VERSION
#define CPLANE_VERSION "dev"
#endif

#define HARD_CLOSE_MS 1000

static void reject_stream(grpc_sconn *sc, int32_t sid, int status, const char *msg, int req_done,
    int accept_identity)
{
	h2_field f[4];
	char code[4];
	size_t n = 0;

	f[n++] = GRPC__F_CT_GRPC;
	n = grpc__status_fields(sc->srv, f, n, code, status, msg);
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

/* ---- requests ----------------------------------------------------------------- */

static int is_grpc_content_type(const char *v, size_t n)
{
	if (n < 16 || !mem_eq(v, "application/grpc", 16))
		return 0;
	v += 16;
	n -= 16;
	if (n == 0 || v[0] == ';')
		return 1;
	return n >= 6 && mem_eq(v, "+proto", 6) && (n == 6 || v[6] == ';');
}

#define NAME_IS(f, lit) ((f)->name_len == sizeof(lit) - 1 && mem_eq((f)->name, lit, sizeof(lit) - 1))
#define VALUE_IS(f, lit) ((f)->value_len == sizeof(lit) - 1 && mem_eq((f)->value, lit, sizeof(lit) - 1))

static const struct method_ent *find_method(const grpc_server *s, const char *p, size_t n)
{
	for (size_t i = 0; i < s->nmethods; i++)
		if (s->methods[i].path_len == n && mem_eq(s->methods[i].path, p, n))
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
	uint64_t reserved = 0;	/* bit i: field i (i < 64) is not metadata */
	char *p;

	for (i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		if (grpc_metadata_reserved(f->name, f->name_len)) {
			if (i < 64)
				reserved |= (uint64_t)1 << i;
			continue;
		}
		total += f->name_len + f->value_len + 2;
		n++;
	}
	c->nmd = 0;
	if (n == 0)
		return 0;
	if (n > c->md_cap) {
		/* The count is bounded by the header list limit: ours to size. */
		c->md = xrealloc(c->md, n * sizeof(*c->md));
		c->md_ids = xrealloc(c->md_ids, n * sizeof(*c->md_ids));
		c->md_cap = n;
	}
	buf_reset(&c->md_store);
	if (buf_reserve(&c->md_store, total) < 0)
		return -1;
	p = (char *)buf_tail(&c->md_store);
	for (i = 0; i < h->nfields; i++) {
		const h2_field *f = &h->fields[i];
		grpc_metadata *m;
		if (i < 64 ? ((reserved >> i) & 1) != 0 : grpc_metadata_reserved(f->name, f->name_len) != 0)
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
		c->md_ids[c->nmd - 1] = h->value_ids ? h->value_ids[i] : 0;
		p += f->value_len + 1;
	}
	buf_commit(&c->md_store, total);
	return 0;
}

static void dispatch(grpc_call *c)
{
	grpc_server *s = c->srv;

	if (!grpc_reader_idle(&c->rd)) {
		grpc__call_abort(c, GRPC_INTERNAL, "request ended inside a message");
		return;
	}
	if (c->nreq != 1) {
		grpc__call_abort(c, GRPC_INTERNAL, "expected exactly one request message");
		return;
	}
	if (c->m->req) {
		c->req_msg = protobuf_c_message_unpack(c->m->req, &c->alloc, buf_len(&c->req),
		    buf_data(&c->req));
		if (c->req_msg == NULL) {
			grpc__arena_reset(&c->ar);
			grpc__call_abort(c, GRPC_INTERNAL, "cannot parse the request message");
			return;
		}
	}
	c->flags |= C_DISPATCHED;
	s->stats.calls_started++;
	s->stats.calls_active++;
	c->m->fn(c, c->m->arg);
}

/*
 * Runs a bidi handler (start, else on_msg with msg/len).  The
 * handler may finish the call; it is released here, after the handler
 * returned, so no caller up the stack touches a recycled call.  Returns 1
 * when the call is gone (released), else 0.
 */
static int run_bidi(grpc_call *c, int start, const uint8_t *msg, size_t len)
{
	c->flags |= C_IN_HANDLER;
	if (start)
		c->m->fn(c, c->m->arg);
	else
		c->m->on_msg(c, msg, len, c->m->arg);
	c->flags &= ~C_IN_HANDLER;
	if (c->flags & C_FINISH_LATER) {
		grpc__call_release(c);
		return 1;
	}
	return 0;
}

/* The client half-closed: a unary call runs its handler, a bidi call hears of it. */
static void request_done(grpc_call *c)
{
	c->flags |= C_REQ_DONE;
	if (c->m->on_msg == NULL) {
		dispatch(c);
		return;
	}
	if (!grpc_reader_idle(&c->rd)) {
		grpc__call_abort(c, GRPC_INTERNAL, "request ended inside a message");
		return;
	}
	run_bidi(c, 0, NULL, 0);
}

static int on_req_msg(void *ctx, const uint8_t *msg, size_t len)
{
	grpc_call *c = ctx;

	if (c->m->on_msg) {
		c->nreq++;
		/* Stops the reader once finished; cb_data then releases the call. */
		c->flags |= C_IN_HANDLER;
		c->m->on_msg(c, msg, len, c->m->arg);
		c->flags &= ~C_IN_HANDLER;
		return (c->flags & C_FINISH_LATER) ? 1 : 0;
	}
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
	int kept = 0;

	/* The same header list as a request this connection accepted before: the same verdict. */
	if (h->block_id != 0 && h->block_id == sc->accepted_block) {
		kept = 1;
		m = &s->methods[sc->accepted_method];
		timeout = sc->accepted_timeout;
		goto accepted;
	}
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
	if (h->method_len != 4 || !mem_eq(h->method, "POST", 4) || ct == NULL ||
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
	if (h->block_id != 0) {
		sc->accepted_block = h->block_id;
		sc->accepted_method = (size_t)(m - s->methods);
		sc->accepted_timeout = timeout;
		sc->accepted_has_metadata = -1;
	}
accepted:
	if (s->shutting) {
		reject_stream(sc, sid, GRPC_UNAVAILABLE, "server shutting down", h->end_stream, 0);
		return;
	}
	c = grpc__call_get(s);
	c->nmd = 0;
	if (!(kept && sc->accepted_has_metadata == 0) && collect_metadata(c, h) < 0) {
		grpc__call_release(c);
		reject_stream(sc, sid, GRPC_RESOURCE_EXHAUSTED, "out of memory", h->end_stream, 0);
		return;
	}
	if (h->block_id != 0 && h->block_id == sc->accepted_block)
		sc->accepted_has_metadata = c->nmd > 0;
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
	if (m->on_msg) {
		c->flags |= C_DISPATCHED;
		s->stats.calls_started++;
		s->stats.calls_active++;
		if (run_bidi(c, 1, NULL, 0))
			return;
	}
	if (h->end_stream)
		request_done(c);
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
	if (c)
		request_done(c);
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
		if (c->flags & C_FINISH_LATER) {
			grpc__call_release(c);
			return 0;
		}
		switch (c->rd.err) {
		case GRPC_ERR_TOO_LARGE: {
			char msg[128];
			snprintf(msg, sizeof(msg), "received message larger than max (%u vs. %u)",
			    c->rd.msg_len, c->rd.max_len);
			c->flags |= end_stream ? C_REQ_DONE : 0;
			grpc__call_abort(c, GRPC_RESOURCE_EXHAUSTED, msg);
			return 0;
		}
		case GRPC_ERR_COMPRESSED:
			c->flags |= end_stream ? C_REQ_DONE : 0;
			grpc__call_abort(c, GRPC_UNIMPLEMENTED, "compressed messages are not supported (identity only)");
			return 0;
		case GRPC_ERR_NOMEM:	/* a message split over DATA frames could not be gathered */
			c->flags |= end_stream ? C_REQ_DONE : 0;
			grpc__call_abort(c, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return 0;
		case GRPC_ERR_CALLBACK:
			c->flags |= end_stream ? C_REQ_DONE : 0;
			grpc__call_abort(c, c->nreq > 1 ? GRPC_INTERNAL : GRPC_RESOURCE_EXHAUSTED,
			    c->nreq > 1 ? "expected exactly one request message" : "out of memory");
			return 0;
		default:
			c->flags |= end_stream ? C_REQ_DONE : 0;
			grpc__call_abort(c, GRPC_INTERNAL, "malformed message prefix");
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
	if (end_stream)
		request_done(c);
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
	grpc__call_gone(c, sc->dying || !remote ? GRPC_UNAVAILABLE : GRPC_CANCELLED);
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

static grpc_sconn *sconn_of(conntab_ent *e)
{
	return (grpc_sconn *)(void *)((char *)e - offsetof(grpc_sconn, ent));
}

/* Arms the table's timer if its next deadline is earlier than the armed one (lazy otherwise). */
static void arm_conn_timer(grpc_server *s)
{
	int64_t d = conntab_next_deadline(&s->tab);

	if (d >= 0 && (!io_timer_active(&s->conn_timer) || d < s->conn_timer.when))
		io_timer_start_at(s->loop, &s->conn_timer, d);
}

static void sconn_destroy(grpc_sconn *sc)
{
	grpc_server *s = sc->srv;

	conntab_remove(&s->tab, &sc->ent);
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
	tls_server_free(sc->tr.tls.server);
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

/* After any input or output: which list the connection belongs in now.  Idle does not restart idle. */
static void sconn_on_turn(grpc_transport *t)
{
	grpc_sconn *sc = t->owner;
	int list;

	if (sc->closing || !sc->ent.in_table)
		return;
	if (!h2_conn_handshaken(sc->h2))
		list = SC_HANDSHAKE;
	else if (h2_conn_open_streams(sc->h2) > 0)
		list = CONNTAB_BUSY;
	else
		list = SC_IDLE;
	if (list != sc->ent.list) {
		conntab_move(&sc->srv->tab, &sc->ent, list, io_loop_now(sc->srv->loop));
		arm_conn_timer(sc->srv);
	}
}

static void conn_timer_cb(io_loop *loop, void *arg)
{
	grpc_server *s = arg;
	int64_t now = io_loop_now(loop);
	conntab_ent *e;

	while ((e = conntab_expired(&s->tab, now)) != NULL) {
		grpc_sconn *sc = sconn_of(e);
		if (e->list == SC_IDLE) {
			/* grpc-go's MaxConnectionIdle: no stream for this long, the client reconnects when it needs to. */
			s->stats.conns_idle_closed++;
			sc->closing = 1;
			conntab_move(&s->tab, e, SC_CLOSING, now);
			h2_submit_goaway(sc->h2, H2_NO_ERROR, 0, "max connection idle");
			grpc_transport_kick(&sc->tr);
			continue;
		}
		if (e->list == SC_HANDSHAKE)
			s->stats.conns_handshake_timeouts++;
		sconn_destroy(sc);
	}
	arm_conn_timer(s);
	check_done(s);
}

static grpc_sconn *sconn_new(grpc_server *s, int fd)
{
	grpc_sconn *sc = xcalloc(1, sizeof(*sc));
	h2_settings st;

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
	sc->tr.on_turn = sconn_on_turn;
	sc->ent.list = CONNTAB_BUSY;
	if (s->opts.tls != NULL && (sc->tr.tls.server = tls_server_new(s->opts.tls, NULL, 0)) == NULL)
		goto fail;
	if (grpc_transport_start(&sc->tr, s->loop, fd, sc->h2, 0) < 0)
		goto fail;
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	s->stats.conns_open++;
	return sc;
fail:
	tls_server_free(sc->tr.tls.server);
	h2_conn_free(sc->h2);
	free(sc);
	return NULL;
}

static void on_accept(int fd, const struct sockaddr *peer, void *arg)
{
	grpc_server *s = arg;
	uint32_t key = conntab_peer_key(peer);
	conntab_ent *victim = NULL;
	grpc_sconn *sc;

	if (s->shutting) {
		close(fd);
		return;
	}
	switch (conntab_admit(&s->tab, key, &victim)) {
	case CONNTAB_REFUSE:
		s->stats.conns_refused++;
		close(fd);
		return;
	case CONNTAB_EVICT:
		s->stats.conns_evicted++;
		sconn_destroy(sconn_of(victim));
		break;
	case CONNTAB_ADMIT:
		break;
	}
	sc = sconn_new(s, fd);
	if (sc == NULL) {
		close(fd);
		return;
	}
	conntab_add(&s->tab, &sc->ent, key, SC_HANDSHAKE, io_loop_now(s->loop));
	arm_conn_timer(s);
	s->stats.conns_accepted++;
}

/* Out of descriptors: the connection idle (or handshaking) the longest makes room. */
static int on_exhausted(void *arg)
{
	grpc_server *s = arg;
	conntab_ent *victim = conntab_oldest(&s->tab);

	if (victim == NULL)
		return 0;
	s->stats.conns_evicted++;
	sconn_destroy(sconn_of(victim));
	return 1;
}

/* ---- server ------------------------------------------------------------------- */

void grpc_server_opts_default(grpc_server_opts *o)
{
	o->max_recv_msg = GRPC_DEFAULT_MAX_MSG;
	o->max_concurrent_streams = 1000;
	o->max_conns = 1000;
	o->max_conns_per_peer = 256;
	o->handshake_timeout_ms = 5000;
	o->max_conn_idle_ms = 300000;
	o->listen_backlog = 1024;
	o->tls = NULL;
}

static void grace_cb(io_loop *loop, void *arg);
static void hard_cb(io_loop *loop, void *arg);

grpc_server *grpc_server_new(io_loop *loop, const grpc_server_opts *opts)
{
	grpc_server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	if (opts)
		s->opts = *opts;
	else
		grpc_server_opts_default(&s->opts);
	s->listener.fd = -1;
	conntab_init(&s->tab, s->opts.max_conns, s->opts.max_conns_per_peer);
	s->tab.timeout_ms[SC_HANDSHAKE] = s->opts.handshake_timeout_ms;
	s->tab.timeout_ms[SC_IDLE] = s->opts.max_conn_idle_ms;
	s->tab.timeout_ms[SC_CLOSING] = HARD_CLOSE_MS;
	io_timer_init(&s->conn_timer, conn_timer_cb, s);
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
	io_listener_stop(&s->listener);
	while (s->conns)
		sconn_destroy(s->conns);
	while (s->zombies) {
		grpc_call *c = s->zombies;
		grpc__call_unlink(c);
		grpc__call_destroy(c);
	}
	while (s->free_calls) {
		grpc_call *c = s->free_calls;
		s->free_calls = c->next;
		grpc__call_destroy(c);
	}
	io_timer_stop(s->loop, &s->grace_timer);
	io_timer_stop(s->loop, &s->hard_timer);
	io_timer_stop(s->loop, &s->conn_timer);
	if (s->free_ext)
		s->free_ext(s->ext);
	for (size_t i = 0; i < s->nmethods; i++)
		free(s->methods[i].path);
	free(s->methods);
	buf_free(&s->scratch);
	buf_free(&s->msgbuf);
	free(s);
}

static int add_method(grpc_server *s, const char *path, const ProtobufCMessageDescriptor *req,
    grpc_handler fn, grpc_msg_handler on_msg, void *arg)
{
	struct method_ent *m;
	size_t n = strlen(path);

	if (n < 2 || path[0] != '/' || fn == NULL || find_method(s, path, n))
		return GRPC_ERR_INVALID;
	s->methods = xrealloc(s->methods, (s->nmethods + 1) * sizeof(*s->methods));
	m = &s->methods[s->nmethods];
	m->path = xstrdup(path);
	m->path_len = n;
	m->req = req;
	m->fn = fn;
	m->on_msg = on_msg;
	m->arg = arg;
	s->nmethods++;
	return 0;
}

int grpc_server_add_method(grpc_server *s, const char *path, const ProtobufCMessageDescriptor *req,
    grpc_handler fn, void *arg)
{
	return add_method(s, path, req, fn, NULL, arg);
}

int grpc_server_add_bidi_method(grpc_server *s, const char *path, grpc_handler start,
    grpc_msg_handler on_msg, void *arg)
{
	if (on_msg == NULL)
		return GRPC_ERR_INVALID;
	return add_method(s, path, NULL, start, on_msg, arg);
}

int grpc_server_listen(grpc_server *s, const char *addr, char *err, size_t errsz)
{
	int fd = io_listen(addr, s->opts.listen_backlog, err, errsz);

	if (fd < 0)
		return -1;
	io_listener_stop(&s->listener);
	if (io_listener_start(&s->listener, s->loop, fd, "grpc", on_accept, on_exhausted, s) < 0) {
		snprintf(err, errsz, "cannot register listener");
		close(fd);
		return -1;
	}
	return 0;
}

int grpc_server_port(const grpc_server *s)
{
	return s->listener.fd >= 0 ? io_local_port(s->listener.fd) : -1;
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
			grpc__call_abort(sc->calls, GRPC_UNAVAILABLE, "server shutting down");
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
	io_listener_stop(&s->listener);
	if (s->shutdown_hook)
		s->shutdown_hook(s, s->ext);
	for (grpc_sconn *sc = s->conns; sc; sc = sc->next) {
		h2_submit_goaway(sc->h2, H2_NO_ERROR, 1, "shutdown");
		grpc_transport_kick(&sc->tr);
	}
	io_timer_start(s->loop, &s->grace_timer, grace_ms < 0 ? 0 : grace_ms);
	check_done(s);
}

void grpc_server_get_stats(const grpc_server *s, grpc_server_stats *out)
{
	*out = s->stats;
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

