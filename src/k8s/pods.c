/*
 * Pods are summarised as they stream by and only the groups are kept, so a
 * list of thousands of pods costs a few KiB.  Grouping is by the exact text
 * we would print: thirty pods failing for the same reason read as one line.
 */
#include "k8s/pods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "json/json.h"
#include "k8s/deploy.h"

#define MAX_GROUPS 8

enum { PRIO_UNSCHEDULABLE, PRIO_CONTAINER, PRIO_STARTING, PRIO_OTHER };

struct group {
	int prio;
	size_t count;
	char pod[K8S_POD_NAME_MAX];
	char text[512];
};

enum {
	Q_ITEMS, Q_NAME, Q_DELETED, Q_PHASE,
	Q_CONDS, Q_C_TYPE, Q_C_STATUS, Q_C_REASON, Q_C_MESSAGE,
	Q_CS, Q_CS_NAME, Q_CS_RESTARTS, Q_CS_W_REASON, Q_CS_W_MESSAGE,
	Q_N,
};

static const char *const pod_paths[Q_N] = {
	"items[*]",
	"items[*].metadata.name",
	"items[*].metadata.deletionTimestamp",
	"items[*].status.phase",
	"items[*].status.conditions[*]",
	"items[*].status.conditions[*].type",
	"items[*].status.conditions[*].status",
	"items[*].status.conditions[*].reason",
	"items[*].status.conditions[*].message",
	"items[*].status.containerStatuses[*]",
	"items[*].status.containerStatuses[*].name",
	"items[*].status.containerStatuses[*].restartCount",
	"items[*].status.containerStatuses[*].state.waiting.reason",
	"items[*].status.containerStatuses[*].state.waiting.message",
};

struct k8s_diag {
	int32_t available, replicas;
	size_t pods, ready;
	struct group g[MAX_GROUPS];
	size_t ngroups, other;	/* pods whose group did not fit */
	/* decoder */
	json_pathset ps;
	json_extract x;
	int err;
	k8s_pod_info cur;
	int ctype, cstatus;
	char creason[64], cmessage[384];
	char csname[64], cswreason[64], cswmessage[256];
	int32_t csrestarts;
	char sbuf[16384];
};

static void copy_tok(char *dst, size_t dstsz, const json_token *t)
{
	size_t n = t->len < dstsz - 1 ? t->len : dstsz - 1;

	memcpy(dst, t->str, n);
	dst[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (dst[i] == '\0' || dst[i] == '\n' || dst[i] == '\r')
			dst[i] = ' ';
}

static int tok_is(const json_token *t, const char *s)
{
	size_t n = strlen(s);

	return t->type == JSON_STRING && t->len == n && memcmp(t->str, s, n) == 0;
}

static void add_group(k8s_diag *d, int prio, const char *pod, const char *text)
{
	for (size_t i = 0; i < d->ngroups; i++) {
		if (d->g[i].prio == prio && strcmp(d->g[i].text, text) == 0) {
			d->g[i].count++;
			return;
		}
	}
	if (d->ngroups == MAX_GROUPS) {
		d->other++;
		return;
	}
	struct group *g = &d->g[d->ngroups++];
	g->prio = prio;
	g->count = 1;
	snprintf(g->pod, sizeof(g->pod), "%s", pod);
	snprintf(g->text, sizeof(g->text), "%s", text);
}

void k8s_diag_add_pod(k8s_diag *d, const k8s_pod_info *p)
{
	char text[512], rs[48] = "";
	int prio;

	d->pods++;
	if (p->ready && !p->deleting) {
		d->ready++;
		return;
	}
	if (p->restarts > 0)
		snprintf(rs, sizeof(rs), " (restarted %d time%s)", (int)p->restarts, p->restarts == 1 ? "" : "s");
	if (p->deleting) {
		prio = PRIO_OTHER;
		snprintf(text, sizeof(text), "Terminating");
	} else if (p->sched_status == K8S_COND_FALSE) {
		prio = PRIO_UNSCHEDULABLE;
		snprintf(text, sizeof(text), "%s%s%s", p->sched_reason[0] ? p->sched_reason : "Unschedulable",
		    p->sched_message[0] ? ": " : "", p->sched_message);
	} else if (p->wait_reason[0] && strcmp(p->wait_reason, "ContainerCreating") != 0 &&
	    strcmp(p->wait_reason, "PodInitializing") != 0) {
		prio = PRIO_CONTAINER;
		snprintf(text, sizeof(text), "%s%s%s%s", p->wait_reason, p->wait_message[0] ? ": " : "",
		    p->wait_message, rs);
	} else if (strcmp(p->phase, "Failed") == 0) {
		prio = PRIO_CONTAINER;
		snprintf(text, sizeof(text), "Failed%s", rs);
	} else if (p->wait_reason[0]) {
		prio = PRIO_STARTING;
		snprintf(text, sizeof(text), "%s", p->wait_reason);
	} else if (p->phase[0] == '\0' || strcmp(p->phase, "Pending") == 0) {
		prio = PRIO_STARTING;
		snprintf(text, sizeof(text), "Pending%s", p->sched_status == K8S_COND_ABSENT ? ", not scheduled yet" : "");
	} else {
		prio = PRIO_OTHER;
		snprintf(text, sizeof(text), "%s, not ready%s", p->phase, rs);
	}
	add_group(d, prio, p->name, text);
}

size_t k8s_diag_pods(const k8s_diag *d)
{
	return d->pods;
}

size_t k8s_diag_ready(const k8s_diag *d)
{
	return d->ready;
}

size_t k8s_diag_format(const k8s_diag *d, char *out, size_t cap)
{
	size_t len = 0, used[2] = { SIZE_MAX, SIZE_MAX };
	int n;

	if (cap == 0)
		return 0;
#define PUT(...) \
	do { \
		n = snprintf(out + len, cap - len, __VA_ARGS__); \
		if (n < 0) \
			n = 0; \
		len = (size_t)n < cap - len ? len + (size_t)n : cap - 1; \
	} while (0)
	PUT("%d/%d available", (int)d->available, (int)d->replicas);
	for (int k = 0; k < 2; k++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < d->ngroups; i++) {
			if (i == used[0])
				continue;
			if (best == SIZE_MAX || d->g[i].prio < d->g[best].prio ||
			    (d->g[i].prio == d->g[best].prio && d->g[i].count > d->g[best].count))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		used[k] = best;
		const struct group *g = &d->g[best];
		PUT("; pod %s: %s", g->pod, g->text);
		if (g->count > 1)
			PUT(" (and %zu more pod%s like it)", g->count - 1, g->count == 2 ? "" : "s");
	}
	if (d->ngroups == 0)
		PUT(d->pods == 0 ? "; no pods yet" : "; %zu/%zu pods ready", d->ready, d->pods);
#undef PUT
	return len;
}

/* ---------------------------------------------------------------- decoder */

static void finish_cond(k8s_diag *d)
{
	if (d->ctype == 1) {
		d->cur.sched_status = (uint8_t)d->cstatus;
		snprintf(d->cur.sched_reason, sizeof(d->cur.sched_reason), "%s", d->creason);
		snprintf(d->cur.sched_message, sizeof(d->cur.sched_message), "%s", d->cmessage);
	} else if (d->ctype == 2) {
		d->cur.ready = d->cstatus == K8S_COND_TRUE;
	}
}

static void finish_container(k8s_diag *d)
{
	d->cur.restarts += d->csrestarts;
	if (d->cur.wait_reason[0] == '\0' && d->cswreason[0]) {
		snprintf(d->cur.wait_container, sizeof(d->cur.wait_container), "%s", d->csname);
		snprintf(d->cur.wait_reason, sizeof(d->cur.wait_reason), "%s", d->cswreason);
		snprintf(d->cur.wait_message, sizeof(d->cur.wait_message), "%s", d->cswmessage);
	}
}

static int on_pod_event(void *ctx, const json_event *ev)
{
	k8s_diag *d = ctx;
	const json_token *t = ev->tok;

	if (ev->kind == JSON_EV_ELEM_BEGIN || ev->kind == JSON_EV_ELEM_END) {
		int begin = ev->kind == JSON_EV_ELEM_BEGIN;
		switch (ev->path) {
		case Q_ITEMS:
			if (begin)
				memset(&d->cur, 0, sizeof(d->cur));
			else if (d->cur.name[0])
				k8s_diag_add_pod(d, &d->cur);
			break;
		case Q_CONDS:
			if (begin) {
				d->ctype = 0;
				d->cstatus = K8S_COND_UNKNOWN;
				d->creason[0] = d->cmessage[0] = '\0';
			} else {
				finish_cond(d);
			}
			break;
		case Q_CS:
			if (begin) {
				d->csname[0] = d->cswreason[0] = d->cswmessage[0] = '\0';
				d->csrestarts = 0;
			} else {
				finish_container(d);
			}
			break;
		}
		return 0;
	}
	if (ev->kind != JSON_EV_VALUE)
		return 0;
	switch (ev->path) {
	case Q_NAME:
		if (t->type == JSON_STRING)
			copy_tok(d->cur.name, sizeof(d->cur.name), t);
		break;
	case Q_DELETED:
		d->cur.deleting = t->type == JSON_STRING;
		break;
	case Q_PHASE:
		if (t->type == JSON_STRING)
			copy_tok(d->cur.phase, sizeof(d->cur.phase), t);
		break;
	case Q_C_TYPE:
		d->ctype = tok_is(t, "PodScheduled") ? 1 : tok_is(t, "Ready") ? 2 : 0;
		break;
	case Q_C_STATUS:
		d->cstatus = tok_is(t, "True") ? K8S_COND_TRUE : tok_is(t, "False") ? K8S_COND_FALSE :
		    K8S_COND_UNKNOWN;
		break;
	case Q_C_REASON:
		if (t->type == JSON_STRING)
			copy_tok(d->creason, sizeof(d->creason), t);
		break;
	case Q_C_MESSAGE:
		if (t->type == JSON_STRING)
			copy_tok(d->cmessage, sizeof(d->cmessage), t);
		break;
	case Q_CS_NAME:
		if (t->type == JSON_STRING)
			copy_tok(d->csname, sizeof(d->csname), t);
		break;
	case Q_CS_RESTARTS:
		if (t->type == JSON_INT && t->i > 0 && t->i < INT32_MAX)
			d->csrestarts = (int32_t)t->i;
		break;
	case Q_CS_W_REASON:
		if (t->type == JSON_STRING)
			copy_tok(d->cswreason, sizeof(d->cswreason), t);
		break;
	case Q_CS_W_MESSAGE:
		if (t->type == JSON_STRING)
			copy_tok(d->cswmessage, sizeof(d->cswmessage), t);
		break;
	}
	return 0;
}

k8s_diag *k8s_diag_new(int32_t available, int32_t replicas)
{
	k8s_diag *d = xcalloc(1, sizeof(*d));

	d->available = available;
	d->replicas = replicas;
	if (json_pathset_compile(&d->ps, pod_paths, Q_N) < 0) {
		free(d);
		return NULL;
	}
	json_extract_init(&d->x, &d->ps, d->sbuf, sizeof(d->sbuf), JSON_SINGLE, on_pod_event, d);
	return d;
}

void k8s_diag_free(k8s_diag *d)
{
	free(d);
}

int k8s_diag_feed(k8s_diag *d, const void *data, size_t len)
{
	int rc;

	if (d->err)
		return d->err;
	rc = json_extract_feed(&d->x, data, len);
	if (rc < 0)
		return d->err = rc;
	return (int)len;
}

int k8s_diag_finish(k8s_diag *d)
{
	int rc;

	if (d->err)
		return d->err;
	rc = json_extract_finish(&d->x);
	if (rc < 0)
		return d->err = rc;
	return 0;
}
