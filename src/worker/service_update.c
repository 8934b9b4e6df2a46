/*
 * UpdateCluster: the Update rows of DESIGN.md's semantics table.  An Update
 * is a JSON merge patch of only what changes (the container is rewritten
 * whole: a merge patch replaces lists) plus the new spec hash, then a
 * waiter that service.c ends when the rollout is done by the READY rule
 * (evaluate_update), superseded, refused or past its deadline.  PATCHes of
 * one cluster go one at a time, so the API server applies them in the
 * order the calls came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "k8s/podspec.h"
#include "worker/allowlist.h"
#include "worker/service_int.h"
#include "worker/spec_check.h"
#include "worker/spec_proto.h"

static void send_patch(worker_service *s, struct cluster *c, struct waiter *w, int full);

static void on_patch_done(void *arg, const k8s_error *err, const k8s_deployment *d)
{
	struct pending_op *op = arg;
	worker_service *s = op->svc;
	struct cluster *c = cluster_table_find(s->table, op->name);
	struct waiter *w = svc__find_waiter(s, op->name, op->waiter_id);
	char msg[1024];
	int code;

	if (c)
		c->patching = 0;
	if (w == NULL)
		goto out;	/* the caller left, or a later Update superseded it: the patch stands */
	if (err->kind != K8S_OK || d == NULL) {
		code = err->kind == K8S_OK ? GRPC_INTERNAL : svc__map_api_error(err, "patch", s->backend.namespace_, msg,
		    sizeof(msg));
		if (err->kind == K8S_OK)
			snprintf(msg, sizeof(msg), "the patch was answered without the Deployment");
		log_error("Update failed", "name", op->name, "code", grpc_status_name(code), "error", msg, NULL);
		svc__waiter_finish(w, code, msg);
		goto out;
	}
	w->patched = 1;
	w->want_generation = d->generation;
	svc__event(s, w->c, d->uid, 0, "Updating", "updating cluster %s: %d replicas of %s", op->name,
	    w->want_replicas, w->want_image && w->want_image[0] ? w->want_image : svc__cluster_image(w->c));
	svc__cluster_changed(s, w->c);
out:
	/* A later target waited for this answer: PATCHes of one cluster go one at a time, so
	 * the API server applies them in the order the calls came (the client has several
	 * connections; two in flight could land the other way round). */
	c = cluster_table_find(s->table, op->name);
	for (w = c ? c->user : NULL; w; w = w->next)
		if (w->kind == W_UPDATE && !w->patch_sent) {
			send_patch(s, c, w, 1);
			break;
		}
	svc__op_free(op);
}

static void reply_update(worker_service *s, grpc_call *call, int64_t start_us, const struct cluster *c,
    enum cluster_phase phase, int result)
{
	Cplane__V1__UpdateClusterResponse resp;
	Cplane__V1__Cluster m, *spec;
	char msg[CLUSTER_MESSAGE_MAX];

	cplane__v1__update_cluster_response__init(&resp);
	resp.result = result;
	spec = svc__cluster_to_msg(c, phase, &m, msg, sizeof(msg));
	resp.cluster = &m;
	svc__reply_msg(s, call, WM_UPDATE, start_us, &resp.base);
	spec_blob_free(spec);
}

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* The target spec: the cluster's, with resources replaced when the request sets them. */
static void update_target(const struct cluster *c, const Cplane__V1__UpdateClusterRequest *req, k8s_podspec *pod,
    char hash[K8S_SPEC_HASH_LEN + 1])
{
	if (req->resources) {
		pod->cpu_request = nz(req->resources->cpu_request);
		pod->memory_request = nz(req->resources->memory_request);
		pod->cpu_limit = nz(req->resources->cpu_limit);
		pod->memory_limit = nz(req->resources->memory_limit);
	}
	pod->service = c->service_dns != NULL;
	k8s_podspec_hash(pod, hash);
}

static void update_with(worker_service *s, grpc_call *call, int64_t start_us,
    const Cplane__V1__UpdateClusterRequest *req, struct cluster *c, enum cluster_phase phase, k8s_podspec *pod)
{
	char hash[K8S_SPEC_HASH_LEN + 1], msg[512], rep[24];
	int32_t replicas = req->replicas > 0 ? req->replicas : svc__cluster_replicas(c);
	const char *image = req->image && req->image[0] ? req->image : svc__cluster_image(c);
	struct waiter *w;

	update_target(c, req, pod, hash);
	for (w = c->user; w; w = w->next)
		if (w->kind == W_UPDATE && w->want_replicas == replicas && strcmp(w->want_image, image) == 0 &&
		    strcmp(w->want_hash, hash) == 0) {
			reply_update(s, call, start_us, c, phase, CPLANE__V1__RESULT__IN_PROGRESS);
			return;
		}
	if (svc__spec_matches(c, replicas, image, hash)) {
		/* Nothing to change.  Rolling out already (a retry after a restart, say): that rollout is this one. */
		reply_update(s, call, start_us, c, phase, phase == PHASE_UPDATING ?
		    CPLANE__V1__RESULT__IN_PROGRESS : CPLANE__V1__RESULT__SUCCESS);
		return;
	}
	snprintf(msg, sizeof(msg), "cluster %s: superseded by another update (replicas=%d image=%s)", c->name,
	    replicas, image);
	svc__finish_waiters(c, W_UPDATE, GRPC_ABORTED, msg);

	w = svc__wait_on(s, call, c, W_UPDATE, WM_UPDATE, start_us, s->opts.create_timeout_ms);
	w->want_replicas = replicas;
	memcpy(w->want_hash, hash, sizeof(w->want_hash));
	w->want_image = xstrdup(image);
	spec_blob_pack(pod, &w->want_blob, &w->want_blob_len);
	log_info("Updating cluster", "name", c->name, "replicas", log_i64(rep, replicas), "image", image, NULL);
	if (!c->patching)
		send_patch(s, c, w, 0);	/* else it goes when the one in flight is answered */
}

/* The PATCH for w's target against what the cluster is now: only what changes; the
 * container is rewritten whole (a merge patch replaces lists).  full: right after another
 * PATCH of ours, whose effect the informer may not show yet, so "what changes" is not known:
 * replicas and the container are both written. */
static void send_patch(worker_service *s, struct cluster *c, struct waiter *w, int full)
{
	static const k8s_podspec empty;
	Cplane__V1__Cluster *spec = spec_blob_unpack(w->want_blob, w->want_blob_len);
	struct pending_op *op = svc__op_new(s, c->name);
	k8s_deploy_patch patch;
	k8s_podspec pod;
	spec_view v;
	int new_container;

	memset(&v, 0, sizeof(v));
	if (spec)
		spec_view_of_cluster(&v, spec);
	pod = spec ? v.pod : empty;
	pod.service = c->service_dns != NULL;
	op->waiter_id = w->id;
	new_container = full || strcmp(w->want_image, svc__cluster_image(c)) != 0 ||
	    strcmp(w->want_hash, c->spec_hash) != 0;
	memset(&patch, 0, sizeof(patch));
	patch.replicas = full || w->want_replicas != svc__cluster_replicas(c) ? w->want_replicas : 0;
	patch.image = new_container ? w->want_image : NULL;
	patch.pod = new_container ? &pod : NULL;
	patch.spec_hash = w->want_hash;
	w->patch_sent = 1;
	c->patching = 1;
	if (s->backend.patch == NULL) {
		k8s_error e;

		k8s_error_clear(&e);
		k8s_error_set(&e, K8S_ERR_NOMEM, "no backend for patches");
		on_patch_done(op, &e, NULL);
	} else {
		s->backend.patch(s->backend.impl, c->name, &patch, on_patch_done, op);
	}
	spec_view_free(&v);
	spec_blob_free(spec);
}

void svc__handle_update(worker_service *s, grpc_call *call, int64_t start_us)
{
	const Cplane__V1__UpdateClusterRequest *req = (const void *)grpc_call_request_msg(call);
	char msg[512];
	struct cluster *c;
	enum cluster_phase phase;
	Cplane__V1__Cluster *spec;
	spec_view v;
	k8s_podspec pod;
	static const k8s_podspec empty;

	if (req->replicas != 0 && cluster_check_replicas(req->replicas, s->opts.max_replicas, msg, sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_INVALID_ARGUMENT, msg);
		return;
	}
	if (req->image && req->image[0] && cluster_check_image(req->image, msg, sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_INVALID_ARGUMENT, msg);
		return;
	}
	if (req->image && req->image[0] && allowlist_check_image(s->opts.allowed_images, req->image, msg,
	    sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_PERMISSION_DENIED, msg);
		return;
	}
	if (req->resources && spec_check_resources("resources.", req->resources->cpu_request,
	    req->resources->memory_request, req->resources->cpu_limit, req->resources->memory_limit, msg,
	    sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_INVALID_ARGUMENT, msg);
		return;
	}

	c = cluster_table_find(s->table, req->name);
	phase = c ? cluster_derive_phase(&c->obs, c->creating, c->deleting) : PHASE_ABSENT;
	switch (phase) {
	case PHASE_ABSENT:
	case PHASE_DELETED:
	case PHASE_COUNT:
		snprintf(msg, sizeof(msg), "cluster %.64s not found", req->name);
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_NOT_FOUND, msg);
		return;
	case PHASE_CREATING:
		snprintf(msg, sizeof(msg), "cluster %s is still being created", c->name);
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_FAILED_PRECONDITION, msg);
		return;
	case PHASE_DELETING:
		snprintf(msg, sizeof(msg), "cluster %s is being deleted", c->name);
		svc__reply_error(s, call, WM_UPDATE, start_us, GRPC_FAILED_PRECONDITION, msg);
		return;
	case PHASE_READY:
	case PHASE_FAILED:
	case PHASE_UPDATING:
		break;
	}
	spec = spec_blob_unpack(c->spec_blob, c->spec_len);
	memset(&v, 0, sizeof(v));
	if (spec)
		spec_view_of_cluster(&v, spec);
	pod = spec ? v.pod : empty;
	update_with(s, call, start_us, req, c, phase, &pod);
	spec_view_free(&v);
	spec_blob_free(spec);
}
