/*
 * TokenReview and SubjectAccessReview bodies out, their answers in.
 *
 * Implementation notes.  The answers are small whole bodies (the client
 * buffers them), so the decoder walks the plain token stream and keeps the
 * dotted path of the current value ("status.user.groups[]") instead of
 * compiling a path set: status.user.extra has keys nobody can list ahead,
 * and a path set cannot say "any key".  Everything kept is bounded
 * (K8S_REVIEW_MAX_*); a NUL inside a kept string is refused, since the
 * strings go on as C strings into the next review and into log lines.
 */
#include "k8s/review.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/str.h"
#include "k8s/client_int.h"

#define KEY(w, s) json_write_key((w), (s), sizeof(s) - 1)

/* ----------------------------------------------------------- user info */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void k8s_user_info_clear(k8s_user_info *u)
{
	free(u->username);
	free(u->uid);
	free_strv(u->groups, u->ngroups);
	for (size_t i = 0; i < u->nextra; i++) {
		free(u->extra[i].key);
		free_strv(u->extra[i].values, u->extra[i].nvalues);
	}
	free(u->extra);
	memset(u, 0, sizeof(*u));
}

static char *dup_or_empty(const char *s)
{
	return str_dup(str_from_cstr(s ? s : ""));
}

static char **dup_strv(char *const *v, size_t n)
{
	char **out = xcalloc(n ? n : 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = dup_or_empty(v[i]);
	return out;
}

void k8s_user_info_copy(k8s_user_info *dst, const k8s_user_info *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->username = dup_or_empty(src->username);
	dst->uid = dup_or_empty(src->uid);
	dst->groups = dup_strv(src->groups, src->ngroups);
	dst->ngroups = src->ngroups;
	dst->extra = xcalloc(src->nextra ? src->nextra : 1, sizeof(*dst->extra));
	for (size_t i = 0; i < src->nextra; i++) {
		k8s_user_extra *e = &dst->extra[dst->nextra++];

		e->key = dup_or_empty(src->extra[i].key);
		e->values = dup_strv(src->extra[i].values, src->extra[i].nvalues);
		e->nvalues = src->extra[i].nvalues;
	}
}

/* -------------------------------------------------------------- writers */

static int write_token_review(json_writer *w, const char *token, size_t token_len, const char *audience)
{
	json_write_object_begin(w);
	KEY(w, "apiVersion");
	json_write_cstr(w, "authentication.k8s.io/v1");
	KEY(w, "kind");
	json_write_cstr(w, "TokenReview");
	KEY(w, "spec");
	json_write_object_begin(w);
	KEY(w, "token");
	json_write_string(w, token, token_len);
	if (audience && audience[0]) {
		KEY(w, "audiences");
		json_write_array_begin(w);
		json_write_cstr(w, audience);
		json_write_array_end(w);
	}
	json_write_object_end(w);
	json_write_object_end(w);
	return json_writer_finish(w);
}

int k8s_token_review_write(const char *token, size_t token_len, const char *audience, uint8_t *out, size_t cap)
{
	json_writer w;

	json_writer_init(&w, out, cap);
	return write_token_review(&w, token, token_len, audience);
}

size_t k8s_token_review_size(const char *token, size_t token_len, const char *audience)
{
	json_writer w;

	json_writer_init(&w, NULL, 0);
	write_token_review(&w, token, token_len, audience);
	return json_writer_len(&w);
}

static int write_access_review(json_writer *w, const k8s_user_info *u, const k8s_access_attrs *a)
{
	json_write_object_begin(w);
	KEY(w, "apiVersion");
	json_write_cstr(w, "authorization.k8s.io/v1");
	KEY(w, "kind");
	json_write_cstr(w, "SubjectAccessReview");
	KEY(w, "spec");
	json_write_object_begin(w);
	KEY(w, "resourceAttributes");
	json_write_object_begin(w);
	KEY(w, "namespace");
	json_write_cstr(w, a->namespace_ ? a->namespace_ : "");
	KEY(w, "verb");
	json_write_cstr(w, a->verb);
	KEY(w, "group");
	json_write_cstr(w, a->group);
	KEY(w, "resource");
	json_write_cstr(w, a->resource);
	if (a->name && a->name[0]) {
		KEY(w, "name");
		json_write_cstr(w, a->name);
	}
	json_write_object_end(w);
	KEY(w, "user");
	json_write_cstr(w, u->username ? u->username : "");
	if (u->uid && u->uid[0]) {
		KEY(w, "uid");
		json_write_cstr(w, u->uid);
	}
	if (u->ngroups) {
		KEY(w, "groups");
		json_write_array_begin(w);
		for (size_t i = 0; i < u->ngroups; i++)
			json_write_cstr(w, u->groups[i]);
		json_write_array_end(w);
	}
	if (u->nextra) {
		KEY(w, "extra");
		json_write_object_begin(w);
		for (size_t i = 0; i < u->nextra; i++) {
			json_write_key(w, u->extra[i].key, strlen(u->extra[i].key));
			json_write_array_begin(w);
			for (size_t j = 0; j < u->extra[i].nvalues; j++)
				json_write_cstr(w, u->extra[i].values[j]);
			json_write_array_end(w);
		}
		json_write_object_end(w);
	}
	json_write_object_end(w);
	json_write_object_end(w);
	return json_writer_finish(w);
}

int k8s_access_review_write(const k8s_user_info *user, const k8s_access_attrs *a, uint8_t *out, size_t cap)
{
	json_writer w;

	if (a->verb == NULL || a->group == NULL || a->resource == NULL)
		return JSON_EUSAGE;
	json_writer_init(&w, out, cap);
	return write_access_review(&w, user, a);
}

size_t k8s_access_review_size(const k8s_user_info *user, const k8s_access_attrs *a)
{
	json_writer w;

	json_writer_init(&w, NULL, 0);
	if (a->verb && a->group && a->resource)
		write_access_review(&w, user, a);
	return json_writer_len(&w);
}

/* ------------------------------------------------------------- decoders */

#define PATH_MAX_LEN 1280
#define DEPTH_MAX 16

struct walk {
	json_parser p;
	char sbuf[K8S_REVIEW_MAX_STRING + 1];
	char path[PATH_MAX_LEN];	/* of the innermost open container */
	size_t plen[DEPTH_MAX + 1];
	uint8_t isarr[DEPTH_MAX + 1];
	uint8_t dead[DEPTH_MAX + 1];	/* path too long to keep: nothing inside matches */
	unsigned open;			/* containers open */
	char key[K8S_REVIEW_MAX_STRING + 1];
	size_t keylen;
	const char *why;		/* first reason the answer is refused */
	/* what a value is for */
	int (*value)(struct walk *wk, const char *path, size_t plen, const json_token *t);
	void *out;
	int audience_seen;
	const char *audience;
	int denied;			/* SubjectAccessReview status.denied */
};

/* Path of the value about to come, into out (NUL-terminated); its length, or -1 when too long. */
static int value_path(const struct walk *wk, char *out, size_t cap)
{
	size_t n = wk->open ? wk->plen[wk->open - 1] : 0;
	int k;

	if (wk->open == 0) {
		out[0] = '\0';
		return 0;
	}
	if (wk->dead[wk->open - 1])
		return -1;
	if (wk->isarr[wk->open - 1])
		k = snprintf(out, cap, "%.*s[]", (int)n, wk->path);
	else
		k = snprintf(out, cap, "%.*s%s%.*s", (int)n, wk->path, n ? "." : "", (int)wk->keylen, wk->key);
	return k < 0 || (size_t)k >= cap ? -1 : k;
}

static int string_ok(struct walk *wk, const json_token *t)
{
	if (t->type != JSON_STRING)
		return 0;
	if (memchr(t->str, '\0', t->len) != NULL) {
		wk->why = "a NUL byte in a string";
		return 0;
	}
	return 1;
}

static char *tok_dup(const json_token *t)
{
	return str_dup(str_make(t->str, t->len));
}

static int push_str(char ***v, size_t *n, size_t max, const json_token *t)
{
	if (*n >= max)
		return -1;
	/* Counts capped by max, strings already in the body we hold: ours to size. */
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = tok_dup(t);
	return 0;
}

static int set_str(char **dst, const json_token *t)
{
	free(*dst);
	*dst = tok_dup(t);
	return 0;
}

static int token_value(struct walk *wk, const char *path, size_t plen, const json_token *t)
{
	k8s_token_review *r = wk->out;
	k8s_user_info *u = &r->user;
	static const char extra[] = "status.user.extra.";

	if (strcmp(path, "status.authenticated") == 0) {
		r->authenticated = t->type == JSON_TRUE;
		return 0;
	}
	if (!string_ok(wk, t))
		return wk->why ? -1 : 0;
	if (strcmp(path, "status.error") == 0) {
		snprintf(r->error, sizeof(r->error), "%.*s", (int)t->len, t->str);
		return 0;
	}
	if (strcmp(path, "status.user.username") == 0)
		return set_str(&u->username, t);
	if (strcmp(path, "status.user.uid") == 0)
		return set_str(&u->uid, t);
	if (strcmp(path, "status.user.groups[]") == 0) {
		if (push_str(&u->groups, &u->ngroups, K8S_REVIEW_MAX_GROUPS, t) < 0)
			return wk->why = "too many groups", -1;
		return 0;
	}
	if (strcmp(path, "status.audiences[]") == 0) {
		if (wk->audience && t->len == strlen(wk->audience) && memcmp(t->str, wk->audience, t->len) == 0)
			wk->audience_seen = 1;
		return 0;
	}
	if (plen > sizeof(extra) + 1 && memcmp(path, extra, sizeof(extra) - 1) == 0 &&
	    memcmp(path + plen - 2, "[]", 2) == 0) {
		const char *k = path + sizeof(extra) - 1;
		size_t klen = plen - (sizeof(extra) - 1) - 2, i;
		for (i = 0; i < u->nextra; i++)
			if (strlen(u->extra[i].key) == klen && memcmp(u->extra[i].key, k, klen) == 0)
				break;
		if (i == u->nextra) {
			if (u->nextra >= K8S_REVIEW_MAX_EXTRA)
				return wk->why = "too many extra keys", -1;
			u->extra = xrealloc(u->extra, (u->nextra + 1) * sizeof(*u->extra));
			memset(&u->extra[i], 0, sizeof(u->extra[i]));
			u->extra[i].key = str_dup(str_make(k, klen));
			u->nextra++;
		}
		if (push_str(&u->extra[i].values, &u->extra[i].nvalues, K8S_REVIEW_MAX_EXTRA, t) < 0)
			return wk->why = "too many extra values", -1;
	}
	return 0;
}

static int access_value(struct walk *wk, const char *path, size_t plen, const json_token *t)
{
	k8s_access_review *r = wk->out;
	(void)plen;
	if (strcmp(path, "status.allowed") == 0)
		r->allowed = t->type == JSON_TRUE;
	else if (strcmp(path, "status.denied") == 0)
		wk->denied = t->type == JSON_TRUE;
	else if (strcmp(path, "status.reason") == 0 && string_ok(wk, t))
		snprintf(r->reason, sizeof(r->reason), "%.*s", (int)t->len, t->str);
	else if (strcmp(path, "status.evaluationError") == 0 && string_ok(wk, t) && r->reason[0] == '\0')
		snprintf(r->reason, sizeof(r->reason), "%.*s", (int)t->len, t->str);
	return wk->why ? -1 : 0;
}

/* Walks one JSON document, calling wk->value for every scalar with its path.  0 or -1 (wk->why). */
static int walk(struct walk *wk, const void *body, size_t len)
{
	char vpath[PATH_MAX_LEN];
	json_token t;
	int rc, k;

	json_parser_init(&wk->p, wk->sbuf, sizeof(wk->sbuf), JSON_SINGLE);
	json_parser_set_max_depth(&wk->p, DEPTH_MAX);
	json_feed(&wk->p, body, len);
	json_feed_end(&wk->p);
	while ((rc = json_next(&wk->p, &t)) > 0) {
		switch (t.type) {
		case JSON_KEY:
			memcpy(wk->key, t.str, t.len);	/* t.len < sizeof(key): the string limit */
			wk->keylen = t.len;
			break;
		case JSON_OBJECT_BEGIN:
		case JSON_ARRAY_BEGIN:
			k = value_path(wk, vpath, sizeof(vpath));
			wk->dead[wk->open] = k < 0;
			if (k < 0)	/* keep the parent's path intact for its later members */
				k = wk->open ? (int)wk->plen[wk->open - 1] : 0;
			else
				memcpy(wk->path, vpath, (size_t)k);
			wk->plen[wk->open] = (size_t)k;
			wk->isarr[wk->open] = t.type == JSON_ARRAY_BEGIN;
			wk->open++;
			break;
		case JSON_OBJECT_END:
		case JSON_ARRAY_END:
			wk->open--;
			break;
		default:
			k = value_path(wk, vpath, sizeof(vpath));
			if (k >= 0 && wk->value(wk, vpath, (size_t)k, &t) < 0)
				return -1;
		}
	}
	if (rc < 0) {
		wk->why = json_strerror(rc);
		return -1;
	}
	return 0;
}

int k8s_token_review_decode(const void *body, size_t len, const char *audience, k8s_token_review *out,
    k8s_error *err)
{
	struct walk *wk = xcalloc(1, sizeof(*wk));

	memset(out, 0, sizeof(*out));
	wk->value = token_value;
	wk->out = out;
	wk->audience = audience && audience[0] ? audience : NULL;
	if (walk(wk, body, len) < 0) {
		k8s_error_set(err, K8S_ERR_PROTO, "undecodable TokenReview from the API server: %s", wk->why);
		free(wk);
		return -1;
	}
	if (out->authenticated && wk->audience && !wk->audience_seen) {
		out->authenticated = 0;
		snprintf(out->error, sizeof(out->error), "the token is not for audience \"%s\"", wk->audience);
	}
	if (out->authenticated && (out->user.username == NULL || out->user.username[0] == '\0')) {
		out->authenticated = 0;
		snprintf(out->error, sizeof(out->error), "the API server named no user for the token");
	}
	if (!out->authenticated && out->error[0] == '\0')
		snprintf(out->error, sizeof(out->error), "not authenticated");
	free(wk);
	return 0;
}

int k8s_access_review_decode(const void *body, size_t len, k8s_access_review *out, k8s_error *err)
{
	struct walk *wk = xcalloc(1, sizeof(*wk));

	memset(out, 0, sizeof(*out));
	wk->value = access_value;
	wk->out = out;
	if (walk(wk, body, len) < 0) {
		k8s_error_set(err, K8S_ERR_PROTO, "undecodable SubjectAccessReview from the API server: %s", wk->why);
		free(wk);
		return -1;
	}
	if (wk->denied)
		out->allowed = 0;
	free(wk);
	return 0;
}

/* --------------------------------------------------------------- submit */

struct review_call {
	k8s_token_review_fn token_fn;
	k8s_access_review_fn access_fn;
	void *ctx;
	char *audience;
};

static void review_call_free(void *p)
{
	struct review_call *rc = p;

	free(rc->audience);
	free(rc);
}

static void token_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct review_call *rc = ctx;
	k8s_token_review r;
	k8s_error e;

	(void)status;
	if (err->kind != K8S_OK) {
		rc->token_fn(rc->ctx, err, NULL);
		return;
	}
	if (k8s_token_review_decode(body, len, rc->audience, &r, &e) < 0) {
		k8s_user_info_clear(&r.user);
		rc->token_fn(rc->ctx, &e, NULL);
		return;
	}
	k8s_error_clear(&e);
	rc->token_fn(rc->ctx, &e, &r);
	k8s_user_info_clear(&r.user);
}

static void access_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct review_call *rc = ctx;
	k8s_access_review r;
	k8s_error e;

	(void)status;
	if (err->kind != K8S_OK) {
		rc->access_fn(rc->ctx, err, NULL);
		return;
	}
	if (k8s_access_review_decode(body, len, &r, &e) < 0) {
		rc->access_fn(rc->ctx, &e, NULL);
		return;
	}
	k8s_error_clear(&e);
	rc->access_fn(rc->ctx, &e, &r);
}

#define REVIEW_TIMEOUT_MS 10000

k8s_req *k8s_review_token(k8s_client *c, const char *token, size_t token_len, const char *audience,
    k8s_token_review_fn fn, void *ctx)
{
	size_t cap = k8s_token_review_size(token, token_len, audience);
	uint8_t *body = xmalloc(cap);
	struct review_call *rc = xcalloc(1, sizeof(*rc));
	k8s_req *r = NULL;
	int len;

	rc->token_fn = fn;
	rc->ctx = ctx;
	if (audience && audience[0])
		rc->audience = str_dup(str_from_cstr(audience));
	len = k8s_token_review_write(token, token_len, audience, body, cap);
	if (len < 0)
		goto out;
	r = k8s__submit(c, &(k8s_request){ .verb = K8S_VERB_REVIEW, .method = "POST",
	    .path = "/apis/authentication.k8s.io/v1/tokenreviews", .body = body, .body_len = (size_t)len,
	    .flags = K8S_REQ_IDEMPOTENT | K8S_REQ_SECRET, .timeout_ms = REVIEW_TIMEOUT_MS,
	    .on_done = token_done, .ctx = rc }, review_call_free);
	rc = NULL;	/* the request owns it now */
out:
	explicit_bzero(body, cap);
	free(body);
	if (rc)
		review_call_free(rc);
	return r;
}

k8s_req *k8s_review_access(k8s_client *c, const k8s_user_info *user, const k8s_access_attrs *a,
    k8s_access_review_fn fn, void *ctx)
{
	size_t cap = k8s_access_review_size(user, a);
	uint8_t *body = xmalloc(cap);
	struct review_call *rc = xcalloc(1, sizeof(*rc));
	k8s_req *r = NULL;
	int len;

	rc->access_fn = fn;
	rc->ctx = ctx;
	len = k8s_access_review_write(user, a, body, cap);
	if (len < 0)
		goto out;
	r = k8s__submit(c, &(k8s_request){ .verb = K8S_VERB_REVIEW, .method = "POST",
	    .path = "/apis/authorization.k8s.io/v1/subjectaccessreviews", .body = body, .body_len = (size_t)len,
	    .flags = K8S_REQ_IDEMPOTENT, .timeout_ms = REVIEW_TIMEOUT_MS, .on_done = access_done, .ctx = rc },
	    review_call_free);
	rc = NULL;
out:
	free(body);
	if (rc)
		review_call_free(rc);
	return r;
}
