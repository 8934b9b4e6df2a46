/*
 * The service's completions share the client's signatures (service.h), so
 * each operation is one call; only a request that could not even be
 * built (a body past 8 MiB, a path too long: allocation itself aborts,
 * base/mem.h) is answered here, at once, as the client would have.
 */
#include "worker/backend_k8s.h"

static void submit_failed(k8s_error *e)
{
	k8s_error_clear(e);
	k8s_error_set(e, K8S_ERR_NOMEM, "the request could not be built (body or path too large)");
}

static void backend_create(void *impl, const k8s_deploy_spec *spec, k8s_deploy_done_fn done, void *arg)
{
	k8s_error e;

	if (k8s_create_deployment(impl, spec, done, arg) == NULL) {
		submit_failed(&e);
		done(arg, &e, NULL);
	}
}

static void backend_remove(void *impl, const char *name, k8s_delete_done_fn done, void *arg)
{
	k8s_error e;

	if (k8s_delete_deployment(impl, name, done, arg) == NULL) {
		submit_failed(&e);
		done(arg, &e);
	}
}

static void backend_diagnose(void *impl, const char *name, int32_t want, int32_t available, int64_t timeout_ms,
    k8s_diag_done_fn done, void *arg)
{
	k8s_error e;

	/* The service bounds the wait itself (it answers without the pods past timeout_ms). */
	(void)timeout_ms;
	if (k8s_diagnose(impl, name, available, want, done, arg) == NULL) {
		submit_failed(&e);
		done(arg, &e, NULL);
	}
}

static void backend_patch(void *impl, const char *name, const k8s_deploy_patch *patch, k8s_deploy_done_fn done,
    void *arg)
{
	k8s_error e;

	if (k8s_patch_deployment(impl, name, patch, done, arg) == NULL) {
		submit_failed(&e);
		done(arg, &e, NULL);
	}
}

static void backend_create_service(void *impl, const char *name, const k8s_podspec *pod, const char *owner_uid,
    k8s_delete_done_fn done, void *arg)
{
	k8s_error e;

	if (k8s_create_service(impl, name, pod, owner_uid, done, arg) == NULL) {
		submit_failed(&e);
		done(arg, &e);
	}
}

void worker_backend_k8s_init(struct worker_backend *b, k8s_client *client)
{
	b->patch = backend_patch;
	b->create_service = backend_create_service;
	b->create = backend_create;
	b->remove = backend_remove;
	b->diagnose = backend_diagnose;
	b->impl = client;
	b->namespace_ = k8s_client_config(client)->namespace_;
}
