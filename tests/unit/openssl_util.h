/*
 * Test material made at test time with openssl(1) in a scratch folder:
 * sh() runs a shell command there (its output discarded), path() names a
 * file in it.  The including test mkdtemp()s openssl_dir before the first
 * use.  Never committed keys: every run makes its own.
 */
#ifndef CPLANE_TEST_OPENSSL_UTIL_H
#define CPLANE_TEST_OPENSSL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char openssl_dir[64];

/* Runs fmt in openssl_dir; false (and the command on stderr) when it fails. */
static inline bool sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline bool sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n = snprintf(cmd, sizeof(cmd), "cd %s && ( ", openssl_dir);

	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	strncat(cmd, " ) >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		return false;
	}
	return true;
}

/* openssl_dir/name; valid until eight more calls. */
static inline const char *path(const char *name)
{
	static char p[8][128];
	static int i;

	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", openssl_dir, name);
	return p[i];
}

#endif
