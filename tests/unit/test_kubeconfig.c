/*
 * kubeconfig selection: which file, which context, what is taken from the
 * cluster and the user, relative paths, base64, and each refusal's line.
 */
/* CHECK_EQ_STR on the struct's 1 KiB path fields: the harness's message buffer may truncate them; fine. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include "k8s/kubeconfig.h"

static const char kind_cert[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
    "    server: https://127.0.0.1:6443\n"
    "    tls-server-name: kubernetes\n"
    "  name: kind-kind\n"
    "- cluster:\n"
    "    certificate-authority: ../pki/ca.crt\n"
    "    server: https://10.0.0.1:443\n"
    "  name: other\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: kind-kind\n"
    "    user: kind-kind\n"
    "  name: kind-kind\n"
    "- context:\n"
    "    cluster: other\n"
    "    namespace: team-a\n"
    "    user: tok\n"
    "  name: other\n"
    "current-context: kind-kind\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: kind-kind\n"
    "  user:\n"
    "    client-certificate-data: Y2VydA==\n"
    "    client-key-data: a2V5\n"
    "- name: tok\n"
    "  user:\n"
    "    tokenFile: secrets/token\n"
    "    token: abc.def\n"
    "- name: gke\n"
    "  user:\n"
    "    exec:\n"
    "      command: gke-gcloud-auth-plugin\n";

static int parse(k8s_kubeconfig *kc, const char *text, const char *context, char *err, size_t errsz)
{
	return k8s_kubeconfig_parse(kc, "/home/u/.kube/config", text, strlen(text), context, err, errsz);
}

static void test_current_context_client_cert(void)
{
	k8s_kubeconfig kc;
	char err[512] = "";

	CHECK_EQ_INT(parse(&kc, kind_cert, NULL, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(kc.context, "kind-kind");
	CHECK_EQ_STR(kc.server, "https://127.0.0.1:6443");
	CHECK_EQ_STR(kc.tls_server_name, "kubernetes");
	CHECK_EQ_MEM(kc.ca_pem, kc.ca_pem_len, "-----BEGIN CERTIFICATE-----\n", 28);
	CHECK_EQ_STR(kc.ca_file, "");
	CHECK_EQ_MEM(kc.cert_pem, kc.cert_pem_len, "cert", 4);
	CHECK_EQ_MEM(kc.key_pem, kc.key_pem_len, "key", 3);
	CHECK(kc.token == NULL);
	CHECK_EQ_STR(kc.namespace_, "");
	k8s_kubeconfig_free(&kc);
}

static void test_context_flag_relative_paths_namespace(void)
{
	k8s_kubeconfig kc;
	char err[512] = "";

	CHECK_EQ_INT(parse(&kc, kind_cert, "other", err, sizeof(err)), 0);
	CHECK_EQ_STR(kc.context, "other");
	CHECK_EQ_STR(kc.server, "https://10.0.0.1:443");
	CHECK_EQ_STR(kc.ca_file, "/home/u/.kube/../pki/ca.crt");
	CHECK(kc.ca_pem == NULL);
	CHECK_EQ_STR(kc.token_file, "/home/u/.kube/secrets/token");
	CHECK_EQ_STR(kc.token, "abc.def");
	CHECK_EQ_STR(kc.namespace_, "team-a");
	CHECK(kc.cert_pem == NULL && kc.cert_file[0] == '\0');
	k8s_kubeconfig_free(&kc);

	/* A kubeconfig named without a folder: relative paths stay relative to the working directory. */
	CHECK_EQ_INT(k8s_kubeconfig_parse(&kc, "config", kind_cert, strlen(kind_cert), "other", err, sizeof(err)), 0);
	CHECK_EQ_STR(kc.ca_file, "../pki/ca.crt");
	k8s_kubeconfig_free(&kc);
}

static void test_json_kubeconfig(void)
{
	static const char json[] = "{\"apiVersion\": \"v1\", \"kind\": \"Config\",\n"
	    " \"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": \"http://127.0.0.1:8001\"}}],\n"
	    " \"contexts\": [{\"name\": \"x\", \"context\": {\"cluster\": \"c\", \"namespace\": \"n1\"}}],\n"
	    " \"current-context\": \"x\"}\n";
	k8s_kubeconfig kc;
	char err[512] = "";

	CHECK_EQ_INT(parse(&kc, json, NULL, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(kc.server, "http://127.0.0.1:8001");
	CHECK_EQ_STR(kc.namespace_, "n1");
	CHECK_EQ_STR(kc.user, "");
	k8s_kubeconfig_free(&kc);
}

/* Each refusal: -1 and err holding want (and the file's path). */
static void refused(const char *text, const char *context, const char *want)
{
	k8s_kubeconfig kc;
	char err[700] = "";

	CHECK_EQ_INT(parse(&kc, text, context, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL || strstr(err, "kubeconfig /home/u/.kube/config: ") != err) {
		fprintf(stderr, "  got: %s\n  want: %s\n", err, want);
		CHECK(0);
	}
}

static void test_refusals(void)
{
	char text[4096];

	refused(kind_cert, "gke", "context \"gke\" not found (contexts: kind-kind, other)");
	refused(kind_cert, "nope", "context \"nope\" not found");
	snprintf(text, sizeof(text), "%s", kind_cert);
	memcpy(strstr(text, "    user: tok"), "    user: gke", 13);
	refused(text, "other", "user \"gke\" authenticates with the exec plugin \"gke-gcloud-auth-plugin\", and "
	    "cplane runs no plugins: run `kubectl proxy` and pass --apiserver http://127.0.0.1:8001, or give a "
	    "token (--token-file)");
	refused("clusters:\n- name: c\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: true\n"
	    "contexts:\n- name: x\n  context:\n    cluster: c\ncurrent-context: x\n", NULL,
	    "cluster \"c\" sets insecure-skip-tls-verify");
	refused("clusters:\n- name: c\n  cluster:\n    server: https://h\ncontexts:\n- name: x\n  context:\n"
	    "    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    auth-provider:\n"
	    "      name: azure\n", NULL, "auth-provider plugin \"azure\"");
	refused("clusters:\n- name: c\n  cluster:\n    server: https://h\ncontexts:\n- name: x\n  context:\n"
	    "    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    username: a\n"
	    "    password: b\n", NULL, "username and password");
	refused("clusters:\n- name: c\n  cluster:\n    server: https://h\ncontexts:\n- name: x\n  context:\n"
	    "    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n"
	    "    client-certificate: c.pem\n", NULL, "user \"u\" has a client certificate without its key");
	refused("clusters:\n- name: c\n  cluster:\n    server: https://h\n"
	    "    certificate-authority-data: '***'\ncontexts:\n- name: x\n  context:\n    cluster: c\n"
	    "current-context: x\n", NULL, "line 5: cluster certificate-authority-data is not valid base64");
	refused("clusters: []\ncontexts:\n- name: x\n  context:\n    cluster: c\ncurrent-context: x\n", NULL,
	    "cluster \"c\" of context \"x\" is not in clusters");
	refused("clusters:\n- name: c\n  cluster:\n    insecure: 1\ncontexts:\n- name: x\n  context:\n    cluster: c\n"
	    "current-context: x\n", NULL, "cluster \"c\" has no server");
	refused("apiVersion: v1\nclusters: []\n", NULL, "no current-context set and no --context given");
	refused("apiVersion: v1\nclusters:\n\t- x\n", NULL, "line 3: tab in indentation");
	refused("- a\n- b\n", NULL, "not a kubeconfig (no mapping at the top)");
	refused("current-context: [a]\n", NULL, "line 1: current-context is not a string");
}

static void test_base64(void)
{
	size_t n;
	uint8_t *p;

	p = k8s_base64_decode("aGVsbG8=", 8, &n);
	CHECK_EQ_MEM(p, n, "hello", 5);
	free(p);
	p = k8s_base64_decode("aGVs\nbG8", 8, &n);	/* no padding, a line break */
	CHECK_EQ_MEM(p, n, "hello", 5);
	free(p);
	p = k8s_base64_decode("", 0, &n);
	CHECK(p != NULL && n == 0);
	free(p);
	CHECK(k8s_base64_decode("aGVsbG8=x", 9, &n) == NULL);	/* data after padding */
	CHECK(k8s_base64_decode("a", 1, &n) == NULL);		/* a lone sextet */
	CHECK(k8s_base64_decode("aGVsbG9=", 8, &n) == NULL);	/* non-zero leftover bits */
	CHECK(k8s_base64_decode("aG-s", 4, &n) == NULL);
}

static void test_locate(void)
{
	char dir[] = "/tmp/cplane-kc-XXXXXX", a[256], b[256], home_cfg[256], list[1024], path[KUBECONFIG_PATH_MAX];
	char err[256];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	f = fopen(b, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_EQ_INT(k8s_kubeconfig_locate("/x/flag", "ignored", "/nohome", path, sizeof(path), err, sizeof(err)), 1);
	CHECK_EQ_STR(path, "/x/flag");
	snprintf(list, sizeof(list), "%s::%s:%s", a, b, a);
	CHECK_EQ_INT(k8s_kubeconfig_locate(NULL, list, "/nohome", path, sizeof(path), err, sizeof(err)), 1);
	CHECK_EQ_STR(path, b);
	CHECK_EQ_INT(k8s_kubeconfig_locate("", a, "/nohome", path, sizeof(path), err, sizeof(err)), 0);
	CHECK_EQ_STR(path, "");
	snprintf(home_cfg, sizeof(home_cfg), "%s/.kube", dir);
	CHECK_EQ_INT(mkdir(home_cfg, 0700), 0);
	snprintf(home_cfg, sizeof(home_cfg), "%s/.kube/config", dir);
	f = fopen(home_cfg, "w");
	if (f)
		fclose(f);
	CHECK_EQ_INT(k8s_kubeconfig_locate(NULL, a, dir, path, sizeof(path), err, sizeof(err)), 1);
	CHECK_EQ_STR(path, home_cfg);
	unlink(home_cfg);
	snprintf(home_cfg, sizeof(home_cfg), "%s/.kube", dir);
	rmdir(home_cfg);
	unlink(b);
	rmdir(dir);
}

int main(void)
{
	RUN(test_current_context_client_cert);
	RUN(test_context_flag_relative_paths_namespace);
	RUN(test_json_kubeconfig);
	RUN(test_refusals);
	RUN(test_base64);
	RUN(test_locate);
	return harness_finish();
}
