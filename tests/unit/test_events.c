/*
 * Kubernetes Events: the Event and patch bodies byte for byte, and the
 * recorder over a fake sink on an injected clock — repeats fold into one
 * Event's count (also while a write is in flight or the rate is spent), the
 * 10-minute window, the rate limit dropping new Events, failed writes
 * forgotten, uids from the informer.
 */
/* CHECK_EQ_STR on 2 KiB recorded bodies: the harness may truncate its message; fine. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "harness.h"

#include "io/loop.h"
#include "k8s/events.h"
#include "worker/recorder.h"

static void test_event_body_exact(void)
{
	k8s_event_spec e = {"ns1", "demo.1f", "demo", "u-1", 1, "Failed", "cluster demo \"x\"\n", "host-a",
	    1767225600000, 1767225661000, 3};
	static const char want[] = "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"demo.1f\","
	    "\"namespace\":\"ns1\"},\"involvedObject\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"name\":\"demo\",\"namespace\":\"ns1\",\"uid\":\"u-1\"},\"reason\":\"Failed\","
	    "\"message\":\"cluster demo \\\"x\\\"\\n\",\"type\":\"Warning\",\"source\":{\"component\":"
	    "\"cplane.dev/worker\"},\"reportingComponent\":\"cplane.dev/worker\",\"reportingInstance\":\"host-a\","
	    "\"firstTimestamp\":\"2026-01-01T00:00:00Z\",\"lastTimestamp\":\"2026-01-01T00:01:01Z\",\"count\":3}";
	static const char want_patch[] = "{\"count\":4,\"lastTimestamp\":\"2026-01-01T00:01:01Z\"}";
	uint8_t out[1024];
	char path[128];
	int n;

	n = k8s_event_write_body(&e, out, sizeof(out));
	CHECK_EQ_MEM(out, n > 0 ? (size_t)n : 0, want, sizeof(want) - 1);
	CHECK_EQ_INT(k8s_event_write_body(&e, out, 100), -1);	/* too small: refused, not cut */
	e.object_uid = NULL;
	e.warning = 0;
	n = k8s_event_write_body(&e, out, sizeof(out));
	CHECK(n > 0 && memmem(out, (size_t)n, "\"uid\"", 5) == NULL);
	CHECK(n > 0 && memmem(out, (size_t)n, "\"type\":\"Normal\"", 15) != NULL);
	n = k8s_event_write_patch(4, 1767225661000, out, sizeof(out));
	CHECK_EQ_MEM(out, n > 0 ? (size_t)n : 0, want_patch, sizeof(want_patch) - 1);
	CHECK_EQ_INT(k8s_event_path("ns1", NULL, path, sizeof(path)), 29);
	CHECK_EQ_STR(path, "/api/v1/namespaces/ns1/events");
	k8s_event_path("ns1", "demo.1f", path, sizeof(path));
	CHECK_EQ_STR(path, "/api/v1/namespaces/ns1/events/demo.1f");
}

/* ---- the recorder over a fake sink ---- */

static int64_t fake_us = 1000000000;
static int64_t fake_clock(void *arg) { (void)arg; return fake_us; }
static int64_t fake_wall(void) { return 1767225600000 + (fake_us - 1000000000) / 1000; }

#define MAX_WRITES 256
struct write {
	int patch;
	char path[256];
	char body[2048];
	k8s_done_fn done;
	void *arg;
	int completed;
};
static struct write writes[MAX_WRITES];
static int nwrites;
static int auto_ok;	/* complete each write at once, successfully */

static void complete(int i, int ok)
{
	k8s_error e;

	k8s_error_clear(&e);
	if (!ok)
		k8s_error_set(&e, K8S_ERR_API, "forbidden");
	writes[i].completed = 1;
	writes[i].done(writes[i].arg, &e, ok ? 201 : 403, NULL, 0);
}

static void sink_write(void *impl, int patch, const char *path, const uint8_t *body, size_t len, k8s_done_fn done,
    void *arg)
{
	struct write *w = &writes[nwrites];

	(void)impl;
	if (nwrites == MAX_WRITES)
		abort();
	w->patch = patch;
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->body, sizeof(w->body), "%.*s", (int)len, (const char *)body);
	w->done = done;
	w->arg = arg;
	w->completed = 0;
	nwrites++;
	if (auto_ok)
		complete(nwrites - 1, 1);
}

static recorder *new_recorder(io_loop **loop, size_t entries)
{
	struct recorder_sink sink = {sink_write, NULL};
	struct recorder_opts o = {"ns1", "host-a", 0, 0, entries, fake_wall};

	*loop = io_loop_new();
	io_loop_set_clock(*loop, fake_clock, NULL);
	nwrites = 0;
	auto_ok = 1;
	return recorder_new(*loop, &sink, &o);
}

static void advance_ms(io_loop *loop, int64_t ms)
{
	fake_us += ms * 1000;
	io_loop_run_once(loop, 0);
}

static void test_repeats_patch_count(void)
{
	io_loop *loop;
	recorder *r = new_recorder(&loop, 32);

	recorder_observe(r, "demo", "u-1");
	recorder_record(r, "demo", NULL, 1, "Failed", "no nodes");
	CHECK_EQ_INT(nwrites, 1);
	CHECK(!writes[0].patch);
	CHECK_EQ_STR(writes[0].path, "/api/v1/namespaces/ns1/events");
	CHECK(strstr(writes[0].body, "\"uid\":\"u-1\"") != NULL);
	CHECK(strstr(writes[0].body, "\"name\":\"demo.") != NULL);
	advance_ms(loop, 1000);
	recorder_record(r, "demo", NULL, 1, "Failed", "no nodes");
	CHECK_EQ_INT(nwrites, 2);
	CHECK(writes[1].patch);
	CHECK(strncmp(writes[1].path, "/api/v1/namespaces/ns1/events/demo.", 35) == 0);
	CHECK_EQ_STR(writes[1].body, "{\"count\":2,\"lastTimestamp\":\"2026-01-01T00:00:01Z\"}");
	/* Another message, another reason, another uid: new Events. */
	recorder_record(r, "demo", NULL, 1, "Failed", "other");
	recorder_record(r, "demo", NULL, 0, "Ready", "no nodes");
	recorder_record(r, "demo", "u-2", 1, "Failed", "no nodes");
	CHECK_EQ_INT(nwrites, 5);
	CHECK(!writes[2].patch && !writes[3].patch && !writes[4].patch);
	/* Past the window (10 minutes since last seen): a new Event. */
	advance_ms(loop, 10 * 60 * 1000 + 1);
	recorder_record(r, "demo", NULL, 1, "Failed", "no nodes");
	CHECK_EQ_INT(nwrites, 6);
	CHECK(!writes[5].patch);
	CHECK_EQ_INT(recorder_stats_get(r)->created, 5);
	CHECK_EQ_INT(recorder_stats_get(r)->patched, 1);
	recorder_free(r);
	io_loop_free(loop);
}

static void test_fold_while_in_flight_and_rate(void)
{
	io_loop *loop;
	recorder *r = new_recorder(&loop, 32);

	auto_ok = 0;
	recorder_record(r, "demo", "u", 1, "Failed", "m");
	for (int i = 0; i < 49; i++)
		recorder_record(r, "demo", "u", 1, "Failed", "m");
	CHECK_EQ_INT(nwrites, 1);		/* the POST is in flight: repeats wait for it */
	complete(0, 1);
	CHECK_EQ_INT(nwrites, 2);		/* one PATCH with everything so far */
	CHECK(strstr(writes[1].body, "\"count\":50") != NULL);
	complete(1, 1);
	CHECK_EQ_INT(nwrites, 2);

	/* Rate: a burst of 10, then new Events are dropped; repeats are kept for later. */
	auto_ok = 1;
	advance_ms(loop, 1000);
	for (int i = 0; i < 12; i++) {
		char msg[16];
		snprintf(msg, sizeof(msg), "m%d", i);
		recorder_record(r, "burst", "u", 0, "Ready", msg);
	}
	CHECK_EQ_INT(nwrites, 12);		/* 10 of the 12 */
	CHECK_EQ_INT(recorder_stats_get(r)->dropped, 2);
	recorder_record(r, "demo", "u", 1, "Failed", "m");	/* a repeat with no token left */
	CHECK_EQ_INT(nwrites, 12);
	advance_ms(loop, 99);
	CHECK_EQ_INT(nwrites, 12);
	advance_ms(loop, 1);			/* one token back after 100 ms: the folded PATCH goes */
	CHECK_EQ_INT(nwrites, 13);
	CHECK(writes[12].patch && strstr(writes[12].body, "\"count\":51") != NULL);
	CHECK_EQ_INT(recorder_stats_get(r)->dropped, 2);
	recorder_free(r);
	io_loop_free(loop);
}

static void test_failed_write_is_forgotten(void)
{
	io_loop *loop;
	recorder *r = new_recorder(&loop, 8);

	auto_ok = 0;
	recorder_record(r, "demo", "u", 0, "Creating", "c");
	complete(0, 0);
	CHECK_EQ_INT(recorder_stats_get(r)->failed, 1);
	recorder_record(r, "demo", "u", 0, "Creating", "c");
	CHECK_EQ_INT(nwrites, 2);
	CHECK(!writes[1].patch);		/* a new POST, not a PATCH of what was never made */
	complete(1, 1);
	recorder_observe(r, "demo", "u2");
	recorder_observe(r, "demo", NULL);
	recorder_record(r, "demo", NULL, 0, "Deleting", "d");
	CHECK(strstr(writes[2].body, "\"uid\"") == NULL);
	complete(2, 1);
	/* More distinct Events than entries: the oldest idle one is reused. */
	auto_ok = 1;
	advance_ms(loop, 5000);
	for (int i = 0; i < 10; i++) {
		char msg[16];
		snprintf(msg, sizeof(msg), "x%d", i);
		recorder_record(r, "demo", "u", 0, "Ready", msg);
	}
	CHECK_EQ_INT(recorder_stats_get(r)->created, 12);
	recorder_free(r);
	io_loop_free(loop);
}

/* With a uid lookup set (the worker's: the informer cache), uids come from
 * it, and recorder_observe() keeps no copies. */
static int lookup_calls;

static int uid_lookup(void *ctx, const char *name, char *out, size_t outsz)
{
	(void)ctx;
	lookup_calls++;
	if (strcmp(name, "demo") != 0)
		return 0;
	snprintf(out, outsz, "u-from-cache");
	return 1;
}

static void test_uid_lookup(void)
{
	io_loop *loop;
	recorder *r = new_recorder(&loop, 32);

	recorder_set_uid_lookup(r, uid_lookup, NULL);
	recorder_observe(r, "demo", "u-observed");
	recorder_observe(r, "other", "u-other");
	recorder_record(r, "demo", NULL, 0, "Creating", "creating 1 replica");
	CHECK_EQ_INT(nwrites, 1);
	CHECK(strstr(writes[0].body, "\"uid\":\"u-from-cache\"") != NULL);
	recorder_record(r, "other", NULL, 0, "Creating", "creating 1 replica");
	CHECK_EQ_INT(nwrites, 2);
	CHECK(strstr(writes[1].body, "u-other") == NULL);
	CHECK_EQ_INT(lookup_calls, 2);
	/* A uid the caller knows wins, without a lookup. */
	recorder_record(r, "demo", "u-given", 0, "Ready", "1/1");
	CHECK(strstr(writes[2].body, "\"uid\":\"u-given\"") != NULL);
	CHECK_EQ_INT(lookup_calls, 2);
	recorder_free(r);
	io_loop_free(loop);
}

int main(void)
{
	RUN(test_event_body_exact);
	RUN(test_repeats_patch_count);
	RUN(test_fold_while_in_flight_and_rate);
	RUN(test_failed_write_is_forgotten);
	RUN(test_uid_lookup);
	return harness_finish();
}
