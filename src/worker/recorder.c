/*
 * Implementation notes.
 *
 * Entries live in one array sized at creation, so a write's completion can
 * point at its entry; an entry with a write in flight is never reused.  A
 * repeat only bumps the entry's count: whatever is above what the server
 * holds (written) goes out in the next PATCH, which the completion of the
 * current write or the refill timer sends.  Observed uids are a small
 * name -> uid list (the clusters of one worker).
 */
#include "worker/recorder.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "k8s/events.h"

#define BODY_MAX 8192

struct rec_entry {
	int used;
	recorder *r;
	char *object, *uid, *reason, *message;
	int warning;
	char name[320];
	int32_t count;		/* times recorded */
	int32_t written;	/* count the server has */
	int32_t sending;	/* count in the write in flight */
	int64_t first_wall, last_wall;
	int64_t last_mono;
	int in_flight;
	int created;
	uint64_t lru;
};

struct uid_ent {
	char *name, *uid;
};

struct recorder {
	io_loop *loop;
	struct recorder_sink sink;
	char *namespace_, *instance;
	int max_per_s;
	int64_t window_ms;
	int64_t (*wall_ms)(void);
	struct rec_entry *e;
	size_t ne;
	struct uid_ent *uids;
	size_t nuids;
	recorder_uid_fn uid_fn;		/* set: uids come from it, not from uids[] */
	void *uid_ctx;
	char uid_buf[64];
	int64_t tokens_milli;		/* thousandths of a write */
	int64_t refill_ms;
	uint64_t lru_clock, seq;
	io_timer timer;
	struct recorder_stats st;
};

static void timer_cb(io_loop *loop, void *arg);

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

recorder *recorder_new(io_loop *loop, const struct recorder_sink *sink, const struct recorder_opts *o)
{
	recorder *r = xcalloc(1, sizeof(*r));
	size_t n = o->max_entries ? o->max_entries : 256;

	r->loop = loop;
	r->sink = *sink;
	r->max_per_s = o->max_per_s > 0 ? o->max_per_s : 10;
	r->window_ms = o->window_ms > 0 ? o->window_ms : 10 * 60 * 1000;
	r->wall_ms = o->wall_ms ? o->wall_ms : clock_wall_ms;
	r->namespace_ = dup_or_empty(o->namespace_);
	r->instance = o->instance ? xstrdup(o->instance) : NULL;
	r->e = xcalloc(n, sizeof(*r->e));
	r->ne = n;
	r->tokens_milli = (int64_t)r->max_per_s * 1000;
	r->refill_ms = io_loop_now(loop);
	io_timer_init(&r->timer, timer_cb, r);
	return r;
}

static void entry_clear(struct rec_entry *e)
{
	free(e->object);
	free(e->uid);
	free(e->reason);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

void recorder_free(recorder *r)
{
	if (r == NULL)
		return;
	io_timer_stop(r->loop, &r->timer);
	for (size_t i = 0; r->e && i < r->ne; i++)
		entry_clear(&r->e[i]);
	for (size_t i = 0; i < r->nuids; i++) {
		free(r->uids[i].name);
		free(r->uids[i].uid);
	}
	free(r->uids);
	free(r->e);
	free(r->namespace_);
	free(r->instance);
	free(r);
}

/* ---- uids ------------------------------------------------------------------------- */

static struct uid_ent *find_uid(recorder *r, const char *name)
{
	for (size_t i = 0; i < r->nuids; i++)
		if (strcmp(r->uids[i].name, name) == 0)
			return &r->uids[i];
	return NULL;
}

void recorder_set_uid_lookup(recorder *r, recorder_uid_fn fn, void *ctx)
{
	r->uid_fn = fn;
	r->uid_ctx = ctx;
}

void recorder_observe(recorder *r, const char *name, const char *uid)
{
	struct uid_ent *u;
	char *copy;

	if (r->uid_fn)
		return;
	u = find_uid(r, name);

	if (uid == NULL || uid[0] == '\0') {
		if (u) {
			free(u->name);
			free(u->uid);
			*u = r->uids[--r->nuids];
		}
		return;
	}
	if (u) {
		if (strcmp(u->uid, uid) != 0) {
			copy = xstrdup(uid);
			free(u->uid);
			u->uid = copy;
		}
		return;
	}
	r->uids = xrealloc(r->uids, (r->nuids + 1) * sizeof(*r->uids));
	u = &r->uids[r->nuids];
	u->name = xstrdup(name);
	u->uid = xstrdup(uid);
	r->nuids++;
}

/* ---- rate ------------------------------------------------------------------------- */

static void refill(recorder *r)
{
	int64_t now = io_loop_now(r->loop), cap = (int64_t)r->max_per_s * 1000;

	if (now > r->refill_ms) {
		r->tokens_milli += (now - r->refill_ms) * r->max_per_s;
		if (r->tokens_milli > cap)
			r->tokens_milli = cap;
	}
	r->refill_ms = now;
}

static int take_token(recorder *r)
{
	refill(r);
	if (r->tokens_milli < 1000)
		return 0;
	r->tokens_milli -= 1000;
	return 1;
}

static void arm_timer(recorder *r)
{
	int64_t wait = (1000 - r->tokens_milli + r->max_per_s - 1) / r->max_per_s;

	if (!io_timer_active(&r->timer))
		io_timer_start(r->loop, &r->timer, wait > 0 ? wait : 1);
}

/* ---- writes ----------------------------------------------------------------------- */

static void on_written(void *arg, const k8s_error *err, int http_status, const uint8_t *body, size_t len);

static void send_create(struct rec_entry *e)
{
	recorder *r = e->r;
	k8s_event_spec spec = {r->namespace_, e->name, e->object, e->uid, e->warning, e->reason, e->message,
	    r->instance, e->first_wall, e->last_wall, e->count};
	uint8_t body[BODY_MAX];
	char path[400];
	int n = k8s_event_write_body(&spec, body, sizeof(body));

	if (n < 0 || k8s_event_path(r->namespace_, NULL, path, sizeof(path)) < 0) {
		r->st.failed++;
		entry_clear(e);
		return;
	}
	e->in_flight = 1;
	e->sending = e->count;
	r->sink.write(r->sink.impl, 0, path, body, (size_t)n, on_written, e);
}

static void send_patch(struct rec_entry *e)
{
	recorder *r = e->r;
	uint8_t body[128];
	char path[700];
	int n = k8s_event_write_patch(e->count, e->last_wall, body, sizeof(body));

	if (n < 0 || k8s_event_path(r->namespace_, e->name, path, sizeof(path)) < 0) {
		r->st.failed++;
		return;
	}
	e->in_flight = 1;
	e->sending = e->count;
	r->sink.write(r->sink.impl, 1, path, body, (size_t)n, on_written, e);
}

/* Sends what the server lacks of e, now or when a write is allowed. */
static void flush_entry(struct rec_entry *e)
{
	if (!e->used || e->in_flight || !e->created || e->count == e->written)
		return;
	if (take_token(e->r))
		send_patch(e);
	else
		arm_timer(e->r);
}

static void timer_cb(io_loop *loop, void *arg)
{
	recorder *r = arg;

	(void)loop;
	for (size_t i = 0; i < r->ne; i++) {
		struct rec_entry *e = &r->e[i];
		if (!e->used || e->in_flight || !e->created || e->count == e->written)
			continue;
		if (!take_token(r)) {
			arm_timer(r);
			return;
		}
		send_patch(e);
	}
}

static void on_written(void *arg, const k8s_error *err, int http_status, const uint8_t *body, size_t len)
{
	struct rec_entry *e = arg;
	recorder *r = e->r;
	int was_create = !e->created;

	(void)http_status;
	(void)body;
	(void)len;
	e->in_flight = 0;
	if (err->kind != K8S_OK) {
		r->st.failed++;
		log_warn("Cannot record an Event", "object", e->object, "reason", e->reason, "op",
		    was_create ? "create" : "patch", "error", err->message, NULL);
		/* Forget it: the next repeat starts a new Event rather than patching one that may not exist. */
		entry_clear(e);
		return;
	}
	if (was_create)
		r->st.created++;
	else
		r->st.patched++;
	e->created = 1;
	e->written = e->sending;
	flush_entry(e);
}

/* ---- recording -------------------------------------------------------------------- */

static int same_key(const struct rec_entry *e, const char *object, const char *uid, const char *reason,
    const char *message)
{
	/* The uid names the object when known (a Deployment deleted and made again is another). */
	return strcmp(e->object, object) == 0 && strcmp(e->uid, uid) == 0 && strcmp(e->reason, reason) == 0 &&
	    strcmp(e->message, message) == 0;
}

/* A free entry, else the least recently used one without a write in flight, else NULL. */
static struct rec_entry *victim(recorder *r)
{
	struct rec_entry *best = NULL;

	for (size_t i = 0; i < r->ne; i++) {
		struct rec_entry *e = &r->e[i];
		if (!e->used)
			return e;
		if (!e->in_flight && (best == NULL || e->lru < best->lru))
			best = e;
	}
	return best;
}

void recorder_record(recorder *r, const char *object, const char *uid, int warning, const char *reason,
    const char *message)
{
	int64_t now = io_loop_now(r->loop), wall = r->wall_ms();
	struct uid_ent *u;
	struct rec_entry *e;

	r->st.recorded++;
	if ((uid == NULL || uid[0] == '\0') && r->uid_fn)
		uid = r->uid_fn(r->uid_ctx, object, r->uid_buf, sizeof(r->uid_buf)) ? r->uid_buf : "";
	else if (uid == NULL || uid[0] == '\0')
		uid = (u = find_uid(r, object)) ? u->uid : "";
	for (size_t i = 0; i < r->ne; i++) {
		e = &r->e[i];
		if (!e->used || !same_key(e, object, uid, reason, message))
			continue;
		if (now - e->last_mono > r->window_ms) {
			if (e->in_flight)
				break;	/* cannot reuse it yet: a new entry below */
			entry_clear(e);
			break;
		}
		e->count++;
		e->last_wall = wall;
		e->last_mono = now;
		e->lru = ++r->lru_clock;
		flush_entry(e);
		return;
	}
	if (!take_token(r)) {
		r->st.dropped++;
		return;
	}
	e = victim(r);
	if (e == NULL) {
		r->st.dropped++;
		return;
	}
	entry_clear(e);
	e->used = 1;
	e->r = r;
	e->object = xstrdup(object);
	e->uid = xstrdup(uid);
	e->reason = xstrdup(reason);
	e->message = xstrdup(message);
	e->warning = warning;
	e->count = 1;
	e->first_wall = e->last_wall = wall;
	e->last_mono = now;
	e->lru = ++r->lru_clock;
	/* As client-go names them: the object, a dot, a number unique to this recorder. */
	snprintf(e->name, sizeof(e->name), "%.253s.%" PRIx64, object, (uint64_t)wall * 1000000u + (++r->seq % 1000000u));
	send_create(e);
}

const struct recorder_stats *recorder_stats_get(const recorder *r)
{
	return &r->st;
}

void recorder_write_metrics(buf *out, void *arg)
{
	const recorder *r = arg;

	buf_printf(out, "# HELP cplane_events_written_total Kubernetes Events written, by operation.\n"
	    "# TYPE cplane_events_written_total counter\n"
	    "cplane_events_written_total{op=\"create\"} %" PRIu64 "\n"
	    "cplane_events_written_total{op=\"patch\"} %" PRIu64 "\n"
	    "# HELP cplane_events_failed_total Event writes the API server refused or never answered.\n"
	    "# TYPE cplane_events_failed_total counter\ncplane_events_failed_total %" PRIu64 "\n"
	    "# HELP cplane_events_dropped_total New Events dropped over the write rate limit.\n"
	    "# TYPE cplane_events_dropped_total counter\ncplane_events_dropped_total %" PRIu64 "\n",
	    r->st.created, r->st.patched, r->st.failed, r->st.dropped);
}
