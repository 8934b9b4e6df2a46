/*
 * Implementation notes.  protobuf-c keeps repeated and map fields as arrays
 * of pointers to structs; k8s_podspec wants arrays of small structs.  A view
 * allocates all its arrays in one block.  Map entry types of Cluster and
 * CreateClusterRequest are distinct types of the same layout (base, key,
 * value), hence the one copy loop over a key/value accessor.
 */
#include "worker/spec_proto.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

struct parts {
	const Cplane__V1__Resources *res;
	size_t n_env, n_ports, n_labels, n_annotations;
	Cplane__V1__EnvVar *const *env;
	Cplane__V1__Port *const *ports;
	/* map entries: key at offset 0 after base, value after it */
	void *const *labels, *const *annotations;
};

/* Both entry types are { ProtobufCMessage base; char *key; char *value; }. */
typedef struct { ProtobufCMessage base; char *key; char *value; } map_entry;

static void view_of(spec_view *v, const struct parts *s)
{
	size_t nkv = s->n_env + s->n_labels + s->n_annotations;
	k8s_kv *kv;
	k8s_port *ports;

	memset(v, 0, sizeof(*v));
	if (nkv + s->n_ports > 0) {
		/* Counts from a request already bounded by the message size limit, or our own blob. */
		v->mem = xmalloc(nkv * sizeof(k8s_kv) + s->n_ports * sizeof(k8s_port));
	}
	kv = v->mem;
	ports = kv ? (k8s_port *)(void *)(kv + nkv) : NULL;
	if (s->res) {
		v->pod.cpu_request = nz(s->res->cpu_request);
		v->pod.memory_request = nz(s->res->memory_request);
		v->pod.cpu_limit = nz(s->res->cpu_limit);
		v->pod.memory_limit = nz(s->res->memory_limit);
	}
	v->pod.env = kv;
	v->pod.n_env = s->n_env;
	for (size_t i = 0; i < s->n_env; i++)
		*kv++ = (k8s_kv){ s->env[i]->name, s->env[i]->value };
	v->pod.labels = kv;
	v->pod.n_labels = s->n_labels;
	for (size_t i = 0; i < s->n_labels; i++) {
		const map_entry *e = s->labels[i];
		*kv++ = (k8s_kv){ e->key, e->value };
	}
	v->pod.annotations = kv;
	v->pod.n_annotations = s->n_annotations;
	for (size_t i = 0; i < s->n_annotations; i++) {
		const map_entry *e = s->annotations[i];
		*kv++ = (k8s_kv){ e->key, e->value };
	}
	v->pod.ports = ports;
	v->pod.n_ports = s->n_ports;
	for (size_t i = 0; i < s->n_ports; i++)
		ports[i] = (k8s_port){ s->ports[i]->name, s->ports[i]->port };
}

void spec_view_of_request(spec_view *v, const Cplane__V1__CreateClusterRequest *r)
{
	struct parts s = { r->resources, r->n_env, r->n_ports, r->n_labels, r->n_annotations, r->env, r->ports,
	    (void *const *)r->labels, (void *const *)r->annotations };

	view_of(v, &s);
	v->pod.command = (const char *const *)r->command;
	v->pod.n_command = r->n_command;
	v->pod.args = (const char *const *)r->args;
	v->pod.n_args = r->n_args;
	v->pod.service = r->service != 0;
}

void spec_view_of_cluster(spec_view *v, const Cplane__V1__Cluster *c)
{
	struct parts s = { c->resources, c->n_env, c->n_ports, c->n_labels, c->n_annotations, c->env, c->ports,
	    (void *const *)c->labels, (void *const *)c->annotations };

	view_of(v, &s);
	v->pod.command = (const char *const *)c->command;
	v->pod.n_command = c->n_command;
	v->pod.args = (const char *const *)c->args;
	v->pod.n_args = c->n_args;
}

void spec_view_free(spec_view *v)
{
	free(v->mem);
	v->mem = NULL;
}

static char *s_(const char *s)
{
	return (char *)(s ? s : "");
}

void spec_blob_pack(const k8s_podspec *p, uint8_t **out, size_t *len)
{
	Cplane__V1__Cluster c = CPLANE__V1__CLUSTER__INIT;
	Cplane__V1__Resources res = CPLANE__V1__RESOURCES__INIT;
	size_t n = p->n_env + p->n_ports + p->n_labels + p->n_annotations;
	/* One block: pointer arrays, then the structs they point to. */
	size_t need = n * sizeof(void *) + p->n_env * sizeof(Cplane__V1__EnvVar) +
	    p->n_ports * sizeof(Cplane__V1__Port) + (p->n_labels + p->n_annotations) * sizeof(Cplane__V1__Cluster__LabelsEntry);
	void **ptrs = NULL;
	uint8_t *mem = NULL, *cur;

	*out = NULL;
	*len = 0;
	if (need)
		mem = xmalloc(need);
	ptrs = (void **)(void *)mem;
	cur = mem ? mem + n * sizeof(void *) : NULL;
	if (nz(p->cpu_request) || nz(p->memory_request) || nz(p->cpu_limit) || nz(p->memory_limit)) {
		res.cpu_request = s_(p->cpu_request);
		res.memory_request = s_(p->memory_request);
		res.cpu_limit = s_(p->cpu_limit);
		res.memory_limit = s_(p->memory_limit);
		c.resources = &res;
	}
	c.n_env = p->n_env;
	c.env = (Cplane__V1__EnvVar **)ptrs;
	for (size_t i = 0; i < p->n_env; i++, cur += sizeof(Cplane__V1__EnvVar)) {
		Cplane__V1__EnvVar *e = (Cplane__V1__EnvVar *)(void *)cur;
		cplane__v1__env_var__init(e);
		e->name = s_(p->env[i].key);
		e->value = s_(p->env[i].value);
		*ptrs++ = e;
	}
	c.n_ports = p->n_ports;
	c.ports = (Cplane__V1__Port **)ptrs;
	for (size_t i = 0; i < p->n_ports; i++, cur += sizeof(Cplane__V1__Port)) {
		Cplane__V1__Port *e = (Cplane__V1__Port *)(void *)cur;
		cplane__v1__port__init(e);
		e->name = s_(p->ports[i].name);
		e->port = p->ports[i].port;
		*ptrs++ = e;
	}
	c.n_labels = p->n_labels;
	c.labels = (Cplane__V1__Cluster__LabelsEntry **)ptrs;
	for (size_t i = 0; i < p->n_labels; i++, cur += sizeof(Cplane__V1__Cluster__LabelsEntry)) {
		Cplane__V1__Cluster__LabelsEntry *e = (Cplane__V1__Cluster__LabelsEntry *)(void *)cur;
		cplane__v1__cluster__labels_entry__init(e);
		e->key = s_(p->labels[i].key);
		e->value = s_(p->labels[i].value);
		*ptrs++ = e;
	}
	c.n_annotations = p->n_annotations;
	c.annotations = (Cplane__V1__Cluster__AnnotationsEntry **)ptrs;
	for (size_t i = 0; i < p->n_annotations; i++, cur += sizeof(Cplane__V1__Cluster__LabelsEntry)) {
		Cplane__V1__Cluster__AnnotationsEntry *e = (Cplane__V1__Cluster__AnnotationsEntry *)(void *)cur;
		cplane__v1__cluster__annotations_entry__init(e);
		e->key = s_(p->annotations[i].key);
		e->value = s_(p->annotations[i].value);
		*ptrs++ = e;
	}
	c.n_command = p->n_command;
	c.command = (char **)p->command;
	c.n_args = p->n_args;
	c.args = (char **)p->args;
	*len = cplane__v1__cluster__get_packed_size(&c);
	if (*len) {
		*out = xmalloc(*len);
		cplane__v1__cluster__pack(&c, *out);
	}
	free(mem);
}

/* Our own blob, packed by spec_blob_pack: its sizes are ours (base/mem.h). */
static void *pb_xalloc(void *data, size_t size)
{
	(void)data;
	return xmalloc(size);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static ProtobufCAllocator pb_x = {pb_xalloc, pb_free, NULL};

Cplane__V1__Cluster *spec_blob_unpack(const uint8_t *blob, size_t len)
{
	if (blob == NULL || len == 0)
		return NULL;
	return cplane__v1__cluster__unpack(&pb_x, len, blob);
}

void spec_blob_free(Cplane__V1__Cluster *from)
{
	if (from)
		cplane__v1__cluster__free_unpacked(from, &pb_x);
}

void spec_blob_lend(Cplane__V1__Cluster *m, const Cplane__V1__Cluster *from)
{
	if (from == NULL)
		return;
	m->resources = from->resources;
	m->n_env = from->n_env;
	m->env = from->env;
	m->n_command = from->n_command;
	m->command = from->command;
	m->n_args = from->n_args;
	m->args = from->args;
	m->n_ports = from->n_ports;
	m->ports = from->ports;
	m->n_labels = from->n_labels;
	m->labels = from->labels;
	m->n_annotations = from->n_annotations;
	m->annotations = from->annotations;
}

void spec_blob_unlend(Cplane__V1__Cluster *m)
{
	m->resources = NULL;
	m->n_env = m->n_command = m->n_args = m->n_ports = m->n_labels = m->n_annotations = 0;
	m->env = NULL;
	m->command = m->args = NULL;
	m->ports = NULL;
	m->labels = NULL;
	m->annotations = NULL;
}
