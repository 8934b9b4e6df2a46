/*
 * Implementation notes.  A record is a fixed header and then its strings,
 * each NUL-terminated, in the order of enum str (the name first, so it is
 * the key without a walk).  Reasons are codes into known_reasons; one that
 * is not there is kept as text (code REASON_TEXT).  put() packs into a
 * stack buffer first, so an unchanged size is a copy in place and a changed
 * one a realloc whose new address goes back into the table's slot.
 */
#include "k8s/cache.h"

#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "base/mem.h"

enum str {
	S_NAME, S_UID, S_RV, S_LABEL_NAME, S_LABEL_CLUSTER, S_IMAGE, S_SPEC_HASH,
	S_AVAILABLE_REASON, S_PROGRESSING_REASON, S_PROGRESSING_MESSAGE, S_REPLICA_FAILURE_REASON,
	S_COUNT
};

enum {
	F_MANAGED = 1, F_DELETING = 2, F_SERVICE = 4,
	F_LABEL_NAME_IS_NAME = 8, F_LABEL_CLUSTER_IS_NAME = 16,
	F_UID_BINARY = 32,	/* the uid is a canonical lowercase UUID, kept as its 16 bytes */
};

#define REASON_TEXT 0xff

/* The reasons the Deployment controller writes (pkg/controller/deployment/util). */
static const char *const known_reasons[] = {
	"",
	"MinimumReplicasAvailable", "MinimumReplicasUnavailable", "NewReplicaSetAvailable",
	"NewReplicaSetCreated", "FoundNewReplicaSet", "ReplicaSetUpdated", "ProgressDeadlineExceeded",
	"FailedCreate", "FailedDelete", "DeploymentPaused", "DeploymentResumed",
};
#define NREASONS (sizeof(known_reasons) / sizeof(known_reasons[0]))

struct rec {
	uint32_t mark;
	uint16_t size;			/* of the whole record */
	uint8_t flags;			/* F_* */
	uint8_t status[3];		/* available, progressing, replica_failure: enum k8s_cond_status */
	uint8_t reason[3];		/* index in known_reasons, or REASON_TEXT */
	int32_t replicas, ready, available, updated;
	/* S_COUNT strings, then generation, observedGeneration and the creation
	 * time as zigzag varints (two bytes and six, typically, not 24). */
	char s[];
};

/* The longest record: the header and every string at its array's size. */
#define REC_MAX (sizeof(struct rec) + K8S_NAME_MAX * 3 + K8S_UID_MAX + K8S_RV_MAX + K8S_IMAGE_MAX + \
	K8S_SPEC_HASH_LEN + 1 + K8S_COND_REASON_MAX * 3 + K8S_COND_MESSAGE_MAX + 3 * 10)

struct k8s_cache {
	htab t;
	size_t bytes;
};

static const char *rec_key(const void *r)
{
	return ((const struct rec *)r)->s;
}

k8s_cache *k8s_cache_new(void)
{
	k8s_cache *c = xcalloc(1, sizeof(*c));

	htab_init(&c->t, rec_key);
	return c;
}

void k8s_cache_free(k8s_cache *c)
{
	size_t pos = 0;
	void *r;

	if (c == NULL)
		return;
	while ((r = htab_next(&c->t, &pos)) != NULL)
		free(r);
	htab_free(&c->t);
	free(c);
}

size_t k8s_cache_count(const k8s_cache *c)
{
	return c->t.count;
}

size_t k8s_cache_record_bytes(const k8s_cache *c)
{
	return c->bytes;
}

static uint8_t reason_code(const char *r)
{
	for (size_t i = 0; i < NREASONS; i++)
		if (strcmp(r, known_reasons[i]) == 0)
			return (uint8_t)i;
	return REASON_TEXT;
}

/* Appends s (at most max - 1 bytes, as the record's array held) and its NUL. */
static char *put_str(char *p, const char *s, size_t max)
{
	size_t n = strnlen(s, max - 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p + n + 1;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lowercase hex) to 16 bytes; 0 for
 * anything else, kept as text so every uid round-trips exactly. */
static int uuid_pack(const char *u, uint8_t out[16])
{
	int n = 0;

	for (int i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return 0;
			continue;
		}
		hi = hex_digit(u[i]);
		lo = hi < 0 ? -1 : hex_digit(u[i + 1]);
		if (lo < 0)
			return 0;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return u[36] == '\0';
}

static void uuid_unpack(const uint8_t in[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int n = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[n++] = '-';
		out[n++] = hex[in[i] >> 4];
		out[n++] = hex[in[i] & 15];
	}
	out[n] = '\0';
}

/* Zigzag varint: small magnitudes of either sign in few bytes. */
static char *put_varint(char *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (u >= 0x80) {
		*p++ = (char)(u | 0x80);
		u >>= 7;
	}
	*p++ = (char)u;
	return p;
}

static const char *get_varint(const char *p, int64_t *v)
{
	uint64_t u = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		b = (uint8_t)*p++;
		u |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return p;
}

/* Packs d into r (REC_MAX bytes); returns the size. */
static size_t pack(const k8s_deployment *d, struct rec *r)
{
	const k8s_condition_brief *av = &d->available, *rf = &d->replica_failure;
	const k8s_condition *pg = &d->progressing;
	char *p = r->s;

	r->mark = 0;
	r->flags = (uint8_t)((d->managed ? F_MANAGED : 0) | (d->deleting ? F_DELETING : 0) |
	    (d->service ? F_SERVICE : 0));
	r->status[0] = av->status;
	r->status[1] = pg->status;
	r->status[2] = rf->status;
	r->reason[0] = reason_code(av->reason);
	r->reason[1] = reason_code(pg->reason);
	r->reason[2] = reason_code(rf->reason);
	r->replicas = d->replicas;
	r->ready = d->ready_replicas;
	r->available = d->available_replicas;
	r->updated = d->updated_replicas;
	p = put_str(p, d->name, sizeof(d->name));
	if (uuid_pack(d->uid, (uint8_t *)p)) {
		r->flags |= F_UID_BINARY;
		p += 16;
	} else {
		p = put_str(p, d->uid, sizeof(d->uid));
	}
	p = put_str(p, d->resource_version, sizeof(d->resource_version));
	if (d->label_name[0] && strcmp(d->label_name, d->name) == 0) {
		r->flags |= F_LABEL_NAME_IS_NAME;
		*p++ = '\0';
	} else {
		p = put_str(p, d->label_name, sizeof(d->label_name));
	}
	if (d->label_cluster[0] && strcmp(d->label_cluster, d->name) == 0) {
		r->flags |= F_LABEL_CLUSTER_IS_NAME;
		*p++ = '\0';
	} else {
		p = put_str(p, d->label_cluster, sizeof(d->label_cluster));
	}
	p = put_str(p, d->image, sizeof(d->image));
	p = put_str(p, d->spec_hash, sizeof(d->spec_hash));
	p = put_str(p, r->reason[0] == REASON_TEXT ? av->reason : "", sizeof(av->reason));
	p = put_str(p, r->reason[1] == REASON_TEXT ? pg->reason : "", sizeof(pg->reason));
	p = put_str(p, pg->status == K8S_COND_FALSE ? pg->message : "", sizeof(pg->message));
	p = put_str(p, r->reason[2] == REASON_TEXT ? rf->reason : "", sizeof(rf->reason));
	p = put_varint(p, d->generation);
	p = put_varint(p, d->observed_generation);
	p = put_varint(p, d->created_unix_ms);
	r->size = (uint16_t)(p - (char *)r);
	return r->size;
}

static void get_str(char *dst, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1);

	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void get_reason(char *dst, size_t cap, uint8_t code, const char *text)
{
	get_str(dst, cap, code == REASON_TEXT ? text : code < NREASONS ? known_reasons[code] : "");
}

static void unpack(const struct rec *r, k8s_deployment *d)
{
	const char *s[S_COUNT], *p = r->s;

	for (int i = 0; i < S_COUNT; i++) {
		s[i] = p;
		p += i == S_UID && (r->flags & F_UID_BINARY) ? 16 : strlen(p) + 1;
	}
	memset(d, 0, sizeof(*d));
	get_str(d->name, sizeof(d->name), s[S_NAME]);
	if (r->flags & F_UID_BINARY)
		uuid_unpack((const uint8_t *)s[S_UID], d->uid);
	else
		get_str(d->uid, sizeof(d->uid), s[S_UID]);
	get_str(d->resource_version, sizeof(d->resource_version), s[S_RV]);
	get_str(d->label_name, sizeof(d->label_name),
	    r->flags & F_LABEL_NAME_IS_NAME ? s[S_NAME] : s[S_LABEL_NAME]);
	get_str(d->label_cluster, sizeof(d->label_cluster),
	    r->flags & F_LABEL_CLUSTER_IS_NAME ? s[S_NAME] : s[S_LABEL_CLUSTER]);
	d->managed = (r->flags & F_MANAGED) != 0;
	d->deleting = (r->flags & F_DELETING) != 0;
	d->service = (r->flags & F_SERVICE) != 0;
	p = get_varint(p, &d->generation);
	p = get_varint(p, &d->observed_generation);
	get_varint(p, &d->created_unix_ms);
	d->replicas = r->replicas;
	d->ready_replicas = r->ready;
	d->available_replicas = r->available;
	d->updated_replicas = r->updated;
	d->available.status = r->status[0];
	d->progressing.status = r->status[1];
	d->replica_failure.status = r->status[2];
	get_reason(d->available.reason, sizeof(d->available.reason), r->reason[0], s[S_AVAILABLE_REASON]);
	get_reason(d->progressing.reason, sizeof(d->progressing.reason), r->reason[1],
	    s[S_PROGRESSING_REASON]);
	get_reason(d->replica_failure.reason, sizeof(d->replica_failure.reason), r->reason[2],
	    s[S_REPLICA_FAILURE_REASON]);
	get_str(d->progressing.message, sizeof(d->progressing.message), s[S_PROGRESSING_MESSAGE]);
	get_str(d->image, sizeof(d->image), s[S_IMAGE]);
	get_str(d->spec_hash, sizeof(d->spec_hash), s[S_SPEC_HASH]);
	d->pod = NULL;
}

int k8s_cache_get(const k8s_cache *c, const char *name, k8s_deployment *out)
{
	const struct rec *r = htab_find(&c->t, name);

	if (r == NULL)
		return 0;
	if (out)
		unpack(r, out);
	return 1;
}

int k8s_cache_uid(const k8s_cache *c, const char *name, char *out, size_t outsz)
{
	const struct rec *r = htab_find(&c->t, name);
	const char *p;
	char u[37];

	if (r == NULL || outsz == 0)
		return 0;
	p = r->s + strlen(r->s) + 1;	/* past the name */
	if (r->flags & F_UID_BINARY) {
		uuid_unpack((const uint8_t *)p, u);
		p = u;
	}
	get_str(out, outsz, p);
	return 1;
}

const char *k8s_cache_rv(const k8s_cache *c, const char *name)
{
	const struct rec *r = htab_find(&c->t, name);
	const char *p;

	if (r == NULL)
		return NULL;
	p = r->s + strlen(r->s) + 1;	/* past the name */
	return p + (r->flags & F_UID_BINARY ? 16 : strlen(p) + 1);	/* past the uid */
}

void k8s_cache_put(k8s_cache *c, const k8s_deployment *d, int *created)
{
	union {
		struct rec r;
		char b[REC_MAX];
	} u;
	size_t n = pack(d, &u.r);
	void **slot = htab_slot(&c->t, u.r.s);
	struct rec *r;

	if (slot) {
		r = *slot;
		u.r.mark = r->mark;
		if (r->size != n) {
			size_t old = r->size;

			r = xrealloc(r, n);
			c->bytes = c->bytes - old + n;
			*slot = r;
		}
		memcpy(r, &u.r, n);
		if (created)
			*created = 0;
		return;
	}
	r = xmalloc(n);
	memcpy(r, &u.r, n);
	htab_insert(&c->t, r);
	c->bytes += n;
	if (created)
		*created = 1;
}

int k8s_cache_remove(k8s_cache *c, const char *name, k8s_deployment *last)
{
	struct rec *r = htab_remove(&c->t, name);

	if (r == NULL)
		return 0;
	if (last)
		unpack(r, last);
	c->bytes -= r->size;
	free(r);
	return 1;
}

void k8s_cache_set_mark(k8s_cache *c, const char *name, uint32_t mark)
{
	struct rec *r = htab_find(&c->t, name);

	if (r)
		r->mark = mark;
}

void k8s_cache_foreach_unmarked(const k8s_cache *c, uint32_t mark, k8s_cache_name_fn fn, void *ctx)
{
	size_t pos = 0;
	const struct rec *r;

	while ((r = htab_next(&c->t, &pos)) != NULL)
		if (r->mark != mark)
			fn(ctx, r->s);
}

const k8s_deployment *k8s_cache_next(const k8s_cache *c, k8s_cache_iter *it, k8s_deployment *out)
{
	const struct rec *r = htab_next(&c->t, &it->pos);

	if (r == NULL)
		return NULL;
	unpack(r, out);
	return out;
}

void k8s_cache_foreach(const k8s_cache *c, k8s_cache_fn fn, void *ctx)
{
	k8s_cache_iter it = K8S_CACHE_ITER_INIT;
	k8s_deployment d;

	while (k8s_cache_next(c, &it, &d) != NULL)
		fn(ctx, &d);
}
