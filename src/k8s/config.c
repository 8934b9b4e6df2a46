#include "k8s/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/str.h"
#include "io/net.h"
#include "io/pem_key.h"
#include "k8s/kubeconfig.h"

#define TOKEN_MAX (64 * 1024)

/* Reads a small file whole; returns a malloc'd NUL-terminated copy with
 * surrounding whitespace trimmed, or NULL with err. */
static char *read_trimmed(const char *path, size_t max, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *p;
	size_t len = 0, start = 0;
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	p = xmalloc(max + 1);	/* max: the caller's cap */
	while (len < max && (n = read(fd, p + len, max - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			close(fd);
			free(p);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	while (start < len && (p[start] == ' ' || p[start] == '\t' || p[start] == '\n' || p[start] == '\r'))
		start++;
	memmove(p, p + start, len - start);
	p[len - start] = '\0';
	return p;
}

int k8s_parse_url(const char *url, int *tls, char *host, size_t hostsz, char *port, size_t portsz,
    char *prefix, size_t prefixsz)
{
	const char *h, *hend, *p, *path;
	size_t hlen, plen;

	if (strncmp(url, "https://", 8) == 0) {
		*tls = 1;
		h = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*tls = 0;
		h = url + 7;
	} else {
		return -1;
	}
	path = h + strcspn(h, "/?#");
	if (*path == '?' || *path == '#')
		return -1;
	if (*h == '[') {
		hend = memchr(h, ']', (size_t)(path - h));
		if (hend == NULL)
			return -1;
		hlen = (size_t)(hend - h - 1);
		h++;
		p = hend + 1;
		if (p != path && *p != ':')
			return -1;
	} else {
		p = memchr(h, ':', (size_t)(path - h));
		hend = p ? p : path;
		hlen = (size_t)(hend - h);
		if (p == NULL)
			p = path;
	}
	if (hlen == 0 || hlen >= hostsz || memchr(h, '@', hlen))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (*p == ':') {
		p++;
		plen = (size_t)(path - p);
		if (plen == 0 || plen >= portsz)
			return -1;
		for (size_t i = 0; i < plen; i++)
			if (p[i] < '0' || p[i] > '9')
				return -1;
		memcpy(port, p, plen);
		port[plen] = '\0';
		long v = strtol(port, NULL, 10);
		if (v < 1 || v > 65535)
			return -1;
	} else {
		if (portsz < 4)
			return -1;
		strcpy(port, *tls ? "443" : "80");
	}
	plen = strlen(path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (plen >= prefixsz)
		return -1;
	memcpy(prefix, path, plen);
	prefix[plen] = '\0';
	return 0;
}

static int set_path(char *dst, size_t dstsz, const char *given, const char *dir, const char *file)
{
	int n;

	if (given && given[0])
		n = snprintf(dst, dstsz, "%s", given);
	else if (file)
		n = snprintf(dst, dstsz, "%s/%s", dir, file);
	else
		n = snprintf(dst, dstsz, "%s", "");
	return n < 0 || (size_t)n >= dstsz ? -1 : 0;
}

/* The kubeconfig's client certificate and key, from files or inline PEM; they must match. */
static int load_client_identity(k8s_config *cfg, const k8s_kubeconfig *kc, char *err, size_t errsz)
{
	char e2[300];

	cfg->client_chain = kc->cert_file[0] ? pem_chain_load_file(kc->cert_file, e2, sizeof(e2)) :
	    pem_chain_parse(kc->cert_pem, kc->cert_pem_len, e2, sizeof(e2));
	if (cfg->client_chain == NULL) {
		snprintf(err, errsz, "kubeconfig %s: client certificate: %s", kc->path, e2);
		return -1;
	}
	cfg->client_key = kc->key_file[0] ? pem_key_load_file(kc->key_file, e2, sizeof(e2)) :
	    pem_key_parse(kc->key_pem, kc->key_pem_len, e2, sizeof(e2));
	if (cfg->client_key == NULL) {
		snprintf(err, errsz, "kubeconfig %s: client key: %s", kc->path, e2);
		return -1;
	}
	if (!pem_chain_matches_key(cfg->client_chain, cfg->client_key, e2, sizeof(e2))) {
		snprintf(err, errsz, "kubeconfig %s: client certificate and key: %s", kc->path, e2);
		return -1;
	}
	return 0;
}

int k8s_config_load(k8s_config *cfg, const k8s_config_opts *o_in, char *err, size_t errsz)
{
	const k8s_kubeconfig *kc = o_in->kubeconfig;
	k8s_config_opts o_kc = *o_in, *o = &o_kc;
	const char *sa = o->sa_dir ? o->sa_dir : K8S_SA_DIR;
	int in_cluster;
	char path[600];

	/* A kubeconfig fills what the flags left out; the service account is not consulted. */
	if (kc) {
		if (o->apiserver == NULL || o->apiserver[0] == '\0')
			o->apiserver = kc->server;
		if ((o->token_file == NULL || o->token_file[0] == '\0') && kc->token_file[0])
			o->token_file = kc->token_file;
		if ((o->ca_file == NULL || o->ca_file[0] == '\0') && kc->ca_file[0])
			o->ca_file = kc->ca_file;
		if ((o->namespace_ == NULL || o->namespace_[0] == '\0'))
			o->namespace_ = kc->namespace_[0] ? kc->namespace_ : "default";
	}
	in_cluster = o->apiserver == NULL || o->apiserver[0] == '\0';
	memset(cfg, 0, sizeof(*cfg));
	if (in_cluster) {
		const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
		if (h == NULL || h[0] == '\0' || p == NULL || p[0] == '\0') {
			snprintf(err, errsz, "KUBERNETES_SERVICE_HOST/PORT are not set: not in a cluster; use --apiserver");
			return -1;
		}
		char url[400];
		snprintf(url, sizeof(url), strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h, p);
		if (k8s_parse_url(url, &cfg->tls, cfg->host, sizeof(cfg->host), cfg->port, sizeof(cfg->port),
		    cfg->prefix, sizeof(cfg->prefix)) < 0) {
			snprintf(err, errsz, "bad KUBERNETES_SERVICE_HOST/PORT %s:%s", h, p);
			return -1;
		}
	} else if (k8s_parse_url(o->apiserver, &cfg->tls, cfg->host, sizeof(cfg->host), cfg->port,
	    sizeof(cfg->port), cfg->prefix, sizeof(cfg->prefix)) < 0) {
		snprintf(err, errsz, "bad --apiserver URL %s (want http://host:port or https://host:port)", o->apiserver);
		return -1;
	}
	snprintf(cfg->host_header, sizeof(cfg->host_header), strchr(cfg->host, ':') ? "[%s]:%s" : "%s:%s",
	    cfg->host, cfg->port);
	str_copy(cfg->server_name, sizeof(cfg->server_name),
	    kc && kc->tls_server_name[0] ? kc->tls_server_name : tls_verify_name(cfg->host));

	if (kc && cfg->tls && (o->ca_file == NULL || o->ca_file[0] == '\0') && kc->ca_pem == NULL) {
		snprintf(err, errsz, "kubeconfig %s: cluster \"%s\" gives no certificate-authority (or -data), "
		    "and cplane verifies the API server: add it, or pass --ca-file", kc->path, kc->cluster);
		return -1;
	}
	/* The service account's files are the defaults in cluster; out of
	 * cluster only what was given is used. */
	if (set_path(cfg->token_file, sizeof(cfg->token_file), o->token_file, sa, in_cluster ? "token" : NULL) < 0 ||
	    set_path(cfg->ca_file, sizeof(cfg->ca_file), o->ca_file, sa,
	    in_cluster || (cfg->tls && !(kc && kc->ca_pem)) ? "ca.crt" : NULL) < 0) {
		snprintf(err, errsz, "token or CA path too long");
		return -1;
	}

	if (o->namespace_ && o->namespace_[0]) {
		str_copy(cfg->namespace_, sizeof(cfg->namespace_), o->namespace_);
	} else {
		char e2[256], *ns;
		snprintf(path, sizeof(path), "%s/namespace", sa);
		ns = read_trimmed(path, 256, e2, sizeof(e2));
		str_copy(cfg->namespace_, sizeof(cfg->namespace_), ns && ns[0] ? ns : "default");
		free(ns);
	}

	if (cfg->token_file[0] && k8s_config_reload_token(cfg, err, errsz) < 0) {
		k8s_config_free(cfg);
		return -1;
	}
	if (kc && cfg->token_file[0] == '\0' && kc->token)
		cfg->token = xstrdup(kc->token);
	if (kc && cfg->tls && (kc->cert_file[0] || kc->cert_pem) && load_client_identity(cfg, kc, err, errsz) < 0) {
		k8s_config_free(cfg);
		return -1;
	}
	if (cfg->tls) {
		cfg->anchors = tls_anchors_new();
		char e2[256];
		int n = cfg->ca_file[0] ? tls_anchors_load_file(cfg->anchors, cfg->ca_file, e2, sizeof(e2)) :
		    tls_anchors_add_pem(cfg->anchors, kc->ca_pem, kc->ca_pem_len, e2, sizeof(e2));
		if (n <= 0) {
			snprintf(err, errsz, "%s %s: %s", cfg->ca_file[0] ? "ca file" : "kubeconfig",
			    cfg->ca_file[0] ? cfg->ca_file : kc->path, n == 0 ? "no certificate in the CA" : e2);
			k8s_config_free(cfg);
			return -1;
		}
	}
	/* Blocking is fine here: the loop has not started. */
	if (io_resolve(cfg->host, cfg->port, &cfg->addr, &cfg->addrlen, cfg->resolve_err, sizeof(cfg->resolve_err)) < 0)
		cfg->addrlen = 0;
	return 0;
}

void k8s_config_free(k8s_config *cfg)
{
	pem_chain_free(cfg->client_chain);
	pem_key_free(cfg->client_key);
	cfg->client_chain = NULL;
	cfg->client_key = NULL;
	free(cfg->token);
	cfg->token = NULL;
	if (cfg->anchors)
		tls_anchors_free(cfg->anchors);
	cfg->anchors = NULL;
}

int k8s_config_reload_token(k8s_config *cfg, char *err, size_t errsz)
{
	char *t;
	int changed;

	if (cfg->token_file[0] == '\0')
		return 0;
	cfg->token_read_ms = clock_mono_ms();
	t = read_trimmed(cfg->token_file, TOKEN_MAX, err, errsz);
	if (t == NULL)
		return -1;
	if (t[0] == '\0' || strpbrk(t, "\r\n") != NULL) {
		snprintf(err, errsz, "%s: %s", cfg->token_file, t[0] ? "token has a line break" : "empty token");
		free(t);
		return -1;
	}
	changed = cfg->token == NULL || strcmp(cfg->token, t) != 0;
	free(cfg->token);
	cfg->token = t;
	return changed;
}
