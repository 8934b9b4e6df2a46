/*
 * The `authorization` request header of a cplane.v1 call: "Bearer <token>".
 *
 * What is accepted, as the Kubernetes API server's own bearer-token
 * authenticator accepts it: surrounding spaces and tabs ignored, the scheme
 * "Bearer" in any case, one or more spaces, then the token: 1 to
 * AUTH_BEARER_MAX bytes of visible ASCII (0x21-0x7e) with nothing after it.
 * Everything else is refused with a reason that never quotes the token.
 * Sans-I/O, no allocation: the token is a view into the value.
 */
#ifndef CPLANE_AUTH_BEARER_H
#define CPLANE_AUTH_BEARER_H

#include <stddef.h>

#define AUTH_BEARER_MAX (16 * 1024)

enum auth_bearer_err {
	AUTH_BEARER_MISSING = -1,	/* no header, or an empty one */
	AUTH_BEARER_SCHEME = -2,	/* not "Bearer <token>" (Basic, a bare token, ...) */
	AUTH_BEARER_EMPTY = -3,		/* "Bearer" with no token */
	AUTH_BEARER_TOO_LONG = -4,	/* token over AUTH_BEARER_MAX bytes */
	AUTH_BEARER_NON_ASCII = -5,	/* a byte >= 0x80 */
	AUTH_BEARER_BAD_CHAR = -6,	/* a control character, or a space inside the token */
};

/*
 * Parses value[0..len) (value may be NULL when the header is absent).
 * Returns 0 with *token / *token_len viewing the token inside value, or a
 * negative enum auth_bearer_err (then *token is NULL and *token_len 0).
 */
int auth_bearer_parse(const char *value, size_t len, const char **token, size_t *token_len);

/* Why, in words fit to follow "missing bearer token: " ("" for 0). */
const char *auth_bearer_strerror(int err);

#endif
