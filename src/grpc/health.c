/*
 * Statuses live in a small array (a handful of services); watchers in a
 * list, each holding its call until the client goes away or the server
 * ends it.  Messages are tiny and only sent on change, so a slow watcher
 * needs no back-pressure beyond h2's per-stream queue.
 */
#include "grpc/health.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

struct service_status {
	char *name;
	int status;
};

struct watcher {
	grpc_call *call;
	char *service;
	int last;		/* status last sent */
	struct watcher *next;
};

typedef struct health {
	struct service_status *svc;
	size_t nsvc;
	struct watcher *watchers;
} health;

static struct service_status *find(const health *h, const char *name)
{
	for (size_t i = 0; i < h->nsvc; i++)
		if (strcmp(h->svc[i].name, name) == 0)
			return &h->svc[i];
	return NULL;
}

static int status_of(const health *h, const char *name)
{
	const struct service_status *st = find(h, name);

	return st ? st->status : GRPC_HEALTH_SERVICE_UNKNOWN;
}

static int send_status(grpc_call *c, int status)
{
	Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	r.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	return grpc_call_send(c, &r.base);
}

static void check(grpc_call *c, void *arg)
{
	health *h = arg;
	const Grpc__Health__V1__HealthCheckRequest *req =
	    (const Grpc__Health__V1__HealthCheckRequest *)grpc_call_request_msg(c);
	const struct service_status *st = find(h, req->service ? req->service : "");
	Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	if (st == NULL) {
		grpc_call_finishf(c, GRPC_NOT_FOUND, "unknown service \"%s\"", req->service);
		return;
	}
	r.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st->status;
	grpc_call_reply(c, &r.base);
}

static void watcher_unlink(health *h, struct watcher *w)
{
	for (struct watcher **pp = &h->watchers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w->service);
	free(w);
}

static void watch_cancelled(grpc_call *c, void *arg)
{
	health *h = grpc_server_ext(grpc_call_server(c));

	watcher_unlink(h, arg);
	grpc_call_finish(c, GRPC_CANCELLED, NULL);
}

static void watch(grpc_call *c, void *arg)
{
	health *h = arg;
	const Grpc__Health__V1__HealthCheckRequest *req =
	    (const Grpc__Health__V1__HealthCheckRequest *)grpc_call_request_msg(c);
	const char *svc = req->service ? req->service : "";
	struct watcher *w = xcalloc(1, sizeof(*w));

	w->service = xstrdup(svc);	/* bounded by the request's size limit */
	w->call = c;
	w->last = status_of(h, svc);
	w->next = h->watchers;
	h->watchers = w;
	grpc_call_set_cancel_hook(c, watch_cancelled, w);
	send_status(c, w->last);
}

static void notify(health *h, const char *service, int status)
{
	for (struct watcher *w = h->watchers; w; w = w->next) {
		if (w->last != status && strcmp(w->service, service) == 0) {
			w->last = status;
			send_status(w->call, status);
		}
	}
}

static void health_free(void *ext)
{
	health *h = ext;

	while (h->watchers)
		watcher_unlink(h, h->watchers);
	for (size_t i = 0; i < h->nsvc; i++)
		free(h->svc[i].name);
	free(h->svc);
	free(h);
}

static void on_shutdown(grpc_server *s, void *ext)
{
	health *h = ext;

	for (size_t i = 0; i < h->nsvc; i++) {
		h->svc[i].status = GRPC_HEALTH_NOT_SERVING;
		notify(h, h->svc[i].name, GRPC_HEALTH_NOT_SERVING);
	}
	(void)s;
}

int grpc_health_register(grpc_server *s)
{
	health *h;
	int rc;

	if (grpc_server_ext(s))
		return GRPC_ERR_INVALID;
	h = xcalloc(1, sizeof(*h));
	grpc_server_set_ext(s, h, health_free);
	grpc_server_set_shutdown_hook(s, on_shutdown);
	rc = grpc_server_add_method(s, "/grpc.health.v1.Health/Check",
	    &grpc__health__v1__health_check_request__descriptor, check, h);
	if (rc == 0)
		rc = grpc_server_add_method(s, "/grpc.health.v1.Health/Watch",
		    &grpc__health__v1__health_check_request__descriptor, watch, h);
	if (rc == 0)
		rc = grpc_health_set(s, "", GRPC_HEALTH_SERVING);
	return rc;
}

int grpc_health_set(grpc_server *s, const char *service, int status)
{
	health *h = grpc_server_ext(s);
	struct service_status *st;

	if (h == NULL || status < GRPC_HEALTH_UNKNOWN || status > GRPC_HEALTH_NOT_SERVING)
		return GRPC_ERR_INVALID;
	st = find(h, service);
	if (st == NULL) {
		h->svc = xrealloc(h->svc, (h->nsvc + 1) * sizeof(*h->svc));
		st = &h->svc[h->nsvc++];
		st->name = xstrdup(service);
		st->status = -1;
	}
	if (st->status == status)
		return 0;
	st->status = status;
	notify(h, st->name, status);
	return 0;
}

int grpc_health_get(const grpc_server *s, const char *service)
{
	const health *h = grpc_server_ext(s);

	return h ? status_of(h, service) : GRPC_HEALTH_SERVICE_UNKNOWN;
}
