/*
 * The authorization-header parser on arbitrary bytes, against its contract:
 * a token is a view inside the value, 1..AUTH_BEARER_MAX visible ASCII bytes,
 * preceded by the Bearer scheme and spaces and followed only by blanks; a
 * refusal has a reason and leaves no view.  The same input split off at any
 * length never makes a token that reaches past that length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/bearer.h"

static void check(const char *v, size_t len)
{
	const char *tok;
	size_t n;
	int rc = auth_bearer_parse(v, len, &tok, &n);

	if (rc < 0) {
		if (tok != NULL || n != 0 || auth_bearer_strerror(rc)[0] == '\0')
			abort();
		return;
	}
	if (rc != 0 || tok < v || n == 0 || n > AUTH_BEARER_MAX || tok + n > v + len)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f)
			abort();
	for (const char *p = tok + n; p < v + len; p++)
		if (*p != ' ' && *p != '\t')
			abort();
	const char *s = v;
	while (*s == ' ' || *s == '\t')
		s++;
	if (tok - s < 7 || strncasecmp(s, "bearer", 6) != 0)
		abort();
	for (const char *p = s + 6; p < tok; p++)
		if (*p != ' ')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size ? size : 1);	/* exact size: ASan sees any read past the end */

	if (v == NULL)
		abort();
	memcpy(v, data, size);
	check(v, size);
	check(v, size / 2);
	free(v);
	return 0;
}
