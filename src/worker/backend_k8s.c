/*
 * Thin adapters: the k8s client's completion signatures differ from the
 * service's, so each request carries a tiny context with the service's
 * callback.  The context is freed when the request completes, or by
 * worker_backend_k8s_free() for a request still in flight at shutdown (the
 * client cancels those without calling back).
 */
#include "worker/backend_k8s.h"

#include <stdio.h>
#include <stdlib.h>

struct api_ctx {
	struct api_ctx *prev, *next;	/* in flight, for worker_backend_k8s_free */
	worker_backend_k8s *k;
	k8s_req *req;
	worker_api_done api_done;
	worker_diag_done diag_done;
	void *arg;
};

struct worker_backend_k8s {
	k8s_client *client;
	struct api_ctx *inflight;
};

static struct api_ctx *ctx_new(worker_backend_k8s *k, worker_api_done api, worker_diag_done diag, void *arg)
{
	struct api_ctx *x = calloc(1, sizeof(*x));

	if (x) {
		x->k = k;
		x->api_done = api;
		x->diag_done = diag;
		x->arg = arg;
	}
	return x;
}

/* req NULL: the submit failed; x is freed. */
static int ctx_track(struct api_ctx *x, k8s_req *req)
{
	worker_backend_k8s *k = x->k;

	if (req == NULL) {
		free(x);
		return -1;
	}
	x->req = req;
	x->next = k->inflight;
	if (k->inflight)
		k->inflight->prev = x;
	k->inflight = x;
	return 0;
}

static void ctx_free(struct api_ctx *x)
{
	worker_backend_k8s *k = x->k;

	if (x->prev)
		x->prev->next = x->next;
	else
		k->inflight = x->next;
	if (x->next)
		x->next->prev = x->prev;
	free(x);
}

static void fail_now(worker_api_done done, void *arg)
{
	k8s_error e;

	k8s_error_clear(&e);
	k8s_error_set(&e, K8S_ERR_NOMEM, "out of memory");
	done(arg, &e);
}

static void on_created(void *ctx, const k8s_error *err, const k8s_deployment *d)
{
	struct api_ctx *x = ctx;
	worker_api_done done = x->api_done;
	void *arg = x->arg;

	(void)d;
	ctx_free(x);
	done(arg, err);
}

static void backend_create(void *impl, const k8s_deploy_spec *spec, worker_api_done done, void *arg)
{
	worker_backend_k8s *k = impl;
	struct api_ctx *x = ctx_new(k, done, NULL, arg);

	if (x == NULL || ctx_track(x, k8s_create_deployment(k->client, spec, on_created, x)) < 0)
		fail_now(done, arg);
}

static void on_deleted(void *ctx, const k8s_error *err)
{
	struct api_ctx *x = ctx;
	worker_api_done done = x->api_done;
	void *arg = x->arg;

	ctx_free(x);
	done(arg, err);
}

static void backend_remove(void *impl, const char *name, worker_api_done done, void *arg)
{
	worker_backend_k8s *k = impl;
	struct api_ctx *x = ctx_new(k, done, NULL, arg);

	if (x == NULL || ctx_track(x, k8s_delete_deployment(k->client, name, on_deleted, x)) < 0)
		fail_now(done, arg);
}

static void on_diagnosed(void *ctx, const k8s_error *err, const char *diagnosis)
{
	struct api_ctx *x = ctx;
	worker_diag_done done = x->diag_done;
	void *arg = x->arg;
	char text[640];

	ctx_free(x);
	if (err->kind != K8S_OK || diagnosis == NULL) {
		snprintf(text, sizeof(text), "the pods could not be listed: %s", err->message);
		done(arg, text);
	} else {
		done(arg, diagnosis);
	}
}

static void backend_diagnose(void *impl, const char *name, int32_t want, int32_t available, int64_t timeout_ms,
    worker_diag_done done, void *arg)
{
	worker_backend_k8s *k = impl;
	struct api_ctx *x = ctx_new(k, NULL, done, arg);

	/* The service bounds the wait itself (it answers without the pods past timeout_ms). */
	(void)timeout_ms;
	if (x == NULL || ctx_track(x, k8s_diagnose(k->client, name, available, want, on_diagnosed, x)) < 0)
		done(arg, "");
}

worker_backend_k8s *worker_backend_k8s_new(struct worker_backend *b, k8s_client *client)
{
	worker_backend_k8s *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->client = client;
	b->create = backend_create;
	b->remove = backend_remove;
	b->diagnose = backend_diagnose;
	b->impl = k;
	b->namespace_ = k8s_client_config(client)->namespace_;
	return k;
}

void worker_backend_k8s_free(worker_backend_k8s *k)
{
	if (k == NULL)
		return;
	while (k->inflight) {
		struct api_ctx *x = k->inflight;
		k8s_req_cancel(x->req);
		ctx_free(x);
	}
	free(k);
}
