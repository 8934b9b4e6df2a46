/*
 * Path extraction on Kubernetes-shaped input: a Deployment list response and
 * watch event lines (managedFields, conditions, unicode and escaped
 * annotations), checked field by field; every input fed whole, byte by byte
 * and split at every point, in fast and strict mode, with identical events.
 */
#include "harness.h"
#include "json/json.h"
#include "../../bench/json/deploy_gen.h"

#include <stdarg.h>

typedef struct log {
	char s[16384];
	size_t n;
} log_t;

static void logf_(log_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(log_t *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (l->n >= sizeof(l->s) - 1)
		return;
	va_start(ap, fmt);
	k = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n += (size_t)k;
	if (l->n >= sizeof(l->s))
		l->n = sizeof(l->s) - 1;
}

static int log_event(void *ctx, const json_event *ev)
{
	log_t *l = ctx;
	const json_token *t = ev->tok;
	size_t i;

	switch (ev->kind) {
	case JSON_EV_END: logf_(l, "END\n"); return 0;
	case JSON_EV_ELEM_BEGIN: logf_(l, "%d[%u ", ev->path, ev->index); return 0;
	case JSON_EV_ELEM_END: logf_(l, "%d]%u ", ev->path, ev->index); return 0;
	}
	if (ev->key)
		logf_(l, "%d<%.*s>=", ev->path, (int)ev->key_len, ev->key);
	else
		logf_(l, "%d=", ev->path);
	switch (t->type) {
	case JSON_STRING:
		logf_(l, "\"");
		for (i = 0; i < t->len; i++) {
			unsigned char c = (unsigned char)t->str[i];

			if (c >= 0x20 && c < 0x7f)
				logf_(l, "%c", c);
			else
				logf_(l, "\\x%02x", c);
		}
		logf_(l, "\" ");
		break;
	case JSON_INT: logf_(l, "%lld ", (long long)t->i); break;
	case JSON_DOUBLE: logf_(l, "%g ", t->d); break;
	case JSON_TRUE: logf_(l, "true "); break;
	case JSON_FALSE: logf_(l, "false "); break;
	case JSON_NULL: logf_(l, "null "); break;
	case JSON_OBJECT_BEGIN: logf_(l, "{} "); break;
	case JSON_ARRAY_BEGIN: logf_(l, "[] "); break;
	default: logf_(l, "? "); break;
	}
	return 0;
}

/* Runs the extractor over in[] cut at the given offsets; returns the log. */
static void extract_cuts(const json_pathset *ps, unsigned flags, const char *in, size_t len,
    const size_t *cuts, size_t ncuts, log_t *l)
{
	static json_extract x;
	static char sbuf[512];
	size_t i, from = 0;
	int r = 0;

	l->n = 0;
	l->s[0] = '\0';
	json_extract_init(&x, ps, sbuf, sizeof(sbuf), flags, log_event, l);
	for (i = 0; i <= ncuts && r >= 0; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		char *slice = malloc(to - from + 1);

		memcpy(slice, in + from, to - from);
		r = json_extract_feed(&x, slice, to - from);
		free(slice);
		from = to;
	}
	if (r >= 0)
		r = json_extract_finish(&x);
	logf_(l, r < 0 ? "ERR %s" : "OK", json_strerror(r));
}

/* Whole, bytes, all splits, fast and strict: one log.  Returns it in *whole. */
static void extract_all_ways(const json_pathset *ps, const char *in, size_t len, log_t *whole,
    int splits)
{
	static log_t o;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts)), i;
	unsigned strict;

	extract_cuts(ps, 0, in, len, NULL, 0, whole);
	for (strict = 0; strict <= 1; strict++) {
		unsigned fl = strict ? JSON_EXTRACT_STRICT : 0;

		extract_cuts(ps, fl, in, len, NULL, 0, &o);
		CHECK(strcmp(o.s, whole->s) == 0);
		for (i = 0; i < len; i++)
			cuts[i] = i + 1;
		extract_cuts(ps, fl, in, len, cuts, len ? len - 1 : 0, &o);
		if (strcmp(o.s, whole->s) != 0)
			fprintf(stderr, "bytes (strict %u):\n%s\nwhole:\n%s\n", strict, o.s, whole->s);
		CHECK(strcmp(o.s, whole->s) == 0);
		for (i = 0; splits && i <= len; i++) {
			cuts[0] = i;
			extract_cuts(ps, fl, in, len, cuts, 1, &o);
			if (strcmp(o.s, whole->s) != 0) {
				fprintf(stderr, "split %zu (strict %u) differs\n", i, strict);
				CHECK(0);
				break;
			}
		}
	}
	free(cuts);
}

#define EXTRACT_ALL(ps, lit, l) extract_all_ways(ps, lit, sizeof(lit) - 1, l, 1)

static int same_log(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
	return 0;
}

/* A list response as the API server sends it (abridged managedFields). */
static const char list_json[] =
    "{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"resourceVersion\":\"48213\","
    "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTN9\"},\"items\":["
    "{\"metadata\":{\"name\":\"demo\",\"namespace\":\"cplane\",\"uid\":\"0b6c1e0a-2f1d-4d0e-9f7a-1c2b3d4e5f60\","
    "\"resourceVersion\":\"48190\",\"generation\":2,\"creationTimestamp\":\"2026-11-25T12:00:00Z\","
    "\"labels\":{\"app.kubernetes.io/managed-by\":\"cplane\",\"cplane.dev/cluster\":\"demo\"},"
    "\"annotations\":{\"deployment.kubernetes.io/revision\":\"2\",\"kubectl.kubernetes.io/last-applied-configuration\":"
    "\"{\\\"apiVersion\\\":\\\"apps/v1\\\",\\\"kind\\\":\\\"Deployment\\\",\\\"metadata\\\":{\\\"annotations\\\":{},"
    "\\\"name\\\":\\\"demo\\\"},\\\"spec\\\":{\\\"replicas\\\":3}}\\n\",\"note\":\"caf\xc3\xa9 \\u2603 \\ud83d\\ude80 tab\\there\"},"
    "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\","
    "\"time\":\"2026-11-25T12:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":"
    "{\".\":{},\"f:cplane.dev/cluster\":{}}},\"f:status\":{\"f:conditions\":{\"k:{\\\"type\\\":\\\"Available\\\"}\":"
    "{\".\":{},\"f:status\":{}}}}},\"subresource\":\"status\"}]},"
    "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"cplane.dev/cluster\":\"demo\"}},"
    "\"template\":{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"cplane.dev/cluster\":\"demo\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"registry.k8s.io/pause:3.9\",\"args\":[\"--x\",\"[}\"]},"
    "{\"name\":\"side\",\"image\":\"busybox:1.36\"}]}}},"
    "\"status\":{\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":3,\"readyReplicas\":2,"
    "\"availableReplicas\":2,\"unavailableReplicas\":1,\"conditions\":["
    "{\"type\":\"Available\",\"status\":\"False\",\"lastUpdateTime\":\"2026-11-25T12:00:05Z\","
    "\"reason\":\"MinimumReplicasUnavailable\",\"message\":\"Deployment does not have minimum availability.\"},"
    "{\"type\":\"Progressing\",\"status\":\"True\",\"reason\":\"ReplicaSetUpdated\","
    "\"message\":\"ReplicaSet \\\"demo-7d9c8b5f4\\\" is progressing.\"}]}},"
    "{\"metadata\":{\"name\":\"gone\",\"resourceVersion\":\"48200\",\"generation\":1,"
    "\"deletionTimestamp\":\"2026-11-25T12:01:00Z\",\"labels\":{\"cplane.dev/cluster\":\"gone\"}},"
    "\"spec\":{\"replicas\":1},\"status\":{}}"
    "]}\n";

static void test_list_response(void)
{
	static const char *const paths[] = {
		"metadata.resourceVersion",		/* 0 */
		"metadata.continue",			/* 1 */
		"items[*]",				/* 2 */
		"items[*].metadata.name",		/* 3 */
		"items[*].metadata.resourceVersion",	/* 4 */
		"items[*].metadata.generation",		/* 5 */
		"items[*].metadata.deletionTimestamp",	/* 6 */
		"items[*].metadata.labels.cplane\\.dev/cluster", /* 7 */
		"items[*].metadata.annotations.note",	/* 8 */
		"items[*].spec.replicas",		/* 9 */
		"items[*].spec.template.spec.containers[*].image", /* 10 */
		"items[*].status.availableReplicas",	/* 11 */
		"items[*].status.conditions[*]",	/* 12 */
		"items[*].status.conditions[*].type",	/* 13 */
		"items[*].status.conditions[*].status",	/* 14 */
		"items[*].status.conditions[*].reason",	/* 15 */
		"items[*].status.conditions[*].message",	/* 16 */
		"items[*].metadata.annotations",	/* 17: an object value */
	};
	static json_pathset ps;
	static log_t l;

	CHECK_EQ_INT(json_pathset_compile(&ps, paths, sizeof(paths) / sizeof(paths[0])), 0);
	extract_all_ways(&ps, list_json, sizeof(list_json) - 1, &l, 1);
	CHECK(same_log(l.s,
	    "0=\"48213\" 1=\"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTN9\" "
	    "2[0 2={} 3=\"demo\" 4=\"48190\" 5=2 7=\"demo\" 17={} "
	    "8=\"caf\\xc3\\xa9 \\xe2\\x98\\x83 \\xf0\\x9f\\x9a\\x80 tab\\x09here\" "
	    "9=3 10=\"registry.k8s.io/pause:3.9\" 10=\"busybox:1.36\" 11=2 "
	    "12[0 12={} 13=\"Available\" 14=\"False\" 15=\"MinimumReplicasUnavailable\" "
	    "16=\"Deployment does not have minimum availability.\" 12]0 "
	    "12[1 12={} 13=\"Progressing\" 14=\"True\" 15=\"ReplicaSetUpdated\" "
	    "16=\"ReplicaSet \"demo-7d9c8b5f4\" is progressing.\" 12]1 2]0 "
	    "2[1 2={} 3=\"gone\" 4=\"48200\" 5=1 6=\"2026-11-25T12:01:00Z\" 7=\"gone\" 9=1 2]1 "
	    "END\nOK"));
}

static const char watch_json[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\","
    "\"generation\":1,\"deletionTimestamp\":null,\"labels\":{\"cplane.dev/cluster\":\"a\"}},"
    "\"spec\":{\"replicas\":2},\"status\":{}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\",\"generation\":1},"
    "\"status\":{\"observedGeneration\":1,\"readyReplicas\":2,\"availableReplicas\":2,\"updatedReplicas\":2,"
    "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\","
    "\"message\":\"Deployment has minimum availability.\"}]}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":"
    "{\"resourceVersion\":\"12\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"13\","
    "\"deletionTimestamp\":\"2026-11-25T12:02:00Z\"}}}\r\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
    "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (48213)\",\"reason\":\"Expired\","
    "\"code\":410}}\n";

static void test_watch_lines(void)
{
	static const char *const paths[] = {
		"type",					/* 0 */
		"object.metadata.name",			/* 1 */
		"object.metadata.resourceVersion",	/* 2 */
		"object.metadata.generation",		/* 3 */
		"object.metadata.deletionTimestamp",	/* 4 */
		"object.metadata.labels.cplane\\.dev/cluster", /* 5 */
		"object.spec.replicas",			/* 6 */
		"object.status.observedGeneration",	/* 7 */
		"object.status.readyReplicas",		/* 8 */
		"object.status.availableReplicas",	/* 9 */
		"object.status.updatedReplicas",	/* 10 */
		"object.status.conditions[*]",		/* 11 */
		"object.status.conditions[*].type",	/* 12 */
		"object.status.conditions[*].status",	/* 13 */
		"object.status.conditions[*].reason",	/* 14 */
		"object.status",			/* 15: a string in a Status */
		"object.code",				/* 16 */
		"object.message",			/* 17 */
	};
	static json_pathset ps;
	static log_t l;

	CHECK_EQ_INT(json_pathset_compile(&ps, paths, sizeof(paths) / sizeof(paths[0])), 0);
	extract_all_ways(&ps, watch_json, sizeof(watch_json) - 1, &l, 1);
	CHECK(same_log(l.s,
	    "0=\"ADDED\" 1=\"a\" 2=\"10\" 3=1 4=null 5=\"a\" 6=2 15={} END\n"
	    "0=\"MODIFIED\" 1=\"a\" 2=\"11\" 3=1 15={} 7=1 8=2 9=2 10=2 "
	    "11[0 11={} 12=\"Available\" 13=\"True\" 14=\"MinimumReplicasAvailable\" 11]0 END\n"
	    "0=\"BOOKMARK\" 2=\"12\" END\n"
	    "0=\"DELETED\" 1=\"a\" 2=\"13\" 4=\"2026-11-25T12:02:00Z\" END\n"
	    "0=\"ERROR\" 15=\"Failure\" 17=\"too old resource version: 1 (48213)\" 16=410 END\n"
	    "OK"));
}

/* Generated events: each field exactly as the generator recorded it. */
typedef struct got {
	deploy_want w;
	int ncond, events, bad;
	const deploy_want *want;
} got;

static void put_str(char *dst, size_t cap, const json_token *t)
{
	size_t n = t->len < cap - 1 ? t->len : cap - 1;

	memcpy(dst, t->str, n);
	dst[n] = '\0';
}

static int gen_event(void *ctx, const json_event *ev)
{
	got *g = ctx;
	const json_token *t = ev->tok;

	if (ev->kind == JSON_EV_END) {
		const deploy_want *w = &g->want[g->events++];

		if (strcmp(g->w.name, w->name) || strcmp(g->w.rv, w->rv) || strcmp(g->w.image, w->image) ||
		    strcmp(g->w.created, w->created) || g->w.generation != w->generation ||
		    g->w.observed != w->observed || g->w.replicas != w->replicas ||
		    g->w.ready != w->ready || g->w.available != w->available ||
		    g->w.updated != w->updated || g->w.deleting != w->deleting || g->ncond != 2 ||
		    strcmp(g->w.cond_reason[0], w->cond_reason[0]) ||
		    strcmp(g->w.cond_reason[1], w->cond_reason[1]) ||
		    strcmp(g->w.cond_status[0], w->cond_status[0]) ||
		    strcmp(g->w.cond_status[1], w->cond_status[1]))
			g->bad++;
		memset(&g->w, 0, sizeof(g->w));
		g->ncond = 0;
		return 0;
	}
	if (ev->kind == JSON_EV_ELEM_END) {
		g->ncond++;
		return 0;
	}
	if (ev->kind != JSON_EV_VALUE)
		return 0;
	switch (ev->path) {
	case 0: put_str(g->w.name, sizeof(g->w.name), t); break;
	case 1: put_str(g->w.rv, sizeof(g->w.rv), t); break;
	case 2: g->w.generation = t->i; break;
	case 3: g->w.deleting = t->type == JSON_STRING; break;
	case 4: put_str(g->w.created, sizeof(g->w.created), t); break;
	case 5: g->w.replicas = t->i; break;
	case 6: put_str(g->w.image, sizeof(g->w.image), t); break;
	case 7: g->w.observed = t->i; break;
	case 8: g->w.ready = t->i; break;
	case 9: g->w.available = t->i; break;
	case 10: g->w.updated = t->i; break;
	case 11:
		if (g->ncond < 2)
			put_str(g->w.cond_reason[g->ncond], sizeof(g->w.cond_reason[0]), t);
		break;
	case 12:
		if (g->ncond < 2)
			put_str(g->w.cond_status[g->ncond], sizeof(g->w.cond_status[0]), t);
		break;
	}
	return 0;
}

static void test_generated_events(void)
{
	static const char *const paths[] = {
		"object.metadata.name", "object.metadata.resourceVersion", "object.metadata.generation",
		"object.metadata.deletionTimestamp", "object.metadata.creationTimestamp",
		"object.spec.replicas", "object.spec.template.spec.containers[*].image",
		"object.status.observedGeneration", "object.status.readyReplicas",
		"object.status.availableReplicas", "object.status.updatedReplicas",
		"object.status.conditions[*].reason", "object.status.conditions[*].status",
		"object.status.conditions[*]",
	};
	enum { N = 120 };
	static json_pathset ps;
	static json_extract x;
	static deploy_want want[N];
	static char stream[N * 6000], sbuf[256];
	static got g;
	size_t len = 0, i, chunk;
	unsigned strict;

	CHECK_EQ_INT(json_pathset_compile(&ps, paths, sizeof(paths) / sizeof(paths[0])), 0);
	for (i = 0; i < N; i++)
		len += deploy_gen_event(stream + len, sizeof(stream) - len, (unsigned)i, &want[i]);
	/* Chunk sizes from 1 byte to 16 KiB, every alignment against 64-byte blocks. */
	/* Default path, strict, baseline, portable, SSE4.2. */
	for (strict = 0; strict <= 4; strict++) {
		static const unsigned fl[] = { 0, JSON_EXTRACT_STRICT, JSON_BASELINE_SIMD,
			JSON_PATH_SCALAR << JSON_SIMD_SHIFT, JSON_PATH_SSE42 << JSON_SIMD_SHIFT };

		for (chunk = 1; chunk <= 16384; chunk = chunk < 70 ? chunk + 1 : chunk * 2 + 1) {
			memset(&g, 0, sizeof(g));
			g.want = want;
			json_extract_init(&x, &ps, sbuf, sizeof(sbuf), fl[strict], gen_event, &g);
			for (i = 0; i < len; i += chunk)
				CHECK_EQ_INT(json_extract_feed(&x, stream + i, len - i < chunk ? len - i : chunk), 0);
			CHECK_EQ_INT(json_extract_finish(&x), 0);
			CHECK_EQ_INT(g.events, N);
			CHECK_EQ_INT(g.bad, 0);
		}
	}
}

static int stop_at_second(void *ctx, const json_event *ev)
{
	int *n = ctx;

	(void)ev;
	return ++*n == 2;
}

static void test_paths_and_abort(void)
{
	static json_pathset ps;
	static json_extract x;
	static char sbuf[64];
	const char *bad[] = { "", "a.", ".a", "a..b", "a[", "a[1]", "a\\", "a.[*]" };
	const char *dup[] = { "a.b", "a.b" };
	const char *ok[] = { "[*]", "[*][*].x", "a\\.b\\[c\\\\" };
	const char *one[] = { "a" };
	static log_t l;
	int n = 0;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(json_pathset_compile(&ps, &bad[i], 1), JSON_EUSAGE);
	CHECK_EQ_INT(json_pathset_compile(&ps, dup, 2), JSON_EUSAGE);
	CHECK_EQ_INT(json_pathset_compile(&ps, ok, 3), 0);
	EXTRACT_ALL(&ps, "[[{\"x\":1},{\"y\":2}],5,{\"a.b[c\\\\\":0}] {\"a.b[c\\\\\":7}", &l);
	CHECK(same_log(l.s, "0[0 0=[] 1=1 0]0 0[1 0=5 0]1 0[2 0={} 0]2 END\n2=7 END\nOK"));

	/* A callback's stop is sticky. */
	CHECK_EQ_INT(json_pathset_compile(&ps, one, 1), 0);
	json_extract_init(&x, &ps, sbuf, sizeof(sbuf), 0, stop_at_second, &n);
	CHECK_EQ_INT(json_extract_feed(&x, "{\"a\":1}", 7), JSON_EABORTED);
	CHECK_EQ_INT(json_extract_feed(&x, "{\"a\":1}", 7), JSON_EABORTED);
	CHECK_EQ_INT(json_extract_finish(&x), JSON_EABORTED);
	/* ... also when the value stopped at is a member's string or integer,
	 * which the member loop hands over without returning: the parser
	 * stops right after that value, itself not in error. */
	{
		const char *abc[] = { "a", "b", "c" };
		const char *in = "{\"a\":1,\"b\":\"x\",\"c\":2}";
		unsigned path;

		CHECK_EQ_INT(json_pathset_compile(&ps, abc, 3), 0);
		for (path = JSON_PATH_SCALAR; path <= JSON_PATH_AVX2; path++) {
			n = 0;
			json_extract_init(&x, &ps, sbuf, sizeof(sbuf), path << JSON_SIMD_SHIFT,
			    stop_at_second, &n);
			CHECK_EQ_INT(json_extract_feed(&x, in, strlen(in)), JSON_EABORTED);
			CHECK_EQ_INT(n, 2);
			CHECK_EQ_INT(json_offset(&x.p), 14);
			CHECK_EQ_INT(json_error(&x.p), 0);
			CHECK_EQ_INT(json_extract_feed(&x, "{}", 2), JSON_EABORTED);
			CHECK_EQ_INT(n, 2);
		}
	}

	/* No paths: every value skipped, END per value; errors still found. */
	CHECK_EQ_INT(json_pathset_compile(&ps, NULL, 0), 0);
	EXTRACT_ALL(&ps, "{\"a\":[1,{}]} 7 \"s\"", &l);
	CHECK(same_log(l.s, "END\nEND\nEND\nOK"));
	EXTRACT_ALL(&ps, "{\"a\":[1,{}]} {\"a\":\"\x01\"}", &l);
	CHECK(same_log(l.s, "END\nERR json: control character or bad escape in string"));
	/* A declared object leaf whose value is a string, array or number. */
	CHECK_EQ_INT(json_pathset_compile(&ps, one, 1), 0);
	EXTRACT_ALL(&ps, "{\"a\":[1,[2]]}{\"a\":\"x\"}{\"a\":{\"b\":1}}[{\"a\":1}]", &l);
	CHECK(same_log(l.s, "0=[] END\n0=\"x\" END\n0={} END\nEND\nOK"));
	/* A strict-mode-only error: inside skipped containers only skip checks apply. */
	json_extract_init(&x, &ps, sbuf, sizeof(sbuf), JSON_EXTRACT_STRICT, log_event, &l);
	CHECK_EQ_INT(json_extract_feed(&x, "{\"b\":[1 2]}", 11), JSON_ESYNTAX);
	json_extract_init(&x, &ps, sbuf, sizeof(sbuf), 0, log_event, &l);
	CHECK_EQ_INT(json_extract_feed(&x, "{\"b\":[1 2]}", 11), 0);
}

/* Stops at the event numbered *ctx (counting down). */
static int stop_at_nth(void *ctx, const json_event *ev)
{
	int *n = ctx;

	(void)ev;
	return --*n == 0;
}

/*
 * Arrays of objects, `},{"` between elements (the member loop takes it):
 * declared elements and undeclared ones with wanted members, an element
 * with none of them, arrays nobody asked for.  Same log whole, byte by
 * byte and split anywhere; a callback stopping at any event stops every
 * path at the offset the byte-wise machine stops at.
 */
static void test_array_of_objects(void)
{
	static const char *const paths[] = { "a[*]", "a[*].x", "b[*].y", "b[*].o.p" };
	static const char in[] =
	    "{\"a\":[{\"x\":1},{\"x\":\"s\"},{\"z\":2},{\"x\":3,\"w\":[{\"x\":9},{\"x\":8}]}],"
	    "\"b\":[{\"y\":1},{\"o\":{\"p\":true}},{\"y\":\"t\"}],\"c\":[{\"q\":1},{\"q\":2}],"
	    "\"d\":[{},{\"x\":1}, {\"x\":2}]}{\"a\":[{\"x\":4},{\"x\":5}]}";
	static json_pathset ps;
	static json_extract x;
	static char sbuf[64];
	static log_t l;
	size_t len = sizeof(in) - 1, i, at_byte;
	int k, n, events = 0;
	unsigned path;

	CHECK_EQ_INT(json_pathset_compile(&ps, paths, sizeof(paths) / sizeof(paths[0])), 0);
	extract_all_ways(&ps, in, len, &l, 1);
	CHECK(same_log(l.s, "0[0 0={} 1=1 0]0 0[1 0={} 1=\"s\" 0]1 0[2 0={} 0]2 0[3 0={} 1=3 0]3 "
	    "2=1 3=true 2=\"t\" END\n0[0 0={} 1=4 0]0 0[1 0={} 1=5 0]1 END\nOK"));
	for (i = 0; l.s[i]; i++)
		events += l.s[i] == ' ' || l.s[i] == '\n';
	for (k = 1; k <= events; k++) {
		/* The reference: byte by byte, the loop never sees `},{"` whole. */
		n = k;
		json_extract_init(&x, &ps, sbuf, sizeof(sbuf), JSON_PATH_SCALAR << JSON_SIMD_SHIFT, stop_at_nth, &n);
		for (i = 0; i < len && json_extract_feed(&x, in + i, 1) >= 0; i++)
			;
		if (i == len)
			continue;	/* fewer events than counted */
		at_byte = json_offset(&x.p);
		for (path = JSON_PATH_SCALAR; path <= JSON_PATH_AVX2; path++) {
			n = k;
			json_extract_init(&x, &ps, sbuf, sizeof(sbuf), path << JSON_SIMD_SHIFT, stop_at_nth, &n);
			CHECK_EQ_INT(json_extract_feed(&x, in, len), JSON_EABORTED);
			CHECK_EQ_INT(n, 0);
			if (json_offset(&x.p) != at_byte)
				fprintf(stderr, "stop at event %d, path %u: offset %zu, byte-wise %zu\n", k, path,
				    (size_t)json_offset(&x.p), at_byte);
			CHECK_EQ_INT(json_offset(&x.p), at_byte);
			CHECK_EQ_INT(json_error(&x.p), 0);
		}
	}
}

/* "*" names every member not otherwise named at its level, and the event carries the key. */
static void test_any_key(void)
{
	static const char *const paths[] = {
		"m.labels.*",			/* 0 */
		"m.labels.keep\\.me",		/* 1: named beats "*" */
		"m.ann.*.v",			/* 2: inside each member */
		"m.\\*",			/* 3: a literal key "*" */
		"x[*].*",			/* 4 */
	};
	static const char in[] =
	    "{\"m\":{\"labels\":{\"a/b\":\"1\",\"keep.me\":\"2\",\"c\\u0041\":{\"deep\":1},\"d\":null},"
	    "\"ann\":{\"p\":{\"v\":7,\"w\":8},\"q\":{\"w\":9}},\"*\":true,\"y\":3},"
	    "\"x\":[{\"k\":\"v\"},{}]}";
	static json_pathset ps;
	static log_t l;
	char longkey[JSON_ANY_KEY_MAX + 40];
	char doc[sizeof(longkey) + 64];
	size_t n;

	CHECK_EQ_INT(json_pathset_compile(&ps, paths, sizeof(paths) / sizeof(paths[0])), 0);
	extract_all_ways(&ps, in, sizeof(in) - 1, &l, 1);
	CHECK(same_log(l.s,
	    "0<a/b>=\"1\" 1=\"2\" 0<cA>={} 0<d>=null 2=7 3=true 4<k>=\"v\" END\nOK"));

	/* A key too long to keep: that member is skipped, the others still come. */
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[JSON_ANY_KEY_MAX + 1] = '\0';
	n = (size_t)snprintf(doc, sizeof(doc), "{\"m\":{\"labels\":{\"%s\":\"1\",\"z\":\"2\"}}}", longkey);
	extract_all_ways(&ps, doc, n, &l, 0);
	CHECK(same_log(l.s, "0<z>=\"2\" END\nOK"));
}

/* Unwanted keys are first turned away on their length modulo 64: keys 64
 * and 128 bytes longer than a named one (or 64 shorter) still have to
 * match it byte for byte, with and without a "*" beside it. */
static void test_key_length_classes(void)
{
	static json_pathset ps;
	static log_t l;
	static char p65[80], p66[80], doc[700];
	const char *named[] = { "o.a", p65 };
	const char *with_any[] = { "o.b", p66, "o.*" };
	char k1[2] = "a", k64[80], k65[80], k129[140];
	size_t n;

	memset(k64, 'a', 64);
	k64[64] = '\0';
	memset(k65, 'a', 65);
	k65[65] = '\0';
	memset(k129, 'a', 129);
	k129[129] = '\0';
	snprintf(p65, sizeof(p65), "o.%.64sq", k64);	/* 65 bytes: 'a' x 64, 'q' */
	CHECK_EQ_INT(json_pathset_compile(&ps, named, 2), 0);
	n = (size_t)snprintf(doc, sizeof(doc), "{\"o\":{\"%s\":1,\"%s\":2,\"%s\":3,\"%s\":4,\"%.64sq\":5}}",
	    k65, k129, k64, k1, k64);
	extract_all_ways(&ps, doc, n, &l, 0);
	CHECK(same_log(l.s, "0=4 1=5 END\nOK"));

	snprintf(p66, sizeof(p66), "o.%.65sq", k65);	/* 66 bytes */
	CHECK_EQ_INT(json_pathset_compile(&ps, with_any, 3), 0);
	n = (size_t)snprintf(doc, sizeof(doc), "{\"o\":{\"%s\":1,\"b\":2,\"%.65sq\":3,\"c\":4}}", k65, k65);
	extract_all_ways(&ps, doc, n, &l, 0);
	snprintf(doc, sizeof(doc), "2<%s>=1 0=2 1=3 2<c>=4 END\nOK", k65);
	CHECK(same_log(l.s, doc));
}

int main(void)
{
	RUN(test_list_response);
	RUN(test_watch_lines);
	RUN(test_generated_events);
	RUN(test_paths_and_abort);
	RUN(test_array_of_objects);
	RUN(test_any_key);
	RUN(test_key_length_classes);
	return harness_finish();
}
