/*
 * Implementation notes.
 *
 * The tree comes from yaml/yaml.c; this file only walks it.  Lookups are by
 * name in the three lists (clusters, contexts, users), each entry being
 * {name: N, cluster|context|user: {...}} as kubectl writes them.  Every
 * refusal is one line, because it is what a user sees before exit 2.
 */
#include "k8s/kubeconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/mem.h"
#include "io/pem_key.h"
#include "yaml/yaml.h"

/* ---- base64 ---------------------------------------------------------------------- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

uint8_t *k8s_base64_decode(const char *in, size_t len, size_t *outlen)
{
	uint8_t *out = xmalloc(len / 4 * 3 + 3);	/* a field of a kubeconfig read under a cap */
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v;
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64_value(c)) < 0)
			goto bad;	/* data after padding, or not base64 */
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be padding zeros; 6 leftover bits is a truncated quantum. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || pad > 2)
		goto bad;
	*outlen = n;
	return out;
bad:
	free(out);
	return NULL;
}

/* ---- locating ------------------------------------------------------------------- */

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int k8s_kubeconfig_locate(const char *flag, const char *env_list, const char *home, char *path, size_t pathsz,
    char *err, size_t errsz)
{
	if (flag && flag[0]) {
		if (strlen(flag) >= pathsz) {
			snprintf(err, errsz, "--kubeconfig path too long");
			return -1;
		}
		strcpy(path, flag);
		return 1;
	}
	for (const char *p = env_list; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 && n < pathsz) {
			memcpy(path, p, n);
			path[n] = '\0';
			if (exists(path))
				return 1;
		}
		p += n + (colon != NULL);
	}
	if (home && home[0]) {
		int n = snprintf(path, pathsz, "%s/.kube/config", home);
		if (n > 0 && (size_t)n < pathsz && exists(path))
			return 1;
	}
	path[0] = '\0';
	return 0;
}

/* ---- reading ---------------------------------------------------------------------- */

typedef struct kc_ctx {
	k8s_kubeconfig *kc;
	const yaml_parser *y;
	char *err;
	size_t errsz;
	char dir[KUBECONFIG_PATH_MAX];	/* the kubeconfig's folder, "" for the current one */
} kc_ctx;

static int kfail(kc_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int kfail(kc_ctx *c, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errsz, "kubeconfig %s: %s", c->kc->path, msg);
	return -1;
}

/* The entry of list (e.g. "clusters") whose name is name, or -1. */
static yaml_node find_named(const yaml_parser *y, yaml_node root, const char *list, const char *name)
{
	yaml_node l = yaml_get(y, root, list);

	for (size_t i = 0; i < yaml_len(y, l); i++) {
		yaml_node e = yaml_at(y, l, i);
		const char *n = yaml_get_str(y, e, "name");
		if (n && strcmp(n, name) == 0)
			return e;
	}
	return -1;
}

static void list_names(const yaml_parser *y, yaml_node root, const char *list, char *out, size_t outsz)
{
	yaml_node l = yaml_get(y, root, list);
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < yaml_len(y, l) && used + 1 < outsz; i++) {
		const char *n = yaml_get_str(y, yaml_at(y, l, i), "name");
		int k = snprintf(out + used, outsz - used, "%s%s", used ? ", " : "", n ? n : "?");
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/* Copies a scalar field of map into dst ("" when absent); refuses non-scalars and overlong values. */
static int get_field(kc_ctx *c, yaml_node map, const char *key, char *dst, size_t dstsz, const char *what)
{
	yaml_node n = yaml_get(c->y, map, key);
	const char *s;
	size_t len;

	dst[0] = '\0';
	if (n < 0)
		return 0;
	if ((s = yaml_scalar(c->y, n, &len)) == NULL)
		return kfail(c, "line %d: %s%s%s is not a string", yaml_line_of(c->y, n), what, *what ? " " : "", key);
	if (len >= dstsz || strlen(s) != len)
		return kfail(c, "line %d: %s%s%s is too long or holds a NUL", yaml_line_of(c->y, n), what,
		    *what ? " " : "", key);
	memcpy(dst, s, len + 1);
	return 0;
}

/* A path field, resolved against the kubeconfig's folder when relative. */
static int get_path(kc_ctx *c, yaml_node map, const char *key, char *dst, size_t dstsz, const char *what)
{
	char raw[KUBECONFIG_PATH_MAX];
	int n;

	if (get_field(c, map, key, raw, sizeof(raw), what) < 0)
		return -1;
	if (raw[0] == '\0' || raw[0] == '/' || c->dir[0] == '\0')
		n = snprintf(dst, dstsz, "%s", raw);
	else
		n = snprintf(dst, dstsz, "%s/%s", c->dir, raw);
	if (n < 0 || (size_t)n >= dstsz)
		return kfail(c, "%s %s: path too long", what, key);
	return 0;
}

/* A *-data field: base64 into *out. */
static int get_data(kc_ctx *c, yaml_node map, const char *key, uint8_t **out, size_t *outlen, const char *what)
{
	yaml_node n = yaml_get(c->y, map, key);
	const char *s;
	size_t len;

	*out = NULL;
	*outlen = 0;
	if (n < 0)
		return 0;
	if ((s = yaml_scalar(c->y, n, &len)) == NULL || len == 0)
		return kfail(c, "line %d: %s %s is empty or not a string", yaml_line_of(c->y, n), what, key);
	if ((*out = k8s_base64_decode(s, len, outlen)) == NULL)
		return kfail(c, "line %d: %s %s is not valid base64", yaml_line_of(c->y, n), what, key);
	return 0;
}

static int is_true(const char *s)
{
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0);
}

static int read_cluster(kc_ctx *c, yaml_node root)
{
	k8s_kubeconfig *kc = c->kc;
	yaml_node e = find_named(c->y, root, "clusters", kc->cluster), cl;

	if (e < 0)
		return kfail(c, "cluster \"%s\" of context \"%s\" is not in clusters", kc->cluster, kc->context);
	cl = yaml_get(c->y, e, "cluster");
	if (yaml_kind_of(c->y, cl) != YAML_MAP)
		return kfail(c, "line %d: cluster \"%s\" has no cluster: mapping", yaml_line_of(c->y, e), kc->cluster);
	if (is_true(yaml_get_str(c->y, cl, "insecure-skip-tls-verify")))
		return kfail(c, "cluster \"%s\" sets insecure-skip-tls-verify: cplane always verifies the API "
		    "server; give its certificate-authority (or certificate-authority-data) instead", kc->cluster);
	if (yaml_get(c->y, cl, "proxy-url") >= 0)
		return kfail(c, "cluster \"%s\" sets proxy-url, which cplane does not support", kc->cluster);
	if (get_field(c, cl, "server", kc->server, sizeof(kc->server), "cluster") < 0 ||
	    get_field(c, cl, "tls-server-name", kc->tls_server_name, sizeof(kc->tls_server_name), "cluster") < 0 ||
	    get_path(c, cl, "certificate-authority", kc->ca_file, sizeof(kc->ca_file), "cluster") < 0 ||
	    get_data(c, cl, "certificate-authority-data", &kc->ca_pem, &kc->ca_pem_len, "cluster") < 0)
		return -1;
	if (kc->server[0] == '\0')
		return kfail(c, "cluster \"%s\" has no server", kc->cluster);
	return 0;
}

static int read_user(kc_ctx *c, yaml_node root)
{
	k8s_kubeconfig *kc = c->kc;
	yaml_node e, u, plug;
	char token[8192];

	if (kc->user[0] == '\0')
		return 0;	/* no credentials: anonymous, or an API server behind kubectl proxy */
	e = find_named(c->y, root, "users", kc->user);
	if (e < 0)
		return kfail(c, "user \"%s\" of context \"%s\" is not in users", kc->user, kc->context);
	u = yaml_get(c->y, e, "user");
	if (u < 0 || yaml_kind_of(c->y, u) == YAML_SCALAR)
		return 0;
	if (yaml_kind_of(c->y, u) != YAML_MAP)
		return kfail(c, "line %d: user \"%s\" is not a mapping", yaml_line_of(c->y, u), kc->user);
	if ((plug = yaml_get(c->y, u, "exec")) >= 0) {
		const char *cmd = yaml_get_str(c->y, plug, "command");
		return kfail(c, "user \"%s\" authenticates with the exec plugin \"%s\", and cplane runs no "
		    "plugins: run `kubectl proxy` and pass --apiserver http://127.0.0.1:8001, or give a token "
		    "(--token-file)", kc->user, cmd && cmd[0] ? cmd : "?");
	}
	if ((plug = yaml_get(c->y, u, "auth-provider")) >= 0) {
		const char *name = yaml_get_str(c->y, plug, "name");
		return kfail(c, "user \"%s\" authenticates with the auth-provider plugin \"%s\", and cplane runs "
		    "no plugins: run `kubectl proxy` and pass --apiserver http://127.0.0.1:8001, or give a token "
		    "(--token-file)", kc->user, name && name[0] ? name : "?");
	}
	if (yaml_get(c->y, u, "username") >= 0 || yaml_get(c->y, u, "password") >= 0)
		return kfail(c, "user \"%s\" uses a username and password, which cplane does not support: "
		    "give a token or a client certificate", kc->user);
	if (get_field(c, u, "token", token, sizeof(token), "user") < 0 ||
	    get_path(c, u, "tokenFile", kc->token_file, sizeof(kc->token_file), "user") < 0 ||
	    get_path(c, u, "client-certificate", kc->cert_file, sizeof(kc->cert_file), "user") < 0 ||
	    get_data(c, u, "client-certificate-data", &kc->cert_pem, &kc->cert_pem_len, "user") < 0 ||
	    get_path(c, u, "client-key", kc->key_file, sizeof(kc->key_file), "user") < 0 ||
	    get_data(c, u, "client-key-data", &kc->key_pem, &kc->key_pem_len, "user") < 0)
		return -1;
	if (token[0])
		kc->token = xstrdup(token);
	if ((kc->cert_file[0] || kc->cert_pem) != (kc->key_file[0] || kc->key_pem))
		return kfail(c, "user \"%s\" has a client %s without its %s", kc->user,
		    kc->cert_file[0] || kc->cert_pem ? "certificate" : "key",
		    kc->cert_file[0] || kc->cert_pem ? "key" : "certificate");
	return 0;
}

int k8s_kubeconfig_parse(k8s_kubeconfig *kc, const char *path, const void *text, size_t len,
    const char *context, char *err, size_t errsz)
{
	kc_ctx c = {kc, NULL, err, errsz, ""};
	yaml_parser *y = yaml_parser_new();
	const char *slash;
	yaml_node root, ctx, cv;
	int rc = -1;

	memset(kc, 0, sizeof(*kc));
	snprintf(kc->path, sizeof(kc->path), "%s", path);
	slash = strrchr(kc->path, '/');
	if (slash)
		snprintf(c.dir, sizeof(c.dir), "%.*s", slash == kc->path ? 1 : (int)(slash - kc->path), kc->path);
	c.y = y;
	if (yaml_feed(y, text, len) < 0 || yaml_finish(y) < 0) {
		kfail(&c, "%s", yaml_error(y, NULL));
		goto out;
	}
	root = yaml_root(y);
	if (yaml_kind_of(y, root) != YAML_MAP) {
		kfail(&c, "not a kubeconfig (no mapping at the top)");
		goto out;
	}
	if (context && context[0])
		snprintf(kc->context, sizeof(kc->context), "%s", context);
	else if (get_field(&c, root, "current-context", kc->context, sizeof(kc->context), "") < 0)
		goto out;
	if (kc->context[0] == '\0') {
		kfail(&c, "no current-context set and no --context given");
		goto out;
	}
	ctx = find_named(y, root, "contexts", kc->context);
	if (ctx < 0) {
		char names[300];
		list_names(y, root, "contexts", names, sizeof(names));
		kfail(&c, "context \"%s\" not found (contexts: %s)", kc->context, names[0] ? names : "none");
		goto out;
	}
	cv = yaml_get(y, ctx, "context");
	if (yaml_kind_of(y, cv) != YAML_MAP) {
		kfail(&c, "line %d: context \"%s\" has no context: mapping", yaml_line_of(y, ctx), kc->context);
		goto out;
	}
	if (get_field(&c, cv, "cluster", kc->cluster, sizeof(kc->cluster), "context") < 0 ||
	    get_field(&c, cv, "user", kc->user, sizeof(kc->user), "context") < 0 ||
	    get_field(&c, cv, "namespace", kc->namespace_, sizeof(kc->namespace_), "context") < 0)
		goto out;
	if (kc->cluster[0] == '\0') {
		kfail(&c, "context \"%s\" names no cluster", kc->context);
		goto out;
	}
	if (read_cluster(&c, root) < 0 || read_user(&c, root) < 0)
		goto out;
	rc = 0;
out:
	yaml_parser_free(y);
	if (rc < 0)
		k8s_kubeconfig_free(kc);
	return rc;
}

int k8s_kubeconfig_load(k8s_kubeconfig *kc, const char *path, const char *context, char *err, size_t errsz)
{
	buf text = BUF_INIT;
	char e2[600];
	int rc;

	memset(kc, 0, sizeof(*kc));
	if (pem_read_file(path, PEM_MAX_FILE, &text, e2, sizeof(e2)) < 0) {
		snprintf(err, errsz, "kubeconfig %s", e2);
		buf_free(&text);
		return -1;
	}
	rc = k8s_kubeconfig_parse(kc, path, buf_data(&text) ? (const char *)buf_data(&text) : "", buf_len(&text),
	    context, err, errsz);
	buf_free(&text);
	return rc;
}

static void wipe_free(uint8_t *p, size_t len)
{
	if (p) {
		volatile uint8_t *v = p;
		for (size_t i = 0; i < len; i++)
			v[i] = 0;
		free(p);
	}
}

void k8s_kubeconfig_free(k8s_kubeconfig *kc)
{
	wipe_free(kc->ca_pem, kc->ca_pem_len);
	wipe_free(kc->cert_pem, kc->cert_pem_len);
	wipe_free(kc->key_pem, kc->key_pem_len);
	if (kc->token)
		wipe_free((uint8_t *)kc->token, strlen(kc->token));
	kc->ca_pem = kc->cert_pem = kc->key_pem = NULL;
	kc->token = NULL;
}
