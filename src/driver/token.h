/*
 * The driver's identity: the bearer token it sends on every call, from
 * --token-file (env CPLANE_TOKEN_FILE), else /var/run/secrets/cplane/token
 * (the projected token with audience cplane that deploy/ mounts), else the
 * pod's service-account token, else $CPLANE_TOKEN (the token itself), else
 * none.  The token is never printed; `source` says where it came from so a
 * refusal can point at it.
 */
#ifndef CPLANE_DRIVER_TOKEN_H
#define CPLANE_DRIVER_TOKEN_H

#include <stddef.h>

#define DRIVER_TOKEN_FILE "/var/run/secrets/cplane/token"
#define DRIVER_SA_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"

struct driver_token {
	char *header;		/* "Bearer <token>" (heap), or NULL when there is none */
	char source[512];	/* the file, "$CPLANE_TOKEN", or "" */
};

/*
 * Finds and reads the token.  file: the flag's value, NULL when not given; a
 * file named there must be readable and hold a token.  0, or -1 with a
 * one-line reason in err.
 */
int driver_token_load(struct driver_token *t, const char *file, char *err, size_t errsz);
/* Wipes and frees. */
void driver_token_free(struct driver_token *t);
/* A hint line for a refused call (UNAUTHENTICATED, PERMISSION_DENIED): which token was sent, if any. */
void driver_token_hint(const struct driver_token *t, char *out, size_t outsz);

#endif
