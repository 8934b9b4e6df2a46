/*
 * The kubeconfig file every Kubernetes tool reads (kubectl, kind, minikube
 * write it), for running out of cluster: which file, which context, and
 * what its cluster and user say.
 *
 * File: --kubeconfig, else the first existing path of $KUBECONFIG (a colon
 * list; files are not merged), else $HOME/.kube/config.  YAML or JSON
 * (yaml/yaml.h).  Context: --context, else current-context.
 *
 * Taken: the cluster's server, certificate-authority (a path) or
 * certificate-authority-data (base64 PEM), tls-server-name; the user's
 * token or tokenFile, client-certificate[-data] with client-key[-data];
 * the context's namespace.  Relative paths are resolved against the
 * kubeconfig's folder.
 *
 * Refused, each with one line naming the cause: exec and auth-provider
 * users (the plugin is named; cplane runs no plugins: `kubectl proxy` or a
 * token instead), username/password, insecure-skip-tls-verify, proxy-url,
 * a missing context, cluster or user, a certificate without its key.
 */
#ifndef CPLANE_K8S_KUBECONFIG_H
#define CPLANE_K8S_KUBECONFIG_H

#include <stddef.h>
#include <stdint.h>

#define KUBECONFIG_PATH_MAX 1024

typedef struct k8s_kubeconfig {
	char path[KUBECONFIG_PATH_MAX];		/* the file read */
	char context[256];			/* the context used */
	char cluster[256], user[256];		/* the context's names */
	char server[1024];
	char tls_server_name[256];		/* "" = none given */
	char ca_file[KUBECONFIG_PATH_MAX];	/* resolved; "" = none */
	uint8_t *ca_pem;			/* certificate-authority-data decoded, or NULL */
	size_t ca_pem_len;
	char *token;				/* user.token, or NULL */
	char token_file[KUBECONFIG_PATH_MAX];
	char cert_file[KUBECONFIG_PATH_MAX];
	uint8_t *cert_pem;
	size_t cert_pem_len;
	char key_file[KUBECONFIG_PATH_MAX];
	uint8_t *key_pem;
	size_t key_pem_len;
	char namespace_[64];			/* "" = none given */
} k8s_kubeconfig;

/*
 * Which file to read: flag when non-empty, else the first existing path of
 * env_list ($KUBECONFIG), else home/.kube/config when it exists.  Returns 1
 * with the path, 0 when there is none, -1 with err (a path too long).
 */
int k8s_kubeconfig_locate(const char *flag, const char *env_list, const char *home, char *path, size_t pathsz,
    char *err, size_t errsz);

/*
 * Reads the kubeconfig text of the file at path (used for messages and
 * relative paths) and selects context (NULL/"" = current-context).  Returns
 * 0, or -1 with one line in err beginning "kubeconfig PATH: ".  On -1 kc
 * holds nothing to free.
 */
int k8s_kubeconfig_parse(k8s_kubeconfig *kc, const char *path, const void *text, size_t len,
    const char *context, char *err, size_t errsz);
/* Reads the file, then as k8s_kubeconfig_parse. */
int k8s_kubeconfig_load(k8s_kubeconfig *kc, const char *path, const char *context, char *err, size_t errsz);
void k8s_kubeconfig_free(k8s_kubeconfig *kc);

/* Decodes standard base64 (padding optional, whitespace ignored) into a malloc'd buffer; NULL when malformed. */
uint8_t *k8s_base64_decode(const char *in, size_t len, size_t *outlen);

#endif
