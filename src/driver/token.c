/*
 * Implementation notes.  Token files are small (a projected JWT is about
 * 1 KiB): read whole, with a bound, and trimmed of the newline editors and
 * `kubectl create token > f` leave.  The same rule as the worker's parser
 * (src/auth/bearer.h) is checked here, so a token the worker would refuse
 * as malformed is reported at the driver, naming the file.
 */
#include "driver/token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/bearer.h"
#include "base/mem.h"

static int set_token(struct driver_token *t, const char *tok, size_t len, const char *source, char *err,
    size_t errsz)
{
	const char *view;
	size_t vlen;
	char *h = xmalloc(7 + len + 1);

	memcpy(h, "Bearer ", 7);
	memcpy(h + 7, tok, len);
	h[7 + len] = '\0';
	int rc = auth_bearer_parse(h, 7 + len, &view, &vlen);
	if (rc < 0) {
		snprintf(err, errsz, "%s does not hold a usable token: %s", source,
		    rc == AUTH_BEARER_EMPTY || rc == AUTH_BEARER_MISSING ? "it is empty" : auth_bearer_strerror(rc));
		explicit_bzero(h, 7 + len);
		free(h);
		return -1;
	}
	t->header = h;
	snprintf(t->source, sizeof(t->source), "%s", source);
	return 0;
}

/* 1 loaded, 0 absent (only when !must), -1 error. */
static int load_file(struct driver_token *t, const char *path, int must, char *err, size_t errsz)
{
	char buf[AUTH_BEARER_MAX + 2];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc;

	if (f == NULL) {
		if (!must && errno == ENOENT)
			return 0;
		snprintf(err, errsz, "cannot read token file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == sizeof(buf)) {
		snprintf(err, errsz, "token file %s is larger than %d bytes", path, AUTH_BEARER_MAX);
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	rc = set_token(t, buf, n, path, err, errsz);
	explicit_bzero(buf, sizeof(buf));
	return rc < 0 ? -1 : 1;
}

int driver_token_load(struct driver_token *t, const char *file, char *err, size_t errsz)
{
	const char *env;
	int rc;

	memset(t, 0, sizeof(*t));
	if (file && file[0])
		return load_file(t, file, 1, err, errsz) < 0 ? -1 : 0;
	if ((rc = load_file(t, DRIVER_TOKEN_FILE, 0, err, errsz)) != 0)
		return rc < 0 ? -1 : 0;
	if ((rc = load_file(t, DRIVER_SA_TOKEN_FILE, 0, err, errsz)) != 0)
		return rc < 0 ? -1 : 0;
	env = getenv("CPLANE_TOKEN");
	if (env && env[0])
		return set_token(t, env, strlen(env), "$CPLANE_TOKEN", err, errsz);
	return 0;
}

void driver_token_free(struct driver_token *t)
{
	if (t->header) {
		explicit_bzero(t->header, strlen(t->header));
		free(t->header);
	}
	t->header = NULL;
}

void driver_token_hint(const struct driver_token *t, char *out, size_t outsz)
{
	if (t->header == NULL)
		snprintf(out, outsz, "no token was sent: none in --token-file, %s, %s or $CPLANE_TOKEN",
		    DRIVER_TOKEN_FILE, DRIVER_SA_TOKEN_FILE);
	else
		snprintf(out, outsz, "the token sent came from %s; the worker needs a token for audience "
		    "\"cplane\" whose account a RoleBinding to Role cplane-client allows (docs/deploy.md)", t->source);
}
