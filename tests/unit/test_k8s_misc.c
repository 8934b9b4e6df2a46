/* k8s: pod diagnosis (line format, PodList decoding at every split), the cache, URL and config loading. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "k8s/cache.h"
#include "k8s/config.h"
#include "k8s/pods.h"

/* -------------------------------------------------------------- diagnosis */

/* Through a pointer: the harness's message buffer is smaller than a whole diagnosis line. */
static void line_eq(const char *file, int line, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "  got  %s\n  want %s\n", got, want);
		harness_fail_at(file, line, "diagnosis line differs");
	}
}
#define LINE_EQ(got, want) line_eq(__FILE__, __LINE__, (got), (want))

static k8s_pod_info pod(const char *name, const char *phase)
{
	k8s_pod_info p;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.phase, sizeof(p.phase), "%s", phase);
	return p;
}

static void test_diag_unschedulable(void)
{
	k8s_diag *d = k8s_diag_new(0, 30);
	char line[K8S_DIAG_MAX];

	for (int i = 0; i < 30; i++) {
		char name[64];
		snprintf(name, sizeof(name), "demo-7d9c5b8f4-%05d", i);
		k8s_pod_info p = pod(name, "Pending");
		p.sched_status = K8S_COND_FALSE;
		strcpy(p.sched_reason, "Unschedulable");
		strcpy(p.sched_message,
		    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.");
		k8s_diag_add_pod(d, &p);
	}
	k8s_diag_format(d, line, sizeof(line));
	LINE_EQ(line, "0/30 available; pod demo-7d9c5b8f4-00000: Unschedulable: 0/1 nodes are available: "
	    "1 node(s) didn't match Pod's node affinity/selector. (and 29 more pods like it)");
	CHECK_EQ_INT(k8s_diag_pods(d), 30);
	CHECK_EQ_INT(k8s_diag_ready(d), 0);
	k8s_diag_free(d);
}

static void test_diag_mixed(void)
{
	k8s_diag *d = k8s_diag_new(1, 4);
	char line[K8S_DIAG_MAX];
	k8s_pod_info p;

	p = pod("a-1", "Running");
	p.ready = 1;
	p.sched_status = K8S_COND_TRUE;
	k8s_diag_add_pod(d, &p);
	p = pod("a-2", "Pending");
	p.sched_status = K8S_COND_TRUE;
	strcpy(p.wait_reason, "ContainerCreating");
	k8s_diag_add_pod(d, &p);
	p = pod("a-3", "Pending");
	p.sched_status = K8S_COND_TRUE;
	strcpy(p.wait_reason, "ImagePullBackOff");
	strcpy(p.wait_message, "Back-off pulling image \"nope:1\"");
	k8s_diag_add_pod(d, &p);
	p = pod("a-4", "Running");
	p.sched_status = K8S_COND_TRUE;
	strcpy(p.wait_reason, "CrashLoopBackOff");
	strcpy(p.wait_message, "back-off 10s restarting failed container");
	p.restarts = 3;
	k8s_diag_add_pod(d, &p);
	k8s_diag_format(d, line, sizeof(line));
	/* container problems first (the larger group wins a tie in priority; here both have one pod,
	 * so the first seen), then the next */
	LINE_EQ(line, "1/4 available; pod a-3: ImagePullBackOff: Back-off pulling image \"nope:1\"; "
	    "pod a-4: CrashLoopBackOff: back-off 10s restarting failed container (restarted 3 times)");
	/* truncation keeps a NUL and reports the truncated length */
	char small[20];
	size_t n = k8s_diag_format(d, small, sizeof(small));
	CHECK_EQ_INT(n, 19);
	LINE_EQ(small, "1/4 available; pod ");
	k8s_diag_free(d);

	d = k8s_diag_new(0, 2);
	k8s_diag_format(d, line, sizeof(line));
	LINE_EQ(line, "0/2 available; no pods yet");
	p = pod("b-1", "");
	k8s_diag_add_pod(d, &p);
	k8s_diag_format(d, line, sizeof(line));
	LINE_EQ(line, "0/2 available; pod b-1: Pending, not scheduled yet");
	k8s_diag_free(d);

	d = k8s_diag_new(2, 2);
	p = pod("c-1", "Running");
	p.ready = 1;
	k8s_diag_add_pod(d, &p);
	k8s_diag_add_pod(d, &p);
	k8s_diag_format(d, line, sizeof(line));
	LINE_EQ(line, "2/2 available; 2/2 pods ready");
	k8s_diag_free(d);
}

static const char podlist[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"5001\"},\"items\":["
    "{\"metadata\":{\"name\":\"demo-7d9c5b8f4-x2x9q\",\"generateName\":\"demo-7d9c5b8f4-\",\"namespace\":"
    "\"default\",\"labels\":{\"cplane.dev/cluster\":\"demo\",\"pod-template-hash\":\"7d9c5b8f4\"},"
    "\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"fieldsV1\":{\"f:spec\":{}}}]},"
    "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"registry.k8s.io/pause:3.9\"}],"
    "\"nodeSelector\":{\"cplane.dev/pool\":\"x\"}},\"status\":{\"phase\":\"Pending\",\"conditions\":[{"
    "\"type\":\"PodScheduled\",\"status\":\"False\",\"lastProbeTime\":null,\"lastTransitionTime\":"
    "\"2023-01-23T14:20:19Z\",\"reason\":\"Unschedulable\",\"message\":\"0/1 nodes are available: 1 node(s) "
    "didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not "
    "helpful for scheduling.\"}],\"qosClass\":\"BestEffort\"}},"
    "{\"metadata\":{\"name\":\"demo-7d9c5b8f4-abcde\"},\"status\":{\"phase\":\"Pending\",\"conditions\":["
    "{\"message\":\"0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: "
    "0/1 nodes are available: 1 Preemption is not helpful for scheduling.\",\"reason\":\"Unschedulable\","
    "\"status\":\"False\",\"type\":\"PodScheduled\"}]}},"
    "{\"metadata\":{\"name\":\"demo-7d9c5b8f4-crash\"},\"status\":{\"phase\":\"Running\",\"conditions\":["
    "{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"ContainersNotReady\"},{\"type\":\"PodScheduled\","
    "\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"app\",\"state\":{\"waiting\":{\"reason\":"
    "\"CrashLoopBackOff\",\"message\":\"back-off 10s restarting failed container=app\"}},\"lastState\":{"
    "\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}},\"ready\":false,\"restartCount\":4,\"image\":\"x\"}]}},"
    "{\"metadata\":{\"name\":\"demo-7d9c5b8f4-ok\"},\"status\":{\"phase\":\"Running\",\"conditions\":["
    "{\"type\":\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"app\",\"state\":{\"running\":"
    "{}},\"restartCount\":0}]}}]}";

static const char podlist_want[] =
    "1/4 available; pod demo-7d9c5b8f4-x2x9q: Unschedulable: 0/1 nodes are available: 1 node(s) didn't match "
    "Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
    "scheduling. (and 1 more pod like it); pod demo-7d9c5b8f4-crash: CrashLoopBackOff: back-off 10s restarting "
    "failed container=app (restarted 4 times)";

static void test_diag_podlist_splits(void)
{
	size_t len = strlen(podlist);
	char line[K8S_DIAG_MAX];

	for (size_t s = 0; s <= len; s++) {
		k8s_diag *d = k8s_diag_new(1, 4);
		char *a = malloc(s + 1), *b = malloc(len - s + 1);
		memcpy(a, podlist, s);
		memcpy(b, podlist + s, len - s);
		CHECK_EQ_INT(k8s_diag_feed(d, a, s), (int)s);
		CHECK_EQ_INT(k8s_diag_feed(d, b, len - s), (int)(len - s));
		CHECK_EQ_INT(k8s_diag_finish(d), 0);
		k8s_diag_format(d, line, sizeof(line));
		if (strcmp(line, podlist_want) != 0) {
			LINE_EQ(line, podlist_want);
			s = len;
		}
		CHECK_EQ_INT(k8s_diag_ready(d), 1);
		free(a);
		free(b);
		k8s_diag_free(d);
	}
	k8s_diag *d = k8s_diag_new(0, 1);
	CHECK(k8s_diag_feed(d, "{\"items\":[}", 11) < 0);
	CHECK(k8s_diag_finish(d) < 0);
	k8s_diag_free(d);
}

/* ------------------------------------------------------------------ cache */

static void count_cb(void *ctx, const k8s_deployment *d)
{
	(void)d;
	(*(size_t *)ctx)++;
}

static void count_name_cb(void *ctx, const char *name)
{
	(void)name;
	(*(size_t *)ctx)++;
}

static void test_cache(void)
{
	k8s_cache *c = k8s_cache_new();
	static k8s_deployment d, last, got;
	int created;
	char seen[5000];

	memset(&d, 0, sizeof(d));
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 5000; i++) {
		snprintf(d.name, sizeof(d.name), "n%d", i);
		snprintf(d.resource_version, sizeof(d.resource_version), "%d", i);
		k8s_cache_put(c, &d, &created);
		CHECK_EQ_INT(created, 1);
	}
	CHECK_EQ_INT(k8s_cache_count(c), 5000);
	strcpy(d.name, "n42");
	strcpy(d.resource_version, "x");
	k8s_cache_put(c, &d, &created);
	CHECK_EQ_INT(created, 0);
	CHECK_EQ_INT(k8s_cache_get(c, "n42", &got), 1);
	CHECK_EQ_STR(got.resource_version, "x");
	CHECK_EQ_STR(k8s_cache_rv(c, "n42"), "x");
	CHECK(k8s_cache_rv(c, "n5000") == NULL);
	CHECK_EQ_INT(k8s_cache_get(c, "n5000", &got), 0);
	CHECK_EQ_INT(k8s_cache_get(c, "n43", NULL), 1);
	CHECK_EQ_INT(k8s_cache_remove(c, "n7", &last), 1);
	CHECK_EQ_STR(last.resource_version, "7");
	CHECK_EQ_INT(k8s_cache_remove(c, "n7", NULL), 0);

	k8s_cache_iter it = K8S_CACHE_ITER_INIT;
	const k8s_deployment *p;
	size_t n = 0;
	while ((p = k8s_cache_next(c, &it, &got)) != NULL) {
		int i = atoi(p->name + 1);
		CHECK(p == &got);
		CHECK(!seen[i]);
		seen[i] = 1;
		n++;
	}
	CHECK_EQ_INT(n, 4999);
	CHECK(k8s_cache_next(c, &it, &got) == NULL);

	for (int i = 0; i < 5000; i += 2) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		k8s_cache_set_mark(c, name, 3);
	}
	n = 0;
	k8s_cache_foreach_unmarked(c, 3, count_name_cb, &n);
	CHECK_EQ_INT(n, 2499);	/* odd names minus n7 */
	/* A replaced record keeps its mark. */
	strcpy(d.name, "n42");
	strcpy(d.resource_version, "y");
	k8s_cache_put(c, &d, NULL);
	n = 0;
	k8s_cache_foreach_unmarked(c, 3, count_name_cb, &n);
	CHECK_EQ_INT(n, 2499);
	n = 0;
	k8s_cache_foreach(c, count_cb, &n);
	CHECK_EQ_INT(n, 4999);
	k8s_cache_free(c);
}

/* A record with every field set, each distinct, strings at their longest. */
static void full_record(k8s_deployment *d, int i, int longest)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "full-%d", i);
	if (longest)
		memset(d->name + strlen(d->name), 'n', sizeof(d->name) - 1 - strlen(d->name));
	/* Canonical lowercase UUIDs are packed, anything else kept as text. */
	snprintf(d->uid, sizeof(d->uid), i % 10 == 9 ? "%08X-5F0C-4F7E-9D2A-%012X" : "%08x-5f0c-4f7e-9d2a-%012x",
	    (unsigned)i * 2654435761u, (unsigned)i);
	snprintf(d->resource_version, sizeof(d->resource_version), "%d", 1000000 + i);
	snprintf(d->label_name, sizeof(d->label_name), "%s", i % 3 ? d->name : "other-name");
	snprintf(d->label_cluster, sizeof(d->label_cluster), "%s", i % 4 ? d->name : "");
	d->managed = (uint8_t)(i % 5 != 0);
	d->deleting = (uint8_t)(i % 7 == 3);
	d->generation = 3 + (int64_t)i * 1000000007;
	d->observed_generation = -2 - i;
	d->created_unix_ms = 1764000000000 + i;
	d->replicas = 30 + i;
	d->ready_replicas = 1 + i % 29;
	d->available_replicas = 2 + i % 27;
	d->updated_replicas = 3 + i % 25;
	d->available.status = K8S_COND_TRUE;
	snprintf(d->available.reason, sizeof(d->available.reason), "MinimumReplicasAvailable");
	d->progressing.status = i % 2 ? K8S_COND_FALSE : K8S_COND_UNKNOWN;
	snprintf(d->progressing.reason, sizeof(d->progressing.reason), "%s",
	    i % 2 ? "ProgressDeadlineExceeded" : "SomeReasonNobodyListed");
	if (i % 2)
		snprintf(d->progressing.message, sizeof(d->progressing.message),
		    "ReplicaSet \"full-%d-7d9c8b5f4\" has timed out progressing.", i);
	d->replica_failure.status = K8S_COND_FALSE;
	snprintf(d->replica_failure.reason, sizeof(d->replica_failure.reason), "FailedCreate");
	snprintf(d->image, sizeof(d->image), "registry.example/app-%d:v%d", i, i % 9);
	if (longest) {
		memset(d->image, 'i', sizeof(d->image) - 1);
		memset(d->available.reason, 'a', sizeof(d->available.reason) - 1);
		if (i % 2)	/* kept only while Progressing is False */
			memset(d->progressing.message, 'm', sizeof(d->progressing.message) - 1);
		memset(d->replica_failure.reason, 'r', sizeof(d->replica_failure.reason) - 1);
		memset(d->uid, 'u', sizeof(d->uid) - 1);
		memset(d->resource_version, '9', sizeof(d->resource_version) - 1);
	}
	snprintf(d->spec_hash, sizeof(d->spec_hash), "%016x", (unsigned)i);
	d->service = (uint8_t)(i % 2);
}

/* Every field round-trips, through get, next, remove's last; at their longest too. */
static void test_cache_round_trip(void)
{
	k8s_cache *c = k8s_cache_new();
	static k8s_deployment d, got;

	for (int longest = 0; longest <= 1; longest++) {
		for (int i = 0; i < 40; i++) {
			full_record(&d, i, longest);
			k8s_cache_put(c, &d, NULL);
			CHECK_EQ_INT(k8s_cache_get(c, d.name, &got), 1);
			/* The whole struct: the arrays' tails are zero on both sides. */
			CHECK(memcmp(&got, &d, sizeof(d)) == 0);
			{
				char uid[K8S_UID_MAX], tiny[5];

				CHECK_EQ_INT(k8s_cache_uid(c, d.name, uid, sizeof(uid)), 1);
				CHECK_EQ_STR(uid, d.uid);
				CHECK_EQ_INT(k8s_cache_uid(c, d.name, tiny, sizeof(tiny)), 1);
				CHECK(strncmp(tiny, d.uid, 4) == 0 && tiny[4] == '\0');
				CHECK_EQ_INT(k8s_cache_uid(c, "absent", uid, sizeof(uid)), 0);
			}
			CHECK_EQ_INT(k8s_cache_remove(c, d.name, &got), 1);
			CHECK(memcmp(&got, &d, sizeof(d)) == 0);
		}
	}
	CHECK_EQ_INT(k8s_cache_count(c), 0);
	CHECK_EQ_INT(k8s_cache_record_bytes(c), 0);
	/* The numbers kept as varints, at their extremes. */
	full_record(&d, 3, 0);
	d.generation = INT64_MAX;
	d.observed_generation = INT64_MIN;
	d.created_unix_ms = -1;
	d.replicas = INT32_MIN;
	d.ready_replicas = INT32_MAX;
	k8s_cache_put(c, &d, NULL);
	CHECK_EQ_INT(k8s_cache_remove(c, d.name, &got), 1);
	CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	/* The Progressing message is kept only while Progressing is False, and
	 * the pod spec view never. */
	full_record(&d, 2, 0);
	snprintf(d.progressing.message, sizeof(d.progressing.message), "ReplicaSet has progressed.");
	d.progressing.status = K8S_COND_TRUE;
	d.pod = (const k8s_podspec *)&d;
	k8s_cache_put(c, &d, NULL);
	CHECK_EQ_INT(k8s_cache_get(c, d.name, &got), 1);
	CHECK_EQ_STR(got.progressing.message, "");
	CHECK(got.pod == NULL);
	memset(d.progressing.message, 0, sizeof(d.progressing.message));
	d.pod = NULL;
	CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	k8s_cache_free(c);
}

/* A record grows when a failure message arrives and shrinks when it goes;
 * its neighbours and its mark are untouched. */
static void test_cache_record_grows(void)
{
	k8s_cache *c = k8s_cache_new();
	static k8s_deployment d, got, other;
	size_t small, big;
	size_t n = 0;

	full_record(&other, 1, 0);
	k8s_cache_put(c, &other, NULL);
	full_record(&d, 4, 0);	/* Progressing Unknown, no message */
	k8s_cache_put(c, &d, NULL);
	k8s_cache_set_mark(c, d.name, 9);
	small = k8s_cache_record_bytes(c);
	d.progressing.status = K8S_COND_FALSE;
	snprintf(d.progressing.reason, sizeof(d.progressing.reason), "ProgressDeadlineExceeded");
	memset(d.progressing.message, 'x', sizeof(d.progressing.message) - 1);
	k8s_cache_put(c, &d, NULL);
	big = k8s_cache_record_bytes(c);
	CHECK(big >= small + sizeof(d.progressing.message) - 1 - strlen("SomeReasonNobodyListed"));
	CHECK_EQ_INT(k8s_cache_get(c, d.name, &got), 1);
	CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	CHECK(k8s_deployment_failed(&got));
	k8s_cache_foreach_unmarked(c, 9, count_name_cb, &n);
	CHECK_EQ_INT(n, 1);	/* only the other one: the grown record kept mark 9 */
	/* Back to progressing: the message goes, the record shrinks. */
	d.progressing.status = K8S_COND_TRUE;
	memset(d.progressing.reason, 0, sizeof(d.progressing.reason));
	snprintf(d.progressing.reason, sizeof(d.progressing.reason), "NewReplicaSetAvailable");
	memset(d.progressing.message, 0, sizeof(d.progressing.message));
	k8s_cache_put(c, &d, NULL);
	CHECK(k8s_cache_record_bytes(c) < small);
	CHECK_EQ_INT(k8s_cache_get(c, d.name, &got), 1);
	CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	CHECK_EQ_INT(k8s_cache_get(c, other.name, &got), 1);
	CHECK(memcmp(&got, &other, sizeof(other)) == 0);
	k8s_cache_free(c);
}

/* 100,000 records: all there, all exact, removals leave the rest findable. */
static void test_cache_100k(void)
{
	enum { N = 100000 };
	k8s_cache *c = k8s_cache_new();
	static k8s_deployment d, got;
	size_t bad = 0, n;

	for (int i = 0; i < N; i++) {
		full_record(&d, i, 0);
		k8s_cache_put(c, &d, NULL);
	}
	CHECK_EQ_INT(k8s_cache_count(c), N);
	printf("cache: %d records, %zu packed bytes each on average\n", N, k8s_cache_record_bytes(c) / N);
	CHECK(k8s_cache_record_bytes(c) / N < 300);
	for (int i = 0; i < N; i++) {
		full_record(&d, i, 0);
		if (!k8s_cache_get(c, d.name, &got) || memcmp(&got, &d, sizeof(d)) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	for (int i = 0; i < N; i += 3) {
		full_record(&d, i, 0);
		if (k8s_cache_remove(c, d.name, NULL) != 1)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	for (int i = 0; i < N; i++) {
		full_record(&d, i, 0);
		if (k8s_cache_get(c, d.name, NULL) != (i % 3 != 0))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	n = 0;
	k8s_cache_foreach(c, count_cb, &n);
	CHECK_EQ_INT(n, N - (N + 2) / 3);
	k8s_cache_free(c);
}

/* ----------------------------------------------------------------- config */

static void test_parse_url(void)
{
	char host[64], port[8], prefix[64];
	int tls;

	CHECK_EQ_INT(k8s_parse_url("https://10.96.0.1:443", &tls, host, sizeof(host), port, sizeof(port), prefix,
	    sizeof(prefix)), 0);
	CHECK_EQ_INT(tls, 1);
	CHECK_EQ_STR(host, "10.96.0.1");
	CHECK_EQ_STR(port, "443");
	CHECK_EQ_STR(prefix, "");
	CHECK_EQ_INT(k8s_parse_url("http://127.0.0.1:8001/", &tls, host, sizeof(host), port, sizeof(port), prefix,
	    sizeof(prefix)), 0);
	CHECK_EQ_INT(tls, 0);
	CHECK_EQ_STR(port, "8001");
	CHECK_EQ_STR(prefix, "");
	CHECK_EQ_INT(k8s_parse_url("https://[fd00::1]:6443/k8s/clusters/c-1/", &tls, host, sizeof(host), port,
	    sizeof(port), prefix, sizeof(prefix)), 0);
	CHECK_EQ_STR(host, "fd00::1");
	CHECK_EQ_STR(port, "6443");
	CHECK_EQ_STR(prefix, "/k8s/clusters/c-1");
	CHECK_EQ_INT(k8s_parse_url("https://api.example.com", &tls, host, sizeof(host), port, sizeof(port), prefix,
	    sizeof(prefix)), 0);
	CHECK_EQ_STR(port, "443");
	static const char *const bad[] = { "ftp://x", "https://", "https://:443", "https://h:", "https://h:99999",
		"https://h:8x", "https://[::1", "https://u@h:1", "https://h:1?x", "h:443" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(k8s_parse_url(bad[i], &tls, host, sizeof(host), port, sizeof(port), prefix,
		    sizeof(prefix)), -1);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_config_token(void)
{
	char dir[] = "/tmp/k8s-unit-XXXXXX", path[128], err[256];
	k8s_config cfg;
	k8s_config_opts o = { 0 };

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	write_file(path, "  abc.def\n");
	o.apiserver = "http://127.0.0.1:8001";
	o.token_file = path;
	o.sa_dir = dir;	/* no namespace file there: "default" */
	CHECK_EQ_INT(k8s_config_load(&cfg, &o, err, sizeof(err)), 0);
	CHECK_EQ_STR(cfg.token, "abc.def");
	CHECK_EQ_STR(cfg.namespace_, "default");
	CHECK_EQ_STR(cfg.host_header, "127.0.0.1:8001");
	CHECK_EQ_INT(cfg.tls, 0);
	CHECK_EQ_INT(k8s_config_reload_token(&cfg, err, sizeof(err)), 0);
	write_file(path, "rotated\n");
	CHECK_EQ_INT(k8s_config_reload_token(&cfg, err, sizeof(err)), 1);
	CHECK_EQ_STR(cfg.token, "rotated");
	write_file(path, "\n");
	CHECK_EQ_INT(k8s_config_reload_token(&cfg, err, sizeof(err)), -1);
	CHECK_EQ_STR(cfg.token, "rotated");	/* kept */
	unlink(path);
	CHECK_EQ_INT(k8s_config_reload_token(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "No such file") != NULL);
	k8s_config_free(&cfg);

	/* https without a readable CA fails with the file named */
	o.apiserver = "https://10.0.0.1:6443";
	o.token_file = NULL;
	o.ca_file = "/nonexistent/ca.crt";
	CHECK_EQ_INT(k8s_config_load(&cfg, &o, err, sizeof(err)), -1);
	CHECK(strstr(err, "/nonexistent/ca.crt") != NULL);

	/* in cluster needs the environment */
	o.apiserver = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	CHECK_EQ_INT(k8s_config_load(&cfg, &o, err, sizeof(err)), -1);
	CHECK(strstr(err, "KUBERNETES_SERVICE_HOST") != NULL);
	rmdir(dir);
}

int main(void)
{
	RUN(test_diag_unschedulable);
	RUN(test_diag_mixed);
	RUN(test_diag_podlist_splits);
	RUN(test_cache);
	RUN(test_cache_round_trip);
	RUN(test_cache_record_grows);
	RUN(test_cache_100k);
	RUN(test_parse_url);
	RUN(test_config_token);
	return harness_finish();
}
