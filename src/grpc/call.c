/*
 * The call side of the server: the pool of call objects, the protobuf-c
 * arena, response framing and the grpc_call_* API (see server.c's notes).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/server_int.h"
#include "base/mem.h"
#include "base/str.h"

/* ---- arena allocator for protobuf-c ---------------------------------------- */

static void *arena_alloc(void *ad, size_t size)
{
	grpc__arena *a = ad;
	arena_big *b;

	size = (size + 15) & ~(size_t)15;
	if (a->cap - a->used >= size) {
		void *p = a->base + a->used;
		a->used += size;
		return p;
	}
	/* protobuf-c unpacking a request: the peer picks the size, so it may fail (checked). */
	b = mem_try_alloc(sizeof(*b) + size);
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
	(void)p;	/* released all at once by grpc__arena_reset() */
}

void grpc__arena_reset(grpc__arena *a)
{
	size_t want = a->used + a->big_total;

	while (a->big) {
		arena_big *n = a->big->next;
		free(a->big);
		a->big = n;
	}
	/* Grow the block to what the last request needed, so the next one fits. */
	if (a->big_total && want <= ARENA_MAX) {
		free(a->base);
		a->base = xmalloc(want);
		a->cap = want;
	}
	a->big_total = 0;
	a->used = 0;
}

/* ---- call pool ----------------------------------------------------------------- */

static void call_timer_cb(io_loop *loop, void *arg);

grpc_call *grpc__call_get(grpc_server *s)
{
	grpc_call *c = s->free_calls;

	if (c) {
		s->free_calls = c->next;
		s->nfree--;
	} else {
		c = xcalloc(1, sizeof(*c));
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

void grpc__call_unlink(grpc_call *c)
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

void grpc__call_destroy(grpc_call *c)
{
	grpc__arena_reset(&c->ar);
	free(c->ar.base);
	grpc_reader_free(&c->rd);
	buf_free(&c->req);
	buf_free(&c->md_store);
	buf_free(&c->out_store);
	free(c->md);
	free(c->md_ids);
	free(c);
}

void grpc__call_release(grpc_call *c)
{
	grpc_server *s = c->srv;

	io_timer_stop(s->loop, &c->timer);
	if (c->unconsumed && c->conn && !c->conn->dying)
		h2_conn_consume(c->conn->h2, c->sid, c->unconsumed);
	c->unconsumed = 0;
	grpc__call_unlink(c);
	c->conn = NULL;
	if (c->req_msg) {
		c->req_msg = NULL;
		grpc__arena_reset(&c->ar);
	}
	if (c->md_cap > 32) {
		free(c->md);
		free(c->md_ids);
		c->md = NULL;
		c->md_ids = NULL;
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
		grpc__call_destroy(c);
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
size_t grpc__status_fields(grpc_server *s, h2_field *f, size_t n, char code[4], int status,
    const char *msg)
{
	int len = 0;

	/* By hand: snprintf showed up in profiles of the unary hot path. */
	if (status < 0 || status > 999)
		status = GRPC_UNKNOWN;
	if (status >= 100)
		code[len++] = (char)('0' + status / 100);
	if (status >= 10)
		code[len++] = (char)('0' + status / 10 % 10);
	code[len++] = (char)('0' + status % 10);
	code[len] = '\0';

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
static void call_end_stream(grpc_call *c, int status, const char *msg, int accept_identity)
{
	static const h2_field ae = H2_FIELD_LIT("grpc-accept-encoding", "identity");
	grpc_sconn *sc = c->conn;
	h2_field f[4 + MAX_OUT_MD];
	char code[4];
	size_t n = 0;

	h2_stream_set_user(sc->h2, c->sid, NULL);
	if (!(c->flags & C_HEADERS_SENT)) {
		f[n++] = GRPC__F_CT_GRPC;
		n = grpc__status_fields(c->srv, f, n, code, status, msg);
		n = add_out_md(c, f, n, -1);
		if (accept_identity)
			f[n++] = ae;
		h2_submit_response(sc->h2, c->sid, 200, f, n, 1);
		c->flags |= C_HEADERS_SENT;
	} else {
		n = grpc__status_fields(c->srv, f, n, code, status, msg);
		n = add_out_md(c, f, n, 1);
		h2_submit_trailers(sc->h2, c->sid, f, n);
	}
	if (!(c->flags & C_REQ_DONE))
		h2_submit_rst_stream(sc->h2, c->sid, H2_NO_ERROR);
	grpc_transport_kick(&sc->tr);
}

/* The stream is gone (or ended by the server itself) while the call lives. */
void grpc__call_gone(grpc_call *c, int status)
{
	grpc_server *s = c->srv;

	c->flags |= C_GONE;
	c->cancel_status = status;
	io_timer_stop(s->loop, &c->timer);
	if (c->unconsumed && c->conn && !c->conn->dying)
		h2_conn_consume(c->conn->h2, c->sid, c->unconsumed);
	c->unconsumed = 0;
	grpc__call_unlink(c);
	c->conn = NULL;
	if (!(c->flags & C_DISPATCHED)) {
		grpc__call_release(c);
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
void grpc__call_abort(grpc_call *c, int status, const char *msg)
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
		grpc__call_gone(c, status);
		return;
	}
	call_end_stream(c, status, msg, status == GRPC_UNIMPLEMENTED);
	if (!(c->flags & C_DISPATCHED))
		c->srv->stats.calls_rejected++;
	grpc__call_gone(c, status);
}

static void call_timer_cb(io_loop *loop, void *arg)
{
	grpc_call *c = arg;

	(void)loop;
	if (c->conn)
		grpc__call_abort(c, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
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

const char *grpc_call_metadata_get_id(const grpc_call *c, const char *name, size_t *len, uint64_t *value_id)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < c->nmd; i++) {
		if (c->md[i].name_len == n && mem_eq(c->md[i].name, name, n)) {
			if (len)
				*len = c->md[i].value_len;
			if (value_id)
				*value_id = c->md_ids[i];
			return c->md[i].value;
		}
	}
	if (value_id)
		*value_id = 0;
	return NULL;
}

const char *grpc_call_metadata_get(const grpc_call *c, const char *name, size_t *len)
{
	return grpc_call_metadata_get_id(c, name, len, NULL);
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

	f[n++] = GRPC__F_CT_GRPC;
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
	if (c->flags & C_IN_HANDLER) {
		/* The bidi code that runs the handler still uses c: it releases it. */
		c->flags |= C_FINISH_LATER | C_GONE;
		c->flags &= ~C_DISPATCHED;
		return rc;
	}
	grpc__call_release(c);
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


const void *grpc_call_conn_id(const grpc_call *c)
{
	return c->conn;
}
