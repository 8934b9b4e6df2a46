/*
 * Implementation notes.  The checks run in an order that makes the answer
 * independent of where the first bad byte sits: the scheme first, then the
 * length bound (so a 1 MiB value costs one comparison, not a scan), then one
 * pass over the token classifying every byte.  Non-ASCII is reported before
 * control characters so a UTF-8 token gets the more telling message.
 */
#include "auth/bearer.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int auth_bearer_parse(const char *value, size_t len, const char **token, size_t *token_len)
{
	size_t i = 0, end = len;
	int bad = 0;

	*token = NULL;
	*token_len = 0;
	if (value == NULL)
		return AUTH_BEARER_MISSING;
	while (i < end && is_blank(value[i]))
		i++;
	while (end > i && is_blank(value[end - 1]))
		end--;
	if (i == end)
		return AUTH_BEARER_MISSING;
	if (end - i < 6)
		return AUTH_BEARER_SCHEME;
	for (size_t k = 0; k < 6; k++) {
		char c = value[i + k];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != "bearer"[k])
			return AUTH_BEARER_SCHEME;
	}
	i += 6;
	if (i == end)
		return AUTH_BEARER_EMPTY;
	if (value[i] != ' ')
		return AUTH_BEARER_SCHEME;	/* "Bearerx", "Bearer\tx" */
	while (i < end && value[i] == ' ')
		i++;
	if (end - i > AUTH_BEARER_MAX)
		return AUTH_BEARER_TOO_LONG;
	for (size_t k = i; k < end; k++) {
		unsigned char c = (unsigned char)value[k];
		if (c >= 0x80)
			return AUTH_BEARER_NON_ASCII;
		if (c <= 0x20 || c == 0x7f)
			bad = 1;
	}
	if (bad)
		return AUTH_BEARER_BAD_CHAR;
	*token = value + i;
	*token_len = end - i;
	return 0;
}

const char *auth_bearer_strerror(int err)
{
	switch (err) {
	case 0: return "";
	case AUTH_BEARER_MISSING: return "no authorization header";
	case AUTH_BEARER_SCHEME: return "the authorization scheme is not Bearer";
	case AUTH_BEARER_EMPTY: return "the Bearer token is empty";
	case AUTH_BEARER_TOO_LONG: return "the Bearer token is longer than 16384 bytes";
	case AUTH_BEARER_NON_ASCII: return "the Bearer token has non-ASCII bytes";
	case AUTH_BEARER_BAD_CHAR: return "the Bearer token has spaces or control characters";
	default: return "malformed authorization header";
	}
}
