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
#include "base/str.h"

/* ------------------------------------------------------------ create body */

#define KEY(w, s) json_write_key((w), (s), sizeof(s) - 1)

/* Writer calls are not checked one by one: errors are sticky and
 * json_writer_finish() reports the first. */
static int write_labels(json_writer *w, const char *name)
{
	json_write_object_begin(w);
	KEY(w, K8S_LABEL_MANAGED_BY);
	json_write_cstr(w, K8S_MANAGER);
	KEY(w, K8S_LABEL_NAME);
	json_write_cstr(w, name);
	KEY(w, K8S_LABEL_CLUSTER);
	json_write_cstr(w, name);
	return json_write_object_end(w);
}

int k8s_deploy_write_body(const k8s_deploy_spec *s, uint8_t *out, size_t cap)
{
	json_writer w;
	const char *eq = NULL;

	if (s->name == NULL || s->name[0] == '\0' || s->image == NULL || s->image[0] == '\0')
		return JSON_EUSAGE;
	if (s->node_selector && s->node_selector[0]) {
		eq = strchr(s->node_selector, '=');
		if (eq == NULL || eq == s->node_selector)
			return JSON_EUSAGE;
	}
	json_writer_init(&w, out, cap);
	json_write_object_begin(&w);
	KEY(&w, "apiVersion");
	json_write_cstr(&w, "apps/v1");
	KEY(&w, "kind");
	json_write_cstr(&w, "Deployment");
	KEY(&w, "metadata");
	json_write_object_begin(&w);
	KEY(&w, "name");
	json_write_cstr(&w, s->name);
	KEY(&w, "labels");
	write_labels(&w, s->name);
	json_write_object_end(&w);

	KEY(&w, "spec");
	json_write_object_begin(&w);
	KEY(&w, "replicas");
	json_write_int(&w, s->replicas);
	if (s->progress_deadline_s > 0) {
		KEY(&w, "progressDeadlineSeconds");
		json_write_int(&w, s->progress_deadline_s);
	}
	KEY(&w, "selector");
	json_write_object_begin(&w);
	KEY(&w, "matchLabels");
	json_write_object_begin(&w);
	KEY(&w, K8S_LABEL_CLUSTER);
	json_write_cstr(&w, s->name);
	json_write_object_end(&w);
	json_write_object_end(&w);
	KEY(&w, "template");
	json_write_object_begin(&w);
	KEY(&w, "metadata");
	json_write_object_begin(&w);
	KEY(&w, "labels");
	write_labels(&w, s->name);
	json_write_object_end(&w);
	KEY(&w, "spec");
	json_write_object_begin(&w);
	KEY(&w, "containers");
	json_write_array_begin(&w);
	json_write_object_begin(&w);
	KEY(&w, "name");
	json_write_cstr(&w, "app");
	KEY(&w, "image");
	json_write_cstr(&w, s->image);
	json_write_object_end(&w);
	json_write_array_end(&w);
	if (eq) {
		KEY(&w, "nodeSelector");
		json_write_object_begin(&w);
		json_write_key(&w, s->node_selector, (size_t)(eq - s->node_selector));
		json_write_cstr(&w, eq + 1);
		json_write_object_end(&w);
	}
	json_write_object_end(&w);	/* template.spec */
	json_write_object_end(&w);	/* template */
	json_write_object_end(&w);	/* spec */
	json_write_object_end(&w);
	return json_writer_finish(&w);
}

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
};

#define CONT_MAX 4096
#define SBUF_LEN 16384

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
	char sbuf[SBUF_LEN];
};

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
		if (ev->path == F_CONTAINERS || ev->path == F_CONDS)
			elem_event(dec, ev->path, ev->kind == JSON_EV_ELEM_BEGIN, ev->index);
		return 0;
	case JSON_EV_VALUE:
		break;
	default:
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
	k8s_deploy_decoder *dec = malloc(sizeof(*dec));

	if (dec == NULL)
		return NULL;
	memset(dec, 0, offsetof(k8s_deploy_decoder, sbuf));
	dec->mode = mode;
	dec->fn = fn;
	dec->ctx = ctx;
	if (compile_paths(dec) < 0) {
		free(dec);
		return NULL;
	}
	k8s_deploy_decoder_reset(dec);
	return dec;
}

void k8s_deploy_decoder_free(k8s_deploy_decoder *dec)
{
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
