/*
 * Thin adapters: the k8s client's completion signatures differ from the
 * service's, so each request carries a tiny context with the service's
 * callback.  The context is freed when the request completes.
 */
#include "worker/backend_k8s.h"

#include <stdio.h>
#include <stdlib.h>

struct api_ctx {
	worker_api_done api_done;
	worker_diag_done diag_done;
	void *arg;
};

static struct api_ctx *ctx_new(worker_api_done api, worker_diag_done diag, void *arg)
{
	struct api_ctx *x = calloc(1, sizeof(*x));

	if (x) {
		x->api_done = api;
		x->diag_done = diag;
		x->arg = arg;
	}
	return x;
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

	(void)d;
	x->api_done(x->arg, err);
	free(x);
}

static void backend_create(void *impl, const k8s_deploy_spec *spec, worker_api_done done, void *arg)
{
	struct api_ctx *x = ctx_new(done, NULL, arg);

	if (x == NULL || k8s_create_deployment(impl, spec, on_created, x) == NULL) {
		free(x);
		fail_now(done, arg);
	}
}

static void on_deleted(void *ctx, const k8s_error *err)
{
	struct api_ctx *x = ctx;

	x->api_done(x->arg, err);
	free(x);
}

static void backend_remove(void *impl, const char *name, worker_api_done done, void *arg)
{
	struct api_ctx *x = ctx_new(done, NULL, arg);

	if (x == NULL || k8s_delete_deployment(impl, name, on_deleted, x) == NULL) {
		free(x);
		fail_now(done, arg);
	}
}

static void on_diagnosed(void *ctx, const k8s_error *err, const char *diagnosis)
{
	struct api_ctx *x = ctx;
	char text[640];

	if (err->kind != K8S_OK || diagnosis == NULL) {
		snprintf(text, sizeof(text), "the pods could not be listed: %s", err->message);
		x->diag_done(x->arg, text);
	} else {
		x->diag_done(x->arg, diagnosis);
	}
	free(x);
}

static void backend_diagnose(void *impl, const char *name, int32_t want, int32_t available, int64_t timeout_ms,
    worker_diag_done done, void *arg)
{
	struct api_ctx *x = ctx_new(NULL, done, arg);

	/* The service bounds the wait itself (it answers without the pods past timeout_ms). */
	(void)timeout_ms;
	if (x == NULL || k8s_diagnose(impl, name, available, want, on_diagnosed, x) == NULL) {
		free(x);
		done(arg, "");
	}
}

void worker_backend_k8s(struct worker_backend *b, k8s_client *client)
{
	b->create = backend_create;
	b->remove = backend_remove;
	b->diagnose = backend_diagnose;
	b->impl = client;
	b->namespace_ = k8s_client_config(client)->namespace_;
}
