/*
 * HTTP/2 connection: lifecycle, the stream table, settings, errors, timers
 * and receive-side flow control.
 *
 * Implementation notes.
 * - Streams live in an open-addressing table keyed by id (linear probing,
 *   backward-shift deletion) and come from a free list, so a unary call
 *   costs no malloc once the connection is warm.  The list keeps as many
 *   objects as were live at once in the last second (at most
 *   H2_KEEP_FREE_MAX), so a client that keeps 100 streams open does not
 *   free and reallocate the ones past a fixed bound every turn (musl then
 *   unmaps and maps a page each time); ticks trim it back to H2_KEEP_FREE
 *   once the load is gone.
 * - Only live streams have objects.  A closed stream is remembered in a ring
 *   of the last H2_CLOSED_RING ids with how it ended, which is what §5.1
 *   needs: frames after our RST_STREAM are ignored, frames after the peer's
 *   RST_STREAM or END_STREAM are STREAM_CLOSED, and a HEADERS on a lower id
 *   that never opened is PROTOCOL_ERROR.
 * - Rate limits are token buckets refilled from the clock h2_conn_tick()
 *   gives; without ticks they degrade to plain counters.
 */
#include "h2/h2_int.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

#define H2_KEEP_FREE 64		/* stream objects always kept for reuse */
#define H2_KEEP_FREE_MAX 512	/* ... and at most, while that many were live at once */

const char *h2_error_code_str(uint32_t code)
{
	static const char *const names[] = {
		"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
		"STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
		"CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : "UNKNOWN";
}

const char *h2_strerror(int err)
{
	switch (err) {
	case H2_OK: return "ok";
	case H2_ERR_CONN: return "connection failed";
	case H2_ERR_NOMEM: return "out of memory";
	case H2_ERR_NO_STREAM: return "no such stream";
	case H2_ERR_STREAM_STATE: return "not allowed in the stream's state";
	case H2_ERR_NO_IDS: return "no new streams on this connection";
	case H2_ERR_CONCURRENCY: return "peer's concurrent stream limit reached";
	case H2_ERR_CLOSING: return "connection is closing";
	case H2_ERR_INVALID: return "invalid argument";
	default: return "unknown error";
	}
}

void h2_settings_default(h2_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->header_table_size = 4096;
	s->enable_push = 0;
	s->max_concurrent_streams = 1000;
	s->keep_blocks = 1;
	s->initial_window_size = 1u << 20;
	s->max_frame_size = H2_DEFAULT_MAX_FRAME;
	s->max_header_list_size = 65536;
	s->connection_window = 16u << 20;
	s->settings_timeout_ms = 10000;
	s->auto_consume = 0;
	s->max_continuations = 8;
	s->max_queued_control = 10000;
	s->output_high_water = 256 * 1024;
	s->stall_timeout_ms = 60000;
}

static void bucket_init(h2_bucket *b, uint32_t burst, uint32_t per_s)
{
	b->burst = burst;
	b->per_s = per_s;
	b->tokens = (int64_t)burst * 1000;
	b->last_ms = 0;
}

static void bucket_refill(const h2_conn *c, h2_bucket *b)
{
	if (c->now_ms > b->last_ms) {
		if (b->last_ms != 0) {
			b->tokens += (c->now_ms - b->last_ms) * b->per_s;
			if (b->tokens > (int64_t)b->burst * 1000)
				b->tokens = (int64_t)b->burst * 1000;
		}
		b->last_ms = c->now_ms;
	}
}

static int bucket_full(const h2_bucket *b)
{
	return b->tokens >= (int64_t)b->burst * 1000;
}

/* Some bucket is refilling: the io layer must keep ticking (see h2_conn_next_deadline). */
static int buckets_refilling(const h2_conn *c)
{
	return !bucket_full(&c->rst_in) || !bucket_full(&c->provoked) || !bucket_full(&c->empty_data) ||
	    !bucket_full(&c->settings_in);
}

int h2__bucket_take(h2_conn *c, h2_bucket *b)
{
	bucket_refill(c, b);
	if (b->tokens < 1000)
		return -1;
	b->tokens -= 1000;
	return 0;
}

/* ---- stream table ---- */

static size_t slot_of(const h2_conn *c, uint32_t id)
{
	return (size_t)(id * 0x9e3779b1u) & (c->tab_cap - 1);
}

h2_stream *h2__find(const h2_conn *c, uint32_t id)
{
	size_t i;

	if (c->tab_cap == 0 || id == 0)
		return NULL;
	for (i = slot_of(c, id); c->tab[i]; i = (i + 1) & (c->tab_cap - 1))
		if (c->tab[i]->id == id)
			return c->tab[i];
	return NULL;
}

static void tab_grow(h2_conn *c)
{
	size_t cap = c->tab_cap ? c->tab_cap * 2 : 16, i, j;
	h2_stream **old = c->tab, **tab = xcalloc(cap, sizeof(*tab));

	c->tab = tab;
	for (i = 0; i < c->tab_cap; i++) {
		if (old[i] == NULL)
			continue;
		for (j = (size_t)(old[i]->id * 0x9e3779b1u) & (cap - 1); tab[j]; j = (j + 1) & (cap - 1))
			;
		tab[j] = old[i];
	}
	c->tab_cap = cap;
	free(old);
}

static void tab_remove(h2_conn *c, h2_stream *s)
{
	size_t mask = c->tab_cap - 1, i, j, k;

	for (i = slot_of(c, s->id); c->tab[i] != s; i = (i + 1) & mask)
		;
	c->tab[i] = NULL;
	/* Backward shift: pull later entries of the probe run into the hole. */
	for (j = (i + 1) & mask; c->tab[j]; j = (j + 1) & mask) {
		int stays;

		k = slot_of(c, c->tab[j]->id);
		stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			c->tab[i] = c->tab[j];
			c->tab[j] = NULL;
			i = j;
		}
	}
	c->nstreams--;
}

h2_stream *h2__stream_new(h2_conn *c, uint32_t id)
{
	h2_stream *s;
	size_t i;

	if ((c->nstreams + 1) * 2 > c->tab_cap)
		tab_grow(c);
	if ((s = c->free_list) != NULL) {
		c->free_list = s->next;
		c->nfree--;
	} else {
		s = xcalloc(1, sizeof(*s));
	}
	{
		buf q = s->sendq, t = s->trailers;

		memset(s, 0, sizeof(*s));
		s->sendq = q;
		s->trailers = t;
		buf_reset(&s->sendq);
		buf_reset(&s->trailers);
	}
	s->id = id;
	s->send_window = c->peer_initial_window;
	s->recv_window = c->local.initial_window_size;
	/* Until our SETTINGS is acknowledged the peer may still assume 65535. */
	if (c->settings_pending && s->recv_window < H2_DEFAULT_WINDOW)
		s->recv_window = H2_DEFAULT_WINDOW;
	s->content_length = -1;
	for (i = slot_of(c, id); c->tab[i]; i = (i + 1) & (c->tab_cap - 1))
		;
	c->tab[i] = s;
	c->nstreams++;
	if (c->nstreams > c->spare_peak)
		c->spare_peak = c->nstreams;
	if (h2__is_local_id(c, id))
		c->n_local++;
	else
		c->n_remote++;
	return s;
}

static void stream_release(h2_conn *c, h2_stream *s)
{
	/* Small queues keep their storage for the next stream; big ones go back to malloc. */
	if (s->sendq.cap > 4096)
		buf_free(&s->sendq);
	if (s->trailers.cap > 1024)
		buf_free(&s->trailers);
	if (c->nfree < H2_KEEP_FREE || (c->nfree < c->spare_peak && c->nfree < H2_KEEP_FREE_MAX)) {
		s->next = c->free_list;
		c->free_list = s;
		c->nfree++;
		return;
	}
	buf_free(&s->sendq);
	buf_free(&s->trailers);
	free(s);
}

void h2__stream_close(h2_conn *c, h2_stream *s, uint32_t code, int remote, int how)
{
	uint32_t id = s->id;
	void *su = s->user;
	int delivered = s->delivered;
	uint64_t unconsumed = s->recv_unconsumed;

	if (s->pending)
		h2__unlink_pending(c, s);
	tab_remove(c, s);
	if (h2__is_local_id(c, id))
		c->n_local--;
	else
		c->n_remote--;
	stream_release(c, s);
	h2__closed_remember(c, id, how);
	/* What the app never consumed must not keep the connection window shut. */
	if (unconsumed && !c->failed && !c->freeing)
		h2__window_update_conn(c, (size_t)unconsumed);
	if (delivered && c->cb.on_stream_close)
		c->cb.on_stream_close(c, c->user, (int32_t)id, su, code, remote);
}

int h2__stream_maybe_close(h2_conn *c, h2_stream *s)
{
	if (!s->local_closed || !s->remote_closed)
		return 0;
	h2__stream_close(c, s, H2_NO_ERROR, 0, CLOSED_NORMAL);
	return 1;
}

int h2__is_local_id(const h2_conn *c, uint32_t id)
{
	/* Clients open odd streams, servers even ones. */
	return (id & 1u) == (c->role == H2_ROLE_CLIENT ? 1u : 0u);
}

int h2__is_idle(const h2_conn *c, uint32_t id)
{
	if (h2__is_local_id(c, id))
		return id >= c->next_local_id;
	return id > c->last_peer_id;
}

int h2__closed_how(const h2_conn *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < H2_CLOSED_RING; i++)
		if (c->closed[i].id == id)
			return (int)c->closed[i].how;
	return 0;
}

void h2__closed_remember(h2_conn *c, uint32_t id, int how)
{
	c->closed[c->closed_pos].id = id;
	c->closed[c->closed_pos].how = (uint32_t)how;
	c->closed_pos = (c->closed_pos + 1) % H2_CLOSED_RING;
}

/* ---- errors ---- */

static void close_all_streams(h2_conn *c, uint32_t code, int remote)
{
	size_t i;

	while (c->nstreams > 0) {
		for (i = 0; i < c->tab_cap && c->tab[i] == NULL; i++)
			;
		if (i == c->tab_cap)
			break;
		h2__stream_close(c, c->tab[i], code, remote, CLOSED_RESET_BY_US);
	}
}

int h2__conn_error(h2_conn *c, uint32_t code, const char *desc)
{
	if (c->failed)
		return H2_ERR_CONN;
	c->failed = 1;
	c->error_code = code;
	c->error_desc = desc;
	if (code == H2_ENHANCE_YOUR_CALM)
		c->stats.calm_trips++;
	/* The GOAWAY goes out past every cap: it is the last thing we say. */
	buf_set_limit(&c->out, 0);
	if (h2_frame_put_goaway(&c->out, c->last_peer_id, code, (const uint8_t *)desc,
	    desc ? strlen(desc) : 0) == 0)
		c->stats.frames_out++;
	c->goaway_sent = 2;
	c->goaway_sent_last = c->last_peer_id;
	close_all_streams(c, code, 0);
	return H2_ERR_CONN;
}

int h2__ctl_queued(h2_conn *c)
{
	c->ctl_since_epoch++;
	if (++c->ctl_queued > c->local.max_queued_control)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many control frames queued");
	return 0;
}

int h2__stream_error(h2_conn *c, uint32_t id, uint32_t code)
{
	h2_stream *s = h2__find(c, id);

	if (h2_frame_put_rst_stream(&c->out, id, code) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	c->stats.frames_out++;
	c->stats.streams_reset_by_us++;
	if (s)
		h2__stream_close(c, s, code, 0, CLOSED_RESET_BY_US);
	else
		h2__closed_remember(c, id, CLOSED_RESET_BY_US);
	if (c->failed)
		return H2_ERR_CONN;
	if (h2__bucket_take(c, &c->provoked) != 0)
		return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "too many stream errors");
	return h2__ctl_queued(c);
}

/* ---- settings ---- */

int h2__apply_settings(h2_conn *c, const h2_frame *f)
{
	size_t i, n = f->data_len / 6;
	uint16_t id;
	uint32_t v;

	for (i = 0; i < n; i++) {
		h2_frame_setting(f, i, &id, &v);
		switch (id) {
		case H2_SETTINGS_HEADER_TABLE_SIZE:
			/* We may use less than the peer allows; cap our encoder's memory. */
			hpack_encoder_set_max_size(&c->enc, v < 4096 ? v : 4096);
			break;
		case H2_SETTINGS_ENABLE_PUSH:
			if (v > 1 || (c->role == H2_ROLE_CLIENT && v != 0))
				return h2__conn_error(c, H2_PROTOCOL_ERROR, "bad SETTINGS_ENABLE_PUSH");
			break;
		case H2_SETTINGS_MAX_CONCURRENT_STREAMS:
			c->peer_max_concurrent = v;
			break;
		case H2_SETTINGS_INITIAL_WINDOW_SIZE: {
			int64_t delta = (int64_t)v - c->peer_initial_window;
			size_t k;

			if (v > H2_MAX_WINDOW)
				return h2__conn_error(c, H2_FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE too large");
			/* §6.9.2: the change applies to every open stream's window. */
			for (k = 0; k < c->tab_cap; k++) {
				h2_stream *s = c->tab[k];

				if (s == NULL)
					continue;
				s->send_window += delta;
				if (s->send_window > H2_MAX_WINDOW)
					return h2__conn_error(c, H2_FLOW_CONTROL_ERROR, "stream window overflow");
			}
			c->peer_initial_window = v;
			break;
		}
		case H2_SETTINGS_MAX_FRAME_SIZE:
			if (v < H2_DEFAULT_MAX_FRAME || v > H2_MAX_FRAME_LIMIT)
				return h2__conn_error(c, H2_PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE");
			c->peer_max_frame = v;
			break;
		case H2_SETTINGS_MAX_HEADER_LIST_SIZE:
			c->peer_max_header_list = v;
			break;
		case H2_SETTINGS_ENABLE_CONNECT_PROTOCOL:
		case H2_SETTINGS_NO_RFC7540_PRIORITIES:
			if (v > 1)
				return h2__conn_error(c, H2_PROTOCOL_ERROR, "bad boolean SETTINGS value");
			break;
		default:	/* §6.5.2: unknown settings are ignored */
			break;
		}
	}
	return 0;
}

static int send_local_settings(h2_conn *c)
{
	uint16_t ids[8];
	uint32_t vals[8];
	size_t n = 0;
	const h2_settings *l = &c->local;

	if (l->header_table_size != 4096) {
		ids[n] = H2_SETTINGS_HEADER_TABLE_SIZE;
		vals[n++] = l->header_table_size;
	}
	if (c->role == H2_ROLE_CLIENT) {
		ids[n] = H2_SETTINGS_ENABLE_PUSH;
		vals[n++] = 0;
	}
	ids[n] = H2_SETTINGS_MAX_CONCURRENT_STREAMS;
	vals[n++] = l->max_concurrent_streams;
	if (l->initial_window_size != H2_DEFAULT_WINDOW) {
		ids[n] = H2_SETTINGS_INITIAL_WINDOW_SIZE;
		vals[n++] = l->initial_window_size;
	}
	if (l->max_frame_size != H2_DEFAULT_MAX_FRAME) {
		ids[n] = H2_SETTINGS_MAX_FRAME_SIZE;
		vals[n++] = l->max_frame_size;
	}
	if (l->max_header_list_size != 0) {
		ids[n] = H2_SETTINGS_MAX_HEADER_LIST_SIZE;
		vals[n++] = l->max_header_list_size;
	}
	if (h2_frame_put_settings(&c->out, ids, vals, n) != 0)
		return -1;
	c->stats.frames_out++;
	c->settings_pending = 1;
	if (l->connection_window > H2_DEFAULT_WINDOW) {
		if (h2_frame_put_window_update(&c->out, 0, l->connection_window - H2_DEFAULT_WINDOW) != 0)
			return -1;
		c->stats.frames_out++;
		c->recv_window = l->connection_window;
	}
	return 0;
}

/* ---- lifecycle ---- */

h2_conn *h2_conn_new(enum h2_role role, const h2_settings *local, const h2_callbacks *cb, void *user)
{
	h2_conn *c = xcalloc(1, sizeof(*c));

	c->role = role;
	if (local)
		c->local = *local;
	else
		h2_settings_default(&c->local);
	/* Clamp to what the RFC allows us to advertise. */
	if (c->local.initial_window_size > H2_MAX_WINDOW)
		c->local.initial_window_size = H2_MAX_WINDOW;
	if (c->local.connection_window > H2_MAX_WINDOW)
		c->local.connection_window = H2_MAX_WINDOW;
	if (c->local.max_frame_size < H2_DEFAULT_MAX_FRAME)
		c->local.max_frame_size = H2_DEFAULT_MAX_FRAME;
	if (c->local.max_frame_size > H2_MAX_FRAME_LIMIT)
		c->local.max_frame_size = H2_MAX_FRAME_LIMIT;
	if (c->local.output_high_water == 0)
		c->local.output_high_water = 256 * 1024;
	if (cb)
		c->cb = *cb;
	c->user = user;
	c->peer_max_concurrent = UINT32_MAX;
	c->peer_initial_window = H2_DEFAULT_WINDOW;
	c->peer_max_frame = H2_DEFAULT_MAX_FRAME;
	c->peer_max_header_list = UINT32_MAX;
	c->next_local_id = role == H2_ROLE_CLIENT ? 1 : 2;
	c->send_window = H2_DEFAULT_WINDOW;
	c->recv_window = H2_DEFAULT_WINDOW;
	c->preface_have = role == H2_ROLE_SERVER ? 0 : H2_PREFACE_LEN;
	bucket_init(&c->rst_in, 1000, 33);
	bucket_init(&c->provoked, 1000, 33);
	bucket_init(&c->empty_data, 1000, 100);
	bucket_init(&c->settings_in, 1000, 100);
	/* The peer may use 4096 until it has seen our SETTINGS; a smaller limit applies on ACK. */
	if (hpack_decoder_init(&c->dec, c->local.header_table_size > 4096 ? c->local.header_table_size : 4096) != 0)
		goto fail_dec;
	hpack_decoder_set_value_check(&c->dec, h2__value_ok);
	if (hpack_encoder_init(&c->enc, 4096) != 0)
		goto fail_enc;
	if (role == H2_ROLE_CLIENT && buf_append(&c->out, H2_PREFACE, H2_PREFACE_LEN) != 0)
		goto fail_out;
	if (send_local_settings(c) != 0)
		goto fail_out;
	return c;

fail_out:
	buf_free(&c->out);
	hpack_encoder_free(&c->enc);
fail_enc:
	hpack_decoder_free(&c->dec);
fail_dec:
	free(c);
	return NULL;
}

void h2_conn_free(h2_conn *c)
{
	h2_stream *s;

	if (c == NULL)
		return;
	c->freeing = 1;
	close_all_streams(c, H2_CANCEL, 0);
	while ((s = c->free_list) != NULL) {
		c->free_list = s->next;
		buf_free(&s->sendq);
		buf_free(&s->trailers);
		free(s);
	}
	free(c->tab);
	free(c->memo);
	hpack_decoder_free(&c->dec);
	hpack_encoder_free(&c->enc);
	buf_free(&c->inbuf);
	buf_free(&c->block);
	buf_free(&c->fstore);
	free(c->rq_memo);
	buf_free(&c->out);
	free(c->frec);
	free(c->fields);
	free(c->value_ids);
	free(c);
}

/* ---- receive-side flow control ---- */

int h2__window_update_conn(h2_conn *c, size_t n)
{
	uint32_t half = c->local.connection_window > H2_DEFAULT_WINDOW ? c->local.connection_window / 2 :
	    H2_DEFAULT_WINDOW / 2;

	if (n > H2_MAX_WINDOW)
		n = H2_MAX_WINDOW;
	c->recv_unacked += (uint32_t)n;
	if (c->recv_unacked < half || c->failed)
		return 0;
	if (h2_frame_put_window_update(&c->out, 0, c->recv_unacked) != 0)
		return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
	c->stats.frames_out++;
	c->recv_window += c->recv_unacked;
	c->recv_unacked = 0;
	return 0;
}

int h2_conn_consume(h2_conn *c, int32_t stream_id, size_t n)
{
	h2_stream *s;

	if (c->failed)
		return H2_ERR_CONN;
	if (n == 0)
		return 0;
	if (stream_id != 0) {
		s = stream_id > 0 ? h2__find(c, (uint32_t)stream_id) : NULL;
		/* A closed stream's unconsumed bytes went back to the connection when it closed. */
		if (s == NULL)
			return 0;
		if (n > s->recv_unconsumed)
			n = (size_t)s->recv_unconsumed;
		s->recv_unconsumed -= n;
	} else {
		s = NULL;
	}
	if (h2__window_update_conn(c, n) != 0)
		return H2_ERR_CONN;
	if (s == NULL || s->remote_closed)
		return 0;
	s->recv_unacked += (uint32_t)(n > H2_MAX_WINDOW ? H2_MAX_WINDOW : n);
	if (s->recv_unacked >= c->local.initial_window_size / 2) {
		if (h2_frame_put_window_update(&c->out, s->id, s->recv_unacked) != 0)
			return h2__conn_error(c, H2_INTERNAL_ERROR, "out of memory");
		c->stats.frames_out++;
		s->recv_window += s->recv_unacked;
		s->recv_unacked = 0;
	}
	return 0;
}

/* ---- timers ---- */

/* Frees spare stream objects beyond what the last second needed; at most once a second. */
static void trim_spares(h2_conn *c)
{
	size_t keep;

	if (c->nfree <= H2_KEEP_FREE)
		return;
	if (c->spare_trim_at == 0 || c->now_ms < c->spare_trim_at) {
		if (c->spare_trim_at == 0)
			c->spare_trim_at = c->now_ms + 1000;
		return;
	}
	keep = c->spare_peak > c->nstreams ? c->spare_peak - c->nstreams : 0;
	if (keep < H2_KEEP_FREE)
		keep = H2_KEEP_FREE;
	while (c->nfree > keep) {
		h2_stream *s = c->free_list;

		c->free_list = s->next;
		c->nfree--;
		buf_free(&s->sendq);
		buf_free(&s->trailers);
		free(s);
	}
	c->spare_peak = c->nstreams;
	c->spare_trim_at = c->nfree > H2_KEEP_FREE ? c->now_ms + 1000 : 0;
}

int h2_conn_tick(h2_conn *c, int64_t now_ms)
{
	if (now_ms > c->now_ms)
		c->now_ms = now_ms;
	if (c->failed)
		return H2_ERR_CONN;
	trim_spares(c);
	bucket_refill(c, &c->rst_in);
	bucket_refill(c, &c->provoked);
	bucket_refill(c, &c->empty_data);
	bucket_refill(c, &c->settings_in);
	if (c->settings_pending && c->local.settings_timeout_ms) {
		if (c->settings_deadline == 0)
			c->settings_deadline = c->now_ms + c->local.settings_timeout_ms;
		else if (c->now_ms >= c->settings_deadline)
			return h2__conn_error(c, H2_SETTINGS_TIMEOUT, "SETTINGS not acknowledged");
	}
	if (c->graceful_wait) {
		if (c->graceful_deadline == 0)
			c->graceful_deadline = c->now_ms + 1000;
		else if (c->now_ms >= c->graceful_deadline)
			h2__goaway_final(c);
	}
	if (c->local.stall_timeout_ms && c->npending > 0 && !h2_conn_want_write(c)) {
		if (c->stall_since == 0)
			c->stall_since = c->now_ms;
		else if (c->now_ms - c->stall_since >= c->local.stall_timeout_ms)
			return h2__conn_error(c, H2_ENHANCE_YOUR_CALM, "peer kept its window shut");
	} else {
		c->stall_since = 0;
	}
	return c->failed ? H2_ERR_CONN : 0;
}

int64_t h2_conn_next_deadline(const h2_conn *c)
{
	int64_t d = -1;

	if (c->failed)
		return -1;
	if (c->settings_pending && c->local.settings_timeout_ms)
		d = c->settings_deadline ? c->settings_deadline : c->now_ms;
	if (c->graceful_wait) {
		int64_t g = c->graceful_deadline ? c->graceful_deadline : c->now_ms;

		if (d < 0 || g < d)
			d = g;
	}
	if (c->local.stall_timeout_ms && c->npending > 0) {
		int64_t st = c->stall_since ? c->stall_since + c->local.stall_timeout_ms : c->now_ms + 1000;

		if (d < 0 || st < d)
			d = st;
	}
	/* Rate limits refill only from ticks: ask for one a second while any is below its burst. */
	if (buckets_refilling(c) && (d < 0 || c->now_ms + 1000 < d))
		d = c->now_ms + 1000;
	/* Spare streams past H2_KEEP_FREE are trimmed from ticks (trim_spares). */
	if (c->nfree > H2_KEEP_FREE) {
		int64_t t = c->spare_trim_at ? c->spare_trim_at : c->now_ms;

		if (d < 0 || t < d)
			d = t;
	}
	return d;
}

/* ---- getters ---- */

uint32_t h2_conn_error_code(const h2_conn *c) { return c->error_code; }
const char *h2_conn_error_desc(const h2_conn *c) { return c->error_desc ? c->error_desc : ""; }
uint32_t h2_conn_peer_max_concurrent_streams(const h2_conn *c) { return c->peer_max_concurrent; }
size_t h2_conn_spare_streams(const h2_conn *c) { return c->nfree; }
uint32_t h2_conn_peer_max_frame_size(const h2_conn *c) { return c->peer_max_frame; }
size_t h2_conn_open_streams(const h2_conn *c) { return c->nstreams; }
int h2_conn_handshaken(const h2_conn *c) { return c->got_settings; }
const h2_stats *h2_conn_stats(const h2_conn *c) { return &c->stats; }

int h2_conn_can_open_stream(const h2_conn *c)
{
	return c->role == H2_ROLE_CLIENT && c->got_settings && !c->failed && !c->goaway_recv &&
	    !c->goaway_sent && c->next_local_id <= H2_MAX_WINDOW && c->n_local < c->peer_max_concurrent;
}

int h2_conn_want_read(const h2_conn *c)
{
	return !c->failed;
}

int h2_conn_want_close(const h2_conn *c)
{
	if (c->failed)
		return 1;
	if (c->nstreams > 0 || c->graceful_wait)
		return 0;
	return c->goaway_sent == 2 || c->goaway_recv;
}

size_t h2_stream_queued_bytes(const h2_conn *c, int32_t stream_id)
{
	h2_stream *s = stream_id > 0 ? h2__find(c, (uint32_t)stream_id) : NULL;

	return s ? buf_len(&s->sendq) : 0;
}

int64_t h2_stream_send_window(const h2_conn *c, int32_t stream_id)
{
	h2_stream *s = stream_id > 0 ? h2__find(c, (uint32_t)stream_id) : NULL;

	if (s == NULL || s->local_closed)
		return 0;
	return s->send_window < c->send_window ? s->send_window : c->send_window;
}

int h2_stream_set_user(h2_conn *c, int32_t stream_id, void *stream_user)
{
	h2_stream *s = stream_id > 0 ? h2__find(c, (uint32_t)stream_id) : NULL;

	if (s == NULL)
		return H2_ERR_NO_STREAM;
	s->user = stream_user;
	return 0;
}

void *h2_stream_get_user(const h2_conn *c, int32_t stream_id)
{
	h2_stream *s = stream_id > 0 ? h2__find(c, (uint32_t)stream_id) : NULL;

	return s ? s->user : NULL;
}
