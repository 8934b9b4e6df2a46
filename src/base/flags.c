#include "base/flags.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

static const struct flag_def *find(const struct flag_def *defs, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
			return &defs[i];
	return NULL;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*out = 1;
	else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int set_value(const struct flag_def *d, const char *v, const char *origin, char *err, size_t errsz)
{
	int64_t n;
	const char *why;

	switch (d->type) {
	case FLAG_LIST: {
		struct flag_list *l = d->target;

		if (l->n >= FLAG_LIST_MAX) {
			snprintf(err, errsz, "too many %s%s flags (at most %d)", origin, d->name, FLAG_LIST_MAX);
			return -1;
		}
		if (d->check && (why = d->check(v)) != NULL) {
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (%s)", origin, d->name, v, why);
			return -1;
		}
		l->v[l->n++] = v;
		return 0;
	}
	case FLAG_STRING:
		if (d->check && (why = d->check(v)) != NULL) {
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (%s)", origin, d->name, v, why);
			return -1;
		}
		*(const char **)d->target = v;
		return 0;
	case FLAG_BOOL:
		if (parse_bool(v, (int *)d->target) < 0) {
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (want true or false)", origin, d->name, v);
			return -1;
		}
		return 0;
	case FLAG_INT:
		if (str_to_i64(str_from_cstr(v), &n) < 0) {
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (want an integer)", origin, d->name, v);
			return -1;
		}
		break;
	case FLAG_DURATION:
		if (str_parse_duration_ms(v, &n) < 0) {
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (want a duration such as 30s, 5m, 250ms)",
			    origin, d->name, v);
			return -1;
		}
		break;
	}
	if (d->min < d->max && (n < d->min || n > d->max)) {
		if (d->type == FLAG_DURATION)
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (want %lldms to %lldms)", origin, d->name, v,
			    (long long)d->min, (long long)d->max);
		else
			snprintf(err, errsz, "bad value for %s%s: \"%s\" (want %lld to %lld)", origin, d->name, v,
			    (long long)d->min, (long long)d->max);
		return -1;
	}
	*(int64_t *)d->target = n;
	return 0;
}

int flags_parse(const struct flag_def *defs, size_t ndefs, int argc, char **argv,
    char **positionals, size_t max_pos, size_t *npos, char *err, size_t errsz)
{
	char env[128];
	int only_pos = 0;

	*npos = 0;
	for (size_t i = 0; i < ndefs; i++) {
		size_t k = 0;
		const char *v;
		k = (size_t)snprintf(env, sizeof(env), "CPLANE_");
		for (const char *p = defs[i].name; *p && k + 1 < sizeof(env); p++)
			env[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		env[k] = '\0';
		v = defs[i].type == FLAG_LIST ? NULL : getenv(env);
		if (v == NULL)
			continue;
		if (set_value(&defs[i], v, "--", err, errsz) < 0) {
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s (from %s)", err, env);
			snprintf(err, errsz, "%s", tmp);
			return -1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val = NULL;
		const struct flag_def *d;
		size_t len;
		int neg = 0;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (*npos >= max_pos) {
				snprintf(err, errsz, "unexpected argument %s", a);
				return -1;
			}
			positionals[(*npos)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		d = find(defs, ndefs, name, len);
		if (d == NULL && len > 3 && memcmp(name, "no-", 3) == 0) {
			d = find(defs, ndefs, name + 3, len - 3);
			if (d && d->type == FLAG_BOOL && !eq)
				neg = 1;
			else
				d = NULL;
		}
		if (d == NULL) {
			snprintf(err, errsz, "unknown flag %.*s", (int)(len + (size_t)(name - a)), a);
			return -1;
		}
		if (eq) {
			val = eq + 1;
		} else if (d->type == FLAG_BOOL) {
			val = neg ? "false" : "true";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errsz, "flag --%s needs a value", d->name);
			return -1;
		}
		if (set_value(d, val, "--", err, errsz) < 0)
			return -1;
	}
	return 0;
}

void flags_print_help(const struct flag_def *defs, size_t ndefs, void *file)
{
	FILE *f = file;

	for (size_t i = 0; i < ndefs; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s", defs[i].name,
		    defs[i].type == FLAG_BOOL ? "" : defs[i].type == FLAG_INT ? " N" :
		    defs[i].type == FLAG_DURATION ? " DUR" : defs[i].type == FLAG_LIST ? " VALUE..." : " VALUE");
		fprintf(f, "  %-24s %s\n", left, defs[i].help);
	}
}
