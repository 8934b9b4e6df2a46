/*
 * Where the API server is and how to talk to it.
 *
 * In cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with
 * the service account's token, ca.crt and namespace under
 * /var/run/secrets/kubernetes.io/serviceaccount/.  Out of cluster:
 * --apiserver URL ("https://host:port[/prefix]" with --ca-file and
 * --token-file, or "http://127.0.0.1:8001" behind kubectl proxy, where no
 * token is needed).  Flags that are given win over the service account's
 * files.
 *
 * TLS verifies the certificate against a DNS name: the URL's host, or
 * "kubernetes.default.svc" when the host is an IP address (BearSSL matches DNS
 * names only, and every API server certificate carries that one).
 *
 * From a kubeconfig (k8s/kubeconfig.h; out of cluster): its server, CA,
 * tls-server-name, token or token file, client certificate and key, and
 * namespace, each unless the matching flag was given.
 *
 * The token file is re-read by k8s_config_reload_token(): the client calls it
 * every minute and after a 401, because bound service-account tokens rotate.
 */
#ifndef CPLANE_K8S_CONFIG_H
#define CPLANE_K8S_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "io/tls.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct k8s_config_opts {
	const char *apiserver;	/* URL or NULL/"" for in-cluster */
	const char *token_file;	/* NULL/"": the service account's (in-cluster), none (out of cluster) */
	const char *ca_file;	/* NULL/"": the service account's ca.crt when https */
	const char *namespace_;	/* NULL/"": the service account's namespace file, else "default" */
	const char *sa_dir;	/* NULL: K8S_SA_DIR (tests point it elsewhere) */
	const struct k8s_kubeconfig *kubeconfig;	/* out of cluster from a kubeconfig, or NULL */
} k8s_config_opts;

typedef struct k8s_config {
	int tls;			/* https */
	char host[256];			/* DNS name or IP literal, no brackets */
	char port[8];
	char host_header[272];		/* "host:port" as sent in Host: */
	char server_name[256];		/* the name TLS verifies */
	char prefix[256];		/* URL path prefix without trailing '/', often "" */
	char namespace_[64];
	char token_file[512];		/* "" = no token */
	char ca_file[512];
	char *token;			/* current bearer token, NUL-terminated; NULL = none */
	int64_t token_read_ms;		/* monotonic time of the last read */
	tls_anchors *anchors;		/* NULL for http */
	struct pem_chain *client_chain;	/* client certificate (kubeconfig), or NULL */
	struct pem_key *client_key;
	/*
	 * host:port resolved at load, before the loop runs (in a cluster the host is
	 * an IP: no lookup at all).  addrlen 0 = it did not resolve then; the client
	 * resolves it again off the loop (io/resolver.h), never blocking it.
	 */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char resolve_err[256];		/* why it did not resolve at load ("" when it did) */
} k8s_config;

/*
 * Resolves opts into cfg: URL parsing, the namespace, reading the token,
 * loading the CA bundle and resolving the host (a name that does not resolve
 * yet is not an error: cfg->addrlen stays 0 and the client keeps trying).  Returns 0, or -1 with one line in err (e.g.
 * "KUBERNETES_SERVICE_HOST is not set: not in a cluster; use --apiserver",
 * "ca file /x: no such file", "bad --apiserver URL ...").  On -1 nothing needs
 * freeing.
 */
int k8s_config_load(k8s_config *cfg, const k8s_config_opts *opts, char *err, size_t errsz);
void k8s_config_free(k8s_config *cfg);

/*
 * Re-reads the token file (no-op when there is none).  Returns 1 if the token
 * changed, 0 if it is the same, -1 (with err) if the file could not be read or
 * is empty, in which case the old token is kept.
 */
int k8s_config_reload_token(k8s_config *cfg, char *err, size_t errsz);

/* Splits "scheme://host[:port][/prefix]" (IPv6 in brackets); 0 or -1. */
int k8s_parse_url(const char *url, int *tls, char *host, size_t hostsz, char *port, size_t portsz,
    char *prefix, size_t prefixsz);

#endif
