/*
 * Implementation notes.
 *
 * Every call that cannot be answered at once becomes a waiter on its
 * cluster's list (c->user).  Whenever anything about a cluster changes (an
 * informer event, an API answer, a Delete accepted), svc__cluster_changed()
 * re-derives the phase and walks that list once: Creates finish on READY,
 * FAILED, DELETING or disappearance; Deletes finish when the Deployment is
 * gone; Watches send a new snapshot when what the client sees differs.
 *
 * Calls are never referenced by pointer from asynchronous work (API
 * requests, diagnoses): those carry the cluster's name and a waiter id and
 * look both up again when they complete, so a call cancelled meanwhile
 * (RST_STREAM, deadline, shutdown) is simply not found.
 *
 * An entry leaves the table when its Deployment is gone, no Create is in
 * flight and nobody waits on it.  That check runs at the end of the loop
 * turn (a deferred sweep), never in the middle of one: finishing a call can
 * empty a cluster while a caller up the stack is still walking it.
 *
 * Calls run one way: service_calls.c and service_update.c (handlers, API
 * completions, method registration, the first sync releasing held calls)
 * call into this file (waiters, replies, state, the informer feed); nothing
 * here calls back into them, and they do not call each other but for
 * dispatch() reaching svc__handle_update.
 * Time is the loop's clock (io_loop_clock_us, or io_loop_now_us for a
 * call's start), never read directly, so tests drive the service with an
 * injected one.
 */
#include "worker/service.h"
#include "worker/service_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "cplane/v1/cplane.pb-c.h"
#include "k8s/podspec.h"
#include "worker/cluster_pb.h"
#include "worker/spec_proto.h"

const char *const worker_method_names[WM_COUNT] = {
	"CreateCluster", "DeleteCluster", "GetCluster", "ListClusters", "WatchCluster", "UpdateCluster",
};
const double worker_latency_bounds[WORKER_LATENCY_BUCKETS] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300 };

/* ------------------------------------------------------------ utilities */

/* FNV-1a of a, a 0xff byte (in no UTF-8 text, so "ab"+"c" differs from "a"+"bc"), b. */
static uint32_t hash_text(const char *a, const char *b)
{
	static const uint8_t sep = 0xff;
	uint32_t h = base_fnv1a(BASE_FNV1A_INIT, a, strlen(a));

	return base_fnv1a(base_fnv1a(h, &sep, 1), b, strlen(b));
}

int32_t svc__cluster_replicas(const struct cluster *c)
{
	return c->obs.present ? c->obs.spec_replicas : c->want_replicas;
}

const char *svc__cluster_image(const struct cluster *c)
{
	/* The Deployment's image while it exists, and as last seen once it is gone (a
	 * watcher's final DELETED snapshot); before it exists, what our Create asked. */
	if (c->image)
		return c->image;
	return c->want_image ? c->want_image : "";
}

static char *put_i32(char *p, int32_t v)
{
	uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
	char d[10];
	int n = 0;

	if (v < 0)
		*p++ = '-';
	do {
		d[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*p++ = d[--n];
	return p;
}

/* snprintf(out, outsz, "%d/%d replicas available", a, b) without printf: it is
 * the message of every Get and List entry of a settled cluster. */
static void replicas_available(char *out, size_t outsz, int32_t a, int32_t b)
{
	static const char tail[] = " replicas available";
	char tmp[48], *p = put_i32(tmp, a);
	size_t n;

	if (outsz == 0)
		return;
	*p++ = '/';
	p = put_i32(p, b);
	memcpy(p, tail, sizeof(tail) - 1);
	n = (size_t)(p - tmp) + sizeof(tail) - 1;
	if (n > outsz - 1)
		n = outsz - 1;
	memcpy(out, tmp, n);
	out[n] = '\0';
}

static void cluster_message(const struct cluster *c, enum cluster_phase phase, char *out, size_t outsz)
{
	switch (phase) {
	case PHASE_FAILED:
		snprintf(out, outsz, "%d/%d replicas available; %s", c->obs.available_replicas,
		    c->obs.spec_replicas, c->failure ? c->failure : "progress deadline exceeded");
		break;
	case PHASE_DELETING:
		snprintf(out, outsz, "deleting; %d/%d replicas available", c->obs.available_replicas,
		    svc__cluster_replicas(c));
		break;
	case PHASE_UPDATING:
		snprintf(out, outsz, "%d/%d updated, %d/%d available", c->obs.updated_replicas, c->obs.spec_replicas,
		    c->obs.available_replicas, c->obs.spec_replicas);
		break;
	case PHASE_CREATING:
		if (!c->obs.present) {
			snprintf(out, outsz, "creating the Deployment");
			break;
		}
		if (c->obs.service_pending && c->obs.available_replicas == c->obs.spec_replicas) {
			snprintf(out, outsz, "%d/%d replicas available; creating the Service", c->obs.available_replicas,
			    c->obs.spec_replicas);
			break;
		}
		/* fall through */
	case PHASE_READY:
		replicas_available(out, outsz, c->obs.available_replicas, c->obs.spec_replicas);
		break;
	default:
		out[0] = '\0';
	}
}

/* Fills m (strings point into c or msgbuf) as the client sees the cluster in phase. */
static int spec_is_empty(const k8s_podspec *p)
{
	return !(p->cpu_request || p->memory_request || p->cpu_limit || p->memory_limit || p->n_env ||
	    p->n_command || p->n_args || p->n_ports || p->n_labels || p->n_annotations || p->service);
}

Cplane__V1__Cluster *svc__cluster_to_msg(const struct cluster *c, enum cluster_phase phase, Cplane__V1__Cluster *m,
    char *msgbuf, size_t msgsz)
{
	Cplane__V1__Cluster *spec = spec_blob_unpack(c->spec_blob, c->spec_len);

	cplane__v1__cluster__init(m);
	spec_blob_lend(m, spec);
	m->updated_replicas = c->obs.present ? c->obs.updated_replicas : 0;
	if (c->service_dns)
		m->service_dns = c->service_dns;
	m->name = (char *)c->name;
	m->replicas = svc__cluster_replicas(c);
	m->ready_replicas = c->obs.present ? c->obs.available_replicas : 0;
	m->phase = (Cplane__V1__Phase)phase;
	cluster_message(c, phase, msgbuf, msgsz);
	m->message = msgbuf;
	m->image = (char *)svc__cluster_image(c);
	m->created_unix_ms = c->obs.created_unix_ms;
	return spec;
}

int svc__cluster_set_spec(worker_service *s, struct cluster *c, const k8s_podspec *pod, const char *hash, int service)
{
	static const k8s_podspec empty;
	uint8_t *blob;
	size_t len;
	char dns[CLUSTER_NAME_MAX + 80];

	spec_blob_pack(pod ? pod : &empty, &blob, &len);
	if (len > UINT32_MAX) {
		free(blob);
		return -1;
	}
	free(c->spec_blob);
	c->spec_blob = blob;
	c->spec_len = (uint32_t)len;
	snprintf(c->spec_hash, sizeof(c->spec_hash), "%s", hash);
	if (!service) {
		cluster_set_text(&c->service_dns, NULL);
		return 0;
	}
	snprintf(dns, sizeof(dns), "%s.%s.svc", c->name, s->backend.namespace_ ? s->backend.namespace_ : "default");
	cluster_set_text(&c->service_dns, dns);
	return 0;
}

static struct snapshot snapshot_of(const struct cluster *c, enum cluster_phase phase)
{
	struct snapshot sn;
	char msg[CLUSTER_MESSAGE_MAX];

	cluster_message(c, phase, msg, sizeof(msg));
	sn.phase = phase;
	sn.replicas = svc__cluster_replicas(c);
	sn.ready = c->obs.present ? c->obs.available_replicas : 0;
	sn.text_hash = hash_text(msg, svc__cluster_image(c));
	return sn;
}

/* Adds the latencies of the calls answered so far this turn, ended at now_us, to st. */
static void add_latencies(const worker_service *s, worker_service_stats *st, int64_t now_us)
{
	for (size_t i = 0; i < s->nanswered; i++) {
		int m = s->answered[i].m;
		double secs = (double)(now_us - s->answered[i].start_us) / 1e6;
		size_t b;

		for (b = 0; b < WORKER_LATENCY_BUCKETS && secs > worker_latency_bounds[b]; b++)
			;
		st->latency_buckets[m][b]++;
		st->latency_sum_s[m] += secs;
	}
}

static void count_answered(io_loop *loop, void *arg)
{
	worker_service *s = arg;

	(void)loop;
	s->answered_deferred = 0;
	add_latencies(s, &s->stats, svc__now_us(s));
	s->nanswered = 0;
}

/*
 * A call ends: counted by code at once; its latency (from the turn that read
 * it to the end of the turn that answered it, when its answer is written)
 * when the turn ends, one clock read for all of the turn's calls.
 */
void svc__count_call(worker_service *s, enum worker_method m, int code, int64_t start_us)
{
	if (code < 0 || code > GRPC_STATUS_MAX)
		code = GRPC_UNKNOWN;
	s->stats.calls[m][code]++;
	if (s->nanswered == sizeof(s->answered) / sizeof(s->answered[0]))
		count_answered(s->loop, s);	/* a turn of many: the first ones end here */
	s->answered[s->nanswered].start_us = start_us;
	s->answered[s->nanswered].m = (int)m;
	s->nanswered++;
	if (!s->answered_deferred && io_loop_defer(s->loop, count_answered, s) == 0)
		s->answered_deferred = 1;
}

/* --------------------------------------------------------------- waiters */

struct waiter *svc__waiter_new(worker_service *s, grpc_call *call, enum waiter_kind kind, enum worker_method m,
    int64_t start_us)
{
	struct waiter *w = xcalloc(1, sizeof(*w));

	w->svc = s;
	w->call = call;
	w->kind = kind;
	w->method = m;
	w->id = ++s->next_id;
	w->start_us = start_us;
	w->sent.phase = -1;
	if (s->caller && kind != W_WATCH)
		w->user = xstrdup(s->caller);
	grpc_call_set_user(call, w);
	s->stats.waiting_calls++;
	return w;
}

static struct waiter **list_head(worker_service *s, struct waiter *w)
{
	return w->c ? (struct waiter **)&w->c->user : &s->presync;
}

void svc__waiter_link(worker_service *s, struct waiter *w)
{
	struct waiter **head = list_head(s, w);

	w->prev = NULL;
	w->next = *head;
	if (*head)
		(*head)->prev = w;
	*head = w;
}

static int forgettable(const struct cluster *c)
{
	return !c->obs.present && !c->creating && c->user == NULL;
}

static void sweep_now(io_loop *loop, void *arg)
{
	worker_service *s = arg;

	(void)loop;
	for (size_t i = 0; i < s->nsweep; i++) {
		struct cluster *c = s->sweep[i];
		c->sweep_queued = 0;
		if (forgettable(c))
			cluster_table_remove(s->table, c);
	}
	s->nsweep = 0;
	s->sweep_scheduled = 0;
}

/* Queues c for removal at the end of the turn if nothing holds it then. */
void svc__maybe_forget(worker_service *s, struct cluster *c)
{
	if (c == NULL || c->sweep_queued || !forgettable(c))
		return;
	if (s->nsweep == s->sweep_cap) {
		size_t cap = s->sweep_cap ? s->sweep_cap * 2 : 16;
		s->sweep = xrealloc(s->sweep, cap * sizeof(*s->sweep));
		s->sweep_cap = cap;
	}
	s->sweep[s->nsweep++] = c;
	c->sweep_queued = 1;
	if (!s->sweep_scheduled && io_loop_defer(s->loop, sweep_now, s) == 0)
		s->sweep_scheduled = 1;
}

/* Unlinks and frees w; the call must already be finished (or be finished by the caller next). */
void svc__waiter_free(worker_service *s, struct waiter *w)
{
	struct waiter **head = list_head(s, w);

	if (w->prev)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	io_timer_stop(s->loop, &w->timer);
	grpc_call_set_cancel_hook(w->call, NULL, NULL);
	grpc_call_set_on_writable(w->call, NULL, NULL);
	grpc_call_set_user(w->call, NULL);
	s->stats.waiting_calls--;
	free(w->want_image);
	free(w->want_blob);
	free(w->user);
	free(w);
}

void svc__waiter_finish(struct waiter *w, int code, const char *message)
{
	worker_service *s = w->svc;
	struct cluster *c = w->c;
	grpc_call *call = w->call;

	svc__count_call(s, w->method, code, w->start_us);
	svc__audit(s, call, w->method, w->user, code);
	svc__waiter_free(s, w);
	grpc_call_finish(call, code, message);
	svc__maybe_forget(s, c);
}

void svc__waiter_reply(struct waiter *w, const ProtobufCMessage *msg)
{
	worker_service *s = w->svc;
	struct cluster *c = w->c;
	grpc_call *call = w->call;

	svc__count_call(s, w->method, GRPC_OK, w->start_us);
	svc__audit(s, call, w->method, w->user, GRPC_OK);
	svc__waiter_free(s, w);
	grpc_call_reply(call, msg);
	svc__maybe_forget(s, c);
}

struct waiter *svc__find_waiter(worker_service *s, const char *name, uint64_t id)
{
	struct cluster *c = cluster_table_find(s->table, name);

	if (c == NULL)
		return NULL;
	for (struct waiter *w = c->user; w; w = w->next)
		if (w->id == id)
			return w;
	return NULL;
}

/* The stream is gone (client reset, deadline, connection loss, shutdown): release what we hold. */
void svc__on_call_cancelled(grpc_call *call, void *arg)
{
	struct waiter *w = arg;
	worker_service *s = w->svc;
	struct cluster *c = w->c;
	int code = grpc_call_cancel_status(call);

	svc__count_call(s, w->method, code ? code : GRPC_CANCELLED, w->start_us);
	svc__audit(s, call, w->method, w->user, code ? code : GRPC_CANCELLED);
	if (c && (w->kind == W_CREATE || w->kind == W_DELETE || w->kind == W_UPDATE))
		log_info(w->kind == W_CREATE ? "Create call ended before the cluster was ready" :
		    w->kind == W_UPDATE ? "Update call ended before the cluster was rolled out" :
		    "Delete call ended before the cluster was gone", "name", c->name, "reason",
		    grpc_status_name(code ? code : GRPC_CANCELLED), NULL);
	svc__waiter_free(s, w);
	grpc_call_finish(call, code ? code : GRPC_CANCELLED, NULL);
	svc__maybe_forget(s, c);
}

/*
 * When our answer must leave: the wait's own bound, or a margin before the
 * client's deadline (the smaller of 10% of its timeout and 1 s) so the
 * client hears why rather than timing out blind.
 */
int64_t svc__answer_by(worker_service *s, grpc_call *call, int64_t own_timeout_ms, int64_t *timeout_ms)
{
	int64_t now = io_loop_now(s->loop), at = now + own_timeout_ms, dl = grpc_call_deadline(call);

	*timeout_ms = own_timeout_ms;
	if (dl >= 0) {
		int64_t total = dl - now, margin = total / 10;
		if (margin > 1000)
			margin = 1000;
		if (dl - margin < at) {
			at = dl - margin;
			*timeout_ms = total;
		}
	}
	return at;
}

void svc__event(worker_service *s, const struct cluster *c, const char *uid, int warning, const char *reason,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (s->backend.event == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->backend.event(s->backend.event_impl, c->name, uid, warning, reason, msg);
}

/* ------------------------- replies, waits and audit lines (for the handler files) */

int svc__map_api_error(const k8s_error *err, const char *verb, const char *ns, char *msg, size_t msgsz)
{
	if (err->kind == K8S_ERR_API) {
		switch (err->code) {
		case 403:
			snprintf(msg, msgsz, "the worker's service account may not %s deployments.apps in namespace "
			    "%s: %s", verb, ns ? ns : "?", err->message);
			return GRPC_PERMISSION_DENIED;
		case 401:
			snprintf(msg, msgsz, "the API server refused the worker's token: %s", err->message);
			return GRPC_UNAVAILABLE;
		case 404:
			snprintf(msg, msgsz, "%s", err->message);
			return GRPC_NOT_FOUND;
		case 409:
			snprintf(msg, msgsz, "%s", err->message);
			return GRPC_ALREADY_EXISTS;
		case 400:
		case 422:
			snprintf(msg, msgsz, "the API server rejected the Deployment: %s", err->message);
			return GRPC_INVALID_ARGUMENT;
		default:
			snprintf(msg, msgsz, "Kubernetes API server error %d %s: %s", err->code, err->reason,
			    err->message);
			return GRPC_UNAVAILABLE;
		}
	}
	snprintf(msg, msgsz, "Kubernetes API server unavailable (%s): %s", k8s_err_kind_str(err->kind),
	    err->message);
	return GRPC_UNAVAILABLE;
}

void svc__reply_error(worker_service *s, grpc_call *call, enum worker_method m, int64_t start_us, int code,
    const char *msg)
{
	svc__count_call(s, m, code, start_us);
	svc__audit(s, call, m, s->caller, code);
	grpc_call_finish(call, code, msg);
}

void svc__reply_msg(worker_service *s, grpc_call *call, enum worker_method m, int64_t start_us,
    const ProtobufCMessage *msg)
{
	uint8_t fast[1536];	/* a Cluster without spec fields: ~1.1 KB at most */
	size_t n;

	svc__count_call(s, m, GRPC_OK, start_us);
	svc__audit(s, call, m, s->caller, GRPC_OK);
	if (msg->descriptor == &cplane__v1__cluster__descriptor &&
	    (n = cluster_pb_encode((const Cplane__V1__Cluster *)(const void *)msg, fast, sizeof(fast))) > 0)
		grpc_call_reply_bytes(call, fast, n);
	else
		grpc_call_reply(call, msg);
}

struct waiter *svc__wait_on(worker_service *s, grpc_call *call, struct cluster *c, enum waiter_kind kind,
    enum worker_method m, int64_t start_us, int64_t own_timeout_ms)
{
	struct waiter *w = svc__waiter_new(s, call, kind, m, start_us);
	int64_t at;

	w->c = c;
	svc__waiter_link(s, w);
	io_timer_init(&w->timer, kind == W_SYNC ? svc__on_sync_timeout : svc__on_wait_timeout, w);
	if (own_timeout_ms > 0) {
		/* The budget counts from the call's arrival: time held for the first sync is spent. */
		int64_t spent_ms = (svc__now_us(s) - start_us) / 1000;
		if (spent_ms > 0)
			own_timeout_ms = own_timeout_ms - spent_ms > 1 ? own_timeout_ms - spent_ms : 1;
		at = svc__answer_by(s, call, own_timeout_ms, &w->timeout_ms);
		io_timer_start_at(s->loop, &w->timer, at);
	}
	grpc_call_set_cancel_hook(call, svc__on_call_cancelled, w);
	return w;
}

/* The cluster a request names, for the methods that name one. */
const char *svc__request_name(grpc_call *call, enum worker_method m)
{
	const ProtobufCMessage *msg = grpc_call_request_msg(call);

	switch (m) {
	case WM_CREATE: return ((const Cplane__V1__CreateClusterRequest *)(const void *)msg)->name;
	case WM_DELETE: return ((const Cplane__V1__DeleteClusterRequest *)(const void *)msg)->name;
	case WM_GET: return ((const Cplane__V1__GetClusterRequest *)(const void *)msg)->name;
	case WM_WATCH: return ((const Cplane__V1__WatchClusterRequest *)(const void *)msg)->name;
	case WM_UPDATE: return ((const Cplane__V1__UpdateClusterRequest *)(const void *)msg)->name;
	default: return NULL;
	}
}

/* Per method: the verb a SubjectAccessReview asks about, and whether the call gets an audit line. */
static const struct {
	const char *verb;
	int audited;
} method_auth[WM_COUNT] = {
	[WM_CREATE] = { "create", 1 },
	[WM_DELETE] = { "delete", 1 },
	[WM_GET] = { "get", 0 },
	[WM_LIST] = { "list", 0 },
	[WM_WATCH] = { "watch", 0 },
	[WM_UPDATE] = { "update", 1 },
};

void svc__audit(worker_service *s, grpc_call *call, enum worker_method m, const char *user, int code)
{
	const char *name;

	(void)s;
	if ((unsigned)m >= WM_COUNT || !method_auth[m].audited)
		return;
	name = svc__request_name(call, m);
	log_info("audit", "user", user && user[0] ? user : "-", "verb", method_auth[m].verb, "cluster",
	    name ? name : "", "code", grpc_status_name(code) ? grpc_status_name(code) : "UNKNOWN", NULL);
}

const char *svc__method_verb(enum worker_method m)
{
	return (unsigned)m < WM_COUNT ? method_auth[m].verb : NULL;
}

/* ------------------------------------------------------------- diagnosis */

static void finish_with_diagnosis(struct waiter *w, const char *diag)
{
	struct cluster *c = w->c;
	char msg[1024], took[32], ev[1024];
	enum cluster_phase phase = cluster_derive_phase(&c->obs, c->creating, c->deleting);

	if (w->kind == W_CREATE) {
		if (phase == PHASE_FAILED)
			snprintf(msg, sizeof(msg), "cluster %s failed: %s; %d/%d available%s%s", c->name,
			    c->failure ? c->failure : "progress deadline exceeded",
			    c->obs.available_replicas, c->obs.spec_replicas, diag[0] ? "; " : "", diag);
		else
			snprintf(msg, sizeof(msg), "cluster %s not ready after %s: %s", c->name,
			    log_duration_ms(took, w->timeout_ms), diag[0] ? diag : "no pods observed");
		/* The Event leaves out how long this caller waited, so repeats are one Event. */
		if (phase != PHASE_FAILED)
			snprintf(ev, sizeof(ev), "cluster %s not ready: %s", c->name, diag[0] ? diag : "no pods observed");
		log_warn(phase == PHASE_FAILED ? "Create failed" : "Create timed out", "name", c->name,
		    "diagnosis", msg, NULL);
	} else if (w->kind == W_UPDATE) {
		if (phase == PHASE_FAILED)
			snprintf(msg, sizeof(msg), "cluster %s update failed: %s; %d/%d updated, %d/%d available%s%s",
			    c->name, c->failure ? c->failure : "progress deadline exceeded", c->obs.updated_replicas,
			    c->obs.spec_replicas, c->obs.available_replicas, c->obs.spec_replicas, diag[0] ? "; " : "",
			    diag);
		else
			snprintf(msg, sizeof(msg), "cluster %s not rolled out after %s: %d/%d updated; %s", c->name,
			    log_duration_ms(took, w->timeout_ms), c->obs.updated_replicas, c->obs.spec_replicas,
			    diag[0] ? diag : "no pods observed");
		if (phase != PHASE_FAILED)
			snprintf(ev, sizeof(ev), "cluster %s not rolled out: %d/%d updated; %s", c->name,
			    c->obs.updated_replicas, c->obs.spec_replicas, diag[0] ? diag : "no pods observed");
		log_warn(phase == PHASE_FAILED ? "Update failed" : "Update timed out", "name", c->name,
		    "diagnosis", msg, NULL);
	} else {
		snprintf(msg, sizeof(msg), "cluster %s not gone after %s: %s", c->name,
		    log_duration_ms(took, w->timeout_ms), diag[0] ? diag : "the Deployment is still terminating");
		snprintf(ev, sizeof(ev), "cluster %s not gone: %s", c->name,
		    diag[0] ? diag : "the Deployment is still terminating");
		log_warn("Delete timed out", "name", c->name, "diagnosis", msg, NULL);
	}
	svc__event(w->svc, c, NULL, 1, "Failed", "%s", phase == PHASE_FAILED && w->kind != W_DELETE ? msg : ev);
	svc__waiter_finish(w, GRPC_DEADLINE_EXCEEDED, msg);
}

struct pending_op *svc__op_new(worker_service *s, const char *name)
{
	struct pending_op *op = xcalloc(1, sizeof(*op));

	op->svc = s;
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->start_us = svc__now_us(s);
	op->next = s->ops;
	if (s->ops)
		s->ops->prev = op;
	s->ops = op;
	return op;
}

void svc__op_free(struct pending_op *op)
{
	if (op == NULL)
		return;
	if (op->prev)
		op->prev->next = op->next;
	else
		op->svc->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	free(op);
}

static void on_diagnosis(void *arg, const k8s_error *err, const char *diagnosis)
{
	struct pending_op *op = arg;
	struct waiter *w = svc__find_waiter(op->svc, op->name, op->waiter_id);
	char text[640];

	if (w && w->diagnosing) {
		if (err->kind != K8S_OK || diagnosis == NULL) {
			snprintf(text, sizeof(text), "the pods could not be listed: %s", err->message);
			finish_with_diagnosis(w, text);
		} else {
			finish_with_diagnosis(w, diagnosis);
		}
	}
	svc__op_free(op);
}

static void start_diagnosis(struct waiter *w)
{
	worker_service *s = w->svc;
	struct pending_op *op;
	int64_t left = 1500, dl = grpc_call_deadline(w->call);

	if (w->diagnosing)
		return;
	w->diagnosing = 1;
	if (dl >= 0) {
		left = dl - io_loop_now(s->loop) - 50;
		if (left > 1500)
			left = 1500;
	}
	if (left < 50 || s->backend.diagnose == NULL) {
		char basic[128];
		snprintf(basic, sizeof(basic), "%d/%d replicas available", w->c->obs.available_replicas,
		    svc__cluster_replicas(w->c));
		finish_with_diagnosis(w, basic);
		return;
	}
	op = svc__op_new(s, w->c->name);
	op->waiter_id = w->id;
	/* Fallback: answer without the pods if the diagnosis does not come back in time. */
	io_timer_start(s->loop, &w->timer, left + 20);
	s->backend.diagnose(s->backend.impl, w->c->name, svc__cluster_replicas(w->c),
	    w->c->obs.present ? w->c->obs.available_replicas : 0, left, on_diagnosis, op);
}

void svc__on_wait_timeout(io_loop *loop, void *arg)
{
	struct waiter *w = arg;
	char basic[128];

	(void)loop;
	if (!w->diagnosing) {
		start_diagnosis(w);
		return;
	}
	snprintf(basic, sizeof(basic), "%d/%d replicas available (the pods could not be read in time)",
	    w->c->obs.available_replicas, svc__cluster_replicas(w->c));
	finish_with_diagnosis(w, basic);
}

/* -------------------------------------------------- reacting to changes */

void svc__already_exists_text(const struct cluster *c, const char *hash, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "cluster %s already exists with replicas=%d image=%s", c->name,
	    svc__cluster_replicas(c), svc__cluster_image(c));

	if (strcmp(c->spec_hash, hash) != 0 && n > 0 && (size_t)n < outsz)
		snprintf(out + n, outsz - (size_t)n, " and another spec (%s %s)", K8S_ANN_SPEC_HASH, c->spec_hash);
}

int svc__spec_matches(const struct cluster *c, int32_t replicas, const char *image, const char *hash)
{
	return svc__cluster_replicas(c) == replicas && strcmp(svc__cluster_image(c), image) == 0 &&
	    strcmp(c->spec_hash, hash) == 0;
}

void svc__watch_send(struct waiter *w, enum cluster_phase phase)
{
	Cplane__V1__Cluster m;
	char msg[CLUSTER_MESSAGE_MAX];

	if (grpc_call_send_queued_bytes(w->call) > WATCH_QUEUE_MAX) {
		w->dirty = 1;	/* a slow reader gets the latest state once it drains */
		return;
	}
	Cplane__V1__Cluster *spec = svc__cluster_to_msg(w->c, phase, &m, msg, sizeof(msg));

	w->sent = snapshot_of(w->c, phase);
	w->dirty = 0;
	grpc_call_send(w->call, &m.base);
	spec_blob_free(spec);
}

void svc__on_watch_writable(grpc_call *call, void *arg)
{
	struct waiter *w = arg;
	enum cluster_phase phase;

	(void)call;
	if (!w->dirty)
		return;
	phase = cluster_derive_phase(&w->c->obs, w->c->creating, w->c->deleting);
	if (phase != PHASE_ABSENT)
		svc__watch_send(w, phase);
}

/* A Delete's Deployment is gone: SUCCESS. */
static void delete_succeeded(struct waiter *w)
{
	Cplane__V1__DeleteClusterResponse dr;
	char took[32];

	log_info("Deleted cluster", "name", w->c->name, "took",
	    log_duration_ms(took, (svc__now_us(w->svc) - w->start_us) / 1000), NULL);
	cplane__v1__delete_cluster_response__init(&dr);
	dr.result = CPLANE__V1__RESULT__SUCCESS;
	svc__waiter_reply(w, &dr.base);
}

static void evaluate_update(struct waiter *w, enum cluster_phase phase);

static void evaluate_waiter(worker_service *s, struct waiter *w, enum cluster_phase phase)
{
	Cplane__V1__Cluster *spec;
	struct cluster *c = w->c;
	Cplane__V1__CreateClusterResponse cr;
	Cplane__V1__Cluster m;
	char msg[CLUSTER_MESSAGE_MAX], text[512], took[32];

	switch (w->kind) {
	case W_CREATE:
		if (w->diagnosing)
			return;
		if (c->obs.present && !c->creating && !svc__spec_matches(c, w->want_replicas, w->want_image, w->want_hash)) {
			svc__already_exists_text(c, w->want_hash, text, sizeof(text));
			svc__waiter_finish(w, GRPC_ALREADY_EXISTS, text);
			return;
		}
		switch (phase) {
		case PHASE_READY:
			log_info("Created cluster", "name", c->name, "replicas",
			    log_i64(text, svc__cluster_replicas(c)), "took",
			    log_duration_ms(took, (svc__now_us(s) - w->start_us) / 1000), NULL);
			svc__event(s, c, NULL, 0, "Ready", "cluster %s ready: %d/%d replicas available", c->name,
			    c->obs.available_replicas, svc__cluster_replicas(c));
			cplane__v1__create_cluster_response__init(&cr);
			cr.result = CPLANE__V1__RESULT__SUCCESS;
			spec = svc__cluster_to_msg(c, phase, &m, msg, sizeof(msg));
			cr.cluster = &m;
			svc__waiter_reply(w, &cr.base);
			spec_blob_free(spec);
			return;
		case PHASE_FAILED:
			start_diagnosis(w);
			return;
		case PHASE_DELETING:
			snprintf(text, sizeof(text), "cluster %s is being deleted", c->name);
			svc__waiter_finish(w, GRPC_ABORTED, text);
			return;
		case PHASE_ABSENT:
		case PHASE_DELETED:
			snprintf(text, sizeof(text), "cluster %s was deleted while being created", c->name);
			svc__waiter_finish(w, GRPC_ABORTED, text);
			return;
		case PHASE_CREATING:
		case PHASE_UPDATING:	/* scaled or updated by someone else meanwhile: wait for the rollout */
		case PHASE_COUNT:
			return;
		}
		return;
	case W_UPDATE:
		evaluate_update(w, phase);
		return;
	case W_DELETE:
		if (phase == PHASE_ABSENT)
			delete_succeeded(w);
		return;
	case W_WATCH:
		if (phase == PHASE_ABSENT) {
			/* Final snapshot: DELETED, then the stream ends OK. */
			spec = svc__cluster_to_msg(c, PHASE_DELETED, &m, msg, sizeof(msg));
			m.ready_replicas = 0;
			grpc_call_send(w->call, &m.base);
			spec_blob_free(spec);
			svc__waiter_finish(w, GRPC_OK, NULL);
			return;
		}
		{
			struct snapshot now = snapshot_of(c, phase);
			if (memcmp(&now, &w->sent, sizeof(now)) != 0)
				svc__watch_send(w, phase);
		}
		return;
	case W_SYNC:
		return;
	}
}

/*
 * An Update waits for its PATCH's answer, then for the informer to show that
 * generation (an older event must not be judged), then for the READY rule.
 * A spec other than its target by then means another update won.
 */
static void evaluate_update(struct waiter *w, enum cluster_phase phase)
{
	struct cluster *c = w->c;
	Cplane__V1__UpdateClusterResponse ur;
	Cplane__V1__Cluster m, *spec;
	char msg[CLUSTER_MESSAGE_MAX], text[512], took[32];

	if (w->diagnosing)
		return;
	switch (phase) {
	case PHASE_DELETING:
		snprintf(text, sizeof(text), "cluster %s is being deleted", c->name);
		svc__waiter_finish(w, GRPC_ABORTED, text);
		return;
	case PHASE_ABSENT:
	case PHASE_DELETED:
		snprintf(text, sizeof(text), "cluster %s was deleted while being updated", c->name);
		svc__waiter_finish(w, GRPC_ABORTED, text);
		return;
	default:
		break;
	}
	if (!w->patched || !c->obs.present || c->obs.generation < w->want_generation)
		return;
	if (!svc__spec_matches(c, w->want_replicas, w->want_image, w->want_hash)) {
		snprintf(text, sizeof(text), "cluster %s: superseded by another update (now replicas=%d image=%s)",
		    c->name, svc__cluster_replicas(c), svc__cluster_image(c));
		svc__waiter_finish(w, GRPC_ABORTED, text);
		return;
	}
	if (phase == PHASE_READY) {
		log_info("Updated cluster", "name", c->name, "replicas", log_i64(text, svc__cluster_replicas(c)),
		    "image", svc__cluster_image(c), "took",
		    log_duration_ms(took, (svc__now_us(w->svc) - w->start_us) / 1000), NULL);
		svc__event(w->svc, c, NULL, 0, "Ready", "cluster %s ready: %d/%d replicas available, image %s", c->name,
		    c->obs.available_replicas, svc__cluster_replicas(c), svc__cluster_image(c));
		cplane__v1__update_cluster_response__init(&ur);
		ur.result = CPLANE__V1__RESULT__SUCCESS;
		spec = svc__cluster_to_msg(c, phase, &m, msg, sizeof(msg));
		ur.cluster = &m;
		svc__waiter_reply(w, &ur.base);
		spec_blob_free(spec);
		return;
	}
	/* FAILED only counts once the controller has seen this generation: before, the
	 * condition may still be an earlier rollout's. */
	if (phase == PHASE_FAILED && c->obs.observed_generation >= w->want_generation)
		start_diagnosis(w);
}

void svc__finish_waiters(struct cluster *c, enum waiter_kind kind, int code, const char *message)
{
	struct waiter *w, *next;

	for (w = c->user; w; w = next) {
		next = w->next;
		if (w->kind != kind)
			continue;
		if (kind == W_DELETE && code == GRPC_OK)
			delete_succeeded(w);
		else
			svc__waiter_finish(w, code, message);
	}
}

void svc__cluster_changed(worker_service *s, struct cluster *c)
{
	enum cluster_phase phase = cluster_derive_phase(&c->obs, c->creating, c->deleting);
	struct waiter *w, *next;
	int diagnosing = 0;

	/* The Deployment turned FAILED: an Event, unless a waiting Create or Update will record its diagnosis. */
	for (w = c->user; w; w = w->next)
		diagnosing |= w->kind == W_CREATE || w->kind == W_UPDATE;
	if (phase == PHASE_FAILED && c->phase != PHASE_FAILED && !diagnosing)
		svc__event(s, c, NULL, 1, "Failed", "cluster %s failed: %s; %d/%d available", c->name,
		    c->failure ? c->failure : "progress deadline exceeded", c->obs.available_replicas,
		    c->obs.spec_replicas);
	c->phase = phase;
	for (w = c->user; w; w = next) {
		next = w->next;
		evaluate_waiter(s, w, phase);
	}
	svc__maybe_forget(s, c);
}

/* ------------------------------------------------------- informer feed */

static void observe(struct cluster_observed *o, const k8s_deployment *d)
{
	o->present = 1;
	o->generation = d->generation;
	o->observed_generation = d->observed_generation;
	o->spec_replicas = d->replicas;
	o->ready_replicas = d->ready_replicas;
	o->available_replicas = d->available_replicas;
	o->updated_replicas = d->updated_replicas;
	o->available_true = d->available.status == K8S_COND_TRUE;
	o->progress_deadline_exceeded = k8s_deployment_failed(d);
	o->deleting = d->deleting;
	o->created_unix_ms = d->created_unix_ms;
}

/* Every Deployment without a spec (nor the annotation) hashes the same: a
 * SHA-256 once per process, not once per Deployment listed. */
static void empty_spec_hash(char out[K8S_SPEC_HASH_LEN + 1])
{
	static const k8s_podspec empty;
	static char h[K8S_SPEC_HASH_LEN + 1];

	if (h[0] == '\0')
		k8s_podspec_hash(&empty, h);
	memcpy(out, h, sizeof(h));
}

void worker_service_on_upsert(worker_service *s, const k8s_deployment *d)
{
	struct cluster *c;

	if (!d->managed || strlen(d->name) > CLUSTER_NAME_MAX)
		return;
	c = cluster_table_get_or_add(s->table, d->name);
	if (c == NULL)
		return;
	observe(&c->obs, d);
	/* Strings change rarely; cluster_set_text() allocates only when they do. */
	cluster_set_text(&c->image, d->image);
	cluster_set_text(&c->failure, c->obs.progress_deadline_exceeded ? d->progressing.message : NULL);
	/* The spec is read back only when its hash moves (not on every status event).  A
	 * Deployment without the annotation (an older cplane's) is hashed as decoded. */
	{
		static const k8s_podspec empty;
		char hash[K8S_SPEC_HASH_LEN + 1];
		k8s_podspec pod = d->pod ? *d->pod : empty;

		pod.service = d->service;
		if (d->spec_hash[0])
			snprintf(hash, sizeof(hash), "%s", d->spec_hash);
		else if (spec_is_empty(&pod))
			empty_spec_hash(hash);
		else
			k8s_podspec_hash(&pod, hash);
		if (strcmp(hash, c->spec_hash) != 0 || (c->spec_blob == NULL && !spec_is_empty(&pod)))
			svc__cluster_set_spec(s, c, &pod, hash, d->service);
	}
	cluster_set_text(&c->want_image, NULL);
	c->creating = 0;	/* the Deployment is there: the POST's outcome no longer matters */
	if (!d->deleting && c->deleting && c->phase != PHASE_DELETING)
		c->deleting = 0;
	svc__cluster_changed(s, c);
}

void worker_service_on_delete(worker_service *s, const char *name)
{
	struct cluster *c = cluster_table_find(s->table, name);

	if (c == NULL)
		return;
	memset(&c->obs, 0, sizeof(c->obs));
	cluster_set_text(&c->failure, NULL);
	/* A Create whose POST is still in flight keeps the entry CREATING (or DELETING, when a
	 * Delete accepted meanwhile waits for that POST's answer to send its DELETE). */
	if (!c->delete_after_post)
		c->deleting = 0;
	svc__cluster_changed(s, c);
}

struct listed {
	worker_service *s;
	int64_t started_us;
};

static void forget_unlisted(struct cluster *c, void *arg)
{
	struct listed *l = arg;

	if (c->deleting && c->deleted_us != 0 && c->deleted_us < l->started_us && c->obs.present &&
	    !c->obs.deleting) {
		/* Listed after our DELETE took effect, yet without deletionTimestamp (which a
		 * Deployment keeps until it is gone): another one took the name, so the one we
		 * deleted is gone, even if the informer never saw it. */
		log_info("Deployment replaced after our Delete", "name", c->name, NULL);
		c->deleting = 0;
		svc__finish_waiters(c, W_DELETE, GRPC_OK, NULL);
		svc__cluster_changed(l->s, c);
		return;
	}
	if (!c->creating || c->obs.present || c->posted_us == 0 || c->posted_us >= l->started_us)
		return;
	log_info("Deployment deleted before it was seen", "name", c->name, NULL);
	c->creating = 0;
	c->deleting = 0;
	svc__cluster_changed(l->s, c);	/* waiting Creates end ABORTED, Deletes SUCCESS; dropped at the turn's end */
}

void worker_service_on_listed(worker_service *s, int64_t started_us)
{
	struct listed l = { s, started_us };

	cluster_table_foreach(s->table, forget_unlisted, &l);
}

void svc__on_sync_timeout(io_loop *loop, void *arg)
{
	struct waiter *w = arg;

	(void)loop;
	svc__waiter_finish(w, GRPC_UNAVAILABLE, "not yet synced with the Kubernetes API server; retry later");
}

int worker_service_synced(const worker_service *s)
{
	return s->synced;
}

void worker_service_drain(worker_service *s)
{
	s->draining = 1;
}

/* ------------------------------------------------------------- lifecycle */

/* worker_service_new() is on the handler side: it registers the methods. */

/* Ends every call on a waiter list without counting it: the process is stopping. */
static void drop_list(worker_service *s, struct waiter **head)
{
	while (*head) {
		struct waiter *w = *head;
		grpc_call *call = w->call;
		svc__waiter_free(s, w);
		grpc_call_finish(call, GRPC_UNAVAILABLE, "the worker is shutting down");
	}
}

static void drop_waiters(struct cluster *c, void *arg)
{
	drop_list(arg, (struct waiter **)&c->user);
}

void worker_service_free(worker_service *s)
{
	if (s == NULL)
		return;
	if (s->sweep_scheduled)
		io_loop_cancel_defer(s->loop, sweep_now, s);
	if (s->answered_deferred)
		io_loop_cancel_defer(s->loop, count_answered, s);
	free(s->sweep);
	/* Requests still in flight never complete now (the backend cancels them). */
	while (s->ops)
		svc__op_free(s->ops);
	cluster_table_foreach(s->table, drop_waiters, s);
	drop_list(s, &s->presync);
	cluster_table_free(s->table);
	free(s);
}

void worker_service_get_stats(const worker_service *s, worker_service_stats *out)
{
	*out = s->stats;
	add_latencies(s, out, svc__now_us(s));	/* this turn's, as if it ended now */
}

const cluster_table *worker_service_table(const worker_service *s)
{
	return s->table;
}

static void count_phase(struct cluster *c, void *arg)
{
	uint64_t *counts = arg;
	enum cluster_phase p = cluster_derive_phase(&c->obs, c->creating, c->deleting);

	if ((unsigned)p < PHASE_COUNT)
		counts[p]++;
}

void worker_service_phase_counts(const worker_service *s, uint64_t counts[PHASE_COUNT])
{
	memset(counts, 0, PHASE_COUNT * sizeof(counts[0]));
	cluster_table_foreach(s->table, count_phase, counts);
}
