#include "worker/config.h"

#include <stdio.h>
#include <string.h>

#include "base/flags.h"
#include "base/log.h"
#include "worker/allowlist.h"

static struct worker_config parsed;

static const char *check_log_format(const char *v)
{
	enum log_format f;

	return log_parse_format(v, &f) == 0 ? NULL : "want logfmt or json";
}

static const char *check_log_level(const char *v)
{
	enum log_level l;

	return log_parse_level(v, &l) == 0 ? NULL : "want debug, info, warn or error";
}

static const char *check_node_selector(const char *v)
{
	const char *eq = strchr(v, '=');

	if (*v == '\0')
		return NULL;
	return (eq && eq != v && eq[1] != '\0' && strchr(eq + 1, '=') == NULL) ? NULL : "want key=value";
}

static const char *check_auth(const char *v)
{
	return strcmp(v, "kubernetes") == 0 || strcmp(v, "none") == 0 ? NULL : "want kubernetes or none";
}

#define MS(x) ((int64_t)(x))
static const struct flag_def worker_flags[] = {
	{ "listen", FLAG_STRING, &parsed.listen, "gRPC listen address (default :50051)", 0, 0, NULL },
	{ "metrics-addr", FLAG_STRING, &parsed.metrics_addr,
	    "serve /metrics, /healthz, /readyz here, e.g. :8080 (default off)", 0, 0, NULL },
	{ "namespace", FLAG_STRING, &parsed.namespace_,
	    "namespace of the Deployments (default: the service account's)", 0, 0, NULL },
	{ "image", FLAG_STRING, &parsed.image, "default image (default registry.k8s.io/pause:3.9)", 0, 0, NULL },
	{ "allowed-images", FLAG_STRING, &parsed.allowed_images,
	    "comma-separated image prefixes a Create may use, e.g. registry.k8s.io,ghcr.io/org/ (default: any)", 0, 0,
	    NULL },
	{ "node-selector", FLAG_STRING, &parsed.node_selector, "key=value nodeSelector for the pods", 0, 0,
	    check_node_selector },
	{ "create-timeout", FLAG_DURATION, &parsed.create_timeout_ms, "longest a Create waits (default 5m)",
	    MS(1), MS(24) * 3600 * 1000, NULL },
	{ "delete-timeout", FLAG_DURATION, &parsed.delete_timeout_ms, "longest a Delete waits (default 2m)",
	    MS(1), MS(24) * 3600 * 1000, NULL },
	{ "max-replicas", FLAG_INT, &parsed.max_replicas, "largest replicas a Create may ask (default 1000)",
	    1, 1000000, NULL },
	{ "max-recv-msg-size", FLAG_INT, &parsed.max_recv_msg, "largest gRPC request message (default 4194304)",
	    1024, 1 << 30, NULL },
	{ "shutdown-grace", FLAG_DURATION, &parsed.shutdown_grace_ms,
	    "on SIGTERM, how long waiting calls may run (default 20s)", MS(0) - 1, MS(3600) * 1000, NULL },
	{ "max-connections", FLAG_INT, &parsed.max_conns,
	    "gRPC connections at most; also capped by the open-file limit (default 1000)", 1, 1000000, NULL },
	{ "max-connections-per-peer", FLAG_INT, &parsed.max_conns_per_peer,
	    "gRPC connections from one address at most, 0 = no limit (default 256)", 0, 1000000, NULL },
	{ "max-connection-idle", FLAG_DURATION, &parsed.max_conn_idle_ms,
	    "GOAWAY to a gRPC connection without a call this long, 0 = never (default 5m)", MS(0) - 1,
	    MS(24) * 3600 * 1000, NULL },
	{ "log-format", FLAG_STRING, &parsed.log_format, "logfmt or json (default logfmt)", 0, 0, check_log_format },
	{ "log-level", FLAG_STRING, &parsed.log_level, "debug, info, warn, error (default info)", 0, 0,
	    check_log_level },
	{ "apiserver", FLAG_STRING, &parsed.apiserver,
	    "API server URL (default: in-cluster; http://127.0.0.1:8001 for kubectl proxy)", 0, 0, NULL },
	{ "token-file", FLAG_STRING, &parsed.token_file, "bearer token file (default: the service account's)", 0,
	    0, NULL },
	{ "ca-file", FLAG_STRING, &parsed.ca_file, "CA bundle (PEM) for the API server (default: the service account's)",
	    0, 0, NULL },
	{ "tls-cert-file", FLAG_STRING, &parsed.tls_cert_file,
	    "serve gRPC over TLS with this PEM certificate chain (default: h2c)", 0, 0, NULL },
	{ "tls-key-file", FLAG_STRING, &parsed.tls_key_file, "PEM private key (RSA or EC) of --tls-cert-file", 0, 0,
	    NULL },
	{ "tls-client-ca-file", FLAG_STRING, &parsed.tls_client_ca_file,
	    "require client certificates signed by this PEM bundle (mTLS)", 0, 0, NULL },
	{ "tls-check-interval", FLAG_DURATION, &parsed.tls_check_interval_ms,
	    "how often the TLS files are checked for changes (default 10s)", MS(100), MS(3600) * 1000, NULL },
	{ "kubeconfig", FLAG_STRING, &parsed.kubeconfig,
	    "kubeconfig file when out of cluster (default $KUBECONFIG, else ~/.kube/config)", 0, 0, NULL },
	{ "context", FLAG_STRING, &parsed.context, "kubeconfig context (default its current-context)", 0, 0, NULL },
	{ "auth", FLAG_STRING, &parsed.auth, "who may call: kubernetes (TokenReview + SubjectAccessReview on every "
	    "call) or none (default kubernetes)", 0, 0, check_auth },
	{ "auth-audience", FLAG_STRING, &parsed.auth_audience, "audience callers' tokens must carry (default cplane; "
	    "\"\" accepts API tokens)", 0, 0, NULL },
	{ "auth-allow-ttl", FLAG_DURATION, &parsed.auth_allow_ttl_ms, "how long an allowing review is reused "
	    "(default 60s)", MS(1), MS(3600) * 1000, NULL },
	{ "auth-deny-ttl", FLAG_DURATION, &parsed.auth_deny_ttl_ms, "how long a refusing review is reused "
	    "(default 10s)", MS(1), MS(3600) * 1000, NULL },
};

static int set(const char *v) { return v != NULL && v[0] != '\0'; }

int worker_config_parse(struct worker_config *cfg, int argc, char **argv)
{
	char err[512], *pos[1];
	size_t npos = 0;

	memset(&parsed, 0, sizeof(parsed));
	parsed.listen = ":50051";
	parsed.metrics_addr = "";
	parsed.image = "registry.k8s.io/pause:3.9";
	parsed.allowed_images = "";
	parsed.create_timeout_ms = 5 * 60 * 1000;
	parsed.delete_timeout_ms = 2 * 60 * 1000;
	parsed.max_replicas = 1000;
	parsed.max_recv_msg = 4 * 1024 * 1024;
	parsed.shutdown_grace_ms = 20 * 1000;	/* under Kubernetes' 30 s termination grace */
	parsed.max_conns = 1000;
	parsed.max_conns_per_peer = 256;
	parsed.max_conn_idle_ms = 5 * 60 * 1000;
	parsed.log_format = "logfmt";
	parsed.log_level = "info";
	parsed.tls_check_interval_ms = 10 * 1000;
	parsed.auth = "kubernetes";
	parsed.auth_audience = "cplane";
	parsed.auth_allow_ttl_ms = 60 * 1000;
	parsed.auth_deny_ttl_ms = 10 * 1000;
	if (flags_parse(worker_flags, sizeof(worker_flags) / sizeof(worker_flags[0]), argc, argv, pos, 0, &npos,
	    err, sizeof(err)) < 0) {
		fprintf(stderr, "cplane: %s\n", err);
		return -1;
	}
	if (allowlist_check_flag(parsed.allowed_images, err, sizeof(err)) < 0) {
		fprintf(stderr, "cplane: %s\n", err);
		return -1;
	}
	if (!allowlist_admits(parsed.allowed_images, parsed.image)) {
		fprintf(stderr, "cplane: --image %s is not in --allowed-images %s\n", parsed.image, parsed.allowed_images);
		return -1;
	}
	if (set(parsed.tls_cert_file) != set(parsed.tls_key_file)) {
		fprintf(stderr, "cplane: --tls-cert-file and --tls-key-file go together\n");
		return -1;
	}
	if (set(parsed.tls_client_ca_file) && !set(parsed.tls_cert_file)) {
		fprintf(stderr, "cplane: --tls-client-ca-file needs --tls-cert-file and --tls-key-file\n");
		return -1;
	}
	*cfg = parsed;
	return 0;
}

void worker_config_print_flags(FILE *f)
{
	flags_print_help(worker_flags, sizeof(worker_flags) / sizeof(worker_flags[0]), f);
}
