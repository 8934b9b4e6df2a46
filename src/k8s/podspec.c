/*
 * Implementation notes.  The canonical encoding is a sequence of
 * (tag byte, 4-byte little-endian length, bytes) items fed straight into
 * SHA-256: the lengths keep "ab"+"c" apart from "a"+"bc", the tags keep an
 * env value apart from an argument.  Maps are hashed in key order through a
 * sorted index, so the order a client (or protobuf's map encoding) happens
 * to send them in does not matter.
 */
#include "k8s/podspec.h"

#include "base/mem.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

enum { T_CPU_REQ = 1, T_MEM_REQ, T_CPU_LIM, T_MEM_LIM, T_ENV_NAME, T_ENV_VALUE, T_COMMAND, T_ARG,
	T_PORT_NAME, T_PORT, T_LABEL_KEY, T_LABEL_VALUE, T_ANN_KEY, T_ANN_VALUE, T_SERVICE };

static void item(br_sha256_context *h, int tag, const void *data, size_t len)
{
	uint8_t hdr[5] = { (uint8_t)tag, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
	    (uint8_t)(len >> 24) };

	br_sha256_update(h, hdr, sizeof(hdr));
	br_sha256_update(h, data, len);
}

static void str_item(br_sha256_context *h, int tag, const char *s)
{
	item(h, tag, s ? s : "", s ? strlen(s) : 0);
}

static int kv_cmp(const void *a, const void *b)
{
	const k8s_kv *x = *(const k8s_kv *const *)a, *y = *(const k8s_kv *const *)b;

	return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

static void map_items(br_sha256_context *h, int ktag, const k8s_kv *kv, size_t n)
{
	const k8s_kv **idx;

	if (n == 0)
		return;
	idx = xmalloc(n * sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = &kv[i];
	qsort(idx, n, sizeof(*idx), kv_cmp);
	for (size_t i = 0; i < n; i++) {
		str_item(h, ktag, idx[i]->key);
		str_item(h, ktag + 1, idx[i]->value);
	}
	free(idx);
}

void k8s_podspec_hash(const k8s_podspec *p, char out[K8S_SPEC_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	static const k8s_podspec empty;
	br_sha256_context h;
	uint8_t sum[32];

	if (p == NULL)
		p = &empty;
	br_sha256_init(&h);
	str_item(&h, T_CPU_REQ, p->cpu_request);
	str_item(&h, T_MEM_REQ, p->memory_request);
	str_item(&h, T_CPU_LIM, p->cpu_limit);
	str_item(&h, T_MEM_LIM, p->memory_limit);
	for (size_t i = 0; i < p->n_env; i++) {
		str_item(&h, T_ENV_NAME, p->env[i].key);
		str_item(&h, T_ENV_VALUE, p->env[i].value);
	}
	for (size_t i = 0; i < p->n_command; i++)
		str_item(&h, T_COMMAND, p->command[i]);
	for (size_t i = 0; i < p->n_args; i++)
		str_item(&h, T_ARG, p->args[i]);
	for (size_t i = 0; i < p->n_ports; i++) {
		uint8_t port[4] = { (uint8_t)p->ports[i].port, (uint8_t)(p->ports[i].port >> 8),
		    (uint8_t)(p->ports[i].port >> 16), (uint8_t)(p->ports[i].port >> 24) };

		str_item(&h, T_PORT_NAME, p->ports[i].name);
		item(&h, T_PORT, port, sizeof(port));
	}
	map_items(&h, T_LABEL_KEY, p->labels, p->n_labels);
	map_items(&h, T_ANN_KEY, p->annotations, p->n_annotations);
	if (p->service)
		item(&h, T_SERVICE, "1", 1);
	br_sha256_out(&h, sum);
	for (int i = 0; i < K8S_SPEC_HASH_LEN / 2; i++) {
		out[2 * i] = hex[sum[i] >> 4];
		out[2 * i + 1] = hex[sum[i] & 15];
	}
	out[K8S_SPEC_HASH_LEN] = '\0';
}
