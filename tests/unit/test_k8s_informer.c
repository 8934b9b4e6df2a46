/*
 * The informer against a scripted API server: paginated LIST (continue token
 * percent-encoded), WATCH parameters, events applied with duplicates dropped,
 * ERROR 410 → relist emitting only the difference, a normal end → re-watch
 * from the last resourceVersion (bookmarks count), HTTP 410 on a watch →
 * relist, and the stats that say so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "base/log.h"
#define MAX_STEPS 16
#include "fake_http.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "base/clock.h"
#include "k8s/informer.h"

static char log_[512];
static int synced;

static void add_log(const char *s)
{
	size_t n = strlen(log_);

	snprintf(log_ + n, sizeof(log_) - n, "%s;", s);
}

static void on_upsert(void *ctx, const k8s_deployment *d, const k8s_deployment *old)
{
	char l[128];

	(void)ctx;
	snprintf(l, sizeof(l), "U %s %s%s", d->name, d->resource_version, old ? "" : " new");
	add_log(l);
}

static void on_delete(void *ctx, const k8s_deployment *d)
{
	char l[128];

	(void)ctx;
	snprintf(l, sizeof(l), "D %s %s", d->name, d->resource_version);
	add_log(l);
}

static void on_synced(void *ctx)
{
	(void)ctx;
	synced++;
	add_log("S");
}

static int64_t listed_at[8];
static int nlisted;

/* After every complete LIST: when its cycle started (two pages are one cycle). */
static void on_listed(void *ctx, int64_t started_us)
{
	(void)ctx;
	if (nlisted < 8)
		listed_at[nlisted] = started_us;
	nlisted++;
	add_log("L");
}

#define DEP(name, rv) \
	"{\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv "\",\"labels\":" \
	"{\"app.kubernetes.io/managed-by\":\"cplane\"},\"managedFields\":[{\"manager\":\"x\"}]}," \
	"\"spec\":{\"replicas\":1},\"status\":{}}"
#define LIST(rv, cont, items) \
	"{\"kind\":\"DeploymentList\",\"metadata\":{\"resourceVersion\":\"" rv "\"" cont "},\"items\":[" items "]}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"

/* Builds an HTTP response with Content-Length around body (static storage per slot). */
static const char *ok(int slot, const char *body)
{
	static char store[MAX_STEPS][4096];

	snprintf(store[slot], sizeof(store[slot]), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	return store[slot];
}

/* A chunked watch response: one chunk per event; end != 0 adds the last chunk. */
static const char *watch(int slot, const char *const *events, int n, int end)
{
	static char store[MAX_STEPS][8192];
	size_t o = 0;

	o += (size_t)snprintf(store[slot], sizeof(store[slot]), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(store[slot] + o, sizeof(store[slot]) - o, "%zx\r\n%s\r\n", strlen(events[i]),
		    events[i]);
	if (end)
		snprintf(store[slot] + o, sizeof(store[slot]) - o, "0\r\n\r\n");
	return store[slot];
}

static int has_param(const char *req, const char *param)
{
	const char *eol = strstr(req, "\r\n");
	const char *p = strstr(req, param);

	return p != NULL && p < eol;
}

static void test_informer_script(void)
{
	static const char *const w1[] = {
		EV("MODIFIED", DEP("a", "11")),
		EV("ADDED", DEP("a", "11")),	/* duplicate: dropped */
		EV("DELETED", DEP("b", "12")),
		EV("BOOKMARK", "{\"kind\":\"Deployment\",\"metadata\":{\"resourceVersion\":\"13\"}}"),
		EV("ERROR", "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"too old resource version\","
		    "\"reason\":\"Expired\",\"code\":410}"),
		EV("MODIFIED", DEP("a", "99")),	/* after the ERROR: never applied */
	};
	static const char *const w2[] = {
		EV("ADDED", DEP("e", "17")),
		EV("BOOKMARK", "{\"kind\":\"Deployment\",\"metadata\":{\"resourceVersion\":\"18\"}}"),
	};
	struct step steps[] = {
		{ ok(0, LIST("10", ",\"continue\":\"tok+/=\"", DEP("a", "1") "," DEP("b", "2"))), 0 },
		{ ok(1, LIST("10", "", DEP("c", "3"))), 0 },
		{ watch(2, w1, 6, 0), 0 },
		{ ok(3, LIST("16", "", DEP("a", "11") "," DEP("d", "15"))), 0 },
		{ watch(4, w2, 2, 1), 0 },
		{ "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", 0 },
		{ ok(6, LIST("20", "", "")), 0 },
	};
	char url[64], err[256];
	k8s_config cfg;
	k8s_config_opts co = { 0 };
	k8s_client_opts clo = { 0 };
	k8s_informer_opts io = { 0 };
	k8s_informer_cbs cbs = { on_upsert, on_delete, on_synced };
	k8s_informer_stats st;

	memset(&S, 0, sizeof(S));
	for (int i = 0; i < 8; i++)
		S.c[i].fd = -1;
	memcpy(S.steps, steps, sizeof(steps));
	S.nsteps = (int)(sizeof(steps) / sizeof(steps[0]));
	S.loop = io_loop_new();
	S.lfd = io_listen("127.0.0.1:0", 16, err, sizeof(err));
	io_loop_add_fd(S.loop, S.lfd, IO_READ, on_accept, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", io_local_port(S.lfd));
	co.apiserver = url;
	co.namespace_ = "ns";
	CHECK_EQ_INT(k8s_config_load(&cfg, &co, err, sizeof(err)), 0);
	clo.backoff_base_ms = 5;
	clo.backoff_cap_ms = 10;
	k8s_client *c = k8s_client_new(S.loop, &cfg, &clo);
	io.page_limit = 2;
	io.backoff_base_ms = 5;
	io.backoff_cap_ms = 10;
	io.watch_timeout_min_s = 100;
	io.watch_timeout_max_s = 200;
	k8s_informer *inf = k8s_informer_new(c, &io, &cbs, NULL);
	log_[0] = '\0';
	synced = 0;
	nlisted = 0;
	k8s_informer_on_listed(inf, on_listed, NULL);
	int64_t t0 = clock_mono_us();
	k8s_informer_start(inf);
	for (int i = 0; i < 3000 && S.nreqs < 8; i++)
		io_loop_run_once(S.loop, 5);

	CHECK_EQ_STR(log_,
	    "U a 1 new;U b 2 new;U c 3 new;S;L;"	/* first list, two pages */
	    "U a 11;D b 12;"				/* watch: the ADDED duplicate dropped */
	    "U d 15 new;D c 3;L;"			/* relist after ERROR 410: a unchanged, d new, c gone */
	    "U e 17 new;"				/* watch that ends normally */
	    "D a 11;D d 15;D e 17;L;");			/* HTTP 410 → relist to an empty list */
	CHECK_EQ_INT(synced, 1);
	CHECK_EQ_INT(nlisted, 3);
	/* each cycle's start: after the previous one, before now (the hook's whole point) */
	CHECK(listed_at[0] >= t0 && listed_at[1] > listed_at[0] && listed_at[2] > listed_at[1]);
	CHECK(listed_at[2] <= clock_mono_us());
	CHECK(S.nreqs >= 8);
	CHECK(strncmp(S.reqs[0], "GET /apis/apps/v1/namespaces/ns/deployments?labelSelector="
	    "app.kubernetes.io%2Fmanaged-by%3Dcplane&limit=2 HTTP/1.1\r\n", 113) == 0);
	CHECK(has_param(S.reqs[1], "&limit=2&continue=tok%2B%2F%3D "));
	CHECK(has_param(S.reqs[2], "&watch=1&allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds="));
	int t = atoi(strstr(S.reqs[2], "timeoutSeconds=") + 15);
	CHECK(t >= 100 && t <= 200);
	CHECK(has_param(S.reqs[3], "&limit=2 "));		/* relist from scratch */
	CHECK(has_param(S.reqs[4], "&resourceVersion=16&"));
	CHECK(has_param(S.reqs[5], "&resourceVersion=18&"));	/* from the bookmark */
	CHECK(has_param(S.reqs[6], "&limit=2 "));
	CHECK(has_param(S.reqs[7], "&resourceVersion=20&"));
	CHECK_EQ_INT(k8s_cache_count(k8s_informer_cache(inf)), 0);

	k8s_informer_get_stats(inf, &st);
	CHECK_EQ_INT(st.lists, 3);
	CHECK_EQ_INT(st.relists, 2);
	CHECK_EQ_INT(st.list_pages, 4);
	CHECK(st.watches >= 4);
	CHECK_EQ_INT(st.watch_restarts, st.watches - 1);
	CHECK_EQ_INT(st.expired, 2);
	CHECK_EQ_INT(st.duplicates, 2);	/* the ADDED again, and a unchanged in the relist */
	CHECK_EQ_INT(st.bookmarks, 2);
	CHECK_EQ_INT(st.events, 3);

	k8s_informer_free(inf);
	k8s_client_free(c);
	k8s_config_free(&cfg);
	for (int i = 0; i < 8; i++)
		if (S.c[i].fd >= 0)
			sconn_close(&S.c[i]);
	io_loop_del_fd(S.loop, S.lfd);
	close(S.lfd);
	io_loop_free(S.loop);
}

static int64_t fake_us;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_us;
}

/*
 * Liveness with an injected clock: a watch whose connection stays open but
 * silent is dropped once no byte came for the limit (150 s before the
 * bookmark cadence is known) — not a second earlier — and the new watch
 * starts from the last resourceVersion (the bookmark's).
 */
static void test_silent_watch_is_dropped_and_rewatched(void)
{
	static const char *const w1[] = {
		EV("BOOKMARK", "{\"kind\":\"Deployment\",\"metadata\":{\"resourceVersion\":\"13\"}}"),
	};
	static const char *const w2[] = {
		EV("BOOKMARK", "{\"kind\":\"Deployment\",\"metadata\":{\"resourceVersion\":\"14\"}}"),
	};
	struct step steps[] = {
		{ ok(0, LIST("10", "", "")), 0 },
		{ watch(1, w1, 1, 0), 0 },	/* then silence, the connection open */
		{ watch(2, w2, 1, 0), 0 },
	};
	char url[64], err[256];
	k8s_config cfg;
	k8s_config_opts co = { 0 };
	k8s_client_opts clo = { 0 };
	k8s_informer_opts io = { 0 };
	k8s_informer_cbs cbs = { on_upsert, on_delete, on_synced };
	k8s_informer_stats st;
	int i;

	memset(&S, 0, sizeof(S));
	for (i = 0; i < 8; i++)
		S.c[i].fd = -1;
	memcpy(S.steps, steps, sizeof(steps));
	S.nsteps = (int)(sizeof(steps) / sizeof(steps[0]));
	S.loop = io_loop_new();
	fake_us = 1000000;
	io_loop_set_clock(S.loop, fake_clock, NULL);
	S.lfd = io_listen("127.0.0.1:0", 16, err, sizeof(err));
	io_loop_add_fd(S.loop, S.lfd, IO_READ, on_accept, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", io_local_port(S.lfd));
	co.apiserver = url;
	co.namespace_ = "ns";
	CHECK_EQ_INT(k8s_config_load(&cfg, &co, err, sizeof(err)), 0);
	k8s_client *c = k8s_client_new(S.loop, &cfg, &clo);
	io.watch_timeout_min_s = 1000;
	io.watch_timeout_max_s = 1000;
	k8s_informer *inf = k8s_informer_new(c, &io, &cbs, NULL);
	k8s_informer_start(inf);
	for (i = 0; i < 2000 && S.nreqs < 2; i++)
		io_loop_run_once(S.loop, 5);
	for (i = 0; i < 200; i++)		/* the watch's bytes arrive, at the fake time of its start */
		io_loop_run_once(S.loop, 1);
	CHECK_EQ_INT(S.nreqs, 2);
	/* 149 s of silence, a second at a time: still the same watch */
	for (i = 0; i < 149; i++) {
		fake_us += 1000000;
		io_loop_run_once(S.loop, 1);
	}
	CHECK_EQ_INT(S.nreqs, 2);
	k8s_informer_get_stats(inf, &st);
	CHECK_EQ_INT(st.watch_silent, 0);
	/* past 150 s: dropped, and a new watch from the bookmark's resourceVersion */
	for (i = 0; i < 20; i++) {
		fake_us += 1000000;
		io_loop_run_once(S.loop, 1);
	}
	for (i = 0; i < 2000 && S.nreqs < 3; i++)
		io_loop_run_once(S.loop, 5);
	CHECK_EQ_INT(S.nreqs, 3);
	CHECK(has_param(S.reqs[2], "&watch=1&allowWatchBookmarks=true&resourceVersion=13&"));
	k8s_informer_get_stats(inf, &st);
	CHECK_EQ_INT(st.watch_silent, 1);
	CHECK_EQ_INT(st.watch_restarts, 1);

	k8s_informer_free(inf);
	k8s_client_free(c);
	k8s_config_free(&cfg);
	for (i = 0; i < 8; i++)
		if (S.c[i].fd >= 0)
			sconn_close(&S.c[i]);
	io_loop_del_fd(S.loop, S.lfd);
	close(S.lfd);
	io_loop_free(S.loop);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(test_informer_script);
	RUN(test_silent_watch_is_dropped_and_rewatched);
	return harness_finish();
}
