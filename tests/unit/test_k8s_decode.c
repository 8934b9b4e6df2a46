/* k8s: Status parsing, the create body, backoff schedule, Deployment event/list decoding at every split. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "k8s/backoff.h"
#include "k8s/deploy.h"
#include "k8s/status.h"

/* ---------------------------------------------------------------- Status */

static void test_status_already_exists(void)
{
	static const char body[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"deployments.apps \\\"demo\\\" already exists\",\"reason\":\"AlreadyExists\","
	    "\"details\":{\"name\":\"demo\",\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":409}\n";
	k8s_error e;

	CHECK_EQ_INT(k8s_status_parse(body, strlen(body), 409, &e), 0);
	CHECK_EQ_INT(e.kind, K8S_ERR_API);
	CHECK_EQ_INT(e.code, 409);
	CHECK_EQ_STR(e.reason, "AlreadyExists");
	CHECK_EQ_STR(e.message, "deployments.apps \"demo\" already exists");
	CHECK_EQ_INT(e.retry_after_ms, 0);
	CHECK(!k8s_error_retryable(&e));
}

static void test_status_forbidden_and_429(void)
{
	static const char forb[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
	    "\"deployments.apps is forbidden: User \\\"system:serviceaccount:default:cplane\\\" cannot create "
	    "resource \\\"deployments\\\" in API group \\\"apps\\\" in the namespace \\\"default\\\"\","
	    "\"reason\":\"Forbidden\",\"details\":{\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":403}";
	static const char tmr[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
	    "\"Too many requests, please try again later.\",\"reason\":\"TooManyRequests\","
	    "\"details\":{\"retryAfterSeconds\":3},\"code\":429}";
	k8s_error e;

	k8s_status_parse(forb, strlen(forb), 403, &e);
	CHECK_EQ_STR(e.reason, "Forbidden");
	CHECK(strstr(e.message, "cannot create resource \"deployments\"") != NULL);
	k8s_status_parse(tmr, strlen(tmr), 429, &e);
	CHECK_EQ_STR(e.reason, "TooManyRequests");
	CHECK_EQ_INT(e.retry_after_ms, 3000);
	CHECK(k8s_error_retryable(&e));
}

static void test_status_not_a_status(void)
{
	k8s_error e;

	k8s_status_parse("<html>Bad Gateway</html>\nmore", 30, 502, &e);
	CHECK_EQ_INT(e.code, 502);
	CHECK_EQ_STR(e.reason, "");
	CHECK_EQ_STR(e.message, "<html>Bad Gateway</html>");
	CHECK(k8s_error_retryable(&e));
	k8s_status_parse("", 0, 404, &e);
	CHECK_EQ_STR(e.reason, "NotFound");
	CHECK_EQ_STR(e.message, "HTTP 404 NotFound");
	/* JSON but not a Status: reason from the code, not from the body. */
	{
		static const char dep[] = "{\"kind\":\"Deployment\",\"reason\":\"x\"}";
		k8s_status_parse(dep, strlen(dep), 410, &e);
	}
	CHECK_EQ_STR(e.reason, "Expired");
	CHECK_EQ_STR(e.message, "HTTP 410 Expired");
	/* Status without reason */
	{
		static const char st[] = "{\"kind\":\"Status\",\"message\":\"boom\",\"code\":500}";
		k8s_status_parse(st, strlen(st), 500, &e);
	}
	CHECK_EQ_STR(e.reason, "InternalError");
	CHECK_EQ_STR(e.message, "boom");
}

static void test_status_split(void)
{
	static const char body[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"deployments.apps \\\"x\\\" not found\",\"reason\":\"NotFound\","
	    "\"details\":{\"name\":\"x\",\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":404}";
	k8s_error e;

	/* Truncated bodies fall back to the code's reason and never crash. */
	for (size_t n = 0; n <= strlen(body); n++) {
		k8s_status_parse(body, n, 404, &e);
		CHECK_EQ_STR(e.reason, "NotFound");
		CHECK_EQ_INT(e.code, 404);
	}
	CHECK_EQ_STR(e.message, "deployments.apps \"x\" not found");
}

/* ------------------------------------------------------------ create body */

static void test_body_exact(void)
{
	uint8_t out[2048];
	k8s_deploy_spec s = { "demo", 30, "registry.k8s.io/pause:3.9", "cplane.dev/pool=subtask-topology-aware", 300, NULL, NULL };
	static const char want[] =
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"demo\",\"labels\":"
	    "{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"demo\","
	    "\"cplane.dev/cluster\":\"demo\"}},\"spec\":{\"replicas\":30,\"progressDeadlineSeconds\":300,"
	    "\"selector\":{\"matchLabels\":{\"cplane.dev/cluster\":\"demo\"}},\"template\":{\"metadata\":"
	    "{\"labels\":{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"demo\","
	    "\"cplane.dev/cluster\":\"demo\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
	    "\"registry.k8s.io/pause:3.9\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
	    "\"capabilities\":{\"drop\":[\"ALL\"]},\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}],"
	    "\"automountServiceAccountToken\":false,\"nodeSelector\":{\"cplane.dev/pool\":\"subtask-topology-aware\"}}}}}";
	static const char want_plain[] =
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"a\",\"labels\":"
	    "{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"a\","
	    "\"cplane.dev/cluster\":\"a\"}},\"spec\":{\"replicas\":1,"
	    "\"selector\":{\"matchLabels\":{\"cplane.dev/cluster\":\"a\"}},\"template\":{\"metadata\":"
	    "{\"labels\":{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"a\","
	    "\"cplane.dev/cluster\":\"a\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
	    "\"nginx\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
	    "\"capabilities\":{\"drop\":[\"ALL\"]},\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}],"
	    "\"automountServiceAccountToken\":false}}}}";
	int n = k8s_deploy_write_body(&s, out, sizeof(out));

	CHECK_EQ_MEM(out, n > 0 ? (size_t)n : 0, want, strlen(want));
	s = (k8s_deploy_spec){ "a", 1, "nginx", "", 0, NULL, NULL };
	n = k8s_deploy_write_body(&s, out, sizeof(out));
	CHECK_EQ_MEM(out, n > 0 ? (size_t)n : 0, want_plain, strlen(want_plain));
	CHECK_EQ_INT(k8s_deploy_write_body(&s, out, 100), JSON_ENOSPC);
	s.node_selector = "novalue";
	CHECK_EQ_INT(k8s_deploy_write_body(&s, out, sizeof(out)), JSON_EUSAGE);
	s.node_selector = NULL;
	s.image = "";
	CHECK_EQ_INT(k8s_deploy_write_body(&s, out, sizeof(out)), JSON_EUSAGE);
	CHECK_EQ_STR(K8S_DELETE_FOREGROUND_BODY,
	    "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Foreground\"}");
}

/* ---------------------------------------------------------------- backoff */

struct seq_rand { const uint32_t *v; size_t n, i; };

static uint32_t seq_next(void *ctx)
{
	struct seq_rand *s = ctx;
	uint32_t v = s->v[s->i % s->n];

	s->i++;
	return v;
}

static void test_backoff_schedule(void)
{
	/* r = 0 gives the floor (ceil/2) every time. */
	static const uint32_t zero[] = { 0 };
	struct seq_rand z = { zero, 1, 0 };
	k8s_backoff b;
	static const int64_t floor_want[] = { 125, 250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000 };

	k8s_backoff_init(&b, 250, 30000, seq_next, &z);
	for (size_t i = 0; i < 10; i++)
		CHECK_EQ_INT(k8s_backoff_next(&b), floor_want[i]);
	k8s_backoff_reset(&b);
	CHECK_EQ_INT(k8s_backoff_next(&b), 125);

	/* all ones: ((2^64-1) % (span)) — span = ceil/2 + 1 — pinned values */
	static const uint32_t ones[] = { 0xffffffffu };
	struct seq_rand o = { ones, 1, 0 };
	k8s_backoff_init(&b, 250, 30000, seq_next, &o);
	for (size_t i = 0; i < 10; i++) {
		int64_t ceil = floor_want[i] * 2;
		uint64_t span = (uint64_t)(ceil - ceil / 2) + 1;
		CHECK_EQ_INT(k8s_backoff_next(&b), ceil / 2 + (int64_t)(UINT64_MAX % span));
	}

	/* Built-in generator: always within [ceil/2, ceil], and the cap holds. */
	k8s_backoff_init(&b, 250, 30000, NULL, NULL);
	for (int i = 0; i < 200; i++) {
		int64_t ceil = i < 7 ? (int64_t)250 << i : 30000;
		if (ceil > 30000)
			ceil = 30000;
		int64_t d = k8s_backoff_next(&b);
		CHECK(d >= ceil / 2 && d <= ceil);
	}
	CHECK_EQ_INT(k8s_backoff_uniform(&b, 5, 5), 5);
}

/* ---------------------------------------------------------------- decoder */

#define DEPLOY_OBJ(NAME, RV, EXTRA_META, STATUS) \
	"{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"" NAME "\"," \
	"\"namespace\":\"default\",\"uid\":\"6f1c2b7e-3a8d-4c1e-9f0a-2b3c4d5e6f70\",\"resourceVersion\":\"" RV "\"," \
	"\"generation\":2,\"creationTimestamp\":\"2023-01-23T14:20:19Z\"," EXTRA_META \
	"\"labels\":{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"" NAME "\"," \
	"\"cplane.dev/cluster\":\"" NAME "\",\"other\":\"x\"},\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"}," \
	"\"managedFields\":[{\"manager\":\"cplane\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\"," \
	"\"time\":\"2023-01-23T14:20:19Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":" \
	"{\".\":{},\"f:app.kubernetes.io/managed-by\":{},\"f:cplane.dev/cluster\":{}}},\"f:spec\":{\"f:replicas\":{}," \
	"\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{}}}}}}}}," \
	"{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\",\"time\":" \
	"\"2023-01-23T14:20:40Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:conditions\":{}}}," \
	"\"subresource\":\"status\"}]},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":" \
	"{\"cplane.dev/cluster\":\"" NAME "\"}},\"template\":{\"metadata\":{\"creationTimestamp\":null,\"labels\":" \
	"{\"cplane.dev/cluster\":\"" NAME "\",\"image\":\"not-this\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":" \
	"\"registry.k8s.io/pause:3.9\",\"resources\":{},\"terminationMessagePath\":\"/dev/termination-log\"}," \
	"{\"name\":\"side\",\"image\":\"busybox\"}],\"restartPolicy\":\"Always\",\"nodeSelector\":{\"a\":\"b\"}}}," \
	"\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":\"25%\",\"maxSurge\":\"25%\"}}," \
	"\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":600},\"status\":" STATUS "}"

#define STATUS_READY \
	"{\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":3,\"readyReplicas\":3,\"availableReplicas\":3," \
	"\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"lastUpdateTime\":\"2023-01-23T14:20:40Z\"," \
	"\"lastTransitionTime\":\"2023-01-23T14:20:40Z\",\"reason\":\"MinimumReplicasAvailable\",\"message\":" \
	"\"Deployment has minimum availability.\"},{\"type\":\"Progressing\",\"status\":\"True\",\"lastUpdateTime\":" \
	"\"2023-01-23T14:20:40Z\",\"lastTransitionTime\":\"2023-01-23T14:20:19Z\",\"reason\":\"NewReplicaSetAvailable\"," \
	"\"message\":\"ReplicaSet \\\"demo-7d9c5b8f4\\\" has successfully progressed.\"}]}"

#define STATUS_FAILED \
	"{\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":3,\"unavailableReplicas\":3," \
	"\"conditions\":[{\"message\":\"ReplicaSet \\\"demo-7d9c5b8f4\\\" has timed out progressing.\"," \
	"\"reason\":\"ProgressDeadlineExceeded\",\"status\":\"False\",\"type\":\"Progressing\"}," \
	"{\"type\":\"Available\",\"status\":\"False\",\"reason\":\"MinimumReplicasUnavailable\"," \
	"\"message\":\"Deployment does not have minimum availability.\"}]}"

static const char watch_stream[] =
    "{\"type\":\"ADDED\",\"object\":" DEPLOY_OBJ("demo", "1001", "", STATUS_READY) "}\n"
    "{\"type\":\"MODIFIED\",\"object\":" DEPLOY_OBJ("slow", "1002", "\"deletionTimestamp\":\"2023-01-23T14:21:00Z\",",
	STATUS_FAILED) "}\n"
    "{\"object\":{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"resourceVersion\":\"1005\","
    "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}},\"type\":\"BOOKMARK\"}\n"
    "{\"type\":\"DELETED\",\"object\":" DEPLOY_OBJ("demo", "1006", "", "{}") "}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
    "\"Failure\",\"message\":\"too old resource version: 1 (1006)\",\"reason\":\"Expired\",\"code\":410}}\n";

struct collected {
	char lines[16][2048];
	int n;
};

static int collect(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	struct collected *c = ctx;
	char *l = c->lines[c->n < 16 ? c->n : 15];

	if (type == K8S_EV_ERROR) {
		snprintf(l, 2048, "ERROR %d %s %s", st->code, st->reason, st->message);
	} else {
		snprintf(l, 2048, "%s %s rv=%s uid=%s gen=%lld/%lld rep=%d/%d/%d/%d mg=%d del=%d ln=%s lc=%s "
		    "img=%s ct=%lld av=%d:%s pr=%d:%s:%s rf=%d ready=%d failed=%d",
		    k8s_event_type_str(type), d->name, d->resource_version, d->uid, (long long)d->generation,
		    (long long)d->observed_generation, d->replicas, d->ready_replicas, d->available_replicas,
		    d->updated_replicas, d->managed, d->deleting, d->label_name, d->label_cluster, d->image,
		    (long long)d->created_unix_ms, d->available.status, d->available.reason,
		    d->progressing.status, d->progressing.reason, d->progressing.message,
		    d->replica_failure.status, k8s_deployment_ready(d), k8s_deployment_failed(d));
	}
	c->n++;
	return 0;
}

static const char *const watch_want[] = {
	"ADDED demo rv=1001 uid=6f1c2b7e-3a8d-4c1e-9f0a-2b3c4d5e6f70 gen=2/2 rep=3/3/3/3 mg=1 del=0 ln=demo lc=demo "
	"img=registry.k8s.io/pause:3.9 ct=1674483619000 av=1:MinimumReplicasAvailable "
	"pr=1:NewReplicaSetAvailable:ReplicaSet \"demo-7d9c5b8f4\" has successfully progressed. rf=0 "
	"ready=1 failed=0",
	"MODIFIED slow rv=1002 uid=6f1c2b7e-3a8d-4c1e-9f0a-2b3c4d5e6f70 gen=2/2 rep=3/0/0/3 mg=1 del=1 ln=slow lc=slow "
	"img=registry.k8s.io/pause:3.9 ct=1674483619000 av=2:MinimumReplicasUnavailable "
	"pr=2:ProgressDeadlineExceeded:ReplicaSet \"demo-7d9c5b8f4\" has timed out "
	"progressing. rf=0 ready=0 failed=1",
	"BOOKMARK  rv=1005 uid= gen=0/0 rep=1/0/0/0 mg=0 del=0 ln= lc= img= ct=0 av=0: pr=0:: rf=0 ready=0 failed=0",
	("DELETED demo rv=1006 uid=6f1c2b7e-3a8d-4c1e-9f0a-2b3c4d5e6f70 gen=2/0 rep=3/0/0/0 mg=1 del=0 ln=demo lc=demo "
	"img=registry.k8s.io/pause:3.9 ct=1674483619000 av=0: pr=0:: rf=0 ready=0 failed=0"),
	"ERROR 410 Expired too old resource version: 1 (1006)",
};

static void check_watch(struct collected *c, const char *how, size_t split)
{
	int bad = c->n != 5;

	for (int i = 0; i < 5 && !bad; i++)
		bad = strcmp(c->lines[i], watch_want[i]) != 0;
	if (bad) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s split %zu: %d events", how, split, c->n);
		harness_fail_at(__FILE__, __LINE__, msg);
		for (int i = 0; i < c->n && i < 16; i++)
			fprintf(stderr, "  got  %s\n", c->lines[i]);
	}
}

static void test_watch_decode_splits(void)
{
	size_t len = strlen(watch_stream);
	k8s_deploy_decoder *dec;
	struct collected c;

	memset(&c, 0, sizeof(c));
	dec = k8s_deploy_decoder_new(K8S_DECODE_WATCH, collect, &c);
	CHECK(dec != NULL);
	if (!dec)
		return;
	CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, watch_stream, len), (int)len);
	CHECK_EQ_INT(k8s_deploy_decoder_finish(dec), 0);
	check_watch(&c, "whole", len);
	for (size_t i = 0; i < 5; i++)
		if (strcmp(c.lines[i], watch_want[i]) != 0)
			fprintf(stderr, "want %s\n", watch_want[i]);

	/* byte by byte */
	memset(&c, 0, sizeof(c));
	k8s_deploy_decoder_reset(dec);
	for (size_t i = 0; i < len; i++)
		CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, watch_stream + i, 1), 1);
	CHECK_EQ_INT(k8s_deploy_decoder_finish(dec), 0);
	check_watch(&c, "bytewise", 1);

	/* every split point, from a copy so a read past the slice would be caught */
	for (size_t s = 0; s <= len; s++) {
		char *a = malloc(s + 1), *b = malloc(len - s + 1);
		memcpy(a, watch_stream, s);
		memcpy(b, watch_stream + s, len - s);
		memset(&c, 0, sizeof(c));
		k8s_deploy_decoder_reset(dec);
		int r1 = k8s_deploy_decoder_feed(dec, a, s);
		int r2 = k8s_deploy_decoder_feed(dec, b, len - s);
		if (r1 != (int)s || r2 != (int)(len - s) || k8s_deploy_decoder_finish(dec) != 0)
			CHECK(!"feed failed");
		check_watch(&c, "split", s);
		free(a);
		free(b);
	}
	k8s_deploy_decoder_free(dec);
}

static const char list_doc[] =
    "{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"resourceVersion\":\"2001\","
    "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjAwMSwic3RhcnQiOiJkZW1vXHUwMDAwIn0\","
    "\"remainingItemCount\":5},\"items\":["
    DEPLOY_OBJ("demo", "1001", "", STATUS_READY) ","
    DEPLOY_OBJ("slow", "1002", "", STATUS_FAILED) ","
    DEPLOY_OBJ("this-name-is-far-too-long-to-be-a-dns-label-and-so-cannot-be-ours-at-all", "1003", "", "{}")
    "]}";

static void test_list_decode_splits(void)
{
	size_t len = strlen(list_doc);
	struct collected c;
	k8s_deploy_decoder *dec = k8s_deploy_decoder_new(K8S_DECODE_LIST, collect, &c);

	CHECK(dec != NULL);
	if (!dec)
		return;
	for (size_t s = 0; s <= len; s += (s < 300 || s > len - 300) ? 1 : 7) {
		memset(&c, 0, sizeof(c));
		k8s_deploy_decoder_reset(dec);
		CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, list_doc, s), (int)s);
		CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, list_doc + s, len - s), (int)(len - s));
		CHECK_EQ_INT(k8s_deploy_decoder_finish(dec), 0);
		CHECK_EQ_INT(c.n, 2);
		CHECK_EQ_STR(k8s_deploy_decoder_list_rv(dec), "2001");
		CHECK_EQ_STR(k8s_deploy_decoder_continue(dec),
		    "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjAwMSwic3RhcnQiOiJkZW1vXHUwMDAwIn0");
		CHECK_EQ_INT(k8s_deploy_decoder_skipped(dec), 1);
		CHECK(strncmp(c.lines[0], "ITEM demo rv=1001", 17) == 0);
		CHECK(strncmp(c.lines[1], "ITEM slow rv=1002", 17) == 0);
		CHECK(strstr(c.lines[1], "failed=1") != NULL);
	}
	/* truncated list: finish fails */
	memset(&c, 0, sizeof(c));
	k8s_deploy_decoder_reset(dec);
	k8s_deploy_decoder_feed(dec, list_doc, len - 1);
	CHECK(k8s_deploy_decoder_finish(dec) < 0);
	k8s_deploy_decoder_free(dec);
}

static void test_object_decode(void)
{
	static const char obj[] = DEPLOY_OBJ("demo", "77", "", "{}");
	struct collected c;
	k8s_deploy_decoder *dec = k8s_deploy_decoder_new(K8S_DECODE_OBJECT, collect, &c);

	memset(&c, 0, sizeof(c));
	CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, obj, strlen(obj)), (int)strlen(obj));
	CHECK_EQ_INT(k8s_deploy_decoder_finish(dec), 0);
	CHECK_EQ_INT(c.n, 1);
	CHECK(strncmp(c.lines[0], "ITEM demo rv=77 ", 16) == 0);
	/* garbage is an error, and sticky */
	k8s_deploy_decoder_reset(dec);
	CHECK(k8s_deploy_decoder_feed(dec, "{]", 2) < 0);
	CHECK(k8s_deploy_decoder_feed(dec, "{}", 2) < 0);
	k8s_deploy_decoder_free(dec);
}

int main(void)
{
	RUN(test_status_already_exists);
	RUN(test_status_forbidden_and_429);
	RUN(test_status_not_a_status);
	RUN(test_status_split);
	RUN(test_body_exact);
	RUN(test_backoff_schedule);
	RUN(test_watch_decode_splits);
	RUN(test_list_decode_splits);
	RUN(test_object_decode);
	return harness_finish();
}
