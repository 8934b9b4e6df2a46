/* k8s: the pod spec in the create body, merge patches and the headless
 * Service written byte for byte, and read back by the decoder at every split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "k8s/deploy.h"
#include "k8s/podspec.h"

static const k8s_kv env[] = { { "A", "1" }, { "B_2", "x \"y\"" } };
static const k8s_kv labels[] = { { "team", "db" }, { "example.com/tier", "a" } };
static const k8s_kv anns[] = { { "note", "caf\xc3\xa9" } };
static const k8s_port ports[] = { { "http", 80 }, { "metrics", 9090 } };
static const char *const cmd[] = { "sh", "-c" };
static const char *const args[] = { "echo hi" };

static k8s_podspec full_spec(void)
{
	k8s_podspec p = { 0 };

	p.cpu_request = "100m";
	p.memory_request = "64Mi";
	p.cpu_limit = "1";
	p.memory_limit = "128Mi";
	p.env = env;
	p.n_env = 2;
	p.command = cmd;
	p.n_command = 2;
	p.args = args;
	p.n_args = 1;
	p.ports = ports;
	p.n_ports = 2;
	p.labels = labels;
	p.n_labels = 2;
	p.annotations = anns;
	p.n_annotations = 1;
	p.service = 1;
	return p;
}

static void test_body_with_pod_spec(void)
{
	k8s_podspec p = full_spec();
	k8s_deploy_spec s = { "web", 3, "nginx:1", NULL, 0, &p, "0123456789abcdef" };
	uint8_t out[4096];
	int n = k8s_deploy_write_body(&s, out, sizeof(out));
	static const char want[] =
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":"
	    "{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"web\",\"cplane.dev/cluster\":\"web\"},"
	    "\"annotations\":{\"cplane.dev/spec-hash\":\"0123456789abcdef\",\"cplane.dev/service\":\"true\"}},"
	    "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"cplane.dev/cluster\":\"web\"}},"
	    "\"template\":{\"metadata\":{\"labels\":{\"app.kubernetes.io/managed-by\":\"cplane\","
	    "\"app.kubernetes.io/name\":\"web\",\"cplane.dev/cluster\":\"web\",\"team\":\"db\",\"example.com/tier\":\"a\"},"
	    "\"annotations\":{\"note\":\"caf\xc3\xa9\"}},"
	    "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1\","
	    "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]},"
	    "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"command\":[\"sh\",\"-c\"],"
	    "\"args\":[\"echo hi\"],\"ports\":[{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"TCP\"},"
	    "{\"name\":\"metrics\",\"containerPort\":9090,\"protocol\":\"TCP\"}],"
	    "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B_2\",\"value\":\"x \\\"y\\\"\"}],"
	    "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"},\"limits\":{\"cpu\":\"1\","
	    "\"memory\":\"128Mi\"}}}],\"automountServiceAccountToken\":false}}}}";

	CHECK(n > 0);
	CHECK_EQ_MEM(out, (size_t)n, want, sizeof(want) - 1);
	/* A caller label equal to one of ours is dropped, never written twice. */
	{
		k8s_kv dup[] = { { "cplane.dev/cluster", "evil" } };
		k8s_podspec q = { 0 };

		q.labels = dup;
		q.n_labels = 1;
		s.pod = &q;
		n = k8s_deploy_write_body(&s, out, sizeof(out));
		CHECK(n > 0);
		CHECK(strstr((char *)out, "evil") == NULL);
	}
}

static void test_patch_bodies(void)
{
	k8s_podspec p = { 0 };
	uint8_t out[1024];
	int n;
	k8s_deploy_patch scale = { 5, NULL, NULL, NULL };
	k8s_deploy_patch image = { 0, "nginx:2", &p, "feedfeedfeedfeed" };
	k8s_deploy_patch bad = { 0, NULL, &p, NULL };

	n = k8s_deploy_write_patch(&scale, out, sizeof(out));
	CHECK_EQ_MEM(out, (size_t)n, "{\"spec\":{\"replicas\":5}}", 23);
	p.cpu_request = "200m";
	n = k8s_deploy_write_patch(&image, out, sizeof(out));
	static const char want[] =
	    "{\"metadata\":{\"annotations\":{\"cplane.dev/spec-hash\":\"feedfeedfeedfeed\"}},\"spec\":{\"template\":"
	    "{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:2\","
	    "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]},"
	    "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"resources\":{\"requests\":"
	    "{\"cpu\":\"200m\"}}}]}}}}";
	CHECK_EQ_MEM(out, (size_t)n, want, sizeof(want) - 1);
	CHECK_EQ_INT(k8s_deploy_write_patch(&bad, out, sizeof(out)), JSON_EUSAGE);
}

static void test_service_body(void)
{
	k8s_podspec p = full_spec();
	uint8_t out[2048];
	int n = k8s_service_write_body("web", &p, "uid-1", out, sizeof(out));
	static const char want[] =
	    "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"labels\":"
	    "{\"app.kubernetes.io/managed-by\":\"cplane\",\"app.kubernetes.io/name\":\"web\",\"cplane.dev/cluster\":\"web\"},"
	    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"web\",\"uid\":\"uid-1\","
	    "\"controller\":true,\"blockOwnerDeletion\":true}]},\"spec\":{\"clusterIP\":\"None\",\"selector\":"
	    "{\"cplane.dev/cluster\":\"web\"},\"publishNotReadyAddresses\":true,\"ports\":[{\"name\":\"http\",\"port\":80,"
	    "\"targetPort\":80,\"protocol\":\"TCP\"},{\"name\":\"metrics\",\"port\":9090,\"targetPort\":9090,"
	    "\"protocol\":\"TCP\"}]}}";

	CHECK_EQ_MEM(out, (size_t)n, want, sizeof(want) - 1);
	CHECK_EQ_INT(k8s_service_write_body("web", &p, "", out, sizeof(out)), JSON_EUSAGE);
}

struct got {
	int n;
	char hash[K8S_SPEC_HASH_LEN + 1];
	int service;
	int have_pod;
	char pod_hash[K8S_SPEC_HASH_LEN + 1];
	char first_label[64];
	int n_labels, n_env, n_ports, n_cmd, n_args;
	char env1_value[32];
	int port2;
	char mem_limit[16];
};

static int got_one(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	struct got *g = ctx;

	(void)type;
	(void)st;
	g->n++;
	memcpy(g->hash, d->spec_hash, sizeof(g->hash));
	g->service = d->service;
	g->have_pod = d->pod != NULL;
	if (d->pod) {
		k8s_podspec p = *d->pod;

		p.service = d->service;
		k8s_podspec_hash(&p, g->pod_hash);
		g->n_labels = (int)p.n_labels;
		g->n_env = (int)p.n_env;
		g->n_ports = (int)p.n_ports;
		g->n_cmd = (int)p.n_command;
		g->n_args = (int)p.n_args;
		if (p.n_labels)
			snprintf(g->first_label, sizeof(g->first_label), "%s=%s", p.labels[0].key, p.labels[0].value);
		if (p.n_env > 1)
			snprintf(g->env1_value, sizeof(g->env1_value), "%s", p.env[1].value);
		if (p.n_ports > 1)
			g->port2 = p.ports[1].port;
		snprintf(g->mem_limit, sizeof(g->mem_limit), "%s", p.memory_limit ? p.memory_limit : "-");
	}
	return 0;
}

/* The body we write, read back: the same spec (same hash), whole, byte by byte and at every split. */
static void test_decode_round_trip(void)
{
	k8s_podspec p = full_spec();
	char want_hash[K8S_SPEC_HASH_LEN + 1];
	k8s_deploy_spec s = { "web", 3, "nginx:1", NULL, 0, &p, want_hash };
	static uint8_t out[4096];
	int n;

	k8s_podspec_hash(&p, want_hash);
	n = k8s_deploy_write_body(&s, out, sizeof(out));
	CHECK(n > 0);
	for (int split = 0; split <= n; split++) {
		struct got g;
		k8s_deploy_decoder *dec;

		memset(&g, 0, sizeof(g));
		dec = k8s_deploy_decoder_new(K8S_DECODE_OBJECT, got_one, &g);
		CHECK(dec != NULL);
		if (split == n) {
			for (int i = 0; i < n; i++)
				CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, out + i, 1), 1);
		} else {
			CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, out, (size_t)split), split);
			CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, out + split, (size_t)(n - split)), n - split);
		}
		CHECK_EQ_INT(k8s_deploy_decoder_finish(dec), 0);
		CHECK_EQ_INT(g.n, 1);
		CHECK_EQ_STR(g.hash, want_hash);
		CHECK_EQ_INT(g.service, 1);
		CHECK(g.have_pod);
		CHECK_EQ_STR(g.pod_hash, want_hash);	/* everything the hash covers came back */
		CHECK_EQ_INT(g.n_labels, 2);		/* ours are not the caller's */
		CHECK_EQ_STR(g.first_label, "team=db");
		CHECK_EQ_INT(g.n_env, 2);
		CHECK_EQ_STR(g.env1_value, "x \"y\"");
		CHECK_EQ_INT(g.port2, 9090);
		CHECK_EQ_INT(g.n_cmd, 2);
		CHECK_EQ_INT(g.n_args, 1);
		CHECK_EQ_STR(g.mem_limit, "128Mi");
		k8s_deploy_decoder_free(dec);
	}
}

/* Only container 0 counts; a second container's env is not the cluster's. */
static void test_decode_second_container_and_plain(void)
{
	static const char doc[] =
	    "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"template\":{\"spec\":{\"containers\":["
	    "{\"name\":\"app\",\"image\":\"a\",\"env\":[{\"name\":\"K\",\"value\":\"v\"},{\"name\":\"R\",\"valueFrom\":{}}]},"
	    "{\"name\":\"side\",\"image\":\"b\",\"env\":[{\"name\":\"S\",\"value\":\"w\"}],\"args\":[\"q\"]}]}}}}";
	struct got g;
	k8s_deploy_decoder *dec;

	memset(&g, 0, sizeof(g));
	dec = k8s_deploy_decoder_new(K8S_DECODE_OBJECT, got_one, &g);
	CHECK_EQ_INT(k8s_deploy_decoder_feed(dec, doc, sizeof(doc) - 1), (int)sizeof(doc) - 1);
	CHECK_EQ_INT(k8s_deploy_decoder_finish(dec), 0);
	CHECK_EQ_INT(g.n, 1);
	CHECK(g.have_pod);
	CHECK_EQ_INT(g.n_env, 2);
	CHECK_EQ_STR(g.env1_value, "");
	CHECK_EQ_INT(g.n_args, 0);
	CHECK_EQ_STR(g.hash, "");
	CHECK_EQ_INT(g.service, 0);
	CHECK_EQ_STR(g.mem_limit, "-");
	k8s_deploy_decoder_free(dec);
}

int main(void)
{
	RUN(test_body_with_pod_spec);
	RUN(test_patch_bodies);
	RUN(test_service_body);
	RUN(test_decode_round_trip);
	RUN(test_decode_second_container_and_plain);
	return harness_finish();
}
