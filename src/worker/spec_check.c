/*
 * Implementation notes.  The rules are Kubernetes' own (apimachinery
 * validation: IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain,
 * IsValidPortName) except where DESIGN.md is stricter on purpose: env names
 * are C identifiers, ports must be named, and keys under our own prefixes are
 * refused so a caller can never override cplane's labels.  Messages quote
 * the offending value only up to a bounded length.
 */
#include "worker/spec_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "k8s/quantity.h"

#define QUOTE_MAX 64	/* quoted values are cut here in messages */

static int fail(char *why, size_t whysz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	return -1;
}

static int quote_len(const char *s)
{
	size_t n = strlen(s);

	return n > QUOTE_MAX ? QUOTE_MAX : (int)n;
}

static const char *ellipsis(const char *s)
{
	return strlen(s) > QUOTE_MAX ? "..." : "";
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63; "" when empty_ok. */
static int is_label_name(const char *s, size_t n, int empty_ok)
{
	if (n == 0)
		return empty_ok;
	if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* DNS-1123 subdomain: dot-separated labels of [a-z0-9-] (alnum at both ends), at most 253. */
static int is_dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_lower_alnum(s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

static int reserved_prefix(const char *key)
{
	return strncmp(key, "cplane.dev/", 11) == 0 || strncmp(key, "app.kubernetes.io/", 18) == 0;
}

int spec_check_label(const char *field, const char *key, const char *value, char *why, size_t whysz)
{
	const char *slash = strchr(key, '/');
	const char *nm = slash ? slash + 1 : key;

	if (reserved_prefix(key))
		return fail(why, whysz, "%s: key \"%.*s%s\" is under a prefix cplane keeps for itself "
		    "(cplane.dev/, app.kubernetes.io/)", field, quote_len(key), key, ellipsis(key));
	if (slash && !is_dns_subdomain(key, (size_t)(slash - key)))
		return fail(why, whysz, "%s: key \"%.*s%s\" has a prefix that is not a DNS-1123 subdomain "
		    "(at most 253 characters, lower-case letters, digits, '-' and '.')", field,
		    quote_len(key), key, ellipsis(key));
	if (!is_label_name(nm, strlen(nm), 0))
		return fail(why, whysz, "%s: key \"%.*s%s\" is not a qualified name (optional DNS prefix and '/', "
		    "then 1-63 characters [A-Za-z0-9-_.], alphanumeric at both ends)", field,
		    quote_len(key), key, ellipsis(key));
	if (value && !is_label_name(value, strlen(value), 1))
		return fail(why, whysz, "%s: value \"%.*s%s\" of \"%.*s%s\" is not a label value (at most 63 "
		    "characters [A-Za-z0-9-_.], alphanumeric at both ends)", field, quote_len(value), value,
		    ellipsis(value), quote_len(key), key, ellipsis(key));
	return 0;
}

static int set(const char *s)
{
	return s && s[0];
}

static int check_quantity(const char *field, const char *s, k8s_quantity *q, char *why, size_t whysz)
{
	int rc = k8s_quantity_parse(s, strlen(s), q);

	if (rc < 0)
		return fail(why, whysz, "%s: \"%.*s%s\" is %s", field, quote_len(s), s, ellipsis(s),
		    k8s_quantity_strerror(rc));
	return 0;
}

int spec_check_resources(const char *prefix, const char *cpu_request, const char *memory_request,
    const char *cpu_limit, const char *memory_limit, char *why, size_t whysz)
{
	const char *vals[4] = { cpu_request, memory_request, cpu_limit, memory_limit };
	static const char *const names[4] = { "cpu_request", "memory_request", "cpu_limit", "memory_limit" };
	k8s_quantity q[4];
	char field[64];

	for (int i = 0; i < 4; i++) {
		if (!set(vals[i]))
			continue;
		snprintf(field, sizeof(field), "%s%s", prefix, names[i]);
		if (check_quantity(field, vals[i], &q[i], why, whysz) < 0)
			return -1;
	}
	for (int i = 0; i < 2; i++)
		if (set(vals[i]) && set(vals[i + 2]) && k8s_quantity_cmp(&q[i], &q[i + 2]) > 0)
			return fail(why, whysz, "%s%s: \"%s\" is above %s%s \"%s\" (a request may not exceed its limit)",
			    prefix, names[i], vals[i], prefix, names[i + 2], vals[i + 2]);
	return 0;
}

static int is_c_identifier(const char *s)
{
	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; s[i]; i++)
		if (!is_alnum(s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* IANA service name (RFC 6335): 1-15 of [a-z0-9-], a letter, no "--", no '-' at either end. */
static int is_port_name(const char *s)
{
	size_t n = strlen(s);
	int letter = 0;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
		letter |= s[i] >= 'a' && s[i] <= 'z';
	}
	return letter;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static int check_argv(const char *field, const char *const *v, size_t n, char *why, size_t whysz)
{
	if (n > SPEC_ARGV_MAX)
		return fail(why, whysz, "%s: %zu entries, at most %d", field, n, SPEC_ARGV_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(str_or_empty(v[i]));

		if (len > SPEC_ARG_BYTES_MAX)
			return fail(why, whysz, "%s[%zu]: %zu bytes, at most %d", field, i, len, SPEC_ARG_BYTES_MAX);
	}
	return 0;
}

static int check_env(const k8s_podspec *p, char *why, size_t whysz)
{
	if (p->n_env > SPEC_ENV_MAX)
		return fail(why, whysz, "env: %zu entries, at most %d", p->n_env, SPEC_ENV_MAX);
	for (size_t i = 0; i < p->n_env; i++) {
		const char *n = str_or_empty(p->env[i].key);

		if (!is_c_identifier(n))
			return fail(why, whysz, "env[%zu].name: \"%.*s%s\" is not a C identifier "
			    "([A-Za-z_][A-Za-z0-9_]*)", i, quote_len(n), n, ellipsis(n));
		for (size_t j = 0; j < i; j++)
			if (strcmp(n, str_or_empty(p->env[j].key)) == 0)
				return fail(why, whysz, "env[%zu].name: \"%s\" is also env[%zu].name "
				    "(names must be unique)", i, n, j);
	}
	return 0;
}

static int check_ports(const k8s_podspec *p, char *why, size_t whysz)
{
	if (p->n_ports > SPEC_PORTS_MAX)
		return fail(why, whysz, "ports: %zu entries, at most %d", p->n_ports, SPEC_PORTS_MAX);
	for (size_t i = 0; i < p->n_ports; i++) {
		const char *n = str_or_empty(p->ports[i].name);

		if (p->ports[i].port < 1 || p->ports[i].port > 65535)
			return fail(why, whysz, "ports[%zu].port: %d is not in 1-65535", i, (int)p->ports[i].port);
		if (!is_port_name(n))
			return fail(why, whysz, "ports[%zu].name: \"%.*s%s\" is not an IANA service name (1-15 "
			    "lower-case letters, digits and '-', at least one letter, no '--', no '-' at either end)",
			    i, quote_len(n), n, ellipsis(n));
		for (size_t j = 0; j < i; j++) {
			if (strcmp(n, str_or_empty(p->ports[j].name)) == 0)
				return fail(why, whysz, "ports[%zu].name: \"%s\" is also ports[%zu].name "
				    "(names must be unique)", i, n, j);
			if (p->ports[i].port == p->ports[j].port)
				return fail(why, whysz, "ports[%zu].port: %d is also ports[%zu].port "
				    "(ports must be unique)", i, (int)p->ports[i].port, j);
		}
	}
	return 0;
}

static int check_maps(const k8s_podspec *p, char *why, size_t whysz)
{
	char field[48];
	size_t total = 0;

	for (size_t i = 0; i < p->n_labels; i++) {
		snprintf(field, sizeof(field), "labels[%zu]", i);
		if (spec_check_label(field, str_or_empty(p->labels[i].key), str_or_empty(p->labels[i].value),
		    why, whysz) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->n_annotations; i++) {
		const char *k = str_or_empty(p->annotations[i].key);

		snprintf(field, sizeof(field), "annotations[%zu]", i);
		if (spec_check_label(field, k, NULL, why, whysz) < 0)
			return -1;
		total += strlen(k) + strlen(str_or_empty(p->annotations[i].value));
	}
	if (total > SPEC_ANNOTATIONS_BYTES_MAX)
		return fail(why, whysz, "annotations: %zu bytes of keys and values, at most %d in total", total,
		    SPEC_ANNOTATIONS_BYTES_MAX);
	return 0;
}

int spec_check(const char *name, const k8s_podspec *p, char *why, size_t whysz)
{
	if (spec_check_resources("resources.", p->cpu_request, p->memory_request, p->cpu_limit, p->memory_limit,
	    why, whysz) < 0 ||
	    check_env(p, why, whysz) < 0 ||
	    check_argv("command", p->command, p->n_command, why, whysz) < 0 ||
	    check_argv("args", p->args, p->n_args, why, whysz) < 0 ||
	    check_ports(p, why, whysz) < 0 ||
	    check_maps(p, why, whysz) < 0)
		return -1;
	if (p->service && !(name[0] >= 'a' && name[0] <= 'z'))
		return fail(why, whysz, "service: the name \"%s\" must start with a letter for a Service "
		    "(DNS-1035 label)", name);
	return 0;
}
