/*
 * The decoder declares, for the one object shape it cares about, the paths
 * it wants under a mode-dependent prefix ("object." for watch events,
 * "items[*]." for a list, "" for a bare object) and fills one record from the
 * extractor's events.  The record is emitted when its container closes: at the
 * end of each top-level value for a watch stream (so "type" may come before or
 * after "object"), at the end of each items element for a list.
 */
#include "k8s/deploy.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/str.h"

/* ----------------------------------------------------------------- record */

int k8s_deployment_ready(const k8s_deployment *d)
{
	return d->observed_generation >= d->generation && d->updated_replicas == d->replicas &&
	    d->available_replicas == d->replicas && d->available.status == K8S_COND_TRUE;
}

int k8s_deployment_failed(const k8s_deployment *d)
{
	return d->progressing.status == K8S_COND_FALSE &&
	    strcmp(d->progressing.reason, "ProgressDeadlineExceeded") == 0;
}

const char *k8s_event_type_str(int type)
{
	switch (type) {
	case K8S_EV_ADDED: return "ADDED";
	case K8S_EV_MODIFIED: return "MODIFIED";
	case K8S_EV_DELETED: return "DELETED";
	case K8S_EV_BOOKMARK: return "BOOKMARK";
	case K8S_EV_ERROR: return "ERROR";
	case K8S_EV_ITEM: return "ITEM";
	}
	return "?";
}

/* ---------------------------------------------------------------- decoder */

enum {
	F_NAME, F_UID, F_RV, F_GENERATION, F_CREATED, F_DELETED, F_L_MANAGED, F_L_NAME, F_L_CLUSTER,
	F_REPLICAS, F_CONTAINERS, F_IMAGE, F_OBSERVED, F_READY, F_AVAILABLE, F_UPDATED,
	F_CONDS, F_C_TYPE, F_C_STATUS, F_C_REASON, F_C_MESSAGE,
	F_A_HASH, F_A_SERVICE, F_T_LABEL, F_T_ANN, F_CPU_REQ, F_MEM_REQ, F_CPU_LIM, F_MEM_LIM,
	F_ENV, F_ENV_NAME, F_ENV_VALUE, F_CMD, F_ARG, F_PORT, F_PORT_NAME, F_PORT_NUM,
	F_NFIELDS,
	/* watch only */
	W_TYPE = F_NFIELDS, W_KIND, W_CODE, W_REASON, W_MESSAGE,
	/* list only */
	L_ITEMS = F_NFIELDS, L_RV, L_CONTINUE,
	P_MAX = F_NFIELDS + 5,
};

static const char *const field_suffix[F_NFIELDS] = {
	"metadata.name",
	"metadata.uid",
	"metadata.resourceVersion",
	"metadata.generation",
	"metadata.creationTimestamp",
	"metadata.deletionTimestamp",
	"metadata.labels.app\\.kubernetes\\.io/managed-by",
	"metadata.labels.app\\.kubernetes\\.io/name",
	"metadata.labels.cplane\\.dev/cluster",
	"spec.replicas",
	"spec.template.spec.containers[*]",
	"spec.template.spec.containers[*].image",
	"status.observedGeneration",
	"status.readyReplicas",
	"status.availableReplicas",
	"status.updatedReplicas",
	"status.conditions[*]",
	"status.conditions[*].type",
	"status.conditions[*].status",
	"status.conditions[*].reason",
	"status.conditions[*].message",
	"metadata.annotations.cplane\\.dev/spec-hash",
	"metadata.annotations.cplane\\.dev/service",
	"spec.template.metadata.labels.*",
	"spec.template.metadata.annotations.*",
	"spec.template.spec.containers[*].resources.requests.cpu",
	"spec.template.spec.containers[*].resources.requests.memory",
	"spec.template.spec.containers[*].resources.limits.cpu",
	"spec.template.spec.containers[*].resources.limits.memory",
	"spec.template.spec.containers[*].env[*]",
	"spec.template.spec.containers[*].env[*].name",
	"spec.template.spec.containers[*].env[*].value",
	"spec.template.spec.containers[*].command[*]",
	"spec.template.spec.containers[*].args[*]",
	"spec.template.spec.containers[*].ports[*]",
	"spec.template.spec.containers[*].ports[*].name",
	"spec.template.spec.containers[*].ports[*].containerPort",
};

#define CONT_MAX 4096
/* The longest string kept: a pod-template annotation may be 256 KiB. */
#define SBUF_LEN (264 * 1024)
#define POD_ARENA_MAX (8u << 20)	/* a spec past this is not reported (pod NULL) */
#define NONE32 UINT32_MAX

/* A growable array of offset pairs into the pod arena. */
struct pairs {
	uint32_t (*v)[2];
	size_t n, cap;
};

/* The pod spec of the record being decoded, as offsets (the arena moves). */
struct pod_acc {
	char *arena;
	size_t alen, acap;
	int overflow;
	uint32_t res[4];
	struct pairs env, labels, anns, cmd, args, ports;	/* cmd/args: [0] only; ports: [1] is the number */
	/* the views handed out at emit */
	void *view;
	size_t view_cap;
	k8s_podspec pod;
};

struct k8s_deploy_decoder {
	json_extract x;
	json_pathset ps;
	int mode;
	int err;
	k8s_deploy_fn fn;
	void *ctx;
	uint64_t skipped;
	/* event being assembled */
	k8s_deployment d;
	k8s_error status;
	int type;
	uint8_t is_status, name_too_long, container0, cond_kind;
	k8s_condition cond;
	char list_rv[K8S_RV_MAX];
	char cont[CONT_MAX];
	struct pod_acc pa;
	char sbuf[SBUF_LEN];
};

/* ------------------------------------------------------------- pod spec */

static void pod_reset(struct pod_acc *a)
{
	a->alen = 0;
	a->overflow = 0;
	for (int i = 0; i < 4; i++)
		a->res[i] = NONE32;
	a->env.n = a->labels.n = a->anns.n = a->cmd.n = a->args.n = a->ports.n = 0;
}

static void pod_free(struct pod_acc *a)
{
	free(a->arena);
	free(a->env.v);
	free(a->labels.v);
	free(a->anns.v);
	free(a->cmd.v);
	free(a->args.v);
	free(a->ports.v);
	free(a->view);
}

/* Copies s[0..len) and a NUL into the arena; its offset, or NONE32 (the spec is then dropped). */
static uint32_t pod_str(struct pod_acc *a, const char *s, size_t len)
{
	uint32_t off;

	if (a->overflow || a->alen + len + 1 > POD_ARENA_MAX)
		goto fail;
	if (a->alen + len + 1 > a->acap) {
		size_t cap = a->acap ? a->acap : 1024;
		char *p;

		while (cap < a->alen + len + 1)
			cap *= 2;
		p = xrealloc(a->arena, cap);	/* at most 2 * POD_ARENA_MAX */
		a->arena = p;
		a->acap = cap;
	}
	off = (uint32_t)a->alen;
	memcpy(a->arena + off, s, len);
	a->arena[off + len] = '\0';
	a->alen += len + 1;
	return off;
fail:
	a->overflow = 1;
	return NONE32;
}

/* Appends an entry (both NONE32); NULL when it cannot (the spec is then dropped). */
static uint32_t *pod_push(struct pod_acc *a, struct pairs *p)
{
	if (a->overflow)
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		if (cap > POD_ARENA_MAX / 8) {
			a->overflow = 1;
			return NULL;
		}
		p->v = xrealloc(p->v, cap * sizeof(*p->v));
		p->cap = cap;
	}
	p->v[p->n][0] = p->v[p->n][1] = NONE32;
	return p->v[p->n++];
}

static const char *pod_at(const struct pod_acc *a, uint32_t off)
{
	return off == NONE32 ? "" : a->arena + off;
}

/* The views for the record's callback; NULL when the spec did not fit. */
static const k8s_podspec *pod_view(struct pod_acc *a)
{
	size_t nkv = a->env.n + a->labels.n + a->anns.n, nstr = a->cmd.n + a->args.n;
	size_t need = nkv * sizeof(k8s_kv) + a->ports.n * sizeof(k8s_port) + nstr * sizeof(char *);
	k8s_kv *kv;
	k8s_port *ports;
	const char **strs;
	const char **res[4] = { &a->pod.cpu_request, &a->pod.memory_request, &a->pod.cpu_limit,
	    &a->pod.memory_limit };

	if (a->overflow)
		return NULL;
	if (need > a->view_cap) {
		/* Bounded by the entries POD_ARENA_MAX allows. */
		a->view = xrealloc(a->view, need);
		a->view_cap = need;
	}
	memset(&a->pod, 0, sizeof(a->pod));
	for (int i = 0; i < 4; i++)
		*res[i] = a->res[i] == NONE32 ? NULL : a->arena + a->res[i];
	if (need == 0)
		return &a->pod;	/* nothing to point into (a->view may be NULL: no arithmetic on it) */
	kv = a->view;
	ports = (k8s_port *)(void *)(kv + nkv);
	strs = (const char **)(void *)(ports + a->ports.n);
	a->pod.env = kv;
	a->pod.n_env = a->env.n;
	for (size_t i = 0; i < a->env.n; i++)
		*kv++ = (k8s_kv){ pod_at(a, a->env.v[i][0]), pod_at(a, a->env.v[i][1]) };
	a->pod.labels = kv;
	a->pod.n_labels = a->labels.n;
	for (size_t i = 0; i < a->labels.n; i++)
		*kv++ = (k8s_kv){ pod_at(a, a->labels.v[i][0]), pod_at(a, a->labels.v[i][1]) };
	a->pod.annotations = kv;
	a->pod.n_annotations = a->anns.n;
	for (size_t i = 0; i < a->anns.n; i++)
		*kv++ = (k8s_kv){ pod_at(a, a->anns.v[i][0]), pod_at(a, a->anns.v[i][1]) };
	a->pod.ports = ports;
	a->pod.n_ports = a->ports.n;
	for (size_t i = 0; i < a->ports.n; i++)
		ports[i] = (k8s_port){ pod_at(a, a->ports.v[i][0]),
		    a->ports.v[i][1] == NONE32 ? 0 : (int32_t)a->ports.v[i][1] };
	a->pod.command = strs;
	a->pod.n_command = a->cmd.n;
	for (size_t i = 0; i < a->cmd.n; i++)
		*strs++ = pod_at(a, a->cmd.v[i][0]);
	a->pod.args = strs;
	a->pod.n_args = a->args.n;
	for (size_t i = 0; i < a->args.n; i++)
		*strs++ = pod_at(a, a->args.v[i][0]);
	return &a->pod;
}

static int ours(const char *k, size_t n)
{
	return (n >= 11 && memcmp(k, "cplane.dev/", 11) == 0) || (n >= 18 && memcmp(k, "app.kubernetes.io/", 18) == 0);
}

/* A value of the pod-template paths (container 0 only for the container's). */
static void pod_event(k8s_deploy_decoder *dec, const json_event *ev);

static void copy_tok(char *dst, size_t dstsz, const json_token *t)
{
	size_t n = t->len < dstsz - 1 ? t->len : dstsz - 1;

	memcpy(dst, t->str, n);
	dst[n] = '\0';
}

static int tok_is(const json_token *t, const char *s)
{
	size_t n = strlen(s);

	return t->type == JSON_STRING && t->len == n && memcmp(t->str, s, n) == 0;
}

static int32_t tok_i32(const json_token *t)
{
	if (t->type != JSON_INT || t->i < 0)
		return 0;
	return t->i > INT32_MAX ? INT32_MAX : (int32_t)t->i;
}

static void start_record(k8s_deploy_decoder *dec)
{
	pod_reset(&dec->pa);
	memset(&dec->d, 0, sizeof(dec->d));
	dec->d.replicas = 1;
	dec->type = 0;
	dec->is_status = 0;
	dec->name_too_long = 0;
	dec->container0 = 0;
	k8s_error_clear(&dec->status);
}

static int emit(k8s_deploy_decoder *dec, int type)
{
	if (type == K8S_EV_ERROR || dec->is_status) {
		if (dec->status.code == 0)
			dec->status.code = 500;
		dec->status.kind = K8S_ERR_API;
		return dec->fn(dec->ctx, K8S_EV_ERROR, NULL, &dec->status);
	}
	if (type == 0)
		return 0;	/* not an event we know: ignore, as client-go does */
	if (dec->name_too_long || (dec->d.name[0] == '\0' && type != K8S_EV_BOOKMARK)) {
		dec->skipped++;
		return 0;
	}
	dec->d.pod = type == K8S_EV_BOOKMARK ? NULL : pod_view(&dec->pa);
	return dec->fn(dec->ctx, type, &dec->d, NULL);
}

static int cond_event(k8s_deploy_decoder *dec, int field, const json_token *t)
{
	switch (field) {
	case F_C_TYPE:
		dec->cond_kind = tok_is(t, "Available") ? 1 : tok_is(t, "Progressing") ? 2 :
		    tok_is(t, "ReplicaFailure") ? 3 : 0;
		break;
	case F_C_STATUS:
		dec->cond.status = tok_is(t, "True") ? K8S_COND_TRUE : tok_is(t, "False") ? K8S_COND_FALSE :
		    K8S_COND_UNKNOWN;
		break;
	case F_C_REASON:
		if (t->type == JSON_STRING)
			copy_tok(dec->cond.reason, sizeof(dec->cond.reason), t);
		break;
	case F_C_MESSAGE:
		if (t->type == JSON_STRING)
			copy_tok(dec->cond.message, sizeof(dec->cond.message), t);
		break;
	}
	return 0;
}

static void field_event(k8s_deploy_decoder *dec, int field, const json_token *t)
{
	k8s_deployment *d = &dec->d;

	switch (field) {
	case F_NAME:
		if (t->type == JSON_STRING) {
			if (t->len >= sizeof(d->name))
				dec->name_too_long = 1;
			copy_tok(d->name, sizeof(d->name), t);
		}
		break;
	case F_UID:
		if (t->type == JSON_STRING)
			copy_tok(d->uid, sizeof(d->uid), t);
		break;
	case F_RV:
		if (t->type == JSON_STRING)
			copy_tok(d->resource_version, sizeof(d->resource_version), t);
		break;
	case F_GENERATION:
		d->generation = t->type == JSON_INT ? t->i : 0;
		break;
	case F_CREATED:
		if (t->type != JSON_STRING || clock_parse_rfc3339(t->str, t->len, &d->created_unix_ms) < 0)
			d->created_unix_ms = 0;
		break;
	case F_DELETED:
		d->deleting = t->type == JSON_STRING;
		break;
	case F_L_MANAGED:
		d->managed = tok_is(t, K8S_MANAGER);
		break;
	case F_L_NAME:
		if (t->type == JSON_STRING)
			copy_tok(d->label_name, sizeof(d->label_name), t);
		break;
	case F_L_CLUSTER:
		if (t->type == JSON_STRING)
			copy_tok(d->label_cluster, sizeof(d->label_cluster), t);
		break;
	case F_REPLICAS:
		d->replicas = t->type == JSON_INT ? tok_i32(t) : 1;
		break;
	case F_IMAGE:
		if (dec->container0 && t->type == JSON_STRING)
			copy_tok(d->image, sizeof(d->image), t);
		break;
	case F_OBSERVED:
		d->observed_generation = t->type == JSON_INT ? t->i : 0;
		break;
	case F_READY:
		d->ready_replicas = tok_i32(t);
		break;
	case F_AVAILABLE:
		d->available_replicas = tok_i32(t);
		break;
	case F_UPDATED:
		d->updated_replicas = tok_i32(t);
		break;
	default:
		cond_event(dec, field, t);
		break;
	}
}

static void brief_of(k8s_condition_brief *b, const k8s_condition *c)
{
	b->status = c->status;
	memcpy(b->reason, c->reason, sizeof(b->reason));
}

static void elem_event(k8s_deploy_decoder *dec, int field, int begin, uint32_t index)
{
	if (field == F_ENV || field == F_PORT) {
		if (begin && dec->container0)
			pod_push(&dec->pa, field == F_ENV ? &dec->pa.env : &dec->pa.ports);
		return;
	}
	if (field == F_CONTAINERS) {
		dec->container0 = begin && index == 0;
		return;
	}
	/* F_CONDS */
	if (begin) {
		memset(&dec->cond, 0, sizeof(dec->cond));
		dec->cond.status = K8S_COND_UNKNOWN;
		dec->cond_kind = 0;
		return;
	}
	switch (dec->cond_kind) {
	case 1: brief_of(&dec->d.available, &dec->cond); break;
	case 2: dec->d.progressing = dec->cond; break;
	case 3: brief_of(&dec->d.replica_failure, &dec->cond); break;
	}
}

static int status_event(k8s_deploy_decoder *dec, int path, const json_token *t)
{
	switch (path) {
	case W_KIND:
		dec->is_status = tok_is(t, "Status");
		break;
	case W_CODE:
		dec->status.code = t->type == JSON_INT && t->i > 0 && t->i < 1000 ? (int)t->i : 0;
		break;
	case W_REASON:
		if (t->type == JSON_STRING)
			copy_tok(dec->status.reason, sizeof(dec->status.reason), t);
		break;
	case W_MESSAGE:
		if (t->type == JSON_STRING)
			copy_tok(dec->status.message, sizeof(dec->status.message), t);
		break;
	}
	return 0;
}

static int watch_type(const json_token *t)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

	for (int i = 0; i < 5; i++)
		if (tok_is(t, names[i]))
			return K8S_EV_ADDED + i;
	return 0;
}

static int on_event(void *ctx, const json_event *ev)
{
	k8s_deploy_decoder *dec = ctx;
	int rc;

	switch (ev->kind) {
	case JSON_EV_END:
		if (dec->mode == K8S_DECODE_LIST)
			return 0;
		rc = emit(dec, dec->mode == K8S_DECODE_OBJECT ? K8S_EV_ITEM : dec->type);
		start_record(dec);
		return rc;
	case JSON_EV_ELEM_BEGIN:
	case JSON_EV_ELEM_END:
		if (dec->mode == K8S_DECODE_LIST && ev->path == L_ITEMS) {
			if (ev->kind == JSON_EV_ELEM_BEGIN) {
				start_record(dec);
				return 0;
			}
			rc = emit(dec, K8S_EV_ITEM);
			start_record(dec);
			return rc;
		}
		if (ev->path == F_CONTAINERS || ev->path == F_CONDS || ev->path == F_ENV || ev->path == F_PORT)
			elem_event(dec, ev->path, ev->kind == JSON_EV_ELEM_BEGIN, ev->index);
		return 0;
	case JSON_EV_VALUE:
		break;
	default:
		return 0;
	}
	if (ev->path >= F_A_HASH && ev->path < F_NFIELDS) {
		pod_event(dec, ev);
		return 0;
	}
	if (ev->path < F_NFIELDS) {
		field_event(dec, ev->path, ev->tok);
		return 0;
	}
	if (dec->mode == K8S_DECODE_WATCH) {
		if (ev->path == W_TYPE)
			dec->type = watch_type(ev->tok);
		else
			status_event(dec, ev->path, ev->tok);
	} else if (dec->mode == K8S_DECODE_LIST) {
		if (ev->path == L_RV && ev->tok->type == JSON_STRING)
			copy_tok(dec->list_rv, sizeof(dec->list_rv), ev->tok);
		else if (ev->path == L_CONTINUE && ev->tok->type == JSON_STRING) {
			if (ev->tok->len >= sizeof(dec->cont))
				return 1;	/* a token we cannot hold: fail rather than loop */
			copy_tok(dec->cont, sizeof(dec->cont), ev->tok);
		}
	}
	return 0;
}

static void pod_event(k8s_deploy_decoder *dec, const json_event *ev)
{
	struct pod_acc *a = &dec->pa;
	const json_token *t = ev->tok;
	uint32_t *e;

	switch (ev->path) {
	case F_A_HASH:
		if (t->type == JSON_STRING)
			copy_tok(dec->d.spec_hash, sizeof(dec->d.spec_hash), t);
		return;
	case F_A_SERVICE:
		dec->d.service = tok_is(t, "true");
		return;
	case F_T_LABEL:
	case F_T_ANN:
		if (ev->key == NULL || t->type != JSON_STRING || ours(ev->key, ev->key_len))
			return;
		e = pod_push(a, ev->path == F_T_LABEL ? &a->labels : &a->anns);
		if (e) {
			e[0] = pod_str(a, ev->key, ev->key_len);
			e[1] = pod_str(a, t->str, t->len);
		}
		return;
	}
	if (!dec->container0)
		return;
	switch (ev->path) {
	case F_CPU_REQ: case F_MEM_REQ: case F_CPU_LIM: case F_MEM_LIM:
		if (t->type == JSON_STRING)
			a->res[ev->path - F_CPU_REQ] = pod_str(a, t->str, t->len);
		break;
	case F_ENV_NAME: case F_ENV_VALUE:
		if (t->type == JSON_STRING && a->env.n)
			a->env.v[a->env.n - 1][ev->path == F_ENV_VALUE] = pod_str(a, t->str, t->len);
		break;
	case F_CMD: case F_ARG:
		if (t->type == JSON_STRING && (e = pod_push(a, ev->path == F_CMD ? &a->cmd : &a->args)) != NULL)
			e[0] = pod_str(a, t->str, t->len);
		break;
	case F_PORT_NAME:
		if (t->type == JSON_STRING && a->ports.n)
			a->ports.v[a->ports.n - 1][0] = pod_str(a, t->str, t->len);
		break;
	case F_PORT_NUM:
		if (t->type == JSON_INT && t->i > 0 && t->i <= 65535 && a->ports.n)
			a->ports.v[a->ports.n - 1][1] = (uint32_t)t->i;
		break;
	}
}

static int compile_paths(k8s_deploy_decoder *dec)
{
	char store[P_MAX][128];
	const char *paths[P_MAX];
	const char *prefix = dec->mode == K8S_DECODE_WATCH ? "object." :
	    dec->mode == K8S_DECODE_LIST ? "items[*]." : "";
	size_t n = 0;

	for (int i = 0; i < F_NFIELDS; i++) {
		snprintf(store[n], sizeof(store[n]), "%s%s", prefix, field_suffix[i]);
		paths[n] = store[n];
		n++;
	}
	if (dec->mode == K8S_DECODE_WATCH) {
		static const char *const w[] = { "type", "object.kind", "object.code", "object.reason",
		    "object.message" };
		for (int i = 0; i < 5; i++)
			paths[n++] = w[i];
	} else if (dec->mode == K8S_DECODE_LIST) {
		static const char *const l[] = { "items[*]", "metadata.resourceVersion", "metadata.continue" };
		for (int i = 0; i < 3; i++)
			paths[n++] = l[i];
	}
	return json_pathset_compile(&dec->ps, paths, n);
}

k8s_deploy_decoder *k8s_deploy_decoder_new(int mode, k8s_deploy_fn fn, void *ctx)
{
	k8s_deploy_decoder *dec = xmalloc(sizeof(*dec));

	memset(dec, 0, offsetof(k8s_deploy_decoder, sbuf));
	for (int i = 0; i < 4; i++)
		dec->pa.res[i] = NONE32;
	dec->mode = mode;
	dec->fn = fn;
	dec->ctx = ctx;
	/* The paths are constants: failing to compile them is a bug every unit run would show. */
	if (compile_paths(dec) < 0)
		abort();
	k8s_deploy_decoder_reset(dec);
	return dec;
}

void k8s_deploy_decoder_free(k8s_deploy_decoder *dec)
{
	if (dec == NULL)
		return;
	pod_free(&dec->pa);
	free(dec);
}

void k8s_deploy_decoder_reset(k8s_deploy_decoder *dec)
{
	json_extract_init(&dec->x, &dec->ps, dec->sbuf, sizeof(dec->sbuf),
	    dec->mode == K8S_DECODE_WATCH ? 0 : JSON_SINGLE, on_event, dec);
	dec->err = 0;
	dec->skipped = 0;
	dec->list_rv[0] = '\0';
	dec->cont[0] = '\0';
	start_record(dec);
}

int k8s_deploy_decoder_feed(k8s_deploy_decoder *dec, const void *data, size_t len)
{
	int rc;

	if (dec->err)
		return dec->err;
	rc = json_extract_feed(&dec->x, data, len);
	if (rc < 0) {
		dec->err = rc;
		return rc;
	}
	return (int)len;
}

int k8s_deploy_decoder_finish(k8s_deploy_decoder *dec)
{
	int rc;

	if (dec->err)
		return dec->err;
	rc = json_extract_finish(&dec->x);
	if (rc < 0)
		dec->err = rc;
	return rc;
}

const char *k8s_deploy_decoder_list_rv(const k8s_deploy_decoder *dec)
{
	return dec->list_rv;
}

const char *k8s_deploy_decoder_continue(const k8s_deploy_decoder *dec)
{
	return dec->cont;
}

uint64_t k8s_deploy_decoder_skipped(const k8s_deploy_decoder *dec)
{
	return dec->skipped;
}
