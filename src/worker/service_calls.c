/*
 * The ClusterService handlers (the semantics table's "answer" column for a
 * call that arrives), the completions of the API writes they start, and
 * the service's construction (method registration) and first sync.
 *
 * Where things plug in:
 * - A new method: its path in cplane/v1/methods.h (the driver calls it
 *   from there), the path and request descriptor in `methods[]`
 *   (register_methods), an enum worker_method value and name
 *   (service.h, service.c: metrics are indexed by it), a handle_x() below
 *   (UpdateCluster's is svc__handle_update in service_update.c) reached
 *   through dispatch(), its verb in method_auth[] (service.c: what RBAC is asked), and its
 *   rows in tests/unit/test_worker_service.c.
 * - Caller identity (worker/auth.h): admit() validates the request, then the
 *   gate reviews the caller, and only then dispatch() runs.
 * - A check every call passes (draining, rate): in dispatch(), before the
 *   switch; it answers with svc__reply_error() and returns.
 * - A check on one method's input: at the top of its handle_x(), as the
 *   cluster_check_*() validators in cluster.c are, before any state is read.
 * - A call that must wait: svc__wait_on() a waiter kind; service.c finishes it
 *   when the cluster changes (evaluate_waiter) or its timer fires.
 *   Asynchronous work (backend requests) carries a pending_op (name and
 *   waiter id), never a pointer to a call or waiter.
 * - Allocation: what the service allocates itself comes from x*alloc
 *   (base/mem.h: abort on failure) and has no "out of memory" branch, nor do
 *   its callees' table entries, spec views, blobs and hashes.  The
 *   RESOURCE_EXHAUSTED answers left: the List's text buffer (a checked buf)
 *   and Create's ladder, for a name past CLUSTER_NAME_MAX or a blob past
 *   4 GiB, which validation and the message size limit rule out.
 * Calls run one way: this file calls into service.c, never the reverse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "cplane/v1/methods.h"
#include "grpc/pbstrings.h"
#include "k8s/podspec.h"
#include "worker/allowlist.h"
#include "worker/service_int.h"
#include "worker/spec_check.h"
#include "worker/spec_proto.h"

/* ------------------------------------------------------- API completions */

static void send_delete(worker_service *s, struct cluster *c);

static void on_service_done(void *arg, const k8s_error *err)
{
	struct pending_op *op = arg;
	worker_service *s = op->svc;
	struct cluster *c = cluster_table_find(s->table, op->name);
	char msg[1024];
	int code;

	if (c == NULL)
		goto out;
	c->obs.service_pending = 0;
	if (err->kind != K8S_OK) {
		code = svc__map_api_error(err, "create", s->backend.namespace_, msg, sizeof(msg));
		if (code != GRPC_ALREADY_EXISTS) {
			/* The Deployment stays as it is (as after a deadline); the Create says why. */
			log_error("Creating the Service failed", "name", c->name, "code", grpc_status_name(code),
			    "error", msg, NULL);
			svc__finish_waiters(c, W_CREATE, code, msg);
		}
	}
	svc__cluster_changed(s, c);
out:
	svc__op_free(op);
}

/* The Deployment was made (owner_uid): its headless Service, from the spec the entry keeps. */
static void create_service(worker_service *s, struct cluster *c, const char *owner_uid)
{
	Cplane__V1__Cluster *spec = spec_blob_unpack(c->spec_blob, c->spec_len);
	static const k8s_podspec empty;
	struct pending_op *op;
	spec_view v;
	k8s_error e;

	memset(&v, 0, sizeof(v));
	op = svc__op_new(s, c->name);
	if (spec)
		spec_view_of_cluster(&v, spec);
	if (s->backend.create_service == NULL) {
		k8s_error_clear(&e);
		on_service_done(op, &e);
		goto out;
	}
	s->backend.create_service(s->backend.impl, c->name, spec ? &v.pod : &empty, owner_uid, on_service_done, op);
out:
	spec_view_free(&v);
	spec_blob_free(spec);
}

static void on_create_done(void *arg, const k8s_error *err, const k8s_deployment *d)
{
	struct pending_op *op = arg;
	worker_service *s = op->svc;
	struct cluster *c = cluster_table_find(s->table, op->name);
	char msg[1024];
	int code;

	/* The informer brings the Deployment; its cache is what counts.  d only lends its uid
	 * to the Service's ownerReference. */
	if (c == NULL)
		goto out;
	if (err->kind == K8S_OK && c->obs.service_pending) {
		if (d && d->uid[0]) {
			create_service(s, c, d->uid);
		} else {
			/* Without the uid there is no ownerReference, and an unowned Service would outlive
			 * its cluster: the waiting Create says so rather than waiting for nothing. */
			c->obs.service_pending = 0;
			log_error("Creating the Service failed", "name", c->name, "error",
			    "the Deployment's uid was not in the API server's answer", NULL);
			svc__finish_waiters(c, W_CREATE, GRPC_INTERNAL, "the Deployment was created, but its uid was not "
			    "in the API server's answer: the Service was not created");
		}
	}
	if (err->kind == K8S_OK && d)
		svc__event(s, c, d->uid, 0, "Creating", "creating cluster %s: %d replicas of %s", c->name,
		    svc__cluster_replicas(c), svc__cluster_image(c));
	if (!c->creating)
		goto deferred;	/* the informer showed the Deployment first */
	if (err->kind == K8S_OK)
		goto answered;
	code = svc__map_api_error(err, "create", s->backend.namespace_, msg, sizeof(msg));
	if (code == GRPC_ALREADY_EXISTS) {
		c->obs.service_pending = 0;	/* its maker makes the Service too */
		/* Someone else (another worker) made it: the informer will bring it, and the
		 * waiting Create is judged against its spec then. */
		log_info("Deployment already exists; following it", "name", c->name, NULL);
		goto answered;
	}
	log_error("Create failed", "name", c->name, "code", grpc_status_name(code), "error", msg, NULL);
	if (c->delete_after_post && err->kind != K8S_ERR_API) {
		/*
		 * No answer (timeout, connection lost after sending): the POST may have made
		 * the Deployment.  The Delete that waited for this answer still sends its
		 * DELETE; the entry stays DELETING until that says what there was.
		 */
		svc__finish_waiters(c, W_CREATE, code, msg);
		c->posted_us = svc__now_us(s);
		goto deferred;
	}
	c->creating = 0;
	c->delete_after_post = 0;	/* nothing was made: a Delete waiting for this answer is done */
	svc__finish_waiters(c, W_CREATE, code, msg);
	svc__cluster_changed(s, c);
	goto out;
answered:
	/* CREATING until the informer shows the Deployment (it may already have).  From now
	 * on an API answer that it is gone (a relist, a DELETE's 404) is to be believed. */
	c->posted_us = svc__now_us(s);
deferred:
	if (c->delete_after_post) {
		c->delete_after_post = 0;
		c->deleting = 1;
		send_delete(s, c);
	}
out:
	svc__op_free(op);
}

static void on_delete_done(void *arg, const k8s_error *err)
{
	struct pending_op *op = arg;
	worker_service *s = op->svc;
	struct cluster *c = cluster_table_find(s->table, op->name);
	char msg[1024];
	int code;

	if (c == NULL)
		goto out;
	if (err->kind == K8S_OK) {
		if (c->deleting)
			c->deleted_us = svc__now_us(s);	/* from now on it carries deletionTimestamp */
		goto out;
	}
	code = svc__map_api_error(err, "delete", s->backend.namespace_, msg, sizeof(msg));
	if (code == GRPC_NOT_FOUND) {
		/* Already gone: the watch's DELETED may lag, the answer need not.  A Create
		 * whose POST was answered before this DELETE left made what is now gone, even
		 * if the informer never saw it (removed while its watch was down). */
		if (c->creating && c->posted_us != 0 && c->posted_us <= op->start_us)
			c->creating = 0;
		worker_service_on_delete(s, c->name);
		goto out;
	}
	log_error("Delete failed", "name", c->name, "code", grpc_status_name(code), "error", msg, NULL);
	c->deleting = 0;
	svc__finish_waiters(c, W_DELETE, code, msg);
	svc__cluster_changed(s, c);
out:
	svc__op_free(op);
}

/* Sends the DELETE for an accepted Delete (c->deleting is set, Delete waiters are on c). */
static void send_delete(worker_service *s, struct cluster *c)
{
	struct pending_op *op = svc__op_new(s, c->name);

	c->deleted_us = 0;
	svc__event(s, c, NULL, 0, "Deleting", "deleting cluster %s", c->name);
	s->backend.remove(s->backend.impl, c->name, on_delete_done, op);
}

/* --------------------------------------------------------------- handlers */

static void create_with_spec(worker_service *s, grpc_call *call, int64_t start_us,
    const Cplane__V1__CreateClusterRequest *req, const k8s_podspec *pod)
{
	int to_target = 0;
	const char *image;
	char hash[K8S_SPEC_HASH_LEN + 1];
	char msg[512], rep[24];
	struct cluster *c;
	enum cluster_phase phase;
	Cplane__V1__CreateClusterResponse resp;
	Cplane__V1__Cluster m;
	struct pending_op *op = NULL;
	struct waiter *w;
	k8s_deploy_spec spec;

	if (cluster_check_replicas(req->replicas, s->opts.max_replicas, msg, sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_CREATE, start_us, GRPC_INVALID_ARGUMENT, msg);
		return;
	}
	image = req->image && req->image[0] ? req->image : s->opts.default_image;
	if (cluster_check_image(image, msg, sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_CREATE, start_us, GRPC_INVALID_ARGUMENT, msg);
		return;
	}
	if (spec_check(req->name, pod, msg, sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_CREATE, start_us, GRPC_INVALID_ARGUMENT, msg);
		return;
	}
	k8s_podspec_hash(pod, hash);
	if (allowlist_check_image(s->opts.allowed_images, image, msg, sizeof(msg)) < 0) {
		svc__reply_error(s, call, WM_CREATE, start_us, GRPC_PERMISSION_DENIED, msg);
		return;
	}

	c = cluster_table_find(s->table, req->name);
	phase = c ? cluster_derive_phase(&c->obs, c->creating, c->deleting) : PHASE_ABSENT;
	switch (phase) {
	case PHASE_CREATING:
	case PHASE_UPDATING:
	case PHASE_READY:
		/* An Update of ours to exactly this spec is on its way (its PATCH may not even be
		 * answered yet): the Create is that rollout's. */
		for (struct waiter *x = c->user; x && !to_target; x = x->next)
			to_target = x->kind == W_UPDATE && x->want_replicas == req->replicas &&
			    strcmp(x->want_image, image) == 0 && strcmp(x->want_hash, hash) == 0;
		if (!to_target && !svc__spec_matches(c, req->replicas, image, hash)) {
			svc__already_exists_text(c, hash, msg, sizeof(msg));
			svc__reply_error(s, call, WM_CREATE, start_us, GRPC_ALREADY_EXISTS, msg);
			return;
		}
		cplane__v1__create_cluster_response__init(&resp);
		resp.result = phase == PHASE_READY && !to_target ? CPLANE__V1__RESULT__SUCCESS :
		    CPLANE__V1__RESULT__IN_PROGRESS;
		{
			Cplane__V1__Cluster *lent = svc__cluster_to_msg(c, phase, &m, msg, sizeof(msg));

			resp.cluster = &m;
			svc__reply_msg(s, call, WM_CREATE, start_us, &resp.base);
			spec_blob_free(lent);
		}
		return;
	case PHASE_FAILED:
		snprintf(msg, sizeof(msg), "cluster %s failed (%s); delete it first", c->name,
		    c->failure ? c->failure : "progress deadline exceeded");
		svc__reply_error(s, call, WM_CREATE, start_us, GRPC_FAILED_PRECONDITION, msg);
		return;
	case PHASE_DELETING:
		snprintf(msg, sizeof(msg), "cluster %s is being deleted", c->name);
		svc__reply_error(s, call, WM_CREATE, start_us, GRPC_FAILED_PRECONDITION, msg);
		return;
	default:
		break;
	}

	/* Acquired in order; on failure everything taken so far is given back below. */
	c = cluster_table_get_or_add(s->table, req->name);
	if (c == NULL)
		goto nomem;
	op = svc__op_new(s, req->name);
	c->creating = 1;
	c->posted_us = 0;
	c->delete_after_post = 0;
	c->want_replicas = req->replicas;
	cluster_set_text(&c->image, NULL);	/* a name used again: forget the old Deployment's image */
	cluster_set_text(&c->want_image, image);
	if (svc__cluster_set_spec(s, c, pod, hash, pod->service) < 0)
		goto nomem;
	c->obs.service_pending = pod->service;
	w = svc__wait_on(s, call, c, W_CREATE, WM_CREATE, start_us, s->opts.create_timeout_ms);
	w->want_replicas = req->replicas;
	memcpy(w->want_hash, hash, sizeof(w->want_hash));
	w->want_image = xstrdup(image);
	log_info("Creating cluster", "name", c->name, "replicas", log_i64(rep, req->replicas), "image", image, NULL);
	svc__cluster_changed(s, c);	/* watchers of a re-created name see CREATING */
	memset(&spec, 0, sizeof(spec));
	spec.name = c->name;
	spec.replicas = req->replicas;
	spec.image = image;
	spec.node_selector = s->opts.node_selector;
	spec.progress_deadline_s = (s->opts.create_timeout_ms + 999) / 1000;
	spec.pod = pod;
	spec.spec_hash = hash;
	s->backend.create(s->backend.impl, &spec, on_create_done, op);
	return;
nomem:
	svc__reply_error(s, call, WM_CREATE, start_us, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	svc__op_free(op);
	if (c != NULL) {
		c->creating = 0;
		svc__maybe_forget(s, c);
	}
}

static void handle_create(worker_service *s, grpc_call *call, int64_t start_us)
{
	const Cplane__V1__CreateClusterRequest *req = (const void *)grpc_call_request_msg(call);
	spec_view v;

	spec_view_of_request(&v, req);
	create_with_spec(s, call, start_us, req, &v.pod);
	spec_view_free(&v);
}

static void handle_delete(worker_service *s, grpc_call *call, int64_t start_us)
{
	const Cplane__V1__DeleteClusterRequest *req = (const void *)grpc_call_request_msg(call);
	char msg[256];
	struct cluster *c;
	enum cluster_phase phase;
	Cplane__V1__DeleteClusterResponse resp;

	c = cluster_table_find(s->table, req->name);
	phase = c ? cluster_derive_phase(&c->obs, c->creating, c->deleting) : PHASE_ABSENT;
	if (phase == PHASE_ABSENT) {
		snprintf(msg, sizeof(msg), "cluster %s not found", req->name);
		svc__reply_error(s, call, WM_DELETE, start_us, GRPC_NOT_FOUND, msg);
		return;
	}
	if (phase == PHASE_DELETING) {
		cplane__v1__delete_cluster_response__init(&resp);
		resp.result = CPLANE__V1__RESULT__IN_PROGRESS;
		svc__reply_msg(s, call, WM_DELETE, start_us, &resp.base);
		return;
	}
	svc__wait_on(s, call, c, W_DELETE, WM_DELETE, start_us, s->opts.delete_timeout_ms);
	log_info("Deleting cluster", "name", c->name, NULL);
	c->deleting = 1;
	svc__cluster_changed(s, c);	/* waiting Creates end ABORTED; watchers see DELETING */
	if (c->creating && c->posted_us == 0) {
		/* Our POST is in flight (maybe waiting to retry): a DELETE now could reach the API
		 * server first, on another connection, and find nothing; the Deployment would then
		 * appear with nobody deleting it.  It leaves once the POST is answered. */
		c->delete_after_post = 1;
		return;
	}
	send_delete(s, c);
}

static void handle_get(worker_service *s, grpc_call *call, int64_t start_us)
{
	const Cplane__V1__GetClusterRequest *req = (const void *)grpc_call_request_msg(call);
	struct cluster *c = cluster_table_find(s->table, req->name);
	enum cluster_phase phase = c ? cluster_derive_phase(&c->obs, c->creating, c->deleting) : PHASE_ABSENT;
	Cplane__V1__Cluster m;
	char msg[CLUSTER_MESSAGE_MAX];

	if (phase == PHASE_ABSENT) {
		snprintf(msg, sizeof(msg), "cluster %.64s not found", req->name);
		svc__reply_error(s, call, WM_GET, start_us, GRPC_NOT_FOUND, msg);
		return;
	}
	{
		Cplane__V1__Cluster *spec = svc__cluster_to_msg(c, phase, &m, msg, sizeof(msg));

		svc__reply_msg(s, call, WM_GET, start_us, &m.base);
		spec_blob_free(spec);
	}
}

static void handle_list(worker_service *s, grpc_call *call, int64_t start_us)
{
	size_t n = cluster_table_count(s->table), k = 0;
	struct cluster **all = xcalloc(n, sizeof(*all));
	Cplane__V1__Cluster *msgs = xcalloc(n, sizeof(*msgs));
	Cplane__V1__Cluster **ptrs = xcalloc(n, sizeof(*ptrs));
	size_t *text_at = xcalloc(n, sizeof(*text_at));
	Cplane__V1__Cluster **specs = xcalloc(n, sizeof(*specs));	/* what each message borrows */
	buf texts = BUF_INIT;	/* every message, NUL-terminated, packed: not 512 bytes a cluster */
	char msg[CLUSTER_MESSAGE_MAX];
	Cplane__V1__ListClustersResponse resp;

	n = cluster_table_sorted(s->table, all);
	for (size_t i = 0; i < n; i++) {
		enum cluster_phase phase = cluster_derive_phase(&all[i]->obs, all[i]->creating, all[i]->deleting);
		if (phase == PHASE_ABSENT)
			continue;
		specs[k] = svc__cluster_to_msg(all[i], phase, &msgs[k], msg, sizeof(msg));
		text_at[k] = buf_len(&texts);
		if (buf_append(&texts, msg, strlen(msg) + 1) < 0) {
			spec_blob_free(specs[k]);
			svc__reply_error(s, call, WM_LIST, start_us, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
		ptrs[k] = &msgs[k];
		k++;
	}
	/* The packed buffer no longer moves: point each message into it. */
	for (size_t i = 0; i < k; i++)
		msgs[i].message = (char *)buf_data(&texts) + text_at[i];
	cplane__v1__list_clusters_response__init(&resp);
	resp.n_clusters = k;
	resp.clusters = ptrs;
	svc__reply_msg(s, call, WM_LIST, start_us, &resp.base);
out:
	free(all);
	free(msgs);
	free(ptrs);
	free(text_at);
	for (size_t i = 0; specs && i < k; i++)
		spec_blob_free(specs[i]);
	free(specs);
	buf_free(&texts);
}

static void handle_watch(worker_service *s, grpc_call *call, int64_t start_us)
{
	const Cplane__V1__WatchClusterRequest *req = (const void *)grpc_call_request_msg(call);
	struct cluster *c = cluster_table_find(s->table, req->name);
	enum cluster_phase phase = c ? cluster_derive_phase(&c->obs, c->creating, c->deleting) : PHASE_ABSENT;
	struct waiter *w;
	char msg[128];

	if (phase == PHASE_ABSENT) {
		snprintf(msg, sizeof(msg), "cluster %.64s not found", req->name);
		svc__reply_error(s, call, WM_WATCH, start_us, GRPC_NOT_FOUND, msg);
		return;
	}
	w = svc__wait_on(s, call, c, W_WATCH, WM_WATCH, start_us, 0);
	grpc_call_set_on_writable(call, svc__on_watch_writable, w);
	svc__watch_send(w, phase);
}

/*
 * The checks every request passes, whatever the method, before any state
 * is read or the call is held for the first sync: every string field
 * (found on the wire, with its protobuf length: protobuf-c hands us C
 * strings, which an embedded NUL would cut short) is NUL-free UTF-8, and
 * the cluster name, for the methods that take one, is a valid name.
 * Returns 0, or -1 having answered INVALID_ARGUMENT naming the field.
 */
static int check_request(worker_service *s, grpc_call *call, enum worker_method m, int64_t start_us)
{
	const ProtobufCMessage *msg = grpc_call_request_msg(call);
	const uint8_t *raw;
	size_t len, at;
	char path[128], why[256];
	const char *name;

	raw = grpc_call_request(call, &len);
	switch (pbstrings_check(msg->descriptor, raw, len, path, sizeof(path), &at)) {
	case PBSTRINGS_NUL:
		snprintf(why, sizeof(why), "%s: contains a NUL byte (at byte %zu)", path, at);
		svc__reply_error(s, call, m, start_us, GRPC_INVALID_ARGUMENT, why);
		return -1;
	case PBSTRINGS_BAD_UTF8:
		snprintf(why, sizeof(why), "%s: not valid UTF-8 (at byte %zu)", path, at);
		svc__reply_error(s, call, m, start_us, GRPC_INVALID_ARGUMENT, why);
		return -1;
	default:	/* malformed cannot happen: protobuf-c unpacked it */
		break;
	}
	name = svc__request_name(call, m);
	if (name != NULL && cluster_check_name(name, why, sizeof(why)) < 0) {
		svc__reply_error(s, call, m, start_us, GRPC_INVALID_ARGUMENT, why);
		return -1;
	}
	return 0;
}

/* How long a call may be held for the first sync: its method's own timeout when nearer. */
static int64_t sync_wait_ms(const worker_service *s, enum worker_method m)
{
	int64_t wait = s->opts.sync_wait_ms > 0 ? s->opts.sync_wait_ms : WORKER_SYNC_WAIT_MS_DEFAULT;
	int64_t own = m == WM_CREATE || m == WM_UPDATE ? s->opts.create_timeout_ms :
	    m == WM_DELETE ? s->opts.delete_timeout_ms : 0;

	return own > 0 && own < wait ? own : wait;
}

/* start_us: when the call arrived (a call held for the first sync keeps it). */
static void dispatch(worker_service *s, grpc_call *call, enum worker_method m, int64_t start_us)
{
	if (s->draining) {
		svc__reply_error(s, call, m, start_us, GRPC_UNAVAILABLE, "the worker is shutting down");
		return;
	}
	if (!s->synced) {
		/* svc__answer_by() also keeps it within the call's own deadline */
		svc__wait_on(s, call, NULL, W_SYNC, m, start_us, sync_wait_ms(s, m));
		return;
	}
	switch (m) {
	case WM_CREATE: handle_create(s, call, start_us); break;
	case WM_DELETE: handle_delete(s, call, start_us); break;
	case WM_GET: handle_get(s, call, start_us); break;
	case WM_LIST: handle_list(s, call, start_us); break;
	case WM_WATCH: handle_watch(s, call, start_us); break;
	case WM_UPDATE: svc__handle_update(s, call, start_us); break;
	default: svc__reply_error(s, call, m, start_us, GRPC_UNIMPLEMENTED, "unknown method");
	}
}

/* ------------------------------------------------------ who may call */

/* The gate's answer: the handler runs with the caller known, or the call ends with the refusal. */
static void on_admitted(void *arg, grpc_call *call, const worker_auth_result *r)
{
	struct admit_slot *slot = arg;
	worker_service *s = slot->s;

	s->caller = r->user;
	if (r->code != GRPC_OK)
		svc__reply_error(s, call, slot->m, svc__turn_us(s), r->code, r->message);
	else
		dispatch(s, call, slot->m, svc__turn_us(s));
	s->caller = NULL;
}

/* A call arrives: a draining worker and a malformed request are refused before any review; else the gate
 * decides (worker/auth.h). */
static void admit(worker_service *s, grpc_call *call, enum worker_method m)
{
	int64_t start_us = svc__turn_us(s);

	if (s->draining) {
		svc__reply_error(s, call, m, start_us, GRPC_UNAVAILABLE, "the worker is shutting down");
		return;
	}
	/* Malformed requests are refused before any review: a name that is not one never reaches the API server. */
	if (check_request(s, call, m, start_us) < 0)
		return;
	if (s->opts.auth == NULL) {
		dispatch(s, call, m, start_us);
		return;
	}
	worker_auth_check(s->opts.auth, call, svc__method_verb(m), svc__request_name(call, m), on_admitted, &s->admit[m]);
}

static void on_create(grpc_call *call, void *arg) { admit(arg, call, WM_CREATE); }
static void on_delete(grpc_call *call, void *arg) { admit(arg, call, WM_DELETE); }
static void on_get(grpc_call *call, void *arg) { admit(arg, call, WM_GET); }
static void on_list(grpc_call *call, void *arg) { admit(arg, call, WM_LIST); }
static void on_watch(grpc_call *call, void *arg) { admit(arg, call, WM_WATCH); }
static void on_update(grpc_call *call, void *arg) { admit(arg, call, WM_UPDATE); }

static int register_methods(worker_service *s)
{
	static const struct {
		const char *path;
		const ProtobufCMessageDescriptor *req;
		grpc_handler fn;
	} methods[] = {
		{ CPLANE_PATH_CREATE, &cplane__v1__create_cluster_request__descriptor, on_create },
		{ CPLANE_PATH_DELETE, &cplane__v1__delete_cluster_request__descriptor, on_delete },
		{ CPLANE_PATH_GET, &cplane__v1__get_cluster_request__descriptor, on_get },
		{ CPLANE_PATH_LIST, &cplane__v1__list_clusters_request__descriptor, on_list },
		{ CPLANE_PATH_WATCH, &cplane__v1__watch_cluster_request__descriptor, on_watch },
		{ CPLANE_PATH_UPDATE, &cplane__v1__update_cluster_request__descriptor, on_update },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (grpc_server_add_method(s->server, methods[i].path, methods[i].req, methods[i].fn, s) < 0)
			return -1;
	return 0;
}

/* ------------------------------------------------ lifecycle, first sync */

worker_service *worker_service_new(io_loop *loop, grpc_server *server, const struct worker_backend *backend,
    const struct worker_service_opts *opts)
{
	worker_service *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->server = server;
	s->backend = *backend;
	s->opts = *opts;
	for (int m = 0; m < WM_COUNT; m++)
		s->admit[m] = (struct admit_slot){ s, (enum worker_method)m };
	s->table = cluster_table_new();
	if (register_methods(s) < 0)
		goto fail;
	return s;
fail:
	cluster_table_free(s->table);
	free(s);
	return NULL;
}

void worker_service_on_synced(worker_service *s)
{
	int first = !s->synced;

	s->synced = 1;
	if (first)
		log_info("Synced with the Kubernetes API server", "clusters",
		    log_i64((char[24]){ 0 }, (int64_t)cluster_table_count(s->table)), NULL);
	while (s->presync) {
		struct waiter *w = s->presync;
		grpc_call *call = w->call;
		enum worker_method m = w->method;
		int64_t start_us = w->start_us;
		char *user = w->user;	/* admitted before it waited: the handler still knows who asked */
		w->user = NULL;
		svc__waiter_free(s, w);
		s->caller = user;
		dispatch(s, call, m, start_us);
		s->caller = NULL;
		free(user);
	}
}
