/*
 * Implementation notes.
 *
 * One request is in flight at a time: a LIST page or the WATCH.  Between
 * them the informer may wait on its timer (backoff, Retry-After).  The
 * decoders run inside the client's on_data, so events are applied as bytes
 * arrive; a watch is stopped from inside by returning nonzero from on_data
 * (the client then closes the connection and reports "aborted by reader"),
 * with `want` recording what to do next.
 *
 * Relist: every record touched by the current list cycle gets the cycle's
 * mark; after the last page, records with an older mark have vanished.  A
 * failed cycle simply starts over with a new mark.
 */
#include "k8s/informer.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"

enum { NEXT_NONE, NEXT_RELIST, NEXT_REWATCH };

#define WATCH_SILENCE_MIN_MS 10000
#define WATCH_SILENCE_MAX_MS 150000

struct k8s_informer {
	k8s_client *c;
	io_loop *loop;
	k8s_informer_opts o;
	k8s_informer_cbs cbs;
	void *ctx;
	k8s_cache *cache;
	k8s_deploy_decoder *list_dec, *watch_dec;
	k8s_req *req;
	io_timer timer;
	k8s_backoff bo;
	int next;		/* what the timer does */
	int want;		/* set from inside a stream: what to do after it ends */
	int synced;
	int listed_once, watched_once;
	int got_event;		/* this watch delivered something */
	int64_t watch_start;	/* io_loop_now() when it was sent */
	io_timer silence;	/* liveness of the running watch */
	int64_t last_byte_ms;	/* io_loop_now() of the watch's last byte (or its start) */
	int64_t last_bookmark_ms;	/* this watch's last BOOKMARK, 0 = none yet */
	int64_t bookmark_interval_ms;	/* the server's cadence as last measured, 0 = unknown */
	int64_t list_start_us;	/* io_loop_clock_us() when this LIST cycle's first page was requested */
	k8s_informer_listed_fn on_listed;
	void *listed_ctx;
	uint32_t mark;
	char rv[K8S_RV_MAX];
	char cont[4096];
	k8s_deployment old;	/* scratch for on_upsert's old */
	k8s_informer_stats st;
};

static void start_list(k8s_informer *inf, int fresh);
static void start_watch(k8s_informer *inf);

/* ---------------------------------------------------------------- applying */

/* Returns 1 if applied, 0 if the cache already had it. */
static int apply_upsert(k8s_informer *inf, const k8s_deployment *d)
{
	const char *rv = k8s_cache_rv(inf->cache, d->name);
	int had = rv != NULL;

	if (had && strcmp(rv, d->resource_version) == 0) {
		inf->st.duplicates++;
		k8s_cache_set_mark(inf->cache, d->name, inf->mark);
		return 0;
	}
	if (had)
		k8s_cache_get(inf->cache, d->name, &inf->old);
	k8s_cache_put(inf->cache, d, NULL);
	k8s_cache_set_mark(inf->cache, d->name, inf->mark);
	if (inf->cbs.on_upsert)
		inf->cbs.on_upsert(inf->ctx, d, had ? &inf->old : NULL);
	return 1;
}

static int apply_delete(k8s_informer *inf, const k8s_deployment *d)
{
	if (!k8s_cache_remove(inf->cache, d->name, &inf->old)) {
		inf->st.duplicates++;
		return 0;
	}
	if (inf->cbs.on_delete)
		inf->cbs.on_delete(inf->ctx, d);
	return 1;
}

static void set_rv(k8s_informer *inf, const char *rv)
{
	if (rv[0])
		str_copy(inf->rv, sizeof(inf->rv), rv);
}

/* ---------------------------------------------------------------- timer */

static void timer_fired(io_loop *loop, void *arg)
{
	k8s_informer *inf = arg;

	(void)loop;
	if (inf->next == NEXT_RELIST)
		start_list(inf, 1);
	else if (inf->next == NEXT_REWATCH)
		start_watch(inf);
}

static void wait_then(k8s_informer *inf, int next, int64_t delay_ms)
{
	inf->next = next;
	inf->req = NULL;
	io_timer_start(inf->loop, &inf->timer, delay_ms);
}

/* After a failure: back off (or honour Retry-After) and do `next`. */
static void retry_later(k8s_informer *inf, int next, const k8s_error *err)
{
	int64_t delay = k8s_backoff_next(&inf->bo);

	if (err && err->kind == K8S_ERR_API && err->code == 429) {
		inf->st.throttled++;
		if (err->retry_after_ms > delay)
			delay = err->retry_after_ms;
	}
	wait_then(inf, next, delay);
}

/* ---------------------------------------------------------------- LIST */

static int on_list_item(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	k8s_informer *inf = ctx;

	(void)st;
	if (type == K8S_EV_ITEM && d)
		apply_upsert(inf, d);
	return 0;
}

static int list_data(void *ctx, const uint8_t *p, size_t n)
{
	k8s_informer *inf = ctx;

	return k8s_deploy_decoder_feed(inf->list_dec, p, n) < 0;
}

struct sweep {
	char (*names)[K8S_NAME_MAX];
	size_t n, cap;
};

static void collect_unmarked(void *ctx, const char *name)
{
	struct sweep *s = ctx;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->names = xrealloc(s->names, s->cap * sizeof(*s->names));
	}
	snprintf(s->names[s->n++], K8S_NAME_MAX, "%s", name);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void list_complete(k8s_informer *inf)
{
	struct sweep s = { NULL, 0, 0 };

	k8s_cache_foreach_unmarked(inf->cache, inf->mark, collect_unmarked, &s);
	/* Vanished names are reported in name order: deterministic for callers and logs. */
	if (s.n > 1)
		qsort(s.names, s.n, sizeof(*s.names), cmp_name);
	for (size_t i = 0; i < s.n; i++) {
		k8s_deployment last;
		if (k8s_cache_remove(inf->cache, s.names[i], &last) && inf->cbs.on_delete)
			inf->cbs.on_delete(inf->ctx, &last);
	}
	free(s.names);
	inf->st.lists++;
	if (inf->listed_once)
		inf->st.relists++;
	inf->listed_once = 1;
	if (!inf->synced) {
		inf->synced = 1;
		char n[24];
		log_info("Deployments listed", "count", log_i64(n, (int64_t)k8s_cache_count(inf->cache)),
		    "resourceVersion", inf->rv, NULL);
		if (inf->cbs.on_synced)
			inf->cbs.on_synced(inf->ctx);
	}
	if (inf->on_listed)
		inf->on_listed(inf->listed_ctx, inf->list_start_us);
	start_watch(inf);
}

/*
 * 401/403 on the list: say which credentials were used, the token file and
 * (403) the user the API server took us for — from its message, 'User "x"
 * cannot list ...' — so the fix (a token, a RoleBinding) is obvious.
 */
static void log_auth_failure(k8s_informer *inf, const k8s_error *err)
{
	const k8s_config *cfg = k8s_client_config(inf->c);
	const char *file = cfg && cfg->token_file[0] ? cfg->token_file :
	    cfg && cfg->token ? "(a token without a file)" : "(none: no token sent)";
	char user[256] = "", code[24];
	const char *u = strstr(err->message, "User \"");

	if (u) {
		const char *end;
		u += 6;
		end = strchr(u, '"');
		if (end && (size_t)(end - u) < sizeof(user)) {
			memcpy(user, u, (size_t)(end - u));
			user[end - u] = '\0';
		}
	}
	if (err->code == 401)
		log_error("The API server refused the worker's token (401 Unauthorized): check the token file",
		    "token_file", file, "code", log_i64(code, err->code), "error", err->message, NULL);
	else
		log_error("The API server forbids listing Deployments (403 Forbidden): grant this user list/watch on "
		    "deployments.apps", "user", user[0] ? user : "(not named by the server)", "token_file", file,
		    "error", err->message, NULL);
}

static void list_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	k8s_informer *inf = ctx;
	int rc;

	(void)status;
	(void)body;
	(void)len;
	inf->req = NULL;
	if (err->kind != K8S_OK) {
		inf->st.list_errors++;
		if (err->kind == K8S_ERR_API && err->code == 410) {
			/* The continue token expired: the whole list again. */
			inf->st.expired++;
			retry_later(inf, NEXT_RELIST, NULL);
			return;
		}
		if (err->kind == K8S_ERR_API && (err->code == 401 || err->code == 403))
			log_auth_failure(inf, err);
		else
			log_warn("Listing Deployments failed", "error", err->message, NULL);
		retry_later(inf, NEXT_RELIST, err);
		return;
	}
	rc = k8s_deploy_decoder_finish(inf->list_dec);
	if (rc < 0) {
		inf->st.list_errors++;
		log_warn("Undecodable Deployment list", "error", json_strerror(rc), NULL);
		retry_later(inf, NEXT_RELIST, NULL);
		return;
	}
	inf->st.list_pages++;
	set_rv(inf, k8s_deploy_decoder_list_rv(inf->list_dec));
	str_copy(inf->cont, sizeof(inf->cont), k8s_deploy_decoder_continue(inf->list_dec));
	if (inf->cont[0]) {
		start_list(inf, 0);
		return;
	}
	list_complete(inf);
}

/* Percent-encodes everything but RFC 3986 unreserved characters: continue
 * tokens are base64 and may hold '+', '/' and '='. */
static void url_escape(char *out, size_t outsz, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < outsz; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '.' || ch == '_' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static void start_list(k8s_informer *inf, int fresh)
{
	char path[3 * sizeof(inf->cont) + 512], cont[3 * sizeof(inf->cont)];
	const k8s_config *cfg = k8s_client_config(inf->c);

	io_timer_stop(inf->loop, &inf->timer);
	if (fresh) {
		inf->mark++;
		inf->cont[0] = '\0';
		inf->list_start_us = io_loop_clock_us(inf->loop);
	}
	k8s_deploy_decoder_reset(inf->list_dec);
	url_escape(cont, sizeof(cont), inf->cont);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments?labelSelector=%s&limit=%d%s%s",
	    cfg->namespace_, inf->o.label_selector, inf->o.page_limit, cont[0] ? "&continue=" : "", cont);
	inf->req = k8s_submit(inf->c, &(k8s_request){ .verb = K8S_VERB_LIST, .method = "GET", .path = path,
	    .on_data = list_data, .on_done = list_done, .ctx = inf });
}

/* ---------------------------------------------------------------- WATCH */

static int on_watch_event(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	k8s_informer *inf = ctx;

	inf->got_event = 1;
	switch (type) {
	case K8S_EV_ADDED:
	case K8S_EV_MODIFIED:
		inf->st.events += (uint64_t)apply_upsert(inf, d);
		set_rv(inf, d->resource_version);
		break;
	case K8S_EV_DELETED:
		inf->st.events += (uint64_t)apply_delete(inf, d);
		set_rv(inf, d->resource_version);
		break;
	case K8S_EV_BOOKMARK:
		inf->st.bookmarks++;
		{
			int64_t now = io_loop_now(inf->loop);
			if (inf->last_bookmark_ms > 0 && now > inf->last_bookmark_ms)
				inf->bookmark_interval_ms = now - inf->last_bookmark_ms;
			inf->last_bookmark_ms = now;
		}
		set_rv(inf, d->resource_version);
		break;
	case K8S_EV_ERROR:
		inf->st.expired += st->code == 410;
		log_info("Watch ended by the API server; relisting", "code", st->reason, "error", st->message, NULL);
		inf->want = NEXT_RELIST;
		return 1;	/* stop decoding: the stream is over for us */
	}
	return 0;
}

static int watch_data(void *ctx, const uint8_t *p, size_t n)
{
	k8s_informer *inf = ctx;

	inf->last_byte_ms = io_loop_now(inf->loop);
	if (k8s_deploy_decoder_feed(inf->watch_dec, p, n) < 0) {
		if (inf->want == NEXT_NONE) {
			log_warn("Undecodable watch stream; relisting", NULL);
			inf->want = NEXT_RELIST;
		}
		return 1;
	}
	if (inf->got_event)
		k8s_backoff_reset(&inf->bo);
	return 0;
}

static void watch_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	k8s_informer *inf = ctx;

	(void)status;
	(void)body;
	(void)len;
	inf->req = NULL;
	io_timer_stop(inf->loop, &inf->silence);
	/* Relists and quick re-watches go through the backoff, which only a
	 * watch that delivered events resets: a server that keeps ending watches
	 * at once, or keeps answering 410, is not hammered. */
	if (inf->want == NEXT_RELIST) {
		inf->st.watch_errors++;
		retry_later(inf, NEXT_RELIST, NULL);
		return;
	}
	if (err->kind == K8S_OK) {
		/* The server's timeoutSeconds ran out: carry on from where we are. */
		if (k8s_deploy_decoder_finish(inf->watch_dec) < 0) {
			inf->st.watch_errors++;
			retry_later(inf, NEXT_RELIST, NULL);
		} else if (!inf->got_event && io_loop_now(inf->loop) - inf->watch_start < 1000) {
			retry_later(inf, NEXT_REWATCH, NULL);
		} else {
			wait_then(inf, NEXT_REWATCH, 0);
		}
		return;
	}
	inf->st.watch_errors++;
	if (err->kind == K8S_ERR_API && err->code == 410) {
		inf->st.expired++;
		retry_later(inf, NEXT_RELIST, NULL);
		return;
	}
	log_debug("Watch lost; re-watching", "error", err->message, "resourceVersion", inf->rv, NULL);
	retry_later(inf, NEXT_REWATCH, err);
}

/* How long a watch may stay silent: 2x the server's bookmark cadence, within [10 s, 150 s]. */
static int64_t silence_limit_ms(const k8s_informer *inf)
{
	int64_t limit = inf->bookmark_interval_ms > 0 ? 2 * inf->bookmark_interval_ms : WATCH_SILENCE_MAX_MS;

	if (limit < WATCH_SILENCE_MIN_MS)
		limit = WATCH_SILENCE_MIN_MS;
	return limit > WATCH_SILENCE_MAX_MS ? WATCH_SILENCE_MAX_MS : limit;
}

static void silence_check(io_loop *loop, void *arg)
{
	k8s_informer *inf = arg;
	int64_t now = io_loop_now(loop), limit = silence_limit_ms(inf);
	char silent[32], every[32], ndrop[24];
	size_t dropped;

	if (inf->req == NULL)
		return;
	if (now - inf->last_byte_ms < limit) {
		/* At most every WATCH_SILENCE_MIN_MS: the limit shrinks once bookmarks show the cadence. */
		int64_t at = inf->last_byte_ms + limit;
		io_timer_start_at(loop, &inf->silence, at < now + WATCH_SILENCE_MIN_MS ? at : now + WATCH_SILENCE_MIN_MS);
		return;
	}
	/* Packets stopped without a FIN or RST: nothing will ever end this request by itself. */
	k8s_req_cancel(inf->req);
	inf->req = NULL;
	inf->st.watch_silent++;
	inf->st.watch_errors++;
	dropped = k8s_client_drop_idle(inf->c);
	log_warn("Watch silent: no bytes for twice the bookmark interval; re-watching from the last "
	    "resourceVersion", "silent", log_duration_ms(silent, now - inf->last_byte_ms), "bookmark_interval",
	    inf->bookmark_interval_ms > 0 ? log_duration_ms(every, inf->bookmark_interval_ms) : "unknown",
	    "resourceVersion", inf->rv, "idle_connections_dropped", log_i64(ndrop, (int64_t)dropped), NULL);
	wait_then(inf, NEXT_REWATCH, 0);
}

static void start_watch(k8s_informer *inf)
{
	char path[1024], rv[3 * K8S_RV_MAX];
	const k8s_config *cfg = k8s_client_config(inf->c);
	int64_t t = k8s_backoff_uniform(&inf->bo, inf->o.watch_timeout_min_s, inf->o.watch_timeout_max_s);

	io_timer_stop(inf->loop, &inf->timer);
	k8s_deploy_decoder_reset(inf->watch_dec);
	inf->want = NEXT_NONE;
	inf->got_event = 0;
	url_escape(rv, sizeof(rv), inf->rv);
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments?labelSelector=%s&watch=1"
	    "&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%lld", cfg->namespace_,
	    inf->o.label_selector, rv, (long long)t);
	inf->watch_start = io_loop_now(inf->loop);
	inf->last_byte_ms = inf->watch_start;
	inf->last_bookmark_ms = 0;
	io_timer_start(inf->loop, &inf->silence, WATCH_SILENCE_MIN_MS);
	inf->st.watches++;
	if (inf->watched_once)
		inf->st.watch_restarts++;
	inf->watched_once = 1;
	/* The lifetime guards against a server that stops talking without closing. */
	inf->req = k8s_submit(inf->c, &(k8s_request){ .verb = K8S_VERB_WATCH, .method = "GET", .path = path,
	    .flags = K8S_REQ_STREAM | K8S_REQ_NO_RETRY, .timeout_ms = (t + 30) * 1000, .on_data = watch_data,
	    .on_done = watch_done, .ctx = inf });
}

/* ---------------------------------------------------------------- public */

k8s_informer *k8s_informer_new(k8s_client *c, const k8s_informer_opts *opts, const k8s_informer_cbs *cbs,
    void *ctx)
{
	k8s_informer *inf = xcalloc(1, sizeof(*inf));

	inf->c = c;
	inf->loop = k8s_client_loop(c);
	if (opts)
		inf->o = *opts;
	if (inf->o.watch_timeout_min_s <= 0)
		inf->o.watch_timeout_min_s = 240;
	if (inf->o.watch_timeout_max_s < inf->o.watch_timeout_min_s)
		inf->o.watch_timeout_max_s = inf->o.watch_timeout_min_s > 240 ? inf->o.watch_timeout_min_s : 360;
	if (inf->o.backoff_base_ms <= 0)
		inf->o.backoff_base_ms = 250;
	if (inf->o.backoff_cap_ms <= 0)
		inf->o.backoff_cap_ms = 30000;
	if (inf->o.page_limit <= 0)
		inf->o.page_limit = 500;
	if (inf->o.label_selector == NULL)
		inf->o.label_selector = K8S_MANAGED_SELECTOR;
	if (cbs)
		inf->cbs = *cbs;
	inf->ctx = ctx;
	io_timer_init(&inf->timer, timer_fired, inf);
	io_timer_init(&inf->silence, silence_check, inf);
	k8s_backoff_init(&inf->bo, inf->o.backoff_base_ms, inf->o.backoff_cap_ms, inf->o.rnd, inf->o.rnd_ctx);
	inf->cache = k8s_cache_new();
	inf->list_dec = k8s_deploy_decoder_new(K8S_DECODE_LIST, on_list_item, inf);
	inf->watch_dec = k8s_deploy_decoder_new(K8S_DECODE_WATCH, on_watch_event, inf);
	return inf;
}

void k8s_informer_start(k8s_informer *inf)
{
	wait_then(inf, NEXT_RELIST, 0);
}

void k8s_informer_free(k8s_informer *inf)
{
	if (inf == NULL)
		return;
	io_timer_stop(inf->loop, &inf->timer);
	io_timer_stop(inf->loop, &inf->silence);
	k8s_req_cancel(inf->req);
	k8s_deploy_decoder_free(inf->list_dec);
	k8s_deploy_decoder_free(inf->watch_dec);
	k8s_cache_free(inf->cache);
	free(inf);
}

int k8s_informer_synced(const k8s_informer *inf)
{
	return inf->synced;
}

const k8s_cache *k8s_informer_cache(const k8s_informer *inf)
{
	return inf->cache;
}

const char *k8s_informer_resource_version(const k8s_informer *inf)
{
	return inf->rv;
}

void k8s_informer_get_stats(const k8s_informer *inf, k8s_informer_stats *out)
{
	*out = inf->st;
}

void k8s_informer_on_listed(k8s_informer *inf, k8s_informer_listed_fn fn, void *ctx)
{
	inf->on_listed = fn;
	inf->listed_ctx = ctx;
}
