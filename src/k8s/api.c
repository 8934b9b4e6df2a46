/* Deployment and pod calls on top of the generic request queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "k8s/client.h"
#include "k8s/client_int.h"
#include "k8s/pods.h"

struct call {
	union {
		k8s_deploy_done_fn deploy;
		k8s_delete_done_fn del;
		k8s_diag_done_fn diag;
	} fn;
	void *ctx;
	k8s_diag *diag;
	k8s_deployment d;
	int got;
};

static void call_free(void *p)
{
	struct call *cl = p;

	k8s_diag_free(cl->diag);
	free(cl);
}

static int deploy_path(const k8s_client *c, char *out, size_t outsz, const char *name)
{
	const k8s_config *cfg = k8s_client_config(c);
	int n = snprintf(out, outsz, "/apis/apps/v1/namespaces/%s/deployments%s%s", cfg->namespace_,
	    name ? "/" : "", name ? name : "");

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int got_object(void *ctx, int type, const k8s_deployment *d, const k8s_error *st)
{
	struct call *cl = ctx;

	(void)st;
	if (type == K8S_EV_ITEM && d) {
		cl->d = *d;
		cl->got = 1;
	}
	return 0;
}

static void deploy_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct call *cl = ctx;
	k8s_error e;

	(void)status;
	if (err->kind != K8S_OK) {
		cl->fn.deploy(cl->ctx, err, NULL);
		return;
	}
	k8s_deploy_decoder *dec = k8s_deploy_decoder_new(K8S_DECODE_OBJECT, got_object, cl);
	int rc = k8s_deploy_decoder_feed(dec, body, len);
	if (rc >= 0)
		rc = k8s_deploy_decoder_finish(dec);
	k8s_deploy_decoder_free(dec);
	if (rc < 0 || !cl->got) {
		k8s_error_set(&e, K8S_ERR_PROTO, "undecodable Deployment from the API server: %s",
		    rc < 0 ? json_strerror(rc) : "no name");
		cl->fn.deploy(cl->ctx, &e, NULL);
		return;
	}
	k8s_error_clear(&e);
	cl->fn.deploy(cl->ctx, &e, &cl->d);
}

static struct call *call_new(void *ctx)
{
	struct call *cl = xcalloc(1, sizeof(*cl));

	cl->ctx = ctx;
	return cl;
}

static k8s_req *submit(k8s_client *c, struct call *cl, k8s_request *q)
{
	q->ctx = cl;
	return k8s__submit(c, q, call_free);
}

/* Writes a body with write(arg, out, cap) into the stack buffer, or a heap
 * one when it needs more (a spec may carry 256 KiB of annotations).  The
 * length, or < 0; *heap is freed by the caller. */
#define BODY_MAX (8u << 20)
static int write_body(int (*write)(const void *arg, uint8_t *out, size_t cap), const void *arg,
    uint8_t *stack, size_t stack_cap, uint8_t **body, uint8_t **heap)
{
	size_t cap = stack_cap;
	int len;

	*heap = NULL;
	*body = stack;
	while ((len = write(arg, *body, cap)) == JSON_ENOSPC && cap < BODY_MAX) {
		free(*heap);
		cap *= 4;
		*body = *heap = xmalloc(cap);	/* at most BODY_MAX */
	}
	return len;
}

static int write_deploy(const void *arg, uint8_t *out, size_t cap)
{
	return k8s_deploy_write_body(arg, out, cap);
}

static int write_patch(const void *arg, uint8_t *out, size_t cap)
{
	return k8s_deploy_write_patch(arg, out, cap);
}

k8s_req *k8s_create_deployment(k8s_client *c, const k8s_deploy_spec *spec, k8s_deploy_done_fn fn, void *ctx)
{
	char path[512];
	uint8_t stack[4096], *body, *heap;
	int len = write_body(write_deploy, spec, stack, sizeof(stack), &body, &heap);
	struct call *cl;
	k8s_req *r = NULL;

	if (len < 0 || deploy_path(c, path, sizeof(path), NULL) < 0)
		goto out;
	cl = call_new(ctx);
	cl->fn.deploy = fn;
	r = submit(c, cl, &(k8s_request){ .verb = K8S_VERB_CREATE, .method = "POST", .path = path,
	    .body = body, .body_len = (size_t)len, .on_done = deploy_done });
out:
	free(heap);
	return r;
}

k8s_req *k8s_patch_deployment(k8s_client *c, const char *name, const k8s_deploy_patch *patch,
    k8s_deploy_done_fn fn, void *ctx)
{
	char path[512];
	uint8_t stack[1024], *body, *heap;
	int len = write_body(write_patch, patch, stack, sizeof(stack), &body, &heap);
	struct call *cl;
	k8s_req *r = NULL;

	if (len < 0 || deploy_path(c, path, sizeof(path), name) < 0)
		goto out;
	cl = call_new(ctx);
	cl->fn.deploy = fn;
	/* A merge patch gives the same object however often it is applied: retried like a GET. */
	r = submit(c, cl, &(k8s_request){ .verb = K8S_VERB_PATCH, .method = "PATCH", .path = path,
	    .body = body, .body_len = (size_t)len, .flags = K8S_REQ_MERGE_PATCH, .on_done = deploy_done });
out:
	free(heap);
	return r;
}

static void service_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct call *cl = ctx;

	(void)status;
	(void)body;
	(void)len;
	cl->fn.del(cl->ctx, err);
}

struct service_args {
	const char *name, *owner_uid;
	const k8s_podspec *pod;
};

static int write_service(const void *arg, uint8_t *out, size_t cap)
{
	const struct service_args *a = arg;

	return k8s_service_write_body(a->name, a->pod, a->owner_uid, out, cap);
}

k8s_req *k8s_create_service(k8s_client *c, const char *name, const k8s_podspec *pod, const char *owner_uid,
    k8s_delete_done_fn fn, void *ctx)
{
	struct service_args a = { name, owner_uid, pod };
	char path[512];
	uint8_t stack[2048], *body, *heap;
	int len = write_body(write_service, &a, stack, sizeof(stack), &body, &heap);
	struct call *cl;
	k8s_req *r = NULL;

	if (len < 0 || snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services",
	    k8s_client_config(c)->namespace_) >= (int)sizeof(path))
		goto out;
	cl = call_new(ctx);
	cl->fn.del = fn;
	r = submit(c, cl, &(k8s_request){ .verb = K8S_VERB_CREATE, .method = "POST", .path = path,
	    .body = body, .body_len = (size_t)len, .on_done = service_done });
out:
	free(heap);
	return r;
}

k8s_req *k8s_get_deployment(k8s_client *c, const char *name, k8s_deploy_done_fn fn, void *ctx)
{
	char path[512];
	struct call *cl;

	if (deploy_path(c, path, sizeof(path), name) < 0)
		return NULL;
	cl = call_new(ctx);
	cl->fn.deploy = fn;
	return submit(c, cl, &(k8s_request){ .verb = K8S_VERB_GET, .method = "GET", .path = path,
	    .on_done = deploy_done });
}

static void delete_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct call *cl = ctx;

	(void)status;
	(void)body;
	(void)len;
	cl->fn.del(cl->ctx, err);
}

k8s_req *k8s_delete_deployment(k8s_client *c, const char *name, k8s_delete_done_fn fn, void *ctx)
{
	static const char body[] = K8S_DELETE_FOREGROUND_BODY;
	char path[512];
	struct call *cl;

	if (deploy_path(c, path, sizeof(path), name) < 0)
		return NULL;
	cl = call_new(ctx);
	cl->fn.del = fn;
	return submit(c, cl, &(k8s_request){ .verb = K8S_VERB_DELETE, .method = "DELETE", .path = path,
	    .body = body, .body_len = sizeof(body) - 1, .on_done = delete_done });
}

static int diag_data(void *ctx, const uint8_t *p, size_t n)
{
	struct call *cl = ctx;

	return k8s_diag_feed(cl->diag, p, n) < 0;
}

static void diag_done(void *ctx, const k8s_error *err, int status, const uint8_t *body, size_t len)
{
	struct call *cl = ctx;
	char line[K8S_DIAG_MAX];
	k8s_error e;

	(void)status;
	(void)body;
	(void)len;
	if (err->kind != K8S_OK) {
		cl->fn.diag(cl->ctx, err, NULL);
		return;
	}
	if (k8s_diag_finish(cl->diag) < 0) {
		k8s_error_set(&e, K8S_ERR_PROTO, "undecodable pod list from the API server");
		cl->fn.diag(cl->ctx, &e, NULL);
		return;
	}
	k8s_diag_format(cl->diag, line, sizeof(line));
	cl->fn.diag(cl->ctx, err, line);
}

k8s_req *k8s_diagnose(k8s_client *c, const char *name, int32_t available, int32_t replicas,
    k8s_diag_done_fn fn, void *ctx)
{
	char path[512];
	struct call *cl;
	int n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=cplane.dev%%2Fcluster%%3D%s"
	    "&limit=500", k8s_client_config(c)->namespace_, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	cl = call_new(ctx);
	cl->fn.diag = fn;
	cl->diag = k8s_diag_new(available, replicas);
	return submit(c, cl, &(k8s_request){ .verb = K8S_VERB_LIST, .method = "GET", .path = path,
	    .on_data = diag_data, .on_done = diag_done });
}
