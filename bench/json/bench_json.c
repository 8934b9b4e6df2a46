/*
 * bench/json: the worker's fields out of a watch stream of 10,000 Deployment
 * MODIFIED events, fed in 16 KiB chunks, against cJSON parsing each event
 * whole and reading the same fields.  Best of 5 runs each, timed in thread
 * CPU time; prints key=value.
 */
#include "json/json.h"
#include "deploy_gen.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef EVENTS
#define EVENTS 10000
#endif
#define CHUNK 16384
#define RUNS 5

enum {
	P_TYPE, P_NAME, P_RV, P_GEN, P_DEL, P_CREATED, P_LABEL, P_REPLICAS, P_IMAGE,
	P_OBSERVED, P_READY, P_AVAILABLE, P_UPDATED, P_COND, P_COND_TYPE, P_COND_STATUS,
	P_COND_REASON, P_COND_MESSAGE, NPATHS
};

static const char *const paths[NPATHS] = {
	"type",
	"object.metadata.name",
	"object.metadata.resourceVersion",
	"object.metadata.generation",
	"object.metadata.deletionTimestamp",
	"object.metadata.creationTimestamp",
	"object.metadata.labels.cplane\\.dev/cluster",
	"object.spec.replicas",
	"object.spec.template.spec.containers[*].image",
	"object.status.observedGeneration",
	"object.status.readyReplicas",
	"object.status.availableReplicas",
	"object.status.updatedReplicas",
	"object.status.conditions[*]",
	"object.status.conditions[*].type",
	"object.status.conditions[*].status",
	"object.status.conditions[*].reason",
	"object.status.conditions[*].message",
};

/* What the worker keeps of one event. */
typedef struct fields {
	char type[16], name[64], rv[24], label[64], image[128], created[32];
	int64_t gen, replicas, observed, ready, available, updated;
	int deleting, ncond;
	char cond_reason[4][64], cond_status[4][8];
	uint64_t events, checksum;
} fields;

static void copy(char *dst, size_t cap, const json_token *t)
{
	size_t n = t->len < cap - 1 ? t->len : cap - 1;

	memcpy(dst, t->str, n);
	dst[n] = '\0';
}

static int on_event(void *ctx, const json_event *ev)
{
	fields *f = ctx;
	const json_token *t = ev->tok;

	switch (ev->kind) {
	case JSON_EV_END:
		f->events++;
		f->checksum += (uint64_t)f->ready + (uint64_t)f->gen + (uint64_t)f->name[9] +
		    (uint64_t)f->ncond + (uint64_t)f->deleting;
		f->deleting = 0;
		f->ncond = 0;
		return 0;
	case JSON_EV_ELEM_BEGIN:
		return 0;
	case JSON_EV_ELEM_END:
		if (ev->path == P_COND && f->ncond < 4)
			f->ncond++;
		return 0;
	}
	switch (ev->path) {
	case P_TYPE: copy(f->type, sizeof(f->type), t); break;
	case P_NAME: copy(f->name, sizeof(f->name), t); break;
	case P_RV: copy(f->rv, sizeof(f->rv), t); break;
	case P_CREATED: copy(f->created, sizeof(f->created), t); break;
	case P_LABEL: copy(f->label, sizeof(f->label), t); break;
	case P_IMAGE: copy(f->image, sizeof(f->image), t); break;
	case P_DEL: f->deleting = t->type == JSON_STRING; break;
	case P_GEN: f->gen = t->i; break;
	case P_REPLICAS: f->replicas = t->i; break;
	case P_OBSERVED: f->observed = t->i; break;
	case P_READY: f->ready = t->i; break;
	case P_AVAILABLE: f->available = t->i; break;
	case P_UPDATED: f->updated = t->i; break;
	case P_COND_REASON:
		if (f->ncond < 4)
			copy(f->cond_reason[f->ncond], sizeof(f->cond_reason[0]), t);
		break;
	case P_COND_STATUS:
		if (f->ncond < 4)
			copy(f->cond_status[f->ncond], sizeof(f->cond_status[0]), t);
		break;
	}
	return 0;
}

/*
 * CPU time of this thread, not wall time: on a shared machine a wall clock
 * also counts the time other processes held the core, which says nothing
 * about either parser.  Both parsers are timed the same way.
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static int64_t num_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* The same copy as the extractor's callback does (no snprintf), so the
 * comparison is of the parsers alone. */
static void copy_c(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n > cap - 1)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void cjson_event(const char *s, size_t n, fields *f)
{
	cJSON *root = cJSON_ParseWithLength(s, n);
	const cJSON *obj, *md, *spec, *st, *c, *conds, *ctrs;

	if (!root) {
		fprintf(stderr, "cjson: parse failed\n");
		exit(1);
	}
	obj = cJSON_GetObjectItemCaseSensitive(root, "object");
	md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	copy_c(f->type, sizeof(f->type), str_of(root, "type"));
	copy_c(f->name, sizeof(f->name), str_of(md, "name"));
	copy_c(f->rv, sizeof(f->rv), str_of(md, "resourceVersion"));
	copy_c(f->created, sizeof(f->created), str_of(md, "creationTimestamp"));
	copy_c(f->label, sizeof(f->label),
	    str_of(cJSON_GetObjectItemCaseSensitive(md, "labels"), "cplane.dev/cluster"));
	f->deleting = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp"));
	f->gen = num_of(md, "generation");
	f->replicas = num_of(spec, "replicas");
	ctrs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(spec, "template"), "spec"), "containers");
	cJSON_ArrayForEach(c, ctrs)
		copy_c(f->image, sizeof(f->image), str_of(c, "image"));
	f->observed = num_of(st, "observedGeneration");
	f->ready = num_of(st, "readyReplicas");
	f->available = num_of(st, "availableReplicas");
	f->updated = num_of(st, "updatedReplicas");
	f->ncond = 0;
	conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
	cJSON_ArrayForEach(c, conds) {
		if (f->ncond < 4) {
			copy_c(f->cond_reason[f->ncond], sizeof(f->cond_reason[0]), str_of(c, "reason"));
			copy_c(f->cond_status[f->ncond], sizeof(f->cond_status[0]), str_of(c, "status"));
			f->ncond++;
		}
	}
	f->events++;
	f->checksum += (uint64_t)f->ready + (uint64_t)f->gen + (uint64_t)f->name[9] +
	    (uint64_t)f->ncond + (uint64_t)f->deleting;
	f->deleting = 0;
	cJSON_Delete(root);
}

int main(void)
{
	size_t cap = (size_t)EVENTS * 6000, len = 0, i, *off;
	char *stream = malloc(cap);
	static json_pathset ps;
	static json_extract x;
	static char sbuf[4096];
	deploy_want w;
	fields fe, fc;
	double best_x = 1e9, best_c = 1e9, wall_x = 1e9, wall_c = 1e9, t0, w0;
	int run, r;
	unsigned flags = 0;

	/* JSON_BENCH_PATH=1..4 caps the code path (scalar, sse2, sse4.2, avx2),
	 * to measure the ones this CPU would not pick. */
	if (getenv("JSON_BENCH_PATH"))
		flags = (unsigned)atoi(getenv("JSON_BENCH_PATH")) << JSON_SIMD_SHIFT & JSON_SIMD_MASK;
	off = malloc((EVENTS + 1) * sizeof(*off));
	if (!stream || !off)
		return 1;
	for (i = 0; i < EVENTS; i++) {
		off[i] = len;
		len += deploy_gen_event(stream + len, cap - len, (unsigned)i, &w);
	}
	off[EVENTS] = len;
	if (json_pathset_compile(&ps, paths, NPATHS) < 0) {
		fprintf(stderr, "paths\n");
		return 1;
	}
	for (run = 0; run < RUNS; run++) {
		memset(&fe, 0, sizeof(fe));
		json_extract_init(&x, &ps, sbuf, sizeof(sbuf), flags, on_event, &fe);
		t0 = now();
		w0 = wall();
		for (i = 0; i < len; i += CHUNK) {
			r = json_extract_feed(&x, stream + i, len - i < CHUNK ? len - i : CHUNK);
			if (r < 0) {
				fprintf(stderr, "extract: %s at %llu\n", json_strerror(r),
				    (unsigned long long)json_offset(&x.p));
				return 1;
			}
		}
		r = json_extract_finish(&x);
		t0 = now() - t0;
		w0 = wall() - w0;
		if (w0 < wall_x)
			wall_x = w0;
		if (r < 0 || fe.events != EVENTS) {
			fprintf(stderr, "extract: %s, %llu events\n", json_strerror(r),
			    (unsigned long long)fe.events);
			return 1;
		}
		if (t0 < best_x)
			best_x = t0;
	}
	if (getenv("JSON_BENCH_EXTRACT_ONLY")) {
		printf("extract_mb_s=%.0f\n", (double)len / best_x / 1e6);
		printf("simd_path=%s\n", json_simd_path_name(json_simd_path(flags)));
		return 0;
	}
	for (run = 0; run < RUNS; run++) {
		memset(&fc, 0, sizeof(fc));
		t0 = now();
		w0 = wall();
		for (i = 0; i < EVENTS; i++)
			cjson_event(stream + off[i], off[i + 1] - off[i], &fc);
		t0 = now() - t0;
		w0 = wall() - w0;
		if (w0 < wall_c)
			wall_c = w0;
		if (t0 < best_c)
			best_c = t0;
	}
	if (fe.checksum != fc.checksum || strcmp(fe.name, fc.name) || strcmp(fe.image, fc.image) ||
	    strcmp(fe.label, fc.label) || strcmp(fe.cond_reason[1], fc.cond_reason[1])) {
		fprintf(stderr, "extract and cJSON disagree: %llu vs %llu\n",
		    (unsigned long long)fe.checksum, (unsigned long long)fc.checksum);
		return 1;
	}
	printf("events=%d\n", EVENTS);
	printf("bytes=%zu\n", len);
	printf("avg_event_bytes=%zu\n", len / EVENTS);
	printf("chunk_bytes=%d\n", CHUNK);
	printf("extract_mb_s=%.0f\n", (double)len / best_x / 1e6);
	printf("cjson_mb_s=%.0f\n", (double)len / best_c / 1e6);
	printf("ratio=%.2f\n", best_c / best_x);
	printf("extract_checksum=%llu\n", (unsigned long long)fe.checksum);
	printf("simd_path=%s\n", json_simd_path_name(json_simd_path(flags)));
	/* Wall clock too, for the record: equal to the above on an idle core. */
	printf("extract_wall_mb_s=%.0f\n", (double)len / wall_x / 1e6);
	printf("cjson_wall_mb_s=%.0f\n", (double)len / wall_c / 1e6);
	free(stream);
	free(off);
	return 0;
}
